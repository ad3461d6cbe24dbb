/*
 * adapters/asio.cpp — the `asio` backend: Boost.Asio's thread_pool behind
 * the futures API.
 *
 * boost::asio::thread_pool is the pool of the C++ networking world: a fixed
 * set of threads running one io_context-style scheduler, fed with
 * boost::asio::post(pool, handler) from any thread. This backend posts one
 * handler per submitted future, as an Asio program posts its work, and adds
 * only the bookkeeping the futures contract needs (the shared adapter core,
 * adapter-int.h).
 *
 * DESIGN
 *
 * Threads. thread_pool(workers) starts its threads at once and they serve
 * only this pool until join(); they are started with every signal blocked,
 * so they never take the host's signals. Right after, the pool gets one
 * start handler per thread (as the glib backend does): each takes a worker
 * index, binds its thread to that worker's PUs when pinning, runs the
 * initializer, and waits until every start handler has been taken — so each
 * lands on a distinct thread, every thread is bound and initialised exactly
 * once before any task, and create() returns once every thread is bound.
 *
 * Submit queues the future in the shared core's FIFO; each future gets one
 * post() of a handler, a token, which on a pool thread runs the oldest
 * queued future and completes it there (done-callbacks run in the worker).
 * Tokens are chained (adapter-int.h): the caller posts one only when fewer
 * than `workers` wait, else the token that starts before them does, from
 * the pool's own thread — Asio's threads sleep on a condition variable the
 * moment its queue is empty, and a caller that posted every token itself
 * would pay a wake-up per task whenever the workers outran it. Asio cannot
 * take a posted handler back; a future cancelled while queued is skipped
 * by the token that meets it. No exception crosses into C: a post that throws
 * (std::bad_alloc) takes the future back and fails the submit.
 *
 * Destroy waits until nothing is held, then join()s the pool: its threads
 * end, so nothing outlives it.
 *
 * Not supported (the table's `unsupported`): task_timeout (a thread cannot
 * be killed), max_tasks_per_worker (thread_pool never replaces a thread),
 * worker_program (exec backend only).
 */
#include <cerrno>
#include <cstdio>
#include <memory>
#include <new>
#include <string>

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/asio/version.hpp>
#include <boost/version.hpp>

#include "adapter-int.hpp"

