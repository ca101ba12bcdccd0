/* profile.c: collecting samples: resolving addresses to locations and de-duplicating stacks. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <unistd.h>

#include "hindex.h"
#include "model/profile.h"
#include "symbolize/srcline.h"
#include "util.h"
#include "symbolize/demangle.h"

#define KERNEL_START 0xffff800000000000ull

/* The space of the process the records being handled are of. */
#define SP(p) (&(p)->spaces[(p)->cur])

static void read_exe(struct cpd_pspace *sp)
{
  char path[64], exe[4096];
  ssize_t n;

  snprintf(path, sizeof(path), "/proc/%" PRIu32 "/exe", sp->pid);
  n = readlink(path, exe, sizeof(exe) - 1);
  if (n > 0) {
    exe[n] = '\0';
    free(sp->exe);
    sp->exe = strdup(exe);
  }
}

/* A new space for PID, empty: its index, or -ENOMEM. */
static int new_space(struct cpd_profile *p, uint32_t pid)
{
  struct cpd_pspace *sp;

  if (cpd_grow(&p->spaces, &p->spaces_cap, p->nspaces, sizeof(*sp)) < 0)
    return -ENOMEM;
  sp = &p->spaces[p->nspaces];
  memset(sp, 0, sizeof(*sp));
  sp->pid = pid;
  sp->perfmap.size = -1;
  return (int)p->nspaces++;
}

static void free_space(struct cpd_pspace *sp)
{
  free(sp->live);
  cp_hindex_free(&sp->loc_index);
  free(sp->exe);
  cpd_perfmap_free(&sp->perfmap);
}

int cpd_profile_init(struct cpd_profile *p, uint32_t pid)
{
  memset(p, 0, sizeof(*p));
  p->pid = pid;
  p->rss.fd = -1;
  cpd_symbols_init(&p->syms);
  if (new_space(p, pid) < 0)
    return -ENOMEM;
  read_exe(SP(p));
  return 0;
}

static int space_of(const struct cpd_profile *p, uint32_t pid)
{
  for (size_t i = 0; i < p->nspaces; i++)
    if (p->spaces[i].pid == pid)
      return (int)i;
  return -1;
}

int cpd_profile_select(struct cpd_profile *p, uint32_t pid)
{
  int i = space_of(p, pid);

  if (i < 0)
    return -ENOENT;
  if ((size_t)i != p->cur) {
    p->cur = (size_t)i;
    p->map_gen++;  /* the unwinder's view of the mappings changes with the process */
  }
  return 0;
}

int cpd_profile_fork(struct cpd_profile *p, uint32_t ppid, uint32_t pid)
{
  int parent = space_of(p, ppid), i;
  struct cpd_pspace *sp;

  if (space_of(p, pid) >= 0)
    return 0;
  if ((i = new_space(p, pid)) < 0)
    return i;
  sp = &p->spaces[i];
  if (parent >= 0) {  /* the child's memory is a copy of its parent's */
    const struct cpd_pspace *pp = &p->spaces[parent];

    if (pp->nlive && !(sp->live = malloc(pp->nlive * sizeof(*sp->live))))
      return -ENOMEM;
    if (pp->nlive)
      memcpy(sp->live, pp->live, pp->nlive * sizeof(*sp->live));
    sp->nlive = sp->live_cap = pp->nlive;
    sp->exe = pp->exe ? strdup(pp->exe) : NULL;
  }
  return 0;
}

const char *cpd_profile_exe(const struct cpd_profile *p, uint32_t pid)
{
  int i = space_of(p, pid);

  return i >= 0 ? p->spaces[i].exe : NULL;
}

uint32_t cpd_profile_pid_of(const struct cpd_profile *p, uint32_t tid)
{
  for (size_t i = 0; i < p->nthreads; i++)
    if (p->threads[i].tid == tid)
      return p->threads[i].pid ? p->threads[i].pid : p->pid;
  return p->pid;
}


