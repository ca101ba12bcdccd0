/* perfetto_writer.c: PREFIX.pftrace, a stream of Perfetto TracePackets on one sequence. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "model/thread_state.h"
#include "output/perfetto_writer.h"
#include "perfetto.pb-c.h"

typedef Perfetto__Protos__TracePacket pf_packet;
typedef Perfetto__Protos__TrackEvent pf_event;
typedef Perfetto__Protos__InternedData pf_interned;

#define SEQ_ID 1u                      /* this file's one trusted_packet_sequence_id */
#define FLAG_CLEARED PERFETTO__PROTOS__TRACE_PACKET__SEQUENCE_FLAGS__SEQ_INCREMENTAL_STATE_CLEARED
#define FLAG_NEEDS PERFETTO__PROTOS__TRACE_PACKET__SEQUENCE_FLAGS__SEQ_NEEDS_INCREMENTAL_STATE

/* Track uuids, small (each event names its track): a thread's is its tid, the other kinds
 * lie above 2^22 (tids and pids are below it). */
#define UUID_THREAD(pid, tid) ((void)(pid), (uint64_t)(tid))
#define UUID_PROCESS(pid) ((1ull << 22) | (uint64_t)(pid))
#define UUID_OFFCPU(pid, tid) ((2ull << 22) | (uint64_t)(tid))
#define UUID_RSS(pid) ((3ull << 22) | (uint64_t)(pid))
#define UUID_COUNTER(pid, name) ((1ull << 40) | (uint64_t)(pid) << 17 | (uint64_t)(name))
#define UUID_MOVED(flow) ((2ull << 40) | (uint64_t)(flow))
#define UUID_STATE(tid) ((4ull << 22) | (uint64_t)(tid))
#define CLOCK_INCREMENTAL 64u  /* this sequence's own clock: deltas */
#define PF_CLOCK_MONOTONIC 3u  /* BUILTIN_CLOCK_MONOTONIC: the clock ceoprof stamps everything with */

/* Names that are not the clients': event names and annotation names past their ids. */
enum { FIXED_CPU = 1, FIXED_OFF, FIXED_TASK_ID, FIXED_ENDED_ON, FIXED_BEGAN_ON, FIXED_CPU_NS,
       FIXED_BLOCKED_NS, FIXED_DELAY_NS, FIXED_SWITCHES, FIXED_RSS, FIXED_RUNNING, FIXED_RUNNABLE,
       FIXED_BLOCKED, FIXED_N };
#define FIXED_IID(k) ((uint64_t)(k))          /* the clients' names follow them */
#define NAME_IID(id) ((uint64_t)(id) + FIXED_N)
static const char *const fixed_names[FIXED_N] = {
  [FIXED_CPU] = "cpu sample", [FIXED_OFF] = "off-CPU sample", [FIXED_TASK_ID] = "task_id",
  [FIXED_ENDED_ON] = "ended_on_tid", [FIXED_BEGAN_ON] = "began_on_tid",
  [FIXED_CPU_NS] = "cpu_ns", [FIXED_BLOCKED_NS] = "blocked_ns", [FIXED_DELAY_NS] = "sched_delay_ns",
  [FIXED_SWITCHES] = "switches", [FIXED_RSS] = "rss_delta_bytes", [FIXED_RUNNING] = "running",
  [FIXED_RUNNABLE] = "runnable", [FIXED_BLOCKED] = "blocked",
};

#define PF_MAX_FRAMES 256  /* locations per stack, inlined frames included */

/* The interned entries one packet carries (the writer's scratch: large, reused). */
struct interned {
  pf_interned d;
  Perfetto__Protos__EventName names[8], *namep[8];
  Perfetto__Protos__DebugAnnotationName annos[40], *annop[40];
  Perfetto__Protos__InternedString funcs[PF_MAX_FRAMES], *funcp[PF_MAX_FRAMES];
  Perfetto__Protos__Frame frames[PF_MAX_FRAMES], *framep[PF_MAX_FRAMES];
  Perfetto__Protos__Callstack stack, *stackp;
  uint64_t frame_ids[PF_MAX_FRAMES];
  Perfetto__Protos__InternedString bids[PF_MAX_FRAMES], *bidp[PF_MAX_FRAMES];
  Perfetto__Protos__InternedString paths[PF_MAX_FRAMES], *pathp[PF_MAX_FRAMES];
  Perfetto__Protos__Mapping maps[PF_MAX_FRAMES], *mapp[PF_MAX_FRAMES];
  uint64_t path_ids[PF_MAX_FRAMES];
};

