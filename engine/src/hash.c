/*
 * hash.c — string hashing for ids (order, customer, SKU, node, ref).
 *
 * A multiply-xorshift hash over 8-byte words: fast on the short ids invd sees
 * (10–40 bytes), well spread in both halves of the result, so that the high half can
 * pick the shard and the low half the table slot without the two being correlated.
 * Not cryptographic: ids come from trusted checkout services, and every table bounds
 * its probe length.
 */
#include <string.h>

#include "engine_int.h"

static inline uint64_t load_word(const unsigned char *p) {
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

uint64_t inv_hash64(const void *data, size_t len, uint64_t seed) {
    assert(data != NULL || len == 0);
    const unsigned char *p = data;
    uint64_t h = seed ^ ((uint64_t)len * 0x9e3779b97f4a7c15ull);
    size_t words = len / 8;
    for (size_t i = 0; i < words; i++, p += 8) {
        h = (h ^ inv_mix64(load_word(p) + i)) * 0x9e3779b97f4a7c15ull;
        h ^= h >> 29;
    }
    uint64_t tail = 0;
    memcpy(&tail, p, len & 7u);
    h ^= inv_mix64(tail ^ ((uint64_t)(len & 7u) << 56));
    return inv_mix64(h);
}

size_t inv_strnlen_bounded(const char *s, size_t max) {
    assert(s != NULL);
    return strnlen(s, max + 1);
}
