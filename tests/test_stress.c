/*
 * test_stress.c — concurrency stress in threaded mode, then the invariants of DESIGN.md §10
 * checked exactly at quiescence.
 *
 * Four shard threads each act as a checkout client of their own shard: they generate a
 * mixed workload — reserves of 1–3 lines (Zipf-like SKUs, one very hot SKU that sells out
 * over and over, a purchase-limited SKU shared by customers of every thread), commits,
 * releases, extends, retries of reserves (later, and twice back-to-back in flight),
 * reuse of an order id with other content, retries of commit/release on finished orders,
 * adjusts (restocks, shrinkage, set_to, with and without ref_ids, duplicated refs),
 * returns, availability and reservation reads — submit them with inv_shard_submit (most
 * are forwarded to another shard), and poll their own shard, which also serves the ops
 * forwarded to it and expires reservations on an atomic fake clock that thread 0 moves
 * (1 ms per 4 of its ops); 15 % of the orders are abandoned and left to expire.
 * Total ops: 1,000,000 by default, INV_STRESS_OPS to override (CI sanitizer runs).
 * Every loop is bounded in iterations and in wall time.
 *
 * Checked while running, on the client threads (first failure recorded, asserted by the
 * test thread): every answer's status is one the op may give; a retry of an acknowledged
 * reserve answers OK with the same allocation (or its tombstone with a state consistent
 * with what the client did); back-to-back duplicates answer alike; other content is
 * CONFLICT; finished-order retries give the exact status of resv.c's answer table;
 * duplicated ref_ids are DUPLICATE_REF with the first applied delta; extends set
 * expires_at within [now_before + ttl, now_after + ttl].
 *
 * Checked at quiescence (direct mode, after the threads are joined):
 *   §10.1  every cell: available == on_hand − reserved − safety (cell read and per-node
 *          GetAvailability), and reserved == Σ qty of the HELD reservations on the cell,
 *          from the allocations acknowledged to the clients, each HELD one also compared
 *          with GetReservation;
 *   §10.2  never oversold: for every cell without shrinkage, committed + held ≤ loaded +
 *          applied adjustments − safety; and for every cell on_hand == loaded + applied
 *          − committed exactly (each commit and adjust applied once);
 *   §10.4  retries gave the same answer (above), every created order has one final state
 *          consistent with the client's acknowledged commit / release, reserves_ok equals
 *          the number of orders created;
 *   §10.5  no customer holds (HELD + COMMITTED) more than the limit of the limited SKU;
 *   and node capacity: allocated_today of the capacity-limited store equals the number of
 *   HELD or COMMITTED orders with a parcel there; a SKU with stock left is not answered
 *   "sold out".
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "test_support.h"

#define T0_MS 1731200000000ull
#define THREADS 4u
#define OPS_DEFAULT 1000000u
#define DEADLINE_S 480u          /* wall-clock bound of the whole run */
#define SLOTS 64u                /* ops in flight per client */
#define OPEN_MAX 512u            /* open (HELD, not yet finished) orders per client */
#define ALLOC_REC_MAX 12u        /* 3 lines × 4 parcels */
#define CUSTOMERS_SHARED 32u
#define CUSTOMERS_OWN 32u
#define CUSTOMERS_TOTAL (CUSTOMERS_SHARED + THREADS * CUSTOMERS_OWN)
#define LIMIT_PER_CUSTOMER 4u

/* ====================================================================================
 * The world: nodes, SKUs, cells
 * ==================================================================================== */

enum { N_SH, N_BJ, N_GZ, N_CD, N_HZ, N_WH, NODE_COUNT };
static const struct {
    const char *id;
    inv_node_kind kind;
    double lat, lon;
    uint32_t capacity;
} nodes_def[NODE_COUNT] = {
    {"sh", INV_NODE_WAREHOUSE, 31.2304, 121.4737, 0},
    {"bj", INV_NODE_WAREHOUSE, 39.9042, 116.4074, 0},
    {"gz", INV_NODE_WAREHOUSE, 23.1291, 113.2644, 0},
    {"cd", INV_NODE_WAREHOUSE, 30.5728, 104.0668, 0},
    {"hz", INV_NODE_STORE, 30.2741, 120.1551, 3000}, /* the capacity-limited store */
    {"wh", INV_NODE_WAREHOUSE, 30.5928, 114.3055, 0},
};
static const double dests[4][2] = {
    {31.2304, 121.4737}, {39.9042, 116.4074}, {23.1291, 113.2644}, {30.5728, 104.0668}};

/* SKU k: 0 "hot", 1 "lim", 2..41 normal; 32..41 also see shrinkage (negative adjusts,
 * set_to), so oversell is not defined for them (the accounting identity still is). */
#define SKU_HOT 0u
#define SKU_LIM 1u
#define SKU_COUNT 42u
#define SKU_SHRINK_FIRST 32u
static char sku_names[SKU_COUNT][8];
static uint32_t sku_ids[SKU_COUNT];  /* engine dense ids */
static uint32_t node_ids[NODE_COUNT];
static bool stocked[SKU_COUNT][NODE_COUNT];
static int64_t loaded[SKU_COUNT][NODE_COUNT];
static int64_t safety_of[SKU_COUNT][NODE_COUNT];

static uint32_t sku_index_of(uint32_t dense) {
    for (uint32_t k = 0; k < SKU_COUNT; k++)
        if (sku_ids[k] == dense) return k;
    return UINT32_MAX;
}
static uint32_t node_index_of(uint32_t dense) {
    for (uint32_t n = 0; n < NODE_COUNT; n++)
        if (node_ids[n] == dense) return n;
    return UINT32_MAX;
}

/* ====================================================================================
 * Client state
 * ==================================================================================== */

typedef struct alloc_rec {
    uint8_t sku, node;
    uint16_t qty;
} alloc_rec;

enum { ORDER_NEW = 0, ORDER_FAILED, ORDER_CREATED };
#define FINAL_NONE 0xffu

typedef struct order_rec {
    uint8_t line_count, sku[3], qty[3];
    uint8_t dest, policy, max_parcels;
    uint8_t status;       /* ORDER_* */
    uint8_t client_final; /* inv_resv_state the client was told, or FINAL_NONE */
    uint8_t alloc_count;
    bool busy;            /* an op on it is in flight */
    bool extended;
    uint16_t customer;    /* global customer index */
    uint32_t ttl_ms;
    uint64_t expires_at_ms;
    alloc_rec alloc[ALLOC_REC_MAX];
} order_rec;

