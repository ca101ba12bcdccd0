/*
 * pprof_fold.h: bounding a pprof's label cardinality before it is pushed to Pyroscope, where
 * every distinct set of string labels is a series (5,000 active per tenant by default).
 */
#ifndef CPC_PPROF_FOLD_H
#define CPC_PPROF_FOLD_H

#include <stdint.h>

#include "profile.pb-c.h"

struct cpc_fold_stats {
  uint32_t labels;      /* label names that had more values than the limit */
  uint64_t values;      /* distinct values folded into "other" */
};

/*
 * For each string label (but span_id, trace_id and profile_id, which Pyroscope keeps per
 * sample) with more than LIMIT distinct values, keeps the LIMIT - 1 values that weigh most
 * (by the last sample value) and relabels the rest "other". Numeric labels are left alone
 * (Pyroscope does not make series of them). 0 or -ENOMEM; ST counts what was folded.
 */
int cpc_pprof_fold(Perftools__Profiles__Profile *p, uint32_t limit, struct cpc_fold_stats *st);

#endif
