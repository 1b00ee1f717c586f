/*
 * invbench.c — the peak-rehearsal load harness: options, the scenario and order pool,
 * one fresh server per system, the phases, the report.
 *
 *   invbench                                  the whole rehearsal: invd (fsync), then
 *                                             Redis + Lua with persistence none,
 *                                             everysec, always; report and plots in
 *                                             ./invbench-out
 *   invbench --systems invd --rate 200000     open loop at 200 k ops/s
 *   invbench --write-scenario DIR --seed 7    nodes.csv + stock.csv for invctl
 *   invbench --help                           every option with its default
 *
 * Each system gets a fresh server (started by its backend in a private temporary work
 * dir, removed at the end) loaded with the same scenario, and the same order pool,
 * generated before anything is timed. Order ids carry a per-run nonce, so runs against a
 * long-running server (--invd-port/--redis-port) never collide.
 *
 * Ctrl-C (SIGINT) or SIGTERM stops the current run at once (in-flight replies are still
 * collected, so the checks stay exact), skips the systems not yet run, stops the servers
 * and prints the report of what ran. A second Ctrl-C kills invbench outright.
 *
 * Exit status: 0 every system ran and passed the oversell check; 1 an oversell check
 * failed or a system could not run; 2 bad options; 130 interrupted.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "invbench.h"

/* Defaults: a 2-core box runs the whole 4-system rehearsal in about two minutes. */
#define IB_DEFAULT_SEED 42u
#define IB_DEFAULT_NODES 2000u
#define IB_DEFAULT_SKUS 20000u
#define IB_DEFAULT_FLASH_SKUS 8u
#define IB_DEFAULT_CUSTOMERS 200000u
#define IB_DEFAULT_DEMAND_ORDERS 4000000u
#define IB_DEFAULT_HOT_UNITS 100000000ull
#define IB_DEFAULT_POOL_ORDERS 400000u
#define IB_DEFAULT_FLASH_ORDERS 50000u
#define IB_DEFAULT_CONNECTIONS 2u
#define IB_DEFAULT_DEPTH 64u
#define IB_DEFAULT_TTL_MS 3000u
#define IB_DEFAULT_WARMUP_S 2.0
#define IB_DEFAULT_FLASH_S 3.0
#define IB_DEFAULT_STEADY_S 12.0
#define IB_DEFAULT_HALF_PEAK_S 6.0
#define IB_DEFAULT_OUT_DIR "invbench-out"
#define IB_POOL_ORDERS_MAX 20000000u
#define IB_EXIT_FAIL 1
#define IB_EXIT_USAGE 2
#define IB_EXIT_INTERRUPTED 130
/* Seeds of the order pools, offset from the scenario seed. */
#define IB_SEED_STEADY_ORDERS 3u
#define IB_SEED_FLASH_ORDERS 7u
#define IB_RM_FDS_MAX 16

/* ====================================================================================
 * Options
 * ==================================================================================== */

