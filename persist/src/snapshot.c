/*
 * snapshot.c — snapshots: written by a forked child, read and checked at recovery, and
 * the deletion of what a durable snapshot makes unnecessary.
 *
 * Design
 * ------
 * The caller makes the engine quiescent (direct mode, or every shard thread parked at a
 * barrier). inv_persist_snapshot_start_with syncs every shard's WAL — so each shard's LSN
 * recorded in the snapshot is durable, and the log never has a hole below a snapshot —
 * then fork()s. The child owns a copy-on-write image of the engine: it asks the state
 * source (inv_engine_snapshot) to emit every record, frames them with record.c into a
 * 1 MiB buffer and writes them with plain write(2) (no io_uring: the parent's rings are
 * not the child's). The file is snap-N.tmp → fsync → rename to snap-N.snap → fsync the
 * directory, then the child _exits 0. The parent resumed right after fork() and reaps
 * the child with inv_persist_snapshot_poll/wait.
 *
 * File: a 4 KiB header (log id, sequence, shard count, each shard's LSN, CRC), then
 * records numbered 1, 2, … in the LSN field, each with its engine shard, then an END
 * record (type PERSIST_REC_SNAPSHOT_END) holding the record count and byte count; the
 * file must end right after it. Anything else is a damaged snapshot and recovery falls
 * back to the previous one.
 *
 * Retention: two snapshots are kept. Once snapshot N is durable, every snapshot other
 * than N and its predecessor P is deleted, and so is every WAL segment whose records
 * all lie at or below P's LSN for its shard (the newest segment of a shard never goes).
 * So if N turns out damaged, P and the whole log after P are still there.
 *
 * The child cannot outlive its parent by much: PR_SET_PDEATHSIG kills it, and it closes
 * its copy of the directory lock first so a crashed server's lock dies with it.
 *
 * State diagram (parent side; the function that makes each transition):
 *
 *   IDLE ──inv_persist_snapshot_start_with (sync WALs, fork)──► RUNNING
 *   RUNNING ──inv_persist_snapshot_poll/wait (child exit 0: persist_gc)──► DONE ──► IDLE
 *   RUNNING ──inv_persist_snapshot_poll/wait (child failed: unlink tmp)──► FAILED ──► IDLE
 * Child side: snap-N.tmp created ──snapshot_child_write──► complete ──fsync──► durable
 *   ──renameat──► snap-N.snap ──fsync(dir)──► exit 0.
 *
 * Invariants: at most one child; a file named snap-N.snap was fsynced before rename;
 * every shard LSN in a snapshot header is ≤ that shard's durable LSN at fork time.
 */
#define _GNU_SOURCE
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "persist_int.h"

#define SNAP_END_BODY_BYTES 16u
/* Records the child writes before dying, for the torn-write crash step. */
#define SNAP_TORN_AFTER_RECORDS 2u

/* ====================================================================================
 * Writing (child)
 * ==================================================================================== */

typedef struct snap_writer {
    int fd;
    unsigned char *buf;
    uint32_t used;
    uint32_t shard_count;
    uint64_t records;
    uint64_t bytes;          /* record bytes after the header */
    uint64_t file_off;
    uint32_t crash_step;
    io_fault fault;
    int err;
} snap_writer;

static int snap_writer_flush(snap_writer *sw) {
    assert(sw->fd >= 0);
    assert(sw->used <= PERSIST_SNAPSHOT_BUFFER_BYTES);
    if (sw->used == 0) return 0;
    int rc = io_file_write(&sw->fault, UINT32_MAX, sw->fd, sw->buf, sw->used, sw->file_off);
    sw->file_off += sw->used;
    sw->used = 0;
    return rc;
}

static void snap_crash(snap_writer *sw, uint32_t step) {
    if (sw->crash_step != step) return;
    _exit(PERSIST_EXIT_TEST_CRASH);
}

