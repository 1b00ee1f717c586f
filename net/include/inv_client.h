/*
 * inv_client.h — libinvclient: the C client of invd (protobuf over TCP).
 *
 *   pkg-config --cflags --libs invclient
 *
 * Two ways to call:
 *   - blocking: inv_client_reserve(c, &args, &reply) sends one request and waits for
 *     its reply (no other request of this client may be in flight);
 *   - pipelined: inv_client_submit() many requests (each returns its request id), then
 *     inv_client_poll() collects replies as they come — in any order; match them by
 *     reply.request_id or by the `user` cookie given at submit.
 * A reply's strings and arrays point into memory the reply owns: read them, then call
 * inv_client_reply_free(). Status codes are the server's (INVC_OK = 0, …; the same
 * numbers as docs/protocol.md); functions return 0 or a negative errno for transport
 * problems (-ECONNRESET, -ETIMEDOUT, -EPROTO …; inv_client_error() says more).
 * One inv_client is one TCP connection and must be used by one thread at a time.
 */
#ifndef INV_CLIENT_H
#define INV_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define INV_CLIENT_LINES_MAX 32        /* lines per order */
#define INV_CLIENT_ALLOC_MAX 64        /* allocation entries per reservation */
#define INV_CLIENT_ALTERNATIVES_MAX 5  /* pickup alternatives */
#define INV_CLIENT_AVAIL_NODES_MAX 256 /* per-node availability entries */
#define INV_CLIENT_NODES_PAGE_MAX 32   /* nodes per ListNodes page */

/* Status codes (Response.status). */
typedef enum inv_client_status {
    INVC_OK = 0,
    INVC_INVALID_ARGUMENT = 1,
    INVC_NOT_FOUND = 2,
    INVC_CONFLICT = 3,
    INVC_INSUFFICIENT_STOCK = 4,
    INVC_LIMIT_EXCEEDED = 5,
    INVC_NO_ROUTE = 6,
    INVC_EXPIRED = 7,
    INVC_ALREADY_RELEASED = 8,
    INVC_ALREADY_COMMITTED = 9,
    INVC_DUPLICATE_REF = 10,
    INVC_RESOURCE_EXHAUSTED = 11,
    INVC_BUSY = 12,
    INVC_UNAVAILABLE = 13,
    INVC_INTERNAL = 14,
} inv_client_status;

/* Stable upper-case name of a status, e.g. "INSUFFICIENT_STOCK". */
const char *inv_client_status_name(int status);

typedef enum inv_client_durability {
    INVC_DURABILITY_UNSPECIFIED = 0, /* a read, or nothing changed */
    INVC_DURABILITY_FSYNC = 1,       /* durable on the server's disk before the reply */
    INVC_DURABILITY_ASYNC = 2,       /* replied before durable */
    INVC_DURABILITY_NONE = 3,        /* the server keeps no log */
} inv_client_durability;

/* Operations: the engine's op numbers (Request field number − 10). */
typedef enum inv_client_op {
    INVC_OP_RESERVE = 1,
    INVC_OP_COMMIT = 2,
    INVC_OP_RELEASE = 3,
    INVC_OP_EXTEND = 4,
    INVC_OP_GET_RESERVATION = 5,
    INVC_OP_ADJUST = 6,
    INVC_OP_RETURN = 7,
    INVC_OP_GET_AVAILABILITY = 8,
    INVC_OP_UPSERT_NODE = 9,
    INVC_OP_SET_NODE_STATUS = 10,
    INVC_OP_LIST_NODES = 11,
    INVC_OP_SET_SAFETY = 12,
    INVC_OP_SET_LIMIT = 13,
    INVC_OP_PING = 30,
    INVC_OP_GET_STATS = 31,
} inv_client_op;

/* Node kinds, node statuses, routing policies, reservation states: wire numbers. */
enum { INVC_WAREHOUSE = 0, INVC_STORE = 1, INVC_LOCKER = 2 };
enum { INVC_NODE_ACTIVE = 0, INVC_NODE_PAUSED = 1, INVC_NODE_CLOSED = 2 };
enum {
    INVC_ROUTE_NEAREST = 0,
    INVC_ROUTE_SINGLE_NODE_ONLY = 1,
    INVC_ROUTE_PRIORITY = 2,
    INVC_ROUTE_PICKUP = 3
};
enum { INVC_HELD = 0, INVC_COMMITTED = 1, INVC_RELEASED = 2, INVC_EXPIRED_STATE = 3 };

/* ------------------------------------------------------------------------------------
 * Request arguments. Strings are NUL-terminated, copied at submit.
 * ------------------------------------------------------------------------------------ */
typedef struct inv_client_line {
    const char *sku;
    uint32_t qty;
} inv_client_line;

