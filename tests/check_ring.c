/* check_ring.c: unit tests of the client's per-thread SPSC ring (client/ring.c). */
#include <check.h>
#include <pthread.h>
#include <stdlib.h>

#include "ring.h"

struct sink {
  uint64_t n;
  uint64_t next_task;  /* the task_id expected next */
  int out_of_order;
};

static void collect(void *arg, const struct cp_rec *r)
{
  struct sink *s = arg;

  if (r->task_id != s->next_task)
    s->out_of_order = 1;
  s->next_task = r->task_id + 1;
  s->n++;
}

START_TEST(test_ring_push_drain_in_order)
{
  struct cp_ring r;
  struct sink s = { .next_task = 1 };

  ck_assert_int_eq(cp__ring_init(&r, 64 * sizeof(struct cp_rec)), 0);
  for (uint64_t i = 1; i <= 10; i++)
    cp__ring_push(&r, CP_EV_BEGIN, i * 100, i, 0, 7);
  ck_assert_uint_eq(cp__ring_drain(&r, collect, &s), 10);
  ck_assert_uint_eq(s.n, 10);
  ck_assert_int_eq(s.out_of_order, 0);
  ck_assert_uint_eq(cp__ring_drain(&r, collect, &s), 0);
  cp__ring_destroy(&r);
}
END_TEST

START_TEST(test_ring_full_drops_and_counts)
{
  struct cp_ring r;
  struct sink s = { .next_task = 1 };

  ck_assert_int_eq(cp__ring_init(&r, 64 * sizeof(struct cp_rec)), 0);
  ck_assert_uint_eq(r.mask + 1, 64);
  for (uint64_t i = 1; i <= 100; i++)
    cp__ring_push(&r, CP_EV_INSTANT, i, i, 0, 1);
  ck_assert_uint_eq(atomic_load(&r.dropped_full), 36);
  ck_assert_uint_eq(cp__ring_drain(&r, collect, &s), 64);
  ck_assert_int_eq(s.out_of_order, 0);  /* the first 64 were kept, in order */
  /* After a drain there is room again. */
  cp__ring_push(&r, CP_EV_INSTANT, 1, 65, 0, 1);
  ck_assert_uint_eq(cp__ring_drain(&r, collect, &s), 1);
  ck_assert_uint_eq(atomic_load(&r.dropped_full), 36);
  cp__ring_destroy(&r);
}
END_TEST

START_TEST(test_ring_wraps_around)
{
  struct cp_ring r;
  struct sink s = { .next_task = 1 };
  uint64_t id = 1;

  ck_assert_int_eq(cp__ring_init(&r, 64 * sizeof(struct cp_rec)), 0);
  for (int round = 0; round < 50; round++) {
    for (int i = 0; i < 37; i++, id++)
      cp__ring_push(&r, CP_EV_END, id, id, 0, 0);
    cp__ring_drain(&r, collect, &s);
  }
  ck_assert_uint_eq(s.n, 50 * 37);
  ck_assert_int_eq(s.out_of_order, 0);
  ck_assert_uint_eq(atomic_load(&r.dropped_full), 0);
  cp__ring_destroy(&r);
}
END_TEST

#define CONCURRENT_EVENTS 2000000u

static void *producer(void *arg)
{
  struct cp_ring *r = arg;

  for (uint64_t i = 1; i <= CONCURRENT_EVENTS; i++)
    cp__ring_push(r, CP_EV_COUNTER, i, i, (int64_t)i, 1);
  return NULL;
}

static void count_only(void *arg, const struct cp_rec *r)
{
  struct sink *s = arg;

  /* With drops, ids may skip but never go backwards or repeat. */
  if (r->task_id < s->next_task)
    s->out_of_order = 1;
  if (r->value != (int64_t)r->task_id)
    s->out_of_order = 1;
  s->next_task = r->task_id + 1;
  s->n++;
}

START_TEST(test_ring_concurrent_producer_consumer)
{
  struct cp_ring r;
  struct sink s = { .next_task = 1 };
  pthread_t th;
  void *ret;

  ck_assert_int_eq(cp__ring_init(&r, 1024 * sizeof(struct cp_rec)), 0);
  pthread_create(&th, NULL, producer, &r);
  while (pthread_tryjoin_np(th, &ret) != 0)
    cp__ring_drain(&r, count_only, &s);
  cp__ring_drain(&r, count_only, &s);
  ck_assert_int_eq(s.out_of_order, 0);
  /* Nothing lost without being counted. */
  ck_assert_uint_eq(s.n + atomic_load(&r.dropped_full), CONCURRENT_EVENTS);
  cp__ring_destroy(&r);
}
END_TEST

static Suite *ring_suite(void)
{
  Suite *s = suite_create("ring");
  TCase *basic = tcase_create("basic");
  TCase *conc = tcase_create("concurrency");

  tcase_add_test(basic, test_ring_push_drain_in_order);
  tcase_add_test(basic, test_ring_full_drops_and_counts);
  tcase_add_test(basic, test_ring_wraps_around);
  tcase_add_test(conc, test_ring_concurrent_producer_consumer);
  tcase_set_timeout(conc, 60);
  suite_add_tcase(s, basic);
  suite_add_tcase(s, conc);
  return s;
}

int main(void)
{
  SRunner *sr = srunner_create(ring_suite());
  int failed;

  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
