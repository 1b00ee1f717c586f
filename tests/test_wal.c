/*
 * test_wal.c — persist/ write-ahead log: CRC32C, record framing, append / group commit /
 * durable LSN through a real io_uring, segment rotation, reopening where the log ends,
 * both sync methods and preallocations, async durability, options and the directory lock.
 * Synthetic records (no engine): bodies derived from (shard, LSN) and checked on replay.
 */
#include "test_support.h"
#include "test_wal_support.h"

#include "crc32c.h"
#include "record.h"

/* ====================================================================================
 * CRC32C
 * ==================================================================================== */

Test(wal_crc, known_vectors) {
    cr_assert_eq(crc32c(0, "123456789", 9), 0xe3069283u);
    cr_assert_eq(crc32c_portable(0, "123456789", 9), 0xe3069283u);
    cr_assert_eq(crc32c(0, "", 0), 0u);
    unsigned char zeros[32] = {0};
    cr_assert_eq(crc32c(0, zeros, 32), 0x8a9136aau); /* RFC 3720 B.4 */
}

Test(wal_crc, hardware_matches_portable_and_chains) {
    if (!crc32c_is_hardware()) fprintf(stderr, "note: no SSE4.2, hardware CRC not tested\n");
    unsigned char buf[1100];
    for (size_t i = 0; i < sizeof buf; i++) buf[i] = (unsigned char)(i * 131u + 7u);
    for (size_t off = 0; off < 8; off++) {
        for (size_t len = 0; len + off <= sizeof buf; len += 37) {
            uint32_t a = crc32c(0, buf + off, len), b = crc32c_portable(0, buf + off, len);
            cr_assert_eq(a, b, "off %zu len %zu", off, len);
            size_t cut = len / 3;
            uint32_t c = crc32c(crc32c(0, buf + off, cut), buf + off + cut, len - cut);
            cr_assert_eq(a, c, "chaining at %zu/%zu", cut, len);
        }
    }
}

/* ====================================================================================
 * Record framing
 * ==================================================================================== */

Test(wal_record, round_trip_and_rejections) {
    _Alignas(8) unsigned char buf[PERSIST_REC_BYTES_MAX + 64];
    unsigned char body[PERSIST_REC_BODY_MAX];
    for (uint32_t i = 0; i < sizeof body; i++) body[i] = (unsigned char)(i ^ 0x5a);
    for (uint32_t len = 0; len <= PERSIST_REC_BODY_MAX; len += (len < 40 ? 1 : 97)) {
        uint32_t size = rec_encode(buf, 77 + len, INV_REC_RESERVED, 3, 5, body, len);
        cr_assert_eq(size % 8, 0);
        cr_assert_eq(size, rec_size(len));
        rec_view v;
        cr_assert_eq(rec_decode(buf, size, &v), REC_OK);
        cr_assert(v.lsn == 77 + len && v.type == INV_REC_RESERVED && v.shard == 3);
        cr_assert(v.batch_pos == 5 && v.body_len == len && v.size == size);
        cr_assert_eq(memcmp(v.body, body, len), 0);
        cr_assert_eq(rec_decode(buf, size - 1, &v), REC_SHORT);
        buf[len > 0 ? PERSIST_REC_HEADER_BYTES + len - 1 : 10] ^= 0x10; /* body or header */
        cr_assert_eq(rec_decode(buf, size, &v), REC_BAD_CRC);
    }
    memset(buf, 0, 64);
    rec_view v;
    cr_assert_eq(rec_decode(buf, 64, &v), REC_ZERO);
    cr_assert_eq(rec_decode(buf, 10, &v), REC_SHORT);
    uint32_t huge = PERSIST_REC_BODY_MAX + 1;
    rec_encode(buf, 1, INV_REC_SKU_NAME, 0, 0, NULL, 0);
    memcpy(buf + 4, &huge, 4);
    cr_assert_eq(rec_decode(buf, sizeof buf, &v), REC_BAD_LENGTH);
}

