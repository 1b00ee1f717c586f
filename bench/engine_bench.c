/*
 * engine_bench.c — in-process engine benchmark: reserves per second per core, latency,
 * memory per cell and per reservation, and an oversell check. No network, no disk.
 *
 * Shape of a run (repeated --runs times on a fresh engine; the median is reported):
 *   1. open an engine sized from the scenario, load it (direct mode);
 *   2. start one pinned thread per shard; thread i drives inv_engine_shard(e, i) with its
 *      own pre-generated orders: inv_shard_submit (1 = done inline, 0 = forwarded to the
 *      owner shard, -INV_BUSY = ring full: poll, then retry) and inv_shard_poll every few
 *      submits, with at most --window ops in flight (preallocated op slots);
 *   3. the timed phase ends when every thread has submitted all its orders (or
 *      --seconds passed) and has its answers back; threads keep polling until all are
 *      done, since a finished thread still owns the reservations others forward to it;
 *   4. in direct mode again: read every stock cell of the scenario and check that none is
 *      oversold and that Σ reserved and Σ on_hand match what the answers said.
 *
 * Workloads: "zipf" (Zipf(0.99) SKUs, 1–5 lines, 1 % of orders with a flash-sale SKU,
 * 2 % pickup orders; stock sized at twice the demand of --orders, SKU by SKU) and "hot"
 * (every order wants one unit of the same flash SKU; by default one warehouse holds it,
 * so every reserve hits one cell, with stock for half the orders: the contended path,
 * then the sold-out path). --mix follows each successful reserve with a commit (70 %)
 * or release (10 %). --local generates each thread's orders among ids its own shard
 * owns (no forwarding), the shape a shard-aware front end would give.
 *
 * Noise it reports rather than hides: minor page faults and involuntary context
 * switches of the shard threads during the timed phase (getrusage per thread). The
 * engine maps its tables at open as invd does (inv_engine_config.prefault; --no-prefault
 * leaves them to be first touched in the timed phase, which with --wal costs a
 * TLB-shootdown IPI per fault), and on a shared 2-core box another busy process preempts
 * a pinned shard and stalls its partner's forwarded ops. reserve_per_cpu_sec (reserves /
 * CPU time of the shard threads in the timed phase) stays meaningful there;
 * reserve_per_sec is wall-clock throughput. Shard threads
 * spin while they wait for a partner, so with forwarding the CPU figure includes that.
 *
 * Latency: one op in 64 is timed from submit to its answer (inline or via the poll
 * callback) with CLOCK_MONOTONIC into a log-linear histogram (32 sub-buckets per
 * power of two, ~3 % resolution).
 */
#define _GNU_SOURCE
#include <assert.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "inv_engine.h"
#include "inv_persist.h"
#include "scenario.h"

#define RUNS_MAX 99u
#define WINDOW_MAX 65536u /* --wal: enough in flight to cover an fsync (5-15 ms here) */
#define SAMPLE_MASK 63u          /* time one op in 64 */
#define BUSY_TRIES_MAX (1u << 22) /* polls while one ring stays full, then give up */
#define DRAIN_GRACE_NS (30ull * 1000000000ull) /* after --seconds, to collect answers */
#define TTL_MS (3600ull * 1000ull) /* nothing expires mid-run */
#define HIST_SUB 32u
#define HIST_BUCKETS (HIST_SUB + 59u * HIST_SUB)

/* ====================================================================================
 * Options
 * ==================================================================================== */
typedef struct bench_opts {
    uint32_t threads, nodes, skus, runs, window, poll_every, hot_nodes;
    uint64_t orders, seed, hot_stock;
    double seconds;
    bool hot, mix, local, json, no_prefault;
    const char *cities, *write_csv;
    const char *wal;         /* --wal DIR: log every shard durably under DIR */
    uint32_t wal_async_ms;   /* --wal-async MS: durability=async, flush every MS */
    uint32_t wal_interval_us;/* --wal-interval-us US: batch_interval_us */
} bench_opts;

static void usage(FILE *f) {
    fprintf(f,
        "usage: engine_bench [options]\n"
        "  --threads N     shard threads (default: number of cores)\n"
        "  --orders N      orders in all, split over the threads (default 4000000)\n"
        "  --seconds S     bound on the timed phase (default 10)\n"
        "  --nodes N       fulfillment nodes (default 10000)\n"
        "  --skus N        regular SKUs (default 100000)\n"
        "  --hot-sku       every order wants one unit of the same flash SKU\n"
        "  --hot-nodes N   nodes holding the hot SKU (default 1: one contended cell)\n"
        "  --hot-stock N   units of the hot SKU (default: half the orders)\n"
        "  --mix           commit 70 %% / release 10 %% of successful reserves\n"
        "  --local         each thread submits only orders its shard owns\n"
        "  --seed N        scenario and order seed (default 42)\n"
        "  --runs R        repeat R times on a fresh engine, report the median (3)\n"
        "  --window N      ops in flight per thread (default 128)\n"
        "  --poll-every N  inv_shard_poll after every N submits (default 4)\n"
        "  --cities PATH   city CSV (default: the built-in bench/data)\n"
        "  --write-csv DIR write DIR/nodes.csv and DIR/stock.csv of the scenario, exit\n"
        "  --json          one JSON object instead of the table\n"
        "  --no-prefault   leave the engine's tables to fault in during the run\n"
        "  --wal DIR       log to a fresh WAL under DIR (made if missing); replies wait\n"
        "                  until durable\n"
        "  --wal-async MS  with --wal: durability=async, flushed every MS ms\n"
        "  --wal-interval-us US  with --wal: a batch goes out no sooner than US after the\n"
        "                  previous one (group-commit interval; default 0)\n");
}

static bool parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi) return false;
    *out = v;
    return true;
}

static bool parse_u32(const char *s, uint32_t lo, uint32_t hi, uint32_t *out) {
    uint64_t v;
    if (!parse_u64(s, lo, hi, &v)) return false;
    *out = (uint32_t)v;
    return true;
}

