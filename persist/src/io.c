/*
 * io.c — the I/O layer of persist/: one io_uring per shard for group-commit batches,
 * and synchronous helpers for the rare file operations (segment creation, tail repair,
 * snapshot files, directory fsyncs).
 *
 * Design: a batch is one write of the whole buffer, made durable either by a linked
 * fdatasync (IOSQE_IO_LINK: the fdatasync starts only after the write succeeded, and is
 * cancelled if it failed) or by RWF_DSYNC on the write itself. Each SQE carries in its
 * user_data the batch's tag (its slot), the operation and the event kind; the event
 * (shard, LSN range, bytes) sits in r->event[tag] until the completion comes back.
 *
 * Fault injection: every completion — ring or synchronous — is shown to the fault hook
 * (inv_persist_options.fault), which may replace its result by a negative errno. The
 * I/O has still been done; only its outcome is falsified, exactly what an EIO from
 * fdatasync looks like to the caller.
 *
 * State diagram of a ring:
 *
 *   CLOSED ──io_ring_open──► READY ──io_ring_submit_batch──► IN FLIGHT (1–2 CQEs)
 *      ▲                       ▲  ◄──io_ring_reap (last CQE)────────┘
 *      └────io_ring_close──────┘
 *
 * Invariants: never more SQEs outstanding than PERSIST_RING_DEPTH; a completion's tag
 * is one that was submitted; the hook sees every completion exactly once.
 */
#include <assert.h>
#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "persist_int.h"

#define IO_TAG_BITS 8u
#define IO_OP_SHIFT 8u
#define IO_KIND_SHIFT 16u
/* Synchronous writes retry short writes at most this often (each wrote ≥ 1 byte). */
#define IO_WRITE_LOOPS_MAX (1u << 20)

_Static_assert(PERSIST_RING_DEPTH <= (1u << IO_TAG_BITS), "tags fit user_data");

/* ====================================================================================
 * Clocks
 * ==================================================================================== */

static uint64_t io_clock(clockid_t id, uint64_t div) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return ((uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec) / div;
}

uint64_t io_now_ns(void) { return io_clock(CLOCK_MONOTONIC, 1); }
uint64_t io_now_ms(void) { return io_clock(CLOCK_MONOTONIC_COARSE, 1000000ull); }
uint64_t io_wall_ms(void) { return io_clock(CLOCK_REALTIME, 1000000ull); }

/* ====================================================================================
 * Fault hook
 * ==================================================================================== */

static int io_fault_apply(const io_fault *f, const inv_io_event *ev, int res) {
    assert(f != NULL);
    assert(ev->kind >= INV_IO_WAL_WRITE && ev->kind <= INV_IO_FILE_SYNC);
    if (f->fn == NULL) return res;
    int injected = f->fn(f->ctx, ev);
    assert(injected <= 0);
    return injected < 0 ? injected : res;
}

/* ====================================================================================
 * The ring
 * ==================================================================================== */

int io_ring_open(io_ring *r, uint32_t shard, io_fault fault) {
    assert(r != NULL);
    assert(!r->ready);
    memset(r, 0, sizeof *r);
    int rc = io_uring_queue_init(PERSIST_RING_DEPTH, &r->ring, 0);
    if (rc < 0) return rc;
    r->ready = true;
    r->shard = shard;
    r->fault = fault;
    return 0;
}

void io_ring_close(io_ring *r) {
    assert(r != NULL);
    if (!r->ready) return;
    io_uring_queue_exit(&r->ring);
    r->ready = false;
}

static uint64_t io_user_data(uint32_t tag, uint32_t op, inv_io_kind kind) {
    return (uint64_t)tag | ((uint64_t)op << IO_OP_SHIFT) | ((uint64_t)kind << IO_KIND_SHIFT);
}

