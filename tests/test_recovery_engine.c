/*
 * test_recovery_engine.c — recovery of a real engine from its shard logs:
 *   - the recovered state equals the live state (cells, nodes, SKUs, every reservation,
 *     every ref_id remembered), over several restarts;
 *   - reservations whose TTL passed while down expire at start, and that is logged: a
 *     second restart finds them expired without expiring anything itself;
 *   - replaying the shard logs in several interleavings (shard by shard either way,
 *     round robin, seeded random merges) gives the identical state (DESIGN.md §10.6).
 */
#include "test_wal_engine.h"

#define SHARDS 3u
#define STEPS 1500u

static void build(const char *dir, test_clock *clk, te_world *w, char **live_digest) {
    inv_persist_options o;
    tw_options(&o, 256u << 10);
    inv_persist *p;
    inv_engine *e;
    te_start(dir, SHARDS, clk, &o, &p, &e, NULL);
    te_setup(e);
    te_run(w, e, clk, p, STEPS);
    *live_digest = te_digest(e, w, NULL);
    te_stop(p, e);
}

Test(recovery_engine, recovered_state_equals_the_live_state) {
    tw_require_uring();
    char dir[TW_PATH_MAX];
    tw_dir_make(dir);
    test_clock clk = {.now_ms = 1700000000000ull};
    static te_world w;
    te_world_init(&w, 7, 1);
    char *live = NULL;
    build(dir, &clk, &w, &live);
    for (int restart = 0; restart < 3; restart++) {
        inv_persist_options o;
        tw_options(&o, 256u << 10);
        inv_persist *p;
        inv_engine *e;
        inv_recovery_report rep;
        te_start(dir, SHARDS, &clk, &o, &p, &e, &rep);
        cr_assert_gt(rep.wal_records, STEPS / 2);
        cr_assert_eq(rep.expired, 0);
        char *got = te_digest(e, &w, NULL);
        te_digest_assert_same(live, got, "recovered vs live");
        free(got);
        if (restart == 2) te_refs_assert_remembered(e, &w);
        te_stop(p, e);
    }
    free(live);
    tw_dir_remove(dir);
}

Test(recovery_engine, reservations_past_their_ttl_expire_at_start_and_it_is_logged) {
    tw_require_uring();
    char dir[TW_PATH_MAX];
    tw_dir_make(dir);
    test_clock clk = {.now_ms = 1700000000000ull};
    static te_world w;
    te_world_init(&w, 11, 2);
    char *live = NULL;
    build(dir, &clk, &w, &live);
    free(live);
    inv_engine_stats before;
    inv_persist_options o;
    tw_options(&o, 256u << 10);
    {
        inv_persist *p;
        inv_engine *e;
        te_start(dir, SHARDS, &clk, &o, &p, &e, NULL);
        before = t_stats(e);
        te_stop(p, e);
    }
    cr_assert_gt(before.reservations_live, 0, "the workload left nothing HELD");
    clk.now_ms += 2ull * 3600 * 1000; /* every TTL has passed */
    inv_persist *p;
    inv_engine *e;
    inv_recovery_report rep;
    te_start(dir, SHARDS, &clk, &o, &p, &e, &rep);
    cr_assert_eq(rep.expired, before.reservations_live);
    cr_assert_eq(t_stats(e).reservations_live, 0);
    char *after_expiry = te_digest(e, &w, NULL);
    te_stop(p, e);
    te_start(dir, SHARDS, &clk, &o, &p, &e, &rep);
    cr_assert_eq(rep.expired, 0, "the expirations were not logged");
    char *again = te_digest(e, &w, NULL);
    te_digest_assert_same(after_expiry, again, "second restart after expiry");
    te_stop(p, e);
    free(after_expiry);
    free(again);
    tw_dir_remove(dir);
}

/* ====================================================================================
 * Interleavings
 * ==================================================================================== */

