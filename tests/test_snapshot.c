/*
 * test_snapshot.c — fork-based snapshots of a real engine:
 *   - snapshot + WAL recovery gives the same state as WAL-only recovery and as the live
 *     engine;
 *   - a crash at each step of writing the snapshot (before the trailer, before fsync,
 *     before rename, before the directory fsync, after it, and a torn write) recovers
 *     to the same state;
 *   - retention: two snapshots are kept, older snapshots and the segments the older kept
 *     snapshot no longer needs are deleted, and recovery still gives the same state;
 *   - a damaged newest snapshot falls back to the previous one (whose log was kept);
 *   - size / time thresholds (inv_persist_snapshot_due).
 */
#include "test_wal_engine.h"

#define SHARDS 2u

typedef struct snap_env {
    char dir[TW_PATH_MAX];
    test_clock clk;
    inv_persist_options o;
    inv_persist *p;
    inv_engine *e;
    te_world w;
} snap_env;

static snap_env *env_new(uint64_t segment_bytes, uint64_t seed) {
    snap_env *v = calloc(1, sizeof *v);
    tw_dir_make(v->dir);
    v->clk.now_ms = 1700000000000ull;
    tw_options(&v->o, segment_bytes);
    te_world_init(&v->w, seed, (uint32_t)seed);
    te_start(v->dir, SHARDS, &v->clk, &v->o, &v->p, &v->e, NULL);
    te_setup(v->e);
    return v;
}

static void env_free(snap_env *v) {
    if (v->p != NULL) te_stop(v->p, v->e);
    tw_dir_remove(v->dir);
    free(v);
}

/* Recover `dir` into a fresh engine and return its digest (report in *rep). */
static char *recover_digest(const char *dir, snap_env *v, inv_recovery_report *rep) {
    inv_persist *p;
    inv_engine *e;
    te_start(dir, SHARDS, &v->clk, &v->o, &p, &e, rep);
    char *d = te_digest(e, &v->w, NULL);
    te_stop(p, e);
    return d;
}

static void snapshot_take(snap_env *v, inv_snapshot_state want) {
    cr_assert_eq(inv_persist_snapshot_start(v->p, v->e), 0);
    cr_assert_eq(inv_persist_snapshot_start(v->p, v->e), -EBUSY, "a second one started");
    inv_snapshot_state s = inv_persist_snapshot_wait(v->p);
    cr_assert_eq(s, want, "snapshot ended %d, expected %d", s, want);
    cr_assert_eq(inv_persist_snapshot_poll(v->p), INV_SNAPSHOT_IDLE);
}

Test(snapshot, snapshot_plus_wal_equals_wal_only_and_live) {
    tw_require_uring();
    snap_env *v = env_new(256u << 10, 31);
    te_run(&v->w, v->e, &v->clk, v->p, 800);
    snapshot_take(v, INV_SNAPSHOT_DONE);
    cr_assert(tw_file_exists(v->dir, "snap-0000000001.snap"));
    te_run(&v->w, v->e, &v->clk, v->p, 800);
    char *live = te_digest(v->e, &v->w, NULL);
    te_stop(v->p, v->e);
    v->p = NULL;
    char walonly[TW_PATH_MAX], path[TW_PATH_MAX * 2];
    tw_dir_make(walonly);
    tw_dir_copy(v->dir, walonly);
    tw_path(path, walonly, "snap-0000000001.snap");
    cr_assert_eq(unlink(path), 0);
    inv_recovery_report a, b;
    char *with_snap = recover_digest(v->dir, v, &a);
    char *wal = recover_digest(walonly, v, &b);
    cr_assert_eq(a.snapshot_seq, 1);
    cr_assert_gt(a.snapshot_records, 0);
    cr_assert_eq(b.snapshot_seq, 0);
    cr_assert_lt(a.wal_records, b.wal_records, "the snapshot did not shorten the replay");
    te_digest_assert_same(live, with_snap, "snapshot + WAL vs live");
    te_digest_assert_same(wal, with_snap, "snapshot + WAL vs WAL only");
    free(live);
    free(with_snap);
    free(wal);
    tw_dir_remove(walonly);
    env_free(v);
}

Test(snapshot, crash_at_each_step_of_writing_recovers, .timeout = 120) {
    tw_require_uring();
    for (uint32_t step = 1; step <= 6; step++) {
        snap_env *v = env_new(256u << 10, 40 + step);
        te_run(&v->w, v->e, &v->clk, v->p, 500);
        v->p->opt.test_snapshot_crash_step = step; /* white-box: the hook for this run */
        snapshot_take(v, INV_SNAPSHOT_FAILED);
        v->p->opt.test_snapshot_crash_step = 0;
        te_run(&v->w, v->e, &v->clk, v->p, 300);
        char *live = te_digest(v->e, &v->w, NULL);
        te_stop(v->p, v->e); /* the server "crashes" too: nothing else cleans up */
        v->p = NULL;
        inv_recovery_report rep;
        char *got = recover_digest(v->dir, v, &rep);
        char what[64];
        snprintf(what, sizeof what, "crash at snapshot step %u", step);
        te_digest_assert_same(live, got, what);
        bool renamed = step == 4 || step == 5;
        cr_assert_eq(rep.snapshot_seq, renamed ? 1u : 0u, "step %u: used snapshot %llu", step,
                     (unsigned long long)rep.snapshot_seq);
        cr_assert_eq(tw_count(v->dir, NAME_SNAPSHOT_TMP, -1), 0, "step %u: tmp left", step);
        /* And the next snapshot works. */
        inv_persist *p;
        inv_engine *e;
        te_start(v->dir, SHARDS, &v->clk, &v->o, &p, &e, NULL);
        cr_assert_eq(inv_persist_snapshot_start(p, e), 0);
        cr_assert_eq(inv_persist_snapshot_wait(p), INV_SNAPSHOT_DONE);
        te_stop(p, e);
        char *again = recover_digest(v->dir, v, &rep);
        te_digest_assert_same(live, again, what);
        cr_assert_eq(rep.snapshot_seq, renamed ? 2u : 1u);
        free(live);
        free(got);
        free(again);
        env_free(v);
    }
}

