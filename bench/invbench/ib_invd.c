/*
 * ib_invd.c — invbench's invd backend: starts (or attaches to) an invd, loads the
 * scenario over libinvclient, and drives it with pipelined requests.
 *
 * Start: `invd --port 0 --admin-port -1 --ready-file W/ready --data-dir W/data
 * --durability D` in the harness's private work dir W, engine tables sized for the
 * scenario and for the live reservations a run at full speed holds until their TTL.
 * The ready file (port=…) is waited for at most IB_INVD_START_MS; the child's stderr goes
 * to W/invd.log, whose tail is quoted when the start fails. Stop: SIGTERM (invd drains),
 * a bounded wait, SIGKILL only when the drain did not end in time.
 *
 * Load: one connection, pipelined IB_INVD_LOAD_WINDOW deep: UpsertNode for every node,
 * Adjust(set_to) for every stock cell (set_to, not delta, so loading an attached server
 * twice gives the same stock), SetSafety where the scenario sets one, SetLimit on the
 * flash SKUs. Any refused request fails the open.
 *
 * Replies name nodes and SKUs by string; two open-addressing hash tables built at open
 * map them back to scenario indices (read-only afterwards, so shared by every
 * connection thread without locks).
 *
 * A Reserve is built from a scenario order by ib_invd_reserve_fill (ib_invd.h), which
 * e2e_bench calls too, so both benchmarks send invd the same requests.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ib_invd.h"

#ifndef INV_INVD_PATH
#define INV_INVD_PATH "invd"
#endif

/* How long invd may take to write its ready file (recovery of an empty log is instant;
 * a loaded box may be slow to start threads). */
#define IB_INVD_START_MS 20000
/* SIGTERM → exit: invd drains in-flight requests first (its drain timeout is shorter). */
#define IB_INVD_STOP_MS 10000
#define IB_INVD_POLL_SLEEP_US 10000
/* Requests in flight while loading: deep enough to hide the round trip. */
#define IB_INVD_LOAD_WINDOW 2048u
#define IB_INVD_LOAD_POLL_MS 10000
/* Replies taken per poll on a benchmark connection. */
#define IB_INVD_POLL_BATCH 256u
/* Live reservations per shard: a run holds its unpaid reserves for their TTL (at the
 * default 3 s TTL and mix, 512 k per shard covers ~350 k reserve/s per shard; the
 * engine's default of 128 k would answer RESOURCE_EXHAUSTED well below that). Tables are
 * allocated at start, so larger ones cost seconds of start-up on every run. */
#define IB_INVD_RESERVATIONS_PER_SHARD "524288"
#define IB_INVD_TOMBSTONES_PER_SHARD "524288"
#define IB_INVD_LIMIT_COUNTERS "4194304"
#define IB_INVD_CONNECT_TIMEOUT_MS 10000
#define IB_INVD_LOG_TAIL_BYTES 1500
#define IB_INVD_DESCRIBE_LEN 256u

_Static_assert(IB_INVD_POLL_BATCH <= 4096u, "reply batch fits on a connection");
_Static_assert(IB_ALLOC_MAX <= INV_CLIENT_ALLOC_MAX, "every allocation entry can be mapped");

/* ====================================================================================
 * Name → scenario index (open addressing, linear probing, FNV-1a)
 * ==================================================================================== */

typedef struct ib_name_map {
    uint32_t mask;
    uint32_t *slot;              /* scenario index + 1; 0 = empty */
    const char *(*name_of)(const inv_scenario *s, uint32_t i);
    const inv_scenario *s;
} ib_name_map;

static uint64_t ib_name_hash(const char *p) {
    uint64_t h = 1469598103934665603ull;
    for (uint32_t k = 0; p[k] != '\0' && k < INV_SCN_NODE_ID_LEN * 2u; k++)
        h = (h ^ (uint8_t)p[k]) * 1099511628211ull;
    return h;
}

static const char *ib_node_name(const inv_scenario *s, uint32_t i) { return s->nodes[i].id; }
static const char *ib_sku_name(const inv_scenario *s, uint32_t i) {
    return inv_scn_sku_name(s, i);
}

