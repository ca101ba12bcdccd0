/* check_demangle.c: unit tests of symbol demangling and simplification (daemon/demangle.c). */
#include <check.h>
#include <stdlib.h>

#include "symbolize/demangle.h"

static void expect(const char *sym, const char *want)
{
  char *got = cpd_demangle(sym);

  if (!want) {
    ck_assert_ptr_null(got);
    return;
  }
  ck_assert_ptr_nonnull(got);
  ck_assert_str_eq(got, want);
  free(got);
}

START_TEST(test_demangle_cxx_simplified_like_pprof)
{
  expect("_ZN11__sanitizer15internal_memsetEPvim", "__sanitizer::internal_memset");
  expect("_ZNSt6vectorIiSaIiEE9push_backERKi", "std::vector::push_back");
  expect("_ZN12_GLOBAL__N_13fooEv", "(anonymous namespace)::foo");
  expect("_ZNK3Foo3barEv", "Foo::bar");
  expect("_ZN3FooltERKS_", "Foo::operator<");
  expect("_ZN3FooclEv", "Foo::operator()");
}
END_TEST

START_TEST(test_demangle_rust_legacy_hash_removed)
{
  expect("_ZN4core3fmt5write17h0123456789abcdefE", "core::fmt::write");
}
END_TEST

START_TEST(test_demangle_plain_and_bad_names_left_alone)
{
  expect("main", NULL);
  expect("burn_a.constprop.0", NULL);
  expect("_Znotmangled", NULL);
  expect("", NULL);
  expect(NULL, NULL);
}
END_TEST

int main(void)
{
  Suite *s = suite_create("demangle");
  TCase *tc = tcase_create("names");
  SRunner *sr;
  int failed;

  tcase_add_test(tc, test_demangle_cxx_simplified_like_pprof);
  tcase_add_test(tc, test_demangle_rust_legacy_hash_removed);
  tcase_add_test(tc, test_demangle_plain_and_bad_names_left_alone);
  suite_add_tcase(s, tc);
  sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? 1 : 0;
}
