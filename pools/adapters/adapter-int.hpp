/*
 * adapter-int.hpp — what the adapters written in C++ (tbb.cpp, asio.cpp)
 * share beyond adapter-int.h: signals blocked while a library starts its
 * threads, and the native loops' burst — job->n tasks, each handed to the
 * library by `post`, counted as they end, the last one waking the caller.
 */
#ifndef PB_ADAPTER_INT_HPP
#define PB_ADAPTER_INT_HPP

#include <atomic>
#include <condition_variable>
#include <csignal>
#include <cstddef>
#include <mutex>

#include <pb/backend.h>

#include "adapter-int.h"

/* Blocks every signal in this thread while it lives: threads a library
 * starts meanwhile inherit the mask, so they never take the host's
 * signals. */
class pb_signals_blocked {
  public:
    pb_signals_blocked() { pb__adapter_block_signals(&old_); }
    ~pb_signals_blocked() { pb__adapter_restore_signals(&old_); }
    pb_signals_blocked(const pb_signals_blocked &) = delete;
    pb_signals_blocked &operator=(const pb_signals_blocked &) = delete;

  private:
    sigset_t old_;
};

namespace pb_native {

/* Completions of a burst. It must outlive every task that may touch it:
 * declare it before the library's pool, which joins (or is finalized)
 * after the wait. */
class count {
  public:
    /* In a task, last thing: counts it; the n-th wakes the waiter. Nothing
     * of this object is read after the increment but by the n-th, so the
     * waiter may go as soon as it is woken. */
    void arrive(size_t n)
    {
        if (done_.fetch_add(1) + 1 == n) {
            std::lock_guard<std::mutex> g(mu_);
            all_ = true;
            cv_.notify_one();
        }
    }

    void wait(size_t n)
    {
        std::unique_lock<std::mutex> g(mu_);
        cv_.wait(g, [&] { return all_ || n == 0; });
    }

  private:
    std::mutex mu_;
    std::condition_variable cv_;
    std::atomic<size_t> done_{0};
    bool all_ = false;
};

/* The burst (pb/backend.h, PB_NATIVE_BURST): post(f) hands the library one
 * task, a functor. */
template <class Post>
void burst(pb_native_job *job, count &c, Post post)
{
    size_t n = job->n;
    int64_t t0 = pb_now_ns();
    for (size_t i = 0; i < n; i++)
        post([job, &c, i, n] {
            job->task(job->ud, i);
            c.arrive(n);
        });
    c.wait(n);
    job->elapsed = pb_now_ns() - t0;
}

} // namespace pb_native

#endif /* PB_ADAPTER_INT_HPP */
