/* report.c: ceoprof report FILE.pb.gz: a profile as a table by function, worker, task or thread. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "hindex.h"
#include "pprof_file.h"
#include "util.h"

typedef Perftools__Profiles__Profile profile_t;

struct row {
  char *key;                 /* owned */
  int64_t flat, cum;         /* in the chosen sample type */
  int64_t samples;           /* samples/count when the profile has it */
  size_t last_sample;        /* the sample that last added to cum (count each once) */
  int in_inline, in_call;    /* has callers it is inlined into / callers that call it */
};

/* A caller -> callee pair, as go tool pprof's graph keeps it: inlined only if every time. */
struct edge {
  size_t from, to;           /* row indexes */
  size_t last_sample;        /* count each pair once per sample (the first, from the root) */
  int inlined;
};

struct table {
  struct row *rows;
  size_t n, cap;
  struct cp_hindex index;    /* rows by key */
  struct edge *edges;
  size_t n_edges, edges_cap;
  struct cp_hindex edge_index; /* edges by (from, to) */
};

static uint64_t row_hash(const void *ctx, uint32_t idx)
{
  return cp_hash_str(((const struct table *)ctx)->rows[idx].key);
}

static int row_eq(const void *ctx, uint32_t idx, const void *key)
{
  return strcmp(((const struct table *)ctx)->rows[idx].key, key) == 0;
}

static const char *str(const profile_t *p, int64_t i)
{
  return i >= 0 && (size_t)i < p->n_string_table ? p->string_table[i] : "";
}

static struct row *row_of(struct table *t, const char *key)
{
  uint64_t h = cp_hash_str(key);
  int64_t at = cp_hindex_find(&t->index, h, row_eq, t, key);
  char *copy;

  if (at >= 0)
    return &t->rows[at];
  if (cpd_grow(&t->rows, &t->cap, t->n, sizeof(*t->rows)) < 0 || !(copy = strdup(key)))
    return NULL;
  t->rows[t->n] = (struct row){ .key = copy, .last_sample = SIZE_MAX };
  if (cp_hindex_insert(&t->index, h, (uint32_t)t->n, row_hash, t) < 0) {
    free(copy);
    return NULL;
  }
  return &t->rows[t->n++];
}

static uint64_t edge_key_hash(size_t from, size_t to)
{
  return cp_hash_u64((uint64_t)from << 32 ^ to);
}

static uint64_t edge_hash(const void *ctx, uint32_t idx)
{
  const struct edge *e = &((const struct table *)ctx)->edges[idx];

  return edge_key_hash(e->from, e->to);
}

static int edge_eq(const void *ctx, uint32_t idx, const void *key)
{
  const struct edge *e = &((const struct table *)ctx)->edges[idx], *k = key;

  return e->from == k->from && e->to == k->to;
}

/* Adds V and CNT to the row of KEY (flat and cum alike). 0 or -1. */
static int add_to_row(struct table *t, const char *key, int64_t v, int64_t cnt)
{
  struct row *r = row_of(t, key);

  if (!r)
    return -1;
  r->flat += v;
  r->cum += v;
  r->samples += cnt;
  return 0;
}

/* Note that row `from` called row `to` in sample `sample`, inlined or not. */
static int add_edge(struct table *t, size_t from, size_t to, size_t sample, int inlined)
{
  struct edge k = { from, to, sample, inlined };
  uint64_t h = edge_key_hash(from, to);
  int64_t at = cp_hindex_find(&t->edge_index, h, edge_eq, t, &k);

  if (at < 0) {
    if (cpd_grow(&t->edges, &t->edges_cap, t->n_edges, sizeof(*t->edges)) < 0 ||
        cp_hindex_insert(&t->edge_index, h, (uint32_t)t->n_edges, edge_hash, t) < 0)
      return -1;
    t->edges[t->n_edges++] = k;
  } else if (t->edges[at].last_sample != sample) {
    t->edges[at].last_sample = sample;
    if (!inlined)
      t->edges[at].inlined = 0;
  }
  return 0;
}

/* go tool pprof's "(inline)": every caller inlined the function; "(partial-inline)": some did. */
static void mark_inlined(struct table *t)
{
  for (size_t j = 0; j < t->n_edges; j++) {
    struct row *r = &t->rows[t->edges[j].to];

    if (t->edges[j].inlined)
      r->in_inline = 1;
    else
      r->in_call = 1;
  }
}

