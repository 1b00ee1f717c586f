/*
 * test_invbench_stats.c — invbench's statistics library ib_stats: the HDR latency
 * histogram, the oversell checker and routing-quality sums, and the gnuplot plot writer.
 *
 * Histogram: 10^6 values from known distributions (uniform, exponential, log-normal,
 * Pareto) drawn by a seeded PRNG are recorded at 1..4 significant digits, and each
 * reported percentile is compared with the exact one taken from the same values sorted
 * (nearest rank: the smallest value with at least p % of the values at or below it).
 * A report must never be below the exact value and at most 10^−digits above it
 * relatively; min, max and mean must be exact. Also: the layout (sub-bucket count is the
 * smallest power of two ≥ 2·10^digits), merge of two halves equals the whole, clamping
 * above `highest`, the empty histogram, record_n, reset, and foreach order and totals.
 *
 * Oversell: a consistent end state gives no finding; one SKU broken in each way the
 * header lists is caught with the right rule(s) at the right SKU index, and the
 * description names the figures.
 *
 * Plots: written into a fresh temporary directory; the .dat and .gp files must exist and
 * be non-empty; with gnuplot present the .svg must be SVG and the .png a PNG. Without
 * gnuplot those tests skip loudly.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* nftw */
#endif
#include <criterion/criterion.h>
#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ib_check.h"
#include "ib_hist.h"
#include "ib_plot.h"
#include "test_support.h"

/* ------------------------------------------------------------------------------------
 * Seeded PRNG and distributions
 * ------------------------------------------------------------------------------------ */

#define SAMPLE_COUNT 1000000u
#define SEED 20241111u
#define NS_PER_S 1000000000ull
#define HIGHEST_NS (60ull * NS_PER_S) /* invbench tracks up to a minute */
#define DIGITS_MIN 1u
#define DIGITS_MAX 4u
#define UNIFORM_MAX_NS 10000000ull    /* 10 ms */
#define EXP_MEAN_NS 50000.0           /* 50 µs */
#define LOGNORMAL_MEDIAN_NS 100000.0  /* 100 µs */
#define LOGNORMAL_SIGMA 1.5
#define PARETO_SCALE_NS 20000.0       /* 20 µs */
#define PARETO_ALPHA 1.2
#define MEAN_REL_TOLERANCE 1e-12

typedef struct prng { uint64_t state; } prng;

