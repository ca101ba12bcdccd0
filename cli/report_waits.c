/* report_waits.c: ceoprof report FILE.trace.json --waits: where tasks' time went (CPU, blocked, scheduling delay). */
#include "config.h"

#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* One task span, as the trace has it. */
struct span {
  int64_t tid;
  double ts, dur;  /* microseconds */
  double cpu, blocked, delay, switches;  /* nanoseconds; switches a count */
  const char *name;  /* owned by the parsed JSON */
  int top;  /* not inside another span of its thread */
};

struct row {
  char key[96];
  size_t count;
  double wall, cpu, blocked, delay, switches;  /* nanoseconds */
};

struct lane {
  int64_t tid;
  char name[96];
};

static int cmp_span(const void *a, const void *b)
{
  const struct span *x = a, *y = b;

  if (x->tid != y->tid)
    return (x->tid > y->tid) - (x->tid < y->tid);
  if (x->ts != y->ts)
    return (x->ts > y->ts) - (x->ts < y->ts);
  return (x->dur < y->dur) - (x->dur > y->dur);  /* the enclosing span first */
}

static int cmp_row(const void *a, const void *b)
{
  const struct row *x = a, *y = b;
  double wx = x->cpu + x->blocked + x->delay, wy = y->cpu + y->blocked + y->delay;

  return (wx < wy) - (wx > wy);
}

static double num(json_object *o, const char *key, int *found)
{
  json_object *v;

  if (!json_object_object_get_ex(o, key, &v))
    return 0;
  *found = 1;
  return json_object_get_double(v);
}

static const char *str(json_object *o, const char *key)
{
  json_object *v;

  return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : NULL;
}

/* A lane's name (without the " (tid N)" older traces added): the worker's name. */
static void lane_key(const struct lane *lanes, size_t nlanes, int64_t tid, char *out, size_t size)
{
  for (size_t i = 0; i < nlanes; i++) {
    if (lanes[i].tid == tid) {
      const char *p = strstr(lanes[i].name, " (tid ");

      snprintf(out, size, "%.*s", p ? (int)(p - lanes[i].name) : (int)strlen(lanes[i].name),
               lanes[i].name);
      return;
    }
  }
  snprintf(out, size, "tid %lld", (long long)tid);
}

static void fmt_ns(char *buf, size_t size, double ns)
{
  if (ns >= 1e9)
    snprintf(buf, size, "%.2fs", ns / 1e9);
  else if (ns >= 1e6)
    snprintf(buf, size, "%.2fms", ns / 1e6);
  else
    snprintf(buf, size, "%.1fus", ns / 1e3);
}

static void print_rows(struct row *rows, size_t n, const char *by, int top)
{
  qsort(rows, n, sizeof(*rows), cmp_row);
  printf("%-24s %7s %10s %10s %6s %10s %6s %10s %6s %9s\n", by, "count", "wall", "cpu", "cpu%",
         "blocked", "blk%", "sched-dly", "dly%", "switches");
  for (size_t i = 0; i < n && (top <= 0 || (int)i < top); i++) {
    const struct row *r = &rows[i];
    double w = r->cpu + r->blocked + r->delay;
    char wall[32], cpu[32], blk[32], dly[32];

    fmt_ns(wall, sizeof(wall), r->wall);
    fmt_ns(cpu, sizeof(cpu), r->cpu);
    fmt_ns(blk, sizeof(blk), r->blocked);
    fmt_ns(dly, sizeof(dly), r->delay);
    printf("%-24.24s %7zu %10s %10s %5.1f%% %10s %5.1f%% %10s %5.1f%% %9.0f\n", r->key, r->count,
           wall, cpu, w > 0 ? 100 * r->cpu / w : 0, blk, w > 0 ? 100 * r->blocked / w : 0, dly,
           w > 0 ? 100 * r->delay / w : 0, r->switches);
  }
}

/* The task spans with wait times (into SPANS) and lane names (into LANES) of EVENTS; counts
 * in *WITHOUT the spans that have none (a trace written without sampling). */
