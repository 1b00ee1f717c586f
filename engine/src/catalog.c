/*
 * catalog.c — nodes, SKU interning, purchase-limit counters, and publishing the
 * routing index.
 *
 * Who writes what:
 *   - Nodes are created and changed by the catalog owner only (shard 0, or the caller
 *     in direct mode). Fields other shards read while it writes (status, capacity) are
 *     atomics; a node's place, kind and capabilities reach routing through a rebuilt
 *     geo snapshot (geo.c), published here.
 *   - SKUs are interned lock-free by any shard: a record is filled, then published by a
 *     CAS into an insert-only hash index. A racing intern of the same name loses the
 *     CAS, finds the winner and returns it (its own record stays unused).
 *   - Limit counters: insert-only open-addressing table of atomics, claimed by CAS.
 *
 * Snapshot reclamation (QSBR): publishing swaps the snapshot pointer and bumps
 * geo_epoch; the old snapshot is retired with that epoch and freed once every shard
 * has reported (at the top of inv_shard_poll) an epoch at least as new, i.e. has passed
 * a point where it held no snapshot pointer.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"
#include "geo.h"
#include "oa_index.h"

#define SEED_NODE 0x6e6f6465ull
#define SEED_SKU 0x736b75ull

static _Atomic uint32_t *index_new(uint32_t slots) {
    _Atomic uint32_t *ix = malloc((size_t)slots * sizeof *ix);
    if (ix == NULL) return NULL;
    for (uint32_t i = 0; i < slots; i++) atomic_init(&ix[i], INV_NONE);
    return ix;
}

int catalog_open(inv_engine *e) {
    assert(e->cfg.nodes_max > 0);
    assert(e->cfg.skus_max > 0);
    const inv_engine_config *c = &e->cfg;
    e->nodes = aligned_alloc(INV_CACHE_LINE, (size_t)c->nodes_max * sizeof(node_rec));
    e->node_index_mask = oa_pow2_at_least((uint64_t)c->nodes_max * 2) - 1;
    e->node_index = index_new(e->node_index_mask + 1);
    e->skus = calloc(c->skus_max, sizeof(sku_rec));
    e->sku_index_mask = oa_pow2_at_least((uint64_t)c->skus_max * 2) - 1;
    e->sku_index = index_new(e->sku_index_mask + 1);
    e->limits_mask = oa_pow2_at_least((uint64_t)c->limit_counters_max * 2) - 1;
    e->limits = calloc((size_t)e->limits_mask + 1, sizeof(limit_slot));
    if (!e->nodes || !e->node_index || !e->skus || !e->sku_index || !e->limits)
        return -ENOMEM;
    memset(e->nodes, 0, (size_t)c->nodes_max * sizeof(node_rec));
    geo_snapshot *g = NULL;
    int rc = geo_snapshot_build(e, &g);
    if (rc != 0) return rc;
    atomic_store(&e->geo, g);
    return 0;
}

void catalog_close(inv_engine *e) {
    for (uint32_t i = 0; i < e->retired_count; i++) geo_snapshot_free(e->retired[i].snap);
    e->retired_count = 0;
    geo_snapshot *g = atomic_load(&e->geo);
    if (g != NULL) geo_snapshot_free(g);
    free(e->nodes);
    free((void *)e->node_index);
    free(e->skus);
    free((void *)e->sku_index);
    free(e->limits);
}

/* ====================================================================================
 * Nodes
 * ==================================================================================== */

int node_lookup(const inv_engine *e, const char *id, size_t len, uint32_t *out_node) {
    assert(id != NULL);
    assert(out_node != NULL);
    uint32_t slot = (uint32_t)inv_hash64(id, len, SEED_NODE) & e->node_index_mask;
    for (uint32_t probes = 0; probes <= e->node_index_mask; probes++) {
        uint32_t n = atomic_load_explicit(&e->node_index[slot], memory_order_acquire);
        if (n == INV_NONE) return -ENOENT;
        const node_rec *r = &e->nodes[n];
        if (r->id_len == len && memcmp(r->id, id, len) == 0) {
            *out_node = n;
            return 0;
        }
        slot = (slot + 1) & e->node_index_mask;
    }
    return -ENOENT;
}

