/*
 * test_net_codec.c — the network front in-process: framing at every split, the wire
 * pre-scan, decoding bounds, and whole request/reply round trips through the server's
 * shard loop on the in-memory transport (no sockets, no threads).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "inv_frame.h"
#include "inv_server.h"
#include "invd.pb-c.h"

/* net/src internals under test */
#include "../net/src/net_int.h"

/* ====================================================================================
 * Framing
 * ==================================================================================== */

Test(net_frame, split_at_every_byte) {
    uint8_t buf[4 + 5] = {0, 0, 0, 5, 1, 2, 3, 4, 5};
    for (size_t len = 0; len < sizeof buf; len++) {
        inv_frame f;
        cr_assert_eq(inv_frame_parse(buf, len, 100, &f), INV_FRAME_NEED_MORE);
        cr_assert_eq(f.need, len < 4 ? 4u : 9u);
    }
    inv_frame f;
    cr_assert_eq(inv_frame_parse(buf, sizeof buf, 100, &f), INV_FRAME_READY);
    cr_assert_eq(f.body_len, 5);
    cr_assert_eq(f.frame_len, 9);
    cr_assert_eq(f.body, buf + 4);
}

Test(net_frame, too_large_is_decided_from_the_header_alone) {
    uint8_t hdr[4] = {0xff, 0xff, 0xff, 0xff};
    inv_frame f;
    cr_assert_eq(inv_frame_parse(hdr, 4, INV_NET_FRAME_BYTES_DEFAULT, &f), INV_FRAME_TOO_LARGE);
    cr_assert_eq(f.body_len, 0xffffffffu);
    inv_frame_header_put(hdr, INV_NET_FRAME_BYTES_DEFAULT);
    cr_assert_eq(inv_frame_parse(hdr, 4, INV_NET_FRAME_BYTES_DEFAULT, &f), INV_FRAME_NEED_MORE);
    cr_assert_eq(inv_frame_parse(NULL, 0, 10, &f), INV_FRAME_NEED_MORE);
}

/* ====================================================================================
 * Wire pre-scan
 * ==================================================================================== */

Test(net_scan, reads_id_and_op) {
    static const uint8_t ping[] = {0x08, 0x96, 0x01, 0xc2, 0x02, 0x00};
    codec_scan_result r;
    cr_assert_eq(codec_request_scan(ping, sizeof ping, &r), 0);
    cr_assert_eq(r.request_id, 150);
    cr_assert_eq(r.op_field, 40);
}

Test(net_scan, refuses_what_protobuf_c_would_take) {
    codec_scan_result r;
    static const uint8_t nul[] = {0x08, 5, 0x62, 0x05, 0x0a, 0x03, 'a', 0, 'b'};
    cr_assert_eq(codec_request_scan(nul, sizeof nul, &r), -EINVAL);
    cr_assert_eq(r.request_id, 5);
    cr_assert(strstr(r.error, "NUL") != NULL);
    static const uint8_t trunc[] = {0x08, 0x80};
    cr_assert_eq(codec_request_scan(trunc, sizeof trunc, &r), -EINVAL);
    static const uint8_t group[] = {0x0b};
    cr_assert_eq(codec_request_scan(group, sizeof group, &r), -EINVAL);
    static const uint8_t wrong[] = {0x0a, 0x00};
    cr_assert_eq(codec_request_scan(wrong, sizeof wrong, &r), -EINVAL);
    static const uint8_t overlong[] = {0x08, 0xff, 0xff, 0xff, 0xff, 0xff,
                                       0xff, 0xff, 0xff, 0xff, 0x7f};
    cr_assert_eq(codec_request_scan(overlong, sizeof overlong, &r), -EINVAL);
    static const uint8_t past_end[] = {0x5a, 0x10, 0x0a};
    cr_assert_eq(codec_request_scan(past_end, sizeof past_end, &r), -EINVAL);
}

Test(net_scan, counts_repeated_fields) {
    /* reserve{ lines × 33 } */
    uint8_t inner[33 * 2], outer[80];
    for (int i = 0; i < 33; i++) {
        inner[2 * i] = 0x22; /* field 4 (lines), LEN */
        inner[2 * i + 1] = 0x00;
    }
    outer[0] = 0x5a; /* field 11 (reserve), LEN */
    outer[1] = sizeof inner;
    memcpy(outer + 2, inner, sizeof inner);
    codec_scan_result r;
    outer[1] = 64; /* 32 lines: fine */
    cr_assert_eq(codec_request_scan(outer, 2 + 64, &r), 0);
    outer[1] = sizeof inner; /* 33 lines */
    cr_assert_eq(codec_request_scan(outer, 2 + sizeof inner, &r), -EINVAL);
    cr_assert(strstr(r.error, "more than 32") != NULL, "%s", r.error);
    cr_assert_eq(codec_request_scan(outer, 2 + 64, &r), -EINVAL); /* length past the end */
}

