/*
 * nesting.h: the one model of how a task's end finds its begin, for the client's flusher
 * (which holds back short spans and re-sends open ones) and the daemon's timeline (which
 * replays a session into spans). Each thread keeps a stack of its open tasks:
 *  - an end on the thread where its task is open closes it, and every task still open
 *    inside it first (an implicit end: the caller counts it);
 *  - else, when the thread's stack overflowed, the end is taken to be one of the tasks the
 *    stack could not hold (the caller counts a drop);
 *  - else the task moved: it is closed on the first other thread where it is open;
 *  - else the end matches nothing (counted).
 */
#ifndef CP_NESTING_H
#define CP_NESTING_H

#include <stdint.h>

struct cp_nest_ops {
  /* The position of TASK_ID in THREAD's stack of open tasks (0 = outermost; the innermost
   * of equal ids), or -1 when it is not open there. */
  int (*find)(void *ctx, void *thread, uint64_t task_id);
  /* The thread after THREAD (NULL: the first), NULL after the last. */
  void *(*next)(void *ctx, void *thread);
  void *ctx;
};

enum cp_end_kind {
  CP_END_OWN,        /* closes thread's task at index, and those above it first */
  CP_END_OVERFLOW,   /* one of the tasks its thread's full stack did not hold */
  CP_END_MOVED,      /* closes another thread's task at index: the task moved */
  CP_END_UNMATCHED,  /* no open task has that id */
};

struct cp_end {
  enum cp_end_kind kind;
  void *thread;      /* whose stack holds the task (OWN, MOVED) */
  int index;         /* its position there */
};

/* Where the end of TASK_ID seen on thread OWN (NULL: a thread with no stack yet) belongs;
 * OVERFLOW is how many of OWN's begins its stack could not hold. */
struct cp_end cp_nest_end(const struct cp_nest_ops *ops, void *own, uint32_t overflow,
                          uint64_t task_id);

#endif
