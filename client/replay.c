/*
 * replay.c: the flusher's replay of each thread's records against a shadow stack of its
 * open tasks: spans under the threshold held back and counted, open tasks re-sent to a
 * daemon that connects late, task ends matched by the one nesting model (common/nesting.c).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "flusher.h"
#include "nesting.h"

void cp__emit(struct cp_thread *t, uint32_t kind, uint64_t ts, uint64_t task_id,
              uint32_t name_id, int64_t value, int resend)
{
  struct cp_ev *e;

  if (cp__fl.fd < 0) {
    if (!resend)
      cp__count_drop(t, CEOPROF__WIRE__DROP_REASON__DROP_NO_DAEMON, 1);
    return;
  }
  if (cp__fl.nev == cp__fl.cap) {
    size_t cap = cp__fl.cap ? cp__fl.cap * 2 : BATCH_MAX;
    struct cp_ev *ev = realloc(cp__fl.ev, cap * sizeof(*ev));
    struct cp_thread **owner = ev ? realloc(cp__fl.owner, cap * sizeof(*owner)) : NULL;

    if (ev)
      cp__fl.ev = ev;
    if (!ev || !owner) {
      if (!resend)
        cp__count_drop(t, CEOPROF__WIRE__DROP_REASON__DROP_SEND_FAILED, 1);
      return;
    }
    cp__fl.owner = owner;
    cp__fl.cap = cap;
  }
  e = &cp__fl.ev[cp__fl.nev];
  e->kind = (uint8_t)kind;
  e->tid = t->tid;
  e->ts = ts;
  e->task_id = task_id;
  e->name_id = name_id;
  e->value = value;
  e->resend = resend != 0;
  cp__fl.owner[cp__fl.nev] = resend ? NULL : t;
  cp__fl.nev++;
}

void cp__release_task(struct cp_thread *t, struct cp_open_task *o)
{
  if (o->sent)
    return;
  o->sent = 1;
  cp__emit(t, CP_EV_BEGIN, o->begin_ts, o->task_id, o->name_id, 0, 0);
  for (unsigned i = 0; i < o->nfields; i++)
    cp__emit(t, CP_EV_FIELD, o->fields[i].ts, o->task_id, o->fields[i].key, o->fields[i].value, 0);
  o->nfields = 0;
}

/* Ends task I of T's shadow stack at TS (the end event came from thread ENDER). */
static void end_task(struct cp_thread *t, uint32_t i, struct cp_thread *ender, uint64_t ts)
{
  struct cp_open_task *o = &t->stack[i];

  if (!o->sent && ts - o->begin_ts < cp__fl.threshold_ticks) {
    /* The begin, the end and the held fields are not sent, but counted. */
    cp__count_drop(ender, CEOPROF__WIRE__DROP_REASON__DROP_THRESHOLD, 2 + o->nfields);
  } else {
    cp__release_task(t, o);
    cp__emit(ender, CP_EV_END, ts, o->task_id, 0, 0, 0);
  }
  memmove(&t->stack[i], &t->stack[i + 1], (t->depth - i - 1) * sizeof(t->stack[0]));
  t->depth--;
}

static int find_open(struct cp_thread *t, uint64_t task_id)
{
  for (int i = (int)t->depth - 1; i >= 0; i--)
    if (t->stack[i].task_id == task_id)
      return i;
  return -1;
}

static void on_begin(struct cp_thread *t, const struct cp_rec *r)
{
  struct cp_open_task *o;

  for (unsigned i = 0; cp__fl.orphans_live && i < CP_ORPHANS; i++) {
    /* Its end, from another thread, was drained before this begin: send both now. */
    if (cp__fl.orphans[i].task_id == r->task_id && cp__fl.orphans[i].ts >= r->ts && r->task_id) {
      cp__fl.orphans[i].task_id = 0;
      cp__fl.orphans_live--;
      cp__emit(t, CP_EV_BEGIN, r->ts, r->task_id, r->name_id, 0, 0);
      return;
    }
  }
  if (t->depth == CP_MAX_DEPTH) {
    t->overflow++;
    cp__count_drop(t, CEOPROF__WIRE__DROP_REASON__DROP_STACK_OVERFLOW, 1);
    return;
  }
  o = &t->stack[t->depth++];
  o->task_id = r->task_id;
  o->begin_ts = r->ts;
  o->name_id = r->name_id;
  o->nfields = 0;
  o->sent = 0;
  if (cp__fl.threshold_ticks == 0)
    cp__release_task(t, o);
}

static int nest_find(void *ctx, void *thread, uint64_t task_id)
{
  (void)ctx;
  return find_open(thread, task_id);
}

static void *nest_next(void *ctx, void *thread)
{
  (void)ctx;
  return thread ? ((struct cp_thread *)thread)->next : cp__state.threads;
}

static void on_end(struct cp_thread *t, const struct cp_rec *r)
{
  static const struct cp_nest_ops ops = { nest_find, nest_next, NULL };
  struct cp_end e = cp_nest_end(&ops, t, t->overflow, r->task_id);

  switch (e.kind) {
  case CP_END_OWN:
    /* Tasks above it were left open: release them so the daemon sees and counts them. */
    for (uint32_t j = (uint32_t)e.index + 1; j < t->depth; j++)
      cp__release_task(t, &t->stack[j]);
    t->depth = (uint32_t)e.index + 1;
    end_task(t, (uint32_t)e.index, t, r->ts);
    return;
  case CP_END_OVERFLOW:
    t->overflow--;
    cp__count_drop(t, CEOPROF__WIRE__DROP_REASON__DROP_STACK_OVERFLOW, 1);
    return;
  case CP_END_MOVED:
    end_task(e.thread, (uint32_t)e.index, t, r->ts);  /* a task that moved to another thread */
    return;
  case CP_END_UNMATCHED:
    break;
  }
  if (r->task_id && !cp__fl.orphans[cp__fl.orphan_next].task_id)
    cp__fl.orphans_live++;
  else if (!r->task_id && cp__fl.orphans[cp__fl.orphan_next].task_id)
    cp__fl.orphans_live--;
  cp__fl.orphans[cp__fl.orphan_next].task_id = r->task_id;
  cp__fl.orphans[cp__fl.orphan_next].ts = r->ts;
  cp__fl.orphan_next = (cp__fl.orphan_next + 1) % CP_ORPHANS;
  cp__emit(t, CP_EV_END, r->ts, r->task_id, 0, 0, 0);
}

static void on_field(struct cp_thread *t, const struct cp_rec *r)
{
  struct cp_open_task *o = t->depth ? &t->stack[t->depth - 1] : NULL;

  if (o && !o->sent) {
    if (o->nfields < CP_PENDING_FIELDS) {
      o->fields[o->nfields].ts = r->ts;
      o->fields[o->nfields].key = r->name_id;
      o->fields[o->nfields].value = r->value;
      o->nfields++;
      return;
    }
    cp__release_task(t, o);
  }
  cp__emit(t, CP_EV_FIELD, r->ts, o ? o->task_id : 0, r->name_id, r->value, 0);
}

void cp__replay_rec(void *arg, const struct cp_rec *r)
{
  struct cp_thread *t = arg;

  switch (r->kind) {
  case CP_EV_BEGIN:
    on_begin(t, r);
    break;
  case CP_EV_END:
    on_end(t, r);
    break;
  case CP_EV_FIELD:
    on_field(t, r);
    break;
  default:
    cp__emit(t, r->kind, r->ts, 0, r->name_id, r->value, 0);
    break;
  }
}

