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

struct node {
  uint32_t parent;  /* node id, 0 for the root */
  uint32_t loc;     /* location index + 1, 0 for the root */
};

struct tree {
  struct node *v;   /* id = index + 1 */
  size_t n, cap;
  struct cp_hindex index;  /* nodes by (parent, location) */
};

static int u32_before(const void *elem, const void *key)
{
  return *(const uint32_t *)elem < *(const uint32_t *)key;
}

static uint64_t node_hash(uint32_t parent, uint32_t loc)
{
  return cp_hash_u64((uint64_t)parent << 32 | loc);
}

static uint64_t node_rehash(const void *ctx, uint32_t idx)
{
  const struct node *nd = &((const struct tree *)ctx)->v[idx];

  return node_hash(nd->parent, nd->loc);
}

static int node_eq(const void *ctx, uint32_t idx, const void *key)
{
  const struct node *nd = &((const struct tree *)ctx)->v[idx], *k = key;

  return nd->parent == k->parent && nd->loc == k->loc;
}

/* The id of PARENT's child at LOC, made if new (PARENT when out of memory). */
static uint32_t tree_child(struct tree *t, uint32_t parent, uint32_t loc)
{
  struct node k = { .parent = parent, .loc = loc };
  uint64_t h = node_hash(parent, loc);
  int64_t at = cp_hindex_find(&t->index, h, node_eq, t, &k);

  if (at >= 0)
    return (uint32_t)at + 1;
  if (cpd_grow(&t->v, &t->cap, t->n, sizeof(*t->v)) < 0 ||
      cp_hindex_insert(&t->index, h, (uint32_t)t->n, node_rehash, t) < 0)
    return parent;
  t->v[t->n] = k;
  return (uint32_t)++t->n;
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

/* Writes one thread's profile: samples order[from..to) all belong to one tid. */
static void write_thread(FILE *f, const struct cpd_profile *p, const uint32_t *order, size_t from,
                         size_t to, unsigned profile_id)
{
  struct tree t = { 0 };
  uint32_t *leaf = malloc((to - from) * sizeof(*leaf));
  uint32_t *memo = calloc(p->nstacks + 1, sizeof(*memo));  /* stack -> its leaf node */
  const struct cpd_psample *first = &p->samples[order[from]];
  uint64_t prev_us;

  if (!leaf || !memo) {
    free(leaf);
    free(memo);
    return;
  }
  tree_child(&t, 0, 0);  /* node 1: the root */
  for (size_t i = from; i < to; i++) {
    const struct cpd_psample *s = &p->samples[order[i]];
    const struct cpd_stack *stk = &p->stacks[s->stack];
    uint32_t node = memo[s->stack];

    if (!node) {
      node = 1;
      for (uint32_t k = stk->len; k > 0; k--)  /* root-most frame first */
        node = tree_child(&t, node, p->frames[stk->off + k - 1]);
      memo[s->stack] = node;
    }
    leaf[i - from] = node;
  }
  free(memo);
  fprintf(f, ",\n{\"ph\":\"P\",\"cat\":\"disabled-by-default-v8.cpu_profiler\",\"name\":\"Profile\","
             "\"pid\":%" PRIu32 ",\"tid\":%" PRIu32 ",\"id\":\"0x%x\",\"ts\":",
          cpd_profile_pid_of(p, first->tid), first->tid, profile_id);
  cpd_json_us(f, first->time);
  fprintf(f, ",\"args\":{\"data\":{\"startTime\":%" PRIu64 "}}}", first->time / 1000);
  fprintf(f, ",\n{\"ph\":\"P\",\"cat\":\"disabled-by-default-v8.cpu_profiler\",\"name\":\"ProfileChunk\","
             "\"pid\":%" PRIu32 ",\"tid\":%" PRIu32 ",\"id\":\"0x%x\",\"ts\":",
          cpd_profile_pid_of(p, first->tid), first->tid, profile_id);
  cpd_json_us(f, p->samples[order[to - 1]].time);
  fputs(",\"args\":{\"data\":{\"cpuProfile\":{\"nodes\":[", f);
  for (size_t i = 0; i < t.n; i++) {
    const struct node *nd = &t.v[i];

    fprintf(f, "%s{\"id\":%zu,\"callFrame\":{\"functionName\":", i ? "," : "", i + 1);
    if (nd->loc == 0)
      fputs("\"(root)\",\"url\":\"\"", f);
    else {
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
  fputs("],\"samples\":[", f);
  for (size_t i = from; i < to; i++) {
    if (i > from)
      putc_unlocked(',', f);
    cpd_json_u64(f, leaf[i - from]);
  }
  /* A thread sampled once: its sample is closed one period later by a sample of the root,
   * so the chunk has two (speedscope's importer rejects a chunk of one, timeDeltas [0]). */
  if (to - from == 1)
    fputs(",1", f);
  /* Deltas in whole microseconds, taken between rounded absolute times: no drift. */
  fputs("]},\"timeDeltas\":[", f);
  prev_us = first->time / 1000;
  for (size_t i = from; i < to; i++) {
    uint64_t us = p->samples[order[i]].time / 1000;

    if (i > from)
      putc_unlocked(',', f);
    cpd_json_u64(f, us - prev_us);
    prev_us = us;
  }
  if (to - from == 1) {
    fputc(',', f);
    cpd_json_u64(f, first->period / 1000 ? first->period / 1000 : 1);
  }
  fputs("]}}}", f);
  free(leaf);
  free(t.v);
  cp_hindex_free(&t.index);
}

/* The process's resident memory as a counter track ("rss bytes" in Perfetto). */
static void write_rss(FILE *f, const struct cpd_trace_samples *ts)
{
  const struct cpd_rss *r = &ts->prof->rss;

  for (size_t i = 0; i < r->n; i++) {
    uint64_t t = r->recs[i].time < ts->begin_ns ? ts->begin_ns : r->recs[i].time;

    if (r->recs[i].time > ts->end_ns)
      break;
    if (i + 1 < r->n && r->recs[i + 1].time <= ts->begin_ns)
      continue;  /* superseded before the window began */
    fprintf(f, ",\n{\"ph\":\"C\",\"pid\":%" PRIu32 ",\"tid\":%" PRIu32 ",\"ts\":",
            ts->prof->pid, ts->prof->pid);
    cpd_json_us(f, t);
    fprintf(f, ",\"cat\":\"memory\",\"name\":\"rss\",\"args\":{\"bytes\":%" PRIu64 "}}",
            r->recs[i].bytes);
  }
}

static void write_events(FILE *f, void *arg)
{
  const struct cpd_trace_samples *ts = arg;
  const struct cpd_profile *p = ts->prof;
  uint32_t *order;
  unsigned id = 1;

  write_rss(f, ts);
  if (p->nsamples == 0)
    return;
  order = malloc(p->nsamples * sizeof(*order));
  if (!order)
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
    write_thread(f, p, order, from, to, id++);
    from = to;
  }
  free(order);
}

static void write_metadata(FILE *f, void *arg)
{
  const struct cpd_trace_samples *ts = arg;
  const struct cpd_profile *p = ts->prof;

  fprintf(f, ",\"sampling\":{\"event\":\"%s\",\"rate_hz\":%d,\"samples\":%zu,\"lost_records\":%" PRIu64
             ",\"lost_samples\":%" PRIu64 ",\"truncated_stacks\":%" PRIu64
             ",\"bad_records\":%" PRIu64 ",\"context_switches\":%" PRIu64
             ",\"switches_not_kept\":%" PRIu64 ",\"samples_of_exiting_threads\":%" PRIu64
             ",\"samples_before_exec\":%" PRIu64 ",\"processes_followed\":%zu"
             ",\"processes_not_followed\":%" PRIu64,
          ts->event, ts->hz, p->nsamples, p->lost_records, p->lost_samples, p->truncated,
          p->bad_records, p->switches, p->sched.dropped, p->exiting_samples, p->before_exec,
          p->nspaces ? p->nspaces - 1 : 0, p->not_followed);
  if (ts->unwind)
    fprintf(f, ",\"call_graph\":\"dwarf\",\"dwarf_stack_bytes\":%" PRIu32 ",\"unwound_stacks\":%"
               PRIu64 ",\"unwound_frames\":%" PRIu64 ",\"unwind_cut_short\":%" PRIu64 "}",
            ts->dwarf_stack, ts->unwind->samples, ts->unwind->frames, ts->unwind->truncated);
  else
    fputs(",\"call_graph\":\"fp\"}", f);
  fprintf(f, ",\"memory\":{\"source\":\"/proc/PID/statm\",\"interval_ms\":%u,"
             "\"rss_readings\":%zu,\"rss_failed\":%" PRIu64 "}",
          (unsigned)(CPD_RSS_GAP_NS / 1000000u), p->rss.n, p->rss.failed);
}

/* A task's wall time split by its thread's states: the span's cpu_ns, blocked_ns,
 * sched_delay_ns (runnable, waiting for a CPU) and switches (times switched out). */
static void write_span_args(FILE *f, void *arg, const struct cpd_span *sp)
{
  const struct cpd_trace_samples *ts = arg;
  struct cpd_sched_times t;
  int64_t delta;

  if (sp->end >= sp->begin && cpd_rss_change(&ts->prof->rss, sp->begin, sp->end, &delta))
    fprintf(f, ",\"rss_delta_bytes\":%" PRId64, delta);
  if (!ts->prof->switches || sp->end < sp->begin)
    return;  /* no context-switch records: nothing is known */
  cpd_sched_span(&ts->prof->sched, sp->tid, sp->begin, sp->end, &t);
  fprintf(f, ",\"cpu_ns\":%" PRIu64 ",\"blocked_ns\":%" PRIu64 ",\"sched_delay_ns\":%" PRIu64
             ",\"switches\":%" PRIu32, t.cpu_ns, t.blocked_ns, t.delay_ns, t.switches);
}

struct state_lane {
  FILE *f;
  uint32_t pid, tid;     /* tid: the thread's, with CPD_STATE_LANE set */
  const char *name;      /* the thread's lane */
  int64_t sort_index;
  int named;             /* the lane's metadata is written (before its first slice) */
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
  if (!l->named) {
    char lane[360];

    fprintf(l->f, ",\n{\"ph\":\"M\",\"cat\":\"__metadata\",\"pid\":%" PRIu32 ",\"tid\":%" PRIu32 ",\"name\":"
                  "\"thread_name\",\"args\":{\"name\":", l->pid, l->tid);
    snprintf(lane, sizeof(lane), "%s state", l->name);
    cpd_json_str(l->f, lane);
    fprintf(l->f, "}},{\"ph\":\"M\",\"cat\":\"__metadata\",\"pid\":%" PRIu32 ",\"tid\":%" PRIu32 ",\"name\":"
                  "\"thread_sort_index\",\"args\":{\"sort_index\":%" PRId64 "}}", l->pid, l->tid,
            l->sort_index);
    l->named = 1;
  }
  fprintf(l->f, ",\n{\"ph\":\"X\",\"pid\":%" PRIu32 ",\"tid\":%" PRIu32 ",\"ts\":", l->pid,
          l->tid);
  cpd_json_u64(l->f, from_us);
  fputs(",\"dur\":", l->f);
  cpd_json_u64(l->f, to_us - from_us);
  fprintf(l->f, ",\"cat\":\"thread_state\",\"name\":\"%s\",\"args\":{}}", names[state]);
}

/* Beside each thread's lane, a lane of its states (running, runnable, blocked) from the
 * context-switch records: they cannot share the thread's lane, where tasks nest. A thread
 * with nothing known in this window gets no such lane. */
static void write_lane(FILE *f, void *arg, uint32_t pid, uint32_t tid, const char *name,
                       int64_t sort_index)
{
  const struct cpd_trace_samples *ts = arg;
  struct state_lane l = { f, pid, tid | CPD_STATE_LANE, name, sort_index, 0 };

  if (ts->prof->switches)
    cpd_sched_slices(&ts->prof->sched, tid, ts->begin_ns, ts->end_ns, write_state_slice, &l);
}

void cpd_trace_samples_extra(struct cpd_trace_samples *ts, struct cpd_trace_extra *extra)
{
  extra->lane = write_lane;
  extra->span_args = write_span_args;
  extra->metadata = write_metadata;
  extra->events = write_events;
  extra->arg = ts;
}
