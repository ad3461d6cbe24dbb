/*
 * departures.c — the documented departures of a backend from the contract.
 *
 * Some pools the suite measures break the futures contract in known ways
 * (Python's ProcessPoolExecutor breaks as a whole when one worker dies,
 * multiprocessing.Pool cannot cancel, ...). That is worth publishing, not
 * hiding: each such backend has a table, departures/<backend>.md, a
 * Markdown table readable as it is, one row per case that must fail:
 *
 *   | case | fails with | limit | because |
 *   |------|------------|-------|---------|
 *   | state.cancel_pending | `is RUNNING, not PENDING` | | Pool has no cancel |
 *
 *   case        the case's name;
 *   fails with  what its failure message must contain: pieces separated by
 *               " … " (or " ... "), each found after the previous one, so a
 *               message can be pinned without the line numbers in it;
 *               backquotes around it are dropped;
 *   limit       empty, or the seconds after which the case is killed when
 *               the departure is a hang ("10 s"), instead of the runner's
 *               longer timeout, so a documented hang costs little time: it
 *               only has to reach the step it hangs in;
 *   because     why, in words: what the pool does and where the contract
 *               differs. The runner prints it.
 *
 * The runner holds each case to its row: failing as documented is reported
 * as DEPARTS (the test passes); passing, being skipped, or failing with
 * another message fails the test, so the table is checked to stay true.
 * A case without a row must pass (or skip) as usual. Other lines of the
 * file (a title, paragraphs) are text for people and ignored.
 */
#include "conformance.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

static pbc_departure *g_rows;
static size_t g_nrows;

/* Copies s[0..n) trimmed of blanks and of one pair of backquotes. */
static char *trimmed(const char *s, size_t n)
{
    while (n && isspace((unsigned char)*s))
        s++, n--;
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    if (n >= 2 && s[0] == '`' && s[n - 1] == '`')
        s++, n -= 2;
    char *out = malloc(n + 1);
    if (out) {
        memcpy(out, s, n);
        out[n] = '\0';
    }
    return out;
}

/* Splits a table row "| a | b | c | d |" into its cells. Returns the count
 * (at most max); cells are malloc'd. */
static int cells_of(const char *line, char **cells, int max)
{
    const char *p = strchr(line, '|');
    int n = 0;
    while (p && n < max) {
        const char *next = strchr(p + 1, '|');
        if (!next)
            break;
        cells[n++] = trimmed(p + 1, (size_t)(next - p - 1));
        p = next;
    }
    return n;
}

static bool separator_row(char **cells, int n)
{
    for (int i = 0; i < n; i++)
        for (const char *c = cells[i]; c && *c; c++)
            if (*c != '-' && *c != ':')
                return false;
    return true;
}

int pbc_departures_load(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    size_t ncases = 0;
    pbc_case **cases = pbc_cases(&ncases);
    char line[4096];
    int lineno = 0, rc = 0;
    bool header_seen = false;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        lineno++;
        const char *s = line;
        while (isspace((unsigned char)*s))
            s++;
        if (*s != '|')
            continue;
        char *cells[8] = {0};
        int n = cells_of(s, cells, 8);
        if (n > 0 && !header_seen) {
            header_seen = true; /* the header row */
        } else if (n > 0 && !separator_row(cells, n)) {
            bool known = false;
            for (size_t i = 0; i < ncases && !known; i++)
                known = strcmp(cases[i]->name, cells[0]) == 0;
            long limit = n > 2 && cells[2][0] ? strtol(cells[2], NULL, 10) : 0;
            if (n != 4) {
                snprintf(err, errlen, "%s:%d: a row needs 4 cells (case, fails with, limit, "
                         "because), not %d", path, lineno, n);
                rc = -1;
            } else if (!known) {
                snprintf(err, errlen, "%s:%d: no case is called \"%s\"", path, lineno, cells[0]);
                rc = -1;
            } else if (!cells[1][0] || !cells[3][0]) {
                snprintf(err, errlen, "%s:%d: \"%s\" needs what it fails with and why", path,
                         lineno, cells[0]);
                rc = -1;
            } else if (limit < 0 || limit > 86400 || (cells[2][0] && limit == 0)) {
                snprintf(err, errlen, "%s:%d: limit \"%s\" is not whole seconds", path, lineno,
                         cells[2]);
                rc = -1;
            } else if (pbc_departure_find(cells[0])) {
                snprintf(err, errlen, "%s:%d: \"%s\" has two rows", path, lineno, cells[0]);
                rc = -1;
            } else {
                pbc_departure *rows = realloc(g_rows, (g_nrows + 1) * sizeof *rows);
                if (!rows) {
                    snprintf(err, errlen, "out of memory");
                    rc = -1;
                } else {
                    g_rows = rows;
                    g_rows[g_nrows++] = (pbc_departure){cells[0], cells[1], (int)limit, cells[3]};
                    cells[0] = cells[1] = cells[3] = NULL; /* kept */
                }
            }
        }
        for (int i = 0; i < 8; i++)
            free(cells[i]);
    }
    fclose(f);
    return rc;
}

const pbc_departure *pbc_departure_find(const char *case_name)
{
    for (size_t i = 0; i < g_nrows; i++)
        if (strcmp(g_rows[i].case_name, case_name) == 0)
            return &g_rows[i];
    return NULL;
}

bool pbc_departure_matches(const pbc_departure *d, const char *message)
{
    const char *text = d->fails_with, *at = message;
    for (;;) {
        const char *ell = strstr(text, " \xe2\x80\xa6 "); /* " … " */
        const char *dots = strstr(text, " ... ");
        const char *sep = ell && (!dots || ell < dots) ? ell : dots;
        size_t n = sep ? (size_t)(sep - text) : strlen(text);
        char piece[1024];
        snprintf(piece, sizeof piece, "%.*s", (int)n, text);
        const char *hit = strstr(at, piece);
        if (!hit)
            return false;
        at = hit + n;
        if (!sep)
            return true;
        text = sep + (sep == ell ? 5 : 5); /* " … " is 5 bytes, " ... " too */
    }
}
