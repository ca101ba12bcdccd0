/* task_table.c: ceoprof report's table of task durations per task name, from either trace. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "util.h"

struct cpc_task_stats {
  char *name;
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
  const struct cpc_task_stats *x = a, *y = b;

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

int cpc_task_add(struct cpc_task_table *t, const char *name, double dur_us)
{
  size_t k;

  for (k = 0; k < t->nst && strcmp(t->st[k].name, name) != 0; k++)
    ;
  if (k == t->nst) {
    if (cpd_grow(&t->st, &t->cap, t->nst, sizeof(*t->st)) < 0)
      return -ENOMEM;
    t->st[t->nst] = (struct cpc_task_stats){ .name = strdup(name) };
    if (!t->st[t->nst].name)
      return -ENOMEM;
    t->nst++;
  }
  if (cpd_grow(&t->st[k].durs, &t->st[k].cap, t->st[k].n, sizeof(*t->st[k].durs)) < 0)
    return -ENOMEM;
  t->st[k].durs[t->st[k].n++] = dur_us;
  t->st[k].total += dur_us;
  return 0;
}

void cpc_task_print(struct cpc_task_table *t, const char *path, int top)
{
  if (t->nst > 1)
    qsort(t->st, t->nst, sizeof(*t->st), cmp_total_desc);
  printf("File: %s\n%zu task names, %zu unfinished tasks\n", path, t->nst, t->unfinished);
  printf("%-32s %8s %11s %10s %10s %10s %10s\n", "task", "count", "total", "mean", "p50", "p95",
         "max");
  for (size_t k = 0; k < t->nst && (top <= 0 || (int)k < top); k++) {
    struct cpc_task_stats *st = &t->st[k];
    char tot[32], mean[32], p50[32], p95[32], max[32];

    qsort(st->durs, st->n, sizeof(double), cmp_double);
    fmt_us(tot, sizeof(tot), st->total);
    fmt_us(mean, sizeof(mean), st->total / (double)st->n);
    fmt_us(p50, sizeof(p50), percentile(st->durs, st->n, 50));
    fmt_us(p95, sizeof(p95), percentile(st->durs, st->n, 95));
    fmt_us(max, sizeof(max), st->durs[st->n - 1]);
    printf("%-32.32s %8zu %11s %10s %10s %10s %10s\n", st->name, st->n, tot, mean, p50, p95, max);
  }
}

void cpc_task_free(struct cpc_task_table *t)
{
  for (size_t k = 0; k < t->nst; k++) {
    free(t->st[k].name);
    free(t->st[k].durs);
  }
  free(t->st);
  memset(t, 0, sizeof(*t));
}
