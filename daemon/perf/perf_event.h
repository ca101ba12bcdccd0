/* perf_event.h: the one wrapper of perf_event_open(2), and the one place its errors become advice. */
#ifndef CPD_PERF_EVENT_H
#define CPD_PERF_EVENT_H

#include <linux/perf_event.h>
#include <stddef.h>
#include <sys/types.h>

/* perf_event_open(2). Returns the fd or -errno. */
int cpd_perf_open(struct perf_event_attr *attr, pid_t pid, int cpu, int group_fd, unsigned long flags);

/*
 * Writes one sentence saying why perf_event_open or its mmap failed with ERR and what
 * to do (perf_event_paranoid, capabilities, perf_event_mlock_kb, no such pid).
 * WHAT names the step: "open", "mmap".
 */
void cpd_perf_advice(int err, const char *what, pid_t pid, char *buf, size_t size);

/*
 * The id of tracepoint SYSTEM:NAME (e.g. sched:sched_switch) from tracefs, mounting
 * tracefs at /sys/kernel/tracing when root finds it unmounted, as perf does. -errno when
 * there is none.
 */
long cpd_tracepoint_id(const char *system, const char *name);

/* /proc/sys/kernel/perf_event_paranoid, or -1 when unreadable. */
long cpd_perf_paranoid(void);

/* /proc/sys/kernel/perf_event_max_sample_rate, or -1 when unreadable. */
long cpd_perf_max_sample_rate(void);

#endif
