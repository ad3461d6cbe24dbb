#!/usr/bin/env python3
"""Regenerates the synthetic results files the plot tests read.

These are test fixtures, not measurements. Samples come from a seeded model
(log-normal latencies with a right tail, throughputs a few percent apart
between repetitions) and are summarised as FORMAT.md says (type-7
percentiles, order-statistic 95% CI of the median, unscaled MAD, the
log-linear histogram with 16 buckets per power of two). The numbers only
have to be plausible and stable: the tests check that each chart's data is
extracted from the right fields, not what pools cost.

Cases, parameters and metric names follow what the harness writes
(bench/scenarios/*.c, harness/floor.c).

Files written (beside this script):
  run.json          every scenario a chart reads; thread's faults cases skipped
  sparse.json       only a roundtrip case without histogram: most charts skip
  new.json          run.json with fork's round trip 30% slower (compare chart)
  history/h1..h5    five runs of roundtrip and startup; fork steps up at h4

Re-running rewrites the same bytes; edit this script, not the JSON.

    python3 tests/data/plots/make-fixtures.py
"""
import json
import math
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))


def pct(s, p):
    n = len(s)
    h = (n - 1) * p / 100.0
    lo = int(math.floor(h))
    if lo + 1 >= n:
        return s[-1]
    return s[lo] + (h - lo) * (s[lo + 1] - s[lo])


def ci_rank(n):
    # Normal approximation of the binomial ranks; close enough for fixtures.
    return max(1, int(math.floor(n / 2 - 1.959963984540054 * math.sqrt(n) / 2)))


def bucket(v):
    m, e = math.frexp(v)
    k = min(int(math.floor((2 * m - 1) * 16)), 15)
    return (math.ldexp(1 + k / 16, e - 1), math.ldexp(1 + (k + 1) / 16, e - 1))


def r6(x):
    return float("%.6g" % x)


def metric(unit, better, reps, histogram=False):
    allv = sorted(v for r in reps for v in r)
    n = len(allv)
    mean = sum(allv) / n
    sd = math.sqrt(sum((v - mean) ** 2 for v in allv) / (n - 1)) if n > 1 else 0.0
    p50 = pct(allv, 50)
    j = ci_rank(n)
    mad = pct(sorted(abs(v - p50) for v in allv), 50)
    meds = [pct(sorted(r), 50) for r in reps]
    lo, hi = allv[j - 1], allv[n - j]
    m = {
        "unit": unit, "better": better, "n": n,
        "min": r6(allv[0]), "mean": r6(mean), "stddev": r6(sd),
        "p50": r6(p50), "p90": r6(pct(allv, 90)), "p99": r6(pct(allv, 99)),
        "p999": r6(pct(allv, 99.9)), "max": r6(allv[-1]),
        "ci_low": r6(lo), "ci_high": r6(hi), "mad": r6(mad),
        "outliers": sum(1 for v in allv if abs(v - p50) > 3 * 1.4826 * mad),
        "trusted": len(meds) >= 3 and hi - lo <= 0.1 * p50
                   and max(meds) - min(meds) <= 0.25 * p50,
        "repetitions": [r6(x) for x in meds],
    }
    if histogram:
        lower, upper, counts = [], [], []
        for v in allv:
            b = bucket(v)
            if lower and lower[-1] == b[0]:
                counts[-1] += 1
            else:
                lower.append(b[0]); upper.append(b[1]); counts.append(1)
        m["histogram"] = {"lower": lower, "upper": upper, "counts": counts}
    return m


def latency(rng, med, sigma=0.25, n=400, reps=5, tail=0.01):
    out = []
    for _ in range(reps):
        r = []
        for _ in range(n):
            v = med * math.exp(rng.gauss(0, sigma))
            if rng.random() < tail:
                v *= 3 + 5 * rng.random()
            r.append(v)
        out.append(r)
    return out


def rate(rng, med, spread=0.03, reps=5):
    return [[med * (1 + rng.gauss(0, spread))] for _ in range(reps)]


def with_floor(m, floor_case, fm="roundtrip"):
    m["floor"] = {"backend": "floor", "scenario": floor_case["scenario"], "metric": fm}
    fp = floor_case["metrics"][fm]["p50"]
    m["ratio_to_floor"] = r6(m["p50"] / fp)
    return m


# Each scenario's headline metric, as the harness writes it into every case
# from the scenario's table (pb_scenario.headline).
HEADLINES = {
    "roundtrip": "roundtrip", "retrieval": "retrieval", "throughput": "throughput",
    "granularity": "metg", "map": "throughput", "timeout": "overshoot", "startup": "startup",
    "faults": "recovery", "futex_pingpong": "roundtrip", "pipe_pingpong": "roundtrip",
    "thread_start": "startup", "spawn": "startup", "timedwait": "overshoot",
}


