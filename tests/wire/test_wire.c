/*
 * test_wire.c — the frame encoder and decoder of pools/wire.c.
 *
 * Round trips of every frame type, decoding byte by byte (a frame split
 * anywhere is "need more", never garbage), the malformed cases the collector
 * must catch, and a deterministic fuzz run: seeded random bytes and seeded
 * mutations of valid frames must never make the decoder read outside its
 * buffer (run under the sanitizer build to check that) or accept a frame
 * whose fields lie outside it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <pb/pool.h>

#include "wire-int.h"

/* Builds a whole TASK/INIT frame in a fresh buffer. */
static unsigned char *task_frame(int type, uint64_t id, const char *name, const void *arg,
                                 size_t len, size_t *total)
{
    unsigned char head[PB__WIRE_TASK_HEAD_MAX];
    size_t n = pb__wire_put_task(head, type, id, name, len);
    assert_true(n > 0);
    unsigned char *buf = malloc(n + len + 1);
    assert_non_null(buf);
    memcpy(buf, head, n);
    if (len)
        memcpy(buf + n, arg, len);
    *total = n + len;
    return buf;
}

static unsigned char *result_frame(int type, uint64_t id, int64_t s, int64_t e, int32_t code,
                                   int32_t tcode, const void *body, size_t len, size_t *total)
{
    unsigned char *buf = malloc(PB__WIRE_RESULT_HEAD + len + 1);
    assert_non_null(buf);
    size_t n = pb__wire_put_result(buf, type, id, s, e, code, tcode, len);
    assert_int_equal(n, PB__WIRE_RESULT_HEAD);
    if (len)
        memcpy(buf + n, body, len);
    *total = n + len;
    return buf;
}

static int decode(const void *buf, size_t len, pb__frame *fr, uint64_t *need, char *why)
{
    return pb__wire_decode(buf, len, PB__WIRE_MAX_PAYLOAD, fr, need, why, 200);
}

static void test_task_round_trip(void **state)
{
    (void)state;
    size_t total;
    unsigned char *buf = task_frame(PB__WIRE_TASK, 42, "pb.chunk", "argument", 8, &total);
    pb__frame fr;
    uint64_t need;
    char why[200];
    assert_int_equal(decode(buf, total, &fr, &need, why), PB__WIRE_FRAME);
    assert_int_equal(need, total);
    assert_int_equal(fr.type, PB__WIRE_TASK);
    assert_int_equal(fr.id, 42);
    assert_int_equal(fr.name_len, 8);
    assert_memory_equal(fr.name, "pb.chunk", 8);
    assert_int_equal(fr.body_len, 8);
    assert_memory_equal(fr.body, "argument", 8);
    free(buf);

    /* INIT with an empty argument. */
    buf = task_frame(PB__WIRE_INIT, 0, "init", NULL, 0, &total);
    assert_int_equal(decode(buf, total, &fr, &need, why), PB__WIRE_FRAME);
    assert_int_equal(fr.type, PB__WIRE_INIT);
    assert_int_equal(fr.body_len, 0);
    free(buf);
}

