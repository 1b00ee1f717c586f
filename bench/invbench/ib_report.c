/*
 * ib_report.c — invbench's report: the human text (stdout, report.txt), the same as one
 * JSON object (--json, report.json), and the plots (through ib_plot_write).
 *
 * A system's headline figures are its steady-mix phase: throughput (ops/s of every
 * kind, and reserves/s), latency percentiles from the HDR histogram (from the intended
 * send time), replies by status. The side-by-side table compares invd with each Redis
 * mode: throughput ratio invd/redis (higher is better for invd) and p99 ratio
 * invd/redis (lower is better for invd). DESIGN.md §9's targets are printed next to the
 * measured figures, with "met" / "MISSED" / "not measured".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "invbench.h"

/* DESIGN.md §9 targets. */
#define IB_TARGET_RESERVES_PER_S 1000000.0
#define IB_TARGET_RATIO_ALWAYS 10.0
#define IB_TARGET_RATIO_NONE 3.0
#define IB_TARGET_HALF_P99_US 1000.0
#define IB_TARGET_HALF_P999_US 5000.0
#define IB_TARGET_HOT_RESERVES_PER_S 1000000.0
/* Flash-serving nodes listed in the text report. */
#define IB_TOP_FLASH_NODES 5u
#define IB_PERCENTILE_COUNT 5

static const double ib_percentiles[IB_PERCENTILE_COUNT] = {50.0, 90.0, 99.0, 99.9, 100.0};
static const char *const ib_percentile_keys[IB_PERCENTILE_COUNT] = {"p50", "p90", "p99",
                                                                     "p999", "max"};

static double ib_pct_us(const ib_hist *h, double p) {
    return (double)ib_hist_percentile(h, p) / 1e3;
}

static const char *ib_status_name(int k) {
    return k == IB_STATUS_TRANSPORT ? "TRANSPORT_ERROR" : inv_client_status_name(k);
}

static bool ib_is_redis(const ib_system *sys) { return strncmp(sys->spec.name, "redis", 5) == 0; }

static const ib_system *ib_find_invd(const ib_report *r) {
    for (uint32_t i = 0; i < r->system_count; i++)
        if (!ib_is_redis(&r->systems[i]) && r->systems[i].ran) return &r->systems[i];
    return NULL;
}

static const ib_system *ib_find_system(const ib_report *r, const char *name) {
    for (uint32_t i = 0; i < r->system_count; i++)
        if (strcmp(r->systems[i].spec.name, name) == 0 && r->systems[i].ran)
            return &r->systems[i];
    return NULL;
}

static double ib_reserves_per_s(const ib_system *sys, ib_phase p) {
    const ib_phase_stats *ph = &sys->phase[p];
    return ph->ran && ph->seconds > 0 ? (double)ph->by_op[IB_OP_RESERVE] / ph->seconds : 0.0;
}

/* invd / redis throughput (steady mix). 0: not measured. */
static double ib_ratio_ops(const ib_system *invd, const ib_system *redis) {
    double a = invd ? ib_system_ops_per_s(invd, IB_PHASE_STEADY) : 0;
    double b = redis ? ib_system_ops_per_s(redis, IB_PHASE_STEADY) : 0;
    return a > 0 && b > 0 ? a / b : 0.0;
}

static double ib_ratio_p99(const ib_system *invd, const ib_system *redis) {
    if (invd == NULL || redis == NULL) return 0.0;
    double a = ib_pct_us(&invd->phase[IB_PHASE_STEADY].latency, 99.0);
    double b = ib_pct_us(&redis->phase[IB_PHASE_STEADY].latency, 99.0);
    return a > 0 && b > 0 ? a / b : 0.0;
}

/* ====================================================================================
 * Text
 * ==================================================================================== */

