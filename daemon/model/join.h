/*
 * join.h: where a sample meets what was running when it was taken (its thread, worker and
 * innermost task, by timestamp), and where identical samples are summed for the writers.
 */
#ifndef CPD_JOIN_H
#define CPD_JOIN_H

#include <stdint.h>

#include "hindex.h"
#include "model/session.h"
#include "model/profile.h"
#include "model/timeline.h"

struct cpd_sample_ctx {
  uint32_t tid;
  const char *thread_name;     /* the thread's name (comm), never NULL */
  const char *worker;          /* the registered worker, or NULL */
  int64_t worker_id;           /* -1 when no worker */
  const struct cpd_span *task; /* the innermost task open on tid at the sample's time, or NULL */
  const char *task_name;       /* NULL when no task */
  const char *span_name;       /* the trace span the task belongs to, when it has one */
};

/* Samples of one stack, thread and task, summed; joined once. */
struct cpd_agg {
  uint32_t stack;
  int64_t count;               /* samples */
  int64_t value;               /* the sum of their periods (nanoseconds) */
  struct cpd_sample_ctx ctx;
};

struct cpd_aggs {
  struct cpd_agg *v;
  size_t n, cap;
  struct cp_hindex index;      /* by (stack, tid, task) */
};

/*
 * What TID of profile P was: its name, worker (from session S) and TASK (the innermost
 * task open at the sample's time, or NULL). S may be NULL (a process without libceoprof).
 */
void cpd_join(const struct cpd_session *s, const struct cpd_profile *p, uint32_t tid,
              const struct cpd_span *task, struct cpd_sample_ctx *out);

/*
 * Sums the N samples SMPS of profile P by (stack, thread, task), each task found once in TL
 * by the sample's time. Both sides are complete when this runs, so the join is by
 * timestamp, never by arrival order. S and TL may be NULL. 0 or -ENOMEM.
 */
int cpd_aggregate(struct cpd_aggs *out, const struct cpd_profile *p,
                  const struct cpd_psample *smps, size_t n, const struct cpd_session *s,
                  const struct cpd_timeline *tl);
void cpd_aggs_free(struct cpd_aggs *a);

#endif