typedef struct rec_copy {
    uint32_t shard;
    inv_rec_type type;
    uint32_t len;
    size_t at;
} rec_copy;

typedef struct rec_store {
    rec_copy *recs;
    uint32_t count, cap;
    unsigned char *bytes;
    size_t used, size;
} rec_store;

static int store_fn(void *ctx, uint32_t shard, inv_rec_type type, const void *body,
                    uint32_t len, char *err, size_t errlen) {
    rec_store *st = ctx;
    (void)err;
    (void)errlen;
    if (st->count == st->cap) {
        st->cap = st->cap ? st->cap * 2 : 1024;
        st->recs = realloc(st->recs, st->cap * sizeof *st->recs);
    }
    if (st->used + len > st->size) {
        st->size = (st->size + len) * 2;
        st->bytes = realloc(st->bytes, st->size);
    }
    memcpy(st->bytes + st->used, body, len);
    st->recs[st->count++] = (rec_copy){.shard = shard, .type = type, .len = len, .at = st->used};
    st->used += len;
    return 0;
}

/* Replay the stored records in the order given by `order` (indices into recs). */
static char *replay_order(const rec_store *st, const uint32_t *order, test_clock *clk,
                          const te_world *w) {
    inv_engine *e = te_engine_open(SHARDS, clk, NULL);
    for (uint32_t i = 0; i < st->count; i++) {
        const rec_copy *r = &st->recs[order[i]];
        char err[256] = "";
        int rc = inv_engine_replay(e, r->shard, r->type, st->bytes + r->at, r->len, err, sizeof err);
        cr_assert_eq(rc, 0, "replay of record %u (shard %u, %s) refused: %s", order[i], r->shard,
                     inv_rec_type_name(r->type), err);
    }
    inv_engine_recovered(e);
    char *d = te_digest(e, w, NULL);
    inv_engine_close(e);
    return d;
}

/* Merge the shard sequences: pick the next shard by `how`, keep each shard's order. */
static void make_order(const rec_store *st, uint32_t how, uint64_t seed, uint32_t *order) {
    uint32_t next[SHARDS] = {0}, n = 0;
    uint32_t *by_shard[SHARDS], cnt[SHARDS] = {0};
    for (uint32_t s = 0; s < SHARDS; s++) by_shard[s] = malloc(st->count * sizeof(uint32_t));
    for (uint32_t i = 0; i < st->count; i++) by_shard[st->recs[i].shard][cnt[st->recs[i].shard]++] = i;
    uint64_t x = seed | 1;
    for (uint32_t guard = 0; n < st->count && guard < st->count * 64u; guard++) {
        uint32_t s;
        if (how == 0) s = 0;                                 /* shard 0 first, then 1, … */
        else if (how == 1) s = SHARDS - 1;                   /* last shard first */
        else if (how == 2) s = guard % SHARDS;               /* round robin */
        else { x ^= x << 13; x ^= x >> 7; x ^= x << 17; s = (uint32_t)(x % SHARDS); }
        if (how <= 1) {
            for (uint32_t k = 0; k < SHARDS && next[s] == cnt[s]; k++)
                s = how == 0 ? (s + 1) % SHARDS : (s + SHARDS - 1) % SHARDS;
        }
        if (next[s] == cnt[s]) continue;
        order[n++] = by_shard[s][next[s]++];
    }
    cr_assert_eq(n, st->count);
    for (uint32_t s = 0; s < SHARDS; s++) free(by_shard[s]);
}

