/*
 * test_bad_input.c — malformed and out-of-range requests: a status, a message, and no
 * change at all.
 *
 * Every case runs one op against a fresh small engine with nodes, stock, safety, a limit,
 * a capacity-limited store, a HELD order and a committed one (cases run in families, one
 * Criterion test per family), and checks: the exact status
 * (INVALID_ARGUMENT, NOT_FOUND, CONFLICT or RESOURCE_EXHAUSTED), a non-empty message, and
 * that a fingerprint of everything observable — stats, nodes, SKUs, every cell — is
 * unchanged (inv_engine.h: "Bad input never aborts: it gives INV_INVALID_ARGUMENT (or
 * NOT_FOUND) with a message and changes nothing"). The cases: unknown SKU / node / order,
 * qty 0 and too large, 0 and > INV_LINES_MAX lines, duplicate SKUs, NULL / empty / too
 * long ids (order, customer, SKU, node, ref, pickup node, region), NaN / inf /
 * out-of-range coordinates, radius and distance, ttl 0 and > INV_TTL_MS_MAX, bad policy /
 * kind / status / op type enums, PICKUP without a pickup node, adjusts that would take
 * on_hand below 0 or above INV_QTY_MAX (also on a cell that does not exist yet), full
 * tables; and inv_engine_open with a bad config.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "test_support.h"

#define T0_MS 1731200000000ull

static test_clock clk = {T0_MS};
static inv_engine *e;
static char long_id[INV_ID_LEN_MAX + 2];   /* 65 bytes: one too many */
static char max_id[INV_ID_LEN_MAX + 1];    /* 64 bytes: just fits */
static char long_region[INV_REGION_LEN_MAX + 2];
static inv_line lines_buf[INV_LINES_MAX + 1];
static char line_skus[INV_LINES_MAX + 1][16];

static void fill_ids(void) {
    memset(long_id, 'k', INV_ID_LEN_MAX + 1);
    long_id[INV_ID_LEN_MAX + 1] = '\0';
    memset(max_id, 'm', INV_ID_LEN_MAX);
    max_id[INV_ID_LEN_MAX] = '\0';
    memset(long_region, 'r', INV_REGION_LEN_MAX + 1);
    long_region[INV_REGION_LEN_MAX + 1] = '\0';
}

static void setup(void) {
    clk.now_ms = T0_MS;
    fill_ids();
    e = test_engine_open_small(3, &clk);
    T_STATUS(t_upsert_node(e, "sh", INV_NODE_WAREHOUSE, T_DEST_LAT, T_DEST_LON, 0, 0), INV_OK);
    T_STATUS(t_upsert_node(e, "store", INV_NODE_STORE, 31.2, 121.4, 5, 1), INV_OK);
    T_STATUS(t_adjust(e, "sh", "tea", 10), INV_OK);
    T_STATUS(t_adjust(e, "store", "tea", 3), INV_OK);
    T_STATUS(t_adjust(e, "sh", "cup", 4), INV_OK);
    T_STATUS(t_set_safety(e, "sh", "cup", 1), INV_OK);
    T_STATUS(t_set_limit(e, "tea", 5), INV_OK);
    for (uint32_t i = 0; i <= INV_LINES_MAX; i++) {
        snprintf(line_skus[i], sizeof line_skus[i], "l%02u", i);
        T_STATUS(t_adjust(e, "sh", line_skus[i], 1), INV_OK);
    }
    T_STATUS(t_reserve1(e, "held-1", "c1", "tea", 2, 60000), INV_OK);
    T_STATUS(t_reserve1(e, "done-1", "c1", "cup", 1, 60000), INV_OK);
    T_STATUS(t_commit(e, "done-1"), INV_OK);
    T_STATUS(t_adjust_ref(e, "sh", "cup", 1, "ref-seen"), INV_OK);
}
static void teardown(void) {
    if (e != NULL) inv_engine_close(e);
    e = NULL;
}

/* ---- valid base ops that each case breaks in one way -------------------------------- */

