/*
 * summary.c — the table `poolbench run` prints at the end, from the results
 * document itself (so it shows exactly what was written).
 *
 * One row per case: backend, scenario with its swept parameters, the
 * scenario's headline metric with p50 and p99, the CPU time per task the
 * pool spent beside it and, apart, its caller's (harness/cost.c), the ratio
 * to the floor (1.0 = as good as the machine's floor; larger is worse) and
 * which floor that is ("pipe_stream", "spin_pingpong processes": floor.c
 * pairs them by the kind of hand-off), and for a pool from another library
 * the adapter tax (adapter ÷ the library's own loop, harness/native.c). A
 * skipped case's row points at its reason, which is printed once, whole,
 * under the table, for every backend and case it stands for (the same
 * reason of one scenario, the backend's own name aside, is one note);
 * failed cases are listed with theirs. Last, which pool for what, as this
 * run answers it (results/digest.c).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "results.h"
#include "runner.h"

/* A p50 or p99 cell: "-" where the document holds no finite number. */
static void format_cell(const json_t *v, const char *unit, char *buf, size_t size)
{
    double d = json_number_value(v);
    if (!json_is_number(v) || !isfinite(d))
        snprintf(buf, size, "-");
    else
        pbr_format_value(buf, size, unit, d, PBR_FORMAT_SHORT);
}

static const char *str(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : "";
}

/* Whether v is the single value param p defaults to (a parameter the case
 * leaves at its default says nothing: the native scenario's loops each use
 * a few of its parameters). */
static bool at_default(const pb_param *p, const json_t *v)
{
    if (!p || strchr(p->defaults, ','))
        return false;
    pb_param_value d;
    char err[128];
    if (pb_param_parse(p, p->defaults, &d, err, sizeof err))
        return false;
    if (json_is_string(v))
        return d.word && !strcmp(d.word, json_string_value(v));
    return json_is_integer(v) && json_integer_value(v) == d.num;
}

/* "timeout timeout=1ms": the scenario and the parameters that sweep in this
 * document (values differing between cases of the scenario), except those
 * at their single default. */
static void case_label(const json_t *results, const json_t *c, char *buf, size_t size)
{
    const char *scenario = str(c, "scenario");
    const pb_scenario *sc = pb_scenario_find(scenario);
    size_t used = (size_t)snprintf(buf, size, "%s", scenario);
    const char *key;
    json_t *v;
    json_object_foreach(json_object_get(c, "params"), key, v)
    {
        if (sc && at_default(pb_scenario_param(sc, key), v))
            continue;
        bool varies = false;
        size_t i;
        const json_t *o;
        json_array_foreach(results, i, o)
        {
            if (strcmp(str(o, "scenario"), scenario))
                continue;
            const json_t *w = json_object_get(json_object_get(o, "params"), key);
            varies |= !w || !json_equal(v, (json_t *)w);
        }
        if (!varies || used >= size)
            continue;
        char val[64];
        if (json_is_string(v)) {
            snprintf(val, sizeof val, "%s", json_string_value(v));
        } else {
            /* Show numbers with the parameter's own unit where we know it. */
            const pb_scenario *s = pb_scenario_find(scenario);
            const pb_param *p = s ? pb_scenario_param(s, key) : NULL;
            pb_param_value pv = {.num = (int64_t)json_integer_value(v)};
            if (p)
                pb_param_format(p, &pv, val, sizeof val);
            else
                snprintf(val, sizeof val, "%lld", (long long)json_integer_value(v));
        }
        used += (size_t)snprintf(buf + used, size - used, " %s=%s", key, val);
    }
}

#define PBH_MAX_NOTES 32

/* "spin_pingpong processes": the floor case a ratio uses (its scenario and
 * the parameter values that pick it). */
static void floor_label(const json_t *ref, char *buf, size_t size)
{
    size_t used = (size_t)snprintf(buf, size, "%s", str(ref, "scenario"));
    const char *key;
    json_t *v;
    json_object_foreach(json_object_get(ref, "params"), key, v)
    {
        if (used < size && json_is_string(v))
            used += (size_t)snprintf(buf + used, size - used, " %s", json_string_value(v));
    }
}

