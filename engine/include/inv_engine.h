/*
 * inv_engine.h — the invd engine: stock, reservations, routing. No I/O.
 *
 * The engine holds stock for every (SKU, node) cell and the reservations made against
 * it (DESIGN.md §2–§5). Callers describe every request as an `inv_op`: inputs in
 * `op->in`, outputs written to `op->status`, `op->message` and `op->out`.
 *
 * Execution model
 * ---------------
 * The engine is split into N shards, one per thread. Every op has an owner shard:
 *   - Reserve, Commit, Release, Extend, GetReservation: hash(order_id) mod N;
 *   - Adjust, Return with a ref_id: hash(ref_id) mod N (the shard remembers the ref_id);
 *   - UpsertNode, SetNodeStatus, ListNodes: shard 0 (the catalog owner);
 *   - SetLimit, SetSafety: hash(sku) mod N (absolute settings of one SKU are always
 *     made, and logged, by the same shard);
 *   - GetAvailability and Adjust/Return without a ref_id run on whichever shard
 *     receives them: those touch only atomics (an Adjust is logged as the delta it
 *     made).
 * A reservation therefore has one writer for its whole life. Stock cells, purchase-limit
 * counters and node capacity counters are shared and changed only with atomics.
 *
 * Two ways to drive it:
 *   - threaded: each shard thread calls inv_shard_submit() for the ops it receives and
 *     inv_shard_poll() once per loop pass. An op owned by another shard is forwarded
 *     over a lock-free SPSC ring; its completion comes back through the poll callback of
 *     the shard that submitted it.
 *   - direct: with no shard threads running, inv_engine_execute() runs any op on its
 *     owner at once (tests, tools, recovery).
 *
 * Strings in inputs are NUL-terminated and must stay valid until the op completes.
 * Bad input never aborts: it gives INV_INVALID_ARGUMENT (or NOT_FOUND) with a message
 * and changes nothing.
 */
#ifndef INV_ENGINE_H
#define INV_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "inv_constants.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------------------
 * Status codes (the wire protocol uses the same numbers).
 * ------------------------------------------------------------------------------------ */
typedef enum inv_status {
    INV_OK = 0,
    INV_INVALID_ARGUMENT = 1,   /* malformed or out-of-range input; nothing changed */
    INV_NOT_FOUND = 2,          /* unknown order_id, node or SKU */
    INV_CONFLICT = 3,           /* order_id reused with different content */
    INV_INSUFFICIENT_STOCK = 4, /* see out.reserve.shortfall */
    INV_LIMIT_EXCEEDED = 5,     /* per-customer purchase limit */
    INV_NO_ROUTE = 6,           /* stock exists but no allowed cover (range, parcels) */
    INV_EXPIRED = 7,            /* the reservation's TTL passed */
    INV_ALREADY_RELEASED = 8,   /* commit of a released order */
    INV_ALREADY_COMMITTED = 9,  /* release of a committed order (use Return) */
    INV_DUPLICATE_REF = 10,     /* ref_id seen before: a success, nothing re-applied */
    INV_RESOURCE_EXHAUSTED = 11,/* a table sized at start-up is full */
    INV_BUSY = 12,              /* forwarding ring full: poll, then submit again */
    INV_UNAVAILABLE = 13,       /* not accepting writes (replica, stopping, failed) */
    INV_INTERNAL = 14,
} inv_status;
#define INV_STATUS_COUNT 15

/* Stable upper-case name, e.g. "INSUFFICIENT_STOCK". */
const char *inv_status_name(inv_status s);

/* ------------------------------------------------------------------------------------
 * Catalog vocabulary.
 * ------------------------------------------------------------------------------------ */
typedef enum inv_node_kind {
    INV_NODE_WAREHOUSE = 0,
    INV_NODE_STORE = 1,
    INV_NODE_LOCKER = 2,
} inv_node_kind;
#define INV_NODE_KIND_COUNT 3

typedef enum inv_node_status {
    INV_NODE_ACTIVE = 0,
    INV_NODE_PAUSED = 1,
    INV_NODE_CLOSED = 2,
} inv_node_status;

