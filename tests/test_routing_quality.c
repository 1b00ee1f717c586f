/*
 * test_routing_quality.c — routing quality against an exhaustive optimum (DESIGN.md §9:
 * "total cost within 2 % of the exhaustive optimum on orders of ≤ 5 lines").
 *
 * Each instance is a small random world on a real engine: up to 12 shipping nodes
 * (warehouses and stores, random priorities) over eastern China, random stock for 1–5
 * lines, a random destination, a random max_parcels and sometimes a max_distance_km.
 * route_plan_make plans it; the test computes the optimum on its own (its own haversine
 * and the documented cost: km × kind weight + priority × priority_cost_km; every subset
 * of the in-range nodes holding stock, fewest parcels first, then the cheapest) and
 * compares:
 *   - every OK plan must be valid (covers each line exactly, within each node's units,
 *     in range, ≤ max_parcels, entries of a node adjacent, cost as reported);
 *   - a failed plan must fail the way the contract says (INSUFFICIENT_STOCK with the
 *     right shortfall, or NO_ROUTE), and only when no cover exists;
 *   - the share of instances with the optimal parcel count must be ≥ 99 % and the mean
 *     cost gap ≤ 2 % (else the suite fails); both, and the largest gap, are printed.
 * A second set of a few hundred instances with 30–60 candidate nodes, where the exact
 * search's subset bound (INV_ROUTE_SUBSETS_MAX) cuts in, is measured and printed only.
 *
 * Seeded RNG: every run sees the same instances.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "engine_int.h"
#include "geo.h"
#include "route.h"
#include "test_support.h"

#define SMALL_INSTANCES 10000u
#define SMALL_NODES_MAX 12u
#define LARGE_INSTANCES 300u
#define LARGE_NODES_MIN 30u
#define LARGE_NODES_MAX 60u
#define LARGE_PARCELS 4u
#define QLINES_MAX 5u
#define NODES_CAP LARGE_NODES_MAX
#define EARTH_R_KM 6371.0088
#define PI 3.14159265358979323846

typedef struct instance {
    uint32_t m, lines, max_parcels;
    double max_km;
    double dest_lat, dest_lon;
    double lat[NODES_CAP], lon[NODES_CAP];
    inv_node_kind kind[NODES_CAP];
    uint32_t priority[NODES_CAP];
    uint32_t qty[QLINES_MAX];
    uint32_t avail[NODES_CAP][QLINES_MAX];
} instance;

/* What the test knows about an instance before comparing. */
typedef struct oracle {
    double cost[NODES_CAP];
    bool in_range[NODES_CAP];
    bool found;
    uint32_t parcels;
    double best_cost;
} oracle;

/* Cost gaps are taken where the parcel counts agree (a plan with more parcels than the
 * optimum is already counted as a miss; its cost is not comparable). */
typedef struct tally {
    uint32_t instances, covered, parcels_optimal, split;
    double gap_sum, gap_max;
} tally;

static test_clock clk = {.now_ms = 1700000000000ull};
static uint64_t rng_state;

static uint64_t rng_next(void) {
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dull;
}
static double rng_unit(void) { return (double)(rng_next() >> 11) / 9007199254740992.0; }
static uint32_t rng_below(uint32_t n) { return (uint32_t)(rng_next() % n); }

static double haversine_km(double lat1, double lon1, double lat2, double lon2) {
    double r = PI / 180.0;
    double a = sin((lat2 - lat1) * r / 2), b = sin((lon2 - lon1) * r / 2);
    double h = a * a + cos(lat1 * r) * cos(lat2 * r) * b * b;
    return 2 * EARTH_R_KM * asin(sqrt(h < 1 ? h : 1));
}

static inv_engine *engine_small(void) {
    inv_engine_config cfg;
    inv_engine_config_default(&cfg);
    cfg.shards = 1;
    cfg.nodes_max = 128;
    cfg.skus_max = 64;
    cfg.cells_max = 4096;
    cfg.reservations_per_shard_max = 1024;
    cfg.tombstones_per_shard_max = 1024;
    cfg.refs_per_shard_max = 1024;
    cfg.limit_counters_max = 1024;
    cfg.clock = test_clock_read;
    cfg.clock_ctx = &clk;
    inv_engine *e = NULL;
    cr_assert_eq(inv_engine_open(&e, &cfg), 0);
    return e;
}

