/*
 * stock.c — stock cells: one per (sku, node), changed only with atomics.
 *
 * A cell is 24 bytes: a 64-bit word holding on_hand (low, signed) and reserved (high),
 * the safety stock, and the links that find it. Because on_hand and reserved share one
 * word, every change of either is a single CAS and any reader sees a consistent pair:
 *   take    available ≥ qty → reserved += qty   (never oversells: DESIGN.md §10.2)
 *   untake  reserved −= qty                     (release, expiry, rollback)
 *   commit  on_hand −= qty, reserved −= qty     (payment)
 *   adjust  on_hand += delta or = set_to        (WMS sync, POS, returns)
 * A failing take reads the word once and writes nothing, so a sold-out cell costs one
 * shared read, never a bounced line.
 *
 * Cells are created lock-free (any shard): the record is filled, published by a CAS
 * into the insert-only (sku, node) index, then prepended to its SKU's list with a CAS.
 * Cells are never removed; the index holds 32-bit cell numbers at ≤ 50 % load, so a
 * cell costs 24 + 8 = 32 bytes (DESIGN.md §9).
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine_int.h"
#include "geo.h"
#include "oa_index.h"

int stock_open(inv_engine *e) {
    assert(e->cfg.cells_max > 0);
    e->cells = calloc(e->cfg.cells_max, sizeof(stock_cell));
    e->cell_index_mask = oa_pow2_at_least((uint64_t)e->cfg.cells_max * 2) - 1;
    e->cell_index = malloc(((size_t)e->cell_index_mask + 1) * sizeof *e->cell_index);
    size_t bloom_bytes = (size_t)e->cfg.nodes_max * NODE_SKU_BLOOM_WORDS * sizeof(uint64_t);
    e->node_sku_bloom = aligned_alloc(INV_CACHE_LINE, bloom_bytes);
    if (e->cells == NULL || e->cell_index == NULL || e->node_sku_bloom == NULL) return -ENOMEM;
    memset((void *)e->node_sku_bloom, 0, bloom_bytes);
    for (uint32_t i = 0; i <= e->cell_index_mask; i++) atomic_init(&e->cell_index[i], INV_NONE);
    return 0;
}

void stock_close(inv_engine *e) {
    free((void *)e->node_sku_bloom);
    free(e->cells);
    free((void *)e->cell_index);
}

size_t inv_engine_bytes_per_cell(void) {
    /* The record plus two index slots (the index is kept at most half full). */
    return sizeof(stock_cell) + 2 * sizeof(uint32_t);
}


uint32_t stock_find(const inv_engine *e, uint32_t sku, uint32_t node) {
    uint32_t slot = stock_index_slot(e, sku, node);
    for (uint32_t probes = 0; probes <= e->cell_index_mask; probes++) {
        uint32_t c = atomic_load_explicit(&e->cell_index[slot], memory_order_acquire);
        if (c == INV_NONE) return INV_NONE;
        const stock_cell *cell = &e->cells[c];
        if (cell->sku == sku && cell->node == node) return c;
        slot = (slot + 1) & e->cell_index_mask;
    }
    return INV_NONE;
}

static void sku_list_prepend(inv_engine *e, uint32_t sku, uint32_t c) {
    sku_rec *r = sku_at(e, sku);
    uint32_t head = atomic_load_explicit(&r->cell_head, memory_order_relaxed);
    do { /* the cell is not on the list yet, so next_in_sku is still ours to write */
        e->cells[c].next_in_sku = head;
    } while (!atomic_compare_exchange_weak_explicit(&r->cell_head, &head, c,
                                                    memory_order_release,
                                                    memory_order_relaxed));
    atomic_fetch_add_explicit(&r->cell_count, 1, memory_order_relaxed);
}

