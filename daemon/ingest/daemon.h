/* daemon.h: ceoprofd's one state struct and the server functions that act on it. */
#ifndef CPD_DAEMON_H
#define CPD_DAEMON_H

#include <signal.h>
#include <stdint.h>
#include <sys/un.h>

#include "frame.h"
#include "model/profile.h"
#include "perf/sampler.h"
#include "ingest/session.h"
#include "target/target.h"

#define CPD_CONN_BYTES_PER_S (16u << 20)  /* more from one connection waits (its client counts
                                            what it cannot send) */

/* One connection: a libceoprof client (after Hello) or the ceoprof command (control). */
struct cpd_conn {
  struct cpd_watch watch;
  int fd;                        /* -1 once closed */
  int control;                   /* its first frame was a request, not Hello */
  uint32_t pid, uid;             /* from SO_PEERCRED, never from what the client claims */
  struct cp_frame_reader reader; /* bytes received, not yet decoded */
  struct cpd_session *session;   /* set by Hello */
  uint64_t opened_ms;            /* for the Hello timeout */
  uint64_t rate_second;          /* the second (CLOCK_MONOTONIC) rate_bytes counts */
  uint64_t rate_bytes;           /* bytes read in it */
  int throttled;                 /* over CPD_CONN_BYTES_PER_S: not read until the next second */
  struct cpd_conn *next;
};

struct cpd_server {
  /* Configuration, from the command line. */
  char socket_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
  const char *output_dir;        /* service mode: where files go */
  const char *prefix;            /* --pid mode: PREFIX.pb.gz, PREFIX.trace.json */
  uint32_t target_pid;           /* --pid: the one process profiled, 0 in service mode */
  double duration_s;             /* --duration: stop after this long, 0 = no limit */
  int hello_timeout_ms;          /* a client silent for this long after connecting is dropped */
  int hz;                        /* -F: samples per second */
  int kernel;                    /* --kernel: kernel stacks too */
  uint32_t dwarf_stack;          /* --call-graph dwarf[,SIZE]: stack bytes per sample; 0: fp */
  int no_sampling;               /* --no-sampling: task events only */
  int no_bpf;                    /* --no-bpf: off-CPU stacks from perf events only */
  int enable_on_exec;            /* --pid: count from the target's next exec (ceoprof record) */
  int auto_attach;               /* --auto: profile every client that connects */
  double window_s;               /* --window: cut profiles into windows this long, 0 = none */
  const char *pyroscope_url;     /* --pyroscope: push each pprof there */
  int push_retries;              /* --push-retries: attempts after the first */
  int push_backoff_ms;           /* first wait between attempts, doubled each time */
  int push_drain_ms;             /* at stop, how long queued uploads may still take */
  int quiet;                     /* no summary on stdout (the ceoprof command prints its own) */
  /* Called from the loop about every 100 ms (ceoprof's in-process progress line). */
  void (*on_tick)(void);
  /* Runtime state. */
  int listen_fd;                 /* the Unix socket, -1 when not listening */
  struct cpd_watch listen_watch;
  int epfd;                      /* the event loop */
  struct cpd_conn *conns;        /* open connections */
  struct cpd_session *sessions;  /* open sessions, one per process */
  struct cpd_target *targets;    /* processes being sampled */
  uint64_t started_ms;           /* CLOCK_MONOTONIC ms at start */
  volatile sig_atomic_t stop;    /* set by SIGINT/SIGTERM; the loop exits */
  int stopping;                  /* the last writes: a failure now is final */
  int target_gone;               /* --pid: the target's profile ended */
  int target_status;             /* --pid: 0, or -errno when its files could not be written */
  uint64_t realtime_offset_ns;   /* CLOCK_REALTIME - CLOCK_MONOTONIC at start */
  /* Counters. */
  uint64_t conns_total;          /* connections accepted */
  uint64_t conns_dropped;        /* connections closed for a protocol error or timeout */
  uint64_t frames_rejected;      /* frames refused before a session was known */
  uint64_t conns_throttled;      /* times a connection was paused for its byte rate */
  uint64_t traces_written;
  uint64_t files_written;        /* traces and profiles */
  int write_errors;              /* files that could not be written */
};

extern struct cpd_server cpd;

uint64_t cpd_now_ms(void);
uint64_t cpd_now_ns(void);

/* Binds the socket (refusing one another daemon serves) and sets up the loop. 0 or -errno. */
int cpd_server_start(void);
/* Runs until a signal, the duration, or (--pid) the target's exit. */
void cpd_server_run(void);
/* Writes every open session's output and closes everything. 0, or -EIO if a write failed. */
int cpd_server_stop(void);

/* Writes one session's trace and frees it (the session must be unlinked). 0 or -errno. */
int cpd_server_finish_session(struct cpd_session *s);

/* The session of PID, or NULL; created on demand by cpd_session_get (NULL: no memory). */
struct cpd_session *cpd_session_find(uint32_t pid);
struct cpd_session *cpd_session_get(uint32_t pid, uint32_t uid);
/* Frees S if no connection feeds it any more and no target samples it. */
void cpd_session_release(struct cpd_session *s);
struct cpd_target *cpd_target_find(uint32_t pid);
/* Sends one frame to a connection, best effort (never blocks the loop). */
void cpd_conn_send(struct cpd_conn *c, const Ceoprof__Wire__Frame *f);
void cpd_conn_send_error(struct cpd_conn *c, int code, const char *msg);
void cpd_conn_close(struct cpd_conn *c);

/*
 * PATH gets an output file name: PREFIX + EXT, or OUTPUT_DIR/SERVICE-PID + EXT (made unique),
 * with -YYYYmmddTHHMMSS.mmmZ (UTC) before EXT when WINDOW_REAL_NS (CLOCK_REALTIME) is not 0. 0 or -errno.
 */
int cpd_output_path(char *path, size_t size, const char *prefix, const struct cpd_session *s,
                    uint64_t window_real_ns, const char *ext);

#endif
