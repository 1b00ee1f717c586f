/*
 * transport_mem.c — an in-memory transport: no sockets, no kernel.
 *
 * The server's shard code runs unchanged on top of it; a test or the fuzz target plays
 * the client: inv_transport_mem_connect, _feed (bytes "received"), _hangup, _drain
 * (bytes the server "sent"). Events are produced at the next poll, at most one DATA
 * event per connection per poll and at most INV_NET_RECV_BUF_BYTES in it (like a
 * provided buffer); a send completes in full at the next poll. Single-threaded: `wake`
 * does nothing and `poll` never blocks.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "net_int.h"

#define MEM_OUT_BYTES_MAX (64u << 20) /* bytes kept for the test to drain */

typedef struct mconn {
    bool in_use, accept_pending, started, paused, hangup, eof_sent, closing;
    uint8_t *in;
    size_t in_len, in_off, in_cap;
    uint8_t *out;
    size_t out_len, out_cap;
    bool send_pending;
    uint32_t send_len;
} mconn;

struct inv_transport {
    mconn *conns;
    uint32_t cap;
    uint32_t hi; /* connections ever handed out: [0, hi) is all poll looks at */
    bool accepting;
};

static int mem_open(inv_transport **out, const inv_transport_config *cfg, inv_transport *peer,
                    char *err, size_t errlen) {
    (void)peer;
    (void)err;
    (void)errlen;
    assert(cfg->conn_cap > 0);
    inv_transport *t = calloc(1, sizeof *t);
    if (t == NULL) return -ENOMEM;
    t->cap = cfg->conn_cap;
    t->conns = calloc(t->cap, sizeof *t->conns);
    if (t->conns == NULL) {
        free(t);
        return -ENOMEM;
    }
    t->accepting = true;
    *out = t;
    return 0;
}

/* Append `len` bytes to a growable buffer (doubling from 4 KiB). @return 0 or -ENOMEM. */
static int mem_buf_append(uint8_t **buf, size_t *used, size_t *cap, const void *data,
                          size_t len) {
    if (*used + len > *cap) {
        size_t c = *cap ? *cap : 4096;
        while (c < *used + len) c *= 2;
        uint8_t *p = realloc(*buf, c);
        if (p == NULL) return -ENOMEM;
        *buf = p;
        *cap = c;
    }
    memcpy(*buf + *used, data, len);
    *used += len;
    return 0;
}

static void mem_conn_reset(mconn *m) {
    free(m->in);
    free(m->out);
    memset(m, 0, sizeof *m);
}

/* Closed by the server: the input goes, the output stays until the test drains it. */
static void mem_conn_closed(mconn *m) {
    free(m->in);
    m->in = NULL;
    m->in_len = m->in_off = m->in_cap = 0;
    m->in_use = m->closing = m->started = m->send_pending = false;
}

static void mem_close(inv_transport *t) {
    if (t == NULL) return;
    for (uint32_t i = 0; i < t->cap; i++) mem_conn_reset(&t->conns[i]);
    free(t->conns);
    free(t);
}

static uint16_t mem_port(const inv_transport *t) {
    (void)t;
    return 0;
}

/* The next event of one connection, if any. */
static bool mem_conn_event(inv_transport *t, uint32_t c, inv_transport_event *ev) {
    mconn *m = &t->conns[c];
    if (m->accept_pending) {
        m->accept_pending = false;
        *ev = (inv_transport_event){.type = INV_TEV_ACCEPT, .conn = c};
        return true;
    }
    if (m->closing) {
        mem_conn_closed(m);
        *ev = (inv_transport_event){.type = INV_TEV_CLOSED, .conn = c};
        return true;
    }
    if (m->send_pending) {
        m->send_pending = false;
        *ev =
            (inv_transport_event){.type = INV_TEV_SENT, .conn = c, .result = (int32_t)m->send_len};
        return true;
    }
    if (!m->started || m->paused) return false;
    if (m->in_off < m->in_len) {
        size_t n = m->in_len - m->in_off;
        if (n > INV_NET_RECV_BUF_BYTES) n = INV_NET_RECV_BUF_BYTES;
        *ev = (inv_transport_event){
            .type = INV_TEV_DATA, .conn = c, .len = (uint32_t)n, .data = m->in + m->in_off};
        m->in_off += n;
        return true;
    }
    if (m->hangup && !m->eof_sent) {
        m->eof_sent = true;
        *ev = (inv_transport_event){.type = INV_TEV_EOF, .conn = c, .result = 0};
        return true;
    }
    return false;
}

