/* pprof_fold.c: the most frequent values of each string label kept, the rest named "other". */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pprof_fold.h"
#include "util.h"

/* A (label name, value) in use; values compared by their text (a table may repeat one). */
struct use {
  int64_t key;
  const char *val;
  uint64_t weight;
  int fold;
};

static int by_key_str(const void *a, const void *b)
{
  const struct use *x = a, *y = b;

  if (x->key != y->key)
    return x->key < y->key ? -1 : 1;
  return strcmp(x->val, y->val);
}

static int by_key_weight(const void *a, const void *b)
{
  const struct use *x = a, *y = b;

  if (x->key != y->key)
    return x->key < y->key ? -1 : 1;
  if (x->weight != y->weight)
    return x->weight > y->weight ? -1 : 1;
  return strcmp(x->val, y->val);
}

/* Labels Pyroscope keeps per sample rather than making series of (pprofsplit). */
static int per_sample(const char *name)
{
  return strcmp(name, "span_id") == 0 || strcmp(name, "trace_id") == 0 ||
         strcmp(name, "profile_id") == 0;
}

static int64_t other_string(Perftools__Profiles__Profile *p)
{
  char **t, *s;

  for (size_t i = 0; i < p->n_string_table; i++)
    if (strcmp(p->string_table[i], "other") == 0)
      return (int64_t)i;
  if (!(s = strdup("other")) ||
      !(t = realloc(p->string_table, (p->n_string_table + 1) * sizeof(*t)))) {
    free(s);
    return -ENOMEM;
  }
  p->string_table = t;
  t[p->n_string_table] = s;
  return (int64_t)p->n_string_table++;
}

int cpc_pprof_fold(Perftools__Profiles__Profile *p, uint32_t limit, struct cpc_fold_stats *st)
{
  struct use *u = NULL;
  size_t n = 0, cap = 0, k = 0;
  int64_t other = -1;
  int rc = 0;

  memset(st, 0, sizeof(*st));
  if (limit < 2)
    return 0;
  /* Every (name, value) in use, with the weight of the samples carrying it. */
  for (size_t i = 0; i < p->n_sample; i++) {
    const Perftools__Profiles__Sample *s = p->sample[i];
    uint64_t w = s->n_value ? (uint64_t)(s->value[s->n_value - 1] > 0 ? s->value[s->n_value - 1] : 0) : 0;

    for (size_t j = 0; j < s->n_label; j++) {
      const Perftools__Profiles__Label *l = s->label[j];

      if (l->str <= 0 || l->key <= 0 || (size_t)l->key >= p->n_string_table ||
          (size_t)l->str >= p->n_string_table || per_sample(p->string_table[l->key]))
        continue;
      if (cpd_grow(&u, &cap, n, sizeof(*u)) < 0) {
        free(u);
        return -ENOMEM;
      }
      u[n++] = (struct use){ l->key, p->string_table[l->str], w, 0 };
    }
  }
  if (n == 0)
    goto out;
  qsort(u, n, sizeof(*u), by_key_str);
  for (size_t i = 0; i < n; i++) {  /* one entry per (name, value), weights summed */
    if (k && by_key_str(&u[k - 1], &u[i]) == 0)
      u[k - 1].weight += u[i].weight;
    else
      u[k++] = u[i];
  }
  qsort(u, k, sizeof(*u), by_key_weight);
  for (size_t i = 0; i < k;) {
    size_t end = i;

    while (end < k && u[end].key == u[i].key)
      end++;
    if (end - i > limit) {
      st->labels++;
      for (size_t j = i + limit - 1; j < end; j++) {
        u[j].fold = 1;
        st->values++;
      }
    }
    i = end;
  }
  if (!st->values)
    goto out;
  if ((other = other_string(p)) < 0) {
    rc = (int)other;
    goto out;
  }
  qsort(u, k, sizeof(*u), by_key_str);
  for (size_t i = 0; i < p->n_sample; i++) {
    Perftools__Profiles__Sample *s = p->sample[i];

    for (size_t j = 0; j < s->n_label; j++) {
      Perftools__Profiles__Label *l = s->label[j];
      struct use key, *hit;

      if (l->str <= 0 || (size_t)l->str >= p->n_string_table)
        continue;
      key = (struct use){ l->key, p->string_table[l->str], 0, 0 };
      hit = bsearch(&key, u, k, sizeof(*u), by_key_str);
      if (hit && hit->fold)
        l->str = other;
    }
  }
out:
  free(u);
  return rc;
}