static bool parse_opt(bench_opts *o, int c, const char *a) {
    double d;
    char *end;
    switch (c) {
    case 't': return parse_u32(a, 1, INV_SHARDS_MAX, &o->threads);
    case 'o': return parse_u64(a, 1, 400000000, &o->orders);
    case 'S':
        d = strtod(a, &end);
        if (*end != '\0' || !(d > 0 && d <= 3600)) return false;
        o->seconds = d;
        return true;
    case 'n': return parse_u32(a, 20, 1000000, &o->nodes);
    case 'k': return parse_u32(a, 1, 20000000, &o->skus);
    case 's': return parse_u64(a, 0, UINT64_MAX, &o->seed);
    case 'r': return parse_u32(a, 1, RUNS_MAX, &o->runs);
    case 'w': return parse_u32(a, 1, WINDOW_MAX, &o->window);
    case 'p': return parse_u32(a, 1, 1024, &o->poll_every);
    case 'H': o->hot = true; return true;
    case 'N': return parse_u32(a, 1, 1000000, &o->hot_nodes);
    case 'U': return parse_u64(a, 1, 1000000000000ull, &o->hot_stock);
    case 'm': o->mix = true; return true;
    case 'l': o->local = true; return true;
    case 'P': o->no_prefault = true; return true;
    case 'j': o->json = true; return true;
    case 'c': o->cities = a; return true;
    case 'W': o->write_csv = a; return true;
    case 'L': o->wal = a; return true;
    case 'A': return parse_u32(a, 1, 10000, &o->wal_async_ms);
    case 'I': return parse_u32(a, 0, 100000, &o->wal_interval_us);
    default: return false;
    }
}