int stock_find_or_create(inv_engine *e, uint32_t sku, uint32_t node, uint32_t *out_cell) {
    assert(out_cell != NULL);
    uint32_t found = stock_find(e, sku, node);
    if (found != INV_NONE) {
        *out_cell = found;
        return 0;
    }
    uint32_t c = atomic_fetch_add(&e->cell_alloc, 1);
    if (c >= e->cfg.cells_max) return -ENOSPC;
    stock_cell *cell = &e->cells[c];
    atomic_store_explicit(&cell->word, 0, memory_order_relaxed);
    atomic_store_explicit(&cell->safety, 0, memory_order_relaxed);
    cell->sku = sku;
    cell->node = node;
    cell->next_in_sku = INV_NONE;
    uint32_t bit = sku_bloom_bit(sku); /* before publication: a holder is never hidden */
    atomic_fetch_or_explicit(&e->node_sku_bloom[node * NODE_SKU_BLOOM_WORDS + (bit >> 6)],
                             1ull << (bit & 63u), memory_order_release);
    uint32_t slot = stock_index_slot(e, sku, node);
    for (uint32_t probes = 0; probes <= e->cell_index_mask; probes++) {
        uint32_t expect = INV_NONE;
        if (atomic_compare_exchange_strong(&e->cell_index[slot], &expect, c)) {
            sku_list_prepend(e, sku, c);
            atomic_fetch_add_explicit(&e->cell_count, 1, memory_order_relaxed);
            *out_cell = c;
            return 0;
        }
        if (e->cells[expect].sku == sku && e->cells[expect].node == node) {
            *out_cell = expect; /* lost the race: the other cell is the one */
            return 0;
        }
        slot = (slot + 1) & e->cell_index_mask;
    }
    return -ENOSPC;
}

bool stock_take(inv_engine *e, uint32_t c, uint32_t qty) {
    assert(qty > 0 && qty <= INV_QTY_MAX);
    stock_cell *cell = cell_at(e, c);
    uint64_t w = atomic_load_explicit(&cell->word, memory_order_acquire);
    int32_t safety = atomic_load_explicit(&cell->safety, memory_order_relaxed);
    for (;;) { /* retried only when another shard changed the word in between */
        int64_t avail = (int64_t)stock_word_on_hand(w) - stock_word_reserved(w) - safety;
        if (avail < (int64_t)qty) return false;
        uint64_t next = stock_word(stock_word_on_hand(w), stock_word_reserved(w) + qty);
        if (atomic_compare_exchange_weak_explicit(&cell->word, &w, next, memory_order_seq_cst,
                                                  memory_order_acquire))
            return true;
    }
}

void stock_untake(inv_engine *e, uint32_t c, uint32_t qty) {
    assert(qty > 0);
    stock_cell *cell = cell_at(e, c);
    /* reserved ≥ qty always holds for units this caller took, so subtracting in the
     * high half cannot borrow into on_hand. */
    uint64_t before = atomic_fetch_sub(&cell->word, (uint64_t)qty << 32);
    assert(stock_word_reserved(before) >= qty);
    (void)before;
    sku_stock_increased(e, cell->sku);
}

void stock_commit(inv_engine *e, uint32_t c, uint32_t qty) {
    assert(qty > 0);
    stock_cell *cell = cell_at(e, c);
    uint64_t w = atomic_load_explicit(&cell->word, memory_order_acquire);
    for (;;) { /* retried only on a concurrent change */
        assert(stock_word_reserved(w) >= qty);
        uint64_t next = stock_word(stock_word_on_hand(w) - (int32_t)qty,
                                   stock_word_reserved(w) - qty);
        if (atomic_compare_exchange_weak(&cell->word, &w, next)) return;
    }
}

