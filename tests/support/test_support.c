/* test_support.c — see test_support.h. */
#include "test_support.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Thread_local inv_op last_op;

uint64_t test_clock_read(void *ctx) { return ((test_clock *)ctx)->now_ms; }

inv_engine *test_engine_open(uint32_t shards, test_clock *clock) {
    inv_engine_config cfg;
    inv_engine_config_default(&cfg);
    cfg.shards = shards;
    cfg.clock = test_clock_read;
    cfg.clock_ctx = clock;
    inv_engine *e = NULL;
    int rc = inv_engine_open(&e, &cfg);
    cr_assert_eq(rc, 0, "inv_engine_open: %d", rc);
    return e;
}

static inv_status run(inv_engine *e) { return inv_engine_execute(e, &last_op); }

inv_status t_upsert_node(inv_engine *e, const char *id, inv_node_kind kind, double lat,
                         double lon, uint32_t capacity_per_day, uint32_t priority) {
    memset(&last_op, 0, sizeof last_op);
    last_op.type = INV_OP_UPSERT_NODE;
    inv_node_spec *n = &last_op.in.node;
    n->node_id = id;
    n->kind = kind;
    n->lat = lat;
    n->lon = lon;
    n->region = "test";
    n->ships = kind != INV_NODE_LOCKER;
    n->pickup = kind != INV_NODE_WAREHOUSE;
    n->capacity_per_day = capacity_per_day;
    n->priority = priority;
    n->status = INV_NODE_ACTIVE;
    inv_status s = run(e);
    inv_engine_catalog_publish(e);
    return s;
}

inv_status t_set_node_status(inv_engine *e, const char *id, inv_node_status status) {
    memset(&last_op, 0, sizeof last_op);
    last_op.type = INV_OP_SET_NODE_STATUS;
    last_op.in.node_status.node_id = id;
    last_op.in.node_status.status = status;
    return run(e);
}

static inv_status adjust(inv_engine *e, const char *node, const char *sku, bool set,
                         int64_t v) {
    memset(&last_op, 0, sizeof last_op);
    last_op.type = INV_OP_ADJUST;
    last_op.in.adjust.node_id = node;
    last_op.in.adjust.sku = sku;
    last_op.in.adjust.has_set_to = set;
    if (set) last_op.in.adjust.set_to = v; else last_op.in.adjust.delta = v;
    return run(e);
}
inv_status t_adjust(inv_engine *e, const char *node, const char *sku, int64_t delta) {
    return adjust(e, node, sku, false, delta);
}
inv_status t_set_to(inv_engine *e, const char *node, const char *sku, int64_t set_to) {
    return adjust(e, node, sku, true, set_to);
}

inv_status t_set_safety(inv_engine *e, const char *node, const char *sku, uint32_t safety) {
    memset(&last_op, 0, sizeof last_op);
    last_op.type = INV_OP_SET_SAFETY;
    last_op.in.safety.node_id = node;
    last_op.in.safety.sku = sku;
    last_op.in.safety.safety = safety;
    return run(e);
}

inv_status t_set_limit(inv_engine *e, const char *sku, uint32_t limit) {
    memset(&last_op, 0, sizeof last_op);
    last_op.type = INV_OP_SET_LIMIT;
    last_op.in.limit.sku = sku;
    last_op.in.limit.limit_per_customer = limit;
    return run(e);
}

/* Parsed "sku:qty" lines live here for the duration of one call. */
static _Thread_local char line_names[INV_LINES_MAX][INV_ID_LEN_MAX + 8];
static _Thread_local inv_line line_buf[INV_LINES_MAX];

inv_status t_reserve(inv_engine *e, const char *order, const char *customer, double lat,
                     double lon, uint64_t ttl_ms, const char *const *lines) {
    uint32_t n = 0;
    for (; lines[n] != NULL && n < INV_LINES_MAX; n++) {
        snprintf(line_names[n], sizeof line_names[n], "%s", lines[n]);
        char *colon = strrchr(line_names[n], ':');
        cr_assert(colon != NULL, "line '%s' is not sku:qty", lines[n]);
        *colon = '\0';
        line_buf[n].sku = line_names[n];
        line_buf[n].qty = (uint32_t)strtoul(colon + 1, NULL, 10);
    }
    memset(&last_op, 0, sizeof last_op);
    last_op.type = INV_OP_RESERVE;
    inv_reserve_args *r = &last_op.in.reserve;
    r->order_id = order;
    r->customer_id = customer;
    r->dest.has_point = true;
    r->dest.lat = lat;
    r->dest.lon = lon;
    r->lines = line_buf;
    r->line_count = n;
    r->ttl_ms = ttl_ms;
    r->policy = INV_ROUTE_NEAREST;
    return run(e);
}

static inv_status order_op(inv_engine *e, inv_op_type type, const char *order) {
    memset(&last_op, 0, sizeof last_op);
    last_op.type = type;
    last_op.in.order.order_id = order;
    return run(e);
}
inv_status t_commit(inv_engine *e, const char *order) {
    return order_op(e, INV_OP_COMMIT, order);
}
inv_status t_release(inv_engine *e, const char *order) {
    return order_op(e, INV_OP_RELEASE, order);
}
inv_status t_get(inv_engine *e, const char *order) {
    return order_op(e, INV_OP_GET_RESERVATION, order);
}
inv_status t_extend(inv_engine *e, const char *order, uint64_t ttl_ms) {
    memset(&last_op, 0, sizeof last_op);
    last_op.type = INV_OP_EXTEND;
    last_op.in.extend.order_id = order;
    last_op.in.extend.ttl_ms = ttl_ms;
    return run(e);
}

inv_cell_view t_cell(inv_engine *e, const char *node, const char *sku) {
    uint32_t n = 0, s = 0;
    cr_assert_eq(inv_engine_node_find(e, node, &n), 0, "node %s missing", node);
    cr_assert_eq(inv_engine_sku_find(e, sku, &s), 0, "sku %s missing", sku);
    inv_cell_view v;
    cr_assert_eq(inv_engine_cell_read(e, s, n, &v), 0, "cell %s/%s missing", node, sku);
    return v;
}
