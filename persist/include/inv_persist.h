/*
 * inv_persist.h — durability for invd: per-shard write-ahead logs with group commit,
 * fork-based snapshots, recovery, and a verifier (DESIGN.md §6).
 *
 * Files, all in one directory:
 *   wal-SSS-NNNNNNNNNN.log   segment NNNNNNNNNN of shard SSS's log (preallocated; a
 *                            4 KiB header names log id, shard, shard count, segment and
 *                            first LSN, so a misplaced or renamed file is refused)
 *   snap-NNNNNNNNNN.snap     snapshot NNNNNNNNNN: the whole engine state plus each
 *                            shard's LSN at the moment it was taken
 *   *.tmp                    files being created (removed at recovery)
 *   LOCK                     flock()ed while a process has the directory open
 *
 * Life of a process:
 *
 *   inv_persist_open ──► inv_persist_recover (engine in direct mode: newest valid
 *   snapshot + every shard's WAL after it; torn tails cut; WALs opened for appending;
 *   inv_engine_recovered) ──► run: the engine's journal appends (inv_persist_journal),
 *   each shard thread calls inv_wal_flush / inv_wal_poll once per loop pass and
 *   releases a mutation's reply once inv_persist_reply_ready() ──► inv_persist_close.
 *
 * Threads: each inv_wal belongs to its shard's thread (no lock). Reading a WAL's durable
 * LSN (inv_wal_durable_lsn, inv_persist_durable, inv_persist_reply_ready) is safe from
 * any thread. Everything else on inv_persist is for the thread that owns the engine
 * while the shards are quiescent (direct mode, or shard threads paused at a barrier).
 *
 * Failure: a failed write or fdatasync (EIO, ENOSPC, …) is never retried: persist logs
 * one line on stderr, stops taking writes and exits the process with status 74
 * (EX_IOERR). Bad bytes read from disk are never an abort: recovery and the checker
 * return -EBADMSG with the file, offset and LSN in the message.
 */
#ifndef INV_PERSIST_H
#define INV_PERSIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "inv_engine.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------------------
 * Options.
 * ------------------------------------------------------------------------------------ */
typedef enum inv_durability {
    /* A reply leaves only once its record is durable (group commit). */
    INV_DURABILITY_FSYNC = 0,
    /* Replies leave at once; batches are flushed and fdatasync'ed at most every
     * async_flush_ms. A crash loses at most the records of the last async_flush_ms plus
     * the batch in flight (inv_persist_loss_window_ms). */
    INV_DURABILITY_ASYNC = 1,
} inv_durability;

typedef enum inv_wal_sync_method {
    INV_WAL_SYNC_DEFAULT = 0,   /* measured best here: RWF_DSYNC (persist.c) */
    INV_WAL_SYNC_FDATASYNC = 1, /* write, then a linked fdatasync */
    INV_WAL_SYNC_DSYNC = 2,     /* one write with RWF_DSYNC */
} inv_wal_sync_method;

typedef enum inv_wal_prealloc {
    INV_WAL_PREALLOC_DEFAULT = 0, /* measured best here: fallocate (persist.c) */
    INV_WAL_PREALLOC_FALLOCATE = 1,
    INV_WAL_PREALLOC_ZERO = 2,    /* write zeros: no unwritten extents to convert */
} inv_wal_prealloc;

/* Fault injection (tests): every I/O persist does goes past this hook. */
typedef enum inv_io_kind {
    INV_IO_WAL_WRITE = 1,       /* a batch's write (fdatasync method) */
    INV_IO_WAL_FDATASYNC = 2,   /* the fdatasync linked after it */
    INV_IO_WAL_DSYNC_WRITE = 3, /* a batch's RWF_DSYNC write */
    INV_IO_FILE_WRITE = 4,      /* synchronous write: segment creation, tail repair */
    INV_IO_FILE_SYNC = 5,       /* synchronous fsync of a file or directory */
} inv_io_kind;

typedef struct inv_io_event {
    inv_io_kind kind;
    uint32_t shard;             /* UINT32_MAX: not a shard's file */
    uint64_t first_lsn, last_lsn; /* the batch's records (WAL kinds), else 0 */
    uint64_t bytes;
} inv_io_event;

