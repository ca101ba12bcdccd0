/* target.c: sampling one process and writing its windows: pprof, trace, summary, push. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ingest/daemon.h"
#include "log.h"
#include "output/pprof_writer.h"
#include "push.h"
#include "model/timeline.h"
#include "output/trace_samples.h"
#include "output/trace_writer.h"
#include "util.h"

#define RING_PAGES 128

static void watch_exit(struct cpd_target *t)
{
#ifdef SYS_pidfd_open
  struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &t->pid_watch };

  t->pid_watch = (struct cpd_watch){ CPD_W_PIDFD, t };
  t->pidfd = (int)syscall(SYS_pidfd_open, (pid_t)t->pid, 0);
  if (t->pidfd >= 0 && epoll_ctl(cpd.epfd, EPOLL_CTL_ADD, t->pidfd, &ev) < 0) {
    close(t->pidfd);
    t->pidfd = -1;
  }
#endif
}

static int open_sampler(struct cpd_target *t, char *err, size_t errlen)
{
  /* DWARF samples carry kilobytes of stack: rings 4 times larger where the memory may be
   * locked (root; others are held to perf_event_mlock_kb). */
  struct cpd_sampler_opts o = { .hz = t->opts.hz, .kernel = t->opts.kernel,
                                .ring_pages = t->opts.dwarf_stack && geteuid() == 0 ?
                                              4 * RING_PAGES : RING_PAGES,
                                .enable_on_exec = t->opts.enable_on_exec, .offcpu = 1,
                                .no_bpf = t->opts.no_bpf,
                                .dwarf_stack = t->opts.dwarf_stack };
  int rc;

  cpd_profile_init(&t->profile, t->pid);
  rc = cpd_sampler_open(&t->sampler, t->pid, &o, &t->profile, err, errlen);
  if (rc < 0) {  /* the sampler closed what it had opened */
    cpd_profile_free(&t->profile);
    return rc;
  }
  if (t->sampler.warning[0])
    cpd_log("%s", t->sampler.warning);
  if (t->sampler.offcpu_warning[0])
    cpd_log("%s", t->sampler.offcpu_warning);
  else if (t->sampler.offcpu_note[0])
    cpd_log("pid %" PRIu32 ": %s", t->pid, t->sampler.offcpu_note);
  t->ring_watch = (struct cpd_watch){ CPD_W_RING, t };
  for (int i = 0; i < t->sampler.ncpus; i++) {
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &t->ring_watch };
    int fd = cpd_sampler_ring_fd(&t->sampler, i);

    if (fd >= 0)
      epoll_ctl(cpd.epfd, EPOLL_CTL_ADD, fd, &ev);
  }
  if (!t->opts.enable_on_exec && (rc = cpd_sampler_enable(&t->sampler)) < 0) {
    snprintf(err, errlen, "failed to enable the perf events of pid %" PRIu32 ": %s", t->pid,
             strerror(-rc));
    cpd_sampler_close(&t->sampler);
    cpd_profile_free(&t->profile);
    return rc;
  }
  if ((rc = cpd_rss_open(&t->profile.rss, t->pid)) < 0)
    cpd_debug("pid %" PRIu32 ": no resident memory track: /proc/%" PRIu32 "/statm: %s", t->pid,
              t->pid, strerror(-rc));
  cpd_rss_poll(&t->profile.rss, cpd_now_ns(), 0);
  t->sampling = 1;
  return 0;
}

struct cpd_target *cpd_target_start(uint32_t pid, const struct cpd_target_opts *o, char *err,
                                    size_t errlen)
{
  struct cpd_target *t = calloc(1, sizeof(*t));

  err[0] = '\0';
  if (!t || (o->prefix && !(t->prefix = strdup(o->prefix)))) {
    snprintf(err, errlen, "out of memory");
    free(t);
    return NULL;
  }
  t->pid = pid;
  t->opts = *o;
  t->opts.prefix = t->prefix;
  t->pidfd = -1;
  if (!o->no_sampling && open_sampler(t, err, errlen) < 0) {
    free(t->prefix);
    free(t);
    return NULL;
  }
  watch_exit(t);
  t->start_ns = t->window_start_ns = cpd_now_ns();
  t->next = cpd.targets;
  cpd.targets = t;
  return t;
}

