/* check_timeline.c: unit tests of replaying task events into spans (daemon/timeline.c). */
#include <check.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "session_fixture.h"
#include "model/timeline.h"

static struct cpd_session *s;
static struct cpd_timeline tl;

static void setup(void)
{
  s = fixture_session();
  fixture_string(s, 1, "outer");
  fixture_string(s, 2, "inner");
  fixture_string(s, 3, "bytes");
  fixture_string(s, 4, "@trace_hi");
  fixture_string(s, 5, "@trace_lo");
  fixture_string(s, 6, "@span_id");
}

static void teardown(void)
{
  cpd_timeline_free(&tl);
  cpd_session_free(s);
}

static const struct cpd_span *span_of(uint64_t task)
{
  for (size_t i = 0; i < tl.nspans; i++)
    if (tl.spans[i].task_id == task)
      return &tl.spans[i];
  return NULL;
}

START_TEST(test_timeline_nested_spans)
{
  fixture_event(s, BEGIN, T1, 100, 1, 1, 0, 0);
  fixture_event(s, BEGIN, T1, 200, 2, 2, 0, 0);
  fixture_event(s, FIELD, T1, 250, 2, 3, 4096, 0);
  fixture_event(s, END, T1, 300, 2, 0, 0, 0);
  fixture_event(s, END, T1, 400, 1, 0, 0, 0);
  ck_assert_int_eq(cpd_timeline_build(&tl, s, 1000), 0);
  ck_assert_uint_eq(tl.nspans, 2);
  ck_assert_uint_eq(span_of(1)->begin, 100);
  ck_assert_uint_eq(span_of(1)->end, 400);
  ck_assert_uint_eq(span_of(1)->depth, 0);
  ck_assert_uint_eq(span_of(2)->depth, 1);
  ck_assert_uint_eq(span_of(2)->nfields, 1);
  ck_assert_int_eq(tl.fields[span_of(2)->first_field].value, 4096);
  ck_assert_uint_eq(tl.counts.implicit_ends + tl.counts.unmatched_ends + tl.counts.unfinished, 0);
  ck_assert_ptr_eq(cpd_timeline_task_at(&tl, T1, 250), span_of(2));
  ck_assert_ptr_eq(cpd_timeline_task_at(&tl, T1, 350), span_of(1));
  ck_assert_ptr_null(cpd_timeline_task_at(&tl, T1, 450));
  ck_assert_ptr_null(cpd_timeline_task_at(&tl, T2, 250));
}
END_TEST

START_TEST(test_timeline_span_ids_and_inheritance)
{
  fixture_event(s, BEGIN, T1, 100, 1, 1, 0, 0);
  fixture_event(s, FIELD, T1, 110, 1, 4, 0x4bf92f3577b34da6, 0);
  fixture_event(s, FIELD, T1, 110, 1, 5, (int64_t)0xa3ce929d0e0e4736ull, 0);
  fixture_event(s, FIELD, T1, 110, 1, 6, 0x00f067aa0ba902b7, 0);
  fixture_event(s, BEGIN, T1, 200, 2, 2, 0, 0);
  fixture_event(s, END, T1, 300, 2, 0, 0, 0);
  fixture_event(s, END, T1, 400, 1, 0, 0, 0);
  fixture_event(s, BEGIN, T1, 500, 3, 2, 0, 0);
  fixture_event(s, END, T1, 600, 3, 0, 0, 0);
  ck_assert_int_eq(cpd_timeline_build(&tl, s, 1000), 0);
  /* The reserved keys set the span; they are not fields. */
  ck_assert_uint_eq(span_of(1)->has_span, 1);
  ck_assert_uint_eq(span_of(1)->nfields, 0);
  ck_assert_uint_eq(span_of(1)->trace_hi, 0x4bf92f3577b34da6ull);
  ck_assert_uint_eq(span_of(1)->trace_lo, 0xa3ce929d0e0e4736ull);
  ck_assert_uint_eq(span_of(1)->span_id, 0x00f067aa0ba902b7ull);
  ck_assert_uint_eq(span_of(1)->span_name_id, 1);
  /* A task inside it belongs to the same span; one after it does not. */
  ck_assert_uint_eq(span_of(2)->has_span, 2);
  ck_assert_uint_eq(span_of(2)->span_id, 0x00f067aa0ba902b7ull);
  ck_assert_uint_eq(span_of(2)->span_name_id, 1);
  ck_assert_uint_eq(span_of(3)->has_span, 0);
}
END_TEST

/* A window cut: tasks open at the cut begin again there with their fields and span; events
 * stamped before the cut that arrive after it are placed at the cut; nothing is counted twice. */
