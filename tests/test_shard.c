/*
 * test_shard.c — threaded mode: shards on their own threads, ops forwarded between them
 * over the SPSC rings (DESIGN.md §5, inv_engine.h "Execution model").
 *
 * Covers: ownership (inv_engine_op_owner: one owner per order for all its ops, spread
 * over the shards, catalog ops on shard 0, ref_id owners, SetLimit / SetSafety by SKU,
 * "any" ops stay where they are submitted); in threaded mode inv_shard_submit runs owned
 * ops at once (returns 1, no callback) and forwards the others (returns 0), whose
 * completion comes back exactly once
 * through inv_shard_poll's done callback on the submitting thread, with origin_shard set
 * and a correct result — reserve, commit, release, extend, get, adjust with a ref_id from
 * several submitters at once (applied once), a catalog upsert forwarded to shard 0 and
 * published to routing by shard 0's poll; expiry run by the owner's poll on an atomic
 * fake clock; -INV_BUSY when the ring to a stalled owner is full (exactly
 * INV_RING_DEPTH accepted, the refused op untouched), and recovery once the owner polls
 * again; direct mode again after the threads stop. Two white-box races at the end: the
 * sold-out fast path under a flipping sold-out flag (regression), and reserves against a
 * cell another thread keeps taking and giving back (lost races re-plan; refusals name
 * their short line; nothing stays taken).
 *
 * Harness: one worker thread per shard loops { run a posted job; poll its shard }. The
 * test thread posts jobs and waits for them; a job runs on the worker's thread and may
 * submit ops and poll until they complete. Workers never call cr_assert (Criterion's
 * asserts belong to the test thread): they record the first failure, which the test
 * thread asserts on. Every wait is bounded in time.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine_int.h" /* sku_at: the regression at the end flips a sold-out flag */
#include "test_support.h"

#define T0_MS 1731200000000ull
#define WAIT_MS 20000u /* the longest any wait may take before the test fails */
#define MAX_WORKERS 4u

/* ====================================================================================
 * Harness
 * ==================================================================================== */

typedef struct worker worker;
typedef void (*job_fn)(worker *w, void *arg);

struct worker {
    uint32_t index;
    inv_shard *shard;
    pthread_t thread;
    _Atomic int job_state; /* 0 idle, 1 posted, 2 done */
    job_fn job;
    void *arg;
    _Atomic bool pause;    /* stop polling (simulates a stalled shard) */
    _Atomic bool paused;   /* acknowledged */
    _Atomic bool stop;
    _Atomic uint64_t callbacks; /* done callbacks run by this worker */
    char failure[256];          /* first failure seen on this thread */
    _Atomic bool failed;
};

/* Completion record of one op, hung on op->user. */
typedef struct pending {
    _Atomic int done;         /* number of completions seen (must end at exactly 1) */
    uint32_t done_by;         /* worker that ran the callback (or completed it locally) */
    pthread_t done_thread;
} pending;

static test_clock_atomic aclk;
static inv_engine *e;
static worker workers[MAX_WORKERS];
static uint32_t worker_count;

static void worker_fail(worker *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void worker_fail(worker *w, const char *fmt, ...) {
    if (atomic_load(&w->failed)) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->failure, sizeof w->failure, fmt, ap);
    va_end(ap);
    atomic_store(&w->failed, true);
}
#define W_CHECK(w, cond, ...)                                                              \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            worker_fail((w), __VA_ARGS__);                                                 \
            return;                                                                        \
        }                                                                                  \
    } while (0)

static void on_done(void *ctx, inv_op *op) {
    worker *w = ctx;
    atomic_fetch_add_explicit(&w->callbacks, 1, memory_order_relaxed);
    pending *p = op->user;
    if (p == NULL) {
        worker_fail(w, "completion without a pending record (%s)", inv_op_type_name(op->type));
        return;
    }
    p->done_by = w->index;
    p->done_thread = pthread_self();
    atomic_fetch_add_explicit(&p->done, 1, memory_order_release);
}

static void *worker_main(void *arg) {
    worker *w = arg;
    uint64_t deadline = test_mono_ms() + 120000; /* a worker never outlives a test by much */
    while (!atomic_load_explicit(&w->stop, memory_order_acquire)) {
        if (test_mono_ms() > deadline) {
            worker_fail(w, "worker %u ran past its deadline", w->index);
            break;
        }
        if (atomic_load_explicit(&w->job_state, memory_order_acquire) == 1) {
            w->job(w, w->arg);
            atomic_store_explicit(&w->job_state, 2, memory_order_release);
        }
        if (atomic_load_explicit(&w->pause, memory_order_acquire)) {
            atomic_store_explicit(&w->paused, true, memory_order_release);
            sched_yield();
            continue;
        }
        atomic_store_explicit(&w->paused, false, memory_order_release);
        if (inv_shard_poll(w->shard, on_done, w) == 0) sched_yield();
    }
    return NULL;
}

static void workers_start(uint32_t n) {
    worker_count = n;
    cr_assert_eq(inv_engine_shard_count(e), n);
    for (uint32_t i = 0; i < n; i++) {
        worker *w = &workers[i];
        memset(w, 0, sizeof *w);
        w->index = i;
        w->shard = inv_engine_shard(e, i);
        cr_assert_eq(inv_shard_index(w->shard), i);
        cr_assert_eq(pthread_create(&w->thread, NULL, worker_main, w), 0);
    }
}

static void workers_check(void) {
    for (uint32_t i = 0; i < worker_count; i++)
        cr_assert(!atomic_load(&workers[i].failed), "worker %u: %s", i, workers[i].failure);
}

