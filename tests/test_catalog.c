/*
 * test_catalog.c — the catalog: nodes, their status, listing, node info, SKU interning.
 *
 * Covers (DESIGN.md §2, §3 catalog ops): UpsertNode creates a node with a dense index and
 * every field as given, and a second upsert of the same id updates it in place;
 * SetNodeStatus, and that PAUSED / CLOSED nodes are never allocated; ListNodes paging
 * (offsets, short last page, past the end, cap 0); node look-ups by id and index;
 * SKU interning (dense, stable, shared by Adjust, SetSafety and SetLimit); the name
 * functions. Everything runs in direct mode on a fake clock.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "test_support.h"

#define T0_MS 1731200000000ull /* 2024-11-10, a fixed wall clock */

static test_clock clk = {T0_MS};

static inv_node_spec spec_of(const char *id, inv_node_kind kind, double lat, double lon) {
    inv_node_spec n;
    memset(&n, 0, sizeof n);
    n.node_id = id;
    n.kind = kind;
    n.lat = lat;
    n.lon = lon;
    n.region = "SH";
    n.ships = kind != INV_NODE_LOCKER;
    n.pickup = kind != INV_NODE_WAREHOUSE;
    n.status = INV_NODE_ACTIVE;
    return n;
}

Test(catalog, upsert_creates_node_with_every_field) {
    inv_engine *e = test_engine_open_small(1, &clk);
    inv_node_spec n = spec_of("store-sh-01", INV_NODE_STORE, 31.2304, 121.4737);
    n.region = "CN-31";
    n.capacity_per_day = 250;
    n.priority = 7;
    T_STATUS(t_upsert_spec(e, &n), INV_OK);
    cr_assert(last_op.out.node.created, "first upsert must create");
    T_EQU(last_op.out.node.node, 0);
    cr_assert_str_eq(last_op.message, "", "success leaves an empty message");

    inv_node_info info;
    memset(&info, 0xab, sizeof info);
    T_EQ(inv_engine_node_info(e, 0, &info), 0);
    T_EQU(info.index, 0);
    cr_assert_str_eq(info.node_id, "store-sh-01");
    cr_assert_str_eq(info.region, "CN-31");
    T_EQ(info.kind, INV_NODE_STORE);
    cr_assert_float_eq(info.lat, 31.2304, 1e-12);
    cr_assert_float_eq(info.lon, 121.4737, 1e-12);
    cr_assert(info.ships);
    cr_assert(info.pickup);
    T_EQU(info.capacity_per_day, 250);
    T_EQU(info.allocated_today, 0);
    T_EQU(info.priority, 7);
    T_EQ(info.status, INV_NODE_ACTIVE);

    T_EQU(t_node(e, "store-sh-01"), 0);
    cr_assert_str_eq(inv_engine_node_id(e, 0), "store-sh-01");
    T_EQU(t_stats(e).nodes, 1);
    inv_engine_close(e);
}

Test(catalog, upsert_same_id_updates_in_place) {
    inv_engine *e = test_engine_open_small(2, &clk);
    T_STATUS(t_upsert_node(e, "wh-a", INV_NODE_WAREHOUSE, 31.0, 121.0, 0, 1), INV_OK);
    T_STATUS(t_upsert_node(e, "wh-b", INV_NODE_WAREHOUSE, 39.9, 116.4, 0, 1), INV_OK);
    T_EQU(last_op.out.node.node, 1);

    inv_node_spec n = spec_of("wh-a", INV_NODE_STORE, 30.2741, 120.1551);
    n.region = NULL; /* allowed: no region */
    n.capacity_per_day = 12;
    n.priority = 3;
    n.status = INV_NODE_PAUSED;
    T_STATUS(t_upsert_spec(e, &n), INV_OK);
    cr_assert(!last_op.out.node.created, "second upsert of wh-a must not create");
    T_EQU(last_op.out.node.node, 0);

    inv_node_info info;
    T_EQ(inv_engine_node_info(e, 0, &info), 0);
    cr_assert_str_eq(info.node_id, "wh-a");
    cr_assert_str_eq(info.region, "", "NULL region reads back empty");
    T_EQ(info.kind, INV_NODE_STORE);
    cr_assert_float_eq(info.lat, 30.2741, 1e-12);
    cr_assert_float_eq(info.lon, 120.1551, 1e-12);
    T_EQU(info.capacity_per_day, 12);
    T_EQU(info.priority, 3);
    T_EQ(info.status, INV_NODE_PAUSED);
    T_EQU(t_stats(e).nodes, 2);
    /* the other node is untouched */
    T_EQ(inv_engine_node_info(e, 1, &info), 0);
    cr_assert_str_eq(info.node_id, "wh-b");
    cr_assert_float_eq(info.lat, 39.9, 1e-12);
    inv_engine_close(e);
}

