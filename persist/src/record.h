/*
 * record.h — encoding and decoding of one framed record in memory (layout in
 * persist_constants.h). The same frame carries WAL records, snapshot records and the
 * snapshot trailer; this layer never touches a file descriptor, so the WAL's batch
 * buffer, the snapshot child's write buffer and a replication stream can all use it.
 */
#ifndef INV_PERSIST_RECORD_H
#define INV_PERSIST_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "persist_constants.h"

/* The fields of a record, decoded (body points into the buffer it came from). */
typedef struct rec_view {
    uint64_t lsn;
    uint32_t body_len;
    uint16_t type;
    uint16_t shard;
    uint32_t batch_pos;
    uint32_t crc;
    const unsigned char *body;
    uint32_t size;             /* bytes taken in the stream, padding included */
} rec_view;

typedef enum rec_result {
    REC_OK = 0,
    REC_ZERO,        /* 24 zero bytes: the end of written data */
    REC_SHORT,       /* fewer bytes than the header or the declared length: torn */
    REC_BAD_LENGTH,  /* body_len above PERSIST_REC_BODY_MAX */
    REC_BAD_CRC,     /* checksum mismatch */
} rec_result;

/* Bytes a record with a body of `body_len` takes in the stream. */
static inline uint32_t rec_size(uint32_t body_len) {
    return (PERSIST_REC_HEADER_BYTES + body_len + PERSIST_REC_ALIGN - 1u) &
           ~(PERSIST_REC_ALIGN - 1u);
}

/* Write one record at `dst` (rec_size(body_len) bytes, 8-aligned), padding zeroed.
 * @return the bytes written (rec_size(body_len)). */
uint32_t rec_encode(unsigned char *dst, uint64_t lsn, uint16_t type, uint16_t shard,
                    uint32_t batch_pos, const void *body, uint32_t body_len);

/* Decode the record at `src`, with `avail` bytes readable from there. Never reads
 * past `avail`; any byte pattern is safe.
 * @return REC_OK (out filled) or why the bytes are not a record. */
rec_result rec_decode(const unsigned char *src, size_t avail, rec_view *out);

/* rec_decode without the CRC check: the header's fields, its length checked against
 * `avail`, the body unverified (read-ahead hints, filtering probe candidates before
 * paying for a checksum). Never reads past `avail`.
 * @return REC_OK (out filled, maybe garbage), REC_ZERO, REC_SHORT or REC_BAD_LENGTH. */
rec_result rec_peek(const unsigned char *src, size_t avail, rec_view *out);

/* Whether the header at `src` (24 bytes readable) is all zeros. */
int rec_header_is_zero(const unsigned char *src);

const char *rec_result_name(rec_result r);

#endif /* INV_PERSIST_RECORD_H */
