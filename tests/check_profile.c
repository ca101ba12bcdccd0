/* check_profile.c: unit tests of daemon/model/profile.c: a frame without an address is
 * "[unknown]"; a child followed gets its own address space, a copy of its parent's until it
 * maps or execs; threads know their process. */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/profile.h"

static const char *leaf_name(const struct cpd_profile *p, size_t sample)
{
  const struct cpd_stack *s = &p->stacks[p->samples[sample].stack];

  return cpd_profile_loc_name(p, p->frames[s->off] - 1);
}

START_TEST(test_profile_no_address_is_unknown)
{
  struct cpd_profile p;
  uint64_t frame = UINT64_MAX;

  ck_assert_int_eq(cpd_profile_init(&p, 1000), 0);
  ck_assert_int_eq(cpd_profile_add_sample(&p, 1, 1000, 1000000, &frame, 1, 0, 0), 0);
  ck_assert_int_eq(cpd_profile_add_sample(&p, 2, 1000, 1000000, &frame, 1, 1, 0), 0);
  ck_assert_str_eq(leaf_name(&p, 0), "[unknown]");
  ck_assert_str_eq(leaf_name(&p, 1), "[unknown]");
  cpd_profile_free(&p);
}
END_TEST

START_TEST(test_profile_children_have_their_own_space)
{
  struct cpd_profile p;

  ck_assert_int_eq(cpd_profile_init(&p, 1000), 0);
  ck_assert_int_eq(cpd_profile_add_mapping(&p, 0x400000, 0x1000, 0, "/bin/parent"), 0);
  ck_assert_int_eq(cpd_profile_select(&p, 2000), -ENOENT);
  ck_assert_int_eq(cpd_profile_fork(&p, 1000, 2000), 0);
  ck_assert_int_eq(cpd_profile_select(&p, 2000), 0);
  /* The child sees its parent's mapping until it maps over it. */
  ck_assert_ptr_nonnull(cpd_profile_mapping(&p, 0x400800));
  ck_assert_int_eq(cpd_profile_add_mapping(&p, 0x400000, 0x1000, 0, "/bin/child"), 0);
  ck_assert_str_eq(cpd_profile_mapping(&p, 0x400800)->path, "/bin/child");
  ck_assert_uint_eq(cpd_profile_mapping(&p, 0x400800)->pid, 2000);
  ck_assert_int_eq(cpd_profile_select(&p, 1000), 0);
  ck_assert_str_eq(cpd_profile_mapping(&p, 0x400800)->path, "/bin/parent");
  /* An exec in the child leaves the parent's mappings alone. */
  ck_assert_int_eq(cpd_profile_select(&p, 2000), 0);
  cpd_profile_exec(&p);
  ck_assert_ptr_null(cpd_profile_mapping(&p, 0x400800));
  ck_assert_int_eq(cpd_profile_select(&p, 1000), 0);
  ck_assert_ptr_nonnull(cpd_profile_mapping(&p, 0x400800));
  /* Threads know their process. */
  cpd_profile_set_comm(&p, 2000, 2001, "child-thread");
  ck_assert_uint_eq(cpd_profile_pid_of(&p, 2001), 2000);
  ck_assert_uint_eq(cpd_profile_pid_of(&p, 999999), 1000);
  cpd_profile_free(&p);
}
END_TEST

int main(void)
{
  Suite *s = suite_create("profile");
  TCase *tc = tcase_create("profile");
  SRunner *sr;
  int failed;

  tcase_add_test(tc, test_profile_no_address_is_unknown);
  tcase_add_test(tc, test_profile_children_have_their_own_space);
  suite_add_tcase(s, tc);
  sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
