/* syscall_workload.c: a program that spends most of its CPU in the kernel: one-byte writes
 * to /dev/null for SECONDS, then its own user and system CPU (getrusage) on stdout. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Not inlined: the profile shows the writes under this caller. */
__attribute__((noinline)) static void write_bytes(int fd, int n)
{
  char b = 0;

  for (int i = 0; i < n; i++)
    if (write(fd, &b, 1) != 1)
      exit(1);
}

int main(int argc, char **argv)
{
  double secs = argc > 1 ? atof(argv[1]) : 1.0, t0 = now();
  int fd = open("/dev/null", O_WRONLY);
  struct rusage ru;

  if (fd < 0)
    return 1;
  while (now() - t0 < secs)
    write_bytes(fd, 1000);
  getrusage(RUSAGE_SELF, &ru);
  printf("cpu_ms user=%ld sys=%ld\n", ru.ru_utime.tv_sec * 1000 + ru.ru_utime.tv_usec / 1000,
         ru.ru_stime.tv_sec * 1000 + ru.ru_stime.tv_usec / 1000);
  return 0;
}
