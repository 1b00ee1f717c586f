/*
 * test_crash.c — the kill -9 loop (DESIGN.md §10.3).
 *
 * Each round forks a child that recovers the engine from the directory, starts one
 * thread per shard, and runs random mixed load through the threaded API (reserves with
 * long and short TTLs, commits, releases, restocking adjusts with ref_ids; ops cross
 * shards over the SPSC rings), while shard 0's thread takes snapshots every few tens of
 * milliseconds (shards parked at a barrier, fork, GC of old segments). A reply counts as
 * sent — "acknowledged" — only once inv_persist_reply_ready() says its record is durable
 * and inv_persist_deps_ready() says every record it could have seen on any shard is;
 * the child then writes it to a pipe. The parent kills the child with SIGKILL at a
 * random moment, recovers the directory itself and checks:
 *   - recovery is never refused;
 *   - every acknowledged reserve exists (a failed one does not), every acknowledged
 *     commit is COMMITTED, every acknowledged release RELEASED, every acknowledged
 *     ref_id is remembered;
 *   - §10 invariants: for every cell available == on_hand − reserved − safety, reserved
 *     == Σ qty of HELD reservations on it (all possible order ids are enumerated and the
 *     count of HELD ones must match the engine's live count), available ≥ 0, on_hand ≥ 0.
 * Rounds: INV_CRASH_ROUNDS (default 30); the crash_soak target runs 500. Rounds 1 and 3
 * of every 4 space group commits (batch_interval_us 200 and 1000 µs), the others submit
 * each batch as soon as the previous one is durable.
 */
#include <assert.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <time.h>

#include "test_wal_engine.h"

/* Shards of the child engine: INV_CRASH_SHARDS (1 or 2), default 2, so ops cross
 * shards: a reserve on one shard may use units a release or restock on the other gave
 * back, and a reply waits for every record its op could have seen on either shard
 * (inv_persist.h, cross-shard causality). Units come back only once the record that
 * frees them is durable (engine/src/credit.c), so no durable record ever depends on a
 * lost one and a recovered cell is never over-committed. The deterministic regressions
 * are in test_recovery_engine. */
#define SHARDS_MAX 2u
static uint32_t crash_shards(void) {
    const char *s = getenv("INV_CRASH_SHARDS");
    return s != NULL && strcmp(s, "1") == 0 ? 1u : 2u;
}
#define SHARDS crash_shards()
#define SLOTS 64u                  /* ops in flight per thread (W) */
#define HELD_MAX 8192u
#define NEW_PER_PASS 8u
#define MSGS_PER_WRITE 128u        /* 24-byte messages: one write stays under PIPE_BUF */
#define CHILD_RUN_MS_MAX 20000u
#define SNAPSHOT_EVERY_MS 25u
#define CRASH_NODES 4u
#define CRASH_SKUS 6u
#define VERIFY_ACK_ROUNDS 20u      /* finished orders and refs are checked this far back */
#define CHILD_EXIT_RECOVERY 3

_Static_assert(MSGS_PER_WRITE * 24u <= 4096u, "one write is atomic (PIPE_BUF)");

enum { MSG_READY = 1, MSG_RESERVE, MSG_COMMIT, MSG_RELEASE, MSG_ADJUST };

typedef struct crash_msg {
    uint8_t kind, status, thread, pad;
    uint32_t seq;      /* order seq (reserve/commit/release) or ref seq (adjust) */
    uint32_t round;
    uint32_t lsn_shard;
    uint64_t lsn;
} crash_msg;
_Static_assert(sizeof(crash_msg) == 24, "message size");

static const char *const crash_nodes[CRASH_NODES] = {"WH-1", "WH-2", "ST-3", "ST-4"};
static const double crash_pos[CRASH_NODES][2] = {
    {31.20, 121.40}, {31.30, 121.10}, {31.25, 121.50}, {31.10, 121.30}};
static const char *const crash_skus[CRASH_SKUS] = {"S-A", "S-B", "S-C", "S-D", "S-E", "S-F"};

static void order_name(char *out, size_t n, uint32_t round, uint32_t thread, uint32_t seq) {
    snprintf(out, n, "k%u-%u-%u", round, thread, seq);
}
static void ref_name(char *out, size_t n, uint32_t round, uint32_t thread, uint32_t seq) {
    snprintf(out, n, "f%u-%u-%u", round, thread, seq);
}

/* ====================================================================================
 * The child: shard threads under load
 * ==================================================================================== */

