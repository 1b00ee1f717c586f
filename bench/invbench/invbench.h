/*
 * invbench.h — what the parts of the invbench harness share: the options, one system's
 * results, the run engine (ib_run.c) and the report (ib_report.c). Private to the
 * invbench executable; the backends see only ib_backend.h.
 *
 * A rehearsal runs each chosen system in turn (invd, then Redis in each persistence
 * mode), each a fresh server loaded with the same scenario and driven with the same
 * pre-generated order pool: load → warm-up → flash-sale opening → steady mix
 * (→ half-peak, open loop at half the steady phase's throughput). Results are kept per
 * phase; the headline figures of a system are its steady phase's.
 */
#ifndef INVBENCH_H
#define INVBENCH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ib_backend.h"
#include "ib_check.h"
#include "ib_hist.h"
#include "ib_plot.h"
#include "scenario.h"

/* ------------------------------------------------------------------------------------
 * Limits
 * ------------------------------------------------------------------------------------ */
/* Connections: a thread each; order ids carry the connection as two hex digits. */
#define IB_CONNECTIONS_MAX 256u
/* Pipeline depth per connection (libinvclient allows 65,536 in flight). */
#define IB_DEPTH_MAX 8192u
/* Longest phase; also bounds the per-second series. */
#define IB_PHASE_SECONDS_MAX 600.0
/* Systems in one rehearsal: invd and three Redis modes (a name may repeat). */
#define IB_SYSTEMS_MAX 8u
/* Oversell findings kept per system (the count is exact). */
#define IB_FINDINGS_MAX 16u
/* Status slots: the INVC_* codes 0..14, then one for transport failures. */
#define IB_STATUS_SLOTS 16
#define IB_STATUS_TRANSPORT 15
/* Latency histograms: nanoseconds up to a minute, 3 significant digits (0.1 %). */
#define IB_HIST_HIGHEST_NS 60000000000ull
#define IB_HIST_DIGITS 3u
/* Per-second histograms only feed p50/p99 of a second: 2 digits are plenty. */
#define IB_SECOND_HIST_DIGITS 2u

_Static_assert(IB_STATUS_TRANSPORT == IB_STATUS_SLOTS - 1, "transport is the last slot");
_Static_assert(IB_CONNECTIONS_MAX <= 256u, "connection index fits two hex digits");

/* ------------------------------------------------------------------------------------
 * Phases and options
 * ------------------------------------------------------------------------------------ */
typedef enum ib_phase {
    IB_PHASE_WARMUP = 0,
    IB_PHASE_FLASH,
    IB_PHASE_STEADY,
    IB_PHASE_HALF_PEAK,
    IB_PHASE_COUNT
} ib_phase;

/* "warm-up", "flash opening", "steady mix", "half peak". */
const char *ib_phase_name(ib_phase p);
/* Short JSON key: "warmup", "flash", "steady", "half_peak". */
const char *ib_phase_key(ib_phase p);

/* Steady-mix shares in percent (sum 100). */
typedef struct ib_mix {
    uint32_t reserve, commit, release, availability;
} ib_mix;

typedef struct ib_system_spec {
    char name[32];               /* "invd", "redis-none", "redis-everysec", "redis-always" */
    const ib_backend *backend;
    char persistence[16];        /* the backend's persistence word */
} ib_system_spec;

typedef struct ib_options {
    /* Scenario. */
    inv_scenario_config scenario;
    const char *write_dir;       /* --write-scenario: write CSVs and exit */
    uint32_t pool_orders;        /* steady-mix orders generated before timing */
    uint32_t flash_orders;       /* flash-opening orders */
    bool hot;                    /* every order: one unit of the hot flash SKU */
    bool flash_limit_given;      /* --flash-limit on the command line */
    /* Systems. */
    uint32_t system_count;
    ib_system_spec systems[IB_SYSTEMS_MAX];
    const char *invd_path, *redis_path;
    const char *host;
    uint16_t invd_port, redis_port;  /* != 0: attach to a running server */
    uint32_t shards;             /* invd shard threads (0: one per CPU) */
    const char *invd_persistence;    /* fsync | async | none */
    /* Load. */
    uint32_t connections, depth;
    double rate;                 /* ops/s over all connections; 0: closed loop ("max") */
    ib_mix mix;
    uint64_t ttl_ms;
    double warmup_s, flash_s, steady_s, half_peak_s;
    bool half_peak;              /* run the half-peak phase on invd */
    /* Output. */
    const char *json_path;       /* NULL, a file, or "-" (stdout) */
    const char *out_dir;         /* report.txt, report.json, plots */
    const char *gnuplot;
    bool quiet;                  /* no per-second progress */
} ib_options;

