/* bpf_offcpu.h: the optional BPF off-CPU helper (./configure --with-libbpf). */
#ifndef CPD_BPF_OFFCPU_H
#define CPD_BPF_OFFCPU_H

#include <stddef.h>
#include <stdint.h>

#include "model/profile.h"

/*
 * A CO-RE program at sched:sched_switch sums, in a kernel map, how long each thread of one
 * process stayed off the CPU by its stack at switch-out (frame pointers). Only distinct
 * stacks cross to the daemon, at each drain.
 * Without per-switch timestamps its samples carry no task: the per-task waits come from the
 * context-switch records as before (span args, state lanes, report --waits).
 */
struct cpd_bpf_offcpu;

/*
 * Loads and attaches the program for PID (ONLY_AFTER_EXEC: count from its next exec on;
 * KERNEL: kernel stacks too). Returns 0, or -errno with why in ERR (-ENOTSUP when built
 * without libbpf); the caller then falls back to perf events.
 */
int cpd_bpf_offcpu_open(struct cpd_bpf_offcpu **out, uint32_t pid, int only_after_exec,
                        int kernel, char *err, size_t errlen);
/* Moves the sums gathered since the last drain into P's off-CPU samples (time 0, period the
 * nanoseconds). Returns how many samples, or -errno. */
int cpd_bpf_offcpu_drain(struct cpd_bpf_offcpu *b, struct cpd_profile *p);
/* Off-CPU periods lost since the open: its maps were full, or the daemon out of memory. */
uint64_t cpd_bpf_offcpu_lost(const struct cpd_bpf_offcpu *b);
/* Periods left out because they began before the exec awaited (ONLY_AFTER_EXEC). */
uint64_t cpd_bpf_offcpu_before_exec(const struct cpd_bpf_offcpu *b);
void cpd_bpf_offcpu_close(struct cpd_bpf_offcpu *b);

#endif