/* ====================================================================================
 * Instances on the engine
 * ==================================================================================== */

static void node_name(char *out, size_t cap, uint32_t i) { snprintf(out, cap, "Q%u", i); }
static void sku_name(char *out, size_t cap, uint32_t l) { snprintf(out, cap, "q%u", l); }

/* Move nodes 0..m-1 to the instance's places and set every cell (0 beyond m). */
static void instance_apply(inv_engine *e, const instance *in, uint32_t *created) {
    char id[16], sku[16];
    for (uint32_t i = 0; i < in->m; i++) {
        inv_op op;
        memset(&op, 0, sizeof op);
        node_name(id, sizeof id, i);
        op.type = INV_OP_UPSERT_NODE;
        op.in.node = (inv_node_spec){.node_id = id, .kind = in->kind[i], .lat = in->lat[i],
                                     .lon = in->lon[i], .ships = true,
                                     .pickup = in->kind[i] == INV_NODE_STORE,
                                     .priority = in->priority[i], .status = INV_NODE_ACTIVE};
        cr_assert_eq(inv_engine_execute(e, &op), INV_OK, "%s", op.message);
    }
    inv_engine_catalog_publish(e);
    if (in->m > *created) *created = in->m;
    for (uint32_t i = 0; i < *created; i++) {
        node_name(id, sizeof id, i);
        for (uint32_t l = 0; l < in->lines; l++) {
            sku_name(sku, sizeof sku, l);
            uint32_t units = i < in->m ? in->avail[i][l] : 0;
            cr_assert_eq(t_set_to(e, id, sku, units), INV_OK, "%s", last_op.message);
        }
    }
}

static route_request instance_request(inv_engine *e, const instance *in) {
    route_request rq;
    memset(&rq, 0, sizeof rq);
    rq.policy = INV_ROUTE_NEAREST;
    rq.has_point = true;
    rq.lat = in->dest_lat;
    rq.lon = in->dest_lon;
    rq.pickup_node = INV_NONE;
    rq.max_parcels = in->max_parcels;
    rq.max_distance_km = in->max_km;
    rq.day = inv_day_of(clk.now_ms);
    rq.line_count = in->lines;
    for (uint32_t l = 0; l < in->lines; l++) {
        char sku[16];
        sku_name(sku, sizeof sku, l);
        cr_assert_eq(inv_engine_sku_find(e, sku, &rq.sku[l]), 0);
        rq.qty[l] = in->qty[l];
    }
    return rq;
}

static void instance_place(instance *in) {
    for (uint32_t i = 0; i < in->m; i++) {
        in->lat[i] = 22.0 + 18.0 * rng_unit();
        in->lon[i] = 105.0 + 17.0 * rng_unit();
        in->kind[i] = rng_unit() < 0.6 ? INV_NODE_WAREHOUSE : INV_NODE_STORE;
        in->priority[i] = rng_below(20);
    }
    in->dest_lat = 22.0 + 18.0 * rng_unit();
    in->dest_lon = 105.0 + 17.0 * rng_unit();
}

static void instance_small(instance *in) {
    static const uint32_t parcels[] = {1, 2, 3, 4, 4, 4, 8};
    memset(in, 0, sizeof *in);
    in->m = 2 + rng_below(SMALL_NODES_MAX - 1);
    in->lines = 1 + rng_below(QLINES_MAX);
    in->max_parcels = parcels[rng_below(sizeof parcels / sizeof parcels[0])];
    in->max_km = rng_unit() < 0.15 ? 200.0 + 1000.0 * rng_unit() : 0;
    instance_place(in);
    double hold = 0.2 + 0.5 * rng_unit();
    for (uint32_t l = 0; l < in->lines; l++) in->qty[l] = 1 + rng_below(rng_unit() < 0.8 ? 4 : 8);
    for (uint32_t i = 0; i < in->m; i++)
        for (uint32_t l = 0; l < in->lines; l++)
            in->avail[i][l] = rng_unit() < hold ? rng_below(in->qty[l] + 3) : 0;
}

