/*
 * ib_hist.c — invbench's high-dynamic-range latency histogram (see ib_hist.h).
 *
 * Layout (HdrHistogram's, with a unit of 1):
 *   - sub_count = 2^sub_bits is the smallest power of two ≥ 2·10^digits. Values below
 *     sub_count are counted exactly (one bucket per value).
 *   - Above that, every power-of-two range [2^k, 2^(k+1)) is one "bucket" split into
 *     sub_count / 2 sub-buckets of equal width 2^(k − sub_bits + 1). A value v in that range
 *     has width / v ≤ 2 / sub_count ≤ 10^−digits: the promised relative precision.
 *   - counts[] holds bucket 0 whole (sub_count entries) and then the upper half of every
 *     further bucket (the lower half of bucket b is covered by bucket b − 1), so the
 *     array is in increasing value order and an index is computed from the value's
 *     highest set bit in O(1): no search, no allocation, no lock.
 *
 * Invariants: total = Σ counts; min ≤ max when total > 0; no recorded value exceeds
 * `highest` (larger ones are recorded as `highest` and counted in `clamped`, and min,
 * max and sum see the clamped value, so every figure describes the same data).
 */
#include "ib_hist.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Precision bounds of the header: 1..4 significant decimal digits. */
#define IB_HIST_DIGITS_MIN 1u
#define IB_HIST_DIGITS_MAX 4u
/* The smallest `highest` worth a histogram (HdrHistogram's "2 × lowest"). */
#define IB_HIST_HIGHEST_MIN 2u
/* Bits in a recorded value. */
#define IB_HIST_VALUE_BITS 64u
/* A requested rank within this relative distance of an integer is taken as that integer,
 * so that p = 99.9 (not exact in binary) over 10^6 values asks for rank 999000, not
 * 999001. */
#define IB_HIST_RANK_REL_TOLERANCE 1e-12L
#define IB_HIST_PERCENT_MAX 100.0

_Static_assert(IB_HIST_DIGITS_MAX <= 4, "2·10^digits must fit a 32-bit sub-bucket count");

/* ------------------------------------------------------------------------------------
 * Index arithmetic
 * ------------------------------------------------------------------------------------ */

static uint64_t sub_count_of(const ib_hist *h) { return 1ull << h->sub_bits; }
static uint32_t half_bits_of(const ib_hist *h) { return h->sub_bits - 1u; }

/* Power-of-two range ("bucket") of value: 0 for values below sub_count. */
static uint32_t bucket_of(const ib_hist *h, uint64_t value) {
    uint64_t sub_mask = sub_count_of(h) - 1u;
    uint32_t pow2_ceiling = IB_HIST_VALUE_BITS - (uint32_t)__builtin_clzll(value | sub_mask);
    assert(pow2_ceiling >= h->sub_bits);
    return pow2_ceiling - h->sub_bits;
}

static size_t index_of(const ib_hist *h, uint64_t value) {
    uint32_t bucket = bucket_of(h, value);
    uint64_t sub = value >> bucket;
    uint64_t half_count = sub_count_of(h) >> 1;
    assert(bucket == 0 || sub >= half_count);
    assert(sub < sub_count_of(h));
    return (size_t)((((uint64_t)bucket + 1u) << half_bits_of(h)) + sub - half_count);
}

/* Lowest value counted at counts[index], and the width of its value range. */
static uint64_t index_lowest(const ib_hist *h, size_t index, uint64_t *width) {
    uint64_t half_count = sub_count_of(h) >> 1;
    uint64_t sub = (index & (half_count - 1u)) + half_count;
    uint32_t bucket = (uint32_t)(index >> half_bits_of(h));
    if (bucket == 0) {
        sub -= half_count;
    } else {
        bucket -= 1u;
    }
    *width = 1ull << bucket;
    return sub << bucket;
}

/* Highest value counted at counts[index], never above the tracked range. */
static uint64_t index_highest(const ib_hist *h, size_t index) {
    uint64_t width;
    uint64_t lowest = index_lowest(h, index, &width);
    uint64_t highest = lowest + (width - 1u);
    return highest < h->highest ? highest : h->highest;
}

/* ------------------------------------------------------------------------------------
 * Life cycle
 * ------------------------------------------------------------------------------------ */

static uint32_t sub_bits_for_digits(uint32_t digits) {
    uint64_t single_unit_max = 2;
    for (uint32_t d = 0; d < digits; d++) single_unit_max *= 10u;
    uint32_t bits = 0;
    while ((1ull << bits) < single_unit_max) bits++;
    return bits;
}

/* Entries of counts[] needed so that `highest` has an index. */
static uint32_t counts_len_for(uint32_t sub_bits, uint64_t highest) {
    uint32_t buckets = 1;
    uint64_t untrackable = 1ull << sub_bits;
    while (untrackable <= highest) {
        buckets++;
        if (untrackable > UINT64_MAX / 2u) break;
        untrackable <<= 1;
    }
    return (buckets + 1u) << (sub_bits - 1u);
}

