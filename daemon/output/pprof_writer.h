/* pprof_writer.h: writing summed samples as gzipped pprof (go tool pprof, Pyroscope). */
#ifndef CPD_PPROF_WRITER_H
#define CPD_PPROF_WRITER_H

#include <stdint.h>

#include "model/join.h"
#include "model/profile.h"

enum cpd_pprof_kind {
  CPD_PPROF_CPU,            /* cpu/nanoseconds: CPU samples, with a sampling period */
  CPD_PPROF_OFFCPU,         /* off_cpu/nanoseconds: the time threads spent off the CPU */
};

struct cpd_pprof_info {
  enum cpd_pprof_kind kind;
  int hz;                   /* the sampling rate */
  const char *event;        /* "cpu-clock" or "cycles" */
  uint64_t time_nanos;      /* CLOCK_REALTIME of the start */
  uint64_t duration_nanos;
  uint64_t offcpu_sampled_ns; /* off-CPU stacks sampled by time at this period (BPF), 0:
                             * one at every switch-out */
  const char *mode;         /* which events sampled (a comment), or NULL */
  uint32_t dwarf_stack;     /* stacks unwound with DWARF CFI over this many bytes; 0: fp */
  const char *kernel;       /* how kernel time is counted (a comment), or NULL */
};

/*
 * Writes PATH (through a temporary file renamed into place): sample types samples/count and
 * cpu/nanoseconds (or off_cpu/nanoseconds), one sample per entry of A (stacks, functions and
 * mappings from P), labels pid, thread_id, thread_name, worker, worker_id, task, task_id,
 * span_id, span_name (names from session S, which may be NULL). 0 or -errno.
 */
int cpd_pprof_write(const char *path, const struct cpd_profile *p, const struct cpd_session *s,
                    const struct cpd_aggs *a, const struct cpd_pprof_info *info);

#endif
