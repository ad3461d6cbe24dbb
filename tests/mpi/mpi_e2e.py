#!/usr/bin/env python3
"""The mpi backend end to end, through the poolbench program.

    mpi_e2e.py POOLBENCH MPIEXEC SUITE GROUP     (GROUP: run, refusal)

run      `mpiexec --oversubscribe -n 3 poolbench run --suite SUITE --backend
         mpi,fork,exec`: the run must pass and its results hold the MPI floors
         (ping-pong with the idle CPU of a waiting rank, stream), the mpi
         cases held against them (round trip, failing tasks and start-up
         against the ping-pong, bursts and map against the stream) while fork
         and exec keep their own floors, and what the mpi backend says about
         itself (ranks per host, MCA settings) with the trust flag off when
         the ranks outnumber the PUs.
refusal  without mpiexec, the mpi backend is refused when named (exit 2, one
         line naming the command to use), left out of every backend with a
         note, and listed with why; under mpiexec with one rank, refused too.
Prints 'N passed, N failed'; exit 1 on a failure.
"""
import json
import os
import subprocess
import sys
import tempfile

PB, MPIEXEC, SUITE, GROUP = sys.argv[1:5]
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from pbcheck import check, verdict  # noqa: E402


def run(args, timeout=600):
    p = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def cases(doc, backend, scenario):
    return [c for c in doc["results"] if c["backend"] == backend and c["scenario"] == scenario]


def held_against(doc, backend, scenario, metric, floor, params=None):
    """Every matching case of backend has metric with floor `floor` and a ratio."""
    found = False
    for c in cases(doc, backend, scenario):
        if params and any(c["params"].get(k) != v for k, v in params.items()):
            continue
        found = True
        what = "%s %s %s %s" % (backend, scenario, json.dumps(c["params"]), metric)
        if not check(what + " ok", c["outcome"] == "ok", c["reason"]):
            continue
        m = c["metrics"].get(metric)
        if not check(what + " measured", m is not None):
            continue
        ref = m.get("floor", {})
        check(what + " held against " + floor, ref.get("scenario") == floor, json.dumps(ref))
        check(what + " has a ratio", isinstance(m.get("ratio_to_floor"), (int, float))
              and m["ratio_to_floor"] > 0, str(m.get("ratio_to_floor")))
    check("%s %s present" % (backend, scenario), found)


