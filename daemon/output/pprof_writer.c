/* pprof_writer.c: where samples become pprof: aggregation, labels, protobuf-c encoding, gzip. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "model/join.h"
#include "output/pprof_writer.h"
#include "util.h"
#include "profile.pb-c.h"

typedef Perftools__Profiles__Profile pb_profile;

/* The string table: index 0 is "", every other string once. */
struct strtab {
  char **v;
  size_t n, cap;
  struct { const char *s; size_t idx; } *h;
  size_t hcap;
};

static uint64_t hash_str(const char *s)
{
  uint64_t h = 1469598103934665603ull;

  while (*s)
    h = (h ^ (uint8_t)*s++) * 1099511628211ull;
  return h;
}

static int64_t str_index(struct strtab *t, const char *s)
{
  size_t i;

  if (!s || !*s)
    return 0;
  if ((t->n + 1) * 2 >= t->hcap) {
    size_t cap = t->hcap ? t->hcap * 2 : 1024;
    __typeof__(t->h) h = calloc(cap, sizeof(*h));

    if (!h)
      return 0;
    for (size_t j = 0; j < t->hcap; j++) {
      if (!t->h[j].s)
        continue;
      for (i = hash_str(t->h[j].s) & (cap - 1); h[i].s; i = (i + 1) & (cap - 1))
        ;
      h[i] = t->h[j];
    }
    free(t->h);
    t->h = h;
    t->hcap = cap;
  }
  for (i = hash_str(s) & (t->hcap - 1); t->h[i].s; i = (i + 1) & (t->hcap - 1))
    if (strcmp(t->h[i].s, s) == 0)
      return (int64_t)t->h[i].idx;
  if (t->n == t->cap) {
    size_t cap = t->cap ? t->cap * 2 : 256;
    char **v = realloc(t->v, cap * sizeof(*v));

    if (!v)
      return 0;
    t->v = v;
    t->cap = cap;
  }
  t->v[t->n] = strdup(s);
  if (!t->v[t->n])
    return 0;
  t->h[i].s = t->v[t->n];
  t->h[i].idx = t->n;
  return (int64_t)t->n++;
}

/* string_table[0] must be "". */
static int strtab_init(struct strtab *t)
{
  memset(t, 0, sizeof(*t));
  t->v = malloc(256 * sizeof(*t->v));
  if (!t->v || !(t->v[0] = strdup(""))) {
    free(t->v);
    t->v = NULL;
    return -ENOMEM;
  }
  t->cap = 256;
  t->n = 1;
  return 0;
}

static void strtab_free(struct strtab *t)
{
  for (size_t i = 0; i < t->n; i++)
    free(t->v[i]);
  free(t->v);
  free(t->h);
}

/* One output sample: a stack, a thread and a task, with summed values. */
struct agg {
  uint32_t stack;
  uint32_t tid;
  size_t task;        /* span index + 1, 0 for none */
  const struct cpd_psample *first;
  int64_t count, ns;
};

struct aggs {
  struct agg *v;
  size_t n, cap;
  uint32_t *h;        /* index + 1 */
  size_t hcap;
};

static uint64_t agg_hash(uint32_t stack, uint32_t tid, size_t task)
{
  uint64_t h = ((uint64_t)stack << 32 | tid) * 0x9e3779b97f4a7c15ull;

  return (h ^ (uint64_t)task * 0xc2b2ae3d27d4eb4full) ^ (h >> 29);
}

static struct agg *agg_get(struct aggs *a, uint32_t stack, uint32_t tid, size_t task)
{
  size_t i;

  if ((a->n + 1) * 2 >= a->hcap) {
    size_t cap = a->hcap ? a->hcap * 2 : 4096;
    uint32_t *h = calloc(cap, sizeof(*h));

    if (!h)
      return NULL;
    for (size_t j = 0; j < a->n; j++) {
      for (i = agg_hash(a->v[j].stack, a->v[j].tid, a->v[j].task) & (cap - 1); h[i]; i = (i + 1) & (cap - 1))
        ;
      h[i] = (uint32_t)j + 1;
    }
    free(a->h);
    a->h = h;
    a->hcap = cap;
  }
  for (i = agg_hash(stack, tid, task) & (a->hcap - 1); a->h[i]; i = (i + 1) & (a->hcap - 1)) {
    struct agg *g = &a->v[a->h[i] - 1];

    if (g->stack == stack && g->tid == tid && g->task == task)
      return g;
  }
  if (a->n == a->cap) {
    size_t cap = a->cap ? a->cap * 2 : 1024;
    struct agg *v = realloc(a->v, cap * sizeof(*v));

    if (!v)
      return NULL;
    a->v = v;
    a->cap = cap;
  }
  memset(&a->v[a->n], 0, sizeof(a->v[0]));
  a->v[a->n].stack = stack;
  a->v[a->n].tid = tid;
  a->v[a->n].task = task;
  a->h[i] = (uint32_t)++a->n;
  return &a->v[a->n - 1];
}

