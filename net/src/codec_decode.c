/*
 * codec_decode.c — from a frame body to an engine op in a preallocated slot.
 *
 * Two steps, both bounded by the frame's length:
 *   1. codec_request_scan walks the protobuf wire format with the generated message
 *      descriptors, allocating nothing. It reads the request id (so that even a request
 *      that fails to decode gets an error reply with its id) and refuses what
 *      protobuf-c would accept but the server must not: strings with NUL bytes (C
 *      strings would silently cut them), repeated fields beyond INV_LINES_MAX entries,
 *      wire types that do not match the schema, nesting deeper than the schema has,
 *      absurdly long strings. Each step consumes at least one byte, so the walk ends.
 *   2. codec_request_decode runs protobuf_c_message_unpack with an allocator that bumps
 *      through the slot's fixed arena (INV_NET_DECODE_ARENA_BYTES) — no malloc per
 *      request; a request that needs more is refused — then maps the message to the
 *      op's inputs. Strings stay in the arena, NUL-terminated, until the slot is freed,
 *      which is after the engine has answered (the engine requires inputs to stay valid
 *      until completion, even when the op is forwarded to another shard).
 * Bad bytes are operating errors: INVALID_ARGUMENT and a message, never an abort.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "net_int.h"

#define SCAN_STRING_BYTES_MAX 256u /* longer than any id: refused before decoding */
#define SCAN_FIELDS_PER_MSG 32u    /* the widest request message has 16 fields */

/* ====================================================================================
 * Wire scan
 * ==================================================================================== */

typedef struct scan_frame {
    const uint8_t *p, *end;
    const ProtobufCMessageDescriptor *d;
    uint32_t counts[SCAN_FIELDS_PER_MSG];
} scan_frame;

/* Read a varint at *p (< end). @return bytes read, 0 when truncated or over-long. */
static size_t scan_varint(const uint8_t *p, const uint8_t *end, uint64_t *out) {
    uint64_t v = 0;
    for (size_t i = 0; i < 10 && p + i < end; i++) {
        uint8_t b = p[i];
        if (i == 9 && b > 1) return 0;
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if ((b & 0x80) == 0) {
            *out = v;
            return i + 1;
        }
    }
    return 0;
}

