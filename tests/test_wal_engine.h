/*
 * test_wal_engine.h — engine-side helpers for the persist/ suites that recover a real
 * engine (test_snapshot*, test_recovery_engine*, test_crash*, test_wal_fault*):
 *   - opening an engine journaled to an inv_persist directory and recovering it;
 *   - a deterministic mixed workload in direct mode that produces every outcome record
 *     (reserve, commit, release, expiry, extend, adjust/set_to/return with and without
 *     ref_id, safety, limit, node upsert and status);
 *   - a canonical text digest of everything observable, to compare two engines.
 * Header-only (static inline), included after test_wal_support.h.
 */
#ifndef INV_TEST_WAL_ENGINE_H
#define INV_TEST_WAL_ENGINE_H

#include "test_support.h"
#include "test_wal_support.h"

/* ------------------------------------------------------------------------------------
 * Engine + persist
 * ------------------------------------------------------------------------------------ */
static inline inv_engine *te_engine_open(uint32_t shards, test_clock *clk, inv_persist *p) {
    inv_engine_config cfg;
    inv_engine_config_default(&cfg);
    cfg.shards = shards;
    cfg.clock = test_clock_read;
    cfg.clock_ctx = clk;
    if (p != NULL) cfg.journal = inv_persist_journal(p);
    return test_engine_open_config(&cfg);
}

/* Open persist on `dir`, an engine journaled to it, and recover. Fails the test on error. */
static inline void te_start(const char *dir, uint32_t shards, test_clock *clk,
                            const inv_persist_options *o, inv_persist **pp, inv_engine **ep,
                            inv_recovery_report *rep) {
    int rc = inv_persist_open(pp, dir, shards, o);
    cr_assert_eq(rc, 0, "inv_persist_open(%s): %s", dir, strerror(-rc));
    *ep = te_engine_open(shards, clk, *pp);
    char err[512] = "";
    inv_recovery_report scratch;
    rc = inv_persist_recover(*pp, *ep, rep ? rep : &scratch, err, sizeof err);
    cr_assert_eq(rc, 0, "recovery of %s refused (%d): %s", dir, rc, err);
}

static inline void te_stop(inv_persist *p, inv_engine *e) {
    inv_persist_close(p);
    inv_engine_close(e);
}

/* ------------------------------------------------------------------------------------
 * A deterministic mixed workload (direct mode)
 * ------------------------------------------------------------------------------------ */
#define TE_NODES 5u
#define TE_SKUS 8u
#define TE_ORDERS_MAX 4096u
#define TE_REFS_MAX 4096u
#define TE_ID_LEN 24u

typedef struct te_world {
    uint64_t rng;
    uint32_t tag;                      /* distinguishes ids of different worlds/phases */
    uint32_t orders;                   /* ids o<tag>-<i> for i < orders were used */
    char order_ids[TE_ORDERS_MAX][TE_ID_LEN];
    bool held[TE_ORDERS_MAX];
    uint32_t refs;
    char ref_ids[TE_REFS_MAX][TE_ID_LEN];
    int64_t ref_value[TE_REFS_MAX];   /* the delta / set_to / qty asked for */
    uint32_t ref_kind[TE_REFS_MAX], ref_node[TE_REFS_MAX], ref_sku[TE_REFS_MAX];
} te_world;

static inline uint64_t te_rand(te_world *w) {
    w->rng ^= w->rng << 13;
    w->rng ^= w->rng >> 7;
    w->rng ^= w->rng << 17;
    return w->rng;
}
static inline uint32_t te_below(te_world *w, uint32_t n) { return (uint32_t)(te_rand(w) % n); }

static const char *const te_node_ids[TE_NODES] = {"WH-SH-1", "ST-SH-2", "ST-SH-3", "WH-SZ-1",
                                                  "LK-SH-9"};
