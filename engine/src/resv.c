/*
 * resv.c — reservations: the life of an order on its owner shard.
 *
 * State diagram (the function that makes each transition):
 *
 *        resv_reserve            resv_commit
 *   (none) ───────────▶ HELD ─────────────────▶ COMMITTED ─┐
 *                        │  resv_release                    │
 *                        ├─────────────────▶ RELEASED ──────┼─▶ tombstone ─▶ (dropped
 *                        │  resv_expire_due / a late commit │    after the idempotency
 *                        └─────────────────▶ EXPIRED ───────┘    window: recent.c)
 *
 * Only the owner shard (hash(order_id) mod N) runs these, so a reservation has a
 * single writer and needs no lock. Live (HELD) records sit in a per-shard arena sized
 * at start-up (a buddy allocator of 32-byte units, so no fragmentation builds up),
 * found through an open-addressing index and linked into the shard's timer wheel by
 * their expiry. A finished reservation gives its units
 * back, frees its record and leaves a 40-byte tombstone (keyed by two hashes of the
 * order id) that still answers retries with the final state.
 *
 * Reserve, step by step: validate and resolve SKUs (nothing changes before this
 * passes) → existing record or tombstone answers a retry → sold-out fast path (one
 * read of each SKU's flag) → purchase limits (atomic counters) → plan (route.c) and
 * take each planned (sku, node, qty) with one CAS, re-planning if a race was lost and
 * rolling back what was taken → count node capacity → record, index, timer.
 * Every failure after a side effect undoes that effect, in reverse order.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "journal.h"
#include "oa_index.h"
#include "shard_int.h"

#define SEED_ORDER 0x6f72646572ull
#define SEED_ORDER2 0x4f524445523200ull
#define SEED_CUSTOMER 0x63757374ull
#define ALLOC_LIMIT_COUNTED 0x80000000u    /* qty flag: counted toward a purchase limit */
#define ALLOC_CAPACITY_COUNTED 0x40000000u /* flag on a node's first entry: the order was
                                              counted against that node's daily capacity */
#define ALLOC_QTY_MASK 0x3fffffffu
_Static_assert(INV_QTY_MAX <= ALLOC_QTY_MASK, "quantities leave room for the flags");
_Static_assert(INV_NONE == OA_EMPTY, "an empty reservation-index slot is INV_NONE");

typedef struct resv_alloc {
    uint32_t cell;      /* the cell names its sku and node */
    uint32_t qty_flags; /* qty | ALLOC_LIMIT_COUNTED | ALLOC_CAPACITY_COUNTED */
} resv_alloc;

typedef struct resv_rec {
    timer_link link;      /* expires_at_ms = link.due_ms */
    uint64_t key_hash;
    uint64_t content_hash;
    float cost;
    uint16_t created_day; /* business day mod 2^16, for capacity give-back */
    uint8_t order;        /* the record's block is 2^order units */
    uint8_t id_len, customer_len, alloc_count, parcels;
    uint8_t pad_;
    char data[];          /* order_id, customer_id, pad to 4, resv_alloc[alloc_count] */
} resv_rec;

_Static_assert(offsetof(resv_rec, data) <= 48, "record header stays small");
_Static_assert(offsetof(resv_rec, data) % 4 == 0, "allocation entries stay aligned");
_Static_assert(offsetof(resv_rec, data) + 2 * INV_ID_LEN_MAX + 4 +
                       INV_ALLOC_MAX * sizeof(resv_alloc) <=
                   (RESV_UNIT_BYTES << RESV_ORDER_MAX),
               "the largest record fits the largest block");

/* Resolved, validated reserve input. */
typedef struct reserve_input {
    size_t id_len, customer_len;
    uint32_t sku[INV_LINES_MAX];
    uint32_t pickup_node;
    uint64_t key_hash, content_hash, customer_hash;
} reserve_input;

/* ====================================================================================
 * Arena and index
 * ==================================================================================== */

static inline resv_rec *rec_at(const inv_shard *s, uint32_t h) {
    assert(h < s->arena.units_total);
    return (resv_rec *)(s->arena.base + (uint64_t)h * RESV_UNIT_BYTES);
}

static size_t rec_bytes(size_t id_len, size_t customer_len, uint32_t allocs) {
    assert(id_len <= INV_ID_LEN_MAX && customer_len <= INV_ID_LEN_MAX);
    size_t strings = (id_len + customer_len + 3u) & ~(size_t)3u;
    return offsetof(resv_rec, data) + strings + allocs * sizeof(resv_alloc);
}

static inline resv_alloc *rec_allocs(resv_rec *r) {
    size_t strings = ((size_t)r->id_len + r->customer_len + 3u) & ~(size_t)3u;
    return (resv_alloc *)(void *)(r->data + strings);
}

/* ---- Buddy allocator over the arena's 32-byte units -------------------------------
 * Blocks are 2^order units (order 0..RESV_ORDER_MAX), aligned to their size; a freed
 * block merges with its buddy (h ^ 2^order) whenever that is free too, so memory
 * freed by records of one size always serves records of any other. free_order[u] is
 * the order of the free block starting at unit u, or RESV_NOT_FREE. */

static inline timer_link *arena_link(const resv_arena *a, uint32_t h) {
    return (timer_link *)(a->base + (uint64_t)h * RESV_UNIT_BYTES);
}

static void arena_list_push(resv_arena *a, uint32_t h, uint32_t order) {
    timer_link *l = arena_link(a, h);
    l->prev = INV_NONE;
    l->next = a->free_head[order];
    if (l->next != INV_NONE) arena_link(a, l->next)->prev = h;
    a->free_head[order] = h;
    a->free_order[h] = (uint8_t)order;
}

