/*
 * shard.c — shards: dispatch, forwarding over SPSC rings, the per-pass poll.
 *
 * Forwarding protocol between shards i (submitter) and j (owner):
 *   i: inv_shard_submit → push op on j.rings_in_req[i]            (i produces)
 *   j: inv_shard_poll   → pop it, run it, push it on i.rings_in_rsp[j]
 *   i: inv_shard_poll   → pop it, call done(op)
 * Each ring has exactly one producer thread and one consumer thread, so it needs only
 * acquire/release on its two indices. The owner pops a request only when the reply
 * ring has room, so a reply never has to wait or be dropped; a full request ring is
 * the submitter's backpressure (-INV_BUSY).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "journal.h"
#include "shard_int.h"

#define SEED_ORDER 0x6f72646572ull /* same seed as resv.c: owner = high half of it */
#define SEED_REF 0x726566ull
#define SEED_REF2 0x52454632ull
#define SEED_SKU_OWNER 0x736b756f776eull
#define POLL_BATCH 256u /* ops taken from one ring per poll pass */

/* ====================================================================================
 * SPSC ring
 * ==================================================================================== */

static bool ring_push(spsc_ring *r, inv_op *op) {
    uint32_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
    if (t - r->head_seen == INV_RING_DEPTH) {
        r->head_seen = atomic_load_explicit(&r->head, memory_order_acquire);
        if (t - r->head_seen == INV_RING_DEPTH) return false;
    }
    r->slots[t & (INV_RING_DEPTH - 1)] = op;
    atomic_store_explicit(&r->tail, t + 1, memory_order_release);
    return true;
}

static bool ring_has_room(spsc_ring *r) {
    uint32_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
    if (t - r->head_seen < INV_RING_DEPTH) return true;
    r->head_seen = atomic_load_explicit(&r->head, memory_order_acquire);
    return t - r->head_seen < INV_RING_DEPTH;
}

static inv_op *ring_pop(spsc_ring *r) {
    uint32_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
    if (h == r->tail_seen) {
        r->tail_seen = atomic_load_explicit(&r->tail, memory_order_acquire);
        if (h == r->tail_seen) return NULL;
    }
    inv_op *op = r->slots[h & (INV_RING_DEPTH - 1)];
    atomic_store_explicit(&r->head, h + 1, memory_order_release);
    return op;
}

static spsc_ring *ring_new(void) {
    spsc_ring *r = aligned_alloc(INV_CACHE_LINE, sizeof *r);
    if (r == NULL) return NULL;
    memset(r, 0, sizeof *r);
    return r;
}

/* ====================================================================================
 * Open / close
 * ==================================================================================== */

int shard_open(inv_engine *e, uint32_t index, inv_shard **out) {
    inv_shard *s = aligned_alloc(INV_CACHE_LINE, sizeof *s);
    if (s == NULL) return -ENOMEM;
    memset(s, 0, sizeof *s);
    s->e = e;
    s->index = index;
    s->now_ms = engine_now_ms(e);
    *out = s;
    s->route = route_scratch_new();
    s->sku_declared = calloc((e->cfg.skus_max + 63u) / 64u, sizeof(uint64_t));
    s->node_declared = calloc((e->cfg.nodes_max + 63u) / 64u, sizeof(uint64_t));
    if (s->route == NULL || s->sku_declared == NULL || s->node_declared == NULL ||
        credit_queue_open(s) != 0)
        return -ENOMEM;
    return resv_shard_open(s);
}

int shard_rings_open(inv_engine *e) {
    uint32_t n = e->shard_count;
    for (uint32_t i = 0; i < n; i++) {
        inv_shard *s = e->shards[i];
        s->rings_in_req = calloc(n, sizeof(spsc_ring *));
        s->rings_in_rsp = calloc(n, sizeof(spsc_ring *));
        if (s->rings_in_req == NULL || s->rings_in_rsp == NULL) return -ENOMEM;
        for (uint32_t j = 0; j < n; j++) {
            if (j == i) continue;
            s->rings_in_req[j] = ring_new();
            s->rings_in_rsp[j] = ring_new();
            if (s->rings_in_req[j] == NULL || s->rings_in_rsp[j] == NULL) return -ENOMEM;
        }
    }
    return 0;
}

