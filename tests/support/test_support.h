/*
 * test_support.h — small helpers shared by the Criterion suites: injectable clocks,
 * small engines, one-line wrappers that build an inv_op and run it in direct mode,
 * checks that print both sides, and a fingerprint of everything an engine shows.
 * Each wrapper returns the op's status; the full op is left in `last_op` for inspection.
 */
#ifndef INV_TEST_SUPPORT_H
#define INV_TEST_SUPPORT_H

#include <stdint.h>

#include "inv_engine.h"

/* Fake wall clock: tests move it by hand. */
typedef struct test_clock { uint64_t now_ms; } test_clock;
uint64_t test_clock_read(void *ctx);

/* A small engine with `shards` shards on a fake clock starting at `clock->now_ms`. */
inv_engine *test_engine_open(uint32_t shards, test_clock *clock);

/* The op of the last wrapper call (per thread). */
extern _Thread_local inv_op last_op;

inv_status t_upsert_node(inv_engine *e, const char *id, inv_node_kind kind, double lat,
                         double lon, uint32_t capacity_per_day, uint32_t priority);
inv_status t_set_node_status(inv_engine *e, const char *id, inv_node_status status);
inv_status t_adjust(inv_engine *e, const char *node, const char *sku, int64_t delta);
inv_status t_set_to(inv_engine *e, const char *node, const char *sku, int64_t set_to);
inv_status t_set_safety(inv_engine *e, const char *node, const char *sku, uint32_t safety);
inv_status t_set_limit(inv_engine *e, const char *sku, uint32_t limit);
/* Reserve lines "sku:qty" (NULL-terminated list) shipped to (lat, lon), NEAREST. */
inv_status t_reserve(inv_engine *e, const char *order, const char *customer, double lat,
                     double lon, uint64_t ttl_ms, const char *const *lines);
inv_status t_commit(inv_engine *e, const char *order);
inv_status t_release(inv_engine *e, const char *order);
inv_status t_extend(inv_engine *e, const char *order, uint64_t ttl_ms);
inv_status t_get(inv_engine *e, const char *order);
/* Cell figures of (node, sku); fails the test if the cell is missing. */
inv_cell_view t_cell(inv_engine *e, const char *node, const char *sku);

/* ------------------------------------------------------------------------------------
 * For the engine suites (test_catalog … test_stress): exact checks, an atomic clock,
 * engines from a config, more wrappers, dense ids and fingerprints.
 * ------------------------------------------------------------------------------------ */
#include <stdatomic.h>
#include <stdbool.h>