typedef enum inv_route_policy {
    INV_ROUTE_NEAREST = 0,          /* fewest parcels, then lowest cost */
    INV_ROUTE_SINGLE_NODE_ONLY = 1, /* one parcel or fail (NO_ROUTE) */
    INV_ROUTE_PRIORITY = 2,         /* static ranking by node priority, then cost */
    INV_ROUTE_PICKUP = 3,           /* only dest.pickup_node_id; alternatives if short */
} inv_route_policy;

typedef enum inv_resv_state {
    INV_RESV_HELD = 0,
    INV_RESV_COMMITTED = 1,
    INV_RESV_RELEASED = 2,
    INV_RESV_EXPIRED = 3,
} inv_resv_state;

const char *inv_node_kind_name(inv_node_kind k);
const char *inv_node_status_name(inv_node_status s);
const char *inv_resv_state_name(inv_resv_state s);

/* Cost of one parcel = great-circle km × weight of the shipping node's kind
 * + priority × priority_cost_km (a tie-break). */
typedef struct inv_route_weights {
    double kind_weight[INV_NODE_KIND_COUNT];
    double priority_cost_km;
} inv_route_weights;

/* ------------------------------------------------------------------------------------
 * Engine configuration. Every table is allocated once, in inv_engine_open.
 * Zero fields take the defaults of inv_engine_config_default().
 * ------------------------------------------------------------------------------------ */
typedef uint64_t (*inv_clock_fn)(void *ctx); /* wall-clock milliseconds */

/* ------------------------------------------------------------------------------------
 * Journal: where the engine sends its outcome records (persist/ writes them to the
 * shard's write-ahead log). A record describes an outcome — a reservation created with
 * its allocation, committed, released, expired, extended; a stock delta; a catalog
 * change — never a request to re-run (DESIGN.md §6). Bodies are encoded by the engine
 * (engine/src/journal.c) and opaque to the journal. Records of different shards
 * commute: stock changes are deltas, and every absolute setting (node, status, limit,
 * safety) is always made by the same shard.
 * ------------------------------------------------------------------------------------ */
typedef enum inv_rec_type {
    INV_REC_SKU_NAME = 1,   /* declares SKU index ↔ name before this log first uses it */
    INV_REC_NODE_NAME = 2,  /* declares node index ↔ id likewise */
    INV_REC_NODE_UPSERT = 3,
    INV_REC_NODE_STATUS = 4,
    INV_REC_SKU_LIMIT = 5,
    INV_REC_CELL_SAFETY = 6,
    INV_REC_STOCK_DELTA = 7, /* on_hand += delta; with its ref_id hashes when deduped */
    INV_REC_RESERVED = 8,
    INV_REC_COMMITTED = 9,
    INV_REC_RELEASED = 10,
    INV_REC_EXPIRED = 11,
    INV_REC_EXTENDED = 12,
    /* Snapshot-only records: absolute state. */
    INV_REC_CELL_STATE = 13,
    INV_REC_LIMIT_COUNTER = 14,
    INV_REC_NODE_CAPACITY = 15,
    INV_REC_TOMBSTONE = 16,
    INV_REC_REF_SEEN = 17,
} inv_rec_type;
#define INV_REC_TYPE_MAX 17
/* Largest record body the engine produces (a RESERVED with every id at its maximum). */
#define INV_REC_BODY_MAX 2048u

typedef struct inv_journal {
    void *ctx;
    /* Append one record to shard `shard`'s log. Called on that shard's thread (or in
     * direct mode), in the order the changes happened. Returns the record's LSN (> 0).
     * The journal may not fail here: a write error stops the process (DESIGN.md §6). */
    uint64_t (*append)(void *ctx, uint32_t shard, inv_rec_type type, const void *body,
                       uint32_t len);
    /* The last LSN of shard `shard`'s log that is durable (any thread). When set, what
     * a change gives back to other shards — units a release, expiry, restock or return
     * frees, purchase-limit and capacity counts, a new safety stock or purchase limit —
     * is applied only once the change's own record is durable, so a crash can never
     * recover a record that used units whose release was lost (inv_shard_credit_durable).
     * NULL: applied at once (a journal that is not a crash-safe log). */
    uint64_t (*durable_lsn)(void *ctx, uint32_t shard);
} inv_journal;