void cpd_target_read(struct cpd_target *t)
{
  if (!t->sampling)
    return;
  cpd_sampler_read(&t->sampler);
  if (!t->stop_ns)
    cpd_rss_poll(&t->profile.rss, cpd_now_ns(), CPD_RSS_GAP_NS);
}

uint64_t cpd_target_samples(const struct cpd_target *t)
{
  return t->samples_written + (t->sampling ? t->profile.nsamples : 0);
}

uint64_t cpd_target_lost(const struct cpd_target *t)
{
  return t->sampling ? t->profile.lost_samples + t->profile.lost_records : 0;
}

static int cmp_count_desc(const void *a, const void *b)
{
  const uint64_t *x = a, *y = b;  /* {count, function} pairs */

  return x[0] < y[0] ? 1 : x[0] > y[0] ? -1 : (x[1] > y[1]) - (x[1] < y[1]);
}

/* The short summary a user reads first: what was sampled and the hottest functions. */
static void print_summary(const struct cpd_target *t, const struct cpd_session *s,
                          const struct cpd_timeline *tl)
{
  const struct cpd_profile *p = &t->profile;
  uint64_t (*self)[2] = calloc(p->nfuncs + 1, sizeof(*self));
  size_t workers = 0;
  double secs = (double)(t->stop_ns - t->start_ns) / 1e9;
  struct rusage ru;
  double cpu;

  for (size_t i = 0; i < s->nthreads; i++)
    workers += s->threads[i].worker_name != NULL;
  printf("ceoprof: pid %" PRIu32 " (%s) for %.2f s at %d Hz (%s)\n", t->pid, s->service, secs,
         t->sampler.hz, t->sampler.event);
  printf("  samples %zu, lost %" PRIu64 " (+%" PRIu64 " records), threads %zu, workers %zu, "
         "tasks %zu\n", p->nsamples, p->lost_samples, p->lost_records, p->nthreads, workers,
         tl->nspans);
  if (self && p->nsamples) {
    for (size_t i = 0; i < p->nfuncs + 1; i++)
      self[i][1] = i;
    for (size_t i = 0; i < p->nsamples; i++) {
      const struct cpd_stack *stk = &p->stacks[p->samples[i].stack];
      uint32_t f = stk->len ? p->locs[p->frames[stk->off] - 1].function : 0;

      self[f][0]++;
    }
    cpd_qsort(self, p->nfuncs + 1, sizeof(*self), cmp_count_desc);
    printf("  top functions (self):\n");
    for (size_t i = 0; i < p->nfuncs + 1 && i < 8 && self[i][0]; i++)
      printf("    %5.1f%%  %s\n", 100.0 * (double)self[i][0] / (double)p->nsamples,
             self[i][1] ? cpd_function_name(&p->funcs[self[i][1] - 1]) : "(unknown)");
  }
  free(self);
  getrusage(RUSAGE_SELF, &ru);
  cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
        (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
  printf("  daemon CPU %.3f s (%.1f us per sample), peak RSS %ld KiB\n", cpu,
         p->nsamples ? cpu * 1e6 / (double)p->nsamples : 0.0, cpd_peak_rss_kib());
  if (t->sampler.opts.dwarf_stack) {
    const struct cpd_unwind *u = &t->sampler.unwind;

    printf("  DWARF unwinding: %" PRIu64 " stacks, %.1f frames each, %" PRIu64 " cut short (%"
           PRIu64 " frames without unwind information), %.1f us CPU per stack\n", u->samples,
           u->samples ? (double)u->frames / (double)u->samples : 0.0, u->truncated, u->no_info,
           u->samples ? (double)u->cpu_ns / 1e3 / (double)u->samples : 0.0);
  }
  printf("  files written %.1f ms after the stop\n",
         (double)(cpd_now_ns() - (t->finish_ns ? t->finish_ns : t->stop_ns)) / 1e6);
}

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
    cpd.write_errors++;
    if (!t->write_error)
      t->write_error = rc;
    cpd_log("failed to write the %s of pid %" PRIu32 " to %s: %s", what, t->pid, path,
            strerror(-rc));
    return;
  }
  cpd.files_written++;
  give_file(t, path);
  add_file(t, path);
}

