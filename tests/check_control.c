/* check_control.c: unit tests of daemon/ingest/control.c's pinning: an attach is pinned to the
 * process checked, so a pid that names another process by the time its events are open (the
 * first one ended: its pid reused) is refused, and a process still alive passes. */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ingest/control.h"

static pid_t sleeper(void)
{
  pid_t p = fork();

  ck_assert_int_ge(p, 0);
  if (p == 0) {
    pause();
    _exit(0);
  }
  return p;
}

START_TEST(test_control_pin_holds_while_alive)
{
  pid_t p = sleeper();
  struct cpd_pin pin = { (int)syscall(SYS_pidfd_open, p, 0), (uint32_t)getuid(),
                         (uint32_t)getgid() };
  char err[256] = "";

  ck_assert_int_ge(pin.pidfd, 0);
  ck_assert_msg(cpd_control_pinned(&pin, (uint32_t)p, err, sizeof(err)), "%s", err);
  kill(p, SIGKILL);
  waitpid(p, NULL, 0);
  close(pin.pidfd);
}
END_TEST

/* The pidfd of a process that ended, and a pid that now names another live one (as when the
 * pid was reused between the check and the open): refused. */
START_TEST(test_control_pin_catches_a_reused_pid)
{
  pid_t gone = sleeper(), other = sleeper();
  struct cpd_pin pin = { (int)syscall(SYS_pidfd_open, gone, 0), (uint32_t)getuid(),
                         (uint32_t)getgid() };
  char err[256] = "";

  ck_assert_int_ge(pin.pidfd, 0);
  kill(gone, SIGKILL);
  waitpid(gone, NULL, 0);
  ck_assert(!cpd_control_pinned(&pin, (uint32_t)other, err, sizeof(err)));
  ck_assert_msg(strstr(err, "ended while it was being attached"), "%s", err);
  kill(other, SIGKILL);
  waitpid(other, NULL, 0);
  close(pin.pidfd);
}
END_TEST

int main(void)
{
  Suite *s;
  TCase *tc;
  SRunner *sr;
  int failed;

  if (syscall(SYS_pidfd_open, getpid(), 0) < 0) {
    printf("SKIP: no pidfd_open here (a kernel before 5.3, or valgrind)\n");
    return 77;
  }
  s = suite_create("control");
  tc = tcase_create("pin");
  tcase_add_test(tc, test_control_pin_holds_while_alive);
  tcase_add_test(tc, test_control_pin_catches_a_reused_pid);
  suite_add_tcase(s, tc);
  sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