static const double te_node_pos[TE_NODES][2] = {
    {31.20, 121.40}, {31.25, 121.50}, {31.10, 121.30}, {31.30, 120.60}, {31.22, 121.47}};
static const inv_node_kind te_node_kind[TE_NODES] = {INV_NODE_WAREHOUSE, INV_NODE_STORE,
                                                     INV_NODE_STORE, INV_NODE_WAREHOUSE,
                                                     INV_NODE_LOCKER};
static const char *const te_sku_ids[TE_SKUS] = {"SKU-A", "SKU-B", "SKU-C", "SKU-D",
                                                "SKU-E", "SKU-F", "SKU-G", "SKU-H"};

static inline void te_world_init(te_world *w, uint64_t seed, uint32_t tag) {
    memset(w, 0, sizeof *w);
    w->rng = seed * 0x9e3779b97f4a7c15ull + 0x1234567ull;
    if (w->rng == 0) w->rng = 1;
    w->tag = tag;
}

/* Catalog and opening stock. */
static inline void te_setup(inv_engine *e) {
    for (uint32_t n = 0; n < TE_NODES; n++)
        T_STATUS(t_upsert_node(e, te_node_ids[n], te_node_kind[n], te_node_pos[n][0],
                               te_node_pos[n][1], n == 1 ? 50u : 0u, n), INV_OK);
    char ref[32];
    for (uint32_t n = 0; n < TE_NODES; n++) {
        if (te_node_kind[n] == INV_NODE_LOCKER) continue;
        for (uint32_t k = 0; k < TE_SKUS; k++) {
            snprintf(ref, sizeof ref, "init-%u-%u", n, k);
            T_STATUS(t_adjust_ref(e, te_node_ids[n], te_sku_ids[k], 40 + (int64_t)(n * 7 + k), ref),
                     INV_OK);
        }
    }
    T_STATUS(t_set_safety(e, te_node_ids[1], te_sku_ids[0], 2), INV_OK);
    T_STATUS(t_set_limit(e, te_sku_ids[7], 3), INV_OK);
}

static inline void te_op_reserve(te_world *w, inv_engine *e, test_clock *clk) {
    if (w->orders >= TE_ORDERS_MAX) return;
    uint32_t i = w->orders++;
    snprintf(w->order_ids[i], TE_ID_LEN, "o%u-%u", w->tag, i);
    char lines[3][32];
    const char *lv[4] = {NULL, NULL, NULL, NULL};
    uint32_t nl = 1 + te_below(w, 3), first = te_below(w, TE_SKUS);
    for (uint32_t l = 0; l < nl; l++) {
        snprintf(lines[l], sizeof lines[l], "%s:%u", te_sku_ids[(first + l) % TE_SKUS],
                 1 + te_below(w, 3));
        lv[l] = lines[l];
    }
    char customer[16];
    snprintf(customer, sizeof customer, "c%u", te_below(w, 20));
    uint64_t ttl = te_below(w, 4) == 0 ? 1500 : 3600000;
    inv_status s = t_reserve(e, w->order_ids[i], customer, 31.23, 121.47, ttl, lv);
    w->held[i] = s == INV_OK;
    (void)clk;
}

static inline int te_pick_held(te_world *w) {
    if (w->orders == 0) return -1;
    uint32_t start = te_below(w, w->orders);
    for (uint32_t k = 0; k < w->orders; k++) {
        uint32_t i = (start + k) % w->orders;
        if (w->held[i]) return (int)i;
    }
    return -1;
}

static inline inv_status te_adjust_kind(inv_engine *e, uint32_t kind, uint32_t n, uint32_t k,
                                        int64_t v, const char *ref) {
    if (kind == 0) return t_adjust_ref(e, te_node_ids[n], te_sku_ids[k], v, ref);
    if (kind == 1) return t_set_to_ref(e, te_node_ids[n], te_sku_ids[k], v, ref);
    return t_return(e, te_node_ids[n], te_sku_ids[k], (uint32_t)v, ref);
}