static void base_reserve(inv_op *op) {
    memset(op, 0, sizeof *op);
    op->type = INV_OP_RESERVE;
    lines_buf[0].sku = "tea";
    lines_buf[0].qty = 1;
    inv_reserve_args *a = &op->in.reserve;
    a->order_id = "new-order";
    a->customer_id = "c9";
    a->dest.has_point = true;
    a->dest.lat = T_DEST_LAT;
    a->dest.lon = T_DEST_LON;
    a->lines = lines_buf;
    a->line_count = 1;
    a->ttl_ms = 60000;
    a->policy = INV_ROUTE_NEAREST;
}
static void base_order(inv_op *op, inv_op_type type) {
    memset(op, 0, sizeof *op);
    op->type = type;
    op->in.order.order_id = "held-1";
}
static void base_extend(inv_op *op) {
    memset(op, 0, sizeof *op);
    op->type = INV_OP_EXTEND;
    op->in.extend.order_id = "held-1";
    op->in.extend.ttl_ms = 60000;
}
static void base_adjust(inv_op *op) {
    memset(op, 0, sizeof *op);
    op->type = INV_OP_ADJUST;
    op->in.adjust.node_id = "sh";
    op->in.adjust.sku = "tea";
    op->in.adjust.delta = 1;
}
static void base_return(inv_op *op) {
    memset(op, 0, sizeof *op);
    op->type = INV_OP_RETURN;
    op->in.ret.node_id = "sh";
    op->in.ret.sku = "tea";
    op->in.ret.qty = 1;
}
static void base_upsert(inv_op *op) {
    memset(op, 0, sizeof *op);
    op->type = INV_OP_UPSERT_NODE;
    inv_node_spec *n = &op->in.node;
    n->node_id = "new-node";
    n->kind = INV_NODE_STORE;
    n->lat = 30.0;
    n->lon = 120.0;
    n->region = "ZJ";
    n->ships = true;
    n->pickup = true;
    n->status = INV_NODE_ACTIVE;
}
static void base_node_status(inv_op *op) {
    memset(op, 0, sizeof *op);
    op->type = INV_OP_SET_NODE_STATUS;
    op->in.node_status.node_id = "store";
    op->in.node_status.status = INV_NODE_PAUSED;
}
static void base_availability(inv_op *op) {
    static inv_node_avail nodes[4];
    memset(op, 0, sizeof *op);
    op->type = INV_OP_GET_AVAILABILITY;
    op->in.availability.sku = "tea";
    op->in.availability.has_point = true;
    op->in.availability.lat = T_DEST_LAT;
    op->in.availability.lon = T_DEST_LON;
    op->in.availability.radius_km = 100;
    op->in.availability.nodes = nodes;
    op->in.availability.nodes_cap = 4;
}
static void base_safety(inv_op *op) {
    memset(op, 0, sizeof *op);
    op->type = INV_OP_SET_SAFETY;
    op->in.safety.node_id = "sh";
    op->in.safety.sku = "tea";
    op->in.safety.safety = 1;
}
static void base_limit(inv_op *op) {
    memset(op, 0, sizeof *op);
    op->type = INV_OP_SET_LIMIT;
    op->in.limit.sku = "tea";
    op->in.limit.limit_per_customer = 2;
}

/* ---- the cases -------------------------------------------------------------------------- */

typedef struct bad_case {
    const char *name;
    void (*build)(inv_op *op);
    inv_status want;
} bad_case;

#define CASE(fn, base, body)                                                               \
    static void fn(inv_op *op) {                                                           \
        base;                                                                              \
        body;                                                                              \
    }

/* Reserve */
CASE(r_unknown_sku, base_reserve(op), lines_buf[0].sku = "no-such-sku")
CASE(r_qty_0, base_reserve(op), lines_buf[0].qty = 0)
CASE(r_qty_too_big, base_reserve(op), lines_buf[0].qty = INV_QTY_MAX + 1)
CASE(r_no_lines, base_reserve(op), op->in.reserve.line_count = 0)
CASE(r_lines_null, base_reserve(op), op->in.reserve.lines = NULL)
static void r_too_many_lines(inv_op *op) {
    base_reserve(op);
    for (uint32_t i = 0; i <= INV_LINES_MAX; i++) {
        lines_buf[i].sku = line_skus[i];
        lines_buf[i].qty = 1;
    }
    op->in.reserve.line_count = INV_LINES_MAX + 1;
}
static void r_duplicate_skus(inv_op *op) {
    base_reserve(op);
    lines_buf[0].sku = "cup";
    lines_buf[0].qty = 1;
    lines_buf[1].sku = "tea";
    lines_buf[1].qty = 1;
    lines_buf[2].sku = "cup";
    lines_buf[2].qty = 1;
    op->in.reserve.line_count = 3;
}
static void r_unknown_sku_in_later_line(inv_op *op) {
    base_reserve(op);
    lines_buf[1].sku = "cup";
    lines_buf[1].qty = 1;
    lines_buf[2].sku = "ghost";
    lines_buf[2].qty = 1;
    op->in.reserve.line_count = 3;
}
CASE(r_order_null, base_reserve(op), op->in.reserve.order_id = NULL)
CASE(r_order_empty, base_reserve(op), op->in.reserve.order_id = "")
CASE(r_order_long, base_reserve(op), op->in.reserve.order_id = long_id)
CASE(r_customer_null, base_reserve(op), op->in.reserve.customer_id = NULL)
CASE(r_customer_empty, base_reserve(op), op->in.reserve.customer_id = "")
CASE(r_customer_long, base_reserve(op), op->in.reserve.customer_id = long_id)
CASE(r_sku_null, base_reserve(op), lines_buf[0].sku = NULL)
CASE(r_sku_empty, base_reserve(op), lines_buf[0].sku = "")
CASE(r_sku_long, base_reserve(op), lines_buf[0].sku = long_id)
CASE(r_lat_nan, base_reserve(op), op->in.reserve.dest.lat = NAN)
CASE(r_lon_nan, base_reserve(op), op->in.reserve.dest.lon = NAN)
CASE(r_lat_inf, base_reserve(op), op->in.reserve.dest.lat = INFINITY)
CASE(r_lon_minus_inf, base_reserve(op), op->in.reserve.dest.lon = -INFINITY)
CASE(r_lat_91, base_reserve(op), op->in.reserve.dest.lat = 90.0001)
CASE(r_lat_minus_91, base_reserve(op), op->in.reserve.dest.lat = -91.0)
CASE(r_lon_181, base_reserve(op), op->in.reserve.dest.lon = 180.5)
CASE(r_lon_minus_181, base_reserve(op), op->in.reserve.dest.lon = -181.0)
CASE(r_no_point, base_reserve(op), op->in.reserve.dest.has_point = false)
CASE(r_ttl_0, base_reserve(op), op->in.reserve.ttl_ms = 0)
CASE(r_ttl_too_long, base_reserve(op), op->in.reserve.ttl_ms = INV_TTL_MS_MAX + 1)
CASE(r_policy_4, base_reserve(op), op->in.reserve.policy = (inv_route_policy)4)
CASE(r_policy_99, base_reserve(op), op->in.reserve.policy = (inv_route_policy)99)
CASE(r_policy_negative, base_reserve(op), op->in.reserve.policy = (inv_route_policy)-1)
CASE(r_pickup_without_node, base_reserve(op), op->in.reserve.policy = INV_ROUTE_PICKUP)
CASE(r_pickup_empty_node, base_reserve(op),
     op->in.reserve.policy = INV_ROUTE_PICKUP; op->in.reserve.dest.pickup_node_id = "")
