/*
 * test_invbench_scenario.c — invbench's scenario writer: `invbench --write-scenario DIR`
 * is reproducible from its seed, writes the CSVs invctl loads, and a real invd loaded
 * from them reports the stock the files hold.
 *
 * The invbench and invd binaries are the build's (INVBENCH_PATH, INV_INVD_PATH); each is
 * run as a child process with a bounded wait (killed by its pid when over time).
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "inv_client.h"

#define SCN_CHILD_TIMEOUT_MS 60000
#define SCN_INVD_READY_MS 20000
#define SCN_POLL_US 10000
#define SCN_FILE_MAX (64u << 20)
#define SCN_LOAD_WINDOW 1024u
#define SCN_SKUS_CHECKED 6u
#define SCN_NODE_HEADER "node_id,kind,lat,lon,region,ships,pickup,capacity_per_day,priority,status\n"
#define SCN_STOCK_HEADER "node_id,sku,on_hand,safety\n"
#define SCN_NODES "300"

static uint64_t scn_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Wait for `pid` at most timeout_ms; kill it by its pid when over time.
 * @return its exit status, or -1 when it did not exit normally. */
static int scn_wait(pid_t pid, int timeout_ms) {
    uint64_t deadline = scn_now_ms() + (uint64_t)timeout_ms;
    int status = 0;
    while (scn_now_ms() < deadline) {
        if (waitpid(pid, &status, WNOHANG) == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        usleep(SCN_POLL_US);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return -1;
}

/* Start argv[0] with stdout and stderr into log_path. @return its pid. */
static pid_t scn_spawn(char *const *argv, const char *log_path) {
    pid_t pid = fork();
    cr_assert(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
        }
        execv(argv[0], argv);
        _exit(127);
    }
    return pid;
}

/* invbench --write-scenario dir --seed seed (small sizes). @return its stdout. */
static void scn_write(const char *dir, const char *seed) {
    char log_path[512];
    snprintf(log_path, sizeof log_path, "%s.log", dir);
    char *const argv[] = {INVBENCH_PATH, "--write-scenario", (char *)dir, "--seed", (char *)seed,
                          "--nodes", SCN_NODES, "--skus", "2000", "--customers", "5000", NULL};
    int rc = scn_wait(scn_spawn(argv, log_path), SCN_CHILD_TIMEOUT_MS);
    cr_assert_eq(rc, 0, "invbench --write-scenario %s --seed %s exited %d (log %s)", dir, seed,
                 rc, log_path);
}

static char *scn_read(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    char *buf = malloc(SCN_FILE_MAX + 1);
    cr_assert_not_null(buf);
    *len = fread(buf, 1, SCN_FILE_MAX, f);
    buf[*len] = '\0';
    fclose(f);
    return buf;
}

static bool scn_same_file(const char *a, const char *b) {
    size_t la = 0, lb = 0;
    char *x = scn_read(a, &la), *y = scn_read(b, &lb);
    bool same = la == lb && memcmp(x, y, la) == 0;
    free(x);
    free(y);
    return same;
}

static size_t scn_lines(const char *text) {
    size_t n = 0;
    for (const char *p = text; *p != '\0'; p++) n += *p == '\n';
    return n;
}

static int scn_rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st;
    (void)ftw;
    if (flag == FTW_DP) rmdir(path);
    else unlink(path);
    return 0;
}

typedef struct scn_dirs {
    char root[64];
    char a[128], b[128], c[128];
} scn_dirs;

static void scn_dirs_make(scn_dirs *d) {
    snprintf(d->root, sizeof d->root, "/tmp/ib-scn-XXXXXX");
    cr_assert_not_null(mkdtemp(d->root), "mkdtemp: %s", strerror(errno));
    snprintf(d->a, sizeof d->a, "%s/a", d->root);
    snprintf(d->b, sizeof d->b, "%s/b", d->root);
    snprintf(d->c, sizeof d->c, "%s/c", d->root);
}

static void scn_dirs_remove(scn_dirs *d) { nftw(d->root, scn_rm_entry, 16, FTW_DEPTH | FTW_PHYS); }