static void workers_stop(void) {
    for (uint32_t i = 0; i < worker_count; i++) atomic_store(&workers[i].stop, true);
    for (uint32_t i = 0; i < worker_count; i++) pthread_join(workers[i].thread, NULL);
    uint32_t n = worker_count;
    worker_count = 0;
    for (uint32_t i = 0; i < n; i++)
        cr_assert(!atomic_load(&workers[i].failed), "worker %u: %s", i, workers[i].failure);
}

/* Run `job` on worker `i`'s thread and wait until it returns. */
static void run_on(uint32_t i, job_fn job, void *arg) {
    worker *w = &workers[i];
    cr_assert_eq(atomic_load(&w->job_state), 0, "worker %u busy", i);
    w->job = job;
    w->arg = arg;
    atomic_store_explicit(&w->job_state, 1, memory_order_release);
    uint64_t deadline = test_mono_ms() + WAIT_MS;
    while (atomic_load_explicit(&w->job_state, memory_order_acquire) != 2) {
        cr_assert_leq(test_mono_ms(), deadline, "job on worker %u did not finish", i);
        sched_yield();
    }
    atomic_store(&w->job_state, 0);
    workers_check();
}

/* Post jobs to several workers at once, then wait for all of them. */
static void run_on_all(const uint32_t *which, uint32_t n, job_fn job, void **args) {
    for (uint32_t k = 0; k < n; k++) {
        worker *w = &workers[which[k]];
        w->job = job;
        w->arg = args[k];
        atomic_store_explicit(&w->job_state, 1, memory_order_release);
    }
    uint64_t deadline = test_mono_ms() + WAIT_MS;
    for (uint32_t k = 0; k < n; k++) {
        worker *w = &workers[which[k]];
        while (atomic_load_explicit(&w->job_state, memory_order_acquire) != 2) {
            cr_assert_leq(test_mono_ms(), deadline, "job on worker %u did not finish", which[k]);
            sched_yield();
        }
        atomic_store(&w->job_state, 0);
    }
    workers_check();
}

static void set_pause(uint32_t i, bool pause) {
    atomic_store(&workers[i].pause, pause);
    uint64_t deadline = test_mono_ms() + WAIT_MS;
    while (atomic_load(&workers[i].paused) != pause) {
        cr_assert_leq(test_mono_ms(), deadline, "worker %u did not %s", i,
                      pause ? "pause" : "resume");
        sched_yield();
    }
}

/* On worker `w`: submit `op`; returns submit's result (1 local, 0 forwarded). */
static int submit(worker *w, inv_op *op, pending *p) {
    memset(p, 0, sizeof *p);
    op->user = p;
    uint64_t deadline = test_mono_ms() + WAIT_MS;
    for (;;) {
        int rc = inv_shard_submit(w->shard, op);
        if (rc == 1) {
            p->done_by = w->index;
            p->done_thread = pthread_self();
            atomic_store(&p->done, 1);
            return 1;
        }
        if (rc == 0) return 0;
        if (rc != -INV_BUSY) {
            worker_fail(w, "inv_shard_submit returned %d", rc);
            return rc;
        }
        if (test_mono_ms() > deadline) {
            worker_fail(w, "ring stayed full");
            return rc;
        }
        inv_shard_poll(w->shard, on_done, w);
    }
}

/* On worker `w`: poll until every pending record in `ps` is done. */
static bool wait_done(worker *w, pending *ps, uint32_t n) {
    uint64_t deadline = test_mono_ms() + WAIT_MS;
    for (uint32_t i = 0; i < n; i++) {
        while (atomic_load_explicit(&ps[i].done, memory_order_acquire) == 0) {
            if (test_mono_ms() > deadline) {
                worker_fail(w, "op %u never completed", i);
                return false;
            }
            if (inv_shard_poll(w->shard, on_done, w) == 0) sched_yield();
        }
    }
    return true;
}

/* Submit one op on `w` and wait for it; checks where it completed. */
static bool submit_wait(worker *w, inv_op *op) {
    pending p;
    uint32_t owner = inv_engine_op_owner(e, op, w->index);
    int rc = submit(w, op, &p);
    if (rc < 0) return false;
    if ((rc == 1) != (owner == w->index)) {
        worker_fail(w, "%s owned by %u submitted on %u returned %d", inv_op_type_name(op->type),
                    owner, w->index, rc);
        return false;
    }
    if (!wait_done(w, &p, 1)) return false;
    if (p.done_by != w->index || !pthread_equal(p.done_thread, pthread_self())) {
        worker_fail(w, "%s completed on worker %u, submitted on %u", inv_op_type_name(op->type),
                    p.done_by, w->index);
        return false;
    }
    if (rc == 0 && op->origin_shard != w->index) {
        worker_fail(w, "origin_shard %u, submitted on %u", op->origin_shard, w->index);
        return false;
    }
    return true;
}

/* ====================================================================================
 * Setup
 * ==================================================================================== */

static void open_engine(uint32_t shards) {
    atomic_store(&aclk.now_ms, T0_MS);
    inv_engine_config cfg;
    test_config_small(&cfg, shards);
    cfg.clock = test_clock_atomic_read;
    cfg.clock_ctx = &aclk;
    e = test_engine_open_config(&cfg);
    /* catalog and stock in direct mode, before any thread runs */
    T_STATUS(t_upsert_node(e, "sh", INV_NODE_WAREHOUSE, T_DEST_LAT, T_DEST_LON, 0, 0), INV_OK);
    T_STATUS(t_upsert_node(e, "bj", INV_NODE_WAREHOUSE, 39.9042, 116.4074, 0, 0), INV_OK);
    T_STATUS(t_adjust(e, "sh", "tea", 100000), INV_OK);
    T_STATUS(t_adjust(e, "bj", "tea", 100), INV_OK);
}

static void teardown(void) {
    if (worker_count > 0) workers_stop();
    if (e != NULL) inv_engine_close(e);
    e = NULL;
}

TestSuite(shard, .fini = teardown, .timeout = 120);

