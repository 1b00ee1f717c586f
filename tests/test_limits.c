/*
 * test_limits.c — per-customer purchase limits (限购, DESIGN.md §2, §10.5).
 *
 * Covers: a limit counts the units one customer holds in HELD or COMMITTED reservations of
 * the SKU, across orders; the reserve that would pass it is LIMIT_EXCEEDED and changes
 * nothing; release and expiry give units back to the limit, commit keeps counting; a
 * line larger than the limit; a multi-line order failing on one limited line takes
 * nothing on the others; orders split over nodes give back exactly what they took;
 * failed reserves (stock) and idempotent retries count nothing; clearing the limit (0)
 * and lowering it; different customers and different SKUs are independent.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "test_support.h"

#define T0_MS 1731200000000ull
#define TTL_MS 600000u

static test_clock clk = {T0_MS};
static inv_engine *e;

static void setup(void) {
    clk.now_ms = T0_MS;
    e = test_engine_open_small(4, &clk);
    T_STATUS(t_upsert_node(e, "sh", INV_NODE_WAREHOUSE, T_DEST_LAT, T_DEST_LON, 0, 0), INV_OK);
    T_STATUS(t_upsert_node(e, "bj", INV_NODE_WAREHOUSE, 39.9042, 116.4074, 0, 0), INV_OK);
    T_STATUS(t_adjust(e, "sh", "phone", 100), INV_OK);
    T_STATUS(t_adjust(e, "sh", "case", 100), INV_OK);
    T_STATUS(t_set_limit(e, "phone", 3), INV_OK);
    T_EQU(last_op.out.limit.sku, t_sku(e, "phone"));
}
static void teardown(void) { inv_engine_close(e); }

TestSuite(limits, .init = setup, .fini = teardown);

static void expect_phone_reserved(int64_t reserved) {
    T_EQ(t_cell(e, "sh", "phone").reserved, reserved);
}

/* Refused with LIMIT_EXCEEDED and nothing changed. */
static void expect_limit_exceeded(const char *order, const char *customer, uint32_t qty) {
    test_fingerprint before, after;
    t_fingerprint(e, &before);
    T_STATUS(t_reserve1(e, order, customer, "phone", qty, TTL_MS), INV_LIMIT_EXCEEDED);
    cr_assert_neq(last_op.message[0], '\0');
    T_EQU(last_op.out.reservation.alloc_count, 0);
    t_fingerprint(e, &after);
    t_fingerprint_assert_same(&before, &after, "LIMIT_EXCEEDED");
    T_STATUS(t_get(e, order), INV_NOT_FOUND);
}

Test(limits, counts_across_orders) {
    T_STATUS(t_reserve1(e, "a1", "alice", "phone", 2, TTL_MS), INV_OK);
    expect_limit_exceeded("a2", "alice", 2);
    T_STATUS(t_reserve1(e, "a3", "alice", "phone", 1, TTL_MS), INV_OK);
    expect_phone_reserved(3);
    expect_limit_exceeded("a4", "alice", 1);
    /* other SKUs are not limited */
    T_STATUS(t_reserve1(e, "a5", "alice", "case", 50, TTL_MS), INV_OK);
}

Test(limits, release_gives_back_commit_keeps_counting) {
    T_STATUS(t_reserve1(e, "a1", "alice", "phone", 2, TTL_MS), INV_OK);
    T_STATUS(t_reserve1(e, "a2", "alice", "phone", 1, TTL_MS), INV_OK);
    T_STATUS(t_release(e, "a1"), INV_OK);
    T_STATUS(t_reserve1(e, "a3", "alice", "phone", 2, TTL_MS), INV_OK); /* 1 + 2 */
    expect_limit_exceeded("a4", "alice", 1);
    T_STATUS(t_commit(e, "a2"), INV_OK);
    T_STATUS(t_commit(e, "a3"), INV_OK);
    expect_limit_exceeded("a5", "alice", 1); /* committed units still count */
    /* retries of finished orders change nothing */
    T_STATUS(t_release(e, "a1"), INV_OK);
    T_STATUS(t_commit(e, "a2"), INV_OK);
    expect_limit_exceeded("a6", "alice", 1);
    T_EQ(t_cell(e, "sh", "phone").on_hand, 97);
}

