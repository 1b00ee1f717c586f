/*
 * invctl.c — the operator's command line for invd (through libinvclient).
 *
 *   invctl [--host H] [--port P] [--json] [--timeout-ms N] COMMAND ARGS…
 *   invctl --help
 *
 * Human-readable tables by default, one JSON object per reply with --json. Exit codes:
 * 0 success (DUPLICATE_REF counts as success); 1 bad usage or input file; 2 cannot
 * reach the server (or the connection broke); 3 the server refused (the status name
 * and message are printed). CSV loads pipeline their requests (a window of 256) and
 * report every refused row with its line number.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "inv_client.h"
#include "inv_persist.h"

#define EXIT_USAGE 1
#define EXIT_CONN 2
#define EXIT_REFUSED 3
#define CSV_LINE_MAX 1024
#define CSV_FIELDS_MAX 12
#define LOAD_WINDOW 256u
#define LOAD_ERRORS_SHOWN 20u
#define ARGS_MAX 64

typedef struct ctl {
    const char *host;
    uint16_t port;
    bool json;
    int timeout_ms;
    inv_client *c;
} ctl;

static int usage_to(FILE *out) {
    fprintf(
        out,
        "usage: invctl [--host H] [--port P] [--json] [--timeout-ms N] COMMAND ...\n\n"
        "  load-nodes FILE.csv     node_id,kind,lat,lon,region,ships,pickup,capacity_per_day,\n"
        "                          priority,status\n"
        "  load-stock FILE.csv     node_id,sku,on_hand,safety   (on_hand is set, not added)\n"
        "  reserve --order ID --customer ID (--lat X --lon Y | --pickup NODE) --line SKU:QTY...\n"
        "          [--ttl-ms N] [--policy nearest|single|priority|pickup] [--max-parcels N]\n"
        "          [--max-km D]\n"
        "  commit ORDER | release ORDER | get ORDER | extend ORDER TTL_MS\n"
        "  availability SKU [--lat X --lon Y] [--radius-km R] [--max-nodes N]\n"
        "  adjust NODE SKU (--delta N | --set N) [--ref REF]\n"
        "  return NODE SKU QTY [--ref REF]\n"
        "  node pause|resume|close NODE     node list [--offset N]\n"
        "  limit set SKU N          (0 clears)\n"
        "  safety set NODE SKU N\n"
        "  stats | ping\n"
        "  wal-check DIR            verify the write-ahead log and snapshots (offline)\n\n"
        "Defaults: --host 127.0.0.1 --port 7400. Exit: 0 ok, 1 usage, 2 connection, 3 refused.\n");
    return EXIT_USAGE;
}

static int usage(void) { return usage_to(stderr); }

static int fail_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail_usage(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "invctl: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    return EXIT_USAGE;
}

static bool parse_u64(const char *s, uint64_t *out) {
    char *end = NULL;
    if (s == NULL || *s == '\0' || *s == '-') return false;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0') return false;
    *out = v;
    return true;
}

static bool parse_i64(const char *s, int64_t *out) {
    char *end = NULL;
    if (s == NULL || *s == '\0') return false;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0') return false;
    *out = v;
    return true;
}

static bool parse_u32(const char *s, uint32_t *out) {
    uint64_t v = 0;
    if (!parse_u64(s, &v) || v > UINT32_MAX) return false;
    *out = (uint32_t)v;
    return true;
}

static bool parse_double(const char *s, double *out) {
    char *end = NULL;
    if (s == NULL || *s == '\0') return false;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || *end != '\0') return false;
    *out = v;
    return true;
}

/* ====================================================================================
 * Output
 * ==================================================================================== */

static void json_str(const char *s) {
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        if (*p == '"' || *p == '\\') printf("\\%c", *p);
        else if (*p < 0x20) printf("\\u%04x", *p);
        else putchar(*p);
    }
    putchar('"');
}

static const char *state_name(int s) {
    static const char *const n[] = {"HELD", "COMMITTED", "RELEASED", "EXPIRED"};
    return s >= 0 && s <= 3 ? n[s] : "UNKNOWN";
}
static const char *kind_name(int k) {
    static const char *const n[] = {"WAREHOUSE", "STORE", "LOCKER"};
    return k >= 0 && k <= 2 ? n[k] : "UNKNOWN";
}
static const char *nstatus_name(int s) {
    static const char *const n[] = {"ACTIVE", "PAUSED", "CLOSED"};
    return s >= 0 && s <= 2 ? n[s] : "UNKNOWN";
}
static const char *durability_name(int d) {
    static const char *const n[] = {"", "fsync", "async", "none"};
    return d >= 0 && d <= 3 ? n[d] : "unknown";
}

