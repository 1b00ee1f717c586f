/*
 * test_lifecycle.c — the life of a reservation: Reserve → HELD → Commit / Release, Extend,
 * GetReservation, with the exact stock counters on every cell at every step.
 *
 * Covers (DESIGN.md §3, resv.c state diagram): reserve holds (reserved += qty, on_hand
 * unchanged), commit takes (on_hand −= qty, reserved −= qty), release gives back
 * (reserved −= qty); the answers on finished orders: commit after release →
 * ALREADY_RELEASED, release after commit → ALREADY_COMMITTED, commit of COMMITTED → OK,
 * release of RELEASED → OK, extend of a finished order → ALREADY_*; NOT_FOUND for
 * unknown orders; the view (state, tombstone flag, expiry, allocation, parcels);
 * shortfall per line on INSUFFICIENT_STOCK; multi-line and multi-node orders; stats.
 */
#define _GNU_SOURCE /* RUSAGE_THREAD */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "test_support.h"

#define T0_MS 1731200000000ull
#define TTL_MS 900000u /* 15 min: a checkout's payment window */

static test_clock clk = {T0_MS};
static inv_engine *e;

static void setup(void) {
    clk.now_ms = T0_MS;
    e = test_engine_open_small(4, &clk);
    /* "sh" is next to the destination; "bj" is 1000 km away. */
    T_STATUS(t_upsert_node(e, "sh", INV_NODE_WAREHOUSE, T_DEST_LAT, T_DEST_LON, 0, 0), INV_OK);
    T_STATUS(t_upsert_node(e, "bj", INV_NODE_WAREHOUSE, 39.9042, 116.4074, 0, 0), INV_OK);
    T_STATUS(t_adjust(e, "sh", "tea", 10), INV_OK);
    T_STATUS(t_adjust(e, "sh", "cup", 20), INV_OK);
    T_STATUS(t_adjust(e, "sh", "pot", 3), INV_OK);
    T_STATUS(t_adjust(e, "bj", "fan", 8), INV_OK);
}
static void teardown(void) { inv_engine_close(e); }

TestSuite(lifecycle, .init = setup, .fini = teardown);

static void expect_cell(const char *node, const char *sku, int64_t on_hand, int64_t reserved) {
    inv_cell_view v = t_cell(e, node, sku);
    cr_assert(v.on_hand == on_hand && v.reserved == reserved,
              "%s/%s on_hand/reserved = %lld/%lld, expected %lld/%lld", node, sku,
              (long long)v.on_hand, (long long)v.reserved, (long long)on_hand,
              (long long)reserved);
    T_EQ(v.available, on_hand - reserved - v.safety);
}

static void expect_state(const char *order, inv_resv_state state, bool tombstone) {
    T_STATUS(t_get(e, order), INV_OK);
    cr_assert_eq(last_op.out.reservation.state, state, "%s is %s, expected %s", order,
                 inv_resv_state_name(last_op.out.reservation.state), inv_resv_state_name(state));
    cr_assert_eq(last_op.out.reservation.is_tombstone, tombstone, "%s is_tombstone", order);
}

Test(lifecycle, reserve_holds_units) {
    T_STATUS(t_reserve1(e, "o1", "c1", "tea", 4, TTL_MS), INV_OK);
    const inv_reservation_view *v = &last_op.out.reservation;
    cr_assert_str_eq(last_op.message, "");
    T_EQ(v->state, INV_RESV_HELD);
    cr_assert(!v->is_tombstone);
    T_EQU(v->expires_at_ms, T0_MS + TTL_MS);
    T_EQU(v->parcels, 1);
    T_EQU(v->alloc_count, 1);
    T_EQU(v->alloc[0].sku, t_sku(e, "tea"));
    T_EQU(v->alloc[0].node, t_node(e, "sh"));
    T_EQU(v->alloc[0].qty, 4);
    cr_assert_geq(v->cost, 0.0);
    expect_cell("sh", "tea", 10, 4);

    inv_engine_stats st = t_stats(e);
    T_EQU(st.reservations_live, 1);
    T_EQU(st.reserves_ok, 1);
    T_EQU(st.reserves_failed, 0);
    cr_assert_gt(st.reservation_bytes, 0);

    /* GetReservation shows the same */
    T_STATUS(t_get(e, "o1"), INV_OK);
    T_EQ(v->state, INV_RESV_HELD);
    cr_assert(!v->is_tombstone);
    T_EQU(v->expires_at_ms, T0_MS + TTL_MS);
    T_EQU(v->alloc_count, 1);
    T_EQU(v->alloc[0].qty, 4);
    T_EQU(v->parcels, 1);
    expect_cell("sh", "tea", 10, 4);
}

