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

int pb__shm_area_init(int fd, size_t len, void **base)
{
    _Static_assert(sizeof(pb__shm) <= PB__SHM_CONTROL, "the control block fits its page");
    _Static_assert(sizeof(pb__shm_pool) <= PB__SHM_CONTROL, "the pool's page fits a page");
    if (ftruncate(fd, (off_t)len) != 0)
        return -errno;
    void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED)
        return -errno;
    if (madvise(m, len, MADV_DONTFORK) != 0) {
        int e = errno;
        munmap(m, len);
        return -e;
    }
    ((pb__shm_pool *)m)->magic = POOL_MAGIC; /* a fresh memfd reads as zeros */
    *base = m;
    return 0;
}

pb__shm *pb__shm_format(void *at, uint32_t task_cap, uint32_t result_cap)
{
    pb__shm *s = at;
    memset(s, 0, PB__SHM_CONTROL); /* counters and flags at 0; ring bytes need no reset */
    s->magic = PB__SHM_MAGIC;
    s->version = PB__WIRE_VERSION;
    s->task_cap = task_cap;
    s->result_cap = result_cap;
    return s;
}

int pb__shm_attach(int fd, uint64_t offset, pb__shm **region, pb__shm_pool **page, char *why,
                   size_t whysize)
{
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        snprintf(why, whysize, "cannot look at the shared memory: %s", strerror(e));
        return -e;
    }
    if (offset % PB__SHM_CONTROL || offset < PB__SHM_CONTROL ||
        (uint64_t)st.st_size < offset + PB__SHM_CONTROL) {
        snprintf(why, whysize, "no region at offset %llu of the shared memory (%lld bytes)",
                 (unsigned long long)offset, (long long)st.st_size);
        return -EINVAL;
    }
    void *p = mmap(NULL, PB__SHM_CONTROL, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    void *c = p == MAP_FAILED ? MAP_FAILED
                              : mmap(NULL, PB__SHM_CONTROL, PROT_READ, MAP_SHARED, fd, (off_t)offset);
    if (p == MAP_FAILED || c == MAP_FAILED) {
        int e = errno;
        if (p != MAP_FAILED)
            munmap(p, PB__SHM_CONTROL);
        snprintf(why, whysize, "cannot map the shared memory: %s", strerror(e));
        return -e;
    }
    const pb__shm *h = c;
    uint32_t tcap = h->task_cap, rcap = h->result_cap;
    bool ok = ((pb__shm_pool *)p)->magic == POOL_MAGIC && h->magic == PB__SHM_MAGIC &&
              h->version == PB__WIRE_VERSION && cap_valid(tcap, true) && cap_valid(rcap, false) &&
              offset + pb__shm_size(tcap, rcap) <= (uint64_t)st.st_size;
    munmap(c, PB__SHM_CONTROL);
    if (!ok) {
        munmap(p, PB__SHM_CONTROL);
        snprintf(why, whysize, "the shared memory is not a version %u poolbench region",
                 PB__WIRE_VERSION);
        return -EPROTO;
    }
    void *r = mmap(NULL, pb__shm_size(tcap, rcap), PROT_READ | PROT_WRITE, MAP_SHARED, fd,
                   (off_t)offset);
    if (r == MAP_FAILED) {
        int e = errno;
        munmap(p, PB__SHM_CONTROL);
        snprintf(why, whysize, "cannot map its region of the shared memory: %s", strerror(e));
        return -e;
    }
    *region = r;
    *page = p;
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
