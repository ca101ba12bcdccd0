/*
 * switcher.c: a workload that goes off the CPU as often as it can, for measuring what
 * off-CPU profiling costs it. PAIRS pairs of threads pass a byte back and forth over two
 * pipes: every pass blocks one thread and wakes the other. The rate is measured after a
 * half-second warm-up.
 * Usage: switcher SECONDS PAIRS   -> prints "ops_per_sec N" (round trips) and "switches N"
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static _Atomic uint64_t trips, all_trips;
static _Atomic int phase;  /* 0 warm-up, 1 measuring, 2 done */

struct pair {
  int ab[2], ba[2];  /* a writes ab, b reads it; b writes ba, a reads it */
};

static void *side_a(void *arg)
{
  struct pair *p = arg;
  char c = 'x';

  while (atomic_load(&phase) < 2) {
    if (write(p->ab[1], &c, 1) != 1 || read(p->ba[0], &c, 1) != 1)
      break;
    atomic_fetch_add(&all_trips, 1);
    if (atomic_load(&phase) == 1)
      atomic_fetch_add(&trips, 1);
  }
  close(p->ab[1]);  /* b sees the end */
  return NULL;
}

static void *side_b(void *arg)
{
  struct pair *p = arg;
  char c;

  while (read(p->ab[0], &c, 1) == 1)
    if (write(p->ba[1], &c, 1) != 1)
      break;
  close(p->ba[1]);
  return NULL;
}

static double now_s(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
  double secs = argc > 1 ? atof(argv[1]) : 3;
  int npairs = argc > 2 ? atoi(argv[2]) : 1;
  struct pair *pairs;
  pthread_t *th;
  double t0;

  if (secs <= 0 || npairs < 1 || npairs > 256) {
    fprintf(stderr, "usage: switcher SECONDS PAIRS\n");
    return 2;
  }
  pairs = calloc((size_t)npairs, sizeof(*pairs));
  th = calloc((size_t)npairs * 2, sizeof(*th));
  if (!pairs || !th)
    return 1;
  for (int i = 0; i < npairs; i++) {
    if (pipe(pairs[i].ab) < 0 || pipe(pairs[i].ba) < 0) {
      perror("pipe");
      return 1;
    }
    pthread_create(&th[2 * i + 1], NULL, side_b, &pairs[i]);
    pthread_create(&th[2 * i], NULL, side_a, &pairs[i]);
  }
  usleep(500000);
  t0 = now_s();
  atomic_store(&phase, 1);
  usleep((useconds_t)(secs * 1e6));
  atomic_store(&phase, 2);
  t0 = now_s() - t0;
  for (int i = 0; i < 2 * npairs; i++)
    pthread_join(th[i], NULL);
  /* Every round trip blocks each side once: two switches off the CPU. */
  printf("ops_per_sec %.0f\nswitches %llu\n", (double)atomic_load(&trips) / t0,
         (unsigned long long)(2 * atomic_load(&all_trips)));
  return 0;
}
