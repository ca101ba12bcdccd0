/*
 * budget.h: one memory budget for the whole daemon. What every session's events and every
 * connection's partial frames hold is taken from it; past its limit new data is refused
 * and counted, and the daemon is never the one the OOM killer picks.
 */
#ifndef CPD_BUDGET_H
#define CPD_BUDGET_H

#include <stdint.h>

struct cpd_budget {
  uint64_t limit;      /* bytes; 0: no limit */
  uint64_t used;       /* bytes held now */
  uint64_t peak;       /* the most held at once */
  uint64_t refusals;   /* times data was refused for it */
  uint64_t logged_ms;  /* when a refusal was last said in the log */
};

/* The default limit: an eighth of the machine's memory, between 64 MiB and 2 GiB. */
uint64_t cpd_budget_default(void);
/* Takes N more bytes when they fit under the limit: 0, or -ENOMEM (counted, said in the log
 * at most every 10 s, naming WHAT was refused). B may be NULL: no budget. */
int cpd_budget_take(struct cpd_budget *b, uint64_t n, const char *what);
/* Gives N bytes back. */
void cpd_budget_give(struct cpd_budget *b, uint64_t n);

#endif
