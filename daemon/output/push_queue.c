/*
 * push_queue.c: the daemon's bounded queue of Pyroscope uploads, served by one thread with
 * retries and backoff, so the event loop never waits on the network.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "curl_dl.h"
#include "log.h"
#include "output/push_queue.h"
#include "push.h"

#define QUEUE_MAX 64            /* uploads waiting; more are refused and counted */
#define BACKOFF_MAX_MS 30000

struct job {
  char *path;
  char *service;
  const char *type;             /* a string literal: "process_cpu" or "off_cpu" */
  uint64_t from_s, until_s;
  int hz;
};

struct cpd_push_queue {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  pthread_t thread;
  int stopping;
  struct cpd_push_opts opts;    /* its strings owned */
  int retries, backoff_ms;
  struct job q[QUEUE_MAX];
  size_t head, n;
  int busy;                     /* the thread holds a job outside the queue */
  struct cpd_push_stats st;
};

static void job_free(struct job *j)
{
  free(j->path);
  free(j->service);
}

static void opts_free(struct cpd_push_opts *o)
{
  free((char *)o->url);
  free((char *)o->tenant);
  free((char *)o->basic_auth);
  free((char *)o->token);
  memset(o, 0, sizeof(*o));
}

/* A copy of O whose strings are its own: 0 or -ENOMEM. */
static int opts_copy(struct cpd_push_opts *out, const struct cpd_push_opts *o)
{
  *out = *o;
  out->url = strdup(o->url);
  out->tenant = o->tenant ? strdup(o->tenant) : NULL;
  out->basic_auth = o->basic_auth ? strdup(o->basic_auth) : NULL;
  out->token = o->token ? strdup(o->token) : NULL;
  if (!out->url || (o->tenant && !out->tenant) || (o->basic_auth && !out->basic_auth) ||
      (o->token && !out->token)) {
    opts_free(out);
    return -ENOMEM;
  }
  return 0;
}

/* CLOCK_REALTIME (pthread_cond_timedwait's clock) MS milliseconds from now. */
static struct timespec deadline_in(int ms)
{
  struct timespec until;

  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += ms / 1000;
  until.tv_nsec += (long)(ms % 1000) * 1000000L;
  if (until.tv_nsec >= 1000000000L) {
    until.tv_sec++;
    until.tv_nsec -= 1000000000L;
  }
  return until;
}

/* Sleeps MS unless the daemon is stopping. Called with the lock held. */
static void wait_ms(struct cpd_push_queue *P, int ms)
{
  struct timespec until = deadline_in(ms);

  while (!P->stopping && pthread_cond_timedwait(&P->cond, &P->lock, &until) == 0)
    ;
}

static void *uploader(void *arg)
{
  struct cpd_push_queue *P = arg;

  pthread_mutex_lock(&P->lock);
  for (;;) {
    struct job j;
    int backoff = P->backoff_ms, rc = -EIO;
    struct cpd_push_result res = { 0, 0 };
    char err[512] = "";

    while (P->n == 0 && !P->stopping)
      pthread_cond_wait(&P->cond, &P->lock);
    if (P->n == 0)
      break;
    j = P->q[P->head];
    P->head = (P->head + 1) % QUEUE_MAX;
    P->n--;
    P->busy = 1;
    for (int attempt = 0; attempt <= P->retries; attempt++) {
      struct cpd_push_meta m = { j.service, j.type, j.from_s, j.until_s, j.hz };

      pthread_mutex_unlock(&P->lock);
      rc = cpd_push_profile(&P->opts, j.path, &m, &res, err, sizeof(err));
      pthread_mutex_lock(&P->lock);
      /* Refused credentials or a profile that does not read will not get better. */
      if (rc == 0 || P->stopping || rc == -EACCES || rc == -EINVAL)
        break;
      cpd_debug("push of %s failed (attempt %d of %d): %s", j.path, attempt + 1, P->retries + 1,
                err);
      if (attempt < P->retries) {
        wait_ms(P, backoff);
        backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
      }
    }
    if (rc == 0) {
      P->st.sent++;
      cpd_debug("pushed %s to %s as %s", j.path, P->opts.url, j.type);
      if (res.values_folded) {
        P->st.labels_folded += res.labels_folded;
        P->st.values_folded += res.values_folded;
        cpd_log("pushed %s with %" PRIu64 " label values folded into \"other\" (%u labels had "
                "more than %u values; the file keeps them all)", j.path, res.values_folded,
                res.labels_folded, P->opts.label_limit);
      }
    } else {
      P->st.failed++;
      cpd_log("could not push %s to Pyroscope: %s; the file is kept, push it later with "
              "'ceoprof push'", j.path, err);
    }
    P->busy = 0;
    job_free(&j);
    pthread_cond_broadcast(&P->cond);
  }
  pthread_mutex_unlock(&P->lock);
  return NULL;
}

