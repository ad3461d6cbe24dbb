/*
 * document.c — results documents: create, write atomically, read, validate,
 * and the keys that match cases across files.
 *
 * DESIGN
 *
 * Writing. A results file is what CI gates a merge on, so a reader must never
 * see half of one: the document is written to a temporary file in the same
 * folder (same filesystem, so rename is atomic), flushed with fsync, renamed
 * over the target, and the folder is fsynced so the rename itself survives a
 * crash. On any failure the temporary file is removed and the old target, if
 * any, is untouched. `poolbench run` rewrites its file this way after every
 * finished case, so the temporary must not outlive even a SIGKILL: it is
 * made without a name (O_TMPFILE) and given one only for the rename, two
 * system calls before it replaces the target. Where the filesystem cannot
 * make unnamed files, a named one (".NAME.XXXXXX") is used, as readers of a
 * folder skip hidden files. The writer installs no signal handler; the
 * program keeps a signal from ending it in the middle of a write.
 *
 * Reading. Every command that reads results (compare, export, history, plot)
 * goes through pbr_read(), so a bad file gets the same one-line message
 * everywhere: the file's name, then what is wrong — cannot open, not a
 * regular file, too large (files.c reads inputs, capped), empty, truncated
 * JSON (with the line), invalid JSON (line and column; a key twice in one
 * object is invalid), a schema that is not ours or another version of ours,
 * a missing field or a field of the wrong type, named by its JSON path
 * ("results[3].metrics.roundtrip.p50"), or a case twice (the same backend,
 * scenario and parameters: every reader matches cases by those).
 * The checks follow FORMAT.md and results/schema.json; the JSON Schema is the
 * reference for outside tools, this file the one poolbench itself uses.
 *
 * Numbers. Reals are written with 17 significant digits, so a file read back
 * holds exactly the doubles that were written (a re-analysis gets the same
 * answer as the run did). Integer fields accept a real with an integral value (a
 * file edited by another tool may write 5.0), as JSON Schema does.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "results-int.h"
#include "results.h"

#ifndef PB_VERSION
#define PB_VERSION "unknown"
#endif

json_t *pbr_document_new(json_t *run, json_t *env)
{
    json_t *doc = run && env ? json_object() : NULL;
    int rc = doc ? 0 : -1;
    if (doc) {
        /* Every member is set, whichever fails: json_object_set_new takes
         * its value even when it fails, so nothing is left to leak. */
        rc |= json_object_set_new(doc, "schema", json_string(PBR_SCHEMA));
        rc |= json_object_set_new(doc, "run", run);
        rc |= json_object_set_new(doc, "environment", env);
        rc |= json_object_set_new(doc, "results", json_array());
        run = env = NULL;
    }
    if (rc) {
        json_decref(run);
        json_decref(env);
        json_decref(doc);
        return NULL;
    }
    return doc;
}

void pbr__utc_text(double unix_time, char *buf, size_t len)
{
    time_t t = (time_t)unix_time;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

json_t *pbr_run_new(const pbr_run_info *in)
{
    char started[32];
    pbr__utc_text(in->started_unix, started, sizeof started);
    return json_pack("{s:s, s:s, s:s, s:s, s:f, s:f, s:b, s:i, s:i, s:i, s:s, s:s}", "kind",
                     in->kind, "command", in->command ? in->command : "", "suite",
                     in->suite ? in->suite : "", "started", started, "started_unix",
                     in->started_unix, "duration_s", in->duration_s, "complete", in->complete,
                     "repetitions", in->repetitions, "warmup", in->warmup, "workers", in->workers,
                     "pin", in->pin ? in->pin : "none", "poolbench_version", PB_VERSION);
}

/* ------------------------------------------------------------------------
 * Writing
 * ------------------------------------------------------------------------ */

static int write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/* path "-": the document on standard output. */
static int write_stdout(const json_t *doc, char *err, size_t errlen)
{
    int rc = json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(PBR__REAL_PRECISION));
    if (rc == 0 && (fputc('\n', stdout) == EOF || fflush(stdout) != 0))
        rc = -1;
    if (rc) {
        snprintf(err, errlen, "cannot write the results to standard output: %s",
                 strerror(errno));
        return -EIO;
    }
    return 0;
}

