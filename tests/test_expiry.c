/*
 * test_expiry.c — TTLs on an injectable clock: HELD → EXPIRED exactly when due.
 *
 * Covers (DESIGN.md §3 "expiry (timer)", resv.c, timer.c): a reservation is HELD until
 * expires_at and EXPIRED from expires_at on (the wheel collects due_ms ≤ now), through
 * inv_engine_expire, with its units given back; a commit / extend of an order whose time
 * has passed answers EXPIRED even before the timer ran, and the timer then does not
 * expire it twice; release of an expired order is OK; Extend moves the expiry to
 * now + ttl (earlier expiry times then pass without effect); many reservations created
 * over time with varied TTLs — sub-tick, on and around 8 ms slot edges, sharing slots,
 * beyond the 131 s wheel span, up to a day — each expire at exactly their time, checked
 * against a model at every due time and one millisecond before; a clock jump past the
 * whole wheel; more due at once than one expiry batch.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_support.h"

#define T0_MS 1731200000000ull /* a multiple of the 8 ms slot */

static test_clock clk = {T0_MS};
static inv_engine *e;

static void open_with(uint32_t shards, uint32_t stock) {
    clk.now_ms = T0_MS;
    inv_engine_config cfg;
    test_config_small(&cfg, shards);
    cfg.clock = test_clock_read;
    cfg.clock_ctx = &clk;
    /* tombstones outlive the longest TTL here, so every order still answers GET */
    cfg.idempotency_window_ms = 3 * INV_TTL_MS_MAX;
    e = test_engine_open_config(&cfg);
    T_STATUS(t_upsert_node(e, "sh", INV_NODE_WAREHOUSE, T_DEST_LAT, T_DEST_LON, 0, 0), INV_OK);
    T_STATUS(t_adjust(e, "sh", "tea", stock), INV_OK);
}
static void setup(void) { open_with(2, 100); }
static void teardown(void) {
    if (e != NULL) inv_engine_close(e);
    e = NULL;
}

TestSuite(expiry, .init = setup, .fini = teardown);

static int64_t tea_reserved(void) { return t_cell(e, "sh", "tea").reserved; }

static void expect_state(const char *order, inv_resv_state state) {
    T_STATUS(t_get(e, order), INV_OK);
    cr_assert_eq(last_op.out.reservation.state, state, "%s is %s, expected %s", order,
                 inv_resv_state_name(last_op.out.reservation.state), inv_resv_state_name(state));
}

Test(expiry, held_until_expires_at_then_expired) {
    T_STATUS(t_reserve1(e, "o1", "c1", "tea", 3, 1000), INV_OK);
    T_EQU(last_op.out.reservation.expires_at_ms, T0_MS + 1000);
    clk.now_ms = T0_MS + 999;
    T_EQU(inv_engine_expire(e), 0);
    expect_state("o1", INV_RESV_HELD);
    T_EQ(tea_reserved(), 3);
    clk.now_ms = T0_MS + 1000;
    T_EQU(inv_engine_expire(e), 1);
    expect_state("o1", INV_RESV_EXPIRED);
    cr_assert(last_op.out.reservation.is_tombstone);
    T_EQ(tea_reserved(), 0);
    T_EQ(t_cell(e, "sh", "tea").on_hand, 100);
    inv_engine_stats st = t_stats(e);
    T_EQU(st.expirations, 1);
    T_EQU(st.reservations_live, 0);
    T_EQU(st.tombstones, 1);
    clk.now_ms += 100000;
    T_EQU(inv_engine_expire(e), 0); /* never twice */
    T_EQU(t_stats(e).expirations, 1);
}

