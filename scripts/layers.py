#!/usr/bin/env python3
"""The layers of poolbench, checked from the #include lines of its sources.

    scripts/layers.py [--check] [ROOT]

Prints which folder includes which (with the number of #include lines), and
any cycle of includes between source units (a unit is x.c with x.h). With
--check, exits 1 when a folder includes one it must not, or when units
include each other in a cycle; the test suite runs it so (tests/harness).

The layers, bottom up (DESIGN.md): pools, the library every other folder
uses through its public headers; bench (workloads, scenarios) and results
(statistics, the results file, compare/export/history); stress beside bench;
plots above results; the harness, the program, above them all. A library
never includes the harness: the harness calls down.
"""
import collections
import os
import re
import sys

FOLDERS = ["pools", "bench", "stress", "results", "plots", "harness"]

# Which folders each folder may include from.
ALLOWED = {
    "pools": set(),
    "results": set(),
    "bench": {"pools", "results"},
    "stress": {"pools", "bench", "results"},
    "plots": {"results"},
    "harness": {"pools", "bench", "stress", "results", "plots"},
}

INCLUDE = re.compile(r'^\s*#\s*include\s*[<"]([^>"]+)[>"]', re.M)


def sources(root):
    """{path relative to root: its top folder} for every .c and .h."""
    files = {}
    for top in FOLDERS:
        for dirpath, _, names in os.walk(os.path.join(root, top)):
            for name in names:
                if name.endswith((".c", ".h")):
                    files[os.path.relpath(os.path.join(dirpath, name), root)] = top
    return files


def include_edges(root, files):
    """{file: set of files it includes}, resolving names within the tree:
    the same folder first (as the compiler does for quoted includes), then
    anywhere; <pb/...> is the public headers."""
    by_name = collections.defaultdict(list)
    for path in files:
        by_name[os.path.basename(path)].append(path)
    edges = collections.defaultdict(set)
    for path in files:
        with open(os.path.join(root, path), errors="replace") as f:
            text = f.read()
        for name in INCLUDE.findall(text):
            candidates = by_name.get(os.path.basename(name), [])
            if name.startswith("pb/"):
                candidates = [c for c in candidates if c.startswith("pools/include/pb/")]
            if not candidates:
                continue  # a system header
            here = [c for c in candidates if os.path.dirname(c) == os.path.dirname(path)]
            target = (here or sorted(candidates))[0]
            if target != path:
                edges[path].add(target)
    return edges


def unit_cycles(edges):
    """Strongly connected groups of more than one unit (x.c + x.h)."""
    unit = lambda p: os.path.splitext(p)[0]
    graph = collections.defaultdict(set)
    for a, targets in edges.items():
        for b in targets:
            if unit(a) != unit(b):
                graph[unit(a)].add(unit(b))
    nodes = sorted(set(graph) | {b for t in graph.values() for b in t})
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                out.append(sorted(group))

    sys.setrecursionlimit(10000)
    for v in nodes:
        if v not in index:
            visit(v)
    return out


def main(argv):
    check = "--check" in argv
    args = [a for a in argv[1:] if a != "--check"]
    root = args[0] if args else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    files = sources(root)
    edges = include_edges(root, files)
    counts = collections.Counter()
    offenders = collections.defaultdict(list)
    for a, targets in edges.items():
        for b in targets:
            fa, fb = files[a], files[b]
            if fa != fb:
                counts[(fa, fb)] += 1
                if fb not in ALLOWED[fa]:
                    offenders[(fa, fb)].append("%s includes %s" % (a, b))
    print("folder -> folder (#include lines)")
    for (a, b), n in sorted(counts.items()):
        print("  %-8s -> %-8s %3d%s" % (a, b, n, "" if (a, b) not in offenders else
                                        "   NOT ALLOWED"))
    cycles = unit_cycles(edges)
    print("units that include each other in a cycle: %s" % ("none" if not cycles else ""))
    for group in cycles:
        print("  " + " -> ".join(group))
    for (a, b), why in sorted(offenders.items()):
        for w in why:
            print("layers: %s may not include from %s: %s" % (a, b, w))
    return 1 if check and (offenders or cycles) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
