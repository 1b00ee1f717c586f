/*
 * test_e2e_bad_input.c — hostile and broken clients against a running invd: truncated
 * frames, a 4 GiB length prefix, random bytes, frames that are not protobuf, unknown
 * operations, wrong wire types, repeated fields far past their limit, a client that
 * sends one byte per second, one that never reads its replies, a connection storm past
 * the limit. After each: the server is alive, still serves other clients, and its
 * memory stayed bounded.
 */
#include "test_e2e_support.h"

static e2e_server srv;

static void bad_setup(void) {
    e2e_init(&srv, "--max-connections", "64", "--frame-timeout-ms", "1500", "--write-timeout-ms",
             "2000", "--out-bytes", "262144", NULL);
    e2e_start(&srv);
}

static void bad_teardown(void) {
    cr_assert(e2e_alive(&srv), "invd died (log in %s)", srv.log);
    e2e_cleanup(&srv);
}

TestSuite(e2e_bad_input, .init = bad_setup, .fini = bad_teardown, .timeout = 90);

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rng_next(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Scrape one metric line's value (0 when absent). */
static double metric(const char *name_and_labels) {
    static char body[1 << 20];
    if (e2e_http_get(&srv, "/metrics", body, sizeof body) != 200) return -1;
    char key[256];
    snprintf(key, sizeof key, "\n%s", name_and_labels); /* a sample line, not # HELP */
    const char *p = strstr(body, key);
    return p != NULL ? strtod(p + strlen(key), NULL) : 0;
}

Test(e2e_bad_input, truncated_frames) {
    for (int cut = 1; cut < 12; cut++) {
        int fd = e2e_raw_connect(srv.port);
        cr_assert_geq(fd, 0);
        uint8_t frame[12] = {0, 0, 0, 8, 0x08, 0x01, 0xc2, 0x02, 0x00, 0, 0, 0};
        e2e_send_all(fd, frame, (size_t)cut);
        close(fd); /* gone mid-frame */
    }
    e2e_assert_serving(&srv);
}

Test(e2e_bad_input, length_prefix_4gib) {
    long rss = e2e_rss_kib(&srv);
    int fd = e2e_raw_connect(srv.port);
    uint8_t hdr[4] = {0xff, 0xff, 0xff, 0xff};
    e2e_send_all(fd, hdr, 4);
    Invd__Response *r = e2e_recv_response(fd, 5000);
    cr_assert_not_null(r, "no error reply before close");
    cr_assert_eq(r->request_id, 0);
    cr_assert_eq(r->status, INVD__STATUS__STATUS_INVALID_ARGUMENT);
    cr_assert(strstr(r->message, "exceeds") != NULL, "%s", r->message);
    invd__response__free_unpacked(r, NULL);
    cr_assert(e2e_wait_eof(fd, 5000), "connection not closed");
    close(fd);
    cr_assert_lt(e2e_rss_kib(&srv) - rss, 64 * 1024, "memory grew");
    e2e_assert_serving(&srv);
}

Test(e2e_bad_input, random_bytes) {
    uint8_t buf[65536];
    for (int round = 0; round < 20; round++) {
        int fd = e2e_raw_connect(srv.port);
        cr_assert_geq(fd, 0);
        size_t n = 1 + rng_next() % sizeof buf;
        for (size_t i = 0; i < n; i++) buf[i] = (uint8_t)rng_next();
        if (round % 2 == 1) { /* plausible length, random body */
            uint32_t body = (uint32_t)(n - 4 < 60000 ? n - 4 : 60000);
            inv_frame_header_put(buf, body);
        }
        e2e_send_all(fd, buf, n);
        shutdown(fd, SHUT_WR);
        e2e_wait_eof(fd, 3000);
        close(fd);
    }
    e2e_assert_serving(&srv);
}

Test(e2e_bad_input, frames_that_are_not_requests) {
    int fd = e2e_raw_connect(srv.port);
    /* Not protobuf at all. */
    static const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0xff};
    e2e_send_frame(fd, junk, sizeof junk);
    Invd__Response *r = e2e_recv_response(fd, 5000);
    cr_assert_not_null(r);
    cr_assert_eq(r->status, INVD__STATUS__STATUS_INVALID_ARGUMENT);
    invd__response__free_unpacked(r, NULL);
    /* Unknown operation (field 30, length-delimited) with a readable id. */
    static const uint8_t unknown_op[] = {0x08, 77, 0xf2, 0x01, 0x03, 'a', 'b', 'c'};
    e2e_send_frame(fd, unknown_op, sizeof unknown_op);
    r = e2e_recv_response(fd, 5000);
    cr_assert_not_null(r);
    cr_assert_eq(r->request_id, 77);
    cr_assert_eq(r->status, INVD__STATUS__STATUS_INVALID_ARGUMENT);
    cr_assert(strstr(r->message, "operation") != NULL, "%s", r->message);
    invd__response__free_unpacked(r, NULL);
    /* A known field with the wrong wire type: request_id as a string. */
    static const uint8_t wrong_type[] = {0x0a, 0x01, 'x'};
    e2e_send_frame(fd, wrong_type, sizeof wrong_type);
    r = e2e_recv_response(fd, 5000);
    cr_assert_not_null(r);
    cr_assert_eq(r->status, INVD__STATUS__STATUS_INVALID_ARGUMENT);
    invd__response__free_unpacked(r, NULL);
    /* A string with a NUL byte inside: commit{order_id="a\0b"}, id 5. */
    static const uint8_t nul[] = {0x08, 5, 0x62, 0x05, 0x0a, 0x03, 'a', 0, 'b'};
    e2e_send_frame(fd, nul, sizeof nul);
    r = e2e_recv_response(fd, 5000);
    cr_assert_not_null(r);
    cr_assert_eq(r->request_id, 5);
    cr_assert(strstr(r->message, "NUL") != NULL, "%s", r->message);
    invd__response__free_unpacked(r, NULL);
    /* Empty frame: no operation. And the connection still works: ping (id 9). */
    e2e_send_frame(fd, "", 0);
    r = e2e_recv_response(fd, 5000);
    cr_assert_not_null(r);
    cr_assert_eq(r->status, INVD__STATUS__STATUS_INVALID_ARGUMENT);
    invd__response__free_unpacked(r, NULL);
    static const uint8_t ping[] = {0x08, 9, 0xc2, 0x02, 0x00};
    e2e_send_frame(fd, ping, sizeof ping);
    r = e2e_recv_response(fd, 5000);
    cr_assert_not_null(r);
    cr_assert_eq(r->request_id, 9);
    cr_assert_eq(r->status, INVD__STATUS__STATUS_OK);
    invd__response__free_unpacked(r, NULL);
    close(fd);
}

