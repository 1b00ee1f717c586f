/*
 * engine_int.h — the engine's shared internal structures (private to engine/src).
 *
 * Shared state and who may write it:
 *   nodes      created and changed only by the catalog owner (shard 0); fields other
 *              shards read are atomics, everything routing needs about a node's place
 *              and kind comes from the immutable geo snapshot (geo.h).
 *   skus       interned lock-free by any shard (CAS into an insert-only hash table);
 *              a SKU is never removed, so an index stays valid forever.
 *   cells      one per (sku, node), created lock-free by any shard, never removed.
 *              on_hand and reserved share one 64-bit word so that "available ≥ qty →
 *              reserved += qty" is a single CAS (DESIGN.md §5).
 *   limits     (customer, SKU) purchase counters: insert-only table of atomics.
 *   geo        the routing index, rebuilt by shard 0 when nodes change and published
 *              through an atomic pointer; old snapshots are freed once every shard has
 *              passed a quiescent point (QSBR, catalog.c).
 * Per-shard state (reservations, timers, tombstones, ref_ids) lives in `inv_shard`
 * and is touched by that shard's thread only.
 */
#ifndef INV_ENGINE_INT_H
#define INV_ENGINE_INT_H

#include <assert.h>
#include <math.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "inv_engine.h"

#define INV_NONE UINT32_MAX
#define INV_CACHE_LINE 64

/* Business day for node capacity counters: days start at 00:00 China Standard Time
 * (UTC+8), when the daily pick-and-pack budget of a warehouse or store resets. */
#define INV_DAY_MS (24ull * 3600ull * 1000ull)
#define INV_DAY_OFFSET_MS (8ull * 3600ull * 1000ull)

/* ------------------------------------------------------------------------------------
 * Hashing (hash.c).
 * ------------------------------------------------------------------------------------ */
uint64_t inv_hash64(const void *data, size_t len, uint64_t seed);
/* Mix a 64-bit integer into a well-spread 64-bit hash (integer keys). */
static inline uint64_t inv_mix64(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}
/* Bounded strlen: returns INV_ID_LEN_MAX + 1 when longer than `max`. */
size_t inv_strnlen_bounded(const char *s, size_t max);

/* ------------------------------------------------------------------------------------
 * Nodes (catalog.c).
 * ------------------------------------------------------------------------------------ */
typedef struct node_rec {
    /* Shared, atomic. */
    _Atomic uint64_t capacity_used;    /* (day << 32) | orders allocated that day */
    _Atomic uint32_t capacity_per_day; /* 0 = unlimited */
    _Atomic uint8_t status;            /* inv_node_status */
    /* Immutable once published. */
    uint8_t id_len;
    char id[INV_ID_LEN_MAX + 1];
    /* Catalog owner only (shard 0 / direct mode); routing reads the geo snapshot. */
    uint8_t kind;
    bool ships, pickup;
    uint32_t priority;
    double lat, lon;
    char region[INV_REGION_LEN_MAX + 1];
} __attribute__((aligned(INV_CACHE_LINE))) node_rec;

/* Orders node `n` may still be allocated on business day `day` (UINT32_MAX:
 * unlimited). Only nodes with a capacity_per_day are counted, so that an unlimited
 * warehouse's line is never written on the reserve path. */
uint32_t node_capacity_left(const inv_engine *e, uint32_t n, uint64_t day);
/* Count one order against node `n` on `day`.
 * @return NODE_CAP_COUNTED, NODE_CAP_UNLIMITED (nothing counted), or NODE_CAP_FULL. */
#define NODE_CAP_COUNTED 1
#define NODE_CAP_UNLIMITED 0
#define NODE_CAP_FULL (-1)
int node_capacity_take(inv_engine *e, uint32_t n, uint64_t day);
/* Give back one order that was counted on `day` (nothing if the counter has moved on
 * to a later day). */
void node_capacity_give(inv_engine *e, uint32_t n, uint64_t day);
static inline uint64_t inv_day_of(uint64_t now_ms) {
    return (now_ms + INV_DAY_OFFSET_MS) / INV_DAY_MS;
}

/* ------------------------------------------------------------------------------------
 * SKUs (catalog.c).
 * ------------------------------------------------------------------------------------ */
