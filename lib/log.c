/* log.c: ceoprofd's diagnostics: one line each, prefixed with the program name. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>

#include "log.h"

int cpd_verbose;
const char *cpd_log_name = "ceoprofd";

static void vlog(const char *fmt, va_list ap)
{
  char line[1024];

  vsnprintf(line, sizeof(line), fmt, ap);
  fprintf(stderr, "%s: %s\n", cpd_log_name, line);
}

void cpd_log(const char *fmt, ...)
{
  va_list ap;

  va_start(ap, fmt);
  vlog(fmt, ap);
  va_end(ap);
}

void cpd_debug(const char *fmt, ...)
{
  va_list ap;

  if (!cpd_verbose)
    return;
  va_start(ap, fmt);
  vlog(fmt, ap);
  va_end(ap);
}
