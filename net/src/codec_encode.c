/*
 * codec_encode.c — from a finished slot to a Response frame in a connection's buffer.
 *
 * A shard owns one codec_encoder: every nested message and pointer array a Response can
 * need, sized by the constants (INV_ALLOC_MAX allocations, INV_NET_AVAIL_NODES_MAX
 * availability entries, INV_NET_LIST_NODES_PAGE_MAX nodes), so building a reply
 * allocates nothing. Strings point at the engine's interned names (immutable, safe from
 * any thread), at the request's own strings in the slot arena, or at the slot's output
 * arrays; protobuf_c_message_pack only reads them.
 *
 * Which result a reply carries (docs/protocol.md): a reservation for the order ops when
 * the engine filled one (success, or a finished order answered from its tombstone, or
 * INSUFFICIENT_STOCK with its shortfall, or a short PICKUP with its alternatives); a
 * cell for Adjust/Return/SetSafety on success and DUPLICATE_REF; the op's result on
 * success for the others; nothing on other errors.
 */
#include <stdlib.h>
#include <string.h>

#include "net_int.h"

struct codec_encoder {
    Invd__Response rsp;
    Invd__ReservationView rv;
    Invd__Allocation alloc[INV_ALLOC_MAX];
    Invd__Allocation *alloc_p[INV_ALLOC_MAX];
    char *alternatives[INV_PICKUP_ALTERNATIVES_MAX];
    uint32_t shortfall[INV_LINES_MAX];
    Invd__CellView cell;
    Invd__AvailabilityView av;
    Invd__NodeAvailability na[INV_NET_AVAIL_NODES_MAX];
    Invd__NodeAvailability *na_p[INV_NET_AVAIL_NODES_MAX];
    Invd__NodeResult node;
    Invd__NodeList nl;
    Invd__NodeInfo ni[INV_NET_LIST_NODES_PAGE_MAX];
    Invd__NodeInfo *ni_p[INV_NET_LIST_NODES_PAGE_MAX];
    Invd__LimitResult limit;
    Invd__Pong pong;
    Invd__Stats stats;
};

codec_encoder *codec_encoder_new(void) {
    codec_encoder *enc = calloc(1, sizeof *enc);
    return enc;
}

void codec_encoder_free(codec_encoder *enc) { free(enc); }

static char *str_of(const char *s) { return (char *)(s != NULL ? s : ""); }

/* ====================================================================================
 * Results
 * ==================================================================================== */

static bool reservation_answered(inv_status st) {
    return st == INV_OK || st == INV_EXPIRED || st == INV_ALREADY_RELEASED ||
           st == INV_ALREADY_COMMITTED || st == INV_INSUFFICIENT_STOCK || st == INV_NO_ROUTE;
}

static void encode_reservation(codec_encoder *enc, const inv_engine *e, const net_slot *slot) {
    const inv_reservation_view *v = &slot->op.out.reservation;
    Invd__ReservationView *rv = &enc->rv;
    invd__reservation_view__init(rv);
    inv_status st = slot->op.status;
    bool held = st == INV_OK || st == INV_EXPIRED || st == INV_ALREADY_RELEASED ||
                st == INV_ALREADY_COMMITTED;
    if (held) {
        rv->state = (Invd__ReservationState)v->state;
        rv->is_tombstone = v->is_tombstone;
        rv->expires_at_ms = v->expires_at_ms;
        rv->parcels = v->parcels;
        rv->cost = v->cost;
        uint32_t n = v->alloc_count <= INV_ALLOC_MAX ? v->alloc_count : INV_ALLOC_MAX;
        for (uint32_t i = 0; i < n; i++) {
            Invd__Allocation *a = &enc->alloc[i];
            invd__allocation__init(a);
            a->sku = str_of(inv_engine_sku_name(e, v->alloc[i].sku));
            a->node_id = str_of(inv_engine_node_id(e, v->alloc[i].node));
            a->qty = v->alloc[i].qty;
            enc->alloc_p[i] = a;
        }
        rv->n_allocation = n;
        rv->allocation = enc->alloc_p;
    }
    if (st == INV_INSUFFICIENT_STOCK && slot->kind == INV_OP_RESERVE) {
        uint32_t lines = slot->op.in.reserve.line_count;
        memcpy(enc->shortfall, v->shortfall, lines * sizeof(uint32_t));
        rv->n_shortfall = lines;
        rv->shortfall = enc->shortfall;
    }
    uint32_t alt = v->alternative_count <= INV_PICKUP_ALTERNATIVES_MAX
                       ? v->alternative_count
                       : INV_PICKUP_ALTERNATIVES_MAX;
    for (uint32_t i = 0; i < alt && slot->kind == INV_OP_RESERVE && !held; i++)
        enc->alternatives[rv->n_alternatives++] = str_of(inv_engine_node_id(e, v->alternatives[i]));
    rv->alternatives = enc->alternatives;
    enc->rsp.result_case = INVD__RESPONSE__RESULT_RESERVATION;
    enc->rsp.reservation = rv;
}