enum op_kind {
    K_RESERVE, K_RESERVE_DUP, K_RETRY, K_CONFLICT, K_COMMIT, K_RELEASE, K_EXTEND,
    K_FINISHED_RETRY, K_ADJUST, K_ADJUST_DUP, K_RETURN, K_AVAIL, K_GET, K_KIND_COUNT
};
static const char *const kind_names[K_KIND_COUNT] = {
    "reserve", "reserve-dup", "retry", "conflict", "commit", "release", "extend",
    "finished-retry", "adjust", "adjust-dup", "return", "availability", "get"};

typedef struct slot {
    inv_op op;
    bool in_use;
    uint8_t kind;
    uint32_t order;
    int32_t pair;            /* original: its duplicate's slot; else -1 */
    uint8_t sku, node;       /* adjust / return / availability */
    int64_t delta;           /* adjust asked for */
    /* set by the original of a duplicate pair before the duplicate completes */
    inv_status expect_status;
    int64_t expect_applied;
    uint64_t clock_before;
    inv_line lines[3];
    char order_id[24], customer[24], ref[32];
    inv_node_avail avail[NODE_COUNT];
    struct client *c;
} slot;

typedef struct client {
    uint32_t index;
    inv_shard *shard;
    pthread_t thread;
    uint64_t rng;
    uint64_t quota, issued, completed, inflight;
    slot slots[SLOTS];
    uint32_t free_slots[SLOTS];
    uint32_t free_count;
    order_rec *orders;
    uint32_t order_count, order_cap;
    uint32_t open[OPEN_MAX];
    uint32_t open_count;
    uint32_t ref_seq;
    int64_t applied[SKU_COUNT][NODE_COUNT]; /* Σ applied_delta of OK adjusts/returns */
    uint64_t by_kind[K_KIND_COUNT];
    uint64_t by_status[INV_STATUS_COUNT];
    uint64_t hot_short;      /* reserves with the hot SKU answered INSUFFICIENT_STOCK */
    bool announced;
    char failure[320];
    bool failed;
} client;

static test_clock_atomic aclk;
static inv_engine *e;
static client *clients;
static _Atomic uint32_t finished_clients;
static _Atomic bool abort_all;
static uint64_t deadline_ms;

static void fail(client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(client *c, const char *fmt, ...) {
    if (c->failed) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->failure, sizeof c->failure, fmt, ap);
    va_end(ap);
    c->failed = true;
    atomic_store(&abort_all, true);
}

static uint64_t rnd(client *c) { /* xorshift64* */
    c->rng ^= c->rng >> 12;
    c->rng ^= c->rng << 25;
    c->rng ^= c->rng >> 27;
    return c->rng * 0x2545f4914f6cdd1dull;
}
static uint32_t rnd_below(client *c, uint32_t n) { return (uint32_t)(rnd(c) >> 33) % n; }

static void order_id_of(uint32_t client_index, uint32_t order, char *buf, size_t len) {
    snprintf(buf, len, "t%u-o%u", client_index, order);
}
static void customer_name(uint32_t customer, char *buf, size_t len) {
    if (customer < CUSTOMERS_SHARED) snprintf(buf, len, "shared-%u", customer);
    else snprintf(buf, len, "own-%u", customer - CUSTOMERS_SHARED);
}

/* ====================================================================================
 * Building ops
 * ==================================================================================== */

static slot *slot_take(client *c, uint8_t kind, uint32_t order) {
    if (c->free_count == 0) return NULL;
    slot *s = &c->slots[c->free_slots[--c->free_count]];
    memset(&s->op, 0, sizeof s->op);
    s->in_use = true;
    s->kind = kind;
    s->order = order;
    s->pair = -1;
    s->c = c;
    s->op.user = s;
    return s;
}
static void slot_free(client *c, slot *s) {
    s->in_use = false;
    c->free_slots[c->free_count++] = (uint32_t)(s - c->slots);
}

/* Reserve op of order `o` exactly as first sent (content fixed by the record). */
static void build_reserve(client *c, slot *s, const order_rec *o, uint32_t order) {
    order_id_of(c->index, order, s->order_id, sizeof s->order_id);
    customer_name(o->customer, s->customer, sizeof s->customer);
    for (uint32_t i = 0; i < o->line_count; i++) {
        s->lines[i].sku = sku_names[o->sku[i]];
        s->lines[i].qty = o->qty[i];
    }
    s->op.type = INV_OP_RESERVE;
    inv_reserve_args *a = &s->op.in.reserve;
    a->order_id = s->order_id;
    a->customer_id = s->customer;
    a->dest.has_point = true;
    a->dest.lat = dests[o->dest][0];
    a->dest.lon = dests[o->dest][1];
    a->lines = s->lines;
    a->line_count = o->line_count;
    a->ttl_ms = o->ttl_ms;
    a->policy = (inv_route_policy)o->policy;
    a->max_parcels = o->max_parcels;
}

static uint8_t pick_normal_sku(client *c) {
    uint32_t u = rnd_below(c, 40);
    return (uint8_t)(2 + (u * u) / 40); /* skewed toward the low numbers */
}

static uint32_t new_order(client *c) {
    if (c->order_count == c->order_cap) return UINT32_MAX;
    uint32_t n = c->order_count++;
    order_rec *o = &c->orders[n];
    memset(o, 0, sizeof *o);
    o->client_final = FINAL_NONE;
    o->line_count = (uint8_t)(1 + rnd_below(c, 3));
    for (uint32_t i = 0; i < o->line_count; i++) {
        uint8_t k;
        for (uint32_t tries = 0;; tries++) {
            uint32_t r = rnd_below(c, 100);
            k = r < 25 ? SKU_HOT : r < 35 ? SKU_LIM : pick_normal_sku(c);
            bool dup = false;
            for (uint32_t j = 0; j < i; j++) dup |= o->sku[j] == k;
            if (!dup || tries > 16) break;
        }
        for (uint32_t j = 0; j < i; j++)
            if (o->sku[j] == k) k = (uint8_t)(2 + (o->sku[j] + 1 + i) % 40); /* force distinct */
        o->sku[i] = k;
        o->qty[i] = (uint8_t)(1 + rnd_below(c, k == SKU_HOT ? 2 : 3));
    }
    o->dest = (uint8_t)rnd_below(c, 4);
    o->policy = rnd_below(c, 10) == 0 ? INV_ROUTE_SINGLE_NODE_ONLY : INV_ROUTE_NEAREST;
    o->max_parcels = (uint8_t)rnd_below(c, 5);
    uint32_t r = rnd_below(c, 100);
    o->ttl_ms = r < 70 ? 50 + rnd_below(c, 3000)
              : r < 95 ? 3000 + rnd_below(c, 60000) : 131000 + rnd_below(c, 70000);
    uint32_t cust = rnd_below(c, CUSTOMERS_SHARED + CUSTOMERS_OWN);
    o->customer = (uint16_t)(cust < CUSTOMERS_SHARED
                                 ? cust : cust + c->index * CUSTOMERS_OWN);
    return n;
}

