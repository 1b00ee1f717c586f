/*
 * ib_plot.c — invbench's pictures (see ib_plot.h): for each plot a data file and a
 * gnuplot script in the output directory, then gnuplot run on the script to draw the
 * .svg and the .png.
 *
 * Design:
 *   - Every script is self-contained and refers to its data file by a relative name, and
 *     gnuplot runs with the output directory as its working directory, so
 *     `cd <dir> && gnuplot throughput.gp` redraws a plot by hand.
 *   - Data files hold one gnuplot "index" block (separated by two blank lines) per
 *     series that has something to draw; the script names blocks by the number they got.
 *     A plot with nothing to draw still gets a frame saying "no data".
 *   - Series i is drawn in gnuplot line type i + 1 in every plot: one colour per system.
 *   - Every text that reaches a script (title, series labels, phase names) is cleaned —
 *     control characters become spaces, invalid UTF-8 becomes '?', length is bounded —
 *     and written as a single-quoted gnuplot string (no escapes are interpreted there; a
 *     quote is doubled). Terminals are "noenhanced", so ^ _ @ { } stay literal.
 *   - Numbers are written in the C locale whatever locale the caller set.
 *   - gnuplot runs as a child by fork + execvp (no shell), stdin/stdout on /dev/null,
 *     stderr into <plot>.log (kept only when gnuplot fails), for at most
 *     gnuplot_timeout_ms (default IB_PLOT_GNUPLOT_TIMEOUT_MS); a child past that is
 *     killed by its pid.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* pipe2 */
#endif
#include "ib_plot.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* How long one gnuplot run may take, and how often the parent looks at it meanwhile. */
#define IB_PLOT_GNUPLOT_TIMEOUT_MS 30000u
#define IB_PLOT_WAIT_STEP_MS 10u
#define IB_PLOT_NS_PER_MS 1000000l
#define IB_PLOT_NS_PER_US 1000.0
/* Longest cleaned label, in bytes (a UTF-8 sequence is never cut). */
#define IB_PLOT_LABEL_MAX 160u
/* Room for a label with a short suffix such as " p99" or " (12345 units)". */
#define IB_PLOT_TEXT_MAX (2u * IB_PLOT_LABEL_MAX)
/* Longest file name we make: "<plot>.<ext>". */
#define IB_PLOT_NAME_MAX 64u
/* Bytes of gnuplot's stderr quoted in the error message. */
#define IB_PLOT_LOG_QUOTE_MAX 200u
#define IB_PLOT_DIR_MODE 0755
#define IB_PLOT_FILE_MODE 0644
/* Image sizes in pixels. */
#define IB_PLOT_WIDTH_PX 1200
#define IB_PLOT_HEIGHT_PX 700
#define IB_PLOT_MAP_WIDTH_PX 1000
#define IB_PLOT_MAP_HEIGHT_PX 900
/* Percentile plot: points per halving of the remaining tail (HdrHistogram's
 * "ticks per half distance"), the bound on points per series, and axis extent. */
#define IB_PLOT_TICKS_PER_HALF 5.0
#define IB_PLOT_LATENCY_POINTS_MAX 400u
#define IB_PLOT_NINES_MIN 4      /* the x axis reaches 99.99 % at least */
#define IB_PLOT_NINES_MAX 9      /* and at most 99.9999999 % */
#define IB_PLOT_DECADE 10.0
#define IB_PLOT_PERCENT 100.0
/* 0 ns cannot be shown on a log axis: drawn at 1 ns. */
#define IB_PLOT_LATENCY_FLOOR_NS 1u
/* Map: circle sizes (gnuplot point sizes; area grows with units served), the grey of
 * the background nodes, and the latitude beyond which lon/lat scaling stops. */
#define IB_PLOT_CIRCLE_PS_MIN 0.8
#define IB_PLOT_CIRCLE_PS_SPAN 5.0
#define IB_PLOT_NODE_PS 0.35
#define IB_PLOT_LAT_SCALE_LIMIT 80.0
#define IB_PLOT_DEG_TO_RAD (M_PI / 180.0)
/* Default gnuplot when the caller names none: the one on PATH. */
#define IB_PLOT_GNUPLOT_DEFAULT "gnuplot"

_Static_assert(IB_PLOT_GNUPLOT_TIMEOUT_MS % IB_PLOT_WAIT_STEP_MS == 0,
               "the timeout is a whole number of wait steps");
_Static_assert(IB_PLOT_NINES_MIN <= IB_PLOT_NINES_MAX, "axis extent bounds are ordered");

/* ------------------------------------------------------------------------------------
 * Errors, labels, numbers
 * ------------------------------------------------------------------------------------ */