/* The folder path is in, into dir[0..len); 0 or -ENAMETOOLONG. */
static int dir_of(const char *path, char *dir, size_t len)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, len, ".");
    else if (slash == path)
        snprintf(dir, len, "/");
    else if ((size_t)(slash - path) >= len)
        return -ENAMETOOLONG;
    else {
        memcpy(dir, path, (size_t)(slash - path));
        dir[slash - path] = '\0';
    }
    return 0;
}

/* Writes text and a newline to fd and flushes it to disk. 0 or -errno. */
static int write_text(int fd, const char *text)
{
    int rc = write_all(fd, text, strlen(text));
    if (rc == 0)
        rc = write_all(fd, "\n", 1);
    if (rc == 0 && fsync(fd) < 0)
        rc = -errno;
    return rc;
}

/* The unnamed way: an O_TMPFILE in dir, written, then linked as tmp (a name
 * unique to this process) and renamed over path. Returns 0, -EOPNOTSUPP
 * when the filesystem (or the kernel, or a missing /proc) cannot do it and
 * nothing was done, or another -errno with err set. */
static int write_unnamed(const char *path, const char *dir, const char *base, const char *text,
                         char *err, size_t errlen)
{
    int fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0666); /* less the umask */
    if (fd < 0) {
        int e = errno;
        if (e == EOPNOTSUPP || e == EISDIR || e == EINVAL)
            return -EOPNOTSUPP;
        snprintf(err, errlen, "%s: cannot create a temporary file in %s: %s", path, dir,
                 strerror(e));
        return -e;
    }
    /* The permission bits of the file it replaces, as pbr__temp_open gives. */
    struct stat st;
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
        (void)fchmod(fd, st.st_mode & 07777);
    int rc = write_text(fd, text);
    if (rc < 0) {
        snprintf(err, errlen, "%s: cannot write a temporary file in %s: %s", path, dir,
                 strerror(-rc));
        close(fd);
        return rc;
    }
    char proc[64], tmp[PATH_MAX];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    static unsigned serial;
    for (int tries = 0;; tries++) {
        if ((size_t)snprintf(tmp, sizeof tmp, "%s/.%s.%ld.%u", dir, base, (long)getpid(),
                             serial++) >= sizeof tmp) {
            close(fd);
            snprintf(err, errlen, "%s: path too long", path);
            return -ENAMETOOLONG;
        }
        if (linkat(AT_FDCWD, proc, AT_FDCWD, tmp, AT_SYMLINK_FOLLOW) == 0)
            break;
        rc = -errno;
        if (rc == -EEXIST && tries < 100)
            continue;
        close(fd);
        if (rc == -ENOENT || rc == -EPERM || rc == -EOPNOTSUPP || rc == -EXDEV)
            return -EOPNOTSUPP; /* no /proc, or no linking here: the named way */
        snprintf(err, errlen, "%s: cannot name the temporary file %s: %s", path, tmp,
                 strerror(-rc));
        return rc;
    }
    close(fd);
    if ((rc = pbr__out_replaceable(path, err, errlen)) < 0) {
        unlink(tmp);
        return rc;
    }
    if (rename(tmp, path) < 0) {
        rc = -errno;
        snprintf(err, errlen, "%s: cannot rename %s over it: %s", path, tmp, strerror(-rc));
        unlink(tmp);
        return rc;
    }
    return 0;
}

/* The named way: mkstemp's ".NAME.XXXXXX", written, renamed over path. */
static int write_named(const char *path, const char *dir, const char *base, const char *text,
                       char *err, size_t errlen)
{
    char tmp[PATH_MAX];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s/.%s.XXXXXX", dir, base) >= sizeof tmp) {
        snprintf(err, errlen, "%s: path too long", path);
        return -ENAMETOOLONG;
    }
    int rc = 0;
    int fd = pbr__temp_open(path, tmp, sizeof tmp);
    if (fd < 0) {
        rc = fd;
        snprintf(err, errlen, "%s: cannot create a temporary file in %s: %s", path, dir,
                 strerror(-rc));
        return rc;
    }
    if ((rc = write_text(fd, text)) < 0)
        snprintf(err, errlen, "%s: cannot write %s: %s", path, tmp, strerror(-rc));
    if (close(fd) < 0 && rc == 0) {
        rc = -errno;
        snprintf(err, errlen, "%s: cannot write %s: %s", path, tmp, strerror(-rc));
    }
    if (rc == 0)
        rc = pbr__out_replaceable(path, err, errlen);
    if (rc == 0 && rename(tmp, path) < 0) {
        rc = -errno;
        snprintf(err, errlen, "%s: cannot rename %s over it: %s", path, tmp, strerror(-rc));
    }
    if (rc < 0)
        unlink(tmp);
    return rc;
}