Test(invbench_scenario, same_seed_same_files_other_seed_differs) {
    scn_dirs d;
    scn_dirs_make(&d);
    scn_write(d.a, "7");
    scn_write(d.b, "7");
    scn_write(d.c, "8");
    const char *const files[] = {"nodes.csv", "stock.csv"};
    for (int i = 0; i < 2; i++) {
        char pa[256], pb[256], pc[256];
        snprintf(pa, sizeof pa, "%s/%s", d.a, files[i]);
        snprintf(pb, sizeof pb, "%s/%s", d.b, files[i]);
        snprintf(pc, sizeof pc, "%s/%s", d.c, files[i]);
        cr_expect(scn_same_file(pa, pb), "%s differs between two runs with seed 7", files[i]);
        cr_expect(!scn_same_file(pa, pc), "%s is the same for seeds 7 and 8", files[i]);
    }
    scn_dirs_remove(&d);
}

Test(invbench_scenario, headers_and_row_counts) {
    scn_dirs d;
    scn_dirs_make(&d);
    scn_write(d.a, "11");
    char path[256];
    size_t len = 0;
    snprintf(path, sizeof path, "%s/nodes.csv", d.a);
    char *nodes = scn_read(path, &len);
    snprintf(path, sizeof path, "%s/stock.csv", d.a);
    char *stock = scn_read(path, &len);
    cr_expect(strncmp(nodes, SCN_NODE_HEADER, strlen(SCN_NODE_HEADER)) == 0, "nodes.csv header");
    cr_expect(strncmp(stock, SCN_STOCK_HEADER, strlen(SCN_STOCK_HEADER)) == 0, "stock.csv header");
    cr_expect_eq(scn_lines(nodes), (size_t)atoi(SCN_NODES) + 1u, "nodes.csv: header + %s rows",
                 SCN_NODES);
    /* The summary line names the cell count: "(N cells, …)". */
    snprintf(path, sizeof path, "%s.log", d.a);
    char *log = scn_read(path, &len);
    const char *cells = strstr(log, "stock.csv (");
    cr_assert_not_null(cells, "no summary line: %s", log);
    size_t want = strtoul(cells + strlen("stock.csv ("), NULL, 10);
    cr_expect(want > 0);
    cr_expect_eq(scn_lines(stock), want + 1u, "stock.csv: %zu lines for %zu cells",
                 scn_lines(stock), want);
    free(nodes);
    free(stock);
    free(log);
    scn_dirs_remove(&d);
}

/* ====================================================================================
 * Loading the files into a real invd
 * ==================================================================================== */

typedef struct scn_invd {
    pid_t pid;
    uint16_t port;
} scn_invd;

static void scn_invd_start(scn_invd *s, const char *dir) {
    char ready[256], log_path[256];
    snprintf(ready, sizeof ready, "%s/ready", dir);
    snprintf(log_path, sizeof log_path, "%s/invd.log", dir);
    char *const argv[] = {INV_INVD_PATH, "--port", "0", "--admin-port", "-1", "--listen",
                          "127.0.0.1", "--durability", "none", "--ready-file", ready,
                          "--log-level", "warn", NULL};
    s->pid = scn_spawn(argv, log_path);
    uint64_t deadline = scn_now_ms() + SCN_INVD_READY_MS;
    while (s->port == 0 && scn_now_ms() < deadline) {
        FILE *f = fopen(ready, "r");
        unsigned port = 0;
        if (f != NULL && fscanf(f, "port=%u", &port) == 1) s->port = (uint16_t)port;
        if (f != NULL) fclose(f);
        if (s->port == 0) usleep(SCN_POLL_US);
    }
    if (s->port == 0) kill(s->pid, SIGKILL);
    cr_assert_neq(s->port, 0, "invd did not become ready (log %s)", log_path);
}

static void scn_invd_stop(scn_invd *s) {
    kill(s->pid, SIGTERM);
    cr_expect_eq(scn_wait(s->pid, SCN_CHILD_TIMEOUT_MS), 0, "invd did not stop cleanly");
}

static void scn_collect(inv_client *c, uint32_t keep, uint64_t *refused) {
    inv_client_reply r[64];
    for (int round = 0; round < 100000 && inv_client_inflight(c) > keep; round++) {
        int n = inv_client_poll(c, r, 64, 10000);
        cr_assert(n > 0, "poll: %s", inv_client_error(c));
        for (int i = 0; i < n; i++) {
            *refused += r[i].status != INVC_OK;
            inv_client_reply_free(&r[i]);
        }
    }
}

static void scn_submit(inv_client *c, const inv_client_request *rq, uint64_t *refused) {
    if (inv_client_inflight(c) >= SCN_LOAD_WINDOW) scn_collect(c, SCN_LOAD_WINDOW / 2, refused);
    cr_assert_eq(inv_client_submit(c, rq, NULL, NULL), 0, "submit: %s", inv_client_error(c));
}

