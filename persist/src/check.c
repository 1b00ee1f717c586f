/*
 * check.c — the read-only verifier behind `invctl wal-check DIR` and `invwal check DIR`.
 *
 * Design: the same checks recovery makes (segment headers against names, log id and
 * shard count; every record's CRC, shard, type and LSN sequence; torn tail versus
 * corruption; every snapshot's records and trailer), without an engine and without
 * changing a byte: a torn tail is reported as what recovery would cut, not repaired.
 * Unlike recovery it reads every segment, including those a snapshot made redundant,
 * and keeps going after a damaged file so the report names every damaged file.
 *
 * State diagram: none (no state survives a call).
 *
 * Invariants: opens files read-only; the report's first bad_* location is the first
 * corruption met (snapshots first, then shards in order).
 */
#define _GNU_SOURCE
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "persist_int.h"

typedef struct check_ctx {
    int dir_fd;
    FILE *out;
    inv_check_report *rep;
    dir_listing l;
    uint64_t log_id;
    uint64_t snap_lsn[INV_SHARDS_MAX]; /* newest valid snapshot's LSNs */
} check_ctx;

static void check_corrupt(check_ctx *c, const persist_where *w) {
    inv_check_report *rep = c->rep;
    char line[512];
    persist_where_format(w, line, sizeof line);
    if (c->out != NULL) fprintf(c->out, "CORRUPT %s\n", line);
    if (rep->corrupt) return;
    rep->corrupt = true;
    snprintf(rep->bad_file, sizeof rep->bad_file, "%s", w->file);
    rep->bad_offset = w->offset;
    rep->bad_lsn = w->lsn;
    persist_where_format(w, rep->message, sizeof rep->message);
}

static void check_snapshots(check_ctx *c) {
    for (uint32_t i = 0; i < c->l.snap_count; i++) {
        snap_info info;
        persist_where w = {0};
        int rc = snapshot_verify(c->dir_fd, c->l.snaps[i], &info, &w);
        c->rep->snapshots++;
        if (rc < 0) {
            if (rc != -EBADMSG) {
                persist_snapshot_name(w.file, sizeof w.file, c->l.snaps[i], false);
                snprintf(w.msg, sizeof w.msg, "%s", strerror(-rc));
            }
            c->rep->snapshots_bad++;
            check_corrupt(c, &w);
            continue;
        }
        if (c->out != NULL)
            fprintf(c->out, "snap-%010" PRIu64 ".snap  ok  %" PRIu32 " shards  %" PRIu64
                    " records  %" PRIu64 " bytes\n", c->l.snaps[i], info.header.shard_count,
                    info.records, info.bytes);
        if (c->rep->shard_count == 0) c->rep->shard_count = info.header.shard_count;
        if (c->log_id == 0) c->log_id = info.header.log_id;
        c->rep->newest_snapshot_seq = c->l.snaps[i];
        memcpy(c->snap_lsn, info.header.lsn, sizeof c->snap_lsn);
    }
}

/* Header of segment i, checked against name, log id and shard count. */
static int check_header(check_ctx *c, uint32_t i, seg_header *h) {
    const dir_seg *d = &c->l.segs[i];
    persist_where w = {0};
    persist_segment_name(w.file, sizeof w.file, d->shard, d->segment, false);
    int rc = segment_header_read(c->dir_fd, d->shard, d->segment, h, NULL, w.msg, sizeof w.msg);
    if (rc < 0 && rc != -EBADMSG) snprintf(w.msg, sizeof w.msg, "%s", strerror(-rc));
    if (rc == 0 && c->rep->shard_count == 0) c->rep->shard_count = h->shard_count;
    if (rc == 0 && c->log_id == 0) c->log_id = h->log_id;
    if (rc == 0 && h->shard_count != c->rep->shard_count) {
        snprintf(w.msg, sizeof w.msg, "written for %" PRIu32 " shards, others for %" PRIu32,
                 h->shard_count, c->rep->shard_count);
        rc = -EBADMSG;
    }
    if (rc == 0 && h->log_id != c->log_id) {
        snprintf(w.msg, sizeof w.msg, "belongs to another log");
        rc = -EBADMSG;
    }
    if (rc < 0) check_corrupt(c, &w);
    return rc;
}

