#!/usr/bin/env python3
"""Regenerates the synthetic results files in tests/data (see README.md there).

These are test fixtures, not measurements: samples are drawn from a seeded
model of what a 2-PU VM shows (latencies in the tens of microseconds with a
long right tail, throughputs that vary by a few percent between repetitions),
and summarised with an independent Python implementation of the definitions
in results/stats.c (type-7 percentiles, binomial order-statistic CI of the
median, unscaled MAD, 3 * 1.4826 * MAD outliers, the `trusted` rule, the
MAD-0 fallback, log-linear histogram). Re-running this script rewrites the same files byte
for byte; edit it, not the JSON, when a fixture must change.

    python3 tests/data/make-fixtures.py
"""
import copy
import json
import math
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))


# ---------------------------------------------------------------------------
# Statistics (mirror of results/stats.c, written independently)

def pct(s, p):
    n = len(s)
    if p <= 0:
        return s[0]
    if p >= 100:
        return s[-1]
    h = (n - 1) * p / 100.0
    lo = int(math.floor(h))
    if lo + 1 >= n:
        return s[-1]
    return s[lo] + (h - lo) * (s[lo + 1] - s[lo])


def ci_rank(n):
    if n > 2000:
        return max(1, int(math.floor(n / 2 - 1.959963984540054 * math.sqrt(n) / 2)))
    j, cdf, total = 1, 0, 2 ** n
    for k in range(n // 2 + 1):
        cdf += math.comb(n, k)
        if cdf / total > 0.025:
            break
        j = k + 1
    return j


def bucket(v):
    if v == 0:
        return (0.0, 0.0)
    m, e = math.frexp(abs(v))
    k = min(int(math.floor((2 * m - 1) * 16)), 15)
    lo = math.ldexp(1 + k / 16, e - 1)
    hi = math.ldexp(1 + (k + 1) / 16, e - 1)
    return (lo, hi) if v > 0 else (-hi, -lo)


def metric(unit, better, reps, histogram=False):
    allv = sorted(v for r in reps for v in r)
    n = len(allv)
    mean = sum(allv) / n
    sd = math.sqrt(sum((v - mean) ** 2 for v in allv) / (n - 1)) if n > 1 else 0.0
    p50 = pct(allv, 50)
    j = ci_rank(n)
    mad = pct(sorted(abs(v - p50) for v in allv), 50)
    scale = 1.4826 * mad if mad else 1.253314 * sum(abs(v - p50) for v in allv) / n
    outliers = sum(1 for v in allv if abs(v - p50) > 3 * scale)
    meds = [pct(sorted(r), 50) for r in reps if r]
    trusted = (len(meds) >= 3 and allv[n - j] - allv[j - 1] <= 0.10 * abs(p50)
               and max(meds) - min(meds) <= 0.25 * abs(p50))
    m = {
        "unit": unit, "better": better, "n": n,
        "min": allv[0], "mean": mean, "stddev": sd,
        "p50": p50, "p90": pct(allv, 90), "p99": pct(allv, 99), "p999": pct(allv, 99.9),
        "max": allv[-1], "ci_low": allv[j - 1], "ci_high": allv[n - j],
        "mad": mad, "outliers": outliers, "trusted": trusted,
        "repetitions": meds,
    }
    if histogram:
        lower, upper, counts = [], [], []
        for v in allv:
            b = bucket(v)
            if lower and (lower[-1], upper[-1]) == b:
                counts[-1] += 1
            else:
                lower.append(b[0]); upper.append(b[1]); counts.append(1)
        m["histogram"] = {"lower": lower, "upper": upper, "counts": counts}
    return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in m.items()}


# ---------------------------------------------------------------------------
# Sample models

