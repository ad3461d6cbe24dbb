#!/bin/sh
# The conformance suite over the mpi backend, each case in its own MPI job.
#
#   conformance-mpi.sh CONFORMANCE MPIEXEC RANKS TIMEOUT [--case GLOB]...
#
# The conformance runner isolates a case by forking a child for it, and MPI
# cannot be used in a forked child; so here every case is a job of its own:
#   MPIEXEC --oversubscribe -n RANKS CONFORMANCE --backend mpi --case NAME --no-fork
# Rank 0 runs the case (ranks 1.. are the pool's workers) and ends with the
# runner's statuses: 0 passed, 77 skipped (its "SKIPPED: why" line is
# quoted), anything else failed. A job that outlives TIMEOUT seconds is
# killed (mpiexec then ends its ranks) and fails. mpiexec's own start-up
# messages and a failing case's output are shown; passes print one line.
set -u
conf=$1 mpiexec=$2 ranks=$3 limit=$4
shift 4
cases=$("$conf" --list "$@") || exit 2
out=$(mktemp) || exit 2
trap 'rm -f "$out"' EXIT
pass=0 skip=0 fail=0 failed=""
for c in $cases; do
    timeout -k 10 "$limit" "$mpiexec" --oversubscribe -n "$ranks" \
        "$conf" --backend mpi --case "$c" --no-fork >"$out" 2>&1
    rc=$?
    case $rc in
    0)
        pass=$((pass + 1))
        echo "[  PASS  ] $c"
        ;;
    77)
        skip=$((skip + 1))
        why=$(sed -n 's/^SKIPPED: //p' "$out" | head -n 1)
        echo "[  SKIP  ] $c: ${why:-(no reason given)}"
        ;;
    *)
        fail=$((fail + 1))
        failed="$failed $c"
        if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
            echo "[  FAIL  ] $c: timed out after $limit s and was killed; its output:"
        else
            echo "[  FAIL  ] $c: the job exited with status $rc; its output:"
        fi
        sed 's/^/    /' "$out"
        ;;
    esac
done
echo "conformance.mpi ($ranks ranks): $pass passed, $skip skipped, $fail failed"
if [ "$fail" -gt 0 ]; then
    echo "failed:$failed"
    exit 1
fi
[ "$pass" -gt 0 ] || { echo "no case passed"; exit 1; }
exit 0
