/*
 * test_stock.c — stock cells: Adjust, Return, ref_id dedupe, availability, cell reads.
 *
 * Covers (DESIGN.md §2, §3): Adjust by delta and by set_to, with the exact applied delta;
 * Adjust creates unknown SKUs and cells but not nodes; a delta taking on_hand below 0 is
 * INVALID_ARGUMENT and changes nothing (on_hand never goes below 0 by an adjust);
 * set_to below reserved is allowed and shows as negative available (and what a commit
 * then does); Return adds units anywhere, qty ≥ 1; an Adjust/Return whose ref_id was
 * seen is DUPLICATE_REF, answers the first applied delta and applies nothing, the
 * same ref_id with other content is CONFLICT (DESIGN.md §3), "" / NULL means no dedupe;
 * GetAvailability totals, per-node figures, radius filter and nearest-first order with
 * distances; inv_engine_cell_read figures, always on_hand − reserved − safety.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "test_support.h"

#define T0_MS 1731200000000ull

static test_clock clk = {T0_MS};
static inv_engine *e;

/* Shanghai (the default destination) and nodes at known distances from it. */
static const struct city { const char *id; double lat, lon; } cities[] = {
    {"sh", 31.2304, 121.4737}, {"suzhou", 31.2990, 120.5853}, {"hangzhou", 30.2741, 120.1551},
    {"nanjing", 32.0603, 118.7969}, {"beijing", 39.9042, 116.4074},
};
#define CITY_COUNT (sizeof cities / sizeof cities[0])

static double haversine_km(double lat1, double lon1, double lat2, double lon2) {
    const double r = 6371.0088, rad = M_PI / 180.0;
    double dlat = (lat2 - lat1) * rad, dlon = (lon2 - lon1) * rad;
    double h = sin(dlat / 2) * sin(dlat / 2) +
               cos(lat1 * rad) * cos(lat2 * rad) * sin(dlon / 2) * sin(dlon / 2);
    return 2 * r * asin(sqrt(h));
}

static void setup(void) {
    clk.now_ms = T0_MS;
    e = test_engine_open_small(3, &clk);
    for (size_t i = 0; i < CITY_COUNT; i++)
        T_STATUS(t_upsert_node(e, cities[i].id, INV_NODE_WAREHOUSE, cities[i].lat,
                               cities[i].lon, 0, 0), INV_OK);
}
static void teardown(void) { inv_engine_close(e); }

TestSuite(stock, .init = setup, .fini = teardown);

/* t_expect_cell, and the cell names its own SKU and node. */
static void expect_cell(const char *node, const char *sku, int64_t on_hand, int64_t reserved,
                        int64_t safety) {
    t_expect_cell(e, node, sku, on_hand, reserved, safety);
    inv_cell_view v = t_cell(e, node, sku);
    T_EQU(v.sku, t_sku(e, sku));
    T_EQU(v.node, t_node(e, node));
}

Test(stock, adjust_delta_creates_sku_and_cell) {
    cr_assert(!t_cell_exists(e, "sh", "sku-1"));
    T_EQU(t_stats(e).cells, 0);
    T_STATUS(t_adjust(e, "sh", "sku-1", 10), INV_OK);
    cr_assert_str_eq(last_op.message, "");
    T_EQ(last_op.out.cell.on_hand, 10);
    T_EQ(last_op.out.cell.reserved, 0);
    T_EQ(last_op.out.cell.safety, 0);
    T_EQ(last_op.out.cell.available, 10);
    T_EQ(last_op.out.cell.applied_delta, 10);
    T_EQU(last_op.out.cell.node, t_node(e, "sh"));
    T_EQU(last_op.out.cell.sku, t_sku(e, "sku-1"));
    expect_cell("sh", "sku-1", 10, 0, 0);
    T_EQU(t_stats(e).cells, 1);
    T_EQU(t_stats(e).skus, 1);

    T_STATUS(t_adjust(e, "sh", "sku-1", -3), INV_OK);
    T_EQ(last_op.out.cell.applied_delta, -3);
    T_EQ(last_op.out.cell.on_hand, 7);
    T_STATUS(t_adjust(e, "sh", "sku-1", 0), INV_OK); /* a zero delta is a no-op */
    T_EQ(last_op.out.cell.applied_delta, 0);
    expect_cell("sh", "sku-1", 7, 0, 0);

    /* Same SKU at a second node: a second cell, the first untouched. */
    T_STATUS(t_adjust(e, "beijing", "sku-1", 4), INV_OK);
    expect_cell("beijing", "sku-1", 4, 0, 0);
    expect_cell("sh", "sku-1", 7, 0, 0);
    T_EQU(t_stats(e).cells, 2);
    T_EQU(t_stats(e).skus, 1);
}

