/*
 * transport_uring.c — kernel TCP through io_uring, one ring per shard thread.
 *
 * Design (and why):
 *   - Accept: each shard has its own listening socket on the same port with
 *     SO_REUSEPORT, and one multishot accept on it. The kernel spreads new connections
 *     over the shards by 4-tuple hash, so no acceptor thread hands fds around and a
 *     connection lives its whole life on the shard that accepted it.
 *   - Receive: one multishot recv per connection, with buffer selection from a ring of
 *     provided buffers (INV_NET_RECV_BUFS × INV_NET_RECV_BUF_BYTES per shard). Receive
 *     memory is therefore shared by all of a shard's connections and proportional to the
 *     data in flight, not to the number of connections; a recv costs no SQE while the
 *     multishot stays armed. Buffers handed to the shard in one poll are given back to
 *     the kernel at the start of the next (the shard copies what it keeps).
 *     Backpressure cancels the multishot recv (TCP flow control then stops the client);
 *     resuming arms a new one. What arrives between the decision and the cancel is kept
 *     by the shard, bounded by its hard input ceiling. Not measured against one-shot
 *     recv (an SQE per receive, slightly tighter memory bound): under pipelined load a
 *     receive carries tens of requests, and the profile (docs/operations.md) shows
 *     neither the SQE nor the recv path near the top.
 *   - Send: plain send of the connection's pending output, one outstanding per
 *     connection (the shard batches all replies of a loop pass into it).
 *   - Ring: SINGLE_ISSUER + DEFER_TASKRUN when the kernel has them (completion work runs
 *     only when the shard asks, in its own thread — no interrupts mid-pass), created
 *     disabled and enabled on the shard thread at its first poll. Falls back to plain
 *     rings on older kernels.
 *   - Wake-up: an eventfd with a read armed on the ring; `wake` writes it (any thread).
 *
 * user_data = tag (8 bits) | connection generation (32 bits) | connection (24 bits), so
 * a late completion for a closed-and-reused connection is recognised and ignored.
 *
 * Closing: shutdown(2), cancel the recv, then wait until neither recv nor send is
 * outstanding before close(2) and the CLOSED event, so that the kernel never writes
 * into or reads from memory of a connection the shard has forgotten.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <liburing.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net_int.h"

enum { TAG_ACCEPT = 1, TAG_RECV = 2, TAG_SEND = 3, TAG_WAKE = 4, TAG_CANCEL = 5 };
enum { RECV_OFF = 0, RECV_ON = 1, RECV_CANCELLING = 2 };
#define BUF_GROUP 0
#define CONN_BITS 24
#define ACCEPT_RETRY_MS 100u

typedef struct uconn {
    int fd;
    uint32_t gen;
    uint8_t recv; /* RECV_* */
    bool in_use;
    bool want_recv; /* started and not paused */
    bool send_busy;
    bool closing;
    bool eof_sent;
    uint32_t next_free;
} uconn;

struct inv_transport {
    struct io_uring ring;
    bool ring_enabled;
    bool ring_disabled_at_start;
    int listen_fd;
    uint16_t port;
    uint32_t shard;
    bool accepting;
    bool accept_armed;
    uint64_t accept_retry_ms;
    int wake_fd;
    uint64_t wake_value;
    bool wake_armed;
    struct io_uring_buf_ring *br;
    uint8_t *bufs;
    uint16_t *give_back; /* buffer ids handed out by the last poll */
    uint32_t give_back_count;
    uconn *conns;
    uint32_t cap;
    uint32_t free_head;
    uint32_t *rearm; /* connections whose recv must be armed again */
    uint32_t rearm_count;
    uint32_t *closed; /* CLOSED events to deliver at the next poll */
    uint32_t closed_count;
};

static uint64_t ud_make(unsigned tag, uint32_t gen, uint32_t conn) {
    return ((uint64_t)tag << 56) | ((uint64_t)gen << CONN_BITS) | conn;
}
static unsigned ud_tag(uint64_t ud) { return (unsigned)(ud >> 56); }
static uint32_t ud_gen(uint64_t ud) { return (uint32_t)(ud >> CONN_BITS); }
static uint32_t ud_conn(uint64_t ud) { return (uint32_t)(ud & ((1u << CONN_BITS) - 1)); }

