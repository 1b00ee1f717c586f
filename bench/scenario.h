/*
 * scenario.h — a deterministic, China-wide flash-sale scenario for benchmarks and demos.
 *
 * From a seed and bench/data/cn_cities.csv (GeoNames, CC BY 4.0) it builds:
 *   - fulfillment nodes: warehouses in the largest metros (cities above 1 M people),
 *     stores apportioned by population, lockers dense in big cities; each a few km
 *     from its city centre; region = the city's admin1 (province) code;
 *   - regular SKUs with Zipf(s) popularity (a random permutation maps popularity rank
 *     to SKU, so popular SKUs are spread over the id space), stocked sparsely: most in
 *     one or two warehouses and a few stores, the popular ones much wider;
 *   - a handful of flash-sale SKUs with small stock in many nodes and a per-customer
 *     purchase limit;
 *   - customers placed by population (a few km of jitter), each with a home pickup node
 *     in its city when the city has one;
 *   - orders: 1–5 lines of distinct SKUs drawn by Zipf, quantity mostly 1, or every
 *     order for one hot SKU. Orders are generated into an array before any timing, so
 *     the generator never competes with the engine being measured.
 *
 * Determinism: everything comes from xoshiro256** streams seeded with splitmix64 from
 * the configured seed (no rand()); the same seed and sizes give the same scenario and
 * the same orders on every machine.
 *
 * Memory: a scenario holds ~16 B per stock cell, 16 B per SKU name, 40 B per customer;
 * an order is 84 B with its lines, customer id and destination inline (no pointers), so
 * millions fit comfortably.
 *
 * Feeding an engine: inv_scenario_load() drives the public API only (UpsertNode,
 * catalog publish, Adjust, SetSafety, SetLimit through inv_engine_execute).
 */
#ifndef INV_SCENARIO_H
#define INV_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "inv_engine.h"

#define INV_SCN_NONE UINT32_MAX
/* Lines in a generated order: checkout baskets of 1–5 distinct SKUs. */
#define INV_SCN_LINES_MAX 5u
/* Storage stride of a SKU name, customer id, order id, with the NUL. */
#define INV_SCN_SKU_NAME_LEN 16u
#define INV_SCN_CUSTOMER_ID_LEN 16u
#define INV_SCN_ORDER_ID_LEN 24u
/* Node ids: "ST-" + city slug (≤ 20) + optional "-<geonameid>" + "-<n>". */
#define INV_SCN_NODE_ID_LEN 48u
#define INV_SCN_CITY_NAME_LEN 48u
#define INV_SCN_SLUG_LEN 21u
/* Flash-sale SKUs at most (they are listed in reports one by one). */
#define INV_SCN_FLASH_MAX 32u

_Static_assert(INV_SCN_LINES_MAX <= INV_LINES_MAX, "generated orders fit the engine");
_Static_assert(INV_SCN_NODE_ID_LEN <= INV_ID_LEN_MAX, "node ids fit the engine");
_Static_assert(INV_SCN_ORDER_ID_LEN <= INV_ID_LEN_MAX, "order ids fit the engine");

/* ------------------------------------------------------------------------------------
 * Random numbers: xoshiro256** seeded by splitmix64.
 * ------------------------------------------------------------------------------------ */
typedef struct inv_scn_rng {
    uint64_t s[4];
} inv_scn_rng;

/* Seed a stream; different `seed`s give independent-looking streams. */
void inv_scn_rng_seed(inv_scn_rng *r, uint64_t seed);

static inline uint64_t inv_scn_rotl(uint64_t x, int k) {
    return (x << k) | (x >> (64 - k));
}

static inline uint64_t inv_scn_rng_next(inv_scn_rng *r) {
    uint64_t *s = r->s;
    uint64_t out = inv_scn_rotl(s[1] * 5u, 7) * 9u;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = inv_scn_rotl(s[3], 45);
    return out;
}

/* Uniform in [0, 1). */
static inline double inv_scn_rng_unit(inv_scn_rng *r) {
    return (double)(inv_scn_rng_next(r) >> 11) * 0x1.0p-53;
}

