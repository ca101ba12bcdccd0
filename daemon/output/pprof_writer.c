/* pprof_writer.c: where summed samples become pprof: string table, mappings, functions,
 * locations, samples with labels, comments; protobuf-c encoding, gzip. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "hindex.h"
#include "output/pprof_writer.h"
#include "util.h"
#include "profile.pb-c.h"

typedef Perftools__Profiles__Profile pb_profile;

#define MAX_LABELS 10 /* per sample: pid, process, thread_id, thread_name, worker, worker_id,
                       * task, task_id, span_id, span_name */

/* The string table: index 0 is "", every other string once. */
struct strtab {
  char **v;
  size_t n, cap;
  struct cp_hindex index;
};

static uint64_t str_hash(const void *ctx, uint32_t idx)
{
  return cp_hash_str(((const struct strtab *)ctx)->v[idx]);
}

static int str_eq(const void *ctx, uint32_t idx, const void *key)
{
  return strcmp(((const struct strtab *)ctx)->v[idx], key) == 0;
}

/* The index of S in the table (0 for "" or NULL, and when out of memory). */
static int64_t str_index(struct strtab *t, const char *s)
{
  uint64_t h;
  int64_t at;
  char *copy;

  if (!s || !*s)
    return 0;
  h = cp_hash_str(s);
  if ((at = cp_hindex_find(&t->index, h, str_eq, t, s)) >= 0)
    return at;
  if (cpd_grow(&t->v, &t->cap, t->n, sizeof(*t->v)) < 0 || !(copy = strdup(s)))
    return 0;
  t->v[t->n] = copy;
  if (cp_hindex_insert(&t->index, h, (uint32_t)t->n, str_hash, t) < 0) {
    free(copy);
    return 0;
  }
  return (int64_t)t->n++;
}

/* string_table[0] must be "". */
static int strtab_init(struct strtab *t)
{
  memset(t, 0, sizeof(*t));
  if (cpd_grow(&t->v, &t->cap, 0, sizeof(*t->v)) < 0 || !(t->v[0] = strdup("")))
    return -ENOMEM;
  t->n = 1;
  return 0;
}

static void strtab_free(struct strtab *t)
{
  for (size_t i = 0; i < t->n; i++)
    free(t->v[i]);
  free(t->v);
  cp_hindex_free(&t->index);
}

/* Everything one profile's encoding needs, freed in one place. */
struct pb {
  pb_profile prof;
  struct strtab st;
  Perftools__Profiles__ValueType vt[3], *vtp[2];
  Perftools__Profiles__Mapping *maps, **mapp;
  uint32_t *map_id;            /* profile mapping index -> pprof mapping id */
  Perftools__Profiles__Function *funcs, **funcp;
  Perftools__Profiles__Location *locs, **locp;
  Perftools__Profiles__Line *lines, **linep;
  Perftools__Profiles__Sample *samples, **samplep;
  Perftools__Profiles__Label *labels, **labelp;
  uint64_t *loc_ids;
  int64_t *values, comments[8];
};

static void pb_free(struct pb *b)
{
  free(b->maps);
  free(b->mapp);
  free(b->map_id);
  free(b->funcs);
  free(b->funcp);
  free(b->locs);
  free(b->locp);
  free(b->lines);
  free(b->linep);
  free(b->samples);
  free(b->samplep);
  free(b->labels);
  free(b->labelp);
  free(b->values);
  free(b->loc_ids);
  strtab_free(&b->st);
}

/* Sample types samples/count and KIND/nanoseconds, and the period. */
static void add_sample_types(struct pb *b, const struct cpd_pprof_info *info)
{
  int offcpu = info->kind == CPD_PPROF_OFFCPU;

  for (int i = 0; i < 3; i++)
    perftools__profiles__value_type__init(&b->vt[i]);
  b->vt[0].type = str_index(&b->st, "samples");
  b->vt[0].unit = str_index(&b->st, "count");
  b->vt[1].type = str_index(&b->st, offcpu ? "off_cpu" : "cpu");
  b->vt[1].unit = str_index(&b->st, "nanoseconds");
  b->vt[2] = b->vt[1];
  b->vtp[0] = &b->vt[0];
  b->vtp[1] = &b->vt[1];
  b->prof.n_sample_type = 2;
  b->prof.sample_type = b->vtp;
  b->prof.period_type = &b->vt[2];
  b->prof.period = !offcpu && info->hz > 0 ? 1000000000 / info->hz : 0;
  b->prof.default_sample_type = b->vt[1].type;
  b->prof.time_nanos = (int64_t)info->time_nanos;
  b->prof.duration_nanos = (int64_t)info->duration_nanos;
}

