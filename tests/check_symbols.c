/* check_symbols.c: unit tests of the ELF symbol reader (daemon/symbols.c) on ELF files built here. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "symbolize/symbols.h"

static char dir[] = "/tmp/check_symbols.XXXXXX";
static char so[256], stripped[256];  /* paths under dir */

static void build(void)
{
  char src[256], cmd[2048];
  FILE *f;

  snprintf(dir, sizeof(dir), "/tmp/check_symbols.XXXXXX");  /* again for each test (CK_FORK=no) */
  ck_assert_ptr_nonnull(mkdtemp(dir));
  snprintf(src, sizeof(src), "%s/tiny.c", dir);
  snprintf(so, sizeof(so), "%s/libtiny.so", dir);
  snprintf(stripped, sizeof(stripped), "%s/libtiny-stripped.so", dir);
  f = fopen(src, "w");
  fputs("static int hidden_fn(int x) { return x * 7 + 1; }\n"
        "int alpha_fn(int x) { return x * 3 + hidden_fn(x); }\n"
        "int beta_fn(int x) { return alpha_fn(x) + 1; }\n", f);
  fclose(f);
  snprintf(cmd, sizeof(cmd),
           "%s -shared -fPIC -O0 -Wl,--build-id=sha1 -o %s %s && cp %s %s && strip %s",
           CC_FOR_TESTS, so, src, so, stripped, stripped);
  ck_assert_int_eq(system(cmd), 0);
}

static void cleanup(void)
{
  char cmd[300];

  snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
  ck_assert_int_eq(system(cmd), 0);
}

static struct cpd_dso *load(const char *path)
{
  struct cpd_dso *d = calloc(1, sizeof(*d));
  int fd = open(path, O_RDONLY);

  ck_assert_int_ge(fd, 0);
  d->path = strdup(path);
  ck_assert_int_eq(cpd_dso_load_fd(d, fd), 0);
  close(fd);
  return d;
}

static const struct cpd_sym *find(const struct cpd_dso *d, const char *name)
{
  for (size_t i = 0; i < d->nsyms; i++)
    if (strcmp(d->syms[i].name, name) == 0)
      return &d->syms[i];
  return NULL;
}

START_TEST(test_symbols_symtab_lookup_and_build_id)
{
  struct cpd_dso *d;
  const struct cpd_sym *a, *b, *h;

  build();
  d = load(so);
  ck_assert_int_eq(d->readable, 1);
  ck_assert_uint_eq(strlen(d->build_id), 40);
  a = find(d, "alpha_fn");
  b = find(d, "beta_fn");
  h = find(d, "hidden_fn");
  ck_assert_ptr_nonnull(a);
  ck_assert_ptr_nonnull(b);
  ck_assert_ptr_nonnull(h);  /* a static function: only in .symtab */
  ck_assert_uint_gt(a->size, 0);
  /* Any address inside a function names it; just past its end names nothing or the next. */
  ck_assert_str_eq(cpd_dso_lookup(d, a->addr)->name, "alpha_fn");
  ck_assert_str_eq(cpd_dso_lookup(d, a->addr + a->size - 1)->name, "alpha_fn");
  ck_assert_str_eq(cpd_dso_lookup(d, b->addr + 1)->name, "beta_fn");
  ck_assert_ptr_null(cpd_dso_lookup(d, 1));
  /* A shared object's text is mapped at file offset == vaddr for its first segment. */
  ck_assert_uint_ne(cpd_dso_offset_to_vaddr(d, a->addr), UINT64_MAX);
  ck_assert_uint_eq(cpd_dso_offset_to_vaddr(d, 1ull << 40), UINT64_MAX);
  cpd_dso_free(d);
  cleanup();
}
END_TEST

START_TEST(test_symbols_stripped_falls_back_to_dynsym)
{
  struct cpd_dso *d;

  build();
  d = load(stripped);
  ck_assert_int_eq(d->readable, 1);
  ck_assert_ptr_nonnull(find(d, "alpha_fn"));
  ck_assert_ptr_nonnull(find(d, "beta_fn"));
  ck_assert_ptr_null(find(d, "hidden_fn"));
  ck_assert_uint_eq(strlen(d->build_id), 40);  /* strip keeps the note */
  cpd_dso_free(d);
  cleanup();
}
END_TEST

START_TEST(test_symbols_not_elf_and_missing_file)
{
  struct cpd_symbols s;
  struct cpd_dso *d = calloc(1, sizeof(*d));
  int fd = open("/proc/self/status", O_RDONLY);

  ck_assert_int_eq(cpd_dso_load_fd(d, fd), -ENOEXEC);
  close(fd);
  cpd_dso_free(d);
  cpd_symbols_init(&s);
  d = cpd_symbols_dso(&s, "/nonexistent/libnothing.so", 0, 0, 0);
  ck_assert_ptr_nonnull(d);
  ck_assert_int_eq(d->readable, 0);
  ck_assert_ptr_eq(cpd_symbols_dso(&s, "/nonexistent/libnothing.so", 0, 0, 0), d);  /* cached */
  ck_assert_int_eq(cpd_symbols_dso(&s, "[vdso]", 0, 0, 0)->readable, 0);
  cpd_symbols_free(&s);
}
END_TEST

START_TEST(test_symbols_kernel_kallsyms)
{
  struct cpd_symbols s;
  FILE *f = fopen("/proc/kallsyms", "r");
  unsigned long long addr = 0;
  char type, name[256] = "", line[512];

  /* Find one text symbol with a real address; hidden addresses (kptr_restrict) read as 0. */
  while (f && fgets(line, sizeof(line), f))
    if (sscanf(line, "%llx %c %255s", &addr, &type, name) == 3 && addr && (type == 'T' || type == 't'))
      break;
  if (f)
    fclose(f);
  cpd_symbols_init(&s);
  if (addr) {
    const struct cpd_sym *k = cpd_symbols_kernel(&s, addr);

    ck_assert_ptr_nonnull(k);
    ck_assert_uint_eq(k->addr, addr);
  } else {
    ck_assert_ptr_null(cpd_symbols_kernel(&s, 0xffffffff81000000ull));
  }
  cpd_symbols_free(&s);
}
END_TEST

static Suite *symbols_suite(void)
{
  Suite *s = suite_create("symbols");
  TCase *elf = tcase_create("elf");
  TCase *kernel = tcase_create("kernel");

  tcase_add_test(elf, test_symbols_symtab_lookup_and_build_id);
  tcase_add_test(elf, test_symbols_stripped_falls_back_to_dynsym);
  tcase_add_test(elf, test_symbols_not_elf_and_missing_file);
  tcase_set_timeout(elf, 60);
  tcase_add_test(kernel, test_symbols_kernel_kallsyms);
  tcase_set_timeout(kernel, 60);  /* 120k lines: 0.26 s under the sanitizers here, over 4 s once in CI */
  suite_add_tcase(s, elf);
  suite_add_tcase(s, kernel);
  return s;
}

int main(void)
{
  SRunner *sr = srunner_create(symbols_suite());
  int failed;

  srunner_run_all(sr, CK_NORMAL);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
