/*
 * route.c — choosing the node(s) that ship an order (route.h, DESIGN.md §4).
 *
 * route_plan_make reads stock with atomic loads, takes nothing and allocates nothing:
 * all its memory is the shard's route_scratch. Two parts.
 *
 * 1. Gather: find every (node, line) with stock and keep the nodes in a pool of rows
 *    (≤ ROUTE_POOL_MAX), each with its units per line capped at the line's qty. A
 *    node → row hash, stamped per request so that it is never cleared, keeps a node to
 *    one row and remembers rejected nodes.
 *      - A SKU in ≤ INV_SKU_SCAN_CELLS_MAX cells: walk its cell list (next cell
 *        prefetched; every line's SKU record and first cell prefetched up front).
 *      - A wider SKU: look it up at the pool's nodes, then at the nodes of the
 *        destination's grid cell (geo.c) in order of distance from the destination
 *        (a small heap on the list's own vectors). With a narrow line in the order,
 *        every node that could hold it all is in the pool already, so the list is only
 *        needed when none does. Once some node holds the whole order, only list nodes
 *        that could still beat it are looked at: km ≥ R·chord (asin x ≥ x) bounds
 *        their cost before their exact cost is computed, all from the snapshot.
 *        Look-ups go in batches whose index slots and cells are prefetched together.
 *        A wide line the list does not cover has its whole cell list walked instead;
 *        if every line is wide and covered but no node seen holds them all, the
 *        narrowest line's list is walked for one that does (one parcel beats a split).
 *    Node checks are lazy. The snapshot answers capability, distance and cost; status
 *    and capacity are live (node_rec) and read only when they can change the answer:
 *    when a row first holds every line and would beat the best such row, or when a
 *    split or a shortage needs every row. The best whole-order row is tracked as rows
 *    fill, so the common order (one node has it all) needs no sort and no search.
 *    When the pool fills, rows are ranked in a worst-on-top heap and a new node gets a
 *    row only if it ranks before the worst; the others' units count outside the pool.
 *
 * 2. Choose, by policy:
 *    NEAREST   the cheapest whole-order node. Else a split: the pool's rows in cost
 *              order, leaving out any row that max_parcels earlier rows each dominate
 *              (offer ≥ on every line: a cover holding it can swap one of them in for
 *              no more cost), up to INV_ROUTE_CANDIDATES_MAX candidates. Two greedy
 *              covers (units per cost; units) give g parcels; an exact branch and bound
 *              then looks for a cover of k = 2..g-1 parcels, and at k = g for a cheaper
 *              one, bounded by the greedy cost. It prunes a branch when its cost plus
 *              the cheapest completion cannot beat the best (with all later siblings:
 *              candidates are sorted by cost) or when the r picks left cannot meet some
 *              line even with that line's r largest later offers. It searches the first
 *              C_k candidates, C_k grown in chunks charged with the subsets actually
 *              evaluated, all within INV_ROUTE_SUBSETS_MAX (and a cap on partial
 *              subsets visited). If the budget cut it short, greedy covers forced to
 *              start at each of the cheapest candidates compete, and the winner gets
 *              cheaper single swaps while it still covers.
 *    SINGLE    the whole-order node or NO_ROUTE.
 *    PRIORITY  ranking by (priority, cost): the first whole-order node, else nodes in
 *              that order while they add something, up to max_parcels.
 *    PICKUP    rq->pickup_node only; when it cannot serve (short, inactive, at
 *              capacity), the nearest ACTIVE pickup nodes with capacity holding every
 *              line are named as alternatives.
 *    A split fills each line from its first node on (cheapest, or first-ranked), and
 *    counts parcels and cost from the entries made; a node's entries stay adjacent.
 *
 * Outcomes: OK; INSUFFICIENT_STOCK when some line's units at eligible in-range nodes
 * fall short (shortfall per line; units of nodes kept out of a full pool count without
 * their live fields read); NO_ROUTE when no eligible in-range node holds any of an
 * order whose stock exists, or no cover fits max_parcels (one node for SINGLE).
 * sku_exhausted[i]: the whole cell list of line i's SKU was walked and no cell had a
 * unit available, whatever the node filters.
 *
 * The plan is a snapshot of moving stock: resv.c takes it with one CAS per entry and
 * plans again if it loses a race. Every loop is bounded by a constant of
 * inv_constants.h or of this file, except the walk of a wide SKU's whole cell list,
 * bounded by the SKU's cell count. No recursion.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "route.h"

/* Nodes with stock one request keeps (4 × the candidates: room to choose the cheapest
 * of several lines' holders). */
#define ROUTE_POOL_MAX 256u
/* node → row hash; rebuilt from the pool (dropping cached rejections) at half load. */
#define ROUTE_HASH_BITS 11u
#define ROUTE_HASH_SLOTS (1u << ROUTE_HASH_BITS)
#define ROW_REJECT 0xffffu  /* node failed a filter */
#define ROW_DROPPED 0xfffeu /* eligible, but costlier than every pool row (pool full) */
/* Cells walked for a narrow SKU: its cell count plus slack for cells created while we
 * walk (the list is prepend-only, so new ones come first). */
#define ROUTE_SCAN_WALK_MAX (2u * INV_SKU_SCAN_CELLS_MAX)
/* Search steps (partial subsets visited) per order: a hard stop besides the budget of
 * complete subsets, since pruned branches cost steps but evaluate no subset. */
#define ROUTE_SEARCH_STEPS_MAX (2u * INV_ROUTE_SUBSETS_MAX)
/* Greedy covers tried from each of the cheapest this many candidates as first pick. */
#define ROUTE_GREEDY_STARTS 16u
/* (node, line) stock look-ups resolved together, so that their cache misses overlap. */
#define ROUTE_BATCH_MAX 64u

_Static_assert(ROUTE_POOL_MAX >= INV_ROUTE_CANDIDATES_MAX, "candidates come from the pool");
_Static_assert(ROUTE_POOL_MAX < ROW_DROPPED, "row numbers and markers are distinct");
_Static_assert(ROUTE_HASH_SLOTS >= 4 * ROUTE_POOL_MAX, "the hash stays under half full");
_Static_assert(INV_LINES_MAX <= 32, "line masks fit 32 bits");
_Static_assert(INV_ROUTE_CANDIDATES_MAX <= 64, "candidate masks fit 64 bits");
_Static_assert(INV_PARCELS_MAX <= 255, "picks fit a byte");
_Static_assert(ROUTE_BATCH_MAX >= 2 * INV_LINES_MAX, "a batch holds two nodes' lines");

/* A pool row's node is checked (node_check) lazily: when the row first holds every
 * line, or when a split or a shortage needs every row, or once the pool is full. */
enum { ROW_UNCHECKED = 0, ROW_OK = 1, ROW_BAD = 2 };

typedef struct pool_row {
    uint32_t node;
    uint32_t full;     /* lines this node holds in full */
    uint32_t priority; /* checked rows; UINT32_MAX when BAD */
    uint32_t state;    /* ROW_UNCHECKED, ROW_OK (eligible) or ROW_BAD */
    double cost;       /* checked rows: parcel cost to the destination; BAD: infinity */
} pool_row;

/* A set of candidates (indices into the sorted candidate table, ascending). */
typedef struct route_pick {
    uint32_t count;
    uint8_t idx[INV_PARCELS_MAX];
    double cost;
} route_pick;

struct route_scratch {
    uint32_t stamp;     /* hash entries of other stamps are empty */
    uint32_t hash_used;
    uint32_t pool_count;
    uint16_t worst[ROUTE_POOL_MAX]; /* full pool: rows as a heap, worst-ranked on top */
    uint64_t hash_key[ROUTE_HASH_SLOTS]; /* stamp << 32 | node */
    uint16_t hash_val[ROUTE_HASH_SLOTS]; /* row, ROW_REJECT or ROW_DROPPED */
    pool_row pool[ROUTE_POOL_MAX];
    uint32_t avail[ROUTE_POOL_MAX][INV_LINES_MAX]; /* capped at the line's qty */
    uint64_t outside[INV_LINES_MAX]; /* units at nodes kept out of a full pool (their
                                        live fields unread: counted as eligible) */
    uint64_t total[INV_LINES_MAX];   /* units at eligible nodes (totals_compute) */
    uint64_t raw[INV_LINES_MAX];     /* units in every cell seen, no filter */
    bool walked_all[INV_LINES_MAX];
    /* Candidates of a split order, in policy order. */
    uint32_t cand_count;
    uint16_t order[ROUTE_POOL_MAX];
    uint16_t cand_row[INV_ROUTE_CANDIDATES_MAX];
    double cand_cost[INV_ROUTE_CANDIDATES_MAX];
    double cost_prefix[INV_ROUTE_CANDIDATES_MAX + 1];
    uint32_t cav[INV_ROUTE_CANDIDATES_MAX][INV_LINES_MAX];
    /* top[j][r][i]: the r largest offers of line i among candidates j.., summed and
     * capped at the line's qty; r < INV_PARCELS_MAX (the search's feasibility bound). */
    uint32_t top[INV_ROUTE_CANDIDATES_MAX + 1][INV_PARCELS_MAX][INV_LINES_MAX];
    uint32_t rem[INV_PARCELS_MAX + 1][INV_LINES_MAX];
};

