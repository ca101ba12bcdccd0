/* unwind.c: DWARF unwinding of copied user stacks with libunwind's remote API (.eh_frame_hdr). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <libunwind.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <elf.h>

#include "symbolize/regs.h"
#include "symbolize/symbols.h"
#include "symbolize/unwind.h"
#include "util.h"

/* Not in libunwind's public headers; perf declares it the same way. */
extern int UNW_OBJ(dwarf_search_unwind_table)(unw_addr_space_t as, unw_word_t ip,
                                              unw_dyn_info_t *di, unw_proc_info_t *pi,
                                              int need_unwind_info, void *arg);
#define dwarf_search_unwind_table UNW_OBJ(dwarf_search_unwind_table)

/*
 * libunwind, as Debian builds it, blocks every signal around each use of its register-state
 * cache (every step) and memory pool (every unwind-table search): two to four
 * rt_sigprocmask system calls per frame, which cost more than the unwinding itself
 * (bench/RESULTS.md, DWARF section). They guard unwinding a thread's own stack from a
 * signal handler; ceoprof unwinds copies of other processes' stacks and handles no signal
 * asynchronously (they are read from a signalfd). So while a thread unwinds, the calls
 * libunwind makes on it through the PLT return at once; every other call of sigprocmask(),
 * on that thread or any other, gets pthread_sigmask(), which is what glibc's is.
 */
static __thread int unwinding;

int sigprocmask(int how, const sigset_t *set, sigset_t *old);
int sigprocmask(int how, const sigset_t *set, sigset_t *old)
{
  if (unwinding) {
    if (old)
      sigemptyset(old);
    return 0;
  }
  return pthread_sigmask(how, set, old);
}

/* One ELF file as mapped in the target: its unwind table and its bytes. */
struct cpd_unwind_obj {
  const struct cpd_dso *dso;
  uint64_t bias;                 /* process address - ELF virtual address */
  uint64_t lo, hi;               /* process addresses its load segments cover */
  const uint8_t *file;           /* the whole file, mapped read-only; NULL when unusable */
  size_t size;
  uint64_t hdr_vaddr;            /* .eh_frame_hdr (PT_GNU_EH_FRAME) */
  uint64_t fde_count;
};

/* What the accessors see of the sample being unwound. */
struct walk {
  struct cpd_unwind *u;
  const struct cpd_unwind_space *space;
  const uint64_t *regs;
  const uint8_t *stack;
  uint64_t sp, stack_len;
};

/* Reads LEN bytes at process address ADDR of OBJ's file image. 0 or -1. */
static int obj_read(const struct cpd_unwind_obj *o, uint64_t addr, void *out, size_t len)
{
  uint64_t vaddr = addr - o->bias;

  for (size_t i = 0; i < o->dso->nloads; i++) {
    const __typeof__(o->dso->loads[0]) *l = &o->dso->loads[i];

    if (vaddr >= l->vaddr && vaddr + len <= l->vaddr + l->filesz) {
      uint64_t off = l->offset + (vaddr - l->vaddr);

      if (off + len > o->size)
        return -1;
      memcpy(out, o->file + off, len);
      return 0;
    }
  }
  return -1;
}

/* Finds the unwind table of a mapped file: PT_GNU_EH_FRAME and its binary-search table. */
static void obj_load(struct cpd_unwind_obj *o)
{
  const Elf64_Ehdr *eh;
  const uint8_t *h;
  struct stat st;
  int fd = cpd_dso_open(o->dso);  /* the exact file mapped, not whatever its path names now */

  if (fd < 0)
    return;
  if (fstat(fd, &st) == 0 && st.st_size >= (off_t)sizeof(Elf64_Ehdr)) {
    void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);

    if (m != MAP_FAILED) {
      o->file = m;
      o->size = (size_t)st.st_size;
    }
  }
  close(fd);
  if (!o->file)
    return;
  eh = (const Elf64_Ehdr *)o->file;
  if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_ident[EI_CLASS] != ELFCLASS64 ||
      eh->e_phentsize != sizeof(Elf64_Phdr) ||
      eh->e_phoff + (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr) > o->size)
    goto unusable;
  for (int i = 0; i < eh->e_phnum; i++) {
    const Elf64_Phdr *ph = (const Elf64_Phdr *)(o->file + eh->e_phoff) + i;

    if (ph->p_type != PT_GNU_EH_FRAME || ph->p_offset + 12 > o->size)
      continue;
    h = o->file + ph->p_offset;
    /* version 1; eh_frame_ptr pcrel|sdata4 or sdata4/udata4; fde_count udata4; table
     * datarel|sdata4: the layout compilers and linkers write, and all perf reads. */
    if (h[0] != 1 || (h[1] & 0x0f) != 0x0b || h[2] != 0x03 || h[3] != 0x3b)
      break;
    o->hdr_vaddr = ph->p_vaddr;
    o->fde_count = (uint64_t)h[8] | (uint64_t)h[9] << 8 | (uint64_t)h[10] << 16 |
                   (uint64_t)h[11] << 24;
    return;
  }
