/*
 * test_hash.c — inv_hash64, the id hash (engine/src/hash.c).
 *
 * Its values are part of the data format: the high half of an order id's hash picks
 * the shard that owns the order, and a data directory is recovered shard by shard, so a
 * build that hashed differently would look orders up on the wrong shard. Covers: pinned
 * values; equality with the reference definition (words, then the 0–7 tail bytes
 * zero-extended little-endian) for every length up to 80 at every alignment; no read
 * outside [data, data + len), with the id flush against an inaccessible page on either
 * side.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "engine_int.h"

#define SEED 0x6f72646572ull

/* The definition, written for clarity: what hash.c must compute, however it loads. */
static uint64_t reference_hash(const unsigned char *p, size_t len, uint64_t seed) {
    uint64_t h = seed ^ ((uint64_t)len * 0x9e3779b97f4a7c15ull);
    size_t words = len / 8;
    for (size_t i = 0; i < words; i++, p += 8) {
        uint64_t w = 0;
        for (int b = 0; b < 8; b++) w |= (uint64_t)p[b] << (8 * b);
        h = (h ^ inv_mix64(w + i)) * 0x9e3779b97f4a7c15ull;
        h ^= h >> 29;
    }
    uint64_t tail = 0;
    for (size_t b = 0; b < (len & 7u); b++) tail |= (uint64_t)p[b] << (8 * b);
    h ^= inv_mix64(tail ^ ((uint64_t)(len & 7u) << 56));
    return inv_mix64(h);
}

Test(hash, values_are_pinned) {
    static const struct {
        const char *id;
        uint64_t h;
    } pinned[] = {
        {"", 0x643badb0ec1f1f46ull},
        {"a", 0x70d782afedf954edull},
        {"ab", 0x51ddabac0a37d75dull},
        {"abc", 0xf63713a8ed7be125ull},
        {"abcd", 0x27b9af8ad28bd8dbull},
        {"abcde", 0xa418d54b304d3496ull},
        {"abcdef", 0xcd194cc3b240978bull},
        {"abcdefg", 0x8aec5d32e0a189ecull},
        {"abcdefgh", 0x625254e5827846adull},
        {"order-000001", 0x3bd51855cd9ae3a7ull},
        {"c-42", 0x726d839541a245adull},
        {"SKU-FLASH-00", 0x18886504970bca11ull},
        {"WH-Shanghai-1", 0x5a4491247cc40ab3ull},
        {"a-much-longer-order-id-with-41-characters", 0xbc61447e18cb904aull},
    };
    for (size_t i = 0; i < sizeof pinned / sizeof pinned[0]; i++) {
        uint64_t h = inv_hash64(pinned[i].id, strlen(pinned[i].id), SEED);
        cr_assert_eq(h, pinned[i].h, "\"%s\": %016llx, pinned %016llx", pinned[i].id,
                     (unsigned long long)h, (unsigned long long)pinned[i].h);
    }
}

Test(hash, equals_the_definition_at_every_length_and_alignment) {
    unsigned char buf[96 + 8];
    uint64_t s = 0x243f6a8885a308d3ull;
    for (int round = 0; round < 50; round++) {
        for (size_t i = 0; i < sizeof buf; i++) {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            buf[i] = (unsigned char)s;
        }
        for (size_t off = 0; off < 8; off++)
            for (size_t len = 0; len <= 80; len++)
                cr_assert_eq(inv_hash64(buf + off, len, s), reference_hash(buf + off, len, s),
                             "len %zu, offset %zu", len, off);
    }
}

/* An id flush against a PROT_NONE page on either side: any read outside it faults. */
Test(hash, reads_only_the_id) {
    long page = sysconf(_SC_PAGESIZE);
    cr_assert_gt(page, 0);
    unsigned char *m = mmap(NULL, 3 * (size_t)page, PROT_READ | PROT_WRITE,
                            MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(m, MAP_FAILED);
    cr_assert_eq(mprotect(m, (size_t)page, PROT_NONE), 0);
    cr_assert_eq(mprotect(m + 2 * page, (size_t)page, PROT_NONE), 0);
    unsigned char *lo = m + page, *hi = m + 2 * page;
    memset(lo, 'x', (size_t)page);
    for (size_t len = 0; len <= 40; len++) {
        cr_assert_eq(inv_hash64(hi - len, len, SEED), reference_hash(hi - len, len, SEED));
        cr_assert_eq(inv_hash64(lo, len, SEED), reference_hash(lo, len, SEED));
    }
    munmap(m, 3 * (size_t)page);
}
