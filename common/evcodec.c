/* evcodec.c: encoding task events into EventRuns and walking them back. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>

#include "evcodec.h"

enum { CARRY_NAME = 1, CARRY_TASK = 2, CARRY_VALUE = 4 };

/* What an event of KIND (without CP_RUN_RESEND) carries besides its kind and timestamp. */
static unsigned carries(uint32_t kind)
{
  switch (kind) {
  case CEOPROF__WIRE__EVENT_KIND__EVENT_TASK_BEGIN:
    return CARRY_NAME | CARRY_TASK;
  case CEOPROF__WIRE__EVENT_KIND__EVENT_TASK_END:
    return CARRY_TASK;
  case CEOPROF__WIRE__EVENT_KIND__EVENT_INSTANT:
    return CARRY_NAME;
  case CEOPROF__WIRE__EVENT_KIND__EVENT_COUNTER:
    return CARRY_NAME | CARRY_VALUE;
  case CEOPROF__WIRE__EVENT_KIND__EVENT_TASK_FIELD:
    return CARRY_NAME | CARRY_TASK | CARRY_VALUE;
  default:
    return 0;
  }
}

static int grow(void **p, size_t *cap, size_t need, size_t size)
{
  size_t c = *cap ? *cap : 64;
  void *q;

  if (need <= *cap)
    return 0;
  while (c < need)
    c *= 2;
  q = realloc(*p, c * size);
  if (!q)
    return -ENOMEM;
  *p = q;
  *cap = c;
  return 0;
}

static int reserve_events(struct cp_evenc *enc, size_t n)
{
  size_t cap = enc->ev_cap;
  void **arrays[5] = { (void **)&enc->kinds, (void **)&enc->names, (void **)&enc->ts,
                       (void **)&enc->tasks, (void **)&enc->values };
  size_t sizes[5] = { sizeof(*enc->kinds), sizeof(*enc->names), sizeof(*enc->ts),
                      sizeof(*enc->tasks), sizeof(*enc->values) };

  if (n <= cap)
    return 0;
  for (int k = 0; k < 5; k++) {
    size_t c = cap;

    if (grow(arrays[k], &c, n, sizes[k]) < 0)
      return -ENOMEM;
    if (k == 4)
      enc->ev_cap = c;
  }
  return 0;
}

int cp__evenc_build(struct cp_evenc *enc, const struct cp_ev *ev, size_t n,
                    Ceoprof__Wire__EventRuns *out)
{
  size_t nruns = 0, nname = 0, ntask = 0, nvalue = 0;
  Ceoprof__Wire__EventRun *r = NULL;
  uint64_t prev_ts = 0, prev_task = 0;

  if (reserve_events(enc, n) < 0)
    return -ENOMEM;
  for (size_t i = 0; i < n; i++)
    if (i == 0 || ev[i].tid != ev[i - 1].tid)
      nruns++;
  if (nruns > enc->runs_cap) {
    size_t c1 = enc->runs_cap, c2 = enc->runs_cap;

    if (grow((void **)&enc->runs, &c1, nruns, sizeof(*enc->runs)) < 0 ||
        grow((void **)&enc->runp, &c2, nruns, sizeof(*enc->runp)) < 0)
      return -ENOMEM;
    enc->runs_cap = c1;
  }
  nruns = 0;
  for (size_t i = 0; i < n; i++) {
    const struct cp_ev *e = &ev[i];
    unsigned c = carries(e->kind);

    if (i == 0 || e->tid != ev[i - 1].tid) {
      r = &enc->runs[nruns];
      enc->runp[nruns++] = r;
      ceoprof__wire__event_run__init(r);
      r->tid = e->tid;
      r->kinds = &enc->kinds[i];
      r->ts_deltas = &enc->ts[i];
      r->name_ids = &enc->names[nname];
      r->task_deltas = &enc->tasks[ntask];
      r->values = &enc->values[nvalue];
      prev_ts = prev_task = 0;
    }
    enc->kinds[i] = e->kind | (e->resend ? CP_RUN_RESEND : 0);
    enc->ts[i] = (int64_t)(e->ts - prev_ts);
    prev_ts = e->ts;
    r->n_kinds++;
    r->n_ts_deltas++;
    if (c & CARRY_NAME) {
      enc->names[nname++] = e->name_id;
      r->n_name_ids++;
    }
    if (c & CARRY_TASK) {
      enc->tasks[ntask++] = (int64_t)(e->task_id - prev_task);
      prev_task = e->task_id;
      r->n_task_deltas++;
    }
    if (c & CARRY_VALUE) {
      enc->values[nvalue++] = e->value;
      r->n_values++;
    }
  }
  ceoprof__wire__event_runs__init(out);
  out->n_runs = nruns;
  out->runs = enc->runp;
  return 0;
}

void cp__evenc_free(struct cp_evenc *enc)
{
  free(enc->runs);
  free(enc->runp);
  free(enc->kinds);
  free(enc->names);
  free(enc->ts);
  free(enc->tasks);
  free(enc->values);
  *enc = (struct cp_evenc){ 0 };
}

int cp__evrun_check(const Ceoprof__Wire__EventRun *run)
{
  size_t nname = 0, ntask = 0, nvalue = 0;

  if (run->n_ts_deltas != run->n_kinds)
    return -EBADMSG;
  for (size_t i = 0; i < run->n_kinds; i++) {
    unsigned c = carries(run->kinds[i] & ~CP_RUN_RESEND);

    nname += (c & CARRY_NAME) != 0;
    ntask += (c & CARRY_TASK) != 0;
    nvalue += (c & CARRY_VALUE) != 0;
  }
  if (nname != run->n_name_ids || ntask != run->n_task_deltas || nvalue != run->n_values)
    return -EBADMSG;
  return 0;
}

void cp__evrun_iter_init(struct cp_evrun_iter *it, const Ceoprof__Wire__EventRun *run)
{
  *it = (struct cp_evrun_iter){ .run = run };
}

int cp__evrun_next(struct cp_evrun_iter *it, struct cp_ev *ev)
{
  const Ceoprof__Wire__EventRun *r = it->run;
  uint32_t k;
  unsigned c;

  if (it->i >= r->n_kinds)
    return 0;
  k = r->kinds[it->i];
  c = carries(k & ~CP_RUN_RESEND);
  it->ts += (uint64_t)r->ts_deltas[it->i];
  it->i++;
  ev->ts = it->ts;
  ev->tid = r->tid;
  ev->kind = c ? (uint8_t)(k & ~CP_RUN_RESEND) : (uint8_t)(k > 255 ? 255 : k);
  ev->resend = (k & CP_RUN_RESEND) != 0;
  ev->name_id = 0;
  ev->task_id = 0;
  ev->value = 0;
  if (c & CARRY_NAME)
    ev->name_id = r->name_ids[it->iname++];
  if (c & CARRY_TASK) {
    it->task += (uint64_t)r->task_deltas[it->itask++];
    ev->task_id = it->task;
  }
  if (c & CARRY_VALUE)
    ev->value = r->values[it->ivalue++];
  return 1;
}
