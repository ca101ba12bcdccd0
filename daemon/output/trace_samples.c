/*
 * trace_samples.c: each thread's CPU samples as one V8 CPU profile (a "P" Profile event
 * and a ProfileChunk with the call tree, the samples and their time deltas), the form
 * Perfetto draws on the thread's lane. Stacks become a tree per thread: a node per
 * distinct (parent, location).
 */
#include "config.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "hindex.h"
#include "output/jsonw.h"
#include "output/trace_samples.h"
#include "util.h"

static uint64_t node_hash(uint32_t parent, uint32_t loc)
{
  return cp_hash_u64((uint64_t)parent << 32 | loc);
}

static uint64_t node_rehash(const void *ctx, uint32_t idx)
{
  const struct cpd_v8_node *nd = &((const struct cpd_v8_thread *)ctx)->nodes[idx];

  return node_hash(nd->parent, nd->loc);
}

static int node_eq(const void *ctx, uint32_t idx, const void *key)
{
  const struct cpd_v8_node *nd = &((const struct cpd_v8_thread *)ctx)->nodes[idx], *k = key;

  return nd->parent == k->parent && nd->loc == k->loc;
}

/* The id of PARENT's child at LOC, made if new (PARENT when out of memory). */
static uint32_t tree_child(struct cpd_v8_thread *t, uint32_t parent, uint32_t loc)
{
  struct cpd_v8_node k = { .parent = parent, .loc = loc };
  uint64_t h = node_hash(parent, loc);
  int64_t at = cp_hindex_find(&t->index, h, node_eq, t, &k);

  if (at >= 0)
    return (uint32_t)at + 1;
  if (cpd_grow(&t->nodes, &t->nodes_cap, t->nnodes, sizeof(*t->nodes)) < 0 ||
      cp_hindex_insert(&t->index, h, (uint32_t)t->nnodes, node_rehash, t) < 0)
    return parent;
  t->nodes[t->nnodes] = k;
  return (uint32_t)++t->nnodes;
}

static int u32_before(const void *elem, const void *key)
{
  return *(const uint32_t *)elem < *(const uint32_t *)key;
}

static int tid_before(const void *elem, const void *key)
{
  return ((const struct cpd_v8_thread *)elem)->tid < *(const uint32_t *)key;
}

/* TID's profile state, made on first sight (its root node first); NULL without memory. */
static struct cpd_v8_thread *v8_thread(struct cpd_trace_samples *ts, uint32_t tid)
{
  size_t lo = cp_lower_bound(ts->threads, ts->nthreads, sizeof(*ts->threads), &tid, tid_before);
  struct cpd_v8_thread *t;

  if (lo < ts->nthreads && ts->threads[lo].tid == tid)
    return &ts->threads[lo];
  if (cpd_grow(&ts->threads, &ts->threads_cap, ts->nthreads, sizeof(*ts->threads)) < 0)
    return NULL;
  memmove(ts->threads + lo + 1, ts->threads + lo, (ts->nthreads - lo) * sizeof(*ts->threads));
  ts->nthreads++;
  t = &ts->threads[lo];
  memset(t, 0, sizeof(*t));
  t->tid = tid;
  return t;
}

static struct cpd_v8_thread *v8_find(const struct cpd_trace_samples *ts, uint32_t tid)
{
  size_t lo = cp_lower_bound(ts->threads, ts->nthreads, sizeof(*ts->threads), &tid, tid_before);

  return lo < ts->nthreads && ts->threads[lo].tid == tid ? &ts->threads[lo] : NULL;
}

static int cmp_by_tid_time(const void *a, const void *b, void *arg)
{
  const struct cpd_profile *p = arg;
  const struct cpd_psample *x = &p->samples[*(const uint32_t *)a];
  const struct cpd_psample *y = &p->samples[*(const uint32_t *)b];

  if (x->tid != y->tid)
    return x->tid < y->tid ? -1 : 1;
  if (x->time != y->time)
    return x->time < y->time ? -1 : 1;
  return *(const uint32_t *)a < *(const uint32_t *)b ? -1 : 1;
}

static int cmp_u32(const void *a, const void *b)
{
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

  return (x > y) - (x < y);
}

