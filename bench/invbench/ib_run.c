/*
 * ib_run.c — invbench's run engine: one thread per connection drives a system under test
 * through the phases, pipelined, closed loop or open loop, and records what came back.
 *
 * Timing. Phases follow each other on one clock started when every connection is up.
 * Closed loop ("max"): a connection keeps `depth` requests in flight; latency is submit
 * → reply. Open loop (a rate): connection i sends its k-th request of a phase at the
 * intended time  phase_start + (k + i/connections) · connections/rate.  A request whose
 * time has come but finds the pipeline full waits, and its latency still counts from
 * the intended time: a stalled server is charged for the queue it caused (no coordinated
 * omission). The flash-sale opening is a thundering herd: every connection goes quiet
 * for IB_HERD_GAP_MS before the opening, then fires `depth` reserves on the flash SKUs
 * at the same instant.
 *
 * Steady mix. Each op is drawn by the --mix shares. Commit and release act on this
 * connection's own reservations that were acknowledged HELD, oldest first, while they
 * are younger than half their TTL (older ones are left to expire). With none to act on,
 * the op becomes a reserve. Availability asks for a SKU drawn from the order pool.
 *
 * Records. Per connection, per phase: replies by op and status and an HDR latency
 * histogram; per SKU the units acknowledged reserved and committed (for the oversell
 * check); routing figures of every acknowledged reserve; flash units per node. Per
 * second: a connection adds its second into a shared slot (one mutex, once a second per
 * connection) and publishes, through an atomic, that it is past that second; the
 * coordinator prints a progress line once every connection is past it.
 *
 * Bounds. Every loop is bounded by the phase plan plus IB_DRAIN_MS, and by Ctrl-C,
 * which stops submitting at once and drains what is in flight (so the tallies stay
 * exact) for at most IB_DRAIN_MS.
 */
#define _GNU_SOURCE
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "invbench.h"

/* Replies collected per poll. */
#define IB_POLL_BATCH 256u
/* Longest a connection blocks in poll before it looks at the clock again. */
#define IB_POLL_WAIT_MS 1
/* After the plan (or Ctrl-C), replies still in flight are awaited this long. */
#define IB_DRAIN_MS 5000u
/* Quiet time before the flash opening, so the herd meets an empty pipeline. */
#define IB_HERD_GAP_MS 50u
/* HELD reservations a connection remembers for later commits and releases. */
#define IB_HELD_MAX 65536u
/* Progress lines wait this long for a slow connection to pass the second. */
#define IB_PROGRESS_WAIT_MS 500u
/* Availability queries in flight during the final check. */
#define IB_CHECK_WINDOW 512u
#define IB_CHECK_POLL_MS 10000
#define IB_NS_PER_S 1000000000ull
#define IB_NS_PER_MS 1000000ull

_Static_assert((IB_HELD_MAX & (IB_HELD_MAX - 1)) == 0, "held ring is a power of two");
_Static_assert(IB_POLL_BATCH <= IB_DEPTH_MAX, "a poll batch fits the deepest pipeline");

static volatile sig_atomic_t ib_stop_flag;

void ib_run_request_stop(void) { ib_stop_flag = 1; }
bool ib_run_stop_requested(void) { return ib_stop_flag != 0; }

static uint64_t ib_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * IB_NS_PER_S + (uint64_t)ts.tv_nsec;
}

const char *ib_phase_name(ib_phase p) {
    static const char *const names[IB_PHASE_COUNT] = {"warm-up", "flash opening",
                                                      "steady mix", "half peak"};
    return p < IB_PHASE_COUNT ? names[p] : "?";
}

const char *ib_phase_key(ib_phase p) {
    static const char *const keys[IB_PHASE_COUNT] = {"warmup", "flash", "steady",
                                                     "half_peak"};
    return p < IB_PHASE_COUNT ? keys[p] : "?";
}

/* ====================================================================================
 * System results
 * ==================================================================================== */

int ib_system_init(ib_system *sys, const ib_system_spec *spec, const inv_scenario *s,
                   double total_seconds) {
    memset(sys, 0, sizeof *sys);
    sys->spec = *spec;
    sys->sku_count = s->sku_count;
    sys->second_cap = (uint32_t)ceil(total_seconds) + IB_PHASE_COUNT * 2u +
                      (uint32_t)(IB_DRAIN_MS / 1000u) * IB_PHASE_COUNT + 4u;
    sys->seconds = calloc(sys->second_cap, sizeof *sys->seconds);
    sys->tally = calloc(s->sku_count, sizeof *sys->tally);
    sys->flash_units_by_node = calloc(s->node_count, sizeof *sys->flash_units_by_node);
    if (sys->seconds == NULL || sys->tally == NULL || sys->flash_units_by_node == NULL)
        return -ENOMEM;
    for (int p = 0; p < IB_PHASE_COUNT; p++) {
        int rc = ib_hist_init(&sys->phase[p].latency, IB_HIST_HIGHEST_NS, IB_HIST_DIGITS);
        if (rc != 0) return rc;
    }
    return 0;
}

