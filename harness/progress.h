/*
 * progress.h — telling the user how far a run is, on stderr.
 *
 * On a terminal: one live line, rewritten in place ("[ 12/140] fork
 * roundtrip, repetition 2/5   0:14 elapsed, ~0:41 left"). Otherwise (a log,
 * CI): one plain line per case, so logs stay short and readable. Nothing
 * with --quiet. The estimate assumes the measurements left take as long on
 * average as those done, which is rough but honest about being an estimate.
 */
#ifndef PB_HARNESS_PROGRESS_H
#define PB_HARNESS_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct pbh_progress {
    bool quiet, tty;
    size_t total, done;
    int64_t started;
    bool line_open; /* a live line is on screen */
} pbh_progress;

void pbh_progress_init(pbh_progress *p, bool quiet, size_t total);

/* A case begins (plain mode prints a line): index of ncases, its label, the
 * backends it runs on. */
void pbh_progress_case(pbh_progress *p, size_t index, size_t ncases, const char *label,
                       const char *backends);

/* A measurement begins (live mode redraws): what runs. */
void pbh_progress_step(pbh_progress *p, const char *what);

/* A measurement ended. */
void pbh_progress_advance(pbh_progress *p);

/* Prints a message on its own line (clearing the live line first). */
void pbh_progress_note(pbh_progress *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Clears the live line. */
void pbh_progress_finish(pbh_progress *p);

#endif /* PB_HARNESS_PROGRESS_H */
