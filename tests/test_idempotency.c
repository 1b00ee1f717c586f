/*
 * test_idempotency.c — retries: the same request twice gives the same answer and changes
 * state once; the same key with other content is CONFLICT (DESIGN.md §3, §10.4).
 *
 * Covers: a reserve retried while HELD answers the same allocation and expiry; retried
 * after commit / release / expiry it hits the tombstone (OK, is_tombstone, final state)
 * and takes nothing; a failed reserve is not remembered (the retry re-evaluates); the
 * same order_id with another customer, SKU, qty, destination, TTL, policy, max_parcels or
 * max_distance_km is CONFLICT,
 * live or tombstoned, and changes nothing; commit / release retries; retries across
 * shards; tombstones and ref_ids are dropped after the idempotency window (fake clock +
 * inv_engine_expire), not before; a full tombstone ring drops its oldest early and says
 * so in stats.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "test_support.h"

#define T0_MS 1731200000000ull
#define TTL_MS 600000u
#define WINDOW_MS 10000u /* short idempotency window for the drop tests */

static test_clock clk = {T0_MS};
static inv_engine *e;

static inv_engine *open_engine(uint32_t shards, uint64_t window_ms, uint32_t tombstones_max) {
    inv_engine_config cfg;
    test_config_small(&cfg, shards);
    cfg.clock = test_clock_read;
    cfg.clock_ctx = &clk;
    cfg.idempotency_window_ms = window_ms;
    if (tombstones_max != 0) cfg.tombstones_per_shard_max = tombstones_max;
    inv_engine *eng = test_engine_open_config(&cfg);
    T_STATUS(t_upsert_node(eng, "sh", INV_NODE_WAREHOUSE, T_DEST_LAT, T_DEST_LON, 0, 0), INV_OK);
    T_STATUS(t_upsert_node(eng, "hz", INV_NODE_WAREHOUSE, 30.2741, 120.1551, 0, 0), INV_OK);
    T_STATUS(t_adjust(eng, "sh", "tea", 100), INV_OK);
    T_STATUS(t_adjust(eng, "sh", "cup", 100), INV_OK);
    return eng;
}

static void setup(void) {
    clk.now_ms = T0_MS;
    e = open_engine(4, 0, 0);
}
static void teardown(void) {
    if (e != NULL) inv_engine_close(e);
    e = NULL;
}

TestSuite(idem, .init = setup, .fini = teardown);

static void expect_tea(int64_t on_hand, int64_t reserved) {
    inv_cell_view v = t_cell(e, "sh", "tea");
    cr_assert(v.on_hand == on_hand && v.reserved == reserved,
              "sh/tea on_hand/reserved = %lld/%lld, expected %lld/%lld", (long long)v.on_hand,
              (long long)v.reserved, (long long)on_hand, (long long)reserved);
}

/* A reserve with every field explicit, for the content variations. */
typedef struct reserve_case {
    const char *customer;
    const char *sku;
    uint32_t qty;
    double lat, lon;
    uint64_t ttl_ms;
    inv_route_policy policy;
    uint32_t max_parcels;
    double max_distance_km;
} reserve_case;

static const reserve_case base_case = {"c1", "tea", 2, T_DEST_LAT, T_DEST_LON, TTL_MS,
                                       INV_ROUTE_NEAREST, 0, 0};

static inv_status reserve_case_run(const char *order, const reserve_case *c) {
    static inv_line line;
    line.sku = c->sku;
    line.qty = c->qty;
    inv_reserve_args a;
    memset(&a, 0, sizeof a);
    a.order_id = order;
    a.customer_id = c->customer;
    a.dest.has_point = true;
    a.dest.lat = c->lat;
    a.dest.lon = c->lon;
    a.lines = &line;
    a.line_count = 1;
    a.ttl_ms = c->ttl_ms;
    a.policy = c->policy;
    a.max_parcels = c->max_parcels;
    a.max_distance_km = c->max_distance_km;
    return t_reserve_args(e, &a);
}

