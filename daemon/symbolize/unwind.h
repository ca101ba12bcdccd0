/*
 * unwind.h: DWARF unwinding of user stacks copied by the kernel with each sample
 * (PERF_SAMPLE_REGS_USER | PERF_SAMPLE_STACK_USER), with libunwind's remote API over the
 * copied stack and the target's ELF files (.eh_frame_hdr), as perf does. For programs built
 * without frame pointers.
 */
#ifndef CPD_UNWIND_H
#define CPD_UNWIND_H

#include <stddef.h>
#include <stdint.h>

struct cpd_dso;
struct cpd_unwind_obj;

/* Where a file is mapped in the target, as the unwinder needs it. */
struct cpd_unwind_map {
  uint64_t start, end, pgoff;
  struct cpd_dso *dso;              /* the file's ELF (NULL or unreadable: no unwind tables) */
};

/* The target's address space: its mappings by address, and their generation (the cached
 * unwind tables are dropped when it changes). */
struct cpd_unwind_space {
  int (*lookup)(void *arg, uint64_t addr, struct cpd_unwind_map *out); /* 0, or -1: none */
  void *arg;
  uint64_t map_gen;
};

struct cpd_unwind {
  void *as;                         /* libunwind's address space (unw_addr_space_t) */
  struct cpd_unwind_obj *objs;      /* ELF files seen, with their unwind tables */
  size_t nobjs, objs_cap;
  uint64_t map_gen;                 /* the mapping generation the cache is for */
  uint64_t samples, frames, truncated, no_info;  /* counts for the summary and the metadata */
  uint64_t cpu_ns;                  /* the daemon's CPU time spent unwinding */
};

int cpd_unwind_init(struct cpd_unwind *u);
void cpd_unwind_free(struct cpd_unwind *u);

/*
 * Unwinds one sample of the process whose mappings SPACE gives: REGS (CPD_REGS_USER_N, perf's order) and STACK_LEN
 * bytes of stack from the sampled SP. Writes at most MAX addresses into FRAMES, the leaf
 * first (then return addresses); sets *TRUNCATED when the walk stopped before the stack's
 * end (the copy ended, or a frame had no unwind information). Returns how many.
 */
uint32_t cpd_unwind_sample(struct cpd_unwind *u, const struct cpd_unwind_space *space,
                           const uint64_t *regs,
                           const uint8_t *stack, uint64_t stack_len, uint64_t *frames,
                           uint32_t max, int *truncated);

#endif
