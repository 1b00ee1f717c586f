/*
 * wal.c — the network front's link to the write-ahead log (persist/, inv_persist.h).
 *
 * At open: inv_persist_open on data_dir, the engine's journal set to persist's, then
 * recovery (newest snapshot + every shard's WAL) before any shard thread runs.
 * While running: each shard thread, once per loop pass, reaps its log's completions
 * (inv_wal_poll: the durable LSN advances) and submits the batch that filled during the
 * pass (inv_wal_flush: group commit; while one batch is in flight the next fills).
 * Durable LSNs are read from any thread (replies wait on another shard's log when their
 * op ran there). At stop, after every shard thread has ended, every log is synced.
 *
 * With durability=none nothing is logged: the server says so loudly at start, in every
 * mutation's reply (Response.durability = NONE) and in /metrics. Durable LSN is then
 * UINT64_MAX (nothing waits) and flushing does nothing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inv_persist.h"
#include "net_int.h"

typedef struct wal_shard {
    _Alignas(NET_CACHE_LINE) inv_wal *w; /* used by the shard's thread only */
    uint64_t durable_seen;               /* last durable LSN that thread saw */
    inv_reply_gate *gate;                /* cross-shard dependencies of its replies */
    /* Durable, and what those records give back applied (inv_shard_credit_durable):
     * replies on any shard wait for this, so a client told "released" finds the units
     * back. Written by the shard's thread, read by every shard. */
    _Atomic uint64_t reply_lsn;
} wal_shard;

struct net_wal {
    inv_persist *p;
    uint32_t shards;
    wal_shard sh[INV_SHARDS_MAX];
};

static void wal_warn_none(void) {
    inv_log(INV_LOG_WARN, "**********************************************************");
    inv_log(INV_LOG_WARN, "durability=none: no write-ahead log; a restart or crash "
                          "loses every reservation and stock change");
    inv_log(INV_LOG_WARN, "**********************************************************");
}

int net_wal_open(net_server *srv, inv_engine_config *ecfg, char *err, size_t errlen) {
    assert(srv != NULL && ecfg != NULL);
    srv->wal = NULL;
    if (srv->cfg.durability == INV_SERVER_NO_WAL) {
        wal_warn_none();
        return 0;
    }
    net_wal *w = aligned_alloc(NET_CACHE_LINE,
                               (sizeof *w + NET_CACHE_LINE - 1) & ~(size_t)(NET_CACHE_LINE - 1));
    if (w == NULL) return -ENOMEM;
    memset(w, 0, sizeof *w);
    w->shards = srv->shard_count;
    inv_persist_options opt;
    inv_persist_options_default(&opt);
    opt.durability =
        srv->cfg.durability == INV_SERVER_ASYNC ? INV_DURABILITY_ASYNC : INV_DURABILITY_FSYNC;
    opt.async_flush_ms = srv->cfg.async_flush_ms;
    opt.batch_interval_us = srv->cfg.wal_batch_interval_us;
    if (srv->cfg.snapshot_bytes != 0) opt.snapshot_bytes = srv->cfg.snapshot_bytes;
    if (srv->cfg.snapshot_interval_ms != 0)
        opt.snapshot_interval_ms = srv->cfg.snapshot_interval_ms;
    int rc = inv_persist_open(&w->p, srv->cfg.data_dir, srv->shard_count, &opt);
    if (rc != 0) {
        snprintf(err, errlen, "data directory %s: %s%s", srv->cfg.data_dir, strerror(-rc),
                 rc == -EBUSY ? " (another invd has it open)" : "");
        free(w);
        return rc;
    }
    ecfg->journal = inv_persist_journal(w->p);
    srv->wal = w;
    if (srv->cfg.durability == INV_SERVER_ASYNC)
        inv_log(INV_LOG_WARN,
                "durability=async: replies leave before their WAL record is "
                "durable; a crash may lose up to %llu ms of acknowledged work",
                (unsigned long long)inv_persist_loss_window_ms(w->p));
    return 0;
}