static void op_reserve(inv_op *op, const char *order, const char *customer, uint32_t qty,
                       uint64_t ttl_ms, inv_line *line) {
    memset(op, 0, sizeof *op);
    op->type = INV_OP_RESERVE;
    line->sku = "tea";
    line->qty = qty;
    inv_reserve_args *a = &op->in.reserve;
    a->order_id = order;
    a->customer_id = customer;
    a->dest.has_point = true;
    a->dest.lat = T_DEST_LAT;
    a->dest.lon = T_DEST_LON;
    a->lines = line;
    a->line_count = 1;
    a->ttl_ms = ttl_ms;
    a->policy = INV_ROUTE_NEAREST;
}

static void op_order(inv_op *op, inv_op_type type, const char *order) {
    memset(op, 0, sizeof *op);
    op->type = type;
    op->in.order.order_id = order;
}

/* ====================================================================================
 * Ownership (no threads)
 * ==================================================================================== */

Test(shard, owner_is_stable_and_spread) {
    open_engine(4);
    inv_op op;
    inv_line line;
    char id[32];
    uint32_t per_shard[4] = {0};
    for (uint32_t i = 0; i < 2000; i++) {
        snprintf(id, sizeof id, "ord-%u", i);
        op_reserve(&op, id, "c", 1, 1000, &line);
        uint32_t owner = inv_engine_op_owner(e, &op, 3);
        cr_assert_lt(owner, 4);
        per_shard[owner]++;
        const inv_op_type types[] = {INV_OP_COMMIT, INV_OP_RELEASE, INV_OP_GET_RESERVATION};
        for (int k = 0; k < 3; k++) {
            op_order(&op, types[k], id);
            cr_assert_eq(inv_engine_op_owner(e, &op, (uint32_t)k), owner, "%s of %s",
                         inv_op_type_name(types[k]), id);
        }
        memset(&op, 0, sizeof op);
        op.type = INV_OP_EXTEND;
        op.in.extend.order_id = id;
        op.in.extend.ttl_ms = 5;
        cr_assert_eq(inv_engine_op_owner(e, &op, 1), owner, "EXTEND of %s", id);
    }
    for (uint32_t s = 0; s < 4; s++)
        cr_assert(per_shard[s] > 350 && per_shard[s] < 650, "shard %u owns %u of 2000 orders", s,
                  per_shard[s]);

    /* catalog ops: shard 0 */
    memset(&op, 0, sizeof op);
    op.type = INV_OP_UPSERT_NODE;
    op.in.node.node_id = "x";
    T_EQU(inv_engine_op_owner(e, &op, 2), 0);
    op.type = INV_OP_LIST_NODES;
    T_EQU(inv_engine_op_owner(e, &op, 3), 0);
    memset(&op, 0, sizeof op);
    op.type = INV_OP_SET_NODE_STATUS;
    op.in.node_status.node_id = "sh";
    T_EQU(inv_engine_op_owner(e, &op, 1), 0);

    /* availability and adjust without a ref run where they are submitted */
    memset(&op, 0, sizeof op);
    op.type = INV_OP_GET_AVAILABILITY;
    op.in.availability.sku = "tea";
    for (uint32_t s = 0; s < 4; s++) T_EQU(inv_engine_op_owner(e, &op, s), s);
    memset(&op, 0, sizeof op);
    op.type = INV_OP_ADJUST;
    op.in.adjust.node_id = "sh";
    op.in.adjust.sku = "tea";
    for (uint32_t s = 0; s < 4; s++) T_EQU(inv_engine_op_owner(e, &op, s), s);
    op.in.adjust.ref_id = "";
    for (uint32_t s = 0; s < 4; s++) T_EQU(inv_engine_op_owner(e, &op, s), s);

    /* Adjust and Return with the same ref_id: one owner, whoever submits */
    uint32_t ref_owner[4] = {0};
    for (uint32_t i = 0; i < 400; i++) {
        snprintf(id, sizeof id, "ref-%u", i);
        memset(&op, 0, sizeof op);
        op.type = INV_OP_ADJUST;
        op.in.adjust.ref_id = id;
        uint32_t owner = inv_engine_op_owner(e, &op, 0);
        for (uint32_t s = 1; s < 4; s++) T_EQU(inv_engine_op_owner(e, &op, s), owner);
        memset(&op, 0, sizeof op);
        op.type = INV_OP_RETURN;
        op.in.ret.ref_id = id;
        T_EQU(inv_engine_op_owner(e, &op, 2), owner);
        ref_owner[owner]++;
    }
    for (uint32_t s = 0; s < 4; s++)
        cr_assert_gt(ref_owner[s], 40, "ref owner %u: %u", s, ref_owner[s]);

    /* SetLimit and SetSafety of one SKU: one owner, whoever submits */
    uint32_t sku_owner[4] = {0};
    for (uint32_t i = 0; i < 400; i++) {
        snprintf(id, sizeof id, "sku-%u", i);
        memset(&op, 0, sizeof op);
        op.type = INV_OP_SET_LIMIT;
        op.in.limit.sku = id;
        uint32_t owner = inv_engine_op_owner(e, &op, 0);
        for (uint32_t s = 1; s < 4; s++) T_EQU(inv_engine_op_owner(e, &op, s), owner);
        memset(&op, 0, sizeof op);
        op.type = INV_OP_SET_SAFETY;
        op.in.safety.node_id = "sh";
        op.in.safety.sku = id;
        T_EQU(inv_engine_op_owner(e, &op, 3), owner);
        sku_owner[owner]++;
    }
    for (uint32_t s = 0; s < 4; s++)
        cr_assert_gt(sku_owner[s], 40, "sku owner %u: %u", s, sku_owner[s]);
    for (uint32_t s = 0; s < 4; s++) T_EQU(inv_shard_index(inv_engine_shard(e, s)), s);
}

