"""Python twins of poolbench's tasks, and what runs around them in a worker.

poolbench tasks are C functions found by name; Python's pools run Python
callables. For every task the py-* backends can run there is a twin here
(or in a file named in POOLBENCH_PYTHON_TWINS): a function of one bytes
argument that returns the same bytes its C twin returns, and fails the way
it fails, so a scenario's checks hold unchanged. A task without a twin is
refused at submit (PB_ENOTSUP, naming it).

    @twin("echo")
    def echo(arg):
        return arg

A twin returns bytes (None: an empty result) or raises. TaskFailed(code,
message) is pb_task_fail(): the future fails with PB_ETASK, that task code
and exactly that message. Any other exception also fails it with PB_ETASK,
task code 0 and "TypeName: message".

Timing. @twin wraps the function so that it timestamps itself inside the
callable, on CLOCK_MONOTONIC (time.monotonic_ns(), the clock pb_now_ns()
reads, the same in every process of the machine): it returns
(started, ended, result), and an exception leaves them in e.pb_times. So a
Python pool's round trip splits into queueing, run and retrieval exactly as
a C pool's does.

This module is imported by worker processes (the real interpreter, started
by spawn or forkserver, unpickles these functions by reference), so it
imports nothing from poolbench's C side and only the standard library.
"""

import errno
import os
import struct
import sys
import threading
import time

_ns = time.monotonic_ns

TWINS = {}  # task name -> the wrapped twin


class TaskFailed(Exception):
    """pb_task_fail(): the future fails with PB_ETASK, task code `code` and
    exactly `message` (str, or bytes taken as they are)."""

    def __init__(self, code, message):
        super().__init__(code, message)
        self.code = code
        self.message = message

    def __str__(self):
        m = self.message
        return m.decode("utf-8", "replace") if isinstance(m, bytes) else str(m)


def twin(name):
    """Registers the decorated function as the twin of poolbench task `name`."""

    def register(fn):
        def timed(arg):
            t0 = _ns()
            try:
                r = fn(arg)
            except BaseException as e:
                e.pb_times = (t0, _ns())
                raise
            return (t0, _ns(), r)

        timed.__name__ = fn.__name__
        timed.__qualname__ = fn.__qualname__
        timed.__module__ = fn.__module__
        timed.__doc__ = fn.__doc__
        timed.raw = fn
        TWINS[name] = timed
        return timed

    return register


# ---- In the worker: start, chunks, tracking --------------------------------

# What the worker start left for later tasks of this worker (thread or process).
_local = threading.local()
_proc = {"slot": -1, "started": None}