typedef struct inv_client_reserve_args {
    const char *order_id; /* idempotency key */
    const char *customer_id;
    bool has_point; /* ship to (lat, lon) */
    double lat, lon;
    const char *pickup_node_id; /* PICKUP policy */
    const inv_client_line *lines;
    uint32_t line_count; /* 1..INV_CLIENT_LINES_MAX */
    uint64_t ttl_ms;
    int policy;             /* INVC_ROUTE_* */
    uint32_t max_parcels;   /* 0: server default */
    double max_distance_km; /* 0: unlimited */
} inv_client_reserve_args;

typedef struct inv_client_adjust_args {
    const char *node_id, *sku;
    bool has_set_to; /* set on_hand to set_to, else add delta */
    int64_t delta, set_to;
    const char *ref_id; /* dedupe key or NULL */
} inv_client_adjust_args;

typedef struct inv_client_return_args {
    const char *node_id, *sku;
    uint32_t qty;
    const char *ref_id;
} inv_client_return_args;

typedef struct inv_client_availability_args {
    const char *sku;
    bool has_point;
    double lat, lon, radius_km;
    uint32_t max_nodes; /* per-node entries wanted (≤ INV_CLIENT_AVAIL_NODES_MAX) */
} inv_client_availability_args;

typedef struct inv_client_node_spec {
    const char *node_id;
    int kind; /* INVC_WAREHOUSE / STORE / LOCKER */
    double lat, lon;
    const char *region;
    bool ships, pickup;
    uint32_t capacity_per_day, priority;
    int status; /* INVC_NODE_* */
} inv_client_node_spec;

typedef struct inv_client_request {
    inv_client_op op;
    union {
        inv_client_reserve_args reserve;
        struct {
            const char *order_id;
        } order; /* COMMIT RELEASE GET_RESERVATION */
        struct {
            const char *order_id;
            uint64_t ttl_ms;
        } extend;
        inv_client_adjust_args adjust;
        inv_client_return_args ret;
        inv_client_availability_args availability;
        inv_client_node_spec node; /* UPSERT_NODE */
        struct {
            const char *node_id;
            int status;
        } node_status;
        struct {
            uint32_t offset, limit;
        } list_nodes;
        struct {
            const char *node_id, *sku;
            uint32_t safety;
        } safety;
        struct {
            const char *sku;
            uint32_t limit_per_customer;
        } limit;
    } in;
} inv_client_request;

/* ------------------------------------------------------------------------------------
 * Replies.
 * ------------------------------------------------------------------------------------ */
typedef struct inv_client_alloc {
    const char *sku, *node_id;
    uint32_t qty;
} inv_client_alloc;

typedef struct inv_client_reservation {
    int state; /* INVC_HELD … */
    bool is_tombstone;
    uint64_t expires_at_ms;
    uint32_t parcels;
    double cost;
    uint32_t alloc_count;
    inv_client_alloc alloc[INV_CLIENT_ALLOC_MAX];
    uint32_t shortfall_count; /* INSUFFICIENT_STOCK: one per request line */
    uint32_t shortfall[INV_CLIENT_LINES_MAX];
    uint32_t alternative_count;
    const char *alternatives[INV_CLIENT_ALTERNATIVES_MAX];
} inv_client_reservation;

typedef struct inv_client_cell {
    const char *sku, *node_id;
    int64_t on_hand, reserved, safety, available, applied_delta;
} inv_client_cell;

typedef struct inv_client_node_avail {
    const char *node_id;
    int64_t available;
    double distance_km;
} inv_client_node_avail;

typedef struct inv_client_availability {
    const char *sku;
    int64_t total_available, total_on_hand, total_reserved;
    uint32_t node_count; /* matching nodes (may exceed the entries listed) */
    uint32_t nodes_listed;
    inv_client_node_avail nodes[INV_CLIENT_AVAIL_NODES_MAX];
} inv_client_availability;

typedef struct inv_client_node_info {
    uint32_t index;
    const char *node_id, *region;
    int kind, status;
    double lat, lon;
    bool ships, pickup;
    uint32_t capacity_per_day, allocated_today, priority;
} inv_client_node_info;

typedef struct inv_client_node_list {
    uint32_t total; /* nodes in the catalog */
    uint32_t count; /* in this page */
    inv_client_node_info nodes[INV_CLIENT_NODES_PAGE_MAX];
} inv_client_node_list;

typedef struct inv_client_stats {
    uint64_t nodes, skus, cells, reservations_live, tombstones;
    uint64_t reserves_ok, reserves_failed, sold_out_fast_path;
    uint64_t commits, releases, expirations, reservation_bytes;
    uint32_t shards;
    uint64_t connections, requests, uptime_ms;
    int durability;
} inv_client_stats;

typedef enum inv_client_result {
    INVC_RESULT_NONE = 0,
    INVC_RESULT_RESERVATION = 11,
    INVC_RESULT_CELL = 12,
    INVC_RESULT_AVAILABILITY = 13,
    INVC_RESULT_NODE = 14,
    INVC_RESULT_NODE_LIST = 15,
    INVC_RESULT_LIMIT = 16,
    INVC_RESULT_PONG = 40,
    INVC_RESULT_STATS = 41,
} inv_client_result;

