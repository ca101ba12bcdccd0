/*
 * records.c: where a perf record meets the profile: samples of the one event family each
 * thread counts, DWARF frames unwound, off-CPU stacks, mappings, thread names, execs,
 * context switches and losses.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "hindex.h"
#include "perf/sampler.h"
#include <linux/types.h>
#include "perf/bpf/sched_bpf.h"
#include "util.h"

static int owner_before(const void *elem, const void *key)
{
  return ((const struct cpd_event_owner *)elem)->id < *(const uint64_t *)key;
}

static const struct cpd_event_owner *owner_of(const struct cpd_sampler *s, uint64_t id)
{
  size_t i = cp_lower_bound(s->owners, s->nowners, sizeof(*s->owners), &id, owner_before);

  return i < s->nowners && s->owners[i].id == id ? &s->owners[i] : NULL;
}

static uint64_t family_hash(const void *ctx, uint32_t idx)
{
  return cp_hash_u64(((const struct cpd_sampler *)ctx)->family[idx].tid);
}

static int family_eq(const void *ctx, uint32_t idx, const void *key)
{
  return ((const struct cpd_sampler *)ctx)->family[idx].tid == *(const uint32_t *)key;
}

/*
 * Whether a record of TID from the event EVENT counts. A thread created while its creator's
 * events were being opened inherits those already open (on some CPUs only, when the clone
 * fell between two CPUs' opens) and later gets its own on every CPU; a thread created after
 * the opening may inherit two families (its creator's own, and what the creator inherited).
 * Both sample it. The family counted is the one opened last among those seen for the
 * thread: from its first record on, the older one's records are duplicates. (Counting the
 * first family seen would lose a thread's samples on every CPU a partial family does not
 * cover.) Unknown events and no memory: it counts.
 */
static int family_counts(struct cpd_sampler *s, uint32_t tid, uint64_t event)
{
  const struct cpd_event_owner *o = owner_of(s, event);
  uint32_t owner = o ? o->tid : 0;
  struct cpd_tid_event *e;
  int64_t at;

  if (tid == 0 || owner == 0)
    return 1;
  at = cp_hindex_find(&s->family_index, cp_hash_u64(tid), family_eq, s, &tid);
  if (at < 0) {
    if (cpd_grow(&s->family, &s->family_cap, s->nfamily, sizeof(*s->family)) < 0 ||
        cp_hindex_insert(&s->family_index, cp_hash_u64(tid), (uint32_t)s->nfamily,
                         family_hash, s) < 0)
      return 1;
    s->family[s->nfamily++] = (struct cpd_tid_event){ tid, owner, o->seq };
    return 1;
  }
  e = &s->family[at];
  if (e->owner == owner)
    return 1;
  if (o->seq > e->seq) {
    e->owner = owner;
    e->seq = o->seq;
    return 1;
  }
  return 0;
}

/* A thread has exited: its tid may come back as a thread of another family. */
static void family_forget(struct cpd_sampler *s, uint32_t tid)
{
  int64_t at = tid ? cp_hindex_find(&s->family_index, cp_hash_u64(tid), family_eq, s, &tid) : -1;
  size_t last = s->nfamily - 1;

  if (at < 0)
    return;
  cp_hindex_remove(&s->family_index, cp_hash_u64(tid), (uint32_t)at, family_hash, s);
  if ((size_t)at != last) {  /* the last entry fills the hole */
    s->family[at] = s->family[last];
    cp_hindex_move(&s->family_index, cp_hash_u64(s->family[at].tid), (uint32_t)last,
                   (uint32_t)at);
  }
  s->nfamily--;
}

/* The user frames of a DWARF-mode sample, unwound from its registers and stack, after
 * its kernel frames (the callchain holds only those). */
static void dwarf_frames(struct cpd_sampler *s, struct cpd_perf_rec *r)
{
  uint32_t k = r->u.sample.nkernel;
  struct cpd_unwind_space space;
  int truncated;

  cpd_profile_unwind_space(s->prof, &space);
  k += cpd_unwind_sample(&s->unwind, &space, r->u.sample.regs, r->u.sample.stack,
                         r->u.sample.stack_len, r->u.sample.frames + k, CPD_MAX_FRAMES - k,
                         &truncated);
  r->u.sample.nframes = k;
  r->u.sample.truncated |= truncated;
}

/* A sample taken in the kernel without its kernel frames: a [kernel] leaf stands for them, so
 * the time lands under the user frame that made the system call. */
static void kernel_leaf(struct cpd_perf_rec *r)
{
  uint32_t n = r->u.sample.nframes < CPD_MAX_FRAMES ? r->u.sample.nframes
                                                    : CPD_MAX_FRAMES - 1;

  if (n < r->u.sample.nframes)
    r->u.sample.truncated = 1;
  memmove(r->u.sample.frames + 1, r->u.sample.frames, n * sizeof(r->u.sample.frames[0]));
  r->u.sample.frames[0] = CPD_KERNEL_LEAF;
  r->u.sample.nframes = n + 1;
  r->u.sample.nkernel = 1;
}

