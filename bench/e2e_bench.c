/*
 * e2e_bench.c — end-to-end reserve throughput and latency over loopback through
 * libinvclient, from a separate process; also writes the demo data set and drives the
 * demo flash sale of scripts/demo.sh.
 *
 *   e2e_bench --write-scenario DIR            nodes.csv + stock.csv (load with invctl)
 *   e2e_bench --port P [--connections 2] [--depth 128] [--seconds 5] [--json]
 *   e2e_bench --port P --demo                 a short flash sale, told in plain words
 *
 * Scenario: bench/scenario.h with a seed (default 42), optionally --hot-units for the
 * first flash SKU (the --hot workload: one-line orders all on that SKU), and the demo sizes (2,000 nodes,
 * 5,000 Zipf SKUs, 4 flash SKUs with a purchase limit of 2, 50,000 customers); the
 * server must hold the same data set (write it, then `invctl load-nodes/load-stock`).
 * Orders come from a pre-generated pool; every request gets a fresh order id
 * (run nonce + connection + counter), so reruns against the same server never collide.
 *
 * Measurement: one thread and one connection per --connections; each keeps --depth
 * reserves in flight (closed loop). Latency is submit → reply on the client (it includes
 * the client's own queueing at that depth); percentiles come from invbench's HDR
 * histogram (ib_hist.h, 3 significant digits). Reserves are built from the scenario
 * orders by invbench's invd backend (ib_invd_reserve_fill), so both benchmarks send
 * the same requests. Throughput counts replies of any status after the warm-up second;
 * the status mix is printed (INSUFFICIENT_STOCK grows as the data set sells out). Every
 * loop is bounded by the run time.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ib_hist.h"
#include "ib_invd.h"
#include "inv_client.h"
#include "scenario.h"

#define CONNS_MAX 64u
#define DEPTH_MAX 4096u
/* Slots of the demo's per-node flash-parcel count (the demo data set has ~740 such nodes). */
#define DEMO_NODE_SLOTS 4096u
#define POOL_ORDERS 200000u
#define POLL_BATCH 256
/* Latency histograms: nanoseconds up to a minute, 3 significant digits (invbench's). */
#define HIST_HIGHEST_NS 60000000000ull
#define HIST_DIGITS 3u
#define STATUS_MAX 15
#define DEMO_TTL_UNPAID_MS 2000u
#define DEMO_HERD_ORDERS 20000u
#define DEMO_MIXED_ORDERS 60000u

typedef struct opts {
    const char *host;
    uint16_t port;
    uint32_t connections, depth, seconds, warmup_s;
    uint64_t seed;
    uint64_t hot_units; /* > 0: the first flash SKU holds this many units (scenario) */
    bool json, demo, hot;
    const char *write_dir;
    const char *one_sku; /* every order: 1 unit of this SKU to Beijing (no scenario orders) */
} opts;

typedef struct worker {
    pthread_t th;
    const opts *o;
    const inv_scenario *s;
    const inv_scn_order *pool;
    uint32_t pool_n;
    uint32_t index;
    uint64_t nonce;
    uint64_t replies, measured;
    uint64_t status[STATUS_MAX + 1];
    ib_hist h;
    int error;
    char errmsg[160];
} worker;

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ====================================================================================
 * Requests
 * ==================================================================================== */

typedef struct inflight {
    uint64_t t0;
    char order_id[48];
    inv_client_line lines[INV_SCN_LINES_MAX];
    uint32_t order;
} inflight;

/* --one-sku: the simplest reserve there is (one line, one unit, one warehouse near the
 * customer): what the network front and the engine's fast path cost, routing aside. */
static void one_sku_fill(const opts *o, inflight *f, inv_client_request *rq) {
    inv_client_reserve_args *a = &rq->in.reserve;
    f->lines[0] = (inv_client_line){o->one_sku, 1};
    a->lines = f->lines;
    a->line_count = 1;
    a->has_point = true;
    a->lat = 39.9;
    a->lon = 116.4;
    a->pickup_node_id = NULL;
    a->policy = INVC_ROUTE_NEAREST;
}

