/*
 * ib_redis.c — invbench's Redis 7 + Lua baseline: ib_backend_redis.
 *
 * What it does
 *   open     starts redis-server (fork + execvp, no shell) on 127.0.0.1 and a free port
 *            in the work directory with the asked persistence, or attaches to a running
 *            server (cfg->port != 0; that server is FLUSHALLed); waits for PING; loads
 *            the scenario with pipelined HSETs; SCRIPT LOADs invbench_redis.lua.
 *   prepare  computes each pooled order line's nearest-first candidate nodes (the part a
 *            Redis client has to do itself, because the server has no geo routing), so
 *            that submit() only formats.
 *   connect/submit/poll
 *            one hiredis context per connection, non-blocking; submit appends one
 *            EVALSHA to the output buffer and remembers the caller's cookie in a FIFO
 *            (Redis answers in order); poll writes, waits with poll(2) no longer than
 *            asked, parses what arrived and turns each reply into an ib_result.
 *   close    SHUTDOWN NOSAVE, then SIGTERM, then SIGKILL — only to the pid it started.
 *
 * Data layout on the server (the script's file head says why it is fair and idiomatic):
 *   ib:c:<sku>    hash, one per SKU: h<node> on_hand, r<node> reserved, s<node> safety
 *                 (only when > 0), lim (purchase limit, limited SKUs only). One hash per
 *                 SKU rather than one key per cell: fewer keys and less memory, a line's
 *                 candidate cells read with one HMGET, exact totals with one HGETALL.
 *   ib:l:<sku>    hash: customer id -> units HELD or COMMITTED (limited SKUs).
 *   ib:o:<order>  hash: the reservation (state, content signature, customer, allocation,
 *                 limited units, expires_at); a tombstone for 1 h once finished.
 *   ib:exp        sorted set of HELD order ids by expires_at.
 * SKU and node ids are the scenario's dense indices.
 *
 * Candidates: nearest first by great-circle distance from the order's destination, over
 * the shipping nodes that hold the SKU, at most IB_REDIS_CANDIDATES_MAX; a PICKUP order's
 * only candidate is its pickup node. Ordering by great-circle distance is the same as
 * ordering by the dot product of unit vectors (the central angle is acos of it), so the
 * selection costs three multiply-adds per holder and keeps the K best in a small sorted
 * array; holders are stored per SKU (CSR) with their unit vectors, built once at open.
 *
 * Invariants: a connection's FIFO holds exactly the requests whose replies have not been
 * read, in order; the target is read-only after open and prepare, so connections on
 * different threads share it without locks.
 */
#define _GNU_SOURCE
#include "ib_redis.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ====================================================================================
 * Bounds
 * ==================================================================================== */
/* Waiting for a started server to answer PING. */
#define SERVER_START_TIMEOUT_MS 10000
/* Fresh ports tried when the server exits at start (a port taken between probe and bind). */
#define SERVER_START_ATTEMPTS 3
/* Waiting for the server to stop after SHUTDOWN, and again after SIGTERM. */
#define SERVER_STOP_TIMEOUT_MS 5000
/* Pause between readiness probes and exit checks. */
#define SERVER_PROBE_INTERVAL_MS 20
/* Connect timeout of every connection; command timeout of the blocking load/admin one. */
#define CONNECT_TIMEOUT_MS 2000
#define ADMIN_TIMEOUT_MS 60000
/* Load commands pipelined per round trip. */
#define LOAD_BATCH 4096u
/* Bytes of the server log quoted in an error. */
#define LOG_TAIL_BYTES 600
/* Largest script file accepted. */
#define SCRIPT_BYTES_MAX (1u << 20)
/* Arguments of one EVALSHA: 3 + keys (2 + 2 lines) + ARGV (6 + lines × (3 + K)). */
#define CALL_ARGS_MAX                                                                   \
    (3u + 2u + 2u * INV_SCN_LINES_MAX + 6u + INV_SCN_LINES_MAX * (3u + IB_REDIS_CANDIDATES_MAX))
/* Text of those arguments: key prefixes, ids and decimals (≤ 20 digits each). */
#define CALL_TEXT_MAX 4096u
/* Redis key prefixes (the script derives the same ones). */
#define KEY_ORDER "ib:o:"
#define KEY_STOCK "ib:c:"
#define KEY_LIMIT "ib:l:"
#define KEY_EXPIRY "ib:exp"
#define SHA_HEX_LEN 40u

_Static_assert(IB_REDIS_CANDIDATES_MAX <= 8u, "the script accepts at most 8 candidates");
_Static_assert(INV_SCN_LINES_MAX <= 5u, "the script accepts at most 5 lines");
_Static_assert(IB_ALLOC_MAX == 32u, "the script caps an allocation at 32 pieces");
_Static_assert(IB_REDIS_INFLIGHT_MAX >= 64u, "deep enough for the harness's pipelines");
_Static_assert(CALL_TEXT_MAX >= 64u + CALL_ARGS_MAX * 24u, "text of every argument fits");

/* ====================================================================================
 * State
 * ==================================================================================== */
struct ib_target {
    const inv_scenario *scn;
    pid_t pid; /* the server we started; 0 when attached */
    char host[128];
    uint16_t port;
    bool quiet;
    char work_dir[PATH_MAX];
    char log_path[PATH_MAX];    /* the server's logfile */
    char stdout_path[PATH_MAX]; /* its stdout and stderr (exec failures, early errors) */
    char persistence[16];
    char version[32];
    char sha[SHA_HEX_LEN + 1];
    char description[512];
    /* Shipping holders of each SKU: [holder_first[s], holder_first[s + 1]). */
    uint32_t *holder_first;
    uint32_t *holder_node;
    float *holder_xyz; /* unit vector of each holder, 3 floats */
    /* Prepared candidates of the pool: order i, line l has cand_count[i × LINES + l]
     * nodes starting at cand_node[cand_first[i] + Σ counts of its earlier lines]. */
    const inv_scn_order *pool;
    uint32_t pool_count;
    uint32_t *cand_first;
    uint8_t *cand_count;
    uint32_t *cand_node;
    double prepare_ms;
};