int io_ring_submit_batch(io_ring *r, int fd, const void *buf, uint32_t len, uint64_t off,
                         inv_wal_sync_method method, uint32_t tag, const inv_io_event *ev) {
    assert(r->ready);
    assert(tag < PERSIST_RING_DEPTH);
    assert(method == INV_WAL_SYNC_FDATASYNC || method == INV_WAL_SYNC_DSYNC);
    r->event[tag] = *ev;
    struct io_uring_sqe *w = io_uring_get_sqe(&r->ring);
    if (w == NULL) return -EBUSY;
    io_uring_prep_write(w, fd, buf, len, off);
    int expect = 1;
    if (method == INV_WAL_SYNC_DSYNC) {
        w->rw_flags = RWF_DSYNC;
        io_uring_sqe_set_data64(w, io_user_data(tag, IO_OP_WRITE, INV_IO_WAL_DSYNC_WRITE));
    } else {
        struct io_uring_sqe *s = io_uring_get_sqe(&r->ring);
        if (s == NULL) return -EBUSY;
        io_uring_sqe_set_data64(w, io_user_data(tag, IO_OP_WRITE, INV_IO_WAL_WRITE));
        w->flags |= IOSQE_IO_LINK;
        io_uring_prep_fsync(s, fd, IORING_FSYNC_DATASYNC);
        io_uring_sqe_set_data64(s, io_user_data(tag, IO_OP_FSYNC, INV_IO_WAL_FDATASYNC));
        expect = 2;
    }
    int rc = io_uring_submit(&r->ring);
    if (rc < 0) return rc;
    if (rc != expect) return -EIO;
    return expect;
}

int io_ring_reap(io_ring *r, bool wait, io_done *out) {
    assert(r->ready);
    assert(out != NULL);
    struct io_uring_cqe *cqe = NULL;
    int rc = wait ? io_uring_wait_cqe(&r->ring, &cqe) : io_uring_peek_cqe(&r->ring, &cqe);
    if (rc == -EAGAIN || (rc == 0 && cqe == NULL)) return wait ? -EIO : 0;
    if (rc == -EINTR) return 0;
    if (rc < 0) return rc;
    uint64_t ud = io_uring_cqe_get_data64(cqe);
    int res = cqe->res;
    io_uring_cqe_seen(&r->ring, cqe);
    uint32_t tag = (uint32_t)(ud & ((1u << IO_TAG_BITS) - 1u));
    assert(tag < PERSIST_RING_DEPTH);
    inv_io_event ev = r->event[tag];
    ev.kind = (inv_io_kind)((ud >> IO_KIND_SHIFT) & 0xffu);
    out->tag = tag;
    out->op = (uint32_t)((ud >> IO_OP_SHIFT) & 0xffu);
    out->want = (int32_t)ev.bytes;
    out->res = io_fault_apply(&r->fault, &ev, res);
    return 1;
}

/* ====================================================================================
 * Synchronous helpers
 * ==================================================================================== */

int io_file_write(const io_fault *f, uint32_t shard, int fd, const void *buf, size_t len,
                  uint64_t off) {
    assert(fd >= 0);
    assert(buf != NULL || len == 0);
    const unsigned char *p = buf;
    size_t done = 0;
    int rc = 0;
    for (uint32_t i = 0; i < IO_WRITE_LOOPS_MAX && done < len; i++) {
        ssize_t n = pwrite(fd, p + done, len - done, (off_t)(off + done));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) { rc = -errno; break; }
        if (n == 0) { rc = -EIO; break; }
        done += (size_t)n;
    }
    if (rc == 0 && done < len) rc = -EIO;
    inv_io_event ev = {.kind = INV_IO_FILE_WRITE, .shard = shard, .bytes = len};
    return io_fault_apply(f, &ev, rc);
}

int io_file_sync(const io_fault *f, uint32_t shard, int fd, bool data_only) {
    assert(f != NULL);
    assert(fd >= 0);
    int rc = data_only ? fdatasync(fd) : fsync(fd);
    if (rc < 0) rc = -errno;
    inv_io_event ev = {.kind = INV_IO_FILE_SYNC, .shard = shard};
    return io_fault_apply(f, &ev, rc);
}
