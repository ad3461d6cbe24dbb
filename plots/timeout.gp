# timeout.gp — how late result(timeout=T) returns: the time past the deadline
# T until the caller has PB_ETIMEDOUT in hand, per deadline and backend. Bars
# are medians, a line above each reaches p99. A 0 deadline is a poll.
#
# Variables (from `poolbench plot`):
#   datafile, outfile, fmt   data file, chart file, 'png' or 'svg'
#   nseries, lts             number of series (backends) and their line types
#   nrows                    number of deadlines (rows)
#   has_floor, floor_name    1 when rows carry the floor measured in the same
#                            run (a bare timed wait's overshoot), and its name
#   subtitle                 the run the data comes from
# Data: one table; header "group x floor s1 p99 s2 p99 ..."; rows
#   "label" deadline_ns floor p50_1 p99_1 p50_2 p99_2 ...       (ns)

dirname(p) = strstrt(p, "/") ? substr(p, 1, strstrt(p, "/")) . dirname(substr(p, strstrt(p, "/") + 1, strlen(p))) : ""
load dirname(ARG0) . "common.gp"

eval chart_title("Timeout overshoot: result(timeout) past its deadline")
set xlabel "deadline passed to result()"
set ylabel "overshoot past the deadline (µs, log scale)"
set logscale y
set xrange [-0.6:nrows - 0.4]
set xtics scale 0
set key outside right top Left reverse nobox

# Bars side by side within each deadline's group.
bw = 0.8 / nseries
xpos(row, i) = row - 0.4 + bw * (i - 0.5)
set boxwidth bw * 0.9

col(i) = 2 + 2*i    # median of series i; p99 is the column after it
plot for [i=1:nseries] datafile using (xpos($0, i)):(us(column(col(i)))) \
         with boxes lt lt_of(i) title columnheader(col(i)), \
     for [i=1:nseries] '' using (xpos($0, i)):(us(column(col(i)))):(0):(us(column(col(i) + 1)) - us(column(col(i)))) \
         with vectors nohead lw 1.2 dt 1 lc rgb "#333333" notitle, \
     '' using 0:(NaN):xtic(1) notitle, \
     NaN with lines lw 1.2 dt 1 lc rgb "#333333" title "median to p99", \
     for [i=1:has_floor] '' using ($0 - 0.45):(us($3)):(0.9):(0) \
         with vectors nohead dt 2 lw 2 lc rgb "#C00000" title sprintf("floor: %s (median)", floor_name)
