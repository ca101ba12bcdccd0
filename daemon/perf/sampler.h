/*
 * sampler.h: sampling one process with perf_event_open. Where the daemon may open
 * system-wide events, one sampling event per CPU whose samples of other processes are
 * dropped (in the kernel by a BPF filter, else here), the threads' switches and off-CPU
 * stacks from BPF: nothing is added to the target's context switches. Else (an unprivileged
 * user) one event per CPU and thread, inherited by threads created later. One ring buffer
 * per CPU; the records read from them into a cpd_profile.
 */
#ifndef CPD_SAMPLER_H
#define CPD_SAMPLER_H

#include <stddef.h>
#include <stdint.h>

#include "perf/bpf_sched.h"
#include "perf/perf_record.h"
#include "model/profile.h"
#include "hindex.h"
#include "perf/reader.h"
#include "symbolize/unwind.h"

struct cpd_sampler_opts {
  int hz;             /* samples per second per thread */
  int kernel;         /* also sample kernel stacks */
  size_t ring_pages;  /* data pages per CPU ring (a power of two) */
  int enable_on_exec; /* the kernel enables the events when the target execs */
  int offcpu;         /* also sample the stack at every switch-out (sched:sched_switch) */
  int no_bpf;         /* no BPF: waits and off-CPU stacks from per-thread perf events */
  int per_thread;     /* per-thread events even where per-CPU ones may be opened */
  int waits;          /* without BPF, per-thread switch events for waits and off-CPU stacks */
  int follow_children; /* processes the target forks are profiled too */
  uint32_t dwarf_stack; /* 0: frame-pointer stacks; else DWARF unwinding over this many
                         * bytes of user stack copied per sample */
};

struct cpd_sampler_cpu {
  int fd;                     /* the event whose ring this CPU's events share, -1 when none */
  void *base;                 /* the mapping: metadata page + data */
  size_t len;
  struct cpd_perf_ring ring;
};

struct cpd_sampler {
  uint32_t pid;
  struct cpd_sampler_opts opts;
  int hz;                      /* the rate in force (clamped to the kernel's maximum) */
  const char *event;           /* "cycles" or "cpu-clock" */
  int per_cpu;                 /* one sampling event per CPU (pid -1), else per thread */
  int ncpu_events;             /* per-CPU sampling events open (CPUs online) */
  int thread_events;           /* per-thread events opened: sampling ones, or switch ones */
  int bpf_filter;              /* the per-CPU events' samples are filtered in the kernel */
  int await_exec;              /* per-CPU: the target's samples count from its next exec */
  char mode_note[256];         /* which events sample and why, for the summary and pprof */
  char waits_note[256];        /* where waits and off-CPU stacks come from, or why not */
  int period_is_ns;            /* cpu-clock periods are nanoseconds */
  uint64_t sample_type;
  int ncpus;
  struct cpd_sampler_cpu *cpus;
  int *fds;                    /* every event fd */
  size_t nfds, fds_cap;
  uint32_t *children;          /* processes followed besides pid (forked since the start) */
  size_t nchildren, children_cap;
  uint32_t *tids;              /* threads an event was opened for */
  size_t ntids, tids_cap;
  struct cpd_profile *prof;
  uint64_t samples;            /* samples read */
  /*
   * Which thread's events (opened for it, one per CPU, or inherited from them) each
   * thread's samples are taken from. A thread created while the events were being opened
   * may have inherited its creator's and got its own too; each family samples it in full,
   * so one family counts: the one opened last among those seen for the thread (see
   * family_counts in sampler.c). A sample's PERF_SAMPLE_ID names the event opened; owners
   * maps it to the thread it was opened for.
   */
  struct cpd_event_owner {
    uint64_t id;
    uint32_t tid;
    uint32_t offcpu;
    uint32_t seq;              /* the family's place in the order threads were opened */
  } *owners;                   /* by id */
  uint32_t open_seq;           /* threads opened so far */
  size_t nowners, owners_cap;
  struct cpd_tid_event { uint32_t tid; uint32_t owner; uint32_t seq; } *family;
  size_t family_cap, nfamily;
  struct cp_hindex family_index; /* family entries by tid */
  uint64_t duplicates;         /* samples of a thread from a second family, dropped */
  /* Off-CPU stacks: a sched:sched_switch tracepoint event per thread and CPU, its samples
   * (the stack of the thread being switched out) into the same rings. */
  long offcpu_tp;              /* the tracepoint's id, -1 when not sampled */
  char offcpu_warning[256];    /* why off-CPU stacks are not sampled */
  /* Or the BPF programs take switches and off-CPU stacks (sampled by time): */
  struct cpd_bpf_sched *bpf;
  uint64_t offcpu_period_ns;   /* BPF: off-CPU stacks sampled at about this period, else 0 */
  uint64_t bpf_records;        /* records read from the BPF ring buffer */
  uint64_t bpf_lost;           /* of the BPF side's losses, those already in the profile */
  struct cpd_reader reader;    /* the thread that copies the rings' records, in time order */
  struct cpd_perf_rec *rec;    /* the record being handled (large: frames, stack) */
  char warning[256];           /* set when the rate was clamped */
  char event_note[64];         /* why the event is cpu-clock, for the summary: said once */
  int kernel_time;             /* samples in kernel mode are taken (exclude_kernel off) */
  char kernel_note[96];        /* how kernel time is counted, for the summary and pprof */
  struct cpd_unwind unwind;    /* with opts.dwarf_stack */
};

/*
 * Opens disabled events for every thread of PID, reads its mappings and thread names,
 * then the caller enables. On failure writes advice into ERR and returns -errno.
 */
int cpd_sampler_open(struct cpd_sampler *s, uint32_t pid, const struct cpd_sampler_opts *o,
                     struct cpd_profile *prof, char *err, size_t errlen);
int cpd_sampler_enable(struct cpd_sampler *s);
/* Whether off-CPU stacks are taken (perf events or BPF). */
static inline int cpd_sampler_has_offcpu(const struct cpd_sampler *s)
{
  return s->offcpu_tp >= 0 || s->offcpu_period_ns != 0;
}
void cpd_sampler_disable(struct cpd_sampler *s);
/* Handles every record the reader queued, and what the rings hold now, in time order:
 * unwinding and symbolization happen here, on the caller's thread. Returns the records
 * handled. */
int cpd_sampler_read(struct cpd_sampler *s);
/* Readable when the reader has queued enough to be worth handling before the next cron:
 * for the event loop to watch (-1: none). */
int cpd_sampler_wake_fd(const struct cpd_sampler *s);
void cpd_sampler_close(struct cpd_sampler *s);

#define CPD_HZ_COSTLY 10000   /* rates above this are warned about */
#define CPD_MAX_CHILDREN 1024  /* processes followed at once besides the target */

/* Whether PID is the target or a child followed. */
int cpd_sampler_follows(const struct cpd_sampler *s, uint32_t pid);

/* Hands one ring record to the profile (exposed for tests). */
void cpd_sampler_record(struct cpd_sampler *s, const struct perf_event_header *h, size_t len);
/* Hands one record of the BPF ring buffer (sched_bpf.h) to the profile. */
void cpd_sampler_bpf_record(void *arg, const void *rec, size_t len);

#endif
