/* perfetto_writer.c: PREFIX.pftrace, a stream of Perfetto TracePackets on one sequence. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "model/thread_state.h"
#include "output/perfetto_writer.h"
#include "output/perfetto_seq.h"

/* ---- tasks, marks ---- */

static void add_int(Perfetto__Protos__DebugAnnotation *a, Perfetto__Protos__DebugAnnotation **ap,
                    size_t *n, uint64_t name_iid, int64_t v)
{
  perfetto__protos__debug_annotation__init(&a[*n]);
  a[*n].has_name_iid = 1;
  a[*n].name_iid = name_iid;
  a[*n].has_int_value = 1;
  a[*n].int_value = v;
  ap[*n] = &a[*n];
  (*n)++;
}

/* A task's begin: a slice on its thread's track, or, for a task that moved threads, on a
 * track of its own beside its process's threads (the thread it began on went on with other
 * tasks) with a flow from a mark on its first thread (FLOW, not 0). */
static void span_begin(struct cpd_pf_out *w, const struct cpd_session *s,
                       const struct cpd_timeline *tl, const struct cpd_trace_samples *ts,
                       const struct cpd_span *sp, uint64_t flow)
{
  Perfetto__Protos__DebugAnnotation ann[40], *annp[40];
  struct interned *in = w->in;
  pf_event b = PERFETTO__PROTOS__TRACK_EVENT__INIT;
  size_t na = 0;
  uint64_t track = cpd_pfs_thread_track(w, s, sp->tid);

  cpd_pfs_interned_init(in);
  b.has_type = 1;
  b.type = PERFETTO__PROTOS__TRACK_EVENT__TYPE__TYPE_SLICE_BEGIN;
  b.has_name_iid = 1;
  b.name_iid = cpd_pfs_event_name(w, in, s, sp->name_id);
  if (sp->task_id)
    add_int(ann, annp, &na, cpd_pfs_fixed_name(w, in, FIXED_TASK_ID, 0), (int64_t)sp->task_id);
  for (uint32_t i = 0; i < sp->nfields && na < 32; i++) {
    const struct cpd_field *fl = &tl->fields[sp->first_field + i];

    add_int(ann, annp, &na, cpd_pfs_anno_name(w, in, s, fl->key), fl->value);
  }
  if (ts && !flow) {
    /* Its wall time split by its thread's states, as in the JSON trace's args. */
    struct cpd_sched_times t;
    int64_t rss;
    int known = cpd_trace_samples_split(ts, sp, &t, &rss);

    if (known & CPD_SPLIT_TIMES) {
      add_int(ann, annp, &na, cpd_pfs_fixed_name(w, in, FIXED_CPU_NS, 0), (int64_t)t.cpu_ns);
      add_int(ann, annp, &na, cpd_pfs_fixed_name(w, in, FIXED_BLOCKED_NS, 0), (int64_t)t.blocked_ns);
      add_int(ann, annp, &na, cpd_pfs_fixed_name(w, in, FIXED_DELAY_NS, 0), (int64_t)t.delay_ns);
      add_int(ann, annp, &na, cpd_pfs_fixed_name(w, in, FIXED_SWITCHES, 0), t.switches);
    }
    if (known & CPD_SPLIT_RSS)
      add_int(ann, annp, &na, cpd_pfs_fixed_name(w, in, FIXED_RSS, 0), rss);
  }
  if (flow) {
    pf_event mark = PERFETTO__PROTOS__TRACK_EVENT__INIT;

    add_int(ann, annp, &na, cpd_pfs_fixed_name(w, in, FIXED_ENDED_ON, 0), sp->end_tid);
    mark.has_type = 1;
    mark.type = PERFETTO__PROTOS__TRACK_EVENT__TYPE__TYPE_INSTANT;
    mark.has_track_uuid = 1;
    mark.track_uuid = track;
    mark.has_name_iid = 1;
    mark.name_iid = b.name_iid;
    mark.n_flow_ids = 1;
    mark.flow_ids = &flow;
    cpd_pfs_emit_event(w, in, sp->begin, &mark);
    cpd_pfs_interned_init(in);
    track = UUID_MOVED(flow);
  }
  b.has_track_uuid = 1;
  b.track_uuid = track;
  b.n_debug_annotations = na;
  b.debug_annotations = annp;
  cpd_pfs_emit_event(w, in, sp->begin, &b);
}

