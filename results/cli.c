/*
 * cli.c — what compare, export and history share: option parsing, number
 * parsing and expanding folders into results files. (Printing a value with
 * its unit is format.c's pbr_format_value(), which the harness and the
 * plots use too.)
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "results-int.h"
#include "results.h"

/* If argv[*i] is option `name` ("--name VALUE" or "--name=VALUE"), sets
 * *value, moves *i to the last argument used and returns 1; 0 when it is
 * another argument; -1 when the value is missing. */
static int one_option(int argc, char **argv, int *i, const char *name, const char **value)
{
    const char *a = argv[*i];
    size_t l = strlen(name);
    if (strncmp(a, name, l) != 0)
        return 0;
    if (a[l] == '=') {
        *value = a + l + 1;
        return 1;
    }
    if (a[l] != '\0')
        return 0;
    if (*i + 1 >= argc)
        return -1;
    *value = argv[++*i];
    return 1;
}

pbr__arg_kind pbr__arg(const char *cmd, int argc, char **argv, int *i, const pbr__opt *opts,
                       size_t nopts)
{
    const char *a = argv[*i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h"))
        return PBR__ARG_HELP;
    for (size_t k = 0; k < nopts; k++) {
        int rc = one_option(argc, argv, i, opts[k].name, opts[k].value);
        if (rc > 0)
            return PBR__ARG_OPTION;
        if (rc < 0) {
            fprintf(stderr, "poolbench %s: %s needs a value\n", cmd, a);
            return PBR__ARG_BAD;
        }
    }
    if (a[0] == '-' && a[1] != '\0') {
        fprintf(stderr, "poolbench %s: unknown option '%s' (try poolbench %s --help)\n", cmd, a,
                cmd);
        return PBR__ARG_BAD;
    }
    return PBR__ARG_OPERAND;
}

bool pbr__parse_double(const char *s, double *out)
{
    char *end;
    errno = 0;
    double d = strtod(s, &end);
    if (end == s || *end != '\0' || errno != 0 || !isfinite(d))
        return false;
    *out = d;
    return true;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void pbr_paths_free(char **paths)
{
    if (!paths)
        return;
    for (char **p = paths; *p; p++)
        free(*p);
    free(paths);
}

/* Appends a copy of s to the NULL-terminated list *v of *n entries. */
static int push(char ***v, size_t *n, size_t *cap, char *s)
{
    if (!s)
        return -ENOMEM;
    if (*n + 2 > *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        char **nv = realloc(*v, nc * sizeof *nv);
        if (!nv) {
            free(s);
            return -ENOMEM;
        }
        *v = nv;
        *cap = nc;
    }
    (*v)[(*n)++] = s;
    (*v)[*n] = NULL;
    return 0;
}

int pbr_paths_expand(const char *const *args, size_t nargs, char ***paths, size_t *npaths,
                     char *err, size_t errlen)
{
    char **v = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    for (size_t a = 0; a < nargs && rc == 0; a++) {
        struct stat st;
        if (stat(args[a], &st) < 0) {
            rc = -errno;
            snprintf(err, errlen, "%s: %s", args[a], strerror(errno));
            break;
        }
        if (!S_ISDIR(st.st_mode)) {
            rc = push(&v, &n, &cap, strdup(args[a]));
            continue;
        }
        DIR *d = opendir(args[a]);
        if (!d) {
            rc = -errno;
            snprintf(err, errlen, "%s: cannot open folder: %s", args[a], strerror(errno));
            break;
        }
        size_t first = n;
        struct dirent *e;
        while ((e = readdir(d)) && rc == 0) {
            size_t l = strlen(e->d_name);
            /* Skip hidden files: an interrupted writer's temporary is one. */
            if (e->d_name[0] == '.' || l < 6 || strcmp(e->d_name + l - 5, ".json"))
                continue;
            size_t dl = strlen(args[a]);
            bool slash = dl > 0 && args[a][dl - 1] == '/';
            char *p = malloc(dl + l + 2);
            if (p)
                sprintf(p, "%s%s%s", args[a], slash ? "" : "/", e->d_name);
            rc = push(&v, &n, &cap, p);
        }
        closedir(d);
        if (rc == 0 && n == first) {
            rc = -ENOENT;
            snprintf(err, errlen, "%s: no .json file in this folder", args[a]);
        }
        if (rc == 0)
            qsort(v + first, n - first, sizeof *v, cmp_str);
    }
    if (rc == -ENOMEM)
        snprintf(err, errlen, "out of memory");
    if (rc < 0) {
        pbr_paths_free(v);
        return rc;
    }
    if (!v) { /* no argument at all: an empty list */
        v = calloc(1, sizeof *v);
        if (!v) {
            snprintf(err, errlen, "out of memory");
            return -ENOMEM;
        }
    }
    *paths = v;
    *npaths = n;
    return 0;
}

int pbr_read_all(char *const *paths, size_t n, json_t ***docs, char *err, size_t errlen)
{
    json_t **d = calloc(n ? n : 1, sizeof *d);
    if (!d) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        d[i] = pbr_read(paths[i], err, errlen);
        if (!d[i]) {
            pbr_docs_free(d, i);
            return -EINVAL;
        }
    }
    *docs = d;
    return 0;
}

void pbr_docs_free(json_t **docs, size_t n)
{
    if (!docs)
        return;
    for (size_t i = 0; i < n; i++)
        json_decref(docs[i]);
    free(docs);
}

const char *pbr__str(const json_t *obj, const char *key, const char *dflt)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s ? s : dflt;
}

double pbr__num(const json_t *obj, const char *key, double dflt)
{
    json_t *v = json_object_get(obj, key);
    return json_is_number(v) ? json_number_value(v) : dflt;
}
