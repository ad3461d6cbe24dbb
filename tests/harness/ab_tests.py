#!/usr/bin/env python3
"""Tests of `poolbench ab`, `calibrate` and `compare AB.json`.

    ab_tests.py POOLBENCH FAKE DATA_DIR PLUGIN TINY_SUITE

The sessions run fake programs (fake_poolbench.py) that answer `run` with a
results file made from a fixture, so every verdict is known in advance and
nothing depends on how fast this machine is: the order of the runs (ABBA),
the verdicts (an A/A session, a planted slowdown, an improvement, a check
that started failing), the session file after every pair, a run that fails,
interruption (SIGINT: the finished pairs judged and written; SIGKILL: the
finished pairs on disk), calibration and its use, duet placement. One
session runs the real program with a module (--load) on a tiny suite, for
the mechanics only. Prints 'N passed, N failed'.
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

PB, FAKE, DATA, PLUGIN, TINY = sys.argv[1:6]
FIXTURE = os.path.join(DATA, "quick-base.json")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from pbcheck import check, verdict  # noqa: E402


class Session:
    """A folder with a config, two wrapper programs (base, new) and a log."""

    def __init__(self, tmp, name, **cfg):
        self.dir = os.path.join(tmp, name)
        os.makedirs(self.dir)
        self.log = os.path.join(self.dir, "log")
        self.cfg = dict(fixture=FIXTURE, log=self.log, **cfg)
        self.config = os.path.join(self.dir, "config.json")
        with open(self.config, "w") as f:
            json.dump(self.cfg, f)
        self.progs = {}
        for side in ("base", "new"):
            p = os.path.join(self.dir, side)
            with open(p, "w") as f:
                f.write("#!/bin/sh\nexec %s %s --side %s %s \"$@\"\n" %
                        (sys.executable, FAKE, side, self.config))
            os.chmod(p, 0o755)
            self.progs[side] = p
        self.out = os.path.join(self.dir, "ab.json")

    def args(self, *extra, base="base", new="new"):
        unit = [] if "--interleave" in extra else ["--interleave", "suite"]
        return [PB, "ab", self.progs.get(base, base), self.progs.get(new, new), "--out",
                self.out, "--suite", "quick", "--quiet"] + unit + list(extra)

    def run(self, *extra, **kw):
        p = subprocess.run(self.args(*extra, **kw), capture_output=True, text=True, timeout=120)
        return p.returncode, p.stdout, p.stderr

    def order(self):
        with open(self.log) as f:
            return [line.split()[0] for line in f]

    def doc(self):
        with open(self.out) as f:
            return json.load(f)


ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(FAKE))))


def schema_check(name, schema, path):
    """The file against its JSON Schema, with Debian's jsonschema (skipped
    without it)."""
    py = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
    p = subprocess.run([py, os.path.join(ROOT, "tests/results/check_schema.py"),
                        os.path.join(ROOT, "results", schema), path], capture_output=True,
                       text=True)
    if p.returncode != 77:
        check(name + " matches " + schema, p.returncode == 0, p.stdout + p.stderr)


def metric(doc, backend, scenario, name):
    for c in doc["results"]:
        if c["backend"] == backend and c["scenario"] == scenario:
            return c["metrics"][name]
    return None


def run(*args):
    p = subprocess.run([PB] + list(args), capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout, p.stderr


def json_report(path, *extra):
    rc, out, err = run("compare", path, "--format", "json", *extra)
    return rc, (json.loads(out) if out.strip() else {}), err


def row(report, backend, scenario, name):
    for r in report["comparisons"]:
        if (r["backend"], r["scenario"], r["metric"]) == (backend, scenario, name):
            return r
    return None


def test_aa(tmp):
    s = Session(tmp, "aa", noise=0.03)
    rc, out, err = s.run("--pairs", "9")
    check("A/A: exit 0", rc == 0, err + out[-500:])
    check("A/A: no regression", "result: no regression" in out, out[-300:])
    check("A/A: the first line says paired", out.startswith(
        "poolbench compare: paired A/B session: 9 interleaved (ABBA) pairs"), out[:200])
    want = []
    for i in range(9):
        want += ["base", "new"] if i % 2 == 0 else ["new", "base"]
    check("ABBA order", s.order() == want, s.order())
    with open(s.log) as f:
        first = f.readline().split()
    check("each run: the suite, one repetition, no warm-up, quiet, its own file",
          first[1:8] == ["--suite", "quick", "--repetitions", "1", "--warmup", "0", "--quiet"],
          first)
    d = s.doc()
    check("session file: schema, complete, 9 pairs",
          d["schema"] == "poolbench-ab/1" and d["run"]["complete"] is True and
          len(d["pairs"]) == 9 and [p["order"] for p in d["pairs"]] == ["AB", "BA"] * 4 + ["AB"],
          d.get("run"))
    m = metric(d, "thread", "roundtrip", "roundtrip")
    check("session file: one value a pair and side", m and len(m["base"]) == 9 and
          len(m["new"]) == 9, m)
    check("session file: the sides' revisions", d["base"]["environment"]["git_revision"] ==
          "base" and d["new"]["environment"]["git_revision"] == "new")
    check("no working folder left", not os.path.exists(os.path.join(s.dir, ".ab.json.runs")),
          os.listdir(s.dir))
    schema_check("session file", "ab.schema.json", s.out)
    rc, rep, err = json_report(s.out)
    check("compare AB.json: paired, no regression", rc == 0 and rep.get("kind") == "paired" and
          rep.get("regressions") == 0, err)
    r = row(rep, "thread", "roundtrip", "roundtrip")
    check("compare AB.json: a row's pairs, CI, W, and a threshold: 2% or the pairs' own "
          "noise band", r and r["pairs"] == 9 and "ci_low_pct" in r and "w" in r and
          r["threshold_pct"] == max(2, r["session_band_pct"]) and r["session_band_pct"] > 0, r)
    return s


def test_per_scenario(tmp):
    s = Session(tmp, "per-scenario", noise=0.02)
    rc, out, err = s.run("--pairs", "2", "--interleave", "scenario", "--scenario",
                         "roundtrip,throughput")
    check("per scenario: exit 0", rc == 0, err)
    with open(s.log) as f:
        runs = [(line.split()[0], line.split()[line.split().index("--scenario") + 1])
                for line in f]
    want = [("base", "roundtrip"), ("new", "roundtrip"), ("new", "throughput"),
            ("base", "throughput"), ("base", "roundtrip"), ("new", "roundtrip"),
            ("new", "throughput"), ("base", "throughput")]
    check("per scenario: a run per scenario and side, alternating (ABBA)", runs == want, runs)
    d = s.doc()
    m = metric(d, "floor", "clock", "call")
    check("per scenario: a case measured in several runs of a pair counts once",
          m and len(m["base"]) == 2 and d["run"]["interleave"] == "scenario", m)
    rc, out, err = s.run("--pairs", "1", "--interleave", "scenario", "--suite",
                         "/nonexistent/suite.json")
    check("per scenario: a suite this program cannot read: exit 2",
          rc == 2 and "no such suite file" in err, err)


def test_planted(tmp, factor, name):
    s = Session(tmp, name, noise=0.03,
                slower={"new": {"thread/roundtrip/roundtrip": factor}})
    rc, out, err = s.run()
    return s, rc, out, err


def test_regressions(tmp):
    s, rc, out, err = test_planted(tmp, 1.10, "slow10")
    res = out.split("result:")[-1]
    check("10% slower: exit 1", rc == 1, err + out[-500:])
    check("10% slower: names thread/roundtrip roundtrip",
          "thread/roundtrip payload=8 roundtrip +" in res and "fork" not in res, res)
    rc, rep, _ = json_report(s.out)
    r = row(rep, "thread", "roundtrip", "roundtrip")
    check("10% slower: W 0, p 2/512, effect about 10%",
          r and r["verdict"] == "regression" and r["w"] == 0 and
          abs(r["p_value"] - 2 / 512) < 1e-12 and 5 < r["worse_pct"] < 15, r)
    rc, md, _ = run("compare", s.out, "--format", "markdown")
    check("markdown: the verdict first, only what changed",
          md.startswith("### poolbench compare: 1 regression\n") and
          md.count("| thread/roundtrip payload=8 | roundtrip |") == 1 and
          "| fork/roundtrip" not in md.split("<details>")[0], md[:1500])

    s, rc, out, err = test_planted(tmp, 1.03, "slow3")
    rc2, rep, _ = json_report(s.out)
    r = row(rep, "thread", "roundtrip", "roundtrip")
    check("3% slower: never an improvement", r and r["verdict"] != "improvement", r)

    s, rc, out, err = test_planted(tmp, 0.90, "fast10")
    rc2, rep, _ = json_report(s.out)
    r = row(rep, "thread", "roundtrip", "roundtrip")
    check("10% faster: an improvement, exit 0", rc == 0 and r and r["verdict"] == "improvement",
          (rc, r))

    s = Session(tmp, "checkfail", noise=0.01,
                fail_check={"new": "fork/roundtrip/result_matches"})
    rc, out, err = s.run("--pairs", "3")
    check("a check failing in NEW only: exit 1, said", rc == 1 and
          "checks that started failing:\n  fork/roundtrip payload=8: result_matches: planted by "
          "the test" in out, out[-800:])


def test_failures(tmp):
    s = Session(tmp, "runfails", exit={"new": [2, 2, "poolbench run: --suite: no such suite"]})
    rc, out, err = s.run("--pairs", "4")
    check("a run that fails: exit 2, its message", rc == 2 and
          "poolbench ab: the new run failed (exit status 2): poolbench run: --suite: no such "
          "suite" in err, err)
    d = s.doc()
    check("a run that fails: the finished pair kept, incomplete",
          len(d["pairs"]) == 1 and d["run"]["complete"] is False, d["run"])
    check("a run that fails: its files kept", os.path.exists(
        os.path.join(s.dir, ".ab.json.runs", "pair-02-new.log")), os.listdir(s.dir))

    rc, out, err = run("ab", "/nonexistent/poolbench", FAKE, "--out", os.path.join(tmp, "x.json"))
    check("BASE not a program: exit 2, one line",
          rc == 2 and err.count("\n") == 1 and "BASE /nonexistent/poolbench: not a poolbench "
          "program" in err, err)
    rc, out, err = run("ab", FAKE, FAKE)
    check("ab without --out: exit 2", rc == 2 and "--out" in err, err)
    rc, out, err = run("ab", tmp, FAKE, "--out", os.path.join(tmp, "x.json"))
    check("a folder without a program: exit 2", rc == 2 and "a folder without a poolbench "
          "program" in err, err)


def wait_lines(path, n, proc):
    for _ in range(3000):
        if proc.poll() is not None:
            return False
        try:
            with open(path) as f:
                if len(f.read().splitlines()) >= n:
                    return True
        except OSError:
            pass
        time.sleep(0.01)
    return False


def test_interrupt(tmp):
    s = Session(tmp, "sigint", sleep=0.4)
    p = subprocess.Popen(s.args("--pairs", "5"), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    ok = wait_lines(s.log, 3, p)  # pair 2 has begun: pair 1 is on disk
    if ok:
        check("the first pair is on disk before the second ends",
              len(s.doc()["pairs"]) == 1 and s.doc()["run"]["complete"] is False)
        p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    check("SIGINT: exit 130", ok and p.returncode == 130, (p.returncode, err))
    d = s.doc()
    check("SIGINT: the finished pair, incomplete", len(d["pairs"]) == 1 and
          d["run"]["complete"] is False, d["run"])
    check("SIGINT: the verdict on what finished", "poolbench compare: paired A/B session: 1 "
          "interleaved" in out, out[:300])
    check("SIGINT: no working folder left",
          not os.path.exists(os.path.join(s.dir, ".ab.json.runs")), os.listdir(s.dir))

    s = Session(tmp, "sigkill", sleep=0.2)
    p = subprocess.Popen(s.args("--pairs", "6"), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    ok = wait_lines(s.log, 5, p)  # pair 3 has begun
    p.kill()
    p.communicate(timeout=60)
    d = s.doc()
    check("SIGKILL: the two finished pairs on disk, incomplete",
          ok and len(d["pairs"]) == 2 and d["run"]["complete"] is False, d.get("run"))
    rc, rep, err = json_report(s.out)
    check("SIGKILL: the file still reads", rc == 0 and rep.get("kind") == "paired", err)


def test_calibrate(tmp, aa):
    noise = os.path.join(tmp, "noise.json")
    rc, out, err = run("calibrate", "--from", aa.out, "--out", noise)
    check("calibrate --from: exit 0, says what", rc == 0 and "metrics calibrated from 9 pairs" in
          out, err + out)
    schema_check("noise file", "noise.schema.json", noise)
    with open(noise) as f:
        n = json.load(f)
    m = [x for x in n["metrics"] if (x["backend"], x["scenario"], x["metric"]) ==
         ("thread", "roundtrip", "roundtrip")]
    check("calibration: one entry a metric with its pairs and sigma",
          n["schema"] == "poolbench-noise/1" and len(m) == 1 and m[0]["pairs"] == 9 and
          0 < m[0]["sigma"] < 0.06, m)
    # A loud calibration raises the threshold above a planted change.
    loud = json.loads(json.dumps(n))
    for x in loud["metrics"]:
        x["sigma"] = 0.2
    lpath = os.path.join(tmp, "loud.json")
    with open(lpath, "w") as f:
        json.dump(loud, f)
    s, rc, out, err = test_planted(tmp, 1.10, "slow10-noise")
    rc, rep, err = json_report(s.out, "--noise", lpath)
    r = row(rep, "thread", "roundtrip", "roundtrip")
    check("--noise: a 10% change within a calibrated 20% sigma is unchanged",
          rc == 0 and r and r["calibrated"] is True and r["threshold_pct"] > 10 and
          r["verdict"] == "unchanged", (rc, r, err))
    rc, out, err = run("compare", s.out, "--noise", aa.out)
    check("--noise with a session file: exit 2", rc == 2 and "not a noise calibration" in err,
          err)

    s = Session(tmp, "calib", noise=0.02)
    out_path = os.path.join(s.dir, "n.json")
    p = subprocess.run([PB, "calibrate", s.progs["base"], "--out", out_path, "--pairs", "4",
                        "--suite", "quick", "--interleave", "suite", "--quiet"],
                       capture_output=True, text=True,
                       timeout=120)
    check("calibrate PROGRAM: an A/A session, then the noise",
          p.returncode == 0 and os.path.exists(out_path) and
          os.path.exists(os.path.join(s.dir, "n-aa.json")) and
          s.order() == ["base"] * 8, (p.returncode, p.stderr, s.order()))


def test_duet(tmp):
    s = Session(tmp, "duet", noise=0.01)
    ncpu = len(os.sched_getaffinity(0))
    rc, out, err = s.run("--pairs", "2", "--duet")
    if ncpu < 2:
        check("duet on one CPU: refused", rc == 2 and "--duet needs at least 2 CPUs" in err, err)
        return
    check("duet: exit 0, pairs marked", rc == 0 and
          [p["order"] for p in s.doc()["pairs"]] == ["duet", "duet"], err)


def test_module(tmp):
    """The real program with a module on both sides (mechanics only)."""
    out = os.path.join(tmp, "module.json")
    rc, stdout, err = run("ab", PLUGIN, PLUGIN, "--out", out, "--suite", TINY, "--backend",
                          "inline", "--scenario", "roundtrip", "--pairs", "2", "--quiet")
    check("modules: a session of this program with --load", rc in (0, 1) and
          os.path.exists(out), (rc, err))
    if os.path.exists(out):
        with open(out) as f:
            d = json.load(f)
        check("modules: the plugin's backend measured on both sides",
              metric(d, "inline", "roundtrip", "roundtrip") is not None and len(d["pairs"]) == 2)


with tempfile.TemporaryDirectory() as tmp:
    aa = test_aa(tmp)
    test_per_scenario(tmp)
    test_regressions(tmp)
    test_failures(tmp)
    test_interrupt(tmp)
    test_calibrate(tmp, aa)
    test_duet(tmp)
    test_module(tmp)
sys.exit(verdict())
