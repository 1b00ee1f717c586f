/*
 * ib_invd.h — the invd backend of invbench (ib_backend_invd, declared in ib_backend.h),
 * and the one piece of it other benchmarks share: turning a scenario order into a
 * libinvclient Reserve (e2e_bench sends the same requests as invbench).
 *
 * The backend starts invd on loopback (or attaches to a running one), loads the
 * scenario over libinvclient and drives it with pipelined requests (see ib_invd.c).
 */
#ifndef IB_INVD_H
#define IB_INVD_H

#include <stdint.h>

#include "ib_backend.h"
#include "inv_client.h"
#include "scenario.h"

/* Fill `out` as the Reserve of scenario order `o` under the id `order_id`: ship to the
 * order's point (NEAREST), or collect at its pickup node (PICKUP). Sets out->op and
 * every field of out->in.reserve; nothing else.
 * @param order_id  the idempotency key, valid as long as the request is in flight
 * @param lines     INV_SCN_LINES_MAX entries, filled here, valid as long as `out` is */
void ib_invd_reserve_fill(const inv_scenario *s, const inv_scn_order *o, const char *order_id,
                          uint64_t ttl_ms, inv_client_line *lines, inv_client_request *out);

#endif /* IB_INVD_H */
