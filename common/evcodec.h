/*
 * evcodec.h: task events as they travel (protocol version 2): per thread, one EventRun of
 * packed arrays with delta-coded timestamps and task ids, built by libceoprof's flusher
 * and walked by ceoprofd without an allocation per event.
 */
#ifndef CP_EVCODEC_H
#define CP_EVCODEC_H

#include <stddef.h>
#include <stdint.h>

#include "ceoprof.pb-c.h"

#define CP_RUN_RESEND 8u   /* or'ed into a kind: a task still open, re-sent after a connect */

/* One event, decoded. */
struct cp_ev {
  uint64_t ts;       /* TSC ticks or CLOCK_MONOTONIC ns */
  uint64_t task_id;  /* BEGIN, END, FIELD */
  int64_t value;     /* COUNTER, FIELD */
  uint32_t tid;
  uint32_t name_id;  /* BEGIN, INSTANT, COUNTER, FIELD */
  uint8_t kind;      /* Ceoprof__Wire__EventKind */
  uint8_t resend;
};

/* The encoder's arrays, reused from frame to frame (zero-initialised before first use). */
struct cp_evenc {
  Ceoprof__Wire__EventRun *runs, **runp;
  uint32_t *kinds, *names;
  int64_t *ts, *tasks, *values;
  size_t runs_cap, ev_cap;
};

/*
 * Fills OUT with the N events of EV, one run per stretch of consecutive events of one
 * thread. OUT points into ENC until the next call. 0 or -ENOMEM.
 */
int cp__evenc_build(struct cp_evenc *enc, const struct cp_ev *ev, size_t n,
                    Ceoprof__Wire__EventRuns *out);
void cp__evenc_free(struct cp_evenc *enc);

/* Walks one received run. */
struct cp_evrun_iter {
  const Ceoprof__Wire__EventRun *run;
  size_t i, iname, itask, ivalue;
  uint64_t ts, task;
};

/* 0 when RUN's arrays hold what its kinds say they carry, else -EBADMSG (refuse the run). */
int cp__evrun_check(const Ceoprof__Wire__EventRun *run);
void cp__evrun_iter_init(struct cp_evrun_iter *it, const Ceoprof__Wire__EventRun *run);
/*
 * The next event of a checked run into *EV: 1, or 0 at its end. An unknown kind comes out
 * as it is (kind 0 or above EVENT_TASK_FIELD) carrying nothing, for the caller to count.
 */
int cp__evrun_next(struct cp_evrun_iter *it, struct cp_ev *ev);

#endif