static void ib_usage(FILE *f) {
    fprintf(f,
        "usage: invbench [options]          the rehearsal (default: invd, then Redis none,\n"
        "                                   everysec, always; each a fresh local server)\n"
        "       invbench --write-scenario DIR [scenario options]   nodes.csv + stock.csv\n"
        "scenario:\n"
        "  --seed N (42)  --nodes N (%u)  --skus N (%u)  --flash-skus N (%u)\n"
        "  --customers N (%u)  --flash-limit N (2, per customer; 0: none)\n"
        "  --hot           every order is one unit of the first flash SKU, which holds\n"
        "                  --hot-units N (%llu) units, no purchase limit unless\n"
        "                  --flash-limit is given (DESIGN.md: one hot SKU)\n"
        "  --pool-orders N (%u)  orders generated before timing (reused in a cycle)\n"
        "systems:\n"
        "  --systems LIST  comma list of invd, redis-none, redis-everysec, redis-always\n"
        "  --invd PATH (%s)  --redis-server PATH (redis-server)\n"
        "  --invd-port P / --redis-port P   use a running server at --host (127.0.0.1)\n"
        "  --invd-durability fsync|async|none (fsync)  --shards N (0: one per CPU)\n"
        "load:\n"
        "  --connections N (%u)  --depth N (%u, pipeline depth per connection)\n"
        "  --rate N|max (max)    open loop at N ops/s over all connections, latency from\n"
        "                        the intended send time; max: closed loop\n"
        "  --mix R,C,P,A (70,15,5,10)  steady shares: reserve, commit, release, availability\n"
        "  --ttl-ms N (%u)  hold time of reserves (unpaid ones expire)\n"
        "  --warmup-s S (%.0f)  --flash-s S (%.0f)  --steady-s S (%.0f)  (each ≤ %.0f)\n"
        "  --half-peak-s S (%.0f)  --no-half-peak   invd: steady mix again, open loop at\n"
        "                        half the measured peak (DESIGN.md §9 latency target)\n"
        "output:\n"
        "  --json FILE|-   the report as one JSON object   --out DIR (%s)\n"
        "  --gnuplot PATH  --quiet (no per-second progress)   --help\n",
        IB_DEFAULT_NODES, IB_DEFAULT_SKUS, IB_DEFAULT_FLASH_SKUS, IB_DEFAULT_CUSTOMERS,
        (unsigned long long)IB_DEFAULT_HOT_UNITS, IB_DEFAULT_POOL_ORDERS, INV_INVD_PATH,
        IB_DEFAULT_CONNECTIONS, IB_DEFAULT_DEPTH, IB_DEFAULT_TTL_MS, IB_DEFAULT_WARMUP_S,
        IB_DEFAULT_FLASH_S, IB_DEFAULT_STEADY_S, IB_PHASE_SECONDS_MAX, IB_DEFAULT_HALF_PEAK_S,
        IB_DEFAULT_OUT_DIR);
}

static void ib_options_default(ib_options *o) {
    memset(o, 0, sizeof *o);
    inv_scenario_config_default(&o->scenario);
    o->scenario.seed = IB_DEFAULT_SEED;
    o->scenario.nodes = IB_DEFAULT_NODES;
    o->scenario.skus = IB_DEFAULT_SKUS;
    o->scenario.flash_skus = IB_DEFAULT_FLASH_SKUS;
    o->scenario.customers = IB_DEFAULT_CUSTOMERS;
    o->scenario.demand_orders = IB_DEFAULT_DEMAND_ORDERS;
    o->pool_orders = IB_DEFAULT_POOL_ORDERS;
    o->flash_orders = IB_DEFAULT_FLASH_ORDERS;
    o->host = "127.0.0.1";
    o->invd_persistence = "fsync";
    o->connections = IB_DEFAULT_CONNECTIONS;
    o->depth = IB_DEFAULT_DEPTH;
    o->mix = (ib_mix){70, 15, 5, 10};
    o->ttl_ms = IB_DEFAULT_TTL_MS;
    o->warmup_s = IB_DEFAULT_WARMUP_S;
    o->flash_s = IB_DEFAULT_FLASH_S;
    o->steady_s = IB_DEFAULT_STEADY_S;
    o->half_peak_s = IB_DEFAULT_HALF_PEAK_S;
    o->half_peak = true;
    o->out_dir = IB_DEFAULT_OUT_DIR;
}

static bool ib_parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out) {
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v < lo || v > hi) return false;
    *out = v;
    return true;
}

static bool ib_parse_u32(const char *s, uint32_t lo, uint32_t hi, uint32_t *out) {
    uint64_t v = 0;
    if (!ib_parse_u64(s, lo, hi, &v)) return false;
    *out = (uint32_t)v;
    return true;
}

static bool ib_parse_seconds(const char *s, double *out) {
    char *end = NULL;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || !(v >= 0 && v <= IB_PHASE_SECONDS_MAX)) return false;
    *out = v;
    return true;
}

