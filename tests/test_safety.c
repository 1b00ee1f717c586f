/*
 * test_safety.c — safety stock: units on hand that are never promised online.
 *
 * Covers (DESIGN.md §2): available = on_hand − reserved − safety in cell reads, in Adjust /
 * SetSafety answers and in GetAvailability; a reserve never takes safety units (exact
 * edge: all of available OK, one more INSUFFICIENT_STOCK with shortfall 1); SetSafety
 * creates the cell; safety above on_hand gives negative available; lowering safety frees
 * units, also for a SKU that had been answered "sold out" (the sold-out fast path must
 * not outlive the change); routing passes over a node whose stock is all safety; commit
 * and release leave safety alone.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "test_support.h"

#define T0_MS 1731200000000ull
#define TTL_MS 600000u

static test_clock clk = {T0_MS};
static inv_engine *e;

static void setup(void) {
    clk.now_ms = T0_MS;
    e = test_engine_open_small(2, &clk);
    T_STATUS(t_upsert_node(e, "sh", INV_NODE_WAREHOUSE, T_DEST_LAT, T_DEST_LON, 0, 0), INV_OK);
    T_STATUS(t_upsert_node(e, "hz", INV_NODE_WAREHOUSE, 30.2741, 120.1551, 0, 0), INV_OK);
}
static void teardown(void) { inv_engine_close(e); }

TestSuite(safety, .init = setup, .fini = teardown);

Test(safety, never_promised) {
    T_STATUS(t_adjust(e, "sh", "tea", 10), INV_OK);
    T_STATUS(t_set_safety(e, "sh", "tea", 3), INV_OK);
    T_EQ(last_op.out.cell.safety, 3);
    T_EQ(last_op.out.cell.available, 7);
    t_expect_cell(e, "sh", "tea", 10, 0, 3);

    T_STATUS(t_reserve1(e, "o1", "c", "tea", 7, TTL_MS), INV_OK);
    t_expect_cell(e, "sh", "tea", 10, 7, 3);
    T_STATUS(t_reserve1(e, "o2", "c", "tea", 1, TTL_MS), INV_INSUFFICIENT_STOCK);
    T_EQU(last_op.out.reservation.shortfall[0], 1);
    t_expect_cell(e, "sh", "tea", 10, 7, 3);

    T_STATUS(t_commit(e, "o1"), INV_OK);
    t_expect_cell(e, "sh", "tea", 3, 0, 3);
    T_STATUS(t_reserve1(e, "o3", "c", "tea", 1, TTL_MS), INV_INSUFFICIENT_STOCK);
    t_expect_cell(e, "sh", "tea", 3, 0, 3);
}

Test(safety, one_order_larger_than_available) {
    T_STATUS(t_adjust(e, "sh", "tea", 10), INV_OK);
    T_STATUS(t_set_safety(e, "sh", "tea", 4), INV_OK);
    T_STATUS(t_reserve1(e, "o1", "c", "tea", 7, TTL_MS), INV_INSUFFICIENT_STOCK);
    T_EQU(last_op.out.reservation.shortfall[0], 1);
    t_expect_cell(e, "sh", "tea", 10, 0, 4);
    T_STATUS(t_reserve1(e, "o2", "c", "tea", 6, TTL_MS), INV_OK);
    t_expect_cell(e, "sh", "tea", 10, 6, 4);
}

Test(safety, set_safety_creates_the_cell) {
    cr_assert(!t_cell_exists(e, "hz", "mug"));
    T_STATUS(t_set_safety(e, "hz", "mug", 5), INV_OK);
    T_EQ(last_op.out.cell.on_hand, 0);
    T_EQ(last_op.out.cell.safety, 5);
    T_EQ(last_op.out.cell.available, -5);
    t_expect_cell(e, "hz", "mug", 0, 0, 5);
    T_STATUS(t_adjust(e, "hz", "mug", 12), INV_OK);
    T_EQ(last_op.out.cell.available, 7);
    t_expect_cell(e, "hz", "mug", 12, 0, 5);
    T_STATUS(t_set_safety(e, "nowhere", "mug", 1), INV_NOT_FOUND);
}

Test(safety, safety_above_on_hand) {
    T_STATUS(t_adjust(e, "sh", "tea", 2), INV_OK);
    T_STATUS(t_set_safety(e, "sh", "tea", 5), INV_OK);
    t_expect_cell(e, "sh", "tea", 2, 0, 5);
    T_STATUS(t_reserve1(e, "o1", "c", "tea", 1, TTL_MS), INV_INSUFFICIENT_STOCK);
    T_EQU(last_op.out.reservation.shortfall[0], 1);
    inv_node_avail nodes[2];
    T_STATUS(t_availability(e, "tea", false, 0, 0, 0, nodes, 2), INV_OK);
    T_EQU(last_op.out.availability.node_count, 1);
    T_EQ(nodes[0].available, -3);
    T_EQ(last_op.out.availability.total_on_hand, 2);
    T_EQ(last_op.out.availability.total_available, 0); /* Σ max(available, 0) */
}

