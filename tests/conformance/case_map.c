/*
 * case_map.c — ordered map: submission order for many chunk sizes, each
 * item's error in its place with iteration going on, the deadline from
 * pb_map_new and a sticky PB_ETIMEDOUT, freeing early (without waiting for
 * what runs), cancelled items, n = 0, automatic chunks (PB_MAP_CHUNK_AUTO)
 * and map after shutdown.
 */
#include "conformance.h"

#include <stdio.h>
#include <stdlib.h>

/* n conf_item arguments: item i fails if i % 13 == 5, sleeps a little if
 * i % 11 == 0 (so items finish out of order on more than one worker). */
typedef struct items {
    pbc_item *items;
    pb_bytes *args;
    size_t n;
} items;

static bool item_fails(size_t i)
{
    return i % 13 == 5;
}

static void items_init(items *it, size_t n)
{
    it->n = n;
    it->items = calloc(n ? n : 1, sizeof *it->items);
    it->args = calloc(n ? n : 1, sizeof *it->args);
    CHECK(it->items != NULL && it->args != NULL);
    for (size_t i = 0; i < n; i++) {
        it->items[i].index = (uint32_t)i;
        if (item_fails(i))
            it->items[i].flags |= CONF_ITEM_FAIL;
        if (i % 11 == 0) {
            it->items[i].flags |= CONF_ITEM_DELAY;
            it->items[i].delay_us = 300;
        }
        it->args[i].data = &it->items[i];
        it->args[i].len = sizeof it->items[i];
    }
}

static void items_free(items *it)
{
    free(it->items);
    free(it->args);
}

static void check_item(pb_map *m, size_t i)
{
    const void *data = NULL;
    size_t len = 0;
    pb_error err;
    memset(&err, 0, sizeof err);
    int rc = pb_map_next(m, &data, &len, &err);
    if (item_fails(i)) {
        CHECK_MSG(rc == PB_ETASK, "item %zu: pb_map_next returned %d (%s), expected PB_ETASK",
                  i, rc, pb_strerror(rc));
        CHECK_CODE(err.code, PB_ETASK);
        CHECK_INT(err.task_code, ==, i);
        char want[64];
        snprintf(want, sizeof want, "item %zu failed", i);
        CHECK_STR(err.message, want);
        return;
    }
    CHECK_MSG(rc == 0, "item %zu: pb_map_next returned %d (%s): %s", i, rc,
              pb_strerror(rc), rc < 0 && err.message ? err.message : "");
    CHECK_MSG(len == 8 && data != NULL, "item %zu: %zu bytes", i, len);
    uint64_t v;
    memcpy(&v, data, 8);
    CHECK_MSG(v == i, "item %zu came back as %llu: out of order", i, (unsigned long long)v);
}

static void expect_map_eof(pb_map *m)
{
    const void *data = NULL;
    size_t len = 0;
    CHECK_CODE(pb_map_next(m, &data, &len, NULL), PB_EOF);
    CHECK_CODE(pb_map_next(m, &data, &len, NULL), PB_EOF);
}

PBC_CASE(map, order_for_chunk_sizes)
{
    pb_pool *pool = pbc_pool(backend, 2, NULL);
    const pb_task *task = pbc_task("conf_item");
    items it;
    items_init(&it, 300);
    const size_t chunks[] = {1, 2, 7, 64, 299, 300, 1000, PB_MAP_CHUNK_AUTO};
    for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
        STEP("chunksize %zu", chunks[c]);
        pb_map *m = NULL;
        CHECK_OK(pb_map_new(pool, task, it.args, it.n, chunks[c], PB_FOREVER, &m));
        CHECK(m != NULL);
        for (size_t i = 0; i < it.n; i++)
            check_item(m, i);
        expect_map_eof(m);
        pb_map_free(m);
    }
    STEP("a finite deadline that does not pass");
    pb_map *m = NULL;
    CHECK_OK(pb_map_new(pool, task, it.args, it.n, 5, 600LL * 1000 * 1000 * 1000, &m));
    for (size_t i = 0; i < it.n; i++)
        check_item(m, i);
    expect_map_eof(m);
    pb_map_free(m);

    items_free(&it);
    pb_pool_destroy(pool);
}

