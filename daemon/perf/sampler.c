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
  if (!s->per_cpu) {
    a->enable_on_exec = s->opts.enable_on_exec != 0;
    a->inherit = 1;         /* threads created later are sampled too */
    a->context_switch = 1;  /* the threads' states */
  }
  /* Time in the kernel is sampled either way, so the profile adds up to the CPU the
   * process used; its kernel frames only with --kernel (a [kernel] leaf otherwise). */
  a->exclude_kernel = !s->kernel_time;
  a->exclude_callchain_kernel = !s->opts.kernel;
  a->exclude_hv = 1;
  a->mmap = 1;
  a->mmap2 = 1;
  a->comm = 1;
  a->comm_exec = 1;
  a->task = 1;
  a->sample_id_all = 1;
  a->use_clockid = 1;
  a->clockid = CLOCK_MONOTONIC; /* the clock libceoprof stamps events with */
  dwarf_attr(s, a);
  a->watermark = 1;
  a->wakeup_watermark = (uint32_t)(s->opts.ring_pages * (size_t)sysconf(_SC_PAGESIZE) / 4);
}

/* Per-CPU mode without BPF, when waits are asked for: an event per thread that samples
 * nothing and only records its thread's context switches (the per-CPU events carry the
 * mappings and names). */
static void fill_switch_attr(const struct cpd_sampler *s, struct perf_event_attr *a)
{
  memset(a, 0, sizeof(*a));
  a->size = sizeof(*a);
  a->type = PERF_TYPE_SOFTWARE;
  a->config = PERF_COUNT_SW_DUMMY;
  a->sample_type = s->sample_type;
  a->disabled = 1;
  a->enable_on_exec = s->opts.enable_on_exec != 0;
  a->inherit = 1;
  a->context_switch = 1;
  a->sample_id_all = 1;
  a->use_clockid = 1;
  a->clockid = CLOCK_MONOTONIC;
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

/*
 * The sampling event of TID on CPU, with its two fallbacks, each decided once (on the first
 * event): the software clock where there is no hardware PMU (a VM), and user mode only where
 * perf_event_paranoid forbids kernel samples to this user. An fd or -errno.
 */
static int open_sampling_event(struct cpd_sampler *s, pid_t pid, int cpu)
{
  struct perf_event_attr a;

  for (;;) {
    int fd;

    if (pid >= 0 && s->per_cpu)
      fill_switch_attr(s, &a);
    else
      fill_attr(s, &a, strcmp(s->event, "cycles") == 0);
    fd = cpd_perf_open(&a, pid, cpu, -1, 0);
    if ((fd == -ENOENT || fd == -ENODEV || fd == -EOPNOTSUPP) &&
        strcmp(s->event, "cycles") == 0 && s->nfds == 0) {
      s->event = "cpu-clock";
      s->period_is_ns = 1;
      snprintf(s->event_note, sizeof(s->event_note), "; hardware cycles are not supported here");
      continue;
    }
    if ((fd == -EACCES || fd == -EPERM) && s->kernel_time && !s->opts.kernel && s->nfds == 0 &&
        pid >= 0) {
      s->kernel_time = 0;
      snprintf(s->kernel_note, sizeof(s->kernel_note), "kernel time not sampled "
               "(perf_event_paranoid forbids it to this user)");
      continue;
    }
    return fd;
  }
}

/* Opens the events of one thread on every CPU. */
static int open_thread(struct cpd_sampler *s, uint32_t tid, char *err, size_t errlen)
{
  s->open_seq++;  /* a new family: this thread's events */

  for (int cpu = 0; cpu < s->ncpus; cpu++) {
    struct cpd_sampler_cpu *c = &s->cpus[cpu];
    int fd, rc;

    fd = open_sampling_event(s, (pid_t)tid, cpu);
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

/*
 * One sampling event per CPU for every process (pid -1), as perf record -a: a thread's
 * switches cost nothing more, and a thread is sampled whenever it runs when a CPU's timer
 * fires, however short-lived. Not allowed to this user (perf_event_paranoid above 0
 * without CAP_PERFMON): 0 with per_cpu cleared and why in mode_note, for per-thread events.
 */
static int open_cpu_events(struct cpd_sampler *s, char *err, size_t errlen)
{
  int offline = 0;

  s->per_cpu = 1;
  for (int cpu = 0; cpu < s->ncpus; cpu++) {
    struct cpd_sampler_cpu *c = &s->cpus[cpu];
    int fd = open_sampling_event(s, -1, cpu), rc;

    if (fd == -ENODEV || fd == -ENXIO || fd == -EINVAL) {
      offline++;  /* an offline CPU (or none at this index) */
      continue;
    }
    if (fd < 0 && s->ncpu_events == 0 && (fd == -EACCES || fd == -EPERM)) {
      s->per_cpu = 0;
      snprintf(s->mode_note, sizeof(s->mode_note), "per-thread events (system-wide ones need "
               "root or CAP_PERFMON, perf_event_paranoid is %ld); they tax every context switch "
               "of the target", cpd_perf_paranoid());
      return 0;
    }
    if (fd < 0) {
      cpd_perf_advice(-fd, "open", -1, err, errlen);
      return fd;
    }
    if ((rc = add_fd(s, fd)) < 0) {
      close(fd);
      return rc;
    }
    if ((rc = add_owner(s, fd, 0, 0)) < 0 || (rc = map_ring(s, c, fd, err, errlen)) < 0)
      return rc;
    ioctl(fd, PERF_EVENT_IOC_ENABLE, 0);  /* others' samples are dropped, so at once */
    s->ncpu_events++;
  }
  if (s->ncpu_events == 0) {
    s->per_cpu = 0;
    snprintf(s->mode_note, sizeof(s->mode_note), "per-thread events (no CPU took a "
             "system-wide event)");
    return 0;
  }
  snprintf(s->mode_note, sizeof(s->mode_note), "per-CPU sampling on %d CPUs%s", s->ncpu_events,
           offline ? " (some offline)" : "");
  return 0;
}

/* Per-CPU mode: the BPF programs filter the samples in the kernel and take the threads'
 * switches and off-CPU stacks; without them, why, in waits_note. */
static void open_bpf(struct cpd_sampler *s)
{
#ifdef HAVE_LIBBPF
  struct cpd_bpf_sched_opts o = { .pid = s->pid, .await_exec = s->opts.enable_on_exec,
                                  .kernel = s->opts.kernel, .offcpu = !s->opts.dwarf_stack,
                                  .follow_children = s->opts.follow_children,
                                  .period_ns = 1000000000ull / (uint64_t)s->hz };
  char why[192];
  int filtered = 0;

  if (s->opts.no_bpf) {
    snprintf(s->waits_note, sizeof(s->waits_note), "waits and off-CPU stacks from per-thread "
             "perf events (--no-bpf)");
    return;
  }
  if (cpd_bpf_sched_open(&s->bpf, &o, cpd_sampler_bpf_record, s, why, sizeof(why)) < 0) {
    snprintf(s->waits_note, sizeof(s->waits_note), "BPF could not be used: %s", why);
    return;
  }
  for (int i = 0; i < s->ncpus; i++)
    if (s->cpus[i].fd >= 0 &&
        ioctl(s->cpus[i].fd, PERF_EVENT_IOC_SET_BPF, cpd_bpf_sched_filter_fd(s->bpf)) == 0)
      filtered++;
  s->bpf_filter = filtered == s->ncpu_events;
  s->offcpu_period_ns = o.offcpu ? o.period_ns : 0;
  snprintf(s->waits_note, sizeof(s->waits_note), "waits from BPF switch records; %s",
           o.offcpu ? "off-CPU stacks sampled by time at switch-in (BPF)"
                    : "no off-CPU stacks (the BPF programs take no DWARF stacks)");
#else
  if (s->opts.no_bpf)
    snprintf(s->waits_note, sizeof(s->waits_note), "waits and off-CPU stacks from per-thread "
             "perf events (--no-bpf)");
  else
    snprintf(s->waits_note, sizeof(s->waits_note), "BPF could not be used: ceoprofd was built "
             "without libbpf");
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
  int rc, alive;

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
  } else if (s->hz > CPD_HZ_COSTLY) {
    snprintf(s->warning, sizeof(s->warning),
             "-F %d: every sample interrupts the target; above %d Hz that costs it noticeably "
             "(profilers use 99-999 Hz)", s->hz, CPD_HZ_COSTLY);
  }
  s->event = "cycles";
  s->kernel_time = 1;
  snprintf(s->kernel_note, sizeof(s->kernel_note), o->kernel ? "kernel time with its frames"
           : "kernel time as a [kernel] leaf under the user frames");
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
  s->await_exec = o->enable_on_exec;
  if (!o->per_thread && (rc = open_cpu_events(s, err, errlen)) < 0)
    goto fail;
  if (o->per_thread)
    snprintf(s->mode_note, sizeof(s->mode_note), "per-thread events (--per-thread)");
  if (s->per_cpu)
    open_bpf(s);
  /* Per-thread events: the sampling ones, or (per-CPU mode without BPF, when asked) the
   * switch ones; off-CPU stacks at every switch go with them. */
  s->thread_events = !s->per_cpu || (!s->bpf && (o->waits || o->no_bpf));
  s->offcpu_tp = s->thread_events && o->offcpu ? cpd_tracepoint_id("sched", "sched_switch") : -1;
  if (s->thread_events && o->offcpu && s->offcpu_tp < 0)
    snprintf(s->offcpu_warning, sizeof(s->offcpu_warning),
             "off-CPU stacks are not sampled: no sched:sched_switch tracepoint in tracefs");
  if (s->per_cpu && !s->bpf && !s->thread_events)
    snprintf(s->waits_note + strlen(s->waits_note), sizeof(s->waits_note) - strlen(s->waits_note),
             "; waits and off-CPU stacks left out (--waits takes them from per-thread events, "
             "at a cost to the target)");
  else if (s->per_cpu && !s->bpf)
    snprintf(s->waits_note + strlen(s->waits_note), sizeof(s->waits_note) - strlen(s->waits_note),
             "%s", o->no_bpf ? "" : "; waits and off-CPU stacks from per-thread perf events (--waits)");
  if (s->per_cpu)
    snprintf(s->mode_note + strlen(s->mode_note), sizeof(s->mode_note) - strlen(s->mode_note),
             ", other processes' samples dropped %s", s->bpf_filter ? "in the kernel (BPF)"
                                                                    : "by ceoprofd");
  if (s->thread_events) {
    /* Until no new thread shows up: threads started while we opened are covered too. */
    do {
      rc = scan_threads(s, err, errlen);
    } while (rc > 0);
    if (rc < 0)
      goto fail;
    alive = s->ntids > 0;
  } else {
    char path[64];

    /* No event of its own: the CPUs' events sample its threads. It must exist, though. */
    snprintf(path, sizeof(path), "/proc/%" PRIu32 "/task", pid);
    alive = access(path, F_OK) == 0;
  }
  if (!alive) {
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
  if (s->bpf) {
    uint64_t lost = cpd_bpf_sched_lost(s->bpf);

    cpd_bpf_sched_poll(s->bpf);
    s->prof->lost_records += lost - s->bpf_lost;
    cpd_debug("pid %" PRIu32 ": %" PRIu64 " BPF records read, %" PRIu64 " lost", s->pid,
              s->bpf_records, lost);
    cpd_bpf_sched_close(s->bpf);
    s->bpf = NULL;
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
  free(s->children);
  s->children = NULL;
  s->nchildren = s->children_cap = 0;
  free(s->rec);
  s->rec = NULL;
  free(s->cpus);
  s->fds = NULL;
  s->tids = NULL;
  s->cpus = NULL;
  s->nfds = s->ntids = 0;
}
