/*
 * crc32c.c — CRC-32C (Castagnoli polynomial 0x1EDC6F41, reflected 0x82F63B78).
 *
 * Design: two implementations with identical results.
 *   - hardware: the SSE4.2 `crc32` instruction, 8 bytes per step (_mm_crc32_u64), compiled
 *     with a per-function target attribute so the rest of the build needs no -msse4.2;
 *   - portable: slicing-by-8 tables built once, for CPUs without SSE4.2 (and as the
 *     reference the tests compare against).
 * The tables are built once (pthread_once).
 * The choice is made at run time, on first use, from __builtin_cpu_supports("sse4.2")
 * and cached in an atomic function pointer (racing first callers pick the same one).
 *
 * Invariant: crc32c(crc32c(0, a, n), b, m) == crc32c(0, a‖b, n + m) for both versions,
 * so record headers and bodies can be checksummed in two calls without copying.
 *
 * State diagram: UNSELECTED ──crc32c_select (first call)──► SELECTED (hardware or
 * portable), for the life of the process; the tables: EMPTY ──crc32c_table_build
 * (pthread_once)──► BUILT.
 */
#include "crc32c.h"

#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#if defined(__x86_64__)
#include <nmmintrin.h>
#define CRC32C_HAVE_X86 1
#else
#define CRC32C_HAVE_X86 0
#endif

#define CRC32C_POLY 0x82f63b78u

typedef uint32_t (*crc32c_fn)(uint32_t crc, const void *data, size_t len);

/* ====================================================================================
 * Portable: slicing-by-8
 * ==================================================================================== */

static uint32_t crc32c_table[8][256];
static pthread_once_t crc32c_table_once = PTHREAD_ONCE_INIT;

static void crc32c_table_build(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c & 1u) ? (c >> 1) ^ CRC32C_POLY : c >> 1;
        crc32c_table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++) {
        for (uint32_t t = 1; t < 8; t++) {
            uint32_t prev = crc32c_table[t - 1][i];
            crc32c_table[t][i] = (prev >> 8) ^ crc32c_table[0][prev & 0xffu];
        }
    }
    assert(crc32c_table[0][128] == CRC32C_POLY); /* byte 0x80 shifts to one XOR */
    assert(crc32c_table[0][0] == 0);
}

uint32_t crc32c_portable(uint32_t crc, const void *data, size_t len) {
    pthread_once(&crc32c_table_once, crc32c_table_build);
    const unsigned char *p = data;
    uint32_t c = ~crc;
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        w ^= c;
        c = crc32c_table[7][w & 0xffu] ^ crc32c_table[6][(w >> 8) & 0xffu] ^
            crc32c_table[5][(w >> 16) & 0xffu] ^ crc32c_table[4][(w >> 24) & 0xffu] ^
            crc32c_table[3][(w >> 32) & 0xffu] ^ crc32c_table[2][(w >> 40) & 0xffu] ^
            crc32c_table[1][(w >> 48) & 0xffu] ^ crc32c_table[0][w >> 56];
        p += 8;
        len -= 8;
    }
    while (len > 0) {
        c = (c >> 8) ^ crc32c_table[0][(c ^ *p) & 0xffu];
        p++;
        len--;
    }
    return ~c;
}

/* ====================================================================================
 * Hardware: SSE4.2
 * ==================================================================================== */

#if CRC32C_HAVE_X86
__attribute__((target("sse4.2")))
static uint32_t crc32c_sse42(uint32_t crc, const void *data, size_t len) {
    const unsigned char *p = data;
    uint64_t c = (uint32_t)~crc;
    while (len > 0 && ((uintptr_t)p & 7u) != 0) {
        c = _mm_crc32_u8((uint32_t)c, *p);
        p++;
        len--;
    }
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        c = _mm_crc32_u64(c, w);
        p += 8;
        len -= 8;
    }
    while (len > 0) {
        c = _mm_crc32_u8((uint32_t)c, *p);
        p++;
        len--;
    }
    return ~(uint32_t)c;
}
#endif

/* ====================================================================================
 * Selection
 * ==================================================================================== */

static _Atomic(crc32c_fn) crc32c_impl;

static crc32c_fn crc32c_select(void) {
    crc32c_fn fn = crc32c_portable;
#if CRC32C_HAVE_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("sse4.2")) fn = crc32c_sse42;
#endif
    atomic_store_explicit(&crc32c_impl, fn, memory_order_release);
    return fn;
}

uint32_t crc32c(uint32_t crc, const void *data, size_t len) {
    crc32c_fn fn = atomic_load_explicit(&crc32c_impl, memory_order_acquire);
    if (fn == NULL) fn = crc32c_select();
    assert(fn != NULL);
    assert(data != NULL || len == 0);
    return fn(crc, data, len);
}

bool crc32c_is_hardware(void) {
    crc32c_fn fn = atomic_load_explicit(&crc32c_impl, memory_order_acquire);
    if (fn == NULL) fn = crc32c_select();
    return fn != crc32c_portable;
}
