/*
 * symbols.h: naming addresses. ELF files (.symtab, else .dynsym) read with libelf
 * through /proc/PID/root, cached per file, with their GNU build-id and load segments;
 * kernel symbols from /proc/kallsyms.
 */
#ifndef CPD_SYMBOLS_H
#define CPD_SYMBOLS_H

#include <stddef.h>
#include <stdint.h>

#include "symbolize/srcline.h"

struct cpd_sym {
  uint64_t addr;   /* ELF virtual address */
  uint64_t size;   /* 0 when the symbol table gave none */
  const char *name;
};

struct cpd_dso {
  char *path;               /* as the process mapped it */
  char build_id[41];        /* lowercase hex, "" when the file has none */
  struct cpd_sym *syms;     /* sorted by addr */
  size_t nsyms;
  char *names;              /* all symbol names, one allocation */
  struct { uint64_t offset, vaddr, filesz; } *loads;  /* PT_LOAD segments */
  size_t nloads;
  int readable;             /* the file was opened and parsed as ELF */
  int stripped;             /* no .symtab: names from .dynsym, or from a debug file */
  int debug_tried;          /* cpd_dso_load_debug_symbols() looked for the debug file */
  char *open_path;          /* the path it was opened by (for messages) */
  int has_fd, fd;           /* the file, kept open: the exact one the process mapped
                             * (/proc/PID/map_files), read again by srcline and unwind */
  uint64_t dev, ino;        /* its identity: two files at one path are two DSOs */
  struct cpd_srcline src;   /* its DWARF (line numbers, debug-file symbols) */
};

struct cpd_symbols {
  struct cpd_dso **dsos;    /* every file seen, by path */
  size_t ndsos, dsos_cap;
  struct cpd_sym *kernel;   /* from /proc/kallsyms, sorted */
  size_t nkernel;
  char *kernel_names;
  int kernel_loaded;
  int by_path;              /* files may be opened by path when map_files cannot be: not when
                             * a root daemon reads them for another user */
};

/* The first of the N symbols at V (sorted by address) that starts after ADDR (N when none):
 * the symbol covering ADDR, if any, is the one before it. */
size_t cpd_syms_after(const struct cpd_sym *v, size_t n, uint64_t addr);

void cpd_symbols_init(struct cpd_symbols *s);
void cpd_symbols_free(struct cpd_symbols *s);
/*
 * The DSO of PATH, mapped by PID at [START, END), read on first use: the exact file the
 * process mapped, through /proc/PID/map_files/START-END (so a file bind-mounted over PATH
 * later, or another mount namespace's, is never read instead); by path (through
 * /proc/PID/root) only when that cannot be opened and S->by_path allows it. Never NULL unless
 * out of memory; an unreadable file gives a DSO with readable == 0.
 */
struct cpd_dso *cpd_symbols_dso(struct cpd_symbols *s, const char *path, uint32_t pid,
                                uint64_t start, uint64_t end);
/* A descriptor of D's file for the caller to own (a dup of the one kept), or -1. */
int cpd_dso_open(const struct cpd_dso *d);
/* Loads one ELF file from FD into D. 0 or -errno. */
int cpd_dso_load_fd(struct cpd_dso *d, int fd);
void cpd_dso_free(struct cpd_dso *d);
/* The ELF virtual address of file offset OFF, or UINT64_MAX when no segment holds it. */
uint64_t cpd_dso_offset_to_vaddr(const struct cpd_dso *d, uint64_t off);
/*
 * A file stripped of .symtab: every function's name from its separate debug file (found by
 * build-id or .gnu_debuglink, as elfutils finds it), when there is one with more symbols
 * than .dynsym gave. Once per file, on the first address looked up in it: opening a debug
 * file can take tens of milliseconds (libc's, compressed), paid only where samples land.
 */
void cpd_dso_load_debug_symbols(struct cpd_dso *d);
/* The symbol covering VADDR, or NULL. */
const struct cpd_sym *cpd_dso_lookup(const struct cpd_dso *d, uint64_t vaddr);
/* The kernel symbol covering IP (kallsyms loaded on first use), or NULL. */
const struct cpd_sym *cpd_symbols_kernel(struct cpd_symbols *s, uint64_t ip);

#endif