void cpd_profile_free(struct cpd_profile *p)
{
  for (size_t i = 0; i < p->nmappings; i++)
    free(p->mappings[i].path);
  free(p->mappings);
  for (size_t i = 0; i < p->nspaces; i++)
    free_space(&p->spaces[i]);
  free(p->spaces);
  free(p->locs);
  for (size_t i = 0; i < p->nfuncs; i++)
    free(p->funcs[i].display);
  free(p->funcs);
  free(p->inl);
  free(p->frames);
  free(p->stacks);
  free(p->samples);
  free(p->offcpu);
  cpd_sched_free(&p->sched);
  cpd_rss_close(&p->rss);
  free(p->threads);
  cp_hindex_free(&p->stack_index);
  cp_hindex_free(&p->func_index);
  cpd_symbols_free(&p->syms);
  memset(p, 0, sizeof(*p));
}

void cpd_profile_set_comm(struct cpd_profile *p, uint32_t pid, uint32_t tid, const char *comm)
{
  size_t i;

  for (i = 0; i < p->nthreads; i++)
    if (p->threads[i].tid == tid)
      break;
  if (i == p->nthreads) {
    if (cpd_grow(&p->threads, &p->threads_cap, p->nthreads, sizeof(*p->threads)) < 0)
      return;
    p->nthreads++;
  }
  p->threads[i].tid = tid;
  p->threads[i].pid = pid;
  snprintf(p->threads[i].comm, sizeof(p->threads[i].comm), "%s", comm);
}

const char *cpd_profile_comm(const struct cpd_profile *p, uint32_t tid)
{
  for (size_t i = 0; i < p->nthreads; i++)
    if (p->threads[i].tid == tid)
      return p->threads[i].comm;
  return NULL;
}

static void loc_cache_clear(struct cpd_profile *p)
{
  cp_hindex_clear(&SP(p)->loc_index);
  p->map_gen++;
}

void cpd_profile_exec(struct cpd_profile *p)
{
  struct cpd_pspace *sp = SP(p);

  sp->nlive = 0;
  loc_cache_clear(p);
  read_exe(sp);
  sp->perfmap.nsyms = 0;      /* the new program's JIT, if any, writes the map anew */
  sp->perfmap.size = -1;
  sp->perfmap.checked_ms = 0;
}

int cpd_profile_add_mapping(struct cpd_profile *p, uint64_t start, uint64_t len, uint64_t pgoff,
                            const char *path)
{
  struct cpd_pspace *sp = SP(p);
  struct cpd_mapping *m;
  uint64_t end = start + len;
  size_t i, out = 0;

  if (len == 0 || cpd_grow(&p->mappings, &p->mappings_cap, p->nmappings, sizeof(*m)) < 0 ||
      cpd_grow(&sp->live, &sp->live_cap, sp->nlive + 1, sizeof(*sp->live)) < 0)
    return -ENOMEM;
  m = &p->mappings[p->nmappings];
  memset(m, 0, sizeof(*m));
  m->start = start;
  m->end = end;
  m->pgoff = pgoff;
  m->path = strdup(path && *path ? path : "[anon]");
  if (!m->path)
    return -ENOMEM;
  m->pid = sp->pid;
  m->dso = cpd_symbols_dso(&p->syms, m->path, sp->pid, start, end);
  /* Drop overlapped mappings from the current set, then insert in order. */
  for (i = 0; i < sp->nlive; i++) {
    const struct cpd_mapping *o = &p->mappings[sp->live[i]];

    if (o->end <= start || o->start >= end)
      sp->live[out++] = sp->live[i];
  }
  sp->nlive = out;
  for (i = sp->nlive; i > 0 && p->mappings[sp->live[i - 1]].start > start; i--)
    sp->live[i] = sp->live[i - 1];
  sp->live[i] = (uint32_t)p->nmappings;
  sp->nlive++;
  p->nmappings++;
  /* Addresses may now mean something else. */
  loc_cache_clear(p);
  return 0;
}

static void load_comms(struct cpd_profile *p)
{
  char path[64], comm[32];
  struct dirent *de;
  DIR *dir;

  snprintf(path, sizeof(path), "/proc/%" PRIu32 "/task", SP(p)->pid);
  dir = opendir(path);
  if (!dir)
    return;
  while ((de = readdir(dir)) != NULL) {
    char file[400];
    ssize_t n;
    int fd;

    if (de->d_name[0] == '.')
      continue;
    snprintf(file, sizeof(file), "%s/%s/comm", path, de->d_name);
    fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      continue;
    n = read(fd, comm, sizeof(comm) - 1);
    close(fd);
    if (n <= 0)
      continue;
    comm[n] = '\0';
    comm[strcspn(comm, "\n")] = '\0';
    cpd_profile_set_comm(p, SP(p)->pid, (uint32_t)strtoul(de->d_name, NULL, 10), comm);
  }
  closedir(dir);
}

