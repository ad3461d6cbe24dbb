/*
 * signals.h — stopping a command that measures, without losing what it
 * measured (signals.c): the signals that ask it to stop, and writing the
 * results file so that no signal ends the program in the middle of it.
 */
#ifndef PB_HARNESS_SIGNALS_H
#define PB_HARNESS_SIGNALS_H

#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

/* The dispositions pbh_signals_catch() replaced. */
typedef struct pbh_signals_saved {
    struct sigaction old[3];
} pbh_signals_saved;

/* SIGINT, SIGTERM and SIGHUP from now on ask the command to stop: pbh_stop
 * (runner.h) becomes 1 and stays so. The same request delivered several
 * times at once changes nothing more; a signal a second or more after the
 * first ends the program with status 130 at once, or, while results are
 * being written (pbh_signals_hold), as soon as the write is done. Clears
 * pbh_stop. */
void pbh_signals_catch(pbh_signals_saved *saved);

/* Puts back what pbh_signals_catch() replaced. */
void pbh_signals_restore(const pbh_signals_saved *saved);

/* While on, a signal that would end the program waits; turning it off ends
 * the program (status 130) if one came meanwhile. */
void pbh_signals_hold(bool on);

/* pbr_write_atomic() with pbh_signals_hold() around it. */
int pbh_write_results(const char *path, const json_t *doc, char *err, size_t errlen);

#endif /* PB_HARNESS_SIGNALS_H */
