/* trace_writer.h: writing a session as Chrome Trace Event JSON (Perfetto UI, speedscope). */
#ifndef CPD_TRACE_WRITER_H
#define CPD_TRACE_WRITER_H

#include <stdio.h>

#include "model/session.h"
#include "model/timeline.h"
#include "util.h"

/* Extra producers hook in here (CPU samples); NULL members are skipped. */
struct cpd_trace_extra {
  /* Writes more metadata members, each preceded by a comma (when the trace is closed). */
  void (*metadata)(FILE *f, void *arg);
  /* Writes more trace events of the segment being written, each preceded by a comma. */
  void (*events)(FILE *f, void *arg);
  /* Writes more args of a task span that began and ended on one thread, each preceded by
   * a comma. */
  void (*span_args)(FILE *f, void *arg, const struct cpd_span *sp);
  /* Writes more events for the lane of thread TID, named NAME and sorted at SORT_INDEX
   * (more lanes beside it, say), each preceded by a comma (when the trace is closed). */
  void (*lane)(FILE *f, void *arg, uint32_t pid, uint32_t tid, const char *name,
               int64_t sort_index);
  void *arg;
  size_t samples;  /* samples the events hook draws in this segment (counted when left out) */
};

/*
 * A trace being written, one segment at a time, into a temporary file renamed into place
 * when it is closed: a session of any length is written as it goes, never held whole.
 */
struct cpd_trace_out {
  struct cpd_outstream out;
  int rc;                            /* the first error, 0 when none */
  uint64_t limit;                    /* bytes past which events are left out; 0: no limit */
  int full;                          /* the limit was reached */
  uint64_t dropped_events;           /* task events, instants and counters left out then */
  uint64_t dropped_samples;          /* samples left out then */
  size_t spans;                      /* task spans written */
  uint64_t flows;                    /* flow ids given to tasks that moved */
  struct cpd_timeline_counts counts; /* summed over the segments */
};

/* Starts PATH (through a temporary file) for session S. 0 or -errno (nothing left behind). */
int cpd_trace_open(struct cpd_trace_out *w, const char *path, const struct cpd_session *s,
                   uint64_t limit_bytes);
/*
 * Writes what TL holds: the spans that ended (and when LAST, those still open, marked
 * unfinished), instants, counters and EXTRA's events. Errors are kept for the close.
 */
void cpd_trace_segment(struct cpd_trace_out *w, const struct cpd_session *s,
                       const struct cpd_timeline *tl, const struct cpd_trace_extra *extra,
                       int last);
/* Writes the lanes and the metadata and renames the file into place. 0 or -errno (the
 * file is removed then). */
int cpd_trace_close(struct cpd_trace_out *w, const struct cpd_session *s,
                    const struct cpd_trace_extra *extra);
/* Gives up a trace: its temporary file is removed. */
void cpd_trace_discard(struct cpd_trace_out *w);

/*
 * Writes the trace of S to PATH in one segment (through PATH.tmp, renamed when complete).
 * Deterministic: the same session gives a byte-identical file. 0 or -errno.
 */
int cpd_trace_write(const char *path, const struct cpd_session *s, const struct cpd_timeline *tl,
                    const struct cpd_trace_extra *extra);

/* The same into an open stream (what cpd_trace_write() does between open and rename). */
void cpd_trace_emit(FILE *f, const struct cpd_session *s, const struct cpd_timeline *tl,
                    const struct cpd_trace_extra *extra);

#endif
