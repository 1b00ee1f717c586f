/*
 * net_int.h — the server's internal structures (private to net/src).
 *
 * Ownership: everything in a net_shard (its connections, slots, queues, metrics) is
 * written only by that shard's thread. Other threads read metrics (relaxed loads, from
 * the admin HTTP thread) and the `sleeping` flag (wake-up protocol, shard_loop.c).
 *
 * A request's life on the shard that received it (conn.c, shard_loop.c):
 *   frame parsed → slot taken → scanned + decoded (codec.c) → submitted to the engine
 *   (done at once, or forwarded to its owner shard and back through inv_shard_poll, or
 *   parked on the busy queue when the ring is full) → parked on the durability queue of
 *   op->lsn_shard until that LSN is durable → encoded into the connection's output
 *   buffer (or its ready queue when the buffer is full) → slot freed.
 * A slot names its connection by (index, generation); a reply for a connection that
 * closed meanwhile is dropped.
 */
#ifndef INV_NET_INT_H
#define INV_NET_INT_H

#include <assert.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "inv_engine.h"
#include "inv_frame.h"
#include "inv_net_constants.h"
#include "inv_server.h"
#include "inv_transport.h"
#include "invd.pb-c.h"

#define NET_CACHE_LINE 64
#define NET_NONE UINT32_MAX
/* Output buffers a shard keeps from closed connections, so that connection churn does
 * not map and unmap out_bytes_max per connection. */
#define NET_OUT_CACHE 64u

/* ====================================================================================
 * Metrics (metrics.c): single-writer counters, read relaxed by the admin thread.
 * ==================================================================================== */

/* Request kinds for metrics: engine ops 1..13 (inv_op_type), then these. */
#define NET_KIND_PING 14u
#define NET_KIND_STATS 15u
#define NET_KIND_INVALID 16u /* frame that did not decode to a request */
#define NET_KIND_COUNT 17u

/* Latency histogram bucket upper bounds in microseconds (Prometheus `le`). */
#define NET_LAT_BUCKETS 18u

typedef enum net_close_reason {
    NET_CLOSE_PEER = 0, /* client closed */
    NET_CLOSE_ERROR,    /* socket error */
    NET_CLOSE_FRAME_TOO_LARGE,
    NET_CLOSE_SLOW_SENDER, /* frame not completed within frame_timeout_ms */
    NET_CLOSE_IDLE,
    NET_CLOSE_WRITE_STALL,    /* replies not read within write_timeout_ms */
    NET_CLOSE_INPUT_OVERFLOW, /* kept sending far past backpressure */
    NET_CLOSE_SHUTDOWN,
    NET_CLOSE_REASON_COUNT,
} net_close_reason;

typedef struct net_metrics {
    _Atomic uint64_t requests[NET_KIND_COUNT][INV_STATUS_COUNT];
    _Atomic uint64_t lat_buckets[NET_KIND_COUNT][NET_LAT_BUCKETS];
    _Atomic uint64_t lat_sum_us[NET_KIND_COUNT];
    _Atomic uint64_t conns_accepted, conns_rejected;
    _Atomic uint64_t conns_closed[NET_CLOSE_REASON_COUNT];
    _Atomic uint64_t bytes_in, bytes_out;
    _Atomic uint64_t busy_retries; /* submits refused by a full forwarding ring */
    _Atomic uint64_t backpressure; /* times a connection stopped being read */
    _Atomic uint64_t loop_passes;
    _Atomic uint64_t answered; /* replies produced */
    /* Gauges. */
    _Atomic uint64_t conns_open, slots_used, busy_depth, durable_wait_depth;
    _Atomic uint64_t heartbeat_ms; /* last loop pass (monotonic ms) */
} net_metrics;

/* Add to a counter only this thread writes: a plain load/add/store, no locked op. */
#define NET_METRIC_ADD(field, n)                                                                   \
    atomic_store_explicit(&(field), atomic_load_explicit(&(field), memory_order_relaxed) + (n),    \
                          memory_order_relaxed)
#define NET_METRIC_SET(field, v) atomic_store_explicit(&(field), (v), memory_order_relaxed)

void metrics_request_done(net_metrics *m, uint32_t kind, inv_status st, uint64_t lat_ns);

/* ====================================================================================
 * Op slots (codec.c fills them, conn.c moves them).
 * ==================================================================================== */

