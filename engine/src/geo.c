/*
 * geo.c — the routing index: an immutable snapshot of where the nodes are (geo.h).
 *
 * What it holds
 *   - A node table (geo_node, one cache line each): unit vector, degrees, kind weight,
 *     priority cost and capabilities, copied from node_rec by the catalog owner. Routing
 *     never reads node_rec for geometry; the live fields (status, capacity) it reads
 *     from node_rec with atomic loads, so they are not copied here.
 *   - A lat/lon grid over the nodes' bounding box plus a margin. Each grid cell keeps,
 *     separately for shipping and for pickup nodes, its nearest min(K, class size) nodes
 *     (K = INV_GEO_CELL_NODES_MAX) in distance order from the cell centre, each with its
 *     unit vector in floats, so that a request can order the list by its own distance
 *     without touching the node table. A request reads its destination's cell (clamped
 *     to the grid) and walks that short list instead of every node.
 *
 * How the lists are built (fast for 10^4 nodes): nodes are bucketed by grid cell (a
 * counting sort); for each cell, buckets are visited in square rings around it while a
 * top-K insertion list collects the nearest. A ring is skipped, and the search ends, as
 * soon as a lower bound on the distance of anything in that ring or beyond is no better
 * than the K-th found. The bound comes from the ring's offset in latitude (a distance is
 * at least its latitude difference) and in longitude (haversine: hav d ≥ cos²φmax ·
 * hav Δλ, with Δλ taken around the globe when the grid spans it). Distances are compared
 * as squared chords of unit vectors, which order exactly as great-circle distances.
 * The grid has about two nodes per cell (at most GEO_CELLS_MAX cells) and is a single
 * cell when no class has more than K nodes, since every list then holds the whole class.
 *
 * Invariants: a snapshot never changes once built; lists hold distinct node indices
 * < node_count of the right class, sorted by (distance from the cell centre, index);
 * every cell's list of a class has exactly min(K, class size) entries.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "geo.h"

#define GEO_PI 3.14159265358979323846
#define GEO_RAD (GEO_PI / 180.0)
/* Grid cells at most: 8192 cells × 2 classes × 64 × 16 bytes = 16 MiB of lists. */
#define GEO_CELLS_MAX 8192u
/* Target nodes per grid cell when a grid is needed: finer cells make a cell's list
 * closer to the true nearest nodes of any point inside it. */
#define GEO_NODES_PER_CELL 2u
/* Margin around the nodes' bounding box, degrees (at least; 1 % of the span else). */
#define GEO_MARGIN_DEG 0.05
#define GEO_CLASS_SHIPS 0
#define GEO_CLASS_PICKUP 1

_Static_assert(INV_GEO_CELL_NODES_MAX >= 1, "a cell lists at least one node");

struct geo_snapshot {
    uint32_t node_count;
    uint32_t rows, cols;
    double lat0, lon0, dlat, dlon; /* south-west corner and cell size, degrees */
    geo_node *nodes;               /* node_count entries */
    double *centres;               /* rows × cols unit vectors */
    uint32_t k[2];                 /* list length per class (0: no node of the class) */
    uint32_t *lists[2];            /* cells × k[class] node indices */
    float *xyz[2];                 /* cells × k[class] × 3: the nodes' unit vectors */
};

/* Nearest-K collector for one cell: sorted by (squared chord, node index). */
typedef struct geo_topk {
    uint32_t k, count;
    double d2[INV_GEO_CELL_NODES_MAX];
    uint32_t node[INV_GEO_CELL_NODES_MAX];
} geo_topk;

/* One class's nodes bucketed by grid cell: bucket c is order[start[c] .. start[c+1]). */
typedef struct geo_buckets {
    uint32_t *start;
    uint32_t *order;
} geo_buckets;

/* ====================================================================================
 * Geometry
 * ==================================================================================== */

