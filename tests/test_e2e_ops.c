/*
 * test_e2e_ops.c — every operation over the wire against a real invd, idempotent retries
 * (same connection and a new one), pipelined requests answered out of order and matched
 * by id, and the admin endpoint.
 */
#include "test_e2e_support.h"

static e2e_server srv;

static void ops_setup(void) {
    e2e_init(&srv, NULL);
    e2e_start(&srv);
}

static void ops_teardown(void) { e2e_cleanup(&srv); }

TestSuite(e2e_ops, .init = ops_setup, .fini = ops_teardown, .timeout = 60);

static inv_client_reserve_args reserve_args(const char *order, const char *customer,
                                            const inv_client_line *lines, uint32_t n) {
    inv_client_reserve_args a = {.order_id = order,
                                 .customer_id = customer,
                                 .has_point = true,
                                 .lat = 39.90,
                                 .lon = 116.40,
                                 .lines = lines,
                                 .line_count = n,
                                 .ttl_ms = 600000};
    return a;
}

Test(e2e_ops, every_op) {
    inv_client *c = e2e_client(&srv);
    e2e_catalog(c, 0);
    inv_client_reply r;
    /* Reserve near Beijing: the nearest store covers one SKU-A. */
    inv_client_line l1[] = {{"SKU-A", 2}};
    inv_client_reserve_args a = reserve_args("o-1", "cust-1", l1, 1);
    cr_assert_eq(inv_client_reserve(c, &a, &r), 0);
    cr_assert_eq(r.status, INVC_OK, "%s", r.message);
    cr_assert_eq(r.result, INVC_RESULT_RESERVATION);
    cr_assert_eq(r.r.reservation.alloc_count, 1);
    cr_assert_str_eq(r.r.reservation.alloc[0].node_id, "ST-BJ-1");
    cr_assert_eq(r.r.reservation.state, INVC_HELD);
    cr_assert_eq(r.durability, INVC_DURABILITY_FSYNC);
    cr_assert_gt(r.lsn, 0);
    inv_client_reply_free(&r);
    /* Get, extend, commit. */
    cr_assert_eq(inv_client_get_reservation(c, "o-1", &r), 0);
    cr_assert_eq(r.status, INVC_OK);
    cr_assert_eq(r.r.reservation.alloc[0].qty, 2);
    inv_client_reply_free(&r);
    cr_assert_eq(inv_client_extend(c, "o-1", 900000, &r), 0);
    cr_assert_eq(r.status, INVC_OK, "%s", r.message);
    inv_client_reply_free(&r);
    cr_assert_eq(inv_client_commit(c, "o-1", &r), 0);
    cr_assert_eq(r.status, INVC_OK);
    cr_assert_eq(r.r.reservation.state, INVC_COMMITTED);
    inv_client_reply_free(&r);
    /* Release of a committed order: ALREADY_COMMITTED. */
    cr_assert_eq(inv_client_release(c, "o-1", &r), 0);
    cr_assert_eq(r.status, INVC_ALREADY_COMMITTED);
    inv_client_reply_free(&r);
    /* A second order, released. */
    inv_client_line l2[] = {{"SKU-A", 1}, {"SKU-B", 1}};
    a = reserve_args("o-2", "cust-2", l2, 2);
    cr_assert_eq(inv_client_reserve(c, &a, &r), 0);
    cr_assert_eq(r.status, INVC_OK, "%s", r.message);
    cr_assert_str_eq(r.r.reservation.alloc[0].node_id, "WH-SH"); /* one parcel covers both */
    inv_client_reply_free(&r);
    cr_assert_eq(inv_client_release(c, "o-2", &r), 0);
    cr_assert_eq(r.status, INVC_OK);
    cr_assert_eq(r.r.reservation.state, INVC_RELEASED);
    inv_client_reply_free(&r);
    /* Unknown order. */
    cr_assert_eq(inv_client_commit(c, "nope", &r), 0);
    cr_assert_eq(r.status, INVC_NOT_FOUND);
    inv_client_reply_free(&r);
    inv_client_close(c);
}