void ib_system_free(ib_system *sys) {
    for (int p = 0; p < IB_PHASE_COUNT; p++) ib_hist_free(&sys->phase[p].latency);
    free(sys->seconds);
    free(sys->tally);
    free(sys->flash_units_by_node);
    sys->seconds = NULL;
    sys->tally = NULL;
    sys->flash_units_by_node = NULL;
}

double ib_system_ops_per_s(const ib_system *sys, ib_phase p) {
    const ib_phase_stats *ph = &sys->phase[p];
    return ph->ran && ph->seconds > 0 ? (double)ph->ops / ph->seconds : 0.0;
}

bool ib_system_oversell_pass(const ib_system *sys) {
    return sys->oversell_checked && sys->finding_count == 0;
}

/* ====================================================================================
 * Shared state of one run, and each connection's
 * ==================================================================================== */

typedef struct ib_slot {
    uint64_t t_intended;         /* ns */
    uint32_t order;              /* pool index (RESERVE COMMIT RELEASE) */
    uint8_t op;                  /* ib_op */
    uint8_t phase;               /* ib_phase of the intended send time */
    char id[INV_SCN_ORDER_ID_LEN];
} ib_slot;

typedef struct ib_held {
    uint64_t acked_ns;
    uint32_t order;
    char id[INV_SCN_ORDER_ID_LEN];
} ib_held;

typedef struct ib_sec_slot {
    uint64_t ops, errors, sold_out;
    ib_hist hist;
} ib_sec_slot;

typedef struct ib_run ib_run;

typedef struct ib_worker {
    pthread_t thread;
    bool started;
    uint32_t index;
    ib_run *run;
    ib_conn *conn;
    inv_scn_rng rng;
    ib_slot *slots;
    uint32_t *free_slots;
    uint32_t nfree;
    ib_held *held;
    uint32_t held_head, held_count;
    uint64_t seq;                /* order ids of this connection */
    uint32_t steady_pos, flash_pos;
    int cur_phase;               /* -1: between phases */
    uint64_t sched_k;            /* open loop: next request of the phase */
    bool herd_fired;
    ib_phase_stats phase[IB_PHASE_COUNT];
    int64_t *acked_reserved, *committed; /* per SKU */
    uint64_t *flash_units_by_node;
    ib_route_stats route;
    uint32_t cur_sec;
    uint64_t sec_ops, sec_errors, sec_sold_out;
    ib_hist sec_hist;
    _Atomic uint32_t sec_published; /* every second below this one is in the shared slots */
    int error;
    char errmsg[256];
    ib_result results[IB_POLL_BATCH];
} ib_worker;

struct ib_run {
    ib_system *sys;
    const ib_backend *b;
    ib_target *t;
    const ib_workload *w;
    uint64_t t0_ns;
    uint64_t phase_start_ns[IB_PHASE_COUNT], phase_end_ns[IB_PHASE_COUNT];
    double phase_rate[IB_PHASE_COUNT];
    uint64_t end_ns;             /* end of the last planned phase */
    uint64_t stopped_ns;         /* when Ctrl-C was noticed (0: not) */
    uint32_t nonce;
    uint32_t sec_cap;
    ib_sec_slot *secs;
    pthread_mutex_t sec_lock;
    pthread_barrier_t start;
    ib_worker *workers;
};

/* ====================================================================================
 * Per-second records
 * ==================================================================================== */

static bool ib_is_error(int status) {
    switch (status) {
    case INVC_INVALID_ARGUMENT:
    case INVC_CONFLICT:
    case INVC_RESOURCE_EXHAUSTED:
    case INVC_BUSY:
    case INVC_UNAVAILABLE:
    case INVC_INTERNAL:
    case IB_STATUS_TRANSPORT: return true;
    default: return false;
    }
}

/* Hand the finished second to the shared slot and move to `sec`. */
static void ib_worker_roll_second(ib_worker *wk, uint32_t sec) {
    ib_run *run = wk->run;
    if (sec <= wk->cur_sec) return;
    if (wk->cur_sec < run->sec_cap && wk->sec_ops > 0) {
        pthread_mutex_lock(&run->sec_lock);
        ib_sec_slot *s = &run->secs[wk->cur_sec];
        s->ops += wk->sec_ops;
        s->errors += wk->sec_errors;
        s->sold_out += wk->sec_sold_out;
        ib_hist_merge(&s->hist, &wk->sec_hist);
        pthread_mutex_unlock(&run->sec_lock);
    }
    ib_hist_reset(&wk->sec_hist);
    wk->sec_ops = wk->sec_errors = wk->sec_sold_out = 0;
    wk->cur_sec = sec;
    atomic_store_explicit(&wk->sec_published, sec, memory_order_release);
}

