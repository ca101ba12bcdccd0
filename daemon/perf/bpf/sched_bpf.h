/* sched_bpf.h: the records and map values shared by sched.bpf.c and its loader. */
#ifndef CPD_SCHED_BPF_H
#define CPD_SCHED_BPF_H

#define CPD_BPF_USER_DEPTH 127     /* user frames kept per off-CPU stack (the kernel's maximum) */
#define CPD_BPF_KERNEL_DEPTH 32    /* kernel frames (schedule() back to the system call) */
#define CPD_BPF_MAX_THREADS 65536  /* threads of the profiled processes off the CPU at once */
#define CPD_BPF_MAX_PROCS 4096     /* processes profiled at once */
#define CPD_BPF_RING_BYTES (16u << 20) /* 0.7 s of records at 600k switches/s */

/* A process's entry in the procs map. */
enum { CPD_BPF_PROFILED = 1, CPD_BPF_AWAIT_EXEC = 2 };

/* What a ring buffer record is. */
enum { CPD_BPF_SWITCH = 1, CPD_BPF_OFFCPU = 2, CPD_BPF_FORK = 3, CPD_BPF_EXIT = 4 };

/* Thread states at a switch-out (thread_state.h's values). */
enum { CPD_BPF_RUNNABLE = 1, CPD_BPF_BLOCKED = 2 };

/* A profiled thread off the CPU: since when, and why. */
struct cpd_bpf_off {
  __u64 ts;        /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
  __u64 back;      /* when it was switched in again, 0 while it is off */
  __u32 state;     /* CPD_BPF_RUNNABLE (preempted, yielded) or CPD_BPF_BLOCKED */
  __u32 pad;
};

/* A thread back on the CPU: one record per switch-out/switch-in pair. Records are submitted
 * without a wake-up (BPF_RB_NO_WAKEUP): the daemon reads the ring at least every 100 ms. */
struct cpd_bpf_switch {
  __u32 kind;      /* CPD_BPF_SWITCH */
  __u32 tid, pid;
  __u32 state;     /* what it was while off */
  __u64 out, in;
};

/*
 * An off-CPU stack, sampled: taken when a blocked thread is back (its stack is still the one
 * it blocked in) with probability min(1, off/P), weighted max(off, P), P the CPU sampling
 * period: an unbiased estimate of off-CPU time at about the CPU samples' rate.
 */
struct cpd_bpf_offcpu {
  __u32 kind;      /* CPD_BPF_OFFCPU */
  __u32 tid, pid;
  __u32 nuser, nkernel;
  __u32 pad;
  __u64 out;       /* when it went off */
  __u64 weight;    /* nanoseconds it stands for */
  __u64 kernel[CPD_BPF_KERNEL_DEPTH];
  __u64 user[CPD_BPF_USER_DEPTH];
};

/* A profiled process forked a new one (followed), or a profiled process ended. */
struct cpd_bpf_task {
  __u32 kind;      /* CPD_BPF_FORK or CPD_BPF_EXIT */
  __u32 pid, ppid;
  __u32 pad;
  __u64 time;
};

#endif
