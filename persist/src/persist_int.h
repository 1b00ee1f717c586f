/*
 * persist_int.h — persist/'s private interfaces (not installed; tests may include it).
 *
 * Layers, bottom up (each only calls the ones above it in this list):
 *   crc32c.c    checksums
 *   record.c    one framed record in memory (no file descriptors)
 *   io.c        the I/O layer: one io_uring per shard for batches, synchronous helpers
 *               for rare file operations; every I/O result passes the fault hook
 *   segment.c   file names, segment and snapshot headers, directory listing, segment
 *               creation and preallocation
 *   wal.c       one shard's log: append, group commit, durable LSN
 *   scan.c      reading and checking one segment; torn tail versus corruption
 *   snapshot.c  writing a snapshot in a forked child; reading and checking one
 *   recovery.c  putting it together at start; check.c the read-only verifier
 *   persist.c   the public inv_persist object
 */
#ifndef INV_PERSIST_INT_H
#define INV_PERSIST_INT_H

#include <liburing.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "inv_persist.h"
#include "persist_constants.h"
#include "record.h"

/* ====================================================================================
 * Options (persist.c)
 * ==================================================================================== */

/* Copy `in` (NULL: defaults) into `out` with every 0 replaced by its default.
 * @return 0 or -EINVAL (a value out of range). */
int persist_options_resolve(inv_persist_options *out, const inv_persist_options *in);

/* ====================================================================================
 * I/O layer (io.c)
 * ==================================================================================== */

typedef struct io_fault {
    inv_io_fault_fn fn;
    void *ctx;
} io_fault;

enum { IO_OP_WRITE = 1, IO_OP_FSYNC = 2 };

typedef struct io_ring {
    struct io_uring ring;
    bool ready;
    uint32_t shard;
    io_fault fault;
    inv_io_event event[PERSIST_RING_DEPTH]; /* per tag slot: what the hook is told */
} io_ring;

typedef struct io_done {
    uint64_t tag;
    uint32_t op;   /* IO_OP_WRITE, IO_OP_FSYNC */
    int32_t res;   /* bytes written, 0, or -errno (after the fault hook) */
    int32_t want;  /* bytes the write asked for (writes) */
} io_done;

/* @return 0, or -errno (-ENOSYS / -EPERM: no io_uring here). */
int io_ring_open(io_ring *r, uint32_t shard, io_fault fault);
void io_ring_close(io_ring *r);
/* Queue and submit one batch: a write of `len` bytes at `off`, made durable by a linked
 * fdatasync or by RWF_DSYNC. `tag` < PERSIST_RING_DEPTH comes back in every completion.
 * @return completions to expect (1 or 2), or -errno. */
int io_ring_submit_batch(io_ring *r, int fd, const void *buf, uint32_t len, uint64_t off,
                         inv_wal_sync_method method, uint32_t tag, const inv_io_event *ev);
/* One completion. @return 1 (out filled), 0 none (only when !wait), or -errno. */
int io_ring_reap(io_ring *r, bool wait, io_done *out);

/* Synchronous pwrite of all `len` bytes (retrying short writes). @return 0 or -errno. */
int io_file_write(const io_fault *f, uint32_t shard, int fd, const void *buf, size_t len,
                  uint64_t off);
/* fsync (data_only: fdatasync) of a file or directory. @return 0 or -errno. */
int io_file_sync(const io_fault *f, uint32_t shard, int fd, bool data_only);

uint64_t io_now_ns(void);      /* CLOCK_MONOTONIC */
uint64_t io_now_ms(void);      /* CLOCK_MONOTONIC_COARSE */
uint64_t io_wall_ms(void);     /* CLOCK_REALTIME */

/* ====================================================================================
 * Files (segment.c)
 * ==================================================================================== */

#define PERSIST_NAME_MAX 48u
#define PERSIST_LOCK_NAME "LOCK"

typedef struct seg_header {
    uint64_t log_id;
    uint64_t segment;
    uint64_t first_lsn;
    uint64_t segment_bytes;
    uint64_t created_ms;
    uint32_t shard;
    uint32_t shard_count;
} seg_header;

