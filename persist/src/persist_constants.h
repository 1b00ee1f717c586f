/*
 * persist_constants.h — every fixed bound of persist/ (WAL, snapshots, recovery), in one
 * place, each with why it has its value; the _Static_asserts at the end pin how the
 * bounds relate to one another and to the engine's (inv_constants.h).
 *
 * Sizes an operator may tune (segment size, batch size, async flush interval) have a
 * default, a minimum and a maximum here; inv_persist_options carries the chosen value
 * and persist_options_check() refuses anything outside [min, max].
 */
#ifndef INV_PERSIST_CONSTANTS_H
#define INV_PERSIST_CONSTANTS_H

#include "inv_constants.h"
#include "inv_engine.h"

/* ------------------------------------------------------------------------------------
 * Records (record.c). Layout, little-endian:
 *   0 u32 crc        CRC32C of bytes [4, 24 + body_len)
 *   4 u32 body_len
 *   8 u64 lsn        1, 2, 3, … per shard log (per snapshot file: record number)
 *  16 u16 type       inv_rec_type, or a persist-private type (snapshot END)
 *  18 u16 shard
 *  20 u32 batch_pos  lsn − first LSN of the group-commit batch the record was written in
 *  24 body, then zero padding to a multiple of 8
 * ------------------------------------------------------------------------------------ */
#define PERSIST_REC_HEADER_BYTES 24u
/* Records start on 8-byte boundaries: headers are read with aligned loads and the
 * forward scan after a damaged record only probes aligned offsets. */
#define PERSIST_REC_ALIGN 8u
/* Largest body persist/ accepts: the engine's largest record. */
#define PERSIST_REC_BODY_MAX INV_REC_BODY_MAX
#define PERSIST_REC_BYTES_MAX                                                          \
    ((PERSIST_REC_HEADER_BYTES + PERSIST_REC_BODY_MAX + PERSIST_REC_ALIGN - 1u) &      \
     ~(PERSIST_REC_ALIGN - 1u))
/* Snapshot trailer record type: above every engine type, below the u16 limit. */
#define PERSIST_REC_SNAPSHOT_END 0x7fffu

/* ------------------------------------------------------------------------------------
 * Segments (segment.c, wal.c).
 * ------------------------------------------------------------------------------------ */
/* The header block at the start of every segment and snapshot file: one page, so that
 * record data starts page-aligned and a data write never shares a page with it. */
#define PERSIST_FILE_HEADER_BYTES 4096u
/* Segment size: 64 MiB by default — at 150 MB/s of records a segment lasts ~0.4 s,
 * and a rotation (synchronous, a few ms) is rare. Tests use 64 KiB–1 MiB segments. */
#define PERSIST_SEGMENT_BYTES_DEFAULT (64ull << 20)
#define PERSIST_SEGMENT_BYTES_MIN (64ull << 10)
#define PERSIST_SEGMENT_BYTES_MAX (1ull << 30)
/* Segments per shard a directory may hold: bounds the listing at recovery and GC
 * (64 MiB × 65536 = 4 TiB of log, far beyond any snapshot interval). */
#define PERSIST_SEGMENTS_PER_SHARD_MAX 65536u
/* Snapshot files a directory may hold (two are kept; more means a GC fell behind). */
#define PERSIST_SNAPSHOTS_MAX 256u
/* Directory entries examined at recovery, in all: every shard's segments, snapshots,
 * leftovers. */
#define PERSIST_DIR_ENTRIES_MAX (1u << 20)

/* ------------------------------------------------------------------------------------
 * Group commit (wal.c).
 * ------------------------------------------------------------------------------------ */
/* Bytes one batch buffer holds. A shard doing 1 M records/s of ~120 B with a ~2 ms
 * fdatasync accumulates ~250 KB per batch: 1 MiB leaves room for bursts; when a buffer
 * fills while the other is in flight, append waits for the flight (backpressure). */
