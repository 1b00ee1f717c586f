/*
 * frame.c — finding frame boundaries in a byte stream (inv_frame.h).
 *
 * Invariants: the parser reads at most INV_NET_HEADER_BYTES bytes before it has decided
 * whether the frame is acceptable, and never more than `len` bytes in total; it keeps no
 * state between calls (the caller keeps the unconsumed bytes), so a frame split at any
 * byte boundary parses the same as a whole one.
 */
#include <assert.h>
#include <stddef.h>

#include "inv_frame.h"

inv_frame_result inv_frame_parse(const uint8_t *buf, size_t len, uint32_t body_max,
                                 inv_frame *out) {
    assert(out != NULL);
    assert(buf != NULL || len == 0);
    out->body = NULL;
    out->body_len = 0;
    out->frame_len = 0;
    if (len < INV_NET_HEADER_BYTES) {
        out->need = INV_NET_HEADER_BYTES;
        return INV_FRAME_NEED_MORE;
    }
    uint32_t body_len = inv_frame_header_get(buf);
    out->body_len = body_len;
    if (body_len > body_max) return INV_FRAME_TOO_LARGE;
    size_t total = (size_t)INV_NET_HEADER_BYTES + body_len;
    if (len < total) {
        out->need = total;
        return INV_FRAME_NEED_MORE;
    }
    out->body = buf + INV_NET_HEADER_BYTES;
    out->frame_len = total;
    out->need = 0;
    return INV_FRAME_READY;
}