typedef enum net_slot_state {
    NET_SLOT_FREE = 0,
    NET_SLOT_DECODED,      /* op ready, not yet submitted */
    NET_SLOT_BUSY,         /* on the busy queue: ring to the owner was full */
    NET_SLOT_FORWARDED,    /* in the engine, on another shard */
    NET_SLOT_DURABLE_WAIT, /* done; waiting for its WAL record to be durable */
    NET_SLOT_READY,        /* done; waiting for room in the connection's output */
} net_slot_state;

typedef struct net_arena {
    uint32_t used;
    uint32_t failed; /* an allocation did not fit */
    _Alignas(16) uint8_t bytes[INV_NET_DECODE_ARENA_BYTES];
} net_arena;

typedef struct net_slot {
    /* Hot metadata first: one cache line touched per request besides the op. */
    struct net_slot *next; /* free list, busy queue, durability queue or ready queue */
    uint64_t request_id;
    uint64_t t_start_ns; /* monotonic time the frame was parsed */
    uint64_t wait_lsn;   /* LSN of op.lsn_shard's log that must be durable first */
    uint64_t wait_group; /* and this dependency group of the shard (net_wal_dep_join) */
    uint32_t conn;
    uint32_t conn_gen;
    uint32_t kind; /* inv_op_type, NET_KIND_PING/STATS/INVALID */
    net_slot_state state;
    bool mutation; /* the op may change state: its reply waits for durability */
    /* Request fields echoed in results (point into the arena). */
    const char *echo_node; /* node_id of the request (cell and node results) */
    const char *echo_sku;  /* sku of the request (cell, availability, limit results) */
    uint32_t echo_u32;     /* SetLimit: the limit */
    inv_op op;             /* op.user points back at the slot */
    inv_line lines[INV_LINES_MAX];
    union {
        inv_node_avail avail[INV_NET_AVAIL_NODES_MAX];
        inv_node_info nodes[INV_NET_LIST_NODES_PAGE_MAX];
    } outbuf;
    net_arena arena;
} net_slot;

typedef struct net_slot_queue {
    net_slot *head, *tail;
    uint32_t len;
} net_slot_queue;

static inline void slotq_push(net_slot_queue *q, net_slot *s) {
    assert(s->next == NULL);
    if (q->tail == NULL) q->head = s;
    else q->tail->next = s;
    q->tail = s;
    q->len++;
}

static inline net_slot *slotq_pop(net_slot_queue *q) {
    net_slot *s = q->head;
    if (s == NULL) return NULL;
    q->head = s->next;
    if (q->head == NULL) q->tail = NULL;
    s->next = NULL;
    q->len--;
    return s;
}

/* ====================================================================================
 * Codec (codec.c): wire pre-scan, request decoding into a slot, response encoding.
 * ==================================================================================== */

typedef struct codec_scan_result {
    uint64_t request_id;
    uint32_t op_field; /* field number of the op set (0: none) */
    char error[INV_MESSAGE_LEN_MAX];
} codec_scan_result;

/* Walk the protobuf wire format of a Request without allocating: request id, which op,
 * and the checks protobuf-c does not make (strings without NUL bytes, repeated fields
 * within their limits, wire types matching the schema, bounded nesting).
 * @return 0, or -EINVAL with out->error set (out->request_id is still the id if read). */
int codec_request_scan(const uint8_t *body, size_t len, codec_scan_result *out);

/* Decode body into slot (its arena, op, lines, outbuf), after a successful scan.
 * Sets slot->kind, slot->mutation, the op inputs.
 * @return INV_OK, or INV_INVALID_ARGUMENT with slot->op.message set. */
inv_status codec_request_decode(net_slot *slot, const uint8_t *body, size_t len);

/* What a response carries beyond the slot. */
typedef struct codec_server_info {
    inv_durability_mode durability;
    uint32_t shard;
    uint32_t shards;
    uint64_t connections;
    uint64_t requests;
    uint64_t uptime_ms;
} codec_server_info;

/* Scratch space for building one Response (per shard; no allocation per reply). */
typedef struct codec_encoder codec_encoder;
codec_encoder *codec_encoder_new(void);
void codec_encoder_free(codec_encoder *enc);

/* Encode the reply of a finished slot as a frame (header + body) into out[0..cap).
 * @return frame bytes written; 0 when it does not fit `cap` (nothing written). */
size_t codec_response_encode(codec_encoder *enc, const inv_engine *e, const net_slot *slot,
                             const codec_server_info *info, uint8_t *out, size_t cap);

/* Encode an error reply (request id, status, message, no result) as a frame.
 * @return frame bytes written, 0 when it does not fit. */
size_t codec_error_encode(uint64_t request_id, inv_status st, const char *message, uint8_t *out,
                          size_t cap);