static int ib_name_map_build(ib_name_map *m, const inv_scenario *s, uint32_t n,
                             const char *(*name_of)(const inv_scenario *, uint32_t)) {
    uint32_t cap = 16;
    while (cap < n * 2u && cap < (1u << 30)) cap <<= 1;
    m->slot = calloc(cap, sizeof *m->slot);
    if (m->slot == NULL) return -ENOMEM;
    m->mask = cap - 1;
    m->name_of = name_of;
    m->s = s;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t h = (uint32_t)ib_name_hash(name_of(s, i)) & m->mask;
        for (uint32_t probe = 0; probe <= m->mask && m->slot[h] != 0; probe++)
            h = (h + 1) & m->mask;
        m->slot[h] = i + 1;
    }
    return 0;
}

/* @return the scenario index of `name`, or INV_SCN_NONE. */
static uint32_t ib_name_map_find(const ib_name_map *m, const char *name) {
    if (name == NULL) return INV_SCN_NONE;
    uint32_t h = (uint32_t)ib_name_hash(name) & m->mask;
    for (uint32_t probe = 0; probe <= m->mask && m->slot[h] != 0; probe++) {
        uint32_t i = m->slot[h] - 1;
        if (strcmp(m->name_of(m->s, i), name) == 0) return i;
        h = (h + 1) & m->mask;
    }
    return INV_SCN_NONE;
}

/* ====================================================================================
 * Target: the server process and the scenario maps
 * ==================================================================================== */

struct ib_target {
    const inv_scenario *s;
    char host[64];
    uint16_t port;
    pid_t pid;                   /* > 0: started here, stopped in close */
    char work_dir[512];
    char persistence[16];
    uint32_t shards;
    ib_name_map nodes, skus;
    char describe[IB_INVD_DESCRIBE_LEN];
};

struct ib_conn {
    ib_target *t;
    inv_client *c;
    inv_client_reply replies[IB_INVD_POLL_BATCH];
};

static uint64_t ib_invd_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* The last bytes of invd's log, for an error message. */
static void ib_invd_log_tail(const ib_target *t, char *buf, size_t len) {
    char path[600];
    buf[0] = '\0';
    snprintf(path, sizeof path, "%s/invd.log", t->work_dir);
    FILE *f = fopen(path, "r");
    if (f == NULL) return;
    if (fseek(f, 0, SEEK_END) == 0) {
        long size = ftell(f);
        if (size > IB_INVD_LOG_TAIL_BYTES) fseek(f, size - IB_INVD_LOG_TAIL_BYTES, SEEK_SET);
        else fseek(f, 0, SEEK_SET);
    }
    size_t n = fread(buf, 1, len - 1, f);
    buf[n] = '\0';
    fclose(f);
}

static const char *ib_invd_durability_flag(const char *persistence) {
    if (persistence == NULL || strcmp(persistence, "fsync") == 0) return "fsync";
    if (strcmp(persistence, "async") == 0) return "async";
    if (strcmp(persistence, "none") == 0) return "none";
    return NULL;
}

/* Child side of the start: stdout/stderr to the log, then exec. Never returns. */
static void ib_invd_exec(const char *path, char *const *argv, const char *log_path) {
    int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0) {
        dup2(fd, STDOUT_FILENO);
        dup2(fd, STDERR_FILENO);
    }
    /* A fresh process group: the terminal's Ctrl-C reaches invbench, which stops invd
     * itself after printing the report. */
    setpgid(0, 0);
    execv(path, argv);
    dprintf(STDERR_FILENO, "exec %s: %s\n", path, strerror(errno));
    _exit(127);
}

/* Read port= from the ready file. @return 1 ready, 0 not yet, -errno. */
static int ib_invd_ready(ib_target *t, const char *ready_path) {
    FILE *f = fopen(ready_path, "r");
    if (f == NULL) return errno == ENOENT ? 0 : -errno;
    char line[128];
    int got = 0;
    for (int i = 0; i < 16 && fgets(line, sizeof line, f) != NULL; i++) {
        unsigned port = 0;
        if (sscanf(line, "port=%u", &port) == 1 && port > 0 && port <= 65535) {
            t->port = (uint16_t)port;
            got = 1;
        }
        unsigned shards = 0;
        if (sscanf(line, "shards=%u", &shards) == 1) t->shards = shards;
    }
    fclose(f);
    return got;
}

