/* ring_guard.c: keeps perf rings from overflowing while the daemon's loop is busy. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "perf/ring_guard.h"

/*
 * How often the guard looks: every 10 ms while some ring holds a sixteenth or more, else
 * every 40 ms (from a sixteenth to full in 40 ms takes over 12 MB/s into one ring).
 */
#define BUSY_PERIOD_NS 10000000L
#define IDLE_PERIOD_NS 40000000L

static void keep(void *arg, const struct perf_event_header *h, size_t len)
{
  struct cpd_ring_guard *g = arg;

  /* Room was made before the ring was read (see guard_round). */
  memcpy(g->buf + g->len, h, len);
  g->len += len;
  g->kept++;
}

/*
 * Under the lock: empties each ring that is a quarter full (the loop is woken at that
 * mark, so a ring past it is one the loop is late for), while memory allows. At 10 MB/s a
 * 512 KiB ring gets there in 13 ms and is full in 50, so a look every 10 ms is in time.
 * Returns whether any ring held a sixteenth or more.
 */
static int guard_round(struct cpd_ring_guard *g)
{
  int kept = 0, busy = 0;

  for (int i = 0; i < g->nrings; i++) {
    struct cpd_perf_ring *r = g->rings[i];
    uint64_t head;
    size_t fill;

    if (!r->meta)
      continue;  /* not mapped yet */
    head = __atomic_load_n(&r->meta->data_head, __ATOMIC_ACQUIRE);
    fill = (size_t)(head - r->meta->data_tail);
    if (fill >= r->data_size / 16)
      busy = 1;
    if (fill < r->data_size / 4)
      continue;  /* the loop is keeping up, or will be woken for it */
    if (g->len + r->data_size > g->cap) {
      size_t need = g->len + r->data_size, cap = g->cap ? g->cap : r->data_size;
      uint8_t *p;

      while (cap < need)
        cap *= 2;
      if (cap > g->max)
        cap = g->max;
      if (cap < need || !(p = realloc(g->buf, cap)))
        continue;  /* full: the kernel drops and counts from here on */
      g->buf = p;
      g->cap = cap;
    }
    /* A ring never holds more than data_size bytes, so the room above suffices. */
    if (cpd_perf_ring_read(r, keep, g) < 0)
      g->bad = 1;
    kept = 1;
  }
  g->rounds += kept;
  if (g->len > g->peak)
    g->peak = g->len;
  return busy;
}

static void *guard_main(void *arg)
{
  struct cpd_ring_guard *g = arg;
  long period = BUSY_PERIOD_NS;

  pthread_mutex_lock(&g->lock);
  while (!g->stop) {
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_nsec += period;
    if (ts.tv_nsec >= 1000000000L) {
      ts.tv_sec++;
      ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&g->cond, &g->lock, &ts);
    if (!g->stop)
      period = guard_round(g) ? BUSY_PERIOD_NS : IDLE_PERIOD_NS;
  }
  pthread_mutex_unlock(&g->lock);
  return NULL;
}

int cpd_ring_guard_start(struct cpd_ring_guard *g, struct cpd_perf_ring **rings, int nrings,
                         size_t max)
{
  pthread_condattr_t ca;
  int rc;

  memset(g, 0, sizeof(*g));
  if (!rings)
    return -ENOMEM;
  g->max = max;
  g->rings = rings;
  g->nrings = nrings;
  pthread_mutex_init(&g->lock, NULL);
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&g->cond, &ca);
  pthread_condattr_destroy(&ca);
  rc = pthread_create(&g->thread, NULL, guard_main, g);
  if (rc != 0) {
    pthread_cond_destroy(&g->cond);
    pthread_mutex_destroy(&g->lock);
    free(g->rings);
    g->rings = NULL;
    return -rc;
  }
  g->running = 1;
  return 0;
}

int cpd_ring_guard_take(struct cpd_ring_guard *g, cpd_perf_rec_fn fn, void *arg)
{
  int bad;

  if (!g->running)
    return 0;
  pthread_mutex_lock(&g->lock);
  for (size_t off = 0; off < g->len;) {
    const struct perf_event_header *h = (const void *)(g->buf + off);

    fn(arg, h, h->size);
    off += h->size;
  }
  g->len = 0;
  bad = g->bad;
  g->bad = 0;
  return bad ? -EBADMSG : 0;
}

void cpd_ring_guard_hold(struct cpd_ring_guard *g)
{
  if (g->running)
    pthread_mutex_lock(&g->lock);
}

void cpd_ring_guard_release(struct cpd_ring_guard *g)
{
  if (g->running)
    pthread_mutex_unlock(&g->lock);
}

void cpd_ring_guard_stop(struct cpd_ring_guard *g)
{
  if (!g->running)
    return;
  pthread_mutex_lock(&g->lock);
  g->stop = 1;
  pthread_cond_signal(&g->cond);
  pthread_mutex_unlock(&g->lock);
  pthread_join(g->thread, NULL);
  pthread_cond_destroy(&g->cond);
  pthread_mutex_destroy(&g->lock);
  free(g->buf);
  free(g->rings);
  g->buf = NULL;
  g->rings = NULL;
  g->len = g->cap = 0;
  g->running = 0;
}