typedef struct pending_request {
    void *user;
    ib_op op;
} pending_request;

typedef struct call_args {
    const char *argv[CALL_ARGS_MAX];
    size_t len[CALL_ARGS_MAX];
    uint32_t argc;
    char text[CALL_TEXT_MAX];
    size_t used;
} call_args;

struct ib_conn {
    ib_target *t;
    redisContext *ctx;
    int broken; /* 0, or the negative errno every later call returns */
    uint32_t head, count;
    pending_request fifo[IB_REDIS_INFLIGHT_MAX];
    call_args args;
    char error[512];
};

/* ====================================================================================
 * Small helpers
 * ==================================================================================== */
static void err_set(char *err, size_t err_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void err_set(char *err, size_t err_len, const char *fmt, ...) {
    if (err == NULL || err_len == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_len, fmt, ap);
    va_end(ap);
}

static int64_t clock_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static struct timeval timeval_of_ms(int ms) {
    struct timeval tv = {ms / 1000, (long)(ms % 1000) * 1000L};
    return tv;
}

/* Decimal digits of v into buf (no NUL); returns the length. */
static size_t u64_format(char *buf, uint64_t v) {
    char tmp[20];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v != 0);
    for (size_t i = 0; i < n; i++) buf[i] = tmp[n - 1 - i];
    return n;
}

/* ====================================================================================
 * Building one command's arguments without printf
 * ==================================================================================== */
static void args_reset(call_args *a) {
    a->argc = 0;
    a->used = 0;
}

/* An argument that lives as long as the call (a literal, the SHA, an id in the order). */
static void args_ref(call_args *a, const char *s, size_t len) {
    assert(a->argc < CALL_ARGS_MAX);
    a->argv[a->argc] = s;
    a->len[a->argc++] = len;
}

/* prefix + text, copied. */
static void args_join(call_args *a, const char *prefix, size_t prefix_len, const char *s,
                      size_t len) {
    assert(a->used + prefix_len + len <= CALL_TEXT_MAX);
    char *p = a->text + a->used;
    memcpy(p, prefix, prefix_len);
    memcpy(p + prefix_len, s, len);
    a->used += prefix_len + len;
    args_ref(a, p, prefix_len + len);
}

/* prefix + decimal, copied. */
static void args_num(call_args *a, const char *prefix, size_t prefix_len, uint64_t v) {
    char digits[20];
    size_t n = u64_format(digits, v);
    args_join(a, prefix, prefix_len, digits, n);
}

#define ARGS_LIT(a, lit) args_ref((a), (lit), sizeof(lit) - 1)

/* ====================================================================================
 * Starting and stopping the server
 * ==================================================================================== */
/* A port the kernel just gave to a socket bound to 127.0.0.1:0 (free for now). */
static int free_port_find(uint16_t *port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0,
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    int rc = 0;
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) != 0)
        rc = -errno;
    close(fd);
    if (rc == 0) *port = ntohs(sa.sin_port);
    return rc;
}

/* The last bytes of the server log, one line, for an error message. */
static void log_tail(const char *path, char *out, size_t out_len) {
    out[0] = '\0';
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    char buf[LOG_TAIL_BYTES + 1];
    off_t size = lseek(fd, 0, SEEK_END);
    off_t from = size > LOG_TAIL_BYTES ? size - LOG_TAIL_BYTES : 0;
    ssize_t n = pread(fd, buf, LOG_TAIL_BYTES, from);
    close(fd);
    if (n <= 0) return;
    buf[n] = '\0';
    for (ssize_t i = 0; i < n; i++)
        if (buf[i] == '\n') buf[i] = '|';
    snprintf(out, out_len, "%s", buf);
}

/* Wait up to timeout_ms for our child to exit. true: reaped. */
static bool child_wait(pid_t pid, int timeout_ms) {
    int64_t deadline = clock_ms() + timeout_ms;
    for (;;) {
        pid_t r = waitpid(pid, NULL, WNOHANG);
        if (r == pid) return true;
        /* Not our child to reap (SIGCHLD ignored by the host program): gone when the pid
         * no longer exists. */
        if (r < 0 && errno == ECHILD && kill(pid, 0) != 0) return true;
        if (clock_ms() >= deadline) return false;
        sleep_ms(SERVER_PROBE_INTERVAL_MS);
    }
}

/* Fork and exec redis-server; the child gets its own process group (a Ctrl-C of the
 * harness must not stop it before the final availability checks) and SIGTERM when the
 * harness dies. Everything the child needs is prepared before fork(). */
static int server_spawn(ib_target *t, const ib_target_config *cfg, char *err, size_t err_len) {
    const char *path = cfg->server_path ? cfg->server_path : "redis-server";
    char port_text[8];
    snprintf(port_text, sizeof port_text, "%u", (unsigned)t->port);
    const char *aof = strcmp(t->persistence, "none") == 0 ? "no" : "yes";
    const char *fsync_mode = strcmp(t->persistence, "always") == 0 ? "always" : "everysec";
    const char *argv[] = {path, "--port", port_text, "--bind", "127.0.0.1",
                          "--protected-mode", "yes", "--daemonize", "no",
                          "--io-threads", "1", "--dir", t->work_dir,
                          "--logfile", t->log_path, "--save", "",
                          "--appendonly", aof, "--appendfsync", fsync_mode, NULL};
    const char *out_path = t->stdout_path;
    static const char exec_failed[] = "ib_redis: exec of redis-server failed\n";
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        err_set(err, err_len, "fork: %s", strerror(e));
        return -e;
    }
    if (pid == 0) {
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent) _exit(126);
        int in = open("/dev/null", O_RDONLY);
        int out = open(out_path, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (in >= 0) dup2(in, 0);
        if (out >= 0) {
            dup2(out, 1);
            dup2(out, 2);
        }
        if (chdir(t->work_dir) != 0) _exit(126);
        execvp(path, (char *const *)argv);
        ssize_t w = write(2, exec_failed, sizeof exec_failed - 1);
        (void)w;
        _exit(127);
    }
    t->pid = pid;
    return 0;
}

