/*
 * test_capacity.c — node capacity_per_day: how many orders a node may be allocated per
 * business day (DESIGN.md §2, §4 goal 3).
 *
 * Covers: a full node is skipped and the next node is used; one order counts once per
 * parcel node, however many lines it ships from there; release and expiry on the same day
 * give the count back, commit keeps it; the business day starts at 00:00 UTC+8
 * (INV_DAY_OFFSET_MS), not at UTC midnight, and the count resets then; a hold made
 * before midnight and released after it gives nothing back to the new day; all nodes full
 * refuses the order and changes nothing; capacity 0 is unlimited; a refused reserve
 * takes no capacity; node_info / ListNodes report allocated_today.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "engine_int.h" /* INV_DAY_MS, INV_DAY_OFFSET_MS */
#include "test_support.h"

/* 2024-11-11 00:00:00.000 China Standard Time = 2024-11-10T16:00:00Z (Double 11 starts). */
#define DAY_START_MS 1731254400000ull
#define T0_MS (DAY_START_MS - 8ull * 3600ull * 1000ull) /* 2024-11-10 16:00 CST */
#define TTL_MS 600000u

static test_clock clk = {T0_MS};
static inv_engine *e;

static void open_nodes(uint32_t store_capacity, uint32_t wh_capacity) {
    clk.now_ms = T0_MS;
    e = test_engine_open_small(2, &clk);
    /* "store" next to the destination, "wh" 165 km away */
    T_STATUS(t_upsert_node(e, "store", INV_NODE_STORE, T_DEST_LAT, T_DEST_LON, store_capacity, 0),
             INV_OK);
    T_STATUS(t_upsert_node(e, "wh", INV_NODE_WAREHOUSE, 30.2741, 120.1551, wh_capacity, 0),
             INV_OK);
    const char *skus[] = {"tea", "cup", "pot"};
    for (int i = 0; i < 3; i++) {
        T_STATUS(t_adjust(e, "store", skus[i], 1000), INV_OK);
        T_STATUS(t_adjust(e, "wh", skus[i], 1000), INV_OK);
    }
}
static void setup(void) { open_nodes(2, 0); }
static void teardown(void) {
    if (e != NULL) inv_engine_close(e);
    e = NULL;
}

TestSuite(capacity, .init = setup, .fini = teardown);

static uint32_t allocated_today(const char *node) {
    inv_node_info info;
    cr_assert_eq(inv_engine_node_info(e, t_node(e, node), &info), 0);
    return info.allocated_today;
}

/* Reserve one tea for `order`; check which node shipped it. */
static void reserve_expect_node(const char *order, const char *node) {
    T_STATUS(t_reserve1(e, order, "c", "tea", 1, TTL_MS), INV_OK);
    const inv_reservation_view *v = &last_op.out.reservation;
    T_EQU(v->alloc_count, 1);
    cr_assert_eq(v->alloc[0].node, t_node(e, node), "%s shipped from %s, expected %s", order,
                 inv_engine_node_id(e, v->alloc[0].node), node);
}

Test(capacity, day_constants_are_utc_plus_8) {
    T_EQU((DAY_START_MS + INV_DAY_OFFSET_MS) % INV_DAY_MS, 0);
    T_EQU(INV_DAY_OFFSET_MS, 8ull * 3600ull * 1000ull);
}

Test(capacity, full_node_skipped_next_node_used) {
    T_EQU(allocated_today("store"), 0);
    reserve_expect_node("o1", "store");
    T_EQU(allocated_today("store"), 1);
    reserve_expect_node("o2", "store");
    T_EQU(allocated_today("store"), 2);
    reserve_expect_node("o3", "wh");
    reserve_expect_node("o4", "wh");
    T_EQU(allocated_today("store"), 2);
    T_EQU(allocated_today("wh"), 0); /* unlimited nodes report 0 */
    T_EQ(t_cell(e, "store", "tea").reserved, 2);
    T_EQ(t_cell(e, "wh", "tea").reserved, 2);

    inv_node_info page[2];
    T_STATUS(t_list_nodes(e, 0, page, 2), INV_OK);
    T_EQU(page[t_node(e, "store")].allocated_today, 2);
    T_EQU(page[t_node(e, "store")].capacity_per_day, 2);
}