static void open_add(client *c, uint32_t order) {
    if (c->open_count == OPEN_MAX) { /* abandon the oldest: it will expire by itself */
        memmove(c->open, c->open + 1, (OPEN_MAX - 1) * sizeof c->open[0]);
        c->open_count--;
    }
    c->open[c->open_count++] = order;
}
static void open_remove(client *c, uint32_t order) {
    for (uint32_t i = 0; i < c->open_count; i++) {
        if (c->open[i] != order) continue;
        c->open[i] = c->open[--c->open_count];
        return;
    }
}
/* A random open order not busy, or UINT32_MAX. */
static uint32_t pick_open(client *c) {
    for (uint32_t tries = 0; tries < 4 && c->open_count > 0; tries++) {
        uint32_t n = c->open[rnd_below(c, c->open_count)];
        if (!c->orders[n].busy) return n;
    }
    return UINT32_MAX;
}
/* A random created order not busy (any state), or UINT32_MAX. */
static uint32_t pick_created(client *c, bool finished_only) {
    for (uint32_t tries = 0; tries < 8 && c->order_count > 0; tries++) {
        uint32_t n = rnd_below(c, c->order_count);
        const order_rec *o = &c->orders[n];
        if (o->busy || o->status != ORDER_CREATED) continue;
        if (finished_only && o->client_final == FINAL_NONE) continue;
        return n;
    }
    return UINT32_MAX;
}

/* ====================================================================================
 * Checking answers
 * ==================================================================================== */

static bool same_alloc(const order_rec *o, const inv_reservation_view *v) {
    if (v->alloc_count != o->alloc_count) return false;
    for (uint32_t i = 0; i < v->alloc_count; i++) {
        const alloc_rec *a = &o->alloc[i];
        if (v->alloc[i].sku != sku_ids[a->sku] || v->alloc[i].node != node_ids[a->node] ||
            v->alloc[i].qty != a->qty)
            return false;
    }
    return true;
}

static void record_created(client *c, slot *s, order_rec *o) {
    const inv_reservation_view *v = &s->op.out.reservation;
    if (v->alloc_count == 0 || v->alloc_count > ALLOC_REC_MAX) {
        fail(c, "%s: %u allocation entries", s->order_id, v->alloc_count);
        return;
    }
    uint32_t per_line[3] = {0};
    for (uint32_t i = 0; i < v->alloc_count; i++) {
        uint32_t k = sku_index_of(v->alloc[i].sku), n = node_index_of(v->alloc[i].node);
        if (k == UINT32_MAX || n == UINT32_MAX) {
            fail(c, "%s: allocation names unknown sku %u / node %u", s->order_id,
                 v->alloc[i].sku, v->alloc[i].node);
            return;
        }
        o->alloc[i] = (alloc_rec){(uint8_t)k, (uint8_t)n, (uint16_t)v->alloc[i].qty};
        for (uint32_t l = 0; l < o->line_count; l++)
            if (o->sku[l] == k) per_line[l] += v->alloc[i].qty;
    }
    for (uint32_t l = 0; l < o->line_count; l++) {
        if (per_line[l] != o->qty[l]) {
            fail(c, "%s: line %u allocated %u of %u", s->order_id, l, per_line[l], o->qty[l]);
            return;
        }
    }
    o->alloc_count = (uint8_t)v->alloc_count;
    o->expires_at_ms = v->expires_at_ms;
    o->status = ORDER_CREATED;
    if (rnd_below(c, 100) >= 15) open_add(c, s->order); /* else abandoned: it expires */
}

static void check_reserve_failure(client *c, slot *s, const order_rec *o) {
    inv_status st = s->op.status;
    bool has_lim = false, has_hot = false;
    for (uint32_t l = 0; l < o->line_count; l++) {
        has_lim |= o->sku[l] == SKU_LIM;
        has_hot |= o->sku[l] == SKU_HOT;
    }
    if (st == INV_INSUFFICIENT_STOCK) {
        uint32_t short_lines = 0;
        for (uint32_t l = 0; l < o->line_count; l++) {
            uint32_t sf = s->op.out.reservation.shortfall[l];
            if (sf > o->qty[l]) fail(c, "%s: shortfall %u > qty %u", s->order_id, sf, o->qty[l]);
            short_lines += sf > 0;
        }
        if (short_lines == 0)
            fail(c, "%s: INSUFFICIENT_STOCK without a shortfall (\"%s\", %u lines, %s%s)",
                 s->order_id, s->op.message, o->line_count, sku_names[o->sku[0]],
                 o->policy == INV_ROUTE_SINGLE_NODE_ONLY ? ", single node" : "");
        if (has_hot) c->hot_short++;
    } else if (st == INV_LIMIT_EXCEEDED) {
        if (!has_lim) fail(c, "%s: LIMIT_EXCEEDED without a limited line", s->order_id);
    } else if (st != INV_NO_ROUTE) {
        fail(c, "%s: reserve -> %s \"%s\"", s->order_id, inv_status_name(st), s->op.message);
    }
    if (s->op.message[0] == '\0') fail(c, "%s: %s without a message", s->order_id,
                                       inv_status_name(st));
}

/* A retry of a created order: same allocation while HELD, else its tombstone. */
static void check_retry_answer(client *c, slot *s, order_rec *o) {
    const inv_op *op = &s->op;
    const inv_reservation_view *v = &op->out.reservation;
    if (op->status != INV_OK) {
        fail(c, "retry %s -> %s \"%s\"", s->order_id, inv_status_name(op->status), op->message);
        return;
    }
    if (!v->is_tombstone) {
        if (v->state != INV_RESV_HELD || !same_alloc(o, v))
            fail(c, "retry %s: live answer differs (state %s)", s->order_id,
                 inv_resv_state_name(v->state));
        else if (o->client_final != FINAL_NONE)
            fail(c, "retry %s: HELD after the client was told %s", s->order_id,
                 inv_resv_state_name((inv_resv_state)o->client_final));
        else if (!o->extended && v->expires_at_ms != o->expires_at_ms)
            fail(c, "retry %s: expiry moved", s->order_id);
        return;
    }
    if (v->state == INV_RESV_HELD) {
        fail(c, "retry %s: HELD tombstone", s->order_id);
    } else if (o->client_final != FINAL_NONE && v->state != o->client_final) {
        fail(c, "retry %s: tombstone %s, client was told %s", s->order_id,
             inv_resv_state_name(v->state), inv_resv_state_name((inv_resv_state)o->client_final));
    } else if (o->client_final == FINAL_NONE && v->state != INV_RESV_EXPIRED) {
        fail(c, "retry %s: %s though the client never finished it", s->order_id,
             inv_resv_state_name(v->state));
    }
    if (v->state == INV_RESV_EXPIRED && o->client_final == FINAL_NONE) {
        o->client_final = INV_RESV_EXPIRED;
        open_remove(c, s->order);
    }
}

