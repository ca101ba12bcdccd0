/* demangle.h: readable names for mangled C++ and Rust symbols, simplified as pprof shows them. */
#ifndef CPD_DEMANGLE_H
#define CPD_DEMANGLE_H

/*
 * The demangled name of SYM without parameter lists, template arguments and return type
 * (go tool pprof's default), and Rust's trailing hash removed; malloc'd. NULL when SYM is
 * not a mangled name or does not demangle (then SYM is its own name).
 */
char *cpd_demangle(const char *sym);

#endif