static void arena_list_remove(resv_arena *a, uint32_t h, uint32_t order) {
    timer_link *l = arena_link(a, h);
    assert(a->free_order[h] == order);
    if (l->prev != INV_NONE) arena_link(a, l->prev)->next = l->next;
    else a->free_head[order] = l->next;
    if (l->next != INV_NONE) arena_link(a, l->next)->prev = l->prev;
    a->free_order[h] = RESV_NOT_FREE;
}

static uint32_t order_of(uint32_t units) {
    uint32_t order = 0;
    while ((1u << order) < units) order++;
    assert(order <= RESV_ORDER_MAX);
    return order;
}

/* A block of 2^order units, or INV_NONE. */
static uint32_t arena_alloc(resv_arena *a, uint32_t order) {
    uint32_t k = order;
    while (k <= RESV_ORDER_MAX && a->free_head[k] == INV_NONE) k++;
    if (k > RESV_ORDER_MAX) return INV_NONE;
    uint32_t h = a->free_head[k];
    arena_list_remove(a, h, k);
    while (k > order) { /* split: keep the lower half, free the upper */
        k--;
        arena_list_push(a, h + (1u << k), k);
    }
    a->bytes_in_use += (uint64_t)RESV_UNIT_BYTES << order;
    return h;
}

static void arena_free(resv_arena *a, uint32_t h, uint32_t order) {
    assert(a->bytes_in_use >= ((uint64_t)RESV_UNIT_BYTES << order));
    a->bytes_in_use -= (uint64_t)RESV_UNIT_BYTES << order;
    while (order < RESV_ORDER_MAX) { /* merge with the buddy while it is free */
        uint32_t buddy = h ^ (1u << order);
        if (buddy >= a->units_total || a->free_order[buddy] != order) break;
        arena_list_remove(a, buddy, order);
        h = h < buddy ? h : buddy;
        order++;
    }
    arena_list_push(a, h, order);
}

/* Buddy order of the block a record of this shape needs. */
static uint32_t rec_order(size_t id_len, size_t customer_len, uint32_t allocs) {
    size_t bytes = rec_bytes(id_len, customer_len, allocs);
    return order_of((uint32_t)((bytes + RESV_UNIT_BYTES - 1) / RESV_UNIT_BYTES));
}

/* A new record with room for `allocs` entries, its ids and sizes filled in (the caller
 * fills the rest, then indexes it). INV_NONE: the shard holds its maximum of live
 * reservations, or the arena has no block that large. */
static uint32_t rec_new(inv_shard *s, uint64_t key_hash, const char *id, size_t id_len,
                        const char *customer, size_t customer_len, uint32_t allocs) {
    if (s->resv_live >= s->e->cfg.reservations_per_shard_max) return INV_NONE;
    uint32_t order = rec_order(id_len, customer_len, allocs);
    uint32_t h = arena_alloc(&s->arena, order);
    if (h == INV_NONE) return INV_NONE;
    resv_rec *r = rec_at(s, h);
    r->key_hash = key_hash;
    r->order = (uint8_t)order;
    r->id_len = (uint8_t)id_len;
    r->customer_len = (uint8_t)customer_len;
    r->alloc_count = (uint8_t)allocs;
    memcpy(r->data, id, id_len);
    memcpy(r->data + id_len, customer, customer_len);
    return h;
}

static uint32_t index_find(const inv_shard *s, uint64_t key, const char *id, size_t len) {
    uint32_t slot = (uint32_t)key & s->resv_index_mask;
    for (uint32_t probes = 0; probes <= s->resv_index_mask; probes++) {
        uint32_t v = s->resv_index[slot];
        if (v == OA_EMPTY) return INV_NONE;
        if (oa_same_home(v, probes)) {
            uint32_t h = oa_handle(v);
            const resv_rec *r = rec_at(s, h);
            if (r->key_hash == key && r->id_len == len && memcmp(r->data, id, len) == 0)
                return h;
        }
        slot = (slot + 1) & s->resv_index_mask;
    }
    return INV_NONE;
}

static uint32_t rec_home(const void *ctx, uint32_t h) {
    const inv_shard *s = ctx;
    return (uint32_t)rec_at(s, h)->key_hash & s->resv_index_mask;
}

static void index_insert(inv_shard *s, uint32_t h) {
    oa_insert(s->resv_index, s->resv_index_mask, (uint32_t)rec_at(s, h)->key_hash, h);
}

static void index_remove(inv_shard *s, uint32_t h) {
    oa_remove(s->resv_index, s->resv_index_mask, h, rec_home, s);
}

int resv_shard_open(inv_shard *s) {
    const inv_engine_config *c = &s->e->cfg;
    /* 4 units (128 bytes) per live reservation on average: an order of 1–5 lines
     * with 20-byte ids. Larger orders simply use more of the same arena. */
    uint64_t block = 1u << RESV_ORDER_MAX;
    uint64_t units = ((uint64_t)c->reservations_per_shard_max * 4u + block - 1) / block * block;
    if (units > (uint64_t)OA_HANDLE_MAX + 1u) return -EINVAL; /* unit indexes are handles */
    s->arena.units_total = (uint32_t)units;
    s->arena.base = aligned_alloc(INV_CACHE_LINE, (size_t)units * RESV_UNIT_BYTES);
    s->arena.free_order = malloc((size_t)units);
    s->resv_index_mask = oa_pow2_at_least((uint64_t)c->reservations_per_shard_max * 2) - 1;
    s->resv_index = malloc(((size_t)s->resv_index_mask + 1) * sizeof(uint32_t));
    if (s->arena.base == NULL || s->resv_index == NULL || s->arena.free_order == NULL)
        return -ENOMEM;
    for (uint32_t i = 0; i <= RESV_ORDER_MAX; i++) s->arena.free_head[i] = INV_NONE;
    memset(s->arena.free_order, RESV_NOT_FREE, (size_t)units);
    for (uint64_t h = units; h >= block; h -= block) /* whole blocks, lowest on top */
        arena_list_push(&s->arena, (uint32_t)(h - block), RESV_ORDER_MAX);
    memset(s->resv_index, 0xff, ((size_t)s->resv_index_mask + 1) * sizeof(uint32_t));
    timer_init(&s->timers, s->arena.base, RESV_UNIT_BYTES, engine_now_ms(s->e));
    if (recent_open(&s->tombstones, c->tombstones_per_shard_max) != 0) return -ENOMEM;
    if (recent_open(&s->refs, c->refs_per_shard_max) != 0) return -ENOMEM;
    return 0;
}