static int snap_put(snap_writer *sw, uint32_t shard, uint16_t type, const void *body,
                    uint32_t len) {
    uint32_t size = rec_size(len);
    if (sw->used + size > PERSIST_SNAPSHOT_BUFFER_BYTES) {
        int rc = snap_writer_flush(sw);
        if (rc < 0) return rc;
    }
    unsigned char *dst = sw->buf + sw->used;
    rec_encode(dst, ++sw->records, type, (uint16_t)shard, 0, body, len);
    rec_view v;
    assert(rec_decode(dst, size, &v) == REC_OK && v.lsn == sw->records);
    (void)v;
    sw->used += size;
    sw->bytes += size;
    return 0;
}

/* inv_snapshot_emit_fn: one record of the state. */
static int snap_emit(void *ctx, uint32_t shard, inv_rec_type type, const void *body,
                     uint32_t len) {
    snap_writer *sw = ctx;
    if (sw->err != 0) return sw->err;
    if (shard >= sw->shard_count || type < 1 || type > INV_REC_TYPE_MAX ||
        len > PERSIST_REC_BODY_MAX || (body == NULL && len > 0)) {
        sw->err = -EINVAL;
        return sw->err;
    }
    sw->err = snap_put(sw, shard, (uint16_t)type, body, len);
    if (sw->crash_step == 6 && sw->records == SNAP_TORN_AFTER_RECORDS) {
        sw->used -= 5; /* the last record's end never reaches the file */
        snap_writer_flush(sw);
        _exit(PERSIST_EXIT_TEST_CRASH);
    }
    return sw->err;
}

static int snap_write_body(snap_writer *sw, const snap_header *h, inv_state_source_fn source,
                           void *ctx) {
    unsigned char hdr[PERSIST_FILE_HEADER_BYTES];
    snap_header_encode(hdr, h);
    int rc = io_file_write(&sw->fault, UINT32_MAX, sw->fd, hdr, sizeof hdr, 0);
    sw->file_off = PERSIST_FILE_HEADER_BYTES;
    if (rc == 0) rc = source(ctx, snap_emit, sw);
    if (rc == 0) rc = sw->err;
    if (rc == 0) rc = snap_writer_flush(sw);
    snap_crash(sw, 1);
    unsigned char end[SNAP_END_BODY_BYTES];
    uint64_t records = sw->records, bytes = sw->bytes;
    memcpy(end, &records, 8);
    memcpy(end + 8, &bytes, 8);
    if (rc == 0) rc = snap_put(sw, 0, PERSIST_REC_SNAPSHOT_END, end, sizeof end);
    if (rc == 0) rc = snap_writer_flush(sw);
    return rc;
}

/* Runs in the child. @return 0 or -errno. */
static int snapshot_child_write(inv_persist *p, const snap_header *h,
                                inv_state_source_fn source, void *ctx) {
    char tmp[PERSIST_NAME_MAX], name[PERSIST_NAME_MAX];
    persist_snapshot_name(tmp, sizeof tmp, h->seq, true);
    persist_snapshot_name(name, sizeof name, h->seq, false);
    snap_writer sw = {.shard_count = h->shard_count, .crash_step = p->opt.test_snapshot_crash_step,
                      .fault = p->fault};
    sw.buf = malloc(PERSIST_SNAPSHOT_BUFFER_BYTES);
    sw.fd = openat(p->dir_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (sw.buf == NULL || sw.fd < 0) return -ENOMEM;
    int rc = snap_write_body(&sw, h, source, ctx);
    snap_crash(&sw, 2);
    if (rc == 0) rc = io_file_sync(&sw.fault, UINT32_MAX, sw.fd, false);
    snap_crash(&sw, 3);
    if (rc == 0 && renameat(p->dir_fd, tmp, p->dir_fd, name) < 0) rc = -errno;
    snap_crash(&sw, 4);
    if (rc == 0) rc = io_file_sync(&sw.fault, UINT32_MAX, p->dir_fd, false);
    snap_crash(&sw, 5);
    close(sw.fd);
    free(sw.buf);
    return rc;
}

static _Noreturn void snapshot_child(inv_persist *p, pid_t parent, const snap_header *h,
                                     inv_state_source_fn source, void *ctx) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(1);
    if (p->lock_fd >= 0) close(p->lock_fd);
    int rc = snapshot_child_write(p, h, source, ctx);
    if (rc < 0) {
        char line[200];
        int n = snprintf(line, sizeof line, "invd: snapshot %" PRIu64 " failed: %s\n", h->seq,
                         strerror(-rc));
        if (n > 0) {
            ssize_t wr = write(STDERR_FILENO, line, (size_t)n);
            (void)wr;
        }
    }
    _exit(rc == 0 ? 0 : 1);
}

