/* check_perf_record.c: unit tests of perf record parsing and ring reading (daemon/perf_record.c). */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "perf/perf_record.h"

#define ST (PERF_SAMPLE_IP | PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_CPU | \
            PERF_SAMPLE_PERIOD | PERF_SAMPLE_CALLCHAIN)

/* A byte builder for records. */
struct rb {
  uint8_t b[4096];
  size_t n;
};

static void put64(struct rb *r, uint64_t v)
{
  memcpy(r->b + r->n, &v, 8);
  r->n += 8;
}

static void put32(struct rb *r, uint32_t v)
{
  memcpy(r->b + r->n, &v, 4);
  r->n += 4;
}

static void header(struct rb *r, uint32_t type, uint16_t misc)
{
  struct perf_event_header h = { .type = type, .misc = misc, .size = 0 };

  memcpy(r->b, &h, sizeof(h));
  r->n = sizeof(h);
}

static size_t finish(struct rb *r)
{
  uint16_t size = (uint16_t)r->n;

  memcpy(r->b + 6, &size, 2);
  return r->n;
}

/* pid, tid, time, cpu: the sample_id trailer for ST. */
static void trailer(struct rb *r, uint32_t pid, uint32_t tid, uint64_t time, uint32_t cpu)
{
  put32(r, pid);
  put32(r, tid);
  put64(r, time);
  put32(r, cpu);
  put32(r, 0);
}

static size_t sample(struct rb *r, uint64_t time, uint64_t nr, const uint64_t *ips)
{
  header(r, PERF_RECORD_SAMPLE, PERF_RECORD_MISC_USER);
  put64(r, ips[nr > 1 ? 1 : 0]);
  put32(r, 100);
  put32(r, 101);
  put64(r, time);
  put32(r, 1);
  put32(r, 0);
  put64(r, 10101010);
  put64(r, nr);
  for (uint64_t i = 0; i < nr; i++)
    put64(r, ips[i]);
  return finish(r);
}

static struct cpd_perf_rec rec;

START_TEST(test_perf_record_sample_with_callchain)
{
  struct rb r;
  uint64_t ips[] = { (uint64_t)PERF_CONTEXT_KERNEL, 0xffffffff81000010ull, (uint64_t)PERF_CONTEXT_USER,
                     0x401000, 0x402000, 0x403000 };
  size_t len = sample(&r, 5555, 6, ips);

  ck_assert_int_eq(cpd_perf_parse(r.b, len, ST, &rec), 0);
  ck_assert_uint_eq(rec.type, PERF_RECORD_SAMPLE);
  ck_assert_uint_eq(rec.id.pid, 100);
  ck_assert_uint_eq(rec.id.tid, 101);
  ck_assert_uint_eq(rec.id.time, 5555);
  ck_assert_uint_eq(rec.id.cpu, 1);
  ck_assert_uint_eq(rec.u.sample.period, 10101010);
  ck_assert_uint_eq(rec.u.sample.nframes, 4);  /* context markers dropped */
  ck_assert_uint_eq(rec.u.sample.nkernel, 1);
  ck_assert_uint_eq(rec.u.sample.frames[0], 0xffffffff81000010ull);
  ck_assert_uint_eq(rec.u.sample.frames[3], 0x403000);
  ck_assert_uint_eq(cpd_perf_record_time(r.b, len, ST), 5555);
}
END_TEST

START_TEST(test_perf_record_callchain_too_long_is_marked)
{
  static struct rb r;
  uint64_t ips[200];

  for (int i = 0; i < 200; i++)
    ips[i] = 0x400000 + (uint64_t)i;
  ck_assert_int_eq(cpd_perf_parse(r.b, sample(&r, 1, 200, ips), ST, &rec), 0);
  ck_assert_uint_eq(rec.u.sample.nframes, CPD_MAX_FRAMES);
  ck_assert_int_eq(rec.u.sample.truncated, 1);
}
END_TEST

START_TEST(test_perf_record_malformed_rejected)
{
  struct rb r;
  uint64_t ips[] = { 0x401000 };
  size_t len = sample(&r, 1, 1, ips);
  uint64_t huge = 1000000;

  /* A size that disagrees with the length given. */
  ck_assert_int_eq(cpd_perf_parse(r.b, len - 8, ST, &rec), -EBADMSG);
  /* A callchain count larger than the record. */
  memcpy(r.b + len - 16, &huge, 8);
  ck_assert_int_eq(cpd_perf_parse(r.b, len, ST, &rec), -EBADMSG);
  /* Shorter than a header. */
  ck_assert_int_eq(cpd_perf_parse(r.b, 4, ST, &rec), -EBADMSG);
}
END_TEST

