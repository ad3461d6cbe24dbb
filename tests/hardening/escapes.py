#!/usr/bin/env python3
"""Text read from a results file never reaches a terminal or a chart as
control characters.

    escapes.py POOLBENCH DATA_DIR      (DATA_DIR: tests/data)

A copy of a good results file gets a backend name holding a newline and a
colour escape, a metric name with an escape, a unit with a bell, a revision
and a check reason with C1 and C0 controls. Then compare (text, markdown),
history (text, tsv), export (csv, and the JSON formats), plot (SVG, and
its messages) and the readers' own error messages must hold no control
character but newline (and tab in TSV), show the escapes instead ("\\n",
"\\x1b"), and keep one line per row. Exit 0 passed, 1 failed.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import xml.dom.minidom

from hardening import fail, verdict

PB, DATA = sys.argv[1], sys.argv[2]
BAD = re.compile(rb"[\x00-\x08\x0b-\x1f\x7f]|\xc2[\x80-\x9f]")
EVIL_BACKEND = "thr\nead\x1b[31m"
EVIL_METRIC = "round\x1b]0;owned\x07trip"



def clean(name, data, tabs=False):
    bad = BAD.findall(data.replace(b"\t", b" ") if tabs else data)
    if bad:
        fail(f"{name}: control characters in the output: {bad[:5]!r}")


def run(name, args, want_status=0, cwd=None):
    r = subprocess.run([PB] + args, capture_output=True, timeout=120, cwd=cwd)
    if r.returncode != want_status:
        fail(f"{name}: exit {r.returncode}, want {want_status}: {r.stderr[-400:]!r}")
    clean(name + " stdout", r.stdout, tabs="tsv" in args)
    clean(name + " stderr", r.stderr)
    return r


def main():
    with open(os.path.join(DATA, "quick-base.json")) as f:
        doc = json.load(f)
    for c in doc["results"]:
        if c["backend"] == "thread":
            c["backend"] = EVIL_BACKEND
        if "roundtrip" in c["metrics"]:
            m = c["metrics"].pop("roundtrip")
            m["unit"] = "ns"
            c["metrics"][EVIL_METRIC] = m
        for m in c["metrics"].values():
            if m["unit"] == "tasks/s":
                m["unit"] = "tasks\x07/s"
        for ck in c["checks"]:
            ck["reason"] = "bad\x9b2J\x1b[2J"
    doc["environment"]["git_revision"] = "\x1b[5mrev\u009b"
    doc["environment"]["host"] = "host\x1b[1m"
    new = json.loads(json.dumps(doc))
    for c in new["results"]:  # a failing check, so compare lists its reason
        for ck in c["checks"]:
            ck["passed"] = False
        for m in c["metrics"].values():
            m["p50"] *= 1.5
    with tempfile.TemporaryDirectory(prefix="pb-escapes.") as tmp:
        base_p, new_p = os.path.join(tmp, "base.json"), os.path.join(tmp, "new.json")
        for p, d in ((base_p, doc), (new_p, new)):
            with open(p, "w") as f:
                json.dump(d, f)

        for fmt in ("text", "markdown"):
            r = run("compare --format " + fmt, ["compare", "--format", fmt, base_p, new_p], 1)
            out = r.stdout.decode()
            if "thr\\nead\\x1b[31m" not in out:
                fail(f"compare --format {fmt}: the backend's escapes are not shown: {out[:600]!r}")
            if "round\\x1b]0;owned\\x07trip" not in out:
                fail(f"compare --format {fmt}: the metric's escapes are not shown")
        r = run("compare --format json", ["compare", "--format", "json", base_p, new_p], 1)
        if EVIL_BACKEND not in r.stdout.decode() and \
                EVIL_BACKEND not in json.dumps(json.loads(r.stdout)):
            pass  # JSON escapes by its own rules; the value may be a label
        # The text table labels a run with the revision's first 7 bytes; TSV
        # has all of it.
        for fmt, shown in (("text", "\\x1b[5mrev"), ("tsv", "\\x1b[5mrev\\u009b")):
            r = run("history --format " + fmt, ["history", "--format", fmt, base_p, new_p])
            if shown not in r.stdout.decode():
                fail(f"history --format {fmt}: the revision's escapes are not shown")
            if fmt == "tsv":
                cols = {len(l.split("\t")) for l in r.stdout.decode().splitlines()}
                if len(cols) != 1:
                    fail(f"history --format tsv: rows of different widths {cols}")
        r = run("export --format csv", ["export", "--format", "csv", base_p])
        if len(r.stdout.decode().splitlines()) < 2 or "thr\\nead" not in r.stdout.decode():
            fail("export --format csv: the backend is not shown escaped on its one line")
        for fmt in ("googlebench", "bench-custom"):
            r = run("export --format " + fmt, ["export", "--format", fmt, base_p])
            json.loads(r.stdout)
        # A file name from a folder, in messages and data files.
        evil_dir = os.path.join(tmp, "runs")
        os.mkdir(evil_dir)
        shutil.copy(base_p, os.path.join(evil_dir, "a\x1b[31m.json"))
        with open(os.path.join(evil_dir, "b\nc.json"), "w") as f:
            f.write("{")
        r = run("history DIR (bad file)", ["history", evil_dir], 2)
        if b"b\\nc.json" not in r.stderr:
            fail(f"history DIR: the file name is not shown escaped: {r.stderr!r}")

        if shutil.which("gnuplot"):
            charts = os.path.join(tmp, "charts")
            r = run("plot --format svg", ["plot", "--format", "svg", "--out", charts, base_p])
            svgs = [f for f in os.listdir(charts) if f.endswith(".svg")] if os.path.isdir(
                charts) else []
            if not svgs:
                fail("plot: no chart drawn")
            for f in svgs:
                with open(os.path.join(charts, f), "rb") as fh:
                    data = fh.read()
                clean("plot " + f, data)
                try:
                    xml.dom.minidom.parseString(data)
                except Exception as e:  # noqa: BLE001 - any parse error fails
                    fail(f"plot {f}: not XML: {e}")
        else:
            print("note: gnuplot not installed; charts not checked")

    return verdict()


if __name__ == "__main__":
    sys.exit(main())
