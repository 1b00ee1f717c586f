/*
 * ib_check.c — invbench's end-of-run correctness checks (see ib_check.h): the four
 * oversell rules plus "not reported" per SKU, and routing-quality sums.
 *
 * Design: the checker is pure arithmetic over the tallies the harness gathered; it does
 * no I/O. The end-state figures come from the system under test, so they are untrusted
 * input: sums saturate instead of overflowing, and a wild figure becomes a finding, never
 * a crash. Findings come out in SKU order and, within a SKU, in rule order.
 */
#include "ib_check.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>

/* ------------------------------------------------------------------------------------
 * Oversell
 * ------------------------------------------------------------------------------------ */

/* a + b, saturated at the int64 range (figures from the system under test may be wild). */
static int64_t add_saturated(int64_t a, int64_t b) {
    int64_t sum;
    if (!__builtin_add_overflow(a, b, &sum)) return sum;
    return b > 0 ? INT64_MAX : INT64_MIN;
}

typedef struct finding_sink {
    ib_oversell_finding *out;
    size_t max;
    size_t found;
} finding_sink;

static void sink_add(finding_sink *sink, uint32_t sku, const ib_sku_tally *t,
                     ib_oversell_rule rule, int64_t lhs, int64_t rhs) {
    if (sink->found < sink->max) {
        sink->out[sink->found] = (ib_oversell_finding){
            .sku = sku, .rule = rule, .lhs = lhs, .rhs = rhs, .tally = *t};
    }
    sink->found++;
}

/* Rules 1–3 need the end state the system reported. */
static void check_end_state(finding_sink *sink, uint32_t sku, const ib_sku_tally *t) {
    int64_t conserved = add_saturated(t->committed, t->on_hand);
    if (conserved != t->loaded)
        sink_add(sink, sku, t, IB_RULE_CONSERVED, conserved, t->loaded);
    int64_t promised = add_saturated(t->reserved, t->committed);
    if (promised > t->loaded)
        sink_add(sink, sku, t, IB_RULE_NO_OVERPROMISE, promised, t->loaded);
    if (t->reserved < 0) {
        sink_add(sink, sku, t, IB_RULE_END_STATE, t->reserved, 0);
    } else if (t->reserved > t->on_hand) {
        sink_add(sink, sku, t, IB_RULE_END_STATE, t->reserved, t->on_hand);
    }
}

size_t ib_oversell_check(const ib_sku_tally *t, uint32_t n, ib_oversell_finding *out,
                         size_t max) {
    assert(t != NULL || n == 0);
    assert(out != NULL || max == 0);
    finding_sink sink = {.out = out, .max = max, .found = 0};
    for (uint32_t sku = 0; sku < n; sku++) {
        const ib_sku_tally *tally = &t[sku];
        if (tally->reported) check_end_state(&sink, sku, tally);
        /* Rule 4 uses only the harness's own figures, so it holds reported or not. */
        if (tally->committed > tally->acked_reserved)
            sink_add(&sink, sku, tally, IB_RULE_COMMIT_RESERVED, tally->committed,
                     tally->acked_reserved);
        if (!tally->reported) sink_add(&sink, sku, tally, IB_RULE_NOT_REPORTED, 0, 0);
    }
    return sink.found;
}

const char *ib_oversell_rule_name(ib_oversell_rule r) {
    switch (r) {
    case IB_RULE_CONSERVED: return "conserved";
    case IB_RULE_NO_OVERPROMISE: return "no-overpromise";
    case IB_RULE_END_STATE: return "end-state";
    case IB_RULE_COMMIT_RESERVED: return "commit-reserved";
    case IB_RULE_NOT_REPORTED: return "not-reported";
    }
    return "unknown";
}

/* The body of the description, after "<sku>: ". */
static void describe_rule(const ib_oversell_finding *f, char *buf, size_t len) {
    const ib_sku_tally *t = &f->tally;
    switch (f->rule) {
    case IB_RULE_CONSERVED:
        snprintf(buf, len,
                 "committed %" PRId64 " + on_hand %" PRId64 " = %" PRId64 " != loaded %" PRId64
                 " (units %s)",
                 t->committed, t->on_hand, f->lhs, f->rhs,
                 f->lhs < f->rhs ? "vanished" : "appeared");
        return;
    case IB_RULE_NO_OVERPROMISE:
        snprintf(buf, len,
                 "reserved %" PRId64 " + committed %" PRId64 " = %" PRId64 " > loaded %" PRId64,
                 t->reserved, t->committed, f->lhs, f->rhs);
        return;
    case IB_RULE_END_STATE:
        if (f->lhs < 0) {
            snprintf(buf, len, "reserved %" PRId64 " < 0", f->lhs);
        } else {
            snprintf(buf, len, "reserved %" PRId64 " > on_hand %" PRId64, f->lhs, f->rhs);
        }
        return;
    case IB_RULE_COMMIT_RESERVED:
        snprintf(buf, len, "committed %" PRId64 " > acknowledged reserved %" PRId64, f->lhs,
                 f->rhs);
        return;
    case IB_RULE_NOT_REPORTED:
        snprintf(buf, len,
                 "not reported by the system under test (loaded %" PRId64 ", committed %" PRId64
                 ")",
                 t->loaded, t->committed);
        return;
    }
    snprintf(buf, len, "unknown rule %d: %" PRId64 " vs %" PRId64, (int)f->rule, f->lhs,
             f->rhs);
}

void ib_oversell_describe(const ib_oversell_finding *f, const char *sku_name, char *buf,
                          size_t len) {
    assert(f != NULL);
    assert(buf != NULL || len == 0);
    if (len == 0) return;
    int head = sku_name != NULL ? snprintf(buf, len, "%s: ", sku_name)
                                : snprintf(buf, len, "SKU #%" PRIu32 ": ", f->sku);
    if (head < 0) {
        buf[0] = '\0';
        return;
    }
    if ((size_t)head >= len) return; /* truncated: snprintf already terminated it */
    describe_rule(f, buf + head, len - (size_t)head);
}

/* ------------------------------------------------------------------------------------
 * Routing quality
 * ------------------------------------------------------------------------------------ */

void ib_route_add(ib_route_stats *r, const double *parcel_km, uint32_t parcels) {
    assert(r != NULL);
    assert(parcel_km != NULL || parcels == 0);
    r->orders++;
    r->parcels += parcels;
    if (parcels == 1) r->single_parcel_orders++;
    for (uint32_t i = 0; i < parcels; i++) {
        assert(parcel_km[i] >= 0.0); /* also rejects NaN */
        r->km_sum += parcel_km[i];
    }
}

void ib_route_merge(ib_route_stats *dst, const ib_route_stats *src) {
    assert(dst != NULL);
    assert(src != NULL);
    dst->orders += src->orders;
    dst->parcels += src->parcels;
    dst->single_parcel_orders += src->single_parcel_orders;
    dst->km_sum += src->km_sum;
}

double ib_route_km_per_parcel(const ib_route_stats *r) {
    assert(r != NULL);
    return r->parcels == 0 ? 0.0 : r->km_sum / (double)r->parcels;
}

double ib_route_parcels_per_order(const ib_route_stats *r) {
    assert(r != NULL);
    return r->orders == 0 ? 0.0 : (double)r->parcels / (double)r->orders;
}

double ib_route_single_share(const ib_route_stats *r) {
    assert(r != NULL);
    assert(r->single_parcel_orders <= r->orders);
    return r->orders == 0 ? 0.0 : (double)r->single_parcel_orders / (double)r->orders;
}
