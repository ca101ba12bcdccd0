/* bpf_offcpu.c: loads the off-CPU BPF program (its libbpf skeleton) and drains its sums. */
#include "config.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "bpf/offcpu_bpf.h"
#include "perf/bpf_offcpu.h"
#include "log.h"
#include "offcpu.skel.h"

struct cpd_bpf_offcpu {
  struct cpd_offcpu *skel;
  int only_after_exec;
  uint64_t lost_periods;  /* summed but not kept for want of memory */
  uint64_t before_exec;   /* periods before the awaited exec: not of the profiled program */
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

int cpd_bpf_offcpu_open(struct cpd_bpf_offcpu **out, uint32_t pid, int only_after_exec,
                        int kernel, char *err, size_t errlen)
{
  struct cpd_bpf_offcpu *b = calloc(1, sizeof(*b));
  int rc;

  *out = NULL;
  if (!b)
    return -ENOMEM;
  libbpf_set_print(print_libbpf);
  b->only_after_exec = only_after_exec;
  b->skel = cpd_offcpu__open();
  if (!b->skel) {
    rc = -errno;
    snprintf(err, errlen, "the BPF object could not be opened: %s", strerror(-rc));
    goto fail;
  }
  b->skel->rodata->target_tgid = pid;
  b->skel->rodata->kernel_stacks = kernel != 0;
  if ((rc = cpd_offcpu__load(b->skel)) < 0) {
    snprintf(err, errlen, "the BPF program could not be loaded (%s%s)", strerror(-rc),
             rc == -EPERM ? ": it needs CAP_BPF and CAP_PERFMON" : "");
    goto fail;
  }
  if ((rc = cpd_offcpu__attach(b->skel)) < 0) {
    snprintf(err, errlen, "the BPF program could not be attached to sched:sched_switch (%s)",
             strerror(-rc));
    goto fail;
  }
  *out = b;
  return 0;
fail:
  cpd_bpf_offcpu_close(b);
  return rc < 0 ? rc : -EINVAL;
}

int cpd_bpf_offcpu_drain(struct cpd_bpf_offcpu *b, struct cpd_profile *p)
{
  int fd = bpf_map__fd(b->skel->maps.sums);
  uint32_t gen = __atomic_load_n(&b->skel->bss->gen, __ATOMIC_RELAXED);
  struct cpd_bpf_key *keys = NULL, *prev = NULL;
  size_t nkeys = 0, cap = 0;
  int added = 0, rc = 0;

  /* The keys first: deleting while walking would restart the walk. */
  for (;;) {
    if (nkeys == cap) {
      if (cpd_grow(&keys, &cap, nkeys, sizeof(*keys)) < 0) {
        rc = -ENOMEM;
        break;
      }
      prev = nkeys ? &keys[nkeys - 1] : NULL;
    }
    if (bpf_map_get_next_key(fd, prev, &keys[nkeys]) < 0)
      break;
    prev = &keys[nkeys++];
  }
  for (size_t i = 0; i < nkeys; i++) {
    static uint64_t frames[CPD_BPF_KERNEL_DEPTH + CPD_BPF_USER_DEPTH];  /* single-threaded */
    const struct cpd_bpf_key *k = &keys[i];
    uint32_t nk = k->nkernel < CPD_BPF_KERNEL_DEPTH ? k->nkernel : CPD_BPF_KERNEL_DEPTH;
    uint32_t nu = k->nuser < CPD_BPF_USER_DEPTH ? k->nuser : CPD_BPF_USER_DEPTH;
    struct cpd_bpf_val v;

    if (bpf_map_lookup_and_delete_elem(fd, k, &v) < 0)
      continue;
    if (b->only_after_exec && k->gen == 0) {
      b->before_exec += v.switches;  /* the command not yet started: perf leaves it out too */
      continue;
    }
    if (k->gen != gen)
      nk = nu = 0;  /* of an image an exec replaced: its time kept, its stack unknowable now */
    /* As perf gives them: kernel frames first, the leaf first in each part. */
    memcpy(frames, k->kernel, nk * sizeof(*frames));
    memcpy(frames + nk, k->user, nu * sizeof(*frames));
    if (cpd_profile_add_offcpu_ns(p, k->tid, v.ns, frames, nk + nu, nk,
                                  nu == CPD_BPF_USER_DEPTH /* as deep as kept: likely cut */,
                                  k->gen != gen ? "[before an exec]" : "[no user stack]") < 0)
      b->lost_periods += v.switches;
    else
      added++;
  }
  free(keys);
  return rc < 0 ? rc : added;
}

uint64_t cpd_bpf_offcpu_lost(const struct cpd_bpf_offcpu *b)
{
  return b->lost_periods + b->skel->bss->lost_starts + b->skel->bss->lost_keys;
}

uint64_t cpd_bpf_offcpu_before_exec(const struct cpd_bpf_offcpu *b)
{
  return b->before_exec;
}

void cpd_bpf_offcpu_close(struct cpd_bpf_offcpu *b)
{
  if (!b)
    return;
  cpd_offcpu__destroy(b->skel);
  free(b);
}
