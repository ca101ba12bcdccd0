/* join.c: attributing a CPU sample to its thread, worker and task by timestamp. */
#include "config.h"

#include "model/join.h"

void cpd_join(const struct cpd_session *s, const struct cpd_timeline *tl, const struct cpd_profile *p,
              const struct cpd_psample *smp, struct cpd_sample_ctx *out)
{
  const struct cpd_thread *t = s ? cpd_session_find_thread(s, smp->tid) : NULL;
  const char *comm = cpd_profile_comm(p, smp->tid);

  out->tid = smp->tid;
  out->thread_name = comm ? comm : t ? t->comm : "?";
  out->worker = t && t->worker_name ? t->worker_name : NULL;
  out->worker_id = t && t->worker_name ? t->worker_id : -1;
  out->task = tl ? cpd_timeline_task_at(tl, smp->tid, smp->time) : NULL;
  out->task_name = out->task ? cpd_session_string(s, out->task->name_id) : NULL;
  if (out->task && !out->task_name)
    out->task_name = "?";
}