/* Uniform in [0, n), n ≥ 1 (multiply-shift; the bias is below 2^-32). */
static inline uint32_t inv_scn_rng_below(inv_scn_rng *r, uint32_t n) {
    return (uint32_t)(((inv_scn_rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

/* ------------------------------------------------------------------------------------
 * Discrete sampling in O(1): Walker/Vose alias table.
 * ------------------------------------------------------------------------------------ */
typedef struct inv_scn_alias {
    uint32_t n;
    uint32_t *alias; /* the other outcome of column i */
    uint64_t *cut;   /* keep column i when the low 32 random bits are below cut[i] */
} inv_scn_alias;

/* Build a table for weights w[0..n) (non-negative, positive sum).
 * @return 0, -EINVAL (bad weights), -ENOMEM. */
int inv_scn_alias_build(inv_scn_alias *a, const double *w, uint32_t n);
void inv_scn_alias_free(inv_scn_alias *a);

static inline uint32_t inv_scn_alias_draw(const inv_scn_alias *a, inv_scn_rng *r) {
    uint64_t x = inv_scn_rng_next(r);
    uint32_t i = (uint32_t)(((x >> 32) * (uint64_t)a->n) >> 32);
    return (x & 0xffffffffu) < a->cut[i] ? i : a->alias[i];
}

/* ------------------------------------------------------------------------------------
 * The scenario.
 * ------------------------------------------------------------------------------------ */
typedef struct inv_scenario_config {
    uint64_t seed;
    uint32_t nodes;          /* fulfillment nodes in total (≈1 % warehouses) */
    uint32_t skus;           /* regular SKUs */
    uint32_t flash_skus;     /* flash-sale SKUs, ≤ INV_SCN_FLASH_MAX */
    uint32_t customers;
    double zipf_s;           /* popularity exponent (0.99) */
    /* Stock is sized so that `demand_orders` Zipf orders find about `stock_cover`
     * times the units they ask for, SKU by SKU. */
    uint64_t demand_orders;
    double stock_cover;
    uint32_t flash_nodes;    /* nodes holding each flash SKU (0: 20 % of shippers) */
    uint32_t flash_units_max;/* units of a flash SKU per node: 1..this */
    uint32_t flash_limit;    /* per-customer purchase limit on flash SKUs (0: none) */
    uint64_t hot_units;      /* >0: the first flash SKU holds this many units in all */
    uint32_t hot_nodes;      /* with hot_units: held by this many nodes (0: flash_nodes) */
    const char *cities_path; /* NULL: INV_BENCH_DATA_DIR/cn_cities.csv */
} inv_scenario_config;

void inv_scenario_config_default(inv_scenario_config *c);

typedef struct inv_scn_city {
    char name[INV_SCN_CITY_NAME_LEN];
    char slug[INV_SCN_SLUG_LEN];         /* ASCII letters and digits of the name */
    char region[INV_REGION_LEN_MAX + 1]; /* admin1 code */
    double lat, lon;
    uint32_t population;
    uint32_t geonameid;
    uint32_t pickup_first, pickup_count; /* its pickup nodes in inv_scenario.pickup */
} inv_scn_city;

typedef struct inv_scn_node {
    char id[INV_SCN_NODE_ID_LEN];
    uint32_t city;
    inv_node_kind kind;
    double lat, lon;
    bool ships, pickup;
    uint32_t capacity_per_day;
    uint32_t priority;
} inv_scn_node;

typedef struct inv_scn_cell {
    uint32_t sku, node;      /* scenario indices */
    uint32_t on_hand, safety;
} inv_scn_cell;

typedef struct inv_scn_customer {
    double lat, lon;
    uint32_t city;
    uint32_t pickup_node;    /* home pickup node, INV_SCN_NONE if the city has none */
} inv_scn_customer;

typedef struct inv_scenario {
    inv_scenario_config cfg;
    uint32_t city_count;
    inv_scn_city *cities;
    uint32_t node_count;
    inv_scn_node *nodes;
    uint32_t kind_count[INV_NODE_KIND_COUNT];
    uint32_t *pickup;        /* pickup-capable nodes grouped by city */
    /* SKUs: regular ones are [0, regular_count), flash ones follow. */
    uint32_t sku_count, regular_count, flash_first, flash_count;
    char *sku_names;         /* stride INV_SCN_SKU_NAME_LEN */
    uint32_t *rank_sku;      /* popularity rank → regular SKU */
    inv_scn_alias zipf;      /* draws a popularity rank */
    uint32_t cell_count;
    inv_scn_cell *cells;
    uint64_t units_total;    /* Σ on_hand over all cells */
    uint64_t flash_units[INV_SCN_FLASH_MAX];
    uint32_t flash_cells[INV_SCN_FLASH_MAX];
    uint32_t customer_count;
    inv_scn_customer *customers;
    char *customer_ids;      /* stride INV_SCN_CUSTOMER_ID_LEN */
} inv_scenario;

/* Build a scenario.
 * @param[out] out  the scenario (free with inv_scenario_free)
 * @param cfg       sizes and seed (NULL: defaults)
 * @param err       receives a readable reason on failure (may be NULL)
 * @return 0, -ENOENT (no city file), -EINVAL (bad file or config), -ENOMEM. */
int inv_scenario_build(inv_scenario **out, const inv_scenario_config *cfg, char *err,
                       size_t err_len);
void inv_scenario_free(inv_scenario *s);

static inline const char *inv_scn_sku_name(const inv_scenario *s, uint32_t sku) {
    return s->sku_names + (size_t)sku * INV_SCN_SKU_NAME_LEN;
}
static inline const char *inv_scn_customer_id(const inv_scenario *s, uint32_t c) {
    return s->customer_ids + (size_t)c * INV_SCN_CUSTOMER_ID_LEN;
}

/* Size an engine for the scenario: sets nodes_max, skus_max, cells_max (with head room)
 * and leaves every other field as it is. */
void inv_scenario_engine_config(const inv_scenario *s, inv_engine_config *cfg);

/* Where the scenario's nodes and SKUs landed in an engine. */
typedef struct inv_scn_index {
    uint32_t *node_engine;   /* scenario node → engine node index */
    uint32_t *sku_engine;    /* scenario SKU → engine SKU index */
    uint32_t *node_scenario; /* engine node → scenario node (INV_SCN_NONE: unknown) */
    uint32_t node_scenario_len;
} inv_scn_index;

/* Load the scenario into a fresh engine in direct mode: UpsertNode for every node,
 * catalog publish, Adjust (delta) for every cell, SetSafety where set, SetLimit on the
 * flash SKUs.
 * @param idx  filled with the id mapping (may be NULL); free with inv_scn_index_free
 * @return 0, or -EIO when the engine refused an op (reason in err). */
int inv_scenario_load(const inv_scenario *s, inv_engine *e, inv_scn_index *idx,
                      char *err, size_t err_len);
void inv_scn_index_free(inv_scn_index *idx);

/* Write the nodes as CSV: node_id,kind,lat,lon,region,ships,pickup,capacity_per_day,
 * priority,status (header first; kind and status as upper-case names; 0/1 flags).
 * @return 0 or a negative errno (reason in err). */
int inv_scenario_write_nodes_csv(const inv_scenario *s, const char *path, char *err,
                                 size_t err_len);
/* Write the stock as CSV: node_id,sku,on_hand,safety (header first). */
int inv_scenario_write_stock_csv(const inv_scenario *s, const char *path, char *err,
                                 size_t err_len);

/* ------------------------------------------------------------------------------------
 * Orders.
 * ------------------------------------------------------------------------------------ */
/* What the caller does once the reserve succeeded (checkout's next step). */
typedef enum inv_scn_after {
    INV_SCN_AFTER_NONE = 0,    /* leave HELD (or let it expire) */
    INV_SCN_AFTER_COMMIT = 1,  /* paid */
    INV_SCN_AFTER_RELEASE = 2, /* cancelled */
} inv_scn_after;

/* Everything a reserve needs is inline (customer id, destination), so that submitting
 * orders streams through memory like requests arriving off the wire, instead of
 * missing cache on a customer table the engine under test never sees. */
typedef struct inv_scn_order {
    char order_id[INV_SCN_ORDER_ID_LEN];
    char customer_id[INV_SCN_CUSTOMER_ID_LEN];
    float lat, lon;          /* destination: the customer's place (±2 m as float) */
    uint32_t customer;
    uint32_t pickup_node;    /* scenario node for a PICKUP order, else INV_SCN_NONE */
    uint32_t sku[INV_SCN_LINES_MAX];
    uint8_t qty[INV_SCN_LINES_MAX];
    uint8_t line_count;
    uint8_t after;           /* inv_scn_after */
    uint8_t flash;           /* flash SKU ordinal + 1 of its flash line, 0: none */
} inv_scn_order;

typedef struct inv_scn_order_config {
    uint64_t seed;
    uint32_t count;
    const char *id_prefix;   /* order ids are prefix + hex counter; ≤ 12 bytes */
    bool hot;                /* every order: one line of `hot_sku`, qty 1 */
    uint32_t hot_sku;        /* scenario SKU */
    double flash_share;      /* orders that carry a flash SKU line */
    double pickup_share;     /* orders picked up at the customer's home pickup node */
    double commit_share;     /* after = COMMIT */
    double release_share;    /* after = RELEASE */
    /* Optional filter on order ids (e.g. "owned by shard k"); ids it rejects are
     * skipped. At most INV_SCN_ACCEPT_TRIES_MAX ids are tried per order. */
    bool (*accept)(void *ctx, const char *order_id);
    void *accept_ctx;
} inv_scn_order_config;

#define INV_SCN_ACCEPT_TRIES_MAX 4096u

void inv_scn_order_config_default(inv_scn_order_config *oc);

/* Generate `oc->count` orders into a new array (free()).
 * @return 0, -EINVAL (bad config, or the accept filter refused too often), -ENOMEM. */
int inv_scn_orders_make(const inv_scenario *s, const inv_scn_order_config *oc,
                        inv_scn_order **out);

/* Fill `op` as the RESERVE of order `o`, touching only the fields a reserve reads.
 * @param lines  INV_SCN_LINES_MAX entries, valid as long as the op is in flight. */
void inv_scn_reserve_fill(const inv_scenario *s, const inv_scn_order *o, uint64_t ttl_ms,
                          inv_line *lines, inv_op *op);

/* Great-circle distance in km (haversine). */
double inv_scn_distance_km(double lat1, double lon1, double lat2, double lon2);

#endif /* INV_SCENARIO_H */