/*
 * The order cmp_by_tid_time gives, in linear time for the usual case: samples are taken in
 * time order, so a stable bucketing by tid is enough. -1 (the caller sorts) when the samples
 * are not in time order or memory is short.
 */
static int order_by_tid(const struct cpd_profile *p, uint32_t *order)
{
  uint32_t *tids = NULL, *start = NULL, *b;
  size_t ntids = 0, cap = 0;
  int rc = -1;

  for (size_t i = 1; i < p->nsamples; i++)
    if (p->samples[i].time < p->samples[i - 1].time)
      return -1;
  /* The distinct tids, ascending: few, and runs of one tid are common. */
  for (size_t i = 0; i < p->nsamples; i++) {
    uint32_t tid = p->samples[i].tid;
    size_t lo;

    if (i && tid == p->samples[i - 1].tid)
      continue;
    lo = cp_lower_bound(tids, ntids, sizeof(*tids), &tid, u32_before);
    if (lo < ntids && tids[lo] == tid)
      continue;
    if (cpd_grow(&tids, &cap, ntids, sizeof(*tids)) < 0)
      goto out;
    memmove(tids + lo + 1, tids + lo, (ntids - lo) * sizeof(*tids));
    tids[lo] = tid;
    ntids++;
  }
  start = calloc(ntids + 1, sizeof(*start));
  if (!start)
    goto out;
  /* Counts per tid, then each sample placed after the earlier ones of its tid: stable. */
  for (size_t i = 0; i < p->nsamples; i++) {
    b = bsearch(&p->samples[i].tid, tids, ntids, sizeof(*tids), cmp_u32);
    start[b - tids + 1]++;
  }
  for (size_t k = 0; k < ntids; k++)
    start[k + 1] += start[k];
  for (size_t i = 0; i < p->nsamples; i++) {
    b = bsearch(&p->samples[i].tid, tids, ntids, sizeof(*tids), cmp_u32);
    order[start[b - tids]++] = (uint32_t)i;
  }
  rc = 0;
out:
  free(start);
  free(tids);
  return rc;
}

static void write_frame_name(FILE *f, const struct cpd_profile *p, uint32_t loc)
{
  const char *name = cpd_profile_loc_name(p, loc - 1);
  char hex[32];

  if (!name) {
    snprintf(hex, sizeof(hex), "0x%" PRIx64, p->locs[loc - 1].address);
    name = hex;
  }
  cpd_json_str(f, name);
}

static void write_node(FILE *f, const struct cpd_profile *p, const struct cpd_v8_node *nd,
                       size_t id, int first)
{
  fprintf(f, "%s{\"id\":%zu,\"callFrame\":{\"functionName\":", first ? "" : ",", id);
  if (nd->loc == 0) {
    fputs("\"(root)\",\"url\":\"\"", f);
  } else {
    const struct cpd_location *l = &p->locs[nd->loc - 1];

    write_frame_name(f, p, nd->loc);
    fputs(",\"url\":", f);
    cpd_json_str(f, l->mapping ? p->mappings[l->mapping - 1].path : "");
  }
  fputs(",\"scriptId\":0,\"lineNumber\":-1,\"columnNumber\":-1}", f);
  if (nd->parent)
    fprintf(f, ",\"parent\":%" PRIu32, nd->parent);
  putc('}', f);
}

/*
 * Writes one thread's samples of this segment, order[from..to), as the next ProfileChunk
 * of its profile (begun with a Profile event the first time): the nodes new since its last
 * chunk, the samples, and their time deltas, in whole microseconds between rounded absolute
 * times (no drift), the first from its previous chunk's last sample. The chunk ends with a
 * sample of the root one period after its last sample (at most at the segment's end): the
 * thread's time up to its next chunk is not given to the last stack seen, and no chunk has
 * one sample, which speedscope's importer rejects.
 */