typedef struct inv_engine_config {
    uint32_t shards;                  /* shard count, 1..INV_SHARDS_MAX */
    uint32_t nodes_max;               /* fulfillment nodes */
    uint32_t skus_max;                /* distinct SKUs */
    uint32_t cells_max;               /* (sku, node) stock cells */
    uint32_t reservations_per_shard_max; /* live (HELD) reservations per shard */
    uint32_t tombstones_per_shard_max;   /* finished reservations remembered per shard */
    uint32_t refs_per_shard_max;         /* Adjust/Return ref_ids remembered per shard */
    uint32_t limit_counters_max;      /* (customer, limited SKU) counters, never reclaimed:
                                         committed units count for good */
    uint64_t idempotency_window_ms;   /* how long tombstones and ref_ids are kept */
    inv_route_weights weights;
    inv_clock_fn clock;               /* NULL: CLOCK_REALTIME */
    void *clock_ctx;
    inv_journal journal;              /* append == NULL: nothing is logged */
    bool prefault;                    /* map every table's pages at open, so no page fault
                                         (and, with a log's io_uring workers sharing the
                                         address space, no TLB-shootdown IPI) lands in the
                                         middle of a sale; costs the tables' configured
                                         size in RSS at once */
} inv_engine_config;

/* Fill `cfg` with defaults sized for a test or a small deployment. */
void inv_engine_config_default(inv_engine_config *cfg);

/* ------------------------------------------------------------------------------------
 * Op inputs.
 * ------------------------------------------------------------------------------------ */
typedef struct inv_line {
    const char *sku;
    uint32_t qty; /* 1..INV_QTY_MAX */
} inv_line;

typedef struct inv_dest {
    bool has_point;             /* ship to (lat, lon) */
    double lat, lon;            /* WGS84 degrees */
    const char *pickup_node_id; /* PICKUP policy: where the customer collects */
} inv_dest;

typedef struct inv_reserve_args {
    const char *order_id;    /* idempotency key, owner shard = hash mod N */
    const char *customer_id; /* purchase limits are counted per customer */
    inv_dest dest;
    const inv_line *lines;
    uint32_t line_count;     /* 1..INV_LINES_MAX, SKUs distinct */
    uint64_t ttl_ms;         /* 1..INV_TTL_MS_MAX */
    inv_route_policy policy;
    uint32_t max_parcels;    /* 0: INV_PARCELS_DEFAULT; clamped to INV_PARCELS_MAX */
    double max_distance_km;  /* 0: unlimited */
} inv_reserve_args;

typedef struct inv_adjust_args {
    const char *node_id;
    const char *sku;         /* created on first use */
    bool has_set_to;         /* set on_hand to set_to, else add delta */
    int64_t delta;           /* may be negative; on_hand never goes below 0 */
    int64_t set_to;          /* may be below reserved: available goes negative */
    const char *ref_id;      /* dedupe key; NULL or "" = no dedupe */
} inv_adjust_args;

typedef struct inv_return_args {
    const char *node_id;
    const char *sku;
    uint32_t qty;            /* units back on hand, 1..INV_QTY_MAX */
    const char *ref_id;
} inv_return_args;

typedef struct inv_availability_args {
    const char *sku;
    bool has_point;          /* with a point: per-node list nearest first */
    double lat, lon;
    double radius_km;        /* 0: no radius */
    uint32_t nodes_cap;      /* entries `out.availability.nodes` can hold */
    struct inv_node_avail *nodes; /* caller-owned output array (may be NULL if cap 0) */
} inv_availability_args;

typedef struct inv_node_spec {
    const char *node_id;
    inv_node_kind kind;
    double lat, lon;
    const char *region;      /* ≤ INV_REGION_LEN_MAX bytes, may be NULL */
    bool ships, pickup;
    uint32_t capacity_per_day; /* orders allocated per day; 0 = unlimited */
    uint32_t priority;         /* lower wins ties */
    inv_node_status status;
} inv_node_spec;