Test(wal_record, names_parse_strictly) {
    uint32_t shard;
    uint64_t num;
    cr_assert_eq(persist_name_parse("wal-003-0000000012.log", &shard, &num), NAME_SEGMENT);
    cr_assert(shard == 3 && num == 12);
    cr_assert_eq(persist_name_parse("wal-003-0000000012.log.tmp", &shard, &num), NAME_SEGMENT_TMP);
    cr_assert_eq(persist_name_parse("snap-0000000004.snap", &shard, &num), NAME_SNAPSHOT);
    cr_assert_eq(num, 4);
    cr_assert_eq(persist_name_parse("snap-0000000004.tmp", &shard, &num), NAME_SNAPSHOT_TMP);
    cr_assert_eq(persist_name_parse("wal-3-12.log", &shard, &num), NAME_OTHER);
    cr_assert_eq(persist_name_parse("wal-003-0000000012.logx", &shard, &num), NAME_OTHER);
    cr_assert_eq(persist_name_parse("wal-003-0000000000.log", &shard, &num), NAME_OTHER);
    cr_assert_eq(persist_name_parse("LOCK", &shard, &num), NAME_OTHER);
}

/* ====================================================================================
 * The log
 * ==================================================================================== */

/* Write n records to each of `shards` shards through inv_persist (sync at the end), in
 * passes of `per_pass` appends + flush + poll, like a shard loop. */
static void write_log(const char *dir, uint32_t shards, const inv_persist_options *o,
                      uint64_t n, uint64_t per_pass) {
    inv_persist *p;
    tw_collect c;
    char err[512] = "";
    int rc = tw_persist_recover(&p, dir, shards, o, &c, NULL, err, sizeof err);
    cr_assert_eq(rc, 0, "recover: %s", err);
    uint64_t start[INV_SHARDS_MAX];
    for (uint32_t s = 0; s < shards; s++) start[s] = inv_wal_last_lsn(inv_persist_wal(p, s)) + 1;
    for (uint64_t done = 0; done < n; done += per_pass) {
        for (uint32_t s = 0; s < shards; s++) {
            uint64_t last = done + per_pass > n ? n : done + per_pass;
            tw_append_range(inv_persist_wal(p, s), s, start[s] + done, start[s] + last - 1);
        }
        inv_persist_pump(p);
    }
    inv_persist_sync(p);
    for (uint32_t s = 0; s < shards; s++) {
        inv_wal *w = inv_persist_wal(p, s);
        cr_assert_eq(inv_wal_durable_lsn(w), inv_wal_last_lsn(w));
        cr_assert_eq(inv_wal_last_lsn(w), start[s] + n - 1);
    }
    inv_persist_close(p);
}

/* Recover with the collector; every shard must hold exactly `n` records. */
static void read_log(const char *dir, uint32_t shards, const inv_persist_options *o, uint64_t n) {
    inv_persist *p;
    tw_collect c;
    inv_recovery_report rep;
    char err[512] = "";
    int rc = tw_persist_recover(&p, dir, shards, o, &c, &rep, err, sizeof err);
    cr_assert_eq(rc, 0, "recover: %s", err);
    for (uint32_t s = 0; s < shards; s++) {
        cr_assert_eq(c.count[s], n, "shard %u replayed %llu records, expected %llu", s,
                     (unsigned long long)c.count[s], (unsigned long long)n);
        cr_assert_eq(rep.shards[s].last_lsn, n);
        cr_assert_eq(rep.shards[s].torn_bytes, 0);
        cr_assert_eq(inv_wal_last_lsn(inv_persist_wal(p, s)), n);
    }
    inv_persist_close(p);
}

Test(wal_log, append_sync_and_read_back) {
    tw_require_uring();
    char dir[TW_PATH_MAX];
    tw_dir_make(dir);
    inv_persist_options o;
    tw_options(&o, 1u << 20);
    write_log(dir, 1, &o, 1000, 1000);
    read_log(dir, 1, &o, 1000);
    tw_dir_remove(dir);
}

