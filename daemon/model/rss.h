/*
 * rss.h: a target's resident memory over time, read from /proc/PID/statm while it is
 * profiled: the trace's counter track and each task's change in resident memory.
 */
#ifndef CPD_RSS_H
#define CPD_RSS_H

#include <stddef.h>
#include <stdint.h>

/* Resident memory is read at most every 100 ms while sampling, when the records are
 * handled: more often wakes the daemon for little (bench/RESULTS.md has the cost). */
#define CPD_RSS_GAP_NS 100000000u

struct cpd_rss_rec {
  uint64_t time;   /* CLOCK_MONOTONIC ns */
  uint64_t bytes;  /* resident set size */
};

struct cpd_rss {
  struct cpd_rss_rec *recs;  /* by time */
  size_t n, cap;
  int fd;                    /* /proc/PID/statm, or -1 */
  uint64_t page_size;
  uint64_t failed;           /* readings that could not be made or kept */
};

/* Opens PID's statm (fd -1 when it cannot: then nothing is recorded). 0 or -errno. */
int cpd_rss_open(struct cpd_rss *r, uint32_t pid);
/* Reads the resident size now, stamped NOW_NS, unless the last reading is younger than
 * MIN_GAP_NS. A process that has exited gives nothing. */
void cpd_rss_poll(struct cpd_rss *r, uint64_t now_ns, uint64_t min_gap_ns);
/* The resident size at TIME: the last reading at or before it (*FOUND 0 when none). */
uint64_t cpd_rss_at(const struct cpd_rss *r, uint64_t time, int *found);
/*
 * The change in resident memory across [BEGIN, END): from the last reading at or before
 * BEGIN (the first reading when none) to the first at or after END (the last when none is
 * yet). 1 with *DELTA set, 0 when there are no readings.
 */
int cpd_rss_change(const struct cpd_rss *r, uint64_t begin, uint64_t end, int64_t *delta);
/* The two halves of cpd_rss_change(), for a span whose start is older than the readings
 * kept when its end comes: the reading its change is measured from (1, or 0 when none),
 * and the change from that value to the reading at or after END. */
int cpd_rss_begin_value(const struct cpd_rss *r, uint64_t begin, uint64_t *bytes);
int cpd_rss_change_since(const struct cpd_rss *r, uint64_t begin_bytes, uint64_t end,
                         int64_t *delta);
/* Drops the readings before CUT except the last one (the value at CUT). */
void cpd_rss_cut(struct cpd_rss *r, uint64_t cut);
void cpd_rss_close(struct cpd_rss *r);

#endif
