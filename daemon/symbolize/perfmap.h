/*
 * perfmap.h: names for JIT-compiled code from the process's /tmp/perf-PID.map, the text
 * file JITs (V8, the JVM with perf-map-agent, LuaJIT, .NET, ...) write for perf: one
 * "START SIZE NAME" line per function, START and SIZE in hex.
 */
#ifndef CPD_PERFMAP_H
#define CPD_PERFMAP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "symbolize/symbols.h"

struct cpd_perfmap {
  uint32_t pid;             /* as the daemon sees it; 0 until cpd_perfmap_lookup first runs */
  uint32_t nspid;           /* as the process sees itself: the file is named with this one */
  uid_t uid;                /* the process's owner: the file must be its (or root's) */
  struct cpd_sym *syms;     /* sorted by addr; a later line for the same start wins */
  size_t nsyms;
  char **blocks;            /* every name buffer read: functions keep pointing into them */
  size_t nblocks, blocks_cap;
  off_t size;               /* of the file when last read, -1 when it did not exist */
  uint64_t checked_ms;      /* when the file was last looked at */
  uint64_t lines_bad;       /* lines that did not parse, skipped */
};

/*
 * The JIT symbol covering ADDR in process PID's perf map, or NULL. The file is read on first
 * use and again after a miss when it has grown (at most every 100 ms).
 */
const struct cpd_sym *cpd_perfmap_lookup(struct cpd_perfmap *m, uint32_t pid, uint64_t addr);
/* Parses perf-map text (tests, fuzzing): replaces M's symbols. 0 or -ENOMEM. */
int cpd_perfmap_parse(struct cpd_perfmap *m, const char *text, size_t len);
void cpd_perfmap_free(struct cpd_perfmap *m);

#endif
