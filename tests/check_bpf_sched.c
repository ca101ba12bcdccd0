/* check_bpf_sched.c: unit tests of the per-CPU profiling BPF programs (daemon/perf/bpf_sched.c)
 * on real children: every switch of the profiled process comes back as one record with its
 * state; off-CPU stacks sampled by time add up to the blocked time, long blocks and short
 * ones (the weighted estimator); a process awaited at its exec is counted from the exec on;
 * followed children are reported. Needs root (exit 77). */
#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <linux/types.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "perf/bpf/sched_bpf.h"
#include "perf/bpf_sched.h"

struct seen {
  uint32_t pid;
  uint64_t blocked_ns, runnable_ns, switches;   /* from the switch records */
  uint64_t offcpu_ns, stacks, empty_stacks;     /* from the sampled stacks */
  uint64_t first_out;                           /* the earliest switch-out seen */
  uint32_t forked;                              /* a child reported */
  int exited;
};

static void on_rec(void *arg, const void *rec, size_t len)
{
  struct seen *s = arg;
  uint32_t kind;

  ck_assert_uint_ge(len, sizeof(kind));
  memcpy(&kind, rec, sizeof(kind));
  if (kind == CPD_BPF_SWITCH) {
    const struct cpd_bpf_switch *w = rec;

    ck_assert_uint_ge(w->in, w->out);
    if (w->pid != s->pid)
      return;
    if (w->state == CPD_BPF_BLOCKED)
      s->blocked_ns += w->in - w->out;
    else
      s->runnable_ns += w->in - w->out;
    if (!s->first_out || w->out < s->first_out)
      s->first_out = w->out;
    s->switches++;
  } else if (kind == CPD_BPF_OFFCPU) {
    const struct cpd_bpf_offcpu *o = rec;

    if (o->pid != s->pid)
      return;
    s->offcpu_ns += o->weight;
    s->stacks++;
    s->empty_stacks += o->nuser == 0;
  } else if (kind == CPD_BPF_FORK) {
    const struct cpd_bpf_task *t = rec;

    if (t->ppid == s->pid)
      s->forked = t->pid;
  } else if (kind == CPD_BPF_EXIT) {
    s->exited |= ((const struct cpd_bpf_task *)rec)->pid == s->pid;
  }
}

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

static void short_naps(void)
{
  for (int i = 0; i < 2000; i++)
    usleep(200);
}

static void exec_sleep(void)
{
  usleep(30000);  /* off the CPU before the exec */
  execl("/bin/sleep", "sleep", "0.2", (char *)NULL);
  _exit(3);
}

static void fork_child(void)
{
  pid_t p = fork();

  if (p == 0) {
    usleep(50000);
    _exit(0);
  }
  waitpid(p, NULL, 0);
}

/* Runs WHAT in a child profiled with O (pid filled in), hands every record to *S. */
static void run(struct cpd_bpf_sched_opts *o, struct seen *s, void (*what)(void))
{
  struct cpd_bpf_sched *b;
  char err[256] = "";
  int go, status, rc;
  pid_t pid = child(&go, what);

  memset(s, 0, sizeof(*s));
  s->pid = o->pid = (uint32_t)pid;
  rc = cpd_bpf_sched_open(&b, o, on_rec, s, err, sizeof(err));
  ck_assert_msg(rc == 0, "open: %s (%d)", err, rc);
  ck_assert_int_ge(cpd_bpf_sched_filter_fd(b), 0);
  usleep(50000);  /* the child waits for the byte: blocked since before the open */
  ck_assert_int_eq(write(go, "g", 1), 1);
  close(go);
  while (waitpid(pid, &status, WNOHANG) == 0) {
    cpd_bpf_sched_poll(b);  /* the ring buffer is read while it fills, as the daemon does */
    usleep(10000);
  }
  ck_assert_int_eq(WEXITSTATUS(status), 0);
  ck_assert_int_ge(cpd_bpf_sched_poll(b), 0);
  ck_assert_uint_eq(cpd_bpf_sched_lost(b), 0);
  cpd_bpf_sched_close(b);
}

