/* push.c: Pyroscope uploads with libcurl, and the daemon's bounded upload queue. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "curl_dl.h"
#include "log.h"
#include "push.h"

#define QUEUE_MAX 64            /* uploads waiting; more are refused and counted */
#define BACKOFF_MAX_MS 30000
#define TIMEOUT_S 30            /* one request, connect included */

struct job {
  char *path;
  char *name;
  uint64_t from_s, until_s;
  int hz;
};

static struct {
  pthread_mutex_t lock;
  pthread_cond_t cond;
  pthread_t thread;
  int running, stopping;
  char *url;
  int retries, backoff_ms;
  struct job q[QUEUE_MAX];
  size_t head, n;
  int busy;                     /* the thread holds a job outside the queue */
  struct cpd_push_stats st;
} P = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };

static size_t discard(char *ptr, size_t size, size_t n, void *arg)
{
  char *body = arg;            /* keeps the start of the answer for the error message */
  size_t have = strlen(body), len = size * n;

  if (have < 200) {
    size_t take = len < 200 - have ? len : 200 - have;

    memcpy(body + have, ptr, take);
    body[have + take] = '\0';
  }
  return len;
}

void cpd_push_name(char *out, size_t size, const char *service)
{
  char host[64] = "unknown";
  size_t n = 0;

  gethostname(host, sizeof(host) - 1);
  /* Pyroscope application names: letters, digits, '.', '_', '-'. */
  for (const char *p = service && *service ? service : "unnamed"; *p && n + 1 < size / 2; p++) {
    char c = *p;

    out[n++] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '.' || c == '_' || c == '-' ? c : '_';
  }
  out[n] = '\0';
  for (char *h = host; *h; h++)
    if (!((*h >= 'a' && *h <= 'z') || (*h >= 'A' && *h <= 'Z') || (*h >= '0' && *h <= '9') ||
          *h == '.' || *h == '-'))
      *h = '_';
  snprintf(out + n, size - n, "{hostname=%s}", host);
}

int cpd_push_file(const char *url, const char *path, const char *name, uint64_t from_s,
                  uint64_t until_s, int hz, char *err, size_t errlen)
{
  CURL *curl;
  curl_mime *mime = NULL;
  curl_mimepart *part;
  char *ename = NULL, full[4096], body[201] = "";
  long code = 0;
  CURLcode cc;
  int rc = 0;
  FILE *probe;

  err[0] = '\0';
  rc = cpd_curl_load(err, errlen);
  if (rc < 0)
    return rc;
  curl = cpd_curl.easy_init();
  if (!curl) {
    snprintf(err, errlen, "libcurl could not start");
    return -ENOMEM;
  }
  probe = fopen(path, "rb");
  if (!probe) {
    rc = -errno;
    snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
    goto out;
  }
  fclose(probe);
  ename = cpd_curl.easy_escape(curl, name, 0);
  if (!ename || snprintf(full, sizeof(full),
                         "%s%singest?name=%s&from=%" PRIu64 "&until=%" PRIu64
                         "&format=pprof&spyName=ceoprof&sampleRate=%d",
                         url, url[0] && url[strlen(url) - 1] == '/' ? "" : "/", ename, from_s,
                         until_s, hz) >= (int)sizeof(full)) {
    rc = -ENAMETOOLONG;
    snprintf(err, errlen, "the Pyroscope URL is too long");
    goto out;
  }
  mime = cpd_curl.mime_init(curl);
  part = cpd_curl.mime_addpart(mime);
  cpd_curl.mime_name(part, "profile");
  cpd_curl.mime_filedata(part, path);
  cpd_curl.mime_type(part, "application/octet-stream");
  cpd_curl.easy_setopt(curl, CURLOPT_URL, full);
  cpd_curl.easy_setopt(curl, CURLOPT_MIMEPOST, mime);
  cpd_curl.easy_setopt(curl, CURLOPT_TIMEOUT, (long)TIMEOUT_S);
  cpd_curl.easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  cpd_curl.easy_setopt(curl, CURLOPT_USERAGENT, "ceoprof/" PACKAGE_VERSION);
  cpd_curl.easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
  cpd_curl.easy_setopt(curl, CURLOPT_WRITEDATA, body);
  cc = cpd_curl.easy_perform(curl);
  if (cc != CURLE_OK) {
    rc = cc == CURLE_COULDNT_CONNECT ? -ECONNREFUSED
         : cc == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT
         : cc == CURLE_COULDNT_RESOLVE_HOST ? -EHOSTUNREACH : -EIO;
    snprintf(err, errlen, "could not reach %s: %s", url, cpd_curl.easy_strerror(cc));
    goto out;
  }
  cpd_curl.easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
  if (code < 200 || code > 299) {
    rc = -EIO;
    for (char *c = body; *c; c++)
      if (*c == '\n' || *c == '\r')
        *c = ' ';
    snprintf(err, errlen, "%s answered HTTP %ld%s%s", url, code, body[0] ? ": " : "", body);
  }
out:
  cpd_curl.free(ename);
  cpd_curl.mime_free(mime);
  cpd_curl.easy_cleanup(curl);
  return rc;
}