static void interned_init(struct interned *in)
{
  perfetto__protos__interned_data__init(&in->d);
  in->d.event_names = in->namep;
  in->d.debug_annotation_names = in->annop;
  in->d.function_names = in->funcp;
  in->d.frames = in->framep;
  in->d.callstacks = &in->stackp;
  in->d.build_ids = in->bidp;
  in->d.mapping_paths = in->pathp;
  in->d.mappings = in->mapp;
}

static int interned_any(const struct interned *in)
{
  const pf_interned *d = &in->d;

  return d->n_event_names || d->n_debug_annotation_names || d->n_function_names ||
         d->n_frames || d->n_callstacks || d->n_build_ids || d->n_mapping_paths || d->n_mappings;
}

/* Marks index I sent in *FLAGS (grown as needed); 1 when it was not sent before. */
static int first_time(uint8_t **flags, size_t *cap, size_t i)
{
  if (i >= *cap) {
    size_t c = *cap ? *cap : 256;
    uint8_t *p;

    while (c <= i)
      c *= 2;
    if (!(p = realloc(*flags, c)))
      return -1;
    memset(p + *cap, 0, c - *cap);
    *flags = p;
    *cap = c;
  }
  if ((*flags)[i])
    return 0;
  (*flags)[i] = 1;
  return 1;
}

static void write_varint(FILE *f, uint64_t v)
{
  while (v >= 0x80) {
    putc((int)(v & 0x7f) | 0x80, f);
    v >>= 7;
  }
  putc((int)v, f);
}

/* Writes P as the next Trace.packet (field 1, length-delimited). */
static void emit(struct cpd_pf_out *w, pf_packet *p)
{
  size_t n;

  p->has_trusted_packet_sequence_id = 1;
  p->trusted_packet_sequence_id = SEQ_ID;
  p->has_sequence_flags = 1;
  p->sequence_flags = w->cleared ? FLAG_NEEDS : FLAG_CLEARED | FLAG_NEEDS;
  w->cleared = 1;
  n = perfetto__protos__trace_packet__get_packed_size(p);
  if (n > w->buf_cap) {
    uint8_t *b = realloc(w->buf, n);

    if (!b) {
      if (!w->rc)
        w->rc = -ENOMEM;
      return;
    }
    w->buf = b;
    w->buf_cap = n;
  }
  perfetto__protos__trace_packet__pack(p, w->buf);
  putc(0x0a, w->f);
  write_varint(w->f, n);
  fwrite(w->buf, 1, n, w->f);
}

/* The sequence's first packet: its clock, whose timestamps are deltas, beside
 * PF_CLOCK_MONOTONIC (the trace's clock, the one ceoprof stamps everything with). */
static void emit_clock(struct cpd_pf_out *w, uint64_t t0)
{
  pf_packet p = PERFETTO__PROTOS__TRACE_PACKET__INIT;
  Perfetto__Protos__ClockSnapshot cs = PERFETTO__PROTOS__CLOCK_SNAPSHOT__INIT;
  Perfetto__Protos__ClockSnapshot__Clock c[2], *cp[2] = { &c[0], &c[1] };
  Perfetto__Protos__TracePacketDefaults def = PERFETTO__PROTOS__TRACE_PACKET_DEFAULTS__INIT;

  for (int i = 0; i < 2; i++) {
    perfetto__protos__clock_snapshot__clock__init(&c[i]);
    c[i].has_clock_id = c[i].has_timestamp = 1;
    c[i].timestamp = t0;
  }
  c[0].clock_id = CLOCK_INCREMENTAL;
  c[0].has_is_incremental = c[0].is_incremental = 1;
  c[1].clock_id = PF_CLOCK_MONOTONIC;
  cs.n_clocks = 2;
  cs.clocks = cp;
  cs.has_primary_trace_clock = 1;
  cs.primary_trace_clock = PF_CLOCK_MONOTONIC;
  def.has_timestamp_clock_id = 1;
  def.timestamp_clock_id = CLOCK_INCREMENTAL;
  p.clock_snapshot = &cs;
  p.trace_packet_defaults = &def;
  emit(w, &p);
  w->last_ts = t0;
}