static const char *inline_mark(const struct row *r)
{
  return !r->in_inline ? "" : r->in_call ? " (partial-inline)" : " (inline)";
}

static const Perftools__Profiles__Location *location(const profile_t *p, uint64_t id)
{
  /* Our writer and most others number locations 1..n in order; fall back to a search. */
  if (id >= 1 && id <= p->n_location && p->location[id - 1]->id == id)
    return p->location[id - 1];
  for (size_t i = 0; i < p->n_location; i++)
    if (p->location[i]->id == id)
      return p->location[i];
  return NULL;
}

/* Removes every outermost OPEN..CLOSE group from NAME, in place, as go tool pprof's
 * removeMatching does; NAME is left whole when they do not pair up. */
static void remove_matching(char *name, char open, char close)
{
  char *copy = strdup(name), *out = name;
  const char *group = NULL;  /* where the outermost open group began in COPY */
  int nesting = 0;

  if (!copy)
    return;
  for (const char *p = copy; *p; p++) {
    if (*p == open) {
      if (nesting++ == 0)
        group = p;
    } else if (*p == close) {
      if (--nesting < 0) {  /* a close without its open: pprof leaves the name whole */
        strcpy(name, copy);
        free(copy);
        return;
      }
    } else if (nesting == 0) {
      *out++ = *p;
    }
  }
  if (nesting > 0)  /* a group never closed stays, as in pprof */
    out += sprintf(out, "%s", group);
  *out = '\0';
  free(copy);
}

/*
 * The name go tool pprof shows for function ID. A name that is its own system name (not
 * demangled by the writer: DWARF's names of inlined functions) and looks like demangled
 * C++ is simplified as pprof's default demangling does: no parameters, no template
 * parameters. BUF holds the simplified copy.
 */
static const char *function_name_buf(const profile_t *p, uint64_t id, char *buf, size_t size)
{
  const Perftools__Profiles__Function *f = NULL;
  const char *name;

  if (id >= 1 && id <= p->n_function && p->function[id - 1]->id == id)
    f = p->function[id - 1];
  for (size_t i = 0; !f && i < p->n_function; i++)
    if (p->function[i]->id == id)
      f = p->function[i];
  if (!f)
    return "<unknown>";
  name = str(p, f->name);
  if (f->name != f->system_name || strstr(name, ".<") ||
      (!strpbrk(name, "<>[]") && !strstr(name, "::")) ||
      snprintf(buf, size, "%s", name) >= (int)size)
    return name;
  remove_matching(buf, '(', ')');
  remove_matching(buf, '<', '>');
  return buf;
}

/* The name go tool pprof shows for a location without a function: its file, in brackets. */
static const char *mapping_name(const profile_t *p, uint64_t id, char *buf, size_t size)
{
  for (size_t i = 0; i < p->n_mapping; i++)
    if (p->mapping[i]->id == id) {
      const char *f = str(p, p->mapping[i]->filename), *slash = strrchr(f, '/');

      snprintf(buf, size, "[%s]", slash ? slash + 1 : f);  /* as go tool pprof: [[vdso]] too */
      return buf;
    }
  return "<unknown>";
}

static const char *label(const profile_t *p, const Perftools__Profiles__Sample *s, const char *key)
{
  for (size_t i = 0; i < s->n_label; i++)
    if (strcmp(str(p, s->label[i]->key), key) == 0 && s->label[i]->str)
      return str(p, s->label[i]->str);
  return "(none)";
}

static int cmp_flat(const void *a, const void *b)
{
  const struct row *x = a, *y = b;

  if (x->flat != y->flat)
    return x->flat < y->flat ? 1 : -1;
  if (x->cum != y->cum)
    return x->cum < y->cum ? 1 : -1;
  return strcmp(x->key, y->key);
}

static void fmt_value(char *buf, size_t size, int64_t v, const char *unit)
{
  if (strcmp(unit, "nanoseconds") == 0) {
    double ms = (double)v / 1e6;

    if (ms >= 1000)
      snprintf(buf, size, "%.2fs", ms / 1000);
    else
      snprintf(buf, size, "%.2fms", ms);
  } else {
    snprintf(buf, size, "%" PRId64, v);
  }
}

