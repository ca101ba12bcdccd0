/*
 * lttng_tp.h: the LTTng-UST tracepoint provider that bench_lttng records, with the same
 * payloads as libceoprof's events (task id and name, instant name, counter name and value).
 */
#undef LTTNG_UST_TRACEPOINT_PROVIDER
#define LTTNG_UST_TRACEPOINT_PROVIDER ceoprof_bench

#undef LTTNG_UST_TRACEPOINT_INCLUDE
#define LTTNG_UST_TRACEPOINT_INCLUDE "lttng_tp.h"

#if !defined(CEOPROF_BENCH_LTTNG_TP_H) || defined(LTTNG_UST_TRACEPOINT_HEADER_MULTI_READ)
#define CEOPROF_BENCH_LTTNG_TP_H

#include <lttng/tracepoint.h>

LTTNG_UST_TRACEPOINT_EVENT(ceoprof_bench, task_begin,
  LTTNG_UST_TP_ARGS(uint64_t, id, const char *, name),
  LTTNG_UST_TP_FIELDS(
    lttng_ust_field_integer(uint64_t, id, id)
    lttng_ust_field_string(name, name)))

LTTNG_UST_TRACEPOINT_EVENT(ceoprof_bench, task_end,
  LTTNG_UST_TP_ARGS(uint64_t, id),
  LTTNG_UST_TP_FIELDS(
    lttng_ust_field_integer(uint64_t, id, id)))

LTTNG_UST_TRACEPOINT_EVENT(ceoprof_bench, instant,
  LTTNG_UST_TP_ARGS(const char *, name),
  LTTNG_UST_TP_FIELDS(
    lttng_ust_field_string(name, name)))

LTTNG_UST_TRACEPOINT_EVENT(ceoprof_bench, counter,
  LTTNG_UST_TP_ARGS(const char *, name, int64_t, value),
  LTTNG_UST_TP_FIELDS(
    lttng_ust_field_string(name, name)
    lttng_ust_field_integer(int64_t, value, value)))

#endif

#include <lttng/tracepoint-event.h>