/* Mappings, the main binary first, with what their locations know (lines, inlining). */
static int add_mappings(struct pb *b, const struct cpd_profile *p)
{
  uint8_t *src = calloc(p->nmappings + 1, 1);  /* per mapping: 1 line numbers, 2 inlined */
  size_t n = 0;

  b->maps = calloc(p->nmappings + 1, sizeof(*b->maps));
  b->mapp = calloc(p->nmappings + 1, sizeof(*b->mapp));
  b->map_id = calloc(p->nmappings + 1, sizeof(*b->map_id));
  if (!src || !b->maps || !b->mapp || !b->map_id) {
    free(src);
    return -ENOMEM;
  }
  for (size_t k = 0; k < p->nlocs; k++)
    if (p->locs[k].mapping)
      src[p->locs[k].mapping - 1] |= (p->locs[k].line ? 1 : 0) | (p->locs[k].ninl ? 2 : 0);
  for (int pass = 0; pass < 2; pass++) {
    for (size_t i = 0; i < p->nmappings; i++) {
      const struct cpd_mapping *m = &p->mappings[i];
      const char *exe = cpd_profile_exe(p, m->pid);
      int main_bin = exe && m->pid == p->pid && strcmp(m->path, exe) == 0;
      Perftools__Profiles__Mapping *pm = &b->maps[n];

      if (b->map_id[i] || (pass == 0 && !main_bin))
        continue;
      perftools__profiles__mapping__init(pm);
      pm->id = n + 1;
      pm->memory_start = m->start;
      pm->memory_limit = m->end;
      pm->file_offset = m->pgoff;
      pm->filename = str_index(&b->st, m->path);
      pm->build_id = m->dso ? str_index(&b->st, m->dso->build_id) : 0;
      pm->has_functions = m->kernel || (m->dso && m->dso->nsyms > 0);
      pm->has_filenames = pm->has_line_numbers = (src[i] & 1) != 0;
      pm->has_inline_frames = (src[i] & 2) != 0;
      b->mapp[n] = pm;
      b->map_id[i] = (uint32_t)++n;
    }
  }
  free(src);
  b->prof.n_mapping = n;
  b->prof.mapping = b->mapp;
  return 0;
}

/* Functions, then locations with their lines (inlined functions first, innermost first,
 * the function they are in last). Ids are index + 1. */
static int add_functions_and_locations(struct pb *b, const struct cpd_profile *p)
{
  size_t nlines = 0;

  b->funcs = calloc(p->nfuncs + 1, sizeof(*b->funcs));
  b->funcp = calloc(p->nfuncs + 1, sizeof(*b->funcp));
  b->locs = calloc(p->nlocs + 1, sizeof(*b->locs));
  b->locp = calloc(p->nlocs + 1, sizeof(*b->locp));
  b->lines = calloc(p->nlocs + p->ninl + 1, sizeof(*b->lines));
  b->linep = calloc(p->nlocs + p->ninl + 1, sizeof(*b->linep));
  if (!b->funcs || !b->funcp || !b->locs || !b->locp || !b->lines || !b->linep)
    return -ENOMEM;
  for (size_t i = 0; i < p->nfuncs; i++) {
    const struct cpd_function *f = &p->funcs[i];
    Perftools__Profiles__Function *pf = &b->funcs[i];

    perftools__profiles__function__init(pf);
    pf->id = i + 1;
    pf->name = str_index(&b->st, cpd_function_name(f));
    pf->system_name = str_index(&b->st, f->name);  /* the raw (mangled) symbol */
    pf->filename = f->file ? str_index(&b->st, f->file)
                   : f->mapping ? str_index(&b->st, p->mappings[f->mapping - 1].path) : 0;
    b->funcp[i] = pf;
  }
  b->prof.n_function = p->nfuncs;
  b->prof.function = b->funcp;
  for (size_t i = 0; i < p->nlocs; i++) {
    const struct cpd_location *l = &p->locs[i];
    Perftools__Profiles__Location *pl = &b->locs[i];

    perftools__profiles__location__init(pl);
    pl->id = i + 1;
    pl->mapping_id = l->mapping ? b->map_id[l->mapping - 1] : 0;
    pl->address = l->address;
    if (l->function) {
      pl->line = &b->linep[nlines];
      for (uint32_t k = 0; k <= l->ninl; k++) {
        Perftools__Profiles__Line *ln = &b->lines[nlines];

        perftools__profiles__line__init(ln);
        ln->function_id = k < l->ninl ? p->inl[l->inl_off + k].function : l->function;
        ln->line = k < l->ninl ? p->inl[l->inl_off + k].line : l->line;
        b->linep[nlines++] = ln;
      }
      pl->n_line = 1 + l->ninl;
    }
    b->locp[i] = pl;
  }
  b->prof.n_location = p->nlocs;
  b->prof.location = b->locp;
  return 0;
}