static void write_chunk(FILE *f, struct cpd_trace_samples *ts, const uint32_t *order,
                        size_t from, size_t to)
{
  const struct cpd_profile *p = ts->prof;
  const struct cpd_psample *first = &p->samples[order[from]], *last = &p->samples[order[to - 1]];
  struct cpd_v8_thread *t = v8_thread(ts, first->tid);
  uint32_t *leaf = malloc((to - from) * sizeof(*leaf));
  uint32_t pid = cpd_profile_pid_of(p, first->tid);
  uint64_t close_ns = last->time + (last->period ? last->period : 1000), us;

  if (!t || !leaf) {
    free(leaf);
    return;
  }
  if (!t->profile_id) {
    t->profile_id = ++ts->profiles;
    tree_child(t, 0, 0);  /* node 1: the root */
    t->last_us = first->time / 1000;
    fprintf(f, ",\n{\"ph\":\"P\",\"cat\":\"disabled-by-default-v8.cpu_profiler\",\"name\":\"Profile\","
               "\"pid\":%" PRIu32 ",\"tid\":%" PRIu32 ",\"id\":\"0x%x\",\"ts\":",
            pid, first->tid, t->profile_id);
    cpd_json_us(f, first->time);
    fprintf(f, ",\"args\":{\"data\":{\"startTime\":%" PRIu64 "}}}", t->last_us);
  }
  for (size_t i = from; i < to; i++) {
    const struct cpd_stack *stk = &p->stacks[p->samples[order[i]].stack];
    uint32_t node = 1;

    for (uint32_t k = stk->len; k > 0; k--)  /* root-most frame first */
      node = tree_child(t, node, p->frames[stk->off + k - 1]);
    leaf[i - from] = node;
  }
  fprintf(f, ",\n{\"ph\":\"P\",\"cat\":\"disabled-by-default-v8.cpu_profiler\",\"name\":\"ProfileChunk\","
             "\"pid\":%" PRIu32 ",\"tid\":%" PRIu32 ",\"id\":\"0x%x\",\"ts\":",
          pid, first->tid, t->profile_id);
  cpd_json_us(f, last->time);
  fputs(",\"args\":{\"data\":{\"cpuProfile\":{\"nodes\":[", f);
  for (size_t i = t->nodes_sent; i < t->nnodes; i++)
    write_node(f, p, &t->nodes[i], i + 1, i == t->nodes_sent);
  t->nodes_sent = t->nnodes;
  fputs("],\"samples\":[", f);
  for (size_t i = from; i < to; i++) {
    cpd_json_u64(f, leaf[i - from]);
    putc_unlocked(',', f);
  }
  fputs("1]},\"timeDeltas\":[", f);
  for (size_t i = from; i < to; i++) {
    us = p->samples[order[i]].time / 1000;
    cpd_json_u64(f, us >= t->last_us ? us - t->last_us : 0);
    putc_unlocked(',', f);
    if (us > t->last_us)
      t->last_us = us;
  }
  if (!ts->last && close_ns > ts->end_ns)
    close_ns = ts->end_ns;  /* the next segment's samples come at or after its end */
  us = close_ns / 1000;
  if (us < t->last_us)
    us = t->last_us;
  cpd_json_u64(f, us - t->last_us);
  t->last_us = us;
  fputs("]}}}", f);
  free(leaf);
}

/* The process's resident memory as a counter track ("rss bytes" in Perfetto): the value at
 * the file's start, then each reading of the segment. */
static void write_rss(FILE *f, struct cpd_trace_samples *ts)
{
  const struct cpd_rss *r = &ts->prof->rss;

  for (size_t i = 0; i < r->n; i++) {
    uint64_t t = r->recs[i].time < ts->begin_ns ? ts->begin_ns : r->recs[i].time;

    if (r->recs[i].time > ts->end_ns || (!ts->last && r->recs[i].time == ts->end_ns))
      break;  /* the next segment's */
    if (r->recs[i].time < ts->begin_ns && (ts->rss_points || (i + 1 < r->n &&
                                                              r->recs[i + 1].time <= ts->begin_ns)))
      continue;  /* written already, or superseded before the file began */
    fprintf(f, ",\n{\"ph\":\"C\",\"pid\":%" PRIu32 ",\"tid\":%" PRIu32 ",\"ts\":",
            ts->prof->pid, ts->prof->pid);
    cpd_json_us(f, t);
    fprintf(f, ",\"cat\":\"memory\",\"name\":\"rss\",\"args\":{\"bytes\":%" PRIu64 "}}",
            r->recs[i].bytes);
    ts->rss_points++;
  }
}

struct state_lane {
  FILE *f;
  uint32_t pid, tid;     /* tid: the thread's, with CPD_STATE_LANE set */
};

