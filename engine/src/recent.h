/*
 * recent.h — a per-shard FIFO set of recently seen keys with a time window.
 *
 * Holds the tombstones of finished reservations and the ref_ids of applied Adjust /
 * Return ops (DESIGN.md §2: "dropped after the idempotency window"). Entries are added
 * in time order, so they also leave in that order: a ring buffer plus an open-addressing
 * index (linear probing, backward-shift deletion). Memory is fixed at start-up; when the
 * ring is full the oldest entry leaves early and is counted, never silently.
 * Single-threaded: the owning shard only.
 */
#ifndef INV_RECENT_H
#define INV_RECENT_H

#include <stdbool.h>
#include <stdint.h>

typedef struct recent_entry {
    uint64_t key1, key2;   /* two independent 64-bit hashes of the id */
    uint64_t at_ms;        /* when it was added (its window starts) */
    uint64_t content_hash; /* what the original request said */
    int64_t value;         /* tombstone: final state; ref: applied delta */
} recent_entry;

typedef struct recent_set {
    recent_entry *ring;
    uint32_t capacity;
    uint64_t head, tail;   /* live entries are ring[head..tail) mod capacity */
    uint32_t *index;       /* ring slot + probe distance (oa_index.h), or OA_EMPTY */
    uint32_t index_mask;
    uint64_t dropped_early;
} recent_set;

/* @return 0 or -ENOMEM. */
int recent_open(recent_set *r, uint32_t capacity);
void recent_close(recent_set *r);
/* The entry for (key1, key2), or NULL. */
recent_entry *recent_find(const recent_set *r, uint64_t key1, uint64_t key2);
/* Start loading the index slot where a look-up of key1 begins. */
static inline void recent_prefetch(const recent_set *r, uint64_t key1) {
    __builtin_prefetch(&r->index[(uint32_t)key1 & r->index_mask]);
}
/* Add a new entry (the key must not be present); evicts the oldest when full. */
recent_entry *recent_add(recent_set *r, uint64_t key1, uint64_t key2, uint64_t at_ms);
/* Drop entries added at or before `cutoff_ms`, at most `max`. @return how many. */
uint32_t recent_expire(recent_set *r, uint64_t cutoff_ms, uint32_t max);
static inline uint64_t recent_count(const recent_set *r) { return r->tail - r->head; }

#endif /* INV_RECENT_H */
