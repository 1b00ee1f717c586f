/*
 * segment.c — the files of a persist directory: names, the header block that opens
 * every segment and snapshot, directory listing, and segment creation.
 *
 * Design:
 *   - Names are fixed-width and parsed strictly (wal-SSS-NNNNNNNNNN.log,
 *     snap-NNNNNNNNNN.snap, the same + ".tmp" while being written). Anything else in
 *     the directory is ignored.
 *   - The header repeats what the name says (shard, segment number or snapshot
 *     sequence) plus the log id, shard count, and the first LSN, under its own CRC32C:
 *     a file copied under another name, or from another directory, is refused.
 *   - A segment is created under a .tmp name, preallocated, given its header, fsynced,
 *     then renamed and the directory fsynced: a segment that has its final name always
 *     has a complete, durable header.
 *   - Preallocation: fallocate reserves the blocks but leaves "unwritten" extents whose
 *     first write costs a metadata journal commit in each fdatasync; writing zeros once
 *     makes every later sync a pure data flush (measured here: 1.5 vs 2.6 ms per
 *     batch), but writes every byte of log twice and stalls rotation for a 64 MiB
 *     write. The default is fallocate (figures and reasoning in persist.c).
 *
 * State diagram of a segment file:
 *
 *   (none) ──segment_create──► wal-…log.tmp ──segment_create (rename)──► wal-…log
 *   wal-…log.tmp (crash) ──recovery (unlink)──► (none)
 *   wal-…log ──persist_gc (unlinkat)──► (none)
 *
 * Invariants: every file with a final segment name has a valid header durable on disk;
 * header fields agree with the name; the data area starts at PERSIST_FILE_HEADER_BYTES.
 */
#define _GNU_SOURCE
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crc32c.h"
#include "persist_int.h"

#define SEG_MAGIC 0x314c415744564e49ull  /* "INVDWAL1" little-endian */
#define SNAP_MAGIC 0x31504e5344564e49ull /* "INVDSNP1" */
#define FILE_VERSION 1u
/* Byte offsets inside the header block. */
#define SEG_HDR_CRC_AT 64u
#define SNAP_HDR_LSN_AT 48u
#define SNAP_HDR_CRC_AT (SNAP_HDR_LSN_AT + 8u * INV_SHARDS_MAX)
/* Zero-fill preallocation writes this much at a time. */
#define SEG_ZERO_CHUNK (1u << 20)
#define SEG_NUM_DIGITS 10u
#define SEG_SHARD_DIGITS 3u

_Static_assert(SNAP_HDR_CRC_AT + 4u <= PERSIST_FILE_HEADER_BYTES, "snapshot header fits");

/* ====================================================================================
 * Little-endian field helpers
 * ==================================================================================== */

