/* rss.c: a target's resident memory over time, read from /proc/PID/statm. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hindex.h"
#include "model/rss.h"
#include "util.h"

int cpd_rss_open(struct cpd_rss *r, uint32_t pid)
{
  char path[64];
  long ps = sysconf(_SC_PAGESIZE);

  memset(r, 0, sizeof(*r));
  r->page_size = ps > 0 ? (uint64_t)ps : 4096;
  snprintf(path, sizeof(path), "/proc/%" PRIu32 "/statm", pid);
  r->fd = open(path, O_RDONLY | O_CLOEXEC);
  return r->fd < 0 ? -errno : 0;
}

void cpd_rss_poll(struct cpd_rss *r, uint64_t now_ns, uint64_t min_gap_ns)
{
  char buf[128], *end, *end2;
  unsigned long long size, resident;
  ssize_t n;

  if (r->fd < 0 || (r->n && now_ns - r->recs[r->n - 1].time < min_gap_ns))
    return;
  n = pread(r->fd, buf, sizeof(buf) - 1, 0);
  if (n <= 0) {
    if (n < 0 && errno != ESRCH)
      r->failed++;
    return;  /* gone: its last value stands */
  }
  buf[n] = '\0';
  size = strtoull(buf, &end, 10);
  resident = strtoull(end, &end2, 10);
  if (end == buf || end2 == end) {
    r->failed++;
    return;
  }
  if (size == 0)
    return;  /* exited, not yet reaped: no memory to report */
  if (cpd_grow(&r->recs, &r->cap, r->n, sizeof(*r->recs)) < 0) {
    r->failed++;
    return;
  }
  r->recs[r->n].time = now_ns;
  r->recs[r->n].bytes = (uint64_t)resident * r->page_size;
  r->n++;
}

/* The index of the last reading at or before TIME, or n when there is none. */
static int reading_at_or_before(const void *elem, const void *key)
{
  return ((const struct cpd_rss_rec *)elem)->time <= *(const uint64_t *)key;
}

static size_t last_at(const struct cpd_rss *r, uint64_t time)
{
  size_t lo = cp_lower_bound(r->recs, r->n, sizeof(*r->recs), &time, reading_at_or_before);

  return lo ? lo - 1 : r->n;
}

uint64_t cpd_rss_at(const struct cpd_rss *r, uint64_t time, int *found)
{
  size_t i = last_at(r, time);

  *found = i < r->n;
  return *found ? r->recs[i].bytes : 0;
}

int cpd_rss_begin_value(const struct cpd_rss *r, uint64_t begin, uint64_t *bytes)
{
  size_t b;

  if (r->n == 0)
    return 0;
  b = last_at(r, begin);
  *bytes = r->recs[b == r->n ? 0 : b].bytes;
  return 1;
}

int cpd_rss_change_since(const struct cpd_rss *r, uint64_t begin_bytes, uint64_t end,
                         int64_t *delta)
{
  size_t e;

  if (r->n == 0)
    return 0;
  e = last_at(r, end);
  if (e == r->n)
    e = 0;
  else if (r->recs[e].time < end && e + 1 < r->n)
    e++;  /* the first reading at or after END */
  *delta = (int64_t)(r->recs[e].bytes - begin_bytes);
  return 1;
}

int cpd_rss_change(const struct cpd_rss *r, uint64_t begin, uint64_t end, int64_t *delta)
{
  uint64_t from;

  return cpd_rss_begin_value(r, begin, &from) && cpd_rss_change_since(r, from, end, delta);
}

void cpd_rss_cut(struct cpd_rss *r, uint64_t cut)
{
  size_t i = last_at(r, cut);

  if (i == r->n || i == 0)
    return;
  memmove(r->recs, r->recs + i, (r->n - i) * sizeof(*r->recs));
  r->n -= i;
}

void cpd_rss_close(struct cpd_rss *r)
{
  if (r->fd >= 0)
    close(r->fd);
  r->fd = -1;
  free(r->recs);
  r->recs = NULL;
  r->n = r->cap = 0;
}
