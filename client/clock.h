/* clock.h: libceoprof's event timestamps: the TSC where it is invariant, else CLOCK_MONOTONIC. */
#ifndef CP_CLOCK_H
#define CP_CLOCK_H

#include <stdint.h>
#include <time.h>
#if defined(__x86_64__) && defined(HAVE_X86INTRIN_H)
#include <x86intrin.h>
#define CP_HAVE_TSC 1
#endif

extern int cp__clock_use_tsc;  /* decided once by cp__clock_init() */

/* Decides the clock: the TSC when /proc/cpuinfo says constant_tsc and nonstop_tsc. */
void cp__clock_init(void);

static inline uint64_t cp__mono_ns(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline uint64_t cp__clock_now(void)
{
#ifdef CP_HAVE_TSC
  if (__builtin_expect(cp__clock_use_tsc, 1))
    return __rdtsc();
#endif
  return cp__mono_ns();
}

/* A TSC and CLOCK_MONOTONIC reading taken as close together as the machine allows. */
void cp__clock_sync(uint64_t *tsc, uint64_t *mono_ns);

#endif
