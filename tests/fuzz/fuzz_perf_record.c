/*
 * fuzz_perf_record.c: libFuzzer target for the perf ring reader and record parser: the
 * bytes are a ring's data area (with head and tail taken from the first 16 bytes), every
 * record is parsed as the sampler's sample_type and handed to a profile. Event ids 1-3 are
 * known (two threads' CPU events, one off-CPU event), so the one-family-per-thread and
 * off-CPU paths run too.
 */
#include <linux/perf_event.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "perf/perf_record.h"
#include "model/profile.h"
#include "perf/sampler.h"
#include "model/thread_state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void on_record(void *arg, const struct perf_event_header *h, size_t len)
{
  cpd_sampler_record(arg, h, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static struct perf_event_mmap_page meta;
  enum { DATA = 4096 };
  static uint8_t ring[DATA], tmp[DATA];
  struct cpd_perf_ring r = { -1, &meta, ring, DATA, tmp };
  struct cpd_profile prof;
  struct cpd_sampler s;
  uint64_t head = 0, tail = 0;

  if (size < 16)
    return 0;
  memcpy(&head, data, 8);
  memcpy(&tail, data + 8, 8);
  data += 16;
  size -= 16;
  memset(ring, 0, sizeof(ring));
  memcpy(ring, data, size < DATA ? size : DATA);
  meta.data_head = tail + (head % (2 * DATA));
  meta.data_tail = tail;
  memset(&s, 0, sizeof(s));
  s.rec = malloc(sizeof(*s.rec));
  if (!s.rec)
    return 0;
  cpd_profile_init(&prof, 3999000u);
  s.pid = 3999000u;
  s.prof = &prof;
  s.sample_type = PERF_SAMPLE_IP | PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_ID |
                  PERF_SAMPLE_CPU | PERF_SAMPLE_PERIOD | PERF_SAMPLE_CALLCHAIN;
  s.period_is_ns = 1;
  s.owners = calloc(3, sizeof(*s.owners));
  if (s.owners) {
    for (uint32_t i = 0; i < 3; i++) {
      s.owners[i].id = i + 1;
      s.owners[i].tid = 3999000u + (i < 2 ? i : 0);
      s.owners[i].offcpu = i == 2;
    }
    s.nowners = s.owners_cap = 3;
  }
  cpd_perf_ring_read(&r, on_record, &s);
  cpd_sched_index(&prof.sched);
  cpd_sampler_close(&s);
  cpd_profile_free(&prof);
  return 0;
}