static int worker_connect(worker *w, inv_client **c) {
    inv_client_options opt = {.timeout_ms = 10000};
    int rc = inv_client_connect(c, w->o->host, w->o->port, &opt);
    if (rc != 0) snprintf(w->errmsg, sizeof w->errmsg, "connect: %s", strerror(-rc));
    return rc;
}

/* Closed loop: keep `depth` reserves in flight until the end time. */
static void *worker_run(void *arg) {
    worker *w = arg;
    inv_client *c = NULL;
    if ((w->error = worker_connect(w, &c)) != 0) return NULL;
    uint32_t depth = w->o->depth;
    inflight *slots = calloc(depth, sizeof *slots);
    uint32_t *free_slots = calloc(depth, sizeof *free_slots);
    inv_client_reply *r = calloc(POLL_BATCH, sizeof *r);
    uint32_t nfree = depth;
    for (uint32_t i = 0; i < depth; i++) free_slots[i] = depth - 1 - i;
    uint64_t start = now_ns(), warm = start + (uint64_t)w->o->warmup_s * 1000000000u;
    uint64_t end = warm + (uint64_t)w->o->seconds * 1000000000u, seq = 0;
    while (w->error == 0) {
        uint64_t t = now_ns();
        for (; nfree > 0 && t < end; seq++) {
            uint32_t k = free_slots[--nfree];
            inv_client_request rq;
            snprintf(slots[k].order_id, sizeof slots[k].order_id, "b%" PRIx64 "-%u-%" PRIx64,
                     w->nonce, w->index, seq);
            ib_invd_reserve_fill(w->s, &w->pool[seq % w->pool_n], slots[k].order_id, 600000,
                                 slots[k].lines, &rq);
            if (w->o->one_sku != NULL) one_sku_fill(w->o, &slots[k], &rq);
            slots[k].t0 = t;
            if (inv_client_submit(c, &rq, (void *)(uintptr_t)k, NULL) != 0) w->error = -EIO;
        }
        if (nfree == depth && t >= end) break;
        int n = inv_client_poll(c, r, POLL_BATCH, 5000);
        if (n <= 0) {
            w->error = n < 0 ? n : -ETIMEDOUT;
            snprintf(w->errmsg, sizeof w->errmsg, "%s", inv_client_error(c));
            break;
        }
        uint64_t t1 = now_ns();
        for (int i = 0; i < n; i++) {
            uint32_t k = (uint32_t)(uintptr_t)r[i].user;
            w->replies++;
            if (slots[k].t0 >= warm) {
                w->measured++;
                ib_hist_record(&w->h, t1 - slots[k].t0);
                w->status[r[i].status >= 0 && r[i].status <= STATUS_MAX ? r[i].status
                                                                        : STATUS_MAX]++;
            }
            free_slots[nfree++] = k;
            inv_client_reply_free(&r[i]);
        }
    }
    free(slots);
    free(free_slots);
    free(r);
    inv_client_close(c);
    return NULL;
}

/* ====================================================================================
 * Scenario
 * ==================================================================================== */

static int scenario_make(const opts *o, inv_scenario **s) {
    inv_scenario_config sc;
    inv_scenario_config_default(&sc);
    sc.seed = o->seed;
    sc.nodes = 2000;
    sc.skus = 5000;
    sc.flash_skus = 4;
    sc.flash_limit = 2;
    sc.customers = 50000;
    sc.demand_orders = 4000000;
    sc.stock_cover = 1.5;
    sc.hot_units = o->hot_units;
    char err[256] = "";
    int rc = inv_scenario_build(s, &sc, err, sizeof err);
    if (rc != 0) fprintf(stderr, "e2e_bench: scenario: %s\n", err);
    return rc;
}

static int orders_make(const inv_scenario *s, const opts *o, uint32_t n, double flash_share,
                       bool herd, inv_scn_order **out) {
    inv_scn_order_config oc;
    inv_scn_order_config_default(&oc);
    oc.seed = o->seed + (herd ? 7 : 3);
    oc.count = n;
    oc.flash_share = flash_share;
    oc.commit_share = 0.7;
    oc.release_share = 0.1;
    if (herd || o->hot) {
        oc.hot = true;
        oc.hot_sku = s->flash_first;
    }
    int rc = inv_scn_orders_make(s, &oc, out);
    if (rc != 0) fprintf(stderr, "e2e_bench: orders: %s\n", strerror(-rc));
    return rc;
}

