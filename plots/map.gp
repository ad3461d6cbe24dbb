# map.gp — ordered map throughput against chunk size per backend: how much
# batching items into chunks saves per item. Points are medians over the
# repetitions, bars their 95% confidence interval.
#
# Variables (from `poolbench plot`):
#   datafile, outfile, fmt   data file, chart file, 'png' or 'svg'
#   nseries, lts             number of series (blocks) and their line types
#   subtitle                 the run the data comes from
# Data: one block per series; rows "chunksize p50 ci_low ci_high" (tasks/s).

dirname(p) = strstrt(p, "/") ? substr(p, 1, strstrt(p, "/")) . dirname(substr(p, strstrt(p, "/") + 1, strlen(p))) : ""
load dirname(ARG0) . "common.gp"

eval chart_title("Ordered map: throughput against chunk size")
set xlabel "chunk size (items per task sent to a worker, log scale)"
set ylabel "items/s (log scale)"
set logscale x 2
set logscale y
set format x "%g"
set format y "%.0s%c"
set offsets graph 0.05, graph 0.05, 0, 0
set grid xtics ytics lc rgb "#dddddd"
set key outside right top Left reverse nobox

plot for [i=1:nseries] datafile index (i - 1) using 1:2:3:4 \
     with yerrorlines lt lt_of(i) title columnheader(1)
