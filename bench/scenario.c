/*
 * scenario.c — the scenario table (built from scenarios/list.h) and the
 * parsing and printing of parameter values.
 *
 * Values are kept in base units (nanoseconds, bytes) so results compare as
 * plain numbers; people write and read them with units ("100us", "4KiB").
 * Parsing is strict: a value that is not exactly representable (1.5ns), out
 * of range (below min, above max), written other than in decimal ("0x10ms",
 * "inf"), or followed by junk is refused with a message saying what was
 * expected, since a typo in a suite should stop the run, not change it.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "scenario.h"

#define PB_FLOOR(name) extern const pb_scenario pb_scenario_##name;
#define PB_SCENARIO(name) extern const pb_scenario pb_scenario_##name;
#include "scenarios/list.h"
#undef PB_FLOOR
#undef PB_SCENARIO

static const pb_scenario *const table[] = {
#define PB_FLOOR(name) &pb_scenario_##name,
#define PB_SCENARIO(name) &pb_scenario_##name,
#include "scenarios/list.h"
#undef PB_FLOOR
#undef PB_SCENARIO
};

const pb_scenario *const *pb_scenarios(size_t *n)
{
    *n = sizeof table / sizeof table[0];
    return table;
}

const pb_scenario *pb_scenario_find(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (!strcmp(table[i]->name, name))
            return table[i];
    return NULL;
}

const pb_param *pb_scenario_param(const pb_scenario *s, const char *name)
{
    for (const pb_param *p = s->params; p && p->name; p++)
        if (!strcmp(p->name, name))
            return p;
    return NULL;
}

/* ---- Values ---- */

/* The declaration of s's parameter name; a name s does not declare is a
 * programming error (abort). */
static const pb_param *declared(const pb_scenario *s, const char *name)
{
    const pb_param *p = pb_scenario_param(s, name);
    if (!p) {
        fprintf(stderr, "poolbench: scenario %s has no parameter '%s'\n", s->name, name);
        abort();
    }
    return p;
}

int64_t pb_param_num(const pb_scenario *s, const pb_param_value *values, const char *name)
{
    return values[declared(s, name) - s->params].num;
}

int pb_param_not_above(const pb_scenario *s, const pb_param_value *values, const char *lo,
                       const char *hi, char *err, size_t errlen)
{
    const pb_param *pl = declared(s, lo), *ph = declared(s, hi);
    const pb_param_value *vl = &values[pl - s->params], *vh = &values[ph - s->params];
    if (vl->num <= vh->num)
        return 0;
    char a[64], b[64];
    pb_param_format(pl, vl, a, sizeof a);
    pb_param_format(ph, vh, b, sizeof b);
    snprintf(err, errlen, "parameter %s (%s) is above %s (%s)", lo, a, hi, b);
    return PB_EINVAL;
}

typedef struct unit {
    const char *suffix;
    double scale;
} unit;

static const unit ns_units[] = {
    {"ns", 1}, {"us", 1e3}, {"\xc2\xb5s", 1e3}, {"ms", 1e6}, {"s", 1e9}, {NULL, 0}};
static const unit byte_units[] = {{"B", 1},
                                  {"KiB", 1024.0},
                                  {"MiB", 1024.0 * 1024},
                                  {"GiB", 1024.0 * 1024 * 1024},
                                  {NULL, 0}};

int64_t pb_param_max(const pb_param *p)
{
    switch (p->kind) {
    case PB_PARAM_NS:
        return PB_PARAM_MAX_NS;
    case PB_PARAM_BYTES:
        return PB_PARAM_MAX_BYTES;
    case PB_PARAM_COUNT:
    case PB_PARAM_WORD:
        break;
    }
    return PB_PARAM_MAX_COUNT;
}

/* Decimal digits, at most one '.', then an optional exponent: what strtod
 * reads beyond that (hex "0x10", "inf", "nan") is not a value here. */
static bool plain_decimal(const char *s, const char *end)
{
    bool digits = false, dot = false;
    for (; s < end && *s != 'e' && *s != 'E'; s++) {
        if (*s >= '0' && *s <= '9')
            digits = true;
        else if (*s == '.' && !dot)
            dot = true;
        else
            return false;
    }
    if (!digits)
        return false;
    if (s < end) { /* the exponent: e, a sign, digits */
        s++;
        if (s < end && (*s == '+' || *s == '-'))
            s++;
        if (s == end)
            return false;
        for (; s < end; s++)
            if (*s < '0' || *s > '9')
                return false;
    }
    return true;
}

static int parse_number(const pb_param *p, const char *text, int64_t *out)
{
    const unit *units = p->kind == PB_PARAM_NS ? ns_units : p->kind == PB_PARAM_BYTES ? byte_units : NULL;
    if (!*text || strchr(" \t\n+-", *text))
        return PB_EINVAL;
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (end == text || errno == ERANGE || !isfinite(v) || v < 0 || !plain_decimal(text, end))
        return PB_EINVAL;
    double scale = 1;
    if (*end) {
        if (!units)
            return PB_EINVAL;
        const unit *u = units;
        while (u->suffix && strcmp(u->suffix, end))
            u++;
        if (!u->suffix)
            return PB_EINVAL;
        scale = u->scale;
    } else if (strpbrk(text, ".eE") && p->kind == PB_PARAM_COUNT) {
        return PB_EINVAL; /* a count is an integer */
    }
    double x = v * scale;
    if (x != floor(x))
        return PB_EINVAL;
    /* Past int64_t: above any limit, which the caller then names. */
    *out = x > 9.2e18 ? INT64_MAX : (int64_t)x;
    return 0;
}

