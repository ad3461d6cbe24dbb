/*
 * adapter-int.h — what the adapters share: the futures an adapter holds
 * while the library has them, the initializer and the "broken" state a
 * failing one leaves, pinning threads the adapter does not create, the
 * start-up and end of threads that are the pool's own, and bits of the
 * native loops.
 *
 * Every adapter hands tasks to threads that belong to another library (a
 * GThreadPool, libuv's threadpool, a oneTBB arena, an OpenMP team, an Asio
 * thread_pool), so none of them can use the thread backend's worker loop.
 * What they have in common is the bookkeeping the futures contract asks of
 * any pool, kept here once (pb__adapter, opaque) so each adapter file is
 * about its library only:
 *
 *   Queued futures and tokens. submit() puts the future on the adapter's
 *   own FIFO (pb__adapter_hold, linked through pb_future_slot) and the
 *   library gets a token: one unit of its work that carries no future. A
 *   library thread that runs a token calls pb__adapter_run_next(), which
 *   takes the oldest queued future, claims it with pb_future_set_running()
 *   (dropping, on the way, futures cancelled while queued), runs its task,
 *   completes it in that thread and drops the backend's reference. A token
 *   runs at most one task and every queued future gets one, so the library
 *   still schedules (and is measured scheduling) one unit per task, and
 *   tasks start in submission order whatever order the library runs its
 *   units in (oneTBB's arenas, for one, are not FIFO). Who posts a token,
 *   and when, is the adapter's choice: at most `workers` wait at a time,
 *   posted by submit only when fewer wait and otherwise by the token that
 *   starts before them (pb__adapter_chain: glib, tbb, openmp, asio), or by
 *   the loop thread that alone may post (libuv, which chains through
 *   after_cb). Libraries offer no way to take work back out
 *   of their queues; here nothing needs to be: shutdown(cancel_futures)
 *   takes every queued future off the FIFO and cancels it, and the tokens
 *   left in the library find the FIFO empty. The lock is held only to push
 *   or pop — never while calling into the library or while user code runs
 *   (tasks, done-callbacks) — so it never nests with a library's own
 *   locks. `outstanding` counts the futures held; shutdown(wait) sleeps
 *   until it is zero (see put_outstanding in adapter-common.c for why that
 *   is safe for libraries whose threads cannot be joined).
 *
 *   The initializer: a copy of its argument made at create, a failure that
 *   breaks the pool (that task and every later one fail with PB_EBROKEN
 *   "initializer failed: ...", submit returns PB_EBROKEN), and the first
 *   failure's message kept for the life of the pool. When and in which
 *   thread it runs is each adapter's business: once per thread at start
 *   (glib, asio, openmp, whose threads are the pool's own), or lazily before
 *   the first task a thread runs for this pool (pb__adapter_initialize_lazily:
 *   libuv and tbb, whose threads are shared and come and go).
 *
 *   Pinning: the pin policy resolved at create (NULL placement for "none"),
 *   binding the calling thread to worker i's PUs and recording the binding
 *   obtained for pb_pool_binding(), and putting back the mask the creating
 *   thread had, for threads that go back to serving others.
 *
 * This header is included from C and from C++ (tbb.cpp, asio.cpp): it holds
 * no C11 atomics and no inline code.
 *
 * Each adapter is a loadable module (adapters/CMakeLists.txt) built from its
 * own file and adapter-common.c; its only exported symbol is its pb_backend,
 * declared PB__ADAPTER_EXPORT, which pools/backends.c names for dlsym.
 */
#ifndef PB_ADAPTER_INT_H
#define PB_ADAPTER_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <pb/backend.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The one symbol a module exports: everything else is hidden. */
#define PB__ADAPTER_EXPORT __attribute__((visibility("default")))

typedef struct pb__adapter pb__adapter;

/* Copies the initializer and resolves the pin policy for opts->workers.
 * Returns 0, PB_ENOMEM, or what pb__placement_new() returned. */
int pb__adapter_new(const pb_pool_opts *opts, pb__adapter **out);

/* Frees everything; the caller has waited until nothing is held. */
void pb__adapter_free(pb__adapter *a);

int pb__adapter_workers(const pb__adapter *a);

/* ---- Queued futures ---- */

/* submit(): queues f (whose reference the backend now holds); the caller
 * then gives the library one token. Returns 0, PB_ESHUTDOWN, PB_EBROKEN
 * (the initializer failed); on error nothing is queued. */
int pb__adapter_hold(pb__adapter *a, pb_future *f);

/* submit(), when the library refused the token: takes f back unless a
 * token already took it (returns whether it did: the submit then fails and
 * the core keeps f). */
bool pb__adapter_take_back(pb__adapter *a, pb_future *f);

/* In a library thread, for one token: runs the oldest queued future, if
 * any (see above). Returns whether it took one off the queue. */
bool pb__adapter_run_next(pb__adapter *a);

/* Chained tokens. In create(): from now on the core posts the tokens
 * itself, through post(ud), which gives the library one token (0, or a
 * negative code when the library refused it); backends then submit with
 * pb__adapter_submit(). At most `workers` tokens wait in the library at a
 * time: submit posts one only when fewer wait, and a token, as it starts
 * and before its task runs, posts the next when more is queued. Every task
 * still gets a token of its own, and in a burst the caller stops paying
 * the library's wake-up of an idle worker on every submit: a worker that
 * is already awake posts the next token. (Without it, a library whose idle
 * threads sleep at once — GLib, Asio — wakes one per submit whenever its
 * workers outrun the caller, which the futures' own cost per submit makes
 * them do.) */
void pb__adapter_chain(pb__adapter *a, int (*post)(void *ud), void *ud);