static void test_bad_names_not_encoded(void **state)
{
    (void)state;
    unsigned char head[PB__WIRE_TASK_HEAD_MAX];
    char name[300];
    memset(name, 'a', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    assert_int_equal(pb__wire_put_task(head, PB__WIRE_TASK, 1, name, 0), 0);
    assert_int_equal(pb__wire_put_task(head, PB__WIRE_TASK, 1, "", 0), 0);
    name[255] = '\0';
    assert_int_equal(pb__wire_put_task(head, PB__WIRE_TASK, 1, name, 0),
                     PB__WIRE_TASK_HEAD_MAX);
}

static void test_result_round_trip(void **state)
{
    (void)state;
    size_t total;
    unsigned char *buf = result_frame(PB__WIRE_RESULT, 7, 100, 250, 0, 0, "xyz", 3, &total);
    pb__frame fr;
    uint64_t need;
    char why[200];
    assert_int_equal(decode(buf, total, &fr, &need, why), PB__WIRE_FRAME);
    assert_int_equal(fr.type, PB__WIRE_RESULT);
    assert_int_equal(fr.id, 7);
    assert_int_equal(fr.started, 100);
    assert_int_equal(fr.ended, 250);
    assert_int_equal(fr.code, 0);
    assert_int_equal(fr.body_len, 3);
    assert_memory_equal(fr.body, "xyz", 3);
    free(buf);

    buf = result_frame(PB__WIRE_INIT_DONE, 0, 1, 1, PB_ETASK, -5, "no config", 9, &total);
    assert_int_equal(decode(buf, total, &fr, &need, why), PB__WIRE_FRAME);
    assert_int_equal(fr.type, PB__WIRE_INIT_DONE);
    assert_int_equal(fr.code, PB_ETASK);
    assert_int_equal(fr.task_code, -5);
    assert_memory_equal(fr.body, "no config", 9);
    free(buf);
}

static void test_hello_round_trip(void **state)
{
    (void)state;
    unsigned char buf[PB__WIRE_HELLO_HEAD + 64];
    size_t n = pb__wire_put_hello(buf, sizeof buf, 4242, -22, "cannot bind");
    pb__frame fr;
    uint64_t need;
    char why[200];
    assert_int_equal(decode(buf, n, &fr, &need, why), PB__WIRE_FRAME);
    assert_int_equal(fr.type, PB__WIRE_HELLO);
    assert_int_equal(fr.pid, 4242);
    assert_int_equal(fr.status, -22);
    assert_int_equal(fr.version, PB__WIRE_VERSION);
    assert_memory_equal(fr.body, "cannot bind", 11);

    /* A message longer than the buffer is truncated, not overrun. */
    char longmsg[200];
    memset(longmsg, 'm', sizeof longmsg - 1);
    longmsg[sizeof longmsg - 1] = '\0';
    n = pb__wire_put_hello(buf, sizeof buf, 1, 0, longmsg);
    assert_int_equal(n, sizeof buf);
    assert_int_equal(decode(buf, n, &fr, &need, why), PB__WIRE_FRAME);
    assert_int_equal(fr.body_len, 64);
    assert_int_equal(pb__wire_put_hello(buf, 10, 1, 0, ""), 0);
}

/* Every proper prefix of a frame is "need more", with need growing to the
 * frame's size once the header is there; two frames back to back decode one
 * after the other. */
static void test_split_anywhere(void **state)
{
    (void)state;
    size_t t1, t2;
    unsigned char *a = task_frame(PB__WIRE_TASK, 1, "echo", "0123456789", 10, &t1);
    unsigned char *b = result_frame(PB__WIRE_RESULT, 1, 5, 6, 0, 0, "r", 1, &t2);
    unsigned char *both = malloc(t1 + t2);
    memcpy(both, a, t1);
    memcpy(both + t1, b, t2);
    pb__frame fr;
    uint64_t need;
    char why[200];
    for (size_t i = 0; i < t1; i++) {
        assert_int_equal(decode(both, i, &fr, &need, why), PB__WIRE_MORE);
        assert_int_equal(need, i < PB__WIRE_HEADER ? PB__WIRE_HEADER : t1);
    }
    assert_int_equal(decode(both, t1 + t2, &fr, &need, why), PB__WIRE_FRAME);
    assert_int_equal(need, t1);
    assert_int_equal(decode(both + t1, t2, &fr, &need, why), PB__WIRE_FRAME);
    assert_int_equal(fr.type, PB__WIRE_RESULT);
    free(a);
    free(b);
    free(both);
}

/* Rewrites bytes of a valid frame at off and expects a malformed verdict
 * whose reason contains expect. */
static void expect_bad(unsigned char *buf, size_t len, uint64_t max, const char *expect)
{
    pb__frame fr;
    uint64_t need;
    char why[200] = "";
    int r = pb__wire_decode(buf, len, max, &fr, &need, why, sizeof why);
    if (r != PB__WIRE_BAD || !strstr(why, expect))
        fail_msg("expected malformed (\"%s\"), got %d (\"%s\")", expect, r, why);
}

static void test_malformed(void **state)
{
    (void)state;
    size_t total;
    unsigned char *buf;

    buf = task_frame(PB__WIRE_TASK, 1, "echo", "ab", 2, &total);
    buf[0] ^= 0xff;
    expect_bad(buf, total, PB__WIRE_MAX_PAYLOAD, "bad magic");
    expect_bad(buf, 1, PB__WIRE_MAX_PAYLOAD, "bad magic"); /* caught at the first byte */
    free(buf);

    buf = task_frame(PB__WIRE_TASK, 1, "echo", "ab", 2, &total);
    buf[4] = 9;
    expect_bad(buf, total, PB__WIRE_MAX_PAYLOAD, "unknown frame type 9");
    free(buf);

    buf = task_frame(PB__WIRE_TASK, 1, "echo", "ab", 2, &total);
    buf[6] = 1;
    expect_bad(buf, total, PB__WIRE_MAX_PAYLOAD, "reserved");
    free(buf);

    /* Oversized: caught from the header alone, before the payload arrives. */
    buf = task_frame(PB__WIRE_TASK, 1, "echo", "ab", 2, &total);
    expect_bad(buf, PB__WIRE_HEADER, 8, "exceeds the limit of 8");
    uint64_t huge = UINT64_MAX;
    memcpy(buf + 8, &huge, 8);
    expect_bad(buf, PB__WIRE_HEADER, PB__WIRE_MAX_PAYLOAD, "exceeds the limit");
    free(buf);

    /* A payload shorter than the type's fixed part. */
    buf = task_frame(PB__WIRE_TASK, 1, "echo", "ab", 2, &total);
    uint64_t small = 3;
    memcpy(buf + 8, &small, 8);
    expect_bad(buf, total, PB__WIRE_MAX_PAYLOAD, "shorter than its");
    free(buf);

    /* Name length past the payload, zero, or with a NUL. */
    buf = task_frame(PB__WIRE_TASK, 1, "echo", "ab", 2, &total);
    uint16_t n = 200;
    memcpy(buf + PB__WIRE_HEADER + 8, &n, 2);
    expect_bad(buf, total, PB__WIRE_MAX_PAYLOAD, "overruns");
    n = 0;
    memcpy(buf + PB__WIRE_HEADER + 8, &n, 2);
    expect_bad(buf, total, PB__WIRE_MAX_PAYLOAD, "task name of 0 bytes");
    n = 4;
    memcpy(buf + PB__WIRE_HEADER + 8, &n, 2);
    buf[PB__WIRE_HEADER + 10 + 1] = '\0';
    expect_bad(buf, total, PB__WIRE_MAX_PAYLOAD, "NUL");
    free(buf);

    /* Results: bad code, task code on success, time running backwards. */
    buf = result_frame(PB__WIRE_RESULT, 1, 5, 6, -3, 0, NULL, 0, &total);
    expect_bad(buf, total, PB__WIRE_MAX_PAYLOAD, "code -3");
    free(buf);
    buf = result_frame(PB__WIRE_RESULT, 1, 5, 6, 0, 9, NULL, 0, &total);
    expect_bad(buf, total, PB__WIRE_MAX_PAYLOAD, "task code 9");
    free(buf);
    buf = result_frame(PB__WIRE_RESULT, 1, 6, 5, 0, 0, NULL, 0, &total);
    expect_bad(buf, total, PB__WIRE_MAX_PAYLOAD, "times");
    free(buf);

    /* HELLO: wrong version, bad pid, positive status. */
    unsigned char h[64];
    size_t hn = pb__wire_put_hello(h, sizeof h, 10, 0, "");
    uint32_t v = 99;
    memcpy(h + PB__WIRE_HEADER, &v, 4);
    expect_bad(h, hn, PB__WIRE_MAX_PAYLOAD, "protocol version 99");
    hn = pb__wire_put_hello(h, sizeof h, 0, 0, "");
    expect_bad(h, hn, PB__WIRE_MAX_PAYLOAD, "pid 0");
    hn = pb__wire_put_hello(h, sizeof h, 10, 5, "");
    expect_bad(h, hn, PB__WIRE_MAX_PAYLOAD, "status 5");
}

/* A frame the decoder accepted must lie inside the buffer it was given. */
static void check_frame_inside(const unsigned char *buf, size_t len, int r, const pb__frame *fr,
                               uint64_t need)
{
    if (r != PB__WIRE_FRAME)
        return;
    assert_true(need >= PB__WIRE_HEADER && need <= len);
    const unsigned char *end = buf + need;
    const unsigned char *body = fr->body;
    assert_true(body >= buf + PB__WIRE_HEADER && body + fr->body_len == end);
    if (fr->name) {
        const unsigned char *name = (const unsigned char *)fr->name;
        assert_true(name >= buf && name + fr->name_len <= body);
        assert_true(fr->name_len >= 1 && fr->name_len <= PB__WIRE_NAME_MAX);
    }
}

/* xorshift64*: deterministic, so a failure reproduces from its seed. */
static uint64_t rng(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ull;
}

static void test_fuzz_deterministic(void **state)
{
    (void)state;
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    const char *env = getenv("PB_WIRE_FUZZ_SEED");
    if (env)
        seed = strtoull(env, NULL, 0);
    /* Valid frames to mutate. */
    size_t tl[3];
    unsigned char *seeds[3];
    seeds[0] = task_frame(PB__WIRE_TASK, 3, "pb.chunk", "0123456789abcdef", 16, &tl[0]);
    seeds[1] = result_frame(PB__WIRE_RESULT, 3, 10, 20, PB_ETASK, 4, "message", 7, &tl[1]);
    seeds[2] = malloc(64);
    tl[2] = pb__wire_put_hello(seeds[2], 64, 77, 0, "hi");

    unsigned char buf[512];
    for (int iter = 0; iter < 200000; iter++) {
        uint64_t s = seed + (uint64_t)iter;
        uint64_t x = rng(&s);
        size_t len;
        if (x & 1) { /* random bytes, with a valid magic half of the time */
            len = (size_t)(rng(&s) % sizeof buf);
            for (size_t i = 0; i < len; i++)
                buf[i] = (unsigned char)rng(&s);
            if (len >= 4 && (x & 2)) {
                uint32_t m = PB__WIRE_MAGIC;
                memcpy(buf, &m, 4);
                if (len >= 8)
                    buf[4] = (unsigned char)(1 + rng(&s) % 5), buf[5] = 0, buf[6] = buf[7] = 0;
            }
        } else { /* a valid frame with a few bytes flipped and a random length */
            int k = (int)(rng(&s) % 3);
            len = tl[k];
            memcpy(buf, seeds[k], len);
            int flips = 1 + (int)(rng(&s) % 4);
            for (int f = 0; f < flips; f++)
                buf[rng(&s) % len] ^= (unsigned char)(1u << (rng(&s) % 8));
            if (rng(&s) % 4 == 0)
                len = (size_t)(rng(&s) % (len + 1));
        }
        /* The decoder sees exactly len bytes in a buffer of its own, so the
         * sanitizer build catches any read past them. */
        unsigned char *exact = malloc(len ? len : 1);
        memcpy(exact, buf, len);
        pb__frame fr;
        uint64_t need = 0;
        char why[200];
        int r = pb__wire_decode(exact, len, 1u << 20, &fr, &need, why, sizeof why);
        if (r != PB__WIRE_FRAME && r != PB__WIRE_MORE && r != PB__WIRE_BAD)
            fail_msg("seed %#llx: decode returned %d", (unsigned long long)s, r);
        if (r == PB__WIRE_MORE && need <= len)
            fail_msg("seed %#llx: need %llu with %zu bytes at hand", (unsigned long long)s,
                     (unsigned long long)need, len);
        check_frame_inside(exact, len, r, &fr, need);
        free(exact);
    }
    for (int k = 0; k < 3; k++)
        free(seeds[k]);
}

/* What a write of some bytes leaves of a frame's iovecs: the pool's
 * non-blocking sender and the worker's blocking one both rely on it. */
static void test_iov_consume(void **state)
{
    (void)state;
    char a[4], b[6];
    struct iovec iov[3];
    struct { size_t done; int used; size_t left_in_next; } cases[] = {
        { 0, 0, 4 },  /* nothing written */
        { 3, 0, 1 },  /* inside the first */
        { 4, 1, 6 },  /* the first exactly */
        { 9, 1, 1 },  /* inside the second */
        { 10, 3, 0 }, /* all, and the empty third goes with it */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        iov[0] = (struct iovec){ a, sizeof a };
        iov[1] = (struct iovec){ b, sizeof b };
        iov[2] = (struct iovec){ b, 0 };
        int used = pb__wire_iov_consume(iov, 3, cases[i].done);
        assert_int_equal(used, cases[i].used);
        if (used < 3) {
            assert_int_equal(iov[used].iov_len, cases[i].left_in_next);
            char *base = used ? b : a;
            size_t full = used ? sizeof b : sizeof a;
            assert_ptr_equal(iov[used].iov_base, base + (full - cases[i].left_in_next));
        }
    }
}

/* pb__wire_send_all over a socket whose reader is slow: partial writes of a
 * large two-part frame still deliver every byte in order. */
static void test_send_all_large(void **state)
{
    (void)state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    size_t n = 4u << 20;
    unsigned char *data = malloc(n);
    for (size_t i = 0; i < n; i++)
        data[i] = (unsigned char)(i * 31 + 7);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        close(sv[0]);
        unsigned char head[PB__WIRE_RESULT_HEAD];
        struct iovec iov[2] = { { head, pb__wire_put_result(head, PB__WIRE_RESULT, 1, 0, 0, 0,
                                                              0, n) },
                                { data, n } };
        _exit(pb__wire_send_all(sv[1], iov, 2) == 0 ? 0 : 1);
    }
    close(sv[1]);
    pb__rxbuf rx = { 0 };
    pb__frame fr;
    uint64_t need = PB__WIRE_HEADER;
    char why[200];
    int r;
    while ((r = pb__wire_decode(rx.data, rx.len, PB__WIRE_MAX_PAYLOAD, &fr, &need, why,
                                sizeof why)) == PB__WIRE_MORE) {
        assert_int_equal(pb__rxbuf_reserve(&rx, rx.len + 1000), 0);
        ssize_t got = read(sv[0], rx.data + rx.len, 1000); /* small reads: many partial writes */
        assert_true(got > 0);
        rx.len += (size_t)got;
    }
    assert_int_equal(r, PB__WIRE_FRAME);
    assert_int_equal(fr.body_len, n);
    assert_memory_equal(fr.body, data, n);
    pb__rxbuf_free(&rx);
    free(data);
    close(sv[0]);
    int status;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_task_round_trip),
        cmocka_unit_test(test_bad_names_not_encoded),
        cmocka_unit_test(test_result_round_trip),
        cmocka_unit_test(test_hello_round_trip),
        cmocka_unit_test(test_split_anywhere),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_fuzz_deterministic),
        cmocka_unit_test(test_iov_consume),
        cmocka_unit_test(test_send_all_large),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