int pbr_write_atomic(const char *path, const json_t *doc, char *err, size_t errlen)
{
    if (!strcmp(path, "-"))
        return write_stdout(doc, err, errlen);
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    if (!*base) {
        snprintf(err, errlen, "%s: not a file name", path);
        return -EINVAL;
    }
    if (dir_of(path, dir, sizeof dir) < 0) {
        snprintf(err, errlen, "%s: path too long", path);
        return -ENAMETOOLONG;
    }
    char *text = json_dumps(doc, JSON_INDENT(2) | JSON_REAL_PRECISION(PBR__REAL_PRECISION));
    if (!text) {
        snprintf(err, errlen, "%s: cannot encode the results as JSON (out of memory?)", path);
        return -ENOMEM;
    }
    int rc = write_unnamed(path, dir, base, text, err, errlen);
    if (rc == -EOPNOTSUPP)
        rc = write_named(path, dir, base, text, err, errlen);
    free(text);
    if (rc < 0)
        return rc;

    /* Make the rename durable. Failure here does not undo a complete,
     * correctly named file, so it is not reported. */
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    return 0;
}

/* ------------------------------------------------------------------------
 * Reading and validation
 * ------------------------------------------------------------------------ */

/* What a reader expects of a value: a set of JSON types. */
enum {
    T_OBJ = 1 << 0,
    T_ARR = 1 << 1,
    T_STR = 1 << 2,
    T_INT = 1 << 3, /* an integer, or a real with an integral value */
    T_NUM = 1 << 4, /* any number */
    T_BOOL = 1 << 5,
    T_NULL = 1 << 6,
    T_GE0 = 1 << 7, /* with T_INT or T_NUM: not negative (the schema's minimum 0) */
};

typedef struct vctx {
    const char *name;
    char *err;
    size_t errlen;
    bool failed;
} vctx;

/* Names, values and parser messages quoted from a file may hold control
 * characters (a "\n" escape in a key, a raw newline jansson quotes near an
 * error): a message must stay one line. */
static void one_line(char *err)
{
    for (char *c = err; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            *c = '?';
}

static void PBR__PRINTF(2, 3) vfail(vctx *v, const char *fmt, ...)
{
    if (v->failed)
        return;
    v->failed = true;
    int k = snprintf(v->err, v->errlen, "%s: ", v->name);
    if (k < 0 || (size_t)k >= v->errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->err + k, v->errlen - (size_t)k, fmt, ap);
    va_end(ap);
    one_line(v->err);
}

static const char *type_name(const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a real number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "something else";
}

static bool type_ok(const json_t *j, int types)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT: return types & T_OBJ;
    case JSON_ARRAY: return types & T_ARR;
    case JSON_STRING: return types & T_STR;
    case JSON_INTEGER: return types & (T_INT | T_NUM);
    case JSON_REAL: {
        double d = json_real_value(j);
        return (types & T_NUM) || ((types & T_INT) && d == floor(d));
    }
    case JSON_TRUE:
    case JSON_FALSE: return types & T_BOOL;
    case JSON_NULL: return types & T_NULL;
    }
    return false;
}

static const char *types_wanted(int types)
{
    switch (types & ~T_GE0) {
    case T_OBJ: return "an object";
    case T_ARR: return "an array";
    case T_STR: return "a string";
    case T_INT: return "an integer";
    case T_NUM: return "a number";
    case T_BOOL: return "a boolean";
    case T_INT | T_NULL: return "an integer or null";
    case T_NUM | T_NULL: return "a number or null";
    case T_BOOL | T_NULL: return "a boolean or null";
    case T_NUM | T_STR: return "a number or a string";
    }
    return "a different type";
}

/* The field key of obj (at JSON path `at`), checked against types; NULL (and
 * v failed) if missing or mistyped, NULL (v not failed) if optional and absent. */
