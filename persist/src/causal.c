/*
 * causal.c — cross-shard causality of replies (inv_persist.h, "Cross-shard causality").
 *
 * Per shard: pass_seq (the pass being run; written by the shard's thread before any
 * effect of the pass), pass_safe (every record appended through that pass is durable)
 * and a small ring of passes whose records are still in flight, each with the last LSN
 * appended by its end. Settling pops the passes whose LSN is durable. When the ring is
 * full the newest entry absorbs the next pass (its records become durable no earlier),
 * so the ring never blocks and a pass is never declared safe too early.
 *
 * Memory order: enter stores pass_seq, then a sequentially consistent fence, before the
 * pass touches any shared cell or counter; capture issues a fence after the op's last
 * read of shared state, then loads pass_seq. If the op read a value written in shard
 * A's pass P, the fences synchronise and the load sees at least P.
 */
#include <assert.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "persist_int.h"

void persist_causal_init(inv_persist *p) {
    for (uint32_t s = 0; s < INV_SHARDS_MAX; s++) {
        atomic_init(&p->causal[s].pass_seq, 1);
        atomic_init(&p->causal[s].pass_safe, 0);
    }
}

void inv_persist_pass_enter(inv_persist *p, uint32_t shard) {
    assert(shard < p->shard_count);
    persist_causal *c = &p->causal[shard];
    uint64_t next = atomic_load_explicit(&c->pass_seq, memory_order_relaxed) + 1;
    atomic_store_explicit(&c->pass_seq, next, memory_order_relaxed);
    atomic_thread_fence(memory_order_seq_cst);
}

static void causal_note_pending(persist_causal *c, uint64_t pass, uint64_t lsn) {
    if (c->count > 0) {
        persist_pass_lsn *tail =
            &c->pending[(c->head + c->count - 1) % PERSIST_PASS_PENDING_MAX];
        assert(tail->pass <= pass && tail->lsn <= lsn);
        /* Same records (nothing appended since), or no room: the tail covers this pass. */
        if (tail->lsn == lsn || c->count == PERSIST_PASS_PENDING_MAX) {
            tail->pass = pass;
            tail->lsn = lsn;
            return;
        }
    }
    c->pending[(c->head + c->count) % PERSIST_PASS_PENDING_MAX] =
        (persist_pass_lsn){.pass = pass, .lsn = lsn};
    c->count++;
}

void inv_persist_pass_settle(inv_persist *p, uint32_t shard) {
    assert(shard < p->shard_count && p->wal[shard] != NULL);
    persist_causal *c = &p->causal[shard];
    const inv_wal *w = p->wal[shard];
    uint64_t pass = atomic_load_explicit(&c->pass_seq, memory_order_relaxed);
    uint64_t last = inv_wal_last_lsn(w);
    uint64_t durable = inv_wal_durable_lsn(w);
    if (last > durable) causal_note_pending(c, pass, last);
    uint64_t safe = atomic_load_explicit(&c->pass_safe, memory_order_relaxed);
    while (c->count > 0 && c->pending[c->head].lsn <= durable) {
        safe = c->pending[c->head].pass;
        c->head = (c->head + 1) % PERSIST_PASS_PENDING_MAX;
        c->count--;
    }
    if (c->count == 0) safe = pass; /* everything appended so far is durable */
    assert(safe >= atomic_load_explicit(&c->pass_safe, memory_order_relaxed));
    atomic_store_explicit(&c->pass_safe, safe, memory_order_release);
}

void inv_persist_deps_capture(const inv_persist *p, inv_persist_deps *d) {
    atomic_thread_fence(memory_order_seq_cst);
    d->shards = p->shard_count;
    for (uint32_t s = 0; s < p->shard_count; s++)
        d->pass[s] = atomic_load_explicit(&p->causal[s].pass_seq, memory_order_relaxed);
}

bool inv_persist_deps_ready(const inv_persist *p, const inv_persist_deps *d) {
    assert(d->shards == p->shard_count);
    if (p->opt.durability == INV_DURABILITY_ASYNC) return true;
    for (uint32_t s = 0; s < d->shards; s++)
        if (atomic_load_explicit(&p->causal[s].pass_safe, memory_order_acquire) < d->pass[s])
            return false;
    return true;
}

/* ====================================================================================
 * Reply gate: one dependency capture per pass, tickets in order.
 * ==================================================================================== */

#define GATE_GROUPS_MAX 16u /* passes with waiting replies in flight per shard */

typedef struct gate_group {
    uint64_t ticket;
    inv_persist_deps deps;
} gate_group;

struct inv_reply_gate {
    inv_persist *p;
    uint32_t shard;
    /* Groups in flight, oldest first. When the ring is full the newest group absorbs the
     * next pass: captured later, it waits no less than that pass's own capture would. */
    gate_group groups[GATE_GROUPS_MAX];
    uint32_t head, count;
    uint64_t next;  /* the ticket replies completing in this pass get */
    uint64_t ready; /* every ticket up to this one may leave */
    bool joined;    /* some reply took `next` this pass */
};

int inv_reply_gate_open(inv_reply_gate **out, inv_persist *p, uint32_t shard) {
    assert(shard < p->shard_count);
    inv_reply_gate *g = calloc(1, sizeof *g);
    if (g == NULL) return -ENOMEM;
    g->p = p;
    g->shard = shard;
    g->next = 1;
    *out = g;
    return 0;
}

void inv_reply_gate_close(inv_reply_gate *g) { free(g); }

uint64_t inv_reply_gate_join(inv_reply_gate *g) {
    g->joined = true;
    return g->next;
}

uint64_t inv_reply_gate_settle(inv_reply_gate *g) {
    inv_persist_pass_settle(g->p, g->shard);
    if (g->joined) {
        uint32_t at = g->count < GATE_GROUPS_MAX ? g->head + g->count++ : g->head + g->count - 1;
        gate_group *grp = &g->groups[at % GATE_GROUPS_MAX];
        grp->ticket = g->next++;
        inv_persist_deps_capture(g->p, &grp->deps);
        g->joined = false;
    }
    while (g->count > 0 && inv_persist_deps_ready(g->p, &g->groups[g->head].deps)) {
        g->ready = g->groups[g->head].ticket;
        g->head = (g->head + 1) % GATE_GROUPS_MAX;
        g->count--;
    }
    return g->ready;
}