static void on_reserve_done(client *c, slot *s) {
    order_rec *o = &c->orders[s->order];
    const inv_op *op = &s->op;
    switch (s->kind) {
    case K_RESERVE:
    case K_RESERVE_DUP:
        if (s->kind == K_RESERVE_DUP && o->status == ORDER_CREATED) {
            check_retry_answer(c, s, o); /* the original created it: answer alike */
            break;
        }
        if (op->status == INV_OK) {
            if (op->out.reservation.state != INV_RESV_HELD || op->out.reservation.is_tombstone)
                fail(c, "%s: new order answered %s", s->order_id,
                     inv_resv_state_name(op->out.reservation.state));
            else
                record_created(c, s, o);
        } else {
            o->status = ORDER_FAILED;
            check_reserve_failure(c, s, o);
        }
        break;
    case K_RETRY: check_retry_answer(c, s, o); break;
    case K_CONFLICT:
        if (op->status != INV_CONFLICT)
            fail(c, "%s with other content -> %s", s->order_id, inv_status_name(op->status));
        break;
    default: break;
    }
    if (s->kind != K_RESERVE || s->pair < 0) o->busy = false;
}

static void on_finish_done(client *c, slot *s) {
    order_rec *o = &c->orders[s->order];
    const inv_op *op = &s->op;
    const inv_reservation_view *v = &op->out.reservation;
    bool commit = op->type == INV_OP_COMMIT;
    if (s->kind == K_FINISHED_RETRY) {
        static const inv_status want[2][4] = {
            /* release */ {INV_OK, INV_ALREADY_COMMITTED, INV_OK, INV_OK},
            /* commit */ {INV_OK, INV_OK, INV_ALREADY_RELEASED, INV_EXPIRED}};
        inv_status w = want[commit][o->client_final];
        if (op->status != w || v->state != o->client_final)
            fail(c, "%s of %s %s -> %s (state %s), expected %s", commit ? "commit" : "release",
                 inv_resv_state_name((inv_resv_state)o->client_final), s->order_id,
                 inv_status_name(op->status), inv_resv_state_name(v->state),
                 inv_status_name(w));
        o->busy = false;
        return;
    }
    /* first commit / release of an open order */
    if (op->status == INV_OK && commit && v->state == INV_RESV_COMMITTED) {
        o->client_final = INV_RESV_COMMITTED;
    } else if (op->status == INV_EXPIRED && commit) {
        o->client_final = INV_RESV_EXPIRED;
    } else if (op->status == INV_OK && !commit &&
               (v->state == INV_RESV_RELEASED || v->state == INV_RESV_EXPIRED)) {
        o->client_final = (uint8_t)v->state;
    } else {
        fail(c, "%s %s -> %s \"%s\" (state %s)", commit ? "commit" : "release", s->order_id,
             inv_status_name(op->status), op->message, inv_resv_state_name(v->state));
    }
    open_remove(c, s->order);
    o->busy = false;
}

static void on_extend_done(client *c, slot *s) {
    order_rec *o = &c->orders[s->order];
    const inv_op *op = &s->op;
    if (op->status == INV_OK) {
        uint64_t after = atomic_load(&aclk.now_ms), ttl = op->in.extend.ttl_ms;
        uint64_t got = op->out.reservation.expires_at_ms;
        if (got < s->clock_before + ttl || got > after + ttl ||
            !same_alloc(o, &op->out.reservation))
            fail(c, "extend %s: expires_at %llu outside [%llu, %llu] or allocation changed",
                 s->order_id, (unsigned long long)got,
                 (unsigned long long)(s->clock_before + ttl), (unsigned long long)(after + ttl));
        o->extended = true;
        o->expires_at_ms = got;
    } else if (op->status == INV_EXPIRED) {
        o->client_final = INV_RESV_EXPIRED;
        open_remove(c, s->order);
    } else {
        fail(c, "extend %s -> %s \"%s\"", s->order_id, inv_status_name(op->status), op->message);
    }
    o->busy = false;
}

static void on_adjust_done(client *c, slot *s) {
    const inv_op *op = &s->op;
    bool is_dup = s->kind == K_ADJUST_DUP;
    if (is_dup && s->expect_status == INV_INTERNAL) {
        fail(c, "duplicate ref %s completed before its original", s->ref);
        return;
    }
    if (is_dup && s->expect_status == INV_OK) {
        if (op->status != INV_DUPLICATE_REF || op->out.cell.applied_delta != s->expect_applied)
            fail(c, "duplicate ref %s -> %s applied %lld, first applied %lld", s->ref,
                 inv_status_name(op->status), (long long)op->out.cell.applied_delta,
                 (long long)s->expect_applied);
        return;
    }
    if (op->status == INV_OK) {
        if (op->out.cell.sku != sku_ids[s->sku] || op->out.cell.node != node_ids[s->node]) {
            fail(c, "adjust answered another cell");
            return;
        }
        bool set_to = op->type == INV_OP_ADJUST && op->in.adjust.has_set_to;
        if (!set_to && op->out.cell.applied_delta != s->delta)
            fail(c, "adjust by %lld applied %lld", (long long)s->delta,
                 (long long)op->out.cell.applied_delta);
        c->applied[s->sku][s->node] += op->out.cell.applied_delta;
    } else if (op->status == INV_INVALID_ARGUMENT) {
        if (s->delta >= 0) fail(c, "adjust +%lld refused: %s", (long long)s->delta, op->message);
    } else if (!(is_dup && op->status == INV_DUPLICATE_REF)) {
        fail(c, "%s %s -> %s \"%s\"", kind_names[s->kind], s->ref, inv_status_name(op->status),
             op->message);
    }
    if (s->pair >= 0) { /* tell the duplicate what to expect */
        slot *d = &c->slots[s->pair];
        d->expect_status = op->status;
        d->expect_applied = op->out.cell.applied_delta;
    }
}