static json_t *field(vctx *v, const json_t *obj, const char *at, const char *key, int types,
                     bool optional)
{
    if (v->failed)
        return NULL;
    json_t *j = json_object_get(obj, key);
    if (!j) {
        if (!optional)
            vfail(v, "missing field '%s%s%s'", at, *at ? "." : "", key);
        return NULL;
    }
    if (!type_ok(j, types)) {
        vfail(v, "field '%s%s%s' should be %s, not %s", at, *at ? "." : "", key,
              types_wanted(types), type_name(j));
        return NULL;
    }
    if ((types & T_GE0) && json_number_value(j) < 0) {
        vfail(v, "field '%s%s%s' should be >= 0, not %g", at, *at ? "." : "", key,
              json_number_value(j));
        return NULL;
    }
    return j;
}

static void need_enum(vctx *v, const json_t *obj, const char *at, const char *key,
                      const char *const *allowed)
{
    json_t *j = field(v, obj, at, key, T_STR, false);
    if (!j)
        return;
    const char *s = json_string_value(j);
    for (size_t i = 0; allowed[i]; i++)
        if (!strcmp(s, allowed[i]))
            return;
    char list[128] = "";
    for (size_t i = 0; allowed[i]; i++) {
        size_t l = strlen(list);
        snprintf(list + l, sizeof list - l, "%s'%s'", i ? ", " : "", allowed[i]);
    }
    vfail(v, "field '%s.%s' is '%s', expected one of %s", at, key, s, list);
}

/* Every element of array arr (at path `at`) has one of types. */
static void need_elems(vctx *v, const json_t *arr, const char *at, int types)
{
    size_t i;
    json_t *e;
    if (!arr || v->failed)
        return;
    json_array_foreach(arr, i, e)
    {
        if (!type_ok(e, types)) {
            vfail(v, "field '%s[%zu]' should be %s, not %s", at, i, types_wanted(types),
                  type_name(e));
            return;
        }
        if ((types & T_GE0) && json_number_value(e) < 0) {
            vfail(v, "field '%s[%zu]' should be >= 0, not %g", at, i, json_number_value(e));
            return;
        }
    }
}

/* out = a + "." + b. Out of line so the compiler does not guess truncation
 * from the callers' buffer sizes; paths are cut, never overflowed. */
static __attribute__((noinline)) void path_join(char *out, size_t len, const char *a,
                                               const char *b)
{
    snprintf(out, len, "%s.%s", a, b);
}

static void check_run(vctx *v, const json_t *run)
{
    static const char *const kinds[] = {"run", "stress", NULL};
    need_enum(v, run, "run", "kind", kinds);
    field(v, run, "run", "command", T_STR, false);
    field(v, run, "run", "suite", T_STR, false);
    field(v, run, "run", "started", T_STR, false);
    field(v, run, "run", "started_unix", T_NUM, false);
    field(v, run, "run", "duration_s", T_NUM, false);
    field(v, run, "run", "complete", T_BOOL, false);
    field(v, run, "run", "repetitions", T_INT, false);
    field(v, run, "run", "warmup", T_INT, false);
    field(v, run, "run", "workers", T_INT, false);
    field(v, run, "run", "pin", T_STR, false);
    field(v, run, "run", "poolbench_version", T_STR, false);
}

static void check_environment(vctx *v, const json_t *env)
{
    static const char *const strs[] = {"host",     "os",         "kernel",  "arch",
                                       "cpu_model", "governor",  "compiler", "cflags",
                                       "build_type", "git_revision"};
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
        field(v, env, "environment", strs[i], T_STR, false);
    json_t *t = field(v, env, "environment", "topology", T_OBJ, false);
    if (t) {
        field(v, t, "environment.topology", "packages", T_INT | T_NULL, false);
        field(v, t, "environment.topology", "numa_nodes", T_INT | T_NULL, false);
        field(v, t, "environment.topology", "cores", T_INT | T_NULL, false);
        field(v, t, "environment.topology", "pus", T_INT | T_NULL, false);
        field(v, t, "environment.topology", "allowed_cpuset", T_STR, false);
        field(v, t, "environment.topology", "summary", T_STR, false);
    }
    field(v, env, "environment", "aslr", T_INT | T_NULL, false);
    json_t *la = field(v, env, "environment", "loadavg", T_ARR, false);
    need_elems(v, la, "environment.loadavg", T_NUM | T_NULL);
    field(v, env, "environment", "timer_slack_ns", T_INT | T_NULL, false);
    json_t *libs = field(v, env, "environment", "libraries", T_OBJ, false);
    if (libs && !v->failed) {
        const char *k;
        json_t *val;
        json_object_foreach(libs, k, val)
        {
            if (!json_is_string(val)) {
                vfail(v, "field 'environment.libraries.%s' should be a string, not %s", k,
                      type_name(val));
                return;
            }
        }
    }
}

