/*
 * session.h: everything ceoprofd knows about one profiled process: its names,
 * threads and workers, the raw task events its clients sent, and what was dropped.
 */
#ifndef CPD_SESSION_H
#define CPD_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "ceoprof.pb-c.h"
#include "model/budget.h"
#include "model/clocksync.h"

#define CPD_MAX_STRING_ID (1u << 16)  /* larger string ids are refused (the client's table holds 4096) */
#define CPD_MAX_STRING_LEN 1024       /* longer strings are cut, at a character boundary */
#define CPD_MAX_THREADS 16384         /* threads per process; more are refused and counted */
#define CPD_MAX_EVENTS (4u << 20)     /* events held per process between writes (~200 MiB) */
#define CPD_DROP_REASONS 7            /* Ceoprof__Wire__DropReason values */

/* One event as received; timestamps are converted when the session is built. */
struct cpd_event {
  uint64_t ts;       /* client timestamp (TSC ticks or ns) */
  uint64_t task_id;
  int64_t value;
  uint64_t seq;      /* arrival order, breaks timestamp ties */
  uint32_t tid;
  uint32_t name_id;
  uint8_t kind;      /* Ceoprof__Wire__EventKind */
  uint8_t resend;
  uint8_t mono;      /* ts is already CLOCK_MONOTONIC ns (a task carried over a window cut) */
  uint8_t carried;   /* a task carried over a segment cut at its own begin time (mono too) */
};

struct cpd_thread {
  uint32_t tid;
  uint32_t pid;        /* 0: the session's process; else a child followed */
  int64_t worker_id;   /* -1 when the thread registered no worker */
  char *worker_name;
  char comm[17];       /* /proc/PID/task/TID/comm when first seen */
};

struct cpd_drop {
  uint32_t tid;
  uint32_t reason;
  uint64_t count;      /* cumulative, as last reported */
};

/* Problems the daemon found in what clients sent; each is counted, none is fatal. */
struct cpd_rejects {
  uint64_t frames;            /* frames that did not decode or were out of place */
  uint64_t events_bad_name;   /* events naming an undeclared string id */
  uint64_t events_bad_thread; /* events for a thread of another process */
  uint64_t events_bad_kind;
  uint64_t strings;           /* string definitions with id 0 or too large */
  uint64_t strings_repaired;  /* strings with invalid UTF-8 (replaced by '?') or too long (cut) */
  uint64_t threads_quota;     /* events and workers for threads beyond CPD_MAX_THREADS */
  uint64_t events_quota;      /* events beyond CPD_MAX_EVENTS held, or past the daemon's
                                 memory budget */
};

struct cpd_session {
  uint32_t pid;                 /* from SO_PEERCRED, or the --pid target */
  uint32_t uid;
  char *service;                /* from Hello; "unknown" until one arrives */
  uint64_t hello_mono_ns;       /* the client's CLOCK_MONOTONIC/REALTIME pair */
  uint64_t hello_real_ns;
  uint64_t start_mono_ns;       /* when the daemon opened the session */
  uint64_t end_mono_ns;         /* set when the session is closed */
  struct cpd_clocksync clock;
  char **strings;               /* by id; NULL where undefined */
  size_t nstrings;
  struct cpd_event *events;
  size_t nevents, events_cap;   /* events_cap is taken from BUDGET */
  struct cpd_budget *budget;    /* the daemon's; NULL: none */
  uint64_t next_seq;
  struct cpd_thread *threads;
  size_t nthreads, threads_cap;
  struct cpd_drop *drops;
  size_t ndrops, drops_cap;
  struct cpd_rejects rejects;
  uint64_t resends;             /* events re-sent after a reconnect (not new events) */
  uint64_t tasks_begun;         /* task begin events received (not re-sends), ever */
  uint64_t client_events_sent;  /* from Goodbye */
  int had_hello;
  int other_pidns;              /* the client sees another pid namespace: tids are translated */
  struct { uint32_t inner, outer; } *tidmap;  /* the client's tids -> ours (NSpid) */
  size_t ntidmap, tidmap_cap;
  uint64_t events_received;     /* events accepted (not re-sends), over the session's life */
  int written;                  /* a target wrote its events; what is left came later */
  uint64_t retry_ms;            /* its trace could not be written: when to try again */
  int had_goodbye;              /* the client said it is done */
  int lingering;                /* no connection, no Goodbye, the process alive: it may be back */
  uint64_t closed_ms;           /* when its last connection closed */
  uint64_t cut_ns;              /* the last window cut, 0 when never cut; events stamped
                                   before it that arrive late are placed at it */
  int connections;              /* open connections feeding this session */
  struct cpd_session *next;     /* in the daemon's list */
};

struct cpd_session *cpd_session_new(uint32_t pid, uint32_t uid, uint64_t now_mono_ns);
void cpd_session_free(struct cpd_session *s);

/* Makes room for WANT events in all, taking it from the session's budget. 0 or -ENOMEM. */
int cpd_session_reserve_events(struct cpd_session *s, size_t want);

/* Applies one decoded frame from a client of this session. 0, or -errno for a frame out of place. */
int cpd_session_hello(struct cpd_session *s, const Ceoprof__Wire__Hello *h);
int cpd_session_apply(struct cpd_session *s, const Ceoprof__Wire__Frame *f);

/* The thread record of TID if known, else NULL. */
const struct cpd_thread *cpd_session_find_thread(const struct cpd_session *s, uint32_t tid);
/* The thread record of TID, created (with its comm read from /proc) on first sight. */
struct cpd_thread *cpd_session_thread(struct cpd_session *s, uint32_t tid);
const char *cpd_session_string(const struct cpd_session *s, uint32_t id);
/* The id of string VALUE, 0 when the clients never defined it. */
uint32_t cpd_session_string_id(const struct cpd_session *s, const char *value);
/* Sum of the clients' drops for REASON over all threads. */
uint64_t cpd_session_drops(const struct cpd_session *s, uint32_t reason);
/* CLOCK_MONOTONIC ns of event E. */
uint64_t cpd_session_event_mono(const struct cpd_session *s, const struct cpd_event *e);
/* The same, but never before the last window cut: where the timeline places E. */
uint64_t cpd_session_event_time(const struct cpd_session *s, const struct cpd_event *e);


#endif
