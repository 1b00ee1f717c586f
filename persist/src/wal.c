/*
 * wal.c — one shard's write-ahead log: append, group commit, durable LSN.
 *
 * Design
 * ------
 * A WAL belongs to its shard's thread: no lock anywhere. It has its own io_uring and two
 * batch buffers. inv_wal_append copies a framed record (record.c) into the filling
 * buffer and returns its LSN; inv_wal_flush, once per loop pass, submits the filling
 * buffer as one write made durable by a linked fdatasync (or RWF_DSYNC), unless a batch
 * is already in flight — then the next one keeps filling (group commit: every record
 * produced while one fdatasync runs rides the next one). With batch_interval_us the
 * next batch also waits until that long after the previous submit (or until half a
 * buffer is waiting): on a box where the shards share their cores with the kernel's
 * write path, each batch costs io-wq wake-ups that preempt a shard, so fewer, larger
 * batches buy throughput for at most the interval in latency (docs/benchmarks.md).
 * inv_wal_poll reaps completions and publishes the durable LSN with a release store, so
 * any thread may test whether a reply may leave. No allocation after open; appends
 * never fail: a full buffer waits for the flight (backpressure), a full segment switches
 * to a new one synchronously (rare: every segment_bytes of log).
 *
 * Durable write (INV_WAL_SYNC_DEFAULT = RWF_DSYNC). Two ways to make a batch durable:
 * a write followed by a linked fdatasync (IOSQE_IO_LINK), or one write with RWF_DSYNC.
 * Measured here (wal_bench, medians of 5–7 runs; figures in persist.c): RWF_DSYNC is
 * ~30 % cheaper per batch (1.5 vs 2.2 ms on zero-filled segments, 2.6 vs 3.8 ms on
 * fallocated ones) and slightly faster saturated (4.5 M vs 4.3 M records/s on 2 shards):
 * one SQE and one io-wq hand-off instead of two, and only the written range is synced.
 * Both stay available (inv_persist_options.sync_method) for other filesystems.
 *
 * Not done yet: recycling segments that snapshots made obsolete (rename instead of
 * unlink) would give fallocate's cheap rotation with zero-fill's cheaper syncs; it needs
 * records of a recycled file's previous life (older LSNs) read as "end of data".
 *
 * Torn-write detection (scan.c) relies on two facts established here:
 *   - at most one batch is in flight, and a batch is submitted only after the previous
 *     one completed durably, so only the newest batch of the log can be partial;
 *   - every record carries batch_pos = lsn − first LSN of its batch, so a reader can tell
 *     whether intact records after a damaged one belong to the same (final) batch.
 * A batch never spans two segments: rotation drains the flight and the filling batch
 * before the next segment is created.
 *
 * State diagram (owner thread; the function that makes each transition):
 *
 *            inv_wal_open
 *   (none) ───────────────► OPEN/IDLE ──inv_wal_append──► OPEN/FILLING
 *                              ▲                                │ inv_wal_flush
 *                              │ inv_wal_poll (last CQE,        ▼   (wal_submit)
 *                              │  nothing filling)        OPEN/IN FLIGHT ◄─┐
 *                              └───────────────────────────────┘ │        │ inv_wal_append
 *                                                                 └────────┘ (fills the other)
 *   OPEN(any) ──wal_rotate (segment full: drain, create next)──► OPEN/IDLE
 *   OPEN(any) ──wal_fail (write/fdatasync error: log, _exit 74)──► FAILED (process gone)
 *   OPEN(any) ──inv_wal_close (wal_drain)──► (none)
 *
 * Invariants:
 *   - durable_lsn ≤ last_lsn; durable_lsn only grows, and only when every CQE of the
 *     batch that ends at it succeeded;
 *   - batch[fill] is never in flight; batch[fill ^ 1] is empty unless in_flight;
 *   - batch[fill].file_off + used ≤ segment_bytes; records in a buffer are contiguous
 *     LSNs starting at first_lsn;
 *   - a failed write or fdatasync is never retried: the process exits (DESIGN.md §6).
 */
#define _GNU_SOURCE
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "persist_int.h"

enum { WAL_OPEN = 1, WAL_FAILED = 2 };

