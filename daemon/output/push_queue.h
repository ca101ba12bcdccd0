/*
 * push_queue.h: the daemon's bounded queue of Pyroscope uploads: one thread, retries with
 * exponential backoff; a file that cannot be pushed stays on disk and is counted.
 */
#ifndef CPD_PUSH_QUEUE_H
#define CPD_PUSH_QUEUE_H

#include <stdint.h>

#include "push.h"

struct cpd_push_queue;

struct cpd_push_stats {
  uint64_t queued;    /* waiting or being sent */
  uint64_t sent;
  uint64_t failed;    /* given up after the retries; the file stays on disk */
  uint64_t dropped;   /* refused because the queue was full; the file stays on disk */
  uint64_t labels_folded; /* labels with more values than the limit, in what was pushed */
  uint64_t values_folded; /* their values pushed as "other" */
};

/* Starts the upload thread pushing as O says (copied): RETRIES attempts after the first,
 * waiting BACKOFF_MS, doubled each time. 0 or -errno (libcurl could not be loaded: logged). */
int cpd_push_queue_new(struct cpd_push_queue **out, const struct cpd_push_opts *o, int retries,
                       int backoff_ms);
/* Queues one upload of the profile at PATH as SERVICE's TYPE ("process_cpu", "off_cpu": a
 * string literal) (copies the others); never blocks. */
void cpd_push_queue_add(struct cpd_push_queue *q, const char *path, const char *service,
                        const char *type, uint64_t from_s, uint64_t until_s, int hz);
/* Gives the queue up to WAIT_MS to drain, then stops the thread and frees Q (NULL: no-op);
 * what is left is logged. */
void cpd_push_queue_free(struct cpd_push_queue *q, int wait_ms);
/* Zeroes when Q is NULL. */
void cpd_push_queue_stats(struct cpd_push_queue *q, struct cpd_push_stats *st);

#endif
