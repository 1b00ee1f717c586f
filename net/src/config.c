/*
 * config.c — invd's options: defaults, ini file (inih), command-line flags, --help.
 *
 * One table lists every option once: its flag name, ini section, type and range, where
 * it lives in inv_server_config, and its help text. The ini parser, the flag parser and
 * the help printer all walk that table, so they cannot disagree. Precedence: defaults,
 * then the file given with --config, then flags (whatever their position).
 */
#include <errno.h>
#include <ini.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "net_int.h"

typedef enum opt_type {
    OPT_STR,
    OPT_U32,
    OPT_I32,
    OPT_U64,
    OPT_BOOL,
    OPT_DURABILITY,
    OPT_LEVEL
} opt_type;

typedef struct opt_def {
    const char *name;    /* flag without "--"; ini key (with '-' or '_') */
    const char *section; /* ini section */
    opt_type type;
    size_t offset;
    size_t size; /* OPT_STR: buffer size */
    int64_t min, max;
    const char *help;
} opt_def;

#define OFF(f) offsetof(inv_server_config, f)
#define STR(f) OPT_STR, OFF(f), sizeof(((inv_server_config *)0)->f), 0, 0
#define NUM(t, f, lo, hi) t, OFF(f), 0, (lo), (hi)

static const opt_def opts[] = {
    {"listen", "server", STR(listen_addr), "address of the RPC port (IPv4/IPv6 literal)"},
    {"port", "server", NUM(OPT_U32, port, 0, 65535), "RPC port; 0 picks a free one"},
    {"admin-listen", "server", STR(admin_addr), "address of the admin HTTP port"},
    {"admin-port", "server", NUM(OPT_I32, admin_port, -1, 65535),
     "admin HTTP port (/metrics, /healthz, /readyz); 0 picks one, -1 disables"},
    {"shards", "server", NUM(OPT_U32, shards, 0, INV_SHARDS_MAX),
     "shard threads; 0 = one per online CPU"},
    {"pin", "server", NUM(OPT_BOOL, pin, 0, 1), "pin shard i to CPU i (true/false)"},
    {"data-dir", "server", STR(data_dir), "directory of the write-ahead log and snapshots"},
    {"durability", "server", NUM(OPT_DURABILITY, durability, 0, 0),
     "fsync: reply after the WAL record is durable; async: reply at once, flush every "
     "async-flush-ms; none: no WAL (a restart loses everything)"},
    {"async-flush-ms", "server", NUM(OPT_U32, async_flush_ms, 1, 10000),
     "async durability: longest time between WAL flushes"},
    {"wal-batch-interval-us", "server", NUM(OPT_U32, wal_batch_interval_us, 0, 100000),
     "fsync durability: a shard's next WAL batch goes out no sooner than this after the "
     "previous one (or once half a buffer waits): fewer, larger group commits for at most "
     "this much more latency; 0: as soon as the previous batch is durable"},
    {"spin-us", "server", NUM(OPT_U32, spin_us, 0, 1000000),
     "after work, a shard keeps polling this long before it sleeps (latency vs idle CPU)"},
    {"snapshot-bytes", "server", NUM(OPT_U64, snapshot_bytes, 0, INT64_MAX),
     "take a snapshot after this many bytes of WAL (0: 1 GiB)"},
    {"snapshot-interval-ms", "server", NUM(OPT_U64, snapshot_interval_ms, 0, INT64_MAX),
     "… or this long after the previous one (0: 1 hour)"},
    {"ready-file", "server", STR(ready_file),
     "write 'port=… admin_port=… pid=…' here once listening (scripts, tests)"},
    {"max-frame-bytes", "limits",
     NUM(OPT_U32, frame_bytes_max, INV_NET_FRAME_BYTES_MIN, INV_NET_FRAME_BYTES_MAX),
     "largest request frame; a bigger length prefix closes the connection"},
    {"max-connections", "limits", NUM(OPT_U32, connections_max, 1, INV_NET_CONNECTIONS_MAX),
     "open client connections (all shards); more are refused with RESOURCE_EXHAUSTED"},
    {"conn-inflight", "limits", NUM(OPT_U32, conn_inflight_max, 1, INV_NET_CONN_INFLIGHT_MAX),
     "requests in flight per connection before it stops being read (pipelining depth)"},
    {"slots-per-shard", "limits",
     NUM(OPT_U32, slots_per_shard, INV_NET_SLOTS_MIN, INV_NET_SLOTS_MAX),
     "requests in flight per shard (each slot ~16 KiB, allocated at start)"},
    {"out-bytes", "limits",
     NUM(OPT_U32, out_bytes_max, INV_NET_OUT_BYTES_MIN, INV_NET_OUT_BYTES_MAX),
     "unsent replies per connection before it stops being read (backpressure)"},
    {"idle-timeout-ms", "limits", NUM(OPT_U32, idle_timeout_ms, 100, INV_NET_TIMEOUT_MS_MAX),
     "close a connection with nothing in flight and no input for this long"},
    {"frame-timeout-ms", "limits", NUM(OPT_U32, frame_timeout_ms, 100, INV_NET_TIMEOUT_MS_MAX),
     "close a connection whose started frame is not complete within this (slow senders)"},
    {"write-timeout-ms", "limits", NUM(OPT_U32, write_timeout_ms, 100, INV_NET_TIMEOUT_MS_MAX),
     "close a connection that does not read its replies for this long"},
    {"drain-timeout-ms", "limits", NUM(OPT_U32, drain_timeout_ms, 0, INV_NET_TIMEOUT_MS_MAX),
     "on SIGTERM/SIGINT, time allowed for in-flight requests and unsent replies"},
    {"nodes-max", "engine", NUM(OPT_U32, nodes_max, 0, 1u << 29),
     "fulfillment nodes (0: engine default)"},
    {"skus-max", "engine", NUM(OPT_U32, skus_max, 0, 1u << 29),
     "distinct SKUs (0: engine default)"},
    {"cells-max", "engine", NUM(OPT_U32, cells_max, 0, 1u << 29),
     "(sku, node) stock cells (0: default)"},
    {"reservations-per-shard", "engine", NUM(OPT_U32, reservations_per_shard_max, 0, INV_RESERVATIONS_PER_SHARD_MAX),
     "live reservations per shard (0: default)"},
    {"tombstones-per-shard", "engine", NUM(OPT_U32, tombstones_per_shard_max, 0, INV_WINDOW_ENTRIES_PER_SHARD_MAX),
     "finished reservations remembered per shard (0: default)"},
    {"refs-per-shard", "engine", NUM(OPT_U32, refs_per_shard_max, 0, INV_WINDOW_ENTRIES_PER_SHARD_MAX),
     "Adjust/Return ref_ids remembered per shard (0: default)"},
    {"limit-counters", "engine", NUM(OPT_U32, limit_counters_max, 0, 1u << 28),
     "(customer, SKU) purchase-limit counters (0: default)"},
    {"idempotency-window-ms", "engine", NUM(OPT_U64, idempotency_window_ms, 0, INT64_MAX),
     "how long finished orders and ref_ids answer retries (0: 1 h)"},
    {"prefault", "engine", NUM(OPT_BOOL, prefault, 0, 1),
     "map every engine table at start: RSS is the configured size at once, and no page "
     "fault lands mid-sale (true/false)"},
    {"log-level", "log", NUM(OPT_LEVEL, log_level, 0, 0), "debug, info, warn or error"},
};
#define OPT_COUNT (sizeof opts / sizeof opts[0])

