/*
 * shard_loop.c — one shard thread's event loop.
 *
 * A pass:
 *   1. transport poll (waits only when the previous pass found nothing to do):
 *      accepts, received bytes (decoded and submitted at once), send completions;
 *   2. inv_shard_poll: run ops other shards forwarded here, take back completions of
 *      ops this shard forwarded, expire reservations;
 *   3. resubmit ops the forwarding rings refused (-INV_BUSY), in order;
 *   4. flush this shard's WAL (group commit: every record of this pass in one batch);
 *   5. release replies whose WAL record is now durable (per log, in LSN order);
 *   6. unblock connections and send every connection's pending replies at once;
 *   7. wake sleeping peers that may have work from us; timers every 100 ms.
 *
 * Sleeping and waking. Another shard hands us work through the engine's SPSC rings,
 * which do not wake io_uring. Before waiting, a shard sets `sleeping`, then polls the
 * engine once more; a shard that has just forwarded ops (or run ops for others, or seen
 * a log become more durable) clears a sleeping peer's flag and wakes its transport.
 * Both sides use sequentially consistent operations between "publish work" and "check
 * the other's state", so either the sleeper's last poll sees the work or the producer
 * sees the flag (the Dekker pattern).
 *
 * Durability. With durability=fsync a reply waits until op.lsn is durable in log
 * op.lsn_shard (which may be another shard's log), and until every record its op could
 * have seen on any shard is durable (its dependency group: net_wal_pass_settle; an
 * Adjust(set_to) may turn another shard's unlogged commit into its delta). What a
 * durable record gives back (a release's units) is applied before replies on that log
 * are released (net_wal_flush), so a client told "released" finds the units. The engine
 * sets op.lsn for every answer that rests on logged state: the op's own record, or —
 * for an idempotent retry, DUPLICATE_REF, a refusal, a GetReservation — the last record
 * its shard had logged, so no reply reports state that a crash could still take back.
 * Availability and node lists carry no LSN and leave at once. Waiting replies sit in one
 * FIFO per log; LSNs and groups in a FIFO only grow, so each pass releases a prefix.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "net_int.h"

uint64_t net_mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t net_wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void shard_warn(net_shard *sh, const char *fmt, ...) {
    uint64_t sec = sh->now_ms / 1000u;
    if (sec != sh->warn_second) {
        if (sh->warn_suppressed > 0)
            net_log_shard(INV_LOG_WARN, sh->index, "%llu similar warnings suppressed",
                          (unsigned long long)sh->warn_suppressed);
        sh->warn_second = sec;
        sh->warn_budget = INV_NET_WARN_PER_SEC_MAX;
        sh->warn_suppressed = 0;
    }
    if (sh->warn_budget == 0) {
        sh->warn_suppressed++;
        return;
    }
    sh->warn_budget--;
    char msg[INV_NET_LOG_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    net_log_shard(INV_LOG_WARN, sh->index, "%s", msg);
}

/* ====================================================================================
 * Completions and durability
 * ==================================================================================== */

void conn_op_complete(net_shard *sh, net_slot *s) {
    net_server *srv = sh->srv;
    assert(s->state == NET_SLOT_DECODED || s->state == NET_SLOT_FORWARDED ||
           s->state == NET_SLOT_BUSY);
    assert(s->op.lsn_shard < srv->shard_count);
    /* The engine names the record an answer rests on: the op's own, or (a retry, a
     * DUPLICATE_REF, a refusal, a GET) the last one its shard had logged. */
    uint32_t j = s->op.lsn_shard;
    uint64_t lsn = s->op.lsn;
    if (srv->wal != NULL && srv->cfg.durability == INV_SERVER_FSYNC && lsn != 0) {
        s->wait_lsn = lsn;
        s->wait_group = net_wal_dep_join(srv, sh->index);
        s->state = NET_SLOT_DURABLE_WAIT;
        slotq_push(&sh->durable_wait[j], s);
        sh->durable_waiting++;
        return;
    }
    conn_reply(sh, s);
}

static void shard_engine_done(void *ctx, inv_op *op) {
    net_shard *sh = ctx;
    net_slot *s = op->user;
    assert(s != NULL && &s->op == op);
    conn_op_complete(sh, s);
}