Test(catalog, node_indices_are_dense_and_found_by_id) {
    inv_engine *e = test_engine_open_small(4, &clk);
    char ids[20][16];
    for (uint32_t i = 0; i < 20; i++) {
        snprintf(ids[i], sizeof ids[i], "node-%02u", i);
        T_STATUS(t_upsert_node(e, ids[i], (inv_node_kind)(i % 3), 20.0 + i, 100.0 + i, 0, i),
                 INV_OK);
        T_EQU(last_op.out.node.node, i);
        cr_assert(last_op.out.node.created);
    }
    for (uint32_t i = 0; i < 20; i++) {
        T_EQU(t_node(e, ids[i]), i);
        cr_assert_str_eq(inv_engine_node_id(e, i), ids[i]);
        inv_node_info info;
        T_EQ(inv_engine_node_info(e, i, &info), 0);
        T_EQ(info.kind, (inv_node_kind)(i % 3));
        T_EQU(info.priority, i);
    }
    uint32_t n = 99;
    cr_assert_neq(inv_engine_node_find(e, "node-20", &n), 0, "unknown id must not be found");
    cr_assert_null(inv_engine_node_id(e, 20));
    inv_node_info info;
    cr_assert_neq(inv_engine_node_info(e, 20, &info), 0, "index past the end");
    T_EQU(t_stats(e).nodes, 20);
    inv_engine_close(e);
}

Test(catalog, set_node_status_round_trip) {
    inv_engine *e = test_engine_open_small(1, &clk);
    T_STATUS(t_upsert_node(e, "st-1", INV_NODE_STORE, 31.2, 121.4, 0, 0), INV_OK);
    inv_node_status seq[] = {INV_NODE_PAUSED, INV_NODE_CLOSED, INV_NODE_ACTIVE, INV_NODE_PAUSED};
    for (size_t i = 0; i < sizeof seq / sizeof seq[0]; i++) {
        T_STATUS(t_set_node_status(e, "st-1", seq[i]), INV_OK);
        T_EQU(last_op.out.node.node, 0);
        cr_assert(!last_op.out.node.created);
        inv_node_info info;
        T_EQ(inv_engine_node_info(e, 0, &info), 0);
        T_EQ(info.status, seq[i]);
    }
    T_STATUS(t_set_node_status(e, "st-2", INV_NODE_PAUSED), INV_NOT_FOUND);
    cr_assert_neq(last_op.message[0], '\0', "NOT_FOUND needs a message");
    inv_engine_close(e);
}