int ib_hist_init(ib_hist *h, uint64_t highest, uint32_t digits) {
    assert(h != NULL);
    memset(h, 0, sizeof *h);
    if (digits < IB_HIST_DIGITS_MIN || digits > IB_HIST_DIGITS_MAX) return -EINVAL;
    if (highest < IB_HIST_HIGHEST_MIN) return -EINVAL;
    h->highest = highest;
    h->digits = digits;
    h->sub_bits = sub_bits_for_digits(digits);
    h->bucket_count = counts_len_for(h->sub_bits, highest);
    h->counts = calloc(h->bucket_count, sizeof h->counts[0]);
    if (h->counts == NULL) {
        memset(h, 0, sizeof *h);
        return -ENOMEM;
    }
    assert(index_of(h, highest) < h->bucket_count);
    ib_hist_reset(h);
    return 0;
}

void ib_hist_free(ib_hist *h) {
    if (h == NULL) return;
    free(h->counts);
    memset(h, 0, sizeof *h);
}

void ib_hist_reset(ib_hist *h) {
    assert(h != NULL);
    assert(h->counts != NULL);
    memset(h->counts, 0, (size_t)h->bucket_count * sizeof h->counts[0]);
    h->total = 0;
    h->min = UINT64_MAX;
    h->max = 0;
    h->sum = 0;
    h->clamped = 0;
}

/* ------------------------------------------------------------------------------------
 * Recording and merging
 * ------------------------------------------------------------------------------------ */

void ib_hist_record_n(ib_hist *h, uint64_t value, uint64_t n) {
    assert(h != NULL);
    assert(h->counts != NULL);
    if (n == 0) return;
    if (value > h->highest) {
        value = h->highest;
        h->clamped += n;
    }
    h->counts[index_of(h, value)] += n;
    h->total += n;
    if (value < h->min) h->min = value;
    if (value > h->max) h->max = value;
    h->sum += (long double)value * (long double)n;
}

void ib_hist_record(ib_hist *h, uint64_t value) { ib_hist_record_n(h, value, 1); }

int ib_hist_merge(ib_hist *dst, const ib_hist *src) {
    assert(dst != NULL);
    assert(src != NULL);
    if (dst->highest != src->highest || dst->digits != src->digits) return -EINVAL;
    assert(dst->bucket_count == src->bucket_count);
    for (uint32_t i = 0; i < dst->bucket_count; i++) dst->counts[i] += src->counts[i];
    dst->total += src->total;
    dst->clamped += src->clamped;
    dst->sum += src->sum;
    if (src->min < dst->min) dst->min = src->min;
    if (src->max > dst->max) dst->max = src->max;
    return 0;
}

/* ------------------------------------------------------------------------------------
 * Queries
 * ------------------------------------------------------------------------------------ */

/* Rank (1-based) of the value at percentile p: the smallest r with r ≥ p % of total. */
static uint64_t rank_at_percentile(uint64_t total, double p) {
    long double wanted = (long double)p * (long double)total / IB_HIST_PERCENT_MAX;
    long double rank = ceill(wanted - wanted * IB_HIST_RANK_REL_TOLERANCE);
    if (rank < 1.0L) return 1;
    if (rank >= (long double)total) return total;
    return (uint64_t)rank;
}

uint64_t ib_hist_percentile(const ib_hist *h, double p) {
    assert(h != NULL);
    if (h->total == 0) return 0;
    if (!(p > 0.0)) return h->min; /* also NaN */
    if (p >= IB_HIST_PERCENT_MAX) return h->max;
    uint64_t rank = rank_at_percentile(h->total, p);
    uint64_t seen = 0;
    for (uint32_t i = 0; i < h->bucket_count; i++) {
        seen += h->counts[i];
        if (seen >= rank) {
            uint64_t value = index_highest(h, i);
            return value < h->max ? value : h->max;
        }
    }
    /* Unreachable: counts[] sum to total, and rank ≤ total. */
    assert(seen >= rank);
    return h->max;
}

double ib_hist_mean(const ib_hist *h) {
    assert(h != NULL);
    if (h->total == 0) return 0.0;
    return (double)(h->sum / (long double)h->total);
}

void ib_hist_foreach(const ib_hist *h,
                     bool (*fn)(void *ctx, uint64_t lo, uint64_t hi, uint64_t count),
                     void *ctx) {
    assert(h != NULL);
    assert(fn != NULL);
    for (uint32_t i = 0; i < h->bucket_count; i++) {
        if (h->counts[i] == 0) continue;
        uint64_t width;
        uint64_t lo = index_lowest(h, i, &width);
        if (!fn(ctx, lo, index_highest(h, i), h->counts[i])) return;
    }
}
