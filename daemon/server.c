/*
 * server.c: ceoprofd's event loop: the Unix socket, client connections and their
 * frames, timeouts, and writing a process's trace when its session ends.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"
#include "pprof_writer.h"
#include "sockpath.h"
#include "trace_samples.h"
#include "timeline.h"
#include "trace_writer.h"

#define CRON_MS 100            /* the loop wakes at least this often */
#define READ_BUDGET (256 << 10) /* bytes read from one client per wake-up, for fairness */

struct cpd_server cpd = {
  .listen_fd = -1,
  .epfd = -1,
  .pidfd = -1,
  .hello_timeout_ms = 5000,
  .hz = 99,
};

/* epoll tags for the two fds that are not connections. */
static char tag_listen, tag_pidfd, tag_ring;

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

static struct cpd_session *session_find(uint32_t pid)
{
  for (struct cpd_session *s = cpd.sessions; s; s = s->next)
    if (s->pid == pid)
      return s;
  return NULL;
}

static struct cpd_session *session_get(uint32_t pid, uint32_t uid)
{
  struct cpd_session *s = session_find(pid);

  if (s)
    return s;
  s = cpd_session_new(pid, uid, cpd_now_ns());
  if (!s)
    return NULL;
  s->next = cpd.sessions;
  cpd.sessions = s;
  return s;
}

static void session_unlink(struct cpd_session *s)
{
  for (struct cpd_session **pp = &cpd.sessions; *pp; pp = &(*pp)->next)
    if (*pp == s) {
      *pp = s->next;
      return;
    }
}

/* Keeps letters, digits, '.', '_' and '-' of a client-chosen name; never "." or "..". */
static void sanitize(char *out, size_t size, const char *in)
{
  size_t n = 0;

  for (; *in && n + 1 < size; in++) {
    char c = *in;
    int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             c == '_' || c == '-' || (c == '.' && n > 0);

    out[n++] = ok ? c : '_';
  }
  out[n] = '\0';
  if (n == 0)
    snprintf(out, size, "unnamed");
}

/* PATH gets the output name of S with extension EXT (".trace.json", ".pb.gz"). */
static int output_path(const struct cpd_session *s, const char *ext, char *path, size_t size)
{
  char svc[64];
  struct stat st;

  if (cpd.target_pid) {
    if (cpd.prefix)
      return snprintf(path, size, "%s%s", cpd.prefix, ext) < (int)size ? 0 : -ENAMETOOLONG;
    return snprintf(path, size, "ceoprof-%" PRIu32 "%s", s->pid, ext) < (int)size
               ? 0 : -ENAMETOOLONG;
  }
  sanitize(svc, sizeof(svc), s->service);
  for (int i = 0; i < 1000; i++) {
    int n = i == 0 ? snprintf(path, size, "%s/%s-%" PRIu32 "%s", cpd.output_dir, svc, s->pid, ext)
                   : snprintf(path, size, "%s/%s-%" PRIu32 "-%d%s", cpd.output_dir, svc, s->pid, i,
                              ext);

    if (n >= (int)size)
      return -ENAMETOOLONG;
    if (lstat(path, &st) != 0)
      return 0;
  }
  return -EEXIST;
}

static int cmp_count_desc(const void *a, const void *b)
{
  const uint64_t *x = a, *y = b;  /* {count, location} pairs */

  return x[0] < y[0] ? 1 : x[0] > y[0] ? -1 : (x[1] > y[1]) - (x[1] < y[1]);
}