static void span_end(struct cpd_pf_out *w, const struct cpd_session *s, const struct cpd_span *sp,
                     uint64_t flow)
{
  pf_event e = PERFETTO__PROTOS__TRACK_EVENT__INIT;

  e.has_type = 1;
  e.type = PERFETTO__PROTOS__TRACK_EVENT__TYPE__TYPE_SLICE_END;
  e.has_track_uuid = 1;
  e.track_uuid = flow ? UUID_MOVED(flow) : cpd_pfs_thread_track(w, s, sp->tid);
  cpd_pfs_emit_event(w, NULL, sp->end, &e);
  if (flow) {  /* where it ended: the flow's end */
    pf_event mark = PERFETTO__PROTOS__TRACK_EVENT__INIT;

    cpd_pfs_interned_init(w->in);
    mark.has_type = 1;
    mark.type = PERFETTO__PROTOS__TRACK_EVENT__TYPE__TYPE_INSTANT;
    mark.has_track_uuid = 1;
    mark.track_uuid = cpd_pfs_thread_track(w, s, sp->end_tid);
    mark.has_name_iid = 1;
    mark.name_iid = cpd_pfs_event_name(w, w->in, s, sp->name_id);
    mark.n_terminating_flow_ids = 1;
    mark.terminating_flow_ids = &flow;
    cpd_pfs_emit_event(w, w->in, sp->end, &mark);
  }
}

static void write_instant(struct cpd_pf_out *w, const struct cpd_session *s,
                          const struct cpd_mark *m)
{
  pf_event ev = PERFETTO__PROTOS__TRACK_EVENT__INIT;
  struct interned *in = w->in;

  cpd_pfs_interned_init(in);
  ev.has_type = 1;
  ev.type = PERFETTO__PROTOS__TRACK_EVENT__TYPE__TYPE_INSTANT;
  ev.has_track_uuid = 1;
  ev.track_uuid = cpd_pfs_thread_track(w, s, m->tid);
  ev.has_name_iid = 1;
  ev.name_iid = cpd_pfs_event_name(w, in, s, m->name_id);
  cpd_pfs_emit_event(w, in, m->ts, &ev);
}

static void write_counter(struct cpd_pf_out *w, const struct cpd_session *s,
                          const struct cpd_mark *m)
{
  pf_event ev = PERFETTO__PROTOS__TRACK_EVENT__INIT;

  ev.has_type = 1;
  ev.type = PERFETTO__PROTOS__TRACK_EVENT__TYPE__TYPE_COUNTER;
  ev.has_track_uuid = 1;
  ev.track_uuid = UUID_COUNTER(s->pid, m->name_id);
  ev.has_counter_value = 1;
  ev.counter_value = m->value;
  cpd_pfs_emit_event(w, NULL, m->ts, &ev);
}

/* ---- samples ---- */
static void write_sample(struct cpd_pf_out *w, const struct cpd_session *s,
                         const struct cpd_profile *p, const struct cpd_psample *smp, int off)
{
  pf_event ev = PERFETTO__PROTOS__TRACK_EVENT__INIT;
  struct interned *in = w->in;

  cpd_pfs_interned_init(in);
  ev.has_type = 1;
  ev.type = PERFETTO__PROTOS__TRACK_EVENT__TYPE__TYPE_INSTANT;
  ev.has_track_uuid = 1;
  /* Off-CPU samples on a track of their own under the thread: their weight is time
   * blocked, not CPU, and must not mix with the CPU samples' in one flame graph. */
  ev.track_uuid = off ? UUID_OFFCPU(cpd_profile_pid_of(p, smp->tid), smp->tid)
                      : cpd_pfs_thread_track(w, s, smp->tid);
  ev.has_name_iid = 1;
  ev.name_iid = cpd_pfs_fixed_name(w, in, off ? FIXED_OFF : FIXED_CPU, 1);
  ev.has_callstack_iid = 1;
  ev.callstack_iid = cpd_pfs_callstack(w, in, p, smp->stack);
  ev.has_callstack_weight = 1;
  ev.callstack_weight = (double)smp->period;
  cpd_pfs_emit_event(w, in, smp->time, &ev);
  w->samples++;
}

static void write_rss(struct cpd_pf_out *w, const struct cpd_session *s, const struct cpd_rss_rec *r)
{
  pf_event ev = PERFETTO__PROTOS__TRACK_EVENT__INIT;

  ev.has_type = 1;
  ev.type = PERFETTO__PROTOS__TRACK_EVENT__TYPE__TYPE_COUNTER;
  ev.has_track_uuid = 1;
  ev.track_uuid = UUID_RSS(s->pid);
  ev.has_counter_value = 1;
  ev.counter_value = (int64_t)r->bytes;
  cpd_pfs_emit_event(w, NULL, r->time, &ev);
}