static uint32_t shard_durable_release(net_shard *sh) {
    assert(sh->durable_waiting <= sh->slots_used);
    if (sh->durable_waiting == 0) return 0;
    uint32_t n = 0;
    for (uint32_t j = 0; j < sh->srv->shard_count; j++) {
        net_slot_queue *q = &sh->durable_wait[j];
        if (q->len == 0) continue;
        uint64_t durable = net_wal_durable_lsn(sh->srv, j);
        for (uint32_t k = 0; k < sh->slot_count && q->head != NULL; k++) {
            if (q->head->wait_lsn > durable || q->head->wait_group > sh->group_ready) break;
            conn_reply(sh, slotq_pop(q));
            n++;
        }
    }
    assert(n <= sh->durable_waiting);
    sh->durable_waiting -= n;
    return n;
}

/* Resubmit refused ops in order; stop at the first that is refused again. */
static uint32_t shard_busy_retry(net_shard *sh) {
    assert(sh->busy.len <= sh->slots_used);
    uint32_t n = 0;
    for (uint32_t k = 0; k < sh->slot_count && sh->busy.head != NULL; k++) {
        net_slot *s = sh->busy.head;
        int rc = inv_shard_submit(sh->es, &s->op);
        if (rc == -(int)INV_BUSY) break;
        slotq_pop(&sh->busy);
        n++;
        if (rc == 1) {
            conn_op_complete(sh, s);
        } else {
            s->state = NET_SLOT_FORWARDED;
            sh->forwarded++;
        }
    }
    return n;
}

static void shard_wake_peers(net_shard *sh) {
    assert(sh->srv->shard_count <= INV_SHARDS_MAX);
    atomic_thread_fence(memory_order_seq_cst);
    for (uint32_t j = 0; j < sh->srv->shard_count; j++) {
        net_shard *p = sh->srv->shards[j];
        if (p == sh || atomic_load(&p->sleeping) == 0) continue;
        if (atomic_exchange(&p->sleeping, 0) != 0) p->tt->wake(p->t);
    }
}

/* ====================================================================================
 * The pass
 * ==================================================================================== */

static void shard_dispatch(net_shard *sh, const inv_transport_event *ev) {
    assert(ev->type >= INV_TEV_ACCEPT && ev->type <= INV_TEV_CLOSED);
    assert(ev->conn < sh->conn_cap);
    switch (ev->type) {
    case INV_TEV_ACCEPT: conn_on_accept(sh, ev->conn); break;
    case INV_TEV_DATA: conn_on_data(sh, ev->conn, ev->data, ev->len); break;
    case INV_TEV_EOF: conn_on_eof(sh, ev->conn, ev->result); break;
    case INV_TEV_SENT: conn_on_sent(sh, ev->conn, ev->result); break;
    case INV_TEV_CLOSED: conn_on_closed(sh, ev->conn); break;
    default: break;
    }
}

static void shard_gauges(net_shard *sh) {
    assert(sh->slots_used <= sh->slot_count);
    NET_METRIC_SET(sh->m.conns_open, sh->open_count);
    NET_METRIC_SET(sh->m.slots_used, sh->slots_used);
    NET_METRIC_SET(sh->m.busy_depth, sh->busy.len);
    NET_METRIC_SET(sh->m.durable_wait_depth, sh->durable_waiting);
    NET_METRIC_SET(sh->m.heartbeat_ms, sh->now_ms);
    NET_METRIC_ADD(sh->m.loop_passes, 1);
}

