#!/usr/bin/env python3
"""What poolbench reads: regular files (or "-", standard input), whole,
capped, and checked for keys and cases given twice.

    readers.py POOLBENCH DATA_DIR      (DATA_DIR: tests/data)

- compare, export, history and plot refuse a device (/dev/zero), a FIFO
  with no writer (no hang) and a folder named as a file, with exit 2 and
  one line; run refuses the same as a suite.
- "-" reads standard input, under the same cap: /dev/zero piped in is
  refused as too large, not read until memory runs out.
- A results file with a key twice in one object, or two cases with the same
  backend, scenario and parameters, is refused naming what is repeated.
Prints what failed; exit 0 passed, 1 failed.
"""
import json
import os
import subprocess
import sys
import tempfile

from hardening import check_refused, fail, verdict

PB, DATA = sys.argv[1], sys.argv[2]
GOOD = os.path.join(DATA, "quick-base.json")



def run(args, stdin=subprocess.DEVNULL, timeout=60):
    try:
        return subprocess.run([PB] + args, stdin=stdin, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None


def refused(name, args, says, stdin=subprocess.DEVNULL):
    r = run(args, stdin)
    if r is None:
        fail(f"{name}: still running after 60 s (a read that blocks or never ends)")
        return
    check_refused(name, r.returncode, r.stdout, r.stderr.decode(errors="replace"), says)


def main():
    with tempfile.TemporaryDirectory(prefix="pb-readers.") as tmp:
        fifo = os.path.join(tmp, "fifo.json")
        os.mkfifo(fifo)
        for cmd in (["compare", "/dev/zero", GOOD], ["compare", GOOD, "/dev/zero"],
                    ["export", "--format", "csv", "/dev/zero"], ["history", "/dev/zero"],
                    ["plot", "/dev/zero", "--out", tmp]):
            refused(" ".join(cmd[:2]) + " /dev/zero", cmd, "is a character device")
        for cmd in (["history", fifo], ["compare", fifo, GOOD],
                    ["export", "--format", "csv", fifo], ["plot", fifo, "--out", tmp]):
            refused(cmd[0] + " FIFO", cmd, "is a FIFO")
        refused("run --suite FIFO", ["run", "--suite", fifo], "is a FIFO")
        refused("run --suite /dev/zero", ["run", "--suite", "/dev/zero"], "")
        refused("compare FOLDER", ["compare", tmp, GOOD], "is a folder")

        # Standard input: read under the cap.
        with open("/dev/zero", "rb") as zero:
            refused("compare - < /dev/zero", ["compare", "-", GOOD], "too large", stdin=zero)
        with open(GOOD, "rb") as f:
            r = run(["export", "--format", "csv", "-"], stdin=f)
        if r is None or r.returncode != 0 or not r.stdout.startswith(b"run_started,"):
            fail(f"export - < good file: {r and r.returncode} {r and r.stderr[:300]!r}")
        with open(GOOD, "rb") as f:
            r = run(["compare", GOOD, "-"], stdin=f)
        if r is None or r.returncode != 0:
            fail(f"compare GOOD - < GOOD: {r and r.returncode} {r and r.stderr[:300]!r}")

        # A key twice in one object.
        with open(GOOD) as f:
            text = f.read()
        dup_key = os.path.join(tmp, "dup-key.json")
        with open(dup_key, "w") as f:
            f.write(text.replace('"schema": "poolbench-results/1",',
                                 '"schema": "poolbench-results/1", "schema": "x",', 1))
        for cmd in (["compare", dup_key, GOOD], ["export", "--format", "csv", dup_key],
                    ["history", dup_key]):
            refused(cmd[0] + " duplicate key", cmd, "duplicate object key")

        # A case twice.
        doc = json.loads(text)
        doc["results"].append(doc["results"][3])
        dup_case = os.path.join(tmp, "dup-case.json")
        with open(dup_case, "w") as f:
            json.dump(doc, f)
        n = len(doc["results"]) - 1
        for cmd in (["compare", GOOD, dup_case], ["export", "--format", "csv", dup_case],
                    ["history", dup_case], ["plot", dup_case, "--out", tmp]):
            refused(cmd[0] + " duplicate case", cmd, f"results[{n}] repeats results[3]")
        # The same case with its parameters spelled 8.0 for 8 is the same case.
        doc = json.loads(text)
        case = json.loads(json.dumps(doc["results"][3]))
        if case["params"]:
            k = sorted(case["params"])[0]
            if isinstance(case["params"][k], int):
                case["params"][k] = float(case["params"][k])
            doc["results"].append(case)
            with open(dup_case, "w") as f:
                json.dump(doc, f)
            refused("export duplicate case (8.0 for 8)", ["export", "--format", "csv", dup_case],
                    f"repeats results[3]")

    return verdict()


if __name__ == "__main__":
    sys.exit(main())