START_TEST(test_timeline_window_cut)
{
  struct cpd_timeline next;

  fixture_event(s, BEGIN, T1, 100, 1, 1, 0, 0);
  fixture_event(s, FIELD, T1, 120, 1, 3, 4096, 0);
  fixture_event(s, FIELD, T1, 130, 1, 6, 77, 0);
  fixture_event(s, BEGIN, T1, 200, 2, 2, 0, 0);
  fixture_event(s, END, T1, 300, 2, 0, 0, 0);
  fixture_event(s, BEGIN, T2, 400, 3, 2, 0, 0);
  fixture_event(s, BEGIN, T1, 600, 4, 2, 0, 0);   /* after the cut */
  ck_assert_int_eq(cpd_timeline_build_until(&tl, s, 500), 0);
  ck_assert_uint_eq(tl.nspans, 3);
  ck_assert_uint_eq(span_of(1)->end, 500);
  ck_assert(span_of(1)->unfinished);
  ck_assert(!span_of(2)->unfinished);
  ck_assert_uint_eq(span_of(3)->end, 500);
  ck_assert_int_eq(cpd_session_cut(s, &tl, 500, 0), 0);
  fixture_event(s, END, T2, 450, 3, 0, 0, 0);     /* stamped before the cut, arrived after */
  fixture_event(s, END, T1, 700, 4, 0, 0, 0);
  fixture_event(s, END, T1, 800, 1, 0, 0, 0);
  ck_assert_int_eq(cpd_timeline_build(&next, s, 1000), 0);
  ck_assert_uint_eq(next.nspans, 3);
  for (size_t i = 0; i < next.nspans; i++) {
    const struct cpd_span *sp = &next.spans[i];

    ck_assert_uint_ge(sp->begin, 500);
    ck_assert(!sp->unfinished);
    if (sp->task_id == 1) {
      ck_assert_uint_eq(sp->begin, 500);
      ck_assert_uint_eq(sp->end, 800);
      ck_assert_uint_eq(sp->nfields, 1);
      ck_assert_int_eq(next.fields[sp->first_field].value, 4096);
      ck_assert_uint_eq(sp->has_span, 1);
      ck_assert_uint_eq(sp->span_id, 77);
    } else if (sp->task_id == 3) {
      ck_assert_uint_eq(sp->begin, 500);
      ck_assert_uint_eq(sp->end, 500);
    } else {
      ck_assert_uint_eq(sp->task_id, 4);
      ck_assert_uint_eq(sp->depth, 1);  /* still inside task 1 */
      ck_assert_uint_eq(sp->span_id, 77);
    }
  }
  ck_assert_uint_eq(next.counts.unmatched_ends, 0);
  cpd_timeline_free(&next);
}
END_TEST

START_TEST(test_timeline_arrival_order_does_not_matter)
{
  /* The same events as above, delivered backwards. */
  fixture_event(s, END, T1, 400, 1, 0, 0, 0);
  fixture_event(s, END, T1, 300, 2, 0, 0, 0);
  fixture_event(s, BEGIN, T1, 200, 2, 2, 0, 0);
  fixture_event(s, BEGIN, T1, 100, 1, 1, 0, 0);
  ck_assert_int_eq(cpd_timeline_build(&tl, s, 1000), 0);
  ck_assert_uint_eq(tl.nspans, 2);
  ck_assert_uint_eq(span_of(2)->depth, 1);
  ck_assert_uint_eq(span_of(1)->end, 400);
  ck_assert_uint_eq(tl.counts.unmatched_ends, 0);
}
END_TEST

START_TEST(test_timeline_mismatched_end_closes_inner)
{
  fixture_event(s, BEGIN, T1, 100, 1, 1, 0, 0);
  fixture_event(s, BEGIN, T1, 200, 2, 2, 0, 0);
  fixture_event(s, END, T1, 300, 1, 0, 0, 0);  /* outer ends while inner is open */
  fixture_event(s, END, T1, 350, 2, 0, 0, 0);  /* now matches nothing */
  fixture_event(s, END, T1, 360, 77, 0, 0, 0); /* never began */
  ck_assert_int_eq(cpd_timeline_build(&tl, s, 1000), 0);
  ck_assert_uint_eq(tl.counts.implicit_ends, 1);
  ck_assert_uint_eq(tl.counts.unmatched_ends, 2);
  ck_assert_uint_eq(span_of(2)->end, 300);
  ck_assert_uint_eq(span_of(1)->end, 300);
}
END_TEST

START_TEST(test_timeline_task_moves_between_threads)
{
  fixture_event(s, BEGIN, T1, 100, 9, 1, 0, 0);
  fixture_event(s, END, T2, 500, 9, 0, 0, 0);
  ck_assert_int_eq(cpd_timeline_build(&tl, s, 1000), 0);
  ck_assert_uint_eq(tl.nspans, 1);
  ck_assert_uint_eq(span_of(9)->tid, T1);
  ck_assert_uint_eq(span_of(9)->end_tid, T2);
  ck_assert_uint_eq(span_of(9)->end, 500);
  ck_assert_uint_eq(tl.counts.moved, 1);
  ck_assert_uint_eq(tl.counts.unmatched_ends, 0);
}
END_TEST