Test(capacity, release_same_day_gives_back) {
    reserve_expect_node("o1", "store");
    reserve_expect_node("o2", "store");
    clk.now_ms += 3600000;
    T_STATUS(t_release(e, "o1"), INV_OK);
    T_EQU(allocated_today("store"), 1);
    reserve_expect_node("o3", "store");
    reserve_expect_node("o4", "wh");
    /* releasing an order that shipped from an unlimited node changes nothing */
    T_STATUS(t_release(e, "o4"), INV_OK);
    T_EQU(allocated_today("store"), 2);
}

Test(capacity, expiry_same_day_gives_back) {
    T_STATUS(t_reserve1(e, "o1", "c", "tea", 1, 1000), INV_OK);
    reserve_expect_node("o2", "store");
    clk.now_ms += 1000;
    T_EQU(inv_engine_expire(e), 1);
    T_EQU(allocated_today("store"), 1);
    reserve_expect_node("o3", "store");
    reserve_expect_node("o4", "wh");
}

Test(capacity, commit_of_an_expired_order_gives_back) {
    T_STATUS(t_reserve1(e, "o1", "c", "tea", 1, 1000), INV_OK);
    reserve_expect_node("o2", "store");
    clk.now_ms += 1000; /* o1 due; no inv_engine_expire */
    T_STATUS(t_commit(e, "o1"), INV_EXPIRED);
    T_EQU(allocated_today("store"), 1);
    reserve_expect_node("o3", "store");
    reserve_expect_node("o4", "wh");
}

Test(capacity, commit_keeps_the_count) {
    reserve_expect_node("o1", "store");
    reserve_expect_node("o2", "store");
    T_STATUS(t_commit(e, "o1"), INV_OK);
    T_STATUS(t_commit(e, "o2"), INV_OK);
    T_EQU(allocated_today("store"), 2);
    reserve_expect_node("o3", "wh");
}

Test(capacity, one_order_counts_once_per_parcel_node) {
    static const char *const lines[] = {"tea:1", "cup:2", "pot:3", NULL};
    T_STATUS(t_reserve(e, "basket", "c", T_DEST_LAT, T_DEST_LON, TTL_MS, lines), INV_OK);
    T_EQU(last_op.out.reservation.parcels, 1);
    T_EQU(allocated_today("store"), 1);
    reserve_expect_node("o2", "store");
    reserve_expect_node("o3", "wh");
    T_STATUS(t_release(e, "basket"), INV_OK);
    T_EQU(allocated_today("store"), 1);
}

Test(capacity, next_business_day_resets_at_midnight_utc8) {
    clk.now_ms = DAY_START_MS - 60000; /* 23:59 CST */
    reserve_expect_node("o1", "store");
    reserve_expect_node("o2", "store");
    reserve_expect_node("o3", "wh");
    clk.now_ms = DAY_START_MS - 1;
    reserve_expect_node("o4", "wh");
    T_EQU(allocated_today("store"), 2);
    clk.now_ms = DAY_START_MS; /* 00:00:00.000 CST: new day */
    T_EQU(allocated_today("store"), 0);
    reserve_expect_node("o5", "store");
    reserve_expect_node("o6", "store");
    reserve_expect_node("o7", "wh");
    T_EQU(allocated_today("store"), 2);
}

Test(capacity, utc_midnight_is_not_a_new_day) {
    uint64_t utc_midnight = DAY_START_MS + 8ull * 3600ull * 1000ull; /* 08:00 CST */
    clk.now_ms = utc_midnight - 1;
    reserve_expect_node("o1", "store");
    reserve_expect_node("o2", "store");
    clk.now_ms = utc_midnight;
    T_EQU(allocated_today("store"), 2);
    reserve_expect_node("o3", "wh");
}