Test(limits, expiry_gives_back) {
    T_STATUS(t_reserve1(e, "a1", "alice", "phone", 3, 1000), INV_OK);
    expect_limit_exceeded("a2", "alice", 1);
    clk.now_ms += 1000;
    T_EQU(inv_engine_expire(e), 1);
    T_STATUS(t_reserve1(e, "a3", "alice", "phone", 3, TTL_MS), INV_OK);
    expect_phone_reserved(3);
}

Test(limits, commit_of_expired_gives_back) {
    T_STATUS(t_reserve1(e, "a1", "alice", "phone", 3, 1000), INV_OK);
    clk.now_ms += 1000;
    T_STATUS(t_commit(e, "a1"), INV_EXPIRED);
    T_STATUS(t_reserve1(e, "a2", "alice", "phone", 3, TTL_MS), INV_OK);
}

Test(limits, line_larger_than_limit) {
    expect_limit_exceeded("big", "alice", 4);
    T_STATUS(t_reserve1(e, "ok", "alice", "phone", 3, TTL_MS), INV_OK);
}

Test(limits, different_customers_are_independent) {
    const char *customers[] = {"alice", "bob", "carol", "dave"};
    char id[32];
    for (int i = 0; i < 4; i++) {
        snprintf(id, sizeof id, "%s-1", customers[i]);
        T_STATUS(t_reserve1(e, id, customers[i], "phone", 3, TTL_MS), INV_OK);
        snprintf(id, sizeof id, "%s-2", customers[i]);
        expect_limit_exceeded(id, customers[i], 1);
    }
    expect_phone_reserved(12);
}

Test(limits, multi_line_order_fails_whole_and_takes_nothing) {
    T_STATUS(t_set_limit(e, "case", 5), INV_OK);
    T_STATUS(t_reserve1(e, "a1", "alice", "phone", 2, TTL_MS), INV_OK);
    static const char *const lines[] = {"case:4", "phone:2", NULL};
    test_fingerprint before, after;
    t_fingerprint(e, &before);
    T_STATUS(t_reserve(e, "a2", "alice", T_DEST_LAT, T_DEST_LON, TTL_MS, lines),
             INV_LIMIT_EXCEEDED);
    t_fingerprint(e, &after);
    t_fingerprint_assert_same(&before, &after, "multi-line LIMIT_EXCEEDED");
    /* the case line's 4 were not counted: 5 cases still fit */
    T_STATUS(t_reserve1(e, "a3", "alice", "case", 5, TTL_MS), INV_OK);
    T_STATUS(t_reserve1(e, "a4", "alice", "phone", 1, TTL_MS), INV_OK);
}

Test(limits, split_order_gives_back_exactly) {
    T_STATUS(t_set_limit(e, "tv", 10), INV_OK);
    T_STATUS(t_adjust(e, "sh", "tv", 4), INV_OK);
    T_STATUS(t_adjust(e, "bj", "tv", 5), INV_OK);
    T_STATUS(t_reserve1(e, "a1", "alice", "tv", 7, TTL_MS), INV_OK); /* split sh + bj */
    T_EQU(last_op.out.reservation.parcels, 2);
    T_STATUS(t_adjust(e, "sh", "tv", 10), INV_OK);
    T_STATUS(t_reserve1(e, "a2", "alice", "tv", 3, TTL_MS), INV_OK);
    T_STATUS(t_reserve1(e, "a3", "alice", "tv", 1, TTL_MS), INV_LIMIT_EXCEEDED);
    T_STATUS(t_release(e, "a1"), INV_OK);
    T_STATUS(t_reserve1(e, "a4", "alice", "tv", 8, TTL_MS), INV_LIMIT_EXCEEDED);
    T_STATUS(t_reserve1(e, "a5", "alice", "tv", 7, TTL_MS), INV_OK);
    T_STATUS(t_reserve1(e, "a6", "alice", "tv", 1, TTL_MS), INV_LIMIT_EXCEEDED);
    T_EQ(t_cell(e, "sh", "tv").reserved + t_cell(e, "bj", "tv").reserved, 10);
}