static uint32_t ib_second_of(const ib_run *run, uint64_t t_ns) {
    return t_ns <= run->t0_ns ? 0 : (uint32_t)((t_ns - run->t0_ns) / IB_NS_PER_S);
}

/* ====================================================================================
 * Choosing and submitting requests
 * ==================================================================================== */

static int ib_phase_at(const ib_run *run, uint64_t t) {
    for (int p = 0; p < IB_PHASE_COUNT; p++)
        if (run->phase_end_ns[p] > run->phase_start_ns[p] && t >= run->phase_start_ns[p] &&
            t < run->phase_end_ns[p])
            return p;
    return -1;
}

/* Order id: run nonce, connection, sequence — unique per run and connection, < 24 bytes. */
static void ib_order_id(ib_worker *wk, char *id) {
    snprintf(id, INV_SCN_ORDER_ID_LEN, "%08" PRIx32 "%02x%" PRIx64, wk->run->nonce,
             wk->index & 0xffu, (uint64_t)(wk->seq++ & 0xffffffffffffull));
}

/* The oldest HELD reservation still young enough to commit or release; false: none. */
static bool ib_held_take(ib_worker *wk, uint64_t now, ib_held *out) {
    uint64_t usable_ns = wk->run->w->ttl_ms * IB_NS_PER_MS / 2u;
    for (uint32_t i = 0; i < IB_HELD_MAX && wk->held_count > 0; i++) {
        ib_held *h = &wk->held[wk->held_head];
        wk->held_head = (wk->held_head + 1) & (IB_HELD_MAX - 1);
        wk->held_count--;
        if (now - h->acked_ns < usable_ns) {
            *out = *h;
            return true;
        }
    }
    return false;
}

static void ib_held_push(ib_worker *wk, const ib_slot *sl, uint64_t now) {
    assert(wk->held_count <= IB_HELD_MAX);
    if (wk->held_count == IB_HELD_MAX) { /* forget the oldest: it will expire */
        wk->held_head = (wk->held_head + 1) & (IB_HELD_MAX - 1);
        wk->held_count--;
    }
    ib_held *h = &wk->held[(wk->held_head + wk->held_count) & (IB_HELD_MAX - 1)];
    h->acked_ns = now;
    h->order = sl->order;
    memcpy(h->id, sl->id, sizeof h->id);
    wk->held_count++;
}

/* Fill slot `sl` and request `rq` with the next op of phase p. */
static void ib_choose(ib_worker *wk, int p, uint64_t now, ib_slot *sl, ib_request *rq) {
    const ib_workload *w = wk->run->w;
    uint32_t flash_count = w->order_count - w->steady_count;
    bool flash = p == IB_PHASE_FLASH && flash_count > 0;
    ib_op op = IB_OP_RESERVE;
    if (!flash) {
        uint32_t r = inv_scn_rng_below(&wk->rng, 100);
        ib_held h;
        if (r < w->mix.reserve) op = IB_OP_RESERVE;
        else if (r < w->mix.reserve + w->mix.commit + w->mix.release) {
            if (ib_held_take(wk, now, &h)) {
                op = r < w->mix.reserve + w->mix.commit ? IB_OP_COMMIT : IB_OP_RELEASE;
                sl->order = h.order;
                memcpy(sl->id, h.id, sizeof sl->id);
            }
        } else {
            op = IB_OP_AVAILABILITY;
        }
    }
    memset(rq, 0, sizeof *rq);
    if (op == IB_OP_RESERVE) {
        if (flash) sl->order = w->steady_count + (wk->flash_pos++ % flash_count);
        else sl->order = wk->steady_pos++ % w->steady_count;
        ib_order_id(wk, sl->id);
        rq->order = &w->orders[sl->order];
        rq->order_index = sl->order;
        rq->ttl_ms = w->ttl_ms;
    } else if (op == IB_OP_AVAILABILITY) {
        const inv_scn_order *o = &w->orders[wk->steady_pos++ % w->steady_count];
        rq->sku = o->sku[0];
        sl->order = INV_SCN_NONE;
    }
    assert(op == IB_OP_AVAILABILITY || sl->order < w->order_count);
    rq->op = op;
    rq->order_id = op == IB_OP_AVAILABILITY ? NULL : sl->id;
    sl->op = (uint8_t)op;
    sl->phase = (uint8_t)p;
}