Test(expiry, commit_of_expired_order_before_the_timer_ran) {
    T_STATUS(t_reserve1(e, "o1", "c1", "tea", 4, 5000), INV_OK);
    clk.now_ms = T0_MS + 4999;
    T_STATUS(t_reserve1(e, "o2", "c1", "tea", 1, 1), INV_OK); /* due at T0 + 5000 too */
    clk.now_ms = T0_MS + 5000; /* due, no inv_engine_expire yet */
    T_STATUS(t_commit(e, "o1"), INV_EXPIRED);
    cr_assert_neq(last_op.message[0], '\0');
    T_EQ(last_op.out.reservation.state, INV_RESV_EXPIRED);
    T_EQ(tea_reserved(), 1);
    T_EQ(t_cell(e, "sh", "tea").on_hand, 100);
    expect_state("o1", INV_RESV_EXPIRED);
    T_STATUS(t_commit(e, "o1"), INV_EXPIRED); /* and stays so */
    T_STATUS(t_release(e, "o1"), INV_OK);
    T_EQ(last_op.out.reservation.state, INV_RESV_EXPIRED);
    /* the timer expires only o2 now */
    T_EQU(inv_engine_expire(e), 1);
    T_EQ(tea_reserved(), 0);
    T_EQU(t_stats(e).expirations, 2);
    T_EQU(t_stats(e).commits, 0);
}

Test(expiry, commit_one_ms_before_expiry_succeeds) {
    T_STATUS(t_reserve1(e, "o1", "c1", "tea", 4, 5000), INV_OK);
    clk.now_ms = T0_MS + 4999;
    T_STATUS(t_commit(e, "o1"), INV_OK);
    clk.now_ms = T0_MS + 6000;
    T_EQU(inv_engine_expire(e), 0);
    expect_state("o1", INV_RESV_COMMITTED);
    T_EQ(t_cell(e, "sh", "tea").on_hand, 96);
    T_EQ(tea_reserved(), 0);
}

Test(expiry, extend_of_expired_order) {
    T_STATUS(t_reserve1(e, "o1", "c1", "tea", 2, 1000), INV_OK);
    T_STATUS(t_reserve1(e, "o2", "c1", "tea", 2, 1000), INV_OK);
    clk.now_ms = T0_MS + 1000;
    T_STATUS(t_extend(e, "o1", 60000), INV_EXPIRED); /* before the timer */
    T_EQ(tea_reserved(), 2);
    T_EQU(inv_engine_expire(e), 1);
    T_STATUS(t_extend(e, "o2", 60000), INV_EXPIRED); /* after the timer */
    T_EQ(tea_reserved(), 0);
    expect_state("o1", INV_RESV_EXPIRED);
    expect_state("o2", INV_RESV_EXPIRED);
}

/* Release once the time has passed but before the timer: OK and the units come back
 * once (the state reported may be RELEASED or EXPIRED; the counters are exact). */
Test(expiry, release_after_due_before_timer) {
    T_STATUS(t_reserve1(e, "o1", "c1", "tea", 2, 1000), INV_OK);
    clk.now_ms = T0_MS + 2000;
    T_STATUS(t_release(e, "o1"), INV_OK);
    inv_resv_state st = last_op.out.reservation.state;
    cr_assert(st == INV_RESV_RELEASED || st == INV_RESV_EXPIRED, "state %s",
              inv_resv_state_name(st));
    T_EQ(tea_reserved(), 0);
    T_EQU(inv_engine_expire(e), 0);
    T_EQ(tea_reserved(), 0);
    inv_engine_stats s = t_stats(e);
    T_EQU(s.releases + s.expirations, 1);
}

