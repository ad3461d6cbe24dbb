"""What the Python test scripts share: checks counted as they come, and the
verdict ('N passed, N failed'; exit status 0, or 1 after a failure).

    sys.path.insert(0, <tests folder>)
    from pbcheck import check, verdict
    ...
    sys.exit(verdict())
"""

passed = failed = 0


def check(name, cond, detail=""):
    """Counts cond; a failure is printed with its detail (cut at 3000
    characters). Returns cond."""
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL %s%s" % (name, (": " + str(detail)[:3000]) if detail else ""))
    return cond


def verdict():
    """Prints the count; the exit status."""
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0