START_TEST(test_timeline_resend_is_deduplicated_and_unfinished_closed)
{
  fixture_event(s, BEGIN, T1, 100, 5, 1, 0, 0);
  fixture_event(s, BEGIN, T1, 100, 5, 1, 0, 1);  /* the same open task, re-sent */
  fixture_event(s, BEGIN, T2, 150, 6, 2, 0, 1);  /* re-sent to a daemon that missed it */
  ck_assert_int_eq(cpd_timeline_build(&tl, s, 900), 0);
  ck_assert_uint_eq(tl.nspans, 2);
  ck_assert_uint_eq(tl.counts.duplicate_resends, 1);
  ck_assert_uint_eq(tl.counts.unfinished, 2);
  ck_assert_uint_eq(span_of(5)->end, 900);
  ck_assert_int_eq(span_of(5)->unfinished, 1);
}
END_TEST

static uint64_t now_ns(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A thread number that another process uses now but did not when the event was stamped
 * (pid_max wrapped around) was the client's own: accepted. Stamped now: refused. */
START_TEST(test_timeline_reused_thread_number_accepted)
{
  uint32_t other = 1;  /* init: not FIXTURE_PID's, started at boot */

  fixture_event(s, BEGIN, other, now_ns(), 5, 1, 0, 0);
  ck_assert_uint_eq(s->rejects.events_bad_thread, 1);
  fixture_event(s, BEGIN, other, 1000, 6, 1, 0, 0);  /* stamped before it existed */
  ck_assert_uint_eq(s->rejects.events_bad_thread, 1);
  ck_assert_uint_eq(s->nevents, 1);
}
END_TEST

START_TEST(test_timeline_bad_events_rejected_on_arrival)
{
  fixture_event(s, BEGIN, T1, 100, 5, 99, 0, 0);  /* undeclared name */
  fixture_event(s, 42, T1, 100, 5, 1, 0, 0);      /* unknown kind */
  fixture_event(s, BEGIN, 1, now_ns(), 5, 1, 0, 0); /* pid 1's thread is not ours */
  fixture_event(s, FIELD, T1, 100, 123, 3, 1, 0); /* field of no open task */
  ck_assert_uint_eq(s->rejects.events_bad_name, 1);
  ck_assert_uint_eq(s->rejects.events_bad_kind, 1);
  ck_assert_uint_eq(s->rejects.events_bad_thread, 1);
  ck_assert_int_eq(cpd_timeline_build(&tl, s, 900), 0);
  ck_assert_uint_eq(tl.nspans, 0);
  ck_assert_uint_eq(tl.counts.orphan_fields, 1);
}
END_TEST

START_TEST(test_timeline_task_at_many_siblings)
{
  for (uint64_t i = 0; i < 1000; i++) {
    fixture_event(s, BEGIN, T1, 1000 + i * 10, 100 + i, 1, 0, 0);
    fixture_event(s, END, T1, 1000 + i * 10 + 5, 100 + i, 0, 0, 0);
  }
  ck_assert_int_eq(cpd_timeline_build(&tl, s, 20000), 0);
  ck_assert_uint_eq(cpd_timeline_task_at(&tl, T1, 1000 + 500 * 10 + 2)->task_id, 600);
  ck_assert_ptr_null(cpd_timeline_task_at(&tl, T1, 1000 + 500 * 10 + 7));
}
END_TEST

static Suite *timeline_suite(void)
{
  Suite *su = suite_create("timeline");
  TCase *tc = tcase_create("replay");

  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, test_timeline_nested_spans);
  tcase_add_test(tc, test_timeline_span_ids_and_inheritance);
  tcase_add_test(tc, test_timeline_window_cut);
  tcase_add_test(tc, test_timeline_arrival_order_does_not_matter);
  tcase_add_test(tc, test_timeline_mismatched_end_closes_inner);
  tcase_add_test(tc, test_timeline_task_moves_between_threads);
  tcase_add_test(tc, test_timeline_resend_is_deduplicated_and_unfinished_closed);
  tcase_add_test(tc, test_timeline_bad_events_rejected_on_arrival);
  tcase_add_test(tc, test_timeline_reused_thread_number_accepted);
  tcase_add_test(tc, test_timeline_task_at_many_siblings);
  suite_add_tcase(su, tc);
  return su;
}

int main(void)
{
  SRunner *sr = srunner_create(timeline_suite());
  int failed;

  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
