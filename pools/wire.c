/*
 * wire.c — encoding and decoding the frames of wire-int.h.
 *
 * The decoder trusts nothing: a worker may be buggy, crashed half-way through
 * a write, or not a poolbench program at all. Every length is checked against
 * what remains of the buffer before it is used, sizes are computed in 64 bits
 * so nothing wraps, and the first thing wrong is reported in words. The
 * caller (the collector) turns a bad frame into a killed worker whose future
 * fails with "sent a malformed frame: <reason>".
 */
#include "wire-int.h"

#include <pb/pool.h>

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

/* Fixed payload sizes (after the header). */
#define HELLO_FIXED 12u  /* version, pid, status */
#define TASK_FIXED 10u   /* id, name length */
#define RESULT_FIXED 32u /* id, started, ended, code, task code */

static uint16_t get16(const unsigned char *p)
{
    uint16_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static uint32_t get32(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static uint64_t get64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static unsigned char *put16(unsigned char *p, uint16_t v)
{
    memcpy(p, &v, sizeof v);
    return p + sizeof v;
}

static unsigned char *put32(unsigned char *p, uint32_t v)
{
    memcpy(p, &v, sizeof v);
    return p + sizeof v;
}

static unsigned char *put64(unsigned char *p, uint64_t v)
{
    memcpy(p, &v, sizeof v);
    return p + sizeof v;
}

static unsigned char *put_header(unsigned char *p, int type, uint64_t payload)
{
    p = put32(p, PB__WIRE_MAGIC);
    p = put16(p, (uint16_t)type);
    p = put16(p, 0);
    return put64(p, payload);
}

static int bad(char *why, size_t whysize, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int bad(char *why, size_t whysize, const char *fmt, ...)
{
    if (why && whysize) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, whysize, fmt, ap);
        va_end(ap);
    }
    return PB__WIRE_BAD;
}

static const char *type_name(int type)
{
    switch (type) {
    case PB__WIRE_HELLO: return "HELLO";
    case PB__WIRE_INIT: return "INIT";
    case PB__WIRE_TASK: return "TASK";
    case PB__WIRE_INIT_DONE: return "INIT_DONE";
    case PB__WIRE_RESULT: return "RESULT";
    case PB__WIRE_BELL: return "BELL";
    default: return "?";
    }
}

int pb__wire_decode(const void *buf, size_t len, uint64_t max_payload, pb__frame *out,
                    uint64_t *need, char *why, size_t whysize)
{
    const unsigned char *p = buf;

    /* Check what is there of the header as early as possible, so that a peer
     * speaking another protocol is caught after its first bytes and not after
     * we wait for (or allocate) a length it never meant. */
    uint32_t magic = PB__WIRE_MAGIC;
    if (len > 0 && memcmp(p, &magic, len < 4 ? len : 4) != 0) {
        unsigned char m[4] = { 0 };
        memcpy(m, p, len < 4 ? len : 4); /* len > 0 here */
        return bad(why, whysize, "bad magic bytes %02x %02x %02x %02x (not a poolbench worker?)",
                   m[0], m[1], m[2], m[3]);
    }
    if (len < PB__WIRE_HEADER) {
        *need = PB__WIRE_HEADER;
        return PB__WIRE_MORE;
    }
    int type = get16(p + 4);
    if (type < PB__WIRE_HELLO || type > PB__WIRE_BELL)
        return bad(why, whysize, "unknown frame type %d", type);
    if (get16(p + 6) != 0)
        return bad(why, whysize, "reserved header field is 0x%04x, not 0",
                   (unsigned)get16(p + 6));
    uint64_t payload = get64(p + 8);
    if (payload > max_payload)
        return bad(why, whysize, "%s frame of %llu bytes exceeds the limit of %llu",
                   type_name(type), (unsigned long long)payload,
                   (unsigned long long)max_payload);
    if (type == PB__WIRE_BELL && payload != 0)
        return bad(why, whysize, "BELL frame with a payload of %llu bytes",
                   (unsigned long long)payload);
    uint64_t fixed = type == PB__WIRE_HELLO                              ? HELLO_FIXED
                     : type == PB__WIRE_INIT || type == PB__WIRE_TASK ? TASK_FIXED
                     : type == PB__WIRE_BELL                          ? 0
                                                                          : RESULT_FIXED;
    if (payload < fixed)
        return bad(why, whysize, "%s frame of %llu bytes is shorter than its %llu fixed bytes",
                   type_name(type), (unsigned long long)payload, (unsigned long long)fixed);
    if (payload > SIZE_MAX - PB__WIRE_HEADER)
        return bad(why, whysize, "%s frame of %llu bytes cannot be addressed", type_name(type),
                   (unsigned long long)payload);
    uint64_t total = PB__WIRE_HEADER + payload;
    *need = total;
    if (len < total)
        return PB__WIRE_MORE;

    memset(out, 0, sizeof *out);
    out->type = type;
    const unsigned char *q = p + PB__WIRE_HEADER;
    const unsigned char *end = q + payload;
    switch (type) {
    case PB__WIRE_HELLO:
        out->version = get32(q);
        out->pid = (int32_t)get32(q + 4);
        out->status = (int32_t)get32(q + 8);
        q += HELLO_FIXED;
        if (out->version != PB__WIRE_VERSION)
            return bad(why, whysize, "protocol version %u, expected %u", (unsigned)out->version,
                       PB__WIRE_VERSION);
        if (out->pid <= 0)
            return bad(why, whysize, "HELLO with pid %d", (int)out->pid);
        if (out->status > 0)
            return bad(why, whysize, "HELLO with status %d (not 0 or a negative errno)",
                       (int)out->status);
        break;
    case PB__WIRE_INIT:
    case PB__WIRE_TASK: {
        out->id = get64(q);
        size_t n = get16(q + 8);
        q += TASK_FIXED;
        if (n == 0 || n > PB__WIRE_NAME_MAX)
            return bad(why, whysize, "%s frame with a task name of %zu bytes", type_name(type), n);
        if (n > (size_t)(end - q))
            return bad(why, whysize, "%s frame's task name of %zu bytes overruns its payload",
                       type_name(type), n);
        if (memchr(q, '\0', n))
            return bad(why, whysize, "%s frame's task name contains a NUL byte", type_name(type));
        out->name = (const char *)q;
        out->name_len = n;
        q += n;
        break;
    }
    case PB__WIRE_BELL:
        break;
    default: /* INIT_DONE, RESULT */
        out->id = get64(q);
        out->started = (int64_t)get64(q + 8);
        out->ended = (int64_t)get64(q + 16);
        out->code = (int32_t)get32(q + 24);
        out->task_code = (int32_t)get32(q + 28);
        q += RESULT_FIXED;
        if (out->code != 0 && out->code != PB_ETASK)
            return bad(why, whysize, "%s with code %d (not 0 or PB_ETASK)", type_name(type),
                       (int)out->code);
        if (out->code == 0 && out->task_code != 0)
            return bad(why, whysize, "successful %s with task code %d", type_name(type),
                       (int)out->task_code);
        if (out->started < 0 || out->ended < out->started)
            return bad(why, whysize, "%s with times %lld..%lld (not 0 <= started <= ended)",
                       type_name(type), (long long)out->started, (long long)out->ended);
        break;
    }
    out->body = q;
    out->body_len = (size_t)(end - q);
    return PB__WIRE_FRAME;
}

size_t pb__wire_put_task(void *buf, int type, uint64_t id, const char *name, uint64_t arg_len)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > PB__WIRE_NAME_MAX)
        return 0;
    unsigned char *p = put_header(buf, type, TASK_FIXED + n + arg_len);
    p = put64(p, id);
    p = put16(p, (uint16_t)n);
    memcpy(p, name, n);
    return (size_t)(p + n - (unsigned char *)buf);
}

