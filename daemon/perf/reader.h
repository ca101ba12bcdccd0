/*
 * reader.h: the thread that reads a sampler's perf rings. It only copies records out of
 * the rings, one round of all rings at a time, each round sorted by time, into a bounded
 * queue; the event loop takes the queue and parses, unwinds and symbolizes the records
 * on its own thread. A slow symbol lookup there never keeps the rings from being read,
 * as in Perfetto's traced_perf, where reading and unwinding are separate threads too.
 */
#ifndef CPD_READER_H
#define CPD_READER_H

#include <poll.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "perf/perf_record.h"

/* Records copied out of the rings, in the order they are to be handled. */
struct cpd_reader_batch {
  uint8_t *buf;                 /* whole records, one after another */
  size_t len, cap;
  struct cpd_reader_ref { uint64_t time; size_t off; } *order; /* each record, by time */
  size_t n, order_cap;
};

struct cpd_reader {
  pthread_mutex_t lock;         /* held while the rings are read or the queue changes hands */
  pthread_t thread;
  int running;
  int stop_fd;                  /* an eventfd that ends the thread's wait */
  int wake_fd;                  /* an eventfd the thread writes when the queue passes
                                 * wake_bytes: the event loop watches it */
  struct cpd_perf_ring **rings; /* owned array; a ring whose meta is NULL is skipped */
  int nrings;
  struct pollfd *pollfds;       /* the thread's poll set: stop_fd and the rings' fds */
  char *hung_up;                /* per ring: its fd reported POLLHUP, no longer waited on */
  uint64_t sample_type;         /* to find each record's time */
  size_t max;                   /* bytes the queue may hold; past it the kernel drops */
  size_t wake_bytes;
  int woken;                    /* wake_fd was written since the last take */
  struct cpd_reader_batch queue; /* what the thread read, not yet taken */
  struct cpd_reader_batch spare; /* the last batch taken, reused by the next take */
  uint64_t rounds;              /* reads of the rings that found records */
  uint64_t records;             /* records copied */
  size_t peak;                  /* the most bytes queued at once */
  int bad;                      /* a malformed ring was met */
};

/*
 * Starts the reader over NRINGS rings (RINGS: a malloc'd array of pointers the reader owns
 * from here on, failing or not; NULL: -ENOMEM). A ring whose meta is still NULL is
 * skipped; set it under cpd_reader_hold. Each ring's fd (-1 for none) is polled for its
 * wake-up mark, and every ring is read at least every 50 ms. 0 or -errno (then
 * cpd_reader_stop frees what was made).
 */
int cpd_reader_start(struct cpd_reader *r, struct cpd_perf_ring **rings, int nrings,
                     uint64_t sample_type, size_t max);
/*
 * Reads the rings once more, then hands FN every queued record in order, outside the
 * lock (the thread goes on reading meanwhile). Returns the records handed, or -EBADMSG
 * after the thread met a malformed ring (the records are handed all the same).
 */
int cpd_reader_take(struct cpd_reader *r, cpd_perf_rec_fn fn, void *arg);
/* Keeps the thread off the rings (to change them). */
void cpd_reader_hold(struct cpd_reader *r);
void cpd_reader_release(struct cpd_reader *r);
/* Stops the thread and frees what it queued (call after a last take). */
void cpd_reader_stop(struct cpd_reader *r);

#endif