/* One request being planned. */
typedef struct route_ctx {
    const inv_engine *e;
    const geo_snapshot *g;
    const geo_node *nodes;
    uint32_t node_count;
    route_scratch *s;
    const route_request *rq;
    uint32_t lines;
    uint8_t need;          /* GEO_NODE_SHIPS or GEO_NODE_PICKUP */
    bool by_priority;      /* rank by (priority, cost), else by cost */
    double q[3];           /* destination unit vector */
    uint32_t lookup_mask;  /* lines to look up at a newly admitted node */
    bool eager;            /* check nodes on admission (the pool filled up) */
    uint32_t best_row;     /* first-ranked row holding every line, or INV_NONE */
    pool_row single;       /* first-ranked node holding every line found outside the
                              pool (single-node walk); node INV_NONE if none */
} route_ctx;

route_scratch *route_scratch_new(void) {
    route_scratch *s = aligned_alloc(INV_CACHE_LINE, sizeof *s);
    if (s == NULL) return NULL;
    memset(s, 0, sizeof *s);
    s->stamp = 1;
    return s;
}

void route_scratch_free(route_scratch *s) { free(s); }

static inline uint32_t ctz32(uint32_t m) { return (uint32_t)__builtin_ctz(m); }

static inline uint32_t min_u32(uint64_t a, uint32_t b) { return a < b ? (uint32_t)a : b; }

static inline int64_t cell_available_of(const inv_engine *e, uint32_t sku, uint32_t node) {
    if (!node_may_hold(e, node, sku)) return 0;
    uint32_t c = stock_find(e, sku, node);
    return c == INV_NONE ? 0 : stock_cell_available(cell_at(e, c));
}

/* Stock look-ups resolved together: every index slot is prefetched, then every cell,
 * then read, so that a batch costs about one miss latency instead of one per look-up. */
typedef struct lookup_batch {
    uint32_t n;
    uint32_t who[ROUTE_BATCH_MAX];  /* the caller's tag: a pool row or a node */
    uint32_t node[ROUTE_BATCH_MAX];
    uint32_t line[ROUTE_BATCH_MAX];
    int64_t avail[ROUTE_BATCH_MAX]; /* filled by batch_resolve */
} lookup_batch;

static inline void batch_add(lookup_batch *b, uint32_t who, uint32_t node, uint32_t line) {
    assert(b->n < ROUTE_BATCH_MAX);
    b->who[b->n] = who;
    b->node[b->n] = node;
    b->line[b->n] = line;
    b->n++;
}

static void batch_resolve(const route_ctx *x, lookup_batch *b) {
    const inv_engine *e = x->e;
    uint32_t slot[ROUTE_BATCH_MAX];
    assert(b->n <= ROUTE_BATCH_MAX);
    for (uint32_t i = 0; i < b->n; i++) { /* the node's SKU filter, then the slots... */
        if (!node_may_hold(e, b->node[i], x->rq->sku[b->line[i]])) {
            slot[i] = INV_NONE; /* certainly no cell there: no probe at all */
            continue;
        }
        slot[i] = stock_index_slot(e, x->rq->sku[b->line[i]], b->node[i]);
        __builtin_prefetch((const void *)&e->cell_index[slot[i]]);
    }
    for (uint32_t i = 0; i < b->n; i++) { /* ...the cells they name... */
        if (slot[i] == INV_NONE) continue;
        uint32_t c = atomic_load_explicit(&e->cell_index[slot[i]], memory_order_relaxed);
        if (c < e->cfg.cells_max) __builtin_prefetch(&e->cells[c]);
    }
    for (uint32_t i = 0; i < b->n; i++) { /* ...then the look-ups, from cache */
        uint32_t c = slot[i] == INV_NONE ? INV_NONE
                                         : stock_find(e, x->rq->sku[b->line[i]], b->node[i]);
        b->avail[i] = c == INV_NONE ? 0 : stock_cell_available(cell_at(e, c));
    }
}

/* ====================================================================================
 * Pool: node → row hash, admission, per-line units
 * ==================================================================================== */

static bool row_before(const route_ctx *x, const pool_row *a, const pool_row *b) {
    if (x->by_priority && a->priority != b->priority) return a->priority < b->priority;
    if (a->cost != b->cost) return a->cost < b->cost;
    return a->node < b->node;
}

/* Could `node` rank before the best single node found so far? Its rank comes from the
 * snapshot alone: no stock or live field is read. */
static bool node_may_beat_best(const route_ctx *x, uint32_t node) {
    if (x->best_row == INV_NONE || node >= x->node_count) return true;
    const geo_node *gn = &x->nodes[node];
    pool_row r = {.node = node, .priority = gn->priority};
    r.cost = geo_unit_distance_km(x->q, gn->u) * gn->weight + gn->fixed_km;
    return row_before(x, &r, &x->s->pool[x->best_row]);
}

static inline uint32_t hash_slot(uint32_t node) {
    return (node * 2654435761u) >> (32u - ROUTE_HASH_BITS);
}

/* The slot of `node`, or the empty slot where it would go. true: found. The hash is
 * never full (≤ half), so an empty slot always ends the probe. */
static bool hash_find(const route_scratch *s, uint32_t node, uint32_t *slot_out) {
    uint64_t key = (uint64_t)s->stamp << 32 | node;
    uint32_t slot = hash_slot(node);
    for (uint32_t probes = 0; probes < ROUTE_HASH_SLOTS; probes++) {
        uint64_t k = s->hash_key[slot];
        *slot_out = slot;
        if (k == key) return true;
        if ((uint32_t)(k >> 32) != s->stamp) return false;
        slot = (slot + 1) & (ROUTE_HASH_SLOTS - 1);
    }
    assert(false); /* route hash full: cannot happen, it stays at most half full */
    return false;
}

static bool hash_get(const route_scratch *s, uint32_t node, uint32_t *val) {
    uint32_t slot = 0;
    if (!hash_find(s, node, &slot)) return false;
    *val = s->hash_val[slot];
    return true;
}

/* Empty the hash in O(1): entries of older stamps read as empty. */
static void hash_clear(route_scratch *s) {
    if (++s->stamp == 0) { /* every 2^32 requests: really clear, once */
        memset(s->hash_key, 0, sizeof s->hash_key);
        s->stamp = 1;
    }
    s->hash_used = 0;
}

static void hash_store(route_scratch *s, uint32_t slot, uint32_t node, uint32_t val) {
    assert(s->hash_used < ROUTE_HASH_SLOTS / 2 + 1);
    assert((uint32_t)(s->hash_key[slot] >> 32) != s->stamp);
    s->hash_key[slot] = (uint64_t)s->stamp << 32 | node;
    s->hash_val[slot] = (uint16_t)val;
    s->hash_used++;
}

/* Remember `node` (absent; `slot` from its hash_find, no store since). Past half load,
 * rejections are no longer cached, and a new row rebuilds the hash from the pool
 * (which includes it). */
static void hash_put(route_scratch *s, uint32_t slot, uint32_t node, uint32_t val) {
    if (s->hash_used < ROUTE_HASH_SLOTS / 2) {
        hash_store(s, slot, node, val);
        return;
    }
    if (val >= ROUTE_POOL_MAX) return;
    hash_clear(s);
    for (uint32_t r = 0; r < s->pool_count; r++) {
        bool found = hash_find(s, s->pool[r].node, &slot);
        assert(!found);
        (void)found;
        hash_store(s, slot, s->pool[r].node, r);
    }
    assert(s->pool[val].node == node);
}

/* The node filters the snapshot answers: in it, capability, within max_distance_km.
 * true: passes, `out` filled with its rank. */
static bool node_static_ok(const route_ctx *x, uint32_t node, pool_row *out) {
    if (node >= x->node_count) return false; /* added after the snapshot */
    const geo_node *gn = &x->nodes[node];
    if (!(gn->flags & x->need)) return false;
    double km = geo_unit_distance_km(x->q, gn->u);
    if (x->rq->max_distance_km > 0 && km > x->rq->max_distance_km) return false;
    out->node = node;
    out->full = 0;
    out->priority = gn->priority;
    out->state = ROW_OK;
    out->cost = km * gn->weight + gn->fixed_km;
    return true;
}

