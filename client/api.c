/* api.c: libceoprof's public entry points: init and shutdown, workers, and the event hot path. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ceoprof.h"
#include "clock.h"
#include "internal.h"
#include "sockpath.h"

struct cp_state cp__state = {
  .lock = PTHREAD_MUTEX_INITIALIZER,
  .wake_lock = PTHREAD_MUTEX_INITIALIZER,
  .flush_lock = PTHREAD_MUTEX_INITIALIZER,
  .wake = PTHREAD_COND_INITIALIZER,
};

/* initial-exec: one TLS load on the hot path, no __tls_get_addr call. */
static __thread struct cp_thread *tls_thread __attribute__((tls_model("initial-exec")));
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void thread_exit(void *arg)
{
  struct cp_thread *t = arg;

  atomic_store_explicit(&t->dead, 1, memory_order_release);
}

/* The flusher takes the state lock inside its round: its lock comes first. */
static void atfork_prepare(void)
{
  pthread_mutex_lock(&cp__state.flush_lock);
  pthread_mutex_lock(&cp__state.lock);
}

static void atfork_parent(void)
{
  pthread_mutex_unlock(&cp__state.lock);
  pthread_mutex_unlock(&cp__state.flush_lock);
}

static void atfork_child(void)
{
  /*
   * Only the forking thread exists in the child. The parent's slots, socket and
   * flusher are not ours: forget them (their memory is left alone, other threads'
   * slots may have been mid-write) and start afresh on the next event.
   */
  pthread_mutex_unlock(&cp__state.lock);
  pthread_mutex_unlock(&cp__state.flush_lock);  /* this thread took it in the parent */
  atomic_fetch_add(&cp__state.gen, 1);
  cp__state.threads = NULL;
  tls_thread = NULL;
  /* The parent's workers are other threads; the child's register themselves. */
  cp__state.nworkers = 0;
  atomic_store(&cp__state.workers_dirty, 0);
  /* The child's statistics count the child's own events. */
  atomic_store(&cp__state.events_recorded, 0);
  atomic_store(&cp__state.events_sent, 0);
  atomic_store(&cp__state.connections, 0);
  for (int r = 0; r < CP_DROP_REASONS; r++)
    atomic_store(&cp__state.dropped[r], 0);
  cp__flusher_after_fork();
}

static void once_init(void)
{
  pthread_key_create(&cp__state.thread_key, thread_exit);
  pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
  cp__clock_init();
}

static uint64_t env_u64(const char *name, uint64_t dflt, uint64_t max)
{
  const char *v = getenv(name);
  char *end;
  unsigned long long n;

  if (!v || !*v)
    return dflt;
  errno = 0;
  n = strtoull(v, &end, 10);
  if (errno || *end || n > max)
    return dflt;
  return n;
}

int ceoprof_init(const char *service_name)
{
  const char *dis = getenv("CEOPROF_DISABLE");
  int rc;

  pthread_once(&once, once_init);
  if (dis && strcmp(dis, "1") == 0)
    return -ECANCELED;
  pthread_mutex_lock(&cp__state.lock);
  if (atomic_load(&cp__state.enabled)) {
    rc = -EALREADY;
    goto out_unlock;
  }
  rc = cp__socket_path(cp__state.sockpath, sizeof(cp__state.sockpath));
  if (rc < 0)
    goto out_unlock;
  snprintf(cp__state.service, sizeof(cp__state.service), "%s",
           service_name && *service_name ? service_name : "unnamed");
  cp__state.threshold_ns = env_u64("CEOPROF_THRESHOLD_US", 0, UINT64_MAX / 1000) * 1000;
  cp__state.ring_bytes = env_u64("CEOPROF_BUFFER_KB", 256, 1u << 20) << 10;
  if (cp__state.ring_bytes < 4096)
    cp__state.ring_bytes = 4096;
  atomic_fetch_add(&cp__state.gen, 1);
  atomic_store(&cp__state.enabled, 1);
  rc = cp__flusher_start();
  if (rc < 0)
    atomic_store(&cp__state.enabled, 0);
out_unlock:
  pthread_mutex_unlock(&cp__state.lock);
  return rc;
}