static void on_read_done(client *c, slot *s) {
    const inv_op *op = &s->op;
    if (s->kind == K_AVAIL) {
        const inv_availability_view *v = &op->out.availability;
        uint32_t cells = 0;
        for (uint32_t n = 0; n < NODE_COUNT; n++) cells += stocked[s->sku][n];
        if (op->status != INV_OK || v->node_count != cells || v->nodes_written != cells ||
            v->total_available < 0 || v->total_reserved < 0)
            fail(c, "availability of %s -> %s, %u nodes (expected %u)", sku_names[s->sku],
                 inv_status_name(op->status), v->node_count, cells);
        return;
    }
    order_rec *o = &c->orders[s->order]; /* K_GET */
    const inv_reservation_view *v = &op->out.reservation;
    if (op->status != INV_OK) {
        fail(c, "get %s -> %s", s->order_id, inv_status_name(op->status));
    } else if (o->client_final != FINAL_NONE && v->state != o->client_final) {
        fail(c, "get %s: %s, client was told %s", s->order_id, inv_resv_state_name(v->state),
             inv_resv_state_name((inv_resv_state)o->client_final));
    } else if (v->state == INV_RESV_HELD && !same_alloc(o, v)) {
        fail(c, "get %s: allocation differs", s->order_id);
    }
    o->busy = false;
}

static void complete(client *c, slot *s) {
    c->completed++;
    if ((unsigned)s->op.status < INV_STATUS_COUNT) c->by_status[s->op.status]++;
    switch (s->kind) {
    case K_RESERVE: case K_RESERVE_DUP: case K_RETRY: case K_CONFLICT:
        on_reserve_done(c, s);
        break;
    case K_COMMIT: case K_RELEASE: case K_FINISHED_RETRY: on_finish_done(c, s); break;
    case K_EXTEND: on_extend_done(c, s); break;
    case K_ADJUST: case K_ADJUST_DUP: case K_RETURN: on_adjust_done(c, s); break;
    default: on_read_done(c, s); break;
    }
    slot_free(c, s);
}

static void on_done(void *ctx, inv_op *op) {
    client *c = ctx;
    slot *s = op->user;
    if (s == NULL || s->c != c || !s->in_use) {
        fail(c, "completion of an op this client does not have in flight");
        return;
    }
    c->inflight--;
    complete(c, s);
}

/* ====================================================================================
 * Issuing ops
 * ==================================================================================== */

/* Submit; completes at once when local. false: the ring was full (slot returned). */
static bool issue(client *c, slot *s) {
    s->clock_before = atomic_load(&aclk.now_ms);
    int rc = inv_shard_submit(c->shard, &s->op);
    if (rc != 1 && rc != 0) {
        if (rc != -INV_BUSY) fail(c, "inv_shard_submit -> %d", rc);
        return false;
    }
    c->by_kind[s->kind]++;
    c->issued++;
    if (c->index == 0 && c->issued % 4 == 0) atomic_fetch_add(&aclk.now_ms, 1); /* fake time */
    if (rc == 1) {
        complete(c, s);
    } else {
        c->inflight++;
    }
    return true;
}

static void issue_reserve(client *c) {
    if (c->free_count < 2) return;
    uint32_t n = new_order(c);
    if (n == UINT32_MAX) return;
    order_rec *o = &c->orders[n];
    slot *s = slot_take(c, K_RESERVE, n);
    build_reserve(c, s, o, n);
    o->busy = true;
    bool twice = rnd_below(c, 100) < 5; /* the same request twice, both in flight */
    slot *d = NULL;
    if (twice) {
        d = slot_take(c, K_RESERVE_DUP, n);
        build_reserve(c, d, o, n);
        s->pair = (int32_t)(d - c->slots);
    }
    if (!issue(c, s)) {
        if (d != NULL) slot_free(c, d);
        slot_free(c, s);
        c->order_count--; /* never sent */
        return;
    }
    if (d != NULL && !issue(c, d)) {
        slot_free(c, d);
        s->pair = -1;
        o->busy = false;
    }
}

static void issue_on_order(client *c, uint8_t kind) {
    uint32_t n = kind == K_COMMIT || kind == K_RELEASE || kind == K_EXTEND
                     ? pick_open(c) : pick_created(c, kind == K_FINISHED_RETRY);
    if (n == UINT32_MAX) return;
    order_rec *o = &c->orders[n];
    slot *s = slot_take(c, kind, n);
    if (s == NULL) return;
    order_id_of(c->index, n, s->order_id, sizeof s->order_id);
    switch (kind) {
    case K_COMMIT:
    case K_RELEASE:
        s->op.type = kind == K_COMMIT ? INV_OP_COMMIT : INV_OP_RELEASE;
        s->op.in.order.order_id = s->order_id;
        break;
    case K_FINISHED_RETRY:
        s->op.type = rnd_below(c, 2) ? INV_OP_COMMIT : INV_OP_RELEASE;
        s->op.in.order.order_id = s->order_id;
        break;
    case K_EXTEND:
        s->op.type = INV_OP_EXTEND;
        s->op.in.extend.order_id = s->order_id;
        s->op.in.extend.ttl_ms = 100 + rnd_below(c, 5000);
        break;
    case K_GET:
        s->op.type = INV_OP_GET_RESERVATION;
        s->op.in.order.order_id = s->order_id;
        break;
    case K_RETRY: build_reserve(c, s, o, n); break;
    case K_CONFLICT:
        build_reserve(c, s, o, n);
        s->lines[0].qty = o->qty[0] + 1u; /* other content, same order id */
        break;
    default: break;
    }
    o->busy = true;
    if (!issue(c, s)) {
        slot_free(c, s);
        o->busy = false;
    }
}