static void str_label(Perftools__Profiles__Label *l, struct strtab *st, const char *k,
                      const char *v)
{
  perftools__profiles__label__init(l);
  l->key = str_index(st, k);
  l->str = str_index(st, v);
}

static void num_label(Perftools__Profiles__Label *l, struct strtab *st, const char *k, int64_t v)
{
  perftools__profiles__label__init(l);
  l->key = str_index(st, k);
  l->num = v;
}

/* The labels of one sample into L; returns how many. Numbers are never 0 (pprof drops a
 * 0 without a unit): ids of 0 are left out. */
static size_t sample_labels(struct strtab *st, const struct cpd_profile *p,
                            const struct cpd_sample_ctx *c, Perftools__Profiles__Label *l)
{
  size_t n = 0;

  uint32_t pid = cpd_profile_pid_of(p, c->tid);
  const char *process = cpd_profile_comm(p, pid);

  num_label(&l[n++], st, "pid", pid);
  if (pid != p->pid && process)  /* a child followed: its name, so a tree stays readable */
    str_label(&l[n++], st, "process", process);
  num_label(&l[n++], st, "thread_id", c->tid);
  str_label(&l[n++], st, "thread_name", c->thread_name);
  if (c->worker) {
    str_label(&l[n++], st, "worker", c->worker);
    if (c->worker_id > 0)
      num_label(&l[n++], st, "worker_id", c->worker_id);
  }
  if (c->task) {
    str_label(&l[n++], st, "task", c->task_name);
    if (c->task->task_id)
      num_label(&l[n++], st, "task_id", (int64_t)c->task->task_id);
    if (c->span_name) {
      /* Span profiles: Pyroscope links samples to a trace span by these two labels. */
      char hex[17];

      snprintf(hex, sizeof(hex), "%016" PRIx64, c->task->span_id);
      str_label(&l[n++], st, "span_id", hex);
      str_label(&l[n++], st, "span_name", c->span_name);
    }
  }
  return n;
}

static int add_samples(struct pb *b, const struct cpd_profile *p, const struct cpd_session *s,
                       const struct cpd_aggs *a)
{
  size_t nlabels = 0, nlocids = 0;

  for (size_t i = 0; i < a->n; i++)
    nlocids += p->stacks[a->v[i].stack].len;
  b->samples = calloc(a->n + 1, sizeof(*b->samples));
  b->samplep = calloc(a->n + 1, sizeof(*b->samplep));
  b->labels = calloc(a->n * MAX_LABELS + 1, sizeof(*b->labels));
  b->labelp = calloc(a->n * MAX_LABELS + 1, sizeof(*b->labelp));
  b->values = calloc(a->n * 2 + 1, sizeof(*b->values));
  b->loc_ids = calloc(nlocids + 1, sizeof(*b->loc_ids));
  if (!b->samples || !b->samplep || !b->labels || !b->labelp || !b->values || !b->loc_ids)
    return -ENOMEM;
  nlocids = 0;
  for (size_t i = 0; i < a->n; i++) {
    const struct cpd_agg *g = &a->v[i];
    const struct cpd_stack *stk = &p->stacks[g->stack];
    Perftools__Profiles__Sample *ps = &b->samples[i];
    size_t first = nlabels;
    struct cpd_sample_ctx ctx;

    perftools__profiles__sample__init(ps);
    for (uint32_t k = 0; k < stk->len; k++)
      b->loc_ids[nlocids + k] = p->frames[stk->off + k];
    ps->n_location_id = stk->len;
    ps->location_id = b->loc_ids + nlocids;
    nlocids += stk->len;
    b->values[2 * i] = g->count;
    b->values[2 * i + 1] = g->value;
    ps->n_value = 2;
    ps->value = b->values + 2 * i;
    cpd_join(s, p, g, &ctx);
    nlabels += sample_labels(&b->st, p, &ctx, b->labels + nlabels);
    for (size_t k = first; k < nlabels; k++)
      b->labelp[k] = &b->labels[k];
    ps->n_label = nlabels - first;
    ps->label = b->labelp + first;
    b->samplep[i] = ps;
  }
  b->prof.n_sample = a->n;
  b->prof.sample = b->samplep;
  return 0;
}

