/*
 * commands.h — the harness's own commands (each a pbr_command, see
 * results/command.h). The program's list of every command, the libraries'
 * included, is in main.c.
 */
#ifndef PB_HARNESS_COMMANDS_H
#define PB_HARNESS_COMMANDS_H

#include "command.h"

extern const pbr_command pbh_run_command;    /* run.c */
extern const pbr_command pbh_list_command;   /* list.c */
extern const pbr_command pbh_env_command;    /* env.c */
extern const pbr_command pbh_stress_command; /* stress.c */
extern const pbr_command pbh_ab_command;        /* ab.c */
extern const pbr_command pbh_calibrate_command; /* calibrate.c */

#endif /* PB_HARNESS_COMMANDS_H */
