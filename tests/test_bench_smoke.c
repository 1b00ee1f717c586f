/*
 * test_bench_smoke.c — the in-process benchmarks at CI size, as child processes:
 * engine_bench with a durable log (fsync and async; the zipf mix with commits and
 * releases, and the hot SKU) and wal_bench with its recovery pass. Each must exit 0,
 * which for engine_bench means its end-of-run check passed (no cell oversold, cells
 * agreeing with every answer: a release whose units never came back fails it), and
 * say so. Figures are not checked: speed is for the benchmarks themselves
 * (docs/benchmarks.md). Each child is waited for BENCH_TIMEOUT_MS at most.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_support.h"
#include "test_wal_support.h"

#define BENCH_TIMEOUT_MS 120000u
#define BENCH_ARGS_MAX 40
#define BENCH_LOG_MAX (1u << 20)

/* Run `prog` with `args` (NULL-terminated), its output in dir/bench.log; return the
 * log (a static buffer: each test runs in its own process) and fail unless it exited 0. */
static const char *bench_run(const char *dir, const char *prog, const char *const *args) {
    static char log[BENCH_LOG_MAX + 1];
    const char *argv[BENCH_ARGS_MAX] = {prog};
    int n = 1;
    for (int i = 0; args[i] != NULL && n < BENCH_ARGS_MAX - 1; i++) argv[n++] = args[i];
    argv[n] = NULL;
    char log_path[TW_PATH_MAX + 16];
    snprintf(log_path, sizeof log_path, "%s/bench.log", dir);
    int rc = t_run_child(argv, log_path, BENCH_TIMEOUT_MS, 0);
    FILE *f = fopen(log_path, "r");
    cr_assert_not_null(f, "%s: %s", log_path, strerror(errno));
    size_t len = fread(log, 1, BENCH_LOG_MAX, f);
    log[len] = '\0';
    fclose(f);
    cr_assert_eq(rc, 0, "%s exited %d:\n%s", prog, rc, log);
    return log;
}

/* engine_bench --wal in a fresh directory (its output in another), with `extra`. */
static void engine_bench_wal(const char *const *extra) {
    char dir[TW_PATH_MAX], wal[TW_PATH_MAX];
    tw_dir_make(dir);
    tw_dir_make(wal);
    const char *args[BENCH_ARGS_MAX] = {"--threads", "2", "--runs", "1", "--nodes", "60",
        "--skus", "300", "--orders", "40000", "--seconds", "5", "--window", "2048",
        "--wal", wal};
    int n = 16;
    for (int i = 0; extra[i] != NULL && n < BENCH_ARGS_MAX - 1; i++) args[n++] = extra[i];
    args[n] = NULL;
    const char *log = bench_run(dir, ENGINE_BENCH_PATH, args);
    cr_expect(strstr(log, "never oversold") != NULL && strstr(log, "FAILED") == NULL,
              "engine_bench did not report a passing check:\n%s", log);
    tw_dir_remove(wal);
    tw_dir_remove(dir);
}

Test(bench_smoke, engine_bench_fsync_log_with_commits_and_releases, .timeout = 150) {
    tw_require_uring();
    const char *extra[] = {"--mix", NULL};
    engine_bench_wal(extra);
}

Test(bench_smoke, engine_bench_async_log_with_commits_and_releases, .timeout = 150) {
    tw_require_uring();
    const char *extra[] = {"--mix", "--wal-async", "5", NULL};
    engine_bench_wal(extra);
}

Test(bench_smoke, engine_bench_fsync_log_on_one_hot_sku, .timeout = 150) {
    tw_require_uring();
    const char *extra[] = {"--hot-sku", "--mix", NULL};
    engine_bench_wal(extra);
}

Test(bench_smoke, wal_bench_writes_and_replays, .timeout = 150) {
    tw_require_uring();
    char dir[TW_PATH_MAX];
    tw_dir_make(dir);
    const char *args[] = {"--runs", "1", "--seconds", "1", "--records", "200000", "--dir",
                          dir, NULL};
    const char *log = bench_run(dir, WAL_BENCH_PATH, args);
    cr_expect(strstr(log, "replay") != NULL || strstr(log, "recover") != NULL,
              "wal_bench printed no recovery figure:\n%s", log);
    tw_dir_remove(dir);
}
