# granularity.gp — what a pool costs per task, seen from the task's size: the
# top panel is throughput against task granularity (how long each task
# computes), the bottom panel efficiency (ideal time / actual time) with
# METG(50%) marked: the smallest granularity at which a backend still keeps
# efficiency at or above 50% (Task Bench's "minimum effective task
# granularity"). Tasks that do nothing (granularity 0) sit at the left, at a
# quarter of the smallest real granularity, on a tick labelled "no-op".
#
# Variables (from `poolbench plot`):
#   datafile, outfile, fmt   data file, chart file, 'png' or 'svg'
#   ntput, lts_tput          throughput series (blocks 0..ntput-1), line types
#   neff, lts_eff            efficiency series (the next neff blocks), line types
#   nmetg                    METG rows in the last block (0: none)
#   metg_note                the METG values in words, for the chart
#   gmin, gmax               smallest non-zero and largest granularity (ns)
#   has_zero                 1 when some series has granularity 0
#   subtitle                 the run the data comes from
# Data: series blocks "x_ns p50 ci_low ci_high" (tasks/s, or % for
# efficiency); METG block "backend lt metg_ns".

height = 620
dirname(p) = strstrt(p, "/") ? substr(p, 1, strstrt(p, "/")) . dirname(substr(p, strstrt(p, "/") + 1, strlen(p))) : ""
load dirname(ARG0) . "common.gp"


noop = us(gmin) / 4
gx(g) = g > 0 ? us(g) : noop
ltt(i) = int(word(lts_tput, i))
lte(i) = int(word(lts_eff, i))

panels = (ntput > 0) + (neff > 0)
eval chart_title("Throughput and efficiency against task granularity")
set multiplot layout panels, 1 margins 0.11, 0.84, 0.09, 0.87 spacing 0, 0.07

# Both panels share one x range, from just left of the leftmost point.
set logscale x
set xrange [(has_zero ? noop : us(gmin)) / 1.6 : us(gmax) * 1.6]
if (has_zero) { set xtics add ("no-op" noop) }
set grid xtics ytics lc rgb "#dddddd"

if (ntput > 0) {
    set ylabel "tasks/s (log scale)"
    set logscale y
    set format y "%.0s%c"
    set key outside right top Left reverse nobox
    if (neff == 0) { set xlabel "task granularity (µs of work per task, log scale)" }
    plot for [i=1:ntput] datafile index (i - 1) using (gx($1)):2:3:4 \
         with yerrorlines lt ltt(i) title columnheader(1)
    unset logscale y
    set format y "%g"
    unset xlabel
}

if (neff > 0) {
    unset label 998
    unset label 999
    set xlabel "task granularity (µs of work per task, log scale)"
    set ylabel "efficiency (%)"
    set yrange [0:105]
    set ytics 0, 25, 100
    set key outside right top Left reverse nobox
    set arrow 10 from graph 0, first 50 to graph 1, first 50 nohead dt 2 lc rgb "#C00000"
    set label 11 "50%" at graph 0.005, first 50 offset 0,0.6 tc rgb "#C00000" font ",8"
    # METG: a drop line from the 50% line to the axis, in the backend's colour.
    if (nmetg > 0) {
        set label 12 metg_note at graph 0.01, graph 0.95 left font ",9" tc rgb "#333333" front
    }
    plot for [i=1:neff] datafile index (ntput + i - 1) using (gx($1)):2:3:4 \
         with yerrorlines lt lte(i) title columnheader(1), \
         for [i=1:(nmetg > 0)] datafile index (ntput + neff) using (us($3)):(50):(0):(-50):2 \
         with vectors nohead dt 3 lw 1.5 lc variable notitle, \
         for [i=1:(nmetg > 0)] datafile index (ntput + neff) using (us($3)):(50):2 \
         with points pt 11 ps 2 lc variable notitle, \
         for [i=1:(nmetg > 0)] NaN with points pt 11 ps 2 lc rgb "#555555" title "METG(50%)"
}
unset multiplot
