/* frame.h: length-prefixed protobuf frames, shared by libceoprof and ceoprofd. */
#ifndef CP_FRAME_H
#define CP_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "ceoprof.pb-c.h"

#define CP_PROTOCOL_VERSION 2u   /* 2: events travel as EventRuns */
#define CP_FRAME_HEADER 4u            /* little-endian uint32 length of the payload */
#define CP_MAX_FRAME (1u << 20)       /* largest payload either side accepts */

typedef Ceoprof__Wire__Frame cp_frame;

/* Encodes FRAME with its length prefix into a malloc'd buffer. 0 or -errno. */
int cp__frame_encode(const cp_frame *frame, uint8_t **out, size_t *out_len);

/* An incremental decoder: feed it bytes as they arrive, take whole frames out. */
struct cp_frame_reader {
  uint8_t *buf;      /* bytes received but not yet consumed */
  size_t len;        /* bytes in buf */
  size_t cap;        /* allocated size of buf */
  size_t max_frame;  /* payloads above this are rejected */
};

void cp__frame_reader_init(struct cp_frame_reader *r, size_t max_frame);
void cp__frame_reader_free(struct cp_frame_reader *r);
/* Makes room for N more bytes and returns where to write them (NULL on ENOMEM). */
uint8_t *cp__frame_reader_space(struct cp_frame_reader *r, size_t n);
/* Records that N bytes were written at the space returned above. */
void cp__frame_reader_commit(struct cp_frame_reader *r, size_t n);
/*
 * Takes the next whole frame out. Returns 1 and sets *out (free with
 * cp__frame_free), 0 when more bytes are needed, -EMSGSIZE for an oversized
 * length and -EBADMSG for a payload that does not decode. After an error the
 * stream cannot be resynchronised: the caller drops the connection.
 */
int cp__frame_next(struct cp_frame_reader *r, cp_frame **out);
void cp__frame_free(cp_frame *frame);

#endif
