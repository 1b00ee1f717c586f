/*
 * journal.c — outcome records: body encoding, emission, replay, snapshots.
 *
 * Bodies are little-endian fixed fields plus length-prefixed strings (u8 length, at
 * most INV_ID_LEN_MAX bytes). The encoder writes into a stack buffer of
 * INV_REC_BODY_MAX bytes and hands it to cfg.journal.append; nothing is allocated.
 *
 * Commutativity (DESIGN.md §6, §10.6): stock changes travel as deltas (Adjust set_to
 * becomes the delta it caused), reserved changes as the units of a RESERVED / finished
 * record, and every absolute setting has one owner shard (node upsert and status:
 * shard 0; limit and safety: the SKU's shard). So the shard logs can be replayed in
 * any interleaving and give the same state.
 *
 * Replay trusts nothing: every body is bounds-checked while it is decoded, and a
 * record that does not fit the state built so far is refused with a reason.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "journal.h"

/* ====================================================================================
 * Byte writer / reader
 * ==================================================================================== */

typedef struct wbuf {
    unsigned char b[INV_REC_BODY_MAX];
    uint32_t n;
} wbuf;

static void put(wbuf *w, const void *p, uint32_t n) {
    assert(w->n + n <= sizeof w->b);
    memcpy(w->b + w->n, p, n);
    w->n += n;
}
static void put_u8(wbuf *w, uint8_t v) { put(w, &v, 1); }
static void put_u16(wbuf *w, uint16_t v) { put(w, &v, 2); }
static void put_u32(wbuf *w, uint32_t v) { put(w, &v, 4); }
static void put_u64(wbuf *w, uint64_t v) { put(w, &v, 8); }
static void put_f64(wbuf *w, double v) { put(w, &v, 8); }
static void put_f32(wbuf *w, float v) { put(w, &v, 4); }
static void put_str(wbuf *w, const char *s, size_t len) {
    assert(len <= INV_ID_LEN_MAX);
    put_u8(w, (uint8_t)len);
    put(w, s, (uint32_t)len);
}

typedef struct rbuf {
    const unsigned char *b;
    uint32_t n, at;
    bool bad;
} rbuf;

static bool get(rbuf *r, void *p, uint32_t n) {
    if (r->bad || r->n - r->at < n) {
        r->bad = true;
        memset(p, 0, n);
        return false;
    }
    memcpy(p, r->b + r->at, n);
    r->at += n;
    return true;
}
static uint8_t get_u8(rbuf *r) { uint8_t v; get(r, &v, 1); return v; }
static uint16_t get_u16(rbuf *r) { uint16_t v; get(r, &v, 2); return v; }
static uint32_t get_u32(rbuf *r) { uint32_t v; get(r, &v, 4); return v; }
static uint64_t get_u64(rbuf *r) { uint64_t v; get(r, &v, 8); return v; }
static double get_f64(rbuf *r) { double v; get(r, &v, 8); return v; }
static float get_f32(rbuf *r) { float v; get(r, &v, 4); return v; }
/* A string into `out` (NUL-terminated, INV_ID_LEN_MAX + 1 bytes). */
static size_t get_str(rbuf *r, char *out) {
    uint8_t len = get_u8(r);
    if (len > INV_ID_LEN_MAX) r->bad = true;
    if (r->bad || !get(r, out, len)) {
        out[0] = '\0';
        return 0;
    }
    out[len] = '\0';
    return len;
}

const char *inv_rec_type_name(inv_rec_type t) {
    static const char *const names[INV_REC_TYPE_MAX + 1] = {
        "NONE", "SKU_NAME", "NODE_NAME", "NODE_UPSERT", "NODE_STATUS", "SKU_LIMIT",
        "CELL_SAFETY", "STOCK_DELTA", "RESERVED", "COMMITTED", "RELEASED", "EXPIRED",
        "EXTENDED", "CELL_STATE", "LIMIT_COUNTER", "NODE_CAPACITY", "TOMBSTONE", "REF_SEEN",
    };
    return (unsigned)t <= INV_REC_TYPE_MAX ? names[t] : "UNKNOWN";
}