Test(lifecycle, commit_takes_units) {
    T_STATUS(t_reserve1(e, "o1", "c1", "tea", 4, TTL_MS), INV_OK);
    clk.now_ms += 1000;
    T_STATUS(t_commit(e, "o1"), INV_OK);
    const inv_reservation_view *v = &last_op.out.reservation;
    T_EQ(v->state, INV_RESV_COMMITTED);
    T_EQU(v->alloc_count, 1);
    T_EQU(v->alloc[0].qty, 4);
    expect_cell("sh", "tea", 6, 0);
    expect_state("o1", INV_RESV_COMMITTED, true);
    inv_engine_stats st = t_stats(e);
    T_EQU(st.commits, 1);
    T_EQU(st.reservations_live, 0);
    T_EQU(st.tombstones, 1);
    T_EQU(st.reservation_bytes, 0);

    /* commit again: OK, nothing taken twice */
    T_STATUS(t_commit(e, "o1"), INV_OK);
    T_EQ(last_op.out.reservation.state, INV_RESV_COMMITTED);
    cr_assert(last_op.out.reservation.is_tombstone);
    expect_cell("sh", "tea", 6, 0);
    T_EQU(t_stats(e).commits, 1);

    /* release after commit: ALREADY_COMMITTED, nothing given back */
    T_STATUS(t_release(e, "o1"), INV_ALREADY_COMMITTED);
    cr_assert_neq(last_op.message[0], '\0');
    T_EQ(last_op.out.reservation.state, INV_RESV_COMMITTED);
    expect_cell("sh", "tea", 6, 0);
    /* extend after commit */
    T_STATUS(t_extend(e, "o1", 60000), INV_ALREADY_COMMITTED);
    expect_cell("sh", "tea", 6, 0);
    expect_state("o1", INV_RESV_COMMITTED, true);
}

Test(lifecycle, release_gives_units_back) {
    T_STATUS(t_reserve1(e, "o1", "c1", "tea", 4, TTL_MS), INV_OK);
    T_STATUS(t_reserve1(e, "o2", "c2", "tea", 5, TTL_MS), INV_OK);
    expect_cell("sh", "tea", 10, 9);
    T_STATUS(t_release(e, "o1"), INV_OK);
    T_EQ(last_op.out.reservation.state, INV_RESV_RELEASED);
    expect_cell("sh", "tea", 10, 5);
    expect_state("o1", INV_RESV_RELEASED, true);
    expect_state("o2", INV_RESV_HELD, false);
    T_EQU(t_stats(e).releases, 1);
    T_EQU(t_stats(e).reservations_live, 1);

    /* release again: OK, state RELEASED, nothing given back twice */
    T_STATUS(t_release(e, "o1"), INV_OK);
    T_EQ(last_op.out.reservation.state, INV_RESV_RELEASED);
    expect_cell("sh", "tea", 10, 5);
    T_EQU(t_stats(e).releases, 1);

    /* commit after release: ALREADY_RELEASED, nothing taken */
    T_STATUS(t_commit(e, "o1"), INV_ALREADY_RELEASED);
    cr_assert_neq(last_op.message[0], '\0');
    T_EQ(last_op.out.reservation.state, INV_RESV_RELEASED);
    expect_cell("sh", "tea", 10, 5);
    T_STATUS(t_extend(e, "o1", 60000), INV_ALREADY_RELEASED);
    expect_cell("sh", "tea", 10, 5);

    /* the other order is unaffected and still commits */
    T_STATUS(t_commit(e, "o2"), INV_OK);
    expect_cell("sh", "tea", 5, 0);
}

