/*
 * test_client.c: a libceoprof client with known behaviour, for the integration tests.
 * Modes:
 *   basic  N   3 named workers, each N nested tasks with fields, one task moved
 *              between threads, instants and counters
 *   late   MS  register workers and open a task on each, wait up to MS for a daemon,
 *              then run the basic work and end the open tasks
 *   flood  N   N begin/end pairs per thread on 2 threads as fast as possible
 *   steady MS  tasks on 2 workers for MS milliseconds, 1 task per 100 us
 *   storm  MS  $TEST_THREADS threads (default 8) of begin/end pairs as fast as possible
 *              for MS milliseconds; prints the mean ns per event too
 *   fork   N   basic work, then fork: the child does basic work too and exits
 *   long   MS  for MS milliseconds, 2 workers each inside one "session" task (a field set
 *              at its start) run short "job" tasks with a nested "step", as fast as they
 * (about 50,000 tasks a second); a dispatcher begins a "handoff" task every 300 ms that worker 1 ends
 *              700 ms later (tasks that cross the daemon's segment cuts)
 * Prints "recorded=R sent=S dropped=D ... maxrss_kb=K" at the end.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ceoprof.h"

static long arg_n;
static _Atomic uint64_t next_id = 1;
static volatile uint64_t sink;

static void spin_us(long us)
{
  struct timespec a, b;

  clock_gettime(CLOCK_MONOTONIC, &a);
  do {
    for (int i = 0; i < 100; i++)
      sink += (uint64_t)i * 31;
    clock_gettime(CLOCK_MONOTONIC, &b);
  } while ((b.tv_sec - a.tv_sec) * 1000000L + (b.tv_nsec - a.tv_nsec) / 1000 < us);
}

static void *basic_worker(void *arg)
{
  uint32_t w = (uint32_t)(uintptr_t)arg;
  char name[16];

  snprintf(name, sizeof(name), "worker-%u", w);
  ceoprof_worker_register(w + 1, name);
  for (long i = 0; i < arg_n; i++) {
    uint64_t outer = atomic_fetch_add(&next_id, 1), inner = atomic_fetch_add(&next_id, 1);

    ceoprof_task_begin(outer, "outer");
    ceoprof_task_field("items", i + 1);
    ceoprof_task_begin(inner, "inner");
    spin_us(20);
    ceoprof_task_end(inner);
    ceoprof_counter("progress", i + 1);
    ceoprof_task_end(outer);
  }
  ceoprof_instant("worker_done");
  return NULL;
}

static uint64_t moved_task;
static pthread_mutex_t mv_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t mv_cond = PTHREAD_COND_INITIALIZER;
static int mv_state;

static void *mover_begin(void *arg)
{
  ceoprof_worker_register(10, "mover-a");
  pthread_mutex_lock(&mv_lock);
  moved_task = atomic_fetch_add(&next_id, 1);
  ceoprof_task_begin(moved_task, "moved");
  mv_state = 1;
  pthread_cond_broadcast(&mv_cond);
  pthread_mutex_unlock(&mv_lock);
  return NULL;
}

static void *mover_end(void *arg)
{
  ceoprof_worker_register(11, "mover-b");
  pthread_mutex_lock(&mv_lock);
  while (mv_state != 1)
    pthread_cond_wait(&mv_cond, &mv_lock);
  pthread_mutex_unlock(&mv_lock);
  spin_us(200);
  ceoprof_task_end(moved_task);
  return NULL;
}

static void run_basic(void)
{
  pthread_t th[5];

  mv_state = 0;  /* the hand-off starts anew in every run */
  for (uintptr_t i = 0; i < 3; i++)
    pthread_create(&th[i], NULL, basic_worker, (void *)i);
  pthread_create(&th[3], NULL, mover_begin, NULL);
  pthread_create(&th[4], NULL, mover_end, NULL);
  for (int i = 0; i < 5; i++)
    pthread_join(th[i], NULL);
}

static void *flood_worker(void *arg)
{
  for (long i = 0; i < arg_n; i++) {
    uint64_t id = (uint64_t)i + 1;

    ceoprof_task_begin(id, "flood");
    ceoprof_task_end(id);
  }
  return NULL;
}

static _Atomic uint64_t storm_pairs;

