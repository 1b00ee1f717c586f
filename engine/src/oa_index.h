/*
 * oa_index.h — the engine's open-addressing indexes of 32-bit handles (private to
 * engine/src).
 *
 * Every index here (nodes, SKUs, limits and cells in the shared tables; live
 * reservations and tombstone / ref_id windows per shard) is a power-of-two array of
 * 32-bit handles, probed linearly from hash & mask and sized at least twice its
 * capacity, so it stays at most half full and an empty slot always ends a probe.
 *
 * The two per-shard indexes that also delete (resv.c, recent.c) share the insert and
 * the backward-shift delete below. An entry stays a bare 4-byte handle: its key lives
 * in the record the handle names, and the caller says how to find its home slot
 * (`home_of`). Both helpers are always inlined, so that call is direct and costs
 * nothing on the reserve/finish path. Single-threaded: the owning shard only.
 */
#ifndef INV_OA_INDEX_H
#define INV_OA_INDEX_H

#include <assert.h>
#include <stdbool.h>
#include <stdint.h>

#define OA_EMPTY UINT32_MAX /* a free slot (never a handle) */

/* The smallest power of two ≥ n, at most 2^31: the slot count of an index for n / 2
 * entries. */
static inline uint32_t oa_pow2_at_least(uint64_t n) {
    uint64_t p = 1;
    while (p < n && p < (1ull << 31)) p <<= 1;
    return (uint32_t)p;
}

/* Home slot (already masked) of the entry named by `handle`. */
typedef uint32_t (*oa_home_fn)(const void *ctx, uint32_t handle);

/* Put `handle` in the first free slot from `home` on. The index must have room. */
static inline __attribute__((always_inline)) void
oa_insert(uint32_t *index, uint32_t mask, uint32_t home, uint32_t handle) {
    assert(handle != OA_EMPTY);
    uint32_t slot = home & mask;
    while (index[slot] != OA_EMPTY) slot = (slot + 1) & mask;
    index[slot] = handle;
}

/* Remove `handle` (which must be present) by backward-shift deletion: later entries of
 * the probe run move back into the hole unless that would put them before their home,
 * so no tombstone slots build up and look-ups stay as short as after a fresh insert. */
static inline __attribute__((always_inline)) void
oa_remove(uint32_t *index, uint32_t mask, uint32_t handle, oa_home_fn home_of,
          const void *ctx) {
    uint32_t slot = home_of(ctx, handle);
    for (uint32_t probes = 0; index[slot] != handle; probes++) {
        assert(index[slot] != OA_EMPTY);
        assert(probes <= mask);
        slot = (slot + 1) & mask;
    }
    uint32_t hole = slot;
    for (uint32_t probes = 0; probes <= mask; probes++) {
        slot = (slot + 1) & mask;
        uint32_t moved = index[slot];
        if (moved == OA_EMPTY) break;
        uint32_t home = home_of(ctx, moved);
        /* The entry at `slot` may fill the hole if its home is not in (hole, slot]. */
        bool stays = hole <= slot ? (home > hole && home <= slot)
                                  : (home > hole || home <= slot);
        if (stays) continue;
        index[hole] = moved;
        hole = slot;
    }
    index[hole] = OA_EMPTY;
}

#endif /* INV_OA_INDEX_H */