static int write_scenario(const opts *o, const inv_scenario *s) {
    char nodes[512], stock[512], err[256] = "";
    mkdir(o->write_dir, 0755);
    snprintf(nodes, sizeof nodes, "%s/nodes.csv", o->write_dir);
    snprintf(stock, sizeof stock, "%s/stock.csv", o->write_dir);
    if (inv_scenario_write_nodes_csv(s, nodes, err, sizeof err) != 0 ||
        inv_scenario_write_stock_csv(s, stock, err, sizeof err) != 0) {
        fprintf(stderr, "e2e_bench: %s\n", err);
        return 1;
    }
    printf("wrote %s (%u nodes) and %s (%u cells, %" PRIu64 " units; flash SKUs:", nodes,
           s->node_count, stock, s->cell_count, s->units_total);
    for (uint32_t k = 0; k < s->flash_count; k++)
        printf(" %s=%" PRIu64, inv_scn_sku_name(s, s->flash_first + k), s->flash_units[k]);
    printf(")\n");
    return 0;
}

/* ====================================================================================
 * Throughput run
 * ==================================================================================== */

/* The p-th percentile (0..100) in µs. */
static double pct_us(const ib_hist *h, double p) {
    return (double)ib_hist_percentile(h, p) / 1e3;
}

/* Sums every connection's figures (their latencies merged into the first's histogram). */
static void report(const opts *o, worker *w, uint32_t n) {
    ib_hist *h = &w[0].h;
    uint64_t measured = 0, status[STATUS_MAX + 1] = {0};
    for (uint32_t i = 0; i < n; i++) {
        if (i > 0) ib_hist_merge(h, &w[i].h);
        measured += w[i].measured;
        for (int s = 0; s <= STATUS_MAX; s++) status[s] += w[i].status[s];
    }
    double rate = (double)measured / (double)o->seconds;
    double us[5] = {pct_us(h, 50.0), pct_us(h, 90.0), pct_us(h, 99.0), pct_us(h, 99.9),
                    (double)h->max / 1e3};
    if (o->json) {
        printf("{\"connections\":%u,\"depth\":%u,\"seconds\":%u,\"replies\":%" PRIu64
               ",\"reserves_per_s\":%.0f,\"latency_us\":{\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,"
               "\"p999\":%.1f,\"max\":%.1f},\"status\":{",
               o->connections, o->depth, o->seconds, measured, rate, us[0], us[1], us[2], us[3],
               us[4]);
        bool first = true;
        for (int s = 0; s <= STATUS_MAX; s++)
            if (status[s]) {
                printf("%s\"%s\":%" PRIu64, first ? "" : ",", inv_client_status_name(s), status[s]);
                first = false;
            }
        printf("}}\n");
        return;
    }
    printf("%u connections × %u in flight, %u s: %" PRIu64 " reserves, %.0f/s\n", o->connections,
           o->depth, o->seconds, measured, rate);
    printf("latency (µs): p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f\n", us[0], us[1],
           us[2], us[3], us[4]);
    for (int s = 0; s <= STATUS_MAX; s++)
        if (status[s]) printf("  %-20s %" PRIu64 "\n", inv_client_status_name(s), status[s]);
}

static int run_bench(const opts *o, const inv_scenario *s) {
    inv_scn_order *pool = NULL;
    if (orders_make(s, o, POOL_ORDERS, 0.01, false, &pool) != 0) return 1;
    worker *w = calloc(o->connections, sizeof *w);
    uint64_t nonce = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    int rc = 0;
    for (uint32_t i = 0; i < o->connections && rc == 0; i++) {
        w[i] = (worker){
            .o = o, .s = s, .pool = pool, .pool_n = POOL_ORDERS, .index = i, .nonce = nonce};
        rc = ib_hist_init(&w[i].h, HIST_HIGHEST_NS, HIST_DIGITS);
    }
    if (rc != 0) {
        fprintf(stderr, "e2e_bench: latency histograms: %s\n", strerror(-rc));
    } else {
        for (uint32_t i = 0; i < o->connections; i++)
            pthread_create(&w[i].th, NULL, worker_run, &w[i]);
        for (uint32_t i = 0; i < o->connections; i++) {
            pthread_join(w[i].th, NULL);
            if (w[i].error != 0) {
                fprintf(stderr, "e2e_bench: connection %u: %s\n", i, w[i].errmsg);
                rc = 1;
            }
        }
        if (rc == 0) report(o, w, o->connections);
    }
    for (uint32_t i = 0; i < o->connections; i++) ib_hist_free(&w[i].h);
    free(w);
    free(pool);
    return rc != 0;
}

