/*
 * invdemo.c — a short flash sale, in process, on two shard threads: the README's main
 * job until the network server exists.
 *
 * It loads the demo scenario (2,000 nodes over China's cities, 5,000 Zipf SKUs, four
 * flash-sale SKUs with a few hundred units each and a purchase limit of 2), then:
 *   1. thundering herd — every order wants one flash SKU (1–2 units);
 *   2. mixed phase — Zipf baskets of 1–5 lines, 2 % with a flash SKU, 5 % pickup;
 *   3. drain — no new orders; payments still due are made, unpaid holds expire.
 * Each successful reserve is "paid" (commit, 70 %) or "cancelled" (release, 10 %)
 * 50 ms later, like a checkout; the other 20 % are never paid and carry a 300 ms TTL,
 * so the engine's timer (driven by inv_shard_poll) expires them and their units go
 * back on sale. Orders are pre-generated and paced over the phase so the sale lasts
 * the requested seconds; engine_bench, not this demo, measures peak throughput.
 *
 * At the end, in direct mode, it checks what must hold after such a day (DESIGN.md
 * §10): nothing is reserved any more, no cell is oversold, on-hand stock fell by exactly
 * the units the commits reported, the engine expired exactly the unpaid holds, and no
 * customer bought more than the limit of a flash SKU. Exit status 1 if any fails.
 */
#define _GNU_SOURCE
#include <assert.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "inv_engine.h"
#include "scenario.h"

#define SHARDS 2u
#define FLASH_SKUS 4u
#define FLASH_LIMIT 2u
#define WINDOW 256u                    /* ops in flight per thread */
#define PAY_DELAY_NS (50ull * 1000000ull)
#define TTL_UNPAID_MS 300ull
#define TTL_PAID_MS 30000ull           /* paid or cancelled long before this */
#define HERD_ORDERS_PER_SEC 300000.0
#define MIXED_ORDERS_PER_SEC 150000.0
#define DRAIN_MIN_NS (700ull * 1000000ull) /* > TTL + timer slot + pay delay */
#define DRAIN_MAX_NS (5000ull * 1000000ull)
#define BUSY_TRIES_MAX (1u << 22)
#define TOP_NODES 10u

_Static_assert(FLASH_SKUS <= INV_SCN_FLASH_MAX, "flash SKUs fit the scenario");
_Static_assert(DRAIN_MIN_NS > TTL_UNPAID_MS * 1000000ull + PAY_DELAY_NS, "drain long enough");

enum { PHASE_HERD = 0, PHASE_MIXED = 1, PHASES = 2 };

/* ====================================================================================
 * State
 * ==================================================================================== */
typedef struct demo_opts {
    double seconds;
    uint64_t seed;
    const char *cities, *write_csv;
} demo_opts;

typedef struct phase_counts {
    uint64_t placed, ok, sold_out, limit, no_route, other;
} phase_counts;

typedef struct demo_counts {
    phase_counts phase[PHASES];
    uint64_t commits, releases, follow_errors, busy, submit_failed;
    uint64_t units_reserved, units_committed, units_released;
    uint64_t flash_reserved[FLASH_SKUS], flash_committed[FLASH_SKUS];
    uint64_t parcels[INV_PARCELS_MAX + 1];
    uint64_t parcel_total;
    double km_total;
} demo_counts;

typedef struct dslot {
    inv_op op; /* first: the poll callback's inv_op * is the slot */
    inv_line lines[INV_SCN_LINES_MAX];
    uint32_t order;
    uint32_t units, flash_units;
    uint8_t phase;
} dslot;

/* A payment or cancellation due at `due_ns`. */
typedef struct due {
    uint64_t due_ns;
    uint32_t order, units, flash_units;
} due;

struct demo;

typedef struct dworker {
    struct demo *d;
    uint32_t index;
    inv_shard *shard;
    inv_scn_order *orders;
    uint32_t herd_n, total_n, next;
    dslot *slots;
    uint32_t free_stack[WINDOW], free_n, in_flight;
    due *dq;
    uint32_t dq_head, dq_tail, dq_cap;
    demo_counts c;
    uint32_t *flash_node_orders; /* per engine node: orders allocated a flash SKU there */
    uint8_t *bought;             /* customer × flash SKU: units committed */
    bool timed_out;
    pthread_t th;
} __attribute__((aligned(64))) dworker;

typedef struct demo {
    demo_opts o;
    inv_scenario *s;
    inv_scn_index idx;
    inv_engine *e;
    uint32_t flash_sku[FLASH_SKUS]; /* engine ids */
    dworker w[SHARDS];
    pthread_barrier_t start;
    uint64_t t0_ns, herd_ns, mixed_ns;
    _Atomic uint32_t finished;
} demo;

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ====================================================================================
 * Completions
 * ==================================================================================== */
