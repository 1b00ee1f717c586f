/*
 * client.c — libinvclient (inv_client.h): one TCP connection, pipelined requests,
 * replies matched by request id.
 *
 * Design: a non-blocking socket driven with poll(2). Requests are encoded at submit into
 * an output buffer and written by flush/poll; received bytes go to an input buffer that
 * is cut into frames (inv_frame_parse) and decoded with protobuf-c into one message per
 * reply, which the reply owns until inv_client_reply_free. Writing always reads too, so
 * a client that submits far more than the server's output cap never deadlocks against
 * the server's backpressure. In-flight requests live in a table indexed by
 * id mod INV_CLIENT_INFLIGHT_MAX (ids are sequential), holding each request's cookie.
 *
 * Invariants: in_off ≤ in_len ≤ in_cap and out_off ≤ out_len ≤ out_cap; a pending entry
 * is used iff its request was submitted and its reply not yet returned; a client whose
 * stream broke (bad frame, reset) stays broken and answers every call with the error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#pragma GCC visibility push(default)
#include "inv_client.h"
#pragma GCC visibility pop

#include "inv_frame.h"
#include "invd.pb-c.h"

#define CLIENT_TIMEOUT_MS_DEFAULT 10000
#define CLIENT_FRAME_MAX_DEFAULT (16u << 20)
#define CLIENT_IN_CHUNK (64u << 10)
#define PENDING_MASK (INV_CLIENT_INFLIGHT_MAX - 1u)

_Static_assert((INV_CLIENT_INFLIGHT_MAX & PENDING_MASK) == 0, "pending table is a power of 2");
_Static_assert(INV_CLIENT_LINES_MAX == INV_LINES_MAX, "client and server agree on lines");
_Static_assert(INV_CLIENT_ALLOC_MAX == INV_ALLOC_MAX, "client and server agree on allocations");
_Static_assert(INV_CLIENT_AVAIL_NODES_MAX == INV_NET_AVAIL_NODES_MAX, "availability entries");
_Static_assert(INV_CLIENT_NODES_PAGE_MAX == INV_NET_LIST_NODES_PAGE_MAX, "node page");
_Static_assert(INV_CLIENT_ALTERNATIVES_MAX == INV_PICKUP_ALTERNATIVES_MAX, "alternatives");

typedef struct pending {
    uint64_t id;
    void *user;
    bool used;
} pending;

struct inv_client {
    int fd;
    int timeout_ms;
    uint32_t frame_max;
    uint64_t next_id;
    uint32_t inflight;
    bool broken;
    int broken_rc;
    uint8_t *out;
    size_t out_off, out_len, out_cap;
    uint8_t *in;
    size_t in_off, in_len, in_cap;
    pending *pend;
    char err[192];
};

static int client_fail(inv_client *c, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int client_fail(inv_client *c, int rc, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, sizeof c->err, fmt, ap);
    va_end(ap);
    if (rc != -EINVAL && rc != -EAGAIN && rc != -EBUSY && rc != -ETIMEDOUT) {
        c->broken = true;
        c->broken_rc = rc;
    }
    return rc;
}

static int64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *inv_client_status_name(int status) {
    static const char *const names[] = {
        "OK",
        "INVALID_ARGUMENT",
        "NOT_FOUND",
        "CONFLICT",
        "INSUFFICIENT_STOCK",
        "LIMIT_EXCEEDED",
        "NO_ROUTE",
        "EXPIRED",
        "ALREADY_RELEASED",
        "ALREADY_COMMITTED",
        "DUPLICATE_REF",
        "RESOURCE_EXHAUSTED",
        "BUSY",
        "UNAVAILABLE",
        "INTERNAL",
    };
    return status >= 0 && status <= INVC_INTERNAL ? names[status] : "UNKNOWN";
}

/* ====================================================================================
 * Connect / close
 * ==================================================================================== */

