/*
 * wire-int.h — the frames that travel between a pool and its worker processes.
 *
 * The fork and exec backends talk to each worker through two channels: one
 * AF_UNIX stream socket and one region of shared memory (below). Everything
 * on either is a frame: a fixed 16-byte header followed by a payload whose
 * length the header gives. Both ends run on the same machine and the same
 * build, so integers are in native byte order; the header's magic and the
 * HELLO frame's version catch a peer that is not ours.
 *
 * Which frame goes where: the worker's HELLO and BELLs go over the socket;
 * its INIT_DONEs and RESULTs go into the result ring of the shared region
 * (so a result it wrote survives its crash; see proc-engine.c); the pool's
 * INITs and TASKs go over the socket (transport "socket") or into the task
 * ring (transport "shm").
 *
 *   header   u32 magic "PBW1" | u16 type | u16 zero | u64 payload length
 *
 *   HELLO      worker → pool, first frame of every worker
 *              u32 version | i32 pid | i32 status | message (rest)
 *              status is 0, or the negative errno of a failed start step
 *              (binding to its CPUs), explained by the message.
 *   INIT, TASK pool → worker
 *              u64 id | u16 name length | name | argument (rest)
 *              INIT carries the initializer and id 0.
 *   INIT_DONE, RESULT  worker → pool
 *              u64 id | i64 started | i64 ended | i32 code | i32 task code |
 *              body (rest): the result bytes when code is 0, the task's
 *              message when code is PB_ETASK.
 *   BELL       worker → pool, no payload: "look at the shared region" — a
 *              result is in its ring, or room was made for the pool's bytes.
 *              Sent only when the pool asked for one (it sleeps).
 *
 * The decoder is a pure function of its input bytes, so it can be fuzzed: it
 * says "here is a frame", "need this many bytes", or "malformed, because ...",
 * and never reads outside the buffer it is given. A frame's pointers point
 * into that buffer (no copy).
 */
#ifndef PB_WIRE_INT_H
#define PB_WIRE_INT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define PB__WIRE_MAGIC 0x31574250u /* "PBW1" in memory on little-endian hosts */
#define PB__WIRE_VERSION 2u
#define PB__WIRE_HEADER 16u
#define PB__WIRE_NAME_MAX 255u
/* The fixed part of a TASK/INIT frame before the argument, at most. */
#define PB__WIRE_TASK_HEAD_MAX (PB__WIRE_HEADER + 8u + 2u + PB__WIRE_NAME_MAX)
/* The fixed part of a HELLO frame before the message. */
#define PB__WIRE_HELLO_HEAD (PB__WIRE_HEADER + 4u + 4u + 4u)
/* The fixed part of a RESULT/INIT_DONE frame before the body. */
#define PB__WIRE_RESULT_HEAD (PB__WIRE_HEADER + 8u + 8u + 8u + 4u + 4u)
/* The largest payload a pool accepts from a worker: a sanity bound that a
 * corrupt length cannot pass, far above any real result (64 GiB). */
#define PB__WIRE_MAX_PAYLOAD ((uint64_t)1 << 36)

enum pb__wire_type {
    PB__WIRE_HELLO = 1,
    PB__WIRE_INIT = 2,
    PB__WIRE_TASK = 3,
    PB__WIRE_INIT_DONE = 4,
    PB__WIRE_RESULT = 5,
    PB__WIRE_BELL = 6,
};

typedef struct pb__frame {
    int type;
    /* HELLO */
    uint32_t version;
    int32_t pid;
    int32_t status;
    /* INIT, TASK, INIT_DONE, RESULT */
    uint64_t id;
    /* INIT, TASK: the task name (not NUL-terminated), 1..255 bytes */
    const char *name;
    size_t name_len;
    /* INIT_DONE, RESULT */
    int64_t started, ended;
    int32_t code;      /* 0 or PB_ETASK */
    int32_t task_code; /* PB_ETASK: the task's own code */
    /* The rest of the payload: argument, result bytes, message. */
    const void *body;
    size_t body_len;
} pb__frame;

enum {
    PB__WIRE_BAD = -1,  /* malformed; *why says how */
    PB__WIRE_MORE = 0,  /* incomplete; *need is the frame's total size so far known */
    PB__WIRE_FRAME = 1, /* *out is a frame of *need bytes */
};

/* Decodes the frame at the start of buf[0..len). Frames larger than
 * max_payload bytes of payload are malformed ("oversized").
 *   PB__WIRE_FRAME: *out describes it (pointing into buf), *need = its size.
 *   PB__WIRE_MORE:  *need = the total bytes the frame needs (the header size
 *                   while the header itself is incomplete); buf holds a valid
 *                   prefix so far.
 *   PB__WIRE_BAD:   why[0..whysize) holds a NUL-terminated reason, such as
 *                   "unknown frame type 9".
 * Pure: reads only buf[0..len), writes only *out, *need and why. */