static bool ib_parse_mix(const char *s, ib_mix *m) {
    unsigned r = 0, c = 0, p = 0, a = 0;
    char tail = 0;
    if (sscanf(s, "%u,%u,%u,%u%c", &r, &c, &p, &a, &tail) != 4) return false;
    if (r > 100 || c > 100 || p > 100 || a > 100 || r + c + p + a != 100) return false;
    *m = (ib_mix){r, c, p, a};
    return true;
}

static bool ib_add_system(ib_options *o, const char *name, size_t len) {
    static const char *const known[] = {"invd", "redis-none", "redis-everysec", "redis-always"};
    if (o->system_count == IB_SYSTEMS_MAX) return false;
    for (size_t k = 0; k < sizeof known / sizeof known[0]; k++) {
        if (strlen(known[k]) != len || strncmp(name, known[k], len) != 0) continue;
        ib_system_spec *sp = &o->systems[o->system_count++];
        snprintf(sp->name, sizeof sp->name, "%s", known[k]);
        sp->backend = k == 0 ? &ib_backend_invd : &ib_backend_redis;
        snprintf(sp->persistence, sizeof sp->persistence, "%s",
                 k == 0 ? o->invd_persistence : known[k] + strlen("redis-"));
        return true;
    }
    return false;
}

static bool ib_parse_systems(ib_options *o, const char *list) {
    o->system_count = 0;
    const char *p = list;
    for (uint32_t i = 0; i < IB_SYSTEMS_MAX + 1u && *p != '\0'; i++) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (!ib_add_system(o, p, len)) return false;
        if (comma == NULL) break;
        p = comma + 1;
    }
    return o->system_count > 0;
}

/* Flags that take no value. @return true when `a` was one. */
static bool ib_parse_flag(ib_options *o, const char *a) {
    if (strcmp(a, "--hot") == 0) o->hot = true;
    else if (strcmp(a, "--no-half-peak") == 0) o->half_peak = false;
    else if (strcmp(a, "--half-peak") == 0) o->half_peak = true;
    else if (strcmp(a, "--quiet") == 0) o->quiet = true;
    else return false;
    return true;
}

/* Scenario options. @return 1 taken, 0 not a scenario option, -1 bad value. */
static int ib_parse_scenario_opt(ib_options *o, const char *a, const char *v) {
    inv_scenario_config *sc = &o->scenario;
    bool ok;
    if (strcmp(a, "--seed") == 0) ok = ib_parse_u64(v, 0, UINT64_MAX, &sc->seed);
    else if (strcmp(a, "--nodes") == 0) ok = ib_parse_u32(v, 20, 10000000, &sc->nodes);
    else if (strcmp(a, "--skus") == 0) ok = ib_parse_u32(v, 1, 50000000, &sc->skus);
    else if (strcmp(a, "--flash-skus") == 0) ok = ib_parse_u32(v, 1, INV_SCN_FLASH_MAX, &sc->flash_skus);
    else if (strcmp(a, "--customers") == 0) ok = ib_parse_u32(v, 1, 99999999, &sc->customers);
    else if (strcmp(a, "--flash-limit") == 0) {
        ok = ib_parse_u32(v, 0, 1000000, &sc->flash_limit);
        o->flash_limit_given = true;
    }
    else if (strcmp(a, "--hot-units") == 0) ok = ib_parse_u64(v, 1, UINT32_MAX * 16ull, &sc->hot_units);
    else if (strcmp(a, "--pool-orders") == 0) ok = ib_parse_u32(v, 1000, IB_POOL_ORDERS_MAX, &o->pool_orders);
    else return 0;
    return ok ? 1 : -1;
}

static bool ib_parse_port(const char *v, uint16_t *port) {
    uint32_t p = 0;
    if (!ib_parse_u32(v, 1, 65535, &p)) return false;
    *port = (uint16_t)p;
    return true;
}