unusable:
  munmap((void *)o->file, o->size);
  o->file = NULL;
}

/* The object of the mapping M (with its bias), made and loaded on first use. */
static struct cpd_unwind_obj *obj_for(struct cpd_unwind *u, const struct cpd_unwind_map *m)
{
  uint64_t vaddr = cpd_dso_offset_to_vaddr(m->dso, m->pgoff), bias;
  struct cpd_unwind_obj *o;

  if (vaddr == UINT64_MAX)
    return NULL;
  bias = m->start - vaddr;
  for (size_t i = 0; i < u->nobjs; i++)
    if (u->objs[i].dso == m->dso && u->objs[i].bias == bias)
      return &u->objs[i];
  if (cpd_grow(&u->objs, &u->objs_cap, u->nobjs, sizeof(*u->objs)) < 0)
    return NULL;
  o = &u->objs[u->nobjs++];
  memset(o, 0, sizeof(*o));
  o->dso = m->dso;
  o->bias = bias;
  o->lo = UINT64_MAX;
  for (size_t i = 0; i < m->dso->nloads; i++) {
    uint64_t a = m->dso->loads[i].vaddr + bias, b = a + m->dso->loads[i].filesz;

    o->lo = a < o->lo ? a : o->lo;
    o->hi = b > o->hi ? b : o->hi;
  }
  obj_load(o);
  return o;
}

static int find_proc_info(unw_addr_space_t as, unw_word_t ip, unw_proc_info_t *pi,
                          int need_unwind_info, void *arg)
{
  struct walk *w = arg;
  struct cpd_unwind_map map, *m = w->space->lookup(w->space->arg, ip, &map) == 0 ? &map : NULL;
  struct cpd_unwind_obj *o = m && m->dso && m->dso->readable ? obj_for(w->u, m) : NULL;
  unw_dyn_info_t di;

  if (!o || !o->file || !o->fde_count) {
    w->u->no_info++;
    return -UNW_ENOINFO;
  }
  memset(&di, 0, sizeof(di));
  di.format = UNW_INFO_FORMAT_REMOTE_TABLE;
  di.start_ip = m->start;
  di.end_ip = m->end;
  di.u.rti.segbase = o->hdr_vaddr + o->bias;
  di.u.rti.table_data = o->hdr_vaddr + o->bias + 12;
  di.u.rti.table_len = o->fde_count * 8 / sizeof(unw_word_t);
  return dwarf_search_unwind_table(as, ip, &di, pi, need_unwind_info, arg);
}

static void put_unwind_info(unw_addr_space_t as, unw_proc_info_t *pi, void *arg)
{
}

static int get_dyn_info_list_addr(unw_addr_space_t as, unw_word_t *dilap, void *arg)
{
  return -UNW_ENOINFO;
}

/* Memory: the copied stack, else the bytes of a mapped file (its unwind tables). */
static int access_mem(unw_addr_space_t as, unw_word_t addr, unw_word_t *valp, int write, void *arg)
{
  struct walk *w = arg;

  if (write)
    return -UNW_EREADONLYREG;
  if (addr >= w->sp && addr - w->sp + sizeof(*valp) <= w->stack_len) {
    memcpy(valp, w->stack + (addr - w->sp), sizeof(*valp));
    return 0;
  }
  for (size_t i = 0; i < w->u->nobjs; i++) {
    const struct cpd_unwind_obj *o = &w->u->objs[i];

    if (o->file && addr >= o->lo && addr < o->hi)
      return obj_read(o, addr, valp, sizeof(*valp)) == 0 ? 0 : -UNW_EINVAL;
  }
  return -UNW_EINVAL;
}

