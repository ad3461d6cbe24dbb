# lifecycle.gp — what a pool's life costs per backend: creating it until the
# first result comes back (start-up), shutting it down, and, for backends
# whose workers are processes, recovering from a worker that crashed or hung
# (until the pool returns its next result). Bars are medians, a line above
# each reaches p99; a missing bar is a case that did not run, and the note under the
# chart says why.
#
# Variables (from `poolbench plot`):
#   datafile, outfile, fmt   data file, chart file, 'png' or 'svg'
#   nkinds                   kinds of bar (start-up, shutdown, recovery ...)
#   nrows                    number of backends (rows)
#   notes                    why some backend has no bar of a kind
#   subtitle                 the run the data comes from
# Data: one table; header "backend lt k1 p99 k2 p99 ..."; rows
#   "backend" lt p50_1 p99_1 p50_2 p99_2 ...              (ns)

dirname(p) = strstrt(p, "/") ? substr(p, 1, strstrt(p, "/")) . dirname(substr(p, strstrt(p, "/") + 1, strlen(p))) : ""
load dirname(ARG0) . "common.gp"

# Here colour tells the kind of bar, not the backend (the x axis names it).
kind_colours = "#4C72B0 #8FB0D8 #C44E52 #E8A0A2 #8172B2 #B9AED6 #55A868 #A4D3B0 #CCB974 #64B5CD #DD8452 #937860"
kind_colour(i) = word(kind_colours, (i - 1) % 12 + 1)

eval chart_title("Start-up, shutdown and fault recovery per backend")
set ylabel "time (ms, log scale)"
set logscale y
set format y "%g"
set xrange [-0.6:nrows - 0.4]
set xtics scale 0
set key outside right top Left reverse nobox
if (strlen(notes) > 0) {
    set bmargin 5
    set label 20 notes at screen 0.5, screen 0.02 center font ",8" tc rgb "#555555"
}

bw = 0.8 / nkinds
xpos(row, i) = row - 0.4 + bw * (i - 0.5)
set boxwidth bw * 0.9

ms(ns) = ns / 1e6
plot for [i=1:nkinds] datafile using (xpos($0, i)):(ms(column(1 + 2*i))) \
         with boxes lc rgb kind_colour(i) title columnheader(1 + 2*i), \
     for [i=1:nkinds] '' using (xpos($0, i)):(ms(column(1 + 2*i))):(0):(ms(column(2 + 2*i)) - ms(column(1 + 2*i))) \
         with vectors nohead lw 1.2 dt 1 lc rgb "#333333" notitle, \
     '' using 0:(NaN):xtic(1) notitle, \
     NaN with lines lw 1.2 dt 1 lc rgb "#333333" title "median to p99"