/* Near node paused or closed: the order goes to the far node; both out: no allocation. */
Test(catalog, paused_and_closed_nodes_are_never_allocated) {
    inv_engine *e = test_engine_open_small(1, &clk);
    T_STATUS(t_upsert_node(e, "near", INV_NODE_WAREHOUSE, 31.23, 121.47, 0, 0), INV_OK);
    T_STATUS(t_upsert_node(e, "far", INV_NODE_WAREHOUSE, 39.90, 116.40, 0, 0), INV_OK);
    T_STATUS(t_adjust(e, "near", "sku-1", 10), INV_OK);
    T_STATUS(t_adjust(e, "far", "sku-1", 10), INV_OK);
    uint32_t near = t_node(e, "near"), far = t_node(e, "far"), sku = t_sku(e, "sku-1");

    T_STATUS(t_reserve1(e, "o-active", "c1", "sku-1", 2, 60000), INV_OK);
    T_EQU(t_alloc_qty(&last_op.out.reservation, sku, near), 2);

    T_STATUS(t_set_node_status(e, "near", INV_NODE_PAUSED), INV_OK);
    T_STATUS(t_reserve1(e, "o-paused", "c1", "sku-1", 3, 60000), INV_OK);
    T_EQU(last_op.out.reservation.alloc_count, 1);
    T_EQU(t_alloc_qty(&last_op.out.reservation, sku, far), 3);

    T_STATUS(t_set_node_status(e, "near", INV_NODE_CLOSED), INV_OK);
    T_STATUS(t_reserve1(e, "o-closed", "c1", "sku-1", 4, 60000), INV_OK);
    T_EQU(t_alloc_qty(&last_op.out.reservation, sku, far), 4);

    T_EQ(t_cell(e, "near", "sku-1").reserved, 2);
    T_EQ(t_cell(e, "far", "sku-1").reserved, 7);

    /* Everything left sits at non-active nodes: the order cannot be placed. */
    T_STATUS(t_set_node_status(e, "far", INV_NODE_PAUSED), INV_OK);
    test_fingerprint before, after;
    t_fingerprint(e, &before);
    inv_status st = t_reserve1(e, "o-none", "c1", "sku-1", 1, 60000);
    cr_assert(st == INV_NO_ROUTE || st == INV_INSUFFICIENT_STOCK,
              "reserve with only paused/closed stock -> %s", inv_status_name(st));
    cr_assert_neq(last_op.message[0], '\0');
    T_EQU(last_op.out.reservation.alloc_count, 0);
    t_fingerprint(e, &after);
    t_fingerprint_assert_same(&before, &after, "reserve at paused nodes");

    /* Back to ACTIVE: allocated again. */
    T_STATUS(t_set_node_status(e, "near", INV_NODE_ACTIVE), INV_OK);
    T_STATUS(t_reserve1(e, "o-again", "c1", "sku-1", 1, 60000), INV_OK);
    T_EQU(t_alloc_qty(&last_op.out.reservation, sku, near), 1);
    inv_engine_close(e);
}

/* A node's status gates new allocations only: its HELD orders still commit / release. */
Test(catalog, pausing_a_node_keeps_its_held_orders) {
    inv_engine *e = test_engine_open_small(2, &clk);
    T_STATUS(t_upsert_node(e, "st", INV_NODE_STORE, T_DEST_LAT, T_DEST_LON, 0, 0), INV_OK);
    T_STATUS(t_adjust(e, "st", "s", 10), INV_OK);
    T_STATUS(t_reserve1(e, "o1", "c", "s", 2, 60000), INV_OK);
    T_STATUS(t_reserve1(e, "o2", "c", "s", 3, 60000), INV_OK);
    T_STATUS(t_set_node_status(e, "st", INV_NODE_CLOSED), INV_OK);
    T_STATUS(t_commit(e, "o1"), INV_OK);
    T_STATUS(t_release(e, "o2"), INV_OK);
    inv_cell_view v = t_cell(e, "st", "s");
    T_EQ(v.on_hand, 8);
    T_EQ(v.reserved, 0);
    inv_engine_close(e);
}

