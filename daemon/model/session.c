/* session.c: storing what a profiled process's clients send, validated on arrival. */
#include "config.h"

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "evcodec.h"
#include "log.h"
#include "model/session.h"
#include "util.h"

struct cpd_session *cpd_session_new(uint32_t pid, uint32_t uid, uint64_t now_mono_ns)
{
  struct cpd_session *s = calloc(1, sizeof(*s));

  if (!s)
    return NULL;
  s->pid = pid;
  s->uid = uid;
  s->start_mono_ns = now_mono_ns;
  s->service = strdup("unknown");
  if (!s->service) {
    free(s);
    return NULL;
  }
  cpd_clocksync_init(&s->clock, 0);
  return s;
}

void cpd_session_free(struct cpd_session *s)
{
  if (!s)
    return;
  for (size_t i = 0; i < s->nstrings; i++)
    free(s->strings[i]);
  free(s->strings);
  for (size_t i = 0; i < s->nthreads; i++)
    free(s->threads[i].worker_name);
  free(s->threads);
  free(s->events);
  cpd_budget_give(s->budget, (uint64_t)s->events_cap * sizeof(*s->events));
  free(s->drops);
  free(s->tidmap);
  free(s->service);
  cpd_clocksync_free(&s->clock);
  free(s);
}

static void read_comm(uint32_t pid, uint32_t tid, char comm[17])
{
  char path[64];
  ssize_t n;
  int fd;

  snprintf(comm, 17, "tid %u", tid);
  snprintf(path, sizeof(path), "/proc/%u/task/%u/comm", pid, tid);
  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return;
  n = read(fd, comm, 16);
  close(fd);
  if (n <= 0) {
    snprintf(comm, 17, "tid %u", tid);
    return;
  }
  comm[n] = '\0';
  if (n > 0 && comm[n - 1] == '\n')
    comm[n - 1] = '\0';
}

/* Reads /proc/ID/NAME into BUF (NUL-terminated). 0, or -1 when it is not there. */
static int read_proc(uint32_t id, const char *name, char *buf, size_t size)
{
  char path[64];
  ssize_t n;
  int fd;

  snprintf(path, sizeof(path), "/proc/%u/%s", id, name);
  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  n = read(fd, buf, size - 1);
  close(fd);
  if (n <= 0)
    return -1;
  buf[n] = '\0';
  return 0;
}

/*
 * A thread may be named by a client only if it was not another process's thread at the
 * time the client speaks of (AT_NS, CLOCK_MONOTONIC). A thread that exited cannot be
 * checked and is accepted; its number may already belong to a thread of another process
 * (pid_max is often 32768), which is told apart by that thread's start time: one that
 * started after AT_NS reused the number.
 */
static int thread_is_foreign(uint32_t pid, uint32_t tid, uint64_t at_ns)
{
  char buf[1024];
  const char *tgid, *paren;
  unsigned long long start = 0;

  if (read_proc(tid, "status", buf, sizeof(buf)) < 0)
    return 0;
  tgid = strstr(buf, "\nTgid:");
  if (!tgid || (uint32_t)strtoul(tgid + 6, NULL, 10) == pid)
    return 0;
  /* Field 22 of /proc/TID/stat, after the name in parentheses: start time in clock ticks. */
  if (read_proc(tid, "stat", buf, sizeof(buf)) < 0)
    return 1;
  paren = strrchr(buf, ')');
  if (paren && sscanf(paren + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d "
                                  "%*d %*d %*d %llu", &start) == 1) {
    long hz = sysconf(_SC_CLK_TCK);
    uint64_t tick = 1000000000ull / (uint64_t)(hz > 0 ? hz : 100), start_ns = start * tick;

    /* Not surely started before the client's event (the start is known to a tick): the
     * number may have been the client's then. A client can mislabel only its own trace. */
    if (at_ns && start_ns + tick > at_ns)
      return 0;
  }
  return 1;
}

const struct cpd_thread *cpd_session_find_thread(const struct cpd_session *s, uint32_t tid)
{
  for (size_t i = 0; i < s->nthreads; i++)
    if (s->threads[i].tid == tid)
      return &s->threads[i];
  return NULL;
}