/* The live filters: ACTIVE, and capacity left today. */
static bool node_live_ok(const route_ctx *x, uint32_t node) {
    node_rec *r = &x->e->nodes[node];
    if (atomic_load_explicit(&r->status, memory_order_acquire) != INV_NODE_ACTIVE) return false;
    return node_capacity_left(x->e, node, x->rq->day) > 0;
}

/* Every node filter. true: eligible, `out` filled. */
static bool node_check(const route_ctx *x, uint32_t node, pool_row *out) {
    return node_static_ok(x, node, out) && node_live_ok(x, node);
}

/* Check an unchecked row's node now. */
static void row_check(const route_ctx *x, uint32_t row) {
    pool_row *r = &x->s->pool[row], cand;
    assert(r->state == ROW_UNCHECKED);
    if (node_check(x, r->node, &cand)) {
        r->priority = cand.priority;
        r->cost = cand.cost;
        r->state = ROW_OK;
    } else {
        r->priority = UINT32_MAX; /* ranks last: evicted first */
        r->cost = INFINITY;
        r->state = ROW_BAD;
    }
}

static void rows_check_all(const route_ctx *x) {
    for (uint32_t r = 0; r < x->s->pool_count; r++)
        if (x->s->pool[r].state == ROW_UNCHECKED) row_check(x, r);
}

/* total[i] = units of line i at eligible nodes (rows capped at qty: exact below it). */
static void totals_compute(const route_ctx *x) {
    route_scratch *s = x->s;
    for (uint32_t i = 0; i < x->lines; i++) s->total[i] = s->outside[i];
    for (uint32_t r = 0; r < s->pool_count; r++) {
        if (s->pool[r].state != ROW_OK) continue;
        for (uint32_t i = 0; i < x->lines; i++) s->total[i] += s->avail[r][i];
    }
}

/* Restore the worst-on-top heap below position i (full pool). */
static void worst_sift_down(const route_ctx *x, uint32_t i) {
    route_scratch *s = x->s;
    for (uint32_t depth = 0; depth < 32; depth++) { /* log2(ROUTE_POOL_MAX) levels */
        uint32_t l = 2 * i + 1, m = i;
        if (l < ROUTE_POOL_MAX && row_before(x, &s->pool[s->worst[m]], &s->pool[s->worst[l]]))
            m = l;
        if (l + 1 < ROUTE_POOL_MAX &&
            row_before(x, &s->pool[s->worst[m]], &s->pool[s->worst[l + 1]]))
            m = l + 1;
        if (m == i) return;
        uint16_t t = s->worst[i];
        s->worst[i] = s->worst[m];
        s->worst[m] = t;
        i = m;
    }
}

/* The pool just filled: check every row, rank them in the heap, admit by rank now. */
static void pool_go_eager(route_ctx *x) {
    route_scratch *s = x->s;
    assert(s->pool_count == ROUTE_POOL_MAX);
    rows_check_all(x);
    for (uint32_t r = 0; r < ROUTE_POOL_MAX; r++) s->worst[r] = (uint16_t)r;
    for (uint32_t i = ROUTE_POOL_MAX / 2; i-- > 0;) worst_sift_down(x, i);
    x->eager = true;
}

/* Full pool: does `cand` rank before the worst row (never the best single-node row)? */
static bool pool_may_admit(const route_ctx *x, const pool_row *cand) {
    uint32_t worst = x->s->worst[0];
    return worst != x->best_row && row_before(x, cand, &x->s->pool[worst]);
}

/* Full pool: `cand` (checked, eligible, pool_may_admit) replaces the worst row, whose
 * units (if it was eligible) still count, outside the pool. */
static uint32_t pool_admit(route_ctx *x, const pool_row *cand) {
    route_scratch *s = x->s;
    assert(x->eager && pool_may_admit(x, cand));
    uint32_t row = s->worst[0];
    if (s->pool[row].state == ROW_OK)
        for (uint32_t i = 0; i < x->lines; i++) s->outside[i] += s->avail[row][i];
    s->pool[row] = *cand;
    for (uint32_t i = 0; i < x->lines; i++) s->avail[row][i] = 0;
    worst_sift_down(x, 0);
    return row;
}

/* Record that pool row `row` can give `a` (> 0) units of line `line`. */
static void row_set(route_ctx *x, uint32_t row, uint32_t line, int64_t a) {
    route_scratch *s = x->s;
    uint32_t want = x->rq->qty[line];
    assert(a > 0);
    assert(s->avail[row][line] == 0);
    s->avail[row][line] = min_u32((uint64_t)a, want);
    if ((uint64_t)a < want) return;
    pool_row *r = &s->pool[row];
    if (++r->full != x->lines) return;
    /* A whole-order row that cannot beat the best stays unchecked: its live fields are
     * read only if a split ever needs it. */
    if (r->state == ROW_UNCHECKED && !node_may_beat_best(x, r->node)) return;
    if (r->state == ROW_UNCHECKED) row_check(x, row);
    if (r->state == ROW_OK && (x->best_row == INV_NONE || row_before(x, r, &s->pool[x->best_row])))
        x->best_row = row;
}

/* Record a resolved batch whose tags are pool rows. */
static void batch_apply_rows(route_ctx *x, lookup_batch *b) {
    batch_resolve(x, b);
    for (uint32_t i = 0; i < b->n; i++) {
        if (b->avail[i] <= 0) continue;
        x->s->raw[b->line[i]] += (uint64_t)b->avail[i];
        row_set(x, b->who[i], b->line[i], b->avail[i]);
    }
    b->n = 0;
}

/* Look up the lines of `mask` at the nodes of rows [from, to) that are not BAD. */
static void rows_lookup(route_ctx *x, uint32_t from, uint32_t to, uint32_t mask) {
    route_scratch *s = x->s;
    lookup_batch b;
    b.n = 0;
    for (uint32_t r = from; r < to; r++) {
        if (s->pool[r].state == ROW_BAD) continue;
        if (b.n + (uint32_t)__builtin_popcount(mask) > ROUTE_BATCH_MAX) batch_apply_rows(x, &b);
        for (uint32_t m = mask; m != 0; m &= m - 1) batch_add(&b, r, s->pool[r].node, ctz32(m));
    }
    batch_apply_rows(x, &b);
}

/* Lazy mode: a new, unchecked row for `node`. */
static uint32_t pool_row_new(route_ctx *x, uint32_t node) {
    route_scratch *s = x->s;
    assert(s->pool_count < ROUTE_POOL_MAX);
    uint32_t row = s->pool_count++;
    s->pool[row] = (pool_row){.node = node, .state = ROW_UNCHECKED};
    for (uint32_t i = 0; i < x->lines; i++) s->avail[row][i] = 0;
    return row;
}

/* The row of `node` for this request, checking the node the first time it is seen.
 * @return a row, ROW_REJECT or ROW_DROPPED. */
static uint32_t pool_row_get(route_ctx *x, uint32_t node) {
    route_scratch *s = x->s;
    uint32_t v = 0, slot = 0;
    pool_row cand;
    if (hash_find(s, node, &slot)) {
        v = s->hash_val[slot];
        if (v >= ROUTE_POOL_MAX) return v;
        if (s->pool[v].node == node) return s->pool[v].state == ROW_BAD ? ROW_REJECT : v;
        /* evicted: ranked after the whole pool (or failing a filter) */
        return node_static_ok(x, node, &cand) ? ROW_DROPPED : ROW_REJECT;
    }
    if (!x->eager && s->pool_count == ROUTE_POOL_MAX) pool_go_eager(x);
    if (x->eager) { /* live fields are read only for a node that would get a row */
        if (!node_static_ok(x, node, &cand)) {
            v = ROW_REJECT;
        } else if (!pool_may_admit(x, &cand)) {
            v = ROW_DROPPED; /* counted outside the pool, live fields unread */
        } else {
            v = node_live_ok(x, node) ? pool_admit(x, &cand) : ROW_REJECT;
        }
    } else {
        v = pool_row_new(x, node);
    }
    hash_put(s, slot, node, v);
    if (v < ROUTE_POOL_MAX && x->lookup_mask != 0) rows_lookup(x, v, v + 1, x->lookup_mask);
    return v;
}

/* ====================================================================================
 * Gather
 * ==================================================================================== */

static inline uint32_t sku_head(const inv_engine *e, uint32_t sku) {
    return atomic_load_explicit(&sku_at(e, sku)->cell_head, memory_order_acquire);
}