double geo_distance_km(double lat1, double lon1, double lat2, double lon2) {
    double p1 = lat1 * GEO_RAD, p2 = lat2 * GEO_RAD;
    double sp = sin((p2 - p1) * 0.5), sl = sin((lon2 - lon1) * GEO_RAD * 0.5);
    double h = sp * sp + cos(p1) * cos(p2) * sl * sl;
    if (h > 1.0) h = 1.0; /* rounding near the antipode */
    return 2.0 * GEO_EARTH_RADIUS_KM * asin(sqrt(h));
}

void geo_point_unit(double lat, double lon, double out[3]) {
    assert(out != NULL);
    double p = lat * GEO_RAD, l = lon * GEO_RAD;
    out[0] = cos(p) * cos(l);
    out[1] = cos(p) * sin(l);
    out[2] = sin(p);
}

static inline double geo_chord2(const double a[3], const double b[3]) {
    double dx = a[0] - b[0], dy = a[1] - b[1], dz = a[2] - b[2];
    return dx * dx + dy * dy + dz * dz;
}

/* Grid row or column of a coordinate: floor, clamped to [0, n); NaN gives 0. */
static inline uint32_t geo_clamp_index(double f, uint32_t n) {
    if (!(f >= 1.0)) return 0;
    if (f >= (double)n) return n - 1;
    return (uint32_t)f;
}

static uint32_t geo_cell_of(const geo_snapshot *g, double lat, double lon) {
    uint32_t r = geo_clamp_index((lat - g->lat0) / g->dlat, g->rows);
    uint32_t c = geo_clamp_index((lon - g->lon0) / g->dlon, g->cols);
    return r * g->cols + c;
}

/* ====================================================================================
 * Node table and grid shape
 * ==================================================================================== */

static void geo_nodes_fill(const inv_engine *e, geo_snapshot *g, uint32_t class_size[2]) {
    const inv_route_weights *w = &e->cfg.weights;
    class_size[0] = class_size[1] = 0;
    for (uint32_t n = 0; n < g->node_count; n++) {
        const node_rec *r = node_at(e, n);
        geo_node *gn = &g->nodes[n];
        assert(r->kind < INV_NODE_KIND_COUNT);
        memset(gn, 0, sizeof *gn);
        geo_point_unit(r->lat, r->lon, gn->u);
        gn->lat = r->lat;
        gn->lon = r->lon;
        gn->weight = w->kind_weight[r->kind];
        gn->fixed_km = (double)r->priority * w->priority_cost_km;
        gn->priority = r->priority;
        gn->kind = r->kind;
        gn->flags = (uint8_t)((r->ships ? GEO_NODE_SHIPS : 0u) | (r->pickup ? GEO_NODE_PICKUP : 0u));
        class_size[GEO_CLASS_SHIPS] += r->ships;
        class_size[GEO_CLASS_PICKUP] += r->pickup;
    }
}

/* Bounding box of the nodes plus a margin, split into about `cells` near-square cells. */
static void geo_grid_shape(geo_snapshot *g, uint32_t cells) {
    assert(cells >= 1 && cells <= GEO_CELLS_MAX);
    double lat_lo = 0, lat_hi = 1, lon_lo = 0, lon_hi = 1;
    for (uint32_t n = 0; n < g->node_count; n++) {
        const geo_node *gn = &g->nodes[n];
        if (n == 0 || gn->lat < lat_lo) lat_lo = gn->lat;
        if (n == 0 || gn->lat > lat_hi) lat_hi = gn->lat;
        if (n == 0 || gn->lon < lon_lo) lon_lo = gn->lon;
        if (n == 0 || gn->lon > lon_hi) lon_hi = gn->lon;
    }
    double mlat = fmax(GEO_MARGIN_DEG, 0.01 * (lat_hi - lat_lo));
    double mlon = fmax(GEO_MARGIN_DEG, 0.01 * (lon_hi - lon_lo));
    lat_lo = fmax(-90.0, lat_lo - mlat);
    lat_hi = fmin(90.0, lat_hi + mlat);
    lon_lo = fmax(-180.0, lon_lo - mlon);
    lon_hi = fmin(180.0, lon_hi + mlon);
    double mid = 0.5 * (lat_lo + lat_hi) * GEO_RAD;
    double aspect = (lon_hi - lon_lo) * fmax(cos(mid), 0.01) / (lat_hi - lat_lo);
    double cols = floor(sqrt((double)cells * aspect) + 0.5);
    g->cols = cols < 1.0 ? 1u : cols > (double)cells ? cells : (uint32_t)cols;
    g->rows = cells / g->cols;
    assert(g->rows >= 1 && g->rows * g->cols <= GEO_CELLS_MAX);
    g->lat0 = lat_lo;
    g->lon0 = lon_lo;
    g->dlat = (lat_hi - lat_lo) / g->rows;
    g->dlon = (lon_hi - lon_lo) / g->cols;
}

