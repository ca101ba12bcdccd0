/* clock.c: choosing the timestamp source and pairing TSC readings with CLOCK_MONOTONIC. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "clock.h"

int cp__clock_use_tsc;

void cp__clock_init(void)
{
#ifdef CP_HAVE_TSC
  FILE *f = fopen("/proc/cpuinfo", "r");
  char line[4096];
  int constant = 0, nonstop = 0;

  if (!f)
    return;
  while (fgets(line, sizeof(line), f)) {
    if (strncmp(line, "flags", 5) != 0)
      continue;
    constant = strstr(line, " constant_tsc") != NULL;
    nonstop = strstr(line, " nonstop_tsc") != NULL;
    break;
  }
  fclose(f);
  cp__clock_use_tsc = constant && nonstop;
#endif
}

void cp__clock_sync(uint64_t *tsc, uint64_t *mono_ns)
{
#ifdef CP_HAVE_TSC
  if (cp__clock_use_tsc) {
    /* Keep the tightest of a few bracketed readings: the midpoint of the TSC pair. */
    uint64_t best = UINT64_MAX;

    for (int i = 0; i < 5; i++) {
      uint64_t a = __rdtsc();
      uint64_t m = cp__mono_ns();
      uint64_t b = __rdtsc();

      if (b - a < best) {
        best = b - a;
        *tsc = a + (b - a) / 2;
        *mono_ns = m;
      }
    }
    return;
  }
#endif
  *mono_ns = cp__mono_ns();
  *tsc = *mono_ns;
}
