/*
 * plan.c — from a suite (and --scenario) to the list of cases to run.
 *
 * A parameter's values come from the suite entry when it sets them, else
 * from the scenario's defaults; several values sweep, and several sweeping
 * parameters give their cartesian product, in declaration order. Which
 * parameters appear in a case's label: those that sweep in the defaults or
 * in the suite (the axes a reader compares along), so "timeout timeout=1ms"
 * but not "roundtrip samples=2000".
 *
 * Sizes are checked before anything is built: an entry's sweeps multiply,
 * so the product is counted (without overflow) and a plan over
 * PBH_PLAN_MAX_CASES is refused naming the entry and its sweeps, instead of
 * failing for memory. Every case comes once: two entries (or one sweep
 * listing a value twice) asking for the same case would make two results
 * for one (backend, scenario, parameters), which a results file cannot
 * hold.
 */
#include <assert.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runner.h"

/* How many parameters s declares. */
static size_t count_params(const pb_scenario *s)
{
    size_t np = 0;
    while (s->params && s->params[np].name)
        np++;
    return np;
}

static void free_case(pbh_case *c)
{
    free(c->values);
    free(c->shown);
    free(c->label);
}

void pbh_plan_free(pbh_plan *plan)
{
    for (size_t i = 0; i < plan->ncases; i++)
        free_case(&plan->cases[i]);
    free(plan->cases);
    plan->cases = NULL;
    plan->ncases = 0;
}

/* The values of param p for entry e: its override, else the defaults. *vals
 * is malloc'd (caller frees); *sweep_default tells whether the defaults
 * sweep. */
static int values_of(const pbh_entry *e, const pb_param *p, pb_param_value **vals, size_t *n,
                     bool *sweep_default)
{
    pb_param_value *def;
    size_t ndef;
    char why[256];
    int rc = pb_param_parse_list(p, p->defaults, &def, &ndef, why, sizeof why);
    if (rc == PB_ENOMEM)
        return rc;
    if (rc) {
        /* Defaults are written by us: a bad one is a bug, found by any run. */
        fprintf(stderr, "poolbench: internal error: scenario '%s' parameter '%s' default '%s': %s\n",
                e->scenario->name, p->name, p->defaults, why);
        abort();
    }
    *sweep_default = ndef > 1;
    for (size_t i = 0; i < e->noverrides; i++)
        if (e->overrides[i].param == p) {
            free(def);
            *vals = malloc(e->overrides[i].nvalues * sizeof **vals);
            if (!*vals)
                return PB_ENOMEM;
            memcpy(*vals, e->overrides[i].values, e->overrides[i].nvalues * sizeof **vals);
            *n = e->overrides[i].nvalues;
            return 0;
        }
    *vals = def;
    *n = ndef;
    return 0;
}

static int push_case(pbh_plan *plan, size_t *cap, const pb_scenario *s, const pb_param_value *vals,
                     const bool *shown, size_t np, int entry)
{
    if (plan->ncases == *cap) {
        size_t ncap = *cap ? 2 * *cap : 32;
        pbh_case *grown = realloc(plan->cases, ncap * sizeof *grown);
        if (!grown)
            return PB_ENOMEM;
        plan->cases = grown;
        *cap = ncap;
    }
    pbh_case *c = &plan->cases[plan->ncases];
    memset(c, 0, sizeof *c);
    c->scenario = s;
    c->entry = entry;
    c->nvalues = np;
    c->values = malloc((np ? np : 1) * sizeof *c->values);
    c->shown = malloc((np ? np : 1) * sizeof *c->shown);
    char label[512];
    size_t used = (size_t)snprintf(label, sizeof label, "%s", s->name);
    for (size_t i = 0; i < np && used < sizeof label; i++) {
        if (!shown[i])
            continue;
        char v[64];
        pb_param_format(&s->params[i], &vals[i], v, sizeof v);
        used += (size_t)snprintf(label + used, sizeof label - used, " %s=%s", s->params[i].name, v);
    }
    c->label = strdup(label);
    if (!c->values || !c->shown || !c->label) {
        free_case(c);
        return PB_ENOMEM;
    }
    if (np) {
        memcpy(c->values, vals, np * sizeof *vals);
        memcpy(c->shown, shown, np * sizeof *shown);
    }
    plan->ncases++;
    return 0;
}