void shard_close(inv_shard *s) {
    if (s == NULL) return;
    uint32_t n = s->e->shard_count;
    for (uint32_t j = 0; j < n && s->rings_in_req != NULL; j++) {
        free(s->rings_in_req[j]);
        if (s->rings_in_rsp != NULL) free(s->rings_in_rsp[j]);
    }
    free(s->rings_in_req);
    free(s->rings_in_rsp);
    route_scratch_free(s->route);
    free(s->sku_declared);
    free(s->node_declared);
    credit_queue_close(s);
    resv_shard_close(s);
    free(s);
}

uint64_t shard_seen_epoch(const inv_shard *s) {
    return atomic_load_explicit(&((inv_shard *)s)->seen_epoch, memory_order_acquire);
}

uint32_t inv_shard_index(const inv_shard *s) { return s->index; }

/* ====================================================================================
 * Ownership and dispatch
 * ==================================================================================== */

static const char *op_ref_id(const inv_op *op) {
    if (op->type == INV_OP_ADJUST) return op->in.adjust.ref_id;
    if (op->type == INV_OP_RETURN) return op->in.ret.ref_id;
    return NULL;
}

/* Owner shard of a string key; `any` when the key is missing (validation fails
 * wherever it runs). */
static uint32_t key_owner(const inv_engine *e, const char *key, uint64_t seed, uint32_t any) {
    if (key == NULL || key[0] == '\0') return any;
    size_t len = inv_strnlen_bounded(key, INV_ID_LEN_MAX);
    return (uint32_t)((inv_hash64(key, len, seed) >> 32) % e->shard_count);
}

uint32_t inv_engine_op_owner(const inv_engine *e, const inv_op *op, uint32_t any_shard) {
    assert(any_shard < e->shard_count);
    switch (op->type) {
    case INV_OP_RESERVE: return key_owner(e, op->in.reserve.order_id, SEED_ORDER, any_shard);
    case INV_OP_COMMIT:
    case INV_OP_RELEASE:
    case INV_OP_GET_RESERVATION:
        return key_owner(e, op->in.order.order_id, SEED_ORDER, any_shard);
    case INV_OP_EXTEND: return key_owner(e, op->in.extend.order_id, SEED_ORDER, any_shard);
    case INV_OP_ADJUST:
    case INV_OP_RETURN: return key_owner(e, op_ref_id(op), SEED_REF, any_shard);
    case INV_OP_UPSERT_NODE:
    case INV_OP_SET_NODE_STATUS:
    case INV_OP_LIST_NODES: return 0;
    /* Absolute settings of one SKU are always made by the same shard, so that the
     * shard logs commute (journal.c). */
    case INV_OP_SET_LIMIT: return key_owner(e, op->in.limit.sku, SEED_SKU_OWNER, any_shard);
    case INV_OP_SET_SAFETY: return key_owner(e, op->in.safety.sku, SEED_SKU_OWNER, any_shard);
    default: return any_shard;
    }
}

static uint64_t adjust_content_hash(const inv_op *op) {
    const char *node = op->type == INV_OP_RETURN ? op->in.ret.node_id : op->in.adjust.node_id;
    const char *sku = op->type == INV_OP_RETURN ? op->in.ret.sku : op->in.adjust.sku;
    uint64_t h = inv_hash64(node, strlen(node), op->type);
    h = inv_mix64(h ^ inv_hash64(sku, strlen(sku), 7));
    if (op->type == INV_OP_RETURN) return inv_mix64(h + op->in.ret.qty);
    h = inv_mix64(h + (uint64_t)op->in.adjust.has_set_to);
    h = inv_mix64(h + (uint64_t)op->in.adjust.delta);
    return inv_mix64(h + (uint64_t)op->in.adjust.set_to);
}

/* A restock or return's new units stay held until its record is durable (credit.c). */
static void adjust_credit(inv_shard *s, const inv_op *op, uint32_t cell, bool defer) {
    if (defer && op->out.cell.applied_delta > 0)
        credit_give(s, op->lsn, CREDIT_UNTAKE, cell, (uint32_t)op->out.cell.applied_delta, 0);
}

