/* util.h: small helpers the daemon's modules share: growing arrays, writing output files safely, process state. */
#ifndef CPD_UTIL_H
#define CPD_UTIL_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>

/*
 * Makes room in *ARR (an array of *CAP elements of SIZE bytes, N in use) for one more,
 * doubling it (64 at first). 0 or -ENOMEM; *ARR is unchanged on failure.
 */
int cpd_grow(void *arr, size_t *cap, size_t n, size_t size);
/* The same for NEED elements in all: *CAP doubles (from 64) until it holds them. */
int cpd_reserve(void *arr, size_t *cap, size_t need, size_t size);

/* CLOCK_MONOTONIC now, in nanoseconds and in milliseconds. */
uint64_t cpd_now_ns(void);
uint64_t cpd_now_ms(void);

/* qsort that accepts an empty array given as NULL (qsort itself may not be passed NULL). */
static inline void cpd_qsort(void *base, size_t n, size_t size,
                             int (*cmp)(const void *, const void *))
{
  if (n > 1)
    qsort(base, n, size, cmp);
}

/*
 * This process's peak resident memory in KiB (VmHWM: its own address space's high-water
 * mark, unlike getrusage's ru_maxrss, which keeps the RSS of whatever forked it before the
 * exec), or -1 if /proc cannot say.
 */
long cpd_peak_rss_kib(void);
/* This process's CPU time (user and system, all threads) in nanoseconds. */
uint64_t cpd_process_cpu_ns(void);
/* The calling thread's CPU time in nanoseconds. */
uint64_t cpd_thread_cpu_ns(void);

/*
 * Whether process PID has ended: it no longer exists, or it is a zombie (exited, not yet
 * reaped: kill(pid, 0) still succeeds for it). For when no pidfd can tell.
 */
int cpd_pid_exited(uint32_t pid);

/* Whether PID is a kernel thread (PF_KTHREAD): it has no user space to profile. */
int cpd_pid_is_kthread(uint32_t pid);

/*
 * Whether files named PREFIX + extension can be created: PREFIX's folder exists, is a
 * folder, and this process may write into it. 0, or -errno with a line for the user in ERR.
 */
int cpd_check_prefix(const char *prefix, char *err, size_t errlen);

/* An output file written as PATH.tmp and renamed to PATH only when complete. */
struct cpd_outfile {
  char path[4096];
  char tmp[4096];
  int fd;          /* -1 once handed over or closed */
};

/*
 * Creates PATH.tmp.RANDOM (64 random bits) with O_EXCL|O_NOFOLLOW, mode 0640; the rename
 * that ends it replaces PATH itself, never a file a symlink at PATH points to. 0 or -errno.
 */
int cpd_outfile_open(struct cpd_outfile *o, const char *path);
/*
 * Ends the file: with RC == 0, renames it into place (the caller has flushed and closed
 * the fd, or left it to this function when o->fd >= 0); otherwise removes it. Returns RC,
 * or the rename's -errno.
 */
int cpd_outfile_close(struct cpd_outfile *o, int rc);
/* An output file written through a stdio stream: a large buffer, no locking (one thread
 * writes it), through its temporary name. */
struct cpd_outstream {
  struct cpd_outfile o;
  FILE *f;
  char *buf;
};

/* Starts PATH as a stream. 0 or -errno (nothing left behind). */
int cpd_outstream_open(struct cpd_outstream *s, const char *path);
/* Ends it: with RC == 0 flushed, synced and renamed into place (the returned -errno when a
 * step fails); otherwise, or then, removed. */
int cpd_outstream_close(struct cpd_outstream *s, int rc);

/*
 * Whether the file F (written to PATH) has reached LIMIT bytes (0: no limit): sets *FULL
 * and says so in the log the first time. Returns *FULL.
 */
int cpd_outfile_full(FILE *f, const char *path, uint64_t limit, int *full);

#endif