typedef struct inv_list_nodes_args {
    uint32_t offset;         /* first node index to list */
    uint32_t nodes_cap;      /* entries `nodes` can hold */
    struct inv_node_info *nodes;
} inv_list_nodes_args;

/* ------------------------------------------------------------------------------------
 * Op outputs.
 * ------------------------------------------------------------------------------------ */
/* Dense ids: names via inv_engine_sku_name() / inv_engine_node_info(). */
typedef struct inv_alloc {
    uint32_t sku;
    uint32_t node;
    uint32_t qty;
} inv_alloc;

typedef struct inv_reservation_view {
    inv_resv_state state;
    bool is_tombstone;       /* finished and shrunk: allocation no longer known */
    uint64_t expires_at_ms;  /* HELD: when it expires */
    uint32_t parcels;        /* distinct nodes in the allocation */
    uint32_t alloc_count;
    inv_alloc alloc[INV_ALLOC_MAX];
    double cost;             /* routing cost of the allocation (km-equivalent) */
    /* INSUFFICIENT_STOCK: units missing per input line (0 where the line was fine). */
    uint32_t shortfall[INV_LINES_MAX];
    /* PICKUP short: nearest pickup nodes that hold every line. */
    uint32_t alternative_count;
    uint32_t alternatives[INV_PICKUP_ALTERNATIVES_MAX];
} inv_reservation_view;

typedef struct inv_cell_view {
    uint32_t sku, node;
    int64_t on_hand, reserved, safety;
    int64_t available;       /* on_hand − reserved − safety (may be negative) */
    int64_t applied_delta;   /* Adjust/Return: change of on_hand this op made */
} inv_cell_view;

typedef struct inv_node_avail {
    uint32_t node;
    int64_t available;
    double distance_km;      /* 0 when no point was given */
} inv_node_avail;

typedef struct inv_availability_view {
    uint32_t sku;
    int64_t total_available; /* Σ max(available, 0) over matching nodes (within the
                                radius if given): units that can still be sold */
    int64_t total_on_hand;
    int64_t total_reserved;
    uint32_t node_count;     /* nodes matching; may exceed the entries written */
    uint32_t nodes_written;
} inv_availability_view;

typedef struct inv_node_info {
    uint32_t index;
    char node_id[INV_ID_LEN_MAX + 1];
    char region[INV_REGION_LEN_MAX + 1];
    inv_node_kind kind;
    double lat, lon;
    bool ships, pickup;
    uint32_t capacity_per_day;
    uint32_t allocated_today;
    uint32_t priority;
    inv_node_status status;
} inv_node_info;

/* ------------------------------------------------------------------------------------
 * The op: one request and its answer.
 * ------------------------------------------------------------------------------------ */
typedef enum inv_op_type {
    INV_OP_RESERVE = 1,
    INV_OP_COMMIT,
    INV_OP_RELEASE,
    INV_OP_EXTEND,
    INV_OP_GET_RESERVATION,
    INV_OP_ADJUST,
    INV_OP_RETURN,
    INV_OP_GET_AVAILABILITY,
    INV_OP_UPSERT_NODE,
    INV_OP_SET_NODE_STATUS,
    INV_OP_LIST_NODES,
    INV_OP_SET_SAFETY,
    INV_OP_SET_LIMIT,
} inv_op_type;
#define INV_OP_TYPE_COUNT 14

const char *inv_op_type_name(inv_op_type t);

typedef struct inv_op {
    inv_op_type type;
    union {
        inv_reserve_args reserve;
        struct { const char *order_id; } order;               /* COMMIT RELEASE GET */
        struct { const char *order_id; uint64_t ttl_ms; } extend;
        inv_adjust_args adjust;
        inv_return_args ret;
        inv_availability_args availability;
        inv_node_spec node;                                   /* UPSERT_NODE */
        struct { const char *node_id; inv_node_status status; } node_status;
        inv_list_nodes_args list_nodes;
        struct { const char *node_id; const char *sku; uint32_t safety; } safety;
        struct { const char *sku; uint32_t limit_per_customer; } limit; /* 0 clears */
    } in;

    inv_status status;
    char message[INV_MESSAGE_LEN_MAX]; /* "" on success; why, on failure */
    union {
        inv_reservation_view reservation; /* RESERVE COMMIT RELEASE EXTEND GET */
        inv_cell_view cell;               /* ADJUST RETURN SET_SAFETY */
        inv_availability_view availability;
        struct { uint32_t node; bool created; } node;          /* UPSERT, SET_STATUS */
        struct { uint32_t written; uint32_t total; } list_nodes;
        struct { uint32_t sku; } limit;
    } out;

    /* LSN of the last record this op wrote to its shard's log (0: none). A reply to a
     * mutation may leave only once that LSN is durable. */
    uint64_t lsn;
    uint32_t lsn_shard;      /* whose log holds that record (the shard that ran the op) */
    /* Caller's cookie, untouched by the engine. */
    void *user;
    /* Engine plumbing: which shard submitted it (set by inv_shard_submit). */
    uint32_t origin_shard;
} inv_op;

