/* srcline.c: line numbers and inlined frames with libdwfl, one Dwfl per file (see srcline.h). */
#include "config.h"

#include <dwarf.h>
#include <fcntl.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <stdlib.h>

#include "symbolize/srcline.h"

static char *debuginfo_path;  /* NULL: elfutils' default (.debug, /usr/lib/debug) */

static const Dwfl_Callbacks callbacks = {
  .find_elf = dwfl_build_id_find_elf,
  .find_debuginfo = dwfl_standard_find_debuginfo,
  .section_address = dwfl_offline_section_address,
  .debuginfo_path = &debuginfo_path,
};

/* The Dwfl of D's file at bias 0 (p_vaddr + 0): its addresses are ELF virtual addresses. */
static Dwfl *dwfl_of(struct cpd_srcline *d)
{
  Dwfl *dwfl;

  if (d->dwfl || d->failed)
    return d->dwfl;
  d->failed = 1;
  if (!d->open_path)
    return NULL;
  dwfl = dwfl_begin(&callbacks);
  if (!dwfl)
    return NULL;
  /* libdwfl takes the descriptor it is given: a duplicate of the DSO's, the exact file the
   * process mapped (its path may now name another one). */
  if (!dwfl_report_elf(dwfl, d->path, d->open_path,
                       d->fd > 0 ? fcntl(d->fd, F_DUPFD_CLOEXEC, 0) : -1, 0, true) ||
      dwfl_report_end(dwfl, NULL, NULL) != 0) {
    dwfl_end(dwfl);
    return NULL;
  }
  d->dwfl = dwfl;
  d->failed = 0;
  return dwfl;
}

static const char *die_function_name(Dwarf_Die *die)
{
  Dwarf_Attribute a;
  const char *name = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_linkage_name, &a));

  if (!name)
    name = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &a));
  return name ? name : dwarf_diename(die);
}

static uint32_t die_udata(Dwarf_Die *die, unsigned attr)
{
  Dwarf_Attribute a;
  Dwarf_Word v;

  return dwarf_formudata(dwarf_attr(die, attr, &a), &v) == 0 ? (uint32_t)v : 0;
}

/* The first function-like scope in SCOPES[FROM..N): copied to OUT. */
static int function_scope(Dwarf_Die *scopes, int n, int from, Dwarf_Die *out)
{
  for (int i = from; i < n; i++) {
    int tag = dwarf_tag(&scopes[i]);

    if (tag == DW_TAG_subprogram || tag == DW_TAG_inlined_subroutine ||
        tag == DW_TAG_entry_point) {
      *out = scopes[i];
      return 1;
    }
  }
  return 0;
}

static int first_module(Dwfl_Module *mod, void **userdata, const char *name, Dwarf_Addr start,
                        void *arg)
{
  *(Dwfl_Module **)arg = mod;
  return DWARF_CB_ABORT;
}

int cpd_srcline_symbols(struct cpd_srcline *d,
                        void (*fn)(void *arg, uint64_t addr, uint64_t size, const char *name),
                        void *arg)
{
  Dwfl *dwfl = dwfl_of(d);
  Dwfl_Module *mod = NULL;
  int n, count = 0;

  if (!dwfl)
    return -1;
  dwfl_getmodules(dwfl, first_module, &mod, 0);
  if (!mod || (n = dwfl_module_getsymtab(mod)) < 0)
    return -1;
  for (int i = 1; i < n; i++) {
    GElf_Sym sym;
    GElf_Addr addr;
    const char *name = dwfl_module_getsym_info(mod, i, &sym, &addr, NULL, NULL, NULL);

    if (!name || !*name || addr == 0 || sym.st_shndx == SHN_UNDEF ||
        (GELF_ST_TYPE(sym.st_info) != STT_FUNC && GELF_ST_TYPE(sym.st_info) != STT_GNU_IFUNC))
      continue;
    fn(arg, addr, sym.st_size, name);
    count++;
  }
  return count;
}

int cpd_srcline_lookup(struct cpd_srcline *d, uint64_t vaddr, struct cpd_srcframe *out, int max)
{
  Dwfl *dwfl = dwfl_of(d);
  Dwfl_Module *mod;
  Dwfl_Line *line;
  Dwarf_Die *cudie, *scopes = NULL;
  Dwarf_Addr bias = 0;
  Dwarf_Files *files = NULL;
  size_t nfiles = 0;
  const char *file;
  Dwarf_Die cur;
  int lineno = 0, nscopes, n = 0, have;

  if (!dwfl || max <= 0)
    return 0;
  mod = dwfl_addrmodule(dwfl, vaddr);
  cudie = mod ? dwfl_module_addrdie(mod, vaddr, &bias) : NULL;
  line = mod ? dwfl_module_getsrc(mod, vaddr) : NULL;
  if (!cudie || !line)
    return 0;
  file = dwfl_lineinfo(line, NULL, &lineno, NULL, NULL, NULL);
  dwarf_getsrcfiles(cudie, &files, &nfiles);
  /* The innermost function scope at the address; then, from each inlined instance, the
   * scopes that contain it in its caller (dwarf_getscopes goes from an inlined instance
   * to where its abstract definition is, not to its caller: as eu-addr2line does). */
  nscopes = dwarf_getscopes(cudie, vaddr - bias, &scopes);
  have = function_scope(scopes, nscopes, 0, &cur);
  free(scopes);
  while (have && n < max) {
    int tag = dwarf_tag(&cur);

    out[n].function = die_function_name(&cur);
    out[n].file = file;
    out[n].line = lineno > 0 ? (uint32_t)lineno : 0;
    n++;
    if (tag != DW_TAG_inlined_subroutine)
      break;
    {
      uint32_t fi = die_udata(&cur, DW_AT_call_file);

      file = files && fi < nfiles ? dwarf_filesrc(files, fi, NULL, NULL) : NULL;
      lineno = (int)die_udata(&cur, DW_AT_call_line);
    }
    scopes = NULL;
    nscopes = dwarf_getscopes_die(&cur, &scopes);  /* scopes[0] is CUR itself */
    have = function_scope(scopes, nscopes, 1, &cur);
    free(scopes);
  }
  if (n == 0) {  /* no scope found: the line alone */
    out[0].function = NULL;
    out[0].file = file;
    out[0].line = lineno > 0 ? (uint32_t)lineno : 0;
    n = 1;
  }
  return n;
}

void cpd_srcline_free(struct cpd_srcline *d)
{
  if (d->dwfl)
    dwfl_end(d->dwfl);
  d->dwfl = NULL;
}
