/* window.c: the one window writer: pprof, off-CPU pprof and trace of a window, kept whole
 * when the disk refuses it (service mode), then the window cut from what stays. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/session.h"
#include "log.h"
#include "model/timeline.h"
#include "output/paths.h"
#include "output/pprof_writer.h"
#include "output/push_queue.h"
#include "output/trace_samples.h"
#include "output/trace_writer.h"
#include "target/summary.h"
#include "target/window.h"
#include "util.h"

static void add_file(struct cpd_target *t, const char *path)
{
  char *copy = strdup(path);

  if (copy && cpd_grow(&t->files, &t->files_cap, t->nfiles, sizeof(*t->files)) == 0)
    t->files[t->nfiles++] = copy;
  else
    free(copy);
}

/* Hands a file written as root to the user who asked for it. */
static void give_file(const struct cpd_target *t, const char *path)
{
  if (t->opts.owner_uid != geteuid() && lchown(path, t->opts.owner_uid, (gid_t)-1) < 0)
    cpd_log("could not hand %s to uid %" PRIu32 ": %s", path, t->opts.owner_uid, strerror(errno));
}

static void wrote(struct cpd_target *t, int rc, const char *what, const char *path)
{
  if (rc < 0) {
    t->env->stats->write_errors++;
    if (!t->write_error)
      t->write_error = rc;
    cpd_log("failed to write the %s of pid %" PRIu32 " to %s: %s", what, t->pid, path,
            strerror(-rc));
    return;
  }
  t->env->stats->files_written++;
  give_file(t, path);
  add_file(t, path);
}

/* Whether a failed write keeps the data for another try: in service mode, until it stops. */
static int keep_on_failure(const struct cpd_target *t)
{
  return !t->env->cfg->target_pid && !t->env->stopping;
}

/* Moves the samples taken before CUT_NS to the front; returns how many there are. */
static size_t partition_samples(struct cpd_profile *p, uint64_t cut_ns)
{
  struct cpd_psample *after;
  size_t k = 0, m = 0;

  if (p->nsamples == 0)
    return 0;
  after = malloc(p->nsamples * sizeof(*after));
  if (!after)
    return p->nsamples;  /* no memory: this window takes them all, none is lost */
  for (size_t i = 0; i < p->nsamples; i++) {
    if (p->samples[i].time < cut_ns)
      p->samples[k++] = p->samples[i];
    else
      after[m++] = p->samples[i];
  }
  if (m)
    memcpy(p->samples + k, after, m * sizeof(*after));
  free(after);
  return k;
}

/*
 * The off-CPU samples of the window ending at CUT_NS (all of them when FINAL), each
 * weighted by how long its thread stayed off the CPU (up to the cut), copied into *OUT.
 * Returns how many, or 0 with *OUT NULL.
 */
static size_t offcpu_window(const struct cpd_profile *p, uint64_t cut_ns, int final,
                            struct cpd_psample **out)
{
  size_t k = 0;

  *out = p->noffcpu ? malloc(p->noffcpu * sizeof(**out)) : NULL;
  if (!*out)
    return 0;
  for (size_t i = 0; i < p->noffcpu; i++) {
    struct cpd_psample smp = p->offcpu[i];
    int still_off;

    if (!final && smp.time >= cut_ns)
      continue;
    if (!smp.period)  /* else weighted already (BPF) */
      smp.period = cpd_sched_off(&p->sched, smp.tid, smp.time, cut_ns, &still_off);
    (*out)[k++] = smp;
  }
  return k;
}

/* After the window is written: keeps the later off-CPU samples, and those of threads still
 * off the CPU at the cut, restarted at it (the next window counts the rest). */
static void offcpu_advance(struct cpd_profile *p, uint64_t cut_ns, int final)
{
  size_t k = 0;

  for (size_t i = 0; i < p->noffcpu && !final; i++) {
    struct cpd_psample smp = p->offcpu[i];
    int still_off = 1;

    if (smp.period) {  /* weighted already: in the window of its time */
      if (smp.time >= cut_ns)
        p->offcpu[k++] = smp;
      continue;
    }
    if (smp.time < cut_ns) {
      cpd_sched_off(&p->sched, smp.tid, smp.time, cut_ns, &still_off);
      smp.time = cut_ns;
    }
    if (still_off)
      p->offcpu[k++] = smp;
  }
  p->noffcpu = k;
}

