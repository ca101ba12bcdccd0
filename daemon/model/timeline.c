/* timeline.c: replaying a session's events in time order into nested task spans. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <inttypes.h>

#include "hindex.h"
#include "log.h"
#include "model/timeline.h"
#include "nesting.h"
#include "util.h"

struct open_task {
  size_t span;             /* index into the span array */
  struct open_task *next;  /* the enclosing task on the same thread */
};

struct thread_stack {
  uint32_t tid;
  uint32_t depth;
  struct open_task *top;
};

struct builder {
  struct cpd_timeline *tl;
  const struct cpd_session *s;
  size_t spans_cap, fields_cap, instants_cap, counters_cap;
  struct thread_stack *stacks;
  size_t nstacks;
  /* Fields arrive interleaved; they are gathered per span, then laid out contiguously. */
  struct { size_t span; struct cpd_field f; } *pending;
  size_t npending, pending_cap;
};

/* An event's place in the replay: its time, then its arrival (its index in the session's
 * array, which is in arrival order: seq follows it). 16 bytes, not a copy of the event. */
struct ev_key {
  uint64_t ts;
  uint64_t idx;
};

static int cmp_events(const void *a, const void *b)
{
  const struct ev_key *x = a, *y = b;

  if (x->ts != y->ts)
    return x->ts < y->ts ? -1 : 1;
  return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static struct thread_stack *stack_of(struct builder *b, uint32_t tid)
{
  for (size_t i = 0; i < b->nstacks; i++)
    if (b->stacks[i].tid == tid)
      return &b->stacks[i];
  return NULL;
}

static void close_span(struct builder *b, struct thread_stack *st, struct open_task *o,
                       uint64_t ts, uint32_t end_tid)
{
  struct cpd_span *sp = &b->tl->spans[o->span];

  sp->end = ts < sp->begin ? sp->begin : ts;
  sp->end_tid = end_tid;
  if (end_tid != st->tid)
    b->tl->counts.moved++;
  st->depth--;
  free(o);
}

static int on_begin(struct builder *b, const struct cpd_event *e, uint64_t ts)
{
  struct thread_stack *st = stack_of(b, e->tid);  /* made by the caller */
  struct open_task *o;
  struct cpd_span *sp;

  if (e->resend) {
    /* Skip a task the session already knows to be open, wherever it is open. */
    for (size_t i = 0; i < b->nstacks; i++)
      for (o = b->stacks[i].top; o; o = o->next)
        if (b->tl->spans[o->span].task_id == e->task_id) {
          b->tl->counts.duplicate_resends++;
          return 0;
        }
  }
  if (cpd_grow(&b->tl->spans, &b->spans_cap, b->tl->nspans, sizeof(*sp)) < 0)
    return -ENOMEM;
  o = malloc(sizeof(*o));
  if (!o)
    return -ENOMEM;
  sp = &b->tl->spans[b->tl->nspans];
  memset(sp, 0, sizeof(*sp));
  sp->begin = ts;
  sp->task_id = e->task_id;
  sp->name_id = e->name_id;
  sp->tid = e->tid;
  sp->end_tid = e->tid;
  sp->depth = st->depth++;
  if (st->top && b->tl->spans[st->top->span].has_span) {
    /* A task begun inside a traced task belongs to the same span. */
    const struct cpd_span *parent = &b->tl->spans[st->top->span];

    sp->has_span = 2;
    sp->span_name_id = parent->span_name_id;
    sp->trace_hi = parent->trace_hi;
    sp->trace_lo = parent->trace_lo;
    sp->span_id = parent->span_id;
  }
  o->span = b->tl->nspans++;
  o->next = st->top;
  st->top = o;
  return 0;
}

static int nest_find(void *ctx, void *thread, uint64_t task_id)
{
  const struct builder *b = ctx;
  const struct thread_stack *st = thread;
  int i = (int)st->depth - 1;

  for (const struct open_task *o = st->top; o; o = o->next, i--)
    if (b->tl->spans[o->span].task_id == task_id)
      return i;
  return -1;
}

static void *nest_next(void *ctx, void *thread)
{
  struct builder *b = ctx;
  struct thread_stack *st = thread;
  size_t i = st ? (size_t)(st - b->stacks) + 1 : 0;

  return i < b->nstacks ? &b->stacks[i] : NULL;
}

/* Unlinks and returns the task at position INDEX (0 = outermost) of ST. */
static struct open_task *unlink_at(struct thread_stack *st, int index)
{
  struct open_task **pp = &st->top, *o;

  for (int i = (int)st->depth - 1; i > index; i--)
    pp = &(*pp)->next;
  o = *pp;
  *pp = o->next;
  return o;
}

static void on_end(struct builder *b, const struct cpd_event *e, uint64_t ts)
{
  const struct cp_nest_ops ops = { nest_find, nest_next, b };
  struct thread_stack *st = stack_of(b, e->tid);
  struct cp_end end = cp_nest_end(&ops, st, 0, e->task_id);

  switch (end.kind) {
  case CP_END_OWN:
    /* On its own thread: close it, and any task left open inside it. */
    while ((int)st->depth - 1 > end.index) {
      struct open_task *inner = st->top;

      st->top = inner->next;
      b->tl->counts.implicit_ends++;
      close_span(b, st, inner, ts, st->tid);
    }
    close_span(b, st, unlink_at(st, end.index), ts, st->tid);
    return;
  case CP_END_MOVED:  /* a task that moved: it began on another thread */
    st = end.thread;
    close_span(b, st, unlink_at(st, end.index), ts, e->tid);
    return;
  case CP_END_OVERFLOW:
  case CP_END_UNMATCHED:
    break;
  }
  b->tl->counts.unmatched_ends++;
  cpd_debug("pid %u: end of task %" PRIu64 " on tid %u at %" PRIu64 " matches no open task",
            b->s->pid, e->task_id, e->tid, ts);
}

static int on_field(struct builder *b, const struct cpd_event *e)
{
  struct thread_stack *st = stack_of(b, e->tid);
  struct open_task *o = NULL;
  const char *key;

  if (st)
    for (o = st->top; o; o = o->next)
      if (b->tl->spans[o->span].task_id == e->task_id)
        break;
  for (size_t i = 0; !o && i < b->nstacks; i++)
    for (o = b->stacks[i].top; o; o = o->next)
      if (b->tl->spans[o->span].task_id == e->task_id)
        break;
  if (!o) {
    b->tl->counts.orphan_fields++;
    return 0;
  }
  key = cpd_session_string(b->s, e->name_id);
  if (key && key[0] == '@') {
    /* Reserved keys: the task's trace span (ceoprof_task_span), not a field. */
    struct cpd_span *sp = &b->tl->spans[o->span];

    if (sp->has_span != 1) {
      sp->has_span = 1;
      sp->trace_hi = sp->trace_lo = sp->span_id = 0;
      sp->span_name_id = sp->name_id;
    }
    if (strcmp(key, "@trace_hi") == 0)
      sp->trace_hi = (uint64_t)e->value;
    else if (strcmp(key, "@trace_lo") == 0)
      sp->trace_lo = (uint64_t)e->value;
    else if (strcmp(key, "@span_id") == 0)
      sp->span_id = (uint64_t)e->value;
    return 0;
  }
  if (cpd_grow(&b->pending, &b->pending_cap, b->npending, sizeof(*b->pending)) < 0)
    return -ENOMEM;
  b->pending[b->npending].span = o->span;
  b->pending[b->npending].f.key = e->name_id;
  b->pending[b->npending].f.value = e->value;
  b->npending++;
  return 0;
}

static int add_mark(struct cpd_mark **arr, size_t *n, size_t *cap, const struct cpd_event *e,
                    uint64_t ts)
{
  if (cpd_grow(arr, cap, *n, sizeof(**arr)) < 0)
    return -ENOMEM;
  (*arr)[*n].ts = ts;
  (*arr)[*n].tid = e->tid;
  (*arr)[*n].name_id = e->name_id;
  (*arr)[*n].value = e->value;
  (*n)++;
  return 0;
}

static int cmp_spans(const void *a, const void *b)
{
  const struct cpd_span *x = a, *y = b;

  if (x->tid != y->tid)
    return x->tid < y->tid ? -1 : 1;
  if (x->begin != y->begin)
    return x->begin < y->begin ? -1 : 1;
  if (x->end != y->end)
    return x->end > y->end ? -1 : 1;
  return x->depth < y->depth ? -1 : x->depth > y->depth;
}

static int cmp_instants(const void *a, const void *b)
{
  const struct cpd_mark *x = a, *y = b;

  if (x->tid != y->tid)
    return x->tid < y->tid ? -1 : 1;
  return x->ts < y->ts ? -1 : x->ts > y->ts;
}

static int cmp_counters(const void *a, const void *b)
{
  const struct cpd_mark *x = a, *y = b;

  if (x->name_id != y->name_id)
    return x->name_id < y->name_id ? -1 : 1;
  return x->ts < y->ts ? -1 : x->ts > y->ts;
}

static int cmp_pending(const void *a, const void *b)
{
  const size_t *x = a, *y = b;  /* the span index is the first member */

  return *x < *y ? -1 : *x > *y;
}

/* Gives each span its fields, contiguous and in arrival order, then sorts the spans. */
static int layout(struct builder *b)
{
  struct cpd_timeline *tl = b->tl;

  /* A stable sort keeps the fields of one span in arrival order. */
  for (size_t i = 1; i < b->npending; i++) {
    size_t j = i;

    while (j > 0 && cmp_pending(&b->pending[j - 1], &b->pending[j]) > 0) {
      __typeof__(*b->pending) t = b->pending[j];

      b->pending[j] = b->pending[j - 1];
      b->pending[j - 1] = t;
      j--;
    }
  }
  if (b->npending) {
    tl->fields = malloc(b->npending * sizeof(*tl->fields));
    if (!tl->fields)
      return -ENOMEM;
  }
  for (size_t i = 0; i < b->npending; i++) {
    struct cpd_span *sp = &tl->spans[b->pending[i].span];

    if (sp->nfields == 0)
      sp->first_field = i;
    sp->nfields++;
    tl->fields[i] = b->pending[i].f;
  }
  tl->nfields = b->npending;
  cpd_qsort(tl->spans, tl->nspans, sizeof(*tl->spans), cmp_spans);
  cpd_qsort(tl->instants, tl->ninstants, sizeof(*tl->instants), cmp_instants);
  cpd_qsort(tl->counters, tl->ncounters, sizeof(*tl->counters), cmp_counters);
  return 0;
}

static int build(struct cpd_timeline *tl, const struct cpd_session *s, uint64_t cut_ns,
                 uint64_t end_ns)
{
  struct builder b = { .tl = tl, .s = s };
  struct ev_key *ev = NULL;
  size_t stacks_cap = 0, nev = 0;
  int rc = 0;

  memset(tl, 0, sizeof(*tl));
  if (s->nevents) {
    ev = malloc(s->nevents * sizeof(*ev));
    if (!ev)
      return -ENOMEM;
  }
  for (size_t i = 0; i < s->nevents; i++) {
    uint64_t ts = cpd_session_event_time(s, &s->events[i]);

    if (ts >= cut_ns)
      continue;
    ev[nev].ts = ts;
    ev[nev++].idx = i;
  }
  cpd_qsort(ev, nev, sizeof(*ev), cmp_events);
  for (size_t i = 0; i < nev && rc == 0; i++) {
    struct cpd_event ecopy = s->events[ev[i].idx];
    const struct cpd_event *e = &ecopy;

    ecopy.ts = ev[i].ts;

    if (!stack_of(&b, e->tid)) {
      if (cpd_grow(&b.stacks, &stacks_cap, b.nstacks, sizeof(*b.stacks)) < 0) {
        rc = -ENOMEM;
        break;
      }
      b.stacks[b.nstacks].tid = e->tid;
      b.stacks[b.nstacks].depth = 0;
      b.stacks[b.nstacks].top = NULL;
      b.nstacks++;
    }
    if (tl->first_ns == 0 || e->ts < tl->first_ns)
      tl->first_ns = e->ts;
    if (e->ts > tl->last_ns)
      tl->last_ns = e->ts;
    switch (e->kind) {
    case CEOPROF__WIRE__EVENT_KIND__EVENT_TASK_BEGIN:
      rc = on_begin(&b, e, e->ts);
      break;
    case CEOPROF__WIRE__EVENT_KIND__EVENT_TASK_END:
      on_end(&b, e, e->ts);
      break;
    case CEOPROF__WIRE__EVENT_KIND__EVENT_TASK_FIELD:
      rc = on_field(&b, e);
      break;
    case CEOPROF__WIRE__EVENT_KIND__EVENT_INSTANT:
      rc = add_mark(&tl->instants, &tl->ninstants, &b.instants_cap, e, e->ts);
      break;
    case CEOPROF__WIRE__EVENT_KIND__EVENT_COUNTER:
      rc = add_mark(&tl->counters, &tl->ncounters, &b.counters_cap, e, e->ts);
      break;
    }
  }
  if (end_ns < tl->last_ns)
    end_ns = tl->last_ns;
  /* Tasks still open end with the session, marked unfinished. */
  for (size_t i = 0; i < b.nstacks; i++) {
    struct thread_stack *st = &b.stacks[i];

    while (st->top) {
      struct open_task *o = st->top;

      st->top = o->next;
      tl->spans[o->span].unfinished = 1;
      tl->counts.unfinished++;
      close_span(&b, st, o, end_ns, st->tid);
    }
  }
  if (rc == 0)
    rc = layout(&b);
  free(b.stacks);
  free(b.pending);
  free(ev);
  if (rc < 0)
    cpd_timeline_free(tl);
  return rc;
}

int cpd_timeline_build(struct cpd_timeline *tl, const struct cpd_session *s, uint64_t end_ns)
{
  return build(tl, s, UINT64_MAX, end_ns);
}

int cpd_timeline_build_until(struct cpd_timeline *tl, const struct cpd_session *s, uint64_t cut_ns)
{
  return build(tl, s, cut_ns, cut_ns);
}

void cpd_timeline_free(struct cpd_timeline *tl)
{
  free(tl->spans);
  free(tl->fields);
  free(tl->instants);
  free(tl->counters);
  memset(tl, 0, sizeof(*tl));
}

static int span_at_or_before(const void *elem, const void *key)
{
  const struct cpd_span *sp = elem, *k = key;

  return sp->tid < k->tid || (sp->tid == k->tid && sp->begin <= k->begin);
}

const struct cpd_span *cpd_timeline_task_at(const struct cpd_timeline *tl, uint32_t tid, uint64_t ts)
{
  const struct cpd_span *best = NULL;
  struct cpd_span k = { .tid = tid, .begin = ts };
  /* The first span of TID that begins after TS; candidates lie before it. */
  size_t lo = cp_lower_bound(tl->spans, tl->nspans, sizeof(*tl->spans), &k, span_at_or_before);

  while (lo > 0) {
    const struct cpd_span *sp = &tl->spans[--lo];

    if (sp->tid != tid)
      break;
    if (sp->begin <= ts && ts < sp->end && (!best || sp->depth > best->depth))
      best = sp;
    if (sp->depth == 0 && sp->begin <= ts && ts >= sp->end)
      break;  /* an outermost task that ended before TS: nothing earlier can cover TS */
  }
  return best;
}

static int cmp_open_spans(const void *a, const void *b)
{
  const struct cpd_span *x = *(const struct cpd_span *const *)a, *y = *(const struct cpd_span *const *)b;

  if (x->tid != y->tid)
    return x->tid < y->tid ? -1 : 1;
  return (x->depth > y->depth) - (x->depth < y->depth);
}

int cpd_session_cut(struct cpd_session *s, const struct cpd_timeline *tl, uint64_t cut_ns,
                    int segment)
{
  const struct cpd_span **open = NULL;
  struct cpd_event *ev = NULL;
  size_t nopen = 0, n = 0, ncarry = 0, keep = 0;
  uint32_t span_keys[3] = { cpd_session_string_id(s, "@trace_hi"),
                             cpd_session_string_id(s, "@trace_lo"),
                             cpd_session_string_id(s, "@span_id") };

  for (size_t i = 0; i < tl->nspans; i++)
    if (tl->spans[i].unfinished) {
      nopen++;
      ncarry += 1 + tl->spans[i].nfields + 3;
    }
  for (size_t i = 0; i < s->nevents; i++)
    keep += cpd_session_event_time(s, &s->events[i]) >= cut_ns;
  if ((nopen && !(open = malloc(nopen * sizeof(*open)))) ||
      (ncarry && !(ev = malloc(ncarry * sizeof(*ev)))) ||
      cpd_session_reserve_events(s, keep + ncarry) < 0) {
    free(open);
    free(ev);
    return -ENOMEM;
  }
  nopen = 0;
  for (size_t i = 0; i < tl->nspans; i++)
    if (tl->spans[i].unfinished)
      open[nopen++] = &tl->spans[i];
  /* Outer tasks first, each followed by its fields: the replay rebuilds the same nesting. */
  cpd_qsort(open, nopen, sizeof(*open), cmp_open_spans);
  for (size_t i = 0; i < nopen; i++) {
    const struct cpd_span *sp = open[i];
    uint64_t at = segment ? sp->begin : cut_ns;

    ev[n++] = (struct cpd_event){ .ts = at, .task_id = sp->task_id, .tid = sp->tid,
                                  .name_id = sp->name_id,
                                  .kind = CEOPROF__WIRE__EVENT_KIND__EVENT_TASK_BEGIN, .mono = 1,
                                  .carried = (uint8_t)segment };
    for (uint32_t f = 0; f < sp->nfields; f++) {
      const struct cpd_field *fd = &tl->fields[sp->first_field + f];

      ev[n++] = (struct cpd_event){ .ts = at, .task_id = sp->task_id, .value = fd->value,
                                    .tid = sp->tid, .name_id = fd->key,
                                    .kind = CEOPROF__WIRE__EVENT_KIND__EVENT_TASK_FIELD, .mono = 1,
                                    .carried = (uint8_t)segment };
    }
    if (sp->has_span == 1 && span_keys[0] && span_keys[1] && span_keys[2]) {
      uint64_t v[3] = { sp->trace_hi, sp->trace_lo, sp->span_id };

      for (int k = 0; k < 3; k++)
        ev[n++] = (struct cpd_event){ .ts = at, .task_id = sp->task_id, .value = (int64_t)v[k],
                                      .tid = sp->tid, .name_id = span_keys[k],
                                      .kind = CEOPROF__WIRE__EVENT_KIND__EVENT_TASK_FIELD,
                                      .mono = 1, .carried = (uint8_t)segment };
    }
  }
  /* In place: the events after the cut keep their order, behind the carried ones, and
   * their sequence numbers follow them. */
  keep = 0;
  for (size_t i = 0; i < s->nevents; i++)
    if (cpd_session_event_time(s, &s->events[i]) >= cut_ns)
      s->events[keep++] = s->events[i];
  if (n && keep)
    memmove(s->events + n, s->events, keep * sizeof(*s->events));
  if (n)
    memcpy(s->events, ev, n * sizeof(*ev));
  s->nevents = n + keep;
  for (size_t i = 0; i < s->nevents; i++)
    s->events[i].seq = i;
  free(open);
  free(ev);
  s->next_seq = s->nevents;
  if (!segment)
    s->start_mono_ns = cut_ns;
  s->cut_ns = cut_ns;
  return 0;
}