static void put64(unsigned char *p, uint64_t v) { memcpy(p, &v, 8); }
static void put32(unsigned char *p, uint32_t v) { memcpy(p, &v, 4); }
static uint64_t get64(const unsigned char *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static uint32_t get32(const unsigned char *p) { uint32_t v; memcpy(&v, p, 4); return v; }

/* ====================================================================================
 * Headers
 * ==================================================================================== */

void seg_header_encode(unsigned char *out, const seg_header *h) {
    assert(h->first_lsn > 0);
    assert(h->shard < h->shard_count);
    memset(out, 0, PERSIST_FILE_HEADER_BYTES);
    put64(out + 0, SEG_MAGIC);
    put32(out + 8, FILE_VERSION);
    put32(out + 12, PERSIST_FILE_HEADER_BYTES);
    put64(out + 16, h->log_id);
    put64(out + 24, h->segment);
    put64(out + 32, h->first_lsn);
    put64(out + 40, h->segment_bytes);
    put32(out + 48, h->shard);
    put32(out + 52, h->shard_count);
    put64(out + 56, h->created_ms);
    put32(out + SEG_HDR_CRC_AT, crc32c(0, out, SEG_HDR_CRC_AT));
}

static int hdr_fail(char *why, size_t n, const char *msg) {
    snprintf(why, n, "%s", msg);
    return -EBADMSG;
}

int seg_header_decode(const unsigned char *in, size_t avail, seg_header *h, char *why,
                      size_t whylen) {
    assert(in != NULL || avail == 0);
    assert(h != NULL);
    if (avail < PERSIST_FILE_HEADER_BYTES) return hdr_fail(why, whylen, "shorter than a header");
    if (get64(in) != SEG_MAGIC) return hdr_fail(why, whylen, "not a WAL segment (magic)");
    if (get32(in + SEG_HDR_CRC_AT) != crc32c(0, in, SEG_HDR_CRC_AT))
        return hdr_fail(why, whylen, "segment header CRC mismatch");
    if (get32(in + 8) != FILE_VERSION) return hdr_fail(why, whylen, "unknown segment version");
    if (get32(in + 12) != PERSIST_FILE_HEADER_BYTES)
        return hdr_fail(why, whylen, "unexpected header size");
    h->log_id = get64(in + 16);
    h->segment = get64(in + 24);
    h->first_lsn = get64(in + 32);
    h->segment_bytes = get64(in + 40);
    h->shard = get32(in + 48);
    h->shard_count = get32(in + 52);
    h->created_ms = get64(in + 56);
    if (h->shard_count == 0 || h->shard_count > INV_SHARDS_MAX || h->shard >= h->shard_count)
        return hdr_fail(why, whylen, "impossible shard numbers in header");
    if (h->first_lsn == 0 || h->segment == 0) return hdr_fail(why, whylen, "zero LSN/segment");
    return 0;
}

void snap_header_encode(unsigned char *out, const snap_header *h) {
    assert(h->seq > 0);
    assert(h->shard_count > 0 && h->shard_count <= INV_SHARDS_MAX);
    memset(out, 0, PERSIST_FILE_HEADER_BYTES);
    put64(out + 0, SNAP_MAGIC);
    put32(out + 8, FILE_VERSION);
    put32(out + 12, PERSIST_FILE_HEADER_BYTES);
    put64(out + 16, h->log_id);
    put64(out + 24, h->seq);
    put64(out + 32, h->created_ms);
    put32(out + 40, h->shard_count);
    for (uint32_t s = 0; s < h->shard_count; s++) put64(out + SNAP_HDR_LSN_AT + 8u * s, h->lsn[s]);
    put32(out + SNAP_HDR_CRC_AT, crc32c(0, out, SNAP_HDR_CRC_AT));
}

int snap_header_decode(const unsigned char *in, size_t avail, snap_header *h, char *why,
                       size_t whylen) {
    assert(in != NULL || avail == 0);
    assert(h != NULL);
    if (avail < PERSIST_FILE_HEADER_BYTES) return hdr_fail(why, whylen, "shorter than a header");
    if (get64(in) != SNAP_MAGIC) return hdr_fail(why, whylen, "not a snapshot (magic)");
    if (get32(in + SNAP_HDR_CRC_AT) != crc32c(0, in, SNAP_HDR_CRC_AT))
        return hdr_fail(why, whylen, "snapshot header CRC mismatch");
    if (get32(in + 8) != FILE_VERSION) return hdr_fail(why, whylen, "unknown snapshot version");
    if (get32(in + 12) != PERSIST_FILE_HEADER_BYTES)
        return hdr_fail(why, whylen, "unexpected header size");
    memset(h, 0, sizeof *h);
    h->log_id = get64(in + 16);
    h->seq = get64(in + 24);
    h->created_ms = get64(in + 32);
    h->shard_count = get32(in + 40);
    if (h->shard_count == 0 || h->shard_count > INV_SHARDS_MAX || h->seq == 0)
        return hdr_fail(why, whylen, "impossible fields in snapshot header");
    for (uint32_t s = 0; s < h->shard_count; s++) h->lsn[s] = get64(in + SNAP_HDR_LSN_AT + 8u * s);
    return 0;
}

/* ====================================================================================
 * Names
 * ==================================================================================== */

void persist_segment_name(char *buf, size_t n, uint32_t shard, uint64_t segment, bool tmp) {
    assert(shard < 1000u);
    assert(segment < 10000000000ull);
    snprintf(buf, n, "wal-%03" PRIu32 "-%010" PRIu64 ".log%s", shard, segment, tmp ? ".tmp" : "");
}

void persist_snapshot_name(char *buf, size_t n, uint64_t seq, bool tmp) {
    assert(seq > 0);
    assert(seq < 10000000000ull);
    snprintf(buf, n, "snap-%010" PRIu64 ".%s", seq, tmp ? "tmp" : "snap");
}

/* Parse exactly `digits` decimal digits at s. */
static bool name_digits(const char *s, uint32_t digits, uint64_t *out) {
    uint64_t v = 0;
    for (uint32_t i = 0; i < digits; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        v = v * 10u + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return true;
}

name_kind persist_name_parse(const char *name, uint32_t *shard, uint64_t *num) {
    assert(name != NULL);
    assert(shard != NULL && num != NULL);
    size_t len = strlen(name);
    uint64_t a = 0, b = 0;
    if (len >= 22 && memcmp(name, "wal-", 4) == 0 && name[7] == '-' &&
        name_digits(name + 4, SEG_SHARD_DIGITS, &a) &&
        name_digits(name + 8, SEG_NUM_DIGITS, &b) && b > 0) {
        *shard = (uint32_t)a;
        *num = b;
        if (strcmp(name + 18, ".log") == 0) return NAME_SEGMENT;
        if (strcmp(name + 18, ".log.tmp") == 0) return NAME_SEGMENT_TMP;
        return NAME_OTHER;
    }
    if (len >= 19 && memcmp(name, "snap-", 5) == 0 &&
        name_digits(name + 5, SEG_NUM_DIGITS, &b) && b > 0) {
        *shard = 0;
        *num = b;
        if (strcmp(name + 15, ".snap") == 0) return NAME_SNAPSHOT;
        if (strcmp(name + 15, ".tmp") == 0) return NAME_SNAPSHOT_TMP;
    }
    return NAME_OTHER;
}

/* ====================================================================================
 * Directory listing
 * ==================================================================================== */

static int dir_seg_cmp(const void *a, const void *b) {
    const dir_seg *x = a, *y = b;
    if (x->shard != y->shard) return x->shard < y->shard ? -1 : 1;
    return x->segment < y->segment ? -1 : x->segment > y->segment;
}

static int u64_cmp(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int dir_listing_alloc(dir_listing *l) {
    memset(l, 0, sizeof *l);
    l->segs = calloc(PERSIST_DIR_ENTRIES_MAX, sizeof *l->segs);
    l->snaps = calloc(PERSIST_SNAPSHOTS_MAX, sizeof *l->snaps);
    l->tmps = calloc(PERSIST_SNAPSHOTS_MAX, sizeof *l->tmps);
    if (l->segs == NULL || l->snaps == NULL || l->tmps == NULL) return -ENOMEM;
    return 0;
}

static int dir_listing_add(dir_listing *l, const char *name) {
    uint32_t shard = 0;
    uint64_t num = 0;
    name_kind k = persist_name_parse(name, &shard, &num);
    if (k == NAME_SEGMENT) {
        if (l->seg_count >= PERSIST_DIR_ENTRIES_MAX) return -E2BIG;
        l->segs[l->seg_count++] = (dir_seg){.shard = shard, .segment = num};
        if (shard + 1 > l->shard_max_seen) l->shard_max_seen = shard + 1;
    } else if (k == NAME_SNAPSHOT) {
        if (l->snap_count >= PERSIST_SNAPSHOTS_MAX) return -E2BIG;
        l->snaps[l->snap_count++] = num;
    } else if (k == NAME_SEGMENT_TMP || k == NAME_SNAPSHOT_TMP) {
        size_t len = strlen(name);
        if (l->tmp_count >= PERSIST_SNAPSHOTS_MAX || len >= PERSIST_NAME_MAX) return -E2BIG;
        memcpy(l->tmps[l->tmp_count++], name, len + 1);
    }
    return 0;
}

int dir_listing_read(int dir_fd, dir_listing *out) {
    assert(dir_fd >= 0);
    assert(out != NULL);
    int rc = dir_listing_alloc(out);
    int fd = rc == 0 ? dup(dir_fd) : -1;
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (rc == 0 && d == NULL) rc = -errno;
    if (fd >= 0 && d == NULL) close(fd);
    if (d != NULL) rewinddir(d);
    for (uint32_t i = 0; rc == 0 && d != NULL && i < PERSIST_DIR_ENTRIES_MAX * 2u; i++) {
        errno = 0;
        struct dirent *de = readdir(d);
        if (de == NULL) { rc = errno ? -errno : 0; break; }
        rc = dir_listing_add(out, de->d_name);
    }
    if (d != NULL) closedir(d);
    if (rc < 0) { dir_listing_free(out); return rc; }
    qsort(out->segs, out->seg_count, sizeof *out->segs, dir_seg_cmp);
    qsort(out->snaps, out->snap_count, sizeof *out->snaps, u64_cmp);
    return 0;
}

void dir_listing_free(dir_listing *l) {
    assert(l != NULL);
    free(l->segs);
    free(l->snaps);
    free(l->tmps);
    memset(l, 0, sizeof *l);
}

void dir_listing_shard(const dir_listing *l, uint32_t shard, uint32_t *first, uint32_t *end) {
    assert(first != NULL && end != NULL);
    uint32_t i = 0;
    while (i < l->seg_count && l->segs[i].shard < shard) i++;
    *first = i;
    while (i < l->seg_count && l->segs[i].shard == shard) i++;
    *end = i;
    assert(*first <= *end);
}

/* ====================================================================================
 * Segment creation
 * ==================================================================================== */

static int seg_zero_fill(int fd, uint64_t from, uint64_t to, const io_fault *f, uint32_t shard) {
    static const unsigned char zeros[SEG_ZERO_CHUNK];
    assert(from <= to);
    for (uint64_t off = from; off < to;) {
        uint64_t n = to - off < SEG_ZERO_CHUNK ? to - off : SEG_ZERO_CHUNK;
        int rc = io_file_write(f, shard, fd, zeros, (size_t)n, off);
        if (rc < 0) return rc;
        off += n;
    }
    return 0;
}

int segment_extend(int fd, uint64_t bytes, inv_wal_prealloc how, const io_fault *f,
                   uint32_t shard) {
    assert(fd >= 0);
    assert(bytes >= PERSIST_FILE_HEADER_BYTES);
    struct stat st;
    if (fstat(fd, &st) < 0) return -errno;
    uint64_t have = (uint64_t)st.st_size;
    if (have >= bytes) return 0;
    if (how == INV_WAL_PREALLOC_ZERO) return seg_zero_fill(fd, have, bytes, f, shard);
    if (fallocate(fd, 0, (off_t)have, (off_t)(bytes - have)) < 0) return -errno;
    return 0;
}

static int seg_fill_and_sync(int fd, const seg_header *h, inv_wal_prealloc how,
                             const io_fault *f) {
    unsigned char hdr[PERSIST_FILE_HEADER_BYTES];
    seg_header_encode(hdr, h);
    int rc = segment_extend(fd, h->segment_bytes, how, f, h->shard);
    if (rc == 0) rc = io_file_write(f, h->shard, fd, hdr, sizeof hdr, 0);
    if (rc == 0) rc = io_file_sync(f, h->shard, fd, false);
    return rc;
}

int segment_create(int dir_fd, const seg_header *h, inv_wal_prealloc how, const io_fault *f,
                   int *out_fd) {
    assert(h->segment_bytes >= PERSIST_SEGMENT_BYTES_MIN);
    assert(how == INV_WAL_PREALLOC_FALLOCATE || how == INV_WAL_PREALLOC_ZERO);
    char tmp[PERSIST_NAME_MAX], name[PERSIST_NAME_MAX];
    persist_segment_name(tmp, sizeof tmp, h->shard, h->segment, true);
    persist_segment_name(name, sizeof name, h->shard, h->segment, false);
    unlinkat(dir_fd, tmp, 0); /* a leftover of a crash during creation */
    int fd = openat(dir_fd, tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) return -errno;
    int rc = seg_fill_and_sync(fd, h, how, f);
    if (rc == 0 && renameat2(dir_fd, tmp, dir_fd, name, RENAME_NOREPLACE) < 0) rc = -errno;
    if (rc == 0) rc = io_file_sync(f, h->shard, dir_fd, false);
    if (rc < 0) {
        close(fd);
        unlinkat(dir_fd, tmp, 0);
        return rc;
    }
    *out_fd = fd;
    return 0;
}

int segment_header_read(int dir_fd, uint32_t shard, uint64_t segment, seg_header *h,
                        uint64_t *file_bytes, char *why, size_t whylen) {
    assert(dir_fd >= 0);
    assert(h != NULL);
    char name[PERSIST_NAME_MAX];
    persist_segment_name(name, sizeof name, shard, segment, false);
    int fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -errno;
    unsigned char buf[PERSIST_FILE_HEADER_BYTES];
    ssize_t n = pread(fd, buf, sizeof buf, 0);
    struct stat st;
    int rc = n < 0 || fstat(fd, &st) < 0 ? -errno : 0;
    close(fd);
    if (rc < 0) return rc;
    if (file_bytes != NULL) *file_bytes = (uint64_t)st.st_size;
    rc = seg_header_decode(buf, (size_t)n, h, why, whylen);
    if (rc < 0) return rc;
    if (h->shard != shard || h->segment != segment) {
        snprintf(why, whylen, "header names shard %" PRIu32 " segment %" PRIu64
                 " (file renamed or copied?)", h->shard, h->segment);
        return -EBADMSG;
    }
    return 0;
}