/* A stretch of one thread's state, on the track beside it. */
struct pf_state {
  uint64_t from, to;
  uint32_t tid;
  uint8_t state;
};

struct state_sink {
  struct pf_state *v;
  size_t n, cap;
  uint32_t tid;
};

static void collect_state(void *arg, uint64_t from, uint64_t to, enum cpd_thread_state state)
{
  struct state_sink *k = arg;

  if (cpd_grow(&k->v, &k->cap, k->n, sizeof(*k->v)) == 0)
    k->v[k->n++] = (struct pf_state){ from, to, k->tid, (uint8_t)state };
}

static void write_state(struct cpd_pf_out *w, const struct pf_state *st, int begin)
{
  static const int names[] = { FIXED_RUNNING, FIXED_RUNNABLE, FIXED_BLOCKED };
  pf_event ev = PERFETTO__PROTOS__TRACK_EVENT__INIT;
  struct interned *in = w->in;

  cpd_pfs_interned_init(in);
  ev.has_type = 1;
  ev.has_track_uuid = 1;
  ev.track_uuid = UUID_STATE(st->tid);
  if (begin) {
    ev.type = PERFETTO__PROTOS__TRACK_EVENT__TYPE__TYPE_SLICE_BEGIN;
    ev.has_name_iid = 1;
    ev.name_iid = cpd_pfs_fixed_name(w, in, names[st->state], 1);
    cpd_pfs_emit_event(w, in, st->from, &ev);
  } else {
    ev.type = PERFETTO__PROTOS__TRACK_EVENT__TYPE__TYPE_SLICE_END;
    cpd_pfs_emit_event(w, NULL, st->to, &ev);
  }
}

/* ---- the file ---- */

static int over_limit(struct cpd_pf_out *w)
{
  return cpd_outfile_full(w->out.f, w->out.o.path, w->limit, &w->full);
}

/* One thing to write, in time order (all of a segment's events are sorted before they go
 * out: the incremental clock's deltas need them so, and the file reads in order). */
enum { IT_END, IT_BEGIN, IT_INSTANT, IT_COUNTER, IT_SAMPLE, IT_OFF, IT_RSS, IT_STATE_BEGIN,
       IT_STATE_END };
struct pf_item {
  uint64_t ts;
  uint64_t order;  /* at one time: ends first, the innermost first; then the rest */
  uint32_t idx;
  uint8_t kind;
};

static int cmp_items(const void *a, const void *b)
{
  const struct pf_item *x = a, *y = b;

  if (x->ts != y->ts)
    return x->ts < y->ts ? -1 : 1;
  return x->order < y->order ? -1 : x->order > y->order;
}

/*
 * Sorts V[0..n) as cmp_items does: by time with a radix sort (8 bits a pass, over the bits
 * the times differ in; stable), then each run of equal times by its order. A segment has
 * tens of thousands of events and few equal times: qsort's comparisons were a third of the
 * writer's cost.
 */
static int sort_items(struct pf_item *v, size_t n)
{
  struct pf_item *tmp, *src = v, *dst;
  uint64_t lo = UINT64_MAX, hi = 0;

  if (n < 64) {
    cpd_qsort(v, n, sizeof(*v), cmp_items);
    return 0;
  }
  if (!(tmp = malloc(n * sizeof(*tmp))))
    return -ENOMEM;
  dst = tmp;
  for (size_t i = 0; i < n; i++) {
    lo = v[i].ts < lo ? v[i].ts : lo;
    hi = v[i].ts > hi ? v[i].ts : hi;
  }
  for (unsigned shift = 0; shift < 64 && ((hi - lo) >> shift); shift += 8) {
    size_t count[257] = { 0 };
    struct pf_item *t;

    for (size_t i = 0; i < n; i++)
      count[((src[i].ts - lo) >> shift & 0xff) + 1]++;
    for (int b = 0; b < 256; b++)
      count[b + 1] += count[b];
    for (size_t i = 0; i < n; i++)
      dst[count[(src[i].ts - lo) >> shift & 0xff]++] = src[i];
    t = src;
    src = dst;
    dst = t;
  }
  if (src != v)
    memcpy(v, src, n * sizeof(*v));
  free(tmp);
  for (size_t i = 0, j; i < n; i = j) {  /* equal times: by their order */
    for (j = i + 1; j < n && v[j].ts == v[i].ts; j++)
      ;
    if (j - i > 1)
      cpd_qsort(v + i, j - i, sizeof(*v), cmp_items);
  }
  return 0;
}

