/*
 * conn.c — one shard's connections: input framing, request slots, replies, backpressure,
 * timeouts. Everything here runs on the shard's own thread.
 *
 * Input. Bytes arrive in the transport's receive buffers. Whole frames are decoded
 * straight from there; only the start of a frame that is not complete yet is copied
 * into the connection's `in` buffer (which therefore holds at most one partial frame
 * while the connection is being parsed). A length prefix above frame_bytes_max closes
 * the connection before anything is allocated for the frame.
 *
 * Backpressure. A connection stops being parsed ("blocked") when it has
 * conn_inflight_max requests in flight, when the shard has no free slot, or when its
 * replies are not being read (output more than half full, or replies queued for room).
 * While blocked, received bytes accumulate in `in`; past INV_NET_IN_SOFT_BYTES its
 * receive is cancelled so that TCP flow control pushes back on the client. Past the
 * hard ceiling (frame_bytes_max + INV_NET_IN_SLACK_BYTES) the connection is closed.
 * Blocked connections are re-examined once per loop pass (conn_flush_all).
 *
 * Output. Replies are encoded into `out`; one send per connection is outstanding at a
 * time, covering everything pending at the end of a loop pass (replies of one pass
 * leave together). A reply that does not fit waits on the connection's `ready` queue.
 *
 * Invariants:
 *   - out_sent ≤ out_len ≤ out_bytes_max; [out_sent, out_len) is unsent; while
 *     send_busy, [out_sent, out_sent + out_sending) belongs to the kernel and is not moved.
 *   - inflight == slots whose (conn, conn_gen) name this connection and are not freed.
 *   - A connection is freed only when the transport reported CLOSED and inflight == 0.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net_int.h"

/* ====================================================================================
 * Slots
 * ==================================================================================== */

static net_slot *slot_take(net_shard *sh) {
    net_slot *s = sh->slot_free;
    assert(s != NULL);
    assert(s->state == NET_SLOT_FREE);
    sh->slot_free = s->next;
    s->next = NULL;
    sh->slots_used++;
    return s;
}

/* The slot's work is over (answered or dropped): give it back. A slot of a connection
 * that was freed meanwhile names an old generation and touches nothing. */
static void slot_finish(net_shard *sh, net_slot *s) {
    assert(s->state != NET_SLOT_FREE);
    assert(sh->slots_used > 0);
    net_conn *cn = &sh->conns[s->conn];
    if (cn->state != NET_CONN_FREE && cn->gen == s->conn_gen) {
        assert(cn->inflight > 0);
        cn->inflight--;
    }
    s->state = NET_SLOT_FREE;
    s->arena.used = 0;
    s->arena.failed = 0;
    s->echo_node = s->echo_sku = NULL;
    s->next = sh->slot_free;
    sh->slot_free = s;
    sh->slots_used--;
}

/* ====================================================================================
 * Lists of connections
 * ==================================================================================== */

static void dirty_add(net_shard *sh, uint32_t c) {
    assert(c < sh->conn_cap);
    net_conn *cn = &sh->conns[c];
    if (cn->on_dirty) return;
    assert(sh->dirty_count < 2 * sh->conn_cap);
    cn->on_dirty = true;
    sh->dirty[sh->dirty_count++] = c;
}

static void blocked_add(net_shard *sh, uint32_t c) {
    assert(c < sh->conn_cap);
    net_conn *cn = &sh->conns[c];
    if (cn->on_blocked) return;
    assert(sh->blocked_count < sh->conn_cap);
    cn->on_blocked = true;
    cn->blocked_pos = sh->blocked_count;
    sh->blocked_list[sh->blocked_count++] = c;
}

static void blocked_remove(net_shard *sh, uint32_t c) {
    assert(c < sh->conn_cap);
    net_conn *cn = &sh->conns[c];
    if (!cn->on_blocked) return;
    uint32_t last = sh->blocked_list[--sh->blocked_count];
    sh->blocked_list[cn->blocked_pos] = last;
    sh->conns[last].blocked_pos = cn->blocked_pos;
    cn->on_blocked = false;
}