int cpd_profile_load_proc(struct cpd_profile *p)
{
  char path[64], line[4352];
  FILE *f;

  snprintf(path, sizeof(path), "/proc/%" PRIu32 "/maps", SP(p)->pid);
  f = fopen(path, "r");
  if (!f)
    return -errno;
  while (fgets(line, sizeof(line), f)) {
    unsigned long long start, end, off;
    char perms[8];
    int pos = 0;

    if (sscanf(line, "%llx-%llx %7s %llx %*s %*s%n", &start, &end, perms, &off, &pos) < 4)
      continue;
    if (perms[2] != 'x')
      continue;
    {
      char *name = line + pos;

      while (*name == ' ')
        name++;
      name[strcspn(name, "\n")] = '\0';
      cpd_profile_add_mapping(p, start, end - start, off, name);
    }
  }
  fclose(f);
  load_comms(p);
  return 0;
}

struct live_key {
  const struct cpd_profile *p;
  uint64_t addr;
};

static int live_starts_at_or_before(const void *elem, const void *key)
{
  const struct live_key *k = key;

  return k->p->mappings[*(const uint32_t *)elem].start <= k->addr;
}

static const struct cpd_mapping *find_mapping(const struct cpd_profile *p, uint64_t addr,
                                              uint32_t *index)
{
  const struct cpd_pspace *sp = SP(p);
  struct live_key k = { p, addr };
  size_t lo = cp_lower_bound(sp->live, sp->nlive, sizeof(*sp->live), &k,
                             live_starts_at_or_before);

  if (lo == 0 || addr >= p->mappings[sp->live[lo - 1]].end)
    return NULL;
  *index = sp->live[lo - 1];
  return &p->mappings[*index];
}

const struct cpd_mapping *cpd_profile_mapping(const struct cpd_profile *p, uint64_t addr)
{
  uint32_t index;

  return find_mapping(p, addr, &index);
}

static uint32_t kernel_mapping(struct cpd_profile *p)
{
  for (size_t i = 0; i < p->nmappings; i++)
    if (p->mappings[i].kernel)
      return (uint32_t)i + 1;
  if (cpd_grow(&p->mappings, &p->mappings_cap, p->nmappings, sizeof(*p->mappings)) < 0)
    return 0;
  memset(&p->mappings[p->nmappings], 0, sizeof(p->mappings[0]));
  p->mappings[p->nmappings].start = KERNEL_START;
  p->mappings[p->nmappings].end = UINT64_MAX;
  p->mappings[p->nmappings].path = strdup("[kernel.kallsyms]");
  p->mappings[p->nmappings].kernel = 1;
  return (uint32_t)++p->nmappings;
}

struct func_key {
  const char *name;
  uint32_t mapping;
};

static uint64_t func_key_hash(const char *name, uint32_t mapping)
{
  return cp_hash_u64((uint64_t)(uintptr_t)name ^ ((uint64_t)mapping << 48));
}

static uint64_t func_hash(const void *ctx, uint32_t idx)
{
  const struct cpd_function *f = &((const struct cpd_profile *)ctx)->funcs[idx];

  return func_key_hash(f->name, f->mapping);
}

static int func_eq(const void *ctx, uint32_t idx, const void *key)
{
  const struct cpd_function *f = &((const struct cpd_profile *)ctx)->funcs[idx];
  const struct func_key *k = key;

  return f->name == k->name && f->mapping == k->mapping;
}

static uint32_t intern_function(struct cpd_profile *p, const char *name, uint32_t mapping)
{
  /* Names are interned by their symbol table, so the pointer identifies the function. */
  struct func_key k = { name, mapping };
  uint64_t h = func_key_hash(name, mapping);
  int64_t at = cp_hindex_find(&p->func_index, h, func_eq, p, &k);

  if (at >= 0)
    return (uint32_t)at + 1;
  if (cpd_grow(&p->funcs, &p->funcs_cap, p->nfuncs, sizeof(*p->funcs)) < 0)
    return 0;
  p->funcs[p->nfuncs].name = name;
  p->funcs[p->nfuncs].file = NULL;
  p->funcs[p->nfuncs].display = NULL;
  p->funcs[p->nfuncs].mapping = mapping;
  if (cp_hindex_insert(&p->func_index, h, (uint32_t)p->nfuncs, func_hash, p) < 0)
    return 0;
  p->funcs[p->nfuncs].display = cpd_demangle(name);
  return (uint32_t)++p->nfuncs;
}