static void ib_text_header(FILE *f, const ib_report *r) {
    const ib_options *o = r->o;
    const inv_scenario *s = r->s;
    fprintf(f, "invbench — peak rehearsal, seed %" PRIu64 ": %u nodes, %u SKUs (%u flash, limit "
               "%u per customer), %u customers, %u stock cells, %" PRIu64 " units%s\n",
            s->cfg.seed, s->node_count, s->regular_count, s->flash_count, s->cfg.flash_limit,
            s->customer_count, s->cell_count, s->units_total,
            o->hot ? "; --hot: every order is one unit of the hot SKU" : "");
    fprintf(f, "load: %u connections × depth %u, ", o->connections, o->depth);
    if (o->rate > 0) fprintf(f, "open loop at %.0f ops/s", o->rate);
    else fprintf(f, "closed loop (max)");
    fprintf(f, "; mix reserve/commit/release/availability %u/%u/%u/%u; TTL %" PRIu64 " ms\n",
            o->mix.reserve, o->mix.commit, o->mix.release, o->mix.availability, o->ttl_ms);
    fprintf(f, "phases: warm-up %g s, flash opening %g s, steady mix %g s", o->warmup_s,
            o->flash_s, o->steady_s);
    if (o->half_peak) fprintf(f, ", then half peak %g s (invd, open loop)", o->half_peak_s);
    fprintf(f, "%s\n", r->interrupted ? "   [INTERRUPTED: report of what ran]" : "");
}

static void ib_text_phases(FILE *f, const ib_system *sys) {
    fprintf(f, "  %-14s %11s %11s %11s %9s %9s %9s %9s %9s\n", "phase", "ops", "ops/s",
            "reserves/s", "p50 µs", "p90 µs", "p99 µs", "p99.9 µs", "max µs");
    for (int p = 0; p < IB_PHASE_COUNT; p++) {
        const ib_phase_stats *ph = &sys->phase[p];
        if (!ph->ran) continue;
        fprintf(f, "  %-14s %11" PRIu64 " %11.0f %11.0f", ib_phase_name((ib_phase)p), ph->ops,
                ib_system_ops_per_s(sys, (ib_phase)p), ib_reserves_per_s(sys, (ib_phase)p));
        for (int k = 0; k < IB_PERCENTILE_COUNT; k++)
            fprintf(f, " %9.1f", ib_pct_us(&ph->latency, ib_percentiles[k]));
        if (ph->target_rate > 0) fprintf(f, "   (open loop, %.0f ops/s intended)", ph->target_rate);
        fprintf(f, "\n");
    }
}

static void ib_text_status(FILE *f, const ib_system *sys) {
    for (int p = 0; p < IB_PHASE_COUNT; p++) {
        const ib_phase_stats *ph = &sys->phase[p];
        if (!ph->ran || ph->ops == 0 || p == IB_PHASE_WARMUP) continue;
        fprintf(f, "  status, %s:", ib_phase_name((ib_phase)p));
        for (int k = 0; k < IB_STATUS_SLOTS; k++)
            if (ph->status[k] > 0)
                fprintf(f, " %s %" PRIu64 " (%.1f %%)", ib_status_name(k), ph->status[k],
                        100.0 * (double)ph->status[k] / (double)ph->ops);
        fprintf(f, "\n");
    }
}

static void ib_text_oversell(FILE *f, const ib_report *r, const ib_system *sys) {
    if (!sys->oversell_checked) {
        fprintf(f, "  oversell check: NOT RUN%s%s\n", sys->error[0] ? ": " : "", sys->error);
        return;
    }
    if (sys->finding_count == 0) {
        fprintf(f, "  oversell check: PASS — %u SKUs: committed + on hand = loaded, reserved + "
                   "committed ≤ loaded, 0 ≤ reserved ≤ on hand, committed ≤ acknowledged\n",
                sys->sku_count);
        return;
    }
    fprintf(f, "  oversell check: FAIL — %zu findings\n", sys->finding_count);
    for (size_t i = 0; i < sys->finding_count && i < IB_FINDINGS_MAX; i++) {
        char line[256];
        ib_oversell_describe(&sys->findings[i], inv_scn_sku_name(r->s, sys->findings[i].sku),
                             line, sizeof line);
        fprintf(f, "    %s\n", line);
    }
}

