/*
 * server.c — the server's life: open (engine, recovery, listeners), start (shard
 * threads, admin HTTP, ready file), stop (drain), wait, close.
 *
 * States and the function that makes each transition:
 *   OPENED   inv_server_open: engine open, WAL recovered, every shard's listener bound
 *   RUNNING  inv_server_start: shard threads and admin running, `ready` set
 *   DRAINING inv_server_stop: `stop` set, shards woken; each stops accepting and
 *            reading, finishes its requests, sends its replies (shard_loop.c)
 *   STOPPED  inv_server_wait: threads joined, WAL synced
 *   CLOSED   inv_server_close
 * A failed WAL write or fdatasync never comes back here: persist logs it and exits the
 * process with status 74 (inv_persist.h; DESIGN.md §6: never retry a failed fsync).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net_int.h"

static void shard_free(net_shard *sh) {
    if (sh == NULL) return;
    if (sh->t != NULL) sh->tt->close(sh->t);
    codec_encoder_free(sh->enc);
    conn_tables_close(sh);
    free(sh->events);
    free(sh);
}

static int shard_new(net_server *srv, uint32_t i, char *err, size_t errlen) {
    assert(i < srv->shard_count);
    assert(srv->engine != NULL);
    net_shard *sh = aligned_alloc(NET_CACHE_LINE, (sizeof *sh + NET_CACHE_LINE - 1) &
                                                      ~(size_t)(NET_CACHE_LINE - 1));
    if (sh == NULL) return -ENOMEM;
    memset(sh, 0, sizeof *sh);
    srv->shards[i] = sh;
    sh->srv = srv;
    sh->index = i;
    sh->es = inv_engine_shard(srv->engine, i);
    sh->tt = srv->cfg.transport != NULL ? srv->cfg.transport : &inv_transport_uring;
    sh->enc = codec_encoder_new();
    sh->events = calloc(INV_NET_CQE_BATCH_MAX, sizeof *sh->events);
    if (sh->enc == NULL || sh->events == NULL) return -ENOMEM;
    int rc = conn_tables_open(sh);
    if (rc != 0) return rc;
    inv_transport_config tc = {.listen_addr = srv->cfg.listen_addr,
                               .port = (uint16_t)srv->cfg.port,
                               .conn_cap = sh->conn_cap,
                               .shard = i};
    inv_transport *peer = i > 0 ? srv->shards[0]->t : NULL;
    rc = sh->tt->open(&sh->t, &tc, peer, err, errlen);
    if (rc != 0) return rc;
    sh->now_ns = net_mono_ns();
    sh->now_ms = sh->now_ns / 1000000u;
    NET_METRIC_SET(sh->m.heartbeat_ms, sh->now_ms);
    return 0;
}

static void engine_config_from(const inv_server_config *c, uint32_t shards, inv_engine_config *e) {
    inv_engine_config_default(e);
    e->shards = shards;
    if (c->nodes_max) e->nodes_max = c->nodes_max;
    if (c->skus_max) e->skus_max = c->skus_max;
    if (c->cells_max) e->cells_max = c->cells_max;
    if (c->reservations_per_shard_max)
        e->reservations_per_shard_max = c->reservations_per_shard_max;
    if (c->tombstones_per_shard_max) e->tombstones_per_shard_max = c->tombstones_per_shard_max;
    if (c->refs_per_shard_max) e->refs_per_shard_max = c->refs_per_shard_max;
    if (c->limit_counters_max) e->limit_counters_max = c->limit_counters_max;
    if (c->idempotency_window_ms) e->idempotency_window_ms = c->idempotency_window_ms;
    e->prefault = c->prefault;
}

static uint32_t shards_default(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1) n = 1;
    return n > (long)INV_SHARDS_MAX ? INV_SHARDS_MAX : (uint32_t)n;
}

/* Engine, WAL and recovery. */
static int server_engine_open(net_server *srv, char *err, size_t errlen) {
    inv_engine_config ecfg;
    engine_config_from(&srv->cfg, srv->shard_count, &ecfg);
    int rc = net_wal_open(srv, &ecfg, err, errlen);
    if (rc != 0) return rc;
    rc = inv_engine_open(&srv->engine, &ecfg);
    if (rc != 0) {
        snprintf(err, errlen, "engine: %s (check the [engine] sizes)", strerror(-rc));
        return rc;
    }
    return net_wal_recover(srv, err, errlen);
}

int inv_server_open(inv_server **out, const inv_server_config *c, char *err, size_t errlen) {
    assert(out != NULL && c != NULL);
    *out = NULL;
    if (inv_server_config_check(c, err, errlen) != 0) return -EINVAL;
    net_server *srv = calloc(1, sizeof *srv);
    if (srv == NULL) return -ENOMEM;
    srv->cfg = *c;
    inv_log_set_level(c->log_level);
    srv->start_ms = net_wall_ms();
    srv->shard_count = c->shards != 0 ? c->shards : shards_default();
    srv->admin_port = -1;
    srv->shards = calloc(srv->shard_count, sizeof *srv->shards);
    int rc = srv->shards != NULL ? server_engine_open(srv, err, errlen) : -ENOMEM;
    for (uint32_t i = 0; rc == 0 && i < srv->shard_count; i++) rc = shard_new(srv, i, err, errlen);
    if (rc != 0) {
        if (err[0] == '\0') snprintf(err, errlen, "%s", strerror(-rc));
        inv_server_close(srv);
        return rc;
    }
    srv->port = srv->shards[0]->tt->port(srv->shards[0]->t);
    *out = srv;
    return 0;
}