void resv_shard_close(inv_shard *s) {
    free(s->arena.base);
    free(s->arena.free_order);
    free(s->resv_index);
    recent_close(&s->tombstones);
    recent_close(&s->refs);
}

size_t inv_engine_bytes_per_reservation_typical(uint32_t alloc_count, uint32_t order_id_len,
                                                uint32_t customer_id_len) {
    return ((size_t)RESV_UNIT_BYTES << rec_order(order_id_len, customer_id_len, alloc_count)) +
           2 * sizeof(uint32_t); /* + index at ≤ 50 % load */
}

/* ====================================================================================
 * Views and tombstones
 * ==================================================================================== */

static void view_from_rec(inv_shard *s, resv_rec *r, inv_resv_state state,
                          inv_reservation_view *v) {
    v->state = state;
    v->is_tombstone = false;
    v->expires_at_ms = r->link.due_ms;
    v->parcels = r->parcels;
    v->alloc_count = r->alloc_count;
    v->cost = r->cost;
    v->alternative_count = 0;
    const resv_alloc *al = rec_allocs(r);
    for (uint32_t i = 0; i < r->alloc_count; i++) {
        const stock_cell *c = cell_at(s->e, al[i].cell);
        v->alloc[i].sku = c->sku;
        v->alloc[i].node = c->node;
        v->alloc[i].qty = al[i].qty_flags & ALLOC_QTY_MASK;
    }
}

static void view_from_tombstone(const recent_entry *t, inv_reservation_view *v) {
    v->state = (inv_resv_state)t->value;
    v->is_tombstone = true;
    v->expires_at_ms = 0;
    v->parcels = 0;
    v->alloc_count = 0;
    v->cost = 0;
    v->alternative_count = 0;
}

/* Describe record `r` as a RESERVED outcome. */
static void journal_from_rec(const inv_shard *s, const resv_rec *r, journal_reserved *jr) {
    jr->order_id = r->data;
    jr->order_len = r->id_len;
    jr->customer_id = r->data + r->id_len;
    jr->customer_len = r->customer_len;
    jr->absolute = false;
    jr->content_hash = r->content_hash;
    jr->expires_at_ms = r->link.due_ms;
    jr->created_day = r->created_day;
    jr->parcels = r->parcels;
    jr->cost = r->cost;
    jr->alloc_count = r->alloc_count;
    const resv_alloc *al = rec_allocs((resv_rec *)r);
    for (uint32_t i = 0; i < r->alloc_count; i++) {
        const stock_cell *c = cell_at(s->e, al[i].cell);
        jr->sku[i] = c->sku;
        jr->node[i] = c->node;
        jr->qty_flags[i] = al[i].qty_flags;
    }
}

/* Finish a HELD reservation: move its units, free the record, leave a tombstone.
 * `from_timer`: the wheel already unlinked it. @return the LSN of its record (0 when
 * nothing is logged). */
static uint64_t resv_finish(inv_shard *s, uint32_t h, inv_resv_state state, bool from_timer) {
    inv_engine *e = s->e;
    resv_rec *r = rec_at(s, h);
    assert(state != INV_RESV_HELD);
    const resv_alloc *al = rec_allocs(r);
    uint64_t customer = 0;
    if (state != INV_RESV_COMMITTED)
        customer = inv_hash64(r->data + r->id_len, r->customer_len, SEED_CUSTOMER);
    uint64_t day = inv_day_of(s->now_ms);
    /* The record first: what a release or expiry gives back waits for it (credit.c). */
    uint64_t lsn = 0;
    if (journal_on(s)) lsn = journal_finished_emit(s, r->data, r->id_len, state, s->now_ms);
    for (uint32_t i = 0; i < r->alloc_count; i++) {
        uint32_t qty = al[i].qty_flags & ALLOC_QTY_MASK;
        const stock_cell *c = cell_at(e, al[i].cell);
        if (state == INV_RESV_COMMITTED) {
            stock_commit(e, al[i].cell, qty);
            continue;
        }
        credit_give(s, lsn, CREDIT_UNTAKE, al[i].cell, qty, 0);
        if (al[i].qty_flags & ALLOC_LIMIT_COUNTED)
            credit_give(s, lsn, CREDIT_LIMIT_GIVE, 0, qty, limit_key_of(customer, c->sku));
        if ((al[i].qty_flags & ALLOC_CAPACITY_COUNTED) && (uint16_t)day == r->created_day)
            credit_give(s, lsn, CREDIT_CAPACITY_GIVE, c->node, 0, day);
    }
    if (!from_timer) timer_remove(&s->timers, h);
    index_remove(s, h);
    uint64_t key2 = inv_hash64(r->data, r->id_len, SEED_ORDER2);
    recent_entry *t = recent_add(&s->tombstones, r->key_hash, key2, s->now_ms);
    t->content_hash = r->content_hash;
    t->value = state;
    arena_free(&s->arena, h, r->order);
    s->resv_live--;
    return lsn;
}