static void ib_text_flash_nodes(FILE *f, const ib_report *r, const ib_system *sys) {
    uint32_t shown[IB_TOP_FLASH_NODES], count = 0;
    fprintf(f, "  flash units served, top nodes:");
    for (uint32_t rank = 0; rank < IB_TOP_FLASH_NODES; rank++) {
        uint64_t best = 0;
        uint32_t at = INV_SCN_NONE;
        for (uint32_t n = 0; n < r->s->node_count; n++) {
            bool taken = false;
            for (uint32_t j = 0; j < count; j++) taken |= shown[j] == n;
            if (!taken && sys->flash_units_by_node[n] > best) {
                best = sys->flash_units_by_node[n];
                at = n;
            }
        }
        if (at == INV_SCN_NONE) break;
        shown[count++] = at;
        fprintf(f, " %s (%" PRIu64 ")", r->s->nodes[at].id, best);
    }
    fprintf(f, "%s\n", count == 0 ? " none" : "");
}

static void ib_text_system(FILE *f, const ib_report *r, const ib_system *sys) {
    fprintf(f, "\n== %s (%s) ==  %s\n", sys->spec.name, sys->spec.persistence,
            sys->describe[0] ? sys->describe : "");
    if (!sys->ran) {
        fprintf(f, "  DID NOT RUN: %s\n", sys->error);
        return;
    }
    if (sys->error[0]) fprintf(f, "  error: %s\n", sys->error);
    fprintf(f, "  started and loaded in %.2f s\n", sys->load_s);
    ib_text_phases(f, sys);
    ib_text_status(f, sys);
    ib_text_oversell(f, r, sys);
    fprintf(f, "  routing: %" PRIu64 " orders reserved, %.3f parcels/order, %.1f %% single "
               "parcel, %.1f km/parcel\n",
            sys->route.orders, ib_route_parcels_per_order(&sys->route),
            100.0 * ib_route_single_share(&sys->route), ib_route_km_per_parcel(&sys->route));
    ib_text_flash_nodes(f, r, sys);
}

static void ib_text_side_by_side(FILE *f, const ib_report *r) {
    const ib_system *invd = ib_find_invd(r);
    fprintf(f, "\n== side by side: steady mix ==\n");
    fprintf(f, "%-16s %11s %11s %9s %9s %9s  %-8s %13s %13s\n", "system", "ops/s", "reserves/s",
            "p50 µs", "p99 µs", "p99.9 µs", "oversell", "ops invd/x", "p99 invd/x");
    for (uint32_t i = 0; i < r->system_count; i++) {
        const ib_system *sys = &r->systems[i];
        if (!sys->ran) {
            fprintf(f, "%-16s did not run\n", sys->spec.name);
            continue;
        }
        const ib_hist *h = &sys->phase[IB_PHASE_STEADY].latency;
        fprintf(f, "%-16s %11.0f %11.0f %9.1f %9.1f %9.1f  %-8s", sys->spec.name,
                ib_system_ops_per_s(sys, IB_PHASE_STEADY), ib_reserves_per_s(sys, IB_PHASE_STEADY),
                ib_pct_us(h, 50), ib_pct_us(h, 99), ib_pct_us(h, 99.9),
                !sys->oversell_checked ? "not run" : sys->finding_count ? "FAIL" : "PASS");
        if (ib_is_redis(sys) && invd != NULL)
            fprintf(f, " %12.2f× %12.2f×", ib_ratio_ops(invd, sys), ib_ratio_p99(invd, sys));
        fprintf(f, "\n");
    }
}

static const char *ib_verdict(bool measured, bool met) {
    return !measured ? "not measured" : met ? "met" : "MISSED";
}