__attribute__((format(printf, 4, 5))) static int fail(char *err, size_t err_len, int code,
                                                       const char *fmt, ...) {
    if (err != NULL && err_len > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, err_len, fmt, ap);
        va_end(ap);
    }
    return code;
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when it is not valid UTF-8. */
static size_t utf8_sequence_len(const unsigned char *s) {
    unsigned char lead = s[0];
    size_t len;
    unsigned char second_lo = 0x80, second_hi = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF) {
        len = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
        len = 3;
        if (lead == 0xE0) second_lo = 0xA0; /* overlong */
        if (lead == 0xED) second_hi = 0x9F; /* surrogates */
    } else if (lead >= 0xF0 && lead <= 0xF4) {
        len = 4;
        if (lead == 0xF0) second_lo = 0x90; /* overlong */
        if (lead == 0xF4) second_hi = 0x8F; /* beyond U+10FFFF */
    } else {
        return 0;
    }
    if (s[1] < second_lo || s[1] > second_hi) return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xBF) return 0;
    return len;
}

/* Copy `in` into out (at most out_len − 1 bytes, always terminated, a UTF-8 sequence
 * never cut): control characters become spaces, bytes that are not UTF-8 become '?'.
 * NULL → "". */
static void label_clean(char *out, size_t out_len, const char *in) {
    assert(out != NULL);
    assert(out_len > 0);
    size_t cap = out_len - 1;
    size_t o = 0;
    const unsigned char *s = (const unsigned char *)(in != NULL ? in : "");
    while (*s != '\0') {
        size_t len = *s < 0x80 ? 1 : utf8_sequence_len(s);
        if (o + (len == 0 ? 1 : len) > cap) break;
        if (len == 0) {
            out[o++] = '?';
            s++;
        } else if (len == 1) {
            out[o++] = (char)((*s < 0x20 || *s == 0x7F) ? ' ' : *s);
            s++;
        } else {
            memcpy(out + o, s, len);
            o += len;
            s += len;
        }
    }
    out[o] = '\0';
}

/* Write `text` cleaned, as a single-quoted gnuplot string. */
static void gp_put_string(FILE *f, const char *text) {
    char clean[IB_PLOT_TEXT_MAX];
    label_clean(clean, sizeof clean, text);
    fputc('\'', f);
    for (const char *c = clean; *c != '\0'; c++) {
        if (*c == '\'') fputc('\'', f);
        fputc(*c, f);
    }
    fputc('\'', f);
}

/* Same for "<label><suffix>": the label is cleaned and bounded first, then joined. */
__attribute__((format(printf, 3, 4))) static void gp_put_labelf(FILE *f, const char *label,
                                                                const char *suffix_fmt, ...) {
    char clean[IB_PLOT_LABEL_MAX + 1];
    char text[IB_PLOT_TEXT_MAX];
    label_clean(clean, sizeof clean, label);
    size_t used = (size_t)snprintf(text, sizeof text, "%s", clean);
    va_list ap;
    va_start(ap, suffix_fmt);
    vsnprintf(text + used, sizeof text - used, suffix_fmt, ap);
    va_end(ap);
    gp_put_string(f, text);
}

/* A data value; anything not finite is gnuplot's "undefined". */
static void dat_put_number(FILE *f, double value) {
    if (isfinite(value)) {
        fprintf(f, " %.9g", value);
    } else {
        fputs(" NaN", f);
    }
}

/* ------------------------------------------------------------------------------------
 * Files
 * ------------------------------------------------------------------------------------ */

