/*
 * invwal.c — verify an invd persist directory (every WAL segment and snapshot) without
 * changing it: a stand-alone twin of `invctl wal-check` that links only persist/ (no
 * client library); the work is inv_persist_check().
 *
 *   invwal check DIR
 *
 * Prints one line per segment and snapshot, then a summary per shard (segments,
 * records, LSN range, bytes). A torn tail (what recovery will cut) is reported and is
 * not an error. Exit status: 0 clean, 1 corruption (file, offset and LSN printed),
 * 2 usage or I/O error.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "inv_persist.h"

static int usage(void) {
    fprintf(stderr, "usage: invwal check DIR\n"
                    "  verify every WAL segment and snapshot in DIR; exit 1 on corruption\n");
    return 2;
}

int main(int argc, char **argv) {
    if (argc != 3 || strcmp(argv[1], "check") != 0) return usage();
    static inv_check_report rep;
    int rc = inv_persist_check(argv[2], stdout, &rep);
    if (rc == -EBADMSG) {
        fprintf(stderr, "invwal: %s: corrupt: %s\n", argv[2], rep.message);
        return 1;
    }
    if (rc < 0) {
        fprintf(stderr, "invwal: %s: %s\n", argv[2], strerror(-rc));
        return 2;
    }
    return 0;
}