/* Walk line `line`'s cell list from `c`, its head (at most `bound` cells). */
static void gather_walk(route_ctx *x, uint32_t line, uint32_t c, uint32_t bound) {
    const inv_engine *e = x->e;
    route_scratch *s = x->s;
    assert((x->lookup_mask & (1u << line)) == 0);
    for (uint32_t steps = 0; c != INV_NONE && steps < bound; steps++) {
        const stock_cell *cell = cell_at(e, c);
        c = cell->next_in_sku;
        if (c != INV_NONE) __builtin_prefetch(&e->cells[c]); /* overlap the list's misses */
        int64_t a = stock_cell_available(cell);
        if (a <= 0) continue;
        s->raw[line] += (uint64_t)a;
        uint32_t row = pool_row_get(x, cell->node);
        if (row == ROW_DROPPED) {
            s->outside[line] += (uint64_t)a;
        } else if (row != ROW_REJECT) {
            row_set(x, row, line, a);
        }
    }
    s->walked_all[line] = c == INV_NONE;
}

/* Record a resolved batch whose tags are grid-list nodes (all lines of `mask`, node by
 * node): a node with stock becomes (or is counted outside) a pool row. */
static void batch_apply_nodes(route_ctx *x, lookup_batch *b) {
    route_scratch *s = x->s;
    batch_resolve(x, b);
    for (uint32_t i = 0; i < b->n;) {
        uint32_t node = b->who[i], end = i, have = 0;
        for (; end < b->n && b->who[end] == node; end++) {
            if (b->avail[end] <= 0) continue;
            have |= 1u << b->line[end];
            s->raw[b->line[end]] += (uint64_t)b->avail[end];
        }
        uint32_t row = have ? pool_row_get(x, node) : ROW_REJECT;
        for (; row != ROW_REJECT && i < end; i++) {
            if (b->avail[i] <= 0) continue;
            if (row == ROW_DROPPED) {
                s->outside[b->line[i]] += (uint64_t)b->avail[i];
            } else {
                row_set(x, row, b->line[i], b->avail[i]);
            }
        }
        i = end;
    }
    b->n = 0;
}

/* A grid list ordered by distance from a point: a binary min-heap on squared chords. */
typedef struct list_heap {
    uint32_t n;
    double d2[INV_GEO_CELL_NODES_MAX];
    uint32_t node[INV_GEO_CELL_NODES_MAX];
} list_heap;

static void heap_sift_down(list_heap *h, uint32_t i) {
    for (uint32_t depth = 0; depth < 32; depth++) { /* log2(64) levels at most */
        uint32_t l = 2 * i + 1, m = i;
        if (l < h->n && h->d2[l] < h->d2[m]) m = l;
        if (l + 1 < h->n && h->d2[l + 1] < h->d2[m]) m = l + 1;
        if (m == i) return;
        double d = h->d2[i];
        uint32_t n = h->node[i];
        h->d2[i] = h->d2[m];
        h->node[i] = h->node[m];
        h->d2[m] = d;
        h->node[m] = n;
        i = m;
    }
}

/* Heap of `list`'s nodes by squared chord from unit vector q, shaded down by 4e-6 so
 * that the list's float vectors (≤ 2e-7 off) still give lower bounds. */
static void list_heap_build(list_heap *h, const geo_cell_list *list, const double q[3]) {
    assert(list->count <= INV_GEO_CELL_NODES_MAX);
    h->n = list->count;
    for (uint32_t j = 0; j < list->count; j++) {
        const float *v = &list->xyz[3 * j];
        double dx = q[0] - v[0], dy = q[1] - v[1], dz = q[2] - v[2];
        h->d2[j] = dx * dx + dy * dy + dz * dz - 4e-6;
        h->node[j] = list->nodes[j];
    }
    for (uint32_t i = h->n / 2; i-- > 0;) heap_sift_down(h, i);
}

static bool list_heap_pop(list_heap *h, double *d2, uint32_t *node) {
    if (h->n == 0) return false;
    *d2 = h->d2[0];
    *node = h->node[0];
    h->n--;
    h->d2[0] = h->d2[h->n];
    h->node[0] = h->node[h->n];
    heap_sift_down(h, 0);
    return true;
}

/* The grid walk's pending batch. */
typedef struct grid_walk {
    uint32_t mask;        /* the wide lines */
    uint32_t batch_nodes; /* nodes per full batch */
    uint32_t in_batch;
    lookup_batch b;
} grid_walk;

/* Queue list node `node` (unless it is seen or cannot beat the best single node): in
 * batches of 4 nodes while no single node is known, so that the walk can change phase
 * soon, full ones after. */
static void grid_visit(route_ctx *x, grid_walk *gw, uint32_t node) {
    uint32_t row = 0;
    if (hash_get(x->s, node, &row) || !node_may_beat_best(x, node)) return;
    for (uint32_t m = gw->mask; m != 0; m &= m - 1) batch_add(&gw->b, node, node, ctz32(m));
    gw->in_batch++;
    uint32_t limit = x->best_row == INV_NONE && gw->batch_nodes > 4 ? 4 : gw->batch_nodes;
    if (gw->in_batch < limit) return;
    batch_apply_nodes(x, &gw->b);
    gw->in_batch = 0;
}

/* Squared chord of a great-circle distance (max_distance_km as a chord). */
static double chord2_of_km(double km) {
    double half = km / (2.0 * GEO_EARTH_RADIUS_KM);
    if (half >= 1.5707963267948966) return 4.0;
    double c = 2.0 * sin(half);
    return c * c;
}

/* Wide lines (`mask`): at the pool's nodes, then down the destination's grid list in
 * order of distance from the destination. With a narrow line in the order, every node
 * that could hold the whole order is in the pool already, so once one does the list
 * has nothing to add. Else the list is walked nearest first until a node holds the
 * whole order, then only the nodes that could still beat it are looked at: km ≥
 * R·chord (asin x ≥ x), so cost ≥ w_min·R·chord, and then their exact cost. */
static void gather_grid(route_ctx *x, uint32_t mask) {
    const route_request *rq = x->rq;
    route_scratch *s = x->s;
    bool narrow = mask != (x->lines == 32 ? UINT32_MAX : (1u << x->lines) - 1);
    rows_lookup(x, 0, s->pool_count, mask);
    if (narrow && x->best_row != INV_NONE) return;
    geo_cell_list list;
    list_heap h;
    geo_cell_lookup(x->g, rq->lat, rq->lon, false, &list);
    list_heap_build(&h, &list, x->q);
    const inv_route_weights *w = &x->e->cfg.weights;
    double w_min = fmin(w->kind_weight[0], fmin(w->kind_weight[1], w->kind_weight[2]));
    bool stop_by_cost = !x->by_priority && w->priority_cost_km >= 0;
    double max_d2 = rq->max_distance_km > 0 ? chord2_of_km(rq->max_distance_km) : 4.0;
    double d2 = 0;
    uint32_t node = 0;
    grid_walk gw = {.mask = mask, .batch_nodes = ROUTE_BATCH_MAX / (uint32_t)__builtin_popcount(mask)};
    gw.b.n = 0;
    /* Nearest first until some node holds the whole order (usually one of the first) */
    while (x->best_row == INV_NONE && list_heap_pop(&h, &d2, &node)) {
        if (d2 > max_d2) break; /* and so are the rest */
        grid_visit(x, &gw, node);
    }
    /* then, in any order, the rest that could still beat it. */
    for (uint32_t i = 0; i < h.n; i++) {
        if (h.d2[i] > max_d2) continue;
        if (stop_by_cost && x->best_row != INV_NONE &&
            w_min * GEO_EARTH_RADIUS_KM * sqrt(h.d2[i] > 0 ? h.d2[i] : 0) >=
                s->pool[x->best_row].cost)
            continue;
        grid_visit(x, &gw, h.node[i]);
    }
    batch_apply_nodes(x, &gw.b);
}

/* Wide lines the grid did not cover: walk their whole cell lists instead.
 * @return the lines walked. */
