/* perfetto_seq.c: a .pftrace's packet sequence: framing, timestamps, interning, tracks. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hindex.h"
#include "output/perfetto_seq.h"
#include "util.h"

#define SEQ_ID 1u                      /* this file's one trusted_packet_sequence_id */
#define FLAG_CLEARED PERFETTO__PROTOS__TRACE_PACKET__SEQUENCE_FLAGS__SEQ_INCREMENTAL_STATE_CLEARED
#define FLAG_NEEDS PERFETTO__PROTOS__TRACE_PACKET__SEQUENCE_FLAGS__SEQ_NEEDS_INCREMENTAL_STATE

static const char *const fixed_names[FIXED_N] = {
  [FIXED_CPU] = "cpu sample", [FIXED_OFF] = "off-CPU sample", [FIXED_TASK_ID] = "task_id",
  [FIXED_ENDED_ON] = "ended_on_tid",
  [FIXED_CPU_NS] = "cpu_ns", [FIXED_BLOCKED_NS] = "blocked_ns", [FIXED_DELAY_NS] = "sched_delay_ns",
  [FIXED_SWITCHES] = "switches", [FIXED_RSS] = "rss_delta_bytes", [FIXED_RUNNING] = "running",
  [FIXED_RUNNABLE] = "runnable", [FIXED_BLOCKED] = "blocked",
};


void cpd_pfs_interned_init(struct interned *in)
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

static int cpd_pfs_interned_any(const struct interned *in)
{
  const pf_interned *d = &in->d;

  return d->n_event_names || d->n_debug_annotation_names || d->n_function_names ||
         d->n_frames || d->n_callstacks || d->n_build_ids || d->n_mapping_paths || d->n_mappings;
}

/* Marks index I sent in *FLAGS (grown as needed); 1 when it was not sent before. */
int cpd_pfs_first_time(uint8_t **flags, size_t *cap, size_t i)
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
static void cpd_pfs_emit(struct cpd_pf_out *w, pf_packet *p)
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
  putc(0x0a, w->out.f);
  write_varint(w->out.f, n);
  fwrite(w->buf, 1, n, w->out.f);
}

/* The sequence's first packet: its clock, whose timestamps are deltas, beside
 * PF_CLOCK_MONOTONIC (the trace's clock, the one ceoprof stamps everything with). */
void cpd_pfs_emit_clock(struct cpd_pf_out *w, uint64_t t0)
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
  cpd_pfs_emit(w, &p);
  w->last_ts = t0;
}

void cpd_pfs_emit_event(struct cpd_pf_out *w, struct interned *in, uint64_t ts, pf_event *ev)
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
  if (in && cpd_pfs_interned_any(in))
    p.interned_data = &in->d;
  cpd_pfs_emit(w, &p);
}

static void cpd_pfs_emit_track(struct cpd_pf_out *w, Perfetto__Protos__TrackDescriptor *td)
{
  pf_packet p = PERFETTO__PROTOS__TRACE_PACKET__INIT;

  p.track_descriptor = td;
  cpd_pfs_emit(w, &p);
}

/* ---- names ---- */

const char *cpd_pfs_session_name(const struct cpd_session *s, uint32_t id)
{
  const char *n = cpd_session_string(s, id);

  return n ? n : "?";
}

/* The event name of session string ID (interned with the packet when new). */
uint64_t cpd_pfs_event_name(struct cpd_pf_out *w, struct interned *in, const struct cpd_session *s,
                           uint32_t id)
{
  if (cpd_pfs_first_time(&w->names, &w->names_cap, id) == 1 && in->d.n_event_names < 8) {
    Perfetto__Protos__EventName *e = &in->names[in->d.n_event_names];

    perfetto__protos__event_name__init(e);
    e->has_iid = 1;
    e->iid = NAME_IID(id);
    e->name = (char *)cpd_pfs_session_name(s, id);
    in->namep[in->d.n_event_names++] = e;
  }
  return NAME_IID(id);
}

uint64_t cpd_pfs_fixed_name(struct cpd_pf_out *w, struct interned *in, int k, int as_event)
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

