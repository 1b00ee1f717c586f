/*
 * log.c — one line per event: "2024-06-18T12:00:00.123Z WARN  [shard 1] message".
 *
 * A line is formatted into a stack buffer and written with one write(2) to stderr, so
 * lines from different threads never interleave (each is well under PIPE_BUF). The level
 * is a relaxed atomic: changing it is rare and needs no ordering.
 */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "net_int.h"

static _Atomic int log_level = INV_LOG_INFO;

void inv_log_set_level(inv_log_level level) {
    assert(level >= INV_LOG_DEBUG && level <= INV_LOG_ERROR);
    atomic_store_explicit(&log_level, (int)level, memory_order_relaxed);
}

bool net_log_enabled(inv_log_level level) {
    return (int)level >= atomic_load_explicit(&log_level, memory_order_relaxed);
}

static void log_line(inv_log_level level, int shard, const char *fmt, va_list ap) {
    static const char *const names[] = {"DEBUG", "INFO ", "WARN ", "ERROR"};
    char line[INV_NET_LOG_LINE_MAX];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000000, names[level]);
    if (shard >= 0 && n > 0 && (size_t)n < sizeof line)
        n += snprintf(line + n, sizeof line - (size_t)n, "[shard %d] ", shard);
    if (n > 0 && (size_t)n < sizeof line)
        n += vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    if (n < 0) return;
    size_t len = (size_t)n < sizeof line - 1 ? (size_t)n : sizeof line - 2;
    line[len++] = '\n';
    (void)!write(STDERR_FILENO, line, len);
}

void inv_log(inv_log_level level, const char *fmt, ...) {
    if (!net_log_enabled(level)) return;
    va_list ap;
    va_start(ap, fmt);
    log_line(level, -1, fmt, ap);
    va_end(ap);
}

void net_log_shard(inv_log_level level, uint32_t shard, const char *fmt, ...) {
    if (!net_log_enabled(level)) return;
    va_list ap;
    va_start(ap, fmt);
    log_line(level, (int)shard, fmt, ap);
    va_end(ap);
}