static void json_reservation(const inv_client_reservation *v) {
    printf("{\"state\":\"%s\",\"is_tombstone\":%s,\"expires_at_ms\":%" PRIu64
           ",\"parcels\":%u,\"cost\":%.3f,\"allocation\":[",
           state_name(v->state), v->is_tombstone ? "true" : "false", v->expires_at_ms, v->parcels,
           v->cost);
    for (uint32_t i = 0; i < v->alloc_count; i++) {
        printf(i ? ",{\"sku\":" : "{\"sku\":");
        json_str(v->alloc[i].sku);
        printf(",\"node_id\":");
        json_str(v->alloc[i].node_id);
        printf(",\"qty\":%u}", v->alloc[i].qty);
    }
    printf("],\"shortfall\":[");
    for (uint32_t i = 0; i < v->shortfall_count; i++) printf(i ? ",%u" : "%u", v->shortfall[i]);
    printf("],\"alternatives\":[");
    for (uint32_t i = 0; i < v->alternative_count; i++) {
        if (i) putchar(',');
        json_str(v->alternatives[i]);
    }
    printf("]}");
}

static void json_availability(const inv_client_availability *v) {
    printf("{\"sku\":");
    json_str(v->sku);
    printf(",\"total_available\":%" PRId64 ",\"total_on_hand\":%" PRId64
           ",\"total_reserved\":%" PRId64 ",\"node_count\":%u,\"nodes\":[",
           v->total_available, v->total_on_hand, v->total_reserved, v->node_count);
    for (uint32_t i = 0; i < v->nodes_listed; i++) {
        printf(i ? ",{\"node_id\":" : "{\"node_id\":");
        json_str(v->nodes[i].node_id);
        printf(",\"available\":%" PRId64 ",\"distance_km\":%.3f}", v->nodes[i].available,
               v->nodes[i].distance_km);
    }
    printf("]}");
}

static void json_node_list(const inv_client_node_list *v) {
    printf("{\"total\":%u,\"nodes\":[", v->total);
    for (uint32_t i = 0; i < v->count; i++) {
        const inv_client_node_info *n = &v->nodes[i];
        printf(i ? ",{\"index\":%u,\"node_id\":" : "{\"index\":%u,\"node_id\":", n->index);
        json_str(n->node_id);
        printf(",\"kind\":\"%s\",\"lat\":%.6f,\"lon\":%.6f,\"region\":", kind_name(n->kind), n->lat,
               n->lon);
        json_str(n->region);
        printf(",\"ships\":%s,\"pickup\":%s,\"capacity_per_day\":%u,\"allocated_today\":%u,"
               "\"priority\":%u,\"status\":\"%s\"}",
               n->ships ? "true" : "false", n->pickup ? "true" : "false", n->capacity_per_day,
               n->allocated_today, n->priority, nstatus_name(n->status));
    }
    printf("]}");
}

static void json_stats(const inv_client_stats *s) {
    printf("{\"nodes\":%" PRIu64 ",\"skus\":%" PRIu64 ",\"cells\":%" PRIu64
           ",\"reservations_live\":%" PRIu64 ",\"tombstones\":%" PRIu64 ",\"reserves_ok\":%" PRIu64
           ",\"reserves_failed\":%" PRIu64 ",\"sold_out_fast_path\":%" PRIu64
           ",\"commits\":%" PRIu64 ",\"releases\":%" PRIu64 ",\"expirations\":%" PRIu64
           ",\"reservation_bytes\":%" PRIu64 ",\"shards\":%u"
           ",\"connections\":%" PRIu64 ",\"requests\":%" PRIu64 ",\"uptime_ms\":%" PRIu64
           ",\"durability\":\"%s\"}",
           s->nodes, s->skus, s->cells, s->reservations_live, s->tombstones, s->reserves_ok,
           s->reserves_failed, s->sold_out_fast_path, s->commits, s->releases, s->expirations,
           s->reservation_bytes, s->shards, s->connections, s->requests, s->uptime_ms,
           durability_name(s->durability));
}

static void json_result(const inv_client_reply *r) {
    switch (r->result) {
    case INVC_RESULT_RESERVATION: json_reservation(&r->r.reservation); break;
    case INVC_RESULT_CELL:
        printf("{\"sku\":");
        json_str(r->r.cell.sku);
        printf(",\"node_id\":");
        json_str(r->r.cell.node_id);
        printf(",\"on_hand\":%" PRId64 ",\"reserved\":%" PRId64 ",\"safety\":%" PRId64
               ",\"available\":%" PRId64 ",\"applied_delta\":%" PRId64 "}",
               r->r.cell.on_hand, r->r.cell.reserved, r->r.cell.safety, r->r.cell.available,
               r->r.cell.applied_delta);
        break;
    case INVC_RESULT_AVAILABILITY: json_availability(&r->r.availability); break;
    case INVC_RESULT_NODE:
        printf("{\"node_id\":");
        json_str(r->r.node.node_id);
        printf(",\"index\":%u,\"created\":%s}", r->r.node.index,
               r->r.node.created ? "true" : "false");
        break;
    case INVC_RESULT_NODE_LIST: json_node_list(&r->r.node_list); break;
    case INVC_RESULT_LIMIT:
        printf("{\"sku\":");
        json_str(r->r.limit.sku);
        printf(",\"limit_per_customer\":%u}", r->r.limit.limit_per_customer);
        break;
    case INVC_RESULT_PONG:
        printf("{\"server_time_ms\":%" PRIu64 ",\"shard\":%u}", r->r.pong.server_time_ms,
               r->r.pong.shard);
        break;
    case INVC_RESULT_STATS: json_stats(&r->r.stats); break;
    default: printf("null"); break;
    }
}

