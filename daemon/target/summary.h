/* summary.h: the short summary of a profile a user reads first (ceoprofd --pid, record). */
#ifndef CPD_SUMMARY_H
#define CPD_SUMMARY_H

#include <stdio.h>

#include "target/target.h"

/* One line: the daemon's CPU while recording (per sample, or per task event without
 * samples) and writing, and its peak RSS. */
void cpd_summary_cost(FILE *out, const struct cpd_target *t);
/*
 * Writes T's summary to OUT: rate, samples, losses, threads, workers, tasks written, the
 * hottest functions (from the window's sums), with OWN_COST this process's CPU and memory
 * (a --pid run's, not a service's), then the files written.
 */
void cpd_summary_write(FILE *out, const struct cpd_target *t, int own_cost);
/* The same as a string for the requester's Done (malloc'd; NULL when out of memory). */
char *cpd_summary_text(const struct cpd_target *t);

#endif