int pb__wire_decode(const void *buf, size_t len, uint64_t max_payload, pb__frame *out,
                    uint64_t *need, char *why, size_t whysize);

/* Encoders write a frame's fixed part into buf; the variable part (argument,
 * result bytes, message) follows separately (e.g. as a second iovec).
 *
 * TASK or INIT: buf has PB__WIRE_TASK_HEAD_MAX bytes; name is 1..255 bytes.
 * Returns the bytes written, or 0 for a bad name. */
size_t pb__wire_put_task(void *buf, int type, uint64_t id, const char *name,
                         uint64_t arg_len);

/* RESULT or INIT_DONE: buf has PB__WIRE_RESULT_HEAD bytes. Returns that. */
size_t pb__wire_put_result(void *buf, int type, uint64_t id, int64_t started,
                           int64_t ended, int32_t code, int32_t task_code,
                           uint64_t body_len);

/* HELLO, whole: buf has cap bytes; the message is truncated to fit. Returns
 * the bytes written (0 if cap < PB__WIRE_HELLO_HEAD). */
size_t pb__wire_put_hello(void *buf, size_t cap, int32_t pid, int32_t status,
                          const char *message);

/* BELL, whole: buf has PB__WIRE_HEADER bytes. Returns that. */
size_t pb__wire_put_bell(void *buf);

/* ---- Blocking helpers for the worker side ---- */

/* Writes all of iov[0..n) to fd, retrying partial writes and EINTR, without
 * raising SIGPIPE (fd must be a socket). Returns 0 or a negative errno. */
struct iovec;
int pb__wire_send_all(int fd, struct iovec *iov, int n);

/* After a write of `done` bytes from iov[0..n): returns how many entries it
 * used up whole, and moves the next entry's start past the rest. Shared by
 * the blocking sender above and the pool's non-blocking one. */
int pb__wire_iov_consume(struct iovec *iov, int n, size_t done);

/* A growable receive buffer. */
typedef struct pb__rxbuf {
    unsigned char *data;
    size_t len; /* bytes held */
    size_t cap;
    size_t off; /* bytes already consumed (decoded frames) at the front */
} pb__rxbuf;

void pb__rxbuf_free(pb__rxbuf *rx);

/* Makes room for at least want bytes after the consumed prefix is dropped.
 * Returns 0 or PB_ENOMEM. */
int pb__rxbuf_reserve(pb__rxbuf *rx, uint64_t want);

/* ------------------------------------------------------------------------
 * The shared region (wire-shm.c)
 *
 * One memfd per pool: its page (the single spinner, below) at offset 0, then
 * one region per worker process alive — a dying process keeps its region
 * until it is reaped. A region is a control page, then the task ring
 * (transport "shm" only), then the result ring. The pool maps the whole
 * memfd once (one mapping, not one per worker: forking a process with
 * thousands of mappings is slow) and not into forked children
 * (MADV_DONTFORK); each worker maps the pool's page and its own region only.
 *
 * A ring is a byte stream between one producer and one consumer, the
 * same bytes a socket would carry: the producer copies bytes in and then
 * publishes `tail`, the consumer copies bytes out and then publishes
 * `head`; both count bytes since the start, so tail - head is what is
 * queued and index = count % cap. A frame larger than the ring streams
 * through it in pieces. Whatever a producer had not published when it died
 * was never seen, so a worker dying mid-write corrupts nothing.
 *
 * The pool trusts nothing in the region: it reads a worker's counters once,
 * checks them (tail - head within the ring), copies the bytes out before it
 * decodes them, and treats anything out of range as a malformed frame.
 *
 * Each side asks the other to wake it through a flag before it sleeps and
 * rechecks the ring after setting it; the other side, after publishing,
 * exchanges the flag to 0 and wakes it if it was set. Both sides use
 * sequentially consistent operations for the flag and the counter (Dekker),
 * so a wake-up is never lost. The worker sleeps on the futex word `bell`
 * (the pool increments it and FUTEX_WAKEs; the mapping is shared, so the
 * futex is too); the pool sleeps in epoll, and the worker wakes it with a
 * BELL frame on the socket.
 * ------------------------------------------------------------------------ */

#define PB__SHM_MAGIC 0x314d4853u /* "SHM1" in memory on little-endian hosts */
#define PB__SHM_CONTROL 4096u     /* the control page; the rings' bytes follow */
#define PB__SHM_RING_MIN 4096u
#define PB__SHM_RING_MAX (1u << 30)
/* `running` once the pool has condemned the task (task_timeout): the worker
 * must not start another, and exits when it sees it. */
#define PB__SHM_CONDEMNED UINT64_MAX
#define PB__SHM_CLAIMS 64u
#define PB__SHM_REVOKED UINT64_MAX