/* ====================================================================================
 * Emission
 * ==================================================================================== */

static uint64_t append(inv_shard *s, inv_rec_type type, const wbuf *w) {
    assert(journal_on(s));
    uint64_t lsn = s->e->cfg.journal.append(s->e->cfg.journal.ctx, s->index, type, w->b, w->n);
    assert(lsn > s->last_lsn);
    s->last_lsn = lsn;
    return lsn;
}

static inline bool bit_test_set(uint64_t *bits, uint32_t i) {
    uint64_t m = 1ull << (i & 63u);
    bool was = (bits[i >> 6] & m) != 0;
    bits[i >> 6] |= m;
    return was;
}

/* Declare SKU `sku` in this shard's log unless already done. */
static void declare_sku(inv_shard *s, uint32_t sku) {
    if (bit_test_set(s->sku_declared, sku)) return;
    wbuf w = {.n = 0};
    const sku_rec *r = sku_at(s->e, sku);
    put_u32(&w, sku);
    put_str(&w, r->name, r->name_len);
    append(s, INV_REC_SKU_NAME, &w);
}

static void declare_node(inv_shard *s, uint32_t node) {
    if (bit_test_set(s->node_declared, node)) return;
    wbuf w = {.n = 0};
    const node_rec *r = node_at(s->e, node);
    put_u32(&w, node);
    put_str(&w, r->id, r->id_len);
    append(s, INV_REC_NODE_NAME, &w);
}

static void encode_reserved(wbuf *w, const journal_reserved *r) {
    put_str(w, r->order_id, r->order_len);
    put_str(w, r->customer_id, r->customer_len);
    put_u8(w, r->absolute ? 1 : 0);
    put_u64(w, r->content_hash);
    put_u64(w, r->expires_at_ms);
    put_u16(w, r->created_day);
    put_u8(w, r->parcels);
    put_f32(w, r->cost);
    put_u8(w, (uint8_t)r->alloc_count);
    for (uint32_t i = 0; i < r->alloc_count; i++) {
        put_u32(w, r->sku[i]);
        put_u32(w, r->node[i]);
        put_u32(w, r->qty_flags[i]);
    }
}

uint64_t journal_reserved_emit(inv_shard *s, const journal_reserved *r) {
    for (uint32_t i = 0; i < r->alloc_count; i++) {
        declare_sku(s, r->sku[i]);
        declare_node(s, r->node[i]);
    }
    wbuf w = {.n = 0};
    encode_reserved(&w, r);
    return append(s, INV_REC_RESERVED, &w);
}

uint64_t journal_finished_emit(inv_shard *s, const char *order_id, size_t len,
                               inv_resv_state state, uint64_t at_ms) {
    static const inv_rec_type by_state[] = {
        [INV_RESV_COMMITTED] = INV_REC_COMMITTED,
        [INV_RESV_RELEASED] = INV_REC_RELEASED,
        [INV_RESV_EXPIRED] = INV_REC_EXPIRED,
    };
    assert(state != INV_RESV_HELD);
    wbuf w = {.n = 0};
    put_str(&w, order_id, len);
    put_u64(&w, at_ms);
    return append(s, by_state[state], &w);
}

uint64_t journal_extended_emit(inv_shard *s, const char *order_id, size_t len,
                               uint64_t expires_at_ms) {
    wbuf w = {.n = 0};
    put_str(&w, order_id, len);
    put_u64(&w, expires_at_ms);
    return append(s, INV_REC_EXTENDED, &w);
}

uint64_t journal_stock_delta_emit(inv_shard *s, uint32_t sku, uint32_t node, int64_t delta,
                                  const recent_entry *ref) {
    declare_sku(s, sku);
    declare_node(s, node);
    wbuf w = {.n = 0};
    put_u32(&w, sku);
    put_u32(&w, node);
    put_u64(&w, (uint64_t)delta);
    put_u8(&w, ref != NULL);
    if (ref != NULL) {
        put_u64(&w, ref->key1);
        put_u64(&w, ref->key2);
        put_u64(&w, ref->content_hash);
        put_u64(&w, ref->at_ms);
    }
    return append(s, INV_REC_STOCK_DELTA, &w);
}