/* The short summary a user reads first: what was sampled and the hottest functions. */
static void print_summary(const struct cpd_session *s, const struct cpd_timeline *tl,
                          const char *pprof_path, const char *trace_path)
{
  const struct cpd_profile *p = &cpd.profile;
  uint64_t (*self)[2] = calloc(p->nfuncs + 1, sizeof(*self));
  size_t workers = 0;
  double secs = (double)(cpd.sampling_stop_ns - cpd.sampling_start_ns) / 1e9;

  for (size_t i = 0; i < s->nthreads; i++)
    workers += s->threads[i].worker_name != NULL;
  printf("ceoprof: pid %" PRIu32 " (%s) for %.2f s at %d Hz (%s)\n", s->pid, s->service, secs,
         cpd.sampler.hz, cpd.sampler.event);
  printf("  samples %zu, lost %" PRIu64 " (+%" PRIu64 " records), threads %zu, workers %zu, "
         "tasks %zu\n", p->nsamples, p->lost_samples, p->lost_records, p->nthreads, workers,
         tl->nspans);
  if (self && p->nsamples) {
    size_t n = 0;

    for (size_t i = 0; i < p->nfuncs + 1; i++)
      self[i][1] = i;
    for (size_t i = 0; i < p->nsamples; i++) {
      const struct cpd_stack *stk = &p->stacks[p->samples[i].stack];
      uint32_t f = stk->len ? p->locs[p->frames[stk->off] - 1].function : 0;

      self[f][0]++;
    }
    qsort(self, p->nfuncs + 1, sizeof(*self), cmp_count_desc);
    printf("  top functions (self):\n");
    for (size_t i = 0; i < p->nfuncs + 1 && n < 8; i++, n++) {
      if (self[i][0] == 0)
        break;
      printf("    %5.1f%%  %s\n", 100.0 * (double)self[i][0] / (double)p->nsamples,
             self[i][1] ? p->funcs[self[i][1] - 1].name : "(unknown)");
    }
  }
  free(self);
  {
    struct rusage ru;
    double cpu;

    getrusage(RUSAGE_SELF, &ru);
    cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
          (double)ru.ru_stime.tv_usec / 1e6;
    printf("  daemon CPU %.3f s (%.1f us per sample), peak RSS %ld KiB\n", cpu,
           p->nsamples ? cpu * 1e6 / (double)p->nsamples : 0.0, ru.ru_maxrss);
  }
  if (pprof_path)
    printf("  wrote %s\n", pprof_path);
  if (trace_path)
    printf("  wrote %s\n", trace_path);
  fflush(stdout);
}

int cpd_server_finish_session(struct cpd_session *s)
{
  int sampled = cpd.sampling && s->pid == cpd.target_pid;
  struct cpd_trace_samples ts = { &cpd.profile, cpd.sampler.event, cpd.sampler.hz };
  struct cpd_trace_extra extra = { 0 };
  struct cpd_timeline tl;
  char path[PATH_MAX], ppath[PATH_MAX];
  int rc, prc = 0;

  s->end_mono_ns = cpd_now_ns();
  if (sampled) {
    /* Every sampled thread gets a lane, named as the kernel last named it. */
    for (size_t i = 0; i < cpd.profile.nthreads; i++) {
      struct cpd_thread *t = cpd_session_thread(s, cpd.profile.threads[i].tid);

      if (t)
        snprintf(t->comm, sizeof(t->comm), "%s", cpd.profile.threads[i].comm);
    }
    cpd_trace_samples_extra(&ts, &extra);
  }
  rc = cpd_timeline_build(&tl, s, s->end_mono_ns);
  if (rc < 0)
    goto out;
  rc = output_path(s, ".trace.json", path, sizeof(path));
  if (rc == 0)
    rc = cpd_trace_write(path, s, &tl, sampled ? &extra : NULL);
  if (rc == 0) {
    cpd.traces_written++;
    cpd_debug("wrote %s (pid %" PRIu32 ", %zu tasks, %zu events, %zu threads)", path, s->pid,
              tl.nspans, s->nevents, s->nthreads);
  }
  if (sampled) {
    struct cpd_pprof_info info = {
      .hz = cpd.sampler.hz,
      .event = cpd.sampler.event,
      .time_nanos = cpd.sampling_start_ns + cpd.realtime_offset_ns,
      .duration_nanos = cpd.sampling_stop_ns - cpd.sampling_start_ns,
    };

    prc = output_path(s, ".pb.gz", ppath, sizeof(ppath));
    if (prc == 0)
      prc = cpd_pprof_write(ppath, &cpd.profile, s, &tl, &info);
    if (prc < 0) {
      cpd.write_errors++;
      cpd_log("failed to write the profile of pid %" PRIu32 ": %s", s->pid, strerror(-prc));
    }
    print_summary(s, &tl, prc == 0 ? ppath : NULL, rc == 0 ? path : NULL);
  } else if (rc == 0) {
    cpd_log("wrote %s (pid %" PRIu32 ", %zu tasks, %zu events, %zu threads)", path, s->pid,
            tl.nspans, s->nevents, s->nthreads);
  }
  cpd_timeline_free(&tl);
out:
  if (rc < 0) {
    cpd.write_errors++;
    cpd_log("failed to write the trace of pid %" PRIu32 ": %s", s->pid, strerror(-rc));
  }
  cpd_session_free(s);
  return rc < 0 ? rc : prc;
}