static void check_metric(vctx *v, const json_t *m, const char *at)
{
    static const char *const betters[] = {"lower", "higher", NULL};
    static const char *const nums[] = {"min", "mean", "p50", "p90", "p99", "p999",
                                       "max", "ci_low", "ci_high"};
    field(v, m, at, "unit", T_STR, false);
    need_enum(v, m, at, "better", betters);
    field(v, m, at, "n", T_INT | T_GE0, false);
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++)
        field(v, m, at, nums[i], T_NUM, false);
    field(v, m, at, "stddev", T_NUM | T_GE0, false);
    field(v, m, at, "mad", T_NUM | T_GE0, false);
    field(v, m, at, "outliers", T_INT | T_GE0, false);
    field(v, m, at, "trusted", T_BOOL, false);
    char sub[512];
    path_join(sub, sizeof sub, at, "repetitions");
    need_elems(v, field(v, m, at, "repetitions", T_ARR, false), sub, T_NUM);

    json_t *h = field(v, m, at, "histogram", T_OBJ, true);
    if (h) {
        path_join(sub, sizeof sub, at, "histogram");
        json_t *lower = field(v, h, sub, "lower", T_ARR, false);
        json_t *counts = field(v, h, sub, "counts", T_ARR, false);
        json_t *upper = field(v, h, sub, "upper", T_ARR, true);
        char el[600];
        path_join(el, sizeof el, sub, "lower");
        need_elems(v, lower, el, T_NUM);
        path_join(el, sizeof el, sub, "counts");
        need_elems(v, counts, el, T_INT | T_GE0);
        path_join(el, sizeof el, sub, "upper");
        need_elems(v, upper, el, T_NUM);
        if (!v->failed && (json_array_size(lower) != json_array_size(counts) ||
                           (upper && json_array_size(upper) != json_array_size(lower))))
            vfail(v, "field '%s': lower, upper and counts differ in length", sub);
    }
    json_t *fl = field(v, m, at, "floor", T_OBJ, true);
    if (fl) {
        path_join(sub, sizeof sub, at, "floor");
        field(v, fl, sub, "backend", T_STR, false);
        field(v, fl, sub, "scenario", T_STR, false);
        field(v, fl, sub, "metric", T_STR, false);
    }
    field(v, m, at, "ratio_to_floor", T_NUM, true);
}

