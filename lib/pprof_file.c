/* pprof_file.c: a pprof file read with zlib (gzread also reads plain files) and protobuf-c. */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "util.h"
#include "pprof_file.h"

Perftools__Profiles__Profile *cpc_pprof_load(const char *path, char *err, size_t errlen)
{
  gzFile gz = gzopen(path, "rb");
  uint8_t *buf = NULL;
  size_t len = 0, cap = 0;
  Perftools__Profiles__Profile *p;
  int n;

  if (!gz) {
    snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
    return NULL;
  }
  do {
    if (cpd_reserve(&buf, &cap, len + 65536, 1) < 0) {
      free(buf);
      gzclose(gz);
      snprintf(err, errlen, "out of memory");
      return NULL;
    }
    n = gzread(gz, buf + len, 65536);
    if (n > 0)
      len += (size_t)n;
  } while (n > 0);
  gzclose(gz);
  p = n < 0 ? NULL : perftools__profiles__profile__unpack(NULL, len, buf);
  free(buf);
  if (!p || p->n_sample_type == 0 || p->n_string_table == 0) {
    snprintf(err, errlen, "%s is not a pprof profile (gzipped profile.proto)", path);
    if (p)
      perftools__profiles__profile__free_unpacked(p, NULL);
    return NULL;
  }
  return p;
}
