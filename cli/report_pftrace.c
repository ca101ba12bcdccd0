/* report_pftrace.c: ceoprof report FILE.pftrace: task durations per task name, from the
 * slices of a Perfetto trace (its packets read one at a time, never the whole file). */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "perfetto.pb-c.h"
#include "util.h"

/* An open slice: its begin and name, on one track. */
struct open_slice {
  uint64_t track, ts, name_iid;
};

struct reader {
  char **names;          /* event names by iid (NULL: not interned) */
  size_t nnames;
  uint64_t *states;      /* tracks of thread states ("state"): their slices are not tasks */
  size_t nstates, states_cap;
  struct open_slice *open;
  size_t nopen, open_cap;
  uint32_t default_clock;  /* the sequence's timestamp clock (trace_packet_defaults) */
  uint32_t inc_clock;      /* its incremental clock, 0 when none */
  uint64_t inc_value;      /* that clock's time: each of its timestamps is a delta */
  struct cpc_task_table tt;
};

static int read_varint(FILE *f, uint64_t *v)
{
  int c, shift = 0;

  *v = 0;
  while ((c = getc(f)) != EOF) {
    *v |= (uint64_t)(c & 0x7f) << shift;
    if (!(c & 0x80))
      return 1;
    if ((shift += 7) > 63)
      return -EBADMSG;
  }
  return shift ? -EBADMSG : 0;
}

static int add_name(struct reader *r, uint64_t iid, const char *name)
{
  if (iid >= (1u << 24))
    return 0;  /* past any name ceoprofd gives: not a task's */
  if (iid >= r->nnames) {
    size_t n = iid + 1 > r->nnames * 2 ? iid + 1 : r->nnames * 2;
    char **p = realloc(r->names, n * sizeof(*p));

    if (!p)
      return -ENOMEM;
    memset(p + r->nnames, 0, (n - r->nnames) * sizeof(*p));
    r->names = p;
    r->nnames = n;
  }
  free(r->names[iid]);
  r->names[iid] = strdup(name ? name : "?");
  return r->names[iid] ? 0 : -ENOMEM;
}

/* The packet's time on CLOCK_MONOTONIC: ceoprof's files relate their incremental clock to
 * it with one snapshot at the same value, so a delta's sum is the time itself. */
static uint64_t packet_time(struct reader *r, const Perfetto__Protos__TracePacket *p)
{
  uint32_t clock = p->has_timestamp_clock_id ? p->timestamp_clock_id : r->default_clock;

  if (r->inc_clock && clock == r->inc_clock) {
    r->inc_value += p->timestamp;
    return r->inc_value;
  }
  return p->timestamp;
}

static int on_packet(struct reader *r, const Perfetto__Protos__TracePacket *p)
{
  const Perfetto__Protos__TrackEvent *ev = p->track_event;
  uint64_t ts = 0;
  int rc;

  if (p->clock_snapshot)
    for (size_t i = 0; i < p->clock_snapshot->n_clocks; i++)
      if (p->clock_snapshot->clocks[i]->is_incremental) {
        r->inc_clock = p->clock_snapshot->clocks[i]->clock_id;
        r->inc_value = p->clock_snapshot->clocks[i]->timestamp;
      }
  if (p->trace_packet_defaults && p->trace_packet_defaults->has_timestamp_clock_id)
    r->default_clock = p->trace_packet_defaults->timestamp_clock_id;
  if (p->has_timestamp)
    ts = packet_time(r, p);
  if (p->track_descriptor && p->track_descriptor->name &&
      strcmp(p->track_descriptor->name, "state") == 0 && p->track_descriptor->parent_uuid) {
    if (cpd_grow(&r->states, &r->states_cap, r->nstates, sizeof(*r->states)) < 0)
      return -ENOMEM;
    r->states[r->nstates++] = p->track_descriptor->uuid;
  }

  if (p->interned_data)
    for (size_t i = 0; i < p->interned_data->n_event_names; i++)
      if ((rc = add_name(r, p->interned_data->event_names[i]->iid,
                         p->interned_data->event_names[i]->name)) < 0)
        return rc;
  if (!ev || !ev->has_type)
    return 0;
  for (size_t i = 0; i < r->nstates; i++)
    if (r->states[i] == ev->track_uuid)
      return 0;
  if (ev->type == PERFETTO__PROTOS__TRACK_EVENT__TYPE__TYPE_SLICE_BEGIN) {
    if (cpd_grow(&r->open, &r->open_cap, r->nopen, sizeof(*r->open)) < 0)
      return -ENOMEM;
    r->open[r->nopen++] = (struct open_slice){ ev->track_uuid, ts, ev->name_iid };
    return 0;
  }
  if (ev->type == PERFETTO__PROTOS__TRACK_EVENT__TYPE__TYPE_SLICE_END) {
    /* Its slice: the last one begun on its track. */
    for (size_t i = r->nopen; i > 0; i--) {
      struct open_slice o = r->open[i - 1];
      const char *name;

      if (o.track != ev->track_uuid)
        continue;
      memmove(&r->open[i - 1], &r->open[i], (r->nopen - i) * sizeof(*r->open));
      r->nopen--;
      name = o.name_iid < r->nnames && r->names[o.name_iid] ? r->names[o.name_iid] : "?";
      return cpc_task_add(&r->tt, name, (double)(ts - o.ts) / 1e3);
    }
  }
  return 0;
}

int cpc_report_pftrace(const char *path, int top)
{
  FILE *f = fopen(path, "rb");
  struct reader r = { 0 };
  uint8_t *buf = NULL;
  size_t cap = 0;
  int rc = 0;

  if (!f) {
    fprintf(stderr, "ceoprof report: cannot open %s: %s\n", path, strerror(errno));
    return 1;
  }
  for (;;) {
    uint64_t key, len;
    Perfetto__Protos__TracePacket *p;

    if ((rc = read_varint(f, &key)) <= 0)
      break;
    if (key != 0x0a || read_varint(f, &len) <= 0 || len > (64u << 20)) {
      rc = -EBADMSG;  /* Trace holds packets (field 1) only */
      break;
    }
    if (len > cap) {
      uint8_t *b = realloc(buf, len);

      if (!b) {
        rc = -ENOMEM;
        break;
      }
      buf = b;
      cap = len;
    }
    if (fread(buf, 1, len, f) != len) {
      rc = -EBADMSG;
      break;
    }
    if (!(p = perfetto__protos__trace_packet__unpack(NULL, len, buf))) {
      rc = -EBADMSG;
      break;
    }
    rc = on_packet(&r, p);
    perfetto__protos__trace_packet__free_unpacked(p, NULL);
    if (rc < 0)
      break;
  }
  fclose(f);
  if (rc < 0)
    fprintf(stderr, "ceoprof report: %s is not a Perfetto trace ceoprof can read (%s)\n", path,
            rc == -ENOMEM ? "out of memory" : "a packet does not decode");
  else {
    r.tt.unfinished = r.nopen;
    cpc_task_print(&r.tt, path, top);
  }
  cpc_task_free(&r.tt);
  for (size_t i = 0; i < r.nnames; i++)
    free(r.names[i]);
  free(r.names);
  free(r.states);
  free(r.open);
  free(buf);
  return rc < 0 ? 1 : 0;
}