/* ====================================================================================
 * Reserve
 * ==================================================================================== */

static bool reserve_check_shape(inv_op *op, reserve_input *in) {
    const inv_reserve_args *a = &op->in.reserve;
    if (!id_check(op, "order_id", a->order_id, &in->id_len)) return false;
    if (!id_check(op, "customer_id", a->customer_id, &in->customer_len)) return false;
    if (a->line_count == 0 || a->line_count > INV_LINES_MAX || a->lines == NULL)
        return op_fail(op, INV_INVALID_ARGUMENT, "an order has 1..%u lines", INV_LINES_MAX),
               false;
    if (a->ttl_ms == 0 || a->ttl_ms > INV_TTL_MS_MAX)
        return op_fail(op, INV_INVALID_ARGUMENT, "ttl_ms must be 1..%llu",
                       (unsigned long long)INV_TTL_MS_MAX), false;
    if ((unsigned)a->policy > INV_ROUTE_PICKUP)
        return op_fail(op, INV_INVALID_ARGUMENT, "routing policy %d is unknown",
                       (int)a->policy), false;
    if (!isfinite(a->max_distance_km) || a->max_distance_km < 0)
        return op_fail(op, INV_INVALID_ARGUMENT, "max_distance_km must be ≥ 0"), false;
    if (a->policy != INV_ROUTE_PICKUP && !a->dest.has_point)
        return op_fail(op, INV_INVALID_ARGUMENT, "a shipped order needs a destination point"),
               false;
    if (a->dest.has_point && !point_ok(a->dest.lat, a->dest.lon))
        return op_fail(op, INV_INVALID_ARGUMENT, "destination must be finite WGS84 degrees"),
               false;
    for (uint32_t i = 0; i < a->line_count; i++) {
        size_t len = 0;
        if (!id_check(op, "sku", a->lines[i].sku, &len)) return false;
        if (a->lines[i].qty == 0 || a->lines[i].qty > INV_QTY_MAX)
            return op_fail(op, INV_INVALID_ARGUMENT, "line %u: qty must be 1..%u", i,
                           INV_QTY_MAX), false;
    }
    return true;
}

static bool reserve_resolve(inv_shard *s, inv_op *op, reserve_input *in) {
    const inv_reserve_args *a = &op->in.reserve;
    for (uint32_t i = 0; i < a->line_count; i++) {
        const char *sku = a->lines[i].sku;
        if (sku_lookup(s->e, sku, strlen(sku), &in->sku[i]) != 0)
            return op_fail(op, INV_NOT_FOUND, "line %u: unknown sku '%s'", i, sku), false;
        for (uint32_t j = 0; j < i; j++) {
            if (in->sku[j] == in->sku[i])
                return op_fail(op, INV_INVALID_ARGUMENT, "sku '%s' appears in lines %u and %u",
                               sku, j, i), false;
        }
    }
    in->pickup_node = INV_NONE;
    if (a->policy == INV_ROUTE_PICKUP) {
        size_t len = 0;
        if (!id_check(op, "pickup_node_id", a->dest.pickup_node_id, &len)) return false;
        if (node_lookup(s->e, a->dest.pickup_node_id, len, &in->pickup_node) != 0)
            return op_fail(op, INV_NOT_FOUND, "unknown pickup node '%s'",
                           a->dest.pickup_node_id), false;
    }
    return true;
}

static uint64_t content_hash_of(const inv_reserve_args *a, const reserve_input *in) {
    uint64_t h = inv_hash64(a->customer_id, in->customer_len, 0x636f6e74ull);
    uint64_t lat_bits = 0, lon_bits = 0, dist_bits = 0;
    if (a->dest.has_point) {
        memcpy(&lat_bits, &a->dest.lat, sizeof lat_bits);
        memcpy(&lon_bits, &a->dest.lon, sizeof lon_bits);
    }
    memcpy(&dist_bits, &a->max_distance_km, sizeof dist_bits);
    h = inv_mix64(h ^ lat_bits) + lon_bits;
    h = inv_mix64(h ^ dist_bits) + in->pickup_node;
    h = inv_mix64(h ^ a->ttl_ms) + ((uint64_t)a->policy << 32 | a->max_parcels);
    for (uint32_t i = 0; i < a->line_count; i++)
        h = inv_mix64(h ^ (((uint64_t)in->sku[i] << 32) | a->lines[i].qty));
    return inv_mix64(h);
}

/* A retry: answer from the live record or the tombstone. true if answered. */
static bool reserve_answer_retry(inv_shard *s, inv_op *op, const reserve_input *in) {
    const char *id = op->in.reserve.order_id;
    uint32_t h = index_find(s, in->key_hash, id, in->id_len);
    if (h != INV_NONE) {
        resv_rec *r = rec_at(s, h);
        if (r->content_hash != in->content_hash) {
            op_fail(op, INV_CONFLICT, "order '%s' exists with different content", id);
            return true;
        }
        op_ok(op);
        view_from_rec(s, r, INV_RESV_HELD, &op->out.reservation);
        return true;
    }
    uint64_t key2 = inv_hash64(id, in->id_len, SEED_ORDER2);
    const recent_entry *t = recent_find(&s->tombstones, in->key_hash, key2);
    if (t == NULL) return false;
    if (t->content_hash != in->content_hash) {
        op_fail(op, INV_CONFLICT, "order '%s' existed with different content", id);
        return true;
    }
    op_ok(op);
    view_from_tombstone(t, &op->out.reservation);
    return true;
}