typedef struct wal_batch {
    unsigned char *buf;
    uint32_t used;
    uint32_t records;
    uint64_t first_lsn, last_lsn;
    uint64_t file_off;          /* where buf[0] goes in the current segment */
    uint64_t submit_ns;
} wal_batch;

typedef struct wal_stats_atomic {
    _Atomic uint64_t records, bytes, batches, syncs, sync_ns_total, sync_ns_max;
    _Atomic uint64_t segments_created, rotate_ns_total, append_waits;
} wal_stats_atomic;

struct inv_wal {
    /* Owner thread only. */
    uint32_t shard, shard_count;
    int state;
    inv_persist_options opt;
    io_fault fault;
    int dir_fd;
    int fd;
    uint64_t segment, segment_bytes, log_id;
    wal_batch batch[PERSIST_BATCHES];
    uint32_t fill;
    bool in_flight;
    uint32_t cqes_left;
    uint64_t last_lsn;
    uint64_t last_submit_ns;    /* when the last batch went out (see wal_hold_ns) */
    io_ring io;
    /* Read by any thread. */
    _Alignas(64) _Atomic uint64_t durable_lsn;
    _Atomic uint64_t appended_lsn;
    wal_stats_atomic st;
};

/* Owner-only counter update: a plain store is enough (readers load relaxed). */
static void wal_stat_add(_Atomic uint64_t *c, uint64_t v) {
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v,
                          memory_order_relaxed);
}

/* ====================================================================================
 * Failure: log one line, stop, exit. Never retried (DESIGN.md §6).
 * ==================================================================================== */

static _Noreturn void wal_fail(inv_wal *w, const char *what, int err, const wal_batch *b) {
    w->state = WAL_FAILED;
    char name[PERSIST_NAME_MAX], line[512];
    persist_segment_name(name, sizeof name, w->shard, w->segment, false);
    int n = snprintf(line, sizeof line,
                     "invd: shard %" PRIu32 " WAL %s failed on %s (LSN %" PRIu64 "..%" PRIu64
                     "): %s; writes stopped, exiting with status %d\n",
                     w->shard, what, name, b ? b->first_lsn : 0, b ? b->last_lsn : 0,
                     strerror(-err), PERSIST_EXIT_IO_FAILURE);
    if (n > 0) {
        ssize_t wr = write(STDERR_FILENO, line, (size_t)n < sizeof line ? (size_t)n : sizeof line);
        (void)wr;
    }
    _exit(PERSIST_EXIT_IO_FAILURE);
}

/* ====================================================================================
 * Batches
 * ==================================================================================== */

/* Right before a batch is written: every record decodes, in LSN order, for this shard. */
static void wal_batch_assert(const inv_wal *w, const wal_batch *b) {
#ifndef NDEBUG
    uint64_t lsn = b->first_lsn;
    for (uint32_t off = 0; off < b->used; lsn++) {
        rec_view v;
        rec_result r = rec_decode(b->buf + off, b->used - off, &v);
        assert(r == REC_OK);
        assert(v.lsn == lsn && v.shard == w->shard);
        assert(v.batch_pos == lsn - b->first_lsn);
        off += v.size;
    }
    assert(lsn == b->last_lsn + 1);
#else
    (void)w;
    (void)b;
#endif
}

static void wal_submit(inv_wal *w) {
    assert(!w->in_flight);
    wal_batch *b = &w->batch[w->fill];
    assert(b->used > 0 && b->records > 0);
    wal_batch_assert(w, b);
    inv_io_event ev = {.shard = w->shard, .first_lsn = b->first_lsn,
                       .last_lsn = b->last_lsn, .bytes = b->used};
    b->submit_ns = io_now_ns();
    int n = io_ring_submit_batch(&w->io, w->fd, b->buf, b->used, b->file_off,
                                 w->opt.sync_method, w->fill, &ev);
    if (n < 0) wal_fail(w, "submit", n, b);
    w->cqes_left = (uint32_t)n;
    w->in_flight = true;
    w->last_submit_ns = b->submit_ns;
    wal_stat_add(&w->st.records, b->records);
    wal_stat_add(&w->st.bytes, b->used);
    w->fill ^= 1u;
    wal_batch *nb = &w->batch[w->fill];
    assert(nb->used == 0);
    nb->file_off = b->file_off + b->used;
    nb->records = 0;
    nb->first_lsn = nb->last_lsn = 0;
}