static void encode_node(wbuf *w, const node_rec *r, uint32_t node) {
    put_u32(w, node);
    put_str(w, r->id, r->id_len);
    put_u8(w, r->kind);
    put_f64(w, r->lat);
    put_f64(w, r->lon);
    put_str(w, r->region, strlen(r->region));
    put_u8(w, (uint8_t)((r->ships ? 1 : 0) | (r->pickup ? 2 : 0)));
    put_u32(w, atomic_load_explicit(&((node_rec *)r)->capacity_per_day, memory_order_relaxed));
    put_u32(w, r->priority);
    put_u8(w, atomic_load_explicit(&((node_rec *)r)->status, memory_order_relaxed));
}

void journal_op_emit(inv_shard *s, inv_op *op) {
    if (!journal_on(s) || op->status != INV_OK) return;
    inv_engine *e = s->e;
    wbuf w = {.n = 0};
    switch (op->type) {
    case INV_OP_UPSERT_NODE:
    case INV_OP_SET_NODE_STATUS:
        bit_test_set(s->node_declared, op->out.node.node); /* the upsert names it */
        encode_node(&w, node_at(e, op->out.node.node), op->out.node.node);
        op->lsn = append(s, INV_REC_NODE_UPSERT, &w);
        return;
    case INV_OP_SET_LIMIT:
        declare_sku(s, op->out.limit.sku);
        put_u32(&w, op->out.limit.sku);
        put_u32(&w, op->in.limit.limit_per_customer);
        op->lsn = append(s, INV_REC_SKU_LIMIT, &w);
        return;
    case INV_OP_SET_SAFETY:
        declare_sku(s, op->out.cell.sku);
        declare_node(s, op->out.cell.node);
        put_u32(&w, op->out.cell.sku);
        put_u32(&w, op->out.cell.node);
        put_u32(&w, (uint32_t)op->out.cell.safety);
        op->lsn = append(s, INV_REC_CELL_SAFETY, &w);
        return;
    default:
        return;
    }
}

/* ====================================================================================
 * Replay
 * ==================================================================================== */

static int refuse(char *err, size_t errlen, const char *what, inv_rec_type type) {
    if (err != NULL && errlen > 0)
        snprintf(err, errlen, "%s record: %s", inv_rec_type_name(type), what);
    return -EINVAL;
}

static bool sku_known(const inv_engine *e, uint32_t sku) {
    return sku < e->cfg.skus_max && inv_engine_sku_name(e, sku) != NULL;
}
static bool node_known(const inv_engine *e, uint32_t node) {
    return node < atomic_load(&((inv_engine *)e)->node_count) && e->nodes[node].id_len > 0;
}

static int replay_node_upsert(inv_engine *e, rbuf *r) {
    char id[INV_ID_LEN_MAX + 1], region[INV_ID_LEN_MAX + 1];
    inv_node_spec spec;
    memset(&spec, 0, sizeof spec);
    uint32_t node = get_u32(r);
    size_t len = get_str(r, id);
    spec.node_id = id;
    spec.kind = (inv_node_kind)get_u8(r);
    spec.lat = get_f64(r);
    spec.lon = get_f64(r);
    size_t region_len = get_str(r, region);
    spec.region = region;
    uint8_t flags = get_u8(r);
    spec.ships = (flags & 1) != 0;
    spec.pickup = (flags & 2) != 0;
    spec.capacity_per_day = get_u32(r);
    spec.priority = get_u32(r);
    spec.status = (inv_node_status)get_u8(r);
    if (r->bad || len == 0 || region_len > INV_REGION_LEN_MAX ||
        (unsigned)spec.kind >= INV_NODE_KIND_COUNT || (unsigned)spec.status > INV_NODE_CLOSED)
        return -EINVAL;
    if (node_define(e, node, id, len) != 0) return -EINVAL;
    node_fields_apply(e, node, &spec);
    return 0;
}