static void emit_event(struct cpd_pf_out *w, struct interned *in, uint64_t ts, pf_event *ev)
{
  pf_packet p = PERFETTO__PROTOS__TRACE_PACKET__INIT;

  p.has_timestamp = 1;
  if (ts >= w->last_ts) {
    p.timestamp = ts - w->last_ts;  /* on the sequence's incremental clock */
    w->last_ts = ts;
  } else {
    /* Before the packet ahead of it (a task carried from an earlier segment): absolute. */
    p.timestamp = ts;
    p.has_timestamp_clock_id = 1;
    p.timestamp_clock_id = PF_CLOCK_MONOTONIC;
  }
  p.track_event = ev;
  if (in && interned_any(in))
    p.interned_data = &in->d;
  emit(w, &p);
}

static void emit_track(struct cpd_pf_out *w, Perfetto__Protos__TrackDescriptor *td)
{
  pf_packet p = PERFETTO__PROTOS__TRACE_PACKET__INIT;

  p.track_descriptor = td;
  emit(w, &p);
}

/* ---- names ---- */

static const char *session_name(const struct cpd_session *s, uint32_t id)
{
  const char *n = cpd_session_string(s, id);

  return n ? n : "?";
}

/* The event name of session string ID (interned with the packet when new). */
static uint64_t event_name(struct cpd_pf_out *w, struct interned *in, const struct cpd_session *s,
                           uint32_t id)
{
  if (first_time(&w->names, &w->names_cap, id) == 1 && in->d.n_event_names < 8) {
    Perfetto__Protos__EventName *e = &in->names[in->d.n_event_names];

    perfetto__protos__event_name__init(e);
    e->has_iid = 1;
    e->iid = NAME_IID(id);
    e->name = (char *)session_name(s, id);
    in->namep[in->d.n_event_names++] = e;
  }
  return NAME_IID(id);
}

static uint64_t fixed_name(struct cpd_pf_out *w, struct interned *in, int k, int as_event)
{
  if (!(w->fixed_sent & (1u << k))) {
    w->fixed_sent |= 1u << k;
    if (as_event) {
      Perfetto__Protos__EventName *e = &in->names[in->d.n_event_names];

      perfetto__protos__event_name__init(e);
      e->has_iid = 1;
      e->iid = FIXED_IID(k);
      e->name = (char *)fixed_names[k];
      in->namep[in->d.n_event_names++] = e;
    } else {
      Perfetto__Protos__DebugAnnotationName *a = &in->annos[in->d.n_debug_annotation_names];

      perfetto__protos__debug_annotation_name__init(a);
      a->has_iid = 1;
      a->iid = FIXED_IID(k);
      a->name = (char *)fixed_names[k];
      in->annop[in->d.n_debug_annotation_names++] = a;
    }
  }
  return FIXED_IID(k);
}

static uint64_t anno_name(struct cpd_pf_out *w, struct interned *in, const struct cpd_session *s,
                          uint32_t id)
{
  if (first_time(&w->annos, &w->annos_cap, id) == 1 && in->d.n_debug_annotation_names < 40) {
    Perfetto__Protos__DebugAnnotationName *a = &in->annos[in->d.n_debug_annotation_names];

    perfetto__protos__debug_annotation_name__init(a);
    a->has_iid = 1;
    a->iid = NAME_IID(id);
    a->name = (char *)session_name(s, id);
    in->annop[in->d.n_debug_annotation_names++] = a;
  }
  return NAME_IID(id);
}