/* ---- connections ---- */

static void conn_send_error(struct cpd_conn *c, int code, const char *msg)
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

static void conn_close(struct cpd_conn *c)
{
  struct cpd_session *s = c->session;

  for (struct cpd_conn **pp = &cpd.conns; *pp; pp = &(*pp)->next)
    if (*pp == c) {
      *pp = c->next;
      break;
    }
  epoll_ctl(cpd.epfd, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  cp__frame_reader_free(&c->reader);
  free(c);
  if (!s)
    return;
  s->connections--;
  /* In service mode a process's session ends with its last connection. */
  if (!cpd.target_pid && s->connections == 0) {
    session_unlink(s);
    cpd_server_finish_session(s);
  }
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
  conn_close(c);
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
    conn_send_error(c, -EPROTONOSUPPORT, msg);
    conn_drop(c, msg);
    return -EPROTONOSUPPORT;
  }
  if (cpd.target_pid && c->pid != cpd.target_pid) {
    snprintf(msg, sizeof(msg), "this daemon profiles pid %" PRIu32 " only", cpd.target_pid);
    conn_send_error(c, -EPERM, msg);
    cpd_debug("client pid %" PRIu32 ": refused: %s", c->pid, msg);
    conn_close(c);
    return -EPERM;
  }
  c->session = session_get(c->pid, c->uid);
  if (!c->session || cpd_session_hello(c->session, h) < 0) {
    conn_send_error(c, -ENOMEM, "out of memory");
    conn_drop(c, "out of memory");
    return -ENOMEM;
  }
  c->session->connections++;
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
    if (!c->session) {
      if (f->body_case != CEOPROF__WIRE__FRAME__BODY_HELLO) {
        cp__frame_free(f);
        conn_drop(c, "first frame is not Hello");
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

static void conn_readable(struct cpd_conn *c)
{
  size_t budget = READ_BUDGET;

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
        conn_close(c);
      return;
    }
    if (n < 0) {
      if (errno == EINTR)
        continue;
      if (errno != EAGAIN)
        conn_close(c);
      return;
    }
    cp__frame_reader_commit(&c->reader, (size_t)n);
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
    c->fd = fd;
    c->pid = (uint32_t)cred.pid;
    c->uid = cred.uid;
    c->opened_ms = cpd_now_ms();
    cp__frame_reader_init(&c->reader, CP_MAX_FRAME);
    ev.data.ptr = c;
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
  struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &tag_listen };
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
  /* Any local process may connect; what it may report is checked per connection. */
  chmod(cpd.socket_path, 0666);
  if (epoll_ctl(cpd.epfd, EPOLL_CTL_ADD, cpd.listen_fd, &ev) < 0)
    return -errno;
  return 0;
}

static void watch_target(void)
{
#ifdef SYS_pidfd_open
  struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &tag_pidfd };

  cpd.pidfd = (int)syscall(SYS_pidfd_open, (pid_t)cpd.target_pid, 0);
  if (cpd.pidfd >= 0 && epoll_ctl(cpd.epfd, EPOLL_CTL_ADD, cpd.pidfd, &ev) < 0) {
    close(cpd.pidfd);
    cpd.pidfd = -1;
  }
#endif
}

static int start_sampling(void)
{
  struct cpd_sampler_opts o = { .hz = cpd.hz, .kernel = cpd.kernel, .ring_pages = 128 };
  struct timespec rt;
  char err[512];
  int rc;

  cpd_profile_init(&cpd.profile, cpd.target_pid);
  rc = cpd_sampler_open(&cpd.sampler, cpd.target_pid, &o, &cpd.profile, err, sizeof(err));
  if (rc < 0) {
    cpd_log("%s", err);
    return rc;
  }
  if (cpd.sampler.warning[0])
    cpd_log("%s", cpd.sampler.warning);
  for (int i = 0; i < cpd.sampler.ncpus; i++) {
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &tag_ring };
    int fd = cpd_sampler_ring_fd(&cpd.sampler, i);

    if (fd >= 0)
      epoll_ctl(cpd.epfd, EPOLL_CTL_ADD, fd, &ev);
  }
  clock_gettime(CLOCK_REALTIME, &rt);
  cpd.sampling_start_ns = cpd_now_ns();
  cpd.realtime_offset_ns = (uint64_t)rt.tv_sec * 1000000000u + (uint64_t)rt.tv_nsec - cpd.sampling_start_ns;
  rc = cpd_sampler_enable(&cpd.sampler);
  if (rc < 0) {
    cpd_log("failed to enable perf events: %s", strerror(-rc));
    cpd_sampler_close(&cpd.sampler);
    return rc;
  }
  cpd.sampling = 1;
  return 0;
}