Test(idem, same_reserve_twice_same_answer_one_hold) {
    T_STATUS(reserve_case_run("o1", &base_case), INV_OK);
    inv_reservation_view first = last_op.out.reservation;
    expect_tea(100, 2);
    clk.now_ms += 5000; /* a retry a little later */
    for (int i = 0; i < 3; i++) {
        T_STATUS(reserve_case_run("o1", &base_case), INV_OK);
        const inv_reservation_view *v = &last_op.out.reservation;
        T_EQ(v->state, INV_RESV_HELD);
        cr_assert(!v->is_tombstone);
        T_EQU(v->expires_at_ms, first.expires_at_ms); /* not pushed by the retry */
        T_EQU(v->alloc_count, first.alloc_count);
        T_EQU(v->parcels, first.parcels);
        for (uint32_t k = 0; k < first.alloc_count; k++) {
            T_EQU(v->alloc[k].sku, first.alloc[k].sku);
            T_EQU(v->alloc[k].node, first.alloc[k].node);
            T_EQU(v->alloc[k].qty, first.alloc[k].qty);
        }
        expect_tea(100, 2);
    }
    inv_engine_stats st = t_stats(e);
    T_EQU(st.reservations_live, 1);
    T_EQU(st.reserves_ok, 1); /* retries answer, they do not reserve */
}

Test(idem, different_content_is_conflict_and_changes_nothing) {
    T_STATUS(reserve_case_run("o1", &base_case), INV_OK);
#define VARIANTS 9
    reserve_case variants[VARIANTS];
    for (int i = 0; i < VARIANTS; i++) variants[i] = base_case;
    variants[0].customer = "c2";
    variants[1].sku = "cup";
    variants[2].qty = 3;
    variants[3].lat = 30.0;
    variants[4].lon = 120.0;
    variants[5].ttl_ms = TTL_MS + 1;
    variants[6].policy = INV_ROUTE_SINGLE_NODE_ONLY;
    variants[7].max_parcels = 2;
    variants[8].max_distance_km = 500.0;
    test_fingerprint before, after;
    t_fingerprint(e, &before);
    for (int i = 0; i < VARIANTS; i++) {
        T_STATUS(reserve_case_run("o1", &variants[i]), INV_CONFLICT);
        cr_assert_neq(last_op.message[0], '\0', "variant %d: CONFLICT needs a message", i);
        T_EQU(last_op.out.reservation.alloc_count, 0);
    }
    t_fingerprint(e, &after);
    t_fingerprint_assert_same(&before, &after, "conflicting retries of a live order");
    /* the original still answers */
    T_STATUS(reserve_case_run("o1", &base_case), INV_OK);
    T_EQ(last_op.out.reservation.state, INV_RESV_HELD);
    T_STATUS(t_commit(e, "o1"), INV_OK);
    /* and against the tombstone */
    t_fingerprint(e, &before);
    for (int i = 0; i < VARIANTS; i++)
        T_STATUS(reserve_case_run("o1", &variants[i]), INV_CONFLICT);
    t_fingerprint(e, &after);
    t_fingerprint_assert_same(&before, &after, "conflicting retries of a committed order");
}

Test(idem, retry_after_commit_hits_tombstone) {
    T_STATUS(reserve_case_run("o1", &base_case), INV_OK);
    T_STATUS(t_commit(e, "o1"), INV_OK);
    expect_tea(98, 0);
    for (int i = 0; i < 2; i++) {
        T_STATUS(reserve_case_run("o1", &base_case), INV_OK);
        cr_assert(last_op.out.reservation.is_tombstone);
        T_EQ(last_op.out.reservation.state, INV_RESV_COMMITTED);
        expect_tea(98, 0); /* nothing held again */
    }
    T_STATUS(t_commit(e, "o1"), INV_OK); /* commit retry */
    T_EQ(last_op.out.reservation.state, INV_RESV_COMMITTED);
    expect_tea(98, 0);
    T_EQU(t_stats(e).commits, 1);
    T_EQU(t_stats(e).reservations_live, 0);
}