def case(backend, scenario, params, metrics, outcome="ok", reason=""):
    c = {"backend": backend, "scenario": scenario}
    if scenario in HEADLINES:
        c["headline"] = HEADLINES[scenario]
    c.update({"params": params, "outcome": outcome, "reason": reason})
    if backend != "floor" and outcome != "skipped":
        c["binding"] = {"policy": "none", "workers": ["", ""], "tasks_on_binding": None}
    c["metrics"] = metrics
    c["checks"] = [] if outcome == "skipped" else [{"name": "completed", "passed": True,
                                                     "reason": ""}]
    return c


def document(started, unix, rev, results):
    return {
        "schema": "poolbench-results/1",
        "run": {"kind": "run", "command": "poolbench run --suite quick", "suite": "quick",
                "started": started, "started_unix": unix, "duration_s": 48.5,
                "complete": True, "repetitions": 5, "warmup": 1, "workers": 0,
                "pin": "none", "poolbench_version": "0.1.0"},
        "environment": {
            "host": "fixture", "os": "Linux", "kernel": "6.1.0", "arch": "x86_64",
            "cpu_model": "synthetic CPU",
            "topology": {"packages": 1, "numa_nodes": 1, "cores": 2, "pus": 2,
                         "allowed_cpuset": "0-1", "summary": "Package:1 Core:2 PU:2"},
            "governor": "unknown", "aslr": 2, "loadavg": [0.1, 0.2, 0.3],
            "timer_slack_ns": 50000, "compiler": "GNU 12.2.0", "cflags": "-O2 -g",
            "build_type": "RelWithDebInfo",
            "libraries": {"hwloc": "2.9.0", "jansson": "2.14"},
            "git_revision": rev},
        "results": results,
    }


BACKENDS = ["thread", "fork", "exec"]
# Model medians (ns or tasks/s); only their order of magnitude matters.
RT = {"thread": 12e3, "fork": 30e3, "exec": 33e3}
START = {"thread": 150e3, "fork": 900e3, "exec": 4.5e6}
STOP = {"thread": 60e3, "fork": 400e3, "exec": 700e3}


