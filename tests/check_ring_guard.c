/* check_ring_guard.c: unit tests of the ring guard (daemon/ring_guard.c) on rings in memory:
 * it empties a ring that is a quarter full while nobody reads it, hands the records back in
 * order, leaves a ring alone below a quarter, and stops keeping at its memory limit. */
#include <check.h>
#include <errno.h>
#include <linux/perf_event.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "perf/ring_guard.h"

#define RING 4096   /* data bytes per ring */
#define REC 64      /* bytes per record */

struct fake {
  struct perf_event_mmap_page meta;
  uint8_t data[RING];
  uint8_t tmp[RING];
  struct cpd_perf_ring ring;
};

static void fake_init(struct fake *f)
{
  memset(f, 0, sizeof(*f));
  f->ring.meta = &f->meta;
  f->ring.data = f->data;
  f->ring.data_size = RING;
  f->ring.tmp = f->tmp;
}

/* Writes N records numbered from FIRST, as the kernel would: the bytes, then data_head. */
static void produce(struct fake *f, uint64_t first, int n)
{
  uint64_t head = f->meta.data_head;

  for (int i = 0; i < n; i++) {
    uint8_t rec[REC] = { 0 };
    struct perf_event_header h = { .type = PERF_RECORD_SAMPLE, .size = REC };
    uint64_t seq = first + (uint64_t)i;

    memcpy(rec, &h, sizeof(h));
    memcpy(rec + sizeof(h), &seq, sizeof(seq));
    for (size_t b = 0; b < REC; b++)
      f->data[(head + b) % RING] = rec[b];
    head += REC;
  }
  __atomic_store_n(&f->meta.data_head, head, __ATOMIC_RELEASE);
}

static uint64_t tail_of(struct fake *f)
{
  return __atomic_load_n(&f->meta.data_tail, __ATOMIC_ACQUIRE);
}

/* Waits up to 10 s for the guard to empty the ring (it looks every 10 to 40 ms). */
static int wait_emptied(struct cpd_ring_guard *g, struct fake *f)
{
  for (int i = 0; i < 1000; i++) {
    uint64_t tail;

    cpd_ring_guard_hold(g);
    tail = tail_of(f);
    cpd_ring_guard_release(g);
    if (tail == f->meta.data_head)
      return 1;
    usleep(10000);
  }
  return 0;
}

/* The guard owns its array of rings: a malloc'd one with A, and B unless NULL. */
static struct cpd_perf_ring **rings_of(struct cpd_perf_ring *a, struct cpd_perf_ring *b)
{
  struct cpd_perf_ring **v = malloc(2 * sizeof(*v));

  ck_assert_ptr_nonnull(v);
  v[0] = a;
  v[1] = b;
  return v;
}

struct got {
  uint64_t seq[4 * RING / REC];
  int n;
};

static void on_rec(void *arg, const struct perf_event_header *h, size_t len)
{
  struct got *g = arg;

  ck_assert_uint_eq(len, REC);
  ck_assert_uint_eq(h->type, PERF_RECORD_SAMPLE);
  memcpy(&g->seq[g->n++], (const uint8_t *)h + sizeof(*h), sizeof(uint64_t));
}