/* A process without libceoprof (no Hello) is named after its program, as the kernel last
 * named its main thread (after an exec too), not "unknown". */
static void name_service(struct cpd_target *t)
{
  const char *comm = cpd_profile_comm(&t->profile, t->pid);
  char *copy;

  if (t->session->had_hello || !comm || !comm[0] || strcmp(comm, t->session->service) == 0 ||
      !(copy = strdup(comm)))
    return;
  free(t->session->service);
  t->session->service = copy;
}

/* The samples taken before CUT_NS first (all when ALL); every sampled thread's lane named.
 * Returns how many samples that is. */
static size_t samples_before(struct cpd_target *t, uint64_t cut_ns, int all)
{
  struct cpd_profile *p = &t->profile;
  size_t k = all ? p->nsamples : partition_samples(p, cut_ns);

  /* Every sampled thread gets a lane, named as the kernel last named it. */
  for (size_t i = 0; i < p->nthreads; i++) {
    struct cpd_thread *th = cpd_session_thread(t->session, p->threads[i].tid);

    if (th) {
      snprintf(th->comm, sizeof(th->comm), "%s", p->threads[i].comm);
      th->pid = p->threads[i].pid != t->pid ? p->threads[i].pid : 0;
    }
  }
  name_service(t);
  cpd_sched_index(&p->sched);
  return k;
}

/* The files of one window, their paths and how each write went. */
struct window_files {
  char ppath[PATH_MAX], opath[PATH_MAX], tpath[PATH_MAX], fpath[PATH_MAX];
  int prc, orc, trc, frc;        /* 0 written, -errno failed, 1 not written (no such file) */
};

static int out_path(const struct cpd_target *t, uint64_t real, const char *ext, char *path)
{
  return cpd_output_path(path, PATH_MAX, t->env->cfg->output_dir, t->prefix, t->session, real,
                         ext);
}

/* Begins the window's trace file with its first segment. */
static void trace_begin(struct cpd_target *t, struct window_files *f)
{
  uint64_t real = t->env->cfg->window_s > 0 && !t->session_only
                      ? t->window_start_ns + t->env->realtime_offset_ns : 0;

  if (t->trace_open || t->trace_rc)
    return;
  t->trace_rc = out_path(t, real, ".trace.json", f->tpath);
  if (t->trace_rc == 0)
    t->trace_rc = cpd_trace_open(&t->trace, f->tpath, t->session,
                                 (uint64_t)t->env->cfg->max_trace_mb << 20);
  t->trace_open = t->trace_rc == 0;
  if (t->trace_open && t->sampling)
    cpd_trace_samples_init(&t->tsamp, &t->profile, t->session, t->sampler.event, t->sampler.hz,
                           t->opts.dwarf_stack ? &t->sampler.unwind : NULL, t->opts.dwarf_stack);
  if (t->trace_rc < 0 && !t->session_only)
    cpd_log("pid %" PRIu32 ": cannot write the trace %s: %s; its events are counted, not kept",
            t->pid, f->tpath, strerror(-t->trace_rc));
  if (t->trace_open && out_path(t, real, ".pftrace", f->fpath) == 0)
    t->pf_open = cpd_pf_open(&t->pf, f->fpath, (uint64_t)t->env->cfg->max_trace_mb << 20) == 0;
}

/*
 * Writes one segment of the window, the time from t->segment_ns to CUT_NS: its task spans,
 * marks, samples and states into the trace, its samples into the window's sums. ALL: the
 * whole session, not just what lies before the cut (ALL_SAMPLES: every sample). LAST: the window's
 * last segment. *TL is the segment's timeline, *K the samples it took, *TOTAL all the
 * samples held. 0 or -ENOMEM (nothing written).
 */
