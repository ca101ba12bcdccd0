/* jsonw.c: JSON string escaping with UTF-8 validation, and exact microsecond numbers. */
#include "config.h"

#include <inttypes.h>

#include "output/jsonw.h"

/* Length of the valid UTF-8 sequence at S, or 0 when it is not valid. */
static int utf8_len(const unsigned char *s)
{
  if (s[0] < 0x80)
    return 1;
  if (s[0] >= 0xc2 && s[0] <= 0xdf)
    return (s[1] & 0xc0) == 0x80 ? 2 : 0;
  if (s[0] >= 0xe0 && s[0] <= 0xef) {
    if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
      return 0;
    if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0))
      return 0;  /* overlong, or a UTF-16 surrogate */
    return 3;
  }
  if (s[0] >= 0xf0 && s[0] <= 0xf4) {
    if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80)
      return 0;
    if ((s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] >= 0x90))
      return 0;
    return 4;
  }
  return 0;
}

void cpd_json_str(FILE *f, const char *str)
{
  const unsigned char *s = (const unsigned char *)(str ? str : "");

  putc('"', f);
  while (*s) {
    const unsigned char *run = s;
    int n;

    /* Printable ASCII other than the two escaped: written as one run. */
    while (*s >= 0x20 && *s < 0x7f && *s != '"' && *s != '\\')
      s++;
    if (s > run)
      fwrite_unlocked(run, 1, (size_t)(s - run), f);
    if (!*s)
      break;
    n = utf8_len(s);

    if (n == 0) {
      fputs("\xef\xbf\xbd", f);
      s++;
      continue;
    }
    if (n > 1) {
      fwrite(s, 1, (size_t)n, f);
      s += n;
      continue;
    }
    switch (*s) {
    case '"':
      fputs("\\\"", f);
      break;
    case '\\':
      fputs("\\\\", f);
      break;
    case '\n':
      fputs("\\n", f);
      break;
    case '\r':
      fputs("\\r", f);
      break;
    case '\t':
      fputs("\\t", f);
      break;
    default:
      if (*s < 0x20 || *s == 0x7f)
        fprintf(f, "\\u%04x", *s);
      else
        putc(*s, f);
    }
    s++;
  }
  putc('"', f);
}

void cpd_json_u64(FILE *f, uint64_t v)
{
  char buf[20];
  size_t i = sizeof(buf);

  do {
    buf[--i] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  fwrite_unlocked(buf + i, 1, sizeof(buf) - i, f);  /* the file is one thread's */
}

void cpd_json_i64(FILE *f, int64_t v)
{
  if (v < 0) {
    putc('-', f);
    cpd_json_u64(f, (uint64_t)0 - (uint64_t)v);
    return;
  }
  cpd_json_u64(f, (uint64_t)v);
}

void cpd_json_us(FILE *f, uint64_t ns)
{
  unsigned frac = (unsigned)(ns % 1000);
  char dec[4] = { '.', (char)('0' + frac / 100), (char)('0' + frac / 10 % 10),
                  (char)('0' + frac % 10) };

  cpd_json_u64(f, ns / 1000);
  fwrite_unlocked(dec, 1, sizeof(dec), f);
}
