/*
 * digest.c — "which pool for what": the few answers a person choosing a
 * pool asks for first, derived from one run. The summary ends with it and
 * the report leads with it.
 *
 * DESIGN
 *
 * Each question is one row of `rules`: the scenario and metric that answer
 * it, the statistic (p50, or p99 for a tail), the direction, and which
 * cases of the scenario are comparable (a parameter's value, or the one
 * nearest a preferred value when the scenario sweeps it: throughput with
 * no-op tasks, load at 80% of capacity). Among the ok cases of that one
 * parameter set, one per backend, the backends are ranked by the statistic;
 * the answer names the best, its figure, and the next two. A metric may be
 * the sum of several (CPU per task: the pool's and the submitter's). A
 * question whose metric this run did not measure says so — it is never
 * answered from something else. A winner whose figure is not `trusted`
 * (too spread to compare) is marked.
 *
 * Crash survival is not a ranking: it lists the backends whose `faults`
 * cases all ran and passed their checks, with their slowest recovery, and
 * those that could not (skipped: the reason's gist; failed).
 *
 * New questions (other scenarios, new cost metrics) are one more row.
 *
 * SKIP NOTES
 *
 * A skipped case's reason is shown once, whole, for every backend and case
 * it stands for: the summary's rows and the report's table point at the
 * note. Reasons often name their backend ("thread has no native loop: ...");
 * with that name, as a word, made "it", one scenario's reasons that differ
 * only by it are one note listing the backends.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "results.h"

typedef struct rule {
    const char *question;
    const char *scenario;
    const char *metrics[3]; /* summed; the first must be there */
    const char *stat;       /* "p50" or "p99" */
    pbr_better better;
    const char *param;      /* the parameter that picks comparable cases, or NULL */
    double prefer;          /* its wanted value (the nearest present is taken) */
    const char *what;       /* words after the figure: what was measured */
} rule;

static const rule rules[] = {
    {"fastest for tiny tasks", "throughput", {"throughput"}, "p50", PBR_HIGHER, "granularity", 0,
     "no-op tasks"},
    {"lowest round trip", "roundtrip", {"roundtrip"}, "p50", PBR_LOWER, NULL, 0,
     "one task in flight"},
    {"cheapest CPU per task", "throughput", {"cpu_per_task", "submitter_cpu_per_task"}, "p50",
     PBR_LOWER, "granularity", 0, "pool and submitter, no-op tasks"},
    {"lowest p99 under load", "load", {"sojourn"}, "p99", PBR_LOWER, "load", 80,
     "p99 sojourn, open loop"},
};

#define NRULES (sizeof rules / sizeof rules[0])

static bool is_ok(const json_t *c)
{
    return !strcmp(pbr_json_str(c, "outcome", ""), "ok") &&
           strcmp(pbr_json_str(c, "backend", "floor"), "floor");
}

/* The rule's figure for case c (the sum of its metrics' statistic), or NaN;
 * *trusted false when any of them is not. */
static double figure(const rule *r, const json_t *c, bool *trusted)
{
    const json_t *ms = json_object_get(c, "metrics");
    double sum = 0;
    *trusted = true;
    for (size_t k = 0; k < 3 && r->metrics[k]; k++) {
        const json_t *m = json_object_get(ms, r->metrics[k]);
        if (!m) {
            if (k == 0)
                return NAN;
            continue;
        }
        double v = pbr_json_num(m, r->stat, NAN);
        if (isnan(v))
            return NAN;
        sum += v;
        *trusted = *trusted && json_is_true(json_object_get(m, "trusted"));
    }
    return sum;
}

/* The parameter value the rule compares at: the one nearest r->prefer among
 * the ok cases that have the rule's metric. NaN when none has. */
static double pick_value(const rule *r, const json_t *doc)
{
    double best = NAN;
    size_t i;
    const json_t *c;
    json_array_foreach(json_object_get(doc, "results"), i, c) {
        bool t;
        if (strcmp(pbr_json_str(c, "scenario", ""), r->scenario) || !is_ok(c) ||
            isnan(figure(r, c, &t)))
            continue;
        double v = r->param ? pbr_json_num(json_object_get(c, "params"), r->param, NAN) : 0;
        if (isnan(v))
            continue;
        if (isnan(best) || fabs(v - r->prefer) < fabs(best - r->prefer))
            best = v;
    }
    return best;
}

typedef struct ranked {
    const char *backend;
    double v;
    bool trusted;
} ranked;

static int by_value_lower(const void *a, const void *b)
{
    double x = ((const ranked *)a)->v, y = ((const ranked *)b)->v;
    return (x > y) - (x < y);
}

static int by_value_higher(const void *a, const void *b)
{
    return by_value_lower(b, a);
}