START_TEST(test_bpf_sched_long_blocks)
{
  struct cpd_bpf_sched_opts o = { .offcpu = 1, .kernel = 1, .period_ns = 10000000 };
  struct seen s;

  run(&o, &s, ten_naps);
  /* 200 ms of naps, each longer than P: every one is sampled, weighted by its length. The
   * wait for the byte began before the open and is not seen. */
  ck_assert_msg(s.blocked_ns >= 195000000u && s.blocked_ns <= 300000000u, "%.1f ms blocked",
                s.blocked_ns / 1e6);
  ck_assert_uint_ge(s.switches, 10);
  ck_assert_msg(s.stacks >= 10, "%" PRIu64 " stacks", s.stacks);
  ck_assert_msg(s.offcpu_ns >= s.blocked_ns * 95 / 100 && s.offcpu_ns <= s.blocked_ns * 105 / 100,
                "off-CPU %.1f ms, blocked %.1f ms", s.offcpu_ns / 1e6, s.blocked_ns / 1e6);
  ck_assert_uint_lt(s.empty_stacks, s.stacks);
  ck_assert(s.exited);
}
END_TEST

START_TEST(test_bpf_sched_short_blocks_estimated)
{
  /* Blocks of about 250 us against P = 1 ms: each sampled with probability ~1/4 and weighted
   * 1 ms. About 500 stacks: the estimate's standard deviation is ~4%. */
  struct cpd_bpf_sched_opts o = { .offcpu = 1, .period_ns = 1000000 };
  struct seen s;

  run(&o, &s, short_naps);
  ck_assert_uint_ge(s.switches, 1900);  /* a nap whose timer fired before it slept needs no switch */
  ck_assert_msg(s.stacks > 100 && s.stacks < s.switches / 2, "%" PRIu64 " stacks of %" PRIu64
                " switches", s.stacks, s.switches);
  ck_assert_msg(s.offcpu_ns >= s.blocked_ns * 85 / 100 && s.offcpu_ns <= s.blocked_ns * 115 / 100,
                "estimated %.1f ms off the CPU, blocked %.1f ms", s.offcpu_ns / 1e6,
                s.blocked_ns / 1e6);
}
END_TEST

START_TEST(test_bpf_sched_await_exec)
{
  struct cpd_bpf_sched_opts o = { .offcpu = 1, .await_exec = 1, .period_ns = 10000000 };
  struct seen s;

  run(&o, &s, exec_sleep);
  /* sleep 0.2 after the exec; the 30 ms nap before it is left out. */
  ck_assert_msg(s.blocked_ns >= 190000000u && s.blocked_ns <= 240000000u, "%.1f ms blocked",
                s.blocked_ns / 1e6);
}
END_TEST

START_TEST(test_bpf_sched_children)
{
  struct cpd_bpf_sched_opts o = { .follow_children = 1, .period_ns = 10000000 };
  struct seen s;

  run(&o, &s, fork_child);
  ck_assert_msg(s.forked != 0, "no fork reported");
  o.follow_children = 0;
  run(&o, &s, fork_child);
  ck_assert_uint_eq(s.forked, 0);
}
END_TEST

static Suite *bpf_sched_suite(void)
{
  Suite *s = suite_create("bpf_sched");
  TCase *tc = tcase_create("children");

  tcase_add_test(tc, test_bpf_sched_long_blocks);
  tcase_add_test(tc, test_bpf_sched_short_blocks_estimated);
  tcase_add_test(tc, test_bpf_sched_await_exec);
  tcase_add_test(tc, test_bpf_sched_children);
  tcase_set_timeout(tc, 60);
  suite_add_tcase(s, tc);
  return s;
}

int main(void)
{
  SRunner *sr;
  int failed;

  if (geteuid() != 0) {
    printf("SKIP: not root: loading the BPF programs needs CAP_BPF and CAP_PERFMON\n");
    return 77;
  }
  sr = srunner_create(bpf_sched_suite());
  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