/*
 * One stretch of a state lane, in whole microseconds: each slice's end is then exactly the
 * next one's start also in the doubles viewers add ts and dur in (with 3 decimals, ts + dur
 * could end past the next slice and draw a staircase). Stretches inside one microsecond are
 * left out of the lane (the span args keep the nanoseconds).
 */
static void write_state_slice(void *arg, uint64_t from, uint64_t to, enum cpd_thread_state state)
{
  static const char *const names[] = { "running", "runnable", "blocked" };
  struct state_lane *l = arg;
  uint64_t from_us = from / 1000, to_us = to / 1000;

  if (to_us <= from_us)
    return;
  fprintf(l->f, ",\n{\"ph\":\"X\",\"pid\":%" PRIu32 ",\"tid\":%" PRIu32 ",\"ts\":", l->pid,
          l->tid);
  cpd_json_u64(l->f, from_us);
  fputs(",\"dur\":", l->f);
  cpd_json_u64(l->f, to_us - from_us);
  fprintf(l->f, ",\"cat\":\"thread_state\",\"name\":\"%s\",\"args\":{}}", names[state]);
}

/* Beside each thread's lane, a lane of its states (running, runnable, blocked) from the
 * context-switch records: they cannot share the thread's lane, where tasks nest. The
 * segment's stretches; a segment that is not the last draws each thread's last state up
 * to its end, where the next one goes on. */
static void write_states(FILE *f, struct cpd_trace_samples *ts)
{
  const struct cpd_session *s = ts->session;

  if (!ts->prof->switches || !s)
    return;
  for (size_t i = 0; i < s->nthreads; i++) {
    uint32_t tid = s->threads[i].tid;
    struct state_lane l = { f, cpd_profile_pid_of(ts->prof, tid), tid | CPD_STATE_LANE };
    struct cpd_v8_thread *t;

    if (cpd_sched_slices(&ts->prof->sched, tid, cpd_trace_samples_lane_from(ts, tid), ts->end_ns,
                         write_state_slice, &l) && (t = v8_thread(ts, tid)) != NULL)
      t->has_states = 1;
  }
}

static void write_events(FILE *f, void *arg)
{
  struct cpd_trace_samples *ts = arg;
  const struct cpd_profile *p = ts->prof;
  uint32_t *order = NULL;

  write_rss(f, ts);
  write_states(f, ts);
  if (p->nsamples == 0 || !(order = malloc(p->nsamples * sizeof(*order))))
    return;
  if (order_by_tid(p, order) < 0) {
    for (size_t i = 0; i < p->nsamples; i++)
      order[i] = (uint32_t)i;
    if (p->nsamples > 1)
      qsort_r(order, p->nsamples, sizeof(*order), cmp_by_tid_time, (void *)p);
  }
  for (size_t from = 0; from < p->nsamples;) {
    size_t to = from;

    while (to < p->nsamples && p->samples[order[to]].tid == p->samples[order[from]].tid)
      to++;
    write_chunk(f, ts, order, from, to);
    from = to;
  }
  ts->samples += p->nsamples;
  free(order);
}

static void write_metadata(FILE *f, void *arg)
{
  const struct cpd_trace_samples *ts = arg;
  const struct cpd_profile *p = ts->prof;

  fprintf(f, ",\"sampling\":{\"event\":\"%s\",\"rate_hz\":%d,\"samples\":%" PRIu64
             ",\"lost_records\":%" PRIu64
             ",\"lost_samples\":%" PRIu64 ",\"truncated_stacks\":%" PRIu64
             ",\"bad_records\":%" PRIu64 ",\"context_switches\":%" PRIu64
             ",\"switches_not_kept\":%" PRIu64 ",\"samples_of_exiting_threads\":%" PRIu64
             ",\"samples_before_exec\":%" PRIu64 ",\"processes_followed\":%zu"
             ",\"processes_not_followed\":%" PRIu64,
          ts->event, ts->hz, ts->samples, p->lost_records, p->lost_samples, p->truncated,
          p->bad_records, p->switches, p->sched.dropped, p->exiting_samples, p->before_exec,
          p->nspaces ? p->nspaces - 1 : 0, p->not_followed);
  if (ts->unwind)
    fprintf(f, ",\"call_graph\":\"dwarf\",\"dwarf_stack_bytes\":%" PRIu32 ",\"unwound_stacks\":%"
               PRIu64 ",\"unwound_frames\":%" PRIu64 ",\"unwind_cut_short\":%" PRIu64 "}",
            ts->dwarf_stack, ts->unwind->samples, ts->unwind->frames, ts->unwind->truncated);
  else
    fputs(",\"call_graph\":\"fp\"}", f);
  fprintf(f, ",\"memory\":{\"source\":\"/proc/PID/statm\",\"interval_ms\":%u,"
             "\"rss_readings\":%" PRIu64 ",\"rss_failed\":%" PRIu64 "}",
          (unsigned)(CPD_RSS_GAP_NS / 1000000u), ts->rss_points, p->rss.failed);
}