static void issue_adjust(client *c, bool is_return) {
    if (c->free_count < 2) return;
    uint8_t k;
    uint32_t r = rnd_below(c, 100);
    k = r < 30 ? SKU_HOT : (uint8_t)(2 + rnd_below(c, 40));
    uint8_t n = (uint8_t)rnd_below(c, NODE_COUNT);
    for (uint32_t tries = 0; !stocked[k][n] && tries < NODE_COUNT; tries++)
        n = (uint8_t)((n + 1) % NODE_COUNT);
    slot *s = slot_take(c, is_return ? K_RETURN : K_ADJUST, 0);
    s->sku = k;
    s->node = n;
    bool with_ref = rnd_below(c, 2) == 0;
    if (with_ref) snprintf(s->ref, sizeof s->ref, "t%u-ref%u", c->index, c->ref_seq++);
    else s->ref[0] = '\0';
    if (is_return) {
        s->op.type = INV_OP_RETURN;
        s->op.in.ret.node_id = nodes_def[n].id;
        s->op.in.ret.sku = sku_names[k];
        s->op.in.ret.qty = 1 + rnd_below(c, 2);
        s->op.in.ret.ref_id = with_ref ? s->ref : NULL;
        s->delta = s->op.in.ret.qty;
    } else {
        s->op.type = INV_OP_ADJUST;
        s->op.in.adjust.node_id = nodes_def[n].id;
        s->op.in.adjust.sku = sku_names[k];
        s->op.in.adjust.ref_id = with_ref ? s->ref : NULL;
        if (k >= SKU_SHRINK_FIRST && rnd_below(c, 10) == 0) {
            s->op.in.adjust.has_set_to = true;
            s->op.in.adjust.set_to = rnd_below(c, 3000);
            s->delta = 0;
        } else if (k >= SKU_SHRINK_FIRST && rnd_below(c, 2) == 0) {
            s->delta = -(int64_t)(1 + rnd_below(c, 3));
        } else {
            s->delta = k == SKU_HOT ? 1 + rnd_below(c, 3) : 1 + rnd_below(c, 5);
        }
        s->op.in.adjust.delta = s->delta;
    }
    slot *d = NULL;
    if (with_ref && rnd_below(c, 4) == 0) { /* the same ref again, in flight together */
        d = slot_take(c, K_ADJUST_DUP, 0);
        memcpy(&d->op, &s->op, sizeof d->op);
        d->op.user = d;
        memcpy(d->ref, s->ref, sizeof d->ref);
        if (is_return) d->op.in.ret.ref_id = d->ref; else d->op.in.adjust.ref_id = d->ref;
        d->sku = k;
        d->node = n;
        d->delta = s->delta;
        d->expect_status = INV_INTERNAL; /* set by the original's completion */
        s->pair = (int32_t)(d - c->slots);
    }
    if (!issue(c, s)) {
        if (d != NULL) slot_free(c, d);
        slot_free(c, s);
        return;
    }
    if (d != NULL && !issue(c, d)) {
        slot_free(c, d);
        s->pair = -1;
    }
}

static void issue_availability(client *c) {
    slot *s = slot_take(c, K_AVAIL, 0);
    if (s == NULL) return;
    s->sku = rnd_below(c, 2) ? SKU_HOT : (uint8_t)(2 + rnd_below(c, 40));
    s->op.type = INV_OP_GET_AVAILABILITY;
    s->op.in.availability.sku = sku_names[s->sku];
    s->op.in.availability.nodes = s->avail;
    s->op.in.availability.nodes_cap = NODE_COUNT;
    if (!issue(c, s)) slot_free(c, s);
}

static void issue_one(client *c) {
    uint32_t r = rnd_below(c, 100);
    if (r < 38) issue_reserve(c);
    else if (r < 53) issue_on_order(c, K_COMMIT);
    else if (r < 65) issue_on_order(c, K_RELEASE);
    else if (r < 70) issue_on_order(c, K_EXTEND);
    else if (r < 77) issue_on_order(c, K_RETRY);
    else if (r < 80) issue_on_order(c, K_CONFLICT);
    else if (r < 83) issue_on_order(c, K_FINISHED_RETRY);
    else if (r < 88) issue_adjust(c, false);
    else if (r < 90) issue_adjust(c, true);
    else if (r < 95) issue_availability(c);
    else issue_on_order(c, K_GET);
}

static void *client_main(void *arg) {
    client *c = arg;
    uint64_t iterations_max = c->quota * 2000u + 100000000u;
    for (uint64_t it = 0; it < iterations_max; it++) {
        if (atomic_load_explicit(&abort_all, memory_order_relaxed)) break;
        if ((it & 1023u) == 0 && test_mono_ms() > deadline_ms) {
            fail(c, "client %u: deadline passed (%llu of %llu issued, %llu in flight)",
                 c->index, (unsigned long long)c->issued, (unsigned long long)c->quota,
                 (unsigned long long)c->inflight);
            break;
        }
        uint32_t handled = inv_shard_poll(c->shard, on_done, c);
        if (c->issued < c->quota) {
            uint64_t before = c->issued;
            issue_one(c);
            /* 4 shard threads may share fewer cores: let the owners run */
            if (handled == 0 && c->issued == before) sched_yield();
        } else if (c->inflight == 0 && !c->announced) {
            c->announced = true;
            atomic_fetch_add(&finished_clients, 1);
        }
        if (c->announced && atomic_load(&finished_clients) == THREADS) return NULL;
        if (c->issued >= c->quota && handled == 0) sched_yield();
    }
    if (!c->failed && !atomic_load(&abort_all))
        fail(c, "client %u: iteration bound hit", c->index);
    atomic_store(&abort_all, true);
    return NULL;
}

/* ====================================================================================
 * Setup and the quiescent check
 * ==================================================================================== */

static uint64_t stress_ops(void) {
    const char *env = getenv("INV_STRESS_OPS");
    if (env == NULL || *env == '\0') return OPS_DEFAULT;
    unsigned long long v = strtoull(env, NULL, 10);
    return v < 1000 ? 1000 : v;
}

