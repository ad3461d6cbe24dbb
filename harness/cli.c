/*
 * cli.c — option helpers for the harness commands. See cli.h.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int pbh_opt_value(const char *cmd, int argc, char **argv, int *i, const char *opt,
                  const char **value)
{
    const char *a = argv[*i];
    size_t n = strlen(opt);
    if (strncmp(a, opt, n))
        return 0;
    if (a[n] == '=') {
        *value = a + n + 1;
        return 1;
    }
    if (a[n] != '\0')
        return 0;
    if (*i + 1 >= argc) {
        fprintf(stderr, "poolbench %s: %s needs a value\n", cmd, opt);
        return -1;
    }
    *value = argv[++*i];
    return 1;
}

int pbh_parse_int(const char *cmd, const char *opt, const char *text, long lo, long hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (!*text || *end || errno || v < lo || v > hi || text[0] == ' ' || text[0] == '+') {
        fprintf(stderr, "poolbench %s: %s: expected a whole number from %ld to %ld, got '%s'\n", cmd,
                opt, lo, hi, text);
        return -1;
    }
    *out = (int)v;
    return 0;
}

int pbh_opt_int(const char *cmd, int argc, char **argv, int *i, const char *opt, long lo, long hi,
                int *out)
{
    const char *v;
    int m = pbh_opt_value(cmd, argc, argv, i, opt, &v);
    if (m <= 0)
        return m;
    return pbh_parse_int(cmd, opt, v, lo, hi, out) ? -1 : 1;
}

char **pbh_split_list(const char *cmd, const char *opt, const char *text, int *n)
{
    size_t items = 1, len = strlen(text);
    for (const char *c = text; *c; c++)
        items += *c == ',';
    /* The pointers, then a copy of the text they point into. */
    char **v = malloc((items + 1) * sizeof *v + len + 1);
    if (!v) {
        fprintf(stderr, "poolbench %s: out of memory\n", cmd);
        return NULL;
    }
    char *copy = (char *)(v + items + 1);
    memcpy(copy, text, len + 1);
    int k = 0;
    for (char *item = copy;;) {
        char *comma = strchr(item, ',');
        if (comma)
            *comma = '\0';
        if (!*item) {
            fprintf(stderr, "poolbench %s: %s: empty name in list '%s'\n", cmd, opt, text);
            free(v);
            return NULL;
        }
        /* "thread,fork:transport=shm,prefetch=2": an item that is a key=value
         * (a '=' before any ':') continues the settings of the backend before
         * it, since names never hold '='. */
        if (k > 0 && strcspn(item, "=") < strcspn(item, ":"))
            item[-1] = ',';
        else
            v[k++] = item;
        if (!comma)
            break;
        item = comma + 1;
    }
    v[k] = NULL;
    *n = k;
    return v;
}

bool pbh_backend_is(const char *name, const char *spec)
{
    size_t n = strcspn(spec, ":");
    return strlen(name) == n && !strncmp(name, spec, n);
}

int pbh_load_plugin(const char *cmd, const char *path)
{
    /* RTLD_GLOBAL: the plugin's tasks and backends call into libpbpools,
     * and a later plugin may build on an earlier one. The handle is kept
     * for the life of the program: registered tables live in it. */
    if (!dlopen(path, RTLD_NOW | RTLD_GLOBAL)) {
        const char *why = dlerror();
        fprintf(stderr, "poolbench %s: --load %s: %s\n", cmd, path, why ? why : "cannot load");
        return -1;
    }
    return 0;
}

int pbh_opt_load(const char *cmd, int argc, char **argv, int *i)
{
    const char *v;
    int m = pbh_opt_value(cmd, argc, argv, i, "--load", &v);
    if (m <= 0)
        return m;
    return pbh_load_plugin(cmd, v) ? -1 : 1;
}