CASE(r_pickup_long_node, base_reserve(op),
     op->in.reserve.policy = INV_ROUTE_PICKUP; op->in.reserve.dest.pickup_node_id = long_id)
CASE(r_pickup_unknown_node, base_reserve(op),
     op->in.reserve.policy = INV_ROUTE_PICKUP; op->in.reserve.dest.pickup_node_id = "nowhere")
CASE(r_distance_nan, base_reserve(op), op->in.reserve.max_distance_km = NAN)
CASE(r_distance_negative, base_reserve(op), op->in.reserve.max_distance_km = -1.0)
CASE(r_distance_inf, base_reserve(op), op->in.reserve.max_distance_km = INFINITY)
CASE(r_conflict_with_held, base_reserve(op),
     op->in.reserve.order_id = "held-1"; lines_buf[0].qty = 3)
CASE(r_conflict_with_tombstone, base_reserve(op), op->in.reserve.order_id = "done-1")

/* Commit / Release / Get / Extend */
CASE(c_null, base_order(op, INV_OP_COMMIT), op->in.order.order_id = NULL)
CASE(c_empty, base_order(op, INV_OP_COMMIT), op->in.order.order_id = "")
CASE(c_long, base_order(op, INV_OP_COMMIT), op->in.order.order_id = long_id)
CASE(c_unknown, base_order(op, INV_OP_COMMIT), op->in.order.order_id = "nope")
CASE(c_max_len_unknown, base_order(op, INV_OP_COMMIT), op->in.order.order_id = max_id)
CASE(rl_null, base_order(op, INV_OP_RELEASE), op->in.order.order_id = NULL)
CASE(rl_long, base_order(op, INV_OP_RELEASE), op->in.order.order_id = long_id)
CASE(rl_unknown, base_order(op, INV_OP_RELEASE), op->in.order.order_id = "nope")
CASE(g_empty, base_order(op, INV_OP_GET_RESERVATION), op->in.order.order_id = "")
CASE(g_unknown, base_order(op, INV_OP_GET_RESERVATION), op->in.order.order_id = "nope")
CASE(x_ttl_0, base_extend(op), op->in.extend.ttl_ms = 0)
CASE(x_ttl_too_long, base_extend(op), op->in.extend.ttl_ms = INV_TTL_MS_MAX + 1)
CASE(x_null, base_extend(op), op->in.extend.order_id = NULL)
CASE(x_unknown, base_extend(op), op->in.extend.order_id = "nope")

/* Adjust / Return */
CASE(a_unknown_node, base_adjust(op), op->in.adjust.node_id = "nowhere")
CASE(a_unknown_node_new_sku, base_adjust(op),
     op->in.adjust.node_id = "nowhere"; op->in.adjust.sku = "brand-new")
CASE(a_node_null, base_adjust(op), op->in.adjust.node_id = NULL)
CASE(a_node_long, base_adjust(op), op->in.adjust.node_id = long_id)
CASE(a_sku_null, base_adjust(op), op->in.adjust.sku = NULL)
CASE(a_sku_empty, base_adjust(op), op->in.adjust.sku = "")
CASE(a_sku_long, base_adjust(op), op->in.adjust.sku = long_id)
CASE(a_delta_too_big, base_adjust(op), op->in.adjust.delta = (int64_t)INV_QTY_MAX + 1)
CASE(a_delta_too_small, base_adjust(op), op->in.adjust.delta = -(int64_t)INV_QTY_MAX - 1)
CASE(a_delta_below_zero, base_adjust(op), op->in.adjust.delta = -11)
CASE(a_delta_above_max, base_adjust(op), op->in.adjust.delta = (int64_t)INV_QTY_MAX - 5)
CASE(a_set_to_negative, base_adjust(op),
     op->in.adjust.has_set_to = true; op->in.adjust.set_to = -1)
CASE(a_set_to_too_big, base_adjust(op),
     op->in.adjust.has_set_to = true; op->in.adjust.set_to = (int64_t)INV_QTY_MAX + 1)