static int segment(struct cpd_target *t, uint64_t cut_ns, int all, int all_samples, int last,
                   struct window_files *f, struct cpd_timeline *tl, size_t *k, size_t *total)
{
  struct cpd_session *s = t->session;
  struct cpd_profile *p = &t->profile;
  struct cpd_trace_extra extra = { 0 };
  int rc;

  *total = t->sampling ? p->nsamples : 0;
  *k = t->sampling ? samples_before(t, cut_ns, all_samples) : 0;
  s->end_mono_ns = cut_ns;
  rc = all ? cpd_timeline_build(tl, s, cut_ns) : cpd_timeline_build_until(tl, s, cut_ns);
  if (rc < 0)
    return rc;
  trace_begin(t, f);
  struct cpd_psample *off = NULL;
  size_t n = 0;

  if (t->sampling) {
    n = cpd_sampler_has_offcpu(&t->sampler) ? offcpu_window(p, cut_ns, all, &off) : 0;
    if (cpd_aggregate(&t->aggs, p->samples, *k, tl) < 0 ||
        cpd_aggregate(&t->offaggs, off, n, tl) < 0)
      cpd_log("pid %" PRIu32 ": out of memory summing samples; some are left out", t->pid);
    p->nsamples = *k;  /* what the trace sees of this segment */
    if (t->trace_open)
      cpd_trace_samples_segment(&t->tsamp, t->segment_ns, cut_ns, last, &extra);
  }
  if (t->trace_open)
    cpd_trace_segment(&t->trace, s, tl, t->sampling ? &extra : NULL, last);
  if (t->pf_open)
    cpd_pf_segment(&t->pf, s, tl, t->sampling && t->trace_open ? &t->tsamp : NULL, p->samples, *k,
                   off, n, t->segment_ns, cut_ns, last);
  if (t->trace_open && t->sampling && !last)
    cpd_trace_samples_carry(&t->tsamp, tl);
  free(off);
  p->nsamples = *total;
  return 0;
}

/* After a segment is written: what the next window keeps of samples and thread states. */
static void advance(struct cpd_target *t, size_t total, size_t k, uint64_t cut_ns, int cut)
{
  struct cpd_profile *p = &t->profile;

  if (total > k)
    memmove(p->samples, p->samples + k, (total - k) * sizeof(*p->samples));
  p->nsamples = total - k;
  t->samples_written += k;
  offcpu_advance(p, cut_ns, !cut);
  cpd_sched_cut(&p->sched, cut_ns);
  cpd_rss_cut(&p->rss, cut_ns);
}

/* What a segment wrote is let go: the events, samples and states before CUT_NS. With
 * CUT the session goes on past it (tasks open there are carried: at their own begin
 * inside a window, IN_WINDOW, else at the cut); else it was written whole. */
static void consume(struct cpd_target *t, const struct cpd_timeline *tl, uint64_t cut_ns,
                    size_t k, size_t total, int cut, int in_window)
{
  struct cpd_session *s = t->session;

  if (cut && cpd_session_cut(s, tl, cut_ns, in_window) < 0)
    cpd_log("pid %" PRIu32 ": out of memory cutting the window; its tasks stay in the next one",
            t->pid);
  if (!cut)
    s->nevents = 0;  /* all written */
  if (t->sampling)
    advance(t, total, k, cut_ns, cut);
  t->segment_ns = cut_ns;
}

/* Sums A and writes them to PATH. 0 or -errno. */
static int write_pprof(const char *path, const struct cpd_target *t, const struct cpd_aggs *a,
                       const struct cpd_pprof_info *info)
{
  return cpd_pprof_write(path, &t->profile, t->session, a, info);
}

/* Ends the window's files: its CPU and off-CPU profiles (when sampled) and its trace. */
static void write_files(struct cpd_target *t, const struct cpd_pprof_info *info,
                        struct window_files *f)
{
  uint64_t real = t->env->cfg->window_s > 0 && !t->session_only
                      ? t->window_start_ns + t->env->realtime_offset_ns : 0;

