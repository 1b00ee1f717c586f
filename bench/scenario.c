/*
 * scenario.c — the deterministic flash-sale scenario (see scenario.h for the model).
 *
 * Build order: cities (CSV) → nodes (apportioned by population) → SKUs and stock →
 * customers. Each step draws from its own random stream derived from the seed, so
 * changing one size (say, customers) does not reshuffle the nodes or the stock.
 *
 * Stock model, per regular SKU of popularity rank r (0 = most popular):
 *   demand  D(r) = demand_orders × E[lines] × E[qty] × p(r), p = Zipf(s) pmf;
 *   units   U(r) = max(a few, stock_cover × D(r));
 *   width   1–2 warehouses + W·16/(r+16), and 0–2 stores + 0.4·S·8/(r+8):
 *           the head SKUs sit in every warehouse and thousands of stores, the tail in
 *           a warehouse or two and a couple of stores;
 *   split   stores get ~30 % of U in small lots (≤ 200 units), warehouses the rest.
 * Lockers hold a few popular SKUs, 1–3 units each. Flash SKUs sit in ~20 % of the
 * shipping nodes with 1..flash_units_max units each; a hot SKU (hot_units) can instead
 * sit in a few warehouses (no daily capacity cap, so only stock limits it).
 *
 * Invariants: every cell has on_hand ≥ 1; a SKU appears at most once per node; node ids
 * are unique (a city slug seen before gets its geonameid appended).
 */
#include "scenario.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef INV_BENCH_DATA_DIR
#define INV_BENCH_DATA_DIR "bench/data"
#endif

/* Cities read from the CSV at most (the shipped file has 2,702). */
#define CITIES_MAX 100000u
/* Longest CSV line accepted. */
#define CSV_LINE_MAX 512u
/* Warehouses at most (design: ~60–100 in the metros above 1 M). */
#define WAREHOUSES_MAX 100u
#define METRO_POPULATION 1000000u
#define LOCKER_CITY_POPULATION 500000u
/* Tries to draw a SKU not yet in the order / locker before giving up the line. */
#define DISTINCT_TRIES_MAX 16u
/* Largest lot a store holds of one SKU. */
#define STORE_LOT_MAX 200.0

/* Order shape: P(lines = k+1) and P(qty = k+1). */
static const double LINE_COUNT_P[INV_SCN_LINES_MAX] = {0.50, 0.25, 0.13, 0.07, 0.05};
static const double QTY_P[3] = {0.88, 0.09, 0.03};

/* Stream ids (xor-ed into the seed) so that each build step has its own stream. */
enum { STREAM_NODES = 1, STREAM_SKUS, STREAM_STOCK, STREAM_CUSTOMERS, STREAM_FLASH };

static void set_err(char *err, size_t err_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t err_len, const char *fmt, ...) {
    if (err == NULL || err_len == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_len, fmt, ap);
    va_end(ap);
}

/* ====================================================================================
 * Random numbers and alias tables
 * ==================================================================================== */
static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void inv_scn_rng_seed(inv_scn_rng *r, uint64_t seed) {
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
    if ((r->s[0] | r->s[1] | r->s[2] | r->s[3]) == 0) r->s[0] = 1;
}

static void rng_stream(inv_scn_rng *r, uint64_t seed, uint64_t stream) {
    inv_scn_rng_seed(r, seed ^ (stream * 0xd1342543de82ef95ull));
}

void inv_scn_alias_free(inv_scn_alias *a) {
    free(a->alias);
    free(a->cut);
    a->alias = NULL;
    a->cut = NULL;
    a->n = 0;
}

/* Vose's method: columns below the mean ("small") take their remainder from one above
 * ("large"); each column ends with one cut and one alias. */
static void alias_fill(inv_scn_alias *a, double *scaled, uint32_t *small, uint32_t *large) {
    uint32_t ns = 0, nl = 0, n = a->n;
    assert(n > 0);
    for (uint32_t i = 0; i < n; i++) {
        if (scaled[i] < 1.0) small[ns++] = i;
        else large[nl++] = i;
    }
    while (ns > 0 && nl > 0) { /* each pass retires one small column: ≤ n passes */
        uint32_t s = small[--ns], l = large[nl - 1];
        a->cut[s] = (uint64_t)(scaled[s] * 4294967296.0);
        a->alias[s] = l;
        scaled[l] -= 1.0 - scaled[s];
        if (scaled[l] < 1.0) {
            nl--;
            small[ns++] = l;
        }
    }
    while (nl > 0) a->cut[large[--nl]] = 1ull << 32;
    while (ns > 0) a->cut[small[--ns]] = 1ull << 32; /* rounding leftovers */
}

int inv_scn_alias_build(inv_scn_alias *a, const double *w, uint32_t n) {
    double sum = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (!(w[i] >= 0) || !isfinite(w[i])) return -EINVAL;
        sum += w[i];
    }
    if (n == 0 || !(sum > 0)) return -EINVAL;
    memset(a, 0, sizeof *a);
    a->n = n;
    a->alias = malloc((size_t)n * sizeof *a->alias);
    a->cut = malloc((size_t)n * sizeof *a->cut);
    double *scaled = malloc((size_t)n * sizeof *scaled);
    uint32_t *small = malloc((size_t)n * sizeof *small);
    uint32_t *large = malloc((size_t)n * sizeof *large);
    int rc = -ENOMEM;
    if (a->alias && a->cut && scaled && small && large) {
        for (uint32_t i = 0; i < n; i++) {
            scaled[i] = w[i] * (double)n / sum;
            a->alias[i] = i;
        }
        alias_fill(a, scaled, small, large);
        rc = 0;
    }
    free(scaled);
    free(small);
    free(large);
    if (rc != 0) inv_scn_alias_free(a);
    return rc;
}

/* ====================================================================================
 * Configuration
 * ==================================================================================== */
