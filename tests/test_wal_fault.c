/*
 * test_wal_fault.c — I/O failures (DESIGN.md §6: log, stop taking writes, exit non-zero,
 * never retry). A child runs the engine in direct mode journaled to a WAL whose fault
 * hook fails one batch's fdatasync (or write, or RWF_DSYNC write) with EIO / ENOSPC.
 * Every reply the child sends (a mutation whose LSN is durable) goes to a pipe; the hook
 * reports the failed batch's LSN range on the same pipe. The parent checks that:
 *   - the child exited with status 74, having written exactly one line on stderr naming
 *     the failure;
 *   - no reply was sent for any record of the failed batch (or after it on that shard);
 *   - the directory still recovers, with every replied reservation present.
 */
#include <poll.h>
#include <sys/wait.h>

#include "test_wal_engine.h"

#define SHARDS 2u
#define OPS 3000u
#define FAIL_AT 6u /* the 6th batch of the chosen kind fails */

enum { MSG_REPLY = 1, MSG_FAILED = 2 };

typedef struct fault_msg {
    uint32_t kind;
    uint32_t shard;
    uint64_t a, b;     /* reply: LSN, order index | failed: first and last LSN */
} fault_msg;

typedef struct fault_plan {
    inv_io_kind kind;
    int err;
    int fd;
    uint32_t seen;
} fault_plan;

static int fault_hook(void *ctx, const inv_io_event *ev) {
    fault_plan *f = ctx;
    if (ev->kind != f->kind || ++f->seen != FAIL_AT) return 0;
    fault_msg m = {.kind = MSG_FAILED, .shard = ev->shard, .a = ev->first_lsn, .b = ev->last_lsn};
    if (write(f->fd, &m, sizeof m) != (ssize_t)sizeof m) _exit(9);
    return f->err;
}

typedef struct pending {
    uint32_t shard;
    uint64_t lsn;
    uint32_t order;
} pending;

static void reply_ready_ones(inv_persist *p, pending *pend, uint32_t *n, int fd) {
    uint32_t keep = 0;
    for (uint32_t i = 0; i < *n; i++) {
        if (!inv_persist_reply_ready(p, pend[i].shard, pend[i].lsn)) {
            pend[keep++] = pend[i];
            continue;
        }
        fault_msg m = {.kind = MSG_REPLY, .shard = pend[i].shard, .a = pend[i].lsn,
                       .b = pend[i].order};
        if (write(fd, &m, sizeof m) != (ssize_t)sizeof m) _exit(9);
    }
    *n = keep;
}

static _Noreturn void fault_child(const char *dir, fault_plan *f, inv_wal_sync_method method) {
    inv_persist_options o;
    tw_options(&o, 1u << 20);
    o.sync_method = method;
    o.fault = fault_hook;
    o.fault_ctx = f;
    test_clock clk = {.now_ms = 1700000000000ull};
    inv_persist *p;
    inv_engine *e;
    te_start(dir, SHARDS, &clk, &o, &p, &e, NULL);
    T_STATUS(t_upsert_node(e, "WH-1", INV_NODE_WAREHOUSE, 31.2, 121.4, 0, 0), INV_OK);
    T_STATUS(t_adjust(e, "WH-1", "SKU-A", 1000000), INV_OK);
    inv_persist_sync(p);
    static pending pend[OPS];
    uint32_t npend = 0;
    char id[32];
    for (uint32_t i = 0; i < OPS; i++) {
        snprintf(id, sizeof id, "ord-%u", i);
        if (t_reserve1(e, id, "c", "SKU-A", 1, 3600000) != INV_OK) _exit(8);
        pend[npend++] = (pending){.shard = last_op.lsn_shard, .lsn = last_op.lsn, .order = i};
        if (i % 7 == 6) inv_persist_pump(p);
        reply_ready_ones(p, pend, &npend, f->fd);
    }
    inv_persist_sync(p);
    _exit(0); /* the fault never fired */
}

