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

/* What a sample keeps of the task it was taken in: the timeline it was joined with is gone
 * by the time its profile is written (the session is written in segments). */
struct cpd_task_ref {
  uint64_t task_id;
  uint64_t span_id;            /* W3C span id when has_span */
  uint32_t name_id;            /* the task's name (a session string id) */
  uint32_t span_name_id;       /* the task that set the span */
  uint8_t has_task;            /* 0: no task was open */
  uint8_t has_span;
};

/* A sample's context in names, made when a profile is written. */
struct cpd_sample_ctx {
  uint32_t tid;
  const char *thread_name;     /* the thread's name (comm), never NULL */
  const char *worker;          /* the registered worker, or NULL */
  int64_t worker_id;           /* -1 when no worker */
  const struct cpd_task_ref *task; /* the innermost task open on tid then, or NULL */
  const char *task_name;       /* NULL when no task */
  const char *span_name;       /* the trace span the task belongs to, when it has one */
};

/* Samples of one stack, thread and task, summed. */
struct cpd_agg {
  uint32_t stack;
  uint32_t tid;
  int64_t count;               /* samples */
  int64_t value;               /* the sum of their periods (nanoseconds) */
  struct cpd_task_ref task;
};

struct cpd_aggs {
  struct cpd_agg *v;
  size_t n, cap;
  struct cp_hindex index;      /* by (stack, tid, task) */
};

/*
 * Names what sum G was taken in: its thread's name, worker (from session S, which may be
 * NULL for a process without libceoprof) and task. The strings live as long as S and P.
 */
void cpd_join(const struct cpd_session *s, const struct cpd_profile *p, const struct cpd_agg *g,
              struct cpd_sample_ctx *out);

/*
 * Adds the N samples SMPS to the sums in ACC (zeroed before first use), each joined with the
 * innermost task of TL open on its thread at its time (no task when TL is NULL). Samples
 * of one stack, thread and task instance become one sum. 0 or -ENOMEM (ACC keeps what it had).
 */
int cpd_aggregate(struct cpd_aggs *acc, const struct cpd_psample *smps, size_t n,
                  const struct cpd_timeline *tl);
void cpd_aggs_free(struct cpd_aggs *a);

#endif