/* ---- tracks ---- */

static int u64_before(const void *elem, const void *key)
{
  return *(const uint64_t *)elem < *(const uint64_t *)key;
}

/* Whether UUID was described; if not, notes it as described now. */
static int described(struct cpd_pf_out *w, uint64_t uuid)
{
  size_t lo = cp_lower_bound(w->tracks, w->ntracks, sizeof(*w->tracks), &uuid, u64_before);

  if (lo < w->ntracks && w->tracks[lo] == uuid)
    return 1;
  if (cpd_grow(&w->tracks, &w->tracks_cap, w->ntracks, sizeof(*w->tracks)) < 0)
    return 0;  /* described again next time */
  memmove(w->tracks + lo + 1, w->tracks + lo, (w->ntracks - lo) * sizeof(*w->tracks));
  w->tracks[lo] = uuid;
  w->ntracks++;
  return 0;
}

static uint32_t thread_pid(const struct cpd_session *s, const struct cpd_thread *t)
{
  return t->pid ? t->pid : s->pid;
}

static void describe_process(struct cpd_pf_out *w, uint32_t pid, const char *name)
{
  Perfetto__Protos__TrackDescriptor td = PERFETTO__PROTOS__TRACK_DESCRIPTOR__INIT;
  Perfetto__Protos__ProcessDescriptor pd = PERFETTO__PROTOS__PROCESS_DESCRIPTOR__INIT;

  td.has_uuid = 1;
  td.uuid = UUID_PROCESS(pid);
  td.has_child_ordering = 1;
  td.child_ordering = PERFETTO__PROTOS__TRACK_DESCRIPTOR__CHILD_TRACKS_ORDERING__EXPLICIT;
  pd.has_pid = 1;
  pd.pid = (int32_t)pid;
  pd.process_name = (char *)name;
  td.process = &pd;
  emit_track(w, &td);
}

/* Thread T's track: named after its worker (else its comm), workers first in id order. */
static void describe_thread(struct cpd_pf_out *w, const struct cpd_session *s,
                            const struct cpd_thread *t, int again)
{
  Perfetto__Protos__TrackDescriptor td = PERFETTO__PROTOS__TRACK_DESCRIPTOR__INIT;
  Perfetto__Protos__ThreadDescriptor th = PERFETTO__PROTOS__THREAD_DESCRIPTOR__INIT;
  uint32_t pid = thread_pid(s, t);
  uint64_t uuid = UUID_THREAD(pid, t->tid);

  if (described(w, uuid) && !again)
    return;
  if (!described(w, UUID_PROCESS(pid)) || again)
    describe_process(w, pid, pid == s->pid ? s->service : t->comm);
  td.has_uuid = 1;
  td.uuid = uuid;
  td.has_parent_uuid = 1;
  td.parent_uuid = UUID_PROCESS(pid);
  td.has_sibling_order_rank = 1;
  td.sibling_order_rank = t->worker_id >= 0 ? (int32_t)t->worker_id : 1000000 + (int32_t)(t->tid % 1000000);
  th.has_pid = 1;
  th.pid = (int32_t)pid;
  th.has_tid = 1;
  th.tid = t->tid;
  th.thread_name = t->worker_name ? t->worker_name : (char *)t->comm;
  td.thread = &th;
  emit_track(w, &td);
}

static void describe_child(struct cpd_pf_out *w, uint64_t uuid, uint64_t parent, const char *name,
                           int counter_bytes, int rank)
{
  Perfetto__Protos__TrackDescriptor td = PERFETTO__PROTOS__TRACK_DESCRIPTOR__INIT;
  Perfetto__Protos__CounterDescriptor cd = PERFETTO__PROTOS__COUNTER_DESCRIPTOR__INIT;

  if (described(w, uuid))
    return;
  td.has_uuid = 1;
  td.uuid = uuid;
  td.has_parent_uuid = 1;
  td.parent_uuid = parent;
  td.name = (char *)name;
  td.has_sibling_order_rank = 1;
  td.sibling_order_rank = rank;
  if (counter_bytes >= 0) {
    cd.has_unit = counter_bytes;
    cd.unit = PERFETTO__PROTOS__COUNTER_DESCRIPTOR__UNIT__UNIT_SIZE_BYTES;
    td.counter = &cd;
  }
  emit_track(w, &td);
}

