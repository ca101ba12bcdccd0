/*
 * fuzz_protocol.c: libFuzzer target for what a client can send: the frame decoder, the
 * session's protocol handler, the timeline replay and the trace writer behind them.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "model/session.h"
#include "model/timeline.h"
#include "output/trace_writer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct cp_frame_reader r;
  struct cpd_session *s = cpd_session_new(3999000u, 0, 1000);
  struct cpd_timeline tl;
  uint8_t *space;
  FILE *out;

  if (!s)
    return 0;
  cp__frame_reader_init(&r, CP_MAX_FRAME);
  space = cp__frame_reader_space(&r, size);
  if (space) {
    memcpy(space, data, size);
    cp__frame_reader_commit(&r, size);
    for (;;) {
      cp_frame *f = NULL;

      if (cp__frame_next(&r, &f) != 1)
        break;
      if (f->body_case == CEOPROF__WIRE__FRAME__BODY_HELLO)
        cpd_session_hello(s, f->hello);
      else
        cpd_session_apply(s, f);
      cp__frame_free(f);
    }
  }
  cp__frame_reader_free(&r);
  if (cpd_timeline_build(&tl, s, 2000) == 0) {
    out = fopen("/dev/null", "w");
    if (out) {
      cpd_trace_emit(out, s, &tl, NULL);
      fclose(out);
    }
    /* A window cut and the next window, as the daemon does with --window. */
    cpd_timeline_free(&tl);
    if (cpd_timeline_build_until(&tl, s, 1500) == 0) {
      cpd_session_cut(s, &tl, 1500, 0);
      cpd_timeline_free(&tl);
      if (cpd_timeline_build(&tl, s, 2000) == 0)
        cpd_timeline_free(&tl);
    }
  }
  cpd_session_free(s);
  return 0;
}