static int ib_invd_wait_ready(ib_target *t, const char *ready_path, char *err, size_t err_len) {
    uint64_t deadline = ib_invd_now_ms() + IB_INVD_START_MS;
    while (ib_invd_now_ms() < deadline) {
        int rc = ib_invd_ready(t, ready_path);
        if (rc != 0) return rc < 0 ? rc : 0;
        int status = 0;
        if (waitpid(t->pid, &status, WNOHANG) == t->pid) {
            t->pid = 0;
            char tail[IB_INVD_LOG_TAIL_BYTES + 1];
            ib_invd_log_tail(t, tail, sizeof tail);
            snprintf(err, err_len, "invd exited at start (%s %d): %s",
                     WIFEXITED(status) ? "exit status" : "signal",
                     WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), tail);
            return -ECHILD;
        }
        usleep(IB_INVD_POLL_SLEEP_US);
    }
    snprintf(err, err_len, "invd wrote no ready file within %d ms", IB_INVD_START_MS);
    return -ETIMEDOUT;
}

static int ib_invd_start(ib_target *t, const ib_target_config *cfg, char *err, size_t err_len) {
    const char *durability = ib_invd_durability_flag(cfg->persistence);
    if (durability == NULL) {
        snprintf(err, err_len, "invd persistence must be fsync, async or none, not %s",
                 cfg->persistence);
        return -EINVAL;
    }
    char data[600], ready[600], log_path[600], shards[16], nodes[16], skus[16], cells[16];
    snprintf(data, sizeof data, "%s/data", t->work_dir);
    snprintf(ready, sizeof ready, "%s/ready", t->work_dir);
    snprintf(log_path, sizeof log_path, "%s/invd.log", t->work_dir);
    snprintf(shards, sizeof shards, "%u", cfg->shards);
    inv_engine_config ec;
    memset(&ec, 0, sizeof ec);
    inv_scenario_engine_config(cfg->scenario, &ec);
    snprintf(nodes, sizeof nodes, "%u", ec.nodes_max);
    snprintf(skus, sizeof skus, "%u", ec.skus_max);
    snprintf(cells, sizeof cells, "%u", ec.cells_max);
    const char *path = cfg->server_path != NULL ? cfg->server_path : INV_INVD_PATH;
    char *const argv[] = {(char *)path, "--port", "0", "--admin-port", "-1",
        "--listen", "127.0.0.1", "--data-dir", data, "--ready-file", ready,
        "--durability", (char *)durability, "--shards", shards, "--nodes-max", nodes,
        "--skus-max", skus, "--cells-max", cells,
        "--reservations-per-shard", IB_INVD_RESERVATIONS_PER_SHARD,
        "--tombstones-per-shard", IB_INVD_TOMBSTONES_PER_SHARD,
        "--limit-counters", IB_INVD_LIMIT_COUNTERS, "--log-level", "warn", NULL};
    snprintf(t->persistence, sizeof t->persistence, "%s", durability);
    unlink(ready);
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, err_len, "fork: %s", strerror(errno));
        return -errno;
    }
    if (pid == 0) ib_invd_exec(path, argv, log_path);
    t->pid = pid;
    snprintf(t->host, sizeof t->host, "127.0.0.1");
    return ib_invd_wait_ready(t, ready, err, err_len);
}

/* Stop the started server: SIGTERM, bounded wait, SIGKILL as the last resort. */
static void ib_invd_stop(ib_target *t) {
    if (t->pid <= 0) return;
    kill(t->pid, SIGTERM);
    uint64_t deadline = ib_invd_now_ms() + IB_INVD_STOP_MS;
    int status = 0;
    while (ib_invd_now_ms() < deadline) {
        pid_t r = waitpid(t->pid, &status, WNOHANG);
        if (r == t->pid || (r < 0 && errno == ECHILD)) {
            t->pid = 0;
            return;
        }
        usleep(IB_INVD_POLL_SLEEP_US);
    }
    fprintf(stderr, "invbench: invd (pid %d) did not stop within %d ms: SIGKILL\n",
            (int)t->pid, IB_INVD_STOP_MS);
    kill(t->pid, SIGKILL);
    waitpid(t->pid, &status, 0);
    t->pid = 0;
}

