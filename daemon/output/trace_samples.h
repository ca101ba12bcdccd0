/*
 * trace_samples.h: CPU samples on the trace's thread lanes, as V8 Profile/ProfileChunk
 * events (one profile per thread, a chunk per segment written), thread-state lanes, the
 * resident-memory counter, and each task's wait split.
 */
#ifndef CPD_TRACE_SAMPLES_H
#define CPD_TRACE_SAMPLES_H

#include <stdint.h>
#include <stdio.h>

#include "hindex.h"
#include "model/profile.h"
#include "model/thread_state.h"
#include "perf/sampler.h"
#include "output/trace_writer.h"

/* One thread's call tree: a node per distinct (parent, location). */
struct cpd_v8_node {
  uint32_t parent;  /* node id, 0 for the root */
  uint32_t loc;     /* location index + 1, 0 for the root */
};

/* One thread's V8 profile, continued from segment to segment. */
struct cpd_v8_thread {
  uint32_t tid;
  unsigned profile_id;
  uint64_t last_us;             /* the time of its last sample, whole microseconds */
  struct cpd_v8_node *nodes;    /* id = index + 1 */
  size_t nnodes, nodes_cap, nodes_sent;
  struct cp_hindex index;       /* nodes by (parent, location) */
  int has_states;               /* it has a state lane */
  uint64_t lane_next;           /* where its state lane goes on: its last record before the
                                 * last cut (0: the segment's start) */
};

/* A task open across a segment cut: its wait split and resident memory so far. */
struct cpd_span_carry {
  uint64_t task_id, begin;
  uint32_t tid;
  int has_rss;
  int seen;                     /* still open at the last cut */
  uint64_t rss_begin;
  uint64_t from;                /* T holds its time up to here: its thread's last record
                                 * before the cut (a thread's record comes when it runs again,
                                 * so its state after that record is not known yet) */
  struct cpd_sched_times t;
};

struct cpd_trace_samples {
  const struct cpd_profile *prof;
  const struct cpd_session *session;
  const char *event;
  int hz;
  uint64_t begin_ns, end_ns;    /* the segment being written */
  int last;                     /* it is the file's last */
  const struct cpd_unwind *unwind;  /* DWARF mode's counts, NULL with frame pointers */
  uint32_t dwarf_stack;
  uint64_t samples;             /* samples written, over the segments */
  unsigned profiles;            /* profile ids given */
  uint64_t rss_points;          /* resident-memory readings written */
  struct cpd_v8_thread *threads;  /* by tid */
  size_t nthreads, threads_cap;
  struct cpd_span_carry *carry;
  size_t ncarry, carry_cap;
};

/* The lane of a thread's states has the thread's tid with this bit set (tids are < 2^22). */
#define CPD_STATE_LANE 0x40000000u

/* Starts the samples of one trace file (zeroes TS). */
void cpd_trace_samples_init(struct cpd_trace_samples *ts, const struct cpd_profile *prof,
                            const struct cpd_session *s, const char *event, int hz,
                            const struct cpd_unwind *unwind, uint32_t dwarf_stack);
/* The next segment, [BEGIN_NS, END_NS): the profile's samples now are its samples. Fills
 * EXTRA so that the trace writer adds them, the states and the memory of that time. */
void cpd_trace_samples_segment(struct cpd_trace_samples *ts, uint64_t begin_ns, uint64_t end_ns,
                               int last, struct cpd_trace_extra *extra);
/*
 * Task SP's wall time split by its thread's states into *T (CPD_SPLIT_TIMES, when switch
 * records were kept) and its change in resident memory into *RSS_DELTA (CPD_SPLIT_RSS), over
 * all of its segments. Returns which of the two are known.
 */
#define CPD_SPLIT_TIMES 1
#define CPD_SPLIT_RSS 2
int cpd_trace_samples_split(const struct cpd_trace_samples *ts, const struct cpd_span *sp,
                            struct cpd_sched_times *t, int64_t *rss_delta);
/* Where thread TID's state lane begins in this segment: its last record before the cut
 * before (its state after it was not known then), or the segment's start. */
uint64_t cpd_trace_samples_lane_from(const struct cpd_trace_samples *ts, uint32_t tid);
/* After a segment is written: keeps the wait split so far of each task TL holds open, and
 * where each thread's state lane goes on. */
void cpd_trace_samples_carry(struct cpd_trace_samples *ts, const struct cpd_timeline *tl);
void cpd_trace_samples_free(struct cpd_trace_samples *ts);

#endif