struct cpd_thread *cpd_session_thread(struct cpd_session *s, uint32_t tid)
{
  struct cpd_thread *t = (struct cpd_thread *)cpd_session_find_thread(s, tid);

  if (t)
    return t;
  if (s->nthreads >= CPD_MAX_THREADS) {
    s->rejects.threads_quota++;
    return NULL;
  }
  if (cpd_grow(&s->threads, &s->threads_cap, s->nthreads, sizeof(*t)) < 0)
    return NULL;
  t = &s->threads[s->nthreads++];
  t->tid = tid;
  t->pid = 0;
  t->worker_id = -1;
  t->worker_name = NULL;
  read_comm(s->pid, tid, t->comm);
  return t;
}

const char *cpd_session_string(const struct cpd_session *s, uint32_t id)
{
  return id < s->nstrings ? s->strings[id] : NULL;
}

uint32_t cpd_session_string_id(const struct cpd_session *s, const char *value)
{
  for (size_t i = 1; i < s->nstrings; i++)
    if (s->strings[i] && strcmp(s->strings[i], value) == 0)
      return (uint32_t)i;
  return 0;
}

uint64_t cpd_session_drops(const struct cpd_session *s, uint32_t reason)
{
  uint64_t n = 0;

  for (size_t i = 0; i < s->ndrops; i++)
    if (s->drops[i].reason == reason)
      n += s->drops[i].count;
  return n;
}

uint64_t cpd_session_event_mono(const struct cpd_session *s, const struct cpd_event *e)
{
  return e->mono ? e->ts : cpd_clocksync_to_mono(&s->clock, e->ts);
}

uint64_t cpd_session_event_time(const struct cpd_session *s, const struct cpd_event *e)
{
  uint64_t ts = cpd_session_event_mono(s, e);

  if (e->carried)
    return ts;  /* a task still open at a segment cut keeps its begin */
  /* Stamped before the last cut but sent after it (the client flushes every few ms): it
   * belongs to the window it arrived in, at its start, after the tasks carried there. */
  return ts < s->cut_ns ? s->cut_ns : ts;
}

static int utf8_repair(char *str, size_t max)
{
  unsigned char *p = (unsigned char *)str;
  size_t i = 0, keep = 0;
  int changed = 0;

  while (p[i]) {
    unsigned c = p[i];
    size_t n = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3
             : (c & 0xf8) == 0xf0 ? 4 : 0;
    int ok = n > 0;

    for (size_t k = 1; ok && k < n; k++)
      ok = (p[i + k] & 0xc0) == 0x80;
    /* Overlong forms, surrogates and values past U+10FFFF are invalid too. */
    if (ok && n == 2 && c < 0xc2)
      ok = 0;
    if (ok && n == 3 && ((c == 0xe0 && p[i + 1] < 0xa0) || (c == 0xed && p[i + 1] >= 0xa0)))
      ok = 0;
    if (ok && n == 4 && ((c == 0xf0 && p[i + 1] < 0x90) || c > 0xf4 || (c == 0xf4 && p[i + 1] >= 0x90)))
      ok = 0;
    if (!ok) {
      p[i] = '?';
      n = 1;
      changed = 1;
    }
    if (i + n > max) {
      changed = 1;
      break;
    }
    i += n;
    keep = i;
  }
  p[keep] = '\0';
  return changed;
}

/* A copy of a client's string, repaired (counted) where needed; NULL without memory. */
static char *client_string(struct cpd_session *s, const char *v)
{
  char *copy = strndup(v ? v : "", CPD_MAX_STRING_LEN + 4);

  if (copy && utf8_repair(copy, CPD_MAX_STRING_LEN))
    s->rejects.strings_repaired++;
  return copy;
}

/* CLOCK_MONOTONIC a little (50 ms) before now: when a frame just received was written. */
static uint64_t cpd_clock_now_mono(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec - 50000000u;
}

