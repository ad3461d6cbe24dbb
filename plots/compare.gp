# compare.gp — base against new, case by case. Each row is one metric of one
# case (backend, scenario, parameters), scaled so the base median is 100%:
# the grey band is the base's 95% CI of the median, the point the new
# median with its own CI. Green: better by the metric's own direction (lower
# latency, higher throughput) with the two intervals apart; red: worse;
# grey: the intervals overlap. A * marks a case whose spread was too wide to
# trust on either side. `poolbench compare` gives the verdict with a
# significance test; this chart shows where to look.
#
# Variables (from `poolbench plot`):
#   datafile, outfile, fmt   data file, chart file, 'png' or 'svg'
#   nrows                    number of rows
#   subtitle                 which runs are compared
# Data: one table; header then rows
#   "case" lt base base_lo base_hi new new_lo new_hi verdict trusted   (%)

# One row per case: the chart grows with the number of cases.
height = nrows * 22 + 170 > 500 ? nrows * 22 + 170 : 500
dirname(p) = strstrt(p, "/") ? substr(p, 1, strstrt(p, "/")) . dirname(substr(p, strstrt(p, "/") + 1, strlen(p))) : ""
load dirname(ARG0) . "common.gp"


eval chart_title("Base against new, per case")
set tmargin at screen 1 - 75.0 / height
set bmargin at screen 95.0 / height
set lmargin at screen 0.36
set rmargin at screen 0.96
set xlabel "new median, % of the base median"
set yrange [nrows - 0.5:-0.5]
set ytics scale 0 font ",9"
set grid xtics noytics lc rgb "#dddddd"
set key at screen 0.5, screen 0.005 center bottom horizontal maxrows 2 samplen 1 font ",9" nobox noopaque
set offsets graph 0.05, graph 0.05, 0, 0

colour(v) = v > 0 ? 0x009E73 : v < 0 ? 0xC00000 : 0x777777
label(c, t) = t != 0 ? c : c . " *"

set arrow 1 from first 100, graph 0 to first 100, graph 1 nohead lc rgb "#333333" lw 1

plot datafile using (100):0:4:5:($0 - 0.3):($0 + 0.3):ytic(label(strcol(1), $10)) \
         with boxxyerror fs solid 0.5 noborder lc rgb "#CCCCCC" title "base 95% CI", \
     '' using 6:0:7:8:(colour($9)) with xerrorbars pt 7 ps 1.1 lc rgb variable notitle, \
     NaN with points pt 7 lc rgb "#009E73" title "better", \
     NaN with points pt 7 lc rgb "#C00000" title "worse", \
     NaN with points pt 7 lc rgb "#777777" title "within noise", \
     NaN with points pt -1 lc rgb "white" title "* not trusted"