/* A blocking connection with a command timeout, for loading and admin calls. */
static redisContext *admin_connect(const ib_target *t, int timeout_ms, char *err,
                                   size_t err_len) {
    redisContext *c = redisConnectWithTimeout(t->host, t->port, timeval_of_ms(CONNECT_TIMEOUT_MS));
    if (c == NULL) {
        err_set(err, err_len, "redis %s:%u: out of memory", t->host, (unsigned)t->port);
        return NULL;
    }
    if (c->err != 0 || redisSetTimeout(c, timeval_of_ms(timeout_ms)) != REDIS_OK) {
        err_set(err, err_len, "redis %s:%u: %s", t->host, (unsigned)t->port, c->errstr);
        redisFree(c);
        return NULL;
    }
    return c;
}

/* Run one command (argv form); the reply must not be an error. Returns the reply
 * (freeReplyObject) or NULL with the reason in err. */
static redisReply *admin_call(redisContext *c, uint32_t argc, const char **argv,
                              const size_t *len, char *err, size_t err_len) {
    redisReply *r = redisCommandArgv(c, (int)argc, argv, len);
    if (r == NULL) {
        err_set(err, err_len, "redis %s: %s", argv[0], c->err ? c->errstr : "no reply");
        return NULL;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        err_set(err, err_len, "redis %s: %s", argv[0], r->str);
        freeReplyObject(r);
        return NULL;
    }
    return r;
}

static bool server_pings(const ib_target *t) {
    char ignored[8];
    redisContext *c = admin_connect(t, CONNECT_TIMEOUT_MS, ignored, sizeof ignored);
    if (c == NULL) return false;
    redisReply *r = redisCommand(c, "PING");
    bool ok = r != NULL && r->type == REDIS_REPLY_STATUS && strcmp(r->str, "PONG") == 0;
    if (r != NULL) freeReplyObject(r);
    redisFree(c);
    return ok;
}

/* Wait until the started server answers PING. 0, -EAGAIN (it exited: try another
 * port), -ETIMEDOUT. */
static int server_wait_ready(ib_target *t) {
    int64_t deadline = clock_ms() + SERVER_START_TIMEOUT_MS;
    while (clock_ms() < deadline) {
        if (waitpid(t->pid, NULL, WNOHANG) == t->pid) {
            t->pid = 0;
            return -EAGAIN;
        }
        if (server_pings(t)) return 0;
        sleep_ms(SERVER_PROBE_INTERVAL_MS);
    }
    return -ETIMEDOUT;
}

static void server_stop(ib_target *t) {
    if (t->pid <= 0) return;
    char ignored[8];
    redisContext *c = admin_connect(t, CONNECT_TIMEOUT_MS, ignored, sizeof ignored);
    if (c != NULL) {
        redisReply *r = redisCommand(c, "SHUTDOWN NOSAVE"); /* no reply when it works */
        if (r != NULL) freeReplyObject(r);
        redisFree(c);
    }
    if (!child_wait(t->pid, SERVER_STOP_TIMEOUT_MS)) {
        kill(t->pid, SIGTERM);
        if (!child_wait(t->pid, SERVER_STOP_TIMEOUT_MS)) {
            kill(t->pid, SIGKILL);
            waitpid(t->pid, NULL, 0);
        }
    }
    t->pid = 0;
}

/* Start a server on a free port; retries with a new port when it exits at start. */
static int server_start(ib_target *t, const ib_target_config *cfg, char *err, size_t err_len) {
    snprintf(t->host, sizeof t->host, "127.0.0.1");
    int rc = -EAGAIN;
    for (uint32_t attempt = 0; attempt < SERVER_START_ATTEMPTS && rc == -EAGAIN; attempt++) {
        rc = free_port_find(&t->port);
        if (rc != 0) {
            err_set(err, err_len, "no free port on 127.0.0.1: %s", strerror(-rc));
            return rc;
        }
        rc = server_spawn(t, cfg, err, err_len);
        if (rc != 0) return rc;
        rc = server_wait_ready(t);
    }
    if (rc == 0) return 0;
    char tail[LOG_TAIL_BYTES + 1];
    log_tail(t->log_path, tail, sizeof tail);
    if (tail[0] == '\0') log_tail(t->stdout_path, tail, sizeof tail);
    err_set(err, err_len, "redis-server (%s) %s; log: %s",
            cfg->server_path ? cfg->server_path : "redis-server from PATH",
            rc == -ETIMEDOUT ? "did not answer PING in time" : "exited at start", tail);
    server_stop(t);
    return rc == -EAGAIN ? -ECHILD : rc;
}

/* ====================================================================================
 * Loading the scenario and the script
 * ==================================================================================== */
/* Read `expected` replies of a pipelined batch; any error reply fails the load. */
static int load_batch_finish(redisContext *c, uint32_t expected, char *err, size_t err_len) {
    int rc = 0;
    for (uint32_t i = 0; i < expected; i++) {
        void *reply = NULL;
        if (redisGetReply(c, &reply) != REDIS_OK || reply == NULL) {
            err_set(err, err_len, "redis load: %s", c->err ? c->errstr : "no reply");
            return -EIO;
        }
        redisReply *r = reply;
        if (r->type == REDIS_REPLY_ERROR && rc == 0) {
            err_set(err, err_len, "redis load: %s", r->str);
            rc = -EIO;
        }
        freeReplyObject(r);
    }
    return rc;
}

/* Append one HSET of a cell: h<node> on_hand r<node> 0 [s<node> safety]. */
static int load_cell_append(redisContext *c, call_args *a, const inv_scn_cell *cell) {
    args_reset(a);
    ARGS_LIT(a, "HSET");
    args_num(a, KEY_STOCK, sizeof KEY_STOCK - 1, cell->sku);
    args_num(a, "h", 1, cell->node);
    args_num(a, "", 0, cell->on_hand);
    args_num(a, "r", 1, cell->node);
    ARGS_LIT(a, "0");
    if (cell->safety > 0) {
        args_num(a, "s", 1, cell->node);
        args_num(a, "", 0, cell->safety);
    }
    return redisAppendCommandArgv(c, (int)a->argc, a->argv, a->len) == REDIS_OK ? 0 : -ENOMEM;
}