/* Sold-out fast path: one shared read per line. true if the order was answered. */
static bool reserve_sold_out(inv_shard *s, inv_op *op, const reserve_input *in) {
    const inv_reserve_args *a = &op->in.reserve;
    inv_reservation_view *v = &op->out.reservation;
    bool any = false;
    for (uint32_t i = 0; i < a->line_count; i++) { /* read each flag once: it can change */
        bool sold_out = sku_is_sold_out(s->e, in->sku[i]);
        v->shortfall[i] = sold_out ? a->lines[i].qty : 0;
        any |= sold_out;
    }
    if (!any) return false;
    v->alloc_count = 0;
    v->alternative_count = 0;
    op->status = INV_INSUFFICIENT_STOCK;
    memcpy(op->message, "sold out", sizeof "sold out");
    atomic_fetch_add_explicit(&s->stats.sold_out_fast_path, 1, memory_order_relaxed);
    return true;
}

/* Count limited lines against the customer's limits; on failure undo and answer. */
static bool reserve_limits_take(inv_shard *s, inv_op *op, const reserve_input *in,
                                bool counted[INV_LINES_MAX]) {
    const inv_reserve_args *a = &op->in.reserve;
    for (uint32_t i = 0; i < a->line_count; i++) {
        uint32_t limit = atomic_load_explicit(&sku_at(s->e, in->sku[i])->limit,
                                              memory_order_relaxed);
        counted[i] = false;
        if (limit == 0) continue;
        int rc = limit_take(s->e, in->customer_hash, in->sku[i], a->lines[i].qty, limit);
        if (rc == 0) {
            counted[i] = true;
            continue;
        }
        for (uint32_t j = 0; j < i; j++)
            if (counted[j]) limit_give(s->e, in->customer_hash, in->sku[j], a->lines[j].qty);
        if (rc == -EDQUOT)
            op_fail(op, INV_LIMIT_EXCEEDED, "line %u: customer may hold at most %u of '%s'", i,
                    limit, a->lines[i].sku);
        else
            op_fail(op, INV_RESOURCE_EXHAUSTED, "purchase-limit counter table full");
        return false;
    }
    return true;
}

static void reserve_limits_give(inv_shard *s, const inv_reserve_args *a,
                                const reserve_input *in, const bool counted[INV_LINES_MAX]) {
    for (uint32_t i = 0; i < a->line_count; i++)
        if (counted[i]) limit_give(s->e, in->customer_hash, in->sku[i], a->lines[i].qty);
}

/* Undo the first `taken` entries of the plan and the capacity of `nodes_counted`. */
static void plan_untake(inv_shard *s, const route_plan *p, uint32_t taken,
                        uint32_t nodes_counted, uint64_t day) {
    for (uint32_t i = 0; i < taken; i++) stock_untake(s->e, s->plan_cells[i], p->alloc[i].qty);
    for (uint32_t i = 0; i < nodes_counted; i++)
        if (s->plan_capacity_counted[i]) node_capacity_give(s->e, p->parcel_nodes[i], day);
}

/* Take every planned entry and count each parcel node; all or nothing. On a lost
 * race `*lost` names the entry whose units were gone (or INV_NONE: capacity). */
static bool plan_take(inv_shard *s, const route_plan *p, uint64_t day, uint32_t *lost) {
    *lost = INV_NONE;
    for (uint32_t i = 0; i < p->alloc_count; i++) {
        uint32_t c = stock_find(s->e, p->alloc[i].sku, p->alloc[i].node);
        assert(c != INV_NONE);
        s->plan_cells[i] = c;
        if (!stock_take(s->e, c, p->alloc[i].qty)) {
            plan_untake(s, p, i, 0, day);
            *lost = i;
            return false;
        }
    }
    for (uint32_t i = 0; i < p->parcels; i++) {
        int rc = node_capacity_take(s->e, p->parcel_nodes[i], day);
        s->plan_capacity_counted[i] = rc == NODE_CAP_COUNTED;
        if (rc == NODE_CAP_FULL) {
            plan_untake(s, p, p->alloc_count, i, day);
            return false;
        }
    }
    return true;
}

static void route_request_fill(inv_shard *s, const inv_reserve_args *a,
                               const reserve_input *in, const struct geo_snapshot *g,
                               route_request *rq) {
    rq->policy = a->policy;
    rq->has_point = a->dest.has_point;
    rq->lat = a->dest.lat;
    rq->lon = a->dest.lon;
    rq->pickup_node = in->pickup_node;
    if (a->policy == INV_ROUTE_PICKUP)
        rq->has_point = geo_node_point(g, in->pickup_node, &rq->lat, &rq->lon);
    uint32_t parcels = a->max_parcels == 0 ? INV_PARCELS_DEFAULT : a->max_parcels;
    if (parcels > INV_PARCELS_MAX) parcels = INV_PARCELS_MAX;
    if (a->policy == INV_ROUTE_SINGLE_NODE_ONLY || a->policy == INV_ROUTE_PICKUP) parcels = 1;
    rq->max_parcels = parcels;
    rq->max_distance_km = a->max_distance_km;
    rq->day = inv_day_of(s->now_ms);
    rq->line_count = a->line_count;
    for (uint32_t i = 0; i < a->line_count; i++) {
        rq->sku[i] = in->sku[i];
        rq->qty[i] = a->lines[i].qty;
    }
}