/* A new location for ADDR (already adjusted for callers). Returns its index + 1, or 0. */
/* Names FUNCTION's source file, the first time DWARF tells it. */
static void set_function_file(struct cpd_profile *p, uint32_t function, const char *file)
{
  if (function && file && !p->funcs[function - 1].file)
    p->funcs[function - 1].file = file;
}

/* Line numbers and inlined frames of location L from its file's DWARF, when it has any. */
static void add_source_lines(struct cpd_profile *p, struct cpd_location *l, struct cpd_dso *dso,
                             uint64_t vaddr)
{
  struct cpd_srcframe sf[CPD_MAX_INLINE + 1];
  int n = cpd_srcline_lookup(&dso->src, vaddr, sf, CPD_MAX_INLINE + 1);

  if (n <= 0)
    return;
  /* The last frame is the function the symbol names; those before were inlined into it. */
  l->line = sf[n - 1].line;
  set_function_file(p, l->function, sf[n - 1].file);
  if (n == 1)
    return;
  if (cpd_reserve(&p->inl, &p->inl_cap, p->ninl + (size_t)n, sizeof(*p->inl)) < 0)
    return;
  l->inl_off = (uint32_t)p->ninl;
  for (int k = 0; k < n - 1; k++) {
    uint32_t f = intern_function(p, sf[k].function ? sf[k].function : "(inlined)", l->mapping);

    if (!f)
      break;
    set_function_file(p, f, sf[k].file);
    p->inl[p->ninl].function = f;
    p->inl[p->ninl].line = sf[k].line;
    p->ninl++;
    l->ninl++;
  }
}

static uint32_t resolve(struct cpd_profile *p, uint64_t addr, int kernel)
{
  const struct cpd_sym *sym = NULL;
  struct cpd_location *l;
  struct cpd_dso *dso = NULL;
  uint64_t vaddr = UINT64_MAX;
  uint32_t mapping = 0, mi;

  if (addr == UINT64_MAX) {
    /* No address at all (a callchain entry the kernel could not read): "[unknown]", as perf
     * shows it, not the last kernel symbol (ftrace_trampoline). */
  } else if (kernel || addr >= KERNEL_START) {
    mapping = kernel_mapping(p);
    sym = cpd_symbols_kernel(&p->syms, addr);
  } else {
    const struct cpd_mapping *m = find_mapping(p, addr, &mi);

    if (m) {
      mapping = mi + 1;
      if (m->dso && m->dso->readable) {
        uint64_t v = cpd_dso_offset_to_vaddr(m->dso, addr - m->start + m->pgoff);

        cpd_dso_load_debug_symbols(m->dso);
        if (v != UINT64_MAX)
          sym = cpd_dso_lookup(m->dso, v);
        if (sym) {
          dso = m->dso;
          vaddr = v;
        }
      }
    }
    /* Code outside any ELF file (anonymous memory, or mapped before we saw it): a JIT's. */
    if (!m || !m->dso || !m->dso->readable)
      sym = cpd_perfmap_lookup(&SP(p)->perfmap, SP(p)->pid, addr);
  }
  if (cpd_grow(&p->locs, &p->locs_cap, p->nlocs, sizeof(*l)) < 0)
    return 0;
  l = &p->locs[p->nlocs];
  memset(l, 0, sizeof(*l));
  l->address = addr;
  l->mapping = mapping;
  l->function = sym ? intern_function(p, sym->name, mapping) : 0;
  /* No symbol: code in no mapping, or in one without a file ([vdso], [anon:...],
   * [kernel.kallsyms]), is named as perf names it, so pprof shows "[unknown]" and "[vdso]"
   * rather than wrapping the mapping's name in brackets again. */
  if (!sym && (!mapping || p->mappings[mapping - 1].path[0] == '['))
    l->function = intern_function(p, mapping && strcmp(p->mappings[mapping - 1].path,
                                                       "[kernel.kallsyms]") != 0
                                         ? p->mappings[mapping - 1].path : "[unknown]",
                                  mapping);
  if (dso && l->function)
    add_source_lines(p, l, dso, vaddr);
  return (uint32_t)++p->nlocs;
}