static void json_reply(const inv_client_reply *r) {
    printf("{\"status\":\"%s\",\"message\":", inv_client_status_name(r->status));
    json_str(r->message);
    printf(",\"durability\":\"%s\",\"lsn\":%" PRIu64 ",\"result\":", durability_name(r->durability),
           r->lsn);
    json_result(r);
    printf("}\n");
}

/* ---- Tables ---- */

static void table_reservation(const inv_client_reservation *v, int status) {
    bool has_state = status == INVC_OK || status == INVC_EXPIRED ||
                     status == INVC_ALREADY_RELEASED || status == INVC_ALREADY_COMMITTED;
    if (has_state)
        printf("state       %s%s\n", state_name(v->state), v->is_tombstone ? " (tombstone)" : "");
    if (has_state && v->expires_at_ms) printf("expires_at  %" PRIu64 " ms\n", v->expires_at_ms);
    if (v->alloc_count > 0) {
        printf("parcels     %u   cost %.1f km\n\n%-24s %-40s %8s\n", v->parcels, v->cost, "SKU",
               "NODE", "QTY");
        for (uint32_t i = 0; i < v->alloc_count; i++)
            printf("%-24s %-40s %8u\n", v->alloc[i].sku, v->alloc[i].node_id, v->alloc[i].qty);
    }
    if (v->shortfall_count > 0) {
        printf("shortfall  ");
        for (uint32_t i = 0; i < v->shortfall_count; i++)
            printf(" line %u: %u", i, v->shortfall[i]);
        printf("\n");
    }
    for (uint32_t i = 0; i < v->alternative_count; i++)
        printf("alternative pickup: %s\n", v->alternatives[i]);
}

static void table_availability(const inv_client_availability *v) {
    printf("sku %s: available %" PRId64 ", on hand %" PRId64 ", reserved %" PRId64 " in %u nodes\n",
           v->sku, v->total_available, v->total_on_hand, v->total_reserved, v->node_count);
    if (v->nodes_listed > 0) printf("\n%-40s %10s %10s\n", "NODE", "AVAILABLE", "KM");
    for (uint32_t i = 0; i < v->nodes_listed; i++)
        printf("%-40s %10" PRId64 " %10.1f\n", v->nodes[i].node_id, v->nodes[i].available,
               v->nodes[i].distance_km);
}

static void table_node_list(const inv_client_node_list *v, bool header) {
    if (header)
        printf("%-6s %-36s %-9s %9s %10s %-6s %-5s %-6s %8s %8s %-7s\n", "INDEX", "NODE", "KIND",
               "LAT", "LON", "REGION", "SHIPS", "PICKUP", "CAP/DAY", "PRIORITY", "STATUS");
    for (uint32_t i = 0; i < v->count; i++) {
        const inv_client_node_info *n = &v->nodes[i];
        printf("%-6u %-36s %-9s %9.4f %10.4f %-6s %-5s %-6s %8u %8u %-7s\n", n->index, n->node_id,
               kind_name(n->kind), n->lat, n->lon, n->region, n->ships ? "yes" : "no",
               n->pickup ? "yes" : "no", n->capacity_per_day, n->priority, nstatus_name(n->status));
    }
}

static void table_stats(const inv_client_stats *s) {
    printf("nodes              %" PRIu64 "\nskus               %" PRIu64
           "\nstock cells        %" PRIu64 "\nreservations live  %" PRIu64
           "\ntombstones         %" PRIu64 "\nreserves ok        %" PRIu64
           "\nreserves failed    %" PRIu64 "\nsold-out answers   %" PRIu64
           "\ncommits            %" PRIu64 "\nreleases           %" PRIu64
           "\nexpirations        %" PRIu64 "\nreservation bytes  %" PRIu64
           "\nshards             %u\nconnections        %" PRIu64 "\nrequests           %" PRIu64
           "\nuptime             %.1f s\ndurability         %s\n",
           s->nodes, s->skus, s->cells, s->reservations_live, s->tombstones, s->reserves_ok,
           s->reserves_failed, s->sold_out_fast_path, s->commits, s->releases, s->expirations,
           s->reservation_bytes, s->shards, s->connections, s->requests, (double)s->uptime_ms / 1e3,
           durability_name(s->durability));
}

