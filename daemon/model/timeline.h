/*
 * timeline.h: a session's task events put in time order and replayed into spans:
 * which task ran on which thread from when to when, plus instants and counters.
 * Built once both sides are known, so the order events arrived in never matters.
 */
#ifndef CPD_TIMELINE_H
#define CPD_TIMELINE_H

#include <stddef.h>
#include <stdint.h>

#include "model/session.h"

struct cpd_field {
  uint32_t key;   /* string id */
  int64_t value;
};

struct cpd_span {
  uint64_t begin, end;   /* CLOCK_MONOTONIC ns */
  uint64_t task_id;
  uint32_t name_id;
  uint32_t tid;          /* the thread it began on */
  uint32_t end_tid;      /* the thread it ended on (differs for a task that moved) */
  uint32_t depth;        /* nesting depth on tid when it began, 0 = outermost */
  size_t first_field;    /* its fields are fields[first_field .. first_field + nfields) */
  uint32_t nfields;
  uint8_t unfinished;    /* still open when the session ended */
  uint8_t has_span;      /* 0: no trace span, 1: its own (ceoprof_task_span), 2: inherited */
  uint32_t span_name_id; /* the name of the task that set the span */
  uint64_t trace_hi, trace_lo, span_id;  /* W3C trace context */
};

struct cpd_mark {        /* an instant or a counter sample */
  uint64_t ts;
  uint32_t tid;
  uint32_t name_id;
  int64_t value;
};

struct cpd_timeline_counts {
  uint64_t implicit_ends;     /* tasks closed because an outer task ended first */
  uint64_t unmatched_ends;    /* ends that matched no open task */
  uint64_t orphan_fields;     /* fields for no open task */
  uint64_t duplicate_resends; /* re-sent begins of tasks already known */
  uint64_t unfinished;        /* tasks still open at the end */
  uint64_t moved;             /* tasks that ended on another thread */
};

struct cpd_timeline {
  struct cpd_span *spans;     /* sorted by (tid, begin, end descending) */
  size_t nspans;
  struct cpd_field *fields;
  size_t nfields;
  struct cpd_mark *instants;  /* sorted by (tid, ts) */
  size_t ninstants;
  struct cpd_mark *counters;  /* sorted by (name, ts) */
  size_t ncounters;
  uint64_t first_ns, last_ns; /* the range of all timestamps, 0 when empty */
  struct cpd_timeline_counts counts;
};

/* Builds the timeline of S, closing open tasks at END_NS. 0 or -ENOMEM. */
int cpd_timeline_build(struct cpd_timeline *tl, const struct cpd_session *s, uint64_t end_ns);
/* The same for the events before CUT_NS only, closing open tasks (unfinished) at CUT_NS. */
int cpd_timeline_build_until(struct cpd_timeline *tl, const struct cpd_session *s, uint64_t cut_ns);
void cpd_timeline_free(struct cpd_timeline *tl);
/* The innermost span open on TID at TS, or NULL. */
const struct cpd_span *cpd_timeline_task_at(const struct cpd_timeline *tl, uint32_t tid, uint64_t ts);

/*
 * Cuts S at CUT_NS: the events before it, already written with TL (its timeline up to the
 * cut), are removed; each task still open at the cut is begun again with its fields, so
 * what follows starts where this ended. At a window boundary (SEGMENT 0) it begins again
 * at CUT_NS, the start of the next window's file; at a segment boundary inside one file
 * (SEGMENT 1) at its own begin time, so that it is written once, whole, when it ends.
 * 0 or -ENOMEM (S is unchanged then).
 */
int cpd_session_cut(struct cpd_session *s, const struct cpd_timeline *tl, uint64_t cut_ns,
                    int segment);

#endif
