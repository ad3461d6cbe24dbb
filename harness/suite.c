/*
 * suite.c — reading suite files. See suite.h and bench/suites/README.md.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "suite.h"

#ifndef PB_SUITES_SOURCE_DIR
#define PB_SUITES_SOURCE_DIR ""
#endif
#ifndef PB_SUITES_INSTALL_DIR
#define PB_SUITES_INSTALL_DIR ""
#endif

/* Keys, values and parser messages from the file are quoted as they are: a
 * control character in one (a "\n" escape in a key, a raw newline jansson
 * quotes near an error) must not break the message into several lines.
 * Returns PB_EINVAL. */
static int one_line(char *err)
{
    for (char *c = err; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            *c = '?';
    return PB_EINVAL;
}

/* Formats "FILE: FIELD: problem" into err; returns PB_EINVAL. */
static int bad(char *err, size_t errlen, const char *file, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int bad(char *err, size_t errlen, const char *file, const char *field, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (field && *field)
        snprintf(err, errlen, "%s: %s: %s", file, field, msg);
    else
        snprintf(err, errlen, "%s: %s", file, msg);
    return one_line(err);
}

static const char *json_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    case JSON_NULL:
        return "null";
    }
    return "something else";
}

void pbh_suite_dirs(const char *dirs[3])
{
    const char *env = getenv("POOLBENCH_SUITES_DIR");
    dirs[0] = env && *env ? env : NULL;
    dirs[1] = *PB_SUITES_SOURCE_DIR ? PB_SUITES_SOURCE_DIR : NULL;
    dirs[2] = *PB_SUITES_INSTALL_DIR ? PB_SUITES_INSTALL_DIR : NULL;
}

static bool is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int pbh_suite_locate(const char *name_or_path, char *buf, size_t size, char *err, size_t errlen)
{
    if (!*name_or_path) {
        snprintf(err, errlen, "--suite: empty suite name");
        return PB_EINVAL;
    }
    if (!strcmp(name_or_path, "-")) { /* standard input */
        snprintf(buf, size, "-");
        return 0;
    }
    size_t len = strlen(name_or_path);
    bool looks_like_path = strchr(name_or_path, '/') ||
                           (len > 5 && !strcmp(name_or_path + len - 5, ".json"));
    if (looks_like_path || is_file(name_or_path)) {
        /* What is there but not a regular file is refused by the reader,
         * which says what it is. */
        struct stat st;
        if (stat(name_or_path, &st) != 0) {
            snprintf(err, errlen, "%s: no such suite file", name_or_path);
            return PB_ENOENT;
        }
        snprintf(buf, size, "%s", name_or_path);
        return 0;
    }
    const char *dirs[3];
    pbh_suite_dirs(dirs);
    char looked[1024] = "";
    for (int i = 0; i < 3; i++) {
        if (!dirs[i])
            continue;
        snprintf(buf, size, "%s/%s.json", dirs[i], name_or_path);
        if (is_file(buf))
            return 0;
        size_t used = strlen(looked);
        snprintf(looked + used, sizeof looked - used, "%s%s", used ? ", " : "", dirs[i]);
    }
    snprintf(err, errlen, "unknown suite '%s' (no %s.json in %s)", name_or_path, name_or_path,
             *looked ? looked : "any suite folder");
    return PB_ENOENT;
}

/* ---- Building ---- */

static void free_entry(pbh_entry *e)
{
    for (size_t i = 0; i < e->noverrides; i++)
        free(e->overrides[i].values);
    free(e->overrides);
}

void pbh_suite_free(pbh_suite *s)
{
    if (!s)
        return;
    free(s->name);
    free(s->path);
    free(s->description);
    for (size_t i = 0; i < s->nbackends; i++)
        free(s->backends[i]);
    free(s->backends);
    for (size_t i = 0; i < s->nentries; i++)
        free_entry(&s->entries[i]);
    free(s->entries);
    free(s->pin);
    free(s);
}

pbh_suite *pbh_suite_new_empty(const char *name)
{
    pbh_suite *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->name = strdup(name);
    s->path = strdup("");
    s->description = strdup("");
    s->repetitions = 5;
    s->warmup = 1;
    s->workers = -1;
    s->floor = true;
    if (!s->name || !s->path || !s->description) {
        pbh_suite_free(s);
        return NULL;
    }
    return s;
}

