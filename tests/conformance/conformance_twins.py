"""Python twins of the conformance suite's tasks (tasks.c), for the py-*
backends: each returns the bytes its C twin returns and fails as it fails.
The runner names this file in POOLBENCH_PYTHON_TWINS (poolbench_twins.py
says how twins are written and found)."""

import os
import signal
import struct
import threading
import time

from poolbench_twins import TaskFailed, twin

GATE_GIVE_UP_NS = 120 * 1000 * 1000 * 1000
PATH_MAX = 4096

_tl = threading.local()  # per worker thread; in a worker process, per process


@twin("conf_noop")
def conf_noop(arg):
    return None


@twin("conf_echo")
def conf_echo(arg):
    return arg


@twin("conf_sleep_ns")
def conf_sleep_ns(arg):
    if len(arg) != 8:
        raise TaskFailed(1, "conf_sleep_ns: argument of %d bytes" % len(arg))
    time.sleep(struct.unpack("=q", arg)[0] / 1e9)
    return arg


@twin("conf_fail")
def conf_fail(arg):
    if len(arg) < 4:
        raise TaskFailed(1, "conf_fail: argument of %d bytes" % len(arg))
    (code,) = struct.unpack("=i", arg[:4])
    raise TaskFailed(code, arg[4:].split(b"\0")[0])  # "%.*s": up to a NUL


@twin("conf_whoami")
def conf_whoami(arg):
    return struct.pack(
        "=qqqQ",
        os.getpid(),
        threading.get_native_id(),
        getattr(_tl, "init_runs", 0),
        getattr(_tl, "init_value", 0),
    )


def _gate_wait(arg):
    """conf_gate's body (tasks.c: gate_wait)."""
    if len(arg) == 0 or len(arg) >= PATH_MAX:
        raise TaskFailed(1, "conf_gate: argument of %d bytes" % len(arg))
    path = arg
    seq = getattr(_tl, "gate_seq", 0)
    _tl.gate_seq = seq + 1
    marker = b"%s.started.%d.%d.%d" % (path, os.getpid(), threading.get_native_id(), seq)
    try:
        os.close(os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600))
    except OSError:
        pass
    give_up = time.monotonic_ns() + GATE_GIVE_UP_NS
    while not os.access(path, os.F_OK):
        if time.monotonic_ns() > give_up:
            raise TaskFailed(2, b"conf_gate: %s never opened" % path)
        time.sleep(200e-6)
    return None


@twin("conf_gate")
def conf_gate(arg):
    return _gate_wait(arg)


@twin("conf_gate_then_die")
def conf_gate_then_die(arg):
    _gate_wait(arg)
    os.kill(os.getpid(), signal.SIGKILL)


@twin("conf_item")
def conf_item(arg):
    if len(arg) != 12:
        raise TaskFailed(1, "conf_item: argument of %d bytes" % len(arg))
    index, flags, delay_us = struct.unpack("=III", arg)
    if flags & 2:
        time.sleep(delay_us / 1e6)
    if flags & 1:
        raise TaskFailed(index, "item %d failed" % index)
    return struct.pack("=Q", index)


@twin("conf_init")
def conf_init(arg):
    if len(arg) != 8:
        raise TaskFailed(1, "conf_init: argument of %d bytes" % len(arg))
    _tl.init_runs = getattr(_tl, "init_runs", 0) + 1
    (_tl.init_value,) = struct.unpack("=Q", arg)


@twin("conf_init_fail")
def conf_init_fail(arg):
    raise TaskFailed(77, "conf_init_fail refuses")


@twin("conf_return_twice")
def conf_return_twice(arg):
    return b"second"  # the later pb_task_return() replaces the earlier


_BIG_PERIOD = bytes((i * 31 + 7) & 0xFF for i in range(256))


@twin("conf_big")
def conf_big(arg):
    if len(arg) != 8:
        raise TaskFailed(1, "conf_big: argument of %d bytes" % len(arg))
    (n,) = struct.unpack("=Q", arg)
    return (_BIG_PERIOD * (n // 256 + 1))[:n]  # byte i is (i * 31 + 7) & 0xff


@twin("conf_affinity")
def conf_affinity(arg):
    cpus = sorted(os.sched_getaffinity(0))
    parts, i = [], 0
    while i < len(cpus):
        j = i
        while j + 1 < len(cpus) and cpus[j + 1] == cpus[j] + 1:
            j += 1
        parts.append(str(cpus[i]) if i == j else "%d-%d" % (cpus[i], cpus[j]))
        i = j + 1
    return ",".join(parts).encode() + b"\0"
