# timeout.gp — how late result(timeout=T) returns: the time past the deadline
# T until the caller has PB_ETIMEDOUT in hand, per deadline and backend. A
# dot at the median, a line up to p99; side by side within each deadline. On
# a log axis a bar would start at an arbitrary baseline, so there are none.
# The red dash across each group is the floor of the same run: a bare timed
# wait's overshoot with the same deadline. A 0 deadline is a poll.
#
# Variables (from `poolbench plot`; title, chart_id, subtitle: common.gp):
#   datafile, outfile, fmt   data file, chart file, 'png' or 'svg'
#   nseries, lts             number of series (backends) and their line types
#   nrows                    number of deadlines (rows)
#   has_floor, floor_name    1 when rows carry the floor measured in the same
#                            run (a bare timed wait's overshoot), and its name
# Data: one table; header "group x floor s1 p99 s2 p99 ..."; rows
#   "label" deadline_ns floor p50_1 p99_1 p50_2 p99_2 ...       (ns)

dirname(p) = strstrt(p, "/") ? substr(p, 1, strstrt(p, "/")) . dirname(substr(p, strstrt(p, "/") + 1, strlen(p))) : ""
load dirname(ARG0) . "common.gp"

eval chart_title(title)
eval footnote("dot: median overshoot; line: up to p99; red dash: the same deadline's bare timed wait in this run (the floor)")
set xlabel "deadline passed to result()"
set ylabel "overshoot past the deadline (log scale)"
set logscale y
set format y time_format
set xrange [-0.6:nrows - 0.4]
set xtics scale 0
set grid ytics lc rgb "#dddddd"
set key outside right top Left reverse nobox

# Side by side within each deadline's group.
bw = 0.8 / nseries
xpos(row, i) = row - 0.4 + bw * (i - 0.5)

col(i) = 2 + 2*i    # median of series i; p99 is the column after it
plot for [i=1:nseries] datafile using (xpos($0, i)):(secs(column(col(i)))):(0):(secs(column(col(i) + 1)) - secs(column(col(i)))) \
         with vectors nohead lw 2 lt lt_of(i) notitle, \
     for [i=1:nseries] '' using (xpos($0, i)):(secs(column(col(i)))) \
         with points lt lt_of(i) ps 1.5 title columnheader(col(i)), \
     '' using 0:(NaN):xtic(1) notitle, \
     for [i=1:has_floor] '' using ($0 - 0.45):(secs($3)):(0.9):(0) \
         with vectors nohead dt 2 lw 2 lc rgb "#C00000" title sprintf("floor: %s", floor_name)
