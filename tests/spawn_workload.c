/*
 * spawn_workload.c: threads that start while a profiler attaches. Starts a thread every
 * 100 us until SIGUSR1 (or MAX threads); each waits for the signal, then burns MS
 * milliseconds of its own CPU time (CLOCK_THREAD_CPUTIME_ID), two threads at a time (with
 * hundreds runnable at once cpu-clock loses samples, perf record's too). A profiler that
 * opens inherited events per thread meets threads created by threads it has covered
 * already; sampled twice, they show up with twice the CPU they used.
 * Usage: spawn_workload [MS] [MAX]  -> prints "spawning" once the first thread runs, then
 *        at exit "threads N cpu_ms X" and one line "tid T cpu_ms X" per thread.
 */
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef SPAWN_US
#define SPAWN_US 100
#endif

struct worker {
  pthread_t thread;
  pid_t tid;
  double cpu_ms;
};

static volatile sig_atomic_t signalled;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t start = PTHREAD_COND_INITIALIZER;
static int go;
static sem_t lanes;   /* two threads burn at a time */
static double burn_ms = 20;
static volatile uint64_t sink;

static double thread_cpu_ms(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

__attribute__((noinline)) static void burn(struct worker *w)
{
  double t0 = thread_cpu_ms(), now;
  uint64_t acc = 1;

  do {
    for (int i = 0; i < 20000; i++)
      acc = acc * 31 + (uint64_t)i;
  } while ((now = thread_cpu_ms()) < t0 + burn_ms);
  sink += acc;
  w->cpu_ms = now - t0;
}

static void *run(void *arg)
{
  struct worker *w = arg;

  w->tid = (pid_t)syscall(SYS_gettid);
  pthread_mutex_lock(&lock);
  while (!go)
    pthread_cond_wait(&start, &lock);
  pthread_mutex_unlock(&lock);
  while (sem_wait(&lanes) < 0)
    ;
  burn(w);
  sem_post(&lanes);
  return NULL;
}

static void on_usr1(int sig)
{
  (void)sig;
  signalled = 1;
}

int main(int argc, char **argv)
{
  int max = argc > 2 ? atoi(argv[2]) : 2000, n = 0;
  struct worker *w;
  pthread_attr_t attr;
  double total = 0;

  if (argc > 1)
    burn_ms = atof(argv[1]);
  w = calloc((size_t)max, sizeof(*w));
  if (!w || max < 1)
    return 1;
  sem_init(&lanes, 0, 2);
  signal(SIGUSR1, on_usr1);
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 64 * 1024);
  while (!signalled && n < max) {
    if (pthread_create(&w[n].thread, &attr, run, &w[n]) != 0)
      break;
    if (n++ == 0) {
      printf("spawning\n");
      fflush(stdout);
    }
    usleep(SPAWN_US);
  }
  while (!signalled)
    usleep(1000);
  pthread_mutex_lock(&lock);
  go = 1;
  pthread_cond_broadcast(&start);
  pthread_mutex_unlock(&lock);
  for (int i = 0; i < n; i++)
    pthread_join(w[i].thread, NULL);
  for (int i = 0; i < n; i++)
    total += w[i].cpu_ms;
  printf("threads %d cpu_ms %.1f\n", n, total);
  for (int i = 0; i < n; i++)
    printf("tid %d cpu_ms %.1f\n", (int)w[i].tid, w[i].cpu_ms);
  free(w);
  return 0;
}