uint32_t shard_loop_pass(net_shard *sh, uint32_t timeout_us) {
    assert(sh->t != NULL);
    assert(timeout_us <= INV_NET_SLEEP_MS_MAX * 1000u);
    int n = sh->tt->poll(sh->t, sh->events, INV_NET_CQE_BATCH_MAX, timeout_us);
    atomic_store(&sh->sleeping, 0);
    sh->now_ns = net_mono_ns();
    sh->now_ms = sh->now_ns / 1000000u;
    net_wal_pass_enter(sh->srv, sh->index);
    if (n < 0) {
        net_log_shard(INV_LOG_ERROR, sh->index, "transport poll failed: %s", strerror(-n));
        n = 0;
    }
    for (int i = 0; i < n; i++) shard_dispatch(sh, &sh->events[i]);
    uint32_t engine = inv_shard_poll(sh->es, shard_engine_done, sh);
    uint32_t handled = (uint32_t)n + engine + shard_busy_retry(sh);
    int wal = net_wal_flush(sh->srv, sh->index);
    sh->group_ready = net_wal_pass_settle(sh->srv, sh->index);
    handled += shard_durable_release(sh);
    conn_flush_all(sh);
    if (sh->forwarded > 0 || engine > 0 || wal > 0) shard_wake_peers(sh);
    sh->forwarded = 0;
    if (sh->now_ms >= sh->next_tick_ms) {
        conn_timers(sh);
        sh->next_tick_ms = sh->now_ms + INV_NET_TIMER_TICK_MS;
    }
    shard_gauges(sh);
    return handled + (uint32_t)(wal > 0);
}

/* How long (µs) the next pass may wait; 0 when something is pending after all. */
static uint32_t shard_sleep_budget(net_shard *sh) {
    assert(atomic_load(&sh->sleeping) == 0);
    if (sh->busy.len > 0 || sh->dirty_count > 0) return 0;
    atomic_store(&sh->sleeping, 1);
    atomic_thread_fence(memory_order_seq_cst);
    net_wal_pass_enter(sh->srv, sh->index);
    uint32_t ran = inv_shard_poll(sh->es, shard_engine_done, sh);
    /* Publish again before sleeping, so peers never wait on this unsettled pass. */
    sh->group_ready = net_wal_pass_settle(sh->srv, sh->index);
    if (ran > 0) {
        atomic_store(&sh->sleeping, 0);
        shard_wake_peers(sh);
        return 0;
    }
    /* Durable LSNs advance only when a shard reaps its log's ring: look again soon while
     * a batch is in flight here or a reply waits on some log. */
    if (sh->durable_waiting > 0 || net_wal_busy(sh->srv, sh->index)) return INV_NET_WAL_POLL_US;
    uint32_t budget = INV_NET_SLEEP_MS_MAX * 1000u;
    uint64_t now = net_mono_ns() / 1000u, tick = sh->next_tick_ms * 1000u;
    if (tick > now && tick - now < budget) budget = (uint32_t)(tick - now);
    return budget;
}

/* ====================================================================================
 * Snapshot barrier
 * ==================================================================================== */

#define SNAP_WAIT_NS (50u * 1000u)      /* parked shards look again this often */
#define SNAP_BARRIER_NS (5000000000ull) /* give up gathering the shards after 5 s */

static void snap_nap(void) {
    struct timespec ts = {0, SNAP_WAIT_NS};
    nanosleep(&ts, NULL);
}

/* Any shard: when shard 0 asks, stop between passes until the snapshot has forked. The
 * engine is then quiescent (no shard is inside it), as inv_persist_snapshot_start needs. */
static void snap_park(net_shard *sh) {
    net_server *srv = sh->srv;
    if (sh->index == 0 || atomic_load(&srv->snap_phase) == 0) return;
    atomic_fetch_add(&srv->snap_parked, 1);
    for (uint64_t t0 = net_mono_ns(); atomic_load(&srv->snap_phase) != 0;) {
        if (net_mono_ns() - t0 > 2 * SNAP_BARRIER_NS) break; /* shard 0 is gone: go on */
        snap_nap();
    }
    atomic_fetch_sub(&srv->snap_parked, 1);
}

/* Shard 0, on its timer tick: take a snapshot when one is due. */
static void snap_maybe(net_shard *sh) {
    net_server *srv = sh->srv;
    assert(sh->index == 0);
    net_wal_snapshot_poll(srv);
    if (sh->stopping || !net_wal_snapshot_due(srv)) return;
    atomic_store(&srv->snap_phase, 1);
    for (uint32_t j = 1; j < srv->shard_count; j++) srv->shards[j]->tt->wake(srv->shards[j]->t);
    uint64_t t0 = net_mono_ns();
    while (atomic_load(&srv->snap_parked) < srv->shard_count - 1 &&
           net_mono_ns() - t0 < SNAP_BARRIER_NS)
        snap_nap();
    if (atomic_load(&srv->snap_parked) == srv->shard_count - 1) net_wal_snapshot_start(srv);
    else net_log_shard(INV_LOG_WARN, 0, "snapshot skipped: shards did not park in time");
    atomic_store(&srv->snap_phase, 0);
}

