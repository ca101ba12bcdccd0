/* check_pprof_fold.c: unit tests of lib/pprof_fold.c: a string label with more values than the
 * limit keeps the heaviest and folds the rest into "other"; per-sample and numeric labels and
 * labels under the limit are left alone. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pprof_fold.h"

/* A profile of N samples, sample i weighing N - i, labelled task=t<i>, span_id=s<i>,
 * worker=w<i % 3> and the number thread_id=i, its arrays malloc'd as protobuf-c's are. */
static Perftools__Profiles__Profile *make(size_t n)
{
  Perftools__Profiles__Profile *p = calloc(1, sizeof(*p));
  size_t ns = 0;

  perftools__profiles__profile__init(p);
  p->string_table = calloc(4 + 3 * n + 3, sizeof(char *));
  p->string_table[ns++] = strdup("");
  p->string_table[ns++] = strdup("task");
  p->string_table[ns++] = strdup("span_id");
  p->string_table[ns++] = strdup("worker");
  p->string_table[ns++] = strdup("thread_id");
  p->sample = calloc(n, sizeof(*p->sample));
  for (size_t i = 0; i < n; i++) {
    Perftools__Profiles__Sample *s = calloc(1, sizeof(*s));
    char buf[32];

    perftools__profiles__sample__init(s);
    s->n_value = 1;
    s->value = calloc(1, sizeof(int64_t));
    s->value[0] = (int64_t)(n - i);
    s->n_label = 4;
    s->label = calloc(4, sizeof(*s->label));
    for (int k = 0; k < 4; k++) {
      s->label[k] = calloc(1, sizeof(**s->label));
      perftools__profiles__label__init(s->label[k]);
      s->label[k]->key = k + 1;
    }
    snprintf(buf, sizeof(buf), "t%zu", i);
    s->label[0]->str = (int64_t)ns;
    p->string_table[ns++] = strdup(buf);
    snprintf(buf, sizeof(buf), "s%zu", i);
    s->label[1]->str = (int64_t)ns;
    p->string_table[ns++] = strdup(buf);
    snprintf(buf, sizeof(buf), "w%zu", i % 3);
    s->label[2]->str = (int64_t)ns;
    p->string_table[ns++] = strdup(buf);
    s->label[3]->num = (int64_t)i + 1;
    p->sample[p->n_sample++] = s;
  }
  p->n_string_table = ns;
  return p;
}

static const char *value(const Perftools__Profiles__Profile *p, size_t sample, int label)
{
  return p->string_table[p->sample[sample]->label[label]->str];
}

START_TEST(test_fold_keeps_the_heaviest)
{
  Perftools__Profiles__Profile *p = make(40);
  struct cpc_fold_stats st;

  ck_assert_int_eq(cpc_pprof_fold(p, 32, &st), 0);
  ck_assert_uint_eq(st.labels, 1);    /* task only: span_id is per sample, worker has 3 */
  ck_assert_uint_eq(st.values, 9);    /* 40 values: the heaviest 31 kept, 9 folded */
  ck_assert_str_eq(value(p, 0, 0), "t0");
  ck_assert_str_eq(value(p, 30, 0), "t30");
  ck_assert_str_eq(value(p, 31, 0), "other");
  ck_assert_str_eq(value(p, 39, 0), "other");
  ck_assert_str_eq(value(p, 39, 1), "s39");
  ck_assert_str_eq(value(p, 39, 2), "w0");
  ck_assert_int_eq(p->sample[39]->label[3]->num, 40);
  perftools__profiles__profile__free_unpacked(p, NULL);
}
END_TEST

START_TEST(test_fold_under_the_limit_changes_nothing)
{
  Perftools__Profiles__Profile *p = make(20);
  size_t strings = p->n_string_table;
  struct cpc_fold_stats st;

  ck_assert_int_eq(cpc_pprof_fold(p, 32, &st), 0);
  ck_assert_uint_eq(st.values, 0);
  ck_assert_uint_eq(p->n_string_table, strings);  /* no "other" added */
  ck_assert_str_eq(value(p, 19, 0), "t19");
  perftools__profiles__profile__free_unpacked(p, NULL);
}
END_TEST

int main(void)
{
  Suite *s = suite_create("pprof_fold");
  TCase *tc = tcase_create("fold");
  SRunner *sr;
  int failed;

  tcase_add_test(tc, test_fold_keeps_the_heaviest);
  tcase_add_test(tc, test_fold_under_the_limit_changes_nothing);
  suite_add_tcase(s, tc);
  sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