/* ====================================================================================
 * Nearest-K lists
 * ==================================================================================== */

static void geo_topk_offer(geo_topk *t, double d2, uint32_t node) {
    uint32_t at = t->count;
    if (t->count == t->k) {
        uint32_t last = t->k - 1;
        if (d2 > t->d2[last] || (d2 == t->d2[last] && node > t->node[last])) return;
        at = last;
    } else {
        t->count++;
    }
    while (at > 0 && (t->d2[at - 1] > d2 || (t->d2[at - 1] == d2 && t->node[at - 1] > node))) {
        t->d2[at] = t->d2[at - 1];
        t->node[at] = t->node[at - 1];
        at--;
    }
    t->d2[at] = d2;
    t->node[at] = node;
}

/* Lower bound (squared chord) on the distance from a cell centre to any node in ring ρ
 * or beyond, for ρ = 0..rho_max (see the file comment). Slightly shrunk so that
 * rounding at a bucket edge can never cut off a node. */
static void geo_ring_bounds(const geo_snapshot *g, double *bound2, uint32_t rho_max) {
    double phi_max = fmin(fmax(fabs(g->lat0), fabs(g->lat0 + g->rows * g->dlat)), 90.0);
    double cos_max = cos(phi_max * GEO_RAD);
    double span = fmin(g->cols * g->dlon, 360.0) * GEO_RAD;
    bound2[0] = 0;
    for (uint32_t rho = 1; rho <= rho_max; rho++) {
        double a_lat = fmin((rho - 0.5) * g->dlat * GEO_RAD, GEO_PI);
        double a_lon = fmin((rho - 0.5) * g->dlon * GEO_RAD, span);
        double s_lat = sin(0.5 * a_lat);
        double s_lon = cos_max * fmin(sin(0.5 * a_lon), sin(0.5 * span));
        double s = fmin(s_lat, s_lon);
        bound2[rho] = 4.0 * s * s * (1.0 - 1e-9);
    }
}

static void geo_bucket_visit(const geo_snapshot *g, const geo_buckets *b, int32_t r,
                             int32_t c, const double *centre, geo_topk *t) {
    if (r < 0 || c < 0 || r >= (int32_t)g->rows || c >= (int32_t)g->cols) return;
    uint32_t cell = (uint32_t)r * g->cols + (uint32_t)c;
    for (uint32_t i = b->start[cell]; i < b->start[cell + 1]; i++) {
        uint32_t n = b->order[i];
        geo_topk_offer(t, geo_chord2(centre, g->nodes[n].u), n);
    }
}

/* Visit the buckets at Chebyshev distance exactly ρ from (r0, c0). */
static void geo_ring_visit(const geo_snapshot *g, const geo_buckets *b, int32_t r0,
                           int32_t c0, int32_t rho, const double *centre, geo_topk *t) {
    assert(rho >= 0);
    if (rho == 0) {
        geo_bucket_visit(g, b, r0, c0, centre, t);
        return;
    }
    int32_t c_lo = c0 - rho < 0 ? 0 : c0 - rho;
    int32_t c_hi = c0 + rho >= (int32_t)g->cols ? (int32_t)g->cols - 1 : c0 + rho;
    int32_t r_lo = r0 - rho + 1 < 0 ? 0 : r0 - rho + 1;
    int32_t r_hi = r0 + rho - 1 >= (int32_t)g->rows ? (int32_t)g->rows - 1 : r0 + rho - 1;
    for (int32_t c = c_lo; c <= c_hi; c++) { /* top and bottom rows of the ring */
        geo_bucket_visit(g, b, r0 - rho, c, centre, t);
        geo_bucket_visit(g, b, r0 + rho, c, centre, t);
    }
    for (int32_t r = r_lo; r <= r_hi; r++) { /* left and right columns, corners excluded */
        geo_bucket_visit(g, b, r, c0 - rho, centre, t);
        geo_bucket_visit(g, b, r, c0 + rho, centre, t);
    }
}