int cpd_push_queue_new(struct cpd_push_queue **out, const struct cpd_push_opts *o, int retries,
                       int backoff_ms)
{
  struct cpd_push_queue *P;
  char err[256];
  int rc = cpd_curl_load(err, sizeof(err));

  *out = NULL;
  if (rc < 0) {
    cpd_log("%s", err);
    return rc;
  }
  if (cpd_curl.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
    return -ENOMEM;
  P = calloc(1, sizeof(*P));
  if (!P || opts_copy(&P->opts, o) < 0) {
    rc = -ENOMEM;
    goto out_free;
  }
  pthread_mutex_init(&P->lock, NULL);
  pthread_cond_init(&P->cond, NULL);
  P->retries = retries;
  P->backoff_ms = backoff_ms > 0 ? backoff_ms : 1;
  rc = pthread_create(&P->thread, NULL, uploader, P);
  if (rc != 0) {
    rc = -rc;
    goto out_destroy;
  }
  *out = P;
  return 0;
out_destroy:
  pthread_cond_destroy(&P->cond);
  pthread_mutex_destroy(&P->lock);
out_free:
  if (P)
    opts_free(&P->opts);
  free(P);
  cpd_curl.global_cleanup();
  return rc;
}

void cpd_push_queue_add(struct cpd_push_queue *P, const char *path, const char *service,
                        const char *type, uint64_t from_s, uint64_t until_s, int hz)
{
  struct job j = { strdup(path), strdup(service ? service : "unnamed"), type, from_s, until_s,
                   hz };

  if (!j.path || !j.service) {
    job_free(&j);
    pthread_mutex_lock(&P->lock);
    P->st.dropped++;
    pthread_mutex_unlock(&P->lock);
    return;
  }
  pthread_mutex_lock(&P->lock);
  if (P->n == QUEUE_MAX) {
    P->st.dropped++;
    cpd_log("the Pyroscope queue is full (%d uploads); %s is kept but not pushed", QUEUE_MAX,
            path);
    job_free(&j);
  } else {
    P->q[(P->head + P->n) % QUEUE_MAX] = j;
    P->n++;
    pthread_cond_broadcast(&P->cond);
  }
  pthread_mutex_unlock(&P->lock);
}

void cpd_push_queue_free(struct cpd_push_queue *P, int wait_ms_total)
{
  struct timespec until;

  if (!P)
    return;
  until = deadline_in(wait_ms_total);
  pthread_mutex_lock(&P->lock);
  while ((P->n || P->busy) && pthread_cond_timedwait(&P->cond, &P->lock, &until) == 0)
    ;
  P->stopping = 1;
  pthread_cond_broadcast(&P->cond);
  pthread_mutex_unlock(&P->lock);
  pthread_join(P->thread, NULL);
  for (; P->n; P->n--, P->head = (P->head + 1) % QUEUE_MAX) {
    cpd_log("not pushed before the daemon stopped: %s (kept)", P->q[P->head].path);
    P->st.failed++;
    job_free(&P->q[P->head]);
  }
  opts_free(&P->opts);
  pthread_cond_destroy(&P->cond);
  pthread_mutex_destroy(&P->lock);
  free(P);
  cpd_curl.global_cleanup();
}

void cpd_push_queue_stats(struct cpd_push_queue *P, struct cpd_push_stats *st)
{
  if (!P) {
    memset(st, 0, sizeof(*st));
    return;
  }
  pthread_mutex_lock(&P->lock);
  *st = P->st;
  st->queued = P->n + (uint64_t)P->busy;
  pthread_mutex_unlock(&P->lock);
}