Test(safety, lowering_safety_frees_units) {
    T_STATUS(t_adjust(e, "sh", "tea", 10), INV_OK);
    T_STATUS(t_set_safety(e, "sh", "tea", 10), INV_OK);
    T_STATUS(t_reserve1(e, "o1", "c", "tea", 2, TTL_MS), INV_INSUFFICIENT_STOCK);
    T_STATUS(t_set_safety(e, "sh", "tea", 8), INV_OK);
    T_EQ(last_op.out.cell.available, 2);
    T_STATUS(t_reserve1(e, "o1", "c", "tea", 2, TTL_MS), INV_OK);
    t_expect_cell(e, "sh", "tea", 10, 2, 8);
    T_STATUS(t_set_safety(e, "sh", "tea", 0), INV_OK);
    t_expect_cell(e, "sh", "tea", 10, 2, 0);
    T_STATUS(t_reserve1(e, "o2", "c", "tea", 8, TTL_MS), INV_OK);
    t_expect_cell(e, "sh", "tea", 10, 10, 0);
    /* raising safety above what is free: available negative, holds untouched */
    T_STATUS(t_set_safety(e, "sh", "tea", 3), INV_OK);
    t_expect_cell(e, "sh", "tea", 10, 10, 3);
    T_STATUS(t_release(e, "o2"), INV_OK);
    t_expect_cell(e, "sh", "tea", 10, 2, 3);
}

/* A SKU answered INSUFFICIENT_STOCK everywhere (sold out) becomes orderable the moment
 * safety is lowered, restocked, or a hold is released — never stuck "sold out". */
Test(safety, sold_out_answer_does_not_outlive_the_stock) {
    T_STATUS(t_adjust(e, "sh", "hot", 5), INV_OK);
    T_STATUS(t_set_safety(e, "sh", "hot", 5), INV_OK);
    for (int i = 0; i < 3; i++)
        T_STATUS(t_reserve1(e, "h1", "c", "hot", 1, TTL_MS), INV_INSUFFICIENT_STOCK);
    T_STATUS(t_set_safety(e, "sh", "hot", 4), INV_OK);
    T_STATUS(t_reserve1(e, "h1", "c", "hot", 1, TTL_MS), INV_OK);
    for (int i = 0; i < 3; i++)
        T_STATUS(t_reserve1(e, "h2", "c", "hot", 1, TTL_MS), INV_INSUFFICIENT_STOCK);
    T_STATUS(t_release(e, "h1"), INV_OK);
    T_STATUS(t_reserve1(e, "h2", "c", "hot", 1, TTL_MS), INV_OK);
    for (int i = 0; i < 3; i++)
        T_STATUS(t_reserve1(e, "h3", "c", "hot", 1, TTL_MS), INV_INSUFFICIENT_STOCK);
    T_STATUS(t_adjust(e, "hz", "hot", 1), INV_OK); /* a new cell elsewhere */
    T_STATUS(t_reserve1(e, "h3", "c", "hot", 1, TTL_MS), INV_OK);
    T_EQU(t_alloc_qty(&last_op.out.reservation, t_sku(e, "hot"), t_node(e, "hz")), 1);
    t_expect_cell(e, "sh", "hot", 5, 1, 4);
    t_expect_cell(e, "hz", "hot", 1, 1, 0);
}

