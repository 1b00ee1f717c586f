/*
 * admin.c — the admin HTTP endpoint (libmicrohttpd, its own thread, its own port).
 *
 *   GET /metrics  Prometheus text exposition (metrics.c)
 *   GET /healthz  200 "ok" while every shard loop has run within the last 5 s
 *   GET /readyz   200 "ready" when recovered and taking writes; 503 otherwise (starting,
 *                 stopping, WAL failed; later: a replica)
 * The handler only reads atomics and engine statistics; it never blocks a shard.
 * A scrape allocates its buffer (admin path, not the request path).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net_int.h"

#define ADMIN_HEARTBEAT_MS_MAX 5000u
#define ADMIN_METRICS_BYTES_FIRST (64u << 10)

static enum MHD_Result admin_reply(struct MHD_Connection *c, unsigned code, const char *type,
                                   char *body, size_t len, enum MHD_ResponseMemoryMode mode) {
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, mode);
    if (r == NULL) return MHD_NO;
    MHD_add_response_header(r, "Content-Type", type);
    enum MHD_Result rc = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result admin_text(struct MHD_Connection *c, unsigned code, const char *text) {
    return admin_reply(c, code, "text/plain; charset=utf-8", (char *)text, strlen(text),
                       MHD_RESPMEM_PERSISTENT);
}

static enum MHD_Result admin_metrics(net_server *srv, struct MHD_Connection *c) {
    size_t cap = ADMIN_METRICS_BYTES_FIRST;
    for (int attempt = 0; attempt < 4; attempt++) {
        char *buf = malloc(cap);
        if (buf == NULL) return admin_text(c, 500, "out of memory\n");
        size_t n = metrics_render(srv, buf, cap);
        if (n < cap)
            return admin_reply(c, 200, "text/plain; version=0.0.4; charset=utf-8", buf, n,
                               MHD_RESPMEM_MUST_FREE);
        free(buf);
        cap = n + 1024;
    }
    return admin_text(c, 500, "metrics did not fit\n");
}

static bool admin_healthy(const net_server *srv) {
    if (!srv->started) return false;
    uint64_t now = net_mono_ns() / 1000000u;
    for (uint32_t i = 0; i < srv->shard_count; i++) {
        uint64_t hb = atomic_load_explicit(&srv->shards[i]->m.heartbeat_ms, memory_order_relaxed);
        if (now > hb + ADMIN_HEARTBEAT_MS_MAX) return false;
    }
    return true;
}

static enum MHD_Result admin_handle(void *cls, struct MHD_Connection *c, const char *url,
                                    const char *method, const char *version, const char *upload,
                                    size_t *upload_size, void **state) {
    (void)version;
    (void)upload;
    (void)upload_size;
    (void)state;
    net_server *srv = cls;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return admin_text(c, 405, "method not allowed\n");
    if (strcmp(url, "/metrics") == 0) return admin_metrics(srv, c);
    if (strcmp(url, "/healthz") == 0)
        return admin_healthy(srv) ? admin_text(c, 200, "ok\n")
                                  : admin_text(c, 503, "a shard loop is stuck\n");
    if (strcmp(url, "/readyz") == 0) {
        bool ready = atomic_load(&srv->ready) && !atomic_load(&srv->stop);
        return ready ? admin_text(c, 200, "ready\n") : admin_text(c, 503, "not ready\n");
    }
    return admin_text(c, 404, "not found: try /metrics, /healthz, /readyz\n");
}

int admin_start(net_server *srv, char *err, size_t errlen) {
    assert(srv != NULL);
    if (srv->cfg.admin_port < 0) return 0;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    uint16_t port = (uint16_t)srv->cfg.admin_port;
    if (inet_pton(AF_INET, srv->cfg.admin_addr, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons(port);
    } else if (inet_pton(AF_INET6, srv->cfg.admin_addr, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons(port);
        flags |= MHD_USE_IPv6;
    } else {
        snprintf(err, errlen, "admin address '%s' is not an IP literal", srv->cfg.admin_addr);
        return -EINVAL;
    }
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, port, NULL, NULL, admin_handle, srv, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_CONNECTION_LIMIT, 64u, MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_END);
    if (d == NULL) {
        snprintf(err, errlen, "admin HTTP on %s:%u: cannot listen", srv->cfg.admin_addr, port);
        return -EADDRINUSE;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    srv->admin_port = info != NULL ? info->port : port;
    srv->admin = d;
    return 0;
}

void admin_stop(net_server *srv) {
    if (srv->admin == NULL) return;
    MHD_stop_daemon(srv->admin);
    srv->admin = NULL;
}
