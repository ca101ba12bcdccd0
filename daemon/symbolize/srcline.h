/*
 * srcline.h: source files, line numbers and inlined frames for addresses in an ELF file,
 * from its DWARF through elfutils' libdwfl, which also finds separate debug files (by
 * build-id under /usr/lib/debug/.build-id, and by .gnu_debuglink).
 */
#ifndef CPD_SRCLINE_H
#define CPD_SRCLINE_H

#include <stdint.h>

/* One ELF file's DWARF, opened through libdwfl on first use. */
struct cpd_srcline {
  const char *path;       /* the file's name as the process mapped it */
  const char *open_path;  /* where it was opened (for messages); NULL when it cannot be read */
  int fd;                 /* the open file (the DSO's: duplicated, not taken) */
  void *dwfl;             /* libdwfl's handle, made on first use */
  int failed;             /* no DWARF could be opened: not tried again */
};

struct cpd_srcframe {
  const char *function;   /* DWARF name (the linkage name when there is one); NULL if unnamed */
  const char *file;       /* source file, NULL when unknown */
  uint32_t line;          /* 0 when unknown */
};

/*
 * The source frames of VADDR (an ELF virtual address in D): the inlined functions, innermost
 * first, then the function they were inlined into, at most MAX. Returns how many (0 when the
 * file has no line information). Strings live as long as D.
 */
int cpd_srcline_lookup(struct cpd_srcline *d, uint64_t vaddr, struct cpd_srcframe *out, int max);
/*
 * Calls FN with each function symbol (ELF virtual address, size, name) of the symbol table
 * libdwfl finds for D: the file's own .symtab, else its separate debug file's (by build-id
 * or .gnu_debuglink), else .dynsym. Names live as long as D's Dwfl. Returns how many, or -1
 * when the file cannot be opened.
 */
int cpd_srcline_symbols(struct cpd_srcline *d,
                        void (*fn)(void *arg, uint64_t addr, uint64_t size, const char *name),
                        void *arg);
/* Frees what cpd_srcline_lookup keeps in D. */
void cpd_srcline_free(struct cpd_srcline *d);

#endif