CASE(a_ref_long, base_adjust(op), op->in.adjust.ref_id = long_id)
CASE(a_ref_conflict, base_adjust(op), op->in.adjust.ref_id = "ref-seen")
/* Bug pinned (stock.c op_adjust_apply): a negative delta on a cell that did not exist
 * created the SKU and the cell, then refused. A new cell (existing SKU, other node) or a
 * new SKU: below 0 creates nothing. */
CASE(a_regression_refused_adjust_creates_no_cell, base_adjust(op),
     op->in.adjust.node_id = "store"; op->in.adjust.sku = "cup"; op->in.adjust.delta = -1)
CASE(a_regression_refused_adjust_creates_no_sku, base_adjust(op),
     op->in.adjust.sku = "brand-new"; op->in.adjust.delta = -1)
CASE(a_regression_refused_adjust_ref_creates_no_sku, base_adjust(op),
     op->in.adjust.sku = "brand-new"; op->in.adjust.delta = -1; op->in.adjust.ref_id = "r-x")
CASE(ret_qty_0, base_return(op), op->in.ret.qty = 0)
CASE(ret_qty_0_ref, base_return(op), op->in.ret.qty = 0; op->in.ret.ref_id = "rma-1")
CASE(ret_qty_too_big, base_return(op), op->in.ret.qty = INV_QTY_MAX + 1)
CASE(ret_unknown_node, base_return(op), op->in.ret.node_id = "nowhere")
CASE(ret_sku_null, base_return(op), op->in.ret.sku = NULL)
CASE(ret_over_max, base_return(op), op->in.ret.qty = INV_QTY_MAX)

/* Catalog */
CASE(u_id_null, base_upsert(op), op->in.node.node_id = NULL)
CASE(u_id_empty, base_upsert(op), op->in.node.node_id = "")
CASE(u_id_long, base_upsert(op), op->in.node.node_id = long_id)
CASE(u_kind_3, base_upsert(op), op->in.node.kind = (inv_node_kind)3)
CASE(u_kind_negative, base_upsert(op), op->in.node.kind = (inv_node_kind)-2)
CASE(u_status_3, base_upsert(op), op->in.node.status = (inv_node_status)3)
CASE(u_lat_nan, base_upsert(op), op->in.node.lat = NAN)
CASE(u_lon_inf, base_upsert(op), op->in.node.lon = INFINITY)
CASE(u_lat_95, base_upsert(op), op->in.node.lat = 95.0)
CASE(u_lon_minus_200, base_upsert(op), op->in.node.lon = -200.0)
CASE(u_region_long, base_upsert(op), op->in.node.region = long_region)
CASE(u_neither_ships_nor_pickup, base_upsert(op),
     op->in.node.ships = false; op->in.node.pickup = false)
CASE(u_existing_bad_coords, base_upsert(op),
     op->in.node.node_id = "store"; op->in.node.lat = NAN)
CASE(u_existing_bad_kind, base_upsert(op),
     op->in.node.node_id = "sh"; op->in.node.kind = (inv_node_kind)7)
CASE(ns_unknown, base_node_status(op), op->in.node_status.node_id = "nowhere")
CASE(ns_null, base_node_status(op), op->in.node_status.node_id = NULL)
CASE(ns_bad_status, base_node_status(op),
     op->in.node_status.status = (inv_node_status)7)
static void ln_null_array(inv_op *op) {
    memset(op, 0, sizeof *op);
    op->type = INV_OP_LIST_NODES;
    op->in.list_nodes.nodes_cap = 3;
}
CASE(av_sku_null, base_availability(op), op->in.availability.sku = NULL)
CASE(av_sku_long, base_availability(op), op->in.availability.sku = long_id)
CASE(av_unknown, base_availability(op), op->in.availability.sku = "ghost")
CASE(av_lat_nan, base_availability(op), op->in.availability.lat = NAN)
CASE(av_lon_181, base_availability(op), op->in.availability.lon = 181.0)
CASE(av_radius_negative, base_availability(op), op->in.availability.radius_km = -5)
CASE(av_radius_nan, base_availability(op), op->in.availability.radius_km = NAN)
CASE(av_null_array, base_availability(op), op->in.availability.nodes = NULL)
CASE(sf_unknown_node, base_safety(op), op->in.safety.node_id = "nowhere")
CASE(sf_unknown_node_new_sku, base_safety(op),
     op->in.safety.node_id = "nowhere"; op->in.safety.sku = "brand-new")
CASE(sf_sku_null, base_safety(op), op->in.safety.sku = NULL)
CASE(sf_too_big, base_safety(op), op->in.safety.safety = INV_QTY_MAX + 1)
CASE(lim_sku_null, base_limit(op), op->in.limit.sku = NULL)
CASE(lim_sku_empty, base_limit(op), op->in.limit.sku = "")
CASE(lim_sku_long, base_limit(op), op->in.limit.sku = long_id)
static void op_type_0(inv_op *op) { memset(op, 0, sizeof *op); }
static void op_type_99(inv_op *op) {
    memset(op, 0, sizeof *op);
    op->type = (inv_op_type)99;
}

