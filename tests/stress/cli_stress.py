#!/usr/bin/env python3
"""End-to-end checks of `poolbench stress`.

    cli_stress.py POOLBENCH SCHEMA

--help; every bad argument exits 2 with exactly one line on stderr and
writes no results file; a short run on the thread backend exits 0, prints
its seed and writes a results file (run.kind "stress") that validates
against the JSON Schema (when python3-jsonschema is installed) and holds
the counts and checks FORMAT.md promises.
"""
import json
import os
import subprocess
import sys
import tempfile

failures = 0


def fail(msg):
    global failures
    failures += 1
    print("FAIL: " + msg)


def run(args, timeout=120):
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout)


def main(argv):
    if len(argv) != 3:
        print(__doc__.strip())
        return 2
    pb, schema_path = argv[1], argv[2]

    r = run([pb, "stress", "--help"])
    if r.returncode != 0 or "usage: poolbench stress" not in r.stdout:
        fail("--help: status %d, stdout %r" % (r.returncode, r.stdout[:200]))

    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "bad.json")
        bad = [
            (["--duration", "0"], "--duration"),
            (["--duration", "ten"], "--duration"),
            (["--duration"], "--duration needs a value"),
            (["--seed", "-1"], "--seed"),
            (["--seed", "12x"], "--seed"),
            (["--workers", "-2"], "--workers"),
            (["--threads", "0"], "--threads"),
            (["--ops", "many"], "--ops"),
            (["--faults", "segv,bogus"], "unknown fault 'bogus'"),
            (["--faults", ""], "--faults"),
            (["--fault-rate", "0"], "--fault-rate"),
            (["--watchdog", "-5"], "--watchdog"),
            (["--tolerance", "0"], "--tolerance"),
            (["--backend", "nosuchpool"], "unknown backend 'nosuchpool'"),
            (["--backend", "thread,,fork"], "empty name"),
            (["--load", os.path.join(tmp, "missing.so")], "--load"),
            (["--out", ""], "--out"),
            (["--bogus"], "unknown option '--bogus'"),
            (["extra"], "unexpected argument 'extra'"),
        ]
        for args, needle in bad:
            r = run([pb, "stress", "--out", out] + args if args[0] != "--out" else [pb, "stress"] + args)
            lines = r.stderr.splitlines()
            if r.returncode != 2:
                fail("%s: status %d, expected 2 (stderr %r)" % (args, r.returncode, r.stderr))
            elif len(lines) != 1:
                fail("%s: %d lines on stderr, expected one: %r" % (args, len(lines), r.stderr))
            elif needle not in lines[0] or not lines[0].startswith("poolbench stress: "):
                fail("%s: stderr %r does not name %r" % (args, lines[0], needle))
            if os.path.exists(out):
                fail("%s: a results file was written" % args)
                os.unlink(out)

        out = os.path.join(tmp, "stress.json")
        r = run([pb, "stress", "--backend", "thread", "--duration", "1", "--seed", "31",
                 "--threads", "2", "--out", out])
        if r.returncode != 0:
            fail("short run: status %d, stderr:\n%s" % (r.returncode, r.stderr))
        if "seed 31 (replay with --seed 31)" not in r.stderr:
            fail("short run: the seed is not printed: %r" % r.stderr[:300])
        if not os.path.exists(out):
            fail("short run: no results file")
            return 1
        with open(out) as f:
            doc = json.load(f)
        if doc.get("run", {}).get("kind") != "stress" or not doc["run"].get("complete"):
            fail("results: run is %r" % doc.get("run"))
        cases = doc.get("results", [])
        if len(cases) != 1 or cases[0].get("backend") != "thread" or \
                cases[0].get("scenario") != "stress":
            fail("results: cases %r" % [(c.get("backend"), c.get("scenario")) for c in cases])
        else:
            c = cases[0]
            for m in ("operations", "faults_injected", "faults_survived", "violations"):
                if m not in c["metrics"] or c["metrics"][m]["unit"] != "count":
                    fail("results: metric %s missing or not a count" % m)
            if c["metrics"]["operations"]["p50"] <= 0:
                fail("results: no operations counted")
            if c["metrics"]["violations"]["p50"] != 0 or c["outcome"] != "ok":
                fail("results: violations in a clean run: %r" % c["reason"])
            if c["params"].get("seed") != 31:
                fail("results: params %r" % c["params"])
            names = [k["name"] for k in c["checks"]]
            for want in ("every_future_done", "no_lost_result", "callbacks_once",
                         "only_injected_failures", "no_fd_left", "no_hang"):
                if want not in names:
                    fail("results: check %s missing (%s)" % (want, names))
        try:
            import jsonschema
            with open(schema_path) as f:
                schema = json.load(f)
            jsonschema.Draft202012Validator(schema).validate(doc)
        except ImportError:
            print("note: python3-jsonschema missing; schema not checked")
        except Exception as e:  # a validation error
            fail("results: does not validate: %s" % str(e).splitlines()[0])

        # The file reads back through poolbench's own reader.
        r = run([pb, "export", "--format", "csv", out])
        if r.returncode != 0:
            fail("poolbench export of the stress results: status %d: %s" % (r.returncode, r.stderr))

    print("cli_stress: %s" % ("ok" if not failures else "%d failure(s)" % failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