/* mkdir -p out_dir; @return 0 or a negative errno (reason in err). */
static int dir_make(const char *out_dir, char *err, size_t err_len) {
    char path[PATH_MAX];
    size_t len = strlen(out_dir);
    if (len == 0) return fail(err, err_len, -EINVAL, "plot directory name is empty");
    if (len >= sizeof path)
        return fail(err, err_len, -ENAMETOOLONG, "plot directory name too long: %s", out_dir);
    memcpy(path, out_dir, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (path[i] != '/' && path[i] != '\0') continue;
        char saved = path[i];
        path[i] = '\0';
        if (mkdir(path, IB_PLOT_DIR_MODE) != 0 && errno != EEXIST)
            return fail(err, err_len, -errno, "mkdir %s: %s", path, strerror(errno));
        path[i] = saved;
    }
    struct stat st;
    if (stat(out_dir, &st) != 0)
        return fail(err, err_len, -errno, "stat %s: %s", out_dir, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return fail(err, err_len, -ENOTDIR, "%s is not a directory", out_dir);
    return 0;
}

static int path_join(char *out, size_t out_len, const char *dir, const char *name,
                     const char *ext, char *err, size_t err_len) {
    int n = snprintf(out, out_len, "%s/%s%s", dir, name, ext);
    if (n < 0 || (size_t)n >= out_len)
        return fail(err, err_len, -ENAMETOOLONG, "path too long: %s/%s%s", dir, name, ext);
    return 0;
}

/* The pair of files every plot writes. */
typedef struct plot_files {
    FILE *dat;
    FILE *gp;
    char dat_path[PATH_MAX];
    char gp_path[PATH_MAX];
} plot_files;

static int files_open(plot_files *pf, const char *dir, const char *name, char *err,
                      size_t err_len) {
    memset(pf, 0, sizeof *pf);
    int rc = path_join(pf->dat_path, sizeof pf->dat_path, dir, name, ".dat", err, err_len);
    if (rc == 0) rc = path_join(pf->gp_path, sizeof pf->gp_path, dir, name, ".gp", err, err_len);
    if (rc != 0) return rc;
    pf->dat = fopen(pf->dat_path, "we");
    if (pf->dat == NULL)
        return fail(err, err_len, -errno, "open %s: %s", pf->dat_path, strerror(errno));
    pf->gp = fopen(pf->gp_path, "we");
    if (pf->gp == NULL) {
        rc = fail(err, err_len, -errno, "open %s: %s", pf->gp_path, strerror(errno));
        fclose(pf->dat);
        pf->dat = NULL;
        return rc;
    }
    return 0;
}

static int file_close(FILE *f, const char *path, int rc, char *err, size_t err_len) {
    bool write_failed = ferror(f) != 0;
    if (fclose(f) != 0 && rc == 0)
        return fail(err, err_len, -errno, "close %s: %s", path, strerror(errno));
    if (write_failed && rc == 0) return fail(err, err_len, -EIO, "write %s failed", path);
    return rc;
}

/* Close both files; the first failure wins. */
static int files_close(plot_files *pf, int rc, char *err, size_t err_len) {
    rc = file_close(pf->dat, pf->dat_path, rc, err, err_len);
    rc = file_close(pf->gp, pf->gp_path, rc, err, err_len);
    pf->dat = pf->gp = NULL;
    return rc;
}

/* ------------------------------------------------------------------------------------
 * Script pieces shared by the three plots
 * ------------------------------------------------------------------------------------ */

static void gp_begin(FILE *gp, const char *name, int width_px, int height_px) {
    fprintf(gp, "# %s.gp: written by invbench. Redraw in this directory: gnuplot %s.gp\n",
            name, name);
    fputs("set encoding utf8\n", gp);
    fprintf(gp,
            "set terminal svg size %d,%d dynamic noenhanced font 'Sans,11' "
            "background '#ffffff'\n",
            width_px, height_px);
    fprintf(gp, "set output '%s.svg'\n", name);
}

/* After the plot command: the same picture again as PNG (pngcairo when built in). */
static void gp_end(FILE *gp, const char *name, int width_px, int height_px) {
    fputs("set output\n", gp);
    fprintf(gp,
            "if (strstrt(GPVAL_TERMINALS, ' pngcairo ') > 0) {\n"
            "    set terminal pngcairo size %d,%d noenhanced font 'Sans,10' "
            "background '#ffffff'\n"
            "} else {\n"
            "    set terminal png size %d,%d noenhanced background '#ffffff'\n"
            "}\n",
            width_px, height_px, width_px, height_px);
    fprintf(gp, "set output '%s.png'\nreplot\nset output\n", name);
}

static void gp_title(FILE *gp, const char *title, const char *what) {
    fputs("set title ", gp);
    gp_put_labelf(gp, title != NULL ? title : "invbench", ": %s", what);
    fputc('\n', gp);
}

/* The frame of a plot with nothing to draw. */
static void gp_plot_nothing(FILE *gp) {
    fputs("unset logscale\nset xrange [0:1]\nset yrange [0:1]\n"
          "set label 'no data' at graph 0.5, graph 0.5 center\nplot NaN notitle\n",
          gp);
}

/* Start of clause `block` of a plot command over `dat_name`. */
static void gp_clause(FILE *gp, const char *dat_name, uint32_t clause, uint32_t block) {
    if (clause == 0) {
        fprintf(gp, "plot '%s' index %u", dat_name, block);
    } else {
        fprintf(gp, ", \\\n     '' index %u", block);
    }
}

/* Data blocks are separated by two blank lines. */
static void dat_block_begin(FILE *dat, uint32_t block, const char *what, const char *label) {
    char clean[IB_PLOT_LABEL_MAX + 1];
    label_clean(clean, sizeof clean, label);
    if (block > 0) fputs("\n\n", dat);
    fprintf(dat, "# block %u: %s %s\n", block, what, clean);
}

/* ------------------------------------------------------------------------------------
 * throughput: ops/s (y1) and p99 µs (y2, log) per second, phases as dashed lines
 * ------------------------------------------------------------------------------------ */

static bool series_has_p99(const ib_plot_series *s) {
    for (uint32_t i = 0; i < s->seconds; i++)
        if (s->p99_us[i] > 0.0 && isfinite(s->p99_us[i])) return true;
    return false;
}

static void throughput_phases(FILE *gp, const ib_plot_input *in) {
    for (uint32_t i = 0; i < in->phase_count; i++) {
        double start_s = in->phases[i].start_s;
        if (!isfinite(start_s)) continue;
        fprintf(gp,
                "set arrow from first %.9g, graph 0 to first %.9g, graph 1 nohead dt 2 "
                "lc rgb '#808080'\n",
                start_s, start_s);
        fputs("set label ", gp);
        gp_put_string(gp, in->phases[i].name);
        fprintf(gp,
                " at first %.9g, graph 0.98 rotate by 90 right offset character 1,0 "
                "textcolor rgb '#606060'\n",
                start_s);
    }
}

static void throughput_settings(FILE *gp, const ib_plot_input *in, bool any_p99) {
    gp_title(gp, in->title, "throughput and p99 latency per second");
    fputs("set xlabel 'seconds since the timed run began'\n"
          "set ylabel 'completed ops/s'\nset yrange [0:*]\nset format y '%.1s%c'\n"
          "set ytics nomirror\nset grid xtics ytics\n"
          "set key outside bottom center horizontal\n",
          gp);
    if (any_p99) fputs("set y2label 'p99 latency (µs, log)'\nset logscale y2\nset y2tics\n", gp);
    throughput_phases(gp, in);
}

static void throughput_write(FILE *dat, FILE *gp, const ib_plot_input *in) {
    bool any_p99 = false;
    for (uint32_t s = 0; s < in->series_count; s++) any_p99 |= series_has_p99(&in->series[s]);
    throughput_settings(gp, in, any_p99);
    fputs("# seconds ops_per_s p99_us (NaN: no ops that second)\n", dat);
    uint32_t block = 0, clause = 0;
    for (uint32_t s = 0; s < in->series_count; s++) {
        const ib_plot_series *series = &in->series[s];
        if (series->seconds == 0) continue;
        dat_block_begin(dat, block, "series", series->label);
        for (uint32_t i = 0; i < series->seconds; i++) {
            double p99_us = series->p99_us[i] > 0.0 ? series->p99_us[i] : NAN;
            fprintf(dat, "%u.5", i);
            dat_put_number(dat, series->ops_per_s[i]);
            dat_put_number(dat, p99_us);
            fputc('\n', dat);
        }
        gp_clause(gp, "throughput.dat", clause++, block);
        fprintf(gp, " using 1:2 with lines lw 2 lc %u title ", s + 1);
        gp_put_labelf(gp, series->label, " ops/s");
        if (series_has_p99(series)) {
            gp_clause(gp, "throughput.dat", clause++, block);
            fprintf(gp, " using 1:3 axes x1y2 with lines lw 1 dt 3 lc %u title ", s + 1);
            gp_put_labelf(gp, series->label, " p99");
        }
        block++;
    }
    if (clause == 0) {
        gp_plot_nothing(gp);
    } else {
        fputc('\n', gp);
    }
}

/* ------------------------------------------------------------------------------------
 * latency: HdrHistogram's percentile plot, x = 1/(1 − p) on a log axis
 * ------------------------------------------------------------------------------------ */

static double latency_us(uint64_t ns) {
    if (ns < IB_PLOT_LATENCY_FLOOR_NS) ns = IB_PLOT_LATENCY_FLOOR_NS;
    return (double)ns / IB_PLOT_NS_PER_US;
}

static void latency_point(FILE *dat, double percentile, uint64_t ns, double inverse) {
    fprintf(dat, "%.12g", percentile);
    dat_put_number(dat, latency_us(ns));
    dat_put_number(dat, inverse);
    fputc('\n', dat);
}

/* One series' percentile curve: points get denser toward the tail (a fixed number per
 * halving of what remains), up to the resolution the sample count allows, then max.
 * @return the largest 1/(1 − p) written. */
static double latency_curve(FILE *dat, const ib_hist *h) {
    double level = 0.0;
    double total = (double)h->total;
    for (uint32_t i = 0; i < IB_PLOT_LATENCY_POINTS_MAX; i++) {
        double inverse = IB_PLOT_PERCENT / (IB_PLOT_PERCENT - level);
        if (!(inverse <= total)) break;
        latency_point(dat, level, ib_hist_percentile(h, level), inverse);
        double halvings = floor(log2(inverse)) + 1.0;
        level += IB_PLOT_PERCENT / (IB_PLOT_TICKS_PER_HALF * exp2(halvings));
    }
    latency_point(dat, IB_PLOT_PERCENT * (1.0 - 1.0 / total), h->max, total);
    return total;
}

/* x tics: 0 %, 50 %, then 90 %, 99 %, 99.9 % … up to `nines` nines. Tic labels are
 * gnuplot format strings, so a percent sign is written "%%". */
static void latency_xtics(FILE *gp, int nines) {
    fputs("set xtics ('0%%' 1, '50%%' 2", gp);
    double inverse = 1.0;
    for (int k = 1; k <= nines; k++) {
        inverse *= IB_PLOT_DECADE;
        fputs(k == 1 ? ", '90" : ", '99", gp);
        if (k > 2) fputc('.', gp);
        for (int d = 2; d < k; d++) fputc('9', gp);
        fprintf(gp, "%%%%' %.0f", inverse);
    }
    fputs(")\n", gp);
}

static void latency_settings(FILE *gp, const ib_plot_input *in, double inverse_max) {
    int nines = (int)ceil(log10(inverse_max));
    if (nines < IB_PLOT_NINES_MIN) nines = IB_PLOT_NINES_MIN;
    if (nines > IB_PLOT_NINES_MAX) nines = IB_PLOT_NINES_MAX;
    gp_title(gp, in->title, "latency by percentile");
    fputs("set xlabel 'percentile'\nset ylabel 'latency (µs)'\nset logscale xy\n"
          "set grid xtics ytics mytics\nset key top left\n",
          gp);
    fprintf(gp, "set xrange [1:%.0f]\n", pow(IB_PLOT_DECADE, nines));
    latency_xtics(gp, nines);
}

static void latency_write(FILE *dat, FILE *gp, const ib_plot_input *in) {
    fputs("# percentile latency_us inverse_tail(1/(1-p))\n", dat);
    double inverse_max = 1.0;
    uint32_t block = 0;
    for (uint32_t s = 0; s < in->series_count; s++) {
        const ib_hist *h = in->series[s].latency;
        if (h == NULL || h->total == 0) continue;
        dat_block_begin(dat, block++, "series", in->series[s].label);
        inverse_max = fmax(inverse_max, latency_curve(dat, h));
    }
    latency_settings(gp, in, inverse_max);
    block = 0;
    for (uint32_t s = 0; s < in->series_count; s++) {
        const ib_hist *h = in->series[s].latency;
        if (h == NULL || h->total == 0) continue;
        gp_clause(gp, "latency.dat", block, block);
        fprintf(gp, " using 3:2 with lines lw 2 lc %u title ", s + 1);
        gp_put_string(gp, in->series[s].label);
        block++;
    }
    if (block == 0) {
        gp_plot_nothing(gp);
    } else {
        fputc('\n', gp);
    }
}

/* ------------------------------------------------------------------------------------
 * flash_map: every node grey, flash-serving nodes as circles sized by units
 * ------------------------------------------------------------------------------------ */

static bool point_usable(const ib_plot_point *p) {
    return isfinite(p->lat) && isfinite(p->lon);
}

typedef struct map_extent {
    double lat_min, lat_max;
    uint64_t units_max;
    bool any;
} map_extent;

static void extent_add(map_extent *e, const ib_plot_point *p) {
    if (!point_usable(p)) return;
    e->lat_min = e->any ? fmin(e->lat_min, p->lat) : p->lat;
    e->lat_max = e->any ? fmax(e->lat_max, p->lat) : p->lat;
    if (p->units > e->units_max) e->units_max = p->units;
    e->any = true;
}

static map_extent map_extent_of(const ib_plot_input *in) {
    map_extent e = {0};
    for (uint32_t i = 0; i < in->node_count; i++) extent_add(&e, &in->nodes[i]);
    for (uint32_t s = 0; s < in->series_count; s++)
        for (uint32_t i = 0; i < in->series[s].flash_count; i++)
            if (in->series[s].flash_nodes[i].units > 0)
                extent_add(&e, &in->series[s].flash_nodes[i]);
    return e;
}

static bool point_drawn(const ib_plot_point *p, bool flash_only) {
    return point_usable(p) && (!flash_only || p->units > 0);
}

/* Units over the points drawn (flash_only: only flash servers); *drawn counts them. */
static uint64_t map_points_count(const ib_plot_point *pts, uint32_t n, bool flash_only,
                                 uint32_t *drawn) {
    uint64_t units = 0;
    *drawn = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (!point_drawn(&pts[i], flash_only)) continue;
        units += pts[i].units;
        (*drawn)++;
    }
    return units;
}