/* ====================================================================================
 * Forwarding
 * ==================================================================================== */

#define ORDERS_PER_WORKER 60u

typedef struct reserve_job {
    uint32_t first, count;
    uint32_t forwarded, local;
} reserve_job;

static void job_reserve_many(worker *w, void *arg) {
    reserve_job *j = arg;
    static _Thread_local inv_op ops[ORDERS_PER_WORKER];
    static _Thread_local inv_line lines[ORDERS_PER_WORKER];
    static _Thread_local pending ps[ORDERS_PER_WORKER];
    static _Thread_local char ids[ORDERS_PER_WORKER][24];
    uint64_t callbacks_before = atomic_load(&w->callbacks);
    /* all in flight at once, then wait */
    for (uint32_t k = 0; k < j->count; k++) {
        snprintf(ids[k], sizeof ids[k], "fw-%u", j->first + k);
        op_reserve(&ops[k], ids[k], "cust", 1 + k % 3, 600000, &lines[k]);
        uint32_t owner = inv_engine_op_owner(e, &ops[k], w->index);
        int rc = submit(w, &ops[k], &ps[k]);
        W_CHECK(w, rc >= 0, "submit %s failed", ids[k]);
        W_CHECK(w, (rc == 1) == (owner == w->index), "%s: owner %u, worker %u, rc %d", ids[k],
                owner, w->index, rc);
        if (rc == 1) j->local++; else j->forwarded++;
    }
    if (!wait_done(w, ps, j->count)) return;
    for (uint32_t k = 0; k < j->count; k++) {
        W_CHECK(w, atomic_load(&ps[k].done) == 1, "%s completed %d times", ids[k],
                atomic_load(&ps[k].done));
        W_CHECK(w, ps[k].done_by == w->index && pthread_equal(ps[k].done_thread, pthread_self()),
                "%s completed on worker %u, not on its submitter %u", ids[k], ps[k].done_by,
                w->index);
        const inv_op *op = &ops[k];
        W_CHECK(w, op->status == INV_OK, "%s -> %s %s", ids[k], inv_status_name(op->status),
                op->message);
        W_CHECK(w, op->out.reservation.state == INV_RESV_HELD, "%s not HELD", ids[k]);
        W_CHECK(w, op->out.reservation.alloc_count == 1 &&
                       op->out.reservation.alloc[0].qty == 1 + k % 3,
                "%s: wrong allocation", ids[k]);
        W_CHECK(w, op->out.reservation.expires_at_ms == T0_MS + 600000, "%s: expiry", ids[k]);
    }
    uint64_t callbacks = atomic_load(&w->callbacks) - callbacks_before;
    W_CHECK(w, callbacks == j->forwarded, "worker %u: %llu callbacks for %u forwarded ops",
            w->index, (unsigned long long)callbacks, j->forwarded);
}

typedef struct finish_job {
    uint32_t first, count;
    bool commit_even; /* commit even-numbered orders, release odd ones */
} finish_job;

static void job_finish_many(worker *w, void *arg) {
    finish_job *j = arg;
    char id[24];
    for (uint32_t k = 0; k < j->count; k++) {
        uint32_t n = j->first + k;
        snprintf(id, sizeof id, "fw-%u", n);
        inv_op op;
        bool commit = (n % 2 == 0) == j->commit_even;
        op_order(&op, commit ? INV_OP_COMMIT : INV_OP_RELEASE, id);
        if (!submit_wait(w, &op)) return;
        inv_resv_state want = commit ? INV_RESV_COMMITTED : INV_RESV_RELEASED;
        W_CHECK(w, op.status == INV_OK && op.out.reservation.state == want, "%s %s -> %s %s",
                commit ? "commit" : "release", id, inv_status_name(op.status), op.message);
        /* a retry from this worker answers the same */
        if (!submit_wait(w, &op)) return;
        W_CHECK(w, op.status == INV_OK && op.out.reservation.state == want, "retry %s", id);
        /* and the opposite op is refused */
        op_order(&op, commit ? INV_OP_RELEASE : INV_OP_COMMIT, id);
        if (!submit_wait(w, &op)) return;
        W_CHECK(w, op.status == (commit ? INV_ALREADY_COMMITTED : INV_ALREADY_RELEASED),
                "opposite of %s -> %s", id, inv_status_name(op.status));
    }
}

Test(shard, forwarded_ops_complete_on_the_submitting_thread) {
    open_engine(3);
    workers_start(3);
    reserve_job rj[3];
    void *args[3];
    uint32_t all[3] = {0, 1, 2};
    for (uint32_t i = 0; i < 3; i++) {
        rj[i] = (reserve_job){.first = i * ORDERS_PER_WORKER, .count = ORDERS_PER_WORKER};
        args[i] = &rj[i];
    }
    run_on_all(all, 3, job_reserve_many, args);
    uint32_t forwarded = 0, local = 0;
    for (uint32_t i = 0; i < 3; i++) {
        forwarded += rj[i].forwarded;
        local += rj[i].local;
    }
    T_EQU(forwarded + local, 3 * ORDERS_PER_WORKER);
    cr_assert_gt(forwarded, 60, "most orders belong to another shard (%u)", forwarded);
    cr_assert_gt(local, 20, "some orders belong to their submitter (%u)", local);
    int64_t held = 0;
    for (uint32_t n = 0; n < 3 * ORDERS_PER_WORKER; n++) held += 1 + (n % ORDERS_PER_WORKER) % 3;
    T_EQ(t_cell(e, "sh", "tea").reserved, held);

    /* finish each order from a different worker than the one that reserved it */
    finish_job fj[3];
    for (uint32_t i = 0; i < 3; i++) {
        fj[i] = (finish_job){.first = ((i + 1) % 3) * ORDERS_PER_WORKER,
                             .count = ORDERS_PER_WORKER, .commit_even = true};
        args[i] = &fj[i];
    }
    run_on_all(all, 3, job_finish_many, args);
    workers_stop();

    /* direct mode again: every order has its final state, the cell its exact counts */
    int64_t committed = 0;
    for (uint32_t n = 0; n < 3 * ORDERS_PER_WORKER; n++) {
        char id[24];
        snprintf(id, sizeof id, "fw-%u", n);
        T_STATUS(t_get(e, id), INV_OK);
        inv_resv_state want = n % 2 == 0 ? INV_RESV_COMMITTED : INV_RESV_RELEASED;
        cr_assert_eq(last_op.out.reservation.state, want, "%s", id);
        if (n % 2 == 0) committed += 1 + (n % ORDERS_PER_WORKER) % 3;
    }
    inv_cell_view v = t_cell(e, "sh", "tea");
    T_EQ(v.reserved, 0);
    T_EQ(v.on_hand, 100000 - committed);
    inv_engine_stats st = t_stats(e);
    T_EQU(st.reserves_ok, 3 * ORDERS_PER_WORKER);
    T_EQU(st.commits, 3 * ORDERS_PER_WORKER / 2);
    T_EQU(st.releases, 3 * ORDERS_PER_WORKER / 2);
    T_EQU(st.reservations_live, 0);
}