/* Pushes one case per combination of lists[i][0..counts[i]), i < np (s's
 * parameters). */
static int expand(pbh_plan *plan, size_t *cap, const pb_scenario *s, size_t np,
                  pb_param_value **lists, const size_t *counts, const bool *shown, int entry)
{
    size_t *idx = calloc(np ? np : 1, sizeof *idx);
    pb_param_value *cur = calloc(np ? np : 1, sizeof *cur);
    int rc = idx && cur ? 0 : PB_ENOMEM;
    while (!rc) {
        for (size_t i = 0; i < np; i++)
            cur[i] = lists[i][idx[i]];
        rc = push_case(plan, cap, s, cur, shown, np, entry);
        /* Odometer over the sweeps, last parameter fastest; done when every
         * digit has wrapped. */
        bool more = false;
        for (size_t i = np; i-- > 0 && !more;) {
            if (++idx[i] < counts[i])
                more = true;
            else
                idx[i] = 0;
        }
        if (!more)
            break;
    }
    free(idx);
    free(cur);
    return rc;
}

/* Values of scenario `name`'s parameter `param` over the selected entries,
 * without duplicates, in order. */
static int mirror_values(const pbh_entry *const *sel, size_t nsel, const char *name,
                         const char *param, pb_param_value **out, size_t *nout)
{
    *out = NULL;
    *nout = 0;
    for (size_t i = 0; i < nsel; i++) {
        if (strcmp(sel[i]->scenario->name, name))
            continue;
        const pb_param *p = pb_scenario_param(sel[i]->scenario, param);
        if (!p)
            continue;
        pb_param_value *v;
        size_t n;
        bool sweep;
        int rc = values_of(sel[i], p, &v, &n, &sweep);
        if (rc)
            return rc;
        for (size_t k = 0; k < n; k++) {
            bool dup = false;
            for (size_t j = 0; j < *nout; j++)
                dup |= (*out)[j].num == v[k].num && (*out)[j].word == v[k].word;
            if (dup)
                continue;
            pb_param_value *grown = realloc(*out, (*nout + 1) * sizeof *grown);
            if (!grown) {
                free(v);
                return PB_ENOMEM;
            }
            *out = grown;
            (*out)[(*nout)++] = v[k];
        }
        free(v);
    }
    return 0;
}

/* Where an entry comes from, for messages: "FILE: scenarios[2]" or "scenario
 * 'x'" (an entry the suite does not hold). */
static void entry_where(const pbh_suite *suite, const pbh_entry *e, char *buf, size_t len)
{
    const char *file = suite->path && *suite->path ? suite->path : suite->name;
    if (e >= suite->entries && e < suite->entries + suite->nentries)
        snprintf(buf, len, "%s: scenarios[%zu]", file, (size_t)(e - suite->entries));
    else
        snprintf(buf, len, "%s: scenario '%s'", file, e->scenario->name);
}

/* The number of cases lists of counts[0..np) make, counted before any is
 * built; PB_EINVAL with err (naming the entry and its sweeps) when it, with
 * the `already` cases planned, passes PBH_PLAN_MAX_CASES. */
