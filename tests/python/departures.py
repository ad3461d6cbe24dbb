#!/usr/bin/env python3
"""Documented departures end to end: Python's pools fail the faults and
cancel checks by their own design, and poolbench records the failure as
it is (outcome failed, Python's error in the reason) with the backend's
`departure` note, without failing the run. A check no backend documents
still fails it, and a check without evidence either way fails no backend.

    departures.py POOLBENCH INLINE_PLUGIN

INLINE_PLUGIN is the test backend that runs each task inside pb_submit
(tests/harness/plugin_inline.c): it fails the cancel check as py-mp does,
but documents nothing, so its run must exit 1.

Exit 0 passed, 1 failed.
"""
import json
import os
import subprocess
import sys
import tempfile

POOLBENCH, PLUGIN = sys.argv[1], sys.argv[2]
failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL: " + msg)


def run(tmp, name, scenarios, backends, extra=()):
    suite = os.path.join(tmp, name + ".json")
    with open(suite, "w") as f:
        json.dump({"repetitions": 1, "warmup": 0, "floor": False, "scenarios": scenarios}, f)
    out = os.path.join(tmp, name + "-out.json")
    r = subprocess.run([POOLBENCH, "run", *extra, "--suite", suite, "--backend", backends,
                        "--quiet", "--out", out], capture_output=True, text=True, timeout=600)
    with open(out) as f:
        return r, json.load(f)


def case(doc, backend, scenario):
    for c in doc["results"]:
        if c["backend"] == backend and c["scenario"] == scenario:
            return c
    return None


with tempfile.TemporaryDirectory(prefix="pb-departures.") as tmp:
    r, doc = run(tmp, "documented",
                 [{"name": "faults", "params": {"fault": "segv", "samples": 1}},
                  {"name": "cancel", "params": {"backlog": 20, "hold": "20ms"}}],
                 "py-process,py-mp")
    if r.returncode != 0:
        fail(f"documented departures only: exit {r.returncode}, want 0; stderr {r.stderr!r}")
    for backend, scenario, said in (("py-process", "faults", "BrokenProcessPool"),
                                    ("py-mp", "faults", "never noticed"),
                                    ("py-mp", "cancel", "could be cancelled")):
        c = case(doc, backend, scenario)
        if c is None:
            fail(f"{backend} {scenario}: no case")
            continue
        if c["outcome"] != "failed":
            fail(f"{backend} {scenario}: outcome {c['outcome']!r}, want 'failed' (recorded as it is)")
        if said not in c["reason"]:
            fail(f"{backend} {scenario}: reason {c['reason']!r} lacks {said!r}")
        if not c.get("departure"):
            fail(f"{backend} {scenario}: no departure note")
    if "FAILED (documented)" not in r.stdout:
        fail("the summary does not mark the documented failures")

    # The same check failed by a backend that documents nothing fails the run.
    r, doc = run(tmp, "undocumented", [{"name": "cancel", "params": {"backlog": 20, "hold": "20ms"}}],
                 "inline", ("--load", PLUGIN))
    c = case(doc, "inline", "cancel")
    if r.returncode != 1:
        fail(f"an undocumented failed check: exit {r.returncode}, want 1")
    if c is None or c["outcome"] != "failed" or "departure" in c:
        fail(f"inline cancel: want failed without a departure note, got {c!r}")

    # A cancel check that cannot be judged is not failed: queueing 1000
    # futures on py-thread (some 15 us each, behind the GIL) outlasts a 1 ms
    # hold, so the workers are free again before the first cancel, as on a
    # loaded machine with the default hold.
    r, doc = run(tmp, "unjudged", [{"name": "cancel", "params": {"backlog": 1000, "hold": "1ms"}}],
                 "py-thread")
    if r.returncode != 0:
        fail(f"cancel with a 1 ms hold: exit {r.returncode}, want 0; stderr {r.stderr!r}")
    # Passed either way: not judged, or (if this process was descheduled
    # long enough that the holders were already done, which reads as a pool
    # running them inside submit) judged on futures py-thread still held.
    c = case(doc, "py-thread", "cancel")
    ck = [k for k in (c or {}).get("checks", []) if k["name"] == "cancelled_some"]
    if c is None or c["outcome"] != "ok" or not ck or not ck[0]["passed"]:
        fail("py-thread cancel with a 1 ms hold: want ok, cancelled_some passed; got %r"
             % ((c or {}).get("checks"),))

print("%d failure(s)" % len(failures))
sys.exit(1 if failures else 0)