const char *inv_durability_name(inv_durability_mode m) {
    switch (m) {
    case INV_SERVER_FSYNC: return "fsync";
    case INV_SERVER_ASYNC: return "async";
    case INV_SERVER_NO_WAL: return "none";
    default: return "unknown";
    }
}

void inv_server_config_default(inv_server_config *c) {
    assert(c != NULL);
    memset(c, 0, sizeof *c);
    snprintf(c->listen_addr, sizeof c->listen_addr, "127.0.0.1");
    c->port = 7400;
    snprintf(c->admin_addr, sizeof c->admin_addr, "127.0.0.1");
    c->admin_port = 7401;
    c->pin = true;
    c->prefault = true;
    snprintf(c->data_dir, sizeof c->data_dir, "./invd-data");
    c->durability = INV_SERVER_FSYNC;
    c->async_flush_ms = 10;
    c->frame_bytes_max = INV_NET_FRAME_BYTES_DEFAULT;
    c->connections_max = INV_NET_CONNECTIONS_DEFAULT;
    c->conn_inflight_max = INV_NET_CONN_INFLIGHT_DEFAULT;
    c->slots_per_shard = INV_NET_SLOTS_DEFAULT;
    c->out_bytes_max = INV_NET_OUT_BYTES_DEFAULT;
    c->idle_timeout_ms = INV_NET_IDLE_TIMEOUT_MS_DEFAULT;
    c->frame_timeout_ms = INV_NET_FRAME_TIMEOUT_MS_DEFAULT;
    c->write_timeout_ms = INV_NET_WRITE_TIMEOUT_MS_DEFAULT;
    c->drain_timeout_ms = INV_NET_DRAIN_TIMEOUT_MS_DEFAULT;
    c->spin_us = INV_NET_SPIN_US_DEFAULT;
    c->log_level = INV_LOG_INFO;
}

