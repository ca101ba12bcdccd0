/* intern.c: a lock-free insert-only hash table that gives each distinct name an id. */
#include "config.h"

#include <string.h>

#include "intern.h"

void cp__intern_reset(struct cp_intern *t)
{
  memset(t, 0, sizeof(*t));
}

static uint32_t hash_name(const char *s, uint32_t len)
{
  uint32_t h = 2166136261u;  /* FNV-1a */

  for (uint32_t i = 0; i < len; i++)
    h = (h ^ (uint8_t)s[i]) * 16777619u;
  return h;
}

static int entry_equals(const struct cp_intern_entry *e, const char *s, uint32_t len, uint32_t h)
{
  return e->hash == h && e->len == len && memcmp(e->str, s, len) == 0;
}

uint32_t cp__intern(struct cp_intern *t, const char *name)
{
  size_t full = strlen(name);
  uint32_t len = full > CP_NAME_MAX ? CP_NAME_MAX : (uint32_t)full;
  uint32_t h = hash_name(name, len);
  uint32_t mine = 0;  /* an id this call reserved but has not yet published */

  for (uint32_t probe = 0; probe < CP_INTERN_SLOTS; probe++) {
    _Atomic uint32_t *slot = &t->slots[(h + probe) & (CP_INTERN_SLOTS - 1)];
    uint32_t id = atomic_load_explicit(slot, memory_order_acquire);

    if (id == 0) {
      if (!mine) {
        uint32_t off;
        struct cp_intern_entry *e;
        char *copy;

        mine = atomic_fetch_add(&t->count, 1) + 1;
        if (mine > CP_INTERN_MAX)
          return 0;
        e = &t->entries[mine];
        off = atomic_fetch_add(&t->arena_used, len + 1);
        if (off + len + 1 > CP_INTERN_ARENA) {
          /* Publish the id as dead (str NULL) so the flusher can step over it. */
          atomic_store_explicit(&e->ready, 1, memory_order_release);
          return 0;
        }
        copy = t->arena + off;
        memcpy(copy, name, len);
        copy[len] = '\0';
        e->str = copy;
        e->len = len;
        e->hash = h;
        atomic_store_explicit(&e->ready, 1, memory_order_release);
      }
      if (atomic_compare_exchange_strong(slot, &id, mine))
        return mine;
      /* Another thread filled this slot first: fall through and compare with it. */
    }
    if (entry_equals(&t->entries[id], name, len, h))
      return id;  /* a reserved id of ours, if any, stays a harmless duplicate */
  }
  return 0;
}

const struct cp_intern_entry *cp__intern_get(const struct cp_intern *t, uint32_t id)
{
  if (id == 0 || id > CP_INTERN_MAX)
    return NULL;
  if (!atomic_load_explicit(&t->entries[id].ready, memory_order_acquire))
    return NULL;
  return &t->entries[id];
}