uint32_t node_capacity_left(const inv_engine *e, uint32_t n, uint64_t day) {
    node_rec *r = &e->nodes[n];
    uint32_t cap = atomic_load_explicit(&r->capacity_per_day, memory_order_relaxed);
    if (cap == 0) return UINT32_MAX;
    uint64_t w = atomic_load_explicit(&r->capacity_used, memory_order_relaxed);
    uint32_t used = (w >> 32) == day ? (uint32_t)w : 0;
    return used >= cap ? 0 : cap - used;
}

int node_capacity_take(inv_engine *e, uint32_t n, uint64_t day) {
    node_rec *r = &e->nodes[n];
    uint32_t cap = atomic_load_explicit(&r->capacity_per_day, memory_order_relaxed);
    if (cap == 0) return NODE_CAP_UNLIMITED;
    uint64_t w = atomic_load_explicit(&r->capacity_used, memory_order_relaxed);
    for (;;) { /* CAS loop: ends when the CAS wins or the node is full */
        uint32_t used = (w >> 32) == day ? (uint32_t)w : 0;
        if (used >= cap) return NODE_CAP_FULL;
        uint64_t next = (day << 32) | (used + 1u);
        if (atomic_compare_exchange_weak(&r->capacity_used, &w, next)) return NODE_CAP_COUNTED;
    }
}

void node_capacity_give(inv_engine *e, uint32_t n, uint64_t day) {
    node_rec *r = &e->nodes[n];
    uint64_t w = atomic_load_explicit(&r->capacity_used, memory_order_relaxed);
    for (;;) { /* a different day or zero: nothing to give back */
        if ((w >> 32) != day || (uint32_t)w == 0) return;
        if (atomic_compare_exchange_weak(&r->capacity_used, &w, w - 1)) return;
    }
}

static bool node_spec_check(inv_op *op, const inv_node_spec *n, size_t *id_len) {
    if (!id_check(op, "node_id", n->node_id, id_len)) return false;
    if ((unsigned)n->kind >= INV_NODE_KIND_COUNT) {
        op_fail(op, INV_INVALID_ARGUMENT, "node kind %d is not WAREHOUSE, STORE or LOCKER",
                (int)n->kind);
        return false;
    }
    if ((unsigned)n->status > INV_NODE_CLOSED) {
        op_fail(op, INV_INVALID_ARGUMENT, "node status %d is unknown", (int)n->status);
        return false;
    }
    if (!point_ok(n->lat, n->lon)) {
        op_fail(op, INV_INVALID_ARGUMENT, "node coordinates must be finite WGS84 degrees");
        return false;
    }
    if (n->region != NULL && strnlen(n->region, INV_REGION_LEN_MAX + 1) > INV_REGION_LEN_MAX) {
        op_fail(op, INV_INVALID_ARGUMENT, "region is longer than %u bytes",
                INV_REGION_LEN_MAX);
        return false;
    }
    if (!n->ships && !n->pickup) {
        op_fail(op, INV_INVALID_ARGUMENT, "a node must ship, offer pickup, or both");
        return false;
    }
    return true;
}

/* Copy the spec's descriptive fields into the record; true if routing must re-index. */
static bool node_fields_set(node_rec *r, const inv_node_spec *n) {
    bool moved = r->kind != (uint8_t)n->kind || r->ships != n->ships ||
                 r->pickup != n->pickup || r->priority != n->priority ||
                 r->lat != n->lat || r->lon != n->lon;
    r->kind = (uint8_t)n->kind;
    r->ships = n->ships;
    r->pickup = n->pickup;
    r->priority = n->priority;
    r->lat = n->lat;
    r->lon = n->lon;
    snprintf(r->region, sizeof r->region, "%s", n->region ? n->region : "");
    atomic_store_explicit(&r->capacity_per_day, n->capacity_per_day, memory_order_relaxed);
    atomic_store_explicit(&r->status, (uint8_t)n->status, memory_order_release);
    return moved;
}

