/*
 * ring_guard.h: a thread that empties a sampler's perf rings into memory while the event
 * loop is held up (the first symbol lookup in libc's compressed debug file took 354 ms in
 * one traced run; a switch-heavy target filled a 512 KiB ring in 0.1-0.2 s), so the kernel
 * does not drop records. The loop takes what the guard kept before it reads the rings,
 * so whichever of the two empties a ring, every record reaches the profile once, in order.
 */
#ifndef CPD_RING_GUARD_H
#define CPD_RING_GUARD_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "perf/perf_record.h"

struct cpd_ring_guard {
  pthread_mutex_t lock;        /* held by whoever reads the rings */
  pthread_cond_t cond;
  pthread_t thread;
  int running, stop;
  struct cpd_perf_ring **rings;
  int nrings;
  uint8_t *buf;                /* records kept, in the order read (whole records) */
  size_t len, cap, max;
  uint64_t kept, rounds;       /* records kept, and the wake-ups that kept some */
  size_t peak;                 /* the most bytes held at once */
  int bad;                     /* a malformed ring was met while guarding */
};

/*
 * Starts guarding the NRINGS rings. RINGS is a malloc'd array of pointers that the guard
 * owns from here on, failing or not (NULL: -ENOMEM). The rings must outlive the guard; a
 * ring whose meta is still NULL is skipped, and is set under cpd_ring_guard_hold. Keeps
 * at most MAX bytes; beyond that the kernel drops and counts as it would.
 * Returns 0 or -errno (the sampler then reads without a guard).
 */
int cpd_ring_guard_start(struct cpd_ring_guard *g, struct cpd_perf_ring **rings, int nrings,
                         size_t max);
/*
 * Takes the guard's lock (the rings are the caller's until cpd_ring_guard_release) and
 * hands FN every record the guard kept, oldest first. Returns -EBADMSG once after the
 * guard met a malformed ring, else 0. Like hold and release, a no-op when not running.
 */
int cpd_ring_guard_take(struct cpd_ring_guard *g, cpd_perf_rec_fn fn, void *arg);
/* Takes the lock without taking records (to change the rings); no-op when not running. */
void cpd_ring_guard_hold(struct cpd_ring_guard *g);
void cpd_ring_guard_release(struct cpd_ring_guard *g);
/* Stops the thread and frees what it kept (call after a last take). */
void cpd_ring_guard_stop(struct cpd_ring_guard *g);

#endif
