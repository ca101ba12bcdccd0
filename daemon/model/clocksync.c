/* clocksync.c: piecewise-linear TSC -> CLOCK_MONOTONIC conversion from sync pairs. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>

#include "util.h"
#include "hindex.h"
#include "model/clocksync.h"

#define MIN_SEGMENT_TICKS 1000000u  /* pairs closer than this are too noisy to fit a rate */

void cpd_clocksync_init(struct cpd_clocksync *c, int tsc)
{
  c->tsc = tsc;
  c->pairs = NULL;
  c->n = c->cap = 0;
}

void cpd_clocksync_free(struct cpd_clocksync *c)
{
  free(c->pairs);
  c->pairs = NULL;
  c->n = c->cap = 0;
}

int cpd_clocksync_add(struct cpd_clocksync *c, uint64_t tsc, uint64_t mono)
{
  if (c->n > 0) {
    const struct cpd_sync_pair *last = &c->pairs[c->n - 1];

    if (tsc <= last->tsc || mono <= last->mono)
      return 0;
    /* Keep segments long enough for a precise rate; replace the newest short one. */
    if (c->n > 1 && tsc - c->pairs[c->n - 2].tsc < MIN_SEGMENT_TICKS) {
      c->pairs[c->n - 1].tsc = tsc;
      c->pairs[c->n - 1].mono = mono;
      return 0;
    }
  }
  if (cpd_grow(&c->pairs, &c->cap, c->n, sizeof(*c->pairs)) < 0)
    return -ENOMEM;
  c->pairs[c->n].tsc = tsc;
  c->pairs[c->n].mono = mono;
  c->n++;
  return 0;
}

/* On the line through A and B, rounded to the nearest ns: exact 128-bit integer arithmetic
 * (long double took 7% of the daemon's CPU at 160k events/s). */
static uint64_t along(const struct cpd_sync_pair *a, const struct cpd_sync_pair *b, uint64_t ts)
{
  __int128 dm = (__int128)b->mono - (__int128)a->mono, dt = (__int128)b->tsc - (__int128)a->tsc;
  __int128 num = ((__int128)ts - (__int128)a->tsc) * dm;
  __int128 d = num >= 0 ? (num + dt / 2) / dt : -((-num + dt / 2) / dt);
  __int128 m = (__int128)a->mono + d;

  return m < 0 ? 0 : (uint64_t)m;
}

static int tsc_before(const void *elem, const void *key)
{
  return ((const struct cpd_sync_pair *)elem)->tsc < *(const uint64_t *)key;
}

uint64_t cpd_clocksync_to_mono(const struct cpd_clocksync *c, uint64_t ts)
{
  size_t hi;

  if (!c->tsc)
    return ts;
  if (c->n < 2)
    return 0;
  if (ts <= c->pairs[0].tsc)
    return along(&c->pairs[0], &c->pairs[1], ts);
  if (ts >= c->pairs[c->n - 2].tsc)  /* the newest stretch: where events of a batch fall */
    return along(&c->pairs[c->n - 2], &c->pairs[c->n - 1], ts);
  /* pairs[0].tsc < ts < pairs[n-1].tsc: the first pair at or after TS, and the one before */
  hi = cp_lower_bound(c->pairs, c->n, sizeof(*c->pairs), &ts, tsc_before);
  return along(&c->pairs[hi - 1], &c->pairs[hi], ts);
}
