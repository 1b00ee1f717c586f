/*
 * test_routing.c — routing (route.c) and the geo index (geo.c).
 *
 * Policies through the public API (Reserve in direct mode): NEAREST picks the nearest
 * covering node, prefers one parcel over two nearer ones, splits within max_parcels and
 * respects max_distance_km; SINGLE_NODE_ONLY; PRIORITY; PICKUP with alternatives.
 * Node filters: PAUSED / CLOSED nodes, nodes at daily capacity, non-shipping lockers.
 * White-box: the geo lists against brute force on a few hundred random nodes, routing
 * to the brute-force cheapest node through narrow and wide (> INV_SKU_SCAN_CELLS_MAX
 * cells) SKUs, more holders than the router's pool keeps (its full-pool ranking), the
 * sold-out flag, nodes missing from a snapshot, the build time of a 10,000-node
 * snapshot.
 *
 * Geography: nodes sit at (north_km, east_km) offsets from People's Square, Shanghai;
 * distances in a test differ by clear margins so that only the policy decides.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine_int.h"
#include "geo.h"
#include "route.h"
#include "test_support.h"

#define BASE_LAT 31.2304
#define BASE_LON 121.4737
#define KM_PER_DEG 111.19508
#define DAY_MS (24ull * 3600ull * 1000ull)
#define PI 3.14159265358979323846

/* A variadic list of "sku:qty" strings, NULL-terminated. */
#define LINES(...) ((const char *const[]){__VA_ARGS__, NULL})

static test_clock clk;
static inv_engine *E;
static inv_op R; /* the last reserve of a test */

static void setup(void) {
    clk.now_ms = 1700000000000ull;
    E = test_engine_open(1, &clk);
}

static void teardown(void) { inv_engine_close(E); }

TestSuite(routing, .init = setup, .fini = teardown, .timeout = 120);

/* ====================================================================================
 * Helpers
 * ==================================================================================== */

static double lat_at(double north_km) { return BASE_LAT + north_km / KM_PER_DEG; }
static double lon_at(double east_km) {
    return BASE_LON + east_km / (KM_PER_DEG * cos(BASE_LAT * PI / 180.0));
}

/* A warehouse (ships only) or a store (ships and pickup) as test_support makes them. */
static void node(const char *id, inv_node_kind kind, double north_km, double east_km,
                 uint32_t capacity, uint32_t priority) {
    inv_status s = t_upsert_node(E, id, kind, lat_at(north_km), lon_at(east_km), capacity,
                                 priority);
    cr_assert_eq(s, INV_OK, "upsert %s: %s", id, last_op.message);
}

static void stock(const char *node_id, const char *sku, int64_t on_hand) {
    inv_status s = t_set_to(E, node_id, sku, on_hand);
    cr_assert_eq(s, INV_OK, "stock %s/%s: %s", node_id, sku, last_op.message);
}

static void status_set(const char *node_id, inv_node_status st) {
    cr_assert_eq(t_set_node_status(E, node_id, st), INV_OK);
}

typedef struct order_opts {
    inv_route_policy policy;
    uint32_t max_parcels;
    double max_km;
    const char *pickup;
    double north_km, east_km; /* destination */
} order_opts;

static char line_names[INV_LINES_MAX][INV_ID_LEN_MAX + 8];
static inv_line line_buf[INV_LINES_MAX];

static inv_status order(const char *id, order_opts o, const char *const *lines) {
    uint32_t n = 0;
    for (; lines[n] != NULL; n++) {
        cr_assert_lt(n, INV_LINES_MAX);
        snprintf(line_names[n], sizeof line_names[n], "%s", lines[n]);
        char *colon = strrchr(line_names[n], ':');
        cr_assert_not_null(colon);
        *colon = '\0';
        line_buf[n] = (inv_line){line_names[n], (uint32_t)strtoul(colon + 1, NULL, 10)};
    }
    memset(&R, 0, sizeof R);
    R.type = INV_OP_RESERVE;
    inv_reserve_args *a = &R.in.reserve;
    a->order_id = id;
    a->customer_id = "cust";
    a->dest.has_point = o.policy != INV_ROUTE_PICKUP;
    a->dest.lat = lat_at(o.north_km);
    a->dest.lon = lon_at(o.east_km);
    a->dest.pickup_node_id = o.pickup;
    a->lines = line_buf;
    a->line_count = n;
    a->ttl_ms = 600000;
    a->policy = o.policy;
    a->max_parcels = o.max_parcels;
    a->max_distance_km = o.max_km;
    return inv_engine_execute(E, &R);
}

#define ORDER_OK(id, opts, lines)                                                          \
    do {                                                                                   \
        inv_status s_ = order(id, opts, lines);                                            \
        cr_assert_eq(s_, INV_OK, "order %s: %s (%s)", id, inv_status_name(s_), R.message);  \
        plan_shape_check(&R.out.reservation);                                              \
    } while (0)
#define ORDER_FAILS(id, opts, lines, expected)                                             \
    do {                                                                                   \
        inv_status s_ = order(id, opts, lines);                                            \
        cr_assert_eq(s_, expected, "order %s: %s (%s), expected %s", id,                   \
                     inv_status_name(s_), R.message, inv_status_name(expected));           \
    } while (0)

