/* offcpu.bpf.c: off-CPU time of one process by thread and stack, summed in a kernel map at
 * sched_switch (CO-RE: built once against vmlinux.h, relocated to the running kernel). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "offcpu_bpf.h"

const volatile __u32 target_tgid = 0;    /* set before load */
const volatile __u32 kernel_stacks = 0;

/* Read by the loader (.bss is memory-mapped). */
__u32 gen = 0;          /* the target's execs so far: older stacks are of another image */
__u64 lost_starts = 0;  /* switch-outs not recorded: the starts map was full */
__u64 lost_keys = 0;    /* off-CPU periods not summed: the sums map was full */

/* Where a start is put together (too large for the BPF stack). */
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct cpd_bpf_start);
} scratch SEC(".maps");

/* Not preallocated: entries are kilobytes, and few of them are in use at once. */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, CPD_BPF_MAX_THREADS);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, __u32);
  __type(value, struct cpd_bpf_start);
} starts SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, CPD_BPF_MAX_KEYS);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, struct cpd_bpf_key);
  __type(value, struct cpd_bpf_val);
} sums SEC(".maps");

static void switch_out(struct trace_event_raw_sched_switch *ctx, __u32 tid, __u64 now)
{
  __u32 zero = 0;
  struct cpd_bpf_start *s = bpf_map_lookup_elem(&scratch, &zero);
  long n;

  if (!s)
    return;
  s->ts = now;
  s->key.tid = tid;
  s->key.gen = gen;
  /* bpf_get_stack() zeroes what it does not fill (all of it on failure); without kernel
   * stacks kernel[] stays as the map was created, zero. */
  n = bpf_get_stack(ctx, s->key.user, sizeof(s->key.user), BPF_F_USER_STACK);
  s->key.nuser = n > 0 ? (__u32)((__u64)n >> 3) : 0;
  if (kernel_stacks) {
    n = bpf_get_stack(ctx, s->key.kernel, sizeof(s->key.kernel), 0);
    s->key.nkernel = n > 0 ? (__u32)((__u64)n >> 3) : 0;
  }
  if (bpf_map_update_elem(&starts, &tid, s, BPF_ANY))
    __sync_fetch_and_add(&lost_starts, 1);
}

static void switch_in(__u32 tid, __u64 now)
{
  struct cpd_bpf_start *st = bpf_map_lookup_elem(&starts, &tid);
  struct cpd_bpf_val first = { .switches = 1 }, *v;

  if (!st)
    return;
  if (st->key.gen != gen)
    goto done;  /* it went off in the image before an exec */
  first.ns = now - st->ts;
  v = bpf_map_lookup_elem(&sums, &st->key);
  if (!v && bpf_map_update_elem(&sums, &st->key, &first, BPF_NOEXIST) == 0)
    goto done;
  if (!v)
    v = bpf_map_lookup_elem(&sums, &st->key);  /* another CPU added it first */
  if (v) {
    __sync_fetch_and_add(&v->ns, first.ns);
    __sync_fetch_and_add(&v->switches, 1);
  } else {
    __sync_fetch_and_add(&lost_keys, 1);
  }
done:
  bpf_map_delete_elem(&starts, &tid);
}

SEC("tp/sched/sched_switch")
int on_switch(struct trace_event_raw_sched_switch *ctx)
{
  __u64 now = bpf_ktime_get_ns();
  __u32 prev = (__u32)ctx->prev_pid, next = (__u32)ctx->next_pid;

  /* The tracepoint fires in the thread going off the CPU: its stacks are the current ones. */
  if (prev && (__u32)(bpf_get_current_pid_tgid() >> 32) == target_tgid)
    switch_out(ctx, prev, now);
  if (next)
    switch_in(next, now);
  return 0;
}

SEC("tp/sched/sched_process_exec")
int on_exec(void *ctx)
{
  if ((__u32)(bpf_get_current_pid_tgid() >> 32) == target_tgid)
    __sync_fetch_and_add(&gen, 1);
  return 0;
}

char LICENSE[] SEC("license") = "GPL";