int cpd_sampler_follows(const struct cpd_sampler *s, uint32_t pid)
{
  if (pid == s->pid)
    return 1;
  for (size_t i = 0; i < s->nchildren; i++)
    if (s->children[i] == pid)
      return 1;
  return 0;
}

/* PPID forked PID: a new process followed (when children are), its space a copy of its
 * parent's. */
static void follow_fork(struct cpd_sampler *s, uint32_t ppid, uint32_t pid)
{
  if (!s->opts.follow_children || cpd_sampler_follows(s, pid))
    return;
  if (s->nchildren >= CPD_MAX_CHILDREN ||
      cpd_grow(&s->children, &s->children_cap, s->nchildren, sizeof(*s->children)) < 0 ||
      cpd_profile_fork(s->prof, ppid, pid) < 0) {
    s->prof->not_followed++;
    return;
  }
  s->children[s->nchildren++] = pid;
}

/* A followed process ended: its pid may come back as another's. */
static void unfollow(struct cpd_sampler *s, uint32_t pid)
{
  for (size_t i = 0; i < s->nchildren; i++)
    if (s->children[i] == pid) {
      s->children[i] = s->children[--s->nchildren];
      return;
    }
}

void cpd_sampler_record(struct cpd_sampler *s, const struct perf_event_header *h, size_t len)
{
  struct cpd_perf_rec *rp = s->rec;  /* large (frames): the sampler's, not on the stack */
  struct cpd_profile *p = s->prof;
  int rc = cpd_perf_parse(h, len, s->sample_type, rp);

  if (rc == -ENOTSUP)
    return;
  if (rc < 0) {
    p->bad_records++;
    return;
  }
  switch (rp->type) {
  case PERF_RECORD_SAMPLE:
    if (!cpd_sampler_follows(s, rp->id.pid)) {
      p->other_pid++;
      break;
    }
    if (rp->id.tid == UINT32_MAX) {
      /* Per-CPU events sample a thread on its way out after the kernel let go of its tid:
       * no thread to put it on. Counted. */
      p->exiting_samples++;
      break;
    }
    if (s->per_cpu && s->await_exec) {
      p->before_exec++;  /* the command has not started yet: perf leaves it out too */
      break;
    }
    if (!family_counts(s, rp->id.tid, rp->id.event)) {
      s->duplicates++;
      break;
    }
    cpd_profile_select(p, rp->id.pid);  /* its addresses are of its process */
    {
      const struct cpd_event_owner *o = owner_of(s, rp->id.event);

      if (s->opts.dwarf_stack && rp->u.sample.regs_abi)
        dwarf_frames(s, rp);
      if (o && o->offcpu) {
        cpd_profile_add_offcpu(p, rp->id.time, rp->id.tid, rp->u.sample.frames, rp->u.sample.nframes,
                               rp->u.sample.nkernel, rp->u.sample.truncated);
        break;
      }
    }
    if (!s->opts.kernel && rp->u.sample.nkernel == 0 &&
        (rp->misc & PERF_RECORD_MISC_CPUMODE_MASK) == PERF_RECORD_MISC_KERNEL)
      kernel_leaf(rp);
    s->samples++;
    cpd_profile_add_sample(p, rp->id.time, rp->id.tid,
                           s->period_is_ns ? rp->u.sample.period : 1000000000ull / (uint64_t)s->hz,
                           rp->u.sample.frames, rp->u.sample.nframes, rp->u.sample.nkernel,
                           rp->u.sample.truncated);
    break;
  case PERF_RECORD_MMAP2:
  case PERF_RECORD_MMAP:
    if (cpd_sampler_follows(s, rp->id.pid) &&
        (rp->type == PERF_RECORD_MMAP || (rp->u.mmap.prot & 4 /* PROT_EXEC */)) &&
        cpd_profile_select(p, rp->id.pid) == 0)
      cpd_profile_add_mapping(p, rp->u.mmap.addr, rp->u.mmap.len, rp->u.mmap.pgoff, rp->u.mmap.filename);
    break;
  case PERF_RECORD_COMM:
    if (!cpd_sampler_follows(s, rp->id.pid))
      break;
    if (rp->u.comm.comm)
      cpd_profile_set_comm(p, rp->id.pid, rp->id.tid, rp->u.comm.comm);
    if ((rp->misc & PERF_RECORD_MISC_COMM_EXEC) && cpd_profile_select(p, rp->id.pid) == 0) {
      cpd_profile_exec(p);  /* a new program image: the old mappings are gone */
      if (rp->id.pid == s->pid)
        s->await_exec = 0;
    }
    break;
  case PERF_RECORD_FORK:
    if (rp->u.task.pid != rp->u.task.ppid && rp->u.task.pid == rp->u.task.tid &&
        cpd_sampler_follows(s, rp->u.task.ppid))
      follow_fork(s, rp->u.task.ppid, rp->u.task.pid);  /* a new process */
    if (cpd_sampler_follows(s, rp->u.task.pid)) {
      const char *parent = cpd_profile_comm(p, rp->u.task.ptid);

      /* A new thread starts with its creator's name, unless it was renamed already. The
       * name is copied first: adding the thread may move the table it points into. */
      if (parent && !cpd_profile_comm(p, rp->u.task.tid)) {
        char comm[sizeof(p->threads[0].comm)];

        snprintf(comm, sizeof(comm), "%s", parent);
        cpd_profile_set_comm(p, rp->u.task.pid, rp->u.task.tid, comm);
      }
    }
    break;
  case PERF_RECORD_EXIT:
    if (cpd_sampler_follows(s, rp->u.task.pid))
      family_forget(s, rp->u.task.tid);
    if (rp->u.task.pid == rp->u.task.tid && rp->u.task.pid != s->pid)
      unfollow(s, rp->u.task.pid);
    break;
  case PERF_RECORD_LOST:
    p->lost_records += rp->u.lost.lost;
    break;
  case PERF_RECORD_LOST_SAMPLES:
    p->lost_samples += rp->u.lost.lost;
    break;
  case PERF_RECORD_SWITCH:
    if (cpd_sampler_follows(s, rp->id.pid) && family_counts(s, rp->id.tid, rp->id.event)) {
      p->switches++;
      if (!(rp->misc & PERF_RECORD_MISC_SWITCH_OUT))
        cpd_sched_add(&p->sched, rp->id.time, rp->id.tid, CPD_RUNNING);
      else
        cpd_sched_add(&p->sched, rp->id.time, rp->id.tid,
                      (rp->misc & PERF_RECORD_MISC_SWITCH_OUT_PREEMPT) ? CPD_RUNNABLE : CPD_BLOCKED);
    }
    break;
  default:
    break;
  }
}

