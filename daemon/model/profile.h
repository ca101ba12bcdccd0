/*
 * profile.h: the CPU samples of one process as ceoprofd collects them: the process's
 * executable mappings, locations (an address in a mapping, with its function),
 * functions, de-duplicated stacks, and samples (time, thread, period, stack).
 * Addresses are resolved when a sample arrives, while the mapping is current.
 */
#ifndef CPD_PROFILE_H
#define CPD_PROFILE_H

#include <stddef.h>
#include <stdint.h>

#include "hindex.h"
#include "symbolize/perfmap.h"
#include "model/rss.h"
#include "model/thread_state.h"
#include "symbolize/symbols.h"
#include "symbolize/unwind.h"

struct cpd_mapping {
  uint64_t start, end, pgoff;
  uint32_t pid;              /* the process it was mapped in */
  char *path;
  struct cpd_dso *dso;       /* NULL for the kernel */
  int kernel;
};

#define CPD_MAX_INLINE 16           /* inlined frames kept per location */

struct cpd_location {
  uint64_t address;          /* the pc for the leaf, return address - 1 for callers */
  uint32_t mapping;          /* index + 1 into mappings, 0 when no mapping holds it */
  uint32_t function;         /* index + 1 into functions, 0 when it could not be named */
  uint32_t line;             /* source line in FUNCTION, 0 when unknown */
  uint32_t inl_off, ninl;    /* frames inlined at this address: inl[inl_off..+ninl), innermost first */
};

/* A function inlined at a location, and the line in it. */
struct cpd_inline {
  uint32_t function;         /* index + 1 into functions */
  uint32_t line;
};

struct cpd_function {
  const char *name;          /* the symbol; owned by a DSO, its DWARF, or the kernel symbol table */
  char *display;             /* demangled and simplified (owned), NULL when NAME is readable */
  const char *file;          /* its source file from DWARF, NULL when unknown */
  uint32_t mapping;          /* index + 1: the file it is in */
};

struct cpd_stack {
  uint32_t off;              /* into frames */
  uint32_t len;              /* leaf first */
  uint32_t truncated;        /* the kernel gave more frames than we keep */
};

struct cpd_psample {
  uint64_t time;             /* CLOCK_MONOTONIC ns */
  uint64_t period;           /* ns of CPU (cpu-clock) or events (hardware) */
  uint32_t tid;
  uint32_t stack;            /* index into stacks */
};

struct cpd_pthread {
  uint32_t tid;
  uint32_t pid;              /* its process (the profile's, or a child followed) */
  char comm[17];
};

/* One process's address space: the profile's own, or a child's it follows. */
struct cpd_pspace {
  uint32_t pid;
  char *exe;                         /* /proc/PID/exe: its main binary */
  struct cpd_perfmap perfmap;        /* JIT symbols from /tmp/perf-PID.map */
  uint32_t *live;                    /* indices of current mappings, sorted by start */
  size_t nlive, live_cap;
  struct cp_hindex loc_index;        /* locations by address, while the mappings last */
};

struct cpd_profile {
  uint32_t pid;                      /* the process profiled (its children may be too) */
  struct cpd_symbols syms;
  struct cpd_pspace *spaces;         /* spaces[0]: PID's */
  size_t nspaces, spaces_cap;
  size_t cur;                        /* the space records are resolved in (select) */
  struct cpd_mapping *mappings;      /* every mapping ever seen, of every process; kept */
  size_t nmappings, mappings_cap;
  struct cpd_location *locs;
  size_t nlocs, locs_cap;
  struct cpd_function *funcs;
  size_t nfuncs, funcs_cap;
  struct cpd_inline *inl;            /* inlined frames of locations */
  size_t ninl, inl_cap;
  uint32_t *frames;                  /* location index + 1, per stack */
  size_t nframes, frames_cap;
  struct cpd_stack *stacks;
  size_t nstacks, stacks_cap;
  struct cpd_psample *samples;
  size_t nsamples, samples_cap;
  struct cpd_pthread *threads;
  size_t nthreads, threads_cap;
  uint64_t map_gen;                  /* bumped whenever the current mappings change */
  struct cpd_sched sched;            /* thread states from context switches */
  struct cpd_rss rss;                /* resident memory over time (the target opens it) */
  struct cpd_psample *offcpu;        /* stacks at switch-out; period = time off the CPU
                                      * (0 until known from the thread states; set: final) */
  size_t noffcpu, offcpu_cap;
  uint64_t offcpu_dropped;           /* off-CPU samples not kept for want of memory */
  /* Hash tables: stack -> index, function -> index. */
  struct cp_hindex stack_index;       /* stacks by their frames */
  struct cp_hindex func_index;        /* functions by (symbol name, mapping) */
  uint32_t kernel_leaf;               /* the [kernel] leaf's location index + 1, 0 until used */
  /* Counters. */
  uint64_t lost_records;             /* PERF_RECORD_LOST: records the kernel dropped */
  uint64_t lost_samples;             /* PERF_RECORD_LOST_SAMPLES */
  uint64_t bad_records;              /* records that did not parse */
  uint64_t switches;                 /* context switches seen */
  uint64_t truncated;                /* samples whose stack was cut */
  uint64_t other_pid;                /* samples of another process (ignored) */
  uint64_t before_exec;              /* samples before the exec awaited (ignored) */
  uint64_t exiting_samples;          /* samples of a thread already without a tid (dropped) */
  uint64_t not_followed;             /* processes the target forked, not followed (past the
                                      * limit, or no memory); nspaces - 1 were */
  uint64_t first_time, last_time;    /* of the samples */
};

