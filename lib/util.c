/* util.c: array growth, complete-or-nothing output files, and small process facts. */
#include "config.h"

#include <errno.h>
#include <sys/random.h>
#include <inttypes.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

int cpd_reserve(void *arr, size_t *cap, size_t need, size_t size)
{
  void **p = arr;
  size_t c = *cap ? *cap : 64;
  void *q;

  if (need <= *cap)
    return 0;
  while (c < need)
    c *= 2;
  q = realloc(*p, c * size);
  if (!q)
    return -ENOMEM;
  *p = q;
  *cap = c;
  return 0;
}

int cpd_grow(void *arr, size_t *cap, size_t n, size_t size)
{
  return cpd_reserve(arr, cap, n + 1, size);
}

int cpd_outfile_open(struct cpd_outfile *o, const char *path)
{
  o->fd = -1;
  if (snprintf(o->path, sizeof(o->path), "%s", path) >= (int)sizeof(o->path))
    return -ENAMETOOLONG;
  /* A fresh name nobody can guess, created exclusively: never a file or link someone put
   * there for us, and no name another user could take first to make the write fail. */
  for (int attempt = 0; attempt < 16; attempt++) {
    uint64_t r;

    if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
      r = (uint64_t)cpd_now_ns() ^ ((uint64_t)getpid() << 40) ^ (uint64_t)attempt;
    if (snprintf(o->tmp, sizeof(o->tmp), "%s.tmp.%016" PRIx64, path, r) >= (int)sizeof(o->tmp))
      return -ENAMETOOLONG;
    o->fd = open(o->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0640);
    if (o->fd >= 0 || errno != EEXIST)
      break;
  }
  return o->fd < 0 ? -errno : 0;
}

int cpd_outfile_close(struct cpd_outfile *o, int rc)
{
  if (o->fd >= 0) {
    if (rc == 0 && fsync(o->fd) != 0)
      rc = -errno;
    close(o->fd);
    o->fd = -1;
  }
  if (rc == 0 && rename(o->tmp, o->path) != 0)
    rc = -errno;
  if (rc < 0)
    unlink(o->tmp);
  return rc;
}

#define OUTSTREAM_BUF (1u << 20)  /* the file goes out in large writes */

int cpd_outstream_open(struct cpd_outstream *s, const char *path)
{
  int rc = cpd_outfile_open(&s->o, path);

  s->f = NULL;
  s->buf = NULL;
  if (rc < 0)
    return cpd_outfile_close(&s->o, rc);
  if (!(s->f = fdopen(s->o.fd, "w")))
    return cpd_outfile_close(&s->o, -errno);
  if ((s->buf = malloc(OUTSTREAM_BUF)) != NULL)
    setvbuf(s->f, s->buf, _IOFBF, OUTSTREAM_BUF);
  __fsetlocking(s->f, FSETLOCKING_BYCALLER);
  return 0;
}

int cpd_outstream_close(struct cpd_outstream *s, int rc)
{
  if (!s->f)
    return rc ? rc : -EBADF;
  if (rc == 0 && (fflush(s->f) != 0 || ferror(s->f) || fsync(s->o.fd) != 0))
    rc = errno ? -errno : -EIO;
  if (fclose(s->f) != 0 && rc == 0)
    rc = -errno;
  s->f = NULL;
  s->o.fd = -1;  /* closed with the stream */
  free(s->buf);
  s->buf = NULL;
  return cpd_outfile_close(&s->o, rc);
}

int cpd_outfile_full(FILE *f, const char *path, uint64_t limit, int *full)
{
  off_t at;

  if (!limit || *full)
    return *full;
  at = ftello(f);
  if (at >= 0 && (uint64_t)at >= limit) {
    *full = 1;
    cpd_log("the trace %s reached its limit of %" PRIu64 " MiB: later events are left out "
            "and counted (--max-trace-mb)", path, limit >> 20);
  }
  return *full;
}

uint64_t cpd_process_cpu_ns(void)
{
  struct timespec ts;

  if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) < 0)
    return 0;
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t cpd_thread_cpu_ns(void)
{
  struct timespec ts;

  if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) < 0)
    return 0;
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

long cpd_peak_rss_kib(void)
{
  FILE *f = fopen("/proc/self/status", "re");
  char line[256];
  long kib = -1;

  if (!f)
    return -1;
  while (fgets(line, sizeof(line), f))
    if (sscanf(line, "VmHWM: %ld kB", &kib) == 1)
      break;
  fclose(f);
  return kib;
}

int cpd_pid_exited(uint32_t pid)
{
  char path[64], buf[512], *paren;
  ssize_t n;
  int fd;

  if (kill((pid_t)pid, 0) < 0 && errno == ESRCH)
    return 1;
  snprintf(path, sizeof(path), "/proc/%u/stat", (unsigned)pid);
  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return errno == ENOENT;
  n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  if (n <= 0)
    return 0;
  buf[n] = '\0';
  /* "pid (comm) S ...": the state follows the last ')' (a comm may hold parentheses). */
  paren = strrchr(buf, ')');
  return paren && paren[1] == ' ' && (paren[2] == 'Z' || paren[2] == 'X');
}

uint64_t cpd_now_ns(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t cpd_now_ms(void)
{
  return cpd_now_ns() / 1000000u;
}

int cpd_check_prefix(const char *prefix, char *err, size_t errlen)
{
  const char *slash = strrchr(prefix, '/');
  char dir[4096];
  struct stat st;
  int rc;

  if (!slash)
    snprintf(dir, sizeof(dir), ".");
  else if (slash == prefix)
    snprintf(dir, sizeof(dir), "/");
  else if (snprintf(dir, sizeof(dir), "%.*s", (int)(slash - prefix), prefix) >= (int)sizeof(dir))
    return snprintf(err, errlen, "output prefix too long"), -ENAMETOOLONG;
  if (stat(dir, &st) < 0 || (!S_ISDIR(st.st_mode) && (errno = ENOTDIR)) ||
      access(dir, W_OK | X_OK) < 0) {
    rc = -errno;
    snprintf(err, errlen, "cannot write %s* into %s: %s; create the folder or choose "
             "another with -o", prefix, dir, strerror(-rc));
    return rc;
  }
  if (slash && slash[1] == '\0')
    return snprintf(err, errlen, "output prefix %s names a folder, not files; add a name, "
                    "e.g. -o %srun1", prefix, prefix), -EISDIR;
  return 0;
}

int cpd_pid_is_kthread(uint32_t pid)
{
  char path[64], buf[512], *p;
  unsigned long flags = 0;
  ssize_t n;
  int fd;

  snprintf(path, sizeof(path), "/proc/%u/stat", pid);
  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return 0;
  n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  if (n <= 0)
    return 0;
  buf[n] = '\0';
  p = strrchr(buf, ')');  /* the name may hold spaces and parentheses */
  /* After the name: state, ppid, pgrp, session, tty_nr, tpgid, flags. */
  if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %lu", &flags) != 1)
    return 0;
  return (flags & 0x00200000ul) != 0;  /* PF_KTHREAD */
}