static int add_item(struct pf_item **v, size_t *n, size_t *cap, uint64_t ts, uint64_t order,
                    size_t idx, int kind)
{
  if (cpd_grow(v, cap, *n, sizeof(**v)) < 0)
    return -ENOMEM;
  (*v)[(*n)++] = (struct pf_item){ ts, order, (uint32_t)idx, (uint8_t)kind };
  return 0;
}

void cpd_pf_segment(struct cpd_pf_out *w, const struct cpd_session *s, const struct cpd_timeline *tl,
                    const struct cpd_trace_samples *ts, const struct cpd_psample *smps, size_t n,
                    const struct cpd_psample *off, size_t noff, uint64_t begin_ns,
                    uint64_t end_ns, int last)
{
  const struct cpd_profile *p = ts ? ts->prof : NULL;
  struct state_sink states = { 0 };
  struct pf_item *it = NULL;
  uint64_t *flows = NULL;
  size_t nit = 0, cap = 0, seq = 0;
  int rc = 0;

  if (!w->out.f)
    return;
  if (!w->cleared)
    cpd_pfs_emit_clock(w, begin_ns);
  /* Every track first: events may only name tracks described before them. */
  for (size_t i = 0; i < s->nthreads; i++)
    cpd_pfs_describe_thread(w, s, &s->threads[i], 0);
  if (tl->nspans && !(flows = calloc(tl->nspans, sizeof(*flows))))
    rc = -ENOMEM;
  for (size_t i = 0; i < tl->nspans && rc == 0; i++) {
    const struct cpd_span *sp = &tl->spans[i];
    uint64_t depth = sp->depth < 0xffff ? sp->depth : 0xffff;

    if (sp->unfinished && !last)
      continue;
    if ((i & 255) == 0)
      over_limit(w);
    if (w->full) {
      w->dropped_events += 2 + sp->nfields;
      continue;
    }
    if (sp->end_tid != sp->tid) {
      flows[i] = ++w->flows;
      cpd_pfs_describe_child(w, UUID_MOVED(flows[i]), UUID_PROCESS(s->pid), cpd_pfs_session_name(s, sp->name_id),
                     -1, 2000000);
    }
    /* At one time ends go before begins (the outer begin first, the inner end first), but a
     * slice of no length keeps its end right after its begin. */
    seq += 2;
    rc = add_item(&it, &nit, &cap, sp->begin, 1ull << 62 | depth << 40 | seq, i, IT_BEGIN);
    if (rc == 0)
      rc = add_item(&it, &nit, &cap, sp->end,
                    sp->end == sp->begin ? 1ull << 62 | depth << 40 | (seq + 1)
                                         : (0xffffull - depth) << 40 | seq, i, IT_END);
    w->spans++;
  }
  if (over_limit(w)) {
    w->dropped_events += tl->ninstants + tl->ncounters;
    w->dropped_samples += n + noff;
  } else {
    for (size_t i = 0; i < tl->ninstants && rc == 0; i++)
      rc = add_item(&it, &nit, &cap, tl->instants[i].ts, 2ull << 62 | ++seq, i, IT_INSTANT);
    for (size_t i = 0; i < tl->ncounters && rc == 0; i++) {
      const struct cpd_mark *m = &tl->counters[i];

      if (cpd_pfs_first_time(&w->counters, &w->counters_cap, m->name_id) == 1)
        cpd_pfs_describe_child(w, UUID_COUNTER(s->pid, m->name_id), UUID_PROCESS(s->pid),
                       cpd_pfs_session_name(s, m->name_id), 0, 1000000);
      rc = add_item(&it, &nit, &cap, m->ts, 2ull << 62 | ++seq, i, IT_COUNTER);
    }
    for (size_t i = 0; p && i < n && rc == 0; i++)
      rc = add_item(&it, &nit, &cap, smps[i].time, 2ull << 62 | ++seq, i, IT_SAMPLE);
    for (size_t i = 0; p && i < noff && rc == 0; i++) {
      cpd_pfs_describe_child(w, UUID_OFFCPU(cpd_profile_pid_of(p, off[i].tid), off[i].tid),
                     cpd_pfs_thread_track(w, s, off[i].tid), "off-CPU", -1, 0);
      rc = add_item(&it, &nit, &cap, off[i].time, 2ull << 62 | ++seq, i, IT_OFF);
    }
    /* Each thread's states beside it, from where its lane stopped in the segment before. */
    for (size_t i = 0; p && p->switches && i < s->nthreads; i++) {
      size_t from = states.n;

      states.tid = s->threads[i].tid;
      cpd_sched_slices(&p->sched, states.tid, cpd_trace_samples_lane_from(ts, states.tid), end_ns,
                       collect_state, &states);
      if (states.n > from)
        cpd_pfs_describe_child(w, UUID_STATE(states.tid), cpd_pfs_thread_track(w, s, states.tid), "state", -1, -1);
    }
    for (size_t i = 0; i < states.n && rc == 0; i++) {
      rc = add_item(&it, &nit, &cap, states.v[i].from, 1ull << 62 | ++seq, i, IT_STATE_BEGIN);
      if (rc == 0)
        rc = add_item(&it, &nit, &cap, states.v[i].to, 0xffffull << 40 | ++seq, i, IT_STATE_END);
    }
    for (size_t i = 0; p && i < p->rss.n && rc == 0; i++) {
      const struct cpd_rss_rec *r = &p->rss.recs[i];

      if (r->time < begin_ns)
        continue;
      if (r->time > end_ns || (!last && r->time == end_ns))
        break;
      cpd_pfs_describe_child(w, UUID_RSS(s->pid), UUID_PROCESS(s->pid), "rss", 1, 999999);
      rc = add_item(&it, &nit, &cap, r->time, 2ull << 62 | ++seq, i, IT_RSS);
    }
  }
  if (rc == 0)
    rc = sort_items(it, nit);
  for (size_t i = 0; i < nit && rc == 0; i++) {
    const struct pf_item *x = &it[i];

    switch (x->kind) {
    case IT_BEGIN:
      span_begin(w, s, tl, ts, &tl->spans[x->idx], flows[x->idx]);
      break;
    case IT_STATE_BEGIN:
    case IT_STATE_END:
      write_state(w, &states.v[x->idx], x->kind == IT_STATE_BEGIN);
      break;
    case IT_END:
      span_end(w, s, &tl->spans[x->idx], flows[x->idx]);
      break;
    case IT_INSTANT:
      write_instant(w, s, &tl->instants[x->idx]);
      break;
    case IT_COUNTER:
      write_counter(w, s, &tl->counters[x->idx]);
      break;
    case IT_SAMPLE:
      write_sample(w, s, p, &smps[x->idx], 0);
      break;
    case IT_OFF:
      write_sample(w, s, p, &off[x->idx], 1);
      break;
    case IT_RSS:
      write_rss(w, s, &p->rss.recs[x->idx]);
      break;
    }
  }
  if (rc < 0 && !w->rc)
    w->rc = rc;
  free(it);
  free(flows);
  free(states.v);
  if (ferror(w->out.f) && !w->rc)
    w->rc = errno ? -errno : -EIO;
}

