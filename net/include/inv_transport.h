/*
 * inv_transport.h — how a server shard moves bytes: one struct of function pointers,
 * like Redis's ConnectionType, that each transport fills.
 *
 * Transports: "uring" (kernel TCP through io_uring: multishot accept on a SO_REUSEPORT
 * listener per shard, multishot recv into provided buffers, send; transport_uring.c)
 * and "mem" (in-memory, for unit tests and the fuzz target; transport_mem.c). A DPDK
 * UDP transport would plug in here too.
 *
 * Model: a transport instance belongs to one shard thread and is used only from it,
 * except `wake`, which any thread may call. The shard asks for a burst of events with
 * `poll`; connections are small integers [0, conn_cap) chosen by the transport. Life of
 * a connection:
 *     ACCEPT → (start | reject) → DATA* / SENT* → close → CLOSED
 * After `reject` or the CLOSED event the number may be reused by a new ACCEPT. At most
 * one send is outstanding per connection; its SENT event carries the bytes sent or a
 * negative errno. DATA bytes stay valid until the next `poll`.
 */
#ifndef INV_TRANSPORT_H
#define INV_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct inv_transport inv_transport;

typedef enum inv_tev_type {
    INV_TEV_ACCEPT = 1, /* new connection `conn`; call start or reject */
    INV_TEV_DATA = 2,   /* data/len received on `conn` */
    INV_TEV_EOF = 3,    /* peer closed or receive failed (result: 0 or -errno) */
    INV_TEV_SENT = 4,   /* the outstanding send finished: result = bytes or -errno */
    INV_TEV_CLOSED = 5, /* close finished: nothing more will come for `conn` */
} inv_tev_type;

typedef struct inv_transport_event {
    inv_tev_type type;
    uint32_t conn;
    int32_t result;
    uint32_t len;
    const uint8_t *data;
} inv_transport_event;

typedef struct inv_transport_config {
    const char *listen_addr; /* IPv4 or IPv6 literal, e.g. "127.0.0.1" */
    uint16_t port;           /* 0: ephemeral (the first shard's choice is shared) */
    uint32_t conn_cap;       /* connections this instance may hold at once */
    uint32_t shard;          /* for names and logs */
} inv_transport_config;

typedef struct inv_transport_type {
    const char *name;
    /* Open an instance. `peer`: an instance of the same type already listening (shards
     * after the first share its port); NULL for the first.
     * @return 0 or a negative errno (message in err). */
    int (*open)(inv_transport **out, const inv_transport_config *cfg, inv_transport *peer,
                char *err, size_t errlen);
    void (*close)(inv_transport *t);
    /* The port actually listened on. */
    uint16_t (*port)(const inv_transport *t);
    /* Burst: submit queued work, wait up to timeout_us (0: do not wait) for events,
     * write at most `max` into ev. @return events written (≥ 0) or a negative errno. */
    int (*poll)(inv_transport *t, inv_transport_event *ev, uint32_t max, uint32_t timeout_us);
    /* Accept decision for an ACCEPT event: start receiving, or refuse (the transport
     * sends `bye` best-effort, closes at once and emits no CLOSED). */
    void (*start)(inv_transport *t, uint32_t conn);
    void (*reject)(inv_transport *t, uint32_t conn, const void *bye, uint32_t bye_len);
    /* Start sending data[0..len); the buffer must stay untouched until SENT.
     * @return 0, -EBUSY (a send is outstanding), -ENOTCONN. */
    int (*send)(inv_transport *t, uint32_t conn, const void *data, uint32_t len);
    /* Stop / restart receiving on conn (backpressure). Idempotent. */
    void (*recv_pause)(inv_transport *t, uint32_t conn);
    void (*recv_resume)(inv_transport *t, uint32_t conn);
    /* Close conn: outstanding work is cancelled; CLOSED follows. Idempotent. */
    void (*conn_close)(inv_transport *t, uint32_t conn);
    /* Stop accepting new connections (shutdown). */
    void (*accept_stop)(inv_transport *t);
    /* Make a poll that is waiting return soon. Any thread. */
    void (*wake)(inv_transport *t);
} inv_transport_type;

/* Kernel TCP through io_uring. */
extern const inv_transport_type inv_transport_uring;
/* In-memory: no sockets; tests and the fuzz target feed bytes and read replies. */
extern const inv_transport_type inv_transport_mem;

/* mem transport only: make a connection appear (an ACCEPT event at the next poll).
 * @return the connection number, or -ENOSPC. */
int inv_transport_mem_connect(inv_transport *t);
/* mem transport only: queue bytes as received on conn (copied; DATA at the next poll). */
int inv_transport_mem_feed(inv_transport *t, uint32_t conn, const void *data, size_t len);
/* mem transport only: peer closes conn (EOF at the next poll). */
void inv_transport_mem_hangup(inv_transport *t, uint32_t conn);
/* mem transport only: bytes the server sent on conn so far, and forget them.
 * @return how many were copied into out (at most cap); the rest stays queued. */
size_t inv_transport_mem_drain(inv_transport *t, uint32_t conn, void *out, size_t cap);
/* mem transport only: true while conn is open from the transport's side. */
bool inv_transport_mem_is_open(inv_transport *t, uint32_t conn);

#ifdef __cplusplus
}
#endif

#endif /* INV_TRANSPORT_H */
