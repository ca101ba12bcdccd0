/*
 * flusher.c: libceoprof's background thread. It drains every thread's ring, keeps
 * a shadow of each thread's open tasks (for the threshold and for re-sending state
 * to a daemon that connects late), and sends batched frames to ceoprofd, or counts
 * the events as dropped when no daemon is there.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ceoprof.h"
#include "clock.h"
#include "frame.h"
#include "internal.h"
#include "nesting.h"

#define FLUSH_INTERVAL_MS 5     /* how often rings are drained */
#define RECONNECT_MS 200        /* how often a missing daemon is looked for */
#define REFUSED_RECONNECT_MS 5000 /* after the daemon refused us (version, permission) */
#define IO_TIMEOUT_MS 1000      /* a frame not sent by then drops the connection */
#define BATCH_MAX 8192          /* events per EventBatch frame (about 300 KiB encoded) */
#define STRINGS_MAX 1024        /* names per StringDefs frame */

typedef Ceoprof__Wire__Event wire_event;

/* Everything the flusher thread owns; nothing here is touched by other threads. */
static struct {
  int fd;                               /* the daemon connection, -1 when none */
  uint64_t next_connect_ms;             /* when to look for a daemon again */
  uint32_t names_sent;                  /* names 1..names_sent are known to this daemon */
  struct cp_frame_reader reader;        /* the daemon's replies */
  wire_event *ev;                       /* events drained, not yet sent (grows) */
  struct cp_thread **owner;             /* whose event (NULL: a re-send), for drop accounting */
  size_t nev, cap;
  struct cp_thread *graveyard;          /* slots of exited threads, freed after the next send */
  struct cp_thread exited;              /* drops of freed slots, reported as tid 0 */
  struct { uint64_t task_id; uint64_t ts; } orphans[CP_ORPHANS]; /* ends no task matched */
  unsigned orphan_next;
  uint64_t threshold_ticks;             /* CEOPROF_THRESHOLD_US in timestamp units */
  uint64_t cal_tsc, cal_mono;           /* the first clock pair, for the TSC rate */
} fl = { .fd = -1 };

static uint64_t now_ms(void)
{
  return cp__mono_ns() / 1000000u;
}

static void count_drop(struct cp_thread *t, int reason, uint64_t n)
{
  t->drops[reason] += n;
  atomic_fetch_add_explicit(&cp__state.dropped[reason], n, memory_order_relaxed);
}

static void disconnect(void)
{
  if (fl.fd >= 0)
    close(fl.fd);
  fl.fd = -1;
  fl.names_sent = 0;
  cp__frame_reader_free(&fl.reader);
  atomic_store(&cp__state.connected, 0);
}

/* Writes all of BUF within IO_TIMEOUT_MS. 0 or -errno. */
static int write_all(int fd, const uint8_t *buf, size_t len)
{
  uint64_t deadline = now_ms() + IO_TIMEOUT_MS;

  while (len > 0) {
    ssize_t n = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);

    if (n > 0) {
      buf += n;
      len -= (size_t)n;
      continue;
    }
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && errno == EAGAIN) {
      struct pollfd p = { .fd = fd, .events = POLLOUT };
      uint64_t t = now_ms();

      if (t >= deadline)
        return -ETIMEDOUT;
      poll(&p, 1, (int)(deadline - t));
      continue;
    }
    return n < 0 ? -errno : -EPIPE;
  }
  return 0;
}

static int send_frame(const cp_frame *f)
{
  uint8_t *buf;
  size_t len;
  int rc;

  if (fl.fd < 0)
    return -ENOTCONN;
  rc = cp__frame_encode(f, &buf, &len);
  if (rc < 0)
    return rc;
  rc = write_all(fl.fd, buf, len);
  free(buf);
  if (rc < 0)
    disconnect();
  return rc;
}

