/*
 * bench_client.c: what one libceoprof event costs the calling thread. Each thread
 * times bursts of events (small enough to fit its ring), pausing between bursts
 * so the flusher can drain, and the median burst gives ns per event.
 * Usage: bench_client [--threads N] [--bursts N] [--burst N] [--wait-daemon MS]
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ceoprof.h"

enum { OP_BEGIN_END, OP_INSTANT, OP_COUNTER, OP_COUNT };
static const char *op_names[OP_COUNT] = { "task begin+end (per event)", "instant", "counter" };

static int bursts = 200, burst = 2000;

struct result {
  double ns[OP_COUNT];  /* median ns per event */
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
  struct result *r = arg;
  double *samples = calloc((size_t)bursts, sizeof(double));
  uint64_t id = 1;

  if (!samples)
    return NULL;
  for (int op = 0; op < OP_COUNT; op++) {
    for (int b = 0; b < bursts; b++) {
      uint64_t t0 = now_ns(), t1;

      switch (op) {
      case OP_BEGIN_END:
        for (int i = 0; i < burst / 2; i++, id++) {
          ceoprof_task_begin(id, "bench_task");
          ceoprof_task_end(id);
        }
        break;
      case OP_INSTANT:
        for (int i = 0; i < burst; i++)
          ceoprof_instant("bench_instant");
        break;
      case OP_COUNTER:
        for (int i = 0; i < burst; i++)
          ceoprof_counter("bench_counter", i);
        break;
      }
      t1 = now_ns();
      samples[b] = (double)(t1 - t0) / burst;
      usleep(6000);  /* longer than the flusher's 5 ms period: the ring is empty again */
    }
    qsort(samples, (size_t)bursts, sizeof(double), cmp_double);
    r->ns[op] = samples[bursts / 2];
  }
  free(samples);
  return NULL;
}

int main(int argc, char **argv)
{
  int threads = 1, wait_ms = 0, rc;
  struct ceoprof_stats st;
  pthread_t th[64];
  struct result res[64];

  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
      threads = atoi(argv[++i]);
    else if (strcmp(argv[i], "--bursts") == 0 && i + 1 < argc)
      bursts = atoi(argv[++i]);
    else if (strcmp(argv[i], "--burst") == 0 && i + 1 < argc)
      burst = atoi(argv[++i]);
    else if (strcmp(argv[i], "--wait-daemon") == 0 && i + 1 < argc)
      wait_ms = atoi(argv[++i]);
    else {
      fprintf(stderr, "usage: bench_client [--threads N] [--bursts N] [--burst N] [--wait-daemon MS]\n");
      return 2;
    }
  }
  if (threads < 1 || threads > 64 || bursts < 1 || burst < 2) {
    fprintf(stderr, "bench_client: --threads 1..64, --bursts >= 1, --burst >= 2\n");
    return 2;
  }
  rc = ceoprof_init("bench");
  if (rc < 0) {
    fprintf(stderr, "bench_client: ceoprof_init: %s\n", strerror(-rc));
    return 1;
  }
  for (int w = 0; w < wait_ms; w += 10) {
    ceoprof_get_stats(&st);
    if (st.connected)
      break;
    usleep(10000);
  }
  ceoprof_get_stats(&st);
  if (wait_ms && !st.connected) {
    fprintf(stderr, "bench_client: no daemon connected within %d ms\n", wait_ms);
    return 1;
  }
  for (int i = 0; i < threads; i++)
    pthread_create(&th[i], NULL, run, &res[i]);
  for (int i = 0; i < threads; i++)
    pthread_join(th[i], NULL);
  ceoprof_shutdown();
  ceoprof_get_stats(&st);
  /* One line per operation: name, median ns/event (the worst thread's), then totals. */
  for (int op = 0; op < OP_COUNT; op++) {
    double worst = 0;

    for (int i = 0; i < threads; i++)
      worst = res[i].ns[op] > worst ? res[i].ns[op] : worst;
    printf("%s\t%.1f\n", op_names[op], worst);
  }
  printf("events recorded\t%" PRIu64 "\nevents sent\t%" PRIu64 "\nevents dropped\t%" PRIu64
         "\nring full\t%" PRIu64 "\nno daemon\t%" PRIu64 "\n",
         st.events_recorded, st.events_sent, st.events_dropped, st.dropped_ring_full,
         st.dropped_no_daemon);
  return 0;
}