Test(e2e_ops, stock_catalog_and_reads) {
    inv_client *c = e2e_client(&srv);
    e2e_catalog(c, 0);
    inv_client_reply r;
    inv_client_return_args ret = {
        .node_id = "ST-BJ-2", .sku = "SKU-A", .qty = 3, .ref_id = "rma-1"};
    cr_assert_eq(inv_client_return_stock(c, &ret, &r), 0);
    cr_assert_eq(r.status, INVC_OK, "%s", r.message);
    cr_assert_eq(r.result, INVC_RESULT_CELL);
    cr_assert_eq(r.r.cell.on_hand, 13);
    cr_assert_eq(r.r.cell.applied_delta, 3);
    cr_assert_str_eq(r.r.cell.node_id, "ST-BJ-2");
    inv_client_reply_free(&r);
    cr_assert_eq(inv_client_set_safety(c, "ST-BJ-2", "SKU-A", 4, &r), 0);
    cr_assert_eq(r.status, INVC_OK);
    cr_assert_eq(r.r.cell.available, 9);
    inv_client_reply_free(&r);
    inv_client_availability_args av = {
        .sku = "SKU-A", .has_point = true, .lat = 39.90, .lon = 116.40, .max_nodes = 10};
    cr_assert_eq(inv_client_get_availability(c, &av, &r), 0);
    cr_assert_eq(r.status, INVC_OK);
    cr_assert_eq(r.r.availability.node_count, 4);
    cr_assert_eq(r.r.availability.total_on_hand, 1000 + 10 + 13 + 5);
    cr_assert_str_eq(r.r.availability.nodes[0].node_id, "ST-BJ-1"); /* nearest first */
    inv_client_reply_free(&r);
    cr_assert_eq(inv_client_set_node_status(c, "ST-BJ-1", INVC_NODE_PAUSED, &r), 0);
    cr_assert_eq(r.status, INVC_OK);
    inv_client_reply_free(&r);
    cr_assert_eq(inv_client_list_nodes(c, 0, 0, &r), 0);
    cr_assert_eq(r.status, INVC_OK);
    cr_assert_eq(r.r.node_list.total, 4);
    cr_assert_eq(r.r.node_list.nodes[1].status, INVC_NODE_PAUSED);
    inv_client_reply_free(&r);
    /* A paused node is skipped. */
    inv_client_line l[] = {{"SKU-A", 1}};
    inv_client_reserve_args a = reserve_args("o-p", "cust-p", l, 1);
    cr_assert_eq(inv_client_reserve(c, &a, &r), 0);
    cr_assert_eq(r.status, INVC_OK, "%s", r.message);
    cr_assert_str_neq(r.r.reservation.alloc[0].node_id, "ST-BJ-1");
    inv_client_reply_free(&r);
    cr_assert_eq(inv_client_get_stats(c, &r), 0);
    cr_assert_eq(r.status, INVC_OK);
    cr_assert_eq(r.r.stats.nodes, 4);
    cr_assert_eq(r.r.stats.shards, 2);
    cr_assert_eq(r.r.stats.durability, INVC_DURABILITY_FSYNC);
    inv_client_reply_free(&r);
    cr_assert_eq(inv_client_ping(c, &r), 0);
    cr_assert_eq(r.result, INVC_RESULT_PONG);
    inv_client_reply_free(&r);
    inv_client_close(c);
}

