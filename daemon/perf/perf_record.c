/* perf_record.c: perf ring-buffer reading with wrap-around, and bounds-checked record parsing. */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "perf/perf_record.h"

/* A cursor over one record; every read is checked against the end. */
struct cursor {
  const uint8_t *p, *end;
  int bad;
};

static uint64_t u64(struct cursor *c)
{
  uint64_t v = 0;

  if (c->end - c->p < 8) {
    c->bad = 1;
    return 0;
  }
  memcpy(&v, c->p, 8);
  c->p += 8;
  return v;
}

static uint32_t u32(struct cursor *c)
{
  uint32_t v = 0;

  if (c->end - c->p < 4) {
    c->bad = 1;
    return 0;
  }
  memcpy(&v, c->p, 4);
  c->p += 4;
  return v;
}

/* A NUL-terminated string inside the record, or NULL. */
static const char *str(struct cursor *c)
{
  const uint8_t *nul = memchr(c->p, 0, (size_t)(c->end - c->p));
  const char *s = (const char *)c->p;

  if (!nul) {
    c->bad = 1;
    return NULL;
  }
  /* Strings are padded to 8 bytes. */
  c->p += ((size_t)(nul - c->p) + 1 + 7) & ~(size_t)7;
  if (c->p > c->end)
    c->p = c->end;
  return s;
}

/* The sample_id trailer sits at the end of the record; parse it from there. */
static void sample_id(const uint8_t *rec, size_t len, uint64_t st, struct cpd_sample_id *id)
{
  size_t n = 0;
  struct cursor c;

  n += (st & PERF_SAMPLE_TID) ? 8 : 0;
  n += (st & PERF_SAMPLE_TIME) ? 8 : 0;
  n += (st & PERF_SAMPLE_ID) ? 8 : 0;
  n += (st & PERF_SAMPLE_STREAM_ID) ? 8 : 0;
  n += (st & PERF_SAMPLE_CPU) ? 8 : 0;
  n += (st & PERF_SAMPLE_IDENTIFIER) ? 8 : 0;
  if (len < sizeof(struct perf_event_header) + n)
    return;
  c.p = rec + len - n;
  c.end = rec + len;
  c.bad = 0;
  if (st & PERF_SAMPLE_TID) {
    id->pid = u32(&c);
    id->tid = u32(&c);
  }
  if (st & PERF_SAMPLE_TIME)
    id->time = u64(&c);
  if (st & PERF_SAMPLE_ID)
    id->event = u64(&c);
  if (st & PERF_SAMPLE_STREAM_ID)
    u64(&c);
  if (st & PERF_SAMPLE_CPU) {
    id->cpu = u32(&c);
    u32(&c);
  }
}

