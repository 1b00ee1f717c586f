/*
 * recovery.c — start-up: from the files in the directory back to an engine and open
 * logs (DESIGN.md §6).
 *
 * Design
 * ------
 *   1. List the directory; delete *.tmp leftovers (a segment or snapshot whose creation
 *      a crash interrupted: neither was ever renamed into place, so nothing refers to
 *      them).
 *   2. Read every segment header and check it against its name, the log id shared by
 *      every file of the directory, and the shard count. A copied, renamed or foreign
 *      file is refused here, before anything is replayed.
 *   3. Choose the newest snapshot that verifies completely (every record's CRC, the
 *      trailer) and whose shards' logs reach back to its LSNs; a damaged one is skipped
 *      with a warning and the previous one is tried. No snapshot: every shard's log must
 *      start at LSN 1.
 *   4. Replay the snapshot, then each shard's log after the snapshot's LSN for that
 *      shard (scan.c checks every record and decides torn tail versus corruption).
 *      Shards are replayed one after the other: records of different shards commute
 *      (DESIGN.md §6), and each log declares the names it uses before using them.
 *   5. Only when every shard has been read without a refusal, cut torn tails: zero the
 *      damaged bytes and fdatasync, so that neither a later recovery nor an append
 *      can ever see them again.
 *   6. Open each shard's WAL where its log ends (same segment if it has room), with
 *      next LSN = max(last LSN in the log, snapshot LSN) + 1.
 *
 * State diagram (inv_persist; the function that makes each transition):
 *
 *   OPENED ──inv_persist_recover_with: rec_headers / rec_snapshot_choose /
 *            rec_shard_scan ──► (refused: -EBADMSG / -EINVAL, still OPENED, nothing
 *            on disk changed except *.tmp removal)
 *   OPENED ──… rec_tails_repair, rec_wals_open──► RECOVERED (WALs open, appends allowed)
 *
 * Invariants: nothing is modified on disk before every check passed (except *.tmp
 * removal); every record delivered has an LSN above its shard's snapshot LSN, in
 * order, once.
 */
#define _GNU_SOURCE
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "persist_int.h"

typedef struct recovery {
    inv_persist *p;
    dir_listing l;
    seg_header *hdrs;             /* parallel to l.segs */
    snap_info snap;               /* chosen; header.seq == 0: none */
    scan_shard st[INV_SHARDS_MAX];
    persist_where where;
    inv_recovery_report *rep;
} recovery;

void persist_where_format(const persist_where *w, char *err, size_t errlen) {
    if (err == NULL || errlen == 0) return;
    snprintf(err, errlen, "%s: offset %" PRIu64 ": LSN %" PRIu64 ": %s", w->file, w->offset,
             w->lsn, w->msg);
}

static int rec_refuse(recovery *r, const char *file, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int rec_refuse(recovery *r, const char *file, int rc, const char *fmt, ...) {
    snprintf(r->where.file, sizeof r->where.file, "%s", file);
    r->where.offset = 0;
    r->where.lsn = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->where.msg, sizeof r->where.msg, fmt, ap);
    va_end(ap);
    return rc;
}

/* ====================================================================================
 * Steps 1–2: leftovers and headers
 * ==================================================================================== */

static void rec_tmps_remove(recovery *r) {
    for (uint32_t i = 0; i < r->l.tmp_count; i++) unlinkat(r->p->dir_fd, r->l.tmps[i], 0);
    if (r->l.tmp_count > 0) io_file_sync(&r->p->fault, UINT32_MAX, r->p->dir_fd, false);
}