/* Collect the nearest t->k nodes of the bucketed class to grid cell `cell`. */
static void geo_cell_collect(const geo_snapshot *g, const geo_buckets *b,
                             const double *bound2, uint32_t cell, geo_topk *t) {
    assert(cell < g->rows * g->cols);
    assert(t->k >= 1);
    int32_t r0 = (int32_t)(cell / g->cols), c0 = (int32_t)(cell % g->cols);
    int32_t rows = (int32_t)g->rows, cols = (int32_t)g->cols;
    int32_t rho_max = rows > cols ? rows : cols;
    const double *centre = &g->centres[3 * (size_t)cell];
    t->count = 0;
    for (int32_t rho = 0; rho <= rho_max; rho++) {
        if (r0 - rho < 0 && r0 + rho >= rows && c0 - rho < 0 && c0 + rho >= cols) break;
        if (t->count == t->k && t->d2[t->k - 1] <= bound2[rho]) break;
        geo_ring_visit(g, b, r0, c0, rho, centre, t);
    }
    assert(t->count == t->k);
}

/* Bucket the nodes of one class by grid cell (counting sort). */
static int geo_buckets_build(const geo_snapshot *g, uint8_t flag, uint32_t members,
                             geo_buckets *b) {
    uint32_t cells = g->rows * g->cols;
    b->start = calloc((size_t)cells + 2, sizeof(uint32_t));
    b->order = malloc(((size_t)members + 1) * sizeof(uint32_t));
    if (b->start == NULL || b->order == NULL) return -ENOMEM;
    for (uint32_t n = 0; n < g->node_count; n++)
        if (g->nodes[n].flags & flag)
            b->start[geo_cell_of(g, g->nodes[n].lat, g->nodes[n].lon) + 2]++;
    for (uint32_t c = 0; c < cells; c++) b->start[c + 2] += b->start[c + 1];
    for (uint32_t n = 0; n < g->node_count; n++)
        if (g->nodes[n].flags & flag)
            b->order[b->start[geo_cell_of(g, g->nodes[n].lat, g->nodes[n].lon) + 1]++] = n;
    assert(b->start[cells] == members);
    return 0;
}

/* Build every cell's list for one class. */
static int geo_lists_build(geo_snapshot *g, int cls, uint32_t members) {
    uint8_t flag = cls == GEO_CLASS_SHIPS ? GEO_NODE_SHIPS : GEO_NODE_PICKUP;
    uint32_t k = members < INV_GEO_CELL_NODES_MAX ? members : INV_GEO_CELL_NODES_MAX;
    uint32_t cells = g->rows * g->cols, rho_max = g->rows > g->cols ? g->rows : g->cols;
    g->k[cls] = k;
    if (k == 0) return 0;
    g->lists[cls] = malloc((size_t)cells * k * sizeof(uint32_t));
    g->xyz[cls] = malloc((size_t)cells * k * 3 * sizeof(float));
    geo_buckets b = {NULL, NULL};
    double *bound2 = malloc(((size_t)rho_max + 1) * sizeof(double));
    geo_topk *t = malloc(sizeof *t);
    int rc = -ENOMEM;
    if (g->lists[cls] && g->xyz[cls] && bound2 && t && geo_buckets_build(g, flag, members, &b) == 0) {
        geo_ring_bounds(g, bound2, rho_max);
        t->k = k;
        for (uint32_t cell = 0; cell < cells; cell++) {
            geo_cell_collect(g, &b, bound2, cell, t);
            uint32_t *out = &g->lists[cls][(size_t)cell * k];
            float *xyz = &g->xyz[cls][(size_t)cell * k * 3];
            for (uint32_t i = 0; i < k; i++) {
                out[i] = t->node[i];
                for (uint32_t d = 0; d < 3; d++) xyz[3 * i + d] = (float)g->nodes[t->node[i]].u[d];
            }
        }
        rc = 0;
    }
    free(b.start);
    free(b.order);
    free(bound2);
    free(t);
    return rc;
}

