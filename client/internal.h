/* internal.h: libceoprof's private state: the process-wide struct and per-thread slots. */
#ifndef CP_CLIENT_INTERNAL_H
#define CP_CLIENT_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/un.h>

#include "ceoprof.pb-c.h"
#include "intern.h"
#include "ring.h"

#define CP_MAX_DEPTH 64          /* nesting the flusher tracks per thread */
#define CP_PENDING_FIELDS 4      /* fields held for a task still under the threshold */
#define CP_NAME_CACHE 64         /* per-thread pointer -> name id cache slots */
#define CP_DROP_REASONS 7        /* indices are Ceoprof__Wire__DropReason values */
#define CP_ORPHANS 64            /* recent ends that matched no open task */

/* A task the flusher knows to be open on a thread (its shadow of the thread's stack). */
struct cp_open_task {
  uint64_t task_id;
  uint64_t begin_ts;
  uint32_t name_id;
  uint8_t sent;     /* the begin was emitted (or dropped for want of a daemon) */
  uint8_t nfields;  /* fields held back while the task is under the threshold */
  struct { uint64_t ts; uint32_t key; int64_t value; } fields[CP_PENDING_FIELDS];
};

/* One per thread that ever emitted an event; freed by the flusher after the thread exits. */
struct cp_thread {
  struct cp_ring ring;                      /* the hot path writes here */
  uint32_t gen;                             /* cp_state.gen when this slot was made */
  uint32_t tid;
  struct { const char *ptr; uint32_t id; } name_cache[CP_NAME_CACHE];
  _Atomic uint64_t dropped_names;           /* events lost to a full name table (hot path) */
  _Atomic int dead;                         /* the thread exited; drain, then free */
  struct cp_thread *next;                   /* cp_state.threads, guarded by cp_state.lock */
  /* Owned by the flusher. */
  struct cp_open_task stack[CP_MAX_DEPTH];
  uint32_t depth;
  uint32_t overflow;                        /* begins refused past CP_MAX_DEPTH, still open */
  uint64_t drops[CP_DROP_REASONS];          /* cumulative, by reason (ring-full read from ring) */
  uint64_t drops_reported[CP_DROP_REASONS]; /* as last sent to the daemon */
};

struct cp_worker {
  uint32_t tid;
  uint32_t worker_id;
  char name[64];
};

struct cp_state {
  _Atomic uint32_t gen;          /* bumped by shutdown and in a fork child: old slots go stale */
  _Atomic int enabled;           /* 1 between a successful init and shutdown */
  char service[128];             /* the name given to ceoprof_init */
  char sockpath[sizeof(((struct sockaddr_un *)0)->sun_path)];
  uint64_t threshold_ns;         /* CEOPROF_THRESHOLD_US in ns; shorter spans are not sent */
  size_t ring_bytes;             /* CEOPROF_BUFFER_KB in bytes, per thread */
  pthread_key_t thread_key;      /* its destructor marks a thread's slot dead */
  pthread_mutex_t lock;          /* guards threads, workers and flusher start/stop */
  struct cp_thread *threads;     /* every live slot */
  struct cp_worker *workers;     /* the WorkerThreadMap */
  size_t nworkers, workers_cap;
  _Atomic int workers_dirty;     /* the map changed since it was last sent */
  pthread_t flusher;
  int flusher_running;
  pthread_mutex_t wake_lock;     /* with wake: lets shutdown interrupt the flusher's sleep */
  pthread_mutex_t flush_lock;    /* held by the flusher while it works, and by fork(): a child
                                  * never starts with another thread inside malloc() or
                                  * send() (an allocator without fork handlers, such as
                                  * ASan's, then deadlocked the child's first malloc) */
  pthread_cond_t wake;
  int stopping;
  struct cp_intern names;
  /* Statistics, written by the flusher. */
  _Atomic uint64_t events_recorded;
  _Atomic uint64_t events_sent;
  _Atomic uint64_t dropped[CP_DROP_REASONS];  /* process totals by reason */
  _Atomic uint32_t connected;
  _Atomic uint32_t connections;
};

extern struct cp_state cp__state;

/* The flusher thread (flusher.c). */
int cp__flusher_start(void);   /* with cp__state.lock held */
void cp__flusher_stop(void);   /* final drain and Goodbye, then join */
void cp__flusher_after_fork(void);

#endif
