/* nesting.c: the one model of how a task's end finds its begin (see nesting.h). */
#include "config.h"

#include <stddef.h>

#include "nesting.h"

struct cp_end cp_nest_end(const struct cp_nest_ops *ops, void *own, uint32_t overflow,
                          uint64_t task_id)
{
  struct cp_end e = { CP_END_UNMATCHED, NULL, -1 };
  int i = own ? ops->find(ops->ctx, own, task_id) : -1;

  if (i >= 0)
    return (struct cp_end){ CP_END_OWN, own, i };
  if (overflow > 0)
    return (struct cp_end){ CP_END_OVERFLOW, own, -1 };
  for (void *t = ops->next(ops->ctx, NULL); t; t = ops->next(ops->ctx, t))
    if (t != own && (i = ops->find(ops->ctx, t, task_id)) >= 0)
      return (struct cp_end){ CP_END_MOVED, t, i };
  return e;
}
