/*
 * ib_redis.h — the Redis 7 + Lua baseline backend of invbench (ib_backend_redis), and the
 * few knobs beyond the ib_backend interface: its bounds, the on-demand expiry call, and
 * the time the last prepare() took.
 *
 * The backend starts redis-server on loopback (or attaches to a running one, which it
 * FLUSHALLs), loads the scenario as one hash per SKU, loads bench/invbench/
 * invbench_redis.lua (path compiled in; the IB_REDIS_LUA environment variable overrides
 * it) and drives it with one pipelined EVALSHA per operation over hiredis.
 */
#ifndef IB_REDIS_H
#define IB_REDIS_H

#include <stdint.h>

#include "ib_backend.h"

/* Nearest shipping nodes holding a SKU that the client sends as a line's candidates:
 * invd's routing looks at a bounded candidate list too (INV_ROUTE_CANDIDATES_MAX). */
#define IB_REDIS_CANDIDATES_MAX 8u
/* Requests in flight per connection before submit() answers -EAGAIN. */
#define IB_REDIS_INFLIGHT_MAX 4096u
/* Most reservations one ib_redis_expire_due() call expires (the script's bound). */
#define IB_REDIS_EXPIRE_CALL_MAX 10000u

/* Expire up to `max` (1..IB_REDIS_EXPIRE_CALL_MAX) HELD reservations whose TTL passed,
 * on the server's clock, in one blocking call on a connection of its own.
 * @param t        a target from ib_backend_redis.open
 * @param[out] expired  how many were expired (may be NULL)
 * @return 0 or a negative errno (reason in err). */
int ib_redis_expire_due(ib_target *t, uint32_t max, uint32_t *expired, char *err,
                        size_t err_len);

/* Wall-clock milliseconds the last prepare() took (candidate lists of the pool). */
double ib_redis_prepare_ms(const ib_target *t);

#endif /* IB_REDIS_H */