static void stop_sampling(void)
{
  if (!cpd.sampling || cpd.sampling_stop_ns)
    return;
  cpd_sampler_disable(&cpd.sampler);
  cpd.sampling_stop_ns = cpd_now_ns();
  cpd_sampler_read(&cpd.sampler);
}

int cpd_server_start(void)
{
  struct sigaction sa = { .sa_handler = on_signal };
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
  cpd.epfd = epoll_create1(EPOLL_CLOEXEC);
  if (cpd.epfd < 0)
    return -errno;
  rc = listen_socket();
  if (rc < 0)
    return rc;
  if (cpd.target_pid) {
    if (!session_get(cpd.target_pid, 0))
      return -ENOMEM;
    watch_target();
    if (!cpd.no_sampling && (rc = start_sampling()) < 0)
      return rc;
  }
  return 0;
}

static void cron(void)
{
  uint64_t now = cpd_now_ms();

  for (struct cpd_conn *c = cpd.conns, *next; c; c = next) {
    next = c->next;
    if (!c->session && now - c->opened_ms > (uint64_t)cpd.hello_timeout_ms)
      conn_drop(c, "no Hello within the timeout");
  }
  if (cpd.duration_s > 0 && now - cpd.started_ms >= (uint64_t)(cpd.duration_s * 1000))
    cpd.stop = -1;
  if (cpd.target_pid && cpd.pidfd < 0 && kill((pid_t)cpd.target_pid, 0) < 0 && errno == ESRCH)
    cpd.target_gone = 1;
  if (cpd.sampling)
    cpd_sampler_read(&cpd.sampler);
}

void cpd_server_run(void)
{
  struct epoll_event evs[64];
  sigset_t none;

  sigemptyset(&none);
  while (!cpd.stop && !cpd.target_gone) {
    int n = epoll_pwait(cpd.epfd, evs, 64, CRON_MS, &none);

    for (int i = 0; i < n; i++) {
      void *p = evs[i].data.ptr;

      if (p == &tag_listen)
        accept_clients();
      else if (p == &tag_pidfd)
        cpd.target_gone = 1;
      else if (p == &tag_ring)
        cpd_sampler_read(&cpd.sampler);
      else
        conn_readable(p);
    }
    cron();
  }
  /* Frames already on the wire from the target belong in its output. */
  for (struct cpd_conn *c = cpd.conns, *next; c; c = next) {
    next = c->next;
    conn_readable(c);
  }
}

int cpd_server_stop(void)
{
  struct cpd_session *s;

  stop_sampling();
  /* What no session could be charged with: clients dropped before they said Hello. */
  if (cpd.conns_dropped || cpd.frames_rejected)
    cpd_log("%" PRIu64 " connections served; %" PRIu64 " dropped for protocol errors or timeouts, "
            "%" PRIu64 " of them before their Hello", cpd.conns_total, cpd.conns_dropped,
            cpd.frames_rejected);
  while (cpd.conns) {
    struct cpd_conn *c = cpd.conns;

    c->session = NULL;  /* its session is finished below, not by conn_close */
    conn_close(c);
  }
  while ((s = cpd.sessions) != NULL) {
    cpd.sessions = s->next;
    cpd_server_finish_session(s);
  }
  if (cpd.listen_fd >= 0) {
    close(cpd.listen_fd);
    unlink(cpd.socket_path);
    cpd.listen_fd = -1;
  }
  if (cpd.sampling) {
    cpd_sampler_close(&cpd.sampler);
    cpd_profile_free(&cpd.profile);
    cpd.sampling = 0;
  }
  if (cpd.pidfd >= 0)
    close(cpd.pidfd);
  if (cpd.epfd >= 0)
    close(cpd.epfd);
  cpd.pidfd = cpd.epfd = -1;
  return cpd.write_errors ? -EIO : 0;
}
