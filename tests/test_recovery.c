/*
 * test_recovery.c — recovery from damaged logs (synthetic records, no engine):
 *   - torn tail: the last record truncated, zeroed, or garbled at every byte offset →
 *     recovery succeeds, loses only that record, and appends continue cleanly;
 *   - a bit flip in the middle of a segment (any header field or the body, in the last
 *     segment or an earlier one) → refused with file, offset and LSN;
 *   - damage inside the final batch with intact records after it → cut as a torn write
 *     (documented limit) and counted;
 *   - a segment copied under another shard's or number's name, or from another log, or
 *     a missing middle segment → refused;
 *   - leftover *.tmp files are removed; inv_persist_check reports the same findings.
 */
#include "test_wal_support.h"

/* Write records first..last for one shard, `per_batch` records per durable batch. */
static void write_batches(const char *dir, uint32_t shards, const inv_persist_options *o,
                          uint64_t last, uint64_t per_batch) {
    inv_persist *p;
    tw_collect c;
    char err[512] = "";
    cr_assert_eq(tw_persist_recover(&p, dir, shards, o, &c, NULL, err, sizeof err), 0, "%s", err);
    for (uint32_t s = 0; s < shards; s++) {
        inv_wal *w = inv_persist_wal(p, s);
        for (uint64_t lsn = inv_wal_last_lsn(w) + 1; lsn <= last; lsn += per_batch) {
            uint64_t end = lsn + per_batch - 1 > last ? last : lsn + per_batch - 1;
            tw_append_range(w, s, lsn, end);
            inv_wal_sync(w);
        }
    }
    inv_persist_close(p);
}

/* Recover; return rc and the replayed count of shard 0. */
static int recover_count(const char *dir, uint32_t shards, const inv_persist_options *o,
                         uint64_t *count, inv_recovery_report *rep, char *err, size_t errlen) {
    inv_persist *p;
    tw_collect c;
    int rc = tw_persist_recover(&p, dir, shards, o, &c, rep, err, errlen);
    *count = c.count[0];
    cr_assert_eq(c.bad, 0, "a record came back different");
    inv_persist_close(p);
    return rc;
}

/* ====================================================================================
 * Torn tail
 * ==================================================================================== */

/* An LSN ≥ 40 whose synthetic body is a multiple of 8 bytes long (no padding: every
 * byte of the record is covered by its CRC) and at most 64 bytes. */
static uint64_t pick_last_lsn(void) {
    unsigned char body[512];
    for (uint64_t lsn = 40; lsn < 4000; lsn++) {
        uint32_t len = tw_body(0, lsn, body);
        if (len > 0 && len <= 64 && len % 8 == 0) return lsn;
    }
    cr_assert_fail("no suitable LSN");
    return 0;
}

typedef enum { TORN_TRUNCATE, TORN_ZERO, TORN_GARBLE_BYTE, TORN_GARBLE_REST } torn_kind;

static void torn_apply(const char *path, torn_kind kind, uint64_t rec_off, uint32_t rec_size,
                       uint64_t k) {
    unsigned char buf[256];
    uint64_t rest = rec_off + rec_size - k;
    cr_assert_leq(rest, sizeof buf);
    if (kind == TORN_TRUNCATE) {
        cr_assert_eq(truncate(path, (off_t)k), 0);
    } else if (kind == TORN_ZERO) {
        memset(buf, 0, sizeof buf);
        tw_pwrite(path, buf, (size_t)rest, k);
    } else if (kind == TORN_GARBLE_BYTE) {
        tw_pread(path, buf, 1, k);
        buf[0] ^= 0xa5;
        tw_pwrite(path, buf, 1, k);
    } else {
        for (uint64_t i = 0; i < rest; i++) buf[i] = (unsigned char)(k * 7u + i * 13u + 1u);
        tw_pwrite(path, buf, (size_t)rest, k);
    }
}

