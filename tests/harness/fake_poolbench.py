#!/usr/bin/env python3
"""A stand-in for a poolbench program, for the tests of `poolbench ab` and
`calibrate`: answers `run ... --out FILE` with a results file made from a
fixture, without measuring anything, so a session's verdict is known in
advance.

    fake_poolbench.py --side base|new CONFIG.json run [poolbench run options]

CONFIG.json (written by the test):
    fixture   a results file to start from (tests/data/quick-base.json)
    log       a file each run appends "<side> <pair>" to (the order of runs)
    noise     each value is multiplied by 1 + noise * u, u in [-1, 1] drawn
              from a generator seeded by the run's number and the metric
    slower    {side: {"backend/scenario/metric": factor}}: values multiplied
    fail_check {side: "backend/scenario/check"}: that check fails
    exit      {side: [run number, status, message]}: that run fails so
    sleep     seconds to wait before writing (a run long enough to signal)
On SIGTERM or SIGINT it exits 130 without writing, as an interrupted run
whose case had not finished.
"""
import json
import os
import random
import signal
import sys
import time

side, config_path = sys.argv[2], sys.argv[3]
args = sys.argv[4:]
assert args[0] == "run", args
out = args[args.index("--out") + 1]
with open(config_path) as f:
    cfg = json.load(f)

signal.signal(signal.SIGTERM, lambda *_: sys.exit(130))
signal.signal(signal.SIGINT, lambda *_: sys.exit(130))

# This run's number: how many runs the log holds so far.
with open(cfg["log"], "a+") as f:
    f.seek(0)
    n = len(f.read().splitlines())
    f.write("%s %s\n" % (side, " ".join(args[1:])))

bad = cfg.get("exit", {}).get(side)
if bad and bad[0] == n:
    sys.stderr.write(bad[2] + "\n")
    sys.exit(bad[1])

time.sleep(cfg.get("sleep", 0))

with open(cfg["fixture"]) as f:
    doc = json.load(f)
rng = random.Random(n)
slower = cfg.get("slower", {}).get(side, {})
for c in doc["results"]:
    for name, m in sorted(c["metrics"].items()):
        key = "%s/%s/%s" % (c["backend"], c["scenario"], name)
        k = (1 + cfg.get("noise", 0) * (2 * rng.random() - 1)) * slower.get(key, 1.0)
        m["p50"] *= k
        m["repetitions"] = [v * k for v in m["repetitions"]]
    fail = cfg.get("fail_check", {}).get(side, "")
    for ck in c["checks"]:
        if fail == "%s/%s/%s" % (c["backend"], c["scenario"], ck["name"]):
            ck["passed"] = False
            ck["reason"] = "planted by the test"
            c["outcome"] = "failed"
doc["run"]["command"] = "fake " + " ".join(args)
doc["environment"]["git_revision"] = side
tmp = out + ".tmp"
with open(tmp, "w") as f:
    json.dump(doc, f)
os.rename(tmp, out)