typedef struct sku_rec {
    _Atomic uint32_t cell_head;   /* first cell of this SKU (prepend-only list) */
    _Atomic uint32_t cell_count;  /* cells in the list */
    _Atomic uint32_t limit;       /* per-customer purchase limit; 0 = none */
    _Atomic uint32_t published;   /* 1 once name is valid */
    /* Sold-out flag, so that a sold-out SKU answers with one read of a line that is
     * shared, not bounced (DESIGN.md §3). Protocol (all seq_cst): a reserve that found
     * no available unit in any cell sets the flag, then re-reads every cell and clears
     * it if any has stock; whoever raises a cell's availability re-reads the flag
     * afterwards and clears it. Either the re-read sees the new stock or the raiser sees
     * the flag, so the flag never stays set over available stock. */
    _Atomic uint32_t sold_out;
    uint64_t name_hash;
    uint8_t name_len;
    char name[INV_ID_LEN_MAX + 1];
} sku_rec;

/* Find or create a SKU. @return 0, -ENOSPC (table full). */
int sku_intern(inv_engine *e, const char *name, size_t len, uint32_t *out_sku);
/* Find only. @return 0 or -ENOENT. */
int sku_lookup(const inv_engine *e, const char *name, size_t len, uint32_t *out_sku);
/* Availability of some cell of `sku` went up (call after the cell changed). */
void sku_stock_increased(inv_engine *e, uint32_t sku);
/* Every cell of `sku` was seen with nothing available: raise the sold-out flag (and
 * lower it again if a re-check finds stock). */
void sku_mark_sold_out(inv_engine *e, uint32_t sku);
static inline bool sku_is_sold_out(const inv_engine *e, uint32_t sku);

/* ------------------------------------------------------------------------------------
 * Stock cells (stock.c).
 * ------------------------------------------------------------------------------------ */
typedef struct stock_cell {
    /* low 32 bits: on_hand (signed: a commit after a set_to below reserved can take it
     * below 0, showing units promised but not on the shelf); high 32 bits: reserved. */
    _Atomic uint64_t word;
    _Atomic int32_t safety;
    uint32_t node;
    uint32_t sku;
    uint32_t next_in_sku;         /* written before publication, immutable after */
} stock_cell;

_Static_assert(sizeof(stock_cell) == 24, "a stock cell is 24 bytes (DESIGN.md §9)");

static inline int32_t stock_word_on_hand(uint64_t w) { return (int32_t)(uint32_t)w; }
static inline uint32_t stock_word_reserved(uint64_t w) { return (uint32_t)(w >> 32); }
static inline uint64_t stock_word(int32_t on_hand, uint32_t reserved) {
    return ((uint64_t)reserved << 32) | (uint32_t)on_hand;
}
/* available = on_hand − reserved − safety, read with one load of the word. */
static inline int64_t stock_cell_available(const stock_cell *c) {
    uint64_t w = atomic_load_explicit(&((stock_cell *)c)->word, memory_order_acquire);
    int32_t safety = atomic_load_explicit(&((stock_cell *)c)->safety, memory_order_relaxed);
    return (int64_t)stock_word_on_hand(w) - (int64_t)stock_word_reserved(w) - safety;
}

int stock_open(inv_engine *e);
void stock_close(inv_engine *e);
/* Per-node Bloom filter of the SKUs held there (512 bits = one cache line per node,
 * one bit per SKU): routing walks a destination's nearest nodes for a wide SKU, and a
 * clear bit tells it "no cell here" without probing the (much larger) cell index.
 * Bits are only ever set (cells are never removed), before the cell is published. */
#define NODE_SKU_BLOOM_WORDS 8u
static inline uint32_t sku_bloom_bit(uint32_t sku) {
    return (uint32_t)(inv_mix64(sku) & (NODE_SKU_BLOOM_WORDS * 64u - 1u));
}
static inline bool node_may_hold(const inv_engine *e, uint32_t node, uint32_t sku);

/* Find the cell of (sku, node): its index or INV_NONE. */
/* The cell-index slot where the probe for (sku, node) starts (callers prefetch it). */
static inline uint32_t stock_index_slot(const inv_engine *e, uint32_t sku, uint32_t node);
uint32_t stock_find(const inv_engine *e, uint32_t sku, uint32_t node);
/* Find or create. @return 0, -ENOSPC (cell table full). */
int stock_find_or_create(inv_engine *e, uint32_t sku, uint32_t node, uint32_t *out_cell);
/* "available ≥ qty → reserved += qty" as one CAS loop. false: not enough, untouched. */
bool stock_take(inv_engine *e, uint32_t cell, uint32_t qty);
/* reserved −= qty (release, expiry, rollback of a take). */
void stock_untake(inv_engine *e, uint32_t cell, uint32_t qty);
/* Commit: on_hand −= qty and reserved −= qty in one step. */
void stock_commit(inv_engine *e, uint32_t cell, uint32_t qty);
/* on_hand += delta, or on_hand = set_to; on_hand never below 0 (-ERANGE, untouched).
 * `hold`: a rise of on_hand also raises reserved by as much in the same step, so the
 * new units are not available until the caller lifts the hold (stock_untake, once the
 * change's record is durable: credit.c); -EAGAIN if reserved would not fit.
 * @param[out] applied  the change of on_hand actually made. */
