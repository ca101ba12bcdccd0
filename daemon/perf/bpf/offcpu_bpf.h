/* offcpu_bpf.h: the maps' keys and values shared by offcpu.bpf.c and its loader. */
#ifndef CPD_OFFCPU_BPF_H
#define CPD_OFFCPU_BPF_H

#define CPD_BPF_USER_DEPTH 127     /* user frames kept per stack (the kernel's maximum) */
#define CPD_BPF_KERNEL_DEPTH 32    /* kernel frames (schedule() back to the syscall) */
#define CPD_BPF_MAX_KEYS 16384     /* distinct (thread, stack) between two drains */
#define CPD_BPF_MAX_THREADS 16384  /* threads of the target off the CPU at once */

/*
 * Off-CPU time is summed by thread and the stack itself, not a stack map's id: ids are
 * hashes into a fixed table, and two stacks that collide lose one (-EEXIST) or, reused,
 * take each other's time. Unused frames are zero, so equal stacks are equal keys.
 */
struct cpd_bpf_key {
  __u32 tid;
  __u32 gen;       /* the target's exec count when it went off */
  __u32 nuser;     /* frames in user[] (0: none, as before a new thread reaches user mode) */
  __u32 nkernel;   /* frames in kernel[] */
  __u64 user[CPD_BPF_USER_DEPTH];
  __u64 kernel[CPD_BPF_KERNEL_DEPTH];
};

struct cpd_bpf_val {
  __u64 ns;        /* time off the CPU, switch-out to switch-in */
  __u64 switches;
};

/* A thread of the target now off the CPU: since when, and where. */
struct cpd_bpf_start {
  __u64 ts;        /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
  struct cpd_bpf_key key;
};

#endif