static void table_reply(const inv_client_reply *r) {
    if (r->status != INVC_OK) printf("%s: %s\n", inv_client_status_name(r->status), r->message);
    switch (r->result) {
    case INVC_RESULT_RESERVATION: table_reservation(&r->r.reservation, r->status); break;
    case INVC_RESULT_CELL:
        printf("%s @ %s: on_hand %" PRId64 ", reserved %" PRId64 ", safety %" PRId64
               ", available %" PRId64 " (changed by %" PRId64 ")\n",
               r->r.cell.sku, r->r.cell.node_id, r->r.cell.on_hand, r->r.cell.reserved,
               r->r.cell.safety, r->r.cell.available, r->r.cell.applied_delta);
        break;
    case INVC_RESULT_AVAILABILITY: table_availability(&r->r.availability); break;
    case INVC_RESULT_NODE:
        printf("node %s (index %u)%s\n", r->r.node.node_id, r->r.node.index,
               r->r.node.created ? " created" : "");
        break;
    case INVC_RESULT_NODE_LIST: table_node_list(&r->r.node_list, true); break;
    case INVC_RESULT_LIMIT:
        printf("limit of %s: %u per customer%s\n", r->r.limit.sku, r->r.limit.limit_per_customer,
               r->r.limit.limit_per_customer == 0 ? " (cleared)" : "");
        break;
    case INVC_RESULT_PONG: printf("pong from shard %u\n", r->r.pong.shard); break;
    case INVC_RESULT_STATS: table_stats(&r->r.stats); break;
    default:
        if (r->status == INVC_OK) printf("OK\n");
        break;
    }
    if (r->durability == INVC_DURABILITY_ASYNC || r->durability == INVC_DURABILITY_NONE)
        printf("(durability: %s)\n", durability_name(r->durability));
}

/* ====================================================================================
 * Calls
 * ==================================================================================== */

static int ctl_connect(ctl *x) {
    inv_client_options opt = {.timeout_ms = x->timeout_ms};
    int rc = inv_client_connect(&x->c, x->host, x->port, &opt);
    if (rc != 0) {
        fprintf(stderr, "invctl: cannot connect to %s:%u: %s\n", x->host, x->port, strerror(-rc));
        return EXIT_CONN;
    }
    return 0;
}

/* One blocking request; print the reply. */
static int ctl_call(ctl *x, const inv_client_request *rq) {
    int rc = ctl_connect(x);
    if (rc != 0) return rc;
    inv_client_reply r;
    rc = inv_client_call(x->c, rq, &r);
    if (rc != 0) {
        fprintf(stderr, "invctl: %s\n", inv_client_error(x->c));
        return EXIT_CONN;
    }
    if (x->json) json_reply(&r);
    else table_reply(&r);
    int code = (r.status == INVC_OK || r.status == INVC_DUPLICATE_REF) ? 0 : EXIT_REFUSED;
    if (code != 0 && x->json)
        fprintf(stderr, "invctl: %s: %s\n", inv_client_status_name(r.status), r.message);
    inv_client_reply_free(&r);
    return code;
}

static int cmd_node_list(ctl *x, int argc, char **argv) {
    uint32_t offset = 0;
    if (argc >= 2 && strcmp(argv[0], "--offset") == 0 && !parse_u32(argv[1], &offset))
        return fail_usage("--offset needs a number");
    int rc = ctl_connect(x);
    if (rc != 0) return rc;
    for (uint32_t page = 0; page < (1u << 20); page++) { /* bounded: 32 M nodes */
        inv_client_reply r;
        if (inv_client_list_nodes(x->c, offset, INV_CLIENT_NODES_PAGE_MAX, &r) != 0) {
            fprintf(stderr, "invctl: %s\n", inv_client_error(x->c));
            return EXIT_CONN;
        }
        if (r.status != INVC_OK) {
            fprintf(stderr, "invctl: %s: %s\n", inv_client_status_name(r.status), r.message);
            inv_client_reply_free(&r);
            return EXIT_REFUSED;
        }
        const inv_client_node_list *l = &r.r.node_list;
        if (x->json) json_reply(&r);
        else table_node_list(l, page == 0);
        offset += l->count;
        bool done = l->count == 0 || offset >= l->total;
        inv_client_reply_free(&r);
        if (done) break;
    }
    return 0;
}

/* ====================================================================================
 * CSV loading
 * ==================================================================================== */

/* Split a CSV line in place (no quoted commas; surrounding quotes and spaces trimmed).
 * @return fields found. */
