# common.gp — what every poolbench chart shares: output, size, fonts,
# colours, the title, the time unit, footnotes.
#
# Each chart script loads this first. `poolbench plot` runs a script as
#     gnuplot -e "datafile='...'; outfile='...'; fmt='png'; ..." SCRIPT.gp
# and every variable it passes is listed at the top of that script; these
# come with every chart:
#   title      the chart's title (plot.c's chart table)
#   chart_id   its name as an identifier (the SVG's internal name)
#   subtitle   the run(s) it was drawn from
# To restyle a chart, edit its script (or this file) and rerun `poolbench
# plot`; with --keep-data the data file stays beside the chart so the script
# can also be run by hand.
#
# A new chart gets all of this by loading this file: its series take
# `lt lt_of(i)` (colours and markers by backend name), its title
# `eval chart_title(title)`, its time axes `set format y time_format` over
# values passed through secs(), and its explanations `eval footnote("...")`.

if (!exists("fmt")) fmt = "png"
if (!exists("subtitle")) subtitle = ""
if (!exists("title")) title = ""
if (!exists("chart_id")) chart_id = "poolbench_chart"

# README size; a script that needs more room sets width/height before it
# loads this file. Titles and legends come from the results (backend names,
# parameters), so text is not "enhanced": an underscore stays an underscore.
# (The SVG's <title> becomes the chart's title once drawn: plot.c.)
width = exists("width") ? width : 800
height = exists("height") ? height : 500
if (fmt eq "svg") {
    set terminal svg size width, height fixed noenhanced name chart_id \
        font "DejaVu Sans,12" background "white"
} else {
    set terminal pngcairo size width, height noenhanced font "DejaVu Sans,10" background "white"
}
set encoding utf8
set output outfile

set datafile columnheaders
set datafile separator whitespace

# One colour and one marker per backend, by its name, in every chart and
# every run (plots/style.c maps a name to its slot): slots 1-12 are the
# backends poolbench knows, 13-20 a reserve for other pools (their names
# hashed into it). Line type slot + 20 * style draws the same colour and
# shape in style 0 solid, filled marker; 1 dashed, 2 dotted, 3 dash-dot,
# with the open twin of the marker: a backend with settings
# (fork:transport=shm) or a second series of one backend.
#   1 thread      2 fork       3 exec        4 glib      5 libuv     6 tbb
#   7 openmp      8 asio       9 mpi        10 py-thread 11 py-process
#  12 py-mp      13-20 others
palette = "#0072B2 #E69F00 #009E73 #CC79A7 #D55E00 #56B4E9 #882D17 #604E97 " . \
          "#000000 #8DB600 #B3446C #0E7C7B " . \
          "#A6761D #E7298A #66A61E #6A3D9A #B15928 #1B9E77 #E6AB02 #666666"
# Filled markers per slot, and each one's open twin (gnuplot point types).
markers_filled = "7 5 9 11 13 15 7 5 9 11 13 15 7 5 9 11 13 15 7 5"
markers_open   = "6 4 8 10 12 14 6 4 8 10 12 14 6 4 8 10 12 14 6 4"
# Slots 7-12 repeat 1-6's shapes filled; tell them apart by a ring: they
# take the open shape in style 0 and the filled one in the others.
dashes = "1 2 3 4"
nslots = 20
do for [style=0:3] {
    do for [slot=1:nslots] {
        lt = slot + nslots * style
        ring = (slot >= 7 && slot <= 12)
        filled = (style == 0) != ring
        pt = int(word(filled ? markers_filled : markers_open, slot))
        set linetype lt lc rgb word(palette, slot) lw 2 dt int(word(dashes, style + 1)) \
            pt pt ps 1.2
    }
}
set linetype cycle 80

if (!exists("lts")) lts = "1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20"
lt_of(i) = int(word(lts, i))

set border 3 lw 1 lc rgb "#444444"
set tics nomirror out scale 0.6
set grid ytics lc rgb "#dddddd" lw 1 dt 1
set key top left Left reverse samplen 2.5 spacing 1.1 opaque box lc rgb "#cccccc"
set style fill solid 0.85 noborder

# Title on top, the run it was drawn from under it in smaller grey type, at
# fixed places on the page so multi-panel charts get them the same way.
# Scripts call:  eval chart_title(title)
chart_title(t) = sprintf('set label 998 "%s" at screen 0.5, screen 1 center offset 0,-1.1 ' . \
    'font ",14"; set label 999 subtitle at screen 0.5, screen 1 center offset 0,-2.6 ' . \
    'font ",9" tc rgb "#555555"', t)
set tmargin at screen 1 - 70.0 / height

# What a chart's marks mean, in one or two lines at the foot of the page
# (error bars, floors, bounds): eval footnote("bars: 95% CI of the median")
footnote(t) = sprintf('set label 997 "%s" at screen 0.01, screen %g left ' . \
    'font ",8" tc rgb "#555555"', t, 9.0 / height)
# A second line above it (why marks are missing, bounds ...).
footnote2(t) = sprintf('set label 996 "%s" at screen 0.01, screen %g left ' . \
    'font ",8" tc rgb "#555555"', t, 24.0 / height)
set bmargin at screen 75.0 / height

# Time: one convention in every chart. The results hold ns; axes are
# seconds with SI prefixes ("100 ns", "10 µs", "2 ms"), so a time axis is
# read the same way at any magnitude. Plot secs(column) on an axis with
# `set format x time_format` (log axes: ticks at decades).
set micro
secs(ns) = ns * 1e-9
time_format = "%.0s %cs"
time_format_fine = "%.1s %cs"

set format y "%g"
set format x "%g"
