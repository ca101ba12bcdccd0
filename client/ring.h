/* ring.h: the per-thread single-producer single-consumer event ring of libceoprof. */
#ifndef CP_RING_H
#define CP_RING_H

#include <stdatomic.h>
#include <stdint.h>

enum cp_ev_kind {
  CP_EV_BEGIN = 1,   /* matches CEOPROF__WIRE__EVENT_KIND__EVENT_TASK_BEGIN */
  CP_EV_END = 2,
  CP_EV_INSTANT = 3,
  CP_EV_COUNTER = 4,
  CP_EV_FIELD = 5,
};

/* One event as the hot path writes it: 32 bytes, two per cache line. */
struct cp_rec {
  uint64_t ts;       /* TSC ticks or CLOCK_MONOTONIC ns */
  uint64_t task_id;  /* BEGIN/END */
  int64_t value;     /* COUNTER/FIELD */
  uint32_t name_id;  /* interned name, 0 when none */
  uint32_t kind;     /* enum cp_ev_kind */
};

struct cp_ring {
  /* Written by the producer thread only. */
  _Atomic uint64_t head;          /* next slot to write; published with release */
  uint64_t tail_cache;            /* producer's last view of tail, saves cache misses */
  uint64_t mask;                  /* capacity - 1 (capacity is a power of two) */
  _Atomic uint64_t dropped_full;  /* events refused because the ring was full */
  struct cp_rec *recs;            /* capacity slots */
  /* Written by the consumer (flusher) only, on its own cache line. */
  _Alignas(64) _Atomic uint64_t tail;
};

/* Allocates a ring of at least BYTES bytes of records (rounded to a power of two). */
int cp__ring_init(struct cp_ring *r, size_t bytes);
void cp__ring_destroy(struct cp_ring *r);

/* The hot path: never blocks; on a full ring the event is counted and dropped. */
static inline void cp__ring_push(struct cp_ring *r, uint32_t kind, uint64_t ts, uint64_t task_id,
                                 int64_t value, uint32_t name_id)
{
  uint64_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
  struct cp_rec *e;

  if (__builtin_expect(h - r->tail_cache > r->mask, 0)) {
    r->tail_cache = atomic_load_explicit(&r->tail, memory_order_acquire);
    if (h - r->tail_cache > r->mask) {
      atomic_store_explicit(&r->dropped_full,
                            atomic_load_explicit(&r->dropped_full, memory_order_relaxed) + 1,
                            memory_order_relaxed);
      return;
    }
  }
  e = &r->recs[h & r->mask];
  e->ts = ts;
  e->task_id = task_id;
  e->value = value;
  e->name_id = name_id;
  e->kind = kind;
  atomic_store_explicit(&r->head, h + 1, memory_order_release);
}

/*
 * Consumer side: calls FN for every record published so far, in order, then frees
 * their slots. Returns how many records were consumed.
 */
typedef void (*cp_ring_fn)(void *arg, const struct cp_rec *rec);
uint64_t cp__ring_drain(struct cp_ring *r, cp_ring_fn fn, void *arg);

#endif
