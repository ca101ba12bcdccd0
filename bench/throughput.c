/*
 * throughput.c: a CPU-bound workload that reports its own throughput, for measuring
 * what a profiler costs the program it watches. THREADS threads run work units in a
 * three-deep call chain; the rate is measured after a one-second warm-up.
 * Usage: throughput SECONDS THREADS   -> prints "ops_per_sec N"
 */
#include <pthread.h>
#include <stdint.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static _Atomic uint64_t ops;
static _Atomic int phase;  /* 0 warm-up, 1 measuring, 2 done */

__attribute__((noinline)) static uint64_t leaf(uint64_t x)
{
  volatile uint64_t v[2] = { x, 0 };

  for (int i = 0; i < 2000; i++)
    v[0] = v[0] * 6364136223846793005ull + 1442695040888963407ull;
  return v[0];
}

__attribute__((noinline)) static uint64_t middle(uint64_t x)
{
  return leaf(x) ^ leaf(x + 1);
}

__attribute__((noinline)) static uint64_t unit(uint64_t x)
{
  return middle(x) + middle(x * 3);
}

static void *worker(void *arg)
{
  uint64_t local = 0, x = (uintptr_t)arg;

  while (atomic_load_explicit(&phase, memory_order_relaxed) < 2) {
    x = unit(x);
    if (atomic_load_explicit(&phase, memory_order_relaxed) == 1)
      local++;
  }
  atomic_fetch_add(&ops, local);
  return NULL;
}

int main(int argc, char **argv)
{
  double seconds = argc > 1 ? atof(argv[1]) : 5;
  int threads = argc > 2 ? atoi(argv[2]) : 2;
  pthread_t th[64];
  struct timespec a, b;
  double dt;

  if (threads < 1 || threads > 64 || seconds <= 1) {
    fprintf(stderr, "usage: throughput SECONDS(>1) THREADS(1..64)\n");
    return 2;
  }
  for (int i = 0; i < threads; i++)
    pthread_create(&th[i], NULL, worker, (void *)(uintptr_t)(i + 1));
  nanosleep(&(struct timespec){ 1, 0 }, NULL);
  clock_gettime(CLOCK_MONOTONIC, &a);
  atomic_store(&phase, 1);
  nanosleep(&(struct timespec){ (time_t)(seconds - 1), (long)((seconds - 1 - (time_t)(seconds - 1)) * 1e9) }, NULL);
  atomic_store(&phase, 2);
  clock_gettime(CLOCK_MONOTONIC, &b);
  for (int i = 0; i < threads; i++)
    pthread_join(th[i], NULL);
  dt = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
  printf("ops_per_sec %.1f\n", (double)atomic_load(&ops) / dt);
  return 0;
}