static void open_remove(net_shard *sh, uint32_t c) {
    assert(sh->open[sh->conns[c].open_pos] == c);
    net_conn *cn = &sh->conns[c];
    assert(sh->open_count > 0);
    uint32_t last = sh->open[--sh->open_count];
    sh->open[cn->open_pos] = last;
    sh->conns[last].open_pos = cn->open_pos;
}

/* ====================================================================================
 * Accept, close, free
 * ==================================================================================== */

static void conn_reject(net_shard *sh, uint32_t c, inv_status st, const char *why) {
    assert(c < sh->conn_cap);
    assert(st != INV_OK);
    uint8_t bye[256];
    size_t n = codec_error_encode(0, st, why, bye, sizeof bye);
    sh->tt->reject(sh->t, c, bye, (uint32_t)n);
    NET_METRIC_ADD(sh->m.conns_rejected, 1);
    shard_warn(sh, "connection refused: %s", why);
}

void conn_on_accept(net_shard *sh, uint32_t c) {
    net_server *srv = sh->srv;
    assert(c < sh->conn_cap);
    net_conn *cn = &sh->conns[c];
    assert(cn->state == NET_CONN_FREE);
    if (sh->stopping) {
        conn_reject(sh, c, INV_UNAVAILABLE, "server is stopping");
        return;
    }
    uint64_t open = atomic_fetch_add(&srv->conns_open, 1);
    if (open >= srv->cfg.connections_max) {
        atomic_fetch_sub(&srv->conns_open, 1);
        conn_reject(sh, c, INV_RESOURCE_EXHAUSTED, "too many connections");
        return;
    }
    uint32_t gen = cn->gen + 1;
    memset(cn, 0, sizeof *cn);
    cn->gen = gen;
    cn->out = sh->out_cached > 0 ? sh->out_cache[--sh->out_cached]
                                 : malloc(srv->cfg.out_bytes_max);
    if (cn->out == NULL) {
        atomic_fetch_sub(&srv->conns_open, 1);
        conn_reject(sh, c, INV_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    cn->state = NET_CONN_OPEN;
    cn->last_rx_ms = cn->tx_progress_ms = sh->now_ms;
    cn->open_pos = sh->open_count;
    sh->open[sh->open_count++] = c;
    NET_METRIC_ADD(sh->m.conns_accepted, 1);
    net_log_shard(INV_LOG_DEBUG, sh->index, "connection %u opened", c);
    sh->tt->start(sh->t, c);
}

/* Forget a connection the transport has closed. Slots still in the engine keep the old
 * generation and are dropped when they finish. */
static void conn_free(net_shard *sh, uint32_t c) {
    net_conn *cn = &sh->conns[c];
    assert(cn->state == NET_CONN_CLOSING);
    assert(cn->ready.len == 0);
    blocked_remove(sh, c);
    open_remove(sh, c);
    free(cn->in);
    if (sh->out_cached < NET_OUT_CACHE) sh->out_cache[sh->out_cached++] = cn->out;
    else free(cn->out);
    cn->in = cn->out = NULL;
    cn->state = NET_CONN_FREE;
    cn->gen++;
    cn->inflight = 0;
    cn->on_dirty = false;
    atomic_fetch_sub(&sh->srv->conns_open, 1);
    NET_METRIC_ADD(sh->m.conns_closed[cn->close_reason], 1);
}

void conn_close(net_shard *sh, uint32_t c, net_close_reason why) {
    assert(c < sh->conn_cap);
    assert(why < NET_CLOSE_REASON_COUNT);
    net_conn *cn = &sh->conns[c];
    if (cn->state != NET_CONN_OPEN) return;
    cn->state = NET_CONN_CLOSING;
    cn->close_reason = why;
    cn->in_len = 0;
    net_log_shard(INV_LOG_DEBUG, sh->index, "connection %u closing (reason %d)", c, (int)why);
    for (uint32_t i = 0; i < INV_NET_CONN_INFLIGHT_MAX && cn->ready.head != NULL; i++)
        slot_finish(sh, slotq_pop(&cn->ready));
    sh->tt->conn_close(sh->t, c);
}

void conn_on_closed(net_shard *sh, uint32_t c) {
    net_conn *cn = &sh->conns[c];
    assert(c < sh->conn_cap);
    assert(cn->state == NET_CONN_CLOSING);
    cn->transport_closed = true;
    conn_free(sh, c);
}

/* Fatal input: answer once with the reason (request id 0), stop reading, close after the
 * answer is sent (or the write timeout passes). */
static void conn_fail(net_shard *sh, uint32_t c, net_close_reason why, const char *msg) {
    assert(sh->conns[c].state == NET_CONN_OPEN);
    assert(msg != NULL);
    net_conn *cn = &sh->conns[c];
    shard_warn(sh, "closing connection %u: %s", c, msg);
    cn->close_after_flush = true;
    cn->close_reason = why;
    cn->in_len = 0;
    sh->tt->recv_pause(sh->t, c);
    cn->recv_paused = true;
    uint32_t room = sh->srv->cfg.out_bytes_max - cn->out_len;
    size_t n = codec_error_encode(0, INV_INVALID_ARGUMENT, msg, cn->out + cn->out_len, room);
    cn->out_len += (uint32_t)n;
    if (cn->out_len > cn->out_sent) dirty_add(sh, c);
    else if (cn->inflight == 0 && !cn->send_busy) conn_close(sh, c, why);
}

static void conn_too_large(net_shard *sh, uint32_t c, uint32_t body_len) {
    char msg[96];
    snprintf(msg, sizeof msg, "frame of %u bytes exceeds the maximum of %u", body_len,
             sh->srv->cfg.frame_bytes_max);
    conn_fail(sh, c, NET_CLOSE_FRAME_TOO_LARGE, msg);
}

void conn_on_eof(net_shard *sh, uint32_t c, int32_t result) {
    assert(c < sh->conn_cap);
    assert(result <= 0);
    net_conn *cn = &sh->conns[c];
    if (cn->state != NET_CONN_OPEN) return;
    net_close_reason why = result == 0 ? NET_CLOSE_PEER : NET_CLOSE_ERROR;
    bool pending = cn->inflight > 0 || cn->out_len > cn->out_sent;
    if (result == 0 && pending) { /* half-close: answer what was asked, then close */
        cn->close_after_flush = true;
        cn->close_reason = why;
        cn->in_len = 0;
        return;
    }
    conn_close(sh, c, why);
}

/* ====================================================================================
 * Output
 * ==================================================================================== */

static uint64_t conn_answered_total(const net_server *srv) {
    uint64_t n = 0;
    for (uint32_t i = 0; i < srv->shard_count; i++)
        n += atomic_load_explicit(&srv->shards[i]->m.answered, memory_order_relaxed);
    return n;
}

/* What a reply needs from the server; the expensive totals only for a stats reply. */
static codec_server_info conn_server_info(const net_shard *sh, uint32_t kind) {
    const net_server *srv = sh->srv;
    codec_server_info info = {
        .durability = srv->cfg.durability, .shard = sh->index, .shards = srv->shard_count};
    if (kind != NET_KIND_STATS) return info;
    info.connections = atomic_load_explicit(&((net_server *)srv)->conns_open, memory_order_relaxed);
    info.requests = conn_answered_total(srv);
    info.uptime_ms = net_wall_ms() - srv->start_ms;
    return info;
}

/* Encode slot's reply into cn->out. false: no room now. */
static bool conn_encode(net_shard *sh, uint32_t c, const net_slot *s) {
    assert(sh->conns[c].state == NET_CONN_OPEN);
    assert(s->conn == c);
    net_conn *cn = &sh->conns[c];
    uint32_t cap = sh->srv->cfg.out_bytes_max;
    if (cn->out_len == cn->out_sent && !cn->send_busy) {
        cn->out_len = cn->out_sent = 0;
        cn->tx_progress_ms = sh->now_ms;
    }
    if (cap - cn->out_len < INV_NET_RESPONSE_BYTES_MAX + INV_NET_HEADER_BYTES && !cn->send_busy &&
        cn->out_sent > 0) {
        memmove(cn->out, cn->out + cn->out_sent, cn->out_len - cn->out_sent);
        cn->out_len -= cn->out_sent;
        cn->out_sent = 0;
    }
    codec_server_info info = conn_server_info(sh, s->kind);
    size_t n = codec_response_encode(sh->enc, sh->srv->engine, s, &info, cn->out + cn->out_len,
                                     cap - cn->out_len);
    if (n == 0) return false;
    cn->out_len += (uint32_t)n;
    dirty_add(sh, c);
    return true;
}

void conn_reply(net_shard *sh, net_slot *s) {
    assert(s->state != NET_SLOT_FREE);
    uint64_t now = net_mono_ns();
    uint64_t lat = now > s->t_start_ns ? now - s->t_start_ns : 0;
    metrics_request_done(&sh->m, s->kind, s->op.status, lat);
    NET_METRIC_ADD(sh->m.answered, 1);
    net_conn *cn = &sh->conns[s->conn];
    if (cn->state != NET_CONN_OPEN || cn->gen != s->conn_gen) {
        slot_finish(sh, s);
        return;
    }
    if (cn->ready.len == 0 && conn_encode(sh, s->conn, s)) {
        slot_finish(sh, s);
        return;
    }
    s->state = NET_SLOT_READY;
    slotq_push(&cn->ready, s);
    cn->blocked = true;
    blocked_add(sh, s->conn);
}

static void conn_ready_drain(net_shard *sh, uint32_t c) {
    assert(c < sh->conn_cap);
    net_conn *cn = &sh->conns[c];
    for (uint32_t i = 0; i < INV_NET_CONN_INFLIGHT_MAX && cn->ready.head != NULL; i++) {
        if (!conn_encode(sh, c, cn->ready.head)) break;
        slot_finish(sh, slotq_pop(&cn->ready));
    }
}

void conn_on_sent(net_shard *sh, uint32_t c, int32_t result) {
    assert(c < sh->conn_cap);
    assert(sh->conns[c].send_busy || sh->conns[c].state != NET_CONN_OPEN);
    net_conn *cn = &sh->conns[c];
    cn->send_busy = false;
    if (cn->state != NET_CONN_OPEN) return;
    if (result < 0) {
        conn_close(sh, c, NET_CLOSE_ERROR);
        return;
    }
    assert((uint32_t)result <= cn->out_sending);
    NET_METRIC_ADD(sh->m.bytes_out, (uint64_t)result);
    cn->out_sent += (uint32_t)result;
    cn->out_sending = 0;
    cn->tx_progress_ms = sh->now_ms;
    if (cn->out_sent == cn->out_len) cn->out_len = cn->out_sent = 0;
    conn_ready_drain(sh, c);
    if (cn->out_len > cn->out_sent) dirty_add(sh, c);
    else if (cn->close_after_flush && cn->inflight == 0) conn_close(sh, c, cn->close_reason);
}

static void conn_send_pending(net_shard *sh, uint32_t c) {
    assert(c < sh->conn_cap);
    assert(sh->conns[c].out_sent <= sh->conns[c].out_len);
    net_conn *cn = &sh->conns[c];
    cn->on_dirty = false;
    if (cn->state != NET_CONN_OPEN || cn->send_busy || cn->out_len == cn->out_sent) return;
    uint32_t n = cn->out_len - cn->out_sent;
    int rc = sh->tt->send(sh->t, c, cn->out + cn->out_sent, n);
    if (rc != 0) {
        conn_close(sh, c, NET_CLOSE_ERROR);
        return;
    }
    cn->send_busy = true;
    cn->out_sending = n;
}

/* ====================================================================================
 * Requests
 * ==================================================================================== */

static void conn_submit(net_shard *sh, net_slot *s) {
    assert(s->state == NET_SLOT_DECODED);
    assert(s->kind >= INV_OP_RESERVE && s->kind < INV_OP_TYPE_COUNT);
    if (sh->busy.len > 0) { /* keep submission order behind earlier refused ops */
        s->state = NET_SLOT_BUSY;
        slotq_push(&sh->busy, s);
        return;
    }
    int rc = inv_shard_submit(sh->es, &s->op);
    if (rc == 1) {
        conn_op_complete(sh, s);
    } else if (rc == 0) {
        s->state = NET_SLOT_FORWARDED;
        sh->forwarded++;
    } else {
        assert(rc == -(int)INV_BUSY);
        s->state = NET_SLOT_BUSY;
        slotq_push(&sh->busy, s);
        NET_METRIC_ADD(sh->m.busy_retries, 1);
    }
}

/* One whole frame body: take a slot, decode, answer or submit. */
static void conn_request(net_shard *sh, uint32_t c, const uint8_t *body, uint32_t len) {
    assert(sh->conns[c].state == NET_CONN_OPEN);
    assert(len <= sh->srv->cfg.frame_bytes_max);
    net_conn *cn = &sh->conns[c];
    net_slot *s = slot_take(sh);
    s->conn = c;
    s->conn_gen = cn->gen;
    s->t_start_ns = sh->now_ns;
    s->state = NET_SLOT_DECODED;
    s->op.user = s;
    s->wait_lsn = 0;
    cn->inflight++;
    codec_scan_result scan;
    if (codec_request_scan(body, len, &scan) != 0) {
        s->kind = NET_KIND_INVALID;
        s->request_id = scan.request_id;
        s->op.status = INV_INVALID_ARGUMENT;
        memcpy(s->op.message, scan.error, sizeof s->op.message);
        conn_reply(sh, s);
        return;
    }
    s->request_id = scan.request_id;
    if (codec_request_decode(s, body, len) != INV_OK || s->kind >= NET_KIND_PING) {
        conn_reply(sh, s); /* invalid, ping, stats: answered here */
        return;
    }
    conn_submit(sh, s);
}

/* Whether the connection may take another request now. */
static bool conn_can_parse(const net_shard *sh, const net_conn *cn) {
    assert(cn->out_sent <= cn->out_len);
    if (cn->state != NET_CONN_OPEN || cn->draining || cn->close_after_flush) return false;
    if (cn->inflight >= sh->srv->cfg.conn_inflight_max || sh->slot_free == NULL) return false;
    if (cn->ready.len > 0) return false;
    return cn->out_len - cn->out_sent <= sh->srv->cfg.out_bytes_max / 2;
}

/* Parse whole frames from buf. @return bytes consumed (frames handled). */
static uint32_t conn_parse(net_shard *sh, uint32_t c, const uint8_t *buf, uint32_t len) {
    assert(c < sh->conn_cap);
    assert(buf != NULL || len == 0);
    net_conn *cn = &sh->conns[c];
    uint32_t off = 0;
    while (off < len) { /* each frame consumes ≥ INV_NET_HEADER_BYTES */
        if (!conn_can_parse(sh, cn)) {
            if (cn->state == NET_CONN_OPEN && !cn->close_after_flush) {
                cn->blocked = true;
                blocked_add(sh, c);
            }
            break;
        }
        inv_frame fr;
        uint32_t max = sh->srv->cfg.frame_bytes_max;
        inv_frame_result r = inv_frame_parse(buf + off, len - off, max, &fr);
        if (r == INV_FRAME_NEED_MORE) break;
        if (r == INV_FRAME_TOO_LARGE) {
            conn_too_large(sh, c, fr.body_len);
            return len;
        }
        conn_request(sh, c, fr.body, fr.body_len);
        off += (uint32_t)fr.frame_len;
        cn->frame_start_ms = 0;
    }
    return off;
}

/* Append to the input buffer, growing it up to the hard ceiling. false: closed. */
static bool conn_in_append(net_shard *sh, uint32_t c, const uint8_t *data, uint32_t len) {
    assert(sh->conns[c].in_len <= sh->conns[c].in_cap);
    assert(data != NULL);
    net_conn *cn = &sh->conns[c];
    uint64_t hard =
        (uint64_t)sh->srv->cfg.frame_bytes_max + INV_NET_HEADER_BYTES + INV_NET_IN_SLACK_BYTES;
    uint64_t need = (uint64_t)cn->in_len + len;
    if (need > hard) {
        conn_fail(sh, c, NET_CLOSE_INPUT_OVERFLOW, "input beyond the buffering limit");
        return false;
    }
    if (need > cn->in_cap) {
        uint64_t cap = cn->in_cap < INV_NET_RECV_BUF_BYTES ? INV_NET_RECV_BUF_BYTES : cn->in_cap;
        while (cap < need) cap *= 2;
        if (cap > hard) cap = hard;
        uint8_t *p = realloc(cn->in, (size_t)cap);
        if (p == NULL) {
            conn_fail(sh, c, NET_CLOSE_INPUT_OVERFLOW, "out of memory for input");
            return false;
        }
        cn->in = p;
        cn->in_cap = (uint32_t)cap;
    }
    memcpy(cn->in + cn->in_len, data, len);
    cn->in_len += len;
    return true;
}

/* The input buffer holds the start of one frame: complete it from data and handle it.
 * @return bytes of data used. */
static uint32_t conn_complete_partial(net_shard *sh, uint32_t c, const uint8_t *data,
                                      uint32_t len) {
    net_conn *cn = &sh->conns[c];
    uint32_t used = 0;
    for (int step = 0; step < 3 && cn->in_len > 0; step++) { /* header, then body */
        inv_frame fr;
        uint32_t max = sh->srv->cfg.frame_bytes_max;
        inv_frame_result r = inv_frame_parse(cn->in, cn->in_len, max, &fr);
        if (r == INV_FRAME_READY) {
            if (!conn_can_parse(sh, cn)) { /* the frame waits in `in` */
                cn->blocked = true;
                blocked_add(sh, c);
                return used;
            }
            conn_request(sh, c, fr.body, fr.body_len);
            if (cn->state == NET_CONN_OPEN && !cn->close_after_flush) cn->in_len = 0;
            cn->frame_start_ms = 0;
            return used;
        }
        if (r == INV_FRAME_TOO_LARGE) {
            conn_too_large(sh, c, fr.body_len);
            return len;
        }
        uint32_t take = (uint32_t)(fr.need - cn->in_len);
        if (take > len - used) take = len - used;
        if (take == 0 || !conn_in_append(sh, c, data + used, take)) return len;
        used += take;
    }
    return used;
}

/* After input: note when a partial frame started; cancel receive when buffering much. */
static void conn_input_settle(net_shard *sh, uint32_t c) {
    assert(c < sh->conn_cap);
    net_conn *cn = &sh->conns[c];
    if (cn->state != NET_CONN_OPEN) return;
    if (cn->in_len == 0) cn->frame_start_ms = 0;
    else if (cn->frame_start_ms == 0) cn->frame_start_ms = sh->now_ms;
    /* Unblocked, `in` holds one partial frame (≤ frame_bytes_max): keep reading it. */
    if (cn->blocked && cn->in_len >= INV_NET_IN_SOFT_BYTES && !cn->recv_paused) {
        sh->tt->recv_pause(sh->t, c);
        cn->recv_paused = true;
        NET_METRIC_ADD(sh->m.backpressure, 1);
    }
}

void conn_on_data(net_shard *sh, uint32_t c, const uint8_t *data, uint32_t len) {
    net_conn *cn = &sh->conns[c];
    assert(c < sh->conn_cap);
    NET_METRIC_ADD(sh->m.bytes_in, len);
    if (cn->state != NET_CONN_OPEN) return;
    cn->last_rx_ms = sh->now_ms;
    if (cn->draining || cn->close_after_flush) return; /* no new requests: discarded */
    uint32_t off = 0;
    if (cn->in_len > 0 && !cn->blocked) off = conn_complete_partial(sh, c, data, len);
    if (cn->in_len == 0 && !cn->blocked && off < len)
        off += conn_parse(sh, c, data + off, len - off);
    if (off < len && cn->state == NET_CONN_OPEN && !cn->close_after_flush)
        conn_in_append(sh, c, data + off, len - off);
    conn_input_settle(sh, c);
}

/* ====================================================================================
 * Per-pass work: unblock, send, timers, drain
 * ==================================================================================== */

/* A blocked connection: parse what it buffered if it may go on. false: still blocked. */
static bool conn_unblock(net_shard *sh, uint32_t c) {
    assert(sh->conns[c].on_blocked);
    net_conn *cn = &sh->conns[c];
    if (cn->state != NET_CONN_OPEN) return true;
    conn_ready_drain(sh, c);
    if (!conn_can_parse(sh, cn)) return cn->draining || cn->close_after_flush;
    cn->blocked = false;
    uint32_t used = conn_parse(sh, c, cn->in, cn->in_len);
    if (cn->state != NET_CONN_OPEN || cn->close_after_flush) return true;
    memmove(cn->in, cn->in + used, cn->in_len - used);
    cn->in_len -= used;
    if (cn->blocked) return false;
    if (cn->recv_paused) { /* `in` now holds at most the start of one frame: read on */
        sh->tt->recv_resume(sh->t, c);
        cn->recv_paused = false;
    }
    conn_input_settle(sh, c);
    return true;
}

void conn_flush_all(net_shard *sh) {
    assert(sh->dirty_count <= 2 * sh->conn_cap);
    assert(sh->blocked_count <= sh->conn_cap);
    for (uint32_t i = 0; i < sh->blocked_count;) {
        uint32_t c = sh->blocked_list[i];
        if (conn_unblock(sh, c)) {
            sh->conns[c].blocked = false;
            blocked_remove(sh, c);
            continue; /* the last entry moved into position i */
        }
        i++;
    }
    uint32_t n = sh->dirty_count;
    sh->dirty_count = 0;
    for (uint32_t i = 0; i < n; i++) conn_send_pending(sh, sh->dirty[i]);
}

/* One connection's timeouts. */
static void conn_timer_check(net_shard *sh, uint32_t c) {
    assert(sh->conns[c].state == NET_CONN_OPEN);
    net_conn *cn = &sh->conns[c];
    const inv_server_config *cfg = &sh->srv->cfg;
    uint64_t now = sh->now_ms;
    bool out_pending = cn->out_len > cn->out_sent || cn->ready.len > 0;
    if (out_pending && now - cn->tx_progress_ms > cfg->write_timeout_ms) {
        shard_warn(sh, "closing connection %u: replies not read for %u ms", c,
                   cfg->write_timeout_ms);
        conn_close(sh, c, NET_CLOSE_WRITE_STALL);
    } else if (cn->close_after_flush && !out_pending && cn->inflight == 0) {
        conn_close(sh, c, cn->close_reason);
    } else if (cn->frame_start_ms != 0 && !cn->blocked &&
               now - cn->frame_start_ms > cfg->frame_timeout_ms) {
        shard_warn(sh, "closing connection %u: frame incomplete after %u ms (slow sender)", c,
                   cfg->frame_timeout_ms);
        conn_close(sh, c, NET_CLOSE_SLOW_SENDER);
    } else if (cn->inflight == 0 && !out_pending && now - cn->last_rx_ms > cfg->idle_timeout_ms) {
        net_log_shard(INV_LOG_INFO, sh->index, "closing idle connection %u", c);
        conn_close(sh, c, NET_CLOSE_IDLE);
    }
}

void conn_timers(net_shard *sh) {
    assert(sh->open_count <= sh->conn_cap);
    /* Closing only changes states; entries leave the open list when freed. */
    for (uint32_t i = 0; i < sh->open_count; i++) {
        uint32_t c = sh->open[i];
        if (sh->conns[c].state == NET_CONN_OPEN) conn_timer_check(sh, c);
    }
}

void conn_drain_begin(net_shard *sh) {
    assert(sh->stopping);
    for (uint32_t i = 0; i < sh->open_count; i++) {
        uint32_t c = sh->open[i];
        net_conn *cn = &sh->conns[c];
        if (cn->state != NET_CONN_OPEN) continue;
        cn->draining = true;
        cn->in_len = 0;
        if (!cn->recv_paused) {
            sh->tt->recv_pause(sh->t, c);
            cn->recv_paused = true;
        }
    }
}

bool conn_all_idle(const net_shard *sh) {
    assert(sh->open_count <= sh->conn_cap);
    if (sh->slots_used > 0) return false;
    for (uint32_t i = 0; i < sh->open_count; i++) {
        const net_conn *cn = &sh->conns[sh->open[i]];
        if (cn->state == NET_CONN_OPEN && (cn->send_busy || cn->out_len > cn->out_sent))
            return false;
    }
    return true;
}

/* ====================================================================================
 * Tables
 * ==================================================================================== */

int conn_tables_open(net_shard *sh) {
    assert(sh->conns == NULL);
    assert(sh->srv->cfg.slots_per_shard >= INV_NET_SLOTS_MIN);
    const inv_server_config *cfg = &sh->srv->cfg;
    /* Room for every connection the server allows plus one poll's worth of new ones,
     * which arrive before the shard can refuse those over the limit. */
    sh->conn_cap = cfg->connections_max + INV_NET_CQE_BATCH_MAX;
    sh->conns = calloc(sh->conn_cap, sizeof *sh->conns);
    sh->open = calloc(sh->conn_cap, sizeof *sh->open);
    sh->dirty = calloc(2 * (size_t)sh->conn_cap, sizeof *sh->dirty);
    sh->blocked_list = calloc(sh->conn_cap, sizeof *sh->blocked_list);
    sh->slot_count = cfg->slots_per_shard;
    size_t bytes = ((size_t)sh->slot_count * sizeof(net_slot) + NET_CACHE_LINE - 1) &
                   ~(size_t)(NET_CACHE_LINE - 1);
    sh->slots = aligned_alloc(NET_CACHE_LINE, bytes);
    if (!sh->conns || !sh->open || !sh->dirty || !sh->blocked_list || !sh->slots) return -ENOMEM;
    for (uint32_t i = sh->slot_count; i-- > 0;) {
        net_slot *s = &sh->slots[i];
        s->state = NET_SLOT_FREE;
        s->arena.used = 0;
        s->arena.failed = 0;
        s->next = sh->slot_free;
        sh->slot_free = s;
    }
    return 0;
}

void conn_tables_close(net_shard *sh) {
    for (uint32_t i = 0; sh->conns != NULL && i < sh->conn_cap; i++) {
        free(sh->conns[i].in);
        free(sh->conns[i].out);
    }
    for (uint32_t i = 0; i < sh->out_cached; i++) free(sh->out_cache[i]);
    sh->out_cached = 0;
    free(sh->conns);
    free(sh->open);
    free(sh->dirty);
    free(sh->blocked_list);
    free(sh->slots);
    sh->conns = NULL;
    sh->slots = NULL;
}
