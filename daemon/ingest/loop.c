/*
 * loop.c: the engine: its socket, its event loop and cron, the sessions and targets it
 * holds, and the orderly stop that writes what is still open.
 */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ingest/control.h"
#include "ingest/server.h"
#include "log.h"
#include "output/push_queue.h"
#include "sockpath.h"
#include "target/window.h"
#include "util.h"

#define CRON_MS 100            /* the loop wakes at least this often */
#define CPD_LINGER_MS 500      /* a session outlives its last connection this long at least */

void cpd_config_init(struct cpd_config *c)
{
  *c = (struct cpd_config){
    .output_dir = ".",
    .hello_timeout_ms = 5000,
    .hz = 99,
    .max_trace_mb = CPD_MAX_TRACE_MB,
    .push_retries = 4,
    .push_backoff_ms = 1000,
    .push_drain_ms = 5000,
    .pyroscope_label_limit = CPD_PUSH_LABEL_LIMIT,
  };
  c->report = stdout;
}

/* ---- sessions and targets ---- */

struct cpd_session *cpd_session_find(const struct cpd_engine *e, uint32_t pid)
{
  for (struct cpd_session *s = e->sessions; s; s = s->next)
    if (s->pid == pid)
      return s;
  return NULL;
}

struct cpd_session *cpd_session_get(struct cpd_engine *e, uint32_t pid, uint32_t uid)
{
  struct cpd_session *s = cpd_session_find(e, pid);

  if (s)
    return s;
  s = cpd_session_new(pid, uid, cpd_now_ns());
  if (!s)
    return NULL;
  s->budget = &e->budget;
  s->next = e->sessions;
  e->sessions = s;
  return s;
}

struct cpd_target *cpd_target_find(const struct cpd_engine *e, uint32_t pid)
{
  for (struct cpd_target *t = e->targets; t; t = t->next)
    if (t->pid == pid)
      return t;
  return NULL;
}

static void session_unlink(struct cpd_engine *e, struct cpd_session *s)
{
  for (struct cpd_session **pp = &e->sessions; *pp; pp = &(*pp)->next)
    if (*pp == s) {
      *pp = s->next;
      return;
    }
}

void cpd_session_release(struct cpd_engine *e, struct cpd_session *s)
{
  if (s->connections > 0 || cpd_target_find(e, s->pid))
    return;
  if (s->retry_ms && cpd_now_ms() < s->retry_ms)
    return;  /* its trace could not be written; the loop tries again later */
  /*
   * A client that left without Goodbye (its connection timed out, the daemon was slow)
   * reconnects: its process keeps one session, and one file, until it is gone.
   */
  if (!e->env.stopping && s->had_hello &&
      ((!s->had_goodbye && kill((pid_t)s->pid, 0) == 0) ||
       cpd_now_ms() - s->closed_ms < CPD_LINGER_MS)) {
    s->lingering = 1;  /* connections still queued from a process that just exited count too */
    return;
  }
  s->lingering = 0;
  /* Events that came after its profile was written still make a trace. */
  if ((s->written && s->nevents == 0) || cpd_window_write_session(&e->env, s) != -EAGAIN) {
    session_unlink(e, s);
    cpd_session_free(s);
  }
}

struct cpd_target *cpd_engine_add_target(struct cpd_engine *e, uint32_t pid, uint32_t uid,
                                         const struct cpd_target_opts *o,
                                         const struct cpd_pin *pin, char *err, size_t errlen)
{
  int fresh = !cpd_session_find(e, pid);
  struct cpd_session *s = cpd_session_get(e, pid, uid);
  struct cpd_target *t;

  if (!s) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  t = cpd_target_start(&e->env, s, o, err, errlen);
  if (t && pin && !cpd_control_pinned(pin, pid, err, errlen)) {
    cpd_target_free(t);  /* nothing of it is written: it may be another process's */
    t = NULL;
  }
  if (!t) {
    if (fresh) {  /* made for this target alone: nothing to write */
      session_unlink(e, s);
      cpd_session_free(s);
    } else {
      cpd_session_release(e, s);
    }
    return NULL;
  }
  t->next = e->targets;
  e->targets = t;
  return t;
}

/* Reads what the target's clients already sent: it belongs in the target's last files. */
static void drain_clients_of(struct cpd_engine *e, uint32_t pid)
{
  for (struct cpd_conn *c = e->conns, *next; c; c = next) {
    next = c->next;
    if (c->session && c->session->pid == pid)
      cpd_conn_read(c);
  }
}

/* Writes T's last files, tells who asked (Done), and frees T unless its files are kept
 * for another try. */