Test(e2e_ops, limits_shortfall_and_errors) {
    inv_client *c = e2e_client(&srv);
    e2e_catalog(c, 0);
    inv_client_reply r;
    cr_assert_eq(inv_client_set_limit(c, "SKU-B", 2, &r), 0);
    cr_assert_eq(r.status, INVC_OK);
    cr_assert_eq(r.r.limit.limit_per_customer, 2);
    inv_client_reply_free(&r);
    inv_client_line l3[] = {{"SKU-B", 3}};
    inv_client_reserve_args a = reserve_args("o-lim", "greedy", l3, 1);
    cr_assert_eq(inv_client_reserve(c, &a, &r), 0);
    cr_assert_eq(r.status, INVC_LIMIT_EXCEEDED);
    inv_client_reply_free(&r);
    inv_client_line big[] = {{"SKU-A", 1}, {"SKU-B", 1000}};
    a = reserve_args("o-big", "cust", big, 2);
    cr_assert_eq(inv_client_set_limit(c, "SKU-B", 0, &r), 0);
    inv_client_reply_free(&r);
    cr_assert_eq(inv_client_reserve(c, &a, &r), 0);
    cr_assert_eq(r.status, INVC_INSUFFICIENT_STOCK);
    cr_assert_eq(r.r.reservation.shortfall_count, 2);
    cr_assert_eq(r.r.reservation.shortfall[0], 0);
    cr_assert_eq(r.r.reservation.shortfall[1], 900);
    inv_client_reply_free(&r);
    /* Validation happens in the engine; the message says what is wrong. */
    a = reserve_args("", "cust", big, 1);
    cr_assert_eq(inv_client_reserve(c, &a, &r), 0);
    cr_assert_eq(r.status, INVC_INVALID_ARGUMENT);
    cr_assert(strstr(r.message, "order_id") != NULL, "%s", r.message);
    inv_client_reply_free(&r);
    inv_client_adjust_args adj = {.node_id = "NOWHERE", .sku = "SKU-A", .delta = 1};
    cr_assert_eq(inv_client_adjust(c, &adj, &r), 0);
    cr_assert_eq(r.status, INVC_NOT_FOUND);
    inv_client_reply_free(&r);
    inv_client_close(c);
}

Test(e2e_ops, idempotent_retries) {
    inv_client *c = e2e_client(&srv);
    e2e_catalog(c, 0);
    inv_client_reply r1, r2;
    inv_client_line l[] = {{"SKU-A", 3}};
    inv_client_reserve_args a = reserve_args("o-idem", "cust", l, 1);
    cr_assert_eq(inv_client_reserve(c, &a, &r1), 0);
    cr_assert_eq(r1.status, INVC_OK);
    /* Same key, same content, on a new connection (a client retry after a timeout). */
    inv_client *c2 = e2e_client(&srv);
    cr_assert_eq(inv_client_reserve(c2, &a, &r2), 0);
    cr_assert_eq(r2.status, INVC_OK);
    cr_assert_eq(r2.r.reservation.alloc_count, r1.r.reservation.alloc_count);
    cr_assert_str_eq(r2.r.reservation.alloc[0].node_id, r1.r.reservation.alloc[0].node_id);
    cr_assert_eq(r2.r.reservation.expires_at_ms, r1.r.reservation.expires_at_ms);
    inv_client_reply_free(&r1);
    inv_client_reply_free(&r2);
    /* Stock moved once. */
    inv_client_availability_args av = {.sku = "SKU-A"};
    cr_assert_eq(inv_client_get_availability(c, &av, &r1), 0);
    cr_assert_eq(r1.r.availability.total_reserved, 3);
    inv_client_reply_free(&r1);
    /* Same key, other content. */
    l[0].qty = 4;
    cr_assert_eq(inv_client_reserve(c2, &a, &r1), 0);
    cr_assert_eq(r1.status, INVC_CONFLICT);
    inv_client_reply_free(&r1);
    /* Commit twice: both OK. */
    cr_assert_eq(inv_client_commit(c, "o-idem", &r1), 0);
    cr_assert_eq(inv_client_commit(c2, "o-idem", &r2), 0);
    cr_assert_eq(r1.status, INVC_OK);
    cr_assert_eq(r2.status, INVC_OK);
    inv_client_reply_free(&r1);
    inv_client_reply_free(&r2);
    /* Adjust with a ref_id: applied once, the retry is DUPLICATE_REF with the same delta. */
    inv_client_adjust_args adj = {
        .node_id = "WH-SH", .sku = "SKU-B", .delta = -7, .ref_id = "pos-sale-1"};
    cr_assert_eq(inv_client_adjust(c, &adj, &r1), 0);
    cr_assert_eq(inv_client_adjust(c2, &adj, &r2), 0);
    cr_assert_eq(r1.status, INVC_OK);
    cr_assert_eq(r2.status, INVC_DUPLICATE_REF);
    cr_assert_eq(r2.r.cell.applied_delta, -7);
    cr_assert_eq(r2.r.cell.on_hand, 93);
    cr_assert_eq(r2.durability, INVC_DURABILITY_FSYNC);
    inv_client_reply_free(&r1);
    inv_client_reply_free(&r2);
    adj.delta = -8;
    cr_assert_eq(inv_client_adjust(c, &adj, &r1), 0);
    cr_assert_eq(r1.status, INVC_CONFLICT);
    inv_client_reply_free(&r1);
    inv_client_close(c2);
    inv_client_close(c);
}

