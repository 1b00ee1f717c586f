/*
 * shard_int.h — one shard's private state (private to engine/src).
 *
 * Everything here is touched by the shard's own thread only, except:
 *   - the SPSC rings (one producer, one consumer each: see spsc_ring);
 *   - seen_epoch, written by the shard, read by the catalog owner (QSBR);
 *   - stats counters, written by the shard, read by anyone (relaxed).
 * Each struct that another core touches sits on its own cache lines, so shards never
 * share a written line by accident.
 */
#ifndef INV_SHARD_INT_H
#define INV_SHARD_INT_H

#include "engine_int.h"
#include "recent.h"
#include "route.h"
#include "timer.h"

/* ------------------------------------------------------------------------------------
 * Lock-free single-producer / single-consumer ring of op pointers.
 * ------------------------------------------------------------------------------------ */
typedef struct spsc_ring {
    _Alignas(INV_CACHE_LINE) _Atomic uint32_t head; /* consumer: next slot to read */
    uint32_t tail_seen;                             /* consumer's cached tail */
    _Alignas(INV_CACHE_LINE) _Atomic uint32_t tail; /* producer: next slot to write */
    uint32_t head_seen;                             /* producer's cached head */
    _Alignas(INV_CACHE_LINE) inv_op *slots[INV_RING_DEPTH];
} spsc_ring;

/* ------------------------------------------------------------------------------------
 * Reservation arena: fixed memory of 32-byte units, handed out as power-of-two blocks by
 * a buddy allocator (resv.c). No malloc per request, no fragmentation that builds up.
 * ------------------------------------------------------------------------------------ */
#define RESV_UNIT_BYTES 32u
#define RESV_ORDER_MAX 6u   /* largest block: 64 units = 2048 bytes */
#define RESV_NOT_FREE 0xffu

typedef struct resv_arena {
    unsigned char *base;
    uint32_t units_total;               /* a multiple of the largest block */
    uint32_t free_head[RESV_ORDER_MAX + 1];
    uint8_t *free_order;                /* per unit: order of the free block there */
    uint64_t bytes_in_use;
} resv_arena;

typedef struct shard_stats {
    _Atomic uint64_t reserves_ok, reserves_failed, sold_out_fast_path;
    _Atomic uint64_t commits, releases, expirations;
    _Atomic uint64_t live, tombstones, reservation_bytes, tombstones_dropped_early;
    _Atomic uint64_t credits_waiting;
} shard_stats;

/* ------------------------------------------------------------------------------------
 * Credits: what a change gives back, waiting for its record to be durable (credit.c).
 * ------------------------------------------------------------------------------------ */
typedef enum credit_kind {
    CREDIT_UNTAKE = 1,        /* a = cell, b = qty */
    CREDIT_LIMIT_GIVE = 2,    /* key = limit counter key, b = qty */
    CREDIT_CAPACITY_GIVE = 3, /* a = node, key = business day */
    CREDIT_SAFETY_SET = 4,    /* a = cell, b = safety */
    CREDIT_LIMIT_SET = 5,     /* a = sku, b = limit per customer */
} credit_kind;

typedef struct credit_entry {
    uint64_t lsn;             /* the record that must be durable first */
    uint64_t key;
    uint32_t a, b;
    uint32_t kind;            /* credit_kind */
} credit_entry;

struct inv_shard {
    inv_engine *e;
    uint32_t index;
    uint64_t now_ms;                    /* engine clock, read once per entry point */
    uint64_t last_lsn;                  /* LSN of the last record this shard logged */

    _Alignas(INV_CACHE_LINE) _Atomic uint64_t seen_epoch;
    _Alignas(INV_CACHE_LINE) shard_stats stats;

    _Alignas(INV_CACHE_LINE) route_scratch *route;
    route_plan plan;                    /* scratch for one reserve */
    uint32_t plan_cells[INV_ALLOC_MAX]; /* the cell of each plan entry, found by take */
    bool plan_capacity_counted[INV_PARCELS_MAX]; /* per parcel node: capacity counted */
    resv_arena arena;
    uint32_t *resv_index;               /* open addressing: handle + probe distance
                                           (oa_index.h), or OA_EMPTY */
    uint32_t resv_index_mask;
    uint32_t resv_live;
    timer_wheel timers;
    recent_set tombstones;              /* finished reservations */
    recent_set refs;                    /* applied Adjust/Return ref_ids */
    uint32_t expire_buf[INV_EXPIRE_BATCH_MAX];
    /* SKUs and nodes this shard's log has named (journal.c), one bit each. */
    uint64_t *sku_declared;
    uint64_t *node_declared;
    /* Credits waiting for their record to be durable: a ring in LSN order (credit.c). */
    credit_entry *credits;
    uint32_t credit_head, credit_count, credit_cap; /* cap: a power of two */

    /* rings_in_req[j]: ops shard j forwards here; rings_in_rsp[j]: completions of ops
     * this shard forwarded to shard j. */
    spsc_ring **rings_in_req;
    spsc_ring **rings_in_rsp;
};

/* resv.c */
int resv_shard_open(inv_shard *s);
void resv_shard_close(inv_shard *s);
void resv_reserve(inv_shard *s, inv_op *op);
void resv_commit(inv_shard *s, inv_op *op);
void resv_release(inv_shard *s, inv_op *op);
void resv_extend(inv_shard *s, inv_op *op);
void resv_get(inv_shard *s, inv_op *op);
/* Expire up to `max` due reservations and drop tombstones past the window.
 * @return reservations expired. */
uint32_t resv_expire_due(inv_shard *s, uint32_t max);

/* credit.c */
int credit_queue_open(inv_shard *s);
void credit_queue_close(inv_shard *s);
/* Whether what this shard gives back waits for its record to be durable: a journal
 * that reports durability is set, and this is not a replay. */
static inline bool credit_deferred(const inv_shard *s) {
    const inv_journal *j = &s->e->cfg.journal;
    return j->append != NULL && j->durable_lsn != NULL && !s->e->replaying;
}
/* Give back (see credit_kind) once record `lsn` is durable, or now when nothing is
 * deferred. Called after the record was appended, in this shard's LSN order. */
void credit_give(inv_shard *s, uint64_t lsn, credit_kind kind, uint32_t a, uint32_t b,
                 uint64_t key);

/* shard.c */
int shard_open(inv_engine *e, uint32_t index, inv_shard **out);
void shard_close(inv_shard *s);
int shard_rings_open(inv_engine *e);
/* Run `op` on shard `s` (its owner) now. */
void shard_execute(inv_shard *s, inv_op *op);

#endif /* INV_SHARD_INT_H */
