/* check_unwind.c: unit tests of the DWARF unwinder (daemon/unwind.c): this test's own stack,
 * copied as the kernel copies a sample's, unwound through its CFI (it is built without
 * frame pointers); a copy cut short is marked truncated; the --call-graph parser. */
#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "perf/perf_record.h"
#include "model/profile.h"
#include "symbolize/symbols.h"
#include "symbolize/unwind.h"

/* The registers as perf samples them (CPD_REGS_USER_MASK order) and the stack above SP. */
static uint64_t regs[CPD_REGS_USER_N];
static uint8_t stack[32768];
static uint64_t stack_len;

/* Where the stack region of this thread ends (from /proc/self/maps). */
static uint64_t stack_top(uint64_t sp)
{
  FILE *f = fopen("/proc/self/maps", "r");
  unsigned long lo, hi;
  char line[512];
  uint64_t top = 0;

  while (f && fgets(line, sizeof(line), f))
    if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && sp >= lo && sp < hi)
      top = hi;
  if (f)
    fclose(f);
  return top;
}

/* Copies the stack word by word: other frames' bytes, redzones included, are read as the
 * kernel reads them, which AddressSanitizer would otherwise report. */
__attribute__((no_sanitize_address)) static void copy_stack(uint64_t sp, uint64_t len)
{
  const volatile uint64_t *from = (const volatile uint64_t *)(uintptr_t)sp;

  for (uint64_t i = 0; i < len / 8; i++) {
    uint64_t v = from[i];

    memcpy(stack + 8 * i, &v, 8);
  }
}

/* Captures every register at one instruction (its address is RIP), then the stack. */
__attribute__((noinline)) static void capture(void)
{
  uint64_t r[24] = { 0 };  /* perf_event_x86_regs order */

  __asm__ volatile(
      "movq %%rax, 0(%0)\n\t"
      "movq %%rbx, 8(%0)\n\t"
      "movq %%rcx, 16(%0)\n\t"
      "movq %%rdx, 24(%0)\n\t"
      "movq %%rsi, 32(%0)\n\t"
      "movq %%rdi, 40(%0)\n\t"
      "movq %%rbp, 48(%0)\n\t"
      "movq %%rsp, 56(%0)\n\t"
      "movq %%r8, 128(%0)\n\t"
      "movq %%r9, 136(%0)\n\t"
      "movq %%r10, 144(%0)\n\t"
      "movq %%r11, 152(%0)\n\t"
      "movq %%r12, 160(%0)\n\t"
      "movq %%r13, 168(%0)\n\t"
      "movq %%r14, 176(%0)\n\t"
      "movq %%r15, 184(%0)\n\t"
      "leaq 0(%%rip), %%rax\n\t"
      "movq %%rax, 64(%0)\n\t"
      : : "r"(r) : "rax", "memory");
  for (int i = 0, k = 0; i < 24; i++)
    if (CPD_REGS_USER_MASK & (1ull << i))
      regs[k++] = r[i];
  {
    uint64_t sp = r[7], top = stack_top(sp);

    stack_len = top > sp ? top - sp : 0;
    if (stack_len > sizeof(stack))
      stack_len = sizeof(stack);
    copy_stack(sp, stack_len & ~7ull);
  }
}

__attribute__((noinline)) void unwind_leaf(int depth);
__attribute__((noinline)) void unwind_middle(int depth);
__attribute__((noinline)) void unwind_top(int depth);

void unwind_leaf(int depth)
{
  capture();
  __asm__ volatile("" ::: "memory");  /* no tail call */
}

void unwind_middle(int depth)
{
  volatile char pad[512];

  pad[0] = (char)depth;
  unwind_leaf(depth + pad[0]);
  __asm__ volatile("" ::: "memory");
}

void unwind_top(int depth)
{
  unwind_middle(depth + 1);
  __asm__ volatile("" ::: "memory");
}

/* The ELF symbol name of a frame's address in P, or "?". */
static const char *name_of(const struct cpd_profile *p, uint64_t addr)
{
  const struct cpd_mapping *m = cpd_profile_mapping(p, addr);
  const struct cpd_sym *s;
  uint64_t vaddr;

  if (!m || !m->dso)
    return "?";
  vaddr = cpd_dso_offset_to_vaddr(m->dso, m->pgoff + (addr - m->start));
  s = vaddr == UINT64_MAX ? NULL : cpd_dso_lookup(m->dso, vaddr);
  return s ? s->name : "?";
}