/* One order's whole life, each step submitted from another worker. */
typedef struct step_job {
    inv_op op;
    inv_line line;
} step_job;

static void job_one(worker *w, void *arg) {
    step_job *j = arg;
    submit_wait(w, &j->op);
}

Test(shard, one_order_across_all_submitters) {
    open_engine(4);
    workers_start(4);
    step_job j;
    op_reserve(&j.op, "roaming", "c", 5, 60000, &j.line);
    run_on(1, job_one, &j);
    T_OP_STATUS(&j.op, INV_OK);
    atomic_store(&aclk.now_ms, T0_MS + 1000);
    memset(&j.op, 0, sizeof j.op);
    j.op.type = INV_OP_EXTEND;
    j.op.in.extend.order_id = "roaming";
    j.op.in.extend.ttl_ms = 120000;
    run_on(2, job_one, &j);
    T_OP_STATUS(&j.op, INV_OK);
    T_EQU(j.op.out.reservation.expires_at_ms, T0_MS + 1000 + 120000);
    op_order(&j.op, INV_OP_GET_RESERVATION, "roaming");
    run_on(3, job_one, &j);
    T_OP_STATUS(&j.op, INV_OK);
    T_EQ(j.op.out.reservation.state, INV_RESV_HELD);
    T_EQU(j.op.out.reservation.alloc[0].qty, 5);
    op_order(&j.op, INV_OP_COMMIT, "roaming");
    run_on(0, job_one, &j);
    T_OP_STATUS(&j.op, INV_OK);
    T_EQ(j.op.out.reservation.state, INV_RESV_COMMITTED);
    op_reserve(&j.op, "roaming", "c", 5, 60000, &j.line); /* retry: tombstone */
    run_on(3, job_one, &j);
    T_OP_STATUS(&j.op, INV_OK);
    cr_assert(j.op.out.reservation.is_tombstone);
    T_EQ(j.op.out.reservation.state, INV_RESV_COMMITTED);
    workers_stop();
    inv_cell_view v = t_cell(e, "sh", "tea");
    T_EQ(v.on_hand, 100000 - 5);
    T_EQ(v.reserved, 0);
}

/* The same ref_id sent at once from several workers is applied exactly once. */
typedef struct ref_job {
    uint32_t refs;
    uint32_t ok, dup;
} ref_job;

static void job_refs(worker *w, void *arg) {
    ref_job *j = arg;
    char ref[24];
    for (uint32_t i = 0; i < j->refs; i++) {
        snprintf(ref, sizeof ref, "sync-%u", i);
        inv_op op;
        memset(&op, 0, sizeof op);
        op.type = i % 2 ? INV_OP_RETURN : INV_OP_ADJUST;
        if (i % 2) {
            op.in.ret.node_id = "bj";
            op.in.ret.sku = "mug";
            op.in.ret.qty = 3;
            op.in.ret.ref_id = ref;
        } else {
            op.in.adjust.node_id = "bj";
            op.in.adjust.sku = "mug";
            op.in.adjust.delta = 5;
            op.in.adjust.ref_id = ref;
        }
        if (!submit_wait(w, &op)) return;
        if (op.status == INV_OK) {
            j->ok++;
        } else if (op.status == INV_DUPLICATE_REF) {
            j->dup++;
        } else {
            worker_fail(w, "%s -> %s %s", ref, inv_status_name(op.status), op.message);
            return;
        }
        W_CHECK(w, op.out.cell.applied_delta == (i % 2 ? 3 : 5), "%s answered applied %lld", ref,
                (long long)op.out.cell.applied_delta);
    }
}

Test(shard, ref_id_applied_once_across_submitters) {
    open_engine(3);
    workers_start(3);
    ref_job rj[3] = {{.refs = 200}, {.refs = 200}, {.refs = 200}};
    void *args[3] = {&rj[0], &rj[1], &rj[2]};
    uint32_t all[3] = {0, 1, 2};
    run_on_all(all, 3, job_refs, args);
    workers_stop();
    T_EQU(rj[0].ok + rj[1].ok + rj[2].ok, 200);
    T_EQU(rj[0].dup + rj[1].dup + rj[2].dup, 400);
    T_EQ(t_cell(e, "bj", "mug").on_hand, 100 * 5 + 100 * 3);
}

/* A catalog change forwarded to shard 0 reaches routing through shard 0's poll. */
typedef struct catalog_job {
    bool upserted;
    uint32_t attempts;
    bool allocated_at_new;
} catalog_job;