static void job_free(struct job *j)
{
  free(j->path);
  free(j->name);
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
static void wait_ms(int ms)
{
  struct timespec until = deadline_in(ms);

  while (!P.stopping && pthread_cond_timedwait(&P.cond, &P.lock, &until) == 0)
    ;
}

static void *uploader(void *arg)
{
  pthread_mutex_lock(&P.lock);
  for (;;) {
    struct job j;
    int backoff = P.backoff_ms, rc = -EIO;
    char err[512] = "";

    while (P.n == 0 && !P.stopping)
      pthread_cond_wait(&P.cond, &P.lock);
    if (P.n == 0)
      break;
    j = P.q[P.head];
    P.head = (P.head + 1) % QUEUE_MAX;
    P.n--;
    P.busy = 1;
    for (int attempt = 0; attempt <= P.retries; attempt++) {
      pthread_mutex_unlock(&P.lock);
      rc = cpd_push_file(P.url, j.path, j.name, j.from_s, j.until_s, j.hz, err, sizeof(err));
      pthread_mutex_lock(&P.lock);
      if (rc == 0 || P.stopping)
        break;
      cpd_debug("push of %s failed (attempt %d of %d): %s", j.path, attempt + 1, P.retries + 1,
                err);
      if (attempt < P.retries) {
        wait_ms(backoff);
        backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
      }
    }
    if (rc == 0) {
      P.st.sent++;
      cpd_debug("pushed %s to %s", j.path, P.url);
    } else {
      P.st.failed++;
      cpd_log("could not push %s to Pyroscope: %s; the file is kept, push it later with "
              "'ceoprof push'", j.path, err);
    }
    P.busy = 0;
    job_free(&j);
    pthread_cond_broadcast(&P.cond);
  }
  pthread_mutex_unlock(&P.lock);
  return NULL;
}

int cpd_push_start(const char *url, int retries, int backoff_ms)
{
  char err[256];
  int rc = cpd_curl_load(err, sizeof(err));

  if (rc < 0) {
    cpd_log("%s", err);
    return rc;
  }
  if (cpd_curl.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
    return -ENOMEM;
  P.url = strdup(url);
  if (!P.url)
    return -ENOMEM;
  P.retries = retries;
  P.backoff_ms = backoff_ms > 0 ? backoff_ms : 1;
  rc = pthread_create(&P.thread, NULL, uploader, NULL);
  if (rc != 0)
    return -rc;
  P.running = 1;
  return 0;
}

void cpd_push_enqueue(const char *path, const char *service, uint64_t from_s, uint64_t until_s,
                      int hz)
{
  struct job j = { strdup(path), malloc(256), from_s, until_s, hz };

  if (!P.running)
    return;
  if (!j.path || !j.name) {
    job_free(&j);
    pthread_mutex_lock(&P.lock);
    P.st.dropped++;
    pthread_mutex_unlock(&P.lock);
    return;
  }
  cpd_push_name(j.name, 256, service);
  pthread_mutex_lock(&P.lock);
  if (P.n == QUEUE_MAX) {
    P.st.dropped++;
    cpd_log("the Pyroscope queue is full (%d uploads); %s is kept but not pushed", QUEUE_MAX,
            path);
    job_free(&j);
  } else {
    P.q[(P.head + P.n) % QUEUE_MAX] = j;
    P.n++;
    pthread_cond_broadcast(&P.cond);
  }
  pthread_mutex_unlock(&P.lock);
}

void cpd_push_stop(int wait_ms_total)
{
  struct timespec until;

  if (!P.running)
    return;
  until = deadline_in(wait_ms_total);
  pthread_mutex_lock(&P.lock);
  while ((P.n || P.busy) && pthread_cond_timedwait(&P.cond, &P.lock, &until) == 0)
    ;
  P.stopping = 1;
  pthread_cond_broadcast(&P.cond);
  pthread_mutex_unlock(&P.lock);
  pthread_join(P.thread, NULL);
  for (; P.n; P.n--, P.head = (P.head + 1) % QUEUE_MAX) {
    cpd_log("not pushed before the daemon stopped: %s (kept)", P.q[P.head].path);
    P.st.failed++;
    job_free(&P.q[P.head]);
  }
  P.running = 0;
  free(P.url);
  cpd_curl.global_cleanup();
}

void cpd_push_get_stats(struct cpd_push_stats *st)
{
  pthread_mutex_lock(&P.lock);
  *st = P.st;
  st->queued = P.n + (uint64_t)P.busy;
  pthread_mutex_unlock(&P.lock);
}
