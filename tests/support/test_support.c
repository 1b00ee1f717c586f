/* test_support.c — see test_support.h. */
#include "test_support.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

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

/* Adjust by `v` (or to `v` when `set`); ref NULL = no dedupe. */
static inv_status adjust(inv_engine *e, const char *node, const char *sku, bool set,
                         int64_t v, const char *ref) {
    memset(&last_op, 0, sizeof last_op);
    last_op.type = INV_OP_ADJUST;
    last_op.in.adjust.node_id = node;
    last_op.in.adjust.sku = sku;
    last_op.in.adjust.has_set_to = set;
    if (set) last_op.in.adjust.set_to = v; else last_op.in.adjust.delta = v;
    last_op.in.adjust.ref_id = ref;
    return run(e);
}
inv_status t_adjust(inv_engine *e, const char *node, const char *sku, int64_t delta) {
    return adjust(e, node, sku, false, delta, NULL);
}
inv_status t_set_to(inv_engine *e, const char *node, const char *sku, int64_t set_to) {
    return adjust(e, node, sku, true, set_to, NULL);
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
    uint32_t n = t_node(e, node), s = t_sku(e, sku);
    inv_cell_view v;
    cr_assert_eq(inv_engine_cell_read(e, s, n, &v), 0, "cell %s/%s missing", node, sku);
    return v;
}

/* ====================================================================================
 * For the engine suites: atomic clock, engines from a config, more wrappers, fingerprints
 * ==================================================================================== */

uint64_t test_clock_atomic_read(void *ctx) {
    return atomic_load_explicit(&((test_clock_atomic *)ctx)->now_ms, memory_order_acquire);
}

uint64_t test_mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

#define CHILD_POLL_US 20000u
#define CHILD_KILL_GRACE_MS 2000u