static uint64_t thread_track(struct cpd_pf_out *w, const struct cpd_session *s, uint32_t tid)
{
  const struct cpd_thread *t = cpd_session_find_thread(s, tid);

  if (!t)
    return UUID_THREAD(s->pid, tid);
  describe_thread(w, s, t, 0);
  return UUID_THREAD(thread_pid(s, t), tid);
}

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
  uint64_t track = thread_track(w, s, sp->tid);

  interned_init(in);
  b.has_type = 1;
  b.type = PERFETTO__PROTOS__TRACK_EVENT__TYPE__TYPE_SLICE_BEGIN;
  b.has_name_iid = 1;
  b.name_iid = event_name(w, in, s, sp->name_id);
  if (sp->task_id)
    add_int(ann, annp, &na, fixed_name(w, in, FIXED_TASK_ID, 0), (int64_t)sp->task_id);
  for (uint32_t i = 0; i < sp->nfields && na < 32; i++) {
    const struct cpd_field *fl = &tl->fields[sp->first_field + i];

    add_int(ann, annp, &na, anno_name(w, in, s, fl->key), fl->value);
  }
  if (ts && !flow) {
    /* Its wall time split by its thread's states, as in the JSON trace's args. */
    struct cpd_sched_times t;
    int64_t rss;
    int known = cpd_trace_samples_split(ts, sp, &t, &rss);

    if (known & CPD_SPLIT_TIMES) {
      add_int(ann, annp, &na, fixed_name(w, in, FIXED_CPU_NS, 0), (int64_t)t.cpu_ns);
      add_int(ann, annp, &na, fixed_name(w, in, FIXED_BLOCKED_NS, 0), (int64_t)t.blocked_ns);
      add_int(ann, annp, &na, fixed_name(w, in, FIXED_DELAY_NS, 0), (int64_t)t.delay_ns);
      add_int(ann, annp, &na, fixed_name(w, in, FIXED_SWITCHES, 0), t.switches);
    }
    if (known & CPD_SPLIT_RSS)
      add_int(ann, annp, &na, fixed_name(w, in, FIXED_RSS, 0), rss);
  }
  if (flow) {
    pf_event mark = PERFETTO__PROTOS__TRACK_EVENT__INIT;

    add_int(ann, annp, &na, fixed_name(w, in, FIXED_ENDED_ON, 0), sp->end_tid);
    mark.has_type = 1;
    mark.type = PERFETTO__PROTOS__TRACK_EVENT__TYPE__TYPE_INSTANT;
    mark.has_track_uuid = 1;
    mark.track_uuid = track;
    mark.has_name_iid = 1;
    mark.name_iid = b.name_iid;
    mark.n_flow_ids = 1;
    mark.flow_ids = &flow;
    emit_event(w, in, sp->begin, &mark);
    interned_init(in);
    track = UUID_MOVED(flow);
  }
  b.has_track_uuid = 1;
  b.track_uuid = track;
  b.n_debug_annotations = na;
  b.debug_annotations = annp;
  emit_event(w, in, sp->begin, &b);
}

