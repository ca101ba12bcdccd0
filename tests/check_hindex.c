/* check_hindex.c: unit tests of the one hash index and the one lower-bound search
 * (lib/hindex.c): every entry found after growth, misses, colliding hashes, a clear, and
 * the lower bound at the ends, between and on equal keys. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hindex.h"

struct table {
  uint64_t keys[1000];
  struct cp_hindex index;
};

static int key_eq(const void *ctx, uint32_t idx, const void *key)
{
  return ((const struct table *)ctx)->keys[idx] == *(const uint64_t *)key;
}

/* Every key hashes to one of 4 values: long probe chains through the growth. */
static uint64_t weak_hash(uint64_t k)
{
  return k % 4;
}

static uint64_t key_rehash(const void *ctx, uint32_t idx)
{
  return weak_hash(((const struct table *)ctx)->keys[idx]);
}

START_TEST(test_hindex_finds_every_entry)
{
  static struct table t;
  uint64_t miss = 999999;

  memset(&t, 0, sizeof(t));
  for (uint32_t i = 0; i < 1000; i++) {
    t.keys[i] = (uint64_t)i * 7 + 1;
    ck_assert_int_eq(cp_hindex_find(&t.index, weak_hash(t.keys[i]), key_eq, &t, &t.keys[i]), -1);
    ck_assert_int_eq(cp_hindex_insert(&t.index, weak_hash(t.keys[i]), i, key_rehash, &t), 0);
  }
  ck_assert_uint_eq(t.index.n, 1000);
  ck_assert_uint_ge(t.index.cap, 2000);  /* the load stays under a half */
  for (uint32_t i = 0; i < 1000; i++)
    ck_assert_int_eq(cp_hindex_find(&t.index, weak_hash(t.keys[i]), key_eq, &t, &t.keys[i]), i);
  ck_assert_int_eq(cp_hindex_find(&t.index, weak_hash(miss), key_eq, &t, &miss), -1);
  /* Remove every other entry, each time filling its hole with the array's last. */
  for (uint32_t n = 1000, i = 0; i < 500; i++) {
    uint32_t at = (uint32_t)cp_hindex_find(&t.index, weak_hash(2 * i * 7 + 1), key_eq, &t,
                                           &(uint64_t){ 2 * (uint64_t)i * 7 + 1 });

    cp_hindex_remove(&t.index, weak_hash(t.keys[at]), at, key_rehash, &t);
    if (at != --n) {
      t.keys[at] = t.keys[n];
      cp_hindex_move(&t.index, weak_hash(t.keys[at]), n, at);
    }
  }
  ck_assert_uint_eq(t.index.n, 500);
  for (uint64_t i = 0; i < 1000; i++) {
    uint64_t k = i * 7 + 1;
    int64_t at = cp_hindex_find(&t.index, weak_hash(k), key_eq, &t, &k);

    if (i % 2 == 0)
      ck_assert_int_eq(at, -1);
    else
      ck_assert(at >= 0 && t.keys[at] == k);
  }
  cp_hindex_clear(&t.index);
  ck_assert_int_eq(cp_hindex_find(&t.index, weak_hash(t.keys[3]), key_eq, &t, &t.keys[3]), -1);
  cp_hindex_free(&t.index);
  ck_assert_ptr_null(t.index.slots);
}
END_TEST

START_TEST(test_hindex_hashes)
{
  ck_assert_uint_eq(cp_hash_str(""), 1469598103934665603ull);  /* FNV-1a's offset basis */
  ck_assert_uint_eq(cp_hash_str("abc"), cp_hash_bytes("abc", 3));
  ck_assert_uint_ne(cp_hash_str("abc"), cp_hash_str("abd"));
  ck_assert_uint_ne(cp_hash_u64(1), cp_hash_u64(2));
}
END_TEST

static int u32_before(const void *elem, const void *key)
{
  return *(const uint32_t *)elem < *(const uint32_t *)key;
}

START_TEST(test_lower_bound)
{
  static const uint32_t v[] = { 10, 20, 20, 20, 30 };
  uint32_t k;

  k = 5;
  ck_assert_uint_eq(cp_lower_bound(v, 5, sizeof(v[0]), &k, u32_before), 0);
  k = 20;
  ck_assert_uint_eq(cp_lower_bound(v, 5, sizeof(v[0]), &k, u32_before), 1);  /* first equal */
  k = 21;
  ck_assert_uint_eq(cp_lower_bound(v, 5, sizeof(v[0]), &k, u32_before), 4);
  k = 31;
  ck_assert_uint_eq(cp_lower_bound(v, 5, sizeof(v[0]), &k, u32_before), 5);
  ck_assert_uint_eq(cp_lower_bound(NULL, 0, sizeof(v[0]), &k, u32_before), 0);
}
END_TEST

static Suite *hindex_suite(void)
{
  Suite *s = suite_create("hindex");
  TCase *c = tcase_create("index");

  tcase_add_test(c, test_hindex_finds_every_entry);
  tcase_add_test(c, test_hindex_hashes);
  tcase_add_test(c, test_lower_bound);
  suite_add_tcase(s, c);
  return s;
}

int main(void)
{
  SRunner *sr = srunner_create(hindex_suite());
  int failed;

  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