static void job_catalog(worker *w, void *arg) {
    catalog_job *j = arg;
    inv_op op;
    memset(&op, 0, sizeof op);
    op.type = INV_OP_UPSERT_NODE;
    op.in.node.node_id = "pudong";
    op.in.node.kind = INV_NODE_WAREHOUSE;
    op.in.node.lat = T_DEST_LAT - 0.01;
    op.in.node.lon = T_DEST_LON + 0.01;
    op.in.node.ships = true;
    op.in.node.status = INV_NODE_ACTIVE;
    if (!submit_wait(w, &op)) return;
    W_CHECK(w, op.status == INV_OK && op.out.node.created, "upsert -> %s",
            inv_status_name(op.status));
    j->upserted = true;
    uint32_t node = op.out.node.node;
    memset(&op, 0, sizeof op);
    op.type = INV_OP_ADJUST; /* no ref: runs here */
    op.in.adjust.node_id = "pudong";
    op.in.adjust.sku = "kite";
    op.in.adjust.delta = 10;
    W_CHECK(w, inv_shard_submit(w->shard, &op) == 1 && op.status == INV_OK, "adjust at pudong");
    /* wait until routing knows the node: a point query lists it */
    uint64_t deadline = test_mono_ms() + WAIT_MS;
    inv_node_avail nodes[4];
    for (;;) {
        memset(&op, 0, sizeof op);
        op.type = INV_OP_GET_AVAILABILITY;
        op.in.availability.sku = "kite";
        op.in.availability.has_point = true;
        op.in.availability.lat = T_DEST_LAT;
        op.in.availability.lon = T_DEST_LON;
        op.in.availability.nodes = nodes;
        op.in.availability.nodes_cap = 4;
        W_CHECK(w, inv_shard_submit(w->shard, &op) == 1 && op.status == INV_OK, "availability");
        j->attempts++;
        if (op.out.availability.node_count == 1) break;
        W_CHECK(w, test_mono_ms() < deadline, "new node never published");
        inv_shard_poll(w->shard, on_done, w);
        sched_yield();
    }
    inv_line line = {"kite", 2};
    memset(&op, 0, sizeof op);
    op.type = INV_OP_RESERVE;
    op.in.reserve.order_id = "kite-1";
    op.in.reserve.customer_id = "c";
    op.in.reserve.dest.has_point = true;
    op.in.reserve.dest.lat = T_DEST_LAT;
    op.in.reserve.dest.lon = T_DEST_LON;
    op.in.reserve.lines = &line;
    op.in.reserve.line_count = 1;
    op.in.reserve.ttl_ms = 60000;
    if (!submit_wait(w, &op)) return;
    W_CHECK(w, op.status == INV_OK, "reserve kite -> %s %s", inv_status_name(op.status),
            op.message);
    j->allocated_at_new = op.out.reservation.alloc_count == 1 &&
                          op.out.reservation.alloc[0].node == node;
}

Test(shard, forwarded_upsert_is_published_by_shard_0) {
    open_engine(3);
    workers_start(3);
    catalog_job j = {0};
    run_on(2, job_catalog, &j);
    workers_stop();
    cr_assert(j.upserted);
    cr_assert(j.allocated_at_new, "the reserve did not ship from the new node");
    T_EQ(t_cell(e, "pudong", "kite").reserved, 2);
    T_EQU(t_stats(e).nodes, 3);
}

/* The owner's poll expires its reservations as the (atomic) clock moves. */
static void job_reserve_short(worker *w, void *arg) {
    step_job *j = arg;
    op_reserve(&j->op, (const char *)j->op.user, "c", 7, 100, &j->line);
    submit_wait(w, &j->op);
}

Test(shard, owner_poll_expires) {
    open_engine(2);
    workers_start(2);
    char id[24] = "";
    uint32_t owner = 0;
    inv_op probe;
    inv_line line;
    for (uint32_t i = 0; i < 100; i++) { /* an order owned by shard 1 */
        snprintf(id, sizeof id, "exp-%u", i);
        op_reserve(&probe, id, "c", 1, 1, &line);
        owner = inv_engine_op_owner(e, &probe, 0);
        if (owner == 1) break;
    }
    T_EQU(owner, 1);
    step_job j;
    j.op.user = id;
    run_on(0, job_reserve_short, &j);
    T_OP_STATUS(&j.op, INV_OK);
    T_EQ(t_cell(e, "sh", "tea").reserved, 7);
    atomic_store(&aclk.now_ms, T0_MS + 100);
    uint64_t deadline = test_mono_ms() + WAIT_MS;
    while (t_cell(e, "sh", "tea").reserved != 0) {
        cr_assert_leq(test_mono_ms(), deadline, "shard 1 never expired its reservation");
        sched_yield();
    }
    op_order(&j.op, INV_OP_GET_RESERVATION, id);
    run_on(0, job_one, &j);
    T_OP_STATUS(&j.op, INV_OK);
    T_EQ(j.op.out.reservation.state, INV_RESV_EXPIRED);
    workers_stop();
    T_EQU(t_stats(e).expirations, 1);
}

/* ====================================================================================
 * Backpressure: -INV_BUSY
 * ==================================================================================== */

#define BUSY_OPS (INV_RING_DEPTH + 8u)

typedef struct busy_job {
    inv_op *ops;
    inv_line *lines;
    pending *ps;
    char (*ids)[24];
    uint32_t accepted;  /* forwarded before the first -INV_BUSY */
    int busy_rc;
    bool busy_op_untouched;
    /* inv_shard_submit_retry against the same full ring */
    int retry_rc;
    uint32_t retry_busy, retry_calls;
} busy_job;

static void count_busy(void *ctx) { ((busy_job *)ctx)->retry_calls++; }