void inv_scenario_config_default(inv_scenario_config *c) {
    memset(c, 0, sizeof *c);
    c->seed = 42;
    c->nodes = 10000;
    c->skus = 100000;
    c->flash_skus = 8;
    c->customers = 1000000;
    c->zipf_s = 0.99;
    c->demand_orders = 8000000;
    c->stock_cover = 2.0;
    c->flash_nodes = 0;
    c->flash_units_max = 3;
    c->flash_limit = 2;
    c->hot_units = 0;
    c->cities_path = NULL;
}

static int config_check(const inv_scenario_config *c, char *err, size_t err_len) {
    const char *bad = NULL;
    if (c->nodes < 20 || c->nodes > 10000000) bad = "nodes must be 20..10000000";
    else if (c->skus < 1 || c->skus > 50000000) bad = "skus must be 1..50000000";
    else if (c->flash_skus > INV_SCN_FLASH_MAX) bad = "too many flash SKUs";
    else if (c->customers < 1 || c->customers > 99999999) bad = "customers: 1..99999999";
    else if (!(c->zipf_s > 0 && c->zipf_s < 10)) bad = "zipf_s must be in (0, 10)";
    else if (!(c->stock_cover > 0 && c->stock_cover < 1e6)) bad = "bad stock_cover";
    else if (c->flash_units_max < 1 || c->flash_units_max > 1000000) bad = "bad flash units";
    else if (c->hot_units > INV_QTY_MAX * 1000ull) bad = "hot_units too large";
    if (bad == NULL) return 0;
    set_err(err, err_len, "scenario config: %s", bad);
    return -EINVAL;
}

/* ====================================================================================
 * Cities (bench/data/cn_cities.csv: geonameid,name,admin1,lat,lon,population)
 * ==================================================================================== */
/* Split one CSV line into at most `max` fields in place; "..." quoting with "" as an
 * escaped quote. @return the field count, or -1 on a malformed quote. */
static int csv_split(char *line, char **fields, int max) {
    int n = 0;
    char *p = line;
    while (n < max) {
        char *w = p;
        fields[n++] = w;
        if (*p == '"') {
            p++;
            for (;;) { /* bounded by the NUL */
                if (*p == '\0') return -1;
                if (*p == '"' && p[1] == '"') { *w++ = '"'; p += 2; continue; }
                if (*p == '"') { p++; break; }
                *w++ = *p++;
            }
        } else {
            while (*p != ',' && *p != '\0' && *p != '\n' && *p != '\r') *w++ = *p++;
        }
        char c = *p;
        *w = '\0';
        if (c != ',') return n;
        p++;
    }
    return n;
}

static void slug_make(const char *name, char *slug) {
    size_t k = 0;
    for (size_t i = 0; name[i] != '\0' && k + 1 < INV_SCN_SLUG_LEN; i++) {
        char c = name[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
            slug[k++] = c;
    }
    if (k == 0) memcpy(slug, "city", 5);
    else slug[k] = '\0';
}

static int city_parse(char *line, inv_scn_city *c) {
    char *f[7];
    if (csv_split(line, f, 7) != 6) return -1;
    char *end;
    unsigned long id = strtoul(f[0], &end, 10);
    if (*end != '\0' || id > UINT32_MAX) return -1;
    double lat = strtod(f[3], &end);
    if (*end != '\0' || !(lat >= -90 && lat <= 90)) return -1;
    double lon = strtod(f[4], &end);
    if (*end != '\0' || !(lon >= -180 && lon <= 180)) return -1;
    unsigned long pop = strtoul(f[5], &end, 10);
    if (*end != '\0' || pop > UINT32_MAX) return -1; /* 0 occurs: never placed */
    if (f[1][0] == '\0' || strlen(f[2]) > INV_REGION_LEN_MAX) return -1;
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "%s", f[1]);
    snprintf(c->region, sizeof c->region, "%s", f[2]);
    slug_make(c->name, c->slug);
    c->geonameid = (uint32_t)id;
    c->lat = lat;
    c->lon = lon;
    c->population = (uint32_t)pop;
    return 0;
}

static int cities_read_file(inv_scenario *s, FILE *f, const char *path, char *err,
                            size_t err_len) {
    char line[CSV_LINE_MAX];
    if (fgets(line, sizeof line, f) == NULL || strncmp(line, "geonameid,name,", 15) != 0) {
        set_err(err, err_len, "%s: missing header 'geonameid,name,...'", path);
        return -EINVAL;
    }
    s->cities = malloc(CITIES_MAX * sizeof *s->cities);
    if (s->cities == NULL) return -ENOMEM;
    long lineno = 1;
    while (s->city_count < CITIES_MAX && fgets(line, sizeof line, f) != NULL) {
        lineno++;
        if (line[0] == '\n' || line[0] == '\r') continue;
        if (city_parse(line, &s->cities[s->city_count]) != 0) {
            set_err(err, err_len, "%s:%ld: malformed city line", path, lineno);
            return -EINVAL;
        }
        s->city_count++;
    }
    if (s->city_count == 0) {
        set_err(err, err_len, "%s: no cities", path);
        return -EINVAL;
    }
    return 0;
}

static int cities_read(inv_scenario *s, char *err, size_t err_len) {
    char path[4096];
    if (s->cfg.cities_path != NULL) snprintf(path, sizeof path, "%s", s->cfg.cities_path);
    else snprintf(path, sizeof path, "%s/cn_cities.csv", INV_BENCH_DATA_DIR);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        int e = errno;
        set_err(err, err_len, "cannot open city data %s: %s", path, strerror(e));
        return e == ENOENT ? -ENOENT : -EIO;
    }
    int rc = cities_read_file(s, f, path, err, err_len);
    fclose(f);
    return rc;
}

/* ====================================================================================
 * Nodes
 * ==================================================================================== */
typedef struct frac_ix {
    double frac;
    uint32_t i;
} frac_ix;

static int frac_cmp(const void *a, const void *b) {
    const frac_ix *x = a, *y = b;
    if (x->frac != y->frac) return x->frac > y->frac ? -1 : 1;
    return x->i < y->i ? -1 : (x->i > y->i);
}

/* Largest-remainder apportionment of `total` seats over weights w[0..n).
 * @return 0 or -ENOMEM. */
