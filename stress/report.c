/*
 * report.c — a stress run as the CASE object of results/FORMAT.md: the
 * parameters that replay it, the counts as metrics (one sample each), one
 * check per invariant with the first violation as its reason, and the
 * outcome: failed when anything was violated or the run could not start.
 */
#include <string.h>

#include "report.h"
#include "results.h"

void pbs__totals_add(pbs_totals *t, const pbs_oplog *l, const pbs_counts *c)
{
    for (int k = 0; k < PBS_OP_COUNT; k++) {
        t->ops[k] += l->ops[k];
        t->operations += l->ops[k];
    }
    t->c.futures += c->futures;
    t->c.map_items += c->map_items;
    t->c.maps += c->maps;
    t->c.ok += c->ok;
    t->c.task_failed += c->task_failed;
    t->c.broken += c->broken;
    t->c.killed += c->killed;
    t->c.cancelled += c->cancelled;
    t->c.timeouts_seen += c->timeouts_seen;
    t->c.callbacks += c->callbacks;
    t->c.kills_missed += c->kills_missed;
    t->c.kill_failures += c->kill_failures;
    t->c.timing_excused += c->timing_excused;
    for (int k = 0; k < PBS_FAULT_KINDS; k++) {
        t->c.injected[k] += c->injected[k];
        t->injected += c->injected[k];
    }
    t->kills = t->c.injected[__builtin_ctz(PBS_FAULT_KILL)];
}

static void put_metric(json_t *metrics, const char *name, const char *unit, pbr_better better,
                       double v)
{
    const double *reps[1] = {&v};
    size_t lens[1] = {1};
    json_object_set_new(metrics, name, pbr_metric_new(unit, better, reps, lens, 1, false));
}

static json_t *params_new(const pbs_world *w)
{
    json_t *params = json_object();
    if (!params)
        return NULL;
    char faults[128];
    pbs_stress_faults_text(w->faults, faults, sizeof faults);
    json_object_set_new(params, "seed", json_integer((json_int_t)w->o.seed));
    json_object_set_new(params, "duration_s", json_real(w->o.duration_s));
    json_object_set_new(params, "threads", json_integer(w->o.threads));
    json_object_set_new(params, "workers", json_integer(w->nworkers));
    json_object_set_new(params, "faults", json_string(faults));
    json_object_set_new(params, "fault_rate", json_real(w->o.fault_rate));
    json_object_set_new(params, "task_timeout_ms",
                        json_real(w->task_timeout ? w->task_timeout / 1e6 : 0));
    json_object_set_new(params, "max_tasks_per_worker", json_integer(w->max_tasks));
    if (w->o.ops)
        json_object_set_new(params, "ops", json_integer((json_int_t)w->o.ops));
    return params;
}

static json_t *metrics_new(pbs_world *w, const pbs_totals *t, uint64_t survived,
                           const pbs_rss *rss)
{
    json_t *metrics = json_object();
    if (!metrics)
        return NULL;
    const pbs_counts *k = &t->c;
    put_metric(metrics, "operations", "count", PBR_HIGHER, (double)t->operations);
    put_metric(metrics, "faults_injected", "count", PBR_HIGHER, (double)t->injected);
    put_metric(metrics, "faults_survived", "count", PBR_HIGHER, (double)survived);
    put_metric(metrics, "violations", "count", PBR_LOWER, (double)w->journal.violations);
    put_metric(metrics, "futures", "count", PBR_HIGHER, (double)k->futures);
    put_metric(metrics, "maps", "count", PBR_HIGHER, (double)k->maps);
    put_metric(metrics, "succeeded", "count", PBR_HIGHER, (double)k->ok);
    put_metric(metrics, "cancelled", "count", PBR_HIGHER, (double)k->cancelled);
    put_metric(metrics, "timed_waits_expired", "count", PBR_HIGHER, (double)k->timeouts_seen);
    put_metric(metrics, "callbacks", "count", PBR_HIGHER, (double)k->callbacks);
    for (unsigned i = 0; i < PBS_FAULT_KINDS; i++) {
        if (1u << i == PBS_FAULT_RECYCLE)
            continue;
        char name[32];
        snprintf(name, sizeof name, "faults_%s", pbs_stress_fault_name(1u << i));
        put_metric(metrics, name, "count", PBR_HIGHER, (double)k->injected[i]);
    }
    put_metric(metrics, "kills_missed", "count", PBR_LOWER, (double)k->kills_missed);
    put_metric(metrics, "failed_by_kills", "count", PBR_HIGHER, (double)k->kill_failures);
    put_metric(metrics, "timing_excused", "count", PBR_LOWER, (double)k->timing_excused);
    put_metric(metrics, "workers_seen", "count", PBR_HIGHER,
               (double)pbs__workers_seen(&w->workers));
    if (rss && rss->start_kb >= 0) {
        put_metric(metrics, "rss_start", "bytes", PBR_LOWER, rss->start_kb * 1024.0);
        put_metric(metrics, "rss_peak", "bytes", PBR_LOWER, rss->peak_kb * 1024.0);
        if (rss->end_kb >= 0)
            put_metric(metrics, "rss_end", "bytes", PBR_LOWER, rss->end_kb * 1024.0);
    }
    return metrics;
}