/* splitmix64: small, seeded, good enough for test data. */
static uint64_t prng_next(prng *r) {
    uint64_t z = (r->state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in (0, 1]. */
static double prng_unit(prng *r) {
    return ((double)(prng_next(r) >> 11) + 1.0) / 9007199254740992.0; /* 2^53 */
}

static double prng_normal(prng *r) {
    return sqrt(-2.0 * log(prng_unit(r))) * cos(2.0 * M_PI * prng_unit(r));
}

static uint64_t clamp_ns(double v) {
    if (!(v >= 0.0)) return 0;
    if (v >= (double)HIGHEST_NS) return HIGHEST_NS;
    return (uint64_t)v;
}

typedef enum dist { DIST_UNIFORM, DIST_EXPONENTIAL, DIST_LOGNORMAL, DIST_PARETO } dist;
static const char *const dist_names[] = {"uniform", "exponential", "log-normal", "Pareto"};

static uint64_t draw(prng *r, dist d) {
    switch (d) {
    case DIST_UNIFORM: return prng_next(r) % (UNIFORM_MAX_NS + 1u);
    case DIST_EXPONENTIAL: return clamp_ns(-EXP_MEAN_NS * log(prng_unit(r)));
    case DIST_LOGNORMAL:
        return clamp_ns(LOGNORMAL_MEDIAN_NS * exp(LOGNORMAL_SIGMA * prng_normal(r)));
    case DIST_PARETO: return clamp_ns(PARETO_SCALE_NS / pow(prng_unit(r), 1.0 / PARETO_ALPHA));
    }
    cr_assert_fail("unknown distribution %d", (int)d);
    return 0;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static uint64_t *sample_make(dist d, uint64_t seed, size_t n) {
    uint64_t *v = malloc(n * sizeof *v);
    cr_assert_not_null(v);
    prng r = {seed};
    for (size_t i = 0; i < n; i++) v[i] = draw(&r, d);
    return v;
}

static void hist_init_ok(ib_hist *h, uint64_t highest, uint32_t digits) {
    int rc = ib_hist_init(h, highest, digits);
    cr_assert_eq(rc, 0, "ib_hist_init(%" PRIu64 ", %u) = %d", highest, digits, rc);
}

/* ------------------------------------------------------------------------------------
 * Histogram accuracy
 * ------------------------------------------------------------------------------------ */

/* A percentile as an exact fraction num / den of 100 %, so the exact rank is integer. */
typedef struct pct { uint64_t num, den; } pct;
static const pct checked_pcts[] = {{1, 1000}, {50, 1}, {90, 1}, {99, 1}, {999, 10},
                                   {9999, 100}, {100, 1}};
#define CHECKED_PCT_COUNT (sizeof checked_pcts / sizeof checked_pcts[0])

/* Nearest rank over sorted[0..n): the smallest r with r ≥ p % of n. */
static uint64_t exact_percentile(const uint64_t *sorted, size_t n, pct p) {
    uint64_t scaled = (uint64_t)n * p.num;
    uint64_t per = 100u * p.den;
    uint64_t rank = (scaled + per - 1u) / per;
    if (rank == 0) rank = 1;
    return sorted[rank - 1u];
}

static uint64_t pow10_u64(uint32_t e) {
    uint64_t v = 1;
    for (uint32_t i = 0; i < e; i++) v *= 10u;
    return v;
}

static void check_accuracy(const char *what, const uint64_t *values, const uint64_t *sorted,
                           size_t n, uint32_t digits) {
    ib_hist h;
    hist_init_ok(&h, HIGHEST_NS, digits);
    long double sum = 0;
    for (size_t i = 0; i < n; i++) {
        ib_hist_record(&h, values[i]);
        sum += (long double)values[i];
    }
    T_EQU(h.total, n);
    T_EQU(h.clamped, 0);
    T_EQU(h.min, sorted[0]);
    T_EQU(h.max, sorted[n - 1]);
    double mean_exact = (double)(sum / (long double)n);
    cr_assert(fabs(ib_hist_mean(&h) - mean_exact) <= mean_exact * MEAN_REL_TOLERANCE,
              "%s d=%u: mean %.6f, exact %.6f", what, digits, ib_hist_mean(&h), mean_exact);
    T_EQU(ib_hist_percentile(&h, 0.0), sorted[0]);
    double rel = 1.0 / (double)pow10_u64(digits);
    for (size_t k = 0; k < CHECKED_PCT_COUNT; k++) {
        double p = (double)checked_pcts[k].num / (double)checked_pcts[k].den;
        uint64_t exact = exact_percentile(sorted, n, checked_pcts[k]);
        uint64_t got = ib_hist_percentile(&h, p);
        cr_assert(got >= exact, "%s d=%u p%g: %" PRIu64 " below exact %" PRIu64, what, digits,
                  p, got, exact);
        cr_assert((double)(got - exact) <= (double)exact * rel,
                  "%s d=%u p%g: %" PRIu64 " vs exact %" PRIu64 " (rel error %.3g > %.3g)",
                  what, digits, p, got, exact, (double)(got - exact) / (double)exact, rel);
    }
    ib_hist_free(&h);
}

static void check_distribution(dist d) {
    uint64_t *values = sample_make(d, SEED + (uint64_t)d, SAMPLE_COUNT);
    uint64_t *sorted = malloc(SAMPLE_COUNT * sizeof *sorted);
    cr_assert_not_null(sorted);
    memcpy(sorted, values, SAMPLE_COUNT * sizeof *sorted);
    qsort(sorted, SAMPLE_COUNT, sizeof *sorted, cmp_u64);
    for (uint32_t digits = DIGITS_MIN; digits <= DIGITS_MAX; digits++)
        check_accuracy(dist_names[d], values, sorted, SAMPLE_COUNT, digits);
    free(sorted);
    free(values);
}

TestSuite(invbench_hist);

Test(invbench_hist, accuracy_uniform) { check_distribution(DIST_UNIFORM); }
Test(invbench_hist, accuracy_exponential) { check_distribution(DIST_EXPONENTIAL); }
Test(invbench_hist, accuracy_lognormal) { check_distribution(DIST_LOGNORMAL); }
Test(invbench_hist, accuracy_pareto) { check_distribution(DIST_PARETO); }

/* Every value 0..N-1 once: each percentile is known in closed form. */
Test(invbench_hist, accuracy_every_value_small) {
    const uint64_t n = 100000;
    for (uint32_t digits = DIGITS_MIN; digits <= DIGITS_MAX; digits++) {
        ib_hist h;
        hist_init_ok(&h, n, digits);
        for (uint64_t v = 0; v < n; v++) ib_hist_record(&h, v);
        double rel = 1.0 / (double)pow10_u64(digits);
        for (uint64_t rank = 1; rank <= n; rank += 97) {
            double p = 100.0 * (double)rank / (double)n;
            uint64_t exact = rank - 1u, got = ib_hist_percentile(&h, p);
            cr_assert(got >= exact && (double)(got - exact) <= (double)exact * rel,
                      "d=%u rank %" PRIu64 ": %" PRIu64 " vs %" PRIu64, digits, rank, got,
                      exact);
        }
        ib_hist_free(&h);
    }
}

/* ------------------------------------------------------------------------------------
 * Histogram layout and operations
 * ------------------------------------------------------------------------------------ */

Test(invbench_hist, layout_follows_digits) {
    for (uint32_t digits = DIGITS_MIN; digits <= DIGITS_MAX; digits++) {
        ib_hist h;
        hist_init_ok(&h, HIGHEST_NS, digits);
        uint64_t single_unit = 2u * pow10_u64(digits);
        cr_assert((1ull << h.sub_bits) >= single_unit, "d=%u sub_bits %u too few", digits,
                  h.sub_bits);
        cr_assert((1ull << (h.sub_bits - 1u)) < single_unit, "d=%u sub_bits %u too many",
                  digits, h.sub_bits);
        T_EQU(h.digits, digits);
        T_EQU(h.highest, HIGHEST_NS);
        /* Values below the sub-bucket count are exact: one bucket per value. */
        ib_hist_record(&h, single_unit - 1u);
        T_EQU(ib_hist_percentile(&h, 50.0), single_unit - 1u);
        ib_hist_free(&h);
    }
}

Test(invbench_hist, init_rejects_bad_arguments) {
    ib_hist h;
    T_EQ(ib_hist_init(&h, HIGHEST_NS, 0), -EINVAL);
    T_EQ(ib_hist_init(&h, HIGHEST_NS, DIGITS_MAX + 1u), -EINVAL);
    T_EQ(ib_hist_init(&h, 1, 3), -EINVAL);
    T_EQ(ib_hist_init(&h, 0, 3), -EINVAL);
    /* The whole uint64 range is trackable. */
    hist_init_ok(&h, UINT64_MAX, 3);
    ib_hist_record(&h, UINT64_MAX);
    ib_hist_record(&h, 0);
    T_EQU(ib_hist_percentile(&h, 100.0), UINT64_MAX);
    T_EQU(ib_hist_percentile(&h, 50.0), 0);
    T_EQU(ib_hist_percentile(&h, 75.0), UINT64_MAX);
    T_EQU(h.clamped, 0);
    ib_hist_free(&h);
}

Test(invbench_hist, empty_histogram) {
    ib_hist h;
    hist_init_ok(&h, HIGHEST_NS, 3);
    T_EQU(h.total, 0);
    T_EQU(h.min, UINT64_MAX);
    T_EQU(h.max, 0);
    const double ps[] = {0.0, 50.0, 99.9, 100.0};
    for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++) T_EQU(ib_hist_percentile(&h, ps[i]), 0);
    cr_assert_eq(ib_hist_mean(&h), 0.0);
    ib_hist_free(&h);
}

static bool count_buckets(void *ctx, uint64_t lo, uint64_t hi, uint64_t count) {
    (void)lo;
    (void)hi;
    (void)count;
    (*(uint32_t *)ctx)++;
    return true;
}

static void expect_same_hist(const ib_hist *a, const ib_hist *b, const char *what) {
    T_EQU(a->bucket_count, b->bucket_count);
    cr_assert(memcmp(a->counts, b->counts, a->bucket_count * sizeof a->counts[0]) == 0,
              "%s: counts differ", what);
    T_EQU(a->total, b->total);
    T_EQU(a->min, b->min);
    T_EQU(a->max, b->max);
    T_EQU(a->clamped, b->clamped);
    cr_assert(a->sum == b->sum, "%s: sums differ: %Lg vs %Lg", what, a->sum, b->sum);
}

Test(invbench_hist, clamping_above_highest) {
    const uint64_t highest = 1000000;
    ib_hist h;
    hist_init_ok(&h, highest, 2);
    ib_hist_record(&h, 10);
    ib_hist_record(&h, highest + 1u);
    ib_hist_record_n(&h, UINT64_MAX, 3);
    T_EQU(h.total, 5);
    T_EQU(h.clamped, 4);
    T_EQU(h.max, highest);
    T_EQU(ib_hist_percentile(&h, 100.0), highest);
    T_EQU(ib_hist_percentile(&h, 50.0), highest);
    T_EQU(ib_hist_percentile(&h, 20.0), 10);
    cr_assert(fabs(ib_hist_mean(&h) - (10.0 + 4.0 * (double)highest) / 5.0) < 1e-6);
    ib_hist_free(&h);
}

Test(invbench_hist, record_n_equals_repeated_record) {
    ib_hist once, repeated;
    hist_init_ok(&once, HIGHEST_NS, 3);
    hist_init_ok(&repeated, HIGHEST_NS, 3);
    prng r = {SEED};
    for (uint32_t i = 0; i < 1000; i++) {
        uint64_t v = draw(&r, DIST_LOGNORMAL), n = prng_next(&r) % 7u;
        ib_hist_record_n(&once, v, n);
        for (uint64_t k = 0; k < n; k++) ib_hist_record(&repeated, v);
    }
    expect_same_hist(&once, &repeated, "record_n");
    /* n = 0 records nothing, not even an extreme. */
    ib_hist empty;
    hist_init_ok(&empty, HIGHEST_NS, 3);
    ib_hist_record_n(&empty, 5, 0);
    T_EQU(empty.total, 0);
    T_EQU(empty.min, UINT64_MAX);
    ib_hist_free(&empty);
    ib_hist_free(&once);
    ib_hist_free(&repeated);
}

Test(invbench_hist, merge_of_halves_equals_whole) {
    uint64_t *values = sample_make(DIST_PARETO, SEED, SAMPLE_COUNT);
    ib_hist whole, first, second;
    hist_init_ok(&whole, HIGHEST_NS, 3);
    hist_init_ok(&first, HIGHEST_NS, 3);
    hist_init_ok(&second, HIGHEST_NS, 3);
    for (size_t i = 0; i < SAMPLE_COUNT; i++) {
        ib_hist_record(&whole, values[i]);
        ib_hist_record(i < SAMPLE_COUNT / 2 ? &first : &second, values[i]);
    }
    T_EQ(ib_hist_merge(&first, &second), 0);
    expect_same_hist(&first, &whole, "merge");
    const double ps[] = {50.0, 99.0, 99.99};
    for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++)
        T_EQU(ib_hist_percentile(&first, ps[i]), ib_hist_percentile(&whole, ps[i]));
    /* Merging an empty histogram changes nothing. */
    ib_hist_reset(&second);
    T_EQ(ib_hist_merge(&first, &second), 0);
    expect_same_hist(&first, &whole, "merge of empty");
    ib_hist other;
    hist_init_ok(&other, HIGHEST_NS, 2);
    T_EQ(ib_hist_merge(&first, &other), -EINVAL);
    ib_hist_free(&other);
    hist_init_ok(&other, HIGHEST_NS / 2u, 3);
    T_EQ(ib_hist_merge(&first, &other), -EINVAL);
    ib_hist_free(&other);
    ib_hist_free(&whole);
    ib_hist_free(&first);
    ib_hist_free(&second);
    free(values);
}

Test(invbench_hist, reset_forgets_everything) {
    ib_hist h, fresh;
    hist_init_ok(&h, HIGHEST_NS, 2);
    hist_init_ok(&fresh, HIGHEST_NS, 2);
    ib_hist_record_n(&h, 123456, 10);
    ib_hist_record(&h, HIGHEST_NS * 2u);
    ib_hist_reset(&h);
    expect_same_hist(&h, &fresh, "reset");
    uint32_t buckets = 0;
    ib_hist_foreach(&h, count_buckets, &buckets);
    T_EQU(buckets, 0);
    ib_hist_free(&h);
    ib_hist_free(&fresh);
}

typedef struct walk {
    uint64_t prev_hi, total, values_seen;
    uint32_t buckets, stop_after;
    bool any;
    const uint64_t *probe; /* sorted values that must fall in the buckets, in order */
    size_t probe_n, probe_i;
} walk;

static bool walk_bucket(void *ctx, uint64_t lo, uint64_t hi, uint64_t count) {
    walk *w = ctx;
    cr_assert(lo <= hi, "bucket %" PRIu64 "..%" PRIu64 " inverted", lo, hi);
    cr_assert(!w->any || lo > w->prev_hi, "bucket %" PRIu64 " not after %" PRIu64, lo,
              w->prev_hi);
    cr_assert(count > 0, "empty bucket visited");
    /* The bucket holds exactly the probe values in lo..hi. */
    uint64_t inside = 0;
    while (w->probe_i < w->probe_n && w->probe[w->probe_i] <= hi) {
        cr_assert(w->probe[w->probe_i] >= lo, "value %" PRIu64 " skipped by the walk",
                  w->probe[w->probe_i]);
        w->probe_i++;
        inside++;
    }
    T_EQU(inside, count);
    w->prev_hi = hi;
    w->any = true;
    w->total += count;
    w->buckets++;
    return w->stop_after == 0 || w->buckets < w->stop_after;
}

Test(invbench_hist, foreach_in_order_with_total) {
    const size_t n = 200000;
    for (uint32_t digits = DIGITS_MIN; digits <= DIGITS_MAX; digits++) {
        uint64_t *values = sample_make(DIST_LOGNORMAL, SEED + digits, n);
        ib_hist h;
        hist_init_ok(&h, HIGHEST_NS, digits);
        for (size_t i = 0; i < n; i++) ib_hist_record(&h, values[i]);
        qsort(values, n, sizeof *values, cmp_u64);
        walk w = {.probe = values, .probe_n = n};
        ib_hist_foreach(&h, walk_bucket, &w);
        T_EQU(w.total, h.total);
        T_EQU(w.probe_i, n);
        cr_assert(w.buckets > 1);
        walk early = {.stop_after = 1, .probe = values, .probe_n = n};
        ib_hist_foreach(&h, walk_bucket, &early);
        T_EQU(early.buckets, 1);
        ib_hist_free(&h);
        free(values);
    }
}

/* ------------------------------------------------------------------------------------
 * Oversell checker
 * ------------------------------------------------------------------------------------ */

#define SKU_COUNT 12u
#define BROKEN_SKU 7u
#define FINDINGS_MAX 8u

/* A consistent end state: load, reserve, commit part, release or expire part. */
static void tallies_consistent(ib_sku_tally *t, uint32_t n) {
    prng r = {SEED};
    for (uint32_t i = 0; i < n; i++) {
        int64_t loaded = 50 + (int64_t)(prng_next(&r) % 500u);
        int64_t acked = (int64_t)(prng_next(&r) % (uint64_t)(loaded + 1));
        int64_t committed = (int64_t)(prng_next(&r) % (uint64_t)(acked + 1));
        int64_t still_reserved = (int64_t)(prng_next(&r) % (uint64_t)(acked - committed + 1));
        t[i] = (ib_sku_tally){.loaded = loaded, .acked_reserved = acked,
                              .committed = committed, .reported = true,
                              .on_hand = loaded - committed, .reserved = still_reserved};
    }
}

/* Sums of untrusted figures are expected to saturate, not wrap. */
static int64_t sum_saturated(int64_t a, int64_t b) {
    if (b > 0 && a > INT64_MAX - b) return INT64_MAX;
    if (b < 0 && a < INT64_MIN - b) return INT64_MIN;
    return a + b;
}

/* The two sides the header states for a rule, from the tally alone. */
static void rule_sides(ib_oversell_rule rule, const ib_sku_tally *b, int64_t *lhs,
                       int64_t *rhs) {
    switch (rule) {
    case IB_RULE_CONSERVED:
        *lhs = sum_saturated(b->committed, b->on_hand), *rhs = b->loaded;
        return;
    case IB_RULE_NO_OVERPROMISE:
        *lhs = sum_saturated(b->reserved, b->committed), *rhs = b->loaded;
        return;
    case IB_RULE_END_STATE: *lhs = b->reserved, *rhs = b->reserved < 0 ? 0 : b->on_hand; return;
    case IB_RULE_COMMIT_RESERVED: *lhs = b->committed, *rhs = b->acked_reserved; return;
    case IB_RULE_NOT_REPORTED: *lhs = 0, *rhs = 0; return;
    }
    cr_assert_fail("unknown rule %d", (int)rule);
}

static void expect_text(const ib_oversell_finding *f, const char *part) {
    char line[256];
    ib_oversell_describe(f, "SKU-0007", line, sizeof line);
    cr_assert(strncmp(line, "SKU-0007", strlen("SKU-0007")) == 0, "no SKU name in '%s'", line);
    cr_assert(strstr(line, part) != NULL, "'%s' not in '%s'", part, line);
}

static void expect_number(const ib_oversell_finding *f, int64_t n) {
    char number[32];
    snprintf(number, sizeof number, "%" PRId64, n);
    expect_text(f, number);
}

/* One way of breaking BROKEN_SKU of a consistent report, and what must be found. */
typedef struct broken_case {
    void (*breaks)(ib_sku_tally *b);
    ib_oversell_rule rules[2]; /* exactly these findings, in this order */
    size_t rule_count;
    const char *text;          /* in the description of the first finding */
} broken_case;

/* Breaks BROKEN_SKU, checks, and expects exactly the case's findings there, each with
 * the sides the header states and a description naming both. */
static void expect_broken(const broken_case *c) {
    ib_sku_tally t[SKU_COUNT];
    tallies_consistent(t, SKU_COUNT);
    c->breaks(&t[BROKEN_SKU]);
    ib_oversell_finding out[FINDINGS_MAX];
    size_t found = ib_oversell_check(t, SKU_COUNT, out, FINDINGS_MAX);
    cr_assert_eq(found, c->rule_count, "%zu findings, expected %zu (first: %s)", found,
                 c->rule_count, found > 0 ? ib_oversell_rule_name(out[0].rule) : "-");
    for (size_t i = 0; i < c->rule_count; i++) {
        T_EQU(out[i].sku, BROKEN_SKU);
        cr_assert_eq(out[i].rule, c->rules[i], "finding %zu: %s, expected %s", i,
                     ib_oversell_rule_name(out[i].rule), ib_oversell_rule_name(c->rules[i]));
        int64_t lhs, rhs;
        rule_sides(c->rules[i], &t[BROKEN_SKU], &lhs, &rhs);
        T_EQ(out[i].lhs, lhs);
        T_EQ(out[i].rhs, rhs);
        expect_number(&out[i], lhs);
        expect_number(&out[i], rhs);
    }
    if (c->text != NULL) expect_text(&out[0], c->text);
}

static void break_units_appear(ib_sku_tally *b) {
    b->on_hand += 10;       /* units appeared */
    b->reserved = b->on_hand; /* and all of them are promised */
}
static void break_units_vanish(ib_sku_tally *b) {
    b->committed = 0;       /* on_hand = loaded ≥ 50 stays above the loss */
    b->reserved = 0;
    b->on_hand = b->loaded - 3;
}
/* With units conserved, reserved > on_hand is also an overpromise. */
static void break_reserved_over_on_hand(ib_sku_tally *b) { b->reserved = b->on_hand + 1; }
static void break_reserved_negative(ib_sku_tally *b) { b->reserved = -2; }
static void break_commit_unreserved(ib_sku_tally *b) { b->acked_reserved = b->committed - 1; }
static void break_not_reported(ib_sku_tally *b) {
    b->reported = false;
    b->on_hand = -12345; /* whatever is left there is not looked at */
}
/* Figures from the system under test are untrusted: no overflow on wild ones. */
static void break_wild_figures(ib_sku_tally *b) { b->on_hand = b->reserved = INT64_MAX; }

TestSuite(invbench_oversell);

Test(invbench_oversell, consistent_report_has_no_finding) {
    ib_sku_tally t[SKU_COUNT];
    tallies_consistent(t, SKU_COUNT);
    ib_oversell_finding out[FINDINGS_MAX];
    T_EQU(ib_oversell_check(t, SKU_COUNT, out, FINDINGS_MAX), 0);
    T_EQU(ib_oversell_check(t, 0, NULL, 0), 0);
}

Test(invbench_oversell, overpromise_with_units_appearing) {
    expect_broken(&(broken_case){break_units_appear,
                                 {IB_RULE_CONSERVED, IB_RULE_NO_OVERPROMISE}, 2, "appeared"});
}
Test(invbench_oversell, units_vanished) {
    expect_broken(&(broken_case){break_units_vanish, {IB_RULE_CONSERVED}, 1, "vanished"});
}
Test(invbench_oversell, reserved_above_on_hand) {
    expect_broken(&(broken_case){break_reserved_over_on_hand,
                                 {IB_RULE_NO_OVERPROMISE, IB_RULE_END_STATE}, 2, NULL});
}
Test(invbench_oversell, negative_reserved) {
    expect_broken(&(broken_case){break_reserved_negative, {IB_RULE_END_STATE}, 1, "< 0"});
}
Test(invbench_oversell, commit_without_reserve) {
    expect_broken(&(broken_case){break_commit_unreserved, {IB_RULE_COMMIT_RESERVED}, 1,
                                 "acknowledged reserved"});
}
Test(invbench_oversell, not_reported) {
    expect_broken(&(broken_case){break_not_reported, {IB_RULE_NOT_REPORTED}, 1,
                                 "not reported"});
    /* Without a name, the description names the SKU by index. */
    ib_sku_tally t = {.loaded = 1, .reported = false};
    ib_oversell_finding f;
    T_EQU(ib_oversell_check(&t, 1, &f, 1), 1);
    char line[256];
    ib_oversell_describe(&f, NULL, line, sizeof line);
    cr_assert(strstr(line, "#0") != NULL, "no SKU index in '%s'", line);
}
Test(invbench_oversell, wild_figures_do_not_overflow) {
    expect_broken(&(broken_case){break_wild_figures,
                                 {IB_RULE_CONSERVED, IB_RULE_NO_OVERPROMISE}, 2, NULL});
}

Test(invbench_oversell, findings_bounded_and_counted) {
    ib_sku_tally t[SKU_COUNT];
    tallies_consistent(t, SKU_COUNT);
    for (uint32_t i = 0; i < SKU_COUNT; i++) t[i].reported = false;
    ib_oversell_finding out[3];
    T_EQU(ib_oversell_check(t, SKU_COUNT, out, 3), SKU_COUNT);
    for (uint32_t i = 0; i < 3; i++) T_EQU(out[i].sku, i);
    T_EQU(ib_oversell_check(t, SKU_COUNT, NULL, 0), SKU_COUNT);
}

Test(invbench_oversell, describe_truncates_safely) {
    ib_sku_tally t = {.loaded = 100, .acked_reserved = 10, .committed = 20, .reported = true,
                      .on_hand = 80, .reserved = 0};
    ib_oversell_finding f;
    T_EQU(ib_oversell_check(&t, 1, &f, 1), 1);
    char small[8];
    memset(small, 'x', sizeof small);
    ib_oversell_describe(&f, "SKU-LONG-NAME", small, sizeof small);
    T_EQU(strlen(small), sizeof small - 1u);
    ib_oversell_describe(&f, "SKU", small, 0); /* writes nothing */
    const ib_oversell_rule all[] = {IB_RULE_CONSERVED, IB_RULE_NO_OVERPROMISE,
                                    IB_RULE_END_STATE, IB_RULE_COMMIT_RESERVED,
                                    IB_RULE_NOT_REPORTED};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        for (size_t j = 0; j < i; j++)
            cr_assert_str_neq(ib_oversell_rule_name(all[i]), ib_oversell_rule_name(all[j]));
}

/* ------------------------------------------------------------------------------------
 * Routing stats
 * ------------------------------------------------------------------------------------ */

#define ROUTE_ORDERS 5000u
#define ROUTE_PARCELS_MAX 5u
#define ROUTE_KM_MAX 2500.0
#define ROUTE_REL_TOLERANCE 1e-12

TestSuite(invbench_route);

Test(invbench_route, sums_and_ratios) {
    ib_route_stats all = {0}, first = {0}, second = {0};
    prng r = {SEED};
    uint64_t parcels = 0, singles = 0;
    double km = 0;
    for (uint32_t o = 0; o < ROUTE_ORDERS; o++) {
        double d[ROUTE_PARCELS_MAX];
        uint32_t n = 1u + (uint32_t)(prng_next(&r) % ROUTE_PARCELS_MAX);
        for (uint32_t i = 0; i < n; i++) {
            d[i] = prng_unit(&r) * ROUTE_KM_MAX;
            km += d[i];
        }
        parcels += n;
        singles += n == 1;
        ib_route_add(&all, d, n);
        ib_route_add(o % 2 ? &first : &second, d, n);
    }
    T_EQU(all.orders, ROUTE_ORDERS);
    T_EQU(all.parcels, parcels);
    T_EQU(all.single_parcel_orders, singles);
    cr_assert(fabs(ib_route_km_per_parcel(&all) - km / (double)parcels) <=
              km * ROUTE_REL_TOLERANCE);
    cr_assert(fabs(ib_route_parcels_per_order(&all) - (double)parcels / ROUTE_ORDERS) < 1e-12);
    cr_assert(fabs(ib_route_single_share(&all) - (double)singles / ROUTE_ORDERS) < 1e-12);
    ib_route_merge(&first, &second);
    T_EQU(first.orders, all.orders);
    T_EQU(first.parcels, all.parcels);
    T_EQU(first.single_parcel_orders, all.single_parcel_orders);
    cr_assert(fabs(first.km_sum - all.km_sum) <= all.km_sum * ROUTE_REL_TOLERANCE);
}

Test(invbench_route, empty_is_zero) {
    ib_route_stats r = {0};
    cr_assert_eq(ib_route_km_per_parcel(&r), 0.0);
    cr_assert_eq(ib_route_parcels_per_order(&r), 0.0);
    cr_assert_eq(ib_route_single_share(&r), 0.0);
    ib_route_add(&r, NULL, 0); /* an order with no parcel: counted, not single */
    T_EQU(r.orders, 1);
    cr_assert_eq(ib_route_single_share(&r), 0.0);
    cr_assert_eq(ib_route_km_per_parcel(&r), 0.0);
    const double one[] = {12.5};
    ib_route_add(&r, one, 1);
    cr_assert_eq(ib_route_single_share(&r), 0.5);
    cr_assert_eq(ib_route_km_per_parcel(&r), 12.5);
    cr_assert_eq(ib_route_parcels_per_order(&r), 0.5);
}

/* ------------------------------------------------------------------------------------
 * Plot writer
 * ------------------------------------------------------------------------------------ */

#define PLOT_SECONDS 12u
#define PLOT_NODES 60u
#define PLOT_FLASH_NODES 8u
#define PLOT_LAT_MIN 22.0
#define PLOT_LAT_SPAN 18.0
#define PLOT_LON_MIN 102.0
#define PLOT_LON_SPAN 20.0
#define PLOT_HIST_VALUES 20000u
#define PLOT_SERIES 2u
#define PNG_SIGNATURE "\x89PNG\r\n\x1a\n"
#define PNG_SIGNATURE_LEN 8u
#define FILE_HEAD_MAX 4096u

static const char *const plot_names[] = {"throughput", "latency", "flash_map"};
#define PLOT_NAME_COUNT (sizeof plot_names / sizeof plot_names[0])

/* A label with every kind of character that could break a gnuplot script or an SVG. */
#define NASTY_LABEL "redis 'always' & <b> \"x\" ^_{y} @z\\n\nline2 \x01\xff 中"

static bool gnuplot_on_path(void) {
    const char *path = getenv("PATH");
    if (path == NULL) return false;
    char dir[4096];
    while (*path != '\0') {
        size_t len = strcspn(path, ":");
        if (len > 0 && len < sizeof dir - sizeof "/gnuplot") {
            snprintf(dir, sizeof dir, "%.*s/gnuplot", (int)len, path);
            if (access(dir, X_OK) == 0) return true;
        }
        path += len + (path[len] == ':');
    }
    return false;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

typedef struct plot_fixture {
    char tmp[64];
    char dir[128];
    ib_hist hist[PLOT_SERIES];
    double ops[PLOT_SERIES][PLOT_SECONDS], p99[PLOT_SERIES][PLOT_SECONDS];
    ib_plot_point nodes[PLOT_NODES], flash[PLOT_SERIES][PLOT_FLASH_NODES];
    ib_plot_phase phases[3];
    ib_plot_series series[PLOT_SERIES];
    ib_plot_input in;
} plot_fixture;

static plot_fixture fx;

static void plot_setup(void) {
    memset(&fx, 0, sizeof fx);
    snprintf(fx.tmp, sizeof fx.tmp, "/tmp/test_invbench_plot_XXXXXX");
    cr_assert_not_null(mkdtemp(fx.tmp), "mkdtemp: %s", strerror(errno));
    snprintf(fx.dir, sizeof fx.dir, "%s/run/plots", fx.tmp); /* created by the writer */
    prng r = {SEED};
    for (uint32_t i = 0; i < PLOT_NODES; i++)
        fx.nodes[i] = (ib_plot_point){.lat = PLOT_LAT_MIN + prng_unit(&r) * PLOT_LAT_SPAN,
                                      .lon = PLOT_LON_MIN + prng_unit(&r) * PLOT_LON_SPAN};
    const char *const labels[PLOT_SERIES] = {"invd (fsync)", NASTY_LABEL};
    for (uint32_t s = 0; s < PLOT_SERIES; s++) {
        hist_init_ok(&fx.hist[s], HIGHEST_NS, 3);
        for (uint32_t i = 0; i < PLOT_HIST_VALUES; i++)
            ib_hist_record(&fx.hist[s], draw(&r, DIST_LOGNORMAL) * (s + 1u));
        for (uint32_t i = 0; i < PLOT_SECONDS; i++) {
            fx.ops[s][i] = 1e6 / (s + 1.0) * (0.5 + prng_unit(&r));
            fx.p99[s][i] = i == 3 ? 0.0 : 100.0 * (s + 1.0) * (1.0 + prng_unit(&r));
        }
        for (uint32_t i = 0; i < PLOT_FLASH_NODES; i++) {
            fx.flash[s][i] = fx.nodes[(i * 7u + s) % PLOT_NODES];
            fx.flash[s][i].units = i % 3 == 0 ? 0 : 1u + prng_next(&r) % 500u;
        }
        fx.series[s] = (ib_plot_series){.label = labels[s], .seconds = PLOT_SECONDS,
                                        .ops_per_s = fx.ops[s], .p99_us = fx.p99[s],
                                        .latency = &fx.hist[s], .flash_count = PLOT_FLASH_NODES,
                                        .flash_nodes = fx.flash[s]};
    }
    fx.phases[0] = (ib_plot_phase){"warm-up", 0.0};
    fx.phases[1] = (ib_plot_phase){"flash 'opening'", 2.0};
    fx.phases[2] = (ib_plot_phase){"steady mix", 5.0};
    fx.in = (ib_plot_input){.title = "invbench seed 42:\n2 conns × depth 64",
                            .phase_count = 3, .phases = fx.phases,
                            .series_count = PLOT_SERIES, .series = fx.series,
                            .node_count = PLOT_NODES, .nodes = fx.nodes};
}

static void plot_teardown(void) {
    for (uint32_t s = 0; s < PLOT_SERIES; s++) ib_hist_free(&fx.hist[s]);
    if (fx.tmp[0] != '\0' && getenv("INVBENCH_KEEP_PLOTS") == NULL)
        nftw(fx.tmp, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* The first bytes of dir/name+ext (at most FILE_HEAD_MAX); fails if missing or empty. */
static size_t file_head(const char *name, const char *ext, char *buf) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s%s", fx.dir, name, ext);
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s missing: %s", path, strerror(errno));
    size_t n = fread(buf, 1, FILE_HEAD_MAX, f);
    fclose(f);
    cr_assert(n > 0, "%s is empty", path);
    return n;
}

static bool file_exists(const char *name, const char *ext) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s%s", fx.dir, name, ext);
    return access(path, F_OK) == 0;
}

static void expect_scripts(void) {
    char head[FILE_HEAD_MAX + 1];
    for (size_t k = 0; k < PLOT_NAME_COUNT; k++) {
        file_head(plot_names[k], ".dat", head);
        file_head(plot_names[k], ".gp", head);
    }
}

static void expect_images(void) {
    char head[FILE_HEAD_MAX + 1];
    for (size_t k = 0; k < PLOT_NAME_COUNT; k++) {
        size_t n = file_head(plot_names[k], ".svg", head);
        head[n] = '\0';
        cr_assert(strncmp(head, "<?xml", 5) == 0 || strstr(head, "<svg") != NULL,
                  "%s.svg is not SVG", plot_names[k]);
        n = file_head(plot_names[k], ".png", head);
        cr_assert(n >= PNG_SIGNATURE_LEN && memcmp(head, PNG_SIGNATURE, PNG_SIGNATURE_LEN) == 0,
                  "%s.png has no PNG signature", plot_names[k]);
        cr_assert(!file_exists(plot_names[k], ".log"), "%s.log left after success",
                  plot_names[k]);
    }
}

static void require_gnuplot(void) {
    if (!gnuplot_on_path())
        cr_skip_test("SKIPPED: gnuplot is not on PATH, so the .svg/.png output of ib_plot "
                     "cannot be checked here (install gnuplot-nox)");
}

TestSuite(invbench_plot, .init = plot_setup, .fini = plot_teardown);

Test(invbench_plot, writes_data_scripts_and_images) {
    require_gnuplot();
    char err[512] = "";
    int rc = ib_plot_write(&fx.in, fx.dir, err, sizeof err);
    cr_assert_eq(rc, 0, "ib_plot_write = %d: %s", rc, err);
    expect_scripts();
    expect_images();
}

/* Labels reach the script as single-quoted strings, one line, quotes doubled. */
Test(invbench_plot, labels_are_escaped) {
    require_gnuplot();
    char err[512] = "";
    int rc = ib_plot_write(&fx.in, fx.dir, err, sizeof err);
    cr_assert_eq(rc, 0, "ib_plot_write = %d: %s", rc, err);
    char head[FILE_HEAD_MAX + 1];
    size_t n = file_head("throughput", ".gp", head);
    head[n] = '\0';
    cr_assert(strstr(head, "'redis ''always'' & <b> \"x\" ^_{y} @z\\n line2  ? 中 ops/s'") !=
                  NULL,
              "escaped label not found in throughput.gp:\n%s", head);
    cr_assert(strstr(head, "'flash ''opening'''") != NULL, "phase label not escaped");
    cr_assert(strstr(head, "invbench seed 42: 2 conns") != NULL, "title newline kept");
}

Test(invbench_plot, nothing_to_draw_still_draws) {
    require_gnuplot();
    ib_plot_input empty = {.title = NULL};
    char err[512] = "";
    int rc = ib_plot_write(&empty, fx.dir, err, sizeof err);
    cr_assert_eq(rc, 0, "ib_plot_write(empty) = %d: %s", rc, err);
    expect_scripts();
    expect_images();
}

Test(invbench_plot, missing_gnuplot_is_enoent_and_leaves_scripts) {
    const char *const missing[] = {"/nonexistent/gnuplot", "invbench-no-such-gnuplot",
                                   "./no/such/gnuplot"};
    for (size_t i = 0; i < sizeof missing / sizeof missing[0]; i++) {
        fx.in.gnuplot = missing[i];
        char err[512] = "";
        int rc = ib_plot_write(&fx.in, fx.dir, err, sizeof err);
        cr_assert_eq(rc, -ENOENT, "gnuplot '%s': %d (%s), expected -ENOENT", missing[i], rc,
                     err);
        cr_assert(strstr(err, "gnuplot") != NULL, "error says nothing: '%s'", err);
        expect_scripts();
        cr_assert(!file_exists("throughput", ".svg"), "an image without gnuplot?");
    }
}

Test(invbench_plot, failing_gnuplot_is_reported) {
    if (access("/bin/false", X_OK) != 0) cr_skip_test("SKIPPED: no /bin/false to stand in");
    fx.in.gnuplot = "/bin/false";
    char err[512] = "";
    int rc = ib_plot_write(&fx.in, fx.dir, err, sizeof err);
    cr_assert_eq(rc, -EIO, "ib_plot_write = %d (%s), expected -EIO", rc, err);
    cr_assert(strstr(err, "exited with 1") != NULL, "error: '%s'", err);
    cr_assert(file_exists("throughput", ".log"), "gnuplot's log not kept on failure");
}

/* A gnuplot that hangs is killed by its pid once its time is up: the rehearsal's report
 * never waits on a stuck plot. The stand-in is a script that sleeps far longer. */
#define HANG_TIMEOUT_MS 200u
#define HANG_SLEEP_S "30"
#define HANG_RETURN_MS_MAX 5000u

Test(invbench_plot, hanging_gnuplot_is_killed_after_its_timeout) {
    if (access("/bin/sh", X_OK) != 0) cr_skip_test("SKIPPED: no /bin/sh for the stand-in");
    char stub[PATH_MAX];
    snprintf(stub, sizeof stub, "%s/hang.sh", fx.tmp);
    FILE *f = fopen(stub, "w");
    cr_assert_not_null(f, "%s: %s", stub, strerror(errno));
    fprintf(f, "#!/bin/sh\nexec sleep " HANG_SLEEP_S "\n");
    fclose(f);
    cr_assert_eq(chmod(stub, 0755), 0);
    fx.in.gnuplot = stub;
    fx.in.gnuplot_timeout_ms = HANG_TIMEOUT_MS;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    char err[512] = "";
    int rc = ib_plot_write(&fx.in, fx.dir, err, sizeof err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    uint64_t took_ms = (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000u +
                       (uint64_t)((t1.tv_nsec - t0.tv_nsec) / 1000000);
    cr_assert_eq(rc, -ETIMEDOUT, "ib_plot_write = %d (%s), expected -ETIMEDOUT", rc, err);
    cr_assert(strstr(err, "killed") != NULL, "error: '%s'", err);
    cr_assert_lt(took_ms, HANG_RETURN_MS_MAX, "took %llu ms for a %u ms timeout",
                 (unsigned long long)took_ms, HANG_TIMEOUT_MS);
    expect_scripts();
}

Test(invbench_plot, bad_input_and_bad_directory) {
    char err[512] = "";
    fx.series[0].ops_per_s = NULL;
    T_EQ(ib_plot_write(&fx.in, fx.dir, err, sizeof err), -EINVAL);
    cr_assert(err[0] != '\0');
    fx.series[0].ops_per_s = fx.ops[0];
    char file[160];
    snprintf(file, sizeof file, "%s/not_a_dir", fx.tmp);
    FILE *f = fopen(file, "w");
    cr_assert_not_null(f);
    fclose(f);
    T_EQ(ib_plot_write(&fx.in, file, err, sizeof err), -ENOTDIR);
    T_EQ(ib_plot_write(&fx.in, "", err, sizeof err), -EINVAL);
}