static void answer_rule(const rule *r, const json_t *doc, pbr_digest_entry *e)
{
    e->question = r->question;
    double at = pick_value(r, doc);
    if (isnan(at)) {
        snprintf(e->answer, sizeof e->answer, "not measured in this run (%s/%s)", r->scenario,
                 r->metrics[0]);
        return;
    }
    ranked rk[64];
    size_t n = 0, i;
    const json_t *c;
    json_array_foreach(json_object_get(doc, "results"), i, c) {
        if (n == sizeof rk / sizeof rk[0])
            break;
        if (strcmp(pbr_json_str(c, "scenario", ""), r->scenario) || !is_ok(c))
            continue;
        double v = r->param ? pbr_json_num(json_object_get(c, "params"), r->param, NAN) : 0;
        bool trusted;
        double f = figure(r, c, &trusted);
        if (v != at || isnan(f))
            continue;
        /* One case per backend: the best of several (other parameters). */
        const char *b = pbr_json_str(c, "backend", "");
        size_t k;
        for (k = 0; k < n && strcmp(rk[k].backend, b); k++)
            ;
        bool better = k == n || (r->better == PBR_HIGHER ? f > rk[k].v : f < rk[k].v);
        if (k == n)
            n++;
        if (better)
            rk[k] = (ranked){b, f, trusted};
    }
    qsort(rk, n, sizeof *rk, r->better == PBR_HIGHER ? by_value_higher : by_value_lower);
    /* The unit from a case that has the metric. */
    const char *unit = NULL;
    json_array_foreach(json_object_get(doc, "results"), i, c) {
        const json_t *m = json_object_get(json_object_get(c, "metrics"), r->metrics[0]);
        if (m) {
            unit = pbr_json_str(m, "unit", "");
            break;
        }
    }
    char fig[48], where[64] = "";
    pbr_format_value(fig, sizeof fig, unit, rk[0].v, PBR_FORMAT_SHORT);
    if (r->param && r->prefer != 0)
        snprintf(where, sizeof where, " at %s=%g", r->param, at);
    e->answered = true;
    e->trusted = rk[0].trusted;
    snprintf(e->best, sizeof e->best, "%s", rk[0].backend);
    size_t off = (size_t)snprintf(e->answer, sizeof e->answer, "%s: %s (%s%s)%s", rk[0].backend,
                                  fig, r->what, where, rk[0].trusted ? "" : " [not trusted]");
    for (size_t k = 1; k < n && k < 3 && off < sizeof e->answer; k++) {
        pbr_format_value(fig, sizeof fig, unit, rk[k].v, PBR_FORMAT_SHORT);
        off += (size_t)snprintf(e->answer + off, sizeof e->answer - off, "%s%s %s",
                                k == 1 ? "; then " : ", ", rk[k].backend, fig);
    }
}

/* Crash survival: every faults case of a backend ran, and passed. */
static void answer_crashes(const json_t *doc, pbr_digest_entry *e)
{
    e->question = "survives worker crashes";
    char yes[256] = "", no[256] = "", na[256] = "", why_na[96] = "";
    size_t oy = 0, on = 0, ona = 0;
    const char *seen[64];
    size_t nseen = 0, i;
    const json_t *c;
    json_array_foreach(json_object_get(doc, "results"), i, c) {
        if (strcmp(pbr_json_str(c, "scenario", ""), "faults"))
            continue;
        const char *b = pbr_json_str(c, "backend", "");
        size_t k;
        for (k = 0; k < nseen && strcmp(seen[k], b); k++)
            ;
        if (k < nseen || nseen == sizeof seen / sizeof seen[0])
            continue;
        seen[nseen++] = b;
        /* All of this backend's faults cases. */
        bool skipped = false, failed = false;
        double worst = 0;
        size_t j;
        const json_t *d;
        json_array_foreach(json_object_get(doc, "results"), j, d) {
            if (strcmp(pbr_json_str(d, "scenario", ""), "faults") ||
                strcmp(pbr_json_str(d, "backend", ""), b))
                continue;
            const char *o = pbr_json_str(d, "outcome", "");
            if (!strcmp(o, "skipped")) {
                skipped = true;
                if (!why_na[0]) {
                    const char *reason = pbr_json_str(d, "reason", "");
                    int len = (int)strcspn(reason, ";(");
                    while (len > 0 && reason[len - 1] == ' ')
                        len--;
                    snprintf(why_na, sizeof why_na, "%.*s", len, reason);
                }
            } else if (strcmp(o, "ok")) {
                failed = true;
            } else {
                double v = pbr_json_num(json_object_get(json_object_get(d, "metrics"),
                                                        "recovery"), "p50", 0);
                worst = v > worst ? v : worst;
            }
        }
        if (skipped && !failed) {
            if (ona < sizeof na)
                ona += (size_t)snprintf(na + ona, sizeof na - ona, "%s%s", ona ? ", " : "", b);
        } else if (failed) {
            if (on < sizeof no)
                on += (size_t)snprintf(no + on, sizeof no - on, "%s%s", on ? ", " : "", b);
        } else if (oy < sizeof yes) {
            char fig[32];
            pbr_format_value(fig, sizeof fig, "ns", worst, PBR_FORMAT_SHORT);
            oy += (size_t)snprintf(yes + oy, sizeof yes - oy, "%s%s (recovers in %s)",
                                   oy ? ", " : "", b, fig);
        }
    }
    if (nseen == 0) {
        snprintf(e->answer, sizeof e->answer, "not measured in this run (faults/recovery)");
        return;
    }
    e->answered = oy > 0;
    e->trusted = true;
    size_t off = (size_t)snprintf(e->answer, sizeof e->answer, "%s", oy ? yes : "none");
    if (on && off < sizeof e->answer)
        off += (size_t)snprintf(e->answer + off, sizeof e->answer - off,
                                "; a fault case failed on %s", no);
    if (ona && off < sizeof e->answer)
        snprintf(e->answer + off, sizeof e->answer - off, "; not applicable to %s%s%s", na,
                 why_na[0] ? ": " : "", why_na);
    if (oy)
        snprintf(e->best, sizeof e->best, "%.*s", (int)strcspn(yes, " "), yes);
}