static uint64_t mono_ms(void) { return net_mono_ns() / 1000000u; }

/* An SQE; when the queue is full, submit what is queued and try again. */
static struct io_uring_sqe *uring_sqe(inv_transport *t) {
    struct io_uring_sqe *sqe = io_uring_get_sqe(&t->ring);
    if (sqe == NULL && t->ring_enabled) {
        io_uring_submit(&t->ring);
        sqe = io_uring_get_sqe(&t->ring);
    }
    return sqe; /* NULL only if the ring is broken: callers degrade to closing */
}

/* ====================================================================================
 * Setup
 * ==================================================================================== */

static int listen_socket(const char *addr, uint16_t port, int *out_fd, uint16_t *out_port,
                         char *err, size_t errlen) {
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICHOST | AI_PASSIVE};
    struct addrinfo *ai = NULL;
    char ports[8];
    snprintf(ports, sizeof ports, "%u", port);
    int rc = getaddrinfo(addr, ports, &hints, &ai);
    if (rc != 0) {
        snprintf(err, errlen, "listen address '%s': %s", addr, gai_strerror(rc));
        return -EINVAL;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, INV_NET_BACKLOG) != 0) {
        rc = -errno;
        snprintf(err, errlen, "listen on %s:%u: %s", addr, port, strerror(errno));
        if (fd >= 0) close(fd);
        freeaddrinfo(ai);
        return rc;
    }
    freeaddrinfo(ai);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    *out_port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                               : ((struct sockaddr_in *)&ss)->sin_port);
    *out_fd = fd;
    return 0;
}

static int ring_setup(inv_transport *t) {
    struct io_uring_params p;
    unsigned flag_sets[] = {
        IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_R_DISABLED,
        IORING_SETUP_COOP_TASKRUN,
        0,
    };
    int rc = -EINVAL;
    for (size_t i = 0; i < sizeof flag_sets / sizeof flag_sets[0]; i++) {
        memset(&p, 0, sizeof p);
        p.flags = flag_sets[i] | IORING_SETUP_CQSIZE;
        p.cq_entries = 2 * INV_NET_RING_ENTRIES;
        rc = io_uring_queue_init_params(INV_NET_RING_ENTRIES, &t->ring, &p);
        if (rc == 0) {
            t->ring_disabled_at_start = (flag_sets[i] & IORING_SETUP_R_DISABLED) != 0;
            t->ring_enabled = !t->ring_disabled_at_start;
            return 0;
        }
    }
    return rc;
}

static int buffers_setup(inv_transport *t) {
    size_t ring_bytes = INV_NET_RECV_BUFS * sizeof(struct io_uring_buf);
    void *mem = NULL;
    if (posix_memalign(&mem, 4096, ring_bytes) != 0) return -ENOMEM;
    t->br = mem;
    t->bufs = malloc((size_t)INV_NET_RECV_BUFS * INV_NET_RECV_BUF_BYTES);
    t->give_back = calloc(INV_NET_RECV_BUFS, sizeof *t->give_back);
    if (t->bufs == NULL || t->give_back == NULL) return -ENOMEM;
    io_uring_buf_ring_init(t->br);
    struct io_uring_buf_reg reg = {.ring_addr = (uint64_t)(uintptr_t)t->br,
                                   .ring_entries = INV_NET_RECV_BUFS,
                                   .bgid = BUF_GROUP};
    int rc = io_uring_register_buf_ring(&t->ring, &reg, 0);
    if (rc != 0) return rc;
    int mask = io_uring_buf_ring_mask(INV_NET_RECV_BUFS);
    for (uint32_t i = 0; i < INV_NET_RECV_BUFS; i++)
        io_uring_buf_ring_add(t->br, t->bufs + (size_t)i * INV_NET_RECV_BUF_BYTES,
                              INV_NET_RECV_BUF_BYTES, (unsigned short)i, mask, (int)i);
    io_uring_buf_ring_advance(t->br, INV_NET_RECV_BUFS);
    return 0;
}