/* Reads one frame from the daemon, waiting up to TIMEOUT_MS. 1, 0 (none yet) or -errno. */
static int read_frame(cp_frame **out, int timeout_ms)
{
  for (;;) {
    int rc = cp__frame_next(&fl.reader, out);
    struct pollfd p = { .fd = fl.fd, .events = POLLIN };
    uint8_t *space;
    ssize_t n;

    if (rc != 0)
      return rc;
    if (poll(&p, 1, timeout_ms) <= 0)
      return 0;
    space = cp__frame_reader_space(&fl.reader, 4096);
    if (!space)
      return -ENOMEM;
    n = recv(fl.fd, space, 4096, MSG_DONTWAIT);
    if (n == 0)
      return -ECONNRESET;
    if (n < 0)
      return errno == EAGAIN || errno == EINTR ? 0 : -errno;
    cp__frame_reader_commit(&fl.reader, (size_t)n);
    timeout_ms = 0;
  }
}

/* ---- building batches ---- */

static void emit(struct cp_thread *t, uint32_t kind, uint64_t ts, uint64_t task_id, uint32_t name_id,
                 int64_t value, int resend)
{
  wire_event *e;

  if (fl.fd < 0) {
    if (!resend)
      count_drop(t, CEOPROF__WIRE__DROP_REASON__DROP_NO_DAEMON, 1);
    return;
  }
  if (fl.nev == fl.cap) {
    size_t cap = fl.cap ? fl.cap * 2 : BATCH_MAX;
    wire_event *ev = realloc(fl.ev, cap * sizeof(*ev));
    struct cp_thread **owner = ev ? realloc(fl.owner, cap * sizeof(*owner)) : NULL;

    if (ev)
      fl.ev = ev;
    if (!ev || !owner) {
      if (!resend)
        count_drop(t, CEOPROF__WIRE__DROP_REASON__DROP_SEND_FAILED, 1);
      return;
    }
    fl.owner = owner;
    fl.cap = cap;
  }
  e = &fl.ev[fl.nev];
  ceoprof__wire__event__init(e);
  e->kind = (Ceoprof__Wire__EventKind)kind;
  e->tid = t->tid;
  e->timestamp = ts;
  e->task_id = task_id;
  e->name_id = name_id;
  e->value = value;
  e->resend = resend != 0;
  fl.owner[fl.nev] = resend ? NULL : t;
  fl.nev++;
}

/* Sends the begin of an open task that was held back, and the fields held with it. */
static void release_task(struct cp_thread *t, struct cp_open_task *o)
{
  if (o->sent)
    return;
  o->sent = 1;
  emit(t, CP_EV_BEGIN, o->begin_ts, o->task_id, o->name_id, 0, 0);
  for (unsigned i = 0; i < o->nfields; i++)
    emit(t, CP_EV_FIELD, o->fields[i].ts, o->task_id, o->fields[i].key, o->fields[i].value, 0);
  o->nfields = 0;
}

/* Ends task I of T's shadow stack at TS (the end event came from thread ENDER). */
static void end_task(struct cp_thread *t, uint32_t i, struct cp_thread *ender, uint64_t ts)
{
  struct cp_open_task *o = &t->stack[i];

  if (!o->sent && ts - o->begin_ts < fl.threshold_ticks) {
    /* The begin, the end and the held fields are not sent, but counted. */
    count_drop(ender, CEOPROF__WIRE__DROP_REASON__DROP_THRESHOLD, 2 + o->nfields);
  } else {
    release_task(t, o);
    emit(ender, CP_EV_END, ts, o->task_id, 0, 0, 0);
  }
  memmove(&t->stack[i], &t->stack[i + 1], (t->depth - i - 1) * sizeof(t->stack[0]));
  t->depth--;
}

static int find_open(struct cp_thread *t, uint64_t task_id)
{
  for (int i = (int)t->depth - 1; i >= 0; i--)
    if (t->stack[i].task_id == task_id)
      return i;
  return -1;
}

static void on_begin(struct cp_thread *t, const struct cp_rec *r)
{
  struct cp_open_task *o;

  for (unsigned i = 0; i < CP_ORPHANS; i++) {
    /* Its end, from another thread, was drained before this begin: send both now. */
    if (fl.orphans[i].task_id == r->task_id && fl.orphans[i].ts >= r->ts && r->task_id) {
      fl.orphans[i].task_id = 0;
      emit(t, CP_EV_BEGIN, r->ts, r->task_id, r->name_id, 0, 0);
      return;
    }
  }
  if (t->depth == CP_MAX_DEPTH) {
    t->overflow++;
    count_drop(t, CEOPROF__WIRE__DROP_REASON__DROP_STACK_OVERFLOW, 1);
    return;
  }
  o = &t->stack[t->depth++];
  o->task_id = r->task_id;
  o->begin_ts = r->ts;
  o->name_id = r->name_id;
  o->nfields = 0;
  o->sent = 0;
  if (fl.threshold_ticks == 0)
    release_task(t, o);
}

