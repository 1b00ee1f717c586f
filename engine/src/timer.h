/*
 * timer.h — a hashed timer wheel for reservation TTLs, one per shard.
 *
 * Entries are intrusive: each starts with a timer_link and lives in the shard's
 * reservation arena, addressed by a 32-bit handle (unit index into `base`). Slot =
 * due tick mod INV_TIMER_SLOTS; an entry due beyond one turn of the wheel stays in its
 * slot and is skipped until its turn comes round. Add, remove and move are O(1);
 * collecting walks only the slots between the last tick handled and now, bounded.
 * Single-threaded: the owning shard only.
 */
#ifndef INV_TIMER_H
#define INV_TIMER_H

#include <stdint.h>

#include "inv_constants.h"

typedef struct timer_link {
    uint32_t prev, next;   /* handles in the slot's list, UINT32_MAX = none */
    uint64_t due_ms;
} timer_link;

typedef struct timer_wheel {
    uint32_t head[INV_TIMER_SLOTS];
    uint64_t done_tick;    /* every entry due at or before this tick is collected */
    unsigned char *base;   /* arena base; handle h is at base + h * unit_bytes */
    uint32_t unit_bytes;
    uint64_t count;
} timer_wheel;

void timer_init(timer_wheel *w, unsigned char *base, uint32_t unit_bytes, uint64_t now_ms);
void timer_add(timer_wheel *w, uint32_t handle, uint64_t due_ms);
void timer_remove(timer_wheel *w, uint32_t handle);
/* Remove up to `max` entries due at or before `now_ms` into `out`. @return count. */
uint32_t timer_collect(timer_wheel *w, uint64_t now_ms, uint32_t *out, uint32_t max);

#endif /* INV_TIMER_H */