static int check_sweep_size(const pbh_suite *suite, const pbh_entry *e, const size_t *counts,
                            size_t np, size_t already, char *err, size_t errlen)
{
    size_t total = 1;
    bool over = false;
    for (size_t i = 0; i < np; i++) {
        if (counts[i] > PBH_PLAN_MAX_CASES || total > PBH_PLAN_MAX_CASES / counts[i])
            over = true;
        else
            total *= counts[i];
    }
    if (!over && total <= PBH_PLAN_MAX_CASES - already)
        return 0;
    char where[PATH_MAX + 64], sweeps[512] = "";
    entry_where(suite, e, where, sizeof where);
    for (size_t i = 0; i < np; i++) {
        if (counts[i] < 2)
            continue;
        size_t used = strlen(sweeps);
        snprintf(sweeps + used, sizeof sweeps - used, "%s%s (%zu values)", used ? " x " : "",
                 e->scenario->params[i].name, counts[i]);
    }
    if (over)
        snprintf(err, errlen, "%s.params: sweeps over %s make more than %d cases, the most a run "
                 "holds", where, sweeps, PBH_PLAN_MAX_CASES);
    else
        snprintf(err, errlen, "%s%s%s: %zu cases, after the %zu before them, make more than %d, "
                 "the most a run holds", where, *sweeps ? ".params: sweeps over " : "", sweeps,
                 total, already, PBH_PLAN_MAX_CASES);
    return PB_EINVAL;
}

static int expand_entry(pbh_plan *plan, size_t *cap, const pbh_suite *suite, const pbh_entry *e,
                        const pbh_entry *const *sel, size_t nsel, char *err, size_t errlen)
{
    const pb_scenario *s = e->scenario;
    size_t np = count_params(s);
    pb_param_value **lists = calloc(np ? np : 1, sizeof *lists);
    size_t *counts = calloc(np ? np : 1, sizeof *counts);
    bool *shown = calloc(np ? np : 1, sizeof *shown);
    int rc = lists && counts && shown ? 0 : PB_ENOMEM;
    const pbh_floor_mirror *m = pbh_floor_mirror_of(s->name);
    for (size_t i = 0; !rc && i < np; i++) {
        bool sweep_default;
        rc = values_of(e, &s->params[i], &lists[i], &counts[i], &sweep_default);
        if (rc)
            break;
        bool overridden = false;
        for (size_t k = 0; k < e->noverrides; k++)
            overridden |= e->overrides[k].param == &s->params[i];
        /* A floor measurement that mirrors another scenario's parameter
         * takes the values that scenario runs with here (unless the suite
         * set them for the floor itself). */
        if (m && !overridden && !strcmp(m->param, s->params[i].name)) {
            pb_param_value *mv;
            size_t mn;
            rc = mirror_values(sel, nsel, m->scenario, m->scenario_param, &mv, &mn);
            if (!rc && mn) {
                free(lists[i]);
                lists[i] = mv;
                counts[i] = mn;
            } else {
                free(mv);
            }
        }
        shown[i] = sweep_default || counts[i] > 1;
    }
    if (!rc)
        rc = check_sweep_size(suite, e, counts, np, plan->ncases, err, errlen);
    int entry = e >= suite->entries && e < suite->entries + suite->nentries
                    ? (int)(e - suite->entries)
                    : -1;
    if (!rc)
        rc = expand(plan, cap, s, np, lists, counts, shown, entry);
    for (size_t i = 0; lists && i < np; i++)
        free(lists[i]);
    free(lists);
    free(counts);
    free(shown);
    return rc;
}

/* Orders cases by scenario, then values: equal ones end up side by side. */
static int cmp_cases(const void *a, const void *b)
{
    const pbh_case *x = *(const pbh_case *const *)a, *y = *(const pbh_case *const *)b;
    if (x->scenario != y->scenario)
        return strcmp(x->scenario->name, y->scenario->name);
    for (size_t i = 0; i < x->nvalues; i++) {
        if (x->values[i].num != y->values[i].num)
            return x->values[i].num < y->values[i].num ? -1 : 1;
        if (x->values[i].word != y->values[i].word)
            return strcmp(x->values[i].word ? x->values[i].word : "",
                          y->values[i].word ? y->values[i].word : "");
    }
    return (x > y) - (x < y); /* plan order among equals */
}

static bool same_case(const pbh_case *x, const pbh_case *y)
{
    if (x->scenario != y->scenario)
        return false;
    for (size_t i = 0; i < x->nvalues; i++)
        if (x->values[i].num != y->values[i].num || x->values[i].word != y->values[i].word)
            return false;
    return true;
}