/* ====================================================================================
 * Demo flash sale
 * ==================================================================================== */

enum { REQ_RESERVE = 0, REQ_COMMIT = 1, REQ_RELEASE = 2 };

typedef struct demo_req {
    uint32_t order;
    uint8_t kind;
    uint64_t t0;
    char id[48];
    inv_client_line lines[INV_SCN_LINES_MAX];
} demo_req;

typedef struct demo_phase {
    const char *name;
    uint64_t orders, ok, short_stock, limited, no_route, other, commits, releases, unpaid;
    uint64_t flash_units[INV_SCN_FLASH_MAX]; /* units of each flash SKU reserved OK */
    uint64_t committed_flash[INV_SCN_FLASH_MAX];
    double seconds;
    ib_hist h; /* reserve latency, ns */
} demo_phase;

typedef struct demo {
    const opts *o;
    const inv_scenario *s;
    inv_client *c;
    demo_req *req; /* one per request in flight, by slot */
    uint32_t *free_slots;
    uint32_t nfree, depth;
    uint64_t nonce;
    uint32_t node_hits[DEMO_NODE_SLOTS]; /* flash parcels per node (hashed id, probed) */
    char node_names[DEMO_NODE_SLOTS][INV_SCN_NODE_ID_LEN];
} demo;

static uint32_t demo_slot(demo *d) { return d->free_slots[--d->nfree]; }

static int demo_submit(demo *d, uint32_t k, const inv_client_request *rq) {
    d->req[k].t0 = now_ns();
    return inv_client_submit(d->c, rq, (void *)(uintptr_t)k, NULL);
}

static int demo_followup(demo *d, const demo_req *done, uint8_t kind) {
    uint32_t k = demo_slot(d);
    d->req[k] = *done;
    d->req[k].kind = kind;
    inv_client_request rq;
    memset(&rq, 0, sizeof rq);
    rq.op = kind == REQ_COMMIT ? INVC_OP_COMMIT : INVC_OP_RELEASE;
    rq.in.order.order_id = d->req[k].id;
    return demo_submit(d, k, &rq);
}

static void demo_count_nodes(demo *d, const inv_client_reservation *v, const inv_scn_order *o) {
    if (o->flash == 0) return;
    for (uint32_t i = 0; i < v->alloc_count; i++) {
        const char *id = v->alloc[i].node_id;
        uint32_t h = 2166136261u;
        for (const char *p = id; *p; p++) h = (h ^ (uint8_t)*p) * 16777619u;
        /* Linear probing: a slot holds one node (the table is far from full). */
        for (uint32_t probes = 0; probes < DEMO_NODE_SLOTS; probes++, h++) {
            uint32_t slot = h % DEMO_NODE_SLOTS;
            if (d->node_hits[slot] == 0)
                snprintf(d->node_names[slot], sizeof d->node_names[slot], "%s", id);
            else if (strcmp(d->node_names[slot], id) != 0)
                continue;
            d->node_hits[slot]++;
            break;
        }
    }
}