static void map_points_write(FILE *dat, const ib_plot_point *pts, uint32_t n,
                             bool flash_only) {
    for (uint32_t i = 0; i < n; i++) {
        if (!point_drawn(&pts[i], flash_only)) continue;
        fprintf(dat, "%.7f %.7f %llu\n", pts[i].lon, pts[i].lat,
                (unsigned long long)pts[i].units);
    }
}

static void map_settings(FILE *gp, const ib_plot_input *in, const map_extent *e) {
    gp_title(gp, in->title, "nodes that served the flash-sale SKUs");
    fputs("set xlabel 'longitude (°E)'\nset ylabel 'latitude (°N)'\nset grid\n"
          "set key below left\n",
          gp);
    /* One degree of longitude is cos(latitude) as long as one degree of latitude. */
    double mid_lat = fmax(-IB_PLOT_LAT_SCALE_LIMIT,
                          fmin(IB_PLOT_LAT_SCALE_LIMIT, (e->lat_min + e->lat_max) / 2.0));
    fprintf(gp, "set size ratio -%.6f\n", 1.0 / cos(mid_lat * IB_PLOT_DEG_TO_RAD));
    fprintf(gp, "units_max = %llu.0\nps_min = %g\nps_span = %g\n",
            (unsigned long long)(e->units_max > 0 ? e->units_max : 1), IB_PLOT_CIRCLE_PS_MIN,
            IB_PLOT_CIRCLE_PS_SPAN);
}

