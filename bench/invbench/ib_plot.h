/*
 * ib_plot.h — invbench's pictures, drawn by gnuplot (gnuplot-nox: svg and png terminals).
 *
 * For every plot the writer leaves the data file (.dat), the gnuplot script (.gp) and
 * both images (.svg, .png) in the output directory, so a plot can be redrawn or restyled
 * by hand: `gnuplot throughput.gp`.
 *
 *   throughput.{svg,png}  ops/s and p99 latency per second of the run, one line per
 *                         system (invd, redis-none, …), phases marked
 *   latency.{svg,png}     the latency distribution: percentile vs latency on a log
 *                         "1/(1−p)" axis (HdrHistogram's percentile plot), per system
 *   flash_map.{svg,png}   China by lon/lat: every node as a grey dot, the nodes that
 *                         served the flash-sale SKUs sized by units served, per system
 */
#ifndef IB_PLOT_H
#define IB_PLOT_H

#include <stddef.h>
#include <stdint.h>

#include "ib_hist.h"

typedef struct ib_plot_phase {
    const char *name;          /* "warm-up", "flash opening", "steady mix" */
    double start_s;            /* seconds since the timed run began */
} ib_plot_phase;

typedef struct ib_plot_point {
    double lat, lon;
    uint64_t units;            /* flash units served (0: not a flash server) */
} ib_plot_point;

typedef struct ib_plot_series {
    const char *label;         /* "invd (fsync)", "redis (always)" … no quotes or newlines */
    uint32_t seconds;          /* entries in ops_per_s and p99_us */
    const double *ops_per_s;   /* completed ops in second i */
    const double *p99_us;      /* p99 latency of second i, µs (0: no ops that second) */
    const ib_hist *latency;    /* whole-run latency in ns (NULL: left out of latency plot) */
    uint32_t flash_count;      /* entries in flash_nodes (0: left out of the map) */
    const ib_plot_point *flash_nodes;
} ib_plot_series;

typedef struct ib_plot_input {
    const char *title;         /* e.g. "invbench seed 42: 2 conns × depth 64, 10 s" */
    uint32_t phase_count;
    const ib_plot_phase *phases;
    uint32_t series_count;
    const ib_plot_series *series;
    uint32_t node_count;       /* every node (grey background of the map) */
    const ib_plot_point *nodes;
    const char *gnuplot;       /* gnuplot binary (NULL: "gnuplot" from PATH) */
    uint32_t gnuplot_timeout_ms; /* per plot; past it gnuplot is killed (0: 30 s) */
} ib_plot_input;

/* Write the three plots into out_dir (created if missing).
 * @return 0; -ENOENT when gnuplot cannot be run (the .dat and .gp files are still
 *         written); another negative errno on I/O failure (reason in err). */
int ib_plot_write(const ib_plot_input *in, const char *out_dir, char *err, size_t err_len);

#endif /* IB_PLOT_H */