static int csv_split(char *line, char **f, int max) {
    int n = 0;
    line[strcspn(line, "\r\n")] = '\0';
    for (char *p = line; n < max;) {
        char *comma = strchr(p, ',');
        if (comma != NULL) *comma = '\0';
        while (*p == ' ' || *p == '\t') p++;
        size_t len = strlen(p);
        while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t')) p[--len] = '\0';
        if (len >= 2 && p[0] == '"' && p[len - 1] == '"') {
            p[len - 1] = '\0';
            p++;
        }
        f[n++] = p;
        if (comma == NULL) break;
        p = comma + 1;
    }
    return n;
}

typedef struct loader {
    ctl *x;
    uint64_t rows, ok, refused;
} loader;

static int loader_collect(loader *ld, uint32_t min_inflight) {
    inv_client_reply r[64];
    for (int round = 0; round < 1000000 && inv_client_inflight(ld->x->c) > min_inflight; round++) {
        int n = inv_client_poll(ld->x->c, r, 64, -1);
        if (n < 0) {
            fprintf(stderr, "invctl: %s\n", inv_client_error(ld->x->c));
            return EXIT_CONN;
        }
        if (n == 0) {
            fprintf(stderr, "invctl: no reply within the timeout\n");
            return EXIT_CONN;
        }
        for (int i = 0; i < n; i++) {
            bool good = r[i].status == INVC_OK || r[i].status == INVC_DUPLICATE_REF;
            if (good) ld->ok++;
            else if (ld->refused++ < LOAD_ERRORS_SHOWN)
                fprintf(stderr, "line %lu: %s: %s\n", (unsigned long)(uintptr_t)r[i].user,
                        inv_client_status_name(r[i].status), r[i].message);
            inv_client_reply_free(&r[i]);
        }
    }
    return 0;
}

static int loader_submit(loader *ld, const inv_client_request *rq, unsigned long line) {
    if (inv_client_inflight(ld->x->c) >= LOAD_WINDOW) {
        int rc = loader_collect(ld, LOAD_WINDOW / 2);
        if (rc != 0) return rc;
    }
    int rc = inv_client_submit(ld->x->c, rq, (void *)(uintptr_t)line, NULL);
    if (rc != 0) {
        fprintf(stderr, "invctl: %s\n", inv_client_error(ld->x->c));
        return EXIT_CONN;
    }
    return 0;
}

static bool parse_bool01(const char *s, bool *out) {
    if (strcmp(s, "1") == 0 || strcasecmp(s, "true") == 0 || strcasecmp(s, "yes") == 0) *out = true;
    else if (strcmp(s, "0") == 0 || strcasecmp(s, "false") == 0 || strcasecmp(s, "no") == 0 ||
             *s == '\0')
        *out = false;
    else return false;
    return true;
}

static int parse_name(const char *s, const char *const *names, int n) {
    for (int i = 0; i < n; i++)
        if (strcasecmp(s, names[i]) == 0) return i;
    return -1;
}

/* One nodes.csv row into a request. NULL: fine; else what is wrong. */
static const char *node_row(char **f, int n, inv_client_request *rq) {
    static const char *const kinds[] = {"WAREHOUSE", "STORE", "LOCKER"};
    static const char *const st[] = {"ACTIVE", "PAUSED", "CLOSED"};
    if (n < 10) return "expected 10 fields";
    inv_client_node_spec *s = &rq->in.node;
    rq->op = INVC_OP_UPSERT_NODE;
    s->node_id = f[0];
    s->kind = parse_name(f[1], kinds, 3);
    s->status = parse_name(f[9], st, 3);
    s->region = f[4];
    if (s->kind < 0) return "kind must be WAREHOUSE, STORE or LOCKER";
    if (s->status < 0) return "status must be ACTIVE, PAUSED or CLOSED";
    if (!parse_double(f[2], &s->lat) || !parse_double(f[3], &s->lon)) return "bad lat/lon";
    if (!parse_bool01(f[5], &s->ships) || !parse_bool01(f[6], &s->pickup))
        return "bad ships/pickup";
    if (!parse_u32(f[7], &s->capacity_per_day)) return "bad capacity_per_day";
    if (!parse_u32(f[8], &s->priority)) return "bad priority";
    return NULL;
}