Test(recovery_engine, shard_logs_replayed_in_any_interleaving_give_the_same_state) {
    tw_require_uring();
    char dir[TW_PATH_MAX];
    tw_dir_make(dir);
    test_clock clk = {.now_ms = 1700000000000ull};
    static te_world w;
    te_world_init(&w, 23, 3);
    char *live = NULL;
    build(dir, &clk, &w, &live);
    rec_store st = {0};
    inv_persist *p;
    char err[512] = "";
    cr_assert_eq(inv_persist_open(&p, dir, SHARDS, NULL), 0);
    cr_assert_eq(inv_persist_recover_with(p, store_fn, &st, NULL, err, sizeof err), 0, "%s", err);
    inv_persist_close(p);
    uint32_t per_shard[SHARDS] = {0};
    for (uint32_t i = 0; i < st.count; i++) per_shard[st.recs[i].shard]++;
    for (uint32_t s = 0; s < SHARDS; s++)
        cr_assert_gt(per_shard[s], 50, "shard %u logged only %u records", s, per_shard[s]);
    uint32_t *order = malloc(st.count * sizeof *order);
    for (uint32_t how = 0; how < 6; how++) {
        make_order(&st, how, 1000 + how, order);
        char *got = replay_order(&st, order, &clk, &w);
        char what[64];
        snprintf(what, sizeof what, "interleaving %u vs live", how);
        te_digest_assert_same(live, got, what);
        free(got);
    }
    free(order);
    free(st.recs);
    free(st.bytes);
    free(live);
    tw_dir_remove(dir);
}

/* Regression (engine): node capacity counters must not depend on the interleaving.
 * RESERVED records on shard 1's log count against a node whose capacity_per_day is set
 * by NODE_UPSERT on shard 0's log; replaying shard 1 first must count them too. */
Test(recovery_engine, regression_node_capacity_counted_whatever_the_interleaving) {
    tw_require_uring();
    char dir[TW_PATH_MAX];
    tw_dir_make(dir);
    test_clock clk = {.now_ms = 1700000000000ull};
    inv_persist *p;
    inv_engine *e;
    inv_persist_options o;
    tw_options(&o, 256u << 10);
    te_start(dir, 2, &clk, &o, &p, &e, NULL);
    T_STATUS(t_upsert_node(e, "ST-1", INV_NODE_STORE, 31.2, 121.4, 10, 0), INV_OK);
    T_STATUS(t_adjust(e, "ST-1", "SKU-A", 100), INV_OK);
    inv_persist_sync(p); /* the restock's units are available once durable */
    char ids[4][16];
    uint32_t made = 0;
    for (uint32_t i = 0; i < 64 && made < 4; i++) {
        snprintf(ids[made], sizeof ids[made], "ord-%u", i);
        inv_op probe;
        memset(&probe, 0, sizeof probe);
        probe.type = INV_OP_COMMIT;
        probe.in.order.order_id = ids[made];
        if (inv_engine_op_owner(e, &probe, 0) != 1) continue;
        T_STATUS(t_reserve1(e, ids[made], "c1", "SKU-A", 1, 3600000), INV_OK);
        made++;
    }
    cr_assert_eq(made, 4);
    inv_node_info live;
    cr_assert_eq(inv_engine_node_info(e, t_node(e, "ST-1"), &live), 0);
    cr_assert_eq(live.allocated_today, 4);
    te_stop(p, e);
    rec_store st = {0};
    char err[256] = "";
    cr_assert_eq(inv_persist_open(&p, dir, 2, &o), 0);
    cr_assert_eq(inv_persist_recover_with(p, store_fn, &st, NULL, err, sizeof err), 0, "%s", err);
    inv_persist_close(p);
    e = te_engine_open(2, &clk, NULL);
    for (uint32_t pass = 0; pass < 2; pass++) /* shard 1's log first, then shard 0's */
        for (uint32_t i = 0; i < st.count; i++) {
            const rec_copy *r = &st.recs[i];
            if (r->shard != 1 - pass) continue;
            cr_assert_eq(inv_engine_replay(e, r->shard, r->type, st.bytes + r->at, r->len, err,
                                           sizeof err), 0, "%s", err);
        }
    inv_engine_recovered(e);
    inv_node_info got;
    cr_assert_eq(inv_engine_node_info(e, t_node(e, "ST-1"), &got), 0);
    cr_assert_eq(got.allocated_today, 4, "allocated_today %u after replaying shard 1 first, "
                 "4 live and after shard 0 first", got.allocated_today);
    inv_engine_close(e);
    free(st.recs);
    free(st.bytes);
    tw_dir_remove(dir);
}