static int nest_find(void *ctx, void *thread, uint64_t task_id)
{
  (void)ctx;
  return find_open(thread, task_id);
}

static void *nest_next(void *ctx, void *thread)
{
  (void)ctx;
  return thread ? ((struct cp_thread *)thread)->next : cp__state.threads;
}

static void on_end(struct cp_thread *t, const struct cp_rec *r)
{
  static const struct cp_nest_ops ops = { nest_find, nest_next, NULL };
  struct cp_end e = cp_nest_end(&ops, t, t->overflow, r->task_id);

  switch (e.kind) {
  case CP_END_OWN:
    /* Tasks above it were left open: release them so the daemon sees and counts them. */
    for (uint32_t j = (uint32_t)e.index + 1; j < t->depth; j++)
      release_task(t, &t->stack[j]);
    t->depth = (uint32_t)e.index + 1;
    end_task(t, (uint32_t)e.index, t, r->ts);
    return;
  case CP_END_OVERFLOW:
    t->overflow--;
    count_drop(t, CEOPROF__WIRE__DROP_REASON__DROP_STACK_OVERFLOW, 1);
    return;
  case CP_END_MOVED:
    end_task(e.thread, (uint32_t)e.index, t, r->ts);  /* a task that moved to another thread */
    return;
  case CP_END_UNMATCHED:
    break;
  }
  fl.orphans[fl.orphan_next].task_id = r->task_id;
  fl.orphans[fl.orphan_next].ts = r->ts;
  fl.orphan_next = (fl.orphan_next + 1) % CP_ORPHANS;
  emit(t, CP_EV_END, r->ts, r->task_id, 0, 0, 0);
}

static void on_field(struct cp_thread *t, const struct cp_rec *r)
{
  struct cp_open_task *o = t->depth ? &t->stack[t->depth - 1] : NULL;

  if (o && !o->sent) {
    if (o->nfields < CP_PENDING_FIELDS) {
      o->fields[o->nfields].ts = r->ts;
      o->fields[o->nfields].key = r->name_id;
      o->fields[o->nfields].value = r->value;
      o->nfields++;
      return;
    }
    release_task(t, o);
  }
  emit(t, CP_EV_FIELD, r->ts, o ? o->task_id : 0, r->name_id, r->value, 0);
}

static void on_rec(void *arg, const struct cp_rec *r)
{
  struct cp_thread *t = arg;

  switch (r->kind) {
  case CP_EV_BEGIN:
    on_begin(t, r);
    break;
  case CP_EV_END:
    on_end(t, r);
    break;
  case CP_EV_FIELD:
    on_field(t, r);
    break;
  default:
    emit(t, r->kind, r->ts, 0, r->name_id, r->value, 0);
    break;
  }
}

/* ---- frames ---- */

static int send_strings(void)
{
  uint32_t count = atomic_load(&cp__state.names.count);
  Ceoprof__Wire__StringDef defs[STRINGS_MAX], *defp[STRINGS_MAX];
  Ceoprof__Wire__StringDefs msg = CEOPROF__WIRE__STRING_DEFS__INIT;
  cp_frame f = CEOPROF__WIRE__FRAME__INIT;

  if (count > CP_INTERN_MAX)
    count = CP_INTERN_MAX;
  while (fl.names_sent < count) {
    size_t n = 0;
    uint32_t id = fl.names_sent + 1;

    for (; id <= count && n < STRINGS_MAX; id++) {
      const struct cp_intern_entry *e = cp__intern_get(&cp__state.names, id);

      if (!e)
        break;  /* still being written: next round */
      if (!e->str)
        continue;
      ceoprof__wire__string_def__init(&defs[n]);
      defs[n].id = id;
      defs[n].value = (char *)e->str;
      defp[n] = &defs[n];
      n++;
    }
    if (n) {
      msg.n_strings = n;
      msg.strings = defp;
      f.body_case = CEOPROF__WIRE__FRAME__BODY_STRINGS;
      f.strings = &msg;
      if (send_frame(&f) < 0)
        return -EPIPE;
    }
    if (id == fl.names_sent + 1)
      break;
    fl.names_sent = id - 1;
  }
  return 0;
}