typedef struct snap_header {
    uint64_t log_id;
    uint64_t seq;
    uint64_t created_ms;
    uint32_t shard_count;
    uint64_t lsn[INV_SHARDS_MAX];
} snap_header;

void seg_header_encode(unsigned char *out, const seg_header *h);
/* @return 0 or -EBADMSG (why says what is wrong). */
int seg_header_decode(const unsigned char *in, size_t avail, seg_header *h, char *why,
                      size_t whylen);
void snap_header_encode(unsigned char *out, const snap_header *h);
int snap_header_decode(const unsigned char *in, size_t avail, snap_header *h, char *why,
                       size_t whylen);

void persist_segment_name(char *buf, size_t n, uint32_t shard, uint64_t segment, bool tmp);
void persist_snapshot_name(char *buf, size_t n, uint64_t seq, bool tmp);

typedef enum name_kind {
    NAME_OTHER = 0,
    NAME_SEGMENT,
    NAME_SEGMENT_TMP,
    NAME_SNAPSHOT,
    NAME_SNAPSHOT_TMP,
} name_kind;
name_kind persist_name_parse(const char *name, uint32_t *shard, uint64_t *num);

typedef struct dir_seg {
    uint32_t shard;
    uint64_t segment;
} dir_seg;

/* The persist files of a directory, sorted: segments by (shard, segment), snapshots by
 * sequence. Temporary files are only counted (and named, for removal). */
typedef struct dir_listing {
    dir_seg *segs;
    uint32_t seg_count;
    uint64_t *snaps;
    uint32_t snap_count;
    char (*tmps)[PERSIST_NAME_MAX];
    uint32_t tmp_count;
    uint32_t shard_max_seen;   /* highest shard number in a segment name + 1 */
} dir_listing;

/* @return 0, -E2BIG (more files than the bounds), -errno. */
int dir_listing_read(int dir_fd, dir_listing *out);
void dir_listing_free(dir_listing *l);
/* First and one-past-last index of shard `shard`'s segments in l->segs. */
void dir_listing_shard(const dir_listing *l, uint32_t shard, uint32_t *first, uint32_t *end);

/* Create segment h->segment of shard h->shard: tmp file, preallocate, header, fsync,
 * rename, fsync the directory. @return 0 (fd in *out_fd, open read-write) or -errno. */
int segment_create(int dir_fd, const seg_header *h, inv_wal_prealloc how, const io_fault *f,
                   int *out_fd);
/* Read and check the header of a segment against its name (shard, number).
 * @return 0; -EBADMSG (why); -errno. */
int segment_header_read(int dir_fd, uint32_t shard, uint64_t segment, seg_header *h,
                        uint64_t *file_bytes, char *why, size_t whylen);
/* Extend a (truncated) segment back to `bytes`. @return 0 or -errno. */
int segment_extend(int fd, uint64_t bytes, inv_wal_prealloc how, const io_fault *f,
                   uint32_t shard);

/* ====================================================================================
 * WAL (wal.c)
 * ==================================================================================== */

/* Bytes appended to the log since it was opened (any thread, relaxed). */
uint64_t wal_bytes_appended(const inv_wal *w);

/* ====================================================================================
 * Scanning segments (scan.c)
 * ==================================================================================== */

typedef struct persist_where {
    char file[PERSIST_NAME_MAX];
    uint64_t offset;
    uint64_t lsn;
    char msg[256];
} persist_where;

/* One shard's progress through its segments. */
/* A consumer's hint: the record it will be given a few records from now (any bytes; it
 * may only warm caches). */
typedef void (*persist_prefetch_fn)(void *ctx, uint32_t shard, inv_rec_type type,
                                    const void *body, uint32_t len);

typedef struct scan_shard {
    uint32_t shard;
    uint32_t shard_count;
    uint64_t log_id;
    uint64_t deliver_after;       /* records with a larger LSN go to replay */
    uint64_t expect;              /* next LSN (set from the first segment's header) */
    inv_replay_fn replay;         /* NULL: check only */
    persist_prefetch_fn prefetch; /* NULL: none; else told of records a few ahead */
    void *replay_ctx;
    /* Results. */
    uint32_t segments;
    uint64_t records_seen, bytes_seen;
    uint64_t records, bytes;      /* delivered */
    uint64_t first_lsn, last_lsn; /* delivered */
    uint64_t last_seen_lsn;
    /* Tail of the last segment scanned. */
    uint64_t tail_segment, tail_segment_bytes, tail_file_bytes;
    uint64_t tail_end;            /* end of the last valid record */
    uint64_t tail_garbage_end;    /* end of non-zero bytes after it (== tail_end: none) */
    uint64_t torn_records_dropped;
} scan_shard;