/* ====================================================================================
 * Setting one option from text
 * ==================================================================================== */

static bool name_matches(const char *def, const char *given) {
    for (; *def != '\0' && *given != '\0'; def++, given++) {
        char g = *given == '_' ? '-' : *given;
        if (*def != g) return false;
    }
    return *def == '\0' && *given == '\0';
}

static const opt_def *opt_find(const char *name) {
    for (size_t i = 0; i < OPT_COUNT; i++)
        if (name_matches(opts[i].name, name)) return &opts[i];
    return NULL;
}

static int parse_enum(const opt_def *o, const char *v, int *out) {
    static const char *const dur[] = {"", "fsync", "async", "none"};
    static const char *const lvl[] = {"debug", "info", "warn", "error"};
    const char *const *names = o->type == OPT_DURABILITY ? dur : lvl;
    int first = o->type == OPT_DURABILITY ? 1 : 0;
    for (int i = first; i < 4; i++) {
        if (strcasecmp(v, names[i]) == 0) {
            *out = i;
            return 0;
        }
    }
    return -1;
}

static int opt_set(inv_server_config *c, const opt_def *o, const char *v, char *err,
                   size_t errlen) {
    char *base = (char *)c + o->offset;
    if (o->type == OPT_STR) {
        if (strlen(v) >= o->size) return snprintf(err, errlen, "%s: value too long", o->name), -1;
        memcpy(base, v, strlen(v) + 1);
        return 0;
    }
    if (o->type == OPT_DURABILITY || o->type == OPT_LEVEL) {
        int e = 0;
        if (parse_enum(o, v, &e) != 0)
            return snprintf(err, errlen, "%s: bad value '%s'", o->name, v), -1;
        if (o->type == OPT_DURABILITY) c->durability = (inv_durability_mode)e;
        else c->log_level = (inv_log_level)e;
        return 0;
    }
    if (o->type == OPT_BOOL) {
        bool yes = strcasecmp(v, "true") == 0 || strcasecmp(v, "yes") == 0 || strcmp(v, "1") == 0;
        bool no = strcasecmp(v, "false") == 0 || strcasecmp(v, "no") == 0 || strcmp(v, "0") == 0;
        if (!yes && !no) return snprintf(err, errlen, "%s: expected true or false", o->name), -1;
        *(bool *)base = yes;
        return 0;
    }
    char *end = NULL;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno != 0 || end == v || *end != '\0' || x < o->min || x > o->max)
        return snprintf(err, errlen, "%s: '%s' is not a number in %lld..%lld", o->name, v,
                        (long long)o->min, (long long)o->max),
               -1;
    if (o->type == OPT_U32) *(uint32_t *)base = (uint32_t)x;
    else if (o->type == OPT_I32) *(int32_t *)base = (int32_t)x;
    else *(uint64_t *)base = (uint64_t)x;
    return 0;
}

