/* pprof_writer.h: writing a profile's CPU samples as gzipped pprof (go tool pprof, Pyroscope). */
#ifndef CPD_PPROF_WRITER_H
#define CPD_PPROF_WRITER_H

#include <stdint.h>

#include "model/profile.h"
#include "ingest/session.h"
#include "model/timeline.h"

struct cpd_pprof_info {
  int hz;                   /* the sampling rate */
  const char *event;        /* "cpu-clock" or "cycles" */
  uint64_t time_nanos;      /* CLOCK_REALTIME of the start */
  uint64_t duration_nanos;
  /* Other samples than the profile's CPU samples (off-CPU ones), and their value type
   * (e.g. "off_cpu"); NULL for the CPU samples. */
  const struct cpd_psample *samples;
  size_t nsamples;
  const char *value_type;
  int summed_by_bpf;        /* off-CPU samples summed per thread and stack by the BPF helper */
  uint32_t dwarf_stack;     /* stacks unwound with DWARF CFI over this many bytes; 0: fp */
};

/*
 * Writes PATH (through PATH.tmp): sample types samples/count and cpu/nanoseconds (or
 * INFO's value type), one
 * sample per distinct stack and label set, labels pid, thread_id, thread_name, worker,
 * worker_id, task, task_id. S and TL may be NULL. 0 or -errno.
 */
int cpd_pprof_write(const char *path, const struct cpd_profile *p, const struct cpd_session *s,
                    const struct cpd_timeline *tl, const struct cpd_pprof_info *info);

#endif