/* One damaged variant: recover (last record lost, tail cut), append it again, recover. */
static void torn_check(const char *dir, const char *path, const unsigned char *orig,
                       size_t orig_len, const inv_persist_options *o, torn_kind kind,
                       uint64_t rec_off, uint32_t rec_size, uint64_t k, uint64_t last) {
    int fd = open(path, O_WRONLY | O_TRUNC);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, orig, orig_len), (ssize_t)orig_len);
    close(fd);
    torn_apply(path, kind, rec_off, rec_size, k);
    uint64_t n = 0;
    inv_recovery_report rep;
    char err[512] = "";
    int rc = recover_count(dir, 1, o, &n, &rep, err, sizeof err);
    cr_assert_eq(rc, 0, "kind %d offset %llu: refused: %s", kind, (unsigned long long)k, err);
    cr_assert_eq(n, last - 1, "kind %d offset %llu: %llu records", kind,
                 (unsigned long long)k, (unsigned long long)n);
    bool whole = k == rec_off && (kind == TORN_ZERO || kind == TORN_TRUNCATE);
    if (!whole) cr_assert_gt(rep.shards[0].torn_bytes, 0, "kind %d at %llu: no torn bytes", kind,
                             (unsigned long long)k);
    /* Appending again after the cut: at the edges of the record and every 4th byte (each
     * check costs a few fsyncs; recovery itself is checked at every offset above). */
    uint64_t at = k - rec_off;
    if (at >= 8 && at + 8 < rec_size && at % 4 != 0) return;
    write_batches(dir, 1, o, last, 1); /* the lost record, appended again */
    rc = recover_count(dir, 1, o, &n, &rep, err, sizeof err);
    cr_assert_eq(rc, 0, "after re-append, kind %d offset %llu: %s", kind, (unsigned long long)k, err);
    cr_assert_eq(n, last);
    cr_assert_eq(rep.shards[0].torn_bytes, 0);
}

Test(recovery_torn, last_record_damaged_at_every_byte_offset, .timeout = 240) {
    tw_require_uring();
    char dir[TW_PATH_MAX], path[TW_PATH_MAX * 2];
    tw_dir_make(dir);
    inv_persist_options o;
    tw_options(&o, PERSIST_SEGMENT_BYTES_MIN);
    uint64_t last = pick_last_lsn();
    write_batches(dir, 1, &o, last - 1, 8);
    write_batches(dir, 1, &o, last, 1); /* the last record is its own (final) batch */
    cr_assert_eq(tw_count(dir, NAME_SEGMENT, 0), 1, "keep it to one segment");
    tw_seg_path(path, dir, 0, 1);
    uint64_t offs[8192];
    uint32_t sizes[8192];
    uint32_t n = tw_record_offsets(path, offs, sizes, 8192);
    cr_assert_eq(n, last);
    uint64_t rec_off = offs[n - 1];
    uint32_t rec_size = sizes[n - 1];
    size_t orig_len = (size_t)PERSIST_SEGMENT_BYTES_MIN;
    unsigned char *orig = malloc(orig_len);
    tw_pread(path, orig, orig_len, 0);
    for (int kind = TORN_TRUNCATE; kind <= TORN_GARBLE_REST; kind++)
        for (uint64_t k = rec_off; k < rec_off + rec_size; k++)
            torn_check(dir, path, orig, orig_len, &o, (torn_kind)kind, rec_off, rec_size, k, last);
    free(orig);
    tw_dir_remove(dir);
}

/* ====================================================================================
 * Corruption
 * ==================================================================================== */

/* Flip `bit` of byte `byte` of record `lsn` in shard 0, segment `seg`; expect refusal. */
static void expect_refused_at(const char *dir, const inv_persist_options *o, uint64_t seg,
                              uint64_t lsn, uint64_t byte, unsigned bit) {
    char path[TW_PATH_MAX * 2], name[PERSIST_NAME_MAX];
    tw_seg_path(path, dir, 0, seg);
    persist_segment_name(name, sizeof name, 0, seg, false);
    static uint64_t offs[65536];
    static uint32_t sizes[65536];
    uint32_t n = tw_record_offsets(path, offs, sizes, 65536);
    seg_header h;
    char why[128];
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    cr_assert_eq(segment_header_read(dfd, 0, seg, &h, NULL, why, sizeof why), 0);
    close(dfd);
    uint32_t i = (uint32_t)(lsn - h.first_lsn);
    cr_assert_lt(i, n);
    tw_flip_bit(path, offs[i] + byte, bit);
    uint64_t count = 0;
    inv_recovery_report rep;
    char err[512] = "";
    int rc = recover_count(dir, 1, o, &count, &rep, err, sizeof err);
    cr_assert_eq(rc, -EBADMSG, "byte %llu bit %u of LSN %llu: rc %d (%s)",
                 (unsigned long long)byte, bit, (unsigned long long)lsn, rc, err);
    cr_assert_str_eq(rep.bad_file, name);
    cr_assert_eq(rep.bad_offset, offs[i], "reported offset %llu, damage at %llu",
                 (unsigned long long)rep.bad_offset, (unsigned long long)offs[i]);
    cr_assert_eq(rep.bad_lsn, lsn);
    char want[64];
    snprintf(want, sizeof want, "offset %llu: LSN %llu", (unsigned long long)offs[i],
             (unsigned long long)lsn);
    cr_assert(strstr(err, want) != NULL && strstr(err, name) != NULL, "message: %s", err);
    inv_check_report chk;
    cr_assert_eq(inv_persist_check(dir, NULL, &chk), -EBADMSG);
    cr_assert_eq(chk.bad_offset, offs[i]);
    tw_flip_bit(path, offs[i] + byte, bit); /* undo */
}