static int demo_on_reply(demo *d, demo_phase *ph, const inv_scn_order *orders,
                         const inv_client_reply *r) {
    uint32_t k = (uint32_t)(uintptr_t)r->user;
    demo_req *q = &d->req[k];
    const inv_scn_order *o = &orders[q->order];
    int rc = 0;
    if (q->kind == REQ_RESERVE) {
        ib_hist_record(&ph->h, now_ns() - q->t0);
        if (r->status == INVC_OK) {
            ph->ok++;
            for (uint32_t l = 0; l < o->line_count; l++)
                if (o->flash && o->sku[l] == d->s->flash_first + o->flash - 1u)
                    ph->flash_units[o->flash - 1] += o->qty[l];
            demo_count_nodes(d, &r->r.reservation, o);
            if (o->after == INV_SCN_AFTER_COMMIT) rc = demo_followup(d, q, REQ_COMMIT);
            else if (o->after == INV_SCN_AFTER_RELEASE) rc = demo_followup(d, q, REQ_RELEASE);
            else ph->unpaid++;
        } else if (r->status == INVC_INSUFFICIENT_STOCK) ph->short_stock++;
        else if (r->status == INVC_LIMIT_EXCEEDED) ph->limited++;
        else if (r->status == INVC_NO_ROUTE) ph->no_route++;
        else ph->other++;
    } else if (r->status == INVC_OK) {
        if (q->kind == REQ_COMMIT) {
            ph->commits++;
            for (uint32_t l = 0; l < o->line_count; l++)
                if (o->flash && o->sku[l] == d->s->flash_first + o->flash - 1u)
                    ph->committed_flash[o->flash - 1] += o->qty[l];
        } else {
            ph->releases++;
        }
    } else {
        ph->other++;
    }
    d->free_slots[d->nfree++] = k;
    return rc;
}

static int demo_run_phase(demo *d, demo_phase *ph, const inv_scn_order *orders, uint32_t n) {
    inv_client_reply *r = calloc(POLL_BATCH, sizeof *r);
    uint64_t t0 = now_ns();
    uint32_t next = 0;
    int rc = 0;
    for (int round = 0; rc == 0 && round < 10000000; round++) {
        while (next < n && d->nfree > d->depth / 2) { /* keep room for follow-ups */
            uint32_t k = demo_slot(d);
            demo_req *q = &d->req[k];
            inv_client_request rq;
            q->order = next;
            q->kind = REQ_RESERVE;
            snprintf(q->id, sizeof q->id, "d%" PRIx64 "-%c-%u", d->nonce, ph->name[0], next);
            ib_invd_reserve_fill(
                d->s, &orders[next], q->id,
                orders[next].after == INV_SCN_AFTER_NONE ? DEMO_TTL_UNPAID_MS : 600000, q->lines,
                &rq);
            if ((rc = demo_submit(d, k, &rq)) != 0) break;
            next++;
            ph->orders++;
        }
        if (next == n && d->nfree == d->depth) break;
        int got = inv_client_poll(d->c, r, POLL_BATCH, 10000);
        if (got <= 0) {
            fprintf(stderr, "e2e_bench: %s\n", inv_client_error(d->c));
            rc = 1;
            break;
        }
        for (int i = 0; i < got; i++) {
            if (rc == 0) rc = demo_on_reply(d, ph, orders, &r[i]);
            inv_client_reply_free(&r[i]);
        }
    }
    ph->seconds = (double)(now_ns() - t0) / 1e9;
    free(r);
    return rc;
}

static void demo_print_phase(const demo_phase *ph) {
    printf("%-8s %7" PRIu64 " orders in %.2f s (%.0f/s): %" PRIu64 " reserved, %" PRIu64
           " sold out, %" PRIu64 " over the purchase limit, %" PRIu64 " no route; latency p50 "
           "%.0f µs, p99 %.0f µs\n",
           ph->name, ph->orders, ph->seconds, (double)ph->orders / ph->seconds, ph->ok,
           ph->short_stock, ph->limited, ph->no_route, pct_us(&ph->h, 50.0),
           pct_us(&ph->h, 99.0));
    printf("         then %" PRIu64 " paid (commit), %" PRIu64 " cancelled (release), %" PRIu64
           " left unpaid (expire after %u ms)\n",
           ph->commits, ph->releases, ph->unpaid, DEMO_TTL_UNPAID_MS);
}

/* On-hand and reserved units of a SKU over all nodes. */
static int demo_totals(demo *d, const char *sku, int64_t *on_hand, int64_t *reserved) {
    inv_client_reply r;
    inv_client_availability_args a = {.sku = sku};
    if (inv_client_get_availability(d->c, &a, &r) != 0 || r.status != INVC_OK) {
        fprintf(stderr, "e2e_bench: availability of %s: %s\n", sku,
                r.status != INVC_OK ? r.message : inv_client_error(d->c));
        return 1;
    }
    *on_hand = r.r.availability.total_on_hand;
    *reserved = r.r.availability.total_reserved;
    inv_client_reply_free(&r);
    return 0;
}

