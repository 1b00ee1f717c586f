/*
 * route.h — choosing the node(s) that ship an order (DESIGN.md §4).
 *
 * route_plan_make reads stock (atomic loads only) and writes a plan; it takes nothing.
 * The caller (resv.c) then takes the planned units with stock_take, one CAS per entry,
 * and re-plans if it loses a race. Goals in order: fewest parcels, lowest total cost
 * (cost of a parcel = km × kind weight + priority tie-break), within node capacity.
 * Every loop is bounded by the constants in inv_constants.h.
 */
#ifndef INV_ROUTE_H
#define INV_ROUTE_H

#include "engine_int.h"
#include "geo.h"

typedef struct route_request {
    inv_route_policy policy;
    bool has_point;            /* destination point (PICKUP: the pickup node's point) */
    double lat, lon;
    uint32_t pickup_node;      /* PICKUP: node index; else INV_NONE */
    uint32_t max_parcels;      /* 1..INV_PARCELS_MAX (already defaulted and clamped) */
    double max_distance_km;    /* 0 = unlimited */
    uint64_t day;              /* business day, for node capacity */
    uint32_t line_count;       /* 1..INV_LINES_MAX */
    uint32_t sku[INV_LINES_MAX];
    uint32_t qty[INV_LINES_MAX];
} route_request;

typedef struct route_plan {
    inv_status status;         /* INV_OK, INV_INSUFFICIENT_STOCK or INV_NO_ROUTE */
    const char *reason;        /* static text when not OK */
    uint32_t alloc_count;
    inv_alloc alloc[INV_ALLOC_MAX]; /* qty > 0; entries of one node are adjacent */
    uint32_t parcels;          /* distinct nodes in alloc */
    uint32_t parcel_nodes[INV_PARCELS_MAX];
    double cost;               /* Σ over parcels of the parcel's cost */
    uint32_t shortfall[INV_LINES_MAX];   /* INSUFFICIENT_STOCK: units missing per line */
    bool sku_exhausted[INV_LINES_MAX];   /* every cell of the line's SKU was scanned and
                                            none had available > 0 */
    uint32_t alternative_count;          /* PICKUP short: pickup nodes holding it all */
    uint32_t alternatives[INV_PICKUP_ALTERNATIVES_MAX];
} route_plan;

/* Per-shard scratch space, allocated once (no allocation per request). */
typedef struct route_scratch route_scratch;
route_scratch *route_scratch_new(void);
void route_scratch_free(route_scratch *s);

/* Plan an allocation for `rq` against the stock as it is now.
 * @param g   the geo snapshot the caller holds (not NULL)
 * @param s   this shard's scratch
 * @param out the plan; out->status says whether it covers the order. */
void route_plan_make(const inv_engine *e, const geo_snapshot *g, route_scratch *s,
                     const route_request *rq, route_plan *out);

/* Cost of one parcel from node `node` to (lat, lon) under this snapshot and weights. */
double route_parcel_cost(const inv_engine *e, const geo_snapshot *g, uint32_t node,
                         double lat, double lon);

#endif /* INV_ROUTE_H */
