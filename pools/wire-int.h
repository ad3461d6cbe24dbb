/*
 * wire-int.h — the frames that travel between a pool and its worker processes.
 *
 * The fork and exec backends talk to each worker over one AF_UNIX stream
 * socket. Everything on it is a frame: a fixed 16-byte header followed by a
 * payload whose length the header gives. Both ends run on the same machine
 * and the same build, so integers are in native byte order; the header's
 * magic and the HELLO frame's version catch a peer that is not ours.
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
 *
 * The decoder is a pure function of its input bytes, so it can be fuzzed: it
 * says "here is a frame", "need this many bytes", or "malformed, because ...",
 * and never reads outside the buffer it is given. A frame's pointers point
 * into that buffer (no copy).
 */
#ifndef PB_WIRE_INT_H
#define PB_WIRE_INT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define PB__WIRE_MAGIC 0x31574250u /* "PBW1" in memory on little-endian hosts */
#define PB__WIRE_VERSION 1u
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

#endif /* PB_WIRE_INT_H */
