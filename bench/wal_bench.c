/*
 * wal_bench.c — the per-shard WAL under load, and recovery speed. Not a test.
 *
 *   wal_bench [--json] [--runs 3] [--shards 2] [--seconds 3] [--body 100] [--per-pass 64]
 *             [--rate 0] [--records 2000000] [--sync fdatasync|dsync]
 *             [--prealloc zero|fallocate] [--segment-mb 64] [--batch-interval-us 0]
 *             [--dir /tmp] [--no-engine]
 *
 * Commit phase: one thread per shard, each with its own inv_wal (own files, own ring),
 * runs a loop that appends --per-pass records (--body bytes each) then calls
 * inv_wal_flush (reap + submit: group commit) — for --seconds, as fast as it can, or at
 * --rate records/s per shard. Reported: records/s and MB/s made durable, fdatasyncs/s,
 * records per fdatasync, and the commit latency of each pass (append → durable LSN seen
 * by the loop) at p50 / p99.
 *
 * Recovery phase: --records synthetic records are written to one shard's log and
 * recovered with a no-op consumer (read + CRC + sequence checks: persist's own speed);
 * then, unless --no-engine, a real engine in direct mode logs about --records outcome
 * records (reserve + commit pairs over 2 shards) and a fresh engine is recovered from
 * them (persist + inv_engine_replay: the figure DESIGN.md §9 asks for). Both read from the
 * page cache (the files were just written); a cold read adds the device's read time.
 *
 * Every figure is the median of --runs runs. Human summary, or one JSON object.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "inv_persist.h"

#define BENCH_RUNS_MAX 15u
#define BENCH_PASSES_MAX (1u << 22)   /* latency samples per thread */
#define BENCH_BODY_MAX 2000u
#define BENCH_ENGINE_SKUS 64u
#define BENCH_ENGINE_NODES 4u

typedef struct bench_cfg {
    bool json, no_engine;
    uint32_t runs, shards, body, per_pass, segment_mb, batch_interval_us;
    double seconds;
    uint64_t rate, records;
    inv_wal_sync_method sync;
    inv_wal_prealloc prealloc;
    const char *dir_base;
} bench_cfg;

typedef struct bench_result {
    double rec_s, mb_s, syncs_s, rec_per_sync, p50_us, p99_us, sync_avg_us;
    double raw_rec_s, raw_mb_s, engine_rec_s, engine_gen_rec_s;
    double engine_records;
} bench_result;

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void die(const char *what, int rc) {
    fprintf(stderr, "wal_bench: %s: %s\n", what, strerror(rc < 0 ? -rc : rc));
    exit(1);
}

static void dir_make(const bench_cfg *c, char *out, size_t n) {
    snprintf(out, n, "%s/walbench-XXXXXX", c->dir_base);
    if (mkdir(c->dir_base, 0755) != 0 && errno != EEXIST) die(c->dir_base, errno);
    if (mkdtemp(out) == NULL) die("mkdtemp", errno);
}

static void dir_remove(const char *dir) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "wal_bench: could not remove %s\n", dir);
}

static void options(const bench_cfg *c, inv_persist_options *o) {
    inv_persist_options_default(o);
    o->sync_method = c->sync;
    o->prealloc = c->prealloc;
    o->segment_bytes = (uint64_t)c->segment_mb << 20;
    o->batch_interval_us = c->batch_interval_us;
    o->snapshot_bytes = 0;
    o->snapshot_interval_ms = 0;
}

/* ====================================================================================
 * Commit phase
 * ==================================================================================== */

typedef struct commit_thread {
    const bench_cfg *cfg;
    inv_wal *w;
    uint64_t *lat_ns;
    uint64_t lat_n;
    uint64_t records;
    uint64_t elapsed_ns;
} commit_thread;

typedef struct pass_mark {
    uint64_t lsn, t_ns;
} pass_mark;

/* Records to append this pass: per_pass, or what the rate allows by now. */
static uint32_t commit_quota(const bench_cfg *c, uint64_t t0, uint64_t now, uint64_t done) {
    if (c->rate == 0) return c->per_pass;
    uint64_t due = (uint64_t)((double)(now - t0) * 1e-9 * (double)c->rate);
    uint64_t n = due > done ? due - done : 0;
    return n > c->per_pass ? c->per_pass : (uint32_t)n;
}