/* ------------------------------------------------------------------------------------
 * Engine and shards.
 * ------------------------------------------------------------------------------------ */
typedef struct inv_engine inv_engine;
typedef struct inv_shard inv_shard;

/* Open an engine.
 * @param[out] out  the engine, on success
 * @param cfg       sizes and settings (NULL: defaults)
 * @return 0, or a negative errno (-EINVAL bad config, -ENOMEM). */
int inv_engine_open(inv_engine **out, const inv_engine_config *cfg);
void inv_engine_close(inv_engine *e);

uint32_t inv_engine_shard_count(const inv_engine *e);
inv_shard *inv_engine_shard(inv_engine *e, uint32_t index);

/* The shard that owns `op` (see the header comment), or the shard given in
 * `any_shard` when the op may run anywhere. */
uint32_t inv_engine_op_owner(const inv_engine *e, const inv_op *op, uint32_t any_shard);

/* Direct mode: run `op` on its owner now. Only while no shard thread runs.
 * @return op->status. */
inv_status inv_engine_execute(inv_engine *e, inv_op *op);

/* Direct mode: expire HELD reservations whose time has passed, on every shard, and
 * drop tombstones older than the idempotency window.
 * @return the number of reservations expired. */
uint32_t inv_engine_expire(inv_engine *e);

/* Make catalog changes (new or moved nodes) visible to routing now. Direct mode only
 * (it frees the old routing index at once); in threaded mode shard 0 publishes in
 * inv_shard_poll and frees old indexes once every shard has moved past them.
 * inv_engine_execute publishes by itself before any non-catalog op. */
void inv_engine_catalog_publish(inv_engine *e);

/* Names and catalog look-ups (safe from any thread; ids are never reused). */
const char *inv_engine_sku_name(const inv_engine *e, uint32_t sku);
int inv_engine_sku_find(const inv_engine *e, const char *sku, uint32_t *out_sku);
int inv_engine_node_find(const inv_engine *e, const char *node_id, uint32_t *out_node);
const char *inv_engine_node_id(const inv_engine *e, uint32_t node);
/* Read one node's descriptive fields (catalog-owner thread or direct mode). */
int inv_engine_node_info(const inv_engine *e, uint32_t node, inv_node_info *out);
/* Read one cell (any thread; a consistent snapshot of on_hand and reserved). */
int inv_engine_cell_read(const inv_engine *e, uint32_t sku, uint32_t node,
                         inv_cell_view *out);

/* Threaded mode. `done` is called, on the submitting shard's thread, for every op that
 * was forwarded and has come back. */
typedef void (*inv_done_fn)(void *ctx, inv_op *op);

/* Submit `op` from shard `s`'s own thread.
 * @return 1: done here, result in op; 0: forwarded, completes via inv_shard_poll;
 *         INV_BUSY (as a negative: -INV_BUSY): the ring to the owner is full. */
int inv_shard_submit(inv_shard *s, inv_op *op);

/* inv_shard_submit, and while the ring to the owner is full, call on_busy(ctx) (which
 * should run the thread's inv_shard_poll, so the owner's replies drain) and try again,
 * `tries` times at most.
 * @param busy_out  how many attempts found the ring full (may be NULL)
 * @return as inv_shard_submit; -INV_BUSY after `tries` full attempts. */