static void load_world(uint64_t ops) {
    atomic_store(&aclk.now_ms, T0_MS);
    inv_engine_config cfg;
    test_config_small(&cfg, THREADS);
    cfg.clock = test_clock_atomic_read;
    cfg.clock_ctx = &aclk;
    cfg.reservations_per_shard_max = 65536;
    /* every order of the run stays answerable: no tombstone leaves early */
    cfg.tombstones_per_shard_max = (uint32_t)(ops / 2 + 1024);
    cfg.refs_per_shard_max = (uint32_t)(ops / 8 + 1024);
    e = test_engine_open_config(&cfg);
    for (uint32_t n = 0; n < NODE_COUNT; n++) {
        T_STATUS(t_upsert_node(e, nodes_def[n].id, nodes_def[n].kind, nodes_def[n].lat,
                               nodes_def[n].lon, nodes_def[n].capacity, n), INV_OK);
        node_ids[n] = last_op.out.node.node;
    }
    memset(stocked, 0, sizeof stocked);
    memset(loaded, 0, sizeof loaded);
    memset(safety_of, 0, sizeof safety_of);
    for (uint32_t k = 0; k < SKU_COUNT; k++) {
        if (k == SKU_HOT) snprintf(sku_names[k], sizeof sku_names[k], "hot");
        else if (k == SKU_LIM) snprintf(sku_names[k], sizeof sku_names[k], "lim");
        else snprintf(sku_names[k], sizeof sku_names[k], "s%02u", k);
        uint32_t first = (k * 7u) % NODE_COUNT, count = 3 + k % 4;
        int64_t units = 3000;
        if (k == SKU_HOT) { first = 0; count = 3; units = 300; }
        if (k == SKU_LIM) { first = 0; count = 5; units = 2000; }
        for (uint32_t i = 0; i < count; i++) {
            uint32_t n = (first + i) % NODE_COUNT;
            T_STATUS(t_adjust(e, nodes_def[n].id, sku_names[k], units), INV_OK);
            stocked[k][n] = true;
            loaded[k][n] = units;
        }
        sku_ids[k] = t_sku(e, sku_names[k]);
    }
    T_STATUS(t_set_safety(e, "bj", "hot", 20), INV_OK);
    safety_of[SKU_HOT][N_BJ] = 20;
    for (uint32_t k = 2; k < SKU_COUNT; k += 5) {
        uint32_t n = (k * 7u) % NODE_COUNT;
        T_STATUS(t_set_safety(e, nodes_def[n].id, sku_names[k], 10), INV_OK);
        safety_of[k][n] = 10;
    }
    T_STATUS(t_set_limit(e, "lim", LIMIT_PER_CUSTOMER), INV_OK);
}

typedef struct totals {
    int64_t held[SKU_COUNT][NODE_COUNT];
    int64_t committed[SKU_COUNT][NODE_COUNT];
    int64_t applied[SKU_COUNT][NODE_COUNT];
    int64_t lim_held[CUSTOMERS_TOTAL];
    uint64_t created, held_orders, committed_orders, released_orders, expired_orders;
    uint64_t store_parcels; /* HELD / COMMITTED orders with a parcel at the store */
} totals;

static void check_orders(totals *t) {
    for (uint32_t ci = 0; ci < THREADS; ci++) {
        client *c = &clients[ci];
        for (uint32_t n = 0; n < c->order_count; n++) {
            order_rec *o = &c->orders[n];
            char id[24];
            order_id_of(ci, n, id, sizeof id);
            inv_status st = t_get(e, id);
            if (o->status != ORDER_CREATED) {
                cr_assert_eq(st, INV_NOT_FOUND, "%s was never created but GET says %s", id,
                             inv_status_name(st));
                continue;
            }
            cr_assert_eq(st, INV_OK, "%s: GET -> %s \"%s\"", id, inv_status_name(st),
                         last_op.message);
            const inv_reservation_view *v = &last_op.out.reservation;
            t->created++;
            if (o->client_final != FINAL_NONE)
                cr_assert_eq(v->state, o->client_final, "%s is %s, the client was told %s", id,
                             inv_resv_state_name(v->state),
                             inv_resv_state_name((inv_resv_state)o->client_final));
            if (v->state == INV_RESV_HELD) {
                cr_assert(!v->is_tombstone);
                cr_assert(same_alloc(o, v), "%s: HELD allocation differs from the ack", id);
            }
            bool counts = v->state == INV_RESV_HELD || v->state == INV_RESV_COMMITTED;
            bool at_store = false;
            for (uint32_t i = 0; i < o->alloc_count; i++) {
                const alloc_rec *a = &o->alloc[i];
                if (v->state == INV_RESV_HELD) t->held[a->sku][a->node] += a->qty;
                if (v->state == INV_RESV_COMMITTED) t->committed[a->sku][a->node] += a->qty;
                if (counts && a->sku == SKU_LIM) t->lim_held[o->customer] += a->qty;
                at_store |= a->node == N_HZ;
            }
            if (counts && at_store) t->store_parcels++;
            switch (v->state) {
            case INV_RESV_HELD: t->held_orders++; break;
            case INV_RESV_COMMITTED: t->committed_orders++; break;
            case INV_RESV_RELEASED: t->released_orders++; break;
            default: t->expired_orders++; break;
            }
        }
        for (uint32_t k = 0; k < SKU_COUNT; k++)
            for (uint32_t n = 0; n < NODE_COUNT; n++) t->applied[k][n] += c->applied[k][n];
    }
}

static void check_cells(const totals *t) {
    for (uint32_t k = 0; k < SKU_COUNT; k++) {
        inv_node_avail per_node[NODE_COUNT];
        T_STATUS(t_availability(e, sku_names[k], false, 0, 0, 0, per_node, NODE_COUNT), INV_OK);
        for (uint32_t n = 0; n < NODE_COUNT; n++) {
            if (!stocked[k][n]) {
                cr_assert(!t_cell_exists(e, nodes_def[n].id, sku_names[k]),
                          "%s/%s appeared", nodes_def[n].id, sku_names[k]);
                continue;
            }
            inv_cell_view v = t_cell(e, nodes_def[n].id, sku_names[k]);
            const char *cell = sku_names[k];
            /* §10.1 */
            cr_assert_eq(v.available, v.on_hand - v.reserved - v.safety, "%s@%s available",
                         cell, nodes_def[n].id);
            cr_assert_eq(v.safety, safety_of[k][n], "%s@%s safety", cell, nodes_def[n].id);
            cr_assert_eq(v.reserved, t->held[k][n],
                         "%s@%s: reserved %lld, HELD reservations hold %lld", cell,
                         nodes_def[n].id, (long long)v.reserved, (long long)t->held[k][n]);
            bool listed = false;
            for (uint32_t i = 0; i < last_op.out.availability.nodes_written; i++) {
                if (per_node[i].node != node_ids[n]) continue;
                listed = true;
                cr_assert_eq(per_node[i].available, v.available, "%s@%s availability", cell,
                             nodes_def[n].id);
            }
            cr_assert(listed, "%s@%s missing from GetAvailability", cell, nodes_def[n].id);
            /* each commit and adjust applied exactly once */
            int64_t expect = loaded[k][n] + t->applied[k][n] - t->committed[k][n];
            cr_assert_eq(v.on_hand, expect,
                         "%s@%s: on_hand %lld, loaded %lld + applied %lld - committed %lld",
                         cell, nodes_def[n].id, (long long)v.on_hand, (long long)loaded[k][n],
                         (long long)t->applied[k][n], (long long)t->committed[k][n]);
            /* §10.2 never oversold (cells without shrinkage) */
            if (k < SKU_SHRINK_FIRST)
                cr_assert_leq(t->committed[k][n] + t->held[k][n],
                              loaded[k][n] + t->applied[k][n] - safety_of[k][n],
                              "%s@%s oversold: committed %lld + held %lld > %lld + %lld - %lld",
                              cell, nodes_def[n].id, (long long)t->committed[k][n],
                              (long long)t->held[k][n], (long long)loaded[k][n],
                              (long long)t->applied[k][n], (long long)safety_of[k][n]);
        }
    }
}