static int replay_names(inv_engine *e, inv_rec_type type, rbuf *r) {
    char name[INV_ID_LEN_MAX + 1];
    uint32_t idx = get_u32(r);
    size_t len = get_str(r, name);
    if (r->bad || len == 0) return -EINVAL;
    return type == INV_REC_SKU_NAME ? sku_define(e, idx, name, len)
                                    : node_define(e, idx, name, len);
}

static int replay_cell_record(inv_engine *e, inv_rec_type type, rbuf *r) {
    uint32_t sku = get_u32(r), node = get_u32(r);
    if (r->bad || !sku_known(e, sku) || !node_known(e, node)) return -EINVAL;
    uint32_t c = 0;
    if (stock_find_or_create(e, sku, node, &c) != 0) return -ENOSPC;
    stock_cell *cell = cell_at(e, c);
    if (type == INV_REC_CELL_SAFETY) {
        uint32_t safety = get_u32(r);
        if (r->bad || safety > INV_QTY_MAX) return -EINVAL;
        atomic_store(&cell->safety, (int32_t)safety);
        return 0;
    }
    /* CELL_STATE: absolute on_hand, reserved, safety (snapshot). */
    int32_t on_hand = (int32_t)get_u32(r);
    uint32_t reserved = get_u32(r), safety = get_u32(r);
    if (r->bad || safety > INV_QTY_MAX) return -EINVAL;
    atomic_store(&cell->word, stock_word(on_hand, reserved));
    atomic_store(&cell->safety, (int32_t)safety);
    return 0;
}

static int replay_stock_delta(inv_shard *s, rbuf *r) {
    inv_engine *e = s->e;
    uint32_t sku = get_u32(r), node = get_u32(r);
    int64_t delta = (int64_t)get_u64(r);
    bool has_ref = get_u8(r) != 0;
    if (r->bad || !sku_known(e, sku) || !node_known(e, node)) return -EINVAL;
    if (delta < -(int64_t)INV_QTY_MAX || delta > (int64_t)INV_QTY_MAX) return -EINVAL;
    uint32_t c = 0;
    if (stock_find_or_create(e, sku, node, &c) != 0) return -ENOSPC;
    stock_force(e, c, delta, 0);
    if (!has_ref) return 0;
    uint64_t k1 = get_u64(r), k2 = get_u64(r), content = get_u64(r), at = get_u64(r);
    if (r->bad) return -EINVAL;
    if (recent_find(&s->refs, k1, k2) == NULL) {
        recent_entry *en = recent_add(&s->refs, k1, k2, at);
        en->content_hash = content;
        en->value = delta;
    }
    return 0;
}

static int decode_reserved(const inv_engine *e, rbuf *r, journal_reserved *out,
                           char order[INV_ID_LEN_MAX + 1], char customer[INV_ID_LEN_MAX + 1]) {
    out->order_len = (uint8_t)get_str(r, order);
    out->order_id = order;
    out->customer_len = (uint8_t)get_str(r, customer);
    out->customer_id = customer;
    out->absolute = get_u8(r) != 0;
    out->content_hash = get_u64(r);
    out->expires_at_ms = get_u64(r);
    out->created_day = get_u16(r);
    out->parcels = get_u8(r);
    out->cost = get_f32(r);
    out->alloc_count = get_u8(r);
    if (r->bad || out->order_len == 0 || out->alloc_count > INV_ALLOC_MAX) return -EINVAL;
    for (uint32_t i = 0; i < out->alloc_count; i++) {
        out->sku[i] = get_u32(r);
        out->node[i] = get_u32(r);
        out->qty_flags[i] = get_u32(r);
        if (r->bad || !sku_known(e, out->sku[i]) || !node_known(e, out->node[i]))
            return -EINVAL;
    }
    return 0;
}