/* Run one child; returns its wait status, fills replies/failure from the pipe, stderr. */
static int run_fault(const char *dir, inv_io_kind kind, int err, inv_wal_sync_method method,
                     fault_msg *failed, fault_msg **replies, uint32_t *nreplies, char *errtext,
                     size_t errcap) {
    int msg[2], errp[2];
    cr_assert_eq(pipe(msg), 0);
    cr_assert_eq(pipe(errp), 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(msg[0]);
        close(errp[0]);
        dup2(errp[1], STDERR_FILENO);
        fault_plan f = {.kind = kind, .err = err, .fd = msg[1]};
        fault_child(dir, &f, method);
    }
    close(msg[1]);
    close(errp[1]);
    *replies = calloc(OPS, sizeof **replies);
    *nreplies = 0;
    memset(failed, 0, sizeof *failed);
    fault_msg m;
    for (uint32_t i = 0; i < OPS * 2 && read(msg[0], &m, sizeof m) == (ssize_t)sizeof m; i++) {
        if (m.kind == MSG_FAILED) *failed = m;
        else if (*nreplies < OPS) (*replies)[(*nreplies)++] = m;
    }
    ssize_t n = read(errp[0], errtext, errcap - 1);
    errtext[n > 0 ? n : 0] = '\0';
    close(msg[0]);
    close(errp[0]);
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    return status;
}

static void fault_case(inv_io_kind kind, int err, inv_wal_sync_method method, const char *what) {
    tw_require_uring();
    char dir[TW_PATH_MAX];
    tw_dir_make(dir);
    fault_msg failed, *replies;
    uint32_t n;
    char text[4096];
    int status = run_fault(dir, kind, err, method, &failed, &replies, &n, text, sizeof text);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 74,
              "child status 0x%x, expected exit 74; stderr: %s", status, text);
    cr_assert_eq(failed.kind, MSG_FAILED, "the fault never fired");
    cr_assert_gt(failed.b, 0);
    cr_assert(strstr(text, what) != NULL && strstr(text, strerror(-err)) != NULL,
              "stderr does not name the failure: %s", text);
    cr_assert_eq(strchr(text, '\n'), text + strlen(text) - 1, "more than one line: %s", text);
    cr_assert_gt(n, 0, "no reply before the failure: the test proves nothing");
    for (uint32_t i = 0; i < n; i++)
        cr_assert(replies[i].shard != failed.shard || replies[i].a < failed.a,
                  "a reply left for shard %u LSN %llu, in or after the failed batch %llu..%llu",
                  replies[i].shard, (unsigned long long)replies[i].a,
                  (unsigned long long)failed.a, (unsigned long long)failed.b);
    /* The directory recovers with every replied reservation. */
    test_clock clk = {.now_ms = 1700000000000ull};
    inv_persist_options o;
    tw_options(&o, 1u << 20);
    inv_persist *p;
    inv_engine *e;
    te_start(dir, SHARDS, &clk, &o, &p, &e, NULL);
    char id[32];
    for (uint32_t i = 0; i < n; i++) {
        snprintf(id, sizeof id, "ord-%llu", (unsigned long long)replies[i].b);
        T_STATUS(t_get(e, id), INV_OK);
    }
    te_stop(p, e);
    free(replies);
    tw_dir_remove(dir);
}

Test(wal_fault, fdatasync_eio_exits_74_and_no_reply_leaves) {
    fault_case(INV_IO_WAL_FDATASYNC, -EIO, INV_WAL_SYNC_FDATASYNC, "fdatasync failed");
}

Test(wal_fault, write_enospc_exits_74_and_no_reply_leaves) {
    fault_case(INV_IO_WAL_WRITE, -ENOSPC, INV_WAL_SYNC_FDATASYNC, "write failed");
}

Test(wal_fault, dsync_write_eio_exits_74_and_no_reply_leaves) {
    fault_case(INV_IO_WAL_DSYNC_WRITE, -EIO, INV_WAL_SYNC_DSYNC, "write failed");
}