static uint32_t gather_fallback(route_ctx *x, uint32_t mask) {
    route_scratch *s = x->s;
    const route_request *rq = x->rq;
    uint32_t short_mask = 0;
    if (x->best_row != INV_NONE) return 0; /* one node holds every line */
    rows_check_all(x);
    totals_compute(x);
    for (uint32_t m = mask; m != 0; m &= m - 1)
        if (s->total[ctz32(m)] < rq->qty[ctz32(m)]) short_mask |= 1u << ctz32(m);
    x->lookup_mask = mask & ~short_mask; /* a node found now may hold those too */
    for (uint32_t m = short_mask; m != 0; m &= m - 1) {
        uint32_t line = ctz32(m);
        for (uint32_t r = 0; r < s->pool_count; r++) {
            assert(s->pool[r].state == ROW_BAD || s->avail[r][line] < rq->qty[line]);
            s->pool[r].full -= s->avail[r][line] == rq->qty[line];
            s->avail[r][line] = 0;
        }
        s->outside[line] = 0;
        s->raw[line] = 0;
        uint32_t count = atomic_load_explicit(&sku_at(x->e, rq->sku[line])->cell_count,
                                              memory_order_relaxed);
        gather_walk(x, line, sku_head(x->e, rq->sku[line]), count + INV_SKU_SCAN_CELLS_MAX);
    }
    x->lookup_mask = 0;
    return short_mask;
}

/* Nodes of a resolved batch (tags: nodes, each with every line but the walked one)
 * holding the whole order compete for the single-node answer. */
static void batch_apply_single(route_ctx *x, lookup_batch *b) {
    batch_resolve(x, b);
    for (uint32_t i = 0; i < b->n;) {
        uint32_t node = b->who[i];
        bool whole = true;
        for (; i < b->n && b->who[i] == node; i++)
            whole &= b->avail[i] >= (int64_t)x->rq->qty[b->line[i]];
        pool_row cand;
        if (!whole || !node_check(x, node, &cand)) continue;
        if (x->single.node == INV_NONE || row_before(x, &cand, &x->single)) x->single = cand;
    }
    b->n = 0;
}

/* Every line is wide, each is covered, yet no node of the pool holds them all: a node
 * holding the whole order (one parcel beats any split) may lie beyond the grid list.
 * Any such node holds the narrowest line, so walk that line's cell list for one. */
static void gather_single_walk(route_ctx *x) {
    const route_request *rq = x->rq;
    uint32_t line = 0, count = UINT32_MAX, row = 0;
    for (uint32_t i = 0; i < x->lines; i++) {
        uint32_t n = atomic_load_explicit(&sku_at(x->e, rq->sku[i])->cell_count,
                                          memory_order_relaxed);
        if (n < count) {
            count = n;
            line = i;
        }
    }
    lookup_batch b;
    b.n = 0;
    uint32_t c = sku_head(x->e, rq->sku[line]);
    for (uint32_t steps = 0; c != INV_NONE && steps < count + INV_SKU_SCAN_CELLS_MAX; steps++) {
        const stock_cell *cell = cell_at(x->e, c);
        c = cell->next_in_sku;
        if (c != INV_NONE) __builtin_prefetch(&x->e->cells[c]);
        uint32_t node = cell->node;
        pool_row cand;
        if (stock_cell_available(cell) < (int64_t)rq->qty[line]) continue;
        if (hash_get(x->s, node, &row)) continue; /* a pool row (not whole) or rejected */
        if (x->lines == 1) { /* it holds the whole order */
            if (node_check(x, node, &cand) &&
                (x->single.node == INV_NONE || row_before(x, &cand, &x->single)))
                x->single = cand;
            continue;
        }
        if (b.n + x->lines - 1 > ROUTE_BATCH_MAX) batch_apply_single(x, &b);
        for (uint32_t i = 0; i < x->lines; i++)
            if (i != line) batch_add(&b, node, node, i);
    }
    batch_apply_single(x, &b);
}

static void gather(route_ctx *x) {
    route_scratch *s = x->s;
    const route_request *rq = x->rq;
    uint32_t wide = 0, head[INV_LINES_MAX];
    hash_clear(s);
    s->pool_count = 0;
    for (uint32_t i = 0; i < x->lines; i++) { /* every line's misses at once */
        __builtin_prefetch(sku_at(x->e, rq->sku[i]));
        s->outside[i] = 0;
        s->raw[i] = 0;
        s->walked_all[i] = false;
    }
    for (uint32_t i = 0; i < x->lines; i++) {
        const sku_rec *r = sku_at(x->e, rq->sku[i]);
        head[i] = atomic_load_explicit(&((sku_rec *)r)->cell_head, memory_order_acquire);
        if (atomic_load_explicit(&((sku_rec *)r)->cell_count, memory_order_relaxed) >
            INV_SKU_SCAN_CELLS_MAX) {
            wide |= 1u << i;
        } else if (head[i] != INV_NONE) {
            __builtin_prefetch(&x->e->cells[head[i]]);
        }
    }
    for (uint32_t i = 0; i < x->lines; i++)
        if (!(wide & (1u << i))) gather_walk(x, i, head[i], ROUTE_SCAN_WALK_MAX);
    if (wide == 0) return;
    gather_grid(x, wide);
    uint32_t walked = gather_fallback(x, wide);
    uint32_t all = x->lines == 32 ? UINT32_MAX : (1u << x->lines) - 1;
    if (wide == all && walked == 0 && x->best_row == INV_NONE) gather_single_walk(x);
}

/* ====================================================================================
 * Plans
 * ==================================================================================== */

static void plan_fail(route_plan *out, inv_status status, const char *reason) {
    assert(status != INV_OK);
    out->status = status;
    out->reason = reason;
    out->alloc_count = 0;
    out->parcels = 0;
    out->cost = 0;
}

/* The whole order from one node. */
static void plan_single(route_ctx *x, uint32_t node, double cost, route_plan *out) {
    const route_request *rq = x->rq;
    assert(x->lines <= INV_ALLOC_MAX);
    for (uint32_t i = 0; i < x->lines; i++) {
        out->alloc[i].sku = rq->sku[i];
        out->alloc[i].node = node;
        out->alloc[i].qty = rq->qty[i];
    }
    out->alloc_count = x->lines;
    out->parcels = 1;
    out->parcel_nodes[0] = node;
    out->cost = cost;
    out->status = INV_OK;
    out->reason = NULL;
}

/* Some line short at eligible in-range nodes (totals computed)? Then answer, true. */
static bool plan_short(route_ctx *x, route_plan *out) {
    const route_scratch *s = x->s;
    const route_request *rq = x->rq;
    bool line_short = false, stock_short = false, any_eligible = false;
    for (uint32_t i = 0; i < x->lines; i++) {
        line_short |= s->total[i] < rq->qty[i];
        stock_short |= s->raw[i] < rq->qty[i];
        any_eligible |= s->total[i] > 0;
    }
    if (!line_short) return false;
    if (!any_eligible && !stock_short) {
        plan_fail(out, INV_NO_ROUTE, "no eligible node in range holds the order");
        return true;
    }
    plan_fail(out, INV_INSUFFICIENT_STOCK, "not enough stock at eligible nodes in range");
    for (uint32_t i = 0; i < x->lines; i++)
        out->shortfall[i] = rq->qty[i] - min_u32(s->total[i], rq->qty[i]);
    return true;
}

/* Sort key of a row: rank order is (priority if ranked by it, cost, node). */
typedef struct rank_key {
    double cost;
    uint64_t tie; /* priority << 32 | node (priority 0 when not ranked by it) */
    uint32_t row;
} rank_key;

static inline bool key_before(const rank_key *a, const rank_key *b, bool by_priority) {
    if (by_priority && (a->tie >> 32) != (b->tie >> 32)) return a->tie < b->tie;
    if (a->cost != b->cost) return a->cost < b->cost;
    return a->tie < b->tie;
}

/* Shell sort of the first n entries of s->order by rank (n ≤ ROUTE_POOL_MAX), on
 * local keys (the same order as row_before). */
static void order_sort(const route_ctx *x, uint32_t n) {
    static const uint32_t gaps[] = {132, 57, 23, 10, 4, 1};
    route_scratch *s = x->s;
    rank_key k[ROUTE_POOL_MAX];
    assert(n <= ROUTE_POOL_MAX);
    for (uint32_t i = 0; i < n; i++) {
        const pool_row *r = &s->pool[s->order[i]];
        uint64_t prio = x->by_priority ? r->priority : 0;
        k[i] = (rank_key){.cost = r->cost, .tie = prio << 32 | r->node, .row = s->order[i]};
    }
    for (uint32_t gi = 0; gi < sizeof gaps / sizeof gaps[0]; gi++) {
        uint32_t gap = gaps[gi];
        for (uint32_t i = gap; i < n; i++) {
            rank_key v = k[i];
            uint32_t j = i;
            for (; j >= gap && key_before(&v, &k[j - gap], x->by_priority); j -= gap)
                k[j] = k[j - gap];
            k[j] = v;
        }
    }
    for (uint32_t i = 0; i < n; i++) s->order[i] = (uint16_t)k[i].row;
}

