/*
 * cost.c — the data behind the charts of what a pool costs.
 *
 *   cost     round-trip latency, and the throughput of a burst of empty
 *            tasks, against the CPU time each task cost, one point per
 *            backend: a pool that wins latency by spinning sits low and to
 *            the right, which a latency chart alone cannot show.
 *   scaling  the scaling scenario: speedup against the number of workers
 *            with the ideal (min(W, PUs): more workers than PUs cannot run
 *            at once), and the CPU time per task at each worker count.
 *
 * CPU per task is the pool's (cpu_per_task) plus the caller's
 * (submitter_cpu_per_task): everything the work cost the machine. The
 * median is taken over the repetitions of their sum, repetition by
 * repetition, when both list the same repetitions (they always do in
 * files poolbench writes), else the sum of the two medians. The metric
 * names come from the chart table (plot.c); see plot-int.h for the data
 * file conventions.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "plot-int.h"
#include "results.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The median over repetitions of a + b (b may be NULL); NAN without a. */
static double sum_median(const json_t *a, const json_t *b)
{
    if (!json_is_object(a))
        return NAN;
    const json_t *ra = json_object_get(a, "repetitions"), *rb = json_object_get(b, "repetitions");
    size_t n = json_array_size(ra);
    if (n == 0 || (b && json_array_size(rb) != n))
        return pbr_json_num(a, "p50", NAN) + (b ? pbr_json_num(b, "p50", NAN) : 0);
    double v[256];
    if (n > 256)
        n = 256;
    for (size_t i = 0; i < n; i++)
        v[i] = json_number_value(json_array_get(ra, i)) +
               (b ? json_number_value(json_array_get(rb, i)) : 0);
    qsort(v, n, sizeof v[0], cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static bool usable(const json_t *c, const char *scenario)
{
    return !strcmp(pbr_json_str(c, "scenario", ""), scenario) &&
           strcmp(pbr_json_str(c, "backend", ""), "floor") &&
           !strcmp(pbr_json_str(c, "outcome", ""), "ok");
}

/* ---- cost ---------------------------------------------------------------- */

/* One block: per backend, its first usable case of y's scenario (with y's
 * parameter at 0, when y names one) that has a CPU figure: the backend, its
 * line type, CPU per task (pool and caller), the pool's alone, and y's p50.
 * Returns the number of rows. */
static size_t cost_block(FILE *f, const json_t *doc, const pb__plot_source *y,
                         const pb__plot_source *cpu, const pb__plot_source *caller)
{
    fprintf(f, "backend lt cpu_ns pool_cpu_ns %s\n", !strcmp(y->unit, "ns") ? "p50_ns" : "p50");
    const char *done[PB__PLOT_MAX_SERIES];
    size_t rows = 0, i;
    const json_t *c;
    json_array_foreach(json_object_get(doc, "results"), i, c) {
        if (!usable(c, y->scenario) || rows == PB__PLOT_MAX_SERIES)
            continue;
        if (y->param && pbr_json_num(json_object_get(c, "params"), y->param, -1) != 0)
            continue;
        const char *backend = pbr_json_str(c, "backend", "");
        bool seen = false;
        for (size_t k = 0; k < rows; k++)
            seen = seen || !strcmp(done[k], backend);
        const json_t *metrics = json_object_get(c, "metrics");
        const json_t *ym = json_object_get(metrics, y->metric);
        const json_t *pm = json_object_get(metrics, cpu->metric);
        if (seen || !ym || !pm || strcmp(pbr_json_str(ym, "unit", ""), y->unit))
            continue;
        double total = sum_median(pm, json_object_get(metrics, caller->metric));
        if (!isfinite(total))
            continue;
        done[rows++] = backend;
        pb__plot_put_str(f, backend);
        fprintf(f, " %d", pb__plot_fixed_lt(backend));
        pb__plot_put_num(f, total);
        pb__plot_put_num(f, pbr_json_num(pm, "p50", NAN));
        pb__plot_put_num(f, pbr_json_num(ym, "p50", NAN));
        fputc('\n', f);
    }
    return rows;
}

/* Sources: [0] the latency, [1] the throughput (its parameter at 0), [2] the
 * pool's CPU per task, [3] the caller's. Data: two blocks, latency then
 * throughput, each "backend lt cpu_ns pool_cpu_ns p50" (p50 in ns or
 * tasks/s). Vars: nrt, ntp (rows of each). */
int pb__extract_cost(const pb__plot_chart *chart, const pb__plot_input *in, pb__plot_data *out)
{
    const json_t *doc = in->docs[0];
    const pb__plot_source *src = chart->sources;
    fprintf(out->data, "# poolbench plot: %s — %s\n", chart->name, chart->summary);
    fprintf(out->data, "# from %s\n# CPU per task: %s + %s (ns)\n", in->paths[0], src[2].metric,
            src[3].metric);
    size_t nrt = cost_block(out->data, doc, &src[0], &src[2], &src[3]);
    fputs("\n\n", out->data);
    size_t ntp = cost_block(out->data, doc, &src[1], &src[2], &src[3]);
    if (nrt + ntp == 0)
        return pb__plot_skip(out, "no usable '%s' or '%s' case (%s=0) with metric '%s' (files "
                                  "from before poolbench measured CPU time have none)",
                             src[0].scenario, src[1].scenario, src[1].param, src[2].metric);
    pb__plot_var_int(out, "nrt", (long long)nrt);
    pb__plot_var_int(out, "ntp", (long long)ntp);
    char *sub = pb__plot_run_subtitle(doc);
    pb__plot_var_str(out, "subtitle", sub ? sub : "");
    free(sub);
    return 0;
}

/* ---- scaling ------------------------------------------------------------- */

/* The worker counts W for which case metrics hold `prefix`W`suffix`
 * (prefix "speedup_w", suffix "" or "_unpinned"), ascending, into w[].
 * Returns how many. */
static size_t counts_of(const json_t *metrics, const char *prefix, const char *suffix, int *w,
                        size_t max)
{
    size_t n = 0, pl = strlen(prefix), sl = strlen(suffix);
    const char *name;
    const json_t *m;
    json_object_foreach((json_t *)metrics, name, m) {
        size_t len = strlen(name);
        if (n == max || len <= pl + sl || strncmp(name, prefix, pl) || strcmp(name + len - sl, suffix))
            continue;
        char *end;
        long v = strtol(name + pl, &end, 10);
        if (end != name + len - sl || v < 1)
            continue;
        size_t k = n++;
        while (k > 0 && w[k - 1] > v) {
            w[k] = w[k - 1];
            k--;
        }
        w[k] = (int)v;
    }
    return n;
}

/* The family's metric for W and suffix: "speedup_w%" → speedup_w4_unpinned. */
static const json_t *family_metric(const json_t *metrics, const char *family, int w,
                                   const char *suffix)
{
    const char *pct = strchr(family, '%');
    if (!pct)
        return NULL;
    char name[128];
    snprintf(name, sizeof name, "%.*s%d%s%s", (int)(pct - family), family, w, pct + 1, suffix);
    return json_object_get(metrics, name);
}

/* Whether parameter key of c has another value in some other usable case
 * of the scenario. */
static bool varies(const json_t *doc, const char *scenario, const char *key, const json_t *v)
{
    size_t i;
    const json_t *c;
    json_array_foreach(json_object_get(doc, "results"), i, c) {
        if (!usable(c, scenario))
            continue;
        const json_t *w = json_object_get(json_object_get(c, "params"), key);
        if (!w || !json_equal((json_t *)v, (json_t *)w))
            return true;
    }
    return false;
}

/* Sources: [0] the speedup family ("speedup_w%"), [1] the pool's CPU per
 * task family, [2] the caller's. Data: one block per series (a backend's
 * case, pinned or unpinned), rows "workers speedup ci_low ci_high cpu_ns
 * pool_cpu_ns". Vars: nseries, lts, pus, wmax. */
int pb__extract_scaling(const pb__plot_chart *chart, const pb__plot_input *in,
                        pb__plot_data *out)
{
    const json_t *doc = in->docs[0];
    const pb__plot_source *src = chart->sources;
    const char *prefix_end = strchr(src[0].metric, '%');
    char prefix[64];
    snprintf(prefix, sizeof prefix, "%.*s", prefix_end ? (int)(prefix_end - src[0].metric) : 0,
             src[0].metric);
    fprintf(out->data, "# poolbench plot: %s — %s\n# from %s\n", chart->name, chart->summary,
            in->paths[0]);
    fprintf(out->data, "# speedup: %s; CPU per task: %s + %s (ns)\n", src[0].metric,
            src[1].metric, src[2].metric);
    size_t nseries = 0, found = 0;
    int wmax = 1;
    char lts[512] = "";
    size_t lts_len = 0;
    const char *backends[PB__PLOT_MAX_SERIES];
    size_t per_backend[PB__PLOT_MAX_SERIES], nbackends = 0;
    static const char *const variants[] = {"", "_unpinned"};
    size_t i;
    const json_t *c;
    json_array_foreach(json_object_get(doc, "results"), i, c) {
        if (!strcmp(pbr_json_str(c, "scenario", ""), src[0].scenario) &&
            strcmp(pbr_json_str(c, "backend", ""), "floor"))
            found++;
        if (!usable(c, src[0].scenario))
            continue;
        const json_t *metrics = json_object_get(c, "metrics");
        const char *backend = pbr_json_str(c, "backend", "");
        size_t b = 0;
        while (b < nbackends && strcmp(backends[b], backend))
            b++;
        if (b == nbackends && nbackends < PB__PLOT_MAX_SERIES) {
            backends[nbackends] = backend;
            per_backend[nbackends++] = 0;
        }
        bool has_unpinned = false;
        int w[64];
        has_unpinned = counts_of(metrics, prefix, "_unpinned", w, 64) > 0;
        for (size_t v = 0; v < 2 && nseries < PB__PLOT_MAX_SERIES; v++) {
            size_t nw = counts_of(metrics, prefix, variants[v], w, 64);
            if (nw == 0)
                continue;
            /* The legend: the backend, the placement when both were
             * measured, and the parameters that differ between cases. */
            char label[160];
            size_t off = (size_t)snprintf(label, sizeof label, "%s", backend);
            if (has_unpinned)
                off += (size_t)snprintf(label + off, sizeof label - off, " %s",
                                        v ? "unpinned"
                                          : pbr_json_str(json_object_get(c, "binding"), "policy",
                                                         "pinned"));
            const char *key;
            const json_t *pv;
            json_object_foreach(json_object_get(c, "params"), key, pv) {
                if (off < sizeof label && json_is_number(pv) && varies(doc, src[0].scenario, key, pv))
                    off += (size_t)snprintf(label + off, sizeof label - off, " %s=%g", key,
                                            json_number_value(pv));
            }
            if (nseries)
                fputs("\n\n", out->data);
            pb__plot_put_str(out->data, label);
            fputs(" speedup ci_low ci_high cpu_ns pool_cpu_ns\n", out->data);
            for (size_t k = 0; k < nw; k++) {
                const json_t *sp = family_metric(metrics, src[0].metric, w[k], variants[v]);
                const json_t *cpu = family_metric(metrics, src[1].metric, w[k], variants[v]);
                const json_t *caller = family_metric(metrics, src[2].metric, w[k], variants[v]);
                fprintf(out->data, "%d", w[k]);
                pb__plot_put_num(out->data, pbr_json_num(sp, "p50", NAN));
                pb__plot_put_num(out->data, pbr_json_num(sp, "ci_low", NAN));
                pb__plot_put_num(out->data, pbr_json_num(sp, "ci_high", NAN));
                pb__plot_put_num(out->data, sum_median(cpu, caller));
                pb__plot_put_num(out->data, pbr_json_num(cpu, "p50", NAN));
                fputc('\n', out->data);
                wmax = w[k] > wmax ? w[k] : wmax;
            }
            int lt = pb__plot_series_lt(pb__plot_fixed_lt(backend),
                                        b < PB__PLOT_MAX_SERIES ? per_backend[b]++ : 0);
            if (lts_len < sizeof lts)
                lts_len += (size_t)snprintf(lts + lts_len, sizeof lts - lts_len, "%s%d",
                                            nseries ? " " : "", lt);
            nseries++;
        }
    }
    if (nseries == 0)
        return found ? pb__plot_skip(out, "no usable case of scenario '%s' with metrics '%s'",
                                     src[0].scenario, src[0].metric)
                     : pb__plot_skip(out, "no case of scenario '%s' in the results",
                                     src[0].scenario);
    const json_t *topo = json_object_get(json_object_get(doc, "environment"), "topology");
    pb__plot_var_int(out, "nseries", (long long)nseries);
    pb__plot_var_str(out, "lts", lts);
    pb__plot_var_int(out, "pus", (long long)pbr_json_num(topo, "pus", 0));
    pb__plot_var_int(out, "wmax", wmax);
    char *sub = pb__plot_run_subtitle(doc);
    pb__plot_var_str(out, "subtitle", sub ? sub : "");
    free(sub);
    return 0;
}