#define C(fn, st) {#fn, fn, st}
static bad_case cases[] = {
    C(r_unknown_sku, INV_NOT_FOUND),
    C(r_qty_0, INV_INVALID_ARGUMENT),
    C(r_qty_too_big, INV_INVALID_ARGUMENT),
    C(r_no_lines, INV_INVALID_ARGUMENT),
    C(r_lines_null, INV_INVALID_ARGUMENT),
    C(r_too_many_lines, INV_INVALID_ARGUMENT),
    C(r_duplicate_skus, INV_INVALID_ARGUMENT),
    C(r_unknown_sku_in_later_line, INV_NOT_FOUND),
    C(r_order_null, INV_INVALID_ARGUMENT),
    C(r_order_empty, INV_INVALID_ARGUMENT),
    C(r_order_long, INV_INVALID_ARGUMENT),
    C(r_customer_null, INV_INVALID_ARGUMENT),
    C(r_customer_empty, INV_INVALID_ARGUMENT),
    C(r_customer_long, INV_INVALID_ARGUMENT),
    C(r_sku_null, INV_INVALID_ARGUMENT),
    C(r_sku_empty, INV_INVALID_ARGUMENT),
    C(r_sku_long, INV_INVALID_ARGUMENT),
    C(r_lat_nan, INV_INVALID_ARGUMENT),
    C(r_lon_nan, INV_INVALID_ARGUMENT),
    C(r_lat_inf, INV_INVALID_ARGUMENT),
    C(r_lon_minus_inf, INV_INVALID_ARGUMENT),
    C(r_lat_91, INV_INVALID_ARGUMENT),
    C(r_lat_minus_91, INV_INVALID_ARGUMENT),
    C(r_lon_181, INV_INVALID_ARGUMENT),
    C(r_lon_minus_181, INV_INVALID_ARGUMENT),
    C(r_no_point, INV_INVALID_ARGUMENT),
    C(r_ttl_0, INV_INVALID_ARGUMENT),
    C(r_ttl_too_long, INV_INVALID_ARGUMENT),
    C(r_policy_4, INV_INVALID_ARGUMENT),
    C(r_policy_99, INV_INVALID_ARGUMENT),
    C(r_policy_negative, INV_INVALID_ARGUMENT),
    C(r_pickup_without_node, INV_INVALID_ARGUMENT),
    C(r_pickup_empty_node, INV_INVALID_ARGUMENT),
    C(r_pickup_long_node, INV_INVALID_ARGUMENT),
    C(r_pickup_unknown_node, INV_NOT_FOUND),
    C(r_distance_nan, INV_INVALID_ARGUMENT),
    C(r_distance_negative, INV_INVALID_ARGUMENT),
    C(r_distance_inf, INV_INVALID_ARGUMENT),
    C(r_conflict_with_held, INV_CONFLICT),
    C(r_conflict_with_tombstone, INV_CONFLICT),
    C(c_null, INV_INVALID_ARGUMENT),
    C(c_empty, INV_INVALID_ARGUMENT),
    C(c_long, INV_INVALID_ARGUMENT),
    C(c_unknown, INV_NOT_FOUND),
    C(c_max_len_unknown, INV_NOT_FOUND),
    C(rl_null, INV_INVALID_ARGUMENT),
    C(rl_long, INV_INVALID_ARGUMENT),
    C(rl_unknown, INV_NOT_FOUND),
    C(g_empty, INV_INVALID_ARGUMENT),
    C(g_unknown, INV_NOT_FOUND),
    C(x_ttl_0, INV_INVALID_ARGUMENT),
    C(x_ttl_too_long, INV_INVALID_ARGUMENT),
    C(x_null, INV_INVALID_ARGUMENT),
    C(x_unknown, INV_NOT_FOUND),
    C(a_unknown_node, INV_NOT_FOUND),
    C(a_unknown_node_new_sku, INV_NOT_FOUND),
    C(a_node_null, INV_INVALID_ARGUMENT),
    C(a_node_long, INV_INVALID_ARGUMENT),
    C(a_sku_null, INV_INVALID_ARGUMENT),
    C(a_sku_empty, INV_INVALID_ARGUMENT),
    C(a_sku_long, INV_INVALID_ARGUMENT),
    C(a_delta_too_big, INV_INVALID_ARGUMENT),
    C(a_delta_too_small, INV_INVALID_ARGUMENT),
    C(a_delta_below_zero, INV_INVALID_ARGUMENT),
    C(a_delta_above_max, INV_INVALID_ARGUMENT),
    C(a_set_to_negative, INV_INVALID_ARGUMENT),
    C(a_set_to_too_big, INV_INVALID_ARGUMENT),
    C(a_ref_long, INV_INVALID_ARGUMENT),
    C(a_ref_conflict, INV_CONFLICT),
    C(a_regression_refused_adjust_creates_no_cell, INV_INVALID_ARGUMENT),
    C(a_regression_refused_adjust_creates_no_sku, INV_INVALID_ARGUMENT),
    C(a_regression_refused_adjust_ref_creates_no_sku, INV_INVALID_ARGUMENT),
    C(ret_qty_0, INV_INVALID_ARGUMENT),
    C(ret_qty_0_ref, INV_INVALID_ARGUMENT),
    C(ret_qty_too_big, INV_INVALID_ARGUMENT),
    C(ret_unknown_node, INV_NOT_FOUND),
    C(ret_sku_null, INV_INVALID_ARGUMENT),
    C(ret_over_max, INV_INVALID_ARGUMENT),
    C(u_id_null, INV_INVALID_ARGUMENT),
    C(u_id_empty, INV_INVALID_ARGUMENT),
    C(u_id_long, INV_INVALID_ARGUMENT),
    C(u_kind_3, INV_INVALID_ARGUMENT),
    C(u_kind_negative, INV_INVALID_ARGUMENT),
    C(u_status_3, INV_INVALID_ARGUMENT),
    C(u_lat_nan, INV_INVALID_ARGUMENT),
    C(u_lon_inf, INV_INVALID_ARGUMENT),
    C(u_lat_95, INV_INVALID_ARGUMENT),
    C(u_lon_minus_200, INV_INVALID_ARGUMENT),
    C(u_region_long, INV_INVALID_ARGUMENT),
    C(u_neither_ships_nor_pickup, INV_INVALID_ARGUMENT),
    C(u_existing_bad_coords, INV_INVALID_ARGUMENT),
    C(u_existing_bad_kind, INV_INVALID_ARGUMENT),
    C(ns_unknown, INV_NOT_FOUND),
    C(ns_null, INV_INVALID_ARGUMENT),
    C(ns_bad_status, INV_INVALID_ARGUMENT),
    C(ln_null_array, INV_INVALID_ARGUMENT),
    C(av_sku_null, INV_INVALID_ARGUMENT),
    C(av_sku_long, INV_INVALID_ARGUMENT),
    C(av_unknown, INV_NOT_FOUND),
    C(av_lat_nan, INV_INVALID_ARGUMENT),
    C(av_lon_181, INV_INVALID_ARGUMENT),
    C(av_radius_negative, INV_INVALID_ARGUMENT),
    C(av_radius_nan, INV_INVALID_ARGUMENT),
    C(av_null_array, INV_INVALID_ARGUMENT),
    C(sf_unknown_node, INV_NOT_FOUND),
    C(sf_unknown_node_new_sku, INV_NOT_FOUND),
    C(sf_sku_null, INV_INVALID_ARGUMENT),
    C(sf_too_big, INV_INVALID_ARGUMENT),
    C(lim_sku_null, INV_INVALID_ARGUMENT),
    C(lim_sku_empty, INV_INVALID_ARGUMENT),
    C(lim_sku_long, INV_INVALID_ARGUMENT),
    C(op_type_0, INV_INVALID_ARGUMENT),
    C(op_type_99, INV_INVALID_ARGUMENT),
};
#define CASE_COUNT (sizeof cases / sizeof cases[0])