static void instance_large(instance *in) {
    memset(in, 0, sizeof *in);
    in->m = LARGE_NODES_MIN + rng_below(LARGE_NODES_MAX - LARGE_NODES_MIN + 1);
    in->lines = 2 + rng_below(QLINES_MAX - 1);
    in->max_parcels = LARGE_PARCELS;
    instance_place(in);
    double hold = 0.15 + 0.3 * rng_unit();
    for (uint32_t l = 0; l < in->lines; l++) in->qty[l] = 2 + rng_below(7);
    for (uint32_t i = 0; i < in->m; i++) {
        for (uint32_t l = 0; l < in->lines; l++)
            in->avail[i][l] = rng_unit() < hold ? 1 + rng_below(in->qty[l]) : 0;
        in->avail[i][rng_below(in->lines)] |= 1; /* every node is a candidate */
    }
}

/* ====================================================================================
 * The optimum, computed independently
 * ==================================================================================== */

static void oracle_costs(const inv_engine *e, const instance *in, oracle *o) {
    const inv_route_weights *w = &e->cfg.weights;
    for (uint32_t i = 0; i < in->m; i++) {
        double km = haversine_km(in->dest_lat, in->dest_lon, in->lat[i], in->lon[i]);
        o->in_range[i] = in->max_km == 0 || km <= in->max_km;
        o->cost[i] = km * w->kind_weight[in->kind[i]] + in->priority[i] * w->priority_cost_km;
    }
}

/* Candidates: in range and holding a unit of some line. */
static uint32_t oracle_candidates(const instance *in, const oracle *o, uint32_t *out) {
    uint32_t n = 0;
    for (uint32_t i = 0; i < in->m; i++) {
        bool holds = false;
        for (uint32_t l = 0; l < in->lines; l++) holds |= in->avail[i][l] > 0;
        if (holds && o->in_range[i]) out[n++] = i;
    }
    return n;
}

/* Small instances: every subset (bitmask), with running sums per mask. */
static void oracle_subsets(const instance *in, oracle *o) {
    static uint32_t sum[1u << SMALL_NODES_MAX][QLINES_MAX];
    static double cost[1u << SMALL_NODES_MAX];
    uint32_t cand[NODES_CAP], n = oracle_candidates(in, o, cand);
    cr_assert_leq(n, SMALL_NODES_MAX);
    o->found = false;
    memset(sum[0], 0, sizeof sum[0]);
    cost[0] = 0;
    for (uint32_t mask = 1; mask < (1u << n); mask++) {
        uint32_t low = (uint32_t)__builtin_ctz(mask), prev = mask & (mask - 1);
        uint32_t node = cand[low], k = (uint32_t)__builtin_popcount(mask);
        bool covers = true;
        cost[mask] = cost[prev] + o->cost[node];
        for (uint32_t l = 0; l < in->lines; l++) {
            sum[mask][l] = sum[prev][l] + in->avail[node][l];
            covers &= sum[mask][l] >= in->qty[l];
        }
        if (!covers || k > in->max_parcels) continue;
        if (!o->found || k < o->parcels || (k == o->parcels && cost[mask] < o->best_cost)) {
            o->found = true;
            o->parcels = k;
            o->best_cost = cost[mask];
        }
    }
}

/* Large instances: all k-subsets for k = 1, 2, … until one covers. */
static bool oracle_k(const instance *in, const oracle *o, const uint32_t *cand, uint32_t n,
                     uint32_t k, double *best) {
    uint32_t c[LARGE_PARCELS + 1], sum[LARGE_PARCELS + 1][QLINES_MAX] = {{0}};
    double cs[LARGE_PARCELS + 1] = {0};
    bool found = false;
    int d = 0;
    c[0] = 0;
    for (;;) {
        if (c[d] + (k - (uint32_t)d) > n) {
            if (d == 0) break;
            c[--d]++;
            continue;
        }
        uint32_t node = cand[c[d]];
        bool covers = true;
        cs[d + 1] = cs[d] + o->cost[node];
        for (uint32_t l = 0; l < in->lines; l++) {
            sum[d + 1][l] = sum[d][l] + in->avail[node][l];
            covers &= sum[d + 1][l] >= in->qty[l];
        }
        if ((uint32_t)d + 1 == k) {
            if (covers && (!found || cs[d + 1] < *best)) *best = cs[d + 1];
            found |= covers;
            c[d]++;
        } else {
            c[d + 1] = c[d] + 1;
            d++;
        }
    }
    return found;
}