START_TEST(test_perf_record_mmap2_comm_lost)
{
  struct rb r;
  const char path[] = "/usr/lib/libx.so\0\0\0\0\0\0\0";

  header(&r, PERF_RECORD_MMAP2, 0);
  put32(&r, 100);
  put32(&r, 100);
  put64(&r, 0x7f0000000000ull);
  put64(&r, 0x1000);
  put64(&r, 0x2000);
  put64(&r, 0);
  put64(&r, 0);
  put64(&r, 0);
  put32(&r, 5);  /* PROT_READ | PROT_EXEC */
  put32(&r, 2);
  memcpy(r.b + r.n, path, 24);
  r.n += 24;
  trailer(&r, 100, 100, 777, 0);
  ck_assert_int_eq(cpd_perf_parse(r.b, finish(&r), ST, &rec), 0);
  ck_assert_uint_eq(rec.u.mmap.addr, 0x7f0000000000ull);
  ck_assert_uint_eq(rec.u.mmap.pgoff, 0x2000);
  ck_assert_str_eq(rec.u.mmap.filename, "/usr/lib/libx.so");
  ck_assert_uint_eq(rec.id.time, 777);
  ck_assert_uint_eq(cpd_perf_record_time(r.b, r.n, ST), 777);

  header(&r, PERF_RECORD_COMM, PERF_RECORD_MISC_COMM_EXEC);
  put32(&r, 100);
  put32(&r, 102);
  memcpy(r.b + r.n, "worker\0\0", 8);
  r.n += 8;
  trailer(&r, 100, 102, 888, 1);
  ck_assert_int_eq(cpd_perf_parse(r.b, finish(&r), ST, &rec), 0);
  ck_assert_str_eq(rec.u.comm.comm, "worker");
  ck_assert_uint_eq(rec.id.tid, 102);
  ck_assert(rec.misc & PERF_RECORD_MISC_COMM_EXEC);

  header(&r, PERF_RECORD_LOST, 0);
  put64(&r, 1);
  put64(&r, 42);
  trailer(&r, 100, 100, 999, 0);
  ck_assert_int_eq(cpd_perf_parse(r.b, finish(&r), ST, &rec), 0);
  ck_assert_uint_eq(rec.u.lost.lost, 42);

  header(&r, PERF_RECORD_LOST_SAMPLES, 0);
  put64(&r, 7);
  trailer(&r, 100, 100, 999, 0);
  ck_assert_int_eq(cpd_perf_parse(r.b, finish(&r), ST, &rec), 0);
  ck_assert_uint_eq(rec.u.lost.lost, 7);

  /* A string without its NUL is malformed. */
  header(&r, PERF_RECORD_COMM, 0);
  put32(&r, 100);
  put32(&r, 102);
  memcpy(r.b + r.n, "abcdefgh", 8);
  r.n += 8;
  ck_assert_int_eq(cpd_perf_parse(r.b, finish(&r), 0, &rec), -EBADMSG);
}
END_TEST

/* A fake mapped ring in ordinary memory. */
struct fake_ring {
  struct perf_event_mmap_page meta;
  uint8_t data[256];
  uint8_t tmp[256];
  struct cpd_perf_ring ring;
};

static void ring_init(struct fake_ring *f)
{
  memset(f, 0, sizeof(*f));
  f->ring.meta = &f->meta;
  f->ring.data = f->data;
  f->ring.data_size = sizeof(f->data);
  f->ring.tmp = f->tmp;
}

static void ring_write(struct fake_ring *f, const uint8_t *bytes, size_t len)
{
  for (size_t i = 0; i < len; i++)
    f->data[(f->meta.data_head + i) % sizeof(f->data)] = bytes[i];
  f->meta.data_head += len;
}

struct seen {
  int n;
  uint64_t times[16];
};

static void on_ring_rec(void *arg, const struct perf_event_header *h, size_t len)
{
  struct seen *s = arg;
  struct cpd_perf_rec *r = malloc(sizeof(*r));

  ck_assert_int_eq(cpd_perf_parse(h, len, ST, r), 0);
  s->times[s->n++] = r->id.time;
  free(r);
}