/* Plan and take, re-planning after a lost race. Fills op on failure. */
static bool reserve_route_and_take(inv_shard *s, inv_op *op, const reserve_input *in) {
    const inv_reserve_args *a = &op->in.reserve;
    const struct geo_snapshot *g = catalog_geo(s->e);
    route_plan *p = &s->plan;
    route_request rq;
    route_request_fill(s, a, in, g, &rq);
    for (uint32_t attempt = 0; attempt < INV_RESERVE_ATTEMPTS_MAX; attempt++) {
        route_plan_make(s->e, g, s->route, &rq, p);
        if (p->status != INV_OK) break;
        uint32_t lost = INV_NONE;
        if (plan_take(s, p, rq.day, &lost)) return true;
        /* Lost the race every time: short by the units the last plan could not take. */
        p->status = INV_INSUFFICIENT_STOCK;
        p->reason = "stock taken by concurrent orders";
        memset(p->shortfall, 0, sizeof p->shortfall);
        memset(p->sku_exhausted, 0, sizeof p->sku_exhausted);
        for (uint32_t l = 0; lost != INV_NONE && l < a->line_count; l++)
            if (in->sku[l] == p->alloc[lost].sku) p->shortfall[l] = p->alloc[lost].qty;
    }
    inv_reservation_view *v = &op->out.reservation;
    v->alloc_count = 0;
    v->alternative_count = p->alternative_count;
    memcpy(v->alternatives, p->alternatives, sizeof v->alternatives);
    for (uint32_t i = 0; i < a->line_count; i++) {
        v->shortfall[i] = p->status == INV_INSUFFICIENT_STOCK ? p->shortfall[i] : 0;
        if (p->sku_exhausted[i]) sku_mark_sold_out(s->e, in->sku[i]);
    }
    op_fail(op, p->status, "%s", p->reason ? p->reason : "no route");
    return false;
}

/* Store the taken plan as a HELD reservation. false: arena full (nothing stored). */
static bool reserve_record(inv_shard *s, inv_op *op, const reserve_input *in,
                           const bool counted[INV_LINES_MAX]) {
    const inv_reserve_args *a = &op->in.reserve;
    const route_plan *p = &s->plan;
    uint32_t h = rec_new(s, in->key_hash, a->order_id, in->id_len, a->customer_id,
                         in->customer_len, p->alloc_count);
    if (h == INV_NONE) return false;
    resv_rec *r = rec_at(s, h);
    r->content_hash = in->content_hash;
    r->cost = (float)p->cost;
    r->created_day = (uint16_t)inv_day_of(s->now_ms);
    r->parcels = (uint8_t)p->parcels;
    resv_alloc *al = rec_allocs(r);
    for (uint32_t i = 0; i < p->alloc_count; i++) {
        al[i].cell = s->plan_cells[i];
        al[i].qty_flags = p->alloc[i].qty;
    }
    /* The first entry of each node counted against its capacity carries the flag, so
     * release and replay give back / count exactly what was counted here. */
    for (uint32_t k = 0; k < p->parcels; k++) {
        if (!s->plan_capacity_counted[k]) continue;
        for (uint32_t i = 0; i < p->alloc_count; i++) {
            if (p->alloc[i].node != p->parcel_nodes[k]) continue;
            al[i].qty_flags |= ALLOC_CAPACITY_COUNTED;
            break;
        }
    }
    /* Limits were counted per line: mark one entry of each counted SKU with the
     * line's whole qty so that release gives back exactly what was taken. */
    for (uint32_t l = 0; l < a->line_count; l++) {
        if (!counted[l]) continue;
        uint32_t line_qty = a->lines[l].qty, left = line_qty;
        for (uint32_t i = 0; i < p->alloc_count && left > 0; i++) {
            if (p->alloc[i].sku != in->sku[l]) continue;
            uint32_t q = al[i].qty_flags & ALLOC_QTY_MASK;
            al[i].qty_flags |= ALLOC_LIMIT_COUNTED;
            left -= q <= left ? q : left;
        }
    }
    index_insert(s, h);
    timer_add(&s->timers, h, s->now_ms + a->ttl_ms);
    s->resv_live++;
    op_ok(op);
    view_from_rec(s, r, INV_RESV_HELD, &op->out.reservation);
    if (journal_on(s)) {
        journal_reserved jr;
        journal_from_rec(s, r, &jr);
        op->lsn = journal_reserved_emit(s, &jr);
    }
    return true;
}

void resv_reserve(inv_shard *s, inv_op *op) {
    const inv_reserve_args *a = &op->in.reserve;
    reserve_input in;
    bool counted[INV_LINES_MAX];
    if (!reserve_check_shape(op, &in) || !reserve_resolve(s, op, &in)) goto failed;
    in.key_hash = inv_hash64(a->order_id, in.id_len, SEED_ORDER);
    in.content_hash = content_hash_of(a, &in);
    if (reserve_answer_retry(s, op, &in)) return;
    if (reserve_sold_out(s, op, &in)) goto failed;
    in.customer_hash = inv_hash64(a->customer_id, in.customer_len, SEED_CUSTOMER);
    if (!reserve_limits_take(s, op, &in, counted)) goto failed;
    if (!reserve_route_and_take(s, op, &in)) {
        reserve_limits_give(s, a, &in, counted);
        goto failed;
    }
    if (!reserve_record(s, op, &in, counted)) {
        plan_untake(s, &s->plan, s->plan.alloc_count, s->plan.parcels,
                    inv_day_of(s->now_ms));
        reserve_limits_give(s, a, &in, counted);
        op_fail(op, INV_RESOURCE_EXHAUSTED, "shard %u holds its maximum of live reservations",
                s->index);
        goto failed;
    }
    atomic_fetch_add_explicit(&s->stats.reserves_ok, 1, memory_order_relaxed);
    return;
failed:
    atomic_fetch_add_explicit(&s->stats.reserves_failed, 1, memory_order_relaxed);
    /* Unanswered fields of a failed reserve: no allocation. */
    op->out.reservation.alloc_count = 0;
    op->out.reservation.parcels = 0;
}

