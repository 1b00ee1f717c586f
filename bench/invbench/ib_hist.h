/*
 * ib_hist.h — invbench's high-dynamic-range latency histogram (HdrHistogram's layout:
 * log-linear buckets, a fixed number of significant decimal digits at every magnitude).
 *
 * A value v is counted in a bucket whose width is at most v / 10^digits (digits = 3 →
 * 0.1 % relative error at any magnitude). Recording is O(1), no allocation, no locks:
 * each worker thread records into its own histogram and the reporter merges copies.
 * Values are unsigned (invbench records nanoseconds); values above `highest` are
 * clamped to `highest` and counted in `clamped`.
 */
#ifndef IB_HIST_H
#define IB_HIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ib_hist {
    uint64_t highest;       /* largest value tracked exactly (≥ 2) */
    uint32_t digits;        /* significant decimal digits, 1..4 */
    uint32_t sub_bits;      /* log2 of sub-buckets per power-of-two range */
    uint32_t bucket_count;  /* entries in counts[] */
    uint64_t *counts;
    uint64_t total;         /* values recorded */
    uint64_t min, max;      /* exact extremes (min = UINT64_MAX when empty) */
    long double sum;        /* for the mean */
    uint64_t clamped;       /* values above `highest` (recorded as `highest`) */
} ib_hist;

/* @param highest  largest value to track (e.g. 60 s in ns)
 * @param digits   1..4 significant decimal digits
 * @return 0, -EINVAL, -ENOMEM. */
int ib_hist_init(ib_hist *h, uint64_t highest, uint32_t digits);
void ib_hist_free(ib_hist *h);
/* Forget every value (keeps the layout). */
void ib_hist_reset(ib_hist *h);

void ib_hist_record(ib_hist *h, uint64_t value);
void ib_hist_record_n(ib_hist *h, uint64_t value, uint64_t n);

/* dst += src. Both must have the same highest and digits. @return 0 or -EINVAL. */
int ib_hist_merge(ib_hist *dst, const ib_hist *src);

/* The value at percentile p (0 ≤ p ≤ 100): the smallest recorded bucket value v such
 * that at least p % of the values are ≤ v, reported as the bucket's highest equivalent
 * value (never below the true percentile, at most one bucket width above), capped at
 * max. p = 100 → max, p = 0 → min. Empty histogram → 0. */
uint64_t ib_hist_percentile(const ib_hist *h, double p);
double ib_hist_mean(const ib_hist *h);

/* Walk the non-empty buckets in increasing value order: lo..hi is the bucket's value
 * range (inclusive), count its values. Stops early when fn returns false. */
void ib_hist_foreach(const ib_hist *h,
                     bool (*fn)(void *ctx, uint64_t lo, uint64_t hi, uint64_t count),
                     void *ctx);

#endif /* IB_HIST_H */
