/*
 * adapters/tbb.cpp — the `tbb` backend: a oneTBB task_arena behind the
 * futures API.
 *
 * oneTBB is the task scheduler most C++ programs reach for: work-stealing
 * worker threads shared by the whole process, handed out to task_arenas.
 * A program that runs work from a thread of its own (not a TBB worker)
 * enqueues it into an arena with task_arena::enqueue(), "fire and forget";
 * that is what this backend does for every submit, and it adds only the
 * bookkeeping the futures contract needs (the shared adapter core,
 * adapter-int.h). It is also the worked example of a pool written in C++:
 * the C++ stays in this file, the backend table the core sees is plain C,
 * and no exception ever crosses into C.
 *
 * DESIGN
 *
 * The arena. One task_arena per pool, of `workers` slots, none reserved for
 * external threads: only TBB worker threads run its tasks, never the caller
 * (it never calls execute() or a wait of TBB's), so at most `workers` tasks
 * run at once. Worker threads are process-wide and TBB creates at most
 * max_allowed_parallelism - 1 of them (by default one fewer than the PUs), so
 * every pool asks for workers + 1 through one process-wide global_control,
 * kept at the largest request of the pools alive (TBB would take the smallest
 * of several controls, starving the bigger pool). create() then puts one
 * start task per slot into the arena, each waiting until all have started:
 * so every slot has a thread before create returns (the threads are started
 * then, from this thread with every signal blocked, so they never take the
 * host's signals), or create fails saying how many TBB gave.
 *
 * Submit queues the future in the shared core's FIFO; each future gets one
 * task_arena::enqueue of a small functor, a token, which on a TBB worker
 * runs the oldest queued future and completes it in that thread (so
 * done-callbacks run in the worker). Tokens are chained (adapter-int.h):
 * the caller enqueues one only when fewer than `workers` wait, else the
 * token that starts before them does, from inside the arena. Tokens make
 * the start order FIFO, which an arena's enqueued tasks are not (TBB
 * spreads them over several lanes), and let a cancelled future simply be
 * skipped: TBB cannot take a task back out of an arena.
 *
 * Threads come and go. A TBB worker leaves an arena that runs dry and may
 * join another (another pool's, or the program's own); so "worker i" is slot
 * i of the arena, whichever thread fills it. Pinning is done from inside:
 * an arena observer binds a thread to slot i's PUs when it enters the arena
 * and puts back the creator's mask when it leaves, so a TBB worker never
 * carries this pool's binding into other work. The initializer runs in a
 * thread before the first task of this pool it runs there
 * (pb__adapter_initialize_lazily).
 *
 * Destroy waits until nothing is held, stops the observer (TBB waits for
 * callbacks in progress), terminates the arena and drops its request for
 * threads. TBB's worker threads outlive any arena; when no other TBB user is
 * left in the process, destroy ends them too (tbb::finalize, which joins
 * them), so nothing outlives the pool. When someone else still uses TBB
 * (another pool, the host program), they stay: they are that user's.
 *
 * Not supported (the table's `unsupported`): task_timeout (a thread cannot
 * be killed), max_tasks_per_worker (TBB never retires a thread on request),
 * worker_program (exec backend only).
 */
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <set>
#include <memory>
#include <mutex>
#include <new>

#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/task_arena.h>
#include <oneapi/tbb/task_scheduler_observer.h>
#include <oneapi/tbb/version.h>

#include "adapter-int.hpp"

#define PB__TBB_STR2(x) #x
#define PB__TBB_STR(x) PB__TBB_STR2(x)
#define PB__TBB_VERSION                                                                     \
    PB__TBB_STR(TBB_VERSION_MAJOR) "." PB__TBB_STR(TBB_VERSION_MINOR) "." PB__TBB_STR(      \
        TBB_VERSION_PATCH)