void ceoprof_shutdown(void)
{
  pthread_once(&once, once_init);
  if (!atomic_exchange(&cp__state.enabled, 0))
    return;
  cp__flusher_stop();
  /* Slots stay allocated: a thread may be writing its last event right now. */
  atomic_fetch_add(&cp__state.gen, 1);
}

/* The slow path of every event: the thread's first event, or its first after init/fork. */
static struct cp_thread *thread_slot_slow(void)
{
  struct cp_thread *t;
  uint32_t gen;

  if (!atomic_load_explicit(&cp__state.enabled, memory_order_acquire))
    return NULL;
  t = calloc(1, sizeof(*t));
  if (!t)
    return NULL;
  if (cp__ring_init(&t->ring, cp__state.ring_bytes) < 0) {
    free(t);
    return NULL;
  }
  t->tid = (uint32_t)syscall(SYS_gettid);
  pthread_mutex_lock(&cp__state.lock);
  gen = atomic_load(&cp__state.gen);
  if (!atomic_load(&cp__state.enabled) || (!cp__state.flusher_running && cp__flusher_start() < 0)) {
    pthread_mutex_unlock(&cp__state.lock);
    cp__ring_destroy(&t->ring);
    free(t);
    return NULL;
  }
  t->gen = gen;
  t->next = cp__state.threads;
  cp__state.threads = t;
  pthread_mutex_unlock(&cp__state.lock);
  pthread_setspecific(cp__state.thread_key, t);
  tls_thread = t;
  return t;
}

static inline struct cp_thread *thread_slot(void)
{
  struct cp_thread *t = tls_thread;

  if (__builtin_expect(t != NULL &&
                       t->gen == atomic_load_explicit(&cp__state.gen, memory_order_relaxed), 1))
    return t;
  return thread_slot_slow();
}

/* The name's id: a per-thread cache by pointer, checked against the interned text. */
static inline uint32_t name_id(struct cp_thread *t, const char *name)
{
  uintptr_t p = (uintptr_t)name;
  unsigned i = (unsigned)((p >> 4) ^ (p >> 10)) & (CP_NAME_CACHE - 1);
  uint32_t id = t->name_cache[i].id;

  if (__builtin_expect(t->name_cache[i].ptr == name && id != 0, 1) &&
      strcmp(cp__state.names.entries[id].str, name) == 0)
    return id;
  id = cp__intern(&cp__state.names, name);
  if (id) {
    t->name_cache[i].ptr = name;
    t->name_cache[i].id = id;
  }
  return id;
}