/* Comments: what produced this profile and what was lost. */
static void add_comments(struct pb *b, const struct cpd_profile *p,
                         const struct cpd_pprof_info *info)
{
  size_t n = 0;
  char text[256];

  b->comments[n++] = str_index(&b->st, "ceoprof " PACKAGE_VERSION);
  if (info->kind == CPD_PPROF_OFFCPU && info->offcpu_sampled_ns)
    snprintf(text, sizeof(text), "event: sched_switch (BPF), the stack when the thread is back "
             "on the CPU, taken with probability min(1, off/P) and weighted max(off, P), "
             "P = %.3f ms", (double)info->offcpu_sampled_ns / 1e6);
  else if (info->kind == CPD_PPROF_OFFCPU)
    snprintf(text, sizeof(text), "event: sched:sched_switch, the stack at each switch-out, "
             "weighted by the time until the thread ran again");
  else
    snprintf(text, sizeof(text), "event: %s, rate: %d Hz", info->event, info->hz);
  b->comments[n++] = str_index(&b->st, text);
  if (info->dwarf_stack)
    snprintf(text, sizeof(text), "stacks: DWARF unwinding (libunwind) over %u bytes of user "
             "stack per sample", info->dwarf_stack);
  else
    snprintf(text, sizeof(text), "stacks: frame pointers");
  b->comments[n++] = str_index(&b->st, text);
  if (info->mode && info->kind == CPD_PPROF_CPU) {
    snprintf(text, sizeof(text), "mode: %s", info->mode);
    b->comments[n++] = str_index(&b->st, text);
  }
  if (info->kernel && info->kind == CPD_PPROF_CPU) {
    snprintf(text, sizeof(text), "kernel: %s", info->kernel);
    b->comments[n++] = str_index(&b->st, text);
  }
  snprintf(text, sizeof(text), "lost: %llu records, %llu samples; truncated stacks: %llu",
           (unsigned long long)p->lost_records, (unsigned long long)p->lost_samples,
           (unsigned long long)p->truncated);
  b->comments[n++] = str_index(&b->st, text);
  b->prof.n_comment = n;
  b->prof.comment = b->comments;
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
                    const struct cpd_aggs *a, const struct cpd_pprof_info *info)
{
  struct pb b = { .prof = PERFTOOLS__PROFILES__PROFILE__INIT };
  uint8_t *buf = NULL;
  size_t len;
  int rc = strtab_init(&b.st);

  if (rc < 0)
    goto out;
  add_sample_types(&b, info);
  if ((rc = add_mappings(&b, p)) < 0 || (rc = add_functions_and_locations(&b, p)) < 0 ||
      (rc = add_samples(&b, p, s, a)) < 0)
    goto out;
  add_comments(&b, p, info);
  b.prof.n_string_table = b.st.n;
  b.prof.string_table = b.st.v;
  len = perftools__profiles__profile__get_packed_size(&b.prof);
  buf = malloc(len ? len : 1);
  if (!buf) {
    rc = -ENOMEM;
    goto out;
  }
  perftools__profiles__profile__pack(&b.prof, buf);
  rc = write_gz(path, buf, len);
out:
  free(buf);
  pb_free(&b);
  return rc;
}