/* Phase 1 (owner paused): push until the ring is full. */
static void job_fill_ring(worker *w, void *arg) {
    busy_job *j = arg;
    for (uint32_t k = 0; k < BUSY_OPS; k++) {
        op_reserve(&j->ops[k], j->ids[k], "c", 1, 600000, &j->lines[k]);
        j->ops[k].status = (inv_status)77; /* untouched marker */
        memset(&j->ps[k], 0, sizeof j->ps[k]);
        j->ops[k].user = &j->ps[k];
        int rc = inv_shard_submit(w->shard, &j->ops[k]);
        if (rc == 0) {
            j->accepted++;
            continue;
        }
        j->busy_rc = rc;
        j->retry_rc = inv_shard_submit_retry(w->shard, &j->ops[k], 3, count_busy, j, &j->retry_busy);
        j->busy_op_untouched = j->ops[k].status == (inv_status)77;
        return;
    }
}

/* Phase 2 (owner running): collect the accepted, then submit the rest. */
static void job_drain_ring(worker *w, void *arg) {
    busy_job *j = arg;
    if (!wait_done(w, j->ps, j->accepted)) return;
    for (uint32_t k = j->accepted; k < BUSY_OPS; k++) {
        if (k > j->accepted) op_reserve(&j->ops[k], j->ids[k], "c", 1, 600000, &j->lines[k]);
        int rc = submit(w, &j->ops[k], &j->ps[k]);
        W_CHECK(w, rc == 0, "resubmit %u -> %d", k, rc);
    }
    if (!wait_done(w, j->ps, BUSY_OPS)) return;
    for (uint32_t k = 0; k < BUSY_OPS; k++) {
        W_CHECK(w, atomic_load(&j->ps[k].done) == 1, "%s completed %d times", j->ids[k],
                atomic_load(&j->ps[k].done));
        W_CHECK(w, j->ops[k].status == INV_OK, "%s -> %s %s", j->ids[k],
                inv_status_name(j->ops[k].status), j->ops[k].message);
    }
}

Test(shard, busy_when_the_ring_to_a_stalled_owner_is_full) {
    open_engine(2);
    workers_start(2);
    busy_job j;
    memset(&j, 0, sizeof j);
    j.ops = calloc(BUSY_OPS, sizeof *j.ops);
    j.lines = calloc(BUSY_OPS, sizeof *j.lines);
    j.ps = calloc(BUSY_OPS, sizeof *j.ps);
    j.ids = calloc(BUSY_OPS, sizeof *j.ids);
    cr_assert(j.ops && j.lines && j.ps && j.ids);
    /* orders owned by shard 1, submitted from shard 0 */
    inv_op probe;
    inv_line line;
    uint32_t found = 0;
    for (uint32_t i = 0; found < BUSY_OPS && i < 100 * BUSY_OPS; i++) {
        snprintf(j.ids[found], sizeof j.ids[found], "busy-%u", i);
        op_reserve(&probe, j.ids[found], "c", 1, 1, &line);
        if (inv_engine_op_owner(e, &probe, 0) == 1) found++;
    }
    T_EQU(found, BUSY_OPS);

    set_pause(1, true);
    run_on(0, job_fill_ring, &j);
    T_EQU(j.accepted, INV_RING_DEPTH);
    T_EQ(j.busy_rc, -INV_BUSY);
    cr_assert(j.busy_op_untouched, "an op refused with -INV_BUSY was run anyway");
    T_EQ(j.retry_rc, -INV_BUSY);
    T_EQU(j.retry_busy, 3);
    T_EQU(j.retry_calls, 3); /* the caller's poll ran between the attempts */
    T_EQ(t_cell(e, "sh", "tea").reserved, 0); /* nothing ran: the owner is stalled */

    set_pause(1, false);
    run_on(0, job_drain_ring, &j);
    workers_stop();
    T_EQ(t_cell(e, "sh", "tea").reserved, BUSY_OPS);
    T_EQU(t_stats(e).reservations_live, BUSY_OPS);
    for (uint32_t k = 0; k < BUSY_OPS; k += 257) {
        T_STATUS(t_get(e, j.ids[k]), INV_OK);
        T_EQ(last_op.out.reservation.state, INV_RESV_HELD);
    }
    free(j.ops);
    free(j.lines);
    free(j.ps);
    free(j.ids);
}

/* ====================================================================================
 * Regression: the sold-out fast path read each SKU's flag twice
 * ==================================================================================== */

/* Bug pinned: resv.c reserve_sold_out() decided "sold out" from one read of each line's
 * SKU flag and filled shortfall[] from a second read; a flag lowered in between (a
 * release, a restock, or the transient raise-then-recheck of sku_mark_sold_out on another
 * shard) gave INSUFFICIENT_STOCK with every shortfall 0 (seen in test_stress). White-box:
 * a plain thread flips the SKU's flag (an atomic) as fast as it can while this thread
 * reserves, in direct mode, an order whose first line is that SKU and whose 23 other
 * lines widen the window between the reads. Stock is plentiful, so the only way to be
 * refused is the fast path, and then the answer must name line 0 as short. */
#define FLAP_LINES 24u
static _Atomic bool flipping;
static uint64_t flips; /* flipper thread only until joined */

static void *flag_flipper(void *arg) {
    sku_rec *r = arg;
    for (uint64_t n = 0; n < 500000000u && atomic_load_explicit(&flipping, memory_order_relaxed);
         n++) {
        /* hold each state a little while: back-to-back stores are never seen apart */
        atomic_store(&r->sold_out, 1);
        for (volatile uint32_t k = 0; k < 64; k++) {
        }
        atomic_store(&r->sold_out, 0);
        for (volatile uint32_t k = 0; k < 64; k++) {
        }
        flips++;
    }
    return NULL;
}

