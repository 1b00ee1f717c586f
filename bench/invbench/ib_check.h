/*
 * ib_check.h — invbench's correctness checks on a finished run: no oversell, and the
 * routing-quality figures of the parcels the system chose.
 *
 * Oversell. For every SKU the harness knows what it loaded (Σ on_hand at load plus every
 * adjustment it made since) and, from acknowledged replies, how many units it committed
 * (payments). At the end it asks the system under test for the SKU's totals over all
 * nodes (GetAvailability: on_hand, reserved). Commit ships units: on_hand and reserved
 * both drop by the committed quantity. The system oversold when any of these fails:
 *   1. committed + on_hand == loaded           (units are conserved: none appear, none vanish)
 *   2. reserved + committed ≤ loaded           (never promised more than there was)
 *   3. 0 ≤ reserved ≤ on_hand                  (the end state itself is not over-committed)
 *   4. committed ≤ acked_reserved              (every committed unit was reserved first)
 * A SKU the system could not report is a finding too ("not reported").
 */
#ifndef IB_CHECK_H
#define IB_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ib_sku_tally {
    /* From the harness. */
    int64_t loaded;          /* Σ on_hand loaded + adjustments made by the harness */
    int64_t acked_reserved;  /* units in reserves acknowledged OK (ever) */
    int64_t committed;       /* units in commits acknowledged OK */
    /* From the system under test at the end (GetAvailability totals). */
    bool reported;
    int64_t on_hand, reserved;
} ib_sku_tally;

typedef enum ib_oversell_rule {
    IB_RULE_CONSERVED = 1,   /* committed + on_hand == loaded */
    IB_RULE_NO_OVERPROMISE,  /* reserved + committed ≤ loaded */
    IB_RULE_END_STATE,       /* 0 ≤ reserved ≤ on_hand */
    IB_RULE_COMMIT_RESERVED, /* committed ≤ acked_reserved */
    IB_RULE_NOT_REPORTED,    /* no totals from the system */
} ib_oversell_rule;

typedef struct ib_oversell_finding {
    uint32_t sku;            /* index into the tally array */
    ib_oversell_rule rule;
    int64_t lhs, rhs;        /* the two sides that disagreed */
    ib_sku_tally tally;      /* the SKU's figures, so describe() can name every term */
} ib_oversell_finding;

/* Check n SKUs; writes up to `max` findings (the first ones, by SKU order).
 * @return the total number of findings (may exceed max); 0 means no oversell. */
size_t ib_oversell_check(const ib_sku_tally *t, uint32_t n, ib_oversell_finding *out,
                         size_t max);
/* One line describing a finding, e.g. "SKU-0007: reserved 12 + committed 90 > loaded 100".
 * @param f         a finding filled by ib_oversell_check
 * @param sku_name  the SKU's name (NULL: "SKU #<index>")
 * @param buf, len  output, always NUL-terminated when len > 0 (truncated if short) */
void ib_oversell_describe(const ib_oversell_finding *f, const char *sku_name, char *buf,
                          size_t len);
const char *ib_oversell_rule_name(ib_oversell_rule r);

/* Routing quality over acknowledged reserves. A parcel is one (order, node) pair of the
 * allocation; its distance is node → destination, great-circle km. */
typedef struct ib_route_stats {
    uint64_t orders;           /* reserves acknowledged OK */
    uint64_t parcels;
    uint64_t single_parcel_orders;
    double km_sum;             /* Σ over parcels */
} ib_route_stats;

/* Add one acknowledged order: its parcels' distances in km. */
void ib_route_add(ib_route_stats *r, const double *parcel_km, uint32_t parcels);
void ib_route_merge(ib_route_stats *dst, const ib_route_stats *src);
double ib_route_km_per_parcel(const ib_route_stats *r);    /* 0 when no parcels */
double ib_route_parcels_per_order(const ib_route_stats *r);
double ib_route_single_share(const ib_route_stats *r);     /* 0..1 */

#endif /* IB_CHECK_H */