/* submit() of a chained adapter: queues f and posts a token when none
 * waits. Returns 0, PB_ESHUTDOWN, PB_EBROKEN, or PB_ENOMEM when the library
 * refused the token (f is not queued then). */
int pb__adapter_submit(pb__adapter *a, pb_future *f);

/* Whether a future is queued (for a library thread deciding whether to run
 * another before giving its place back). */
bool pb__adapter_queued(pb__adapter *a);

/* How many futures are queued, read without the lock: a moment's view. */
size_t pb__adapter_queued_count(pb__adapter *a);

/* The backend's shutdown, as pb/backend.h describes it. (No cancel hint is
 * needed: a cancelled future is dropped when a token meets it.) */
void pb__adapter_shutdown(pb__adapter *a, bool wait, bool cancel_futures);

/* Whether shutdown began (submit is refused). */
bool pb__adapter_is_shut(pb__adapter *a);

/* ---- The initializer ---- */

bool pb__adapter_has_initializer(const pb__adapter *a);

/* The initializer task (NULL: none) and its argument, for an adapter whose
 * workers run it elsewhere (mpi: in each rank). */
const pb_task *pb__adapter_initializer(const pb__adapter *a, const void **arg, size_t *len);

/* Runs the initializer in the calling thread; a failure breaks the pool. */
void pb__adapter_initialize(pb__adapter *a);

/* Runs it in the calling thread unless it already ran there for this pool
 * (for libraries whose threads are shared and join and leave). Nothing to
 * do without an initializer or once the pool is broken. */
void pb__adapter_initialize_once(pb__adapter *a);

/* In create(): from now on pb__adapter_run_next() runs the initializer
 * (pb__adapter_initialize_once) in a thread right before the first task of
 * this pool it runs there, never in a thread that runs none. */
void pb__adapter_initialize_lazily(pb__adapter *a);

/* Breaks the pool with "initializer failed: <why>"; the first message stays. */
void pb__adapter_set_broken(pb__adapter *a, const char *why);

/* The broken message, NULL while the pool is usable. */
const char *pb__adapter_broken(pb__adapter *a);

/* ---- Pinning ---- */

/* Whether a pin policy other than "none" was asked for. */
bool pb__adapter_pinned(const pb__adapter *a);

/* Binds the calling thread to worker i's PUs (nothing when not pinned) and
 * records the binding obtained as worker i's. Returns 0 or a negative code. */
int pb__adapter_bind(pb__adapter *a, int worker);

/* Puts back the CPU mask the thread that created the pool had (for a
 * library thread leaving the pool's service). Nothing when not pinned. */
void pb__adapter_unbind(pb__adapter *a);

/* backend->binding: worker i's binding recorded by pb__adapter_bind(), ""
 * when not pinned (or not bound yet). */
int pb__adapter_binding(pb__adapter *a, int worker, char *buf, size_t size);

/* ---- The pool's own threads (glib, openmp, asio) ----
 *
 * A library that starts threads for the pool alone lets each of them say
 * when it starts: its id is noted (for pb__adapter_await_workers_gone) and
 * it is bound to its worker's PUs when pinning. Start items (glib, asio:
 * one per thread, queued before any task) also hold their thread until
 * every one has been taken, so that each lands on a distinct thread. */

/* In a new thread of the pool, as worker `index` (-1: the next index not
 * taken). Returns the index. */
int pb__adapter_worker_started(pb__adapter *a, int index);

/* Holds the calling thread until every worker has called this. */
void pb__adapter_worker_hold(pb__adapter *a);

/* In create(): waits until every worker has started; returns the first
 * error binding one (0 if none). */
int pb__adapter_await_started(pb__adapter *a);

/* In destroy(), for threads that end on their own: waits until every
 * worker's thread is gone (pb__adapter_await_threads_gone). */
void pb__adapter_await_workers_gone(pb__adapter *a, void (*nudge)(void));

/* ---- Native loops ---- */

/* In a backend's native(): PB_ENOTSUP with the reason when opts asks for
 * pinning, 0 otherwise. The native loops run a library's threads as its
 * programs do, unbound; the adapters are what pins from inside. */
int pb__native_refuse_pin(const char *name, const pb_pool_opts *opts);

/* ---- Odds and ends ---- */

/* The calling thread's word for this module (0 until set: each module has
 * one). A pthread key rather than _Thread_local: the adapters are dlopen'd
 * modules, where _Thread_local is dynamic TLS, and GCC 12's LeakSanitizer
 * crashes walking dynamic TLS at exit ("Tracer caught signal 11"). When no
 * key can be made, the word reads 0 and setting it does nothing. */
uintptr_t pb__adapter_thread_word(void);
void pb__adapter_set_thread_word(uintptr_t v);

/* Runs fn(arg) in a new thread with every signal blocked, so that it — and
 * the threads a library starts from it — never takes the host's signals.
 * Returns 0 or a negative errno. */
int pb__adapter_thread_start(pthread_t *t, void *(*fn)(void *), void *arg, const char *name);

/* Waits (up to 5 s) until none of the threads tids[0..n) (0 entries
 * skipped) is left in /proc/self/task: for libraries whose threads end on
 * their own and cannot be joined. nudge, if not NULL, runs before each
 * look (GLib: ask it to end its idle threads). Nothing to do without
 * procfs. */
void pb__adapter_await_threads_gone(const pid_t *tids, int n, void (*nudge)(void));

/* The calling thread's id (gettid). */
pid_t pb__adapter_tid(void);

/* Blocks every signal in the calling thread, saving the old mask in *old:
 * around calls that make a library start its threads. */
void pb__adapter_block_signals(void *old /* sigset_t * */);
void pb__adapter_restore_signals(const void *old /* sigset_t * */);

#ifdef __cplusplus
}
#endif

#endif /* PB_ADAPTER_INT_H */
