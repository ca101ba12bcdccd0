/*
 * server.h: the engine's state (one struct, passed explicitly) and what its parts do with
 * it: the loop and its cron (loop.c), client and control connections (conn.c), requests
 * (control.c). Calls go one way: loop, connections, sessions and targets, model, writers.
 */
#ifndef CPD_SERVER_H
#define CPD_SERVER_H

#include <stdint.h>

#include "engine.h"
#include "frame.h"
#include "model/budget.h"
#include "model/session.h"
#include "target/target.h"
#include "watch.h"

#define CPD_CONN_BYTES_PER_S (16u << 20)  /* more from one connection waits (its client counts
                                            what it cannot send) */
#define CPD_MAX_CONNS 1024           /* connections at once; more are refused and counted */
#define CPD_MAX_CONNS_PER_UID 256    /* connections at once from one user */
#define CPD_LISTEN_PAUSE_MS 100      /* the listener rests this long when out of descriptors */
#define CPD_REFUSAL_LOG_MS 10000     /* refusals are logged once per this interval */

/* One connection: a libceoprof client (after Hello) or the ceoprof command (control). */
struct cpd_conn {
  struct cpd_watch watch;
  struct cpd_engine *engine;     /* the engine that accepted it */
  int fd;                        /* -1 once closed */
  int control;                   /* its first frame was a request, not Hello */
  uint32_t pid, uid, gid;        /* from SO_PEERCRED, never from what the client claims */
  struct cp_frame_reader reader; /* bytes received, not yet decoded */
  struct cpd_session *session;   /* set by Hello */
  uint64_t opened_ms;            /* for the Hello timeout */
  uint64_t rate_second;          /* the second (CLOCK_MONOTONIC) rate_bytes counts */
  uint64_t rate_bytes;           /* bytes read in it */
  int throttled;                 /* over CPD_CONN_BYTES_PER_S: not read until the next second */
  uint64_t partial_ms;           /* since when part of a frame waits for the rest, 0: none */
  uint64_t held;                 /* bytes of its reader taken from the engine's budget */
  struct cpd_conn *next;
};

struct cpd_engine {
  struct cpd_config cfg;         /* as given to cpd_engine_start */
  struct cpd_stats stats;
  struct cpd_target_env env;     /* what targets see of the engine */
  int listen_fd;                 /* the Unix socket, -1 when not listening */
  struct cpd_watch listen_watch;
  uint64_t listen_resume_ms;     /* when a listener resting for descriptors resumes, 0: not */
  uint64_t refused;              /* connections refused since the last line that said so */
  uint64_t refusal_logged_ms;    /* when that line was written */
  int signal_fd;                 /* SIGINT and SIGTERM, -1 when not set up */
  struct cpd_watch signal_watch;
  int epfd;                      /* the event loop */
  struct cpd_conn *conns;        /* open connections */
  struct cpd_conn *closed;       /* closed in this turn of the loop, freed after it */
  struct cpd_session *sessions;  /* open sessions, one per process */
  struct cpd_budget budget;      /* the memory all sessions and connections hold */
  struct cpd_target *targets;    /* processes being sampled */
  uint64_t started_ms;           /* CLOCK_MONOTONIC ms at start */
  int stop;                      /* a signal's number, or -1 for the duration: the loop exits */
  int target_gone;               /* --pid: the target's profile ended */
  int target_status;             /* --pid: 0, or -errno when its files could not be written */
};

/* ---- sessions and targets (loop.c) ---- */
/* The session of PID, or NULL; created on demand by cpd_session_get (NULL: no memory). */
struct cpd_session *cpd_session_find(const struct cpd_engine *e, uint32_t pid);
struct cpd_session *cpd_session_get(struct cpd_engine *e, uint32_t pid, uint32_t uid);
/* Frees S if no connection feeds it any more and no target samples it; its trace is
 * written first. */
void cpd_session_release(struct cpd_engine *e, struct cpd_session *s);
struct cpd_target *cpd_target_find(const struct cpd_engine *e, uint32_t pid);
struct cpd_pin;

/* Starts sampling PID (its session made here) and links the target. With PIN (or NULL), the
 * process must still be the one checked once the events are open. NULL with ERR set. */
struct cpd_target *cpd_engine_add_target(struct cpd_engine *e, uint32_t pid, uint32_t uid,
                                         const struct cpd_target_opts *o,
                                         const struct cpd_pin *pin, char *err, size_t errlen);

/* ---- connections (conn.c) ---- */
/* Accepts every pending connection on the listening socket. */
void cpd_conn_accept(struct cpd_engine *e);
/* Reads and applies what C sent (its frames), up to a fair share per call. */
void cpd_conn_read(struct cpd_conn *c);
/* Drops connections silent past the Hello timeout, resumes throttled ones. */
void cpd_conn_cron(struct cpd_engine *e, uint64_t now_ms);
/* Sends one frame to a connection, best effort (never blocks the loop). */
void cpd_conn_send(struct cpd_conn *c, const Ceoprof__Wire__Frame *f);
void cpd_conn_send_error(struct cpd_conn *c, int code, const char *msg);
/* Closes C; its memory lives until cpd_conn_free_closed, so events already fetched for it
 * in this turn of the loop find a watch without a callback. */
void cpd_conn_close(struct cpd_conn *c);
void cpd_conn_free_closed(struct cpd_engine *e);

#endif
