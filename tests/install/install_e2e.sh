#!/bin/sh
# An install that works anywhere, end to end:
#   1. install this build to a fresh prefix, then move the whole prefix
#      elsewhere (an install is relocatable);
#   2. with the source tree hidden (a mount namespace binds an empty folder
#      over it, when this machine allows one), the moved program runs a suite
#      that exists only in its own share/poolbench/suites, writes the results
#      under the current folder's results/runs/ (the default --out), and
#      draws a chart with its own share/poolbench/plots scripts (a marker
#      planted in the installed common.gp shows up in the SVG);
#   3. `poolbench list` names the installed suites folder, not the source's;
#   4. the example pool builds against the moved install both ways — CMake's
#      package (find_package(poolbench), poolbench::pbpools) and pkg-config —
#      and the installed program loads each build.
#
# usage: install_e2e.sh BUILD_DIR SOURCE_DIR CMAKE
set -eu

build_dir=$1
source_dir=$(cd "$2" && pwd)
cmake=$3

tmp=$(mktemp -d "${TMPDIR:-/tmp}/pb-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
log=$tmp/log

step() { echo "== $*"; }
fail() { echo "FAILED: $*" >&2; [ -f "$log" ] && sed 's/^/    /' "$log" >&2; exit 1; }
run() { "$@" >"$log" 2>&1 || fail "$*"; }

step "install to $tmp/prefix, then move it to $tmp/moved"
run "$cmake" --install "$build_dir" --prefix "$tmp/prefix"
mv "$tmp/prefix" "$tmp/moved"
pb=$tmp/moved/bin/poolbench
suites=$(dirname "$(find "$tmp/moved" -path '*/poolbench/suites/quick.json' | head -n 1)")
plots=$(dirname "$(find "$tmp/moved" -path '*/poolbench/plots/common.gp' | head -n 1)")
[ -d "$suites" ] && [ -d "$plots" ] || fail "the install has no share/poolbench/{suites,plots}"

# A suite only the install has, and a mark only its chart scripts leave.
cat >"$suites/install-only.json" <<'JSON'
{
  "description": "installed copy only: one tiny case",
  "repetitions": 1,
  "warmup": 0,
  "floor": false,
  "backends": ["thread"],
  "scenarios": [{"name": "roundtrip", "params": {"samples": 50}}]
}
JSON
echo 'set label 990 "installed-chart-scripts" at screen 0, screen 0 front' >>"$plots/common.gp"

# What runs with the source tree out of sight.
cat >"$tmp/inside.sh" <<INSIDE
set -eu
cd "$tmp/work"
"$pb" list >list.txt
"$pb" run --suite install-only --quiet >run.txt
"$pb" plot results/runs/*.json --chart latency --format svg >plot.txt
INSIDE
mkdir -p "$tmp/work" "$tmp/empty"

hidden=no
if unshare --mount --propagation private true 2>/dev/null; then
    step "run, list and plot with the source tree hidden ($source_dir)"
    run unshare --mount --propagation private sh -c \
        "mount --bind '$tmp/empty' '$source_dir' && [ ! -e '$source_dir/bench' ] && sh '$tmp/inside.sh'"
    hidden=yes
else
    step "run, list and plot (no mount namespace here: the source tree stays visible)"
    run sh "$tmp/inside.sh"
fi

grep -q "in $suites" "$tmp/work/list.txt" || fail "poolbench list does not name $suites: $(cat "$tmp/work/list.txt")"
! grep -q "$source_dir" "$tmp/work/list.txt" || fail "poolbench list names the source tree"
results=$(ls "$tmp"/work/results/runs/*.json 2>/dev/null | head -n 1)
[ -n "$results" ] || fail "run wrote no results under the current folder's results/runs/"
grep -q '"install-only"' "$results" || fail "$results is not the install-only suite's"
svg=$(grep 'latency.svg$' "$tmp/work/plot.txt" || true)
[ -n "$svg" ] && [ -f "$tmp/work/$svg" -o -f "$svg" ] || fail "plot drew no latency.svg: $(cat "$tmp/work/plot.txt")"
( cd "$tmp/work" && grep -q "installed-chart-scripts" "$svg" ) ||
    fail "the chart was not drawn with the installed scripts"
echo "   results: ${results#$tmp/}, chart: $svg, source tree hidden: $hidden"

cp -r "$source_dir/examples/external-pool" "$tmp/example"

step "the example pool through CMake's package: find_package(poolbench)"
run "$cmake" -S "$tmp/example" -B "$tmp/build-cmake" -DCMAKE_PREFIX_PATH="$tmp/moved" \
    -DPOOLBENCH_FIND=cmake
grep -q "CMake package in $tmp/moved" "$log" || fail "the example did not use the CMake package"
run "$cmake" --build "$tmp/build-cmake"
run "$pb" list --load "$tmp/build-cmake/libexternal_pool.so"
grep -q '^ *external ' "$log" || fail "the CMake-built plugin's backend is not listed"

step "the example pool through pkg-config"
pc=$(dirname "$(find "$tmp/moved" -name poolbench.pc | head -n 1)")
PKG_CONFIG_PATH=$pc run "$cmake" -S "$tmp/example" -B "$tmp/build-pc" -DPOOLBENCH_FIND=pkg-config
grep -q "pkg-config" "$log" || fail "the example did not use pkg-config"
run "$cmake" --build "$tmp/build-pc"
run "$pb" list --load "$tmp/build-pc/libexternal_pool.so"
grep -q '^ *external ' "$log" || fail "the pkg-config-built plugin's backend is not listed"
echo "== ok"