/* ====================================================================================
 * Loading the scenario
 * ==================================================================================== */

typedef struct ib_loader {
    inv_client *c;
    uint64_t sent, refused;
    char first_refusal[256];
} ib_loader;

static int ib_loader_collect(ib_loader *ld, uint32_t keep_inflight) {
    inv_client_reply r[64];
    for (uint32_t round = 0; round < 1000000u && inv_client_inflight(ld->c) > keep_inflight;
         round++) {
        int n = inv_client_poll(ld->c, r, 64, IB_INVD_LOAD_POLL_MS);
        if (n < 0) return n;
        if (n == 0) return -ETIMEDOUT;
        for (int i = 0; i < n; i++) {
            bool good = r[i].status == INVC_OK || r[i].status == INVC_DUPLICATE_REF;
            if (!good && ld->refused++ == 0)
                snprintf(ld->first_refusal, sizeof ld->first_refusal, "%s: %s",
                         inv_client_status_name(r[i].status), r[i].message);
            inv_client_reply_free(&r[i]);
        }
    }
    return 0;
}

static int ib_loader_submit(ib_loader *ld, const inv_client_request *rq) {
    if (inv_client_inflight(ld->c) >= IB_INVD_LOAD_WINDOW) {
        int rc = ib_loader_collect(ld, IB_INVD_LOAD_WINDOW / 2);
        if (rc != 0) return rc;
    }
    ld->sent++;
    return inv_client_submit(ld->c, rq, NULL, NULL);
}

static int ib_load_nodes(ib_loader *ld, const inv_scenario *s) {
    for (uint32_t i = 0; i < s->node_count; i++) {
        const inv_scn_node *n = &s->nodes[i];
        inv_client_request rq;
        memset(&rq, 0, sizeof rq);
        rq.op = INVC_OP_UPSERT_NODE;
        rq.in.node = (inv_client_node_spec){.node_id = n->id,
            .kind = (int)n->kind, .lat = n->lat, .lon = n->lon,
            .region = s->cities[n->city].region, .ships = n->ships, .pickup = n->pickup,
            .capacity_per_day = n->capacity_per_day, .priority = n->priority,
            .status = INVC_NODE_ACTIVE};
        int rc = ib_loader_submit(ld, &rq);
        if (rc != 0) return rc;
    }
    /* Nodes first: stock rows name them. */
    return ib_loader_collect(ld, 0);
}

static int ib_load_stock(ib_loader *ld, const inv_scenario *s) {
    for (uint32_t i = 0; i < s->cell_count; i++) {
        const inv_scn_cell *cell = &s->cells[i];
        const char *node = s->nodes[cell->node].id, *sku = inv_scn_sku_name(s, cell->sku);
        inv_client_request rq;
        memset(&rq, 0, sizeof rq);
        rq.op = INVC_OP_ADJUST;
        rq.in.adjust = (inv_client_adjust_args){
            .node_id = node, .sku = sku, .has_set_to = true, .set_to = cell->on_hand};
        int rc = ib_loader_submit(ld, &rq);
        if (rc == 0 && cell->safety > 0) {
            memset(&rq, 0, sizeof rq);
            rq.op = INVC_OP_SET_SAFETY;
            rq.in.safety.node_id = node;
            rq.in.safety.sku = sku;
            rq.in.safety.safety = cell->safety;
            rc = ib_loader_submit(ld, &rq);
        }
        if (rc != 0) return rc;
    }
    for (uint32_t k = 0; k < s->flash_count && s->cfg.flash_limit > 0; k++) {
        inv_client_request rq;
        memset(&rq, 0, sizeof rq);
        rq.op = INVC_OP_SET_LIMIT;
        rq.in.limit.sku = inv_scn_sku_name(s, s->flash_first + k);
        rq.in.limit.limit_per_customer = s->cfg.flash_limit;
        int rc = ib_loader_submit(ld, &rq);
        if (rc != 0) return rc;
    }
    return ib_loader_collect(ld, 0);
}