void pbh_print_summary(FILE *out, const json_t *doc)
{
    const json_t *results = json_object_get(doc, "results");
    size_t n = json_array_size(results);
    if (!n) {
        fprintf(out, "no case finished\n");
        return;
    }
    int wb = 7, wc = 4, wm = 6;
    size_t i;
    const json_t *c;
    char label[256];
    json_array_foreach(results, i, c)
    {
        int lb = (int)strlen(str(c, "backend"));
        case_label(results, c, label, sizeof label);
        int lc = (int)strlen(label);
        wb = lb > wb ? lb : wb;
        wc = lc > wc ? lc : wc;
    }
    wc = wc > 44 ? 44 : wc;
    fprintf(out, "\n%-*s  %-*s  %-*s  %13s  %13s  %9s  %9s  %8s  %-24s  %9s\n", wb, "BACKEND", wc,
            "CASE", wm + 6, "METRIC", "P50", "P99", "CPU/TASK", "CALLER", "VS FLOOR", "FLOOR",
            "VS NATIVE");
    bool any_failed = false;
    pbr_skip_note notes[PBH_MAX_NOTES];
    size_t nnotes = 0;
    json_array_foreach(results, i, c)
    {
        case_label(results, c, label, sizeof label);
        const char *outcome = str(c, "outcome");
        const json_t *metrics = json_object_get(c, "metrics");
        if (!strcmp(outcome, "deadlock")) {
            fprintf(out, "%-*s  %-*.*s  deadlock: %.120s\n", wb, str(c, "backend"), wc, wc, label,
                    str(c, "reason"));
            continue;
        }
        if (!strcmp(outcome, "skipped")) {
            int k = pbr_skip_note_add(notes, &nnotes, PBH_MAX_NOTES, c);
            if (k)
                fprintf(out, "%-*s  %-*.*s  skipped [%d]\n", wb, str(c, "backend"), wc, wc, label,
                        k);
            else
                fprintf(out, "%-*s  %-*.*s  skipped: %s\n", wb, str(c, "backend"), wc, wc, label,
                        str(c, "reason"));
            continue;
        }
        const pb_scenario *s = pb_scenario_find(str(c, "scenario"));
        const char *name = s ? s->headline : NULL;
        const json_t *m = name ? json_object_get(metrics, name) : NULL;
        if (!m) {
            /* The headline was not measured (a failure, or an unknown
             * scenario): show the first metric there is. */
            const char *k;
            json_t *v;
            json_object_foreach((json_t *)metrics, k, v)
            {
                name = k;
                m = v;
                break;
            }
        }
        char p50[32] = "-", p99[32] = "-", ratio[32] = "", floor[96] = "", tax[32] = "", cpu[32],
             caller[32];
        /* What each task cost: the pool's CPU time, and its caller's. */
        format_cell(json_object_get(json_object_get(metrics, "cpu_per_task"), "p50"), "ns", cpu,
                    sizeof cpu);
        format_cell(json_object_get(json_object_get(metrics, "submitter_cpu_per_task"), "p50"), "ns",
                    caller, sizeof caller);
        if (m) {
            const char *unit = str(m, "unit");
            format_cell(json_object_get(m, "p50"), unit, p50, sizeof p50);
            format_cell(json_object_get(m, "p99"), unit, p99, sizeof p99);
            const json_t *r = json_object_get(m, "ratio_to_floor");
            if (r) {
                snprintf(ratio, sizeof ratio, "%.2fx", json_number_value(r));
                floor_label(json_object_get(m, "floor"), floor, sizeof floor);
            }
            const json_t *t = json_object_get(m, "ratio_to_native");
            if (t)
                snprintf(tax, sizeof tax, "%.2fx", json_number_value(t));
        }
        bool departs = json_is_string(json_object_get(c, "departure"));
        fprintf(out, "%-*s  %-*.*s  %-*s  %13s  %13s  %9s  %9s  %8s  %-24.24s  %9s%s\n", wb,
                str(c, "backend"), wc, wc, label, wm + 6, m ? name : "-", p50, p99, cpu, caller,
                ratio, floor, tax,
                !strcmp(outcome, "failed") ? (departs ? "  FAILED (documented)" : "  FAILED")
                : json_is_string(json_object_get(c, "untrusted")) ? "  untrusted" : "");
        any_failed |= !strcmp(outcome, "failed");
    }
    if (any_failed) {
        fprintf(out, "\nfailed:\n");
        json_array_foreach(results, i, c)
        {
            if (strcmp(str(c, "outcome"), "failed"))
                continue;
            case_label(results, c, label, sizeof label);
            fprintf(out, "  %s %s: %s\n", str(c, "backend"), label, str(c, "reason"));
            if (json_is_string(json_object_get(c, "departure")))
                fprintf(out, "    documented departure, not a failure of the run: %s\n",
                        str(c, "departure"));
        }
    }
    if (nnotes) {
        fprintf(out, "\nskipped, and why:\n");
        for (size_t k = 0; k < nnotes; k++)
            fprintf(out, "  [%zu] %s on %s: %s\n", k + 1, notes[k].scenario, notes[k].backends,
                    notes[k].reason);
    }
    fputc('\n', out);
    pbr_digest_print(out, doc);
    fputc('\n', out);
}