/* ====================================================================================
 * Round trips through a mem-transport server
 * ==================================================================================== */

static inv_server *srv;
static inv_transport *mt;

static void mem_setup(void) {
    inv_server_config cfg;
    inv_server_config_default(&cfg);
    cfg.transport = &inv_transport_mem;
    cfg.shards = 1;
    cfg.admin_port = -1;
    cfg.durability = INV_SERVER_NO_WAL;
    cfg.slots_per_shard = 256;
    cfg.conn_inflight_max = 128;
    cfg.connections_max = 8;
    cfg.log_level = INV_LOG_ERROR;
    char err[256] = "";
    cr_assert_eq(inv_server_open(&srv, &cfg, err, sizeof err), 0, "%s", err);
    mt = inv_server_transport(srv, 0);
}

static void mem_teardown(void) { inv_server_close(srv); }

static void steps(int n) {
    for (int i = 0; i < n; i++) inv_server_shard_step(srv, 0, 0);
}

static void feed(int c, const Invd__Request *rq) {
    uint8_t buf[1 << 16];
    size_t n = invd__request__get_packed_size(rq);
    cr_assert_lt(n + 4, sizeof buf);
    inv_frame_header_put(buf, (uint32_t)n);
    invd__request__pack(rq, buf + 4);
    cr_assert_eq(inv_transport_mem_feed(mt, (uint32_t)c, buf, n + 4), 0);
}

/* Read every whole reply the server sent on c. */
static int drain(int c, Invd__Response **out, int max) {
    static uint8_t buf[1 << 22];
    static size_t have;
    have += inv_transport_mem_drain(mt, (uint32_t)c, buf + have, sizeof buf - have);
    int n = 0;
    size_t off = 0;
    inv_frame f;
    while (n < max && inv_frame_parse(buf + off, have - off, 1u << 20, &f) == INV_FRAME_READY) {
        out[n] = invd__response__unpack(NULL, f.body_len, f.body);
        cr_assert_not_null(out[n]);
        n++;
        off += f.frame_len;
    }
    memmove(buf, buf + off, have - off);
    have -= off;
    return n;
}

TestSuite(net_mem, .init = mem_setup, .fini = mem_teardown, .timeout = 30);

Test(net_mem, ping_split_at_every_byte) {
    int c = inv_transport_mem_connect(mt);
    steps(2);
    static const uint8_t frame[] = {0, 0, 0, 5, 0x08, 42, 0xc2, 0x02, 0x00};
    for (size_t i = 0; i < sizeof frame; i++) {
        inv_transport_mem_feed(mt, (uint32_t)c, &frame[i], 1);
        steps(2);
    }
    steps(3);
    Invd__Response *r[4];
    cr_assert_eq(drain(c, r, 4), 1);
    cr_assert_eq(r[0]->request_id, 42);
    cr_assert_eq(r[0]->result_case, INVD__RESPONSE__RESULT_PONG);
    invd__response__free_unpacked(r[0], NULL);
}

Test(net_mem, pipelined_catalog_and_reserve) {
    int c = inv_transport_mem_connect(mt);
    steps(2);
    Invd__Request rq = INVD__REQUEST__INIT;
    Invd__UpsertNodeRequest up = INVD__UPSERT_NODE_REQUEST__INIT;
    up.node_id = "WH-1";
    up.lat = 30;
    up.lon = 120;
    up.ships = 1;
    rq.request_id = 1;
    rq.op_case = INVD__REQUEST__OP_UPSERT_NODE;
    rq.upsert_node = &up;
    feed(c, &rq);
    Invd__AdjustRequest adj = INVD__ADJUST_REQUEST__INIT;
    adj.node_id = "WH-1";
    adj.sku = "S";
    adj.change_case = INVD__ADJUST_REQUEST__CHANGE_SET_TO;
    adj.set_to = 10;
    rq.request_id = 2;
    rq.op_case = INVD__REQUEST__OP_ADJUST;
    rq.adjust = &adj;
    feed(c, &rq);
    steps(5); /* shard 0 publishes the catalog change in its poll */
    Invd__Point pt = INVD__POINT__INIT;
    pt.lat = 30.1;
    pt.lon = 120.1;
    Invd__Destination dest = INVD__DESTINATION__INIT;
    dest.point = &pt;
    Invd__Line line = INVD__LINE__INIT, *lp = &line;
    line.sku = "S";
    line.qty = 3;
    Invd__ReserveRequest res = INVD__RESERVE_REQUEST__INIT;
    res.order_id = "o";
    res.customer_id = "c";
    res.dest = &dest;
    res.n_lines = 1;
    res.lines = &lp;
    res.ttl_ms = 60000;
    rq.request_id = 3;
    rq.op_case = INVD__REQUEST__OP_RESERVE;
    rq.reserve = &res;
    feed(c, &rq);
    steps(5);
    Invd__Response *r[8];
    int n = drain(c, r, 8);
    cr_assert_eq(n, 3);
    for (int i = 0; i < n; i++) {
        cr_assert_eq(r[i]->status, INVD__STATUS__STATUS_OK, "%llu: %s",
                     (unsigned long long)r[i]->request_id, r[i]->message);
        cr_assert_eq(r[i]->durability, INVD__DURABILITY__DURABILITY_NONE);
    }
    cr_assert_eq(r[2]->result_case, INVD__RESPONSE__RESULT_RESERVATION);
    cr_assert_str_eq(r[2]->reservation->allocation[0]->node_id, "WH-1");
    cr_assert_eq(r[2]->reservation->allocation[0]->qty, 3);
    for (int i = 0; i < n; i++) invd__response__free_unpacked(r[i], NULL);
}

