#!/usr/bin/env python3
"""A run ends soon after SIGTERM or Ctrl-C, however long the durations its
suite asks for.

    interrupt.py POOLBENCH [DATA_DIR]

For each of the thread, fork and exec backends: a `timeout` case with
T = 1 hour (its task sleeps 8 T) and a `throughput` case whose tasks spin
for 1 hour. Once the case has started, the program gets SIGTERM (to its pid
alone: worker processes see nothing) or SIGINT to its whole process group
(what Ctrl-C in a terminal sends); it must exit with 130 and write the
results file marked incomplete. "Soon" is not timed: a run that has not
ended 60 s later is a hang (before, it took 8 hours).
Exit 0 passed, 1 failed.
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading

from hardening import fail, verdict

PB = sys.argv[1]
CASES = {
    "sleep": {"name": "timeout", "params": {"timeout": "3600s", "samples": 2}},
    "spin": {"name": "throughput", "params": {"granularity": "3600s", "tasks": 2}},
}



def one(tmp, backend, what, how):
    suite = os.path.join(tmp, f"{what}.json")
    with open(suite, "w") as f:
        json.dump({"repetitions": 1, "warmup": 0, "floor": False, "scenarios": [CASES[what]]}, f)
    out = os.path.join(tmp, f"{backend}-{what}-{how}.json")
    p = subprocess.Popen([PB, "run", "--suite", suite, "--backend", backend, "--out", out],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                         start_new_session=True)
    started = threading.Event()
    lines = []

    def read():
        for line in p.stderr:
            lines.append(line)
            if "case 1/1" in line:
                started.set()
    t = threading.Thread(target=read, daemon=True)
    t.start()
    name = f"{backend} {what} ({how})"
    if not started.wait(120):
        p.kill()
        p.wait()
        fail(f"{name}: the case never started: {''.join(lines)[-500:]}")
        return
    # Let the long tasks begin.
    threading.Event().wait(1.0)
    if how == "SIGTERM":
        p.send_signal(signal.SIGTERM)
    else:
        os.killpg(p.pid, signal.SIGINT)
    try:
        rc = p.wait(60)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()
        fail(f"{name}: still running 60 s after the signal")
        return
    t.join(5)
    if rc != 130:
        fail(f"{name}: exit {rc}, want 130: {''.join(lines)[-500:]}")
        return
    try:
        with open(out) as f:
            doc = json.load(f)
        if doc["run"]["complete"] is not False:
            fail(f"{name}: the results file is not marked incomplete")
    except (OSError, ValueError, KeyError) as e:
        fail(f"{name}: no readable results file: {e}")


def main():
    with tempfile.TemporaryDirectory(prefix="pb-interrupt.") as tmp:
        for backend in ("thread", "fork", "exec"):
            for what in ("sleep", "spin"):
                for how in ("SIGTERM", "SIGINT to the group"):
                    one(tmp, backend, what, how)
    return verdict()


if __name__ == "__main__":
    sys.exit(main())