static int load_limit_append(redisContext *c, call_args *a, uint32_t sku, uint32_t limit) {
    args_reset(a);
    ARGS_LIT(a, "HSET");
    args_num(a, KEY_STOCK, sizeof KEY_STOCK - 1, sku);
    ARGS_LIT(a, "lim");
    args_num(a, "", 0, limit);
    return redisAppendCommandArgv(c, (int)a->argc, a->argv, a->len) == REDIS_OK ? 0 : -ENOMEM;
}

/* FLUSHALL, every cell, the purchase limits: LOAD_BATCH commands per round trip. */
static int load_stock(const ib_target *t, redisContext *c, char *err, size_t err_len) {
    const inv_scenario *s = t->scn;
    const char *flush[] = {"FLUSHALL"};
    size_t flush_len[] = {8};
    redisReply *r = admin_call(c, 1, flush, flush_len, err, err_len);
    if (r == NULL) return -EIO;
    freeReplyObject(r);
    call_args *a = malloc(sizeof *a);
    if (a == NULL) return -ENOMEM;
    uint32_t limit = s->cfg.flash_limit;
    uint64_t total = (uint64_t)s->cell_count + (limit ? s->flash_count : 0);
    int rc = 0;
    uint32_t batched = 0;
    for (uint64_t i = 0; i < total && rc == 0; i++) {
        if (i < s->cell_count)
            rc = load_cell_append(c, a, &s->cells[i]);
        else
            rc = load_limit_append(c, a, s->flash_first + (uint32_t)(i - s->cell_count), limit);
        if (rc == 0 && (++batched == LOAD_BATCH || i + 1 == total)) {
            rc = load_batch_finish(c, batched, err, err_len);
            batched = 0;
        }
    }
    if (rc == -ENOMEM) err_set(err, err_len, "redis load: out of memory");
    free(a);
    if (rc == 0 && !t->quiet)
        fprintf(stderr, "redis: loaded %u cells of %u SKUs (%u limited)\n", s->cell_count,
                s->sku_count, limit ? s->flash_count : 0);
    return rc;
}