size_t pb__wire_put_result(void *buf, int type, uint64_t id, int64_t started, int64_t ended,
                           int32_t code, int32_t task_code, uint64_t body_len)
{
    unsigned char *p = put_header(buf, type, RESULT_FIXED + body_len);
    p = put64(p, id);
    p = put64(p, (uint64_t)started);
    p = put64(p, (uint64_t)ended);
    p = put32(p, (uint32_t)code);
    p = put32(p, (uint32_t)task_code);
    return (size_t)(p - (unsigned char *)buf);
}

size_t pb__wire_put_hello(void *buf, size_t cap, int32_t pid, int32_t status, const char *message)
{
    if (cap < PB__WIRE_HELLO_HEAD)
        return 0;
    size_t n = message ? strlen(message) : 0;
    if (n > cap - PB__WIRE_HELLO_HEAD)
        n = cap - PB__WIRE_HELLO_HEAD;
    unsigned char *p = put_header(buf, PB__WIRE_HELLO, HELLO_FIXED + n);
    p = put32(p, PB__WIRE_VERSION);
    p = put32(p, (uint32_t)pid);
    p = put32(p, (uint32_t)status);
    if (n)
        memcpy(p, message, n);
    return PB__WIRE_HELLO_HEAD + n;
}

size_t pb__wire_put_bell(void *buf)
{
    put_header(buf, PB__WIRE_BELL, 0);
    return PB__WIRE_HEADER;
}

int pb__wire_send_all(int fd, struct iovec *iov, int n)
{
    while (n > 0) {
        struct msghdr msg = { .msg_iov = iov, .msg_iovlen = (size_t)n };
        ssize_t w = sendmsg(fd, &msg, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        int k = pb__wire_iov_consume(iov, n, (size_t)w);
        iov += k;
        n -= k;
    }
    return 0;
}

int pb__wire_iov_consume(struct iovec *iov, int n, size_t done)
{
    int k = 0;
    while (k < n && done >= iov[k].iov_len)
        done -= iov[k++].iov_len;
    if (k < n) {
        iov[k].iov_base = (char *)iov[k].iov_base + done;
        iov[k].iov_len -= done;
    }
    return k;
}

void pb__rxbuf_free(pb__rxbuf *rx)
{
    free(rx->data);
    memset(rx, 0, sizeof *rx);
}

int pb__rxbuf_reserve(pb__rxbuf *rx, uint64_t want)
{
    if (rx->off) {
        /* Drop what was consumed; what is left is a partial frame. */
        memmove(rx->data, rx->data + rx->off, rx->len - rx->off);
        rx->len -= rx->off;
        rx->off = 0;
    }
    if (want > SIZE_MAX)
        return PB_ENOMEM;
    if (want <= rx->cap)
        return 0;
    size_t cap = rx->cap ? rx->cap : 4096;
    while (cap < want)
        cap = cap > SIZE_MAX / 2 ? (size_t)want : cap * 2;
    unsigned char *d = realloc(rx->data, cap);
    if (!d)
        return PB_ENOMEM;
    rx->data = d;
    rx->cap = cap;
    return 0;
}
