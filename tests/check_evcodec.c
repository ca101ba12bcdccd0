/* check_evcodec.c: unit tests of the event runs codec (common/evcodec.c): round trips through
 * the wire, deltas that wrap and go back, kinds that carry nothing, and runs whose arrays do
 * not match their kinds. */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "evcodec.h"
#include "frame.h"

#define BEGIN CEOPROF__WIRE__EVENT_KIND__EVENT_TASK_BEGIN
#define END CEOPROF__WIRE__EVENT_KIND__EVENT_TASK_END
#define INSTANT CEOPROF__WIRE__EVENT_KIND__EVENT_INSTANT
#define COUNTER CEOPROF__WIRE__EVENT_KIND__EVENT_COUNTER
#define FIELD CEOPROF__WIRE__EVENT_KIND__EVENT_TASK_FIELD

/* Encodes N events, packs the frame, reads it back and walks its runs into OUT. Returns
 * how many events came out and sets *NRUNS. */
static size_t round_trip(const struct cp_ev *ev, size_t n, struct cp_ev *out, size_t *nruns,
                         size_t *bytes)
{
  struct cp_evenc enc = { 0 };
  Ceoprof__Wire__EventRuns runs;
  cp_frame f = CEOPROF__WIRE__FRAME__INIT, *back = NULL;
  struct cp_frame_reader r;
  uint8_t *buf, *space;
  size_t len, k = 0;

  ck_assert_int_eq(cp__evenc_build(&enc, ev, n, &runs), 0);
  f.body_case = CEOPROF__WIRE__FRAME__BODY_RUNS;
  f.runs = &runs;
  ck_assert_int_eq(cp__frame_encode(&f, &buf, &len), 0);
  *bytes = len;
  cp__frame_reader_init(&r, CP_MAX_FRAME);
  space = cp__frame_reader_space(&r, len);
  memcpy(space, buf, len);
  cp__frame_reader_commit(&r, len);
  ck_assert_int_eq(cp__frame_next(&r, &back), 1);
  ck_assert_int_eq(back->body_case, CEOPROF__WIRE__FRAME__BODY_RUNS);
  *nruns = back->runs->n_runs;
  for (size_t i = 0; i < back->runs->n_runs; i++) {
    struct cp_evrun_iter it;

    ck_assert_int_eq(cp__evrun_check(back->runs->runs[i]), 0);
    cp__evrun_iter_init(&it, back->runs->runs[i]);
    while (cp__evrun_next(&it, &out[k]) > 0)
      k++;
  }
  cp__frame_free(back);
  cp__frame_reader_free(&r);
  free(buf);
  cp__evenc_free(&enc);
  return k;
}

static int same(const struct cp_ev *a, const struct cp_ev *b)
{
  return a->ts == b->ts && a->task_id == b->task_id && a->value == b->value && a->tid == b->tid &&
         a->name_id == b->name_id && a->kind == b->kind && a->resend == b->resend;
}

START_TEST(test_evcodec_round_trip)
{
  /* Two threads interleaved (three runs), every kind, a re-send, timestamps that go back
   * (a re-sent begin) and wrap, task ids that go down, negative values. */
  const struct cp_ev ev[] = {
    { .ts = 1000, .task_id = 7, .tid = 11, .name_id = 1, .kind = BEGIN },
    { .ts = 1100, .task_id = 7, .value = -5, .tid = 11, .name_id = 2, .kind = FIELD },
    { .ts = 1200, .tid = 11, .name_id = 3, .kind = INSTANT },
    { .ts = 900, .task_id = 3, .tid = 12, .name_id = 1, .kind = BEGIN, .resend = 1 },
    { .ts = 1300, .task_id = 3, .tid = 12, .kind = END },
    { .ts = 1250, .tid = 11, .value = INT64_MIN, .name_id = 4, .kind = COUNTER },
    { .ts = UINT64_MAX - 5, .task_id = UINT64_MAX, .tid = 11, .name_id = 1, .kind = BEGIN },
    { .ts = 3, .task_id = 1, .tid = 11, .kind = END },
  };
  size_t n = sizeof(ev) / sizeof(ev[0]), nruns, bytes;
  struct cp_ev out[16];

  ck_assert_uint_eq(round_trip(ev, n, out, &nruns, &bytes), n);
  ck_assert_uint_eq(nruns, 3);
  for (size_t i = 0; i < n; i++)
    ck_assert_msg(same(&ev[i], &out[i]), "event %zu differs", i);
}
END_TEST

