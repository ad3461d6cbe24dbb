# cdf.gp — latency distribution per backend as a cumulative distribution on a
# log time axis: for each latency x, the share of samples that took at most x.
# Drawn from the log-linear histogram in the results file (16 buckets per
# power of two), exact at bucket edges and linear inside a bucket. When the
# scenario has a parameter besides the backend (retrieval: via result(),
# a callback or as_completed), one panel per value, on a shared time axis.
#
# Variables (from `poolbench plot`):
#   datafile, outfile, fmt   data file, chart file, 'png' or 'svg'
#   nseries                  number of series (blocks) in the data file
#   lts                      line type of each series, space-separated
#   npanels                  number of panels
#   panel_series             series per panel, space-separated
#   panel_titles             panel titles as quoted words ("" with one panel)
#   title, chart_id, subtitle  (common.gp)
# Data: one block per series, panel by panel; its header names the series;
# rows "x_ns F".

if (!exists("npanels")) npanels = 1
height = npanels > 1 ? 170 + 200 * npanels : 500
dirname(p) = strstrt(p, "/") ? substr(p, 1, strstrt(p, "/")) . dirname(substr(p, strstrt(p, "/") + 1, strlen(p))) : ""
load dirname(ARG0) . "common.gp"
if (!exists("panel_series")) panel_series = sprintf("%d", nseries)
first_series(p) = p == 1 ? 1 : first_series(p - 1) + int(word(panel_series, p - 1))

# The panels share the time axis: its range over every series. (Before any
# range is set: stats on one column reads it as y, subject to the y range.)
stats datafile using (secs($1)) nooutput
xmin = STATS_min
xmax = STATS_max

eval chart_title(title)
set logscale x
set format x time_format
set yrange [0:100]
set ytics 25
set grid xtics ytics lc rgb "#dddddd"
# Guides at the median and at p99.
set arrow 1 from graph 0, first 50 to graph 1, first 50 nohead dt 3 lc rgb "#999999"
set arrow 2 from graph 0, first 99 to graph 1, first 99 nohead dt 3 lc rgb "#999999"
set label 3 "p50" at graph 0.005, first 50 offset 0,0.6 tc rgb "#777777" font ",8"
set label 4 "p99" at graph 0.005, first 99 offset 0,-0.6 tc rgb "#777777" font ",8"

if (npanels == 1) {
    set xlabel "latency (log scale)"
    set ylabel "share of samples at or below (%)"
    set key bottom right Right noreverse
    plot for [i=1:nseries] datafile index (i - 1) using (secs($1)):($2 * 100) \
         with lines lt lt_of(i) title columnheader(1)
} else {
    set xrange [xmin / 1.5 : xmax * 1.5]
    set multiplot layout npanels, 1 margins 0.10, 0.82, 90.0 / height, 1 - 85.0 / height \
        spacing 0, 55.0 / height
    set key outside right top Left reverse nobox
    do for [p=1:npanels] {
        if (p > 1) { unset label 998; unset label 999 }
        set title word(panel_titles, p) font ",11" offset 0,-0.4
        set ylabel "at or below (%)"
        if (p == npanels) { set xlabel "latency (log scale)" } else { unset xlabel }
        f = first_series(p)
        n = int(word(panel_series, p))
        plot for [i=f:f + n - 1] datafile index (i - 1) using (secs($1)):($2 * 100) \
             with lines lt lt_of(i) title columnheader(1)
    }
    unset multiplot
}
