/*
 * compare-int.h — what compare.c (the verdicts) and compare-out.c (the
 * reports) share: a comparison as rows of metrics and notes.
 */
#ifndef PB_RESULTS_COMPARE_INT_H
#define PB_RESULTS_COMPARE_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef enum {
    V_UNCHANGED,       /* within the threshold: noise, or too small to matter */
    V_TOO_FEW,         /* too few repetitions (pairs) for a test */
    V_NOT_SIGNIFICANT, /* beyond the threshold, but the test does not say so */
    V_REGRESSION,
    V_IMPROVEMENT,
} verdict;

/* What two sides are. */
typedef enum {
    K_SEPARATE, /* two results files (or merged files): two separate runs */
    K_PAIRED,   /* an A/B session: interleaved (or duet) pairs */
} comparison_kind;

typedef struct row {
    char *label;           /* the case, "host: " first when hosts are several */
    const char *host;      /* "" with one host a side */
    const char *backend, *scenario, *metric, *unit;
    const json_t *params;
    bool higher, floor;    /* better direction; a floor case (the machine's) */
    double base, now;      /* medians: p50s (separate) or of the pairs' p50s */
    bool has_change;
    double change_pct;     /* now against base, in the metric's own units */
    bool has_norm;
    double norm_pct;       /* separate: the ratio to the floor, new against base
                              (above 0: worse) */
    bool judged_norm;      /* the verdict is on norm_pct */
    double worse_pct;      /* the figure judged, above 0 worse; NAN when none */
    bool has_ci;
    double ci_low_pct, ci_high_pct; /* paired: 95% CI of the median ratio - 1 */
    bool has_p, exact;
    double p, stat;
    size_t nb, nn;         /* repetitions a side (separate); pairs used (both) */
    double threshold;      /* in %: the larger of --threshold and the noise bands */
    double session_band;   /* paired: the band of the pairs' own noise, in % */
    bool calibrated;       /* the threshold came from a noise calibration */
    bool trusted;
    const char *untrusted_why;
    bool headline;         /* the case's headline metric (or the case names none) */
    bool gates;            /* a regression here sets exit status 1 */
    verdict v;
} row;

typedef struct note {
    char *label;
    const char *what;  /* metric, check name or env field (borrowed) */
    const char *a, *b; /* reason, or base/new values (borrowed) */
} note;

typedef struct note_list {
    note *v;
    size_t n, cap;
} note_list;

typedef struct report {
    comparison_kind kind;
    bool across_hosts, strict;
    bool gate_all;                    /* --gate all: every metric gates, not headlines only */
    const char *base_path, *new_path;
    const json_t *base_doc, *new_doc; /* the first run a side (or the session) */
    const json_t *ab;                 /* K_PAIRED: the session */
    const char *base_host, *new_host; /* across hosts: the two machines */
    size_t nhosts;                    /* hosts compared */
    double threshold, alpha;
    const char *metric_glob;
    const json_t *noise;
    const char *noise_path;
    row *rows;
    size_t nrows, cap_rows;
    note_list only_base, only_new, failing, env, hosts_only;
    size_t common_cases, compared_cases;
    size_t regressions;     /* that gate */
    size_t regressions_ungated, improvements;
    size_t ungated_secondary; /* of regressions_ungated: not their case's headline */
} report;

/* compare-out.c */
void pbr__compare_text(FILE *out, const report *r);
void pbr__compare_markdown(FILE *out, const report *r);
int pbr__compare_json(FILE *out, const report *r);

extern const char *const pbr__verdict_names[];
extern const char *const pbr__verdict_keys[];

#endif