/* The five nodes that shipped most flash-sale parcels (consumes the counts). */
static void demo_top_nodes(demo *d) {
    printf("nodes that shipped the most flash-sale parcels:");
    for (int rank = 0; rank < 5; rank++) {
        uint32_t best = 0, at = 0;
        for (uint32_t h = 0; h < DEMO_NODE_SLOTS; h++) {
            if (d->node_hits[h] <= best) continue;
            best = d->node_hits[h];
            at = h;
        }
        if (best == 0) break;
        printf(" %s (%u)", d->node_names[at], best);
        d->node_hits[at] = 0;
    }
    printf("\n");
}

/* Flash SKUs: sold ≤ stock, on_hand fell by exactly the committed units, nothing is
 * left reserved once the unpaid holds expired. @return failed checks. */
static int demo_check_flash(demo *d, const int64_t *before, const demo_phase *ph, uint32_t nph) {
    int failed = 0;
    printf("\n%-12s %8s %9s %8s %8s %8s  %s\n", "flash SKU", "stock", "reserved*", "paid",
           "on hand", "held", "check");
    for (uint32_t k = 0; k < d->s->flash_count; k++) {
        const char *sku = inv_scn_sku_name(d->s, d->s->flash_first + k);
        int64_t on_hand = 0, reserved = 0;
        uint64_t got = 0, paid = 0;
        for (uint32_t p = 0; p < nph; p++) {
            got += ph[p].flash_units[k];
            paid += ph[p].committed_flash[k];
        }
        if (demo_totals(d, sku, &on_hand, &reserved) != 0) return 1;
        bool ok =
            paid <= (uint64_t)before[k] && on_hand == before[k] - (int64_t)paid && reserved == 0;
        printf("%-12s %8" PRId64 " %9" PRIu64 " %8" PRIu64 " %8" PRId64 " %8" PRId64 "  %s\n", sku,
               before[k], got, paid, on_hand, reserved, ok ? "never oversold" : "MISMATCH");
        failed += !ok;
    }
    printf("* units reserved over the sale: cancelled and expired units went back on sale and "
           "were reserved again.\n  paid ≤ stock, on hand = stock − paid, nothing held after "
           "expiry.\n");
    return failed;
}

static int run_demo(const opts *o, const inv_scenario *s) {
    demo *d = calloc(1, sizeof *d);
    d->o = o;
    d->s = s;
    d->depth = 256;
    d->nonce = (uint64_t)time(NULL);
    d->req = calloc(d->depth, sizeof *d->req);
    d->free_slots = calloc(d->depth, sizeof *d->free_slots);
    for (uint32_t i = 0; i < d->depth; i++) d->free_slots[d->nfree++] = i;
    inv_client_options copt = {.timeout_ms = 10000};
    inv_scn_order *herd = NULL, *mixed = NULL;
    int rc = inv_client_connect(&d->c, o->host, o->port, &copt);
    if (rc != 0) {
        fprintf(stderr, "e2e_bench: connect %s:%u: %s\n", o->host, o->port, strerror(-rc));
        return 1;
    }
    int64_t before[INV_SCN_FLASH_MAX] = {0}, reserved = 0;
    for (uint32_t k = 0; k < s->flash_count && rc == 0; k++) {
        inv_client_reply r;
        const char *sku = inv_scn_sku_name(s, s->flash_first + k);
        rc = inv_client_set_limit(d->c, sku, 2, &r);
        if (rc == 0) inv_client_reply_free(&r);
        if (rc == 0) rc = demo_totals(d, sku, &before[k], &reserved);
    }
    if (rc == 0) rc = orders_make(s, o, DEMO_HERD_ORDERS, 1.0, false, &herd);
    if (rc == 0) rc = orders_make(s, o, DEMO_MIXED_ORDERS, 0.02, false, &mixed);
    demo_phase ph[2] = {{.name = "opening"}, {.name = "mixed"}};
    for (int p = 0; p < 2 && rc == 0; p++)
        rc = ib_hist_init(&ph[p].h, HIST_HIGHEST_NS, HIST_DIGITS);
    printf("flash sale on %s:%u — %u flash SKUs, purchase limit 2 per customer\n", o->host, o->port,
           s->flash_count);
    if (rc == 0) rc = demo_run_phase(d, &ph[0], herd, DEMO_HERD_ORDERS);
    if (rc == 0) demo_print_phase(&ph[0]);
    if (rc == 0) rc = demo_run_phase(d, &ph[1], mixed, DEMO_MIXED_ORDERS);
    if (rc == 0) demo_print_phase(&ph[1]);
    if (rc == 0) {
        printf("waiting %u ms for unpaid reservations to expire…\n", DEMO_TTL_UNPAID_MS + 500);
        usleep((DEMO_TTL_UNPAID_MS + 500) * 1000u);
        demo_top_nodes(d);
        rc = demo_check_flash(d, before, ph, 2) != 0;
    }
    printf("%s\n", rc == 0 ? "all checks passed" : "CHECKS FAILED");
    inv_client_close(d->c);
    for (int p = 0; p < 2; p++) ib_hist_free(&ph[p].h);
    free(herd);
    free(mixed);
    free(d->req);
    free(d->free_slots);
    free(d);
    return rc;
}