static void add_str_label(Perftools__Profiles__Label *l, struct strtab *st, const char *k, const char *v)
{
  perftools__profiles__label__init(l);
  l->key = str_index(st, k);
  l->str = str_index(st, v);
}

static void add_num_label(Perftools__Profiles__Label *l, struct strtab *st, const char *k, int64_t v)
{
  perftools__profiles__label__init(l);
  l->key = str_index(st, k);
  l->num = v;
}

/* The file is written gzipped, complete or not at all. */
static int write_gz(const char *path, const uint8_t *buf, size_t len)
{
  struct cpd_outfile o;
  gzFile gz;
  int rc = cpd_outfile_open(&o, path);

  if (rc < 0)
    return cpd_outfile_close(&o, rc);
  gz = gzdopen(dup(o.fd), "wb6");
  if (!gz)
    return cpd_outfile_close(&o, -ENOMEM);
  while (len > 0 && rc == 0) {
    unsigned chunk = len > (1u << 30) ? 1u << 30 : (unsigned)len;

    if (gzwrite(gz, buf, chunk) != (int)chunk)
      rc = errno ? -errno : -EIO;
    buf += chunk;
    len -= chunk;
  }
  if (gzclose(gz) != Z_OK && rc == 0)
    rc = errno ? -errno : -EIO;
  return cpd_outfile_close(&o, rc);  /* fsyncs the shared file, renames it into place */
}