/* Scan one segment whose header `h` was read and checked. `last`: the shard's newest
 * segment (a damaged tail may be a torn write there, nowhere else).
 * @return 0; -EBADMSG corruption (where); -EINVAL the replay refused a record (where);
 *         -errno. */
int scan_segment(int dir_fd, const seg_header *h, bool last, scan_shard *st,
                 persist_where *where);

/* ====================================================================================
 * Snapshots (snapshot.c)
 * ==================================================================================== */

typedef struct snap_info {
    snap_header header;
    uint64_t records;
    uint64_t bytes;
} snap_info;

/* Check snapshot `seq` completely. @return 0 (info filled); -EBADMSG (where); -errno. */
int snapshot_verify(int dir_fd, uint64_t seq, snap_info *info, persist_where *where);
/* Feed a verified snapshot's records to `replay`. @return 0, -EINVAL (where), -errno. */
int snapshot_replay(int dir_fd, uint64_t seq, inv_replay_fn replay, void *ctx,
                    persist_where *where);

/* ====================================================================================
 * The persist object (persist.c) — shared with recovery.c and snapshot.c.
 * ==================================================================================== */

typedef struct persist_snapshot_slot {
    uint64_t seq;                 /* 0: none */
    uint64_t lsn[INV_SHARDS_MAX];
} persist_snapshot_slot;

/* Cross-shard causality state of one shard (causal.c). The two counters are read by
 * every thread; the pending ring belongs to the shard's thread. Padded to its own cache
 * lines so shards do not false-share. */
#define PERSIST_PASS_PENDING_MAX 32u
typedef struct persist_pass_lsn {
    uint64_t pass, lsn;       /* pass P ended with records appended through lsn */
} persist_pass_lsn;

typedef struct persist_causal {
    _Atomic uint64_t pass_seq;   /* the pass being run (or last run) */
    _Atomic uint64_t pass_safe;  /* every record appended through this pass is durable */
    uint32_t head, count;        /* pending: passes whose records are not yet durable */
    persist_pass_lsn pending[PERSIST_PASS_PENDING_MAX];
    char pad_[64];
} persist_causal;

/* inv_persist_recover_with, plus a prefetch hint for the consumer (may be NULL). */
int persist_recover_run(inv_persist *p, inv_replay_fn replay, persist_prefetch_fn prefetch,
                        void *ctx, inv_recovery_report *rep, char *err, size_t errlen);

/* Every shard starts inside pass 1, not yet settled: work done before a thread's first
 * inv_persist_pass_enter still counts as unsettled until its first settle. */
void persist_causal_init(inv_persist *p);

struct inv_persist {
    char dir[4096];
    int dir_fd;
    int lock_fd;
    uint32_t shard_count;
    uint64_t log_id;
    inv_persist_options opt;
    io_fault fault;
    bool recovered;
    inv_wal *wal[INV_SHARDS_MAX];
    persist_causal causal[INV_SHARDS_MAX];

    /* Snapshots (owner thread). */
    int child_pid;                /* 0: none running */
    persist_snapshot_slot running;
    persist_snapshot_slot prev;   /* the newest durable snapshot */
    uint64_t next_seq;
    inv_snapshot_state report;    /* DONE / FAILED not yet reported */
    uint64_t last_snapshot_ms;
    uint64_t bytes_at_last_snapshot;
};

/* Delete the snapshots other than `keep_a`, `keep_b` and the segments the older of the
 * two no longer needs. @return 0 or -errno. */
int persist_gc(inv_persist *p, const persist_snapshot_slot *older, uint64_t newest_seq);

/* Format "file: offset N: LSN L: msg" into err. */
void persist_where_format(const persist_where *w, char *err, size_t errlen);

#endif /* INV_PERSIST_INT_H */
