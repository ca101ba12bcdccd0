/* session_fixture.h: building daemon sessions in unit tests through the real frame path. */
#ifndef TESTS_SESSION_FIXTURE_H
#define TESTS_SESSION_FIXTURE_H

#include <check.h>
#include <unistd.h>

#include "evcodec.h"
#include "frame.h"
#include "model/session.h"

/* Thread ids high enough that no live thread has them, so the daemon accepts them. */
#define T1 3999001u
#define T2 3999002u
#define FIXTURE_PID 3999000u /* a process that does not exist: output stays the same */

static inline struct cpd_session *fixture_session(void)
{
  struct cpd_session *s = cpd_session_new(FIXTURE_PID, 0, 1000);
  Ceoprof__Wire__Hello h = CEOPROF__WIRE__HELLO__INIT;

  ck_assert_ptr_nonnull(s);
  h.protocol_version = CP_PROTOCOL_VERSION;
  h.service_name = "fixture";
  h.monotonic_ns = 5000;
  h.realtime_ns = 1700000000000000000ull;
  h.tsc_timestamps = 0;
  ck_assert_int_eq(cpd_session_hello(s, &h), 0);
  return s;
}

static inline void fixture_string(struct cpd_session *s, uint32_t id, const char *v)
{
  Ceoprof__Wire__StringDef d = CEOPROF__WIRE__STRING_DEF__INIT, *dp = &d;
  Ceoprof__Wire__StringDefs defs = CEOPROF__WIRE__STRING_DEFS__INIT;
  Ceoprof__Wire__Frame f = CEOPROF__WIRE__FRAME__INIT;

  d.id = id;
  d.value = (char *)v;
  defs.n_strings = 1;
  defs.strings = &dp;
  f.body_case = CEOPROF__WIRE__FRAME__BODY_STRINGS;
  f.strings = &defs;
  ck_assert_int_eq(cpd_session_apply(s, &f), 0);
}

static inline void fixture_worker(struct cpd_session *s, uint32_t tid, uint32_t id, const char *name)
{
  Ceoprof__Wire__WorkerThread w = CEOPROF__WIRE__WORKER_THREAD__INIT, *wp = &w;
  Ceoprof__Wire__WorkerThreadMap m = CEOPROF__WIRE__WORKER_THREAD_MAP__INIT;
  Ceoprof__Wire__Frame f = CEOPROF__WIRE__FRAME__INIT;

  w.tid = tid;
  w.worker_id = id;
  w.worker_name = (char *)name;
  m.n_workers = 1;
  m.workers = &wp;
  f.body_case = CEOPROF__WIRE__FRAME__BODY_WORKERS;
  f.workers = &m;
  ck_assert_int_eq(cpd_session_apply(s, &f), 0);
}

static inline void fixture_event(struct cpd_session *s, int kind, uint32_t tid, uint64_t ts,
                                 uint64_t task, uint32_t name, int64_t value, int resend)
{
  struct cp_ev e = { .ts = ts, .task_id = task, .value = value, .tid = tid, .name_id = name,
                     .kind = (uint8_t)kind, .resend = (uint8_t)resend };
  struct cp_evenc enc = { 0 };
  Ceoprof__Wire__EventRuns runs;
  Ceoprof__Wire__Frame f = CEOPROF__WIRE__FRAME__INIT;

  ck_assert_int_eq(cp__evenc_build(&enc, &e, 1, &runs), 0);
  f.body_case = CEOPROF__WIRE__FRAME__BODY_RUNS;
  f.runs = &runs;
  ck_assert_int_eq(cpd_session_apply(s, &f), 0);
  cp__evenc_free(&enc);
}

#define BEGIN CEOPROF__WIRE__EVENT_KIND__EVENT_TASK_BEGIN
#define END CEOPROF__WIRE__EVENT_KIND__EVENT_TASK_END
#define INSTANT CEOPROF__WIRE__EVENT_KIND__EVENT_INSTANT
#define COUNTER CEOPROF__WIRE__EVENT_KIND__EVENT_COUNTER
#define FIELD CEOPROF__WIRE__EVENT_KIND__EVENT_TASK_FIELD

#endif