/* ====================================================================================
 * Build, free, look-ups
 * ==================================================================================== */

int geo_snapshot_build(const inv_engine *e, geo_snapshot **out) {
    assert(e != NULL);
    assert(out != NULL);
    *out = NULL;
    geo_snapshot *g = calloc(1, sizeof *g);
    if (g == NULL) return -ENOMEM;
    g->node_count = atomic_load_explicit(&((inv_engine *)e)->node_count, memory_order_acquire);
    assert(g->node_count <= e->cfg.nodes_max);
    g->nodes = aligned_alloc(INV_CACHE_LINE, ((size_t)g->node_count + 1) * sizeof(geo_node));
    if (g->nodes == NULL) {
        geo_snapshot_free(g);
        return -ENOMEM;
    }
    uint32_t members[2];
    geo_nodes_fill(e, g, members);
    bool one_cell = members[0] <= INV_GEO_CELL_NODES_MAX && members[1] <= INV_GEO_CELL_NODES_MAX;
    uint32_t cells = g->node_count / GEO_NODES_PER_CELL;
    geo_grid_shape(g, one_cell || cells < 1 ? 1u : cells > GEO_CELLS_MAX ? GEO_CELLS_MAX : cells);
    g->centres = malloc((size_t)g->rows * g->cols * 3 * sizeof(double));
    int rc = g->centres == NULL ? -ENOMEM : 0;
    for (uint32_t cell = 0; rc == 0 && cell < g->rows * g->cols; cell++) {
        double lat = g->lat0 + ((double)(cell / g->cols) + 0.5) * g->dlat;
        double lon = g->lon0 + ((double)(cell % g->cols) + 0.5) * g->dlon;
        geo_point_unit(lat, lon, &g->centres[3 * (size_t)cell]);
    }
    if (rc == 0) rc = geo_lists_build(g, GEO_CLASS_SHIPS, members[GEO_CLASS_SHIPS]);
    if (rc == 0) rc = geo_lists_build(g, GEO_CLASS_PICKUP, members[GEO_CLASS_PICKUP]);
    if (rc != 0) {
        geo_snapshot_free(g);
        return rc;
    }
    *out = g;
    return 0;
}

void geo_snapshot_free(geo_snapshot *g) {
    if (g == NULL) return;
    free(g->nodes);
    free(g->centres);
    for (int c = 0; c < 2; c++) {
        free(g->lists[c]);
        free(g->xyz[c]);
    }
    free(g);
}

uint32_t geo_node_count(const geo_snapshot *g) {
    assert(g != NULL);
    return g->node_count;
}

bool geo_node_point(const geo_snapshot *g, uint32_t node, double *lat, double *lon) {
    assert(g != NULL);
    assert(lat != NULL && lon != NULL);
    if (node >= g->node_count) return false;
    *lat = g->nodes[node].lat;
    *lon = g->nodes[node].lon;
    return true;
}

const geo_node *geo_nodes(const geo_snapshot *g) {
    assert(g != NULL);
    return g->nodes;
}

void geo_cell_lookup(const geo_snapshot *g, double lat, double lon, bool pickup,
                     geo_cell_list *out) {
    assert(g != NULL);
    assert(out != NULL);
    int cls = pickup ? GEO_CLASS_PICKUP : GEO_CLASS_SHIPS;
    uint32_t cell = geo_cell_of(g, lat, lon);
    size_t at = (size_t)cell * g->k[cls];
    out->count = g->k[cls];
    out->nodes = g->k[cls] ? &g->lists[cls][at] : NULL;
    out->xyz = g->k[cls] ? &g->xyz[cls][3 * at] : NULL;
    out->centre = &g->centres[3 * (size_t)cell];
}