def latency_reps(rng, median_ns, nreps, per_rep, rep_sd=0.01, noise=0.06, tail=0.01):
    reps = []
    for _ in range(nreps):
        f = rng.gauss(1.0, rep_sd)
        r = []
        for _ in range(per_rep):
            v = median_ns * f * math.exp(rng.gauss(0, noise))
            if rng.random() < tail:
                v *= rng.uniform(2, 6)  # a preemption on a shared VM
            r.append(float(round(v)))
        reps.append(r)
    return reps


def rate_reps(rng, median, nreps, per_rep, rep_sd=0.02, noise=0.03, digits=1):
    reps = []
    for _ in range(nreps):
        f = rng.gauss(1.0, rep_sd)
        reps.append([round(median * f * math.exp(rng.gauss(0, noise)), digits)
                     for _ in range(per_rep)])
    return reps


# ---------------------------------------------------------------------------
# Documents

ENV = {
    "host": "vm", "os": "Linux", "kernel": "6.18.44-fc-v595", "arch": "x86_64",
    "cpu_model": "AMD EPYC",
    "topology": {"packages": 1, "numa_nodes": 1, "cores": 2, "pus": 2,
                 "allowed_cpuset": "0-1", "summary": "Package:1 Core:2 PU:2"},
    "governor": "unknown", "aslr": 2, "loadavg": [0.31, 0.22, 0.12],
    "timer_slack_ns": 50000, "compiler": "gcc 12.2.0", "cflags": "-O2 -g -DNDEBUG",
    "build_type": "RelWithDebInfo",
    "libraries": {"hwloc": "2.9.0", "jansson": "2.14", "glibc": "2.36"},
    "git_revision": "1e52414a0c3d",
}


def run_obj(started, started_unix, reps, kind="run", suite="ci", duration=212.4):
    return {
        "kind": kind, "command": "poolbench run --suite %s" % suite if kind == "run"
        else "poolbench stress --duration 30 --seed 7",
        "suite": suite if kind == "run" else "", "started": started,
        "started_unix": started_unix, "duration_s": duration, "complete": True,
        "repetitions": reps, "warmup": 1, "workers": 0, "pin": "none",
        "poolbench_version": "0.1.0",
    }


def binding(policy="none"):
    return {"policy": policy, "workers": ["", ""], "tasks_on_binding": True}


def case(backend, scenario, params, metrics, checks=None, outcome="ok", reason=""):
    c = {"backend": backend, "scenario": scenario, "params": params, "outcome": outcome,
         "reason": reason}
    if backend != "floor" and outcome != "skipped":
        c["binding"] = binding()
    c["metrics"] = metrics
    c["checks"] = checks if checks is not None else []
    return c


def check(name, passed=True, reason=""):
    return {"name": name, "passed": passed, "reason": reason}


def with_floor(m, scenario, metric_name, floor_p50):
    m["floor"] = {"backend": "floor", "scenario": scenario, "metric": metric_name}
    if m["better"] == "lower":
        m["ratio_to_floor"] = round(m["p50"] / floor_p50, 4)
    else:
        m["ratio_to_floor"] = round(floor_p50 / m["p50"], 4)
    return m


# Medians of the model, per backend: round trip (ns), queueing, run,
# retrieval, throughput at g=0 (tasks/s), efficiency at g=100us.
MODEL = {
    "thread": dict(roundtrip=11800, queueing=4100, run=350, retrieval=5200, tput=182000, eff=0.93),
    "fork": dict(roundtrip=29500, queueing=9800, run=420, retrieval=14600, tput=61000, eff=0.86),
    "exec": dict(roundtrip=30200, queueing=10100, run=430, retrieval=14900, tput=59500, eff=0.85),
}