/* A new log directory in `dir`, `shards` shards recovered from it (nothing yet), and
 * the warehouse WH-1 in Shanghai. */
static void fresh_start(char *dir, uint32_t shards, test_clock *clk, inv_persist_options *o,
                        inv_persist **p, inv_engine **e) {
    tw_require_uring();
    tw_dir_make(dir);
    clk->now_ms = 1700000000000ull;
    tw_options(o, 256u << 10);
    te_start(dir, shards, clk, o, p, e, NULL);
    T_STATUS(t_upsert_node(*e, "WH-1", INV_NODE_WAREHOUSE, 31.2, 121.4, 0, 0), INV_OK);
}

/* Regression (engine): a retried mutation answered from state whose record is not yet
 * durable must carry that record's LSN (or a later one), so its reply waits for it too.
 * Otherwise: Reserve X logged at LSN n (in flight), the client retries, the retry is
 * answered OK at once (lsn 0), the process dies before n is durable: an acknowledged
 * reservation is lost (DESIGN.md §10.3). Same for Commit/Release retries and a
 * DUPLICATE_REF Adjust. */
Test(recovery_engine, regression_retry_reply_waits_for_the_original_record) {
    char dir[TW_PATH_MAX];
    test_clock clk;
    inv_persist_options o;
    inv_persist *p;
    inv_engine *e;
    fresh_start(dir, 1, &clk, &o, &p, &e);
    T_STATUS(t_adjust(e, "WH-1", "SKU-A", 100), INV_OK);
    inv_persist_sync(p);
    static const char *const what[] = {"reserve", "commit", "adjust(ref)"};
    for (int k = 0; k < 3; k++) {
        inv_status first = k == 0 ? t_reserve1(e, "X", "c", "SKU-A", 1, 3600000)
                         : k == 1 ? t_commit(e, "X")
                                  : t_adjust_ref(e, "WH-1", "SKU-A", 5, "ref-1");
        T_STATUS(first, INV_OK);
        uint64_t lsn = last_op.lsn;
        cr_assert_gt(lsn, inv_wal_durable_lsn(inv_persist_wal(p, 0)), "%s: already durable", what[k]);
        inv_status again = k == 0 ? t_reserve1(e, "X", "c", "SKU-A", 1, 3600000)
                         : k == 1 ? t_commit(e, "X")
                                  : t_adjust_ref(e, "WH-1", "SKU-A", 5, "ref-1");
        cr_assert(again == INV_OK || again == INV_DUPLICATE_REF, "%s retry: %s", what[k],
                  inv_status_name(again));
        cr_assert_not(inv_persist_reply_ready(p, last_op.lsn_shard, last_op.lsn),
                      "%s retry may reply at once (lsn %llu) while the original record (LSN "
                      "%llu) is not durable", what[k], (unsigned long long)last_op.lsn,
                      (unsigned long long)lsn);
        inv_persist_sync(p);
    }
    te_stop(p, e);
    tw_dir_remove(dir);
}

/* An order id whose RESERVE is owned by shard `shard` of `e`. */
static void order_on_shard(inv_engine *e, uint32_t shard, const char *prefix, char *out,
                           size_t len) {
    for (uint32_t i = 0; i < 10000; i++) {
        snprintf(out, len, "%s-%u", prefix, i);
        inv_op op = {.type = INV_OP_RESERVE};
        op.in.reserve.order_id = out;
        if (inv_engine_op_owner(e, &op, 0) == shard) return;
    }
    cr_assert_fail("no order id owned by shard %u", shard);
}

