#!/usr/bin/env python3
"""Bad input, end to end: every poolbench command that reads a file or an
option, given wrong arguments, missing files, folders, empty, garbage,
truncated or mutated JSON, suites naming unknown backends or scenarios.

    cli_hostile.py POOLBENCH CORPUS_DIR

Each refusal must be exit status 2 with exactly one line on stderr, never
a crash (a signal, a sanitizer report) and never a results file, finished
or half-written, where --out pointed. Mutated results files (seeded, so
every run feeds the same bytes) may also be accepted: then the command
must exit 0 or 1 (compare: a regression), still without crashing.
"""
import os
import random
import shutil
import stat
import subprocess
import sys
import tempfile

failures = 0
checked = 0


def fail(msg):
    global failures
    failures += 1
    print("FAIL: " + msg)


def run(pb, args, timeout=120):
    p = subprocess.run([pb] + args, capture_output=True, text=True, errors="replace",
                       timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def expect_refusal(pb, args, outdir, needle=None):
    """Exit 2, one stderr line (naming needle if given), nothing in outdir."""
    global checked
    checked += 1
    before = set(os.listdir(outdir))
    rc, out, err = run(pb, args)
    lines = err.splitlines()
    what = "poolbench " + " ".join(args)
    if rc < 0 or rc >= 128:
        fail("%s: crashed (status %d): %s" % (what, rc, err[-500:]))
    elif rc != 2:
        fail("%s: status %d, expected 2; stderr %r" % (what, rc, err[-300:]))
    elif len(lines) != 1:
        fail("%s: %d lines on stderr, expected one: %r" % (what, len(lines), err[-500:]))
    elif needle and needle not in lines[0]:
        fail("%s: %r does not name %r" % (what, lines[0], needle))
    after = set(os.listdir(outdir))
    if after != before:
        fail("%s: left files behind in the output folder: %s" % (what, sorted(after - before)))
        for f in after - before:
            p = os.path.join(outdir, f)
            if os.path.isfile(p):
                os.unlink(p)


def expect_no_crash(pb, args, allowed=(0, 1, 2)):
    global checked
    checked += 1
    rc, out, err = run(pb, args)
    what = "poolbench " + " ".join(args)
    if rc < 0 or rc >= 128 or "Sanitizer" in err or "runtime error" in err:
        fail("%s: crashed (status %d): %s" % (what, rc, err[-800:]))
    elif rc not in allowed:
        fail("%s: status %d, expected one of %s; stderr %r" % (what, rc, allowed, err[-300:]))
    elif rc == 2 and len(err.splitlines()) != 1:
        fail("%s: refused with %d lines on stderr: %r" % (what, len(err.splitlines()), err[-500:]))


def mutate(rng, data):
    data = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        k = rng.randrange(6)
        if not data:
            data = bytearray(b"{")
        i = rng.randrange(len(data))
        if k == 0:
            data[i] ^= 1 << rng.randrange(8)
        elif k == 1:
            data[i] = rng.choice(b'{}[]":,-0123456789e\\\n')
        elif k == 2:
            del data[i:i + rng.randint(1, 40)]
        elif k == 3:
            data[i:i] = data[i:i + rng.randint(1, 60)]
        elif k == 4:
            data = data[:i]
        else:
            j = data.find(b'"', i)
            if j >= 0:
                data[j + 1:j + 1] = rng.choice([b"\\u0000", b"x" * 300, b"\n", b"-1e999"])
    return bytes(data)


def main(argv):
    if len(argv) != 3:
        print(__doc__.strip())
        return 2
    pb, corpus = argv[1], argv[2]
    results_seeds = [os.path.join(corpus, "results", f)
                     for f in sorted(os.listdir(os.path.join(corpus, "results")))
                     if f.endswith(".json")]
    good = os.path.join(corpus, "results", "stress.json")

    with tempfile.TemporaryDirectory() as tmp:
        inp = os.path.join(tmp, "in")
        outdir = os.path.join(tmp, "out")
        os.mkdir(inp)
        os.mkdir(outdir)

        def put(name, data):
            p = os.path.join(inp, name)
            with open(p, "wb") as f:
                f.write(data)
            return p

        with open(good, "rb") as f:
            good_bytes = f.read()
        files = {
            "missing": os.path.join(inp, "missing.json"),
            "empty": put("empty.json", b""),
            "garbage": put("garbage.json", bytes(random.Random(7).randrange(256)
                                                 for _ in range(3000))),
            "notjson": put("notjson.json", b"hello, world\n"),
            "truncated": put("truncated.json", good_bytes[:len(good_bytes) // 3]),
            "scalar": put("scalar.json", b"42"),
            "folder": os.path.join(inp, "folder"),
        }
        os.mkdir(files["folder"])
        put("folder/bad.json", b"{\"schema\": 1}")
        unreadable = None
        if os.geteuid() != 0:  # root reads anything
            unreadable = put("unreadable.json", good_bytes)
            os.chmod(unreadable, 0)
            files["unreadable"] = unreadable

        out = os.path.join(outdir, "out.json")
        for name, path in files.items():
            needle = os.path.basename(path)
            expect_refusal(pb, ["compare", good, path], outdir, needle)
            expect_refusal(pb, ["compare", path, good], outdir, needle)
            expect_refusal(pb, ["export", "--format", "csv", path], outdir, needle)
            expect_refusal(pb, ["export", "--format", "googlebench", path], outdir, needle)
            if name != "folder":  # a folder is a valid history/plot input
                expect_refusal(pb, ["history", path], outdir, needle)
                expect_refusal(pb, ["plot", path, "--out", os.path.join(outdir, "charts")],
                               outdir, needle)
            expect_refusal(pb, ["run", "--suite", path, "--out", out, "--quiet"], outdir)
            expect_refusal(pb, ["list", "--load", path], outdir, needle)
            expect_refusal(pb, ["stress", "--load", path, "--out", out], outdir, needle)

        # Suites that parse but name what does not exist.
        suites = {
            "unknown-backend.json": (b'{"backends": ["thread", "nosuchpool"], '
                                     b'"scenarios": ["roundtrip"]}', "nosuchpool"),
            "unknown-scenario.json": (b'{"scenarios": ["roundtrip", "rondtrip"]}', "rondtrip"),
            "unknown-param.json": (b'{"scenarios": [{"name": "timeout", '
                                   b'"params": {"timeot": "1ms"}}]}', "timeot"),
            "bad-value.json": (b'{"scenarios": [{"name": "timeout", '
                               b'"params": {"timeout": "-5 fortnights"}}]}', "timeout"),
            "bad-type.json": (b'{"repetitions": "five", "scenarios": ["roundtrip"]}',
                              "repetitions"),
            "empty-scenarios.json": (b'{"scenarios": []}', "scenarios"),
            "nul.json": (b'{"scenarios": ["round\x00trip"]}', None),
            "deep.json": (b'{"scenarios": ' + b"[" * 5000 + b"]" * 5000 + b"}", None),
        }
        for name, (text, needle) in suites.items():
            p = put(name, text)
            expect_refusal(pb, ["run", "--suite", p, "--out", out, "--quiet"], outdir, needle)
        expect_refusal(pb, ["run", "--suite", os.path.join(corpus, "suite", "minimal.json"),
                            "--backend", "nosuchpool", "--out", out, "--quiet"], outdir,
                       "nosuchpool")

        # Options, command by command.
        for args in (["run", "--repetitions", "-1"], ["run", "--workers", "x"],
                     ["run", "--pin", "7-3"], ["run", "--bogus"], ["list", "--bogus"],
                     ["env", "extra"], ["compare", good], ["export", good],
                     ["history"], ["plot"], ["plot", good, "--format", "tiff"],
                     ["stress", "--duration", "-1"], ["nosuchcommand"]):
            expect_refusal(pb, args + (["--out", out] if args[0] in ("run", "stress") else []),
                           outdir)

        # Mutated results files: refused in one line, or accepted; never a crash.
        rng = random.Random(20261121)
        for i in range(60):
            seed = results_seeds[i % len(results_seeds)]
            with open(seed, "rb") as f:
                p = put("mutant-%02d.json" % i, mutate(rng, f.read()))
            expect_no_crash(pb, ["export", "--format", ("csv", "googlebench", "bench-custom")[i % 3],
                                 p])
            expect_no_crash(pb, ["compare", good, p])
            expect_no_crash(pb, ["history", p, good])
        for f in os.listdir(outdir):
            fail("files left in the output folder: %s" % f)

        if unreadable:
            os.chmod(unreadable, stat.S_IRUSR | stat.S_IWUSR)

    print("cli_hostile: %d checks, %s" % (checked, "ok" if not failures else
                                           "%d failure(s)" % failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