static pbh_entry *add_entry(pbh_suite *s, const pb_scenario *scenario)
{
    pbh_entry *e = realloc(s->entries, (s->nentries + 1) * sizeof *e);
    if (!e)
        return NULL;
    s->entries = e;
    e = &s->entries[s->nentries++];
    memset(e, 0, sizeof *e);
    e->scenario = scenario;
    return e;
}

int pbh_suite_add_default(pbh_suite *s, const pb_scenario *scenario)
{
    return add_entry(s, scenario) ? 0 : PB_ENOMEM;
}

/* One JSON value of a parameter: a number (base units), or a string (a value
 * with a unit, a word, or a comma-separated sweep). Appends to *vals. */
static int parse_value(const pb_param *p, const json_t *v, const char *file, const char *field,
                       pb_param_value **vals, size_t *n, char *err, size_t errlen)
{
    char why[256];
    pb_param_value *list = NULL;
    size_t k = 0;
    if (json_is_integer(v)) {
        if (p->kind == PB_PARAM_WORD)
            return bad(err, errlen, file, field, "expected a string (one of the words), got a number");
        char text[32];
        snprintf(text, sizeof text, "%lld", (long long)json_integer_value(v));
        list = malloc(sizeof *list);
        if (!list)
            return PB_ENOMEM;
        k = 1;
        if (pb_param_parse(p, text, list, why, sizeof why)) {
            free(list);
            return bad(err, errlen, file, field, "%s", why);
        }
    } else if (json_is_string(v)) {
        int rc = pb_param_parse_list(p, json_string_value(v), &list, &k, why, sizeof why);
        if (rc == PB_ENOMEM)
            return rc;
        if (rc)
            return bad(err, errlen, file, field, "%s", why);
    } else if (json_is_real(v)) {
        if (p->kind == PB_PARAM_COUNT)
            return bad(err, errlen, file, field, "expected a whole number, got %g", json_real_value(v));
        return bad(err, errlen, file, field,
                   "expected a whole number (in ns or bytes) or a string with a unit like \"1.5ms\", got %g",
                   json_real_value(v));
    } else {
        return bad(err, errlen, file, field, "expected a number, a string or an array of them, got %s",
                   json_kind(v));
    }
    pb_param_value *grown = realloc(*vals, (*n + k) * sizeof *grown);
    if (!grown) {
        free(list);
        return PB_ENOMEM;
    }
    memcpy(grown + *n, list, k * sizeof *list);
    free(list);
    *vals = grown;
    *n += k;
    return 0;
}

static int parse_params(const pb_scenario *sc, const json_t *params, const char *file,
                        const char *where, pbh_entry *e, char *err, size_t errlen)
{
    char field[256];
    if (!json_is_object(params)) {
        snprintf(field, sizeof field, "%s.params", where);
        return bad(err, errlen, file, field, "expected an object of parameter values, got %s",
                   json_kind(params));
    }
    size_t n = json_object_size(params);
    e->overrides = calloc(n ? n : 1, sizeof *e->overrides);
    if (!e->overrides)
        return PB_ENOMEM;
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)params, key, v)
    {
        snprintf(field, sizeof field, "%s.params.%s", where, key);
        const pb_param *p = pb_scenario_param(sc, key);
        if (!p) {
            char known[256] = "";
            for (const pb_param *q = sc->params; q && q->name; q++) {
                size_t used = strlen(known);
                snprintf(known + used, sizeof known - used, "%s%s", used ? ", " : "", q->name);
            }
            return bad(err, errlen, file, field, "scenario '%s' has no parameter '%s' (it has: %s)",
                       sc->name, key, *known ? known : "none");
        }
        pbh_override *o = &e->overrides[e->noverrides++];
        o->param = p;
        if (json_is_array(v)) {
            if (json_array_size(v) == 0)
                return bad(err, errlen, file, field, "an empty list sweeps over nothing");
            size_t i;
            json_t *item;
            json_array_foreach(v, i, item)
            {
                char sub[300];
                snprintf(sub, sizeof sub, "%s[%zu]", field, i);
                int rc = parse_value(p, item, file, sub, &o->values, &o->nvalues, err, errlen);
                if (rc)
                    return rc;
            }
        } else {
            int rc = parse_value(p, v, file, field, &o->values, &o->nvalues, err, errlen);
            if (rc)
                return rc;
        }
    }
    return 0;
}

