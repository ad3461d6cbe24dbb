/*
 * map.c — ordered map with chunks, as Executor.map / Pool.imap.
 *
 * DESIGN
 *
 * Eager: pb_map_new submits every chunk at once (PB_MAP_CHUNK_AUTO picks the
 * chunk size as multiprocessing.Pool.map does: about four chunks per
 * worker). With chunksize 1 each item is
 * an ordinary future of the task. With chunksize > 1 a chunk is one future of
 * the internal task "pb__chunk", whose argument packs the task's name and the
 * items, and whose result packs one outcome per item — so a chunk reaches any
 * backend, thread or process, as one unit of work and comes back as one,
 * without any backend knowing about chunks. A chunk that fails as a whole (its
 * worker died, it was killed or cancelled) gives every one of its items that
 * error.
 *
 * Chunk argument:  u32 name_len | name | u64 count | count × (u64 len | bytes)
 * Chunk result:    count × (i32 code | i32 task_code | u64 len | bytes)
 *                  (bytes: the result, or the message when code is PB_ETASK)
 * Integers are in host byte order: a chunk never leaves the machine.
 *
 * pb_map_next waits on the chunk holding the next item with the deadline fixed
 * at pb_map_new, and keeps the chunk's future until the following call, so
 * the bytes it returned stay valid until then.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "core-int.h"

struct pb_map {
    pb_future **chunks;   /* one per chunk; NULL once released */
    size_t nchunks, chunksize, n;
    size_t next;          /* index of the next item to yield */
    int64_t deadline;
    bool timed_out;
    const unsigned char *cursor, *end; /* decoding position in the current chunk */
    pb_future *held;      /* chunk whose bytes the last result points into */
    char *msg;            /* the last item error's message, NUL-terminated */
};

static void put(unsigned char **p, const void *src, size_t len)
{
    memcpy(*p, src, len);
    *p += len;
}

static bool get(const unsigned char **p, const unsigned char *end, void *dst, size_t len)
{
    if ((size_t)(end - *p) < len)
        return false;
    memcpy(dst, *p, len);
    *p += len;
    return true;
}

/* ---- The worker side: running a chunk ---- */

typedef struct growbuf {
    unsigned char *p;
    size_t len, cap;
} growbuf;

static bool grow_put(growbuf *b, const void *src, size_t len)
{
    if (b->cap - b->len < len) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap - b->len < len)
            cap *= 2;
        unsigned char *q = realloc(b->p, cap);
        if (!q)
            return false;
        b->p = q;
        b->cap = cap;
    }
    if (len)
        memcpy(b->p + b->len, src, len);
    b->len += len;
    return true;
}

PB_TASK(pb__chunk)
{
    const unsigned char *p = arg, *end = p + len;
    uint32_t name_len;
    char name[256];
    uint64_t count;
    if (!get(&p, end, &name_len, sizeof name_len) || name_len >= sizeof name ||
        !get(&p, end, name, name_len)) {
        pb_task_fail(ctx, PB_EINVAL, "malformed chunk");
        return;
    }
    name[name_len] = 0;
    const pb_task *task = pb_task_find(name);
    if (!task) {
        pb_task_fail(ctx, PB_ENOENT, "chunk: unknown task '%s' in this worker", name);
        return;
    }
    if (!get(&p, end, &count, sizeof count)) {
        pb_task_fail(ctx, PB_EINVAL, "malformed chunk");
        return;
    }
    growbuf out = {0};
    for (uint64_t i = 0; i < count; i++) {
        uint64_t ilen;
        if (!get(&p, end, &ilen, sizeof ilen) || (uint64_t)(end - p) < ilen) {
            free(out.p);
            pb_task_fail(ctx, PB_EINVAL, "malformed chunk");
            return;
        }
        pb_outcome o;
        pb__task_call(task, p, ilen, &o); /* an item's own times are not kept */
        p += ilen;
        int32_t code = o.code, tcode = o.task_code;
        const void *bytes = o.code ? o.message : o.data;
        uint64_t blen = o.code ? strlen(o.message ? o.message : "") : o.len;
        bool ok = grow_put(&out, &code, sizeof code) && grow_put(&out, &tcode, sizeof tcode) &&
                  grow_put(&out, &blen, sizeof blen) && grow_put(&out, bytes, blen);
        pb_outcome_clear(&o);
        if (!ok) {
            free(out.p);
            pb_task_fail(ctx, PB_ENOMEM, "out of memory building a chunk's results");
            return;
        }
    }
    pb__task_return_owned(ctx, out.p, out.len);
}