static uint64_t loc_hash(const void *ctx, uint32_t idx)
{
  return cp_hash_u64(((const struct cpd_profile *)ctx)->locs[idx].address);
}

static int loc_eq(const void *ctx, uint32_t idx, const void *key)
{
  return ((const struct cpd_profile *)ctx)->locs[idx].address == *(const uint64_t *)key;
}

/* The location of ADDR: resolved once while the mappings stay as they are (the index of
 * locations by address is cleared when they change). */
static uint32_t location_of(struct cpd_profile *p, uint64_t addr, int kernel)
{
  uint64_t h = cp_hash_u64(addr);
  int64_t at = cp_hindex_find(&SP(p)->loc_index, h, loc_eq, p, &addr);
  uint32_t v;

  if (at >= 0)
    return (uint32_t)at + 1;
  v = resolve(p, addr, kernel);
  if (v && cp_hindex_insert(&SP(p)->loc_index, h, v - 1, loc_hash, p) < 0)
    return 0;
  return v;
}

static uint64_t hash_frames(const uint32_t *f, uint32_t n)
{
  return cp_hash_bytes(f, n * sizeof(*f)) ^ n;
}

struct stack_key {
  const uint32_t *f;
  uint32_t n;
  uint32_t truncated;
};

static uint64_t stack_hash(const void *ctx, uint32_t idx)
{
  const struct cpd_profile *p = ctx;

  return hash_frames(p->frames + p->stacks[idx].off, p->stacks[idx].len);
}

static int stack_eq(const void *ctx, uint32_t idx, const void *key)
{
  const struct cpd_profile *p = ctx;
  const struct cpd_stack *s = &p->stacks[idx];
  const struct stack_key *k = key;

  return s->len == k->n && s->truncated == k->truncated &&
         (k->n == 0 || memcmp(p->frames + s->off, k->f, k->n * sizeof(*k->f)) == 0);
}

/* The index of the stack FRAMES[0..n), added if new; UINT32_MAX when out of memory. */
static uint32_t intern_stack(struct cpd_profile *p, const uint32_t *f, uint32_t n, int truncated)
{
  struct stack_key k = { f, n, (uint32_t)truncated };
  uint64_t h = hash_frames(f, n);
  int64_t at = cp_hindex_find(&p->stack_index, h, stack_eq, p, &k);

  if (at >= 0)
    return (uint32_t)at;
  if (cpd_grow(&p->stacks, &p->stacks_cap, p->nstacks, sizeof(*p->stacks)) < 0)
    return UINT32_MAX;
  if (cpd_reserve(&p->frames, &p->frames_cap, p->nframes + n, sizeof(*p->frames)) < 0)
    return UINT32_MAX;
  if (n)
    memcpy(p->frames + p->nframes, f, n * sizeof(*f));
  p->stacks[p->nstacks].off = (uint32_t)p->nframes;
  p->stacks[p->nstacks].len = n;
  p->stacks[p->nstacks].truncated = (uint32_t)truncated;
  if (cp_hindex_insert(&p->stack_index, h, (uint32_t)p->nstacks, stack_hash, p) < 0)
    return UINT32_MAX;
  p->nframes += n;
  return (uint32_t)p->nstacks++;
}

/* A frame with no address, shown as NAME (a string literal: functions are interned by the
 * name's pointer). Returns the location's index + 1, or 0 when out of memory. */
static uint32_t named_location(struct cpd_profile *p, const char *name)
{
  uint32_t f = intern_function(p, name, 0);
  struct cpd_location *l;

  if (!f)
    return 0;
  for (size_t i = p->nlocs; i-- > 0;)
    if (p->locs[i].address == 0 && p->locs[i].function == f)
      return (uint32_t)i + 1;
  if (cpd_grow(&p->locs, &p->locs_cap, p->nlocs, sizeof(*l)) < 0)
    return 0;
  l = &p->locs[p->nlocs];
  memset(l, 0, sizeof(*l));
  l->function = f;
  return (uint32_t)++p->nlocs;
}