static int client_dial(inv_client *c, const char *host, uint16_t port) {
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *ai = NULL;
    char ports[8];
    snprintf(ports, sizeof ports, "%u", port);
    int rc = getaddrinfo(host, ports, &hints, &ai);
    if (rc != 0) return client_fail(c, -EHOSTUNREACH, "%s: %s", host, gai_strerror(rc));
    int fd = -1;
    rc = -ECONNREFUSED;
    for (struct addrinfo *a = ai; a != NULL && fd < 0; a = a->ai_next) {
        fd = socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) continue;
        if (connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
            rc = -errno;
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(ai);
    if (fd < 0) return client_fail(c, rc, "connect %s:%u: %s", host, port, strerror(-rc));
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    c->fd = fd;
    return 0;
}

int inv_client_connect(inv_client **out, const char *host, uint16_t port,
                       const inv_client_options *opt) {
    if (out == NULL || host == NULL) return -EINVAL;
    *out = NULL;
    inv_client *c = calloc(1, sizeof *c);
    if (c == NULL) return -ENOMEM;
    c->fd = -1;
    c->timeout_ms =
        opt != NULL && opt->timeout_ms > 0 ? opt->timeout_ms : CLIENT_TIMEOUT_MS_DEFAULT;
    c->frame_max =
        opt != NULL && opt->frame_bytes_max > 0 ? opt->frame_bytes_max : CLIENT_FRAME_MAX_DEFAULT;
    c->next_id = 1;
    c->pend = calloc(INV_CLIENT_INFLIGHT_MAX, sizeof *c->pend);
    c->out_cap = 64u << 10;
    c->out = malloc(c->out_cap);
    c->in_cap = CLIENT_IN_CHUNK * 2;
    c->in = malloc(c->in_cap);
    int rc = (c->pend && c->out && c->in) ? client_dial(c, host, port) : -ENOMEM;
    if (rc != 0) {
        inv_client_close(c);
        return rc;
    }
    *out = c;
    return 0;
}

void inv_client_close(inv_client *c) {
    if (c == NULL) return;
    if (c->fd >= 0) close(c->fd);
    free(c->pend);
    free(c->out);
    free(c->in);
    free(c);
}

const char *inv_client_error(const inv_client *c) { return c->err; }
uint32_t inv_client_inflight(const inv_client *c) { return c->inflight; }

/* ====================================================================================
 * Encoding requests
 * ==================================================================================== */

typedef struct req_store {
    Invd__ReserveRequest reserve;
    Invd__Destination dest;
    Invd__Point point;
    Invd__Line lines[INV_CLIENT_LINES_MAX];
    Invd__Line *line_p[INV_CLIENT_LINES_MAX];
    Invd__CommitRequest commit;
    Invd__ReleaseRequest release;
    Invd__ExtendRequest extend;
    Invd__GetReservationRequest get;
    Invd__AdjustRequest adjust;
    Invd__ReturnRequest ret;
    Invd__GetAvailabilityRequest avail;
    Invd__UpsertNodeRequest upsert;
    Invd__SetNodeStatusRequest node_status;
    Invd__ListNodesRequest list;
    Invd__SetSafetyRequest safety;
    Invd__SetLimitRequest limit;
    Invd__PingRequest ping;
    Invd__GetStatsRequest stats;
} req_store;

static char *s_(const char *s) { return (char *)(s != NULL ? s : ""); }

static int encode_reserve(Invd__Request *m, req_store *st, const inv_client_reserve_args *a) {
    if (a->line_count > INV_CLIENT_LINES_MAX || (a->line_count > 0 && a->lines == NULL))
        return -EINVAL;
    invd__reserve_request__init(&st->reserve);
    invd__destination__init(&st->dest);
    invd__point__init(&st->point);
    st->reserve.order_id = s_(a->order_id);
    st->reserve.customer_id = s_(a->customer_id);
    st->point.lat = a->lat;
    st->point.lon = a->lon;
    st->dest.point = a->has_point ? &st->point : NULL;
    st->dest.pickup_node_id = s_(a->pickup_node_id);
    st->reserve.dest = &st->dest;
    for (uint32_t i = 0; i < a->line_count; i++) {
        invd__line__init(&st->lines[i]);
        st->lines[i].sku = s_(a->lines[i].sku);
        st->lines[i].qty = a->lines[i].qty;
        st->line_p[i] = &st->lines[i];
    }
    st->reserve.n_lines = a->line_count;
    st->reserve.lines = st->line_p;
    st->reserve.ttl_ms = a->ttl_ms;
    st->reserve.policy = (Invd__RoutePolicy)a->policy;
    st->reserve.max_parcels = a->max_parcels;
    st->reserve.max_distance_km = a->max_distance_km;
    m->op_case = INVD__REQUEST__OP_RESERVE;
    m->reserve = &st->reserve;
    return 0;
}

static void encode_stock(Invd__Request *m, req_store *st, const inv_client_request *rq) {
    if (rq->op == INVC_OP_ADJUST) {
        const inv_client_adjust_args *a = &rq->in.adjust;
        invd__adjust_request__init(&st->adjust);
        st->adjust.node_id = s_(a->node_id);
        st->adjust.sku = s_(a->sku);
        st->adjust.ref_id = s_(a->ref_id);
        st->adjust.change_case = a->has_set_to ? INVD__ADJUST_REQUEST__CHANGE_SET_TO
                                               : INVD__ADJUST_REQUEST__CHANGE_DELTA;
        if (a->has_set_to) st->adjust.set_to = a->set_to;
        else st->adjust.delta = a->delta;
        m->op_case = INVD__REQUEST__OP_ADJUST;
        m->adjust = &st->adjust;
    } else if (rq->op == INVC_OP_RETURN) {
        invd__return_request__init(&st->ret);
        st->ret.node_id = s_(rq->in.ret.node_id);
        st->ret.sku = s_(rq->in.ret.sku);
        st->ret.qty = rq->in.ret.qty;
        st->ret.ref_id = s_(rq->in.ret.ref_id);
        m->op_case = INVD__REQUEST__OP_RETURN_STOCK;
        m->return_stock = &st->ret;
    } else {
        const inv_client_availability_args *a = &rq->in.availability;
        invd__get_availability_request__init(&st->avail);
        invd__point__init(&st->point);
        st->avail.sku = s_(a->sku);
        st->point.lat = a->lat;
        st->point.lon = a->lon;
        st->avail.point = a->has_point ? &st->point : NULL;
        st->avail.radius_km = a->radius_km;
        st->avail.max_nodes = a->max_nodes;
        m->op_case = INVD__REQUEST__OP_GET_AVAILABILITY;
        m->get_availability = &st->avail;
    }
}

static void encode_order(Invd__Request *m, req_store *st, const inv_client_request *rq) {
    switch (rq->op) {
    case INVC_OP_COMMIT:
        invd__commit_request__init(&st->commit);
        st->commit.order_id = s_(rq->in.order.order_id);
        m->op_case = INVD__REQUEST__OP_COMMIT;
        m->commit = &st->commit;
        break;
    case INVC_OP_RELEASE:
        invd__release_request__init(&st->release);
        st->release.order_id = s_(rq->in.order.order_id);
        m->op_case = INVD__REQUEST__OP_RELEASE;
        m->release = &st->release;
        break;
    case INVC_OP_EXTEND:
        invd__extend_request__init(&st->extend);
        st->extend.order_id = s_(rq->in.extend.order_id);
        st->extend.ttl_ms = rq->in.extend.ttl_ms;
        m->op_case = INVD__REQUEST__OP_EXTEND;
        m->extend = &st->extend;
        break;
    default:
        invd__get_reservation_request__init(&st->get);
        st->get.order_id = s_(rq->in.order.order_id);
        m->op_case = INVD__REQUEST__OP_GET_RESERVATION;
        m->get_reservation = &st->get;
        break;
    }
}

static void encode_upsert(Invd__Request *m, req_store *st, const inv_client_node_spec *n) {
    invd__upsert_node_request__init(&st->upsert);
    st->upsert.node_id = s_(n->node_id);
    st->upsert.kind = (Invd__NodeKind)n->kind;
    st->upsert.lat = n->lat;
    st->upsert.lon = n->lon;
    st->upsert.region = s_(n->region);
    st->upsert.ships = n->ships;
    st->upsert.pickup = n->pickup;
    st->upsert.capacity_per_day = n->capacity_per_day;
    st->upsert.priority = n->priority;
    st->upsert.status = (Invd__NodeStatus)n->status;
    m->op_case = INVD__REQUEST__OP_UPSERT_NODE;
    m->upsert_node = &st->upsert;
}

static void encode_catalog(Invd__Request *m, req_store *st, const inv_client_request *rq) {
    switch (rq->op) {
    case INVC_OP_SET_NODE_STATUS:
        invd__set_node_status_request__init(&st->node_status);
        st->node_status.node_id = s_(rq->in.node_status.node_id);
        st->node_status.status = (Invd__NodeStatus)rq->in.node_status.status;
        m->op_case = INVD__REQUEST__OP_SET_NODE_STATUS;
        m->set_node_status = &st->node_status;
        break;
    case INVC_OP_LIST_NODES:
        invd__list_nodes_request__init(&st->list);
        st->list.offset = rq->in.list_nodes.offset;
        st->list.limit = rq->in.list_nodes.limit;
        m->op_case = INVD__REQUEST__OP_LIST_NODES;
        m->list_nodes = &st->list;
        break;
    case INVC_OP_SET_SAFETY:
        invd__set_safety_request__init(&st->safety);
        st->safety.node_id = s_(rq->in.safety.node_id);
        st->safety.sku = s_(rq->in.safety.sku);
        st->safety.safety = rq->in.safety.safety;
        m->op_case = INVD__REQUEST__OP_SET_SAFETY;
        m->set_safety = &st->safety;
        break;
    default:
        invd__set_limit_request__init(&st->limit);
        st->limit.sku = s_(rq->in.limit.sku);
        st->limit.limit_per_customer = rq->in.limit.limit_per_customer;
        m->op_case = INVD__REQUEST__OP_SET_LIMIT;
        m->set_limit = &st->limit;
        break;
    }
}

static int encode_request(Invd__Request *m, req_store *st, const inv_client_request *rq) {
    assert(m != NULL && st != NULL);
    switch (rq->op) {
    case INVC_OP_RESERVE: return encode_reserve(m, st, &rq->in.reserve);
    case INVC_OP_COMMIT:
    case INVC_OP_RELEASE:
    case INVC_OP_EXTEND:
    case INVC_OP_GET_RESERVATION: encode_order(m, st, rq); return 0;
    case INVC_OP_ADJUST:
    case INVC_OP_RETURN:
    case INVC_OP_GET_AVAILABILITY: encode_stock(m, st, rq); return 0;
    case INVC_OP_UPSERT_NODE: encode_upsert(m, st, &rq->in.node); return 0;
    case INVC_OP_SET_NODE_STATUS:
    case INVC_OP_LIST_NODES:
    case INVC_OP_SET_SAFETY:
    case INVC_OP_SET_LIMIT: encode_catalog(m, st, rq); return 0;
    case INVC_OP_PING:
        invd__ping_request__init(&st->ping);
        m->op_case = INVD__REQUEST__OP_PING;
        m->ping = &st->ping;
        return 0;
    case INVC_OP_GET_STATS:
        invd__get_stats_request__init(&st->stats);
        m->op_case = INVD__REQUEST__OP_GET_STATS;
        m->get_stats = &st->stats;
        return 0;
    default: return -EINVAL;
    }
}

/* ====================================================================================
 * Socket I/O
 * ==================================================================================== */

static int client_read_some(inv_client *c) {
    assert(c->in_off <= c->in_len);
    assert(c->in_len <= c->in_cap);
    if (c->in_off > 0 && c->in_off == c->in_len) c->in_off = c->in_len = 0;
    if (c->in_cap - c->in_len < CLIENT_IN_CHUNK) {
        if (c->in_off > 0) {
            memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
            c->in_len -= c->in_off;
            c->in_off = 0;
        }
        if (c->in_cap - c->in_len < CLIENT_IN_CHUNK) {
            size_t cap = c->in_cap * 2;
            uint8_t *p = realloc(c->in, cap);
            if (p == NULL) return client_fail(c, -ENOMEM, "out of memory");
            c->in = p;
            c->in_cap = cap;
        }
    }
    ssize_t n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, MSG_DONTWAIT);
    if (n > 0) {
        c->in_len += (size_t)n;
        return (int)n;
    }
    if (n == 0) return client_fail(c, -ECONNRESET, "server closed the connection");
    if (errno == EAGAIN || errno == EINTR) return 0;
    return client_fail(c, -errno, "recv: %s", strerror(errno));
}

