/*
 * perf_record.h: reading perf ring buffers (with wrap-around) and parsing the records
 * in them into plain structs, bounds-checked, so that what the kernel (or a test)
 * hands over can never make the daemon read out of bounds.
 */
#ifndef CPD_PERF_RECORD_H
#define CPD_PERF_RECORD_H

#include <linux/perf_event.h>
#include <stddef.h>
#include <stdint.h>

#include "symbolize/regs.h"

#define CPD_MAX_FRAMES 127  /* callchain entries kept per sample */

/* The sample_id trailer of non-sample records (sample_id_all), and the sample's own fields. */
struct cpd_sample_id {
  uint32_t pid, tid;
  uint64_t time;
  uint32_t cpu;
  uint64_t event;  /* PERF_SAMPLE_ID: the event opened (an inherited event's original) */
};

struct cpd_perf_rec {
  uint32_t type;   /* PERF_RECORD_* */
  uint16_t misc;
  struct cpd_sample_id id;
  union {
    struct {
      uint64_t ip;
      uint64_t period;
      uint32_t nframes;              /* entries in frames, context markers removed */
      uint32_t nkernel;              /* the first nkernel frames are kernel frames */
      uint64_t frames[CPD_MAX_FRAMES];
      int truncated;                 /* the callchain had more entries than we keep */
      uint64_t regs_abi;             /* PERF_SAMPLE_REGS_USER: 0 when none (a kernel thread) */
      uint64_t regs[CPD_REGS_USER_N];
      const uint8_t *stack;          /* PERF_SAMPLE_STACK_USER, from regs' SP; points into the record */
      uint64_t stack_len;            /* the bytes of it that hold data (dyn_size) */
    } sample;
    struct {
      uint64_t addr, len, pgoff;
      uint32_t prot, flags;
      const char *filename;          /* points into the record */
    } mmap;
    struct {
      const char *comm;              /* points into the record */
    } comm;
    struct {
      uint32_t pid, ppid, tid, ptid;
    } task;                          /* FORK and EXIT */
    struct {
      uint64_t lost;
    } lost;                          /* LOST and LOST_SAMPLES */
  } u;
};

/*
 * Parses the record REC of LEN bytes (header included) written for an event with
 * SAMPLE_TYPE. Returns 0, -ENOTSUP for a record type it does not parse, or -EBADMSG
 * for a malformed record.
 */
int cpd_perf_parse(const void *rec, size_t len, uint64_t sample_type, struct cpd_perf_rec *out);

/* The timestamp of a record (sample or sample_id trailer), 0 when it has none. */
uint64_t cpd_perf_record_time(const void *rec, size_t len, uint64_t sample_type);

/* A mapped ring: the metadata page and a power-of-two data area after it. */
struct cpd_perf_ring {
  int fd;              /* the event the ring belongs to, polled for its wake-up mark; -1: none */
  struct perf_event_mmap_page *meta;
  uint8_t *data;
  size_t data_size;
  uint8_t *tmp;        /* where a record that wraps is put together; data_size bytes */
};

typedef void (*cpd_perf_rec_fn)(void *arg, const struct perf_event_header *h, size_t len);

/*
 * Hands every complete record between data_tail and data_head to FN, then advances
 * data_tail. A record whose size is smaller than a header or larger than the ring
 * ends reading (the ring is then reset past it). Returns the records read, or -EBADMSG.
 */
int cpd_perf_ring_read(struct cpd_perf_ring *r, cpd_perf_rec_fn fn, void *arg);

#endif
