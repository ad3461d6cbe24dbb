#!/usr/bin/python3
"""Our exports read by the real tools CI jobs feed them to.

    ci_tools.py POOLBENCH DATA_DIR GROUP [GB_REFERENCE]

GROUP:
  reference   Google Benchmark itself (gbench_reference, built against
              Debian's libbenchmark) runs repetitions whose times, items and
              bytes are set in advance; a results file holding the same
              per-repetition values is exported as googlebench, and every
              row we write must say what Google Benchmark wrote: the
              repetitions' times and counters, and the mean, median, stddev
              and cv rows of both.
  compare     Google Benchmark's own tools/compare.py (Debian's
              libbenchmark-tools) over two of our exports, a base and one
              with a task rate and a payload round trip 30% slower: what it
              prints (time columns of the byte-rate family in ns per round
              trip, not zeros; the U test's p-values, as SciPy computes them
              from our repetitions; the aggregate rows) and the counters of
              the rows it loads (its own loader, gbench.util).
  gab         github-action-benchmark's documented input formats
              (README.md of benchmark-action/github-action-benchmark): the
              custom tools' array of {name, unit, value[, range][, extra]},
              names unique per file, the two directions apart; the googlecpp
              tool's rows with --rows median, names unique; and
              results/CI.md's workflow, whose two custom steps must have
              different `name:` settings (the action keys stored results by
              it: the same name makes the second step compare against the
              first step's entries, and no alert fires).

Runs /usr/bin/python3 (Debian's scipy, numpy and yaml). Exit 0 when every
check passed, 1 otherwise, 77 (ctest's skip) when a tool is missing.
"""
import json
import math
import os
import re
import subprocess
import sys
import tempfile

