/* opts.h: parsing the option values ceoprofd and the ceoprof command share. */
#ifndef CP_OPTS_H
#define CP_OPTS_H

#include <stddef.h>
#include <stdint.h>

#define CP_DWARF_STACK_DEFAULT 8192u   /* bytes of user stack per sample, as perf */
#define CP_DWARF_STACK_MAX 65528u      /* the kernel's limit (under 64 KiB, 8-byte multiple) */
#define CP_MAX_HZ 100000               /* the highest -F either accepts */

/* A whole number from 1 to MAX (a pid, a rate, milliseconds). 0 or -EINVAL. */
int cp_parse_u32(const char *s, uint32_t max, uint32_t *out);
/* A whole number, 0 included (Unix seconds, counts). 0 or -EINVAL. */
int cp_parse_u64(const char *s, uint64_t *out);
/* Whether S is an http:// or https:// URL. */
int cp_is_http_url(const char *s);
/* A number of seconds at least MIN (a duration, a window). 0 or -EINVAL. */
int cp_parse_seconds(const char *s, double min, double *out);
/*
 * --call-graph MODE: "fp" (*DWARF_STACK = 0), "dwarf" (the default size) or "dwarf,SIZE".
 * 0, or -EINVAL with why in ERR.
 */
int cp_parse_call_graph(const char *arg, uint32_t *dwarf_stack, char *err, size_t errlen);
/* BYTES of stack as the kernel takes it: rounded up to 8, at most CP_DWARF_STACK_MAX. */
uint32_t cp_dwarf_stack_size(uint64_t bytes);

#endif