static char *file_read(const char *path, size_t *len, char *err, size_t err_len) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        err_set(err, err_len, "script %s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(SCRIPT_BYTES_MAX);
    size_t n = buf ? fread(buf, 1, SCRIPT_BYTES_MAX, f) : 0;
    bool bad = buf == NULL || ferror(f) || n == SCRIPT_BYTES_MAX || n == 0;
    fclose(f);
    if (bad) {
        err_set(err, err_len, "script %s: %s", path,
                buf == NULL ? "out of memory" : "empty, unreadable or over 1 MiB");
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

static int load_script(ib_target *t, redisContext *c, char *err, size_t err_len) {
    const char *path = getenv("IB_REDIS_LUA");
    if (path == NULL || path[0] == '\0') path = IB_REDIS_LUA_PATH;
    size_t len = 0;
    char *body = file_read(path, &len, err, err_len);
    if (body == NULL) return -ENOENT;
    const char *argv[] = {"SCRIPT", "LOAD", body};
    size_t argv_len[] = {6, 4, len};
    redisReply *r = admin_call(c, 3, argv, argv_len, err, err_len);
    free(body);
    if (r == NULL) return -EINVAL;
    int rc = 0;
    if (r->type != REDIS_REPLY_STRING || r->len != SHA_HEX_LEN) {
        err_set(err, err_len, "SCRIPT LOAD: unexpected reply");
        rc = -EPROTO;
    } else {
        memcpy(t->sha, r->str, SHA_HEX_LEN + 1);
    }
    freeReplyObject(r);
    return rc;
}

/* Server version (INFO server) for describe(). */
static void load_version(ib_target *t, redisContext *c) {
    snprintf(t->version, sizeof t->version, "?");
    redisReply *r = redisCommand(c, "INFO server");
    if (r == NULL) return;
    const char *v = r->type == REDIS_REPLY_STRING ? strstr(r->str, "redis_version:") : NULL;
    if (v != NULL) {
        v += strlen("redis_version:");
        size_t n = strcspn(v, "\r\n");
        snprintf(t->version, sizeof t->version, "%.*s", (int)n, v);
    }
    freeReplyObject(r);
}

/* ====================================================================================
 * Nearest-first candidates
 * ==================================================================================== */
static void unit_vector(double lat, double lon, float out[3]) {
    const double rad = M_PI / 180.0;
    double cl = cos(lat * rad);
    out[0] = (float)(cl * cos(lon * rad));
    out[1] = (float)(cl * sin(lon * rad));
    out[2] = (float)sin(lat * rad);
}

/* Per SKU, the shipping nodes holding it, with their unit vectors (CSR). */
static int holders_build(ib_target *t) {
    const inv_scenario *s = t->scn;
    t->holder_first = calloc((size_t)s->sku_count + 1, sizeof *t->holder_first);
    if (t->holder_first == NULL) return -ENOMEM;
    uint32_t total = 0;
    for (uint32_t i = 0; i < s->cell_count; i++) {
        const inv_scn_cell *c = &s->cells[i];
        if (s->nodes[c->node].ships) {
            t->holder_first[c->sku + 1]++;
            total++;
        }
    }
    for (uint32_t k = 0; k < s->sku_count; k++) t->holder_first[k + 1] += t->holder_first[k];
    t->holder_node = malloc(((size_t)total + 1) * sizeof *t->holder_node);
    t->holder_xyz = malloc(((size_t)total + 1) * 3 * sizeof *t->holder_xyz);
    uint32_t *fill = malloc((size_t)s->sku_count * sizeof *fill);
    if (t->holder_node == NULL || t->holder_xyz == NULL || fill == NULL) {
        free(fill);
        return -ENOMEM;
    }
    memcpy(fill, t->holder_first, (size_t)s->sku_count * sizeof *fill);
    for (uint32_t i = 0; i < s->cell_count; i++) {
        const inv_scn_cell *c = &s->cells[i];
        const inv_scn_node *n = &s->nodes[c->node];
        if (!n->ships) continue;
        uint32_t at = fill[c->sku]++;
        t->holder_node[at] = c->node;
        unit_vector(n->lat, n->lon, &t->holder_xyz[(size_t)at * 3]);
    }
    free(fill);
    return 0;
}

/* The K shipping holders of `sku` nearest to the point with unit vector d, nearest
 * first (ties: the earlier holder). Returns how many (≤ IB_REDIS_CANDIDATES_MAX). */
static uint32_t candidates_nearest(const ib_target *t, uint32_t sku, const float d[3],
                                   uint32_t *out) {
    float best[IB_REDIS_CANDIDATES_MAX];
    uint32_t n = 0;
    const uint32_t end = t->holder_first[sku + 1];
    for (uint32_t h = t->holder_first[sku]; h < end; h++) {
        const float *x = &t->holder_xyz[(size_t)h * 3];
        float dot = x[0] * d[0] + x[1] * d[1] + x[2] * d[2]; /* larger: nearer */
        if (n == IB_REDIS_CANDIDATES_MAX && dot <= best[n - 1]) continue;
        uint32_t i = n < IB_REDIS_CANDIDATES_MAX ? n++ : n - 1;
        for (; i > 0 && best[i - 1] < dot; i--) {
            best[i] = best[i - 1];
            out[i] = out[i - 1];
        }
        best[i] = dot;
        out[i] = t->holder_node[h];
    }
    return n;
}

/* Candidates of every line of `o` into nodes (lines × K), counts into count[]. */
static uint32_t order_candidates(const ib_target *t, const inv_scn_order *o, uint32_t *nodes,
                                 uint8_t *count) {
    uint32_t used = 0;
    float d[3];
    bool pickup = o->pickup_node != INV_SCN_NONE;
    if (!pickup) unit_vector(o->lat, o->lon, d);
    for (uint32_t l = 0; l < o->line_count; l++) {
        uint32_t n = 1;
        if (pickup)
            nodes[used] = o->pickup_node;
        else
            n = candidates_nearest(t, o->sku[l], d, nodes + used);
        count[l] = (uint8_t)n;
        used += n;
    }
    return used;
}

static bool order_valid(const ib_target *t, const inv_scn_order *o) {
    const inv_scenario *s = t->scn;
    if (o->line_count < 1 || o->line_count > INV_SCN_LINES_MAX) return false;
    if (o->pickup_node != INV_SCN_NONE && o->pickup_node >= s->node_count) return false;
    if (o->order_id[0] == '\0' || o->customer_id[0] == '\0') return false;
    if (strnlen(o->order_id, INV_SCN_ORDER_ID_LEN) == INV_SCN_ORDER_ID_LEN) return false;
    if (strnlen(o->customer_id, INV_SCN_CUSTOMER_ID_LEN) == INV_SCN_CUSTOMER_ID_LEN) return false;
    for (uint32_t l = 0; l < o->line_count; l++)
        if (o->sku[l] >= s->sku_count || o->qty[l] == 0) return false;
    return true;
}

static void prepared_free(ib_target *t) {
    free(t->cand_first);
    free(t->cand_count);
    free(t->cand_node);
    t->cand_first = NULL;
    t->cand_count = NULL;
    t->cand_node = NULL;
    t->pool = NULL;
    t->pool_count = 0;
}

static int redis_prepare(ib_target *t, const inv_scn_order *orders, uint32_t count, char *err,
                         size_t err_len) {
    int64_t start = clock_ms();
    prepared_free(t);
    uint64_t lines = 0;
    for (uint32_t i = 0; i < count; i++) {
        if (!order_valid(t, &orders[i])) {
            err_set(err, err_len, "order %u: bad lines, ids or pickup node", i);
            return -EINVAL;
        }
        lines += orders[i].line_count;
    }
    if (lines * IB_REDIS_CANDIDATES_MAX >= UINT32_MAX) {
        err_set(err, err_len, "pool of %u orders is too large to prepare", count);
        return -E2BIG;
    }
    t->cand_first = malloc(((size_t)count + 1) * sizeof *t->cand_first);
    t->cand_count = malloc(((size_t)count + 1) * INV_SCN_LINES_MAX);
    t->cand_node = malloc((size_t)(lines * IB_REDIS_CANDIDATES_MAX + 1) * sizeof *t->cand_node);
    if (t->cand_first == NULL || t->cand_count == NULL || t->cand_node == NULL) {
        prepared_free(t);
        err_set(err, err_len, "prepare: out of memory");
        return -ENOMEM;
    }
    uint32_t used = 0;
    for (uint32_t i = 0; i < count; i++) {
        t->cand_first[i] = used;
        used += order_candidates(t, &orders[i], t->cand_node + used,
                                 t->cand_count + (size_t)i * INV_SCN_LINES_MAX);
    }
    t->cand_first[count] = used;
    uint32_t *shrunk = realloc(t->cand_node, ((size_t)used + 1) * sizeof *shrunk);
    if (shrunk != NULL) t->cand_node = shrunk;
    t->pool = orders;
    t->pool_count = count;
    t->prepare_ms = (double)(clock_ms() - start);
    if (!t->quiet)
        fprintf(stderr, "redis: candidate lists of %u orders in %.0f ms\n", count,
                t->prepare_ms);
    return 0;
}

double ib_redis_prepare_ms(const ib_target *t) { return t->prepare_ms; }

/* ====================================================================================
 * Open, describe, close
 * ==================================================================================== */
static void target_free(ib_target *t) {
    prepared_free(t);
    free(t->holder_first);
    free(t->holder_node);
    free(t->holder_xyz);
    free(t);
}

static void redis_close(ib_target *t) {
    if (t == NULL) return;
    server_stop(t);
    target_free(t);
}

static int target_init(ib_target *t, const ib_target_config *cfg, char *err, size_t err_len) {
    const char *p = cfg->persistence ? cfg->persistence : "none";
    if (strcmp(p, "none") != 0 && strcmp(p, "everysec") != 0 && strcmp(p, "always") != 0) {
        err_set(err, err_len, "redis persistence must be none, everysec or always, not '%s'", p);
        return -EINVAL;
    }
    snprintf(t->persistence, sizeof t->persistence, "%s", p);
    if (cfg->scenario == NULL || cfg->work_dir == NULL ||
        realpath(cfg->work_dir, t->work_dir) == NULL) {
        err_set(err, err_len, "redis: need a scenario and an existing work_dir (%s)",
                cfg->work_dir ? strerror(errno) : "none given");
        return -EINVAL;
    }
    snprintf(t->log_path, sizeof t->log_path, "%.*s/redis.log", PATH_MAX - 16, t->work_dir);
    snprintf(t->stdout_path, sizeof t->stdout_path, "%.*s/redis.stdout", PATH_MAX - 16,
             t->work_dir);
    t->scn = cfg->scenario;
    t->quiet = cfg->quiet;
    if (holders_build(t) != 0) {
        err_set(err, err_len, "redis: out of memory for the holder lists");
        return -ENOMEM;
    }
    return 0;
}

static void describe_build(ib_target *t) {
    char mode[48];
    if (t->pid == 0)
        snprintf(mode, sizeof mode, "attached");
    else if (strcmp(t->persistence, "none") == 0)
        snprintf(mode, sizeof mode, "no persistence");
    else
        snprintf(mode, sizeof mode, "appendfsync %s", t->persistence);
    snprintf(t->description, sizeof t->description, "redis %s (%s) pid %ld on %s:%u", t->version,
             mode, (long)t->pid, t->host, (unsigned)t->port);
}

static int redis_open(const ib_target_config *cfg, ib_target **out, char *err, size_t err_len) {
    *out = NULL;
    ib_target *t = calloc(1, sizeof *t);
    if (t == NULL) {
        err_set(err, err_len, "redis: out of memory");
        return -ENOMEM;
    }
    int rc = target_init(t, cfg, err, err_len);
    if (rc == 0 && cfg->port != 0) {
        snprintf(t->host, sizeof t->host, "%s", cfg->host ? cfg->host : "127.0.0.1");
        t->port = cfg->port;
    } else if (rc == 0) {
        rc = server_start(t, cfg, err, err_len);
    }
    redisContext *c = rc == 0 ? admin_connect(t, ADMIN_TIMEOUT_MS, err, err_len) : NULL;
    if (rc == 0 && c == NULL) rc = -ECONNREFUSED;
    if (rc == 0) rc = load_stock(t, c, err, err_len);
    if (rc == 0) rc = load_script(t, c, err, err_len);
    if (rc == 0) load_version(t, c);
    if (c != NULL) redisFree(c);
    if (rc != 0) {
        redis_close(t);
        return rc;
    }
    describe_build(t);
    *out = t;
    return 0;
}

static const char *redis_describe(const ib_target *t) { return t->description; }

/* ====================================================================================
 * Connections: submit
 * ==================================================================================== */
static int conn_fail(ib_conn *c, int rc, const char *what) {
    if (c->broken == 0) {
        c->broken = rc;
        snprintf(c->error, sizeof c->error, "redis %s:%u: %s: %s", c->t->host,
                 (unsigned)c->t->port, what,
                 c->ctx->err ? c->ctx->errstr : strerror(-rc));
    }
    return c->broken;
}

static int redis_connect(ib_target *t, ib_conn **out, char *err, size_t err_len) {
    *out = NULL;
    ib_conn *c = calloc(1, sizeof *c);
    if (c == NULL) {
        err_set(err, err_len, "redis connect: out of memory");
        return -ENOMEM;
    }
    c->t = t;
    c->ctx = redisConnectNonBlock(t->host, t->port);
    int rc = c->ctx == NULL ? -ENOMEM : c->ctx->err ? -ECONNREFUSED : 0;
    if (rc == 0) { /* wait for the connection to complete */
        struct pollfd p = {.fd = c->ctx->fd, .events = POLLOUT};
        int n = poll(&p, 1, CONNECT_TIMEOUT_MS);
        int so_error = 0;
        socklen_t len = sizeof so_error;
        if (n == 0)
            rc = -ETIMEDOUT;
        else if (n < 0 || getsockopt(c->ctx->fd, SOL_SOCKET, SO_ERROR, &so_error, &len) != 0)
            rc = -errno;
        else if (so_error != 0)
            rc = -so_error;
    }
    int one = 1; /* pipelined small writes must not wait for ACKs (Nagle) */
    if (rc == 0 && setsockopt(c->ctx->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
        rc = -errno;
    if (rc != 0) {
        err_set(err, err_len, "redis connect %s:%u: %s", t->host, (unsigned)t->port,
                c->ctx && c->ctx->err ? c->ctx->errstr : strerror(-rc));
        if (c->ctx) redisFree(c->ctx);
        free(c);
        return rc;
    }
    *out = c;
    return 0;
}

/* 64-bit FNV-1a over the content a retry must repeat (invd's CONFLICT check). */
static uint64_t fnv1a(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

static uint64_t order_signature(const inv_scn_order *o, uint64_t ttl_ms) {
    uint64_t h = fnv1a(0xcbf29ce484222325ull, o->customer_id, strlen(o->customer_id) + 1);
    h = fnv1a(h, &o->lat, sizeof o->lat);
    h = fnv1a(h, &o->lon, sizeof o->lon);
    h = fnv1a(h, &o->pickup_node, sizeof o->pickup_node);
    h = fnv1a(h, &ttl_ms, sizeof ttl_ms);
    h = fnv1a(h, o->sku, o->line_count * sizeof o->sku[0]);
    return fnv1a(h, o->qty, o->line_count);
}

/* The request's candidates: prepared when it is the pooled order, else computed now. */
static const uint32_t *request_candidates(const ib_target *t, const ib_request *rq,
                                          uint32_t *scratch, const uint8_t **count,
                                          uint8_t *count_scratch) {
    uint32_t i = rq->order_index;
    if (i < t->pool_count &&
        (rq->order == &t->pool[i] || memcmp(rq->order, &t->pool[i], sizeof *rq->order) == 0)) {
        *count = t->cand_count + (size_t)i * INV_SCN_LINES_MAX;
        return t->cand_node + t->cand_first[i];
    }
    order_candidates(t, rq->order, scratch, count_scratch);
    *count = count_scratch;
    return scratch;
}

static void args_call_head(call_args *a, const ib_target *t, uint32_t keys) {
    args_reset(a);
    ARGS_LIT(a, "EVALSHA");
    args_ref(a, t->sha, SHA_HEX_LEN);
    args_num(a, "", 0, keys);
}

static void args_reserve(call_args *a, const ib_target *t, const ib_request *rq) {
    const inv_scn_order *o = rq->order;
    uint32_t scratch[INV_SCN_LINES_MAX * IB_REDIS_CANDIDATES_MAX];
    uint8_t count_scratch[INV_SCN_LINES_MAX];
    const uint8_t *count = NULL;
    const uint32_t *nodes = request_candidates(t, rq, scratch, &count, count_scratch);
    uint32_t lines = o->line_count;
    /* The harness gives every reserve its own id (run nonce + counter); a pooled order's
     * own id is only the fallback. */
    const char *id = rq->order_id != NULL ? rq->order_id : o->order_id;
    size_t id_len = strlen(id);
    args_call_head(a, t, 2 + 2 * lines);
    args_join(a, KEY_ORDER, sizeof KEY_ORDER - 1, id, id_len);
    ARGS_LIT(a, KEY_EXPIRY);
    for (uint32_t l = 0; l < lines; l++) args_num(a, KEY_STOCK, sizeof KEY_STOCK - 1, o->sku[l]);
    for (uint32_t l = 0; l < lines; l++) args_num(a, KEY_LIMIT, sizeof KEY_LIMIT - 1, o->sku[l]);
    ARGS_LIT(a, "R");
    args_ref(a, id, id_len);
    args_ref(a, o->customer_id, strlen(o->customer_id));
    char sig[16];
    uint64_t h = order_signature(o, rq->ttl_ms);
    for (int k = 15; k >= 0; k--, h >>= 4) sig[k] = "0123456789abcdef"[h & 15u];
    args_join(a, "", 0, sig, sizeof sig);
    args_num(a, "", 0, rq->ttl_ms);
    args_num(a, "", 0, lines);
    for (uint32_t l = 0, at = 0; l < lines; l++) {
        args_num(a, "", 0, o->sku[l]);
        args_num(a, "", 0, o->qty[l]);
        args_num(a, "", 0, count[l]);
        for (uint32_t k = 0; k < count[l]; k++) args_num(a, "", 0, nodes[at++]);
    }
}

static void args_settle(call_args *a, const ib_target *t, const ib_request *rq) {
    size_t id_len = strlen(rq->order_id);
    args_call_head(a, t, 2);
    args_join(a, KEY_ORDER, sizeof KEY_ORDER - 1, rq->order_id, id_len);
    ARGS_LIT(a, KEY_EXPIRY);
    if (rq->op == IB_OP_COMMIT)
        ARGS_LIT(a, "C");
    else
        ARGS_LIT(a, "L");
    args_ref(a, rq->order_id, id_len);
}

static bool order_id_valid(const char *id) {
    return id[0] != '\0' && strnlen(id, INV_SCN_ORDER_ID_LEN) < INV_SCN_ORDER_ID_LEN;
}

static bool request_valid(const ib_target *t, const ib_request *rq) {
    switch (rq->op) {
    case IB_OP_RESERVE:
        return rq->order != NULL && order_valid(t, rq->order) &&
               (rq->order_id == NULL || order_id_valid(rq->order_id));
    case IB_OP_COMMIT:
    case IB_OP_RELEASE:
        return rq->order_id != NULL && order_id_valid(rq->order_id);
    case IB_OP_AVAILABILITY:
        return rq->sku < t->scn->sku_count;
    }
    return false;
}

static int redis_submit(ib_conn *c, const ib_request *rq) {
    if (c->broken != 0) return c->broken;
    if (c->count == IB_REDIS_INFLIGHT_MAX) return -EAGAIN;
    if (!request_valid(c->t, rq)) return -EINVAL;
    call_args *a = &c->args;
    if (rq->op == IB_OP_RESERVE) {
        args_reserve(a, c->t, rq);
    } else if (rq->op == IB_OP_AVAILABILITY) {
        args_call_head(a, c->t, 1);
        args_num(a, KEY_STOCK, sizeof KEY_STOCK - 1, rq->sku);
        ARGS_LIT(a, "A");
    } else {
        args_settle(a, c->t, rq);
    }
    if (redisAppendCommandArgv(c->ctx, (int)a->argc, a->argv, a->len) != REDIS_OK)
        return -ENOMEM; /* the buffer could not grow; the connection is still usable */
    uint32_t tail = (c->head + c->count) % IB_REDIS_INFLIGHT_MAX;
    c->fifo[tail].user = rq->user;
    c->fifo[tail].op = rq->op;
    c->count++;
    return 0;
}

/* ====================================================================================
 * Connections: replies
 * ==================================================================================== */
static void result_internal(ib_conn *c, ib_result *res, const char *why) {
    res->status = INVC_INTERNAL;
    snprintf(c->error, sizeof c->error, "redis script: %s", why);
}

static bool reply_is_int(const redisReply *r) { return r->type == REDIS_REPLY_INTEGER; }

/* Allocation triples (sku, node, qty) after the status. */
static void result_alloc(ib_conn *c, const redisReply *r, ib_result *res) {
    size_t pieces = (r->elements - 1) / 3;
    if ((r->elements - 1) % 3 != 0 || pieces > IB_ALLOC_MAX) {
        result_internal(c, res, "malformed allocation");
        return;
    }
    const inv_scenario *s = c->t->scn;
    for (size_t k = 0; k < pieces; k++) {
        const redisReply *sku = r->element[1 + 3 * k], *node = r->element[2 + 3 * k],
                         *qty = r->element[3 + 3 * k];
        if (!reply_is_int(sku) || !reply_is_int(node) || !reply_is_int(qty) ||
            sku->integer < 0 || sku->integer >= s->sku_count || node->integer < 0 ||
            node->integer >= s->node_count || qty->integer <= 0 || qty->integer > UINT32_MAX) {
            result_internal(c, res, "allocation entry out of range");
            return;
        }
        res->alloc[k].sku = (uint32_t)sku->integer;
        res->alloc[k].node = (uint32_t)node->integer;
        res->alloc[k].qty = (uint32_t)qty->integer;
    }
    res->alloc_count = (uint32_t)pieces;
}

static void result_from_reply(ib_conn *c, ib_op op, const redisReply *r, ib_result *res) {
    res->alloc_count = 0;
    res->on_hand = res->reserved = res->available = 0;
    if (r->type == REDIS_REPLY_ERROR) {
        result_internal(c, res, r->str);
        return;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 1 || !reply_is_int(r->element[0]) ||
        r->element[0]->integer < INVC_OK || r->element[0]->integer > INVC_INTERNAL) {
        result_internal(c, res, "unexpected reply");
        return;
    }
    res->status = (int)r->element[0]->integer;
    if (res->status != INVC_OK) return;
    if (op == IB_OP_RESERVE) {
        result_alloc(c, r, res);
    } else if (op == IB_OP_AVAILABILITY) {
        if (r->elements != 4 || !reply_is_int(r->element[1]) || !reply_is_int(r->element[2]) ||
            !reply_is_int(r->element[3])) {
            result_internal(c, res, "malformed availability");
            return;
        }
        res->on_hand = r->element[1]->integer;
        res->reserved = r->element[2]->integer;
        res->available = r->element[3]->integer;
    }
}

/* Turn the replies already read into results, oldest first. */
static int conn_drain(ib_conn *c, ib_result *out, uint32_t max, uint32_t *got) {
    while (*got < max && c->count > 0) {
        void *reply = NULL;
        if (redisGetReplyFromReader(c->ctx, &reply) != REDIS_OK)
            return conn_fail(c, -EPROTO, "reading replies");
        if (reply == NULL) break;
        pending_request p = c->fifo[c->head];
        c->head = (c->head + 1) % IB_REDIS_INFLIGHT_MAX;
        c->count--;
        out[*got].user = p.user;
        result_from_reply(c, p.op, reply, &out[*got]);
        (*got)++;
        freeReplyObject(reply);
    }
    return 0;
}

static int redis_poll(ib_conn *c, ib_result *out, uint32_t max, int timeout_ms) {
    if (c->broken != 0) return c->broken;
    int64_t deadline = clock_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    uint32_t got = 0;
    for (;;) { /* bounded by the deadline */
        int sent_all = 0;
        if (redisBufferWrite(c->ctx, &sent_all) != REDIS_OK)
            return conn_fail(c, -ECONNRESET, "sending");
        if (conn_drain(c, out, max, &got) != 0) return c->broken;
        if (got == max || c->count == 0) return (int)got;
        int64_t left = got > 0 ? 0 : deadline - clock_ms();
        struct pollfd p = {.fd = c->ctx->fd,
                           .events = (short)(POLLIN | (sent_all ? 0 : POLLOUT))};
        int n = poll(&p, 1, left > 0 ? (int)left : 0);
        if (n < 0 && errno != EINTR) return conn_fail(c, -errno, "poll");
        if (n > 0 && (p.revents & (POLLIN | POLLERR | POLLHUP)) != 0) {
            if (redisBufferRead(c->ctx) != REDIS_OK) return conn_fail(c, -ECONNRESET, "receiving");
            if (conn_drain(c, out, max, &got) != 0) return c->broken;
        }
        if (got > 0 || clock_ms() >= deadline) return (int)got;
    }
}

static uint32_t redis_inflight(const ib_conn *c) { return c->count; }

static const char *redis_conn_error(const ib_conn *c) { return c->error; }

static void redis_disconnect(ib_conn *c) {
    if (c == NULL) return;
    redisFree(c->ctx);
    free(c);
}

/* ====================================================================================
 * On-demand expiry
 * ==================================================================================== */
int ib_redis_expire_due(ib_target *t, uint32_t max, uint32_t *expired, char *err,
                        size_t err_len) {
    if (max < 1 || max > IB_REDIS_EXPIRE_CALL_MAX) {
        err_set(err, err_len, "expire_due: max must be 1..%u", IB_REDIS_EXPIRE_CALL_MAX);
        return -EINVAL;
    }
    redisContext *c = admin_connect(t, ADMIN_TIMEOUT_MS, err, err_len);
    if (c == NULL) return -ECONNREFUSED;
    call_args *a = malloc(sizeof *a);
    if (a == NULL) {
        redisFree(c);
        err_set(err, err_len, "expire_due: out of memory");
        return -ENOMEM;
    }
    args_call_head(a, t, 1);
    ARGS_LIT(a, KEY_EXPIRY);
    ARGS_LIT(a, "X");
    args_num(a, "", 0, max);
    redisReply *r = admin_call(c, a->argc, a->argv, a->len, err, err_len);
    int rc = r == NULL ? -EIO : 0;
    if (r != NULL && (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
                      !reply_is_int(r->element[0]) || r->element[0]->integer != INVC_OK ||
                      !reply_is_int(r->element[1]))) {
        err_set(err, err_len, "expire_due: unexpected reply");
        rc = -EPROTO;
    }
    if (rc == 0 && expired != NULL) *expired = (uint32_t)r->element[1]->integer;
    if (r != NULL) freeReplyObject(r);
    free(a);
    redisFree(c);
    return rc;
}

const ib_backend ib_backend_redis = {
    .name = "redis",
    .open = redis_open,
    .prepare = redis_prepare,
    .connect = redis_connect,
    .submit = redis_submit,
    .poll = redis_poll,
    .inflight = redis_inflight,
    .conn_error = redis_conn_error,
    .disconnect = redis_disconnect,
    .describe = redis_describe,
    .close = redis_close,
};