/* Everything else that takes a value. @return 1 taken, 0 unknown, -1 bad value. */
static int ib_parse_value_opt(ib_options *o, const char *a, const char *v) {
    bool ok = true;
    if (strcmp(a, "--write-scenario") == 0) o->write_dir = v;
    else if (strcmp(a, "--systems") == 0) ok = ib_parse_systems(o, v);
    else if (strcmp(a, "--invd") == 0) o->invd_path = v;
    else if (strcmp(a, "--redis-server") == 0) o->redis_path = v;
    else if (strcmp(a, "--host") == 0) o->host = v;
    else if (strcmp(a, "--invd-port") == 0) ok = ib_parse_port(v, &o->invd_port);
    else if (strcmp(a, "--redis-port") == 0) ok = ib_parse_port(v, &o->redis_port);
    else if (strcmp(a, "--invd-durability") == 0) {
        o->invd_persistence = v;
        ok = strcmp(v, "fsync") == 0 || strcmp(v, "async") == 0 || strcmp(v, "none") == 0;
    } else if (strcmp(a, "--shards") == 0) ok = ib_parse_u32(v, 0, 256, &o->shards);
    else if (strcmp(a, "--connections") == 0) ok = ib_parse_u32(v, 1, IB_CONNECTIONS_MAX, &o->connections);
    else if (strcmp(a, "--depth") == 0) ok = ib_parse_u32(v, 1, IB_DEPTH_MAX, &o->depth);
    else if (strcmp(a, "--rate") == 0) {
        uint64_t r = 0;
        ok = strcmp(v, "max") == 0 || ib_parse_u64(v, 1, 100000000, &r);
        o->rate = (double)r;
    } else if (strcmp(a, "--mix") == 0) ok = ib_parse_mix(v, &o->mix);
    else if (strcmp(a, "--ttl-ms") == 0) ok = ib_parse_u64(v, 100, 86400000, &o->ttl_ms);
    else if (strcmp(a, "--warmup-s") == 0) ok = ib_parse_seconds(v, &o->warmup_s);
    else if (strcmp(a, "--flash-s") == 0) ok = ib_parse_seconds(v, &o->flash_s);
    else if (strcmp(a, "--steady-s") == 0) ok = ib_parse_seconds(v, &o->steady_s);
    else if (strcmp(a, "--half-peak-s") == 0) ok = ib_parse_seconds(v, &o->half_peak_s);
    else if (strcmp(a, "--json") == 0) o->json_path = v;
    else if (strcmp(a, "--out") == 0) o->out_dir = v;
    else if (strcmp(a, "--gnuplot") == 0) o->gnuplot = v;
    else return 0;
    return ok ? 1 : -1;
}

/* @return 0, 1 (--help printed), or -1 (message printed). */
static int ib_parse_args(ib_options *o, int argc, char **argv) {
    bool systems_given = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            ib_usage(stdout);
            return 1;
        }
        if (ib_parse_flag(o, a)) continue;
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int rc = v == NULL ? 0 : ib_parse_scenario_opt(o, a, v);
        if (rc == 0 && v != NULL) rc = ib_parse_value_opt(o, a, v);
        if (rc <= 0) {
            fprintf(stderr, "invbench: %s %s: %s (see --help)\n", a, v ? v : "",
                    rc < 0 ? "bad value" : v ? "unknown option" : "needs a value");
            return -1;
        }
        systems_given |= strcmp(a, "--systems") == 0;
        i++;
    }
    if (!systems_given) ib_parse_systems(o, "invd,redis-none,redis-everysec,redis-always");
    /* --invd-durability may come after --systems: apply it to every invd entry. */
    for (uint32_t k = 0; k < o->system_count; k++)
        if (o->systems[k].backend == &ib_backend_invd)
            snprintf(o->systems[k].persistence, sizeof o->systems[k].persistence, "%s",
                     o->invd_persistence);
    if (o->hot && o->scenario.hot_units == 0) o->scenario.hot_units = IB_DEFAULT_HOT_UNITS;
    /* The hot SKU is the first flash SKU: without a purchase limit unless one is asked
     * for, so that every reserve measures the hot cell, not the limit counters. */
    if (o->hot && !o->flash_limit_given) o->scenario.flash_limit = 0;
    if (o->warmup_s + o->flash_s + o->steady_s <= 0) {
        fprintf(stderr, "invbench: every phase is 0 s long: nothing to run\n");
        return -1;
    }
    return 0;
}

