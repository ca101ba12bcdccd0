/* ceoprof.h: the public API of libceoprof, which reports workers and tasks to ceoprofd. */
#ifndef CEOPROF_H
#define CEOPROF_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define CEOPROF_EXTERN __attribute__((visibility("default")))
#else
#define CEOPROF_EXTERN
#endif

#define CEOPROF_VERSION_MAJOR 0
#define CEOPROF_VERSION_MINOR 1
#define CEOPROF_VERSION_PATCH 0
#define CEOPROF_VERSION_STRING "0.1.0"

/*
 * Starts the library: reads the environment (CEOPROF_SOCKET, CEOPROF_DISABLE,
 * CEOPROF_THRESHOLD_US, CEOPROF_BUFFER_KB) and starts the background flusher, which
 * connects to ceoprofd whenever one is listening. Returns 0, or a negative errno
 * (-EALREADY when already initialised, -ECANCELED when CEOPROF_DISABLE=1). Never
 * aborts the host; every other call is a cheap no-op until this succeeds.
 */
CEOPROF_EXTERN int ceoprof_init(const char *service_name);

/* Flushes what is buffered (waiting at most about a second for the daemon), then closes. */
CEOPROF_EXTERN void ceoprof_shutdown(void);

/* Names the calling thread as worker WORKER_ID. 0 or -errno (-EINVAL for a NULL name). */
CEOPROF_EXTERN int ceoprof_worker_register(uint32_t worker_id, const char *worker_name);

/*
 * Task events. Names are copied (interned) on first sight, so any string may be
 * passed. Tasks nest per thread. An end that does not match the innermost open task
 * is handled and counted by the daemon; a task may end on another thread than it began.
 */
CEOPROF_EXTERN void ceoprof_task_begin(uint64_t task_id, const char *task_name);
CEOPROF_EXTERN void ceoprof_task_end(uint64_t task_id);
/* Attaches KEY=VALUE (e.g. "bytes", 4096) to the innermost task open on this thread. */
CEOPROF_EXTERN void ceoprof_task_field(const char *key, int64_t value);

/*
 * Span profiles: ties the innermost task open on this thread to a distributed-tracing
 * span (W3C trace context: a 16-byte trace id and an 8-byte span id, big-endian as on
 * the wire). Its CPU samples carry the pprof labels span_id (16 hex digits) and
 * span_name (the task's name), which is how Grafana Pyroscope links profiles to
 * traces; tasks begun inside it inherit the span. Field keys starting with '@' are
 * reserved for this.
 */
CEOPROF_EXTERN void ceoprof_task_span(const uint8_t trace_id[16], const uint8_t span_id[8]);
/* The same from a W3C traceparent header ("00-<32 hex>-<16 hex>-<2 hex>"). 0 or -EINVAL. */
CEOPROF_EXTERN int ceoprof_task_traceparent(const char *traceparent);
CEOPROF_EXTERN void ceoprof_instant(const char *name);
CEOPROF_EXTERN void ceoprof_counter(const char *name, int64_t value);

/* What the library has done so far, for applications that want to show it. */
struct ceoprof_stats {
  uint64_t events_recorded;  /* events written into thread buffers */
  uint64_t events_sent;      /* events delivered to a daemon */
  uint64_t events_dropped;   /* events dropped, all reasons together */
  uint64_t dropped_ring_full;
  uint64_t dropped_no_daemon;
  uint64_t dropped_threshold;
  uint64_t dropped_other;    /* names exhausted, send failures, nesting overflow */
  uint32_t connected;        /* 1 while a daemon is connected */
  uint32_t connections;      /* successful connections so far */
};

/* Fills STATS. 0, or -EINVAL for NULL. Totals are exact once ceoprof_shutdown() returned. */
CEOPROF_EXTERN int ceoprof_get_stats(struct ceoprof_stats *stats);

#ifdef __cplusplus
}
#endif

#endif /* CEOPROF_H */