int net_wal_recover(net_server *srv, char *err, size_t errlen) {
    if (srv->wal == NULL) return 0;
    net_wal *w = srv->wal;
    inv_recovery_report rep;
    int rc = inv_persist_recover(w->p, srv->engine, &rep, err, errlen);
    if (rc != 0) {
        if (rc == -EBADMSG) {
            size_t n = strlen(err);
            snprintf(err + n, errlen - n,
                     " — refusing to start; inspect with `invctl wal-check "
                     "%s`",
                     srv->cfg.data_dir);
        }
        return rc;
    }
    for (uint32_t i = 0; i < w->shards; i++) {
        w->sh[i].w = inv_persist_wal(w->p, i);
        w->sh[i].durable_seen = inv_wal_durable_lsn(w->sh[i].w);
        atomic_store(&w->sh[i].reply_lsn, w->sh[i].durable_seen);
        rc = inv_reply_gate_open(&w->sh[i].gate, w->p, i);
        if (rc != 0) {
            snprintf(err, errlen, "reply gate of shard %u: %s", i, strerror(-rc));
            return rc;
        }
    }
    inv_log(INV_LOG_INFO,
            "recovered %s: snapshot %llu (%llu records), %llu WAL records, "
            "%u reservations expired while down, %.1f ms",
            srv->cfg.data_dir, (unsigned long long)rep.snapshot_seq,
            (unsigned long long)rep.snapshot_records, (unsigned long long)rep.wal_records,
            rep.expired, (double)rep.elapsed_ns / 1e6);
    return 0;
}

void net_wal_close(net_server *srv) {
    if (srv->wal == NULL) return;
    for (uint32_t i = 0; i < srv->wal->shards; i++) inv_reply_gate_close(srv->wal->sh[i].gate);
    inv_persist_close(srv->wal->p);
    free(srv->wal);
    srv->wal = NULL;
}

uint64_t net_wal_durable_lsn(const net_server *srv, uint32_t shard) {
    assert(shard < srv->shard_count);
    if (srv->wal == NULL) return UINT64_MAX;
    return atomic_load_explicit(&srv->wal->sh[shard].reply_lsn, memory_order_acquire);
}

int net_wal_flush(net_server *srv, uint32_t shard) {
    assert(shard < srv->shard_count);
    if (srv->wal == NULL) return 0;
    wal_shard *ws = &srv->wal->sh[shard];
    inv_wal_poll(ws->w);
    inv_wal_flush(ws->w);
    uint64_t d = inv_wal_durable_lsn(ws->w);
    if (d == ws->durable_seen) return 0;
    ws->durable_seen = d;
    inv_shard_credit_durable(inv_engine_shard(srv->engine, shard));
    atomic_store_explicit(&ws->reply_lsn, d, memory_order_release);
    return 1;
}

void net_wal_pass_enter(net_server *srv, uint32_t shard) {
    if (srv->wal != NULL) inv_persist_pass_enter(srv->wal->p, shard);
}

uint64_t net_wal_dep_join(net_server *srv, uint32_t shard) {
    return srv->wal == NULL ? 0 : inv_reply_gate_join(srv->wal->sh[shard].gate);
}

uint64_t net_wal_pass_settle(net_server *srv, uint32_t shard) {
    return srv->wal == NULL ? UINT64_MAX : inv_reply_gate_settle(srv->wal->sh[shard].gate);
}

bool net_wal_busy(const net_server *srv, uint32_t shard) {
    if (srv->wal == NULL) return false;
    const inv_wal *w = srv->wal->sh[shard].w;
    return inv_wal_last_lsn(w) > inv_wal_durable_lsn(w);
}

bool net_wal_snapshot_due(net_server *srv) {
    return srv->wal != NULL && inv_persist_snapshot_due(srv->wal->p);
}