static void *commit_main(void *arg) {
    commit_thread *t = arg;
    const bench_cfg *c = t->cfg;
    unsigned char body[BENCH_BODY_MAX];
    for (uint32_t i = 0; i < c->body; i++) body[i] = (unsigned char)(i * 31u + 7u);
    pass_mark *ring = calloc(BENCH_PASSES_MAX, sizeof *ring);
    uint64_t head = 0, tail = 0;
    uint64_t t0 = now_ns(), end = t0 + (uint64_t)(c->seconds * 1e9), now = t0;
    while (now < end) {
        uint32_t n = commit_quota(c, t0, now, t->records);
        uint64_t lsn = 0;
        for (uint32_t i = 0; i < n; i++) lsn = inv_wal_append(t->w, INV_REC_STOCK_DELTA, body, c->body);
        t->records += n;
        if (n > 0 && tail - head < BENCH_PASSES_MAX) ring[tail++ % BENCH_PASSES_MAX] = (pass_mark){lsn, now};
        inv_wal_flush(t->w);
        uint64_t durable = inv_wal_durable_lsn(t->w);
        now = now_ns();
        for (; head < tail && ring[head % BENCH_PASSES_MAX].lsn <= durable; head++)
            if (t->lat_n < BENCH_PASSES_MAX) t->lat_ns[t->lat_n++] = now - ring[head % BENCH_PASSES_MAX].t_ns;
    }
    inv_wal_sync(t->w);
    now = now_ns();
    for (; head < tail; head++)
        if (t->lat_n < BENCH_PASSES_MAX) t->lat_ns[t->lat_n++] = now - ring[head % BENCH_PASSES_MAX].t_ns;
    t->elapsed_ns = now - t0;
    free(ring);
    return NULL;
}