/* Adds sample I's value V and count CNT to its functions' rows: cum once per function,
 * flat to the leaf, and the caller->callee edges (for the inline marks). 0 or -1. */
static int add_by_function(struct table *t, const profile_t *p, size_t i, int64_t v, int64_t cnt)
{
  const Perftools__Profiles__Sample *s = p->sample[i];
  size_t parent = SIZE_MAX;
  char mname[256], fname[1024];

  /* From the root to the leaf, as go tool pprof walks a sample; the leaf gets the flat. */
  for (size_t l = s->n_location_id; l-- > 0;) {
    const Perftools__Profiles__Location *loc = location(p, s->location_id[l]);
    size_t nl = loc ? (loc->n_line ? loc->n_line : 1) : 1;

    /* Inlined frames: line[0] is the innermost, the last the function it was inlined into. */
    for (size_t k = nl; k-- > 0;) {
      const char *name = !loc ? "<unknown>"
                         : loc->n_line ? function_name_buf(p, loc->line[k]->function_id, fname,
                                                           sizeof(fname))
                                       : mapping_name(p, loc->mapping_id, mname, sizeof(mname));
      struct row *r = row_of(t, name);
      size_t ri;

      if (!r)
        return -1;
      ri = (size_t)(r - t->rows);
      if (r->last_sample != i) {
        r->cum += v;
        r->last_sample = i;
      }
      if (parent != SIZE_MAX && parent != ri && add_edge(t, parent, ri, i, k + 1 < nl) < 0)
        return -1;
      parent = ri;
    }
  }
  if (parent != SIZE_MAX) {
    t->rows[parent].flat += v;
    t->rows[parent].samples += cnt;
  }
  return s->n_location_id == 0 ? add_to_row(t, "(no stack)", v, cnt) : 0;
}

/* Fills T by BY (function, worker, task or thread) from P's sample type VI (CI: counts). */
static int fill_table(struct table *t, const profile_t *p, const char *by, int vi, int ci,
                      int64_t *total, int64_t *nsamples)
{
  for (size_t i = 0; i < p->n_sample; i++) {
    const Perftools__Profiles__Sample *s = p->sample[i];
    int64_t v = (size_t)vi < s->n_value ? s->value[vi] : 0;
    int64_t cnt = ci >= 0 && (size_t)ci < s->n_value ? s->value[ci] : 0;
    int rc;

    *total += v;
    *nsamples += cnt;
    if (strcmp(by, "function") == 0)
      rc = add_by_function(t, p, i, v, cnt);
    else
      rc = add_to_row(t, strcmp(by, "worker") == 0 ? label(p, s, "worker")
                         : strcmp(by, "task") == 0 ? label(p, s, "task")
                                                   : label(p, s, "thread_name"), v, cnt);
    if (rc < 0)
      return -1;
  }
  return 0;
}

static void print_table(const struct table *t, const profile_t *p, const char *path,
                        const char *by, int top, int vi, int64_t total, int64_t nsamples)
{
  const char *type = str(p, p->sample_type[vi]->type), *unit = str(p, p->sample_type[vi]->unit);
  char tot[32];

  fmt_value(tot, sizeof(tot), total, unit);
  printf("File: %s\nType: %s (%s)\nDuration: %.2f s, total %s in %" PRId64 " samples\n", path,
         type, unit, (double)p->duration_nanos / 1e9, tot, nsamples);
  for (size_t i = 0; i < p->n_comment; i++)
    printf("%s\n", str(p, p->comment[i]));
  printf("%10s %7s %10s %7s %9s  %s\n", "flat", "flat%", "cum", "cum%", "samples", by);
  for (size_t i = 0; i < t->n && (top <= 0 || (int)i < top); i++) {
    const struct row *r = &t->rows[i];
    char fl[32], cu[32];

    fmt_value(fl, sizeof(fl), r->flat, unit);
    fmt_value(cu, sizeof(cu), r->cum, unit);
    printf("%10s %6.2f%% %10s %6.2f%% %9" PRId64 "  %s%s\n", fl,
           total ? 100.0 * (double)r->flat / (double)total : 0.0, cu,
           total ? 100.0 * (double)r->cum / (double)total : 0.0, r->samples, r->key,
           inline_mark(r));
  }
  if (top > 0 && t->n > (size_t)top)
    printf("(%zu more; --top N shows more)\n", t->n - (size_t)top);
}