namespace {

struct apool {
    pb__adapter *core = nullptr;
    int workers = 0;
    std::unique_ptr<boost::asio::thread_pool> pool;
};

/* A thread_pool of n threads, which never take the host's signals. */
std::unique_ptr<boost::asio::thread_pool> start_pool(int n)
{
    pb_signals_blocked quiet;
    return std::unique_ptr<boost::asio::thread_pool>(new boost::asio::thread_pool((std::size_t)n));
}

/* One per thread, before any task (see DESIGN). */
void start_handler(pb__adapter *core)
{
    pb__adapter_worker_started(core, -1);
    pb__adapter_initialize(core);
    pb__adapter_worker_hold(core);
}

void apool_free(apool *p)
{
    if (!p)
        return;
    if (p->pool)
        p->pool->join();
    p->pool.reset();
    pb__adapter_free(p->core);
    delete p;
}

/* A token (chained, adapter-int.h): one post() per task. */
int post_token(void *ud) noexcept
{
    apool *p = static_cast<apool *>(ud);
    try {
        pb__adapter *core = p->core;
        boost::asio::post(*p->pool, [core] { pb__adapter_run_next(core); });
    } catch (...) {
        return PB_ENOMEM;
    }
    return 0;
}

int asio_submit(void *state, pb_future *f) noexcept
{
    return pb__adapter_submit(static_cast<apool *>(state)->core, f);
}

void asio_shutdown(void *state, bool wait, bool cancel_futures) noexcept
{
    pb__adapter_shutdown(static_cast<apool *>(state)->core, wait, cancel_futures);
}

void asio_destroy(void *state) noexcept
{
    apool *p = static_cast<apool *>(state);
    pb__adapter_shutdown(p->core, true, false);
    apool_free(p);
}

int asio_create(const pb_pool_opts *opts, void **state, int *workers) noexcept
{
    apool *p = nullptr;
    try {
        p = new apool;
        p->workers = opts->workers;
        int r = pb__adapter_new(opts, &p->core);
        if (r) {
            apool_free(p);
            return r;
        }
        pb__adapter_chain(p->core, post_token, p);
        p->pool = start_pool(p->workers);
        pb__adapter *core = p->core;
        for (int i = 0; i < p->workers; i++)
            boost::asio::post(*p->pool, [core] { start_handler(core); });
        r = pb__adapter_await_started(core);
        if (r) {
            apool_free(p);
            return pb_backend_error(r, "asio backend: cannot bind worker threads: %s",
                                    pb_strerror(r));
        }
    } catch (const std::bad_alloc &) {
        apool_free(p);
        return PB_ENOMEM;
    } catch (const std::exception &e) {
        apool_free(p);
        return pb_backend_error(-EAGAIN, "asio backend: cannot start the pool: %s", e.what());
    }
    *state = p;
    *workers = p->workers;
    return 0;
}

int asio_binding(void *state, int worker, char *buf, size_t size) noexcept
{
    return pb__adapter_binding(static_cast<apool *>(state)->core, worker, buf, size);
}

/* ---- The native loop (pb/backend.h): Asio as Asio programs use it ----
 *
 * A thread_pool of `workers` threads fed with post() from the caller:
 * bursts count completions, the last waking the caller; round trips post
 * with use_future, Asio's own completion token, and wait on the future. */

int asio_native(const pb_pool_opts *opts, pb_native_job *job) noexcept
{
    int r = pb__native_refuse_pin("asio", opts);
    if (r)
        return r;
    try {
        pb_native::count c; /* outlives the pool, which joins its threads */
        std::unique_ptr<boost::asio::thread_pool> pool = start_pool(opts->workers);
        for (size_t i = 0; i < job->warmup; i++)
            boost::asio::post(*pool, boost::asio::use_future([] {})).get();
        if (job->kind == PB_NATIVE_BURST) {
            pb_native::burst(job, c, [&](auto &&f) { boost::asio::post(*pool, f); });
        } else {
            for (size_t i = 0; i < job->n; i++) {
                int64_t t0 = pb_now_ns();
                boost::asio::post(*pool, boost::asio::use_future([job, i] {
                                      job->task(job->ud, i);
                                  })).get();
                job->times[i] = pb_now_ns() - t0;
            }
        }
        job->threads = opts->workers;
        pool->join();
    } catch (const std::bad_alloc &) {
        return PB_ENOMEM;
    } catch (const std::exception &e) {
        return pb_backend_error(-EAGAIN, "asio native loop: %s", e.what());
    }
    return 0;
}

const pb_unsupported unsupported[] = {
    {"task_timeout", "an Asio pool thread cannot be killed"},
    {"max_tasks_per_worker", "thread_pool never replaces a thread"},
    {"worker_program", "it names the program an exec worker runs"},
    {nullptr, nullptr},
};

/* "Boost.Asio 1.18.0 (Boost 1.74.0) ..." from the headers' version numbers. */
const std::string summary = [] {
    char buf[256];
    std::snprintf(buf, sizeof buf,
                  "Boost.Asio %d.%d.%d (Boost %d.%d.%d) thread_pool, one post() per task",
                  BOOST_ASIO_VERSION / 100000, BOOST_ASIO_VERSION / 100 % 1000,
                  BOOST_ASIO_VERSION % 100, BOOST_VERSION / 100000, BOOST_VERSION / 100 % 1000,
                  BOOST_VERSION % 100);
    return std::string(buf);
}();

pb_backend make_backend()
{
    pb_backend b{};
    b.name = "asio";
    b.summary = summary.c_str();
    b.create = asio_create;
    b.submit = asio_submit;
    b.shutdown = asio_shutdown;
    b.destroy = asio_destroy;
    b.binding = asio_binding;
    b.native = asio_native;
    b.native_summary = "post() per task into a thread_pool; round trips with use_future";
    b.unsupported = unsupported;
    return b;
}

} // namespace

extern "C" PB__ADAPTER_EXPORT const pb_backend pb__backend_asio = make_backend();