int stock_adjust(inv_engine *e, uint32_t c, bool has_set_to, int64_t delta, int64_t set_to,
                 bool hold, int64_t *applied) {
    assert(applied != NULL);
    stock_cell *cell = cell_at(e, c);
    uint64_t w = atomic_load_explicit(&cell->word, memory_order_acquire);
    int64_t target = 0;
    for (;;) { /* retried only on a concurrent change */
        int64_t on_hand = stock_word_on_hand(w);
        target = has_set_to ? set_to : on_hand + delta;
        if (target < 0 && target < on_hand) return -ERANGE;
        if (target > (int64_t)INV_QTY_MAX) return -ERANGE;
        int64_t reserved = stock_word_reserved(w);
        if (hold && target > on_hand) reserved += target - on_hand;
        if (reserved > (int64_t)UINT32_MAX) return -EAGAIN;
        uint64_t next = stock_word((int32_t)target, (uint32_t)reserved);
        if (atomic_compare_exchange_weak(&cell->word, &w, next)) {
            *applied = target - on_hand;
            break;
        }
    }
    if (*applied > 0 && !hold) sku_stock_increased(e, cell->sku);
    return 0;
}

void stock_safety_set(inv_engine *e, uint32_t c, int32_t safety) {
    stock_cell *cell = cell_at(e, c);
    int32_t before = atomic_exchange(&cell->safety, safety);
    if (safety < before) sku_stock_increased(e, cell->sku);
}

void stock_force(inv_engine *e, uint32_t c, int64_t on_hand_delta, int64_t reserved_delta) {
    stock_cell *cell = cell_at(e, c);
    uint64_t w = atomic_load(&cell->word);
    int64_t on_hand = stock_word_on_hand(w) + on_hand_delta;
    int64_t reserved = (int64_t)stock_word_reserved(w) + reserved_delta;
    assert(reserved >= 0);
    atomic_store(&cell->word, stock_word((int32_t)on_hand, (uint32_t)reserved));
}

int inv_engine_cell_read(const inv_engine *e, uint32_t sku, uint32_t node,
                         inv_cell_view *out) {
    assert(out != NULL);
    if (sku >= e->cfg.skus_max || node >= e->cfg.nodes_max) return -ENOENT;
    uint32_t c = stock_find(e, sku, node);
    if (c == INV_NONE) return -ENOENT;
    stock_cell *cell = cell_at(e, c);
    uint64_t w = atomic_load_explicit(&cell->word, memory_order_acquire);
    out->sku = sku;
    out->node = node;
    out->on_hand = stock_word_on_hand(w);
    out->reserved = stock_word_reserved(w);
    out->safety = atomic_load_explicit(&cell->safety, memory_order_relaxed);
    out->available = out->on_hand - out->reserved - out->safety;
    out->applied_delta = 0;
    return 0;
}

/* ====================================================================================
 * Ops: Adjust/Return body, SetSafety, GetAvailability
 * ==================================================================================== */

/* Resolve (node_id, sku) to a cell, creating SKU and cell as needed. */
static bool cell_resolve(inv_engine *e, inv_op *op, const char *node_id, const char *sku,
                         uint32_t *out_cell) {
    size_t node_len = 0, sku_len = 0;
    if (!id_check(op, "node_id", node_id, &node_len)) return false;
    if (!id_check(op, "sku", sku, &sku_len)) return false;
    uint32_t node = 0, s = 0;
    if (node_lookup(e, node_id, node_len, &node) != 0) {
        op_fail(op, INV_NOT_FOUND, "unknown node '%s'", node_id);
        return false;
    }
    if (sku_intern(e, sku, sku_len, &s) != 0) {
        op_fail(op, INV_RESOURCE_EXHAUSTED, "SKU table full (%u SKUs)", e->cfg.skus_max);
        return false;
    }
    if (stock_find_or_create(e, s, node, out_cell) != 0) {
        op_fail(op, INV_RESOURCE_EXHAUSTED, "cell table full (%u cells)", e->cfg.cells_max);
        return false;
    }
    return true;
}

static bool id_ok(const char *id) {
    return id != NULL && id[0] != '\0' && inv_strnlen_bounded(id, INV_ID_LEN_MAX) <= INV_ID_LEN_MAX;
}

