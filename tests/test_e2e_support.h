/*
 * test_e2e_support.h — starting a real invd for the end-to-end suites, and talking to
 * it with raw sockets when the client library is too polite.
 *
 * A server runs as a child process (INV_INVD_PATH, set by CMake) on loopback with an
 * ephemeral RPC and admin port, in a fresh data directory under /tmp, writing a ready
 * file that tells its ports and pid. Every wait is bounded; only the pid this helper
 * started is ever signalled. Header-only (static inline) so that each suite stays one
 * file.
 */
#ifndef INV_TEST_E2E_SUPPORT_H
#define INV_TEST_E2E_SUPPORT_H

#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/io_uring.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "inv_client.h"
#include "inv_frame.h"
#include "invd.pb-c.h"

#define E2E_ARGS_MAX 48
#define E2E_START_MS 15000

typedef struct e2e_server {
    pid_t pid;
    uint16_t port;
    int admin_port;
    char dir[128]; /* temp root: data/, ready, log */
    char data[160];
    char ready[160];
    char log[160];
    const char *extra[E2E_ARGS_MAX];
    int extra_n;
} e2e_server;

static inline int64_t e2e_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline void e2e_sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static inline int e2e_rm_one(const char *path, const struct stat *st, int flag, struct FTW *f) {
    (void)st;
    (void)flag;
    (void)f;
    remove(path);
    return 0;
}

static inline void e2e_rmrf(const char *dir) {
    if (dir[0] != '\0' && strncmp(dir, "/tmp/", 5) == 0)
        nftw(dir, e2e_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* The server needs io_uring; a kernel or sandbox without it (ENOSYS, or EPERM from a
 * seccomp filter or io_uring_disabled) makes the suite skip, saying why. */
static inline void e2e_require_uring(void) {
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    long fd = syscall(__NR_io_uring_setup, 4, &p);
    if (fd >= 0) {
        close((int)fd);
        return;
    }
    int err = errno;
    fprintf(stderr, "SKIPPED: io_uring is unavailable here (%s); invd cannot run\n",
            strerror(err));
    cr_skip_test("SKIPPED: io_uring is unavailable here (%s); invd cannot run", strerror(err));
}

/* Fresh directories; extra flags (NULL-terminated) are kept for restarts. */
static inline void e2e_init(e2e_server *s, ...) {
    e2e_require_uring();
    memset(s, 0, sizeof *s);
    snprintf(s->dir, sizeof s->dir, "/tmp/inv-e2e-XXXXXX");
    cr_assert_not_null(mkdtemp(s->dir), "mkdtemp: %s", strerror(errno));
    snprintf(s->data, sizeof s->data, "%s/data", s->dir);
    snprintf(s->ready, sizeof s->ready, "%s/ready", s->dir);
    snprintf(s->log, sizeof s->log, "%s/log", s->dir);
    va_list ap;
    va_start(ap, s);
    for (const char *a = va_arg(ap, const char *); a != NULL && s->extra_n < E2E_ARGS_MAX - 20;
         a = va_arg(ap, const char *))
        s->extra[s->extra_n++] = a;
    va_end(ap);
}

static inline bool e2e_read_ready(e2e_server *s) {
    FILE *f = fopen(s->ready, "r");
    if (f == NULL) return false;
    char line[128];
    unsigned port = 0;
    int admin = -1;
    while (fgets(line, sizeof line, f) != NULL) {
        sscanf(line, "port=%u", &port);
        sscanf(line, "admin_port=%d", &admin);
    }
    fclose(f);
    s->port = (uint16_t)port;
    s->admin_port = admin;
    return port != 0;
}

/* Start (or restart) the server; waits until it listens. */
static inline void e2e_start(e2e_server *s) {
    unlink(s->ready);
    mkdir(s->data, 0755);
    const char *argv[E2E_ARGS_MAX + 1];
    int n = 0;
    argv[n++] = INV_INVD_PATH;
    const char *fixed[] = {
        "--port",     "0",     "--admin-port", "0",      "--shards",    "2",   "--pin", "false",
        "--data-dir", s->data, "--ready-file", s->ready, "--log-level", "warn"};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) argv[n++] = fixed[i];
    for (int i = 0; i < s->extra_n; i++) argv[n++] = s->extra[i];
    argv[n] = NULL;
    pid_t pid = fork();
    cr_assert(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        int fd = open(s->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    s->pid = pid;
    int64_t deadline = e2e_now_ms() + E2E_START_MS;
    while (!e2e_read_ready(s)) {
        int st = 0;
        cr_assert(waitpid(pid, &st, WNOHANG) == 0, "invd exited at start (see %s)", s->log);
        cr_assert(e2e_now_ms() < deadline, "invd did not start within %d ms", E2E_START_MS);
        e2e_sleep_ms(10);
    }
}

/* Signal our child and wait (bounded). @return its exit status, or -1 if it had to be
 * killed after timeout_ms. */
static inline int e2e_stop(e2e_server *s, int sig, int timeout_ms) {
    if (s->pid <= 0) return -1;
    kill(s->pid, sig);
    int64_t deadline = e2e_now_ms() + timeout_ms;
    int st = 0;
    for (;;) {
        pid_t r = waitpid(s->pid, &st, WNOHANG);
        if (r == s->pid) break;
        if (e2e_now_ms() > deadline) {
            kill(s->pid, SIGKILL);
            waitpid(s->pid, &st, 0);
            s->pid = 0;
            return -1;
        }
        e2e_sleep_ms(5);
    }
    s->pid = 0;
    if (WIFEXITED(st)) return WEXITSTATUS(st);
    return 128 + WTERMSIG(st);
}

static inline void e2e_cleanup(e2e_server *s) {
    if (s->pid > 0) e2e_stop(s, SIGKILL, 5000);
    e2e_rmrf(s->dir);
}

static inline bool e2e_alive(const e2e_server *s) {
    return s->pid > 0 && kill(s->pid, 0) == 0 && waitpid(s->pid, NULL, WNOHANG) == 0;
}

/* Resident memory of the server in KiB (0: unknown). */
static inline long e2e_rss_kib(const e2e_server *s) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)s->pid);
    FILE *f = fopen(path, "r");
    long kib = 0;
    while (f != NULL && fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1) break;
    if (f != NULL) fclose(f);
    return kib;
}

