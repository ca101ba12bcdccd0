/* check_rss.c: unit tests of the resident-memory track (daemon/rss.c): readings of a real
 * process, the change across a span, and the cut between windows. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "model/rss.h"

/* A track with readings at 100, 200, 300, 400 ns of 10, 30, 30, 5 bytes. */
static void fill(struct cpd_rss *r)
{
  static const uint64_t t[] = { 100, 200, 300, 400 }, b[] = { 10, 30, 30, 5 };

  memset(r, 0, sizeof(*r));
  r->fd = -1;
  r->recs = calloc(4, sizeof(*r->recs));
  ck_assert_ptr_nonnull(r->recs);
  for (int i = 0; i < 4; i++)
    r->recs[i] = (struct cpd_rss_rec){ t[i], b[i] };
  r->n = r->cap = 4;
}

START_TEST(test_rss_reads_this_process)
{
  struct cpd_rss r;
  const size_t len = 32u << 20;
  char *p;
  int found;
  uint64_t before, after;

  ck_assert_int_eq(cpd_rss_open(&r, (uint32_t)getpid()), 0);
  cpd_rss_poll(&r, 1000, 0);
  cpd_rss_poll(&r, 1001, 10);  /* too soon: skipped */
  ck_assert_uint_eq(r.n, 1);
  p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ck_assert_ptr_ne(p, MAP_FAILED);
  memset(p, 1, len);  /* 32 MiB touched: resident */
  cpd_rss_poll(&r, 2000, 10);
  ck_assert_uint_eq(r.n, 2);
  before = cpd_rss_at(&r, 1500, &found);
  ck_assert_int_eq(found, 1);
  after = cpd_rss_at(&r, 2000, &found);
  ck_assert_uint_ge(after - before, len - (1u << 20));
  munmap(p, len);
  cpd_rss_at(&r, 999, &found);
  ck_assert_int_eq(found, 0);
  cpd_rss_close(&r);
  ck_assert_int_eq(cpd_rss_open(&r, 0x7ffffff0u), -ENOENT);  /* no such process */
  cpd_rss_poll(&r, 1000, 0);
  ck_assert_uint_eq(r.n, 0);
  cpd_rss_close(&r);
}
END_TEST

START_TEST(test_rss_change_across_a_span)
{
  struct cpd_rss r;
  int64_t d = 0;

  fill(&r);
  ck_assert_int_eq(cpd_rss_change(&r, 150, 250, &d), 1);  /* 100 (10) .. 300 (30) */
  ck_assert_int_eq(d, 20);
  ck_assert_int_eq(cpd_rss_change(&r, 200, 300, &d), 1);  /* exact readings at both ends */
  ck_assert_int_eq(d, 0);
  ck_assert_int_eq(cpd_rss_change(&r, 250, 350, &d), 1);  /* 200 (30) .. 400 (5) */
  ck_assert_int_eq(d, -25);
  ck_assert_int_eq(cpd_rss_change(&r, 50, 120, &d), 1);   /* before the first: from it */
  ck_assert_int_eq(d, 20);
  ck_assert_int_eq(cpd_rss_change(&r, 350, 900, &d), 1);  /* after the last: to it */
  ck_assert_int_eq(d, -25);
  cpd_rss_close(&r);
  ck_assert_int_eq(cpd_rss_change(&r, 1, 2, &d), 0);      /* no readings */
}
END_TEST

START_TEST(test_rss_cut_keeps_the_value_at_the_cut)
{
  struct cpd_rss r;
  int found;

  fill(&r);
  cpd_rss_cut(&r, 250);
  ck_assert_uint_eq(r.n, 3);
  ck_assert_uint_eq(r.recs[0].time, 200);
  ck_assert_uint_eq(cpd_rss_at(&r, 260, &found), 30);
  cpd_rss_cut(&r, 50);  /* before every reading: nothing to drop */
  ck_assert_uint_eq(r.n, 3);
  cpd_rss_cut(&r, 1000);
  ck_assert_uint_eq(r.n, 1);
  ck_assert_uint_eq(r.recs[0].bytes, 5);
  cpd_rss_close(&r);
}
END_TEST

static Suite *rss_suite(void)
{
  Suite *su = suite_create("rss");
  TCase *c = tcase_create("track");

  tcase_add_test(c, test_rss_reads_this_process);
  tcase_add_test(c, test_rss_change_across_a_span);
  tcase_add_test(c, test_rss_cut_keeps_the_value_at_the_cut);
  tcase_set_timeout(c, 60);  /* touching 32 MiB under ASan beside fault_load took over 4 s in CI */
  suite_add_tcase(su, c);
  return su;
}

int main(void)
{
  SRunner *sr = srunner_create(rss_suite());
  int failed;

  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