static int u64_cmp(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void commit_collect(const bench_cfg *c, commit_thread *t, inv_wal **w, bench_result *r) {
    uint64_t records = 0, bytes = 0, syncs = 0, n = 0, elapsed = 0, sync_ns = 0;
    for (uint32_t s = 0; s < c->shards; s++) n += t[s].lat_n;
    uint64_t *all = malloc((n + 1) * sizeof *all), k = 0;
    for (uint32_t s = 0; s < c->shards; s++) {
        inv_wal_stats st;
        inv_wal_stats_read(w[s], &st);
        records += st.records;
        bytes += st.bytes;
        syncs += st.syncs;
        sync_ns += st.sync_ns_total;
        if (t[s].elapsed_ns > elapsed) elapsed = t[s].elapsed_ns;
        memcpy(all + k, t[s].lat_ns, t[s].lat_n * sizeof *all);
        k += t[s].lat_n;
    }
    qsort(all, n, sizeof *all, u64_cmp);
    double secs = (double)elapsed * 1e-9;
    r->rec_s = (double)records / secs;
    r->mb_s = (double)bytes / secs / 1e6;
    r->syncs_s = (double)syncs / secs;
    r->rec_per_sync = syncs ? (double)records / (double)syncs : 0;
    r->sync_avg_us = syncs ? (double)sync_ns / (double)syncs / 1e3 : 0;
    r->p50_us = n ? (double)all[n / 2] / 1e3 : 0;
    r->p99_us = n ? (double)all[n * 99 / 100] / 1e3 : 0;
    free(all);
}

static void bench_commit(const bench_cfg *c, bench_result *r) {
    char dir[512];
    dir_make(c, dir, sizeof dir);
    inv_persist_options o;
    options(c, &o);
    inv_wal *w[INV_SHARDS_MAX];
    commit_thread t[INV_SHARDS_MAX];
    pthread_t th[INV_SHARDS_MAX];
    for (uint32_t s = 0; s < c->shards; s++) {
        int rc = inv_wal_open(&w[s], dir, s, c->shards, NULL, &o);
        if (rc < 0) die("inv_wal_open", rc);
        t[s] = (commit_thread){.cfg = c, .w = w[s]};
        t[s].lat_ns = malloc(BENCH_PASSES_MAX * sizeof(uint64_t));
    }
    for (uint32_t s = 0; s < c->shards; s++) pthread_create(&th[s], NULL, commit_main, &t[s]);
    for (uint32_t s = 0; s < c->shards; s++) pthread_join(th[s], NULL);
    commit_collect(c, t, w, r);
    for (uint32_t s = 0; s < c->shards; s++) {
        inv_wal_close(w[s]);
        free(t[s].lat_ns);
    }
    dir_remove(dir);
}

/* ====================================================================================
 * Recovery phase
 * ==================================================================================== */

static int noop_replay(void *ctx, uint32_t shard, inv_rec_type type, const void *body,
                       uint32_t len, char *err, size_t errlen) {
    (void)shard; (void)type; (void)body; (void)err; (void)errlen;
    *(uint64_t *)ctx += len;
    return 0;
}

static void bench_recovery_raw(const bench_cfg *c, bench_result *r) {
    char dir[512];
    dir_make(c, dir, sizeof dir);
    inv_persist_options o;
    options(c, &o);
    o.durability = INV_DURABILITY_ASYNC;
    o.async_flush_ms = 1000;
    inv_wal *w;
    int rc = inv_wal_open(&w, dir, 0, 1, NULL, &o);
    if (rc < 0) die("inv_wal_open", rc);
    unsigned char body[BENCH_BODY_MAX];
    for (uint32_t i = 0; i < c->body; i++) body[i] = (unsigned char)(i * 17u + 3u);
    for (uint64_t i = 0; i < c->records; i++) {
        inv_wal_append(w, INV_REC_STOCK_DELTA, body, c->body);
        if ((i & 1023u) == 1023u) inv_wal_flush(w);
    }
    inv_wal_close(w);
    inv_persist *p;
    if ((rc = inv_persist_open(&p, dir, 1, &o)) < 0) die("inv_persist_open", rc);
    uint64_t bytes = 0, t0 = now_ns();
    char err[512];
    inv_recovery_report rep;
    rc = inv_persist_recover_with(p, noop_replay, &bytes, &rep, err, sizeof err);
    double secs = (double)(now_ns() - t0) * 1e-9;
    if (rc < 0) { fprintf(stderr, "wal_bench: %s\n", err); exit(1); }
    r->raw_rec_s = (double)rep.wal_records / secs;
    r->raw_mb_s = (double)rep.shards[0].bytes / secs / 1e6;
    inv_persist_close(p);
    dir_remove(dir);
}

/* Catalog: a few warehouses holding every SKU, with plenty of stock. */
static void engine_catalog(inv_engine *e) {
    char node[16], sku[16];
    for (uint32_t n = 0; n < BENCH_ENGINE_NODES; n++) {
        snprintf(node, sizeof node, "WH-%u", n);
        inv_op op = {.type = INV_OP_UPSERT_NODE};
        op.in.node = (inv_node_spec){.node_id = node, .kind = INV_NODE_WAREHOUSE,
                                     .lat = 31.0 + n * 0.1, .lon = 121.0, .ships = true};
        inv_engine_execute(e, &op);
        for (uint32_t k = 0; k < BENCH_ENGINE_SKUS; k++) {
            snprintf(sku, sizeof sku, "SKU-%u", k);
            inv_op a = {.type = INV_OP_ADJUST};
            a.in.adjust = (inv_adjust_args){.node_id = node, .sku = sku, .delta = 900000000};
            inv_engine_execute(e, &a);
        }
    }
    inv_engine_catalog_publish(e);
}

/* Reserve + commit pairs until about `records` records are logged. */
static void engine_generate(inv_engine *e, inv_persist *p, uint64_t records) {
    char order[32], sku[16];
    inv_line line = {.sku = sku, .qty = 1};
    inv_wal_stats st;
    for (uint64_t i = 0;; i++) {
        if ((i & 1023u) == 0) {
            inv_persist_stats_read(p, &st);
            if (st.last_lsn >= records) break;
            inv_persist_pump(p);
        }
        snprintf(order, sizeof order, "o%" PRIu64, i);
        snprintf(sku, sizeof sku, "SKU-%" PRIu64, i % BENCH_ENGINE_SKUS);
        inv_op op = {.type = INV_OP_RESERVE};
        op.in.reserve = (inv_reserve_args){.order_id = order, .customer_id = "c", .lines = &line,
                                           .line_count = 1, .ttl_ms = 3600000,
                                           .dest = {.has_point = true, .lat = 31.2, .lon = 121.4}};
        inv_engine_execute(e, &op);
        inv_op cm = {.type = INV_OP_COMMIT};
        cm.in.order.order_id = order;
        inv_engine_execute(e, &cm);
    }
}

static inv_engine *engine_open(inv_persist *p) {
    inv_engine_config cfg;
    inv_engine_config_default(&cfg);
    cfg.shards = 2;
    cfg.journal = inv_persist_journal(p);
    inv_engine *e;
    int rc = inv_engine_open(&e, &cfg);
    if (rc < 0) die("inv_engine_open", rc);
    return e;
}

static void bench_recovery_engine(const bench_cfg *c, bench_result *r) {
    char dir[512], err[512];
    dir_make(c, dir, sizeof dir);
    inv_persist_options o;
    options(c, &o);
    o.durability = INV_DURABILITY_ASYNC;
    inv_persist *p;
    int rc = inv_persist_open(&p, dir, 2, &o);
    if (rc < 0) die("inv_persist_open", rc);
    inv_engine *e = engine_open(p);
    if ((rc = inv_persist_recover(p, e, NULL, err, sizeof err)) < 0) die(err, rc);
    engine_catalog(e);
    uint64_t t0 = now_ns();
    engine_generate(e, p, c->records);
    inv_persist_sync(p);
    inv_wal_stats st;
    inv_persist_stats_read(p, &st);
    r->engine_gen_rec_s = (double)st.records / ((double)(now_ns() - t0) * 1e-9);
    inv_persist_close(p);
    inv_engine_close(e);
    if ((rc = inv_persist_open(&p, dir, 2, &o)) < 0) die("inv_persist_open", rc);
    e = engine_open(p);
    inv_recovery_report rep;
    t0 = now_ns();
    if ((rc = inv_persist_recover(p, e, &rep, err, sizeof err)) < 0) die(err, rc);
    r->engine_rec_s = (double)rep.wal_records / ((double)(now_ns() - t0) * 1e-9);
    r->engine_records = (double)rep.wal_records;
    inv_persist_close(p);
    inv_engine_close(e);
    dir_remove(dir);
}

/* ====================================================================================
 * Driver
 * ==================================================================================== */

static double median(double *v, uint32_t n) {
    for (uint32_t i = 1; i < n; i++)
        for (uint32_t j = i; j > 0 && v[j - 1] > v[j]; j--) {
            double x = v[j];
            v[j] = v[j - 1];
            v[j - 1] = x;
        }
    return n ? v[n / 2] : 0;
}

/* Median over the runs of one double field of bench_result. */
static double median_of(const bench_result *runs, uint32_t n, size_t offset) {
    double v[BENCH_RUNS_MAX];
    for (uint32_t i = 0; i < n; i++) memcpy(&v[i], (const char *)&runs[i] + offset, sizeof v[i]);
    return median(v, n);
}
#define MED(field) median_of(runs, c->runs, offsetof(bench_result, field))

static void report(const bench_cfg *c, bench_result *runs) {
    const char *sync = c->sync == INV_WAL_SYNC_DSYNC       ? "dsync"
                       : c->sync == INV_WAL_SYNC_FDATASYNC ? "fdatasync"
                                                           : "default";
    const char *pre = c->prealloc == INV_WAL_PREALLOC_FALLOCATE ? "fallocate"
                      : c->prealloc == INV_WAL_PREALLOC_ZERO    ? "zero"
                                                                : "default";
    if (c->json) {
        printf("{\"bench\":\"wal\",\"runs\":%u,\"shards\":%u,\"body_bytes\":%u,\"per_pass\":%u,"
               "\"rate_per_shard\":%" PRIu64 ",\"sync\":\"%s\",\"prealloc\":\"%s\","
               "\"commit\":{\"records_per_s\":%.0f,\"mb_per_s\":%.1f,\"fdatasyncs_per_s\":%.0f,"
               "\"records_per_fdatasync\":%.1f,\"fdatasync_us_avg\":%.0f,\"latency_us_p50\":%.0f,"
               "\"latency_us_p99\":%.0f},"
               "\"recovery\":{\"records\":%" PRIu64 ",\"raw_records_per_s\":%.0f,"
               "\"raw_mb_per_s\":%.0f,\"engine_records\":%.0f,\"engine_records_per_s\":%.0f,"
               "\"engine_logging_records_per_s\":%.0f}}\n",
               c->runs, c->shards, c->body, c->per_pass, c->rate, sync, pre, MED(rec_s),
               MED(mb_s), MED(syncs_s), MED(rec_per_sync), MED(sync_avg_us), MED(p50_us),
               MED(p99_us), c->records,
               MED(raw_rec_s), MED(raw_mb_s), MED(engine_records), MED(engine_rec_s),
               MED(engine_gen_rec_s));
        return;
    }
    printf("wal_bench: %u shards, %u-byte bodies, %u records per pass, rate %" PRIu64
           "/shard (0 = max), %s, %s preallocation; medians of %u runs\n", c->shards, c->body,
           c->per_pass, c->rate, sync, pre, c->runs);
    printf("  commit:   %.0f records/s, %.1f MB/s, %.0f fdatasyncs/s (%.0f us each), "
           "%.1f records/fdatasync, latency p50 %.0f us, p99 %.0f us\n", MED(rec_s), MED(mb_s),
           MED(syncs_s), MED(sync_avg_us), MED(rec_per_sync), MED(p50_us), MED(p99_us));
    printf("  recovery: %" PRIu64 " records: persist alone %.0f records/s (%.0f MB/s)\n",
           c->records, MED(raw_rec_s), MED(raw_mb_s));
    if (!c->no_engine)
        printf("            engine: %.0f records replayed at %.0f records/s "
               "(logged at %.0f records/s in direct mode)\n", MED(engine_records),
               MED(engine_rec_s), MED(engine_gen_rec_s));
}

static int parse(int argc, char **argv, bench_cfg *c) {
    *c = (bench_cfg){.runs = 3, .shards = 2, .body = 100, .per_pass = 64, .segment_mb = 64,
                     .seconds = 3, .records = 2000000, .sync = INV_WAL_SYNC_DEFAULT,
                     .prealloc = INV_WAL_PREALLOC_DEFAULT, .dir_base = "/tmp"};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--json") == 0) { c->json = true; continue; }
        if (strcmp(a, "--no-engine") == 0) { c->no_engine = true; continue; }
        if (v == NULL) return -1;
        i++;
        if (strcmp(a, "--runs") == 0) c->runs = (uint32_t)atoi(v);
        else if (strcmp(a, "--shards") == 0) c->shards = (uint32_t)atoi(v);
        else if (strcmp(a, "--seconds") == 0) c->seconds = atof(v);
        else if (strcmp(a, "--body") == 0) c->body = (uint32_t)atoi(v);
        else if (strcmp(a, "--per-pass") == 0) c->per_pass = (uint32_t)atoi(v);
        else if (strcmp(a, "--rate") == 0) c->rate = strtoull(v, NULL, 10);
        else if (strcmp(a, "--records") == 0) c->records = strtoull(v, NULL, 10);
        else if (strcmp(a, "--segment-mb") == 0) c->segment_mb = (uint32_t)atoi(v);
        else if (strcmp(a, "--batch-interval-us") == 0) c->batch_interval_us = (uint32_t)atoi(v);
        else if (strcmp(a, "--dir") == 0) c->dir_base = v;
        else if (strcmp(a, "--sync") == 0) c->sync = strcmp(v, "dsync") == 0 ? INV_WAL_SYNC_DSYNC : INV_WAL_SYNC_FDATASYNC;
        else if (strcmp(a, "--prealloc") == 0) c->prealloc = strcmp(v, "fallocate") == 0 ? INV_WAL_PREALLOC_FALLOCATE : INV_WAL_PREALLOC_ZERO;
        else return -1;
    }
    bool ok = c->runs >= 1 && c->runs <= BENCH_RUNS_MAX && c->shards >= 1 &&
              c->shards <= INV_SHARDS_MAX && c->body <= BENCH_BODY_MAX && c->per_pass >= 1 &&
              c->seconds > 0 && c->records >= 1;
    return ok ? 0 : -1;
}

int main(int argc, char **argv) {
    bench_cfg c;
    if (parse(argc, argv, &c) < 0) {
        fprintf(stderr, "usage: wal_bench [--json] [--runs N] [--shards N] [--seconds S] "
                        "[--body BYTES] [--per-pass N] [--rate N] [--records N] "
                        "[--sync fdatasync|dsync] [--prealloc zero|fallocate] "
                        "[--segment-mb N] [--batch-interval-us US] [--dir DIR] "
                        "[--no-engine]\n");
        return 2;
    }
    static bench_result runs[BENCH_RUNS_MAX];
    for (uint32_t i = 0; i < c.runs; i++) {
        bench_commit(&c, &runs[i]);
        bench_recovery_raw(&c, &runs[i]);
        if (!c.no_engine) bench_recovery_engine(&c, &runs[i]);
    }
    report(&c, runs);
    return 0;
}
