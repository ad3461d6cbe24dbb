"""What the hardening tests share: failures collected as they come, the
check of a refusal (exit 2, one line saying why, nothing on standard
output), and the verdict (exit 0 passed, 1 failed)."""

failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL: " + msg)


def check_refused(name, status, stdout, stderr, says):
    """A refusal: exit status 2, exactly one line on stderr holding `says`,
    nothing on stdout. False when it was not."""
    ok = True
    lines = stderr.strip().splitlines()
    if status != 2 or len(lines) != 1 or says not in stderr:
        fail(f"{name}: exit {status}, stderr {stderr.strip()[:400]!r}; want 2 and one line "
             f"with {says!r}")
        ok = False
    if stdout:
        fail(f"{name}: wrote to stdout before refusing: {stdout[:300]!r}")
        ok = False
    return ok


def verdict():
    """The exit status of the test: prints how it went."""
    if failures:
        print(f"{len(failures)} failure(s)")
        return 1
    print("passed")
    return 0
