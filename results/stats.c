/*
 * stats.c — summary statistics of samples and the METRIC object of FORMAT.md.
 *
 * The harness hands this file raw samples (CLOCK_MONOTONIC nanoseconds, rates,
 * counts), grouped by repetition. Everything a reader of a results file needs
 * to judge a number is computed here, in one place, so `run`, `stress` and
 * any test agree on what "p99" or "trusted" means.
 *
 * DEFINITIONS
 *
 *   Percentiles: type 7 of Hyndman & Fan (numpy's and R's default): for the
 *   p-th percentile of n sorted values, h = (n - 1) * p / 100 and the result
 *   interpolates linearly between x[floor(h)] and x[floor(h) + 1].
 *
 *   Standard deviation: the sample standard deviation (divisor n - 1); 0 for
 *   fewer than two samples.
 *
 *   Confidence interval of the median: distribution-free, from order
 *   statistics. The number of samples below the true median is
 *   Binomial(n, 1/2), so [x(j), x(n+1-j)] (1-based order statistics) covers
 *   the median with probability 1 - 2 * P(B <= j - 1). We take the largest j
 *   for which that coverage is still at least 95%. Up to PBR__EXACT_CI_MAX
 *   samples the binomial tail is summed exactly (in log space, so large n
 *   does not underflow); beyond it the normal approximation of the ranks is
 *   used: j = floor(n/2 - 1.96 * sqrt(n) / 2), the upper rank symmetric.
 *   With 5 samples or fewer even [min, max] covers less than 95% (n = 5:
 *   93.75%); the interval is then [min, max], the widest there is, and the
 *   metric is not trusted anyway (FORMAT.md asks for >= 3 repetitions, and
 *   a wide interval fails the 10% rule).
 *
 *   MAD: the median of |x - median|, unscaled. Outliers are samples with
 *   |x - median| > 3 * 1.4826 * MAD, the modified z-score rule hyperfine
 *   uses (1.4826 * MAD estimates the standard deviation of normal data).
 *   When MAD is 0 (more than half the samples are equal, as quantized clock
 *   readings often are) that rule would call every other sample an
 *   outlier; as Iglewicz and Hoaglin suggest, 1.253314 * the mean absolute
 *   deviation from the median then replaces 1.4826 * MAD. When that is 0
 *   too, every sample is equal and none is an outlier.
 *
 *   trusted (FORMAT.md): false when fewer than 3 non-empty repetitions were
 *   taken, when the 95% CI of the median is wider than 10% of the median, or
 *   when the repetition medians spread (max - min) by more than 25% of the
 *   pooled median.
 *
 *   Histogram: log-linear buckets, as HdrHistogram does: each power-of-two
 *   octave [2^e, 2^(e+1)) is split into PBR__HIST_SUB equal buckets, so a
 *   bucket is at most 1/16 (6.25%) of its values wide at any magnitude.
 *   Negative values mirror the positive grid, 0 has its own bucket [0, 0].
 *   Only non-empty buckets are listed, with their lower and upper bounds.
 *
 * No function here produces NaN or infinity for finite input: jansson cannot
 * encode them, and a results file must always be writable.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "results-int.h"
#include "results.h"

#define PBR__EXACT_CI_MAX 2000 /* exact binomial CI of the median up to here */
#define PBR__HIST_SUB 16       /* linear sub-buckets per power-of-two octave */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double pbr_percentile_sorted(const double *sorted, size_t n, double p)
{
    if (n == 0)
        return 0.0;
    if (p <= 0.0)
        return sorted[0];
    if (p >= 100.0)
        return sorted[n - 1];
    double h = (double)(n - 1) * p / 100.0;
    size_t lo = (size_t)floor(h);
    if (lo + 1 >= n)
        return sorted[n - 1];
    double frac = h - (double)lo;
    return sorted[lo] + frac * (sorted[lo + 1] - sorted[lo]);
}

/* The 1-based rank j of the lower end of the 95% CI of the median of n
 * samples; the upper end is n + 1 - j. See the header comment. */
size_t pbr__median_ci_rank(size_t n)
{
    if (n == 0)
        return 0;
    if (n > PBR__EXACT_CI_MAX) {
        double r = floor((double)n / 2.0 - 1.959963984540054 * sqrt((double)n) / 2.0);
        return r < 1.0 ? 1 : (size_t)r;
    }
    /* Largest j with P(B <= j - 1) <= 0.025, B ~ Binomial(n, 1/2). */
    double lfact_n = lgamma((double)n + 1.0), ln2n = (double)n * log(2.0);
    double cdf = 0.0;
    size_t j = 1;
    for (size_t k = 0; k <= n / 2; k++) {
        cdf += exp(lfact_n - lgamma((double)k + 1.0) - lgamma((double)(n - k) + 1.0) - ln2n);
        if (cdf > 0.025)
            break;
        j = k + 1; /* P(B <= k) <= 0.025, so rank k + 1 is still allowed */
    }
    return j;
}

