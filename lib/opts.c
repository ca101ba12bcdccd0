/* opts.c: parsing the option values ceoprofd and the ceoprof command share. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "opts.h"

int cp_parse_u32(const char *s, uint32_t max, uint32_t *out)
{
  char *end;
  unsigned long v;

  errno = 0;
  v = strtoul(s, &end, 10);
  if (errno || *end || end == s || *s == '-' || v == 0 || v > max)
    return -EINVAL;
  *out = (uint32_t)v;
  return 0;
}

int cp_parse_u64(const char *s, uint64_t *out)
{
  char *end;
  unsigned long long v;

  errno = 0;
  v = strtoull(s, &end, 10);
  if (errno || *end || end == s || *s == '-')
    return -EINVAL;
  *out = (uint64_t)v;
  return 0;
}

int cp_is_http_url(const char *s)
{
  return strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0;
}

int cp_parse_seconds(const char *s, double min, double *out)
{
  char *end;
  double v;

  errno = 0;
  v = strtod(s, &end);
  if (errno || *end || end == s || !(v >= min) || v <= 0)
    return -EINVAL;
  *out = v;
  return 0;
}

uint32_t cp_dwarf_stack_size(uint64_t bytes)
{
  return bytes >= CP_DWARF_STACK_MAX ? CP_DWARF_STACK_MAX : (uint32_t)((bytes + 7) & ~7ull);
}

int cp_parse_call_graph(const char *arg, uint32_t *dwarf_stack, char *err, size_t errlen)
{
  uint32_t size;

  if (strcmp(arg, "fp") == 0) {
    *dwarf_stack = 0;
    return 0;
  }
  if (strcmp(arg, "dwarf") == 0) {
    *dwarf_stack = CP_DWARF_STACK_DEFAULT;
    return 0;
  }
  if (strncmp(arg, "dwarf,", 6) == 0) {
    if (cp_parse_u32(arg + 6, CP_DWARF_STACK_MAX, &size) < 0) {
      snprintf(err, errlen, "--call-graph dwarf,SIZE takes a stack size in bytes from 8 to %u, "
               "not '%s'", CP_DWARF_STACK_MAX, arg + 6);
      return -EINVAL;
    }
    *dwarf_stack = cp_dwarf_stack_size(size);
    return 0;
  }
  snprintf(err, errlen, "--call-graph takes fp (frame pointers) or dwarf[,SIZE] (for code "
           "built without frame pointers), not '%s'", arg);
  return -EINVAL;
}