Test(e2e_bad_input, huge_repeated_fields) {
    int fd = e2e_raw_connect(srv.port);
    /* A Reserve with 20 000 lines (≈ 340 KiB): refused before decoding. */
    enum { LINES = 20000 };
    Invd__Line *lines = calloc(LINES, sizeof *lines);
    Invd__Line **lp = calloc(LINES, sizeof *lp);
    for (int i = 0; i < LINES; i++) {
        invd__line__init(&lines[i]);
        lines[i].sku = "SKU-A";
        lines[i].qty = 1;
        lp[i] = &lines[i];
    }
    Invd__ReserveRequest rr = INVD__RESERVE_REQUEST__INIT;
    rr.order_id = "o";
    rr.customer_id = "c";
    rr.n_lines = LINES;
    rr.lines = lp;
    Invd__Request rq = INVD__REQUEST__INIT;
    rq.request_id = 123;
    rq.op_case = INVD__REQUEST__OP_RESERVE;
    rq.reserve = &rr;
    uint32_t len = 0;
    uint8_t *body = e2e_pack(&rq, &len);
    cr_assert(e2e_send_frame(fd, body, len));
    Invd__Response *r = e2e_recv_response(fd, 5000);
    cr_assert_not_null(r);
    cr_assert_eq(r->request_id, 123);
    cr_assert_eq(r->status, INVD__STATUS__STATUS_INVALID_ARGUMENT);
    cr_assert(strstr(r->message, "more than 32") != NULL, "%s", r->message);
    invd__response__free_unpacked(r, NULL);
    free(body);
    free(lines);
    free(lp);
    /* 1 MiB − 16 of unknown varint fields: decoding would need far more than a slot's
     * arena; refused with a message, nothing allocated. */
    uint32_t n = (1u << 20) - 16;
    uint8_t *u = malloc(n);
    u[0] = 0x08;
    u[1] = 124;
    uint32_t m = 2; /* then (field 99, varint 1): key 0x318 = 0x98 0x06, value 0x01 */
    for (; m + 3 <= n; m += 3) {
        u[m] = 0x98;
        u[m + 1] = 0x06;
        u[m + 2] = 0x01;
    }
    cr_assert(e2e_send_frame(fd, u, m));
    r = e2e_recv_response(fd, 10000);
    cr_assert_not_null(r);
    cr_assert_eq(r->request_id, 124);
    cr_assert_eq(r->status, INVD__STATUS__STATUS_INVALID_ARGUMENT);
    invd__response__free_unpacked(r, NULL);
    free(u);
    close(fd);
    e2e_assert_serving(&srv);
}