#define ck_assert_pstr_prefix(s, prefix) \
  ck_assert_msg(strncmp((s), (prefix), strlen(prefix)) == 0, "'%s' is not %s", (s), (prefix))

static const struct cpd_unwind_space *space_of(struct cpd_profile *p, struct cpd_unwind_space *sp)
{
  cpd_profile_unwind_space(p, sp);
  return sp;
}

START_TEST(test_unwind_own_stack)
{
  struct cpd_profile p;
  struct cpd_unwind_space sp;
  struct cpd_unwind u;
  uint64_t frames[64];
  uint32_t n, full;
  int truncated = -1;

  unwind_top(1);
  ck_assert_uint_gt(stack_len, 1024);
  ck_assert_int_eq(cpd_profile_init(&p, (uint32_t)getpid()), 0);
  ck_assert_int_eq(cpd_profile_load_proc(&p), 0);
  ck_assert_int_eq(cpd_unwind_init(&u), 0);
  n = cpd_unwind_sample(&u, space_of(&p, &sp), regs, stack, stack_len, frames, 64, &truncated);
  for (uint32_t i = 0; i < n; i++)
    printf("  #%u %#" PRIx64 " %s\n", i, frames[i], name_of(&p, i ? frames[i] - 1 : frames[i]));
  ck_assert_uint_ge(n, 5);
  ck_assert_int_eq(truncated, 0);  /* to _start, where the CFI ends the chain */
  /* Prefixes: the compiler may name a clone "capture.constprop.0", Check a test "..._fn". */
  ck_assert_pstr_prefix(name_of(&p, frames[0]), "capture");
  ck_assert_pstr_prefix(name_of(&p, frames[1] - 1), "unwind_leaf");
  ck_assert_pstr_prefix(name_of(&p, frames[2] - 1), "unwind_middle");
  ck_assert_pstr_prefix(name_of(&p, frames[3] - 1), "unwind_top");
  ck_assert_pstr_prefix(name_of(&p, frames[4] - 1), "test_unwind_own_stack");
  ck_assert_uint_eq(u.samples, 1);

  /* The same stack copied only 600 bytes deep (as a small dump size would): the walk stops
   * early (capture's and unwind_middle's frames are larger) and says it was cut short. */
  full = n;
  n = cpd_unwind_sample(&u, space_of(&p, &sp), regs, stack, 600, frames, 64, &truncated);
  ck_assert_uint_ge(n, 1);
  ck_assert_uint_lt(n, 4);
  ck_assert_uint_lt(n, full);
  ck_assert_int_eq(truncated, 1);
  ck_assert_uint_eq(u.truncated, 1);
  /* Room for two frames: two, and cut short. */
  n = cpd_unwind_sample(&u, space_of(&p, &sp), regs, stack, stack_len, frames, 2, &truncated);
  ck_assert_uint_eq(n, 2);
  ck_assert_int_eq(truncated, 1);
  cpd_unwind_free(&u);
  cpd_profile_free(&p);
}
END_TEST

START_TEST(test_unwind_no_unwind_info)
{
  struct cpd_profile p;
  struct cpd_unwind_space sp;
  struct cpd_unwind u;
  uint64_t frames[8], r[CPD_REGS_USER_N] = { 0 };
  uint32_t n;
  int truncated;

  /* An IP no mapping holds (a JIT's, say): the leaf alone, marked cut short. */
  ck_assert_int_eq(cpd_profile_init(&p, (uint32_t)getpid()), 0);
  ck_assert_int_eq(cpd_profile_load_proc(&p), 0);
  ck_assert_int_eq(cpd_unwind_init(&u), 0);
  r[8] = 0x10;                    /* IP */
  r[7] = (uint64_t)(uintptr_t)stack;  /* SP */
  n = cpd_unwind_sample(&u, space_of(&p, &sp), r, stack, 64, frames, 8, &truncated);
  ck_assert_uint_ge(n, 1);
  ck_assert_uint_eq(frames[0], 0x10);
  ck_assert_uint_ge(u.no_info, 1);
  cpd_unwind_free(&u);
  cpd_profile_free(&p);
}
END_TEST

static Suite *unwind_suite(void)
{
  Suite *su = suite_create("unwind");
  TCase *c = tcase_create("dwarf");

  tcase_add_test(c, test_unwind_own_stack);
  tcase_add_test(c, test_unwind_no_unwind_info);
  suite_add_tcase(su, c);
  return su;
}

int main(void)
{
  SRunner *sr = srunner_create(unwind_suite());
  int failed;

  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