/* libunwind's x86-64 register numbers to the order perf samples them in. */
static int perf_reg(int regnum)
{
  static const signed char map[] = {
    [UNW_X86_64_RAX] = 0, [UNW_X86_64_RDX] = 3, [UNW_X86_64_RCX] = 2, [UNW_X86_64_RBX] = 1,
    [UNW_X86_64_RSI] = 4, [UNW_X86_64_RDI] = 5, [UNW_X86_64_RBP] = 6, [UNW_X86_64_RSP] = 7,
    [UNW_X86_64_R8] = 16, [UNW_X86_64_R9] = 17, [UNW_X86_64_R10] = 18, [UNW_X86_64_R11] = 19,
    [UNW_X86_64_R12] = 20, [UNW_X86_64_R13] = 21, [UNW_X86_64_R14] = 22, [UNW_X86_64_R15] = 23,
    [UNW_X86_64_RIP] = 8,
  };
  int r;

  if (regnum < 0 || regnum >= (int)sizeof(map))
    return -1;
  r = map[regnum];
  /* Index among the sampled registers: bits below r in the mask. */
  return __builtin_popcountll(CPD_REGS_USER_MASK & ((1ull << r) - 1));
}

static int access_reg(unw_addr_space_t as, unw_regnum_t regnum, unw_word_t *valp, int write,
                      void *arg)
{
  struct walk *w = arg;
  int i = perf_reg(regnum);

  if (write)
    return -UNW_EREADONLYREG;
  if (i < 0 || i >= CPD_REGS_USER_N)
    return -UNW_EBADREG;
  *valp = w->regs[i];
  return 0;
}

static int access_fpreg(unw_addr_space_t as, unw_regnum_t num, unw_fpreg_t *val, int write,
                        void *arg)
{
  return -UNW_EINVAL;
}

static int resume(unw_addr_space_t as, unw_cursor_t *cu, void *arg)
{
  return -UNW_EINVAL;
}

static int get_proc_name(unw_addr_space_t as, unw_word_t addr, char *bufp, size_t buf_len,
                         unw_word_t *offp, void *arg)
{
  return -UNW_EINVAL;
}

static unw_accessors_t accessors = {
  .find_proc_info = find_proc_info,
  .put_unwind_info = put_unwind_info,
  .get_dyn_info_list_addr = get_dyn_info_list_addr,
  .access_mem = access_mem,
  .access_reg = access_reg,
  .access_fpreg = access_fpreg,
  .resume = resume,
  .get_proc_name = get_proc_name,
};

int cpd_unwind_init(struct cpd_unwind *u)
{
  memset(u, 0, sizeof(*u));
  u->as = unw_create_addr_space(&accessors, 0);
  if (!u->as)
    return -ENOMEM;
  /* Unwind information is cached across samples, flushed when mappings change. */
  unw_set_caching_policy(u->as, UNW_CACHE_GLOBAL);
  return 0;
}

void cpd_unwind_free(struct cpd_unwind *u)
{
  for (size_t i = 0; i < u->nobjs; i++)
    if (u->objs[i].file)
      munmap((void *)u->objs[i].file, u->objs[i].size);
  free(u->objs);
  if (u->as)
    unw_destroy_addr_space(u->as);
  memset(u, 0, sizeof(*u));
}

uint32_t cpd_unwind_sample(struct cpd_unwind *u, const struct cpd_unwind_space *space,
                           const uint64_t *regs, const uint8_t *stack, uint64_t stack_len,
                           uint64_t *frames, uint32_t max, int *truncated)
{
  struct walk w = { u, space, regs, stack, regs[perf_reg(UNW_X86_64_RSP)], stack_len };
  unw_cursor_t c;
  struct timespec t0, t1;
  uint32_t n = 0;
  int rc = 0;

  *truncated = 0;
  if (!u->as || max == 0)
    return 0;
  if (u->map_gen != space->map_gen) {
    unw_flush_cache(u->as, 0, 0);
    u->map_gen = space->map_gen;
  }
  u->samples++;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
  unwinding = 1;
  if (unw_init_remote(&c, u->as, &w) < 0) {
    frames[n++] = regs[perf_reg(UNW_X86_64_RIP)];
    *truncated = 1;
    goto out;
  }
  do {
    unw_word_t ip;

    if (unw_get_reg(&c, UNW_REG_IP, &ip) < 0 || ip == 0)
      break;
    frames[n++] = ip;
    rc = n < max ? unw_step(&c) : -1;
  } while (rc > 0);
  *truncated = rc < 0;
out:
  unwinding = 0;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
  u->cpu_ns += (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000000000u + (uint64_t)t1.tv_nsec -
               (uint64_t)t0.tv_nsec;
  u->frames += n;
  u->truncated += *truncated != 0;
  return n;
}