/* Adjust / Return, remembering the ref_id on this (its owner) shard. */
static void adjust_with_ref(inv_shard *s, inv_op *op) {
    const char *ref = op_ref_id(op);
    bool defer = credit_deferred(s);
    uint32_t cell = INV_NONE;
    if (ref == NULL || ref[0] == '\0') {
        op_adjust_apply(s->e, op, defer, &cell);
        if (op->status == INV_OK && op->out.cell.applied_delta != 0 && journal_on(s))
            op->lsn = journal_stock_delta_emit(s, op->out.cell.sku, op->out.cell.node,
                                               op->out.cell.applied_delta, NULL);
        if (op->status == INV_OK) adjust_credit(s, op, cell, defer);
        return;
    }
    size_t len = 0;
    if (!id_check(op, "ref_id", ref, &len)) return;
    const char *node = op->type == INV_OP_RETURN ? op->in.ret.node_id : op->in.adjust.node_id;
    const char *sku = op->type == INV_OP_RETURN ? op->in.ret.sku : op->in.adjust.sku;
    size_t dummy = 0;
    if (!id_check(op, "node_id", node, &dummy) || !id_check(op, "sku", sku, &dummy)) return;
    uint64_t k1 = inv_hash64(ref, len, SEED_REF), k2 = inv_hash64(ref, len, SEED_REF2);
    uint64_t content = adjust_content_hash(op);
    const recent_entry *seen = recent_find(&s->refs, k1, k2);
    if (seen != NULL) {
        if (seen->content_hash != content) {
            op_fail(op, INV_CONFLICT, "ref_id '%s' was used for a different change", ref);
            return;
        }
        uint32_t n = 0, k = 0;
        memset(&op->out.cell, 0, sizeof op->out.cell);
        if (node_lookup(s->e, node, strlen(node), &n) == 0 &&
            sku_lookup(s->e, sku, strlen(sku), &k) == 0)
            inv_engine_cell_read(s->e, k, n, &op->out.cell);
        op->out.cell.applied_delta = seen->value;
        op_fail(op, INV_DUPLICATE_REF, "ref_id '%s' already applied", ref);
        return;
    }
    op_adjust_apply(s->e, op, defer, &cell);
    if (op->status != INV_OK) return;
    recent_entry *en = recent_add(&s->refs, k1, k2, s->now_ms);
    en->content_hash = content;
    en->value = op->out.cell.applied_delta;
    if (journal_on(s))
        op->lsn = journal_stock_delta_emit(s, op->out.cell.sku, op->out.cell.node,
                                           op->out.cell.applied_delta, en);
    adjust_credit(s, op, cell, defer);
}

static void shard_stats_publish(inv_shard *s) {
    atomic_store_explicit(&s->stats.live, s->resv_live, memory_order_relaxed);
    atomic_store_explicit(&s->stats.tombstones, recent_count(&s->tombstones),
                          memory_order_relaxed);
    atomic_store_explicit(&s->stats.reservation_bytes, s->arena.bytes_in_use,
                          memory_order_relaxed);
    atomic_store_explicit(&s->stats.tombstones_dropped_early, s->tombstones.dropped_early,
                          memory_order_relaxed);
}