static const char *expected(const pb_param *p)
{
    switch (p->kind) {
    case PB_PARAM_COUNT:
        return "a whole number";
    case PB_PARAM_NS:
        return "a duration in ns or with a unit (ns, us, ms, s), like 100us";
    case PB_PARAM_BYTES:
        return "a size in bytes or with a unit (B, KiB, MiB, GiB), like 4KiB";
    case PB_PARAM_WORD:
        break;
    }
    return "one of the words";
}

int pb_param_parse(const pb_param *p, const char *text, pb_param_value *out, char *err,
                   size_t errlen)
{
    out->num = 0;
    out->word = NULL;
    if (p->kind == PB_PARAM_WORD) {
        for (const char *const *c = p->choices; c && *c; c++)
            if (!strcmp(*c, text)) {
                out->word = *c;
                return 0;
            }
        char words[256] = "";
        for (const char *const *c = p->choices; c && *c; c++) {
            size_t used = strlen(words);
            snprintf(words + used, sizeof words - used, "%s%s", c == p->choices ? "" : ", ", *c);
        }
        snprintf(err, errlen, "expected one of %s, got '%s'", words, text);
        return PB_EINVAL;
    }
    if (parse_number(p, text, &out->num) != 0) {
        snprintf(err, errlen, "expected %s, got '%s'", expected(p), text);
        return PB_EINVAL;
    }
    if (out->num < p->min) {
        char lo[32];
        pb_param_value m = {.num = p->min};
        pb_param_format(p, &m, lo, sizeof lo);
        snprintf(err, errlen, "must be at least %s, got '%s'", lo, text);
        return PB_EINVAL;
    }
    if (out->num > pb_param_max(p)) {
        char hi[32];
        pb_param_value m = {.num = pb_param_max(p)};
        pb_param_format(p, &m, hi, sizeof hi);
        snprintf(err, errlen, "must be at most %s, got '%s'", hi, text);
        return PB_EINVAL;
    }
    return 0;
}

int pb_param_parse_list(const pb_param *p, const char *text, pb_param_value **out, size_t *n,
                        char *err, size_t errlen)
{
    *out = NULL;
    *n = 0;
    size_t cap = 1;
    for (const char *c = text; *c; c++)
        cap += *c == ',';
    pb_param_value *v = calloc(cap, sizeof *v);
    char *copy = strdup(text);
    if (!v || !copy) {
        free(v);
        free(copy);
        return PB_ENOMEM;
    }
    size_t k = 0;
    int rc = 0;
    /* strtok_r would skip empty items; walk by hand so "1,,2" is an error. */
    char *item = copy;
    for (;;) {
        char *comma = strchr(item, ',');
        if (comma)
            *comma = '\0';
        if (!*item) {
            snprintf(err, errlen, "empty value in list '%s'", text);
            rc = PB_EINVAL;
            break;
        }
        rc = pb_param_parse(p, item, &v[k], err, errlen);
        if (rc)
            break;
        k++;
        if (!comma)
            break;
        item = comma + 1;
    }
    free(copy);
    if (rc) {
        free(v);
        return rc;
    }
    *out = v;
    *n = k;
    return 0;
}

/* x > 0 in the largest of units (parse_number's table) that holds it
 * exactly ("250us", not "0.25ms"), so the text parses back to the same
 * number. Of two spellings of one scale ("us", "µs") the first is used. */
static void put_exact(char *buf, size_t size, int64_t x, const unit *units)
{
    const unit *best = &units[0];
    for (const unit *u = units; u->suffix; u++)
        if (u->scale > best->scale && x % (int64_t)u->scale == 0)
            best = u;
    snprintf(buf, size, "%" PRId64 "%s", x / (int64_t)best->scale, best->suffix);
}

void pb_param_format(const pb_param *p, const pb_param_value *v, char *buf, size_t size)
{
    if (p->kind == PB_PARAM_WORD) {
        snprintf(buf, size, "%s", v->word ? v->word : "");
        return;
    }
    int64_t x = v->num;
    if (p->kind == PB_PARAM_NS && x > 0)
        put_exact(buf, size, x, ns_units);
    else if (p->kind == PB_PARAM_BYTES && x > 0)
        put_exact(buf, size, x, byte_units);
    else
        snprintf(buf, size, "%" PRId64, x);
}

/* ---- Samples ---- */

void pb__samples_grow(pb_samples *s, double v)
{
    if (!s)
        return;
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 64;
        double *grown = realloc(s->v, cap * sizeof *grown);
        if (!grown)
            return; /* the sample is lost; pb_sc_metric already reserved what was asked */
        s->v = grown;
        s->cap = cap;
    }
    s->v[s->n++] = v;
}