/* Many requests in flight on one connection, for orders owned by both shards, with pings
 * in between: the pings (answered by the receiving shard) overtake the reserves that go
 * to the other shard, and every reply is matched to its request by id. */
Test(e2e_ops, pipelined_out_of_order) {
    inv_client *c = e2e_client(&srv);
    e2e_catalog(c, 0);
    enum { N = 2000 };
    static char ids[N][24];
    static uint8_t seen[N];
    inv_client_line l[] = {{"SKU-A", 1}};
    uint64_t first_id = 0;
    for (int i = 0; i < N; i++) {
        inv_client_request rq;
        memset(&rq, 0, sizeof rq);
        if (i % 2 == 0) {
            snprintf(ids[i], sizeof ids[i], "pipe-%d", i);
            rq.op = INVC_OP_RESERVE;
            rq.in.reserve = reserve_args(ids[i], "cust", l, 1);
        } else {
            rq.op = INVC_OP_PING;
        }
        uint64_t id = 0;
        cr_assert_eq(inv_client_submit(c, &rq, (void *)(intptr_t)i, &id), 0);
        if (i == 0) first_id = id;
        cr_assert_eq(id, first_id + (uint64_t)i);
    }
    uint32_t got = 0, out_of_order = 0, ok = 0;
    int last = -1;
    inv_client_reply r[128];
    for (int round = 0; round < 10000 && got < N; round++) {
        int n = inv_client_poll(c, r, 128, 10000);
        cr_assert_gt(n, 0, "poll: %d %s", n, inv_client_error(c));
        for (int k = 0; k < n; k++) {
            int i = (int)(intptr_t)r[k].user;
            cr_assert_eq(r[k].request_id, first_id + (uint64_t)i);
            cr_assert_eq(seen[i], 0, "reply %d twice", i);
            seen[i] = 1;
            if (i < last) out_of_order++;
            last = i;
            cr_assert_eq(r[k].result, i % 2 == 0 ? INVC_RESULT_RESERVATION : INVC_RESULT_PONG);
            ok += r[k].status == INVC_OK;
            inv_client_reply_free(&r[k]);
            got++;
        }
    }
    cr_assert_eq(got, N);
    cr_assert_eq(ok, N);
    cr_assert_gt(out_of_order, 0, "replies all came back in order");
    cr_assert_eq(inv_client_inflight(c), 0);
    inv_client_close(c);
}

Test(e2e_ops, admin_endpoints) {
    inv_client *c = e2e_client(&srv);
    e2e_catalog(c, 0);
    inv_client_close(c);
    static char body[1 << 20];
    cr_assert_eq(e2e_http_get(&srv, "/healthz", body, sizeof body), 200);
    cr_assert_eq(e2e_http_get(&srv, "/readyz", body, sizeof body), 200);
    cr_assert_eq(e2e_http_get(&srv, "/metrics", body, sizeof body), 200);
    cr_assert(strstr(body, "invd_requests_total{op=\"upsert_node\",status=\"OK\"} 4") != NULL);
    cr_assert(strstr(body, "invd_request_duration_seconds_bucket{op=\"adjust\",le=\"+Inf\"} 5") !=
              NULL);
    cr_assert(strstr(body, "invd_durability_mode{mode=\"fsync\"} 1") != NULL);
    cr_assert(strstr(body, "invd_wal_batches_total") != NULL);
    cr_assert(strstr(body, "invd_shard_inflight{shard=\"1\"}") != NULL);
    /* Every restock was answered, so each one's units are back: nothing waits. */
    cr_assert(strstr(body, "invd_credits_waiting 0\n") != NULL, "give-backs still waiting");
    cr_assert_eq(e2e_http_get(&srv, "/nope", body, sizeof body), 404);
}