Test(catalog, list_nodes_pages) {
    inv_engine *e = test_engine_open_small(2, &clk);
    char ids[10][16];
    for (uint32_t i = 0; i < 10; i++) {
        snprintf(ids[i], sizeof ids[i], "n%u", i);
        T_STATUS(t_upsert_node(e, ids[i], INV_NODE_STORE, 30.0 + 0.1 * i, 120.0, i, 0),
                 INV_OK);
    }
    inv_node_info page[3];
    uint32_t seen = 0;
    for (uint32_t offset = 0; offset < 10; offset += 3) {
        memset(page, 0, sizeof page);
        T_STATUS(t_list_nodes(e, offset, page, 3), INV_OK);
        uint32_t want = 10 - offset < 3 ? 10 - offset : 3;
        T_EQU(last_op.out.list_nodes.written, want);
        T_EQU(last_op.out.list_nodes.total, 10);
        for (uint32_t i = 0; i < want; i++) {
            T_EQU(page[i].index, offset + i);
            cr_assert_str_eq(page[i].node_id, ids[offset + i]);
            T_EQU(page[i].capacity_per_day, offset + i);
            T_EQ(page[i].kind, INV_NODE_STORE);
            seen++;
        }
    }
    T_EQU(seen, 10);
    T_STATUS(t_list_nodes(e, 10, page, 3), INV_OK);
    T_EQU(last_op.out.list_nodes.written, 0);
    T_EQU(last_op.out.list_nodes.total, 10);
    T_STATUS(t_list_nodes(e, 1000000, page, 3), INV_OK);
    T_EQU(last_op.out.list_nodes.written, 0);
    T_STATUS(t_list_nodes(e, 0, NULL, 0), INV_OK); /* count only */
    T_EQU(last_op.out.list_nodes.written, 0);
    T_EQU(last_op.out.list_nodes.total, 10);
    inv_engine_close(e);
}

Test(catalog, list_nodes_on_empty_catalog) {
    inv_engine *e = test_engine_open_small(1, &clk);
    inv_node_info page[2];
    T_STATUS(t_list_nodes(e, 0, page, 2), INV_OK);
    T_EQU(last_op.out.list_nodes.written, 0);
    T_EQU(last_op.out.list_nodes.total, 0);
    inv_engine_close(e);
}

Test(catalog, sku_interning_is_dense_and_stable) {
    inv_engine *e = test_engine_open_small(3, &clk);
    T_STATUS(t_upsert_node(e, "wh", INV_NODE_WAREHOUSE, 31.0, 121.0, 0, 0), INV_OK);
    uint32_t none = 0;
    cr_assert_neq(inv_engine_sku_find(e, "sku-a", &none), 0, "not interned yet");
    T_EQU(t_stats(e).skus, 0);

    T_STATUS(t_adjust(e, "wh", "sku-a", 5), INV_OK); /* Adjust interns */
    uint32_t a = t_sku(e, "sku-a");
    T_EQU(last_op.out.cell.sku, a);
    T_STATUS(t_set_safety(e, "wh", "sku-b", 1), INV_OK); /* SetSafety interns */
    uint32_t b = t_sku(e, "sku-b");
    T_STATUS(t_set_limit(e, "sku-c", 2), INV_OK); /* SetLimit interns */
    uint32_t c = t_sku(e, "sku-c");
    T_EQU(last_op.out.limit.sku, c);
    cr_assert(a != b && b != c && a != c, "distinct SKUs get distinct ids (%u %u %u)", a, b, c);
    cr_assert(a < 3 && b < 3 && c < 3, "ids are dense (%u %u %u)", a, b, c);
    T_EQU(t_stats(e).skus, 3);

    /* Using a SKU again returns the same id and creates nothing. */
    T_STATUS(t_adjust(e, "wh", "sku-a", 1), INV_OK);
    T_EQU(t_sku(e, "sku-a"), a);
    T_STATUS(t_set_limit(e, "sku-b", 4), INV_OK);
    T_EQU(last_op.out.limit.sku, b);
    T_EQU(t_stats(e).skus, 3);
    cr_assert_str_eq(inv_engine_sku_name(e, a), "sku-a");
    cr_assert_str_eq(inv_engine_sku_name(e, b), "sku-b");
    cr_assert_str_eq(inv_engine_sku_name(e, c), "sku-c");

    /* Case matters; a 64-byte id is fine. */
    T_STATUS(t_adjust(e, "wh", "SKU-A", 1), INV_OK);
    cr_assert_neq(t_sku(e, "SKU-A"), a);
    char longest[INV_ID_LEN_MAX + 1];
    memset(longest, 'x', INV_ID_LEN_MAX);
    longest[INV_ID_LEN_MAX] = '\0';
    T_STATUS(t_adjust(e, "wh", longest, 1), INV_OK);
    cr_assert_str_eq(inv_engine_sku_name(e, t_sku(e, longest)), longest);
    T_EQU(t_stats(e).skus, 5);
    inv_engine_close(e);
}

