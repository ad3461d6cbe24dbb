/*
 * files.c — many results files at once, as compare, export, history and
 * plot take them: arguments expanded into paths (a folder stands for its
 * *.json files), and every file read with pbr_read().
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "results.h"

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
        if (!strcmp(args[a], "-")) { /* standard input, read by pbr_read() */
            rc = push(&v, &n, &cap, strdup(args[a]));
            continue;
        }
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