/* Whether a failed write keeps the data for another try: in service mode, until it stops. */
static int keep_on_failure(void)
{
  return !cpd.target_pid && !cpd.stopping;
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
    if (smp.time)  /* else summed by the BPF helper */
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

    if (!smp.time)
      continue;  /* summed: all of it was in this window */
    if (smp.time < cut_ns) {
      cpd_sched_off(&p->sched, smp.tid, smp.time, cut_ns, &still_off);
      smp.time = cut_ns;
    }
    if (still_off)
      p->offcpu[k++] = smp;
  }
  p->noffcpu = k;
}

/* Writes the window [window_start_ns, CUT_NS): pprof and trace. FINAL takes every event left. */
static int write_window(struct cpd_target *t, struct cpd_session *s, uint64_t cut_ns, int final)
{
  struct cpd_profile *p = &t->profile;
  struct cpd_trace_samples ts = { p, t->sampler.event, t->sampler.hz, t->window_start_ns, cut_ns,
                                  t->opts.dwarf_stack ? &t->sampler.unwind : NULL,
                                  t->opts.dwarf_stack };
  struct cpd_trace_extra extra = { 0 };
  uint64_t real = cpd.window_s > 0 ? t->window_start_ns + cpd.realtime_offset_ns : 0;
  size_t total = t->sampling ? p->nsamples : 0, k = 0;
  size_t written_before = t->nfiles;
  /* A session whose client stays connected to a service goes on: it is cut like a window.
   * With --pid nothing follows the last window, so it takes every event. */
  int cut = !final || (s->connections > 0 && !cpd.target_pid);
  struct cpd_timeline tl;
  char path[PATH_MAX];
  int rc;

  if (t->sampling) {
    cpd_sampler_drain_offcpu(&t->sampler);
    k = final ? total : partition_samples(p, cut_ns);
    p->nsamples = k;
    /* Every sampled thread gets a lane, named as the kernel last named it. */
    for (size_t i = 0; i < p->nthreads; i++) {
      struct cpd_thread *th = cpd_session_thread(s, p->threads[i].tid);

      if (th)
        snprintf(th->comm, sizeof(th->comm), "%s", p->threads[i].comm);
    }
    cpd_sched_index(&p->sched);
    cpd_trace_samples_extra(&ts, &extra);
  }
  s->end_mono_ns = cut_ns;
  rc = cut ? cpd_timeline_build_until(&tl, s, cut_ns) : cpd_timeline_build(&tl, s, cut_ns);
  if (rc < 0) {
    p->nsamples = total;
    return rc;
  }
  {
    struct cpd_pprof_info info = {
      .hz = t->sampler.hz,
      .event = t->sampler.event,
      .time_nanos = t->window_start_ns + cpd.realtime_offset_ns,
      .duration_nanos = cut_ns - t->window_start_ns,
      .dwarf_stack = t->opts.dwarf_stack,
    };
    char ppath[PATH_MAX], opath[PATH_MAX] = "";
    struct cpd_psample *off = NULL;
    int prc = 0, orc = 1;  /* orc: 1 = no off-CPU profile */

    if (t->sampling) {
      prc = cpd_output_path(ppath, sizeof(ppath), t->prefix, s, real, ".pb.gz");
      if (prc == 0)
        prc = cpd_pprof_write(ppath, p, s, &tl, &info);
    }
    if (t->sampling && prc == 0 && cpd_sampler_has_offcpu(&t->sampler)) {
      struct cpd_pprof_info oinfo = info;

      oinfo.nsamples = offcpu_window(p, cut_ns, !cut, &off);
      oinfo.samples = off ? off : p->offcpu;  /* no memory: an empty profile */
      oinfo.value_type = "off_cpu";
      oinfo.summed_by_bpf = t->sampler.offcpu_bpf != NULL;
      orc = cpd_output_path(opath, sizeof(opath), t->prefix, s, real, ".offcpu.pb.gz");
      if (orc == 0)
        orc = cpd_pprof_write(opath, p, s, &tl, &oinfo);
      free(off);
    }
    rc = cpd_output_path(path, sizeof(path), t->prefix, s, real, ".trace.json");
    if (rc == 0)
      rc = cpd_trace_write(path, s, &tl, t->sampling ? &extra : NULL);
    if (orc < 0 && prc == 0 && rc == 0 && keep_on_failure()) {  /* only the off-CPU one failed */
      prc = orc;
      unlink(ppath);
      snprintf(ppath, sizeof(ppath), "%s", opath);
      orc = 1;
    }
    if ((prc < 0 || rc < 0) && keep_on_failure()) {
      /* Service mode: nothing is lost to a full or unwritable disk. The window stays in
       * memory whole (a half-written pair is removed) and is written with the next try. */
      if (!t->write_pending)
        cpd_log("could not write the files of pid %" PRIu32 " (%s: %s); its data is kept "
                "and written when the disk allows it", t->pid, prc < 0 ? ppath : path,
                strerror(-(prc < 0 ? prc : rc)));
      cpd.write_errors += !t->write_pending;
      t->write_pending = 1;
      if (t->sampling && prc == 0)
        unlink(ppath);
      if (orc == 0)
        unlink(opath);
      if (rc == 0)
        unlink(path);
      cpd_timeline_free(&tl);
      p->nsamples = total;
      return -EAGAIN;
    }
    if (t->write_pending)
      cpd_log("pid %" PRIu32 ": the kept data is written now", t->pid);
    t->write_pending = 0;
    if (t->sampling) {
      wrote(t, prc, "profile", ppath);
      if (prc == 0 && cpd.pyroscope_url)
        cpd_push_enqueue(ppath, s->service, info.time_nanos / 1000000000u,
                         (info.time_nanos + info.duration_nanos + 999999999u) / 1000000000u,
                         t->sampler.hz);
      if (orc <= 0)
        wrote(t, orc, "off-CPU profile", opath);
    }
    wrote(t, rc, "trace", path);
  }
  if (rc == 0)
    cpd.traces_written++;
  if (final && t->sampling && cpd.target_pid && !cpd.quiet) {
    print_summary(t, s, &tl);
    for (size_t i = 0; i < t->nfiles; i++)
      printf("  wrote %s\n", t->files[i]);
    fflush(stdout);
  } else {
    for (size_t i = written_before; i < t->nfiles; i++)
      cpd_log("wrote %s (pid %" PRIu32 ", %zu tasks, %zu samples)", t->files[i], t->pid,
              tl.nspans, k);
  }
  if (cut && cpd_session_cut(s, &tl, cut_ns) < 0)
    cpd_log("pid %" PRIu32 ": out of memory cutting the window; its tasks stay in the next one",
            t->pid);
  if (!cut)
    s->nevents = 0;  /* all written */
  s->written = 1;
  cpd_timeline_free(&tl);
  if (t->sampling) {
    if (total > k)
      memmove(p->samples, p->samples + k, (total - k) * sizeof(*p->samples));
    p->nsamples = total - k;
    t->samples_written += k;
    offcpu_advance(p, cut_ns, !cut);
    cpd_sched_cut(&p->sched, cut_ns);
    cpd_rss_cut(&p->rss, cut_ns);
  }
  t->windows++;
  t->window_start_ns = cut_ns;
  return t->write_error;
}