Test(expiry, extend_pushes_expiry) {
    T_STATUS(t_reserve1(e, "o1", "c1", "tea", 1, 1000), INV_OK);
    clk.now_ms = T0_MS + 500;
    T_STATUS(t_extend(e, "o1", 1000), INV_OK);
    T_EQU(last_op.out.reservation.expires_at_ms, T0_MS + 1500);
    clk.now_ms = T0_MS + 1000; /* the old expiry passes without effect */
    T_EQU(inv_engine_expire(e), 0);
    clk.now_ms = T0_MS + 1499;
    T_EQU(inv_engine_expire(e), 0);
    expect_state("o1", INV_RESV_HELD);
    T_STATUS(t_extend(e, "o1", 200000), INV_OK); /* past the wheel span */
    T_EQU(last_op.out.reservation.expires_at_ms, T0_MS + 1499 + 200000);
    clk.now_ms = T0_MS + 1499 + 131072; /* one full turn later: same slot, not due */
    T_EQU(inv_engine_expire(e), 0);
    clk.now_ms = T0_MS + 1499 + 199999;
    T_EQU(inv_engine_expire(e), 0);
    expect_state("o1", INV_RESV_HELD);
    clk.now_ms = T0_MS + 1499 + 200000;
    T_EQU(inv_engine_expire(e), 1);
    expect_state("o1", INV_RESV_EXPIRED);
    T_EQ(tea_reserved(), 0);
}

/* Bug pinned: timer.c timer_collect marked a tick done after walking it while an entry of
 * that tick was not yet due (due later within the same 8 ms), so that entry was skipped
 * until the wheel came round again, 131 s late. */
Test(expiry, regression_due_later_within_a_walked_tick_is_not_missed) {
    T_STATUS(t_reserve1(e, "o1", "c1", "tea", 1, 13), INV_OK); /* due T0 + 13: tick +1 */
    clk.now_ms = T0_MS + 9; /* walks tick +1, o1 not due yet */
    T_EQU(inv_engine_expire(e), 0);
    clk.now_ms = T0_MS + 13;
    T_EQU(inv_engine_expire(e), 1);
    expect_state("o1", INV_RESV_EXPIRED);
    T_EQ(tea_reserved(), 0);
}

/* Bug pinned: timer.c collect_slot bounded its walk by `guard <= w->count` while removing
 * entries (count shrinks), so a slot holding most of the wheel's entries was only
 * partly collected and the rest waited a full turn. */
Test(expiry, regression_many_due_in_one_slot_all_expire) {
    char id[16];
    for (uint32_t i = 0; i < 10; i++) {
        snprintf(id, sizeof id, "o%u", i);
        T_STATUS(t_reserve1(e, id, "c1", "tea", 1, 1000), INV_OK);
    }
    T_EQ(tea_reserved(), 10);
    clk.now_ms = T0_MS + 1000;
    T_EQU(inv_engine_expire(e), 10);
    T_EQ(tea_reserved(), 0);
    T_EQU(t_stats(e).reservations_live, 0);
}

/* ---- model-checked expiry of many reservations --------------------------------------- */

#define MANY 900u
static const uint64_t ttls[] = {
    1, 2, 7, 8, 9, 13, 15, 16, 17, 100, 999, 1000, 1001, 8191, 65536,
    131071, 131072, 131073, 131079, 200000, 262144, 262151, 400000, 86399998, /* +0..2 */
};
#define TTL_KINDS (sizeof ttls / sizeof ttls[0])

typedef struct model_resv {
    char id[16];
    uint64_t due_ms;
    uint32_t qty;
    bool expired;
} model_resv;
static model_resv model[MANY];
static uint32_t model_count;

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Expire at clk.now_ms and check the engine against the model. */
static void expire_and_check(bool check_states) {
    uint32_t want = 0;
    int64_t held = 0;
    for (uint32_t i = 0; i < model_count; i++) {
        if (!model[i].expired && model[i].due_ms <= clk.now_ms) {
            model[i].expired = true;
            want++;
        }
        if (!model[i].expired) held += model[i].qty;
    }
    uint32_t got = inv_engine_expire(e);
    cr_assert_eq(got, want, "at T0+%llu ms: expired %u, expected %u",
                 (unsigned long long)(clk.now_ms - T0_MS), got, want);
    cr_assert_eq(tea_reserved(), held, "at T0+%llu ms: reserved %lld, expected %lld",
                 (unsigned long long)(clk.now_ms - T0_MS), (long long)tea_reserved(),
                 (long long)held);
    if (!check_states) return;
    for (uint32_t i = 0; i < model_count; i++) {
        T_STATUS(t_get(e, model[i].id), INV_OK);
        inv_resv_state want_state = model[i].expired ? INV_RESV_EXPIRED : INV_RESV_HELD;
        cr_assert_eq(last_op.out.reservation.state, want_state,
                     "%s (due T0+%llu) at T0+%llu is %s", model[i].id,
                     (unsigned long long)(model[i].due_ms - T0_MS),
                     (unsigned long long)(clk.now_ms - T0_MS),
                     inv_resv_state_name(last_op.out.reservation.state));
    }
}