/* ====================================================================================
 * Connections and shards (conn.c, shard_loop.c).
 * ==================================================================================== */

typedef enum net_conn_state {
    NET_CONN_FREE = 0,
    NET_CONN_OPEN,
    NET_CONN_CLOSING, /* transport close requested; waiting for CLOSED and slots */
} net_conn_state;

typedef struct net_conn {
    net_conn_state state;
    uint32_t gen;
    uint32_t inflight;    /* slots of this connection not yet answered */
    uint32_t open_pos;    /* index in shard->open list */
    uint32_t blocked_pos; /* index in shard->blocked_list when on_blocked */
    uint8_t *in;          /* unparsed input (partial frame, or data while blocked) */
    uint32_t in_len, in_cap;
    uint8_t *out; /* replies: [out_sent, out_len) not yet sent */
    uint32_t out_len, out_sent, out_sending;
    net_slot_queue ready;  /* replies waiting for room in `out` */
    bool transport_closed; /* CLOSED seen */
    bool send_busy;        /* a send is outstanding */
    bool recv_paused;
    bool blocked;           /* parsing stopped: in-flight cap, slots, output full */
    bool draining;          /* shutdown: no new requests */
    bool close_after_flush; /* fatal input: close once `out` is sent */
    bool on_dirty;          /* on shard->dirty (has output to send) */
    bool on_blocked;        /* on shard->blocked_list */
    net_close_reason close_reason;
    uint64_t last_rx_ms;     /* monotonic ms of the last byte received */
    uint64_t frame_start_ms; /* a partial frame is buffered since (0: none) */
    uint64_t tx_progress_ms; /* last time output made progress */
} net_conn;

typedef struct inv_server net_server; /* the public inv_server */
typedef struct net_wal net_wal;

typedef struct net_shard {
    _Alignas(NET_CACHE_LINE) net_server *srv;
    uint32_t index;
    inv_shard *es; /* engine shard */
    const inv_transport_type *tt;
    inv_transport *t;
    codec_encoder *enc;

    net_conn *conns; /* [conn_cap] */
    uint32_t conn_cap;
    uint32_t *open; /* open connection numbers, unordered */
    uint32_t open_count;
    uint32_t *dirty; /* connections with output to send */
    uint32_t dirty_count;
    uint32_t *blocked_list; /* connections whose parsing is stopped */
    uint32_t blocked_count;

    uint8_t *out_cache[NET_OUT_CACHE]; /* output buffers of closed connections, for reuse */
    uint32_t out_cached;
    net_slot *slots; /* [slot_count] */
    uint32_t slot_count;
    net_slot *slot_free;
    uint32_t slots_used;

    net_slot_queue busy;                         /* submit refused with -INV_BUSY: resubmit */
    net_slot_queue durable_wait[INV_SHARDS_MAX]; /* by op.lsn_shard, LSN order */
    uint32_t durable_waiting;
    uint64_t group_ready; /* dependency groups up to this one are durable */

    inv_transport_event *events; /* [INV_NET_CQE_BATCH_MAX] */
    uint64_t now_ms;             /* monotonic, read once per pass */
    uint64_t now_ns;
    uint64_t next_tick_ms;
    uint64_t next_snap_check_ms;
    uint32_t forwarded; /* ops sent to other shards this pass */
    bool stopping;      /* drain started on this shard */
    bool drained_reported;
    uint32_t warn_budget; /* rate limit of client-misbehaviour warnings */
    uint64_t warn_second;
    uint64_t warn_suppressed;

    _Alignas(NET_CACHE_LINE) _Atomic uint32_t sleeping; /* in poll with a timeout */
    _Alignas(NET_CACHE_LINE) net_metrics m;
} net_shard;

struct inv_server {
    inv_server_config cfg;
    inv_engine *engine;
    net_wal *wal; /* NULL: durability none */
    uint32_t shard_count;
    net_shard **shards;
    void *threads;            /* pthread_t[shard_count] */
    uint32_t threads_started; /* how many of them run */
    bool started;
    _Atomic uint32_t stop;        /* 1: drain requested */
    _Atomic uint32_t drained;     /* shards that finished draining */
    _Atomic uint32_t exited;      /* shard loops that returned */
    _Atomic uint32_t ready;       /* serving (recovered, not stopping) */
    _Atomic uint64_t conns_open;  /* over all shards */
    _Atomic uint32_t snap_phase;  /* 1: shard 0 asks every shard to park (snapshot) */
    _Atomic uint32_t snap_parked; /* shards parked at the snapshot barrier */
    uint64_t start_ms;            /* wall clock at open */
    _Atomic uint64_t drain_deadline_ms; /* monotonic; published before `stop` */
    uint16_t port;
    int32_t admin_port;
    void *admin; /* struct MHD_Daemon */
};