static int send_workers(void)
{
  Ceoprof__Wire__WorkerThreadMap msg = CEOPROF__WIRE__WORKER_THREAD_MAP__INIT;
  cp_frame f = CEOPROF__WIRE__FRAME__INIT;
  Ceoprof__Wire__WorkerThread *w = NULL, **wp = NULL;
  size_t n;
  int rc = 0;

  pthread_mutex_lock(&cp__state.lock);
  atomic_store(&cp__state.workers_dirty, 0);
  n = cp__state.nworkers;
  if (n) {
    w = calloc(n, sizeof(*w));
    wp = calloc(n, sizeof(*wp));
  }
  if (n && (!w || !wp)) {
    atomic_store(&cp__state.workers_dirty, 1);
    pthread_mutex_unlock(&cp__state.lock);
    rc = -ENOMEM;
    goto out;
  }
  for (size_t i = 0; i < n; i++) {
    ceoprof__wire__worker_thread__init(&w[i]);
    w[i].tid = cp__state.workers[i].tid;
    w[i].worker_id = cp__state.workers[i].worker_id;
    w[i].worker_name = strdup(cp__state.workers[i].name);
    wp[i] = &w[i];
  }
  pthread_mutex_unlock(&cp__state.lock);
  msg.n_workers = n;
  msg.workers = wp;
  f.body_case = CEOPROF__WIRE__FRAME__BODY_WORKERS;
  f.workers = &msg;
  if (n)
    rc = send_frame(&f);
  for (size_t i = 0; i < n; i++)
    free(w[i].worker_name);
out:
  free(w);
  free(wp);
  return rc;
}

/*
 * Sends every event drained so far whose name the daemon knows, in frames of at most
 * BATCH_MAX events. A name is interned in two steps (id, then text): an event may name an
 * id whose text another thread, preempted, has not published yet, so the names before it
 * cannot all be sent. Such events wait here for the next round instead of reaching the
 * daemon ahead of their name.
 */
static int flush_batch(void)
{
  Ceoprof__Wire__EventBatch msg = CEOPROF__WIRE__EVENT_BATCH__INIT;
  Ceoprof__Wire__ClockSync sync = CEOPROF__WIRE__CLOCK_SYNC__INIT;
  cp_frame f = CEOPROF__WIRE__FRAME__INIT;
  wire_event *evp[BATCH_MAX];
  size_t done = 0, ready = 0, waiting = 0;
  int rc = 0;

  if (fl.nev == 0)
    return 0;
  /* Names first: every name an event here refers to was published before the event. */
  if (send_strings() < 0)
    rc = -EPIPE;
  /* Events whose name is not sent yet go to the back (stable), to wait for the next round. */
  for (size_t i = 0; i < fl.nev; i++) {
    if (fl.ev[i].name_id > fl.names_sent && rc == 0) {
      waiting++;
      continue;
    }
    if (ready != i) {
      wire_event e = fl.ev[i];
      struct cp_thread *o = fl.owner[i];

      memmove(&fl.ev[ready + 1], &fl.ev[ready], (i - ready) * sizeof(*fl.ev));
      memmove(&fl.owner[ready + 1], &fl.owner[ready], (i - ready) * sizeof(*fl.owner));
      fl.ev[ready] = e;
      fl.owner[ready] = o;
    }
    ready++;
  }
  while (rc == 0 && done < ready) {
    size_t n = ready - done < BATCH_MAX ? ready - done : BATCH_MAX;
    uint64_t sent = 0;

    for (size_t i = 0; i < n; i++)
      evp[i] = &fl.ev[done + i];
    cp__clock_sync(&sync.tsc, &sync.monotonic_ns);
    msg.n_events = n;
    msg.events = evp;
    msg.sync = &sync;
    f.body_case = CEOPROF__WIRE__FRAME__BODY_EVENTS;
    f.events = &msg;
    if (send_frame(&f) < 0) {
      rc = -EPIPE;
      break;
    }
    for (size_t i = 0; i < n; i++)
      sent += fl.owner[done + i] != NULL;
    atomic_fetch_add(&cp__state.events_sent, sent);
    done += n;
  }
  if (rc < 0) {
    for (; done < fl.nev; done++)
      if (fl.owner[done])
        count_drop(fl.owner[done], CEOPROF__WIRE__DROP_REASON__DROP_SEND_FAILED, 1);
    fl.nev = 0;
    return rc;
  }
  memmove(fl.ev, fl.ev + ready, waiting * sizeof(*fl.ev));
  memmove(fl.owner, fl.owner + ready, waiting * sizeof(*fl.owner));
  fl.nev = waiting;
  return 0;
}

