/* trace_writer.c: a session's lanes, task spans, instants and counters as Chrome Trace JSON. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "output/jsonw.h"
#include "output/trace_writer.h"
#include "util.h"

static const char *drop_names[CPD_DROP_REASONS] = {
  [CEOPROF__WIRE__DROP_REASON__DROP_RING_FULL] = "client_ring_full",
  [CEOPROF__WIRE__DROP_REASON__DROP_NO_DAEMON] = "client_no_daemon",
  [CEOPROF__WIRE__DROP_REASON__DROP_THRESHOLD] = "client_threshold_filtered",
  [CEOPROF__WIRE__DROP_REASON__DROP_NAMES_EXHAUSTED] = "client_names_exhausted",
  [CEOPROF__WIRE__DROP_REASON__DROP_SEND_FAILED] = "client_send_failed",
  [CEOPROF__WIRE__DROP_REASON__DROP_STACK_OVERFLOW] = "client_stack_overflow",
};

static const char *name_of(const struct cpd_session *s, uint32_t id)
{
  const char *n = cpd_session_string(s, id);

  return n ? n : "?";
}

/* Every event has a cat (speedscope tells Chrome's trace format by it; metadata events get
 * Chrome's own "__metadata"). */
static void head(FILE *f, const char *ph, uint32_t pid, uint32_t tid)
{
  fputs(",\n{\"ph\":\"", f);
  fputs(ph, f);
  fputs("\",\"pid\":", f);
  cpd_json_u64(f, pid);
  fputs(",\"tid\":", f);
  cpd_json_u64(f, tid);
  if (ph[0] == 'M' && !ph[1])
    fputs(",\"cat\":\"__metadata\"", f);
}

static void write_metadata(FILE *f, const struct cpd_trace_out *w, const struct cpd_session *s,
                           const struct cpd_trace_extra *extra)
{
  const struct cpd_rejects *r = &s->rejects;
  const struct cpd_timeline_counts *c = &w->counts;

  fputs("\"metadata\":{\"ceoprof_version\":\"" PACKAGE_VERSION "\",\"service\":", f);
  cpd_json_str(f, s->service);
  fprintf(f, ",\"pid\":%" PRIu32 ",\"clock\":\"CLOCK_MONOTONIC\""
             ",\"clock_monotonic_base_ns\":%" PRIu64 ",\"clock_realtime_at_base_ns\":%" PRIu64
             ",\"session_start_monotonic_ns\":%" PRIu64 ",\"session_end_monotonic_ns\":%" PRIu64
             ",\"events_received\":%" PRIu64 ",\"events_resent\":%" PRIu64
             ",\"client_events_sent\":%" PRIu64,
          s->pid, s->hello_mono_ns, s->hello_real_ns, s->start_mono_ns, s->end_mono_ns,
          s->events_received, s->resends, s->client_events_sent);
  fputs(",\"drops\":{", f);
  for (uint32_t i = 1; i < CPD_DROP_REASONS; i++)
    fprintf(f, "\"%s\":%" PRIu64 ",", drop_names[i], cpd_session_drops(s, i));
  fprintf(f, "\"mismatched_ends\":%" PRIu64 ",\"unmatched_ends\":%" PRIu64
             ",\"orphan_fields\":%" PRIu64 ",\"frames_rejected\":%" PRIu64
             ",\"events_rejected\":%" PRIu64 ",\"events_over_quota\":%" PRIu64
             ",\"strings_rejected\":%" PRIu64 ",\"strings_repaired\":%" PRIu64
             ",\"trace_events_over_limit\":%" PRIu64 ",\"trace_samples_over_limit\":%" PRIu64 "}",
          c->implicit_ends, c->unmatched_ends, c->orphan_fields,
          r->frames, r->events_bad_name + r->events_bad_thread + r->events_bad_kind +
          r->threads_quota, r->events_quota, r->strings, r->strings_repaired,
          w->dropped_events, w->dropped_samples);
  fprintf(f, ",\"tasks\":{\"spans\":%zu,\"unfinished\":%" PRIu64 ",\"moved\":%" PRIu64
             ",\"duplicate_resends\":%" PRIu64 "}",
          w->spans, c->unfinished, c->moved, c->duplicate_resends);
  if (w->limit)
    fprintf(f, ",\"trace_limit_bytes\":%" PRIu64, w->limit);
  if (extra && extra->metadata)
    extra->metadata(f, extra->arg);
  fputs("}", f);
}

static int cmp_threads(const void *a, const void *b)
{
  const struct cpd_thread *const *x = a, *const *y = b;

  return (*x)->tid < (*y)->tid ? -1 : (*x)->tid > (*y)->tid;
}

static void process_name(FILE *f, uint32_t pid, const char *name)
{
  head(f, "M", pid, pid);
  fputs(",\"name\":\"process_name\",\"args\":{\"name\":", f);
  cpd_json_str(f, name);
  fputs("}}", f);
}

/* The process group of T: the session's, or the child's it belongs to. */
static uint32_t lane_pid(const struct cpd_session *s, const struct cpd_thread *t)
{
  return t->pid ? t->pid : s->pid;
}

