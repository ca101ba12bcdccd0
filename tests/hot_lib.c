/* hot_lib.c: a shared library whose one function burns CPU, built twice under two names
 * (HOT_NAME): the library a process maps, and a root-only one of the same layout that
 * tests/harden_mapfiles.sh bind-mounts over its path. */
#include <stdint.h>
#include <time.h>

#ifndef HOT_NAME
#define HOT_NAME user_hot_function
#endif

int HOT_NAME(double seconds);

int HOT_NAME(double seconds)
{
  struct timespec a, b;
  volatile uint64_t x = 1;

  clock_gettime(CLOCK_MONOTONIC, &a);
  do {
    for (int i = 0; i < 100000; i++)
      x = x * 6364136223846793005ull + 1;
    clock_gettime(CLOCK_MONOTONIC, &b);
  } while ((double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9 < seconds);
  return (int)(x & 1);
}
