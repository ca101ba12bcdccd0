/* daemon.h: ceoprofd's one state struct and the server functions that act on it. */
#ifndef CPD_DAEMON_H
#define CPD_DAEMON_H

#include <signal.h>
#include <stdint.h>
#include <sys/un.h>

#include "frame.h"
#include "profile.h"
#include "sampler.h"
#include "session.h"

/* One client connection. */
struct cpd_conn {
  int fd;                        /* -1 once closed */
  uint32_t pid, uid;             /* from SO_PEERCRED, never from what the client claims */
  struct cp_frame_reader reader; /* bytes received, not yet decoded */
  struct cpd_session *session;   /* set by Hello */
  uint64_t opened_ms;            /* for the Hello timeout */
  struct cpd_conn *next;
};

struct cpd_server {
  /* Configuration, from the command line. */
  char socket_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
  const char *output_dir;        /* service mode: where traces go */
  const char *prefix;            /* --pid mode: PREFIX.trace.json */
  uint32_t target_pid;           /* --pid: the one process profiled, 0 in service mode */
  double duration_s;             /* --duration: stop after this long, 0 = no limit */
  int hello_timeout_ms;          /* a client silent for this long after connecting is dropped */
  int hz;                        /* -F: samples per second (--pid) */
  int kernel;                    /* --kernel: kernel stacks too */
  int no_sampling;               /* --no-sampling: task events only */
  /* Runtime state. */
  int listen_fd;                 /* the Unix socket, -1 when not listening */
  int epfd;                      /* the event loop */
  int pidfd;                     /* --pid: readable when the target exits, -1 if unsupported */
  struct cpd_conn *conns;        /* open connections */
  struct cpd_session *sessions;  /* open sessions, one per process */
  uint64_t started_ms;           /* CLOCK_MONOTONIC ms at start */
  volatile sig_atomic_t stop;    /* set by SIGINT/SIGTERM; the loop exits */
  int target_gone;               /* --pid: the target exited */
  struct cpd_profile profile;    /* --pid: the target's CPU samples */
  struct cpd_sampler sampler;    /* --pid: its perf events */
  int sampling;                  /* the sampler is open */
  uint64_t sampling_start_ns;    /* CLOCK_MONOTONIC when sampling was enabled */
  uint64_t sampling_stop_ns;     /* ... and disabled */
  uint64_t realtime_offset_ns;   /* CLOCK_REALTIME - CLOCK_MONOTONIC at start */
  /* Counters. */
  uint64_t conns_total;          /* connections accepted */
  uint64_t conns_dropped;        /* connections closed for a protocol error or timeout */
  uint64_t frames_rejected;      /* frames refused before a session was known */
  uint64_t traces_written;
  int write_errors;              /* traces that could not be written */
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

#endif