static inline inv_client *e2e_client(const e2e_server *s) {
    inv_client *c = NULL;
    inv_client_options opt = {.timeout_ms = 10000};
    int rc = inv_client_connect(&c, "127.0.0.1", s->port, &opt);
    cr_assert_eq(rc, 0, "connect: %s", strerror(-rc));
    return c;
}

/* ---- Raw sockets ---------------------------------------------------------------- */

static inline int e2e_raw_connect(uint16_t port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {
        .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        if (fd >= 0) close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static inline bool e2e_send_all(int fd, const void *buf, size_t len) {
    const uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n <= 0) return false;
        p += n;
        len -= (size_t)n;
    }
    return true;
}

static inline bool e2e_send_frame(int fd, const void *body, uint32_t len) {
    uint8_t h[4];
    inv_frame_header_put(h, len);
    return e2e_send_all(fd, h, 4) && e2e_send_all(fd, body, len);
}

/* Read exactly n bytes within timeout_ms. @return n, 0 on EOF, -1 on timeout/error. */
static inline ssize_t e2e_recv_n(int fd, void *buf, size_t n, int timeout_ms) {
    uint8_t *p = buf;
    size_t got = 0;
    int64_t deadline = e2e_now_ms() + timeout_ms;
    while (got < n) {
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        int64_t left = deadline - e2e_now_ms();
        if (left <= 0 || poll(&pf, 1, (int)left) <= 0) return -1;
        ssize_t r = recv(fd, p + got, n - got, 0);
        if (r == 0) return 0;
        if (r < 0) return errno == ECONNRESET ? 0 : -1;
        got += (size_t)r;
    }
    return (ssize_t)n;
}

/* One reply frame (decoded with the generated code). NULL on EOF/timeout. */
static inline Invd__Response *e2e_recv_response(int fd, int timeout_ms) {
    uint8_t h[4];
    if (e2e_recv_n(fd, h, 4, timeout_ms) != 4) return NULL;
    uint32_t len = inv_frame_header_get(h);
    if (len > (1u << 24)) return NULL;
    uint8_t *body = malloc(len + 1);
    Invd__Response *r = NULL;
    if (body != NULL && e2e_recv_n(fd, body, len, timeout_ms) == (ssize_t)len)
        r = invd__response__unpack(NULL, len, body);
    free(body);
    return r;
}

/* True when the peer closed fd within timeout_ms (reading and dropping anything). */
static inline bool e2e_wait_eof(int fd, int timeout_ms) {
    uint8_t sink[4096];
    int64_t deadline = e2e_now_ms() + timeout_ms;
    for (;;) {
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        int64_t left = deadline - e2e_now_ms();
        if (left <= 0) return false;
        if (poll(&pf, 1, (int)left) <= 0) return false;
        ssize_t r = recv(fd, sink, sizeof sink, 0);
        if (r == 0 || (r < 0 && errno == ECONNRESET)) return true;
        if (r < 0) return false;
    }
}

