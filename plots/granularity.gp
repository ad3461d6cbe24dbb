# granularity.gp — what a pool costs per task, seen from the task's size: the
# top panel is throughput against task granularity (how long each task
# computes), the bottom panel efficiency (ideal time / actual time) with
# METG(50%) marked: the smallest granularity at which a backend still keeps
# efficiency at or above 50% (Task Bench's "minimum effective task
# granularity"). Tasks that do nothing (granularity 0) are no point on that
# axis: they sit apart at the left, on a tick labelled "no-op", unjoined.
# Lines join only the granularities measured (a continuum); every measured
# point is marked, series side by side (nudged apart) so none hides another.
# METG is measured inside the sweep only: "≤" marks an upper bound (even the
# finest point kept 50%), an arrow off the right edge a backend that never
# reached 50% in the sweep.
#
# Variables (from `poolbench plot`; title, chart_id, subtitle: common.gp):
#   datafile, outfile, fmt   data file, chart file, 'png' or 'svg'
#   ntput, lts_tput          throughput series (blocks 0..ntput-1), line types
#   neff, lts_eff            efficiency series (the next neff blocks), line types
#   nmetg                    METG rows in the last block (0: none); each
#                            efficiency series' title ends with its METG
#   gmin, gmax               smallest non-zero and largest granularity (ns)
#   has_zero                 1 when some series has granularity 0
# Data: series blocks "x_ns p50 ci_low ci_high p99" (tasks/s, or % for
# efficiency; a blank line after a no-op row); METG block
# "backend lt metg_ns bound" (bound -1 upper bound, 0 inside, 1 beyond max).

height = 700
width = 920
dirname(p) = strstrt(p, "/") ? substr(p, 1, strstrt(p, "/")) . dirname(substr(p, strstrt(p, "/") + 1, strlen(p))) : ""
load dirname(ARG0) . "common.gp"

noop = secs(gmin) / 4
gx(g) = g > 0 ? secs(g) : noop
ltt(i) = int(word(lts_tput, i))
lte(i) = int(word(lts_eff, i))
# Series i of n, nudged sideways (on the log axis, by a constant factor)
# so points of equal x stay apart: all n within a factor of 1.8.
nudge(x, i, n) = n > 1 ? x * 1.8 ** ((i - (n + 1) / 2.0) / (n - 1)) : x

panels = (ntput > 0) + (neff > 0)
eval chart_title(title)
eval footnote("points: medians; bars: 95% CI of the median over the repetitions; no-op: tasks that do nothing (not on the axis)")
set multiplot layout panels, 1 margins 0.10, 0.64, 90.0 / height, 1 - 80.0 / height spacing 0, 0.09

# Both panels share one x range, from just left of the leftmost point.
set logscale x
set format x time_format
set xrange [(has_zero ? noop : secs(gmin)) / 1.8 : secs(gmax) * 1.8]
if (has_zero) { set xtics add ("no-op" noop) }
set grid xtics ytics lc rgb "#dddddd"
set key outside right top Left reverse nobox width -2

if (ntput > 0) {
    set ylabel "tasks/s (log scale)"
    set logscale y
    set format y "%.0s%c"
    if (neff == 0) { set xlabel "task granularity: work per task (log scale)" }
    plot for [i=1:ntput] datafile index (i - 1) using (nudge(gx($1), i, ntput)):2:3:4 \
             with yerrorbars lt ltt(i) title columnheader(1), \
         for [i=1:ntput] datafile index (i - 1) using (nudge(gx($1), i, ntput)):2 \
             with lines lt ltt(i) lw 1.5 notitle
    unset logscale y
    set format y "%g"
    unset xlabel
}

if (neff > 0) {
    unset label 998
    unset label 999
    unset label 997
    set xlabel "task granularity: work per task (log scale)"
    set ylabel "efficiency (%)"
    set yrange [0:110]
    set ytics 0, 25, 100
    set arrow 10 from graph 0, first 50 to graph 1, first 50 nohead dt 2 lc rgb "#C00000"
    set label 11 "50%" at graph 0.005, first 50 offset 0,0.6 tc rgb "#C00000" font ",8"
    # METG: a drop line from the 50% line to the axis in the backend's colour;
    # an upper bound gets a left arrow, a backend that never reached 50% an
    # arrow at the right edge.
    plot for [i=1:neff] datafile index (ntput + i - 1) using (nudge(gx($1), i, neff)):2:3:4 \
             with yerrorbars lt lte(i) title columnheader(1), \
         for [i=1:neff] datafile index (ntput + i - 1) using (nudge(gx($1), i, neff)):2 \
             with lines lt lte(i) lw 1.5 notitle, \
         for [i=1:(nmetg > 0)] datafile index (ntput + neff) \
             using ($4 > 0 ? NaN : secs($3)):(50):(0):(-50):2 \
             with vectors nohead dt 3 lw 1.5 lc variable notitle, \
         for [i=1:(nmetg > 0)] datafile index (ntput + neff) \
             using ($4 > 0 ? NaN : secs($3)):(50):2 with points pt 11 ps 2 lc variable notitle, \
         for [i=1:(nmetg > 0)] datafile index (ntput + neff) \
             using ($4 < 0 ? secs($3) : NaN):(50):(-secs($3) * 0.5):(0):2 \
             with vectors head size screen 0.012,25 lw 1.5 lc variable notitle, \
         for [i=1:(nmetg > 0)] datafile index (ntput + neff) \
             using ($4 > 0 ? secs($3) : NaN):(50):(secs($3) * 0.6):(0):2 \
             with vectors head size screen 0.012,25 lw 1.5 lc variable notitle, \
         for [i=1:(nmetg > 0)] NaN with points pt 11 ps 2 lc rgb "#555555" title "METG(50%)"
}
unset multiplot