static void oracle_combinations(const instance *in, oracle *o) {
    uint32_t cand[NODES_CAP], n = oracle_candidates(in, o, cand);
    o->found = false;
    for (uint32_t k = 1; k <= in->max_parcels && k <= n && !o->found; k++) {
        o->found = oracle_k(in, o, cand, n, k, &o->best_cost);
        o->parcels = k;
    }
}

/* ====================================================================================
 * Checking one plan
 * ==================================================================================== */

static uint32_t node_of(const inv_engine *e, uint32_t engine_node) {
    const char *id = inv_engine_node_id(e, engine_node);
    cr_assert_not_null(id);
    return (uint32_t)strtoul(id + 1, NULL, 10);
}

/* An OK plan: valid, and its cost as the test computes it. */
static double plan_validate(const inv_engine *e, const instance *in, const oracle *o,
                            const route_request *rq, const route_plan *p) {
    uint32_t got[QLINES_MAX] = {0}, seen[INV_PARCELS_MAX], parcels = 0;
    double cost = 0;
    cr_assert_leq(p->alloc_count, INV_ALLOC_MAX);
    for (uint32_t a = 0; a < p->alloc_count; a++) {
        const inv_alloc *al = &p->alloc[a];
        uint32_t i = node_of(e, al->node), l = 0;
        while (l < in->lines && rq->sku[l] != al->sku) l++;
        cr_assert_lt(l, in->lines, "entry of an SKU not in the order");
        cr_assert(i < in->m && o->in_range[i], "node %u not eligible", i);
        cr_assert_gt(al->qty, 0);
        cr_assert_leq(al->qty, in->avail[i][l], "node %u gives %u of %u", i, al->qty,
                      in->avail[i][l]);
        got[l] += al->qty;
        if (a > 0 && al->node == p->alloc[a - 1].node) continue;
        for (uint32_t s = 0; s < parcels; s++) cr_assert_neq(seen[s], al->node, "not adjacent");
        cr_assert_lt(parcels, in->max_parcels, "more parcels than allowed");
        cr_assert_eq(p->parcel_nodes[parcels], al->node);
        seen[parcels++] = al->node;
        cost += o->cost[i];
    }
    for (uint32_t l = 0; l < in->lines; l++) cr_assert_eq(got[l], in->qty[l], "line %u", l);
    cr_assert_eq(p->parcels, parcels);
    cr_assert_float_eq(p->cost, cost, 1e-6 * (1 + cost), "reported %f, computed %f", p->cost,
                       cost);
    return cost;
}

/* A failed plan: the status and shortfall the contract gives for this instance. */
static void plan_failure_check(const instance *in, const oracle *o, const route_plan *p) {
    bool line_short = false, stock_short = false, any_eligible = false;
    uint32_t total[QLINES_MAX] = {0}, raw[QLINES_MAX] = {0};
    for (uint32_t i = 0; i < in->m; i++)
        for (uint32_t l = 0; l < in->lines; l++) {
            raw[l] += in->avail[i][l];
            if (o->in_range[i]) total[l] += in->avail[i][l];
            any_eligible |= o->in_range[i] && in->avail[i][l] > 0;
        }
    for (uint32_t l = 0; l < in->lines; l++) {
        line_short |= total[l] < in->qty[l];
        stock_short |= raw[l] < in->qty[l];
        cr_assert_eq(p->sku_exhausted[l], raw[l] == 0, "line %u exhausted flag", l);
    }
    inv_status want = !line_short || (!any_eligible && !stock_short) ? INV_NO_ROUTE
                                                                      : INV_INSUFFICIENT_STOCK;
    cr_assert_eq(p->status, want, "status %s (%s), expected %s", inv_status_name(p->status),
                 p->reason, inv_status_name(want));
    if (want != INV_INSUFFICIENT_STOCK) return;
    for (uint32_t l = 0; l < in->lines; l++) {
        uint32_t miss = total[l] >= in->qty[l] ? 0 : in->qty[l] - total[l];
        cr_assert_eq(p->shortfall[l], miss, "line %u shortfall", l);
    }
}