static int flash_of(const demo *d, uint32_t sku) {
    for (uint32_t f = 0; f < FLASH_SKUS; f++)
        if (d->flash_sku[f] == sku) return (int)f;
    return -1;
}

static void count_status(phase_counts *p, inv_status st) {
    p->placed++;
    p->ok += st == INV_OK;
    p->sold_out += st == INV_INSUFFICIENT_STOCK;
    p->limit += st == INV_LIMIT_EXCEEDED;
    p->no_route += st == INV_NO_ROUTE;
    p->other += st != INV_OK && st != INV_INSUFFICIENT_STOCK && st != INV_LIMIT_EXCEEDED &&
                st != INV_NO_ROUTE;
}

/* Parcels and km of a successful reserve, and where its flash units came from. */
static void allocation_count(dworker *w, dslot *s) {
    const demo *d = w->d;
    const inv_reservation_view *v = &s->op.out.reservation;
    const inv_scn_order *o = &w->orders[s->order];
    uint32_t seen[INV_ALLOC_MAX], n_seen = 0;
    for (uint32_t k = 0; k < v->alloc_count && k < INV_ALLOC_MAX; k++) {
        const inv_alloc *a = &v->alloc[k];
        s->units += a->qty;
        int f = flash_of(d, a->sku);
        if (f >= 0) {
            s->flash_units += a->qty;
            w->c.flash_reserved[f] += a->qty;
            if (a->node < d->idx.node_scenario_len) w->flash_node_orders[a->node]++;
        }
        bool dup = false;
        for (uint32_t j = 0; j < n_seen; j++) dup |= seen[j] == a->node;
        if (dup || a->node >= d->idx.node_scenario_len) continue;
        seen[n_seen++] = a->node;
        uint32_t sn = d->idx.node_scenario[a->node];
        if (sn == INV_SCN_NONE) continue;
        w->c.km_total += inv_scn_distance_km(o->lat, o->lon, d->s->nodes[sn].lat,
                                             d->s->nodes[sn].lon);
        w->c.parcel_total++;
    }
    w->c.parcels[n_seen <= INV_PARCELS_MAX ? n_seen : INV_PARCELS_MAX]++;
    w->c.units_reserved += s->units;
}

static void reserve_done(dworker *w, dslot *s) {
    count_status(&w->c.phase[s->phase], s->op.status);
    if (s->op.status != INV_OK) return;
    s->units = s->flash_units = 0;
    allocation_count(w, s);
    const inv_scn_order *o = &w->orders[s->order];
    if (o->after == INV_SCN_AFTER_NONE || w->dq_tail - w->dq_head == w->dq_cap) return;
    w->dq[w->dq_tail++ % w->dq_cap] = (due){.due_ns = now_ns() + PAY_DELAY_NS,
        .order = s->order, .units = s->units, .flash_units = s->flash_units};
}

static void commit_done(dworker *w, dslot *s) {
    if (s->op.status != INV_OK) {
        w->c.follow_errors++;
        return;
    }
    const inv_scn_order *o = &w->orders[s->order];
    w->c.commits++;
    w->c.units_committed += s->units;
    if (o->flash == 0) return;
    uint32_t f = o->flash - 1u;
    w->c.flash_committed[f] += s->flash_units;
    uint8_t *b = &w->bought[(size_t)o->customer * FLASH_SKUS + f];
    *b = (uint8_t)(*b + (s->flash_units < 255u - *b ? s->flash_units : 255u - *b));
}

static void slot_complete(dworker *w, dslot *s) {
    if (s->op.type == INV_OP_RESERVE) {
        reserve_done(w, s);
    } else if (s->op.type == INV_OP_COMMIT) {
        commit_done(w, s);
    } else if (s->op.status == INV_OK) {
        w->c.releases++;
        w->c.units_released += s->units;
    } else {
        w->c.follow_errors++;
    }
    w->free_stack[w->free_n++] = (uint32_t)(s - w->slots);
}

static void on_done(void *ctx, inv_op *op) {
    dworker *w = ctx;
    assert(w->in_flight > 0);
    assert(op->origin_shard == w->index);
    w->in_flight--;
    slot_complete(w, (dslot *)op);
}

static void worker_poll(dworker *w) {
    inv_shard_poll(w->shard, on_done, w);
}

static void worker_poll_cb(void *ctx) { worker_poll(ctx); }

static void slot_submit(dworker *w, dslot *s) {
    uint32_t busy = 0;
    int rc = inv_shard_submit_retry(w->shard, &s->op, BUSY_TRIES_MAX, worker_poll_cb, w, &busy);
    w->c.busy += busy;
    if (rc == 1) {
        slot_complete(w, s);
    } else if (rc == 0) {
        w->in_flight++;
    } else {
        w->c.submit_failed++;
        w->free_stack[w->free_n++] = (uint32_t)(s - w->slots);
    }
}