/* Adds every thread of S's process to its namespace map (NSpid: ours ... theirs). */
static void scan_tidmap(struct cpd_session *s)
{
  char path[320], line[256];
  struct dirent *de;
  DIR *dir;

  snprintf(path, sizeof(path), "/proc/%u/task", s->pid);
  dir = opendir(path);
  while (dir && (de = readdir(dir)) != NULL) {
    uint32_t outer, inner = 0;
    size_t i;
    FILE *f;

    if (de->d_name[0] < '0' || de->d_name[0] > '9')
      continue;
    outer = (uint32_t)strtoul(de->d_name, NULL, 10);
    snprintf(path, sizeof(path), "/proc/%u/task/%s/status", s->pid, de->d_name);
    f = fopen(path, "re");
    while (f && fgets(line, sizeof(line), f))
      if (strncmp(line, "NSpid:", 6) == 0) {
        char *last = strrchr(line, '\t');

        inner = last ? (uint32_t)strtoul(last + 1, NULL, 10) : 0;
        break;
      }
    if (f)
      fclose(f);
    for (i = 0; i < s->ntidmap && s->tidmap[i].inner != inner; i++)
      ;
    if (inner && i == s->ntidmap &&
        cpd_grow(&s->tidmap, &s->tidmap_cap, s->ntidmap, sizeof(*s->tidmap)) == 0) {
      s->tidmap[s->ntidmap].inner = inner;
      s->tidmap[s->ntidmap++].outer = outer;
    }
  }
  if (dir)
    closedir(dir);
}

/*
 * The thread record for a tid the client sent. A client in another pid namespace numbers
 * threads its own way: they are translated through NSpid while they live; one that is
 * already gone keeps the client's number (it can no longer be sampled or checked, and
 * cannot be confused with another process's thread: sessions are per process). AT_TS is
 * the client's timestamp of what it says (UINT64_MAX: about now, for the worker map).
 */
static struct cpd_thread *client_thread(struct cpd_session *s, uint32_t tid, uint64_t at_ts)
{
  struct cpd_thread *t;
  size_t i;

  if (!s->other_pidns || tid == 0) {
    if (!tid)
      return NULL;
    t = (struct cpd_thread *)cpd_session_find_thread(s, tid);
    if (t)
      return t;
    /* A thread seen for the first time: the only case that needs the event's time. */
    return thread_is_foreign(s->pid, tid, at_ts == UINT64_MAX ? cpd_clock_now_mono()
                                                              : cpd_clocksync_to_mono(&s->clock, at_ts))
               ? NULL : cpd_session_thread(s, tid);
  }
  for (int pass = 0; pass < 2; pass++) {
    for (i = 0; i < s->ntidmap; i++)
      if (s->tidmap[i].inner == tid)
        return cpd_session_thread(s, s->tidmap[i].outer);
    if (pass == 0)
      scan_tidmap(s);
  }
  t = (struct cpd_thread *)cpd_session_find_thread(s, tid);
  if (t || s->nthreads >= CPD_MAX_THREADS || cpd_grow(&s->threads, &s->threads_cap, s->nthreads,
                                                       sizeof(*t)) < 0)
    return t;
  t = &s->threads[s->nthreads++];
  t->tid = tid;
  t->worker_id = -1;
  t->worker_name = NULL;
  snprintf(t->comm, sizeof(t->comm), "ns:%u", tid);
  return t;
}

/* Whether PID lives in a pid namespace below the daemon's, as the kernel says (NSpid lists
 * more than one number), never as the client claims. */
static int in_child_pidns(uint32_t pid)
{
  char path[64], line[256];
  int nested = 0;
  FILE *f;

  snprintf(path, sizeof(path), "/proc/%u/status", pid);
  f = fopen(path, "re");
  while (f && fgets(line, sizeof(line), f))
    if (strncmp(line, "NSpid:", 6) == 0) {
      nested = strchr(line + 6, '\t') != strrchr(line + 6, '\t');
      break;
    }
  if (f)
    fclose(f);
  return nested;
}

int cpd_session_hello(struct cpd_session *s, const Ceoprof__Wire__Hello *h)
{
  char *svc = client_string(s, h->service_name && *h->service_name ? h->service_name : "unnamed");

  if (!svc)
    return -ENOMEM;
  /* A client in a container reports its pid and tids as its namespace numbers them. The
   * kernel says whether it is in one: a false pid in the Hello must not turn off the
   * check that a client speaks of its own threads only. */
  s->other_pidns = h->pid != s->pid && in_child_pidns(s->pid);
  free(s->service);
  s->service = svc;
  if (!s->had_hello) {
    s->hello_mono_ns = h->monotonic_ns;
    s->hello_real_ns = h->realtime_ns;
    cpd_clocksync_init(&s->clock, h->tsc_timestamps);
  }
  s->had_hello = 1;
  if (h->sync)
    cpd_clocksync_add(&s->clock, h->sync->tsc, h->sync->monotonic_ns);
  return 0;
}