static int replay_order(inv_shard *s, inv_rec_type type, rbuf *r, char *err, size_t errlen) {
    char order[INV_ID_LEN_MAX + 1], customer[INV_ID_LEN_MAX + 1];
    if (type == INV_REC_RESERVED) {
        journal_reserved jr;
        if (decode_reserved(s->e, r, &jr, order, customer) != 0)
            return refuse(err, errlen, "malformed or names an undeclared SKU/node", type);
        return resv_replay_reserved(s, &jr, err, errlen);
    }
    size_t len = get_str(r, order);
    uint64_t at = get_u64(r);
    if (r->bad || len == 0) return refuse(err, errlen, "malformed", type);
    if (type == INV_REC_EXTENDED) return resv_replay_extended(s, order, len, at, err, errlen);
    inv_resv_state state = type == INV_REC_COMMITTED  ? INV_RESV_COMMITTED
                           : type == INV_REC_RELEASED ? INV_RESV_RELEASED
                                                      : INV_RESV_EXPIRED;
    return resv_replay_finished(s, order, len, state, at, err, errlen);
}

/* Snapshot-only records that set absolute counters and per-shard sets. */
static int replay_absolute(inv_shard *s, inv_rec_type type, rbuf *r) {
    inv_engine *e = s->e;
    if (type == INV_REC_LIMIT_COUNTER) {
        uint64_t key = get_u64(r);
        int64_t held = (int64_t)get_u64(r);
        if (r->bad || key == 0 || held < 0) return -EINVAL;
        return limit_counter_add(e, key, held);
    }
    if (type == INV_REC_NODE_CAPACITY) {
        uint32_t node = get_u32(r);
        uint64_t word = get_u64(r);
        if (r->bad || !node_known(e, node)) return -EINVAL;
        node_capacity_word_set(e, node, word);
        return 0;
    }
    uint64_t k1 = get_u64(r), k2 = get_u64(r), content = get_u64(r), at = get_u64(r);
    int64_t value = (int64_t)get_u64(r);
    if (r->bad) return -EINVAL;
    recent_set *set = type == INV_REC_TOMBSTONE ? &s->tombstones : &s->refs;
    if (type == INV_REC_TOMBSTONE && (value <= INV_RESV_HELD || value > INV_RESV_EXPIRED))
        return -EINVAL;
    if (recent_find(set, k1, k2) != NULL) return 0;
    recent_entry *en = recent_add(set, k1, k2, at);
    en->content_hash = content;
    en->value = value;
    return 0;
}

static int replay_catalog(inv_engine *e, inv_rec_type type, rbuf *r) {
    switch (type) {
    case INV_REC_SKU_NAME:
    case INV_REC_NODE_NAME: return replay_names(e, type, r);
    case INV_REC_NODE_UPSERT: return replay_node_upsert(e, r);
    case INV_REC_NODE_STATUS: {
        uint32_t node = get_u32(r);
        uint8_t status = get_u8(r);
        if (r->bad || !node_known(e, node) || status > INV_NODE_CLOSED) return -EINVAL;
        atomic_store(&e->nodes[node].status, status);
        return 0;
    }
    case INV_REC_SKU_LIMIT: {
        uint32_t sku = get_u32(r), limit = get_u32(r);
        if (r->bad || !sku_known(e, sku)) return -EINVAL;
        atomic_store(&sku_at(e, sku)->limit, limit);
        return 0;
    }
    default: return replay_cell_record(e, type, r);
    }
}