static void ib_text_targets(FILE *f, const ib_report *r) {
    const ib_system *invd = ib_find_invd(r);
    const ib_system *always = ib_find_system(r, "redis-always");
    const ib_system *none = ib_find_system(r, "redis-none");
    double rps = invd ? ib_reserves_per_s(invd, IB_PHASE_STEADY) : 0;
    bool durable = invd && strcmp(invd->spec.persistence, "fsync") == 0;
    fprintf(f, "\n== DESIGN.md §9 targets ==\n");
    fprintf(f, "  %-52s %12.0f reserve/s   %s%s\n", "end to end, durable: ≥ 1 M reserve/s", rps,
            ib_verdict(rps > 0, rps >= IB_TARGET_RESERVES_PER_S),
            durable || rps == 0 ? "" : " (invd not in fsync mode)");
    double ra = ib_ratio_ops(invd, always), rn = ib_ratio_ops(invd, none);
    fprintf(f, "  %-52s %12.2f×           %s\n", "≥ 10× Redis appendfsync always (ops/s)", ra,
            ib_verdict(ra > 0, ra >= IB_TARGET_RATIO_ALWAYS));
    fprintf(f, "  %-52s %12.2f×           %s\n", "≥ 3× Redis without persistence (ops/s)", rn,
            ib_verdict(rn > 0, rn >= IB_TARGET_RATIO_NONE));
    bool half = invd && invd->phase[IB_PHASE_HALF_PEAK].ran && invd->phase[IB_PHASE_HALF_PEAK].ops > 0;
    double p99 = half ? ib_pct_us(&invd->phase[IB_PHASE_HALF_PEAK].latency, 99) : 0;
    double p999 = half ? ib_pct_us(&invd->phase[IB_PHASE_HALF_PEAK].latency, 99.9) : 0;
    fprintf(f, "  %-52s %9.0f / %.0f µs  %s\n", "half of peak: p99 ≤ 1 ms, p99.9 ≤ 5 ms", p99, p999,
            ib_verdict(half, p99 <= IB_TARGET_HALF_P99_US && p999 <= IB_TARGET_HALF_P999_US));
    bool hot = r->o->hot && invd != NULL;
    double hot_rps = hot ? rps : 0;
    fprintf(f, "  %-52s %12.0f reserve/s   %s%s\n", "one hot SKU: ≥ 1 M reserve/s, never oversold",
            hot_rps, ib_verdict(hot, hot_rps >= IB_TARGET_HOT_RESERVES_PER_S && ib_system_oversell_pass(invd)),
            hot ? "" : " (run with --hot)");
}

void ib_report_text(FILE *f, const ib_report *r) {
    ib_text_header(f, r);
    for (uint32_t i = 0; i < r->system_count; i++) ib_text_system(f, r, &r->systems[i]);
    ib_text_side_by_side(f, r);
    ib_text_targets(f, r);
    fprintf(f, "\nplots: ");
    if (r->plot_rc == 0) fprintf(f, "written to %s (throughput, latency, flash_map .svg/.png)\n", r->out_dir);
    else if (r->plot_rc == -ENOENT) fprintf(f, "gnuplot missing: data and scripts in %s, no images\n", r->out_dir);
    else if (r->plot_rc == 1) fprintf(f, "not drawn\n");
    else fprintf(f, "FAILED: %s\n", r->plot_error);
    fprintf(f, "verdict: %s\n", ib_report_exit_status(r) != 0 ? "FAIL"
                                : r->interrupted           ? "INTERRUPTED (no oversell found)"
                                                           : "PASS");
}

/* ====================================================================================
 * JSON
 * ==================================================================================== */

static void ib_json_string(FILE *f, const char *s) {
    fputc('"', f);
    for (size_t i = 0; s != NULL && s[i] != '\0'; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c < 0x20) fprintf(f, "\\u%04x", c);
        else fputc(c, f);
    }
    fputc('"', f);
}

/* A finite number (JSON has no NaN or infinity). */
static void ib_json_num(FILE *f, double v) { fprintf(f, "%.3f", isfinite(v) ? v : 0.0); }

/* ,"key":number — a field after the first of an object. */
static void ib_json_field(FILE *f, const char *key, double v) {
    fprintf(f, ",\"%s\":", key);
    ib_json_num(f, v);
}

static void ib_json_latency(FILE *f, const ib_hist *h) {
    fprintf(f, "{");
    for (int k = 0; k < IB_PERCENTILE_COUNT; k++) {
        fprintf(f, "%s\"%s\":", k ? "," : "", ib_percentile_keys[k]);
        ib_json_num(f, ib_pct_us(h, ib_percentiles[k]));
    }
    ib_json_field(f, "mean", ib_hist_mean(h) / 1e3);
    fprintf(f, "}");
}

static void ib_json_status(FILE *f, const ib_phase_stats *ph) {
    fprintf(f, "{");
    bool first = true;
    for (int k = 0; k < IB_STATUS_SLOTS; k++) {
        if (ph->status[k] == 0) continue;
        fprintf(f, "%s\"%s\":%" PRIu64, first ? "" : ",", ib_status_name(k), ph->status[k]);
        first = false;
    }
    fprintf(f, "}");
}

