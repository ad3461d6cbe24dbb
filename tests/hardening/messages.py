#!/usr/bin/env python3
"""Messages that say what is wrong, and nothing printed before a failure.

    messages.py POOLBENCH DATA_DIR      (DATA_DIR: tests/data)

- export of repetitions [1e300, -1e300] (whose stddev overflows): exit 2,
  one line naming the case and the metric, not "out of memory", nothing on
  standard output; csv with nothing to export prints no header.
- A suite value "0x10ms" (strtod reads hex), "3153600000s" and a sweep of
  1000 x 1000 x 1000: exit 2 before anything runs, naming the file and the
  field.
- An empty PB_EXEC_WORKER= in the environment does not break a fork run
  (the exec backend marks its workers with exactly "1", which is refused).
Exit 0 passed, 1 failed.
"""
import json
import os
import subprocess
import sys
import tempfile

from hardening import check_refused, fail, verdict

PB, DATA = sys.argv[1], sys.argv[2]



def run(args, env=None, timeout=120):
    e = dict(os.environ)
    e.update(env or {})
    try:
        return subprocess.run([PB] + args, capture_output=True, text=True, timeout=timeout,
                              env=e)
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(args, -1, "", f"still running after {timeout} s\n")


def refused(name, args, says, not_says=None):
    r = run(args)
    check_refused(name, r.returncode, r.stdout, r.stderr, says)
    if not_says and not_says in r.stderr:
        fail(f"{name}: says {not_says!r}: {r.stderr.strip()!r}")


def main():
    with tempfile.TemporaryDirectory(prefix="pb-messages.") as tmp:
        with open(os.path.join(DATA, "quick-base.json")) as f:
            doc = json.load(f)
        for c in doc["results"]:
            for m in c["metrics"].values():
                m["repetitions"] = [1e300, -1e300]
        huge = os.path.join(tmp, "huge.json")
        with open(huge, "w") as f:
            json.dump(doc, f)
        refused("export googlebench of overflowing repetitions",
                ["export", "--format", "googlebench", huge], "is not a finite number",
                not_says="out of memory")
        refused("export csv with nothing to export",
                ["export", "--format", "csv", "--metric", "nomatch", huge], "no metric to export")

        def suite(name, params):
            p = os.path.join(tmp, name)
            with open(p, "w") as f:
                json.dump({"floor": False, "scenarios": [params]}, f)
            return p
        refused("suite 0x10ms", ["run", "--suite", suite("hex.json", {
            "name": "timeout", "params": {"timeout": "0x10ms"}})],
            "hex.json: scenarios[0].params.timeout: expected a duration")
        refused("suite 3153600000s", ["run", "--suite", suite("century.json", {
            "name": "timeout", "params": {"timeout": "3153600000s"}})],
            "century.json: scenarios[0].params.timeout: must be at most 3600s")
        values = ",".join(str(i) for i in range(1, 1001))
        durations = ",".join(f"{i}us" for i in range(1, 1001))
        refused("suite 1000 x 1000 x 1000", ["run", "--suite", suite("sweep.json", {
            "name": "throughput",
            "params": {"tasks": values, "granularity": durations, "work": durations}})],
            "sweep.json: scenarios[0].params: sweeps over granularity (1000 values) x tasks")

        s = suite("one.json", {"name": "roundtrip", "params": {"samples": 10}})
        args = ["run", "--suite", s, "--backend", "fork", "--repetitions", "1", "--warmup", "0",
                "--quiet", "--out", os.path.join(tmp, "out.json")]
        r = run(args, env={"PB_EXEC_WORKER": ""})
        if r.returncode != 0:
            fail(f"fork run with PB_EXEC_WORKER= : exit {r.returncode}: {r.stderr.strip()!r}")
        r = run(args, env={"PB_EXEC_WORKER": "1"})
        if r.returncode != 2 or "exec worker" not in r.stderr:
            fail(f"fork run with PB_EXEC_WORKER=1: exit {r.returncode}: {r.stderr.strip()!r}")

    return verdict()


if __name__ == "__main__":
    sys.exit(main())
