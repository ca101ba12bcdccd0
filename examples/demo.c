/*
 * demo.c: a small worker-pool runtime instrumented with libceoprof. Named I/O and
 * CPU workers take jobs from two queues; jobs are tasks with different CPU and
 * sleep profiles, some nested, and a "request" that begins on an I/O worker and
 * ends on a CPU worker. It is the workload the README's main command profiles.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ceoprof.h"

#define IO_WORKERS 2
#define CPU_WORKERS 2

struct job {
  uint64_t id;
  int kind;          /* 0 request, 1 parse, 2 compress */
  uint32_t bytes;
  struct job *next;
};

struct queue {
  pthread_mutex_t lock;
  pthread_cond_t nonempty;
  struct job *head, *tail;
  int depth;
  int closed;
  const char *depth_counter;  /* counter name for its depth */
};

static struct queue io_q = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, NULL, 0, 0,
                             "io_queue_depth" };
static struct queue cpu_q = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, NULL, 0, 0,
                              "cpu_queue_depth" };
static _Atomic uint64_t next_task_id = 1;
static volatile uint64_t sink;  /* keeps the CPU work from being optimised away */

static void queue_push(struct queue *q, struct job *j)
{
  pthread_mutex_lock(&q->lock);
  j->next = NULL;
  if (q->tail)
    q->tail->next = j;
  else
    q->head = j;
  q->tail = j;
  ceoprof_counter(q->depth_counter, ++q->depth);
  pthread_cond_signal(&q->nonempty);
  pthread_mutex_unlock(&q->lock);
}

static struct job *queue_pop(struct queue *q)
{
  struct job *j;

  pthread_mutex_lock(&q->lock);
  while (!q->head && !q->closed)
    pthread_cond_wait(&q->nonempty, &q->lock);
  j = q->head;
  if (j) {
    q->head = j->next;
    if (!q->head)
      q->tail = NULL;
    ceoprof_counter(q->depth_counter, --q->depth);
  }
  pthread_mutex_unlock(&q->lock);
  return j;
}

static void queue_close(struct queue *q)
{
  pthread_mutex_lock(&q->lock);
  q->closed = 1;
  pthread_cond_broadcast(&q->nonempty);
  pthread_mutex_unlock(&q->lock);
}

static void sleep_us(long us)
{
  struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };

  while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
    ;
}

/*
 * CPU work in named functions, so a profile has something to show. Each keeps a small
 * buffer on its stack: GCC gives such functions a frame pointer even when they are
 * leaves, so frame-pointer stacks show their callers too.
 */
__attribute__((noinline)) static uint64_t burn_checksum(uint32_t n)
{
  volatile uint64_t h[2] = { 1469598103934665603ull, 0 };

  for (uint32_t i = 0; i < n * 40; i++)
    h[0] = (h[0] ^ i) * 1099511628211ull;
  return h[0];
}

__attribute__((noinline)) static uint64_t burn_parse(uint32_t n)
{
  volatile uint64_t acc[2] = { 0, 0 };

  for (uint32_t i = 0; i < n * 60; i++)
    acc[0] += (i * 2654435761u) >> 7;
  return acc[0];
}

__attribute__((noinline)) static uint64_t burn_compress(uint32_t n)
{
  volatile uint64_t acc[2] = { 0, 0 };

  for (uint32_t i = 0; i < n * 90; i++)
    acc[0] = (acc[0] << 1 | acc[0] >> 63) ^ i;
  return acc[0] + burn_checksum(n);  /* compress checksums what it wrote */
}

static void run_cpu_job(struct job *j)
{
  if (j->kind == 1) {
    uint64_t t = atomic_fetch_add(&next_task_id, 1);

    ceoprof_task_begin(t, "parse");
    ceoprof_task_field("bytes", j->bytes);
    sink += burn_parse(j->bytes / 2);
    ceoprof_task_field("items", j->bytes / 512);
    ceoprof_task_end(t);
  } else {
    uint64_t t = atomic_fetch_add(&next_task_id, 1), c = atomic_fetch_add(&next_task_id, 1);

    ceoprof_task_begin(t, "compress");
    ceoprof_task_field("bytes", j->bytes);
    sink += burn_compress(j->bytes);
    ceoprof_task_begin(c, "checksum");  /* nested inside compress */
    sink += burn_checksum(j->bytes);
    ceoprof_task_end(c);
    ceoprof_task_end(t);
  }
}