  f->prc = f->orc = 1;
  if (t->sampling && (f->prc = out_path(t, real, ".pb.gz", f->ppath)) == 0)
    f->prc = write_pprof(f->ppath, t, &t->aggs, info);
  if (t->sampling && f->prc == 0 && cpd_sampler_has_offcpu(&t->sampler)) {
    struct cpd_pprof_info oinfo = *info;

    oinfo.kind = CPD_PPROF_OFFCPU;
    oinfo.offcpu_sampled_ns = t->sampler.offcpu_period_ns;
    if ((f->orc = out_path(t, real, ".offcpu.pb.gz", f->opath)) == 0)
      f->orc = write_pprof(f->opath, t, &t->offaggs, &oinfo);
  }
  if (t->trace_open) {
    struct cpd_trace_extra extra = { 0 };

    if (t->sampling)
      cpd_trace_samples_segment(&t->tsamp, t->segment_ns, t->segment_ns, 1, &extra);
    snprintf(f->tpath, sizeof(f->tpath), "%s", t->trace.out.o.path);
    f->trc = cpd_trace_close(&t->trace, t->session, t->sampling ? &extra : NULL);
    t->env->stats->trace_left_out += t->trace.dropped_events + t->trace.dropped_samples;
    t->tasks_written = t->trace.spans;
    t->trace_open = 0;
  } else {
    f->trc = t->trace_rc ? t->trace_rc : -EIO;
  }
  f->frc = 1;
  if (t->pf_open) {
    snprintf(f->fpath, sizeof(f->fpath), "%s", t->pf.out.o.path);
    f->frc = cpd_pf_close(&t->pf, t->session);
    t->env->stats->trace_left_out += t->pf.dropped_events + t->pf.dropped_samples;
    t->pf_open = 0;
  }
}

/* Forgets the window's sums and trace state: the next window starts afresh. */
static void window_reset(struct cpd_target *t)
{
  if (t->trace_open)
    cpd_trace_discard(&t->trace);
  t->trace_open = 0;
  if (t->pf_open)
    cpd_pf_discard(&t->pf);
  t->pf_open = 0;
  t->trace_rc = 0;
  cpd_trace_samples_free(&t->tsamp);
  cpd_aggs_free(&t->aggs);
  cpd_aggs_free(&t->offaggs);
}

/*
 * Service mode: nothing is lost to a full or unwritable disk. When a file failed, the
 * window stays in memory whole (what was written of it is removed) for the next try:
 * returns 1. Else 0.
 */
static int keep_window(struct cpd_target *t, struct window_files *f)
{
  const char *failed;
  int rc;

  if (!keep_on_failure(t))
    return 0;
  if (f->orc < 0 && f->prc == 0 && f->trc == 0) {  /* only the off-CPU one failed */
    f->prc = f->orc;
    unlink(f->ppath);
    snprintf(f->ppath, sizeof(f->ppath), "%s", f->opath);
    f->orc = 1;
  }
  if (f->prc >= 0 && f->trc >= 0 && f->frc >= 0)
    return 0;
  failed = f->prc < 0 ? f->ppath : f->trc < 0 ? f->tpath : f->fpath;
  rc = f->prc < 0 ? f->prc : f->trc < 0 ? f->trc : f->frc;
  if (!t->write_pending) {
    cpd_log("could not write the files of pid %" PRIu32 " (%s: %s); its data is kept "
            "and written when the disk allows it", t->pid, failed, strerror(-rc));
    t->env->stats->write_errors++;
  }
  t->write_pending = 1;
  if (f->prc == 0)
    unlink(f->ppath);
  if (f->orc == 0)
    unlink(f->opath);
  if (f->trc == 0)
    unlink(f->tpath);
  if (f->frc == 0)
    unlink(f->fpath);
  return 1;
}