/* @return 0, 1 when the pipeline pushed back (poll first), or a negative errno. */
static int ib_submit_one(ib_worker *wk, int p, uint64_t t_intended, uint64_t now) {
    assert(wk->nfree > 0);
    assert(p >= 0 && p < IB_PHASE_COUNT);
    uint32_t k = wk->free_slots[--wk->nfree];
    ib_slot *sl = &wk->slots[k];
    ib_request rq;
    ib_choose(wk, p, now, sl, &rq);
    sl->t_intended = t_intended;
    rq.user = (void *)(uintptr_t)(k + 1u);
    int rc = wk->run->b->submit(wk->conn, &rq);
    if (rc == 0) return 0;
    wk->nfree++;
    if (rc == -EAGAIN) return 1;
    snprintf(wk->errmsg, sizeof wk->errmsg, "submit: %s", wk->run->b->conn_error(wk->conn));
    return rc;
}

static int ib_submit_due(ib_worker *wk, uint64_t now) {
    ib_run *run = wk->run;
    int p = ib_phase_at(run, now);
    if (p != wk->cur_phase) {
        wk->cur_phase = p;
        wk->sched_k = 0;
        wk->herd_fired = false;
    }
    if (p < 0) return 0;
    /* Go quiet before the opening so that the herd meets an empty pipeline. */
    if (p != IB_PHASE_FLASH && run->phase_end_ns[IB_PHASE_FLASH] > 0 &&
        run->phase_start_ns[IB_PHASE_FLASH] > now &&
        run->phase_start_ns[IB_PHASE_FLASH] - now < IB_HERD_GAP_MS * IB_NS_PER_MS)
        return 0;
    int rc = 0;
    if (p == IB_PHASE_FLASH && !wk->herd_fired) {
        wk->herd_fired = true;
        for (uint32_t i = 0; i < run->w->depth && wk->nfree > 0 && rc == 0; i++)
            rc = ib_submit_one(wk, p, run->phase_start_ns[p], now);
        return rc < 0 ? rc : 0;
    }
    double rate = run->phase_rate[p];
    if (rate <= 0) {
        for (uint32_t i = 0; i < run->w->depth && wk->nfree > 0 && rc == 0; i++)
            rc = ib_submit_one(wk, p, now, now);
        return rc < 0 ? rc : 0;
    }
    double interval_ns = (double)run->w->connections * 1e9 / rate;
    double offset_ns = interval_ns * wk->index / run->w->connections;
    for (uint32_t i = 0; i < IB_DEPTH_MAX && wk->nfree > 0 && rc == 0; i++) {
        uint64_t due = run->phase_start_ns[p] + (uint64_t)(offset_ns + interval_ns * (double)wk->sched_k);
        if (due > now || due >= run->phase_end_ns[p]) break;
        rc = ib_submit_one(wk, p, due, now);
        if (rc == 0) wk->sched_k++;
    }
    return rc < 0 ? rc : 0;
}

/* ====================================================================================
 * Recording replies
 * ==================================================================================== */

static void ib_record_route(ib_worker *wk, const inv_scn_order *o, const ib_result *r) {
    const inv_scenario *s = wk->run->w->s;
    double lat = o->lat, lon = o->lon;
    if (o->pickup_node != INV_SCN_NONE) {
        lat = s->nodes[o->pickup_node].lat;
        lon = s->nodes[o->pickup_node].lon;
    }
    double km[IB_ALLOC_MAX];
    uint32_t nodes[IB_ALLOC_MAX], parcels = 0;
    for (uint32_t i = 0; i < r->alloc_count; i++) {
        const ib_alloc *a = &r->alloc[i];
        wk->acked_reserved[a->sku] += a->qty;
        if (a->sku >= s->flash_first && a->sku < s->flash_first + s->flash_count)
            wk->flash_units_by_node[a->node] += a->qty;
        bool seen = false;
        for (uint32_t j = 0; j < parcels && !seen; j++) seen = nodes[j] == a->node;
        if (seen) continue;
        nodes[parcels] = a->node;
        km[parcels++] = inv_scn_distance_km(s->nodes[a->node].lat, s->nodes[a->node].lon, lat, lon);
    }
    if (parcels > 0) ib_route_add(&wk->route, km, parcels);
}

static void ib_record(ib_worker *wk, const ib_result *r, uint64_t t1) {
    uint32_t k = (uint32_t)(uintptr_t)r->user - 1u;
    const ib_workload *w = wk->run->w;
    assert(k < w->depth);
    assert(wk->nfree < w->depth);
    ib_slot *sl = &wk->slots[k];
    int status = r->status >= 0 && r->status < IB_STATUS_TRANSPORT ? r->status
                                                                    : IB_STATUS_TRANSPORT;
    uint64_t lat = t1 > sl->t_intended ? t1 - sl->t_intended : 0;
    ib_phase_stats *ph = &wk->phase[sl->phase];
    ph->ops++;
    ph->by_op[sl->op]++;
    ph->status[status]++;
    ib_hist_record(&ph->latency, lat);
    ib_hist_record(&wk->sec_hist, lat);
    wk->sec_ops++;
    wk->sec_errors += ib_is_error(status);
    wk->sec_sold_out += status == INVC_INSUFFICIENT_STOCK;
    if (status == INVC_OK && sl->op == IB_OP_RESERVE) {
        ib_record_route(wk, &w->orders[sl->order], r);
        ib_held_push(wk, sl, t1);
    } else if (status == INVC_OK && sl->op == IB_OP_COMMIT) {
        const inv_scn_order *o = &w->orders[sl->order];
        for (uint32_t l = 0; l < o->line_count; l++) wk->committed[o->sku[l]] += o->qty[l];
    }
    wk->free_slots[wk->nfree++] = k;
}

