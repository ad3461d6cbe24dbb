#!/bin/sh
# The "benchmark your own pool" path, end to end, as examples/external-pool/
# README.md describes it: install poolbench to a fresh prefix, build the
# example pool out of tree against it (found through pkg-config only), then
# load the plugin into the installed poolbench and into the conformance suite.
#
# usage: external_e2e.sh BUILD_DIR SOURCE_DIR CONFORMANCE_BINARY CMAKE
set -eu

build_dir=$1
source_dir=$2
conformance=$3
cmake=$4

tmp=$(mktemp -d "${TMPDIR:-/tmp}/pb-external.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
log=$tmp/log

step() {
    echo "== $*"
}

# Runs a command quietly; on failure shows its output and fails the test.
run() {
    if ! "$@" >"$log" 2>&1; then
        echo "FAILED: $*" >&2
        cat "$log" >&2
        exit 1
    fi
}

step "install poolbench to $tmp/prefix"
run "$cmake" --install "$build_dir" --prefix "$tmp/prefix"
pc=$(find "$tmp/prefix" -name poolbench.pc | head -n 1)
if [ -z "$pc" ]; then
    echo "FAILED: the install has no poolbench.pc" >&2
    exit 1
fi
pcdir=$(dirname "$pc")
libdir=$(dirname "$pcdir")

step "configure and build examples/external-pool against it"
PKG_CONFIG_PATH=$pcdir
export PKG_CONFIG_PATH
run "$cmake" -S "$source_dir/examples/external-pool" -B "$tmp/build"
run "$cmake" --build "$tmp/build"
plugin=$tmp/build/libexternal_pool.so
if [ ! -f "$plugin" ]; then
    echo "FAILED: the build made no $plugin" >&2
    exit 1
fi

# The installed program and the plugin find the installed library.
LD_LIBRARY_PATH=$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export LD_LIBRARY_PATH
poolbench=$tmp/prefix/bin/poolbench

step "poolbench list --load: the backend is there"
run "$poolbench" list --load "$plugin"
if ! grep -q '^ *external ' "$log"; then
    echo "FAILED: poolbench list --load $plugin does not list \"external\"" >&2
    cat "$log" >&2
    exit 1
fi

step "poolbench list: the installed adapter modules load"
if grep -q 'unavailable:' "$log"; then
    echo "FAILED: the installed poolbench cannot load a module of its own:" >&2
    grep 'unavailable:' "$log" >&2
    exit 1
fi

step "conformance over the plugin"
run "$conformance" --load "$plugin" --backend external
grep -E '^\[  (PASSED|SKIP    ) \]' "$log" | sed 's/^/   /'

step "a tiny harness run over the plugin and thread"
run "$poolbench" run --load "$plugin" --backend external,thread --scenario roundtrip,throughput \
    --repetitions 1 --warmup 0 --quiet --out "$tmp/run.json"
if ! grep -q '"external"' "$tmp/run.json"; then
    echo "FAILED: the results file has no \"external\" entry" >&2
    exit 1
fi
sed 's/^/   /' "$log"

# Python's pools, when built: the installed module finds its Python glue and
# twins (lib/poolbench/python) and starts the interpreter.
if "$poolbench" list | grep -q '^ *py-process '; then
    step "a tiny harness run over the installed py-thread and py-process"
    run "$poolbench" run --backend py-thread,py-process --scenario roundtrip \
        --repetitions 1 --warmup 0 --quiet --out "$tmp/py.json"
    if ! grep -q '"py-process"' "$tmp/py.json"; then
        echo "FAILED: the results file has no \"py-process\" entry" >&2
        exit 1
    fi
fi
echo "== ok"