/* ====================================================================================
 * Scenario, order pool, --write-scenario
 * ==================================================================================== */

static int ib_write_scenario(const ib_options *o, const inv_scenario *s) {
    char nodes[1024], stock[1024], err[256] = "";
    if (mkdir(o->write_dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "invbench: mkdir %s: %s\n", o->write_dir, strerror(errno));
        return IB_EXIT_FAIL;
    }
    snprintf(nodes, sizeof nodes, "%s/nodes.csv", o->write_dir);
    snprintf(stock, sizeof stock, "%s/stock.csv", o->write_dir);
    if (inv_scenario_write_nodes_csv(s, nodes, err, sizeof err) != 0 ||
        inv_scenario_write_stock_csv(s, stock, err, sizeof err) != 0) {
        fprintf(stderr, "invbench: %s\n", err);
        return IB_EXIT_FAIL;
    }
    printf("wrote %s (%u nodes) and %s (%u cells, %" PRIu64 " units); seed %" PRIu64
           "; flash SKUs:", nodes, s->node_count, stock, s->cell_count, s->units_total,
           s->cfg.seed);
    for (uint32_t k = 0; k < s->flash_count; k++)
        printf(" %s=%" PRIu64, inv_scn_sku_name(s, s->flash_first + k), s->flash_units[k]);
    printf("\nload with: invctl load-nodes %s && invctl load-stock %s\n", nodes, stock);
    return 0;
}

/* One array: the steady pool, then the flash-opening pool (every order has a flash line). */
static int ib_orders_make(const ib_options *o, const inv_scenario *s, ib_workload *w,
                          inv_scn_order **out) {
    inv_scn_order_config oc;
    inv_scn_order_config_default(&oc);
    inv_scn_order *steady = NULL, *flash = NULL;
    oc.seed = s->cfg.seed + IB_SEED_STEADY_ORDERS;
    oc.count = o->pool_orders;
    oc.hot = o->hot;
    oc.hot_sku = s->flash_first;
    int rc = inv_scn_orders_make(s, &oc, &steady);
    oc.seed = s->cfg.seed + IB_SEED_FLASH_ORDERS;
    oc.count = o->flash_orders;
    oc.flash_share = 1.0;
    if (rc == 0) rc = inv_scn_orders_make(s, &oc, &flash);
    inv_scn_order *all = rc == 0 ? malloc(((size_t)o->pool_orders + o->flash_orders) * sizeof *all)
                                 : NULL;
    if (rc == 0 && all == NULL) rc = -ENOMEM;
    if (rc == 0) {
        memcpy(all, steady, (size_t)o->pool_orders * sizeof *all);
        memcpy(all + o->pool_orders, flash, (size_t)o->flash_orders * sizeof *all);
        w->orders = all;
        w->steady_count = o->pool_orders;
        w->order_count = o->pool_orders + o->flash_orders;
        *out = all;
    } else {
        fprintf(stderr, "invbench: generating orders: %s\n", strerror(-rc));
    }
    free(steady);
    free(flash);
    return rc;
}

/* ====================================================================================
 * One system: fresh server, phases, final check
 * ==================================================================================== */

static uint64_t ib_wall_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int ib_rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st;
    (void)ftw;
    if (flag == FTW_DP) rmdir(path);
    else unlink(path);
    return 0;
}

static void ib_target_config_fill(const ib_options *o, const ib_system_spec *sp,
                                  const inv_scenario *s, const char *work, ib_target_config *tc) {
    bool invd = sp->backend == &ib_backend_invd;
    *tc = (ib_target_config){.scenario = s, .work_dir = work, .persistence = sp->persistence,
        .server_path = invd ? o->invd_path : o->redis_path, .host = o->host,
        .port = invd ? o->invd_port : o->redis_port, .shards = o->shards, .quiet = o->quiet};
}

