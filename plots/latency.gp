# latency.gp — round-trip latency per backend: one bar per backend at the
# median, markers at p99 and p99.9, and the machine's own floor measured in
# the same run (futex ping-pong for threads, pipe ping-pong for processes) as
# a reference dash across each bar.
#
# Variables (from `poolbench plot`):
#   datafile, outfile, fmt   data file, chart file, 'png' or 'svg'
#   nrows                    number of rows (series) in the data file
#   has_floor                1 when at least one row has a floor
#   subtitle                 the run the data comes from
# Data: one table, header then one row per series:
#   case lt p50 p99 p999 floor floor_name      (times in ns)

dirname(p) = strstrt(p, "/") ? substr(p, 1, strstrt(p, "/")) . dirname(substr(p, strstrt(p, "/") + 1, strlen(p))) : ""
load dirname(ARG0) . "common.gp"

eval chart_title("Round-trip latency per backend (submit → result, one task in flight)")
set ylabel "latency (µs, log scale)"
set logscale y
# Headroom above the tallest marker for the key.
stats datafile using (us($5)) nooutput
set yrange [*:STATS_max * 8]
set xrange [-0.6:nrows - 0.4]
set xtics scale 0
set bmargin 4
set boxwidth 0.6
set key top left maxrows 2

bar_w = 0.3
# Under each backend's name, the floor it is compared with.
label(name, floor) = has_floor && strlen(floor) ? sprintf("%s\n(%s)", name, floor) : name
plot datafile using 0:(us($3)):2:xtic(label(strcol(1), strcol(7))) with boxes lc variable notitle, \
     '' using 0:(us($3)):(sprintf("%.3g µs", us($3))) with labels offset 0,0.7 tc rgb "#222222" font ",9" notitle, \
     NaN with boxes lc rgb "#888888" title "median (bar)", \
     '' using 0:(us($4)) with points pt 9 ps 1.6 lc rgb "#333333" title "p99", \
     '' using 0:(us($5)) with points pt 8 ps 1.4 lw 1.5 lc rgb "#333333" title "p99.9", \
     for [i=1:has_floor] '' using ($0 - bar_w - 0.05):(us($6)):(2*bar_w + 0.1):(0) \
        with vectors nohead dt 2 lw 2 lc rgb "#C00000" title "floor: same-run median (named below)"