/* What a crash would recover from `dir` now: a copy (in `crashed`, removed after)
 * recovered into a fresh engine; the cell WH-1/SKU-A and `order`'s status and state. */
static inv_cell_view cell_after_crash(const char *dir, const char *crashed, test_clock *clk,
                                      const inv_persist_options *o, const char *order,
                                      inv_status *order_status, inv_resv_state *order_state) {
    tw_dir_copy(dir, crashed);
    inv_persist *p2;
    inv_engine *e2;
    te_start(crashed, 2, clk, o, &p2, &e2, NULL);
    inv_cell_view c = t_cell(e2, "WH-1", "SKU-A");
    *order_status = t_get(e2, order);
    *order_state = last_op.out.reservation.state;
    te_stop(p2, e2);
    tw_dir_remove(crashed);
    return c;
}

/* Regression (cross-shard causal durability), found by the kill -9 loop on two shards
 * under load. Shard A releases X (2 units back; record appended, not yet durable);
 * shard B reserves Y with those units and makes its own record durable; a crash now
 * recovers Y's RESERVED without A's RELEASED: X and Y both HELD on a cell of 2 units,
 * reserved 4 > on_hand 2, and Y was never acknowledged, so a retry would be told OK.
 * Units a change gives back now reach the shared cell only once the change's record is
 * durable (engine/src/credit.c), so Y cannot take them before that. The reply gate
 * (inv_persist_pass_enter/settle, deps_capture/ready) still holds B's replies until
 * what they could see on A is durable. */
Test(recovery_engine, regression_units_a_release_frees_wait_for_its_record) {
    char dir[TW_PATH_MAX], crashed[TW_PATH_MAX + 8];
    test_clock clk;
    inv_persist_options o;
    inv_persist *p;
    inv_engine *e;
    fresh_start(dir, 2, &clk, &o, &p, &e);
    snprintf(crashed, sizeof crashed, "%s-crash", dir);
    const uint32_t a = 0, b = 1;
    char x[32], y[32];
    order_on_shard(e, a, "X", x, sizeof x);
    order_on_shard(e, b, "Y", y, sizeof y);
    T_STATUS(t_adjust(e, "WH-1", "SKU-A", 2), INV_OK);
    inv_persist_sync(p);
    T_STATUS(t_reserve1(e, x, "c1", "SKU-A", 2, 3600000), INV_OK);
    inv_persist_sync(p);
    /* Work before a shard's first pass counts as its pass 1, unsettled until it settles. */
    inv_persist_deps first;
    inv_persist_deps_capture(p, &first);
    cr_assert_not(inv_persist_deps_ready(p, &first), "ready before any shard settled");
    inv_persist_pass_settle(p, a);
    inv_persist_pass_settle(p, b);
    cr_assert(inv_persist_deps_ready(p, &first), "every record is durable and settled");

    inv_persist_pass_enter(p, a);
    T_STATUS(t_release(e, x), INV_OK);
    cr_assert_eq(last_op.lsn_shard, a);
    uint64_t release_lsn = last_op.lsn;
    inv_persist_pass_settle(p, a); /* not flushed: the release is in A's buffer only */
    t_expect_cell(e, "WH-1", "SKU-A", 2, 2, 0);
    cr_assert_eq(t_stats(e).credits_waiting, 1, "the release's units wait for its record");

    inv_persist_pass_enter(p, b);
    T_STATUS(t_reserve1(e, y, "c2", "SKU-A", 2, 3600000), INV_INSUFFICIENT_STOCK);
    inv_persist_deps deps;
    inv_persist_deps_capture(p, &deps);
    inv_wal_flush(inv_persist_wal(p, b));
    cr_assert_eq(inv_wal_sync(inv_persist_wal(p, b)), 0);
    inv_persist_pass_settle(p, b);
    cr_assert_not(inv_persist_deps_ready(p, &deps),
                  "B's reply may leave while what it saw on shard %u is not durable", a);

    inv_status xs, ys;
    inv_resv_state xstate, ystate;
    inv_cell_view c = cell_after_crash(dir, crashed, &clk, &o, x, &xs, &xstate);
    cr_assert_leq(c.reserved, c.on_hand, "a crash now recovers an over-committed cell: "
                  "reserved %lld, on_hand %lld", (long long)c.reserved, (long long)c.on_hand);
    cr_assert(xs == INV_OK && xstate == INV_RESV_HELD, "the release was lost: X is HELD");

    inv_wal_flush(inv_persist_wal(p, a));
    cr_assert_eq(inv_wal_sync(inv_persist_wal(p, a)), 0);
    cr_assert_not(inv_persist_deps_ready(p, &deps), "ready before shard %u settled", a);
    inv_persist_pass_settle(p, a);
    cr_assert(inv_persist_deps_ready(p, &deps), "the release is durable: B may reply");

    /* The release is durable: its units are back, and Y may take them. */
    cr_assert_eq(inv_engine_credit_durable(e), 1);
    t_expect_cell(e, "WH-1", "SKU-A", 2, 0, 0);
    T_STATUS(t_reserve1(e, y, "c2", "SKU-A", 2, 3600000), INV_OK);
    cr_assert(inv_persist_durable(p, a, release_lsn));
    inv_persist_sync(p);
    c = cell_after_crash(dir, crashed, &clk, &o, y, &ys, &ystate);
    cr_assert(c.reserved == 2 && c.on_hand == 2 && ys == INV_OK && ystate == INV_RESV_HELD);

    /* A shard that appends nothing more settles every later pass at once. */
    inv_persist_pass_enter(p, a);
    inv_persist_pass_settle(p, a);
    inv_persist_deps_capture(p, &deps);
    cr_assert(inv_persist_deps_ready(p, &deps));
    te_stop(p, e);
    tw_dir_remove(dir);
}

