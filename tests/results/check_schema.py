#!/usr/bin/env python3
"""Validates results files against results/schema.json (JSON Schema 2020-12).

    check_schema.py SCHEMA [--bad] FILE...

Files before --bad must validate; files after it must not (each must fail
to parse or to validate). Prints one line per problem; exit 0 when every
file behaves as expected, 1 otherwise, 77 (ctest's skip code) when the
jsonschema module is missing (scripts/install-deps.sh installs it).
"""
import json
import sys

try:
    import jsonschema
except ImportError:
    print("check_schema: python3-jsonschema is not installed (scripts/install-deps.sh)")
    sys.exit(77)


def main(argv):
    if len(argv) < 3:
        print(__doc__.strip())
        return 2
    with open(argv[1]) as f:
        schema = json.load(f)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    expect_good, failures, checked = True, 0, 0
    for path in argv[2:]:
        if path == "--bad":
            expect_good = False
            continue
        checked += 1
        try:
            with open(path) as f:
                doc = json.load(f)
            errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
        except (ValueError, OSError) as e:
            errors = [e]
        if expect_good and errors:
            failures += 1
            e = errors[0]
            where = "/".join(str(p) for p in getattr(e, "path", []))
            print("%s: does not match the schema at '%s': %s" % (path, where,
                                                                 getattr(e, "message", e)))
        elif not expect_good and not errors:
            failures += 1
            print("%s: matches the schema but should not" % path)
    print("check_schema: %d files checked, %d as expected" % (checked, checked - failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