#define PERSIST_BATCH_BYTES_DEFAULT (1u << 20)
#define PERSIST_BATCH_BYTES_MIN (64u << 10)
#define PERSIST_BATCH_BYTES_MAX (16u << 20)
/* Batch buffers per WAL: one in flight, one filling (group commit). */
#define PERSIST_BATCHES 2u
/* SQEs one batch takes: write + linked fdatasync (or one RWF_DSYNC write). */
#define PERSIST_SQES_PER_BATCH 2u
/* io_uring depth per shard: one batch in flight, with room to spare. */
#define PERSIST_RING_DEPTH 8u
/* Completions a blocking wait handles before giving up on a lost completion. */
#define PERSIST_WAIT_LOOPS_MAX 64u
/* durability=async: flush at most every this many ms (the loss window), default. */
#define PERSIST_ASYNC_FLUSH_MS_DEFAULT 10u
#define PERSIST_ASYNC_FLUSH_MS_MAX 10000u
#define PERSIST_BATCH_INTERVAL_US_MAX 100000u /* 100 ms: beyond that, use durability=async */

/* ------------------------------------------------------------------------------------
 * Snapshots (snapshot.c).
 * ------------------------------------------------------------------------------------ */
/* The child's write buffer: records are encoded here and written in 1 MiB writes. */
#define PERSIST_SNAPSHOT_BUFFER_BYTES (1u << 20)
/* Snapshot thresholds by default: after 1 GiB of log or one hour, whichever first. */
#define PERSIST_SNAPSHOT_BYTES_DEFAULT (1ull << 30)
#define PERSIST_SNAPSHOT_INTERVAL_MS_DEFAULT (3600ull * 1000ull)

/* ------------------------------------------------------------------------------------
 * Process exit codes.
 * ------------------------------------------------------------------------------------ */
/* A write or fdatasync failed: the process exits with this (sysexits EX_IOERR). */
#define PERSIST_EXIT_IO_FAILURE 74
/* Snapshot child stopped by the test crash hook. */
#define PERSIST_EXIT_TEST_CRASH 99

_Static_assert(PERSIST_REC_HEADER_BYTES % PERSIST_REC_ALIGN == 0, "bodies start aligned");
_Static_assert(PERSIST_REC_BYTES_MAX <= PERSIST_BATCH_BYTES_MIN / 4,
               "a batch buffer holds several of the largest records");
_Static_assert(PERSIST_BATCH_BYTES_MIN <= PERSIST_BATCH_BYTES_DEFAULT, "default in range");
_Static_assert(PERSIST_BATCH_BYTES_DEFAULT <= PERSIST_BATCH_BYTES_MAX, "default in range");
_Static_assert(PERSIST_BATCH_BYTES_MAX % PERSIST_REC_ALIGN == 0, "batches stay aligned");
_Static_assert(PERSIST_SEGMENT_BYTES_MIN >= PERSIST_FILE_HEADER_BYTES + PERSIST_REC_BYTES_MAX,
               "a segment holds its header and at least the largest record");
_Static_assert(PERSIST_SEGMENT_BYTES_MIN <= PERSIST_SEGMENT_BYTES_DEFAULT, "default in range");
_Static_assert(PERSIST_SEGMENT_BYTES_DEFAULT <= PERSIST_SEGMENT_BYTES_MAX, "default in range");
_Static_assert(PERSIST_RING_DEPTH >= PERSIST_SQES_PER_BATCH, "a batch fits the ring");
_Static_assert((PERSIST_RING_DEPTH & (PERSIST_RING_DEPTH - 1u)) == 0, "ring depth 2^n");
_Static_assert(PERSIST_BATCHES == 2u, "group commit: one in flight, one filling");
_Static_assert(INV_REC_TYPE_MAX < PERSIST_REC_SNAPSHOT_END, "END is not an engine type");
_Static_assert(INV_SHARDS_MAX <= 0xffffu, "shard numbers fit the u16 header field");
_Static_assert(PERSIST_SNAPSHOT_BUFFER_BYTES >= 4u * PERSIST_REC_BYTES_MAX,
               "the snapshot buffer holds several of the largest records");
_Static_assert(PERSIST_BATCH_BYTES_MAX / PERSIST_REC_HEADER_BYTES < 0xffffffffu,
               "batch_pos fits u32");
_Static_assert(PERSIST_FILE_HEADER_BYTES >= 64u + 8u * INV_SHARDS_MAX,
               "a snapshot header holds every shard's LSN");
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
               "records are stored little-endian with plain loads");

#endif /* INV_PERSIST_CONSTANTS_H */
