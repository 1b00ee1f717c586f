/*
 * test_invbench_redis.c — invbench's Redis + Lua baseline (ib_backend_redis) against a
 * real redis-server that the backend starts: allocations come from holders and match the
 * lines, idempotent retries and CONFLICT, all-or-nothing, purchase limits, commit and
 * release states, TTL expiry (by a later reserve, on demand, and lazily on commit), a
 * pipelined run over two connections that never oversells, and `appendfsync always`.
 *
 * Each test starts its own server in a fresh /tmp directory on a free port and stops it
 * (by the pid the backend started) at the end. Without redis-server on PATH the suite
 * skips loudly. Every wait is bounded.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ib_backend.h"
#include "ib_redis.h"
#include "scenario.h"

/* Longest wait for one reply, and for the pipelined run as a whole. */
#define T_REPLY_TIMEOUT_MS 5000
#define T_RUN_TIMEOUT_MS 60000
/* Hold time of reservations that must not expire during a test. */
#define T_TTL_LONG_MS 600000u
/* Hold time of reservations that must expire, and how long the test waits for that. */
#define T_TTL_SHORT_MS 200u
#define T_TTL_WAIT_MS 450
/* The pipelined run: orders, connections, depth. */
#define T_RUN_ORDERS 4000u
#define T_RUN_CONNS 2u
#define T_RUN_DEPTH 64u
#define T_FLASH_LIMIT 2u

static inv_scenario *scn;
static ib_target *tgt;
static char work_dir[64];

/* ------------------------------------------------------------------------------------
 * Fixture
 * ------------------------------------------------------------------------------------ */
static bool redis_on_path(void) {
    const char *path = getenv("PATH");
    char dir[4096], file[4200];
    for (const char *p = path; p != NULL && *p != '\0';) {
        size_t n = strcspn(p, ":");
        snprintf(dir, sizeof dir, "%.*s", (int)n, p);
        snprintf(file, sizeof file, "%s/redis-server", dir[0] ? dir : ".");
        if (access(file, X_OK) == 0) return true;
        p += n + (p[n] == ':');
    }
    return false;
}

static void scenario_small(inv_scenario_config *c) {
    inv_scenario_config_default(c);
    c->seed = 7;
    c->nodes = 200;
    c->skus = 300;
    c->flash_skus = 2;
    c->customers = 2000;
    c->demand_orders = 20000;
    c->flash_limit = T_FLASH_LIMIT;
}

/* Build the scenario and start a server with `persistence`. */
static void target_start(const inv_scenario_config *sc, const char *persistence) {
    if (!redis_on_path()) {
        fprintf(stderr, "SKIPPED: redis-server is not on PATH; the Redis baseline cannot run\n");
        cr_skip_test("SKIPPED: redis-server is not on PATH; the Redis baseline cannot run");
    }
    char err[512] = "";
    cr_assert_eq(inv_scenario_build(&scn, sc, err, sizeof err), 0, "scenario: %s", err);
    snprintf(work_dir, sizeof work_dir, "/tmp/ib-redis-XXXXXX");
    cr_assert_not_null(mkdtemp(work_dir), "mkdtemp: %s", strerror(errno));
    ib_target_config cfg = {.scenario = scn, .work_dir = work_dir,
                            .persistence = persistence, .quiet = true};
    int rc = ib_backend_redis.open(&cfg, &tgt, err, sizeof err);
    cr_assert_eq(rc, 0, "open: %s (%d)", err, rc);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *f) {
    (void)st;
    (void)flag;
    (void)f;
    remove(path);
    return 0;
}