static int parse_sample(struct cursor *c, uint64_t st, struct cpd_perf_rec *out)
{
  int in_kernel = 0;
  uint64_t nr;

  if (st & PERF_SAMPLE_IDENTIFIER)
    u64(c);
  if (st & PERF_SAMPLE_IP)
    out->u.sample.ip = u64(c);
  if (st & PERF_SAMPLE_TID) {
    out->id.pid = u32(c);
    out->id.tid = u32(c);
  }
  if (st & PERF_SAMPLE_TIME)
    out->id.time = u64(c);
  if (st & PERF_SAMPLE_ADDR)
    u64(c);
  if (st & PERF_SAMPLE_ID)
    out->id.event = u64(c);
  if (st & PERF_SAMPLE_STREAM_ID)
    u64(c);
  if (st & PERF_SAMPLE_CPU) {
    out->id.cpu = u32(c);
    u32(c);
  }
  if (st & PERF_SAMPLE_PERIOD)
    out->u.sample.period = u64(c);
  if (st & PERF_SAMPLE_CALLCHAIN) {
    nr = u64(c);
    if (c->bad || nr > (uint64_t)(c->end - c->p) / 8)
      return -EBADMSG;
    for (uint64_t i = 0; i < nr; i++) {
      uint64_t ip = u64(c);

      if (ip >= (uint64_t)PERF_CONTEXT_MAX) {
        /* A context marker: the frames after it are kernel or user frames. */
        in_kernel = ip == (uint64_t)PERF_CONTEXT_KERNEL;
        continue;
      }
      if (out->u.sample.nframes == CPD_MAX_FRAMES) {
        out->u.sample.truncated = 1;
        continue;
      }
      out->u.sample.frames[out->u.sample.nframes++] = ip;
      if (in_kernel)
        out->u.sample.nkernel = out->u.sample.nframes;
    }
  } else if (st & PERF_SAMPLE_IP) {
    out->u.sample.frames[0] = out->u.sample.ip;
    out->u.sample.nframes = 1;
  }
  if (st & PERF_SAMPLE_REGS_USER) {
    out->u.sample.regs_abi = u64(c);
    if (out->u.sample.regs_abi)
      for (int i = 0; i < CPD_REGS_USER_N; i++)
        out->u.sample.regs[i] = u64(c);
  }
  if (st & PERF_SAMPLE_STACK_USER) {
    uint64_t size = u64(c);

    if (size) {
      if (c->bad || size > (uint64_t)(c->end - c->p))
        return -EBADMSG;
      out->u.sample.stack = c->p;
      c->p += size;
      out->u.sample.stack_len = u64(c);  /* dyn_size: what the kernel could copy */
      if (out->u.sample.stack_len > size)
        return -EBADMSG;
    }
  }
  return c->bad ? -EBADMSG : 0;
}

uint64_t cpd_perf_record_time(const void *rec, size_t len, uint64_t st)
{
  const struct perf_event_header *h = rec;
  size_t off;
  uint64_t t;

  if (!(st & PERF_SAMPLE_TIME) || len < sizeof(*h))
    return 0;
  if (h->type == PERF_RECORD_SAMPLE) {
    off = sizeof(*h) + ((st & PERF_SAMPLE_IDENTIFIER) ? 8 : 0) + ((st & PERF_SAMPLE_IP) ? 8 : 0) +
          ((st & PERF_SAMPLE_TID) ? 8 : 0);
  } else {
    /* In the trailer, time is followed by id, stream_id, cpu and identifier. */
    size_t after = 8 + ((st & PERF_SAMPLE_ID) ? 8 : 0) + ((st & PERF_SAMPLE_STREAM_ID) ? 8 : 0) +
                   ((st & PERF_SAMPLE_CPU) ? 8 : 0) + ((st & PERF_SAMPLE_IDENTIFIER) ? 8 : 0);

    if (len < sizeof(*h) + after)
      return 0;
    off = len - after;
  }
  if (off + 8 > len)
    return 0;
  memcpy(&t, (const uint8_t *)rec + off, 8);
  return t;
}

