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

#endif /* INV_GEO_H */