static int apportion(const double *w, uint32_t n, uint32_t total, uint32_t *out) {
    double sum = 0;
    for (uint32_t i = 0; i < n; i++) sum += w[i];
    memset(out, 0, (size_t)n * sizeof *out);
    if (total == 0 || !(sum > 0)) return 0;
    frac_ix *fx = malloc((size_t)n * sizeof *fx);
    if (fx == NULL) return -ENOMEM;
    uint64_t given = 0;
    for (uint32_t i = 0; i < n; i++) {
        double q = (double)total * w[i] / sum;
        out[i] = (uint32_t)floor(q);
        given += out[i];
        fx[i].frac = q - floor(q);
        fx[i].i = i;
    }
    qsort(fx, n, sizeof *fx, frac_cmp);
    for (uint32_t k = 0; given < total && k < n; k++, given++) out[fx[k].i]++;
    free(fx);
    return 0;
}

/* Jitter radius around a city centre: 3 km for a town, ~15 km for Shanghai. */
static double city_radius_km(const inv_scn_city *c) {
    return 3.0 + 12.0 * sqrt((double)c->population / 22000000.0);
}

static void place_near(const inv_scn_city *c, double radius_km, inv_scn_rng *r,
                       double *lat, double *lon) {
    double d = radius_km * sqrt(inv_scn_rng_unit(r));
    double a = 2.0 * M_PI * inv_scn_rng_unit(r);
    *lat = c->lat + d * sin(a) / 111.32;
    *lon = c->lon + d * cos(a) / (111.32 * cos(c->lat * M_PI / 180.0));
}

/* Per-city counts of warehouses, stores and lockers. */
typedef struct node_plan {
    uint32_t *wh, *st, *lk;
} node_plan;

static int warehouses_plan(const inv_scenario *s, uint32_t total, uint32_t *wh,
                           double *w) {
    uint32_t metros = 0;
    for (uint32_t i = 0; i < s->city_count; i++) {
        bool metro = s->cities[i].population >= METRO_POPULATION;
        w[i] = metro ? (double)s->cities[i].population : 0.0;
        metros += metro;
    }
    if (metros == 0 || total <= metros) {
        /* Fewer seats than metros (or none): the biggest cities get one each. */
        for (uint32_t i = 0; i < s->city_count; i++) w[i] = (double)s->cities[i].population;
        int rc = apportion(w, s->city_count, total, wh);
        for (uint32_t i = 0; i < s->city_count; i++) wh[i] = wh[i] > 0 ? 1 : 0;
        return rc;
    }
    int rc = apportion(w, s->city_count, total - metros, wh);
    for (uint32_t i = 0; i < s->city_count; i++) wh[i] += w[i] > 0 ? 1 : 0;
    return rc;
}

static int nodes_plan(const inv_scenario *s, node_plan *p) {
    uint32_t n = s->city_count, total = s->cfg.nodes;
    uint32_t w_total = total / 120;
    if (w_total < 1) w_total = 1;
    if (w_total > WAREHOUSES_MAX) w_total = WAREHOUSES_MAX;
    uint32_t l_total = (uint32_t)((uint64_t)total * 39 / 100);
    uint32_t s_total = total - w_total - l_total;
    double *w = calloc(n, sizeof *w);
    if (w == NULL) return -ENOMEM;
    int rc = warehouses_plan(s, w_total, p->wh, w);
    uint32_t wh_given = 0;
    for (uint32_t i = 0; i < n; i++) wh_given += p->wh[i];
    s_total += w_total - wh_given; /* too few metros: stores take the seats */
    for (uint32_t i = 0; i < n; i++) w[i] = (double)s->cities[i].population;
    if (rc == 0) rc = apportion(w, n, s_total, p->st);
    for (uint32_t i = 0; i < n; i++) {
        double pop = (double)s->cities[i].population;
        w[i] = pop >= LOCKER_CITY_POPULATION ? pow(pop, 1.5) : 0.0;
    }
    if (rc == 0) rc = apportion(w, n, l_total, p->lk);
    free(w);
    return rc;
}

static bool slug_seen_before(const inv_scenario *s, uint32_t city) {
    for (uint32_t i = 0; i < city; i++)
        if (strcmp(s->cities[i].slug, s->cities[city].slug) == 0) return true;
    return false;
}

static void node_make(inv_scenario *s, uint32_t city, inv_node_kind kind, uint32_t nth,
                      bool dup, inv_scn_rng *r) {
    static const char *const prefix[INV_NODE_KIND_COUNT] = {"WH", "ST", "LK"};
    assert(city < s->city_count);
    assert(s->node_count < s->cfg.nodes); /* apportioning never exceeds the total */
    const inv_scn_city *c = &s->cities[city];
    inv_scn_node *n = &s->nodes[s->node_count++];
    memset(n, 0, sizeof *n);
    if (dup) snprintf(n->id, sizeof n->id, "%s-%s-%u-%u", prefix[kind], c->slug,
                      c->geonameid, nth);
    else snprintf(n->id, sizeof n->id, "%s-%s-%u", prefix[kind], c->slug, nth);
    n->city = city;
    n->kind = kind;
    place_near(c, city_radius_km(c), r, &n->lat, &n->lon);
    n->ships = kind != INV_NODE_LOCKER;
    n->pickup = kind != INV_NODE_WAREHOUSE;
    n->priority = (uint32_t)kind + 1;
    if (kind == INV_NODE_STORE) n->capacity_per_day = 300 + inv_scn_rng_below(r, 1700);
    if (kind == INV_NODE_LOCKER) n->capacity_per_day = 50 + inv_scn_rng_below(r, 150);
    s->kind_count[kind]++;
}

static void nodes_place(inv_scenario *s, const node_plan *p, inv_scn_rng *r) {
    for (uint32_t c = 0; c < s->city_count; c++) {
        uint32_t counts[INV_NODE_KIND_COUNT] = {p->wh[c], p->st[c], p->lk[c]};
        if (counts[0] + counts[1] + counts[2] == 0) continue;
        bool dup = slug_seen_before(s, c);
        s->cities[c].pickup_first = s->node_count; /* fixed up in pickup_index */
        for (uint32_t k = 0; k < INV_NODE_KIND_COUNT; k++)
            for (uint32_t j = 0; j < counts[k]; j++)
                node_make(s, c, (inv_node_kind)k, j + 1, dup, r);
    }
}

