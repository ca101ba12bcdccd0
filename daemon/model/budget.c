/* budget.c: the daemon's one memory budget: taking, giving back, refusing. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <unistd.h>

#include "log.h"
#include "model/budget.h"
#include "util.h"

#define REFUSAL_LOG_MS 10000u

uint64_t cpd_budget_default(void)
{
  long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
  uint64_t total = pages > 0 && size > 0 ? (uint64_t)pages * (uint64_t)size : 0, b = total / 8;

  if (b < (64ull << 20))
    b = 64ull << 20;
  if (b > (2048ull << 20))
    b = 2048ull << 20;
  return b;
}

int cpd_budget_take(struct cpd_budget *b, uint64_t n, const char *what)
{
  uint64_t now;

  if (!b)
    return 0;
  if (!b->limit || b->used + n <= b->limit) {
    b->used += n;
    if (b->used > b->peak)
      b->peak = b->used;
    return 0;
  }
  b->refusals++;
  now = cpd_now_ms();
  if (!b->logged_ms || now - b->logged_ms >= REFUSAL_LOG_MS) {
    b->logged_ms = now;
    cpd_log("over the memory budget (%" PRIu64 " of %" PRIu64 " MiB held): %s refused and "
            "counted (%" PRIu64 " refusals so far; --max-memory-mb)", b->used >> 20,
            b->limit >> 20, what, b->refusals);
  }
  return -ENOMEM;
}

void cpd_budget_give(struct cpd_budget *b, uint64_t n)
{
  if (b)
    b->used = n < b->used ? b->used - n : 0;
}