/* Units of `sku` the last reserve took at `node_id`. */
static uint32_t took(const char *sku, const char *node_id) {
    return t_alloc_qty(&R.out.reservation, t_sku(E, sku), t_node(E, node_id));
}

/* Entries of one node adjacent, parcels = distinct nodes, every qty > 0. */
static void plan_shape_check(const inv_reservation_view *v) {
    uint32_t distinct = 0;
    cr_assert_leq(v->alloc_count, INV_ALLOC_MAX);
    for (uint32_t i = 0; i < v->alloc_count; i++) {
        cr_assert_gt(v->alloc[i].qty, 0);
        if (i > 0 && v->alloc[i].node == v->alloc[i - 1].node) continue;
        for (uint32_t j = 0; j < i; j++)
            cr_assert_neq(v->alloc[j].node, v->alloc[i].node, "entries of a node not adjacent");
        distinct++;
    }
    cr_assert_eq(v->parcels, distinct, "parcels %u, distinct nodes %u", v->parcels, distinct);
}

static order_opts nearest(void) { return (order_opts){.policy = INV_ROUTE_NEAREST}; }

/* A route_request for direct route_plan_make calls (white-box tests). */
static route_request request_of(double lat, double lon, const char *const *lines) {
    route_request rq;
    memset(&rq, 0, sizeof rq);
    rq.policy = INV_ROUTE_NEAREST;
    rq.has_point = true;
    rq.lat = lat;
    rq.lon = lon;
    rq.pickup_node = INV_NONE;
    rq.max_parcels = INV_PARCELS_DEFAULT;
    rq.day = inv_day_of(clk.now_ms);
    for (; lines[rq.line_count] != NULL; rq.line_count++) {
        char name[INV_ID_LEN_MAX + 8];
        snprintf(name, sizeof name, "%s", lines[rq.line_count]);
        char *colon = strrchr(name, ':');
        *colon = '\0';
        rq.sku[rq.line_count] = t_sku(E, name);
        rq.qty[rq.line_count] = (uint32_t)strtoul(colon + 1, NULL, 10);
    }
    return rq;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rng_next(void) {
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dull;
}
static double rng_unit(void) { return (double)(rng_next() >> 11) / 9007199254740992.0; }

/* ====================================================================================
 * NEAREST
 * ==================================================================================== */

Test(routing, nearest_picks_nearest_covering_node) {
    node("W-near", INV_NODE_WAREHOUSE, 10, 0, 0, 0);
    node("W-mid", INV_NODE_WAREHOUSE, 30, 0, 0, 0);
    node("W-far", INV_NODE_WAREHOUSE, 100, 0, 0, 0);
    node("S-closest", INV_NODE_STORE, 2, 0, 0, 0);
    stock("W-near", "tv", 5);
    stock("W-mid", "tv", 5);
    stock("W-far", "tv", 5);
    stock("S-closest", "tv", 1);
    ORDER_OK("o1", nearest(), LINES("tv:2"));
    cr_assert_eq(R.out.reservation.parcels, 1);
    cr_assert_eq(took("tv", "W-near"), 2);
    /* The plan's cost is the parcel's: km × warehouse weight (1.0). */
    double km = geo_distance_km(lat_at(10), lon_at(0), lat_at(0), lon_at(0));
    cr_assert_float_eq(R.out.reservation.cost, km, 1e-3 * km);
}

Test(routing, nearest_prefers_one_parcel_over_two_nearer_nodes) {
    node("N1", INV_NODE_WAREHOUSE, 5, 0, 0, 0);
    node("N2", INV_NODE_WAREHOUSE, 0, 6, 0, 0);
    node("F", INV_NODE_WAREHOUSE, 80, 0, 0, 0);
    stock("N1", "a", 10);
    stock("N2", "b", 10);
    stock("F", "a", 10);
    stock("F", "b", 10);
    ORDER_OK("o1", nearest(), LINES("a:1", "b:1"));
    cr_assert_eq(R.out.reservation.parcels, 1);
    cr_assert_eq(took("a", "F"), 1);
    cr_assert_eq(took("b", "F"), 1);
}

Test(routing, nearest_splits_within_max_parcels) {
    node("N1", INV_NODE_WAREHOUSE, 5, 0, 0, 0);
    node("N2", INV_NODE_WAREHOUSE, 0, 6, 0, 0);
    node("N3", INV_NODE_WAREHOUSE, -7, 0, 0, 0);
    node("N4", INV_NODE_WAREHOUSE, 300, 0, 0, 0);
    stock("N1", "a", 10);
    stock("N2", "b", 10);
    stock("N3", "c", 10);
    stock("N4", "a", 10);
    stock("N4", "b", 10);
    order_opts two = nearest();
    two.max_parcels = 2;
    ORDER_OK("o1", two, LINES("a:1", "b:1", "c:1")); /* N4 + N3: the only 2-cover */
    cr_assert_eq(R.out.reservation.parcels, 2);
    cr_assert_eq(took("c", "N3"), 1);
    cr_assert_eq(took("a", "N4") + took("b", "N4"), 2);
    ORDER_OK("o2", nearest(), LINES("a:1", "b:1", "c:1")); /* default 4: still 2 parcels */
    cr_assert_eq(R.out.reservation.parcels, 2);
    stock("N4", "a", 0);
    ORDER_FAILS("o3", two, LINES("a:1", "b:1", "c:1"), INV_NO_ROUTE);
    order_opts three = nearest();
    three.max_parcels = 3;
    ORDER_OK("o4", three, LINES("a:1", "b:1", "c:1"));
    cr_assert_eq(R.out.reservation.parcels, 3);
    cr_assert_eq(took("b", "N2"), 1, "N2 is nearer than N4 for b");
}

Test(routing, nearest_split_of_one_line_fills_cheapest_first) {
    node("A", INV_NODE_WAREHOUSE, 5, 0, 0, 0);
    node("B", INV_NODE_WAREHOUSE, 10, 0, 0, 0);
    node("C", INV_NODE_WAREHOUSE, 20, 0, 0, 0);
    stock("A", "x", 6);
    stock("B", "x", 6);
    stock("C", "x", 10);
    ORDER_OK("o1", nearest(), LINES("x:10")); /* C alone beats A + B */
    cr_assert_eq(R.out.reservation.parcels, 1);
    cr_assert_eq(took("x", "C"), 10);
    cr_assert_eq(t_release(E, "o1"), INV_OK);
    ORDER_OK("o2", nearest(), LINES("x:15")); /* A + C (16) is the cheapest pair */
    cr_assert_eq(R.out.reservation.parcels, 2);
    cr_assert_eq(took("x", "A"), 6, "the cheaper node is filled first");
    cr_assert_eq(took("x", "C"), 9);
    cr_assert_eq(took("x", "B"), 0);
}

Test(routing, nearest_split_prefers_cheapest_pair) {
    node("S-close", INV_NODE_STORE, 2, 0, 0, 0);
    node("W-near", INV_NODE_WAREHOUSE, 10, 0, 0, 0);
    node("W-mid", INV_NODE_WAREHOUSE, 30, 0, 0, 0);
    stock("S-close", "tv", 1);
    stock("W-near", "tv", 5);
    stock("W-mid", "tv", 5);
    ORDER_OK("o1", nearest(), LINES("tv:6"));
    cr_assert_eq(R.out.reservation.parcels, 2);
    cr_assert_eq(took("tv", "S-close"), 1);
    cr_assert_eq(took("tv", "W-near"), 5);
}

Test(routing, nearest_respects_max_distance) {
    node("Far", INV_NODE_WAREHOUSE, 200, 0, 0, 0);
    stock("Far", "tv", 5);
    order_opts in100 = nearest();
    in100.max_km = 100;
    ORDER_FAILS("o1", in100, LINES("tv:2"), INV_NO_ROUTE); /* stock exists, out of range */
    node("Near", INV_NODE_WAREHOUSE, 50, 0, 0, 0);
    stock("Near", "tv", 1);
    ORDER_FAILS("o2", in100, LINES("tv:2"), INV_INSUFFICIENT_STOCK);
    cr_assert_eq(R.out.reservation.shortfall[0], 1);
    ORDER_OK("o3", in100, LINES("tv:1"));
    cr_assert_eq(took("tv", "Near"), 1);
    ORDER_OK("o4", nearest(), LINES("tv:2")); /* no limit */
    cr_assert_eq(took("tv", "Far"), 2);
}

Test(routing, insufficient_stock_reports_shortfall_per_line) {
    node("A", INV_NODE_WAREHOUSE, 5, 0, 0, 0);
    node("B", INV_NODE_WAREHOUSE, 15, 0, 0, 0);
    stock("A", "x", 4);
    stock("B", "x", 3);
    stock("A", "y", 9);
    ORDER_FAILS("o1", nearest(), LINES("y:2", "x:10"), INV_INSUFFICIENT_STOCK);
    cr_assert_eq(R.out.reservation.shortfall[0], 0);
    cr_assert_eq(R.out.reservation.shortfall[1], 3);
    cr_assert_eq(t_cell(E, "A", "x").reserved, 0, "nothing taken");
}

Test(routing, locker_does_not_ship) {
    node("L", INV_NODE_LOCKER, 1, 0, 0, 0);
    node("W", INV_NODE_WAREHOUSE, 40, 0, 0, 0);
    stock("L", "x", 5);
    stock("W", "x", 5);
    ORDER_OK("o1", nearest(), LINES("x:1"));
    cr_assert_eq(took("x", "W"), 1);
}

/* ====================================================================================
 * SINGLE_NODE_ONLY, PRIORITY
 * ==================================================================================== */

Test(routing, single_node_only_never_splits) {
    node("N1", INV_NODE_WAREHOUSE, 5, 0, 0, 0);
    node("N2", INV_NODE_WAREHOUSE, 0, 6, 0, 0);
    stock("N1", "a", 10);
    stock("N2", "b", 10);
    order_opts single = {.policy = INV_ROUTE_SINGLE_NODE_ONLY, .max_parcels = 4};
    ORDER_FAILS("o1", single, LINES("a:1", "b:1"), INV_NO_ROUTE);
    ORDER_OK("o2", nearest(), LINES("a:1", "b:1")); /* NEAREST would split */
    cr_assert_eq(R.out.reservation.parcels, 2);
    node("F", INV_NODE_WAREHOUSE, 90, 0, 0, 0);
    stock("F", "a", 1);
    stock("F", "b", 1);
    ORDER_OK("o3", single, LINES("a:1", "b:1"));
    cr_assert_eq(took("a", "F"), 1);
    cr_assert_eq(took("b", "F"), 1);
}

Test(routing, priority_ranks_before_distance) {
    node("A", INV_NODE_WAREHOUSE, 5, 0, 0, 5);
    node("B", INV_NODE_WAREHOUSE, 50, 0, 0, 1);
    node("C", INV_NODE_WAREHOUSE, 60, 0, 0, 1);
    stock("A", "x", 10);
    stock("B", "x", 10);
    stock("C", "x", 10);
    order_opts prio = {.policy = INV_ROUTE_PRIORITY};
    ORDER_OK("o1", prio, LINES("x:2"));
    cr_assert_eq(took("x", "B"), 2, "priority 1 first, nearer of the two");
    ORDER_OK("o2", nearest(), LINES("x:2"));
    cr_assert_eq(took("x", "A"), 2, "NEAREST ignores priority beyond its tie-break");
    stock("B", "x", 6); /* 4 left after o1 */
    ORDER_OK("o3", prio, LINES("x:9"));
    cr_assert_eq(took("x", "C"), 9, "first node in priority order holding it all");
}

Test(routing, priority_greedy_takes_nodes_in_rank_order) {
    node("A", INV_NODE_WAREHOUSE, 5, 0, 0, 5);
    node("B", INV_NODE_WAREHOUSE, 50, 0, 0, 1);
    node("C", INV_NODE_WAREHOUSE, 60, 0, 0, 2);
    stock("A", "x", 5);
    stock("B", "x", 4);
    stock("C", "x", 4);
    order_opts prio = {.policy = INV_ROUTE_PRIORITY, .max_parcels = 2};
    ORDER_FAILS("o1", prio, LINES("x:10"), INV_NO_ROUTE);
    prio.max_parcels = 3;
    ORDER_OK("o2", prio, LINES("x:10"));
    cr_assert_eq(R.out.reservation.parcels, 3);
    cr_assert_eq(took("x", "B"), 4);
    cr_assert_eq(took("x", "C"), 4);
    cr_assert_eq(took("x", "A"), 2);
    cr_assert_eq(R.out.reservation.alloc[0].node, t_node(E, "B"), "filled in rank order");
}

/* ====================================================================================
 * PICKUP
 * ==================================================================================== */

Test(routing, pickup_uses_only_the_named_node) {
    node("P", INV_NODE_STORE, 0, 0, 0, 0);
    node("W", INV_NODE_WAREHOUSE, 1, 0, 0, 0);
    stock("P", "x", 2);
    stock("W", "x", 100);
    order_opts pick = {.policy = INV_ROUTE_PICKUP, .pickup = "P"};
    ORDER_OK("o1", pick, LINES("x:2"));
    cr_assert_eq(took("x", "P"), 2);
    cr_assert_eq(R.out.reservation.parcels, 1);
    order_opts at_w = {.policy = INV_ROUTE_PICKUP, .pickup = "W"};
    ORDER_FAILS("o2", at_w, LINES("x:1"), INV_NO_ROUTE); /* a warehouse offers no pickup */
}

Test(routing, pickup_short_offers_nearest_alternatives) {
    node("P", INV_NODE_STORE, 0, 0, 0, 0);
    node("Q1", INV_NODE_STORE, 3, 0, 0, 0);
    node("Q2", INV_NODE_LOCKER, 0, 5, 0, 0);
    node("Q3", INV_NODE_STORE, -8, 0, 0, 0);
    node("Q-paused", INV_NODE_STORE, 1, 1, 0, 0);
    node("Q-partial", INV_NODE_STORE, 2, 0, 0, 0);
    node("W", INV_NODE_WAREHOUSE, 0.5, 0, 0, 0); /* holds it, but no pickup */
    node("Q4", INV_NODE_STORE, 20, 0, 0, 0);
    node("Q5", INV_NODE_STORE, 30, 0, 0, 0);
    node("Q6", INV_NODE_STORE, 40, 0, 0, 0);
    const char *full[] = {"Q1", "Q2", "Q3", "Q-paused", "W", "Q4", "Q5", "Q6"};
    for (size_t i = 0; i < sizeof full / sizeof full[0]; i++) {
        stock(full[i], "x", 5);
        stock(full[i], "y", 5);
    }
    stock("Q-partial", "x", 5);
    stock("P", "x", 1);
    status_set("Q-paused", INV_NODE_PAUSED);
    order_opts pick = {.policy = INV_ROUTE_PICKUP, .pickup = "P"};
    ORDER_FAILS("o1", pick, LINES("x:2", "y:1"), INV_INSUFFICIENT_STOCK);
    const inv_reservation_view *v = &R.out.reservation;
    cr_assert_eq(v->shortfall[0], 1);
    cr_assert_eq(v->shortfall[1], 1);
    cr_assert_eq(v->alternative_count, INV_PICKUP_ALTERNATIVES_MAX);
    const char *want[] = {"Q1", "Q2", "Q3", "Q4", "Q5"};
    for (uint32_t i = 0; i < INV_PICKUP_ALTERNATIVES_MAX; i++)
        cr_assert_eq(v->alternatives[i], t_node(E, want[i]), "alternative %u is %s", i,
                     inv_engine_node_id(E, v->alternatives[i]));
    status_set("P", INV_NODE_CLOSED); /* a closed pickup node also names alternatives */
    stock("P", "x", 10);
    stock("P", "y", 10);
    ORDER_FAILS("o2", pick, LINES("x:2", "y:1"), INV_NO_ROUTE);
    cr_assert_eq(R.out.reservation.alternative_count, INV_PICKUP_ALTERNATIVES_MAX);
    status_set("P", INV_NODE_ACTIVE);
    ORDER_OK("o3", pick, LINES("x:2", "y:1"));
    cr_assert_eq(took("x", "P"), 2);
}

/* ====================================================================================
 * Node filters
 * ==================================================================================== */

Test(routing, skips_paused_and_closed_nodes) {
    node("N1", INV_NODE_WAREHOUSE, 5, 0, 0, 0);
    node("N2", INV_NODE_WAREHOUSE, 10, 0, 0, 0);
    node("N3", INV_NODE_WAREHOUSE, 20, 0, 0, 0);
    stock("N1", "x", 10);
    stock("N2", "x", 10);
    stock("N3", "x", 10);
    status_set("N1", INV_NODE_PAUSED);
    status_set("N2", INV_NODE_CLOSED);
    ORDER_OK("o1", nearest(), LINES("x:1"));
    cr_assert_eq(took("x", "N3"), 1);
    status_set("N3", INV_NODE_PAUSED);
    ORDER_FAILS("o2", nearest(), LINES("x:1"), INV_NO_ROUTE);
    status_set("N1", INV_NODE_ACTIVE);
    ORDER_OK("o3", nearest(), LINES("x:1"));
    cr_assert_eq(took("x", "N1"), 1);
}

Test(routing, skips_nodes_at_daily_capacity) {
    node("N1", INV_NODE_STORE, 5, 0, 1, 0);
    node("N2", INV_NODE_WAREHOUSE, 10, 0, 0, 0);
    stock("N1", "x", 10);
    stock("N2", "x", 10);
    ORDER_OK("o1", nearest(), LINES("x:1"));
    cr_assert_eq(took("x", "N1"), 1);
    ORDER_OK("o2", nearest(), LINES("x:1"));
    cr_assert_eq(took("x", "N2"), 1, "N1 has used its one order of the day");
    cr_assert_eq(t_release(E, "o1"), INV_OK);
    ORDER_OK("o3", nearest(), LINES("x:1"));
    cr_assert_eq(took("x", "N1"), 1, "a release gives the day's order back");
    ORDER_OK("o4", nearest(), LINES("x:1"));
    cr_assert_eq(took("x", "N2"), 1);
    clk.now_ms += DAY_MS;
    ORDER_OK("o5", nearest(), LINES("x:1"));
    cr_assert_eq(took("x", "N1"), 1, "a new business day resets the capacity");
}

/* ====================================================================================
 * White-box: plans, sold-out, snapshots
 * ==================================================================================== */

Test(routing, sku_exhausted_only_when_every_cell_is_empty) {
    node("N1", INV_NODE_WAREHOUSE, 5, 0, 0, 0);
    node("N2", INV_NODE_WAREHOUSE, 10, 0, 0, 0);
    stock("N1", "x", 0);
    stock("N2", "x", 0);
    stock("N2", "y", 4);
    status_set("N2", INV_NODE_PAUSED);
    route_scratch *s = route_scratch_new();
    route_plan p;
    route_request rq = request_of(BASE_LAT, BASE_LON, LINES("x:1", "y:1"));
    route_plan_make(E, catalog_geo(E), s, &rq, &p);
    cr_assert_eq(p.status, INV_INSUFFICIENT_STOCK);
    cr_assert(p.sku_exhausted[0], "x has no unit anywhere");
    cr_assert_not(p.sku_exhausted[1], "y has units, at a paused node");
    rq = request_of(BASE_LAT, BASE_LON, LINES("y:1"));
    route_plan_make(E, catalog_geo(E), s, &rq, &p);
    cr_assert_eq(p.status, INV_NO_ROUTE, "stock exists, no eligible node: %s", p.reason);
    cr_assert_not(p.sku_exhausted[0]);
    route_scratch_free(s);
}

Test(routing, sold_out_sku_answers_from_the_flag_then_recovers) {
    node("N1", INV_NODE_WAREHOUSE, 5, 0, 0, 0);
    stock("N1", "x", 1);
    ORDER_OK("o1", nearest(), LINES("x:1"));
    ORDER_FAILS("o2", nearest(), LINES("x:1"), INV_INSUFFICIENT_STOCK);
    ORDER_FAILS("o3", nearest(), LINES("x:1"), INV_INSUFFICIENT_STOCK);
    inv_engine_stats st;
    inv_engine_stats_read(E, &st);
    cr_assert_geq(st.sold_out_fast_path, 1, "the second failure uses the sold-out flag");
    cr_assert_eq(t_release(E, "o1"), INV_OK);
    ORDER_OK("o4", nearest(), LINES("x:1"));
}

Test(routing, node_missing_from_snapshot_is_skipped) {
    node("N1", INV_NODE_WAREHOUSE, 50, 0, 0, 0);
    stock("N1", "x", 5);
    geo_snapshot *old = NULL;
    cr_assert_eq(geo_snapshot_build(E, &old), 0);
    node("N2", INV_NODE_WAREHOUSE, 1, 0, 0, 0);
    stock("N2", "x", 5);
    route_scratch *s = route_scratch_new();
    route_plan p;
    route_request rq = request_of(BASE_LAT, BASE_LON, LINES("x:1"));
    route_plan_make(E, old, s, &rq, &p);
    cr_assert_eq(p.status, INV_OK);
    cr_assert_eq(p.alloc[0].node, t_node(E, "N1"), "N2 is not in the old snapshot");
    route_plan_make(E, catalog_geo(E), s, &rq, &p);
    cr_assert_eq(p.alloc[0].node, t_node(E, "N2"));
    route_scratch_free(s);
    geo_snapshot_free(old);
}

Test(routing, parcel_cost_is_weighted_km_plus_priority) {
    node("S", INV_NODE_STORE, 30, 40, 0, 7);
    const geo_snapshot *g = catalog_geo(E);
    double km = geo_distance_km(lat_at(30), lon_at(40), BASE_LAT, BASE_LON);
    cr_assert_float_eq(km, 50.0, 0.5, "a 30-40-50 triangle: %f", km);
    double want = km * E->cfg.weights.kind_weight[INV_NODE_STORE] +
                  7 * E->cfg.weights.priority_cost_km;
    double got = route_parcel_cost(E, g, t_node(E, "S"), BASE_LAT, BASE_LON);
    cr_assert_float_eq(got, want, 1e-9 * want, "%f vs %f", got, want);
    cr_assert(isinf(route_parcel_cost(E, g, 12345, BASE_LAT, BASE_LON)));
}

Test(routing, many_lines_split_over_many_parcels) {
    const char *nodes[] = {"N0", "N1", "N2", "N3", "N4"};
    const char *skus[] = {"s0", "s1", "s2", "s3", "s4"};
    for (int i = 0; i < 5; i++) {
        node(nodes[i], INV_NODE_WAREHOUSE, 10.0 * (i + 1), 0, 0, 0);
        stock(nodes[i], skus[i], 3);
    }
    order_opts eight = {.policy = INV_ROUTE_NEAREST, .max_parcels = 8};
    ORDER_OK("o1", eight, LINES("s0:1", "s1:1", "s2:1", "s3:1", "s4:1"));
    cr_assert_eq(R.out.reservation.parcels, 5);
    order_opts four = {.policy = INV_ROUTE_NEAREST, .max_parcels = 4};
    ORDER_FAILS("o2", four, LINES("s0:1", "s1:1", "s2:1", "s3:1", "s4:1"), INV_NO_ROUTE);
}

/* ====================================================================================
 * Geo index against brute force; wide SKUs
 * ==================================================================================== */

typedef struct rnd_node { double lat, lon; bool ships, pickup; inv_node_kind kind; } rnd_node;

/* `n` random nodes over eastern China (published once at the end). */
static void random_nodes(rnd_node *out, uint32_t n) {
    for (uint32_t i = 0; i < n; i++) {
        rnd_node *r = &out[i];
        r->lat = 22.0 + 18.0 * rng_unit();
        r->lon = 108.0 + 14.0 * rng_unit();
        r->ships = rng_unit() < 0.7;
        r->pickup = !r->ships || rng_unit() < 0.5;
        r->kind = !r->ships ? INV_NODE_LOCKER : r->pickup ? INV_NODE_STORE : INV_NODE_WAREHOUSE;
        char id[32];
        snprintf(id, sizeof id, "R%u", i);
        inv_op op;
        memset(&op, 0, sizeof op);
        op.type = INV_OP_UPSERT_NODE;
        op.in.node = (inv_node_spec){.node_id = id, .kind = r->kind, .lat = r->lat,
                                     .lon = r->lon, .ships = r->ships, .pickup = r->pickup,
                                     .status = INV_NODE_ACTIVE};
        cr_assert_eq(inv_engine_execute(E, &op), INV_OK, "%s", op.message);
    }
    inv_engine_catalog_publish(E);
}

/* The list of (lat, lon)'s cell must be the K nodes of the class nearest its centre. */
static void geo_list_check(const geo_snapshot *g, const rnd_node *nodes, uint32_t n,
                           double lat, double lon, bool pickup) {
    geo_cell_list list;
    geo_cell_lookup(g, lat, lon, pickup, &list);
    double clat = asin(list.centre[2]) * 180.0 / PI;
    double clon = atan2(list.centre[1], list.centre[0]) * 180.0 / PI;
    static double d[1024];
    uint32_t members = 0;
    for (uint32_t i = 0; i < n; i++) {
        d[i] = geo_distance_km(clat, clon, nodes[i].lat, nodes[i].lon);
        members += pickup ? nodes[i].pickup : nodes[i].ships;
    }
    uint32_t k = members < INV_GEO_CELL_NODES_MAX ? members : INV_GEO_CELL_NODES_MAX;
    cr_assert_eq(list.count, k);
    for (uint32_t j = 0; j < list.count; j++) {
        uint32_t m = list.nodes[j];
        cr_assert(pickup ? nodes[m].pickup : nodes[m].ships, "node of the wrong class");
        const float *v = &list.xyz[3 * j];
        double u[3];
        geo_point_unit(nodes[m].lat, nodes[m].lon, u);
        for (int c = 0; c < 3; c++) cr_assert_float_eq(v[c], u[c], 1e-6, "node vector");
        if (j > 0) cr_assert_geq(d[m] + 1e-9, d[list.nodes[j - 1]], "list out of order");
        uint32_t nearer = 0; /* nodes of the class strictly nearer than m */
        for (uint32_t i = 0; i < n; i++)
            if ((pickup ? nodes[i].pickup : nodes[i].ships) && d[i] < d[m] - 1e-9) nearer++;
        cr_assert_leq(nearer, j, "node %u at %.3f km is listed %u-th, %u are nearer", m,
                      d[m], j, nearer);
    }
}

Test(routing, geo_lists_match_brute_force) {
    enum { N = 400 };
    static rnd_node nodes[N];
    random_nodes(nodes, N);
    const geo_snapshot *g = catalog_geo(E);
    cr_assert_eq(geo_node_count(g), N);
    for (int q = 0; q < 300; q++) {
        double lat = 18.0 + 26.0 * rng_unit(), lon = 104.0 + 22.0 * rng_unit(); /* some outside */
        geo_list_check(g, nodes, N, lat, lon, false);
        geo_list_check(g, nodes, N, lat, lon, true);
    }
}

/* Cheapest eligible shipping node holding `sku` for a destination, by brute force. */
static uint32_t brute_cheapest(const rnd_node *nodes, uint32_t n, const bool *holds,
                               double lat, double lon) {
    uint32_t best = INV_NONE;
    double best_cost = INFINITY;
    for (uint32_t i = 0; i < n; i++) {
        if (!nodes[i].ships || !holds[i]) continue;
        double c = geo_distance_km(lat, lon, nodes[i].lat, nodes[i].lon) *
                   E->cfg.weights.kind_weight[nodes[i].kind];
        if (c < best_cost) {
            best_cost = c;
            best = i;
        }
    }
    return best;
}

Test(routing, routes_to_brute_force_cheapest_through_narrow_and_wide_skus) {
    enum { N = 300 };
    static rnd_node nodes[N];
    static bool wide[N], narrow[N];
    random_nodes(nodes, N);
    uint32_t wide_cells = 0;
    for (uint32_t i = 0; i < N; i++) {
        char id[32];
        snprintf(id, sizeof id, "R%u", i);
        wide[i] = rng_unit() < 0.6;
        narrow[i] = rng_unit() < 0.12;
        if (wide[i]) {
            stock(id, "wide", 1000);
            wide_cells++;
        }
        if (narrow[i]) stock(id, "narrow", 1000);
    }
    cr_assert_gt(wide_cells, INV_SKU_SCAN_CELLS_MAX, "the wide SKU walks the geo index");
    cr_assert_leq(sku_at(E, t_sku(E, "narrow"))->cell_count, INV_SKU_SCAN_CELLS_MAX);
    route_scratch *s = route_scratch_new();
    route_plan p;
    for (int q = 0; q < 400; q++) {
        double lat = 22.0 + 18.0 * rng_unit(), lon = 108.0 + 14.0 * rng_unit();
        const char *sku = q % 2 ? "wide:1" : "narrow:1";
        route_request rq = request_of(lat, lon, LINES(sku));
        route_plan_make(E, catalog_geo(E), s, &rq, &p);
        cr_assert_eq(p.status, INV_OK, "%s", p.reason);
        uint32_t want = brute_cheapest(nodes, N, q % 2 ? wide : narrow, lat, lon);
        cr_assert_eq(p.alloc[0].node, want, "%s to (%f, %f): node %u, brute force %u", sku,
                     lat, lon, p.alloc[0].node, want);
    }
    route_scratch_free(s);
}

Test(routing, wide_sku_falls_back_to_its_cell_list) {
    char id[32];
    for (int i = 0; i < 100; i++) { /* 100 stores within ~30 km, one far warehouse */
        snprintf(id, sizeof id, "S%d", i);
        node(id, INV_NODE_STORE, 30.0 * rng_unit() - 15, 30.0 * rng_unit() - 15, 0, 0);
        stock(id, "flash", i == 7 ? 3 : 1);
    }
    node("W-far", INV_NODE_WAREHOUSE, 900, 0, 0, 0);
    stock("W-far", "flash", 50);
    stock("W-far", "rare", 5);
    ORDER_OK("o1", nearest(), LINES("flash:3"));
    cr_assert_eq(took("flash", "S7"), 3, "the only store holding 3");
    ORDER_OK("o2", nearest(), LINES("flash:1", "rare:1"));
    cr_assert_eq(took("flash", "W-far"), 1, "one parcel from the node holding both lines");
    for (int i = 0; i < 100; i++) {
        snprintf(id, sizeof id, "S%d", i);
        stock(id, "flash", 0);
    }
    ORDER_OK("o3", nearest(), LINES("flash:2")); /* not in any nearby list: whole list */
    cr_assert_eq(took("flash", "W-far"), 2);
    stock("W-far", "flash", 0);
    ORDER_FAILS("o4", nearest(), LINES("flash:1"), INV_INSUFFICIENT_STOCK);
    ORDER_FAILS("o5", nearest(), LINES("flash:1"), INV_INSUFFICIENT_STOCK);
    inv_engine_stats st;
    inv_engine_stats_read(E, &st);
    cr_assert_geq(st.sold_out_fast_path, 1, "a wide sold-out SKU raises the flag too");
    stock("S3", "flash", 1);
    ORDER_OK("o6", nearest(), LINES("flash:1"));
    cr_assert_eq(took("flash", "S3"), 1);
}

Test(routing, snapshot_of_10k_nodes_builds_fast) {
    inv_op op;
    char id[32];
    for (uint32_t i = 0; i < 10000; i++) {
        snprintf(id, sizeof id, "N%u", i);
        memset(&op, 0, sizeof op);
        op.type = INV_OP_UPSERT_NODE;
        bool ships = rng_unit() < 0.8;
        op.in.node = (inv_node_spec){.node_id = id, .kind = INV_NODE_STORE,
                                     .lat = 20.0 + 22.0 * rng_unit(),
                                     .lon = 100.0 + 25.0 * rng_unit(), .ships = ships,
                                     .pickup = !ships || rng_unit() < 0.5,
                                     .status = INV_NODE_ACTIVE};
        cr_assert_eq(inv_engine_execute(E, &op), INV_OK, "%s", op.message);
    }
    struct timespec t0, t1;
    geo_snapshot *g = NULL;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    cr_assert_eq(geo_snapshot_build(E, &g), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    fprintf(stderr, "geo snapshot of 10000 nodes built in %.1f ms\n", ms);
    cr_assert_eq(geo_node_count(g), 10000);
    cr_assert_lt(ms, 1000.0, "build took %.1f ms", ms);
    geo_snapshot_free(g);
}

/* More holders than the router's pool keeps (256), none in the destination's grid list:
 * the whole cell list is walked, farthest holders first (cells are prepended, and the
 * nearest were stocked first), so the cheapest arrive once the pool is full and must
 * displace the costlier rows. A paused node among the cheapest must be skipped. */
static int by_distance(const void *a, const void *b) {
    double da = ((const double *)a)[0], db = ((const double *)b)[0];
    return da < db ? -1 : da > db;
}

Test(routing, many_far_holders_keep_the_cheapest) {
    enum { N = 700 };
    static rnd_node nodes[N];
    static bool holds[N];
    static double order[N][2]; /* (distance, node) */
    char id[32];
    double lat = 31.0, lon = 115.0;
    random_nodes(nodes, N);
    geo_cell_list list;
    geo_cell_lookup(catalog_geo(E), lat, lon, false, &list);
    for (uint32_t i = 0; i < N; i++) {
        order[i][0] = geo_distance_km(lat, lon, nodes[i].lat, nodes[i].lon);
        order[i][1] = i;
        holds[i] = nodes[i].ships;
    }
    for (uint32_t j = 0; j < list.count; j++) holds[list.nodes[j]] = false;
    qsort(order, N, sizeof order[0], by_distance);
    uint32_t holders = 0;
    for (uint32_t k = 0; k < N; k++) { /* nearest first: they end at the list's tail */
        uint32_t i = (uint32_t)order[k][1];
        snprintf(id, sizeof id, "R%u", i);
        stock(id, "many", holds[i] ? 1 : 0);
        holders += holds[i];
    }
    cr_assert_gt(holders, 300, "more holders than the pool keeps");
    route_scratch *s = route_scratch_new();
    route_plan p;
    route_request rq = request_of(lat, lon, LINES("many:1"));
    for (int round = 0; round < 6; round++) {
        uint32_t want = brute_cheapest(nodes, N, holds, lat, lon);
        route_plan_make(E, catalog_geo(E), s, &rq, &p);
        cr_assert_eq(p.status, INV_OK, "%s", p.reason);
        cr_assert_eq(p.alloc[0].node, want, "round %d: node %u, brute force %u", round,
                     p.alloc[0].node, want);
        snprintf(id, sizeof id, "R%u", want);
        status_set(id, INV_NODE_PAUSED);
        holds[want] = false;
    }
    /* Three units, one per node: the three cheapest holders (all found by the walk). */
    rq = request_of(lat, lon, LINES("many:3"));
    route_plan_make(E, catalog_geo(E), s, &rq, &p);
    cr_assert_eq(p.status, INV_OK, "%s", p.reason);
    cr_assert_eq(p.parcels, 3);
    for (uint32_t k = 0; k < 3; k++) {
        uint32_t want = brute_cheapest(nodes, N, holds, lat, lon);
        cr_assert_eq(p.alloc[k].node, want, "parcel %u: node %u, brute force %u", k,
                     p.alloc[k].node, want);
        holds[want] = false;
    }
    route_scratch_free(s);
}
