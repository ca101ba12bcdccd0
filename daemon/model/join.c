/* join.c: attributing samples to their thread, worker and task by timestamp, and summing them. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "model/join.h"
#include "util.h"

void cpd_join(const struct cpd_session *s, const struct cpd_profile *p, uint32_t tid,
              const struct cpd_span *task, struct cpd_sample_ctx *out)
{
  const struct cpd_thread *t = s ? cpd_session_find_thread(s, tid) : NULL;
  const char *comm = cpd_profile_comm(p, tid);

  out->tid = tid;
  out->thread_name = comm ? comm : t ? t->comm : "?";
  out->worker = t && t->worker_name ? t->worker_name : NULL;
  out->worker_id = t && t->worker_name ? t->worker_id : -1;
  out->task = task;
  out->task_name = task ? cpd_session_string(s, task->name_id) : NULL;
  if (task && !out->task_name)
    out->task_name = "?";
  out->span_name = NULL;
  if (task && task->has_span) {
    out->span_name = cpd_session_string(s, task->span_name_id);
    if (!out->span_name)
      out->span_name = "unnamed";
  }
}

struct agg_key {
  uint32_t stack, tid;
  const struct cpd_span *task;
};

static uint64_t key_hash(uint32_t stack, uint32_t tid, const struct cpd_span *task)
{
  return cp_hash_u64(((uint64_t)stack << 32 | tid) ^ cp_hash_u64((uint64_t)(uintptr_t)task));
}

static uint64_t agg_hash(const void *ctx, uint32_t idx)
{
  const struct cpd_agg *g = &((const struct cpd_aggs *)ctx)->v[idx];

  return key_hash(g->stack, g->ctx.tid, g->ctx.task);
}

static int agg_eq(const void *ctx, uint32_t idx, const void *key)
{
  const struct cpd_agg *g = &((const struct cpd_aggs *)ctx)->v[idx];
  const struct agg_key *k = key;

  return g->stack == k->stack && g->ctx.tid == k->tid && g->ctx.task == k->task;
}

int cpd_aggregate(struct cpd_aggs *out, const struct cpd_profile *p,
                  const struct cpd_psample *smps, size_t n, const struct cpd_session *s,
                  const struct cpd_timeline *tl)
{
  memset(out, 0, sizeof(*out));
  for (size_t i = 0; i < n; i++) {
    const struct cpd_psample *smp = &smps[i];
    struct agg_key k = { smp->stack, smp->tid,
                         tl ? cpd_timeline_task_at(tl, smp->tid, smp->time) : NULL };
    uint64_t h = key_hash(k.stack, k.tid, k.task);
    int64_t at = cp_hindex_find(&out->index, h, agg_eq, out, &k);
    struct cpd_agg *g;

    if (at < 0) {
      if (cpd_grow(&out->v, &out->cap, out->n, sizeof(*out->v)) < 0 ||
          cp_hindex_insert(&out->index, h, (uint32_t)out->n, agg_hash, out) < 0)
        goto fail;
      g = &out->v[out->n++];
      memset(g, 0, sizeof(*g));
      g->stack = k.stack;
      cpd_join(s, p, k.tid, k.task, &g->ctx);
    } else {
      g = &out->v[at];
    }
    g->count++;
    g->value += (int64_t)smp->period;
  }
  return 0;
fail:
  cpd_aggs_free(out);
  return -ENOMEM;
}

void cpd_aggs_free(struct cpd_aggs *a)
{
  free(a->v);
  cp_hindex_free(&a->index);
  memset(a, 0, sizeof(*a));
}