Test(e2e_bad_input, one_byte_per_second) {
    int fd = e2e_raw_connect(srv.port);
    static const uint8_t frame[] = {0, 0, 0, 5, 0x08, 1, 0xc2, 0x02, 0x00};
    bool closed = false;
    int64_t start = e2e_now_ms();
    for (size_t i = 0; i < sizeof frame && !closed; i++) {
        if (send(fd, &frame[i], 1, MSG_NOSIGNAL) != 1) break;
        e2e_assert_serving(&srv); /* others are served meanwhile */
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        if (poll(&pf, 1, 1000) == 1) closed = e2e_wait_eof(fd, 100);
    }
    if (!closed) closed = e2e_wait_eof(fd, 3000);
    cr_assert(closed, "slow sender was not disconnected");
    cr_assert_lt(e2e_now_ms() - start, 6000);
    close(fd);
    cr_assert_geq(metric("invd_connections_closed_total{reason=\"slow_sender\"} "), 1);
}

Test(e2e_bad_input, never_reads_replies) {
    long rss0 = e2e_rss_kib(&srv);
    int fd = e2e_raw_connect(srv.port);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    int small = 64 << 10;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    /* Stats requests: ~150-byte replies for 5-byte requests. */
    static uint8_t batch[9 * 4096];
    for (int i = 0; i < 4096; i++) {
        static const uint8_t stats[] = {0, 0, 0, 5, 0x08, 1, 0xca, 0x02, 0x00};
        memcpy(batch + 9 * i, stats, 9);
    }
    size_t sent = 0;
    int64_t stuck_since = 0;
    for (int64_t end = e2e_now_ms() + 10000; e2e_now_ms() < end;) {
        ssize_t n = send(fd, batch, sizeof batch, MSG_NOSIGNAL);
        if (n > 0) {
            sent += (size_t)n;
            stuck_since = 0;
            continue;
        }
        if (n < 0 && errno != EAGAIN) break; /* the server closed us */
        if (stuck_since == 0) stuck_since = e2e_now_ms();
        if (e2e_now_ms() - stuck_since > 1000) break; /* TCP pushes back: server stopped reading */
        e2e_sleep_ms(5);
    }
    cr_assert_lt(sent, (size_t)200 << 20, "the server kept reading a client that does not read");
    e2e_assert_serving(&srv);
    cr_assert_lt(e2e_rss_kib(&srv) - rss0, 96 * 1024, "memory grew by %ld KiB",
                 e2e_rss_kib(&srv) - rss0);
    cr_assert_geq(metric("invd_backpressure_total "), 1);
    /* Not reading for write-timeout-ms closes it. */
    int64_t deadline = e2e_now_ms() + 8000;
    while (metric("invd_connections_closed_total{reason=\"write_stall\"} ") < 1 &&
           e2e_now_ms() < deadline)
        e2e_sleep_ms(100);
    cr_assert_geq(metric("invd_connections_closed_total{reason=\"write_stall\"} "), 1);
    close(fd);
    e2e_assert_serving(&srv);
}

Test(e2e_bad_input, connection_storm) {
    enum { STORM = 300, LIMIT = 64 };
    static int fds[STORM];
    static bool done[STORM];
    for (int i = 0; i < STORM; i++) {
        fds[i] = e2e_raw_connect(srv.port);
        cr_assert_geq(fds[i], 0, "connect %d: %s", i, strerror(errno));
    }
    /* Refused ones get RESOURCE_EXHAUSTED, then EOF; LIMIT stay open. */
    int refused = 0, closed = 0;
    for (int64_t end = e2e_now_ms() + 5000; e2e_now_ms() < end && closed < STORM - LIMIT;) {
        for (int i = 0; i < STORM; i++) {
            struct pollfd pf = {.fd = fds[i], .events = POLLIN};
            if (done[i] || poll(&pf, 1, 0) != 1) continue;
            Invd__Response *r = e2e_recv_response(fds[i], 1000);
            if (r != NULL) {
                cr_assert_eq(r->status, INVD__STATUS__STATUS_RESOURCE_EXHAUSTED);
                invd__response__free_unpacked(r, NULL);
                refused++;
            }
            cr_assert(e2e_wait_eof(fds[i], 1000));
            done[i] = true;
            closed++;
        }
        e2e_sleep_ms(10);
    }
    cr_assert_eq(closed, STORM - LIMIT, "%d closed", closed);
    cr_assert_geq(refused, STORM - LIMIT - 8, "only %d refusals carried a reply", refused);
    cr_assert_eq(metric("invd_connections "), LIMIT);
    cr_assert_geq(metric("invd_connections_rejected_total "), STORM - LIMIT);
    for (int i = 0; i < STORM; i++) close(fds[i]);
    int64_t deadline = e2e_now_ms() + 5000;
    while (metric("invd_connections ") > 0 && e2e_now_ms() < deadline) e2e_sleep_ms(20);
    e2e_assert_serving(&srv);
}
