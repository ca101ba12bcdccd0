/* join.c: attributing samples to their thread, worker and task by timestamp, and summing them. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "model/join.h"
#include "util.h"

void cpd_join(const struct cpd_session *s, const struct cpd_profile *p, const struct cpd_agg *g,
              struct cpd_sample_ctx *out)
{
  const struct cpd_thread *t = s ? cpd_session_find_thread(s, g->tid) : NULL;
  const char *comm = cpd_profile_comm(p, g->tid);
  const struct cpd_task_ref *task = g->task.has_task ? &g->task : NULL;

  out->tid = g->tid;
  out->thread_name = comm ? comm : t ? t->comm : "?";
  out->worker = t && t->worker_name ? t->worker_name : NULL;
  out->worker_id = t && t->worker_name ? t->worker_id : -1;
  out->task = task;
  out->task_name = task && s ? cpd_session_string(s, task->name_id) : NULL;
  if (task && !out->task_name)
    out->task_name = "?";
  out->span_name = NULL;
  if (task && task->has_span) {
    out->span_name = s ? cpd_session_string(s, task->span_name_id) : NULL;
    if (!out->span_name)
      out->span_name = "unnamed";
  }
}

static uint64_t key_hash(uint32_t stack, uint32_t tid, const struct cpd_task_ref *task)
{
  return cp_hash_u64(((uint64_t)stack << 32 | tid) ^
                     cp_hash_u64(task->task_id ^ ((uint64_t)task->name_id << 40) ^ task->has_task));
}

static int same_task(const struct cpd_task_ref *a, const struct cpd_task_ref *b)
{
  return a->has_task == b->has_task && a->task_id == b->task_id && a->name_id == b->name_id &&
         a->has_span == b->has_span && a->span_id == b->span_id;
}

static uint64_t agg_hash(const void *ctx, uint32_t idx)
{
  const struct cpd_agg *g = &((const struct cpd_aggs *)ctx)->v[idx];

  return key_hash(g->stack, g->tid, &g->task);
}

static int agg_eq(const void *ctx, uint32_t idx, const void *key)
{
  const struct cpd_agg *g = &((const struct cpd_aggs *)ctx)->v[idx], *k = key;

  return g->stack == k->stack && g->tid == k->tid && same_task(&g->task, &k->task);
}

int cpd_aggregate(struct cpd_aggs *acc, const struct cpd_psample *smps, size_t n,
                  const struct cpd_timeline *tl)
{
  for (size_t i = 0; i < n; i++) {
    const struct cpd_psample *smp = &smps[i];
    const struct cpd_span *sp = tl ? cpd_timeline_task_at(tl, smp->tid, smp->time) : NULL;
    struct cpd_agg k = { .stack = smp->stack, .tid = smp->tid };
    uint64_t h;
    int64_t at;

    if (sp)
      k.task = (struct cpd_task_ref){ .task_id = sp->task_id, .span_id = sp->span_id,
                                      .name_id = sp->name_id, .span_name_id = sp->span_name_id,
                                      .has_task = 1, .has_span = sp->has_span != 0 };
    h = key_hash(k.stack, k.tid, &k.task);
    at = cp_hindex_find(&acc->index, h, agg_eq, acc, &k);
    if (at < 0) {
      if (cpd_grow(&acc->v, &acc->cap, acc->n, sizeof(*acc->v)) < 0 ||
          cp_hindex_insert(&acc->index, h, (uint32_t)acc->n, agg_hash, acc) < 0)
        return -ENOMEM;
      at = (int64_t)acc->n++;
      acc->v[at] = k;
    }
    acc->v[at].count++;
    acc->v[at].value += (int64_t)smp->period;
  }
  return 0;
}

void cpd_aggs_free(struct cpd_aggs *a)
{
  free(a->v);
  cp_hindex_free(&a->index);
  memset(a, 0, sizeof(*a));
}