/* Run one case; check status, message, and that nothing changed. */
static void run_case(const bad_case *c) {
    test_fingerprint before, after;
    t_fingerprint(e, &before);
    inv_op op;
    c->build(&op);
    memset(op.message, 0, sizeof op.message);
    inv_status st = inv_engine_execute(e, &op);
    cr_assert_eq(st, op.status, "%s: execute returned %d, op.status %d", c->name, st, op.status);
    cr_assert_eq(st, c->want, "%s -> %s \"%s\", expected %s", c->name, inv_status_name(st),
                 op.message, inv_status_name(c->want));
    cr_assert_neq(op.message[0], '\0', "%s: %s without a message", c->name, inv_status_name(st));
    cr_assert_lt(strnlen(op.message, sizeof op.message), sizeof op.message,
                 "%s: message not terminated", c->name);
    inv_engine_catalog_publish(e);
    t_fingerprint(e, &after);
    t_fingerprint_assert_same(&before, &after, c->name);
    /* The HELD order and the committed one are untouched. */
    T_STATUS(t_get(e, "held-1"), INV_OK);
    T_EQ(last_op.out.reservation.state, INV_RESV_HELD);
    T_EQU(last_op.out.reservation.expires_at_ms, T0_MS + 60000);
    T_STATUS(t_get(e, "done-1"), INV_OK);
    T_EQ(last_op.out.reservation.state, INV_RESV_COMMITTED);
}

/* Cases run in families, one engine per case: a Criterion test is a process of its own,
 * and a hundred processes cost more than the cases under a sanitizer. A failure names
 * its case. */
static const char *const fam_reserve[] = {"r_", NULL};
static const char *const fam_order[] = {"c_", "rl_", "g_", "x_", NULL};
static const char *const fam_stock[] = {"a_", "ret_", NULL};
static const char *const fam_catalog[] = {"u_", "ns_", "ln_", NULL};
static const char *const fam_other[] = {"av_", "sf_", "lim_", "op_", NULL};
static const char *const *const families[] = {fam_reserve, fam_order, fam_stock, fam_catalog,
                                             fam_other};

static bool in_family(const char *name, const char *const *prefixes) {
    for (uint32_t p = 0; prefixes[p] != NULL; p++)
        if (strncmp(name, prefixes[p], strlen(prefixes[p])) == 0) return true;
    return false;
}