/* ====================================================================================
 * The connection thread
 * ==================================================================================== */

static int ib_worker_poll(ib_worker *wk, uint64_t now, bool stopping) {
    const ib_backend *b = wk->run->b;
    uint32_t inflight = wk->run->w->depth - wk->nfree;
    int timeout = inflight > 0 ? IB_POLL_WAIT_MS : 0;
    int n = b->poll(wk->conn, wk->results, IB_POLL_BATCH, timeout);
    if (n < 0) {
        snprintf(wk->errmsg, sizeof wk->errmsg, "poll: %s", b->conn_error(wk->conn));
        return n;
    }
    if (n == 0 && inflight == 0 && !stopping) { /* open loop, idle: wait for the schedule */
        struct timespec ts = {0, (long)(IB_NS_PER_MS / 10u)};
        nanosleep(&ts, NULL);
    }
    uint64_t t1 = n > 0 ? ib_now_ns() : now;
    ib_worker_roll_second(wk, ib_second_of(wk->run, t1));
    for (int i = 0; i < n; i++) ib_record(wk, &wk->results[i], t1);
    return 0;
}

static void *ib_worker_main(void *arg) {
    ib_worker *wk = arg;
    ib_run *run = wk->run;
    pthread_barrier_wait(&run->start);
    uint64_t drain_deadline = 0;
    while (wk->error == 0) { /* bounded by end_ns + IB_DRAIN_MS, or by Ctrl-C + IB_DRAIN_MS */
        uint64_t now = ib_now_ns();
        bool stopping = now >= run->end_ns || ib_run_stop_requested();
        if (stopping && drain_deadline == 0) drain_deadline = now + IB_DRAIN_MS * IB_NS_PER_MS;
        if (!stopping) wk->error = ib_submit_due(wk, now);
        uint32_t inflight = run->w->depth - wk->nfree;
        if (stopping && inflight == 0) break;
        if (stopping && now > drain_deadline) {
            snprintf(wk->errmsg, sizeof wk->errmsg, "%u replies missing after %u ms", inflight,
                     IB_DRAIN_MS);
            wk->error = -ETIMEDOUT;
            break;
        }
        if (wk->error == 0) wk->error = ib_worker_poll(wk, now, stopping);
    }
    ib_worker_roll_second(wk, UINT32_MAX);
    return NULL;
}

/* ====================================================================================
 * Setting up and tearing down a run
 * ==================================================================================== */

static void ib_worker_free(ib_worker *wk) {
    for (int p = 0; p < IB_PHASE_COUNT; p++) ib_hist_free(&wk->phase[p].latency);
    ib_hist_free(&wk->sec_hist);
    free(wk->slots);
    free(wk->free_slots);
    free(wk->held);
    free(wk->acked_reserved);
    free(wk->committed);
    free(wk->flash_units_by_node);
    if (wk->conn != NULL) wk->run->b->disconnect(wk->conn);
    wk->conn = NULL;
}

static int ib_worker_init(ib_worker *wk, ib_run *run, uint32_t index) {
    const ib_workload *w = run->w;
    wk->run = run;
    wk->index = index;
    wk->cur_phase = -1;
    inv_scn_rng_seed(&wk->rng, ((uint64_t)run->nonce << 8) ^ index);
    wk->steady_pos = (uint32_t)((uint64_t)w->steady_count * index / w->connections);
    wk->flash_pos = (uint32_t)((uint64_t)(w->order_count - w->steady_count) * index /
                               w->connections);
    wk->slots = calloc(w->depth, sizeof *wk->slots);
    wk->free_slots = calloc(w->depth, sizeof *wk->free_slots);
    wk->held = calloc(IB_HELD_MAX, sizeof *wk->held);
    wk->acked_reserved = calloc(w->s->sku_count, sizeof *wk->acked_reserved);
    wk->committed = calloc(w->s->sku_count, sizeof *wk->committed);
    wk->flash_units_by_node = calloc(w->s->node_count, sizeof *wk->flash_units_by_node);
    if (!wk->slots || !wk->free_slots || !wk->held || !wk->acked_reserved || !wk->committed ||
        !wk->flash_units_by_node)
        return -ENOMEM;
    for (uint32_t i = 0; i < w->depth; i++) wk->free_slots[i] = w->depth - 1 - i;
    wk->nfree = w->depth;
    for (int p = 0; p < IB_PHASE_COUNT; p++) {
        int rc = ib_hist_init(&wk->phase[p].latency, IB_HIST_HIGHEST_NS, IB_HIST_DIGITS);
        if (rc != 0) return rc;
    }
    int rc = ib_hist_init(&wk->sec_hist, IB_HIST_HIGHEST_NS, IB_SECOND_HIST_DIGITS);
    if (rc != 0) return rc;
    char err[256] = "";
    rc = run->b->connect(run->t, &wk->conn, err, sizeof err);
    if (rc != 0) snprintf(wk->errmsg, sizeof wk->errmsg, "connection %u: %s", index, err);
    return rc;
}

