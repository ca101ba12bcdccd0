/* symbols.c: ELF symbol tables (libelf), build-ids (libdw's dwelf) and /proc/kallsyms. */
#include "config.h"

#include <elfutils/libdwelf.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hindex.h"
#include "symbolize/srcline.h"
#include "symbolize/symbols.h"
#include "util.h"

void cpd_symbols_init(struct cpd_symbols *s)
{
  memset(s, 0, sizeof(*s));
  s->by_path = 1;
  elf_version(EV_CURRENT);
}

void cpd_dso_free(struct cpd_dso *d)
{
  if (!d)
    return;
  cpd_srcline_free(&d->src);
  if (d->has_fd)
    close(d->fd);
  free(d->open_path);
  free(d->path);
  free(d->syms);
  free(d->names);
  free(d->loads);
  free(d);
}

void cpd_symbols_free(struct cpd_symbols *s)
{
  for (size_t i = 0; i < s->ndsos; i++)
    cpd_dso_free(s->dsos[i]);
  free(s->dsos);
  free(s->kernel);
  free(s->kernel_names);
  memset(s, 0, sizeof(*s));
}

static int cmp_sym(const void *a, const void *b)
{
  const struct cpd_sym *x = a, *y = b;

  if (x->addr != y->addr)
    return x->addr < y->addr ? -1 : 1;
  /* Among aliases, prefer the one with a size, then the shorter name. */
  if ((x->size == 0) != (y->size == 0))
    return x->size == 0 ? 1 : -1;
  return (int)strlen(x->name) - (int)strlen(y->name);
}

/* Keeps one symbol per address (the first after sorting). */
static size_t dedupe(struct cpd_sym *v, size_t n)
{
  size_t out = 0;

  for (size_t i = 0; i < n; i++)
    if (out == 0 || v[out - 1].addr != v[i].addr)
      v[out++] = v[i];
  return out;
}

static int read_symtab(struct cpd_dso *d, Elf *elf, Elf_Scn *scn, GElf_Shdr *sh)
{
  Elf_Data *data = elf_getdata(scn, NULL);
  size_t n, names_len = 0, used = 0;

  if (!data || sh->sh_entsize == 0)
    return -EINVAL;
  n = sh->sh_size / sh->sh_entsize;
  d->syms = calloc(n ? n : 1, sizeof(*d->syms));
  if (!d->syms)
    return -ENOMEM;
  /* First pass: how many bytes of names. */
  for (size_t i = 0; i < n; i++) {
    GElf_Sym sym;
    const char *name;

    if (!gelf_getsym(data, (int)i, &sym) || sym.st_value == 0 || sym.st_shndx == SHN_UNDEF)
      continue;
    if (GELF_ST_TYPE(sym.st_info) != STT_FUNC && GELF_ST_TYPE(sym.st_info) != STT_GNU_IFUNC)
      continue;
    name = elf_strptr(elf, sh->sh_link, sym.st_name);
    if (name && *name)
      names_len += strlen(name) + 1;
  }
  d->names = malloc(names_len ? names_len : 1);
  if (!d->names)
    return -ENOMEM;
  for (size_t i = 0; i < n; i++) {
    GElf_Sym sym;
    const char *name;
    size_t len;

    if (!gelf_getsym(data, (int)i, &sym) || sym.st_value == 0 || sym.st_shndx == SHN_UNDEF)
      continue;
    if (GELF_ST_TYPE(sym.st_info) != STT_FUNC && GELF_ST_TYPE(sym.st_info) != STT_GNU_IFUNC)
      continue;
    name = elf_strptr(elf, sh->sh_link, sym.st_name);
    if (!name || !*name)
      continue;
    len = strlen(name) + 1;
    if (used + len > names_len)
      break;
    memcpy(d->names + used, name, len);
    d->syms[d->nsyms].addr = sym.st_value;
    d->syms[d->nsyms].size = sym.st_size;
    d->syms[d->nsyms].name = d->names + used;
    d->nsyms++;
    used += len;
  }
  cpd_qsort(d->syms, d->nsyms, sizeof(*d->syms), cmp_sym);
  d->nsyms = dedupe(d->syms, d->nsyms);
  return 0;
}

