/* perfmap.c: JIT symbols from /tmp/perf-PID.map, read through /proc/PID/root (see perfmap.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "symbolize/perfmap.h"
#include "util.h"

#define RECHECK_MS 100
#define MAX_FILE (64u << 20)   /* a larger map is read up to this much */

static uint64_t now_ms(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int cmp_addr_line(const void *a, const void *b)
{
  const struct cpd_sym *x = a, *y = b;

  if (x->addr != y->addr)
    return x->addr < y->addr ? -1 : 1;
  return x->name < y->name ? -1 : x->name > y->name;  /* names are in file order */
}

int cpd_perfmap_parse(struct cpd_perfmap *m, const char *text, size_t len)
{
  char *buf = malloc(len + 1);
  struct cpd_sym *syms = NULL;
  size_t n = 0, cap = 0, out = 0;

  if (!buf)
    return -ENOMEM;
  memcpy(buf, text, len);
  buf[len] = '\0';
  for (char *line = buf, *next; line < buf + len; line = next) {
    char *end, *name;
    uint64_t start, size;

    next = memchr(line, '\n', (size_t)(buf + len - line));
    next = next ? next + 1 : buf + len;
    if (next > line && next[-1] == '\n')
      next[-1] = '\0';
    errno = 0;
    start = strtoull(line, &end, 16);
    if (errno || end == line || *end != ' ')
      goto bad;
    size = strtoull(end + 1, &name, 16);
    if (errno || name == end + 1 || *name != ' ' || !name[1] || size == 0 || start + size < start)
      goto bad;
    if (cpd_grow(&syms, &cap, n, sizeof(*syms)) < 0)
      goto nomem;
    syms[n].addr = start;
    syms[n].size = size;
    syms[n].name = name + 1;
    n++;
    continue;
bad:
    if (*line)
      m->lines_bad++;
  }
  cpd_qsort(syms, n, sizeof(*syms), cmp_addr_line);
  for (size_t i = 0; i < n; i++) {   /* the last line for a start address wins */
    if (out && syms[out - 1].addr == syms[i].addr)
      out--;
    syms[out++] = syms[i];
  }
  if (cpd_grow(&m->blocks, &m->blocks_cap, m->nblocks, sizeof(*m->blocks)) < 0)
    goto nomem;
  m->blocks[m->nblocks++] = buf;
  free(m->syms);
  m->syms = syms;
  m->nsyms = out;
  return 0;
nomem:
  free(syms);
  free(buf);
  return -ENOMEM;
}

/* The pid the process knows itself by: the last NSpid field of its status (its own namespace). */
static uint32_t own_pid(uint32_t pid)
{
  char path[64], line[256];
  uint32_t ns = pid;
  FILE *f;

  snprintf(path, sizeof(path), "/proc/%" PRIu32 "/status", pid);
  f = fopen(path, "re");
  if (!f)
    return pid;
  while (fgets(line, sizeof(line), f)) {
    if (strncmp(line, "NSpid:", 6) == 0) {
      for (char *p = line + 6, *e; ; p = e) {
        unsigned long v = strtoul(p, &e, 10);

        if (e == p)
          break;
        ns = (uint32_t)v;
      }
      break;
    }
  }
  fclose(f);
  return ns;
}

/* Reads the file again if it changed since the last read. */
static void reload(struct cpd_perfmap *m)
{
  char path[128];
  struct stat st;
  char *text;
  ssize_t got;
  size_t len = 0;
  int fd;

  snprintf(path, sizeof(path), "/proc/%" PRIu32 "/root/tmp/perf-%" PRIu32 ".map", m->pid,
           m->nspid);
  fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) {
    m->size = -1;
    return;
  }
  /* Only a regular file of the process's own user (or root) is read, as perf does. */
  if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size == m->size ||
      (st.st_uid != 0 && st.st_uid != m->uid)) {
    close(fd);
    return;
  }
  len = st.st_size > (off_t)MAX_FILE ? MAX_FILE : (size_t)st.st_size;
  text = malloc(len + 1);
  if (!text) {
    close(fd);
    return;
  }
  for (size_t off = 0; off < len; off += (size_t)got) {
    got = read(fd, text + off, len - off);
    if (got <= 0) {
      len = off;
      break;
    }
  }
  close(fd);
  while (len && text[len - 1] != '\n')  /* a line being written is read next time */
    len--;
  if (cpd_perfmap_parse(m, text, len) == 0)
    m->size = (off_t)len;  /* less than st_size when a line was cut: read again later */
  free(text);
}

static const struct cpd_sym *find(const struct cpd_perfmap *m, uint64_t addr)
{
  size_t lo = cpd_syms_after(m->syms, m->nsyms, addr);

  if (lo == 0)
    return NULL;
  return addr - m->syms[lo - 1].addr < m->syms[lo - 1].size ? &m->syms[lo - 1] : NULL;
}

const struct cpd_sym *cpd_perfmap_lookup(struct cpd_perfmap *m, uint32_t pid, uint64_t addr)
{
  const struct cpd_sym *sym;
  struct stat st;
  char proc[32];
  uint64_t now;

  if (m->pid != pid) {
    m->pid = pid;
    m->nspid = own_pid(pid);
    snprintf(proc, sizeof(proc), "/proc/%" PRIu32, pid);
    m->uid = stat(proc, &st) == 0 ? st.st_uid : 0;
    m->size = -1;
    m->checked_ms = 0;
  }
  sym = find(m, addr);
  if (sym)
    return sym;
  now = now_ms();
  if (m->checked_ms && now - m->checked_ms < RECHECK_MS)
    return NULL;
  m->checked_ms = now;
  reload(m);
  return find(m, addr);
}

void cpd_perfmap_free(struct cpd_perfmap *m)
{
  for (size_t i = 0; i < m->nblocks; i++)
    free(m->blocks[i]);
  free(m->blocks);
  free(m->syms);
  memset(m, 0, sizeof(*m));
}
