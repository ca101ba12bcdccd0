/* perf_event.c: perf_event_open(2) wrapped once, its errors explained once. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "perf/perf_event.h"

int cpd_perf_open(struct perf_event_attr *attr, pid_t pid, int cpu, int group_fd, unsigned long flags)
{
  long fd = syscall(SYS_perf_event_open, attr, pid, cpu, group_fd, flags | PERF_FLAG_FD_CLOEXEC);

  return fd < 0 ? -errno : (int)fd;
}

static long read_long(const char *path)
{
  FILE *f = fopen(path, "r");
  long v = -1;

  if (!f)
    return -1;
  if (fscanf(f, "%ld", &v) != 1)
    v = -1;
  fclose(f);
  return v;
}

long cpd_tracepoint_id(const char *system, const char *name)
{
  static const char *const roots[] = { "/sys/kernel/tracing", "/sys/kernel/debug/tracing" };
  char path[256];
  long id;

  for (int attempt = 0; attempt < 2; attempt++) {
    for (size_t i = 0; i < sizeof(roots) / sizeof(roots[0]); i++) {
      snprintf(path, sizeof(path), "%s/events/%s/%s/id", roots[i], system, name);
      if ((id = read_long(path)) >= 0)
        return id;
    }
    if (attempt > 0 || geteuid() != 0 ||
        mount("nodev", "/sys/kernel/tracing", "tracefs", 0, NULL) < 0)
      break;
  }
  return -ENOENT;
}

long cpd_perf_paranoid(void)
{
  return read_long("/proc/sys/kernel/perf_event_paranoid");
}

long cpd_perf_max_sample_rate(void)
{
  return read_long("/proc/sys/kernel/perf_event_max_sample_rate");
}

void cpd_perf_advice(int err, const char *what, pid_t pid, char *buf, size_t size)
{
  long paranoid = read_long("/proc/sys/kernel/perf_event_paranoid");

  switch (err) {
  case ESRCH:
    snprintf(buf, size, "failed to %s perf events: no process with pid %d (it may have exited)",
             what, (int)pid);
    break;
  case EACCES:
  case EPERM:
    if (strcmp(what, "mmap") == 0)
      snprintf(buf, size, "failed to mmap the perf ring buffer: %s; the locked-memory limit is "
                          "too small: raise /proc/sys/kernel/perf_event_mlock_kb or ulimit -l, "
                          "or run as root", strerror(err));
    else
      snprintf(buf, size, "failed to open perf events for pid %d: %s; "
                          "/proc/sys/kernel/perf_event_paranoid is %ld: run as root, grant "
                          "CAP_PERFMON (and CAP_SYS_PTRACE for other users' processes), or "
                          "lower it (sysctl kernel.perf_event_paranoid=1)",
               (int)pid, strerror(err), paranoid);
    break;
  case ENOENT:
  case ENODEV:
  case EOPNOTSUPP:
    snprintf(buf, size, "failed to %s perf events: %s; this event is not supported here "
                        "(no hardware PMU, e.g. in a VM): use a software event such as cpu-clock",
             what, strerror(err));
    break;
  case EINVAL:
    snprintf(buf, size, "failed to %s perf events: %s; the kernel refused the event settings "
                        "(sampling rate above /proc/sys/kernel/perf_event_max_sample_rate?)",
             what, strerror(err));
    break;
  case EMFILE:
    snprintf(buf, size, "failed to %s perf events: %s; too many open files: raise ulimit -n "
                        "(one fd per CPU and thread is needed)", what, strerror(err));
    break;
  case ENOSYS:
    snprintf(buf, size, "failed to %s perf events: this kernel has no perf_event_open "
                        "(CONFIG_PERF_EVENTS) or a seccomp filter forbids it", what);
    break;
  default:
    snprintf(buf, size, "failed to %s perf events: %s", what, strerror(err));
  }
}