int cpd_target_cut(struct cpd_target *t)
{
  struct cpd_session *s = cpd_session_get(t->pid, 0);
  uint64_t len = (uint64_t)(cpd.window_s * 1e9), now = cpd_now_ns(), cut;
  int rc;

  if (!s)
    return -ENOMEM;
  if (now - t->window_start_ns < len)
    return 0;
  /* Windows lie on a grid of LEN from the first one's start, however late the loop comes
   * to cut them (the data is cut by its timestamps). Windows kept from a full disk are
   * written as one, up to the last grid line passed. */
  cut = t->window_start_ns + len;
  if (t->write_pending)
    cut += (now - cut) / len * len;
  cpd_target_read(t);
  rc = write_window(t, s, cut, 0);
  if (rc == -EAGAIN)
    t->retry_ms = cpd_now_ms() + CPD_WRITE_RETRY_MS;
  return rc;
}

static void send_done(struct cpd_target *t)
{
  Ceoprof__Wire__Done done = CEOPROF__WIRE__DONE__INIT;
  Ceoprof__Wire__Frame f = CEOPROF__WIRE__FRAME__INIT;

  done.pid = t->pid;
  done.files = t->files;
  done.n_files = t->nfiles;
  done.samples = cpd_target_samples(t);
  done.lost = cpd_target_lost(t);
  done.message = (char *)(t->end_reason ? t->end_reason : "stopped");
  done.error = t->write_error;
  f.body_case = CEOPROF__WIRE__FRAME__BODY_DONE;
  f.done = &done;
  cpd_conn_send(t->requester, &f);
  cpd_conn_send(t->detacher, &f);
}