/* Pickup-capable nodes grouped by city (nodes are already grouped by city). */
static int pickup_index(inv_scenario *s) {
    s->pickup = malloc(((size_t)s->node_count + 1) * sizeof *s->pickup);
    if (s->pickup == NULL) return -ENOMEM;
    uint32_t k = 0;
    for (uint32_t c = 0; c < s->city_count; c++) {
        s->cities[c].pickup_first = 0;
        s->cities[c].pickup_count = 0;
    }
    for (uint32_t i = 0; i < s->node_count; i++) {
        const inv_scn_node *n = &s->nodes[i];
        if (!n->pickup) continue;
        inv_scn_city *c = &s->cities[n->city];
        if (c->pickup_count == 0) c->pickup_first = k;
        c->pickup_count++;
        s->pickup[k++] = i;
    }
    return 0;
}

static int nodes_build(inv_scenario *s) {
    uint32_t n = s->city_count;
    node_plan p = {calloc(n, sizeof(uint32_t)), calloc(n, sizeof(uint32_t)),
                   calloc(n, sizeof(uint32_t))};
    int rc = -ENOMEM;
    s->nodes = malloc((size_t)s->cfg.nodes * sizeof *s->nodes);
    if (p.wh && p.st && p.lk && s->nodes) rc = nodes_plan(s, &p);
    if (rc == 0) {
        inv_scn_rng r;
        rng_stream(&r, s->cfg.seed, STREAM_NODES);
        nodes_place(s, &p, &r);
        if (s->node_count > s->cfg.nodes) rc = -EINVAL; /* apportioning never overshoots */
    }
    if (rc == 0) rc = pickup_index(s);
    free(p.wh);
    free(p.st);
    free(p.lk);
    return rc;
}

/* ====================================================================================
 * SKUs and stock
 * ==================================================================================== */
/* Node indices of some kind; sampling shuffles the prefix in place. */
typedef struct node_pool {
    uint32_t *v;
    uint32_t n;
} node_pool;

/* Partial Fisher–Yates: afterwards v[0..k) is a uniform random k-subset, whatever the
 * order the pool was in. */
static void pool_sample(node_pool *p, uint32_t k, inv_scn_rng *r) {
    assert(p->v != NULL || p->n == 0);
    if (k > p->n) k = p->n;
    for (uint32_t i = 0; i < k; i++) {
        uint32_t j = i + inv_scn_rng_below(r, p->n - i);
        uint32_t t = p->v[i];
        p->v[i] = p->v[j];
        p->v[j] = t;
    }
}

static int cell_add(inv_scenario *s, uint32_t *cap, uint32_t sku, uint32_t node,
                    uint64_t on_hand, uint32_t safety) {
    assert(sku < s->sku_count);
    assert(node < s->node_count);
    if (on_hand == 0) return 0;
    if (on_hand > INV_QTY_MAX) on_hand = INV_QTY_MAX;
    if (s->cell_count == *cap) {
        if (*cap >= (1u << 30)) return -ENOMEM;
        uint32_t ncap = *cap ? *cap * 2 : 65536;
        inv_scn_cell *nv = realloc(s->cells, (size_t)ncap * sizeof *nv);
        if (nv == NULL) return -ENOMEM;
        s->cells = nv;
        *cap = ncap;
    }
    inv_scn_cell *c = &s->cells[s->cell_count++];
    c->sku = sku;
    c->node = node;
    c->on_hand = (uint32_t)on_hand;
    c->safety = safety < on_hand ? safety : 0;
    s->units_total += on_hand;
    return 0;
}

static int skus_build(inv_scenario *s) {
    uint32_t reg = s->cfg.skus, fl = s->cfg.flash_skus;
    s->regular_count = reg;
    s->flash_first = reg;
    s->flash_count = fl;
    s->sku_count = reg + fl;
    s->sku_names = malloc((size_t)s->sku_count * INV_SCN_SKU_NAME_LEN);
    s->rank_sku = malloc((size_t)reg * sizeof *s->rank_sku);
    double *w = malloc((size_t)reg * sizeof *w);
    int rc = -ENOMEM;
    if (s->sku_names && s->rank_sku && w) {
        for (uint32_t i = 0; i < reg; i++)
            snprintf(s->sku_names + (size_t)i * INV_SCN_SKU_NAME_LEN, INV_SCN_SKU_NAME_LEN,
                     "SKU%07u", i);
        for (uint32_t f = 0; f < fl; f++)
            snprintf(s->sku_names + (size_t)(reg + f) * INV_SCN_SKU_NAME_LEN,
                     INV_SCN_SKU_NAME_LEN, "FLASH-%02u", f & 31u);
        inv_scn_rng r;
        rng_stream(&r, s->cfg.seed, STREAM_SKUS);
        for (uint32_t i = 0; i < reg; i++) s->rank_sku[i] = i;
        node_pool perm = {s->rank_sku, reg};
        pool_sample(&perm, reg, &r);
        for (uint32_t i = 0; i < reg; i++) w[i] = pow((double)i + 1.0, -s->cfg.zipf_s);
        rc = inv_scn_alias_build(&s->zipf, w, reg);
    }
    free(w);
    return rc;
}

/* Units one generated order asks for on average: E[lines] × E[qty]. */
static double units_per_order(void) {
    double lines = 0, qty = 0;
    for (uint32_t k = 0; k < INV_SCN_LINES_MAX; k++) lines += (k + 1) * LINE_COUNT_P[k];
    for (uint32_t k = 0; k < 3; k++) qty += (k + 1) * QTY_P[k];
    return lines * qty;
}

typedef struct stock_ctx {
    inv_scenario *s;
    node_pool wh, st, lk, ship;
    inv_scn_rng r;
    uint32_t cap;
} stock_ctx;

