/* check_thread_state.c: unit tests of the split of a task's time by its thread's states
 * (daemon/thread_state.c). */
#include <check.h>
#include <stdlib.h>

#include "model/thread_state.h"

static struct cpd_sched s;

static void setup(void)
{
  s = (struct cpd_sched){ 0 };
  /* Thread 7: runs, blocks at 100, wakes runnable... its records arrive out of order and
   * mixed with thread 9's. */
  cpd_sched_add(&s, 100, 7, CPD_BLOCKED);
  cpd_sched_add(&s, 150, 9, CPD_RUNNABLE);
  cpd_sched_add(&s, 300, 7, CPD_RUNNING);
  cpd_sched_add(&s, 250, 9, CPD_RUNNING);
  cpd_sched_add(&s, 400, 7, CPD_RUNNABLE);
  cpd_sched_add(&s, 450, 7, CPD_RUNNING);
  cpd_sched_index(&s);
}

static void teardown(void)
{
  cpd_sched_free(&s);
}

START_TEST(test_thread_state_span_split)
{
  struct cpd_sched_times t;

  cpd_sched_span(&s, 7, 50, 500, &t);
  ck_assert_uint_eq(t.cpu_ns, 50 + 100 + 50);
  ck_assert_uint_eq(t.blocked_ns, 200);
  ck_assert_uint_eq(t.delay_ns, 50);
  ck_assert_uint_eq(t.switches, 2);
  /* Begins while blocked (a task begun again at a window's cut): the last state counts. */
  cpd_sched_span(&s, 7, 200, 350, &t);
  ck_assert_uint_eq(t.blocked_ns, 100);
  ck_assert_uint_eq(t.cpu_ns, 50);
  ck_assert_uint_eq(t.switches, 0);
  /* A thread with no records ran all along. */
  cpd_sched_span(&s, 8, 0, 1000, &t);
  ck_assert_uint_eq(t.cpu_ns, 1000);
  ck_assert_uint_eq(t.blocked_ns + t.delay_ns, 0);
  cpd_sched_span(&s, 9, 100, 300, &t);
  ck_assert_uint_eq(t.cpu_ns, 50 + 50);
  ck_assert_uint_eq(t.delay_ns, 100);
}
END_TEST

START_TEST(test_thread_state_cut_keeps_the_state)
{
  struct cpd_sched_times t;

  cpd_sched_cut(&s, 350);
  /* Thread 7 keeps its last record before the cut (running since 300) and what follows;
   * thread 9 its last one (running since 250). */
  ck_assert_uint_eq(s.n, 4);
  cpd_sched_span(&s, 7, 350, 500, &t);
  ck_assert_uint_eq(t.cpu_ns, 50 + 50);
  ck_assert_uint_eq(t.delay_ns, 50);
  cpd_sched_add(&s, 600, 9, CPD_BLOCKED);
  cpd_sched_index(&s);
  cpd_sched_span(&s, 9, 350, 700, &t);
  ck_assert_uint_eq(t.cpu_ns, 250);
  ck_assert_uint_eq(t.blocked_ns, 100);
}
END_TEST

struct slice { uint64_t from, to; enum cpd_thread_state state; };
static struct slice got[8];
static size_t ngot;

static void collect(void *arg, uint64_t from, uint64_t to, enum cpd_thread_state state)
{
  if (ngot < 8)
    got[ngot++] = (struct slice){ from, to, state };
}

START_TEST(test_thread_state_slices)
{
  /* From the first record on; the state after the last one has no end yet. */
  ngot = 0;
  ck_assert_uint_eq(cpd_sched_slices(&s, 7, 50, 500, collect, NULL), 3);
  ck_assert_uint_eq(ngot, 3);
  ck_assert(got[0].from == 100 && got[0].to == 300 && got[0].state == CPD_BLOCKED);
  ck_assert(got[1].from == 300 && got[1].to == 400 && got[1].state == CPD_RUNNING);
  ck_assert(got[2].from == 400 && got[2].to == 450 && got[2].state == CPD_RUNNABLE);
  /* A window that begins blocked: its first slice starts at the window. */
  ngot = 0;
  ck_assert_uint_eq(cpd_sched_slices(&s, 7, 200, 420, collect, NULL), 2);
  ck_assert(got[0].from == 200 && got[0].to == 300 && got[0].state == CPD_BLOCKED);
  ck_assert(got[1].from == 300 && got[1].to == 400 && got[1].state == CPD_RUNNING);
  /* Thread 9's records only. */
  ngot = 0;
  ck_assert_uint_eq(cpd_sched_slices(&s, 9, 0, 1000, collect, NULL), 1);
  ck_assert(got[0].from == 150 && got[0].to == 250 && got[0].state == CPD_RUNNABLE);
  ck_assert_uint_eq(cpd_sched_slices(&s, 8, 0, 1000, collect, NULL), 0);
  /* A segment written while the thread goes on leaves its last state out; the next one
   * draws it from that record (cpd_sched_last), with nothing between them. */
  ngot = 0;
  ck_assert_uint_eq(cpd_sched_slices(&s, 7, 50, 350, collect, NULL), 1);
  ck_assert_uint_eq(cpd_sched_last(&s, 7, 350), 300);
  ngot = 0;
  ck_assert_uint_eq(cpd_sched_slices(&s, 7, cpd_sched_last(&s, 7, 350), 420, collect, NULL), 1);
  ck_assert(got[0].from == 300 && got[0].to == 400 && got[0].state == CPD_RUNNING);
  ck_assert_uint_eq(cpd_sched_last(&s, 7, 100), 0);  /* nothing before its first record */
}
END_TEST

static Suite *thread_state_suite(void)
{
  Suite *su = suite_create("thread_state");
  TCase *c = tcase_create("split");

  tcase_add_checked_fixture(c, setup, teardown);
  tcase_add_test(c, test_thread_state_span_split);
  tcase_add_test(c, test_thread_state_cut_keeps_the_state);
  tcase_add_test(c, test_thread_state_slices);
  suite_add_tcase(su, c);
  return su;
}

int main(void)
{
  SRunner *sr = srunner_create(thread_state_suite());
  int failed;

  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
