/*
 * pool.c: the workloads task runtimes are made of, for measuring what profiling costs them.
 *   pool SECONDS WORKERS TASK_US [NAMES]
 *                                  a producer feeds WORKERS threads through a small
 *                                  mutex+condvar queue; each task spins TASK_US of CPU and
 *                                  makes one system call; libceoprof reports every task
 *                                  (named "parse" or "handle", or with NAMES, one of NAMES
 *                                  names "request-N", as a runtime naming tasks by request).
 *   lock SECONDS THREADS           THREADS threads take one of 8 mutexes, yield, release
 *                                  (sysbench's "threads" test): switches and wake-ups only.
 *   churn THREADS MS               THREADS short threads ("churn-N"), two at a time, each
 *                                  computing for MS ms: what a profile gives short threads.
 * Prints "key value" lines: ops_per_sec (tasks or lock rounds, after a 0.5 s warm-up),
 * cpu_s (user+sys from getrusage), switches_per_sec, and for churn churn_cpu_ms (the
 * threads' own CLOCK_THREAD_CPUTIME_ID total).
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "ceoprof.h"

#define QCAP 16

static _Atomic int phase;          /* 0 warm-up, 1 measuring, 2 done */
static _Atomic uint64_t done_ops;  /* while measuring */
static int task_us;
static unsigned task_names;  /* 0: "parse" and "handle"; else this many "request-N" */

static struct {
  pthread_mutex_t mu;
  pthread_cond_t not_empty, not_full;
  uint64_t items[QCAP];
  unsigned head, len;
} q = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER, { 0 }, 0, 0 };