int inv_engine_replay(inv_engine *e, uint32_t shard, inv_rec_type type, const void *body,
                      uint32_t len, char *err, size_t errlen) {
    if (shard >= e->shard_count) return refuse(err, errlen, "shard out of range", type);
    if (body == NULL && len > 0) return refuse(err, errlen, "no body", type);
    inv_shard *s = e->shards[shard];
    rbuf r = {.b = body, .n = len, .at = 0, .bad = false};
    e->replaying = true;
    int rc;
    switch (type) {
    case INV_REC_SKU_NAME: case INV_REC_NODE_NAME: case INV_REC_NODE_UPSERT:
    case INV_REC_NODE_STATUS: case INV_REC_SKU_LIMIT: case INV_REC_CELL_SAFETY:
    case INV_REC_CELL_STATE:
        rc = replay_catalog(e, type, &r);
        break;
    case INV_REC_STOCK_DELTA: rc = replay_stock_delta(s, &r); break;
    case INV_REC_RESERVED: case INV_REC_COMMITTED: case INV_REC_RELEASED:
    case INV_REC_EXPIRED: case INV_REC_EXTENDED:
        rc = replay_order(s, type, &r, err, errlen); /* refuses with its own reason */
        e->replaying = false;
        if (rc == 0 && r.at != r.n) return refuse(err, errlen, "trailing bytes", type);
        return rc;
    case INV_REC_LIMIT_COUNTER: case INV_REC_NODE_CAPACITY: case INV_REC_TOMBSTONE:
    case INV_REC_REF_SEEN:
        rc = replay_absolute(s, type, &r);
        break;
    default:
        e->replaying = false;
        return refuse(err, errlen, "unknown record type", type);
    }
    e->replaying = false;
    if (rc == 0 && r.at != r.n) rc = -EINVAL; /* trailing bytes: not what we wrote */
    if (rc != 0) return refuse(err, errlen, "malformed or inconsistent with earlier records", type);
    return 0;
}

void inv_engine_replay_prefetch(const inv_engine *e, uint32_t shard, inv_rec_type type,
                                const void *body, uint32_t len) {
    if (shard >= e->shard_count || body == NULL) return;
    if (type != INV_REC_RESERVED && type != INV_REC_COMMITTED && type != INV_REC_RELEASED &&
        type != INV_REC_EXPIRED && type != INV_REC_EXTENDED)
        return;
    rbuf r = {.b = body, .n = len, .at = 0, .bad = false};
    char order[INV_ID_LEN_MAX + 1];
    size_t n = get_str(&r, order); /* every order record starts with its order id */
    if (n > 0) resv_prefetch(e->shards[shard], order, n);
}

uint32_t inv_engine_recovered(inv_engine *e) {
    /* Sold-out flags are derived state: recompute by clearing (the first reserve
     * that finds nothing sets them again). */
    uint32_t skus = atomic_load(&e->sku_alloc);
    for (uint32_t k = 0; k < skus && k < e->cfg.skus_max; k++) atomic_store(&e->skus[k].sold_out, 0);
    catalog_publish_if_dirty(e, true);
    return inv_engine_expire(e);
}

/* ====================================================================================
 * Snapshot
 * ==================================================================================== */

typedef struct snap_ctx {
    inv_snapshot_emit_fn emit;
    void *ctx;
    uint32_t shard;
} snap_ctx;

static int snap_put(snap_ctx *c, inv_rec_type type, const wbuf *w) {
    return c->emit(c->ctx, c->shard, type, w->b, w->n);
}

static int snapshot_catalog(const inv_engine *e, snap_ctx *c) {
    int rc = 0;
    uint32_t nodes = atomic_load(&((inv_engine *)e)->node_count);
    for (uint32_t n = 0; rc == 0 && n < nodes; n++) {
        wbuf w = {.n = 0};
        if (e->nodes[n].id_len == 0) continue; /* recovery gap, never named */
        encode_node(&w, &e->nodes[n], n);
        rc = snap_put(c, INV_REC_NODE_UPSERT, &w);
        uint64_t cap = atomic_load(&e->nodes[n].capacity_used);
        if (rc != 0 || cap == 0) continue;
        w.n = 0;
        put_u32(&w, n);
        put_u64(&w, cap);
        rc = snap_put(c, INV_REC_NODE_CAPACITY, &w);
    }
    uint32_t skus = atomic_load(&((inv_engine *)e)->sku_alloc);
    for (uint32_t k = 0; rc == 0 && k < skus && k < e->cfg.skus_max; k++) {
        const sku_rec *s = &e->skus[k];
        uint32_t found = INV_NONE;
        if (!atomic_load(&((sku_rec *)s)->published) || sku_lookup(e, s->name, s->name_len, &found) != 0 || found != k)
            continue; /* lost an intern race: never used */
        wbuf w = {.n = 0};
        put_u32(&w, k);
        put_str(&w, s->name, s->name_len);
        rc = snap_put(c, INV_REC_SKU_NAME, &w);
        uint32_t limit = atomic_load(&((sku_rec *)s)->limit);
        if (rc != 0 || limit == 0) continue;
        w.n = 0;
        put_u32(&w, k);
        put_u32(&w, limit);
        rc = snap_put(c, INV_REC_SKU_LIMIT, &w);
    }
    return rc;
}