Test(safety, routing_skips_a_node_whose_stock_is_safety) {
    T_STATUS(t_adjust(e, "sh", "tea", 5), INV_OK);
    T_STATUS(t_set_safety(e, "sh", "tea", 5), INV_OK);
    T_STATUS(t_adjust(e, "hz", "tea", 5), INV_OK);
    T_STATUS(t_reserve1(e, "o1", "c", "tea", 2, TTL_MS), INV_OK);
    T_EQU(last_op.out.reservation.alloc_count, 1);
    T_EQU(t_alloc_qty(&last_op.out.reservation, t_sku(e, "tea"), t_node(e, "hz")), 2);
    t_expect_cell(e, "sh", "tea", 5, 0, 5);
    t_expect_cell(e, "hz", "tea", 5, 2, 0);
    /* partial safety: the near node gives what is above safety, the far node the rest */
    T_STATUS(t_set_safety(e, "sh", "tea", 2), INV_OK);
    T_STATUS(t_reserve1(e, "o2", "c", "tea", 3, TTL_MS), INV_OK);
    T_EQU(t_alloc_qty(&last_op.out.reservation, t_sku(e, "tea"), t_node(e, "sh")), 3);
    /* left: 0 above safety at sh, 3 at hz */
    T_STATUS(t_reserve1(e, "o3", "c", "tea", 4, TTL_MS), INV_INSUFFICIENT_STOCK);
    T_EQU(last_op.out.reservation.shortfall[0], 1);
    T_STATUS(t_reserve1(e, "o4", "c", "tea", 3, TTL_MS), INV_OK);
    T_EQU(t_alloc_qty(&last_op.out.reservation, t_sku(e, "tea"), t_node(e, "hz")), 3);
    t_expect_cell(e, "sh", "tea", 5, 3, 2);
    t_expect_cell(e, "hz", "tea", 5, 5, 0);
}

Test(safety, availability_excludes_safety) {
    T_STATUS(t_adjust(e, "sh", "tea", 10), INV_OK);
    T_STATUS(t_adjust(e, "hz", "tea", 10), INV_OK);
    T_STATUS(t_set_safety(e, "sh", "tea", 4), INV_OK);
    T_STATUS(t_set_safety(e, "hz", "tea", 1), INV_OK);
    T_STATUS(t_reserve1(e, "o1", "c", "tea", 2, TTL_MS), INV_OK);
    inv_node_avail nodes[2];
    T_STATUS(t_availability(e, "tea", true, T_DEST_LAT, T_DEST_LON, 0, nodes, 2), INV_OK);
    T_EQ(last_op.out.availability.total_on_hand, 20);
    T_EQ(last_op.out.availability.total_reserved, 2);
    T_EQ(last_op.out.availability.total_available, (10 - 4 - 2) + (10 - 1));
    T_EQU(nodes[0].node, t_node(e, "sh"));
    T_EQ(nodes[0].available, 4);
    T_EQ(nodes[1].available, 9);
}

Test(safety, commit_and_release_leave_safety_alone) {
    T_STATUS(t_adjust(e, "sh", "tea", 20), INV_OK);
    T_STATUS(t_set_safety(e, "sh", "tea", 6), INV_OK);
    T_STATUS(t_reserve1(e, "o1", "c", "tea", 5, TTL_MS), INV_OK);
    T_STATUS(t_reserve1(e, "o2", "c", "tea", 5, TTL_MS), INV_OK);
    T_STATUS(t_commit(e, "o1"), INV_OK);
    T_STATUS(t_release(e, "o2"), INV_OK);
    t_expect_cell(e, "sh", "tea", 15, 0, 6);
    T_STATUS(t_reserve1(e, "o3", "c", "tea", 9, TTL_MS), INV_OK);
    T_STATUS(t_reserve1(e, "o4", "c", "tea", 1, TTL_MS), INV_INSUFFICIENT_STOCK);
    t_expect_cell(e, "sh", "tea", 15, 9, 6);
}