static int mem_poll(inv_transport *t, inv_transport_event *ev, uint32_t max, uint32_t timeout_us) {
    (void)timeout_us;
    assert(max > 0);
    uint32_t n = 0;
    for (uint32_t c = 0; c < t->hi && n < max; c++) {
        mconn *m = &t->conns[c];
        if (!m->in_use && !m->closing) continue;
        if (m->in_off == m->in_len) m->in_off = m->in_len = 0;
        if (mem_conn_event(t, c, &ev[n])) n++;
    }
    return (int)n;
}

static void mem_start(inv_transport *t, uint32_t c) {
    assert(t->conns[c].in_use);
    t->conns[c].started = true;
}

static void mem_reject(inv_transport *t, uint32_t c, const void *bye, uint32_t bye_len) {
    (void)bye;
    (void)bye_len;
    mem_conn_closed(&t->conns[c]);
}

static int mem_send(inv_transport *t, uint32_t c, const void *data, uint32_t len) {
    mconn *m = &t->conns[c];
    if (!m->in_use || m->closing) return -ENOTCONN;
    if (m->send_pending) return -EBUSY;
    if (m->out_len + len <= MEM_OUT_BYTES_MAX) {
        int rc = mem_buf_append(&m->out, &m->out_len, &m->out_cap, data, len);
        if (rc != 0) return rc;
    }
    m->send_pending = true;
    m->send_len = len;
    return 0;
}

static void mem_recv_pause(inv_transport *t, uint32_t c) { t->conns[c].paused = true; }
static void mem_recv_resume(inv_transport *t, uint32_t c) { t->conns[c].paused = false; }

static void mem_conn_close(inv_transport *t, uint32_t c) {
    if (t->conns[c].in_use) t->conns[c].closing = true;
}

static void mem_accept_stop(inv_transport *t) { t->accepting = false; }
static void mem_wake(inv_transport *t) { (void)t; }

const inv_transport_type inv_transport_mem = {
    .name = "mem",
    .open = mem_open,
    .close = mem_close,
    .port = mem_port,
    .poll = mem_poll,
    .start = mem_start,
    .reject = mem_reject,
    .send = mem_send,
    .recv_pause = mem_recv_pause,
    .recv_resume = mem_recv_resume,
    .conn_close = mem_conn_close,
    .accept_stop = mem_accept_stop,
    .wake = mem_wake,
};

int inv_transport_mem_connect(inv_transport *t) {
    for (uint32_t c = 0; c < t->cap; c++) {
        mconn *m = &t->conns[c];
        if (m->in_use || !t->accepting) continue;
        mem_conn_reset(m); /* drops output a test never drained */
        m->in_use = true;
        if (c >= t->hi) t->hi = c + 1;
        m->accept_pending = true;
        return (int)c;
    }
    return -ENOSPC;
}

int inv_transport_mem_feed(inv_transport *t, uint32_t c, const void *data, size_t len) {
    mconn *m = &t->conns[c];
    if (!m->in_use || m->closing) return -ENOTCONN;
    return mem_buf_append(&m->in, &m->in_len, &m->in_cap, data, len);
}

void inv_transport_mem_hangup(inv_transport *t, uint32_t c) {
    if (t->conns[c].in_use) t->conns[c].hangup = true;
}

size_t inv_transport_mem_drain(inv_transport *t, uint32_t c, void *out, size_t cap) {
    mconn *m = &t->conns[c];
    assert(c < t->cap);
    size_t n = m->out_len < cap ? m->out_len : cap;
    if (n > 0) {
        memcpy(out, m->out, n);
        memmove(m->out, m->out + n, m->out_len - n);
        m->out_len -= n;
    }
    if (!m->in_use && m->out_len == 0) { /* closed and fully read: nothing left to keep */
        free(m->out);
        m->out = NULL;
        m->out_cap = 0;
    }
    return n;
}

bool inv_transport_mem_is_open(inv_transport *t, uint32_t c) {
    return c < t->cap && t->conns[c].in_use && !t->conns[c].closing;
}