Test(catalog, many_skus_interned_across_shards) {
    inv_engine *e = test_engine_open_small(4, &clk);
    T_STATUS(t_upsert_node(e, "wh", INV_NODE_WAREHOUSE, 31.0, 121.0, 0, 0), INV_OK);
    char name[32];
    uint32_t ids[200];
    for (uint32_t i = 0; i < 200; i++) {
        snprintf(name, sizeof name, "sku-%u", i * 7919u);
        T_STATUS(t_adjust(e, "wh", name, (int64_t)i + 1), INV_OK);
        ids[i] = t_sku(e, name);
        for (uint32_t j = 0; j < i; j++) cr_assert_neq(ids[j], ids[i], "sku %u reuses an id", i);
    }
    for (uint32_t i = 0; i < 200; i++) {
        snprintf(name, sizeof name, "sku-%u", i * 7919u);
        T_EQU(t_sku(e, name), ids[i]);
        cr_assert_str_eq(inv_engine_sku_name(e, ids[i]), name);
        inv_cell_view v = t_cell(e, "wh", name);
        T_EQ(v.on_hand, (int64_t)i + 1);
    }
    T_EQU(t_stats(e).skus, 200);
    T_EQU(t_stats(e).cells, 200);
    inv_engine_close(e);
}

/* A moved node is routed from its new place once published (t_upsert_node publishes). */
Test(catalog, moved_node_is_routed_from_its_new_place) {
    inv_engine *e = test_engine_open_small(1, &clk);
    T_STATUS(t_upsert_node(e, "a", INV_NODE_WAREHOUSE, 31.23, 121.47, 0, 0), INV_OK);
    T_STATUS(t_upsert_node(e, "b", INV_NODE_WAREHOUSE, 39.90, 116.40, 0, 0), INV_OK);
    T_STATUS(t_adjust(e, "a", "s", 10), INV_OK);
    T_STATUS(t_adjust(e, "b", "s", 10), INV_OK);
    uint32_t a = t_node(e, "a"), b = t_node(e, "b"), s = t_sku(e, "s");
    T_STATUS(t_reserve1(e, "o1", "c", "s", 1, 60000), INV_OK);
    T_EQU(t_alloc_qty(&last_op.out.reservation, s, a), 1);
    /* swap places: a goes to Beijing, b comes to Shanghai */
    T_STATUS(t_upsert_node(e, "a", INV_NODE_WAREHOUSE, 39.90, 116.40, 0, 0), INV_OK);
    T_STATUS(t_upsert_node(e, "b", INV_NODE_WAREHOUSE, 31.23, 121.47, 0, 0), INV_OK);
    T_STATUS(t_reserve1(e, "o2", "c", "s", 1, 60000), INV_OK);
    T_EQU(t_alloc_qty(&last_op.out.reservation, s, b), 1);
    T_EQU(t_alloc_qty(&last_op.out.reservation, s, a), 0);
    inv_engine_close(e);
}

/* inv_engine_execute publishes pending catalog changes before a non-catalog op: a node
 * upserted without an explicit publish is routed to by the next reserve. */