/* Folds the hot path's own counters into T's cumulative drop counts. */
static void collect_drops(struct cp_thread *t)
{
  static const int reasons[2] = { CEOPROF__WIRE__DROP_REASON__DROP_RING_FULL,
                                  CEOPROF__WIRE__DROP_REASON__DROP_NAMES_EXHAUSTED };
  uint64_t now[2] = { atomic_load_explicit(&t->ring.dropped_full, memory_order_relaxed),
                      atomic_load_explicit(&t->dropped_names, memory_order_relaxed) };

  for (int i = 0; i < 2; i++)
    if (now[i] > t->drops[reasons[i]])
      count_drop(t, reasons[i], now[i] - t->drops[reasons[i]]);
}

static void add_drops(Ceoprof__Wire__DropCount **cnt, size_t *n, size_t *cap,
                      struct cp_thread *t, int all)
{
  for (int r = 1; r < CP_DROP_REASONS; r++) {
    if (t->drops[r] == 0 || (!all && t->drops[r] == t->drops_reported[r]))
      continue;
    if (*n == *cap) {
      size_t c = *cap ? *cap * 2 : 64;
      Ceoprof__Wire__DropCount *p = realloc(*cnt, c * sizeof(*p));

      if (!p)
        return;  /* reported next round */
      *cnt = p;
      *cap = c;
    }
    ceoprof__wire__drop_count__init(&(*cnt)[*n]);
    (*cnt)[*n].tid = t->tid;
    (*cnt)[*n].reason = (Ceoprof__Wire__DropReason)r;
    (*cnt)[*n].count = t->drops[r];
    t->drops_reported[r] = t->drops[r];
    (*n)++;
  }
}

/* Reports the cumulative drop counts that changed (ALL: every one) since the last report. */
static int send_drops(int all)
{
  Ceoprof__Wire__DropReport msg = CEOPROF__WIRE__DROP_REPORT__INIT;
  cp_frame f = CEOPROF__WIRE__FRAME__INIT;
  Ceoprof__Wire__DropCount *cnt = NULL, *cntp[64];
  size_t n = 0, cap = 0, done = 0;
  struct cp_thread *t;
  int rc = 0;

  pthread_mutex_lock(&cp__state.lock);
  for (t = cp__state.threads; t; t = t->next)
    add_drops(&cnt, &n, &cap, t, all);
  pthread_mutex_unlock(&cp__state.lock);
  for (t = fl.graveyard; t; t = t->next)
    add_drops(&cnt, &n, &cap, t, all);
  add_drops(&cnt, &n, &cap, &fl.exited, all);
  f.body_case = CEOPROF__WIRE__FRAME__BODY_DROPS;
  f.drops = &msg;
  msg.drops = cntp;
  while (rc == 0 && done < n) {
    size_t k = n - done < 64 ? n - done : 64;

    for (size_t i = 0; i < k; i++)
      cntp[i] = &cnt[done + i];
    msg.n_drops = k;
    rc = send_frame(&f);
    done += k;
  }
  free(cnt);
  return rc;
}