/* Put `units` of `sku` in n_st stores (small lots) and n_wh warehouses (the rest). */
static int sku_stock_place(stock_ctx *x, uint32_t sku, double units, uint32_t n_wh,
                           uint32_t n_st) {
    pool_sample(&x->st, n_st, &x->r);
    pool_sample(&x->wh, n_wh, &x->r);
    n_st = n_st < x->st.n ? n_st : x->st.n;
    n_wh = n_wh < x->wh.n ? n_wh : x->wh.n;
    double lot = n_st ? fmin(fmax(0.3 * units / n_st, 1.0), STORE_LOT_MAX) : 0;
    double placed = 0;
    int rc = 0;
    for (uint32_t j = 0; j < n_st && rc == 0; j++) {
        uint64_t u = (uint64_t)fmax(1.0, round(lot * (0.5 + inv_scn_rng_unit(&x->r))));
        uint32_t safety = (inv_scn_rng_unit(&x->r) < 0.03 && u >= 2) ? 1 : 0;
        rc = cell_add(x->s, &x->cap, sku, x->st.v[j], u, safety);
        placed += (double)u;
    }
    double rest = fmax(units - placed, (double)n_wh);
    for (uint32_t j = 0; j < n_wh && rc == 0; j++) {
        double per = rest / n_wh * (0.8 + 0.4 * inv_scn_rng_unit(&x->r));
        rc = cell_add(x->s, &x->cap, sku, x->wh.v[j], (uint64_t)fmax(1.0, round(per)), 0);
    }
    return rc;
}

static int stock_regular(stock_ctx *x) {
    const inv_scenario_config *c = &x->s->cfg;
    double h = 0;
    for (uint32_t i = 0; i < c->skus; i++) h += pow((double)i + 1.0, -c->zipf_s);
    double demand = (double)c->demand_orders * units_per_order();
    double wn = x->wh.n, sn = x->st.n;
    int rc = 0;
    for (uint32_t rank = 0; rank < c->skus && rc == 0; rank++) {
        double p = pow((double)rank + 1.0, -c->zipf_s) / h;
        double units = fmax(5.0 + inv_scn_rng_below(&x->r, 20), c->stock_cover * demand * p);
        uint32_t n_wh = 1 + inv_scn_rng_below(&x->r, 2) +
                        (uint32_t)(wn * 16.0 / (rank + 16.0));
        uint32_t n_st = inv_scn_rng_below(&x->r, 3) +
                        (uint32_t)(0.4 * sn * 8.0 / (rank + 8.0));
        if (x->wh.n == 0 && n_st == 0) n_st = 1; /* no warehouse at all: a store */
        rc = sku_stock_place(x, x->s->rank_sku[rank], units, n_wh, n_st);
    }
    return rc;
}

/* Lockers: a few popular SKUs each, 1–3 units. */
static int stock_lockers(stock_ctx *x) {
    int rc = 0;
    for (uint32_t i = 0; i < x->lk.n && rc == 0; i++) {
        uint32_t k = 2 + inv_scn_rng_below(&x->r, 4), got[6], n = 0;
        for (uint32_t t = 0; t < k * DISTINCT_TRIES_MAX && n < k; t++) {
            uint32_t sku = x->s->rank_sku[inv_scn_alias_draw(&x->s->zipf, &x->r)];
            bool seen = false;
            for (uint32_t j = 0; j < n; j++) seen |= got[j] == sku;
            if (seen) continue;
            got[n++] = sku;
            rc = cell_add(x->s, &x->cap, sku, x->lk.v[i], 1 + inv_scn_rng_below(&x->r, 3), 0);
        }
    }
    return rc;
}

/* Flash SKUs: small stock in many shipping nodes. */
static int stock_flash(stock_ctx *x) {
    inv_scenario *s = x->s;
    uint32_t n = s->cfg.flash_nodes ? s->cfg.flash_nodes : x->ship.n / 5;
    if (n < 1) n = 1;
    if (n > x->ship.n) n = x->ship.n;
    inv_scn_rng r;
    rng_stream(&r, s->cfg.seed, STREAM_FLASH);
    int rc = 0;
    for (uint32_t f = 0; f < s->flash_count && rc == 0; f++) {
        uint64_t before = s->units_total, cells = s->cell_count;
        uint64_t hot = (f == 0) ? s->cfg.hot_units : 0;
        node_pool *pool = &x->ship;
        uint32_t width = n;
        if (hot && s->cfg.hot_nodes) { /* warehouses first: no daily capacity cap */
            width = s->cfg.hot_nodes < x->ship.n ? s->cfg.hot_nodes : x->ship.n;
            if (width <= x->wh.n) pool = &x->wh;
        }
        pool_sample(pool, width, &r);
        for (uint32_t j = 0; j < width && rc == 0; j++) {
            uint64_t u = 1 + inv_scn_rng_below(&r, s->cfg.flash_units_max);
            if (hot) u = hot / width + (j < hot % width);
            rc = cell_add(s, &x->cap, s->flash_first + f, pool->v[j], u, 0);
        }
        s->flash_units[f] = s->units_total - before;
        s->flash_cells[f] = (uint32_t)(s->cell_count - cells);
    }
    return rc;
}

static int stock_build(inv_scenario *s) {
    stock_ctx x = {.s = s, .cap = 0};
    size_t bytes = (size_t)s->node_count * sizeof(uint32_t);
    x.wh.v = malloc(bytes);
    x.st.v = malloc(bytes);
    x.lk.v = malloc(bytes);
    x.ship.v = malloc(bytes);
    int rc = -ENOMEM;
    if (x.wh.v && x.st.v && x.lk.v && x.ship.v) {
        for (uint32_t i = 0; i < s->node_count; i++) {
            inv_node_kind k = s->nodes[i].kind;
            node_pool *p = k == INV_NODE_WAREHOUSE ? &x.wh : k == INV_NODE_STORE ? &x.st : &x.lk;
            p->v[p->n++] = i;
            if (s->nodes[i].ships) x.ship.v[x.ship.n++] = i;
        }
        rng_stream(&x.r, s->cfg.seed, STREAM_STOCK);
        rc = stock_regular(&x);
        if (rc == 0) rc = stock_lockers(&x);
        if (rc == 0) rc = stock_flash(&x);
    }
    free(x.wh.v);
    free(x.st.v);
    free(x.lk.v);
    free(x.ship.v);
    return rc;
}