static int client_write_some(inv_client *c) {
    assert(c->out_off <= c->out_len);
    assert(c->out_len <= c->out_cap);
    if (c->out_off == c->out_len) return 0;
    ssize_t n =
        send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n >= 0) {
        c->out_off += (size_t)n;
        if (c->out_off == c->out_len) c->out_off = c->out_len = 0;
        return (int)n;
    }
    if (errno == EAGAIN || errno == EINTR) return 0;
    return client_fail(c, -errno, "send: %s", strerror(errno));
}

/* Wait for the socket; read whatever came, write what is pending.
 * @return 0 (progress or timeout), or a negative errno. */
static int client_io(inv_client *c, int timeout_ms) {
    struct pollfd p = {.fd = c->fd, .events = POLLIN};
    if (c->out_len > c->out_off) p.events |= POLLOUT;
    int r = poll(&p, 1, timeout_ms);
    if (r < 0 && errno != EINTR) return client_fail(c, -errno, "poll: %s", strerror(errno));
    if (r <= 0) return 0;
    if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
        int rc = client_read_some(c);
        if (rc < 0) return rc;
    }
    if (p.revents & POLLOUT) {
        int rc = client_write_some(c);
        if (rc < 0) return rc;
    }
    return 0;
}

int inv_client_flush(inv_client *c, int timeout_ms) {
    if (c->broken) return c->broken_rc;
    int64_t deadline = now_ms() + (timeout_ms < 0 ? c->timeout_ms : timeout_ms);
    for (int i = 0; i < 1000000 && c->out_len > c->out_off; i++) {
        int rc = client_write_some(c);
        if (rc < 0) return rc;
        if (c->out_len == c->out_off) break;
        int64_t left = deadline - now_ms();
        if (left <= 0) return client_fail(c, -ETIMEDOUT, "send timed out");
        rc = client_io(c, (int)left);
        if (rc < 0) return rc;
    }
    return 0;
}