typedef struct slot {
    inv_op op;
    char order_id[32], customer[16], ref[32];
    inv_line lines[2];
    uint8_t kind;
    uint32_t seq;
    int state; /* 0 free, 1 to submit, 2 in the engine, 3 waiting for durability */
    inv_persist_deps deps; /* state 3: what the op could have seen on every shard */
} slot;

typedef struct crash_child crash_child;

typedef struct worker {
    crash_child *c;
    uint32_t t;
    inv_shard *s;
    slot slots[SLOTS];
    uint32_t order_seq, ref_seq;
    uint32_t held[HELD_MAX];
    uint32_t held_count;
    uint64_t rng;
    crash_msg out[MSGS_PER_WRITE];
    uint32_t out_n;
    uint64_t last_snapshot_ms;
} worker;

struct crash_child {
    inv_engine *e;
    inv_persist *p;
    uint32_t round;
    int fd;
    _Atomic uint32_t pause_req, parked;
    _Atomic int stop;
    worker w[SHARDS_MAX];
};

static uint32_t rnd(worker *w, uint32_t n) {
    w->rng ^= w->rng << 13;
    w->rng ^= w->rng >> 7;
    w->rng ^= w->rng << 17;
    return (uint32_t)(w->rng % n);
}

static void out_flush(worker *w) {
    if (w->out_n == 0) return;
    size_t len = w->out_n * sizeof(crash_msg);
    if (write(w->c->fd, w->out, len) != (ssize_t)len) _exit(4);
    w->out_n = 0;
}

static void out_push(worker *w, const crash_msg *m) {
    if (w->out_n == MSGS_PER_WRITE) out_flush(w);
    w->out[w->out_n++] = *m;
}

static void build_reserve(worker *w, slot *sl) {
    sl->kind = MSG_RESERVE;
    sl->seq = w->order_seq++;
    order_name(sl->order_id, sizeof sl->order_id, w->c->round, w->t, sl->seq);
    snprintf(sl->customer, sizeof sl->customer, "c%u", rnd(w, 50));
    uint32_t nl = 1 + rnd(w, 2), first = rnd(w, CRASH_SKUS);
    for (uint32_t l = 0; l < nl; l++) {
        sl->lines[l].sku = crash_skus[(first + l) % CRASH_SKUS];
        sl->lines[l].qty = 1 + rnd(w, 3);
    }
    inv_reserve_args *a = &sl->op.in.reserve;
    sl->op.type = INV_OP_RESERVE;
    a->order_id = sl->order_id;
    a->customer_id = sl->customer;
    a->dest.has_point = true;
    a->dest.lat = 31.23;
    a->dest.lon = 121.47;
    a->lines = sl->lines;
    a->line_count = nl;
    a->ttl_ms = rnd(w, 5) == 0 ? 300 : 3600000;
    a->policy = INV_ROUTE_NEAREST;
}

/* Fill a free slot with a random op. */
static void build_op(worker *w, slot *sl) {
    memset(&sl->op, 0, sizeof sl->op);
    sl->op.user = sl;
    uint32_t r = rnd(w, 100);
    if ((r < 20 || (r < 35 && w->held_count > 0)) && w->held_count > 0) {
        uint32_t i = rnd(w, w->held_count);
        sl->seq = w->held[i];
        w->held[i] = w->held[--w->held_count];
        sl->kind = r < 12 ? MSG_COMMIT : MSG_RELEASE;
        order_name(sl->order_id, sizeof sl->order_id, w->c->round, w->t, sl->seq);
        sl->op.type = sl->kind == MSG_COMMIT ? INV_OP_COMMIT : INV_OP_RELEASE;
        sl->op.in.order.order_id = sl->order_id;
    } else if (r < 70) {
        build_reserve(w, sl);
    } else {
        sl->kind = MSG_ADJUST;
        sl->seq = w->ref_seq++;
        ref_name(sl->ref, sizeof sl->ref, w->c->round, w->t, sl->seq);
        sl->op.type = INV_OP_ADJUST;
        sl->op.in.adjust.node_id = crash_nodes[rnd(w, CRASH_NODES)];
        sl->op.in.adjust.sku = crash_skus[rnd(w, CRASH_SKUS)];
        sl->op.in.adjust.delta = 3 + rnd(w, 10);
        sl->op.in.adjust.ref_id = sl->ref;
    }
    sl->state = 1;
}

/* The op finished: its reply waits for its own record and for every record of any
 * shard it could have seen (inv_persist.h, cross-shard causality). */