static inline void emit_named(uint32_t kind, const char *name, uint64_t task_id, int64_t value)
{
  struct cp_thread *t = thread_slot();
  uint32_t id;

  if (!t)
    return;
  id = name_id(t, name ? name : "(null)");
  if (__builtin_expect(id == 0, 0)) {
    atomic_store_explicit(&t->dropped_names,
                          atomic_load_explicit(&t->dropped_names, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    return;
  }
  cp__ring_push(&t->ring, kind, cp__clock_now(), task_id, value, id);
}

void ceoprof_task_begin(uint64_t task_id, const char *task_name)
{
  emit_named(CP_EV_BEGIN, task_name, task_id, 0);
}

void ceoprof_task_end(uint64_t task_id)
{
  struct cp_thread *t = thread_slot();

  if (t)
    cp__ring_push(&t->ring, CP_EV_END, cp__clock_now(), task_id, 0, 0);
}

void ceoprof_task_field(const char *key, int64_t value)
{
  emit_named(CP_EV_FIELD, key, 0, value);
}

static uint64_t be64(const uint8_t *b)
{
  uint64_t v = 0;

  for (int i = 0; i < 8; i++)
    v = v << 8 | b[i];
  return v;
}

void ceoprof_task_span(const uint8_t trace_id[16], const uint8_t span_id[8])
{
  if (!trace_id || !span_id)
    return;
  /* Reserved field keys (see ceoprof.h); the daemon turns them into the span's ids. */
  emit_named(CP_EV_FIELD, "@trace_hi", 0, (int64_t)be64(trace_id));
  emit_named(CP_EV_FIELD, "@trace_lo", 0, (int64_t)be64(trace_id + 8));
  emit_named(CP_EV_FIELD, "@span_id", 0, (int64_t)be64(span_id));
}

static int hex_bytes(const char *s, uint8_t *out, size_t n)
{
  for (size_t i = 0; i < 2 * n; i++) {
    char c = s[i];
    int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;

    if (v < 0)
      return -EINVAL;
    out[i / 2] = (uint8_t)(i % 2 ? out[i / 2] | v : v << 4);
  }
  return 0;
}

int ceoprof_task_traceparent(const char *tp)
{
  uint8_t trace[16], span[8], zero[16] = { 0 };

  /* version(2) - trace id(32) - parent id(16) - flags(2): 55 characters. */
  if (!tp || strlen(tp) < 55 || tp[2] != '-' || tp[35] != '-' || tp[52] != '-' ||
      hex_bytes(tp + 3, trace, 16) < 0 || hex_bytes(tp + 36, span, 8) < 0 ||
      memcmp(trace, zero, 16) == 0 || memcmp(span, zero, 8) == 0)
    return -EINVAL;
  ceoprof_task_span(trace, span);
  return 0;
}

void ceoprof_instant(const char *name)
{
  emit_named(CP_EV_INSTANT, name, 0, 0);
}

void ceoprof_counter(const char *name, int64_t value)
{
  emit_named(CP_EV_COUNTER, name, 0, value);
}

int ceoprof_worker_register(uint32_t worker_id, const char *worker_name)
{
  uint32_t tid;
  size_t i;
  int rc = 0;

  if (!worker_name)
    return -EINVAL;
  pthread_once(&once, once_init);
  tid = (uint32_t)syscall(SYS_gettid);
  pthread_mutex_lock(&cp__state.lock);
  for (i = 0; i < cp__state.nworkers; i++)
    if (cp__state.workers[i].tid == tid)
      break;
  if (i == cp__state.nworkers) {
    if (cp__state.nworkers == cp__state.workers_cap) {
      size_t cap = cp__state.workers_cap ? cp__state.workers_cap * 2 : 16;
      struct cp_worker *w = realloc(cp__state.workers, cap * sizeof(*w));

      if (!w) {
        rc = -ENOMEM;
        goto out_unlock;
      }
      cp__state.workers = w;
      cp__state.workers_cap = cap;
    }
    cp__state.nworkers++;
  }
  cp__state.workers[i].tid = tid;
  cp__state.workers[i].worker_id = worker_id;
  snprintf(cp__state.workers[i].name, sizeof(cp__state.workers[i].name), "%s", worker_name);
  atomic_store(&cp__state.workers_dirty, 1);
out_unlock:
  pthread_mutex_unlock(&cp__state.lock);
  return rc;
}

int ceoprof_get_stats(struct ceoprof_stats *s)
{
  if (!s)
    return -EINVAL;
  memset(s, 0, sizeof(*s));
  s->dropped_ring_full = atomic_load(&cp__state.dropped[CEOPROF__WIRE__DROP_REASON__DROP_RING_FULL]);
  s->dropped_no_daemon = atomic_load(&cp__state.dropped[CEOPROF__WIRE__DROP_REASON__DROP_NO_DAEMON]);
  s->dropped_threshold = atomic_load(&cp__state.dropped[CEOPROF__WIRE__DROP_REASON__DROP_THRESHOLD]);
  for (int r = CEOPROF__WIRE__DROP_REASON__DROP_NAMES_EXHAUSTED; r < CP_DROP_REASONS; r++)
    s->dropped_other += atomic_load(&cp__state.dropped[r]);
  s->events_recorded = atomic_load(&cp__state.events_recorded);
  s->events_sent = atomic_load(&cp__state.events_sent);
  s->events_dropped = s->dropped_ring_full + s->dropped_no_daemon + s->dropped_threshold +
                      s->dropped_other;
  s->connected = atomic_load(&cp__state.connected);
  s->connections = atomic_load(&cp__state.connections);
  return 0;
}
