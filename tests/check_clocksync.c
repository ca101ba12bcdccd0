/* check_clocksync.c: unit tests of TSC -> CLOCK_MONOTONIC conversion (daemon/clocksync.c). */
#include <check.h>
#include <stdlib.h>

#include "model/clocksync.h"

START_TEST(test_clocksync_monotonic_mode_is_identity)
{
  struct cpd_clocksync c;

  cpd_clocksync_init(&c, 0);
  ck_assert_uint_eq(cpd_clocksync_to_mono(&c, 123456789), 123456789);
  cpd_clocksync_free(&c);
}
END_TEST

START_TEST(test_clocksync_interpolates_and_extrapolates)
{
  struct cpd_clocksync c;

  /* 3 ticks per ns, mono = tsc / 3 + 1000. */
  cpd_clocksync_init(&c, 1);
  ck_assert_int_eq(cpd_clocksync_add(&c, 3000000, 1001000), 0);
  ck_assert_int_eq(cpd_clocksync_add(&c, 33000000, 11001000), 0);
  ck_assert_uint_eq(cpd_clocksync_to_mono(&c, 18000000), 6001000);  /* between */
  ck_assert_uint_eq(cpd_clocksync_to_mono(&c, 0), 1000);            /* before the first */
  ck_assert_uint_eq(cpd_clocksync_to_mono(&c, 63000000), 21001000); /* after the last */
  cpd_clocksync_free(&c);
}
END_TEST

START_TEST(test_clocksync_follows_rate_changes)
{
  struct cpd_clocksync c;

  /* 1 tick/ns for the first segment, then 2 ticks/ns (as if the clock were slewed). */
  cpd_clocksync_init(&c, 1);
  cpd_clocksync_add(&c, 0 + 10000000, 10000000);
  cpd_clocksync_add(&c, 20000000, 20000000);
  cpd_clocksync_add(&c, 40000000, 30000000);
  ck_assert_uint_eq(cpd_clocksync_to_mono(&c, 15000000), 15000000);
  ck_assert_uint_eq(cpd_clocksync_to_mono(&c, 30000000), 25000000);
  cpd_clocksync_free(&c);
}
END_TEST

START_TEST(test_clocksync_ignores_backward_pairs)
{
  struct cpd_clocksync c;

  cpd_clocksync_init(&c, 1);
  cpd_clocksync_add(&c, 10000000, 10000000);
  cpd_clocksync_add(&c, 20000000, 20000000);
  cpd_clocksync_add(&c, 5000000, 90000000);   /* tsc went back */
  cpd_clocksync_add(&c, 90000000, 15000000);  /* mono went back */
  ck_assert_uint_eq(c.n, 2);
  ck_assert_uint_eq(cpd_clocksync_to_mono(&c, 30000000), 30000000);
  cpd_clocksync_free(&c);
}
END_TEST

START_TEST(test_clocksync_needs_two_pairs)
{
  struct cpd_clocksync c;

  cpd_clocksync_init(&c, 1);
  cpd_clocksync_add(&c, 10000000, 10000000);
  ck_assert_uint_eq(cpd_clocksync_to_mono(&c, 30000000), 0);
  cpd_clocksync_free(&c);
}
END_TEST

static Suite *clocksync_suite(void)
{
  Suite *s = suite_create("clocksync");
  TCase *tc = tcase_create("conversion");

  tcase_add_test(tc, test_clocksync_monotonic_mode_is_identity);
  tcase_add_test(tc, test_clocksync_interpolates_and_extrapolates);
  tcase_add_test(tc, test_clocksync_follows_rate_changes);
  tcase_add_test(tc, test_clocksync_ignores_backward_pairs);
  tcase_add_test(tc, test_clocksync_needs_two_pairs);
  suite_add_tcase(s, tc);
  return s;
}

int main(void)
{
  SRunner *sr = srunner_create(clocksync_suite());
  int failed;

  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