START_TEST(test_ring_guard_keeps_a_ring_past_a_quarter)
{
  static struct fake a, b;
  struct cpd_ring_guard g;
  static struct got got;

  fake_init(&a);
  fake_init(&b);
  a.meta.data_head = a.meta.data_tail = RING - 2 * REC;  /* the records wrap around */
  ck_assert_int_eq(cpd_ring_guard_start(&g, rings_of(&a.ring, &b.ring), 2, 1 << 20), 0);
  produce(&a, 1, RING / REC / 2 + 1);   /* over a quarter: the guard takes it */
  produce(&b, 1000, 4);                 /* below a quarter: left for the loop */
  ck_assert(wait_emptied(&g, &a));
  usleep(50000);
  ck_assert_uint_eq(tail_of(&b), 0);
  /* The next fill is kept after the first, and the take hands back both in order. */
  produce(&a, 100, RING / REC - 1);
  ck_assert(wait_emptied(&g, &a));
  got.n = 0;
  ck_assert_int_eq(cpd_ring_guard_take(&g, on_rec, &got), 0);
  cpd_ring_guard_release(&g);
  ck_assert_int_eq(got.n, RING / REC / 2 + 1 + RING / REC - 1);
  for (int i = 0; i < RING / REC / 2 + 1; i++)
    ck_assert_uint_eq(got.seq[i], 1 + (uint64_t)i);
  for (int i = 0; i < RING / REC - 1; i++)
    ck_assert_uint_eq(got.seq[RING / REC / 2 + 1 + i], 100 + (uint64_t)i);
  ck_assert_uint_eq(g.kept, (uint64_t)got.n);
  /* A take empties what was kept. */
  got.n = 0;
  ck_assert_int_eq(cpd_ring_guard_take(&g, on_rec, &got), 0);
  cpd_ring_guard_release(&g);
  ck_assert_int_eq(got.n, 0);
  cpd_ring_guard_stop(&g);
  ck_assert_int_eq(g.running, 0);
}
END_TEST

START_TEST(test_ring_guard_stops_at_its_limit)
{
  static struct fake a;
  struct cpd_ring_guard g;
  static struct got got;

  fake_init(&a);
  /* Room for one ring's worth (the guard reserves a whole ring before reading one). */
  ck_assert_int_eq(cpd_ring_guard_start(&g, rings_of(&a.ring, NULL), 1, RING * 3 / 2), 0);
  produce(&a, 1, RING / REC);
  ck_assert(wait_emptied(&g, &a));
  produce(&a, 500, RING / REC);   /* a full ring the guard has no room for */
  usleep(100000);
  ck_assert_uint_eq(tail_of(&a), RING);  /* left to the kernel, which drops and counts */
  got.n = 0;
  ck_assert_int_eq(cpd_ring_guard_take(&g, on_rec, &got), 0);
  cpd_ring_guard_release(&g);
  ck_assert_int_eq(got.n, RING / REC);
  ck_assert_uint_eq(got.seq[RING / REC - 1], RING / REC);
  /* With room again, it takes the waiting ring. */
  ck_assert(wait_emptied(&g, &a));
  cpd_ring_guard_stop(&g);
}
END_TEST

START_TEST(test_ring_guard_reports_a_bad_ring)
{
  static struct fake a;
  struct cpd_ring_guard g;
  static struct got got;
  struct perf_event_header h = { .type = PERF_RECORD_SAMPLE, .size = 4 };

  fake_init(&a);
  ck_assert_int_eq(cpd_ring_guard_start(&g, rings_of(&a.ring, NULL), 1, 1 << 20), 0);
  memcpy(a.data, &h, sizeof(h));
  __atomic_store_n(&a.meta.data_head, (uint64_t)RING, __ATOMIC_RELEASE);
  ck_assert(wait_emptied(&g, &a));  /* skipped, not stuck */
  got.n = 0;
  ck_assert_int_eq(cpd_ring_guard_take(&g, on_rec, &got), -EBADMSG);
  cpd_ring_guard_release(&g);
  ck_assert_int_eq(got.n, 0);
  ck_assert_int_eq(cpd_ring_guard_take(&g, on_rec, &got), 0);  /* said once */
  cpd_ring_guard_release(&g);
  cpd_ring_guard_stop(&g);
}
END_TEST

static Suite *ring_guard_suite(void)
{
  Suite *s = suite_create("ring_guard");
  TCase *c = tcase_create("fake rings");

  tcase_add_test(c, test_ring_guard_keeps_a_ring_past_a_quarter);
  tcase_add_test(c, test_ring_guard_stops_at_its_limit);
  tcase_add_test(c, test_ring_guard_reports_a_bad_ring);
  suite_add_tcase(s, c);
  return s;
}

int main(void)
{
  SRunner *sr = srunner_create(ring_guard_suite());
  int failed;

  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