int cpd_dso_load_fd(struct cpd_dso *d, int fd)
{
  Elf *elf = elf_version(EV_CURRENT) != EV_NONE ? elf_begin(fd, ELF_C_READ_MMAP, NULL) : NULL;
  Elf_Scn *scn = NULL, *symtab = NULL, *dynsym = NULL;
  GElf_Shdr sh, symtab_sh, dynsym_sh;
  const void *bid = NULL;
  size_t nphdr = 0;
  ssize_t bid_len;
  int rc = 0;

  if (!elf || elf_kind(elf) != ELF_K_ELF) {
    rc = -ENOEXEC;
    goto out;
  }
  if (elf_getphdrnum(elf, &nphdr) == 0 && nphdr > 0) {
    d->loads = calloc(nphdr, sizeof(*d->loads));
    if (!d->loads) {
      rc = -ENOMEM;
      goto out;
    }
    for (size_t i = 0; i < nphdr; i++) {
      GElf_Phdr ph;

      if (gelf_getphdr(elf, (int)i, &ph) && ph.p_type == PT_LOAD) {
        d->loads[d->nloads].offset = ph.p_offset;
        d->loads[d->nloads].vaddr = ph.p_vaddr;
        d->loads[d->nloads].filesz = ph.p_filesz;
        d->nloads++;
      }
    }
  }
  bid_len = dwelf_elf_gnu_build_id(elf, &bid);
  if (bid_len > 0 && bid_len <= 20)
    for (ssize_t i = 0; i < bid_len; i++)
      snprintf(d->build_id + 2 * i, 3, "%02x", ((const uint8_t *)bid)[i]);
  while ((scn = elf_nextscn(elf, scn)) != NULL) {
    if (!gelf_getshdr(scn, &sh))
      continue;
    if (sh.sh_type == SHT_SYMTAB) {
      symtab = scn;
      symtab_sh = sh;
    } else if (sh.sh_type == SHT_DYNSYM) {
      dynsym = scn;
      dynsym_sh = sh;
    }
  }
  /* .symtab has every function; a stripped file still has its exported ones in .dynsym. */
  if (symtab)
    rc = read_symtab(d, elf, symtab, &symtab_sh);
  d->stripped = !symtab || d->nsyms == 0;
  if ((!symtab || d->nsyms == 0) && dynsym) {
    free(d->syms);
    free(d->names);
    d->syms = NULL;
    d->names = NULL;
    d->nsyms = 0;
    rc = read_symtab(d, elf, dynsym, &dynsym_sh);
  }
  if (rc == 0)
    d->readable = 1;
out:
  if (elf)
    elf_end(elf);
  return rc;
}

/* Collects symbols in two passes: the first counts (names NULL), the second copies. */
struct sym_collect {
  struct cpd_dso *d;
  size_t n, names_len, used;
};

static void collect_sym(void *arg, uint64_t addr, uint64_t size, const char *name)
{
  struct sym_collect *c = arg;
  size_t len = strlen(name) + 1;

  if (!c->d->names) {
    c->n++;
    c->names_len += len;
    return;
  }
  if (c->d->nsyms == c->n || c->used + len > c->names_len)
    return;
  memcpy(c->d->names + c->used, name, len);
  c->d->syms[c->d->nsyms++] = (struct cpd_sym){ addr, size, c->d->names + c->used };
  c->used += len;
}

void cpd_dso_load_debug_symbols(struct cpd_dso *d)
{
  struct cpd_dso tmp = *d;
  struct sym_collect c = { &tmp, 0, 0, 0 };

  if (!d->stripped || d->debug_tried || !d->open_path)
    return;
  d->debug_tried = 1;
  tmp.names = NULL;
  if (cpd_srcline_symbols(&d->src, collect_sym, &c) <= (int)d->nsyms)
    return;
  tmp.syms = calloc(c.n, sizeof(*tmp.syms));
  tmp.names = malloc(c.names_len ? c.names_len : 1);
  tmp.nsyms = 0;
  if (!tmp.syms || !tmp.names) {
    free(tmp.syms);
    free(tmp.names);
    return;
  }
  cpd_srcline_symbols(&d->src, collect_sym, &c);
  free(d->syms);
  free(d->names);
  d->syms = tmp.syms;
  d->names = tmp.names;
  cpd_qsort(d->syms, tmp.nsyms, sizeof(*d->syms), cmp_sym);
  d->nsyms = dedupe(d->syms, tmp.nsyms);
}

int cpd_dso_open(const struct cpd_dso *d)
{
  return d->has_fd ? fcntl(d->fd, F_DUPFD_CLOEXEC, 0) : -1;
}

/* The file PID mapped at [START, END), or -1. */
static int open_mapped(uint32_t pid, uint64_t start, uint64_t end, char *full, size_t size)
{
  if (!pid || start >= end ||
      snprintf(full, size, "/proc/%" PRIu32 "/map_files/%" PRIx64 "-%" PRIx64, pid, start, end) >=
          (int)size)
    return -1;
  return open(full, O_RDONLY | O_CLOEXEC);
}

