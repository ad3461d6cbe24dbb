/*
 * wire-shm.c — the shared region between a pool and one worker process, and
 * the byte rings in it (wire-int.h describes the layout and the protocol).
 *
 * A ring is written by exactly one producer and read by exactly one
 * consumer at a time (the callers make sure of that: the pool's side under
 * its locks, the worker's side in its single loop), so the only
 * synchronisation is the two counters: the producer copies bytes in, then
 * publishes `tail`; the consumer copies bytes out, then publishes `head`.
 * Both publications and the loads of the other side's counter are
 * sequentially consistent, which is also what the sleep/wake flags of
 * wire-int.h need (a store of a counter, then a load of a flag, against a
 * store of the flag, then a load of the counter).
 *
 * The counters come from another process that may be broken: the consumer
 * and the producer each check tail - head against the ring's size and take
 * nothing from, or put nothing into, a ring whose counters are out of range.
 * Callers copy bytes out before decoding them, so a peer rewriting the ring
 * meanwhile can garble a frame (which the decoder then refuses) but never
 * make the reader use a length twice.
 */
#include "wire-int.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define POOL_MAGIC 0x4c4f4f50u /* "POOL" */

static bool cap_valid(uint32_t cap, bool zero_ok)
{
    if (cap == 0)
        return zero_ok;
    return cap >= PB__SHM_RING_MIN && cap <= PB__SHM_RING_MAX && (cap & (cap - 1)) == 0;
}

size_t pb__shm_size(uint32_t task_cap, uint32_t result_cap)
{
    return (size_t)PB__SHM_CONTROL + task_cap + result_cap;
}

unsigned char *pb__shm_task_bytes(pb__shm *s)
{
    return (unsigned char *)s + PB__SHM_CONTROL;
}

unsigned char *pb__shm_result_bytes(pb__shm *s)
{
    return (unsigned char *)s + PB__SHM_CONTROL + s->task_cap;
}

int pb__shm_init(int fd, uint32_t task_cap, uint32_t result_cap, pb__shm **out, size_t *len)
{
    _Static_assert(sizeof(pb__shm) <= PB__SHM_CONTROL, "the control block fits its page");
    if (!cap_valid(task_cap, true) || !cap_valid(result_cap, false))
        return -EINVAL;
    size_t size = pb__shm_size(task_cap, result_cap);
    if (ftruncate(fd, (off_t)size) != 0)
        return -errno;
    void *m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED)
        return -errno;
    if (madvise(m, size, MADV_DONTFORK) != 0) {
        int e = errno;
        munmap(m, size);
        return -e;
    }
    pb__shm *s = m; /* a fresh memfd reads as zeros: the counters and flags start at 0 */
    s->magic = PB__SHM_MAGIC;
    s->version = PB__WIRE_VERSION;
    s->task_cap = task_cap;
    s->result_cap = result_cap;
    *out = s;
    *len = size;
    return 0;
}

int pb__shm_attach(int fd, pb__shm **out, size_t *len, char *why, size_t whysize)
{
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        snprintf(why, whysize, "cannot look at the shared region: %s", strerror(e));
        return -e;
    }
    if (st.st_size < (off_t)PB__SHM_CONTROL) {
        snprintf(why, whysize, "the shared region is %lld bytes, too small", (long long)st.st_size);
        return -EINVAL;
    }
    size_t size = (size_t)st.st_size;
    void *m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED) {
        int e = errno;
        snprintf(why, whysize, "cannot map the shared region: %s", strerror(e));
        return -e;
    }
    pb__shm *s = m;
    if (s->magic != PB__SHM_MAGIC || s->version != PB__WIRE_VERSION ||
        !cap_valid(s->task_cap, true) || !cap_valid(s->result_cap, false) ||
        pb__shm_size(s->task_cap, s->result_cap) != size) {
        snprintf(why, whysize, "the shared region is not a version %u poolbench region",
                 PB__WIRE_VERSION);
        munmap(m, size);
        return -EPROTO;
    }
    *out = s;
    *len = size;
    return 0;
}

int pb__shm_pool_init(int fd, pb__shm_pool **out)
{
    if (ftruncate(fd, PB__SHM_CONTROL) != 0)
        return -errno;
    void *m = mmap(NULL, PB__SHM_CONTROL, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED)
        return -errno;
    madvise(m, PB__SHM_CONTROL, MADV_DONTFORK);
    pb__shm_pool *p = m;
    p->magic = POOL_MAGIC;
    *out = p;
    return 0;
}

int pb__shm_pool_attach(int fd, pb__shm_pool **out)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return -errno;
    if (st.st_size != PB__SHM_CONTROL)
        return -EPROTO;
    void *m = mmap(NULL, PB__SHM_CONTROL, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED)
        return -errno;
    pb__shm_pool *p = m;
    if (p->magic != POOL_MAGIC) {
        munmap(m, PB__SHM_CONTROL);
        return -EPROTO;
    }
    *out = p;
    return 0;
}

int pb__ring_putv(pb__ring *r, unsigned char *bytes, uint32_t cap, struct iovec *iov, int n,
                  size_t *copied)
{
    uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    uint64_t head = atomic_load(&r->head);
    *copied = 0;
    if (tail - head > cap)
        return 0; /* the consumer's counter is nonsense: put nothing */
    size_t room = cap - (size_t)(tail - head), done = 0;
    for (int i = 0; i < n && done < room; i++) {
        const unsigned char *src = iov[i].iov_base;
        size_t len = iov[i].iov_len < room - done ? iov[i].iov_len : room - done;
        size_t at = (size_t)((tail + done) & (cap - 1));
        size_t first = len < cap - at ? len : cap - at;
        memcpy(bytes + at, src, first);
        memcpy(bytes, src + first, len - first);
        done += len;
    }
    if (!done)
        return 0;
    atomic_store(&r->tail, tail + done);
    *copied = done;
    return pb__wire_iov_consume(iov, n, done);
}

size_t pb__ring_room(pb__ring *r, uint32_t cap)
{
    uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    uint64_t head = atomic_load(&r->head);
    return tail - head > cap ? 0 : cap - (size_t)(tail - head);
}

int64_t pb__ring_avail(pb__ring *r, uint32_t cap)
{
    uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    uint64_t tail = atomic_load(&r->tail);
    if (tail - head > cap)
        return -1;
    return (int64_t)(tail - head);
}

void pb__ring_take(pb__ring *r, const unsigned char *bytes, uint32_t cap, void *dst, size_t n)
{
    uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    size_t at = (size_t)(head & (cap - 1));
    size_t first = n < cap - at ? n : cap - at;
    memcpy(dst, bytes + at, first);
    memcpy((unsigned char *)dst + first, bytes, n - first);
    atomic_store(&r->head, head + n);
}