namespace {

/* ---- Threads for every pool: one global_control at the largest request ---- */

std::mutex control_mu;
std::multiset<int> *wanted;                      /* parallelism each live pool asks for */
oneapi::tbb::global_control *control;            /* at the largest of them */

/* Adds (or, with add false, removes) one pool's request. */
void request_threads(int parallelism, bool add)
{
    std::lock_guard<std::mutex> g(control_mu);
    if (!wanted)
        wanted = new std::multiset<int>;
    int before = wanted->empty() ? 0 : *wanted->rbegin();
    if (add)
        wanted->insert(parallelism);
    else
        wanted->erase(wanted->find(parallelism));
    int after = wanted->empty() ? 0 : *wanted->rbegin();
    if (after == before)
        return;
    delete control;
    control = nullptr;
    if (after)
        control = new oneapi::tbb::global_control(
            oneapi::tbb::global_control::max_allowed_parallelism, (size_t)after);
}

struct tpool;

/* Binds threads entering the arena to their slot's PUs (pinned pools). */
class binder : public oneapi::tbb::task_scheduler_observer {
  public:
    binder(oneapi::tbb::task_arena &arena, pb__adapter *core)
        : oneapi::tbb::task_scheduler_observer(arena), core_(core)
    {
    }
    /* Stops observing while this is still a binder: TBB calls the exit
     * notifications of threads still in the arena from observe(false). */
    ~binder() override { observe(false); }
    void on_scheduler_entry(bool) override
    {
        int slot = oneapi::tbb::this_task_arena::current_thread_index();
        if (slot >= 0)
            pb__adapter_bind(core_, slot % pb__adapter_workers(core_));
    }
    void on_scheduler_exit(bool) override { pb__adapter_unbind(core_); }

  private:
    pb__adapter *core_;
};

struct tpool {
    pb__adapter *core = nullptr;
    int workers = 0;
    bool requested = false;
    oneapi::tbb::task_scheduler_handle handle;
    std::unique_ptr<oneapi::tbb::task_arena> arena;
    std::unique_ptr<binder> bind;
};

/* One start task per slot: each waits until all have started (see DESIGN). */
struct start_barrier {
    std::mutex mu;
    std::condition_variable cv;
    int started = 0;
    int total = 0;
    bool give_up = false;
};

void tpool_free(tpool *p)
{
    if (!p)
        return;
    p->bind.reset(); /* waits for callbacks in progress */
    p->arena.reset();
    /* Joins TBB's threads when nobody else uses TBB; else they are theirs.
     * Before the thread request is given back: with it gone, a process
     * allowed one PU is back to oneTBB's default of no worker thread, and
     * finalize then waits for ever (yielding) for the worker it already
     * started to leave the market. */
    oneapi::tbb::finalize(p->handle, std::nothrow);
    if (p->requested)
        request_threads(p->workers + 1, false);
    pb__adapter_free(p->core);
    delete p;
}

/* A token (chained, adapter-int.h): one enqueue per task. */
int post_token(void *ud) noexcept
{
    tpool *p = static_cast<tpool *>(ud);
    try {
        pb__adapter *core = p->core;
        p->arena->enqueue([core] { pb__adapter_run_next(core); });
    } catch (...) {
        return PB_ENOMEM;
    }
    return 0;
}

int tbb_submit(void *state, pb_future *f) noexcept
{
    return pb__adapter_submit(static_cast<tpool *>(state)->core, f);
}

void tbb_shutdown(void *state, bool wait, bool cancel_futures) noexcept
{
    pb__adapter_shutdown(static_cast<tpool *>(state)->core, wait, cancel_futures);
}

void tbb_destroy(void *state) noexcept
{
    tpool *p = static_cast<tpool *>(state);
    pb__adapter_shutdown(p->core, true, false);
    tpool_free(p);
}

/* Fills every slot once (see DESIGN). Returns how many started. */
int start_slots(tpool *p)
{
    auto b = std::make_shared<start_barrier>();
    b->total = p->workers;
    for (int i = 0; i < p->workers; i++)
        p->arena->enqueue([b] {
            std::unique_lock<std::mutex> g(b->mu);
            b->started++;
            b->cv.notify_all();
            b->cv.wait(g, [&] { return b->started >= b->total || b->give_up; });
        });
    std::unique_lock<std::mutex> g(b->mu);
    b->cv.wait_for(g, std::chrono::seconds(10), [&] { return b->started >= b->total; });
    int started = b->started;
    b->give_up = true; /* the rest pass straight through when they run */
    b->cv.notify_all();
    return started;
}

int tbb_create(const pb_pool_opts *opts, void **state, int *workers) noexcept
{
    tpool *p = nullptr;
    int r;
    try {
        p = new tpool;
        p->workers = opts->workers;
        r = pb__adapter_new(opts, &p->core);
        if (r) {
            tpool_free(p);
            return r;
        }
        pb__adapter_initialize_lazily(p->core);
        pb__adapter_chain(p->core, post_token, p);
        pb_signals_blocked quiet;
        p->handle = oneapi::tbb::task_scheduler_handle(oneapi::tbb::attach{});
        request_threads(p->workers + 1, true);
        p->requested = true;
        p->arena.reset(new oneapi::tbb::task_arena(p->workers, 0));
        if (pb__adapter_pinned(p->core)) {
            p->bind.reset(new binder(*p->arena, p->core));
            p->bind->observe(true);
        }
        int started = start_slots(p);
        if (started < p->workers) {
            tpool_free(p);
            return pb_backend_error(-EAGAIN, "tbb backend: oneTBB ran %d of %d "
                                    "threads in the arena (is the process limited by a "
                                    "tbb::global_control or by OS limits?)", started,
                                    opts->workers);
        }
    } catch (const std::bad_alloc &) {
        tpool_free(p);
        return PB_ENOMEM;
    } catch (const std::exception &e) {
        tpool_free(p);
        return pb_backend_error(-EAGAIN, "tbb backend: %s", e.what());
    }
    *state = p;
    *workers = p->workers;
    return 0;
}

int tbb_binding(void *state, int worker, char *buf, size_t size) noexcept
{
    return pb__adapter_binding(static_cast<tpool *>(state)->core, worker, buf, size);
}

/* ---- The native loop (pb/backend.h): oneTBB as TBB programs use it ----
 *
 * The same arena as the adapter's (workers slots, none reserved, threads
 * asked for through global_control), fed from the caller's thread:
 * bursts with task_arena::enqueue and a counter whose last increment wakes
 * the caller; round trips with task_arena::execute, TBB's own way for a
 * thread outside the arena to run a functor there and wait for it. */

/* One request for threads, given back however the scope is left. */
class thread_request {
  public:
    explicit thread_request(int parallelism) : n_(parallelism) { request_threads(n_, true); }
    ~thread_request() { request_threads(n_, false); }