Test(stock, adjust_unknown_node_is_not_found_and_creates_nothing) {
    T_STATUS(t_adjust(e, "shenzhen", "sku-x", 5), INV_NOT_FOUND);
    cr_assert_neq(last_op.message[0], '\0');
    uint32_t s = 0;
    cr_assert_neq(inv_engine_sku_find(e, "sku-x", &s), 0, "no SKU created for a bad node");
    T_EQU(t_stats(e).cells, 0);
    T_EQU(t_stats(e).skus, 0);
}

Test(stock, delta_below_zero_is_refused_and_changes_nothing) {
    T_STATUS(t_adjust(e, "sh", "sku-1", 5), INV_OK);
    T_STATUS(t_adjust(e, "sh", "sku-1", -6), INV_INVALID_ARGUMENT);
    cr_assert_neq(last_op.message[0], '\0');
    expect_cell("sh", "sku-1", 5, 0, 0);
    T_STATUS(t_adjust(e, "sh", "sku-1", -5), INV_OK); /* exactly to 0 is fine */
    T_EQ(last_op.out.cell.applied_delta, -5);
    expect_cell("sh", "sku-1", 0, 0, 0);
    T_STATUS(t_adjust(e, "sh", "sku-1", -1), INV_INVALID_ARGUMENT);
    expect_cell("sh", "sku-1", 0, 0, 0);
    /* (a first adjust of a new cell below 0: test_bad_input.c) */
}

Test(stock, set_to_reports_the_applied_delta) {
    T_STATUS(t_set_to(e, "sh", "sku-1", 25), INV_OK); /* set_to on a new cell */
    T_EQ(last_op.out.cell.applied_delta, 25);
    expect_cell("sh", "sku-1", 25, 0, 0);
    T_STATUS(t_set_to(e, "sh", "sku-1", 9), INV_OK);
    T_EQ(last_op.out.cell.applied_delta, -16);
    T_STATUS(t_set_to(e, "sh", "sku-1", 9), INV_OK);
    T_EQ(last_op.out.cell.applied_delta, 0);
    T_STATUS(t_set_to(e, "sh", "sku-1", 0), INV_OK);
    T_EQ(last_op.out.cell.applied_delta, -9);
    expect_cell("sh", "sku-1", 0, 0, 0);
    T_STATUS(t_set_to(e, "sh", "sku-1", (int64_t)INV_QTY_MAX), INV_OK);
    T_EQ(last_op.out.cell.on_hand, (int64_t)INV_QTY_MAX);
}

/* WMS sync says fewer units than are promised: allowed, available goes negative, new
 * orders are refused, and the held orders still commit (on_hand then shows the gap). */