int cpd_profile_init(struct cpd_profile *p, uint32_t pid);
/* Records that follow are of process PID (a space made by init or fork): 0, or -ENOENT. */
int cpd_profile_select(struct cpd_profile *p, uint32_t pid);
/* PPID forked PID, a process followed: its space starts as a copy of its parent's. 0 or
 * -ENOMEM. */
int cpd_profile_fork(struct cpd_profile *p, uint32_t ppid, uint32_t pid);
/* PID's main binary (NULL when unknown), and the process thread TID is of. */
const char *cpd_profile_exe(const struct cpd_profile *p, uint32_t pid);
uint32_t cpd_profile_pid_of(const struct cpd_profile *p, uint32_t tid);
void cpd_profile_free(struct cpd_profile *p);
/* Reads /proc/PID/maps (executable mappings) and thread names of the selected process. 0
 * or -errno. */
int cpd_profile_load_proc(struct cpd_profile *p);
/* A new executable mapping (MMAP2). Overlapped mappings stop being current. */
int cpd_profile_add_mapping(struct cpd_profile *p, uint64_t start, uint64_t len, uint64_t pgoff,
                            const char *path);
/* The process exec'd: no mapping is current any more, and the main binary is re-read. */
void cpd_profile_exec(struct cpd_profile *p);
/* The current mapping that holds ADDR, or NULL. */
const struct cpd_mapping *cpd_profile_mapping(const struct cpd_profile *p, uint64_t addr);
/* A thread's process and name (COMM records, /proc). */
void cpd_profile_set_comm(struct cpd_profile *p, uint32_t pid, uint32_t tid, const char *comm);
const char *cpd_profile_comm(const struct cpd_profile *p, uint32_t tid);
/* A frame that stands for time spent in the kernel whose frames were not taken: the
 * function "[kernel]" (no real kernel address is this high). */
#define CPD_KERNEL_LEAF 0xfffffffffffffffeull

/*
 * A sample: FRAMES[0..n) leaf first, the first NKERNEL of them kernel addresses (or
 * CPD_KERNEL_LEAF). 0 or -ENOMEM.
 */
int cpd_profile_add_sample(struct cpd_profile *p, uint64_t time, uint32_t tid, uint64_t period,
                           const uint64_t *frames, uint32_t n, uint32_t nkernel, int truncated);
/* A stack at a switch-out (sched:sched_switch): how long it stays off is filled in later. */
int cpd_profile_add_offcpu(struct cpd_profile *p, uint64_t time, uint32_t tid, const uint64_t *frames,
                           uint32_t n, uint32_t nkernel, int truncated);
/* An off-CPU stack whose weight is known already (sampled by the BPF programs): it went off
 * at TIME and stands for NS. An empty stack is shown as one frame named EMPTY (a string
 * literal), when given. */
int cpd_profile_add_offcpu_ns(struct cpd_profile *p, uint64_t time, uint32_t tid, uint64_t ns,
                              const uint64_t *frames, uint32_t n, uint32_t nkernel, int truncated,
                              const char *empty);
/* The name to show for F: demangled when the symbol is mangled. */
static inline const char *cpd_function_name(const struct cpd_function *f)
{
  return f->display ? f->display : f->name;
}

/* The function name of location index LOC (0-based), or NULL. */
const char *cpd_profile_loc_name(const struct cpd_profile *p, uint32_t loc);

/* P's mappings as the DWARF unwinder looks them up (valid while P lives). */
void cpd_profile_unwind_space(struct cpd_profile *p, struct cpd_unwind_space *out);

#endif