void shard_execute(inv_shard *s, inv_op *op) {
    inv_engine *e = s->e;
    uint32_t cell = INV_NONE;
    s->now_ms = engine_now_ms(e);
    op->lsn = 0;
    op->lsn_shard = s->index;
    switch (op->type) {
    case INV_OP_RESERVE: resv_reserve(s, op); break;
    case INV_OP_COMMIT: resv_commit(s, op); break;
    case INV_OP_RELEASE: resv_release(s, op); break;
    case INV_OP_EXTEND: resv_extend(s, op); break;
    case INV_OP_GET_RESERVATION: resv_get(s, op); break;
    case INV_OP_ADJUST:
    case INV_OP_RETURN: adjust_with_ref(s, op); break;
    case INV_OP_GET_AVAILABILITY: op_get_availability(e, op); break;
    case INV_OP_UPSERT_NODE: op_upsert_node(e, op); break;
    case INV_OP_SET_NODE_STATUS: op_set_node_status(e, op); break;
    case INV_OP_LIST_NODES: op_list_nodes(e, op); break;
    case INV_OP_SET_SAFETY: op_set_safety(e, op, credit_deferred(s), &cell); break;
    case INV_OP_SET_LIMIT: op_set_limit(e, op, !credit_deferred(s)); break;
    default: op_fail(op, INV_INVALID_ARGUMENT, "unknown op type %d", (int)op->type); return;
    }
    if (op->type <= INV_OP_EXTEND) {
        shard_stats_publish(s);
    } else {
        journal_op_emit(s, op);
    }
    /* A new safety or limit is stored once its record is durable (credit.c). */
    if (op->status == INV_OK && credit_deferred(s)) {
        if (op->type == INV_OP_SET_SAFETY)
            credit_give(s, op->lsn, CREDIT_SAFETY_SET, cell, op->in.safety.safety, 0);
        if (op->type == INV_OP_SET_LIMIT)
            credit_give(s, op->lsn, CREDIT_LIMIT_SET, op->out.limit.sku,
                        op->in.limit.limit_per_customer, 0);
    }
    /* An answer read from state this shard logged (a retry, a DUPLICATE_REF, a GET)
     * may describe a record still in flight: it waits for everything logged so far. */
    if (op->lsn == 0 && op->type != INV_OP_GET_AVAILABILITY && op->type != INV_OP_LIST_NODES)
        op->lsn = s->last_lsn;
}

/* ====================================================================================
 * Threaded mode
 * ==================================================================================== */

int inv_shard_submit(inv_shard *s, inv_op *op) {
    assert(op != NULL);
    uint32_t owner = inv_engine_op_owner(s->e, op, s->index);
    if (owner == s->index) {
        shard_execute(s, op);
        return 1;
    }
    op->origin_shard = s->index;
    if (!ring_push(s->e->shards[owner]->rings_in_req[s->index], op)) return -INV_BUSY;
    return 0;
}

int inv_shard_submit_retry(inv_shard *s, inv_op *op, uint32_t tries, void (*on_busy)(void *ctx),
                           void *ctx, uint32_t *busy_out) {
    assert(on_busy != NULL);
    uint32_t busy = 0;
    int rc = -INV_BUSY;
    for (uint32_t t = 0; t < tries; t++) {
        rc = inv_shard_submit(s, op);
        if (rc != -INV_BUSY) break;
        busy++;
        on_busy(ctx);
    }
    if (busy_out != NULL) *busy_out = busy;
    return rc;
}

/* Run ops shard `from` forwarded to `s`, replying on from's ring. */
static uint32_t poll_requests(inv_shard *s, uint32_t from) {
    spsc_ring *in = s->rings_in_req[from];
    spsc_ring *back = s->e->shards[from]->rings_in_rsp[s->index];
    uint32_t n = 0;
    for (; n < POLL_BATCH && ring_has_room(back); n++) {
        inv_op *op = ring_pop(in);
        if (op == NULL) break;
        shard_execute(s, op);
        bool pushed = ring_push(back, op);
        assert(pushed); /* room was checked and this thread is the only producer */
        (void)pushed;
    }
    return n;
}

static uint32_t poll_replies(inv_shard *s, uint32_t from, inv_done_fn done, void *ctx) {
    spsc_ring *in = s->rings_in_rsp[from];
    uint32_t n = 0;
    for (; n < POLL_BATCH; n++) {
        inv_op *op = ring_pop(in);
        if (op == NULL) break;
        if (done != NULL) done(ctx, op);
    }
    return n;
}

uint32_t inv_shard_poll(inv_shard *s, inv_done_fn done, void *ctx) {
    inv_engine *e = s->e;
    /* Quiescent point: this thread holds no geo snapshot pointer here. */
    atomic_store_explicit(&s->seen_epoch, atomic_load(&e->geo_epoch), memory_order_release);
    uint32_t handled = inv_shard_credit_durable(s);
    for (uint32_t j = 0; j < e->shard_count; j++) {
        if (j == s->index) continue;
        handled += poll_requests(s, j);
        handled += poll_replies(s, j, done, ctx);
    }
    s->now_ms = engine_now_ms(e);
    handled += resv_expire_due(s, INV_EXPIRE_BATCH_MAX);
    shard_stats_publish(s);
    if (s->index == 0) catalog_publish_if_dirty(e, false);
    return handled;
}
