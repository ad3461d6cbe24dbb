"""Python twins of the tasks test_python.c defines, for what only a Python
pool can show: an exception of any type, where a worker process runs, what
signals its threads block. (pyt_no_twin has none, on purpose.)"""

import os

from poolbench_twins import twin


@twin("pyt_raise")
def pyt_raise(arg):
    raise ValueError("bad value %d" % len(arg))


@twin("pyt_exe")
def pyt_exe(arg):
    """The program the worker runs, and its start method."""
    import multiprocessing

    return ("%s %s" % (os.readlink("/proc/self/exe"), multiprocessing.get_start_method(True))).encode()


@twin("pyt_sigblk")
def pyt_sigblk(arg):
    """The calling thread's blocked signals, as /proc says (hex)."""
    with open("/proc/thread-self/status") as f:
        for line in f:
            if line.startswith("SigBlk:"):
                return line.split()[1].encode()
    return b""
