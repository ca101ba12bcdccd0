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
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ceoprof.h"
#include "clock.h"
#include "frame.h"
#include "flusher.h"
#include "internal.h"

#define FLUSH_INTERVAL_MS 10    /* how often rings are drained (a 256 KiB ring holds 8192 events) */
#define RECONNECT_MS 200        /* how often a missing daemon is looked for */
#define REFUSED_RECONNECT_MS 5000 /* after the daemon refused us (version, permission) */
#define IO_TIMEOUT_MS 1000      /* a frame not sent by then drops the connection */
#define STRINGS_MAX 1024        /* names per StringDefs frame */

struct cp_flusher cp__fl = { .fd = -1 };

static uint64_t now_ms(void)
{
  return cp__mono_ns() / 1000000u;
}

void cp__count_drop(struct cp_thread *t, int reason, uint64_t n)
{
  t->drops[reason] += n;
  atomic_fetch_add_explicit(&cp__state.dropped[reason], n, memory_order_relaxed);
}

static void disconnect(void)
{
  if (cp__fl.fd >= 0)
    close(cp__fl.fd);
  cp__fl.fd = -1;
  cp__fl.names_sent = 0;
  cp__frame_reader_free(&cp__fl.reader);
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

  if (cp__fl.fd < 0)
    return -ENOTCONN;
  rc = cp__frame_encode(f, &buf, &len);
  if (rc < 0)
    return rc;
  rc = write_all(cp__fl.fd, buf, len);
  free(buf);
  if (rc < 0)
    disconnect();
  return rc;
}

