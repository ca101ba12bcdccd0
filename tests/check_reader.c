/* check_reader.c: unit tests of the ring reader (daemon/perf/reader.c) on rings in memory:
 * it empties the rings while nobody takes its queue, hands every record back once and in
 * time order, leaves a ring to the kernel at its memory limit, and reports a bad ring. */
#include <check.h>
#include <errno.h>
#include <linux/perf_event.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "perf/reader.h"

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
  f->ring.fd = -1;  /* no event: read by the period */
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

/* Waits up to 10 s for the reader to empty the ring (it reads every 50 ms). */
static int wait_emptied(struct cpd_reader *g, struct fake *f)
{
  for (int i = 0; i < 1000; i++) {
    uint64_t tail;

    cpd_reader_hold(g);
    tail = tail_of(f);
    cpd_reader_release(g);
    if (tail == f->meta.data_head)
      return 1;
    usleep(10000);
  }
  return 0;
}

/* The reader owns its array of rings: a malloc'd one with A, and B unless NULL. */
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

/* Takes what the reader queued; every record is handed once. */
static int take(struct cpd_reader *r, struct got *got)
{
  got->n = 0;
  return cpd_reader_take(r, on_rec, got);
}

START_TEST(test_reader_reads_while_nobody_takes)
{
  static struct fake a, b;
  struct cpd_reader r;
  static struct got got;

  fake_init(&a);
  fake_init(&b);
  a.meta.data_head = a.meta.data_tail = RING - 2 * REC;  /* the records wrap around */
  ck_assert_int_eq(cpd_reader_start(&r, rings_of(&a.ring, &b.ring), 2, PERF_SAMPLE_TIME,
                                    1 << 20), 0);
  /* Nobody takes for a while (a slow symbol lookup): the thread empties both rings. */
  produce(&a, 1, RING / REC / 2 + 1);
  produce(&b, 1000, 4);
  ck_assert(wait_emptied(&r, &a));
  ck_assert(wait_emptied(&r, &b));
  /* The next fill is queued after the first, and the take hands back all in order. */
  produce(&a, 2000, RING / REC - 1);
  ck_assert(wait_emptied(&r, &a));
  ck_assert_int_eq(take(&r, &got), RING / REC / 2 + 1 + 4 + RING / REC - 1);
  for (int i = 1; i < got.n; i++)
    ck_assert_uint_lt(got.seq[i - 1], got.seq[i]);
  ck_assert_uint_eq(got.seq[0], 1);
  ck_assert_uint_eq(got.seq[got.n - 1], 2000 + RING / REC - 2);
  ck_assert_uint_eq(r.records, (uint64_t)got.n);
  /* A take empties the queue. */
  ck_assert_int_eq(take(&r, &got), 0);
  cpd_reader_stop(&r);
  ck_assert_int_eq(r.running, 0);
}
END_TEST

START_TEST(test_reader_orders_a_round_by_time)
{
  static struct fake a, b;
  struct cpd_reader r;
  static struct got got;

  fake_init(&a);
  fake_init(&b);
  /* Two CPUs' rings, their records' times interleaved (the time is the first field). */
  for (int i = 0; i < 8; i++) {
    produce(&a, 10 + 2 * (uint64_t)i, 1);
    produce(&b, 11 + 2 * (uint64_t)i, 1);
  }
  ck_assert_int_eq(cpd_reader_start(&r, rings_of(&a.ring, &b.ring), 2, PERF_SAMPLE_TIME,
                                    1 << 20), 0);
  ck_assert_int_eq(take(&r, &got), 16);
  for (int i = 0; i < 16; i++)
    ck_assert_uint_eq(got.seq[i], 10 + (uint64_t)i);
  cpd_reader_stop(&r);
}
END_TEST

START_TEST(test_reader_stops_at_its_limit)
{
  static struct fake a;
  struct cpd_reader r;
  static struct got got;

  fake_init(&a);
  /* Room for one ring's worth (the reader reserves a whole ring before reading one). */
  ck_assert_int_eq(cpd_reader_start(&r, rings_of(&a.ring, NULL), 1, PERF_SAMPLE_TIME,
                                    RING * 3 / 2), 0);
  produce(&a, 1, RING / REC);
  ck_assert(wait_emptied(&r, &a));
  produce(&a, 500, RING / REC);   /* a full ring the queue has no room for */
  usleep(150000);
  ck_assert_uint_eq(tail_of(&a), RING);  /* left to the kernel, which drops and counts */
  ck_assert_int_eq(take(&r, &got), RING / REC);
  ck_assert_uint_eq(got.seq[RING / REC - 1], RING / REC);
  /* With room again, it reads the waiting ring. */
  ck_assert(wait_emptied(&r, &a));
  ck_assert_int_eq(take(&r, &got), RING / REC);
  ck_assert_uint_eq(got.seq[0], 500);
  cpd_reader_stop(&r);
}
END_TEST

START_TEST(test_reader_reports_a_bad_ring)
{
  static struct fake a;
  struct cpd_reader r;
  static struct got got;
  struct perf_event_header h = { .type = PERF_RECORD_SAMPLE, .size = 4 };

  fake_init(&a);
  ck_assert_int_eq(cpd_reader_start(&r, rings_of(&a.ring, NULL), 1, PERF_SAMPLE_TIME,
                                    1 << 20), 0);
  memcpy(a.data, &h, sizeof(h));
  __atomic_store_n(&a.meta.data_head, (uint64_t)RING, __ATOMIC_RELEASE);
  ck_assert(wait_emptied(&r, &a));  /* skipped, not stuck */
  ck_assert_int_eq(take(&r, &got), -EBADMSG);
  ck_assert_int_eq(got.n, 0);
  ck_assert_int_eq(take(&r, &got), 0);  /* said once */
  cpd_reader_stop(&r);
}
END_TEST

static Suite *reader_suite(void)
{
  Suite *s = suite_create("reader");
  TCase *c = tcase_create("fake rings");

  tcase_add_test(c, test_reader_reads_while_nobody_takes);
  tcase_add_test(c, test_reader_orders_a_round_by_time);
  tcase_add_test(c, test_reader_stops_at_its_limit);
  tcase_add_test(c, test_reader_reports_a_bad_ring);
  suite_add_tcase(s, c);
  return s;
}

int main(void)
{
  SRunner *sr = srunner_create(reader_suite());
  int failed;

  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
