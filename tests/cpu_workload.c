/*
 * cpu_workload.c: a workload whose CPU profile is known, for the sampling tests.
 *   alpha (worker 1): task "hot" runs burn_a for 3 ms, then task "warm" runs burn_b
 *                     for 1 ms (on average), over and over;
 *                     each "hot" task carries a trace span (traceparent) whose span id
 *                     is its task id
 *   beta  (worker 2): task "cold" runs burn_c for 2 ms, then sleeps 2 ms
 *   gamma (worker 3): started 500 ms after the daemon attached; task "late" runs
 *                     burn_d for 300 ms, then the thread exits
 * Burn times are the thread's own CPU time (CLOCK_THREAD_CPUTIME_ID), so the 3:1 share
 * holds however the machine schedules the threads; with wall-clock burns, a thread
 * preempted inside burn_a more often than inside burn_b (alpha's and beta's 4 ms cycles
 * lock in phase on a busy machine) skewed it.
 * Workers register at once; the work starts when a daemon is connected (or after
 * 5 s without one), so workers registered before the attach are tested too.
 * With "early" as the second argument, main first burns 200 ms in burn_early, before
 * anything else: only a profile that starts at exec sees it (ceoprof record).
 * Usage: cpu_workload SECONDS [early]
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ceoprof.h"

static double seconds;
static _Atomic int go;
static _Atomic uint64_t next_id = 1;
static volatile uint64_t sink;

static uint64_t clock_ns(clockid_t id)
{
  struct timespec ts;

  clock_gettime(id, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t now_ns(void)
{
  return clock_ns(CLOCK_MONOTONIC);
}

static uint64_t cpu_ns(void)
{
  return clock_ns(CLOCK_THREAD_CPUTIME_ID);
}

/*
 * Durations vary around their mean (uniform, +-50%, a fixed seed per thread): with fixed
 * ones a thread's cycle can lock in phase with the sampling period (4 ms of alpha is
 * two periods at 499 Hz), and the samples then fall on the same part of the cycle.
 */
static double jitter(unsigned *seed, double mean)
{
  return mean * (0.5 + (double)rand_r(seed) / RAND_MAX);
}

/* Each burns MS milliseconds of this thread's CPU time in its own loop and adds the CPU
 * time it really used to its total, printed at exit so the test can hold the profile
 * against it. The clock is a system call, and the kernel's share of the time is not
 * sampled (user stacks only): it is read every 100000 iterations (~100 us), so the
 * kernel's share stays under 1%. */
#define BURN(fn, mul)                                                \
  static _Atomic uint64_t fn##_total;                                \
  __attribute__((noinline, noclone)) static void fn(double ms)       \
  {                                                                  \
    volatile uint64_t acc[2] = { 0, 0 };                             \
    uint64_t start = cpu_ns(), now;                                  \
    uint64_t end = start + (uint64_t)(ms * 1e6);                     \
    do {                                                             \
      for (int i = 0; i < 100000; i++)                               \
        acc[i & 1] = acc[i & 1] * (mul) + (uint64_t)i;               \
    } while ((now = cpu_ns()) < end);                                \
    atomic_fetch_add(&fn##_total, now - start);                      \
    sink += acc[0];                                                  \
  }
BURN(burn_a, 31)
BURN(burn_b, 37)
BURN(burn_c, 41)
BURN(burn_d, 43)
BURN(burn_early, 47)

static void wait_go(void)
{
  while (!atomic_load(&go))
    usleep(1000);
}

static void *alpha(void *arg)
{
  unsigned seed = 1;
  uint64_t end;

  ceoprof_worker_register(1, "alpha");
  wait_go();
  end = now_ns() + (uint64_t)(seconds * 1e9);
  while (now_ns() < end) {
    uint64_t hot = atomic_fetch_add(&next_id, 1), warm = atomic_fetch_add(&next_id, 1);

    char tp[64];

    ceoprof_task_begin(hot, "hot");
    /* Each "hot" task is a span of one distributed trace; its span id is its task id. */
    snprintf(tp, sizeof(tp), "00-4bf92f3577b34da6a3ce929d0e0e4736-%016llx-01",
             (unsigned long long)hot);
    if (ceoprof_task_traceparent(tp) < 0)
      abort();
    burn_a(jitter(&seed, 3));
    ceoprof_task_end(hot);
    ceoprof_task_begin(warm, "warm");
    burn_b(jitter(&seed, 1));
    ceoprof_task_end(warm);
  }
  return NULL;
}

static void *beta(void *arg)
{
  unsigned seed = 2;
  uint64_t end;

  ceoprof_worker_register(2, "beta");
  wait_go();
  end = now_ns() + (uint64_t)(seconds * 1e9);
  while (now_ns() < end) {
    uint64_t id = atomic_fetch_add(&next_id, 1);

    ceoprof_task_begin(id, "cold");
    burn_c(jitter(&seed, 2));
    ceoprof_task_end(id);
    usleep(2000);
  }
  return NULL;
}

static void *gamma_worker(void *arg)
{
  uint64_t id = atomic_fetch_add(&next_id, 1);

  ceoprof_worker_register(3, "gamma");
  ceoprof_task_begin(id, "late");
  burn_d(300);
  ceoprof_task_end(id);
  return NULL;
}

int main(int argc, char **argv)
{
  struct ceoprof_stats st;
  pthread_t a, b, g;

  seconds = argc > 1 ? atof(argv[1]) : 3;
  if (argc > 2 && strcmp(argv[2], "early") == 0)
    burn_early(200);
  ceoprof_init("cpuworkload");
  pthread_create(&a, NULL, alpha, NULL);
  pthread_create(&b, NULL, beta, NULL);
  for (int i = 0; i < 500; i++) {
    ceoprof_get_stats(&st);
    if (st.connected)
      break;
    usleep(10000);
  }
  printf("ready\n");
  fflush(stdout);
  atomic_store(&go, 1);
  usleep(500000);
  pthread_create(&g, NULL, gamma_worker, NULL);  /* a thread started after the attach */
  pthread_join(g, NULL);
  pthread_join(a, NULL);
  pthread_join(b, NULL);
  printf("cpu_ms burn_a=%.1f burn_b=%.1f burn_c=%.1f burn_d=%.1f burn_early=%.1f\n",
         burn_a_total / 1e6, burn_b_total / 1e6, burn_c_total / 1e6, burn_d_total / 1e6,
         burn_early_total / 1e6);
  ceoprof_shutdown();
  return 0;
}