static void end_target(struct cpd_engine *e, struct cpd_target *t)
{
  uint32_t pid = t->pid;
  int rc;

  drain_clients_of(e, pid);
  if (!t->stop_ns)
    cpd_debug("pid %" PRIu32 ": profile ends (%s)", pid, t->end_reason);
  rc = cpd_target_finish(t);
  if (rc == -EAGAIN)
    return;
  cpd_control_done(t);
  for (struct cpd_target **pp = &e->targets; *pp; pp = &(*pp)->next)
    if (*pp == t) {
      *pp = t->next;
      break;
    }
  cpd_session_release(e, t->session);
  cpd_target_free(t);
  if (e->cfg.target_pid == pid) {
    e->target_gone = 1;
    e->target_status = rc;
  }
}

/* ---- the socket ---- */

/* 1 when a live daemon answers on PATH, 0 when nothing does (a stale socket file). */
static int socket_in_use(const struct sockaddr_un *addr)
{
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int used;

  if (fd < 0)
    return 0;
  used = connect(fd, (const struct sockaddr *)addr, sizeof(*addr)) == 0;
  close(fd);
  return used;
}

static void on_listen_ready(struct cpd_watch *w, uint32_t events)
{
  (void)events;
  cpd_conn_accept(cpd_container_of(w, struct cpd_engine, listen_watch));
}

/*
 * With a "ceoprof" group, only its members (and root) may connect; without one, any local
 * process may. Either way what a connection may report or ask is checked per connection
 * (SO_PEERCRED).
 */
static int socket_mode(const char *path)
{
  struct group *g = getgrnam("ceoprof");

  if (g && chown(path, (uid_t)-1, g->gr_gid) == 0)
    return chmod(path, 0660);
  return chmod(path, 0666);
}

static int listen_socket(struct cpd_engine *e)
{
  const char *path = e->cfg.socket_path;
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &e->listen_watch };
  int rc;

  memcpy(addr.sun_path, path, sizeof(addr.sun_path));
  if (strcmp(path, CP_ROOT_SOCKET) == 0 && mkdir(CP_ROOT_SOCKET_DIR, 0755) < 0 &&
      errno != EEXIST) {
    rc = -errno;
    cpd_log("failed to create %s: %s", CP_ROOT_SOCKET_DIR, strerror(errno));
    return rc;
  }
  if (socket_in_use(&addr)) {
    cpd_log("another ceoprofd is already serving %s; stop it first, or give this one "
            "another --socket", path);
    return -EADDRINUSE;
  }
  /*
   * Bind to a temporary name and rename it into place once listening: the socket file
   * never exists without a listener behind it, so another daemon probing it cannot
   * mistake a starting daemon for a stale file.
   */
  if (snprintf(addr.sun_path, sizeof(addr.sun_path), "%s.%d", path, (int)getpid()) >=
      (int)sizeof(addr.sun_path))
    return -ENAMETOOLONG;
  unlink(addr.sun_path);
  e->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (e->listen_fd < 0)
    return -errno;
  /* Its mode is set before the rename: the socket never appears with the umask's. */
  if (bind(e->listen_fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
      listen(e->listen_fd, 128) < 0 || socket_mode(addr.sun_path) < 0 ||
      rename(addr.sun_path, path) < 0) {
    rc = -errno;
    cpd_log("failed to listen on %s: %s", path, strerror(errno));
    unlink(addr.sun_path);
    close(e->listen_fd);
    e->listen_fd = -1;
    return rc;
  }
  e->listen_watch.cb = on_listen_ready;
  if (epoll_ctl(e->epfd, EPOLL_CTL_ADD, e->listen_fd, &ev) < 0)
    return -errno;
  return 0;
}

/* ---- signals: read from a signalfd in the loop, so no handler touches the engine ---- */

static void on_signal_ready(struct cpd_watch *w, uint32_t events)
{
  struct cpd_engine *e = cpd_container_of(w, struct cpd_engine, signal_watch);
  struct signalfd_siginfo si;

  (void)events;
  while (read(e->signal_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
    int from_process = si.ssi_code == SI_USER || si.ssi_code == SI_QUEUE;

    if (!e->cfg.on_signal || !e->cfg.on_signal((int)si.ssi_signo, from_process, e->cfg.tick_arg))
      e->stop = (int)si.ssi_signo;
  }
}

void cpd_engine_request_stop(struct cpd_engine *e)
{
  if (!e->stop)
    e->stop = -2;
}

static int watch_signals(struct cpd_engine *e)
{
  struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &e->signal_watch };
  sigset_t set;

  signal(SIGPIPE, SIG_IGN);
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
    return -errno;
  e->signal_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
  if (e->signal_fd < 0)
    return -errno;
  e->signal_watch.cb = on_signal_ready;
  return epoll_ctl(e->epfd, EPOLL_CTL_ADD, e->signal_fd, &ev) < 0 ? -errno : 0;
}

/* ---- start, loop, stop ---- */