/* Resolves FRAMES (leaf first, the first NKERNEL kernel addresses) into a stack index. */
static uint32_t stack_of(struct cpd_profile *p, const uint64_t *frames, uint32_t n, uint32_t nkernel,
                         int truncated)
{
  uint32_t locs[256];
  uint32_t nl = 0;

  for (uint32_t i = 0; i < n && nl < 256; i++) {
    /* Callers' frames are return addresses: look up the call instruction before them. */
    uint64_t addr = i == 0 ? frames[i] : frames[i] - 1;
    uint32_t loc;

    if (i >= nkernel && frames[i] >= KERNEL_START) {
      /* A user frame in kernel space: a frame-pointer walk that went astray through code
       * without frame pointers (libc) and read data. The stack ends before it. */
      truncated = 1;
      break;
    }
    if (frames[i] == CPD_KERNEL_LEAF && i < nkernel)  /* found once, then remembered */
      loc = p->kernel_leaf ? p->kernel_leaf : (p->kernel_leaf = named_location(p, "[kernel]"));
    else
      loc = location_of(p, addr, i < nkernel);

    if (loc)
      locs[nl++] = loc;
  }
  return intern_stack(p, locs, nl, truncated);
}

int cpd_profile_add_sample(struct cpd_profile *p, uint64_t time, uint32_t tid, uint64_t period,
                           const uint64_t *frames, uint32_t n, uint32_t nkernel, int truncated)
{
  uint32_t stack = stack_of(p, frames, n, nkernel, truncated);
  struct cpd_psample *s;

  if (stack == UINT32_MAX || cpd_grow(&p->samples, &p->samples_cap, p->nsamples, sizeof(*s)) < 0)
    return -ENOMEM;
  s = &p->samples[p->nsamples++];
  s->time = time;
  s->period = period;
  s->tid = tid;
  s->stack = stack;
  p->truncated += truncated != 0;
  if (p->first_time == 0 || time < p->first_time)
    p->first_time = time;
  if (time > p->last_time)
    p->last_time = time;
  return 0;
}

static int add_offcpu(struct cpd_profile *p, uint64_t time, uint32_t tid, uint64_t period,
                      uint32_t stack)
{
  struct cpd_psample *s;

  if (stack == UINT32_MAX || cpd_grow(&p->offcpu, &p->offcpu_cap, p->noffcpu, sizeof(*s)) < 0) {
    p->offcpu_dropped++;
    return -ENOMEM;
  }
  s = &p->offcpu[p->noffcpu++];
  s->time = time;
  s->period = period;
  s->tid = tid;
  s->stack = stack;
  return 0;
}

int cpd_profile_add_offcpu(struct cpd_profile *p, uint64_t time, uint32_t tid, const uint64_t *frames,
                           uint32_t n, uint32_t nkernel, int truncated)
{
  /* How long it stays off the CPU is known when it is back (cpd_sched_off). */
  return add_offcpu(p, time, tid, 0, stack_of(p, frames, n, nkernel, truncated));
}

int cpd_profile_add_offcpu_ns(struct cpd_profile *p, uint64_t time, uint32_t tid, uint64_t ns,
                              const uint64_t *frames, uint32_t n, uint32_t nkernel, int truncated,
                              const char *empty)
{
  uint32_t loc;

  if (n > 0 || !empty)
    return add_offcpu(p, time, tid, ns, stack_of(p, frames, n, nkernel, truncated));
  loc = named_location(p, empty);
  return add_offcpu(p, time, tid, ns, loc ? intern_stack(p, &loc, 1, truncated) : UINT32_MAX);
}

const char *cpd_profile_loc_name(const struct cpd_profile *p, uint32_t loc)
{
  const struct cpd_location *l = &p->locs[loc];

  return l->function ? cpd_function_name(&p->funcs[l->function - 1]) : NULL;
}

static int unwind_lookup(void *arg, uint64_t addr, struct cpd_unwind_map *out)
{
  const struct cpd_mapping *m = cpd_profile_mapping(arg, addr);

  if (!m)
    return -1;
  *out = (struct cpd_unwind_map){ m->start, m->end, m->pgoff, m->dso };
  return 0;
}

void cpd_profile_unwind_space(struct cpd_profile *p, struct cpd_unwind_space *out)
{
  *out = (struct cpd_unwind_space){ unwind_lookup, p, p->map_gen };
}