/* One check per invariant: passed, or the count and the first violation. */
static json_t *checks_new(const pbs_journal *j)
{
    json_t *checks = json_array();
    for (int i = 0; checks && i < PBS_CHECK_COUNT; i++) {
        char why[1024] = "";
        if (j->check_fails[i])
            snprintf(why, sizeof why, "%llu violation%s; first: %s",
                     (unsigned long long)j->check_fails[i], j->check_fails[i] == 1 ? "" : "s",
                     j->check_first[i] ? j->check_first[i] : "");
        json_array_append_new(checks,
                              json_pack("{s:s,s:b,s:s}", "name", pbs__check_name((pbs_check)i),
                                        "passed", j->check_fails[i] == 0, "reason", why));
    }
    return checks;
}

/* The case's reason: why it could not run, or its first violation. */
static void case_reason(const pbs_journal *j, const char *fail_reason, char *buf, size_t size)
{
    buf[0] = '\0';
    if (fail_reason) {
        snprintf(buf, size, "%s", fail_reason);
        return;
    }
    for (int k = 0; j->violations && k < PBS_CHECK_COUNT; k++)
        if (j->check_first[k]) {
            snprintf(buf, size, "%llu violation%s; first: %s: %s",
                     (unsigned long long)j->violations, j->violations == 1 ? "" : "s",
                     pbs__check_name((pbs_check)k), j->check_first[k]);
            return;
        }
}

json_t *pbs__case_new(pbs_world *w, const pbs_totals *t, uint64_t survived, const pbs_rss *rss,
                      const char *fail_reason, json_t *binding)
{
    json_t *c = json_object();
    if (!c) {
        json_decref(binding);
        return NULL;
    }
    char reason[1024];
    case_reason(&w->journal, fail_reason, reason, sizeof reason);
    bool failed = fail_reason || w->journal.violations;
    json_object_set_new(c, "backend", json_string(w->o.backend ? w->o.backend : ""));
    json_object_set_new(c, "scenario", json_string("stress"));
    json_object_set_new(c, "headline", json_string("violations"));
    json_object_set_new(c, "params", params_new(w));
    json_object_set_new(c, "outcome", json_string(failed ? "failed" : "ok"));
    json_object_set_new(c, "reason", json_string(reason));
    if (binding)
        json_object_set_new(c, "binding", binding);
    json_object_set_new(c, "metrics", metrics_new(w, t, survived, rss));
    json_object_set_new(c, "checks", checks_new(&w->journal));
    /* Every member is required: a case missing one is no case. */
    if (json_object_size(c) < 8 + (binding != NULL)) {
        json_decref(c);
        return NULL;
    }
    return c;
}

json_t *pbs__binding_new(pbs_world *w)
{
    json_t *workers = json_array();
    for (int i = 0; workers && i < w->nworkers; i++) {
        char buf[256];
        if (pb_pool_binding(w->pool, i, buf, sizeof buf) != 0) {
            json_decref(workers);
            return NULL;
        }
        json_array_append_new(workers, json_string(buf));
    }
    if (!workers)
        return NULL;
    return json_pack("{s:s,s:o,s:n}", "policy", "none", "workers", workers, "tasks_on_binding");
}