/* ====================================================================================
 * The sale, per shard thread
 * ==================================================================================== */
static dslot *slot_take(dworker *w) {
    assert(w->free_n > 0);
    return &w->slots[w->free_stack[--w->free_n]];
}

/* Send the oldest payment/cancellation if it is due. @return whether one was sent. */
static bool followup_send(dworker *w, uint64_t t) {
    if (w->dq_head == w->dq_tail || w->free_n == 0) return false;
    const due *q = &w->dq[w->dq_head % w->dq_cap];
    if (q->due_ns > t) return false;
    dslot *s = slot_take(w);
    const inv_scn_order *o = &w->orders[q->order];
    s->op.type = o->after == INV_SCN_AFTER_COMMIT ? INV_OP_COMMIT : INV_OP_RELEASE;
    s->op.in.order.order_id = o->order_id;
    s->order = q->order;
    s->units = q->units;
    s->flash_units = q->flash_units;
    w->dq_head++;
    slot_submit(w, s);
    return true;
}

/* Place the next order if the pacing allows (`allowed` = orders due by now). */
static bool reserve_send(dworker *w, uint32_t allowed) {
    if (w->next >= allowed || w->free_n == 0) return false;
    dslot *s = slot_take(w);
    s->order = w->next++;
    s->phase = s->order < w->herd_n ? PHASE_HERD : PHASE_MIXED;
    const inv_scn_order *o = &w->orders[s->order];
    uint64_t ttl = o->after == INV_SCN_AFTER_NONE ? TTL_UNPAID_MS : TTL_PAID_MS;
    inv_scn_reserve_fill(w->d->s, o, ttl, s->lines, &s->op);
    slot_submit(w, s);
    return true;
}

/* Orders [w->next, end) spread evenly over [t_begin, t_end). */
static void phase_run(dworker *w, uint32_t end, uint64_t t_begin, uint64_t t_end) {
    uint32_t first = w->next;
    double span = (double)(t_end - t_begin);
    for (uint64_t it = 0; it < (1ull << 40); it++) { /* ends by time */
        uint64_t t = now_ns();
        if (t >= t_end) break;
        double frac = (double)(t - t_begin) / span;
        uint32_t allowed = first + (uint32_t)((double)(end - first) * frac);
        bool worked = followup_send(w, t);
        worked |= reserve_send(w, allowed < end ? allowed + 1 : end);
        if (!worked || it % 8 == 0) worker_poll(w);
    }
    w->next = end; /* orders a slow machine could not place in time are dropped */
}

/* No new orders: pay what is due, poll so that unpaid holds expire, until every shard
 * is done and nothing is held any more (or the drain time runs out). */
static void drain_run(dworker *w, uint64_t t_min, uint64_t t_max) {
    bool reported = false;
    for (uint64_t it = 0; it < (1ull << 40); it++) {
        uint64_t t = now_ns();
        if (t > t_max) {
            w->timed_out = true;
            break;
        }
        followup_send(w, t);
        worker_poll(w);
        if (!reported && w->dq_head == w->dq_tail && w->in_flight == 0) {
            atomic_fetch_add(&w->d->finished, 1);
            reported = true;
        }
        if (!reported || t < t_min || (it & 255) != 0) continue;
        inv_engine_stats st;
        inv_engine_stats_read(w->d->e, &st);
        if (atomic_load(&w->d->finished) == SHARDS && st.reservations_live == 0) break;
    }
}

static void pin_to_cpu(uint32_t i) {
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (cores <= 0) return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET((int)(i % (uint32_t)cores), &set);
    (void)pthread_setaffinity_np(pthread_self(), sizeof set, &set); /* best effort */
}

static void *worker_main(void *arg) {
    dworker *w = arg;
    demo *d = w->d;
    pin_to_cpu(w->index);
    pthread_barrier_wait(&d->start);
    uint64_t t_herd = d->t0_ns + d->herd_ns, t_mixed = t_herd + d->mixed_ns;
    uint64_t drain = (uint64_t)(d->o.seconds * 1e9) - d->herd_ns - d->mixed_ns;
    phase_run(w, w->herd_n, d->t0_ns, t_herd);
    phase_run(w, w->total_n, t_herd, t_mixed);
    drain_run(w, t_mixed + drain, t_mixed + (drain > DRAIN_MAX_NS ? drain : DRAIN_MAX_NS));
    return NULL;
}

/* ====================================================================================
 * Set-up
 * ==================================================================================== */
