/* ring.c: allocation and draining of the per-thread SPSC event ring. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ring.h"

int cp__ring_init(struct cp_ring *r, size_t bytes)
{
  size_t cap = 64;

  while (cap * sizeof(struct cp_rec) < bytes)
    cap *= 2;
  memset(r, 0, sizeof(*r));
  r->recs = calloc(cap, sizeof(struct cp_rec));
  if (!r->recs)
    return -ENOMEM;
  r->mask = cap - 1;
  return 0;
}

void cp__ring_destroy(struct cp_ring *r)
{
  free(r->recs);
  r->recs = NULL;
}

uint64_t cp__ring_drain(struct cp_ring *r, cp_ring_fn fn, void *arg)
{
  uint64_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
  uint64_t h = atomic_load_explicit(&r->head, memory_order_acquire);
  uint64_t n = h - t;

  for (; t != h; t++)
    fn(arg, &r->recs[t & r->mask]);
  atomic_store_explicit(&r->tail, h, memory_order_release);
  return n;
}