START_TEST(test_evcodec_compact)
{
  /* A busy thread's begin/end pairs a few microseconds apart: a few bytes per event. */
  size_t n = 4096, nruns, bytes;
  struct cp_ev *ev = calloc(n, sizeof(*ev)), *out = calloc(n, sizeof(*out));

  for (size_t i = 0; i < n; i++)
    ev[i] = (struct cp_ev){ .ts = 1000000000000ull + i * 3000, .task_id = 500000 + i / 2,
                            .tid = 4242, .name_id = i % 2 ? 0 : 1 + (uint32_t)(i / 2 % 3),
                            .kind = i % 2 ? END : BEGIN };
  ck_assert_uint_eq(round_trip(ev, n, out, &nruns, &bytes), n);
  ck_assert_uint_eq(nruns, 1);
  for (size_t i = 0; i < n; i++)
    ck_assert(same(&ev[i], &out[i]));
  ck_assert_msg(bytes < n * 6, "%zu bytes for %zu events", bytes, n);
  free(ev);
  free(out);
}
END_TEST

START_TEST(test_evcodec_mismatched_arrays)
{
  /* A run whose kinds say more names (or tasks, values, times) than it carries is refused
   * before anything is read from it. */
  uint32_t kinds[2] = { BEGIN, END };
  int64_t ts[2] = { 5, 5 }, tasks[2] = { 1, 0 }, values[1] = { 9 };
  uint32_t names[1] = { 1 };
  Ceoprof__Wire__EventRun run = CEOPROF__WIRE__EVENT_RUN__INIT;

  run.tid = 1;
  run.n_kinds = 2;
  run.kinds = kinds;
  run.n_ts_deltas = 2;
  run.ts_deltas = ts;
  run.n_name_ids = 1;
  run.name_ids = names;
  run.n_task_deltas = 2;
  run.task_deltas = tasks;
  ck_assert_int_eq(cp__evrun_check(&run), 0);
  run.n_task_deltas = 1;  /* the end's task is missing */
  ck_assert_int_eq(cp__evrun_check(&run), -EBADMSG);
  run.n_task_deltas = 2;
  run.n_values = 1;       /* a value nobody carries */
  run.values = values;
  ck_assert_int_eq(cp__evrun_check(&run), -EBADMSG);
  run.n_values = 0;
  run.n_ts_deltas = 1;    /* a time missing */
  ck_assert_int_eq(cp__evrun_check(&run), -EBADMSG);
  run.n_ts_deltas = 2;
  kinds[1] = 77;          /* an unknown kind carries nothing: the end's task is one too many */
  ck_assert_int_eq(cp__evrun_check(&run), -EBADMSG);
  run.n_task_deltas = 1;
  ck_assert_int_eq(cp__evrun_check(&run), 0);
  {
    struct cp_evrun_iter it;
    struct cp_ev e;

    cp__evrun_iter_init(&it, &run);
    ck_assert_int_eq(cp__evrun_next(&it, &e), 1);
    ck_assert_int_eq(e.kind, BEGIN);
    ck_assert_int_eq(cp__evrun_next(&it, &e), 1);
    ck_assert_int_eq(e.kind, 77);  /* for the caller to count */
    ck_assert_uint_eq(e.ts, 10);
    ck_assert_int_eq(cp__evrun_next(&it, &e), 0);
  }
}
END_TEST

static Suite *evcodec_suite(void)
{
  Suite *su = suite_create("evcodec");
  TCase *c = tcase_create("runs");

  tcase_add_test(c, test_evcodec_round_trip);
  tcase_add_test(c, test_evcodec_compact);
  tcase_add_test(c, test_evcodec_mismatched_arrays);
  suite_add_tcase(su, c);
  return su;
}

int main(void)
{
  SRunner *sr = srunner_create(evcodec_suite());
  int failed;

  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
