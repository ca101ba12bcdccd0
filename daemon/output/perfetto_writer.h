/*
 * perfetto_writer.h: a session as Perfetto's own trace format (PREFIX.pftrace): process and
 * thread tracks named after their workers, task slices with their fields as debug
 * annotations, tasks that moved threads on tracks of their own linked by flows, instants,
 * counters and resident memory, and each CPU and off-CPU sample as an event on its thread
 * with an interned callstack weighted by its nanoseconds. Written a segment at a time, like
 * the JSON trace, into a temporary file renamed into place when it is closed.
 */
#ifndef CPD_PERFETTO_WRITER_H
#define CPD_PERFETTO_WRITER_H

#include <stdint.h>
#include <stdio.h>

#include "model/profile.h"
#include "model/session.h"
#include "model/timeline.h"
#include "output/perfetto_seq.h"
#include "output/trace_samples.h"

/* Starts PATH (through a temporary file). 0 or -errno (nothing left behind). */
int cpd_pf_open(struct cpd_pf_out *w, const char *path, uint64_t limit_bytes);
/*
 * Writes one segment [BEGIN_NS, END_NS): the threads of S not described yet, TL's spans
 * that ended (all when LAST) with their wait split from TS, its instants and counters, the
 * N samples SMPS and the NOFF off-CPU samples OFF of TS's profile, each thread's states on
 * a track beside it, and the resident-memory readings of the segment (TS NULL: nothing was
 * sampled). Errors are kept for the close.
 */
void cpd_pf_segment(struct cpd_pf_out *w, const struct cpd_session *s, const struct cpd_timeline *tl,
                    const struct cpd_trace_samples *ts, const struct cpd_psample *smps, size_t n,
                    const struct cpd_psample *off, size_t noff, uint64_t begin_ns,
                    uint64_t end_ns, int last);
/* Describes the threads again with their last names, and renames the file into place.
 * 0 or -errno (the file is removed then). */
int cpd_pf_close(struct cpd_pf_out *w, const struct cpd_session *s);
void cpd_pf_discard(struct cpd_pf_out *w);

#endif
