# history.gp — chosen metrics across runs, oldest first: one panel per
# metric, one line per case (backend and parameters). Points are medians,
# bars their 95% confidence interval. A ring marks a step change: a median
# outside the previous run's 95% CI of the median (the rule of `poolbench
# history`), red when the metric got worse, green when it got better.
#
# Variables (from `poolbench plot`):
#   datafile, outfile, fmt   data file, chart file, 'png' or 'svg'
#   nruns                    number of runs (block 0 has one row per run)
#   npanels                  number of panels (metrics)
#   panel_series             series per panel, space-separated
#   panel_titles             panel titles, as quoted words
#   panel_units              each panel's unit ("ns", "tasks/s", ...), quoted words
#   lts                      line type of each series, in block order
#   nsteps                   number of step changes marked
#   title, chart_id, subtitle  (common.gp; subtitle: what the chart covers)
# Data: block 0 "run label"; then per series (panel by panel) a block
#   "run p50 ci_low ci_high step"; values in the metric's unit; step 1 worse,
#   -1 better, 0 none.

height = npanels > 1 ? 300 + 220 * npanels : 500
dirname(p) = strstrt(p, "/") ? substr(p, 1, strstrt(p, "/")) . dirname(substr(p, strstrt(p, "/") + 1, strlen(p))) : ""
load dirname(ARG0) . "common.gp"


# Times are drawn in seconds (SI prefixes, as every chart); other units as
# they are.
unit(p) = word(panel_units, p)
scale(p) = unit(p) eq "ns" ? 1e-9 : 1
shown_unit(p) = unit(p) eq "ns" ? "time" : unit(p)
# Block of series s (1-based, counted over all panels) is index s.
first_series(p) = p == 1 ? 1 : first_series(p - 1) + int(word(panel_series, p - 1))

# Label every k-th run so labels never crowd, and only under the last panel.
every_k = nruns <= 12 ? 1 : int(ceil(nruns / 12.0))
run_label(p, run) = p == npanels && int(run) % every_k == 0 ? strcol(2) : ""

eval chart_title(title)
eval footnote("points: medians; bars: 95% CI of the median over the repetitions; rings: a median outside the previous run's CI")
set multiplot layout npanels, 1 margins 0.11, 0.80, (npanels > 1 ? 0.11 : 0.17), 0.87 spacing 0, 0.08
set xrange [-0.5:nruns - 0.5]
set grid xtics ytics lc rgb "#dddddd"
set key outside right top Left reverse nobox
# Log scale: a 10% change looks the same for a 10 µs and a 10 ms series.
set logscale y
set format y "%g"

do for [p=1:npanels] {
    if (p > 1) { unset label 997; unset label 998; unset label 999 }
    set title word(panel_titles, p) font ",11"
    set ylabel sprintf("median%s (log scale)", shown_unit(p) eq "time" ? "" : " (" . shown_unit(p) . ")")
    if (p == npanels) { set xlabel "run (oldest first: date and revision)" offset 0,-0.6 } else { unset xlabel }
    # Rates read best as 20k, 1.5M; everything else plainly.
    if (strstrt(unit(p), "/s") > 0) { set format y "%.0s%c" } else { set format y (unit(p) eq "ns" ? time_format : "%g") }
    k = scale(p)
    f = first_series(p)
    n = int(word(panel_series, p))
    plot for [s=f:f + n - 1] datafile index s using 1:($2 * k):($3 * k):($4 * k) \
             with yerrorlines lt lt_of(s) title columnheader(1), \
         for [s=f:f + n - 1] datafile index s using 1:($5 > 0 ? $2 * k : NaN) \
             with points pt 6 ps 3 lw 2 lc rgb "#C00000" notitle, \
         for [s=f:f + n - 1] datafile index s using 1:($5 < 0 ? $2 * k : NaN) \
             with points pt 6 ps 3 lw 2 lc rgb "#009E73" notitle, \
         for [i=1:(nsteps > 0 && p == 1)] NaN with points pt 6 ps 2 lw 2 lc rgb "#C00000" \
             title "step: worse", \
         for [i=1:(nsteps > 0 && p == 1)] NaN with points pt 6 ps 2 lw 2 lc rgb "#009E73" \
             title "step: better", \
         datafile index 0 using 1:(NaN):xtic(run_label(p, $1)) notitle
}
unset multiplot
