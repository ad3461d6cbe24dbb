/*
 * progress.c — progress on stderr. See progress.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <pb/pool.h>

#include "progress.h"

void pbh_progress_init(pbh_progress *p, bool quiet, size_t total)
{
    p->quiet = quiet;
    p->tty = isatty(STDERR_FILENO);
    p->total = total;
    p->done = 0;
    p->started = pb_now_ns();
    p->line_open = false;
}

static void clock_text(int64_t ns, char *buf, size_t size)
{
    long s = (long)(ns / 1000000000);
    if (s >= 3600)
        snprintf(buf, size, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    else
        snprintf(buf, size, "%ld:%02ld", s / 60, s % 60);
}

/* "0:14 elapsed, ~0:41 left" */
static void times_text(const pbh_progress *p, char *buf, size_t size)
{
    int64_t elapsed = pb_now_ns() - p->started;
    char e[24], l[24];
    clock_text(elapsed, e, sizeof e);
    if (p->done == 0 || p->done >= p->total) {
        snprintf(buf, size, "%s elapsed", e);
        return;
    }
    double per = (double)elapsed / (double)p->done;
    clock_text((int64_t)(per * (double)(p->total - p->done)), l, sizeof l);
    snprintf(buf, size, "%s elapsed, ~%s left", e, l);
}

void pbh_progress_case(pbh_progress *p, size_t index, size_t ncases, const char *label,
                       const char *backends)
{
    if (p->quiet || p->tty)
        return;
    char t[96];
    times_text(p, t, sizeof t);
    fprintf(stderr, "poolbench: case %zu/%zu: %s on %s (%s)\n", index + 1, ncases, label, backends, t);
    fflush(stderr);
}

void pbh_progress_step(pbh_progress *p, const char *what)
{
    if (p->quiet || !p->tty)
        return;
    char t[96], line[1024];
    times_text(p, t, sizeof t);
    snprintf(line, sizeof line, "[%*zu/%zu] %s   %s", p->total >= 1000 ? 4 : 3, p->done + 1,
             p->total, what, t);
    /* A line wider than the terminal would wrap, and \r would then only
     * rewrite its last row: cut it to the width. */
    struct winsize ws;
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1 && ws.ws_col < sizeof line)
        line[ws.ws_col - 1] = '\0';
    /* \r and erase-line: the line is rewritten in place. */
    fprintf(stderr, "\r\033[K%s", line);
    fflush(stderr);
    p->line_open = true;
}

void pbh_progress_advance(pbh_progress *p)
{
    p->done++;
}

void pbh_progress_note(pbh_progress *p, const char *fmt, ...)
{
    if (p->quiet)
        return;
    if (p->line_open) {
        fprintf(stderr, "\r\033[K");
        p->line_open = false;
    }
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
}

void pbh_progress_finish(pbh_progress *p)
{
    if (p->line_open) {
        fprintf(stderr, "\r\033[K");
        fflush(stderr);
        p->line_open = false;
    }
}