void op_upsert_node(inv_engine *e, inv_op *op) {
    const inv_node_spec *n = &op->in.node;
    size_t len = 0;
    if (!node_spec_check(op, n, &len)) return;
    uint32_t idx = 0;
    bool created = node_lookup(e, n->node_id, len, &idx) != 0;
    if (created) {
        idx = atomic_load_explicit(&e->node_count, memory_order_relaxed);
        if (idx >= e->cfg.nodes_max) {
            op_fail(op, INV_RESOURCE_EXHAUSTED, "node table full (%u nodes)", e->cfg.nodes_max);
            return;
        }
        node_rec *r = &e->nodes[idx];
        memset(r, 0, sizeof *r);
        memcpy(r->id, n->node_id, len);
        r->id_len = (uint8_t)len;
        node_fields_set(r, n);
        uint32_t slot = (uint32_t)inv_hash64(n->node_id, len, SEED_NODE) & e->node_index_mask;
        while (atomic_load_explicit(&e->node_index[slot], memory_order_relaxed) != INV_NONE)
            slot = (slot + 1) & e->node_index_mask;
        atomic_store_explicit(&e->node_index[slot], idx, memory_order_release);
        atomic_store_explicit(&e->node_count, idx + 1, memory_order_release);
        e->catalog_dirty = true;
    } else if (node_fields_set(&e->nodes[idx], n)) {
        e->catalog_dirty = true;
    }
    op_ok(op);
    op->out.node.node = idx;
    op->out.node.created = created;
}

int node_define(inv_engine *e, uint32_t node, const char *id, size_t len) {
    assert(len > 0 && len <= INV_ID_LEN_MAX);
    if (node >= e->cfg.nodes_max) return -EINVAL;
    uint32_t found = 0;
    if (node_lookup(e, id, len, &found) == 0) return found == node ? 0 : -EINVAL;
    uint32_t count = atomic_load(&e->node_count);
    if (node < count && e->nodes[node].id_len != 0) return -EINVAL; /* another id */
    for (uint32_t gap = count; gap < node; gap++) { /* unnamed until replayed */
        memset(&e->nodes[gap], 0, sizeof e->nodes[gap]);
        atomic_store(&e->nodes[gap].status, (uint8_t)INV_NODE_CLOSED);
    }
    node_rec *r = &e->nodes[node];
    memset(r, 0, sizeof *r);
    memcpy(r->id, id, len);
    r->id_len = (uint8_t)len;
    r->ships = true;
    atomic_store(&r->status, (uint8_t)INV_NODE_CLOSED); /* until its NODE_UPSERT */
    uint32_t slot = (uint32_t)inv_hash64(id, len, SEED_NODE) & e->node_index_mask;
    while (atomic_load(&e->node_index[slot]) != INV_NONE) slot = (slot + 1) & e->node_index_mask;
    atomic_store(&e->node_index[slot], node);
    if (node >= count) atomic_store(&e->node_count, node + 1);
    e->catalog_dirty = true;
    return 0;
}

void node_fields_apply(inv_engine *e, uint32_t node, const inv_node_spec *spec) {
    assert(node < atomic_load(&e->node_count));
    node_fields_set(&e->nodes[node], spec);
    e->catalog_dirty = true;
}

void node_capacity_replay_take(inv_engine *e, uint32_t n, uint64_t day) {
    node_rec *r = &e->nodes[n];
    uint64_t w = atomic_load(&r->capacity_used);
    if ((w >> 32) > day) return;
    uint32_t used = (w >> 32) == day ? (uint32_t)w : 0;
    atomic_store(&r->capacity_used, (day << 32) | (used + 1u));
}

void node_capacity_word_set(inv_engine *e, uint32_t n, uint64_t word) {
    atomic_store(&e->nodes[n].capacity_used, word);
}

void op_set_node_status(inv_engine *e, inv_op *op) {
    size_t len = 0;
    if (!id_check(op, "node_id", op->in.node_status.node_id, &len)) return;
    if ((unsigned)op->in.node_status.status > INV_NODE_CLOSED) {
        op_fail(op, INV_INVALID_ARGUMENT, "node status %d is unknown",
                (int)op->in.node_status.status);
        return;
    }
    uint32_t idx = 0;
    if (node_lookup(e, op->in.node_status.node_id, len, &idx) != 0) {
        op_fail(op, INV_NOT_FOUND, "unknown node '%s'", op->in.node_status.node_id);
        return;
    }
    atomic_store_explicit(&e->nodes[idx].status, (uint8_t)op->in.node_status.status,
                          memory_order_release);
    op_ok(op);
    op->out.node.node = idx;
    op->out.node.created = false;
}