uint64_t cpd_pfs_anno_name(struct cpd_pf_out *w, struct interned *in, const struct cpd_session *s,
                          uint32_t id)
{
  if (cpd_pfs_first_time(&w->annos, &w->annos_cap, id) == 1 && in->d.n_debug_annotation_names < 40) {
    Perfetto__Protos__DebugAnnotationName *a = &in->annos[in->d.n_debug_annotation_names];

    perfetto__protos__debug_annotation_name__init(a);
    a->has_iid = 1;
    a->iid = NAME_IID(id);
    a->name = (char *)cpd_pfs_session_name(s, id);
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
int cpd_pfs_described(struct cpd_pf_out *w, uint64_t uuid)
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

static uint32_t cpd_pfs_thread_pid(const struct cpd_session *s, const struct cpd_thread *t)
{
  return t->pid ? t->pid : s->pid;
}

void cpd_pfs_describe_process(struct cpd_pf_out *w, uint32_t pid, const char *name)
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
  cpd_pfs_emit_track(w, &td);
}

/* Thread T's track: named after its worker (else its comm), workers first in id order. */
void cpd_pfs_describe_thread(struct cpd_pf_out *w, const struct cpd_session *s,
                            const struct cpd_thread *t, int again)
{
  Perfetto__Protos__TrackDescriptor td = PERFETTO__PROTOS__TRACK_DESCRIPTOR__INIT;
  Perfetto__Protos__ThreadDescriptor th = PERFETTO__PROTOS__THREAD_DESCRIPTOR__INIT;
  uint32_t pid = cpd_pfs_thread_pid(s, t);
  uint64_t uuid = UUID_THREAD(pid, t->tid);

  if (cpd_pfs_described(w, uuid) && !again)
    return;
  if (!cpd_pfs_described(w, UUID_PROCESS(pid)) || again)
    cpd_pfs_describe_process(w, pid, pid == s->pid ? s->service : t->comm);
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
  cpd_pfs_emit_track(w, &td);
}

void cpd_pfs_describe_child(struct cpd_pf_out *w, uint64_t uuid, uint64_t parent, const char *name,
                           int counter_bytes, int rank)
{
  Perfetto__Protos__TrackDescriptor td = PERFETTO__PROTOS__TRACK_DESCRIPTOR__INIT;
  Perfetto__Protos__CounterDescriptor cd = PERFETTO__PROTOS__COUNTER_DESCRIPTOR__INIT;

  if (cpd_pfs_described(w, uuid))
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
  cpd_pfs_emit_track(w, &td);
}

uint64_t cpd_pfs_thread_track(struct cpd_pf_out *w, const struct cpd_session *s, uint32_t tid)
{
  const struct cpd_thread *t = cpd_session_find_thread(s, tid);

  if (!t)
    return UUID_THREAD(s->pid, tid);
  cpd_pfs_describe_thread(w, s, t, 0);
  return UUID_THREAD(cpd_pfs_thread_pid(s, t), tid);
}


/* Interns the callstack of stack STK (its frames, their functions and mappings, each once
 * on the sequence). Returns its iid. */
uint64_t cpd_pfs_callstack(struct cpd_pf_out *w, struct interned *in, const struct cpd_profile *p,
                          uint32_t stk)
{
  const struct cpd_stack *st = &p->stacks[stk];
  uint32_t len = st->len < PF_MAX_FRAMES ? st->len : PF_MAX_FRAMES;

  if (cpd_pfs_first_time(&w->stacks, &w->stacks_cap, stk) != 1)
    return (uint64_t)stk + 1;
  for (uint32_t k = 0; k < len; k++) {
    uint32_t loc = p->frames[st->off + len - 1 - k] - 1;  /* outermost first */
    const struct cpd_location *l = &p->locs[loc];

    in->frame_ids[k] = (uint64_t)loc + 1;
    if (cpd_pfs_first_time(&w->locs, &w->locs_cap, loc) == 1) {
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
        if (cpd_pfs_first_time(&w->maps, &w->maps_cap, l->mapping - 1) == 1) {
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
