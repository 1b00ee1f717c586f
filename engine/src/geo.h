/*
 * geo.h — the routing index: an immutable snapshot of where the nodes are.
 *
 * Built by the catalog owner when nodes change (geo_snapshot_build), published by
 * catalog.c through an atomic pointer, read by every shard without locks, freed once no
 * shard can still hold it (QSBR in catalog.c). A request never scans all nodes: its
 * destination's grid cell already lists the nearest nodes, in distance order from the
 * cell centre.
 */
#ifndef INV_GEO_H
#define INV_GEO_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>

#include "engine_int.h"

typedef struct geo_snapshot geo_snapshot;

/* Build a snapshot of nodes [0, node_count) as they are now (catalog owner thread).
 * @param[out] out  the snapshot
 * @return 0, or -ENOMEM. */
int geo_snapshot_build(const inv_engine *e, geo_snapshot **out);
void geo_snapshot_free(geo_snapshot *g);

/* Nodes covered by the snapshot (nodes added later are unknown to it). */
uint32_t geo_node_count(const geo_snapshot *g);

/* The node's point as of this snapshot. false: node not in the snapshot. */
bool geo_node_point(const geo_snapshot *g, uint32_t node, double *lat, double *lon);

/* Great-circle distance in km between two WGS84 points (haversine, R = 6371.0088). */
double geo_distance_km(double lat1, double lon1, double lat2, double lon2);

/* ------------------------------------------------------------------------------------
 * Routing's view of the snapshot (route.c reads these on the reserve path).
 * ------------------------------------------------------------------------------------ */
#define GEO_EARTH_RADIUS_KM 6371.0088
#define GEO_NODE_SHIPS 0x1u  /* the node can send a parcel */
#define GEO_NODE_PICKUP 0x2u /* customers can collect there */

/* One node as of the snapshot: one cache line holding everything a parcel cost needs. */
typedef struct geo_node {
    double u[3];     /* unit vector of (lat, lon); the chord between two gives distance */
    double lat, lon; /* WGS84 degrees, as upserted */
    double weight;   /* cfg.weights.kind_weight[kind] */
    double fixed_km; /* priority × cfg.weights.priority_cost_km */
    uint32_t priority;
    uint8_t kind;    /* inv_node_kind */
    uint8_t flags;   /* GEO_NODE_SHIPS | GEO_NODE_PICKUP */
} geo_node;
_Static_assert(sizeof(geo_node) == 64, "a snapshot node is one cache line");

/* The nearest nodes of one class to a grid cell's centre. */
typedef struct geo_cell_list {
    const uint32_t *nodes; /* nearest first from the cell centre */
    const float *xyz;      /* each one's unit vector (3 floats, ≤ 1e-7 off): distances
                              from any point without touching the node table */
    uint32_t count;        /* ≤ INV_GEO_CELL_NODES_MAX */
    const double *centre;  /* unit vector of the cell centre */
} geo_cell_list;

/* The snapshot's node table, indexed by node: geo_node_count(g) entries. */
const geo_node *geo_nodes(const geo_snapshot *g);

/* The list of the grid cell holding (lat, lon); a point outside the grid takes the
 * nearest edge cell. `pickup`: pickup nodes, else shipping nodes. */
void geo_cell_lookup(const geo_snapshot *g, double lat, double lon, bool pickup,
                     geo_cell_list *out);

/* Unit vector of a WGS84 point (degrees). */
void geo_point_unit(double lat, double lon, double out[3]);

/* Great-circle km between two unit vectors: 2R·asin(chord/2), which is the haversine
 * distance computed from the chord (no trigonometry but one asin). */
static inline double geo_unit_distance_km(const double a[3], const double b[3]) {
    double dx = a[0] - b[0], dy = a[1] - b[1], dz = a[2] - b[2];
    double half = 0.5 * sqrt(dx * dx + dy * dy + dz * dz);
    return 2.0 * GEO_EARTH_RADIUS_KM * asin(half < 1.0 ? half : 1.0);
}

#endif /* INV_GEO_H */
