#!/bin/sh
# The real `poolbench plot` with no gnuplot on PATH: exit status 2 and one
# line saying how to install it.
#     no-gnuplot.sh POOLBENCH RESULTS.json
set -u
poolbench=$1 results=$2
empty=$(mktemp -d) || exit 1
trap 'rm -rf "$empty"' EXIT
# Run with a PATH holding nothing: the program is named by its full path.
out=$(PATH="$empty" "$poolbench" plot "$results" --out "$empty/charts" 2>&1)
status=$?
echo "exit status $status; output: $out"
[ "$status" -eq 2 ] || { echo "FAIL: want exit status 2"; exit 1; }
case $out in
*"gnuplot not found on PATH; install it with 'sudo apt-get install gnuplot-nox' (or 'make deps')"*) ;;
*) echo "FAIL: the message does not say how to install gnuplot"; exit 1 ;;
esac
[ ! -e "$empty/charts" ] || { echo "FAIL: an output folder was created"; exit 1; }
echo PASS