static int parse_entry(pbh_suite *s, const json_t *item, size_t index, const char *file, char *err,
                       size_t errlen)
{
    char where[64], field[128];
    snprintf(where, sizeof where, "scenarios[%zu]", index);
    const char *name;
    const json_t *params = NULL;
    if (json_is_string(item)) {
        name = json_string_value(item);
        snprintf(field, sizeof field, "%s", where);
    } else if (json_is_object(item)) {
        const char *key;
        json_t *v;
        json_object_foreach((json_t *)item, key, v)
        {
            if (strcmp(key, "name") && strcmp(key, "params")) {
                snprintf(field, sizeof field, "%s.%s", where, key);
                return bad(err, errlen, file, field, "unknown field (a scenario entry has 'name' and 'params')");
            }
        }
        const json_t *n = json_object_get(item, "name");
        snprintf(field, sizeof field, "%s.name", where);
        if (!n)
            return bad(err, errlen, file, field, "missing (the scenario to run)");
        if (!json_is_string(n))
            return bad(err, errlen, file, field, "expected a string, got %s", json_kind(n));
        name = json_string_value(n);
        params = json_object_get(item, "params");
    } else {
        return bad(err, errlen, file, where, "expected a scenario name or an object {\"name\": ..., \"params\": {...}}, got %s",
                   json_kind(item));
    }
    const pb_scenario *sc = pb_scenario_find(name);
    if (!sc)
        return bad(err, errlen, file, field, "unknown scenario '%s' (poolbench list shows them)", name);
    pbh_entry *e = add_entry(s, sc);
    if (!e)
        return PB_ENOMEM;
    return params ? parse_params(sc, params, file, where, e, err, errlen) : 0;
}

static int get_int(const json_t *root, const char *key, int lo, int hi, int *out, const char *file,
                   char *err, size_t errlen)
{
    const json_t *v = json_object_get(root, key);
    if (!v)
        return 0;
    if (!json_is_integer(v))
        return bad(err, errlen, file, key, "expected a whole number, got %s", json_kind(v));
    json_int_t x = json_integer_value(v);
    if (x < lo || x > hi)
        return bad(err, errlen, file, key, "must be between %d and %d, got %lld", lo, hi, (long long)x);
    *out = (int)x;
    return 0;
}

static const char *const top_fields[] = {"description", "repetitions", "warmup", "backends",
                                         "scenarios",   "floor",       "workers", "pin", NULL};

static int parse_root(pbh_suite *s, const json_t *root, const char *file, char *err, size_t errlen)
{
    if (!json_is_object(root))
        return bad(err, errlen, file, NULL, "a suite is a JSON object, got %s", json_kind(root));
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)root, key, v)
    {
        const char *const *f = top_fields;
        while (*f && strcmp(*f, key))
            f++;
        if (!*f)
            return bad(err, errlen, file, key,
                       "unknown field (a suite has description, repetitions, warmup, backends, "
                       "scenarios, floor, workers, pin)");
    }

    v = json_object_get(root, "description");
    if (v && !json_is_string(v))
        return bad(err, errlen, file, "description", "expected a string, got %s", json_kind(v));
    if (v) {
        free(s->description);
        if (!(s->description = strdup(json_string_value(v))))
            return PB_ENOMEM;
    }
    int rc;
    if ((rc = get_int(root, "repetitions", 1, 1000000, &s->repetitions, file, err, errlen)) ||
        (rc = get_int(root, "warmup", 0, 1000000, &s->warmup, file, err, errlen)) ||
        (rc = get_int(root, "workers", 0, 4096, &s->workers, file, err, errlen)))
        return rc;

    v = json_object_get(root, "floor");
    if (v && !json_is_boolean(v))
        return bad(err, errlen, file, "floor", "expected true or false, got %s", json_kind(v));
    if (v)
        s->floor = json_is_true(v);

    v = json_object_get(root, "pin");
    if (v && (!json_is_string(v) || !*json_string_value(v)))
        return bad(err, errlen, file, "pin", "expected a pin policy (none, compact, scatter or a CPU list like \"0,2-3\")");
    if (v && !(s->pin = strdup(json_string_value(v))))
        return PB_ENOMEM;

    v = json_object_get(root, "backends");
    if (v) {
        if (json_is_string(v) && !strcmp(json_string_value(v), "all")) {
            /* every backend: the default */
        } else if (json_is_array(v)) {
            if (json_array_size(v) == 0)
                return bad(err, errlen, file, "backends", "an empty list runs nothing (leave it out, or \"all\", for every backend)");
            s->backends = calloc(json_array_size(v), sizeof *s->backends);
            if (!s->backends)
                return PB_ENOMEM;
            size_t i;
            json_t *b;
            json_array_foreach(v, i, b)
            {
                char field[64];
                snprintf(field, sizeof field, "backends[%zu]", i);
                if (!json_is_string(b) || !*json_string_value(b))
                    return bad(err, errlen, file, field, "expected a backend name, got %s", json_kind(b));
                for (size_t j = 0; j < s->nbackends; j++)
                    if (!strcmp(s->backends[j], json_string_value(b)))
                        return bad(err, errlen, file, field, "backend '%s' listed twice", json_string_value(b));
                if (!(s->backends[s->nbackends] = strdup(json_string_value(b))))
                    return PB_ENOMEM;
                s->nbackends++;
            }
        } else {
            return bad(err, errlen, file, "backends", "expected \"all\" or an array of backend names, got %s",
                       json_kind(v));
        }
    }

    v = json_object_get(root, "scenarios");
    if (!v)
        return bad(err, errlen, file, "scenarios", "missing (the list of scenarios to run)");
    if (!json_is_array(v))
        return bad(err, errlen, file, "scenarios", "expected an array, got %s", json_kind(v));
    if (json_array_size(v) == 0)
        return bad(err, errlen, file, "scenarios", "empty: a suite runs at least one scenario");
    size_t i;
    json_t *item;
    json_array_foreach(v, i, item)
    {
        if ((rc = parse_entry(s, item, i, file, err, errlen)))
            return rc;
    }
    return 0;
}

