# scaling.gp — how a pool scales with its number of workers. Top: speedup
# (throughput with W workers over throughput with one, in the same
# repetition), with the ideal dashed: min(W, PUs), since past the PUs more
# workers cannot run at once. Where a curve turns down, adding workers
# costs throughput. Bottom: CPU time per task at each count (pool and
# caller together), which shows what oversubscription and contention add.
# Points are medians over the repetitions, bars their 95% confidence
# interval; a backend's unpinned variant (runs with --pin) is dashed.
#
# Variables (from `poolbench plot`):
#   datafile, outfile, fmt   data file, chart file, 'png' or 'svg'
#   nseries, lts             number of series (blocks) and their line types
#   pus                      PUs of the machine (0: unknown; the ideal is W)
#   wmax                     the largest worker count
#   subtitle                 the run the data comes from
# Data: one block per series; rows "workers speedup ci_low ci_high cpu_ns
# pool_cpu_ns".

height = 620
dirname(p) = strstrt(p, "/") ? substr(p, 1, strstrt(p, "/")) . dirname(substr(p, strstrt(p, "/") + 1, strlen(p))) : ""
load dirname(ARG0) . "common.gp"

eval chart_title("Scaling: speedup and CPU per task against the number of workers")
set multiplot layout 2, 1 margins 0.14, 0.8, 0.17, 0.87 spacing 0, 0.07
set xrange [0.8 : wmax + 0.2]
if (wmax <= 16) { set xtics 1 }
set grid xtics ytics lc rgb "#dddddd"
set key outside right top Left reverse nobox
set samples 400

ideal(w) = (pus > 0 && w > pus) ? pus : w
set ylabel "speedup over 1 worker"
set yrange [0:*]
plot ideal(x) with lines dt 2 lw 1.5 lc rgb "#888888" title "ideal: min(W, PUs)", \
     for [i=1:nseries] datafile index (i - 1) using 1:2:3:4 \
     with yerrorlines lt lt_of(i) title columnheader(1)

unset label 998
unset label 999
set xlabel "workers"
set ylabel "CPU per task, pool + caller"
set format y time_format
set yrange [0:*]
plot for [i=1:nseries] datafile index (i - 1) using 1:(secs($5)) \
     with linespoints lt lt_of(i) notitle
unset multiplot
