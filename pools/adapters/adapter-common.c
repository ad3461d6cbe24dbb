/*
 * adapter-common.c — the initializer and broken-pool handling the adapters
 * share (adapter-int.h says what and why).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapter-int.h"

static pthread_once_t word_once = PTHREAD_ONCE_INIT;
static pthread_key_t word_key;
static bool word_ok;

static void word_init(void)
{
    word_ok = pthread_key_create(&word_key, NULL) == 0;
}

uintptr_t pb__adapter_thread_word(void)
{
    pthread_once(&word_once, word_init);
    return word_ok ? (uintptr_t)pthread_getspecific(word_key) : 0;
}

void pb__adapter_set_thread_word(uintptr_t v)
{
    pthread_once(&word_once, word_init);
    if (word_ok)
        pthread_setspecific(word_key, (void *)v);
}

int pb__adapter_init_new(pb__adapter_init *in, const pb_pool_opts *opts)
{
    memset(in, 0, sizeof *in);
    if (!opts->initializer)
        return 0;
    in->task = pb_task_find(opts->initializer);
    in->len = opts->init_len;
    if (opts->init_len) {
        in->arg = malloc(opts->init_len);
        if (!in->arg)
            return PB_ENOMEM;
        memcpy(in->arg, opts->init_arg, opts->init_len);
    }
    return 0;
}

/* The broken message when there is no memory for the real one: the pool
 * must break all the same. Never freed. */
static char no_memory_message[] = "initializer failed (no memory for its message)";

void pb__adapter_init_free(pb__adapter_init *in)
{
    free(in->arg);
    char *broken = atomic_load(&in->broken);
    if (broken != no_memory_message)
        free(broken);
    in->arg = NULL;
    atomic_store(&in->broken, NULL);
}

void pb__adapter_set_broken(pb__adapter_init *in, const char *why)
{
    char *msg = NULL;
    if (asprintf(&msg, "initializer failed: %s", why) < 0)
        msg = NULL;
    char *none = NULL;
    if (!atomic_compare_exchange_strong(&in->broken, &none, msg ? msg : no_memory_message))
        free(msg); /* an earlier failure's message stays */
}

void pb__adapter_init_run(pb__adapter_init *in)
{
    pb_outcome o;
    pb_task_run(in->task, in->arg, in->len, &o);
    if (o.code)
        pb__adapter_set_broken(in, o.message && *o.message ? o.message
                                                           : "the initializer task failed");
    pb_outcome_clear(&o);
}

void pb__adapter_run_claimed(pb__adapter_init *in, pb_future *f)
{
    const char *broken = pb__adapter_broken(in);
    if (broken) {
        pb_error e = {.code = PB_EBROKEN, .message = broken};
        pb_future_set_error(f, &e, 0, 0);
        return;
    }
    size_t len;
    const void *arg = pb_future_arg(f, &len);
    pb_outcome o;
    pb_task_run(pb_future_task(f), arg, len, &o);
    pb_future_complete(f, &o);
}
