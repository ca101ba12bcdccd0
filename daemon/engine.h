/*
 * engine.h: the profiling engine's API: a configuration that ceoprofd's command line or the
 * ceoprof command fills in, and an engine object made from it and passed explicitly. The
 * only daemon header the ceoprof command includes.
 */
#ifndef CPD_ENGINE_H
#define CPD_ENGINE_H

#include <stdint.h>
#include <stdio.h>
#include <sys/un.h>

struct cpd_engine;

/* The default --max-trace-mb: Chrome-based viewers (speedscope, DevTools) cannot load a
 * JSON file larger than the longest string V8 allows (512 MiB), and Perfetto's UI slows
 * down well before it. */
#define CPD_MAX_TRACE_MB 512

struct cpd_config {
  char socket_path[sizeof(((struct sockaddr_un *)0)->sun_path)]; /* the socket served */
  const char *output_dir;        /* service mode: where files go */
  const char *prefix;            /* --pid mode: PREFIX.pb.gz, PREFIX.trace.json */
  uint32_t target_pid;           /* --pid: the one process profiled, 0 in service mode */
  double duration_s;             /* --duration: stop after this long, 0 = no limit */
  int hello_timeout_ms;          /* a client silent for this long after connecting is dropped */
  int hz;                        /* -F: samples per second */
  int kernel;                    /* --kernel: kernel stacks too */
  uint32_t dwarf_stack;          /* --call-graph dwarf[,SIZE]: stack bytes per sample; 0: fp */
  int no_sampling;               /* --no-sampling: task events only */
  int no_bpf;                    /* --no-bpf: waits and off-CPU stacks from per-thread events */
  int per_thread;                /* --per-thread: per-thread events even where per-CPU ones work */
  int waits;                     /* --waits: without BPF, waits from per-thread events */
  int enable_on_exec;            /* --pid: count from the target's next exec (ceoprof record) */
  int auto_attach;               /* --auto: profile every client that connects */
  double window_s;               /* --window: cut profiles into windows this long, 0 = none */
  uint32_t max_trace_mb;         /* --max-trace-mb: a trace file's size past which its
                                  * events are left out and counted; 0 = no limit */
  uint32_t max_memory_mb;        /* --max-memory-mb: the one budget of all sessions' events
                                  * and connections' frames; 0 = cpd_budget_default() */
  const char *pyroscope_url;     /* --pyroscope: push each pprof there */
  const char *pyroscope_tenant;  /* --pyroscope-tenant: X-Scope-OrgID */
  const char *pyroscope_basic_auth; /* "user:password" (from a file or the environment) */
  const char *pyroscope_token;   /* a bearer token (from a file or the environment) */
  int pyroscope_ingest;          /* --pyroscope-ingest: the older /ingest, not the Push API */
  uint32_t pyroscope_label_limit; /* values kept per string label in what is pushed */
  int push_retries;              /* --push-retries: attempts after the first */
  int push_backoff_ms;           /* first wait between attempts, doubled each time */
  int push_drain_ms;             /* at stop, how long queued uploads may still take */
  int quiet;                     /* no summary (the ceoprof command prints its own) */
  FILE *report;                  /* where the --pid summary goes: stdout for ceoprofd, stderr
                                  * for the ceoprof command (stdout is its command's) */
  /* Called, with tick_arg, before the summary is printed (to clear a progress line). */
  void (*before_report)(void *arg);
  /* Called from the loop about every 100 ms (ceoprof's in-process progress line). */
  void (*on_tick)(struct cpd_engine *e, void *arg);
  void *tick_arg;
  /* Called, with tick_arg, on SIGINT or SIGTERM (FROM_PROCESS: sent by kill(), not by the
   * terminal): 1 to
   * go on (ceoprof record passes it to its command and waits for it to end), 0 to stop.
   * Without it, a signal stops the engine. */
  int (*on_signal)(int sig, int from_process, void *arg);
  /* Called once the engine serves its socket and samples its target, before the loop runs
   * (ceoprof record lets its child exec here). 0, or -errno to stop at once. */
  int (*on_started)(void *arg);
  void *started_arg;
};

/* What the engine has done so far: counters kept for the log, status and the summary. */
struct cpd_stats {
  uint64_t conns_total;          /* connections accepted */
  uint64_t conns_dropped;        /* connections closed for a protocol error or timeout */
  uint64_t frames_rejected;      /* frames refused before a session was known */
  uint64_t conns_throttled;      /* times a connection was paused for its byte rate */
  uint64_t traces_written;
  uint64_t trace_left_out;       /* events and samples traces left out past --max-trace-mb */
  uint64_t files_written;        /* traces and profiles */
  uint64_t write_errors;         /* files that could not be written */
};

/* A profile in progress, for a progress line. */
struct cpd_progress {
  uint32_t pid;
  double elapsed_s;
  uint64_t samples, lost;
  uint32_t threads, workers;
  uint64_t tasks;
};

/* The defaults: 99 Hz, a 5 s Hello timeout, 4 push retries from 1 s, output into ".". */
void cpd_config_init(struct cpd_config *c);

/*
 * Makes an engine from CFG (copied): binds the socket (refusing one another daemon serves),
 * starts the uploader and, with target_pid, samples that process, then calls on_started.
 * 0 with *OUT set, or -errno with why logged and nothing left open.
 */
int cpd_engine_start(struct cpd_engine **out, const struct cpd_config *cfg);
/* Runs until SIGINT/SIGTERM, the duration, or (target_pid) the target's end. */
void cpd_engine_run(struct cpd_engine *e);
/*
 * Writes what is still open, closes everything and frees E. 0, or -EIO when a file could
 * not be written.
 */
int cpd_engine_stop(struct cpd_engine *e);
/* Makes cpd_engine_run return at its next turn, as a signal would. */
void cpd_engine_request_stop(struct cpd_engine *e);
/* The first profile in progress into *P: 0, or -ENOENT when none runs. */
int cpd_engine_progress(const struct cpd_engine *e, struct cpd_progress *p);

#endif