static void read_spans(json_object *events, size_t nev, struct span *spans, size_t *nspans,
                       struct lane *lanes, size_t *nlanes, size_t *without)
{
  for (size_t i = 0; i < nev; i++) {
    json_object *e = json_object_array_get_idx(events, i), *args = NULL;
    const char *ph = str(e, "ph"), *cat = str(e, "cat"), *name = str(e, "name");
    int found = 0, ignored = 0;
    struct span *sp;

    if (!ph || !name)
      continue;
    json_object_object_get_ex(e, "args", &args);
    if (strcmp(ph, "M") == 0 && strcmp(name, "thread_name") == 0 && args && str(args, "name")) {
      lanes[*nlanes].tid = (int64_t)num(e, "tid", &ignored);
      snprintf(lanes[*nlanes].name, sizeof(lanes[*nlanes].name), "%s", str(args, "name"));
      (*nlanes)++;
      continue;
    }
    if (strcmp(ph, "X") != 0 || !cat || strcmp(cat, "task") != 0 || !args ||
        json_object_object_get_ex(args, "began_on_tid", NULL))
      continue;
    sp = &spans[*nspans];
    sp->cpu = num(args, "cpu_ns", &found);
    if (!found) {
      (*without)++;  /* a trace written without sampling */
      continue;
    }
    sp->blocked = num(args, "blocked_ns", &ignored);
    sp->delay = num(args, "sched_delay_ns", &ignored);
    sp->switches = num(args, "switches", &ignored);
    sp->tid = (int64_t)num(e, "tid", &ignored);
    sp->ts = num(e, "ts", &ignored);
    sp->dur = num(e, "dur", &ignored);
    sp->name = name;
    (*nspans)++;
  }
}

int cpc_report_waits(const char *path, const char *by, int top)
{
  json_object *events, *root = cpc_trace_read(path, &events);
  struct span *spans = NULL;
  struct lane *lanes = NULL;
  struct row *rows = NULL;
  size_t nspans = 0, nlanes = 0, nrows = 0, without = 0, nev;
  int by_worker = strcmp(by, "worker") == 0, rc = 1;

  if (!root)
    return 1;
  nev = json_object_array_length(events);
  spans = calloc(nev ? nev : 1, sizeof(*spans));
  lanes = calloc(nev ? nev : 1, sizeof(*lanes));
  rows = calloc(nev ? nev : 1, sizeof(*rows));
  if (!spans || !lanes || !rows) {
    fprintf(stderr, "ceoprof report: out of memory\n");
    goto out;
  }
  read_spans(events, nev, spans, &nspans, lanes, &nlanes, &without);
  if (nspans == 0 && without == 0) {
    fprintf(stderr, "ceoprof report: %s has no task spans: the program reported no tasks "
            "(it does not use libceoprof, or its tasks were shorter than "
            "CEOPROF_THRESHOLD_US)\n", path);
    goto out;
  }
  if (nspans == 0) {
    fprintf(stderr, "ceoprof report: %s has no task spans with wait times (%zu without): they "
            "come from a profile made with sampling (ceoprof record or attach)\n", path, without);
    goto out;
  }
  /* Nested spans: a worker's time counts its outermost tasks only. Times are microseconds
   * with three decimals, so ts + dur of a task may end a rounding error past the start of
   * the next one in doubles: a span nests only if it begins half a nanosecond inside. */
  qsort(spans, nspans, sizeof(*spans), cmp_span);
  for (size_t i = 0, open = 0; i < nspans; i++) {
    spans[i].top = !(open < i && spans[open].tid == spans[i].tid &&
                     spans[i].ts < spans[open].ts + spans[open].dur - 0.0005);
    if (spans[i].top)
      open = i;
  }
  for (size_t i = 0; i < nspans; i++) {
    const struct span *sp = &spans[i];
    char key[96];
    size_t k;

    if (by_worker && !sp->top)
      continue;
    if (by_worker)
      lane_key(lanes, nlanes, sp->tid, key, sizeof(key));
    else
      snprintf(key, sizeof(key), "%s", sp->name);
    for (k = 0; k < nrows && strcmp(rows[k].key, key) != 0; k++)
      ;
    if (k == nrows)
      snprintf(rows[nrows++].key, sizeof(rows[0].key), "%s", key);
    rows[k].count++;
    rows[k].wall += sp->dur * 1000;
    rows[k].cpu += sp->cpu;
    rows[k].blocked += sp->blocked;
    rows[k].delay += sp->delay;
    rows[k].switches += sp->switches;
  }
  printf("File: %s\nTime in tasks by %s: on the CPU, blocked (sleeping, I/O, locks) and "
         "runnable but waiting for a CPU%s\n", path, by_worker ? "worker" : "task",
         by_worker ? " (outermost tasks of each thread)" : "");
  print_rows(rows, nrows, by_worker ? "worker" : "task", top);
  if (without)
    printf("%zu spans had no wait times (written without sampling)\n", without);
  rc = 0;
out:
  free(spans);
  free(lanes);
  free(rows);
  json_object_put(root);
  return rc;
}