Test(limits, stock_failure_counts_nothing) {
    T_STATUS(t_set_limit(e, "rare", 3), INV_OK);
    T_STATUS(t_adjust(e, "sh", "rare", 1), INV_OK);
    T_STATUS(t_reserve1(e, "a1", "alice", "rare", 2, TTL_MS), INV_INSUFFICIENT_STOCK);
    T_STATUS(t_reserve1(e, "a2", "alice", "rare", 2, TTL_MS), INV_INSUFFICIENT_STOCK);
    T_STATUS(t_adjust(e, "sh", "rare", 10), INV_OK);
    T_STATUS(t_reserve1(e, "a3", "alice", "rare", 3, TTL_MS), INV_OK);
    T_STATUS(t_reserve1(e, "a4", "alice", "rare", 1, TTL_MS), INV_LIMIT_EXCEEDED);
}

Test(limits, retry_counts_once) {
    T_STATUS(t_reserve1(e, "a1", "alice", "phone", 2, TTL_MS), INV_OK);
    for (int i = 0; i < 5; i++)
        T_STATUS(t_reserve1(e, "a1", "alice", "phone", 2, TTL_MS), INV_OK);
    T_STATUS(t_reserve1(e, "a2", "alice", "phone", 1, TTL_MS), INV_OK);
    expect_phone_reserved(3);
    T_STATUS(t_commit(e, "a1"), INV_OK);
    T_STATUS(t_reserve1(e, "a1", "alice", "phone", 2, TTL_MS), INV_OK); /* tombstone */
    expect_limit_exceeded("a3", "alice", 1);
}

Test(limits, cleared_limit_and_release_afterwards) {
    T_STATUS(t_reserve1(e, "a1", "alice", "phone", 3, TTL_MS), INV_OK);
    T_STATUS(t_set_limit(e, "phone", 0), INV_OK); /* cleared */
    T_STATUS(t_reserve1(e, "a2", "alice", "phone", 10, TTL_MS), INV_OK);
    expect_phone_reserved(13);
    /* releasing the counted order gives back its 3, the uncounted one gives back none */
    T_STATUS(t_release(e, "a1"), INV_OK);
    T_STATUS(t_release(e, "a2"), INV_OK);
    expect_phone_reserved(0);
    T_STATUS(t_set_limit(e, "phone", 3), INV_OK);
    T_STATUS(t_reserve1(e, "a3", "alice", "phone", 3, TTL_MS), INV_OK);
    expect_limit_exceeded("a4", "alice", 1);
}

Test(limits, lowered_limit_applies_to_new_orders) {
    T_STATUS(t_reserve1(e, "a1", "alice", "phone", 3, TTL_MS), INV_OK);
    T_STATUS(t_set_limit(e, "phone", 2), INV_OK);
    expect_limit_exceeded("a2", "alice", 1);
    T_STATUS(t_release(e, "a1"), INV_OK);
    T_STATUS(t_reserve1(e, "a3", "alice", "phone", 2, TTL_MS), INV_OK);
    expect_limit_exceeded("a4", "alice", 1);
}

Test(limits, limit_set_before_stock_exists) {
    T_STATUS(t_set_limit(e, "preorder", 1), INV_OK);
    uint32_t sku = last_op.out.limit.sku;
    T_EQU(t_sku(e, "preorder"), sku);
    T_STATUS(t_adjust(e, "sh", "preorder", 5), INV_OK);
    T_STATUS(t_reserve1(e, "p1", "alice", "preorder", 1, TTL_MS), INV_OK);
    T_STATUS(t_reserve1(e, "p2", "alice", "preorder", 1, TTL_MS), INV_LIMIT_EXCEEDED);
    T_STATUS(t_reserve1(e, "p3", "bob", "preorder", 1, TTL_MS), INV_OK);
}
