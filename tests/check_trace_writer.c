/* check_trace_writer.c: unit tests of the Chrome Trace JSON writer (daemon/trace_writer.c). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "output/jsonw.h"
#include "session_fixture.h"
#include "output/trace_writer.h"

#define GOLDEN SRCDIR "/tests/golden/basic.trace.json"

static char *render(struct cpd_session *s, size_t *len)
{
  struct cpd_timeline tl;
  char *buf = NULL;
  FILE *f = open_memstream(&buf, len);

  ck_assert_int_eq(cpd_timeline_build(&tl, s, 5000), 0);
  cpd_trace_emit(f, s, &tl, NULL);
  fclose(f);
  cpd_timeline_free(&tl);
  return buf;
}

static struct cpd_session *basic_session(void)
{
  struct cpd_session *s = fixture_session();

  s->end_mono_ns = 6000;
  fixture_string(s, 1, "parse");
  fixture_string(s, 2, "checksum");
  fixture_string(s, 3, "bytes");
  fixture_string(s, 4, "queue_depth");
  fixture_string(s, 5, "batch \"done\"\n\x01\xff");
  fixture_worker(s, T1, 1, "io-0");
  fixture_worker(s, T2, 0, "cpu-0");
  fixture_event(s, BEGIN, T1, 1000, 1, 1, 0, 0);
  fixture_event(s, FIELD, T1, 1100, 1, 3, 4096, 0);
  fixture_event(s, BEGIN, T1, 1200, 2, 2, 0, 0);
  fixture_event(s, END, T1, 1500, 2, 0, 0, 0);
  fixture_event(s, END, T2, 2500, 1, 0, 0, 0);  /* parse moved to cpu-0 */
  fixture_event(s, COUNTER, T2, 1300, 0, 4, 7, 0);
  fixture_event(s, INSTANT, T2, 1400, 0, 5, 0, 0);
  fixture_event(s, BEGIN, T2, 3000, 3, 1, 0, 0);  /* unfinished */
  return s;
}

START_TEST(test_trace_writer_matches_golden)
{
  struct cpd_session *s = basic_session();
  size_t len, glen;
  char *out = render(s, &len), *golden;
  FILE *g = fopen(GOLDEN, "r");

  if (getenv("CEOPROF_UPDATE_GOLDEN")) {
    FILE *w = fopen(GOLDEN, "w");

    fwrite(out, 1, len, w);
    fclose(w);
    g = fopen(GOLDEN, "r");
  }
  ck_assert_msg(g != NULL, "cannot open %s", GOLDEN);
  golden = malloc(len + 2);
  glen = fread(golden, 1, len + 1, g);
  fclose(g);
  ck_assert_uint_eq(glen, len);
  ck_assert_msg(memcmp(golden, out, len) == 0, "trace differs from %s", GOLDEN);
  free(golden);
  free(out);
  cpd_session_free(s);
}
END_TEST

START_TEST(test_trace_writer_deterministic)
{
  struct cpd_session *a = basic_session(), *b = basic_session();
  size_t la, lb;
  char *x = render(a, &la), *y = render(b, &lb);

  ck_assert_uint_eq(la, lb);
  ck_assert_int_eq(memcmp(x, y, la), 0);
  free(x);
  free(y);
  cpd_session_free(a);
  cpd_session_free(b);
}
END_TEST

START_TEST(test_trace_writer_output_parses_as_json)
{
  struct cpd_session *s = basic_session();
  char path[] = "/tmp/check_trace_writer.XXXXXX";
  char cmd[256];
  int fd = mkstemp(path);
  struct cpd_timeline tl;
  const char *py = getenv("PYTHON3") ? getenv("PYTHON3") : "python3";

  ck_assert_int_ge(fd, 0);
  close(fd);
  ck_assert_int_eq(cpd_timeline_build(&tl, s, 5000), 0);
  ck_assert_int_eq(cpd_trace_write(path, s, &tl, NULL), 0);
  snprintf(cmd, sizeof(cmd),
           "%s -c 'import json,sys; d=json.load(open(sys.argv[1])); "
           "assert len(d[\"traceEvents\"]) > 5' %s", py, path);
  ck_assert_int_eq(system(cmd), 0);
  unlink(path);
  cpd_timeline_free(&tl);
  cpd_session_free(s);
}
END_TEST

START_TEST(test_trace_writer_json_escapes)
{
  char *buf = NULL;
  size_t len;
  FILE *f = open_memstream(&buf, &len);

  cpd_json_str(f, "a\"b\\c\n\x01\xc3\xa9\xff\xe2\x82");
  cpd_json_us(f, 1234567);
  fclose(f);
  ck_assert_str_eq(buf, "\"a\\\"b\\\\c\\n\\u0001\xc3\xa9\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"1234.567");
  free(buf);
}
END_TEST

START_TEST(test_trace_writer_unwritable_path_fails_cleanly)
{
  struct cpd_session *s = basic_session();
  struct cpd_timeline tl;

  ck_assert_int_eq(cpd_timeline_build(&tl, s, 5000), 0);
  ck_assert_int_lt(cpd_trace_write("/nonexistent-dir/x.trace.json", s, &tl, NULL), 0);
  cpd_timeline_free(&tl);
  cpd_session_free(s);
}
END_TEST

static Suite *trace_writer_suite(void)
{
  Suite *su = suite_create("trace_writer");
  TCase *tc = tcase_create("output");

  tcase_add_test(tc, test_trace_writer_matches_golden);
  tcase_add_test(tc, test_trace_writer_deterministic);
  tcase_add_test(tc, test_trace_writer_output_parses_as_json);
  tcase_add_test(tc, test_trace_writer_json_escapes);
  tcase_add_test(tc, test_trace_writer_unwritable_path_fails_cleanly);
  suite_add_tcase(su, tc);
  return su;
}

int main(void)
{
  SRunner *sr = srunner_create(trace_writer_suite());
  int failed;

  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
