/* intern.h: libceoprof's lock-free table of interned names (name -> small id). */
#ifndef CP_INTERN_H
#define CP_INTERN_H

#include <stdatomic.h>
#include <stdint.h>

#define CP_INTERN_MAX 4096u          /* distinct names per process */
#define CP_INTERN_SLOTS 8192u        /* open-addressing slots, twice the names */
#define CP_INTERN_ARENA (256u << 10) /* bytes for the names themselves */
#define CP_NAME_MAX 255u             /* longer names are cut */

struct cp_intern_entry {
  const char *str;       /* NUL-terminated copy in the arena */
  uint32_t len;
  uint32_t hash;
  _Atomic int ready;     /* set (release) once str/len/hash are written */
};

struct cp_intern {
  _Atomic uint32_t slots[CP_INTERN_SLOTS];            /* ids, 0 = empty */
  struct cp_intern_entry entries[CP_INTERN_MAX + 1];  /* by id; entry 0 unused */
  _Atomic uint32_t count;                             /* ids handed out, the last is count */
  _Atomic uint32_t arena_used;
  char arena[CP_INTERN_ARENA];
};

void cp__intern_reset(struct cp_intern *t);
/* The id of NAME, interning it on first sight; 0 when the table or arena is full. */
uint32_t cp__intern(struct cp_intern *t, const char *name);
/* The entry of ID once it is ready (its str is NULL for an id lost to a full arena), else NULL. */
const struct cp_intern_entry *cp__intern_get(const struct cp_intern *t, uint32_t id);

#endif
