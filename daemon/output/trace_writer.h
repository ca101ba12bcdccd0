/* trace_writer.h: writing a session as Chrome Trace Event JSON (Perfetto UI, speedscope). */
#ifndef CPD_TRACE_WRITER_H
#define CPD_TRACE_WRITER_H

#include <stdio.h>

#include "model/session.h"
#include "model/timeline.h"

/* Extra producers hook in here (CPU samples); NULL members are skipped. */
struct cpd_trace_extra {
  /* Writes more metadata members, each preceded by a comma. */
  void (*metadata)(FILE *f, void *arg);
  /* Writes more trace events, each preceded by a comma. */
  void (*events)(FILE *f, void *arg);
  /* Writes more args of a task span that began and ended on one thread, each preceded by
   * a comma. */
  void (*span_args)(FILE *f, void *arg, const struct cpd_span *sp);
  /* Writes more events for the lane of thread TID, named NAME and sorted at SORT_INDEX
   * (more lanes beside it, say), each preceded by a comma. */
  void (*lane)(FILE *f, void *arg, uint32_t pid, uint32_t tid, const char *name,
               int64_t sort_index);
  void *arg;
};

/*
 * Writes the trace of S to PATH (through PATH.tmp, renamed when complete).
 * Deterministic: the same session gives a byte-identical file. 0 or -errno.
 */
int cpd_trace_write(const char *path, const struct cpd_session *s, const struct cpd_timeline *tl,
                    const struct cpd_trace_extra *extra);

/* Writes the trace to an open stream; what cpd_trace_write() does between open and rename. */
void cpd_trace_emit(FILE *f, const struct cpd_session *s, const struct cpd_timeline *tl,
                    const struct cpd_trace_extra *extra);

#endif