static void encode_cell(codec_encoder *enc, const net_slot *slot) {
    assert(slot->op.status == INV_OK || slot->op.status == INV_DUPLICATE_REF);
    const inv_cell_view *c = &slot->op.out.cell;
    Invd__CellView *cv = &enc->cell;
    invd__cell_view__init(cv);
    cv->sku = str_of(slot->echo_sku);
    cv->node_id = str_of(slot->echo_node);
    cv->on_hand = c->on_hand;
    cv->reserved = c->reserved;
    cv->safety = c->safety;
    cv->available = c->available;
    cv->applied_delta = c->applied_delta;
    enc->rsp.result_case = INVD__RESPONSE__RESULT_CELL;
    enc->rsp.cell = cv;
}

static void encode_availability(codec_encoder *enc, const inv_engine *e, const net_slot *slot) {
    const inv_availability_view *v = &slot->op.out.availability;
    Invd__AvailabilityView *av = &enc->av;
    invd__availability_view__init(av);
    av->sku = str_of(slot->echo_sku);
    av->total_available = v->total_available;
    av->total_on_hand = v->total_on_hand;
    av->total_reserved = v->total_reserved;
    av->node_count = v->node_count;
    uint32_t n =
        v->nodes_written <= INV_NET_AVAIL_NODES_MAX ? v->nodes_written : INV_NET_AVAIL_NODES_MAX;
    for (uint32_t i = 0; i < n; i++) {
        const inv_node_avail *src = &slot->outbuf.avail[i];
        Invd__NodeAvailability *na = &enc->na[i];
        invd__node_availability__init(na);
        na->node_id = str_of(inv_engine_node_id(e, src->node));
        na->available = src->available;
        na->distance_km = src->distance_km;
        enc->na_p[i] = na;
    }
    av->n_nodes = n;
    av->nodes = enc->na_p;
    enc->rsp.result_case = INVD__RESPONSE__RESULT_AVAILABILITY;
    enc->rsp.availability = av;
}

static void encode_node_list(codec_encoder *enc, const net_slot *slot) {
    assert(slot->kind == INV_OP_LIST_NODES);
    Invd__NodeList *nl = &enc->nl;
    invd__node_list__init(nl);
    nl->total = slot->op.out.list_nodes.total;
    uint32_t n = slot->op.out.list_nodes.written;
    if (n > INV_NET_LIST_NODES_PAGE_MAX) n = INV_NET_LIST_NODES_PAGE_MAX;
    for (uint32_t i = 0; i < n; i++) {
        const inv_node_info *src = &slot->outbuf.nodes[i];
        Invd__NodeInfo *ni = &enc->ni[i];
        invd__node_info__init(ni);
        ni->index = src->index;
        ni->node_id = str_of(src->node_id);
        ni->kind = (Invd__NodeKind)src->kind;
        ni->lat = src->lat;
        ni->lon = src->lon;
        ni->region = str_of(src->region);
        ni->ships = src->ships;
        ni->pickup = src->pickup;
        ni->capacity_per_day = src->capacity_per_day;
        ni->allocated_today = src->allocated_today;
        ni->priority = src->priority;
        ni->status = (Invd__NodeStatus)src->status;
        enc->ni_p[i] = ni;
    }
    nl->n_nodes = n;
    nl->nodes = enc->ni_p;
    enc->rsp.result_case = INVD__RESPONSE__RESULT_NODE_LIST;
    enc->rsp.node_list = nl;
}

static void encode_stats(codec_encoder *enc, const inv_engine *e, const codec_server_info *info) {
    assert(e != NULL);
    assert(info->shards > 0);
    inv_engine_stats es;
    inv_engine_stats_read(e, &es);
    Invd__Stats *st = &enc->stats;
    invd__stats__init(st);
    st->nodes = es.nodes;
    st->skus = es.skus;
    st->cells = es.cells;
    st->reservations_live = es.reservations_live;
    st->tombstones = es.tombstones;
    st->reserves_ok = es.reserves_ok;
    st->reserves_failed = es.reserves_failed;
    st->sold_out_fast_path = es.sold_out_fast_path;
    st->commits = es.commits;
    st->releases = es.releases;
    st->expirations = es.expirations;
    st->reservation_bytes = es.reservation_bytes;
    st->shards = info->shards;
    st->connections = info->connections;
    st->requests = info->requests;
    st->durability = (Invd__Durability)info->durability;
    st->uptime_ms = info->uptime_ms;
    enc->rsp.result_case = INVD__RESPONSE__RESULT_STATS;
    enc->rsp.stats = st;
}