/* Lines a pool row offers something of. */
static uint32_t row_line_mask(const route_scratch *s, uint32_t lines, uint32_t row) {
    uint32_t m = 0;
    for (uint32_t i = 0; i < lines; i++) m |= (s->avail[row][i] > 0 ? 1u : 0u) << i;
    return m;
}

/* Does candidate `a` (offering the lines of a_mask) offer at least what row `row`
 * (row_mask) offers on every line? */
static bool cand_dominates(const route_scratch *s, uint32_t lines, uint32_t a, uint32_t a_mask,
                           uint32_t row, uint32_t row_mask) {
    if ((row_mask & ~a_mask) != 0) return false; /* a lacks a line the row has */
    for (uint32_t i = 0; i < lines; i++)
        if (s->cav[a][i] < s->avail[row][i]) return false;
    return true;
}

/* Up to INV_ROUTE_CANDIDATES_MAX rows in rank order, with their capped units and cost
 * prefix sums. With `prune` (cost order, picks ≤ `picks`), a row that `picks` earlier
 * candidates each dominate (≥ on every line) is left out: in a cover of ≤ picks nodes
 * holding it, one of those is free to replace it, covering as much for no more cost,
 * so some optimal cover never needs it. On wide SKUs most stores hold the same line or
 * two in small lots, and this collapses them to the few that matter. */
static void cands_select(route_ctx *x, bool prune, uint32_t picks) {
    route_scratch *s = x->s;
    uint32_t n = 0, L = x->lines, c = 0, cand_mask[INV_ROUTE_CANDIDATES_MAX];
    for (uint32_t r = 0; r < s->pool_count; r++) {
        bool any = false;
        if (s->pool[r].state != ROW_OK) continue;
        for (uint32_t i = 0; i < L; i++) any |= s->avail[r][i] > 0;
        if (any) s->order[n++] = (uint16_t)r;
    }
    order_sort(x, n);
    s->cost_prefix[0] = 0;
    for (uint32_t j = 0; j < n && c < INV_ROUTE_CANDIDATES_MAX; j++) {
        uint32_t row = s->order[j], dominators = 0, mask = row_line_mask(s, L, row);
        for (uint32_t a = 0; prune && a < c && dominators < picks; a++)
            dominators += cand_dominates(s, L, a, cand_mask[a], row, mask);
        if (prune && dominators >= picks) continue;
        cand_mask[c] = mask;
        s->cand_row[c] = (uint16_t)row;
        s->cand_cost[c] = s->pool[row].cost;
        s->cost_prefix[c + 1] = s->cost_prefix[c] + s->cand_cost[c];
        memcpy(s->cav[c], s->avail[row], L * sizeof(uint32_t));
        c++;
    }
    s->cand_count = c;
}

/* Fill each line from the pick's first candidate on; drop candidates left unused and
 * recount the cost. assign[p][i]: units of line i from pick p. */
static void pick_fill(const route_ctx *x, route_pick *pk,
                      uint32_t assign[INV_PARCELS_MAX][INV_LINES_MAX]) {
    const route_scratch *s = x->s;
    uint32_t used = 0;
    for (uint32_t i = 0; i < x->lines; i++) {
        uint32_t left = x->rq->qty[i];
        for (uint32_t p = 0; p < pk->count; p++) {
            uint32_t t = s->cav[pk->idx[p]][i] < left ? s->cav[pk->idx[p]][i] : left;
            assign[p][i] = t;
            left -= t;
            if (t > 0) used |= 1u << p;
        }
        assert(left == 0);
    }
    uint32_t kept = 0;
    pk->cost = 0;
    for (uint32_t p = 0; p < pk->count; p++) {
        if (!(used & (1u << p))) continue;
        memmove(assign[kept], assign[p], x->lines * sizeof(uint32_t));
        pk->idx[kept++] = pk->idx[p];
        pk->cost += s->cand_cost[pk->idx[p]];
    }
    pk->count = kept;
}

/* Turn a covering pick into the plan. false: more than INV_ALLOC_MAX entries. */
static bool plan_from_pick(const route_ctx *x, route_pick *pk, route_plan *out) {
    const route_scratch *s = x->s;
    uint32_t assign[INV_PARCELS_MAX][INV_LINES_MAX];
    pick_fill(x, pk, assign);
    uint32_t entries = 0;
    for (uint32_t p = 0; p < pk->count; p++)
        for (uint32_t i = 0; i < x->lines; i++) entries += assign[p][i] > 0;
    if (entries > INV_ALLOC_MAX) return false;
    out->alloc_count = 0;
    for (uint32_t p = 0; p < pk->count; p++) { /* entries of one node stay adjacent */
        uint32_t node = s->pool[s->cand_row[pk->idx[p]]].node;
        for (uint32_t i = 0; i < x->lines; i++) {
            if (assign[p][i] == 0) continue;
            inv_alloc *a = &out->alloc[out->alloc_count++];
            a->sku = x->rq->sku[i];
            a->node = node;
            a->qty = assign[p][i];
        }
        out->parcel_nodes[p] = node;
    }
    out->parcels = pk->count;
    out->cost = pk->cost;
    out->status = INV_OK;
    out->reason = NULL;
    return true;
}

/* ====================================================================================
 * Split orders: exact search, greedy cover
 * ==================================================================================== */

/* top[][][] for picks of up to `picks` - 1 more candidates (see route_scratch). */
static void search_bounds(route_ctx *x, uint32_t picks) {
    route_scratch *s = x->s;
    uint32_t best[INV_LINES_MAX][INV_PARCELS_MAX]; /* per line, descending */
    uint32_t keep = picks - 1, c = s->cand_count;
    assert(picks >= 2 && picks <= INV_PARCELS_MAX);
    memset(best, 0, sizeof best);
    for (uint32_t j = c + 1; j-- > 0;) {
        for (uint32_t i = 0; i < x->lines; i++) {
            if (j < c) { /* insert candidate j's offer among the line's largest */
                uint32_t v = s->cav[j][i], at = keep;
                for (; at > 0 && best[i][at - 1] < v; at--)
                    if (at < keep) best[i][at] = best[i][at - 1];
                if (at < keep) best[i][at] = v;
            }
            uint64_t sum = 0;
            for (uint32_t r = 1; r <= keep; r++) {
                sum += best[i][r - 1];
                s->top[j][r][i] = min_u32(sum, x->rq->qty[i]);
            }
        }
    }
}

/* C(n, k) for n < 2^6, k ≤ 8: fits 64 bits. */
static uint64_t choose(uint32_t n, uint32_t k) {
    if (k > n) return 0;
    uint64_t c = 1;
    for (uint32_t i = 1; i <= k; i++) c = c * (n - k + i) / i; /* exact at every step */
    return c;
}

/* rem[d + 1] = rem[d] minus candidate j's units. @return whether `picks_left` more
 * candidates after j could still cover what remains (with 0: whether it is covered). */
static bool search_step(route_scratch *s, uint32_t lines, uint32_t d, uint32_t j,
                        uint32_t picks_left) {
    bool ok = true;
    for (uint32_t i = 0; i < lines; i++) {
        uint32_t r = s->rem[d][i], v = s->cav[j][i];
        uint32_t left = r > v ? r - v : 0;
        s->rem[d + 1][i] = left;
        ok &= picks_left == 0 ? left == 0 : left <= s->top[j + 1][picks_left][i];
    }
    return ok;
}

/* Branch and bound over the k-subsets of candidates [0, hi) whose last element is in
 * [lo, hi), improving on `best` (iterative; candidates are sorted by cost, so a branch
 * whose cost plus the cheapest completion reaches best->cost is cut with its later
 * siblings). At most `leaves_max` k-subsets are evaluated; *steps bounds the partial
 * subsets visited. @return the k-subsets evaluated. */
static uint32_t search_range(route_ctx *x, uint32_t k, uint32_t lo, uint32_t hi,
                             uint32_t leaves_max, route_pick *best, uint32_t *steps) {
    route_scratch *s = x->s;
    assert(k >= 2 && k <= INV_PARCELS_MAX);
    assert(lo < hi && hi <= s->cand_count);
    uint32_t idx[INV_PARCELS_MAX], d = 0, leaves = 0;
    double partial[INV_PARCELS_MAX];
    idx[0] = 0;
    partial[0] = 0;
    for (; *steps > 0; --*steps) {
        uint32_t j = idx[d], need = k - d; /* picks still to make, j included */
        if (leaves == leaves_max) break;
        if (j + need > hi ||
            partial[d] + s->cost_prefix[j + need] - s->cost_prefix[j] >= best->cost) {
            if (d == 0) break;
            idx[--d]++;
            continue;
        }
        bool ok = search_step(s, x->lines, d, j, need - 1);
        if (need == 1) { /* a leaf: covers, if ok, and is cheaper by the bound above */
            leaves++;
            if (ok) {
                best->count = k;
                for (uint32_t p = 0; p < d; p++) best->idx[p] = (uint8_t)idx[p];
                best->idx[d] = (uint8_t)j;
                best->cost = partial[d] + s->cand_cost[j];
            }
            idx[d]++;
        } else if (ok) {
            partial[d + 1] = partial[d] + s->cand_cost[j];
            d++;
            idx[d] = j + 1;
            if (d + 1 == k && idx[d] < lo) idx[d] = lo; /* the last pick lies in [lo, hi) */
        } else {
            idx[d]++;
        }
    }
    return leaves;
}