typedef struct inv_client_reply {
    uint64_t request_id;
    void *user;          /* the cookie given to inv_client_submit */
    int status;          /* INVC_* */
    const char *message; /* "" on success */
    int durability;      /* INVC_DURABILITY_* */
    uint64_t lsn;
    uint32_t lsn_shard;
    inv_client_result result; /* which member of r is filled */
    union {
        inv_client_reservation reservation;
        inv_client_cell cell;
        inv_client_availability availability;
        struct {
            const char *node_id;
            uint32_t index;
            bool created;
        } node;
        inv_client_node_list node_list;
        struct {
            const char *sku;
            uint32_t limit_per_customer;
        } limit;
        struct {
            uint64_t server_time_ms;
            uint32_t shard;
        } pong;
        inv_client_stats stats;
    } r;
    void *raw_; /* owned decoded message: inv_client_reply_free */
} inv_client_reply;

/* ------------------------------------------------------------------------------------
 * Connection.
 * ------------------------------------------------------------------------------------ */
typedef struct inv_client inv_client;

typedef struct inv_client_options {
    int timeout_ms;           /* blocking calls and connect; 0: 10 000 */
    uint32_t frame_bytes_max; /* largest reply accepted; 0: 16 MiB */
} inv_client_options;

/* Connect to host:port (numeric address or name).
 * @param[out] out  the client, on success
 * @param opt       NULL for defaults
 * @return 0 or a negative errno. */
int inv_client_connect(inv_client **out, const char *host, uint16_t port,
                       const inv_client_options *opt);
void inv_client_close(inv_client *c);

/* Text of the last transport or protocol error. */
const char *inv_client_error(const inv_client *c);

/* Requests sent or queued whose replies have not been collected. */
uint32_t inv_client_inflight(const inv_client *c);

/* Queue one request (encoded at once; sent by inv_client_flush or inv_client_poll, or
 * when the send buffer fills).
 * @param user        cookie returned in the reply
 * @param[out] out_id the request id (may be NULL)
 * @return 0, -EINVAL (bad arguments), -EAGAIN (too many in flight: poll first), or a
 *         transport error. */
int inv_client_submit(inv_client *c, const inv_client_request *rq, void *user, uint64_t *out_id);

/* Send everything queued. @return 0 or a negative errno. */
int inv_client_flush(inv_client *c, int timeout_ms);

/* Send what is queued, then collect up to `max` replies, waiting up to timeout_ms for
 * the first (0: only what has arrived; -1: the client's timeout).
 * @return replies written to out (each to be freed), or a negative errno. */
int inv_client_poll(inv_client *c, inv_client_reply *out, uint32_t max, int timeout_ms);

void inv_client_reply_free(inv_client_reply *r);

/* ------------------------------------------------------------------------------------
 * Blocking calls: one request, wait for its reply (nothing else may be in flight).
 * @return 0 when a reply arrived (see reply->status), or a negative errno; on 0 the
 *         reply must be freed.
 * ------------------------------------------------------------------------------------ */
int inv_client_call(inv_client *c, const inv_client_request *rq, inv_client_reply *out);

int inv_client_reserve(inv_client *c, const inv_client_reserve_args *a, inv_client_reply *out);
int inv_client_commit(inv_client *c, const char *order_id, inv_client_reply *out);
int inv_client_release(inv_client *c, const char *order_id, inv_client_reply *out);
int inv_client_extend(inv_client *c, const char *order_id, uint64_t ttl_ms, inv_client_reply *out);
int inv_client_get_reservation(inv_client *c, const char *order_id, inv_client_reply *out);
int inv_client_adjust(inv_client *c, const inv_client_adjust_args *a, inv_client_reply *out);
int inv_client_return_stock(inv_client *c, const inv_client_return_args *a, inv_client_reply *out);
int inv_client_get_availability(inv_client *c, const inv_client_availability_args *a,
                                inv_client_reply *out);
int inv_client_upsert_node(inv_client *c, const inv_client_node_spec *n, inv_client_reply *out);
int inv_client_set_node_status(inv_client *c, const char *node_id, int status,
                               inv_client_reply *out);
int inv_client_list_nodes(inv_client *c, uint32_t offset, uint32_t limit, inv_client_reply *out);
int inv_client_set_safety(inv_client *c, const char *node_id, const char *sku, uint32_t safety,
                          inv_client_reply *out);
int inv_client_set_limit(inv_client *c, const char *sku, uint32_t limit_per_customer,
                         inv_client_reply *out);
int inv_client_ping(inv_client *c, inv_client_reply *out);
int inv_client_get_stats(inv_client *c, inv_client_reply *out);

#ifdef __cplusplus
}
#endif

#endif /* INV_CLIENT_H */