int pbh_suite_parse(const char *text, const char *file, pbh_suite **out, char *err, size_t errlen)
{
    *out = NULL;
    json_error_t je;
    json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        snprintf(err, errlen, "%s: not valid JSON at line %d, column %d: %s", file, je.line,
                 je.column, je.text);
        return one_line(err);
    }
    pbh_suite *s = pbh_suite_new_empty(file);
    if (!s) {
        json_decref(root);
        return PB_ENOMEM;
    }
    int rc = parse_root(s, root, file, err, errlen);
    json_decref(root);
    if (rc) {
        if (rc == PB_ENOMEM)
            snprintf(err, errlen, "%s: out of memory", file);
        pbh_suite_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

int pbh_suite_load(const char *name_or_path, pbh_suite **out, char *err, size_t errlen)
{
    *out = NULL;
    char path[PATH_MAX];
    int rc = pbh_suite_locate(name_or_path, path, sizeof path, err, errlen);
    if (rc)
        return rc;
    /* Whole, capped, and only a regular file (or "-", standard input), so
     * a FIFO or a device given as a suite neither hangs nor floods. */
    char *text;
    size_t len;
    rc = pbr_read_text(path, (size_t)16 << 20, "suite file", &text, &len, err, errlen);
    if (rc)
        return rc == -ENOMEM ? PB_ENOMEM : PB_EINVAL;
    if (strlen(text) != len) {
        free(text);
        snprintf(err, errlen, "%s: not a text file (contains a NUL byte)",
                 strcmp(path, "-") ? path : "standard input");
        return PB_EINVAL;
    }
    pbh_suite *s;
    rc = pbh_suite_parse(text, strcmp(path, "-") ? path : "standard input", &s, err, errlen);
    free(text);
    if (rc)
        return rc;
    /* A suite found by name is called by its name in results; a file by its
     * path as given. */
    free(s->name);
    free(s->path);
    s->path = strdup(path);
    s->name = strdup(name_or_path);
    if (!s->path || !s->name) {
        pbh_suite_free(s);
        return PB_ENOMEM;
    }
    *out = s;
    return 0;
}

int pbh_suite_check_backends(const pbh_suite *s, char *err, size_t errlen)
{
    const char *const *known = pb_backend_names();
    for (size_t i = 0; i < s->nbackends; i++) {
        /* "fork:transport=shm" names backend fork with settings of its own,
         * which pb_pool_create checks. */
        bool found = false;
        for (const char *const *k = known; k && *k; k++)
            found |= pbh_backend_is(*k, s->backends[i]);
        if (!found) {
            char list[256] = "";
            for (const char *const *k = known; k && *k; k++) {
                size_t used = strlen(list);
                snprintf(list + used, sizeof list - used, "%s%s", used ? ", " : "", *k);
            }
            char field[64];
            snprintf(field, sizeof field, "backends[%zu]", i);
            return bad(err, errlen, *s->path ? s->path : s->name, field,
                       "unknown backend '%s' (known: %s)", s->backends[i], list);
        }
    }
    return 0;
}