static void check_case(vctx *v, const json_t *c, size_t idx)
{
    static const char *const outcomes[] = {"ok", "failed", "skipped", NULL};
    char at[256], sub[512];
    snprintf(at, sizeof at, "results[%zu]", idx);
    if (!json_is_object(c)) {
        vfail(v, "field '%s' should be an object, not %s", at, type_name(c));
        return;
    }
    field(v, c, at, "backend", T_STR, false);
    field(v, c, at, "scenario", T_STR, false);
    field(v, c, at, "headline", T_STR, true);
    json_t *params = field(v, c, at, "params", T_OBJ, false);
    if (params && !v->failed) {
        const char *k;
        json_t *val;
        json_object_foreach(params, k, val)
        {
            if (!type_ok(val, T_NUM | T_STR | T_BOOL)) {
                vfail(v, "field '%s.params.%s' should be a number or a string, not %s", at, k,
                      type_name(val));
                return;
            }
        }
    }
    need_enum(v, c, at, "outcome", outcomes);
    field(v, c, at, "reason", T_STR, false);

    json_t *b = field(v, c, at, "binding", T_OBJ, true);
    if (b) {
        path_join(sub, sizeof sub, at, "binding");
        field(v, b, sub, "policy", T_STR, false);
        json_t *w = field(v, b, sub, "workers", T_ARR, false);
        char el[600];
        path_join(el, sizeof el, sub, "workers");
        need_elems(v, w, el, T_STR);
        field(v, b, sub, "tasks_on_binding", T_BOOL | T_NULL, false);
    }

    json_t *metrics = field(v, c, at, "metrics", T_OBJ, false);
    if (metrics && !v->failed) {
        const char *k;
        json_t *m;
        json_object_foreach(metrics, k, m)
        {
            snprintf(sub, sizeof sub, "%s.metrics.%s", at, k);
            if (!json_is_object(m)) {
                vfail(v, "field '%s' should be an object, not %s", sub, type_name(m));
                return;
            }
            check_metric(v, m, sub);
            if (v->failed)
                return;
        }
    }

    json_t *checks = field(v, c, at, "checks", T_ARR, false);
    if (checks && !v->failed) {
        size_t i;
        json_t *ck;
        json_array_foreach(checks, i, ck)
        {
            snprintf(sub, sizeof sub, "%s.checks[%zu]", at, i);
            if (!json_is_object(ck)) {
                vfail(v, "field '%s' should be an object, not %s", sub, type_name(ck));
                return;
            }
            field(v, ck, sub, "name", T_STR, false);
            field(v, ck, sub, "passed", T_BOOL, false);
            field(v, ck, sub, "reason", T_STR, false);
            field(v, ck, sub, "evidence", T_STR, true);
        }
    }
}

/* A case's identity, for finding two of them: backend, scenario, params. */
typedef struct case_key {
    const char *backend, *scenario; /* borrowed from the document */
    char *params;                   /* pbr_params_key() */
    size_t idx;
} case_key;

static int cmp_case_id(const case_key *x, const case_key *y)
{
    int c = strcmp(x->backend, y->backend);
    if (!c)
        c = strcmp(x->scenario, y->scenario);
    return c ? c : strcmp(x->params, y->params);
}

static int cmp_case_key(const void *a, const void *b)
{
    const case_key *x = a, *y = b;
    int c = cmp_case_id(x, y);
    return c ? c : (x->idx > y->idx) - (x->idx < y->idx);
}

/* Every case of results once: compare, history and plot match cases by
 * backend, scenario and parameters, so a second one would be silently
 * ignored. Sorted, so a big file costs n log n. Runs after every case was
 * checked, so the fields are there. */
static void check_unique_cases(vctx *v, const json_t *results)
{
    size_t n = json_array_size(results);
    if (v->failed || n < 2)
        return;
    case_key *keys = calloc(n, sizeof *keys);
    bool nomem = !keys;
    for (size_t i = 0; !nomem && i < n; i++) {
        const json_t *c = json_array_get(results, i);
        keys[i] = (case_key){json_string_value(json_object_get(c, "backend")),
                             json_string_value(json_object_get(c, "scenario")),
                             pbr_params_key(json_object_get(c, "params")), i};
        nomem = !keys[i].params;
    }
    if (nomem) {
        vfail(v, "out of memory checking that each case is there once");
    } else {
        qsort(keys, n, sizeof *keys, cmp_case_key);
        /* Named: the repeat that comes first in the file, and its original. */
        size_t first = 0, second = SIZE_MAX;
        for (size_t i = 1; i < n; i++)
            if (!cmp_case_id(&keys[i - 1], &keys[i]) && keys[i].idx < second) {
                first = keys[i - 1].idx;
                second = keys[i].idx;
            }
        if (second != SIZE_MAX) {
            char *label = pbr_case_label(json_array_get(results, second));
            vfail(v, "results[%zu] repeats results[%zu] (%s): a file holds each case "
                     "(backend, scenario, parameters) once",
                  second, first, label ? label : "the same case");
            free(label);
        }
    }
    for (size_t i = 0; keys && i < n; i++)
        free(keys[i].params);
    free(keys);
}

