/*
 * test_support.h — small helpers shared by the Criterion suites: an injectable clock,
 * a small engine, and one-line wrappers that build an inv_op and run it in direct mode.
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

#endif