int t_run_child(const char *const *argv, const char *log_path, uint64_t timeout_ms,
                uint64_t interrupt_ms) {
    pid_t pid = fork();
    cr_assert(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) dup2(fd, STDERR_FILENO);
        if (fd >= 0) dup2(fd, STDOUT_FILENO);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    uint64_t start = test_mono_ms(), deadline = start + timeout_ms;
    int status = 0;
    bool interrupted = false;
    while (test_mono_ms() < deadline) {
        if (interrupt_ms != 0 && !interrupted && test_mono_ms() - start >= interrupt_ms) {
            kill(pid, SIGINT);
            interrupted = true;
        }
        if (waitpid(pid, &status, WNOHANG) == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        usleep(CHILD_POLL_US);
    }
    kill(pid, SIGINT); /* a chance to stop what it started */
    for (uint64_t end = test_mono_ms() + CHILD_KILL_GRACE_MS; test_mono_ms() < end;) {
        if (waitpid(pid, &status, WNOHANG) == pid) return -1;
        usleep(CHILD_POLL_US);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
}

inv_engine *test_engine_open_config(const inv_engine_config *cfg) {
    inv_engine *e = NULL;
    int rc = inv_engine_open(&e, cfg);
    cr_assert_eq(rc, 0, "inv_engine_open: %d", rc);
    cr_assert_not_null(e, "inv_engine_open gave no engine");
    return e;
}

void test_config_small(inv_engine_config *cfg, uint32_t shards) {
    inv_engine_config_default(cfg);
    cfg->shards = shards;
    cfg->nodes_max = 64;
    cfg->skus_max = 1024;
    cfg->cells_max = 8192;
    cfg->reservations_per_shard_max = 8192;
    cfg->tombstones_per_shard_max = 8192;
    cfg->refs_per_shard_max = 8192;
    cfg->limit_counters_max = 1024;
}

inv_engine *test_engine_open_small(uint32_t shards, test_clock *clock) {
    inv_engine_config cfg;
    test_config_small(&cfg, shards);
    cfg.clock = test_clock_read;
    cfg.clock_ctx = clock;
    return test_engine_open_config(&cfg);
}

inv_status t_adjust_ref(inv_engine *e, const char *node, const char *sku, int64_t delta,
                        const char *ref) {
    return adjust(e, node, sku, false, delta, ref);
}
inv_status t_set_to_ref(inv_engine *e, const char *node, const char *sku, int64_t set_to,
                        const char *ref) {
    return adjust(e, node, sku, true, set_to, ref);
}

inv_status t_return(inv_engine *e, const char *node, const char *sku, uint32_t qty,
                    const char *ref) {
    memset(&last_op, 0, sizeof last_op);
    last_op.type = INV_OP_RETURN;
    last_op.in.ret.node_id = node;
    last_op.in.ret.sku = sku;
    last_op.in.ret.qty = qty;
    last_op.in.ret.ref_id = ref;
    return run(e);
}

inv_status t_reserve_args(inv_engine *e, const inv_reserve_args *args) {
    memset(&last_op, 0, sizeof last_op);
    last_op.type = INV_OP_RESERVE;
    last_op.in.reserve = *args;
    return run(e);
}

inv_status t_reserve1(inv_engine *e, const char *order, const char *customer, const char *sku,
                      uint32_t qty, uint64_t ttl_ms) {
    snprintf(line_names[0], sizeof line_names[0], "%s", sku);
    line_buf[0].sku = line_names[0];
    line_buf[0].qty = qty;
    inv_reserve_args a;
    memset(&a, 0, sizeof a);
    a.order_id = order;
    a.customer_id = customer;
    a.dest.has_point = true;
    a.dest.lat = T_DEST_LAT;
    a.dest.lon = T_DEST_LON;
    a.lines = line_buf;
    a.line_count = 1;
    a.ttl_ms = ttl_ms;
    a.policy = INV_ROUTE_NEAREST;
    return t_reserve_args(e, &a);
}

inv_status t_availability(inv_engine *e, const char *sku, bool has_point, double lat,
                          double lon, double radius_km, inv_node_avail *nodes, uint32_t cap) {
    memset(&last_op, 0, sizeof last_op);
    last_op.type = INV_OP_GET_AVAILABILITY;
    inv_availability_args *a = &last_op.in.availability;
    a->sku = sku;
    a->has_point = has_point;
    a->lat = lat;
    a->lon = lon;
    a->radius_km = radius_km;
    a->nodes = nodes;
    a->nodes_cap = cap;
    return run(e);
}

inv_status t_list_nodes(inv_engine *e, uint32_t offset, inv_node_info *nodes, uint32_t cap) {
    memset(&last_op, 0, sizeof last_op);
    last_op.type = INV_OP_LIST_NODES;
    last_op.in.list_nodes.offset = offset;
    last_op.in.list_nodes.nodes = nodes;
    last_op.in.list_nodes.nodes_cap = cap;
    return run(e);
}

inv_status t_upsert_spec(inv_engine *e, const inv_node_spec *spec) {
    memset(&last_op, 0, sizeof last_op);
    last_op.type = INV_OP_UPSERT_NODE;
    last_op.in.node = *spec;
    inv_status s = run(e);
    inv_engine_catalog_publish(e);
    return s;
}

uint32_t t_node(inv_engine *e, const char *node) {
    uint32_t n = 0;
    cr_assert_eq(inv_engine_node_find(e, node, &n), 0, "node %s missing", node);
    return n;
}

uint32_t t_sku(inv_engine *e, const char *sku) {
    uint32_t s = 0;
    cr_assert_eq(inv_engine_sku_find(e, sku, &s), 0, "sku %s missing", sku);
    return s;
}

void t_expect_cell(inv_engine *e, const char *node, const char *sku, int64_t on_hand,
                   int64_t reserved, int64_t safety) {
    inv_cell_view v = t_cell(e, node, sku);
    cr_assert(v.on_hand == on_hand && v.reserved == reserved && v.safety == safety,
              "%s/%s on_hand/reserved/safety = %lld/%lld/%lld, expected %lld/%lld/%lld", node,
              sku, (long long)v.on_hand, (long long)v.reserved, (long long)v.safety,
              (long long)on_hand, (long long)reserved, (long long)safety);
    T_EQ(v.available, on_hand - reserved - safety);
}

bool t_cell_exists(inv_engine *e, const char *node, const char *sku) {
    uint32_t n = 0, s = 0;
    if (inv_engine_node_find(e, node, &n) != 0) return false;
    if (inv_engine_sku_find(e, sku, &s) != 0) return false;
    inv_cell_view v;
    return inv_engine_cell_read(e, s, n, &v) == 0;
}

inv_engine_stats t_stats(const inv_engine *e) {
    inv_engine_stats st;
    memset(&st, 0, sizeof st);
    inv_engine_stats_read(e, &st);
    return st;
}

uint32_t t_alloc_qty(const inv_reservation_view *view, uint32_t sku, uint32_t node) {
    uint32_t sum = 0;
    for (uint32_t i = 0; i < view->alloc_count && i < INV_ALLOC_MAX; i++)
        if (view->alloc[i].sku == sku && view->alloc[i].node == node) sum += view->alloc[i].qty;
    return sum;
}

void t_fingerprint(inv_engine *e, test_fingerprint *out) {
    memset(out, 0, sizeof *out);
    out->stats = t_stats(e);
    cr_assert_leq(out->stats.nodes, TEST_FP_NODES_MAX, "fingerprint: too many nodes");
    cr_assert_leq(out->stats.skus, TEST_FP_SKUS_MAX, "fingerprint: too many SKUs");
    out->node_count = (uint32_t)out->stats.nodes;
    out->sku_count = (uint32_t)out->stats.skus;
    for (uint32_t n = 0; n < out->node_count; n++)
        cr_assert_eq(inv_engine_node_info(e, n, &out->nodes[n]), 0, "node %u unreadable", n);
    for (uint32_t s = 0; s < out->sku_count; s++) {
        const char *name = inv_engine_sku_name(e, s);
        cr_assert_not_null(name, "sku %u has no name", s);
        snprintf(out->sku_names[s], sizeof out->sku_names[s], "%s", name);
        for (uint32_t n = 0; n < out->node_count; n++) {
            inv_cell_view v;
            if (inv_engine_cell_read(e, s, n, &v) != 0) continue;
            cr_assert_lt(out->cell_count, TEST_FP_CELLS_MAX, "fingerprint: too many cells");
            v.applied_delta = 0;
            out->cells[out->cell_count++] = v;
        }
    }
    cr_assert_eq(out->cell_count, out->stats.cells, "cells found %u, stats.cells %llu",
                 out->cell_count, (unsigned long long)out->stats.cells);
}

#define FP_STAT(field)                                                                   \
    cr_assert_eq(before->stats.field, after->stats.field, "%s: stats." #field " %llu -> %llu", \
                 what, (unsigned long long)before->stats.field,                           \
                 (unsigned long long)after->stats.field)

void t_fingerprint_assert_same(const test_fingerprint *before, const test_fingerprint *after,
                               const char *what) {
    FP_STAT(nodes);
    FP_STAT(skus);
    FP_STAT(cells);
    FP_STAT(reservations_live);
    FP_STAT(tombstones);
    FP_STAT(reserves_ok);
    FP_STAT(commits);
    FP_STAT(releases);
    FP_STAT(expirations);
    FP_STAT(reservation_bytes);
    FP_STAT(tombstones_dropped_early);
    for (uint32_t n = 0; n < before->node_count; n++) {
        const inv_node_info *a = &before->nodes[n], *b = &after->nodes[n];
        cr_assert_str_eq(a->node_id, b->node_id, "%s: node %u id", what, n);
        cr_assert_str_eq(a->region, b->region, "%s: node %u region", what, n);
        cr_assert_eq(a->kind, b->kind, "%s: node %u kind", what, n);
        cr_assert_eq(a->lat, b->lat, "%s: node %u lat", what, n);
        cr_assert_eq(a->lon, b->lon, "%s: node %u lon", what, n);
        cr_assert_eq(a->ships, b->ships, "%s: node %u ships", what, n);
        cr_assert_eq(a->pickup, b->pickup, "%s: node %u pickup", what, n);
        cr_assert_eq(a->capacity_per_day, b->capacity_per_day, "%s: node %u capacity", what, n);
        cr_assert_eq(a->allocated_today, b->allocated_today,
                     "%s: node %u allocated_today %u -> %u", what, n, a->allocated_today,
                     b->allocated_today);
        cr_assert_eq(a->priority, b->priority, "%s: node %u priority", what, n);
        cr_assert_eq(a->status, b->status, "%s: node %u status", what, n);
    }
    for (uint32_t s = 0; s < before->sku_count; s++)
        cr_assert_str_eq(before->sku_names[s], after->sku_names[s], "%s: sku %u name", what, s);
    cr_assert_eq(before->cell_count, after->cell_count, "%s: cell count %u -> %u", what,
                 before->cell_count, after->cell_count);
    for (uint32_t i = 0; i < before->cell_count; i++) {
        const inv_cell_view *a = &before->cells[i], *b = &after->cells[i];
        cr_assert(a->sku == b->sku && a->node == b->node, "%s: cell %u moved", what, i);
        cr_assert(a->on_hand == b->on_hand && a->reserved == b->reserved &&
                      a->safety == b->safety && a->available == b->available,
                  "%s: cell (sku %u, node %u) on_hand/reserved/safety/available "
                  "%lld/%lld/%lld/%lld -> %lld/%lld/%lld/%lld",
                  what, a->sku, a->node, (long long)a->on_hand, (long long)a->reserved,
                  (long long)a->safety, (long long)a->available, (long long)b->on_hand,
                  (long long)b->reserved, (long long)b->safety, (long long)b->available);
    }
}
