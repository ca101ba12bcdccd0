/*
 * harness.c: runs THREADS threads that each time BURSTS bursts of BURST events per
 * operation, pausing 6 ms after each (longer than libceoprof's 5 ms flush period and LTTng's
 * consumer wake-up, so every burst starts on drained buffers), and prints one line per
 * operation: its name and the median ns per event of the slowest thread.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

static const char *op_names[OP_COUNT] = { "task begin+end (per event)", "instant", "counter" };

struct bench_thread {
  const struct bench_impl *impl;
  int bursts, burst;
  double ns[OP_COUNT];  /* median ns per event */
  pthread_t th;
};

static uint64_t now_ns(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;

  return x < y ? -1 : x > y;
}

static void *run(void *arg)
{
  struct bench_thread *t = arg;
  double *samples = calloc((size_t)t->bursts, sizeof(double));
  uint64_t id = 1;

  if (!samples)
    return NULL;
  for (int op = 0; op < OP_COUNT; op++) {
    for (int b = 0; b < t->bursts; b++) {
      uint64_t t0 = now_ns();

      t->impl->burst(op, t->burst, &id);
      samples[b] = (double)(now_ns() - t0) / t->burst;
      usleep(6000);
    }
    qsort(samples, (size_t)t->bursts, sizeof(double), cmp_double);
    t->ns[op] = samples[t->bursts / 2];
  }
  free(samples);
  return NULL;
}

int bench_main(const struct bench_impl *impl, int argc, char **argv)
{
  int threads = 1, bursts = 200, burst = 2000, nrest = 0;
  char **rest = calloc((size_t)argc + 1, sizeof(char *));
  struct bench_thread *th = NULL;
  int rc = 1;

  if (!rest)
    return 1;
  rest[nrest++] = argv[0];
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
      threads = atoi(argv[++i]);
    else if (strcmp(argv[i], "--bursts") == 0 && i + 1 < argc)
      bursts = atoi(argv[++i]);
    else if (strcmp(argv[i], "--burst") == 0 && i + 1 < argc)
      burst = atoi(argv[++i]);
    else
      rest[nrest++] = argv[i];
  }
  if (threads < 1 || threads > 64 || bursts < 1 || burst < 2) {
    fprintf(stderr, "%s: --threads 1..64, --bursts >= 1, --burst >= 2\n", impl->name);
    goto out;
  }
  if (impl->setup(nrest, rest) < 0)
    goto out;
  th = calloc((size_t)threads, sizeof(*th));
  if (!th)
    goto out;
  for (int i = 0; i < threads; i++) {
    th[i].impl = impl;
    th[i].bursts = bursts;
    th[i].burst = burst;
    if (pthread_create(&th[i].th, NULL, run, &th[i]) != 0) {
      fprintf(stderr, "%s: cannot start thread %d\n", impl->name, i);
      threads = i;
      goto join;
    }
  }
  rc = 0;
join:
  for (int i = 0; i < threads; i++)
    pthread_join(th[i].th, NULL);
  if (impl->teardown)
    impl->teardown();
  for (int op = 0; rc == 0 && op < OP_COUNT; op++) {
    double worst = 0;

    for (int i = 0; i < threads; i++)
      worst = th[i].ns[op] > worst ? th[i].ns[op] : worst;
    printf("%s\t%.1f\n", op_names[op], worst);
  }
out:
  free(th);
  free(rest);
  return rc;
}
