/*
 * bench_client.c: what one libceoprof event costs the calling thread (see harness.c).
 * Usage: bench_client [--threads N] [--bursts N] [--burst N] [--wait-daemon MS]
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ceoprof.h"
#include "harness.h"

static void burst(int op, int n, uint64_t *next_id)
{
  uint64_t id = *next_id;

  switch (op) {
  case OP_BEGIN_END:
    for (int i = 0; i < n / 2; i++, id++) {
      ceoprof_task_begin(id, "bench_task");
      ceoprof_task_end(id);
    }
    break;
  case OP_INSTANT:
    for (int i = 0; i < n; i++)
      ceoprof_instant("bench_instant");
    break;
  case OP_COUNTER:
    for (int i = 0; i < n; i++)
      ceoprof_counter("bench_counter", i);
    break;
  }
  *next_id = id;
}

static int setup(int argc, char **argv)
{
  struct ceoprof_stats st;
  int wait_ms = 0, rc;

  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--wait-daemon") == 0 && i + 1 < argc) {
      wait_ms = atoi(argv[++i]);
    } else {
      fprintf(stderr, "usage: bench_client [--threads N] [--bursts N] [--burst N] "
                      "[--wait-daemon MS]\n");
      return -1;
    }
  }
  rc = ceoprof_init("bench");
  if (rc < 0) {
    fprintf(stderr, "bench_client: ceoprof_init: %s\n", strerror(-rc));
    return -1;
  }
  for (int w = 0; w < wait_ms; w += 10) {
    ceoprof_get_stats(&st);
    if (st.connected)
      return 0;
    usleep(10000);
  }
  ceoprof_get_stats(&st);
  if (wait_ms && !st.connected) {
    fprintf(stderr, "bench_client: no daemon connected within %d ms\n", wait_ms);
    return -1;
  }
  return 0;
}

static void teardown(void)
{
  struct ceoprof_stats st;

  ceoprof_shutdown();
  ceoprof_get_stats(&st);
  printf("events recorded\t%" PRIu64 "\nevents sent\t%" PRIu64 "\nevents dropped\t%" PRIu64
         "\nring full\t%" PRIu64 "\nno daemon\t%" PRIu64 "\n",
         st.events_recorded, st.events_sent, st.events_dropped, st.dropped_ring_full,
         st.dropped_no_daemon);
}

int main(int argc, char **argv)
{
  static const struct bench_impl impl = { "bench_client", setup, burst, teardown };

  return bench_main(&impl, argc, argv);
}