int inv_engine_node_info(const inv_engine *e, uint32_t node, inv_node_info *out) {
    assert(out != NULL);
    if (node >= atomic_load_explicit(&e->node_count, memory_order_acquire)) return -ENOENT;
    const node_rec *r = &e->nodes[node];
    out->index = node;
    memcpy(out->node_id, r->id, r->id_len);
    out->node_id[r->id_len] = '\0';
    snprintf(out->region, sizeof out->region, "%s", r->region);
    out->kind = (inv_node_kind)r->kind;
    out->lat = r->lat;
    out->lon = r->lon;
    out->ships = r->ships;
    out->pickup = r->pickup;
    out->capacity_per_day = atomic_load_explicit(&r->capacity_per_day, memory_order_relaxed);
    uint32_t left = node_capacity_left(e, node, inv_day_of(engine_now_ms(e)));
    out->allocated_today = out->capacity_per_day == 0 ? 0 : out->capacity_per_day - left;
    out->priority = r->priority;
    out->status = (inv_node_status)atomic_load_explicit(&r->status, memory_order_acquire);
    return 0;
}

void op_list_nodes(inv_engine *e, inv_op *op) {
    inv_list_nodes_args *a = &op->in.list_nodes;
    if (a->nodes_cap > 0 && a->nodes == NULL) {
        op_fail(op, INV_INVALID_ARGUMENT, "nodes_cap > 0 needs an output array");
        return;
    }
    uint32_t total = atomic_load_explicit(&e->node_count, memory_order_acquire);
    uint32_t written = 0;
    for (uint32_t n = a->offset; n < total && written < a->nodes_cap; n++)
        inv_engine_node_info(e, n, &a->nodes[written++]);
    op_ok(op);
    op->out.list_nodes.written = written;
    op->out.list_nodes.total = total;
}

int inv_engine_node_find(const inv_engine *e, const char *node_id, uint32_t *out_node) {
    if (node_id == NULL) return -EINVAL;
    size_t len = inv_strnlen_bounded(node_id, INV_ID_LEN_MAX);
    if (len == 0 || len > INV_ID_LEN_MAX) return -EINVAL;
    return node_lookup(e, node_id, len, out_node);
}

const char *inv_engine_node_id(const inv_engine *e, uint32_t node) {
    if (node >= atomic_load_explicit(&e->node_count, memory_order_acquire)) return NULL;
    return e->nodes[node].id;
}

/* ====================================================================================
 * SKUs
 * ==================================================================================== */

static uint32_t sku_probe(const inv_engine *e, const char *name, size_t len, uint64_t h,
                          uint32_t *out_slot) {
    uint32_t slot = (uint32_t)h & e->sku_index_mask;
    for (uint32_t probes = 0; probes <= e->sku_index_mask; probes++) {
        uint32_t s = atomic_load_explicit(&e->sku_index[slot], memory_order_acquire);
        if (s == INV_NONE) break;
        const sku_rec *r = &e->skus[s];
        if (r->name_hash == h && r->name_len == len && memcmp(r->name, name, len) == 0)
            return s;
        slot = (slot + 1) & e->sku_index_mask;
    }
    *out_slot = slot;
    return INV_NONE;
}

int sku_lookup(const inv_engine *e, const char *name, size_t len, uint32_t *out_sku) {
    assert(name != NULL);
    assert(len <= INV_ID_LEN_MAX);
    uint32_t slot = 0;
    uint32_t s = sku_probe(e, name, len, inv_hash64(name, len, SEED_SKU), &slot);
    if (s == INV_NONE) return -ENOENT;
    *out_sku = s;
    return 0;
}

int sku_intern(inv_engine *e, const char *name, size_t len, uint32_t *out_sku) {
    assert(len > 0 && len <= INV_ID_LEN_MAX);
    uint64_t h = inv_hash64(name, len, SEED_SKU);
    uint32_t slot = 0;
    uint32_t found = sku_probe(e, name, len, h, &slot);
    if (found != INV_NONE) {
        *out_sku = found;
        return 0;
    }
    uint32_t idx = atomic_fetch_add(&e->sku_alloc, 1);
    if (idx >= e->cfg.skus_max) return -ENOSPC;
    sku_rec *r = &e->skus[idx];
    atomic_store_explicit(&r->cell_head, INV_NONE, memory_order_relaxed);
    r->name_hash = h;
    r->name_len = (uint8_t)len;
    memcpy(r->name, name, len);
    r->name[len] = '\0';
    atomic_store_explicit(&r->published, 1, memory_order_relaxed);
    for (uint32_t probes = 0; probes <= e->sku_index_mask; probes++) {
        uint32_t expect = INV_NONE;
        if (atomic_compare_exchange_strong(&e->sku_index[slot], &expect, idx)) {
            atomic_fetch_add_explicit(&e->sku_count, 1, memory_order_relaxed);
            *out_sku = idx;
            return 0;
        }
        const sku_rec *other = &e->skus[expect]; /* someone else took the slot */
        if (other->name_hash == h && other->name_len == len &&
            memcmp(other->name, name, len) == 0) {
            *out_sku = expect; /* lost the race to the same name */
            return 0;
        }
        slot = (slot + 1) & e->sku_index_mask;
    }
    return -ENOSPC;
}