/* Phases of the main run, and the half-peak run for invd after it. */
static void ib_run_system_phases(const ib_options *o, ib_system *sys, ib_target *t,
                                 const ib_workload *w) {
    const ib_backend *b = sys->spec.backend;
    ib_phase_plan plan[IB_PHASE_COUNT] = {{o->warmup_s, o->rate}, {o->flash_s, o->rate},
                                          {o->steady_s, o->rate}, {0, 0}};
    int rc = ib_run_phases(sys, b, t, w, plan);
    bool half = rc == 0 && o->half_peak && o->half_peak_s > 0 && b == &ib_backend_invd &&
                !ib_run_stop_requested() && ib_system_ops_per_s(sys, IB_PHASE_STEADY) > 0;
    if (half) {
        ib_phase_plan hp[IB_PHASE_COUNT] = {{0, 0}, {0, 0}, {0, 0},
            {o->half_peak_s, ceil(ib_system_ops_per_s(sys, IB_PHASE_STEADY) / 2.0)}};
        if (!o->quiet)
            fprintf(stderr, "invbench: %s: half peak, open loop at %.0f ops/s\n", sys->spec.name,
                    hp[IB_PHASE_HALF_PEAK].rate);
        rc = ib_run_phases(sys, b, t, w, hp);
    }
    if (ib_run_final_check(sys, b, t, w) != 0 && !o->quiet)
        fprintf(stderr, "invbench: %s: %s\n", sys->spec.name, sys->error);
}

static void ib_run_system(const ib_options *o, const ib_workload *w, const char *root,
                          ib_system *sys) {
    const ib_backend *b = sys->spec.backend;
    char work[1024], err[512] = "";
    snprintf(work, sizeof work, "%s/%s", root, sys->spec.name);
    if (mkdir(work, 0700) != 0 && errno != EEXIST) {
        snprintf(sys->error, sizeof sys->error, "cannot create the work dir: %s", strerror(errno));
        return;
    }
    ib_target_config tc;
    ib_target_config_fill(o, &sys->spec, w->s, work, &tc);
    ib_target *t = NULL;
    if (!o->quiet) fprintf(stderr, "invbench: %s: starting and loading\n", sys->spec.name);
    uint64_t t0 = ib_wall_ns();
    int rc = b->open(&tc, &t, err, sizeof err);
    if (rc == 0 && b->prepare != NULL)
        rc = b->prepare(t, w->orders, w->order_count, err, sizeof err);
    sys->load_s = (double)(ib_wall_ns() - t0) / 1e9;
    if (rc != 0) {
        snprintf(sys->error, sizeof sys->error, "%s", err[0] ? err : strerror(-rc));
        fprintf(stderr, "invbench: %s could not run: %s\n", sys->spec.name, sys->error);
        if (t != NULL) b->close(t);
        return;
    }
    snprintf(sys->describe, sizeof sys->describe, "%s", b->describe(t));
    if (tc.port != 0 && b == &ib_backend_invd) /* a running invd keeps its own durability */
        snprintf(sys->spec.persistence, sizeof sys->spec.persistence, "attached");
    if (!ib_run_stop_requested()) {
        sys->ran = true;
        ib_run_system_phases(o, sys, t, w);
    } else {
        snprintf(sys->error, sizeof sys->error, "interrupted before its run");
    }
    b->close(t);
}

/* ====================================================================================
 * Output
 * ==================================================================================== */

static void ib_write_file(const ib_report *r, const char *path, bool json) {
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        fprintf(stderr, "invbench: %s: %s\n", path, strerror(errno));
        return;
    }
    if (json) ib_report_json(f, r);
    else ib_report_text(f, r);
    if (fclose(f) != 0) fprintf(stderr, "invbench: writing %s: %s\n", path, strerror(errno));
}

