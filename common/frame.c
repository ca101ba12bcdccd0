/* frame.c: encoding and incremental decoding of length-prefixed protobuf frames. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"

int cp__frame_encode(const cp_frame *frame, uint8_t **out, size_t *out_len)
{
  size_t n = ceoprof__wire__frame__get_packed_size(frame);
  uint8_t *buf;

  if (n > CP_MAX_FRAME)
    return -EMSGSIZE;
  buf = malloc(CP_FRAME_HEADER + n);
  if (!buf)
    return -ENOMEM;
  buf[0] = (uint8_t)n;
  buf[1] = (uint8_t)(n >> 8);
  buf[2] = (uint8_t)(n >> 16);
  buf[3] = (uint8_t)(n >> 24);
  ceoprof__wire__frame__pack(frame, buf + CP_FRAME_HEADER);
  *out = buf;
  *out_len = CP_FRAME_HEADER + n;
  return 0;
}

void cp__frame_reader_init(struct cp_frame_reader *r, size_t max_frame)
{
  memset(r, 0, sizeof(*r));
  r->max_frame = max_frame;
}

void cp__frame_reader_free(struct cp_frame_reader *r)
{
  free(r->buf);
  r->buf = NULL;
  r->len = r->cap = 0;
}

uint8_t *cp__frame_reader_space(struct cp_frame_reader *r, size_t n)
{
  if (r->cap - r->len < n || !r->buf) {
    size_t cap = r->cap ? r->cap : 4096;
    uint8_t *p;

    while (cap - r->len < n)
      cap *= 2;
    p = realloc(r->buf, cap);
    if (!p)
      return NULL;
    r->buf = p;
    r->cap = cap;
  }
  return r->buf + r->len;
}

void cp__frame_reader_commit(struct cp_frame_reader *r, size_t n)
{
  r->len += n;
}

int cp__frame_next(struct cp_frame_reader *r, cp_frame **out)
{
  uint32_t n;
  cp_frame *f;

  if (r->len < CP_FRAME_HEADER)
    return 0;
  n = (uint32_t)r->buf[0] | (uint32_t)r->buf[1] << 8 | (uint32_t)r->buf[2] << 16 |
      (uint32_t)r->buf[3] << 24;
  if (n > r->max_frame)
    return -EMSGSIZE;
  if (r->len - CP_FRAME_HEADER < n)
    return 0;
  f = ceoprof__wire__frame__unpack(NULL, n, r->buf + CP_FRAME_HEADER);
  /* Consume the frame even when it is bad, so a caller that wants to go on can. */
  memmove(r->buf, r->buf + CP_FRAME_HEADER + n, r->len - CP_FRAME_HEADER - n);
  r->len -= CP_FRAME_HEADER + n;
  /* Shrink a buffer that a burst grew, so an idle connection holds little memory. */
  if (r->len == 0 && r->cap > 65536) {
    free(r->buf);
    r->buf = NULL;
    r->cap = 0;
  }
  if (!f)
    return -EBADMSG;
  *out = f;
  return 1;
}

void cp__frame_free(cp_frame *frame)
{
  if (frame)
    ceoprof__wire__frame__free_unpacked(frame, NULL);
}