/* ====================================================================================
 * Commit, release, extend, get
 * ==================================================================================== */

/* Find the order named in op (live handle, or its tombstone). false: answered. */
static bool order_find(inv_shard *s, inv_op *op, const char *id, uint32_t *out_h,
                       const recent_entry **out_t) {
    size_t len = 0;
    if (!id_check(op, "order_id", id, &len)) return false;
    uint64_t key = inv_hash64(id, len, SEED_ORDER);
    *out_h = index_find(s, key, id, len);
    *out_t = NULL;
    if (*out_h != INV_NONE) return true;
    *out_t = recent_find(&s->tombstones, key, inv_hash64(id, len, SEED_ORDER2));
    if (*out_t != NULL) return true;
    op_fail(op, INV_NOT_FOUND, "no reservation '%s'", id);
    return false;
}

/* A live record whose time has passed expires now (before the wheel gets to it). */
static bool expire_if_due(inv_shard *s, inv_op *op, uint32_t h) {
    resv_rec *r = rec_at(s, h);
    if (r->link.due_ms > s->now_ms) return false;
    view_from_rec(s, r, INV_RESV_EXPIRED, &op->out.reservation);
    op->lsn = resv_finish(s, h, INV_RESV_EXPIRED, false);
    atomic_fetch_add_explicit(&s->stats.expirations, 1, memory_order_relaxed);
    op_fail(op, INV_EXPIRED, "reservation expired");
    return true;
}

/* The answer of op `type` on a finished reservation in `state`. */
static void answer_finished(inv_op *op, inv_op_type type, inv_resv_state state) {
    static const inv_status by_state[INV_OP_GET_RESERVATION + 1][4] = {
        /*                      HELD    COMMITTED              RELEASED              EXPIRED */
        [INV_OP_COMMIT] = {INV_OK, INV_OK, INV_ALREADY_RELEASED, INV_EXPIRED},
        [INV_OP_RELEASE] = {INV_OK, INV_ALREADY_COMMITTED, INV_OK, INV_OK},
        [INV_OP_EXTEND] = {INV_OK, INV_ALREADY_COMMITTED, INV_ALREADY_RELEASED, INV_EXPIRED},
        [INV_OP_GET_RESERVATION] = {INV_OK, INV_OK, INV_OK, INV_OK},
    };
    assert(type >= INV_OP_COMMIT && type <= INV_OP_GET_RESERVATION);
    inv_status st = by_state[type][state];
    if (st == INV_OK) {
        op_ok(op);
    } else {
        op_fail(op, st, "reservation is %s", inv_resv_state_name(state));
    }
}

static void order_finish_op(inv_shard *s, inv_op *op, inv_resv_state to) {
    uint32_t h = INV_NONE;
    const recent_entry *t = NULL;
    if (!order_find(s, op, op->in.order.order_id, &h, &t)) return;
    if (t != NULL) {
        view_from_tombstone(t, &op->out.reservation);
        answer_finished(op, op->type, (inv_resv_state)t->value);
        return;
    }
    if (expire_if_due(s, op, h)) {
        /* Past its time: it expired. Commit says so; release of an expired order is
         * done (OK, state EXPIRED), as it would be once the timer had run. */
        if (to == INV_RESV_RELEASED) op_ok(op);
        return;
    }
    view_from_rec(s, rec_at(s, h), to, &op->out.reservation);
    op->lsn = resv_finish(s, h, to, false);
    op_ok(op);
    if (to == INV_RESV_COMMITTED)
        atomic_fetch_add_explicit(&s->stats.commits, 1, memory_order_relaxed);
    else
        atomic_fetch_add_explicit(&s->stats.releases, 1, memory_order_relaxed);
}

void resv_commit(inv_shard *s, inv_op *op) { order_finish_op(s, op, INV_RESV_COMMITTED); }
void resv_release(inv_shard *s, inv_op *op) { order_finish_op(s, op, INV_RESV_RELEASED); }

void resv_extend(inv_shard *s, inv_op *op) {
    uint64_t ttl = op->in.extend.ttl_ms;
    if (ttl == 0 || ttl > INV_TTL_MS_MAX) {
        op_fail(op, INV_INVALID_ARGUMENT, "ttl_ms must be 1..%llu",
                (unsigned long long)INV_TTL_MS_MAX);
        return;
    }
    uint32_t h = INV_NONE;
    const recent_entry *t = NULL;
    if (!order_find(s, op, op->in.extend.order_id, &h, &t)) return;
    if (t != NULL) {
        view_from_tombstone(t, &op->out.reservation);
        answer_finished(op, INV_OP_EXTEND, (inv_resv_state)t->value);
        return;
    }
    if (expire_if_due(s, op, h)) return;
    timer_remove(&s->timers, h);
    timer_add(&s->timers, h, s->now_ms + ttl);
    op_ok(op);
    resv_rec *r = rec_at(s, h);
    view_from_rec(s, r, INV_RESV_HELD, &op->out.reservation);
    if (journal_on(s)) op->lsn = journal_extended_emit(s, r->data, r->id_len, s->now_ms + ttl);
}

void resv_get(inv_shard *s, inv_op *op) {
    uint32_t h = INV_NONE;
    const recent_entry *t = NULL;
    if (!order_find(s, op, op->in.order.order_id, &h, &t)) return;
    op_ok(op);
    if (t != NULL) {
        view_from_tombstone(t, &op->out.reservation);
        return;
    }
    view_from_rec(s, rec_at(s, h), INV_RESV_HELD, &op->out.reservation);
}