static void usage(FILE *f) {
    fprintf(f,
        "usage: invdemo [--seconds S] [--seed N] [--cities PATH] [--write-csv DIR]\n"
        "  Runs a short flash sale on the built-in demo scenario (2,000 nodes across\n"
        "  China, 5,000 SKUs, 4 flash-sale SKUs limited to %u per customer) on %u shard\n"
        "  threads and reports what happened. Exit status 1 if an invariant fails.\n"
        "  --seconds S     length of the sale, 2..60 (default 4)\n"
        "  --seed N        scenario and order seed (default 42)\n"
        "  --cities PATH   city CSV (default: the built-in bench/data)\n"
        "  --write-csv DIR write DIR/nodes.csv and DIR/stock.csv of the scenario, exit\n",
        FLASH_LIMIT, SHARDS);
}

/* @return 0 to run, 1 to exit 0 (help), 2 on a usage error. */
static int opts_parse(demo_opts *o, int argc, char **argv) {
    static const struct option longs[] = {
        {"seconds", 1, 0, 'S'}, {"seed", 1, 0, 's'}, {"cities", 1, 0, 'c'},
        {"write-csv", 1, 0, 'W'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    *o = (demo_opts){.seconds = 4, .seed = 42};
    for (int i = 0; i < 64; i++) { /* bounded */
        int c = getopt_long(argc, argv, "h", longs, NULL);
        if (c == -1) break;
        char *end = NULL;
        if (c == 'h') return usage(stdout), 1;
        if (c == 'S') o->seconds = strtod(optarg, &end);
        else if (c == 's') o->seed = strtoull(optarg, &end, 10);
        else if (c == 'c') o->cities = optarg;
        else if (c == 'W') o->write_csv = optarg;
        else return usage(stderr), 2;
        if (end != NULL && (*end != '\0' || end == optarg)) return usage(stderr), 2;
    }
    if (!(o->seconds >= 2 && o->seconds <= 60)) {
        fprintf(stderr, "invdemo: --seconds must be 2..60\n");
        return 2;
    }
    if (optind < argc) return usage(stderr), 2;
    return 0;
}

static void phase_times(demo *d) {
    uint64_t total = (uint64_t)(d->o.seconds * 1e9);
    uint64_t drain = total * 15 / 100;
    if (drain < DRAIN_MIN_NS) drain = DRAIN_MIN_NS;
    d->herd_ns = (total - drain) / 4;
    d->mixed_ns = total - drain - d->herd_ns;
}

static int scenario_make(demo *d) {
    inv_scenario_config sc;
    inv_scenario_config_default(&sc);
    sc.seed = d->o.seed;
    sc.nodes = 2000;
    sc.skus = 5000;
    sc.flash_skus = FLASH_SKUS;
    sc.flash_limit = FLASH_LIMIT;
    sc.customers = 50000;
    sc.demand_orders = (uint64_t)(MIXED_ORDERS_PER_SEC * (double)d->mixed_ns / 1e9);
    sc.stock_cover = 1.5;
    sc.cities_path = d->o.cities;
    char err[256] = "";
    int rc = inv_scenario_build(&d->s, &sc, err, sizeof err);
    if (rc != 0) fprintf(stderr, "invdemo: %s\n", err);
    return rc;
}

/* Herd orders: the flash line alone, 1 unit (2 for one buyer in five). */
static void herd_shape(inv_scn_order *v, uint32_t n, uint64_t seed) {
    inv_scn_rng r;
    inv_scn_rng_seed(&r, seed);
    for (uint32_t i = 0; i < n; i++) {
        v[i].line_count = 1;
        v[i].qty[0] = inv_scn_rng_below(&r, 5) == 0 ? 2 : 1;
    }
}

static int orders_make(demo *d, dworker *w, uint32_t i) {
    char prefix[16];
    inv_scn_order_config oc;
    uint32_t herd = (uint32_t)(HERD_ORDERS_PER_SEC * (double)d->herd_ns / 1e9 / SHARDS) + 1;
    uint32_t mixed = (uint32_t)(MIXED_ORDERS_PER_SEC * (double)d->mixed_ns / 1e9 / SHARDS) + 1;
    inv_scn_order *h = NULL, *m = NULL;
    snprintf(prefix, sizeof prefix, "h%u-", i);
    oc = (inv_scn_order_config){.seed = d->o.seed * 31 + i, .count = herd, .id_prefix = prefix,
        .flash_share = 1.0, .commit_share = 0.7, .release_share = 0.1};
    int rc = inv_scn_orders_make(d->s, &oc, &h);
    if (rc == 0) herd_shape(h, herd, d->o.seed * 17 + i);
    snprintf(prefix, sizeof prefix, "m%u-", i);
    oc = (inv_scn_order_config){.seed = d->o.seed * 37 + i, .count = mixed, .id_prefix = prefix,
        .flash_share = 0.02, .pickup_share = 0.05, .commit_share = 0.7, .release_share = 0.1};
    if (rc == 0) rc = inv_scn_orders_make(d->s, &oc, &m);
    w->orders = rc == 0 ? realloc(h, sizeof *h * ((size_t)herd + mixed)) : NULL;
    if (w->orders != NULL) memcpy(w->orders + herd, m, sizeof *m * mixed);
    else free(h);
    free(m);
    w->herd_n = herd;
    w->total_n = herd + mixed;
    return w->orders != NULL ? 0 : -ENOMEM;
}

static int worker_init(demo *d, uint32_t i) {
    dworker *w = &d->w[i];
    w->d = d;
    w->index = i;
    w->shard = inv_engine_shard(d->e, i);
    if (orders_make(d, w, i) != 0) return -ENOMEM;
    w->dq_cap = w->total_n;
    w->dq = malloc(sizeof *w->dq * w->dq_cap);
    w->slots = aligned_alloc(64, ((sizeof(dslot) * WINDOW + 63) / 64) * 64);
    w->flash_node_orders = calloc(d->idx.node_scenario_len, sizeof(uint32_t));
    w->bought = calloc((size_t)d->s->customer_count * FLASH_SKUS, 1);
    if (!w->dq || !w->slots || !w->flash_node_orders || !w->bought) return -ENOMEM;
    memset(w->slots, 0, sizeof(dslot) * WINDOW);
    for (uint32_t k = 0; k < WINDOW; k++) w->free_stack[w->free_n++] = WINDOW - 1 - k;
    return 0;
}

static int engine_make(demo *d) {
    inv_engine_config cfg;
    inv_engine_config_default(&cfg);
    inv_scenario_engine_config(d->s, &cfg);
    cfg.shards = SHARDS;
    uint64_t orders = (uint64_t)((HERD_ORDERS_PER_SEC * (double)d->herd_ns +
                                  MIXED_ORDERS_PER_SEC * (double)d->mixed_ns) / 1e9) + 1024;
    cfg.reservations_per_shard_max = (uint32_t)(orders / 2 + 65536);
    cfg.tombstones_per_shard_max = (uint32_t)(orders / 2 + 65536);
    cfg.limit_counters_max = (uint32_t)(orders / 2 + 65536);
    int rc = inv_engine_open(&d->e, &cfg);
    if (rc != 0) {
        fprintf(stderr, "invdemo: inv_engine_open: %s\n", strerror(-rc));
        return rc;
    }
    char err[256] = "";
    rc = inv_scenario_load(d->s, d->e, &d->idx, err, sizeof err);
    if (rc != 0) fprintf(stderr, "invdemo: loading the scenario: %s\n", err);
    for (uint32_t f = 0; f < FLASH_SKUS; f++)
        d->flash_sku[f] = d->idx.sku_engine[d->s->flash_first + f];
    return rc;
}

/* ====================================================================================
 * Results and invariants
 * ==================================================================================== */
typedef struct totals {
    demo_counts c;
    uint32_t *flash_node_orders;
    uint32_t max_bought, buyers[FLASH_SKUS];
    bool timed_out;
} totals;

static void totals_add_counts(demo_counts *t, const demo_counts *c) {
    for (uint32_t p = 0; p < PHASES; p++) {
        const uint64_t *src = &c->phase[p].placed;
        uint64_t *dst = &t->phase[p].placed;
        for (uint32_t k = 0; k < sizeof(phase_counts) / sizeof(uint64_t); k++) dst[k] += src[k];
    }
    t->commits += c->commits;
    t->releases += c->releases;
    t->follow_errors += c->follow_errors;
    t->submit_failed += c->submit_failed;
    t->units_reserved += c->units_reserved;
    t->units_committed += c->units_committed;
    t->units_released += c->units_released;
    for (uint32_t f = 0; f < FLASH_SKUS; f++) {
        t->flash_reserved[f] += c->flash_reserved[f];
        t->flash_committed[f] += c->flash_committed[f];
    }
    for (uint32_t k = 0; k <= INV_PARCELS_MAX; k++) t->parcels[k] += c->parcels[k];
    t->parcel_total += c->parcel_total;
    t->km_total += c->km_total;
}

static int totals_make(const demo *d, totals *t) {
    memset(t, 0, sizeof *t);
    t->flash_node_orders = calloc(d->idx.node_scenario_len, sizeof(uint32_t));
    if (t->flash_node_orders == NULL) return -ENOMEM;
    for (uint32_t i = 0; i < SHARDS; i++) {
        const dworker *w = &d->w[i];
        totals_add_counts(&t->c, &w->c);
        t->timed_out |= w->timed_out;
        for (uint32_t n = 0; n < d->idx.node_scenario_len; n++)
            t->flash_node_orders[n] += w->flash_node_orders[n];
    }
    for (size_t k = 0; k < (size_t)d->s->customer_count * FLASH_SKUS; k++) {
        uint32_t b = (uint32_t)d->w[0].bought[k] + d->w[1].bought[k];
        if (b > t->max_bought) t->max_bought = b;
        t->buyers[k % FLASH_SKUS] += b > 0;
    }
    return 0;
}

/* What the cells say once the sale is over. */
typedef struct cell_sums {
    uint64_t cells, oversold, inconsistent;
    int64_t on_hand, reserved, min_available;
    int64_t flash_on_hand[FLASH_SKUS], flash_reserved[FLASH_SKUS];
} cell_sums;

static void cells_read(const demo *d, cell_sums *cs) {
    memset(cs, 0, sizeof *cs);
    cs->min_available = INT64_MAX;
    for (uint32_t i = 0; i < d->s->cell_count; i++) {
        const inv_scn_cell *c = &d->s->cells[i];
        inv_cell_view v;
        if (inv_engine_cell_read(d->e, d->idx.sku_engine[c->sku], d->idx.node_engine[c->node],
                                 &v) != 0) {
            cs->inconsistent++;
            continue;
        }
        cs->cells++;
        cs->oversold += v.available < 0;
        cs->inconsistent += v.available != v.on_hand - v.reserved - v.safety;
        cs->min_available = v.available < cs->min_available ? v.available : cs->min_available;
        cs->on_hand += v.on_hand;
        cs->reserved += v.reserved;
        if (c->sku < d->s->flash_first) continue;
        uint32_t f = c->sku - d->s->flash_first;
        cs->flash_on_hand[f] += v.on_hand;
        cs->flash_reserved[f] += v.reserved;
    }
}

static bool check(bool ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static bool check(bool ok, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    printf("  [%s] ", ok ? " ok " : "FAIL");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    return ok;
}

static bool invariants(const demo *d, const totals *t, const cell_sums *cs) {
    inv_engine_stats st;
    inv_engine_stats_read(d->e, &st);
    const demo_counts *c = &t->c;
    uint64_t ok = c->phase[0].ok + c->phase[1].ok;
    uint64_t unpaid = ok - c->commits - c->releases;
    int64_t sold = (int64_t)d->s->units_total - cs->on_hand;
    bool flash_ok = true;
    for (uint32_t f = 0; f < FLASH_SKUS; f++) {
        int64_t fs = (int64_t)d->s->flash_units[f] - cs->flash_on_hand[f];
        flash_ok &= fs == (int64_t)c->flash_committed[f] && fs <= (int64_t)d->s->flash_units[f];
    }
    printf("\ninvariants (DESIGN.md §10):\n");
    bool all = true;
    all &= check(!t->timed_out && c->submit_failed == 0,
                 "the sale finished in time, every op answered");
    all &= check(st.reservations_live == 0 && cs->reserved == 0,
                 "nothing is held any more (live reservations %llu, reserved units %lld)",
                 (unsigned long long)st.reservations_live, (long long)cs->reserved);
    all &= check(cs->oversold == 0 && cs->inconsistent == 0,
                 "never oversold: %llu cells read, min available %lld, all available = "
                 "on_hand - reserved - safety", (unsigned long long)cs->cells,
                 (long long)cs->min_available);
    all &= check(sold == (int64_t)c->units_committed,
                 "on-hand stock fell by exactly the committed units (%lld)", (long long)sold);
    all &= check(st.expirations == unpaid && c->follow_errors == 0,
                 "the engine expired exactly the unpaid holds (%llu), every payment and "
                 "cancellation succeeded", (unsigned long long)st.expirations);
    all &= check(flash_ok, "flash units sold = stock - units left, per flash SKU");
    all &= check(t->max_bought <= FLASH_LIMIT,
                 "no customer bought more than %u of a flash SKU (most: %u)", FLASH_LIMIT,
                 t->max_bought);
    return all;
}

/* ====================================================================================
 * Report
 * ==================================================================================== */
static void report_header(const demo *d) {
    const inv_scenario *s = d->s;
    uint32_t cities = 0, last = INV_SCN_NONE;
    for (uint32_t n = 0; n < s->node_count; n++) { /* nodes are grouped by city */
        cities += s->nodes[n].city != last;
        last = s->nodes[n].city;
    }
    printf("invd flash-sale demo — seed %llu, %u shard threads, %.1f s\n",
           (unsigned long long)d->o.seed, SHARDS, d->o.seconds);
    printf("catalog: %u nodes (%u warehouses, %u stores, %u lockers) in %u cities; %u SKUs, "
           "%u stock cells, %llu units\n", s->node_count, s->kind_count[INV_NODE_WAREHOUSE],
           s->kind_count[INV_NODE_STORE], s->kind_count[INV_NODE_LOCKER], cities, s->sku_count,
           s->cell_count, (unsigned long long)s->units_total);
    printf("flash sale: %u SKUs, a few hundred units each spread over ~%u nodes, limit %u "
           "per customer\n\n", s->flash_count, s->flash_cells[0], FLASH_LIMIT);
}

static void report_phases(const demo *d, const totals *t) {
    static const char *const names[PHASES] = {"thundering herd", "mixed baskets"};
    const double secs[PHASES] = {(double)d->herd_ns / 1e9, (double)d->mixed_ns / 1e9};
    uint64_t planned[PHASES] = {0, 0};
    for (uint32_t i = 0; i < SHARDS; i++) {
        planned[PHASE_HERD] += d->w[i].herd_n;
        planned[PHASE_MIXED] += d->w[i].total_n - d->w[i].herd_n;
    }
    printf("%-16s %9s %9s %9s %9s %9s %9s %6s %8s\n", "phase", "planned", "placed", "ok",
           "sold out", "limit", "no route", "other", "seconds");
    for (uint32_t p = 0; p < PHASES; p++) {
        const phase_counts *c = &t->c.phase[p];
        printf("%-16s %9llu %9llu %9llu %9llu %9llu %9llu %6llu %8.2f\n", names[p],
               (unsigned long long)planned[p], (unsigned long long)c->placed,
               (unsigned long long)c->ok,
               (unsigned long long)c->sold_out, (unsigned long long)c->limit,
               (unsigned long long)c->no_route, (unsigned long long)c->other, secs[p]);
    }
    uint64_t ok = t->c.phase[0].ok + t->c.phase[1].ok;
    if (t->c.phase[0].placed + t->c.phase[1].placed < planned[0] + planned[1])
        printf("(orders planned but not placed: this machine could not keep the pace)\n");
    inv_engine_stats st;
    inv_engine_stats_read(d->e, &st);
    printf("sold-out answers from the fast path (one read of the SKU's flag): %llu of %llu\n",
           (unsigned long long)st.sold_out_fast_path,
           (unsigned long long)(t->c.phase[0].sold_out + t->c.phase[1].sold_out));
    printf("after checkout: %llu paid (commit), %llu cancelled (release), %llu never paid "
           "(expired by TTL)\n\n", (unsigned long long)t->c.commits,
           (unsigned long long)t->c.releases,
           (unsigned long long)(ok - t->c.commits - t->c.releases));
}

static void report_flash(const demo *d, const totals *t, const cell_sums *cs) {
    printf("%-10s %7s %7s %7s %9s %8s %7s  %s\n", "flash SKU", "stock", "sold", "left",
           "reserved*", "buyers", "sold%", "never oversold");
    for (uint32_t f = 0; f < FLASH_SKUS; f++) {
        uint64_t stock = d->s->flash_units[f];
        int64_t left = cs->flash_on_hand[f], sold = (int64_t)stock - left;
        printf("%-10s %7llu %7lld %7lld %9llu %8u %6.1f%%  %s\n",
               inv_scn_sku_name(d->s, d->s->flash_first + f), (unsigned long long)stock,
               (long long)sold, (long long)left, (unsigned long long)t->c.flash_reserved[f],
               t->buyers[f], stock ? 100.0 * (double)sold / (double)stock : 0.0,
               sold <= (int64_t)stock && cs->flash_reserved[f] == 0 ? "yes" : "NO");
    }
    printf("* units taken by successful reserves over the sale, counting units that came "
           "back (cancelled, expired) and were sold again\n\n");
}

static void report_parcels(const totals *t) {
    uint64_t orders = 0, parcels = 0;
    for (uint32_t k = 1; k <= INV_PARCELS_MAX; k++) {
        orders += t->c.parcels[k];
        parcels += k * t->c.parcels[k];
    }
    if (orders == 0) return;
    printf("parcels per successful order:");
    for (uint32_t k = 1; k <= 3; k++) {
        uint64_t n = t->c.parcels[k];
        if (k == 3)
            for (uint32_t j = 4; j <= INV_PARCELS_MAX; j++) n += t->c.parcels[j];
        printf("  %u%s: %.2f%%", k, k == 3 ? "+" : "", 100.0 * (double)n / (double)orders);
    }
    printf("  (mean %.3f); mean %.1f km from customer to node per parcel\n\n",
           (double)parcels / (double)orders,
           t->c.parcel_total ? t->c.km_total / (double)t->c.parcel_total : 0.0);
}

static void report_top_nodes(const demo *d, const totals *t) {
    uint32_t top[TOP_NODES], n_top = 0;
    for (uint32_t k = 0; k < TOP_NODES; k++) {
        uint32_t best = INV_SCN_NONE;
        for (uint32_t n = 0; n < d->idx.node_scenario_len; n++) {
            bool used = false;
            for (uint32_t j = 0; j < n_top; j++) used |= top[j] == n;
            if (used || t->flash_node_orders[n] == 0) continue;
            if (best == INV_SCN_NONE || t->flash_node_orders[n] > t->flash_node_orders[best])
                best = n;
        }
        if (best == INV_SCN_NONE) break;
        top[n_top++] = best;
    }
    printf("top nodes by flash-SKU orders allocated:\n  %-24s %-26s %-10s %7s\n", "node id",
           "city (region)", "kind", "orders");
    for (uint32_t k = 0; k < n_top; k++) {
        uint32_t sn = d->idx.node_scenario[top[k]];
        if (sn == INV_SCN_NONE) continue;
        const inv_scn_node *nd = &d->s->nodes[sn];
        char place[64];
        snprintf(place, sizeof place, "%.20s (%s)", d->s->cities[nd->city].name,
                 d->s->cities[nd->city].region);
        printf("  %-24s %-26s %-10s %7u\n", nd->id, place, inv_node_kind_name(nd->kind),
               t->flash_node_orders[top[k]]);
    }
}

static void report_throughput(const demo *d, const totals *t, double wall_s) {
    uint64_t reserves = t->c.phase[0].placed + t->c.phase[1].placed;
    uint64_t follow = t->c.commits + t->c.releases + t->c.follow_errors;
    double sale = (double)(d->herd_ns + d->mixed_ns) / 1e9;
    printf("\nthroughput: %llu reserves + %llu commits/releases in %.2f s of sale "
           "(%.0f ops/s, paced; %.2f s wall with the drain). Peak: see engine_bench.\n",
           (unsigned long long)reserves, (unsigned long long)follow, sale,
           (double)(reserves + follow) / sale, wall_s);
}

/* ====================================================================================
 * Main
 * ==================================================================================== */
static int write_csv(const demo *d) {
    char path[4096], err[256] = "";
    if (mkdir(d->o.write_csv, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "invdemo: mkdir %s: %s\n", d->o.write_csv, strerror(errno));
        return 1;
    }
    snprintf(path, sizeof path, "%s/nodes.csv", d->o.write_csv);
    int rc = inv_scenario_write_nodes_csv(d->s, path, err, sizeof err);
    snprintf(path, sizeof path, "%s/stock.csv", d->o.write_csv);
    if (rc == 0) rc = inv_scenario_write_stock_csv(d->s, path, err, sizeof err);
    if (rc != 0) fprintf(stderr, "invdemo: %s\n", err);
    else printf("wrote %s/nodes.csv and %s/stock.csv\n", d->o.write_csv, d->o.write_csv);
    return rc != 0;
}

static int sale_run(demo *d) {
    if (engine_make(d) != 0) return 1;
    for (uint32_t i = 0; i < SHARDS; i++) {
        if (worker_init(d, i) != 0) {
            fprintf(stderr, "invdemo: out of memory\n");
            return 1;
        }
    }
    if (pthread_barrier_init(&d->start, NULL, SHARDS + 1) != 0) return 1;
    for (uint32_t i = 0; i < SHARDS; i++) {
        if (pthread_create(&d->w[i].th, NULL, worker_main, &d->w[i]) != 0) {
            fprintf(stderr, "invdemo: cannot start shard threads\n");
            exit(1);
        }
    }
    d->t0_ns = now_ns() + 1000000; /* 1 ms for the threads to reach the barrier */
    pthread_barrier_wait(&d->start);
    for (uint32_t i = 0; i < SHARDS; i++) pthread_join(d->w[i].th, NULL);
    pthread_barrier_destroy(&d->start);
    return 0;
}

static int report(demo *d) {
    totals t;
    cell_sums cs;
    if (totals_make(d, &t) != 0) return 1;
    double wall = (double)(now_ns() - d->t0_ns) / 1e9;
    cells_read(d, &cs);
    report_header(d);
    report_phases(d, &t);
    report_flash(d, &t, &cs);
    report_parcels(&t);
    report_top_nodes(d, &t);
    report_throughput(d, &t, wall);
    bool ok = invariants(d, &t, &cs);
    free(t.flash_node_orders);
    printf("\n%s\n", ok ? "all invariants hold." : "INVARIANT FAILED.");
    return ok ? 0 : 1;
}

static void demo_free(demo *d) {
    for (uint32_t i = 0; i < SHARDS; i++) {
        free(d->w[i].orders);
        free(d->w[i].dq);
        free(d->w[i].slots);
        free(d->w[i].flash_node_orders);
        free(d->w[i].bought);
    }
    inv_engine_close(d->e);
    inv_scn_index_free(&d->idx);
    inv_scenario_free(d->s);
}

int main(int argc, char **argv) {
    static demo d; /* large: keep it off the stack */
    int rc = opts_parse(&d.o, argc, argv);
    if (rc != 0) return rc == 1 ? 0 : 2;
    phase_times(&d);
    if (scenario_make(&d) != 0) return 1;
    if (d.o.write_csv != NULL) rc = write_csv(&d);
    else rc = sale_run(&d) != 0 ? 1 : report(&d);
    demo_free(&d);
    return rc;
}