/* Called when an I/O completes. @return 0 to keep the real result, or a negative errno
 * that replaces it (the I/O itself was still done). */
typedef int (*inv_io_fault_fn)(void *ctx, const inv_io_event *ev);

typedef struct inv_persist_options {
    inv_durability durability;
    uint32_t async_flush_ms;      /* ASYNC: flush interval (0: default 10 ms) */
    uint32_t batch_interval_us;   /* FSYNC: a batch goes out no sooner than this after the
                                     previous one went out, unless half a buffer is
                                     waiting (0: as soon as the previous is durable).
                                     Fewer, larger batches: less kernel work per record
                                     on a box whose cores the shards share with the
                                     I/O path, at most this much more latency. */
    uint64_t segment_bytes;       /* preallocated segment size (0: 64 MiB) */
    uint32_t batch_bytes;         /* group-commit buffer per batch (0: 1 MiB) */
    inv_wal_sync_method sync_method;
    inv_wal_prealloc prealloc;
    uint64_t snapshot_bytes;      /* inv_persist_snapshot_due after this much log */
    uint64_t snapshot_interval_ms;/* … or this long since the last snapshot */
    inv_io_fault_fn fault;        /* test hook, NULL in production */
    void *fault_ctx;
    /* Test hook: the snapshot child dies (exit 99) at step n: 1 after its records, before
     * the trailer; 2 after the trailer, before fsync; 3 after fsync, before rename; 4
     * after rename, before the directory fsync; 5 after the directory fsync (the parent
     * sees a failure); 6 after its first two records, the second one torn. 0: off. */
    uint32_t test_snapshot_crash_step;
} inv_persist_options;

/* Defaults: FSYNC durability, 64 MiB segments, 1 MiB batches, RWF_DSYNC writes into
 * fallocated segments, snapshot after 1 GiB of log or an hour. */
void inv_persist_options_default(inv_persist_options *o);

/* ------------------------------------------------------------------------------------
 * One shard's write-ahead log. Owned by the shard's thread.
 * ------------------------------------------------------------------------------------ */
typedef struct inv_wal inv_wal;

/* Where a shard's log continues (filled by recovery; zero for a new log). */
typedef struct inv_wal_position {
    uint64_t log_id;          /* identity of the directory's log (0: choose one) */
    uint64_t segment;         /* the last segment (0: none yet) */
    uint64_t segment_bytes;   /* its size, from its header */
    uint64_t end_offset;      /* where its valid records end */
    uint64_t last_lsn;        /* LSN to continue after */
} inv_wal_position;

typedef struct inv_wal_stats {
    uint64_t records, bytes;          /* appended */
    uint64_t batches;                 /* batches made durable */
    uint64_t syncs;                   /* fdatasyncs (or RWF_DSYNC writes) completed */
    uint64_t sync_ns_total, sync_ns_max; /* submit → durable, per batch */
    uint64_t segments_created;
    uint64_t rotate_ns_total;         /* time spent switching segments */
    uint64_t append_waits;            /* appends that waited for a batch in flight */
    uint64_t durable_lsn, last_lsn;
} inv_wal_stats;

/* Open shard `shard`'s log for appending.
 * @param[out] out      the log
 * @param dir           the directory (must exist)
 * @param shard         0..shard_count-1
 * @param shard_count   shards of the engine (recorded in every header)
 * @param pos           where to continue (NULL: a new, empty log with a random log id;
 *                      the logs of one directory must share one id, so open several
 *                      shards through inv_persist, or pass the same pos->log_id)
 * @param opt           options (NULL: defaults)
 * @return 0; -EINVAL bad options; -ENOSYS/-EPERM io_uring unavailable; -errno. */
int inv_wal_open(inv_wal **out, const char *dir, uint32_t shard, uint32_t shard_count,
                 const inv_wal_position *pos, const inv_persist_options *opt);

/* Copy one record into the filling batch; never fails (a full buffer waits for the
 * batch in flight; a full segment switches to a new one).
 * @return the record's LSN (> 0). */
uint64_t inv_wal_append(inv_wal *w, inv_rec_type type, const void *body, uint32_t len);