static int load_csv(ctl *x, const char *path, bool nodes) {
    static const char *const node_hdr =
        "node_id,kind,lat,lon,region,ships,pickup,capacity_per_day,priority,status";
    static const char *const stock_hdr = "node_id,sku,on_hand,safety";
    FILE *in = fopen(path, "r");
    if (in == NULL) return fail_usage("%s: %s", path, strerror(errno));
    char line[CSV_LINE_MAX];
    int rc = 0;
    if (fgets(line, sizeof line, in) == NULL ||
        strncmp(line, nodes ? node_hdr : stock_hdr, strlen(nodes ? node_hdr : stock_hdr)) != 0) {
        fclose(in);
        return fail_usage("%s: the first line must be the header: %s", path,
                          nodes ? node_hdr : stock_hdr);
    }
    if ((rc = ctl_connect(x)) != 0) {
        fclose(in);
        return rc;
    }
    loader ld = {.x = x};
    /* Each row's strings must live until the request is encoded: submit copies them. */
    for (unsigned long ln = 2; rc == 0 && fgets(line, sizeof line, in) != NULL; ln++) {
        char *f[CSV_FIELDS_MAX];
        int n = csv_split(line, f, CSV_FIELDS_MAX);
        if (n == 1 && f[0][0] == '\0') continue;
        ld.rows++;
        inv_client_request rq;
        memset(&rq, 0, sizeof rq);
        const char *bad = NULL;
        if (nodes) {
            bad = node_row(f, n, &rq);
        } else if (n < 3) {
            bad = "expected node_id,sku,on_hand[,safety]";
        } else {
            rq.op = INVC_OP_ADJUST;
            rq.in.adjust =
                (inv_client_adjust_args){.node_id = f[0], .sku = f[1], .has_set_to = true};
            if (!parse_i64(f[2], &rq.in.adjust.set_to) || rq.in.adjust.set_to < 0)
                bad = "bad on_hand";
        }
        if (bad != NULL) {
            fprintf(stderr, "%s:%lu: %s\n", path, ln, bad);
            rc = EXIT_USAGE;
            break;
        }
        rc = loader_submit(&ld, &rq, ln);
        if (rc == 0 && !nodes && n >= 4 && f[3][0] != '\0') {
            inv_client_request sq;
            memset(&sq, 0, sizeof sq);
            sq.op = INVC_OP_SET_SAFETY;
            sq.in.safety.node_id = f[0];
            sq.in.safety.sku = f[1];
            if (!parse_u32(f[3], &sq.in.safety.safety)) {
                fprintf(stderr, "%s:%lu: bad safety\n", path, ln);
                rc = EXIT_USAGE;
                break;
            }
            rc = loader_submit(&ld, &sq, ln);
        }
    }
    fclose(in);
    if (rc == 0 || rc == EXIT_USAGE) {
        int rc2 = loader_collect(&ld, 0);
        if (rc == 0) rc = rc2;
    }
    if (x->json)
        printf("{\"file\":\"%s\",\"rows\":%" PRIu64 ",\"requests_ok\":%" PRIu64
               ",\"refused\":%" PRIu64 "}\n",
               path, ld.rows, ld.ok, ld.refused);
    else
        printf("%s: %" PRIu64 " rows, %" PRIu64 " requests ok, %" PRIu64 " refused\n", path,
               ld.rows, ld.ok, ld.refused);
    if (rc == 0 && ld.refused > 0) rc = EXIT_REFUSED;
    return rc;
}

/* ====================================================================================
 * Commands
 * ==================================================================================== */

static int cmd_reserve(ctl *x, int argc, char **argv) {
    static const char *const policies[] = {"nearest", "single", "priority", "pickup"};
    inv_client_request rq;
    memset(&rq, 0, sizeof rq);
    rq.op = INVC_OP_RESERVE;
    inv_client_reserve_args *a = &rq.in.reserve;
    inv_client_line lines[INV_CLIENT_LINES_MAX];
    char skus[INV_CLIENT_LINES_MAX][80];
    a->ttl_ms = 15 * 60 * 1000;
    a->lines = lines;
    bool has_lat = false, has_lon = false;
    for (int i = 0; i < argc; i += 2) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v == NULL) return fail_usage("%s needs a value", k);
        if (strcmp(k, "--order") == 0) a->order_id = v;
        else if (strcmp(k, "--customer") == 0) a->customer_id = v;
        else if (strcmp(k, "--lat") == 0) has_lat = parse_double(v, &a->lat);
        else if (strcmp(k, "--lon") == 0) has_lon = parse_double(v, &a->lon);
        else if (strcmp(k, "--pickup") == 0) {
            a->pickup_node_id = v;
            a->policy = INVC_ROUTE_PICKUP;
        } else if (strcmp(k, "--ttl-ms") == 0) {
            if (!parse_u64(v, &a->ttl_ms)) return fail_usage("bad --ttl-ms");
        } else if (strcmp(k, "--max-parcels") == 0) {
            if (!parse_u32(v, &a->max_parcels)) return fail_usage("bad --max-parcels");
        } else if (strcmp(k, "--max-km") == 0) {
            if (!parse_double(v, &a->max_distance_km)) return fail_usage("bad --max-km");
        } else if (strcmp(k, "--policy") == 0) {
            if ((a->policy = parse_name(v, policies, 4)) < 0) return fail_usage("bad --policy");
        } else if (strcmp(k, "--line") == 0) {
            const char *colon = strrchr(v, ':');
            uint32_t n = a->line_count;
            if (n >= INV_CLIENT_LINES_MAX)
                return fail_usage("at most %d lines", INV_CLIENT_LINES_MAX);
            if (colon == NULL || (size_t)(colon - v) >= sizeof skus[0] ||
                !parse_u32(colon + 1, &lines[n].qty))
                return fail_usage("--line wants SKU:QTY, got '%s'", v);
            memcpy(skus[n], v, (size_t)(colon - v));
            skus[n][colon - v] = '\0';
            lines[n].sku = skus[n];
            a->line_count++;
        } else {
            return fail_usage("unknown reserve option %s", k);
        }
    }
    a->has_point = has_lat && has_lon;
    if (a->order_id == NULL || a->customer_id == NULL || a->line_count == 0)
        return fail_usage("reserve needs --order, --customer and at least one --line");
    return ctl_call(x, &rq);
}

