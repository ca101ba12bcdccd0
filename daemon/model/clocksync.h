/* clocksync.h: converting a client's TSC timestamps to CLOCK_MONOTONIC nanoseconds. */
#ifndef CPD_CLOCKSYNC_H
#define CPD_CLOCKSYNC_H

#include <stddef.h>
#include <stdint.h>

struct cpd_sync_pair {
  uint64_t tsc;
  uint64_t mono;
};

struct cpd_clocksync {
  int tsc;                      /* 0: timestamps already are CLOCK_MONOTONIC ns */
  struct cpd_sync_pair *pairs;  /* increasing in both tsc and mono */
  size_t n, cap;
};

void cpd_clocksync_init(struct cpd_clocksync *c, int tsc);
void cpd_clocksync_free(struct cpd_clocksync *c);
/* Adds a pair; pairs that go backwards in either clock are ignored. 0 or -ENOMEM. */
int cpd_clocksync_add(struct cpd_clocksync *c, uint64_t tsc, uint64_t mono);
/*
 * CLOCK_MONOTONIC ns of a timestamp: interpolated between the pairs around it
 * (piecewise, so NTP slewing of CLOCK_MONOTONIC is followed), extrapolated with
 * the nearest segment outside them. Returns 0 with fewer than two pairs in TSC mode.
 */
uint64_t cpd_clocksync_to_mono(const struct cpd_clocksync *c, uint64_t ts);

#endif
