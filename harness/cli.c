/*
 * cli.c — what the harness's commands share beyond the option parser. See
 * cli.h.
 */
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <pb/backend.h>

#include "cli.h"

int pbh_load_option(const char *path, void *plugins, char *err, size_t errlen)
{
    /* RTLD_GLOBAL: the plugin's tasks and backends call into libpbpools,
     * and a later plugin may build on an earlier one. The handle is kept
     * for the life of the program: registered tables live in it. */
    if (!dlopen(path, RTLD_NOW | RTLD_GLOBAL)) {
        const char *why = dlerror();
        snprintf(err, errlen, "%s", why ? why : "cannot load");
        return -1;
    }
    ++*(int *)plugins;
    return 0;
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

/* Each of v[0..n) is a registered backend, named once? */
static bool names_known(const char *cmd, char **v, int n)
{
    const char *const *known = pb_backend_names();
    for (int i = 0; i < n; i++) {
        bool found = false;
        for (const char *const *k = known; k && *k; k++)
            found |= pbh_backend_is(*k, v[i]);
        for (int j = 0; j < i; j++)
            if (!strcmp(v[j], v[i])) {
                fprintf(stderr, "poolbench %s: --backend: '%s' named twice\n", cmd, v[i]);
                return false;
            }
        if (!found) {
            char list[256] = "";
            for (const char *const *k = known; k && *k; k++) {
                size_t used = strlen(list);
                snprintf(list + used, sizeof list - used, "%s%s", used ? ", " : "", *k);
            }
            fprintf(stderr, "poolbench %s: --backend: unknown backend '%s' (known: %s)\n", cmd,
                    v[i], list);
            return false;
        }
    }
    return true;
}

/* A NULL-terminated copy of the n pointers of v. */
static char **pointers(char *const *v, int n)
{
    char **c = calloc((size_t)n + 1, sizeof *c);
    if (c && n)
        memcpy(c, v, (size_t)n * sizeof *c);
    return c;
}

char **pbh_choose_backends(const char *cmd, const char *arg, char *const *dflt, size_t ndflt,
                           char *later, size_t later_size, int *n)
{
    bool named = arg && strcmp(arg, "all");
    bool every = !named && (arg || ndflt == 0);
    char **v = NULL;
    *n = 0;
    if (named) {
        if (!(v = pbh_split_list(cmd, "--backend", arg, n)))
            return NULL;
        if (!names_known(cmd, v, *n)) {
            free(v);
            return NULL;
        }
    } else {
        const char *const *known = pb_backend_names();
        size_t k = 0;
        while (every && known && known[k])
            k++;
        *n = every ? (int)k : (int)ndflt;
        if (!(v = pointers(every ? (char *const *)known : dflt, *n))) {
            fprintf(stderr, "poolbench %s: out of memory\n", cmd);
            return NULL;
        }
    }
    /* A module backend (glib, libuv) that cannot be loaded: an error when
     * asked for by name, a note when it was only part of every one. */
    if (later_size)
        later[0] = 0;
    for (int i = 0; i < *n;) {
        if (pb_backend_summary(v[i])) {
            i++;
            continue;
        }
        size_t used = later_size ? strlen(later) : 0;
        if (every && later_size && pb_backend_find(v[i])) /* it runs, elsewhere */
            snprintf(later + used, later_size - used, "poolbench %s: left out: %s\n", cmd,
                     pb_pool_last_error());
        else
            fprintf(stderr, "poolbench %s: %s%s\n", cmd, every ? "left out: " : "",
                    pb_pool_last_error());
        if (!every) {
            free(v);
            return NULL;
        }
        memmove(&v[i], &v[i + 1], (size_t)(*n - i) * sizeof *v);
        --*n;
    }
    if (*n == 0) {
        fprintf(stderr, "poolbench %s: no backend to run (none is registered)\n", cmd);
        free(v);
        return NULL;
    }
    return v;
}

char *pbh_join_args(int argc, char **argv)
{
    size_t len = strlen("poolbench") + 1;
    for (int i = 0; i < argc; i++)
        len += strlen(argv[i]) + 1;
    char *s = malloc(len);
    if (!s)
        return NULL;
    strcpy(s, "poolbench");
    for (int i = 0; i < argc; i++) {
        strcat(s, " ");
        strcat(s, argv[i]);
    }
    return s;
}