static void apply_strings(struct cpd_session *s, const Ceoprof__Wire__StringDefs *m)
{
  for (size_t i = 0; i < m->n_strings; i++) {
    const Ceoprof__Wire__StringDef *d = m->strings[i];
    char *v;

    if (d->id == 0 || d->id >= CPD_MAX_STRING_ID || !d->value) {
      s->rejects.strings++;
      continue;
    }
    if (d->id >= s->nstrings) {
      size_t n = d->id + 1 > s->nstrings * 2 ? d->id + 1 : s->nstrings * 2;
      char **p = realloc(s->strings, n * sizeof(*p));

      if (!p) {
        s->rejects.strings++;
        continue;
      }
      memset(p + s->nstrings, 0, (n - s->nstrings) * sizeof(*p));
      s->strings = p;
      s->nstrings = n;
    }
    v = client_string(s, d->value);
    if (!v) {
      s->rejects.strings++;
      continue;
    }
    free(s->strings[d->id]);
    s->strings[d->id] = v;
  }
}

static void apply_workers(struct cpd_session *s, const Ceoprof__Wire__WorkerThreadMap *m)
{
  for (size_t i = 0; i < m->n_workers; i++) {
    const Ceoprof__Wire__WorkerThread *w = m->workers[i];
    /* The map is sent as soon as a thread registers: it speaks of about now. */
    struct cpd_thread *t = client_thread(s, w->tid, UINT64_MAX);
    char *name;

    if (!t) {
      s->rejects.events_bad_thread++;
      continue;
    }
    name = client_string(s, w->worker_name);
    if (!name)
      continue;
    free(t->worker_name);
    t->worker_name = name;
    t->worker_id = w->worker_id;
  }
}

static int event_needs_name(uint32_t kind)
{
  return kind == CEOPROF__WIRE__EVENT_KIND__EVENT_TASK_BEGIN ||
         kind == CEOPROF__WIRE__EVENT_KIND__EVENT_INSTANT ||
         kind == CEOPROF__WIRE__EVENT_KIND__EVENT_COUNTER ||
         kind == CEOPROF__WIRE__EVENT_KIND__EVENT_TASK_FIELD;
}

int cpd_session_reserve_events(struct cpd_session *s, size_t want)
{
  size_t cap = s->events_cap ? s->events_cap : 64;
  struct cpd_event *p;

  while (cap < want)
    cap *= 2;
  if (cap <= s->events_cap)
    return 0;
  if (cpd_budget_take(s->budget, (uint64_t)(cap - s->events_cap) * sizeof(*p), "task events") < 0)
    return -ENOMEM;
  p = realloc(s->events, cap * sizeof(*p));
  if (!p) {
    cpd_budget_give(s->budget, (uint64_t)(cap - s->events_cap) * sizeof(*p));
    return -ENOMEM;
  }
  s->events = p;
  s->events_cap = cap;
  return 0;
}