def _alive(pid):
    """Whether process pid exists and has not exited (a zombie has)."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            stat = f.read()
    except OSError:
        return False
    state = stat[stat.rfind(b")") + 2:stat.rfind(b")") + 3]
    return state not in (b"Z", b"X", b"")


class _Slots:
    """A process pool's shared slot table, in memory the host's pool owns (a
    memfd, opened here through /proc/<host>/fd/<n>, so fork, forkserver and
    spawn workers all reach it). int64 words: the pid owning each worker
    slot; then, for py-mp, the poolbench future each slot last started, and
    a ring of the futures of slots taken over from dead owners (word 0
    counts them, (future, pid) pairs follow)."""

    def __init__(self, host_pid, fd, workers, track, pairs):
        import mmap

        self.fd = os.open("/proc/%d/fd/%d" % (host_pid, fd), os.O_RDWR | os.O_CLOEXEC)
        size = 8 * (workers + (workers + 1 + 2 * pairs if track else 0))
        words = memoryview(mmap.mmap(self.fd, size)).cast("q")
        self.pids = words[:workers]
        self.started = words[workers:2 * workers] if track else None
        self.orphans = words[2 * workers:] if track else None

    def claim(self):
        """Takes the first slot whose owner is gone (and, py-mp, moves the
        future that owner last started into the orphans ring)."""
        import fcntl

        me, pids = os.getpid(), self.pids
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        try:
            for i in range(len(pids)):
                owner = pids[i]
                if owner == 0 or not _alive(owner):
                    if self.started is not None and owner != 0 and self.started[i] != 0:
                        orphans = self.orphans
                        k = 1 + 2 * (orphans[0] % ((len(orphans) - 1) // 2))
                        orphans[k], orphans[k + 1] = self.started[i], owner
                        orphans[0] += 1
                        self.started[i] = 0
                    pids[i] = me
                    return i
            return me % len(pids)
        finally:
            fcntl.flock(self.fd, fcntl.LOCK_UN)


def start_worker(spec):
    """The initializer of every py-* pool: runs first in each worker.

    spec = (kind, cpus, slots, init, init_arg):
      kind      "thread" or "process";
      cpus      None, or per worker slot the CPUs to bind it to (--pin);
      slots     thread pools: [next index, lock]; process pools: where the
                slot table is, (host pid, fd, workers, track, pairs) (see
                _Slots; with track, py-mp's record of started futures);
      init      the twin of the pool's initializer task, or None;
      init_arg  its argument.
    """
    kind, cpus, slots, init, init_arg = spec
    if kind == "process":
        # A worker started from one of Python's threads in the host process
        # inherited its fully blocked signal mask; a worker process takes
        # signals again (terminate() sends SIGTERM).
        import signal

        signal.pthread_sigmask(signal.SIG_SETMASK, ())
        table = _Slots(*slots)
        slot = table.claim()
        _proc["slot"] = slot
        _proc["started"] = table.started
    else:
        with slots[1]:
            slot = slots[0]
            slots[0] += 1
    if cpus:
        os.sched_setaffinity(0, cpus[slot % len(cpus)])
    if init is not None:
        init.raw(init_arg)


def run_tracked(fid, fn, arg):
    """py-mp: records that this worker started poolbench future fid, then
    runs the twin fn (a dead worker's last task is known at shutdown)."""
    started = _proc["started"]
    if started is not None:
        started[_proc["slot"]] = fid
    return fn(arg)


def run_chunk(fn, items):
    """A map chunk (pb_map's unit of work): the twin fn over every item, as
    Executor.map's chunks run. Returns (started, ended, [(code, task_code,
    bytes)]): code 0 and the result, or PB_ETASK (-1001) and the message."""
    raw = fn.raw
    out = []
    t0 = _ns()
    for x in items:
        try:
            r = raw(x)
            out.append((0, 0, b"" if r is None else r))
        except TaskFailed as e:
            m = e.message
            out.append((-1001, e.code, m if isinstance(m, bytes) else str(m).encode()))
        except Exception as e:
            out.append((-1001, 0, ("%s: %s" % (type(e).__name__, e)).encode()))
    return (t0, _ns(), out)


# ---- Twins of the scenarios' workloads (bench/workloads.c) -----------------

EINVAL = errno.EINVAL


def _ns_arg(who, arg):
    if len(arg) != 8:
        raise TaskFailed(
            EINVAL, "%s: argument must be an int64_t of nanoseconds (%d bytes given)" % (who, len(arg))
        )
    (ns,) = struct.unpack("=q", arg)
    if ns < 0:
        raise TaskFailed(EINVAL, "%s: negative duration %d ns" % (who, ns))
    return ns


def _spin_for(ns):
    end = _ns() + ns
    while _ns() < end:
        pass


@twin("noop")
def noop(arg):
    return None


@twin("spin")
def spin(arg):
    _spin_for(_ns_arg("spin", arg))
    return arg


@twin("sleep")
def sleep(arg):
    end = _ns() + _ns_arg("sleep", arg)
    while True:
        left = end - _ns()
        if left <= 0:
            return arg
        time.sleep(left / 1e9)


@twin("echo")
def echo(arg):
    return arg


_FNV_OFFSET = 14695981039346656037
_FNV_PRIME = 1099511628211
_MASK64 = (1 << 64) - 1


def fnv1a(data):
    h = _FNV_OFFSET
    for b in data:
        h = ((h ^ b) * _FNV_PRIME) & _MASK64
    return h


@twin("checksum")
def checksum(arg):
    return struct.pack("=Q", fnv1a(arg))


@twin("fail")
def fail(arg):
    code = 1
    if len(arg) == 4:
        (code,) = struct.unpack("=i", arg)
    elif len(arg) != 0:
        raise TaskFailed(EINVAL, "fail: argument must be an int32_t code (%d bytes given)" % len(arg))
    raise TaskFailed(code, "workload 'fail' failed on purpose with code %d" % code)


_libc = None


def _sched_getcpu():
    """The CPU this thread runs on: Python's os module has no sched_getcpu."""
    global _libc
    try:
        if _libc is None:
            import ctypes

            _libc = ctypes.CDLL(None, use_errno=True)
        return _libc.sched_getcpu()
    except (OSError, AttributeError):
        return -1


@twin("report")
def report(arg):
    pid, tid, now = os.getpid(), threading.get_native_id(), _ns()
    cpu = _sched_getcpu()
    if len(arg) == 8:
        (ns,) = struct.unpack("=q", arg)
        _spin_for(ns)
        cpu = _sched_getcpu()
    return struct.pack("=iiiiq", cpu, pid, tid, 0, now)


@twin("crash")
def crash(arg):
    how = arg.decode("ascii", "replace") if 0 < len(arg) < 16 else ""
    import resource
    import signal

    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a report, not a core file
    if how == "segv":
        try:
            signal.signal(signal.SIGSEGV, signal.SIG_DFL)
        except ValueError:  # not the main thread
            pass
        import ctypes

        ctypes.string_at(0)  # a real invalid access, as the C twin's
        os.kill(os.getpid(), signal.SIGSEGV)
    elif how == "abort":
        os.abort()
    elif how == "exit":
        os._exit(3)
    raise TaskFailed(EINVAL, 'crash: argument must be "segv", "abort" or "exit"')


@twin("hang")
def hang(arg):
    while True:
        time.sleep(3600)


def _load_extra():
    """Twins of tasks defined outside poolbench's library (the conformance
    suite's, a user's): POOLBENCH_PYTHON_TWINS lists .py files, separated by
    ':'. Each is imported by its file name from its own folder (put on
    sys.path, which worker processes inherit), so its functions pickle by
    reference like these."""
    import importlib

    for path in filter(None, os.environ.get("POOLBENCH_PYTHON_TWINS", "").split(os.pathsep)):
        folder, name = os.path.split(os.path.abspath(path))
        mod = name[:-3] if name.endswith(".py") else name
        if folder not in sys.path:
            sys.path.append(folder)
        importlib.import_module(mod)