int sku_define(inv_engine *e, uint32_t sku, const char *name, size_t len) {
    assert(len > 0 && len <= INV_ID_LEN_MAX);
    if (sku >= e->cfg.skus_max) return -EINVAL;
    uint32_t found = 0;
    if (sku_lookup(e, name, len, &found) == 0) return found == sku ? 0 : -EINVAL;
    sku_rec *r = &e->skus[sku];
    if (atomic_load(&r->published)) return -EINVAL; /* index taken by another name */
    uint64_t h = inv_hash64(name, len, SEED_SKU);
    atomic_store(&r->cell_head, INV_NONE);
    r->name_hash = h;
    r->name_len = (uint8_t)len;
    memcpy(r->name, name, len);
    r->name[len] = '\0';
    atomic_store(&r->published, 1);
    uint32_t slot = (uint32_t)h & e->sku_index_mask;
    while (atomic_load(&e->sku_index[slot]) != INV_NONE) slot = (slot + 1) & e->sku_index_mask;
    atomic_store(&e->sku_index[slot], sku);
    atomic_fetch_add(&e->sku_count, 1);
    if (atomic_load(&e->sku_alloc) <= sku) atomic_store(&e->sku_alloc, sku + 1);
    return 0;
}

void sku_stock_increased(inv_engine *e, uint32_t sku) {
    sku_rec *r = sku_at(e, sku);
    if (atomic_load(&r->sold_out) != 0) atomic_store(&r->sold_out, 0);
}

void sku_mark_sold_out(inv_engine *e, uint32_t sku) {
    sku_rec *r = sku_at(e, sku);
    atomic_store(&r->sold_out, 1);
    uint32_t c = atomic_load(&r->cell_head);
    for (uint32_t i = 0; c != INV_NONE && i < e->cfg.cells_max; i++) {
        const stock_cell *cell = cell_at(e, c);
        uint64_t w = atomic_load(&((stock_cell *)cell)->word);
        int32_t safety = atomic_load(&((stock_cell *)cell)->safety);
        if ((int64_t)stock_word_on_hand(w) - stock_word_reserved(w) - safety > 0) {
            atomic_store(&r->sold_out, 0);
            return;
        }
        c = cell->next_in_sku;
    }
}

const char *inv_engine_sku_name(const inv_engine *e, uint32_t sku) {
    if (sku >= e->cfg.skus_max) return NULL;
    if (atomic_load_explicit(&e->skus[sku].published, memory_order_acquire) == 0) return NULL;
    return e->skus[sku].name;
}

int inv_engine_sku_find(const inv_engine *e, const char *sku, uint32_t *out_sku) {
    if (sku == NULL) return -EINVAL;
    size_t len = inv_strnlen_bounded(sku, INV_ID_LEN_MAX);
    if (len == 0 || len > INV_ID_LEN_MAX) return -EINVAL;
    return sku_lookup(e, sku, len, out_sku);
}

void op_set_limit(inv_engine *e, inv_op *op, bool apply) {
    size_t len = 0;
    if (!id_check(op, "sku", op->in.limit.sku, &len)) return;
    uint32_t sku = 0;
    int rc = sku_intern(e, op->in.limit.sku, len, &sku);
    if (rc != 0) {
        op_fail(op, INV_RESOURCE_EXHAUSTED, "SKU table full (%u SKUs)", e->cfg.skus_max);
        return;
    }
    if (apply)
        atomic_store_explicit(&sku_at(e, sku)->limit, op->in.limit.limit_per_customer,
                              memory_order_relaxed);
    op_ok(op);
    op->out.limit.sku = sku;
}

/* ====================================================================================
 * Purchase-limit counters
 * ==================================================================================== */

uint64_t limit_key_of(uint64_t customer_hash, uint32_t sku) {
    uint64_t k = inv_mix64(customer_hash ^ ((uint64_t)sku * 0x9e3779b97f4a7c15ull));
    return k == 0 ? 1 : k;
}