/* Add a connection's records into the system's. */
static void ib_worker_merge(ib_system *sys, const ib_worker *wk, uint32_t sku_count,
                            uint32_t node_count) {
    for (int p = 0; p < IB_PHASE_COUNT; p++) {
        ib_phase_stats *dst = &sys->phase[p];
        const ib_phase_stats *src = &wk->phase[p];
        dst->ops += src->ops;
        for (int k = 0; k < 5; k++) dst->by_op[k] += src->by_op[k];
        for (int k = 0; k < IB_STATUS_SLOTS; k++) dst->status[k] += src->status[k];
        ib_hist_merge(&dst->latency, &src->latency);
    }
    for (uint32_t k = 0; k < sku_count; k++) {
        sys->tally[k].acked_reserved += wk->acked_reserved[k];
        sys->tally[k].committed += wk->committed[k];
    }
    for (uint32_t n = 0; n < node_count; n++) sys->flash_units_by_node[n] += wk->flash_units_by_node[n];
    ib_route_merge(&sys->route, &wk->route);
}

static uint32_t ib_random_nonce(void) {
    static _Atomic uint32_t runs;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t x = (uint64_t)ts.tv_sec * IB_NS_PER_S + (uint64_t)ts.tv_nsec;
    x ^= (uint64_t)getpid() << 40;
    x += (uint64_t)atomic_fetch_add(&runs, 1) * 0x9e3779b97f4a7c15ull;
    x ^= x >> 31;
    x *= 0xbf58476d1ce4e5b9ull;
    return (uint32_t)(x ^ (x >> 32));
}

/* Lay the planned phases on the clock starting at t0. */
static double ib_plan_schedule(ib_run *run, const ib_phase_plan plan[IB_PHASE_COUNT]) {
    uint64_t t = run->t0_ns;
    double total = 0;
    for (int p = 0; p < IB_PHASE_COUNT; p++) {
        run->phase_start_ns[p] = run->phase_end_ns[p] = 0;
        run->phase_rate[p] = plan[p].rate;
        if (plan[p].seconds <= 0) continue;
        uint64_t len = (uint64_t)(plan[p].seconds * 1e9);
        run->phase_start_ns[p] = t;
        run->phase_end_ns[p] = t + len;
        t += len;
        total += plan[p].seconds;
    }
    run->end_ns = t;
    return total;
}

/* ====================================================================================
 * Progress (coordinator thread)
 * ==================================================================================== */

static uint32_t ib_min_published(const ib_run *run) {
    uint32_t m = UINT32_MAX;
    for (uint32_t i = 0; i < run->w->connections; i++) {
        uint32_t v = atomic_load_explicit(&run->workers[i].sec_published, memory_order_acquire);
        if (v < m) m = v;
    }
    return m;
}

/* Second `sec` of this run is complete: store it in the system's series, print it. */
static void ib_second_finish(ib_run *run, uint32_t sec, uint32_t base) {
    ib_system *sys = run->sys;
    if (sec >= run->sec_cap || base + sec >= sys->second_cap) return;
    ib_sec_slot *slot = &run->secs[sec];
    ib_second *out = &sys->seconds[base + sec];
    int p = ib_phase_at(run, run->t0_ns + (uint64_t)sec * IB_NS_PER_S + IB_NS_PER_S / 2u);
    out->ops = slot->ops;
    out->errors = slot->errors;
    out->sold_out = slot->sold_out;
    out->p50_us = (double)ib_hist_percentile(&slot->hist, 50.0) / 1e3;
    out->p99_us = (double)ib_hist_percentile(&slot->hist, 99.0) / 1e3;
    out->phase = p < 0 ? IB_PHASE_COUNT : (ib_phase)p;
    if (sys->second_count < base + sec + 1) sys->second_count = base + sec + 1;
    if (run->w->quiet) return;
    fprintf(stderr,
            "invbench: %-15s %-13s t=%3us %9" PRIu64 " ops/s  p50 %8.1f µs  p99 %8.1f µs  "
            "errors %" PRIu64 "  sold-out %" PRIu64 "\n",
            sys->spec.name, p < 0 ? "drain" : ib_phase_name((ib_phase)p), base + sec,
            out->ops, out->p50_us, out->p99_us, out->errors, out->sold_out);
}