static void check_segment_line(check_ctx *c, const seg_header *h, const scan_shard *st,
                               uint64_t records_before, uint64_t bytes_before) {
    if (c->out == NULL) return;
    fprintf(c->out, "wal-%03" PRIu32 "-%010" PRIu64 ".log  shard %" PRIu32 "  LSN %" PRIu64
            "..%" PRIu64 "  %" PRIu64 " records  %" PRIu64 " bytes", h->shard, h->segment,
            h->shard, h->first_lsn, st->expect - 1, st->records_seen - records_before,
            st->bytes_seen - bytes_before);
    if (st->tail_segment == h->segment && st->tail_garbage_end > st->tail_end)
        fprintf(c->out, "  torn tail at offset %" PRIu64 ": %" PRIu64
                " bytes recovery will cut (%" PRIu64 " intact records of the unfinished batch)",
                st->tail_end, st->tail_garbage_end - st->tail_end, st->torn_records_dropped);
    fprintf(c->out, "\n");
}

static void check_shard(check_ctx *c, uint32_t s) {
    uint32_t first, end;
    dir_listing_shard(&c->l, s, &first, &end);
    scan_shard st = {.shard = s, .deliver_after = c->snap_lsn[s]};
    inv_check_shard *o = &c->rep->shards[s];
    for (uint32_t i = first; i < end; i++) {
        seg_header h;
        if (check_header(c, i, &h) < 0) return;
        persist_where w = {0};
        if (i == first && h.first_lsn > c->snap_lsn[s] + 1) {
            persist_segment_name(w.file, sizeof w.file, s, h.segment, false);
            w.lsn = h.first_lsn;
            snprintf(w.msg, sizeof w.msg, "the log starts after LSN 1 and no snapshot covers "
                     "LSN %" PRIu64, h.first_lsn - 1);
            check_corrupt(c, &w);
            return;
        }
        uint64_t r0 = st.records_seen, b0 = st.bytes_seen;
        int rc = scan_segment(c->dir_fd, &h, i + 1 == end, &st, &w);
        if (rc < 0) {
            if (rc != -EBADMSG) snprintf(w.msg, sizeof w.msg, "%s", strerror(-rc));
            check_corrupt(c, &w);
            return;
        }
        check_segment_line(c, &h, &st, r0, b0);
        if (o->segments == 0) o->first_lsn = h.first_lsn;
        o->segments++;
        o->records = st.records_seen;
        o->bytes = st.bytes_seen;
        o->last_lsn = st.expect - 1;
        o->torn_bytes = st.tail_garbage_end - st.tail_end;
    }
}

static void check_summary(check_ctx *c) {
    inv_check_report *rep = c->rep;
    if (c->out == NULL) return;
    fprintf(c->out, "summary: %" PRIu32 " shards, %" PRIu32 " snapshots (%" PRIu32 " damaged)\n",
            rep->shard_count, rep->snapshots, rep->snapshots_bad);
    for (uint32_t s = 0; s < rep->shard_count && s < INV_SHARDS_MAX; s++) {
        const inv_check_shard *o = &rep->shards[s];
        fprintf(c->out, "  shard %" PRIu32 ": %" PRIu32 " segments, %" PRIu64 " records, LSN %"
                PRIu64 "..%" PRIu64 ", %" PRIu64 " bytes%s\n", s, o->segments, o->records,
                o->first_lsn, o->last_lsn, o->bytes, o->torn_bytes ? ", torn tail" : "");
    }
    fprintf(c->out, "%s\n", rep->corrupt ? "result: CORRUPT" : "result: ok");
}

int inv_persist_check(const char *dir, FILE *out, inv_check_report *rep) {
    assert(dir != NULL && rep != NULL);
    memset(rep, 0, sizeof *rep);
    check_ctx c = {.out = out, .rep = rep};
    c.dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (c.dir_fd < 0) return -errno;
    int rc = dir_listing_read(c.dir_fd, &c.l);
    if (rc < 0) {
        close(c.dir_fd);
        return rc;
    }
    check_snapshots(&c);
    uint32_t shards = c.l.shard_max_seen > INV_SHARDS_MAX ? INV_SHARDS_MAX : c.l.shard_max_seen;
    for (uint32_t s = 0; s < shards; s++) check_shard(&c, s);
    if (rep->shard_count == 0) rep->shard_count = shards;
    check_summary(&c);
    dir_listing_free(&c.l);
    close(c.dir_fd);
    return rep->corrupt ? -EBADMSG : 0;
}
