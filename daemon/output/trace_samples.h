/* trace_samples.h: CPU samples on the trace's thread lanes, as V8 Profile/ProfileChunk events. */
#ifndef CPD_TRACE_SAMPLES_H
#define CPD_TRACE_SAMPLES_H

#include <stdint.h>
#include <stdio.h>

#include "model/profile.h"
#include "perf/sampler.h"
#include "output/trace_writer.h"

struct cpd_trace_samples {
  const struct cpd_profile *prof;
  const char *event;
  int hz;
  uint64_t begin_ns, end_ns;  /* the window: its resident-memory readings are written */
  const struct cpd_unwind *unwind;  /* DWARF mode's counts, NULL with frame pointers */
  uint32_t dwarf_stack;
};

/* The lane of a thread's states has the thread's tid with this bit set (tids are < 2^22). */
#define CPD_STATE_LANE 0x40000000u

/* Fills EXTRA so that cpd_trace_write() adds the samples and their counts to the trace. */
void cpd_trace_samples_extra(struct cpd_trace_samples *ts, struct cpd_trace_extra *extra);

#endif