  private:
    int n_;
};

int tbb_native(const pb_pool_opts *opts, pb_native_job *job) noexcept
{
    int r = pb__native_refuse_pin("tbb", opts);
    if (r)
        return r;
    try {
        pb_signals_blocked quiet;
        oneapi::tbb::task_scheduler_handle handle(oneapi::tbb::attach{});
        thread_request threads(opts->workers + 1); /* until after finalize: see tpool_free */
        {
            pb_native::count c; /* outlives the arena's tasks: see the wait */
            oneapi::tbb::task_arena arena(opts->workers, 0);
            for (size_t i = 0; i < job->warmup; i++)
                arena.execute([] {});
            if (job->kind == PB_NATIVE_BURST) {
                pb_native::burst(job, c, [&](auto &&f) { arena.enqueue(f); });
            } else {
                for (size_t i = 0; i < job->n; i++) {
                    int64_t t0 = pb_now_ns();
                    arena.execute([job, i] { job->task(job->ud, i); });
                    job->times[i] = pb_now_ns() - t0;
                }
            }
            job->threads = opts->workers;
        }
        oneapi::tbb::finalize(handle, std::nothrow);
    } catch (const std::bad_alloc &) {
        return PB_ENOMEM;
    } catch (const std::exception &e) {
        return pb_backend_error(-EAGAIN, "tbb native loop: %s", e.what());
    }
    return 0;
}

const pb_unsupported unsupported[] = {
    {"task_timeout", "a TBB worker thread cannot be killed"},
    {"max_tasks_per_worker", "oneTBB never retires a worker thread on request"},
    {"worker_program", "it names the program an exec worker runs"},
    {nullptr, nullptr},
};

pb_backend make_backend()
{
    pb_backend b{};
    b.name = "tbb";
    b.summary = "oneTBB " PB__TBB_VERSION " task_arena::enqueue, one per task; workers are "
                "the arena's slots, filled by TBB's process-wide threads";
    b.create = tbb_create;
    b.submit = tbb_submit;
    b.shutdown = tbb_shutdown;
    b.destroy = tbb_destroy;
    b.binding = tbb_binding;
    b.native = tbb_native;
    b.native_summary = "task_arena::enqueue per task from the caller's thread; round trips "
                       "with task_arena::execute";
    b.unsupported = unsupported;
    return b;
}

} // namespace

extern "C" PB__ADAPTER_EXPORT const pb_backend pb__backend_tbb = make_backend();