/* nodes.csv rows as UpsertNode (every field the writer emits). */
static void scn_load_nodes(inv_client *c, char *text, uint64_t *refused) {
    static const char *const kinds[] = {"WAREHOUSE", "STORE", "LOCKER"};
    char *save = NULL;
    strtok_r(text, "\n", &save); /* header */
    for (char *line = strtok_r(NULL, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char id[64], kind[16], region[16], status[16];
        double lat, lon;
        int ships, pickup;
        unsigned cap, prio;
        int n = sscanf(line, "%63[^,],%15[^,],%lf,%lf,%15[^,],%d,%d,%u,%u,%15s", id, kind, &lat,
                       &lon, region, &ships, &pickup, &cap, &prio, status);
        cr_assert_eq(n, 10, "bad nodes.csv row: %s", line);
        inv_client_request rq = {.op = INVC_OP_UPSERT_NODE};
        rq.in.node = (inv_client_node_spec){.node_id = id, .lat = lat, .lon = lon,
            .region = region, .ships = ships, .pickup = pickup, .capacity_per_day = cap,
            .priority = prio, .status = INVC_NODE_ACTIVE};
        for (int k = 0; k < 3; k++)
            if (strcmp(kind, kinds[k]) == 0) rq.in.node.kind = k;
        scn_submit(c, &rq, refused);
    }
    scn_collect(c, 0, refused);
}

/* stock.csv rows as Adjust(set_to); sums on_hand of the first SKUs seen into sums. */
static void scn_load_stock(inv_client *c, char *text, char skus[][32], int64_t *sums,
                           uint64_t *refused) {
    char *save = NULL;
    uint32_t seen = 0;
    strtok_r(text, "\n", &save);
    for (char *line = strtok_r(NULL, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char node[64], sku[32];
        long long on_hand = 0;
        unsigned safety = 0;
        cr_assert_eq(sscanf(line, "%63[^,],%31[^,],%lld,%u", node, sku, &on_hand, &safety), 4,
                     "bad stock.csv row: %s", line);
        inv_client_request rq = {.op = INVC_OP_ADJUST};
        rq.in.adjust = (inv_client_adjust_args){.node_id = node, .sku = sku, .has_set_to = true,
                                                .set_to = on_hand};
        scn_submit(c, &rq, refused);
        uint32_t k = 0;
        while (k < seen && strcmp(skus[k], sku) != 0) k++;
        if (k == seen && seen < SCN_SKUS_CHECKED) snprintf(skus[seen++], 32, "%s", sku);
        if (k < seen) sums[k] += on_hand;
    }
    scn_collect(c, 0, refused);
}

Test(invbench_scenario, files_load_into_invd_with_the_same_totals) {
    scn_dirs d;
    scn_dirs_make(&d);
    scn_write(d.a, "5");
    scn_invd inv = {0};
    scn_invd_start(&inv, d.root);
    inv_client *c = NULL;
    cr_assert_eq(inv_client_connect(&c, "127.0.0.1", inv.port, NULL), 0);
    char path[256], skus[SCN_SKUS_CHECKED][32];
    int64_t sums[SCN_SKUS_CHECKED] = {0};
    uint64_t refused = 0;
    size_t len = 0;
    snprintf(path, sizeof path, "%s/nodes.csv", d.a);
    char *nodes = scn_read(path, &len);
    scn_load_nodes(c, nodes, &refused);
    snprintf(path, sizeof path, "%s/stock.csv", d.a);
    char *stock = scn_read(path, &len);
    scn_load_stock(c, stock, skus, sums, &refused);
    cr_expect_eq(refused, 0, "%llu load requests refused", (unsigned long long)refused);
    for (uint32_t k = 0; k < SCN_SKUS_CHECKED; k++) {
        inv_client_reply r;
        inv_client_availability_args a = {.sku = skus[k]};
        cr_assert_eq(inv_client_get_availability(c, &a, &r), 0);
        cr_expect_eq(r.status, INVC_OK, "%s: %s", skus[k], r.message);
        cr_expect_eq(r.r.availability.total_on_hand, sums[k], "%s: on hand %lld, CSV sum %lld",
                     skus[k], (long long)r.r.availability.total_on_hand, (long long)sums[k]);
        inv_client_reply_free(&r);
    }
    inv_client_close(c);
    free(nodes);
    free(stock);
    scn_invd_stop(&inv);
    scn_dirs_remove(&d);
}
