/* check_perfmap.c: unit tests of JIT symbols from perf maps (daemon/perfmap.c). */
#include <check.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "symbolize/perfmap.h"

static char map_path[64];

static void write_map(const char *mode, const char *text)
{
  FILE *f = fopen(map_path, mode);

  ck_assert_ptr_nonnull(f);
  fputs(text, f);
  fclose(f);
}

static void setup(void)
{
  snprintf(map_path, sizeof(map_path), "/tmp/perf-%d.map", (int)getpid());
  unlink(map_path);
}

static void teardown(void)
{
  unlink(map_path);
}

START_TEST(test_parse_skips_bad_lines_and_later_line_wins)
{
  static const char text[] = "1000 10 first\n"
                             "not a line\n"
                             "2000 20 LazyCompile:*handler /app/server.js:12\n"
                             "3000 0 empty_size\n"
                             "1000 8 recompiled\n"
                             "4000 10";                 /* no name */
  struct cpd_perfmap m = { 0 };

  ck_assert_int_eq(cpd_perfmap_parse(&m, text, strlen(text)), 0);
  ck_assert_uint_eq(m.nsyms, 2);
  ck_assert_uint_eq(m.lines_bad, 3);
  ck_assert_uint_eq(m.syms[0].addr, 0x1000);
  ck_assert_uint_eq(m.syms[0].size, 8);
  ck_assert_str_eq(m.syms[0].name, "recompiled");
  ck_assert_str_eq(m.syms[1].name, "LazyCompile:*handler /app/server.js:12");
  cpd_perfmap_free(&m);
}
END_TEST

START_TEST(test_lookup_reads_the_file_and_rereads_it_when_it_grows)
{
  struct cpd_perfmap m = { 0 };
  const struct cpd_sym *a, *b;
  const char *a_name;
  uint32_t pid = (uint32_t)getpid();

  write_map("w", "abc0 10 jit_first\n");
  a = cpd_perfmap_lookup(&m, pid, 0xabc5);
  ck_assert_ptr_nonnull(a);
  ck_assert_str_eq(a->name, "jit_first");
  a_name = a->name;
  ck_assert_ptr_null(cpd_perfmap_lookup(&m, pid, 0xabd0));  /* the end is exclusive */
  write_map("a", "abd0 10 jit_second\n");
  /* Misses re-read the file at most every 100 ms. */
  usleep(120 * 1000);
  b = cpd_perfmap_lookup(&m, pid, 0xabd4);
  ck_assert_ptr_nonnull(b);
  ck_assert_str_eq(b->name, "jit_second");
  ck_assert_str_eq(a_name, "jit_first");  /* names handed out earlier stay valid */
  cpd_perfmap_free(&m);
}
END_TEST

START_TEST(test_a_line_being_written_waits)
{
  struct cpd_perfmap m = { 0 };
  uint32_t pid = (uint32_t)getpid();

  write_map("w", "5000 10 done\n6000 10 half");
  ck_assert_ptr_nonnull(cpd_perfmap_lookup(&m, pid, 0x5000));
  ck_assert_ptr_null(cpd_perfmap_lookup(&m, pid, 0x6000));
  write_map("a", "_written\n");
  usleep(120 * 1000);
  ck_assert_str_eq(cpd_perfmap_lookup(&m, pid, 0x6000)->name, "half_written");
  cpd_perfmap_free(&m);
}
END_TEST

START_TEST(test_symlink_not_followed)
{
  struct cpd_perfmap m = { 0 };
  char target[64];

  snprintf(target, sizeof(target), "/tmp/perf-target-%d", (int)getpid());
  {
    FILE *f = fopen(target, "w");

    ck_assert_ptr_nonnull(f);
    fputs("7000 10 secret\n", f);
    fclose(f);
  }
  ck_assert_int_eq(symlink(target, map_path), 0);
  ck_assert_ptr_null(cpd_perfmap_lookup(&m, (uint32_t)getpid(), 0x7000));
  unlink(target);
  cpd_perfmap_free(&m);
}
END_TEST

START_TEST(test_no_file)
{
  struct cpd_perfmap m = { 0 };

  ck_assert_ptr_null(cpd_perfmap_lookup(&m, (uint32_t)getpid(), 0x1234));
  ck_assert_uint_eq(m.nsyms, 0);
  cpd_perfmap_free(&m);
}
END_TEST

int main(void)
{
  Suite *s = suite_create("perfmap");
  TCase *tc = tcase_create("perfmap");
  SRunner *sr;
  int failed;

  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, test_parse_skips_bad_lines_and_later_line_wins);
  tcase_add_test(tc, test_lookup_reads_the_file_and_rereads_it_when_it_grows);
  tcase_add_test(tc, test_a_line_being_written_waits);
  tcase_add_test(tc, test_symlink_not_followed);
  tcase_add_test(tc, test_no_file);
  suite_add_tcase(s, tc);
  sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? 1 : 0;
}
