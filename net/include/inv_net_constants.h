/*
 * inv_net_constants.h — every fixed bound of invd's network front, in one place.
 *
 * Each bound says why it has its value; the _Static_asserts at the end pin how they
 * relate to each other and to the engine's bounds (inv_constants.h). Values an operator
 * may tune are given as _DEFAULT (what `invd` uses when not told otherwise) with the
 * _MIN/_MAX range the config parser accepts; the rest are compile-time.
 *
 * Memory per shard is bounded by: slots × sizeof(net_slot) (op slots, each with its
 * own decode arena) + recv buffer ring + connections × (out buffer + in buffer), where
 * a connection's buffers are allocated when it is accepted and capped below.
 */
#ifndef INV_NET_CONSTANTS_H
#define INV_NET_CONSTANTS_H

#include "inv_constants.h"

/* ---- Framing ---------------------------------------------------------------------- */

/* A frame is a 4-byte big-endian length, then that many bytes of protobuf. */
#define INV_NET_HEADER_BYTES 4u

/* Largest request frame body a server accepts (DESIGN.md §7: 1 MiB default). A length
 * prefix above it closes the connection before anything is allocated for it. */
#define INV_NET_FRAME_BYTES_DEFAULT (1u << 20)
#define INV_NET_FRAME_BYTES_MIN 4096u
#define INV_NET_FRAME_BYTES_MAX (16u << 20)

/* Largest response body the server can produce: the biggest result is an availability
 * list of INV_NET_AVAIL_NODES_MAX entries or a node page, each a few KiB; 64 KiB leaves
 * room for ids at their maximum length everywhere (checked at encode time). */
#define INV_NET_RESPONSE_BYTES_MAX (64u << 10)

/* ---- Per-request bounds ----------------------------------------------------------- */

/* Per-node entries a GetAvailability answer lists at most (max_nodes is clamped). */
#define INV_NET_AVAIL_NODES_MAX 256u

/* Nodes a ListNodes page holds at most (limit is clamped; clients page by offset). */
#define INV_NET_LIST_NODES_PAGE_MAX 32u
#define INV_NET_LIST_NODES_PAGE_DEFAULT 32u

/* Bytes a decoded request may take in its slot's arena: a Reserve of INV_LINES_MAX
 * lines with every id at INV_ID_LEN_MAX needs about 5 KiB; anything that needs more
 * (unknown fields in bulk, repeated fields far beyond the limits) is refused with
 * INVALID_ARGUMENT instead of allocating. */
#define INV_NET_DECODE_ARENA_BYTES (8u << 10)

/* Nesting depth the wire pre-scan follows (Request → ReserveRequest → Line). */
#define INV_NET_SCAN_DEPTH_MAX 4u

/* Fields the wire pre-scan visits per frame before giving up (bounds its work on a
 * frame of tiny fields: 1 MiB of 2-byte fields is 512 Ki fields). */
#define INV_NET_SCAN_FIELDS_MAX (1u << 20)

/* ---- Connections and shards -------------------------------------------------------- */

/* Open client connections over all shards. */
#define INV_NET_CONNECTIONS_DEFAULT 4096u
#define INV_NET_CONNECTIONS_MAX 65536u

/* Requests one connection may have in flight (decoded, not yet answered). Past it the
 * server stops reading that connection until replies leave: pipelining depth. */
#define INV_NET_CONN_INFLIGHT_DEFAULT 512u
#define INV_NET_CONN_INFLIGHT_MAX 8192u

/* Op slots per shard: requests in flight on one shard's connections at once. When all
 * are taken the shard stops parsing until some complete (backpressure, not an error). */
#define INV_NET_SLOTS_DEFAULT 4096u
#define INV_NET_SLOTS_MIN 64u
#define INV_NET_SLOTS_MAX 65536u

/* Per-connection output buffer: replies not yet taken by the client. When the next
 * reply does not fit, the connection stops being read (backpressure) until the client
 * reads; if it does not read for write_timeout_ms it is closed. */
#define INV_NET_OUT_BYTES_DEFAULT (256u << 10)
#define INV_NET_OUT_BYTES_MIN (192u << 10)
#define INV_NET_OUT_BYTES_MAX (64u << 20)

/* Unparsed input a connection may buffer while it is not being parsed (in-flight cap
 * reached, output full, slots exhausted) before its receive is cancelled; and the hard
 * ceiling above the largest frame, past which the connection is closed (only reachable
 * by a client that keeps sending while the server has told TCP to stop). */
#define INV_NET_IN_SOFT_BYTES (64u << 10)
#define INV_NET_IN_SLACK_BYTES (4u << 20)

/* ---- io_uring --------------------------------------------------------------------- */

/* Submission queue entries per shard ring (completion queue is twice that). */
#define INV_NET_RING_ENTRIES 4096u

/* Provided receive buffers per shard (a power of 2) and the size of each: 512 × 16 KiB
 * = 8 MiB per shard of receive memory, shared by all its connections. */
#define INV_NET_RECV_BUFS 512u
#define INV_NET_RECV_BUF_BYTES (16u << 10)