Test(stress, mixed_load_then_invariants, .timeout = 590) {
    uint64_t ops = stress_ops();
    load_world(ops);
    clients = calloc(THREADS, sizeof *clients);
    cr_assert_not_null(clients);
    atomic_store(&finished_clients, 0);
    atomic_store(&abort_all, false);
    uint64_t started = test_mono_ms();
    deadline_ms = started + DEADLINE_S * 1000u;
    for (uint32_t i = 0; i < THREADS; i++) {
        client *c = &clients[i];
        c->index = i;
        c->shard = inv_engine_shard(e, i);
        c->rng = 0x9e3779b97f4a7c15ull * (i + 1);
        c->quota = ops / THREADS;
        c->order_cap = (uint32_t)(c->quota / 2 + 64);
        c->orders = calloc(c->order_cap, sizeof *c->orders);
        cr_assert_not_null(c->orders);
        for (uint32_t k = 0; k < SLOTS; k++) c->free_slots[k] = SLOTS - 1 - k;
        c->free_count = SLOTS;
    }
    for (uint32_t i = 0; i < THREADS; i++)
        cr_assert_eq(pthread_create(&clients[i].thread, NULL, client_main, &clients[i]), 0);
    for (uint32_t i = 0; i < THREADS; i++) pthread_join(clients[i].thread, NULL);
    uint64_t elapsed = test_mono_ms() - started;
    for (uint32_t i = 0; i < THREADS; i++)
        cr_assert(!clients[i].failed, "client %u: %s", i, clients[i].failure);

    uint64_t issued = 0, by_kind[K_KIND_COUNT] = {0}, by_status[INV_STATUS_COUNT] = {0};
    uint64_t hot_short = 0;
    for (uint32_t i = 0; i < THREADS; i++) {
        cr_assert_eq(clients[i].completed, clients[i].issued, "client %u: %llu of %llu done", i,
                     (unsigned long long)clients[i].completed,
                     (unsigned long long)clients[i].issued);
        issued += clients[i].issued;
        hot_short += clients[i].hot_short;
        for (uint32_t k = 0; k < K_KIND_COUNT; k++) by_kind[k] += clients[i].by_kind[k];
        for (uint32_t s = 0; s < INV_STATUS_COUNT; s++) by_status[s] += clients[i].by_status[s];
    }
    cr_assert_geq(issued, ops - THREADS, "ran %llu of %llu ops", (unsigned long long)issued,
                  (unsigned long long)ops);

    /* quiescent: expire what is due at the final clock, then check everything */
    inv_engine_expire(e);
    static totals t;
    memset(&t, 0, sizeof t);
    check_orders(&t);
    check_cells(&t);
    for (uint32_t cu = 0; cu < CUSTOMERS_TOTAL; cu++)
        cr_assert_leq(t.lim_held[cu], LIMIT_PER_CUSTOMER, "customer %u holds %lld of lim", cu,
                      (long long)t.lim_held[cu]);
    inv_engine_stats st = t_stats(e);
    T_EQU(st.reserves_ok, t.created);
    T_EQU(st.reservations_live, t.held_orders);
    T_EQU(st.commits, t.committed_orders);
    T_EQU(st.tombstones_dropped_early, 0);
    T_EQU(st.tombstones, t.committed_orders + t.released_orders + t.expired_orders);
    inv_node_info store;
    T_EQ(inv_engine_node_info(e, node_ids[N_HZ], &store), 0);
    T_EQU(store.allocated_today, t.store_parcels);

    /* the mix really ran: storms, limits, expiries, duplicates, conflicts (a tiny
     * INV_STRESS_OPS may not get that far) */
    if (ops < 100000) goto end;
    cr_assert_gt(hot_short, 0, "the hot SKU never sold out");
    cr_assert_gt(st.sold_out_fast_path, 0, "the sold-out fast path never answered");
    cr_assert_gt(by_status[INV_LIMIT_EXCEEDED], 0);
    cr_assert_gt(by_status[INV_DUPLICATE_REF], 0);
    cr_assert_gt(by_status[INV_CONFLICT], 0);
    cr_assert_gt(t.expired_orders, 0);
    cr_assert_gt(t.committed_orders, 0);
    cr_assert_gt(t.released_orders, 0);
    cr_assert_gt(by_kind[K_RESERVE_DUP], 0);

end:;
    /* a SKU with stock left is not stuck "sold out": one more hot unit can be had */
    int64_t hot_free = 0;
    for (uint32_t n = 0; n < NODE_COUNT; n++)
        if (stocked[SKU_HOT][n]) {
            int64_t a = t_cell(e, nodes_def[n].id, "hot").available;
            hot_free += a > 0 ? a : 0;
        }
    if (hot_free == 0) T_STATUS(t_adjust(e, "sh", "hot", 1), INV_OK);
    T_STATUS(t_reserve1(e, "after-the-storm", "final", "hot", 1, 60000), INV_OK);

    cr_log_info("stress: %llu ops in %llu ms (%.0f ops/s); orders %llu created: %llu held, "
                "%llu committed, %llu released, %llu expired; hot short %llu, sold-out fast "
                "path %llu, limit exceeded %llu, duplicate refs %llu, conflicts %llu",
                (unsigned long long)issued, (unsigned long long)elapsed,
                elapsed ? (double)issued * 1000.0 / (double)elapsed : 0.0,
                (unsigned long long)t.created, (unsigned long long)t.held_orders,
                (unsigned long long)t.committed_orders, (unsigned long long)t.released_orders,
                (unsigned long long)t.expired_orders, (unsigned long long)hot_short,
                (unsigned long long)st.sold_out_fast_path,
                (unsigned long long)by_status[INV_LIMIT_EXCEEDED],
                (unsigned long long)by_status[INV_DUPLICATE_REF],
                (unsigned long long)by_status[INV_CONFLICT]);
    for (uint32_t i = 0; i < THREADS; i++) free(clients[i].orders);
    free(clients);
    inv_engine_close(e);
}