PBC_CASE(map, arguments_are_copied)
{
    pbc_blocked b;
    BLOCKED_SETUP(&b, pbc_pool(backend, 1, NULL), false);
    items it;
    items_init(&it, 40);
    pb_map *m = NULL;
    CHECK_OK(pb_map_new(b.pool, pbc_task("conf_item"), it.args, it.n, 3, PB_FOREVER, &m));
    for (size_t i = 0; i < it.n; i++) /* scribble before any item can have run */
        it.items[i].index = 0xdeadbeef;
    memset(it.args, 0, it.n * sizeof *it.args);
    pbc_gate_open(&b.gate);
    for (size_t i = 0; i < it.n; i++)
        check_item(m, i);
    expect_map_eof(m);
    pb_map_free(m);
    items_free(&it);
    pbc_blocked_teardown(&b);
}

PBC_CASE(map, deadline_then_sticky_timeout)
{
    pb_pool *pool = pbc_pool(backend, 2, NULL);
    /* Warm up, so that the first item is not waiting for a worker to start. */
    pb_future *w = pbc_submit_u64(pool, 0);
    CHECK_RESULT_U64(w, 0);
    pb_future_release(w);

    STEP("no item can finish before the deadline");
    pbc_gate g;
    pbc_gate_init(&g);
    pb_bytes gargs[4];
    for (int i = 0; i < 4; i++)
        gargs[i] = (pb_bytes){g.path, strlen(g.path)};
    pb_map *m = NULL;
    CHECK_OK(pb_map_new(pool, pbc_task("conf_gate"), gargs, 4, 1, 100LL * 1000 * 1000, &m));
    const void *data = (const void *)&g;
    size_t len = 4242;
    pb_error err;
    memset(&err, 0xab, sizeof err);
    CHECK_CODE(pb_map_next(m, &data, &len, &err), PB_ETIMEDOUT);
    CHECK_MSG(data == (const void *)&g && len == 4242,
              "PB_ETIMEDOUT from pb_map_next wrote to its outputs");
    CHECK_CODE(pb_map_next(m, &data, &len, &err), PB_ETIMEDOUT);
    pbc_gate_open(&g);
    STEP("still PB_ETIMEDOUT once the items could finish");
    pbc_sleep_ms(10);
    CHECK_CODE(pb_map_next(m, &data, &len, &err), PB_ETIMEDOUT);
    CHECK_CODE(pb_map_next(m, &data, &len, NULL), PB_ETIMEDOUT);
    pb_map_free(m);

    STEP("an item done before the deadline comes back, then PB_ETIMEDOUT");
    /* conf_gate on an open gate returns at once: item 0 finishes, item 1
     * blocks until after the deadline. */
    pbc_gate open, closed;
    pbc_gate_init(&open);
    pbc_gate_init(&closed);
    pbc_gate_open(&open);
    pb_bytes mixed[3] = {{open.path, strlen(open.path)},
                         {closed.path, strlen(closed.path)},
                         {open.path, strlen(open.path)}};
    CHECK_OK(pb_map_new(pool, pbc_task("conf_gate"), mixed, 3, 1, 1000LL * 1000 * 1000, &m));
    len = 4242;
    CHECK_OK(pb_map_next(m, &data, &len, &err));
    CHECK_INT(len, ==, 0);
    CHECK_CODE(pb_map_next(m, &data, &len, &err), PB_ETIMEDOUT);
    CHECK_CODE(pb_map_next(m, &data, &len, &err), PB_ETIMEDOUT);
    pb_map_free(m);
    pbc_gate_open(&closed);
    pb_pool_destroy(pool);
}

PBC_CASE(map, free_early_does_not_wait)
{
    pb_pool *pool = pbc_pool(backend, 2, NULL);
    items it;
    items_init(&it, 500);
    pb_map *m = NULL;

    STEP("free right after pb_map_new");
    CHECK_OK(pb_map_new(pool, pbc_task("conf_item"), it.args, it.n, 3, PB_FOREVER, &m));
    pb_map_free(m);

    STEP("free after a few items");
    CHECK_OK(pb_map_new(pool, pbc_task("conf_item"), it.args, it.n, 3, PB_FOREVER, &m));
    for (size_t i = 0; i < 10; i++)
        check_item(m, i);
    pb_map_free(m);
    pb_map_free(NULL);

    STEP("free while items run and block: it must not wait for them");
    pbc_gate g;
    pbc_gate_init(&g);
    enum { NG = 40 };
    pb_bytes gargs[NG];
    for (int i = 0; i < NG; i++)
        gargs[i] = (pb_bytes){g.path, strlen(g.path)};
    CHECK_OK(pb_map_new(pool, pbc_task("conf_gate"), gargs, NG, 1, PB_FOREVER, &m));
    pb_map_free(m); /* the gate is closed: waiting here would hang */
    pbc_gate_open(&g);

    STEP("the pool still works");
    CHECK_OK(pb_map_new(pool, pbc_task("conf_item"), it.args, 30, 4, PB_FOREVER, &m));
    for (size_t i = 0; i < 30; i++)
        check_item(m, i);
    expect_map_eof(m);
    pb_map_free(m);
    items_free(&it);
    pb_pool_destroy(pool);
}