static void run_family(const char *const *prefixes) {
    uint32_t ran = 0;
    for (size_t i = 0; i < CASE_COUNT; i++) {
        if (!in_family(cases[i].name, prefixes)) continue;
        setup();
        run_case(&cases[i]);
        teardown();
        ran++;
    }
    cr_assert_gt(ran, 0, "empty family");
}

Test(bad, reserve) { run_family(fam_reserve); }
Test(bad, commit_release_get_extend) { run_family(fam_order); }
Test(bad, adjust_and_return) { run_family(fam_stock); }
Test(bad, catalog) { run_family(fam_catalog); }
Test(bad, availability_safety_limit_op_type) { run_family(fam_other); }

Test(bad, every_case_is_in_exactly_one_family) {
    for (size_t i = 0; i < CASE_COUNT; i++) {
        uint32_t in = 0;
        for (size_t f = 0; f < sizeof families / sizeof families[0]; f++)
            in += in_family(cases[i].name, families[f]);
        cr_assert_eq(in, 1, "case %s is in %u families", cases[i].name, in);
    }
}

/* After every rejection, the request made valid works: nothing was remembered. */
Test(bad, fixed_request_works_after_rejections, .init = setup, .fini = teardown) {
    for (size_t i = 0; i < CASE_COUNT; i++) {
        if (cases[i].build == r_conflict_with_held || cases[i].build == r_conflict_with_tombstone)
            continue;
        inv_op op;
        cases[i].build(&op);
        inv_engine_execute(e, &op);
    }
    inv_op op;
    base_reserve(&op);
    T_OP_STATUS((inv_engine_execute(e, &op), &op), INV_OK);
    T_EQ(op.out.reservation.state, INV_RESV_HELD);
    T_EQ(t_cell(e, "sh", "tea").reserved + t_cell(e, "store", "tea").reserved, 3);
}

/* ---- full tables: RESOURCE_EXHAUSTED, and nothing half-done ------------------------- */

static inv_engine *open_small(inv_engine_config *cfg) {
    clk.now_ms = T0_MS;
    fill_ids();
    cfg->clock = test_clock_read;
    cfg->clock_ctx = &clk;
    return test_engine_open_config(cfg);
}

static void expect_exhausted(inv_op *op, const char *what) {
    test_fingerprint before, after;
    t_fingerprint(e, &before);
    inv_status st = inv_engine_execute(e, op);
    cr_assert_eq(st, INV_RESOURCE_EXHAUSTED, "%s -> %s \"%s\"", what, inv_status_name(st),
                 op->message);
    cr_assert_neq(op->message[0], '\0');
    inv_engine_catalog_publish(e);
    t_fingerprint(e, &after);
    t_fingerprint_assert_same(&before, &after, what);
}

Test(bad, node_table_full, .fini = teardown) {
    inv_engine_config cfg;
    test_config_small(&cfg, 1);
    cfg.nodes_max = 2;
    e = open_small(&cfg);
    T_STATUS(t_upsert_node(e, "a", INV_NODE_WAREHOUSE, 30, 120, 0, 0), INV_OK);
    T_STATUS(t_upsert_node(e, "b", INV_NODE_WAREHOUSE, 31, 121, 0, 0), INV_OK);
    inv_op op;
    base_upsert(&op);
    expect_exhausted(&op, "third node");
    T_STATUS(t_upsert_node(e, "a", INV_NODE_STORE, 30, 120, 0, 0), INV_OK); /* update fits */
}

Test(bad, sku_table_full, .fini = teardown) {
    inv_engine_config cfg;
    test_config_small(&cfg, 1);
    cfg.skus_max = 2;
    e = open_small(&cfg);
    T_STATUS(t_upsert_node(e, "sh", INV_NODE_WAREHOUSE, T_DEST_LAT, T_DEST_LON, 0, 0), INV_OK);
    T_STATUS(t_adjust(e, "sh", "s1", 1), INV_OK);
    T_STATUS(t_adjust(e, "sh", "s2", 1), INV_OK);
    inv_op op;
    base_adjust(&op);
    op.in.adjust.sku = "s3";
    expect_exhausted(&op, "third SKU by adjust");
    base_limit(&op);
    op.in.limit.sku = "s3";
    expect_exhausted(&op, "third SKU by limit");
    T_STATUS(t_adjust(e, "sh", "s2", 1), INV_OK);
}

Test(bad, cell_table_full, .fini = teardown) {
    inv_engine_config cfg;
    test_config_small(&cfg, 1);
    cfg.cells_max = 2;
    e = open_small(&cfg);
    T_STATUS(t_upsert_node(e, "sh", INV_NODE_WAREHOUSE, T_DEST_LAT, T_DEST_LON, 0, 0), INV_OK);
    T_STATUS(t_adjust(e, "sh", "s1", 1), INV_OK);
    T_STATUS(t_adjust(e, "sh", "s2", 1), INV_OK);
    T_STATUS(t_adjust(e, "sh", "s3", 1), INV_RESOURCE_EXHAUSTED);
    cr_assert(!t_cell_exists(e, "sh", "s3"));
    T_EQU(t_stats(e).cells, 2);
}

/* The reservation table is full: the reserve that found stock, counted a limit and a
 * node's capacity must give all of it back. */