/* ====================================================================================
 * Submit
 * ==================================================================================== */

static int client_out_reserve(inv_client *c, size_t need) {
    if (c->out_len + need <= c->out_cap) return 0;
    if (c->out_len >= INV_CLIENT_OUT_BYTES) {
        int rc = inv_client_flush(c, -1);
        if (rc < 0) return rc;
    }
    if (c->out_off > 0) {
        memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
        c->out_len -= c->out_off;
        c->out_off = 0;
    }
    size_t cap = c->out_cap;
    while (cap < c->out_len + need) cap *= 2;
    if (cap == c->out_cap) return 0;
    uint8_t *p = realloc(c->out, cap);
    if (p == NULL) return client_fail(c, -ENOMEM, "out of memory");
    c->out = p;
    c->out_cap = cap;
    return 0;
}

int inv_client_submit(inv_client *c, const inv_client_request *rq, void *user, uint64_t *out_id) {
    if (c == NULL || rq == NULL) return -EINVAL;
    if (c->broken) return c->broken_rc;
    uint64_t id = c->next_id;
    pending *p = &c->pend[id & PENDING_MASK];
    if (p->used) return client_fail(c, -EAGAIN, "too many requests in flight: poll first");
    Invd__Request m = INVD__REQUEST__INIT;
    req_store st;
    m.request_id = id;
    if (encode_request(&m, &st, rq) != 0) return client_fail(c, -EINVAL, "bad request arguments");
    size_t n = protobuf_c_message_get_packed_size(&m.base);
    int rc = client_out_reserve(c, n + INV_NET_HEADER_BYTES);
    if (rc < 0) return rc;
    inv_frame_header_put(c->out + c->out_len, (uint32_t)n);
    protobuf_c_message_pack(&m.base, c->out + c->out_len + INV_NET_HEADER_BYTES);
    c->out_len += n + INV_NET_HEADER_BYTES;
    c->next_id++;
    *p = (pending){.id = id, .user = user, .used = true};
    c->inflight++;
    if (out_id != NULL) *out_id = id;
    return 0;
}

