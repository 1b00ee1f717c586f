/*
 * metrics.c — counters per shard and their Prometheus text exposition.
 *
 * Each shard writes only its own net_metrics (plain load/add/store on relaxed atomics:
 * no locked instruction on the request path); the admin thread sums the shards at
 * scrape time with relaxed loads, so a scrape is a consistent-enough view, never a
 * stall. Latency histograms count per bucket; the renderer makes them cumulative.
 * Engine figures come from inv_engine_stats_read, WAL figures from wal.c.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "net_int.h"

/* Bucket upper bounds in µs; the last bucket is +Inf. */
static const uint32_t lat_bounds_us[NET_LAT_BUCKETS - 1] = {
    10,    25,    50,    100,    250,    500,    1000,    2500,    5000,
    10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000,
};

static const char *const kind_names[NET_KIND_COUNT] = {
    "none",        "reserve",         "commit",
    "release",     "extend",          "get_reservation",
    "adjust",      "return",          "get_availability",
    "upsert_node", "set_node_status", "list_nodes",
    "set_safety",  "set_limit",       "ping",
    "get_stats",   "invalid",
};

static const char *const close_names[NET_CLOSE_REASON_COUNT] = {
    "peer", "error",       "frame_too_large", "slow_sender",
    "idle", "write_stall", "input_overflow",  "shutdown",
};

_Static_assert(NET_KIND_PING == INV_OP_TYPE_COUNT, "metric kinds follow the engine's ops");

void metrics_request_done(net_metrics *m, uint32_t kind, inv_status st, uint64_t lat_ns) {
    assert(kind < NET_KIND_COUNT);
    assert((unsigned)st < INV_STATUS_COUNT);
    uint64_t us = lat_ns / 1000u;
    uint32_t b = 0;
    while (b < NET_LAT_BUCKETS - 1 && us > lat_bounds_us[b]) b++;
    NET_METRIC_ADD(m->requests[kind][st], 1);
    NET_METRIC_ADD(m->lat_buckets[kind][b], 1);
    NET_METRIC_ADD(m->lat_sum_us[kind], us);
}

/* ====================================================================================
 * Text writer
 * ==================================================================================== */

typedef struct out_buf {
    char *p;
    size_t cap, len; /* len may pass cap: then it is the size needed */
} out_buf;