/* ---- skip notes ---------------------------------------------------------- */

/* Whether s[at..at+len) is a word: not inside a longer name. */
static bool whole_word(const char *s, size_t at, size_t len)
{
    bool before = at == 0 || !(isalnum((unsigned char)s[at - 1]) || s[at - 1] == '_' ||
                               s[at - 1] == '-');
    char c = s[at + len];
    bool after = !(isalnum((unsigned char)c) || c == '_' || c == '-');
    return before && after;
}

/* reason with the backend's own name, as a word, replaced by "it": the
 * same reason for every backend it applies to ("thread has no native loop"
 * and "fork has no native loop" are one note). */
static void generic_reason(const char *reason, const char *backend, char *buf, size_t size)
{
    size_t bl = strlen(backend), o = 0;
    for (size_t i = 0; reason[i] && o + 1 < size;) {
        if (bl && !strncmp(reason + i, backend, bl) && whole_word(reason, i, bl)) {
            o += (size_t)snprintf(buf + o, size - o, "it");
            i += bl;
        } else {
            buf[o++] = reason[i++];
        }
    }
    buf[o < size ? o : size - 1] = '\0';
}

int pbr_skip_note_add(pbr_skip_note *notes, size_t *n, size_t max, const json_t *c)
{
    char reason[512];
    const char *backend = pbr_json_str(c, "backend", ""),
               *scenario = pbr_json_str(c, "scenario", "");
    generic_reason(pbr_json_str(c, "reason", ""), backend, reason, sizeof reason);
    size_t k;
    for (k = 0; k < *n; k++)
        if (!strcmp(notes[k].scenario, scenario) && !strcmp(notes[k].reason, reason))
            break;
    if (k == *n) {
        if (*n == max)
            return 0;
        notes[k].scenario = scenario;
        snprintf(notes[k].reason, sizeof notes[k].reason, "%s", reason);
        notes[k].backends[0] = '\0';
        (*n)++;
    }
    /* The backend, once. */
    char *b = notes[k].backends;
    size_t bl = strlen(backend), used = strlen(b);
    bool listed = false;
    for (const char *p = b; (p = strstr(p, backend)); p += bl)
        listed |= (p == b || p[-1] == ' ') && (p[bl] == ',' || p[bl] == '\0');
    if (!listed && used + bl + 3 < sizeof notes[k].backends)
        snprintf(b + used, sizeof notes[k].backends - used, "%s%s", used ? ", " : "", backend);
    return (int)k + 1;
}

size_t pbr_digest(const json_t *doc, pbr_digest_entry *out, size_t max)
{
    size_t n = 0;
    for (size_t r = 0; r < NRULES && n < max; r++) {
        memset(&out[n], 0, sizeof out[n]);
        answer_rule(&rules[r], doc, &out[n++]);
    }
    if (n < max) {
        memset(&out[n], 0, sizeof out[n]);
        answer_crashes(doc, &out[n++]);
    }
    return n;
}

void pbr_digest_print(FILE *out, const json_t *doc)
{
    pbr_digest_entry e[PBR_DIGEST_MAX];
    size_t n = pbr_digest(doc, e, PBR_DIGEST_MAX);
    fprintf(out, "which pool for what (this run, this machine):\n");
    for (size_t i = 0; i < n; i++)
        fprintf(out, "  %-26s %s\n", e[i].question, e[i].answer);
}
