/*
 * fuzz_suite.c — fuzz target for the suite-file parser (harness/suite.c)
 * and the plan built from a suite (harness/plan.c).
 *
 * The input is a suite file's text. Promises checked:
 *   - pbh_suite_parse either returns a suite or refuses with PB_EINVAL (or
 *     PB_ENOMEM) and one line naming the file;
 *   - a suite it returns is complete: at least one entry, each with a
 *     scenario and each override with a parameter and at least one value,
 *     repetitions >= 1, warmup >= 0;
 *   - checking its backends and building its plan either work or refuse
 *     with one line; a plan's cases each have a scenario and a label.
 * Plans whose sweeps multiply to more than PLAN_MAX cases are not built:
 * their size, not their parsing, would be what is measured.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pb/pool.h>

#include "fuzz.h"
#include "runner.h"
#include "suite.h"

#define PLAN_MAX 4096
#define FILE_NAME "fuzz-suite.json"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    pbh_suite *s = NULL;
    char err[1024] = "";
    int rc = pbh_suite_parse(text, FILE_NAME, &s, err, sizeof err);
    free(text);
    if (rc != 0) {
        if (rc != PB_EINVAL && rc != PB_ENOMEM)
            pbf_fail("pbh_suite_parse returned %d (%s)", rc, pb_strerror(rc));
        if (s)
            pbf_fail("pbh_suite_parse refused the suite but set *out");
        pbf_check_message("pbh_suite_parse", err, FILE_NAME ": ");
        return 0;
    }
    if (!s)
        pbf_fail("pbh_suite_parse returned 0 without a suite");
    if (s->nentries == 0 || !s->entries)
        pbf_fail("an accepted suite has no entries");
    if (s->repetitions < 1 || s->warmup < 0)
        pbf_fail("an accepted suite has repetitions %d, warmup %d", s->repetitions, s->warmup);
    double product = 1;
    for (size_t i = 0; i < s->nentries; i++) {
        const pbh_entry *e = &s->entries[i];
        if (!e->scenario)
            pbf_fail("entry %zu of an accepted suite has no scenario", i);
        for (size_t k = 0; k < e->noverrides; k++) {
            if (!e->overrides[k].param || e->overrides[k].nvalues == 0)
                pbf_fail("entry %zu, override %zu: no parameter or no value", i, k);
            product *= (double)e->overrides[k].nvalues;
        }
    }

    err[0] = '\0';
    if (pbh_suite_check_backends(s, err, sizeof err) != 0)
        pbf_check_message("pbh_suite_check_backends", err, FILE_NAME ": ");

    if (product * s->nentries <= PLAN_MAX) {
        pbh_plan plan;
        memset(&plan, 0, sizeof plan);
        err[0] = '\0';
        rc = pbh_plan_build(s, NULL, 0, &plan, err, sizeof err);
        if (rc == 0) {
            for (size_t i = 0; i < plan.ncases; i++)
                if (!plan.cases[i].scenario || !plan.cases[i].label)
                    pbf_fail("case %zu of the plan has no scenario or label", i);
            pbh_plan_free(&plan);
        } else if (rc != PB_ENOMEM) {
            pbf_check_message("pbh_plan_build", err, ""); /* it need not name the file */
        }
    }
    pbh_suite_free(s);
    return 0;
}