/* ------------------------------------------------------------------------------------
 * Results
 * ------------------------------------------------------------------------------------ */
typedef struct ib_phase_stats {
    bool ran;
    double seconds;              /* wall time of the phase (cut short on Ctrl-C) */
    double target_rate;          /* open loop: intended ops/s; 0: closed loop */
    uint64_t ops;                /* replies of any status */
    uint64_t by_op[5];           /* indexed by ib_op */
    uint64_t status[IB_STATUS_SLOTS];
    ib_hist latency;             /* ns, from the intended send time to the reply */
} ib_phase_stats;

typedef struct ib_second {
    uint64_t ops, errors, sold_out;
    double p50_us, p99_us;
    ib_phase phase;
} ib_second;

typedef struct ib_system {
    ib_system_spec spec;
    char describe[256];
    char error[512];             /* why it could not run (or stopped early) */
    bool ran;                    /* reached the timed phases */
    bool interrupted;            /* Ctrl-C */
    double load_s;
    ib_phase_stats phase[IB_PHASE_COUNT];
    /* Per-second series over all phases (seconds since the timed run began). */
    uint32_t second_count, second_cap;
    ib_second *seconds;
    uint32_t mark_count;
    double mark_start_s[IB_PHASE_COUNT];
    ib_phase mark_phase[IB_PHASE_COUNT];
    /* Correctness. */
    uint32_t sku_count;
    ib_sku_tally *tally;
    bool oversell_checked;
    size_t finding_count;
    ib_oversell_finding findings[IB_FINDINGS_MAX];
    ib_route_stats route;
    uint64_t *flash_units_by_node; /* scenario node → flash-SKU units it served */
} ib_system;

/* @return 0 or -ENOMEM. */
int ib_system_init(ib_system *sys, const ib_system_spec *spec, const inv_scenario *s,
                   double total_seconds);
void ib_system_free(ib_system *sys);
/* Steady-phase throughput (ops/s), 0 when it did not run. */
double ib_system_ops_per_s(const ib_system *sys, ib_phase p);
/* The system's oversell verdict: checked and no findings. */
bool ib_system_oversell_pass(const ib_system *sys);

/* ------------------------------------------------------------------------------------
 * Run engine (ib_run.c)
 * ------------------------------------------------------------------------------------ */
typedef struct ib_workload {
    const inv_scenario *s;
    const inv_scn_order *orders; /* steady orders [0, steady_count), then flash orders */
    uint32_t steady_count, order_count;
    uint32_t connections, depth;
    ib_mix mix;
    uint64_t ttl_ms;
    bool quiet;
} ib_workload;

typedef struct ib_phase_plan {
    double seconds;              /* 0: skip the phase */
    double rate;                 /* ops/s, all connections; 0: closed loop */
} ib_phase_plan;

/* Ctrl-C: ask every running loop to stop (async-signal-safe). */
void ib_run_request_stop(void);
bool ib_run_stop_requested(void);

/* Run the planned phases, in phase order, against an opened target; results are added
 * to sys. @return 0, or a negative errno when a connection failed (reason in sys->error). */
int ib_run_phases(ib_system *sys, const ib_backend *b, ib_target *t, const ib_workload *w,
                  const ib_phase_plan plan[IB_PHASE_COUNT]);

/* Ask the system for every SKU's totals and run the oversell check into sys.
 * @return 0 or a negative errno (reason in sys->error). */
int ib_run_final_check(ib_system *sys, const ib_backend *b, ib_target *t, const ib_workload *w);

/* ------------------------------------------------------------------------------------
 * Report (ib_report.c)
 * ------------------------------------------------------------------------------------ */
typedef struct ib_report {
    const ib_options *o;
    const inv_scenario *s;
    uint32_t system_count;
    const ib_system *systems;
    bool interrupted;
    int plot_rc;                 /* ib_plot_write's result (1: not attempted) */
    char plot_error[256];
    char out_dir[512];
} ib_report;

void ib_report_text(FILE *f, const ib_report *r);
void ib_report_json(FILE *f, const ib_report *r);
/* Draw the plots into r->out_dir; sets plot_rc and plot_error. */
void ib_report_plots(ib_report *r);
/* Non-zero when an oversell check failed or a system could not run. */
int ib_report_exit_status(const ib_report *r);

#endif /* INVBENCH_H */