/* conn.c */
void conn_on_accept(net_shard *sh, uint32_t c);
void conn_on_data(net_shard *sh, uint32_t c, const uint8_t *data, uint32_t len);
void conn_on_eof(net_shard *sh, uint32_t c, int32_t result);
void conn_on_sent(net_shard *sh, uint32_t c, int32_t result);
void conn_on_closed(net_shard *sh, uint32_t c);
void conn_close(net_shard *sh, uint32_t c, net_close_reason why);
/* A slot's op finished in the engine (done here or forwarded back). */
void conn_op_complete(net_shard *sh, net_slot *slot);
/* Put the reply of a slot that needs nothing more into its connection's output. */
void conn_reply(net_shard *sh, net_slot *slot);
/* Retry parsing on blocked connections, send pending output. */
void conn_flush_all(net_shard *sh);
void conn_timers(net_shard *sh);
void conn_drain_begin(net_shard *sh);
bool conn_all_idle(const net_shard *sh);
int conn_tables_open(net_shard *sh);
void conn_tables_close(net_shard *sh);

/* shard_loop.c */
uint32_t shard_loop_pass(net_shard *sh, uint32_t timeout_us);
void *shard_thread_main(void *arg);
void shard_warn(net_shard *sh, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
uint64_t net_mono_ns(void);
uint64_t net_wall_ms(void);

/* wal.c: the link to persist/ (durable LSN per shard), or nothing. */
int net_wal_open(net_server *srv, inv_engine_config *ecfg, char *err, size_t errlen);
int net_wal_recover(net_server *srv, char *err, size_t errlen);
void net_wal_close(net_server *srv);
/* Durable LSN of shard `shard`'s log, once what its records give back is applied
 * (engine credit.c); any thread. UINT64_MAX when not logging. */
uint64_t net_wal_durable_lsn(const net_server *srv, uint32_t shard);
/* Once per loop pass on shard `shard`'s thread: reap, then start writing what was
 * appended. A failed write or fdatasync exits the process (inv_persist.h).
 * @return 1 when the log's durable LSN advanced since the last call (replies on other
 *         shards may be waiting for it), else 0. */
int net_wal_flush(net_server *srv, uint32_t shard);
/* Cross-shard causality (inv_persist.h): a reply also waits until every record its op
 * could have seen on any shard is durable.
 *   net_wal_pass_enter   before the pass runs engine work (its thread);
 *   net_wal_dep_join     a reply completed: the dependency group it waits for;
 *   net_wal_pass_settle  after net_wal_flush: publish this shard's durable passes,
 *                        capture the group of this pass, return the newest group whose
 *                        dependencies are all durable (UINT64_MAX when not logging). */
void net_wal_pass_enter(net_server *srv, uint32_t shard);
uint64_t net_wal_dep_join(net_server *srv, uint32_t shard);
uint64_t net_wal_pass_settle(net_server *srv, uint32_t shard);
/* Whether shard `shard`'s log has appended records not yet durable (its thread). */
bool net_wal_busy(const net_server *srv, uint32_t shard);
/* Snapshots (persist): whether one is due; start one (every shard parked: the engine is
 * quiescent); reap a finished one. */
bool net_wal_snapshot_due(net_server *srv);
int net_wal_snapshot_start(net_server *srv);
void net_wal_snapshot_poll(net_server *srv);
/* Shard 0's thread, stopping: wait for a running snapshot to end. The child dies with
 * the thread that forked it (PR_SET_PDEATHSIG), so that thread must outlive it. */
void net_wal_snapshot_finish(net_server *srv);
/* Final flush at shutdown (every shard thread has stopped). */
int net_wal_sync_all(net_server *srv);
/* Metrics text about the WAL, appended to buf. @return bytes written. */
size_t net_wal_metrics(const net_server *srv, char *buf, size_t cap);

/* admin.c */
int admin_start(net_server *srv, char *err, size_t errlen);
void admin_stop(net_server *srv);

/* metrics.c */
size_t metrics_render(net_server *srv, char *buf, size_t cap);

/* log.c */
void net_log_shard(inv_log_level level, uint32_t shard, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
bool net_log_enabled(inv_log_level level);

#endif /* INV_NET_INT_H */