/* ====================================================================================
 * Replies
 * ==================================================================================== */

static void view_reservation(inv_client_reservation *v, const Invd__ReservationView *m) {
    v->state = (int)m->state;
    v->is_tombstone = m->is_tombstone != 0;
    v->expires_at_ms = m->expires_at_ms;
    v->parcels = m->parcels;
    v->cost = m->cost;
    v->alloc_count = 0;
    for (size_t i = 0; i < m->n_allocation && i < INV_CLIENT_ALLOC_MAX; i++) {
        v->alloc[i] = (inv_client_alloc){m->allocation[i]->sku, m->allocation[i]->node_id,
                                         m->allocation[i]->qty};
        v->alloc_count++;
    }
    v->shortfall_count = 0;
    for (size_t i = 0; i < m->n_shortfall && i < INV_CLIENT_LINES_MAX; i++)
        v->shortfall[v->shortfall_count++] = m->shortfall[i];
    v->alternative_count = 0;
    for (size_t i = 0; i < m->n_alternatives && i < INV_CLIENT_ALTERNATIVES_MAX; i++)
        v->alternatives[v->alternative_count++] = m->alternatives[i];
}

static void view_availability(inv_client_availability *v, const Invd__AvailabilityView *m) {
    v->sku = m->sku;
    v->total_available = m->total_available;
    v->total_on_hand = m->total_on_hand;
    v->total_reserved = m->total_reserved;
    v->node_count = m->node_count;
    v->nodes_listed = 0;
    for (size_t i = 0; i < m->n_nodes && i < INV_CLIENT_AVAIL_NODES_MAX; i++)
        v->nodes[v->nodes_listed++] = (inv_client_node_avail){
            m->nodes[i]->node_id, m->nodes[i]->available, m->nodes[i]->distance_km};
}