static void wal_on_completion(inv_wal *w, const io_done *d) {
    assert(w->in_flight);
    assert(d->tag == (w->fill ^ 1u));
    wal_batch *b = &w->batch[d->tag];
    if (d->res < 0) wal_fail(w, d->op == IO_OP_WRITE ? "write" : "fdatasync", d->res, b);
    if (d->op == IO_OP_WRITE && (uint32_t)d->res != b->used) wal_fail(w, "short write", -EIO, b);
    assert(w->cqes_left > 0);
    if (--w->cqes_left > 0) return;
    uint64_t ns = io_now_ns() - b->submit_ns;
    wal_stat_add(&w->st.batches, 1);
    wal_stat_add(&w->st.syncs, 1);
    wal_stat_add(&w->st.sync_ns_total, ns);
    if (ns > atomic_load_explicit(&w->st.sync_ns_max, memory_order_relaxed))
        atomic_store_explicit(&w->st.sync_ns_max, ns, memory_order_relaxed);
    atomic_store_explicit(&w->durable_lsn, b->last_lsn, memory_order_release);
    w->in_flight = false;
    b->used = 0;
    b->records = 0;
}

/* Block until the batch in flight (if any) is durable. */
static void wal_wait_flight(inv_wal *w) {
    for (uint32_t i = 0; i < PERSIST_WAIT_LOOPS_MAX && w->in_flight; i++) {
        io_done d;
        int rc = io_ring_reap(&w->io, true, &d);
        if (rc < 0) wal_fail(w, "completion wait", rc, &w->batch[w->fill ^ 1u]);
        if (rc == 1) wal_on_completion(w, &d);
    }
    if (w->in_flight) wal_fail(w, "completion wait", -ETIMEDOUT, &w->batch[w->fill ^ 1u]);
}

/* Make everything appended durable: wait for the flight, submit and wait for the rest. */
static void wal_drain(inv_wal *w) {
    wal_wait_flight(w);
    if (w->batch[w->fill].used > 0) {
        wal_submit(w);
        wal_wait_flight(w);
    }
    assert(!w->in_flight);
    assert(w->batch[w->fill].used == 0);
}

/* ====================================================================================
 * Segments
 * ==================================================================================== */

static int wal_segment_new(inv_wal *w, uint64_t segment) {
    seg_header h = {.log_id = w->log_id, .segment = segment, .first_lsn = w->last_lsn + 1,
                    .segment_bytes = w->opt.segment_bytes, .created_ms = io_wall_ms(),
                    .shard = w->shard, .shard_count = w->shard_count};
    int fd = -1;
    int rc = segment_create(w->dir_fd, &h, w->opt.prealloc, &w->fault, &fd);
    if (rc < 0) return rc;
    if (w->fd >= 0) close(w->fd);
    w->fd = fd;
    w->segment = segment;
    w->segment_bytes = h.segment_bytes;
    wal_batch *b = &w->batch[w->fill];
    assert(b->used == 0);
    b->file_off = PERSIST_FILE_HEADER_BYTES;
    wal_stat_add(&w->st.segments_created, 1);
    return 0;
}

static void wal_rotate(inv_wal *w) {
    uint64_t t0 = io_now_ns();
    wal_drain(w);
    int rc = wal_segment_new(w, w->segment + 1);
    if (rc < 0) wal_fail(w, "segment creation", rc, NULL);
    wal_stat_add(&w->st.rotate_ns_total, io_now_ns() - t0);
    assert(w->batch[w->fill].file_off == PERSIST_FILE_HEADER_BYTES);
}

/* Room for `size` more bytes in the filling batch, in the current segment. */
static void wal_make_room(inv_wal *w, uint32_t size) {
    wal_batch *b = &w->batch[w->fill];
    if (b->file_off + b->used + size > w->segment_bytes) {
        wal_rotate(w);
        return;
    }
    if (b->used + size <= w->opt.batch_bytes) return;
    wal_stat_add(&w->st.append_waits, 1);
    wal_wait_flight(w);
    wal_submit(w);
    assert(w->batch[w->fill].used == 0);
}

/* ====================================================================================
 * Public API
 * ==================================================================================== */

