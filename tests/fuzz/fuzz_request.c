/*
 * fuzz_request.c — libFuzzer target: arbitrary bytes as one client's TCP stream into
 * the real request path (framing, wire pre-scan, protobuf decoding into slots, the
 * engine, response encoding, backpressure, closing), driven through the server's shard
 * loop on the in-memory transport. No sockets, no threads: one shard, durability none.
 *
 * The first byte picks how the stream is cut into receives (1..64 bytes, or all at
 * once), so frames split at every boundary get exercised. Every reply the server sends
 * must be a well-formed frame holding a Response that protobuf-c can decode.
 *
 *   build:  cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang-14 -DINV_FUZZ=ON \
 *             -DINV_SANITIZE=address,undefined && cmake --build build-fuzz -t fuzz_request
 *   run:    build-fuzz/tests/fuzz/fuzz_request -max_total_time=60 corpus/ tests/fuzz/corpus
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inv_frame.h"
#include "inv_server.h"
#include "invd.pb-c.h"

#define STEPS_PER_CHUNK 2
#define CLOSE_STEPS_MAX 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static inv_server *srv;
static inv_transport *mt;
static uint8_t out[1 << 20];

static void fuzz_die(const char *what) {
    fprintf(stderr, "fuzz_request: %s\n", what);
    abort();
}

static void fuzz_open(void) {
    inv_server_config cfg;
    inv_server_config_default(&cfg);
    cfg.transport = &inv_transport_mem;
    cfg.shards = 1;
    cfg.admin_port = -1;
    cfg.durability = INV_SERVER_NO_WAL;
    cfg.slots_per_shard = 64;
    cfg.conn_inflight_max = 32;
    cfg.connections_max = 4;
    cfg.nodes_max = 64;
    cfg.skus_max = 256;
    cfg.cells_max = 1024;
    cfg.reservations_per_shard_max = 4096;
    cfg.tombstones_per_shard_max = 4096;
    cfg.refs_per_shard_max = 1024;
    cfg.limit_counters_max = 1024;
    cfg.log_level = INV_LOG_ERROR;
    char err[256] = "";
    if (inv_server_open(&srv, &cfg, err, sizeof err) != 0) fuzz_die(err);
    mt = inv_server_transport(srv, 0);
}

/* Every whole frame the server sent must decode as a Response. */
static void fuzz_check_output(uint32_t c, size_t *have) {
    *have += inv_transport_mem_drain(mt, c, out + *have, sizeof out - *have);
    size_t off = 0;
    inv_frame f;
    while (inv_frame_parse(out + off, *have - off, INV_NET_RESPONSE_BYTES_MAX, &f) ==
           INV_FRAME_READY) {
        Invd__Response *r = invd__response__unpack(NULL, f.body_len, f.body);
        if (r == NULL) fuzz_die("server sent a frame that is not a Response");
        invd__response__free_unpacked(r, NULL);
        off += f.frame_len;
    }
    inv_frame tail;
    if (inv_frame_parse(out + off, *have - off, INV_NET_RESPONSE_BYTES_MAX, &tail) ==
        INV_FRAME_TOO_LARGE)
        fuzz_die("server sent a frame larger than INV_NET_RESPONSE_BYTES_MAX");
    memmove(out, out + off, *have - off);
    *have -= off;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (srv == NULL) fuzz_open();
    int c = inv_transport_mem_connect(mt);
    if (c < 0) fuzz_die("no free connection: the previous one was never closed");
    size_t have = 0, chunk = size;
    if (size > 0) {
        chunk = data[0] == 0 ? size : (size_t)(data[0] % 64) + 1;
        data++;
        size--;
    }
    for (size_t off = 0; off < size; off += chunk) {
        size_t n = size - off < chunk ? size - off : chunk;
        if (inv_transport_mem_feed(mt, (uint32_t)c, data + off, n) != 0) break;
        for (int s = 0; s < STEPS_PER_CHUNK; s++) inv_server_shard_step(srv, 0, 0);
        fuzz_check_output((uint32_t)c, &have);
    }
    inv_transport_mem_hangup(mt, (uint32_t)c);
    for (int s = 0; s < CLOSE_STEPS_MAX && inv_transport_mem_is_open(mt, (uint32_t)c); s++) {
        inv_server_shard_step(srv, 0, 0);
        fuzz_check_output((uint32_t)c, &have);
    }
    if (inv_transport_mem_is_open(mt, (uint32_t)c)) fuzz_die("connection never closed");
    return 0;
}
