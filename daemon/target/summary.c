/* summary.c: the short summary a user reads first: what was sampled and the hottest functions. */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "log.h"
#include "model/session.h"
#include "target/summary.h"
#include "util.h"

static int cmp_count_desc(const void *a, const void *b)
{
  const uint64_t *x = a, *y = b;  /* {count, function} pairs */

  return x[0] < y[0] ? 1 : x[0] > y[0] ? -1 : (x[1] > y[1]) - (x[1] < y[1]);
}

void cpd_summary_cost(FILE *out, const struct cpd_target *t)
{
  uint64_t now = cpd_process_cpu_ns(), rec = t->stop_cpu_ns ? t->stop_cpu_ns : now;
  uint64_t nev = t->session->events_received;
  size_t nsamples = t->samples_written + t->profile.nsamples;

  uint64_t wr = t->write_cpu_ns < rec ? t->write_cpu_ns : rec;

  /* What reading costs (per sample, or per task event when nothing is sampled), apart from
   * writing the trace as it goes, and what writing the rest took after the stop. */
  fprintf(out, "  %s CPU %.3f s while recording", cpd_log_name, (double)rec / 1e9);
  if (nsamples)
    fprintf(out, " (%.1f us per sample", (double)(rec - wr) / 1e3 / (double)nsamples);
  else if (nev)
    fprintf(out, " (%.0f ns per task event", (double)(rec - wr) / (double)nev);
  if (nsamples || nev)
    fprintf(out, ", %.3f s of it writing)", (double)wr / 1e9);
  fprintf(out, ", %.3f s after the stop; peak RSS %ld KiB\n", (double)(now - rec) / 1e9,
          cpd_peak_rss_kib());
}

void cpd_summary_write(FILE *out, const struct cpd_target *t, int own_cost)
{
  const struct cpd_session *s = t->session;
  const struct cpd_profile *p = &t->profile;
  /* Self counts by function, and, for leaves without one, by mapping (index nfuncs + 1 +
   * mapping): named as go tool pprof names them, "[libfoo.so.1]". */
  size_t nkeys = p->nfuncs + 1 + p->nmappings + 1;
  uint64_t (*self)[2] = calloc(nkeys, sizeof(*self));
  struct top_fn { char name[128]; uint64_t n; } top[9];
  size_t ntop = 0;
  size_t workers = 0;
  const struct cpd_aggs *a = &t->aggs;
  uint64_t nsamples = 0;
  double secs = (double)(t->stop_ns - t->start_ns) / 1e9;

  for (size_t i = 0; i < s->nthreads; i++)
    workers += s->threads[i].worker_name != NULL;
  for (size_t i = 0; i < a->n; i++)
    nsamples += (uint64_t)a->v[i].count;
  fprintf(out, "ceoprof: pid %" PRIu32 " (%s) for %.2f s at %d Hz (%s%s)\n", t->pid, s->service,
          secs, t->sampler.hz, t->sampler.event,
          t->sampler.event_note[0] ? t->sampler.event_note : "");
  fprintf(out, "  samples %" PRIu64 ", lost %" PRIu64 " (+%" PRIu64 " records), threads %zu, "
          "workers %zu, tasks %zu\n", nsamples, p->lost_samples, p->lost_records, p->nthreads,
          workers, t->tasks_written);
  if (t->sampler.mode_note[0])
    fprintf(out, "  %s\n", t->sampler.mode_note);
  if (p->nspaces > 1 || p->not_followed)
    fprintf(out, "  child processes followed: %zu%s\n", p->nspaces - 1,
            p->not_followed ? " (more were not: past the limit at once, or no memory)" : "");
  if (t->sampler.waits_note[0])
    fprintf(out, "  %s\n", t->sampler.waits_note);
  if (t->sampler.kernel_note[0])
    fprintf(out, "  %s\n", t->sampler.kernel_note);
  if (self && nsamples) {
    for (size_t i = 0; i < nkeys; i++)
      self[i][1] = i;
    for (size_t i = 0; i < a->n; i++) {
      const struct cpd_stack *stk = &p->stacks[a->v[i].stack];
      const struct cpd_location *l = stk->len ? &p->locs[p->frames[stk->off] - 1] : NULL;

      self[!l ? p->nfuncs + 1 : l->function ? l->function : p->nfuncs + 1 + l->mapping][0] +=
          (uint64_t)a->v[i].count;
    }
    cpd_qsort(self, nkeys, sizeof(*self), cmp_count_desc);
    fprintf(out, "  top functions (self):\n");
    /* The same function in two processes (a child followed) is two entries: one line. */
    for (size_t i = 0; i < nkeys && self[i][0]; i++) {
      size_t k = self[i][1], m = k > p->nfuncs ? k - p->nfuncs - 1 : 0, j;
      const char *path = m ? p->mappings[m - 1].path : "[unknown]", *base = strrchr(path, '/');

      if (k && k <= p->nfuncs)
        snprintf(top[ntop].name, sizeof(top[0].name), "%s", cpd_function_name(&p->funcs[k - 1]));
      else
        snprintf(top[ntop].name, sizeof(top[0].name), "%s%s%s", path[0] == '[' ? "" : "[",
                 base ? base + 1 : path, path[0] == '[' ? "" : "]");
      for (j = 0; j < ntop && strcmp(top[j].name, top[ntop].name) != 0; j++)
        ;
      if (j < ntop)
        top[j].n += self[i][0];
      else if (ntop < 8)
        top[ntop++].n = self[i][0];
    }
    for (size_t i = 0; i < ntop; i++)  /* merged entries may have moved up */
      for (size_t j = i; j > 0 && top[j].n > top[j - 1].n; j--) {
        struct top_fn x = top[j];

        top[j] = top[j - 1];
        top[j - 1] = x;
      }
    for (size_t i = 0; i < ntop; i++)
      fprintf(out, "    %5.1f%%  %s\n", 100.0 * (double)top[i].n / (double)nsamples,
              top[i].name);
  }
  free(self);
  if (!own_cost)
    goto files;
  cpd_summary_cost(out, t);
  if (t->sampler.opts.dwarf_stack) {
    const struct cpd_unwind *u = &t->sampler.unwind;

    fprintf(out, "  DWARF unwinding: %" PRIu64 " stacks, %.1f frames each, %" PRIu64 " cut short (%"
           PRIu64 " frames without unwind information), %.1f us CPU per stack\n", u->samples,
           u->samples ? (double)u->frames / (double)u->samples : 0.0, u->truncated, u->no_info,
           u->samples ? (double)u->cpu_ns / 1e3 / (double)u->samples : 0.0);
  }
  fprintf(out, "  files written %.1f ms after the stop\n",
         (double)(cpd_now_ns() - (t->finish_ns ? t->finish_ns : t->stop_ns)) / 1e6);
files:
  for (size_t i = 0; i < t->nfiles; i++)
    fprintf(out, "  wrote %s\n", t->files[i]);
  fflush(out);
}

char *cpd_summary_text(const struct cpd_target *t)
{
  char *text = NULL;
  size_t len;
  FILE *f = open_memstream(&text, &len);

  if (!f)
    return NULL;
  cpd_summary_write(f, t, 0);
  if (fclose(f) != 0) {
    free(text);
    return NULL;
  }
  return text;
}