Test(idem, retry_after_release_hits_tombstone) {
    T_STATUS(reserve_case_run("o1", &base_case), INV_OK);
    T_STATUS(t_release(e, "o1"), INV_OK);
    expect_tea(100, 0);
    T_STATUS(reserve_case_run("o1", &base_case), INV_OK);
    cr_assert(last_op.out.reservation.is_tombstone);
    T_EQ(last_op.out.reservation.state, INV_RESV_RELEASED);
    expect_tea(100, 0);
    T_STATUS(t_release(e, "o1"), INV_OK);
    T_EQ(last_op.out.reservation.state, INV_RESV_RELEASED);
    expect_tea(100, 0);
    T_EQU(t_stats(e).releases, 1);
    T_EQU(t_stats(e).reservations_live, 0);
}

Test(idem, retry_after_expiry_hits_tombstone) {
    reserve_case c = base_case;
    c.ttl_ms = 1000;
    T_STATUS(reserve_case_run("o1", &c), INV_OK);
    clk.now_ms += 1000;
    T_EQU(inv_engine_expire(e), 1);
    expect_tea(100, 0);
    T_STATUS(reserve_case_run("o1", &c), INV_OK);
    cr_assert(last_op.out.reservation.is_tombstone);
    T_EQ(last_op.out.reservation.state, INV_RESV_EXPIRED);
    expect_tea(100, 0);
    /* release of the expired order: OK, says EXPIRED, gives nothing back twice */
    T_STATUS(t_release(e, "o1"), INV_OK);
    T_EQ(last_op.out.reservation.state, INV_RESV_EXPIRED);
    T_STATUS(t_commit(e, "o1"), INV_EXPIRED);
    expect_tea(100, 0);
    T_EQU(t_stats(e).expirations, 1);
}

Test(idem, failed_reserve_is_not_remembered) {
    reserve_case c = base_case;
    c.qty = 150; /* 100 on hand */
    T_STATUS(reserve_case_run("big", &c), INV_INSUFFICIENT_STOCK);
    T_EQU(last_op.out.reservation.shortfall[0], 50);
    T_STATUS(t_get(e, "big"), INV_NOT_FOUND);
    T_STATUS(t_adjust(e, "sh", "tea", 60), INV_OK);
    T_STATUS(reserve_case_run("big", &c), INV_OK); /* re-evaluated */
    T_EQ(last_op.out.reservation.state, INV_RESV_HELD);
    cr_assert(!last_op.out.reservation.is_tombstone);
    expect_tea(160, 150);
    /* a failed order_id may even be reused with other content */
    reserve_case small = base_case;
    small.qty = 500;
    T_STATUS(reserve_case_run("retry-other", &small), INV_INSUFFICIENT_STOCK);
    small.qty = 1;
    T_STATUS(reserve_case_run("retry-other", &small), INV_OK);
    expect_tea(160, 151);
}

/* Many orders over all shards, each retried; state changes exactly once per order. */
Test(idem, retries_across_shards) {
    char id[32];
    for (int round = 0; round < 3; round++) {
        for (uint32_t i = 0; i < 40; i++) {
            snprintf(id, sizeof id, "order-%u", i);
            T_STATUS(reserve_case_run(id, &base_case), INV_OK);
            if (round > 0 && i % 2 == 0) {
                cr_assert(last_op.out.reservation.is_tombstone, "%s round %d", id, round);
                T_EQ(last_op.out.reservation.state, INV_RESV_COMMITTED);
            } else {
                T_EQ(last_op.out.reservation.state, INV_RESV_HELD);
            }
        }
        if (round == 0) {
            for (uint32_t i = 0; i < 40; i += 2) {
                snprintf(id, sizeof id, "order-%u", i);
                T_STATUS(t_commit(e, id), INV_OK);
            }
        }
        expect_tea(100 - 20 * 2, 20 * 2);
    }
    T_EQU(t_stats(e).reserves_ok, 40);
    T_EQU(t_stats(e).reservations_live, 20);
    T_EQU(t_stats(e).commits, 20);
}