static struct cpd_span_carry *carry_find(const struct cpd_trace_samples *ts,
                                         const struct cpd_span *sp)
{
  for (size_t i = 0; i < ts->ncarry; i++)
    if (ts->carry[i].task_id == sp->task_id && ts->carry[i].tid == sp->tid &&
        ts->carry[i].begin == sp->begin)
      return &ts->carry[i];
  return NULL;
}

static void add_times(struct cpd_sched_times *to, const struct cpd_sched_times *t)
{
  to->cpu_ns += t->cpu_ns;
  to->blocked_ns += t->blocked_ns;
  to->delay_ns += t->delay_ns;
  to->switches += t->switches;
}

/* A task's wall time split by its thread's states: the span's cpu_ns, blocked_ns,
 * sched_delay_ns (runnable, waiting for a CPU) and switches (times switched out), and its
 * change in resident memory. A task begun in an earlier segment adds what was kept of it
 * then to what this segment's records say. */
int cpd_trace_samples_split(const struct cpd_trace_samples *ts, const struct cpd_span *sp,
                            struct cpd_sched_times *t, int64_t *rss_delta)
{
  const struct cpd_span_carry *c = sp->begin < ts->begin_ns ? carry_find(ts, sp) : NULL;
  int known = 0;

  if (sp->end < sp->begin)
    return 0;
  if (c ? c->has_rss && cpd_rss_change_since(&ts->prof->rss, c->rss_begin, sp->end, rss_delta)
        : cpd_rss_change(&ts->prof->rss, sp->begin, sp->end, rss_delta))
    known |= CPD_SPLIT_RSS;
  if (ts->prof->switches) {
    cpd_sched_span(&ts->prof->sched, sp->tid, c ? c->from : sp->begin, sp->end, t);
    if (c)
      add_times(t, &c->t);
    known |= CPD_SPLIT_TIMES;
  }
  return known;
}

/* The split as span args (a task carried from an earlier segment is forgotten by the next
 * carry, which keeps only tasks still open). */
static void write_span_args(FILE *f, void *arg, const struct cpd_span *sp)
{
  struct cpd_sched_times t;
  int64_t delta;
  int known = cpd_trace_samples_split(arg, sp, &t, &delta);

  if (known & CPD_SPLIT_RSS)
    fprintf(f, ",\"rss_delta_bytes\":%" PRId64, delta);
  if (known & CPD_SPLIT_TIMES)
    fprintf(f, ",\"cpu_ns\":%" PRIu64 ",\"blocked_ns\":%" PRIu64 ",\"sched_delay_ns\":%" PRIu64
               ",\"switches\":%" PRIu32, t.cpu_ns, t.blocked_ns, t.delay_ns, t.switches);
}

/* Beside each thread's lane, its state lane's name and place, when it has one. */
static void write_lane(FILE *f, void *arg, uint32_t pid, uint32_t tid, const char *name,
                       int64_t sort_index)
{
  const struct cpd_trace_samples *ts = arg;
  const struct cpd_v8_thread *t = v8_find(ts, tid);
  char lane[360];

  if (!t || !t->has_states)
    return;
  fprintf(f, ",\n{\"ph\":\"M\",\"cat\":\"__metadata\",\"pid\":%" PRIu32 ",\"tid\":%" PRIu32 ",\"name\":"
             "\"thread_name\",\"args\":{\"name\":", pid, tid | CPD_STATE_LANE);
  snprintf(lane, sizeof(lane), "%s state", name);
  cpd_json_str(f, lane);
  fprintf(f, "}},{\"ph\":\"M\",\"cat\":\"__metadata\",\"pid\":%" PRIu32 ",\"tid\":%" PRIu32 ",\"name\":"
             "\"thread_sort_index\",\"args\":{\"sort_index\":%" PRId64 "}}", pid,
          tid | CPD_STATE_LANE, sort_index);
}

