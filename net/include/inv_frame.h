/*
 * inv_frame.h — invd's framing on a byte stream: a 4-byte big-endian length, then that
 * many bytes of one protobuf message (docs/protocol.md).
 *
 * Used by the server (net/src/conn.c), the client library and the fuzz target; it
 * knows nothing about protobuf. The parser never allocates and never reads past the
 * bytes it is given; a length above the caller's maximum is reported before any byte
 * of the body is looked at, so a hostile 4 GiB prefix costs nothing.
 */
#ifndef INV_FRAME_H
#define INV_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "inv_net_constants.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Write `len` as the 4-byte big-endian header at `out`. */
static inline void inv_frame_header_put(uint8_t *out, uint32_t len) {
    out[0] = (uint8_t)(len >> 24);
    out[1] = (uint8_t)(len >> 16);
    out[2] = (uint8_t)(len >> 8);
    out[3] = (uint8_t)len;
}

/* Read the 4-byte big-endian header at `in`. */
static inline uint32_t inv_frame_header_get(const uint8_t *in) {
    return ((uint32_t)in[0] << 24) | ((uint32_t)in[1] << 16) | ((uint32_t)in[2] << 8) |
           (uint32_t)in[3];
}

typedef enum inv_frame_result {
    INV_FRAME_NEED_MORE = 0, /* not a whole frame yet; `need` says how many bytes */
    INV_FRAME_READY = 1,     /* body/body_len/frame_len describe one whole frame */
    INV_FRAME_TOO_LARGE = 2, /* the length prefix exceeds the maximum: close */
} inv_frame_result;

typedef struct inv_frame {
    const uint8_t *body; /* READY: first byte of the protobuf body */
    uint32_t body_len;   /* READY / TOO_LARGE: the length from the header */
    size_t frame_len;    /* READY: header + body bytes to consume */
    size_t need;         /* NEED_MORE: total bytes needed to make progress */
} inv_frame;

/* Look for the frame at the start of buf[0..len).
 * @param buf       bytes received and not yet consumed (may be NULL when len is 0)
 * @param len       how many
 * @param body_max  largest body accepted
 * @param[out] out  what was found (see inv_frame_result)
 * @return one of inv_frame_result. */
inv_frame_result inv_frame_parse(const uint8_t *buf, size_t len, uint32_t body_max, inv_frame *out);

#ifdef __cplusplus
}
#endif

#endif /* INV_FRAME_H */
