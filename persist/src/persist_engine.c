/*
 * persist_engine.c — the glue between persist/ and the engine: recovery into an
 * inv_engine and snapshots of one. Kept apart from the rest so that persist/'s own
 * tests and tools (which drive recovery with their own callbacks) link without the
 * engine's journal code.
 *
 * State diagram: none of its own — inv_persist_recover is recovery.c's OPENED →
 * RECOVERED transition followed by inv_engine_recovered and a sync; snapshot start is
 * snapshot.c's IDLE → RUNNING with inv_engine_snapshot as the state source.
 */
#include <assert.h>

#include "persist_int.h"

static int persist_engine_replay(void *ctx, uint32_t shard, inv_rec_type type,
                                 const void *body, uint32_t len, char *err, size_t errlen) {
    assert(ctx != NULL);
    return inv_engine_replay(ctx, shard, type, body, len, err, errlen);
}

static void persist_engine_prefetch(void *ctx, uint32_t shard, inv_rec_type type,
                                    const void *body, uint32_t len) {
    inv_engine_replay_prefetch(ctx, shard, type, body, len);
}

/* In the snapshot child: every log was synced before the fork, so every credit still
 * waiting in the parent's copy is durable; apply them in the child's copy so that the
 * state written matches each shard's LSN (the parent applies its own as it learns). */
static int persist_engine_source(void *ctx, inv_snapshot_emit_fn emit, void *emit_ctx) {
    assert(ctx != NULL);
    inv_engine_credit_all(ctx);
    return inv_engine_snapshot(ctx, emit, emit_ctx);
}

int inv_persist_recover(inv_persist *p, inv_engine *e, inv_recovery_report *rep, char *err,
                        size_t errlen) {
    assert(p != NULL && e != NULL);
    assert(inv_engine_shard_count(e) == p->shard_count);
    inv_recovery_report scratch;
    if (rep == NULL) rep = &scratch;
    int rc = persist_recover_run(p, persist_engine_replay, persist_engine_prefetch, e, rep,
                                 err, errlen);
    if (rc < 0) return rc;
    uint64_t t0 = io_now_ns();
    rep->expired = inv_engine_recovered(e);
    inv_persist_sync(p);
    inv_engine_credit_durable(e); /* what those expiries gave back is durable now */
    rep->elapsed_ns += io_now_ns() - t0;
    return 0;
}

int inv_persist_snapshot_start(inv_persist *p, const inv_engine *e) {
    assert(p != NULL && e != NULL);
    return inv_persist_snapshot_start_with(p, persist_engine_source, (void *)e);
}