Test(stock, set_to_below_reserved_gives_negative_available) {
    T_STATUS(t_adjust(e, "sh", "sku-1", 10), INV_OK);
    T_STATUS(t_reserve1(e, "o1", "c1", "sku-1", 6, 60000), INV_OK);
    expect_cell("sh", "sku-1", 10, 6, 0);
    T_STATUS(t_set_to(e, "sh", "sku-1", 4), INV_OK);
    T_EQ(last_op.out.cell.applied_delta, -6);
    T_EQ(last_op.out.cell.available, -2);
    expect_cell("sh", "sku-1", 4, 6, 0);

    T_STATUS(t_reserve1(e, "o2", "c1", "sku-1", 1, 60000), INV_INSUFFICIENT_STOCK);
    T_EQU(last_op.out.reservation.shortfall[0], 1);
    expect_cell("sh", "sku-1", 4, 6, 0);

    /* GetAvailability shows the negative cell, and totals never count it as stock. */
    inv_node_avail nodes[4];
    T_STATUS(t_availability(e, "sku-1", false, 0, 0, 0, nodes, 4), INV_OK);
    T_EQU(last_op.out.availability.node_count, 1);
    T_EQ(nodes[0].available, -2);
    T_EQ(last_op.out.availability.total_on_hand, 4);
    T_EQ(last_op.out.availability.total_reserved, 6);
    T_EQ(last_op.out.availability.total_available, 0); /* Σ max(available, 0) */
    /* a second, healthy cell: the total counts only what can still be sold */
    T_STATUS(t_adjust(e, "beijing", "sku-1", 7), INV_OK);
    T_STATUS(t_availability(e, "sku-1", false, 0, 0, 0, nodes, 4), INV_OK);
    T_EQU(last_op.out.availability.node_count, 2);
    T_EQ(last_op.out.availability.total_available, 7);
    T_EQ(last_op.out.availability.total_on_hand, 11);
    T_EQ(last_op.out.availability.total_reserved, 6);
    T_STATUS(t_adjust(e, "beijing", "sku-1", -7), INV_OK);

    /* Committing the promise: on_hand − 6 (engine_int.h: on_hand is signed for this). */
    T_STATUS(t_commit(e, "o1"), INV_OK);
    expect_cell("sh", "sku-1", -2, 0, 0);
    /* Restock: +5 → 3 on hand. */
    T_STATUS(t_adjust(e, "sh", "sku-1", 5), INV_OK);
    T_EQ(last_op.out.cell.applied_delta, 5);
    expect_cell("sh", "sku-1", 3, 0, 0);
    T_STATUS(t_reserve1(e, "o3", "c1", "sku-1", 3, 60000), INV_OK);
}

Test(stock, set_to_below_reserved_then_release) {
    T_STATUS(t_adjust(e, "sh", "sku-1", 10), INV_OK);
    T_STATUS(t_reserve1(e, "o1", "c1", "sku-1", 8, 60000), INV_OK);
    T_STATUS(t_set_to(e, "sh", "sku-1", 2), INV_OK);
    expect_cell("sh", "sku-1", 2, 8, 0);
    T_STATUS(t_release(e, "o1"), INV_OK);
    expect_cell("sh", "sku-1", 2, 0, 0);
    T_STATUS(t_reserve1(e, "o2", "c1", "sku-1", 2, 60000), INV_OK);
    expect_cell("sh", "sku-1", 2, 2, 0);
}

Test(stock, return_adds_units_anywhere) {
    T_STATUS(t_adjust(e, "sh", "sku-1", 2), INV_OK);
    T_STATUS(t_return(e, "sh", "sku-1", 3, NULL), INV_OK);
    T_EQ(last_op.out.cell.applied_delta, 3);
    T_EQ(last_op.out.cell.on_hand, 5);
    expect_cell("sh", "sku-1", 5, 0, 0);
    /* cross-channel: back at a node that never stocked it */
    T_STATUS(t_return(e, "nanjing", "sku-1", 1, ""), INV_OK);
    T_EQ(last_op.out.cell.applied_delta, 1);
    expect_cell("nanjing", "sku-1", 1, 0, 0);
    T_STATUS(t_return(e, "sh", "sku-1", 0, NULL), INV_INVALID_ARGUMENT);
    cr_assert_neq(last_op.message[0], '\0');
    expect_cell("sh", "sku-1", 5, 0, 0);
    T_STATUS(t_return(e, "nowhere", "sku-1", 1, NULL), INV_NOT_FOUND);
}