Test(recovery_corrupt, bit_flip_mid_segment_is_refused_with_its_location, .timeout = 120) {
    tw_require_uring();
    char dir[TW_PATH_MAX];
    tw_dir_make(dir);
    inv_persist_options o;
    tw_options(&o, 1u << 20);
    write_batches(dir, 1, &o, 200, 10);
    /* Record 95 sits mid-batch (91..100); 100 ends one; 101 starts one. Every header
     * field and some body bytes. */
    static const uint64_t lsns[] = {95, 100, 101};
    static const uint64_t bytes[] = {0, 3, 4, 6, 8, 12, 15, 16, 18, 20, 23, 24, 30};
    for (size_t a = 0; a < sizeof lsns / sizeof lsns[0]; a++)
        for (size_t b = 0; b < sizeof bytes / sizeof bytes[0]; b++)
            for (unsigned bit = 0; bit < 8; bit += 3)
                expect_refused_at(dir, &o, 1, lsns[a], bytes[b], bit);
    uint64_t n = 0;
    char err[256];
    cr_assert_eq(recover_count(dir, 1, &o, &n, NULL, err, sizeof err), 0, "undo failed: %s", err);
    cr_assert_eq(n, 200);
    tw_dir_remove(dir);
}

Test(recovery_corrupt, bit_flip_in_an_earlier_segment_is_refused) {
    tw_require_uring();
    char dir[TW_PATH_MAX];
    tw_dir_make(dir);
    inv_persist_options o;
    tw_options(&o, PERSIST_SEGMENT_BYTES_MIN);
    write_batches(dir, 1, &o, 1500, 50);
    cr_assert_geq(tw_count(dir, NAME_SEGMENT, 0), 3);
    seg_header h;
    char why[128];
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    cr_assert_eq(segment_header_read(dfd, 0, 2, &h, NULL, why, sizeof why), 0);
    close(dfd);
    expect_refused_at(dir, &o, 2, h.first_lsn + 3, 26, 1);
    expect_refused_at(dir, &o, 1, 7, 9, 0);
    tw_dir_remove(dir);
}

Test(recovery_corrupt, damage_in_the_final_batch_is_cut_as_a_torn_write) {
    tw_require_uring();
    char dir[TW_PATH_MAX], path[TW_PATH_MAX * 2];
    tw_dir_make(dir);
    inv_persist_options o;
    tw_options(&o, 1u << 20);
    write_batches(dir, 1, &o, 100, 10); /* final batch: 91..100 */
    tw_seg_path(path, dir, 0, 1);
    uint64_t offs[200];
    uint32_t sizes[200];
    cr_assert_eq(tw_record_offsets(path, offs, sizes, 200), 100);
    tw_flip_bit(path, offs[94] + 8, 2); /* LSN 95 */
    uint64_t n = 0;
    inv_recovery_report rep;
    char err[256];
    cr_assert_eq(recover_count(dir, 1, &o, &n, &rep, err, sizeof err), 0, "%s", err);
    cr_assert_eq(n, 94);
    cr_assert_eq(rep.shards[0].torn_records_dropped, 5);
    tw_dir_remove(dir);
}