/* The cheapest covering k-subset of the first C_k candidates, if cheaper than `best`
 * (empty, or a k-subset found otherwise). C_k grows in chunks: each
 * chunk adds the candidates whose new subsets fit the budget left in the worst case (at
 * least one), is charged only the subsets it evaluated (so pruning buys a wider prefix)
 * and stops where the budget does; what a cut-short chunk found is kept.
 * @return C_k reached (= cand_count: the answer is exact over every candidate). */
static uint32_t search_level(route_ctx *x, uint32_t k, uint32_t *budget, uint32_t *steps,
                             route_pick *best) {
    route_scratch *s = x->s;
    uint32_t c = s->cand_count, n = k - 1; /* subsets within [0, n) are done */
    assert(best->count == 0 || best->count == k);
    memcpy(s->rem[0], x->rq->qty, x->lines * sizeof(uint32_t));
    for (uint32_t chunk = 0; n < c && chunk < INV_ROUTE_CANDIDATES_MAX; chunk++) {
        if (s->cost_prefix[k - 1] + s->cand_cost[n] >= best->cost) return c; /* can't beat */
        uint64_t base = choose(n, k);
        uint32_t hi = n + 1;
        while (hi < c && choose(hi + 1, k) - base <= *budget) hi++;
        if (*budget == 0 || *steps == 0) break;
        uint32_t leaves = search_range(x, k, n, hi, *budget, best, steps);
        assert(leaves <= *budget);
        *budget -= leaves;
        if (*budget == 0 || *steps == 0) break; /* maybe cut short: [n, hi) not done */
        n = hi;
    }
    return n;
}

typedef enum greedy_mode {
    GREEDY_PER_COST, /* most units of the remaining demand per unit of cost */
    GREEDY_UNITS,    /* most units of the remaining demand (fewest parcels) */
    GREEDY_IN_ORDER, /* the next candidate, in rank order, that adds anything */
} greedy_mode;

/* Units candidate j adds to the remaining demand. */
static double greedy_gain(const route_scratch *s, uint32_t lines, uint32_t j,
                          const uint32_t *rem) {
    double gain = 0;
    for (uint32_t i = 0; i < lines; i++) gain += s->cav[j][i] < rem[i] ? s->cav[j][i] : rem[i];
    return gain;
}

/* The candidate greedy takes next (INV_NONE: nothing adds anything). */
static uint32_t greedy_next(const route_ctx *x, greedy_mode mode, uint64_t used,
                            const uint32_t *rem) {
    const route_scratch *s = x->s;
    uint32_t best = INV_NONE;
    double best_gain = 0;
    for (uint32_t j = 0; j < s->cand_count; j++) {
        if (used & (1ull << j)) continue;
        double gain = greedy_gain(s, x->lines, j, rem);
        if (gain == 0) continue;
        if (mode == GREEDY_IN_ORDER) return j;
        bool better = mode == GREEDY_UNITS
                          ? gain > best_gain
                          : gain * s->cand_cost[best == INV_NONE ? j : best] >
                                best_gain * s->cand_cost[j];
        if (best == INV_NONE || better) { /* ties keep the cheaper (earlier) one */
            best = j;
            best_gain = gain;
        }
    }
    return best;
}

/* Greedy cover starting with candidate `first` (INV_NONE: none forced), at most
 * `max_nodes` candidates. true: covered; pk's indices ascending. */
static bool greedy_cover(const route_ctx *x, uint32_t first, greedy_mode mode,
                         uint32_t max_nodes, route_pick *pk) {
    uint32_t rem[INV_LINES_MAX], L = x->lines;
    uint64_t used = 0;
    bool covered = false;
    assert(max_nodes >= 1 && max_nodes <= INV_PARCELS_MAX);
    memcpy(rem, x->rq->qty, L * sizeof(uint32_t));
    pk->count = 0;
    for (uint32_t step = 0; step < max_nodes && !covered; step++) {
        uint32_t j = step == 0 && first != INV_NONE ? first : greedy_next(x, mode, used, rem);
        if (j == INV_NONE) break;
        used |= 1ull << j;
        pk->idx[pk->count++] = (uint8_t)j;
        covered = true;
        for (uint32_t i = 0; i < L; i++) {
            rem[i] -= x->s->cav[j][i] < rem[i] ? x->s->cav[j][i] : rem[i];
            covered &= rem[i] == 0;
        }
    }
    for (uint32_t a = 1; a < pk->count; a++) /* ascending: fill from the first-ranked */
        for (uint32_t b = a; b > 0 && pk->idx[b - 1] > pk->idx[b]; b--) {
            uint8_t t = pk->idx[b];
            pk->idx[b] = pk->idx[b - 1];
            pk->idx[b - 1] = t;
        }
    return covered;
}

/* Fewer parcels, or as many and cheaper? */
static bool pick_better(const route_pick *a, const route_pick *b) {
    if (a->count == 0) return false;
    return b->count == 0 || a->count < b->count || (a->count == b->count && a->cost < b->cost);
}

/* The best of the greedy covers (per cost and per units, from no forced start and from
 * each of the first `starts` candidates), by (parcels, cost). */
static void greedy_best(const route_ctx *x, uint32_t max_parcels, uint32_t starts,
                        route_pick *best) {
    uint32_t assign[INV_PARCELS_MAX][INV_LINES_MAX];
    assert(starts <= ROUTE_GREEDY_STARTS);
    if (starts > x->s->cand_count) starts = x->s->cand_count;
    best->count = 0;
    best->cost = INFINITY;
    for (uint32_t m = 0; m < 2; m++) {
        for (uint32_t f = 0; f <= starts; f++) {
            route_pick pk;
            uint32_t first = f == starts ? INV_NONE : f;
            if (!greedy_cover(x, first, m == 0 ? GREEDY_PER_COST : GREEDY_UNITS, max_parcels,
                              &pk))
                continue;
            pick_fill(x, &pk, assign);
            if (pick_better(&pk, best)) *best = pk;
        }
    }
}

/* Whether the pick's candidates, with candidate `out` replaced by `in`, cover the order. */
static bool pick_covers_swapped(const route_ctx *x, const route_pick *pk, uint32_t out,
                                uint32_t in) {
    const route_scratch *s = x->s;
    for (uint32_t i = 0; i < x->lines; i++) {
        uint64_t sum = s->cav[in][i];
        for (uint32_t p = 0; p < pk->count; p++)
            if (pk->idx[p] != out) sum += s->cav[pk->idx[p]][i];
        if (sum < x->rq->qty[i]) return false;
    }
    return true;
}

/* Local improvement of a cover the exact search could not prove cheapest: replace one
 * candidate by a cheaper one outside the pick while it still covers, best swap first,
 * for at most INV_PARCELS_MAX rounds. */
static void pick_improve(const route_ctx *x, route_pick *pk) {
    const route_scratch *s = x->s;
    for (uint32_t round = 0; round < INV_PARCELS_MAX; round++) {
        uint64_t in_pick = 0;
        for (uint32_t p = 0; p < pk->count; p++) in_pick |= 1ull << pk->idx[p];
        uint32_t best_p = INV_NONE, best_j = INV_NONE;
        double best_gain = 0;
        for (uint32_t p = 0; p < pk->count; p++) {
            uint32_t out = pk->idx[p];
            for (uint32_t j = 0; j < out; j++) { /* cheaper candidates come first */
                double gain = s->cand_cost[out] - s->cand_cost[j];
                if ((in_pick & (1ull << j)) || gain <= best_gain) continue;
                if (!pick_covers_swapped(x, pk, out, j)) continue;
                best_gain = gain;
                best_p = p;
                best_j = j;
            }
        }
        if (best_p == INV_NONE) return;
        pk->idx[best_p] = (uint8_t)best_j;
        pk->cost -= best_gain;
        for (uint32_t b = best_p; b > 0 && pk->idx[b - 1] > pk->idx[b]; b--) { /* re-sort */
            uint8_t t = pk->idx[b];
            pk->idx[b] = pk->idx[b - 1];
            pk->idx[b - 1] = t;
        }
    }
}