static void *cpu_worker(void *arg)
{
  uint32_t id = (uint32_t)(uintptr_t)arg;
  char name[32];
  struct job *j;

  snprintf(name, sizeof(name), "cpu-%u", id);
  pthread_setname_np(pthread_self(), name);
  ceoprof_worker_register(100 + id, name);
  while ((j = queue_pop(&cpu_q)) != NULL) {
    if (j->kind == 0) {
      /* The second half of a request that began on an I/O worker. */
      sink += burn_parse(j->bytes / 2);
      ceoprof_task_end(j->id);
    } else {
      run_cpu_job(j);
    }
    free(j);
  }
  return NULL;
}

static void *io_worker(void *arg)
{
  uint32_t id = (uint32_t)(uintptr_t)arg;
  char name[32];
  struct job *j;

  snprintf(name, sizeof(name), "io-%u", id);
  pthread_setname_np(pthread_self(), name);
  ceoprof_worker_register(id, name);
  while ((j = queue_pop(&io_q)) != NULL) {
    uint64_t t = atomic_fetch_add(&next_task_id, 1);

    ceoprof_task_begin(t, "read_file");
    ceoprof_task_field("bytes", j->bytes);
    sleep_us(300 + j->bytes / 64);  /* waiting on "disk" */
    ceoprof_task_end(t);
    if (j->kind == 0) {
      /* A request: begins here, is handed to a CPU worker, and ends there. */
      j->id = atomic_fetch_add(&next_task_id, 1);
      ceoprof_task_begin(j->id, "request");
      sink += burn_checksum(j->bytes / 4);
      queue_push(&cpu_q, j);
    } else {
      queue_push(&cpu_q, j);
    }
  }
  return NULL;
}

int main(int argc, char **argv)
{
  pthread_t io[IO_WORKERS], cpu[CPU_WORKERS];
  double seconds = 2.0;
  int wait_ms = 0;
  struct ceoprof_stats st;
  struct timespec t0, t;
  uint64_t jobs = 0;
  int rc;

  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
      seconds = atof(argv[++i]);
    else if (strcmp(argv[i], "--wait-daemon") == 0 && i + 1 < argc)
      wait_ms = atoi(argv[++i]);
    else {
      fprintf(stderr, "usage: demo [--seconds S] [--wait-daemon MS]\n");
      return 2;
    }
  }
  rc = ceoprof_init("demo");
  if (rc < 0)
    fprintf(stderr, "demo: ceoprof_init: %s (running without profiling)\n", strerror(-rc));
  /* Give a daemon that is starting up a moment, so the first jobs are seen too. */
  for (int waited = 0; waited < wait_ms; waited += 10) {
    ceoprof_get_stats(&st);
    if (st.connected)
      break;
    sleep_us(10000);
  }
  for (uintptr_t i = 0; i < IO_WORKERS; i++)
    pthread_create(&io[i], NULL, io_worker, (void *)i);
  for (uintptr_t i = 0; i < CPU_WORKERS; i++)
    pthread_create(&cpu[i], NULL, cpu_worker, (void *)i);
  clock_gettime(CLOCK_MONOTONIC, &t0);
  do {
    struct job *j = calloc(1, sizeof(*j));

    if (!j)
      break;
    j->kind = (int)(jobs % 3);
    j->bytes = 4096 + (uint32_t)(jobs * 7919 % 16384);
    queue_push(&io_q, j);
    if (++jobs % 100 == 0)
      ceoprof_instant("batch_submitted");
    sleep_us(1000);
    clock_gettime(CLOCK_MONOTONIC, &t);
  } while ((double)(t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) / 1e9 < seconds);
  queue_close(&io_q);
  for (int i = 0; i < IO_WORKERS; i++)
    pthread_join(io[i], NULL);
  queue_close(&cpu_q);
  for (int i = 0; i < CPU_WORKERS; i++)
    pthread_join(cpu[i], NULL);
  ceoprof_shutdown();
  ceoprof_get_stats(&st);
  printf("demo: %" PRIu64 " jobs; events recorded %" PRIu64 ", sent %" PRIu64 ", dropped %" PRIu64
         " (ring full %" PRIu64 ", no daemon %" PRIu64 ", threshold %" PRIu64 ", other %" PRIu64 ")\n",
         jobs, st.events_recorded, st.events_sent, st.events_dropped, st.dropped_ring_full,
         st.dropped_no_daemon, st.dropped_threshold, st.dropped_other);
  return 0;
}