Test(recovery_corrupt, segment_copied_under_another_name_is_refused) {
    tw_require_uring();
    char dir[TW_PATH_MAX], other[TW_PATH_MAX], a[TW_PATH_MAX * 2], b[TW_PATH_MAX * 2];
    tw_dir_make(dir);
    tw_dir_make(other);
    inv_persist_options o;
    tw_options(&o, PERSIST_SEGMENT_BYTES_MIN);
    write_batches(dir, 2, &o, 800, 40);
    write_batches(other, 2, &o, 800, 40);
    char saved[TW_PATH_MAX];
    tw_dir_make(saved);
    tw_dir_copy(dir, saved);
    static const struct { uint32_t from_shard; uint64_t from_seg; uint32_t to_shard;
                          uint64_t to_seg; bool foreign; } cases[] = {
        {0, 1, 1, 1, false}, /* another shard's name */
        {0, 1, 0, 2, false}, /* another number */
        {1, 2, 1, 2, true},  /* the same name, from another log */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tw_dir_remove(dir);
        tw_dir_copy(saved, dir);
        tw_seg_path(a, cases[i].foreign ? other : dir, cases[i].from_shard, cases[i].from_seg);
        tw_seg_path(b, dir, cases[i].to_shard, cases[i].to_seg);
        char cmd[TW_PATH_MAX * 5];
        snprintf(cmd, sizeof cmd, "cp '%s' '%s'", a, b);
        cr_assert_eq(system(cmd), 0);
        uint64_t n;
        char err[512] = "";
        inv_recovery_report rep;
        int rc = recover_count(dir, 2, &o, &n, &rep, err, sizeof err);
        cr_assert_eq(rc, -EBADMSG, "case %zu: rc %d: %s", i, rc, err);
        cr_assert(strstr(err, cases[i].foreign ? "another log" : "header names") != NULL,
                  "case %zu: %s", i, err);
        inv_check_report chk;
        cr_assert_eq(inv_persist_check(dir, NULL, &chk), -EBADMSG, "check, case %zu", i);
    }
    tw_dir_remove(dir);
    tw_dir_remove(saved);
    tw_dir_remove(other);
}

Test(recovery_corrupt, missing_middle_segment_is_refused) {
    tw_require_uring();
    char dir[TW_PATH_MAX], path[TW_PATH_MAX * 2];
    tw_dir_make(dir);
    inv_persist_options o;
    tw_options(&o, PERSIST_SEGMENT_BYTES_MIN);
    write_batches(dir, 1, &o, 1500, 50);
    cr_assert_geq(tw_count(dir, NAME_SEGMENT, 0), 3);
    tw_seg_path(path, dir, 0, 2);
    cr_assert_eq(unlink(path), 0);
    uint64_t n;
    char err[512] = "";
    cr_assert_eq(recover_count(dir, 1, &o, &n, NULL, err, sizeof err), -EBADMSG);
    cr_assert(strstr(err, "wal-000-0000000003.log") != NULL, "%s", err);
    cr_assert(strstr(err, "but the log reached LSN") != NULL, "%s", err);
    tw_seg_path(path, dir, 0, 1);
    cr_assert_eq(unlink(path), 0); /* now the log starts late: no snapshot covers it */
    cr_assert_eq(recover_count(dir, 1, &o, &n, NULL, err, sizeof err), -EBADMSG);
    cr_assert(strstr(err, "no usable snapshot") != NULL, "%s", err);
    tw_dir_remove(dir);
}

Test(recovery_corrupt, damaged_segment_header_is_refused) {
    tw_require_uring();
    char dir[TW_PATH_MAX], path[TW_PATH_MAX * 2];
    tw_dir_make(dir);
    inv_persist_options o;
    tw_options(&o, 1u << 20);
    write_batches(dir, 1, &o, 50, 10);
    tw_seg_path(path, dir, 0, 1);
    tw_flip_bit(path, 33, 4); /* first_lsn */
    uint64_t n;
    char err[512] = "";
    cr_assert_eq(recover_count(dir, 1, &o, &n, NULL, err, sizeof err), -EBADMSG);
    cr_assert(strstr(err, "header CRC") != NULL, "%s", err);
    tw_dir_remove(dir);
}

/* ====================================================================================
 * Housekeeping and the checker
 * ==================================================================================== */

Test(recovery_misc, leftover_tmp_files_are_removed) {
    tw_require_uring();
    char dir[TW_PATH_MAX], path[TW_PATH_MAX * 2];
    tw_dir_make(dir);
    inv_persist_options o;
    tw_options(&o, 1u << 20);
    write_batches(dir, 1, &o, 20, 5);
    static const char *const names[] = {"wal-000-0000000002.log.tmp", "snap-0000000003.tmp"};
    for (int i = 0; i < 2; i++) {
        tw_path(path, dir, names[i]);
        int fd = open(path, O_CREAT | O_WRONLY, 0644);
        cr_assert(fd >= 0);
        cr_assert_eq(write(fd, "junk", 4), 4);
        close(fd);
    }
    uint64_t n;
    char err[256];
    cr_assert_eq(recover_count(dir, 1, &o, &n, NULL, err, sizeof err), 0, "%s", err);
    cr_assert_eq(n, 20);
    cr_assert_not(tw_file_exists(dir, names[0]));
    cr_assert_not(tw_file_exists(dir, names[1]));
    tw_dir_remove(dir);
}