/* Counts and reports the files written, queues the profile for Pyroscope. */
static void report_files(struct cpd_target *t, const struct window_files *f,
                         const struct cpd_pprof_info *info)
{
  if (t->write_pending)
    cpd_log("pid %" PRIu32 ": the kept data is written now", t->pid);
  t->write_pending = 0;
  if (t->sampling) {
    wrote(t, f->prc, "profile", f->ppath);
    if (f->prc == 0 && t->env->push)
      cpd_push_queue_add(t->env->push, f->ppath, t->session->service, "process_cpu",
                         info->time_nanos / 1000000000u,
                         (info->time_nanos + info->duration_nanos + 999999999u) / 1000000000u,
                         t->sampler.hz);
    if (f->orc <= 0)
      wrote(t, f->orc, "off-CPU profile", f->opath);
    /* Off-CPU as its own profile type: only the Push API can say so (its __name__). */
    if (f->orc == 0 && t->env->push && !t->env->cfg->pyroscope_ingest)
      cpd_push_queue_add(t->env->push, f->opath, t->session->service, "off_cpu",
                         info->time_nanos / 1000000000u,
                         (info->time_nanos + info->duration_nanos + 999999999u) / 1000000000u,
                         t->sampler.hz);
  }
  wrote(t, f->trc, "trace", f->tpath);
  if (f->trc == 0)
    t->env->stats->traces_written++;
  if (f->frc <= 0)
    wrote(t, f->frc, "Perfetto trace", f->fpath);
}

/* The summary a --pid run prints, the one the requester of an attach gets in Done, or a
 * log line per file. */
static void report_window(struct cpd_target *t, int final, size_t written_before)
{
  const struct cpd_config *cfg = t->env->cfg;

  if (final && t->sampling && cfg->target_pid && !cfg->quiet) {
    if (cfg->before_report)
      cfg->before_report(cfg->tick_arg);
    cpd_summary_write(cfg->report ? cfg->report : stdout, t, 1);
    return;
  }
  if (final && cfg->target_pid && !cfg->quiet)
    cpd_summary_cost(cfg->report ? cfg->report : stdout, t);
  if (final && t->sampling && t->requester && !t->summary)
    t->summary = cpd_summary_text(t);
  for (size_t i = written_before; i < t->nfiles; i++)
    cpd_log("wrote %s (pid %" PRIu32 ", %zu tasks, %" PRIu64 " events, %" PRIu64 " samples)",
            t->files[i], t->pid, t->tasks_written, t->session->events_received,
            cpd_target_samples(t));
}

int cpd_window_write(struct cpd_target *t, uint64_t cut_ns, int final)
{
  struct cpd_session *s = t->session;
  struct cpd_pprof_info info = {
    .hz = t->sampler.hz,
    .event = t->sampler.event,
    .time_nanos = t->window_start_ns + t->env->realtime_offset_ns,
    .duration_nanos = cut_ns - t->window_start_ns,
    .dwarf_stack = t->opts.dwarf_stack,
    .kernel = t->sampler.kernel_note[0] ? t->sampler.kernel_note : NULL,
    .mode = t->sampler.mode_note[0] ? t->sampler.mode_note : NULL,
  };
  size_t total = 0, k = 0, written_before = t->nfiles;
  /* A session whose client stays connected to a service goes on: it is cut like a window.
   * With --pid, or when its trace alone is written (the session ends), nothing follows
   * the last window, so it takes every event. */
  int cut = !final || (!t->session_only && s->connections > 0 && !t->env->cfg->target_pid);
  struct window_files f = { .prc = 1, .orc = 1, .trc = 1, .frc = 1 };
  struct cpd_timeline tl;
  int rc;

  rc = segment(t, cut_ns, !cut, final, 1, &f, &tl, &k, &total);
  if (rc < 0)
    return rc;
  write_files(t, &info, &f);
  if (keep_window(t, &f)) {
    /* Nothing of it was let go: the window is summed and written again next time. */
    cpd_timeline_free(&tl);
    window_reset(t);
    return -EAGAIN;
  }
  report_files(t, &f, &info);
  report_window(t, final, written_before);
  consume(t, &tl, cut_ns, k, total, cut, 0);
  s->written = 1;
  cpd_timeline_free(&tl);
  window_reset(t);
  t->windows++;
  t->window_start_ns = cut_ns;
  return t->write_error;
}