Test(stock, adjust_ref_id_dedupe) {
    T_STATUS(t_adjust_ref(e, "sh", "sku-1", 5, "wms-1"), INV_OK);
    T_EQ(last_op.out.cell.applied_delta, 5);
    T_STATUS(t_adjust_ref(e, "sh", "sku-1", 5, "wms-1"), INV_DUPLICATE_REF);
    cr_assert_neq(last_op.message[0], '\0');
    T_EQ(last_op.out.cell.applied_delta, 5); /* the first answer, not re-applied */
    T_EQ(last_op.out.cell.on_hand, 5);
    expect_cell("sh", "sku-1", 5, 0, 0);
    /* the same ref with other content: CONFLICT (DESIGN.md §3), nothing applied */
    T_STATUS(t_adjust_ref(e, "sh", "sku-1", 7, "wms-1"), INV_CONFLICT);
    cr_assert_neq(last_op.message[0], '\0');
    expect_cell("sh", "sku-1", 5, 0, 0);
    T_STATUS(t_set_to_ref(e, "sh", "sku-1", 100, "wms-1"), INV_CONFLICT);
    T_STATUS(t_adjust_ref(e, "beijing", "sku-1", 5, "wms-1"), INV_CONFLICT);
    T_STATUS(t_return(e, "sh", "sku-1", 5, "wms-1"), INV_CONFLICT);
    expect_cell("sh", "sku-1", 5, 0, 0);
    cr_assert(!t_cell_exists(e, "beijing", "sku-1"));
    /* a new ref applies */
    T_STATUS(t_adjust_ref(e, "sh", "sku-1", -2, "wms-2"), INV_OK);
    expect_cell("sh", "sku-1", 3, 0, 0);
    T_STATUS(t_set_to_ref(e, "sh", "sku-1", 10, "wms-3"), INV_OK);
    T_EQ(last_op.out.cell.applied_delta, 7);
    T_STATUS(t_set_to_ref(e, "sh", "sku-1", 10, "wms-3"), INV_DUPLICATE_REF);
    expect_cell("sh", "sku-1", 10, 0, 0);
    /* "" and NULL: no dedupe */
    T_STATUS(t_adjust_ref(e, "sh", "sku-1", 1, ""), INV_OK);
    T_STATUS(t_adjust_ref(e, "sh", "sku-1", 1, ""), INV_OK);
    T_STATUS(t_adjust_ref(e, "sh", "sku-1", 1, NULL), INV_OK);
    expect_cell("sh", "sku-1", 13, 0, 0);
}

Test(stock, return_ref_id_dedupe) {
    T_STATUS(t_return(e, "hangzhou", "sku-2", 4, "rma-77"), INV_OK);
    T_STATUS(t_return(e, "hangzhou", "sku-2", 4, "rma-77"), INV_DUPLICATE_REF);
    T_STATUS(t_return(e, "hangzhou", "sku-2", 4, "rma-77"), INV_DUPLICATE_REF);
    expect_cell("hangzhou", "sku-2", 4, 0, 0);
    T_STATUS(t_return(e, "hangzhou", "sku-2", 4, "rma-78"), INV_OK);
    expect_cell("hangzhou", "sku-2", 8, 0, 0);
}

/* Many distinct refs across shards: each applies exactly once. */
Test(stock, many_refs_apply_once_each) {
    char ref[32];
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 300; i++) {
            snprintf(ref, sizeof ref, "pos-sale-%d", i);
            T_STATUS(t_adjust_ref(e, "suzhou", "sku-9", i % 2 ? 2 : 1, ref),
                     round == 0 ? INV_OK : INV_DUPLICATE_REF);
        }
    }
    expect_cell("suzhou", "sku-9", 150 * 2 + 150, 0, 0);
}

/* A refused adjust is not remembered: once it can apply, the same ref applies. */
Test(stock, refused_adjust_ref_is_not_remembered) {
    T_STATUS(t_adjust(e, "sh", "sku-1", 2), INV_OK);
    T_STATUS(t_adjust_ref(e, "sh", "sku-1", -5, "damage-1"), INV_INVALID_ARGUMENT);
    expect_cell("sh", "sku-1", 2, 0, 0);
    T_STATUS(t_adjust(e, "sh", "sku-1", 10), INV_OK);
    T_STATUS(t_adjust_ref(e, "sh", "sku-1", -5, "damage-1"), INV_OK);
    expect_cell("sh", "sku-1", 7, 0, 0);
    T_STATUS(t_adjust_ref(e, "sh", "sku-1", -5, "damage-1"), INV_DUPLICATE_REF);
    expect_cell("sh", "sku-1", 7, 0, 0);
}