static void out_printf(out_buf *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out_printf(out_buf *o, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    size_t room = o->len < o->cap ? o->cap - o->len : 0;
    int n = vsnprintf(room > 0 ? o->p + o->len : NULL, room, fmt, ap);
    va_end(ap);
    if (n > 0) o->len += (size_t)n;
}

static void out_head(out_buf *o, const char *name, const char *type, const char *help) {
    out_printf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static uint64_t rd(const _Atomic uint64_t *x) {
    return atomic_load_explicit((_Atomic uint64_t *)x, memory_order_relaxed);
}

/* Σ over shards of the counter at byte offset `off` inside net_metrics. */
static uint64_t sum_at(const net_server *srv, size_t off) {
    uint64_t s = 0;
    for (uint32_t i = 0; i < srv->shard_count; i++)
        s += rd((const _Atomic uint64_t *)((const char *)&srv->shards[i]->m + off));
    return s;
}
#define SUM(srv, field) sum_at((srv), offsetof(net_metrics, field))

/* ====================================================================================
 * Sections
 * ==================================================================================== */

static void render_requests(const net_server *srv, out_buf *o) {
    out_head(o, "invd_requests_total", "counter", "Requests answered, by operation and status.");
    for (uint32_t k = 1; k < NET_KIND_COUNT; k++)
        for (uint32_t s = 0; s < INV_STATUS_COUNT; s++) {
            uint64_t v = SUM(srv, requests[k][s]);
            if (v > 0)
                out_printf(o, "invd_requests_total{op=\"%s\",status=\"%s\"} %llu\n", kind_names[k],
                           inv_status_name((inv_status)s), (unsigned long long)v);
        }
    out_head(o, "invd_request_errors_total", "counter",
             "Requests answered with a status other than OK or DUPLICATE_REF, by operation.");
    for (uint32_t k = 1; k < NET_KIND_COUNT; k++) {
        uint64_t v = 0;
        for (uint32_t s = 1; s < INV_STATUS_COUNT; s++)
            if (s != INV_DUPLICATE_REF) v += SUM(srv, requests[k][s]);
        out_printf(o, "invd_request_errors_total{op=\"%s\"} %llu\n", kind_names[k],
                   (unsigned long long)v);
    }
}

static void render_latency(const net_server *srv, out_buf *o) {
    out_head(o, "invd_request_duration_seconds", "histogram",
             "Time from a request's frame being read to its reply being queued for sending "
             "(includes waiting for WAL durability).");
    for (uint32_t k = 1; k < NET_KIND_COUNT; k++) {
        uint64_t cum = 0, b[NET_LAT_BUCKETS];
        for (uint32_t i = 0; i < NET_LAT_BUCKETS; i++) b[i] = SUM(srv, lat_buckets[k][i]);
        for (uint32_t i = 0; i < NET_LAT_BUCKETS; i++) cum += b[i];
        if (cum == 0) continue;
        cum = 0;
        for (uint32_t i = 0; i < NET_LAT_BUCKETS - 1; i++) {
            cum += b[i];
            out_printf(o, "invd_request_duration_seconds_bucket{op=\"%s\",le=\"%g\"} %llu\n",
                       kind_names[k], lat_bounds_us[i] / 1e6, (unsigned long long)cum);
        }
        cum += b[NET_LAT_BUCKETS - 1];
        out_printf(o, "invd_request_duration_seconds_bucket{op=\"%s\",le=\"+Inf\"} %llu\n",
                   kind_names[k], (unsigned long long)cum);
        out_printf(o, "invd_request_duration_seconds_sum{op=\"%s\"} %.6f\n", kind_names[k],
                   (double)SUM(srv, lat_sum_us[k]) / 1e6);
        out_printf(o, "invd_request_duration_seconds_count{op=\"%s\"} %llu\n", kind_names[k],
                   (unsigned long long)cum);
    }
}

static void render_connections(const net_server *srv, out_buf *o) {
    out_head(o, "invd_connections", "gauge", "Open client connections.");
    out_printf(o, "invd_connections %llu\n",
               (unsigned long long)atomic_load(&((net_server *)srv)->conns_open));
    out_head(o, "invd_connections_accepted_total", "counter", "Connections accepted.");
    out_printf(o, "invd_connections_accepted_total %llu\n",
               (unsigned long long)SUM(srv, conns_accepted));
    out_head(o, "invd_connections_rejected_total", "counter",
             "Connections refused (max-connections reached, or stopping).");
    out_printf(o, "invd_connections_rejected_total %llu\n",
               (unsigned long long)SUM(srv, conns_rejected));
    out_head(o, "invd_connections_closed_total", "counter", "Connections closed, by reason.");
    for (uint32_t r = 0; r < NET_CLOSE_REASON_COUNT; r++)
        out_printf(o, "invd_connections_closed_total{reason=\"%s\"} %llu\n", close_names[r],
                   (unsigned long long)SUM(srv, conns_closed[r]));
    out_head(o, "invd_bytes_received_total", "counter", "Bytes read from clients.");
    out_printf(o, "invd_bytes_received_total %llu\n", (unsigned long long)SUM(srv, bytes_in));
    out_head(o, "invd_bytes_sent_total", "counter", "Bytes sent to clients.");
    out_printf(o, "invd_bytes_sent_total %llu\n", (unsigned long long)SUM(srv, bytes_out));
    out_head(o, "invd_backpressure_total", "counter",
             "Times a connection's receive was paused because it was not reading replies or "
             "sent too far ahead.");
    out_printf(o, "invd_backpressure_total %llu\n", (unsigned long long)SUM(srv, backpressure));
    out_head(o, "invd_forward_ring_full_total", "counter",
             "Submissions refused by a full shard-to-shard ring (retried).");
    out_printf(o, "invd_forward_ring_full_total %llu\n",
               (unsigned long long)SUM(srv, busy_retries));
}

static void render_shards(const net_server *srv, out_buf *o) {
    static const struct {
        const char *name, *help;
        size_t off;
    } g[] = {
        {"invd_shard_inflight", "Requests in flight on the shard (slots in use).",
         offsetof(net_metrics, slots_used)},
        {"invd_shard_busy_queue", "Requests waiting for room in a forwarding ring.",
         offsetof(net_metrics, busy_depth)},
        {"invd_shard_durability_wait", "Replies waiting for their WAL record to be durable.",
         offsetof(net_metrics, durable_wait_depth)},
        {"invd_shard_connections", "Connections owned by the shard.",
         offsetof(net_metrics, conns_open)},
        {"invd_shard_loop_passes_total", "Event loop passes.", offsetof(net_metrics, loop_passes)},
    };
    for (size_t k = 0; k < sizeof g / sizeof g[0]; k++) {
        out_head(o, g[k].name, strstr(g[k].name, "_total") ? "counter" : "gauge", g[k].help);
        for (uint32_t i = 0; i < srv->shard_count; i++)
            out_printf(o, "%s{shard=\"%u\"} %llu\n", g[k].name, i,
                       (unsigned long long)rd((
                           const _Atomic uint64_t *)((const char *)&srv->shards[i]->m + g[k].off)));
    }
}

static void render_engine(const net_server *srv, out_buf *o) {
    inv_engine_stats es;
    inv_engine_stats_read(srv->engine, &es);
    const struct {
        const char *name, *type, *help;
        uint64_t v;
    } e[] = {
        {"invd_nodes", "gauge", "Fulfillment nodes in the catalog.", es.nodes},
        {"invd_skus", "gauge", "Distinct SKUs.", es.skus},
        {"invd_stock_cells", "gauge", "(sku, node) stock cells.", es.cells},
        {"invd_reservations_live", "gauge", "HELD reservations.", es.reservations_live},
        {"invd_tombstones", "gauge", "Finished reservations remembered for retries.",
         es.tombstones},
        {"invd_reserves_ok_total", "counter", "Reserves that succeeded.", es.reserves_ok},
        {"invd_reserves_failed_total", "counter", "Reserves refused.", es.reserves_failed},
        {"invd_stockouts_total", "counter",
         "Reserves answered INSUFFICIENT_STOCK by a SKU's sold-out flag.", es.sold_out_fast_path},
        {"invd_commits_total", "counter", "Reservations committed.", es.commits},
        {"invd_releases_total", "counter", "Reservations released.", es.releases},
        {"invd_expirations_total", "counter", "Reservations expired (TTL).", es.expirations},
        {"invd_reservation_bytes", "gauge", "Memory held by live reservations.",
         es.reservation_bytes},
        {"invd_tombstones_dropped_early_total", "counter",
         "Tombstones dropped before the idempotency window ended (table full).",
         es.tombstones_dropped_early},
        {"invd_credits_waiting", "gauge",
         "Give-backs (released units, restocks, limit and capacity counts) waiting for "
         "their WAL record to be durable.",
         es.credits_waiting},
    };
    for (size_t k = 0; k < sizeof e / sizeof e[0]; k++) {
        out_head(o, e[k].name, e[k].type, e[k].help);
        out_printf(o, "%s %llu\n", e[k].name, (unsigned long long)e[k].v);
    }
}

size_t metrics_render(net_server *srv, char *buf, size_t cap) {
    assert(srv != NULL);
    assert(buf != NULL || cap == 0);
    out_buf o = {buf, cap, 0};
    out_head(&o, "invd_up", "gauge", "1 while the server runs.");
    out_printf(&o, "invd_up 1\n");
    out_head(&o, "invd_ready", "gauge", "1 when the server takes writes (see /readyz).");
    out_printf(&o, "invd_ready %u\n", atomic_load(&srv->ready) && !atomic_load(&srv->stop));
    out_head(&o, "invd_uptime_seconds", "gauge", "Seconds since start.");
    out_printf(&o, "invd_uptime_seconds %.3f\n", (double)(net_wall_ms() - srv->start_ms) / 1e3);
    out_head(&o, "invd_shards", "gauge", "Shard threads.");
    out_printf(&o, "invd_shards %u\n", srv->shard_count);
    out_head(&o, "invd_durability_mode", "gauge",
             "Durability of mutation replies: fsync, async (replies before durable) or none.");
    out_printf(&o, "invd_durability_mode{mode=\"%s\"} 1\n",
               inv_durability_name(srv->cfg.durability));
    render_requests(srv, &o);
    render_latency(srv, &o);
    render_connections(srv, &o);
    render_shards(srv, &o);
    render_engine(srv, &o);
    size_t room = o.len < cap ? cap - o.len : 0;
    o.len += net_wal_metrics(srv, room > 0 ? buf + o.len : NULL, room);
    if (o.len < cap) buf[o.len] = '\0';
    else if (cap > 0) buf[cap - 1] = '\0';
    return o.len;
}

size_t inv_server_metrics_render(inv_server *s, char *buf, size_t cap) {
    return metrics_render(s, buf, cap);
}