Test(lifecycle, extend_sets_expiry_from_now) {
    T_STATUS(t_reserve1(e, "o1", "c1", "tea", 1, 60000), INV_OK);
    T_EQU(last_op.out.reservation.expires_at_ms, T0_MS + 60000);
    clk.now_ms = T0_MS + 30000;
    T_STATUS(t_extend(e, "o1", 120000), INV_OK);
    T_EQ(last_op.out.reservation.state, INV_RESV_HELD);
    T_EQU(last_op.out.reservation.expires_at_ms, T0_MS + 30000 + 120000);
    T_EQU(last_op.out.reservation.alloc_count, 1);
    T_STATUS(t_get(e, "o1"), INV_OK);
    T_EQU(last_op.out.reservation.expires_at_ms, T0_MS + 150000);
    /* shorter than before is allowed too: now + ttl */
    clk.now_ms = T0_MS + 40000;
    T_STATUS(t_extend(e, "o1", 1000), INV_OK);
    T_EQU(last_op.out.reservation.expires_at_ms, T0_MS + 41000);
    expect_cell("sh", "tea", 10, 1);
    T_STATUS(t_commit(e, "o1"), INV_OK);
    expect_cell("sh", "tea", 9, 0);
}

Test(lifecycle, unknown_orders_are_not_found) {
    T_STATUS(t_get(e, "nope"), INV_NOT_FOUND);
    cr_assert_neq(last_op.message[0], '\0');
    T_STATUS(t_commit(e, "nope"), INV_NOT_FOUND);
    T_STATUS(t_release(e, "nope"), INV_NOT_FOUND);
    T_STATUS(t_extend(e, "nope", 1000), INV_NOT_FOUND);
    expect_cell("sh", "tea", 10, 0);
    T_EQU(t_stats(e).tombstones, 0);
}

Test(lifecycle, multi_line_order_counts_every_cell) {
    static const char *const lines[] = {"tea:2", "cup:6", "pot:3", NULL};
    T_STATUS(t_reserve(e, "basket", "c1", T_DEST_LAT, T_DEST_LON, TTL_MS, lines), INV_OK);
    const inv_reservation_view *v = &last_op.out.reservation;
    T_EQU(v->parcels, 1);
    T_EQU(v->alloc_count, 3);
    uint32_t sh = t_node(e, "sh");
    T_EQU(t_alloc_qty(v, t_sku(e, "tea"), sh), 2);
    T_EQU(t_alloc_qty(v, t_sku(e, "cup"), sh), 6);
    T_EQU(t_alloc_qty(v, t_sku(e, "pot"), sh), 3);
    expect_cell("sh", "tea", 10, 2);
    expect_cell("sh", "cup", 20, 6);
    expect_cell("sh", "pot", 3, 3);

    T_STATUS(t_commit(e, "basket"), INV_OK);
    expect_cell("sh", "tea", 8, 0);
    expect_cell("sh", "cup", 14, 0);
    expect_cell("sh", "pot", 0, 0);
    T_EQU(t_stats(e).commits, 1);
}

/* "fan" is only in Beijing, "tea" only in Shanghai: two parcels. */
Test(lifecycle, multi_node_order_counts_every_cell) {
    static const char *const lines[] = {"tea:1", "fan:2", NULL};
    T_STATUS(t_reserve(e, "two-parcels", "c1", T_DEST_LAT, T_DEST_LON, TTL_MS, lines), INV_OK);
    const inv_reservation_view *v = &last_op.out.reservation;
    T_EQU(v->parcels, 2);
    T_EQU(v->alloc_count, 2);
    T_EQU(t_alloc_qty(v, t_sku(e, "tea"), t_node(e, "sh")), 1);
    T_EQU(t_alloc_qty(v, t_sku(e, "fan"), t_node(e, "bj")), 2);
    cr_assert_gt(v->cost, 900.0, "a parcel from Beijing costs ~1000 km (cost %f)", v->cost);
    expect_cell("sh", "tea", 10, 1);
    expect_cell("bj", "fan", 8, 2);
    T_STATUS(t_release(e, "two-parcels"), INV_OK);
    expect_cell("sh", "tea", 10, 0);
    expect_cell("bj", "fan", 8, 0);
}