static int snapshot_cells(const inv_engine *e, snap_ctx *c) {
    int rc = 0;
    uint32_t cells = atomic_load(&((inv_engine *)e)->cell_alloc);
    for (uint32_t i = 0; rc == 0 && i < cells && i < e->cfg.cells_max; i++) {
        const stock_cell *cell = &e->cells[i];
        if (stock_find(e, cell->sku, cell->node) != i) continue; /* lost a race */
        uint64_t word = atomic_load(&((stock_cell *)cell)->word);
        wbuf w = {.n = 0};
        put_u32(&w, cell->sku);
        put_u32(&w, cell->node);
        put_u32(&w, (uint32_t)stock_word_on_hand(word));
        put_u32(&w, stock_word_reserved(word));
        put_u32(&w, (uint32_t)atomic_load(&((stock_cell *)cell)->safety));
        rc = snap_put(c, INV_REC_CELL_STATE, &w);
    }
    for (uint32_t i = 0; rc == 0 && i <= e->limits_mask; i++) {
        uint64_t key = atomic_load(&e->limits[i].key);
        int64_t held = atomic_load(&e->limits[i].held);
        if (key == 0 || held == 0) continue;
        wbuf w = {.n = 0};
        put_u64(&w, key);
        put_u64(&w, (uint64_t)held);
        rc = snap_put(c, INV_REC_LIMIT_COUNTER, &w);
    }
    return rc;
}

static int snap_visit_reserved(void *ctx, const journal_reserved *r) {
    wbuf w = {.n = 0};
    journal_reserved copy = *r;
    copy.absolute = true;
    encode_reserved(&w, &copy);
    return snap_put(ctx, INV_REC_RESERVED, &w);
}

static int snapshot_recent(snap_ctx *c, const recent_set *set, inv_rec_type type) {
    int rc = 0;
    for (uint64_t i = set->head; rc == 0 && i < set->tail; i++) {
        const recent_entry *en = &set->ring[i % set->capacity];
        wbuf w = {.n = 0};
        put_u64(&w, en->key1);
        put_u64(&w, en->key2);
        put_u64(&w, en->content_hash);
        put_u64(&w, en->at_ms);
        put_u64(&w, (uint64_t)en->value);
        rc = snap_put(c, type, &w);
    }
    return rc;
}

int inv_engine_snapshot(const inv_engine *e, inv_snapshot_emit_fn emit, void *ctx) {
    assert(emit != NULL);
    snap_ctx c = {.emit = emit, .ctx = ctx, .shard = 0};
    int rc = snapshot_catalog(e, &c);
    if (rc == 0) rc = snapshot_cells(e, &c);
    for (uint32_t i = 0; rc == 0 && i < e->shard_count; i++) {
        const inv_shard *s = e->shards[i];
        c.shard = i;
        rc = resv_snapshot_each(s, snap_visit_reserved, &c);
        if (rc == 0) rc = snapshot_recent(&c, &s->tombstones, INV_REC_TOMBSTONE);
        if (rc == 0) rc = snapshot_recent(&c, &s->refs, INV_REC_REF_SEEN);
    }
    return rc;
}