static void slot_finished(worker *w, slot *sl) {
    inv_persist_deps_capture(w->c->p, &sl->deps);
    sl->state = 3;
}

static void on_done(void *ctx, inv_op *op) {
    slot *sl = op->user;
    assert(sl->state == 2);
    slot_finished(ctx, sl);
}

static void submit_slots(worker *w) {
    uint32_t fresh = 0;
    for (uint32_t i = 0; i < SLOTS; i++) {
        slot *sl = &w->slots[i];
        if (sl->state == 0 && fresh < NEW_PER_PASS) {
            build_op(w, sl);
            fresh++;
        }
        if (sl->state != 1) continue;
        int rc = inv_shard_submit(w->s, &sl->op);
        if (rc == 1) slot_finished(w, sl);
        else if (rc == 0) sl->state = 2;
    }
}

/* Replies whose records are durable leave: tell the parent. */
static void ack_durable(worker *w) {
    for (uint32_t i = 0; i < SLOTS; i++) {
        slot *sl = &w->slots[i];
        if (sl->state != 3 || !inv_persist_reply_ready(w->c->p, sl->op.lsn_shard, sl->op.lsn) ||
            !inv_persist_deps_ready(w->c->p, &sl->deps))
            continue;
        crash_msg m = {.kind = sl->kind, .status = (uint8_t)sl->op.status, .thread = (uint8_t)w->t,
                       .seq = sl->seq, .round = w->c->round, .lsn_shard = sl->op.lsn_shard,
                       .lsn = sl->op.lsn};
        out_push(w, &m);
        if (sl->kind == MSG_RESERVE && sl->op.status == INV_OK && w->held_count < HELD_MAX)
            w->held[w->held_count++] = sl->seq;
        sl->state = 0;
    }
    out_flush(w);
}

static void park_if_asked(crash_child *c) {
    if (!atomic_load(&c->pause_req)) return;
    atomic_fetch_add(&c->parked, 1);
    for (uint32_t i = 0; i < 100000000u && atomic_load(&c->pause_req); i++) sched_yield();
    atomic_fetch_sub(&c->parked, 1);
}

/* Shard 0's thread: every SNAPSHOT_EVERY_MS, park the others and start a snapshot. */
static void maybe_snapshot(worker *w) {
    crash_child *c = w->c;
    inv_persist_snapshot_poll(c->p);
    uint64_t now = test_mono_ms();
    if (now - w->last_snapshot_ms < SNAPSHOT_EVERY_MS) return;
    w->last_snapshot_ms = now;
    atomic_store(&c->pause_req, 1);
    for (uint32_t i = 0; i < 100000000u && atomic_load(&c->parked) != SHARDS - 1; i++) sched_yield();
    int rc = inv_persist_snapshot_start(c->p, c->e);
    atomic_store(&c->pause_req, 0);
    if (rc != 0 && rc != -EBUSY) _exit(5);
}

static void *worker_main(void *arg) {
    worker *w = arg;
    crash_child *c = w->c;
    inv_wal *wal = inv_persist_wal(c->p, w->t);
    uint64_t start = test_mono_ms();
    w->last_snapshot_ms = start;
    for (uint64_t pass = 0; !atomic_load(&c->stop); pass++) {
        if (w->t != 0) park_if_asked(c);
        inv_persist_pass_enter(c->p, w->t);
        submit_slots(w);
        inv_shard_poll(w->s, on_done, w);
        inv_wal_flush(wal);
        inv_persist_pass_settle(c->p, w->t);
        ack_durable(w);
        if (w->t == 0) maybe_snapshot(w);
        if ((pass & 1023u) == 0 && test_mono_ms() - start > CHILD_RUN_MS_MAX)
            atomic_store(&c->stop, 1);
    }
    return NULL;
}

static void child_setup_catalog(inv_engine *e, inv_persist *p) {
    for (uint32_t n = 0; n < CRASH_NODES; n++)
        if (t_upsert_node(e, crash_nodes[n], n < 2 ? INV_NODE_WAREHOUSE : INV_NODE_STORE,
                          crash_pos[n][0], crash_pos[n][1], 0, n) != INV_OK)
            _exit(6);
    for (uint32_t n = 0; n < CRASH_NODES; n++)
        for (uint32_t k = 0; k < CRASH_SKUS; k++)
            if (t_adjust(e, crash_nodes[n], crash_skus[k], 300) != INV_OK) _exit(6);
    if (t_set_safety(e, crash_nodes[2], crash_skus[0], 5) != INV_OK) _exit(6);
    inv_persist_sync(p);
}

