/* check_bpf_offcpu.c: unit tests of the BPF off-CPU helper (daemon/bpf_offcpu.c) on real
 * children: the sleeps of one are summed on their stack, with the kernel's schedule() below
 * it; a child that execs is counted from its exec on when asked. Needs root (exit 77). */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "perf/bpf_offcpu.h"
#include "model/profile.h"

/* A child of this process that waits for a byte on the returned pipe, then runs WHAT. */
static pid_t child(int *go, void (*what)(void))
{
  int fds[2];
  pid_t pid;
  char b;

  ck_assert_int_eq(pipe(fds), 0);
  pid = fork();
  ck_assert_int_ge(pid, 0);
  if (pid == 0) {
    close(fds[1]);
    if (read(fds[0], &b, 1) != 1)
      _exit(2);
    what();
    _exit(0);
  }
  close(fds[0]);
  *go = fds[1];
  return pid;
}

static void ten_naps(void)
{
  for (int i = 0; i < 10; i++)
    usleep(20000);
}

static void exec_sleep(void)
{
  usleep(30000);  /* off the CPU before the exec */
  execl("/bin/sleep", "sleep", "0.2", (char *)NULL);
  _exit(3);
}

/* Starts the child, waits for it, drains the sums into P. Returns the nanoseconds summed. */
static uint64_t run(struct cpd_profile *p, struct cpd_bpf_offcpu **b, void (*what)(void),
                    int only_after_exec)
{
  char err[256] = "";
  int go, status, rc;
  pid_t pid = child(&go, what);
  uint64_t ns = 0;

  ck_assert_int_eq(cpd_profile_init(p, (uint32_t)pid), 0);
  ck_assert_int_eq(cpd_profile_load_proc(p), 0);  /* its mappings are this process's */
  rc = cpd_bpf_offcpu_open(b, (uint32_t)pid, only_after_exec, 1, err, sizeof(err));
  ck_assert_msg(rc == 0, "open: %s (%d)", err, rc);
  usleep(50000);  /* the child waits for the byte: blocked since before the open, not seen */
  ck_assert_int_eq(write(go, "g", 1), 1);
  close(go);
  ck_assert_int_eq(waitpid(pid, &status, 0), pid);
  ck_assert_int_eq(WEXITSTATUS(status), 0);
  ck_assert_int_ge(cpd_bpf_offcpu_drain(*b, p), 1);
  for (size_t i = 0; i < p->noffcpu; i++) {
    ck_assert_uint_eq(p->offcpu[i].time, 0);  /* summed: no time of its own */
    ns += p->offcpu[i].period;
  }
  ck_assert_uint_eq(cpd_bpf_offcpu_lost(*b), 0);
  return ns;
}

/* The off-CPU time of P on stacks that hold a function whose name contains NAME. */
static uint64_t ns_on(const struct cpd_profile *p, const char *name)
{
  uint64_t ns = 0;

  for (size_t i = 0; i < p->noffcpu; i++) {
    const struct cpd_stack *s = &p->stacks[p->offcpu[i].stack];

    for (uint32_t k = 0; k < s->len; k++) {
      const char *fn = cpd_profile_loc_name(p, p->frames[s->off + k] - 1);

      if (fn && strstr(fn, name)) {
        ns += p->offcpu[i].period;
        break;
      }
    }
  }
  return ns;
}

START_TEST(test_bpf_offcpu_sums_naps)
{
  struct cpd_profile p;
  struct cpd_bpf_offcpu *b;
  uint64_t ns = run(&p, &b, ten_naps, 0);

  /* 200 ms of naps and little more: the wait for the byte began before the program was
   * attached, and a period is summed from its switch-out. */
  ck_assert_msg(ns >= 195000000u && ns <= 300000000u, "%.1f ms off the CPU", ns / 1e6);
  ck_assert_msg(ns_on(&p, "nanosleep") >= 190000000u, "%.1f ms on nanosleep", ns_on(&p, "nanosleep") / 1e6);
  ck_assert_msg(ns_on(&p, "schedule") >= 195000000u, "kernel stacks: %.1f ms on schedule",
                ns_on(&p, "schedule") / 1e6);
  ck_assert_uint_eq(cpd_bpf_offcpu_before_exec(b), 0);
  cpd_bpf_offcpu_close(b);
  cpd_profile_free(&p);
}
END_TEST

START_TEST(test_bpf_offcpu_only_after_exec)
{
  struct cpd_profile p;
  struct cpd_bpf_offcpu *b;
  uint64_t ns = run(&p, &b, exec_sleep, 1);

  /* sleep 0.2 after the exec; the 30 ms nap before it is left out. */
  ck_assert_msg(ns >= 190000000u && ns <= 240000000u, "%.1f ms off the CPU", ns / 1e6);
  ck_assert_uint_ge(cpd_bpf_offcpu_before_exec(b), 1);
  ck_assert_uint_eq(ns_on(&p, "[before an exec]"), 0);  /* one exec, the awaited one */
  cpd_bpf_offcpu_close(b);
  cpd_profile_free(&p);
}
END_TEST

static Suite *bpf_offcpu_suite(void)
{
  Suite *s = suite_create("bpf_offcpu");
  TCase *tc = tcase_create("children");

  tcase_add_test(tc, test_bpf_offcpu_sums_naps);
  tcase_add_test(tc, test_bpf_offcpu_only_after_exec);
  tcase_set_timeout(tc, 60);
  suite_add_tcase(s, tc);
  return s;
}

int main(void)
{
  SRunner *sr;
  int failed;

  if (geteuid() != 0) {
    printf("SKIP: not root: loading the BPF program needs CAP_BPF and CAP_PERFMON\n");
    return 77;
  }
  sr = srunner_create(bpf_offcpu_suite());
  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