static int rec_header_one(recovery *r, uint32_t i) {
    const dir_seg *d = &r->l.segs[i];
    char name[PERSIST_NAME_MAX], why[160];
    persist_segment_name(name, sizeof name, d->shard, d->segment, false);
    if (d->shard >= r->p->shard_count)
        return rec_refuse(r, name, -EINVAL, "a segment of shard %" PRIu32
                          " in a directory of %" PRIu32 " shards", d->shard, r->p->shard_count);
    int rc = segment_header_read(r->p->dir_fd, d->shard, d->segment, &r->hdrs[i], NULL, why,
                                 sizeof why);
    if (rc == -EBADMSG) return rec_refuse(r, name, rc, "%s", why);
    if (rc < 0) return rc;
    const seg_header *h = &r->hdrs[i];
    if (h->shard_count != r->p->shard_count)
        return rec_refuse(r, name, -EINVAL, "written by an engine of %" PRIu32
                          " shards, opened with %" PRIu32, h->shard_count, r->p->shard_count);
    if (r->p->log_id == 0) r->p->log_id = h->log_id;
    if (h->log_id != r->p->log_id)
        return rec_refuse(r, name, -EBADMSG, "belongs to another log (id %016" PRIx64
                          ", directory %016" PRIx64 ")", h->log_id, r->p->log_id);
    return 0;
}

static int rec_headers(recovery *r) {
    r->hdrs = calloc(r->l.seg_count + 1u, sizeof *r->hdrs);
    if (r->hdrs == NULL) return -ENOMEM;
    for (uint32_t i = 0; i < r->l.seg_count; i++) {
        int rc = rec_header_one(r, i);
        if (rc < 0) return rc;
    }
    return 0;
}

/* ====================================================================================
 * Step 3: the snapshot
 * ==================================================================================== */

/* Whether every shard's log reaches back to lsn[s] + 1. */
static bool rec_covers(const recovery *r, const uint64_t *lsn, uint32_t *bad_shard) {
    for (uint32_t s = 0; s < r->p->shard_count; s++) {
        uint32_t first, end;
        dir_listing_shard(&r->l, s, &first, &end);
        if (first < end && r->hdrs[first].first_lsn > lsn[s] + 1) {
            *bad_shard = s;
            return false;
        }
    }
    return true;
}

static int rec_snapshot_try(recovery *r, uint64_t seq, bool *usable) {
    persist_where w = {0};
    snap_info info;
    int rc = snapshot_verify(r->p->dir_fd, seq, &info, &w);
    *usable = false;
    if (rc == -EBADMSG || (rc == 0 && r->p->log_id != 0 && info.header.log_id != r->p->log_id)) {
        if (rc == 0) snprintf(w.msg, sizeof w.msg, "belongs to another log");
        char msg[400];
        persist_where_format(&w, msg, sizeof msg);
        fprintf(stderr, "invd: damaged snapshot: %s; trying the previous one\n", msg);
        r->rep->snapshots_rejected++;
        return 0;
    }
    if (rc < 0) return rc;
    char name[PERSIST_NAME_MAX];
    persist_snapshot_name(name, sizeof name, seq, false);
    if (info.header.shard_count != r->p->shard_count)
        return rec_refuse(r, name, -EINVAL, "taken with %" PRIu32 " shards, opened with %" PRIu32,
                          info.header.shard_count, r->p->shard_count);
    uint32_t bad = 0;
    if (!rec_covers(r, info.header.lsn, &bad)) {
        fprintf(stderr, "invd: snapshot %s unusable: shard %" PRIu32 "'s log starts after it\n",
                name, bad);
        r->rep->snapshots_rejected++;
        return 0;
    }
    r->snap = info;
    *usable = true;
    return 0;
}

static int rec_snapshot_choose(recovery *r) {
    memset(&r->snap, 0, sizeof r->snap);
    for (uint32_t i = r->l.snap_count; i > 0; i--) {
        bool usable = false;
        int rc = rec_snapshot_try(r, r->l.snaps[i - 1], &usable);
        if (rc < 0) return rc;
        if (usable) {
            if (r->p->log_id == 0) r->p->log_id = r->snap.header.log_id;
            return 0;
        }
    }
    uint64_t zero[INV_SHARDS_MAX] = {0};
    uint32_t bad = 0;
    if (!rec_covers(r, zero, &bad)) {
        char name[PERSIST_NAME_MAX];
        uint32_t first, end;
        dir_listing_shard(&r->l, bad, &first, &end);
        persist_segment_name(name, sizeof name, bad, r->l.segs[first].segment, false);
        return rec_refuse(r, name, -EBADMSG, "no usable snapshot, and the log starts at LSN %"
                          PRIu64 " (shard %" PRIu32 ")", r->hdrs[first].first_lsn, bad);
    }
    return 0;
}