static void span_end(struct cpd_pf_out *w, const struct cpd_session *s, const struct cpd_span *sp,
                     uint64_t flow)
{
  pf_event e = PERFETTO__PROTOS__TRACK_EVENT__INIT;

  e.has_type = 1;
  e.type = PERFETTO__PROTOS__TRACK_EVENT__TYPE__TYPE_SLICE_END;
  e.has_track_uuid = 1;
  e.track_uuid = flow ? UUID_MOVED(flow) : thread_track(w, s, sp->tid);
  emit_event(w, NULL, sp->end, &e);
  if (flow) {  /* where it ended: the flow's end */
    pf_event mark = PERFETTO__PROTOS__TRACK_EVENT__INIT;

    interned_init(w->in);
    mark.has_type = 1;
    mark.type = PERFETTO__PROTOS__TRACK_EVENT__TYPE__TYPE_INSTANT;
    mark.has_track_uuid = 1;
    mark.track_uuid = thread_track(w, s, sp->end_tid);
    mark.has_name_iid = 1;
    mark.name_iid = event_name(w, w->in, s, sp->name_id);
    mark.n_terminating_flow_ids = 1;
    mark.terminating_flow_ids = &flow;
    emit_event(w, w->in, sp->end, &mark);
  }
}

static void write_instant(struct cpd_pf_out *w, const struct cpd_session *s,
                          const struct cpd_mark *m)
{
  pf_event ev = PERFETTO__PROTOS__TRACK_EVENT__INIT;
  struct interned *in = w->in;

  interned_init(in);
  ev.has_type = 1;
  ev.type = PERFETTO__PROTOS__TRACK_EVENT__TYPE__TYPE_INSTANT;
  ev.has_track_uuid = 1;
  ev.track_uuid = thread_track(w, s, m->tid);
  ev.has_name_iid = 1;
  ev.name_iid = event_name(w, in, s, m->name_id);
  emit_event(w, in, m->ts, &ev);
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
  emit_event(w, NULL, m->ts, &ev);
}

/* ---- samples ---- */

/* Interns the callstack of stack STK (its frames, their functions and mappings, each once
 * on the sequence). Returns its iid. */
static uint64_t callstack(struct cpd_pf_out *w, struct interned *in, const struct cpd_profile *p,
                          uint32_t stk)
{
  const struct cpd_stack *st = &p->stacks[stk];
  uint32_t len = st->len < PF_MAX_FRAMES ? st->len : PF_MAX_FRAMES;

  if (first_time(&w->stacks, &w->stacks_cap, stk) != 1)
    return (uint64_t)stk + 1;
  for (uint32_t k = 0; k < len; k++) {
    uint32_t loc = p->frames[st->off + len - 1 - k] - 1;  /* outermost first */
    const struct cpd_location *l = &p->locs[loc];

    in->frame_ids[k] = (uint64_t)loc + 1;
    if (first_time(&w->locs, &w->locs_cap, loc) == 1) {
      Perfetto__Protos__InternedString *fn = &in->funcs[in->d.n_function_names];
      Perfetto__Protos__Frame *fr = &in->frames[in->d.n_frames];
      const char *name = cpd_profile_loc_name(p, loc);

      perfetto__protos__interned_string__init(fn);
      fn->has_iid = 1;
      fn->iid = (uint64_t)loc + 1;
      fn->has_str = 1;
      fn->str.data = (uint8_t *)(name ? name : "[unknown]");
      fn->str.len = strlen((const char *)fn->str.data);
      in->funcp[in->d.n_function_names++] = fn;
      perfetto__protos__frame__init(fr);
      fr->has_iid = 1;
      fr->iid = (uint64_t)loc + 1;
      fr->has_function_name_id = 1;
      fr->function_name_id = (uint64_t)loc + 1;
      if (l->mapping) {
        const struct cpd_mapping *m = &p->mappings[l->mapping - 1];

        fr->has_mapping_id = 1;
        fr->mapping_id = l->mapping;
        fr->has_rel_pc = 1;
        fr->rel_pc = l->address >= m->start ? l->address - m->start + m->pgoff : l->address;
        if (first_time(&w->maps, &w->maps_cap, l->mapping - 1) == 1) {
          size_t i = in->d.n_mappings;
          Perfetto__Protos__Mapping *mp = &in->maps[i];
          Perfetto__Protos__InternedString *path = &in->paths[in->d.n_mapping_paths];

          perfetto__protos__mapping__init(mp);
          mp->has_iid = 1;
          mp->iid = l->mapping;
          mp->has_start = mp->has_end = mp->has_exact_offset = 1;
          mp->start = m->start;
          mp->end = m->end;
          mp->exact_offset = m->pgoff;
          perfetto__protos__interned_string__init(path);
          path->has_iid = path->has_str = 1;
          path->iid = l->mapping;
          path->str.data = (uint8_t *)(m->path ? m->path : "[unknown]");
          path->str.len = strlen((const char *)path->str.data);
          in->pathp[in->d.n_mapping_paths++] = path;
          in->path_ids[i] = l->mapping;
          mp->n_path_string_ids = 1;
          mp->path_string_ids = &in->path_ids[i];
          if (m->dso && m->dso->build_id[0]) {
            Perfetto__Protos__InternedString *bid = &in->bids[in->d.n_build_ids];

            perfetto__protos__interned_string__init(bid);
            bid->has_iid = bid->has_str = 1;
            bid->iid = l->mapping;
            bid->str.data = (uint8_t *)m->dso->build_id;
            bid->str.len = strlen(m->dso->build_id);
            in->bidp[in->d.n_build_ids++] = bid;
            mp->has_build_id = 1;
            mp->build_id = l->mapping;
          }
          in->mapp[in->d.n_mappings++] = mp;
        }
      }
      in->framep[in->d.n_frames++] = fr;
    }
  }
  perfetto__protos__callstack__init(&in->stack);
  in->stack.has_iid = 1;
  in->stack.iid = (uint64_t)stk + 1;
  in->stack.n_frame_ids = len;
  in->stack.frame_ids = in->frame_ids;
  in->stackp = &in->stack;
  in->d.n_callstacks = 1;
  return (uint64_t)stk + 1;
}