PB, DATA, GROUP = sys.argv[1], sys.argv[2], sys.argv[3]
GB_REFERENCE = sys.argv[4] if len(sys.argv) > 4 else None
COMPARE_PY = "/usr/share/benchmark/compare.py"
SOURCE = os.path.dirname(os.path.dirname(os.path.abspath(DATA)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from pbcheck import check, verdict  # noqa: E402


def close(a, b, rel=1e-9):
    return abs(a - b) <= rel * abs(b) + 1e-12


def skip(why):
    print("SKIP: " + why)
    sys.exit(77)


def poolbench(*args):
    p = subprocess.run([PB] + list(args), capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        print("FAIL poolbench %s: exit %d: %s" % (" ".join(args), p.returncode, p.stderr))
        sys.exit(1)
    return p.stdout


def median(v):
    s = sorted(v)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def metric(unit, better, reps):
    s = sorted(reps)
    return {"unit": unit, "better": better, "n": 100 * len(reps), "min": s[0],
            "mean": sum(reps) / len(reps), "stddev": 1.0, "p50": median(reps), "p90": s[-2],
            "p99": s[-1], "p999": s[-1], "max": s[-1], "ci_low": s[1], "ci_high": s[-2],
            "mad": 1.0, "outliers": 0, "trusted": True, "repetitions": list(reps)}


def case(backend, scenario, params, headline, metrics):
    return {"backend": backend, "scenario": scenario, "headline": headline, "params": params,
            "outcome": "ok", "reason": "", "metrics": metrics,
            "checks": [{"name": "completed", "passed": True, "reason": ""}]}


PAYLOAD = 4096  # bytes each way per round trip


def results_doc(rt_ns, rate_reps, skeleton="quick-base.json"):
    """A results file with a throughput case (tasks/s) and a payload case
    (round trip in ns, bytes/s of 2 x PAYLOAD per round trip)."""
    with open(os.path.join(DATA, skeleton)) as f:
        doc = json.load(f)
    doc["results"] = [
        case("thread", "throughput", {"granularity": 0}, "throughput",
             {"throughput": metric("tasks/s", "higher", rate_reps)}),
        case("fork", "payload", {"size": PAYLOAD}, "roundtrip",
             {"roundtrip": metric("ns", "lower", rt_ns),
              "bytes_per_s": metric("bytes/s", "higher",
                                    [2 * PAYLOAD * 1e9 / t for t in rt_ns])}),
    ]
    return doc


def export(doc, tmp, name, *extra):
    src = os.path.join(tmp, name + ".json")
    with open(src, "w") as f:
        json.dump(doc, f)
    out = os.path.join(tmp, name + ".gbench.json")
    with open(out, "w") as f:
        f.write(poolbench("export", "--format", "googlebench", *extra, src))
    return out


RT = [41000.0, 40500.0, 42000.0, 40800.0, 41200.0, 40900.0, 41500.0, 40700.0, 41100.0]


# ---------------------------------------------------------------------------

def group_reference():
    if not GB_REFERENCE or not os.access(GB_REFERENCE, os.X_OK):
        skip("gbench_reference was not built (libbenchmark-dev missing)")
    # Google Benchmark: one iteration per repetition, of these times, one
    # item and 2 x PAYLOAD bytes each.
    env = dict(os.environ, POOLBENCH_GB_TIMES_NS=",".join("%.17g" % t for t in RT),
               POOLBENCH_GB_BYTES=str(2 * PAYLOAD))
    p = subprocess.run([GB_REFERENCE, "--benchmark_format=json"], capture_output=True,
                       text=True, env=env, timeout=120)
    check("gbench_reference runs", p.returncode == 0, p.stderr)
    gb = [r for r in json.loads(p.stdout)["benchmarks"]]
    gb_reps = [r for r in gb if r["run_type"] == "iteration"]
    gb_aggs = {r["aggregate_name"]: r for r in gb if r["run_type"] == "aggregate"}
    check("Google Benchmark wrote 9 repetitions and 4 aggregates",
          len(gb_reps) == 9 and set(gb_aggs) == {"mean", "median", "stddev", "cv"},
          [r["name"] for r in gb])

    with tempfile.TemporaryDirectory() as tmp:
        # The same repetitions as poolbench results: the task rate 1/t, and
        # the payload round trip t with its byte rate.
        doc = results_doc(RT, [1e9 / t for t in RT])
        ours = json.load(open(export(doc, tmp, "ref")))["benchmarks"]
        for run_name, counter in (("thread/throughput/granularity:0/throughput",
                                   "items_per_second"),
                                  ("fork/payload/size:%d/roundtrip" % PAYLOAD,
                                   "bytes_per_second")):
            fam = [r for r in ours if r["run_name"] == run_name]
            reps = [r for r in fam if r["run_type"] == "iteration"]
            aggs = {r["aggregate_name"]: r for r in fam if r["run_type"] == "aggregate"}
            check(run_name + ": the rows Google Benchmark writes",
                  len(reps) == len(gb_reps) and set(aggs) == set(gb_aggs),
                  [r["name"] for r in fam])
            for i, (a, b) in enumerate(zip(reps, gb_reps)):
                check("%s repetition %d: real_time and %s" % (run_name, i, counter),
                      close(a["real_time"], b["real_time"]) and
                      close(a[counter], b[counter]) and
                      a["repetition_index"] == b["repetition_index"] and
                      a["repetitions"] == b["repetitions"] and a["time_unit"] == b["time_unit"],
                      (a, b))
            for k, b in gb_aggs.items():
                a = aggs.get(k, {})
                check("%s %s row: as Google Benchmark aggregates it" % (run_name, k),
                      close(a.get("real_time", math.nan), b["real_time"]) and
                      close(a.get(counter, math.nan), b[counter]) and
                      a.get("iterations") == b["iterations"] and
                      a.get("aggregate_unit") == b["aggregate_unit"] and
                      a.get("time_unit") == b["time_unit"] and
                      a.get("name") == run_name + "_" + k,
                      {"ours": a, "google benchmark": b})
            # Every field Google Benchmark writes on a row, we write too
            # (context-free fields; cpu_time is another question).
            for a, b in ((reps[0], gb_reps[0]), (aggs.get("cv", {}), gb_aggs["cv"])):
                other = {"items_per_second", "bytes_per_second"} - {counter}
                missing = set(b) - set(a) - {"label"} - other
                check(run_name + ": no field of Google Benchmark's left out", not missing,
                      missing)


def utest_p(a, b):
    """compare.py's U test: SciPy's mannwhitneyu, two-sided, defaults."""
    from scipy.stats import mannwhitneyu
    return mannwhitneyu(a, b, alternative="two-sided").pvalue


def group_compare():
    if not os.path.exists(COMPARE_PY):
        skip(COMPARE_PY + " missing (libbenchmark-tools)")
    try:
        import scipy  # noqa: F401  compare.py needs it
    except ImportError:
        skip("python3-scipy missing")
    sys.path.insert(0, os.path.dirname(COMPARE_PY))
    import gbench.util

    rates = [180000.0, 181500.0, 179200.0, 182300.0, 180700.0, 181100.0, 179900.0, 180400.0,
             181800.0]
    with tempfile.TemporaryDirectory() as tmp:
        base = export(results_doc(RT, rates), tmp, "base")
        slow = [t * 1.3 for t in RT]
        new = export(results_doc(slow, [r / 1.3 for r in rates]), tmp, "new")
        p = subprocess.run([sys.executable, COMPARE_PY, "--no-color", "benchmarks", base, new],
                           capture_output=True, text=True, timeout=120)
        check("compare.py runs", p.returncode == 0, p.stderr)
        out = p.stdout
        print(out)
        lines = out.splitlines()

        def rows(name):
            return [ln.split() for ln in lines if ln.split() and ln.split()[0] == name]

        # The payload round trip, the byte rate's time per iteration: the
        # time columns show the round trips (ns), +0.3 each.
        rt_name = "fork/payload/size:%d/roundtrip" % PAYLOAD
        r = rows(rt_name)
        check("compare.py: 9 repetition rows of " + rt_name, len(r) == 9, r)
        check("compare.py: time columns of the byte-rate family are the round trips",
              all(float(x[3]) == round(a) and float(x[4]) == round(b) and
                  close(float(x[1]), 0.3, 1e-3) for x, a, b in zip(r, RT, slow)), r)
        # The task rate: time per task, +0.3 as well.
        tp_name = "thread/throughput/granularity:0/throughput"
        r = rows(tp_name)
        check("compare.py: task rate as ns per task",
              len(r) == 9 and all(float(x[3]) == round(1e9 / a) and close(float(x[1]), 0.3, 1e-3)
                                  for x, a in zip(r, rates)), r)
        # The U test, from the repetitions' times.
        for name, a, b in ((rt_name, RT, slow),
                           (tp_name, [1e9 / x for x in rates], [1.3e9 / x for x in rates])):
            u = rows(name + "_pvalue")
            want = utest_p(a, b)
            check("compare.py: U test of " + name,
                  len(u) == 1 and close(float(u[0][1]), round(want, 4), 1e-9) and
                  "Repetitions: 9 vs 9" in " ".join(u[0]), (u, want))
        # Aggregates: the median row is the median round trip.
        r = rows(rt_name + "_median")
        check("compare.py: the median row",
              len(r) == 1 and float(r[0][3]) == round(median(RT)) and
              float(r[0][4]) == round(median(slow)), r)
        check("compare.py: a cv row", len(rows(rt_name + "_cv")) == 1)

        # Counters, as compare.py's loader reads our files.
        for path, times in ((base, RT), (new, slow)):
            loaded = gbench.util.sort_benchmark_results(gbench.util.load_benchmark_results(path))
            bench = loaded["benchmarks"]
            reps = [b for b in bench if b["run_name"] == rt_name and b["run_type"] == "iteration"]
            check("loaded: bytes_per_second on each repetition of " + rt_name,
                  len(reps) == 9 and all(close(b["bytes_per_second"], 2 * PAYLOAD * 1e9 / t)
                                         for b, t in zip(reps, times)), reps[:1])
            sd = [b for b in bench if b["name"] == rt_name + "_stddev"]
            bps = [2 * PAYLOAD * 1e9 / t for t in times]
            m = sum(bps) / 9
            want = math.sqrt(sum((x - m) ** 2 for x in bps) / 8)
            check("loaded: the stddev row's bytes_per_second is the rates' own",
                  len(sd) == 1 and close(sd[0]["bytes_per_second"], want), (sd, want))
            ips = [b for b in bench if b["name"] == tp_name + "_cv"]
            check("loaded: the cv row carries items_per_second's cv", len(ips) == 1 and
                  "items_per_second" in ips[0] and ips[0]["items_per_second"] < 0.05, ips)


DOCUMENTED_CUSTOM = {"name": str, "unit": str, "value": (int, float)}
DOCUMENTED_OPTIONAL = {"range": str, "extra": str}


def check_custom_format(label, arr):
    """github-action-benchmark's custom tools (README.md: "Every entry in the
    JSON file you provide only needs to provide name, unit, and value. You
    can also provide optional range ... and extra ...")."""
    check(label + ": a JSON array", isinstance(arr, list) and arr, type(arr))
    for e in arr:
        ok = isinstance(e, dict)
        for k, t in DOCUMENTED_CUSTOM.items():
            ok = ok and isinstance(e.get(k), t) and not isinstance(e.get(k), bool)
        for k, t in DOCUMENTED_OPTIONAL.items():
            ok = ok and (k not in e or isinstance(e[k], t))
        ok = ok and not set(e) - set(DOCUMENTED_CUSTOM) - set(DOCUMENTED_OPTIONAL)
        ok = ok and math.isfinite(e["value"]) and e["name"].strip() != ""
        check(label + ": documented entry " + str(e.get("name")), ok, e)
    names = [e.get("name") for e in arr]
    check(label + ": names unique (the action keys results by name)",
          len(names) == len(set(names)), [n for n in names if names.count(n) > 1][:3])
    return set(names)


def ci_md_steps():
    """The github-action-benchmark steps of results/CI.md's workflow."""
    import yaml
    with open(os.path.join(SOURCE, "results", "CI.md")) as f:
        text = f.read()
    steps = []
    for block in re.findall(r"```yaml\n(.*?)```", text, re.S):
        doc = yaml.safe_load(block)
        items = doc if isinstance(doc, list) else (doc or {}).get("steps", []) \
            if isinstance(doc, dict) else []
        if isinstance(doc, dict) and "jobs" in doc:
            items = [s for j in doc["jobs"].values() for s in j.get("steps", [])]
        steps += [s for s in items if isinstance(s, dict)]
    return text, steps


def group_gab():
    try:
        import yaml  # noqa: F401
    except ImportError:
        skip("python3-yaml missing")
    src = os.path.join(DATA, "quick-base.json")
    lower = check_custom_format("customSmallerIsBetter",
                                json.loads(poolbench("export", "--format", "bench-custom",
                                                     "--better", "lower", src)))
    higher = check_custom_format("customBiggerIsBetter",
                                 json.loads(poolbench("export", "--format", "bench-custom",
                                                      "--better", "higher", src)))
    check("the two directions share no benchmark", not lower & higher, lower & higher)

    rows = json.loads(poolbench("export", "--format", "googlebench", "--rows", "median",
                                src))["benchmarks"]
    names = [r["name"] for r in rows]
    check("googlecpp with --rows median: one row per name", len(names) == len(set(names)),
          names[:5])
    check("googlecpp with --rows median: the fields the tool reads",
          all(isinstance(r.get("real_time"), (int, float)) and isinstance(r.get("cpu_time"),
                                                                          (int, float)) and
              r.get("time_unit") == "ns" and isinstance(r.get("iterations"), int) and
              isinstance(r.get("threads"), int) for r in rows), rows[:1])

    text, steps = ci_md_steps()
    gab = [s for s in steps if "github-action-benchmark" in str(s.get("uses", ""))]
    by_tool = {s.get("with", {}).get("tool"): s for s in gab}
    check("CI.md: a step per custom tool",
          "customSmallerIsBetter" in by_tool and "customBiggerIsBetter" in by_tool,
          list(by_tool))
    small = by_tool.get("customSmallerIsBetter", {}).get("with", {})
    big = by_tool.get("customBiggerIsBetter", {}).get("with", {})
    check("CI.md: the two custom steps have different name: settings",
          small.get("name") and big.get("name") and small.get("name") != big.get("name"),
          (small.get("name"), big.get("name")))
    # Each step reads the file exported with its own direction.
    runs = "\n".join(str(s.get("run", "")) for s in steps)

    def made_with(path):
        m = re.search(r"poolbench export ([^\n>]*)>\s*%s" % re.escape(path), runs)
        return m.group(1) if m else ""
    check("CI.md: customSmallerIsBetter reads the --better lower export",
          "--better lower" in made_with(small.get("output-file-path", "?")), small)
    check("CI.md: customBiggerIsBetter reads the --better higher export",
          "--better higher" in made_with(big.get("output-file-path", "?")), big)
    gc = by_tool.get("googlecpp", {}).get("with", {})
    if gc:
        check("CI.md: googlecpp reads an export with one row per metric",
              "--rows median" in made_with(gc.get("output-file-path", "?")), gc)
        check("CI.md: googlecpp's name: differs from the custom steps'",
              gc.get("name") not in (small.get("name"), big.get("name")), gc)


{"reference": group_reference, "compare": group_compare, "gab": group_gab}[GROUP]()
sys.exit(verdict())