PBC_CASE(map, cancelled_items)
{
    pbc_blocked b;
    BLOCKED_SETUP(&b, pbc_pool(backend, 2, NULL), true);
    items it;
    items_init(&it, 20);
    pb_map *m = NULL;
    CHECK_OK(pb_map_new(b.pool, pbc_task("conf_item"), it.args, it.n, 3, PB_FOREVER, &m));
    CHECK_OK(pb_pool_shutdown(b.pool, false, true));
    pbc_gate_open(&b.gate);
    for (size_t i = 0; i < it.n; i++) {
        pb_error err;
        memset(&err, 0, sizeof err);
        const void *data;
        size_t len;
        int rc = pb_map_next(m, &data, &len, &err);
        CHECK_MSG(rc == PB_ECANCELED,
                  "item %zu of a map queued behind a PENDING backlog and cancelled by "
                  "shutdown: %d (%s)", i, rc, pb_strerror(rc));
        CHECK_CODE(err.code, PB_ECANCELED);
    }
    expect_map_eof(m);
    pb_map_free(m);
    items_free(&it);
    pbc_blocked_teardown(&b);
}

PBC_CASE(map, empty_and_bad_arguments)
{
    pb_pool *pool = pbc_pool(backend, 2, NULL);
    const pb_task *task = pbc_task("conf_item");
    items it;
    items_init(&it, 4);
    pb_map *m = NULL;

    STEP("n = 0");
    CHECK_OK(pb_map_new(pool, task, NULL, 0, 1, PB_FOREVER, &m));
    expect_map_eof(m);
    pb_map_free(m);
    CHECK_OK(pb_map_new(pool, task, it.args, 0, 8, 0, &m));
    expect_map_eof(m);
    pb_map_free(m);

    CHECK_OK(pb_map_new(pool, task, it.args, 0, PB_MAP_CHUNK_AUTO, PB_FOREVER, &m));
    expect_map_eof(m);
    pb_map_free(m);

    STEP("bad arguments");
    m = NULL;
    CHECK_CODE(pb_map_new(NULL, task, it.args, it.n, 1, PB_FOREVER, &m), PB_EINVAL);
    CHECK_CODE(pb_map_new(pool, NULL, it.args, it.n, 1, PB_FOREVER, &m), PB_EINVAL);
    CHECK_CODE(pb_map_new(pool, task, NULL, it.n, 1, PB_FOREVER, &m), PB_EINVAL);
    CHECK_CODE(pb_map_new(pool, task, it.args, it.n, 1, PB_FOREVER, NULL), PB_EINVAL);
    CHECK_CODE(pb_map_new(pool, task, it.args, it.n, 1, -2, &m), PB_EINVAL);
    CHECK_CODE(pb_map_new(pool, task, it.args, it.n, 1, INT64_MIN, &m), PB_EINVAL);
    CHECK_MSG(m == NULL, "a failed pb_map_new wrote *out");
    pb_bytes bad = {NULL, 5};
    int rc = pb_map_new(pool, task, &bad, 1, 1, PB_FOREVER, &m);
    CHECK_MSG(rc == PB_EINVAL, "pb_map_new with an item {NULL, 5} returned %d (%s)", rc,
              pb_strerror(rc));
    CHECK_INT(pb_map_next(NULL, NULL, NULL, NULL), <, 0);

    STEP("map after shutdown");
    CHECK_OK(pb_pool_shutdown(pool, false, false));
    CHECK_CODE(pb_map_new(pool, task, it.args, it.n, 1, PB_FOREVER, &m), PB_ESHUTDOWN);
    CHECK_CODE(pb_map_new(pool, task, it.args, 0, 1, PB_FOREVER, &m), PB_ESHUTDOWN);
    items_free(&it);
    pb_pool_destroy(pool);
}
