# load.gp — latency against offered load, the "hockey stick": an open-loop
# generator sends tasks on a schedule at a share of each pool's capacity
# (measured in the same run with the same tasks) and times each task from
# when it was due to when it completed (its sojourn), so a stall shows in
# every task it delays. Flat at low load, the curve bends up as queues form
# near capacity (100%, the dotted line) and past it. One colour per backend:
# the median solid, p99 dashed, log time axis. A ring marks a step whose
# generator could not keep to its schedule (the case is untrusted: its
# latency is partly the generator's own lateness).
#
# Variables (from `poolbench plot`):
#   datafile, outfile, fmt   data file, chart file, 'png' or 'svg'
#   nseries, lts             number of series (blocks) and their line types
#   subtitle                 the run the data comes from
# Data: one block per series (title: backend, parameters, capacity); rows
#   "load_percent p50_ns p99_ns trusted" (trusted 0 or 1).

dirname(p) = strstrt(p, "/") ? substr(p, 1, strstrt(p, "/")) . dirname(substr(p, strstrt(p, "/") + 1, strlen(p))) : ""
load dirname(ARG0) . "common.gp"

eval chart_title("Latency against offered load (open loop)")
set xlabel "offered load (% of the capacity measured in the same run)"
set ylabel "sojourn: due to completed (log scale)"
set logscale y
set format y time_format
set offsets graph 0.03, graph 0.03, 0, 0
set grid xtics ytics lc rgb "#dddddd"
set key outside right top Left reverse nobox
set arrow 1 from first 100, graph 0 to first 100, graph 1 nohead dt 3 lw 1.5 lc rgb "#777777"

plot for [i=1:nseries] datafile index (i - 1) using 1:(secs($2)) \
         with linespoints lt lt_of(i) dt 1 title columnheader(1), \
     for [i=1:nseries] datafile index (i - 1) using 1:(secs($3)) \
         with linespoints lt lt_of(i) dt 2 notitle, \
     for [i=1:nseries] datafile index (i - 1) using 1:($4 > 0.5 ? NaN : secs($2)) \
         with points pt 6 ps 2.2 lc rgb "#C00000" notitle, \
     for [i=1:nseries] datafile index (i - 1) using 1:($4 > 0.5 ? NaN : secs($3)) \
         with points pt 6 ps 2.2 lc rgb "#C00000" notitle, \
     NaN with lines lw 2 dt 1 lc rgb "#555555" title "median (p50)", \
     NaN with lines lw 2 dt 2 lc rgb "#555555" title "p99", \
     NaN with points pt 6 ps 2.2 lc rgb "#C00000" title "untrusted: generator late"
