/*
 * server.c: ceoprofd's event loop: the Unix socket, client connections and their
 * frames, timeouts, and writing a process's trace when its session ends.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "ingest/control.h"
#include "ingest/daemon.h"
#include "push.h"
#include "log.h"
#include "sockpath.h"
#include "model/timeline.h"
#include "output/trace_writer.h"
#include "util.h"

#define CRON_MS 100            /* the loop wakes at least this often */
#define CPD_LINGER_MS 500      /* a session outlives its last connection this long at least */
#define READ_BUDGET (256 << 10) /* bytes read from one client per wake-up, for fairness */

struct cpd_server cpd = {
  .listen_fd = -1,
  .epfd = -1,
  .listen_watch = { CPD_W_LISTEN, NULL },
  .push_retries = 4,
  .push_backoff_ms = 1000,
  .push_drain_ms = 5000,
  .hello_timeout_ms = 5000,
  .hz = 99,
};

static void conn_readable(struct cpd_conn *c);

uint64_t cpd_now_ns(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t cpd_now_ms(void)
{
  return cpd_now_ns() / 1000000u;
}

/* ---- sessions ---- */

struct cpd_session *cpd_session_find(uint32_t pid)
{
  for (struct cpd_session *s = cpd.sessions; s; s = s->next)
    if (s->pid == pid)
      return s;
  return NULL;
}

struct cpd_session *cpd_session_get(uint32_t pid, uint32_t uid)
{
  struct cpd_session *s = cpd_session_find(pid);

  if (s)
    return s;
  s = cpd_session_new(pid, uid, cpd_now_ns());
  if (!s)
    return NULL;
  s->next = cpd.sessions;
  cpd.sessions = s;
  return s;
}

struct cpd_target *cpd_target_find(uint32_t pid)
{
  for (struct cpd_target *t = cpd.targets; t; t = t->next)
    if (t->pid == pid)
      return t;
  return NULL;
}

static void session_unlink(struct cpd_session *s)
{
  for (struct cpd_session **pp = &cpd.sessions; *pp; pp = &(*pp)->next)
    if (*pp == s) {
      *pp = s->next;
      return;
    }
}

void cpd_session_release(struct cpd_session *s)
{
  if (s->connections > 0 || cpd_target_find(s->pid))
    return;
  if (s->retry_ms && cpd_now_ms() < s->retry_ms)
    return;  /* its trace could not be written; the loop tries again later */
  /*
   * A client that left without Goodbye (its connection timed out, the daemon was slow)
   * reconnects: its process keeps one session, and one file, until it is gone.
   */
  if (!cpd.stopping && s->had_hello &&
      ((!s->had_goodbye && kill((pid_t)s->pid, 0) == 0) ||
       cpd_now_ms() - s->closed_ms < CPD_LINGER_MS)) {
    s->lingering = 1;  /* connections still queued from a process that just exited count too */
    return;
  }
  s->lingering = 0;
  session_unlink(s);
  /* Events that came after its profile was written still make a trace. */
  if (s->written && s->nevents == 0) {
    cpd_session_free(s);
  } else if (cpd_server_finish_session(s) == -EAGAIN) {
    s->retry_ms = cpd_now_ms() + CPD_WRITE_RETRY_MS;
    s->next = cpd.sessions;
    cpd.sessions = s;
  }
}

/* A session no target sampled: its trace alone, when its last connection closes. */
int cpd_server_finish_session(struct cpd_session *s)
{
  struct cpd_timeline tl;
  char path[PATH_MAX];
  int rc;

  s->end_mono_ns = cpd_now_ns();
  rc = cpd_timeline_build(&tl, s, s->end_mono_ns);
  if (rc < 0)
    goto out;
  rc = cpd_output_path(path, sizeof(path), cpd.prefix, s, 0, ".trace.json");
  if (rc == 0)
    rc = cpd_trace_write(path, s, &tl, NULL);
  if (rc == 0) {
    cpd.traces_written++;
    cpd.files_written++;
    cpd_log("wrote %s (pid %" PRIu32 ", %zu tasks, %zu events, %zu threads)", path, s->pid,
            tl.nspans, s->nevents, s->nthreads);
  }
  cpd_timeline_free(&tl);
out:
  if (rc < 0 && !cpd.target_pid && !cpd.stopping) {
    /* Kept whole, written when the disk allows it (see cpd_session_release). */
    if (!s->retry_ms) {
      cpd.write_errors++;
      cpd_log("could not write the trace of pid %" PRIu32 " (%s); its %zu events are kept and "
              "written when the disk allows it", s->pid, strerror(-rc), s->nevents);
    }
    return -EAGAIN;
  }
  if (rc < 0) {
    cpd.write_errors++;
    cpd_log("failed to write the trace of pid %" PRIu32 ": %s; its %zu events are lost", s->pid,
            strerror(-rc), s->nevents);
  } else if (s->retry_ms) {
    cpd_log("pid %" PRIu32 ": the kept trace is written now", s->pid);
  }
  cpd_session_free(s);
  return rc;
}

/* ---- connections ---- */

void cpd_conn_send_error(struct cpd_conn *c, int code, const char *msg)
{
  Ceoprof__Wire__Error err = CEOPROF__WIRE__ERROR__INIT;
  cp_frame f = CEOPROF__WIRE__FRAME__INIT;
  uint8_t *buf;
  size_t len;

  err.code = code;
  err.message = (char *)msg;
  f.body_case = CEOPROF__WIRE__FRAME__BODY_ERROR;
  f.error = &err;
  if (cp__frame_encode(&f, &buf, &len) == 0) {
    /* Best effort: a client that does not read its socket does not stall the daemon. */
    if (send(c->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
      cpd_debug("pid %" PRIu32 ": could not send error: %s", c->pid, strerror(errno));
    free(buf);
  }
}

void cpd_conn_send(struct cpd_conn *c, const Ceoprof__Wire__Frame *f)
{
  uint8_t *buf;
  size_t len;

  if (!c || c->fd < 0 || cp__frame_encode(f, &buf, &len) < 0)
    return;
  /* Best effort: a peer that does not read its socket does not stall the daemon. */
  if (send(c->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
    cpd_debug("pid %" PRIu32 ": could not send a frame: %s", c->pid, strerror(errno));
  free(buf);
}

void cpd_conn_close(struct cpd_conn *c)
{
  struct cpd_session *s = c->session;

  for (struct cpd_conn **pp = &cpd.conns; *pp; pp = &(*pp)->next)
    if (*pp == c) {
      *pp = c->next;
      break;
    }
  epoll_ctl(cpd.epfd, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  c->fd = -1;
  cp__frame_reader_free(&c->reader);
  /* A profile whose requester went away (ceoprof killed) ends: its files are still written. */
  for (struct cpd_target *t = cpd.targets; t; t = t->next) {
    if (t->detacher == c)
      t->detacher = NULL;
    if (t->requester == c) {
      t->requester = NULL;
      if (!t->end_reason)
        t->end_reason = "requester gone";
    }
  }
  free(c);
  if (!s)
    return;
  s->connections--;
  s->closed_ms = cpd_now_ms();
  /* A process's session ends with its last connection, unless a target still samples it. */
  if (!cpd.target_pid)
    cpd_session_release(s);
}

/* Drops a misbehaving client with one clear line; everyone else is served on. */
static void conn_drop(struct cpd_conn *c, const char *why)
{
  cpd_log("client pid %" PRIu32 ": %s; connection dropped", c->pid, why);
  cpd.conns_dropped++;
  if (c->session)
    c->session->rejects.frames++;
  else
    cpd.frames_rejected++;
  cpd_conn_close(c);
}

static int conn_hello(struct cpd_conn *c, const Ceoprof__Wire__Hello *h)
{
  Ceoprof__Wire__Ack ack = CEOPROF__WIRE__ACK__INIT;
  cp_frame f = CEOPROF__WIRE__FRAME__INIT;
  char msg[160];
  uint8_t *buf;
  size_t len;

  if (h->protocol_version != CP_PROTOCOL_VERSION) {
    snprintf(msg, sizeof(msg), "protocol version %u is not supported (this daemon speaks %u)",
             h->protocol_version, CP_PROTOCOL_VERSION);
    cpd_conn_send_error(c, -EPROTONOSUPPORT, msg);
    conn_drop(c, msg);
    return -EPROTONOSUPPORT;
  }
  if (cpd.target_pid && c->pid != cpd.target_pid) {
    snprintf(msg, sizeof(msg), "this daemon profiles pid %" PRIu32 " only", cpd.target_pid);
    cpd_conn_send_error(c, -EPERM, msg);
    cpd_debug("client pid %" PRIu32 ": refused: %s", c->pid, msg);
    cpd_conn_close(c);
    return -EPERM;
  }
  c->session = cpd_session_get(c->pid, c->uid);
  if (!c->session || cpd_session_hello(c->session, h) < 0) {
    cpd_conn_send_error(c, -ENOMEM, "out of memory");
    conn_drop(c, "out of memory");
    return -ENOMEM;
  }
  c->session->connections++;
  c->session->lingering = 0;
  if (cpd.auto_attach && !cpd_target_find(c->pid))
    cpd_control_auto_attach(c);
  ack.protocol_version = CP_PROTOCOL_VERSION;
  ack.daemon_version = PACKAGE_VERSION;
  f.body_case = CEOPROF__WIRE__FRAME__BODY_ACK;
  f.ack = &ack;
  if (cp__frame_encode(&f, &buf, &len) == 0) {
    if (send(c->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
      cpd_debug("pid %" PRIu32 ": could not send ack: %s", c->pid, strerror(errno));
    free(buf);
  }
  cpd_debug("client pid %" PRIu32 " (%s) connected", c->pid, c->session->service);
  return 0;
}

/* Decodes and applies every whole frame received. 0, or -1 when C was closed. */
static int conn_frames(struct cpd_conn *c)
{
  for (;;) {
    cp_frame *f = NULL;
    int rc = cp__frame_next(&c->reader, &f);
    char why[128];

    if (rc == 0)
      return 0;
    if (rc < 0) {
      snprintf(why, sizeof(why), "%s",
               rc == -EMSGSIZE ? "frame larger than the 1 MiB limit" : "frame does not decode");
      conn_drop(c, why);
      return -1;
    }
    if (c->control || (!c->session && cpd_control_is_request(f))) {
      c->control = 1;
      rc = cpd_control_request(c, f);
      cp__frame_free(f);
      if (rc < 0)
        return -1;
      continue;
    }
    if (!c->session) {
      if (f->body_case != CEOPROF__WIRE__FRAME__BODY_HELLO) {
        cp__frame_free(f);
        conn_drop(c, "first frame is neither Hello nor a request");
        return -1;
      }
      rc = conn_hello(c, f->hello);
      cp__frame_free(f);
      if (rc < 0)
        return -1;
      continue;
    }
    if (f->body_case == CEOPROF__WIRE__FRAME__BODY_HELLO) {
      cp__frame_free(f);
      conn_drop(c, "second Hello on one connection");
      return -1;
    }
    if (cpd_session_apply(c->session, f) < 0)
      cpd_log("client pid %" PRIu32 ": unexpected frame type %d ignored", c->pid, (int)f->body_case);
    cp__frame_free(f);
  }
}

/* Stops reading C until the next second: the socket fills, the client's sends time out. */
static void conn_throttle(struct cpd_conn *c, int on)
{
  struct epoll_event ev = { .events = on ? 0 : EPOLLIN, .data.ptr = &c->watch };

  if (c->throttled == on)
    return;
  c->throttled = on;
  epoll_ctl(cpd.epfd, EPOLL_CTL_MOD, c->fd, &ev);
  if (on) {
    cpd.conns_throttled++;
    cpd_debug("client pid %" PRIu32 ": over %u MiB/s; reading paused", c->pid,
              CPD_CONN_BYTES_PER_S >> 20);
  }
}

static void conn_readable(struct cpd_conn *c)
{
  size_t budget = READ_BUDGET;
  uint64_t second = cpd_now_ms() / 1000;

  if (second != c->rate_second) {
    c->rate_second = second;
    c->rate_bytes = 0;
  }
  if (c->rate_bytes >= CPD_CONN_BYTES_PER_S) {
    conn_throttle(c, 1);
    return;
  }

  while (budget > 0) {
    uint8_t *space = cp__frame_reader_space(&c->reader, 65536);
    ssize_t n;

    if (!space) {
      conn_drop(c, "out of memory");
      return;
    }
    n = recv(c->fd, space, 65536, MSG_DONTWAIT);
    if (n == 0) {
      if (conn_frames(c) == 0)
        cpd_conn_close(c);
      return;
    }
    if (n < 0) {
      if (errno == EINTR)
        continue;
      if (errno != EAGAIN)
        cpd_conn_close(c);
      return;
    }
    cp__frame_reader_commit(&c->reader, (size_t)n);
    c->rate_bytes += (uint64_t)n;
    if (conn_frames(c) < 0)
      return;
    budget -= (size_t)n < budget ? (size_t)n : budget;
  }
}

static void accept_clients(void)
{
  for (;;) {
    int fd = accept4(cpd.listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    struct epoll_event ev = { .events = EPOLLIN };
    struct ucred cred;
    socklen_t len = sizeof(cred);
    struct cpd_conn *c;

    if (fd < 0) {
      if (errno != EAGAIN && errno != EINTR)
        cpd_log("failed to accept a client: %s", strerror(errno));
      return;
    }
    c = calloc(1, sizeof(*c));
    if (!c || getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
      cpd_log("failed to set up a client: %s", c ? strerror(errno) : "out of memory");
      free(c);
      close(fd);
      continue;
    }
    c->watch = (struct cpd_watch){ CPD_W_CONN, c };
    c->fd = fd;
    c->pid = (uint32_t)cred.pid;
    c->uid = cred.uid;
    c->opened_ms = cpd_now_ms();
    cp__frame_reader_init(&c->reader, CP_MAX_FRAME);
    ev.data.ptr = &c->watch;
    if (epoll_ctl(cpd.epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
      cpd_log("failed to watch a client: %s", strerror(errno));
      close(fd);
      free(c);
      continue;
    }
    c->next = cpd.conns;
    cpd.conns = c;
    cpd.conns_total++;
  }
}

/* ---- start, loop, stop ---- */

static void on_signal(int sig)
{
  cpd.stop = sig;
}

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

static int listen_socket(void)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &cpd.listen_watch };
  int rc;

  memcpy(addr.sun_path, cpd.socket_path, sizeof(addr.sun_path));
  if (strcmp(cpd.socket_path, CP_ROOT_SOCKET) == 0 && mkdir(CP_ROOT_SOCKET_DIR, 0755) < 0 &&
      errno != EEXIST) {
    rc = -errno;
    cpd_log("failed to create %s: %s", CP_ROOT_SOCKET_DIR, strerror(errno));
    return rc;
  }
  if (socket_in_use(&addr)) {
    cpd_log("another ceoprofd is already serving %s; stop it first, or give this one "
            "another --socket", cpd.socket_path);
    return -EADDRINUSE;
  }
  /*
   * Bind to a temporary name and rename it into place once listening: the socket file
   * never exists without a listener behind it, so another daemon probing it cannot
   * mistake a starting daemon for a stale file.
   */
  if (snprintf(addr.sun_path, sizeof(addr.sun_path), "%s.%d", cpd.socket_path, (int)getpid()) >=
      (int)sizeof(addr.sun_path))
    return -ENAMETOOLONG;
  unlink(addr.sun_path);
  cpd.listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (cpd.listen_fd < 0)
    return -errno;
  if (bind(cpd.listen_fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
      listen(cpd.listen_fd, 128) < 0 || rename(addr.sun_path, cpd.socket_path) < 0) {
    rc = -errno;
    cpd_log("failed to listen on %s: %s", cpd.socket_path, strerror(errno));
    unlink(addr.sun_path);
    close(cpd.listen_fd);
    cpd.listen_fd = -1;
    return rc;
  }
  /*
   * With a "ceoprof" group, only its members (and root) may connect; without one, any
   * local process may. Either way what a connection may report or ask is checked per
   * connection (SO_PEERCRED).
   */
  {
    struct group *g = getgrnam("ceoprof");

    if (g && chown(cpd.socket_path, (uid_t)-1, g->gr_gid) == 0)
      chmod(cpd.socket_path, 0660);
    else
      chmod(cpd.socket_path, 0666);
  }
  if (epoll_ctl(cpd.epfd, EPOLL_CTL_ADD, cpd.listen_fd, &ev) < 0)
    return -errno;
  return 0;
}

/* --pid: the one target, from the command line. */
static int start_single_target(void)
{
  struct cpd_target_opts o = {
    .hz = cpd.hz, .kernel = cpd.kernel, .dwarf_stack = cpd.dwarf_stack,
    .no_sampling = cpd.no_sampling, .no_bpf = cpd.no_bpf,
    .enable_on_exec = cpd.enable_on_exec, .owner_uid = geteuid(),
  };
  char prefix[64], err[512];

  if (!cpd.prefix) {
    snprintf(prefix, sizeof(prefix), "ceoprof-%" PRIu32, cpd.target_pid);
    o.prefix = prefix;
  } else {
    o.prefix = cpd.prefix;
  }
  if (!cpd_session_get(cpd.target_pid, 0))
    return -ENOMEM;
  if (!cpd_target_start(cpd.target_pid, &o, err, sizeof(err))) {
    cpd_log("%s", err);
    return -EPERM;
  }
  return 0;
}

int cpd_server_start(void)
{
  struct sigaction sa = { .sa_handler = on_signal };
  struct timespec rt;
  sigset_t block;
  int rc;

  signal(SIGPIPE, SIG_IGN);
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  /* The signals are let in only while the loop waits (epoll_pwait), so none is missed. */
  sigemptyset(&block);
  sigaddset(&block, SIGINT);
  sigaddset(&block, SIGTERM);
  sigprocmask(SIG_BLOCK, &block, NULL);
  cpd.started_ms = cpd_now_ms();
  clock_gettime(CLOCK_REALTIME, &rt);
  cpd.realtime_offset_ns = (uint64_t)rt.tv_sec * 1000000000u + (uint64_t)rt.tv_nsec - cpd_now_ns();
  cpd.epfd = epoll_create1(EPOLL_CLOEXEC);
  if (cpd.epfd < 0)
    return -errno;
  rc = listen_socket();
  if (rc < 0)
    return rc;
  if (cpd.pyroscope_url && (rc = cpd_push_start(cpd.pyroscope_url, cpd.push_retries,
                                                cpd.push_backoff_ms)) < 0) {
    cpd_log("failed to start the Pyroscope uploader: %s", strerror(-rc));
    return rc;
  }
  if (cpd.target_pid && (rc = start_single_target()) < 0)
    return rc;
  return 0;
}

/* Reads what the target's clients already sent: it belongs in the target's last files. */
static void drain_clients_of(uint32_t pid)
{
  for (struct cpd_conn *c = cpd.conns, *next; c; c = next) {
    next = c->next;
    if (c->session && c->session->pid == pid)
      conn_readable(c);
  }
}

static void end_target(struct cpd_target *t)
{
  uint32_t pid = t->pid;
  int rc;

  drain_clients_of(pid);
  if (!t->stop_ns)
    cpd_debug("pid %" PRIu32 ": profile ends (%s)", pid, t->end_reason);
  rc = cpd_target_finish(t);
  if (rc == -EAGAIN)
    return;
  if (cpd.target_pid == pid) {
    cpd.target_gone = 1;
    cpd.target_status = rc;
  }
}

static void cron(void)
{
  uint64_t now = cpd_now_ms();

  for (struct cpd_conn *c = cpd.conns, *next; c; c = next) {
    next = c->next;
    if (!c->session && !c->control && now - c->opened_ms > (uint64_t)cpd.hello_timeout_ms)
      conn_drop(c, "no Hello within the timeout");
    else if (c->throttled && now / 1000 != c->rate_second)
      conn_throttle(c, 0);
  }
  if (cpd.duration_s > 0 && now - cpd.started_ms >= (uint64_t)(cpd.duration_s * 1000))
    cpd.stop = -1;
  for (struct cpd_target *t = cpd.targets, *next; t; t = next) {
    uint64_t ns = cpd_now_ns();

    next = t->next;
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
        end_target(t);
      continue;
    }
    /* A loop that came late (a slow first symbol lookup, a starved machine) catches up. */
    while (cpd.window_s > 0 && ns - t->window_start_ns >= (uint64_t)(cpd.window_s * 1e9) &&
           (!t->write_pending || now >= t->retry_ms) && cpd_target_cut(t) == 0)
      ;
    if (t->progress && t->requester && now - t->progress_ms >= 500) {
      t->progress_ms = now;
      cpd_control_progress(t);
    }
  }
  for (struct cpd_session *s = cpd.sessions, *next; s; s = next) {
    next = s->next;
    if (s->connections == 0 &&
        ((s->retry_ms && now >= s->retry_ms) ||
         (s->lingering && now - s->closed_ms >= CPD_LINGER_MS &&
          (s->had_goodbye || cpd_pid_exited(s->pid)))))
      cpd_session_release(s);
  }
  if (cpd.on_tick)
    cpd.on_tick();
}

void cpd_server_run(void)
{
  struct epoll_event evs[64];
  sigset_t none;

  sigemptyset(&none);
  while (!cpd.stop && !cpd.target_gone) {
    int n = epoll_pwait(cpd.epfd, evs, 64, CRON_MS, &none);

    for (int i = 0; i < n; i++) {
      struct cpd_watch *w = evs[i].data.ptr;

      switch (w->kind) {
      case CPD_W_LISTEN:
        accept_clients();
        break;
      case CPD_W_PIDFD:
        ((struct cpd_target *)w->obj)->gone = 1;
        epoll_ctl(cpd.epfd, EPOLL_CTL_DEL, ((struct cpd_target *)w->obj)->pidfd, NULL);
        break;
      case CPD_W_RING:
        cpd_target_read(w->obj);
        break;
      case CPD_W_CONN:
        /* A connection closed earlier in this batch is not touched again. */
        for (struct cpd_conn *c = cpd.conns; c; c = c->next)
          if (c == w->obj) {
            conn_readable(c);
            break;
          }
        break;
      }
    }
    cron();
  }
  /* Frames already on the wire belong in the output. */
  for (struct cpd_conn *c = cpd.conns, *next; c; c = next) {
    next = c->next;
    conn_readable(c);
  }
}

int cpd_server_stop(void)
{
  struct cpd_session *s;

  cpd.stopping = 1;  /* what cannot be written now is lost: say so */
  while (cpd.targets) {
    struct cpd_target *t = cpd.targets;

    if (!t->end_reason)
      t->end_reason = cpd.stop == -1 ? "duration" : "daemon stopping";
    end_target(t);
  }
  if (cpd.pyroscope_url)
    cpd_push_stop(cpd.push_drain_ms);
  /* What no session could be charged with: clients dropped before they said Hello. */
  if (cpd.conns_dropped || cpd.frames_rejected)
    cpd_log("%" PRIu64 " connections served; %" PRIu64 " dropped for protocol errors or timeouts, "
            "%" PRIu64 " of them before their Hello", cpd.conns_total, cpd.conns_dropped,
            cpd.frames_rejected);
  while (cpd.conns) {
    struct cpd_conn *c = cpd.conns;

    c->session = NULL;  /* its session is finished below, not by cpd_conn_close */
    cpd_conn_close(c);
  }
  while ((s = cpd.sessions) != NULL) {
    cpd.sessions = s->next;
    if (cpd.target_pid || (s->written && s->nevents == 0)) {
      /* Its profile is written; events that came after it (rare) are counted here. */
      if (s->nevents)
        cpd_log("pid %" PRIu32 ": %zu events arrived after its profile was written; not written",
                s->pid, s->nevents);
      cpd_session_free(s);
    } else {
      cpd_server_finish_session(s);
    }
  }
  if (cpd.listen_fd >= 0) {
    close(cpd.listen_fd);
    unlink(cpd.socket_path);
    cpd.listen_fd = -1;
  }
  if (cpd.epfd >= 0)
    close(cpd.epfd);
  cpd.epfd = -1;
  return cpd.write_errors ? -EIO : 0;
}