int pbr_validate(const json_t *doc, const char *name, char *err, size_t errlen)
{
    vctx v = {.name = name ? name : "results", .err = err, .errlen = errlen};
    if (!json_is_object(doc)) {
        vfail(&v, "not a poolbench results file (the top level is %s, expected an object)",
              doc ? type_name(doc) : "missing");
        return -EINVAL;
    }
    json_t *schema = json_object_get(doc, "schema");
    if (!schema) {
        vfail(&v, "not a poolbench results file (no 'schema' field)");
        return -EINVAL;
    }
    if (!json_is_string(schema)) {
        vfail(&v, "not a poolbench results file ('schema' is %s)", type_name(schema));
        return -EINVAL;
    }
    const char *s = json_string_value(schema);
    if (strcmp(s, PBR_SCHEMA) != 0) {
        const char *what = pbr__schema_what(s);
        if (what)
            vfail(&v, "%s, not a results file (use it with %s)", what,
                  pbr__schema_use(s));
        else if (!strncmp(s, "poolbench-results/", strlen("poolbench-results/")))
            vfail(&v,
                  "written by another version of poolbench: schema '%s', this poolbench "
                  "reads '%s'",
                  s, PBR_SCHEMA);
        else
            vfail(&v, "not a poolbench results file (schema '%s', expected '%s')", s,
                  PBR_SCHEMA);
        return -EINVAL;
    }

    json_t *run = field(&v, doc, "", "run", T_OBJ, false);
    if (run)
        check_run(&v, run);
    json_t *env = field(&v, doc, "", "environment", T_OBJ, false);
    if (env)
        check_environment(&v, env);
    json_t *results = field(&v, doc, "", "results", T_ARR, false);
    if (results && !v.failed) {
        size_t i;
        json_t *c;
        json_array_foreach(results, i, c)
        {
            check_case(&v, c, i);
            if (v.failed)
                break;
        }
        check_unique_cases(&v, results);
    }
    return v.failed ? -EINVAL : 0;
}

json_t *pbr__load(const char *path, char *err, size_t errlen)
{
    /* Read it whole: the parser's error position can then be compared with
     * the size to tell a truncated file from a malformed one. */
    char *buf;
    size_t len;
    if (pbr_read_text(path, PBR_RESULTS_MAX_BYTES, "results file", &buf, &len, err, errlen) < 0)
        return NULL;
    char shown[PATH_MAX]; /* the name for messages */
    pbr_escape(shown, sizeof shown, strcmp(path, "-") ? path : "standard input");
    path = shown;
    size_t start = 0;
    while (start < len && buf[start] && strchr(" \t\r\n", buf[start]))
        start++;
    if (start == len) {
        snprintf(err, errlen, "%s: empty file, not a poolbench results file", path);
        free(buf);
        return NULL;
    }

    json_error_t je;
    json_t *doc = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
    free(buf);
    if (!doc) {
        bool at_end = je.position >= 0 && (size_t)je.position >= len &&
                      !strstr(je.text, "end of file expected");
        if (at_end)
            snprintf(err, errlen, "%s: truncated JSON at line %d (%s)", path, je.line, je.text);
        else
            snprintf(err, errlen, "%s: invalid JSON at line %d, column %d: %s", path, je.line,
                     je.column, je.text);
        one_line(err);
        return NULL;
    }
    return doc;
}

json_t *pbr_read(const char *path, char *err, size_t errlen)
{
    json_t *doc = pbr__load(path, err, errlen);
    if (doc && pbr_validate(doc, path, err, errlen) < 0) {
        json_decref(doc);
        return NULL;
    }
    return doc;
}

/* ------------------------------------------------------------------------
 * Keys and labels
 * ------------------------------------------------------------------------ */

/* A copy of j in which every real with an integral value (that a double
 * holds exactly) is an integer, so {"payload": 8} and {"payload": 8.0}
 * are one case. */
static json_t *canonical_new(const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_REAL: {
        double d = json_real_value(j);
        if (d == floor(d) && fabs(d) < 9007199254740992.0)
            return json_integer((json_int_t)d);
        return json_real(d);
    }
    case JSON_OBJECT: {
        json_t *o = json_object();
        const char *k;
        json_t *val;
        json_object_foreach((json_t *)j, k, val)
        {
            if (json_object_set_new(o, k, canonical_new(val))) {
                json_decref(o);
                return NULL;
            }
        }
        return o;
    }
    case JSON_ARRAY: {
        json_t *a = json_array();
        size_t i;
        json_t *val;
        json_array_foreach(j, i, val)
        {
            if (json_array_append_new(a, canonical_new(val))) {
                json_decref(a);
                return NULL;
            }
        }
        return a;
    }
    default: return json_deep_copy(j);
    }
}