/* Once per loop pass: reap completions (as inv_wal_poll), then submit the filling batch
 * unless one is still in flight (then it keeps filling: group commit). FSYNC with
 * batch_interval_us: not before that long after the previous submit, or sooner once the
 * buffer is half full. ASYNC: at most every async_flush_ms, or sooner once the buffer is
 * half full. A caller that got 0 while records wait calls again (invd's loop polls every
 * INV_NET_WAL_POLL_US while its log has undurable records).
 * @return 1 submitted, 0 nothing to do or still waiting. */
int inv_wal_flush(inv_wal *w);

/* Reap completions without blocking; advances the durable LSN.
 * @return completions handled. */
uint32_t inv_wal_poll(inv_wal *w);

/* Block until everything appended so far is durable (shutdown, direct mode).
 * @return 0 (a failure exits the process). */
int inv_wal_sync(inv_wal *w);

/* Last LSN known durable (any thread). */
uint64_t inv_wal_durable_lsn(const inv_wal *w);
/* Last LSN appended (owner thread, or while quiescent). */
uint64_t inv_wal_last_lsn(const inv_wal *w);
void inv_wal_stats_read(const inv_wal *w, inv_wal_stats *out);
/* Sync, then close and free. */
void inv_wal_close(inv_wal *w);

/* ------------------------------------------------------------------------------------
 * The set of logs of one engine, snapshots and recovery.
 * ------------------------------------------------------------------------------------ */
typedef struct inv_persist inv_persist;

/* Open (creating it if missing) the directory of an engine with `shards` shards, and
 * lock it. Nothing is read yet: call inv_persist_recover next.
 * @return 0; -EBUSY another process holds it; -EINVAL bad options; -errno. */
int inv_persist_open(inv_persist **out, const char *dir, uint32_t shards,
                     const inv_persist_options *opt);

/* The journal to put in inv_engine_config.journal before inv_engine_open. */
inv_journal inv_persist_journal(inv_persist *p);

typedef struct inv_recovery_shard {
    uint64_t snapshot_lsn;        /* the snapshot covered records up to this LSN */
    uint32_t segments;            /* segments scanned */
    uint64_t records;             /* WAL records replayed */
    uint64_t bytes;
    uint64_t first_lsn, last_lsn; /* of the records replayed (0: none) */
    uint64_t torn_bytes;          /* damaged or partial bytes cut from the tail */
    uint64_t torn_records_dropped;/* intact records of the final batch after its damage */
} inv_recovery_shard;

typedef struct inv_recovery_report {
    uint32_t shard_count;
    uint64_t snapshot_seq;        /* 0: none used */
    uint64_t snapshot_records;
    uint32_t snapshots_rejected;  /* newer snapshots found damaged and skipped */
    uint64_t wal_records;
    uint32_t expired;             /* reservations expired at start */
    uint64_t elapsed_ns;
    /* On -EBADMSG: where. */
    char bad_file[64];
    uint64_t bad_offset, bad_lsn;
    inv_recovery_shard shards[INV_SHARDS_MAX];
} inv_recovery_report;

/* Recover `e` (just opened, direct mode, nothing executed yet): newest valid snapshot,
 * then every shard's WAL after it, fed to inv_engine_replay; torn tails are cut; the
 * WALs are opened for appending; inv_engine_recovered expires what timed out while down
 * (logged) and that is made durable.
 * @param rep   filled with what was done (may be NULL)
 * @param err   why, on failure (file, offset, LSN)
 * @return 0; -EBADMSG corruption (refuse to start); -EINVAL a record the engine
 *         refused, or a directory of another shard count; -errno I/O. */
int inv_persist_recover(inv_persist *p, inv_engine *e, inv_recovery_report *rep, char *err,
                        size_t errlen);

/* Recovery with any consumer instead of an engine (tests, tools, replication): the
 * same reading, checking and tail repair; every record goes to `replay`. */
typedef int (*inv_replay_fn)(void *ctx, uint32_t shard, inv_rec_type type, const void *body,
                             uint32_t len, char *err, size_t errlen);
int inv_persist_recover_with(inv_persist *p, inv_replay_fn replay, void *ctx,
                             inv_recovery_report *rep, char *err, size_t errlen);

/* Shard `shard`'s log (after recovery), for its thread's flush/poll. */
inv_wal *inv_persist_wal(inv_persist *p, uint32_t shard);
uint32_t inv_persist_shard_count(const inv_persist *p);