/* ====================================================================================
 * Parent side
 * ==================================================================================== */

int inv_persist_snapshot_start_with(inv_persist *p, inv_state_source_fn source, void *ctx) {
    assert(p->recovered);
    assert(source != NULL);
    if (p->child_pid > 0) return -EBUSY;
    snap_header h = {.log_id = p->log_id, .seq = p->next_seq, .created_ms = io_wall_ms(),
                     .shard_count = p->shard_count};
    uint64_t bytes = 0;
    for (uint32_t s = 0; s < p->shard_count; s++) {
        inv_wal_sync(p->wal[s]);
        h.lsn[s] = inv_wal_last_lsn(p->wal[s]);
        assert(inv_wal_durable_lsn(p->wal[s]) == h.lsn[s]);
        bytes += wal_bytes_appended(p->wal[s]);
    }
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) return -errno;
    if (pid == 0) snapshot_child(p, parent, &h, source, ctx);
    p->child_pid = pid;
    p->running.seq = h.seq;
    memcpy(p->running.lsn, h.lsn, sizeof h.lsn);
    p->next_seq++;
    p->last_snapshot_ms = io_now_ms();
    p->bytes_at_last_snapshot = bytes;
    return 0;
}

static inv_snapshot_state snapshot_finish(inv_persist *p, int status) {
    assert(p->child_pid > 0);
    p->child_pid = 0;
    bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (!ok) {
        char tmp[PERSIST_NAME_MAX];
        persist_snapshot_name(tmp, sizeof tmp, p->running.seq, true);
        unlinkat(p->dir_fd, tmp, 0);
        fprintf(stderr, "invd: snapshot %" PRIu64 " failed (child %s %d); the log is kept\n",
                p->running.seq, WIFEXITED(status) ? "exit" : "signal",
                WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
        return INV_SNAPSHOT_FAILED;
    }
    persist_snapshot_slot older = p->prev;
    p->prev = p->running;
    int rc = persist_gc(p, &older, p->running.seq);
    if (rc < 0) fprintf(stderr, "invd: cleaning after snapshot %" PRIu64 ": %s\n",
                        p->running.seq, strerror(-rc));
    return INV_SNAPSHOT_DONE;
}

inv_snapshot_state inv_persist_snapshot_poll(inv_persist *p) {
    assert(p != NULL);
    if (p->child_pid <= 0) return INV_SNAPSHOT_IDLE;
    int status = 0;
    pid_t r = waitpid(p->child_pid, &status, WNOHANG);
    if (r == 0 || (r < 0 && errno == EINTR)) return INV_SNAPSHOT_RUNNING;
    if (r < 0) status = 1 << 8; /* lost child: count as failed */
    return snapshot_finish(p, status);
}

inv_snapshot_state inv_persist_snapshot_wait(inv_persist *p) {
    assert(p != NULL);
    if (p->child_pid <= 0) return INV_SNAPSHOT_IDLE;
    int status = 0;
    pid_t r = -1;
    for (uint32_t i = 0; i < PERSIST_WAIT_LOOPS_MAX; i++) {
        r = waitpid(p->child_pid, &status, 0);
        if (r >= 0 || errno != EINTR) break;
    }
    if (r < 0) status = 1 << 8;
    return snapshot_finish(p, status);
}

bool inv_persist_snapshot_due(const inv_persist *p) {
    assert(p != NULL);
    if (!p->recovered || p->child_pid > 0) return false;
    uint64_t bytes = 0;
    for (uint32_t s = 0; s < p->shard_count; s++) bytes += wal_bytes_appended(p->wal[s]);
    if (p->opt.snapshot_bytes > 0 && bytes - p->bytes_at_last_snapshot >= p->opt.snapshot_bytes)
        return true;
    return p->opt.snapshot_interval_ms > 0 &&
           io_now_ms() - p->last_snapshot_ms >= p->opt.snapshot_interval_ms;
}

/* ====================================================================================
 * Deleting what the newest durable snapshot made unnecessary
 * ==================================================================================== */

/* Delete shard s's segments whose records are all ≤ keep_lsn (never the newest). */
static uint32_t gc_shard(inv_persist *p, const dir_listing *l, uint32_t s, uint64_t keep_lsn) {
    uint32_t first, end, deleted = 0;
    dir_listing_shard(l, s, &first, &end);
    for (uint32_t i = first; i + 1 < end; i++) {
        seg_header next;
        char why[128];
        if (segment_header_read(p->dir_fd, s, l->segs[i + 1].segment, &next, NULL, why,
                                sizeof why) < 0)
            break;
        if (next.first_lsn > keep_lsn + 1) break;
        char name[PERSIST_NAME_MAX];
        persist_segment_name(name, sizeof name, s, l->segs[i].segment, false);
        if (unlinkat(p->dir_fd, name, 0) == 0) deleted++;
    }
    return deleted;
}

int persist_gc(inv_persist *p, const persist_snapshot_slot *older, uint64_t newest_seq) {
    assert(p != NULL && older != NULL);
    assert(newest_seq > 0);
    dir_listing l;
    int rc = dir_listing_read(p->dir_fd, &l);
    if (rc < 0) return rc;
    uint32_t deleted = 0;
    for (uint32_t s = 0; older->seq != 0 && s < p->shard_count; s++)
        deleted += gc_shard(p, &l, s, older->lsn[s]);
    for (uint32_t i = 0; i < l.snap_count; i++) {
        if (l.snaps[i] == newest_seq || l.snaps[i] == older->seq) continue;
        if (l.snaps[i] > newest_seq) continue;
        char name[PERSIST_NAME_MAX];
        persist_snapshot_name(name, sizeof name, l.snaps[i], false);
        if (unlinkat(p->dir_fd, name, 0) == 0) deleted++;
    }
    dir_listing_free(&l);
    if (deleted > 0) rc = io_file_sync(&p->fault, UINT32_MAX, p->dir_fd, false);
    return rc;
}

/* ====================================================================================
 * Reading
 * ==================================================================================== */

typedef struct snap_read {
    const unsigned char *p;
    uint64_t size;
    char name[PERSIST_NAME_MAX];
} snap_read;

static int snap_refuse(persist_where *w, const snap_read *m, uint64_t off, uint64_t lsn,
                       const char *msg) {
    snprintf(w->file, sizeof w->file, "%s", m->name);
    w->offset = off;
    w->lsn = lsn;
    snprintf(w->msg, sizeof w->msg, "%s", msg);
    return -EBADMSG;
}

/* Check the END record at `off` (whose LSN is `n`). */
static int snap_end_check(const snap_read *m, uint64_t off, const rec_view *v, snap_info *info,
                          persist_where *w) {
    uint64_t records, bytes;
    if (v->body_len != SNAP_END_BODY_BYTES) return snap_refuse(w, m, off, v->lsn, "bad trailer");
    memcpy(&records, v->body, 8);
    memcpy(&bytes, v->body + 8, 8);
    if (records != v->lsn - 1 || bytes != off - PERSIST_FILE_HEADER_BYTES)
        return snap_refuse(w, m, off, v->lsn, "trailer does not match the records");
    if (off + v->size != m->size) return snap_refuse(w, m, off, v->lsn, "bytes after the trailer");
    info->records = records;
    info->bytes = m->size;
    return 0;
}

/* Walk every record; with `replay`, deliver them (the file was verified before). */
static int snap_walk(const snap_read *m, snap_info *info, inv_replay_fn replay, void *ctx,
                     persist_where *w) {
    uint64_t off = PERSIST_FILE_HEADER_BYTES;
    for (uint64_t n = 1; off < m->size; n++) {
        __builtin_prefetch(m->p + off + 2048);
        rec_view v;
        rec_result r = rec_decode(m->p + off, m->size - off, &v);
        if (r != REC_OK) return snap_refuse(w, m, off, n, rec_result_name(r));
        if (v.lsn != n) return snap_refuse(w, m, off, n, "record out of sequence");
        if (v.type == PERSIST_REC_SNAPSHOT_END) return snap_end_check(m, off, &v, info, w);
        if (v.type < 1 || v.type > INV_REC_TYPE_MAX || v.shard >= info->header.shard_count)
            return snap_refuse(w, m, off, n, "bad record type or shard");
        assert(v.lsn == n && v.size == rec_size(v.body_len)); /* read back: as written */
        if (replay != NULL) {
            char err[200] = "";
            if (replay(ctx, v.shard, (inv_rec_type)v.type, v.body, v.body_len, err, sizeof err)) {
                snap_refuse(w, m, off, n, "");
                snprintf(w->msg, sizeof w->msg, "engine refused the record: %s", err);
                return -EINVAL;
            }
        }
        off += v.size;
    }
    return snap_refuse(w, m, off, 0, "no trailer (incomplete snapshot)");
}

static int snap_open(int dir_fd, uint64_t seq, snap_read *m, snap_info *info, persist_where *w) {
    persist_snapshot_name(m->name, sizeof m->name, seq, false);
    int fd = openat(dir_fd, m->name, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -errno;
    struct stat sb;
    int rc = fstat(fd, &sb) < 0 ? -errno : 0;
    m->size = (uint64_t)sb.st_size;
    if (rc == 0 && m->size < PERSIST_FILE_HEADER_BYTES)
        rc = snap_refuse(w, m, 0, 0, "shorter than a header");
    void *p = rc == 0 ? mmap(NULL, (size_t)m->size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0)
                      : MAP_FAILED;
    if (rc == 0 && p == MAP_FAILED) rc = -errno;
    close(fd);
    if (rc < 0) return rc;
    m->p = p;
    madvise(p, (size_t)m->size, MADV_SEQUENTIAL);
    char why[128];
    if (snap_header_decode(m->p, (size_t)m->size, &info->header, why, sizeof why) < 0 ||
        info->header.seq != seq) {
        if (info->header.seq != seq) snprintf(why, sizeof why, "header names another sequence");
        rc = snap_refuse(w, m, 0, 0, why);
        munmap(p, (size_t)m->size);
    }
    return rc;
}

int snapshot_verify(int dir_fd, uint64_t seq, snap_info *info, persist_where *where) {
    assert(info != NULL && where != NULL);
    snap_read m = {0};
    memset(info, 0, sizeof *info);
    int rc = snap_open(dir_fd, seq, &m, info, where);
    if (rc < 0) return rc;
    rc = snap_walk(&m, info, NULL, NULL, where);
    munmap((void *)m.p, (size_t)m.size);
    return rc;
}

int snapshot_replay(int dir_fd, uint64_t seq, inv_replay_fn replay, void *ctx,
                    persist_where *where) {
    assert(replay != NULL && where != NULL);
    snap_read m = {0};
    snap_info info;
    memset(&info, 0, sizeof info);
    int rc = snap_open(dir_fd, seq, &m, &info, where);
    if (rc < 0) return rc;
    rc = snap_walk(&m, &info, replay, ctx, where);
    munmap((void *)m.p, (size_t)m.size);
    return rc;
}