static void ib_json_phase(FILE *f, const ib_system *sys, ib_phase p) {
    const ib_phase_stats *ph = &sys->phase[p];
    fprintf(f, "\"%s\":{\"ran\":%s,\"seconds\":", ib_phase_key(p), ph->ran ? "true" : "false");
    ib_json_num(f, ph->seconds);
    ib_json_field(f, "target_rate", ph->target_rate);
    fprintf(f, ",\"phase_ops\":%" PRIu64 ",\"reserves\":%" PRIu64 ",\"commits\":%" PRIu64
               ",\"releases\":%" PRIu64 ",\"availability\":%" PRIu64 ",\"phase_ops_per_s\":",
            ph->ops, ph->by_op[IB_OP_RESERVE], ph->by_op[IB_OP_COMMIT], ph->by_op[IB_OP_RELEASE],
            ph->by_op[IB_OP_AVAILABILITY]);
    ib_json_num(f, ib_system_ops_per_s(sys, p));
    fprintf(f, ",\"phase_latency_us\":");
    ib_json_latency(f, &ph->latency);
    fprintf(f, ",\"phase_status\":");
    ib_json_status(f, ph);
    fprintf(f, "}");
}

static void ib_json_oversell(FILE *f, const ib_report *r, const ib_system *sys) {
    fprintf(f, "\"oversell\":{\"checked\":%s,\"oversell_pass\":%s,\"findings_total\":%zu,"
               "\"findings\":[",
            sys->oversell_checked ? "true" : "false", ib_system_oversell_pass(sys) ? "true" : "false",
            sys->finding_count);
    for (size_t i = 0; i < sys->finding_count && i < IB_FINDINGS_MAX; i++) {
        char line[256];
        ib_oversell_describe(&sys->findings[i], inv_scn_sku_name(r->s, sys->findings[i].sku),
                             line, sizeof line);
        if (i) fprintf(f, ",");
        ib_json_string(f, line);
    }
    fprintf(f, "]}");
}

static void ib_json_series(FILE *f, const ib_system *sys) {
    fprintf(f, "\"series\":{\"ops_per_s\":[");
    for (uint32_t i = 0; i < sys->second_count; i++)
        fprintf(f, "%s%" PRIu64, i ? "," : "", sys->seconds[i].ops);
    fprintf(f, "],\"p99_us\":[");
    for (uint32_t i = 0; i < sys->second_count; i++) {
        if (i) fprintf(f, ",");
        ib_json_num(f, sys->seconds[i].p99_us);
    }
    fprintf(f, "]}");
}

static void ib_json_system(FILE *f, const ib_report *r, const ib_system *sys) {
    const ib_phase_stats *st = &sys->phase[IB_PHASE_STEADY];
    fprintf(f, "{\"name\":");
    ib_json_string(f, sys->spec.name);
    fprintf(f, ",\"persistence\":");
    ib_json_string(f, sys->spec.persistence);
    fprintf(f, ",\"describe\":");
    ib_json_string(f, sys->describe);
    fprintf(f, ",\"ran\":%s,\"interrupted\":%s,\"error\":", sys->ran ? "true" : "false",
            sys->interrupted ? "true" : "false");
    ib_json_string(f, sys->error);
    ib_json_field(f, "load_s", sys->load_s);
    fprintf(f, ",\"ops\":%" PRIu64 ",\"ops_per_s\":", st->ops);
    ib_json_num(f, ib_system_ops_per_s(sys, IB_PHASE_STEADY));
    ib_json_field(f, "reserves_per_s", ib_reserves_per_s(sys, IB_PHASE_STEADY));
    fprintf(f, ",\"latency_us\":");
    ib_json_latency(f, &st->latency);
    fprintf(f, ",\"status\":");
    ib_json_status(f, st);
    fprintf(f, ",\"phases\":{");
    for (int p = 0; p < IB_PHASE_COUNT; p++) {
        if (p) fprintf(f, ",");
        ib_json_phase(f, sys, (ib_phase)p);
    }
    fprintf(f, "},");
    ib_json_oversell(f, r, sys);
    fprintf(f, ",\"routing\":{\"orders\":%" PRIu64 ",\"parcels_per_order\":", sys->route.orders);
    ib_json_num(f, ib_route_parcels_per_order(&sys->route));
    ib_json_field(f, "single_parcel_share", ib_route_single_share(&sys->route));
    ib_json_field(f, "km_per_parcel", ib_route_km_per_parcel(&sys->route));
    fprintf(f, "},");
    ib_json_series(f, sys);
    fprintf(f, "}");
}