/* --pid: the one target, from the command line. */
static int start_single_target(struct cpd_engine *e)
{
  struct cpd_target_opts o = {
    .hz = e->cfg.hz, .kernel = e->cfg.kernel, .dwarf_stack = e->cfg.dwarf_stack,
    .no_sampling = e->cfg.no_sampling, .no_bpf = e->cfg.no_bpf,
    .per_thread = e->cfg.per_thread, .waits = e->cfg.waits,
    .enable_on_exec = e->cfg.enable_on_exec, .owner_uid = geteuid(),
  };
  char prefix[64], err[512];

  if (!e->cfg.prefix) {
    snprintf(prefix, sizeof(prefix), "ceoprof-%" PRIu32, e->cfg.target_pid);
    o.prefix = prefix;
  } else {
    o.prefix = e->cfg.prefix;
  }
  if (!cpd_engine_add_target(e, e->cfg.target_pid, 0, &o, NULL, err, sizeof(err))) {
    cpd_log("%s", err);
    return -EPERM;
  }
  return 0;
}

static int engine_init(struct cpd_engine *e)
{
  struct timespec rt;
  struct rlimit nofile;
  int rc;

  e->budget.limit = e->cfg.max_memory_mb ? (uint64_t)e->cfg.max_memory_mb << 20
                                         : cpd_budget_default();
  /* Every descriptor the system allows: clients, perf events and rings. */
  if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
    nofile.rlim_cur = nofile.rlim_max;
    setrlimit(RLIMIT_NOFILE, &nofile);
  }
  e->started_ms = cpd_now_ms();
  clock_gettime(CLOCK_REALTIME, &rt);
  e->env.realtime_offset_ns = (uint64_t)rt.tv_sec * 1000000000u + (uint64_t)rt.tv_nsec -
                              cpd_now_ns();
  e->epfd = epoll_create1(EPOLL_CLOEXEC);
  if (e->epfd < 0)
    return -errno;
  e->env.epfd = e->epfd;
  if ((rc = watch_signals(e)) < 0 || (rc = listen_socket(e)) < 0)
    return rc;
  if (e->cfg.pyroscope_url) {
    struct cpd_push_opts po = { e->cfg.pyroscope_url, e->cfg.pyroscope_tenant,
                                e->cfg.pyroscope_basic_auth, e->cfg.pyroscope_token,
                                e->cfg.pyroscope_ingest, e->cfg.pyroscope_label_limit };

    if ((rc = cpd_push_queue_new(&e->env.push, &po, e->cfg.push_retries,
                                 e->cfg.push_backoff_ms)) < 0) {
      cpd_log("failed to start the Pyroscope uploader: %s", strerror(-rc));
      return rc;
    }
    if (po.ingest)
      cpd_log("pushing to %s/ingest: off-CPU profiles are not pushed (through /ingest Pyroscope "
              "would add them to process_cpu); the Push API, the default, takes both", po.url);
  }
  if (e->cfg.target_pid && (rc = start_single_target(e)) < 0)
    return rc;
  if (e->cfg.on_started && (rc = e->cfg.on_started(e->cfg.started_arg)) < 0)
    return rc;
  return 0;
}

int cpd_engine_start(struct cpd_engine **out, const struct cpd_config *cfg)
{
  struct cpd_engine *e = calloc(1, sizeof(*e));
  int rc;

  *out = NULL;
  if (!e)
    return -ENOMEM;
  /* Arrays past 8 MiB (a window's events, its timeline) come from mmap, so that freeing
   * them gives the memory back at once: a fixed threshold, not glibc's sliding one, which
   * let such arrays, made and freed every segment, fragment the heap and grow it. */
  mallopt(M_MMAP_THRESHOLD, 8 << 20);
  e->cfg = *cfg;
  e->env.cfg = &e->cfg;
  e->env.stats = &e->stats;
  e->listen_fd = e->signal_fd = e->epfd = -1;
  rc = engine_init(e);
  if (rc < 0) {
    cpd_engine_stop(e);
    return rc;
  }
  *out = e;
  return 0;
}

/* Per-target periodic work: ends, windows, progress. */
static void cron_target(struct cpd_engine *e, struct cpd_target *t, uint64_t now)
{
  uint64_t ns = cpd_now_ns();

  cpd_target_read(t);
  if (t->pidfd < 0 && !t->gone && cpd_pid_exited(t->pid))
    t->gone = 1;
  if (t->gone && !t->end_reason)
    t->end_reason = "exited";
  if (t->opts.duration_s > 0 && !t->end_reason &&
      ns - t->start_ns >= (uint64_t)(t->opts.duration_s * 1e9))
    t->end_reason = "duration";
  if (t->end_reason) {
    if (!t->stop_ns || now >= t->retry_ms)  /* a kept profile is tried again now and then */
      end_target(e, t);
    return;
  }
  /* One process profiled to one set of files: written as it goes, in segments. */
  if (e->cfg.target_pid && cpd_target_segment(t) < 0)
    cpd_debug("pid %" PRIu32 ": out of memory writing a segment; tried again", t->pid);
  /* A loop that came late (a slow first symbol lookup, a starved machine) catches up. */
  while (e->cfg.window_s > 0 && ns - t->window_start_ns >= (uint64_t)(e->cfg.window_s * 1e9) &&
         (!t->write_pending || now >= t->retry_ms) && cpd_target_cut(t) == 0)
    ;
  if (t->progress && t->requester && now - t->progress_ms >= 500) {
    t->progress_ms = now;
    cpd_control_progress(t);
  }
}

