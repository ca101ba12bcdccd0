/* sampler.c: perf events for one process: open, enable, read rings into the profile, close. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "hindex.h"
#include "perf/perf_event.h"
#include "log.h"
#include "perf/sampler.h"
#include "util.h"

/* What the reader may queue while the loop is busy: 64 MiB, about 200k off-CPU stacks. */
#define QUEUE_MAX ((size_t)64 << 20)

static int add_u32(uint32_t **v, size_t *n, size_t *cap, uint32_t x)
{
  if (cpd_grow(v, cap, *n, sizeof(**v)) < 0)
    return -ENOMEM;
  (*v)[(*n)++] = x;
  return 0;
}

static int add_fd(struct cpd_sampler *s, int fd)
{
  if (cpd_grow(&s->fds, &s->fds_cap, s->nfds, sizeof(*s->fds)) < 0)
    return -ENOMEM;
  s->fds[s->nfds++] = fd;
  return 0;
}

/* Notes which thread the event FD was opened for (its id comes with every sample). */
static int add_owner(struct cpd_sampler *s, int fd, uint32_t tid, int offcpu)
{
  uint64_t id;
  size_t i;

  if (ioctl(fd, PERF_EVENT_IOC_ID, &id) < 0)
    return 0;  /* no ids (before Linux 3.12): every sample counts */
  if (cpd_grow(&s->owners, &s->owners_cap, s->nowners, sizeof(*s->owners)) < 0)
    return -ENOMEM;
  for (i = s->nowners; i > 0 && s->owners[i - 1].id > id; i--)
    s->owners[i] = s->owners[i - 1];
  s->owners[i].id = id;
  s->owners[i].tid = tid;
  s->owners[i].offcpu = (uint32_t)offcpu;
  s->owners[i].seq = s->open_seq;
  s->nowners++;
  return 0;
}

/* The event ID was opened for, NULL when unknown. */
static int owner_before(const void *elem, const void *key)
{
  return ((const struct cpd_event_owner *)elem)->id < *(const uint64_t *)key;
}

static const struct cpd_event_owner *owner_of(const struct cpd_sampler *s, uint64_t id)
{
  size_t i = cp_lower_bound(s->owners, s->nowners, sizeof(*s->owners), &id, owner_before);

  return i < s->nowners && s->owners[i].id == id ? &s->owners[i] : NULL;
}

/* DWARF mode: the user registers and stack instead of the user callchain, as perf does. */
static void dwarf_attr(const struct cpd_sampler *s, struct perf_event_attr *a)
{
  if (!s->opts.dwarf_stack)
    return;
  a->sample_regs_user = CPD_REGS_USER_MASK;
  a->sample_stack_user = s->opts.dwarf_stack;
  a->exclude_callchain_user = 1;
}

/*
 * Enables an event as soon as its output goes to its CPU's ring (unless the kernel is to
 * enable it at the target's exec). Enabled only at the end, after the last thread's, the
 * events a thread inherits would still be off for a thread that starts and ends while
 * later threads' events are being opened: it would never be sampled.
 */
static void start_now(const struct cpd_sampler *s, int fd)
{
  if (!s->opts.enable_on_exec)
    ioctl(fd, PERF_EVENT_IOC_ENABLE, 0);
}

/* sched:sched_switch, sampled at every switch of the thread, with its user stack. */
static void fill_offcpu_attr(const struct cpd_sampler *s, struct perf_event_attr *a)
{
  memset(a, 0, sizeof(*a));
  a->size = sizeof(*a);
  a->type = PERF_TYPE_TRACEPOINT;
  a->config = (uint64_t)s->offcpu_tp;
  a->sample_period = 1;
  a->sample_type = s->sample_type;
  a->disabled = 1;
  a->enable_on_exec = s->opts.enable_on_exec != 0;
  a->inherit = 1;
  a->exclude_kernel = 0;   /* the tracepoint fires in the kernel */
  a->exclude_callchain_kernel = !s->opts.kernel;
  a->exclude_hv = 1;
  a->sample_id_all = 1;
  a->use_clockid = 1;
  a->clockid = CLOCK_MONOTONIC;
  dwarf_attr(s, a);
  a->watermark = 1;
  a->wakeup_watermark = (uint32_t)(s->opts.ring_pages * (size_t)sysconf(_SC_PAGESIZE) / 4);
}