int stock_adjust(inv_engine *e, uint32_t cell, bool has_set_to, int64_t delta,
                 int64_t set_to, bool hold, int64_t *applied);
/* Set a cell's safety stock (clears the SKU's sold-out flag when it went down). */
void stock_safety_set(inv_engine *e, uint32_t cell, int32_t safety);

static inline stock_cell *cell_at(const inv_engine *e, uint32_t cell);
static inline const node_rec *node_at(const inv_engine *e, uint32_t node);
static inline sku_rec *sku_at(const inv_engine *e, uint32_t sku);

/* ------------------------------------------------------------------------------------
 * Purchase-limit counters (catalog.c).
 * ------------------------------------------------------------------------------------ */
typedef struct limit_slot {
    _Atomic uint64_t key;         /* hash(customer) mixed with sku; 0 = empty */
    _Atomic int64_t held;         /* units HELD or COMMITTED */
} limit_slot;

/* Add `qty` to customer's count on `sku` if it stays ≤ limit.
 * @return 0, -EDQUOT (would exceed), -ENOSPC (counter table full). */
int limit_take(inv_engine *e, uint64_t customer_hash, uint32_t sku, uint32_t qty,
               uint32_t limit);
void limit_give(inv_engine *e, uint64_t customer_hash, uint32_t sku, uint32_t qty);
/* limit_give by counter key (limit_key_of). */
void limit_give_key(inv_engine *e, uint64_t key, uint32_t qty);
/* The counter key of (customer, sku). */
uint64_t limit_key_of(uint64_t customer_hash, uint32_t sku);
/* Units held by customer on sku (tests, GetReservation). */
int64_t limit_held(const inv_engine *e, uint64_t customer_hash, uint32_t sku);

/* ------------------------------------------------------------------------------------
 * The engine.
 * ------------------------------------------------------------------------------------ */
struct geo_snapshot;

struct inv_engine {
    inv_engine_config cfg;

    node_rec *nodes;
    _Atomic uint32_t node_count;      /* published nodes: indices 0..node_count-1 */
    _Atomic uint32_t *node_index;     /* hash(id) → node, INV_NONE empty */
    uint32_t node_index_mask;

    sku_rec *skus;
    _Atomic uint32_t sku_alloc;       /* records handed out (some lost races) */
    _Atomic uint32_t sku_count;       /* SKUs published */
    _Atomic uint32_t *sku_index;
    uint32_t sku_index_mask;

    stock_cell *cells;
    _Atomic uint64_t *node_sku_bloom; /* NODE_SKU_BLOOM_WORDS per node */
    _Atomic uint32_t cell_alloc;
    _Atomic uint32_t cell_count;
    _Atomic uint32_t *cell_index;     /* hash(sku, node) → cell */
    uint32_t cell_index_mask;

    limit_slot *limits;
    uint32_t limits_mask;
    _Atomic uint32_t limits_used;

    /* Routing index (catalog.c publishes, QSBR frees). */
    _Atomic(struct geo_snapshot *) geo;
    _Atomic uint64_t geo_epoch;       /* bumped on every publish */
    bool catalog_dirty;               /* catalog owner only */
    struct { struct geo_snapshot *snap; uint64_t epoch; } retired[INV_GEO_RETIRED_MAX];
    uint32_t retired_count;           /* catalog owner only */

    struct inv_shard **shards;
    uint32_t shard_count;
    bool replaying;                   /* recovery: apply records, log nothing */
};

static inline uint32_t stock_index_slot(const inv_engine *e, uint32_t sku, uint32_t node) {
    return (uint32_t)inv_mix64(((uint64_t)sku << 32) | node) & e->cell_index_mask;
}

static inline stock_cell *cell_at(const inv_engine *e, uint32_t cell) {
    assert(cell < e->cfg.cells_max);
    return &e->cells[cell];
}
static inline const node_rec *node_at(const inv_engine *e, uint32_t node) {
    assert(node < e->cfg.nodes_max);
    return &e->nodes[node];
}
static inline sku_rec *sku_at(const inv_engine *e, uint32_t sku) {
    assert(sku < e->cfg.skus_max);
    return &e->skus[sku];
}
static inline bool node_may_hold(const inv_engine *e, uint32_t node, uint32_t sku) {
    uint32_t bit = sku_bloom_bit(sku);
    uint64_t w = atomic_load_explicit(&e->node_sku_bloom[node * NODE_SKU_BLOOM_WORDS + (bit >> 6)],
                                      memory_order_acquire);
    return (w >> (bit & 63u)) & 1u;
}
static inline bool sku_is_sold_out(const inv_engine *e, uint32_t sku) {
    return atomic_load_explicit(&sku_at(e, sku)->sold_out, memory_order_relaxed) != 0;
}

