/* conn.c: client and control connections: accepting, reading frames, Hello, sending. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ingest/control.h"
#include "ingest/server.h"
#include "log.h"
#include "util.h"

#define READ_BUDGET (256 << 10) /* bytes read from one client per wake-up, for fairness */

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
  struct cpd_engine *e = c->engine;
  struct cpd_session *s = c->session;

  for (struct cpd_conn **pp = &e->conns; *pp; pp = &(*pp)->next)
    if (*pp == c) {
      *pp = c->next;
      break;
    }
  epoll_ctl(e->epfd, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  c->fd = -1;
  cp__frame_reader_free(&c->reader);
  cpd_budget_give(&e->budget, c->held);
  c->held = 0;
  /* A profile whose requester went away (ceoprof killed) ends: its files are still written. */
  for (struct cpd_target *t = e->targets; t; t = t->next) {
    if (t->detacher == c)
      t->detacher = NULL;
    if (t->requester == c) {
      t->requester = NULL;
      if (!t->end_reason)
        t->end_reason = "requester gone";
    }
  }
  c->watch.cb = NULL;
  c->next = e->closed;
  e->closed = c;
  if (!s)
    return;
  s->connections--;
  s->closed_ms = cpd_now_ms();
  /* A process's session ends with its last connection, unless a target still samples it. */
  if (!e->cfg.target_pid)
    cpd_session_release(e, s);
}

void cpd_conn_free_closed(struct cpd_engine *e)
{
  while (e->closed) {
    struct cpd_conn *c = e->closed;

    e->closed = c->next;
    free(c);
  }
}

/* Drops a misbehaving client with one clear line; everyone else is served on. */
static void conn_drop(struct cpd_conn *c, const char *why)
{
  cpd_log("client pid %" PRIu32 ": %s; connection dropped", c->pid, why);
  c->engine->stats.conns_dropped++;
  if (c->session)
    c->session->rejects.frames++;
  else
    c->engine->stats.frames_rejected++;
  cpd_conn_close(c);
}