static void ib_json_config(FILE *f, const ib_report *r) {
    const ib_options *o = r->o;
    const inv_scenario *s = r->s;
    fprintf(f, "\"seed\":%" PRIu64 ",\"scenario\":{\"nodes\":%u,\"skus\":%u,\"flash_skus\":%u,"
               "\"customers\":%u,\"cells\":%u,\"units\":%" PRIu64 ",\"hot\":%s},",
            s->cfg.seed, s->node_count, s->regular_count, s->flash_count, s->customer_count,
            s->cell_count, s->units_total, o->hot ? "true" : "false");
    fprintf(f, "\"config\":{\"connections\":%u,\"depth\":%u,\"rate\":", o->connections, o->depth);
    ib_json_num(f, o->rate);
    fprintf(f, ",\"mix\":{\"reserve\":%u,\"commit\":%u,\"release\":%u,\"availability\":%u},"
               "\"ttl_ms\":%" PRIu64 ",\"warmup_s\":",
            o->mix.reserve, o->mix.commit, o->mix.release, o->mix.availability, o->ttl_ms);
    ib_json_num(f, o->warmup_s);
    ib_json_field(f, "flash_s", o->flash_s);
    ib_json_field(f, "steady_s", o->steady_s);
    ib_json_field(f, "half_peak_s", o->half_peak ? o->half_peak_s : 0);
    fprintf(f, "},");
}

static void ib_json_comparison(FILE *f, const ib_report *r) {
    const ib_system *invd = ib_find_invd(r);
    fprintf(f, "\"comparison\":[");
    bool first = true;
    for (uint32_t i = 0; i < r->system_count && invd != NULL; i++) {
        const ib_system *sys = &r->systems[i];
        if (!ib_is_redis(sys) || !sys->ran) continue;
        fprintf(f, "%s{\"against\":", first ? "" : ",");
        ib_json_string(f, sys->spec.name);
        ib_json_field(f, "throughput_ratio", ib_ratio_ops(invd, sys));
        ib_json_field(f, "p99_ratio", ib_ratio_p99(invd, sys));
        fprintf(f, "}");
        first = false;
    }
    fprintf(f, "],");
}

void ib_report_json(FILE *f, const ib_report *r) {
    fprintf(f, "{\"tool\":\"invbench\",");
    ib_json_config(f, r);
    fprintf(f, "\"interrupted\":%s,\"systems\":[", r->interrupted ? "true" : "false");
    for (uint32_t i = 0; i < r->system_count; i++) {
        if (i) fprintf(f, ",");
        ib_json_system(f, r, &r->systems[i]);
    }
    fprintf(f, "],");
    ib_json_comparison(f, r);
    fprintf(f, "\"plots\":{\"plots_written\":%s,\"gnuplot_missing\":%s,\"dir\":",
            r->plot_rc == 0 ? "true" : "false", r->plot_rc == -ENOENT ? "true" : "false");
    ib_json_string(f, r->out_dir);
    fprintf(f, ",\"error\":");
    ib_json_string(f, r->plot_error);
    fprintf(f, "},\"pass\":%s}\n", ib_report_exit_status(r) == 0 ? "true" : "false");
}

/* ====================================================================================
 * Plots and exit status
 * ==================================================================================== */

typedef struct ib_plot_buffers {
    ib_plot_series series[IB_SYSTEMS_MAX];
    char labels[IB_SYSTEMS_MAX][64];
    double *ops[IB_SYSTEMS_MAX], *p99[IB_SYSTEMS_MAX];
    ib_plot_point *flash[IB_SYSTEMS_MAX];
    ib_plot_point *nodes;
    ib_plot_phase phases[IB_PHASE_COUNT];
} ib_plot_buffers;