/* Completions handled per loop pass before the engine is polled again, so a flood of
 * network events never starves forwarded ops and durability checks. */
#define INV_NET_CQE_BATCH_MAX 1024u

/* Listen backlog. */
#define INV_NET_BACKLOG 4096

/* ---- Timeouts (milliseconds) -------------------------------------------------------- */

/* A connection with nothing in flight and no byte received for this long is closed. */
#define INV_NET_IDLE_TIMEOUT_MS_DEFAULT (300u * 1000u)
/* A frame that has begun must be complete within this (slow-sender defence: a client
 * trickling one byte a second holds a connection at most this long). */
#define INV_NET_FRAME_TIMEOUT_MS_DEFAULT (10u * 1000u)
/* Pending output that makes no progress for this long closes the connection. */
#define INV_NET_WRITE_TIMEOUT_MS_DEFAULT (30u * 1000u)
/* Graceful shutdown: in-flight work and unsent replies get at most this long. */
#define INV_NET_DRAIN_TIMEOUT_MS_DEFAULT (10u * 1000u)
#define INV_NET_TIMEOUT_MS_MAX (24u * 3600u * 1000u)
/* Timer checks (timeouts) run at most this often per shard. */
#define INV_NET_TIMER_TICK_MS 100u
/* After a pass that did work, a shard polls without sleeping for this long: under load
 * the next request or forwarded reply is microseconds away, and a sleep costs a
 * wake-up (eventfd write + scheduler) on both sides. Idle shards still sleep. */
#define INV_NET_SPIN_US_DEFAULT 50u
/* Longest a shard sleeps in io_uring_enter with nothing to do. */
#define INV_NET_SLEEP_MS_MAX 100u
/* While a WAL batch is in flight (or a reply waits for one), a shard with nothing else
 * to do looks at the log's completions this often: the durable LSN advances only when
 * the owner reaps its log's ring, and that ring does not wake the network ring. */
#define INV_NET_WAL_POLL_US 50u

/* ---- Logging ---------------------------------------------------------------------- */

/* Warnings about misbehaving clients per shard per second; the rest are counted. */
#define INV_NET_WARN_PER_SEC_MAX 20u
#define INV_NET_LOG_LINE_MAX 512u

/* ---- Client library ---------------------------------------------------------------- */

/* Requests one client may have in flight (async API); replies queue per client. */
#define INV_CLIENT_INFLIGHT_MAX 65536u
#define INV_CLIENT_OUT_BYTES (1u << 20)

/* ---- Relations ---------------------------------------------------------------------- */

_Static_assert(INV_NET_FRAME_BYTES_MIN <= INV_NET_FRAME_BYTES_DEFAULT &&
                   INV_NET_FRAME_BYTES_DEFAULT <= INV_NET_FRAME_BYTES_MAX,
               "default frame size within range");
_Static_assert(INV_NET_FRAME_BYTES_MAX < (1u << 31), "a frame length fits 31 bits");
_Static_assert(INV_NET_OUT_BYTES_MIN >= 2u * (INV_NET_RESPONSE_BYTES_MAX + INV_NET_HEADER_BYTES),
               "an output buffer holds at least two largest responses");
_Static_assert(INV_NET_OUT_BYTES_DEFAULT >= INV_NET_OUT_BYTES_MIN, "default output cap");
_Static_assert(INV_NET_CONN_INFLIGHT_DEFAULT <= INV_NET_SLOTS_DEFAULT,
               "one connection cannot take every slot by default");
_Static_assert((INV_NET_RECV_BUFS & (INV_NET_RECV_BUFS - 1)) == 0,
               "provided buffer ring size is a power of 2");
_Static_assert(INV_NET_RECV_BUFS <= 32768u, "buffer ring entries fit the kernel's limit");
_Static_assert(INV_NET_RECV_BUF_BYTES <= INV_NET_IN_SOFT_BYTES,
               "one receive fits the soft input bound");
_Static_assert(INV_NET_AVAIL_NODES_MAX * 96u < INV_NET_RESPONSE_BYTES_MAX,
               "an availability list fits a response (≤ 96 B per entry with a 64-byte id)");
_Static_assert(INV_NET_LIST_NODES_PAGE_MAX * 192u < INV_NET_RESPONSE_BYTES_MAX,
               "a node page fits a response (≤ 192 B per node)");
_Static_assert(INV_ALLOC_MAX * 150u < INV_NET_RESPONSE_BYTES_MAX,
               "a full allocation fits a response (≤ 150 B per entry)");
_Static_assert(INV_NET_LIST_NODES_PAGE_DEFAULT <= INV_NET_LIST_NODES_PAGE_MAX, "page");
_Static_assert(INV_NET_CQE_BATCH_MAX <= 2u * INV_NET_RING_ENTRIES, "batch within the CQ");
_Static_assert(INV_NET_TIMER_TICK_MS <= INV_NET_SLEEP_MS_MAX, "timers run while idle");

#endif /* INV_NET_CONSTANTS_H */
