/* check_sampler.c: unit tests of how the sampler counts records (daemon/sampler.c): one
 * event family per thread, a thread's name taken from its creator; and, with real perf
 * events (root), that its rings lose nothing while the reader is held up. */
#include <check.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "model/profile.h"
#include "perf/sampler.h"

#define ST (PERF_SAMPLE_IP | PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_ID | \
            PERF_SAMPLE_CPU | PERF_SAMPLE_PERIOD | PERF_SAMPLE_CALLCHAIN)
#define PID 4000u

struct rb {
  uint8_t b[512];
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

static void header(struct rb *r, uint32_t type)
{
  struct perf_event_header h = { .type = type, .misc = PERF_RECORD_MISC_USER, .size = 0 };

  memcpy(r->b, &h, sizeof(h));
  r->n = sizeof(h);
}

static const struct perf_event_header *finish(struct rb *r)
{
  uint16_t size = (uint16_t)r->n;

  memcpy(r->b + 6, &size, 2);
  return (const struct perf_event_header *)r->b;
}

/* The trailer of non-sample records for ST: pid, tid, time, id, cpu. */
static uint32_t rec_pid = PID;  /* the process the records built are of */

static void trailer(struct rb *r, uint32_t tid, uint64_t time, uint64_t id)
{
  put32(r, rec_pid);
  put32(r, tid);
  put64(r, time);
  put64(r, id);
  put32(r, 0);
  put32(r, 0);
}

/* A sample record of the sampler's sample_type: MISC (user or kernel mode), the sampled IP,
 * and the N entries of its callchain. */
static void put_sample(struct cpd_sampler *s, uint32_t tid, uint64_t time, uint64_t id,
                       uint16_t misc, uint64_t ip, const uint64_t *chain, uint64_t n)
{
  struct rb r;

  header(&r, PERF_RECORD_SAMPLE);
  memcpy(r.b + 4, &misc, 2);
  put64(&r, ip);
  put32(&r, rec_pid);
  put32(&r, tid);
  put64(&r, time);
  put64(&r, id);
  put32(&r, 0);
  put32(&r, 0);
  put64(&r, 1000000);
  put64(&r, n);
  for (uint64_t i = 0; i < n; i++)
    put64(&r, chain[i]);
  cpd_sampler_record(s, finish(&r), r.n);
}

static void sample(struct cpd_sampler *s, uint32_t tid, uint64_t time, uint64_t id)
{
  static const uint64_t chain[] = { 0x401000 };

  put_sample(s, tid, time, id, PERF_RECORD_MISC_USER, 0x401000, chain, 1);
}

/* A sample taken in kernel mode whose callchain holds only user frames (the kernel's were
 * excluded): PERF_CONTEXT_USER, then the system call's user address and its caller. */
static void kernel_mode_sample(struct cpd_sampler *s, uint32_t tid, uint64_t time, uint64_t id)
{
  static const uint64_t chain[] = { (uint64_t)PERF_CONTEXT_USER, 0x401000, 0x402000 };

  put_sample(s, tid, time, id, PERF_RECORD_MISC_KERNEL, 0xffffffff81000000ull, chain, 3);
}

static void task(struct cpd_sampler *s, uint32_t type, uint32_t tid, uint32_t ptid, uint64_t time,
                 uint64_t id)
{
  struct rb r;

  header(&r, type);
  put32(&r, PID);
  put32(&r, PID);
  put32(&r, tid);
  put32(&r, ptid);
  put64(&r, time);
  trailer(&r, tid, time, id);
  cpd_sampler_record(s, finish(&r), r.n);
}

/* A FORK or EXIT record of a process: PID's main thread, created by PPID's thread PPID. */
static void process_task(struct cpd_sampler *s, uint32_t type, uint32_t pid, uint32_t ppid,
                         uint64_t time)
{
  struct rb r;

  header(&r, type);
  put32(&r, pid);
  put32(&r, ppid);
  put32(&r, pid);
  put32(&r, ppid);
  put64(&r, time);
  rec_pid = pid;
  trailer(&r, pid, time, 0);
  rec_pid = PID;
  cpd_sampler_record(s, finish(&r), r.n);
}

static struct cpd_profile prof;
static struct cpd_sampler smp;

/* Events 11 and 12 were opened for thread 101 (one per CPU), then 21 and 22 for thread 102. */
static void setup(void)
{
  static const struct cpd_event_owner owners[] = { { 11, 101, 0, 1 }, { 12, 101, 0, 1 },
                                                   { 21, 102, 0, 2 }, { 22, 102, 0, 2 } };

  ck_assert_int_eq(cpd_profile_init(&prof, (uint32_t)getpid()), 0);
  memset(&smp, 0, sizeof(smp));
  smp.pid = PID;
  smp.hz = 1000;
  smp.period_is_ns = 1;
  smp.sample_type = ST;
  smp.prof = &prof;
  smp.rec = malloc(sizeof(*smp.rec));
  ck_assert_ptr_nonnull(smp.rec);
  smp.owners = malloc(sizeof(owners));
  ck_assert_ptr_nonnull(smp.owners);
  memcpy(smp.owners, owners, sizeof(owners));
  smp.nowners = smp.owners_cap = 4;
}

static void teardown(void)
{
  cpd_sampler_close(&smp);
  cpd_profile_free(&prof);
}

START_TEST(test_sampler_kernel_time_gets_a_kernel_leaf)
{
  const struct cpd_stack *stk;
  const struct cpd_location *leaf;

  /* Without --kernel: the time is kept, under a [kernel] leaf above the user frames. */
  kernel_mode_sample(&smp, 101, 1000, 11);
  ck_assert_uint_eq(prof.nsamples, 1);
  stk = &prof.stacks[prof.samples[0].stack];
  ck_assert_uint_eq(stk->len, 3);
  leaf = &prof.locs[prof.frames[stk->off] - 1];
  ck_assert_uint_ne(leaf->function, 0);
  ck_assert_str_eq(prof.funcs[leaf->function - 1].name, "[kernel]");
  /* The user frame under it is a return address: looked up one byte before. */
  ck_assert_uint_eq(prof.locs[prof.frames[stk->off + 1] - 1].address, 0x401000 - 1);
  /* One location stands for every such leaf. */
  kernel_mode_sample(&smp, 101, 2000, 11);
  ck_assert_uint_eq(prof.frames[prof.stacks[prof.samples[1].stack].off], prof.frames[stk->off]);
  /* A user-mode sample gets none. */
  sample(&smp, 101, 3000, 11);
  stk = &prof.stacks[prof.samples[2].stack];
  ck_assert_uint_eq(stk->len, 1);
  /* With --kernel the real kernel frames are taken instead: no leaf is made up. */
  smp.opts.kernel = 1;
  kernel_mode_sample(&smp, 101, 4000, 11);
  stk = &prof.stacks[prof.samples[3].stack];
  ck_assert_uint_eq(stk->len, 2);
}
END_TEST

START_TEST(test_sampler_one_family_per_thread)
{
  /* Thread 102 was created by 101 while the events were opened: it inherited 101's (ids 11
   * and 12) and got its own (21, 22). Both sample it; its own family, opened later, counts
   * from its first record on, on every CPU. */
  sample(&smp, 102, 1000, 11);
  sample(&smp, 102, 1001, 21);
  sample(&smp, 102, 2000, 12);
  sample(&smp, 102, 2001, 22);
  sample(&smp, 101, 2500, 11);
  ck_assert_uint_eq(smp.samples, 4);
  ck_assert_uint_eq(smp.duplicates, 1);
  ck_assert_uint_eq(prof.nsamples, 4);
  /* Samples of events the sampler did not open (none should come) are not judged. */
  sample(&smp, 102, 3000, 99);
  ck_assert_uint_eq(smp.samples, 5);
}
END_TEST

START_TEST(test_sampler_partial_inheritance)
{
  /* 102 was cloned between the opens of 101's two CPUs' events: it inherited only event 11
   * (CPU 0). Its own events cover both CPUs. Counting the inherited family because it was
   * seen first would lose every sample of 102 on CPU 1. */
  sample(&smp, 102, 1000, 11);  /* CPU 0, inherited: the only family seen yet */
  sample(&smp, 102, 1500, 22);  /* CPU 1, its own */
  sample(&smp, 102, 2000, 11);  /* CPU 0, inherited again: a duplicate of... */
  sample(&smp, 102, 2001, 21);  /* ...its own sample there */
  sample(&smp, 102, 2500, 22);
  ck_assert_uint_eq(smp.samples, 4);
  ck_assert_uint_eq(smp.duplicates, 1);
}
END_TEST

START_TEST(test_sampler_exit_forgets_the_family)
{
  sample(&smp, 102, 1000, 21);
  sample(&smp, 102, 1001, 11);
  ck_assert_uint_eq(smp.samples, 1);
  /* 102 exits; its tid comes back as a thread that only 101's events cover. */
  task(&smp, PERF_RECORD_EXIT, 102, 101, 1500, 21);
  task(&smp, PERF_RECORD_EXIT, 102, 101, 1500, 11);
  sample(&smp, 102, 2000, 12);
  sample(&smp, 102, 2001, 11);
  ck_assert_uint_eq(smp.samples, 3);
  ck_assert_uint_eq(smp.duplicates, 1);
}
END_TEST

START_TEST(test_sampler_many_families)
{
  /* Thousands of threads, each of one family: the table grows and loses none. */
  for (uint32_t t = 1000; t < 5000; t++)
    sample(&smp, t, t, t % 2 ? 11 : 21);
  for (uint32_t t = 1000; t < 5000; t++)
    sample(&smp, t, 10000 + t, t % 2 ? 21 : 11);
  /* Odd tids move to the later family (21), even ones keep theirs (21) over 11. */
  ck_assert_uint_eq(smp.samples, 4000 + 2000);
  ck_assert_uint_eq(smp.duplicates, 2000);
  for (uint32_t t = 1000; t < 5000; t += 2)
    task(&smp, PERF_RECORD_EXIT, t, 101, 20000, 11);
  for (uint32_t t = 1000; t < 5000; t++)
    sample(&smp, t, 30000 + t, 12);
  /* Even tids exited: new threads of family 11/12. Odd ones are 21's: 12 is older. */
  ck_assert_uint_eq(smp.samples, 6000 + 2000);
  ck_assert_uint_eq(smp.duplicates, 2000 + 2000);
}
END_TEST

START_TEST(test_sampler_new_thread_takes_its_creators_name)
{
  /* The name is copied from the thread table, which grows as threads are added. */
  cpd_profile_set_comm(&prof, prof.pid, 101, "creator-thread");
  for (uint32_t t = 200; t < 1200; t++) {
    task(&smp, PERF_RECORD_FORK, t, 101, t, 11);
    ck_assert_ptr_nonnull(cpd_profile_comm(&prof, t));
    ck_assert_str_eq(cpd_profile_comm(&prof, t), "creator-thread");
  }
}
END_TEST

/* The child: two threads passing a byte back and forth, blocking at every pass. */
static int ab[2], ba[2];

static void *pong(void *arg)
{
  char c;

  (void)arg;
  while (read(ab[0], &c, 1) == 1 && write(ba[1], &c, 1) == 1)
    ;
  return NULL;
}

static void ping_pong(void)
{
  pthread_t t;
  char c = 'x';

  if (pipe(ab) < 0 || pipe(ba) < 0 || pthread_create(&t, NULL, pong, NULL) != 0)
    _exit(1);
  while (write(ab[1], &c, 1) == 1 && read(ba[0], &c, 1) == 1)
    ;
  _exit(0);
}

START_TEST(test_sampler_rings_survive_a_stalled_reader)
{
  struct cpd_sampler_opts o = { .hz = 99, .ring_pages = 128, .offcpu = 1, .no_bpf = 1 };
  struct cpd_sampler s;
  struct cpd_profile p;
  char err[512];
  uint64_t read_n = 0;
  int n, status;
  pid_t child = fork();

  ck_assert_int_ge(child, 0);
  if (child == 0)
    ping_pong();
  usleep(100000);  /* its second thread is running */
  ck_assert_int_eq(cpd_profile_init(&p, (uint32_t)child), 0);
  ck_assert_msg(cpd_sampler_open(&s, (uint32_t)child, &o, &p, err, sizeof(err)) == 0, "%s", err);
  ck_assert_msg(s.offcpu_tp >= 0, "%s", s.offcpu_warning);
  ck_assert_int_eq(s.reader.running, 1);
  /* A reader held up for 1.5 s (as by a slow symbol load): the switching child writes
   * about 5 MB a second, and a 512 KiB ring (the daemon's size) holds 0.1-0.2 s of it. */
  usleep(1500000);
  cpd_sampler_disable(&s);
  while ((n = cpd_sampler_read(&s)) > 0)
    read_n += (uint64_t)n;
  kill(child, SIGKILL);
  waitpid(child, &status, 0);
  printf("stalled loop: %" PRIu64 " records copied by the reader in %" PRIu64 " rounds, %"
         PRIu64 " handled, %" PRIu64 " lost; %" PRIu64 " context switches\n", s.reader.records,
         s.reader.rounds, read_n, p.lost_records, p.switches);
  ck_assert_uint_gt(s.reader.records, 0);
  ck_assert_uint_gt(p.switches, 0);
  /* If the rings were read only by the stalled loop, most would be lost (they hold a
   * fraction of 1.5 s of records); the reader thread loses none here, but a loaded machine
   * may keep it from running now and then. */
  ck_assert_msg(p.lost_records * 3 < read_n, "%" PRIu64 " of %" PRIu64 " records lost",
                p.lost_records, p.lost_records + read_n);
  cpd_sampler_close(&s);
  cpd_profile_free(&p);
}
END_TEST

/* A process the target forks is followed from its FORK record to its EXIT, when asked. */
START_TEST(test_sampler_follows_children)
{
  const uint32_t child = 4100, other = 4200;

  smp.opts.follow_children = 1;
  process_task(&smp, PERF_RECORD_FORK, child, PID, 100);
  process_task(&smp, PERF_RECORD_FORK, other, 1, 110);  /* not of the target's tree */
  ck_assert(cpd_sampler_follows(&smp, child));
  ck_assert(!cpd_sampler_follows(&smp, other));
  rec_pid = child;
  sample(&smp, child, 200, 0);
  rec_pid = other;
  sample(&smp, other, 210, 0);
  rec_pid = PID;
  ck_assert_uint_eq(prof.nsamples, 1);
  ck_assert_uint_eq(prof.samples[0].tid, child);
  ck_assert_uint_eq(prof.other_pid, 1);
  ck_assert_uint_eq(prof.nspaces - 1, 1);  /* one process followed */
  /* A grandchild is followed too; the child's exit ends following it. */
  process_task(&smp, PERF_RECORD_FORK, child + 1, child, 250);
  ck_assert(cpd_sampler_follows(&smp, child + 1));
  process_task(&smp, PERF_RECORD_EXIT, child, PID, 300);
  ck_assert(!cpd_sampler_follows(&smp, child));
  rec_pid = child;
  sample(&smp, child, 400, 0);
  rec_pid = PID;
  ck_assert_uint_eq(prof.nsamples, 1);
}
END_TEST

/* A per-CPU event samples a thread on its way out after its tid is gone (-1): counted, not
 * put on a thread that does not exist. */
START_TEST(test_sampler_exiting_thread_is_counted)
{
  sample(&smp, UINT32_MAX, 100, 0);
  ck_assert_uint_eq(prof.nsamples, 0);
  ck_assert_uint_eq(prof.exiting_samples, 1);
}
END_TEST

START_TEST(test_sampler_children_not_followed_unless_asked)
{
  process_task(&smp, PERF_RECORD_FORK, 4100, PID, 100);
  ck_assert(!cpd_sampler_follows(&smp, 4100));
  rec_pid = 4100;
  sample(&smp, 4100, 200, 0);
  rec_pid = PID;
  ck_assert_uint_eq(prof.nsamples, 0);
}
END_TEST

static Suite *sampler_suite(void)
{
  Suite *s = suite_create("sampler");
  TCase *c = tcase_create("records");

  tcase_add_checked_fixture(c, setup, teardown);
  tcase_add_test(c, test_sampler_kernel_time_gets_a_kernel_leaf);
  tcase_add_test(c, test_sampler_one_family_per_thread);
  tcase_add_test(c, test_sampler_partial_inheritance);
  tcase_add_test(c, test_sampler_exit_forgets_the_family);
  tcase_add_test(c, test_sampler_many_families);
  tcase_add_test(c, test_sampler_new_thread_takes_its_creators_name);
  tcase_add_test(c, test_sampler_follows_children);
  tcase_add_test(c, test_sampler_children_not_followed_unless_asked);
  tcase_add_test(c, test_sampler_exiting_thread_is_counted);
  suite_add_tcase(s, c);
  if (geteuid() == 0) {
    TCase *real = tcase_create("real rings");

    tcase_set_timeout(real, 60);
    tcase_add_test(real, test_sampler_rings_survive_a_stalled_reader);
    suite_add_tcase(s, real);
  } else {
    printf("check_sampler: the real-rings case needs root (perf events on a child and the "
           "sched_switch tracepoint); skipped\n");
  }
  return s;
}

int main(void)
{
  SRunner *sr = srunner_create(sampler_suite());
  int failed;

  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