void cpd_trace_samples_init(struct cpd_trace_samples *ts, const struct cpd_profile *prof,
                            const struct cpd_session *s, const char *event, int hz,
                            const struct cpd_unwind *unwind, uint32_t dwarf_stack)
{
  memset(ts, 0, sizeof(*ts));
  ts->prof = prof;
  ts->session = s;
  ts->event = event;
  ts->hz = hz;
  ts->unwind = unwind;
  ts->dwarf_stack = dwarf_stack;
}

void cpd_trace_samples_segment(struct cpd_trace_samples *ts, uint64_t begin_ns, uint64_t end_ns,
                               int last, struct cpd_trace_extra *extra)
{
  ts->begin_ns = begin_ns;
  ts->end_ns = end_ns;
  ts->last = last;
  extra->lane = write_lane;
  extra->span_args = write_span_args;
  extra->metadata = write_metadata;
  extra->events = write_events;
  extra->arg = ts;
  extra->samples = ts->prof->nsamples;
}

uint64_t cpd_trace_samples_lane_from(const struct cpd_trace_samples *ts, uint32_t tid)
{
  const struct cpd_v8_thread *t = v8_find(ts, tid);

  return t && t->lane_next ? t->lane_next : ts->begin_ns;
}

void cpd_trace_samples_carry(struct cpd_trace_samples *ts, const struct cpd_timeline *tl)
{
  size_t k = 0;

  for (size_t i = 0; ts->prof->switches && ts->session && i < ts->session->nthreads; i++) {
    uint32_t tid = ts->session->threads[i].tid;
    uint64_t last = cpd_sched_last(&ts->prof->sched, tid, ts->end_ns);
    struct cpd_v8_thread *t;

    if (last > cpd_trace_samples_lane_from(ts, tid) && (t = v8_thread(ts, tid)) != NULL)
      t->lane_next = last;
  }

  for (size_t i = 0; i < ts->ncarry; i++)
    ts->carry[i].seen = 0;
  for (size_t i = 0; i < tl->nspans; i++) {
    const struct cpd_span *sp = &tl->spans[i];
    struct cpd_span_carry *c;
    struct cpd_sched_times t;

    if (!sp->unfinished || sp->end_tid != sp->tid)
      continue;
    if (!(c = sp->begin < ts->begin_ns ? carry_find(ts, sp) : NULL)) {
      if (cpd_grow(&ts->carry, &ts->carry_cap, ts->ncarry, sizeof(*ts->carry)) < 0)
        continue;  /* its split will count this segment's part only */
      c = &ts->carry[ts->ncarry++];
      memset(c, 0, sizeof(*c));
      c->task_id = sp->task_id;
      c->tid = sp->tid;
      c->begin = sp->begin;
      c->has_rss = cpd_rss_begin_value(&ts->prof->rss, sp->begin, &c->rss_begin);
      c->from = sp->begin;
    }
    c->seen = 1;
    if (ts->prof->switches) {
      /* Up to its thread's last record only: a switch-out before the cut is recorded at the
       * switch-in after it, maybe after the cut; the next segment goes on from here. */
      uint64_t last = cpd_sched_last(&ts->prof->sched, sp->tid, sp->end);

      if (last > c->from) {
        cpd_sched_span(&ts->prof->sched, sp->tid, c->from, last, &t);
        add_times(&c->t, &t);
        c->from = last;
      }
    }
  }
  /* A task carried before that ended on another thread gets no split: forgotten. */
  for (size_t i = 0; i < ts->ncarry; i++)
    if (ts->carry[i].seen)
      ts->carry[k++] = ts->carry[i];
  ts->ncarry = k;
}

void cpd_trace_samples_free(struct cpd_trace_samples *ts)
{
  for (size_t i = 0; i < ts->nthreads; i++) {
    free(ts->threads[i].nodes);
    cp_hindex_free(&ts->threads[i].index);
  }
  free(ts->threads);
  free(ts->carry);
  memset(ts, 0, sizeof(*ts));
}
