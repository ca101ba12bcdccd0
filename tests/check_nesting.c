/* check_nesting.c: unit tests of the one nesting model (common/nesting.c) on stacks in
 * memory: an end on its own thread (with tasks open inside it), a task that moved, an
 * end that meets an overflowed stack, an unmatched end, and ids open on several threads. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>

#include "nesting.h"

struct stack {
  uint64_t ids[8];
  int depth;
};

static struct stack threads[3];

static int find(void *ctx, void *thread, uint64_t task_id)
{
  const struct stack *s = thread;

  (void)ctx;
  for (int i = s->depth - 1; i >= 0; i--)
    if (s->ids[i] == task_id)
      return i;
  return -1;
}

static void *next(void *ctx, void *thread)
{
  struct stack *s = thread;

  (void)ctx;
  if (!s)
    return &threads[0];
  return s + 1 < threads + 3 ? s + 1 : NULL;
}

static const struct cp_nest_ops ops = { find, next, NULL };

static void setup(void)
{
  /* Thread 0 runs 1 > 2 > 3, thread 1 runs 7 > 2 (ids are the caller's: they may repeat),
   * thread 2 runs nothing. */
  threads[0] = (struct stack){ { 1, 2, 3 }, 3 };
  threads[1] = (struct stack){ { 7, 2 }, 2 };
  threads[2] = (struct stack){ { 0 }, 0 };
}

START_TEST(test_nesting_end_on_its_own_thread)
{
  struct cp_end e = cp_nest_end(&ops, &threads[0], 0, 3);

  ck_assert_int_eq(e.kind, CP_END_OWN);
  ck_assert_ptr_eq(e.thread, &threads[0]);
  ck_assert_int_eq(e.index, 2);
  /* An outer task's end closes it with tasks 2 and 3 still open inside it. */
  e = cp_nest_end(&ops, &threads[0], 0, 1);
  ck_assert_int_eq(e.kind, CP_END_OWN);
  ck_assert_int_eq(e.index, 0);
  /* Task 2 is open on two threads: its own thread's counts first. */
  e = cp_nest_end(&ops, &threads[1], 0, 2);
  ck_assert_int_eq(e.kind, CP_END_OWN);
  ck_assert_ptr_eq(e.thread, &threads[1]);
  ck_assert_int_eq(e.index, 1);
}
END_TEST

START_TEST(test_nesting_moved_task)
{
  /* Task 7 began on thread 1 and ends on thread 2 (which has nothing open). */
  struct cp_end e = cp_nest_end(&ops, &threads[2], 0, 7);

  ck_assert_int_eq(e.kind, CP_END_MOVED);
  ck_assert_ptr_eq(e.thread, &threads[1]);
  ck_assert_int_eq(e.index, 0);
  /* From a thread with no stack at all. */
  e = cp_nest_end(&ops, NULL, 0, 3);
  ck_assert_int_eq(e.kind, CP_END_MOVED);
  ck_assert_ptr_eq(e.thread, &threads[0]);
  ck_assert_int_eq(e.index, 2);
}
END_TEST

START_TEST(test_nesting_overflow_and_unmatched)
{
  /* A thread whose stack overflowed: an end not on its stack is one of the lost begins,
   * even when another thread has that id open. */
  struct cp_end e = cp_nest_end(&ops, &threads[2], 2, 7);

  ck_assert_int_eq(e.kind, CP_END_OVERFLOW);
  /* But its own stack comes first. */
  e = cp_nest_end(&ops, &threads[0], 5, 2);
  ck_assert_int_eq(e.kind, CP_END_OWN);
  e = cp_nest_end(&ops, &threads[0], 0, 99);
  ck_assert_int_eq(e.kind, CP_END_UNMATCHED);
  ck_assert_ptr_null(e.thread);
}
END_TEST

static Suite *nesting_suite(void)
{
  Suite *s = suite_create("nesting");
  TCase *c = tcase_create("ends");

  tcase_add_checked_fixture(c, setup, NULL);
  tcase_add_test(c, test_nesting_end_on_its_own_thread);
  tcase_add_test(c, test_nesting_moved_task);
  tcase_add_test(c, test_nesting_overflow_and_unmatched);
  suite_add_tcase(s, c);
  return s;
}

int main(void)
{
  SRunner *sr = srunner_create(nesting_suite());
  int failed;

  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
