/*
 * harness.h: the timing harness shared by the per-event cost benchmarks (libceoprof and
 * LTTng-UST). Each program supplies its setup and one burst loop per operation; the harness
 * runs the threads, times the bursts and prints the median ns per event.
 */
#ifndef CEOPROF_BENCH_HARNESS_H
#define CEOPROF_BENCH_HARNESS_H

#include <stdint.h>

enum { OP_BEGIN_END, OP_INSTANT, OP_COUNTER, OP_COUNT };

/* What each benchmark program provides. */
struct bench_impl {
  const char *name;                              /* for messages */
  int (*setup)(int argc, char **argv);           /* after the harness's options; 0 or -1 */
  void (*burst)(int op, int n, uint64_t *next_id);  /* N events of OP on this thread */
  void (*teardown)(void);                        /* after the threads; may print totals */
};

/* Parses --threads/--bursts/--burst (leaving the rest to impl->setup), runs, prints. */
int bench_main(const struct bench_impl *impl, int argc, char **argv);

#endif
