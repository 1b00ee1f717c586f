/*
 * record.c — one framed record: header, body, CRC32C, padding (see record.h).
 *
 * Design: the CRC covers every header byte after the CRC field and the whole body, so a
 * record moved to another shard's log, renumbered or retyped fails its check; padding
 * is not covered (it is always written as zeros and never interpreted). Records are
 * 8-aligned so that a scan for the next valid record after damage (scan.c) only has to
 * probe one offset in eight.
 *
 * Invariants:
 *   - rec_decode(rec_encode(x)) == x for every x with body_len ≤ PERSIST_REC_BODY_MAX;
 *   - a header of 24 zero bytes is never a record (lsn ≥ 1 for every record written),
 *     so zero-filled file space reads as "end of data", not as a record;
 *   - rec_decode reads at most `avail` bytes whatever the input.
 *
 * State diagram: none — pure functions over caller-owned memory (a record in a buffer is
 * either being encoded by rec_encode or complete).
 */
#include "record.h"

#include <assert.h>
#include <string.h>

#include "crc32c.h"

static uint32_t rec_load32(const unsigned char *p) {
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static uint64_t rec_load64(const unsigned char *p) {
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static uint16_t rec_load16(const unsigned char *p) {
    uint16_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

uint32_t rec_encode(unsigned char *dst, uint64_t lsn, uint16_t type, uint16_t shard,
                    uint32_t batch_pos, const void *body, uint32_t body_len) {
    assert(lsn > 0);
    assert(body_len <= PERSIST_REC_BODY_MAX);
    assert(body != NULL || body_len == 0);
    uint32_t size = rec_size(body_len);
    memcpy(dst + 4, &body_len, 4);
    memcpy(dst + 8, &lsn, 8);
    memcpy(dst + 16, &type, 2);
    memcpy(dst + 18, &shard, 2);
    memcpy(dst + 20, &batch_pos, 4);
    if (body_len > 0) memcpy(dst + PERSIST_REC_HEADER_BYTES, body, body_len);
    memset(dst + PERSIST_REC_HEADER_BYTES + body_len, 0,
           size - PERSIST_REC_HEADER_BYTES - body_len);
    uint32_t crc = crc32c(0, dst + 4, PERSIST_REC_HEADER_BYTES - 4u + body_len);
    memcpy(dst, &crc, 4);
    return size;
}

int rec_header_is_zero(const unsigned char *src) {
    uint64_t a = rec_load64(src), b = rec_load64(src + 8), c = rec_load64(src + 16);
    return (a | b | c) == 0;
}

rec_result rec_peek(const unsigned char *src, size_t avail, rec_view *out) {
    assert(src != NULL);
    assert(out != NULL);
    if (avail < PERSIST_REC_HEADER_BYTES) return REC_SHORT;
    if (rec_header_is_zero(src)) return REC_ZERO;
    uint32_t body_len = rec_load32(src + 4);
    if (body_len > PERSIST_REC_BODY_MAX) return REC_BAD_LENGTH;
    uint32_t size = rec_size(body_len);
    if (size > avail) return REC_SHORT;
    out->crc = rec_load32(src);
    out->body_len = body_len;
    out->lsn = rec_load64(src + 8);
    out->type = rec_load16(src + 16);
    out->shard = rec_load16(src + 18);
    out->batch_pos = rec_load32(src + 20);
    out->body = src + PERSIST_REC_HEADER_BYTES;
    out->size = size;
    return REC_OK;
}

rec_result rec_decode(const unsigned char *src, size_t avail, rec_view *out) {
    rec_result r = rec_peek(src, avail, out);
    if (r != REC_OK) return r;
    if (crc32c(0, src + 4, PERSIST_REC_HEADER_BYTES - 4u + out->body_len) != out->crc)
        return REC_BAD_CRC;
    return REC_OK;
}

const char *rec_result_name(rec_result r) {
    switch (r) {
    case REC_OK: return "ok";
    case REC_ZERO: return "zero header";
    case REC_SHORT: return "truncated record";
    case REC_BAD_LENGTH: return "impossible length";
    case REC_BAD_CRC: return "bad CRC";
    }
    return "unknown";
}