Test(shard, regression_sold_out_fast_path_reads_each_flag_once) {
    open_engine(1);
    static char names[FLAP_LINES][16];
    inv_line lines[FLAP_LINES];
    snprintf(names[0], sizeof names[0], "flap");
    for (uint32_t k = 0; k < FLAP_LINES; k++) {
        if (k > 0) snprintf(names[k], sizeof names[k], "plenty-%u", k);
        T_STATUS(t_adjust(e, "sh", names[k], 1000000), INV_OK);
        lines[k] = (inv_line){names[k], 1};
    }
    atomic_store(&flipping, true);
    pthread_t flipper;
    cr_assert_eq(pthread_create(&flipper, NULL, flag_flipper, sku_at(e, t_sku(e, "flap"))), 0);
    uint32_t refused = 0, bad = 0, ok = 0;
    uint64_t until = test_mono_ms() + 1500;
    char id[24];
    for (uint32_t i = 0; i < 200000 && test_mono_ms() < until; i++) {
        inv_op op;
        snprintf(id, sizeof id, "probe-%u", i);
        op_reserve(&op, id, "c", 1, 60000, &lines[0]); /* (sets line 0 to tea) */
        lines[0] = (inv_line){names[0], 1};
        op.in.reserve.lines = lines;
        op.in.reserve.line_count = FLAP_LINES;
        inv_status st = inv_engine_execute(e, &op);
        if (st == INV_OK) {
            ok++;
            inv_op rel;
            op_order(&rel, INV_OP_RELEASE, id);
            if (inv_engine_execute(e, &rel) != INV_OK) break;
            continue;
        }
        if (st != INV_INSUFFICIENT_STOCK) break;
        refused++;
        bad += op.out.reservation.shortfall[0] != 1;
        for (uint32_t k = 1; k < FLAP_LINES; k++) bad += op.out.reservation.shortfall[k] != 0;
    }
    atomic_store(&flipping, false);
    pthread_join(flipper, NULL);
    cr_log_info("flag flips: %llu; %u reserves refused, %u placed", (unsigned long long)flips,
                refused, ok);
    cr_assert_eq(bad, 0, "%u of %u refusals named the wrong lines as short", bad, refused);
    cr_assert_gt(refused, 0, "the flipping flag was never seen");
    cr_assert_gt(ok, 0, "no reserve ever got through");
    T_EQ(t_cell(e, "sh", "flap").reserved, 0);
}

/* ====================================================================================
 * Lost races: a reserve whose planned units keep being taken
 * ==================================================================================== */

/* A reserve plans against the stock it reads, then takes it with a CAS; if another shard
 * took the units in between it re-plans, up to INV_RESERVE_ATTEMPTS_MAX times. Whatever
 * happened, a refusal must still be INSUFFICIENT_STOCK naming the short line (DESIGN.md
 * §3 "INSUFFICIENT_STOCK (with per-line shortfall)"), and nothing may stay taken.
 * White-box: a plain thread takes and gives back every unit of the only cell as fast as
 * it can (stock_take / stock_untake of all 10 units, as another shard's reserve and
 * release do), while this thread reserves one unit in direct mode. */
static _Atomic bool hogging;
static uint64_t hogs; /* hog thread only until joined */
static const uint32_t hog_hold = 32, hog_free = 32; /* spin iterations */

static uint32_t hog_cell;

static void *stock_hog(void *arg) {
    inv_engine *eng = arg;
    for (uint64_t n = 0; n < 500000000u && atomic_load_explicit(&hogging, memory_order_relaxed);
         n++) {
        /* what another shard's reserve and release of all 10 units do to the cell */
        if (stock_take(eng, hog_cell, 10)) {
            for (volatile uint32_t k = 0; k < hog_hold; k++) {
            }
            stock_untake(eng, hog_cell, 10);
        }
        for (volatile uint32_t k = 0; k < hog_free; k++) {
        }
        hogs++;
    }
    return NULL;
}

Test(shard, lost_races_still_report_the_shortfall) {
    open_engine(1);
    T_STATUS(t_adjust(e, "bj", "contended", 10), INV_OK);
    hog_cell = stock_find(e, t_sku(e, "contended"), t_node(e, "bj"));
    cr_assert_neq(hog_cell, INV_NONE);
    atomic_store(&hogging, true);
    pthread_t hog;
    cr_assert_eq(pthread_create(&hog, NULL, stock_hog, e), 0);
    uint32_t ok = 0, refused = 0, no_shortfall = 0;
    char first_bad[INV_MESSAGE_LEN_MAX] = "";
    uint64_t until = test_mono_ms() + 1000;
    char id[24];
    inv_line line;
    for (uint32_t i = 0; i < 300000 && test_mono_ms() < until; i++) {
        inv_op op;
        snprintf(id, sizeof id, "race-%u", i);
        op_reserve(&op, id, "c", 1, 60000, &line);
        line.sku = "contended";
        inv_status st = inv_engine_execute(e, &op);
        if (st == INV_OK) {
            ok++;
            inv_op rel;
            op_order(&rel, INV_OP_RELEASE, id);
            if (inv_engine_execute(e, &rel) != INV_OK) break;
            continue;
        }
        cr_assert(st == INV_INSUFFICIENT_STOCK, "%s -> %s", id, inv_status_name(st));
        refused++;
        if (op.out.reservation.shortfall[0] != 1 && no_shortfall++ == 0)
            snprintf(first_bad, sizeof first_bad, "%s", op.message);
    }
    atomic_store(&hogging, false);
    pthread_join(hog, NULL);
    cr_log_info("contended: %llu hogs; %u placed, %u refused", (unsigned long long)hogs, ok,
                refused);
    cr_assert_eq(no_shortfall, 0, "%u of %u refusals without the shortfall (\"%s\")",
                 no_shortfall, refused, first_bad);
    cr_assert_gt(ok, 0);
    cr_assert_gt(refused, 0);
    inv_cell_view v = t_cell(e, "bj", "contended");
    T_EQ(v.reserved, 0);
    T_EQ(v.on_hand, 10);
}