int pbr_summarize(const double *x, size_t n, pbr_summary *out)
{
    memset(out, 0, sizeof *out);
    if (n == 0)
        return 0;

    double *s = malloc(n * sizeof *s);
    if (!s)
        return -ENOMEM;
    memcpy(s, x, n * sizeof *s);
    qsort(s, n, sizeof *s, cmp_double);

    out->n = n;
    out->min = s[0];
    out->max = s[n - 1];

    /* Mean and variance by Welford's update: stable for large n and values
     * far from zero (nanosecond timestamps differences are). */
    double mean = 0.0, m2 = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = s[i] - mean;
        mean += d / (double)(i + 1);
        m2 += d * (s[i] - mean);
    }
    out->mean = mean;
    out->stddev = n > 1 ? sqrt(m2 / (double)(n - 1)) : 0.0;

    out->p50 = pbr_percentile_sorted(s, n, 50.0);
    out->p90 = pbr_percentile_sorted(s, n, 90.0);
    out->p99 = pbr_percentile_sorted(s, n, 99.0);
    out->p999 = pbr_percentile_sorted(s, n, 99.9);

    size_t j = pbr__median_ci_rank(n);
    out->ci_low = s[j - 1];
    out->ci_high = s[n - j];

    /* MAD: reuse the buffer for the absolute deviations. */
    for (size_t i = 0; i < n; i++)
        s[i] = fabs(s[i] - out->p50);
    qsort(s, n, sizeof *s, cmp_double);
    out->mad = pbr_percentile_sorted(s, n, 50.0);
    free(s);

    double scale = 1.4826 * out->mad;
    if (out->mad == 0.0) {
        double sum = 0.0;
        for (size_t i = 0; i < n; i++)
            sum += fabs(x[i] - out->p50);
        scale = 1.253314 * sum / (double)n;
    }
    double limit = 3.0 * scale;
    for (size_t i = 0; i < n; i++)
        if (fabs(x[i] - out->p50) > limit)
            out->outliers++;
    return 0;
}

/* The `trusted` rule of FORMAT.md. */
static bool is_trusted(size_t nreps, double p50, double ci_low, double ci_high, double rep_min,
                       double rep_max)
{
    if (nreps < 3)
        return false;
    double scale = fabs(p50);
    if (ci_high - ci_low > 0.10 * scale)
        return false;
    if (rep_max - rep_min > 0.25 * scale)
        return false;
    return true;
}

/* The bucket [*lo, *hi] of the log-linear grid that holds v. */
static void hist_bucket(double v, double *lo, double *hi)
{
    if (v == 0.0) {
        *lo = *hi = 0.0;
        return;
    }
    double a = fabs(v);
    int e;
    double m = frexp(a, &e); /* a = m * 2^e, m in [0.5, 1) */
    /* Octave [2^(e-1), 2^e); sub-bucket k covers 2^(e-1) * [1 + k/16, 1 + (k+1)/16). */
    int k = (int)floor((2.0 * m - 1.0) * PBR__HIST_SUB);
    if (k >= PBR__HIST_SUB)
        k = PBR__HIST_SUB - 1;
    double l = ldexp(1.0 + (double)k / PBR__HIST_SUB, e - 1);
    double h = ldexp(1.0 + (double)(k + 1) / PBR__HIST_SUB, e - 1);
    if (v > 0) {
        *lo = l;
        *hi = h;
    } else {
        *lo = -h;
        *hi = -l;
    }
}

/* {"lower": [...], "upper": [...], "counts": [...]} over sorted[0..n). */
static json_t *histogram_new(const double *sorted, size_t n)
{
    json_t *lower = json_array(), *upper = json_array(), *counts = json_array();
    json_t *h = json_object();
    if (!lower || !upper || !counts || !h)
        goto fail;
    size_t i = 0;
    while (i < n) {
        double lo, hi;
        hist_bucket(sorted[i], &lo, &hi);
        size_t c = 0;
        /* Sorted input: the bucket's members are consecutive. A value lies
         * in [lo, hi) (or is exactly 0 for the zero bucket; negative
         * buckets are (lo, hi]). Re-derive each value's bucket rather than
         * comparing bounds, so rounding can never split a bucket. */
        while (i < n) {
            double l2, h2;
            hist_bucket(sorted[i], &l2, &h2);
            if (l2 != lo || h2 != hi)
                break;
            c++;
            i++;
        }
        if (json_array_append_new(lower, json_real(lo)) ||
            json_array_append_new(upper, json_real(hi)) ||
            json_array_append_new(counts, json_integer((json_int_t)c)))
            goto fail;
    }
    if (json_object_set_new(h, "lower", lower) || json_object_set_new(h, "upper", upper) ||
        json_object_set_new(h, "counts", counts)) {
        json_decref(h);
        return NULL;
    }
    return h;
fail:
    json_decref(lower);
    json_decref(upper);
    json_decref(counts);
    json_decref(h);
    return NULL;
}