/* ====================================================================================
 * Step 4: each shard's log
 * ==================================================================================== */

static int rec_shard_scan(recovery *r, uint32_t s, inv_replay_fn replay,
                          persist_prefetch_fn prefetch, void *ctx) {
    scan_shard *st = &r->st[s];
    memset(st, 0, sizeof *st);
    st->shard = s;
    st->shard_count = r->p->shard_count;
    st->log_id = r->p->log_id;
    st->deliver_after = r->snap.header.lsn[s];
    st->replay = replay;
    st->prefetch = replay != NULL ? prefetch : NULL;
    st->replay_ctx = ctx;
    uint32_t first, end;
    dir_listing_shard(&r->l, s, &first, &end);
    /* Skip segments whose records all lie at or below the snapshot. */
    while (first + 1 < end && r->hdrs[first + 1].first_lsn <= st->deliver_after + 1) first++;
    for (uint32_t i = first; i < end; i++) {
        int rc = scan_segment(r->p->dir_fd, &r->hdrs[i], i + 1 == end, st, &r->where);
        if (rc < 0) return rc;
    }
    assert(st->records == 0 || st->first_lsn > st->deliver_after);
    return 0;
}

/* ====================================================================================
 * Steps 5–6: repair tails, open the logs
 * ==================================================================================== */

static int rec_tail_repair(recovery *r, uint32_t s) {
    scan_shard *st = &r->st[s];
    if (st->segments == 0 || st->tail_garbage_end <= st->tail_end) return 0;
    static const unsigned char zeros[1u << 16];
    char name[PERSIST_NAME_MAX];
    persist_segment_name(name, sizeof name, s, st->tail_segment, false);
    int fd = openat(r->p->dir_fd, name, O_RDWR | O_CLOEXEC);
    if (fd < 0) return -errno;
    int rc = 0;
    for (uint64_t off = st->tail_end; rc == 0 && off < st->tail_garbage_end; off += sizeof zeros) {
        uint64_t n = st->tail_garbage_end - off;
        if (n > sizeof zeros) n = sizeof zeros;
        rc = io_file_write(&r->p->fault, s, fd, zeros, (size_t)n, off);
    }
    if (rc == 0) rc = io_file_sync(&r->p->fault, s, fd, true);
    close(fd);
    if (st->torn_records_dropped > 0)
        fprintf(stderr, "invd: %s: cut a torn tail at offset %" PRIu64 " (%" PRIu64
                " bytes, %" PRIu64 " intact records of the unfinished batch dropped)\n", name,
                st->tail_end, st->tail_garbage_end - st->tail_end, st->torn_records_dropped);
    return rc;
}

static int rec_wals_open(recovery *r) {
    for (uint32_t s = 0; s < r->p->shard_count; s++) {
        const scan_shard *st = &r->st[s];
        uint64_t last = st->expect > 0 ? st->expect - 1 : 0;
        if (r->snap.header.lsn[s] > last) last = r->snap.header.lsn[s];
        inv_wal_position pos = {.log_id = r->p->log_id, .segment = st->tail_segment,
                                .segment_bytes = st->tail_segment_bytes,
                                .end_offset = st->tail_end, .last_lsn = last};
        int rc = inv_wal_open(&r->p->wal[s], r->p->dir, s, r->p->shard_count, &pos, &r->p->opt);
        if (rc < 0) return rc;
    }
    return 0;
}

