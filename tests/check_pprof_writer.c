/*
 * check_pprof_writer.c: unit tests of the profile store (daemon/profile.c) and the pprof
 * writer (daemon/pprof_writer.c): samples of this very test program are resolved
 * against its own mappings, written, gunzipped and decoded back with protobuf-c.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "output/pprof_writer.h"
#include "profile.pb-c.h"
#include "session_fixture.h"
#include "model/timeline.h"

__attribute__((noinline)) void marker_leaf(void);
__attribute__((noinline)) void marker_caller(void);
__attribute__((noinline)) void marker_leaf(void) { __asm__ volatile(""); }
__attribute__((noinline)) void marker_caller(void) { marker_leaf(); __asm__ volatile(""); }

static Perftools__Profiles__Profile *read_back(const char *path)
{
  static uint8_t buf[1 << 20];
  gzFile gz = gzopen(path, "rb");
  int n;

  ck_assert_ptr_nonnull(gz);
  n = gzread(gz, buf, sizeof(buf));
  gzclose(gz);
  ck_assert_int_gt(n, 0);
  return perftools__profiles__profile__unpack(NULL, (size_t)n, buf);
}

static const char *str(const Perftools__Profiles__Profile *p, int64_t i)
{
  ck_assert_int_ge(i, 0);
  ck_assert_uint_lt((size_t)i, p->n_string_table);
  return p->string_table[i];
}

static const char *label(const Perftools__Profiles__Profile *p, const Perftools__Profiles__Sample *s,
                         const char *key, int64_t *num)
{
  for (size_t i = 0; i < s->n_label; i++)
    if (strcmp(str(p, s->label[i]->key), key) == 0) {
      if (num)
        *num = s->label[i]->num;
      return str(p, s->label[i]->str);
    }
  return NULL;
}

START_TEST(test_pprof_writer_round_trip)
{
  struct cpd_profile prof;
  struct cpd_session *s = fixture_session();
  struct cpd_timeline tl;
  struct cpd_aggs aggs = { 0 };
  struct cpd_pprof_info info = { .hz = 99, .event = "cpu-clock", .time_nanos = 1700000000000000000ull,
                                 .duration_nanos = 2000000000 };
  uint64_t leaf = (uint64_t)(uintptr_t)marker_leaf;
  uint64_t ret = (uint64_t)(uintptr_t)marker_caller + 5;  /* a return address inside the caller */
  uint64_t frames[2] = { leaf, ret };
  char path[] = "/tmp/check_pprof_writer.XXXXXX";
  Perftools__Profiles__Profile *p;
  int fd = mkstemp(path);
  int found_leaf = 0, labelled = 0;
  uint64_t total = 0;

  close(fd);
  fixture_string(s, 1, "parse");
  fixture_worker(s, T1, 4, "cpu-3");
  fixture_event(s, BEGIN, T1, 1000, 77, 1, 0, 0);
  fixture_event(s, END, T1, 5000, 77, 0, 0, 0);
  ck_assert_int_eq(cpd_timeline_build(&tl, s, 9000), 0);

  ck_assert_int_eq(cpd_profile_init(&prof, (uint32_t)getpid()), 0);
  ck_assert_int_eq(cpd_profile_load_proc(&prof), 0);
  cpd_profile_set_comm(&prof, prof.pid, T1, "thr");
  /* Three samples inside the task (two identical: aggregated), one outside it. */
  ck_assert_int_eq(cpd_profile_add_sample(&prof, 2000, T1, 10000000, frames, 2, 0, 0), 0);
  ck_assert_int_eq(cpd_profile_add_sample(&prof, 3000, T1, 10000000, frames, 2, 0, 0), 0);
  ck_assert_int_eq(cpd_profile_add_sample(&prof, 4000, T1, 10000000, frames, 1, 0, 0), 0);
  ck_assert_int_eq(cpd_profile_add_sample(&prof, 7000, T1, 10000000, frames, 2, 0, 0), 0);
  ck_assert_uint_eq(prof.nstacks, 2);
  ck_assert_str_eq(cpd_profile_loc_name(&prof, prof.frames[prof.stacks[0].off] - 1), "marker_leaf");
  ck_assert_str_eq(cpd_profile_loc_name(&prof, prof.frames[prof.stacks[0].off + 1] - 1), "marker_caller");
  /* The caller's location is looked up at the return address - 1. */
  ck_assert_uint_eq(prof.locs[prof.frames[prof.stacks[0].off + 1] - 1].address, ret - 1);

  ck_assert_int_eq(cpd_aggregate(&aggs, prof.samples, prof.nsamples, &tl), 0);
  ck_assert_uint_eq(aggs.n, 3);  /* the two identical samples inside the task are one */
  ck_assert_int_eq(cpd_pprof_write(path, &prof, s, &aggs, &info), 0);
  cpd_aggs_free(&aggs);
  p = read_back(path);
  ck_assert_ptr_nonnull(p);
  ck_assert_str_eq(p->string_table[0], "");
  ck_assert_uint_eq(p->n_sample_type, 2);
  ck_assert_str_eq(str(p, p->sample_type[0]->type), "samples");
  ck_assert_str_eq(str(p, p->sample_type[1]->type), "cpu");
  ck_assert_str_eq(str(p, p->sample_type[1]->unit), "nanoseconds");
  ck_assert_str_eq(str(p, p->default_sample_type), "cpu");
  ck_assert_str_eq(str(p, p->period_type->type), "cpu");
  ck_assert_int_eq(p->period, 1000000000 / 99);
  ck_assert_int_eq(p->time_nanos, 1700000000000000000ll);
  ck_assert_int_eq(p->duration_nanos, 2000000000);
  ck_assert_uint_eq(p->n_sample, 3);  /* (stack A, task), (stack B, task), (stack A, none) */
  ck_assert_uint_gt(p->n_mapping, 0);
  /* The main binary first. */
  ck_assert_str_eq(str(p, p->mapping[0]->filename), cpd_profile_exe(&prof, prof.pid));
  ck_assert_uint_eq(p->mapping[0]->id, 1);
  for (size_t i = 0; i < p->n_sample; i++) {
    const Perftools__Profiles__Sample *smp = p->sample[i];
    int64_t num = 0;

    ck_assert_uint_eq(smp->n_value, 2);
    ck_assert_int_eq(smp->value[1], smp->value[0] * 10000000);
    total += (uint64_t)smp->value[0];
    ck_assert_ptr_nonnull(label(p, smp, "thread_id", &num));
    ck_assert_int_eq(num, T1);
    ck_assert_str_eq(label(p, smp, "thread_name", NULL), "thr");
    ck_assert_str_eq(label(p, smp, "worker", NULL), "cpu-3");
    if (label(p, smp, "task", NULL)) {
      ck_assert_str_eq(label(p, smp, "task", NULL), "parse");
      label(p, smp, "task_id", &num);
      ck_assert_int_eq(num, 77);
      labelled += (int)smp->value[0];
    }
    for (size_t k = 0; k < smp->n_location_id; k++)
      ck_assert_uint_ne(smp->location_id[k], 0);
  }
  ck_assert_uint_eq(total, 4);
  ck_assert_int_eq(labelled, 3);
  for (size_t i = 0; i < p->n_location; i++) {
    const Perftools__Profiles__Location *l = p->location[i];

    ck_assert_uint_ne(l->id, 0);
    if (l->n_line && strcmp(str(p, p->function[l->line[0]->function_id - 1]->name), "marker_leaf") == 0)
      found_leaf = 1;
  }
  ck_assert_int_eq(found_leaf, 1);
  perftools__profiles__profile__free_unpacked(p, NULL);
  unlink(path);
  cpd_profile_free(&prof);
  cpd_timeline_free(&tl);
  cpd_session_free(s);
}
END_TEST

START_TEST(test_pprof_writer_unwritable_path)
{
  struct cpd_profile prof;
  struct cpd_pprof_info info = { .hz = 99, .event = "cpu-clock" };
  struct cpd_aggs none = { 0 };

  cpd_profile_init(&prof, (uint32_t)getpid());
  ck_assert_int_lt(cpd_pprof_write("/nonexistent-dir/x.pb.gz", &prof, NULL, &none, &info), 0);
  cpd_profile_free(&prof);
}
END_TEST

static Suite *pprof_writer_suite(void)
{
  Suite *su = suite_create("pprof_writer");
  TCase *tc = tcase_create("output");

  tcase_add_test(tc, test_pprof_writer_round_trip);
  tcase_add_test(tc, test_pprof_writer_unwritable_path);
  suite_add_tcase(su, tc);
  return su;
}

int main(void)
{
  SRunner *sr = srunner_create(pprof_writer_suite());
  int failed;

  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