/* Reads one frame from the daemon, waiting up to TIMEOUT_MS. 1, 0 (none yet) or -errno. */
static int read_frame(cp_frame **out, int timeout_ms)
{
  for (;;) {
    int rc = cp__frame_next(&cp__fl.reader, out);
    struct pollfd p = { .fd = cp__fl.fd, .events = POLLIN };
    uint8_t *space;
    ssize_t n;

    if (rc != 0)
      return rc;
    if (poll(&p, 1, timeout_ms) <= 0)
      return 0;
    space = cp__frame_reader_space(&cp__fl.reader, 4096);
    if (!space)
      return -ENOMEM;
    n = recv(cp__fl.fd, space, 4096, MSG_DONTWAIT);
    if (n == 0)
      return -ECONNRESET;
    if (n < 0)
      return errno == EAGAIN || errno == EINTR ? 0 : -errno;
    cp__frame_reader_commit(&cp__fl.reader, (size_t)n);
    timeout_ms = 0;
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
  while (cp__fl.names_sent < count) {
    size_t n = 0;
    uint32_t id = cp__fl.names_sent + 1;

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
    if (id == cp__fl.names_sent + 1)
      break;
    cp__fl.names_sent = id - 1;
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
  Ceoprof__Wire__EventRuns msg;
  Ceoprof__Wire__ClockSync sync = CEOPROF__WIRE__CLOCK_SYNC__INIT;
  cp_frame f = CEOPROF__WIRE__FRAME__INIT;
  size_t done = 0, ready = 0, waiting = 0;
  int rc = 0;

  if (cp__fl.nev == 0)
    return 0;
  /* Names first: every name an event here refers to was published before the event. */
  if (send_strings() < 0)
    rc = -EPIPE;
  /* Events whose name is not sent yet go to the back (stable), to wait for the next round. */
  for (size_t i = 0; i < cp__fl.nev; i++) {
    if (cp__fl.ev[i].name_id > cp__fl.names_sent && rc == 0) {
      waiting++;
      continue;
    }
    if (ready != i) {
      struct cp_ev e = cp__fl.ev[i];
      struct cp_thread *o = cp__fl.owner[i];

      memmove(&cp__fl.ev[ready + 1], &cp__fl.ev[ready], (i - ready) * sizeof(*cp__fl.ev));
      memmove(&cp__fl.owner[ready + 1], &cp__fl.owner[ready], (i - ready) * sizeof(*cp__fl.owner));
      cp__fl.ev[ready] = e;
      cp__fl.owner[ready] = o;
    }
    ready++;
  }
  while (rc == 0 && done < ready) {
    size_t n = ready - done < BATCH_MAX ? ready - done : BATCH_MAX;
    uint64_t sent = 0;

    if (cp__evenc_build(&cp__fl.enc, &cp__fl.ev[done], n, &msg) < 0) {
      rc = -ENOMEM;
      break;
    }
    cp__clock_sync(&sync.tsc, &sync.monotonic_ns);
    msg.sync = &sync;
    f.body_case = CEOPROF__WIRE__FRAME__BODY_RUNS;
    f.runs = &msg;
    if (send_frame(&f) < 0) {
      rc = -EPIPE;
      break;
    }
    for (size_t i = 0; i < n; i++)
      sent += cp__fl.owner[done + i] != NULL;
    atomic_fetch_add(&cp__state.events_sent, sent);
    done += n;
  }
  if (rc < 0) {
    for (; done < cp__fl.nev; done++)
      if (cp__fl.owner[done])
        cp__count_drop(cp__fl.owner[done], CEOPROF__WIRE__DROP_REASON__DROP_SEND_FAILED, 1);
    cp__fl.nev = 0;
    return rc;
  }
  memmove(cp__fl.ev, cp__fl.ev + ready, waiting * sizeof(*cp__fl.ev));
  memmove(cp__fl.owner, cp__fl.owner + ready, waiting * sizeof(*cp__fl.owner));
  cp__fl.nev = waiting;
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
      cp__count_drop(t, reasons[i], now[i] - t->drops[reasons[i]]);
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
  for (t = cp__fl.graveyard; t; t = t->next)
    add_drops(&cnt, &n, &cap, t, all);
  add_drops(&cnt, &n, &cap, &cp__fl.exited, all);
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

  cp__fl.next_connect_ms = now_ms() + RECONNECT_MS;
  memcpy(addr.sun_path, cp__state.sockpath, sizeof(addr.sun_path));
  cp__fl.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (cp__fl.fd < 0)
    return;
  if (connect(cp__fl.fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
    disconnect();
    return;
  }
  cp__frame_reader_init(&cp__fl.reader, CP_MAX_FRAME);
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
      cp__fl.next_connect_ms = now_ms() + REFUSED_RECONNECT_MS;
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
        cp__emit(t, CP_EV_BEGIN, t->stack[i].begin_ts, t->stack[i].task_id, t->stack[i].name_id, 0, 1);
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

    n += cp__ring_drain(&t->ring, cp__replay_rec, t);
    collect_drops(t);
    if (dead) {
      /*
       * Its open tasks stay open in the daemon until they end elsewhere or the session
       * ends; tasks held back under the threshold are sent now, not lost with the slot.
       */
      for (uint32_t i = 0; i < t->depth; i++)
        cp__release_task(t, &t->stack[i]);
      *pp = t->next;
      t->next = cp__fl.graveyard;
      cp__fl.graveyard = t;
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

  while ((t = cp__fl.graveyard) != NULL) {
    cp__fl.graveyard = t->next;
    for (int r = 1; r < CP_DROP_REASONS; r++) {
      cp__fl.exited.drops[r] += t->drops[r];
      cp__fl.exited.drops_reported[r] += t->drops_reported[r];
    }
    cp__ring_destroy(&t->ring);
    free(t);
  }
}

static void flush_once(void)
{
  cp_frame *f = NULL;

  if (cp__fl.fd < 0 && now_ms() >= cp__fl.next_connect_ms)
    try_connect();
  drain_all();
  if (cp__fl.fd >= 0 && atomic_load(&cp__state.workers_dirty))
    send_workers();
  flush_batch();
  if (cp__fl.fd >= 0)
    send_drops(0);
  bury();
  /* The daemon speaks only to refuse or to close: any of that ends this connection. */
  while (cp__fl.fd >= 0) {
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
    cp__fl.threshold_ticks = cp__state.threshold_ns;
    return;
  }
  cp__clock_sync(&tsc, &mono);
  if (cp__fl.cal_mono == 0 || mono <= cp__fl.cal_mono || tsc <= cp__fl.cal_tsc) {
    cp__fl.cal_tsc = tsc;
    cp__fl.cal_mono = mono;
    /* A first estimate over 10 ms, before any event is judged. */
    usleep(10000);
    cp__clock_sync(&tsc, &mono);
  }
  cp__fl.threshold_ticks = (uint64_t)((long double)cp__state.threshold_ns * (long double)(tsc - cp__fl.cal_tsc) /
                                  (long double)(mono - cp__fl.cal_mono));
}

static void *flusher_main(void *arg)
{
  (void)arg;
  /* Named so that top, perf and the benchmarks can tell its cost from the host's. */
  prctl(PR_SET_NAME, "ceoprof-flush");
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
  if (cp__fl.fd >= 0) {
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
  cp__fl.next_connect_ms = 0;
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
  if (cp__fl.fd >= 0)
    close(cp__fl.fd);
  cp__fl.fd = -1;
  cp__fl.names_sent = 0;
  cp__fl.nev = 0;
  cp__fl.reader.buf = NULL;
  cp__fl.reader.len = cp__fl.reader.cap = 0;
  cp__state.flusher_running = 0;
  cp__state.stopping = 0;
  cp__fl.cal_tsc = cp__fl.cal_mono = 0;
  pthread_mutex_init(&cp__state.wake_lock, NULL);
  pthread_cond_init(&cp__state.wake, NULL);
  atomic_store(&cp__state.connected, 0);
}