static void view_node_list(inv_client_node_list *v, const Invd__NodeList *m) {
    v->total = m->total;
    v->count = 0;
    for (size_t i = 0; i < m->n_nodes && i < INV_CLIENT_NODES_PAGE_MAX; i++) {
        const Invd__NodeInfo *n = m->nodes[i];
        v->nodes[v->count++] = (inv_client_node_info){.index = n->index,
                                                      .node_id = n->node_id,
                                                      .region = n->region,
                                                      .kind = (int)n->kind,
                                                      .status = (int)n->status,
                                                      .lat = n->lat,
                                                      .lon = n->lon,
                                                      .ships = n->ships != 0,
                                                      .pickup = n->pickup != 0,
                                                      .capacity_per_day = n->capacity_per_day,
                                                      .allocated_today = n->allocated_today,
                                                      .priority = n->priority};
    }
}

static void view_stats(inv_client_stats *v, const Invd__Stats *m) {
    *v = (inv_client_stats){.nodes = m->nodes,
                            .skus = m->skus,
                            .cells = m->cells,
                            .reservations_live = m->reservations_live,
                            .tombstones = m->tombstones,
                            .reserves_ok = m->reserves_ok,
                            .reserves_failed = m->reserves_failed,
                            .sold_out_fast_path = m->sold_out_fast_path,
                            .commits = m->commits,
                            .releases = m->releases,
                            .expirations = m->expirations,
                            .reservation_bytes = m->reservation_bytes,
                            .shards = m->shards,
                            .connections = m->connections,
                            .requests = m->requests,
                            .uptime_ms = m->uptime_ms,
                            .durability = (int)m->durability};
}

static void view_result(inv_client_reply *r, const Invd__Response *m) {
    assert(r != NULL && m != NULL);
    r->result = (inv_client_result)m->result_case;
    switch (m->result_case) {
    case INVD__RESPONSE__RESULT_RESERVATION:
        view_reservation(&r->r.reservation, m->reservation);
        break;
    case INVD__RESPONSE__RESULT_CELL:
        r->r.cell = (inv_client_cell){m->cell->sku,          m->cell->node_id, m->cell->on_hand,
                                      m->cell->reserved,     m->cell->safety,  m->cell->available,
                                      m->cell->applied_delta};
        break;
    case INVD__RESPONSE__RESULT_AVAILABILITY:
        view_availability(&r->r.availability, m->availability);
        break;
    case INVD__RESPONSE__RESULT_NODE:
        r->r.node.node_id = m->node->node_id;
        r->r.node.index = m->node->index;
        r->r.node.created = m->node->created != 0;
        break;
    case INVD__RESPONSE__RESULT_NODE_LIST: view_node_list(&r->r.node_list, m->node_list); break;
    case INVD__RESPONSE__RESULT_LIMIT:
        r->r.limit.sku = m->limit->sku;
        r->r.limit.limit_per_customer = m->limit->limit_per_customer;
        break;
    case INVD__RESPONSE__RESULT_PONG:
        r->r.pong.server_time_ms = m->pong->server_time_ms;
        r->r.pong.shard = m->pong->shard;
        break;
    case INVD__RESPONSE__RESULT_STATS: view_stats(&r->r.stats, m->stats); break;
    default: r->result = INVC_RESULT_NONE; break;
    }
}