static inline void te_op_adjust(te_world *w, inv_engine *e, uint32_t kind) {
    uint32_t n = te_below(w, TE_NODES - 1), k = te_below(w, TE_SKUS);
    char *ref = NULL;
    if (te_below(w, 3) != 0 && w->refs < TE_REFS_MAX) {
        ref = w->ref_ids[w->refs];
        snprintf(ref, TE_ID_LEN, "r%u-%u", w->tag, w->refs);
    }
    int64_t v = kind == 0 ? (te_below(w, 4) == 0 ? -(int64_t)(1 + te_below(w, 3))
                                                 : (int64_t)(1 + te_below(w, 20)))
              : kind == 1 ? (int64_t)te_below(w, 60) : (int64_t)(1 + te_below(w, 4));
    inv_status s = te_adjust_kind(e, kind, n, k, v, ref);
    if (ref != NULL && s == INV_OK) {
        w->ref_value[w->refs] = v;
        w->ref_kind[w->refs] = kind;
        w->ref_node[w->refs] = n;
        w->ref_sku[w->refs] = k;
        w->refs++;
    }
}

/* One random op. */
static inline void te_step(te_world *w, inv_engine *e, test_clock *clk) {
    uint32_t r = te_below(w, 100);
    int h = r >= 45 && r < 75 ? te_pick_held(w) : -1;
    if (r < 45) te_op_reserve(w, e, clk);
    else if (r < 60 && h >= 0) { t_commit(e, w->order_ids[h]); w->held[h] = false; }
    else if (r < 70 && h >= 0) { t_release(e, w->order_ids[h]); w->held[h] = false; }
    else if (r < 75 && h >= 0) t_extend(e, w->order_ids[h], 3600000);
    else if (r < 85) te_op_adjust(w, e, 0);
    else if (r < 88) te_op_adjust(w, e, 1);
    else if (r < 90) te_op_adjust(w, e, 2);
    else if (r < 92) t_set_safety(e, te_node_ids[te_below(w, 4)], te_sku_ids[te_below(w, TE_SKUS)], te_below(w, 3));
    else if (r < 93) t_set_limit(e, te_sku_ids[te_below(w, TE_SKUS)], te_below(w, 2) ? 0 : 5);
    else if (r < 94) t_set_node_status(e, te_node_ids[2], te_below(w, 2) ? INV_NODE_PAUSED : INV_NODE_ACTIVE);
    else if (r < 96) { clk->now_ms += 2000; inv_engine_expire(e); }
    else if (r < 97) t_upsert_node(e, te_node_ids[3], INV_NODE_WAREHOUSE, 31.30 + te_below(w, 10) * 0.01, 120.60, 0, 3);
}

/* Run `steps` workload steps. With a log, every 16 steps end in a sync: what releases,
 * expiries and restocks give back reaches other orders only once durable (credit.c), so
 * syncing at fixed steps keeps the workload's outcomes independent of disk timing. */
static inline void te_run(te_world *w, inv_engine *e, test_clock *clk, inv_persist *p, uint32_t steps) {
    if (p != NULL) inv_persist_sync(p); /* the setup's stock, before the first step */
    for (uint32_t i = 0; i < steps; i++) {
        te_step(w, e, clk);
        if (p != NULL && i % 16 == 15) inv_persist_sync(p);
    }
    if (p != NULL) inv_persist_sync(p);
}

/* ------------------------------------------------------------------------------------
 * Digest: everything observable, by name, in a canonical order.
 * ------------------------------------------------------------------------------------ */
