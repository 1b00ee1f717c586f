/*
 * crc32c.h — CRC-32C (Castagnoli), the checksum of every WAL record, segment header and
 * snapshot. See crc32c.c for how the implementation is chosen.
 */
#ifndef INV_PERSIST_CRC32C_H
#define INV_PERSIST_CRC32C_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Extend `crc` (the result of a previous call, 0 to start) over `len` bytes.
 * crc32c(0, "123456789", 9) == 0xe3069283. */
uint32_t crc32c(uint32_t crc, const void *data, size_t len);

/* The portable table implementation (tests compare it with the hardware one). */
uint32_t crc32c_portable(uint32_t crc, const void *data, size_t len);

/* Whether crc32c() uses the SSE4.2 instruction on this CPU. */
bool crc32c_is_hardware(void);

#endif /* INV_PERSIST_CRC32C_H */