void cpd_sampler_bpf_record(void *arg, const void *rec, size_t len)
{
  static uint64_t frames[CPD_BPF_KERNEL_DEPTH + CPD_BPF_USER_DEPTH];  /* the loop's thread */
  struct cpd_sampler *s = arg;
  struct cpd_profile *p = s->prof;
  uint32_t kind;

  s->bpf_records++;
  if (len < sizeof(kind))
    return;
  memcpy(&kind, rec, sizeof(kind));
  if (kind == CPD_BPF_SWITCH && len >= sizeof(struct cpd_bpf_switch)) {
    const struct cpd_bpf_switch *sw = rec;

    if (!cpd_sampler_follows(s, sw->pid))
      return;
    p->switches++;
    cpd_sched_add(&p->sched, sw->out, sw->tid,
                  sw->state == CPD_BPF_RUNNABLE ? CPD_RUNNABLE : CPD_BLOCKED);
    cpd_sched_add(&p->sched, sw->in, sw->tid, CPD_RUNNING);
  } else if (kind == CPD_BPF_OFFCPU && len >= sizeof(struct cpd_bpf_offcpu)) {
    const struct cpd_bpf_offcpu *o = rec;
    uint32_t nk = o->nkernel < CPD_BPF_KERNEL_DEPTH ? o->nkernel : CPD_BPF_KERNEL_DEPTH;
    uint32_t nu = o->nuser < CPD_BPF_USER_DEPTH ? o->nuser : CPD_BPF_USER_DEPTH;

    if (!cpd_sampler_follows(s, o->pid) || cpd_profile_select(p, o->pid) < 0)
      return;
    /* As perf gives them: kernel frames first, the leaf first in each part. */
    memcpy(frames, o->kernel, nk * sizeof(*frames));
    memcpy(frames + nk, o->user, nu * sizeof(*frames));
    cpd_profile_add_offcpu_ns(p, o->out, o->tid, o->weight, frames, nk + nu, nk,
                              nu == CPD_BPF_USER_DEPTH /* as deep as kept: likely cut */,
                              "[no user stack]");
  } else if (kind != CPD_BPF_FORK && kind != CPD_BPF_EXIT) {
    p->bad_records++;  /* forks and exits come from the perf rings' records too */
  }
}

static void handle(void *arg, const struct perf_event_header *h, size_t len)
{
  cpd_sampler_record(arg, h, len);
}

int cpd_sampler_read(struct cpd_sampler *s)
{
  int n;

#ifdef HAVE_LIBBPF
  if (s->bpf) {
    uint64_t lost;

    cpd_bpf_sched_poll(s->bpf);
    /* What the kernel side could not queue counts with the window it belongs to. */
    lost = cpd_bpf_sched_lost(s->bpf);
    s->prof->lost_records += lost - s->bpf_lost;
    s->bpf_lost = lost;
  }
#endif
  n = cpd_reader_take(&s->reader, handle, s);

  if (n < 0)
    s->prof->bad_records++;
  return n;
}