def quick_doc(seed, nreps=9, started="2026-11-21T08:00:00Z", started_unix=1795248000.0,
              scale=None, noisy=False, env=None, fail_check=None):
    """scale: {(backend, scenario): factor} applied to latency medians
    (throughput divided by it); noisy: repetition spread of ~12%."""
    rng = random.Random(seed)
    scale = scale or {}
    rep_sd = 0.12 if noisy else 0.01
    results = []

    floor = {}
    for scen, med in (("clock", 21.0), ("futex_pingpong", 8900.0), ("pipe_pingpong", 14200.0)):
        mname = "roundtrip" if scen != "clock" else "call"
        m = metric("ns", "lower", latency_reps(rng, med, nreps, 400, rep_sd=rep_sd, noise=0.03))
        floor[scen] = m["p50"]
        results.append(case("floor", scen, {}, {mname: m}))

    for b, md in MODEL.items():
        f = scale.get((b, "roundtrip"), 1.0)
        floor_scen = "futex_pingpong" if b == "thread" else "pipe_pingpong"
        ms = {}
        for name in ("roundtrip", "queueing", "run", "retrieval"):
            ms[name] = metric("ns", "lower",
                              latency_reps(rng, md[name] * f, nreps, 200, rep_sd=rep_sd),
                              histogram=(name == "roundtrip"))
        with_floor(ms["roundtrip"], floor_scen, "roundtrip", floor[floor_scen])
        checks = [check("result_matches")]
        if fail_check == (b, "roundtrip"):
            checks = [check("result_matches", False, "task 17 returned 7 bytes, expected 8")]
        results.append(case(b, "roundtrip", {"payload": 8}, ms, checks,
                            outcome="failed" if fail_check == (b, "roundtrip") else "ok",
                            reason=checks[0]["reason"]))

    for b, md in MODEL.items():
        f = scale.get((b, "throughput"), 1.0)
        ms = {
            "throughput": metric("tasks/s", "higher", rate_reps(rng, md["tput"] / f, nreps, 5,
                                                                 rep_sd=max(rep_sd, 0.02))),
            "efficiency": metric("ratio", "higher",
                                 [[round(min(1.0, v), 4) for v in r]
                                  for r in rate_reps(rng, md["eff"], nreps, 5, rep_sd=0.005,
                                                     noise=0.01, digits=4)]),
        }
        results.append(case(b, "throughput", {"g_ns": 0, "tasks": 10000}, ms,
                            [check("all_completed")]))

    results.append(case("thread", "faults", {"fault": "segv"}, {}, outcome="skipped",
                        reason="the thread backend cannot survive a crashed worker: a crash "
                               "ends the process"))
    for b in ("fork", "exec"):
        ms = {"recovery": metric("ns", "lower",
                                 latency_reps(rng, 410000 if b == "fork" else 1900000, nreps, 3,
                                              rep_sd=0.03, noise=0.05, tail=0))}
        results.append(case(b, "faults", {"fault": "segv"}, ms,
                            [check("one_future_failed"), check("pool_recovered")]))

    return {"schema": "poolbench-results/1",
            "run": run_obj(started, started_unix, nreps),
            "environment": env or ENV, "results": results}


def stress_doc():
    results = []
    for i, b in enumerate(("thread", "fork", "exec")):
        ops = [[float(180000 - 60000 * i + 37 * k)] for k in range(1)]
        ms = {
            "operations": metric("count", "higher", ops),
            "faults_injected": metric("count", "higher", [[0.0 if b == "thread" else 112.0]]),
            "faults_survived": metric("count", "higher", [[0.0 if b == "thread" else 112.0]]),
            "violations": metric("count", "lower", [[0.0]]),
        }
        results.append(case(b, "stress", {"seed": 7, "duration_s": 30, "workers": 2,
                                          "faults": "none" if b == "thread" else "crash,hang"},
                            ms, [check("every_future_done"), check("no_lost_result"),
                                 check("cancel_only_pending"), check("callbacks_once")]))
    return {"schema": "poolbench-results/1",
            "run": run_obj("2026-11-21T09:00:00Z", 1795251600.0, 1, kind="stress", duration=30.2),
            "environment": ENV, "results": results}