/* Exact checks that print both sides (Criterion's own messages do not). */
#define T_EQ(actual, expected)                                                          \
    do {                                                                                \
        long long t_a_ = (long long)(actual), t_e_ = (long long)(expected);             \
        cr_assert_eq(t_a_, t_e_, "%s = %lld, expected %lld", #actual, t_a_, t_e_);      \
    } while (0)
#define T_EQU(actual, expected)                                                         \
    do {                                                                                \
        unsigned long long t_a_ = (unsigned long long)(actual);                         \
        unsigned long long t_e_ = (unsigned long long)(expected);                       \
        cr_assert_eq(t_a_, t_e_, "%s = %llu, expected %llu", #actual, t_a_, t_e_);      \
    } while (0)
/* Run a wrapper (or anything returning inv_status that fills last_op) and check its
 * status; on failure the message names both statuses and the engine's message. */
#define T_STATUS(expr, expected)                                                        \
    do {                                                                                \
        inv_status t_s_ = (expr), t_x_ = (expected);                                    \
        cr_assert_eq(t_s_, t_x_, "%s -> %s \"%s\", expected %s", #expr,                 \
                     inv_status_name(t_s_), last_op.message, inv_status_name(t_x_));    \
    } while (0)
/* Same for an op that is not last_op. */
#define T_OP_STATUS(op, expected)                                                       \
    do {                                                                                \
        const inv_op *t_o_ = (op);                                                      \
        inv_status t_x_ = (expected);                                                   \
        cr_assert_eq(t_o_->status, t_x_, "%s op -> %s \"%s\", expected %s",             \
                     inv_op_type_name(t_o_->type), inv_status_name(t_o_->status),       \
                     t_o_->message, inv_status_name(t_x_));                             \
    } while (0)

/* A fake clock that shard threads may read while a test thread moves it. */
typedef struct test_clock_atomic { _Atomic uint64_t now_ms; } test_clock_atomic;
uint64_t test_clock_atomic_read(void *ctx);

/* Monotonic wall time in ms, for deadlines and pacing. */
uint64_t test_mono_ms(void);

/* Run a program (argv[0] is its path; argv ends with NULL) as a child, its stdout and
 * stderr into `log_path`. SIGINT after `interrupt_ms` when non-zero (what Ctrl-C
 * sends). Waited for `timeout_ms` at most; then SIGINT, and SIGKILL 2 s later, by its
 * pid. @return its exit status, or -1 when it ended by a signal or the timeout. */
int t_run_child(const char *const *argv, const char *log_path, uint64_t timeout_ms,
                uint64_t interrupt_ms);

/* Open an engine from a full config (clock included); fails the test on error. */
inv_engine *test_engine_open_config(const inv_engine_config *cfg);
/* Defaults with small tables (64 nodes, 1024 SKUs, 8192 cells, 8192 reservations,
 * tombstones and refs per shard): an engine that opens in well under a millisecond,
 * also under sanitizers. No clock set. */
void test_config_small(inv_engine_config *cfg, uint32_t shards);
/* test_engine_open with those small tables. */
inv_engine *test_engine_open_small(uint32_t shards, test_clock *clock);

/* Adjust / Return with a ref_id (NULL or "" = no dedupe). */
inv_status t_adjust_ref(inv_engine *e, const char *node, const char *sku, int64_t delta,
                        const char *ref);
inv_status t_set_to_ref(inv_engine *e, const char *node, const char *sku, int64_t set_to,
                        const char *ref);
inv_status t_return(inv_engine *e, const char *node, const char *sku, uint32_t qty,
                    const char *ref);
/* Reserve with caller-built args (copied into last_op.in.reserve). */
inv_status t_reserve_args(inv_engine *e, const inv_reserve_args *args);
/* Reserve one line with an explicit policy and destination. */
inv_status t_reserve1(inv_engine *e, const char *order, const char *customer, const char *sku,
                      uint32_t qty, uint64_t ttl_ms);
inv_status t_availability(inv_engine *e, const char *sku, bool has_point, double lat,
                          double lon, double radius_km, inv_node_avail *nodes, uint32_t cap);
inv_status t_list_nodes(inv_engine *e, uint32_t offset, inv_node_info *nodes, uint32_t cap);
/* Upsert a full spec, then publish the catalog to routing. */
inv_status t_upsert_spec(inv_engine *e, const inv_node_spec *spec);

/* Dense ids; fail the test when missing. */
uint32_t t_node(inv_engine *e, const char *node);
uint32_t t_sku(inv_engine *e, const char *sku);
/* Fail unless the (node, sku) cell holds exactly these figures (available included). */
void t_expect_cell(inv_engine *e, const char *node, const char *sku, int64_t on_hand,
                   int64_t reserved, int64_t safety);
/* Whether the (node, sku) cell exists (false also when node or SKU is unknown). */
bool t_cell_exists(inv_engine *e, const char *node, const char *sku);
inv_engine_stats t_stats(const inv_engine *e);
/* Σ alloc qty of `view` on (sku, node) dense ids. */
uint32_t t_alloc_qty(const inv_reservation_view *view, uint32_t sku, uint32_t node);

/* Destination used by t_reserve1: Shanghai People's Square. */
#define T_DEST_LAT 31.2304
#define T_DEST_LON 121.4737

/* Everything observable about a small engine: stats, nodes, SKUs and every cell.
 * Taken before and after an op that must change nothing. */
#define TEST_FP_NODES_MAX 32u
#define TEST_FP_SKUS_MAX 64u
#define TEST_FP_CELLS_MAX 512u
typedef struct test_fingerprint {
    inv_engine_stats stats;
    uint32_t node_count, sku_count, cell_count;
    inv_node_info nodes[TEST_FP_NODES_MAX];
    char sku_names[TEST_FP_SKUS_MAX][INV_ID_LEN_MAX + 1];
    inv_cell_view cells[TEST_FP_CELLS_MAX];
} test_fingerprint;
void t_fingerprint(inv_engine *e, test_fingerprint *out);
/* Fail unless `after` equals `before`; reserves_failed and sold_out_fast_path (the
 * counters a rejected request bumps by design) are not compared. */
void t_fingerprint_assert_same(const test_fingerprint *before, const test_fingerprint *after,
                               const char *what);

#endif
