/* trace_samples.h: CPU samples on the trace's thread lanes, as V8 Profile/ProfileChunk events. */
#ifndef CPD_TRACE_SAMPLES_H
#define CPD_TRACE_SAMPLES_H

#include <stdio.h>

#include "profile.h"
#include "sampler.h"
#include "trace_writer.h"

struct cpd_trace_samples {
  const struct cpd_profile *prof;
  const char *event;
  int hz;
};

/* Fills EXTRA so that cpd_trace_write() adds the samples and their counts to the trace. */
void cpd_trace_samples_extra(struct cpd_trace_samples *ts, struct cpd_trace_extra *extra);

#endif