static void write_lanes(FILE *f, const struct cpd_session *s, const struct cpd_thread **th,
                        const struct cpd_trace_extra *extra)
{
  char name[320];

  /* Names alone: viewers show the pid and tid beside them themselves. */
  process_name(f, s->pid, s->service);
  /* A child followed is a process group of its own, named after its main thread. */
  for (size_t i = 0; i < s->nthreads; i++)
    if (th[i]->pid && th[i]->pid == th[i]->tid)
      process_name(f, th[i]->pid, th[i]->comm);
  for (size_t i = 0; i < s->nthreads; i++) {
    const struct cpd_thread *t = th[i];
    /* Workers in worker-id order first, then the other threads by tid. */
    int64_t sort_index = t->worker_id >= 0 ? t->worker_id : (int64_t)1000000 + t->tid;

    snprintf(name, sizeof(name), "%s", t->worker_name ? t->worker_name : t->comm);
    head(f, "M", lane_pid(s, t), t->tid);
    fputs(",\"name\":\"thread_name\",\"args\":{\"name\":", f);
    cpd_json_str(f, name);
    fputs("}}", f);
    head(f, "M", lane_pid(s, t), t->tid);
    fprintf(f, ",\"name\":\"thread_sort_index\",\"args\":{\"sort_index\":%" PRId64 "}}",
            sort_index);
    if (extra && extra->lane)
      extra->lane(f, extra->arg, lane_pid(s, t), t->tid, name, sort_index);
  }
}

static void write_span_args(FILE *f, const struct cpd_session *s, const struct cpd_timeline *tl,
                            const struct cpd_span *sp)
{
  fputs(",\"args\":{\"task_id\":", f);
  cpd_json_u64(f, sp->task_id);
  for (uint32_t i = 0; i < sp->nfields; i++) {
    const struct cpd_field *fl = &tl->fields[sp->first_field + i];

    putc(',', f);
    cpd_json_str(f, name_of(s, fl->key));
    putc(':', f);
    cpd_json_i64(f, fl->value);
  }
  if (sp->has_span == 1)
    fprintf(f, ",\"trace_id\":\"%016" PRIx64 "%016" PRIx64 "\",\"span_id\":\"%016" PRIx64 "\"",
            sp->trace_hi, sp->trace_lo, sp->span_id);
  if (sp->unfinished)
    fputs(",\"unfinished\":true", f);
}

/*
 * A task that began and ended on one thread is a complete ("X") slice on its lane. A task
 * that moved is an async slice ("b" on the thread it began on, "e" on the one it ended on,
 * one id): on the lane it began on it could not be drawn, for that thread went on with other
 * tasks after it left, which would cross it; Perfetto gives it a track of its own. A marker
 * on the lane it ended on shows where.
 */
static void write_span(FILE *f, const struct cpd_session *s, const struct cpd_timeline *tl,
                       const struct cpd_span *sp, uint64_t id, const struct cpd_trace_extra *extra)
{
  int moved = sp->end_tid != sp->tid;

  head(f, moved ? "b" : "X", s->pid, sp->tid);
  fputs(",\"ts\":", f);
  cpd_json_us(f, sp->begin);
  if (!moved) {
    fputs(",\"dur\":", f);
    cpd_json_us(f, sp->end - sp->begin);
  }
  fputs(",\"cat\":\"task\",\"name\":", f);
  cpd_json_str(f, name_of(s, sp->name_id));
  if (moved) {
    fputs(",\"id\":\"0x", f);
    fprintf(f, "%" PRIx64 "\"", id);
  }
  write_span_args(f, s, tl, sp);
  if (moved)
    fprintf(f, ",\"ended_on_tid\":%" PRIu32, sp->end_tid);
  else if (extra && extra->span_args)
    extra->span_args(f, extra->arg, sp);
  fputs("}}", f);
  if (!moved)
    return;
  head(f, "e", s->pid, sp->end_tid);
  fputs(",\"ts\":", f);
  cpd_json_us(f, sp->end);
  fputs(",\"cat\":\"task\",\"name\":", f);
  cpd_json_str(f, name_of(s, sp->name_id));
  fprintf(f, ",\"id\":\"0x%" PRIx64 "\"}", id);
  head(f, "i", s->pid, sp->end_tid);
  fputs(",\"s\":\"t\",\"ts\":", f);
  cpd_json_us(f, sp->end);
  fputs(",\"cat\":\"task_moved\",\"name\":", f);
  cpd_json_str(f, name_of(s, sp->name_id));
  fprintf(f, ",\"args\":{\"task_id\":%" PRIu64 ",\"began_on_tid\":%" PRIu32 "}}", sp->task_id,
          sp->tid);
}

static void write_head(FILE *f, const struct cpd_session *s)
{
  fputs("{\"displayTimeUnit\":\"ms\",\n\"traceEvents\":[{\"ph\":\"M\",\"cat\":\"__metadata\",\"pid\":", f);
  fprintf(f, "%" PRIu32 ",\"tid\":%" PRIu32 ",\"name\":\"process_sort_index\","
             "\"args\":{\"sort_index\":0}}", s->pid, s->pid);
}

