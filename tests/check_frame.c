/* check_frame.c: unit tests of the length-prefixed frame codec (common/frame.c). */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"

static uint8_t *encode_hello(const char *service, size_t *len)
{
  Ceoprof__Wire__Hello h = CEOPROF__WIRE__HELLO__INIT;
  cp_frame f = CEOPROF__WIRE__FRAME__INIT;
  uint8_t *buf;

  h.protocol_version = CP_PROTOCOL_VERSION;
  h.service_name = (char *)service;
  h.pid = 42;
  f.body_case = CEOPROF__WIRE__FRAME__BODY_HELLO;
  f.hello = &h;
  ck_assert_int_eq(cp__frame_encode(&f, &buf, len), 0);
  return buf;
}

static void feed(struct cp_frame_reader *r, const uint8_t *p, size_t n)
{
  uint8_t *space = cp__frame_reader_space(r, n);

  ck_assert_ptr_nonnull(space);
  memcpy(space, p, n);
  cp__frame_reader_commit(r, n);
}

START_TEST(test_frame_round_trip)
{
  struct cp_frame_reader r;
  cp_frame *f = NULL;
  size_t len;
  uint8_t *buf = encode_hello("svc", &len);

  cp__frame_reader_init(&r, CP_MAX_FRAME);
  feed(&r, buf, len);
  ck_assert_int_eq(cp__frame_next(&r, &f), 1);
  ck_assert_int_eq(f->body_case, CEOPROF__WIRE__FRAME__BODY_HELLO);
  ck_assert_str_eq(f->hello->service_name, "svc");
  ck_assert_uint_eq(f->hello->pid, 42);
  cp__frame_free(f);
  ck_assert_int_eq(cp__frame_next(&r, &f), 0);
  cp__frame_reader_free(&r);
  free(buf);
}
END_TEST

START_TEST(test_frame_byte_by_byte_and_back_to_back)
{
  struct cp_frame_reader r;
  cp_frame *f = NULL;
  size_t len1, len2;
  uint8_t *a = encode_hello("first", &len1), *b = encode_hello("second", &len2);
  int got = 0;

  cp__frame_reader_init(&r, CP_MAX_FRAME);
  for (size_t i = 0; i < len1; i++) {
    feed(&r, a + i, 1);
    int rc = cp__frame_next(&r, &f);

    if (i + 1 < len1)
      ck_assert_int_eq(rc, 0);  /* truncated: wait for more */
    else {
      ck_assert_int_eq(rc, 1);
      ck_assert_str_eq(f->hello->service_name, "first");
      cp__frame_free(f);
      got++;
    }
  }
  feed(&r, b, len2);
  feed(&r, a, len1);
  ck_assert_int_eq(cp__frame_next(&r, &f), 1);
  ck_assert_str_eq(f->hello->service_name, "second");
  cp__frame_free(f);
  ck_assert_int_eq(cp__frame_next(&r, &f), 1);
  ck_assert_str_eq(f->hello->service_name, "first");
  cp__frame_free(f);
  ck_assert_int_eq(got, 1);
  cp__frame_reader_free(&r);
  free(a);
  free(b);
}
END_TEST

START_TEST(test_frame_oversized_length_rejected)
{
  struct cp_frame_reader r;
  cp_frame *f = NULL;
  uint8_t hdr[4] = { 0xff, 0xff, 0xff, 0x7f };

  cp__frame_reader_init(&r, CP_MAX_FRAME);
  feed(&r, hdr, 4);
  ck_assert_int_eq(cp__frame_next(&r, &f), -EMSGSIZE);
  cp__frame_reader_free(&r);
}
END_TEST

START_TEST(test_frame_garbage_rejected)
{
  struct cp_frame_reader r;
  cp_frame *f = NULL;
  uint8_t junk[12] = { 8, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

  cp__frame_reader_init(&r, CP_MAX_FRAME);
  feed(&r, junk, sizeof(junk));
  ck_assert_int_eq(cp__frame_next(&r, &f), -EBADMSG);
  cp__frame_reader_free(&r);
}
END_TEST

START_TEST(test_frame_encode_refuses_oversized)
{
  Ceoprof__Wire__StringDefs defs = CEOPROF__WIRE__STRING_DEFS__INIT;
  Ceoprof__Wire__StringDef d = CEOPROF__WIRE__STRING_DEF__INIT;
  Ceoprof__Wire__StringDef *dp = &d;
  cp_frame f = CEOPROF__WIRE__FRAME__INIT;
  char *big = malloc(CP_MAX_FRAME + 10);
  uint8_t *buf;
  size_t len;

  memset(big, 'x', CP_MAX_FRAME + 9);
  big[CP_MAX_FRAME + 9] = '\0';
  d.id = 1;
  d.value = big;
  defs.n_strings = 1;
  defs.strings = &dp;
  f.body_case = CEOPROF__WIRE__FRAME__BODY_STRINGS;
  f.strings = &defs;
  ck_assert_int_eq(cp__frame_encode(&f, &buf, &len), -EMSGSIZE);
  free(big);
}
END_TEST

static Suite *frame_suite(void)
{
  Suite *s = suite_create("frame");
  TCase *codec = tcase_create("codec");
  TCase *bad = tcase_create("bad_input");

  tcase_add_test(codec, test_frame_round_trip);
  tcase_add_test(codec, test_frame_byte_by_byte_and_back_to_back);
  tcase_add_test(bad, test_frame_oversized_length_rejected);
  tcase_add_test(bad, test_frame_garbage_rejected);
  tcase_add_test(bad, test_frame_encode_refuses_oversized);
  suite_add_tcase(s, codec);
  suite_add_tcase(s, bad);
  return s;
}

int main(void)
{
  SRunner *sr = srunner_create(frame_suite());
  int failed;

  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
