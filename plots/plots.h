/*
 * plots.h — the plots library: `poolbench plot` draws charts from results
 * files with the gnuplot scripts kept beside it (plot.c; how a chart is
 * made is plot-int.h's story), and `poolbench report` puts them, with the
 * tables, in one HTML page (report.c).
 */
#ifndef PB_PLOTS_PLOTS_H
#define PB_PLOTS_PLOTS_H

#include "command.h"

/* The `poolbench plot` command (command.h). */
extern const pbr_command pb_plot_command;

/* The `poolbench report` command: one self-contained HTML page of a run
 * (report.c). */
extern const pbr_command pb_report_command;

#endif /* PB_PLOTS_PLOTS_H */