/* Decode the next whole frame into *r. @return 1 decoded, 0 need more, <0 broken. */
static int client_next_reply(inv_client *c, inv_client_reply *r) {
    assert(c->in_off <= c->in_len);
    assert(r != NULL);
    inv_frame fr;
    inv_frame_result fres =
        inv_frame_parse(c->in + c->in_off, c->in_len - c->in_off, c->frame_max, &fr);
    if (fres == INV_FRAME_NEED_MORE) return 0;
    if (fres == INV_FRAME_TOO_LARGE)
        return client_fail(c, -EPROTO, "reply frame of %u bytes is too large", fr.body_len);
    Invd__Response *m = invd__response__unpack(NULL, fr.body_len, fr.body);
    c->in_off += fr.frame_len;
    if (m == NULL) return client_fail(c, -EPROTO, "reply is not a valid Response");
    memset(r, 0, offsetof(inv_client_reply, r));
    r->request_id = m->request_id;
    r->status = (int)m->status;
    r->message = m->message != NULL ? m->message : "";
    r->durability = (int)m->durability;
    r->lsn = m->lsn;
    r->lsn_shard = m->lsn_shard;
    r->raw_ = m;
    view_result(r, m);
    pending *p = &c->pend[m->request_id & PENDING_MASK];
    if (p->used && p->id == m->request_id) {
        r->user = p->user;
        p->used = false;
        c->inflight--;
    }
    return 1;
}

int inv_client_poll(inv_client *c, inv_client_reply *out, uint32_t max, int timeout_ms) {
    if (c == NULL || (out == NULL && max > 0)) return -EINVAL;
    int rc = client_write_some(c);
    if (rc < 0) return rc;
    int64_t deadline = now_ms() + (timeout_ms < 0 ? c->timeout_ms : timeout_ms);
    uint32_t n = 0;
    for (int round = 0; round < 1000000; round++) {
        while (n < max && (rc = client_next_reply(c, &out[n])) == 1) n++;
        if (rc < 0) return n > 0 ? (int)n : rc;
        if (n > 0 || max == 0) return (int)n;
        if (c->broken) return c->broken_rc;
        int64_t left = deadline - now_ms();
        if (left <= 0) return 0;
        rc = client_io(c, (int)left);
        if (rc < 0) {
            while (n < max && client_next_reply(c, &out[n]) == 1) n++; /* what did arrive */
            return n > 0 ? (int)n : rc;
        }
    }
    return (int)n;
}

void inv_client_reply_free(inv_client_reply *r) {
    if (r == NULL || r->raw_ == NULL) return;
    invd__response__free_unpacked(r->raw_, NULL);
    r->raw_ = NULL;
}

/* ====================================================================================
 * Blocking calls
 * ==================================================================================== */

int inv_client_call(inv_client *c, const inv_client_request *rq, inv_client_reply *out) {
    if (c == NULL || out == NULL) return -EINVAL;
    if (c->inflight > 0) return client_fail(c, -EBUSY, "pipelined requests in flight");
    uint64_t id = 0;
    int rc = inv_client_submit(c, rq, NULL, &id);
    if (rc < 0) return rc;
    int64_t deadline = now_ms() + c->timeout_ms;
    for (int i = 0; i < 1000000; i++) {
        int64_t left = deadline - now_ms();
        if (left <= 0) break;
        rc = inv_client_poll(c, out, 1, (int)left);
        if (rc < 0) return rc;
        if (rc == 0) continue;
        if (out->request_id == id || out->request_id == 0) return 0; /* 0: connection error */
        inv_client_reply_free(out);
    }
    return client_fail(c, -ETIMEDOUT, "no reply within %d ms", c->timeout_ms);
}