static void cron(struct cpd_engine *e)
{
  uint64_t now = cpd_now_ms();

  cpd_conn_cron(e, now);
  if (e->cfg.duration_s > 0 && now - e->started_ms >= (uint64_t)(e->cfg.duration_s * 1000))
    e->stop = -1;
  for (struct cpd_target *t = e->targets, *next; t; t = next) {
    next = t->next;
    cron_target(e, t, now);
  }
  for (struct cpd_session *s = e->sessions, *next; s; s = next) {
    next = s->next;
    if (s->connections == 0 &&
        ((s->retry_ms && now >= s->retry_ms) ||
         (s->lingering && now - s->closed_ms >= CPD_LINGER_MS &&
          (s->had_goodbye || cpd_pid_exited(s->pid)))))
      cpd_session_release(e, s);
  }
  if (e->cfg.on_tick)
    e->cfg.on_tick(e, e->cfg.tick_arg);
}

void cpd_engine_run(struct cpd_engine *e)
{
  struct epoll_event evs[64];

  while (!e->stop && !e->target_gone) {
    int n = epoll_wait(e->epfd, evs, 64, CRON_MS);

    for (int i = 0; i < n; i++) {
      struct cpd_watch *w = evs[i].data.ptr;

      /* A connection closed earlier in this batch is not touched again. */
      if (w->cb)
        w->cb(w, evs[i].events);
    }
    cpd_conn_free_closed(e);
    cron(e);
    cpd_conn_free_closed(e);
  }
  /* Frames already on the wire belong in the output. */
  for (struct cpd_conn *c = e->conns, *next; c; c = next) {
    next = c->next;
    cpd_conn_read(c);
  }
}

int cpd_engine_progress(const struct cpd_engine *e, struct cpd_progress *p)
{
  const struct cpd_target *t = e->targets;

  if (!t)
    return -ENOENT;
  cpd_control_progress_of(t, p);
  return 0;
}

/* Writes and frees what is left: targets, connections, sessions. */
static void finish_all(struct cpd_engine *e)
{
  struct cpd_session *s;

  while (e->targets) {
    struct cpd_target *t = e->targets;

    if (!t->end_reason)
      t->end_reason = e->stop == -1 ? "duration" : e->stop == -2 ? "stopped" : "daemon stopping";
    end_target(e, t);
  }
  cpd_push_queue_free(e->env.push, e->cfg.push_drain_ms);
  e->env.push = NULL;
  /* What no session could be charged with: clients dropped before they said Hello. */
  if (e->stats.conns_dropped || e->stats.frames_rejected)
    cpd_log("%" PRIu64 " connections served; %" PRIu64 " dropped for protocol errors or timeouts, "
            "%" PRIu64 " of them before their Hello", e->stats.conns_total,
            e->stats.conns_dropped, e->stats.frames_rejected);
  while (e->conns) {
    struct cpd_conn *c = e->conns;

    c->session = NULL;  /* its session is finished below, not by cpd_conn_close */
    cpd_conn_close(c);
  }
  cpd_conn_free_closed(e);
  while ((s = e->sessions) != NULL) {
    e->sessions = s->next;
    if (e->cfg.target_pid || (s->written && s->nevents == 0)) {
      /* Its profile is written; events that came after it (rare) are counted here. */
      if (s->nevents)
        cpd_log("pid %" PRIu32 ": %zu events arrived after its profile was written; not written",
                s->pid, s->nevents);
    } else {
      cpd_window_write_session(&e->env, s);
    }
    cpd_session_free(s);
  }
}

int cpd_engine_stop(struct cpd_engine *e)
{
  int rc;

  e->env.stopping = 1;  /* what cannot be written now is lost: say so */
  finish_all(e);
  if (e->listen_fd >= 0) {
    close(e->listen_fd);
    unlink(e->cfg.socket_path);
  }
  if (e->signal_fd >= 0)
    close(e->signal_fd);
  if (e->epfd >= 0)
    close(e->epfd);
  rc = e->stats.write_errors || e->target_status < 0 ? -EIO : 0;
  free(e);
  return rc;
}