char *pbr_params_key(const json_t *params)
{
    if (!params || json_is_null(params))
        return strdup("{}");
    json_t *c = canonical_new(params);
    if (!c)
        return NULL;
    char *s = json_dumps(c, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY |
                                JSON_REAL_PRECISION(PBR__REAL_PRECISION));
    json_decref(c);
    return s;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Appends to a growing string; false on ENOMEM (and *s freed). */
static bool append(char **s, size_t *len, size_t *cap, const char *fmt, ...)
    PBR__PRINTF(4, 5);
static bool append(char **s, size_t *len, size_t *cap, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(*s + *len, *cap - *len, fmt, ap);
        va_end(ap);
        if (k < 0)
            return false;
        if ((size_t)k < *cap - *len) {
            *len += (size_t)k;
            return true;
        }
        size_t ncap = (*cap + (size_t)k) * 2;
        char *n = realloc(*s, ncap);
        if (!n) {
            free(*s);
            *s = NULL;
            return false;
        }
        *s = n;
        *cap = ncap;
    }
}

const json_t *pbr_find_case(const json_t *doc, const char *backend, const char *scenario,
                            const char *params_key)
{
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(doc, "results"), i, c)
    {
        if (strcmp(pbr_json_str(c, "backend", ""), backend) ||
            strcmp(pbr_json_str(c, "scenario", ""), scenario))
            continue;
        char *k = pbr_params_key(json_object_get(c, "params"));
        bool same = k && !strcmp(k, params_key);
        free(k);
        if (same)
            return c;
    }
    return NULL;
}

/* A parameter value as text ("8", "spin", 0.25 as "0.25"). Caller frees. */
static char *value_text(const json_t *v)
{
    char buf[64];
    switch (json_typeof(v)) {
    case JSON_STRING: return strdup(json_string_value(v));
    case JSON_INTEGER:
        snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return strdup(buf);
    case JSON_REAL: {
        double d = json_real_value(v);
        if (d == floor(d) && fabs(d) < 9007199254740992.0)
            snprintf(buf, sizeof buf, "%.0f", d);
        else
            snprintf(buf, sizeof buf, "%.15g", d); /* for people: 0.1, not 0.10000000000000001 */
        return strdup(buf);
    }
    default:
        return json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    }
}

/* s, or (freeing s) an escaped copy when it holds a control character: a
 * label is for people (pbr_escape). NULL on ENOMEM. */
static char *escaped_new(char *s)
{
    size_t need = pbr_escape(NULL, 0, s);
    if (need == strlen(s))
        return s;
    char *e = malloc(need + 1);
    if (e)
        pbr_escape(e, need + 1, s);
    free(s);
    return e;
}

char *pbr_case_label(const json_t *c)
{
    const char *backend = json_string_value(json_object_get(c, "backend"));
    const char *scenario = json_string_value(json_object_get(c, "scenario"));
    json_t *params = json_object_get(c, "params");
    size_t len = 0, cap = 64;
    char *s = malloc(cap);
    if (!s)
        return NULL;
    s[0] = '\0';
    if (!append(&s, &len, &cap, "%s/%s", backend ? backend : "?", scenario ? scenario : "?"))
        return NULL;

    size_t n = json_is_object(params) ? json_object_size(params) : 0;
    if (n == 0)
        return escaped_new(s);
    const char **keys = malloc(n * sizeof *keys);
    if (!keys) {
        free(s);
        return NULL;
    }
    size_t i = 0;
    const char *k;
    json_t *val;
    json_object_foreach(params, k, val) keys[i++] = k;
    qsort(keys, n, sizeof *keys, cmp_str);
    for (i = 0; i < n; i++) {
        char *t = value_text(json_object_get(params, keys[i]));
        bool ok = t && append(&s, &len, &cap, " %s=%s", keys[i], t);
        free(t);
        if (!ok) {
            free(s);
            free(keys);
            return NULL;
        }
    }
    free(keys);
    return escaped_new(s);
}

const char *pbr_json_str(const json_t *obj, const char *key, const char *dflt)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s ? s : dflt;
}

double pbr_json_num(const json_t *obj, const char *key, double dflt)
{
    json_t *v = json_object_get(obj, key);
    return json_is_number(v) ? json_number_value(v) : dflt;
}
