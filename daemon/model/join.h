/* join.h: what was running when a CPU sample was taken: its thread, worker and innermost task. */
#ifndef CPD_JOIN_H
#define CPD_JOIN_H

#include <stdint.h>

#include "model/profile.h"
#include "ingest/session.h"
#include "model/timeline.h"

struct cpd_sample_ctx {
  uint32_t tid;
  const char *thread_name;     /* the thread's name (comm), never NULL */
  const char *worker;          /* the registered worker, or NULL */
  int64_t worker_id;           /* -1 when no worker */
  const struct cpd_span *task; /* the innermost task open on tid at the sample's time, or NULL */
  const char *task_name;       /* NULL when no task */
};

/*
 * Joins sample SMP of profile P with the task events of session S (its timeline TL).
 * Both sides are complete when this runs, so the join is by timestamp, never by
 * arrival order. S and TL may be NULL (a process without libceoprof).
 */
void cpd_join(const struct cpd_session *s, const struct cpd_timeline *tl, const struct cpd_profile *p,
              const struct cpd_psample *smp, struct cpd_sample_ctx *out);

#endif
