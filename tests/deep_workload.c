/*
 * deep_workload.c: a call chain thirteen functions deep (d1 ... d12, then leaf, where the CPU
 * goes), built with -O2 -fomit-frame-pointer: frame-pointer stacks stop at the leaf, DWARF
 * unwinding shows it whole. Runs for the seconds given (default 2).
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static volatile unsigned long sink;

#define STEP __attribute__((noinline)) unsigned long
STEP leaf(unsigned long x);
STEP leaf(unsigned long x)
{
  for (int i = 0; i < 200000; i++)
    x = x * 2862933555777941757ul + 3037000493ul;
  return x;
}
/* Each does a little after its call, so no call becomes a jump. */
#define LEVEL(name, next, k) STEP name(unsigned long x); STEP name(unsigned long x) { return next(x) ^ k; }
LEVEL(d12, leaf, 12)
LEVEL(d11, d12, 11)
LEVEL(d10, d11, 10)
LEVEL(d9, d10, 9)
LEVEL(d8, d9, 8)
LEVEL(d7, d8, 7)
LEVEL(d6, d7, 6)
LEVEL(d5, d6, 5)
LEVEL(d4, d5, 4)
LEVEL(d3, d4, 3)
LEVEL(d2, d3, 2)
LEVEL(d1, d2, 1)

int main(int argc, char **argv)
{
  double secs = argc > 1 ? atof(argv[1]) : 2, t;
  struct timespec a, b;

  clock_gettime(CLOCK_MONOTONIC, &a);
  do {
    sink += d1(sink);
    clock_gettime(CLOCK_MONOTONIC, &b);
    t = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
  } while (t < secs);
  printf("done %lu\n", sink & 1);
  return 0;
}
