/*
 * recent.c — FIFO window set (see recent.h).
 *
 * Index slots. Each slot holds a ring position in its low RECENT_AT_BITS bits and, in
 * the top bits, the entry's probe distance from its home slot (saturated at
 * RECENT_DIST_SAT, which means "read the home from the ring"). With the distance in the
 * slot, backward-shift deletion decides whether an entry of the run may move into the
 * hole without loading that entry's ring record, and a look-up skips entries whose home
 * differs from its own without comparing keys. Those loads were a cache miss per
 * shifted entry: 78 % of the time of an eviction in a replay profile (perf annotate of
 * pop_oldest), where every commit's tombstone evicts the oldest.
 *
 * Invariants: every live ring entry has exactly one index slot pointing at it, and that
 * slot's distance field is min(true distance, RECENT_DIST_SAT); the index is at most
 * half full (capacity ≤ slots / 2), so probes stay short and an empty slot always ends
 * a probe. An entry's home is key1 & index_mask.
 */
#include "recent.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>

#include "oa_index.h"

#define RECENT_AT_BITS 29u
#define RECENT_AT_MASK ((1u << RECENT_AT_BITS) - 1u)
#define RECENT_DIST_SAT 7u /* 3 bits; a half-full index rarely probes that far */
/* A packed slot never equals OA_EMPTY: positions stay below RECENT_AT_MASK. */
#define RECENT_CAPACITY_MAX (RECENT_AT_MASK - 1u)

static inline uint32_t slot_pack(uint32_t at, uint32_t dist) {
    assert(at < RECENT_CAPACITY_MAX);
    return at | (dist < RECENT_DIST_SAT ? dist : RECENT_DIST_SAT) << RECENT_AT_BITS;
}
static inline uint32_t slot_at(uint32_t v) { return v & RECENT_AT_MASK; }
static inline uint32_t slot_dist(uint32_t v) { return v >> RECENT_AT_BITS; }

int recent_open(recent_set *r, uint32_t capacity) {
    assert(r != NULL);
    assert(capacity > 0);
    if (capacity > RECENT_CAPACITY_MAX) return -EINVAL;
    r->capacity = capacity;
    r->head = r->tail = 0;
    r->dropped_early = 0;
    uint32_t slots = oa_pow2_at_least((uint64_t)capacity * 2);
    r->index_mask = slots - 1;
    r->ring = calloc(capacity, sizeof *r->ring);
    r->index = malloc((size_t)slots * sizeof *r->index);
    if (r->ring == NULL || r->index == NULL) {
        recent_close(r);
        return -ENOMEM;
    }
    for (uint32_t i = 0; i < slots; i++) r->index[i] = OA_EMPTY;
    return 0;
}

void recent_close(recent_set *r) {
    free(r->ring);
    free(r->index);
    r->ring = NULL;
    r->index = NULL;
}

recent_entry *recent_find(const recent_set *r, uint64_t key1, uint64_t key2) {
    uint32_t slot = (uint32_t)key1 & r->index_mask;
    for (uint32_t probes = 0; probes <= r->index_mask; probes++) {
        uint32_t v = r->index[slot];
        if (v == OA_EMPTY) return NULL;
        /* Same home (same distance so far, or a saturated one): compare keys. */
        uint32_t d = slot_dist(v);
        if (d == probes || (d == RECENT_DIST_SAT && probes >= RECENT_DIST_SAT)) {
            recent_entry *en = &r->ring[slot_at(v)];
            if (en->key1 == key1 && en->key2 == key2) return en;
        }
        slot = (slot + 1) & r->index_mask;
    }
    return NULL;
}

/* Distance of the entry in `slot` (index value v) from its home. */
static inline uint32_t entry_dist(const recent_set *r, uint32_t slot, uint32_t v) {
    uint32_t d = slot_dist(v);
    if (d < RECENT_DIST_SAT) return d;
    return (slot - ((uint32_t)r->ring[slot_at(v)].key1 & r->index_mask)) & r->index_mask;
}

/* Evictions go in ring order, so the index slot of the entry evicted a few adds from now
 * is known: start loading it (in a full window each add evicts one, a cache miss). */
#define RECENT_EVICT_PREFETCH_AHEAD 8u

/* Remove the oldest entry: find its slot from its home, then backward-shift deletion —
 * each later entry of the run moves into the hole if its home is not in (hole, slot],
 * i.e. if its distance is at least (slot − hole); only saturated distances need the
 * ring. */
static void pop_oldest(recent_set *r) {
    assert(r->tail > r->head);
    if (r->tail - r->head > RECENT_EVICT_PREFETCH_AHEAD)
        recent_prefetch(r, r->ring[(r->head + RECENT_EVICT_PREFETCH_AHEAD) % r->capacity].key1);
    uint32_t at = (uint32_t)(r->head % r->capacity);
    uint32_t mask = r->index_mask;
    uint32_t slot = (uint32_t)r->ring[at].key1 & mask;
    for (uint32_t probes = 0; slot_at(r->index[slot]) != at; probes++) {
        assert(r->index[slot] != OA_EMPTY);
        assert(probes <= mask);
        slot = (slot + 1) & mask;
    }
    uint32_t hole = slot;
    for (uint32_t probes = 0; probes <= mask; probes++) {
        slot = (slot + 1) & mask;
        uint32_t v = r->index[slot];
        if (v == OA_EMPTY) break;
        uint32_t d = entry_dist(r, slot, v), gap = (slot - hole) & mask;
        if (d < gap) continue; /* its home is in (hole, slot]: it stays */
        r->index[hole] = slot_pack(slot_at(v), d - gap);
        hole = slot;
    }
    r->index[hole] = OA_EMPTY;
    r->head++;
}

recent_entry *recent_add(recent_set *r, uint64_t key1, uint64_t key2, uint64_t at_ms) {
    assert(recent_find(r, key1, key2) == NULL);
    if (r->tail - r->head == r->capacity) {
        pop_oldest(r);
        r->dropped_early++;
    }
    uint32_t at = (uint32_t)(r->tail % r->capacity);
    recent_entry *en = &r->ring[at];
    en->key1 = key1;
    en->key2 = key2;
    en->at_ms = at_ms;
    en->content_hash = 0;
    en->value = 0;
    uint32_t slot = (uint32_t)key1 & r->index_mask, dist = 0;
    while (r->index[slot] != OA_EMPTY) { /* bounded: the index is at most half full */
        slot = (slot + 1) & r->index_mask;
        dist++;
    }
    r->index[slot] = slot_pack(at, dist);
    r->tail++;
    return en;
}

uint32_t recent_expire(recent_set *r, uint64_t cutoff_ms, uint32_t max) {
    uint32_t n = 0;
    while (n < max && r->tail > r->head &&
           r->ring[r->head % r->capacity].at_ms <= cutoff_ms) {
        pop_oldest(r);
        n++;
    }
    return n;
}
