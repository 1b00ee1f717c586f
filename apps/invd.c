/*
 * invd.c — the server's main: options, start, wait for SIGTERM/SIGINT, drain, exit.
 *
 *   invd                         127.0.0.1:7400, admin 127.0.0.1:7401, ./invd-data
 *   invd --config invd.ini --port 7500
 *   invd --help                  every option with its default
 *
 * Signals are blocked in every thread and read here from a signalfd, so no code runs in
 * a signal handler. Exit codes: 0 clean stop; 1 bad options or start-up
 * failure; 2 the drain timed out; 3 the write-ahead log failed at stop. A failed WAL
 * write or fdatasync while running exits the process at once with status 74 (persist).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "inv_server.h"

static int invd_data_dir(const inv_server_config *c) {
    if (c->durability == INV_SERVER_NO_WAL) return 0;
    if (mkdir(c->data_dir, 0755) != 0 && errno != EEXIST) {
        inv_log(INV_LOG_ERROR, "cannot create data directory %s: %s", c->data_dir, strerror(errno));
        return -1;
    }
    return 0;
}

/* Wait for SIGTERM or SIGINT through a signalfd (the signals are blocked in every
 * thread, so they queue for this read and interrupt nothing). */
static int invd_wait_signal(const sigset_t *set) {
    int fd = signalfd(-1, set, SFD_CLOEXEC);
    if (fd < 0) {
        inv_log(INV_LOG_ERROR, "signalfd: %s", strerror(errno));
        return SIGTERM;
    }
    int sig = SIGTERM;
    for (int i = 0; i < 1000000; i++) { /* bounded: one stop signal ends it */
        struct signalfd_siginfo si;
        ssize_t n = read(fd, &si, sizeof si);
        if (n == (ssize_t)sizeof si) {
            sig = (int)si.ssi_signo;
            break;
        }
        if (n < 0 && errno != EINTR) break;
    }
    close(fd);
    return sig;
}

int main(int argc, char **argv) {
    inv_server_config cfg;
    inv_server_config_default(&cfg);
    char err[512] = "";
    int rc = inv_server_config_args(&cfg, argc, argv, err, sizeof err);
    if (rc == 1) return 0;
    if (rc != 0) {
        fprintf(stderr, "invd: %s\n", err);
        return 1;
    }
    inv_log_set_level(cfg.log_level);
    if (invd_data_dir(&cfg) != 0) return 1;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    inv_server *srv = NULL;
    rc = inv_server_open(&srv, &cfg, err, sizeof err);
    if (rc != 0) {
        inv_log(INV_LOG_ERROR, "cannot start: %s", err);
        return 1;
    }
    if (inv_server_start(srv) != 0) {
        inv_server_close(srv);
        return 1;
    }
    int sig = invd_wait_signal(&set);
    inv_log(INV_LOG_INFO, "%s: stopping (draining in-flight requests)", strsignal(sig));
    inv_server_stop(srv);
    rc = inv_server_wait(srv);
    inv_server_close(srv);
    if (rc == -EIO) return 3;
    return rc == 0 ? 0 : 2;
}