Test(stock, availability_totals_without_a_point) {
    T_STATUS(t_adjust(e, "sh", "sku-1", 10), INV_OK);
    T_STATUS(t_adjust(e, "nanjing", "sku-1", 20), INV_OK);
    T_STATUS(t_adjust(e, "beijing", "sku-1", 30), INV_OK);
    T_STATUS(t_set_safety(e, "beijing", "sku-1", 5), INV_OK);
    T_STATUS(t_reserve1(e, "o1", "c1", "sku-1", 4, 60000), INV_OK); /* nearest: sh */
    T_STATUS(t_adjust(e, "sh", "other", 99), INV_OK);

    inv_node_avail nodes[8];
    memset(nodes, 0, sizeof nodes);
    T_STATUS(t_availability(e, "sku-1", false, 0, 0, 0, nodes, 8), INV_OK);
    const inv_availability_view *v = &last_op.out.availability;
    T_EQU(v->sku, t_sku(e, "sku-1"));
    T_EQU(v->node_count, 3);
    T_EQU(v->nodes_written, 3);
    T_EQ(v->total_on_hand, 60);
    T_EQ(v->total_reserved, 4);
    T_EQ(v->total_available, 6 + 20 + 25);
    int64_t by_node[CITY_COUNT] = {0};
    bool seen[CITY_COUNT] = {false};
    for (uint32_t i = 0; i < 3; i++) {
        cr_assert_lt(nodes[i].node, CITY_COUNT);
        cr_assert(!seen[nodes[i].node], "node %u listed twice", nodes[i].node);
        seen[nodes[i].node] = true;
        by_node[nodes[i].node] = nodes[i].available;
        cr_assert_float_eq(nodes[i].distance_km, 0.0, 1e-12, "no point: distance 0");
    }
    T_EQ(by_node[t_node(e, "sh")], 6);
    T_EQ(by_node[t_node(e, "nanjing")], 20);
    T_EQ(by_node[t_node(e, "beijing")], 25);

    /* cap smaller than the count: count stays, fewer written */
    T_STATUS(t_availability(e, "sku-1", false, 0, 0, 0, nodes, 2), INV_OK);
    T_EQU(last_op.out.availability.node_count, 3);
    T_EQU(last_op.out.availability.nodes_written, 2);
    T_EQ(last_op.out.availability.total_available, 51);
    T_STATUS(t_availability(e, "sku-1", false, 0, 0, 0, NULL, 0), INV_OK);
    T_EQU(last_op.out.availability.nodes_written, 0);
    T_EQ(last_op.out.availability.total_available, 51);

    T_STATUS(t_availability(e, "no-such-sku", false, 0, 0, 0, nodes, 8), INV_NOT_FOUND);
}