static void rec_report(recovery *r, uint64_t t0) {
    inv_recovery_report *rep = r->rep;
    rep->shard_count = r->p->shard_count;
    rep->snapshot_seq = r->snap.header.seq;
    rep->snapshot_records = r->snap.records;
    for (uint32_t s = 0; s < r->p->shard_count; s++) {
        const scan_shard *st = &r->st[s];
        inv_recovery_shard *o = &rep->shards[s];
        o->snapshot_lsn = r->snap.header.lsn[s];
        o->segments = st->segments;
        o->records = st->records;
        o->bytes = st->bytes;
        o->first_lsn = st->first_lsn;
        o->last_lsn = st->last_lsn;
        o->torn_bytes = st->tail_garbage_end - st->tail_end;
        o->torn_records_dropped = st->torn_records_dropped;
        rep->wal_records += st->records;
    }
    rep->elapsed_ns = io_now_ns() - t0;
}

static int rec_run(recovery *r, inv_replay_fn replay, persist_prefetch_fn prefetch, void *ctx) {
    int rc = dir_listing_read(r->p->dir_fd, &r->l);
    if (rc < 0) return rc;
    rec_tmps_remove(r);
    rc = rec_headers(r);
    if (rc == 0) rc = rec_snapshot_choose(r);
    if (rc == 0 && r->snap.header.seq != 0)
        rc = snapshot_replay(r->p->dir_fd, r->snap.header.seq, replay, ctx, &r->where);
    for (uint32_t s = 0; rc == 0 && s < r->p->shard_count; s++) rc = rec_shard_scan(r, s, replay, prefetch, ctx);
    for (uint32_t s = 0; rc == 0 && s < r->p->shard_count; s++) rc = rec_tail_repair(r, s);
    for (uint32_t i = 0; rc == 0 && i < 8 && r->p->log_id == 0; i++)
        if (getrandom(&r->p->log_id, sizeof r->p->log_id, 0) != (ssize_t)sizeof r->p->log_id)
            r->p->log_id = 0;
    if (rc == 0 && r->p->log_id == 0) rc = -EIO;
    if (rc == 0) rc = rec_wals_open(r);
    return rc;
}

int inv_persist_recover_with(inv_persist *p, inv_replay_fn replay, void *ctx,
                             inv_recovery_report *rep, char *err, size_t errlen) {
    return persist_recover_run(p, replay, NULL, ctx, rep, err, errlen);
}

int persist_recover_run(inv_persist *p, inv_replay_fn replay, persist_prefetch_fn prefetch,
                        void *ctx, inv_recovery_report *rep, char *err, size_t errlen) {
    assert(p != NULL);
    assert(!p->recovered);
    uint64_t t0 = io_now_ns();
    recovery *r = calloc(1, sizeof *r);
    inv_recovery_report scratch;
    if (r == NULL) return -ENOMEM;
    if (rep == NULL) rep = &scratch;
    memset(rep, 0, sizeof *rep);
    r->p = p;
    r->rep = rep;
    int rc = rec_run(r, replay, prefetch, ctx);
    if (rc == 0) {
        p->prev.seq = r->snap.header.seq;
        memcpy(p->prev.lsn, r->snap.header.lsn, sizeof p->prev.lsn);
        p->next_seq = (r->l.snap_count ? r->l.snaps[r->l.snap_count - 1] : 0) + 1;
        p->last_snapshot_ms = io_now_ms();
        p->recovered = true;
        rec_report(r, t0);
    } else {
        for (uint32_t s = 0; s < p->shard_count; s++) { inv_wal_close(p->wal[s]); p->wal[s] = NULL; }
        snprintf(rep->bad_file, sizeof rep->bad_file, "%s", r->where.file);
        rep->bad_offset = r->where.offset;
        rep->bad_lsn = r->where.lsn;
        if (r->where.file[0] != '\0') persist_where_format(&r->where, err, errlen);
        else if (err != NULL && errlen > 0) snprintf(err, errlen, "%s", strerror(-rc));
    }
    dir_listing_free(&r->l);
    free(r->hdrs);
    free(r);
    return rc;
}
