# common.gp — what every poolbench chart shares: output, size, fonts, colours.
#
# Each chart script loads this first. `poolbench plot` runs a script as
#     gnuplot -e "datafile='...'; outfile='...'; fmt='png'; ..." SCRIPT.gp
# and every variable it passes is listed at the top of that script. To restyle
# a chart, edit its script (or this file) and rerun `poolbench plot`; with
# --keep-data the data file stays beside the chart so the script can also be
# run by hand.

if (!exists("fmt")) fmt = "png"
if (!exists("subtitle")) subtitle = ""

# README size; a script that needs more room sets width/height before it
# loads this file. Titles and legends come from the results (backend names,
# parameters), so text is not "enhanced": an underscore stays an underscore.
width = exists("width") ? width : 800
height = exists("height") ? height : 500
if (fmt eq "svg") {
    set terminal svg size width, height dynamic noenhanced font "DejaVu Sans,12" background "white"
} else {
    set terminal pngcairo size width, height noenhanced font "DejaVu Sans,10" background "white"
}
set encoding utf8
set output outfile

set datafile columnheaders
set datafile separator whitespace

# One colour per backend in every chart (Okabe–Ito, readable by colour-blind
# readers): 1 thread, 2 fork, 3 exec, 4-8 other backends; 9-16 the same
# colours dashed and 17-24 dotted, for a backend's second and third series.
# `lts`, passed by poolbench plot, says which type each series takes.
set linetype 1 lc rgb "#0072B2" lw 2 pt 7 ps 1.0
set linetype 2 lc rgb "#E69F00" lw 2 pt 5 ps 1.0
set linetype 3 lc rgb "#009E73" lw 2 pt 9 ps 1.2
set linetype 4 lc rgb "#CC79A7" lw 2 pt 13 ps 1.2
set linetype 5 lc rgb "#D55E00" lw 2 pt 11 ps 1.2
set linetype 6 lc rgb "#56B4E9" lw 2 pt 15 ps 1.0
set linetype 7 lc rgb "#000000" lw 2 pt 3 ps 1.0
set linetype 8 lc rgb "#999999" lw 2 pt 1 ps 1.0
set linetype 9 lc rgb "#0072B2" lw 2 dt 2 pt 6 ps 1.0
set linetype 10 lc rgb "#E69F00" lw 2 dt 2 pt 4 ps 1.0
set linetype 11 lc rgb "#009E73" lw 2 dt 2 pt 8 ps 1.2
set linetype 12 lc rgb "#CC79A7" lw 2 dt 2 pt 12 ps 1.2
set linetype 13 lc rgb "#D55E00" lw 2 dt 2 pt 10 ps 1.2
set linetype 14 lc rgb "#56B4E9" lw 2 dt 2 pt 14 ps 1.0
set linetype 15 lc rgb "#000000" lw 2 dt 2 pt 2 ps 1.0
set linetype 16 lc rgb "#999999" lw 2 dt 2 pt 1 ps 1.0
set linetype 17 lc rgb "#0072B2" lw 2 dt 3 pt 6 ps 1.0
set linetype 18 lc rgb "#E69F00" lw 2 dt 3 pt 4 ps 1.0
set linetype 19 lc rgb "#009E73" lw 2 dt 3 pt 8 ps 1.2
set linetype 20 lc rgb "#CC79A7" lw 2 dt 3 pt 12 ps 1.2
set linetype 21 lc rgb "#D55E00" lw 2 dt 3 pt 10 ps 1.2
set linetype 22 lc rgb "#56B4E9" lw 2 dt 3 pt 14 ps 1.0
set linetype 23 lc rgb "#000000" lw 2 dt 3 pt 2 ps 1.0
set linetype 24 lc rgb "#999999" lw 2 dt 3 pt 1 ps 1.0
set linetype cycle 24

if (!exists("lts")) lts = "1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24"
lt_of(i) = int(word(lts, i))

set border 3 lw 1 lc rgb "#444444"
set tics nomirror out scale 0.6
set grid ytics lc rgb "#dddddd" lw 1 dt 1
set key top left Left reverse samplen 2.5 spacing 1.1 opaque box lc rgb "#cccccc"
set style fill solid 0.85 noborder

# Title on top, the run it was drawn from under it in smaller grey type, at
# fixed places on the page so multi-panel charts get them the same way.
# Scripts call:  eval chart_title("Round-trip latency per backend")
chart_title(t) = sprintf('set label 998 "%s" at screen 0.5, screen 1 center offset 0,-1.1 ' . \
    'font ",14"; set label 999 subtitle at screen 0.5, screen 1 center offset 0,-2.6 ' . \
    'font ",9" tc rgb "#555555"', t)
set tmargin at screen 0.86

# Durations: the results hold ns; axes show µs.
us(ns) = ns / 1000.0

# Ticks for log axes in time units: 1 µs, 10 µs, ..., with readable labels.
set format y "%g"
set format x "%g"