uint32_t resv_expire_due(inv_shard *s, uint32_t max) {
    if (max > INV_EXPIRE_BATCH_MAX) max = INV_EXPIRE_BATCH_MAX;
    uint32_t n = timer_collect(&s->timers, s->now_ms, s->expire_buf, max);
    for (uint32_t i = 0; i < n; i++) resv_finish(s, s->expire_buf[i], INV_RESV_EXPIRED, true);
    if (n > 0) atomic_fetch_add_explicit(&s->stats.expirations, n, memory_order_relaxed);
    uint64_t window = s->e->cfg.idempotency_window_ms;
    if (s->now_ms > window) {
        recent_expire(&s->tombstones, s->now_ms - window, INV_EXPIRE_BATCH_MAX);
        recent_expire(&s->refs, s->now_ms - window, INV_EXPIRE_BATCH_MAX);
    }
    return n;
}

/* ====================================================================================
 * Recovery and snapshots (direct mode)
 * ==================================================================================== */

static int replay_refuse(char *err, size_t errlen, const char *why, const char *order) {
    if (err != NULL && errlen > 0) snprintf(err, errlen, "order '%s': %s", order, why);
    return -EINVAL;
}

/* The full business day whose low 16 bits are `day16`, nearest at or before today. */
static uint64_t day_from16(uint64_t now_ms, uint16_t day16) {
    uint64_t today = inv_day_of(now_ms);
    uint64_t day = (today & ~(uint64_t)0xffff) | day16;
    return day > today && day >= 0x10000 ? day - 0x10000 : day;
}

/* Apply the stock, limit and capacity effects of a replayed (non-absolute) RESERVED. */
static void replay_reserved_effects(inv_shard *s, const journal_reserved *jr, resv_rec *r) {
    inv_engine *e = s->e;
    const resv_alloc *al = rec_allocs(r);
    uint64_t customer = inv_hash64(jr->customer_id, jr->customer_len, SEED_CUSTOMER);
    uint64_t day = day_from16(jr->expires_at_ms, jr->created_day);
    for (uint32_t i = 0; i < jr->alloc_count; i++) {
        uint32_t qty = jr->qty_flags[i] & ALLOC_QTY_MASK;
        stock_force(e, al[i].cell, 0, qty);
        if (jr->qty_flags[i] & ALLOC_LIMIT_COUNTED)
            limit_counter_add(e, limit_key_of(customer, jr->sku[i]), qty);
        if (jr->qty_flags[i] & ALLOC_CAPACITY_COUNTED) node_capacity_replay_take(e, jr->node[i], day);
    }
}

int resv_replay_reserved(inv_shard *s, const journal_reserved *jr, char *err, size_t errlen) {
    uint64_t key = inv_hash64(jr->order_id, jr->order_len, SEED_ORDER);
    if (index_find(s, key, jr->order_id, jr->order_len) != INV_NONE)
        return replay_refuse(err, errlen, "reserved twice", jr->order_id);
    uint32_t h = rec_new(s, key, jr->order_id, jr->order_len, jr->customer_id,
                         jr->customer_len, jr->alloc_count);
    if (h == INV_NONE) return replay_refuse(err, errlen, "reservation arena full", jr->order_id);
    resv_rec *r = rec_at(s, h);
    r->content_hash = jr->content_hash;
    r->cost = jr->cost;
    r->created_day = jr->created_day;
    r->parcels = jr->parcels;
    resv_alloc *al = rec_allocs(r);
    for (uint32_t i = 0; i < jr->alloc_count; i++) {
        if (stock_find_or_create(s->e, jr->sku[i], jr->node[i], &al[i].cell) != 0) {
            arena_free(&s->arena, h, r->order);
            return replay_refuse(err, errlen, "cell table full", jr->order_id);
        }
        al[i].qty_flags = jr->qty_flags[i];
    }
    if (!jr->absolute) replay_reserved_effects(s, jr, r);
    index_insert(s, h);
    timer_add(&s->timers, h, jr->expires_at_ms);
    s->resv_live++;
    return 0;
}

void resv_prefetch(const inv_shard *s, const char *order_id, size_t len) {
    uint64_t key = inv_hash64(order_id, len, SEED_ORDER);
    __builtin_prefetch(&s->resv_index[(uint32_t)key & s->resv_index_mask]);
    recent_prefetch(&s->tombstones, key);
}

int resv_replay_finished(inv_shard *s, const char *order_id, size_t len, inv_resv_state state,
                         uint64_t at_ms, char *err, size_t errlen) {
    uint32_t h = index_find(s, inv_hash64(order_id, len, SEED_ORDER), order_id, len);
    if (h == INV_NONE) return replay_refuse(err, errlen, "finished but never held", order_id);
    s->now_ms = at_ms;
    resv_finish(s, h, state, false);
    return 0;
}

int resv_replay_extended(inv_shard *s, const char *order_id, size_t len,
                         uint64_t expires_at_ms, char *err, size_t errlen) {
    uint32_t h = index_find(s, inv_hash64(order_id, len, SEED_ORDER), order_id, len);
    if (h == INV_NONE) return replay_refuse(err, errlen, "extended but not held", order_id);
    timer_remove(&s->timers, h);
    timer_add(&s->timers, h, expires_at_ms);
    return 0;
}

int resv_snapshot_each(const inv_shard *s, resv_visit_fn visit, void *ctx) {
    for (uint32_t slot = 0; slot <= s->resv_index_mask; slot++) {
        uint32_t v = s->resv_index[slot];
        if (v == OA_EMPTY) continue;
        journal_reserved jr;
        journal_from_rec(s, rec_at(s, oa_handle(v)), &jr);
        int rc = visit(ctx, &jr);
        if (rc != 0) return rc;
    }
    return 0;
}
