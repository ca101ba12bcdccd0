/* summary.h: the short summary of a profile a user reads first (ceoprofd --pid, record). */
#ifndef CPD_SUMMARY_H
#define CPD_SUMMARY_H

#include "model/timeline.h"
#include "target/target.h"

/* Prints T's summary (to the engine's report stream): rate, samples, losses, threads, workers, tasks (TL's
 * spans), the hottest functions, the daemon's own cost, then the files written. */
void cpd_summary_print(const struct cpd_target *t, const struct cpd_timeline *tl);

#endif