Test(stock, availability_within_radius_nearest_first) {
    /* stock everywhere; insert in an order unrelated to distance */
    const char *order[] = {"beijing", "nanjing", "sh", "hangzhou", "suzhou"};
    for (int i = 0; i < 5; i++) T_STATUS(t_adjust(e, order[i], "sku-r", 10 + i), INV_OK);

    inv_node_avail nodes[8];
    T_STATUS(t_availability(e, "sku-r", true, T_DEST_LAT, T_DEST_LON, 300.0, nodes, 8), INV_OK);
    const inv_availability_view *v = &last_op.out.availability;
    /* within 300 km of Shanghai: sh (0), suzhou (~85), hangzhou (~165), nanjing (~270) */
    T_EQU(v->node_count, 4);
    T_EQU(v->nodes_written, 4);
    const char *want[] = {"sh", "suzhou", "hangzhou", "nanjing"};
    int64_t total = 0;
    for (uint32_t i = 0; i < 4; i++) {
        uint32_t n = t_node(e, want[i]);
        T_EQU(nodes[i].node, n);
        const struct city *c = &cities[n];
        double km = haversine_km(T_DEST_LAT, T_DEST_LON, c->lat, c->lon);
        cr_assert_float_eq(nodes[i].distance_km, km, 0.01 * km + 0.01, "%s: %f km vs %f",
                           want[i], nodes[i].distance_km, km);
        if (i > 0) cr_assert_leq(nodes[i - 1].distance_km, nodes[i].distance_km);
        T_EQ(nodes[i].available, t_cell(e, want[i], "sku-r").available);
        total += nodes[i].available;
    }
    T_EQ(v->total_available, total);
    T_EQ(v->total_on_hand, total);
    T_EQ(v->total_reserved, 0);

    /* cap 2 keeps the two nearest */
    T_STATUS(t_availability(e, "sku-r", true, T_DEST_LAT, T_DEST_LON, 300.0, nodes, 2), INV_OK);
    T_EQU(last_op.out.availability.node_count, 4);
    T_EQU(last_op.out.availability.nodes_written, 2);
    T_EQU(nodes[0].node, t_node(e, "sh"));
    T_EQU(nodes[1].node, t_node(e, "suzhou"));

    /* no radius: everything, nearest first, Beijing last */
    T_STATUS(t_availability(e, "sku-r", true, T_DEST_LAT, T_DEST_LON, 0, nodes, 8), INV_OK);
    T_EQU(last_op.out.availability.node_count, 5);
    T_EQU(nodes[4].node, t_node(e, "beijing"));
    T_EQ(last_op.out.availability.total_on_hand, 10 + 11 + 12 + 13 + 14);

    /* from Beijing with 100 km: only Beijing */
    T_STATUS(t_availability(e, "sku-r", true, 39.9, 116.4, 100.0, nodes, 8), INV_OK);
    T_EQU(last_op.out.availability.node_count, 1);
    T_EQU(nodes[0].node, t_node(e, "beijing"));
    T_EQ(last_op.out.availability.total_available, 10);

    /* a radius nothing falls in */
    T_STATUS(t_availability(e, "sku-r", true, 23.13, 113.26, 50.0, nodes, 8), INV_OK);
    T_EQU(last_op.out.availability.node_count, 0);
    T_EQU(last_op.out.availability.nodes_written, 0);
    T_EQ(last_op.out.availability.total_available, 0);
}

Test(stock, availability_follows_reservations) {
    T_STATUS(t_adjust(e, "sh", "sku-1", 5), INV_OK);
    inv_node_avail nodes[2];
    T_STATUS(t_reserve1(e, "o1", "c1", "sku-1", 2, 60000), INV_OK);
    T_STATUS(t_availability(e, "sku-1", true, T_DEST_LAT, T_DEST_LON, 10.0, nodes, 2), INV_OK);
    T_EQ(last_op.out.availability.total_available, 3);
    T_EQ(nodes[0].available, 3);
    T_STATUS(t_commit(e, "o1"), INV_OK);
    T_STATUS(t_availability(e, "sku-1", true, T_DEST_LAT, T_DEST_LON, 10.0, nodes, 2), INV_OK);
    T_EQ(last_op.out.availability.total_available, 3);
    T_EQ(last_op.out.availability.total_on_hand, 3);
    T_EQ(last_op.out.availability.total_reserved, 0);
}

Test(stock, cell_read) {
    T_STATUS(t_adjust(e, "hangzhou", "sku-c", 12), INV_OK);
    T_STATUS(t_set_safety(e, "hangzhou", "sku-c", 2), INV_OK);
    uint32_t s = t_sku(e, "sku-c"), n = t_node(e, "hangzhou");
    inv_cell_view v;
    memset(&v, 0x5a, sizeof v);
    T_EQ(inv_engine_cell_read(e, s, n, &v), 0);
    T_EQU(v.sku, s);
    T_EQU(v.node, n);
    T_EQ(v.on_hand, 12);
    T_EQ(v.reserved, 0);
    T_EQ(v.safety, 2);
    T_EQ(v.available, 10);
    /* no cell at another node, bad indices */
    cr_assert_neq(inv_engine_cell_read(e, s, t_node(e, "sh"), &v), 0);
    cr_assert_neq(inv_engine_cell_read(e, 12345, n, &v), 0);
    cr_assert_neq(inv_engine_cell_read(e, s, 12345, &v), 0);
}