/* @return 0 to run, 1 to exit 0 (help), 2 on a usage error. */
static int opts_parse(bench_opts *o, int argc, char **argv) {
    static const struct option longs[] = {
        {"threads", 1, 0, 't'}, {"orders", 1, 0, 'o'},  {"seconds", 1, 0, 'S'},
        {"nodes", 1, 0, 'n'},   {"skus", 1, 0, 'k'},    {"hot-sku", 0, 0, 'H'},
        {"mix", 0, 0, 'm'},     {"local", 0, 0, 'l'},   {"seed", 1, 0, 's'},
        {"runs", 1, 0, 'r'},    {"window", 1, 0, 'w'},  {"poll-every", 1, 0, 'p'},
        {"cities", 1, 0, 'c'},  {"write-csv", 1, 0, 'W'}, {"json", 0, 0, 'j'},
        {"hot-nodes", 1, 0, 'N'}, {"hot-stock", 1, 0, 'U'},
        {"wal", 1, 0, 'L'},     {"wal-async", 1, 0, 'A'}, {"no-prefault", 0, 0, 'P'},
        {"wal-interval-us", 1, 0, 'I'},
        {"help", 0, 0, 'h'},    {0, 0, 0, 0}};
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    *o = (bench_opts){.threads = cores > 0 ? (uint32_t)(cores < INV_SHARDS_MAX ? cores
                                                                              : INV_SHARDS_MAX)
                                           : 1,
                      .nodes = 10000, .skus = 100000, .runs = 3, .window = 128,
                      .poll_every = 4, .orders = 4000000, .seed = 42, .seconds = 10,
                      .hot_nodes = 1};
    for (int i = 0; i < 64; i++) { /* bounded: more options than this is a usage error */
        int li = -1;
        int c = getopt_long(argc, argv, "", longs, &li);
        if (c == -1) break;
        if (c == 'h') return usage(stdout), 1;
        if (!parse_opt(o, c, optarg)) {
            if (li >= 0)
                fprintf(stderr, "engine_bench: bad value for --%s: %s\n", longs[li].name,
                        optarg ? optarg : "");
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) return usage(stderr), 2;
    if (o->orders < o->threads) o->orders = o->threads;
    return 0;
}

/* ====================================================================================
 * Clock and latency histogram
 * ==================================================================================== */
static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

typedef struct hist {
    uint64_t count;
    uint64_t b[HIST_BUCKETS];
} hist;

static uint32_t hist_bucket(uint64_t v) {
    if (v < HIST_SUB) return (uint32_t)v;
    uint32_t e = 63u - (uint32_t)__builtin_clzll(v); /* ≥ 5 */
    uint32_t sub = (uint32_t)(v >> (e - 5)) & (HIST_SUB - 1);
    uint32_t i = HIST_SUB + (e - 5) * HIST_SUB + sub;
    return i < HIST_BUCKETS ? i : HIST_BUCKETS - 1;
}

/* Middle of bucket i, in ns. */
static uint64_t hist_value(uint32_t i) {
    if (i < HIST_SUB) return i;
    uint32_t e = (i - HIST_SUB) / HIST_SUB + 5, sub = (i - HIST_SUB) % HIST_SUB;
    uint64_t lo = (uint64_t)(HIST_SUB + sub) << (e - 5), width = 1ull << (e - 5);
    return lo + width / 2;
}

static void hist_add(hist *h, uint64_t v) {
    h->b[hist_bucket(v)]++;
    h->count++;
}

static void hist_merge(hist *into, const hist *h) {
    for (uint32_t i = 0; i < HIST_BUCKETS; i++) into->b[i] += h->b[i];
    into->count += h->count;
}

static uint64_t hist_quantile(const hist *h, double q) {
    if (h->count == 0) return 0;
    uint64_t want = (uint64_t)((double)h->count * q), seen = 0;
    if (want >= h->count) want = h->count - 1;
    for (uint32_t i = 0; i < HIST_BUCKETS; i++) {
        seen += h->b[i];
        if (seen > want) return hist_value(i);
    }
    return hist_value(HIST_BUCKETS - 1);
}

/* ====================================================================================
 * Workers
 * ==================================================================================== */
/* A preallocated op and what its completion needs. `op` first: the poll callback hands
 * back the inv_op pointer and the slot is found by a cast. */
typedef struct slot {
    inv_op op;
    inv_line lines[INV_SCN_LINES_MAX];
    uint64_t t0_ns;       /* 0: not sampled */
    uint32_t order;
    uint32_t units;
    uint64_t ticket;      /* --wal: the reply gate's ticket it waits for */
} slot;

typedef struct counts {
    uint64_t reserve[INV_STATUS_COUNT];
    uint64_t commit_ok, commit_err, release_ok, release_err;
    uint64_t units_reserved, units_committed, units_released;
    uint64_t busy_retries, submit_failed;
} counts;

struct bench;

typedef struct worker {
    struct bench *b;
    uint32_t index;
    inv_shard *shard;
    inv_scn_order *orders;
    uint32_t order_count, next;
    slot *slots;
    uint32_t *free_stack, free_n;
    uint32_t *fq, fq_head, fq_tail; /* follow-ups (commit/release) waiting to go */
    uint32_t *dq, dq_head, dq_n;    /* --wal: answered, reply waits for durability: a ring
                                       in answer order, so in ticket order */
    inv_reply_gate *gate;           /* --wal: and for what its op saw on other shards */
    uint32_t in_flight;
    uint64_t submitted;
    uint64_t t_start_ns, t_end_ns;
    uint64_t faults, preempted;     /* minor page faults, involuntary switches: timed */
    uint64_t cpu_ns;                /* user + system CPU time of the timed phase */
    bool stop, timed_out;
    counts c;
    hist h;
    pthread_t th;
} __attribute__((aligned(64))) worker;

typedef struct bench {
    bench_opts o;
    inv_scenario *s;
    inv_scn_index idx;
    inv_engine *e;
    worker *w;
    pthread_barrier_t start;
    _Atomic uint32_t finished;
    inv_persist *p;          /* --wal: the run's logs */
    char wal_dir[512];
} bench;

static void slot_free(worker *w, slot *s) {
    assert(s >= w->slots && s < w->slots + w->b->o.window);
    assert(w->free_n < w->b->o.window);
    w->free_stack[w->free_n++] = (uint32_t)(s - w->slots);
}

static void fq_push(worker *w, slot *s) {
    assert(w->fq_tail - w->fq_head < w->b->o.window); /* a slot is queued at most once */
    w->fq[w->fq_tail++ % w->b->o.window] = (uint32_t)(s - w->slots);
}

static uint32_t alloc_units(const inv_op *op) {
    uint32_t u = 0;
    for (uint32_t k = 0; k < op->out.reservation.alloc_count && k < INV_ALLOC_MAX; k++)
        u += op->out.reservation.alloc[k].qty;
    return u;
}

/* A reserve answered: count it; with --mix, turn the slot into the follow-up. */
static bool reserve_done(worker *w, slot *s) {
    inv_status st = s->op.status;
    w->c.reserve[(unsigned)st < INV_STATUS_COUNT ? st : INV_INTERNAL]++;
    if (st != INV_OK) return false;
    s->units = alloc_units(&s->op);
    w->c.units_reserved += s->units;
    const inv_scn_order *o = &w->orders[s->order];
    if (!w->b->o.mix || o->after == INV_SCN_AFTER_NONE) return false;
    s->op.type = o->after == INV_SCN_AFTER_COMMIT ? INV_OP_COMMIT : INV_OP_RELEASE;
    s->op.in.order.order_id = o->order_id;
    fq_push(w, s);
    return true;
}

static void slot_reply(worker *w, slot *s) {
    if (s->t0_ns != 0) {
        hist_add(&w->h, now_ns() - s->t0_ns);
        s->t0_ns = 0;
    }
    bool ok = s->op.status == INV_OK;
    switch (s->op.type) {
    case INV_OP_RESERVE:
        if (reserve_done(w, s)) return;
        break;
    case INV_OP_COMMIT:
        w->c.commit_ok += ok;
        w->c.commit_err += !ok;
        if (ok) w->c.units_committed += s->units;
        break;
    default:
        w->c.release_ok += ok;
        w->c.release_err += !ok;
        if (ok) w->c.units_released += s->units;
        break;
    }
    slot_free(w, s);
}

static void slot_complete(worker *w, slot *s) {
    if (w->b->p != NULL) {
        assert(w->dq_n < w->b->o.window);
        s->ticket = inv_reply_gate_join(w->gate);
        w->dq[(w->dq_head + w->dq_n++) % w->b->o.window] = (uint32_t)(s - w->slots);
        return;
    }
    slot_reply(w, s);
}

static void on_done(void *ctx, inv_op *op) {
    worker *w = ctx;
    assert(w->in_flight > 0);
    assert(op->origin_shard == w->index);
    w->in_flight--;
    slot_complete(w, (slot *)op);
}

/* --wal: reply to the answered ops whose records, and every record their ops could
 * see on other shards, are durable now (tickets up to `ready`). Tickets only grow, so
 * the ready ones are a prefix of the ring: release it and stop at the first op that
 * must wait (as invd's per-log reply FIFOs do) instead of scanning every waiting op on
 * every poll. A reply may submit a follow-up that is answered inline and joins the
 * tail; the loop takes it too once ready. */
static void durable_drain(worker *w, uint64_t ready) {
    uint32_t win = w->b->o.window;
    while (w->dq_n > 0) {
        slot *s = &w->slots[w->dq[w->dq_head]];
        if (s->ticket > ready || !inv_persist_reply_ready(w->b->p, s->op.lsn_shard, s->op.lsn))
            return;
        w->dq_head = (w->dq_head + 1) % win;
        w->dq_n--;
        slot_reply(w, s);
    }
}

static void worker_poll(worker *w) {
    inv_shard_poll(w->shard, on_done, w);
    if (w->b->p == NULL) return;
    inv_wal_flush(inv_persist_wal(w->b->p, w->index));
    durable_drain(w, inv_reply_gate_settle(w->gate));
    /* The next pass: submits and polls until the next worker_poll. */
    inv_persist_pass_enter(w->b->p, w->index);
}

static void worker_poll_cb(void *ctx) { worker_poll(ctx); }

static void slot_submit(worker *w, slot *s) {
    uint32_t busy = 0;
    int rc = inv_shard_submit_retry(w->shard, &s->op, BUSY_TRIES_MAX, worker_poll_cb, w, &busy);
    w->c.busy_retries += busy;
    if (rc == 1) {
        slot_complete(w, s);
    } else if (rc == 0) {
        w->in_flight++;
    } else {
        w->c.submit_failed++;
        slot_free(w, s);
    }
}

static void submit_next_order(worker *w) {
    assert(w->free_n > 0);
    assert(w->next < w->order_count);
    slot *s = &w->slots[w->free_stack[--w->free_n]];
    s->order = w->next++;
    inv_scn_reserve_fill(w->b->s, &w->orders[s->order], TTL_MS, s->lines, &s->op);
    s->t0_ns = (w->submitted++ & SAMPLE_MASK) == 0 ? now_ns() : 0;
    slot_submit(w, s);
}

/* Submit every order (or until the deadline) and collect every answer. */
static void worker_drive(worker *w, uint64_t deadline_ns, uint64_t hard_ns) {
    uint32_t poll_every = w->b->o.poll_every;
    uint64_t iter_max = (uint64_t)w->order_count * 1024u + (1ull << 32);
    if (w->b->p != NULL) inv_persist_pass_enter(w->b->p, w->index); /* the first pass */
    for (uint64_t it = 1; it < iter_max; it++) {
        if (w->fq_head != w->fq_tail) {
            slot_submit(w, &w->slots[w->fq[w->fq_head++ % w->b->o.window]]);
        } else if (w->next < w->order_count && !w->stop && w->free_n > 0) {
            submit_next_order(w);
        } else if (w->in_flight == 0 && w->dq_n == 0 && (w->stop || w->next == w->order_count)) {
            break;
        } else {
            worker_poll(w);
        }
        if (it % poll_every == 0) worker_poll(w);
        if ((it & 1023) == 0) {
            uint64_t t = now_ns();
            if (t > deadline_ns) w->stop = true;
            if (t > hard_ns) {
                w->timed_out = true;
                break;
            }
        }
    }
}

/* Keep answering forwarded ops until every worker is done (bounded by time). */
static void worker_serve_rest(worker *w, uint64_t hard_ns) {
    uint32_t n = w->b->o.threads;
    for (uint64_t it = 0; it < (1ull << 40); it++) {
        if (atomic_load_explicit(&w->b->finished, memory_order_acquire) == n) return;
        worker_poll(w);
        if ((it & 1023) == 0 && now_ns() > hard_ns) {
            w->timed_out = true;
            return;
        }
    }
}

static void pin_to_cpu(uint32_t i) {
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (cores <= 0) return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET((int)(i % (uint32_t)cores), &set);
    (void)pthread_setaffinity_np(pthread_self(), sizeof set, &set); /* best effort */
}

static uint64_t tv_ns(const struct timeval *tv) {
    return (uint64_t)tv->tv_sec * 1000000000ull + (uint64_t)tv->tv_usec * 1000ull;
}

static void *worker_main(void *arg) {
    worker *w = arg;
    pin_to_cpu(w->index);
    pthread_barrier_wait(&w->b->start);
    struct rusage ru0, ru1;
    getrusage(RUSAGE_THREAD, &ru0);
    w->t_start_ns = now_ns();
    uint64_t deadline = w->t_start_ns + (uint64_t)(w->b->o.seconds * 1e9);
    uint64_t hard = deadline + DRAIN_GRACE_NS;
    worker_drive(w, deadline, hard);
    w->t_end_ns = now_ns();
    getrusage(RUSAGE_THREAD, &ru1);
    w->faults = (uint64_t)(ru1.ru_minflt - ru0.ru_minflt);
    w->preempted = (uint64_t)(ru1.ru_nivcsw - ru0.ru_nivcsw);
    w->cpu_ns = tv_ns(&ru1.ru_utime) + tv_ns(&ru1.ru_stime) - tv_ns(&ru0.ru_utime) -
                tv_ns(&ru0.ru_stime);
    atomic_fetch_add_explicit(&w->b->finished, 1, memory_order_acq_rel);
    worker_serve_rest(w, hard);
    return NULL;
}

/* Reset a worker for a new run (its orders stay). */
static int worker_prepare(worker *w, bench *b, uint32_t i) {
    uint32_t win = b->o.window;
    if (w->slots == NULL) {
        w->slots = aligned_alloc(64, ((sizeof(slot) * win + 63) / 64) * 64);
        w->free_stack = malloc(win * sizeof(uint32_t));
        w->fq = malloc(win * sizeof(uint32_t));
        w->dq = malloc(win * sizeof(uint32_t));
        if (!w->slots || !w->free_stack || !w->fq || !w->dq) return -ENOMEM;
        memset(w->slots, 0, sizeof(slot) * win);
    }
    w->b = b;
    w->index = i;
    w->shard = inv_engine_shard(b->e, i);
    w->next = 0;
    w->free_n = 0;
    for (uint32_t k = 0; k < win; k++) w->free_stack[w->free_n++] = win - 1 - k;
    w->fq_head = w->fq_tail = 0;
    w->in_flight = 0;
    w->dq_head = w->dq_n = 0;
    if (b->p != NULL) {
        int rc = inv_reply_gate_open(&w->gate, b->p, i);
        if (rc != 0) return rc;
    }
    w->submitted = 0;
    w->stop = w->timed_out = false;
    memset(&w->c, 0, sizeof w->c);
    memset(&w->h, 0, sizeof w->h);
    return 0;
}

/* ====================================================================================
 * Order generation (once, one thread per worker, before any timing)
 * ==================================================================================== */
typedef struct gen_job {
    bench *b;
    worker *w;
    inv_engine *owner_engine; /* --local: decides which shard owns an id */
    uint32_t index;
    int rc;
} gen_job;

static bool accept_own(void *ctx, const char *order_id) {
    gen_job *j = ctx;
    inv_op op;
    memset(&op, 0, sizeof op);
    op.type = INV_OP_RESERVE;
    op.in.reserve.order_id = order_id;
    return inv_engine_op_owner(j->owner_engine, &op, 0) == j->index;
}

static void *gen_main(void *arg) {
    gen_job *j = arg;
    const bench_opts *o = &j->b->o;
    uint64_t per = o->orders / o->threads, extra = o->orders % o->threads;
    char prefix[16];
    snprintf(prefix, sizeof prefix, "t%u-", j->index);
    inv_scn_order_config oc;
    inv_scn_order_config_default(&oc);
    oc.seed = o->seed * 0x9e3779b97f4a7c15ull + j->index + 1;
    oc.count = (uint32_t)(per + (j->index < extra));
    oc.id_prefix = prefix;
    oc.hot = o->hot;
    oc.hot_sku = j->b->s->flash_first;
    oc.commit_share = 0.70;
    oc.release_share = 0.10;
    if (j->owner_engine != NULL) {
        oc.accept = accept_own;
        oc.accept_ctx = j;
    }
    j->rc = inv_scn_orders_make(j->b->s, &oc, &j->w->orders);
    j->w->order_count = oc.count;
    return NULL;
}

static int orders_generate(bench *b) {
    inv_engine *owner = NULL;
    if (b->o.local) {
        inv_engine_config cfg;
        inv_engine_config_default(&cfg);
        cfg.shards = b->o.threads;
        cfg.reservations_per_shard_max = 1024;
        cfg.tombstones_per_shard_max = 1024;
        if (inv_engine_open(&owner, &cfg) != 0) return -ENOMEM;
    }
    gen_job jobs[INV_SHARDS_MAX];
    pthread_t th[INV_SHARDS_MAX];
    bool started[INV_SHARDS_MAX];
    int rc = 0;
    for (uint32_t i = 0; i < b->o.threads; i++) {
        jobs[i] = (gen_job){.b = b, .w = &b->w[i], .owner_engine = owner, .index = i};
        started[i] = pthread_create(&th[i], NULL, gen_main, &jobs[i]) == 0;
        if (!started[i]) gen_main(&jobs[i]);
    }
    for (uint32_t i = 0; i < b->o.threads; i++) {
        if (started[i]) pthread_join(th[i], NULL);
        if (jobs[i].rc != 0) rc = jobs[i].rc;
    }
    inv_engine_close(owner);
    return rc;
}

/* ====================================================================================
 * One run
 * ==================================================================================== */
typedef struct run_result {
    double seconds, reserve_per_sec, ops_per_sec, cpu_seconds, reserve_per_cpu_sec;
    uint64_t reserves, ok, insufficient, limit, no_route, other;
    uint64_t commits, releases, follow_errors, busy_retries, faults, preempted;
    uint64_t p50_ns, p99_ns, p999_ns, samples;
    uint64_t bytes_per_cell, bytes_per_reservation, live, tombstones, sold_out_fast;
    bool timed_out;
    /* oversell check */
    bool check_ok;
    uint64_t cells_checked, oversold, inconsistent;
    int64_t min_available;
    char check_why[200];
    /* hot SKU */
    int64_t hot_on_hand, hot_reserved, hot_available;
    /* --wal: what the logs of all shards did in the timed phase (and the final settle) */
    inv_wal_stats wal;
} run_result;

static uint64_t limited_orders(const bench *b) {
    uint64_t n = 0;
    for (uint32_t i = 0; i < b->o.threads; i++)
        for (uint32_t k = 0; k < b->w[i].order_count; k++) n += b->w[i].orders[k].flash != 0;
    return n;
}

static int engine_open_sized(bench *b, uint64_t limited) {
    inv_engine_config cfg;
    inv_engine_config_default(&cfg);
    inv_scenario_engine_config(b->s, &cfg);
    cfg.shards = b->o.threads;
    uint64_t per = (b->o.orders + b->o.threads - 1) / b->o.threads;
    uint64_t live = per + per / 8 + 65536;
    if (live > INV_RESERVATIONS_PER_SHARD_MAX) live = INV_RESERVATIONS_PER_SHARD_MAX;
    cfg.reservations_per_shard_max = (uint32_t)live;
    cfg.tombstones_per_shard_max = b->o.mix ? (uint32_t)live : 4096;
    uint64_t lim = limited + limited / 4 + 65536;
    cfg.limit_counters_max = (uint32_t)(lim < (1u << 29) ? lim : (1u << 29));
    cfg.prefault = !b->o.no_prefault;
    if (b->o.wal != NULL) { /* a fresh log directory per run, under DIR (made if missing) */
        inv_persist_options po;
        inv_persist_options_default(&po);
        po.durability = b->o.wal_async_ms ? INV_DURABILITY_ASYNC : INV_DURABILITY_FSYNC;
        po.async_flush_ms = b->o.wal_async_ms;
        po.batch_interval_us = b->o.wal_interval_us;
        snprintf(b->wal_dir, sizeof b->wal_dir, "%s/engine_bench-XXXXXX", b->o.wal);
        if ((mkdir(b->o.wal, 0755) != 0 && errno != EEXIST) || mkdtemp(b->wal_dir) == NULL) {
            int e = errno;
            fprintf(stderr, "engine_bench: --wal %s: cannot make a log directory in it: %s\n",
                    b->o.wal, strerror(e));
            return -e;
        }
        int rc = inv_persist_open(&b->p, b->wal_dir, cfg.shards, &po);
        if (rc != 0) {
            fprintf(stderr, "engine_bench: --wal %s: %s\n", b->wal_dir, strerror(-rc));
            return rc;
        }
        cfg.journal = inv_persist_journal(b->p);
    }
    int rc = inv_engine_open(&b->e, &cfg);
    char err[256] = "";
    if (rc == 0 && b->p != NULL) rc = inv_persist_recover(b->p, b->e, NULL, err, sizeof err);
    return rc;
}

/* --wal: close the run's logs (everything durable) and delete them. */
static void wal_close(bench *b) {
    if (b->p == NULL) return;
    inv_persist_close(b->p);
    b->p = NULL;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", b->wal_dir);
    if (system(cmd) != 0) fprintf(stderr, "engine_bench: could not remove %s\n", b->wal_dir);
}

static void results_collect(bench *b, run_result *r) {
    counts c = {0};
    hist *h = calloc(1, sizeof *h);
    uint64_t t0 = UINT64_MAX, t1 = 0;
    for (uint32_t i = 0; i < b->o.threads; i++) {
        const worker *w = &b->w[i];
        for (uint32_t k = 0; k < INV_STATUS_COUNT; k++) c.reserve[k] += w->c.reserve[k];
        c.commit_ok += w->c.commit_ok;
        c.commit_err += w->c.commit_err;
        c.release_ok += w->c.release_ok;
        c.release_err += w->c.release_err;
        c.submit_failed += w->c.submit_failed;
        c.busy_retries += w->c.busy_retries;
        if (h != NULL) hist_merge(h, &w->h);
        t0 = w->t_start_ns < t0 ? w->t_start_ns : t0;
        t1 = w->t_end_ns > t1 ? w->t_end_ns : t1;
        r->timed_out |= w->timed_out;
        r->faults += w->faults;
        r->preempted += w->preempted;
        r->cpu_seconds += (double)w->cpu_ns / 1e9;
    }
    for (uint32_t k = 0; k < INV_STATUS_COUNT; k++) r->reserves += c.reserve[k];
    r->ok = c.reserve[INV_OK];
    r->insufficient = c.reserve[INV_INSUFFICIENT_STOCK];
    r->limit = c.reserve[INV_LIMIT_EXCEEDED];
    r->no_route = c.reserve[INV_NO_ROUTE];
    r->other = r->reserves - r->ok - r->insufficient - r->limit - r->no_route + c.submit_failed;
    r->commits = c.commit_ok;
    r->releases = c.release_ok;
    r->follow_errors = c.commit_err + c.release_err;
    r->busy_retries = c.busy_retries;
    r->seconds = (double)(t1 - t0) / 1e9;
    r->reserve_per_sec = (double)r->reserves / r->seconds;
    r->reserve_per_cpu_sec = r->cpu_seconds > 0 ? (double)r->reserves / r->cpu_seconds : 0;
    r->ops_per_sec = (double)(r->reserves + c.commit_ok + c.commit_err + c.release_ok +
                              c.release_err) / r->seconds;
    if (h != NULL) {
        r->p50_ns = hist_quantile(h, 0.50);
        r->p99_ns = hist_quantile(h, 0.99);
        r->p999_ns = hist_quantile(h, 0.999);
        r->samples = h->count;
    }
    free(h);
}

/* Σ of a unit counter over the workers. */
static uint64_t units_sum(const bench *b, size_t field_offset) {
    uint64_t n = 0;
    for (uint32_t i = 0; i < b->o.threads; i++)
        n += *(const uint64_t *)((const char *)&b->w[i].c + field_offset);
    return n;
}

static void check_cell(bench *b, const inv_scn_cell *sc, run_result *r, int64_t *sum_res,
                       int64_t *sum_on) {
    inv_cell_view v;
    uint32_t sku = b->idx.sku_engine[sc->sku], node = b->idx.node_engine[sc->node];
    if (inv_engine_cell_read(b->e, sku, node, &v) != 0) {
        r->inconsistent++;
        return;
    }
    r->cells_checked++;
    if (v.available != v.on_hand - v.reserved - v.safety || v.reserved < 0) r->inconsistent++;
    if (v.available < 0) r->oversold++;
    if (v.available < r->min_available) r->min_available = v.available;
    *sum_res += v.reserved;
    *sum_on += v.on_hand;
    if (sc->sku == b->s->flash_first) {
        r->hot_on_hand += v.on_hand;
        r->hot_reserved += v.reserved;
        r->hot_available += v.available;
    }
}

/* --wal, direct mode: make every record durable and apply what they give back (the
 * loaded stock before the run; releases whose records the threads left unapplied). */
static void wal_settle(bench *b) {
    if (b->p == NULL) return;
    inv_persist_sync(b->p);
    inv_engine_credit_durable(b->e);
}

/* Direct mode, after the threads stopped: no cell oversold, and the units the answers
 * reported reserved, committed and released add up to what the cells hold. */
static void check_oversell(bench *b, run_result *r) {
    int64_t sum_res = 0, sum_on = 0;
    r->min_available = INT64_MAX;
    for (uint32_t i = 0; i < b->s->cell_count; i++)
        check_cell(b, &b->s->cells[i], r, &sum_res, &sum_on);
    int64_t reserved = (int64_t)units_sum(b, offsetof(counts, units_reserved));
    int64_t committed = (int64_t)units_sum(b, offsetof(counts, units_committed));
    int64_t released = (int64_t)units_sum(b, offsetof(counts, units_released));
    int64_t want_res = reserved - committed - released;
    int64_t want_on = (int64_t)b->s->units_total - committed;
    inv_engine_stats st;
    inv_engine_stats_read(b->e, &st);
    r->check_ok = r->oversold == 0 && r->inconsistent == 0 && sum_res == want_res &&
                  sum_on == want_on && st.reserves_ok == r->ok;
    snprintf(r->check_why, sizeof r->check_why,
             "oversold %llu, inconsistent %llu, reserved %lld (answers %lld), on_hand %lld "
             "(expected %lld), engine ok %llu (answers %llu)",
             (unsigned long long)r->oversold, (unsigned long long)r->inconsistent,
             (long long)sum_res, (long long)want_res, (long long)sum_on, (long long)want_on,
             (unsigned long long)st.reserves_ok, (unsigned long long)r->ok);
    r->live = st.reservations_live;
    r->sold_out_fast = st.sold_out_fast_path;
    r->tombstones = st.tombstones;
    r->bytes_per_cell = inv_engine_bytes_per_cell();
    r->bytes_per_reservation = st.reservations_live
        ? st.reservation_bytes / st.reservations_live
        : inv_engine_bytes_per_reservation_typical(2, 10, 9);
}

static int threads_run(bench *b) {
    uint32_t n = b->o.threads;
    if (pthread_barrier_init(&b->start, NULL, n + 1) != 0) return -EAGAIN;
    atomic_store(&b->finished, 0);
    uint32_t started = 0;
    for (; started < n; started++)
        if (pthread_create(&b->w[started].th, NULL, worker_main, &b->w[started]) != 0) break;
    if (started < n) { /* cannot start them all: nobody may wait at the barrier */
        fprintf(stderr, "engine_bench: cannot start %u threads\n", n);
        exit(1);
    }
    pthread_barrier_wait(&b->start);
    for (uint32_t i = 0; i < n; i++) pthread_join(b->w[i].th, NULL);
    pthread_barrier_destroy(&b->start);
    return 0;
}

/* --wal: the counters of every shard's log, summed (inv_persist_stats_read); sync_ns_max
 * is the largest over each log's whole life, the scenario load included. */
static void wal_stats_sum(bench *b, inv_wal_stats *out) {
    memset(out, 0, sizeof *out);
    if (b->p != NULL) inv_persist_stats_read(b->p, out);
}

static void wal_stats_since(inv_wal_stats *now, const inv_wal_stats *then) {
    now->records -= then->records;
    now->bytes -= then->bytes;
    now->batches -= then->batches;
    now->syncs -= then->syncs;
    now->sync_ns_total -= then->sync_ns_total;
    now->segments_created -= then->segments_created;
    now->rotate_ns_total -= then->rotate_ns_total;
    now->append_waits -= then->append_waits;
}

static int run_once(bench *b, uint64_t limited, run_result *r) {
    char err[256] = "";
    memset(r, 0, sizeof *r);
    int rc = engine_open_sized(b, limited);
    if (rc != 0) {
        fprintf(stderr, "engine_bench: inv_engine_open: %s\n", strerror(-rc));
        return rc;
    }
    rc = inv_scenario_load(b->s, b->e, &b->idx, err, sizeof err);
    if (rc != 0) fprintf(stderr, "engine_bench: loading the scenario: %s\n", err);
    if (rc == 0) wal_settle(b);
    inv_wal_stats wal_before;
    wal_stats_sum(b, &wal_before);
    for (uint32_t i = 0; rc == 0 && i < b->o.threads; i++) rc = worker_prepare(&b->w[i], b, i);
    if (rc == 0) rc = threads_run(b);
    if (rc == 0) {
        wal_settle(b);
        wal_stats_sum(b, &r->wal);
        wal_stats_since(&r->wal, &wal_before);
        results_collect(b, r);
        check_oversell(b, r);
    }
    for (uint32_t i = 0; i < b->o.threads; i++) {
        inv_reply_gate_close(b->w[i].gate);
        b->w[i].gate = NULL;
    }
    wal_close(b);
    inv_engine_close(b->e);
    b->e = NULL;
    inv_scn_index_free(&b->idx);
    return rc;
}

/* ====================================================================================
 * Reporting
 * ==================================================================================== */
static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median_of(const run_result *r, uint32_t n, size_t off, bool is_u64) {
    double v[RUNS_MAX];
    for (uint32_t i = 0; i < n; i++) {
        const char *p = (const char *)&r[i] + off;
        v[i] = is_u64 ? (double)*(const uint64_t *)p : *(const double *)p;
    }
    qsort(v, n, sizeof v[0], cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The run whose throughput is the median (its counts are the ones reported). */
static uint32_t median_run(const run_result *r, uint32_t n, double med) {
    uint32_t best = 0;
    for (uint32_t i = 1; i < n; i++)
        if (fabs(r[i].reserve_per_sec - med) < fabs(r[best].reserve_per_sec - med)) best = i;
    return best;
}

static const char *mode_name(const bench_opts *o) { return o->hot ? "hot" : "zipf"; }

typedef struct summary {
    double rps, rpcpu, p50, p99, p999;
    const run_result *m;
    bool all_ok;
} summary;

static void summarize(const run_result *r, uint32_t n, summary *s) {
    s->rps = median_of(r, n, offsetof(run_result, reserve_per_sec), false);
    s->rpcpu = median_of(r, n, offsetof(run_result, reserve_per_cpu_sec), false);
    s->p50 = median_of(r, n, offsetof(run_result, p50_ns), true);
    s->p99 = median_of(r, n, offsetof(run_result, p99_ns), true);
    s->p999 = median_of(r, n, offsetof(run_result, p999_ns), true);
    s->m = &r[median_run(r, n, s->rps)];
    s->all_ok = true;
    for (uint32_t i = 0; i < n; i++) s->all_ok &= r[i].check_ok && !r[i].timed_out;
}

static void print_json(const bench *b, const run_result *r, uint32_t n, const summary *s) {
    const bench_opts *o = &b->o;
    const run_result *m = s->m;
    printf("{\"mode\":\"%s\",\"mix\":%s,\"local\":%s,\"prefault\":%s,\"wal\":\"%s\","
           "\"wal_interval_us\":%u,\"threads\":%u,\"runs\":%u,"
           "\"orders\":%llu,\"reserves\":%llu,\"nodes\":%u,\"skus\":%u,\"cells\":%u,",
           mode_name(o), o->mix ? "true" : "false", o->local ? "true" : "false",
           o->no_prefault ? "false" : "true",
           o->wal == NULL ? "none" : o->wal_async_ms ? "async" : "fsync", o->wal_interval_us,
           o->threads, n, (unsigned long long)o->orders, (unsigned long long)m->reserves,
           b->s->node_count, b->s->sku_count, b->s->cell_count);
    if (o->hot)
        printf("\"hot_nodes\":%u,\"hot_stock\":%llu,", b->s->flash_cells[0],
               (unsigned long long)b->s->flash_units[0]);
    printf("\"reserve_per_sec\":%.0f,\"reserve_per_sec_per_thread\":%.0f,"
           "\"ops_per_sec\":%.0f,\"reserve_per_cpu_sec\":%.0f,\"p50_ns\":%.0f,\"p99_ns\":%.0f,"
           "\"p999_ns\":%.0f,",
           s->rps, s->rps / o->threads, m->ops_per_sec, s->rpcpu, s->p50, s->p99, s->p999);
    printf("\"ok\":%llu,\"insufficient\":%llu,\"limit_exceeded\":%llu,\"no_route\":%llu,"
           "\"other_errors\":%llu,\"commits\":%llu,\"releases\":%llu,\"followup_errors\":%llu,",
           (unsigned long long)m->ok, (unsigned long long)m->insufficient,
           (unsigned long long)m->limit, (unsigned long long)m->no_route,
           (unsigned long long)m->other, (unsigned long long)m->commits,
           (unsigned long long)m->releases, (unsigned long long)m->follow_errors);
    printf("\"sold_out_fast_path\":%llu,", (unsigned long long)m->sold_out_fast);
    printf("\"page_faults_timed\":%llu,\"preemptions_timed\":%llu,\"busy_retries\":%llu,",
           (unsigned long long)m->faults, (unsigned long long)m->preempted,
           (unsigned long long)m->busy_retries);
    if (o->wal != NULL)
        printf("\"wal_records\":%llu,\"wal_bytes\":%llu,\"wal_batches\":%llu,"
               "\"wal_sync_ns_avg\":%.0f,\"wal_sync_ns_max\":%llu,\"wal_segments_made\":%llu,"
               "\"wal_rotate_ns\":%llu,\"wal_append_waits\":%llu,",
               (unsigned long long)m->wal.records, (unsigned long long)m->wal.bytes,
               (unsigned long long)m->wal.batches,
               m->wal.batches ? (double)m->wal.sync_ns_total / (double)m->wal.batches : 0.0,
               (unsigned long long)m->wal.sync_ns_max,
               (unsigned long long)m->wal.segments_created,
               (unsigned long long)m->wal.rotate_ns_total,
               (unsigned long long)m->wal.append_waits);
    printf("\"bytes_per_cell\":%llu,\"bytes_per_reservation\":%llu,\"live_reservations\":%llu,"
           "\"seconds\":%.3f,\"oversell_check\":\"%s\",\"runs_reserve_per_sec\":[",
           (unsigned long long)m->bytes_per_cell, (unsigned long long)m->bytes_per_reservation,
           (unsigned long long)m->live, m->seconds, s->all_ok ? "ok" : "FAILED");
    for (uint32_t i = 0; i < n; i++) printf("%s%.0f", i ? "," : "", r[i].reserve_per_sec);
    printf("]}\n");
}

static void print_run_row(uint32_t i, const run_result *r) {
    printf("%3u %8.3f %11.0f %11.0f %6.1f %11llu %8llu %8llu %6llu %7llu %8llu%s\n", i + 1,
           r->seconds, r->reserve_per_sec, r->ops_per_sec,
           r->reserves ? 100.0 * (double)r->ok / (double)r->reserves : 0.0,
           (unsigned long long)r->insufficient, (unsigned long long)r->limit,
           (unsigned long long)r->no_route, (unsigned long long)r->other,
           (unsigned long long)r->p50_ns, (unsigned long long)r->p99_ns,
           r->timed_out ? "  TIMED OUT" : "");
}

static void print_table(const bench *b, const run_result *r, uint32_t n, const summary *s) {
    const bench_opts *o = &b->o;
    const run_result *m = s->m;
    printf("engine_bench  mode=%s%s%s%s  wal=%s (interval %u us)  threads=%u  nodes=%u  "
           "skus=%u  cells=%u  orders=%llu\n",
           mode_name(o), o->mix ? "+mix" : "", o->local ? "+local" : "",
           o->no_prefault ? "+no-prefault" : "",
           o->wal == NULL ? "none" : o->wal_async_ms ? "async" : "fsync", o->wal_interval_us,
           o->threads,
           b->s->node_count, b->s->sku_count, b->s->cell_count,
           (unsigned long long)o->orders);
    printf("run  seconds   reserve/s       ops/s   ok%%  insufficient   limit no_route  other"
           " p50(ns)  p99(ns)\n");
    for (uint32_t i = 0; i < n; i++) print_run_row(i, &r[i]);
    printf("median: %.2f M reserve/s (%.2f M per thread, %.2f M per CPU-second of the shard "
           "threads), p50 %.0f ns, p99 %.0f ns, p99.9 %.0f ns\n", s->rps / 1e6,
           s->rps / o->threads / 1e6, s->rpcpu / 1e6, s->p50, s->p99, s->p999);
    if (o->mix)
        printf("mix: %llu commits, %llu releases, %llu follow-up errors\n",
               (unsigned long long)m->commits, (unsigned long long)m->releases,
               (unsigned long long)m->follow_errors);
    printf("timed phase: %llu minor page faults, %llu preemptions, %llu ring-full retries\n",
           (unsigned long long)m->faults, (unsigned long long)m->preempted,
           (unsigned long long)m->busy_retries);
    if (o->wal != NULL) {
        const inv_wal_stats *w = &m->wal;
        double batches = w->batches ? (double)w->batches : 1.0;
        printf("wal: %llu records, %.1f MB in %llu batches (%.0f records, %.0f KiB each), "
               "batch durable in %.0f us on average (max %.0f us), %llu segments made "
               "(%.1f ms in all), %llu appends waited for the batch in flight\n",
               (unsigned long long)w->records, (double)w->bytes / 1e6,
               (unsigned long long)w->batches, (double)w->records / batches,
               (double)w->bytes / batches / 1024.0, (double)w->sync_ns_total / batches / 1e3,
               (double)w->sync_ns_max / 1e3, (unsigned long long)w->segments_created,
               (double)w->rotate_ns_total / 1e6, (unsigned long long)w->append_waits);
    }
    printf("memory: %llu B per stock cell, %llu B per live reservation (%llu live)\n",
           (unsigned long long)m->bytes_per_cell, (unsigned long long)m->bytes_per_reservation,
           (unsigned long long)m->live);
    if (o->hot)
        printf("hot SKU %s: stock %llu in %u node(s), reserved now %lld, available now %lld\n",
               inv_scn_sku_name(b->s, b->s->flash_first),
               (unsigned long long)b->s->flash_units[0], b->s->flash_cells[0],
               (long long)m->hot_reserved,
               (long long)m->hot_available);
    for (uint32_t i = 0; i < n; i++)
        printf("check run %u: %s — %llu cells read, min available %lld; %s\n", i + 1,
               r[i].check_ok ? "never oversold" : "FAILED",
               (unsigned long long)r[i].cells_checked, (long long)r[i].min_available,
               r[i].check_why);
}

/* ====================================================================================
 * Main
 * ==================================================================================== */
static int scenario_make(bench *b) {
    inv_scenario_config sc;
    inv_scenario_config_default(&sc);
    sc.seed = b->o.seed;
    sc.nodes = b->o.nodes;
    sc.skus = b->o.skus;
    sc.demand_orders = b->o.orders;
    sc.cities_path = b->o.cities;
    if (b->o.hot) {
        /* by default it sells out half-way through: both paths get measured */
        sc.hot_units = b->o.hot_stock ? b->o.hot_stock : b->o.orders / 2;
        sc.hot_nodes = b->o.hot_nodes;
        /* about one order per customer, so the purchase limit rarely decides */
        sc.customers = (uint32_t)(b->o.orders < 50000000 ? b->o.orders : 50000000);
    }
    if (sc.customers < 1000) sc.customers = 1000;
    char err[256] = "";
    int rc = inv_scenario_build(&b->s, &sc, err, sizeof err);
    if (rc != 0) fprintf(stderr, "engine_bench: %s\n", err);
    return rc;
}

static int csv_export(const bench *b) {
    char path[4096], err[256] = "";
    if (mkdir(b->o.write_csv, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "engine_bench: mkdir %s: %s\n", b->o.write_csv, strerror(errno));
        return 1;
    }
    snprintf(path, sizeof path, "%s/nodes.csv", b->o.write_csv);
    int rc = inv_scenario_write_nodes_csv(b->s, path, err, sizeof err);
    snprintf(path, sizeof path, "%s/stock.csv", b->o.write_csv);
    if (rc == 0) rc = inv_scenario_write_stock_csv(b->s, path, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "engine_bench: %s\n", err);
        return 1;
    }
    printf("wrote %s/nodes.csv (%u nodes) and %s/stock.csv (%u cells)\n", b->o.write_csv,
           b->s->node_count, b->o.write_csv, b->s->cell_count);
    return 0;
}

static void bench_free(bench *b) {
    for (uint32_t i = 0; b->w != NULL && i < b->o.threads; i++) {
        free(b->w[i].orders);
        free(b->w[i].slots);
        free(b->w[i].free_stack);
        free(b->w[i].fq);
        free(b->w[i].dq);
    }
    free(b->w);
    inv_scenario_free(b->s);
}

static int bench_runs(bench *b) {
    b->w = aligned_alloc(64, sizeof(worker) * b->o.threads);
    if (b->w == NULL) return 1;
    memset(b->w, 0, sizeof(worker) * b->o.threads);
    if (orders_generate(b) != 0) {
        fprintf(stderr, "engine_bench: generating orders failed\n");
        return 1;
    }
    uint64_t limited = limited_orders(b);
    run_result r[RUNS_MAX];
    for (uint32_t i = 0; i < b->o.runs; i++) {
        if (run_once(b, limited, &r[i]) != 0) return 1;
        if (!b->o.json) fprintf(stderr, "run %u: %.0f reserve/s\n", i + 1, r[i].reserve_per_sec);
    }
    summary s;
    summarize(r, b->o.runs, &s);
    if (b->o.json) print_json(b, r, b->o.runs, &s);
    else print_table(b, r, b->o.runs, &s);
    return s.all_ok ? 0 : 3;
}

int main(int argc, char **argv) {
    bench b;
    memset(&b, 0, sizeof b);
    int rc = opts_parse(&b.o, argc, argv);
    if (rc != 0) return rc == 1 ? 0 : 2;
    if (scenario_make(&b) != 0) return 1;
    rc = b.o.write_csv != NULL ? csv_export(&b) : bench_runs(&b);
    bench_free(&b);
    return rc;
}