static void write_sample(struct cpd_pf_out *w, const struct cpd_session *s,
                         const struct cpd_profile *p, const struct cpd_psample *smp, int off)
{
  pf_event ev = PERFETTO__PROTOS__TRACK_EVENT__INIT;
  struct interned *in = w->in;

  interned_init(in);
  ev.has_type = 1;
  ev.type = PERFETTO__PROTOS__TRACK_EVENT__TYPE__TYPE_INSTANT;
  ev.has_track_uuid = 1;
  /* Off-CPU samples on a track of their own under the thread: their weight is time
   * blocked, not CPU, and must not mix with the CPU samples' in one flame graph. */
  ev.track_uuid = off ? UUID_OFFCPU(cpd_profile_pid_of(p, smp->tid), smp->tid)
                      : thread_track(w, s, smp->tid);
  ev.has_name_iid = 1;
  ev.name_iid = fixed_name(w, in, off ? FIXED_OFF : FIXED_CPU, 1);
  ev.has_callstack_iid = 1;
  ev.callstack_iid = callstack(w, in, p, smp->stack);
  ev.has_callstack_weight = 1;
  ev.callstack_weight = (double)smp->period;
  emit_event(w, in, smp->time, &ev);
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
  emit_event(w, NULL, r->time, &ev);
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

  interned_init(in);
  ev.has_type = 1;
  ev.has_track_uuid = 1;
  ev.track_uuid = UUID_STATE(st->tid);
  if (begin) {
    ev.type = PERFETTO__PROTOS__TRACK_EVENT__TYPE__TYPE_SLICE_BEGIN;
    ev.has_name_iid = 1;
    ev.name_iid = fixed_name(w, in, names[st->state], 1);
    emit_event(w, in, st->from, &ev);
  } else {
    ev.type = PERFETTO__PROTOS__TRACK_EVENT__TYPE__TYPE_SLICE_END;
    emit_event(w, NULL, st->to, &ev);
  }
}

/* ---- the file ---- */

