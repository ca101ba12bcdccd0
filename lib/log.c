/* log.c: ceoprofd's diagnostics: one line each, prefixed with the program name. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>

#include "log.h"

int cpd_verbose;
const char *cpd_log_name = "ceoprofd";

const char *cpd_escape(char *out, size_t size, const char *in)
{
  static const char hex[] = "0123456789abcdef";
  size_t n = 0;

  for (const unsigned char *p = (const unsigned char *)in; *p && n + 5 < size; p++) {
    unsigned char c = *p;

    if (c == '\n' || c == '\t' || c == '\r' || c == '\\') {
      out[n++] = '\\';
      out[n++] = c == '\n' ? 'n' : c == '\t' ? 't' : c == '\r' ? 'r' : '\\';
    } else if (c < 0x20 || c == 0x7f) {
      out[n++] = '\\';
      out[n++] = 'x';
      out[n++] = hex[c >> 4];
      out[n++] = hex[c & 15];
    } else {
      out[n++] = (char)c;
    }
  }
  out[n] = '\0';
  return out;
}

/* One line: whatever a client put in it (a service name with a newline or a terminal's
 * escape codes) can neither start a line of its own nor reach the operator's terminal. */
static void vlog(const char *fmt, va_list ap)
{
  char line[1024], safe[4 * sizeof(line)];

  vsnprintf(line, sizeof(line), fmt, ap);
  fprintf(stderr, "%s: %s\n", cpd_log_name, cpd_escape(safe, sizeof(safe), line));
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