static void arm_accept(inv_transport *t) {
    assert(t->listen_fd >= 0);
    assert(!t->accept_armed);
    struct io_uring_sqe *sqe = uring_sqe(t);
    if (sqe == NULL) return;
    io_uring_prep_multishot_accept(sqe, t->listen_fd, NULL, NULL, SOCK_CLOEXEC);
    io_uring_sqe_set_data64(sqe, ud_make(TAG_ACCEPT, 0, 0));
    t->accept_armed = true;
}

static void arm_wake(inv_transport *t) {
    assert(t->wake_fd >= 0);
    assert(!t->wake_armed);
    struct io_uring_sqe *sqe = uring_sqe(t);
    if (sqe == NULL) return;
    io_uring_prep_read(sqe, t->wake_fd, &t->wake_value, sizeof t->wake_value, 0);
    io_uring_sqe_set_data64(sqe, ud_make(TAG_WAKE, 0, 0));
    t->wake_armed = true;
}

static void uring_close(inv_transport *t);

static int uring_open(inv_transport **out, const inv_transport_config *cfg, inv_transport *peer,
                      char *err, size_t errlen) {
    assert(cfg->conn_cap > 0 && cfg->conn_cap < (1u << CONN_BITS));
    inv_transport *t = calloc(1, sizeof *t);
    if (t == NULL) return -ENOMEM;
    t->listen_fd = t->wake_fd = -1;
    t->shard = cfg->shard;
    t->cap = cfg->conn_cap;
    t->conns = calloc(t->cap, sizeof *t->conns);
    t->rearm = calloc(t->cap, sizeof *t->rearm);
    t->closed = calloc(t->cap, sizeof *t->closed);
    int rc = (t->conns && t->rearm && t->closed) ? 0 : -ENOMEM;
    for (uint32_t i = 0; rc == 0 && i < t->cap; i++) {
        t->conns[i].fd = -1;
        t->conns[i].next_free = i + 1 < t->cap ? i + 1 : NET_NONE;
    }
    uint16_t port = peer != NULL ? peer->port : (uint16_t)cfg->port;
    if (rc == 0) rc = listen_socket(cfg->listen_addr, port, &t->listen_fd, &t->port, err, errlen);
    if (rc == 0 && (rc = ring_setup(t)) != 0)
        snprintf(err, errlen, "io_uring setup: %s", strerror(-rc));
    if (rc == 0 && (rc = buffers_setup(t)) != 0)
        snprintf(err, errlen, "io_uring provided buffers: %s", strerror(-rc));
    if (rc == 0) {
        t->wake_fd = eventfd(0, EFD_CLOEXEC); /* blocking: io_uring waits on it */
        if (t->wake_fd < 0) rc = -errno;
    }
    if (rc != 0) {
        uring_close(t);
        return rc;
    }
    t->accepting = true;
    arm_accept(t);
    arm_wake(t);
    *out = t;
    return 0;
}

static void uring_close(inv_transport *t) {
    if (t == NULL) return;
    for (uint32_t i = 0; t->conns != NULL && i < t->cap; i++)
        if (t->conns[i].fd >= 0) close(t->conns[i].fd);
    if (t->br != NULL && t->ring.ring_fd > 0) io_uring_unregister_buf_ring(&t->ring, BUF_GROUP);
    if (t->ring.ring_fd > 0) io_uring_queue_exit(&t->ring);
    if (t->listen_fd >= 0) close(t->listen_fd);
    if (t->wake_fd >= 0) close(t->wake_fd);
    free(t->br);
    free(t->bufs);
    free(t->give_back);
    free(t->conns);
    free(t->rearm);
    free(t->closed);
    free(t);
}

static uint16_t uring_port(const inv_transport *t) { return t->port; }

/* ====================================================================================
 * Connections
 * ==================================================================================== */

