/*
 * perfetto_seq.h: the one packet sequence of a .pftrace (output/perfetto_seq.c): packets and
 * their timestamps on the sequence's incremental clock, the names, callstacks and tracks
 * its incremental state holds, each sent once. The writer (perfetto_writer.c) says what
 * goes into it.
 */
#ifndef CPD_PERFETTO_SEQ_H
#define CPD_PERFETTO_SEQ_H

#include <stdint.h>

#include "model/profile.h"
#include "model/session.h"
#include "perfetto.pb-c.h"
#include "util.h"

typedef Perfetto__Protos__TracePacket pf_packet;
typedef Perfetto__Protos__TrackEvent pf_event;
typedef Perfetto__Protos__InternedData pf_interned;


/* Track uuids, small (each event names its track): a thread's is its tid, the other kinds
 * lie above 2^22 (tids and pids are below it). */
#define UUID_THREAD(pid, tid) ((void)(pid), (uint64_t)(tid))
#define UUID_PROCESS(pid) ((1ull << 22) | (uint64_t)(pid))
#define UUID_OFFCPU(pid, tid) ((2ull << 22) | (uint64_t)(tid))
#define UUID_RSS(pid) ((3ull << 22) | (uint64_t)(pid))
#define UUID_COUNTER(pid, name) ((1ull << 40) | (uint64_t)(pid) << 17 | (uint64_t)(name))
#define UUID_MOVED(flow) ((2ull << 40) | (uint64_t)(flow))
#define UUID_STATE(tid) ((4ull << 22) | (uint64_t)(tid))
#define CLOCK_INCREMENTAL 64u  /* this sequence's own clock: deltas */
#define PF_CLOCK_MONOTONIC 3u  /* BUILTIN_CLOCK_MONOTONIC: the clock ceoprof stamps everything with */

/* Names that are not the clients': event names and annotation names past their ids. */
enum { FIXED_CPU = 1, FIXED_OFF, FIXED_TASK_ID, FIXED_ENDED_ON, FIXED_CPU_NS,
       FIXED_BLOCKED_NS, FIXED_DELAY_NS, FIXED_SWITCHES, FIXED_RSS, FIXED_RUNNING, FIXED_RUNNABLE,
       FIXED_BLOCKED, FIXED_N };
#define FIXED_IID(k) ((uint64_t)(k))          /* the clients' names follow them */
#define NAME_IID(id) ((uint64_t)(id) + FIXED_N)


#define PF_MAX_FRAMES 256  /* locations per stack, inlined frames included */

/* A .pftrace being written: its file, its limit, and its sequence's incremental state. */
struct cpd_pf_out {
  struct cpd_outstream out;
  int rc;                      /* the first error, 0 when none */
  int cleared;                 /* the sequence's first packet went out */
  uint64_t limit;              /* bytes past which events are left out; 0: no limit */
  int full;
  uint64_t dropped_events, dropped_samples;
  size_t spans, samples;       /* written */
  uint64_t flows;              /* ids of tasks that moved */
  uint64_t last_ts;            /* the incremental clock's time: the last delta-stamped packet */
  /* The sequence's interned state: what went out already, by index. */
  uint8_t *names, *annos, *locs, *maps, *stacks, *counters;
  size_t names_cap, annos_cap, locs_cap, maps_cap, stacks_cap, counters_cap;
  uint64_t *tracks;            /* thread tracks described (uuids), sorted */
  size_t ntracks, tracks_cap;
  uint32_t fixed_sent;         /* the fixed names (bit per name) */
  struct interned *in;         /* what one packet interns (scratch) */
  uint8_t *buf;                /* one packet's encoding */
  size_t buf_cap;
};


/* The interned entries one packet carries (the writer's scratch: large, reused). */
struct interned {
  pf_interned d;
  Perfetto__Protos__EventName names[8], *namep[8];
  Perfetto__Protos__DebugAnnotationName annos[40], *annop[40];
  Perfetto__Protos__InternedString funcs[PF_MAX_FRAMES], *funcp[PF_MAX_FRAMES];
  Perfetto__Protos__Frame frames[PF_MAX_FRAMES], *framep[PF_MAX_FRAMES];
  Perfetto__Protos__Callstack stack, *stackp;
  uint64_t frame_ids[PF_MAX_FRAMES];
  Perfetto__Protos__InternedString bids[PF_MAX_FRAMES], *bidp[PF_MAX_FRAMES];
  Perfetto__Protos__InternedString paths[PF_MAX_FRAMES], *pathp[PF_MAX_FRAMES];
  Perfetto__Protos__Mapping maps[PF_MAX_FRAMES], *mapp[PF_MAX_FRAMES];
  uint64_t path_ids[PF_MAX_FRAMES];
};

/* Empties IN for the next packet. */
void cpd_pfs_interned_init(struct interned *in);
/* Marks index I sent in *FLAGS (grown as needed): 1 the first time, 0 after, -1 without memory. */
int cpd_pfs_first_time(uint8_t **flags, size_t *cap, size_t i);
/* The sequence's first packet: its incremental clock beside CLOCK_MONOTONIC, from T0. */
void cpd_pfs_emit_clock(struct cpd_pf_out *w, uint64_t t0);
/* A track event at TS (a delta on the incremental clock, or absolute when TS goes back),
 * with what IN interned for it (IN may be NULL). */
void cpd_pfs_emit_event(struct cpd_pf_out *w, struct interned *in, uint64_t ts, pf_event *ev);
/* A client's string ID ("?" when undefined). */
const char *cpd_pfs_session_name(const struct cpd_session *s, uint32_t id);
/* The iids of a client's string ID as an event name or an annotation name, and of fixed
 * name K (as an event name when AS_EVENT), each interned into IN the first time. */
uint64_t cpd_pfs_event_name(struct cpd_pf_out *w, struct interned *in, const struct cpd_session *s,
                            uint32_t id);
uint64_t cpd_pfs_anno_name(struct cpd_pf_out *w, struct interned *in, const struct cpd_session *s,
                           uint32_t id);
uint64_t cpd_pfs_fixed_name(struct cpd_pf_out *w, struct interned *in, int k, int as_event);
/* The iid of profile P's stack STK, interned into IN (frames, functions, mappings) the first
 * time. */
uint64_t cpd_pfs_callstack(struct cpd_pf_out *w, struct interned *in, const struct cpd_profile *p,
                           uint32_t stk);
/* Whether track UUID was described (noting it described now when not). */
int cpd_pfs_described(struct cpd_pf_out *w, uint64_t uuid);
/* Thread T's track (and its process's), described the first time or AGAIN with its name now. */
void cpd_pfs_describe_thread(struct cpd_pf_out *w, const struct cpd_session *s,
                             const struct cpd_thread *t, int again);
void cpd_pfs_describe_process(struct cpd_pf_out *w, uint32_t pid, const char *name);
/* A track under PARENT named NAME (a counter in bytes when COUNTER_BYTES is 1, in plain
 * units when 0), ordered at RANK, described the first time. */
void cpd_pfs_describe_child(struct cpd_pf_out *w, uint64_t uuid, uint64_t parent, const char *name,
                            int counter_bytes, int rank);
/* The track of thread TID of S, described the first time. */
uint64_t cpd_pfs_thread_track(struct cpd_pf_out *w, const struct cpd_session *s, uint32_t tid);

#endif