static void map_write(FILE *dat, FILE *gp, const ib_plot_input *in) {
    map_extent extent = map_extent_of(in);
    fputs("# lon lat units\n", dat);
    if (!extent.any) {
        gp_title(gp, in->title, "nodes that served the flash-sale SKUs");
        gp_plot_nothing(gp);
        return;
    }
    map_settings(gp, in, &extent);
    uint32_t block = 0, drawn;
    map_points_count(in->nodes, in->node_count, false, &drawn);
    if (drawn > 0) {
        dat_block_begin(dat, block, "all nodes", "");
        map_points_write(dat, in->nodes, in->node_count, false);
        gp_clause(gp, "flash_map.dat", block, block);
        fprintf(gp, " using 1:2 with points pt 7 ps %g lc rgb '#b0b0b0' title 'all nodes'",
                IB_PLOT_NODE_PS);
        block++;
    }
    for (uint32_t s = 0; s < in->series_count; s++) {
        const ib_plot_series *series = &in->series[s];
        uint64_t units = map_points_count(series->flash_nodes, series->flash_count, true, &drawn);
        if (drawn == 0) continue;
        dat_block_begin(dat, block, "flash servers of", series->label);
        map_points_write(dat, series->flash_nodes, series->flash_count, true);
        gp_clause(gp, "flash_map.dat", block, block);
        fprintf(gp,
                " using 1:2:(ps_min + ps_span * sqrt($3 / units_max)) with points pt 6 "
                "ps variable lw 1.5 lc %u title ",
                s + 1);
        gp_put_labelf(gp, series->label, " (%llu units)", (unsigned long long)units);
        block++;
    }
    fputc('\n', gp);
}