def group_run():
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "mpi.json")
        rc, so, se = run([MPIEXEC, "--oversubscribe", "-n", "3", PB, "run", "--suite", SUITE,
                          "--backend", "mpi,fork,exec", "--quiet", "--out", out])
        if not check("run under mpiexec exits 0", rc == 0, "%d\n%s\n%s" % (rc, so, se)):
            return
        with open(out) as f:
            doc = json.load(f)
    check("run complete", doc["run"]["complete"] is True)

    pp = cases(doc, "floor", "mpi_pingpong")
    st = cases(doc, "floor", "mpi_stream")
    if check("floor mpi_pingpong measured", len(pp) == 1 and pp[0]["outcome"] == "ok",
             json.dumps(pp)[:500]):
        m = pp[0]["metrics"]
        for k in ("roundtrip", "rate", "idle_cpu", "idle_cpu_sleep"):
            check("mpi_pingpong has " + k, k in m and m[k]["p50"] >= 0, json.dumps(list(m)))
        if "idle_cpu" in m and "idle_cpu_sleep" in m:
            # MPI's receive polls; napping does not: the floor must tell them apart.
            check("a rank waiting in MPI's receive burns more than one that naps",
                  m["idle_cpu"]["p50"] > m["idle_cpu_sleep"]["p50"],
                  "%g vs %g" % (m["idle_cpu"]["p50"], m["idle_cpu_sleep"]["p50"]))
    if check("floor mpi_stream measured", len(st) == 1 and st[0]["outcome"] == "ok",
             json.dumps(st)[:500]):
        check("mpi_stream has a rate", st[0]["metrics"]["rate"]["p50"] > 0)

    held_against(doc, "mpi", "roundtrip", "roundtrip", "mpi_pingpong")
    held_against(doc, "mpi", "errors", "roundtrip", "mpi_pingpong")
    held_against(doc, "mpi", "startup", "startup", "mpi_pingpong")
    held_against(doc, "mpi", "throughput", "throughput", "mpi_stream", {"granularity": 0})
    held_against(doc, "mpi", "map", "throughput", "mpi_stream")
    held_against(doc, "fork", "roundtrip", "roundtrip", "pipe_pingpong")
    held_against(doc, "exec", "startup", "startup", "spawn")
    # MPI's floors are the mpi backend's alone: fork's map keeps the stream
    # of its own kind of hand-off.
    held_against(doc, "fork", "map", "throughput", "pipe_stream")

    for c in cases(doc, "mpi", "roundtrip"):
        info = c.get("backend_info")
        if not check("mpi roundtrip has backend_info", isinstance(info, dict)):
            break
        check("backend_info: 3 ranks, 2 workers", info.get("ranks") == 3 and info.get("workers") == 2,
              json.dumps(info))
        hosts = info.get("hosts", [])
        check("backend_info: ranks per host add up", sum(h["ranks"] for h in hosts) == 3,
              json.dumps(hosts))
        mca = info.get("mca", {})
        check("backend_info: MCA settings recorded", "btl" in mca and "pml" in mca, json.dumps(mca))
        crowded = any(h["ranks"] > h["pus"] for h in hosts)
        check("untrusted exactly when ranks outnumber PUs", crowded == ("untrusted" in info),
              json.dumps(info))
        trusted = [m["trusted"] for m in c["metrics"].values()]
        if crowded:
            check("crowded ranks: every metric untrusted", not any(trusted), str(trusted))
    for c in cases(doc, "fork", "roundtrip"):
        check("fork has no backend_info", "backend_info" not in c)


def group_refusal():
    env_outside = {k: v for k, v in os.environ.items()
                   if not k.startswith(("OMPI_COMM_WORLD", "PMIX_", "PB_LAUNCHED"))}
    p = subprocess.run([PB, "run", "--backend", "mpi", "--scenario", "roundtrip"],
                       capture_output=True, text=True, timeout=60, env=env_outside)
    lines = p.stderr.strip().splitlines()
    check("--backend mpi outside mpiexec exits 2", p.returncode == 2, str(p.returncode))
    check("... with one line", len(lines) == 1, p.stderr)
    check("... naming the command", "mpiexec -n <workers+1>" in p.stderr, p.stderr)

    p = subprocess.run([PB, "list"], capture_output=True, text=True, timeout=60, env=env_outside)
    mpi = [l for l in p.stdout.splitlines() if "mpiexec" in l or "crash_recovery" in l]
    check("list shows mpi and why not here", any("not here:" in l for l in mpi), p.stdout[:3000])
    check("list says a dead rank cannot be survived", any("no crash_recovery" in l for l in mpi))
    check("list refuses task_timeout for mpi",
          any("no task_timeout" in l and "MPI job" in l for l in p.stdout.splitlines()))

    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "every.json")
        p = subprocess.run([PB, "run", "--scenario", "roundtrip", "--repetitions", "1",
                            "--warmup", "0", "--out", out], capture_output=True, text=True,
                           timeout=600, env=env_outside)
        check("every backend outside mpiexec runs", p.returncode == 0, p.stderr)
        check("... and notes mpi left out", "left out: mpi backend" in p.stderr, p.stderr)
        if p.returncode == 0:
            with open(out) as f:
                doc = json.load(f)
            backends = {c["backend"] for c in doc["results"]}
            check("... without mpi cases or MPI floors", "mpi" not in backends and not any(
                c["scenario"].startswith("mpi_") for c in doc["results"]), str(backends))

    rc, so, se = run([MPIEXEC, "-n", "1", PB, "run", "--backend", "mpi", "--scenario",
                      "roundtrip"], timeout=120)
    check("a job of one rank refuses mpi", rc == 2 and "no worker rank" in se, "%d %s" % (rc, se))


{"run": group_run, "refusal": group_refusal}[GROUP]()
sys.exit(verdict())