/* Whether shard `shard`'s record `lsn` is durable (any thread; lsn 0 is). */
bool inv_persist_durable(const inv_persist *p, uint32_t shard, uint64_t lsn);
/* Whether a reply for an op whose last record is `lsn` on `shard` may leave:
 * durable, or durability=async. */
bool inv_persist_reply_ready(const inv_persist *p, uint32_t shard, uint64_t lsn);

/* ------------------------------------------------------------------------------------
 * Cross-shard causality: replies wait for what they saw on other shards.
 *
 * Shards share stock cells, limit counters and node capacity, and each logs only its
 * own changes. Two rules keep a crash from exposing a state the logs cannot rebuild:
 *   - Logs: what a change gives back (units a release, expiry or restock frees, limit
 *     and capacity counts, a new safety stock or limit) reaches the shared counters only
 *     once the change's record is durable (the journal's durable_lsn; engine credit.c).
 *     So no record, durable or not, ever used what a lost record gave back.
 *   - Replies (below): an op on shard B still sees what A takes away before it is
 *     durable — e.g. a commit's lower on_hand, which B's Adjust(set_to) turns into its
 *     delta; had B's reply left and A's commit been lost, recovery would not rebuild
 *     the on_hand B acknowledged. So a reply also waits until every record any shard
 *     had appended (or was about to append) when the op finished is durable.
 *
 * Each shard thread brackets its engine work in passes:
 *   inv_persist_pass_enter()  before any engine call that may change state (submit,
 *                             inv_shard_poll: forwarded ops, expiry);
 *   inv_persist_pass_settle() after the pass's inv_wal_flush (and after a poll that
 *                             found nothing, before the thread sleeps).
 * Entering publishes the pass number (sequentially consistent, before any effect);
 * settling publishes "every record appended through pass P is durable" once it is.
 * A reply captures every shard's current pass number after its op finished
 * (inv_persist_deps_capture, with a fence: whatever the op saw happened in a pass that
 * had been entered by then) and may leave when each shard has settled that far
 * (inv_persist_deps_ready). The chain is transitive: stock, limit and capacity
 * updates are sequentially consistent read-modify-writes.
 * With durability=async every dependency is ready at once.
 * ------------------------------------------------------------------------------------ */
typedef struct inv_persist_deps {
    uint32_t shards;
    uint64_t pass[INV_SHARDS_MAX];
} inv_persist_deps;

/* Shard `shard`'s thread: a pass that may change engine state begins. */
void inv_persist_pass_enter(inv_persist *p, uint32_t shard);
/* Shard `shard`'s thread, after flushing its log: publish how far it is durable.
 * Cheap; call it every loop pass (it also notices batches that became durable). */
void inv_persist_pass_settle(inv_persist *p, uint32_t shard);
/* Any thread, after an op completed: what its reply must wait for. */
void inv_persist_deps_capture(const inv_persist *p, inv_persist_deps *d);
/* Whether every shard has settled the passes `d` names (or durability is async). */
bool inv_persist_deps_ready(const inv_persist *p, const inv_persist_deps *d);

/* A shard thread's reply gate: the pass protocol for a loop with many replies in
 * flight. Replies that complete in one pass share one capture, taken when the pass
 * settles, so the cost is one capture per pass, not per reply.
 *   loop pass:  inv_persist_pass_enter → engine work (each finished reply:
 *               ticket = inv_reply_gate_join) → inv_wal_flush →
 *               ready = inv_reply_gate_settle → replies whose ticket ≤ ready, and
 *               whose own record is durable, may leave.
 * Tickets only grow, so a FIFO of waiting replies releases a prefix. */
typedef struct inv_reply_gate inv_reply_gate;

/* @return 0 or -ENOMEM. */
int inv_reply_gate_open(inv_reply_gate **out, inv_persist *p, uint32_t shard);
void inv_reply_gate_close(inv_reply_gate *g);
/* A reply completed on the gate's thread: the ticket it waits for. */
uint64_t inv_reply_gate_join(inv_reply_gate *g);
/* After the pass's inv_wal_flush: settle the shard (inv_persist_pass_settle), capture
 * the dependencies of this pass's tickets, and return the newest ready ticket. */
