#!/usr/bin/env python3
"""The load and nested scenarios through poolbench, end to end.

    load_e2e.py POOLBENCH PLUGIN_NOHELP CHECK_SCHEMA SCHEMA

- nested over thread, a plugin pool without help-while-waiting (nohelp) and
  fork: thread finishes (elapsed measured), nohelp is reported as `deadlock`
  with the depth where it stopped, fork is skipped (a worker process has no
  pool to submit to), and the run ends with status 0 — a deadlocked pool
  neither hangs the run nor fails it;
- load over thread with a sweep below and above capacity: every metric the
  scenario promises, offered load the asked share of the capacity measured
  in the same repetition, overload=reject turning arrivals away at a small
  cap and overload=queue holding them instead;
- the results file passes the JSON Schema (when python3-jsonschema is
  there) and the load chart is drawn (when gnuplot is).
Nothing here depends on how fast anything ran.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def run(poolbench, args, tmp):
    p = subprocess.run([poolbench] + args, capture_output=True, text=True, timeout=240, cwd=tmp)
    return p.returncode, p.stdout, p.stderr


def cases(doc, scenario):
    return [c for c in doc["results"] if c["scenario"] == scenario]


def main():
    poolbench, plugin, check_schema, schema = sys.argv[1:5]
    tmp = tempfile.mkdtemp(prefix="pbb-e2e-")
    try:
        suite = os.path.join(tmp, "suite.json")
        with open(suite, "w") as f:
            json.dump({"repetitions": 2, "warmup": 0, "floor": False, "scenarios": [
                {"name": "nested", "params": {"shape": ["fib", "tree"], "depth": 4, "cutoff": 5,
                                              "fanout": 2, "leaf": "1us", "deadline": "300ms"}},
                {"name": "load", "params": {"load": [30, 150], "duration": "20ms",
                                            "capacity": "5ms", "granularity": "50us",
                                            "cap": 8}},
                {"name": "load", "params": {"load": 150, "duration": "20ms", "capacity": "5ms",
                                            "granularity": "50us", "cap": 8,
                                            "overload": "queue", "dist": "exponential",
                                            "kind": "mix"}},
            ]}, f)
        out = os.path.join(tmp, "results.json")
        status, stdout, stderr = run(poolbench, ["run", "--load", plugin, "--backend",
                                                 "thread,nohelp,fork", "--suite", suite,
                                                 "--out", out, "--quiet"], tmp)
        if status != 0:
            fail("poolbench run exited %d\nstdout:\n%s\nstderr:\n%s" % (status, stdout, stderr))
        with open(out) as f:
            doc = json.load(f)

        nested = cases(doc, "nested")
        if len(nested) != 6:
            fail("%d nested cases, not 6" % len(nested))
        for c in nested:
            b, o = c["backend"], c["outcome"]
            if b == "thread":
                if o != "ok" or "elapsed" not in c["metrics"]:
                    fail("thread/nested: %s %s" % (o, c["reason"]))
                if c["metrics"]["elapsed"]["n"] != 2:
                    fail("thread/nested: %d repetitions" % c["metrics"]["elapsed"]["n"])
            elif b == "nohelp":
                if o != "deadlock" or not isinstance(c.get("deadlock_depth"), int):
                    fail("nohelp/nested: %s %s" % (o, json.dumps(c)))
                if not 0 <= c["deadlock_depth"] <= 4 or "deadlock at depth" not in c["reason"]:
                    fail("nohelp/nested: depth %s, reason %s" % (c["deadlock_depth"], c["reason"]))
            elif b == "fork":
                if o != "skipped" or "worker process" not in c["reason"]:
                    fail("fork/nested: %s %s" % (o, c["reason"]))
        if "deadlock: deadlock at depth" not in stdout:
            fail("the summary does not show the deadlock:\n" + stdout)

        load = [c for c in cases(doc, "load") if c["backend"] != "nohelp"]
        want = {"sojourn", "queueing", "service", "lag", "capacity", "offered", "achieved",
                "rejected", "queued", "dropped"}
        for c in load:
            if c["outcome"] != "ok":
                fail("%s/load %s: %s %s" % (c["backend"], c["params"], c["outcome"], c["reason"]))
            m = c["metrics"]
            if not want <= set(m):
                fail("%s/load lacks %s" % (c["backend"], sorted(want - set(m))))
            share = c["params"]["load"] / 100.0
            for off, cap in zip(m["offered"]["repetitions"], m["capacity"]["repetitions"]):
                if abs(off / cap - share) > 1e-3 * share:
                    fail("offered %g is not %g of capacity %g" % (off, share, cap))
            over = c["params"]["load"] > 100
            policy = c["params"]["overload"]
            rejected, queued = m["rejected"]["max"], m["queued"]["max"]
            if policy == "queue" and (rejected != 0 or (over and queued == 0)):
                fail("overload=queue: rejected %g, queued %g" % (rejected, queued))
            if policy == "reject" and queued != 0:
                fail("overload=reject queued %g" % queued)
            if policy == "reject" and over and rejected == 0:
                fail("%s: 150%% of capacity with a cap of 8 rejected nothing" % c["backend"])
            if "untrusted" in c and any(v["trusted"] for v in m.values()):
                fail("an untrusted case has trusted metrics")

        python = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
        s = subprocess.run([python, check_schema, schema, out], capture_output=True, text=True)
        if s.returncode not in (0, 77):
            fail("schema: " + s.stdout + s.stderr)

        if shutil.which("gnuplot"):
            status, stdout, stderr = run(poolbench, ["plot", out, "--chart", "load", "--out",
                                                     os.path.join(tmp, "charts")], tmp)
            if status != 0 or not os.path.getsize(os.path.join(tmp, "charts", "load.png")):
                fail("plot --chart load: %d %s" % (status, stderr))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("ok")


if __name__ == "__main__":
    main()
