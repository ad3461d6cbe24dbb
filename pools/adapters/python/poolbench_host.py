"""The Python side of poolbench's py-* backends, in the host process.

pb-python.so (pools/adapters/python.c) embeds CPython and imports this
module once, before the first Python pool is made. It builds the pools the
C side drives (ThreadPoolExecutor, ProcessPoolExecutor, multiprocessing.Pool)
and makes the interpreter fit to live inside a host program:

- Python's threads never take the host's signals. Every thread Python
  starts here (pool workers, the executor's manager thread, queue feeder
  threads, Pool's handler threads) starts with every asynchronous signal
  blocked: the thread that starts it blocks them around the start, so the
  new thread never has a moment without. A worker process forked from such
  a thread unblocks them first thing (os.register_at_fork), and one started
  by spawn or forkserver unblocks them in the pools' initializer
  (poolbench_twins.start_worker) before any task.

- A poolbench future follows its Python future step by step. The one change
  to CPython's objects is a subclass of concurrent.futures' Future, put in
  concurrent.futures._base (where both executors make their futures), that
  knows its poolbench future (handed over by the submitting thread, see
  _poolbench.take) and hooks set_running_or_notify_cancel(), the single
  place where CPython decides that a queued future runs or, cancelled,
  is finally noticed:
    - it first asks poolbench to mark its future RUNNING; when poolbench
      cancelled it first (pb_future_cancel won), CPython cancels too, so
      exactly one side decides and both agree;
    - when CPython notices a cancel there, poolbench's pb_wait and
      as_completed notice it too, as CPython's wait() and as_completed() do
      (cancel_noticed_late in pb/backend.h).
  Completion goes through an ordinary done-callback.

- Worker processes run the real interpreter: sys.executable inside a host
  program is the host, so multiprocessing.set_executable() names the
  interpreter whose library is embedded.
"""

import concurrent.futures as _cf
import concurrent.futures._base as _base
import multiprocessing as _mp
import os
import signal
import threading

import _poolbench
import poolbench_twins as twins

# ---- Signals ----------------------------------------------------------------

# Synchronous faults stay unblocked: they are delivered to the thread that
# caused them, and blocked they would kill the process without a handler's say.
_SYNC = {signal.SIGSEGV, signal.SIGBUS, signal.SIGFPE, signal.SIGILL, signal.SIGTRAP, signal.SIGSYS}
QUIET = signal.valid_signals() - _SYNC

def _quietly(start):
    """start (threading's way to start a thread), with every asynchronous
    signal blocked around it: the new thread inherits that mask."""

    def start_quietly(*args, **kwargs):
        old = signal.pthread_sigmask(signal.SIG_BLOCK, QUIET)
        try:
            return start(*args, **kwargs)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)

    return start_quietly


# threading starts every thread through one private function: 3.13 calls it
# _start_joinable_thread, earlier versions _start_new_thread.
for _name in ("_start_joinable_thread", "_start_new_thread"):
    if hasattr(threading, _name):
        setattr(threading, _name, _quietly(getattr(threading, _name)))
        break


def _unblock_in_child():
    signal.pthread_sigmask(signal.SIG_SETMASK, ())


os.register_at_fork(after_in_child=_unblock_in_child)

# ---- Futures ---------------------------------------------------------------

_Future = _base.Future


class Future(_Future):
    """concurrent.futures.Future that keeps a poolbench future in step."""

    def __init__(self):
        super().__init__()
        self._pb = _poolbench.take()  # None for futures poolbench did not submit

    def set_running_or_notify_cancel(self):
        pb = self._pb
        if pb is not None and not pb.running():
            _Future.cancel(self)  # poolbench cancelled it first: CPython follows
        running = _Future.set_running_or_notify_cancel(self)
        if not running and pb is not None:
            pb.noticed()
        return running


_base.Future = Future

# ---- Worker processes ----------------------------------------------------------

START_METHODS = ("fork", "forkserver", "spawn")


def setup(executable):
    """Once, at start: the interpreter worker processes run; extra twins."""
    _mp.set_executable(executable)
    twins._load_extra()


def _context(method):
    ctx = _mp.get_context(method)
    if method == "forkserver":
        # Start the server (and the resource tracker) from this thread, the
        # host's, whose signal mask it keeps: started from one of Python's
        # threads it would block SIGCHLD and never reap a worker.
        from multiprocessing import forkserver

        forkserver.ensure_running()
    return ctx


# ---- The pools ---------------------------------------------------------------


def thread_pool(workers, cpus, init, init_arg):
    spec = ("thread", cpus, [0, threading.Lock()], init, init_arg)
    return _cf.ThreadPoolExecutor(
        max_workers=workers, initializer=twins.start_worker, initargs=(spec,)
    )


def process_pool(workers, method, cpus, init, init_arg, max_tasks, slots):
    """slots: where the pool's slot table is (poolbench_twins._Slots)."""
    return _cf.ProcessPoolExecutor(
        max_workers=workers,
        mp_context=_context(method),
        initializer=twins.start_worker,
        initargs=(("process", cpus, slots, init, init_arg),),
        max_tasks_per_child=max_tasks or None,
    )


def mp_pool(workers, method, cpus, init, init_arg, max_tasks, slots):
    return _context(method).Pool(
        processes=workers,
        initializer=twins.start_worker,
        initargs=(("process", cpus, slots, init, init_arg),),
        maxtasksperchild=max_tasks or None,
    )
