# hosts.gp — one backend across hosts, side by side. Each group of bars is
# one case of the backend (its headline metric), one bar per host: the
# newest run of each host, in % of the first host's median, with the 95% CI
# of the median as the whisker. A chart of machines, not of commits: the
# hosts differ in CPU, kernel and load, which is what it shows.
#
# Variables (from `poolbench plot`):
#   datafile, outfile, fmt   data file, chart file, 'png' or 'svg'
#   nhosts, ncases           hosts (bars per group) and cases (groups)
#   backend                  the backend shown
#   subtitle                 which runs, relative to which host
# Data: one table; header "case" then three columns per host (value, CI
# low, CI high), one row per case.

# The chart widens with the number of bars.
width = ncases * (nhosts * 14 + 20) + 200 > 800 ? ncases * (nhosts * 14 + 20) + 200 : 800
dirname(p) = strstrt(p, "/") ? substr(p, 1, strstrt(p, "/")) . dirname(substr(p, strstrt(p, "/") + 1, strlen(p))) : ""
load dirname(ARG0) . "common.gp"

eval chart_title(backend . " across hosts")
set ylabel "% of the first host's median"
set style data histogram
set style histogram errorbars gap 1 lw 1
set style fill solid 0.75 border -1
set boxwidth 0.9
set xtics rotate by -35 left font ",9" nomirror
set grid ytics lc rgb "#dddddd"
set yrange [0:*]
set key top right font ",9"
set bmargin 9
set rmargin 14
set arrow 1 from graph 0, first 100 to graph 1, first 100 nohead lc rgb "#333333" lw 1 dt 2

plot for [h=1:nhosts] datafile using 3*h-1:3*h:3*h+1:xtic(1) title columnheader(3*h-1) lt h