int cpd_pf_open(struct cpd_pf_out *w, const char *path, uint64_t limit_bytes)
{
  int rc;

  memset(w, 0, sizeof(*w));
  w->limit = limit_bytes;
  if ((rc = cpd_outstream_open(&w->out, path)) < 0)
    return rc;
  if (!(w->in = malloc(sizeof(*w->in))))
    return cpd_outstream_close(&w->out, -ENOMEM);
  return 0;
}

static void pf_free(struct cpd_pf_out *w)
{
  free(w->names);
  free(w->annos);
  free(w->locs);
  free(w->maps);
  free(w->stacks);
  free(w->counters);
  free(w->tracks);
  free(w->buf);
  free(w->in);
}

int cpd_pf_close(struct cpd_pf_out *w, const struct cpd_session *s)
{
  /* The threads as they were last named (a worker registered after its first event). */
  for (size_t i = 0; w->out.f && i < s->nthreads; i++)
    cpd_pfs_describe_thread(w, s, &s->threads[i], 1);
  pf_free(w);
  return cpd_outstream_close(&w->out, w->rc);
}

void cpd_pf_discard(struct cpd_pf_out *w)
{
  if (!w->out.f)
    return;
  pf_free(w);
  cpd_outstream_close(&w->out, -ECANCELED);
}