def dump(doc, *path):
    p = os.path.join(HERE, *path)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")


def main():
    base = quick_doc(seed=1)
    dump(base, "quick-base.json")
    # The same build measured again the next day: an unchanged pair.
    dump(quick_doc(seed=2, started="2026-11-22T08:00:00Z", started_unix=1795334400.0),
         "quick-rerun.json")
    # thread's round trip 20% slower in every part.
    dump(quick_doc(seed=3, started="2026-11-23T08:00:00Z", started_unix=1795420800.0,
                   scale={("thread", "roundtrip"): 1.20}), "quick-slow20.json")
    # A rerun on another machine: same numbers' model, different CPU and kernel.
    other = copy.deepcopy(ENV)
    other.update(cpu_model="Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz",
                 kernel="6.1.0-27-cloud-amd64", build_type="Debug", host="ci-runner-3")
    dump(quick_doc(seed=4, started="2026-11-24T08:00:00Z", started_unix=1795507200.0, env=other),
         "quick-otherhost.json")
    # A check that started failing (fork round trip returns a wrong result).
    dump(quick_doc(seed=5, started="2026-11-25T08:00:00Z", started_unix=1795593600.0,
                   fail_check=("fork", "roundtrip")), "quick-checkfail.json")
    # High noise on both sides; the new one 2% slower: no verdict.
    dump(quick_doc(seed=6, noisy=True), "noisy-base.json")
    dump(quick_doc(seed=7, noisy=True, started="2026-11-22T08:00:00Z",
                   started_unix=1795334400.0,
                   scale={(b, s): 1.02 for b in MODEL for s in ("roundtrip", "throughput")}),
         "noisy-new.json")
    # Three repetitions only: too few for a verdict, even on a 20% slowdown.
    dump(quick_doc(seed=8, nreps=3), "few-base.json")
    dump(quick_doc(seed=9, nreps=3, started="2026-11-22T08:00:00Z", started_unix=1795334400.0,
                   scale={("thread", "roundtrip"): 1.20}), "few-new.json")
    dump(stress_doc(), "stress.json")

    # History: five daily runs; thread's round trip steps up 20% on day 4 and
    # stays there. Files are named out of time order on purpose.
    for day, (name, f) in enumerate((("e", 1.0), ("c", 1.0), ("a", 1.0), ("d", 1.2),
                                     ("b", 1.2))):
        d = quick_doc(seed=20 + day, started="2026-12-%02dT08:00:00Z" % (day + 1),
                      started_unix=1796112000.0 + 86400 * day,
                      scale={("thread", "roundtrip"): f})
        d["environment"] = dict(ENV, git_revision="%012x" % (0xabc0000 + day))
        dump(d, "history", "run-%s.json" % name)

    # Valid, but no case in common with quick-base.json: compare refuses it.
    d = quick_doc(seed=10)
    for i, c in enumerate(d["results"]):
        c["scenario"] = "submit"
        c["params"] = {"backlog": 1000 + i}  # each case once, as a results file holds them
    dump(d, "other-cases.json")
    # Another schema version.
    d = quick_doc(seed=11)
    d["schema"] = "poolbench-results/2"
    dump(d, "bad", "schema-v2.json")
    # A metric without its median.
    d = quick_doc(seed=12)
    del d["results"][4]["metrics"]["roundtrip"]["p50"]
    dump(d, "bad", "missing-p50.json")
    # Truncated mid-write (what a non-atomic writer leaves after a crash).
    text = json.dumps(quick_doc(seed=13), indent=2)
    with open(os.path.join(HERE, "bad", "truncated.json"), "w") as f:
        f.write(text[: len(text) // 3])
    # Not a results file at all.
    with open(os.path.join(HERE, "bad", "not-results.json"), "w") as f:
        f.write('{"context": {"date": "2026-11-21"}, "benchmarks": []}\n')


if __name__ == "__main__":
    main()