/* Connects, says Hello, waits for the Ack, and re-sends everything a new daemon needs. */
static void try_connect(void)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  Ceoprof__Wire__Hello hello = CEOPROF__WIRE__HELLO__INIT;
  Ceoprof__Wire__ClockSync sync = CEOPROF__WIRE__CLOCK_SYNC__INIT;
  cp_frame f = CEOPROF__WIRE__FRAME__INIT, *reply = NULL;
  struct timespec rt;
  struct cp_thread *t;
  int rc;

  fl.next_connect_ms = now_ms() + RECONNECT_MS;
  memcpy(addr.sun_path, cp__state.sockpath, sizeof(addr.sun_path));
  fl.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fl.fd < 0)
    return;
  if (connect(fl.fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
    disconnect();
    return;
  }
  cp__frame_reader_init(&fl.reader, CP_MAX_FRAME);
  hello.protocol_version = CP_PROTOCOL_VERSION;
  hello.service_name = cp__state.service;
  hello.pid = (uint32_t)getpid();
  clock_gettime(CLOCK_REALTIME, &rt);
  hello.monotonic_ns = cp__mono_ns();
  hello.realtime_ns = (uint64_t)rt.tv_sec * 1000000000u + (uint64_t)rt.tv_nsec;
  cp__clock_sync(&sync.tsc, &sync.monotonic_ns);
  hello.sync = &sync;
  hello.tsc_timestamps = cp__clock_use_tsc != 0;
  hello.library_version = CEOPROF_VERSION_STRING;
  f.body_case = CEOPROF__WIRE__FRAME__BODY_HELLO;
  f.hello = &hello;
  if (send_frame(&f) < 0)
    return;
  rc = read_frame(&reply, IO_TIMEOUT_MS);
  if (rc <= 0 || reply->body_case != CEOPROF__WIRE__FRAME__BODY_ACK) {
    /* No answer, or an Error (version, permission): try again, later for a refusal. */
    if (rc > 0)
      fl.next_connect_ms = now_ms() + REFUSED_RECONNECT_MS;
    cp__frame_free(reply);
    disconnect();
    return;
  }
  cp__frame_free(reply);
  atomic_store(&cp__state.connected, 1);
  atomic_fetch_add(&cp__state.connections, 1);
  /* State a daemon that attaches late needs: names, workers, open tasks, drops so far. */
  if (send_strings() < 0 || send_workers() < 0)
    return;
  pthread_mutex_lock(&cp__state.lock);
  for (t = cp__state.threads; t; t = t->next)
    for (uint32_t i = 0; i < t->depth; i++)
      if (t->stack[i].sent)
        emit(t, CP_EV_BEGIN, t->stack[i].begin_ts, t->stack[i].task_id, t->stack[i].name_id, 0, 1);
  pthread_mutex_unlock(&cp__state.lock);
  flush_batch();
  send_drops(1);
}

/* Drains every ring once; moves slots of exited threads to the graveyard once empty. */
static void drain_all(void)
{
  struct cp_thread **pp, *t;
  uint64_t n = 0;

  pthread_mutex_lock(&cp__state.lock);
  for (pp = &cp__state.threads; (t = *pp) != NULL;) {
    int dead = atomic_load_explicit(&t->dead, memory_order_acquire);

    n += cp__ring_drain(&t->ring, on_rec, t);
    collect_drops(t);
    if (dead) {
      /*
       * Its open tasks stay open in the daemon until they end elsewhere or the session
       * ends; tasks held back under the threshold are sent now, not lost with the slot.
       */
      for (uint32_t i = 0; i < t->depth; i++)
        release_task(t, &t->stack[i]);
      *pp = t->next;
      t->next = fl.graveyard;
      fl.graveyard = t;
      continue;
    }
    pp = &t->next;
  }
  pthread_mutex_unlock(&cp__state.lock);
  atomic_fetch_add(&cp__state.events_recorded, n);
}

static void bury(void)
{
  struct cp_thread *t;

  while ((t = fl.graveyard) != NULL) {
    fl.graveyard = t->next;
    for (int r = 1; r < CP_DROP_REASONS; r++) {
      fl.exited.drops[r] += t->drops[r];
      fl.exited.drops_reported[r] += t->drops_reported[r];
    }
    cp__ring_destroy(&t->ring);
    free(t);
  }
}

static void flush_once(void)
{
  cp_frame *f = NULL;

  if (fl.fd < 0 && now_ms() >= fl.next_connect_ms)
    try_connect();
  drain_all();
  if (fl.fd >= 0 && atomic_load(&cp__state.workers_dirty))
    send_workers();
  flush_batch();
  if (fl.fd >= 0)
    send_drops(0);
  bury();
  /* The daemon speaks only to refuse or to close: any of that ends this connection. */
  while (fl.fd >= 0) {
    int rc = read_frame(&f, 0);

    if (rc == 0)
      break;
    cp__frame_free(f);
    f = NULL;
    disconnect();
  }
}