uint64_t inv_wal_append(inv_wal *w, inv_rec_type type, const void *body, uint32_t len) {
    assert(w->state == WAL_OPEN);
    assert(type >= 1 && type <= INV_REC_TYPE_MAX);
    assert(len <= PERSIST_REC_BODY_MAX);
    uint32_t size = rec_size(len);
    wal_make_room(w, size);
    wal_batch *b = &w->batch[w->fill];
    uint64_t lsn = ++w->last_lsn;
    if (b->used == 0) b->first_lsn = lsn;
    rec_encode(b->buf + b->used, lsn, (uint16_t)type, (uint16_t)w->shard,
               (uint32_t)(lsn - b->first_lsn), body, len);
    b->used += size;
    b->records++;
    b->last_lsn = lsn;
    atomic_store_explicit(&w->appended_lsn, lsn, memory_order_relaxed);
    return lsn;
}

uint32_t inv_wal_poll(inv_wal *w) {
    assert(w->state == WAL_OPEN);
    uint32_t n = 0;
    for (uint32_t i = 0; i < PERSIST_RING_DEPTH && w->in_flight; i++) {
        io_done d;
        int rc = io_ring_reap(&w->io, false, &d);
        if (rc < 0) wal_fail(w, "completion", rc, &w->batch[w->fill ^ 1u]);
        if (rc == 0) break;
        wal_on_completion(w, &d);
        n++;
    }
    assert(n <= PERSIST_RING_DEPTH);
    return n;
}

/* How long after the previous submit the next batch is held back, unless half a buffer
 * is waiting: ASYNC, the flush interval; FSYNC, batch_interval_us (0: not at all). */
static uint64_t wal_hold_ns(const inv_wal *w) {
    return w->opt.durability == INV_DURABILITY_ASYNC ? w->opt.async_flush_ms * 1000000ull
                                                     : w->opt.batch_interval_us * 1000ull;
}

int inv_wal_flush(inv_wal *w) {
    assert(w->state == WAL_OPEN);
    if (w->in_flight) inv_wal_poll(w);
    wal_batch *b = &w->batch[w->fill];
    if (w->in_flight || b->used == 0) return 0;
    uint64_t hold_ns = wal_hold_ns(w);
    if (hold_ns > 0 && b->used < w->opt.batch_bytes / 2u &&
        io_now_ns() - w->last_submit_ns < hold_ns)
        return 0;
    wal_submit(w);
    assert(w->in_flight);
    return 1;
}

int inv_wal_sync(inv_wal *w) {
    assert(w->state == WAL_OPEN);
    wal_drain(w);
    assert(atomic_load_explicit(&w->durable_lsn, memory_order_relaxed) == w->last_lsn);
    return 0;
}

uint64_t inv_wal_durable_lsn(const inv_wal *w) {
    return atomic_load_explicit(&((inv_wal *)w)->durable_lsn, memory_order_acquire);
}

uint64_t inv_wal_last_lsn(const inv_wal *w) {
    return atomic_load_explicit(&((inv_wal *)w)->appended_lsn, memory_order_relaxed);
}

uint64_t wal_bytes_appended(const inv_wal *w) {
    return atomic_load_explicit(&((inv_wal *)w)->st.bytes, memory_order_relaxed);
}

void inv_wal_stats_read(const inv_wal *w, inv_wal_stats *out) {
    wal_stats_atomic *s = &((inv_wal *)w)->st;
    out->records = atomic_load_explicit(&s->records, memory_order_relaxed);
    out->bytes = atomic_load_explicit(&s->bytes, memory_order_relaxed);
    out->batches = atomic_load_explicit(&s->batches, memory_order_relaxed);
    out->syncs = atomic_load_explicit(&s->syncs, memory_order_relaxed);
    out->sync_ns_total = atomic_load_explicit(&s->sync_ns_total, memory_order_relaxed);
    out->sync_ns_max = atomic_load_explicit(&s->sync_ns_max, memory_order_relaxed);
    out->segments_created = atomic_load_explicit(&s->segments_created, memory_order_relaxed);
    out->rotate_ns_total = atomic_load_explicit(&s->rotate_ns_total, memory_order_relaxed);
    out->append_waits = atomic_load_explicit(&s->append_waits, memory_order_relaxed);
    out->durable_lsn = inv_wal_durable_lsn(w);
    out->last_lsn = inv_wal_last_lsn(w);
}

