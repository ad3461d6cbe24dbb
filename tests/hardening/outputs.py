#!/usr/bin/env python3
"""Where `poolbench run --out` and `stress --out` may write, checked before
anything is measured.

    outputs.py POOLBENCH [DATA_DIR]

- A device node (root: a scratch one made with mknod, never a real one), a
  FIFO, a socket, a folder, a symbolic link to nothing or to a device, the
  suite being run, the program itself, a missing folder and /proc: each
  refused with exit 2 and one line, nothing measured, the path untouched.
- A symbolic link to a regular file: written through (the link stays).
- Modes: a new file gets 0666 less the umask (077 -> 0600, 022 -> 0644); a
  replaced file keeps its permission bits.
- "-": the results document is standard output, the summary goes to stderr.
Prints what failed; exit 0 passed, 1 failed.
"""
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile

from hardening import check_refused, fail, verdict

PB = sys.argv[1]

SUITE = {"description": "one quick case", "repetitions": 1, "warmup": 0, "floor": False,
         "backends": ["thread"],
         "scenarios": [{"name": "roundtrip", "params": {"samples": 10}}]}



def run(args, cwd, umask=None, timeout=120, program=None):
    def pre():
        if umask is not None:
            os.umask(umask)
    return subprocess.run([program or PB] + args, cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, preexec_fn=pre)


def refused(name, args, cwd, path, says, program=None):
    """args must exit 2 with one line naming the problem, measuring nothing,
    and leave path as it was."""
    before = os.lstat(path) if path and os.path.lexists(path) else None
    r = run(args, cwd, program=program)
    check_refused(name, r.returncode, r.stdout, r.stderr, says)
    if before is not None:
        after = os.lstat(path)
        if (after.st_mode, after.st_ino, after.st_rdev) != (
                before.st_mode, before.st_ino, before.st_rdev):
            fail(f"{name}: {path} was replaced ({stat.filemode(before.st_mode)} -> "
                 f"{stat.filemode(after.st_mode)})")


def run_ok(name, args, cwd, umask=None):
    r = run(args, cwd, umask)
    if r.returncode != 0:
        fail(f"{name}: exit {r.returncode}; stderr: {r.stderr.strip()[-800:]}")
    return r


def is_results(path):
    try:
        with open(path) as f:
            return json.load(f).get("schema") == "poolbench-results/1"
    except (OSError, ValueError):
        return False


