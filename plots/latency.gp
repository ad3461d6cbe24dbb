# latency.gp — round-trip latency per backend, one row each: a dot at the
# median, a thick line from it to p99 and a thin one on to p99.9 (x), and a
# red tick at the floor of the same kind measured in the same run (the floor
# case the metric names: a spinning floor for a pool that spins, a sleeping
# one for a pool that sleeps, process ping-pongs for process pools). The
# numbers are written in the right margin, so no label ever sits on a mark.
#
# Variables (from `poolbench plot`; title, chart_id, subtitle: common.gp):
#   datafile, outfile, fmt   data file, chart file, 'png' or 'svg'
#   nrows                    number of rows (series) in the data file
#   has_floor                1 when at least one row has a floor
#   notes                    per row, its numbers in words (quoted words)
# Data: one table, header then one row per series:
#   case lt p50 p99 p999 floor      (times in ns; floor NaN when none)

if (!exists("nrows")) nrows = 1
height = 190 + 30 * nrows
width = 1100
dirname(p) = strstrt(p, "/") ? substr(p, 1, strstrt(p, "/")) . dirname(substr(p, strstrt(p, "/") + 1, strlen(p))) : ""
load dirname(ARG0) . "common.gp"

eval chart_title(title)
set lmargin at screen 0.14
set rmargin at screen 0.56
set tmargin at screen 1 - 78.0 / height
set bmargin at screen 115.0 / height

# Time axis: SI seconds, log scale, from just below the lowest mark to just
# above the highest.
set logscale x
set format x time_format
set xlabel "latency (log scale)"
stats datafile using 3 nooutput
xlo = STATS_min
stats datafile using 5 nooutput
xhi = STATS_max
if (has_floor) { stats datafile using 6 nooutput; xlo = STATS_min < xlo ? STATS_min : xlo }
set xrange [secs(xlo) / 1.6 : secs(xhi) * 1.6]
set grid xtics noytics lc rgb "#dddddd"

# Rows from the top, in the order of the data.
set yrange [nrows - 0.5 : -0.5]
set ytics scale 0 font ",10"
row(r) = r

# Each row's numbers, in the right margin.
do for [i=1:nrows] {
    set label 100 + i word(notes, i) at graph 1.02, first (i - 1) left font ",9" tc rgb "#222222"
}

set key at screen 0.35, screen 30.0 / height center bottom horizontal maxrows 2 samplen 1.5 font ",9" nobox noopaque
eval footnote("dot: median; thick line to p99, thin line to p99.9 (x); red tick: the same-run floor of the same kind (named right)")

plot datafile using (secs($3)):0:(secs($4) - secs($3)):(0):2 \
         with vectors nohead lw 6 lc variable notitle, \
     '' using (secs($4)):0:(secs($5) - secs($4)):(0) with vectors nohead lw 1.5 lc rgb "#555555" notitle, \
     '' using (secs($5)):0 with points pt 2 ps 1.2 lc rgb "#333333" title "p99.9", \
     for [i=1:nrows] '' every ::(i - 1)::(i - 1) using (secs($3)):(i - 1) \
         with points lt lt_of(i) ps 1.6 notitle, \
     '' using (NaN):0:ytic(1) notitle, \
     for [i=1:has_floor] '' using (secs($6)):($0 - 0.32):(0):(0.64) \
         with vectors nohead lw 2.5 lc rgb "#C00000" title "floor of its kind", \
     NaN with points pt 7 ps 1.4 lc rgb "#555555" title "median", \
     NaN with lines lw 6 lc rgb "#999999" title "p50 to p99"