/*
 * The threshold in timestamp units. With TSC timestamps that needs the TSC rate,
 * measured against CLOCK_MONOTONIC over a baseline that grows as the process runs.
 */
static void update_threshold(void)
{
  uint64_t tsc, mono;

  if (!cp__clock_use_tsc || cp__state.threshold_ns == 0) {
    fl.threshold_ticks = cp__state.threshold_ns;
    return;
  }
  cp__clock_sync(&tsc, &mono);
  if (fl.cal_mono == 0 || mono <= fl.cal_mono || tsc <= fl.cal_tsc) {
    fl.cal_tsc = tsc;
    fl.cal_mono = mono;
    /* A first estimate over 10 ms, before any event is judged. */
    usleep(10000);
    cp__clock_sync(&tsc, &mono);
  }
  fl.threshold_ticks = (uint64_t)((long double)cp__state.threshold_ns * (long double)(tsc - fl.cal_tsc) /
                                  (long double)(mono - fl.cal_mono));
}

static void *flusher_main(void *arg)
{
  for (;;) {
    update_threshold();
    struct timespec deadline;
    int stop;

    pthread_mutex_lock(&cp__state.flush_lock);
    flush_once();
    pthread_mutex_unlock(&cp__state.flush_lock);
    pthread_mutex_lock(&cp__state.wake_lock);
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_nsec += FLUSH_INTERVAL_MS * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
      deadline.tv_sec++;
      deadline.tv_nsec -= 1000000000L;
    }
    if (!cp__state.stopping)
      pthread_cond_timedwait(&cp__state.wake, &cp__state.wake_lock, &deadline);
    stop = cp__state.stopping;
    pthread_mutex_unlock(&cp__state.wake_lock);
    if (stop)
      break;
  }
  /* The last round: what the threads wrote before shutdown, then Goodbye. */
  pthread_mutex_lock(&cp__state.flush_lock);
  flush_once();
  if (fl.fd >= 0) {
    Ceoprof__Wire__Goodbye bye = CEOPROF__WIRE__GOODBYE__INIT;
    cp_frame f = CEOPROF__WIRE__FRAME__INIT;

    bye.events_sent = atomic_load(&cp__state.events_sent);
    f.body_case = CEOPROF__WIRE__FRAME__BODY_GOODBYE;
    f.goodbye = &bye;
    send_frame(&f);
  }
  disconnect();
  pthread_mutex_unlock(&cp__state.flush_lock);
  return NULL;
}

int cp__flusher_start(void)
{
  sigset_t all, old;
  int rc;

  cp__state.stopping = 0;
  fl.next_connect_ms = 0;
  /* The flusher must never take the host's signals. */
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  rc = -pthread_create(&cp__state.flusher, NULL, flusher_main, NULL);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (rc == 0)
    cp__state.flusher_running = 1;
  return rc;
}

void cp__flusher_stop(void)
{
  pthread_mutex_lock(&cp__state.lock);
  if (!cp__state.flusher_running) {
    pthread_mutex_unlock(&cp__state.lock);
    return;
  }
  cp__state.flusher_running = 0;
  pthread_mutex_unlock(&cp__state.lock);
  pthread_mutex_lock(&cp__state.wake_lock);
  cp__state.stopping = 1;
  pthread_cond_signal(&cp__state.wake);
  pthread_mutex_unlock(&cp__state.wake_lock);
  pthread_join(cp__state.flusher, NULL);
}

void cp__flusher_after_fork(void)
{
  /* The parent's connection is not the child's: close our copy, the child says Hello anew. */
  if (fl.fd >= 0)
    close(fl.fd);
  fl.fd = -1;
  fl.names_sent = 0;
  fl.nev = 0;
  fl.reader.buf = NULL;
  fl.reader.len = fl.reader.cap = 0;
  cp__state.flusher_running = 0;
  cp__state.stopping = 0;
  fl.cal_tsc = fl.cal_mono = 0;
  pthread_mutex_init(&cp__state.wake_lock, NULL);
  pthread_cond_init(&cp__state.wake, NULL);
  atomic_store(&cp__state.connected, 0);
}
