/*
 * wait_workload.c: tasks whose time goes to known places, to check how ceoprof splits a
 * task's wall time: "nap" tasks sleep 10 ms (blocked), "spin" tasks burn 5 ms of CPU
 * alone, then four workers run "crowd" tasks that burn 30 ms each on however many CPUs
 * there are (waiting for a CPU when there are fewer than four). Every task carries the
 * CPU time its thread measured in it (CLOCK_THREAD_CPUTIME_ID) as the field
 * "measured_cpu_ns", for the test to hold the profiler's figure against. A "grow" task
 * touches 64 MiB it keeps, a later "shrink" task gives them back: the resident-memory
 * change across each.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "ceoprof.h"

static _Atomic uint64_t next_id = 1;
static volatile uint64_t sink;

static uint64_t thread_cpu_ns(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void burn_ns(uint64_t ns)
{
  uint64_t end = thread_cpu_ns() + ns, acc = 1;

  while (thread_cpu_ns() < end)
    for (int i = 0; i < 10000; i++)
      acc = acc * 31 + (uint64_t)i;
  sink += acc;
}

/* One task: BODY runs between begin and end; the thread's CPU time in it becomes a field. */
static void task(const char *name, void (*body)(void))
{
  uint64_t id = atomic_fetch_add(&next_id, 1), c0;

  ceoprof_task_begin(id, name);
  c0 = thread_cpu_ns();
  body();
  ceoprof_task_field("measured_cpu_ns", (int64_t)(thread_cpu_ns() - c0));
  ceoprof_task_end(id);
}

enum { GROW_BYTES = 64 << 20 };
static char *grown;

static void grow(void)
{
  grown = mmap(NULL, GROW_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (grown != MAP_FAILED)
    memset(grown, 1, GROW_BYTES);
}

static void shrink(void)
{
  if (grown != MAP_FAILED)
    munmap(grown, GROW_BYTES);
}

static void nap(void) { usleep(10000); }
static void spin(void) { burn_ns(5000000); }
static void crowd(void) { burn_ns(30000000); }

static void *crowd_worker(void *arg)
{
  ceoprof_worker_register((uint32_t)(uintptr_t)arg, "crowd");
  for (int i = 0; i < 5; i++)
    task("crowd", crowd);
  return NULL;
}

int main(void)
{
  pthread_t t[4];
  struct ceoprof_stats st;

  ceoprof_init("waitworkload");
  ceoprof_worker_register(1, "main");
  for (int i = 0; i < 100; i++) {
    ceoprof_get_stats(&st);
    if (st.connected)
      break;
    usleep(10000);
  }
  for (int i = 0; i < 20; i++) {
    task("nap", nap);
    task("spin", spin);
  }
  task("grow", grow);
  usleep(300000);  /* readings every 100 ms: the change lands in one task or the other */
  task("shrink", shrink);
  usleep(250000);
  for (uintptr_t i = 0; i < 4; i++)
    pthread_create(&t[i], NULL, crowd_worker, (void *)(i + 2));
  for (int i = 0; i < 4; i++)
    pthread_join(t[i], NULL);
  ceoprof_shutdown();
  printf("done\n");
  return 0;
}
