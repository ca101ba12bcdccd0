/* clocksync.c: piecewise-linear TSC -> CLOCK_MONOTONIC conversion from sync pairs. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>

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
  if (c->n == c->cap) {
    size_t cap = c->cap ? c->cap * 2 : 64;
    struct cpd_sync_pair *p = realloc(c->pairs, cap * sizeof(*p));

    if (!p)
      return -ENOMEM;
    c->pairs = p;
    c->cap = cap;
  }
  c->pairs[c->n].tsc = tsc;
  c->pairs[c->n].mono = mono;
  c->n++;
  return 0;
}

static uint64_t along(const struct cpd_sync_pair *a, const struct cpd_sync_pair *b, uint64_t ts)
{
  long double rate = (long double)(b->mono - a->mono) / (long double)(b->tsc - a->tsc);
  long double d = ((long double)ts - (long double)a->tsc) * rate;
  long double m = (long double)a->mono + d;

  return m < 0 ? 0 : (uint64_t)(m + 0.5L);
}

uint64_t cpd_clocksync_to_mono(const struct cpd_clocksync *c, uint64_t ts)
{
  size_t lo = 0, hi;

  if (!c->tsc)
    return ts;
  if (c->n < 2)
    return 0;
  if (ts <= c->pairs[0].tsc)
    return along(&c->pairs[0], &c->pairs[1], ts);
  if (ts >= c->pairs[c->n - 1].tsc)
    return along(&c->pairs[c->n - 2], &c->pairs[c->n - 1], ts);
  hi = c->n - 1;  /* invariant: pairs[lo].tsc < ts <= pairs[hi].tsc */
  while (hi - lo > 1) {
    size_t mid = lo + (hi - lo) / 2;

    if (c->pairs[mid].tsc < ts)
      lo = mid;
    else
      hi = mid;
  }
  return along(&c->pairs[lo], &c->pairs[hi], ts);
}
