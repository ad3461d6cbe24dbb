/*
 * plots.h — the plots library: `poolbench plot` draws charts from results
 * files with the gnuplot scripts kept beside it (plot.c; how a chart is
 * made is plot-int.h's story).
 */
#ifndef PB_PLOTS_PLOTS_H
#define PB_PLOTS_PLOTS_H

#include "command.h"

/* The `poolbench plot` command (command.h). */
extern const pbr_command pb_plot_command;

#endif /* PB_PLOTS_PLOTS_H */
