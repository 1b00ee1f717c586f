/*
 * ib_backend.h — a system invbench drives: invd (libinvclient, protobuf over TCP) or the
 * Redis + Lua baseline (hiredis). The harness is the same for both: the same scenario,
 * the same orders in the same order, the same connections and pipeline depth.
 *
 * A target is one server process (started by the backend on loopback, or an already
 * running one) holding the scenario's data. A connection is used by one thread.
 * Requests are pipelined: submit() queues, poll() sends what is queued and collects
 * results, in any order; each result carries the `user` cookie of its request.
 * Status codes are libinvclient's (INVC_OK, INVC_INSUFFICIENT_STOCK, …); the Redis
 * backend maps its script's answers onto the same codes so the report can compare.
 */
#ifndef IB_BACKEND_H
#define IB_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "inv_client.h"
#include "scenario.h"

typedef struct ib_target ib_target;
typedef struct ib_conn ib_conn;

typedef enum ib_op {
    IB_OP_RESERVE = 1,
    IB_OP_COMMIT = 2,
    IB_OP_RELEASE = 3,
    IB_OP_AVAILABILITY = 4,
} ib_op;

typedef struct ib_request {
    ib_op op;
    void *user;                  /* returned in the result */
    const char *order_id;        /* COMMIT RELEASE, and RESERVE (NULL: order->order_id):
                                    NUL-terminated, < 24 bytes; the harness makes it
                                    unique per run */
    const inv_scn_order *order;  /* RESERVE: lines, customer, destination, pickup node */
    uint32_t order_index;        /* RESERVE: index of `order` in the prepared pool */
    uint64_t ttl_ms;             /* RESERVE: hold time of an unpaid reservation */
    uint32_t sku;                /* AVAILABILITY: scenario SKU index */
} ib_request;

#define IB_ALLOC_MAX 32u

typedef struct ib_alloc {
    uint32_t sku, node;          /* scenario indices */
    uint32_t qty;
} ib_alloc;

typedef struct ib_result {
    void *user;
    int status;                  /* INVC_* */
    /* RESERVE OK: where the units come from (one entry per line and node). */
    uint32_t alloc_count;
    ib_alloc alloc[IB_ALLOC_MAX];
    /* AVAILABILITY OK: totals over every node holding the SKU. */
    int64_t on_hand, reserved, available;
} ib_result;

typedef struct ib_target_config {
    const inv_scenario *scenario;
    const char *work_dir;        /* exists; the backend's private scratch (data, logs) */
    /* invd: "fsync" | "async" | "none";  redis: "none" | "everysec" | "always" */
    const char *persistence;
    const char *server_path;     /* binary to start; NULL: the backend's default */
    const char *host;            /* with port != 0: use this running server, load it */
    uint16_t port;               /* 0: start a server on 127.0.0.1 and a free port */
    uint32_t shards;             /* invd: shard threads (0: server default) */
    bool quiet;                  /* no progress lines while loading */
} ib_target_config;

typedef struct ib_backend {
    const char *name;            /* "invd", "redis" */
    /* Start (or attach to) the server and load the scenario: nodes, stock, safety,
     * purchase limits. @return 0 or a negative errno (reason in err). */
    int (*open)(const ib_target_config *cfg, ib_target **out, char *err, size_t err_len);
    /* Optional (may be NULL): called once with the order pool before anything is timed,
     * so per-order work the client would do (e.g. Redis's nearest-first candidate
     * lists) is not billed to the system under test's latency. */
    int (*prepare)(ib_target *t, const inv_scn_order *orders, uint32_t count, char *err,
                   size_t err_len);
    int (*connect)(ib_target *t, ib_conn **out, char *err, size_t err_len);
    /* Queue one request. @return 0, -EAGAIN (pipeline full: poll first), or another
     * negative errno when the connection is broken. */
    int (*submit)(ib_conn *c, const ib_request *rq);
    /* Send what is queued, then collect up to `max` results, waiting up to timeout_ms
     * for the first (0: only what has arrived). @return results written, or -errno. */
    int (*poll)(ib_conn *c, ib_result *out, uint32_t max, int timeout_ms);
    uint32_t (*inflight)(const ib_conn *c);
    const char *(*conn_error)(const ib_conn *c);
    void (*disconnect)(ib_conn *c);
    /* One line for the report: server version, persistence, pid, port. */
    const char *(*describe)(const ib_target *t);
    /* Stop the server the backend started (by its pid); leave a running one alone. */
    void (*close)(ib_target *t);
} ib_backend;

extern const ib_backend ib_backend_invd;
extern const ib_backend ib_backend_redis;

#endif /* IB_BACKEND_H */
