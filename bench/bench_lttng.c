/*
 * bench_lttng.c: what one LTTng-UST tracepoint costs the calling thread, timed by the same
 * harness as bench_client. Run it inside a started LTTng session with the ceoprof_bench:*
 * events enabled (bench/bench.py does), else the tracepoints are disabled and cost nothing.
 * Usage: bench_lttng [--threads N] [--bursts N] [--burst N]
 */
#define LTTNG_UST_TRACEPOINT_CREATE_PROBES
#define LTTNG_UST_TRACEPOINT_DEFINE
#include "lttng_tp.h"

#include <stdio.h>

#include "harness.h"

static void burst(int op, int n, uint64_t *next_id)
{
  uint64_t id = *next_id;

  switch (op) {
  case OP_BEGIN_END:
    for (int i = 0; i < n / 2; i++, id++) {
      lttng_ust_tracepoint(ceoprof_bench, task_begin, id, "bench_task");
      lttng_ust_tracepoint(ceoprof_bench, task_end, id);
    }
    break;
  case OP_INSTANT:
    for (int i = 0; i < n; i++)
      lttng_ust_tracepoint(ceoprof_bench, instant, "bench_instant");
    break;
  case OP_COUNTER:
    for (int i = 0; i < n; i++)
      lttng_ust_tracepoint(ceoprof_bench, counter, "bench_counter", i);
    break;
  }
  *next_id = id;
}

static int setup(int argc, char **argv)
{
  if (argc > 1) {
    fprintf(stderr, "usage: bench_lttng [--threads N] [--bursts N] [--burst N]\n");
    return -1;
  }
  if (!lttng_ust_tracepoint_enabled(ceoprof_bench, instant))
    fprintf(stderr, "bench_lttng: the ceoprof_bench tracepoints are not enabled in any "
                    "LTTng session; this measures disabled tracepoints\n");
  return 0;
}

int main(int argc, char **argv)
{
  static const struct bench_impl impl = { "bench_lttng", setup, burst, NULL };

  return bench_main(&impl, argc, argv);
}