static void ib_output(const ib_options *o, ib_report *r) {
    char path[1024];
    if (mkdir(o->out_dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "invbench: mkdir %s: %s\n", o->out_dir, strerror(errno));
        r->plot_rc = 1;
    } else {
        ib_report_plots(r);
    }
    bool json_stdout = o->json_path != NULL && strcmp(o->json_path, "-") == 0;
    ib_report_text(json_stdout ? stderr : stdout, r);
    snprintf(path, sizeof path, "%s/report.txt", o->out_dir);
    ib_write_file(r, path, false);
    snprintf(path, sizeof path, "%s/report.json", o->out_dir);
    ib_write_file(r, path, true);
    if (json_stdout) ib_report_json(stdout, r);
    else if (o->json_path != NULL) ib_write_file(r, o->json_path, true);
}

/* ====================================================================================
 * Main
 * ==================================================================================== */

static void ib_on_signal(int sig) {
    ib_run_request_stop();
    signal(sig, SIG_DFL); /* a second one ends invbench at once */
}

static int ib_signals_install(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = ib_on_signal;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGINT, &sa, NULL) != 0 || sigaction(SIGTERM, &sa, NULL) != 0) return -errno;
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

static int ib_rehearse(const ib_options *o, const inv_scenario *s) {
    ib_workload w = {.s = s, .connections = o->connections, .depth = o->depth, .mix = o->mix,
                     .ttl_ms = o->ttl_ms, .quiet = o->quiet};
    inv_scn_order *orders = NULL;
    if (ib_orders_make(o, s, &w, &orders) != 0) return IB_EXIT_FAIL;
    char root[] = "/tmp/invbench-XXXXXX";
    ib_system *systems = calloc(o->system_count, sizeof *systems);
    if (systems == NULL || mkdtemp(root) == NULL) {
        fprintf(stderr, "invbench: %s\n", systems ? strerror(errno) : "out of memory");
        free(systems);
        free(orders);
        return IB_EXIT_FAIL;
    }
    double total_s = o->warmup_s + o->flash_s + o->steady_s + (o->half_peak ? o->half_peak_s : 0);
    uint32_t count = 0;
    for (; count < o->system_count; count++) {
        ib_system *sys = &systems[count];
        if (ib_system_init(sys, &o->systems[count], s, total_s) != 0) {
            snprintf(sys->error, sizeof sys->error, "out of memory");
            count++;
            break;
        }
        if (ib_run_stop_requested()) snprintf(sys->error, sizeof sys->error, "interrupted");
        else ib_run_system(o, &w, root, sys);
    }
    nftw(root, ib_rm_entry, IB_RM_FDS_MAX, FTW_DEPTH | FTW_PHYS);
    ib_report r = {.o = o, .s = s, .system_count = count, .systems = systems,
                   .interrupted = ib_run_stop_requested(), .plot_rc = 1};
    snprintf(r.out_dir, sizeof r.out_dir, "%s", o->out_dir);
    ib_output(o, &r);
    int rc = ib_report_exit_status(&r);
    if (rc == 0 && r.interrupted) rc = IB_EXIT_INTERRUPTED;
    for (uint32_t i = 0; i < count; i++) ib_system_free(&systems[i]);
    free(systems);
    free(orders);
    return rc;
}

int main(int argc, char **argv) {
    ib_options o;
    ib_options_default(&o);
    int rc = ib_parse_args(&o, argc, argv);
    if (rc != 0) return rc > 0 ? 0 : IB_EXIT_USAGE;
    if (ib_signals_install() != 0) return IB_EXIT_FAIL;
    inv_scenario *s = NULL;
    char err[256] = "";
    if (inv_scenario_build(&s, &o.scenario, err, sizeof err) != 0) {
        fprintf(stderr, "invbench: scenario: %s\n", err);
        return IB_EXIT_FAIL;
    }
    rc = o.write_dir != NULL ? ib_write_scenario(&o, s) : ib_rehearse(&o, s);
    inv_scenario_free(s);
    return rc;
}
