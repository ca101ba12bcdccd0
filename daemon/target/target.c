/* target.c: sampling one process: its perf events, its exit, its windows and its end. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "model/session.h"
#include "log.h"
#include "target/target.h"
#include "util.h"

#define RING_PAGES 128

static void on_exit_ready(struct cpd_watch *w, uint32_t events)
{
  struct cpd_target *t = cpd_container_of(w, struct cpd_target, pid_watch);

  (void)events;
  t->gone = 1;
  epoll_ctl(t->env->epfd, EPOLL_CTL_DEL, t->pidfd, NULL);
}

static void on_ring_ready(struct cpd_watch *w, uint32_t events)
{
  (void)events;
  cpd_target_read(cpd_container_of(w, struct cpd_target, ring_watch));
}

static void watch_exit(struct cpd_target *t)
{
#ifdef SYS_pidfd_open
  struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &t->pid_watch };

  t->pid_watch.cb = on_exit_ready;
  t->pidfd = (int)syscall(SYS_pidfd_open, (pid_t)t->pid, 0);
  if (t->pidfd >= 0 && epoll_ctl(t->env->epfd, EPOLL_CTL_ADD, t->pidfd, &ev) < 0) {
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
                                .no_bpf = t->opts.no_bpf, .per_thread = t->opts.per_thread,
                                .waits = t->opts.waits, .follow_children = 1,
                                .dwarf_stack = t->opts.dwarf_stack };
  int rc;

  cpd_profile_init(&t->profile, t->pid);
  /* A root daemon reads only the files the target mapped for another user (map_files), never
   * a path that user may have bind-mounted another file over. */
  t->profile.syms.by_path = geteuid() != 0 || t->opts.owner_uid == 0;
  rc = cpd_sampler_open(&t->sampler, t->pid, &o, &t->profile, err, errlen);
  if (rc < 0) {  /* the sampler closed what it had opened */
    cpd_profile_free(&t->profile);
    return rc;
  }
  if (t->sampler.warning[0])
    cpd_log("%s", t->sampler.warning);
  if (t->sampler.offcpu_warning[0])
    cpd_log("%s", t->sampler.offcpu_warning);
  cpd_log("pid %" PRIu32 ": %s", t->pid, t->sampler.mode_note);
  if (t->sampler.waits_note[0])
    cpd_log("pid %" PRIu32 ": %s", t->pid, t->sampler.waits_note);
  t->ring_watch.cb = on_ring_ready;
  {
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &t->ring_watch };
    int fd = cpd_sampler_wake_fd(&t->sampler);

    if (fd >= 0)
      epoll_ctl(t->env->epfd, EPOLL_CTL_ADD, fd, &ev);
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

struct cpd_target *cpd_target_start(const struct cpd_target_env *env, struct cpd_session *s,
                                    const struct cpd_target_opts *o, char *err, size_t errlen)
{
  struct cpd_target *t = calloc(1, sizeof(*t));

  err[0] = '\0';
  if (!t || (o->prefix && !(t->prefix = strdup(o->prefix)))) {
    snprintf(err, errlen, "out of memory");
    free(t);
    return NULL;
  }
  t->pid = s->pid;
  t->env = env;
  t->session = s;
  t->opts = *o;
  t->opts.prefix = t->prefix;
  t->pidfd = -1;
  if (!o->no_sampling && open_sampler(t, err, errlen) < 0) {
    free(t->prefix);
    free(t);
    return NULL;
  }
  watch_exit(t);
  t->start_ns = t->window_start_ns = t->segment_ns = cpd_now_ns();
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

void cpd_target_free(struct cpd_target *t)
{
  if (t->sampling) {
    cpd_sampler_close(&t->sampler);
    cpd_profile_free(&t->profile);
  }
  if (t->pidfd >= 0)
    close(t->pidfd);
  for (size_t i = 0; i < t->nfiles; i++)
    free(t->files[i]);
  free(t->files);
  free(t->summary);
  free(t->prefix);
  free(t);
}