/* Every case once. 0, PB_EINVAL with err naming where the two come from,
 * or PB_ENOMEM. */
static int check_unique(const pbh_plan *plan, const pbh_suite *suite, char *err, size_t errlen)
{
    if (plan->ncases < 2)
        return 0;
    const pbh_case **order = malloc(plan->ncases * sizeof *order);
    if (!order)
        return PB_ENOMEM;
    for (size_t i = 0; i < plan->ncases; i++)
        order[i] = &plan->cases[i];
    qsort(order, plan->ncases, sizeof *order, cmp_cases);
    const pbh_case *a = NULL, *b = NULL;
    for (size_t i = 1; i < plan->ncases; i++)
        if (same_case(order[i - 1], order[i]) && (!b || order[i] < b)) {
            a = order[i - 1];
            b = order[i];
        }
    free(order);
    if (!b)
        return 0;
    const char *file = suite->path && *suite->path ? suite->path : suite->name;
    char from[128];
    if (a->entry >= 0 && b->entry >= 0 && a->entry != b->entry)
        snprintf(from, sizeof from, "scenarios[%d] and scenarios[%d] both ask for it", a->entry,
                 b->entry);
    else if (b->entry >= 0)
        snprintf(from, sizeof from, "scenarios[%d] lists one value twice", b->entry);
    else
        snprintf(from, sizeof from, "it is asked for twice");
    snprintf(err, errlen, "%s: case '%s' comes twice (%s); a run measures each case once (more "
             "repetitions measure it more)", file, b->label, from);
    return PB_EINVAL;
}

/* Combinations of values no single range rules out: each case past its
 * scenario's own check. 0 or PB_EINVAL with err. */
static int check_cases(const pbh_plan *plan, const pbh_suite *suite, char *err, size_t errlen)
{
    for (size_t i = 0; i < plan->ncases; i++) {
        const pbh_case *c = &plan->cases[i];
        /* Floor cases come first (runner.h), and a case has one value per
         * parameter its scenario declares. */
        assert(i == 0 || !(c->scenario->flags & PB_SC_FLOOR) ||
               (plan->cases[i - 1].scenario->flags & PB_SC_FLOOR));
        assert(c->nvalues == count_params(c->scenario));
        char why[256] = "";
        if (c->scenario->check && c->scenario->check(c->scenario, c->values, why, sizeof why)) {
            snprintf(err, errlen, "%s%scase '%s': %s", suite->path ? suite->path : "",
                     suite->path && *suite->path ? ": " : "", c->label,
                     why[0] ? why : "invalid parameters");
            return PB_EINVAL;
        }
    }
    return 0;
}