static _Noreturn void child_main(const char *dir, uint32_t round, int fd,
                                 const inv_persist_options *o) {
    static crash_child c;
    c.round = round;
    c.fd = fd;
    int rc = -EBUSY;
    for (int i = 0; i < 400 && rc == -EBUSY; i++) {
        rc = inv_persist_open(&c.p, dir, SHARDS, o);
        if (rc == -EBUSY) usleep(5000);
    }
    if (rc != 0) _exit(CHILD_EXIT_RECOVERY);
    inv_engine_config cfg;
    inv_engine_config_default(&cfg);
    cfg.shards = SHARDS;
    cfg.journal = inv_persist_journal(c.p);
    if (inv_engine_open(&c.e, &cfg) != 0) _exit(CHILD_EXIT_RECOVERY);
    char err[512];
    if (inv_persist_recover(c.p, c.e, NULL, err, sizeof err) != 0) {
        fprintf(stderr, "crash child: recovery refused: %s\n", err);
        _exit(CHILD_EXIT_RECOVERY);
    }
    if (t_stats(c.e).nodes == 0) child_setup_catalog(c.e, c.p);
    pthread_t th[SHARDS_MAX];
    for (uint32_t t = 0; t < SHARDS; t++) {
        c.w[t].c = &c;
        c.w[t].t = t;
        c.w[t].s = inv_engine_shard(c.e, t);
        c.w[t].rng = 0x9e3779b97f4a7c15ull * (round * SHARDS + t + 1);
        pthread_create(&th[t], NULL, worker_main, &c.w[t]);
    }
    crash_msg ready = {.kind = MSG_READY, .round = round};
    if (write(fd, &ready, sizeof ready) != (ssize_t)sizeof ready) _exit(4);
    for (uint32_t t = 0; t < SHARDS; t++) pthread_join(th[t], NULL);
    _exit(0); /* ran out of time without being killed */
}

/* ====================================================================================
 * The parent: kill, recover, verify
 * ==================================================================================== */

typedef struct acks {
    crash_msg *m;
    size_t n, cap;
} acks;

static void acks_add(acks *a, const crash_msg *m) {
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 4096;
        a->m = realloc(a->m, a->cap * sizeof *a->m);
        cr_assert_not_null(a->m);
    }
    a->m[a->n++] = *m;
}

/* Read whole messages from fd until `deadline_ms` (or EOF); returns false on EOF. */
static bool pipe_read_until(int fd, acks *a, uint64_t deadline_ms, bool until_ready,
                            bool *ready, unsigned char *part, size_t *part_n) {
    for (uint32_t guard = 0; guard < 1000000u; guard++) {
        uint64_t now = test_mono_ms();
        if (deadline_ms != UINT64_MAX && now >= deadline_ms) return true;
        int to = deadline_ms == UINT64_MAX ? 1000 : (int)(deadline_ms - now);
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, to) <= 0) continue;
        ssize_t n = read(fd, part + *part_n, 4096);
        if (n <= 0) return false;
        *part_n += (size_t)n;
        size_t whole = *part_n / sizeof(crash_msg);
        for (size_t i = 0; i < whole; i++) {
            crash_msg m;
            memcpy(&m, part + i * sizeof m, sizeof m);
            if (m.kind == MSG_READY) *ready = true;
            else acks_add(a, &m);
        }
        memmove(part, part + whole * sizeof(crash_msg), *part_n - whole * sizeof(crash_msg));
        *part_n -= whole * sizeof(crash_msg);
        if (until_ready && *ready) return true;
    }
    return true;
}

static uint32_t env_rounds(void) {
    const char *s = getenv("INV_CRASH_ROUNDS");
    long v = s ? strtol(s, NULL, 10) : 0;
    return v > 0 ? (uint32_t)v : 30u;
}

/* One round: fork, wait for READY, run a random while, SIGKILL, collect acks. */
static void crash_round(const char *dir, uint32_t round, const inv_persist_options *o, acks *a,
                        uint64_t *rng) {
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        child_main(dir, round, fds[1], o);
    }
    close(fds[1]);
    static unsigned char part[8192];
    size_t part_n = 0;
    bool ready = false;
    pipe_read_until(fds[0], a, test_mono_ms() + 60000, true, &ready, part, &part_n);
    *rng = *rng * 6364136223846793005ull + 1442695040888963407ull;
    uint64_t run_ms = 5 + (*rng >> 33) % 150;
    bool alive = ready && pipe_read_until(fds[0], a, test_mono_ms() + run_ms, false, &ready, part,
                                          &part_n);
    kill(pid, SIGKILL);
    pipe_read_until(fds[0], a, UINT64_MAX, false, &ready, part, &part_n); /* drain to EOF */
    close(fds[0]);
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(ready, "round %u: the child never became ready (status %d, exit %d)", round,
              status, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    cr_assert(alive && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
              "round %u: the child died by itself (status 0x%x)", round, status);
}