Test(bad, reservation_table_full_rolls_everything_back, .fini = teardown) {
    inv_engine_config cfg;
    test_config_small(&cfg, 1);
    cfg.reservations_per_shard_max = 2;
    e = open_small(&cfg);
    T_STATUS(t_upsert_node(e, "store", INV_NODE_STORE, T_DEST_LAT, T_DEST_LON, 10, 0), INV_OK);
    T_STATUS(t_adjust(e, "store", "tea", 10), INV_OK);
    T_STATUS(t_set_limit(e, "tea", 5), INV_OK);
    T_STATUS(t_reserve1(e, "o1", "c1", "tea", 1, 60000), INV_OK);
    T_STATUS(t_reserve1(e, "o2", "c1", "tea", 1, 60000), INV_OK);
    inv_op op;
    base_reserve(&op);
    op.in.reserve.order_id = "o3";
    op.in.reserve.customer_id = "c1";
    lines_buf[0].qty = 3;
    expect_exhausted(&op, "third live reservation");
    /* c1's limit was given back: after a release, 3 more fit (1 + 3 = 4 ≤ 5) */
    T_STATUS(t_release(e, "o2"), INV_OK);
    T_STATUS(t_reserve1(e, "o3", "c1", "tea", 3, 60000), INV_OK);
    T_STATUS(t_reserve1(e, "o4", "c1", "tea", 1, 60000), INV_RESOURCE_EXHAUSTED);
    inv_node_info info;
    T_EQ(inv_engine_node_info(e, t_node(e, "store"), &info), 0);
    T_EQU(info.allocated_today, 2);
    T_EQ(t_cell(e, "store", "tea").reserved, 4);
}

/* Bug pinned (catalog.c limit_slot_find): the table admitted one counter less than
 * limit_counters_max (3 of 4 here). */
Test(bad, regression_limit_table_admits_limit_counters_max, .fini = teardown) {
    inv_engine_config cfg;
    test_config_small(&cfg, 2);
    cfg.limit_counters_max = 4;
    e = open_small(&cfg);
    T_STATUS(t_upsert_node(e, "sh", INV_NODE_WAREHOUSE, T_DEST_LAT, T_DEST_LON, 0, 0), INV_OK);
    T_STATUS(t_adjust(e, "sh", "tea", 1000), INV_OK);
    T_STATUS(t_set_limit(e, "tea", 2), INV_OK);
    char order[16], customer[16];
    uint32_t ok = 0;
    inv_status st = INV_OK;
    for (uint32_t i = 0; i < 64 && st == INV_OK; i++) {
        snprintf(order, sizeof order, "o%u", i);
        snprintf(customer, sizeof customer, "c%u", i);
        test_fingerprint before, after;
        t_fingerprint(e, &before);
        st = t_reserve1(e, order, customer, "tea", 1, 60000);
        if (st == INV_OK) {
            ok++;
            continue;
        }
        T_STATUS(st, INV_RESOURCE_EXHAUSTED);
        t_fingerprint(e, &after);
        t_fingerprint_assert_same(&before, &after, "limit counters full");
    }
    cr_assert_geq(ok, 4, "at least limit_counters_max customers fit (%u)", ok);
    cr_assert_neq(st, INV_OK, "the counter table never filled up");
    T_EQ(t_cell(e, "sh", "tea").reserved, ok);
}

Test(bad, open_with_bad_config) {
    inv_engine_config cfg;
    inv_engine_config_default(&cfg);
    cfg.shards = INV_SHARDS_MAX + 1;
    inv_engine *bad = (inv_engine *)&cfg; /* must be reset to NULL */
    T_EQ(inv_engine_open(&bad, &cfg), -EINVAL);
    cr_assert_null(bad);
    inv_engine_config_default(&cfg);
    cfg.weights.kind_weight[INV_NODE_STORE] = -1.0;
    T_EQ(inv_engine_open(&bad, &cfg), -EINVAL);
    cr_assert_null(bad);
    inv_engine_config_default(&cfg);
    cfg.weights.kind_weight[INV_NODE_WAREHOUSE] = NAN;
    T_EQ(inv_engine_open(&bad, &cfg), -EINVAL);
    cr_assert_null(bad);
    /* Beyond what a per-shard index slot can name (oa_index.h): refused before any
     * allocation, not truncated. */
    inv_engine_config_default(&cfg);
    cfg.reservations_per_shard_max = INV_RESERVATIONS_PER_SHARD_MAX + 1;
    T_EQ(inv_engine_open(&bad, &cfg), -EINVAL);
    inv_engine_config_default(&cfg);
    cfg.tombstones_per_shard_max = INV_WINDOW_ENTRIES_PER_SHARD_MAX + 1;
    T_EQ(inv_engine_open(&bad, &cfg), -EINVAL);
    inv_engine_config_default(&cfg);
    cfg.refs_per_shard_max = INV_WINDOW_ENTRIES_PER_SHARD_MAX + 1;
    T_EQ(inv_engine_open(&bad, &cfg), -EINVAL);
    cr_assert_null(bad);
    /* NULL config: defaults */
    T_EQ(inv_engine_open(&bad, NULL), 0);
    cr_assert_not_null(bad);
    T_EQU(inv_engine_shard_count(bad), 2);
    inv_engine_close(bad);
}
