#!/usr/bin/python3
"""The JSON Schema and poolbench's own reader, over the same files.

    schema_reader.py POOLBENCH SCHEMA GOOD_FILE... --bad BAD_FILE...

results/schema.json is what outside tools check results files with;
pbr_validate() (results/document.c) is what every poolbench command reads
them with. They must agree: a good file passes both, a bad file fails both
— the reader with exit status 2 and one line naming the file — except for
the rules JSON Schema cannot state, listed in READER_ONLY with the reason.
A file the schema passes and the reader refuses (or the reverse) is a
disagreement, and fails this test.

The schema is applied with Draft 2020-12 and its format checker, as a
strict outside tool would. Runs /usr/bin/python3 (Debian's jsonschema).
Exit 0 when both agree everywhere, 1 otherwise, 77 without jsonschema.
"""
import json
import os
import subprocess
import sys

try:
    import jsonschema
except ImportError:
    print("SKIP: python3-jsonschema is not installed (scripts/install-deps.sh)")
    sys.exit(77)

# Rules only the reader can enforce: JSON Schema compares no two values.
READER_ONLY = {
    "histogram-uneven.json": "lower, upper and counts of a histogram differ in length",
    "case-twice.json": "two cases with the same backend, scenario and params",
}


# What the reader must name for a bad file that breaks one rule (so that
# a file broken by accident in another place does not pass for it).
NAMES = {
    "unit-unknown.json": ".unit'",
    "started-not-a-date.json": "run.started",
    "started-no-zone.json": "run.started",
    "started-month-13.json": "run.started",
    "loadavg-two.json": "environment.loadavg",
    "native-no-metric.json": ".native.metric",
    "ratio-to-native-text.json": ".ratio_to_native",
    "untrusted-not-text.json": "backend_info.untrusted",
    "floor-kind-number.json": ".floor.kind",
    "n-negative.json": ".n'",
    "histogram-uneven.json": ".histogram",
    "missing-p50.json": ".p50",
}


def schema_errors(validator, path):
    try:
        with open(path) as f:
            doc = json.load(f)
    except ValueError as e:
        return ["not JSON: %s" % e]
    return [e.message for e in validator.iter_errors(doc)]


def reader(pb, path):
    p = subprocess.run([pb, "export", "--format", "csv", path], capture_output=True, text=True,
                       timeout=60)
    return p.returncode, p.stderr


def main(argv):
    pb, schema_path = argv[1], argv[2]
    with open(schema_path) as f:
        schema = json.load(f)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    good, bad, expect_good = [], [], True
    for a in argv[3:]:
        if a == "--bad":
            expect_good = False
        else:
            (good if expect_good else bad).append(a)
    failures = 0

    def fail(msg):
        nonlocal failures
        failures += 1
        print("FAIL " + msg)

    for path in good:
        errs = schema_errors(validator, path)
        rc, err = reader(pb, path)
        if errs:
            fail("%s: the schema refuses a good file: %s" % (path, errs[0]))
        if rc != 0:
            fail("%s: the reader refuses a good file: %s" % (path, err.strip()))
    for path in bad:
        name = os.path.basename(path)
        errs = schema_errors(validator, path)
        rc, err = reader(pb, path)
        one_line = err.count("\n") == 1 and name in err and NAMES.get(name, "") in err
        if rc != 2 or not one_line:
            fail("%s: the reader should refuse it with exit 2 and one line naming it, got "
                 "exit %d: %r" % (path, rc, err))
        if name in READER_ONLY:
            if errs:
                fail("%s: listed as beyond the schema (%s), yet the schema refuses it: %s — "
                     "remove it from READER_ONLY" % (path, READER_ONLY[name], errs[0]))
        elif not errs:
            fail("%s: the reader refuses it (%s) but the schema passes it" %
                 (path, err.strip()))
        else:
            print("ok %s: reader: %s | schema: %s" % (name, err.strip().split(": ", 2)[-1],
                                                        errs[0][:100]))
    print("schema_reader: %d good and %d bad files, %d disagreements" %
          (len(good), len(bad), failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
