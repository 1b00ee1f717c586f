/*
 * journal.h — outcome records: encoding, emission to the shard's log, replay.
 *
 * Every state change is described by one record (inv_rec_type) whose body this module
 * encodes in little-endian fields; persist/ frames, checksums and stores the bytes
 * without looking inside. Each shard's log is self-describing: before a log first
 * refers to SKU k or node n, it carries SKU_NAME(k) / NODE_NAME(n), so replaying the
 * logs in any interleaving resolves every index to the same name.
 */
#ifndef INV_JOURNAL_H
#define INV_JOURNAL_H

#include "shard_int.h"

/* A decoded RESERVED record (also built by resv.c before encoding). */
typedef struct journal_reserved {
    const char *order_id;
    uint8_t order_len;
    const char *customer_id;
    uint8_t customer_len;
    bool absolute;          /* snapshot: recreate the record only, stock is absolute */
    uint64_t content_hash;
    uint64_t expires_at_ms;
    uint16_t created_day;
    uint8_t parcels;
    float cost;
    uint32_t alloc_count;
    uint32_t sku[INV_ALLOC_MAX];
    uint32_t node[INV_ALLOC_MAX];
    uint32_t qty_flags[INV_ALLOC_MAX];
} journal_reserved;

static inline bool journal_on(const inv_shard *s) {
    return s->e->cfg.journal.append != NULL && !s->e->replaying;
}

/* Emission (shard thread). Each returns the LSN of its record. */
uint64_t journal_reserved_emit(inv_shard *s, const journal_reserved *r);
uint64_t journal_finished_emit(inv_shard *s, const char *order_id, size_t len,
                               inv_resv_state state, uint64_t at_ms);
uint64_t journal_extended_emit(inv_shard *s, const char *order_id, size_t len,
                               uint64_t expires_at_ms);
/* After a successful catalog or stock op: the record(s) describing what it did. */
void journal_op_emit(inv_shard *s, inv_op *op);
/* Stock delta of an Adjust/Return, with the ref_id entry it left (may be NULL). */
uint64_t journal_stock_delta_emit(inv_shard *s, uint32_t sku, uint32_t node, int64_t delta,
                                  const recent_entry *ref);

/* Replay helpers implemented by resv.c. */
int resv_replay_reserved(inv_shard *s, const journal_reserved *r, char *err, size_t errlen);
int resv_replay_finished(inv_shard *s, const char *order_id, size_t len,
                         inv_resv_state state, uint64_t at_ms, char *err, size_t errlen);
int resv_replay_extended(inv_shard *s, const char *order_id, size_t len,
                         uint64_t expires_at_ms, char *err, size_t errlen);
/* inv_engine_replay_prefetch's work for an order record (resv.c). */
void resv_prefetch(const inv_shard *s, const char *order_id, size_t len);
/* Snapshot helper (resv.c): visit every live reservation of the shard. */
typedef int (*resv_visit_fn)(void *ctx, const journal_reserved *r);
int resv_snapshot_each(const inv_shard *s, resv_visit_fn visit, void *ctx);

#endif /* INV_JOURNAL_H */
