/*
 * test_wal_support.h — helpers shared by the persist/ suites (test_wal*, test_recovery*,
 * test_snapshot*, test_crash*): temporary directories, io_uring availability (skip
 * loudly), synthetic records, a record collector, and file surgery.
 *
 * Header-only (static inline) so that each suite stays one translation unit.
 */
#ifndef INV_TEST_WAL_SUPPORT_H
#define INV_TEST_WAL_SUPPORT_H

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "inv_persist.h"
#include "persist_int.h"

/* ------------------------------------------------------------------------------------
 * Directories
 * ------------------------------------------------------------------------------------ */
#define TW_PATH_MAX 256

/* mkdtemp under /tmp; fails the test on error. */
static inline void tw_dir_make(char *out) {
    snprintf(out, TW_PATH_MAX, "/tmp/invwal-test-XXXXXX");
    cr_assert_not_null(mkdtemp(out), "mkdtemp: %s", strerror(errno));
}

/* Remove every file in `dir`, then the directory (one level: persist makes no subdirs). */
static inline void tw_dir_remove(const char *dir) {
    DIR *d = opendir(dir);
    if (d == NULL) return;
    char path[TW_PATH_MAX * 2];
    for (int i = 0; i < 100000; i++) {
        struct dirent *de = readdir(d);
        if (de == NULL) break;
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

/* Copy every regular file of `from` into `to` (created). */
static inline void tw_dir_copy(const char *from, const char *to) {
    mkdir(to, 0755);
    DIR *d = opendir(from);
    cr_assert_not_null(d);
    char src[TW_PATH_MAX * 2], dst[TW_PATH_MAX * 2];
    static unsigned char buf[1 << 16];
    for (int i = 0; i < 100000; i++) {
        struct dirent *de = readdir(d);
        if (de == NULL) break;
        if (de->d_name[0] == '.' || strcmp(de->d_name, "LOCK") == 0) continue;
        snprintf(src, sizeof src, "%s/%s", from, de->d_name);
        snprintf(dst, sizeof dst, "%s/%s", to, de->d_name);
        int in = open(src, O_RDONLY), out = open(dst, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        cr_assert(in >= 0 && out >= 0);
        for (int k = 0; k < 1 << 20; k++) {
            ssize_t n = read(in, buf, sizeof buf);
            if (n <= 0) break;
            cr_assert_eq(write(out, buf, (size_t)n), n);
        }
        close(in);
        close(out);
    }
    closedir(d);
}

static inline bool tw_file_exists(const char *dir, const char *name) {
    char path[TW_PATH_MAX * 2];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

/* Count files of a kind (NAME_SEGMENT …) in dir, optionally for one shard. */
static inline uint32_t tw_count(const char *dir, name_kind kind, int shard) {
    DIR *d = opendir(dir);
    cr_assert_not_null(d);
    uint32_t n = 0;
    for (int i = 0; i < 100000; i++) {
        struct dirent *de = readdir(d);
        if (de == NULL) break;
        uint32_t s = 0;
        uint64_t num = 0;
        if (persist_name_parse(de->d_name, &s, &num) == kind && (shard < 0 || (uint32_t)shard == s))
            n++;
    }
    closedir(d);
    return n;
}

/* ------------------------------------------------------------------------------------
 * io_uring availability: every suite calls this first and skips loudly without it.
 * ------------------------------------------------------------------------------------ */
static inline void tw_require_uring(void) {
    struct io_uring ring;
    int rc = io_uring_queue_init(4, &ring, 0);
    if (rc < 0) {
        fprintf(stderr, "SKIP: io_uring is unavailable here (%s); the persist suites need "
                        "a real io_uring\n", strerror(-rc));
        cr_skip_test("io_uring unavailable: %s", strerror(-rc));
    }
    io_uring_queue_exit(&ring);
}

/* ------------------------------------------------------------------------------------
 * Synthetic records: body bytes derived from (shard, lsn), length 0..300.
 * ------------------------------------------------------------------------------------ */
static inline uint32_t tw_body(uint32_t shard, uint64_t lsn, unsigned char *out) {
    uint64_t x = (lsn * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)shard << 56) ^ 0x5bd1e995ull;
    uint32_t len = (uint32_t)(x % 301u);
    for (uint32_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out[i] = (unsigned char)x;
    }
    return len;
}

static inline inv_rec_type tw_type(uint64_t lsn) {
    return (inv_rec_type)(1 + lsn % INV_REC_TYPE_MAX);
}

/* Append records for LSNs first..last to `w` with synthetic bodies. */
static inline void tw_append_range(inv_wal *w, uint32_t shard, uint64_t first, uint64_t last) {
    unsigned char body[512];
    for (uint64_t lsn = first; lsn <= last; lsn++) {
        uint32_t len = tw_body(shard, lsn, body);
        uint64_t got = inv_wal_append(w, tw_type(lsn), body, len);
        cr_assert_eq(got, lsn, "append returned LSN %llu, expected %llu",
                     (unsigned long long)got, (unsigned long long)lsn);
    }
}

/* A replay callback that checks each synthetic record and counts per shard. */
typedef struct tw_collect {
    uint64_t next_lsn[INV_SHARDS_MAX]; /* per shard: LSN the next record must have */
    uint64_t count[INV_SHARDS_MAX];
    uint64_t total;
    int bad;
} tw_collect;

static inline void tw_collect_init(tw_collect *c, uint64_t first_lsn) {
    memset(c, 0, sizeof *c);
    for (uint32_t s = 0; s < INV_SHARDS_MAX; s++) c->next_lsn[s] = first_lsn;
}

static inline int tw_collect_fn(void *ctx, uint32_t shard, inv_rec_type type, const void *body,
                                uint32_t len, char *err, size_t errlen) {
    tw_collect *c = ctx;
    unsigned char want[512];
    uint64_t lsn = c->next_lsn[shard];
    uint32_t wlen = tw_body(shard, lsn, want);
    if (type != tw_type(lsn) || len != wlen || memcmp(body, want, len) != 0) {
        snprintf(err, errlen, "synthetic record %llu of shard %u differs",
                 (unsigned long long)lsn, shard);
        c->bad++;
        return -EINVAL;
    }
    c->next_lsn[shard]++;
    c->count[shard]++;
    c->total++;
    return 0;
}

/* Options for tests: small segments, fault hook off. */
static inline void tw_options(inv_persist_options *o, uint64_t segment_bytes) {
    inv_persist_options_default(o);
    o->segment_bytes = segment_bytes;
    o->batch_bytes = 64u << 10;
}

/* Open + recover with the synthetic collector. */
static inline int tw_persist_recover(inv_persist **out, const char *dir, uint32_t shards,
                                     const inv_persist_options *o, tw_collect *c,
                                     inv_recovery_report *rep, char *err, size_t errlen) {
    int rc = inv_persist_open(out, dir, shards, o);
    cr_assert_eq(rc, 0, "inv_persist_open: %s", strerror(-rc));
    tw_collect_init(c, 1);
    rc = inv_persist_recover_with(*out, tw_collect_fn, c, rep, err, errlen);
    return rc;
}

/* ------------------------------------------------------------------------------------
 * File surgery
 * ------------------------------------------------------------------------------------ */
static inline void tw_path(char *out, const char *dir, const char *name) {
    snprintf(out, TW_PATH_MAX * 2, "%s/%s", dir, name);
}

static inline void tw_seg_path(char *out, const char *dir, uint32_t shard, uint64_t seg) {
    char name[PERSIST_NAME_MAX];
    persist_segment_name(name, sizeof name, shard, seg, false);
    tw_path(out, dir, name);
}

static inline void tw_pwrite(const char *path, const void *buf, size_t len, uint64_t off) {
    int fd = open(path, O_WRONLY);
    cr_assert(fd >= 0, "open %s: %s", path, strerror(errno));
    cr_assert_eq(pwrite(fd, buf, len, (off_t)off), (ssize_t)len);
    close(fd);
}

static inline void tw_pread(const char *path, void *buf, size_t len, uint64_t off) {
    int fd = open(path, O_RDONLY);
    cr_assert(fd >= 0, "open %s: %s", path, strerror(errno));
    cr_assert_eq(pread(fd, buf, len, (off_t)off), (ssize_t)len);
    close(fd);
}

static inline void tw_flip_bit(const char *path, uint64_t off, unsigned bit) {
    unsigned char b;
    tw_pread(path, &b, 1, off);
    b ^= (unsigned char)(1u << bit);
    tw_pwrite(path, &b, 1, off);
}

/* Byte offsets of the records of a segment, in order (up to cap); returns the count. */
static inline uint32_t tw_record_offsets(const char *path, uint64_t *offs, uint32_t *sizes,
                                         uint32_t cap) {
    int fd = open(path, O_RDONLY);
    cr_assert(fd >= 0);
    struct stat st;
    fstat(fd, &st);
    unsigned char *buf = malloc((size_t)st.st_size);
    cr_assert_eq(pread(fd, buf, (size_t)st.st_size, 0), st.st_size);
    close(fd);
    uint32_t n = 0;
    uint64_t off = PERSIST_FILE_HEADER_BYTES;
    while (n < cap && off + PERSIST_REC_HEADER_BYTES <= (uint64_t)st.st_size) {
        rec_view v;
        if (rec_decode(buf + off, (size_t)st.st_size - off, &v) != REC_OK) break;
        offs[n] = off;
        sizes[n] = v.size;
        n++;
        off += v.size;
    }
    free(buf);
    return n;
}

#endif /* INV_TEST_WAL_SUPPORT_H */
