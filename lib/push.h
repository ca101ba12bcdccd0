/*
 * push.h: uploading pprof files to Grafana Pyroscope's /ingest with libcurl: one
 * synchronous upload (ceoprof push), and a bounded queue served by one thread with
 * retries and backoff, so the daemon's loop never waits on the network.
 */
#ifndef CPD_PUSH_H
#define CPD_PUSH_H

#include <stddef.h>
#include <stdint.h>

struct cpd_push_stats {
  uint64_t queued;    /* waiting or being sent */
  uint64_t sent;
  uint64_t failed;    /* given up after the retries; the file stays on disk */
  uint64_t dropped;   /* refused because the queue was full; the file stays on disk */
};

/*
 * Uploads the pprof at PATH to URL/ingest as application NAME (with its labels, e.g.
 * "svc{hostname=h}") for [FROM_S, UNTIL_S) in Unix seconds. 0, or -errno with the
 * reason in ERR (-EIO: the server answered with an error, -ECONNREFUSED and friends:
 * it could not be reached).
 */
int cpd_push_file(const char *url, const char *path, const char *name, uint64_t from_s,
                  uint64_t until_s, int hz, char *err, size_t errlen);

/* The Pyroscope application name for SERVICE: "SERVICE{hostname=HOST}", sanitized. */
void cpd_push_name(char *out, size_t size, const char *service);

/* Starts the upload thread. RETRIES attempts after the first, waiting BACKOFF_MS, doubled each time. */
int cpd_push_start(const char *url, int retries, int backoff_ms);
/* Queues one upload (copies its arguments); never blocks. */
void cpd_push_enqueue(const char *path, const char *service, uint64_t from_s, uint64_t until_s,
                      int hz);
/* Gives the queue up to WAIT_MS to drain, then stops the thread; what is left is logged. */
void cpd_push_stop(int wait_ms);
void cpd_push_get_stats(struct cpd_push_stats *st);

#endif
