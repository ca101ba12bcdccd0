/*
 * target.h: one process ceoprofd samples: its perf events and profile, when it started,
 * its windows, who asked for it, and writing its pprof and trace when a window or the
 * profile ends.
 */
#ifndef CPD_TARGET_H
#define CPD_TARGET_H

#include <stdint.h>

#include "engine.h"
#include "model/join.h"
#include "model/profile.h"
#include "output/perfetto_writer.h"
#include "output/trace_samples.h"
#include "output/trace_writer.h"
#include "perf/sampler.h"
#include "watch.h"

struct cpd_conn;
struct cpd_session;
struct cpd_push_queue;

/* What a target sees of the engine that runs it. */
struct cpd_target_env {
  const struct cpd_config *cfg;  /* the engine's configuration */
  struct cpd_stats *stats;       /* files written, write errors */
  struct cpd_push_queue *push;   /* uploads to Pyroscope, NULL without --pyroscope */
  int epfd;                      /* the loop the target's fds join */
  uint64_t realtime_offset_ns;   /* CLOCK_REALTIME - CLOCK_MONOTONIC at the engine's start */
  int stopping;                  /* the last writes: a failure now is final */
};

struct cpd_target_opts {
  int hz;                      /* samples per second */
  int kernel;                  /* kernel stacks too */
  uint32_t dwarf_stack;        /* 0: frame pointers; else DWARF unwinding over this much stack */
  int no_sampling;             /* task events only */
  int no_bpf;                  /* no BPF: waits and off-CPU stacks from per-thread events */
  int per_thread;              /* per-thread events even where per-CPU ones may be opened */
  int waits;                   /* without BPF, waits from per-thread events all the same */
  int enable_on_exec;          /* start counting at the target's next exec (ceoprof record) */
  double duration_s;           /* 0: no limit */
  const char *prefix;          /* output prefix; NULL: --output-dir/SERVICE-PID */
  uint32_t owner_uid;          /* files are handed to this user (the requester) */
};

struct cpd_target {
  uint32_t pid;
  const struct cpd_target_env *env;
  struct cpd_session *session; /* the process's session: it lives as long as the target */
  struct cpd_target_opts opts;
  char *prefix;                /* owned copy of opts.prefix */
  int sampling;                /* the sampler is open */
  struct cpd_sampler sampler;
  struct cpd_profile profile;
  int pidfd;                   /* readable when the target exits; -1 if unsupported */
  struct cpd_watch pid_watch, ring_watch;
  uint64_t start_ns;           /* CLOCK_MONOTONIC when sampling began */
  uint64_t window_start_ns;    /* start of the window being collected */
  uint64_t stop_ns;            /* when sampling stopped, 0 while running */
  uint64_t finish_ns;          /* when the stop began: the last records are read after it */
  uint64_t stop_cpu_ns;        /* the daemon's own CPU time then: what recording cost it */
  uint64_t samples_written;    /* samples of the windows already written */
  uint32_t windows;            /* windows written */
  int auto_attached;           /* started by --auto */
  int session_only;            /* a client nobody sampled: its trace alone, no time in its name */
  int gone;                    /* the process exited */
  const char *end_reason;      /* set when it should end: "exited", "detached", ... */
  struct cpd_conn *requester;  /* the control connection that asked, or NULL */
  struct cpd_conn *detacher;   /* another control connection that asked to end it */
  int progress;                /* the requester wants Progress frames */
  uint64_t progress_ms;        /* when the last one went out */
  char **files;                /* paths written so far, reported in Done */
  char *summary;               /* the last window's summary for the requester, or NULL */
  size_t nfiles, files_cap;
  int write_error;             /* -errno of the first failed write, 0 when none */
  int write_pending;           /* a write failed; the data is kept for another try */
  uint64_t retry_ms;           /* when to try the last window again */
  /* The window being written, a segment at a time (target/window.c). */
  uint64_t segment_ns;         /* where the next segment begins */
  struct cpd_aggs aggs, offaggs; /* its CPU and off-CPU samples summed so far */
  struct cpd_trace_out trace;  /* its trace, open since its first segment */
  int trace_open;
  struct cpd_pf_out pf;        /* the same in Perfetto's format */
  int pf_open;
  int trace_rc;                /* its trace could not be begun: -errno, else 0 */
  struct cpd_trace_samples tsamp;  /* what its trace draws of the samples so far */
  size_t tasks_written;        /* task spans in the last trace closed */
  uint64_t write_cpu_ns;       /* the daemon's CPU spent writing segments while recording */
  struct cpd_target *next;
};

/*
 * Starts profiling the process of session S: opens its perf events (unless no_sampling) and
 * watches its exit in ENV's loop. On failure writes why into ERR and returns NULL.
 */
struct cpd_target *cpd_target_start(const struct cpd_target_env *env, struct cpd_session *s,
                                    const struct cpd_target_opts *o, char *err, size_t errlen);
/* Reads the rings, and the resident memory when CPD_RSS_GAP_NS has passed since its last
 * reading: call when a ring fd is readable and from the loop's cron. */
void cpd_target_read(struct cpd_target *t);
#define CPD_WRITE_RETRY_MS 2000  /* how often kept data is tried again */

/* Closes T's events and frees it (after cpd_target_finish). */
void cpd_target_free(struct cpd_target *t);
/* Samples taken so far (all windows), and the samples and records the kernel lost. */
uint64_t cpd_target_samples(const struct cpd_target *t);
uint64_t cpd_target_lost(const struct cpd_target *t);

#endif
