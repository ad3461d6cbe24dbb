# cost.gp — what each task costs the machine, beside how fast the pool is.
# Top: round-trip latency (one task in flight) against the CPU time each
# task cost. Bottom: the throughput of a burst of empty tasks against the
# same. One point per backend, at the CPU time of the pool and of its caller
# together; a thin line reaches back to the pool's own share, the rest being
# the caller's (submitting, waiting, a waiter that spins). Fast and cheap is
# low-left on the latency panel and high-left on the throughput panel; a
# pool that wins its latency by spinning sits far to the right.
#
# Variables (from `poolbench plot`):
#   datafile, outfile, fmt   data file, chart file, 'png' or 'svg'
#   nrt, ntp                 rows of the latency and throughput blocks (0: none)
#   subtitle                 the run the data comes from
# Data: block 0 "backend lt cpu_ns pool_cpu_ns p50_ns" (round trip), block 1
# "backend lt cpu_ns pool_cpu_ns p50" (tasks/s); lt is the backend's colour.

height = 680
dirname(p) = strstrt(p, "/") ? substr(p, 1, strstrt(p, "/")) . dirname(substr(p, strstrt(p, "/") + 1, strlen(p))) : ""
load dirname(ARG0) . "common.gp"

panels = (nrt > 0) + (ntp > 0)
eval chart_title("What a task costs: latency and throughput against CPU time per task")
set multiplot layout panels, 1 margins 0.12, 0.95, 0.16, 0.87 spacing 0, 0.1
unset key
set logscale x
set logscale y
set grid xtics ytics lc rgb "#dddddd"
set offsets graph 0.12, graph 0.12, graph 0.12, graph 0.12
set xlabel "CPU time per task, pool + caller (log scale)"
set format x time_format

if (nrt > 0) {
    set ylabel "round-trip latency, median (log scale)"
    set format y time_format
    plot datafile index 0 using (secs($4)):(secs($5)):(secs($3) - secs($4)):(0):2 \
            with vectors nohead lw 1 lc variable notitle, \
         '' index 0 using (secs($3)):(secs($5)):2 with points pt 7 ps 1.5 lc variable notitle, \
         '' index 0 using (secs($3)):(secs($5)):1 with labels offset 0,1 font ",9" notitle
    unset label 998
    unset label 999
}
if (ntp > 0) {
    set ylabel "tasks/s, burst of empty tasks (log scale)"
    set format y "%.0s%c"
    plot datafile index 1 using (secs($4)):5:(secs($3) - secs($4)):(0):2 \
            with vectors nohead lw 1 lc variable notitle, \
         '' index 1 using (secs($3)):5:2 with points pt 7 ps 1.5 lc variable notitle, \
         '' index 1 using (secs($3)):5:1 with labels offset 0,1 font ",9" notitle
}
unset multiplot