static int cmd_adjust(ctl *x, int argc, char **argv, bool is_return) {
    inv_client_request rq;
    memset(&rq, 0, sizeof rq);
    int fixed = is_return ? 3 : 2;
    if (argc < fixed) return usage();
    const char *ref = NULL;
    bool has_delta = false, has_set = false;
    int64_t delta = 0, set = 0;
    for (int i = fixed; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--ref") == 0) ref = argv[i + 1];
        else if (strcmp(argv[i], "--delta") == 0) has_delta = parse_i64(argv[i + 1], &delta);
        else if (strcmp(argv[i], "--set") == 0) has_set = parse_i64(argv[i + 1], &set);
        else return fail_usage("unknown option %s", argv[i]);
    }
    if (is_return) {
        rq.op = INVC_OP_RETURN;
        rq.in.ret = (inv_client_return_args){.node_id = argv[0], .sku = argv[1], .ref_id = ref};
        if (!parse_u32(argv[2], &rq.in.ret.qty)) return fail_usage("bad QTY");
    } else {
        if (has_delta == has_set)
            return fail_usage("adjust needs exactly one of --delta N, --set N");
        rq.op = INVC_OP_ADJUST;
        rq.in.adjust = (inv_client_adjust_args){.node_id = argv[0],
                                                .sku = argv[1],
                                                .has_set_to = has_set,
                                                .delta = delta,
                                                .set_to = set,
                                                .ref_id = ref};
    }
    return ctl_call(x, &rq);
}

static int cmd_availability(ctl *x, int argc, char **argv) {
    if (argc < 1) return usage();
    inv_client_request rq;
    memset(&rq, 0, sizeof rq);
    rq.op = INVC_OP_GET_AVAILABILITY;
    inv_client_availability_args *a = &rq.in.availability;
    a->sku = argv[0];
    a->max_nodes = 20;
    bool has_lat = false, has_lon = false;
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (strcmp(k, "--lat") == 0) has_lat = parse_double(v, &a->lat);
        else if (strcmp(k, "--lon") == 0) has_lon = parse_double(v, &a->lon);
        else if (strcmp(k, "--radius-km") == 0) {
            if (!parse_double(v, &a->radius_km)) return fail_usage("bad --radius-km");
        } else if (strcmp(k, "--max-nodes") == 0) {
            if (!parse_u32(v, &a->max_nodes)) return fail_usage("bad --max-nodes");
        } else return fail_usage("unknown option %s", k);
    }
    a->has_point = has_lat && has_lon;
    return ctl_call(x, &rq);
}

static int cmd_order(ctl *x, const char *cmd, int argc, char **argv) {
    inv_client_request rq;
    memset(&rq, 0, sizeof rq);
    if (argc < 1) return usage();
    if (strcmp(cmd, "extend") == 0) {
        if (argc < 2 || !parse_u64(argv[1], &rq.in.extend.ttl_ms))
            return fail_usage("extend ORDER TTL_MS");
        rq.op = INVC_OP_EXTEND;
        rq.in.extend.order_id = argv[0];
        return ctl_call(x, &rq);
    }
    rq.op = strcmp(cmd, "commit") == 0    ? INVC_OP_COMMIT
            : strcmp(cmd, "release") == 0 ? INVC_OP_RELEASE
                                          : INVC_OP_GET_RESERVATION;
    rq.in.order.order_id = argv[0];
    return ctl_call(x, &rq);
}

static int cmd_node(ctl *x, int argc, char **argv) {
    if (argc >= 1 && strcmp(argv[0], "list") == 0) return cmd_node_list(x, argc - 1, argv + 1);
    if (argc < 2) return usage();
    inv_client_request rq;
    memset(&rq, 0, sizeof rq);
    rq.op = INVC_OP_SET_NODE_STATUS;
    rq.in.node_status.node_id = argv[1];
    if (strcmp(argv[0], "pause") == 0) rq.in.node_status.status = INVC_NODE_PAUSED;
    else if (strcmp(argv[0], "resume") == 0) rq.in.node_status.status = INVC_NODE_ACTIVE;
    else if (strcmp(argv[0], "close") == 0) rq.in.node_status.status = INVC_NODE_CLOSED;
    else return fail_usage("node pause|resume|close NODE, or node list");
    return ctl_call(x, &rq);
}