/* The largest legal Reserve (32 lines, every id at 64 bytes) fits a slot's arena. */
Test(net_mem, largest_reserve_decodes) {
    int c = inv_transport_mem_connect(mt);
    steps(2);
    static char skus[32][65];
    Invd__Line lines[32], *lp[32];
    for (int i = 0; i < 32; i++) {
        memset(skus[i], 'a' + i % 26, 64);
        skus[i][0] = (char)('A' + i % 26);
        skus[i][1] = (char)('A' + i / 26);
        invd__line__init(&lines[i]);
        lines[i].sku = skus[i];
        lines[i].qty = 1;
        lp[i] = &lines[i];
    }
    char id[65];
    memset(id, 'x', 64);
    id[64] = '\0';
    Invd__Point pt = INVD__POINT__INIT;
    Invd__Destination dest = INVD__DESTINATION__INIT;
    dest.point = &pt;
    dest.pickup_node_id = id;
    Invd__ReserveRequest res = INVD__RESERVE_REQUEST__INIT;
    res.order_id = id;
    res.customer_id = id;
    res.dest = &dest;
    res.n_lines = 32;
    res.lines = lp;
    res.ttl_ms = 1000;
    Invd__Request rq = INVD__REQUEST__INIT;
    rq.request_id = 9;
    rq.op_case = INVD__REQUEST__OP_RESERVE;
    rq.reserve = &res;
    feed(c, &rq);
    steps(4);
    Invd__Response *r[2];
    cr_assert_eq(drain(c, r, 2), 1);
    cr_assert_eq(r[0]->request_id, 9);
    cr_assert_eq(r[0]->status, INVD__STATUS__STATUS_NOT_FOUND, "%s", r[0]->message);
    invd__response__free_unpacked(r[0], NULL);
}

Test(net_mem, oversized_frame_closes_after_an_error_reply) {
    int c = inv_transport_mem_connect(mt);
    steps(2);
    uint8_t hdr[4];
    inv_frame_header_put(hdr, INV_NET_FRAME_BYTES_DEFAULT + 1);
    inv_transport_mem_feed(mt, (uint32_t)c, hdr, 4);
    steps(3);
    Invd__Response *r[2];
    cr_assert_eq(drain(c, r, 2), 1);
    cr_assert_eq(r[0]->status, INVD__STATUS__STATUS_INVALID_ARGUMENT);
    invd__response__free_unpacked(r[0], NULL);
    steps(5);
    cr_assert(!inv_transport_mem_is_open(mt, (uint32_t)c));
}

Test(net_mem, half_close_still_answers) {
    int c = inv_transport_mem_connect(mt);
    steps(2);
    static const uint8_t ping[] = {0, 0, 0, 5, 0x08, 7, 0xc2, 0x02, 0x00};
    inv_transport_mem_feed(mt, (uint32_t)c, ping, sizeof ping);
    inv_transport_mem_hangup(mt, (uint32_t)c);
    steps(6);
    Invd__Response *r[2];
    cr_assert_eq(drain(c, r, 2), 1);
    cr_assert_eq(r[0]->request_id, 7);
    invd__response__free_unpacked(r[0], NULL);
}

Test(net_config, flags_override_and_help) {
    inv_server_config c;
    inv_server_config_default(&c);
    char *argv[] = {"invd",         "--port", "9000",        "--pin=false", "--max-connections=10",
                    "--durability", "none",   "--log-level", "debug",       NULL};
    char err[256] = "";
    cr_assert_eq(inv_server_config_args(&c, 9, argv, err, sizeof err), 0, "%s", err);
    cr_assert_eq(c.port, 9000);
    cr_assert(!c.pin);
    cr_assert_eq(c.connections_max, 10);
    cr_assert_eq(c.durability, INV_SERVER_NO_WAL);
    char *bad[] = {"invd", "--port", "70000", NULL};
    cr_assert_eq(inv_server_config_args(&c, 3, bad, err, sizeof err), -1);
    cr_assert(strstr(err, "port") != NULL, "%s", err);
    char *unknown[] = {"invd", "--nope", NULL};
    cr_assert_eq(inv_server_config_args(&c, 2, unknown, err, sizeof err), -1);
}
