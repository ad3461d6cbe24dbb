# sweep.gp — a metric against a parameter that was swept, per backend: map
# throughput against chunk size, contention (throughput and each submit's
# time against the number of submitting threads), payload (round trip and
# bytes carried per second against the size). One panel per metric.
#
# The parameter takes a few chosen values, not a continuum: each measured
# value gets a point (median) with its 95% CI, and nothing is drawn between
# values that were never measured. Series are nudged sideways around each
# value so that none hides another; colour and marker say the backend.
#
# Variables (from `poolbench plot`; title, chart_id, subtitle: common.gp):
#   datafile, outfile, fmt   data file, chart file, 'png' or 'svg'
#   nseries, lts             number of series (blocks) and their line types
#   npanels                  number of panels (metrics)
#   panel_series             series per panel, space-separated
#   panel_titles             "scenario: metric" per panel, quoted words
#   panel_units              each panel's unit ("ns", "tasks/s", "bytes/s")
#   xlabel, xformat          the parameter's axis label and tick format
#   xzero, zero_label        where a 0 (chunksize 0: automatic) is drawn, apart
#                            on a tick of its own, and its name ("" none)
# Data: per panel, one block per series; rows "x p50 ci_low ci_high p99".

if (!exists("npanels")) npanels = 1
height = npanels > 1 ? 200 + 250 * npanels : 520
dirname(p) = strstrt(p, "/") ? substr(p, 1, strstrt(p, "/")) . dirname(substr(p, strstrt(p, "/") + 1, strlen(p))) : ""
load dirname(ARG0) . "common.gp"
if (!exists("panel_series")) panel_series = sprintf("%d", nseries)
if (!exists("panel_units")) panel_units = "\"\""
if (!exists("xformat")) xformat = "%g"
if (!exists("xlabel")) xlabel = ""
if (!exists("zero_label")) zero_label = ""
if (!exists("xzero")) xzero = 1
zx(x) = x > 0 ? x : xzero
first_series(p) = p == 1 ? 1 : first_series(p - 1) + int(word(panel_series, p - 1))
unit(p) = word(panel_units, p)
# Times are drawn in seconds (SI prefixes), everything else as it is.
k(p) = unit(p) eq "ns" ? 1e-9 : 1
# Series j of a panel's n, nudged sideways by a constant factor: all n
# within a factor of 1.6 (swept values lie twice or more apart).
nudge(x, j, n) = n > 1 ? x * 1.6 ** ((j - (n + 1) / 2.0) / (n - 1)) : x

# The x range over every panel, with room for the nudges.
stats datafile using (zx($1)) nooutput
set logscale x 2
set format x xformat
set xrange [STATS_min / 1.6 : STATS_max * 1.6]
if (strlen(zero_label) > 0) { set xtics add (zero_label xzero) }
set grid xtics ytics lc rgb "#dddddd"
set key outside right top Left reverse nobox
set logscale y

eval chart_title(title)
eval footnote("points: medians; bars: 95% CI of the median over the repetitions; only the values swept are drawn")
set multiplot layout npanels, 1 margins 0.12, 0.78, 95.0 / height, 1 - 80.0 / height spacing 0, 80.0 / height
do for [p=1:npanels] {
    if (p > 1) { unset label 997; unset label 998; unset label 999; unset key }
    if (npanels > 1) { set title word(panel_titles, p) font ",11" offset 0,-0.4 }
    if (unit(p) eq "ns") {
        set format y time_format
        set ylabel "time (log scale)"
    } else {
        if (unit(p) eq "bytes/s") { set format y "%.0s %cB/s" } else { set format y "%.0s%c" }
        set ylabel sprintf("%s (log scale)", unit(p))
    }
    if (p == npanels) { set xlabel xlabel } else { unset xlabel }
    f = first_series(p)
    n = int(word(panel_series, p))
    plot for [i=f:f + n - 1] datafile index (i - 1) \
         using (nudge(zx($1), i - f + 1, n)):($2 * k(p)):($3 * k(p)):($4 * k(p)) \
         with yerrorbars lt lt_of(i) title columnheader(1)
}
unset multiplot