def full_run(seed, started, unix, rev, slow=None):
    """Cases and metrics named as bench/scenarios/*.c and harness/floor.c
    write them."""
    rng = random.Random(seed)
    slow = slow or {}
    res = []
    futex = case("floor", "futex_pingpong", {"samples": 2000},
                 {"roundtrip": metric("ns", "lower", latency(rng, 8e3, 0.15))})
    pipe = case("floor", "pipe_pingpong", {"samples": 2000},
                {"roundtrip": metric("ns", "lower", latency(rng, 15e3, 0.15))})
    tstart = case("floor", "thread_start", {"samples": 200},
                  {"startup": metric("ns", "lower", latency(rng, 40e3, 0.1, n=40))})
    spawn = case("floor", "spawn", {"samples": 20},
                 {"startup": metric("ns", "lower", latency(rng, 700e3, 0.1, n=20))})
    res += [futex, pipe, tstart, spawn]
    waits = {}
    for t in (0, 100000, 1000000, 10000000):
        waits[t] = case("floor", "timedwait", {"timeout": t, "samples": 100},
                        {"overshoot": metric("ns", "lower",
                                             latency(rng, 2e3 if t == 0 else 55e3 + t / 1e3, 0.1))})
        res.append(waits[t])
    for b in BACKENDS:
        fl = futex if b == "thread" else pipe
        k = slow.get(b, 1.0)
        ms = {"roundtrip": with_floor(metric("ns", "lower", latency(rng, RT[b] * k), True), fl)}
        for part, share in (("submit", 0.05), ("queueing", 0.3), ("run", 0.1), ("retrieval", 0.4)):
            ms[part] = metric("ns", "lower", latency(rng, RT[b] * share * k))
        res.append(case(b, "roundtrip", {"samples": 2000}, ms))
    for via in ("result", "callback", "as_completed"):
        for b in BACKENDS:
            res.append(case(b, "retrieval", {"via": via, "samples": 2000},
                            {"retrieval": metric("ns", "lower",
                                                 latency(rng, RT[b] * 0.4 * (1.2 if via == "as_completed" else 1)),
                                                 True)}))
    for g in (0, 1000, 10000, 100000):
        for b in BACKENDS:
            over = RT[b] / 2  # per-task overhead with 2 workers
            ms = {"throughput": metric("tasks/s", "higher", rate(rng, 2e9 / (g + over)))}
            if g:  # no efficiency for empty tasks: no ideal time to compare with
                ms["efficiency"] = metric("ratio", "higher",
                                          [[min(1.0, g / (g + over) * (1 + rng.gauss(0, 0.02)))]
                                           for _ in range(5)])
            res.append(case(b, "throughput", {"granularity": g, "tasks": 20000,
                                              "work": 50000000}, ms))
    for b in BACKENDS:
        over = RT[b] / 2
        ms = {"metg": metric("ns", "lower", rate(rng, over * 2, 0.05))}
        g = 1000000
        while g >= 1000:
            ms["efficiency_g%d" % g] = metric("ratio", "higher",
                                              [[min(1.0, g / (g + over) * (1 + rng.gauss(0, 0.02)))]
                                               for _ in range(5)])
            ms["throughput_g%d" % g] = metric("tasks/s", "higher", rate(rng, 2e9 / (g + over)))
            g //= 2
        res.append(case(b, "granularity", {"max": 1000000, "min": 1000, "tasks": 5000,
                                           "work": 20000000}, ms))
    for cs in (1, 16, 256):
        for b in BACKENDS:
            per_item = RT[b] / 2 / cs + 300
            res.append(case(b, "map", {"chunksize": cs, "tasks": 10000},
                            {"throughput": metric("tasks/s", "higher",
                                                  rate(rng, 1e9 / per_item))}))
    for t in (0, 100000, 1000000, 10000000):
        for b in BACKENDS:
            m = metric("ns", "lower", latency(rng, 50e3 + (RT[b] if t else 2e3), 0.2))
            if t:  # harness/floor.c: a poll (timeout 0) has no floor
                m = with_floor(m, waits[t], "overshoot")
            res.append(case(b, "timeout", {"timeout": t, "samples": 100}, {"overshoot": m}))
    for b in BACKENDS:
        fl = tstart if b == "thread" else spawn
        res.append(case(b, "startup", {"samples": 10},
                        {"create": metric("ns", "lower", latency(rng, START[b] * 0.6, 0.1, n=10)),
                         "startup": with_floor(metric("ns", "lower",
                                                      latency(rng, START[b], 0.1, n=10)), fl,
                                               "startup"),
                         "shutdown": metric("ns", "lower", latency(rng, STOP[b], 0.1, n=10))}))
    for fault in ("segv", "abort", "exit", "hang"):
        for b in BACKENDS:
            params = {"fault": fault, "samples": 5, "task_timeout": 100000000}
            if b == "thread":
                res.append(case(b, "faults", params, {}, "skipped",
                                "needs process workers: a thread cannot be killed"))
                continue
            med = START[b] * 0.8 + (100e6 if fault == "hang" else 0)
            res.append(case(b, "faults", params,
                            {"detection": metric("ns", "lower", latency(rng, med * 0.3, 0.1, n=5)),
                             "recovery": metric("ns", "lower", latency(rng, med, 0.1, n=5))}))
    return document(started, unix, rev, res)


def write(name, doc):
    path = os.path.join(HERE, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")


def main():
    write("run.json", full_run(1, "2026-11-21T08:00:00Z", 1795248000.0, "a1b2c3d4e5f6"))
    write("new.json", full_run(2, "2026-11-22T08:00:00Z", 1795334400.0, "f6e5d4c3b2a1",
                               slow={"fork": 1.3}))
    rng = random.Random(3)
    sparse = document("2026-11-21T09:00:00Z", 1795251600.0, "a1b2c3d4e5f6", [
        case("thread", "roundtrip", {"samples": 2000},
             {"roundtrip": metric("ns", "lower", latency(rng, 12e3))})])
    write("sparse.json", sparse)
    # History: five runs a day apart, written out of order on purpose (h5 is
    # the oldest) so the chart must sort by started_unix; fork's round trip
    # steps up by 40% from the fourth run in time order on.
    days = [("h5", 0), ("h2", 1), ("h3", 2), ("h1", 3), ("h4", 4)]
    for name, day in days:
        rng = random.Random(10 + day)
        res = []
        for b in BACKENDS:
            k = 1.4 if (b == "fork" and day >= 3) else 1.0
            res.append(case(b, "roundtrip", {"samples": 2000},
                            {"roundtrip": metric("ns", "lower", latency(rng, RT[b] * k, 0.2))}))
            res.append(case(b, "startup", {"samples": 10},
                            {"startup": metric("ns", "lower", latency(rng, START[b], 0.05, n=40))}))
        started = "2026-11-%02dT08:00:00Z" % (10 + day)
        write("history/%s.json" % name,
              document(started, 1794470400.0 + 86400 * day, "%07x" % (0xabc0000 + day), res))


if __name__ == "__main__":
    main()