Test(expiry, many_ttls_expire_exactly_when_due, .timeout = 120) {
    inv_engine_close(e);
    open_with(3, 1000000);
    model_count = 0;
    /* Phase 1: create over ~6 s of fake time, expiring as the clock moves. */
    for (uint32_t i = 0; i < MANY; i++) {
        clk.now_ms = T0_MS + (uint64_t)i * 7 + (i % 3);
        expire_and_check(i % 150 == 0);
        model_resv *m = &model[model_count];
        snprintf(m->id, sizeof m->id, "m%u", i);
        uint64_t ttl = ttls[i % TTL_KINDS] + (i / TTL_KINDS) % 3;
        m->qty = 1 + i % 4;
        m->due_ms = clk.now_ms + ttl;
        m->expired = false;
        T_STATUS(t_reserve1(e, m->id, "c", "tea", m->qty, ttl), INV_OK);
        T_EQU(last_op.out.reservation.expires_at_ms, m->due_ms);
        model_count++;
    }
    /* Phase 2: visit every remaining due time, and one ms before it. */
    static uint64_t due[MANY];
    uint32_t n = 0;
    for (uint32_t i = 0; i < model_count; i++)
        if (!model[i].expired) due[n++] = model[i].due_ms;
    qsort(due, n, sizeof due[0], cmp_u64);
    for (uint32_t k = 0; k < n; k++) {
        if (k > 0 && due[k] == due[k - 1]) continue;
        if (due[k] - 1 > clk.now_ms) {
            clk.now_ms = due[k] - 1;
            expire_and_check(false);
        }
        clk.now_ms = due[k];
        expire_and_check(k % 100 == 0);
    }
    expire_and_check(true);
    T_EQ(tea_reserved(), 0);
    T_EQU(t_stats(e).expirations, MANY);
    T_EQU(t_stats(e).reservations_live, 0);
}

Test(expiry, clock_jump_past_the_whole_wheel) {
    inv_engine_close(e);
    open_with(2, 10000);
    char id[16];
    for (uint32_t i = 0; i < 200; i++) {
        snprintf(id, sizeof id, "j%u", i);
        T_STATUS(t_reserve1(e, id, "c", "tea", 1, 1 + (uint64_t)i * 2003), INV_OK);
    }
    clk.now_ms = T0_MS + 10000000; /* 10 000 s later, all due (max 400 s) */
    T_EQU(inv_engine_expire(e), 200);
    T_EQ(tea_reserved(), 0);
    T_EQU(inv_engine_expire(e), 0);
}

/* More due at once on one shard than one expiry batch: one call expires them all. */
Test(expiry, more_than_one_batch_due_at_once) {
    inv_engine_close(e);
    open_with(1, 10000);
    uint32_t count = INV_EXPIRE_BATCH_MAX * 2 + 17;
    char id[16];
    for (uint32_t i = 0; i < count; i++) {
        snprintf(id, sizeof id, "b%u", i);
        T_STATUS(t_reserve1(e, id, "c", "tea", 1, 60000 + (uint64_t)(i % 97) * 8), INV_OK);
    }
    T_EQ(tea_reserved(), count);
    clk.now_ms = T0_MS + 60000 + 97 * 8;
    T_EQU(inv_engine_expire(e), count);
    T_EQ(tea_reserved(), 0);
    T_EQU(t_stats(e).reservations_live, 0);
}