/* ====================================================================================
 * Main
 * ==================================================================================== */

static int usage(void) {
    fprintf(stderr,
            "usage: e2e_bench --write-scenario DIR [--seed N] [--hot-units N]\n"
            "       e2e_bench [--host H] [--port P] [--connections N] [--depth D] [--seconds S]\n"
            "                 [--warmup-s S] [--seed N] [--hot] [--hot-units N] [--json]\n"
            "  --one-sku SKU: every order is one unit of SKU shipped to Beijing\n"
            "  --hot: every order is one unit of the first flash SKU; write the data set with\n"
            "         --hot-units N (and pass the same N here) to give it N units in all\n"
            "       e2e_bench [--host H] [--port P] --demo\n");
    return 2;
}

static int parse_args(opts *o, int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--json") == 0) o->json = true;
        else if (strcmp(a, "--demo") == 0) o->demo = true;
        else if (strcmp(a, "--hot") == 0) o->hot = true;
        else if (v == NULL) return -1;
        else if (strcmp(a, "--host") == 0) o->host = argv[++i];
        else if (strcmp(a, "--port") == 0) o->port = (uint16_t)atoi(argv[++i]);
        else if (strcmp(a, "--connections") == 0) o->connections = (uint32_t)atoi(argv[++i]);
        else if (strcmp(a, "--depth") == 0) o->depth = (uint32_t)atoi(argv[++i]);
        else if (strcmp(a, "--seconds") == 0) o->seconds = (uint32_t)atoi(argv[++i]);
        else if (strcmp(a, "--warmup-s") == 0) o->warmup_s = (uint32_t)atoi(argv[++i]);
        else if (strcmp(a, "--seed") == 0) o->seed = strtoull(argv[++i], NULL, 10);
        else if (strcmp(a, "--hot-units") == 0) o->hot_units = strtoull(argv[++i], NULL, 10);
        else if (strcmp(a, "--write-scenario") == 0) o->write_dir = argv[++i];
        else if (strcmp(a, "--one-sku") == 0) o->one_sku = argv[++i];
        else return -1;
    }
    if (o->connections < 1 || o->connections > CONNS_MAX) return -1;
    if (o->depth < 1 || o->depth > DEPTH_MAX || o->seconds < 1) return -1;
    return 0;
}

int main(int argc, char **argv) {
    opts o = {.host = "127.0.0.1",
              .port = 7400,
              .connections = 2,
              .depth = 128,
              .seconds = 5,
              .warmup_s = 1,
              .seed = 42};
    if (parse_args(&o, argc, argv) != 0) return usage();
    inv_scenario *s = NULL;
    if (scenario_make(&o, &s) != 0) return 1;
    int rc = o.write_dir != NULL ? write_scenario(&o, s)
             : o.demo            ? run_demo(&o, s)
                                 : run_bench(&o, s);
    inv_scenario_free(s);
    return rc;
}