/* ------------------------------------------------------------------------------------
 * Running gnuplot
 * ------------------------------------------------------------------------------------ */

/* What a child that failed before or at exec tells its parent. */
typedef struct exec_report {
    int stage; /* which step failed */
    int error; /* its errno */
} exec_report;

enum { EXEC_STAGE_REDIRECT = 1, EXEC_STAGE_CHDIR, EXEC_STAGE_EXEC };

/* In the child between fork and exec: only async-signal-safe calls. */
__attribute__((noreturn)) static void child_exec(char *const argv[], const char *dir,
                                                 int null_fd, int log_fd, int report_fd) {
    exec_report report = {0, 0};
    if (dup2(null_fd, STDIN_FILENO) < 0 || dup2(null_fd, STDOUT_FILENO) < 0 ||
        dup2(log_fd, STDERR_FILENO) < 0) {
        report = (exec_report){EXEC_STAGE_REDIRECT, errno};
    } else if (chdir(dir) != 0) {
        report = (exec_report){EXEC_STAGE_CHDIR, errno};
    } else {
        execvp(argv[0], argv);
        report = (exec_report){EXEC_STAGE_EXEC, errno};
    }
    ssize_t ignored = write(report_fd, &report, sizeof report);
    (void)ignored;
    _exit(127);
}

/* Wait for pid at most timeout_ms; kill it (by pid) past that.
 * @return 0 with *status filled, -ETIMEDOUT, or a negative errno. */
static int child_wait(pid_t pid, uint32_t timeout_ms, int *status) {
    const struct timespec step = {0, (long)IB_PLOT_WAIT_STEP_MS * IB_PLOT_NS_PER_MS};
    uint32_t polls = timeout_ms / IB_PLOT_WAIT_STEP_MS;
    for (uint32_t poll = 0; poll <= polls; poll++) {
        pid_t r = waitpid(pid, status, WNOHANG);
        if (r == pid) return 0;
        if (r < 0 && errno != EINTR) return -errno;
        if (poll < polls) nanosleep(&step, NULL);
    }
    if (kill(pid, SIGKILL) != 0 && errno != ESRCH) return -errno;
    while (waitpid(pid, status, 0) < 0) {
        if (errno != EINTR) return -errno;
    }
    return -ETIMEDOUT;
}

