/*
 * oa_index.h — the engine's open-addressing indexes of 32-bit handles (private to
 * engine/src).
 *
 * Every index here (nodes, SKUs, limits and cells in the shared tables; live
 * reservations and tombstone / ref_id windows per shard) is a power-of-two array of
 * 32-bit slots, probed linearly from hash & mask and sized at least twice its capacity,
 * so it stays at most half full and an empty slot always ends a probe.
 *
 * The two per-shard indexes that also delete (resv.c, recent.c) use the helpers below.
 * Their keys live in the records the handles name, and reading a record is a cache miss
 * on a large table, so each slot also carries the entry's probe distance from its home
 * slot: a handle in the low OA_HANDLE_BITS bits, the distance (saturated at
 * OA_DIST_SAT, which means "ask the record") in the top bits. With it,
 *   - a look-up compares keys only for entries whose home is its own (oa_same_home):
 *     an absent key — every new order's reserve — usually reads no record at all;
 *   - backward-shift deletion decides whether a later entry of the run may move into
 *     the hole from the slot alone (a replay profile had 78 % of an eviction's time in
 *     those record reads, one per shifted entry).
 * The caller says how to find a record's home (`home_of`), used for the entry being
 * removed and for saturated distances only. Always inlined, so that call is direct.
 * Single-threaded: the owning shard only.
 */
#ifndef INV_OA_INDEX_H
#define INV_OA_INDEX_H

#include <assert.h>
#include <stdbool.h>
#include <stdint.h>

#define OA_EMPTY UINT32_MAX /* a free slot */
#define OA_HANDLE_BITS 29u
#define OA_HANDLE_MASK ((1u << OA_HANDLE_BITS) - 1u)
/* Largest handle a slot can hold: a packed slot then never equals OA_EMPTY. */
#define OA_HANDLE_MAX (OA_HANDLE_MASK - 1u)
#define OA_DIST_SAT 7u /* 3 bits; a half-full index rarely probes that far */

/* The smallest power of two ≥ n, at most 2^31: the slot count of an index for n / 2
 * entries. */
static inline uint32_t oa_pow2_at_least(uint64_t n) {
    uint64_t p = 1;
    while (p < n && p < (1ull << 31)) p <<= 1;
    return (uint32_t)p;
}

static inline uint32_t oa_pack(uint32_t handle, uint32_t dist) {
    assert(handle <= OA_HANDLE_MAX);
    return handle | (dist < OA_DIST_SAT ? dist : OA_DIST_SAT) << OA_HANDLE_BITS;
}
/* The handle of a used slot. */
static inline uint32_t oa_handle(uint32_t v) { return v & OA_HANDLE_MASK; }

/* Whether the used slot `v`, reached `probes` slots after a look-up's home, may hold an
 * entry of that same home (false: its key differs for sure). */
static inline bool oa_same_home(uint32_t v, uint32_t probes) {
    uint32_t d = v >> OA_HANDLE_BITS;
    return d == probes || (d == OA_DIST_SAT && probes >= OA_DIST_SAT);
}

/* Home slot (already masked) of the entry named by `handle`. */
typedef uint32_t (*oa_home_fn)(const void *ctx, uint32_t handle);

/* Put `handle` in the first free slot from `home` on. The index must have room. */
static inline __attribute__((always_inline)) void
oa_insert(uint32_t *index, uint32_t mask, uint32_t home, uint32_t handle) {
    uint32_t slot = home & mask, dist = 0;
    while (index[slot] != OA_EMPTY) { /* bounded: the index is at most half full */
        slot = (slot + 1) & mask;
        dist++;
    }
    index[slot] = oa_pack(handle, dist);
}

/* Remove `handle` (which must be present) by backward-shift deletion: each later entry
 * of the run moves back into the hole unless its home is in (hole, slot] — i.e. unless
 * its distance is below (slot − hole) — so no tombstone slots build up and look-ups stay
 * as short as after a fresh insert. */
static inline __attribute__((always_inline)) void
oa_remove(uint32_t *index, uint32_t mask, uint32_t handle, oa_home_fn home_of,
          const void *ctx) {
    uint32_t slot = home_of(ctx, handle);
    for (uint32_t probes = 0; oa_handle(index[slot]) != handle; probes++) {
        assert(index[slot] != OA_EMPTY);
        assert(probes <= mask);
        slot = (slot + 1) & mask;
    }
    uint32_t hole = slot;
    for (uint32_t probes = 0; probes <= mask; probes++) {
        slot = (slot + 1) & mask;
        uint32_t v = index[slot];
        if (v == OA_EMPTY) break;
        uint32_t d = v >> OA_HANDLE_BITS;
        if (d == OA_DIST_SAT) d = (slot - home_of(ctx, oa_handle(v))) & mask;
        uint32_t gap = (slot - hole) & mask;
        if (d < gap) continue; /* its home is in (hole, slot]: it stays */
        index[hole] = oa_pack(oa_handle(v), d - gap);
        hole = slot;
    }
    index[hole] = OA_EMPTY;
}

#endif /* INV_OA_INDEX_H */