def main():
    with tempfile.TemporaryDirectory(prefix="pb-outputs.") as tmp:
        suite = os.path.join(tmp, "s.json")
        with open(suite, "w") as f:
            json.dump(SUITE, f)
        run_args = ["run", "--suite", suite, "--quiet", "--out"]

        # Not a results file: refused before measuring, left alone.
        fifo = os.path.join(tmp, "fifo")
        os.mkfifo(fifo)
        refused("run --out FIFO", run_args + [fifo], tmp, fifo, "is a FIFO")
        refused("stress --out FIFO", ["stress", "--duration", "1", "--out", fifo], tmp, fifo,
                "is a FIFO")
        sock_path = os.path.join(tmp, "sock")
        sock = socket.socket(socket.AF_UNIX)
        sock.bind(sock_path)
        refused("run --out socket", run_args + [sock_path], tmp, sock_path, "is a socket")
        sock.close()
        refused("run --out folder", run_args + [tmp], tmp, tmp, "is a folder")
        dangling = os.path.join(tmp, "dangling.json")
        os.symlink(os.path.join(tmp, "nowhere", "x.json"), dangling)
        refused("run --out dangling link", run_args + [dangling], tmp, dangling,
                "symbolic link to a file that does not exist")
        refused("run --out SUITE", run_args + [suite], tmp, suite, "is the suite file")
        with open(suite) as f:
            if json.load(f) != SUITE:
                fail("run --out SUITE: the suite file changed")
        with open(suite, "w") as f:  # for what follows, whatever happened
            json.dump(SUITE, f)
        # The program itself, as a copy: a broken check replaces the copy.
        # It finds its library through $ORIGIN/../<libdir>, linked there.
        pb_dir = os.path.dirname(os.path.abspath(PB))
        copy_dir = os.path.join(tmp, "copy", "harness")
        os.makedirs(copy_dir)
        copy = os.path.join(copy_dir, "poolbench")
        shutil.copy2(PB, copy)
        for entry in os.listdir(os.path.dirname(pb_dir)):
            if entry.startswith("lib"):
                os.symlink(os.path.join(os.path.dirname(pb_dir), entry),
                           os.path.join(tmp, "copy", entry))
        refused("run --out PROGRAM", run_args + [copy], tmp, copy, "poolbench is running from",
                program=copy)
        refused("stress --out missing folder",
                ["stress", "--duration", "1", "--out", "/nonexistent/dir/x.json"], tmp, None,
                "does not exist")
        refused("stress --out /proc/version",
                ["stress", "--duration", "1", "--out", "/proc/version"], tmp, "/proc/version",
                "cannot create a file")
        refused("run --out /proc/version", run_args + ["/proc/version"], tmp, "/proc/version",
                "cannot create a file")
        if os.geteuid() == 0:
            # A scratch null device of our own: a broken check replaces it,
            # never the real /dev/null.
            node = os.path.join(tmp, "null")
            os.mknod(node, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
            refused("run --out DEVICE", run_args + [node], tmp, node, "is a character device")
            refused("stress --out DEVICE", ["stress", "--duration", "1", "--out", node], tmp,
                    node, "is a character device")
            to_node = os.path.join(tmp, "to-null.json")
            os.symlink(node, to_node)
            refused("run --out link to DEVICE", run_args + [to_node], tmp, node,
                    "is a character device")
        else:
            print("note: not root; the device-node cases need mknod")

        # Through a symbolic link to a regular file: the file is replaced,
        # the link stays.
        target = os.path.join(tmp, "target.json")
        with open(target, "w") as f:
            f.write("old\n")
        os.chmod(target, 0o640)
        link = os.path.join(tmp, "link.json")
        os.symlink("target.json", link)
        run_ok("run --out LINK", run_args + [link], tmp)
        if not os.path.islink(link):
            fail("run --out LINK: the link was replaced by a file")
        if not is_results(target):
            fail("run --out LINK: the file it links to holds no results")
        mode = stat.S_IMODE(os.stat(target).st_mode)
        if mode != 0o640:
            fail(f"run --out EXISTING: mode {oct(mode)}, want the old file's 0o640")

        # New files honour the umask.
        for umask, want in ((0o077, 0o600), (0o022, 0o644)):
            new = os.path.join(tmp, f"new-{umask:o}.json")
            run_ok(f"run --out NEW under umask {umask:03o}", run_args + [new], tmp, umask)
            if not is_results(new):
                fail(f"run --out NEW under umask {umask:03o}: no results written")
            elif stat.S_IMODE(os.stat(new).st_mode) != want:
                fail(f"run --out NEW under umask {umask:03o}: mode "
                     f"{oct(stat.S_IMODE(os.stat(new).st_mode))}, want {oct(want)}")
        stress_new = os.path.join(tmp, "stress-077.json")
        run_ok("stress --out NEW under umask 077",
               ["stress", "--backend", "thread", "--ops", "50", "--duration", "5", "--quiet",
                "--out", stress_new], tmp, 0o077)
        if not is_results(stress_new) or stat.S_IMODE(os.stat(stress_new).st_mode) != 0o600:
            fail("stress --out NEW under umask 077: not a 0600 results file")

        # "-": standard output is the results file's alone.
        r = run_ok("run --out -", run_args + ["-"], tmp)
        try:
            if json.loads(r.stdout).get("schema") != "poolbench-results/1":
                fail("run --out -: stdout is not a results document")
        except ValueError:
            fail(f"run --out -: stdout is not JSON: {r.stdout[:300]!r}")
        if "roundtrip" not in r.stderr:
            fail(f"run --out -: the summary is not on stderr: {r.stderr[:300]!r}")
        r = run_ok("stress --out -", ["stress", "--backend", "thread", "--ops", "50", "--quiet",
                                      "--out", "-"], tmp)
        try:
            if json.loads(r.stdout).get("run", {}).get("kind") != "stress":
                fail("stress --out -: stdout is not a stress results document")
        except ValueError:
            fail(f"stress --out -: stdout is not JSON: {r.stdout[:300]!r}")

    return verdict()


if __name__ == "__main__":
    sys.exit(main())