/* One line larger than any single node: split over two nodes, each cell exact. */
Test(lifecycle, split_line_counts_every_cell) {
    T_STATUS(t_adjust(e, "bj", "tea", 10), INV_OK);
    T_STATUS(t_reserve1(e, "big", "c1", "tea", 15, TTL_MS), INV_OK);
    const inv_reservation_view *v = &last_op.out.reservation;
    T_EQU(v->parcels, 2);
    uint32_t tea = t_sku(e, "tea");
    uint32_t at_sh = t_alloc_qty(v, tea, t_node(e, "sh"));
    uint32_t at_bj = t_alloc_qty(v, tea, t_node(e, "bj"));
    T_EQU(at_sh + at_bj, 15);
    cr_assert(at_sh >= 5 && at_bj >= 5, "both nodes are needed (%u + %u)", at_sh, at_bj);
    expect_cell("sh", "tea", 10, at_sh);
    expect_cell("bj", "tea", 10, at_bj);
    T_STATUS(t_commit(e, "big"), INV_OK);
    expect_cell("sh", "tea", 10 - (int64_t)at_sh, 0);
    expect_cell("bj", "tea", 10 - (int64_t)at_bj, 0);
}

Test(lifecycle, insufficient_stock_reports_shortfall_per_line) {
    static const char *const lines[] = {"tea:3", "pot:7", "cup:1", NULL};
    T_STATUS(t_reserve(e, "short", "c1", T_DEST_LAT, T_DEST_LON, TTL_MS, lines),
             INV_INSUFFICIENT_STOCK);
    const inv_reservation_view *v = &last_op.out.reservation;
    cr_assert_neq(last_op.message[0], '\0');
    T_EQU(v->shortfall[0], 0);
    T_EQU(v->shortfall[1], 4); /* 3 of 7 pots exist */
    T_EQU(v->shortfall[2], 0);
    T_EQU(v->alloc_count, 0);
    expect_cell("sh", "tea", 10, 0);
    expect_cell("sh", "pot", 3, 0);
    expect_cell("sh", "cup", 20, 0);
    T_EQU(t_stats(e).reserves_failed, 1);
    T_EQU(t_stats(e).reservations_live, 0);
    T_STATUS(t_get(e, "short"), INV_NOT_FOUND);
}

Test(lifecycle, exact_stock_then_one_more) {
    T_STATUS(t_reserve1(e, "all", "c1", "pot", 3, TTL_MS), INV_OK);
    expect_cell("sh", "pot", 3, 3);
    T_STATUS(t_reserve1(e, "one-more", "c2", "pot", 1, TTL_MS), INV_INSUFFICIENT_STOCK);
    T_EQU(last_op.out.reservation.shortfall[0], 1);
    expect_cell("sh", "pot", 3, 3);
    /* releasing makes it available again */
    T_STATUS(t_release(e, "all"), INV_OK);
    T_STATUS(t_reserve1(e, "one-more", "c2", "pot", 1, TTL_MS), INV_OK);
    expect_cell("sh", "pot", 3, 1);
}

/* Many orders through every path; the cells equal the sum of what is HELD / COMMITTED. */
Test(lifecycle, counters_match_many_orders) {
    T_STATUS(t_adjust(e, "sh", "tea", 990), INV_OK); /* 1000 */
    char id[32];
    int64_t held = 0, committed = 0;
    for (uint32_t i = 0; i < 300; i++) {
        snprintf(id, sizeof id, "bulk-%u", i);
        uint32_t qty = 1 + i % 3;
        T_STATUS(t_reserve1(e, id, "c-bulk", "tea", qty, TTL_MS), INV_OK);
        switch (i % 4) {
        case 0: T_STATUS(t_commit(e, id), INV_OK); committed += qty; break;
        case 1: T_STATUS(t_release(e, id), INV_OK); break;
        case 2: T_STATUS(t_extend(e, id, TTL_MS), INV_OK); held += qty; break;
        default: held += qty; break;
        }
    }
    expect_cell("sh", "tea", 1000 - committed, held);
    inv_engine_stats st = t_stats(e);
    T_EQU(st.reservations_live, 150);
    T_EQU(st.commits, 75);
    T_EQU(st.releases, 75);
    T_EQU(st.tombstones, 150);
    T_EQU(st.reserves_ok, 300);
    for (uint32_t i = 0; i < 300; i++) {
        snprintf(id, sizeof id, "bulk-%u", i);
        inv_resv_state want = i % 4 == 0 ? INV_RESV_COMMITTED
                              : i % 4 == 1 ? INV_RESV_RELEASED : INV_RESV_HELD;
        expect_state(id, want, want != INV_RESV_HELD);
    }
}