/* Run the workload until every shard has started at least one more segment. */
static void run_until_rotated(snap_env *v) {
    uint32_t before[SHARDS];
    for (uint32_t s = 0; s < SHARDS; s++) before[s] = tw_count(v->dir, NAME_SEGMENT, (int)s);
    for (uint32_t i = 0; i < 200; i++) {
        te_run(&v->w, v->e, &v->clk, v->p, 200);
        bool all = true;
        for (uint32_t s = 0; s < SHARDS; s++)
            all &= tw_count(v->dir, NAME_SEGMENT, (int)s) > before[s];
        if (all) return;
    }
    cr_assert_fail("the log never rotated");
}

Test(snapshot, two_snapshots_are_kept_and_older_segments_deleted) {
    tw_require_uring();
    snap_env *v = env_new(PERSIST_SEGMENT_BYTES_MIN, 51);
    run_until_rotated(v);
    uint32_t segs0 = tw_count(v->dir, NAME_SEGMENT, -1);
    snapshot_take(v, INV_SNAPSHOT_DONE);
    cr_assert_eq(tw_count(v->dir, NAME_SEGMENT, -1), segs0, "first snapshot deleted segments");
    run_until_rotated(v);
    uint32_t segs1 = tw_count(v->dir, NAME_SEGMENT, -1);
    snapshot_take(v, INV_SNAPSHOT_DONE);
    uint32_t segs2 = tw_count(v->dir, NAME_SEGMENT, -1);
    cr_assert_lt(segs2, segs1, "nothing deleted after the second snapshot (%u segments)", segs2);
    cr_assert_eq(tw_count(v->dir, NAME_SNAPSHOT, -1), 2);
    run_until_rotated(v);
    snapshot_take(v, INV_SNAPSHOT_DONE);
    cr_assert_eq(tw_count(v->dir, NAME_SNAPSHOT, -1), 2);
    cr_assert_not(tw_file_exists(v->dir, "snap-0000000001.snap"));
    cr_assert(tw_file_exists(v->dir, "snap-0000000002.snap"));
    te_run(&v->w, v->e, &v->clk, v->p, 200);
    char *live = te_digest(v->e, &v->w, NULL);
    te_stop(v->p, v->e);
    v->p = NULL;
    inv_recovery_report rep;
    char *got = recover_digest(v->dir, v, &rep);
    cr_assert_eq(rep.snapshot_seq, 3);
    te_digest_assert_same(live, got, "after retention");
    inv_check_report chk;
    cr_assert_eq(inv_persist_check(v->dir, NULL, &chk), 0, "%s", chk.message);
    free(live);
    free(got);
    env_free(v);
}

Test(snapshot, damaged_newest_snapshot_falls_back_to_the_previous) {
    tw_require_uring();
    snap_env *v = env_new(PERSIST_SEGMENT_BYTES_MIN, 61);
    te_run(&v->w, v->e, &v->clk, v->p, 500);
    snapshot_take(v, INV_SNAPSHOT_DONE);
    te_run(&v->w, v->e, &v->clk, v->p, 500);
    snapshot_take(v, INV_SNAPSHOT_DONE);
    te_run(&v->w, v->e, &v->clk, v->p, 300);
    char *live = te_digest(v->e, &v->w, NULL);
    te_stop(v->p, v->e);
    v->p = NULL;
    char path[TW_PATH_MAX * 2];
    tw_path(path, v->dir, "snap-0000000002.snap");
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    tw_flip_bit(path, (uint64_t)st.st_size / 2, 3);
    inv_check_report chk;
    cr_assert_eq(inv_persist_check(v->dir, NULL, &chk), -EBADMSG);
    cr_assert_str_eq(chk.bad_file, "snap-0000000002.snap");
    inv_recovery_report rep;
    char *got = recover_digest(v->dir, v, &rep);
    cr_assert_eq(rep.snapshot_seq, 1);
    cr_assert_eq(rep.snapshots_rejected, 1);
    te_digest_assert_same(live, got, "fallback to the previous snapshot");
    free(live);
    free(got);
    env_free(v);
}

Test(snapshot, due_by_size_and_by_time) {
    tw_require_uring();
    snap_env *v = env_new(256u << 10, 71);
    te_stop(v->p, v->e);
    v->o.snapshot_bytes = 20000;
    v->o.snapshot_interval_ms = 0;
    te_start(v->dir, SHARDS, &v->clk, &v->o, &v->p, &v->e, NULL);
    cr_assert_not(inv_persist_snapshot_due(v->p));
    te_run(&v->w, v->e, &v->clk, v->p, 400);
    cr_assert(inv_persist_snapshot_due(v->p), "20 kB of log did not make a snapshot due");
    snapshot_take(v, INV_SNAPSHOT_DONE);
    cr_assert_not(inv_persist_snapshot_due(v->p));
    te_stop(v->p, v->e);
    v->o.snapshot_bytes = 0;
    v->o.snapshot_interval_ms = 100;
    te_start(v->dir, SHARDS, &v->clk, &v->o, &v->p, &v->e, NULL);
    cr_assert_not(inv_persist_snapshot_due(v->p));
    usleep(150 * 1000);
    cr_assert(inv_persist_snapshot_due(v->p), "100 ms passed, no snapshot due");
    env_free(v);
}
