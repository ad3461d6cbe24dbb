#!/usr/bin/env python3
"""Tests of `poolbench compare`, `export` and `history`, run on the built binary.

    cli_tests.py POOLBENCH DATA_DIR GROUP     (GROUP: compare, export, history, errors)

Runs in DATA_DIR (tests/data) so file names in outputs are short and stable.
Golden outputs live in DATA_DIR/golden; set PB_UPDATE_GOLDEN=1 to rewrite
them after a deliberate change, then read the diff before committing it.
Exports are checked field by field against the source file, with the
aggregates recomputed here independently. Prints 'N passed, N failed'.
"""
import csv
import io
import json
import math
import os
import subprocess
import sys
import tempfile

PB, DATA, GROUP = sys.argv[1], sys.argv[2], sys.argv[3]
GOLDEN = os.path.join(DATA, "golden")
UPDATE = os.environ.get("PB_UPDATE_GOLDEN") == "1"
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from pbcheck import check, verdict  # noqa: E402


def run(*args):
    p = subprocess.run([PB] + list(args), cwd=DATA, capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def run_in(text, *args):
    """run() with text on standard input."""
    p = subprocess.run([PB] + list(args), cwd=DATA, input=text, capture_output=True, text=True,
                       timeout=60)
    return p.returncode, p.stdout, p.stderr


def golden(name, text):
    path = os.path.join(GOLDEN, name)
    if UPDATE:
        os.makedirs(GOLDEN, exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
    try:
        with open(path) as f:
            want = f.read()
    except OSError as e:
        check(name, False, str(e))
        return
    if text != want:
        import difflib
        diff = "".join(difflib.unified_diff(want.splitlines(True), text.splitlines(True),
                                            "golden/" + name, "output"))
        check(name, False, "output differs from golden:\n" + diff[:4000])
    else:
        check(name, True)


def expect(name, args, status, golden_name=None, stdout_has=(), stderr_has=()):
    rc, out, err = run(*args)
    check(name + " exit status", rc == status,
          "got %d, want %d; stderr: %s" % (rc, status, err.strip()))
    if golden_name:
        golden(golden_name, out)
    for s in stdout_has:
        check(name + " stdout has " + repr(s), s in out, out[-2000:])
    for s in stderr_has:
        check(name + " stderr has " + repr(s), s in err, err)
    if status == 2:
        check(name + " says why in one line", err.count("\n") == 1 and err.strip() != "",
              repr(err))
    return out


def load(name):
    with open(os.path.join(DATA, name)) as f:
        return json.load(f)


def slowed_copy(doc, backend, scenario, factor):
    """doc with every time metric of one case multiplied by factor."""
    d = json.loads(json.dumps(doc))
    for c in d["results"]:
        if c["backend"] == backend and c["scenario"] == scenario:
            for m in c["metrics"].values():
                for k in ("min", "mean", "stddev", "p50", "p90", "p99", "p999", "max",
                          "ci_low", "ci_high", "mad"):
                    m[k] *= factor
                m["repetitions"] = [v * factor for v in m["repetitions"]]
                m.pop("histogram", None)
                if "ratio_to_floor" in m:  # the floor stayed: the ratio moves too
                    m["ratio_to_floor"] *= factor if m["better"] == "lower" else 1 / factor
    return d


# ---------------------------------------------------------------------------

def group_compare():
    expect("self", ["compare", "quick-base.json", "quick-base.json"], 0,
           stdout_has=["result: no regression"])
    # A session whose builds name a case differently (NEW's throughput has a
    # parameter BASE's lacks): each side's case is listed as its own, never
    # a row of zeros.
    out = expect("session, a case on one side", ["compare", "sessions/ab-one-side.json"], 0,
                 stdout_has=["only in base (not compared):\n  fork/throughput",
                             "only in new (not compared):\n  fork/throughput",
                             "result: no regression (1 metric in 1 case compared)"])
    check("session, a case on one side: no row of zeros", "0.0 tasks/s" not in out, out)
    # Which regressions gate: a case's headline metric by default, every
    # metric with --gate all. Nine pairs, every one 20% worse: p = 2/512.
    with tempfile.TemporaryDirectory() as tmp:
        def session(slow):
            s = load("sessions/ab-one-side.json")
            case = s["results"][0]  # fork/roundtrip, headline "roundtrip"
            base = [40000.0 + 500 * i for i in range(9)]
            case["metrics"] = {
                m: {"unit": "ns", "better": "lower", "base": base,
                    "new": [v * (1.2 if m == slow else 1.0) for v in base]}
                for m in ("roundtrip", "cpu_per_task")}
            s["results"] = [case]
            s["pairs"] = [dict(s["pairs"][i % 3], order="AB" if i % 2 else "BA")
                          for i in range(9)]
            s["run"]["pairs"] = 9
            path = os.path.join(tmp, slow + ".json")
            with open(path, "w") as f:
                json.dump(s, f)
            return path
        secondary, headline = session("cpu_per_task"), session("roundtrip")
        expect("session, a secondary metric 20% worse", ["compare", secondary], 0,
               stdout_has=["only a regression of its case's headline metric gates",
                           "regression (not the headline: not gating)",
                           "1 regression of metrics other than their case's headline shown"])
        expect("session, a secondary metric 20% worse, --gate all",
               ["compare", secondary, "--gate", "all"], 1,
               stdout_has=["every metric's regression gates (--gate all)",
                           "result: 1 regression"])
        out = expect("session, a secondary metric 20% worse, json",
                     ["compare", secondary, "--format", "json"], 0)
        j = json.loads(out)
        rows = {c["metric"]: c for c in j["comparisons"]}
        check("json: the secondary regression does not gate, the headline row says so",
              j["gate"] == "headline" and j["regressions"] == 0 and
              j["regressions_not_gating"] == 1 and rows["cpu_per_task"]["verdict"] ==
              "regression" and not rows["cpu_per_task"]["gates"] and
              not rows["cpu_per_task"]["headline"] and rows["roundtrip"]["headline"], out)
        expect("session, the headline 20% worse", ["compare", headline], 1,
               stdout_has=["result: 1 regression", "fork/roundtrip samples=2000 roundtrip +20.0%"])
    expect("unchanged pair", ["compare", "quick-base.json", "quick-rerun.json"], 0,
           "compare-unchanged.txt")
    out = expect("20% slowdown", ["compare", "quick-base.json", "quick-slow20.json"], 1,
                 "compare-slow20.txt")
    check("20% slowdown names the case",
          "  thread/roundtrip payload=8 roundtrip +" in out.split("result:")[1])
    expect("20% slowdown markdown",
           ["compare", "quick-base.json", "quick-slow20.json", "--format", "markdown"], 1,
           "compare-slow20.md")
    out = expect("20% slowdown json",
                 ["compare", "quick-base.json", "quick-slow20.json", "--format=json"], 1)
    j = json.loads(out)
    reg = [c for c in j["comparisons"] if c["verdict"] == "regression"]
    check("json: four regressions, all thread round trip",
          j["regressions"] == 4 and len(reg) == 4 and
          all(c["backend"] == "thread" and c["scenario"] == "roundtrip" for c in reg), out[:500])
    check("json: exact p of complete separation is 2/C(18,9)",
          all(c["exact"] is False or abs(c["p_value"] - 2 / math.comb(18, 9)) < 1e-12
              for c in reg if c["metric"] == "roundtrip"))
    check("json: 20% within a point",
          all(18 < c["change_pct"] < 22 for c in reg), str([c["change_pct"] for c in reg]))
    # A higher threshold than the change: no regression.
    expect("threshold 25%", ["compare", "quick-base.json", "quick-slow20.json",
                             "--threshold", "25"], 0, stdout_has=["result: no regression"])
    # Only the metrics asked for.
    out = expect("metric glob", ["compare", "quick-base.json", "quick-slow20.json",
                                 "--metric", "through*"], 0)
    check("metric glob keeps only throughput rows",
          "throughput" in out and "retrieval" not in out and "queueing" not in out, out)
    expect("noisy 2%", ["compare", "noisy-base.json", "noisy-new.json"], 0,
           "compare-noisy.txt")
    out = expect("too few repetitions", ["compare", "few-base.json", "few-new.json"], 0,
                 "compare-few.txt")
    check("too few repetitions said plainly",
          "thread/roundtrip payload=8" in out and "too few repetitions" in out)
    expect("check started failing", ["compare", "quick-base.json", "quick-checkfail.json",
                                      "--format", "markdown"], 1, "compare-checkfail.md",
           stdout_has=["result_matches: task 17 returned 7 bytes, expected 8"])
    # Another host: two machines, not two commits; only when asked for.
    expect("another host", ["compare", "quick-base.json", "quick-otherhost.json"], 2,
           stderr_has=["on host 'vm'", "on host 'ci-runner-3'", "two machines, not two commits",
                       "--across-hosts"])
    out = expect("environments differ", ["compare", "quick-base.json", "quick-otherhost.json",
                                         "--across-hosts"], 0, "compare-otherhost.txt",
                 stdout_has=["warning: the environments differ", "cpu_model", "kernel",
                             "build_type"])
    check("across hosts: the first line says machines, not commits",
          out.startswith("poolbench compare: two machines, not two commits (--across-hosts): "
                         "host 'vm' (base) against host 'ci-runner-3' (new)"), out[:300])
    # Cases on one side only: drop one case from a copy.
    with tempfile.TemporaryDirectory() as tmp:
        d = load("quick-base.json")
        dropped = d["results"].pop(3)
        extra = json.loads(json.dumps(d["results"][3]))
        extra["params"] = {"payload": 4096}
        d["results"].append(extra)
        p = os.path.join(tmp, "partial.json")
        with open(p, "w") as f:
            json.dump(d, f)
        out = expect("one side only", ["compare", "quick-base.json", p], 0)
        check("only in base lists the dropped case",
              "only in base (not compared):\n  %s/%s payload=8" % (dropped["backend"],
                                                                  dropped["scenario"]) in out,
              out[-800:])
        check("only in new lists the added case", "payload=4096" in out.split("only in new")[1])
        # Ten backends, every metric 20% slower: the comment stays small.
        ten = load("quick-base.json")
        pool = [c for c in ten["results"] if c["backend"] != "floor"]
        ten["results"] = [c for c in ten["results"] if c["backend"] == "floor"]
        for k in range(10):
            for c in pool:
                c2 = json.loads(json.dumps(c))
                c2["backend"] = "%s-%d" % (c["backend"], k)
                ten["results"].append(c2)
        slow = ten
        for k in range(10):
            for b in ("thread", "fork", "exec"):
                slow = slowed_copy(slow, "%s-%d" % (b, k), "roundtrip", 1.2)
                slow = slowed_copy(slow, "%s-%d" % (b, k), "throughput", 1.2)
        pt, ps = os.path.join(tmp, "ten.json"), os.path.join(tmp, "ten-slow.json")
        with open(pt, "w") as f:
            json.dump(ten, f)
        with open(ps, "w") as f:
            json.dump(slow, f)
        md = expect("ten backends markdown", ["compare", pt, ps, "--format", "markdown"], 1)
        check("ten backends: far below GitHub's 65,536 characters", len(md) < 20000, len(md))
        check("ten backends: the verdict first, the table capped",
              md.startswith("### poolbench compare: ") and "more (`--format json` has every one)"
              in md and md.count("\n| exec-") <= 60, md[:300])
        # The acceptance check: one backend's round trip 30% slower.
        s = slowed_copy(load("quick-base.json"), "fork", "roundtrip", 1.3)
        p = os.path.join(tmp, "fork-slower.json")
        with open(p, "w") as f:
            json.dump(s, f)
        out = expect("30% slower copy", ["compare", "quick-base.json", p], 1)
        res = out.split("result:")[1]
        check("30% slower copy names fork/roundtrip",
              "fork/roundtrip payload=8 roundtrip +30.0%" in res and "thread" not in res, res)


def group_history():
    expect("history thread round trip",
           ["history", "--metric", "roundtrip", "--backend", "thread", "history"], 0,
           "history-thread-roundtrip.txt",
           stdout_has=["step up +20.5% (worse)", "host vm, suite ci, workers 0, pin none"])
    out = expect("history tsv", ["history", "--format", "tsv", "--metric", "roundtrip",
                                 "--backend", "thread", "history/run-a.json", "history/run-b.json",
                                 "history/run-c.json", "history/run-d.json",
                                 "history/run-e.json"], 0, "history-thread-roundtrip.tsv")
    rows = list(csv.DictReader(io.StringIO(out), delimiter="\t"))
    check("tsv: five points in time order",
          [r["file"] for r in rows] == ["history/run-%s.json" % x for x in "ecadb"],
          str([r["file"] for r in rows]))
    check("tsv: one step, at the fourth run",
          [r["step"] for r in rows] == ["0", "0", "0", "1", "0"], str([r["step"] for r in rows]))
    for r in rows:
        src = load(r["file"])
        m = next(c for c in src["results"] if c["backend"] == "thread" and
                 c["scenario"] == "roundtrip")["metrics"]["roundtrip"]
        check("tsv p50/ci of " + r["file"],
              float(r["p50"]) == m["p50"] and float(r["ci_low"]) == m["ci_low"] and
              float(r["ci_high"]) == m["ci_high"] and int(r["n"]) == m["n"])
    out = expect("history json", ["history", "--format", "json", "history"], 0)
    j = json.loads(out)
    names = [(s["backend"], s["scenario"], s["metric"]) for s in j["series"]]
    check("json: every series of the files", len(names) == len(set(names)) and
          ("thread", "roundtrip", "roundtrip") in names and
          ("floor", "clock", "call") in names, str(names[:5]))
    s = next(s for s in j["series"] if (s["backend"], s["metric"]) == ("thread", "roundtrip"))
    check("json: steps match tsv", [p["step"] for p in s["points"]] == [0, 0, 0, 1, 0] and
          s["points"][3]["worse"] is True and 15 < s["points"][3]["step_pct"] < 25)
    check("json: params are an object", s["params"] == {"payload": 8})
    check("json: the group and distinct labels", (s["host"], s["suite"], s["workers"], s["pin"]) ==
          ("vm", "ci", 0, "none") and len({p["label"] for p in s["points"]}) == 5)
    # Runs that cannot be compared are not one series: a pinned run apart.
    with tempfile.TemporaryDirectory() as tmp:
        for x in "abcde":
            d = load("history/run-%s.json" % x)
            if x == "d":
                d["run"]["pin"] = "compact"
                d["run"]["workers"] = 2
            with open(os.path.join(tmp, "run-%s.json" % x), "w") as f:
                json.dump(d, f)
        out = expect("history keeps a pinned run apart",
                     ["history", "--format", "json", "--metric", "roundtrip", "--backend",
                      "thread", tmp], 0)
        groups = {(x["pin"], x["workers"]): [p["step"] for p in x["points"]]
                  for x in json.loads(out)["series"]}
        check("history: the pinned run is a series of its own",
              groups == {("none", 0): [0, 0, 0, 1], ("compact", 2): [0]}, groups)


def host_copy(doc, host, started_offset=0.0):
    d = json.loads(json.dumps(doc))
    d["environment"]["host"] = host
    d["run"]["started_unix"] += started_offset
    return d


def group_hosts():
    """Runs of several hosts: merge, compare host by host or across hosts,
    history per host."""
    base = load("quick-base.json")
    with tempfile.TemporaryDirectory() as tmp:
        def write(name, doc):
            p = os.path.join(tmp, name)
            with open(p, "w") as f:
                json.dump(doc, f)
            return p
        a = write("a.json", host_copy(base, "runner-a"))
        b = write("b.json", host_copy(base, "runner-b"))
        # NEW: runner-b's fork round trip 30% slower, runner-a unchanged.
        a2 = write("a2.json", host_copy(base, "runner-a", 86400))
        b2 = write("b2.json", host_copy(slowed_copy(base, "fork", "roundtrip", 1.3), "runner-b",
                                         86400))
        m1, m2 = os.path.join(tmp, "m1.json"), os.path.join(tmp, "m2.json")
        out = expect("merge two hosts", ["merge", a, b, "--out", m1], 0,
                     stdout_has=["merged 2 runs (hosts: runner-a runner-b) into"])
        expect("merge two hosts again", ["merge", b2, a2, "-o", m2], 0)
        py = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
        root = os.path.dirname(os.path.dirname(os.path.abspath(DATA)))
        p = subprocess.run([py, os.path.join(root, "tests/results/check_schema.py"),
                            os.path.join(root, "results/matrix.schema.json"), m1],
                           capture_output=True, text=True)
        check("merged file matches matrix.schema.json", p.returncode in (0, 77),
              p.stdout + p.stderr)
        mj = load(m1)
        check("merged file: each run whole, under its host",
              mj["schema"] == "poolbench-matrix/1" and mj["hosts"] == ["runner-a", "runner-b"] and
              [r["environment"]["host"] for r in mj["runs"]] == ["runner-a", "runner-b"] and
              mj["runs"][0]["results"] == load(a)["results"])
        out = expect("compare merged files", ["compare", m1, m2], 1)
        res = out.split("result:")[1]
        check("compare merged: the regression is runner-b's fork round trip only",
              "runner-b: fork/roundtrip payload=8 roundtrip +30.0% vs floor" in res and
              "runner-a" not in res, res)
        check("compare merged: says it compared each host with itself",
              "Hosts: 2, each compared with itself." in out, out[:600])
        j = json.loads(run("compare", m1, m2, "--format", "json")[1])
        check("compare merged json: host of every row", j["hosts"] == 2 and
              {c["host"] for c in j["comparisons"]} == {"runner-a", "runner-b"} and
              all(c["host"] == "runner-b" for c in j["comparisons"]
                  if c["verdict"] == "regression"))
        # A merged file against one host's file: that host only.
        out = expect("merged against one run", ["compare", m1, b2], 1)
        check("merged against one run: the other host noted",
              "host 'runner-a' only in base (not compared)" in out, out[-400:])
        # One host picked out of each merged file.
        expect("--base-host/--new-host", ["compare", m1, m2, "--base-host", "runner-a",
                                          "--new-host", "runner-a"], 0)
        # Across hosts: refused without the flag, and then said on line one.
        expect("two hosts without --across-hosts", ["compare", a, b2], 2,
               stderr_has=["two machines, not two commits"])
        out = expect("--across-hosts", ["compare", a, b2, "--across-hosts"], 1)
        check("--across-hosts: machines, not commits, first",
              out.startswith("poolbench compare: two machines, not two commits (--across-hosts): "
                             "host 'runner-a' (base) against host 'runner-b' (new)"), out[:200])
        expect("--across-hosts with a merged file", ["compare", m1, b2, "--across-hosts"], 2,
               stderr_has=["--across-hosts compares one run with one run", "holds 2"])
        expect("no host in common", ["compare", m1, write("c.json", host_copy(base, "other"))], 2,
               stderr_has=["have no host in common"])
        # Two runs of one host cannot be merged.
        expect("merge one host twice", ["merge", a, a2, "--out", os.path.join(tmp, "x.json")], 2,
               stderr_has=["both hold a run of host 'runner-a'"])
        expect("merge an A/B session", ["merge", a, os.path.join(DATA, "golden"),
                                        "--out", os.path.join(tmp, "y.json")], 2)
        # History reads merged files as their runs, one series per host.
        out = expect("history of merged files", ["history", "--format", "json", "--metric",
                                                 "roundtrip", "--backend", "fork", m1, m2], 0)
        series = json.loads(out)["series"]
        hosts = sorted(x["host"] for x in series if x["scenario"] == "roundtrip")
        check("history: one series per host", hosts == ["runner-a", "runner-b"], hosts)
        pts = {x["host"]: x["points"] for x in series if x["scenario"] == "roundtrip"}
        check("history: each host's own two points",
              all(len(p) == 2 for p in pts.values()) and
              pts["runner-a"][0]["file"] == m1 + "[runner-a]", pts)


def gb_name(c, metric):
    parts = [c["backend"], c["scenario"]]
    for k in sorted(c["params"]):
        v = c["params"][k]
        parts.append("%s:%s" % (k, v))
    return "/".join(parts + [metric])


def median(v):
    s = sorted(v)
    n = len(s)
    h = (n - 1) * 0.5
    lo = int(h)
    return s[lo] + (h - lo) * (s[min(lo + 1, n - 1)] - s[lo])


def gb_stats(v):
    """Google Benchmark's aggregates of per-repetition values (statistics.cc):
    mean, median (of two: their mean), sample stddev, cv = stddev / mean."""
    mean = sum(v) / len(v)
    sd = math.sqrt(sum((x - mean) ** 2 for x in v) / (len(v) - 1))
    return {"mean": mean, "median": median(v), "stddev": sd, "cv": sd / mean}


def close(a, b):
    return abs(a - b) <= 1e-9 * abs(b) + 1e-12


def with_payload_case(doc):
    """doc plus a payload case: a round trip per repetition and the byte
    rate measured with it (2 x size bytes per round trip)."""
    d = json.loads(json.dumps(doc))
    rt = [41000.0, 40500.0, 42000.0, 40800.0, 41200.0, 40900.0, 41500.0, 40700.0, 41100.0]
    size = 4096

    def metric(unit, better, reps):
        s = sorted(reps)
        return {"unit": unit, "better": better, "n": len(reps), "min": s[0],
                "mean": sum(reps) / len(reps), "stddev": 1.0, "p50": median(reps),
                "p90": s[-2], "p99": s[-1], "p999": s[-1], "max": s[-1], "ci_low": s[2],
                "ci_high": s[-3], "mad": 1.0, "outliers": 0, "trusted": True,
                "repetitions": reps}
    d["results"].append({
        "backend": "fork", "scenario": "payload", "headline": "roundtrip",
        "params": {"size": size}, "outcome": "ok", "reason": "",
        "metrics": {"roundtrip": metric("ns", "lower", rt),
                    "bytes_per_s": metric("bytes/s", "higher",
                                          [2 * size * 1e9 / t for t in rt])},
        "checks": [{"name": "intact", "passed": True, "reason": ""}]})
    return d


def ci_with_repetitions(m):
    """The metric's CI widened to its repetition medians' order-statistic
    interval (FORMAT.md): [m(j), m(r+1-j)], j the largest rank with binomial
    coverage >= 95% (1 for 5 repetitions or fewer)."""
    lo, hi = m["ci_low"], m["ci_high"]
    r = sorted(m["repetitions"])
    if len(r) < 2:
        return lo, hi
    n, j, cdf = len(r), 1, 0.0
    for k in range(n // 2 + 1):
        cdf += math.comb(n, k) / 2 ** n
        if cdf > 0.025:
            break
        j = k + 1
    return min(lo, r[j - 1]), max(hi, r[n - j])


def group_export():
    src = load("quick-base.json")

    out = expect("googlebench", ["export", "--format", "googlebench", "quick-base.json"], 0)
    gb = json.loads(out)
    ctx = gb["context"]
    check("gb context", ctx["date"] == src["run"]["started"] and
          ctx["host_name"] == src["environment"]["host"] and
          ctx["num_cpus"] == src["environment"]["topology"]["pus"] and
          ctx["library_build_type"] == "release" and
          ctx["load_avg"] == src["environment"]["loadavg"], str(ctx))
    by_name = {}
    for b in gb["benchmarks"]:
        by_name.setdefault(b["run_name"], []).append(b)
    want = {}
    for c in src["results"]:
        for mname, m in c["metrics"].items():
            if m["unit"] in ("ns", "tasks/s"):
                want[gb_name(c, mname)] = (c, m)
    check("gb: one family per time or task-rate metric", set(by_name) == set(want),
          str(sorted(set(by_name) ^ set(want))))
    for name, (c, m) in want.items():
        entries = by_name.get(name, [])
        rate = m["unit"] != "ns"
        t = [1e9 / v if rate else v for v in m["repetitions"]]
        its = [e for e in entries if e["run_type"] == "iteration"]
        aggs = {e["aggregate_name"]: e for e in entries if e["run_type"] == "aggregate"}
        ok = (len(its) == len(t) and
              all(close(e["real_time"], x) and e["cpu_time"] == e["real_time"]
                  and e["repetition_index"] == i and e["repetitions"] == len(t)
                  and e["time_unit"] == "ns" for i, (e, x) in enumerate(zip(its, t))))
        check("gb iterations of " + name, ok, str(its[:2]))
        exp = gb_stats(t)
        ok = set(aggs) == set(exp) and all(
            close(aggs[k]["real_time"], v) and aggs[k]["name"] == name + "_" + k and
            aggs[k]["iterations"] == len(t) for k, v in exp.items())
        check("gb aggregates of " + name, ok,
              str({k: (aggs.get(k, {}).get("real_time"), v) for k, v in exp.items()}))
        check("gb cv unit of " + name, aggs.get("cv", {}).get("aggregate_unit") == "percentage"
              and aggs.get("median", {}).get("aggregate_unit") == "time"
              and aggs.get("cv", {}).get("time_unit") == "ns")
        if rate:
            # Counters: each repetition's own rate; aggregates of the rates,
            # as Google Benchmark aggregates counters (the stddev row holds
            # the rates' standard deviation, the cv row their cv).
            rates = m["repetitions"]
            check("gb counter of the repetitions of " + name,
                  all(close(e["items_per_second"], r) for e, r in zip(its, rates)))
            cexp = gb_stats(rates)
            check("gb counter aggregates of " + name,
                  all(close(aggs[k]["items_per_second"], v) for k, v in cexp.items()),
                  str({k: (aggs[k].get("items_per_second"), v) for k, v in cexp.items()}))
        else:
            check("gb: no counter on a time without a byte rate, " + name,
                  all(not any(k.endswith("_per_second") for k in e) for e in entries))

    # A byte rate is the bytes_per_second counter of its case's time per
    # iteration (the payload round trip), never a family in ns per byte.
    with tempfile.TemporaryDirectory() as tmp:
        p = os.path.join(tmp, "payload.json")
        doc = with_payload_case(src)
        with open(p, "w") as f:
            json.dump(doc, f)
        gbp = json.loads(expect("googlebench byte rate",
                                ["export", "--format", "googlebench", p], 0))
        fam = [e for e in gbp["benchmarks"] if e["run_name"] == "fork/payload/size:4096/roundtrip"]
        case = doc["results"][-1]["metrics"]
        its = [e for e in fam if e["run_type"] == "iteration"]
        aggs = {e["aggregate_name"]: e for e in fam if e["run_type"] == "aggregate"}
        check("byte rate: no family of its own",
              not any("bytes_per_s" in e["name"] for e in gbp["benchmarks"]))
        check("byte rate: the round trip is the time per iteration",
              [e["real_time"] for e in its] == case["roundtrip"]["repetitions"], str(its[:1]))
        check("byte rate: bytes_per_second on each repetition",
              all(close(e["bytes_per_second"], b)
                  for e, b in zip(its, case["bytes_per_s"]["repetitions"])) and len(its) == 9)
        cexp = gb_stats(case["bytes_per_s"]["repetitions"])
        check("byte rate: aggregates of bytes_per_second",
              all(close(aggs[k]["bytes_per_second"], v) for k, v in cexp.items()))

        # --rows: one row per metric, unique names (github-action-benchmark's
        # googlecpp tool takes every row as a benchmark of its own).
        out = expect("googlebench --rows median",
                     ["export", "--format", "googlebench", "--rows", "median", p], 0)
        rows = json.loads(out)["benchmarks"]
        names = [r["name"] for r in rows]
        check("--rows median: unique names, aggregates only",
              len(names) == len(set(names)) and
              all(r["run_type"] == "aggregate" and r["aggregate_name"] == "median"
                  for r in rows), str(names[:4]))
        check("--rows median: one row per family", len(rows) == len(want) + 1)
        out = expect("googlebench --rows mean,median,stddev,cv",
                     ["export", "--format", "googlebench", "--rows", "mean,median,stddev,cv", p],
                     0)
        check("aggregates only: no repetition row",
              all(r["run_type"] == "aggregate" for r in json.loads(out)["benchmarks"]))

        # One repetition: no aggregates, as Google Benchmark writes none.
        one = json.loads(json.dumps(src))
        for c in one["results"]:
            for m in c["metrics"].values():
                m["repetitions"] = m["repetitions"][:1]
        p1 = os.path.join(tmp, "one.json")
        with open(p1, "w") as f:
            json.dump(one, f)
        rows = json.loads(expect("googlebench one repetition",
                                 ["export", "--format", "googlebench", "--rows", "median", p1],
                                 0))["benchmarks"]
        check("one repetition: the repetition row stands alone",
              rows and all(r["run_type"] == "iteration" for r in rows))

    for better, bigger in (("lower", False), ("higher", True)):
        out = expect("bench-custom " + better,
                     ["export", "--format", "bench-custom", "--better", better,
                      "quick-base.json"], 0)
        arr = json.loads(out)
        exp = {gb_name(c, k): m for c in src["results"] for k, m in c["metrics"].items()
               if (m["better"] == "higher") == bigger}
        check("bench-custom %s: one entry per metric of that direction" % better,
              sorted(e["name"] for e in arr) == sorted(exp))
        for e in arr:
            m = exp[e["name"]]
            lo, hi = ci_with_repetitions(m)
            half = max(m["p50"] - lo, hi - m["p50"])
            check("bench-custom " + e["name"],
                  e["unit"] == m["unit"] and e["value"] == m["p50"] and
                  e["range"].startswith("± ") and
                  abs(float(e["range"][2:]) - half) <= 1e-5 * max(1, half) and
                  ("n=%d " % m["n"]) in e["extra"] and
                  ("repetitions=%d" % len(m["repetitions"])) in e["extra"], str(e))

    out = expect("csv", ["export", "--format", "csv", "quick-base.json"], 0)
    rows = list(csv.DictReader(io.StringIO(out)))
    exp = [(c, k, m) for c in src["results"] for k, m in c["metrics"].items()]
    check("csv: one row per metric", len(rows) == len(exp), "%d vs %d" % (len(rows), len(exp)))
    for r, (c, k, m) in zip(rows, exp):
        ok = (r["backend"] == c["backend"] and r["scenario"] == c["scenario"] and
              json.loads(r["params"]) == c["params"] and r["metric"] == k and
              r["unit"] == m["unit"] and r["better"] == m["better"] and
              r["outcome"] == c["outcome"] and r["run_started"] == src["run"]["started"] and
              r["trusted"] == ("true" if m["trusted"] else "false") and
              int(r["repetitions"]) == len(m["repetitions"]) and
              all(abs(float(r[f]) - m[f]) <= 1e-12 * max(1, abs(m[f]))
                  for f in ("n", "min", "mean", "stddev", "p50", "p90", "p99", "p999", "max",
                            "ci_low", "ci_high", "mad", "outliers")) and
              (r["ratio_to_floor"] == "" if "ratio_to_floor" not in m
               else abs(float(r["ratio_to_floor"]) - m["ratio_to_floor"]) < 1e-12))
        check("csv row %s/%s %s" % (c["backend"], c["scenario"], k), ok, str(r))


def group_stdio():
    """- stands for standard input wherever a results file is read, and for
    standard output wherever one is written (report, plot: one chart)."""
    with open(os.path.join(DATA, "quick-base.json")) as f:
        base = f.read()
    for args in (["export", "--format", "csv"], ["export", "--format", "googlebench"],
                 ["history", "--format", "tsv"]):
        _, want, _ = run(*(args + ["quick-base.json"]))
        rc, out, err = run_in(base, *(args + ["-"]))
        out = out.replace("\t-\t", "\tquick-base.json\t")  # history's file column
        check(" ".join(args) + " -", rc == 0 and out == want, err)
    _, want, _ = run("compare", "quick-base.json", "quick-slow20.json")
    rc, out, err = run_in(base, "compare", "-", "quick-slow20.json")
    check("compare - NEW", rc == 1 and out.replace("'-'", "'quick-base.json'").split("\n")[3:] ==
          want.split("\n")[3:], err)
    rc, out, err = run_in(base, "report", "-", "--out", "-")
    check("report - --out -: the page on standard output",
          rc == 0 and out.startswith("<!DOCTYPE html>") and out.rstrip().endswith("</html>") and
          "data:image/svg+xml;base64," in out, (rc, err, out[:200]))
    rc, out, err = run_in(base, "plot", "-", "--chart", "latency", "--format", "svg", "--out", "-")
    check("plot - --out -: one chart on standard output",
          rc == 0 and "<svg" in out and out.rstrip().endswith("</svg>"), (rc, err))
    rc, out, err = run_in("", "export", "--format", "csv", "-")
    check("empty standard input: one line, exit 2", rc == 2 and err.count("\n") == 1, err)


def group_errors():
    # Every bad input: exit 2 and one line naming the file or option.
    cases = [
        (["compare"], "needs an A/B session (AB.json), or two results files"),
        (["compare", "quick-base.json"], "one file is compared only when it is an A/B session"),
        (["compare", "a", "b", "c"], "unexpected argument 'c'"),
        (["compare", "quick-base.json", "missing.json"], "missing.json: cannot open"),
        (["compare", "quick-base.json", "bad/truncated.json"],
         "bad/truncated.json: truncated JSON at line"),
        (["compare", "bad/schema-v2.json", "quick-base.json"],
         "bad/schema-v2.json: written by another version of poolbench: schema "
         "'poolbench-results/2'"),
        (["compare", "quick-base.json", "bad/not-results.json"],
         "bad/not-results.json: not a poolbench results file"),
        (["compare", "quick-base.json", "bad/missing-p50.json"],
         "bad/missing-p50.json: missing field 'results[4].metrics.roundtrip.p50'"),
        (["compare", "quick-base.json", "other-cases.json"], "have no case in common"),
        (["compare", "quick-base.json", "quick-base.json", "--metric", "nope"],
         "matches --metric 'nope'"),
        (["compare", "quick-base.json", "quick-base.json", "--threshold", "-1"],
         "--threshold: expected a percentage of at least 0, got '-1'"),
        (["compare", "quick-base.json", "quick-base.json", "--alpha", "2"], "--alpha: expected a number above 0 and up to 1, got '2'"),
        (["compare", "quick-base.json", "quick-base.json", "--format", "html"],
         "--format: expected text, markdown or json, got 'html'"),
        (["compare", "quick-base.json", "quick-base.json", "--threshold"], "needs a value"),
        (["compare", "--frobnicate", "quick-base.json", "quick-base.json"], "unknown option"),
        (["export", "quick-base.json"], "--format googlebench, bench-custom or csv is required"),
        (["export", "--format", "xml", "quick-base.json"], "--format: expected googlebench"),
        (["export", "--format", "csv"], "needs one results file"),
        (["export", "--format", "csv", "quick-base.json", "quick-rerun.json"],
         "unexpected argument 'quick-rerun.json'"),
        (["export", "--format", "bench-custom", "--better", "faster", "quick-base.json"],
         "--better: expected lower or higher, got 'faster'"),
        (["export", "--format", "csv", "bad/truncated.json"], "bad/truncated.json: truncated"),
        (["export", "--format", "googlebench", "--metric", "efficiency", "quick-base.json"],
         "no metric to export"),
        (["history"], "needs results files or folders"),
        (["history", "--format", "xml", "history"], "--format: expected text, tsv or json"),
        (["history", "nowhere"], "nowhere: No such file or directory"),
        (["history", "bad"], "bad/floor-kind-number.json: field"),
        (["history", "golden"], "golden: no .json file in this folder"),
        (["history", "--metric", "nope", "history"], "no series matches"),
        (["history", "--bogus", "history"], "unknown option"),
        (["env", "--bogus"], "unknown option '--bogus'"),
        (["env", "extra"], "unexpected argument 'extra'"),
    ]
    for args, msg in cases:
        expect(" ".join(args), args, 2, stderr_has=[msg])
    for cmd in ("compare", "export", "history", "env"):
        rc, out, err = run(cmd, "--help")
        check(cmd + " --help", rc == 0 and out.startswith("usage: poolbench " + cmd) and
              err == "", out[:200])


{"compare": group_compare, "export": group_export, "history": group_history,
 "stdio": group_stdio, "errors": group_errors, "hosts": group_hosts}[GROUP]()
sys.exit(verdict())
