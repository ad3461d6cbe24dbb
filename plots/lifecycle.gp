# lifecycle.gp — what a pool's life costs per backend: creating it until the
# first result comes back (start-up), shutting it down, and, for backends
# whose workers are processes, recovering from a worker that crashed or hung
# (until the pool returns its next result). One column per backend, one mark
# per kind: a dot at the median and a line up to p99 (no bars: on a log axis
# a bar's baseline would be arbitrary). A missing mark is a case that did not
# run, and the note under the chart says why.
#
# Variables (from `poolbench plot`; title, chart_id, subtitle: common.gp):
#   datafile, outfile, fmt   data file, chart file, 'png' or 'svg'
#   nkinds                   kinds of mark (start-up, shutdown, recovery ...)
#   nrows                    number of backends (rows)
#   notes                    why some backend has no mark of a kind
# Data: one table; header "backend lt k1 p99 k2 p99 ..."; rows
#   "backend" lt p50_1 p99_1 p50_2 p99_2 ...              (ns)

width = 800 + (nrows > 10 ? 40 * (nrows - 10) : 0)
dirname(p) = strstrt(p, "/") ? substr(p, 1, strstrt(p, "/")) . dirname(substr(p, strstrt(p, "/") + 1, strlen(p))) : ""
load dirname(ARG0) . "common.gp"

# Here colour and marker tell the kind, not the backend (the x axis names it).
kind_colours = "#4C72B0 #55A868 #C44E52 #8172B2 #CCB974 #64B5CD #DD8452 #937860 #DA8BC3 #8C8C8C #2F4B7C #A05195"
kind_points = "7 5 9 11 13 15 6 4 8 10 12 14"
kind_colour(i) = word(kind_colours, (i - 1) % 12 + 1)
kind_point(i) = int(word(kind_points, (i - 1) % 12 + 1))

eval chart_title(title)
eval footnote("dot: median; line: up to p99")
if (strlen(notes) > 0) { eval footnote2(notes) }
set ylabel "time (log scale)"
set logscale y
set format y time_format
set xrange [-0.6:nrows - 0.4]
set xtics scale 0 rotate by -30 left
set grid ytics lc rgb "#dddddd"
set key outside right top Left reverse nobox
set bmargin at screen 110.0 / height

bw = 0.8 / nkinds
xpos(row, i) = row - 0.4 + bw * (i - 0.5)

plot for [i=1:nkinds] datafile using (xpos($0, i)):(secs(column(1 + 2*i))):(0):(secs(column(2 + 2*i)) - secs(column(1 + 2*i))) \
         with vectors nohead lw 2 lc rgb kind_colour(i) notitle, \
     for [i=1:nkinds] '' using (xpos($0, i)):(secs(column(1 + 2*i))) \
         with points pt kind_point(i) ps 1.5 lc rgb kind_colour(i) title columnheader(1 + 2*i), \
     '' using 0:(NaN):xtic(1) notitle
