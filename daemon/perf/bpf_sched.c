/* bpf_sched.c: loads the per-CPU profiling BPF programs (their libbpf skeleton) and reads
 * their ring buffer. */
#include "config.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "perf/bpf/sched_bpf.h"
#include "log.h"
#include "perf/bpf_sched.h"
#include "sched.skel.h"

struct cpd_bpf_sched {
  struct cpd_sched *skel;
  struct ring_buffer *rb;
  cpd_bpf_sched_fn fn;
  void *arg;
};

/* libbpf's messages: warnings into the daemon's log (debug level), the rest dropped. */
static int print_libbpf(enum libbpf_print_level level, const char *fmt, va_list ap)
{
  char line[512];

  if (level == LIBBPF_DEBUG)
    return 0;
  vsnprintf(line, sizeof(line), fmt, ap);
  line[strcspn(line, "\n")] = '\0';
  cpd_debug("libbpf: %s", line);
  return 0;
}

static int on_record(void *ctx, void *data, size_t len)
{
  struct cpd_bpf_sched *b = ctx;

  b->fn(b->arg, data, len);
  return 0;
}

int cpd_bpf_sched_open(struct cpd_bpf_sched **out, const struct cpd_bpf_sched_opts *o,
                       cpd_bpf_sched_fn fn, void *arg, char *err, size_t errlen)
{
  struct cpd_bpf_sched *b = calloc(1, sizeof(*b));
  uint32_t state = o->await_exec ? CPD_BPF_AWAIT_EXEC : CPD_BPF_PROFILED;
  int rc;

  *out = NULL;
  if (!b)
    return -ENOMEM;
  libbpf_set_print(print_libbpf);
  b->fn = fn;
  b->arg = arg;
  b->skel = cpd_sched__open();
  if (!b->skel) {
    rc = -errno;
    snprintf(err, errlen, "the BPF object could not be opened: %s", strerror(-rc));
    goto fail;
  }
  b->skel->rodata->period_ns = o->period_ns ? o->period_ns : 10000000;
  b->skel->rodata->kernel_stacks = o->kernel != 0;
  b->skel->rodata->follow_children = o->follow_children != 0;
  b->skel->rodata->offcpu_stacks = o->offcpu != 0;
  if ((rc = cpd_sched__load(b->skel)) < 0) {
    snprintf(err, errlen, "the BPF programs could not be loaded (%s%s)", strerror(-rc),
             rc == -EPERM ? ": they need CAP_BPF and CAP_PERFMON"
             : rc == -ESRCH || rc == -ENOENT ? ": is the kernel's BTF (/sys/kernel/btf/vmlinux) there?"
             : "");
    goto fail;
  }
  if (bpf_map_update_elem(bpf_map__fd(b->skel->maps.procs), &o->pid, &state, BPF_ANY) < 0) {
    rc = -errno;
    snprintf(err, errlen, "the BPF process map refused pid %u: %s", o->pid, strerror(-rc));
    goto fail;
  }
  b->rb = ring_buffer__new(bpf_map__fd(b->skel->maps.events), on_record, b, NULL);
  if (!b->rb) {
    rc = -errno;
    snprintf(err, errlen, "the BPF ring buffer could not be mapped: %s", strerror(-rc));
    goto fail;
  }
  if ((rc = cpd_sched__attach(b->skel)) < 0) {
    snprintf(err, errlen, "the BPF programs could not be attached to the sched tracepoints and "
             "finish_task_switch (%s)", strerror(-rc));
    goto fail;
  }
  *out = b;
  return 0;
fail:
  cpd_bpf_sched_close(b);
  return rc < 0 ? rc : -EINVAL;
}

int cpd_bpf_sched_filter_fd(const struct cpd_bpf_sched *b)
{
  return bpf_program__fd(b->skel->progs.sample_filter);
}

int cpd_bpf_sched_poll(struct cpd_bpf_sched *b)
{
  return ring_buffer__consume(b->rb);
}

uint64_t cpd_bpf_sched_lost(const struct cpd_bpf_sched *b)
{
  return __atomic_load_n(&b->skel->bss->lost_records, __ATOMIC_RELAXED) +
         __atomic_load_n(&b->skel->bss->lost_offs, __ATOMIC_RELAXED);
}

void cpd_bpf_sched_close(struct cpd_bpf_sched *b)
{
  if (!b)
    return;
  ring_buffer__free(b->rb);
  cpd_sched__destroy(b->skel);
  free(b);
}