static int cmd_settings(ctl *x, const char *cmd, int argc, char **argv) {
    inv_client_request rq;
    memset(&rq, 0, sizeof rq);
    if (strcmp(cmd, "limit") == 0) {
        if (argc < 3 || strcmp(argv[0], "set") != 0) return fail_usage("limit set SKU N");
        rq.op = INVC_OP_SET_LIMIT;
        rq.in.limit.sku = argv[1];
        if (!parse_u32(argv[2], &rq.in.limit.limit_per_customer)) return fail_usage("bad N");
    } else {
        if (argc < 4 || strcmp(argv[0], "set") != 0) return fail_usage("safety set NODE SKU N");
        rq.op = INVC_OP_SET_SAFETY;
        rq.in.safety.node_id = argv[1];
        rq.in.safety.sku = argv[2];
        if (!parse_u32(argv[3], &rq.in.safety.safety)) return fail_usage("bad N");
    }
    return ctl_call(x, &rq);
}

static int cmd_wal_check(int argc, char **argv) {
    if (argc < 1) return fail_usage("wal-check DIR");
    inv_check_report rep;
    int rc = inv_persist_check(argv[0], stdout, &rep);
    if (rc == 0) return 0;
    if (rc == -EBADMSG) {
        fprintf(stderr, "invctl: corruption in %s at offset %" PRIu64 " (LSN %" PRIu64 "): %s\n",
                rep.bad_file, rep.bad_offset, rep.bad_lsn, rep.message);
        return EXIT_REFUSED;
    }
    fprintf(stderr, "invctl: %s: %s\n", argv[0], strerror(-rc));
    return EXIT_USAGE;
}

static int dispatch(ctl *x, const char *cmd, int argc, char **argv) {
    if (strcmp(cmd, "load-nodes") == 0 || strcmp(cmd, "load-stock") == 0) {
        if (argc < 1) return usage();
        return load_csv(x, argv[0], strcmp(cmd, "load-nodes") == 0);
    }
    if (strcmp(cmd, "reserve") == 0) return cmd_reserve(x, argc, argv);
    if (strcmp(cmd, "commit") == 0 || strcmp(cmd, "release") == 0 || strcmp(cmd, "get") == 0 ||
        strcmp(cmd, "extend") == 0)
        return cmd_order(x, cmd, argc, argv);
    if (strcmp(cmd, "availability") == 0) return cmd_availability(x, argc, argv);
    if (strcmp(cmd, "adjust") == 0) return cmd_adjust(x, argc, argv, false);
    if (strcmp(cmd, "return") == 0) return cmd_adjust(x, argc, argv, true);
    if (strcmp(cmd, "node") == 0) return cmd_node(x, argc, argv);
    if (strcmp(cmd, "limit") == 0 || strcmp(cmd, "safety") == 0)
        return cmd_settings(x, cmd, argc, argv);
    if (strcmp(cmd, "wal-check") == 0) return cmd_wal_check(argc, argv);
    inv_client_request rq;
    memset(&rq, 0, sizeof rq);
    if (strcmp(cmd, "stats") == 0) rq.op = INVC_OP_GET_STATS;
    else if (strcmp(cmd, "ping") == 0) rq.op = INVC_OP_PING;
    else return fail_usage("unknown command '%s' (see --help)", cmd);
    return ctl_call(x, &rq);
}

int main(int argc, char **argv) {
    ctl x = {.host = "127.0.0.1", .port = 7400, .timeout_ms = 10000};
    int i = 1;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        uint32_t n = 0;
        if (strcmp(a, "--help") == 0) return usage_to(stdout), 0;
        if (strcmp(a, "--json") == 0) {
            x.json = true;
            continue;
        }
        if (v == NULL) return fail_usage("%s needs a value", a);
        if (strcmp(a, "--host") == 0) x.host = v;
        else if (strcmp(a, "--port") == 0 && parse_u32(v, &n) && n > 0 && n < 65536)
            x.port = (uint16_t)n;
        else if (strcmp(a, "--timeout-ms") == 0 && parse_u32(v, &n) && n > 0 && n < INT32_MAX)
            x.timeout_ms = (int)n;
        else return fail_usage("bad option %s %s", a, v);
        i++;
    }
    if (i >= argc) return usage();
    int rc = dispatch(&x, argv[i], argc - i - 1, argv + i + 1);
    inv_client_close(x.c);
    return rc;
}