static uint64_t now_ns(clockid_t c)
{
  struct timespec ts;

  clock_gettime(c, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* TASK_US of computing (timed by the vDSO's clock: no system call), then one cheap system
 * call, as a task that logs or polls would. */
static void __attribute__((noinline)) run_task(uint64_t id)
{
  uint64_t end = now_ns(CLOCK_MONOTONIC) + (uint64_t)task_us * 1000u;
  volatile uint64_t x = id;

  while (now_ns(CLOCK_MONOTONIC) < end)
    for (int i = 0; i < 200; i++)
      x = x * 6364136223846793005ull + 1;
  getppid();
}

static void *worker(void *arg)
{
  uint32_t id = (uint32_t)(uintptr_t)arg;
  char name[16];

  snprintf(name, sizeof(name), "worker-%u", id);
  ceoprof_worker_register(id, name);
  for (;;) {
    uint64_t task;

    pthread_mutex_lock(&q.mu);
    while (q.len == 0 && atomic_load(&phase) < 2)
      pthread_cond_wait(&q.not_empty, &q.mu);
    if (q.len == 0) {
      pthread_mutex_unlock(&q.mu);
      return NULL;
    }
    task = q.items[q.head];
    q.head = (q.head + 1) % QCAP;
    q.len--;
    pthread_cond_signal(&q.not_full);
    pthread_mutex_unlock(&q.mu);
    if (task_names) {
      char tname[32];

      snprintf(tname, sizeof(tname), "request-%u", (unsigned)(task % task_names));
      ceoprof_task_begin(task, tname);
    } else {
      ceoprof_task_begin(task, (task & 3) == 0 ? "parse" : "handle");
    }
    run_task(task);
    ceoprof_task_end(task);
    if (atomic_load(&phase) == 1)
      atomic_fetch_add_explicit(&done_ops, 1, memory_order_relaxed);
  }
}

static void *producer(void *arg)
{
  uint64_t next = 1;

  (void)arg;
  while (atomic_load(&phase) < 2) {
    pthread_mutex_lock(&q.mu);
    while (q.len == QCAP && atomic_load(&phase) < 2)
      pthread_cond_wait(&q.not_full, &q.mu);
    if (q.len < QCAP) {
      q.items[(q.head + q.len) % QCAP] = next++;
      q.len++;
      pthread_cond_signal(&q.not_empty);
    }
    pthread_mutex_unlock(&q.mu);
  }
  pthread_mutex_lock(&q.mu);
  pthread_cond_broadcast(&q.not_empty);
  pthread_mutex_unlock(&q.mu);
  return NULL;
}

static pthread_mutex_t locks[8];

static void *locker(void *arg)
{
  unsigned i = (unsigned)(uintptr_t)arg;

  while (atomic_load(&phase) < 2) {
    pthread_mutex_t *m = &locks[i++ % 8];

    pthread_mutex_lock(m);
    sched_yield();
    pthread_mutex_unlock(m);
    if (atomic_load(&phase) == 1)
      atomic_fetch_add_explicit(&done_ops, 1, memory_order_relaxed);
  }
  return NULL;
}

static _Atomic uint64_t churn_ns;

static void *churner(void *arg)
{
  unsigned n = (unsigned)(uintptr_t)arg;
  uint64_t start = now_ns(CLOCK_THREAD_CPUTIME_ID), end = now_ns(CLOCK_MONOTONIC) + (uint64_t)task_us * 1000u;
  volatile uint64_t x = n;
  char name[16];

  snprintf(name, sizeof(name), "churn-%u", n);
  prctl(PR_SET_NAME, name);
  /* User-mode work timed by the vDSO's clock; the truth is the thread's own CPU time. */
  while (now_ns(CLOCK_MONOTONIC) < end)
    for (int i = 0; i < 200; i++)
      x = x * 6364136223846793005ull + 1;
  atomic_fetch_add(&churn_ns, now_ns(CLOCK_THREAD_CPUTIME_ID) - start);
  return NULL;
}

/* The on-CPU nanoseconds of this process's thread named NAME (its schedstat), or -1. */
static double thread_cpu_ns(const char *name)
{
  DIR *d = opendir("/proc/self/task");
  struct dirent *de;
  double ns = -1;

  while (d && (de = readdir(d)) != NULL) {
    char path[300], comm[32] = "";
    FILE *f;

    if (de->d_name[0] == '.')
      continue;
    snprintf(path, sizeof(path), "/proc/self/task/%s/comm", de->d_name);
    if ((f = fopen(path, "re")) == NULL)
      continue;
    if (!fgets(comm, sizeof(comm), f))
      comm[0] = 0;
    fclose(f);
    comm[strcspn(comm, "\n")] = 0;
    if (strcmp(comm, name) != 0)
      continue;
    snprintf(path, sizeof(path), "/proc/self/task/%s/schedstat", de->d_name);
    if ((f = fopen(path, "re")) != NULL) {
      if (fscanf(f, "%lf", &ns) != 1)
        ns = -1;
      fclose(f);
    }
  }
  if (d)
    closedir(d);
  return ns;
}

static void report(double secs)
{
  struct rusage ru;

  getrusage(RUSAGE_SELF, &ru);
  if (secs > 0)
    printf("ops_per_sec %.0f\n", (double)atomic_load(&done_ops) / secs);
  printf("cpu_s %.3f\n", (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
                         (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6);
  printf("switches %ld\n", ru.ru_nvcsw + ru.ru_nivcsw);
}

static void timed(double secs, int n, void *(*fn)(void *), int with_producer)
{
  pthread_t *th = calloc((size_t)n + 1, sizeof(*th));
  double t0;

  for (int i = 0; i < n; i++)
    pthread_create(&th[i], NULL, fn, (void *)(uintptr_t)(i + 1));
  if (with_producer)
    pthread_create(&th[n], NULL, producer, NULL);
  usleep(500000);
  t0 = (double)now_ns(CLOCK_MONOTONIC) / 1e9;
  atomic_store(&phase, 1);
  usleep((useconds_t)(secs * 1e6));
  atomic_store(&phase, 2);
  secs = (double)now_ns(CLOCK_MONOTONIC) / 1e9 - t0;
  for (int i = 0; i < n + (with_producer ? 1 : 0); i++)
    pthread_join(th[i], NULL);
  free(th);
  report(secs);
}

int main(int argc, char **argv)
{
  if (argc >= 5 && strcmp(argv[1], "pool") == 0) {
    task_us = atoi(argv[4]);
    task_names = argc >= 6 ? (unsigned)atoi(argv[5]) : 0;
    struct ceoprof_stats st;
    double flush_ns;

    ceoprof_init("pool");
    timed(atof(argv[2]), atoi(argv[3]), worker, 1);
    flush_ns = thread_cpu_ns("ceoprof-flush");
    ceoprof_shutdown();
    /* The library's side of the event path: its flusher's CPU per event it handled. */
    ceoprof_get_stats(&st);
    printf("events_recorded %llu\n", (unsigned long long)st.events_recorded);
    printf("events_sent %llu\n", (unsigned long long)st.events_sent);
    printf("events_dropped %llu\n", (unsigned long long)st.events_dropped);
    if (flush_ns >= 0)
      printf("flusher_cpu_s %.6f\n", flush_ns / 1e9);
    return 0;
  }
  if (argc >= 4 && strcmp(argv[1], "lock") == 0) {
    for (int i = 0; i < 8; i++)
      pthread_mutex_init(&locks[i], NULL);
    timed(atof(argv[2]), atoi(argv[3]), locker, 0);
    return 0;
  }
  if (argc >= 4 && strcmp(argv[1], "churn") == 0) {
    int n = atoi(argv[2]);

    task_us = atoi(argv[3]) * 1000;
    for (int i = 0; i < n; i += 2) {
      pthread_t a, b;

      pthread_create(&a, NULL, churner, (void *)(uintptr_t)i);
      pthread_create(&b, NULL, churner, (void *)(uintptr_t)(i + 1));
      pthread_join(a, NULL);
      pthread_join(b, NULL);
    }
    printf("churn_cpu_ms %.1f\n", (double)atomic_load(&churn_ns) / 1e6);
    report(0);
    return 0;
  }
  fprintf(stderr, "usage: pool pool SECONDS WORKERS TASK_US | lock SECONDS THREADS | "
                  "churn THREADS MS\n");
  return 2;
}