/* The off-CPU event of TID on CPU C, into C's ring. Failing, off-CPU stacks are given up. */
static int open_offcpu(struct cpd_sampler *s, uint32_t tid, int cpu, struct cpd_sampler_cpu *c)
{
  struct perf_event_attr a;
  int fd, rc;

  if (s->offcpu_tp < 0)
    return 0;
  fill_offcpu_attr(s, &a);
  fd = cpd_perf_open(&a, (pid_t)tid, cpu, -1, 0);
  if (fd == -ESRCH)
    return -ESRCH;
  if (fd < 0) {
    snprintf(s->offcpu_warning, sizeof(s->offcpu_warning),
             "off-CPU stacks are not sampled: the sched:sched_switch tracepoint could not be "
             "opened (%s)", strerror(-fd));
    s->offcpu_tp = -1;
    return 0;
  }
  if ((rc = add_fd(s, fd)) < 0) {
    close(fd);
    return rc;
  }
  if (ioctl(fd, PERF_EVENT_IOC_SET_OUTPUT, c->fd) < 0)
    return -errno;
  if ((rc = add_owner(s, fd, tid, 1)) < 0)
    return rc;
  start_now(s, fd);
  return 0;
}

static void fill_attr(const struct cpd_sampler *s, struct perf_event_attr *a, int hardware)
{
  memset(a, 0, sizeof(*a));
  a->size = sizeof(*a);
  if (hardware) {
    a->type = PERF_TYPE_HARDWARE;
    a->config = PERF_COUNT_HW_CPU_CYCLES;
  } else {
    a->type = PERF_TYPE_SOFTWARE;
    a->config = PERF_COUNT_SW_CPU_CLOCK;
  }
  a->freq = 1;
  a->sample_freq = (uint64_t)s->hz;
  a->sample_type = s->sample_type;
  a->disabled = 1;
  a->enable_on_exec = s->opts.enable_on_exec != 0;
  a->inherit = 1;           /* threads created later are sampled too */
  a->exclude_kernel = !s->opts.kernel;
  a->exclude_callchain_kernel = !s->opts.kernel;
  a->exclude_hv = 1;
  a->mmap = 1;
  a->mmap2 = 1;
  a->comm = 1;
  a->comm_exec = 1;
  a->task = 1;
  a->context_switch = 1;
  a->sample_id_all = 1;
  a->use_clockid = 1;
  a->clockid = CLOCK_MONOTONIC; /* the clock libceoprof stamps events with */
  dwarf_attr(s, a);
  a->watermark = 1;
  a->wakeup_watermark = (uint32_t)(s->opts.ring_pages * (size_t)sysconf(_SC_PAGESIZE) / 4);
}

