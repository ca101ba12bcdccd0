/*
 * flusher.h: what the flusher thread's files share: its state (flusher.c: connection,
 * frames, the thread's loop) and its replay of each thread's records against a shadow
 * stack of open tasks (replay.c). Only the flusher thread touches any of it.
 */
#ifndef CP_CLIENT_FLUSHER_H
#define CP_CLIENT_FLUSHER_H

#include <stdint.h>

#include "evcodec.h"
#include "frame.h"
#include "internal.h"

#define BATCH_MAX 8192          /* events per EventRuns frame (about 70 KiB encoded) */

/* Everything the flusher thread owns; nothing here is touched by other threads. */
struct cp_flusher {
  int fd;                               /* the daemon connection, -1 when none */
  uint64_t next_connect_ms;             /* when to look for a daemon again */
  uint32_t names_sent;                  /* names 1..names_sent are known to this daemon */
  struct cp_frame_reader reader;        /* the daemon's replies */
  struct cp_ev *ev;                     /* events drained, not yet sent (grows) */
  struct cp_evenc enc;                  /* their encoder's arrays, kept between frames */
  struct cp_thread **owner;             /* whose event (NULL: a re-send), for drop accounting */
  size_t nev, cap;
  struct cp_thread *graveyard;          /* slots of exited threads, freed after the next send */
  struct cp_thread exited;              /* drops of freed slots, reported as tid 0 */
  struct { uint64_t task_id; uint64_t ts; } orphans[CP_ORPHANS]; /* ends no task matched */
  unsigned orphan_next;
  unsigned orphans_live;                /* slots holding an end (most rounds: none) */
  uint64_t threshold_ticks;             /* CEOPROF_THRESHOLD_US in timestamp units */
  uint64_t cal_tsc, cal_mono;           /* the first clock pair, for the TSC rate */
};

extern struct cp_flusher cp__fl;

/* Counts N events of T dropped for REASON (also in the process-wide counters). */
void cp__count_drop(struct cp_thread *t, int reason, uint64_t n);
/* Replays one record drained from T's ring (a cp__ring_drain callback). */
void cp__replay_rec(void *arg, const struct cp_rec *r);
/* Queues an event for the next batch (counted as dropped when no daemon is there). */
void cp__emit(struct cp_thread *t, uint32_t kind, uint64_t ts, uint64_t task_id,
              uint32_t name_id, int64_t value, int resend);
/* Sends the begin of an open task that was held back, and the fields held with it. */
void cp__release_task(struct cp_thread *t, struct cp_open_task *o);

#endif