int inv_shard_submit_retry(inv_shard *s, inv_op *op, uint32_t tries, void (*on_busy)(void *ctx),
                           void *ctx, uint32_t *busy_out);

/* One pass of the shard's engine work: run ops forwarded to it, hand back completions
 * of ops it forwarded (calling `done`), expire due reservations, and (shard 0) publish
 * catalog changes.
 * @return how many items were handled (0: idle). */
uint32_t inv_shard_poll(inv_shard *s, inv_done_fn done, void *ctx);

uint32_t inv_shard_index(const inv_shard *s);

/* Apply what this shard's changes give back whose records are now durable (see
 * inv_journal.durable_lsn); inv_shard_poll does it first thing. A loop that holds
 * replies until their record is durable calls this after reaping its log and before
 * releasing them, so that a client told "released" finds the units back.
 * Shard's own thread. @return credits applied. */
uint32_t inv_shard_credit_durable(inv_shard *s);
/* The same for every shard (direct mode; inv_engine_execute does it first thing). */
uint32_t inv_engine_credit_durable(inv_engine *e);
/* Apply every waiting credit whatever the log says. Only when every record appended so
 * far is durable and no shard thread runs: a snapshot taken after syncing every log. */
uint32_t inv_engine_credit_all(inv_engine *e);

/* ------------------------------------------------------------------------------------
 * Recovery and snapshots (direct mode: no shard thread runs).
 * ------------------------------------------------------------------------------------ */
/* Apply one record read back from shard `shard`'s log or snapshot. Nothing is logged
 * while replaying.
 * @param err  receives why a record was refused (errlen bytes)
 * @return 0, or -EINVAL (malformed body / inconsistent with earlier records). */
int inv_engine_replay(inv_engine *e, uint32_t shard, inv_rec_type type, const void *body,
                      uint32_t len, char *err, size_t errlen);
/* A hint, given a few records before inv_engine_replay gets the same record: start
 * loading the table slots replaying it will touch (the reservation index and the
 * tombstone window of its order). Changes nothing; any bytes are safe. */
void inv_engine_replay_prefetch(const inv_engine *e, uint32_t shard, inv_rec_type type,
                                const void *body, uint32_t len);

/* After every record is replayed: expire reservations whose time passed while the
 * engine was down (these expirations are logged), and rebuild derived state.
 * @return the number of reservations expired. */
uint32_t inv_engine_recovered(inv_engine *e);

/* Write the whole state as records, shard by shard, through `emit` (a snapshot).
 * Replaying them into an empty engine recreates this state.
 * @return 0, or the first non-zero value `emit` returned. */
typedef int (*inv_snapshot_emit_fn)(void *ctx, uint32_t shard, inv_rec_type type,
                                    const void *body, uint32_t len);
int inv_engine_snapshot(const inv_engine *e, inv_snapshot_emit_fn emit, void *ctx);

/* Human-readable name of a record type, e.g. "RESERVED". */
const char *inv_rec_type_name(inv_rec_type t);

/* ------------------------------------------------------------------------------------
 * Statistics (relaxed counters, per engine).
 * ------------------------------------------------------------------------------------ */
typedef struct inv_engine_stats {
    uint64_t nodes, skus, cells;
    uint64_t reservations_live;       /* HELD now */
    uint64_t tombstones;
    uint64_t reserves_ok, reserves_failed, sold_out_fast_path;
    uint64_t commits, releases, expirations;
    uint64_t reservation_bytes;       /* arena bytes in use by live reservations */
    uint64_t tombstones_dropped_early;/* ring full before the window ended */
    uint64_t credits_waiting;         /* give-backs waiting for their record (credit.c) */
} inv_engine_stats;

void inv_engine_stats_read(const inv_engine *e, inv_engine_stats *out);

/* Memory per stock cell and per live reservation, in bytes, as laid out in this build
 * (tables included at their configured load factor). */
size_t inv_engine_bytes_per_cell(void);
size_t inv_engine_bytes_per_reservation_typical(uint32_t alloc_count,
                                                uint32_t order_id_len,
                                                uint32_t customer_id_len);

#ifdef __cplusplus
}
#endif

#endif /* INV_ENGINE_H */