/* Valid ids, a known node, and no cell of that SKU there yet? Creates nothing. */
static bool cell_missing_at_known_node(const inv_engine *e, const char *node_id,
                                       const char *sku) {
    uint32_t node = 0, s = 0;
    if (!id_ok(node_id) || !id_ok(sku)) return false;
    if (node_lookup(e, node_id, strlen(node_id), &node) != 0) return false;
    if (sku_lookup(e, sku, strlen(sku), &s) != 0) return true;
    return stock_find(e, s, node) == INV_NONE;
}

static void cell_view_fill(const inv_engine *e, uint32_t c, inv_cell_view *v) {
    const stock_cell *cell = cell_at(e, c);
    inv_engine_cell_read(e, cell->sku, cell->node, v);
}

void op_adjust_apply(inv_engine *e, inv_op *op, bool defer, uint32_t *out_cell) {
    bool is_return = op->type == INV_OP_RETURN;
    const char *node_id = is_return ? op->in.ret.node_id : op->in.adjust.node_id;
    const char *sku = is_return ? op->in.ret.sku : op->in.adjust.sku;
    bool has_set_to = !is_return && op->in.adjust.has_set_to;
    int64_t delta = is_return ? (int64_t)op->in.ret.qty : op->in.adjust.delta;
    int64_t set_to = is_return ? 0 : op->in.adjust.set_to;
    if (is_return && (op->in.ret.qty == 0 || op->in.ret.qty > INV_QTY_MAX)) {
        op_fail(op, INV_INVALID_ARGUMENT, "return qty must be 1..%u", INV_QTY_MAX);
        return;
    }
    if (has_set_to ? (set_to < 0 || set_to > (int64_t)INV_QTY_MAX)
                   : (delta < -(int64_t)INV_QTY_MAX || delta > (int64_t)INV_QTY_MAX)) {
        op_fail(op, INV_INVALID_ARGUMENT, "%s out of range (|value| ≤ %u)",
                has_set_to ? "set_to" : "delta", INV_QTY_MAX);
        return;
    }
    /* A cell that does not exist yet has on_hand 0: refuse a negative delta before
     * creating anything, so a refused Adjust changes nothing. */
    if (!has_set_to && delta < 0 && cell_missing_at_known_node(e, node_id, sku)) {
        op_fail(op, INV_INVALID_ARGUMENT, "on_hand would go below 0 (no stock of '%s' at '%s')",
                sku, node_id);
        return;
    }
    uint32_t c = 0;
    if (!cell_resolve(e, op, node_id, sku, &c)) return;
    int64_t applied = 0;
    int rc = stock_adjust(e, c, has_set_to, delta, set_to, defer, &applied);
    if (rc == -EAGAIN) {
        op_fail(op, INV_RESOURCE_EXHAUSTED,
                "too many restocks of '%s' at '%s' waiting for the log; retry", sku, node_id);
        return;
    }
    if (rc != 0) {
        op_fail(op, INV_INVALID_ARGUMENT, "on_hand would go below 0 or above %u", INV_QTY_MAX);
        return;
    }
    op_ok(op);
    cell_view_fill(e, c, &op->out.cell);
    op->out.cell.applied_delta = applied;
    if (defer && applied > 0) { /* show the units as they will be once the hold lifts */
        op->out.cell.reserved -= applied;
        op->out.cell.available += applied;
    }
    *out_cell = c;
}

void op_set_safety(inv_engine *e, inv_op *op, bool defer, uint32_t *out_cell) {
    if (op->in.safety.safety > INV_QTY_MAX) {
        op_fail(op, INV_INVALID_ARGUMENT, "safety must be ≤ %u", INV_QTY_MAX);
        return;
    }
    uint32_t c = 0;
    if (!cell_resolve(e, op, op->in.safety.node_id, op->in.safety.sku, &c)) return;
    if (!defer) stock_safety_set(e, c, (int32_t)op->in.safety.safety);
    op_ok(op);
    cell_view_fill(e, c, &op->out.cell);
    if (defer) { /* the cell as it will be once the new value is stored */
        op->out.cell.available += op->out.cell.safety - (int64_t)op->in.safety.safety;
        op->out.cell.safety = (int64_t)op->in.safety.safety;
    }
    *out_cell = c;
}

