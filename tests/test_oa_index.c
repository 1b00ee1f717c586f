/*
 * test_oa_index.c — the per-shard open-addressing index with probe distances
 * (engine/src/oa_index.h), alone and inside the FIFO window set behind tombstones and
 * ref_ids (engine/src/recent.c); white-box, against models.
 *
 * Covers: every present handle is found and no removed or never-added one is; removal
 * in any order (the reservation index) and oldest-first, by a full ring or by time (the
 * window set); and the index's own invariants after every step — each entry has exactly
 * one slot, each slot's distance field is min(true probe distance from the entry's
 * home, saturation), no entry sits past a hole in its home's run. Keys are drawn from a
 * handful of homes, including the last slots of the index, so runs are long, wrap
 * around the end, and saturate the distance field.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "oa_index.h"
#include "recent.h"

#define MODEL_MAX 64u

typedef struct model {
    uint64_t key1[MODEL_MAX], key2[MODEL_MAX], at_ms[MODEL_MAX];
    uint32_t head, n; /* FIFO of live keys */
} model;

static uint64_t rng_next(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* The used slot `s` (value v) of an index of mask+1 slots, whose entry's home is
 * `home`: its distance field is min(true distance, OA_DIST_SAT), and every slot from
 * its home up to it is occupied. */
static void check_slot(const uint32_t *index, uint32_t mask, uint32_t s, uint32_t home) {
    uint32_t v = index[s], field = v >> OA_HANDLE_BITS, dist = (s - home) & mask;
    cr_assert_eq(field, dist < OA_DIST_SAT ? dist : OA_DIST_SAT,
                 "slot %u: distance field %u, true distance %u", s, field, dist);
    for (uint32_t k = 0; k < dist; k++)
        cr_assert_neq(index[(home + k) & mask], OA_EMPTY,
                      "slot %u: a hole between its home %u and it", s, home);
}

static void check_index(const recent_set *r, const model *m) {
    uint32_t slots = r->index_mask + 1, used = 0;
    for (uint32_t s = 0; s < slots; s++) {
        uint32_t v = r->index[s];
        if (v == OA_EMPTY) continue;
        used++;
        const recent_entry *en = &r->ring[oa_handle(v)];
        check_slot(r->index, r->index_mask, s, (uint32_t)en->key1 & r->index_mask);
    }
    cr_assert_eq(used, m->n, "%u index slots in use for %u live keys", used, m->n);
    cr_assert_eq(recent_count(r), m->n);
}

static void check_lookups(const recent_set *r, const model *m, uint64_t *seed) {
    for (uint32_t i = 0; i < m->n; i++) {
        uint32_t k = (m->head + i) % MODEL_MAX;
        const recent_entry *en = recent_find(r, m->key1[k], m->key2[k]);
        cr_assert_not_null(en, "live key %u (key1 %llx) not found", i,
                           (unsigned long long)m->key1[k]);
        cr_assert_eq(en->at_ms, m->at_ms[k]);
    }
    /* Absent keys: same homes, other key2 — the look-up must not stop early or match. */
    for (int i = 0; i < 8; i++) {
        uint64_t key1 = rng_next(seed) % 6u, key2 = rng_next(seed) | (1ull << 63);
        cr_assert_null(recent_find(r, key1, key2), "an absent key was found");
    }
}

/* Keys whose home is one of 6 slots (the first three and the last three of a 64-slot
 * index), key2 unique: long runs that wrap around the end of the index. */
static void add_one(recent_set *r, model *m, uint64_t *seed, uint64_t now, uint32_t capacity) {
    uint64_t homes[6] = {0, 1, 2, 61, 62, 63};
    uint64_t key1 = homes[rng_next(seed) % 6u] + (rng_next(seed) << 8);
    uint64_t key2 = rng_next(seed) & ~(1ull << 63);
    uint64_t dropped = r->dropped_early;
    recent_add(r, key1, key2, now);
    if (m->n == capacity) { /* the ring was full: the oldest left */
        cr_assert_eq(r->dropped_early, dropped + 1);
        m->head = (m->head + 1) % MODEL_MAX;
        m->n--;
    }
    uint32_t k = (m->head + m->n) % MODEL_MAX;
    m->key1[k] = key1;
    m->key2[k] = key2;
    m->at_ms[k] = now;
    m->n++;
}

Test(recent, matches_a_model_through_evictions_expiries_and_wrapping_runs) {
    const uint32_t capacity = 32; /* 64 index slots, half full at most */
    recent_set r;
    cr_assert_eq(recent_open(&r, capacity), 0);
    cr_assert_eq(r.index_mask, 63u);
    model m = {0};
    uint64_t seed = 0x9e3779b97f4a7c15ull, now = 1000;
    for (uint32_t step = 0; step < 20000; step++) {
        now += rng_next(&seed) % 3u;
        if (rng_next(&seed) % 8u == 0) { /* expire everything older than a cut-off */
            uint64_t cutoff = now - rng_next(&seed) % 40u;
            uint32_t want = 0;
            while (want < m.n && m.at_ms[(m.head + want) % MODEL_MAX] <= cutoff) want++;
            uint32_t got = recent_expire(&r, cutoff, UINT32_MAX);
            cr_assert_eq(got, want, "step %u: expired %u, the model %u", step, got, want);
            m.head = (m.head + want) % MODEL_MAX;
            m.n -= want;
        } else {
            add_one(&r, &m, &seed, now, capacity);
        }
        check_index(&r, &m);
        check_lookups(&r, &m, &seed);
    }
    recent_close(&r);
}

Test(recent, capacity_beyond_the_slot_layout_is_refused) {
    recent_set r;
    memset(&r, 0, sizeof r);
    cr_assert_eq(recent_open(&r, 1u << 29), -EINVAL);
}

/* The index alone, as resv.c uses it: handles with arbitrary homes, removed in any
 * order. */
#define OA_SLOTS 64u
#define OA_HANDLES 32u

typedef struct oa_model {
    uint32_t home[OA_HANDLES];
    bool present[OA_HANDLES];
} oa_model;

static uint32_t model_home(const void *ctx, uint32_t handle) {
    const oa_model *m = ctx;
    return m->home[handle];
}

static uint32_t oa_find(const uint32_t *index, const oa_model *m, uint32_t handle) {
    uint32_t home = m->home[handle], slot = home;
    for (uint32_t probes = 0; probes < OA_SLOTS; probes++) {
        uint32_t v = index[slot];
        if (v == OA_EMPTY) return OA_EMPTY;
        if (oa_same_home(v, probes) && oa_handle(v) == handle) return slot;
        slot = (slot + 1) & (OA_SLOTS - 1u);
    }
    return OA_EMPTY;
}

static void oa_check(const uint32_t *index, const oa_model *m) {
    uint32_t used = 0;
    for (uint32_t s = 0; s < OA_SLOTS; s++) {
        uint32_t v = index[s];
        if (v == OA_EMPTY) continue;
        used++;
        uint32_t h = oa_handle(v);
        cr_assert(m->present[h], "slot %u holds removed handle %u", s, h);
        check_slot(index, OA_SLOTS - 1u, s, m->home[h]);
    }
    uint32_t want = 0;
    for (uint32_t h = 0; h < OA_HANDLES; h++) {
        want += m->present[h];
        cr_assert_eq(oa_find(index, m, h) != OA_EMPTY, m->present[h], "handle %u: found %d",
                     h, oa_find(index, m, h) != OA_EMPTY);
    }
    cr_assert_eq(used, want);
}

Test(oa_index, inserts_and_removes_in_any_order_match_a_model) {
    uint32_t index[OA_SLOTS];
    memset(index, 0xff, sizeof index);
    oa_model m = {0};
    uint64_t seed = 0x2545f4914f6cdd1dull;
    static const uint32_t homes[5] = {0, 1, 62, 63, 30};
    for (uint32_t h = 0; h < OA_HANDLES; h++) m.home[h] = homes[rng_next(&seed) % 5u];
    for (uint32_t step = 0; step < 50000; step++) {
        uint32_t h = (uint32_t)(rng_next(&seed) % OA_HANDLES);
        if (m.present[h]) {
            oa_remove(index, OA_SLOTS - 1u, h, model_home, &m);
            m.present[h] = false;
        } else {
            oa_insert(index, OA_SLOTS - 1u, m.home[h], h);
            m.present[h] = true;
        }
        oa_check(index, &m);
    }
}