/* ====================================================================================
 * Customers
 * ==================================================================================== */
static void customer_make(inv_scenario *s, uint32_t i, uint32_t city, inv_scn_rng *r) {
    const inv_scn_city *c = &s->cities[city];
    inv_scn_customer *cu = &s->customers[i];
    cu->city = city;
    place_near(c, 1.5 * city_radius_km(c), r, &cu->lat, &cu->lon);
    cu->pickup_node = INV_SCN_NONE;
    if (c->pickup_count > 0)
        cu->pickup_node = s->pickup[c->pickup_first + inv_scn_rng_below(r, c->pickup_count)];
    snprintf(s->customer_ids + (size_t)i * INV_SCN_CUSTOMER_ID_LEN, INV_SCN_CUSTOMER_ID_LEN,
             "C%08u", i);
}

static int customers_build(inv_scenario *s) {
    uint32_t n = s->cfg.customers;
    s->customers = malloc((size_t)n * sizeof *s->customers);
    s->customer_ids = malloc((size_t)n * INV_SCN_CUSTOMER_ID_LEN);
    double *w = malloc((size_t)s->city_count * sizeof *w);
    inv_scn_alias cities = {0};
    int rc = -ENOMEM;
    if (s->customers && s->customer_ids && w) {
        for (uint32_t i = 0; i < s->city_count; i++) w[i] = s->cities[i].population;
        rc = inv_scn_alias_build(&cities, w, s->city_count);
    }
    if (rc == 0) {
        inv_scn_rng r;
        rng_stream(&r, s->cfg.seed, STREAM_CUSTOMERS);
        for (uint32_t i = 0; i < n; i++) customer_make(s, i, inv_scn_alias_draw(&cities, &r), &r);
        s->customer_count = n;
    }
    inv_scn_alias_free(&cities);
    free(w);
    return rc;
}

/* ====================================================================================
 * Build and free
 * ==================================================================================== */
void inv_scenario_free(inv_scenario *s) {
    if (s == NULL) return;
    free(s->cities);
    free(s->nodes);
    free(s->pickup);
    free(s->sku_names);
    free(s->rank_sku);
    inv_scn_alias_free(&s->zipf);
    free(s->cells);
    free(s->customers);
    free(s->customer_ids);
    free(s);
}