static int ib_invd_load(ib_target *t, bool quiet, char *err, size_t err_len) {
    ib_loader ld = {0};
    inv_client_options opt = {.timeout_ms = IB_INVD_CONNECT_TIMEOUT_MS};
    int rc = inv_client_connect(&ld.c, t->host, t->port, &opt);
    if (rc != 0) {
        snprintf(err, err_len, "connect %s:%u: %s", t->host, t->port, strerror(-rc));
        return rc;
    }
    uint64_t t0 = ib_invd_now_ms();
    rc = ib_load_nodes(&ld, t->s);
    if (rc == 0 && ld.refused == 0) rc = ib_load_stock(&ld, t->s);
    if (rc != 0) snprintf(err, err_len, "loading: %s", inv_client_error(ld.c));
    else if (ld.refused > 0) {
        snprintf(err, err_len, "loading: %" PRIu64 " of %" PRIu64 " requests refused, first: %s",
                 ld.refused, ld.sent, ld.first_refusal);
        rc = -EIO;
    } else if (!quiet) {
        fprintf(stderr, "invbench: invd loaded %u nodes, %u cells in %.2f s\n",
                t->s->node_count, t->s->cell_count, (double)(ib_invd_now_ms() - t0) / 1e3);
    }
    inv_client_close(ld.c);
    return rc;
}

/* ====================================================================================
 * Backend functions
 * ==================================================================================== */

static void ib_invd_close(ib_target *t) {
    if (t == NULL) return;
    ib_invd_stop(t);
    free(t->nodes.slot);
    free(t->skus.slot);
    free(t);
}

static int ib_invd_open(const ib_target_config *cfg, ib_target **out, char *err,
                        size_t err_len) {
    *out = NULL;
    ib_target *t = calloc(1, sizeof *t);
    if (t == NULL) return -ENOMEM;
    t->s = cfg->scenario;
    t->shards = cfg->shards;
    snprintf(t->work_dir, sizeof t->work_dir, "%s", cfg->work_dir != NULL ? cfg->work_dir : ".");
    int rc = ib_name_map_build(&t->nodes, t->s, t->s->node_count, ib_node_name);
    if (rc == 0) rc = ib_name_map_build(&t->skus, t->s, t->s->sku_count, ib_sku_name);
    if (rc != 0) {
        snprintf(err, err_len, "out of memory for the name maps");
        ib_invd_close(t);
        return rc;
    }
    if (cfg->port != 0) {
        snprintf(t->host, sizeof t->host, "%s", cfg->host != NULL ? cfg->host : "127.0.0.1");
        t->port = cfg->port;
        snprintf(t->persistence, sizeof t->persistence, "server's");
    } else {
        rc = ib_invd_start(t, cfg, err, err_len);
    }
    if (rc == 0) rc = ib_invd_load(t, cfg->quiet, err, err_len);
    if (rc != 0) {
        ib_invd_close(t);
        return rc;
    }
    if (t->pid > 0)
        snprintf(t->describe, sizeof t->describe,
                 "invd, durability=%s, %u shards, pid %d on %s:%u", t->persistence,
                 t->shards, (int)t->pid, t->host, t->port);
    else
        snprintf(t->describe, sizeof t->describe, "invd (running) on %s:%u", t->host, t->port);
    *out = t;
    return 0;
}

static int ib_invd_connect(ib_target *t, ib_conn **out, char *err, size_t err_len) {
    *out = NULL;
    ib_conn *c = calloc(1, sizeof *c);
    if (c == NULL) return -ENOMEM;
    c->t = t;
    inv_client_options opt = {.timeout_ms = IB_INVD_CONNECT_TIMEOUT_MS};
    int rc = inv_client_connect(&c->c, t->host, t->port, &opt);
    if (rc != 0) {
        snprintf(err, err_len, "connect %s:%u: %s", t->host, t->port, strerror(-rc));
        free(c);
        return rc;
    }
    *out = c;
    return 0;
}