/* Insert `en` into the nearest-first array `out` of at most `cap` entries. */
static void nearest_insert(inv_node_avail *out, uint32_t *count, uint32_t cap,
                           const inv_node_avail *en) {
    uint32_t n = *count;
    if (n == cap && (cap == 0 || out[n - 1].distance_km <= en->distance_km)) return;
    uint32_t at = n < cap ? n : cap - 1;
    while (at > 0 && out[at - 1].distance_km > en->distance_km) {
        out[at] = out[at - 1];
        at--;
    }
    out[at] = *en;
    if (n < cap) *count = n + 1;
}

static bool availability_check(inv_op *op, size_t *sku_len) {
    const inv_availability_args *a = &op->in.availability;
    if (!id_check(op, "sku", a->sku, sku_len)) return false;
    if (a->nodes_cap > 0 && a->nodes == NULL) {
        op_fail(op, INV_INVALID_ARGUMENT, "nodes_cap > 0 needs an output array");
        return false;
    }
    if (a->has_point && !point_ok(a->lat, a->lon)) {
        op_fail(op, INV_INVALID_ARGUMENT, "point must be finite WGS84 degrees");
        return false;
    }
    if (!isfinite(a->radius_km) || a->radius_km < 0) {
        op_fail(op, INV_INVALID_ARGUMENT, "radius_km must be ≥ 0");
        return false;
    }
    return true;
}

void op_get_availability(inv_engine *e, inv_op *op) {
    const inv_availability_args *a = &op->in.availability;
    size_t sku_len = 0;
    if (!availability_check(op, &sku_len)) return;
    uint32_t sku = 0;
    if (sku_lookup(e, a->sku, sku_len, &sku) != 0) {
        op_fail(op, INV_NOT_FOUND, "unknown sku '%s'", a->sku);
        return;
    }
    inv_availability_view *v = &op->out.availability;
    memset(v, 0, sizeof *v);
    v->sku = sku;
    const struct geo_snapshot *g = catalog_geo(e);
    uint32_t c = atomic_load_explicit(&sku_at(e, sku)->cell_head, memory_order_acquire);
    for (uint32_t i = 0; c != INV_NONE && i < e->cfg.cells_max; i++) {
        const stock_cell *cell = cell_at(e, c);
        c = cell->next_in_sku;
        inv_node_avail en = {.node = cell->node, .available = 0, .distance_km = 0};
        double lat = 0, lon = 0;
        if (a->has_point) {
            if (g == NULL || !geo_node_point(g, en.node, &lat, &lon)) continue;
            en.distance_km = geo_distance_km(a->lat, a->lon, lat, lon);
            if (a->radius_km > 0 && en.distance_km > a->radius_km) continue;
        }
        uint64_t w = atomic_load_explicit(&((stock_cell *)cell)->word, memory_order_acquire);
        int32_t safety = atomic_load_explicit(&((stock_cell *)cell)->safety, memory_order_relaxed);
        en.available = (int64_t)stock_word_on_hand(w) - stock_word_reserved(w) - safety;
        v->total_available += en.available > 0 ? en.available : 0;
        v->total_on_hand += stock_word_on_hand(w);
        v->total_reserved += stock_word_reserved(w);
        v->node_count++;
        if (a->has_point) {
            nearest_insert(a->nodes, &v->nodes_written, a->nodes_cap, &en);
        } else if (v->nodes_written < a->nodes_cap) {
            a->nodes[v->nodes_written++] = en;
        }
    }
    op_ok(op);
}