static int over_limit(struct cpd_pf_out *w)
{
  return cpd_outfile_full(w->f, w->o.path, w->limit, &w->full);
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

  if (!w->f)
    return;
  if (!w->cleared)
    emit_clock(w, begin_ns);
  /* Every track first: events may only name tracks described before them. */
  for (size_t i = 0; i < s->nthreads; i++)
    describe_thread(w, s, &s->threads[i], 0);
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
      describe_child(w, UUID_MOVED(flows[i]), UUID_PROCESS(s->pid), session_name(s, sp->name_id),
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

      if (first_time(&w->counters, &w->counters_cap, m->name_id) == 1)
        describe_child(w, UUID_COUNTER(s->pid, m->name_id), UUID_PROCESS(s->pid),
                       session_name(s, m->name_id), 0, 1000000);
      rc = add_item(&it, &nit, &cap, m->ts, 2ull << 62 | ++seq, i, IT_COUNTER);
    }
    for (size_t i = 0; p && i < n && rc == 0; i++)
      rc = add_item(&it, &nit, &cap, smps[i].time, 2ull << 62 | ++seq, i, IT_SAMPLE);
    for (size_t i = 0; p && i < noff && rc == 0; i++) {
      describe_child(w, UUID_OFFCPU(cpd_profile_pid_of(p, off[i].tid), off[i].tid),
                     thread_track(w, s, off[i].tid), "off-CPU", -1, 0);
      rc = add_item(&it, &nit, &cap, off[i].time, 2ull << 62 | ++seq, i, IT_OFF);
    }
    /* Each thread's states beside it: a segment that is not the last draws a thread's last
     * state up to its end, where the next one goes on. */
    for (size_t i = 0; p && p->switches && i < s->nthreads; i++) {
      size_t from = states.n;

      states.tid = s->threads[i].tid;
      cpd_sched_slices(&p->sched, states.tid, begin_ns, end_ns, !last, collect_state, &states);
      if (states.n > from)
        describe_child(w, UUID_STATE(states.tid), thread_track(w, s, states.tid), "state", -1, -1);
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
      describe_child(w, UUID_RSS(s->pid), UUID_PROCESS(s->pid), "rss", 1, 999999);
      rc = add_item(&it, &nit, &cap, r->time, 2ull << 62 | ++seq, i, IT_RSS);
    }
  }
  if (rc == 0)
    cpd_qsort(it, nit, sizeof(*it), cmp_items);
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
  if (ferror(w->f) && !w->rc)
    w->rc = errno ? -errno : -EIO;
}

#define PF_BUF (1u << 20)

int cpd_pf_open(struct cpd_pf_out *w, const char *path, uint64_t limit_bytes)
{
  int rc;

  memset(w, 0, sizeof(*w));
  w->limit = limit_bytes;
  rc = cpd_outfile_open(&w->o, path);
  if (rc < 0)
    return cpd_outfile_close(&w->o, rc);
  w->f = fdopen(w->o.fd, "w");
  if (!w->f)
    return cpd_outfile_close(&w->o, -errno);
  setvbuf(w->f, NULL, _IOFBF, PF_BUF);
  if (!(w->in = malloc(sizeof(*w->in)))) {
    fclose(w->f);
    w->f = NULL;
    w->o.fd = -1;
    return cpd_outfile_close(&w->o, -ENOMEM);
  }
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

int cpd_pf_close(struct cpd_pf_out *w, const struct cpd_session *s, const struct cpd_profile *p)
{
  int rc = w->rc;

  (void)p;
  if (!w->f)
    return rc ? rc : -EBADF;
  /* The threads as they were last named (a worker registered after its first event). */
  for (size_t i = 0; i < s->nthreads; i++)
    describe_thread(w, s, &s->threads[i], 1);
  if ((fflush(w->f) != 0 || ferror(w->f) || fsync(w->o.fd) != 0) && rc == 0)
    rc = errno ? -errno : -EIO;
  if (fclose(w->f) != 0 && rc == 0)
    rc = -errno;
  w->f = NULL;
  w->o.fd = -1;
  pf_free(w);
  return cpd_outfile_close(&w->o, rc);
}

void cpd_pf_discard(struct cpd_pf_out *w)
{
  if (!w->f)
    return;
  fclose(w->f);
  w->f = NULL;
  w->o.fd = -1;
  pf_free(w);
  cpd_outfile_close(&w->o, -ECANCELED);
}