/* ====================================================================================
 * Thread
 * ==================================================================================== */

static void shard_pin(net_shard *sh) {
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    char name[16];
    snprintf(name, sizeof name, "invd-shard-%u", sh->index);
    pthread_setname_np(pthread_self(), name);
    if (!sh->srv->cfg.pin || ncpu <= 0) return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET((int)(sh->index % (uint32_t)ncpu), &set);
    int rc = pthread_setaffinity_np(pthread_self(), sizeof set, &set);
    if (rc != 0) net_log_shard(INV_LOG_WARN, sh->index, "cannot pin to a CPU: %s", strerror(rc));
}

/* Drain state machine: returns true when the loop may end. */
static bool shard_drain_step(net_shard *sh) {
    assert(sh->srv->shard_count > 0);
    net_server *srv = sh->srv;
    if (!sh->stopping) {
        if (atomic_load(&srv->stop) == 0) return false;
        sh->stopping = true;
        sh->tt->accept_stop(sh->t);
        conn_drain_begin(sh);
        net_log_shard(INV_LOG_INFO, sh->index, "draining: %u requests in flight", sh->slots_used);
    }
    if (!sh->drained_reported && sh->busy.len == 0 && sh->durable_waiting == 0 &&
        conn_all_idle(sh)) {
        sh->drained_reported = true;
        atomic_fetch_add(&srv->drained, 1);
        shard_wake_peers(sh);
    }
    bool all = atomic_load(&srv->drained) == srv->shard_count;
    return all || sh->now_ms > atomic_load(&srv->drain_deadline_ms);
}

/* Close every connection and wait (bounded) for the transport to confirm. */
static void shard_close_all(net_shard *sh) {
    assert(sh->stopping || atomic_load(&sh->srv->stop));
    for (uint32_t i = 0; i < sh->open_count; i++) conn_close(sh, sh->open[i], NET_CLOSE_SHUTDOWN);
    uint64_t deadline = net_mono_ns() / 1000000u + 1000u;
    for (uint32_t pass = 0; pass < 10000 && sh->open_count > 0; pass++) {
        shard_loop_pass(sh, 10000);
        if (sh->now_ms > deadline) break;
    }
}

void *shard_thread_main(void *arg) {
    net_shard *sh = arg;
    net_server *srv = sh->srv;
    shard_pin(sh);
    uint32_t timeout = 0;
    uint64_t spin_ns = (uint64_t)sh->srv->cfg.spin_us * 1000u, last_work_ns = 0;
    for (;;) { /* bounded by the stop flag and the drain deadline */
        uint32_t handled = shard_loop_pass(sh, timeout);
        if (shard_drain_step(sh)) break;
        snap_park(sh);
        if (sh->index == 0 && sh->now_ms >= sh->next_snap_check_ms) {
            snap_maybe(sh);
            sh->next_snap_check_ms = sh->now_ms + INV_NET_TIMER_TICK_MS;
        }
        if (handled > 0) last_work_ns = sh->now_ns;
        /* Busy a moment ago: poll again at once rather than pay a sleep and a wake-up
         * for the replies and requests that are surely about to arrive. */
        bool spin = sh->now_ns - last_work_ns < spin_ns;
        timeout = handled > 0 || spin ? 0 : shard_sleep_budget(sh);
        if (sh->stopping && timeout > 10000) timeout = 10000;
    }
    if (!sh->drained_reported)
        net_log_shard(INV_LOG_WARN, sh->index, "drain timed out: %u requests dropped",
                      sh->slots_used);
    shard_close_all(sh);
    if (sh->index == 0) net_wal_snapshot_finish(srv); /* it forked the snapshot child */
    atomic_fetch_add(&srv->exited, 1);
    return NULL;
}