int cpd_perf_parse(const void *rec, size_t len, uint64_t st, struct cpd_perf_rec *out)
{
  const struct perf_event_header *h = rec;
  struct cursor c;

  if (len < sizeof(*h) || h->size != len)
    return -EBADMSG;
  memset(out, 0, offsetof(struct cpd_perf_rec, u));
  out->type = h->type;
  out->misc = h->misc;
  c.p = (const uint8_t *)rec + sizeof(*h);
  c.end = (const uint8_t *)rec + len;
  c.bad = 0;
  switch (h->type) {
  case PERF_RECORD_SAMPLE:
    out->u.sample.nframes = 0;
    out->u.sample.nkernel = 0;
    out->u.sample.truncated = 0;
    out->u.sample.period = 0;
    out->u.sample.ip = 0;
    out->u.sample.regs_abi = 0;
    out->u.sample.stack = NULL;
    out->u.sample.stack_len = 0;
    return parse_sample(&c, st, out);
  case PERF_RECORD_MMAP2:
    out->id.pid = u32(&c);
    out->id.tid = u32(&c);
    out->u.mmap.addr = u64(&c);
    out->u.mmap.len = u64(&c);
    out->u.mmap.pgoff = u64(&c);
    u64(&c); /* maj/min or build-id size and padding */
    u64(&c); /* inode or build-id */
    u64(&c); /* generation or build-id */
    out->u.mmap.prot = u32(&c);
    out->u.mmap.flags = u32(&c);
    out->u.mmap.filename = str(&c);
    break;
  case PERF_RECORD_MMAP:
    out->id.pid = u32(&c);
    out->id.tid = u32(&c);
    out->u.mmap.addr = u64(&c);
    out->u.mmap.len = u64(&c);
    out->u.mmap.pgoff = u64(&c);
    out->u.mmap.prot = 0;
    out->u.mmap.flags = 0;
    out->u.mmap.filename = str(&c);
    break;
  case PERF_RECORD_COMM:
    out->id.pid = u32(&c);
    out->id.tid = u32(&c);
    out->u.comm.comm = str(&c);
    break;
  case PERF_RECORD_FORK:
  case PERF_RECORD_EXIT:
    out->u.task.pid = u32(&c);
    out->u.task.ppid = u32(&c);
    out->u.task.tid = u32(&c);
    out->u.task.ptid = u32(&c);
    u64(&c); /* time: the sample_id has it too */
    break;
  case PERF_RECORD_LOST:
    u64(&c); /* id */
    out->u.lost.lost = u64(&c);
    break;
  case PERF_RECORD_LOST_SAMPLES:
    out->u.lost.lost = u64(&c);
    break;
  case PERF_RECORD_SWITCH:
    break;
  default:
    return -ENOTSUP;
  }
  if (c.bad)
    return -EBADMSG;
  /* The trailer's pid/tid override nothing the record itself said, except for SWITCH/LOST. */
  {
    struct cpd_sample_id id = out->id;

    sample_id(rec, len, st, &id);
    out->id.time = id.time;
    out->id.cpu = id.cpu;
    out->id.event = id.event;
    if (h->type == PERF_RECORD_SWITCH || h->type == PERF_RECORD_LOST ||
        h->type == PERF_RECORD_LOST_SAMPLES || h->type == PERF_RECORD_FORK ||
        h->type == PERF_RECORD_EXIT) {
      out->id.pid = id.pid;
      out->id.tid = id.tid;
    }
  }
  return 0;
}

int cpd_perf_ring_read(struct cpd_perf_ring *r, cpd_perf_rec_fn fn, void *arg)
{
  uint64_t head = __atomic_load_n(&r->meta->data_head, __ATOMIC_ACQUIRE);
  uint64_t tail = r->meta->data_tail;
  int n = 0, rc = 0;

  while (tail < head) {
    struct perf_event_header h;
    size_t off = tail & (r->data_size - 1);
    const uint8_t *rec;

    if (head - tail < sizeof(h)) {
      rc = -EBADMSG;
      break;
    }
    /* The header itself may wrap. */
    for (size_t i = 0; i < sizeof(h); i++)
      ((uint8_t *)&h)[i] = r->data[(off + i) & (r->data_size - 1)];
    /* The kernel writes records of a multiple of 8 bytes at 8-byte aligned offsets. */
    if (h.size < sizeof(h) || h.size > r->data_size || h.size > head - tail || (h.size & 7) ||
        (tail & 7)) {
      rc = -EBADMSG;
      tail = head;  /* cannot find the next record boundary: skip what is there */
      break;
    }
    if (off + h.size <= r->data_size) {
      rec = r->data + off;
    } else {
      size_t first = r->data_size - off;

      memcpy(r->tmp, r->data + off, first);
      memcpy(r->tmp + first, r->data, h.size - first);
      rec = r->tmp;
    }
    fn(arg, (const struct perf_event_header *)rec, h.size);
    tail += h.size;
    n++;
  }
  __atomic_store_n(&r->meta->data_tail, tail, __ATOMIC_RELEASE);
  return rc < 0 ? rc : n;
}