/* The slot of `key`, claiming an empty one if `create`. NULL: absent / table full. */
static limit_slot *limit_slot_find(const inv_engine *e, uint64_t key, bool create) {
    uint32_t i = (uint32_t)key & e->limits_mask;
    for (uint32_t probes = 0; probes <= e->limits_mask; probes++) {
        limit_slot *s = &e->limits[i];
        uint64_t k = atomic_load_explicit(&s->key, memory_order_acquire);
        if (k == key) return s;
        if (k == 0) {
            if (!create) return NULL;
            if (atomic_fetch_add(&((inv_engine *)e)->limits_used, 1) >= (e->limits_mask + 1) / 2) {
                atomic_fetch_sub(&((inv_engine *)e)->limits_used, 1);
                return NULL; /* keep the table at most half full */
            }
            uint64_t expect = 0;
            if (atomic_compare_exchange_strong(&s->key, &expect, key)) return s;
            atomic_fetch_sub(&((inv_engine *)e)->limits_used, 1);
            if (expect == key) return s;
        }
        i = (i + 1) & e->limits_mask;
    }
    return NULL;
}

int limit_take(inv_engine *e, uint64_t customer_hash, uint32_t sku, uint32_t qty,
               uint32_t limit) {
    assert(limit > 0);
    assert(qty > 0);
    if (qty > limit) return -EDQUOT;
    limit_slot *s = limit_slot_find(e, limit_key_of(customer_hash, sku), true);
    if (s == NULL) return -ENOSPC;
    int64_t held = atomic_fetch_add(&s->held, (int64_t)qty) + (int64_t)qty;
    if (held > (int64_t)limit) {
        atomic_fetch_sub(&s->held, (int64_t)qty);
        return -EDQUOT;
    }
    return 0;
}

void limit_give(inv_engine *e, uint64_t customer_hash, uint32_t sku, uint32_t qty) {
    limit_give_key(e, limit_key_of(customer_hash, sku), qty);
}

void limit_give_key(inv_engine *e, uint64_t key, uint32_t qty) {
    limit_slot *s = limit_slot_find(e, key, false);
    assert(s != NULL);
    if (s == NULL) return;
    int64_t before = atomic_fetch_sub(&s->held, (int64_t)qty);
    assert(before >= (int64_t)qty);
    (void)before;
}

int limit_counter_add(inv_engine *e, uint64_t key, int64_t held) {
    limit_slot *s = limit_slot_find(e, key, true);
    if (s == NULL) return -ENOSPC;
    atomic_fetch_add(&s->held, held);
    return 0;
}

int64_t limit_held(const inv_engine *e, uint64_t customer_hash, uint32_t sku) {
    limit_slot *s = limit_slot_find(e, limit_key_of(customer_hash, sku), false);
    return s == NULL ? 0 : atomic_load(&s->held);
}

/* ====================================================================================
 * Publishing the routing index
 * ==================================================================================== */

void catalog_reclaim(inv_engine *e) {
    uint64_t oldest_seen = UINT64_MAX;
    for (uint32_t i = 0; i < e->shard_count; i++) {
        uint64_t seen = shard_seen_epoch(e->shards[i]);
        if (seen < oldest_seen) oldest_seen = seen;
    }
    uint32_t kept = 0;
    for (uint32_t i = 0; i < e->retired_count; i++) {
        if (e->retired[i].epoch <= oldest_seen) {
            geo_snapshot_free(e->retired[i].snap);
        } else {
            e->retired[kept++] = e->retired[i];
        }
    }
    e->retired_count = kept;
}

void catalog_publish_if_dirty(inv_engine *e, bool direct) {
    if (!e->catalog_dirty) return;
    if (!direct) {
        catalog_reclaim(e);
        if (e->retired_count == INV_GEO_RETIRED_MAX) return; /* wait for the shards */
    }
    geo_snapshot *fresh = NULL;
    if (geo_snapshot_build(e, &fresh) != 0) return; /* stays dirty; next pass retries */
    geo_snapshot *old = atomic_exchange(&e->geo, fresh);
    uint64_t epoch = atomic_fetch_add(&e->geo_epoch, 1) + 1;
    e->catalog_dirty = false;
    if (old == NULL) return;
    if (direct) {
        geo_snapshot_free(old);
        return;
    }
    e->retired[e->retired_count].snap = old;
    e->retired[e->retired_count].epoch = epoch;
    e->retired_count++;
}

void inv_engine_catalog_publish(inv_engine *e) { catalog_publish_if_dirty(e, true); }