/* Catalog (catalog.c). */
int catalog_open(inv_engine *e);
void catalog_close(inv_engine *e);
/* Rebuild and publish the geo snapshot if nodes changed (catalog owner). `direct`:
 * no shard thread runs, so the old snapshot is freed at once; else it is retired. */
void catalog_publish_if_dirty(inv_engine *e, bool direct);
/* Free retired snapshots every shard has moved past (catalog owner). */
void catalog_reclaim(inv_engine *e);
/* A shard's quiescent point: it holds no snapshot pointer now (shard.c). */
uint64_t shard_seen_epoch(const struct inv_shard *s);
/* Current snapshot for routing; valid until the calling shard's next quiescent point. */
static inline const struct geo_snapshot *catalog_geo(const inv_engine *e) {
    return atomic_load_explicit(&((inv_engine *)e)->geo, memory_order_acquire);
}
int node_lookup(const inv_engine *e, const char *id, size_t len, uint32_t *out_node);
/* Recovery: make node `node` exist with this id (a CLOSED placeholder until its
 * NODE_UPSERT is replayed). @return 0, -EINVAL (index taken by another id / too big). */
int node_define(inv_engine *e, uint32_t node, const char *id, size_t len);
/* Recovery: set node `node`'s fields from a spec (the node exists). */
void node_fields_apply(inv_engine *e, uint32_t node, const inv_node_spec *spec);
/* Recovery: make SKU `sku` exist with this name. @return 0 or -EINVAL. */
int sku_define(inv_engine *e, uint32_t sku, const char *name, size_t len);
/* Recovery: count one order on `day` as node_capacity_take did when it returned
 * NODE_CAP_COUNTED (whatever capacity_per_day says now, so replay order is free). */
void node_capacity_replay_take(inv_engine *e, uint32_t n, uint64_t day);
/* Recovery / snapshots: the raw capacity word, and setting it. */
void node_capacity_word_set(inv_engine *e, uint32_t n, uint64_t word);
/* Recovery: add `held` to the counter with this key (snapshot LIMIT_COUNTER). */
int limit_counter_add(inv_engine *e, uint64_t key, int64_t held);
/* Recovery: on_hand += delta with no range check; reserved += reserved_delta. */
void stock_force(inv_engine *e, uint32_t cell, int64_t on_hand_delta, int64_t reserved_delta);

/* Catalog ops (catalog.c): each fills op->status/message/out. */
void op_upsert_node(inv_engine *e, inv_op *op);
void op_set_node_status(inv_engine *e, inv_op *op);
void op_list_nodes(inv_engine *e, inv_op *op);
/* `apply` false: check and answer only; the caller stores the limit later (credit.c). */
void op_set_limit(inv_engine *e, inv_op *op, bool apply);

/* Stock ops (stock.c). `defer`: what the op gives back waits for its record (credit.c)
 * — SetSafety stores nothing, Adjust/Return hold a rise (stock_adjust) — and the answer
 * shows the cell as it will be once applied. *out_cell: the cell (when INV_OK). */
void op_set_safety(inv_engine *e, inv_op *op, bool defer, uint32_t *out_cell);
void op_get_availability(inv_engine *e, inv_op *op);
/* Adjust/Return body once dedupe is settled (the shard layer handles ref_id). */
void op_adjust_apply(inv_engine *e, inv_op *op, bool defer, uint32_t *out_cell);

/* Status helper: set op->status and a printf-style message. Returns the status. */
inv_status op_fail(inv_op *op, inv_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static inline void op_ok(inv_op *op) {
    op->status = INV_OK;
    op->message[0] = '\0';
}

/* Wall clock of the engine (config clock or CLOCK_REALTIME). */
uint64_t engine_now_ms(const inv_engine *e);

/* Check a caller id: non-NULL, 1..INV_ID_LEN_MAX bytes. On failure fills op. */
bool id_check(inv_op *op, const char *what, const char *id, size_t *out_len);

/* A caller's point is finite WGS84 degrees (|lat| ≤ 90, |lon| ≤ 180). */
static inline bool point_ok(double lat, double lon) {
    return isfinite(lat) && isfinite(lon) && fabs(lat) <= 90.0 && fabs(lon) <= 180.0;
}

#endif /* INV_ENGINE_INT_H */