static void fini(void) {
    if (tgt != NULL) ib_backend_redis.close(tgt);
    tgt = NULL;
    if (scn != NULL) inv_scenario_free(scn);
    scn = NULL;
    if (strncmp(work_dir, "/tmp/ib-redis-", 14) == 0)
        nftw(work_dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    work_dir[0] = '\0';
}

static void init_none(void) {
    inv_scenario_config sc;
    scenario_small(&sc);
    target_start(&sc, "none");
}

TestSuite(invbench_redis, .init = init_none, .fini = fini, .timeout = 90);

/* ------------------------------------------------------------------------------------
 * One request at a time
 * ------------------------------------------------------------------------------------ */
static ib_conn *conn_open(void) {
    char err[512] = "";
    ib_conn *c = NULL;
    cr_assert_eq(ib_backend_redis.connect(tgt, &c, err, sizeof err), 0, "connect: %s", err);
    return c;
}

static ib_result call(ib_conn *c, const ib_request *rq) {
    cr_assert_eq(ib_backend_redis.submit(c, rq), 0);
    ib_result res;
    int n = ib_backend_redis.poll(c, &res, 1, T_REPLY_TIMEOUT_MS);
    cr_assert_eq(n, 1, "poll -> %d (%s)", n, ib_backend_redis.conn_error(c));
    cr_assert_eq(res.user, rq->user);
    cr_assert_eq(ib_backend_redis.inflight(c), 0);
    return res;
}

/* order_index UINT32_MAX: not in the prepared pool, candidates computed at submit. */
static ib_result reserve(ib_conn *c, const inv_scn_order *o, uint32_t index, uint64_t ttl_ms) {
    ib_request rq = {.op = IB_OP_RESERVE, .user = (void *)o, .order_id = o->order_id,
                     .order = o, .order_index = index, .ttl_ms = ttl_ms};
    return call(c, &rq);
}

static int settle(ib_conn *c, ib_op op, const char *order_id) {
    ib_request rq = {.op = op, .user = (void *)order_id, .order_id = order_id};
    return call(c, &rq).status;
}

static ib_result avail(ib_conn *c, uint32_t sku) {
    ib_request rq = {.op = IB_OP_AVAILABILITY, .user = &avail, .sku = sku};
    ib_result r = call(c, &rq);
    cr_assert_eq(r.status, INVC_OK, "availability of %u -> %d", sku, r.status);
    return r;
}

#define T_STATUS_IS(actual, expected)                                                    \
    do {                                                                                 \
        int t_a_ = (actual), t_e_ = (expected);                                          \
        cr_assert_eq(t_a_, t_e_, "%s -> %s, expected %s", #actual,                       \
                     inv_client_status_name(t_a_), inv_client_status_name(t_e_));        \
    } while (0)

/* ------------------------------------------------------------------------------------
 * Scenario look-ups
 * ------------------------------------------------------------------------------------ */
static const inv_scn_cell *cell_find(uint32_t sku, uint32_t node) {
    for (uint32_t i = 0; i < scn->cell_count; i++)
        if (scn->cells[i].sku == sku && scn->cells[i].node == node) return &scn->cells[i];
    return NULL;
}

/* A shipping node holding `sku` with at least `units` for sale. */
static uint32_t holder_with(uint32_t sku, uint32_t units) {
    for (uint32_t i = 0; i < scn->cell_count; i++) {
        const inv_scn_cell *c = &scn->cells[i];
        if (c->sku == sku && scn->nodes[c->node].ships && c->on_hand - c->safety >= units)
            return c->node;
    }
    cr_assert_fail("no shipping holder of sku %u with %u units", sku, units);
    return 0;
}

/* A hand-made order shipped to `node`'s place (or picked up there). */
static inv_scn_order order_make(const char *id, uint32_t customer, uint32_t node, bool pickup) {
    inv_scn_order o;
    memset(&o, 0, sizeof o);
    snprintf(o.order_id, sizeof o.order_id, "%s", id);
    snprintf(o.customer_id, sizeof o.customer_id, "%s", inv_scn_customer_id(scn, customer));
    o.customer = customer;
    o.lat = (float)scn->nodes[node].lat;
    o.lon = (float)scn->nodes[node].lon;
    o.pickup_node = pickup ? node : INV_SCN_NONE;
    return o;
}

static void order_line(inv_scn_order *o, uint32_t sku, uint32_t qty) {
    o->sku[o->line_count] = sku;
    o->qty[o->line_count] = (uint8_t)qty;
    o->line_count++;
}

/* Reserve `qty` of one SKU for `customer`, shipped to `node`'s place. */
static ib_result reserve1(ib_conn *c, const char *id, uint32_t customer, uint32_t node,
                          uint32_t sku, uint32_t qty, uint64_t ttl_ms) {
    inv_scn_order o = order_make(id, customer, node, false);
    order_line(&o, sku, qty);
    return reserve(c, &o, UINT32_MAX, ttl_ms);
}

/* Σ qty of the allocation on `sku`, checking every piece comes from a holder. */
static uint32_t alloc_qty(const inv_scn_order *o, const ib_result *r, uint32_t sku) {
    uint32_t sum = 0;
    for (uint32_t k = 0; k < r->alloc_count; k++) {
        const ib_alloc *a = &r->alloc[k];
        if (a->sku != sku) continue;
        cr_assert_not_null(cell_find(a->sku, a->node), "node %u does not hold sku %u", a->node,
                           a->sku);
        if (o->pickup_node != INV_SCN_NONE)
            cr_assert_eq(a->node, o->pickup_node, "pickup order served elsewhere");
        else
            cr_assert(scn->nodes[a->node].ships, "node %u does not ship", a->node);
        sum += a->qty;
    }
    return sum;
}

static inv_scn_order *orders_make(uint32_t count, double flash_share, const char *prefix) {
    inv_scn_order_config oc;
    inv_scn_order_config_default(&oc);
    oc.count = count;
    oc.flash_share = flash_share;
    oc.pickup_share = 0.05;
    oc.id_prefix = prefix;
    inv_scn_order *orders = NULL;
    cr_assert_eq(inv_scn_orders_make(scn, &oc, &orders), 0);
    return orders;
}

/* ------------------------------------------------------------------------------------
 * Tests
 * ------------------------------------------------------------------------------------ */
Test(invbench_redis, reserve_allocates_the_lines_from_holders) {
    const char *d = ib_backend_redis.describe(tgt);
    cr_assert(strstr(d, "redis 7.") != NULL && strstr(d, "pid ") != NULL, "describe: %s", d);
    inv_scn_order *orders = orders_make(400, 0.02, "a");
    char err[256] = "";
    cr_assert_eq(ib_backend_redis.prepare(tgt, orders, 400, err, sizeof err), 0, "%s", err);
    ib_conn *c = conn_open();
    uint32_t ok = 0, pickups = 0;
    for (uint32_t i = 0; i < 400; i++) {
        ib_result r = reserve(c, &orders[i], i, T_TTL_LONG_MS);
        cr_assert(r.status == INVC_OK || r.status == INVC_INSUFFICIENT_STOCK ||
                      r.status == INVC_LIMIT_EXCEEDED,
                  "order %u -> %s (%s)", i, inv_client_status_name(r.status),
                  ib_backend_redis.conn_error(c));
        if (r.status != INVC_OK) {
            cr_assert_eq(r.alloc_count, 0, "a refused order came with an allocation");
            continue;
        }
        ok++;
        pickups += orders[i].pickup_node != INV_SCN_NONE;
        uint32_t pieces = 0;
        for (uint32_t l = 0; l < orders[i].line_count; l++) {
            cr_assert_eq(alloc_qty(&orders[i], &r, orders[i].sku[l]), orders[i].qty[l],
                         "order %u line %u", i, l);
            for (uint32_t k = 0; k < r.alloc_count; k++)
                pieces += r.alloc[k].sku == orders[i].sku[l];
        }
        cr_assert_eq(pieces, r.alloc_count, "order %u: a piece of a SKU it did not ask for", i);
    }
    cr_assert_gt(ok, 300u, "only %u of 400 reserves succeeded", ok);
    /* Pickup orders mostly ask for SKUs their locker does not hold: refused, as in invd
     * (an_order_one_unit_beyond_stock_takes_nothing covers a pickup that succeeds). */
    cr_log_info("%u of 400 reserves OK, %u of them pickups", ok, pickups);
    ib_backend_redis.disconnect(c);
    free(orders);
}

Test(invbench_redis, retry_returns_the_stored_outcome_and_conflicts_on_other_content) {
    uint32_t sku = scn->rank_sku[0];
    uint32_t node = holder_with(sku, 3);
    inv_scn_order o = order_make("idem-1", 1, node, false);
    order_line(&o, sku, 3);
    ib_conn *c = conn_open();
    ib_result first = reserve(c, &o, UINT32_MAX, T_TTL_LONG_MS);
    T_STATUS_IS(first.status, INVC_OK);
    ib_result before = avail(c, sku);
    ib_result again = reserve(c, &o, UINT32_MAX, T_TTL_LONG_MS);
    T_STATUS_IS(again.status, INVC_OK);
    cr_assert_eq(again.alloc_count, first.alloc_count);
    cr_assert_eq(memcmp(again.alloc, first.alloc, first.alloc_count * sizeof first.alloc[0]), 0);
    ib_result after = avail(c, sku);
    cr_assert_eq(after.reserved, before.reserved, "the retry took more");
    cr_assert_eq(after.available, before.available);
    o.qty[0] = 2; /* same id, other basket */
    T_STATUS_IS(reserve(c, &o, UINT32_MAX, T_TTL_LONG_MS).status, INVC_CONFLICT);
    cr_assert_eq(avail(c, sku).reserved, before.reserved);
    ib_backend_redis.disconnect(c);
}

/* A node holding two SKUs with few units each: a pickup order there sees only it. */
static void pickup_pair(uint32_t *node, uint32_t *a, uint32_t *b) {
    for (uint32_t i = 0; i < scn->cell_count; i++) {
        const inv_scn_cell *x = &scn->cells[i];
        if (x->on_hand - x->safety >= 250) continue;
        for (uint32_t j = 0; j < scn->cell_count; j++) {
            const inv_scn_cell *y = &scn->cells[j];
            if (j != i && y->node == x->node && y->on_hand > y->safety) {
                *node = x->node;
                *a = x->sku;
                *b = y->sku;
                return;
            }
        }
    }
    cr_assert_fail("no node with two SKUs");
}

Test(invbench_redis, an_order_one_unit_beyond_stock_takes_nothing) {
    uint32_t node = 0, sku = 0, other = 0;
    pickup_pair(&node, &sku, &other);
    const inv_scn_cell *cell = cell_find(sku, node);
    uint32_t units = cell->on_hand - cell->safety;
    ib_conn *c = conn_open();
    ib_result sku_before = avail(c, sku), other_before = avail(c, other);
    inv_scn_order o = order_make("aon-1", 2, node, true);
    order_line(&o, other, 1);
    order_line(&o, sku, units + 1);
    T_STATUS_IS(reserve(c, &o, UINT32_MAX, T_TTL_LONG_MS).status, INVC_INSUFFICIENT_STOCK);
    ib_result sku_after = avail(c, sku), other_after = avail(c, other);
    cr_assert_eq(sku_after.reserved, sku_before.reserved);
    cr_assert_eq(other_after.reserved, other_before.reserved, "the covered line was taken");
    /* Exactly the units there: taken, all at the pickup node. */
    inv_scn_order exact = order_make("aon-2", 2, node, true);
    order_line(&exact, other, 1);
    order_line(&exact, sku, units);
    ib_result r = reserve(c, &exact, UINT32_MAX, T_TTL_LONG_MS);
    T_STATUS_IS(r.status, INVC_OK);
    cr_assert_eq(alloc_qty(&exact, &r, sku), units);
    cr_assert_eq(alloc_qty(&exact, &r, other), 1);
    cr_assert_eq(avail(c, sku).reserved, sku_before.reserved + units);
    cr_assert_eq(avail(c, other).available, other_before.available - 1);
    ib_backend_redis.disconnect(c);
}

Test(invbench_redis, purchase_limit_is_enforced_and_given_back_on_release) {
    uint32_t flash = scn->flash_first;
    uint32_t node = holder_with(flash, 1);
    ib_conn *c = conn_open();
    T_STATUS_IS(reserve1(c, "lim-1", 5, node, flash, T_FLASH_LIMIT, T_TTL_LONG_MS).status, INVC_OK);
    T_STATUS_IS(reserve1(c, "lim-2", 5, node, flash, 1, T_TTL_LONG_MS).status, INVC_LIMIT_EXCEEDED);
    T_STATUS_IS(reserve1(c, "lim-3", 6, node, flash, 1, T_TTL_LONG_MS).status, INVC_OK);
    T_STATUS_IS(settle(c, IB_OP_RELEASE, "lim-1"), INVC_OK);
    T_STATUS_IS(reserve1(c, "lim-4", 5, node, flash, 1, T_TTL_LONG_MS).status, INVC_OK);
    /* Committed units keep counting. */
    T_STATUS_IS(settle(c, IB_OP_COMMIT, "lim-4"), INVC_OK);
    T_STATUS_IS(reserve1(c, "lim-5", 5, node, flash, T_FLASH_LIMIT, T_TTL_LONG_MS).status,
                INVC_LIMIT_EXCEEDED);
    ib_backend_redis.disconnect(c);
}

Test(invbench_redis, commit_and_release_move_stock_and_answer_by_state) {
    uint32_t sku = scn->rank_sku[1];
    uint32_t node = holder_with(sku, 2);
    ib_conn *c = conn_open();
    ib_result a0 = avail(c, sku);
    T_STATUS_IS(reserve1(c, "st-1", 3, node, sku, 2, T_TTL_LONG_MS).status, INVC_OK);
    ib_result a1 = avail(c, sku);
    cr_assert_eq(a1.on_hand, a0.on_hand);
    cr_assert_eq(a1.reserved, a0.reserved + 2);
    cr_assert_eq(a1.available, a0.available - 2);
    T_STATUS_IS(settle(c, IB_OP_COMMIT, "st-1"), INVC_OK);
    ib_result a2 = avail(c, sku);
    cr_assert_eq(a2.on_hand, a0.on_hand - 2, "commit did not consume on_hand");
    cr_assert_eq(a2.reserved, a0.reserved, "commit did not drop reserved");
    cr_assert_eq(a2.available, a0.available - 2);
    T_STATUS_IS(settle(c, IB_OP_COMMIT, "st-1"), INVC_OK);
    T_STATUS_IS(settle(c, IB_OP_RELEASE, "st-1"), INVC_ALREADY_COMMITTED);
    T_STATUS_IS(reserve1(c, "st-2", 3, node, sku, 1, T_TTL_LONG_MS).status, INVC_OK);
    T_STATUS_IS(settle(c, IB_OP_RELEASE, "st-2"), INVC_OK);
    ib_result a3 = avail(c, sku);
    cr_assert_eq(a3.reserved, a2.reserved);
    cr_assert_eq(a3.on_hand, a2.on_hand);
    T_STATUS_IS(settle(c, IB_OP_COMMIT, "st-2"), INVC_ALREADY_RELEASED);
    T_STATUS_IS(settle(c, IB_OP_RELEASE, "st-2"), INVC_OK);
    T_STATUS_IS(settle(c, IB_OP_COMMIT, "no-such-order"), INVC_NOT_FOUND);
    T_STATUS_IS(settle(c, IB_OP_RELEASE, "no-such-order"), INVC_NOT_FOUND);
    ib_backend_redis.disconnect(c);
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

Test(invbench_redis, unpaid_reservations_expire_by_ttl) {
    uint32_t flash = scn->flash_first, sku = scn->rank_sku[2];
    uint32_t node = holder_with(flash, 1), node2 = holder_with(sku, 1);
    ib_conn *c = conn_open();
    ib_result f0 = avail(c, flash), s0 = avail(c, sku);
    /* Expired by a later reserve: units and the purchase limit come back. */
    T_STATUS_IS(reserve1(c, "ttl-1", 9, node, flash, T_FLASH_LIMIT, T_TTL_SHORT_MS).status,
                INVC_OK);
    cr_assert_eq(avail(c, flash).reserved, f0.reserved + T_FLASH_LIMIT);
    sleep_ms(T_TTL_WAIT_MS);
    T_STATUS_IS(reserve1(c, "ttl-2", 9, node2, sku, 1, T_TTL_LONG_MS).status, INVC_OK);
    cr_assert_eq(avail(c, flash).reserved, f0.reserved, "ttl-1 did not expire");
    T_STATUS_IS(settle(c, IB_OP_COMMIT, "ttl-1"), INVC_EXPIRED);
    T_STATUS_IS(settle(c, IB_OP_RELEASE, "ttl-1"), INVC_OK);
    T_STATUS_IS(reserve1(c, "ttl-3", 9, node, flash, T_FLASH_LIMIT, T_TTL_LONG_MS).status, INVC_OK);
    /* Expired on demand. */
    T_STATUS_IS(reserve1(c, "ttl-4", 10, node2, sku, 1, T_TTL_SHORT_MS).status, INVC_OK);
    cr_assert_eq(avail(c, sku).reserved, s0.reserved + 2);
    sleep_ms(T_TTL_WAIT_MS);
    uint32_t expired = 0;
    char err[256] = "";
    cr_assert_eq(ib_redis_expire_due(tgt, 100, &expired, err, sizeof err), 0, "%s", err);
    cr_assert_eq(expired, 1);
    cr_assert_eq(avail(c, sku).reserved, s0.reserved + 1);
    T_STATUS_IS(settle(c, IB_OP_COMMIT, "ttl-4"), INVC_EXPIRED);
    /* Past its time when the commit comes: the commit expires it. */
    T_STATUS_IS(reserve1(c, "ttl-5", 11, node2, sku, 1, T_TTL_SHORT_MS).status, INVC_OK);
    sleep_ms(T_TTL_WAIT_MS);
    T_STATUS_IS(settle(c, IB_OP_COMMIT, "ttl-5"), INVC_EXPIRED);
    ib_result s9 = avail(c, sku);
    cr_assert_eq(s9.reserved, s0.reserved + 1);
    cr_assert_eq(s9.on_hand, s0.on_hand);
    ib_backend_redis.disconnect(c);
}

/* ------------------------------------------------------------------------------------
 * Pipelined run over two connections
 * ------------------------------------------------------------------------------------ */
typedef struct run_part {
    inv_scn_order *orders;
    uint32_t first, count;
    int status[T_RUN_ORDERS];
    ib_result ok[T_RUN_ORDERS]; /* by order index */
    char error[256];
} run_part;

static void *run_thread(void *arg) {
    run_part *p = arg;
    ib_conn *c = NULL;
    if (ib_backend_redis.connect(tgt, &c, p->error, sizeof p->error) != 0) return NULL;
    ib_result res[T_RUN_DEPTH];
    uint32_t sent = 0, done = 0;
    while (done < p->count) { /* bounded: every poll waits at most T_REPLY_TIMEOUT_MS */
        while (sent < p->count && ib_backend_redis.inflight(c) < T_RUN_DEPTH) {
            uint32_t i = p->first + sent;
            ib_request rq = {.op = IB_OP_RESERVE, .user = (void *)(uintptr_t)(i + 1),
                             .order_id = p->orders[i].order_id, .order = &p->orders[i],
                             .order_index = i, .ttl_ms = T_TTL_LONG_MS};
            if (ib_backend_redis.submit(c, &rq) != 0) break;
            sent++;
        }
        int n = ib_backend_redis.poll(c, res, T_RUN_DEPTH, T_REPLY_TIMEOUT_MS);
        if (n <= 0) {
            snprintf(p->error, sizeof p->error, "poll -> %d: %s", n,
                     ib_backend_redis.conn_error(c));
            break;
        }
        for (int k = 0; k < n; k++) {
            uint32_t i = (uint32_t)(uintptr_t)res[k].user - 1;
            p->status[i] = res[k].status;
            if (res[k].status == INVC_OK) p->ok[i] = res[k];
        }
        done += (uint32_t)n;
    }
    ib_backend_redis.disconnect(c);
    return NULL;
}

/* Every cell of `sku` read straight from the server: reserved never above on_hand − safety. */
static void cells_check(redisContext *rc, uint32_t sku) {
    redisReply *r = redisCommand(rc, "HGETALL ib:c:%u", sku);
    cr_assert(r != NULL && r->type == REDIS_REPLY_ARRAY, "HGETALL ib:c:%u", sku);
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const char *f = r->element[i]->str;
        if (f[0] != 'h') continue;
        long long h = atoll(r->element[i + 1]->str), rsv = 0, safety = 0;
        for (size_t j = 0; j + 1 < r->elements; j += 2) {
            const char *g = r->element[j]->str;
            if (strcmp(g + 1, f + 1) != 0) continue;
            if (g[0] == 'r') rsv = atoll(r->element[j + 1]->str);
            if (g[0] == 's') safety = atoll(r->element[j + 1]->str);
        }
        cr_assert(rsv >= 0 && rsv <= h - safety, "sku %u node %s: on_hand %lld reserved %lld",
                  sku, f + 1, h, rsv);
    }
    freeReplyObject(r);
}

static uint16_t target_port(void) {
    const char *d = ib_backend_redis.describe(tgt);
    const char *colon = strrchr(d, ':');
    cr_assert_not_null(colon, "describe: %s", d);
    return (uint16_t)atoi(colon + 1);
}

Test(invbench_redis, pipelined_reserves_over_two_connections_never_oversell) {
    inv_scn_order *orders = orders_make(T_RUN_ORDERS, 0.3, "p");
    char err[256] = "";
    cr_assert_eq(ib_backend_redis.prepare(tgt, orders, T_RUN_ORDERS, err, sizeof err), 0);
    static run_part parts[T_RUN_CONNS];
    pthread_t th[T_RUN_CONNS];
    for (uint32_t k = 0; k < T_RUN_CONNS; k++) {
        parts[k].orders = orders;
        parts[k].first = k * (T_RUN_ORDERS / T_RUN_CONNS);
        parts[k].count = T_RUN_ORDERS / T_RUN_CONNS;
        cr_assert_eq(pthread_create(&th[k], NULL, run_thread, &parts[k]), 0);
    }
    for (uint32_t k = 0; k < T_RUN_CONNS; k++) pthread_join(th[k], NULL);
    /* Acked units per SKU, and limited units per (flash SKU, customer). */
    int64_t *acked = calloc(scn->sku_count, sizeof *acked);
    int64_t *loaded = calloc(scn->sku_count, sizeof *loaded);
    uint32_t *per_customer =
        calloc((size_t)scn->flash_count * scn->customer_count, sizeof(uint32_t));
    cr_assert(acked && loaded && per_customer);
    uint32_t ok = 0, short_of_stock = 0;
    for (uint32_t k = 0; k < T_RUN_CONNS; k++) {
        cr_assert_eq(parts[k].error[0], '\0', "connection %u: %s", k, parts[k].error);
        for (uint32_t i = parts[k].first; i < parts[k].first + parts[k].count; i++) {
            short_of_stock += parts[k].status[i] == INVC_INSUFFICIENT_STOCK;
            if (parts[k].status[i] != INVC_OK) continue;
            ok++;
            const ib_result *r = &parts[k].ok[i];
            for (uint32_t a = 0; a < r->alloc_count; a++) {
                acked[r->alloc[a].sku] += r->alloc[a].qty;
                if (r->alloc[a].sku >= scn->flash_first)
                    per_customer[(size_t)(r->alloc[a].sku - scn->flash_first) *
                                     scn->customer_count +
                                 orders[i].customer] += r->alloc[a].qty;
            }
        }
    }
    cr_assert_gt(ok, 0u);
    for (size_t x = 0; x < (size_t)scn->flash_count * scn->customer_count; x++)
        cr_assert_leq(per_customer[x], T_FLASH_LIMIT, "a customer holds more than the limit");
    for (uint32_t i = 0; i < scn->cell_count; i++)
        loaded[scn->cells[i].sku] += scn->cells[i].on_hand;
    ib_conn *c = conn_open();
    redisContext *rc = redisConnect("127.0.0.1", target_port());
    cr_assert(rc != NULL && rc->err == 0);
    for (uint32_t s = 0; s < scn->sku_count; s++) {
        ib_result a = avail(c, s);
        cr_assert_eq(a.on_hand, loaded[s], "sku %u: on_hand changed without commits", s);
        cr_assert_eq(a.reserved, acked[s], "sku %u: reserved %lld, acked %lld", s,
                     (long long)a.reserved, (long long)acked[s]);
        cr_assert_geq(a.available, 0, "sku %u oversold", s);
        cells_check(rc, s);
    }
    redisFree(rc);
    ib_backend_redis.disconnect(c);
    cr_log_info("pipelined run: %u OK, %u short of stock of %u", ok, short_of_stock, T_RUN_ORDERS);
    free(acked);
    free(loaded);
    free(per_customer);
    free(orders);
}

/* ------------------------------------------------------------------------------------
 * appendfsync always
 * ------------------------------------------------------------------------------------ */
static void init_always(void) {
    inv_scenario_config sc;
    scenario_small(&sc);
    target_start(&sc, "always");
}

/* Bytes of the incremental AOF files under work_dir/appendonlydir (Redis 7 layout). */
static long long aof_incr_bytes(void) {
    char dir[128];
    snprintf(dir, sizeof dir, "%s/appendonlydir", work_dir);
    DIR *d = opendir(dir);
    cr_assert_not_null(d, "%s: %s", dir, strerror(errno));
    long long bytes = 0;
    for (struct dirent *e = readdir(d); e != NULL; e = readdir(d)) {
        if (strstr(e->d_name, ".incr.aof") == NULL) continue;
        char path[512];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (stat(path, &st) == 0) bytes += st.st_size;
    }
    closedir(d);
    return bytes;
}

/* A suite of its own: Criterion runs a suite's .init before a test's own .init. */
TestSuite(invbench_redis_always, .init = init_always, .fini = fini, .timeout = 90);

Test(invbench_redis_always, starts_and_logs_reserves) {
    const char *d = ib_backend_redis.describe(tgt);
    cr_assert(strstr(d, "appendfsync always") != NULL, "describe: %s", d);
    long long before = aof_incr_bytes();
    uint32_t sku = scn->rank_sku[0];
    ib_conn *c = conn_open();
    T_STATUS_IS(reserve1(c, "aof-1", 4, holder_with(sku, 1), sku, 1, T_TTL_LONG_MS).status,
                INVC_OK);
    cr_assert_gt(aof_incr_bytes(), before, "the reserve was not appended to the AOF");
    ib_backend_redis.disconnect(c);
}