/* ====================================================================================
 * Ini file
 * ==================================================================================== */

typedef struct ini_ctx {
    inv_server_config *c;
    char *err;
    size_t errlen;
    const char *path;
    int failed;
} ini_ctx;

static int config_ini_line(void *user, const char *section, const char *name, const char *value) {
    ini_ctx *x = user;
    const opt_def *o = opt_find(name);
    char why[160];
    if (o == NULL || (section[0] != '\0' && strcmp(section, o->section) != 0)) {
        snprintf(x->err, x->errlen, "%s: unknown key '%s' in section [%s]", x->path, name, section);
        x->failed = 1;
        return 0;
    }
    if (opt_set(x->c, o, value, why, sizeof why) != 0) {
        snprintf(x->err, x->errlen, "%s: [%s] %s", x->path, section, why);
        x->failed = 1;
        return 0;
    }
    return 1;
}

int inv_server_config_load(inv_server_config *c, const char *path, char *err, size_t errlen) {
    assert(c != NULL && path != NULL);
    ini_ctx x = {c, err, errlen, path, 0};
    int rc = ini_parse(path, config_ini_line, &x);
    if (rc == -1) return snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno)), -1;
    if (rc != 0 && x.failed) {
        size_t n = strlen(err);
        snprintf(err + n, errlen - n, " (line %d)", rc);
        return -1;
    }
    if (rc != 0) return snprintf(err, errlen, "%s: syntax error on line %d", path, rc), -1;
    return 0;
}

/* ====================================================================================
 * Flags
 * ==================================================================================== */

/* Split "--name=value" / "--name value"; *consumed = argv entries used. */
static int flag_value(int argc, char **argv, int i, char *name, size_t cap, const char **value,
                      int *consumed) {
    const char *a = argv[i] + 2;
    const char *eq = strchr(a, '=');
    size_t len = eq != NULL ? (size_t)(eq - a) : strlen(a);
    if (len >= cap) return -1;
    memcpy(name, a, len);
    name[len] = '\0';
    *consumed = 1;
    *value = NULL;
    if (eq != NULL) {
        *value = eq + 1;
    } else if (i + 1 < argc) {
        *value = argv[i + 1];
        *consumed = 2;
    }
    return 0;
}

static bool bool_literal(const char *v) {
    static const char *const lits[] = {"true", "false", "yes", "no", "1", "0"};
    for (size_t i = 0; v != NULL && i < sizeof lits / sizeof lits[0]; i++)
        if (strcasecmp(v, lits[i]) == 0) return true;
    return false;
}

static int config_file_first(inv_server_config *c, int argc, char **argv, char *err,
                             size_t errlen) {
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            return inv_server_config_load(c, argv[i + 1], err, errlen);
        if (strncmp(argv[i], "--config=", 9) == 0)
            return inv_server_config_load(c, argv[i] + 9, err, errlen);
    }
    return 0;
}

