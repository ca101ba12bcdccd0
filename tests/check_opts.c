/* check_opts.c: unit tests of the option parsers ceoprofd and ceoprof share (lib/opts.c):
 * counts, seconds, URLs and --call-graph, each with what must be refused. */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "opts.h"

START_TEST(test_opts_numbers)
{
  uint32_t u = 7;
  uint64_t v = 7;
  double d = 7;

  ck_assert_int_eq(cp_parse_u32("99", 100000, &u), 0);
  ck_assert_uint_eq(u, 99);
  ck_assert_int_eq(cp_parse_u32("0", 100, &u), -EINVAL);       /* from 1 */
  ck_assert_int_eq(cp_parse_u32("100001", 100000, &u), -EINVAL);
  ck_assert_int_eq(cp_parse_u32("-1", 100, &u), -EINVAL);
  ck_assert_int_eq(cp_parse_u32("12x", 100, &u), -EINVAL);
  ck_assert_int_eq(cp_parse_u32("", 100, &u), -EINVAL);
  ck_assert_uint_eq(u, 99);                                    /* unchanged on failure */
  ck_assert_int_eq(cp_parse_u64("0", &v), 0);
  ck_assert_uint_eq(v, 0);
  ck_assert_int_eq(cp_parse_u64("1700000000", &v), 0);
  ck_assert_uint_eq(v, 1700000000);
  ck_assert_int_eq(cp_parse_u64("soon", &v), -EINVAL);
  ck_assert_int_eq(cp_parse_u64("-5", &v), -EINVAL);
  ck_assert_int_eq(cp_parse_seconds("0.5", 0.1, &d), 0);
  ck_assert(d == 0.5);
  ck_assert_int_eq(cp_parse_seconds("0.05", 0.1, &d), -EINVAL);
  ck_assert_int_eq(cp_parse_seconds("0", 0, &d), -EINVAL);     /* positive */
  ck_assert_int_eq(cp_parse_seconds("nan", 0, &d), -EINVAL);
  ck_assert_int_eq(cp_parse_seconds("2s", 0, &d), -EINVAL);
}
END_TEST

START_TEST(test_opts_url)
{
  ck_assert(cp_is_http_url("http://localhost:4040"));
  ck_assert(cp_is_http_url("https://pyroscope.example"));
  ck_assert(!cp_is_http_url("localhost:4040"));
  ck_assert(!cp_is_http_url("ftp://x"));
}
END_TEST

START_TEST(test_opts_call_graph)
{
  uint32_t size = 1;
  char err[200];

  ck_assert_int_eq(cp_parse_call_graph("fp", &size, err, sizeof(err)), 0);
  ck_assert_uint_eq(size, 0);
  ck_assert_int_eq(cp_parse_call_graph("dwarf", &size, err, sizeof(err)), 0);
  ck_assert_uint_eq(size, CP_DWARF_STACK_DEFAULT);
  ck_assert_int_eq(cp_parse_call_graph("dwarf,16384", &size, err, sizeof(err)), 0);
  ck_assert_uint_eq(size, 16384);
  ck_assert_int_eq(cp_parse_call_graph("dwarf,1001", &size, err, sizeof(err)), 0);
  ck_assert_uint_eq(size, 1008);  /* rounded up to 8 */
  ck_assert_int_eq(cp_parse_call_graph("dwarf,70000", &size, err, sizeof(err)), -EINVAL);
  ck_assert_ptr_nonnull(strstr(err, "65528"));
  ck_assert_int_eq(cp_parse_call_graph("dwarf,", &size, err, sizeof(err)), -EINVAL);
  ck_assert_int_eq(cp_parse_call_graph("lbr", &size, err, sizeof(err)), -EINVAL);
  ck_assert_ptr_nonnull(strstr(err, "'lbr'"));
  ck_assert_uint_eq(cp_dwarf_stack_size(1 << 20), CP_DWARF_STACK_MAX);
}
END_TEST

static Suite *opts_suite(void)
{
  Suite *s = suite_create("opts");
  TCase *c = tcase_create("values");

  tcase_add_test(c, test_opts_numbers);
  tcase_add_test(c, test_opts_url);
  tcase_add_test(c, test_opts_call_graph);
  suite_add_tcase(s, c);
  return s;
}

int main(void)
{
  SRunner *sr = srunner_create(opts_suite());
  int failed;

  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