int inv_scenario_build(inv_scenario **out, const inv_scenario_config *cfg, char *err,
                       size_t err_len) {
    *out = NULL;
    inv_scenario *s = calloc(1, sizeof *s);
    if (s == NULL) return -ENOMEM;
    if (cfg != NULL) s->cfg = *cfg;
    else inv_scenario_config_default(&s->cfg);
    int rc = config_check(&s->cfg, err, err_len);
    if (rc == 0) rc = cities_read(s, err, err_len);
    if (rc == 0 && (rc = nodes_build(s)) != 0) set_err(err, err_len, "placing nodes failed");
    if (rc == 0 && (rc = skus_build(s)) != 0) set_err(err, err_len, "building SKUs failed");
    if (rc == 0 && (rc = stock_build(s)) != 0) set_err(err, err_len, "placing stock failed");
    if (rc == 0 && (rc = customers_build(s)) != 0)
        set_err(err, err_len, "placing customers failed");
    if (rc != 0) {
        inv_scenario_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

/* ====================================================================================
 * Engine sizing and loading (public API only)
 * ==================================================================================== */
void inv_scenario_engine_config(const inv_scenario *s, inv_engine_config *cfg) {
    cfg->nodes_max = s->node_count + 256;
    cfg->skus_max = s->sku_count + 1024;
    cfg->cells_max = s->cell_count + s->cell_count / 8 + 4096;
}

void inv_scn_index_free(inv_scn_index *idx) {
    if (idx == NULL) return;
    free(idx->node_engine);
    free(idx->sku_engine);
    free(idx->node_scenario);
    memset(idx, 0, sizeof *idx);
}

static int load_fail(const inv_op *op, const char *what, const char *id, char *err,
                     size_t err_len) {
    set_err(err, err_len, "%s %s: %s (%s)", what, id, inv_status_name(op->status),
            op->message);
    return -EIO;
}

static int load_nodes(const inv_scenario *s, inv_engine *e, inv_op *op, inv_scn_index *ix,
                      char *err, size_t err_len) {
    for (uint32_t i = 0; i < s->node_count; i++) {
        const inv_scn_node *n = &s->nodes[i];
        memset(&op->in, 0, sizeof op->in);
        op->type = INV_OP_UPSERT_NODE;
        op->in.node = (inv_node_spec){
            .node_id = n->id, .kind = n->kind, .lat = n->lat, .lon = n->lon,
            .region = s->cities[n->city].region, .ships = n->ships, .pickup = n->pickup,
            .capacity_per_day = n->capacity_per_day, .priority = n->priority,
            .status = INV_NODE_ACTIVE};
        if (inv_engine_execute(e, op) != INV_OK)
            return load_fail(op, "upsert node", n->id, err, err_len);
        ix->node_engine[i] = op->out.node.node;
        if (op->out.node.node < ix->node_scenario_len) ix->node_scenario[op->out.node.node] = i;
    }
    inv_engine_catalog_publish(e);
    return 0;
}

static int load_cell(const inv_scenario *s, inv_engine *e, inv_op *op, inv_scn_index *ix,
                     const inv_scn_cell *c, char *err, size_t err_len) {
    const char *node = s->nodes[c->node].id, *sku = inv_scn_sku_name(s, c->sku);
    memset(&op->in, 0, sizeof op->in);
    op->type = INV_OP_ADJUST;
    op->in.adjust.node_id = node;
    op->in.adjust.sku = sku;
    op->in.adjust.delta = c->on_hand;
    if (inv_engine_execute(e, op) != INV_OK) return load_fail(op, "adjust", sku, err, err_len);
    ix->sku_engine[c->sku] = op->out.cell.sku;
    if (c->safety == 0) return 0;
    memset(&op->in, 0, sizeof op->in);
    op->type = INV_OP_SET_SAFETY;
    op->in.safety.node_id = node;
    op->in.safety.sku = sku;
    op->in.safety.safety = c->safety;
    if (inv_engine_execute(e, op) != INV_OK)
        return load_fail(op, "set safety", sku, err, err_len);
    return 0;
}

static int load_limits(const inv_scenario *s, inv_engine *e, inv_op *op, char *err,
                       size_t err_len) {
    if (s->cfg.flash_limit == 0) return 0;
    for (uint32_t f = 0; f < s->flash_count; f++) {
        const char *sku = inv_scn_sku_name(s, s->flash_first + f);
        memset(&op->in, 0, sizeof op->in);
        op->type = INV_OP_SET_LIMIT;
        op->in.limit.sku = sku;
        op->in.limit.limit_per_customer = s->cfg.flash_limit;
        if (inv_engine_execute(e, op) != INV_OK)
            return load_fail(op, "set limit", sku, err, err_len);
    }
    return 0;
}

static int index_alloc(const inv_scenario *s, inv_scn_index *ix) {
    memset(ix, 0, sizeof *ix);
    ix->node_scenario_len = s->node_count + 256;
    ix->node_engine = malloc((size_t)s->node_count * sizeof(uint32_t));
    ix->sku_engine = malloc((size_t)s->sku_count * sizeof(uint32_t));
    ix->node_scenario = malloc((size_t)ix->node_scenario_len * sizeof(uint32_t));
    if (!ix->node_engine || !ix->sku_engine || !ix->node_scenario) return -ENOMEM;
    memset(ix->node_engine, 0xff, (size_t)s->node_count * sizeof(uint32_t));
    memset(ix->sku_engine, 0xff, (size_t)s->sku_count * sizeof(uint32_t));
    memset(ix->node_scenario, 0xff, (size_t)ix->node_scenario_len * sizeof(uint32_t));
    return 0;
}

int inv_scenario_load(const inv_scenario *s, inv_engine *e, inv_scn_index *idx, char *err,
                      size_t err_len) {
    inv_scn_index local;
    inv_scn_index *ix = idx != NULL ? idx : &local;
    inv_op *op = calloc(1, sizeof *op);
    int rc = op ? index_alloc(s, ix) : -ENOMEM;
    if (rc != 0) set_err(err, err_len, "out of memory loading the scenario");
    if (rc == 0) rc = load_nodes(s, e, op, ix, err, err_len);
    for (uint32_t i = 0; rc == 0 && i < s->cell_count; i++)
        rc = load_cell(s, e, op, ix, &s->cells[i], err, err_len);
    if (rc == 0) rc = load_limits(s, e, op, err, err_len);
    free(op);
    if (rc != 0 || idx == NULL) inv_scn_index_free(ix);
    return rc;
}

/* ====================================================================================
 * CSV export (for invctl load-nodes / load-stock)
 * ==================================================================================== */
static int csv_close(FILE *f, const char *path, char *err, size_t err_len) {
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        set_err(err, err_len, "writing %s failed", path);
        return -EIO;
    }
    return 0;
}

static FILE *csv_open(const char *path, char *err, size_t err_len) {
    FILE *f = fopen(path, "w");
    if (f == NULL) set_err(err, err_len, "cannot create %s: %s", path, strerror(errno));
    return f;
}

int inv_scenario_write_nodes_csv(const inv_scenario *s, const char *path, char *err,
                                 size_t err_len) {
    FILE *f = csv_open(path, err, err_len);
    if (f == NULL) return -EIO;
    fprintf(f, "node_id,kind,lat,lon,region,ships,pickup,capacity_per_day,priority,status\n");
    for (uint32_t i = 0; i < s->node_count; i++) {
        const inv_scn_node *n = &s->nodes[i];
        fprintf(f, "%s,%s,%.6f,%.6f,%s,%d,%d,%u,%u,%s\n", n->id, inv_node_kind_name(n->kind),
                n->lat, n->lon, s->cities[n->city].region, n->ships, n->pickup,
                n->capacity_per_day, n->priority, inv_node_status_name(INV_NODE_ACTIVE));
    }
    return csv_close(f, path, err, err_len);
}

int inv_scenario_write_stock_csv(const inv_scenario *s, const char *path, char *err,
                                 size_t err_len) {
    FILE *f = csv_open(path, err, err_len);
    if (f == NULL) return -EIO;
    fprintf(f, "node_id,sku,on_hand,safety\n");
    for (uint32_t i = 0; i < s->cell_count; i++) {
        const inv_scn_cell *c = &s->cells[i];
        fprintf(f, "%s,%s,%u,%u\n", s->nodes[c->node].id, inv_scn_sku_name(s, c->sku),
                c->on_hand, c->safety);
    }
    return csv_close(f, path, err, err_len);
}

/* ====================================================================================
 * Orders
 * ==================================================================================== */
void inv_scn_order_config_default(inv_scn_order_config *oc) {
    memset(oc, 0, sizeof *oc);
    oc->seed = 1;
    oc->count = 1000;
    oc->id_prefix = "o";
    oc->flash_share = 0.01;
    oc->pickup_share = 0.02;
}

/* prefix + lower-case hex of n (no leading zeros). */
static void order_id_write(char *dst, const char *prefix, size_t prefix_len, uint64_t n) {
    char tmp[17];
    int k = 0;
    do {
        tmp[k++] = "0123456789abcdef"[n & 15];
        n >>= 4;
    } while (n != 0 && k < 16);
    memcpy(dst, prefix, prefix_len);
    for (int i = 0; i < k; i++) dst[prefix_len + (size_t)i] = tmp[k - 1 - i];
    dst[prefix_len + (size_t)k] = '\0';
}

static uint8_t draw_index(const double *p, uint32_t n, inv_scn_rng *r) {
    double u = inv_scn_rng_unit(r);
    for (uint32_t k = 0; k + 1 < n; k++) {
        if (u < p[k]) return (uint8_t)k;
        u -= p[k];
    }
    return (uint8_t)(n - 1);
}

static void order_lines(const inv_scenario *s, const inv_scn_order_config *oc,
                        inv_scn_order *o, inv_scn_rng *r) {
    uint32_t want = 1u + draw_index(LINE_COUNT_P, INV_SCN_LINES_MAX, r), n = 0;
    if (s->flash_count > 0 && inv_scn_rng_unit(r) < oc->flash_share) {
        uint32_t f = inv_scn_rng_below(r, s->flash_count);
        o->sku[n] = s->flash_first + f;
        o->qty[n++] = 1;
        o->flash = (uint8_t)(f + 1);
    }
    for (uint32_t t = 0; t < want * DISTINCT_TRIES_MAX && n < want; t++) {
        uint32_t sku = s->rank_sku[inv_scn_alias_draw(&s->zipf, r)];
        bool seen = false;
        for (uint32_t j = 0; j < n; j++) seen |= o->sku[j] == sku;
        if (seen) continue;
        o->sku[n] = sku;
        o->qty[n++] = (uint8_t)(1u + draw_index(QTY_P, 3, r));
    }
    o->line_count = (uint8_t)n;
}

static void order_make(const inv_scenario *s, const inv_scn_order_config *oc,
                       inv_scn_order *o, inv_scn_rng *r) {
    memset(o->sku, 0, sizeof o->sku);
    memset(o->qty, 0, sizeof o->qty);
    o->flash = 0;
    o->customer = inv_scn_rng_below(r, s->customer_count);
    const inv_scn_customer *cu = &s->customers[o->customer];
    memcpy(o->customer_id, inv_scn_customer_id(s, o->customer), INV_SCN_CUSTOMER_ID_LEN);
    o->lat = (float)cu->lat;
    o->lon = (float)cu->lon;
    if (oc->hot) {
        o->sku[0] = oc->hot_sku;
        o->qty[0] = 1;
        o->line_count = 1;
        if (oc->hot_sku >= s->flash_first && oc->hot_sku < s->flash_first + s->flash_count)
            o->flash = (uint8_t)(oc->hot_sku - s->flash_first + 1);
    } else {
        order_lines(s, oc, o, r);
    }
    assert(o->line_count >= 1 && o->line_count <= INV_SCN_LINES_MAX);
    o->pickup_node = INV_SCN_NONE;
    uint32_t home = cu->pickup_node;
    if (!oc->hot && home != INV_SCN_NONE && inv_scn_rng_unit(r) < oc->pickup_share)
        o->pickup_node = home;
    double u = inv_scn_rng_unit(r);
    o->after = u < oc->commit_share ? INV_SCN_AFTER_COMMIT
             : u < oc->commit_share + oc->release_share ? INV_SCN_AFTER_RELEASE
                                                         : INV_SCN_AFTER_NONE;
}

static int order_config_check(const inv_scenario *s, const inv_scn_order_config *oc) {
    if (oc->count == 0 || oc->id_prefix == NULL || strlen(oc->id_prefix) > 12) return -EINVAL;
    if (oc->hot && oc->hot_sku >= s->sku_count) return -EINVAL;
    if (!oc->hot && s->regular_count == 0) return -EINVAL;
    if (oc->commit_share + oc->release_share > 1.0) return -EINVAL;
    return 0;
}

int inv_scn_orders_make(const inv_scenario *s, const inv_scn_order_config *oc,
                        inv_scn_order **out) {
    *out = NULL;
    if (order_config_check(s, oc) != 0) return -EINVAL;
    inv_scn_order *v = malloc((size_t)oc->count * sizeof *v);
    if (v == NULL) return -ENOMEM;
    inv_scn_rng r;
    inv_scn_rng_seed(&r, oc->seed);
    size_t plen = strlen(oc->id_prefix);
    uint64_t counter = 0;
    for (uint32_t i = 0; i < oc->count; i++) {
        order_make(s, oc, &v[i], &r);
        uint32_t t = 0;
        do {
            order_id_write(v[i].order_id, oc->id_prefix, plen, counter++);
        } while (oc->accept && !oc->accept(oc->accept_ctx, v[i].order_id) &&
                 ++t < INV_SCN_ACCEPT_TRIES_MAX);
        if (t == INV_SCN_ACCEPT_TRIES_MAX) {
            free(v);
            return -EINVAL;
        }
    }
    *out = v;
    return 0;
}

void inv_scn_reserve_fill(const inv_scenario *s, const inv_scn_order *o, uint64_t ttl_ms,
                          inv_line *lines, inv_op *op) {
    assert(o->line_count >= 1 && o->line_count <= INV_SCN_LINES_MAX);
    assert(o->customer < s->customer_count);
    inv_reserve_args *a = &op->in.reserve;
    op->type = INV_OP_RESERVE;
    a->order_id = o->order_id;
    a->customer_id = o->customer_id;
    a->dest.has_point = true;
    a->dest.lat = o->lat;
    a->dest.lon = o->lon;
    a->dest.pickup_node_id = NULL;
    a->policy = INV_ROUTE_NEAREST;
    if (o->pickup_node != INV_SCN_NONE) {
        a->dest.pickup_node_id = s->nodes[o->pickup_node].id;
        a->policy = INV_ROUTE_PICKUP;
    }
    for (uint32_t k = 0; k < o->line_count; k++) {
        lines[k].sku = inv_scn_sku_name(s, o->sku[k]);
        lines[k].qty = o->qty[k];
    }
    a->lines = lines;
    a->line_count = o->line_count;
    a->ttl_ms = ttl_ms;
    a->max_parcels = 0;
    a->max_distance_km = 0;
}

double inv_scn_distance_km(double lat1, double lon1, double lat2, double lon2) {
    const double rad = M_PI / 180.0;
    double dlat = (lat2 - lat1) * rad, dlon = (lon2 - lon1) * rad;
    double a = sin(dlat / 2) * sin(dlat / 2) +
               cos(lat1 * rad) * cos(lat2 * rad) * sin(dlon / 2) * sin(dlon / 2);
    return 2.0 * 6371.0088 * asin(fmin(1.0, sqrt(a)));
}
