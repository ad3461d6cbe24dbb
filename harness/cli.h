/*
 * cli.h — small helpers shared by the harness's commands: options, numbers,
 * plugins. Every error is one line on stderr naming the command and what was
 * wrong; the caller then exits with status 2.
 */
#ifndef PB_HARNESS_CLI_H
#define PB_HARNESS_CLI_H

#include <stdbool.h>

/* If argv[*i] is option `opt` ("--out FILE" or "--out=FILE"), sets *value,
 * advances *i past a separate value and returns 1. Returns 0 when argv[*i]
 * is another option, -1 (message printed) when the value is missing. */
int pbh_opt_value(const char *cmd, int argc, char **argv, int *i, const char *opt,
                  const char **value);

/* Parses a whole number in [lo, hi] for option opt. Returns 0, or -1 with a
 * message printed. */
int pbh_parse_int(const char *cmd, const char *opt, const char *text, long lo, long hi, int *out);

/* If argv[*i] is option opt, parses its value as pbh_parse_int() does into
 * *out and returns 1. Returns 0 when argv[*i] is another option, -1 (message
 * printed) when the value is missing or not a number in [lo, hi]. */
int pbh_opt_int(const char *cmd, int argc, char **argv, int *i, const char *opt, long lo, long hi,
                int *out);

/* Splits a comma-separated list into a NULL-terminated array of strings
 * (one allocation; free the array). Empty items are an error: returns NULL
 * with a message printed, as on ENOMEM. An item that is key=value continues
 * the one before it: "thread,fork:a=1,b=2" is "thread" and "fork:a=1,b=2". */
char **pbh_split_list(const char *cmd, const char *opt, const char *text, int *n);

/* Whether spec ("fork" or "fork:transport=shm") names backend name. */
bool pbh_backend_is(const char *name, const char *spec);

/* dlopen()s a plugin (a shared object whose constructors register backends
 * and tasks). Returns 0, or -1 with a message printed. */
int pbh_load_plugin(const char *cmd, const char *path);

/* If argv[*i] is "--load PLUGIN.so" (or --load=PLUGIN.so), loads the plugin
 * and returns 1. Returns 0 when argv[*i] is another option, -1 (message
 * printed) when the value is missing or the plugin cannot be loaded. */
int pbh_opt_load(const char *cmd, int argc, char **argv, int *i);

#endif /* PB_HARNESS_CLI_H */