static int ib_plot_series_fill(ib_plot_buffers *pb, uint32_t k, const ib_report *r,
                               const ib_system *sys) {
    uint32_t n = sys->second_count, flash = 0;
    pb->ops[k] = calloc(n + 1u, sizeof(double));
    pb->p99[k] = calloc(n + 1u, sizeof(double));
    pb->flash[k] = calloc(r->s->node_count, sizeof(ib_plot_point));
    if (pb->ops[k] == NULL || pb->p99[k] == NULL || pb->flash[k] == NULL) return -ENOMEM;
    for (uint32_t i = 0; i < n; i++) {
        pb->ops[k][i] = (double)sys->seconds[i].ops;
        pb->p99[k][i] = sys->seconds[i].p99_us;
    }
    for (uint32_t i = 0; i < r->s->node_count; i++)
        if (sys->flash_units_by_node[i] > 0)
            pb->flash[k][flash++] = (ib_plot_point){r->s->nodes[i].lat, r->s->nodes[i].lon,
                                                    sys->flash_units_by_node[i]};
    snprintf(pb->labels[k], sizeof pb->labels[k], "%s (%s)", sys->spec.name, sys->spec.persistence);
    pb->series[k] = (ib_plot_series){.label = pb->labels[k], .seconds = n,
        .ops_per_s = pb->ops[k], .p99_us = pb->p99[k],
        .latency = &sys->phase[IB_PHASE_STEADY].latency, .flash_count = flash,
        .flash_nodes = pb->flash[k]};
    return 0;
}

static void ib_plot_buffers_free(ib_plot_buffers *pb) {
    for (uint32_t k = 0; k < IB_SYSTEMS_MAX; k++) {
        free(pb->ops[k]);
        free(pb->p99[k]);
        free(pb->flash[k]);
    }
    free(pb->nodes);
}

void ib_report_plots(ib_report *r) {
    ib_plot_buffers pb;
    memset(&pb, 0, sizeof pb);
    ib_plot_input in = {.gnuplot = r->o->gnuplot};
    char title[256];
    snprintf(title, sizeof title, "invbench seed %" PRIu64 ": %u conns x depth %u, %s",
             r->s->cfg.seed, r->o->connections, r->o->depth, r->o->rate > 0 ? "open loop" : "max");
    in.title = title;
    int rc = 0;
    pb.nodes = calloc(r->s->node_count, sizeof *pb.nodes);
    if (pb.nodes == NULL) rc = -ENOMEM;
    for (uint32_t i = 0; rc == 0 && i < r->s->node_count; i++)
        pb.nodes[i] = (ib_plot_point){r->s->nodes[i].lat, r->s->nodes[i].lon, 0};
    const ib_system *marks = NULL;
    for (uint32_t i = 0; rc == 0 && i < r->system_count && in.series_count < IB_SYSTEMS_MAX; i++) {
        const ib_system *sys = &r->systems[i];
        if (!sys->ran) continue;
        if (marks == NULL || sys->mark_count > marks->mark_count) marks = sys;
        rc = ib_plot_series_fill(&pb, in.series_count++, r, sys);
    }
    for (uint32_t m = 0; marks != NULL && m < marks->mark_count; m++)
        pb.phases[m] = (ib_plot_phase){ib_phase_name(marks->mark_phase[m]), marks->mark_start_s[m]};
    in.phase_count = marks != NULL ? marks->mark_count : 0;
    in.phases = pb.phases;
    in.series = pb.series;
    in.node_count = r->s->node_count;
    in.nodes = pb.nodes;
    if (rc == 0) rc = ib_plot_write(&in, r->out_dir, r->plot_error, sizeof r->plot_error);
    else snprintf(r->plot_error, sizeof r->plot_error, "out of memory");
    r->plot_rc = rc;
    ib_plot_buffers_free(&pb);
}

int ib_report_exit_status(const ib_report *r) {
    int bad = 0;
    for (uint32_t i = 0; i < r->system_count; i++) {
        const ib_system *sys = &r->systems[i];
        /* After Ctrl-C, systems skipped or cut short are not failures; oversell is. */
        if (!sys->ran) bad |= !r->interrupted;
        else if (sys->oversell_checked && sys->finding_count > 0) bad = 1;
        else if (!sys->oversell_checked && !r->interrupted) bad = 1;
        else if (sys->error[0] != '\0' && !sys->interrupted) bad = 1; /* a connection failed */
    }
    return bad;
}