/* Print seconds as every connection passes them, until all threads are done.
 * @return the first second not yet finished. */
static uint32_t ib_progress_loop(ib_run *run, uint32_t base, _Atomic uint32_t *done) {
    uint32_t next = 0;
    uint64_t bound = run->end_ns + (IB_DRAIN_MS + 2000u) * IB_NS_PER_MS;
    while (atomic_load(done) < run->w->connections && ib_now_ns() < bound) {
        uint64_t wake = run->t0_ns + (uint64_t)(next + 1) * IB_NS_PER_S + IB_NS_PER_S / 20u;
        uint64_t now = ib_now_ns();
        uint64_t wait = wake > now ? wake - now : IB_NS_PER_MS;
        if (wait > IB_PROGRESS_WAIT_MS * IB_NS_PER_MS) wait = IB_PROGRESS_WAIT_MS * IB_NS_PER_MS;
        struct timespec ts = {(time_t)(wait / IB_NS_PER_S), (long)(wait % IB_NS_PER_S)};
        nanosleep(&ts, NULL);
        uint32_t ready = ib_min_published(run), current = ib_second_of(run, ib_now_ns());
        for (; next < ready && next < current && next < run->sec_cap; next++)
            ib_second_finish(run, next, base);
    }
    return next;
}

/* ====================================================================================
 * ib_run_phases
 * ==================================================================================== */

typedef struct ib_thread_arg {
    ib_worker *wk;
    _Atomic uint32_t *done;
} ib_thread_arg;

static void *ib_worker_thread(void *arg) {
    ib_thread_arg *a = arg;
    ib_worker_main(a->wk);
    atomic_fetch_add(a->done, 1);
    return NULL;
}

static int ib_run_setup(ib_run *run, double total_s) {
    run->sec_cap = (uint32_t)ceil(total_s) + IB_DRAIN_MS / 1000u + 2u;
    run->secs = calloc(run->sec_cap, sizeof *run->secs);
    run->workers = calloc(run->w->connections, sizeof *run->workers);
    if (run->secs == NULL || run->workers == NULL) return -ENOMEM;
    for (uint32_t s = 0; s < run->sec_cap; s++) {
        int rc = ib_hist_init(&run->secs[s].hist, IB_HIST_HIGHEST_NS, IB_SECOND_HIST_DIGITS);
        if (rc != 0) return rc;
    }
    for (uint32_t i = 0; i < run->w->connections; i++) {
        int rc = ib_worker_init(&run->workers[i], run, i);
        if (rc != 0) {
            snprintf(run->sys->error, sizeof run->sys->error, "%s",
                     run->workers[i].errmsg[0] ? run->workers[i].errmsg : strerror(-rc));
            return rc;
        }
    }
    return 0;
}

static void ib_run_teardown(ib_run *run) {
    if (run->workers != NULL)
        for (uint32_t i = 0; i < run->w->connections; i++)
            if (run->workers[i].run != NULL) ib_worker_free(&run->workers[i]);
    if (run->secs != NULL)
        for (uint32_t s = 0; s < run->sec_cap; s++) ib_hist_free(&run->secs[s].hist);
    free(run->workers);
    free(run->secs);
}

/* Phase wall times and marks, after the threads ended at `end`. */
static void ib_run_account(ib_run *run, uint32_t base, uint64_t end) {
    ib_system *sys = run->sys;
    for (int p = 0; p < IB_PHASE_COUNT; p++) {
        if (run->phase_end_ns[p] <= run->phase_start_ns[p] || end <= run->phase_start_ns[p])
            continue;
        uint64_t stop = end < run->phase_end_ns[p] ? end : run->phase_end_ns[p];
        sys->phase[p].ran = true;
        sys->phase[p].seconds += (double)(stop - run->phase_start_ns[p]) / 1e9;
        sys->phase[p].target_rate = run->phase_rate[p];
        if (sys->mark_count < IB_PHASE_COUNT) {
            sys->mark_phase[sys->mark_count] = (ib_phase)p;
            sys->mark_start_s[sys->mark_count++] =
                base + (double)(run->phase_start_ns[p] - run->t0_ns) / 1e9;
        }
    }
}

