/*
 * inv_server.h — the invd server: configuration, start, stop.
 *
 * A server owns the engine (and, when durability is on, its write-ahead log), N shard
 * threads each running one transport loop (inv_transport.h), and the admin HTTP
 * endpoint. `apps/invd.c` is a thin main around this header; tests and the fuzz target
 * use it with the in-memory transport.
 *
 * Configuration comes from defaults, then an ini file (inih), then command-line flags;
 * one option table (config.c) drives all three and `--help`.
 */
#ifndef INV_SERVER_H
#define INV_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "inv_engine.h"
#include "inv_transport.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum inv_durability_mode {
    INV_SERVER_FSYNC = 1,  /* reply to a mutation only once its WAL record is durable */
    INV_SERVER_ASYNC = 2,  /* reply at once; WAL flushed every async_flush_ms */
    INV_SERVER_NO_WAL = 3, /* no WAL: a restart loses everything (loud warning) */
} inv_durability_mode;

typedef enum inv_log_level {
    INV_LOG_DEBUG = 0,
    INV_LOG_INFO = 1,
    INV_LOG_WARN = 2,
    INV_LOG_ERROR = 3,
} inv_log_level;

#define INV_SERVER_PATH_MAX 512
#define INV_SERVER_ADDR_MAX 64

typedef struct inv_server_config {
    /* Network front. */
    char listen_addr[INV_SERVER_ADDR_MAX];
    uint32_t port; /* 0: ephemeral */
    char admin_addr[INV_SERVER_ADDR_MAX];
    int32_t admin_port; /* 0: ephemeral; -1: no admin HTTP */
    uint32_t shards;    /* 0: one per online CPU */
    bool pin;           /* pin shard i to CPU i mod ncpu */
    /* Durability. */
    char data_dir[INV_SERVER_PATH_MAX];
    inv_durability_mode durability;
    uint32_t async_flush_ms;
    uint32_t wal_batch_interval_us; /* fsync: inv_persist_options.batch_interval_us */
    uint64_t snapshot_bytes;       /* snapshot after this much WAL (0: persist default) */
    uint64_t snapshot_interval_ms; /* … or this long since the last (0: persist default) */
    /* Defences. */
    uint32_t frame_bytes_max;
    uint32_t connections_max;
    uint32_t conn_inflight_max;
    uint32_t slots_per_shard;
    uint32_t out_bytes_max;
    uint32_t idle_timeout_ms;
    uint32_t frame_timeout_ms;
    uint32_t write_timeout_ms;
    uint32_t drain_timeout_ms;
    uint32_t spin_us; /* keep polling this long after the last work */
    /* Engine sizes (0: engine default). */
    uint32_t nodes_max, skus_max, cells_max;
    uint32_t reservations_per_shard_max, tombstones_per_shard_max, refs_per_shard_max;
    uint32_t limit_counters_max;
    uint64_t idempotency_window_ms;
    bool prefault; /* map the engine's tables at start (inv_engine_config.prefault) */
    /* Operations. */
    inv_log_level log_level;
    char ready_file[INV_SERVER_PATH_MAX]; /* "": none; else written once listening */
    const inv_transport_type *transport;  /* NULL: io_uring TCP */
} inv_server_config;

/* Defaults: 127.0.0.1:7400, admin 127.0.0.1:7401, one shard per CPU, ./invd-data,
 * fsync durability when the WAL is built in (else none), limits of
 * inv_net_constants.h. */
void inv_server_config_default(inv_server_config *c);

/* Apply an ini file ([server], [limits], [engine], [log] sections; keys as the long
 * flags without "--" and with '_' for '-').
 * @return 0, or -1 with a message naming file, line and key in err. */
int inv_server_config_load(inv_server_config *c, const char *path, char *err, size_t errlen);

/* Apply command-line flags (argv[1..]); "--config FILE" is loaded first wherever it
 * appears, so flags override the file.
 * @return 0 to run, 1 when --help or --version was printed, -1 on a bad flag (err). */
int inv_server_config_args(inv_server_config *c, int argc, char **argv, char *err, size_t errlen);

/* Print every option with its default and meaning. */
void inv_server_config_help(FILE *out, const char *argv0);

/* Check ranges and relations. @return 0 or -1 (err). */
int inv_server_config_check(const inv_server_config *c, char *err, size_t errlen);

const char *inv_durability_name(inv_durability_mode m);

typedef struct inv_server inv_server;

/* Open the engine, recover from data_dir, bind every shard's listener and the admin
 * port. Threads do not run yet.
 * @return 0, or a negative errno (message in err). */
int inv_server_open(inv_server **out, const inv_server_config *c, char *err, size_t errlen);

/* Start the shard threads and the admin endpoint; writes ready_file.
 * @return 0 or a negative errno. */
int inv_server_start(inv_server *s);

/* Ask for a graceful stop: no new connections or requests, in-flight work finishes,
 * the WAL is flushed. Async-signal-safe. */
void inv_server_stop(inv_server *s);

/* Wait for the shard threads to finish after inv_server_stop.
 * @return 0 when every shard drained in time, -ETIMEDOUT otherwise, or -EIO when the
 * WAL failed. */
int inv_server_wait(inv_server *s);

void inv_server_close(inv_server *s);

uint16_t inv_server_port(const inv_server *s);
int32_t inv_server_admin_port(const inv_server *s);
inv_engine *inv_server_engine(inv_server *s);
/* The transport instance of a shard (tests drive the mem transport through it). */
inv_transport *inv_server_transport(inv_server *s, uint32_t shard);

/* Run one pass of shard `shard`'s loop on the calling thread (tests, fuzz: a server
 * opened with the mem transport and not started). @return events handled. */
uint32_t inv_server_shard_step(inv_server *s, uint32_t shard, uint32_t timeout_ms);

/* Render the Prometheus text exposition into buf (NUL-terminated).
 * @return bytes written, or the size needed when it did not fit. */
size_t inv_server_metrics_render(inv_server *s, char *buf, size_t cap);

/* Logging: one line per event, "2024-06-18T12:00:00.123Z INFO  message". */
void inv_log(inv_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void inv_log_set_level(inv_log_level level);

#ifdef __cplusplus
}
#endif

#endif /* INV_SERVER_H */