/* DESIGN.md §9 memory targets, as laid out in this build. */
Test(lifecycle, memory_per_cell_and_per_reservation) {
    cr_assert_leq(inv_engine_bytes_per_cell(), 32, "%zu bytes per cell",
                  inv_engine_bytes_per_cell());
    size_t one = inv_engine_bytes_per_reservation_typical(1, 20, 12);
    size_t five = inv_engine_bytes_per_reservation_typical(5, 24, 16);
    cr_assert_leq(one, 160, "%zu bytes per 1-line reservation", one);
    cr_assert_leq(five, 160, "%zu bytes per 5-line reservation", five);
    cr_assert_leq(one, five, "more lines cost less (%zu > %zu)", one, five);
    cr_assert_gt(one, 0);
}

/* Bug pinned: resv.c arena_alloc/arena_free keep one free list per size class and never
 * give a freed record's units to another class, so memory once used by large records
 * (long ids, many lines/parcels) is lost to small ones: RESOURCE_EXHAUSTED ("holds its
 * maximum of live reservations") with a handful live. Freed memory must serve any size:
 * a shard sized for 64 live reservations holds 64 small ones after having held (and
 * released) 30 large ones (64-byte ids), round after round — while one small order stays
 * HELD throughout, as some always do in production. (Sizes: with 32-byte units a large
 * record takes 6 units, a small one 2, the shard 4 × 64 = 256: everything here fits even
 * with power-of-two rounding.) */
Test(lifecycle, regression_freed_reservation_memory_serves_other_sizes) {
    inv_engine_close(e);
    inv_engine_config cfg;
    test_config_small(&cfg, 1);
    cfg.reservations_per_shard_max = 64;
    cfg.clock = test_clock_read;
    cfg.clock_ctx = &clk;
    e = test_engine_open_config(&cfg);
    T_STATUS(t_upsert_node(e, "sh", INV_NODE_WAREHOUSE, T_DEST_LAT, T_DEST_LON, 0, 0), INV_OK);
    T_STATUS(t_adjust(e, "sh", "tea", 1000), INV_OK);
    static char big_ids[30][INV_ID_LEN_MAX + 1], big_customer[INV_ID_LEN_MAX + 1];
    memset(big_customer, 'c', INV_ID_LEN_MAX);
    T_STATUS(t_reserve1(e, "anchor", "c", "tea", 1, TTL_MS), INV_OK); /* HELD throughout */
    for (uint32_t round = 0; round < 3; round++) {
        for (uint32_t i = 0; i < 30; i++) {
            memset(big_ids[i], 'o', INV_ID_LEN_MAX);
            snprintf(big_ids[i], sizeof big_ids[i], "%u-%u-", round, i);
            big_ids[i][strlen(big_ids[i])] = 'o';
            T_EQU(strlen(big_ids[i]), INV_ID_LEN_MAX);
            T_STATUS(t_reserve1(e, big_ids[i], big_customer, "tea", 1, TTL_MS), INV_OK);
        }
        for (uint32_t i = 0; i < 30; i++) T_STATUS(t_release(e, big_ids[i]), INV_OK);
        T_EQU(t_stats(e).reservations_live, 1);
        char id[16];
        for (uint32_t i = 0; i < 63; i++) {
            snprintf(id, sizeof id, "s%u-%u", round, i);
            T_STATUS(t_reserve1(e, id, "c", "tea", 1, TTL_MS), INV_OK);
        }
        T_EQU(t_stats(e).reservations_live, 64);
        for (uint32_t i = 0; i < 63; i++) {
            snprintf(id, sizeof id, "s%u-%u", round, i);
            T_STATUS(t_release(e, id), INV_OK);
        }
    }
    T_STATUS(t_release(e, "anchor"), INV_OK);
    T_EQ(t_cell(e, "sh", "tea").reserved, 0);
    T_EQU(t_stats(e).reservation_bytes, 0);
}

/* The edges of every range are valid input: TTL of exactly INV_TTL_MS_MAX, a 64-byte
 * order id, coordinates at ±90 / ±180, max_parcels above INV_PARCELS_MAX (clamped, not
 * refused), INV_QTY_MAX on hand. */