int pbh_plan_build(const pbh_suite *suite, const char *const *only, size_t nonly, pbh_plan *plan,
                   char *err, size_t errlen)
{
    plan->cases = NULL;
    plan->ncases = 0;
    size_t cap = 0;

    /* The selected entries: the suite's, or those --scenario names. */
    size_t nsc;
    pb_scenarios(&nsc);
    size_t maxsel = suite->nentries + nonly + nsc;
    const pbh_entry **sel = calloc(maxsel ? maxsel : 1, sizeof *sel);
    pbh_entry *defaults = calloc(nonly + nsc + 1, sizeof *defaults);
    size_t nsel = 0, ndef = 0;
    int rc = sel && defaults ? 0 : PB_ENOMEM;
    if (!rc && !only) {
        for (size_t i = 0; i < suite->nentries; i++)
            sel[nsel++] = &suite->entries[i];
    }
    for (size_t k = 0; !rc && only && k < nonly; k++) {
        const pb_scenario *s = pb_scenario_find(only[k]);
        if (!s) {
            snprintf(err, errlen, "--scenario: unknown scenario '%s' (poolbench list shows them)", only[k]);
            rc = PB_EINVAL;
            break;
        }
        bool dup = false;
        for (size_t j = 0; j < k; j++)
            dup |= !strcmp(only[j], only[k]);
        if (dup)
            continue;
        bool found = false;
        for (size_t i = 0; i < suite->nentries; i++)
            if (suite->entries[i].scenario == s) {
                sel[nsel++] = &suite->entries[i];
                found = true;
            }
        if (!found) {
            defaults[ndef].scenario = s;
            sel[nsel++] = &defaults[ndef++];
        }
    }

    /* The floor: measured first, and only what the selected scenarios are
     * compared with (plus the clock's cost, which every timing pays). */
    if (!rc && suite->floor) {
        const pb_scenario *const *all = pb_scenarios(&nsc);
        for (size_t i = 0; i < nsc; i++) {
            const pb_scenario *f = all[i];
            if (!(f->flags & PB_SC_FLOOR))
                continue;
            bool explicit = false, wanted = !strcmp(f->name, "clock");
            for (size_t j = 0; j < nsel; j++)
                explicit |= sel[j]->scenario == f;
            for (size_t j = 0; j < nsel; j++)
                wanted |= pbh_floor_serves(f->name, sel[j]->scenario->name);
            if (explicit || !wanted)
                continue;
            defaults[ndef].scenario = f;
            rc = expand_entry(plan, &cap, suite, &defaults[ndef++], sel, nsel, err, errlen);
            if (rc)
                break;
        }
    }
    /* Floor scenarios the suite lists itself also run first. */
    for (size_t pass = 0; pass < 2 && !rc; pass++)
        for (size_t j = 0; j < nsel && !rc; j++) {
            bool is_floor = sel[j]->scenario->flags & PB_SC_FLOOR;
            if (is_floor == (pass == 0))
                rc = expand_entry(plan, &cap, suite, sel[j], sel, nsel, err, errlen);
        }

    if (!rc)
        rc = check_unique(plan, suite, err, errlen);
    if (!rc)
        rc = check_cases(plan, suite, err, errlen);

    free(sel);
    free(defaults);
    if (rc) {
        if (rc == PB_ENOMEM)
            snprintf(err, errlen, "out of memory");
        pbh_plan_free(plan);
    }
    return rc;
}

int pbh_plan_check_kept(const pbh_plan *plan, const pbh_suite *suite, int repetitions,
                        const char *reps_from, char *err, size_t errlen)
{
    for (size_t i = 0; i < plan->ncases; i++) {
        const pbh_case *c = &plan->cases[i];
        const pb_param *p = c->scenario->kept ? pb_scenario_param(c->scenario, c->scenario->kept)
                                              : NULL;
        if (!p)
            continue;
        int64_t per = c->values[p - c->scenario->params].num;
        if (per <= PB_MAX_KEPT_SAMPLES / (repetitions > 0 ? repetitions : 1))
            continue;
        const char *file = suite->path && *suite->path ? suite->path : suite->name;
        char where[PATH_MAX + 64];
        if (c->entry >= 0)
            snprintf(where, sizeof where, "%s: scenarios[%d].params.%s", file, c->entry, p->name);
        else
            snprintf(where, sizeof where, "%s: scenario '%s', parameter %s", file,
                     c->scenario->name, p->name);
        snprintf(err, errlen,
                 "%s: %lld samples a repetition x %d repetitions (%s) keep %lld per metric of "
                 "case '%s'; at most %lld (take fewer samples or repetitions)",
                 where, (long long)per, repetitions, reps_from ? reps_from : "the suite's",
                 (long long)per * repetitions, c->label, (long long)PB_MAX_KEPT_SAMPLES);
        return PB_EINVAL;
    }
    return 0;
}

json_t *pbh_case_params_json_new(const pbh_case *c)
{
    json_t *o = json_object();
    for (size_t i = 0; o && i < c->nvalues; i++) {
        const pb_param *p = &c->scenario->params[i];
        json_object_set_new(o, p->name,
                            p->kind == PB_PARAM_WORD ? json_string(c->values[i].word)
                                                     : json_integer(c->values[i].num));
    }
    return o;
}
