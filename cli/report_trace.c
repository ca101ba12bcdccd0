/* report_trace.c: ceoprof report FILE.trace.json: task durations per task name. */
#include "config.h"

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "cli.h"

struct task_stats {
  const char *name;      /* owned by the parsed JSON */
  double *durs;          /* microseconds */
  size_t n, cap;
  double total;
};

static int cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;

  return (x > y) - (x < y);
}

static int cmp_total_desc(const void *a, const void *b)
{
  const struct task_stats *x = a, *y = b;

  return (x->total < y->total) - (x->total > y->total);
}

/* The nearest-rank percentile P of sorted V[0..n). */
static double percentile(const double *v, size_t n, double p)
{
  size_t rank = (size_t)(p / 100.0 * (double)n + 0.999999);

  return v[rank ? rank - 1 : 0];
}

static void fmt_us(char *buf, size_t size, double us)
{
  if (us >= 1e6)
    snprintf(buf, size, "%.2fs", us / 1e6);
  else if (us >= 1e3)
    snprintf(buf, size, "%.2fms", us / 1e3);
  else
    snprintf(buf, size, "%.1fus", us);
}

json_object *cpc_trace_read(const char *path, json_object **events)
{
  json_object *root = json_object_from_file(path);

  if (!root || !json_object_object_get_ex(root, "traceEvents", events) ||
      !json_object_is_type(*events, json_type_array)) {
    fprintf(stderr, "ceoprof report: %s is not a Chrome trace JSON file (%s)\n", path,
            root ? "no traceEvents array" : json_util_get_last_err());
    json_object_put(root);
    return NULL;
  }
  return root;
}

/* The ts of each async end ("e", cat task) by its id: where a task that moved ended. */
static json_object *async_ends(json_object *events)
{
  json_object *ends = json_object_new_object(), *v, *id, *ts;
  size_t nev = json_object_array_length(events);

  for (size_t i = 0; ends && i < nev; i++) {
    json_object *e = json_object_array_get_idx(events, i);

    if (json_object_object_get_ex(e, "ph", &v) && strcmp(json_object_get_string(v), "e") == 0 &&
        json_object_object_get_ex(e, "cat", &v) && strcmp(json_object_get_string(v), "task") == 0 &&
        json_object_object_get_ex(e, "id", &id) && json_object_object_get_ex(e, "ts", &ts))
      json_object_object_add(ends, json_object_get_string(id), json_object_get(ts));
  }
  return ends;
}

int cpc_report_trace(const char *path, int top)
{
  json_object *events, *v, *root = cpc_trace_read(path, &events), *ends;
  struct task_stats *st = NULL;
  size_t nst = 0, cap = 0, nev, unfinished = 0;
  int rc = 0;

  if (!root)
    return 1;
  ends = async_ends(events);
  nev = json_object_array_length(events);
  for (size_t i = 0; i < nev; i++) {
    json_object *e = json_object_array_get_idx(events, i), *args, *x, *id, *end;
    const char *name, *ph;
    double dur;
    size_t k;

    /* A task: a complete slice, or an async one (a task that moved threads) that ends in
     * the "e" of its id. */
    if (!json_object_object_get_ex(e, "ph", &v))
      continue;
    ph = json_object_get_string(v);
    if ((strcmp(ph, "X") != 0 && strcmp(ph, "b") != 0) ||
        !json_object_object_get_ex(e, "cat", &v) || strcmp(json_object_get_string(v), "task") != 0 ||
        !json_object_object_get_ex(e, "name", &v))
      continue;
    name = json_object_get_string(v);
    if (json_object_object_get_ex(e, "args", &args)) {
      if (json_object_object_get_ex(args, "began_on_tid", &x))
        continue;  /* the end marker of a task that moved (older files), not a task */
      if (json_object_object_get_ex(args, "unfinished", &x) && json_object_get_boolean(x))
        unfinished++;
    }
    if (ph[0] == 'b')
      dur = ends && json_object_object_get_ex(e, "id", &id) &&
                    json_object_object_get_ex(ends, json_object_get_string(id), &end) &&
                    json_object_object_get_ex(e, "ts", &x)
                ? json_object_get_double(end) - json_object_get_double(x) : 0;
    else
      dur = json_object_object_get_ex(e, "dur", &x) ? json_object_get_double(x) : 0;
    for (k = 0; k < nst && strcmp(st[k].name, name) != 0; k++)
      ;
    if (k == nst) {
      if (cpd_grow(&st, &cap, nst, sizeof(*st)) < 0) {
        rc = 1;
        goto out;
      }
      st[nst++] = (struct task_stats){ .name = name };
    }
    if (cpd_grow(&st[k].durs, &st[k].cap, st[k].n, sizeof(*st[k].durs)) < 0) {
      rc = 1;
      goto out;
    }
    st[k].durs[st[k].n++] = dur;
    st[k].total += dur;
  }
  if (nst > 1)
    qsort(st, nst, sizeof(*st), cmp_total_desc);
  printf("File: %s\n%zu task names, %zu unfinished tasks\n", path, nst, unfinished);
  printf("%-32s %8s %11s %10s %10s %10s %10s\n", "task", "count", "total", "mean", "p50", "p95",
         "max");
  for (size_t k = 0; k < nst && (top <= 0 || (int)k < top); k++) {
    char tot[32], mean[32], p50[32], p95[32], max[32];

    qsort(st[k].durs, st[k].n, sizeof(double), cmp_double);
    fmt_us(tot, sizeof(tot), st[k].total);
    fmt_us(mean, sizeof(mean), st[k].total / (double)st[k].n);
    fmt_us(p50, sizeof(p50), percentile(st[k].durs, st[k].n, 50));
    fmt_us(p95, sizeof(p95), percentile(st[k].durs, st[k].n, 95));
    fmt_us(max, sizeof(max), st[k].durs[st[k].n - 1]);
    printf("%-32.32s %8zu %11s %10s %10s %10s %10s\n", st[k].name, st[k].n, tot, mean, p50, p95,
           max);
  }
out:
  for (size_t k = 0; k < nst; k++)
    free(st[k].durs);
  free(st);
  json_object_put(ends);
  json_object_put(root);
  if (rc)
    fprintf(stderr, "ceoprof report: out of memory\n");
  return rc;
}