/* ====================================================================================
 * Open and close
 * ==================================================================================== */

static int wal_alloc(inv_wal **out, uint32_t shard, uint32_t shard_count,
                     const inv_persist_options *opt) {
    inv_wal *w = calloc(1, sizeof *w);
    if (w == NULL) return -ENOMEM;
    w->shard = shard;
    w->shard_count = shard_count;
    w->opt = *opt;
    w->fault = (io_fault){.fn = opt->fault, .ctx = opt->fault_ctx};
    w->fd = w->dir_fd = -1;
    *out = w;
    for (uint32_t i = 0; i < PERSIST_BATCHES; i++) {
        w->batch[i].buf = aligned_alloc(4096, opt->batch_bytes);
        if (w->batch[i].buf == NULL) return -ENOMEM;
    }
    return io_ring_open(&w->io, shard, w->fault);
}

/* Continue in the last segment if it has room, else start the next one. */
static int wal_position_apply(inv_wal *w, const inv_wal_position *pos) {
    uint64_t id = pos ? pos->log_id : 0;
    for (uint32_t i = 0; i < 8 && id == 0; i++)
        if (getrandom(&id, sizeof id, 0) != (ssize_t)sizeof id) id = 0;
    if (id == 0) return -EIO;
    w->log_id = id;
    w->last_lsn = pos ? pos->last_lsn : 0;
    atomic_store_explicit(&w->durable_lsn, w->last_lsn, memory_order_relaxed);
    atomic_store_explicit(&w->appended_lsn, w->last_lsn, memory_order_relaxed);
    if (pos == NULL || pos->segment == 0) return wal_segment_new(w, 1);
    if (pos->end_offset < PERSIST_FILE_HEADER_BYTES || pos->end_offset % PERSIST_REC_ALIGN ||
        pos->end_offset > pos->segment_bytes)
        return -EINVAL;
    if (pos->end_offset + PERSIST_REC_BYTES_MAX > pos->segment_bytes)
        return wal_segment_new(w, pos->segment + 1);
    char name[PERSIST_NAME_MAX];
    persist_segment_name(name, sizeof name, w->shard, pos->segment, false);
    w->fd = openat(w->dir_fd, name, O_RDWR | O_CLOEXEC);
    if (w->fd < 0) return -errno;
    int rc = segment_extend(w->fd, pos->segment_bytes, w->opt.prealloc, &w->fault, w->shard);
    w->segment = pos->segment;
    w->segment_bytes = pos->segment_bytes;
    w->batch[w->fill].file_off = pos->end_offset;
    return rc;
}

int inv_wal_open(inv_wal **out, const char *dir, uint32_t shard, uint32_t shard_count,
                 const inv_wal_position *pos, const inv_persist_options *opt) {
    assert(out != NULL);
    assert(dir != NULL);
    inv_persist_options o;
    int rc = persist_options_resolve(&o, opt);
    if (rc < 0) return rc;
    if (shard_count == 0 || shard_count > INV_SHARDS_MAX || shard >= shard_count) return -EINVAL;
    inv_wal *w = NULL;
    rc = wal_alloc(&w, shard, shard_count, &o);
    if (rc == 0) {
        w->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (w->dir_fd < 0) rc = -errno;
    }
    if (rc == 0) rc = wal_position_apply(w, pos);
    if (rc < 0) {
        if (w != NULL) w->state = WAL_FAILED;
        inv_wal_close(w);
        return rc;
    }
    w->state = WAL_OPEN;
    /* ASYNC: the first flush interval starts now; FSYNC: the first batch goes at once. */
    w->last_submit_ns = w->opt.durability == INV_DURABILITY_ASYNC ? io_now_ns() : 0;
    *out = w;
    return 0;
}

void inv_wal_close(inv_wal *w) {
    if (w == NULL) return;
    if (w->state == WAL_OPEN) wal_drain(w);
    io_ring_close(&w->io);
    if (w->fd >= 0) close(w->fd);
    if (w->dir_fd >= 0) close(w->dir_fd);
    for (uint32_t i = 0; i < PERSIST_BATCHES; i++) free(w->batch[i].buf);
    free(w);
}