static int map_ring(struct cpd_sampler *s, struct cpd_sampler_cpu *c, int fd, char *err, size_t errlen)
{
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  struct cpd_perf_ring r;

  c->len = (1 + s->opts.ring_pages) * page;
  c->base = mmap(NULL, c->len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (c->base == MAP_FAILED) {
    int e = errno;

    c->base = NULL;
    cpd_perf_advice(e, "mmap", (pid_t)s->pid, err, errlen);
    return -e;
  }
  r.fd = fd;
  r.meta = c->base;
  r.data = (uint8_t *)c->base + page;
  r.data_size = s->opts.ring_pages * page;
  r.tmp = malloc(r.data_size);
  if (!r.tmp)
    return -ENOMEM;
  cpd_reader_hold(&s->reader);  /* the reader may be looking at the rings */
  c->ring = r;
  cpd_reader_release(&s->reader);
  c->fd = fd;
  return 0;
}

/* Opens the events of one thread on every CPU. */
static int open_thread(struct cpd_sampler *s, uint32_t tid, char *err, size_t errlen)
{
  struct perf_event_attr a;

  s->open_seq++;  /* a new family: this thread's events */

  for (int cpu = 0; cpu < s->ncpus; cpu++) {
    struct cpd_sampler_cpu *c = &s->cpus[cpu];
    int fd, rc;

    fill_attr(s, &a, strcmp(s->event, "cycles") == 0);
    fd = cpd_perf_open(&a, (pid_t)tid, cpu, -1, 0);
    if (fd == -ENOENT || fd == -ENODEV || fd == -EOPNOTSUPP) {
      if (strcmp(s->event, "cycles") == 0 && s->nfds == 0) {
        /* No hardware PMU (a VM): fall back, once, to the software clock. */
        s->event = "cpu-clock";
        s->period_is_ns = 1;
        snprintf(s->warning, sizeof(s->warning),
                 "hardware cycles are not supported here; sampling cpu-clock instead");
        fill_attr(s, &a, 0);
        fd = cpd_perf_open(&a, (pid_t)tid, cpu, -1, 0);
      }
    }
    if (fd == -ESRCH)
      return -ESRCH;  /* the thread exited meanwhile: the caller goes on */
    if (fd < 0) {
      cpd_perf_advice(-fd, "open", (pid_t)tid, err, errlen);
      return fd;
    }
    if ((rc = add_fd(s, fd)) < 0) {
      close(fd);
      return rc;
    }
    if ((rc = add_owner(s, fd, tid, 0)) < 0)
      return rc;
    if (c->fd < 0)
      rc = map_ring(s, c, fd, err, errlen);
    else if (ioctl(fd, PERF_EVENT_IOC_SET_OUTPUT, c->fd) < 0)
      rc = -errno;
    if (rc < 0) {
      if (!*err)
        snprintf(err, errlen, "failed to share the CPU %d ring buffer: %s", cpu, strerror(-rc));
      return rc;
    }
    start_now(s, fd);
    if ((rc = open_offcpu(s, tid, cpu, c)) < 0)
      return rc;
  }
  return add_u32(&s->tids, &s->ntids, &s->tids_cap, tid);
}

static int known_tid(const struct cpd_sampler *s, uint32_t tid)
{
  for (size_t i = 0; i < s->ntids; i++)
    if (s->tids[i] == tid)
      return 1;
  return 0;
}

/* Opens events for every thread in /proc/PID/task not yet covered. Returns how many were new. */
static int scan_threads(struct cpd_sampler *s, char *err, size_t errlen)
{
  char path[64];
  struct dirent *de;
  DIR *dir;
  int added = 0;

  snprintf(path, sizeof(path), "/proc/%" PRIu32 "/task", s->pid);
  dir = opendir(path);
  if (!dir) {
    int e = errno;

    cpd_perf_advice(e == ENOENT ? ESRCH : e, "open", (pid_t)s->pid, err, errlen);
    return -(e == ENOENT ? ESRCH : e);
  }
  while ((de = readdir(dir)) != NULL) {
    uint32_t tid;
    int rc;

    if (de->d_name[0] < '0' || de->d_name[0] > '9')
      continue;
    tid = (uint32_t)strtoul(de->d_name, NULL, 10);
    if (known_tid(s, tid))
      continue;
    rc = open_thread(s, tid, err, errlen);
    if (rc == -ESRCH)
      continue;
    if (rc < 0) {
      closedir(dir);
      return rc;
    }
    added++;
  }
  closedir(dir);
  return added;
}

/* Off-CPU stacks from the BPF helper where it is built and loads (not with DWARF stacks: it
 * takes frame-pointer ones); the perf events otherwise, with the reason noted. */
static void open_offcpu_bpf(struct cpd_sampler *s)
{
#ifdef HAVE_LIBBPF
  char why[256];
  int rc;

  if (s->opts.no_bpf) {
    snprintf(s->offcpu_note, sizeof(s->offcpu_note), "off-CPU stacks from perf events (--no-bpf)");
    return;
  }
  if (s->opts.dwarf_stack) {
    snprintf(s->offcpu_note, sizeof(s->offcpu_note),
             "off-CPU stacks from perf events: the BPF helper takes no DWARF stacks");
    return;
  }
  rc = cpd_bpf_offcpu_open(&s->offcpu_bpf, s->pid, s->opts.enable_on_exec, s->opts.kernel, why,
                           sizeof(why));
  if (rc == 0) {
    s->offcpu_tp = -1;  /* no perf events for them */
    snprintf(s->offcpu_note, sizeof(s->offcpu_note),
             "off-CPU stacks from the BPF helper (sums at sched_switch in a kernel map)");
  } else {
    snprintf(s->offcpu_note, sizeof(s->offcpu_note), "off-CPU stacks from perf events: %s", why);
  }
#else
  (void)s;
#endif
}

void cpd_sampler_drain_offcpu(struct cpd_sampler *s)
{
#ifdef HAVE_LIBBPF
  int rc;

  if (s->offcpu_bpf && (rc = cpd_bpf_offcpu_drain(s->offcpu_bpf, s->prof)) < 0)
    cpd_log("pid %" PRIu32 ": reading the BPF helper's sums: %s", s->pid, strerror(-rc));
#else
  (void)s;
#endif
}

static int start_reader(struct cpd_sampler *s, char *err, size_t errlen)
{
  struct cpd_perf_ring **rings = calloc((size_t)s->ncpus, sizeof(*rings));
  int rc;

  for (int i = 0; rings && i < s->ncpus; i++)
    rings[i] = &s->cpus[i].ring;  /* mapped as threads are opened */
  rc = cpd_reader_start(&s->reader, rings, s->ncpus, s->sample_type, QUEUE_MAX);
  if (rc < 0)
    snprintf(err, errlen, "failed to start the thread that reads the perf rings: %s",
             strerror(-rc));
  return rc;
}

int cpd_sampler_open(struct cpd_sampler *s, uint32_t pid, const struct cpd_sampler_opts *o,
                     struct cpd_profile *prof, char *err, size_t errlen)
{
  long max = cpd_perf_max_sample_rate();
  int rc;

  memset(s, 0, sizeof(*s));
  err[0] = '\0';
  s->pid = pid;
  s->opts = *o;
  s->prof = prof;
  s->hz = o->hz;
  if (max > 0 && s->hz > max) {
    snprintf(s->warning, sizeof(s->warning),
             "-F %d is above /proc/sys/kernel/perf_event_max_sample_rate; using %ld Hz", s->hz, max);
    s->hz = (int)max;
  }
  s->event = "cycles";
  s->offcpu_tp = o->offcpu ? cpd_tracepoint_id("sched", "sched_switch") : -1;
  if (o->offcpu && s->offcpu_tp < 0)
    snprintf(s->offcpu_warning, sizeof(s->offcpu_warning),
             "off-CPU stacks are not sampled: no sched:sched_switch tracepoint in tracefs");
  if (s->offcpu_tp >= 0)
    open_offcpu_bpf(s);
  s->sample_type = PERF_SAMPLE_IP | PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_ID |
                   PERF_SAMPLE_CPU | PERF_SAMPLE_PERIOD | PERF_SAMPLE_CALLCHAIN;
  if (o->dwarf_stack) {
    s->sample_type |= PERF_SAMPLE_REGS_USER | PERF_SAMPLE_STACK_USER;
    if (cpd_unwind_init(&s->unwind) < 0) {
      snprintf(err, errlen, "out of memory for libunwind's address space");
      return -ENOMEM;
    }
  }
  s->ncpus = (int)sysconf(_SC_NPROCESSORS_CONF);
  if (s->ncpus < 1)
    s->ncpus = 1;
  s->cpus = calloc((size_t)s->ncpus, sizeof(*s->cpus));
  s->rec = malloc(sizeof(*s->rec));
  if (!s->cpus || !s->rec) {
    free(s->cpus);
    free(s->rec);
    return -ENOMEM;
  }
  for (int i = 0; i < s->ncpus; i++)
    s->cpus[i].fd = s->cpus[i].ring.fd = -1;
  /* Each event starts as soon as its ring is set, and the records are handled after the
   * mappings are loaded: the reader queues what comes meanwhile. */
  if ((rc = s->rec ? start_reader(s, err, errlen) : -ENOMEM) < 0)
    goto fail;
  /* Until no new thread shows up: threads started while we opened are covered too. */
  do {
    rc = scan_threads(s, err, errlen);
  } while (rc > 0);
  if (rc < 0)
    goto fail;
  if (s->ntids == 0) {
    cpd_perf_advice(ESRCH, "open", (pid_t)pid, err, errlen);
    rc = -ESRCH;
    goto fail;
  }
  /* Mappings and names before sampling starts: no sample meets an unknown address. */
  cpd_profile_load_proc(prof);
  return 0;
fail:
  cpd_sampler_close(s);
  return rc;
}

int cpd_sampler_enable(struct cpd_sampler *s)
{
  for (size_t i = 0; i < s->nfds; i++)
    if (ioctl(s->fds[i], PERF_EVENT_IOC_ENABLE, 0) < 0)
      return -errno;
  return 0;
}

void cpd_sampler_disable(struct cpd_sampler *s)
{
  for (size_t i = 0; i < s->nfds; i++)
    ioctl(s->fds[i], PERF_EVENT_IOC_DISABLE, 0);
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
    if (rp->id.pid != s->pid) {
      p->other_pid++;
      break;
    }
    if (!family_counts(s, rp->id.tid, rp->id.event)) {
      s->duplicates++;
      break;
    }
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
    s->samples++;
    cpd_profile_add_sample(p, rp->id.time, rp->id.tid,
                           s->period_is_ns ? rp->u.sample.period : 1000000000ull / (uint64_t)s->hz,
                           rp->u.sample.frames, rp->u.sample.nframes, rp->u.sample.nkernel,
                           rp->u.sample.truncated);
    break;
  case PERF_RECORD_MMAP2:
  case PERF_RECORD_MMAP:
    if (rp->id.pid == s->pid && (rp->type == PERF_RECORD_MMAP || (rp->u.mmap.prot & 4 /* PROT_EXEC */)))
      cpd_profile_add_mapping(p, rp->u.mmap.addr, rp->u.mmap.len, rp->u.mmap.pgoff, rp->u.mmap.filename);
    break;
  case PERF_RECORD_COMM:
    if (rp->id.pid == s->pid && rp->u.comm.comm)
      cpd_profile_set_comm(p, rp->id.tid, rp->u.comm.comm);
    if ((rp->misc & PERF_RECORD_MISC_COMM_EXEC) && rp->id.pid == s->pid)
      cpd_profile_exec(p);  /* a new program image: the old mappings are gone */
    break;
  case PERF_RECORD_FORK:
    if (rp->u.task.pid == s->pid) {
      const char *parent = cpd_profile_comm(p, rp->u.task.ptid);

      /* A new thread starts with its creator's name, unless it was renamed already. The
       * name is copied first: adding the thread may move the table it points into. */
      if (parent && !cpd_profile_comm(p, rp->u.task.tid)) {
        char comm[sizeof(p->threads[0].comm)];

        snprintf(comm, sizeof(comm), "%s", parent);
        cpd_profile_set_comm(p, rp->u.task.tid, comm);
      }
    }
    break;
  case PERF_RECORD_EXIT:
    if (rp->u.task.pid == s->pid)
      family_forget(s, rp->u.task.tid);
    break;
  case PERF_RECORD_LOST:
    p->lost_records += rp->u.lost.lost;
    break;
  case PERF_RECORD_LOST_SAMPLES:
    p->lost_samples += rp->u.lost.lost;
    break;
  case PERF_RECORD_SWITCH:
    if (rp->id.pid == s->pid && family_counts(s, rp->id.tid, rp->id.event)) {
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

static void handle(void *arg, const struct perf_event_header *h, size_t len)
{
  cpd_sampler_record(arg, h, len);
}

int cpd_sampler_read(struct cpd_sampler *s)
{
  int n = cpd_reader_take(&s->reader, handle, s);

  if (n < 0)
    s->prof->bad_records++;
  return n;
}

int cpd_sampler_wake_fd(const struct cpd_sampler *s)
{
  return s->reader.running ? s->reader.wake_fd : -1;
}

void cpd_sampler_close(struct cpd_sampler *s)
{
  if (s->reader.running)
    cpd_debug("pid %" PRIu32 ": the reader copied %" PRIu64 " records in %" PRIu64
              " rounds (at most %zu KiB queued at once)", s->pid, s->reader.records,
              s->reader.rounds, s->reader.peak / 1024);
  cpd_reader_stop(&s->reader);  /* before the rings are unmapped */
  if (s->duplicates)
    cpd_debug("pid %" PRIu32 ": %" PRIu64 " duplicate samples of threads that inherited an "
              "event and had one opened for them, dropped", s->pid, s->duplicates);
  s->duplicates = 0;
#ifdef HAVE_LIBBPF
  if (s->offcpu_bpf) {
    uint64_t lost = cpd_bpf_offcpu_lost(s->offcpu_bpf);

    if (lost)
      cpd_log("pid %" PRIu32 ": BPF off-CPU helper: %" PRIu64 " off-CPU periods lost (its maps "
              "were full)", s->pid, lost);
    cpd_debug("pid %" PRIu32 ": BPF off-CPU helper: %" PRIu64 " periods begun before the "
              "command's exec left out", s->pid, cpd_bpf_offcpu_before_exec(s->offcpu_bpf));
    cpd_bpf_offcpu_close(s->offcpu_bpf);
    s->offcpu_bpf = NULL;
  }
#endif
  cpd_unwind_free(&s->unwind);
  free(s->family);
  cp_hindex_free(&s->family_index);
  s->family = NULL;
  s->family_cap = s->nfamily = 0;
  free(s->owners);
  s->owners = NULL;
  s->nowners = s->owners_cap = 0;
  if (s->cpus) {
    for (int i = 0; i < s->ncpus; i++) {
      if (s->cpus[i].base)
        munmap(s->cpus[i].base, s->cpus[i].len);
      free(s->cpus[i].ring.tmp);
    }
  }
  for (size_t i = 0; i < s->nfds; i++)
    close(s->fds[i]);
  free(s->fds);
  free(s->tids);
  free(s->rec);
  s->rec = NULL;
  free(s->cpus);
  s->fds = NULL;
  s->tids = NULL;
  s->cpus = NULL;
  s->nfds = s->ntids = 0;
}