int cpd_pprof_write(const char *path, const struct cpd_profile *p, const struct cpd_session *s,
                    const struct cpd_timeline *tl, const struct cpd_pprof_info *info)
{
  pb_profile prof = PERFTOOLS__PROFILES__PROFILE__INIT;
  Perftools__Profiles__ValueType vt[3], *vtp[2];
  Perftools__Profiles__Mapping *maps = NULL, **mapp = NULL;
  Perftools__Profiles__Location *locs = NULL, **locp = NULL;
  Perftools__Profiles__Line *lines = NULL, **linep = NULL;
  Perftools__Profiles__Function *funcs = NULL, **funcp = NULL;
  Perftools__Profiles__Sample *samples = NULL, **samplep = NULL;
  Perftools__Profiles__Label *labels = NULL, **labelp = NULL;
  uint64_t *loc_ids = NULL;
  int64_t *values = NULL, comments[8];
  uint32_t *map_id = NULL;  /* profile mapping index -> pprof mapping id */
  struct strtab st;
  struct aggs ag = { 0 };
  uint8_t *buf = NULL;
  size_t nmaps = 0, nlabels = 0, nlocids = 0, ncomments = 0, nlines = 0;
  uint8_t *map_src = NULL;            /* per mapping: 1 line numbers, 2 inlined frames */
  char text[256];
  int rc = -ENOMEM;

  if (strtab_init(&st) < 0)
    goto out;
  /* Aggregate identical (stack, thread, task). */
  const struct cpd_psample *smps = info->samples ? info->samples : p->samples;
  size_t nsmps = info->samples ? info->nsamples : p->nsamples;
  const char *vtype = info->value_type ? info->value_type : "cpu";

  for (size_t i = 0; i < nsmps; i++) {
    const struct cpd_psample *smp = &smps[i];
    const struct cpd_span *task = tl ? cpd_timeline_task_at(tl, smp->tid, smp->time) : NULL;
    struct agg *g = agg_get(&ag, smp->stack, smp->tid, task ? (size_t)(task - tl->spans) + 1 : 0);

    if (!g)
      goto out;
    if (!g->first)
      g->first = smp;
    g->count++;
    g->ns += (int64_t)smp->period;
  }
  /* Sample types, period. */
  for (int i = 0; i < 3; i++)
    perftools__profiles__value_type__init(&vt[i]);
  vt[0].type = str_index(&st, "samples");
  vt[0].unit = str_index(&st, "count");
  vt[1].type = str_index(&st, vtype);
  vt[1].unit = str_index(&st, "nanoseconds");
  vt[2].type = vt[1].type;
  vt[2].unit = vt[1].unit;
  vtp[0] = &vt[0];
  vtp[1] = &vt[1];
  prof.n_sample_type = 2;
  prof.sample_type = vtp;
  prof.period_type = &vt[2];
  prof.period = info->samples ? 0 : info->hz > 0 ? 1000000000 / info->hz : 0;
  prof.default_sample_type = vt[1].type;
  prof.time_nanos = (int64_t)info->time_nanos;
  prof.duration_nanos = (int64_t)info->duration_nanos;
  /* Mappings: the main binary first. */
  maps = calloc(p->nmappings + 1, sizeof(*maps));
  mapp = calloc(p->nmappings + 1, sizeof(*mapp));
  map_id = calloc(p->nmappings + 1, sizeof(*map_id));
  map_src = calloc(p->nmappings + 1, 1);
  if (!maps || !mapp || !map_id || !map_src)
    goto out;
  for (size_t k = 0; k < p->nlocs; k++)  /* which mappings have line numbers, inlined frames */
    if (p->locs[k].mapping)
      map_src[p->locs[k].mapping - 1] |= (p->locs[k].line ? 1 : 0) | (p->locs[k].ninl ? 2 : 0);
  for (int pass = 0; pass < 2; pass++) {
    for (size_t i = 0; i < p->nmappings; i++) {
      const struct cpd_mapping *m = &p->mappings[i];
      int main_bin = p->exe && strcmp(m->path, p->exe) == 0;
      Perftools__Profiles__Mapping *pm;

      if (map_id[i] || (pass == 0 && !main_bin))
        continue;
      pm = &maps[nmaps];
      perftools__profiles__mapping__init(pm);
      pm->id = nmaps + 1;
      pm->memory_start = m->start;
      pm->memory_limit = m->end;
      pm->file_offset = m->pgoff;
      pm->filename = str_index(&st, m->path);
      pm->build_id = m->dso ? str_index(&st, m->dso->build_id) : 0;
      pm->has_functions = m->kernel || (m->dso && m->dso->nsyms > 0);
      pm->has_filenames = pm->has_line_numbers = (map_src[i] & 1) != 0;
      pm->has_inline_frames = (map_src[i] & 2) != 0;
      mapp[nmaps] = pm;
      map_id[i] = (uint32_t)++nmaps;
    }
  }
  prof.n_mapping = nmaps;
  prof.mapping = mapp;
  /* Functions and locations: ids are index + 1. */
  funcs = calloc(p->nfuncs + 1, sizeof(*funcs));
  funcp = calloc(p->nfuncs + 1, sizeof(*funcp));
  locs = calloc(p->nlocs + 1, sizeof(*locs));
  locp = calloc(p->nlocs + 1, sizeof(*locp));
  lines = calloc(p->nlocs + p->ninl + 1, sizeof(*lines));
  linep = calloc(p->nlocs + p->ninl + 1, sizeof(*linep));
  if (!funcs || !funcp || !locs || !locp || !lines || !linep)
    goto out;
  for (size_t i = 0; i < p->nfuncs; i++) {
    const struct cpd_function *f = &p->funcs[i];

    perftools__profiles__function__init(&funcs[i]);
    funcs[i].id = i + 1;
    funcs[i].name = str_index(&st, cpd_function_name(f));
    funcs[i].system_name = str_index(&st, f->name);  /* the raw (mangled) symbol */
    funcs[i].filename = f->file ? str_index(&st, f->file)
                        : f->mapping ? str_index(&st, p->mappings[f->mapping - 1].path) : 0;
    funcp[i] = &funcs[i];
  }
  prof.n_function = p->nfuncs;
  prof.function = funcp;
  for (size_t i = 0; i < p->nlocs; i++) {
    const struct cpd_location *l = &p->locs[i];

    perftools__profiles__location__init(&locs[i]);
    locs[i].id = i + 1;
    locs[i].mapping_id = l->mapping ? map_id[l->mapping - 1] : 0;
    locs[i].address = l->address;
    if (l->function) {
      /* Inlined functions first (innermost first), the function they are in last. */
      locs[i].line = &linep[nlines];
      for (uint32_t k = 0; k < l->ninl; k++) {
        perftools__profiles__line__init(&lines[nlines]);
        lines[nlines].function_id = p->inl[l->inl_off + k].function;
        lines[nlines].line = p->inl[l->inl_off + k].line;
        linep[nlines] = &lines[nlines];
        nlines++;
      }
      perftools__profiles__line__init(&lines[nlines]);
      lines[nlines].function_id = l->function;
      lines[nlines].line = l->line;
      linep[nlines] = &lines[nlines];
      nlines++;
      locs[i].n_line = 1 + l->ninl;
    }
    locp[i] = &locs[i];
  }
  prof.n_location = p->nlocs;
  prof.location = locp;
  /* Samples with labels. */
  samples = calloc(ag.n + 1, sizeof(*samples));
  samplep = calloc(ag.n + 1, sizeof(*samplep));
  labels = calloc(ag.n * 9 + 1, sizeof(*labels));
  labelp = calloc(ag.n * 9 + 1, sizeof(*labelp));
  values = calloc(ag.n * 2 + 1, sizeof(*values));
  for (size_t i = 0; i < ag.n; i++)
    nlocids += p->stacks[ag.v[i].stack].len;
  loc_ids = calloc(nlocids + 1, sizeof(*loc_ids));
  if (!samples || !samplep || !labels || !labelp || !values || !loc_ids)
    goto out;
  nlocids = 0;
  for (size_t i = 0; i < ag.n; i++) {
    const struct agg *g = &ag.v[i];
    const struct cpd_stack *stk = &p->stacks[g->stack];
    Perftools__Profiles__Sample *ps = &samples[i];
    struct cpd_sample_ctx ctx;
    size_t first_label = nlabels;

    cpd_join(s, tl, p, g->first, &ctx);
    perftools__profiles__sample__init(ps);
    for (uint32_t k = 0; k < stk->len; k++)
      loc_ids[nlocids + k] = p->frames[stk->off + k];
    ps->n_location_id = stk->len;
    ps->location_id = loc_ids + nlocids;
    nlocids += stk->len;
    values[2 * i] = g->count;
    values[2 * i + 1] = g->ns;
    ps->n_value = 2;
    ps->value = values + 2 * i;
    /* Numbers are never 0 (pprof drops a 0 without a unit): ids of 0 are left out. */
    add_num_label(&labels[nlabels++], &st, "pid", p->pid);
    add_num_label(&labels[nlabels++], &st, "thread_id", ctx.tid);
    add_str_label(&labels[nlabels++], &st, "thread_name", ctx.thread_name);
    if (ctx.worker) {
      add_str_label(&labels[nlabels++], &st, "worker", ctx.worker);
      if (ctx.worker_id > 0)
        add_num_label(&labels[nlabels++], &st, "worker_id", ctx.worker_id);
    }
    if (ctx.task) {
      add_str_label(&labels[nlabels++], &st, "task", ctx.task_name);
      if (ctx.task->task_id)
        add_num_label(&labels[nlabels++], &st, "task_id", (int64_t)ctx.task->task_id);
      if (ctx.task->has_span) {
        /* Span profiles: Pyroscope links samples to a trace span by these two labels. */
        char hex[17];

        snprintf(hex, sizeof(hex), "%016" PRIx64, ctx.task->span_id);
        add_str_label(&labels[nlabels++], &st, "span_id", hex);
        add_str_label(&labels[nlabels++], &st, "span_name",
                      cpd_session_string(s, ctx.task->span_name_id)
                          ? cpd_session_string(s, ctx.task->span_name_id) : "unnamed");
      }
    }
    for (size_t k = first_label; k < nlabels; k++)
      labelp[k] = &labels[k];
    ps->n_label = nlabels - first_label;
    ps->label = labelp + first_label;
    samplep[i] = ps;
  }
  prof.n_sample = ag.n;
  prof.sample = samplep;
  /* Comments: what produced this and what was lost. */
  comments[ncomments++] = str_index(&st, "ceoprof " PACKAGE_VERSION);
  if (info->samples && info->summed_by_bpf)
    snprintf(text, sizeof(text), "event: sched:sched_switch, the time off the CPU summed per "
             "thread and stack at switch-out by the BPF helper (no task labels)");
  else if (info->samples)
    snprintf(text, sizeof(text), "event: sched:sched_switch, the stack at each switch-out, "
             "weighted by the time until the thread ran again");
  else
    snprintf(text, sizeof(text), "event: %s, rate: %d Hz", info->event, info->hz);
  comments[ncomments++] = str_index(&st, text);
  if (info->dwarf_stack)
    snprintf(text, sizeof(text), "stacks: DWARF unwinding (libunwind) over %u bytes of user "
             "stack per sample", info->dwarf_stack);
  else
    snprintf(text, sizeof(text), "stacks: frame pointers");
  comments[ncomments++] = str_index(&st, text);
  snprintf(text, sizeof(text), "lost: %llu records, %llu samples; truncated stacks: %llu",
           (unsigned long long)p->lost_records, (unsigned long long)p->lost_samples,
           (unsigned long long)p->truncated);
  comments[ncomments++] = str_index(&st, text);
  prof.n_comment = ncomments;
  prof.comment = comments;
  prof.n_string_table = st.n;
  prof.string_table = st.v;
  {
    size_t len = perftools__profiles__profile__get_packed_size(&prof);

    buf = malloc(len ? len : 1);
    if (!buf)
      goto out;
    perftools__profiles__profile__pack(&prof, buf);
    rc = write_gz(path, buf, len);
  }
out:
  free(buf);
  free(maps);
  free(mapp);
  free(map_id);
  free(funcs);
  free(funcp);
  free(locs);
  free(locp);
  free(lines);
  free(linep);
  free(map_src);
  free(samples);
  free(samplep);
  free(labels);
  free(labelp);
  free(values);
  free(loc_ids);
  free(ag.v);
  free(ag.h);
  strtab_free(&st);
  return rc;
}
