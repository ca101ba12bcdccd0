/*
 * inline_workload.c: a workload whose hot code is an inlined function, for the line-number
 * tests. outer_loop (never inlined) calls step (always inlined) on the line marked
 * CALL_SITE, until the thread has used SECONDS of CPU time. Built with -g: pprof must show
 * step's lines inside step's body and outer_loop at CALL_SITE.
 * Usage: inline_workload SECONDS
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static inline __attribute__((always_inline)) uint64_t step(uint64_t x)
{
  for (int i = 0; i < 64; i++)
    x = x * 6364136223846793005ull + 1442695040888963407ull;
  return x;
}

static double thread_cpu_s(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

__attribute__((noinline)) static uint64_t outer_loop(double secs)
{
  volatile uint64_t x = 1;
  double t0 = thread_cpu_s();

  while (thread_cpu_s() - t0 < secs)
    for (int i = 0; i < 10000; i++)
      x = step(x); /* CALL_SITE */
  return x;
}

int main(int argc, char **argv)
{
  double secs = argc > 1 ? atof(argv[1]) : 1.0;

  printf("x %llu\n", (unsigned long long)outer_loop(secs));
  return 0;
}
