/*
 * fuzz-common.c — helpers shared by the fuzz targets (see fuzz.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

void pbf_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("fuzz: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    fflush(stderr);
    abort();
}

void pbf_check_message(const char *what, const char *msg, const char *prefix)
{
    if (!msg[0])
        pbf_fail("%s refused the input without saying why", what);
    if (strchr(msg, '\n'))
        pbf_fail("%s: the message is more than one line: \"%s\"", what, msg);
    if (strncmp(msg, prefix, strlen(prefix)))
        pbf_fail("%s: the message does not start with \"%s\": \"%s\"", what, prefix, msg);
}
