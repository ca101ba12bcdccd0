/* check_intern.c: unit tests of the client's lock-free name table (client/intern.c). */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "intern.h"

static struct cp_intern *table;

static void setup(void)
{
  table = malloc(sizeof(*table));
  cp__intern_reset(table);
}

static void teardown(void)
{
  free(table);
}

START_TEST(test_intern_same_text_same_id)
{
  char a[16] = "parse", b[16] = "parse";
  uint32_t x = cp__intern(table, a), y = cp__intern(table, b), z = cp__intern(table, "compress");

  ck_assert_uint_ne(x, 0);
  ck_assert_uint_eq(x, y);  /* by content, not by pointer */
  ck_assert_uint_ne(x, z);
  ck_assert_str_eq(cp__intern_get(table, x)->str, "parse");
  ck_assert_str_eq(cp__intern_get(table, z)->str, "compress");
  ck_assert_ptr_null(cp__intern_get(table, 0));
  ck_assert_ptr_null(cp__intern_get(table, 999));
}
END_TEST

START_TEST(test_intern_long_names_cut)
{
  char name[600];
  uint32_t id;

  memset(name, 'a', sizeof(name) - 1);
  name[sizeof(name) - 1] = '\0';
  id = cp__intern(table, name);
  ck_assert_uint_ne(id, 0);
  ck_assert_uint_eq(cp__intern_get(table, id)->len, CP_NAME_MAX);
  ck_assert_uint_eq(strlen(cp__intern_get(table, id)->str), CP_NAME_MAX);
  ck_assert_uint_eq(cp__intern(table, name), id);
}
END_TEST

START_TEST(test_intern_full_table_returns_zero)
{
  char name[32];
  uint32_t last = 0;

  for (unsigned i = 0; i < CP_INTERN_MAX; i++) {
    snprintf(name, sizeof(name), "name-%u", i);
    last = cp__intern(table, name);
    ck_assert_uint_ne(last, 0);
  }
  ck_assert_uint_eq(last, CP_INTERN_MAX);
  ck_assert_uint_eq(cp__intern(table, "one too many"), 0);
  ck_assert_uint_eq(cp__intern(table, "name-7"), 8);  /* old names still resolve */
}
END_TEST

#define THREADS 4
#define NAMES 500

static void *intern_many(void *arg)
{
  uint32_t *ids = arg;
  char name[32];

  for (int i = 0; i < NAMES; i++) {
    snprintf(name, sizeof(name), "task-%d", i);
    ids[i] = cp__intern(table, name);
  }
  return NULL;
}

START_TEST(test_intern_concurrent_threads_agree)
{
  static uint32_t ids[THREADS][NAMES];
  pthread_t th[THREADS];

  for (int t = 0; t < THREADS; t++)
    pthread_create(&th[t], NULL, intern_many, ids[t]);
  for (int t = 0; t < THREADS; t++)
    pthread_join(th[t], NULL);
  for (int i = 0; i < NAMES; i++) {
    char name[32];

    snprintf(name, sizeof(name), "task-%d", i);
    for (int t = 0; t < THREADS; t++) {
      ck_assert_uint_ne(ids[t][i], 0);
      ck_assert_uint_eq(ids[t][i], ids[0][i]);
    }
    ck_assert_str_eq(cp__intern_get(table, ids[0][i])->str, name);
  }
}
END_TEST

static Suite *intern_suite(void)
{
  Suite *s = suite_create("intern");
  TCase *tc = tcase_create("names");

  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, test_intern_same_text_same_id);
  tcase_add_test(tc, test_intern_long_names_cut);
  tcase_add_test(tc, test_intern_full_table_returns_zero);
  tcase_add_test(tc, test_intern_concurrent_threads_agree);
  suite_add_tcase(s, tc);
  return s;
}

int main(void)
{
  SRunner *sr = srunner_create(intern_suite());
  int failed;

  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
