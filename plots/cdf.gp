# cdf.gp — latency distribution per backend as a cumulative distribution on a
# log time axis: for each latency x, the share of samples that took at most x.
# Drawn from the log-linear histogram in the results file (16 buckets per
# power of two), exact at bucket edges and linear inside a bucket.
#
# Variables (from `poolbench plot`):
#   datafile, outfile, fmt   data file, chart file, 'png' or 'svg'
#   nseries                  number of series (blocks) in the data file
#   lts                      line type of each series, space-separated
#   what                     what was timed, e.g. "Round-trip latency"
#   subtitle                 the run the data comes from
# Data: one block per series; its header names the series; rows "x_ns F".

dirname(p) = strstrt(p, "/") ? substr(p, 1, strstrt(p, "/")) . dirname(substr(p, strstrt(p, "/") + 1, strlen(p))) : ""
load dirname(ARG0) . "common.gp"

eval chart_title(what . ": distribution per backend")
set xlabel "latency (µs, log scale)"
set ylabel "share of samples at or below (%)"
set logscale x
set format x "%g"
set yrange [0:100]
set ytics 10
set grid xtics ytics lc rgb "#dddddd"
set key bottom right Right noreverse
# Guides at the median and at p99.
set arrow 1 from graph 0, first 50 to graph 1, first 50 nohead dt 3 lc rgb "#999999"
set arrow 2 from graph 0, first 99 to graph 1, first 99 nohead dt 3 lc rgb "#999999"
set label 3 "p50" at graph 0.005, first 50 offset 0,0.6 tc rgb "#777777" font ",8"
set label 4 "p99" at graph 0.005, first 99 offset 0,-0.6 tc rgb "#777777" font ",8"

plot for [i=1:nseries] datafile index (i - 1) using (us($1)):($2 * 100) \
     with lines lt lt_of(i) title columnheader(1)