/* Read the exec report: 0 bytes means exec succeeded (the pipe closed on exec). */
static bool exec_report_read(int fd, exec_report *report) {
    for (;;) {
        ssize_t n = read(fd, report, sizeof *report);
        if (n == (ssize_t)sizeof *report) return true;
        if (n < 0 && errno == EINTR) continue;
        return false;
    }
}

/* First line of gnuplot's stderr for the error message. */
static void log_quote(const char *log_path, char *out, size_t out_len) {
    out[0] = '\0';
    int fd = open(log_path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    char raw[IB_PLOT_LOG_QUOTE_MAX + 1];
    ssize_t n = read(fd, raw, IB_PLOT_LOG_QUOTE_MAX);
    close(fd);
    if (n <= 0) return;
    raw[n] = '\0';
    size_t line = strspn(raw, "\n");
    raw[line + strcspn(raw + line, "\n")] = '\0';
    label_clean(out, out_len, raw + line);
}

typedef struct gnuplot_job {
    const char *gnuplot; /* binary (a relative path with '/' made absolute) */
    const char *dir;
    const char *name;    /* plot name: <name>.gp, <name>.log */
    uint32_t timeout_ms;
} gnuplot_job;

static int gnuplot_outcome(const gnuplot_job *job, const char *log_path, int status,
                           char *err, size_t err_len) {
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        if (unlink(log_path) != 0)
            return fail(err, err_len, -errno, "unlink %s: %s", log_path, strerror(errno));
        return 0;
    }
    char quote[IB_PLOT_LOG_QUOTE_MAX + 1];
    log_quote(log_path, quote, sizeof quote);
    if (WIFSIGNALED(status))
        return fail(err, err_len, -EIO, "gnuplot %s.gp killed by signal %d (log %s): %s",
                    job->name, WTERMSIG(status), log_path, quote);
    return fail(err, err_len, -EIO, "gnuplot %s.gp exited with %d (log %s): %s", job->name,
                WEXITSTATUS(status), log_path, quote);
}

/* After fork: learn whether exec worked, then wait for gnuplot. */
static int gnuplot_supervise(const gnuplot_job *job, pid_t pid, int report_fd,
                             const char *log_path, char *err, size_t err_len) {
    exec_report report;
    int status = 0;
    if (exec_report_read(report_fd, &report)) {
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        if (report.stage == EXEC_STAGE_EXEC)
            return fail(err, err_len, -ENOENT, "cannot run gnuplot '%s': %s", job->gnuplot,
                        strerror(report.error));
        return fail(err, err_len, -report.error, "gnuplot child setup (%s) failed: %s",
                    report.stage == EXEC_STAGE_CHDIR ? "chdir" : "redirect",
                    strerror(report.error));
    }
    int rc = child_wait(pid, job->timeout_ms, &status);
    if (rc == -ETIMEDOUT)
        return fail(err, err_len, rc, "gnuplot %s.gp ran over %u ms and was killed",
                    job->name, job->timeout_ms);
    if (rc != 0) return fail(err, err_len, rc, "waitpid gnuplot: %s", strerror(-rc));
    return gnuplot_outcome(job, log_path, status, err, err_len);
}

static int gnuplot_run(const gnuplot_job *job, char *err, size_t err_len) {
    char script[IB_PLOT_NAME_MAX], log_path[PATH_MAX];
    int rc = path_join(log_path, sizeof log_path, job->dir, job->name, ".log", err, err_len);
    if (rc != 0) return rc;
    snprintf(script, sizeof script, "%s.gp", job->name);
    char *const argv[] = {(char *)job->gnuplot, script, NULL};
    int log_fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, IB_PLOT_FILE_MODE);
    if (log_fd < 0) return fail(err, err_len, -errno, "open %s: %s", log_path, strerror(errno));
    int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    int report_pipe[2] = {-1, -1};
    if (null_fd < 0 || pipe2(report_pipe, O_CLOEXEC) != 0) {
        rc = fail(err, err_len, -errno, "gnuplot setup: %s", strerror(errno));
    } else {
        pid_t pid = fork();
        if (pid == 0) child_exec(argv, job->dir, null_fd, log_fd, report_pipe[1]);
        if (pid < 0) {
            rc = fail(err, err_len, -errno, "fork: %s", strerror(errno));
        } else {
            close(report_pipe[1]);
            report_pipe[1] = -1;
            rc = gnuplot_supervise(job, pid, report_pipe[0], log_path, err, err_len);
        }
    }
    int fds[] = {log_fd, null_fd, report_pipe[0], report_pipe[1]};
    for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
        if (fds[i] >= 0) close(fds[i]);
    return rc;
}

/* ------------------------------------------------------------------------------------
 * Entry point
 * ------------------------------------------------------------------------------------ */

typedef void (*plot_writer)(FILE *dat, FILE *gp, const ib_plot_input *in);