Test(catalog, execute_publishes_before_a_non_catalog_op) {
    inv_engine *e = test_engine_open_small(2, &clk);
    T_STATUS(t_upsert_node(e, "far", INV_NODE_WAREHOUSE, 39.90, 116.40, 0, 0), INV_OK);
    T_STATUS(t_adjust(e, "far", "s", 5), INV_OK);
    inv_op op;
    memset(&op, 0, sizeof op);
    op.type = INV_OP_UPSERT_NODE;
    op.in.node = spec_of("near", INV_NODE_WAREHOUSE, T_DEST_LAT, T_DEST_LON);
    T_EQ(inv_engine_execute(e, &op), INV_OK); /* no inv_engine_catalog_publish */
    T_STATUS(t_adjust(e, "near", "s", 5), INV_OK);
    T_STATUS(t_reserve1(e, "o1", "c", "s", 1, 60000), INV_OK);
    T_EQU(t_alloc_qty(&last_op.out.reservation, t_sku(e, "s"), t_node(e, "near")), 1);
    /* and a move too */
    memset(&op, 0, sizeof op);
    op.type = INV_OP_UPSERT_NODE;
    op.in.node = spec_of("near", INV_NODE_WAREHOUSE, 23.13, 113.26);
    T_EQ(inv_engine_execute(e, &op), INV_OK);
    T_STATUS(t_reserve1(e, "o2", "c", "s", 1, 60000), INV_OK); /* Beijing is nearer now */
    T_EQU(t_alloc_qty(&last_op.out.reservation, t_sku(e, "s"), t_node(e, "far")), 1);
    inv_engine_close(e);
}

Test(catalog, names_are_stable_and_distinct) {
    static const char *const want[INV_STATUS_COUNT] = {
        "OK", "INVALID_ARGUMENT", "NOT_FOUND", "CONFLICT", "INSUFFICIENT_STOCK",
        "LIMIT_EXCEEDED", "NO_ROUTE", "EXPIRED", "ALREADY_RELEASED", "ALREADY_COMMITTED",
        "DUPLICATE_REF", "RESOURCE_EXHAUSTED", "BUSY", "UNAVAILABLE", "INTERNAL"};
    for (int i = 0; i < INV_STATUS_COUNT; i++)
        cr_assert_str_eq(inv_status_name((inv_status)i), want[i], "status %d", i);
    const char *k[INV_NODE_KIND_COUNT];
    for (int i = 0; i < INV_NODE_KIND_COUNT; i++) {
        k[i] = inv_node_kind_name((inv_node_kind)i);
        cr_assert(k[i] != NULL && k[i][0] != '\0', "kind %d has a name", i);
        for (int j = 0; j < i; j++) cr_assert_str_neq(k[i], k[j]);
    }
    const char *st[3];
    for (int i = 0; i < 3; i++) {
        st[i] = inv_node_status_name((inv_node_status)i);
        cr_assert(st[i] != NULL && st[i][0] != '\0', "node status %d has a name", i);
        for (int j = 0; j < i; j++) cr_assert_str_neq(st[i], st[j]);
    }
    const char *rs[4];
    for (int i = 0; i < 4; i++) {
        rs[i] = inv_resv_state_name((inv_resv_state)i);
        cr_assert(rs[i] != NULL && rs[i][0] != '\0', "state %d has a name", i);
        for (int j = 0; j < i; j++) cr_assert_str_neq(rs[i], rs[j]);
    }
    const char *ot[INV_OP_TYPE_COUNT];
    for (int i = INV_OP_RESERVE; i < INV_OP_TYPE_COUNT; i++) {
        ot[i] = inv_op_type_name((inv_op_type)i);
        cr_assert(ot[i] != NULL && ot[i][0] != '\0', "op type %d has a name", i);
        for (int j = INV_OP_RESERVE; j < i; j++) cr_assert_str_neq(ot[i], ot[j]);
    }
}
