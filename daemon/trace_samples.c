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

#include "jsonw.h"
#include "trace_samples.h"
#include "util.h"

struct node {
  uint32_t parent;  /* node id, 0 for the root */
  uint32_t loc;     /* location index + 1, 0 for the root */
};

struct tree {
  struct node *v;   /* id = index + 1 */
  size_t n, cap;
  uint32_t *h;      /* open addressing: node id, 0 = empty */
  size_t hcap;
};

static uint64_t node_hash(uint32_t parent, uint32_t loc)
{
  return ((uint64_t)parent << 32 | loc) * 0x9e3779b97f4a7c15ull >> 7;
}

static uint32_t tree_child(struct tree *t, uint32_t parent, uint32_t loc)
{
  size_t i;

  if ((t->n + 1) * 2 >= t->hcap) {
    size_t cap = t->hcap ? t->hcap * 2 : 1024;
    uint32_t *h = calloc(cap, sizeof(*h));

    if (!h)
      return parent;
    for (size_t j = 0; j < t->n; j++) {
      for (i = node_hash(t->v[j].parent, t->v[j].loc) & (cap - 1); h[i]; i = (i + 1) & (cap - 1))
        ;
      h[i] = (uint32_t)j + 1;
    }
    free(t->h);
    t->h = h;
    t->hcap = cap;
  }
  for (i = node_hash(parent, loc) & (t->hcap - 1); t->h[i]; i = (i + 1) & (t->hcap - 1)) {
    const struct node *nd = &t->v[t->h[i] - 1];

    if (nd->parent == parent && nd->loc == loc)
      return t->h[i];
  }
  if (t->n == t->cap) {
    size_t cap = t->cap ? t->cap * 2 : 256;
    struct node *v = realloc(t->v, cap * sizeof(*v));

    if (!v)
      return parent;
    t->v = v;
    t->cap = cap;
  }
  t->v[t->n].parent = parent;
  t->v[t->n].loc = loc;
  t->h[i] = (uint32_t)++t->n;
  return (uint32_t)t->n;
}

static const struct cpd_profile *sort_prof;

static int cmp_by_tid_time(const void *a, const void *b)
{
  const struct cpd_psample *x = &sort_prof->samples[*(const uint32_t *)a];
  const struct cpd_psample *y = &sort_prof->samples[*(const uint32_t *)b];

  if (x->tid != y->tid)
    return x->tid < y->tid ? -1 : 1;
  if (x->time != y->time)
    return x->time < y->time ? -1 : 1;
  return *(const uint32_t *)a < *(const uint32_t *)b ? -1 : 1;
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
  const struct cpd_psample *first = &p->samples[order[from]];
  uint64_t prev_us;

  if (!leaf)
    return;
  tree_child(&t, 0, 0);  /* node 1: the root */
  for (size_t i = from; i < to; i++) {
    const struct cpd_psample *s = &p->samples[order[i]];
    const struct cpd_stack *stk = &p->stacks[s->stack];
    uint32_t node = 1;

    for (uint32_t k = stk->len; k > 0; k--)  /* root-most frame first */
      node = tree_child(&t, node, p->frames[stk->off + k - 1]);
    leaf[i - from] = node;
  }
  fprintf(f, ",\n{\"ph\":\"P\",\"cat\":\"disabled-by-default-v8.cpu_profiler\",\"name\":\"Profile\","
             "\"pid\":%" PRIu32 ",\"tid\":%" PRIu32 ",\"id\":\"0x%x\",\"ts\":",
          p->pid, first->tid, profile_id);
  cpd_json_us(f, first->time);
  fprintf(f, ",\"args\":{\"data\":{\"startTime\":%" PRIu64 "}}}", first->time / 1000);
  fprintf(f, ",\n{\"ph\":\"P\",\"cat\":\"disabled-by-default-v8.cpu_profiler\",\"name\":\"ProfileChunk\","
             "\"pid\":%" PRIu32 ",\"tid\":%" PRIu32 ",\"id\":\"0x%x\",\"ts\":",
          p->pid, first->tid, profile_id);
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
  for (size_t i = from; i < to; i++)
    fprintf(f, "%s%" PRIu32, i > from ? "," : "", leaf[i - from]);
  /* Deltas in whole microseconds, taken between rounded absolute times: no drift. */
  fputs("]},\"timeDeltas\":[", f);
  prev_us = first->time / 1000;
  for (size_t i = from; i < to; i++) {
    uint64_t us = p->samples[order[i]].time / 1000;

    fprintf(f, "%s%" PRIu64, i > from ? "," : "", us - prev_us);
    prev_us = us;
  }
  fputs("]}}}", f);
  free(leaf);
  free(t.v);
  free(t.h);
}

static void write_events(FILE *f, void *arg)
{
  const struct cpd_trace_samples *ts = arg;
  const struct cpd_profile *p = ts->prof;
  uint32_t *order;
  unsigned id = 1;

  if (p->nsamples == 0)
    return;
  order = malloc(p->nsamples * sizeof(*order));
  if (!order)
    return;
  for (size_t i = 0; i < p->nsamples; i++)
    order[i] = (uint32_t)i;
  sort_prof = p;
  cpd_qsort(order, p->nsamples, sizeof(*order), cmp_by_tid_time);
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
             ",\"bad_records\":%" PRIu64 ",\"context_switches\":%" PRIu64 "}",
          ts->event, ts->hz, p->nsamples, p->lost_records, p->lost_samples, p->truncated,
          p->bad_records, p->switches);
}

void cpd_trace_samples_extra(struct cpd_trace_samples *ts, struct cpd_trace_extra *extra)
{
  extra->metadata = write_metadata;
  extra->events = write_events;
  extra->arg = ts;
}