typedef struct plot_kind {
    const char *name;
    plot_writer write;
    int width_px, height_px;
} plot_kind;

static const plot_kind plot_kinds[] = {
    {"throughput", throughput_write, IB_PLOT_WIDTH_PX, IB_PLOT_HEIGHT_PX},
    {"latency", latency_write, IB_PLOT_WIDTH_PX, IB_PLOT_HEIGHT_PX},
    {"flash_map", map_write, IB_PLOT_MAP_WIDTH_PX, IB_PLOT_MAP_HEIGHT_PX},
};
#define PLOT_KIND_COUNT (sizeof plot_kinds / sizeof plot_kinds[0])

static int input_check(const ib_plot_input *in, char *err, size_t err_len) {
    if ((in->phase_count > 0 && in->phases == NULL) ||
        (in->series_count > 0 && in->series == NULL) ||
        (in->node_count > 0 && in->nodes == NULL))
        return fail(err, err_len, -EINVAL, "plot input: a count without its array");
    for (uint32_t s = 0; s < in->series_count; s++) {
        const ib_plot_series *series = &in->series[s];
        if (series->seconds > 0 && (series->ops_per_s == NULL || series->p99_us == NULL))
            return fail(err, err_len, -EINVAL, "plot series %u: seconds without data", s);
        if (series->flash_count > 0 && series->flash_nodes == NULL)
            return fail(err, err_len, -EINVAL, "plot series %u: flash_count without nodes", s);
    }
    return 0;
}

static int plots_write_files(const ib_plot_input *in, const char *out_dir, char *err,
                             size_t err_len) {
    for (size_t k = 0; k < PLOT_KIND_COUNT; k++) {
        const plot_kind *kind = &plot_kinds[k];
        plot_files pf;
        int rc = files_open(&pf, out_dir, kind->name, err, err_len);
        if (rc != 0) return rc;
        gp_begin(pf.gp, kind->name, kind->width_px, kind->height_px);
        kind->write(pf.dat, pf.gp, in);
        gp_end(pf.gp, kind->name, kind->width_px, kind->height_px);
        rc = files_close(&pf, 0, err, err_len);
        if (rc != 0) return rc;
    }
    return 0;
}

/* A gnuplot given as a relative path with a '/' must survive the child's chdir. */
static int gnuplot_resolve(const char *gnuplot, char *abs, size_t abs_len, const char **out) {
    if (strchr(gnuplot, '/') == NULL || gnuplot[0] == '/') {
        *out = gnuplot;
        return 0;
    }
    char *resolved = realpath(gnuplot, NULL);
    if (resolved == NULL) return -ENOENT;
    int n = snprintf(abs, abs_len, "%s", resolved);
    free(resolved);
    if (n < 0 || (size_t)n >= abs_len) return -ENAMETOOLONG;
    *out = abs;
    return 0;
}

static int plots_draw(const ib_plot_input *in, const char *out_dir, char *err,
                      size_t err_len) {
    char abs[PATH_MAX];
    const char *requested = in->gnuplot != NULL ? in->gnuplot : IB_PLOT_GNUPLOT_DEFAULT;
    gnuplot_job job = {.dir = out_dir,
                       .timeout_ms = in->gnuplot_timeout_ms ? in->gnuplot_timeout_ms
                                                            : IB_PLOT_GNUPLOT_TIMEOUT_MS};
    int rc = gnuplot_resolve(requested, abs, sizeof abs, &job.gnuplot);
    if (rc != 0)
        return fail(err, err_len, -ENOENT, "cannot run gnuplot '%s': %s", requested,
                    strerror(-rc));
    for (size_t k = 0; k < PLOT_KIND_COUNT; k++) {
        job.name = plot_kinds[k].name;
        rc = gnuplot_run(&job, err, err_len);
        if (rc != 0) return rc;
    }
    return 0;
}

int ib_plot_write(const ib_plot_input *in, const char *out_dir, char *err, size_t err_len) {
    if (err != NULL && err_len > 0) err[0] = '\0';
    if (in == NULL || out_dir == NULL)
        return fail(err, err_len, -EINVAL, "plot: no input or no directory");
    int rc = input_check(in, err, err_len);
    if (rc == 0) rc = dir_make(out_dir, err, err_len);
    if (rc != 0) return rc;
    /* Numbers in the files must read back in gnuplot whatever the caller's locale. */
    locale_t c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
    if (c_locale == (locale_t)0)
        return fail(err, err_len, -ENOMEM, "newlocale C: %s", strerror(errno));
    locale_t caller_locale = uselocale(c_locale);
    rc = plots_write_files(in, out_dir, err, err_len);
    uselocale(caller_locale);
    freelocale(c_locale);
    if (rc != 0) return rc;
    return plots_draw(in, out_dir, err, err_len);
}