int inv_server_config_args(inv_server_config *c, int argc, char **argv, char *err, size_t errlen) {
    assert(c != NULL && argv != NULL);
    if (config_file_first(c, argc, argv, err, errlen) != 0) return -1;
    for (int i = 1; i < argc;) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            inv_server_config_help(stdout, argv[0]);
            return 1;
        }
        if (strcmp(a, "--version") == 0) {
            printf("invd %s\n", INV_VERSION);
            return 1;
        }
        if (strncmp(a, "--", 2) != 0)
            return snprintf(err, errlen, "unexpected argument '%s'", a), -1;
        char name[64];
        const char *v = NULL;
        int used = 1;
        if (flag_value(argc, argv, i, name, sizeof name, &v, &used) != 0)
            return snprintf(err, errlen, "unknown option '%s'", a), -1;
        if (strcmp(name, "config") == 0) {
            i += used;
            continue;
        }
        const opt_def *o = opt_find(name);
        if (o == NULL && strncmp(name, "no-", 3) == 0 && (o = opt_find(name + 3)) != NULL &&
            o->type == OPT_BOOL && strchr(a, '=') == NULL) {
            *(bool *)((char *)c + o->offset) = false;
            i++;
            continue;
        }
        if (o == NULL) return snprintf(err, errlen, "unknown option '--%s' (see --help)", name), -1;
        if (o->type == OPT_BOOL && strchr(a, '=') == NULL && !bool_literal(v)) {
            *(bool *)((char *)c + o->offset) = true; /* bare --pin */
            i++;
            continue;
        }
        if (v == NULL) return snprintf(err, errlen, "option '--%s' needs a value", name), -1;
        if (opt_set(c, o, v, err, errlen) != 0) return -1;
        i += used;
    }
    return 0;
}

static void opt_default_text(const inv_server_config *d, const opt_def *o, char *buf, size_t cap) {
    const char *base = (const char *)d + o->offset;
    switch (o->type) {
    case OPT_STR: snprintf(buf, cap, "%s", base[0] ? base : "(none)"); break;
    case OPT_U32: snprintf(buf, cap, "%u", *(const uint32_t *)base); break;
    case OPT_I32: snprintf(buf, cap, "%d", *(const int32_t *)base); break;
    case OPT_U64: snprintf(buf, cap, "%llu", (unsigned long long)*(const uint64_t *)base); break;
    case OPT_BOOL: snprintf(buf, cap, "%s", *(const bool *)base ? "true" : "false"); break;
    case OPT_DURABILITY: snprintf(buf, cap, "%s", inv_durability_name(d->durability)); break;
    case OPT_LEVEL: snprintf(buf, cap, "info"); break;
    }
}

void inv_server_config_help(FILE *out, const char *argv0) {
    inv_server_config d;
    inv_server_config_default(&d);
    fprintf(out,
            "usage: %s [--config FILE] [--option VALUE | --option=VALUE]...\n\n"
            "invd: in-memory inventory and order-routing server (protobuf over TCP, "
            "docs/protocol.md).\nOptions also go in an ini file, in the section shown "
            "(e.g. [limits] max-connections = 1000);\nflags override the file.\n\n"
            "  --config FILE                  ini file to read first\n"
            "  --help, --version\n",
            argv0);
    const char *section = "";
    for (size_t i = 0; i < OPT_COUNT; i++) {
        const opt_def *o = &opts[i];
        if (strcmp(section, o->section) != 0) {
            section = o->section;
            fprintf(out, "\n[%s]\n", section);
        }
        char def[96];
        opt_default_text(&d, o, def, sizeof def);
        fprintf(out, "  --%-28s %s\n  %-30s (default: %s)\n", o->name, o->help, "", def);
    }
    fprintf(out, "\nSignals: SIGTERM/SIGINT stop accepting, finish in-flight requests, flush "
                 "the WAL and exit 0.\n");
}

int inv_server_config_check(const inv_server_config *c, char *err, size_t errlen) {
    if (c->conn_inflight_max > c->slots_per_shard)
        return snprintf(err, errlen, "conn-inflight (%u) must not exceed slots-per-shard (%u)",
                        c->conn_inflight_max, c->slots_per_shard),
               -1;
    if (c->durability < INV_SERVER_FSYNC || c->durability > INV_SERVER_NO_WAL)
        return snprintf(err, errlen, "durability must be fsync, async or none"), -1;
    if (c->listen_addr[0] == '\0') return snprintf(err, errlen, "listen address is empty"), -1;
    return 0;
}