static int ready_file_write(const net_server *srv) {
    assert(srv->port != 0 || srv->cfg.transport == &inv_transport_mem);
    if (srv->cfg.ready_file[0] == '\0') return 0;
    char tmp[INV_SERVER_PATH_MAX + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", srv->cfg.ready_file);
    FILE *f = fopen(tmp, "w");
    if (f == NULL) return -errno;
    fprintf(f, "port=%u\nadmin_port=%d\npid=%d\nshards=%u\ndurability=%s\n", srv->port,
            srv->admin_port, (int)getpid(), srv->shard_count,
            inv_durability_name(srv->cfg.durability));
    if (fclose(f) != 0) return -errno;
    return rename(tmp, srv->cfg.ready_file) == 0 ? 0 : -errno;
}

int inv_server_start(inv_server *s) {
    assert(s != NULL);
    assert(!s->started);
    pthread_t *th = calloc(s->shard_count, sizeof *th);
    if (th == NULL) return -ENOMEM;
    s->threads = th;
    s->started = true; /* before any thread exists: every thread sees it */
    int rc = 0;
    for (uint32_t i = 0; i < s->shard_count && rc == 0; i++) {
        rc = pthread_create(&th[i], NULL, shard_thread_main, s->shards[i]);
        if (rc == 0) s->threads_started = i + 1;
        else inv_log(INV_LOG_ERROR, "cannot start shard thread %u: %s", i, strerror(rc));
    }
    char err[256] = "";
    if (rc == 0 && (rc = -admin_start(s, err, sizeof err)) != 0) inv_log(INV_LOG_ERROR, "%s", err);
    if (rc != 0) { /* the started shards drain at once; inv_server_wait joins them */
        inv_server_stop(s);
        return -abs(rc);
    }
    atomic_store(&s->ready, 1);
    inv_log(INV_LOG_INFO, "invd listening on %s:%u (admin %s:%d), %u shards, durability=%s",
            s->cfg.listen_addr, s->port, s->cfg.admin_addr, s->admin_port, s->shard_count,
            inv_durability_name(s->cfg.durability));
    rc = ready_file_write(s);
    if (rc != 0)
        inv_log(INV_LOG_WARN, "cannot write ready file %s: %s", s->cfg.ready_file, strerror(-rc));
    return 0;
}

void inv_server_stop(inv_server *s) {
    if (atomic_load(&s->stop) != 0) return;
    /* The deadline is published before the flag that makes shards read it. */
    atomic_store(&s->drain_deadline_ms, net_mono_ns() / 1000000u + s->cfg.drain_timeout_ms);
    if (atomic_exchange(&s->stop, 1) != 0) return;
    atomic_store(&s->ready, 0);
    for (uint32_t i = 0; i < s->shard_count; i++) s->shards[i]->tt->wake(s->shards[i]->t);
}

int inv_server_wait(inv_server *s) {
    assert(s != NULL);
    if (!s->started) return 0;
    pthread_t *th = s->threads;
    for (uint32_t i = 0; i < s->threads_started; i++) pthread_join(th[i], NULL);
    admin_stop(s); /* its thread reads `started` and the shards' metrics */
    s->started = false;
    int rc = net_wal_sync_all(s);
    if (rc != 0) {
        inv_log(INV_LOG_ERROR, "write-ahead log failed: %s", strerror(-rc));
        return -EIO;
    }
    bool drained = atomic_load(&s->drained) == s->shard_count;
    inv_log(INV_LOG_INFO, "stopped%s", drained ? " (drained)" : " (drain timed out)");
    return drained ? 0 : -ETIMEDOUT;
}

void inv_server_close(inv_server *s) {
    if (s == NULL) return;
    if (s->started) {
        inv_server_stop(s);
        inv_server_wait(s);
    }
    for (uint32_t i = 0; s->shards != NULL && i < s->shard_count; i++) shard_free(s->shards[i]);
    free(s->shards);
    free(s->threads);
    inv_engine_close(s->engine);
    net_wal_close(s);
    free(s);
}

uint16_t inv_server_port(const inv_server *s) { return s->port; }
int32_t inv_server_admin_port(const inv_server *s) { return s->admin_port; }
inv_engine *inv_server_engine(inv_server *s) { return s->engine; }

inv_transport *inv_server_transport(inv_server *s, uint32_t shard) {
    assert(shard < s->shard_count);
    return s->shards[shard]->t;
}

uint32_t inv_server_shard_step(inv_server *s, uint32_t shard, uint32_t timeout_ms) {
    assert(!s->started);
    assert(shard < s->shard_count);
    return shard_loop_pass(s->shards[shard], timeout_ms * 1000u);
}
