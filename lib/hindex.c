/* hindex.c: the one hash table (an index over an array) and the one lower-bound search. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hindex.h"

uint64_t cp_hash_bytes(const void *p, size_t n)
{
  const uint8_t *b = p;
  uint64_t h = 1469598103934665603ull;

  for (size_t i = 0; i < n; i++)
    h = (h ^ b[i]) * 1099511628211ull;
  return h;
}

uint64_t cp_hash_str(const char *s)
{
  return cp_hash_bytes(s, strlen(s));
}

int64_t cp_hindex_find(const struct cp_hindex *h, uint64_t hash, cp_hindex_eq_fn eq,
                       const void *ctx, const void *key)
{
  if (h->cap == 0)
    return -1;
  for (size_t i = hash & (h->cap - 1); h->slots[i]; i = (i + 1) & (h->cap - 1))
    if (eq(ctx, h->slots[i] - 1, key))
      return (int64_t)h->slots[i] - 1;
  return -1;
}

static void place(uint32_t *slots, size_t cap, uint64_t hash, uint32_t idx)
{
  size_t i = hash & (cap - 1);

  while (slots[i])
    i = (i + 1) & (cap - 1);
  slots[i] = idx + 1;
}

int cp_hindex_insert(struct cp_hindex *h, uint64_t hash, uint32_t idx, cp_hindex_hash_fn rehash,
                     const void *ctx)
{
  if ((h->n + 1) * 2 > h->cap) {
    size_t cap = h->cap ? h->cap * 2 : 64;
    uint32_t *slots = calloc(cap, sizeof(*slots));

    if (!slots)
      return -ENOMEM;
    for (size_t i = 0; i < h->cap; i++)
      if (h->slots[i])
        place(slots, cap, rehash(ctx, h->slots[i] - 1), h->slots[i] - 1);
    free(h->slots);
    h->slots = slots;
    h->cap = cap;
  }
  place(h->slots, h->cap, hash, idx);
  h->n++;
  return 0;
}

/* The slot that holds entry IDX (probing from HASH), or cap when none does. */
static size_t slot_of(const struct cp_hindex *h, uint64_t hash, uint32_t idx)
{
  if (h->cap == 0)
    return 0;
  for (size_t i = hash & (h->cap - 1); h->slots[i]; i = (i + 1) & (h->cap - 1))
    if (h->slots[i] == idx + 1)
      return i;
  return h->cap;
}

void cp_hindex_remove(struct cp_hindex *h, uint64_t hash, uint32_t idx, cp_hindex_hash_fn rehash,
                      const void *ctx)
{
  size_t i = slot_of(h, hash, idx), j;

  if (i >= h->cap)
    return;
  /* Deletion with linear probing: the rest of the cluster is placed again. */
  h->slots[i] = 0;
  h->n--;
  for (j = (i + 1) & (h->cap - 1); h->slots[j]; j = (j + 1) & (h->cap - 1)) {
    uint32_t e = h->slots[j] - 1;

    h->slots[j] = 0;
    place(h->slots, h->cap, rehash(ctx, e), e);
  }
}

void cp_hindex_move(struct cp_hindex *h, uint64_t hash, uint32_t from, uint32_t to)
{
  size_t i = slot_of(h, hash, from);

  if (i < h->cap)
    h->slots[i] = to + 1;
}

void cp_hindex_clear(struct cp_hindex *h)
{
  if (h->slots)
    memset(h->slots, 0, h->cap * sizeof(*h->slots));
  h->n = 0;
}

void cp_hindex_free(struct cp_hindex *h)
{
  free(h->slots);
  memset(h, 0, sizeof(*h));
}

size_t cp_lower_bound(const void *base, size_t n, size_t size, const void *key,
                      int (*before)(const void *elem, const void *key))
{
  size_t lo = 0, hi = n;

  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;

    if (before((const char *)base + mid * size, key))
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}