int cpd_target_finish(struct cpd_target *t)
{
  struct cpd_session *s = cpd_session_get(t->pid, 0);
  int rc;

  if (!t->stop_ns) {
    t->finish_ns = cpd_now_ns();
    if (t->sampling) {
      cpd_rss_poll(&t->profile.rss, t->finish_ns, 0);
      cpd_sampler_disable(&t->sampler);
      cpd_sampler_read(&t->sampler);
    }
    t->stop_ns = cpd_now_ns();
  }
  rc = s ? write_window(t, s, t->stop_ns, 1) : -ENOMEM;
  if (rc == -EAGAIN) {
    t->retry_ms = cpd_now_ms() + CPD_WRITE_RETRY_MS;  /* kept; the loop tries again */
    return rc;
  }
  if (rc < 0 && t->write_pending)
    cpd_log("pid %" PRIu32 ": %zu samples and %zu events could not be written and are lost",
            t->pid, t->sampling ? t->profile.nsamples : 0, s ? s->nevents : 0);
  if (!cpd.target_pid)
    cpd_log("pid %" PRIu32 ": profile ended (%s): %" PRIu64 " samples, %" PRIu64 " lost, "
            "%" PRIu32 " windows", t->pid, t->end_reason ? t->end_reason : "stopped",
            cpd_target_samples(t), cpd_target_lost(t), t->windows);
  send_done(t);
  for (struct cpd_target **pp = &cpd.targets; *pp; pp = &(*pp)->next)
    if (*pp == t) {
      *pp = t->next;
      break;
    }
  if (s)
    cpd_session_release(s);
  if (t->sampling) {
    cpd_sampler_close(&t->sampler);
    cpd_profile_free(&t->profile);
  }
  if (t->pidfd >= 0)
    close(t->pidfd);
  for (size_t i = 0; i < t->nfiles; i++)
    free(t->files[i]);
  free(t->files);
  free(t->prefix);
  free(t);
  return rc;
}
