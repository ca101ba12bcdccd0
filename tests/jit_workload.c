/*
 * jit_workload.c: a stand-in for a JIT. It writes a spin loop's machine code into anonymous
 * executable memory, names it in /tmp/perf-PID.map as JITs do for perf, and runs it until
 * it has used SECONDS of CPU time. x86-64 only (the code is x86-64 bytes).
 * Usage: jit_workload SECONDS   -> prints "jit_code ADDRESS" and "cpu_ms N"
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

/* spin(n): L: dec %rdi; jnz L; ret */
static const unsigned char spin_code[] = { 0x48, 0xff, 0xcf, 0x75, 0xfb, 0xc3 };

static double thread_cpu_s(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
#if defined(__x86_64__)
  double secs = argc > 1 ? atof(argv[1]) : 1.0, t0;
  unsigned char *code;
  void (*spin)(uint64_t);
  char path[64];
  FILE *map;

  code = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (code == MAP_FAILED) {
    perror("jit_workload: mmap");
    return 1;
  }
  memcpy(code + 64, spin_code, sizeof(spin_code));  /* not at the mapping's start */
  snprintf(path, sizeof(path), "/tmp/perf-%d.map", (int)getpid());
  map = fopen(path, "w");
  if (!map) {
    perror("jit_workload: perf map");
    return 1;
  }
  /* A first version, then the "recompiled" one at the same address: the later line wins. */
  fprintf(map, "%lx %zx jit_spin_stale\n", (unsigned long)(uintptr_t)(code + 64), sizeof(spin_code));
  fprintf(map, "%lx %zx jit_spin_loop\n", (unsigned long)(uintptr_t)(code + 64), sizeof(spin_code));
  fclose(map);
  printf("jit_code %p\n", (void *)(code + 64));
  fflush(stdout);
  spin = (void (*)(uint64_t))(uintptr_t)(code + 64);
  t0 = thread_cpu_s();
  while (thread_cpu_s() - t0 < secs)
    spin(2000000);
  printf("cpu_ms %.0f\n", (thread_cpu_s() - t0) * 1000);
  return 0;
#else
  (void)argc;
  (void)argv;
  fprintf(stderr, "jit_workload: x86-64 only\n");
  return 77;
#endif
}
