/*
 * recent.c — FIFO window set (see recent.h).
 *
 * Invariants: every live ring entry has exactly one index slot pointing at it (its
 * ring position as the handle, with its probe distance: oa_index.h); the index is at
 * most half full (capacity ≤ slots / 2), so probes stay short and an empty slot always
 * ends a probe. An entry's home is key1 & index_mask.
 */
#include "recent.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>

#include "oa_index.h"

int recent_open(recent_set *r, uint32_t capacity) {
    assert(r != NULL);
    assert(capacity > 0);
    if (capacity > OA_HANDLE_MAX) return -EINVAL; /* ring positions are the handles */
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
        if (oa_same_home(v, probes)) {
            recent_entry *en = &r->ring[oa_handle(v)];
            if (en->key1 == key1 && en->key2 == key2) return en;
        }
        slot = (slot + 1) & r->index_mask;
    }
    return NULL;
}

static uint32_t entry_home(const void *ctx, uint32_t at) {
    const recent_set *r = ctx;
    return (uint32_t)r->ring[at].key1 & r->index_mask;
}

/* Evictions go in ring order, so the index slot of the entry evicted a few adds from now
 * is known: start loading it (in a full window each add evicts one, a cache miss). */
#define RECENT_EVICT_PREFETCH_AHEAD 8u

static void pop_oldest(recent_set *r) {
    assert(r->tail > r->head);
    if (r->tail - r->head > RECENT_EVICT_PREFETCH_AHEAD)
        recent_prefetch(r, r->ring[(r->head + RECENT_EVICT_PREFETCH_AHEAD) % r->capacity].key1);
    oa_remove(r->index, r->index_mask, (uint32_t)(r->head % r->capacity), entry_home, r);
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
    oa_insert(r->index, r->index_mask, (uint32_t)key1, at);
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