Test(recovery_misc, check_reports_clean_torn_and_corrupt) {
    tw_require_uring();
    char dir[TW_PATH_MAX], path[TW_PATH_MAX * 2];
    tw_dir_make(dir);
    inv_persist_options o;
    tw_options(&o, PERSIST_SEGMENT_BYTES_MIN);
    write_batches(dir, 2, &o, 900, 30);
    inv_check_report rep;
    char *text = NULL;
    size_t text_len = 0;
    FILE *out = open_memstream(&text, &text_len);
    cr_assert_eq(inv_persist_check(dir, out, &rep), 0, "%s", rep.message);
    fclose(out);
    cr_assert(strstr(text, "result: ok") != NULL, "%s", text);
    cr_assert(strstr(text, "shard 1:") != NULL, "%s", text);
    free(text);
    cr_assert_eq(rep.shard_count, 2);
    cr_assert_eq(rep.shards[0].records, 900);
    cr_assert_eq(rep.shards[1].first_lsn, 1);
    cr_assert_eq(rep.shards[1].last_lsn, 900);
    cr_assert_gt(rep.shards[1].segments, 1);
    /* A torn tail is reported, not an error; check changes nothing. */
    uint32_t last_seg = tw_count(dir, NAME_SEGMENT, 0);
    tw_seg_path(path, dir, 0, last_seg);
    uint64_t offs[4096];
    uint32_t sizes[4096];
    uint32_t n = tw_record_offsets(path, offs, sizes, 4096);
    tw_flip_bit(path, offs[n - 1] + 4, 7);
    cr_assert_eq(inv_persist_check(dir, NULL, &rep), 0, "%s", rep.message);
    cr_assert_gt(rep.shards[0].torn_bytes, 0);
    cr_assert_eq(rep.shards[0].records, 899);
    cr_assert_eq(inv_persist_check(dir, NULL, &rep), 0, "check modified the file");
    /* Corruption: an earlier record of the same segment. */
    tw_flip_bit(path, offs[0] + 30, 0);
    cr_assert_eq(inv_persist_check(dir, NULL, &rep), -EBADMSG);
    cr_assert(rep.corrupt);
    cr_assert_eq(rep.bad_offset, offs[0]);
    tw_dir_remove(dir);
}

/* Zeroed middle data with an intact record of a later batch far beyond, past never
 * written (fallocated) space: the forward probe must still find it and refuse. */
Test(recovery_corrupt, intact_record_beyond_unwritten_space_is_found) {
    tw_require_uring();
    char dir[TW_PATH_MAX], path[TW_PATH_MAX * 2];
    tw_dir_make(dir);
    inv_persist_options o;
    tw_options(&o, 1u << 20);
    o.prealloc = INV_WAL_PREALLOC_FALLOCATE;
    write_batches(dir, 1, &o, 100, 10);
    tw_seg_path(path, dir, 0, 1);
    uint64_t offs[200];
    uint32_t sizes[200];
    cr_assert_eq(tw_record_offsets(path, offs, sizes, 200), 100);
    unsigned char rec[1024], zeros[1u << 15];
    cr_assert_leq(sizes[99], sizeof rec);
    tw_pread(path, rec, sizes[99], offs[99]);
    uint64_t span = offs[99] + sizes[99] - offs[50];
    cr_assert_leq(span, sizeof zeros);
    memset(zeros, 0, sizeof zeros);
    tw_pwrite(path, zeros, (size_t)span, offs[50]);       /* LSN 51..100 gone */
    tw_pwrite(path, rec, sizes[99], 768u << 10);          /* LSN 100 far beyond */
    uint64_t n;
    inv_recovery_report rep;
    char err[512] = "";
    cr_assert_eq(recover_count(dir, 1, &o, &n, &rep, err, sizeof err), -EBADMSG, "%s", err);
    cr_assert_eq(rep.bad_lsn, 51);
    cr_assert(strstr(err, "later batch") != NULL, "%s", err);
    tw_dir_remove(dir);
}