Test(capacity, release_after_midnight_gives_nothing_to_the_new_day) {
    clk.now_ms = DAY_START_MS - 1;
    reserve_expect_node("old", "store");
    T_STATUS(t_reserve1(e, "old-ttl", "c", "cup", 1, 3), INV_OK); /* due DAY_START + 2 */
    T_EQU(t_alloc_qty(&last_op.out.reservation, t_sku(e, "cup"), t_node(e, "store")), 1);
    T_EQU(allocated_today("store"), 2);
    clk.now_ms = DAY_START_MS;
    T_EQU(allocated_today("store"), 0);
    reserve_expect_node("new1", "store");
    T_EQU(allocated_today("store"), 1);
    /* yesterday's holds end today: today's count must not move */
    T_STATUS(t_release(e, "old"), INV_OK);
    clk.now_ms = DAY_START_MS + 2;
    T_EQU(inv_engine_expire(e), 1);
    T_EQU(allocated_today("store"), 1);
    reserve_expect_node("new2", "store");
    reserve_expect_node("new3", "wh");
    T_EQU(allocated_today("store"), 2);
}

Test(capacity, all_nodes_full_refuses_and_changes_nothing) {
    inv_engine_close(e);
    open_nodes(1, 1);
    reserve_expect_node("o1", "store");
    reserve_expect_node("o2", "wh");
    test_fingerprint before, after;
    t_fingerprint(e, &before);
    inv_status st = t_reserve1(e, "o3", "c", "tea", 1, TTL_MS);
    cr_assert(st == INV_NO_ROUTE || st == INV_INSUFFICIENT_STOCK, "all full -> %s \"%s\"",
              inv_status_name(st), last_op.message);
    cr_assert_neq(last_op.message[0], '\0');
    t_fingerprint(e, &after);
    t_fingerprint_assert_same(&before, &after, "reserve with every node full");
    T_STATUS(t_release(e, "o2"), INV_OK);
    reserve_expect_node("o3", "wh");
}

Test(capacity, zero_is_unlimited) {
    inv_engine_close(e);
    open_nodes(0, 0);
    char id[16];
    for (uint32_t i = 0; i < 50; i++) {
        snprintf(id, sizeof id, "o%u", i);
        reserve_expect_node(id, "store");
    }
    T_EQU(allocated_today("store"), 0);
    T_EQ(t_cell(e, "store", "tea").reserved, 50);
}

Test(capacity, refused_reserve_takes_no_capacity) {
    T_STATUS(t_reserve1(e, "huge", "c", "tea", 5000, TTL_MS), INV_INSUFFICIENT_STOCK);
    T_STATUS(t_set_limit(e, "tea", 1), INV_OK);
    T_STATUS(t_reserve1(e, "l1", "c", "tea", 1, TTL_MS), INV_OK);
    T_STATUS(t_reserve1(e, "l2", "c", "tea", 1, TTL_MS), INV_LIMIT_EXCEEDED);
    T_EQU(allocated_today("store"), 1);
    T_STATUS(t_set_limit(e, "tea", 0), INV_OK);
    reserve_expect_node("o2", "store");
    reserve_expect_node("o3", "wh");
}

/* A split order counts one at each of its parcel nodes. */
Test(capacity, split_order_counts_each_parcel_node) {
    inv_engine_close(e);
    open_nodes(3, 3);
    T_STATUS(t_reserve1(e, "big", "c", "tea", 1500, TTL_MS), INV_OK);
    T_EQU(last_op.out.reservation.parcels, 2);
    T_EQU(allocated_today("store"), 1);
    T_EQU(allocated_today("wh"), 1);
    T_STATUS(t_release(e, "big"), INV_OK);
    T_EQU(allocated_today("store"), 0);
    T_EQU(allocated_today("wh"), 0);
}
