/* paths.c: naming the files ceoprofd writes, from a prefix or a client's service name. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "model/session.h"
#include "output/paths.h"

/* Keeps letters, digits, '.', '_' and '-' of a client-chosen name; never "." or "..". */
static void sanitize(char *out, size_t size, const char *in)
{
  size_t n = 0;

  for (; *in && n + 1 < size; in++) {
    char c = *in;
    int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             c == '_' || c == '-' || (c == '.' && n > 0);

    out[n++] = ok ? c : '_';
  }
  out[n] = '\0';
  if (n == 0)
    snprintf(out, size, "unnamed");
}

int cpd_output_path(char *path, size_t size, const char *dir, const char *prefix,
                    const struct cpd_session *s, uint64_t window_real_ns, const char *ext)
{
  char svc[64], when[32] = "";
  struct stat st;

  if (window_real_ns) {
    time_t secs = (time_t)(window_real_ns / 1000000000u);
    struct tm tm;

    gmtime_r(&secs, &tm);
    strftime(when, sizeof(when) - 6, "-%Y%m%dT%H%M%S", &tm);
    snprintf(when + strlen(when), 6, ".%03uZ", (unsigned)(window_real_ns / 1000000u % 1000u));
  }
  if (prefix)
    return snprintf(path, size, "%s%s%s", prefix, when, ext) < (int)size ? 0 : -ENAMETOOLONG;
  sanitize(svc, sizeof(svc), s->service);
  for (int i = 0; i < 1000; i++) {
    int n = i == 0 ? snprintf(path, size, "%s/%s-%" PRIu32 "%s%s", dir, svc, s->pid,
                              when, ext)
                   : snprintf(path, size, "%s/%s-%" PRIu32 "%s-%d%s", dir, svc, s->pid,
                              when, i, ext);

    if (n >= (int)size)
      return -ENAMETOOLONG;
    if (lstat(path, &st) != 0)
      return 0;
  }
  return -EEXIST;
}
