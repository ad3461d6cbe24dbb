#!/usr/bin/env python3
"""The adapter tax, end to end: a run with an outside pool's cases and its
native loop's must pair them (harness/native.c) in the results file and
show the ratio in the summary; poolbench's own pools have no native loop
and are skipped with the reason, and get no ratio.

usage: native_e2e.py POOLBENCH ADAPTER
"""
import json
import os
import subprocess
import sys
import tempfile


def fail(msg):
    print("FAILED: " + msg, file=sys.stderr)
    sys.exit(1)


def main():
    poolbench, adapter = sys.argv[1], sys.argv[2]
    suite = {
        "description": "native pairing e2e",
        "repetitions": 2,
        "warmup": 0,
        "floor": False,
        "scenarios": [
            {"name": "roundtrip", "params": {"samples": 200}},
            {"name": "throughput", "params": {"granularity": "0", "tasks": 2000}},
            {"name": "map", "params": {"chunksize": 64, "tasks": 2000}},
            {"name": "native", "params": {"loop": "roundtrip", "samples": 200}},
            {"name": "native", "params": {"loop": "burst", "chunksize": [1, 64], "tasks": 2000}},
        ],
    }
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "suite.json")
        out = os.path.join(tmp, "run.json")
        with open(path, "w") as f:
            json.dump(suite, f)
        p = subprocess.run([poolbench, "run", "--suite", path, "--backend", adapter + ",thread",
                            "--quiet", "--out", out], capture_output=True, text=True)
        if p.returncode != 0:
            fail("poolbench run exited %d:\n%s%s" % (p.returncode, p.stdout, p.stderr))
        if "VS NATIVE" not in p.stdout:
            fail("the summary has no VS NATIVE column:\n" + p.stdout)
        with open(out) as f:
            doc = json.load(f)

    cases = doc["results"]

    def case(backend, scenario, **params):
        for c in cases:
            if c["backend"] == backend and c["scenario"] == scenario and all(
                    c["params"].get(k) == v for k, v in params.items()):
                return c
        fail("no %s %s %s case" % (backend, scenario, params))

    def paired(c, metric, **native_params):
        m = c["metrics"].get(metric)
        if not m:
            fail("%s %s has no metric %s" % (c["backend"], c["scenario"], metric))
        ref = m.get("native")
        if not ref or "ratio_to_native" not in m:
            fail("%s %s/%s is not paired with a native case" % (c["backend"], c["scenario"], metric))
        if ref["backend"] != c["backend"] or ref["scenario"] != "native":
            fail("%s %s/%s is paired with %s" % (c["backend"], c["scenario"], metric, ref))
        for k, v in native_params.items():
            if ref["params"].get(k) != v:
                fail("%s %s/%s: native %s is %r, expected %r" % (
                    c["backend"], c["scenario"], metric, k, ref["params"].get(k), v))
        n = case(c["backend"], "native", **ref["params"])
        want = m["p50"] / n["metrics"][ref["metric"]]["p50"]
        if abs(m["ratio_to_native"] - want) > 1e-9 * abs(want):
            fail("%s %s/%s: ratio_to_native %r, the p50s give %r" % (
                c["backend"], c["scenario"], metric, m["ratio_to_native"], want))

    paired(case(adapter, "roundtrip"), "roundtrip", loop="roundtrip")
    paired(case(adapter, "throughput"), "throughput", loop="burst", chunksize=1, granularity=0)
    paired(case(adapter, "map"), "throughput", loop="burst", chunksize=64)

    for c in cases:
        if c["backend"] != "thread":
            continue
        if c["scenario"] == "native":
            if c["outcome"] != "skipped" or "no native loop" not in c["reason"]:
                fail("thread's native case: %s (%s)" % (c["outcome"], c["reason"]))
            continue
        for name, m in c["metrics"].items():
            if "ratio_to_native" in m:
                fail("thread %s/%s has a ratio_to_native" % (c["scenario"], name))
    print("ok: %s paired with its native loop" % adapter)


if __name__ == "__main__":
    main()