START_TEST(test_perf_record_ring_wraps_around)
{
  static struct fake_ring f;
  struct seen seen = { 0 };
  struct rb r;
  uint64_t ips[] = { (uint64_t)PERF_CONTEXT_USER, 0x401000, 0x402000 };
  size_t len;

  ring_init(&f);
  /* Start near the end: 80-byte records in a 256-byte ring wrap at once and again later. */
  f.meta.data_head = f.meta.data_tail = 200;
  len = sample(&r, 1, 3, ips);
  ck_assert_uint_eq(len, 80);
  ring_write(&f, r.b, len);
  ck_assert_int_eq(cpd_perf_ring_read(&f.ring, on_ring_rec, &seen), 1);
  sample(&r, 2, 3, ips);
  ring_write(&f, r.b, len);
  sample(&r, 3, 3, ips);
  ring_write(&f, r.b, len);
  ck_assert_int_eq(cpd_perf_ring_read(&f.ring, on_ring_rec, &seen), 2);
  ck_assert_int_eq(seen.n, 3);
  ck_assert_uint_eq(seen.times[0], 1);
  ck_assert_uint_eq(seen.times[1], 2);
  ck_assert_uint_eq(seen.times[2], 3);
  ck_assert_uint_eq(f.meta.data_tail, f.meta.data_head);
}
END_TEST

START_TEST(test_perf_record_ring_bad_size_stops)
{
  static struct fake_ring f;
  struct seen seen = { 0 };
  struct perf_event_header h = { .type = PERF_RECORD_SAMPLE, .size = 4 };

  ring_init(&f);
  ring_write(&f, (const uint8_t *)&h, sizeof(h));
  ck_assert_int_eq(cpd_perf_ring_read(&f.ring, on_ring_rec, &seen), -EBADMSG);
  ck_assert_int_eq(seen.n, 0);
  ck_assert_uint_eq(f.meta.data_tail, f.meta.data_head);  /* skipped, not stuck */
}
END_TEST

/* DWARF mode: the user registers and a copy of the stack after the (kernel-only) callchain. */
START_TEST(test_perf_record_user_regs_and_stack)
{
  const uint64_t st = ST | PERF_SAMPLE_REGS_USER | PERF_SAMPLE_STACK_USER;
  uint64_t ips[] = { (uint64_t)PERF_CONTEXT_USER };
  struct rb r;
  size_t len;

  sample(&r, 777, 1, ips);
  put64(&r, 2);  /* PERF_SAMPLE_REGS_ABI_64 */
  for (uint64_t i = 0; i < CPD_REGS_USER_N; i++)
    put64(&r, 1000 + i);
  put64(&r, 64);  /* stack: 64 bytes copied, 40 of them data */
  for (int i = 0; i < 8; i++)
    put64(&r, 0xabc0 + (uint64_t)i);
  put64(&r, 40);
  len = finish(&r);
  ck_assert_int_eq(cpd_perf_parse(r.b, len, st, &rec), 0);
  ck_assert_uint_eq(rec.u.sample.regs_abi, 2);
  ck_assert_uint_eq(rec.u.sample.regs[0], 1000);
  ck_assert_uint_eq(rec.u.sample.regs[CPD_REGS_USER_N - 1], 1000 + CPD_REGS_USER_N - 1);
  ck_assert_uint_eq(rec.u.sample.stack_len, 40);
  ck_assert_ptr_eq(rec.u.sample.stack, r.b + len - 8 - 64);
  ck_assert_uint_eq(rec.u.sample.nframes, 0);
  /* A dyn_size larger than what was copied, or a stack running past the record: refused. */
  memcpy(r.b + len - 8, &(uint64_t){ 65 }, 8);
  ck_assert_int_eq(cpd_perf_parse(r.b, len, st, &rec), -EBADMSG);
  memcpy(r.b + len - 8 - 64 - 8, &(uint64_t){ 4096 }, 8);
  ck_assert_int_eq(cpd_perf_parse(r.b, len, st, &rec), -EBADMSG);
  /* A kernel thread's sample: ABI 0, no registers, an empty stack. */
  sample(&r, 778, 1, ips);
  put64(&r, 0);
  put64(&r, 0);
  len = finish(&r);
  ck_assert_int_eq(cpd_perf_parse(r.b, len, st, &rec), 0);
  ck_assert_uint_eq(rec.u.sample.regs_abi, 0);
  ck_assert_ptr_null(rec.u.sample.stack);
}
END_TEST

static Suite *perf_record_suite(void)
{
  Suite *s = suite_create("perf_record");
  TCase *parse = tcase_create("parse");
  TCase *ring = tcase_create("ring");

  tcase_add_test(parse, test_perf_record_sample_with_callchain);
  tcase_add_test(parse, test_perf_record_user_regs_and_stack);
  tcase_add_test(parse, test_perf_record_callchain_too_long_is_marked);
  tcase_add_test(parse, test_perf_record_malformed_rejected);
  tcase_add_test(parse, test_perf_record_mmap2_comm_lost);
  tcase_add_test(ring, test_perf_record_ring_wraps_around);
  tcase_add_test(ring, test_perf_record_ring_bad_size_stops);
  suite_add_tcase(s, parse);
  suite_add_tcase(s, ring);
  return s;
}

int main(void)
{
  SRunner *sr = srunner_create(perf_record_suite());
  int failed;

  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