/* Pack a Request into a frame body (caller frees). */
static inline uint8_t *e2e_pack(const Invd__Request *rq, uint32_t *len) {
    size_t n = invd__request__get_packed_size(rq);
    uint8_t *b = malloc(n + 1);
    invd__request__pack(rq, b);
    *len = (uint32_t)n;
    return b;
}

/* A ping over the client library: the server still answers. */
static inline void e2e_assert_serving(const e2e_server *s) {
    inv_client *c = e2e_client(s);
    inv_client_reply r;
    int rc = inv_client_ping(c, &r);
    cr_assert_eq(rc, 0, "ping: %s", inv_client_error(c));
    cr_assert_eq(r.status, INVC_OK);
    inv_client_reply_free(&r);
    inv_client_close(c);
}

/* GET a path on the admin port; body into buf. @return HTTP status, -1 on failure. */
static inline int e2e_http_get(const e2e_server *s, const char *path, char *buf, size_t cap) {
    int fd = e2e_raw_connect((uint16_t)s->admin_port);
    if (fd < 0) return -1;
    char req[256];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n", path);
    e2e_send_all(fd, req, (size_t)n);
    size_t got = 0;
    int64_t deadline = e2e_now_ms() + 5000;
    while (got + 1 < cap && e2e_now_ms() < deadline) {
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        if (poll(&pf, 1, 1000) <= 0) continue;
        ssize_t r = recv(fd, buf + got, cap - 1 - got, 0);
        if (r <= 0) break;
        got += (size_t)r;
    }
    buf[got] = '\0';
    close(fd);
    int code = -1;
    sscanf(buf, "HTTP/1.%*d %d", &code);
    char *body = strstr(buf, "\r\n\r\n");
    if (body != NULL) memmove(buf, body + 4, strlen(body + 4) + 1);
    return code;
}

/* ---- A small catalog --------------------------------------------------------------- */

static inline void e2e_expect_ok(inv_client *c, int rc, inv_client_reply *r, const char *what) {
    cr_assert_eq(rc, 0, "%s: transport: %s", what, inv_client_error(c));
    cr_assert(r->status == INVC_OK || r->status == INVC_DUPLICATE_REF, "%s: %s: %s", what,
              inv_client_status_name(r->status), r->message);
    inv_client_reply_free(r);
}

/* Three nodes near Beijing and one in Shanghai; SKU-A everywhere, SKU-B in the
 * warehouse only, SKU-HOT with `hot_units` in the warehouse. */
static inline void e2e_catalog(inv_client *c, uint32_t hot_units) {
    static const inv_client_node_spec nodes[] = {
        {"WH-SH", INVC_WAREHOUSE, 31.23, 121.47, "SH", true, false, 0, 1, INVC_NODE_ACTIVE},
        {"ST-BJ-1", INVC_STORE, 39.90, 116.40, "BJ", true, true, 0, 2, INVC_NODE_ACTIVE},
        {"ST-BJ-2", INVC_STORE, 39.95, 116.35, "BJ", true, true, 0, 2, INVC_NODE_ACTIVE},
        {"LK-BJ-1", INVC_LOCKER, 39.91, 116.41, "BJ", false, true, 0, 3, INVC_NODE_ACTIVE},
    };
    inv_client_reply r;
    for (size_t i = 0; i < sizeof nodes / sizeof nodes[0]; i++)
        e2e_expect_ok(c, inv_client_upsert_node(c, &nodes[i], &r), &r, "upsert");
    static const struct {
        const char *node, *sku;
        int64_t units;
    } stock[] = {
        {"WH-SH", "SKU-A", 1000}, {"ST-BJ-1", "SKU-A", 10}, {"ST-BJ-2", "SKU-A", 10},
        {"LK-BJ-1", "SKU-A", 5},  {"WH-SH", "SKU-B", 100},
    };
    for (size_t i = 0; i < sizeof stock / sizeof stock[0]; i++) {
        inv_client_adjust_args a = {.node_id = stock[i].node,
                                    .sku = stock[i].sku,
                                    .has_set_to = true,
                                    .set_to = stock[i].units};
        e2e_expect_ok(c, inv_client_adjust(c, &a, &r), &r, "adjust");
    }
    if (hot_units > 0) {
        inv_client_adjust_args a = {
            .node_id = "WH-SH", .sku = "SKU-HOT", .has_set_to = true, .set_to = hot_units};
        e2e_expect_ok(c, inv_client_adjust(c, &a, &r), &r, "adjust hot");
    }
}

#endif /* INV_TEST_E2E_SUPPORT_H */
