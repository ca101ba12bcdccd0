/*
 * hindex.h: the one hash table: an open-addressing index over the entries of an array the
 * caller owns (entries are found by their position in it). The caller gives the hash of a
 * key and says whether an entry equals it; the index keeps its load under one half.
 */
#ifndef CP_HINDEX_H
#define CP_HINDEX_H

#include <stddef.h>
#include <stdint.h>

struct cp_hindex {
  uint32_t *slots;   /* entry index + 1; 0 marks a free slot */
  size_t cap;        /* a power of two, or 0 before the first insert */
  size_t n;          /* entries indexed */
};

/* Whether entry IDX of the caller's array (CTX) equals KEY. */
typedef int (*cp_hindex_eq_fn)(const void *ctx, uint32_t idx, const void *key);
/* The hash of entry IDX, to move it when the index grows. */
typedef uint64_t (*cp_hindex_hash_fn)(const void *ctx, uint32_t idx);

/* FNV-1a of a string; a 64-bit mix (splitmix64's finalizer) of a number. */
uint64_t cp_hash_str(const char *s);
uint64_t cp_hash_bytes(const void *p, size_t n);
static inline uint64_t cp_hash_u64(uint64_t x)
{
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

/* The index of the entry equal to KEY (hashed HASH), or -1. */
int64_t cp_hindex_find(const struct cp_hindex *h, uint64_t hash, cp_hindex_eq_fn eq,
                       const void *ctx, const void *key);
/* Indexes entry IDX (hashed HASH; not already indexed). 0 or -ENOMEM. */
int cp_hindex_insert(struct cp_hindex *h, uint64_t hash, uint32_t idx, cp_hindex_hash_fn rehash,
                     const void *ctx);
/* Unindexes entry IDX (hashed HASH; REHASH gives the others' hashes as they move). */
void cp_hindex_remove(struct cp_hindex *h, uint64_t hash, uint32_t idx, cp_hindex_hash_fn rehash,
                      const void *ctx);
/* The entry hashed HASH moved in the caller's array from FROM to TO (to fill a hole). */
void cp_hindex_move(struct cp_hindex *h, uint64_t hash, uint32_t from, uint32_t to);
/* Forgets every entry (keeps the memory). */
void cp_hindex_clear(struct cp_hindex *h);
void cp_hindex_free(struct cp_hindex *h);

/*
 * The first of the N elements of SIZE bytes at BASE, sorted by KEY's order, for which
 * BEFORE(element, KEY) is false (N when there is none): the one lower-bound search.
 */
size_t cp_lower_bound(const void *base, size_t n, size_t size, const void *key,
                      int (*before)(const void *elem, const void *key));

#endif
