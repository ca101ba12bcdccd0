/*
 * bpf_sched.h: the BPF side of per-CPU profiling (./configure finds libbpf): a filter that
 * keeps the per-CPU sampling events' samples of the profiled processes, their threads'
 * context switches as compact records, off-CPU stacks sampled by time, and (when asked) the
 * processes they fork.
 */
#ifndef CPD_BPF_SCHED_H
#define CPD_BPF_SCHED_H

#include <stddef.h>
#include <stdint.h>

struct cpd_bpf_sched;

struct cpd_bpf_sched_opts {
  uint32_t pid;            /* the process profiled */
  int await_exec;          /* count it from its next exec on (ceoprof record) */
  int kernel;              /* kernel frames in off-CPU stacks */
  int follow_children;     /* processes it forks are profiled too */
  int offcpu;              /* sample off-CPU stacks */
  uint64_t period_ns;      /* the CPU sampling period: off-CPU stacks come at about its rate */
};

/* Called for each record (sched_bpf.h's structures, by their kind), on the caller's thread. */
typedef void (*cpd_bpf_sched_fn)(void *arg, const void *rec, size_t len);

/*
 * Loads and attaches the programs. 0, or -errno with why in ERR (-ENOTSUP when built without
 * libbpf): the caller falls back to perf events.
 */
int cpd_bpf_sched_open(struct cpd_bpf_sched **out, const struct cpd_bpf_sched_opts *o,
                       cpd_bpf_sched_fn fn, void *arg, char *err, size_t errlen);
/* The sampling events' filter program, for PERF_EVENT_IOC_SET_BPF. */
int cpd_bpf_sched_filter_fd(const struct cpd_bpf_sched *b);
/* Hands every record queued so far to FN. Returns how many, or -errno. */
int cpd_bpf_sched_poll(struct cpd_bpf_sched *b);
/* Records the kernel side could not queue (ring buffer full) or keep (map full). */
uint64_t cpd_bpf_sched_lost(const struct cpd_bpf_sched *b);
void cpd_bpf_sched_close(struct cpd_bpf_sched *b);

#endif