int ib_run_phases(ib_system *sys, const ib_backend *b, ib_target *t, const ib_workload *w,
                  const ib_phase_plan plan[IB_PHASE_COUNT]) {
    ib_run run = {.sys = sys, .b = b, .t = t, .w = w, .nonce = ib_random_nonce()};
    double total = ib_plan_schedule(&run, plan);
    uint32_t base = sys->second_count;
    int rc = ib_run_setup(&run, total);
    _Atomic uint32_t done = 0;
    ib_thread_arg *args = calloc(w->connections, sizeof *args);
    if (rc == 0 && args == NULL) rc = -ENOMEM;
    if (rc == 0 && (rc = -pthread_barrier_init(&run.start, NULL, w->connections + 1)) == 0) {
        pthread_mutex_init(&run.sec_lock, NULL);
        uint32_t started = 0;
        for (uint32_t i = 0; i < w->connections; i++) {
            args[i] = (ib_thread_arg){&run.workers[i], &done};
            if (pthread_create(&run.workers[i].thread, NULL, ib_worker_thread, &args[i]) != 0)
                break;
            started++;
        }
        if (started < w->connections) {
            /* Could not start every thread: the barrier would never open. */
            snprintf(sys->error, sizeof sys->error, "cannot start connection threads");
            fprintf(stderr, "invbench: fatal: %s\n", sys->error);
            exit(1);
        }
        run.t0_ns = ib_now_ns();
        ib_plan_schedule(&run, plan);
        pthread_barrier_wait(&run.start);
        uint32_t next = ib_progress_loop(&run, base, &done);
        for (uint32_t i = 0; i < w->connections; i++) pthread_join(run.workers[i].thread, NULL);
        uint64_t end = ib_now_ns();
        for (uint32_t last = ib_second_of(&run, end); next <= last && next < run.sec_cap; next++)
            ib_second_finish(&run, next, base);
        ib_run_account(&run, base, end);
        sys->interrupted |= ib_run_stop_requested();
        for (uint32_t i = 0; i < w->connections; i++) {
            ib_worker_merge(sys, &run.workers[i], w->s->sku_count, w->s->node_count);
            if (run.workers[i].error != 0 && rc == 0) {
                rc = run.workers[i].error;
                snprintf(sys->error, sizeof sys->error, "connection %u: %s", i,
                         run.workers[i].errmsg);
            }
        }
        pthread_barrier_destroy(&run.start);
        pthread_mutex_destroy(&run.sec_lock);
    }
    free(args);
    ib_run_teardown(&run);
    return rc;
}

/* ====================================================================================
 * Final check: every SKU's totals from the system, then the oversell rules
 * ==================================================================================== */

static int ib_check_collect(ib_system *sys, const ib_backend *b, ib_conn *c, ib_result *res,
                            uint32_t keep) {
    for (uint32_t round = 0; round < 1000000u && b->inflight(c) > keep; round++) {
        int n = b->poll(c, res, IB_POLL_BATCH, IB_CHECK_POLL_MS);
        if (n < 0) return n;
        if (n == 0) return -ETIMEDOUT;
        for (int i = 0; i < n; i++) {
            uint32_t sku = (uint32_t)(uintptr_t)res[i].user - 1u;
            if (sku >= sys->sku_count || res[i].status != INVC_OK) continue;
            sys->tally[sku].reported = true;
            sys->tally[sku].on_hand = res[i].on_hand;
            sys->tally[sku].reserved = res[i].reserved;
        }
    }
    return 0;
}

int ib_run_final_check(ib_system *sys, const ib_backend *b, ib_target *t, const ib_workload *w) {
    const inv_scenario *s = w->s;
    for (uint32_t k = 0; k < s->sku_count; k++) sys->tally[k].loaded = 0;
    for (uint32_t i = 0; i < s->cell_count; i++) sys->tally[s->cells[i].sku].loaded += s->cells[i].on_hand;
    ib_conn *c = NULL;
    char err[256] = "";
    int rc = b->connect(t, &c, err, sizeof err);
    ib_result *res = calloc(IB_POLL_BATCH, sizeof *res);
    if (rc == 0 && res == NULL) rc = -ENOMEM;
    for (uint32_t k = 0; rc == 0 && k < s->sku_count; k++) {
        if (b->inflight(c) >= IB_CHECK_WINDOW) rc = ib_check_collect(sys, b, c, res, IB_CHECK_WINDOW / 2);
        ib_request rq = {.op = IB_OP_AVAILABILITY, .user = (void *)(uintptr_t)(k + 1u), .sku = k};
        if (rc == 0) rc = b->submit(c, &rq);
    }
    if (rc == 0) rc = ib_check_collect(sys, b, c, res, 0);
    if (rc != 0) {
        snprintf(sys->error, sizeof sys->error, "final availability check: %s",
                 c != NULL ? b->conn_error(c) : err);
    } else {
        sys->finding_count = ib_oversell_check(sys->tally, s->sku_count, sys->findings, IB_FINDINGS_MAX);
        sys->oversell_checked = true;
    }
    free(res);
    if (c != NULL) b->disconnect(c);
    return rc;
}
