/*
 * commands.h — the subcommands of the `poolbench` program.
 *
 * Each takes the arguments after `poolbench` (argv[0] is the command's name)
 * and returns the process exit status: 0 fine, 1 a check failed or a
 * regression was found, 2 bad usage or bad input, 130 interrupted.
 */
#ifndef PB_HARNESS_COMMANDS_H
#define PB_HARNESS_COMMANDS_H

int pb_cmd_run(int argc, char **argv);     /* harness/run.c */
int pb_cmd_list(int argc, char **argv);    /* harness/list.c */
int pb_cmd_env(int argc, char **argv);     /* harness/env.c */
int pb_cmd_stress(int argc, char **argv);  /* harness/stress.c */
int pb_cmd_compare(int argc, char **argv); /* results/compare.c */
int pb_cmd_export(int argc, char **argv);  /* results/export.c */
int pb_cmd_history(int argc, char **argv); /* results/history.c */
int pb_cmd_plot(int argc, char **argv);    /* plots/plot.c */

#endif