static int report_pprof(const char *path, const char *by, int top)
{
  char err[512];
  profile_t *p = cpc_pprof_load(path, err, sizeof(err));
  struct table t = { 0 };
  int vi, ci = -1, rc = 0;
  int64_t total = 0, nsamples = 0;

  if (!p) {
    fprintf(stderr, "ceoprof report: %s\n", err);
    return 1;
  }
  /* The default sample type, else the last one (go tool pprof's rule). */
  vi = (int)p->n_sample_type - 1;
  for (size_t i = 0; i < p->n_sample_type; i++) {
    if (p->default_sample_type && p->sample_type[i]->type == p->default_sample_type)
      vi = (int)i;
    if (strcmp(str(p, p->sample_type[i]->type), "samples") == 0)
      ci = (int)i;
  }
  if (fill_table(&t, p, by, vi, ci, &total, &nsamples) < 0) {
    rc = 1;
    goto out;
  }
  cp_hindex_free(&t.index);  /* rows are sorted now: the index would be stale */
  mark_inlined(&t);
  if (t.n > 1)
    qsort(t.rows, t.n, sizeof(*t.rows), cmp_flat);
  print_table(&t, p, path, by, top, vi, total, nsamples);
out:
  for (size_t i = 0; i < t.n; i++)
    free(t.rows[i].key);
  free(t.rows);
  cp_hindex_free(&t.index);
  cp_hindex_free(&t.edge_index);
  free(t.edges);
  perftools__profiles__profile__free_unpacked(p, NULL);
  return rc;
}

static int ends_with(const char *s, const char *suffix)
{
  size_t a = strlen(s), b = strlen(suffix);

  return a >= b && strcmp(s + a - b, suffix) == 0;
}

int cpc_report(int argc, char **argv)
{
  static const struct option opts[] = {
    { "by", required_argument, NULL, 'b' },
    { "top", required_argument, NULL, 'n' },
    { "waits", no_argument, NULL, 'w' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  const char *by = NULL;
  char *end;
  int opt, top = 20, waits = 0;

  optind = 1;
  while ((opt = getopt_long(argc, argv, "b:n:wh", opts, NULL)) != -1) {
    switch (opt) {
    case 'b':
      by = optarg;
      if (strcmp(by, "function") && strcmp(by, "worker") && strcmp(by, "task") &&
          strcmp(by, "thread")) {
        fprintf(stderr, "ceoprof report: --by takes function, worker, task or thread, not '%s'\n",
                by);
        return 2;
      }
      break;
    case 'n':
      top = (int)strtol(optarg, &end, 10);
      if (*end || top < 0) {
        fprintf(stderr, "ceoprof report: --top needs a count (0: all), not '%s'\n", optarg);
        return 2;
      }
      break;
    case 'w':
      waits = 1;
      break;
    case 'h':
      cpc_usage(stdout, "report");
      return 0;
    default:
      fputs("Try 'ceoprof report --help'.\n", stderr);
      return 2;
    }
  }
  if (optind != argc - 1) {
    fprintf(stderr, "ceoprof report: give one FILE.pb.gz, FILE.trace.json or FILE.pftrace\n");
    return 2;
  }
  if (waits) {
    if (!ends_with(argv[optind], ".json")) {
      fprintf(stderr, "ceoprof report: --waits reads the trace: give PREFIX.trace.json, not %s\n",
              argv[optind]);
      return 2;
    }
    if (by && strcmp(by, "task") && strcmp(by, "worker")) {
      fprintf(stderr, "ceoprof report: --waits goes --by task or worker, not '%s'\n", by);
      return 2;
    }
    return cpc_report_waits(argv[optind], by ? by : "task", top);
  }
  if (ends_with(argv[optind], ".pftrace")) {
    if (by) {
      fprintf(stderr, "ceoprof report: a trace's task durations are by task name; --by %s "
              "goes with a .pb.gz profile\n", by);
      return 2;
    }
    return cpc_report_pftrace(argv[optind], top);
  }
  if (ends_with(argv[optind], ".json")) {
    if (by) {
      fprintf(stderr, "ceoprof report: a trace's task durations are by task name; --by %s "
              "goes with a .pb.gz profile, or with --waits (task or worker)\n", by);
      return 2;
    }
    return cpc_report_trace(argv[optind], top);
  }
  return report_pprof(argv[optind], by ? by : "function", top);
}
