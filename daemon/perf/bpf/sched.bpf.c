/*
 * sched.bpf.c: the kernel side of per-CPU profiling (CO-RE: built once against vmlinux.h,
 * relocated to the running kernel). A filter on the per-CPU sampling events keeps the samples
 * of the profiled processes only; at each context switch of their threads a compact record
 * (switch-out, switch-in, state) goes to the daemon through a ring buffer, and off-CPU stacks
 * are sampled by time when a thread is back on the CPU.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "sched_bpf.h"

const volatile __u64 period_ns = 10101010;  /* the CPU sampling period */
const volatile __u32 kernel_stacks = 0;
const volatile __u32 follow_children = 0;
const volatile __u32 offcpu_stacks = 1;

/* Read by the loader (.bss is memory-mapped). */
__u64 lost_records = 0;   /* the ring buffer was full */
__u64 lost_offs = 0;      /* switch-outs not kept: the offs map was full */

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, CPD_BPF_MAX_PROCS);
  __type(key, __u32);     /* tgid */
  __type(value, __u32);   /* CPD_BPF_PROFILED or CPD_BPF_AWAIT_EXEC */
} procs SEC(".maps");

/* Each profiled thread's last switch-out, in the task itself: no hashing at every system call
 * and switch, and freed with the thread. */
struct {
  __uint(type, BPF_MAP_TYPE_TASK_STORAGE);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, int);
  __type(value, struct cpd_bpf_off);
} offs SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, CPD_BPF_RING_BYTES);
} events SEC(".maps");

struct task_struct___pre_5_14 {
  long state;
};

static __always_inline int profiled(__u32 tgid)
{
  __u32 *v = bpf_map_lookup_elem(&procs, &tgid);

  return v && *v == CPD_BPF_PROFILED;
}

static __always_inline long task_state(struct task_struct *t)
{
  if (bpf_core_field_exists(t->__state))
    return BPF_CORE_READ(t, __state);
  return BPF_CORE_READ((struct task_struct___pre_5_14 *)t, state);
}

/* The per-CPU sampling events' filter: 0 drops the sample before it is written. */
SEC("perf_event")
int sample_filter(void *ctx)
{
  return profiled((__u32)(bpf_get_current_pid_tgid() >> 32));
}

/*
 * Both halves of a switch: the thread going off (in its context) is noted with its state;
 * the thread coming back gets its switch record (off, on, state), and its off period stays
 * noted for on_resumed.
 */
SEC("tp_btf/sched_switch")
int BPF_PROG(on_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
  __u64 now = bpf_ktime_get_ns();
  struct cpd_bpf_switch *sw;
  struct cpd_bpf_off *o;

  if (prev->pid && profiled(prev->tgid)) {
    o = bpf_task_storage_get(&offs, prev, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
    if (o) {
      o->ts = now;
      o->back = 0;
      o->state = preempt || task_state(prev) == 0 /* TASK_RUNNING */ ? CPD_BPF_RUNNABLE
                                                                     : CPD_BPF_BLOCKED;
    } else {
      __sync_fetch_and_add(&lost_offs, 1);
    }
  }
  o = bpf_task_storage_get(&offs, next, 0, 0);
  if (!o || !o->ts || o->back)
    return 0;
  o->back = now;
  sw = bpf_ringbuf_reserve(&events, sizeof(*sw), 0);
  if (!sw) {
    __sync_fetch_and_add(&lost_records, 1);
    return 0;
  }
  sw->kind = CPD_BPF_SWITCH;
  sw->tid = next->pid;
  sw->pid = next->tgid;
  sw->state = o->state;
  sw->out = o->ts;
  sw->in = now;
  bpf_ringbuf_submit(sw, BPF_RB_NO_WAKEUP);
  return 0;
}

/*
 * A thread that blocked in a system call is back in user space, in its own context: its user
 * stack is the one it blocked in. (This kernel allows no fentry/kprobe at
 * finish_task_switch; blocking outside system calls, as in a page fault, has its switch
 * records but no stack.)
 */
SEC("tp_btf/sys_exit")
int BPF_PROG(on_resumed)
{
  struct task_struct *task = bpf_get_current_task_btf();
  struct cpd_bpf_off *o = bpf_task_storage_get(&offs, task, 0, 0);
  struct cpd_bpf_offcpu *st;
  __u64 off, out;
  long n;

  if (!o || !o->back)
    return 0;
  out = o->ts;
  off = o->back > out ? o->back - out : 0;
  o->ts = o->back = 0;  /* taken */
  if (o->state != CPD_BPF_BLOCKED || !offcpu_stacks)
    return 0;
  /* With probability min(1, off/P): a stack every P of off-CPU time on average. */
  if (off < period_ns && bpf_get_prandom_u32() % period_ns >= off)
    return 0;
  st = bpf_ringbuf_reserve(&events, sizeof(*st), 0);
  if (!st) {
    __sync_fetch_and_add(&lost_records, 1);
    return 0;
  }
  st->kind = CPD_BPF_OFFCPU;
  st->tid = task->pid;
  st->pid = task->tgid;
  st->out = out;
  st->weight = off > period_ns ? off : period_ns;
  st->pad = 0;
  n = bpf_get_stack(ctx, st->user, sizeof(st->user), BPF_F_USER_STACK);
  st->nuser = n > 0 ? (__u32)((__u64)n >> 3) : 0;
  st->nkernel = 0;
  if (kernel_stacks) {
    n = bpf_get_stack(ctx, st->kernel, sizeof(st->kernel), 0);
    st->nkernel = n > 0 ? (__u32)((__u64)n >> 3) : 0;
  }
  bpf_ringbuf_submit(st, BPF_RB_NO_WAKEUP);
  return 0;
}

static __always_inline void task_record(__u32 kind, __u32 pid, __u32 ppid)
{
  struct cpd_bpf_task *t = bpf_ringbuf_reserve(&events, sizeof(*t), 0);

  if (!t) {
    __sync_fetch_and_add(&lost_records, 1);
    return;
  }
  t->kind = kind;
  t->pid = pid;
  t->ppid = ppid;
  t->pad = 0;
  t->time = bpf_ktime_get_ns();
  bpf_ringbuf_submit(t, BPF_RB_NO_WAKEUP);
}

/* A new process of a profiled one is profiled from its first instruction. */
SEC("tp_btf/sched_process_fork")
int BPF_PROG(on_fork, struct task_struct *parent, struct task_struct *child)
{
  __u32 pid = child->tgid, ppid = parent->tgid, v = CPD_BPF_PROFILED;

  if (!follow_children || pid != child->pid || !profiled(ppid))
    return 0;
  if (bpf_map_update_elem(&procs, &pid, &v, BPF_NOEXIST) == 0)
    task_record(CPD_BPF_FORK, pid, ppid);
  return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(on_exec, struct task_struct *p)
{
  __u32 pid = p->tgid, v = CPD_BPF_PROFILED;
  __u32 *cur = bpf_map_lookup_elem(&procs, &pid);

  if (cur && *cur == CPD_BPF_AWAIT_EXEC)
    bpf_map_update_elem(&procs, &pid, &v, BPF_EXIST);
  return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(on_exit, struct task_struct *p)
{
  __u32 pid = p->tgid;

  if (p->pid != pid || !bpf_map_lookup_elem(&procs, &pid))
    return 0;
  bpf_map_delete_elem(&procs, &pid);
  task_record(CPD_BPF_EXIT, pid, 0);
  return 0;
}

char LICENSE[] SEC("license") = "GPL";