/* Whether the limit is passed: checked every few hundred events, not for each. */
static int over_limit(struct cpd_trace_out *w)
{
  return cpd_outfile_full(w->out.f, w->out.o.path, w->limit, &w->full);
}

static void add_counts(struct cpd_timeline_counts *to, const struct cpd_timeline_counts *c,
                       int last)
{
  to->implicit_ends += c->implicit_ends;
  to->unmatched_ends += c->unmatched_ends;
  to->orphan_fields += c->orphan_fields;
  to->duplicate_resends += c->duplicate_resends;
  to->moved += c->moved;
  if (last)
    to->unfinished += c->unfinished;
}

void cpd_trace_segment(struct cpd_trace_out *w, const struct cpd_session *s,
                       const struct cpd_timeline *tl, const struct cpd_trace_extra *extra,
                       int last)
{
  FILE *f = w->out.f;

  add_counts(&w->counts, &tl->counts, last);
  for (size_t i = 0; i < tl->nspans; i++) {
    const struct cpd_span *sp = &tl->spans[i];

    if (sp->unfinished && !last)
      continue;  /* still open: written whole in the segment where it ends */
    if ((i & 255) == 0)
      over_limit(w);
    if (w->full) {
      w->dropped_events += 2 + sp->nfields;
      continue;
    }
    write_span(f, s, tl, sp, sp->end_tid != sp->tid ? ++w->flows : 0, extra);
    w->spans++;
  }
  if (over_limit(w))
    w->dropped_events += tl->ninstants + tl->ncounters;
  else {
    for (size_t i = 0; i < tl->ninstants; i++) {
      const struct cpd_mark *m = &tl->instants[i];

      head(f, "i", s->pid, m->tid);
      fputs(",\"s\":\"t\",\"ts\":", f);
      cpd_json_us(f, m->ts);
      fputs(",\"cat\":\"instant\",\"name\":", f);
      cpd_json_str(f, name_of(s, m->name_id));
      putc('}', f);
    }
    for (size_t i = 0; i < tl->ncounters; i++) {
      const struct cpd_mark *m = &tl->counters[i];

      head(f, "C", s->pid, m->tid);
      fputs(",\"ts\":", f);
      cpd_json_us(f, m->ts);
      fputs(",\"cat\":\"counter\",\"name\":", f);
      cpd_json_str(f, name_of(s, m->name_id));
      fprintf(f, ",\"args\":{\"value\":%" PRId64 "}}", m->value);
    }
  }
  if (extra && extra->events) {
    if (over_limit(w))
      w->dropped_samples += extra->samples;
    else
      extra->events(f, extra->arg);
  }
  if (ferror(f) && w->rc == 0)
    w->rc = errno ? -errno : -EIO;
}

static void write_tail(FILE *f, const struct cpd_trace_out *w, const struct cpd_session *s,
                       const struct cpd_trace_extra *extra)
{
  const struct cpd_thread **th = calloc(s->nthreads ? s->nthreads : 1, sizeof(*th));

  /* The lanes' names last: viewers take metadata events from anywhere in the file. */
  if (th) {
    for (size_t i = 0; i < s->nthreads; i++)
      th[i] = &s->threads[i];
    cpd_qsort(th, s->nthreads, sizeof(*th), cmp_threads);
    write_lanes(f, s, th, extra);
  }
  free(th);
  fputs("\n],\n", f);
  write_metadata(f, w, s, extra);
  fputs("}\n", f);
}

int cpd_trace_open(struct cpd_trace_out *w, const char *path, const struct cpd_session *s,
                   uint64_t limit_bytes)
{
  int rc;

  memset(w, 0, sizeof(*w));
  w->limit = limit_bytes;
  if ((rc = cpd_outstream_open(&w->out, path)) < 0)
    return rc;
  write_head(w->out.f, s);
  return 0;
}

int cpd_trace_close(struct cpd_trace_out *w, const struct cpd_session *s,
                    const struct cpd_trace_extra *extra)
{
  if (w->out.f)
    write_tail(w->out.f, w, s, extra);
  return cpd_outstream_close(&w->out, w->rc);
}

void cpd_trace_discard(struct cpd_trace_out *w)
{
  if (w->out.f)
    cpd_outstream_close(&w->out, -ECANCELED);
}

void cpd_trace_emit(FILE *f, const struct cpd_session *s, const struct cpd_timeline *tl,
                    const struct cpd_trace_extra *extra)
{
  struct cpd_trace_out w = { .out.f = f };

  write_head(f, s);
  cpd_trace_segment(&w, s, tl, extra, 1);
  write_tail(f, &w, s, extra);
}

int cpd_trace_write(const char *path, const struct cpd_session *s, const struct cpd_timeline *tl,
                    const struct cpd_trace_extra *extra)
{
  struct cpd_trace_out w;
  int rc = cpd_trace_open(&w, path, s, 0);

  if (rc < 0)
    return rc;
  cpd_trace_segment(&w, s, tl, extra, 1);
  return cpd_trace_close(&w, s, extra);
}