struct cpd_dso *cpd_symbols_dso(struct cpd_symbols *s, const char *path, uint32_t pid,
                                uint64_t start, uint64_t end)
{
  struct cpd_dso *d;
  struct stat st;
  char full[4096];
  int fd = path[0] == '/' ? open_mapped(pid, start, end, full, sizeof(full)) : -1;
  int have_id = fd >= 0 && fstat(fd, &st) == 0;

  for (size_t i = 0; i < s->ndsos; i++)
    if (strcmp(s->dsos[i]->path, path) == 0 &&
        (!have_id || !s->dsos[i]->has_fd ||
         (s->dsos[i]->dev == (uint64_t)st.st_dev && s->dsos[i]->ino == (uint64_t)st.st_ino))) {
      if (fd >= 0)
        close(fd);
      return s->dsos[i];
    }
  if (cpd_grow(&s->dsos, &s->dsos_cap, s->ndsos, sizeof(*s->dsos)) < 0)
    goto fail;
  d = calloc(1, sizeof(*d));
  if (!d || !(d->path = strdup(path))) {
    free(d);
    goto fail;
  }
  s->dsos[s->ndsos++] = d;
  if (path[0] != '/')
    return d;  /* [vdso], [heap], anonymous: nothing to read */
  /* Not the mapped file itself: the target's view of the file system (containers), else
   * ours, where the caller may read by path. */
  if (fd < 0 && s->by_path) {
    if (pid && snprintf(full, sizeof(full), "/proc/%" PRIu32 "/root%s", pid, path) < (int)sizeof(full))
      fd = open(full, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      fd = open(path, O_RDONLY | O_CLOEXEC);
      snprintf(full, sizeof(full), "%s", path);
    }
    have_id = fd >= 0 && fstat(fd, &st) == 0;
  }
  if (fd >= 0) {
    if (cpd_dso_load_fd(d, fd) == 0 && (d->open_path = strdup(full)) != NULL) {
      d->has_fd = 1;
      d->fd = fd;
      if (have_id) {
        d->dev = (uint64_t)st.st_dev;
        d->ino = (uint64_t)st.st_ino;
      }
      d->src.path = d->path;        /* for srcline.c, which reads it again when asked */
      d->src.open_path = d->open_path;
      d->src.fd = fd;
      return d;
    }
    close(fd);
  }
  return d;
fail:
  if (fd >= 0)
    close(fd);
  return NULL;
}

uint64_t cpd_dso_offset_to_vaddr(const struct cpd_dso *d, uint64_t off)
{
  for (size_t i = 0; i < d->nloads; i++)
    if (off >= d->loads[i].offset && off < d->loads[i].offset + d->loads[i].filesz)
      return off - d->loads[i].offset + d->loads[i].vaddr;
  return UINT64_MAX;
}

static int sym_at_or_before(const void *elem, const void *key)
{
  return ((const struct cpd_sym *)elem)->addr <= *(const uint64_t *)key;
}

size_t cpd_syms_after(const struct cpd_sym *v, size_t n, uint64_t addr)
{
  return cp_lower_bound(v, n, sizeof(*v), &addr, sym_at_or_before);
}

static const struct cpd_sym *lookup(const struct cpd_sym *v, size_t n, uint64_t addr)
{
  size_t lo = cpd_syms_after(v, n, addr);

  if (lo == 0)
    return NULL;
  /* A sized symbol covers [addr, addr+size); an unsized one runs to the next symbol. */
  if (v[lo - 1].size && addr >= v[lo - 1].addr + v[lo - 1].size)
    return NULL;
  return &v[lo - 1];
}

const struct cpd_sym *cpd_dso_lookup(const struct cpd_dso *d, uint64_t vaddr)
{
  return lookup(d->syms, d->nsyms, vaddr);
}

static void load_kallsyms(struct cpd_symbols *s)
{
  FILE *f = fopen("/proc/kallsyms", "r");
  size_t cap = 0, names_cap = 0, names_len = 0;
  char line[512];

  s->kernel_loaded = 1;
  if (!f)
    return;
  /* First collect names as offsets; the name block may move while it grows. */
  while (fgets(line, sizeof(line), f)) {
    unsigned long long addr;
    char type, name[256];
    size_t len;

    if (sscanf(line, "%llx %c %255s", &addr, &type, name) != 3 || addr == 0)
      continue;
    if (type != 't' && type != 'T' && type != 'w' && type != 'W')
      continue;
    len = strlen(name) + 1;
    if (cpd_grow(&s->kernel, &cap, s->nkernel, sizeof(*s->kernel)) < 0 ||
        cpd_reserve(&s->kernel_names, &names_cap, names_len + len, 1) < 0)
      break;
    memcpy(s->kernel_names + names_len, name, len);
    s->kernel[s->nkernel].addr = addr;
    s->kernel[s->nkernel].size = 0;
    s->kernel[s->nkernel].name = (const char *)(uintptr_t)names_len;
    s->nkernel++;
    names_len += len;
  }
  fclose(f);
  for (size_t i = 0; i < s->nkernel; i++)
    s->kernel[i].name = s->kernel_names + (uintptr_t)s->kernel[i].name;
  cpd_qsort(s->kernel, s->nkernel, sizeof(*s->kernel), cmp_sym);
  s->nkernel = dedupe(s->kernel, s->nkernel);
}

const struct cpd_sym *cpd_symbols_kernel(struct cpd_symbols *s, uint64_t ip)
{
  if (!s->kernel_loaded)
    load_kallsyms(s);
  return lookup(s->kernel, s->nkernel, ip);
}