Test(idem, tombstone_dropped_after_window) {
    inv_engine_close(e);
    clk.now_ms = T0_MS;
    e = open_engine(2, WINDOW_MS, 0);
    T_STATUS(reserve_case_run("o1", &base_case), INV_OK);
    T_STATUS(reserve_case_run("o2", &base_case), INV_OK);
    T_STATUS(t_commit(e, "o1"), INV_OK); /* tombstone at T0 */
    clk.now_ms = T0_MS + 4000;
    T_STATUS(t_release(e, "o2"), INV_OK); /* tombstone at T0 + 4 s */
    T_EQU(t_stats(e).tombstones, 2);
    expect_tea(98, 0);

    clk.now_ms = T0_MS + WINDOW_MS - 1;
    T_EQU(inv_engine_expire(e), 0);
    T_EQU(t_stats(e).tombstones, 2);
    T_STATUS(t_get(e, "o1"), INV_OK); /* still remembered */
    T_EQ(last_op.out.reservation.state, INV_RESV_COMMITTED);

    clk.now_ms = T0_MS + WINDOW_MS + 1;
    T_EQU(inv_engine_expire(e), 0);
    T_EQU(t_stats(e).tombstones, 1);
    T_STATUS(t_get(e, "o1"), INV_NOT_FOUND);
    T_STATUS(t_commit(e, "o1"), INV_NOT_FOUND);
    T_STATUS(t_get(e, "o2"), INV_OK);
    T_EQ(last_op.out.reservation.state, INV_RESV_RELEASED);

    clk.now_ms = T0_MS + 4000 + WINDOW_MS + 1;
    T_EQU(inv_engine_expire(e), 0);
    T_EQU(t_stats(e).tombstones, 0);
    T_STATUS(t_get(e, "o2"), INV_NOT_FOUND);
    T_EQU(t_stats(e).tombstones_dropped_early, 0);

    /* past the window the order id is new again: a fresh hold */
    T_STATUS(reserve_case_run("o1", &base_case), INV_OK);
    cr_assert(!last_op.out.reservation.is_tombstone);
    T_EQ(last_op.out.reservation.state, INV_RESV_HELD);
    expect_tea(98, 2);
}

Test(idem, ref_id_forgotten_after_window) {
    inv_engine_close(e);
    clk.now_ms = T0_MS;
    e = open_engine(3, WINDOW_MS, 0);
    T_STATUS(t_adjust_ref(e, "hz", "tea", 5, "wms-9"), INV_OK);
    clk.now_ms = T0_MS + WINDOW_MS - 1;
    inv_engine_expire(e);
    T_STATUS(t_adjust_ref(e, "hz", "tea", 5, "wms-9"), INV_DUPLICATE_REF);
    T_EQ(t_cell(e, "hz", "tea").on_hand, 5);
    clk.now_ms = T0_MS + WINDOW_MS + 1;
    inv_engine_expire(e);
    T_STATUS(t_adjust_ref(e, "hz", "tea", 5, "wms-9"), INV_OK);
    T_EQ(t_cell(e, "hz", "tea").on_hand, 10);
}

/* A shard remembers at most tombstones_per_shard_max finished orders: the oldest leave
 * early and are counted, the newest still answer. */
Test(idem, full_tombstone_ring_drops_oldest_and_counts) {
    inv_engine_close(e);
    clk.now_ms = T0_MS;
    e = open_engine(1, 0, 4);
    char id[16];
    for (uint32_t i = 0; i < 6; i++) {
        snprintf(id, sizeof id, "t-%u", i);
        T_STATUS(reserve_case_run(id, &base_case), INV_OK);
        T_STATUS(t_release(e, id), INV_OK);
    }
    inv_engine_stats st = t_stats(e);
    T_EQU(st.tombstones, 4);
    T_EQU(st.tombstones_dropped_early, 2);
    T_STATUS(t_get(e, "t-0"), INV_NOT_FOUND);
    T_STATUS(t_get(e, "t-1"), INV_NOT_FOUND);
    for (uint32_t i = 2; i < 6; i++) {
        snprintf(id, sizeof id, "t-%u", i);
        T_STATUS(t_get(e, id), INV_OK);
        T_EQ(last_op.out.reservation.state, INV_RESV_RELEASED);
    }
    expect_tea(100, 0);
}