static void arm_recv(inv_transport *t, uint32_t c) {
    uconn *u = &t->conns[c];
    assert(u->in_use);
    assert(u->recv == RECV_OFF);
    struct io_uring_sqe *sqe = uring_sqe(t);
    if (sqe == NULL) return;
    io_uring_prep_recv_multishot(sqe, u->fd, NULL, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = BUF_GROUP;
    io_uring_sqe_set_data64(sqe, ud_make(TAG_RECV, u->gen, c));
    u->recv = RECV_ON;
}

/* Close the fd. The number goes back on the free list at once (reject: the shard never
 * took it) or once CLOSED has been delivered (so no ACCEPT can reuse it before). */
static void conn_release(inv_transport *t, uint32_t c, bool reuse_now) {
    uconn *u = &t->conns[c];
    if (u->fd >= 0) close(u->fd);
    u->fd = -1;
    u->in_use = false;
    u->gen++;
    if (!reuse_now) return;
    u->next_free = t->free_head;
    t->free_head = c;
}

/* Closing and nothing outstanding: close the fd and report CLOSED. */
static void close_if_quiet(inv_transport *t, uint32_t c) {
    assert(c < t->cap);
    uconn *u = &t->conns[c];
    if (!u->closing || u->recv != RECV_OFF || u->send_busy) return;
    conn_release(t, c, false);
    assert(t->closed_count < t->cap);
    t->closed[t->closed_count++] = c;
}

/* Deliver queued CLOSED events; their numbers become reusable. */
static uint32_t closed_deliver(inv_transport *t, inv_transport_event *ev, uint32_t n,
                               uint32_t max) {
    for (; n < max && t->closed_count > 0; n++) {
        uint32_t c = t->closed[--t->closed_count];
        ev[n] = (inv_transport_event){.type = INV_TEV_CLOSED, .conn = c};
        t->conns[c].closing = false;
        t->conns[c].next_free = t->free_head;
        t->free_head = c;
    }
    return n;
}

static void uring_start(inv_transport *t, uint32_t c) {
    uconn *u = &t->conns[c];
    assert(u->in_use && !u->closing);
    u->want_recv = true;
    arm_recv(t, c);
}

static void uring_reject(inv_transport *t, uint32_t c, const void *bye, uint32_t bye_len) {
    uconn *u = &t->conns[c];
    assert(u->in_use && u->recv == RECV_OFF);
    if (bye_len > 0) (void)!send(u->fd, bye, bye_len, MSG_DONTWAIT | MSG_NOSIGNAL);
    shutdown(u->fd, SHUT_WR);
    conn_release(t, c, true);
}

static int uring_send(inv_transport *t, uint32_t c, const void *data, uint32_t len) {
    assert(c < t->cap);
    assert(data != NULL && len > 0);
    uconn *u = &t->conns[c];
    if (!u->in_use || u->closing) return -ENOTCONN;
    if (u->send_busy) return -EBUSY;
    struct io_uring_sqe *sqe = uring_sqe(t);
    if (sqe == NULL) return -ENOMEM;
    io_uring_prep_send(sqe, u->fd, data, len, MSG_NOSIGNAL);
    io_uring_sqe_set_data64(sqe, ud_make(TAG_SEND, u->gen, c));
    u->send_busy = true;
    return 0;
}

static void cancel_recv(inv_transport *t, uint32_t c) {
    assert(c < t->cap);
    uconn *u = &t->conns[c];
    if (u->recv != RECV_ON) return;
    struct io_uring_sqe *sqe = uring_sqe(t);
    if (sqe == NULL) return;
    io_uring_prep_cancel64(sqe, ud_make(TAG_RECV, u->gen, c), 0);
    io_uring_sqe_set_data64(sqe, ud_make(TAG_CANCEL, u->gen, c));
    u->recv = RECV_CANCELLING;
}

static void uring_recv_pause(inv_transport *t, uint32_t c) {
    uconn *u = &t->conns[c];
    if (!u->in_use || u->closing) return;
    u->want_recv = false;
    cancel_recv(t, c);
}

static void uring_recv_resume(inv_transport *t, uint32_t c) {
    uconn *u = &t->conns[c];
    if (!u->in_use || u->closing || u->want_recv) return;
    u->want_recv = true;
    if (u->recv == RECV_OFF) arm_recv(t, c);
}

static void uring_conn_close(inv_transport *t, uint32_t c) {
    assert(c < t->cap);
    uconn *u = &t->conns[c];
    if (!u->in_use || u->closing) return;
    u->closing = true;
    u->want_recv = false;
    /* Drop what the client still sends so close(2) does not reset the connection before
     * the last reply is delivered (bounded: at most 64 KiB read here). */
    uint8_t sink[4096];
    for (int i = 0; i < 16 && recv(u->fd, sink, sizeof sink, MSG_DONTWAIT) > 0; i++) {}
    shutdown(u->fd, SHUT_RDWR);
    cancel_recv(t, c);
    close_if_quiet(t, c);
}

static void uring_accept_stop(inv_transport *t) {
    if (!t->accepting) return;
    t->accepting = false;
    if (t->accept_armed) {
        struct io_uring_sqe *sqe = uring_sqe(t);
        if (sqe != NULL) {
            io_uring_prep_cancel64(sqe, ud_make(TAG_ACCEPT, 0, 0), 0);
            io_uring_sqe_set_data64(sqe, ud_make(TAG_CANCEL, 0, 0));
        }
    }
    shutdown(t->listen_fd, SHUT_RD);
}

static void uring_wake(inv_transport *t) {
    uint64_t one = 1;
    (void)!write(t->wake_fd, &one, sizeof one);
}

/* ====================================================================================
 * Completions
 * ==================================================================================== */

static bool on_accept(inv_transport *t, const struct io_uring_cqe *cqe, inv_transport_event *ev) {
    assert(ev != NULL);
    if (!(cqe->flags & IORING_CQE_F_MORE)) {
        t->accept_armed = false;
        if (cqe->res < 0) t->accept_retry_ms = mono_ms() + ACCEPT_RETRY_MS;
    }
    if (cqe->res < 0) return false;
    int fd = cqe->res;
    if (!t->accepting || t->free_head == NET_NONE) {
        close(fd); /* unreachable while conn_cap ≥ open + one batch (server.c) */
        return false;
    }
    uint32_t c = t->free_head;
    uconn *u = &t->conns[c];
    t->free_head = u->next_free;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    u->fd = fd;
    u->in_use = true;
    u->recv = RECV_OFF;
    u->want_recv = u->send_busy = u->closing = u->eof_sent = false;
    *ev = (inv_transport_event){.type = INV_TEV_ACCEPT, .conn = c};
    return true;
}

static bool on_recv(inv_transport *t, const struct io_uring_cqe *cqe, uint32_t c,
                    inv_transport_event *ev) {
    uconn *u = &t->conns[c];
    bool more = (cqe->flags & IORING_CQE_F_MORE) != 0;
    if (!more) u->recv = RECV_OFF;
    bool produced = false;
    if (cqe->flags & IORING_CQE_F_BUFFER) {
        uint16_t bid = (uint16_t)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
        assert(t->give_back_count < INV_NET_RECV_BUFS);
        t->give_back[t->give_back_count++] = bid;
        if (cqe->res > 0 && !u->closing) {
            *ev = (inv_transport_event){.type = INV_TEV_DATA,
                                        .conn = c,
                                        .len = (uint32_t)cqe->res,
                                        .data = t->bufs + (size_t)bid * INV_NET_RECV_BUF_BYTES};
            produced = true;
        }
    }
    if (!more && !u->closing) {
        bool retry = cqe->res > 0 || cqe->res == -ENOBUFS || cqe->res == -ECANCELED;
        if (retry && u->want_recv) {
            t->rearm[t->rearm_count++] = c;
        } else if (!retry && !u->eof_sent && !produced) {
            u->eof_sent = true;
            *ev = (inv_transport_event){
                .type = INV_TEV_EOF, .conn = c, .result = cqe->res < 0 ? cqe->res : 0};
            produced = true;
        }
    }
    if (u->closing) close_if_quiet(t, c);
    return produced;
}

static bool on_send(inv_transport *t, const struct io_uring_cqe *cqe, uint32_t c,
                    inv_transport_event *ev) {
    uconn *u = &t->conns[c];
    u->send_busy = false;
    if (u->closing) {
        close_if_quiet(t, c);
        return false;
    }
    *ev = (inv_transport_event){.type = INV_TEV_SENT, .conn = c, .result = cqe->res};
    return true;
}

/* One completion → at most one event. */
static bool on_cqe(inv_transport *t, const struct io_uring_cqe *cqe, inv_transport_event *ev) {
    uint64_t ud = io_uring_cqe_get_data64(cqe);
    unsigned tag = ud_tag(ud);
    if (tag == TAG_ACCEPT) return on_accept(t, cqe, ev);
    if (tag == TAG_WAKE) {
        t->wake_armed = false;
        return false;
    }
    if (tag == TAG_CANCEL) return false;
    uint32_t c = ud_conn(ud);
    if (c >= t->cap || !t->conns[c].in_use || t->conns[c].gen != ud_gen(ud)) {
        if (tag == TAG_RECV && (cqe->flags & IORING_CQE_F_BUFFER)) { /* stale: recycle */
            assert(t->give_back_count < INV_NET_RECV_BUFS);
            t->give_back[t->give_back_count++] = (uint16_t)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
        }
        return false;
    }
    if (tag == TAG_RECV) return on_recv(t, cqe, c, ev);
    if (tag == TAG_SEND) return on_send(t, cqe, c, ev);
    return false;
}

/* Before waiting: buffers back to the kernel, receives and accept re-armed. */
static void poll_prepare(inv_transport *t) {
    assert(t->give_back_count <= INV_NET_RECV_BUFS);
    assert(t->rearm_count <= t->cap);
    if (t->give_back_count > 0) {
        int mask = io_uring_buf_ring_mask(INV_NET_RECV_BUFS);
        for (uint32_t i = 0; i < t->give_back_count; i++) {
            uint16_t bid = t->give_back[i];
            io_uring_buf_ring_add(t->br, t->bufs + (size_t)bid * INV_NET_RECV_BUF_BYTES,
                                  INV_NET_RECV_BUF_BYTES, bid, mask, (int)i);
        }
        io_uring_buf_ring_advance(t->br, (int)t->give_back_count);
        t->give_back_count = 0;
    }
    for (uint32_t i = 0; i < t->rearm_count; i++) {
        uint32_t c = t->rearm[i];
        uconn *u = &t->conns[c];
        if (u->in_use && !u->closing && u->want_recv && u->recv == RECV_OFF) arm_recv(t, c);
    }
    t->rearm_count = 0;
    if (t->accepting && !t->accept_armed && mono_ms() >= t->accept_retry_ms) arm_accept(t);
    if (!t->wake_armed) arm_wake(t);
}

static int uring_poll(inv_transport *t, inv_transport_event *ev, uint32_t max,
                      uint32_t timeout_us) {
    assert(max > 0);
    if (!t->ring_enabled) {
        /* liburing 2.3 declares io_uring_enable_rings but does not export it. */
        int rc = io_uring_register(t->ring.ring_fd, IORING_REGISTER_ENABLE_RINGS, NULL, 0);
        if (rc != 0) return rc;
        t->ring_enabled = true;
    }
    poll_prepare(t);
    uint32_t n = closed_deliver(t, ev, 0, max);
    struct __kernel_timespec ts = {.tv_sec = timeout_us / 1000000,
                                   .tv_nsec = (long long)(timeout_us % 1000000) * 1000};
    if (n > 0 || timeout_us == 0) ts.tv_sec = ts.tv_nsec = 0;
    struct io_uring_cqe *cqe = NULL;
    int rc = io_uring_submit_and_wait_timeout(&t->ring, &cqe, 1, &ts, NULL);
    if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EBUSY) return rc;
    unsigned head, seen = 0;
    io_uring_for_each_cqe(&t->ring, head, cqe) {
        if (n >= max || seen >= INV_NET_CQE_BATCH_MAX) break;
        seen++;
        if (on_cqe(t, cqe, &ev[n])) n++;
    }
    io_uring_cq_advance(&t->ring, seen);
    return (int)closed_deliver(t, ev, n, max);
}

const inv_transport_type inv_transport_uring = {
    .name = "uring",
    .open = uring_open,
    .close = uring_close,
    .port = uring_port,
    .poll = uring_poll,
    .start = uring_start,
    .reject = uring_reject,
    .send = uring_send,
    .recv_pause = uring_recv_pause,
    .recv_resume = uring_recv_resume,
    .conn_close = uring_conn_close,
    .accept_stop = uring_accept_stop,
    .wake = uring_wake,
};
