/*
 * timer.c — hashed timer wheel (see timer.h).
 *
 * Invariant: an entry with due tick ≤ done_tick is never in the wheel — timer_add puts
 * an already-due entry into the next slot to be walked (done_tick + 1), so collect
 * finds it on its next call. done_tick never reaches the tick `now` is in: that tick
 * may still receive entries due later in it, so it is walked again next time.
 */
#include "timer.h"

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>

#define TIMER_NONE UINT32_MAX
#define TIMER_MASK (INV_TIMER_SLOTS - 1u)

static inline timer_link *link_of(const timer_wheel *w, uint32_t h) {
    assert(h != TIMER_NONE);
    return (timer_link *)(w->base + (uint64_t)h * w->unit_bytes);
}

void timer_init(timer_wheel *w, unsigned char *base, uint32_t unit_bytes, uint64_t now_ms) {
    assert(base != NULL);
    assert(unit_bytes >= sizeof(timer_link));
    for (uint32_t i = 0; i < INV_TIMER_SLOTS; i++) w->head[i] = TIMER_NONE;
    w->base = base;
    w->unit_bytes = unit_bytes;
    w->done_tick = now_ms / INV_TIMER_SLOT_MS > 0 ? now_ms / INV_TIMER_SLOT_MS - 1 : 0;
    w->count = 0;
}

void timer_add(timer_wheel *w, uint32_t handle, uint64_t due_ms) {
    timer_link *l = link_of(w, handle);
    uint64_t tick = due_ms / INV_TIMER_SLOT_MS;
    if (tick <= w->done_tick) tick = w->done_tick + 1;
    uint32_t slot = (uint32_t)(tick & TIMER_MASK);
    l->due_ms = due_ms;
    l->prev = TIMER_NONE;
    l->next = w->head[slot];
    if (l->next != TIMER_NONE) link_of(w, l->next)->prev = handle;
    w->head[slot] = handle;
    w->count++;
}

void timer_remove(timer_wheel *w, uint32_t handle) {
    timer_link *l = link_of(w, handle);
    assert(w->count > 0);
    if (l->prev != TIMER_NONE) {
        link_of(w, l->prev)->next = l->next;
    } else {
        /* The head of some slot: find which by its due tick (or the slot it was
         * pushed to when it was already due). */
        uint64_t tick = l->due_ms / INV_TIMER_SLOT_MS;
        uint32_t slot = (uint32_t)(tick & TIMER_MASK);
        if (w->head[slot] != handle) {
            for (uint32_t i = 0; i < INV_TIMER_SLOTS && w->head[slot] != handle; i++)
                slot = (slot + 1) & TIMER_MASK;
        }
        assert(w->head[slot] == handle);
        w->head[slot] = l->next;
    }
    if (l->next != TIMER_NONE) link_of(w, l->next)->prev = l->prev;
    l->prev = l->next = TIMER_NONE;
    w->count--;
}

/* Collect due entries of one slot. @return false if `out` filled up first. */
static bool collect_slot(timer_wheel *w, uint32_t slot, uint64_t now_ms, uint32_t *out,
                         uint32_t max, uint32_t *n) {
    uint32_t h = w->head[slot];
    uint64_t entries = w->count; /* the slot holds at most this many; count shrinks below */
    for (uint64_t guard = 0; h != TIMER_NONE && guard <= entries; guard++) {
        timer_link *l = link_of(w, h);
        uint32_t next = l->next;
        if (l->due_ms <= now_ms) {
            if (*n == max) return false;
            timer_remove(w, h);
            out[(*n)++] = h;
        }
        h = next;
    }
    return true;
}

uint32_t timer_collect(timer_wheel *w, uint64_t now_ms, uint32_t *out, uint32_t max) {
    assert(out != NULL || max == 0);
    uint64_t now_tick = now_ms / INV_TIMER_SLOT_MS;
    /* The current tick stays open: entries due later in it are collected next time. */
    uint64_t done_after = now_tick > 0 ? now_tick - 1 : 0;
    uint32_t n = 0;
    if (w->count == 0) {
        if (done_after > w->done_tick) w->done_tick = done_after;
        return 0;
    }
    /* Walk at most one full turn; past that every slot has been seen once. */
    uint64_t last = now_tick;
    if (last > w->done_tick + INV_TIMER_SLOTS) last = w->done_tick + INV_TIMER_SLOTS;
    for (uint64_t tick = w->done_tick + 1; tick <= last; tick++) {
        if (!collect_slot(w, (uint32_t)(tick & TIMER_MASK), now_ms, out, max, &n))
            return n;
        if (tick <= done_after) w->done_tick = tick;
    }
    if (done_after > w->done_tick) w->done_tick = done_after;
    return n;
}