typedef struct pb__ring {
    _Alignas(64) _Atomic uint64_t tail; /* bytes the producer has published */
    _Alignas(64) _Atomic uint64_t head; /* bytes the consumer has taken */
    /* The producer waits for room, or the consumer for bytes: whoever makes
     * the other side's progress possible wakes it (see above). */
    _Alignas(64) _Atomic uint32_t want_space;
    _Atomic uint32_t want_data;
} pb__ring;

typedef struct pb__shm {
    uint32_t magic;
    uint32_t version;    /* PB__WIRE_VERSION */
    uint32_t task_cap;   /* bytes of the task ring; 0: tasks come over the socket */
    uint32_t result_cap; /* bytes of the result ring */
    pb__ring tasks;      /* pool → worker */
    pb__ring results;    /* worker → pool */
    /* The task the worker is executing: its id, 0 for none, or
     * PB__SHM_CONDEMNED. The worker stores `started`, then the id, before
     * it runs a task, and exchanges the id back to 0 (compare-and-swap)
     * after publishing its result; the pool condemns an overdue task with
     * a compare-and-swap from its id, so exactly one of the two wins. */
    _Alignas(64) _Atomic uint64_t running;
    _Atomic int64_t started;
    /* Taking back tasks handed over but not started (so that an idle
     * worker never waits while another holds tasks it cannot start yet).
     * The n-th TASK frame the pool sends this worker (n counts from 0) has
     * its id in claim[n % PB__SHM_CLAIMS] first. Before running it the
     * worker swaps that id for 0 (compare-and-swap); to take the task back
     * the pool swaps it for PB__SHM_REVOKED. Exactly one of the two wins; a
     * worker whose swap fails skips the frame, with no result. The pool never
     * has two tasks it may still lose a race for PB__SHM_CLAIMS frames
     * apart. */
    _Alignas(64) _Atomic uint64_t claim[PB__SHM_CLAIMS];
    _Alignas(64) _Atomic uint32_t bell; /* the worker's futex word */
    _Atomic uint32_t closing;           /* the pool asks the worker to exit */
    _Atomic uint32_t tx_blocked;        /* the pool's socket writes would block:
                                           BELL once you have read */
} pb__shm;

/* A pool's page shared by all its workers: the single spinner among them
 * (transport "shm"), the pid of the worker busy-waiting for its next task,
 * or 0. A worker that dies holding it only stops the others from spinning
 * until the pool, which reaps it, gives the token back. */
typedef struct pb__shm_pool {
    uint32_t magic;
    _Alignas(64) _Atomic int32_t spinner;
} pb__shm_pool;

/* The size of a region with rings of these sizes. */
size_t pb__shm_size(uint32_t task_cap, uint32_t result_cap);

/* Pool side: sizes the memfd fd to len bytes, maps it (not into forked
 * children: MADV_DONTFORK) and writes the pool's page at its start. Returns
 * 0 or a negative errno; *base is the mapping. */
int pb__shm_area_init(int fd, size_t len, void **base);

/* Pool side: makes a fresh region of a worker at `at` (a page boundary in
 * the area, with pb__shm_size() bytes): control page reset, rings empty. */
pb__shm *pb__shm_format(void *at, uint32_t task_cap, uint32_t result_cap);

/* Worker side: maps the pool's page and the region at offset in fd, and
 * checks them. Returns 0, or a negative errno with why[] saying what was
 * wrong. */
int pb__shm_attach(int fd, uint64_t offset, pb__shm **region, pb__shm_pool **page, char *why,
                   size_t whysize);

/* The bytes of the two rings. */
unsigned char *pb__shm_task_bytes(pb__shm *s);
unsigned char *pb__shm_result_bytes(pb__shm *s);

/* Producer: copies as much of iov[0..n) as fits, publishes it (sequentially
 * consistent) and returns how many iovec entries it used up whole, moving
 * the next one's start past what was copied (as pb__wire_iov_consume);
 * *copied gets the byte count. A ring whose counters are out of range takes
 * nothing. */
int pb__ring_putv(pb__ring *r, unsigned char *bytes, uint32_t cap, struct iovec *iov, int n,
                  size_t *copied);

/* Producer: the room left (0 when the counters are out of range). */
size_t pb__ring_room(pb__ring *r, uint32_t cap);

/* Consumer: the bytes queued, or -1 when the counters are out of range (the
 * producer wrote nonsense). */
int64_t pb__ring_avail(pb__ring *r, uint32_t cap);

/* Consumer: copies the next n (<= avail) bytes to dst and publishes them as
 * taken (sequentially consistent). */
void pb__ring_take(pb__ring *r, const unsigned char *bytes, uint32_t cap, void *dst, size_t n);

#endif /* PB_WIRE_INT_H */