static int scan_fail(codec_scan_result *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int scan_fail(codec_scan_result *out, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->error, sizeof out->error, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

/* The wire type a field of this descriptor must arrive with (-1: any of several). */
static int scan_wire_type_of(const ProtobufCFieldDescriptor *fd) {
    switch (fd->type) {
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE: return 1;
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_FLOAT: return 5;
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_BYTES:
    case PROTOBUF_C_TYPE_MESSAGE: return 2;
    default: return 0;
    }
}

/* A length-delimited field: check it, and push a frame for a nested message. */
static int scan_len_field(scan_frame *st, uint32_t *depth, const ProtobufCFieldDescriptor *fd,
                          const uint8_t *data, uint64_t len, codec_scan_result *out) {
    if (fd == NULL) return 0; /* unknown field: skipped */
    if (fd->type == PROTOBUF_C_TYPE_STRING) {
        if (len > SCAN_STRING_BYTES_MAX)
            return scan_fail(out, "field '%s' is longer than %u bytes", fd->name,
                             SCAN_STRING_BYTES_MAX);
        if (memchr(data, 0, (size_t)len) != NULL)
            return scan_fail(out, "field '%s' contains a NUL byte", fd->name);
        return 0;
    }
    if (fd->type != PROTOBUF_C_TYPE_MESSAGE) return 0; /* bytes / packed scalars */
    if (*depth + 1 >= INV_NET_SCAN_DEPTH_MAX)
        return scan_fail(out, "field '%s' nests deeper than %u", fd->name, INV_NET_SCAN_DEPTH_MAX);
    const ProtobufCMessageDescriptor *d = fd->descriptor;
    assert(d->n_fields <= SCAN_FIELDS_PER_MSG);
    scan_frame *f = &st[++*depth];
    f->p = data;
    f->end = data + len;
    f->d = d;
    memset(f->counts, 0, sizeof f->counts);
    return 0;
}

/* One field of frame f: key, value, checks. */
static int scan_field(scan_frame *st, uint32_t *depth, codec_scan_result *out) {
    assert(*depth < INV_NET_SCAN_DEPTH_MAX);
    assert(st[*depth].p < st[*depth].end);
    scan_frame *f = &st[*depth];
    uint64_t key = 0, v = 0;
    size_t n = scan_varint(f->p, f->end, &key);
    if (n == 0) return scan_fail(out, "truncated field key");
    f->p += n;
    uint64_t num = key >> 3;
    unsigned wt = (unsigned)(key & 7);
    if (num == 0 || num > 536870911u)
        return scan_fail(out, "bad field number %llu", (unsigned long long)num);
    const ProtobufCFieldDescriptor *fd =
        protobuf_c_message_descriptor_get_field(f->d, (unsigned)num);
    if (fd != NULL && wt != (unsigned)scan_wire_type_of(fd) &&
        !(wt == 2 && fd->label == PROTOBUF_C_LABEL_REPEATED))
        return scan_fail(out, "field '%s' has wire type %u, not its schema's", fd->name, wt);
    if (wt == 0) {
        n = scan_varint(f->p, f->end, &v);
        if (n == 0) return scan_fail(out, "truncated varint");
        f->p += n;
        if (*depth == 0 && num == 1) out->request_id = v;
    } else if (wt == 1 || wt == 5) {
        size_t w = wt == 1 ? 8u : 4u;
        if ((size_t)(f->end - f->p) < w) return scan_fail(out, "truncated fixed%zu field", w * 8);
        f->p += w;
    } else if (wt == 2) {
        n = scan_varint(f->p, f->end, &v);
        if (n == 0 || v > (uint64_t)(f->end - f->p - (ptrdiff_t)n))
            return scan_fail(out, "truncated length-delimited field %llu", (unsigned long long)num);
        const uint8_t *data = f->p + n;
        f->p = data + v; /* the parent resumes after the nested bytes */
        int rc = scan_len_field(st, depth, fd, data, v, out);
        if (rc != 0) return rc;
    } else {
        return scan_fail(out, "unsupported wire type %u", wt);
    }
    if (fd == NULL) return 0;
    uint32_t idx = (uint32_t)(fd - f->d->fields);
    if (fd->label == PROTOBUF_C_LABEL_REPEATED && ++f->counts[idx] > INV_LINES_MAX)
        return scan_fail(out, "field '%s' has more than %u entries", fd->name, INV_LINES_MAX);
    if (f == &st[0] && (fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)) out->op_field = (uint32_t)num;
    return 0;
}

int codec_request_scan(const uint8_t *body, size_t len, codec_scan_result *out) {
    assert(out != NULL);
    assert(body != NULL || len == 0);
    memset(out, 0, sizeof *out);
    scan_frame st[INV_NET_SCAN_DEPTH_MAX];
    uint32_t depth = 0;
    st[0].p = body;
    st[0].end = body + len;
    st[0].d = &invd__request__descriptor;
    memset(st[0].counts, 0, sizeof st[0].counts);
    for (uint32_t fields = 0;; fields++) {
        while (st[depth].p == st[depth].end) {
            if (depth == 0) return 0;
            depth--;
        }
        if (fields >= INV_NET_SCAN_FIELDS_MAX)
            return scan_fail(out, "more than %u fields", INV_NET_SCAN_FIELDS_MAX);
        int rc = scan_field(st, &depth, out);
        if (rc != 0) return rc;
    }
}

/* ====================================================================================
 * Slot arena allocator
 * ==================================================================================== */

static void *arena_alloc(void *ctx, size_t size) {
    net_arena *a = ctx;
    size_t at = ((size_t)a->used + 15u) & ~(size_t)15u;
    if (size > sizeof a->bytes || at > sizeof a->bytes - size) {
        a->failed = 1;
        return NULL;
    }
    a->used = (uint32_t)(at + size);
    return a->bytes + at;
}

static void arena_free(void *ctx, void *p) {
    (void)ctx; /* the whole arena is reset when the slot is freed */
    (void)p;
}

/* ====================================================================================
 * Message → op
 * ==================================================================================== */

static const char *str_or_null(const char *s) { return (s == NULL || s[0] == '\0') ? NULL : s; }
static const char *str_or_empty(const char *s) { return s == NULL ? "" : s; }

static inv_status decode_fail(net_slot *slot, const char *msg) {
    slot->op.status = INV_INVALID_ARGUMENT;
    snprintf(slot->op.message, sizeof slot->op.message, "%s", msg);
    return INV_INVALID_ARGUMENT;
}

static inv_status decode_reserve(net_slot *slot, const Invd__ReserveRequest *r) {
    assert(r != NULL);
    assert(slot->kind == INV_OP_RESERVE);
    inv_reserve_args *a = &slot->op.in.reserve;
    if (r->n_lines > INV_LINES_MAX) return decode_fail(slot, "an order has 1..32 lines");
    if ((unsigned)r->policy > INV_ROUTE_PICKUP) return decode_fail(slot, "unknown policy");
    a->order_id = str_or_empty(r->order_id);
    a->customer_id = str_or_empty(r->customer_id);
    memset(&a->dest, 0, sizeof a->dest);
    if (r->dest != NULL) {
        a->dest.has_point = r->dest->point != NULL;
        if (r->dest->point != NULL) {
            a->dest.lat = r->dest->point->lat;
            a->dest.lon = r->dest->point->lon;
        }
        a->dest.pickup_node_id = str_or_null(r->dest->pickup_node_id);
    }
    for (size_t i = 0; i < r->n_lines; i++) {
        const Invd__Line *l = r->lines[i];
        slot->lines[i].sku = str_or_empty(l->sku);
        slot->lines[i].qty = l->qty;
    }
    a->lines = slot->lines;
    a->line_count = (uint32_t)r->n_lines;
    a->ttl_ms = r->ttl_ms;
    a->policy = (inv_route_policy)r->policy;
    a->max_parcels = r->max_parcels;
    a->max_distance_km = r->max_distance_km;
    /* Failure paths read these; the engine writes them only where it answers. */
    inv_reservation_view *v = &slot->op.out.reservation;
    v->alloc_count = 0;
    v->alternative_count = 0;
    memset(v->shortfall, 0, sizeof v->shortfall);
    return INV_OK;
}

static inv_status decode_adjust(net_slot *slot, const Invd__AdjustRequest *r) {
    assert(r != NULL);
    assert(slot->kind == INV_OP_ADJUST);
    inv_adjust_args *a = &slot->op.in.adjust;
    a->node_id = str_or_empty(r->node_id);
    a->sku = str_or_empty(r->sku);
    a->ref_id = str_or_null(r->ref_id);
    a->has_set_to = r->change_case == INVD__ADJUST_REQUEST__CHANGE_SET_TO;
    a->delta = r->change_case == INVD__ADJUST_REQUEST__CHANGE_DELTA ? r->delta : 0;
    a->set_to = a->has_set_to ? r->set_to : 0;
    if (r->change_case == INVD__ADJUST_REQUEST__CHANGE__NOT_SET)
        return decode_fail(slot, "adjust needs delta or set_to");
    slot->echo_node = a->node_id;
    slot->echo_sku = a->sku;
    return INV_OK;
}

static inv_status decode_availability(net_slot *slot, const Invd__GetAvailabilityRequest *r) {
    assert(r != NULL);
    assert(slot->kind == INV_OP_GET_AVAILABILITY);
    inv_availability_args *a = &slot->op.in.availability;
    a->sku = str_or_empty(r->sku);
    a->has_point = r->point != NULL;
    a->lat = r->point != NULL ? r->point->lat : 0;
    a->lon = r->point != NULL ? r->point->lon : 0;
    a->radius_km = r->radius_km;
    a->nodes_cap = r->max_nodes < INV_NET_AVAIL_NODES_MAX ? r->max_nodes : INV_NET_AVAIL_NODES_MAX;
    a->nodes = slot->outbuf.avail;
    slot->echo_sku = a->sku;
    return INV_OK;
}

static inv_status decode_upsert(net_slot *slot, const Invd__UpsertNodeRequest *r) {
    assert(r != NULL);
    assert(slot->kind == INV_OP_UPSERT_NODE);
    inv_node_spec *n = &slot->op.in.node;
    if ((unsigned)r->kind >= INV_NODE_KIND_COUNT) return decode_fail(slot, "unknown node kind");
    if ((unsigned)r->status > INV_NODE_CLOSED) return decode_fail(slot, "unknown node status");
    n->node_id = str_or_empty(r->node_id);
    n->kind = (inv_node_kind)r->kind;
    n->lat = r->lat;
    n->lon = r->lon;
    n->region = str_or_null(r->region);
    n->ships = r->ships != 0;
    n->pickup = r->pickup != 0;
    n->capacity_per_day = r->capacity_per_day;
    n->priority = r->priority;
    n->status = (inv_node_status)r->status;
    slot->echo_node = n->node_id;
    return INV_OK;
}

/* Ops whose input is one or two plain fields. */
static inv_status decode_simple(net_slot *slot, const Invd__Request *rq) {
    assert(rq->op_case != INVD__REQUEST__OP__NOT_SET);
    inv_op *op = &slot->op;
    switch (rq->op_case) {
    case INVD__REQUEST__OP_COMMIT:
        op->in.order.order_id = str_or_empty(rq->commit->order_id);
        break;
    case INVD__REQUEST__OP_RELEASE:
        op->in.order.order_id = str_or_empty(rq->release->order_id);
        break;
    case INVD__REQUEST__OP_GET_RESERVATION:
        op->in.order.order_id = str_or_empty(rq->get_reservation->order_id);
        break;
    case INVD__REQUEST__OP_EXTEND:
        op->in.extend.order_id = str_or_empty(rq->extend->order_id);
        op->in.extend.ttl_ms = rq->extend->ttl_ms;
        break;
    case INVD__REQUEST__OP_RETURN_STOCK:
        op->in.ret.node_id = slot->echo_node = str_or_empty(rq->return_stock->node_id);
        op->in.ret.sku = slot->echo_sku = str_or_empty(rq->return_stock->sku);
        op->in.ret.qty = rq->return_stock->qty;
        op->in.ret.ref_id = str_or_null(rq->return_stock->ref_id);
        break;
    case INVD__REQUEST__OP_SET_NODE_STATUS:
        if ((unsigned)rq->set_node_status->status > INV_NODE_CLOSED)
            return decode_fail(slot, "unknown node status");
        op->in.node_status.node_id = slot->echo_node = str_or_empty(rq->set_node_status->node_id);
        op->in.node_status.status = (inv_node_status)rq->set_node_status->status;
        break;
    case INVD__REQUEST__OP_LIST_NODES: {
        uint32_t lim = rq->list_nodes->limit;
        if (lim == 0) lim = INV_NET_LIST_NODES_PAGE_DEFAULT;
        op->in.list_nodes.offset = rq->list_nodes->offset;
        op->in.list_nodes.nodes_cap =
            lim < INV_NET_LIST_NODES_PAGE_MAX ? lim : INV_NET_LIST_NODES_PAGE_MAX;
        op->in.list_nodes.nodes = slot->outbuf.nodes;
        break;
    }
    case INVD__REQUEST__OP_SET_SAFETY:
        op->in.safety.node_id = slot->echo_node = str_or_empty(rq->set_safety->node_id);
        op->in.safety.sku = slot->echo_sku = str_or_empty(rq->set_safety->sku);
        op->in.safety.safety = rq->set_safety->safety;
        break;
    case INVD__REQUEST__OP_SET_LIMIT:
        op->in.limit.sku = slot->echo_sku = str_or_empty(rq->set_limit->sku);
        op->in.limit.limit_per_customer = slot->echo_u32 = rq->set_limit->limit_per_customer;
        break;
    default: return decode_fail(slot, "request carries no known operation");
    }
    return INV_OK;
}

/* Ops that change state: their replies wait until the change is durable. */
static bool op_is_mutation(uint32_t kind) {
    return kind == INV_OP_RESERVE || kind == INV_OP_COMMIT || kind == INV_OP_RELEASE ||
           kind == INV_OP_EXTEND || kind == INV_OP_ADJUST || kind == INV_OP_RETURN ||
           kind == INV_OP_UPSERT_NODE || kind == INV_OP_SET_NODE_STATUS ||
           kind == INV_OP_SET_SAFETY || kind == INV_OP_SET_LIMIT;
}

static inv_status decode_request(net_slot *slot, const Invd__Request *rq) {
    switch (rq->op_case) {
    case INVD__REQUEST__OP_RESERVE: return decode_reserve(slot, rq->reserve);
    case INVD__REQUEST__OP_ADJUST: return decode_adjust(slot, rq->adjust);
    case INVD__REQUEST__OP_GET_AVAILABILITY: return decode_availability(slot, rq->get_availability);
    case INVD__REQUEST__OP_UPSERT_NODE: return decode_upsert(slot, rq->upsert_node);
    case INVD__REQUEST__OP_PING: slot->kind = NET_KIND_PING; return INV_OK;
    case INVD__REQUEST__OP_GET_STATS: slot->kind = NET_KIND_STATS; return INV_OK;
    default: return decode_simple(slot, rq);
    }
}

inv_status codec_request_decode(net_slot *slot, const uint8_t *body, size_t len) {
    assert(slot != NULL);
    assert(slot->arena.used == 0);
    ProtobufCAllocator alloc = {arena_alloc, arena_free, &slot->arena};
    slot->kind = NET_KIND_INVALID;
    slot->mutation = false;
    slot->op.status = INV_OK;
    slot->op.message[0] = '\0';
    Invd__Request *rq =
        (Invd__Request *)protobuf_c_message_unpack(&invd__request__descriptor, &alloc, len, body);
    if (rq == NULL) {
        if (slot->arena.failed)
            return decode_fail(slot, "request needs more than 8 KiB once decoded (too many "
                                     "or too long fields)");
        return decode_fail(slot, "malformed protobuf: not a Request");
    }
    slot->request_id = rq->request_id;
    if (rq->op_case == INVD__REQUEST__OP__NOT_SET)
        return decode_fail(slot, "request carries no known operation");
    uint32_t field = (uint32_t)rq->op_case;
    if (field >= 11 && field <= 23) {
        slot->kind = field - 10;
        slot->op.type = (inv_op_type)slot->kind;
    }
    inv_status st = decode_request(slot, rq);
    if (st != INV_OK) {
        slot->kind = NET_KIND_INVALID;
        return st;
    }
    slot->mutation = op_is_mutation(slot->kind);
    return INV_OK;
}
