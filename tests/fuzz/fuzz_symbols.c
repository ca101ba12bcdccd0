/* fuzz_symbols.c: libFuzzer target for the ELF symbol reader (libelf over arbitrary bytes). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "symbolize/symbols.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct cpd_dso *d = calloc(1, sizeof(*d));
  int fd = memfd_create("fuzz-elf", MFD_CLOEXEC);

  if (fd < 0 || !d) {
    free(d);
    if (fd >= 0)
      close(fd);
    return 0;
  }
  if (write(fd, data, size) == (ssize_t)size) {
    d->path = strdup("fuzz.so");
    if (d->path && cpd_dso_load_fd(d, fd) == 0) {
      for (size_t i = 0; i < d->nsyms; i++)
        cpd_dso_lookup(d, d->syms[i].addr + d->syms[i].size / 2);
      cpd_dso_lookup(d, 0x400000);
      cpd_dso_offset_to_vaddr(d, 0x1000);
    }
  }
  cpd_dso_free(d);
  close(fd);
  return 0;
}