uint64_t inv_reply_gate_settle(inv_reply_gate *g);

/* Flush and reap every shard's log without blocking (direct mode loops).
 * @return completions handled. */
uint32_t inv_persist_pump(inv_persist *p);
/* Make everything appended on every shard durable (direct mode, quiescent). */
int inv_persist_sync(inv_persist *p);

inv_durability inv_persist_durability(const inv_persist *p);
/* How much acknowledged work a crash may lose: 0 with FSYNC; with ASYNC the flush
 * interval (records of the batch in flight are in that window too). */
uint64_t inv_persist_loss_window_ms(const inv_persist *p);

/* Sum of every shard's WAL statistics. */
void inv_persist_stats_read(const inv_persist *p, inv_wal_stats *out);

/* Sync every log, then close and unlock. */
void inv_persist_close(inv_persist *p);

/* ------------------------------------------------------------------------------------
 * Snapshots. Start one while the engine is quiescent (direct mode, or every shard
 * thread paused at a barrier): every log is synced, the process forks, and the child
 * writes the state to snap-N.tmp → fsync → rename → fsync the directory. The caller
 * resumes at once and polls; once the child succeeded, the snapshot before the
 * previous one and the WAL segments the previous one no longer needs are deleted (two
 * snapshots are kept, so a damaged newest one still has its predecessor and its log).
 * The child dies with the thread that started it (PR_SET_PDEATHSIG: no orphan keeps
 * writing after a crash), so that thread must poll or wait for it before it ends.
 * ------------------------------------------------------------------------------------ */
typedef enum inv_snapshot_state {
    INV_SNAPSHOT_IDLE = 0,    /* none running; nothing new to report */
    INV_SNAPSHOT_RUNNING = 1,
    INV_SNAPSHOT_DONE = 2,    /* the last one finished and is durable (reported once) */
    INV_SNAPSHOT_FAILED = 3,  /* the last one failed (reported once; see stderr) */
} inv_snapshot_state;

/* Whether a snapshot is due: snapshot_bytes of log or snapshot_interval_ms (monotonic
 * clock) since the last one, and none running. */
bool inv_persist_snapshot_due(const inv_persist *p);

/* Start a snapshot of `e` (quiescent).
 * @return 0; -EBUSY one is running; -errno fork failed. */
int inv_persist_snapshot_start(inv_persist *p, const inv_engine *e);

/* Same with any state source: `source` is called in the child and must emit the whole
 * state through `emit` (inv_engine_snapshot has this shape). */
typedef int (*inv_state_source_fn)(void *ctx, inv_snapshot_emit_fn emit, void *emit_ctx);
int inv_persist_snapshot_start_with(inv_persist *p, inv_state_source_fn source, void *ctx);

/* Reap the child without blocking; on success delete what is no longer needed. */
inv_snapshot_state inv_persist_snapshot_poll(inv_persist *p);
/* Block until the running snapshot ends. */
inv_snapshot_state inv_persist_snapshot_wait(inv_persist *p);

/* ------------------------------------------------------------------------------------
 * Verification (invwal check).
 * ------------------------------------------------------------------------------------ */
typedef struct inv_check_shard {
    uint32_t segments;
    uint64_t records, bytes;
    uint64_t first_lsn, last_lsn;
    uint64_t torn_bytes;          /* a tail recovery would cut */
} inv_check_shard;

typedef struct inv_check_report {
    uint32_t shard_count;         /* from the headers (0: no files) */
    uint32_t snapshots, snapshots_bad;
    uint64_t newest_snapshot_seq;
    bool corrupt;
    char bad_file[64];
    uint64_t bad_offset, bad_lsn;
    char message[256];
    inv_check_shard shards[INV_SHARDS_MAX];
} inv_check_report;

/* Verify every segment and snapshot of `dir` without changing anything; print one line
 * per file and a summary to `out` (may be NULL).
 * @return 0 clean (a torn tail is reported, not an error); -EBADMSG corruption (location
 *         in rep); -errno I/O. */
int inv_persist_check(const char *dir, FILE *out, inv_check_report *rep);

#ifdef __cplusplus
}
#endif

#endif /* INV_PERSIST_H */
