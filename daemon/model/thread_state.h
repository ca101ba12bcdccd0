/*
 * thread_state.h: thread states from context-switch records: when each thread of a target ran,
 * waited for a CPU (preempted while runnable) or blocked (sleep, I/O, a lock), and from
 * them how a task's wall time split into CPU time, blocked time and scheduling delay.
 */
#ifndef CPD_THREAD_STATE_H
#define CPD_THREAD_STATE_H

#include <stddef.h>
#include <stdint.h>

enum cpd_thread_state { CPD_RUNNING = 0, CPD_RUNNABLE = 1, CPD_BLOCKED = 2 };

/* A thread entered STATE at TIME (CLOCK_MONOTONIC ns). */
struct cpd_sched_rec {
  uint64_t time;
  uint32_t tid;
  uint32_t state;
};

struct cpd_sched {
  struct cpd_sched_rec *recs;  /* in arrival order until cpd_sched_index() sorts them */
  size_t n, cap;
  int sorted;                  /* recs are ordered by (tid, time) */
  uint64_t dropped;            /* records not kept for want of memory */
};

struct cpd_sched_times {
  uint64_t cpu_ns, blocked_ns, delay_ns;
  uint32_t switches;           /* times it was switched out */
};

void cpd_sched_add(struct cpd_sched *s, uint64_t time, uint32_t tid, enum cpd_thread_state state);
/* Orders the records by thread and time for cpd_sched_span(). */
void cpd_sched_index(struct cpd_sched *s);
/*
 * How TID spent [BEGIN, END): in the state its last record before BEGIN put it in (running
 * when there is none: a task begins on a running thread), then each record in the
 * interval changes the state. Needs cpd_sched_index() first.
 */
void cpd_sched_span(const struct cpd_sched *s, uint32_t tid, uint64_t begin, uint64_t end,
                    struct cpd_sched_times *out);
/* The time of TID's last record before BEFORE, 0 when none. Needs cpd_sched_index() first. */
uint64_t cpd_sched_last(const struct cpd_sched *s, uint32_t tid, uint64_t before);
/*
 * How long TID stayed off the CPU after being switched out at TIME: until its next
 * RUNNING record, or LIMIT when none comes before it (then *STILL_OFF is set). Needs
 * cpd_sched_index() first.
 */
uint64_t cpd_sched_off(const struct cpd_sched *s, uint32_t tid, uint64_t time, uint64_t limit,
                       int *still_off);
/*
 * Calls FN for each stretch of TID's time in [BEGIN, END) in one state, in time order:
 * from BEGIN (in the state it was last put in, when known) or its first record, to each
 * next record. The state after its last record has no known end and is left out (a segment
 * written while the thread goes on draws it in the next one, from that record: a thread's
 * switch-out is recorded at its switch-in, maybe after the cut). Zero-length stretches are
 * skipped. Returns how many. Needs cpd_sched_index() first.
 */
size_t cpd_sched_slices(const struct cpd_sched *s, uint32_t tid, uint64_t begin, uint64_t end,
                        void (*fn)(void *arg, uint64_t from, uint64_t to,
                                   enum cpd_thread_state state),
                        void *arg);
/* Drops what came before CUT, keeping each thread's last state before it. */
void cpd_sched_cut(struct cpd_sched *s, uint64_t cut);
void cpd_sched_free(struct cpd_sched *s);

#endif