int net_wal_snapshot_start(net_server *srv) {
    if (srv->wal == NULL) return 0;
    int rc = inv_persist_snapshot_start(srv->wal->p, srv->engine);
    if (rc != 0) inv_log(INV_LOG_WARN, "snapshot not started: %s", strerror(-rc));
    else inv_log(INV_LOG_INFO, "snapshot started");
    return rc;
}

void net_wal_snapshot_poll(net_server *srv) {
    if (srv->wal == NULL) return;
    inv_snapshot_state st = inv_persist_snapshot_poll(srv->wal->p);
    if (st == INV_SNAPSHOT_DONE)
        inv_log(INV_LOG_INFO, "snapshot durable; older log segments removed");
    if (st == INV_SNAPSHOT_FAILED) inv_log(INV_LOG_ERROR, "snapshot failed; the log is kept");
}

void net_wal_snapshot_finish(net_server *srv) {
    if (srv->wal == NULL) return;
    inv_snapshot_state st = inv_persist_snapshot_wait(srv->wal->p);
    if (st == INV_SNAPSHOT_DONE) inv_log(INV_LOG_INFO, "snapshot durable (finished while stopping)");
    if (st == INV_SNAPSHOT_FAILED) inv_log(INV_LOG_ERROR, "snapshot failed; the log is kept");
}

int net_wal_sync_all(net_server *srv) {
    if (srv->wal == NULL) return 0;
    return inv_persist_sync(srv->wal->p);
}

size_t net_wal_metrics(const net_server *srv, char *buf, size_t cap) {
    if (srv->wal != NULL) {
        inv_wal_stats st;
        inv_persist_stats_read(srv->wal->p, &st);
        int n = snprintf(
            buf, cap,
            "# HELP invd_wal_enabled Whether a write-ahead log is in use.\n"
            "# TYPE invd_wal_enabled gauge\ninvd_wal_enabled 1\n"
            "# HELP invd_wal_records_total WAL records appended.\n"
            "# TYPE invd_wal_records_total counter\ninvd_wal_records_total %llu\n"
            "# HELP invd_wal_bytes_total WAL bytes appended.\n"
            "# TYPE invd_wal_bytes_total counter\ninvd_wal_bytes_total %llu\n"
            "# HELP invd_wal_batches_total Group-commit batches made durable.\n"
            "# TYPE invd_wal_batches_total counter\ninvd_wal_batches_total %llu\n"
            "# HELP invd_wal_fsync_seconds Batch submit to durable (fdatasync or O_DSYNC write).\n"
            "# TYPE invd_wal_fsync_seconds summary\n"
            "invd_wal_fsync_seconds_sum %.6f\ninvd_wal_fsync_seconds_count %llu\n"
            "# HELP invd_wal_fsync_seconds_max Slowest batch so far.\n"
            "# TYPE invd_wal_fsync_seconds_max gauge\ninvd_wal_fsync_seconds_max %.6f\n"
            "# HELP invd_wal_segments_created_total WAL segment files created.\n"
            "# TYPE invd_wal_segments_created_total counter\n"
            "invd_wal_segments_created_total %llu\n"
            "# HELP invd_wal_append_waits_total Appends that waited for a batch in flight.\n"
            "# TYPE invd_wal_append_waits_total counter\ninvd_wal_append_waits_total %llu\n",
            (unsigned long long)st.records, (unsigned long long)st.bytes,
            (unsigned long long)st.batches, (double)st.sync_ns_total / 1e9,
            (unsigned long long)st.syncs, (double)st.sync_ns_max / 1e9,
            (unsigned long long)st.segments_created, (unsigned long long)st.append_waits);
        return n < 0 ? 0 : (size_t)n;
    }
    int n = snprintf(buf, cap,
                     "# HELP invd_wal_enabled Whether a write-ahead log is in use.\n"
                     "# TYPE invd_wal_enabled gauge\ninvd_wal_enabled 0\n");
    return n < 0 ? 0 : (size_t)n; /* like snprintf: the length it needs */
}