static void encode_small_result(codec_encoder *enc, const net_slot *slot,
                                const codec_server_info *info) {
    switch (slot->kind) {
    case INV_OP_UPSERT_NODE:
    case INV_OP_SET_NODE_STATUS:
        invd__node_result__init(&enc->node);
        enc->node.node_id = str_of(slot->echo_node);
        enc->node.index = slot->op.out.node.node;
        enc->node.created = slot->kind == INV_OP_UPSERT_NODE && slot->op.out.node.created;
        enc->rsp.result_case = INVD__RESPONSE__RESULT_NODE;
        enc->rsp.node = &enc->node;
        break;
    case INV_OP_SET_LIMIT:
        invd__limit_result__init(&enc->limit);
        enc->limit.sku = str_of(slot->echo_sku);
        enc->limit.limit_per_customer = slot->echo_u32;
        enc->rsp.result_case = INVD__RESPONSE__RESULT_LIMIT;
        enc->rsp.limit = &enc->limit;
        break;
    case NET_KIND_PING:
        invd__pong__init(&enc->pong);
        enc->pong.server_time_ms = net_wall_ms();
        enc->pong.shard = info->shard;
        enc->rsp.result_case = INVD__RESPONSE__RESULT_PONG;
        enc->rsp.pong = &enc->pong;
        break;
    default: break;
    }
}

static void encode_result(codec_encoder *enc, const inv_engine *e, const net_slot *slot,
                          const codec_server_info *info) {
    inv_status st = slot->op.status;
    uint32_t k = slot->kind;
    if (k >= INV_OP_RESERVE && k <= INV_OP_GET_RESERVATION) {
        if (reservation_answered(st)) encode_reservation(enc, e, slot);
    } else if (k == INV_OP_ADJUST || k == INV_OP_RETURN || k == INV_OP_SET_SAFETY) {
        if (st == INV_OK || st == INV_DUPLICATE_REF) encode_cell(enc, slot);
    } else if (st != INV_OK) {
        return;
    } else if (k == INV_OP_GET_AVAILABILITY) {
        encode_availability(enc, e, slot);
    } else if (k == INV_OP_LIST_NODES) {
        encode_node_list(enc, slot);
    } else if (k == NET_KIND_STATS) {
        encode_stats(enc, e, info);
    } else {
        encode_small_result(enc, slot, info);
    }
}

/* ====================================================================================
 * Frames
 * ==================================================================================== */

static size_t pack_frame(const Invd__Response *rsp, uint8_t *out, size_t cap) {
    assert(out != NULL);
    size_t n = protobuf_c_message_get_packed_size(&rsp->base);
    if (n > INV_NET_RESPONSE_BYTES_MAX) return SIZE_MAX;
    if (n + INV_NET_HEADER_BYTES > cap) return 0;
    inv_frame_header_put(out, (uint32_t)n);
    size_t w = protobuf_c_message_pack(&rsp->base, out + INV_NET_HEADER_BYTES);
    assert(w == n);
    return w + INV_NET_HEADER_BYTES;
}

size_t codec_error_encode(uint64_t request_id, inv_status st, const char *message, uint8_t *out,
                          size_t cap) {
    assert(out != NULL);
    assert(st != INV_OK);
    Invd__Response rsp = INVD__RESPONSE__INIT;
    rsp.request_id = request_id;
    rsp.status = (Invd__Status)st;
    rsp.message = str_of(message);
    size_t n = pack_frame(&rsp, out, cap);
    return n == SIZE_MAX ? 0 : n;
}

size_t codec_response_encode(codec_encoder *enc, const inv_engine *e, const net_slot *slot,
                             const codec_server_info *info, uint8_t *out, size_t cap) {
    assert(enc != NULL);
    assert(slot->state != NET_SLOT_FREE);
    Invd__Response *rsp = &enc->rsp;
    invd__response__init(rsp);
    rsp->request_id = slot->request_id;
    rsp->status = (Invd__Status)slot->op.status;
    rsp->message = str_of(slot->op.message);
    if (slot->kind >= INV_OP_RESERVE && slot->kind < INV_OP_TYPE_COUNT) {
        rsp->lsn = slot->op.lsn;
        rsp->lsn_shard = slot->op.lsn_shard;
        bool changed = slot->op.status == INV_OK || slot->op.status == INV_DUPLICATE_REF;
        if (slot->mutation && changed) rsp->durability = (Invd__Durability)info->durability;
    }
    if (slot->kind != NET_KIND_INVALID) encode_result(enc, e, slot, info);
    size_t n = pack_frame(rsp, out, cap);
    if (n != SIZE_MAX) return n;
    /* Bounds in inv_net_constants.h make this unreachable; answer rather than abort. */
    return codec_error_encode(slot->request_id, INV_INTERNAL, "response too large", out, cap);
}