void ib_invd_reserve_fill(const inv_scenario *s, const inv_scn_order *o, const char *order_id,
                          uint64_t ttl_ms, inv_client_line *lines, inv_client_request *out) {
    for (uint32_t k = 0; k < o->line_count; k++) {
        lines[k].sku = inv_scn_sku_name(s, o->sku[k]);
        lines[k].qty = o->qty[k];
    }
    bool pickup = o->pickup_node != INV_SCN_NONE;
    out->op = INVC_OP_RESERVE;
    out->in.reserve = (inv_client_reserve_args){
        .order_id = order_id, .customer_id = o->customer_id, .has_point = true,
        .lat = o->lat, .lon = o->lon,
        .pickup_node_id = pickup ? s->nodes[o->pickup_node].id : NULL,
        .lines = lines, .line_count = o->line_count, .ttl_ms = ttl_ms,
        .policy = pickup ? INVC_ROUTE_PICKUP : INVC_ROUTE_NEAREST};
}

static int ib_invd_submit(ib_conn *c, const ib_request *rq) {
    inv_client_request r;
    inv_client_line lines[INV_SCN_LINES_MAX];
    memset(&r, 0, sizeof r);
    switch (rq->op) {
    case IB_OP_RESERVE:
        ib_invd_reserve_fill(c->t->s, rq->order,
                             rq->order_id != NULL ? rq->order_id : rq->order->order_id,
                             rq->ttl_ms, lines, &r);
        break;
    case IB_OP_COMMIT:
    case IB_OP_RELEASE:
        r.op = rq->op == IB_OP_COMMIT ? INVC_OP_COMMIT : INVC_OP_RELEASE;
        r.in.order.order_id = rq->order_id;
        break;
    case IB_OP_AVAILABILITY:
        if (rq->sku >= c->t->s->sku_count) return -EINVAL;
        r.op = INVC_OP_GET_AVAILABILITY;
        r.in.availability.sku = inv_scn_sku_name(c->t->s, rq->sku);
        r.in.availability.max_nodes = 0; /* totals only */
        break;
    default: return -EINVAL;
    }
    return inv_client_submit(c->c, &r, rq->user, NULL);
}

static void ib_invd_result(const ib_conn *c, const inv_client_reply *r, ib_result *out) {
    out->user = r->user;
    out->status = r->status;
    out->alloc_count = 0;
    out->on_hand = out->reserved = out->available = 0;
    if (r->status != INVC_OK) return;
    if (r->result == INVC_RESULT_RESERVATION) {
        const inv_client_reservation *v = &r->r.reservation;
        for (uint32_t i = 0; i < v->alloc_count && out->alloc_count < IB_ALLOC_MAX; i++) {
            uint32_t sku = ib_name_map_find(&c->t->skus, v->alloc[i].sku);
            uint32_t node = ib_name_map_find(&c->t->nodes, v->alloc[i].node_id);
            if (sku == INV_SCN_NONE || node == INV_SCN_NONE) continue;
            out->alloc[out->alloc_count++] = (ib_alloc){sku, node, v->alloc[i].qty};
        }
    } else if (r->result == INVC_RESULT_AVAILABILITY) {
        out->on_hand = r->r.availability.total_on_hand;
        out->reserved = r->r.availability.total_reserved;
        out->available = r->r.availability.total_available;
    }
}

static int ib_invd_poll(ib_conn *c, ib_result *out, uint32_t max, int timeout_ms) {
    if (max > IB_INVD_POLL_BATCH) max = IB_INVD_POLL_BATCH;
    int n = inv_client_poll(c->c, c->replies, max, timeout_ms);
    for (int i = 0; i < n; i++) {
        ib_invd_result(c, &c->replies[i], &out[i]);
        inv_client_reply_free(&c->replies[i]);
    }
    return n;
}

static uint32_t ib_invd_inflight(const ib_conn *c) { return inv_client_inflight(c->c); }

static const char *ib_invd_conn_error(const ib_conn *c) { return inv_client_error(c->c); }

static void ib_invd_disconnect(ib_conn *c) {
    if (c == NULL) return;
    inv_client_close(c->c);
    free(c);
}

static const char *ib_invd_describe(const ib_target *t) { return t->describe; }

const ib_backend ib_backend_invd = {
    .name = "invd",
    .open = ib_invd_open,
    .prepare = NULL,
    .connect = ib_invd_connect,
    .submit = ib_invd_submit,
    .poll = ib_invd_poll,
    .inflight = ib_invd_inflight,
    .conn_error = ib_invd_conn_error,
    .disconnect = ib_invd_disconnect,
    .describe = ib_invd_describe,
    .close = ib_invd_close,
};