/* ---- The caller side ---- */

static pb_future *chunk_future(pb_pool *pool, const pb_task *task, const pb_bytes *items,
                               size_t count, int64_t now)
{
    const char *name = pb_task_name(task);
    uint32_t name_len = (uint32_t)strlen(name);
    uint64_t n64 = count;
    size_t len = sizeof name_len + name_len + sizeof n64;
    for (size_t i = 0; i < count; i++)
        len += sizeof(uint64_t) + items[i].len;

    /* The chunk is packed straight into the future's argument: one allocation. */
    pb_future *f = pb__future_new(pool, pb_task_find("pb__chunk"), NULL, len, 2, now);
    if (!f)
        return NULL;
    unsigned char *p = (unsigned char *)pb_future_arg(f, NULL);
    put(&p, &name_len, sizeof name_len);
    put(&p, name, name_len);
    put(&p, &n64, sizeof n64);
    for (size_t i = 0; i < count; i++) {
        uint64_t l = items[i].len;
        put(&p, &l, sizeof l);
        if (l)
            put(&p, items[i].data, l);
    }
    return f;
}

size_t pb_map_chunksize_for(int workers, size_t n)
{
    /* As multiprocessing.Pool.map: divmod(n, 4 * workers), rounded up. */
    size_t per = 4 * (size_t)(workers > 0 ? workers : 1);
    size_t chunk = n / per + (n % per != 0);
    return chunk ? chunk : 1;
}

size_t pb_map_chunksize(const pb_pool *pool, size_t n)
{
    return pb_map_chunksize_for(pool ? pb_pool_workers(pool) : 1, n);
}

int pb_map_new(pb_pool *pool, const pb_task *task, const pb_bytes *args, size_t n,
               size_t chunksize, int64_t timeout, pb_map **out)
{
    if (!pool || !task || (!args && n) || !out || !pb__timeout_valid(timeout))
        return PB_EINVAL;
    if (chunksize == PB_MAP_CHUNK_AUTO)
        chunksize = pb_map_chunksize(pool, n);
    for (size_t i = 0; i < n; i++)
        if (!args[i].data && args[i].len)
            return PB_EINVAL;
    if (pb__pool_is_shutdown(pool))
        return PB_ESHUTDOWN;

    pb_map *m = calloc(1, sizeof *m);
    if (!m)
        return PB_ENOMEM;
    m->n = n;
    m->chunksize = chunksize;
    m->nchunks = n / chunksize + (n % chunksize != 0);
    m->deadline = pb__deadline(timeout);
    m->chunks = calloc(m->nchunks ? m->nchunks : 1, sizeof *m->chunks);
    if (!m->chunks) {
        free(m);
        return PB_ENOMEM;
    }
    /* Every chunk first, then one batch submit: one hand-off to each worker
     * for the lot. */
    int64_t now = pb_now_ns();
    int r = 0;
    for (size_t c = 0; c < m->nchunks && !r; c++) {
        size_t first = c * chunksize;
        size_t count = n - first < chunksize ? n - first : chunksize;
        m->chunks[c] = chunksize == 1
                           ? pb__future_new(pool, task, args[first].data, args[first].len, 2, now)
                           : chunk_future(pool, task, args + first, count, now);
        if (!m->chunks[c])
            r = PB_ENOMEM;
    }
    size_t submitted = 0;
    if (!r)
        r = pb__pool_submit_futures(pool, m->chunks, m->nchunks, &submitted);
    if (r) {
        for (size_t c = submitted; c < m->nchunks && m->chunks[c]; c++)
            pb__future_discard(m->chunks[c]);
        m->nchunks = submitted; /* what was submitted is cancelled by free */
        pb_map_free(m);
        return r;
    }
    *out = m; /* of each chunk's two references, one is the pool's, one the map's */
    return 0;
}