typedef struct cell_sum {
    int64_t reserved[CRASH_SKUS][CRASH_NODES];
} cell_sum;

/* Enumerate every order id a child may have created; sum HELD allocations. */
static uint64_t verify_held(inv_engine *e, const acks *a, uint32_t rounds, cell_sum *sum) {
    uint64_t held = 0;
    uint32_t *reserves = calloc((size_t)rounds * SHARDS, sizeof *reserves);
    for (size_t i = 0; i < a->n; i++)
        if (a->m[i].kind == MSG_RESERVE) reserves[a->m[i].round * SHARDS + a->m[i].thread]++;
    char id[32];
    for (uint32_t r = 0; r < rounds; r++)
        for (uint32_t t = 0; t < SHARDS; t++)
            for (uint32_t seq = 0; seq < reserves[r * SHARDS + t] + SLOTS; seq++) {
                order_name(id, sizeof id, r, t, seq);
                if (t_get(e, id) != INV_OK || last_op.out.reservation.state != INV_RESV_HELD) continue;
                held++;
                const inv_reservation_view *v = &last_op.out.reservation;
                for (uint32_t k = 0; k < v->alloc_count; k++) {
                    uint32_t sku = 0, node = 0;
                    for (; sku < CRASH_SKUS && strcmp(crash_skus[sku], inv_engine_sku_name(e, v->alloc[k].sku)); sku++) {}
                    for (; node < CRASH_NODES && strcmp(crash_nodes[node], inv_engine_node_id(e, v->alloc[k].node)); node++) {}
                    cr_assert(sku < CRASH_SKUS && node < CRASH_NODES);
                    sum->reserved[sku][node] += v->alloc[k].qty;
                }
            }
    free(reserves);
    return held;
}

static void verify_cells(inv_engine *e, const cell_sum *sum, uint32_t round) {
    for (uint32_t k = 0; k < CRASH_SKUS; k++)
        for (uint32_t n = 0; n < CRASH_NODES; n++) {
            inv_cell_view v = t_cell(e, crash_nodes[n], crash_skus[k]);
            cr_assert_eq(v.available, v.on_hand - v.reserved - v.safety, "round %u", round);
            cr_assert_eq(v.reserved, sum->reserved[k][n], "round %u: %s@%s reserved %lld, HELD "
                         "reservations hold %lld", round, crash_skus[k], crash_nodes[n],
                         (long long)v.reserved, (long long)sum->reserved[k][n]);
            cr_assert_geq(v.available, 0, "round %u: oversold %s@%s", round, crash_skus[k],
                          crash_nodes[n]);
            cr_assert_geq(v.on_hand, 0);
        }
}

/* Every acknowledged op of the last VERIFY_ACK_ROUNDS rounds is in the recovered state. */
static void verify_acks(inv_engine *e, const acks *a, uint32_t rounds) {
    char id[32];
    uint32_t from = rounds > VERIFY_ACK_ROUNDS ? rounds - VERIFY_ACK_ROUNDS : 0;
    for (size_t i = 0; i < a->n; i++) {
        const crash_msg *m = &a->m[i];
        if (m->round < from) continue;
        if (m->kind == MSG_ADJUST) {
            if (m->status != INV_OK) continue;
            ref_name(id, sizeof id, m->round, m->thread, m->seq);
            continue; /* checked in verify_refs, after the read-only checks */
        }
        order_name(id, sizeof id, m->round, m->thread, m->seq);
        inv_status s = t_get(e, id);
        inv_resv_state st = last_op.out.reservation.state;
        if (m->kind == MSG_RESERVE && m->status != INV_OK)
            cr_assert_eq(s, INV_NOT_FOUND, "failed reserve %s exists after recovery", id);
        else if (m->kind == MSG_RESERVE)
            cr_assert_eq(s, INV_OK, "acknowledged reserve %s (LSN %llu of shard %u) lost", id,
                         (unsigned long long)m->lsn, m->lsn_shard);
        else if (m->kind == MSG_COMMIT && m->status == INV_OK)
            cr_assert(s == INV_OK && st == INV_RESV_COMMITTED, "acknowledged commit of %s lost "
                      "(%s, state %s)", id, inv_status_name(s), inv_resv_state_name(st));
        else if (m->kind == MSG_RELEASE && m->status == INV_OK)
            cr_assert(s == INV_OK && st == INV_RESV_RELEASED, "acknowledged release of %s lost "
                      "(%s, state %s)", id, inv_status_name(s), inv_resv_state_name(st));
    }
}

