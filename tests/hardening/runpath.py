#!/usr/bin/env python3
"""Libraries come only from where the build put them, never from the
current directory.

1. Every ELF file of the build tree (programs, libpbpools, the modules, the
   tests) has a RUNPATH/RPATH whose entries are all absolute or $ORIGIN-
   relative folders that exist: no empty entry (the loader reads "" as the
   current directory, which CMake's padding of install-rewritten RUNPATHs
   used to add) and no relative one.
2. poolbench, started in a scratch folder that holds a planted library under
   the name of every library our ELF files need, loads none of them: the
   planted library's constructor would leave a mark there.

usage: runpath.py --build DIR --poolbench PROGRAM --planted PLANTED.so
Exit 0 passed, 1 failed, 77 skipped (no readelf).
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

from hardening import fail, verdict

# The C runtime and the sanitizer runtimes: planting these would break the
# program before it could tell anything, whatever its RUNPATH.
SYSTEM = re.compile(r"^(libc|libm|libdl|libpthread|librt|libresolv|libutil|ld-linux.*|"
                    r"libgcc_s|libasan|libubsan|libtsan|liblsan|libstdc\+\+)\.so")



def is_elf(path):
    try:
        with open(path, "rb") as f:
            return f.read(4) == b"\x7fELF"
    except OSError:
        return False


def elf_files(build):
    for root, dirs, files in os.walk(build):
        # CMake's compiler probes are not ours.
        dirs[:] = [d for d in dirs if d != "CMakeFiles"]
        for name in files:
            path = os.path.join(root, name)
            if not os.path.islink(path) and is_elf(path):
                yield path


def dynamic(path):
    out = subprocess.run(["readelf", "-dW", path], capture_output=True, text=True)
    runpaths, needed = [], []
    for line in out.stdout.splitlines():
        m = re.search(r"\((RUNPATH|RPATH)\)\s+Library r(?:un)?path: \[(.*)\]", line)
        if m:
            runpaths.append((m.group(1), m.group(2)))
        m = re.search(r"\(NEEDED\)\s+Shared library: \[(.*)\]", line)
        if m:
            needed.append(m.group(1))
    return runpaths, needed


def check_runpath(path, kind, value):
    rel = os.path.relpath(path)
    if "" in value.split(":"):
        fail(f"{rel}: {kind} [{value}] has an empty entry (the current directory)")
    for entry in value.split(":"):
        if entry == "":
            continue
        expanded = re.sub(r"^\$(ORIGIN|\{ORIGIN\})", os.path.dirname(path), entry)
        if not os.path.isabs(expanded):
            fail(f"{rel}: {kind} entry '{entry}' is relative to the current directory")
        elif not os.path.isdir(expanded):
            fail(f"{rel}: {kind} entry '{entry}' is not a folder ({expanded})")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--poolbench", required=True)
    ap.add_argument("--planted", required=True)
    a = ap.parse_args()
    if not shutil.which("readelf"):
        print("SKIP: readelf not found (binutils)")
        return 77

    files = sorted(elf_files(a.build))
    planted_real = os.path.realpath(a.planted)
    needed_all = set()
    checked = 0
    for path in files:
        if os.path.realpath(path) == planted_real:
            continue
        runpaths, needed = dynamic(path)
        needed_all.update(needed)
        for kind, value in runpaths:
            check_runpath(path, kind, value)
            checked += 1
        print(f"{os.path.relpath(path, a.build)}: "
              + (", ".join(f"{k} [{v}]" for k, v in runpaths) or "no RUNPATH"))
    if not any(os.path.realpath(p) == os.path.realpath(a.poolbench) for p in files):
        fail(f"{a.poolbench} was not among the ELF files found under {a.build}")
    print(f"{len(files)} ELF files, {checked} RUNPATHs checked")

    plant = sorted(n for n in needed_all if not SYSTEM.match(n))
    with tempfile.TemporaryDirectory(prefix="pb-planted.") as tmp:
        for name in plant:
            shutil.copy(a.planted, os.path.join(tmp, name))
        print("planted in the current directory: " + ", ".join(plant))
        mark = os.path.join(tmp, "PLANTED-LIBRARY-LOADED")
        # list loads the modules (glib, libuv) too.
        for args in (["--version"], ["list"]):
            r = subprocess.run([os.path.abspath(a.poolbench)] + args, cwd=tmp,
                               capture_output=True, text=True, timeout=60)
            if os.path.exists(mark):
                fail(f"poolbench {' '.join(args)} in {tmp} loaded a planted library")
                os.unlink(mark)
            elif r.returncode != 0:
                fail(f"poolbench {' '.join(args)} exited {r.returncode}: {r.stderr.strip()}")
            elif "unavailable:" in r.stdout:
                fail(f"poolbench {' '.join(args)}: a module did not load: {r.stdout}")
    return verdict()


if __name__ == "__main__":
    sys.exit(main())