static int conn_hello(struct cpd_conn *c, const Ceoprof__Wire__Hello *h)
{
  struct cpd_engine *e = c->engine;
  Ceoprof__Wire__Ack ack = CEOPROF__WIRE__ACK__INIT;
  cp_frame f = CEOPROF__WIRE__FRAME__INIT;
  char msg[256];
  uint8_t *buf;
  size_t len;

  if (h->protocol_version != CP_PROTOCOL_VERSION) {
    snprintf(msg, sizeof(msg), "protocol version %u is not supported (this daemon speaks %u): "
             "%s", h->protocol_version, CP_PROTOCOL_VERSION,
             h->protocol_version < CP_PROTOCOL_VERSION
               ? "relink the program with the libceoprof of this ceoprofd (" PACKAGE_VERSION ")"
               : "this ceoprofd is older than the program's libceoprof; upgrade ceoprofd");
    cpd_conn_send_error(c, -EPROTONOSUPPORT, msg);
    conn_drop(c, msg);
    return -EPROTONOSUPPORT;
  }
  if (e->cfg.target_pid && c->pid != e->cfg.target_pid) {
    snprintf(msg, sizeof(msg), "this daemon profiles pid %" PRIu32 " only", e->cfg.target_pid);
    cpd_conn_send_error(c, -EPERM, msg);
    cpd_debug("client pid %" PRIu32 ": refused: %s", c->pid, msg);
    cpd_conn_close(c);
    return -EPERM;
  }
  c->session = cpd_session_get(e, c->pid, c->uid);
  if (!c->session || cpd_session_hello(c->session, h) < 0) {
    cpd_conn_send_error(c, -ENOMEM, "out of memory");
    conn_drop(c, "out of memory");
    return -ENOMEM;
  }
  c->session->connections++;
  c->session->lingering = 0;
  if (e->cfg.auto_attach && !cpd_target_find(e, c->pid))
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

    if (rc == 0) {
      /* Bytes of a frame not yet whole: it must complete within the timeout. */
      if (!c->reader.len)
        c->partial_ms = 0;
      else if (!c->partial_ms)
        c->partial_ms = cpd_now_ms();
      return 0;
    }
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

/* Takes what C's reader buffer grew by from the engine's budget, or gives back what it
 * shrank by. 0, or -ENOMEM when its growth does not fit. */
static int conn_hold(struct cpd_conn *c)
{
  uint64_t now = c->reader.cap;

  if (now > c->held) {
    if (cpd_budget_take(&c->engine->budget, now - c->held, "a client's frame") < 0)
      return -ENOMEM;
  } else {
    cpd_budget_give(&c->engine->budget, c->held - now);
  }
  c->held = now;
  return 0;
}

/* Stops reading C until the next second: the socket fills, the client's sends time out. */
static void conn_throttle(struct cpd_conn *c, int on)
{
  struct epoll_event ev = { .events = on ? 0 : EPOLLIN, .data.ptr = &c->watch };

  if (c->throttled == on)
    return;
  c->throttled = on;
  epoll_ctl(c->engine->epfd, EPOLL_CTL_MOD, c->fd, &ev);
  if (on) {
    c->engine->stats.conns_throttled++;
    cpd_debug("client pid %" PRIu32 ": over %u MiB/s; reading paused", c->pid,
              CPD_CONN_BYTES_PER_S >> 20);
  }
}

void cpd_conn_read(struct cpd_conn *c)
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
    if (conn_hold(c) < 0) {
      conn_drop(c, "its partial frame is over the daemon's memory budget");
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

static void on_conn_ready(struct cpd_watch *w, uint32_t events)
{
  (void)events;
  cpd_conn_read(cpd_container_of(w, struct cpd_conn, watch));
}

/* One line per interval for a refusal that may come thousands of times a second. */
static void log_refusal(struct cpd_engine *e, const char *what)
{
  uint64_t now = cpd_now_ms();

  e->refused++;
  if (now < e->refusal_logged_ms + CPD_REFUSAL_LOG_MS)
    return;
  cpd_log("%s (%" PRIu64 " refused since the last such line)", what, e->refused);
  e->refused = 0;
  e->refusal_logged_ms = now;
}

/* Out of descriptors (EMFILE, ENFILE): the pending connection would wake the loop again
 * at once, so the listener rests a moment instead of spinning. */
static void pause_listener(struct cpd_engine *e)
{
  struct epoll_event ev = { .events = 0, .data.ptr = &e->listen_watch };

  epoll_ctl(e->epfd, EPOLL_CTL_MOD, e->listen_fd, &ev);
  e->listen_resume_ms = cpd_now_ms() + CPD_LISTEN_PAUSE_MS;
}

static int conns_of(const struct cpd_engine *e, uint32_t uid, size_t *all)
{
  int n = 0;

  *all = 0;
  for (const struct cpd_conn *c = e->conns; c; c = c->next, ++*all)
    n += c->uid == uid;
  return n;
}

void cpd_conn_accept(struct cpd_engine *e)
{
  for (;;) {
    int fd = accept4(e->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    struct epoll_event ev = { .events = EPOLLIN };
    struct ucred cred;
    socklen_t len = sizeof(cred);
    struct cpd_conn *c;
    size_t all;

    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        log_refusal(e, "cannot accept clients: out of file descriptors; resting a moment");
        pause_listener(e);
      } else if (errno != EAGAIN && errno != EINTR) {
        cpd_log("failed to accept a client: %s", strerror(errno));
      }
      return;
    }
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || !(c = calloc(1, sizeof(*c)))) {
      cpd_log("failed to set up a client: %s", strerror(errno));
      close(fd);
      continue;
    }
    if (conns_of(e, cred.uid, &all) >= CPD_MAX_CONNS_PER_UID || all >= CPD_MAX_CONNS) {
      free(c);
      close(fd);
      e->stats.conns_dropped++;
      log_refusal(e, all >= CPD_MAX_CONNS ? "connection refused: the daemon's connection limit"
                                          : "connection refused: a user's connection limit");
      continue;
    }
    c->watch.cb = on_conn_ready;
    c->engine = e;
    c->fd = fd;
    c->pid = (uint32_t)cred.pid;
    c->uid = cred.uid;
    c->gid = cred.gid;
    c->opened_ms = cpd_now_ms();
    cp__frame_reader_init(&c->reader, CP_MAX_FRAME);
    ev.data.ptr = &c->watch;
    if (epoll_ctl(e->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
      cpd_log("failed to watch a client: %s", strerror(errno));
      close(fd);
      free(c);
      continue;
    }
    c->next = e->conns;
    e->conns = c;
    e->stats.conns_total++;
  }
}

void cpd_conn_cron(struct cpd_engine *e, uint64_t now)
{
  if (e->listen_resume_ms && now >= e->listen_resume_ms) {
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &e->listen_watch };

    e->listen_resume_ms = 0;
    epoll_ctl(e->epfd, EPOLL_CTL_MOD, e->listen_fd, &ev);
  }
  for (struct cpd_conn *c = e->conns, *next; c; c = next) {
    next = c->next;
    if (!c->session && !c->control && now - c->opened_ms > (uint64_t)e->cfg.hello_timeout_ms)
      conn_drop(c, "no Hello within the timeout");
    else if (c->reader.len && c->partial_ms &&
             now - c->partial_ms > (uint64_t)e->cfg.hello_timeout_ms)
      conn_drop(c, "a frame not completed within the timeout");
    else if (c->throttled && now / 1000 != c->rate_second)
      conn_throttle(c, 0);
  }
}