static void compare(const inv_engine *e, const instance *in, const oracle *o,
                    const route_request *rq, const route_plan *p, bool strict, tally *t) {
    t->instances++;
    if (p->status == INV_OK) {
        double cost = plan_validate(e, in, o, rq, p);
        cr_assert(o->found, "a valid plan where the oracle found none");
        cr_assert_geq(p->parcels, o->parcels, "fewer parcels than the optimum");
        t->covered++;
        t->split += o->parcels > 1;
        if (p->parcels != o->parcels) return;
        double gap = o->best_cost > 0 ? (cost - o->best_cost) / o->best_cost : 0;
        cr_assert_geq(gap, -1e-9, "cheaper than the optimum: %.12f", gap);
        gap = gap > 0 ? gap : 0; /* rounding: two haversines */
        t->parcels_optimal++;
        t->gap_sum += gap;
        t->gap_max = gap > t->gap_max ? gap : t->gap_max;
        return;
    }
    if (o->found) { /* missed a cover: counts as non-optimal parcels */
        cr_assert(!strict || p->status == INV_NO_ROUTE, "%s where a cover exists",
                  inv_status_name(p->status));
        t->covered++;
        t->split += o->parcels > 1;
        return;
    }
    plan_failure_check(in, o, p);
}

static void tally_print(const char *what, const tally *t) {
    double share = t->covered ? 100.0 * t->parcels_optimal / t->covered : 100.0;
    double mean = t->parcels_optimal ? 100.0 * t->gap_sum / t->parcels_optimal : 0;
    fprintf(stderr,
            "routing quality, %s: %u instances, %u coverable (%u needing a split): "
            "parcels optimal %.2f %%, cost gap mean %.4f %%, max %.4f %%\n",
            what, t->instances, t->covered, t->split, share, mean, 100.0 * t->gap_max);
}

/* ====================================================================================
 * Suites
 * ==================================================================================== */

/* Plan `count` seeded instances on a fresh engine and tally them against the oracle:
 * small ones (<= 12 candidates, every subset, strict) or large ones (30-60 candidates,
 * bounded combinations, report only). */
static void run_instances(bool small, uint32_t count, uint64_t seed, tally *t) {
    inv_engine *e = engine_small();
    route_scratch *s = route_scratch_new();
    static instance in;
    oracle o;
    route_plan p;
    uint32_t created = 0;
    rng_state = seed;
    for (uint32_t n = 0; n < count; n++) {
        if (small) instance_small(&in); else instance_large(&in);
        instance_apply(e, &in, &created);
        oracle_costs(e, &in, &o);
        if (small) oracle_subsets(&in, &o); else oracle_combinations(&in, &o);
        route_request rq = instance_request(e, &in);
        route_plan_make(e, catalog_geo(e), s, &rq, &p);
        compare(e, &in, &o, &rq, &p, small, t);
    }
    route_scratch_free(s);
    inv_engine_close(e);
}

Test(routing_quality, small_orders_against_exhaustive_optimum, .timeout = 300) {
    tally t = {0};
    run_instances(true, SMALL_INSTANCES, 0x5eed5eed12345678ull, &t);
    tally_print("<= 12 candidates", &t);
    cr_assert_gt(t.split, SMALL_INSTANCES / 10, "enough instances need a split");
    double share = (double)t.parcels_optimal / t.covered;
    double mean = t.gap_sum / t.parcels_optimal;
    cr_assert_geq(share, 0.99, "parcels optimal in %.2f %% only", 100 * share);
    cr_assert_leq(mean, 0.02, "mean cost gap %.3f %%", 100 * mean);
}

Test(routing_quality, many_candidates_report, .timeout = 300) {
    tally t = {0};
    run_instances(false, LARGE_INSTANCES, 0x0ddba11cafef00dull, &t);
    tally_print("30-60 candidates (report only)", &t);
}