static uint64_t mono_ns(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void *storm_worker(void *arg)
{
  uint64_t end = mono_ns() + (uint64_t)arg_n * 1000000u, n = 0, id = (uint64_t)(uintptr_t)arg << 40;
  char name[16];

  snprintf(name, sizeof(name), "storm-%u", (unsigned)(uintptr_t)arg);
  ceoprof_worker_register((uint32_t)(uintptr_t)arg, name);
  while (mono_ns() < end) {
    for (int i = 0; i < 1000; i++, n++) {
      ceoprof_task_begin(id + n + 1, "storm");
      ceoprof_task_end(id + n + 1);
    }
  }
  atomic_fetch_add(&storm_pairs, n);
  return NULL;
}

static void *steady_worker(void *arg)
{
  uint32_t w = (uint32_t)(uintptr_t)arg;
  char name[16];
  struct timespec a, b;

  snprintf(name, sizeof(name), "steady-%u", w);
  ceoprof_worker_register(w, name);
  clock_gettime(CLOCK_MONOTONIC, &a);
  do {
    uint64_t id = atomic_fetch_add(&next_id, 1);

    ceoprof_task_begin(id, "tick");
    spin_us(50);
    ceoprof_task_end(id);
    usleep(50);
    clock_gettime(CLOCK_MONOTONIC, &b);
  } while ((b.tv_sec - a.tv_sec) * 1000L + (b.tv_nsec - a.tv_nsec) / 1000000 < arg_n);
  return NULL;
}

/* Long mode: tasks open across segment cuts, many short ones beside them. */
static _Atomic int long_stop;
static _Atomic uint64_t long_tasks, handoff_id;

static void *long_worker(void *arg)
{
  uint32_t w = (uint32_t)(uintptr_t)arg;
  uint64_t session = atomic_fetch_add(&next_id, 1), n = 0;
  char name[16];

  snprintf(name, sizeof(name), "long-%u", w + 1);
  ceoprof_worker_register(w + 1, name);
  ceoprof_task_begin(session, "session");
  ceoprof_task_field("worker", w + 1);
  while (!atomic_load(&long_stop)) {
    uint64_t job = atomic_fetch_add(&next_id, 2);

    ceoprof_task_begin(job, "job");
    ceoprof_task_begin(job + 1, "step");
    spin_us(40);
    ceoprof_task_end(job + 1);
    ceoprof_task_end(job);
    n += 2;
    if (w == 1) {  /* ends the hand-offs, 700 ms after they began */
      uint64_t h = atomic_load(&handoff_id);

      if (h && mono_ns() / 1000000u >= (h >> 20) + 700 && atomic_compare_exchange_strong(&handoff_id, &h, 0))
        ceoprof_task_end(h & 0xfffff);
    }
  }
  ceoprof_task_end(session);
  atomic_fetch_add(&long_tasks, n + 1);
  return NULL;
}

static void *long_dispatcher(void *arg)
{
  (void)arg;
  ceoprof_worker_register(9, "dispatcher");
  while (!atomic_load(&long_stop)) {
    uint64_t id = atomic_fetch_add(&next_id, 1) & 0xfffff, expect = 0;

    /* The id and its begin time in one word: worker 1 ends it when its time has come. */
    ceoprof_task_begin(id, "handoff");
    atomic_fetch_add(&long_tasks, 1);
    if (!atomic_compare_exchange_strong(&handoff_id, &expect, ((mono_ns() / 1000000u) << 20) | id))
      ceoprof_task_end(id);  /* the last one was not taken yet: ends here */
    usleep(300000);
  }
  return NULL;
}

static void run_long(long ms)
{
  pthread_t th[3];
  uint64_t h;

  for (uintptr_t i = 0; i < 2; i++)
    pthread_create(&th[i], NULL, long_worker, (void *)i);
  pthread_create(&th[2], NULL, long_dispatcher, NULL);
  usleep((useconds_t)ms * 1000);
  atomic_store(&long_stop, 1);
  for (int i = 0; i < 3; i++)
    pthread_join(th[i], NULL);
  if ((h = atomic_exchange(&handoff_id, 0)) != 0)
    ceoprof_task_end(h & 0xfffff);  /* the last hand-off, ended by the main thread */
  printf("tasks=%" PRIu64 "\n", atomic_load(&long_tasks));
}

/* Late mode: workers that were registered and busy before any daemon existed. */
static _Atomic int late_go;

static void *late_worker(void *arg)
{
  uint32_t w = (uint32_t)(uintptr_t)arg;
  char name[16];
  uint64_t id = 1000000 + w;

  snprintf(name, sizeof(name), "early-%u", w);
  ceoprof_worker_register(w + 1, name);
  ceoprof_task_begin(id, "long_running");
  while (!atomic_load(&late_go))
    usleep(1000);
  for (int i = 0; i < 50; i++) {
    uint64_t t = atomic_fetch_add(&next_id, 1);

    ceoprof_task_begin(t, "after_attach");
    spin_us(20);
    ceoprof_task_end(t);
  }
  ceoprof_task_end(id);
  return NULL;
}

static void report(const char *who)
{
  struct ceoprof_stats st;
  struct rusage ru;

  ceoprof_get_stats(&st);
  getrusage(RUSAGE_SELF, &ru);
  printf("%s recorded=%" PRIu64 " sent=%" PRIu64 " dropped=%" PRIu64 " ring_full=%" PRIu64
         " no_daemon=%" PRIu64 " threshold=%" PRIu64 " other=%" PRIu64 " connections=%u maxrss_kb=%ld\n",
         who, st.events_recorded, st.events_sent, st.events_dropped, st.dropped_ring_full,
         st.dropped_no_daemon, st.dropped_threshold, st.dropped_other, st.connections, ru.ru_maxrss);
  fflush(stdout);
}

static void wait_connected(long ms)
{
  struct ceoprof_stats st;

  for (long w = 0; w < ms; w += 10) {
    ceoprof_get_stats(&st);
    if (st.connected)
      return;
    usleep(10000);
  }
}

int main(int argc, char **argv)
{
  const char *mode;
  pthread_t th[4];
  int rc;

  if (argc < 3) {
    fprintf(stderr, "usage: test_client basic|late|flood|steady|storm|fork|long N\n");
    return 2;
  }
  mode = argv[1];
  arg_n = atol(argv[2]);
  rc = ceoprof_init("testclient");
  if (rc < 0 && rc != -125 /* -ECANCELED: CEOPROF_DISABLE */) {
    fprintf(stderr, "test_client: ceoprof_init: %s\n", strerror(-rc));
    return 1;
  }
  if (getenv("TEST_WAIT_DAEMON_MS"))
    wait_connected(atol(getenv("TEST_WAIT_DAEMON_MS")));
  if (strcmp(mode, "basic") == 0) {
    run_basic();
  } else if (strcmp(mode, "late") == 0) {
    for (uintptr_t i = 0; i < 2; i++)
      pthread_create(&th[i], NULL, late_worker, (void *)i);
    usleep(50000);
    printf("ready\n");
    fflush(stdout);
    wait_connected(arg_n);
    usleep(50000);
    atomic_store(&late_go, 1);
    for (int i = 0; i < 2; i++)
      pthread_join(th[i], NULL);
  } else if (strcmp(mode, "flood") == 0) {
    for (int i = 0; i < 2; i++)
      pthread_create(&th[i], NULL, flood_worker, NULL);
    for (int i = 0; i < 2; i++)
      pthread_join(th[i], NULL);
  } else if (strcmp(mode, "storm") == 0) {
    int n = getenv("TEST_THREADS") ? atoi(getenv("TEST_THREADS")) : 8;
    pthread_t *ts = calloc((size_t)n, sizeof(*ts));
    uint64_t t0 = mono_ns();

    for (uintptr_t i = 0; i < (uintptr_t)n; i++)
      pthread_create(&ts[i], NULL, storm_worker, (void *)i);
    for (int i = 0; i < n; i++)
      pthread_join(ts[i], NULL);
    printf("storm threads=%d pairs=%" PRIu64 " ns_per_event=%.1f (wall, all threads)\n", n,
           atomic_load(&storm_pairs),
           (double)(mono_ns() - t0) * n / (2.0 * (double)atomic_load(&storm_pairs)));
    free(ts);
  } else if (strcmp(mode, "steady") == 0) {
    for (uintptr_t i = 0; i < 2; i++)
      pthread_create(&th[i], NULL, steady_worker, (void *)i);
    for (int i = 0; i < 2; i++)
      pthread_join(th[i], NULL);
  } else if (strcmp(mode, "long") == 0) {
    run_long(arg_n);
  } else if (strcmp(mode, "fork") == 0) {
    pid_t child;
    int status;

    run_basic();
    child = fork();
    if (child == 0) {
      wait_connected(3000);
      run_basic();
      ceoprof_shutdown();
      report("child");
      _exit(0);
    }
    waitpid(child, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      fprintf(stderr, "test_client: child failed\n");
      return 1;
    }
    run_basic();
  } else {
    fprintf(stderr, "test_client: unknown mode %s\n", mode);
    return 2;
  }
  ceoprof_shutdown();
  report("parent");
  return 0;
}
