/*
 * inv_constants.h — every fixed bound of the invd engine, in one place.
 *
 * Each bound says why it has the value it has; the _Static_asserts at the end pin
 * how the bounds relate to one another. Sizes that depend on the deployment (how many
 * nodes, cells, live reservations) are not here: they are `inv_engine_config` fields,
 * allocated once at start-up. What is here is what request handling loops over.
 */
#ifndef INV_CONSTANTS_H
#define INV_CONSTANTS_H

/* Longest node_id, sku, order_id, customer_id, ref_id in bytes (without the NUL):
 * DESIGN.md §2. Longer ids are INVALID_ARGUMENT. */
#define INV_ID_LEN_MAX 64u

/* Longest region string (a province or district code; free text). */
#define INV_REGION_LEN_MAX 16u

/* Lines per order. A checkout basket rarely holds more than a dozen distinct SKUs;
 * 32 leaves room while keeping per-request scratch small and fixed. */
#define INV_LINES_MAX 32u

/* Parcels one order may be split into at most; a request's max_parcels is clamped to
 * this. Default when the caller gives 0: INV_PARCELS_DEFAULT. */
#define INV_PARCELS_MAX 8u
#define INV_PARCELS_DEFAULT 4u

/* Allocation entries (sku, node, qty) per order: every line split at most over every
 * parcel, but never more than this (a line split across more nodes is refused). */
#define INV_ALLOC_MAX 64u

/* Candidate nodes the router considers for one order, nearest (cheapest) first. */
#define INV_ROUTE_CANDIDATES_MAX 64u

/* Subsets the exact cover search may evaluate per order before it falls back to the
 * greedy cover; bounds routing work on a split order. */
#define INV_ROUTE_SUBSETS_MAX 4096u

/* Times a reserve re-plans after losing a race for the stock it planned to take. */
#define INV_RESERVE_ATTEMPTS_MAX 4u

/* Nearest pickup nodes offered as alternatives when a PICKUP order is short. */
#define INV_PICKUP_ALTERNATIVES_MAX 5u

/* Nodes kept per geo-grid cell, in distance order from the cell centre. */
#define INV_GEO_CELL_NODES_MAX 64u

/* A SKU held in at most this many cells is routed by scanning its cells directly;
 * a wider SKU (a flash-sale SKU in thousands of nodes) walks the geo index instead. */
#define INV_SKU_SCAN_CELLS_MAX 64u

/* Time-to-live of a HELD reservation: at least 1 ms, at most one day. */
#define INV_TTL_MS_MAX (24ull * 3600ull * 1000ull)

/* Default idempotency window: finished reservations and seen ref_ids are remembered
 * this long (DESIGN.md §2). */
#define INV_IDEMPOTENCY_WINDOW_MS_DEFAULT (3600ull * 1000ull)

/* Live reservations and remembered tombstones / ref_ids per shard, at most. Their
 * per-shard indexes keep a handle in 29 bits of a slot (the other 3 hold the probe
 * distance: engine/src/oa_index.h); a reservation takes ~4 arena units on average, so
 * 2^26 reservations (~8 GiB of arena) and 2^28 window entries fit with room to spare. */
#define INV_RESERVATIONS_PER_SHARD_MAX (1u << 26)
#define INV_WINDOW_ENTRIES_PER_SHARD_MAX (1u << 28)

/* Shards (threads). More than the cores of any box invd targets; bounds ring arrays. */
#define INV_SHARDS_MAX 64u

/* Depth of each shard-to-shard SPSC ring (requests one way, replies the other). */
#define INV_RING_DEPTH 4096u

/* Timer wheel: slots and slot width. Span = 16384 × 8 ms ≈ 131 s; longer TTLs go
 * round the wheel (each pass is one list visit per reservation). */
#define INV_TIMER_SLOTS 16384u
#define INV_TIMER_SLOT_MS 8u

/* Reservations expired per shard per poll at most, so expiry never stalls requests. */
#define INV_EXPIRE_BATCH_MAX 1024u

/* Largest quantity in one line, one adjust delta, one on_hand: fits the packed
 * 32-bit fields of a stock cell with room for sums of a few lines. */
#define INV_QTY_MAX 1000000000u

/* Retired geo snapshots waiting for every shard to pass a quiescent point. */
#define INV_GEO_RETIRED_MAX 8u

/* Length of a status message written into an op. */
#define INV_MESSAGE_LEN_MAX 160u

_Static_assert(INV_PARCELS_DEFAULT <= INV_PARCELS_MAX, "default within the maximum");
_Static_assert(INV_ALLOC_MAX >= INV_LINES_MAX, "each line needs at least one entry");
_Static_assert(INV_ROUTE_CANDIDATES_MAX <= INV_GEO_CELL_NODES_MAX * 2,
               "candidates come from one geo cell list");
_Static_assert(INV_PARCELS_MAX <= INV_ROUTE_CANDIDATES_MAX, "parcels are candidates");
_Static_assert((INV_RING_DEPTH & (INV_RING_DEPTH - 1)) == 0, "ring depth is a power of 2");
_Static_assert((INV_TIMER_SLOTS & (INV_TIMER_SLOTS - 1)) == 0, "slots are a power of 2");
_Static_assert(INV_QTY_MAX < (1u << 31), "quantities fit a signed 32-bit field");
_Static_assert(INV_ID_LEN_MAX < 256, "id lengths fit a byte");

#endif /* INV_CONSTANTS_H */
