/* thread_state.c: thread states from context-switch records, and the split of a task's time. */
#include "config.h"

#include <stdlib.h>

#include "hindex.h"
#include "model/thread_state.h"
#include "util.h"

void cpd_sched_add(struct cpd_sched *s, uint64_t time, uint32_t tid, enum cpd_thread_state state)
{
  struct cpd_sched_rec *r;

  if (cpd_grow(&s->recs, &s->cap, s->n, sizeof(*s->recs)) < 0) {
    s->dropped++;
    return;
  }
  r = &s->recs[s->n++];
  r->time = time;
  r->tid = tid;
  r->state = (uint32_t)state;
  s->sorted = 0;
}

static int cmp_rec(const void *a, const void *b)
{
  const struct cpd_sched_rec *x = a, *y = b;

  if (x->tid != y->tid)
    return x->tid < y->tid ? -1 : 1;
  if (x->time != y->time)
    return x->time < y->time ? -1 : 1;
  return 0;
}

void cpd_sched_index(struct cpd_sched *s)
{
  if (!s->sorted)
    cpd_qsort(s->recs, s->n, sizeof(*s->recs), cmp_rec);
  s->sorted = 1;
}

static int rec_before(const void *elem, const void *key)
{
  const struct cpd_sched_rec *r = elem, *k = key;

  return r->tid < k->tid || (r->tid == k->tid && r->time < k->time);
}

/* The first record of TID at or after TIME (n when none). */
static size_t lower_bound(const struct cpd_sched *s, uint32_t tid, uint64_t time)
{
  struct cpd_sched_rec k = { .tid = tid, .time = time };

  return cp_lower_bound(s->recs, s->n, sizeof(*s->recs), &k, rec_before);
}

uint64_t cpd_sched_last(const struct cpd_sched *s, uint32_t tid, uint64_t before)
{
  size_t i = lower_bound(s, tid, before);

  return i > 0 && s->recs[i - 1].tid == tid ? s->recs[i - 1].time : 0;
}

void cpd_sched_span(const struct cpd_sched *s, uint32_t tid, uint64_t begin, uint64_t end,
                    struct cpd_sched_times *out)
{
  uint64_t t = begin, acc[3] = { 0, 0, 0 };
  size_t first = lower_bound(s, tid, begin);
  /* The state it was last put in; running when nothing is known (the task began on it). */
  uint32_t state = first > 0 && s->recs[first - 1].tid == tid ? s->recs[first - 1].state : CPD_RUNNING;

  out->switches = 0;
  for (size_t i = first; i < s->n; i++) {
    const struct cpd_sched_rec *r = &s->recs[i];

    if (r->tid != tid || r->time >= end)
      break;
    acc[state] += r->time - t;
    t = r->time;
    if (state == CPD_RUNNING && r->state != CPD_RUNNING)
      out->switches++;
    state = r->state;
  }
  if (end > t)
    acc[state] += end - t;
  out->cpu_ns = acc[CPD_RUNNING];
  out->delay_ns = acc[CPD_RUNNABLE];
  out->blocked_ns = acc[CPD_BLOCKED];
}

size_t cpd_sched_slices(const struct cpd_sched *s, uint32_t tid, uint64_t begin, uint64_t end,
                        void (*fn)(void *arg, uint64_t from, uint64_t to,
                                   enum cpd_thread_state state),
                        void *arg)
{
  size_t first = lower_bound(s, tid, begin), n = 0;
  int known = first > 0 && s->recs[first - 1].tid == tid;
  uint32_t state = known ? s->recs[first - 1].state : CPD_RUNNING;
  uint64_t t = begin;

  for (size_t i = first; i < s->n; i++) {
    const struct cpd_sched_rec *r = &s->recs[i];

    if (r->tid != tid || r->time >= end)
      break;
    if (known && r->time > t) {
      fn(arg, t, r->time, (enum cpd_thread_state)state);
      n++;
    }
    known = 1;
    t = r->time;
    state = r->state;
  }
  return n;
}

uint64_t cpd_sched_off(const struct cpd_sched *s, uint32_t tid, uint64_t time, uint64_t limit,
                       int *still_off)
{
  /* The tracepoint fires just before the switch record: skip the switch-out itself. */
  for (size_t i = lower_bound(s, tid, time); i < s->n; i++) {
    const struct cpd_sched_rec *r = &s->recs[i];

    if (r->tid != tid || r->time >= limit)
      break;
    if (r->state == CPD_RUNNING) {
      *still_off = 0;
      return r->time - time;
    }
  }
  *still_off = 1;
  return limit > time ? limit - time : 0;
}

void cpd_sched_cut(struct cpd_sched *s, uint64_t cut)
{
  size_t k = 0;

  cpd_sched_index(s);
  for (size_t i = 0; i < s->n; i++) {
    const struct cpd_sched_rec *r = &s->recs[i];
    int last_before = i + 1 == s->n || s->recs[i + 1].tid != r->tid || s->recs[i + 1].time >= cut;

    if (r->time >= cut || last_before)
      s->recs[k++] = *r;
  }
  s->n = k;
}

void cpd_sched_free(struct cpd_sched *s)
{
  free(s->recs);
  s->recs = NULL;
  s->n = s->cap = 0;
}