/* Every kind of give-back waits for its record, whichever shard makes it: a restock,
 * a return, a lowered safety stock, a raised purchase limit, a customer's limit count
 * and a node's daily order count given back by a release. Each is checked the same
 * way: right after the change (not yet durable) another order cannot use what it gives
 * back; once the log is synced the next op can. The change's own answer already shows
 * the cell as it will be. */
Test(recovery_engine, every_give_back_waits_for_its_record) {
    char dir[TW_PATH_MAX];
    test_clock clk;
    inv_persist_options o;
    inv_persist *p;
    inv_engine *e;
    fresh_start(dir, 2, &clk, &o, &p, &e);
    char id[32];
    uint32_t n = 0;
#define NEXT_ORDER() (snprintf(id, sizeof id, "g-%u", n++), id)

    /* Restock: on_hand is exact at once (a set_to after it sees it), the units wait. */
    T_STATUS(t_adjust(e, "WH-1", "SKU-A", 3), INV_OK);
    cr_assert_eq(last_op.out.cell.available, 3, "the answer shows the cell once applied");
    t_expect_cell(e, "WH-1", "SKU-A", 3, 3, 0);
    T_STATUS(t_reserve1(e, NEXT_ORDER(), "c1", "SKU-A", 1, 3600000), INV_INSUFFICIENT_STOCK);
    inv_persist_sync(p);
    T_STATUS(t_reserve1(e, NEXT_ORDER(), "c1", "SKU-A", 1, 3600000), INV_OK);
    t_expect_cell(e, "WH-1", "SKU-A", 3, 1, 0);

    /* Return: the same through another op. */
    T_STATUS(t_return(e, "WH-1", "SKU-B", 1, "ret-1"), INV_OK);
    T_STATUS(t_reserve1(e, NEXT_ORDER(), "c1", "SKU-B", 1, 3600000), INV_INSUFFICIENT_STOCK);
    inv_persist_sync(p);
    T_STATUS(t_reserve1(e, NEXT_ORDER(), "c1", "SKU-B", 1, 3600000), INV_OK);

    /* Safety lowered: the freed units wait; raised: applies once durable too (one FIFO
     * keeps a later raise from being overtaken by an earlier lowering). */
    T_STATUS(t_set_safety(e, "WH-1", "SKU-A", 2), INV_OK);
    inv_persist_sync(p);
    T_STATUS(t_reserve1(e, NEXT_ORDER(), "c1", "SKU-A", 1, 3600000), INV_INSUFFICIENT_STOCK);
    T_STATUS(t_set_safety(e, "WH-1", "SKU-A", 0), INV_OK);
    cr_assert_eq(last_op.out.cell.safety, 0);
    cr_assert_eq(last_op.out.cell.available, 2);
    T_STATUS(t_reserve1(e, NEXT_ORDER(), "c1", "SKU-A", 1, 3600000), INV_INSUFFICIENT_STOCK);
    inv_persist_sync(p);
    T_STATUS(t_reserve1(e, NEXT_ORDER(), "c1", "SKU-A", 1, 3600000), INV_OK);

    /* Purchase limit: a raise waits; a release's limit count waits. */
    T_STATUS(t_adjust(e, "WH-1", "SKU-L", 10), INV_OK);
    T_STATUS(t_set_limit(e, "SKU-L", 1), INV_OK);
    inv_persist_sync(p);
    char held[32];
    snprintf(held, sizeof held, "%s", NEXT_ORDER());
    T_STATUS(t_reserve1(e, held, "c9", "SKU-L", 1, 3600000), INV_OK);
    T_STATUS(t_set_limit(e, "SKU-L", 2), INV_OK);
    T_STATUS(t_reserve1(e, NEXT_ORDER(), "c9", "SKU-L", 1, 3600000), INV_LIMIT_EXCEEDED);
    inv_persist_sync(p);
    T_STATUS(t_reserve1(e, NEXT_ORDER(), "c9", "SKU-L", 1, 3600000), INV_OK);
    T_STATUS(t_release(e, held), INV_OK);
    T_STATUS(t_reserve1(e, NEXT_ORDER(), "c9", "SKU-L", 1, 3600000), INV_LIMIT_EXCEEDED);
    inv_persist_sync(p);
    T_STATUS(t_reserve1(e, NEXT_ORDER(), "c9", "SKU-L", 1, 3600000), INV_OK);

    /* Node capacity: a release's order count waits. */
    T_STATUS(t_upsert_node(e, "ST-1", INV_NODE_STORE, 31.2, 121.4, 1, 0), INV_OK);
    T_STATUS(t_adjust(e, "ST-1", "SKU-C", 5), INV_OK);
    inv_persist_sync(p);
    snprintf(held, sizeof held, "%s", NEXT_ORDER());
    T_STATUS(t_reserve1(e, held, "c1", "SKU-C", 1, 3600000), INV_OK);
    cr_assert_neq(t_reserve1(e, NEXT_ORDER(), "c1", "SKU-C", 1, 3600000), INV_OK,
                  "ST-1 takes one order a day");
    T_STATUS(t_release(e, held), INV_OK);
    cr_assert_neq(t_reserve1(e, NEXT_ORDER(), "c1", "SKU-C", 1, 3600000), INV_OK,
                  "the order count came back before its release was durable");
    inv_persist_sync(p);
    T_STATUS(t_reserve1(e, NEXT_ORDER(), "c1", "SKU-C", 1, 3600000), INV_OK);
#undef NEXT_ORDER
    inv_persist_sync(p);
    cr_assert_eq(inv_engine_credit_durable(e), 0, "nothing waits once synced and applied");
    cr_assert_eq(t_stats(e).credits_waiting, 0);
    te_stop(p, e);
    tw_dir_remove(dir);
}