/* Acknowledged ref_ids are remembered (re-applying changes nothing). */
static void verify_refs(inv_engine *e, const acks *a, uint32_t rounds) {
    char id[32];
    uint32_t from = rounds > VERIFY_ACK_ROUNDS ? rounds - VERIFY_ACK_ROUNDS : 0;
    for (size_t i = 0; i < a->n; i++) {
        const crash_msg *m = &a->m[i];
        if (m->kind != MSG_ADJUST || m->status != INV_OK || m->round < from) continue;
        ref_name(id, sizeof id, m->round, m->thread, m->seq);
        inv_status s = t_adjust_ref(e, crash_nodes[0], crash_skus[0], 1, id);
        cr_assert(s == INV_DUPLICATE_REF || s == INV_CONFLICT,
                  "acknowledged adjust %s forgotten: %s", id, inv_status_name(s));
    }
}

static void verify(const char *dir, const acks *a, uint32_t rounds, const inv_persist_options *o) {
    inv_persist *p = NULL;
    int rc = -EBUSY;
    for (int i = 0; i < 400 && rc == -EBUSY; i++) { /* a dying snapshot child may hold LOCK */
        rc = inv_persist_open(&p, dir, SHARDS, o);
        if (rc == -EBUSY) usleep(5000);
    }
    cr_assert_eq(rc, 0, "open: %s", strerror(-rc));
    inv_engine_config cfg;
    inv_engine_config_default(&cfg);
    cfg.shards = SHARDS;
    cfg.journal = inv_persist_journal(p);
    inv_engine *e = test_engine_open_config(&cfg);
    char err[512] = "";
    inv_recovery_report rep;
    rc = inv_persist_recover(p, e, &rep, err, sizeof err);
    cr_assert_eq(rc, 0, "after round %u: recovery refused: %s", rounds - 1, err);
    cell_sum sum;
    memset(&sum, 0, sizeof sum);
    uint64_t held = verify_held(e, a, rounds, &sum);
    cr_assert_eq(held, t_stats(e).reservations_live, "round %u: %llu HELD found by id, engine "
                 "has %llu live", rounds - 1, (unsigned long long)held,
                 (unsigned long long)t_stats(e).reservations_live);
    verify_cells(e, &sum, rounds - 1);
    verify_acks(e, a, rounds);
    verify_refs(e, a, rounds);
    te_stop(p, e);
}

Test(crash, kill9_loop_keeps_every_acknowledged_op, .timeout = 900) {
    tw_require_uring();
    char dir[TW_PATH_MAX];
    tw_dir_make(dir);
    inv_persist_options o;
    tw_options(&o, 1u << 20);
    o.batch_bytes = 256u << 10;
    uint32_t rounds = env_rounds();
    acks a = {0};
    uint64_t rng = (uint64_t)time(NULL);
    fprintf(stderr, "crash: %u rounds, seed %llu, dir %s\n", rounds, (unsigned long long)rng, dir);
    size_t acked_before = 0;
    /* Every other round spaces its group commits (batch_interval_us): a batch held back
     * for the interval must be as safe to lose as one in flight. */
    static const uint32_t interval_us[4] = {0, 200, 0, 1000};
    for (uint32_t r = 0; r < rounds; r++) {
        inv_persist_options ro = o;
        ro.batch_interval_us = interval_us[r % 4];
        crash_round(dir, r, &ro, &a, &rng);
        verify(dir, &a, r + 1, &o);
        if (r % 10 == 9 || r + 1 == rounds)
            fprintf(stderr, "crash: round %u: %zu acknowledged ops so far\n", r, a.n);
        (void)acked_before;
    }
    cr_assert_gt(a.n, rounds * 10u, "too few acknowledged ops to mean anything");
    inv_check_report chk;
    cr_assert_eq(inv_persist_check(dir, NULL, &chk), 0, "%s", chk.message);
    free(a.m);
    tw_dir_remove(dir);
}