Test(wal_log, group_commit_batches_while_one_is_in_flight) {
    tw_require_uring();
    char dir[TW_PATH_MAX];
    tw_dir_make(dir);
    inv_persist_options o;
    tw_options(&o, 4u << 20);
    inv_persist *p;
    tw_collect c;
    char err[256];
    cr_assert_eq(tw_persist_recover(&p, dir, 1, &o, &c, NULL, err, sizeof err), 0);
    inv_wal *w = inv_persist_wal(p, 0);
    uint64_t lsn = 1, durable_prev = 0;
    for (int pass = 0; pass < 2000; pass++) {
        tw_append_range(w, 0, lsn, lsn + 4);
        lsn += 5;
        inv_wal_flush(w);
        inv_wal_poll(w);
        uint64_t d = inv_wal_durable_lsn(w);
        cr_assert_geq(d, durable_prev, "durable LSN went back");
        cr_assert_leq(d, lsn - 1);
        durable_prev = d;
    }
    inv_wal_sync(w);
    inv_wal_stats st;
    inv_wal_stats_read(w, &st);
    cr_assert_eq(st.records, 10000);
    cr_assert_eq(st.durable_lsn, 10000);
    cr_assert_lt(st.batches, 2000, "every pass made its own batch: no group commit");
    cr_assert_eq(st.batches, st.syncs);
    fprintf(stderr, "group commit: 2000 passes of 5 records -> %llu batches\n",
            (unsigned long long)st.batches);
    inv_persist_close(p);
    read_log(dir, 1, &o, 10000);
    tw_dir_remove(dir);
}

Test(wal_log, segments_rotate_and_read_back_across_them) {
    tw_require_uring();
    char dir[TW_PATH_MAX];
    tw_dir_make(dir);
    inv_persist_options o;
    tw_options(&o, PERSIST_SEGMENT_BYTES_MIN);
    write_log(dir, 2, &o, 3000, 7);
    cr_assert_gt(tw_count(dir, NAME_SEGMENT, 0), 5, "expected several segments");
    cr_assert_gt(tw_count(dir, NAME_SEGMENT, 1), 5);
    read_log(dir, 2, &o, 3000);
    tw_dir_remove(dir);
}

Test(wal_log, reopen_continues_the_same_log) {
    tw_require_uring();
    char dir[TW_PATH_MAX];
    tw_dir_make(dir);
    inv_persist_options o;
    tw_options(&o, 256u << 10);
    for (int round = 0; round < 5; round++) write_log(dir, 2, &o, 333, 10);
    read_log(dir, 2, &o, 5 * 333);
    /* Continued in place: one segment per shard while it had room. */
    cr_assert_eq(tw_count(dir, NAME_SEGMENT, 0), tw_count(dir, NAME_SEGMENT, 1));
    tw_dir_remove(dir);
}

Test(wal_log, every_sync_method_and_preallocation_works) {
    tw_require_uring();
    char dir[TW_PATH_MAX];
    tw_dir_make(dir);
    inv_persist_options o;
    tw_options(&o, PERSIST_SEGMENT_BYTES_MIN);
    static const inv_wal_sync_method methods[] = {INV_WAL_SYNC_DSYNC, INV_WAL_SYNC_FDATASYNC};
    static const inv_wal_prealloc preallocs[] = {INV_WAL_PREALLOC_FALLOCATE, INV_WAL_PREALLOC_ZERO};
    for (int m = 0; m < 2; m++)
        for (int a = 0; a < 2; a++) {
            o.sync_method = methods[m];
            o.prealloc = preallocs[a];
            write_log(dir, 1, &o, 1000, 13);
        }
    read_log(dir, 1, &o, 4000);
    tw_dir_remove(dir);
}

/* Append just over half of a batch buffer of the largest records. */
static void append_half_a_buffer(inv_wal *w, uint32_t batch_bytes) {
    static unsigned char big[PERSIST_REC_BODY_MAX];
    memset(big, 7, sizeof big);
    for (uint32_t i = 0; i < batch_bytes / 2 / PERSIST_REC_BODY_MAX + 1; i++)
        inv_wal_append(w, INV_REC_RESERVED, big, sizeof big);
}

