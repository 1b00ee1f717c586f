/*
 * engine.c — opening and closing the engine, configuration, direct mode, statistics,
 * and the small helpers every module shares (status names, op_fail, id checks, clock).
 *
 * Start-up allocates every table once (catalog.c, stock.c, and per shard resv.c,
 * route.c); request handling allocates nothing.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "shard_int.h"

/* ====================================================================================
 * Names
 * ==================================================================================== */

const char *inv_status_name(inv_status s) {
    static const char *const names[INV_STATUS_COUNT] = {
        "OK", "INVALID_ARGUMENT", "NOT_FOUND", "CONFLICT", "INSUFFICIENT_STOCK",
        "LIMIT_EXCEEDED", "NO_ROUTE", "EXPIRED", "ALREADY_RELEASED", "ALREADY_COMMITTED",
        "DUPLICATE_REF", "RESOURCE_EXHAUSTED", "BUSY", "UNAVAILABLE", "INTERNAL",
    };
    return (unsigned)s < INV_STATUS_COUNT ? names[s] : "UNKNOWN";
}

const char *inv_node_kind_name(inv_node_kind k) {
    static const char *const names[] = {"WAREHOUSE", "STORE", "LOCKER"};
    return (unsigned)k < INV_NODE_KIND_COUNT ? names[k] : "UNKNOWN";
}

const char *inv_node_status_name(inv_node_status s) {
    static const char *const names[] = {"ACTIVE", "PAUSED", "CLOSED"};
    return (unsigned)s <= INV_NODE_CLOSED ? names[s] : "UNKNOWN";
}

const char *inv_resv_state_name(inv_resv_state s) {
    static const char *const names[] = {"HELD", "COMMITTED", "RELEASED", "EXPIRED"};
    return (unsigned)s <= INV_RESV_EXPIRED ? names[s] : "UNKNOWN";
}

const char *inv_op_type_name(inv_op_type t) {
    static const char *const names[INV_OP_TYPE_COUNT] = {
        "NONE", "RESERVE", "COMMIT", "RELEASE", "EXTEND", "GET_RESERVATION", "ADJUST",
        "RETURN", "GET_AVAILABILITY", "UPSERT_NODE", "SET_NODE_STATUS", "LIST_NODES",
        "SET_SAFETY", "SET_LIMIT",
    };
    return (unsigned)t < INV_OP_TYPE_COUNT ? names[t] : "UNKNOWN";
}

/* ====================================================================================
 * Shared helpers
 * ==================================================================================== */

inv_status op_fail(inv_op *op, inv_status status, const char *fmt, ...) {
    assert(status != INV_OK);
    op->status = status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(op->message, sizeof op->message, fmt, ap);
    va_end(ap);
    return status;
}

bool id_check(inv_op *op, const char *what, const char *id, size_t *out_len) {
    if (id == NULL || id[0] == '\0') {
        op_fail(op, INV_INVALID_ARGUMENT, "%s is missing", what);
        return false;
    }
    size_t len = inv_strnlen_bounded(id, INV_ID_LEN_MAX);
    if (len > INV_ID_LEN_MAX) {
        op_fail(op, INV_INVALID_ARGUMENT, "%s is longer than %u bytes", what, INV_ID_LEN_MAX);
        return false;
    }
    *out_len = len;
    return true;
}