/* Appends the events of one run of thread RUN->tid, each checked and counted. */
static void apply_run(struct cpd_session *s, const Ceoprof__Wire__EventRun *run)
{
  struct cp_evrun_iter it;
  struct cpd_thread *t = NULL;
  struct cp_ev e;
  /* Converted once, here: the frame's own clock pair, taken after its last event, is in.
   * (Without two pairs yet, when the timeline is built.) */
  int mono = !s->clock.tsc || s->clock.n >= 2;

  if (cp__evrun_check(run) < 0) {
    s->rejects.frames++;
    cpd_debug("pid %u: a run of tid %u whose arrays do not match its kinds", s->pid, run->tid);
    return;
  }
  if (run->n_kinds == 0)
    return;
  if (s->nevents + run->n_kinds > s->events_cap) {
    size_t want = s->nevents + run->n_kinds;

    if (want > CPD_MAX_EVENTS)
      want = CPD_MAX_EVENTS;
    cpd_session_reserve_events(s, want);  /* else: counted below */
  }
  cp__evrun_iter_init(&it, run);
  while (cp__evrun_next(&it, &e) > 0) {
    struct cpd_event *out;

    if (e.kind < CEOPROF__WIRE__EVENT_KIND__EVENT_TASK_BEGIN ||
        e.kind > CEOPROF__WIRE__EVENT_KIND__EVENT_TASK_FIELD) {
      s->rejects.events_bad_kind++;
      continue;
    }
    if (event_needs_name(e.kind) && !cpd_session_string(s, e.name_id)) {
      s->rejects.events_bad_name++;
      cpd_debug("pid %u: event names undeclared string %u", s->pid, e.name_id);
      continue;
    }
    /* One thread per run: looked up at its first good event, with that event's time. */
    if (!t && !(t = client_thread(s, run->tid, e.ts))) {
      s->rejects.events_bad_thread += run->n_kinds;
      cpd_debug("pid %u: events for tid %u, not a thread of this process", s->pid, run->tid);
      return;
    }
    if (s->nevents >= s->events_cap || s->nevents >= CPD_MAX_EVENTS) {
      s->rejects.events_quota++;  /* never grown without bound: dropped, counted */
      continue;
    }
    out = &s->events[s->nevents++];
    out->ts = mono ? cpd_clocksync_to_mono(&s->clock, e.ts) : e.ts;
    out->task_id = e.task_id;
    out->value = e.value;
    out->seq = s->next_seq++;
    out->tid = t->tid;
    out->name_id = e.name_id;
    out->kind = e.kind;
    out->resend = e.resend;
    out->mono = (uint8_t)mono;
    out->carried = 0;
    s->resends += e.resend;
    s->tasks_begun += e.kind == CEOPROF__WIRE__EVENT_KIND__EVENT_TASK_BEGIN && !e.resend;
    s->events_received += !e.resend;
  }
}

static void apply_runs(struct cpd_session *s, const Ceoprof__Wire__EventRuns *m)
{
  if (m->sync)
    cpd_clocksync_add(&s->clock, m->sync->tsc, m->sync->monotonic_ns);
  for (size_t i = 0; i < m->n_runs; i++)
    apply_run(s, m->runs[i]);
}

static void apply_drops(struct cpd_session *s, const Ceoprof__Wire__DropReport *m)
{
  for (size_t i = 0; i < m->n_drops; i++) {
    const Ceoprof__Wire__DropCount *d = m->drops[i];
    size_t j;

    if (d->reason <= 0 || d->reason >= CPD_DROP_REASONS)
      continue;
    for (j = 0; j < s->ndrops; j++)
      if (s->drops[j].tid == d->tid && s->drops[j].reason == (uint32_t)d->reason)
        break;
    if (j == s->ndrops) {
      if (cpd_grow(&s->drops, &s->drops_cap, s->ndrops, sizeof(*s->drops)) < 0)
        continue;
      s->drops[j].tid = d->tid;
      s->drops[j].reason = (uint32_t)d->reason;
      s->drops[j].count = 0;
      s->ndrops++;
    }
    /* Counts are cumulative: keep the largest, so a re-sent report is harmless. */
    if (d->count > s->drops[j].count)
      s->drops[j].count = d->count;
  }
}

int cpd_session_apply(struct cpd_session *s, const Ceoprof__Wire__Frame *f)
{
  switch (f->body_case) {
  case CEOPROF__WIRE__FRAME__BODY_STRINGS:
    apply_strings(s, f->strings);
    return 0;
  case CEOPROF__WIRE__FRAME__BODY_WORKERS:
    apply_workers(s, f->workers);
    return 0;
  case CEOPROF__WIRE__FRAME__BODY_RUNS:
    apply_runs(s, f->runs);
    return 0;
  case CEOPROF__WIRE__FRAME__BODY_DROPS:
    apply_drops(s, f->drops);
    return 0;
  case CEOPROF__WIRE__FRAME__BODY_GOODBYE:
    s->client_events_sent = f->goodbye->events_sent;
    s->had_goodbye = 1;
    return 0;
  default:
    s->rejects.frames++;
    return -EPROTO;
  }
}