Test(wal_log, async_durability_flushes_at_most_every_interval) {
    tw_require_uring();
    char dir[TW_PATH_MAX];
    tw_dir_make(dir);
    inv_persist_options o;
    tw_options(&o, 1u << 20);
    o.durability = INV_DURABILITY_ASYNC;
    o.async_flush_ms = 1000;
    inv_persist *p;
    tw_collect c;
    char err[256];
    cr_assert_eq(tw_persist_recover(&p, dir, 1, &o, &c, NULL, err, sizeof err), 0);
    cr_assert_eq(inv_persist_durability(p), INV_DURABILITY_ASYNC);
    cr_assert_eq(inv_persist_loss_window_ms(p), 1000);
    inv_wal *w = inv_persist_wal(p, 0);
    tw_append_range(w, 0, 1, 10);
    inv_wal_sync(w); /* a batch just went out: the interval starts now */
    tw_append_range(w, 0, 11, 20);
    cr_assert(inv_persist_reply_ready(p, 0, 20), "async: replies leave at once");
    cr_assert_not(inv_persist_durable(p, 0, 20));
    cr_assert_eq(inv_wal_flush(w), 0, "flushed before the interval passed");
    usleep(1100 * 1000);
    cr_assert_eq(inv_wal_flush(w), 1, "not flushed after the interval");
    inv_wal_sync(w);
    cr_assert(inv_persist_durable(p, 0, 20));
    /* More than half a buffer does not wait for the interval. */
    append_half_a_buffer(w, o.batch_bytes);
    cr_assert_eq(inv_wal_flush(w), 1, "half a buffer waited for the interval");
    inv_persist_close(p);
    tw_dir_remove(dir);
}

Test(wal_log, fsync_durability_replies_wait_for_durable) {
    tw_require_uring();
    char dir[TW_PATH_MAX];
    tw_dir_make(dir);
    inv_persist_options o;
    tw_options(&o, 1u << 20);
    inv_persist *p;
    tw_collect c;
    char err[256];
    cr_assert_eq(tw_persist_recover(&p, dir, 1, &o, &c, NULL, err, sizeof err), 0);
    cr_assert_eq(inv_persist_loss_window_ms(p), 0);
    inv_wal *w = inv_persist_wal(p, 0);
    tw_append_range(w, 0, 1, 3);
    cr_assert_not(inv_persist_reply_ready(p, 0, 3));
    cr_assert(inv_persist_reply_ready(p, 0, 0), "an op without a record may reply");
    inv_persist_sync(p);
    cr_assert(inv_persist_reply_ready(p, 0, 3));
    inv_persist_close(p);
    tw_dir_remove(dir);
}

/* batch_interval_us: under fsync durability the next batch waits until the interval since
 * the previous submit has passed (its replies with it), unless half a buffer is waiting;
 * a sync still flushes at once. (Only lower bounds on time: never flaky on a slow box.) */
Test(wal_log, fsync_batch_interval_spaces_group_commits) {
    tw_require_uring();
    char dir[TW_PATH_MAX];
    tw_dir_make(dir);
    inv_persist_options o;
    tw_options(&o, 1u << 20);
    o.batch_interval_us = 100000; /* the longest allowed: 100 ms */
    inv_persist *p;
    tw_collect c;
    char err[256];
    cr_assert_eq(tw_persist_recover(&p, dir, 1, &o, &c, NULL, err, sizeof err), 0);
    inv_wal *w = inv_persist_wal(p, 0);
    tw_append_range(w, 0, 1, 10);
    uint64_t t0 = test_mono_ms(); /* the batch below goes out after this */
    cr_assert_eq(inv_wal_flush(w), 1, "the first batch waited although none went out before");
    inv_wal_sync(w);
    tw_append_range(w, 0, 11, 20);
    uint64_t synced = test_mono_ms() - t0;
    if (synced < 50) {
        cr_assert_eq(inv_wal_flush(w), 0, "flushed before the interval passed");
        cr_assert_not(inv_persist_reply_ready(p, 0, 20), "fsync: the reply waits for its batch");
        uint32_t polls = 0;
        while (inv_wal_flush(w) == 0 && polls++ < 2000) usleep(1000); /* bounded: ≤ ~2 s */
        uint64_t waited = test_mono_ms() - t0;
        cr_assert_geq(waited, 95, "the batch went out %llu ms after the previous one",
                      (unsigned long long)waited);
        cr_assert_lt(polls, 2000, "the batch never went out");
    } else { /* the disk stalled past half the interval: the early check cannot be made */
        cr_log_warn("the first batch took %llu ms to be durable: the early-flush check is "
                    "skipped this run", (unsigned long long)synced);
    }
    inv_wal_sync(w);
    cr_assert(inv_persist_reply_ready(p, 0, 20));
    /* Half a buffer does not wait for the interval either. */
    append_half_a_buffer(w, o.batch_bytes);
    cr_assert_eq(inv_wal_flush(w), 1, "half a buffer waited for the interval");
    /* A sync (shutdown, direct mode) submits at once and makes everything durable. */
    inv_wal_sync(w);
    cr_assert_eq(inv_wal_durable_lsn(w), inv_wal_last_lsn(w));
    inv_persist_close(p);
    tw_dir_remove(dir);
}

