/*
 * window.h: the one window writer. A window of a process is written as its pprof, its
 * off-CPU pprof and its trace, whether it is one window of a sampled target (--window), a
 * whole profile (--pid, ceoprof record/attach), or the trace of a client nobody sampled.
 */
#ifndef CPD_WINDOW_H
#define CPD_WINDOW_H

#include <stdint.h>

#include "target/target.h"

/*
 * Writes T's window [window_start_ns, CUT_NS) and starts the next one; FINAL takes every
 * event left. 0, -errno of a file that could not be written, or -EAGAIN when the window
 * could not be written now and is kept whole for another try (service mode).
 */
int cpd_window_write(struct cpd_target *t, uint64_t cut_ns, int final);

/*
 * Writes the trace of session S, which no target sampled, through the same writer: 0,
 * -errno (its events are lost: said in the log), or -EAGAIN when it is kept for another
 * try (service mode; S->retry_ms is set).
 */
int cpd_window_write_session(const struct cpd_target_env *env, struct cpd_session *s);

/*
 * A window is written in segments as it goes (--pid, ceoprof record): every CPD_SEGMENT_NS
 * the time up to CPD_SEGMENT_LAG_NS ago (clients flush every 10 ms, the kernel's rings are
 * read at least every 100 ms) goes into the trace file and the window's sums and is let
 * go, so a session of any length needs the memory of about half a second of it.
 */
#define CPD_SEGMENT_NS 250000000ull
#define CPD_SEGMENT_LAG_NS 300000000ull
/* Writes the next segment when one is due. 0 (also when not due) or -ENOMEM. */
int cpd_target_segment(struct cpd_target *t);

/* Writes the window when its length has passed (it ends at its grid line, however late the
 * call) and starts the next one. 0 (also when not due) or -errno. */
int cpd_target_cut(struct cpd_target *t);
/*
 * Stops sampling and writes the last window (or the whole profile). Returns 0, or -errno
 * when a file could not be written; -EAGAIN when it could not be written now and the data
 * is kept (service mode) for another try.
 */
int cpd_target_finish(struct cpd_target *t);

#endif