Test(lifecycle, range_edges_are_accepted) {
    T_STATUS(t_reserve1(e, "ttl-max", "c1", "tea", 1, INV_TTL_MS_MAX), INV_OK);
    T_EQU(last_op.out.reservation.expires_at_ms, T0_MS + INV_TTL_MS_MAX);
    char id[INV_ID_LEN_MAX + 1];
    memset(id, 'x', INV_ID_LEN_MAX);
    id[INV_ID_LEN_MAX] = '\0';
    T_STATUS(t_reserve1(e, id, id, "tea", 1, TTL_MS), INV_OK);
    T_STATUS(t_commit(e, id), INV_OK);
    static const double corners[4][2] = {{90, 180}, {-90, -180}, {90, -180}, {-90, 180}};
    for (int i = 0; i < 4; i++) {
        static const char *const lines[] = {"cup:1", NULL};
        char order[16];
        snprintf(order, sizeof order, "corner-%d", i);
        T_STATUS(t_reserve(e, order, "c1", corners[i][0], corners[i][1], TTL_MS, lines), INV_OK);
        T_EQU(last_op.out.reservation.alloc_count, 1);
    }
    inv_reserve_args a;
    memset(&a, 0, sizeof a);
    inv_line l[2] = {{"tea", 1}, {"fan", 1}};
    a.order_id = "many-parcels";
    a.customer_id = "c1";
    a.dest.has_point = true;
    a.dest.lat = T_DEST_LAT;
    a.dest.lon = T_DEST_LON;
    a.lines = l;
    a.line_count = 2;
    a.ttl_ms = TTL_MS;
    a.max_parcels = 1000;
    T_STATUS(t_reserve_args(e, &a), INV_OK);
    T_EQU(last_op.out.reservation.parcels, 2);
    T_STATUS(t_set_to(e, "sh", "pot", (int64_t)INV_QTY_MAX), INV_OK);
    T_STATUS(t_reserve1(e, "huge", "c1", "pot", INV_QTY_MAX, TTL_MS), INV_OK);
    T_EQ(t_cell(e, "sh", "pot").reserved, (int64_t)INV_QTY_MAX);
    T_EQ(t_cell(e, "sh", "pot").available, 0);
    T_STATUS(t_commit(e, "huge"), INV_OK);
    T_EQ(t_cell(e, "sh", "pot").on_hand, 0);
}

/* inv_engine_config.prefault: the tables are mapped at open, so a burst of reservations
 * takes (almost) no page faults. Without it, the purchase-limit table (calloc'd, so only
 * mapped on first write) faults a page in for almost every new customer of a limited SKU
 * early in the burst: the flash-sale shape. Minor faults of the process, by getrusage. */
static long burst_minor_faults(bool prefault) {
    inv_engine_config cfg;
    test_config_small(&cfg, 1);
    cfg.reservations_per_shard_max = 32768;
    cfg.limit_counters_max = 65536; /* 131,072 slots of 16 bytes: 512 pages */
    cfg.prefault = prefault;
    test_clock c = {T0_MS};
    cfg.clock = test_clock_read;
    cfg.clock_ctx = &c;
    inv_engine *pe = test_engine_open_config(&cfg);
    T_STATUS(t_upsert_node(pe, "sh", INV_NODE_WAREHOUSE, T_DEST_LAT, T_DEST_LON, 0, 0), INV_OK);
    T_STATUS(t_adjust(pe, "sh", "tea", 1000000), INV_OK);
    T_STATUS(t_set_limit(pe, "tea", 2), INV_OK);
    T_STATUS(t_reserve1(pe, "warm", "c-warm", "tea", 1, TTL_MS), INV_OK);
    char order[32], customer[32];
    struct rusage before, after;
    cr_assert_eq(getrusage(RUSAGE_SELF, &before), 0);
    for (int i = 0; i < 20000; i++) {
        snprintf(order, sizeof order, "order-%06d", i);
        snprintf(customer, sizeof customer, "c-%06d", i);
        T_STATUS(t_reserve1(pe, order, customer, "tea", 1, TTL_MS), INV_OK);
    }
    cr_assert_eq(getrusage(RUSAGE_SELF, &after), 0);
    t_expect_cell(pe, "sh", "tea", 1000000, 20001, 0);
    inv_engine_close(pe);
    return after.ru_minflt - before.ru_minflt;
}

Test(lifecycle, prefault_maps_the_tables_at_open) {
    long without = burst_minor_faults(false);
    long with = burst_minor_faults(true);
    cr_assert_geq(without, 200, "only %ld faults without prefault: the burst no longer "
                                "reaches fresh pages, so it cannot tell", without);
    cr_assert_leq(with, 16, "%ld page faults during the burst with prefault (%ld without)",
                  with, without);
}