uint64_t engine_now_ms(const inv_engine *e) {
    if (e->cfg.clock != NULL) return e->cfg.clock(e->cfg.clock_ctx);
    /* Coarse clock: a few ms resolution is plenty for TTLs of minutes, and it costs a
     * fraction of CLOCK_REALTIME on the reserve path. */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME_COARSE, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ====================================================================================
 * Configuration, open, close
 * ==================================================================================== */

void inv_engine_config_default(inv_engine_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->shards = 2;
    cfg->nodes_max = 16384;
    cfg->skus_max = 1u << 18;
    cfg->cells_max = 1u << 20;
    cfg->reservations_per_shard_max = 1u << 17;
    cfg->tombstones_per_shard_max = 1u << 17;
    cfg->refs_per_shard_max = 1u << 16;
    /* Counters are kept for the life of the process: committed units count against a
     * limit for good, so a (customer, limited SKU) counter is never reclaimed. Size it
     * for the distinct buyers of limited SKUs in a sale (16 bytes × 2 each). */
    cfg->limit_counters_max = 1u << 20;
    cfg->idempotency_window_ms = INV_IDEMPOTENCY_WINDOW_MS_DEFAULT;
    cfg->weights.kind_weight[INV_NODE_WAREHOUSE] = 1.0;
    cfg->weights.kind_weight[INV_NODE_STORE] = 1.3;  /* store staff pick slower */
    cfg->weights.kind_weight[INV_NODE_LOCKER] = 1.0; /* lockers do not ship */
    cfg->weights.priority_cost_km = 0.001;
}

static int config_complete(inv_engine_config *c, const inv_engine_config *given) {
    inv_engine_config_default(c);
    if (given == NULL) return 0;
    inv_engine_config d = *c;
    *c = *given;
#define TAKE_DEFAULT(f) if (c->f == 0) c->f = d.f
    TAKE_DEFAULT(shards);
    TAKE_DEFAULT(nodes_max);
    TAKE_DEFAULT(skus_max);
    TAKE_DEFAULT(cells_max);
    TAKE_DEFAULT(reservations_per_shard_max);
    TAKE_DEFAULT(tombstones_per_shard_max);
    TAKE_DEFAULT(refs_per_shard_max);
    TAKE_DEFAULT(limit_counters_max);
    TAKE_DEFAULT(idempotency_window_ms);
#undef TAKE_DEFAULT
    bool no_weights = true;
    for (int k = 0; k < INV_NODE_KIND_COUNT; k++) no_weights &= c->weights.kind_weight[k] == 0;
    if (no_weights) c->weights = d.weights;
    if (c->shards > INV_SHARDS_MAX) return -EINVAL;
    if (c->nodes_max >= (1u << 30) || c->skus_max >= (1u << 30) || c->cells_max >= (1u << 30))
        return -EINVAL;
    if (c->reservations_per_shard_max > INV_RESERVATIONS_PER_SHARD_MAX) return -EINVAL;
    if (c->tombstones_per_shard_max > INV_WINDOW_ENTRIES_PER_SHARD_MAX ||
        c->refs_per_shard_max > INV_WINDOW_ENTRIES_PER_SHARD_MAX)
        return -EINVAL;
    for (int k = 0; k < INV_NODE_KIND_COUNT; k++)
        if (!(c->weights.kind_weight[k] > 0)) return -EINVAL;
    return 0;
}

/* Map every page of [p, p + bytes) writable now. MADV_POPULATE_WRITE does the aligned
 * middle in one call (Linux >= 5.14); the loop then writes each page's first byte back
 * to itself, which covers the unaligned edges and older kernels and keeps whatever the
 * table's open already wrote there. The loop runs over every page even after the call
 * succeeded: a few milliseconds once, and in sanitizer builds its instrumented writes
 * also map the tables' shadow memory, which the call alone leaves to fault mid-run. */
static void prefault_range(void *p, size_t bytes, size_t page) {
    uintptr_t lo = ((uintptr_t)p + page - 1) & ~(uintptr_t)(page - 1);
    uintptr_t hi = ((uintptr_t)p + bytes) & ~(uintptr_t)(page - 1);
#ifdef MADV_POPULATE_WRITE
    if (hi > lo) (void)madvise((void *)lo, hi - lo, MADV_POPULATE_WRITE);
#endif
    volatile unsigned char *b = p;
    for (size_t off = 0; off < bytes; off += page) b[off] = b[off];
    if (bytes > 0) b[bytes - 1] = b[bytes - 1];
}

/* The tables that open leaves untouched (calloc'd, or written only at block heads);
 * the indexes are already written through by their open. Transparent huge pages are
 * deliberately not asked for: a snapshot fork() would then copy 2 MiB per first write
 * to a page instead of 4 KiB. */
static void engine_prefault_tables(inv_engine *e) {
    long sz = sysconf(_SC_PAGESIZE);
    size_t page = sz > 0 ? (size_t)sz : 4096u;
    prefault_range(e->cells, (size_t)e->cfg.cells_max * sizeof *e->cells, page);
    prefault_range(e->skus, (size_t)e->cfg.skus_max * sizeof *e->skus, page);
    prefault_range(e->limits, ((size_t)e->limits_mask + 1) * sizeof *e->limits, page);
    for (uint32_t i = 0; i < e->shard_count; i++) {
        inv_shard *s = e->shards[i];
        prefault_range(s->arena.base, (size_t)s->arena.units_total * RESV_UNIT_BYTES, page);
        prefault_range(s->tombstones.ring, (size_t)s->tombstones.capacity * sizeof(recent_entry),
                       page);
        prefault_range(s->refs.ring, (size_t)s->refs.capacity * sizeof(recent_entry), page);
    }
}

int inv_engine_open(inv_engine **out, const inv_engine_config *cfg) {
    assert(out != NULL);
    *out = NULL;
    inv_engine *e = calloc(1, sizeof *e);
    if (e == NULL) return -ENOMEM;
    int rc = config_complete(&e->cfg, cfg);
    if (rc == 0) rc = stock_open(e);
    if (rc == 0) rc = catalog_open(e);
    if (rc == 0) {
        e->shards = calloc(e->cfg.shards, sizeof *e->shards);
        rc = e->shards == NULL ? -ENOMEM : 0;
    }
    for (uint32_t i = 0; rc == 0 && i < e->cfg.shards; i++) {
        rc = shard_open(e, i, &e->shards[i]);
        e->shard_count = i + 1;
    }
    if (rc == 0) rc = shard_rings_open(e);
    if (rc != 0) {
        inv_engine_close(e);
        return rc;
    }
    if (e->cfg.prefault) engine_prefault_tables(e);
    *out = e;
    return 0;
}

void inv_engine_close(inv_engine *e) {
    if (e == NULL) return;
    for (uint32_t i = 0; i < e->shard_count; i++) shard_close(e->shards[i]);
    free(e->shards);
    if (e->nodes != NULL) catalog_close(e);
    stock_close(e);
    free(e);
}

uint32_t inv_engine_shard_count(const inv_engine *e) { return e->shard_count; }

inv_shard *inv_engine_shard(inv_engine *e, uint32_t index) {
    assert(index < e->shard_count);
    return e->shards[index];
}

/* ====================================================================================
 * Direct mode
 * ==================================================================================== */

static bool op_is_catalog(inv_op_type t) {
    return t == INV_OP_UPSERT_NODE || t == INV_OP_SET_NODE_STATUS || t == INV_OP_LIST_NODES;
}

inv_status inv_engine_execute(inv_engine *e, inv_op *op) {
    assert(op != NULL);
    if (e->catalog_dirty && !op_is_catalog(op->type)) catalog_publish_if_dirty(e, true);
    inv_engine_credit_durable(e);
    uint32_t owner = inv_engine_op_owner(e, op, 0);
    op->origin_shard = owner;
    shard_execute(e->shards[owner], op);
    return op->status;
}

uint32_t inv_engine_expire(inv_engine *e) {
    inv_engine_credit_durable(e);
    uint32_t total = 0;
    for (uint32_t i = 0; i < e->shard_count; i++) {
        inv_shard *s = e->shards[i];
        s->now_ms = engine_now_ms(e);
        for (uint32_t round = 0; round < (1u << 20); round++) { /* bounded: ≤ 1 G expiries */
            uint32_t n = resv_expire_due(s, INV_EXPIRE_BATCH_MAX);
            total += n;
            if (n < INV_EXPIRE_BATCH_MAX) break;
        }
        s->stats.live = s->resv_live;
        s->stats.tombstones = recent_count(&s->tombstones);
        s->stats.reservation_bytes = s->arena.bytes_in_use;
    }
    return total;
}

/* ====================================================================================
 * Statistics
 * ==================================================================================== */

void inv_engine_stats_read(const inv_engine *e, inv_engine_stats *out) {
    memset(out, 0, sizeof *out);
    out->nodes = atomic_load_explicit(&((inv_engine *)e)->node_count, memory_order_relaxed);
    out->skus = atomic_load_explicit(&((inv_engine *)e)->sku_count, memory_order_relaxed);
    out->cells = atomic_load_explicit(&((inv_engine *)e)->cell_count, memory_order_relaxed);
    for (uint32_t i = 0; i < e->shard_count; i++) {
        shard_stats *st = &e->shards[i]->stats;
#define SUM(dst, src) out->dst += atomic_load_explicit(&st->src, memory_order_relaxed)
        SUM(reservations_live, live);
        SUM(tombstones, tombstones);
        SUM(reserves_ok, reserves_ok);
        SUM(reserves_failed, reserves_failed);
        SUM(sold_out_fast_path, sold_out_fast_path);
        SUM(commits, commits);
        SUM(releases, releases);
        SUM(expirations, expirations);
        SUM(reservation_bytes, reservation_bytes);
        SUM(tombstones_dropped_early, tombstones_dropped_early);
        SUM(credits_waiting, credits_waiting);
#undef SUM
    }
}