static inline void te_digest_orders(FILE *f, inv_engine *e, const te_world *w) {
    for (uint32_t i = 0; w != NULL && i < w->orders; i++) {
        inv_status s = t_get(e, w->order_ids[i]);
        fprintf(f, "R %s %s", w->order_ids[i], inv_status_name(s));
        const inv_reservation_view *v = &last_op.out.reservation;
        if (s == INV_OK) {
            fprintf(f, " %s tomb=%d exp=%llu", inv_resv_state_name(v->state), v->is_tombstone,
                    v->state == INV_RESV_HELD ? (unsigned long long)v->expires_at_ms : 0ull);
            for (uint32_t a = 0; !v->is_tombstone && a < v->alloc_count; a++)
                fprintf(f, " %s@%s:%u", inv_engine_sku_name(e, v->alloc[a].sku),
                        inv_engine_node_id(e, v->alloc[a].node), v->alloc[a].qty);
        }
        fprintf(f, "\n");
    }
}

/* Returns a malloc'd string. */
static inline char *te_digest(inv_engine *e, const te_world *w1, const te_world *w2) {
    /* Quiescent state: what durable records give back is applied (credit.c). */
    inv_engine_credit_durable(e);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    inv_engine_stats st = t_stats(e);
    fprintf(f, "nodes %llu skus %llu cells %llu live %llu tomb %llu\n",
            (unsigned long long)st.nodes, (unsigned long long)st.skus,
            (unsigned long long)st.cells, (unsigned long long)st.reservations_live,
            (unsigned long long)st.tombstones);
    for (uint32_t n = 0; n < st.nodes; n++) {
        inv_node_info ni;
        cr_assert_eq(inv_engine_node_info(e, n, &ni), 0);
        fprintf(f, "N %u %s k%d %.4f %.4f %s s%d p%d cap%u used%u pr%u st%d\n", n, ni.node_id,
                ni.kind, ni.lat, ni.lon, ni.region, ni.ships, ni.pickup, ni.capacity_per_day,
                ni.allocated_today, ni.priority, ni.status);
    }
    for (uint32_t k = 0; k < st.skus; k++) {
        fprintf(f, "S %u %s\n", k, inv_engine_sku_name(e, k));
        for (uint32_t n = 0; n < st.nodes; n++) {
            inv_cell_view v;
            if (inv_engine_cell_read(e, k, n, &v) != 0) continue;
            fprintf(f, "C %s %s oh%lld rs%lld sf%lld av%lld\n", inv_engine_sku_name(e, k),
                    inv_engine_node_id(e, n), (long long)v.on_hand, (long long)v.reserved,
                    (long long)v.safety, (long long)v.available);
        }
    }
    te_digest_orders(f, e, w1);
    te_digest_orders(f, e, w2);
    fclose(f);
    return text;
}

/* Compare two digests; on a difference, print the first differing line. */
static inline void te_digest_assert_same(const char *a, const char *b, const char *what) {
    if (strcmp(a, b) == 0) return;
    size_t i = 0, line = 1, start = 0;
    while (a[i] != '\0' && a[i] == b[i]) {
        if (a[i] == '\n') { line++; start = i + 1; }
        i++;
    }
    const char *ea = strchr(a + start, '\n'), *eb = strchr(b + start, '\n');
    int la = ea ? (int)(ea - (a + start)) : (int)strlen(a + start);
    int lb = eb ? (int)(eb - (b + start)) : (int)strlen(b + start);
    cr_assert_fail("%s: states differ at line %zu:\n  %.*s\n  %.*s", what, line, la, a + start,
                   lb, b + start);
}

/* Every ref_id the world applied is remembered: applying it again is DUPLICATE_REF and
 * changes nothing. */
static inline void te_refs_assert_remembered(inv_engine *e, const te_world *w) {
    for (uint32_t i = 0; i < w->refs; i++) {
        inv_status s = te_adjust_kind(e, w->ref_kind[i], w->ref_node[i], w->ref_sku[i],
                                      w->ref_value[i], w->ref_ids[i]);
        cr_assert_eq(s, INV_DUPLICATE_REF, "ref %s forgotten: %s", w->ref_ids[i],
                     inv_status_name(s));
    }
}

#endif /* INV_TEST_WAL_ENGINE_H */
