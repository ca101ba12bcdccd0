/* demangle.c: C++ (Itanium ABI) and legacy Rust symbols through libstdc++'s demangler. */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "symbolize/demangle.h"

/* libstdc++'s C entry point (cxxabi.h is C++ only). */
char *__cxa_demangle(const char *mangled, char *buf, size_t *len, int *status);

/* Drops every (...) and <...> group except "(anonymous namespace)", in place. */
static void simplify(char *s)
{
  static const char anon[] = "(anonymous namespace)";
  char *out = s;
  int depth = 0;

  for (char *p = s; *p; p++) {
    if (depth == 0 && strncmp(p, anon, sizeof(anon) - 1) == 0) {
      memcpy(out, anon, sizeof(anon) - 1);
      out += sizeof(anon) - 1;
      p += sizeof(anon) - 2;
      continue;
    }
    /* "operator<", "operator()" and friends keep their punctuation. */
    if (depth == 0 && out - s >= 8 && strncmp(out - 8, "operator", 8) == 0 &&
        strchr("<>()", *p)) {
      *out++ = *p;
      if ((*p == '(' && p[1] == ')') || (*p == '<' && p[1] == '<') || (*p == '>' && p[1] == '>'))
        *out++ = *++p;
      continue;
    }
    if (*p == '(' || *p == '<') {
      depth++;
      continue;
    }
    if ((*p == ')' || *p == '>') && depth > 0) {
      depth--;
      continue;
    }
    if (depth == 0)
      *out++ = *p;
  }
  /* What followed the last parameter list (" const", " &&") goes too. */
  while (out > s && (out[-1] == ' '))
    out--;
  *out = '\0';
  for (char *q; (q = strstr(s, " const")) && q[6] == '\0';)
    *q = '\0';
}

/* Rust's legacy mangling ends in "::h" and 16 hex digits: a hash, not a name. */
static void strip_rust_hash(char *s)
{
  size_t n = strlen(s);

  if (n > 19 && strncmp(s + n - 19, "::h", 3) == 0) {
    for (size_t i = n - 16; i < n; i++)
      if (!isxdigit((unsigned char)s[i]))
        return;
    s[n - 19] = '\0';
  }
}

char *cpd_demangle(const char *sym)
{
  char *d;
  int status = -1;

  if (!sym || strncmp(sym, "_Z", 2) != 0)
    return NULL;
  d = __cxa_demangle(sym, NULL, NULL, &status);
  if (status != 0 || !d) {
    free(d);
    return NULL;
  }
  strip_rust_hash(d);
  simplify(d);
  if (!*d) {
    free(d);
    return NULL;
  }
  return d;
}