Test(wal_log, options_are_checked_and_the_directory_is_locked) {
    tw_require_uring();
    char dir[TW_PATH_MAX];
    tw_dir_make(dir);
    inv_persist_options o;
    tw_options(&o, 1000); /* not a multiple of 4096, below the minimum */
    inv_persist *p = NULL, *q = NULL;
    cr_assert_eq(inv_persist_open(&p, dir, 1, &o), -EINVAL);
    tw_options(&o, 1u << 20);
    o.batch_bytes = 1u << 30;
    cr_assert_eq(inv_persist_open(&p, dir, 1, &o), -EINVAL);
    tw_options(&o, 1u << 20);
    o.batch_interval_us = 100001; /* beyond 100 ms: that is what durability=async is for */
    cr_assert_eq(inv_persist_open(&p, dir, 1, &o), -EINVAL);
    cr_assert_eq(inv_persist_open(&p, dir, 0, NULL), -EINVAL);
    cr_assert_eq(inv_persist_open(&p, dir, 2, NULL), 0);
    cr_assert_eq(inv_persist_open(&q, dir, 2, NULL), -EBUSY, "a second opener got the lock");
    inv_persist_close(p);
    cr_assert_eq(inv_persist_open(&q, dir, 2, NULL), 0);
    inv_persist_close(q);
    tw_dir_remove(dir);
}

Test(wal_log, a_directory_of_another_shard_count_is_refused) {
    tw_require_uring();
    char dir[TW_PATH_MAX];
    tw_dir_make(dir);
    inv_persist_options o;
    tw_options(&o, 1u << 20);
    write_log(dir, 2, &o, 10, 10);
    inv_persist *p;
    tw_collect c;
    char err[512] = "";
    int rc = tw_persist_recover(&p, dir, 3, &o, &c, NULL, err, sizeof err);
    cr_assert_eq(rc, -EINVAL, "rc %d: %s", rc, err);
    cr_assert(strstr(err, "shards") != NULL, "%s", err);
    inv_persist_close(p);
    rc = tw_persist_recover(&p, dir, 1, &o, &c, NULL, err, sizeof err);
    cr_assert_eq(rc, -EINVAL, "one shard fewer: rc %d: %s", rc, err);
    inv_persist_close(p);
    tw_dir_remove(dir);
}

Test(wal_log, standalone_wal_open_and_stats) {
    tw_require_uring();
    char dir[TW_PATH_MAX];
    tw_dir_make(dir);
    inv_persist_options o;
    tw_options(&o, PERSIST_SEGMENT_BYTES_MIN);
    inv_wal *w = NULL;
    cr_assert_eq(inv_wal_open(&w, dir, 0, 1, NULL, &o), 0);
    tw_append_range(w, 0, 1, 500);
    inv_wal_sync(w);
    inv_wal_stats st;
    inv_wal_stats_read(w, &st);
    cr_assert_eq(st.records, 500);
    cr_assert_geq(st.segments_created, 2);
    cr_assert_gt(st.bytes, 500u * PERSIST_REC_HEADER_BYTES);
    inv_wal_close(w);
    inv_check_report rep;
    cr_assert_eq(inv_persist_check(dir, NULL, &rep), 0, "%s", rep.message);
    cr_assert_eq(rep.shards[0].records, 500);
    cr_assert_eq(rep.shards[0].last_lsn, 500);
    tw_dir_remove(dir);
}
