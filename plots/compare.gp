# compare.gp — base against new, case by case, worst first. Each row is one
# metric of one case ("backend/scenario params · metric"), drawn as the
# factor new / base in that metric's bad direction on a log axis: right of
# 1 is worse (slower, lower throughput), left is better, and a 10% change
# looks the same for a 10 µs latency as for a 1 M tasks/s rate. The grey band
# is the base's 95% CI of the median, the point the new median with its own
# CI. Red: worse with the two intervals apart; green: better; grey: they
# overlap. A * marks a metric too spread to trust on either side. Values
# beyond the axis sit on its edge. `poolbench compare` gives the verdict
# with a significance test; this chart shows where to look.
#
# Variables (from `poolbench plot`; title, chart_id, subtitle: common.gp):
#   datafile, outfile, fmt   data file, chart file, 'png' or 'svg'
#   nrows                    number of rows drawn
#   omitted                  rows left out (the least changed)
#   xmax                     the axis runs from 1/xmax to xmax
# Data: one table; header then rows
#   "case" lt w lo hi blo bhi verdict trusted      (factors, above 1 worse)

if (!exists("omitted")) omitted = 0
height = nrows * 20 + 190 > 500 ? nrows * 20 + 190 : 500
width = 900
dirname(p) = strstrt(p, "/") ? substr(p, 1, strstrt(p, "/")) . dirname(substr(p, strstrt(p, "/") + 1, strlen(p))) : ""
load dirname(ARG0) . "common.gp"

eval chart_title(title)
foot = "band: base 95% CI; point and bars: new median and its 95% CI; * not trusted"
if (omitted > 0) { foot = foot . sprintf("; %d more rows, the least changed, not drawn", omitted) }
eval footnote(foot)
set tmargin at screen 1 - 80.0 / height
set bmargin at screen 110.0 / height
set lmargin at screen 0.42
set rmargin at screen 0.97
set xlabel "new / base, in each metric's bad direction (log scale): right is worse"
set logscale x
set xrange [1.0 / xmax : xmax]
# Ticks as factors: x1.25 worse to the right, /1.25 better to the left.
set xtics ("/10" 0.1, "/5" 0.2, "/2" 0.5, "/1.5" 1/1.5, "/1.25" 0.8, "/1.1" 1/1.1, "1" 1, \
           "x1.1" 1.1, "x1.25" 1.25, "x1.5" 1.5, "x2" 2, "x5" 5, "x10" 10)
set yrange [nrows - 0.5:-0.5]
set ytics scale 0 font ",9"
set grid xtics noytics lc rgb "#dddddd"
set key at screen 0.5, screen 0.045 center bottom horizontal samplen 1 font ",9" nobox noopaque
set style fill solid 0.5 noborder

colour(v) = v > 0 ? 0xC00000 : v < 0 ? 0x009E73 : 0x777777

set arrow 1 from first 1, graph 0 to first 1, graph 1 nohead lc rgb "#333333" lw 1
set label 2 "better" at graph 0.02, graph 1 offset 0,0.8 left font ",9" tc rgb "#009E73"
set label 3 "worse" at graph 0.98, graph 1 offset 0,0.8 right font ",9" tc rgb "#C00000"

plot datafile using (1):0:6:7:($0 - 0.32):($0 + 0.32):ytic(1) \
         with boxxyerror lc rgb "#CCCCCC" title "base 95% CI", \
     '' using 3:0:4:5:(colour($8)) with xerrorbars pt 7 ps 1.1 lc rgb variable notitle, \
     NaN with points pt 7 lc rgb "#C00000" title "worse", \
     NaN with points pt 7 lc rgb "#009E73" title "better", \
     NaN with points pt 7 lc rgb "#777777" title "within noise"