#define CALL(op_, field_, value_)                                                                  \
    inv_client_request rq;                                                                         \
    memset(&rq, 0, sizeof rq);                                                                     \
    rq.op = (op_);                                                                                 \
    rq.in.field_ = (value_);                                                                       \
    return inv_client_call(c, &rq, out)

int inv_client_reserve(inv_client *c, const inv_client_reserve_args *a, inv_client_reply *out) {
    CALL(INVC_OP_RESERVE, reserve, *a);
}
int inv_client_commit(inv_client *c, const char *order_id, inv_client_reply *out) {
    CALL(INVC_OP_COMMIT, order.order_id, order_id);
}
int inv_client_release(inv_client *c, const char *order_id, inv_client_reply *out) {
    CALL(INVC_OP_RELEASE, order.order_id, order_id);
}
int inv_client_get_reservation(inv_client *c, const char *order_id, inv_client_reply *out) {
    CALL(INVC_OP_GET_RESERVATION, order.order_id, order_id);
}
int inv_client_extend(inv_client *c, const char *order_id, uint64_t ttl_ms, inv_client_reply *out) {
    inv_client_request rq;
    memset(&rq, 0, sizeof rq);
    rq.op = INVC_OP_EXTEND;
    rq.in.extend.order_id = order_id;
    rq.in.extend.ttl_ms = ttl_ms;
    return inv_client_call(c, &rq, out);
}
int inv_client_adjust(inv_client *c, const inv_client_adjust_args *a, inv_client_reply *out) {
    CALL(INVC_OP_ADJUST, adjust, *a);
}
int inv_client_return_stock(inv_client *c, const inv_client_return_args *a, inv_client_reply *out) {
    CALL(INVC_OP_RETURN, ret, *a);
}
int inv_client_get_availability(inv_client *c, const inv_client_availability_args *a,
                                inv_client_reply *out) {
    CALL(INVC_OP_GET_AVAILABILITY, availability, *a);
}
int inv_client_upsert_node(inv_client *c, const inv_client_node_spec *n, inv_client_reply *out) {
    CALL(INVC_OP_UPSERT_NODE, node, *n);
}
int inv_client_set_node_status(inv_client *c, const char *node_id, int status,
                               inv_client_reply *out) {
    inv_client_request rq;
    memset(&rq, 0, sizeof rq);
    rq.op = INVC_OP_SET_NODE_STATUS;
    rq.in.node_status.node_id = node_id;
    rq.in.node_status.status = status;
    return inv_client_call(c, &rq, out);
}
int inv_client_list_nodes(inv_client *c, uint32_t offset, uint32_t limit, inv_client_reply *out) {
    inv_client_request rq;
    memset(&rq, 0, sizeof rq);
    rq.op = INVC_OP_LIST_NODES;
    rq.in.list_nodes.offset = offset;
    rq.in.list_nodes.limit = limit;
    return inv_client_call(c, &rq, out);
}
int inv_client_set_safety(inv_client *c, const char *node_id, const char *sku, uint32_t safety,
                          inv_client_reply *out) {
    inv_client_request rq;
    memset(&rq, 0, sizeof rq);
    rq.op = INVC_OP_SET_SAFETY;
    rq.in.safety.node_id = node_id;
    rq.in.safety.sku = sku;
    rq.in.safety.safety = safety;
    return inv_client_call(c, &rq, out);
}
int inv_client_set_limit(inv_client *c, const char *sku, uint32_t limit_per_customer,
                         inv_client_reply *out) {
    inv_client_request rq;
    memset(&rq, 0, sizeof rq);
    rq.op = INVC_OP_SET_LIMIT;
    rq.in.limit.sku = sku;
    rq.in.limit.limit_per_customer = limit_per_customer;
    return inv_client_call(c, &rq, out);
}
int inv_client_ping(inv_client *c, inv_client_reply *out) {
    inv_client_request rq;
    memset(&rq, 0, sizeof rq);
    rq.op = INVC_OP_PING;
    return inv_client_call(c, &rq, out);
}
int inv_client_get_stats(inv_client *c, inv_client_reply *out) {
    inv_client_request rq;
    memset(&rq, 0, sizeof rq);
    rq.op = INVC_OP_GET_STATS;
    return inv_client_call(c, &rq, out);
}
