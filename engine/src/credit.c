/*
 * credit.c — what a change gives back reaches the shared counters only once the
 * change's record is durable.
 *
 * Why. Stock cells, purchase-limit counters and node capacity are shared by every
 * shard, but each shard logs only its own changes. If shard A's release put units back
 * at once, shard B could reserve them, B's record could become durable while A's is
 * still in flight, and a crash would recover B's reservation without A's release: a
 * cell with more reserved than on hand (DESIGN.md §10.2, §10.3). So every change that
 * raises what others may take waits in its shard's credit queue, tagged with the LSN
 * of its record, and is applied once the journal says that LSN is durable:
 *   UNTAKE         reserved −= qty: a release or expiry frees its units; a restock or
 *                  return (whose on_hand rose at once together with a matching hold,
 *                  so that on_hand stays exact for the next set_to) lifts the hold
 *   LIMIT_GIVE     a customer's purchase-limit count given back (release, expiry)
 *   CAPACITY_GIVE  a node's daily order count given back (release, expiry)
 *   SAFETY_SET     SetSafety's new value (lower or higher: one FIFO keeps them ordered)
 *   LIMIT_SET      SetLimit's new value, likewise
 * Decreases (a reserve's take, a commit, a negative Adjust) apply at once: a crash that
 * loses them recovers more stock, never less. So every durable record only ever used
 * units whose own records were durable first, and any recovered set of log prefixes is
 * never over-committed. A change's own shard waits too (one queue, one rule).
 *
 * When. Entries are queued in LSN order (this shard's log), so applying pops a prefix.
 * inv_shard_poll and the direct-mode entry points apply what is durable first; a loop
 * that holds replies until durable calls inv_shard_credit_durable after its flush and
 * before it releases them, so a client that got "released" finds the units back.
 * Without a journal, or a journal with no durable_lsn, nothing waits (credit_deferred).
 *
 * Memory: the queue grows by doubling when a burst outruns the log (amortised; it never
 * shrinks) and holds what one or two group commits produce.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "shard_int.h"

#define CREDIT_QUEUE_INITIAL 4096u

int credit_queue_open(inv_shard *s) {
    s->credits = malloc(CREDIT_QUEUE_INITIAL * sizeof *s->credits);
    if (s->credits == NULL) return -ENOMEM;
    s->credit_cap = CREDIT_QUEUE_INITIAL;
    s->credit_head = 0;
    s->credit_count = 0;
    return 0;
}

void credit_queue_close(inv_shard *s) {
    free(s->credits);
    s->credits = NULL;
}

/* Double the ring, unwrapping it. Aborts on allocation failure: an entry may not be
 * dropped (the units would be lost) nor applied early (the crash guarantee). */
static void credit_grow(inv_shard *s) {
    uint32_t cap = s->credit_cap * 2u;
    assert(cap > s->credit_cap);
    credit_entry *q = malloc((size_t)cap * sizeof *q);
    if (q == NULL) abort();
    for (uint32_t i = 0; i < s->credit_count; i++)
        q[i] = s->credits[(s->credit_head + i) & (s->credit_cap - 1u)];
    free(s->credits);
    s->credits = q;
    s->credit_cap = cap;
    s->credit_head = 0;
}

static void credit_apply(inv_engine *e, const credit_entry *c) {
    assert(c->kind >= CREDIT_UNTAKE && c->kind <= CREDIT_LIMIT_SET);
    switch ((credit_kind)c->kind) {
    case CREDIT_UNTAKE: stock_untake(e, c->a, c->b); return;
    case CREDIT_LIMIT_GIVE: limit_give_key(e, c->key, c->b); return;
    case CREDIT_CAPACITY_GIVE: node_capacity_give(e, c->a, c->key); return;
    case CREDIT_SAFETY_SET: stock_safety_set(e, c->a, (int32_t)c->b); return;
    case CREDIT_LIMIT_SET: atomic_store(&sku_at(e, c->a)->limit, c->b); return;
    }
}

void credit_give(inv_shard *s, uint64_t lsn, credit_kind kind, uint32_t a, uint32_t b,
                 uint64_t key) {
    credit_entry c = {.lsn = lsn, .key = key, .a = a, .b = b, .kind = (uint32_t)kind};
    if (!credit_deferred(s)) {
        credit_apply(s->e, &c);
        return;
    }
    assert(lsn > 0);
    if (s->credit_count == s->credit_cap) credit_grow(s);
    assert(s->credit_count == 0 ||
           s->credits[(s->credit_head + s->credit_count - 1u) & (s->credit_cap - 1u)].lsn <= lsn);
    s->credits[(s->credit_head + s->credit_count) & (s->credit_cap - 1u)] = c;
    s->credit_count++;
    atomic_store_explicit(&s->stats.credits_waiting, s->credit_count, memory_order_relaxed);
}

/* Apply queued credits whose LSN ≤ `upto`. @return how many. */
static uint32_t credit_apply_upto(inv_shard *s, uint64_t upto) {
    uint32_t n = 0;
    while (s->credit_count > 0) {
        const credit_entry *c = &s->credits[s->credit_head];
        if (c->lsn > upto) break;
        credit_apply(s->e, c);
        s->credit_head = (s->credit_head + 1u) & (s->credit_cap - 1u);
        s->credit_count--;
        n++;
    }
    if (n > 0)
        atomic_store_explicit(&s->stats.credits_waiting, s->credit_count, memory_order_relaxed);
    return n;
}

uint32_t inv_shard_credit_durable(inv_shard *s) {
    assert(s != NULL);
    if (s->credit_count == 0) return 0;
    const inv_journal *j = &s->e->cfg.journal;
    return credit_apply_upto(s, j->durable_lsn(j->ctx, s->index));
}

uint32_t inv_engine_credit_durable(inv_engine *e) {
    uint32_t n = 0;
    for (uint32_t i = 0; i < e->shard_count; i++) n += inv_shard_credit_durable(e->shards[i]);
    return n;
}

uint32_t inv_engine_credit_all(inv_engine *e) {
    uint32_t n = 0;
    for (uint32_t i = 0; i < e->shard_count; i++) n += credit_apply_upto(e->shards[i], UINT64_MAX);
    return n;
}