json_t *pbr_metric_new(const char *unit, pbr_better better, const double *const *reps,
                       const size_t *lens, size_t nreps, bool include_histogram)
{
    size_t total = 0;
    for (size_t r = 0; r < nreps; r++)
        total += lens[r];
    if (total == 0)
        return NULL;

    double *all = malloc(total * sizeof *all);
    double *med = malloc((nreps ? nreps : 1) * sizeof *med);
    json_t *m = NULL, *repv = NULL;
    if (!all || !med)
        goto fail;

    /* Per-repetition medians, in repetition order; empty repetitions have
     * no median and are left out (they do not count towards `trusted`). */
    size_t nmed = 0, off = 0;
    for (size_t r = 0; r < nreps; r++) {
        if (lens[r] == 0)
            continue;
        memcpy(all + off, reps[r], lens[r] * sizeof *all);
        qsort(all + off, lens[r], sizeof *all, cmp_double);
        med[nmed++] = pbr_percentile_sorted(all + off, lens[r], 50.0);
        off += lens[r];
    }

    pbr_summary s;
    if (pbr_summarize(all, total, &s) < 0)
        goto fail;

    double rep_min = med[0], rep_max = med[0];
    for (size_t i = 1; i < nmed; i++) {
        if (med[i] < rep_min)
            rep_min = med[i];
        if (med[i] > rep_max)
            rep_max = med[i];
    }

    m = json_object();
    repv = json_array();
    if (!m || !repv)
        goto fail;
    for (size_t i = 0; i < nmed; i++)
        if (json_array_append_new(repv, json_real(med[i])))
            goto fail;

    int rc = 0;
    rc |= json_object_set_new(m, "unit", json_string(unit));
    rc |= json_object_set_new(m, "better", json_string(better == PBR_HIGHER ? "higher" : "lower"));
    rc |= json_object_set_new(m, "n", json_integer((json_int_t)s.n));
    rc |= json_object_set_new(m, "min", json_real(s.min));
    rc |= json_object_set_new(m, "mean", json_real(s.mean));
    rc |= json_object_set_new(m, "stddev", json_real(s.stddev));
    rc |= json_object_set_new(m, "p50", json_real(s.p50));
    rc |= json_object_set_new(m, "p90", json_real(s.p90));
    rc |= json_object_set_new(m, "p99", json_real(s.p99));
    rc |= json_object_set_new(m, "p999", json_real(s.p999));
    rc |= json_object_set_new(m, "max", json_real(s.max));
    rc |= json_object_set_new(m, "ci_low", json_real(s.ci_low));
    rc |= json_object_set_new(m, "ci_high", json_real(s.ci_high));
    rc |= json_object_set_new(m, "mad", json_real(s.mad));
    rc |= json_object_set_new(m, "outliers", json_integer((json_int_t)s.outliers));
    rc |= json_object_set_new(
        m, "trusted",
        json_boolean(is_trusted(nmed, s.p50, s.ci_low, s.ci_high, rep_min, rep_max)));
    rc |= json_object_set_new(m, "repetitions", repv);
    repv = NULL; /* stolen, even on failure */
    if (rc)
        goto fail;

    if (include_histogram) {
        /* `all` is sorted per repetition only; sort it whole. */
        qsort(all, total, sizeof *all, cmp_double);
        json_t *h = histogram_new(all, total);
        if (!h || json_object_set_new(m, "histogram", h))
            goto fail;
    }
    free(all);
    free(med);
    return m;

fail:
    free(all);
    free(med);
    json_decref(repv);
    json_decref(m);
    return NULL;
}

double pbr__median(double *v, size_t n)
{
    if (n == 0)
        return 0;
    qsort(v, n, sizeof *v, cmp_double);
    return pbr_percentile_sorted(v, n, 50);
}

double pbr__robust_sd(double *v, size_t n)
{
    if (n == 0)
        return 0;
    double med = pbr__median(v, n);
    for (size_t i = 0; i < n; i++)
        v[i] = fabs(v[i] - med);
    qsort(v, n, sizeof *v, cmp_double);
    return 1.4826 * pbr_percentile_sorted(v, n, 50);
}