/* NEAREST split: fewest parcels, then cheapest. Two greedy covers give a first answer
 * of g parcels; the exact search then looks for fewer parcels (k = 2..g-1) and, at
 * k = g, for a cheaper cover, with the greedy cost as its first bound. Where the
 * search was cut short by its budget, greedy covers from several forced starts compete
 * and the winner is improved by cheaper swaps. */
static void plan_nearest_split(route_ctx *x, uint32_t max_parcels, route_plan *out) {
    route_scratch *s = x->s;
    cands_select(x, true, max_parcels);
    uint32_t c = s->cand_count, budget = INV_ROUTE_SUBSETS_MAX;
    uint32_t steps = ROUTE_SEARCH_STEPS_MAX;
    if (max_parcels > c) max_parcels = c;
    route_pick best = {0};
    best.cost = INFINITY;
    if (max_parcels >= 2) {
        greedy_best(x, max_parcels, 0, &best);
        search_bounds(x, max_parcels);
    }
    bool exact = true;
    uint32_t top = best.count > 0 ? best.count : max_parcels;
    for (uint32_t k = 2; k <= top; k++) {
        route_pick level = {0};
        level.cost = INFINITY;
        if (k == best.count) level = best;
        exact &= search_level(x, k, &budget, &steps, &level) == c;
        if (level.count == 0) continue;
        best = level;
        break;
    }
    if (!exact) {
        route_pick alt;
        greedy_best(x, max_parcels, ROUTE_GREEDY_STARTS, &alt);
        if (pick_better(&alt, &best)) best = alt;
        if (best.count > 0) pick_improve(x, &best);
    }
    if (best.count == 0) {
        plan_fail(out, INV_NO_ROUTE, "no cover within max_parcels");
    } else if (!plan_from_pick(x, &best, out)) {
        plan_fail(out, INV_NO_ROUTE, "the split needs more allocation entries than allowed");
    }
}

/* PRIORITY split: candidates in (priority, cost) order while they add something. */
static void plan_priority_split(route_ctx *x, uint32_t max_parcels, route_plan *out) {
    route_pick pk;
    cands_select(x, false, 0);
    if (!greedy_cover(x, INV_NONE, GREEDY_IN_ORDER, max_parcels, &pk)) {
        plan_fail(out, INV_NO_ROUTE, "no cover within max_parcels");
        return;
    }
    if (!plan_from_pick(x, &pk, out))
        plan_fail(out, INV_NO_ROUTE, "the split needs more allocation entries than allowed");
}

/* ====================================================================================
 * PICKUP
 * ==================================================================================== */

/* Can pickup node m serve the whole order now? */
static bool pickup_can_serve(const route_ctx *x, uint32_t m) {
    if (m >= x->node_count || !(x->nodes[m].flags & GEO_NODE_PICKUP)) return false;
    if (atomic_load_explicit(&x->e->nodes[m].status, memory_order_acquire) != INV_NODE_ACTIVE)
        return false;
    if (node_capacity_left(x->e, m, x->rq->day) == 0) return false;
    for (uint32_t i = 0; i < x->lines; i++)
        if (cell_available_of(x->e, x->rq->sku[i], m) < (int64_t)x->rq->qty[i]) return false;
    return true;
}

/* The nearest (to `origin`) other pickup nodes that can serve the whole order: the
 * origin's pickup list in order of distance from it, until enough are found. */
static void pickup_alternatives(const route_ctx *x, uint32_t origin, route_plan *out) {
    const geo_node *o = &x->nodes[origin];
    geo_cell_list list;
    list_heap h;
    double d2 = 0;
    uint32_t m = 0, n = 0;
    geo_cell_lookup(x->g, o->lat, o->lon, true, &list);
    list_heap_build(&h, &list, o->u);
    while (n < INV_PICKUP_ALTERNATIVES_MAX && list_heap_pop(&h, &d2, &m))
        if (m != origin && pickup_can_serve(x, m)) out->alternatives[n++] = m;
    out->alternative_count = n;
}

static void plan_pickup(route_ctx *x, route_plan *out) {
    const route_request *rq = x->rq;
    uint32_t n = rq->pickup_node;
    if (n >= x->node_count) {
        plan_fail(out, INV_NO_ROUTE, "pickup node is not routable yet");
        return;
    }
    if (!(x->nodes[n].flags & GEO_NODE_PICKUP)) {
        plan_fail(out, INV_NO_ROUTE, "node does not offer pickup");
        return;
    }
    if (atomic_load_explicit(&x->e->nodes[n].status, memory_order_acquire) != INV_NODE_ACTIVE) {
        plan_fail(out, INV_NO_ROUTE, "pickup node is not active");
    } else if (node_capacity_left(x->e, n, rq->day) == 0) {
        plan_fail(out, INV_NO_ROUTE, "pickup node is at its daily capacity");
    } else {
        bool short_any = false;
        for (uint32_t i = 0; i < x->lines; i++) {
            int64_t a = cell_available_of(x->e, rq->sku[i], n);
            out->shortfall[i] = a >= (int64_t)rq->qty[i] ? 0 : rq->qty[i] - (a > 0 ? (uint32_t)a : 0);
            short_any |= out->shortfall[i] > 0;
        }
        if (!short_any) {
            double km = rq->has_point ? geo_unit_distance_km(x->q, x->nodes[n].u) : 0;
            plan_single(x, n, km * x->nodes[n].weight + x->nodes[n].fixed_km, out);
            return;
        }
        plan_fail(out, INV_INSUFFICIENT_STOCK, "not enough stock at the pickup node");
    }
    pickup_alternatives(x, n, out);
}

/* ====================================================================================
 * Entry points
 * ==================================================================================== */

void route_plan_make(const inv_engine *e, const geo_snapshot *g, route_scratch *s,
                     const route_request *rq, route_plan *out) {
    assert(e != NULL && g != NULL && s != NULL && rq != NULL && out != NULL);
    assert(rq->line_count >= 1 && rq->line_count <= INV_LINES_MAX);
    assert(rq->max_parcels >= 1 && rq->max_parcels <= INV_PARCELS_MAX);
    route_ctx x = {
        .e = e, .g = g, .nodes = geo_nodes(g), .node_count = geo_node_count(g), .s = s,
        .rq = rq, .lines = rq->line_count, .need = GEO_NODE_SHIPS,
        .by_priority = rq->policy == INV_ROUTE_PRIORITY, .lookup_mask = 0, .eager = false,
        .best_row = INV_NONE, .single = {.node = INV_NONE},
    };
    out->alternative_count = 0;
    for (uint32_t i = 0; i < x.lines; i++) out->sku_exhausted[i] = false;
    if (rq->has_point) geo_point_unit(rq->lat, rq->lon, x.q);
    if (rq->policy == INV_ROUTE_PICKUP) {
        x.need = GEO_NODE_PICKUP;
        plan_pickup(&x, out);
        return;
    }
    if (!rq->has_point) {
        plan_fail(out, INV_NO_ROUTE, "a shipped order needs a destination point");
        return;
    }
    gather(&x);
    for (uint32_t i = 0; i < x.lines; i++)
        out->sku_exhausted[i] = s->walked_all[i] && s->raw[i] == 0;
    if (x.best_row != INV_NONE) {
        plan_single(&x, s->pool[x.best_row].node, s->pool[x.best_row].cost, out);
        return;
    }
    if (x.single.node != INV_NONE) {
        plan_single(&x, x.single.node, x.single.cost, out);
        return;
    }
    rows_check_all(&x);
    totals_compute(&x);
    if (plan_short(&x, out)) return;
    uint32_t parcels = rq->policy == INV_ROUTE_SINGLE_NODE_ONLY ? 1 : rq->max_parcels;
    if (parcels == 1) {
        plan_fail(out, INV_NO_ROUTE, "no single node holds the whole order");
    } else if (x.by_priority) {
        plan_priority_split(&x, parcels, out);
    } else {
        plan_nearest_split(&x, parcels, out);
    }
}

double route_parcel_cost(const inv_engine *e, const geo_snapshot *g, uint32_t node,
                         double lat, double lon) {
    assert(e != NULL);
    assert(g != NULL);
    if (node >= geo_node_count(g)) return INFINITY;
    const geo_node *gn = &geo_nodes(g)[node];
    double q[3];
    geo_point_unit(lat, lon, q);
    return geo_unit_distance_km(q, gn->u) * e->cfg.weights.kind_weight[gn->kind] +
           (double)gn->priority * e->cfg.weights.priority_cost_km;
}