/* Drops what the previous pb_map_next handed out. */
static void release_held(pb_map *m)
{
    if (m->held) {
        pb_future_release(m->held);
        m->held = NULL;
    }
    free(m->msg);
    m->msg = NULL;
}

static void fill_err(pb_error *err, int code, int task_code, const char *msg)
{
    if (err) {
        *err = (pb_error){.code = code, .task_code = task_code, .message = msg ? msg : ""};
    }
}

int pb_map_next(pb_map *m, const void **data, size_t *len, pb_error *err)
{
    if (!m)
        return PB_EINVAL;
    release_held(m);
    if (m->timed_out)
        return PB_ETIMEDOUT;
    if (m->next >= m->n)
        return PB_EOF;

    size_t c = m->next / m->chunksize, k = m->next % m->chunksize;
    /* The chunk of the next item is still the map's: it is released only
     * after its last item is handed out. */
    assert(c < m->nchunks && m->chunks[c] != NULL);
    pb_future *f = m->chunks[c];
    if (pb__future_wait(f, m->deadline)) {
        /* The deadline passed: cancel what is left, as Executor.map does. */
        m->timed_out = true;
        for (size_t i = c; i < m->nchunks; i++)
            pb_future_cancel(m->chunks[i]);
        return PB_ETIMEDOUT;
    }
    assert(pb_future_done(f));
    m->next++;
    bool last_of_chunk = k + 1 == m->chunksize || m->next == m->n;
    if (last_of_chunk) {
        m->chunks[c] = NULL;
        m->held = f; /* released at the next call */
    } else {
        pb_future_retain(f);
        m->held = f;
    }

    pb_error e;
    pb_future_error(f, 0, &e);
    if (e.code) { /* the whole unit failed: every item of it has its error */
        if (err)
            *err = e;
        return e.code;
    }
    const void *rdata;
    size_t rlen;
    pb_future_result(f, 0, &rdata, &rlen);
    if (m->chunksize == 1) {
        if (data)
            *data = rdata;
        if (len)
            *len = rlen;
        fill_err(err, 0, 0, "");
        return 0;
    }

    if (k == 0) {
        m->cursor = rdata;
        m->end = (const unsigned char *)rdata + rlen;
    }
    int32_t code, tcode;
    uint64_t blen;
    if (!get(&m->cursor, m->end, &code, sizeof code) ||
        !get(&m->cursor, m->end, &tcode, sizeof tcode) ||
        !get(&m->cursor, m->end, &blen, sizeof blen) || (uint64_t)(m->end - m->cursor) < blen) {
        fill_err(err, PB_EBROKEN, 0, "malformed chunk result");
        m->cursor = m->end;
        return PB_EBROKEN;
    }
    const unsigned char *bytes = m->cursor;
    m->cursor += blen;
    if (code) {
        /* The message is not NUL-terminated in the chunk: copy it into a
         * string that lives until the next call, as the bytes would. */
        m->msg = malloc(blen + 1);
        if (m->msg) {
            memcpy(m->msg, bytes, blen);
            m->msg[blen] = 0;
        }
        fill_err(err, code, tcode, m->msg ? m->msg : "");
        return code;
    }
    if (data)
        *data = bytes;
    if (len)
        *len = blen;
    fill_err(err, 0, 0, "");
    return 0;
}

void pb_map_free(pb_map *m)
{
    if (!m)
        return;
    release_held(m);
    for (size_t c = 0; c < m->nchunks; c++) {
        if (m->chunks[c]) {
            pb_future_cancel(m->chunks[c]);
            pb_future_release(m->chunks[c]);
        }
    }
    free(m->chunks);
    free(m);
}
