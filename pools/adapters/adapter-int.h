/*
 * adapter-int.h — what the adapters (glib.c, libuv.c) share: a pool's
 * initializer, the "broken" state a failing initializer leaves, and running
 * a claimed future's task in the worker.
 *
 * Both adapters run tasks on threads they do not create, so neither can use
 * the thread backend's worker loop; what is left in common is the part of the
 * futures contract about the initializer: a copy of its argument made at
 * create, a failure that breaks the pool (that task and every later one fail
 * with PB_EBROKEN "initializer failed: ...", submit returns PB_EBROKEN), and
 * the first failure's message kept for the life of the pool. When and in
 * which thread the initializer runs is each adapter's own business.
 *
 * Each adapter is a loadable module (adapters/CMakeLists.txt) built from its
 * own file and adapter-common.c; its only exported symbol is its pb_backend,
 * declared PB__ADAPTER_EXPORT, which pools/backends.c names for dlsym.
 */
#ifndef PB_ADAPTER_INT_H
#define PB_ADAPTER_INT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <pb/backend.h>

/* The one symbol a module exports: everything else is hidden. */
#define PB__ADAPTER_EXPORT __attribute__((visibility("default")))

typedef struct pb__adapter_init {
    const pb_task *task; /* NULL: no initializer */
    void *arg;           /* a copy of opts->init_arg, owned */
    size_t len;
    _Atomic(char *) broken; /* "initializer failed: ...", once set; owned */
} pb__adapter_init;

/* Fills in from opts->initializer (zeroed first; nothing to do without one).
 * Returns 0 or PB_ENOMEM; either way pb__adapter_init_free() cleans up. */
int pb__adapter_init_new(pb__adapter_init *in, const pb_pool_opts *opts);
void pb__adapter_init_free(pb__adapter_init *in);

/* Runs the initializer in the calling thread; a failure breaks the pool.
 * Call only when in->task is set. */
void pb__adapter_init_run(pb__adapter_init *in);

/* Breaks the pool with "initializer failed: <why>". The first message stays:
 * later ones are dropped; one that cannot be allocated is replaced by a
 * fixed message, so the pool breaks all the same. */
void pb__adapter_set_broken(pb__adapter_init *in, const char *why);

/* The broken message, NULL while the pool is usable. */
static inline const char *pb__adapter_broken(pb__adapter_init *in)
{
    return atomic_load(&in->broken);
}

/* In a worker, for a future it has claimed with pb_future_set_running():
 * fails it with PB_EBROKEN if the pool is broken, else runs its task and
 * completes it in this thread. Does not release the future. */
void pb__adapter_run_claimed(pb__adapter_init *in, pb_future *f);

/* The calling thread's word for this adapter (0 until set: each module has
 * one). A pthread key rather than _Thread_local: the adapters are dlopen'd
 * modules, where _Thread_local is dynamic TLS, and GCC 12's LeakSanitizer
 * crashes walking dynamic TLS at exit ("Tracer caught signal 11"). When no
 * key can be made, the word reads 0 and setting it does nothing. */
uintptr_t pb__adapter_thread_word(void);
void pb__adapter_set_thread_word(uintptr_t v);

#endif /* PB_ADAPTER_INT_H */