int cpd_target_segment(struct cpd_target *t)
{
  uint64_t now = cpd_now_ns(), cut = now > CPD_SEGMENT_LAG_NS ? now - CPD_SEGMENT_LAG_NS : 0;
  struct window_files f;
  struct cpd_timeline tl;
  size_t k, total;
  int rc;

  uint64_t cpu0;

  if (cut < t->segment_ns + CPD_SEGMENT_NS || t->stop_ns || t->write_pending)
    return 0;
  cpd_target_read(t);
  cpu0 = cpd_thread_cpu_ns();
  rc = segment(t, cut, 0, 0, 0, &f, &tl, &k, &total);
  if (rc == 0) {
    consume(t, &tl, cut, k, total, 1, 1);
    cpd_timeline_free(&tl);
  }
  t->write_cpu_ns += cpd_thread_cpu_ns() - cpu0;
  return rc;  /* on failure, tried again at the next */
}

int cpd_target_cut(struct cpd_target *t)
{
  uint64_t len = (uint64_t)(t->env->cfg->window_s * 1e9), now = cpd_now_ns(), cut;
  int rc;

  if (now - t->window_start_ns < len)
    return 0;
  /* Windows lie on a grid of LEN from the first one's start, however late the loop comes
   * to cut them (the data is cut by its timestamps). Windows kept from a full disk are
   * written as one, up to the last grid line passed. */
  cut = t->window_start_ns + len;
  if (t->write_pending)
    cut += (now - cut) / len * len;
  cpd_target_read(t);
  rc = cpd_window_write(t, cut, 0);
  if (rc == -EAGAIN)
    t->retry_ms = cpd_now_ms() + CPD_WRITE_RETRY_MS;
  return rc;
}

int cpd_target_finish(struct cpd_target *t)
{
  struct cpd_session *s = t->session;
  int rc;

  if (!t->stop_ns) {
    t->finish_ns = cpd_now_ns();
    if (t->sampling) {
      cpd_rss_poll(&t->profile.rss, t->finish_ns, 0);
      cpd_sampler_disable(&t->sampler);
      cpd_sampler_read(&t->sampler);
    }
    t->stop_ns = cpd_now_ns();
    t->stop_cpu_ns = cpd_process_cpu_ns();
  }
  rc = cpd_window_write(t, t->stop_ns, 1);
  if (rc == -EAGAIN) {
    t->retry_ms = cpd_now_ms() + CPD_WRITE_RETRY_MS;  /* kept; the loop tries again */
    return rc;
  }
  if (rc < 0 && t->write_pending)
    cpd_log("pid %" PRIu32 ": %zu samples and %zu events could not be written and are lost",
            t->pid, t->sampling ? t->profile.nsamples : 0, s->nevents);
  if (!t->env->cfg->target_pid)
    cpd_log("pid %" PRIu32 ": profile ended (%s): %" PRIu64 " samples, %" PRIu64 " lost, "
            "%" PRIu32 " windows", t->pid, t->end_reason ? t->end_reason : "stopped",
            cpd_target_samples(t), cpd_target_lost(t), t->windows);
  return rc;
}

int cpd_window_write_session(const struct cpd_target_env *env, struct cpd_session *s)
{
  struct cpd_target t = {
    .pid = s->pid, .env = env, .session = s, .session_only = 1,
    .prefix = (char *)env->cfg->prefix,
    .opts.owner_uid = env->cfg->target_pid ? geteuid() : s->uid,  /* a client's trace is theirs */
    .write_pending = s->retry_ms != 0,  /* its failure was said already */
    .window_start_ns = s->start_mono_ns,
  };
  size_t nevents = s->nevents;
  int rc = cpd_window_write(&t, cpd_now_ns(), 1);

  for (size_t i = 0; i < t.nfiles; i++)
    free(t.files[i]);
  free(t.files);
  if (rc == -EAGAIN)
    s->retry_ms = cpd_now_ms() + CPD_WRITE_RETRY_MS;
  else if (rc < 0)
    cpd_log("pid %" PRIu32 ": the trace could not be written; its %zu events are lost",
            s->pid, nevents);
  return rc;
}
