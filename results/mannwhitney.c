/*
 * mannwhitney.c — the two-sided Mann–Whitney U test behind `poolbench
 * compare`.
 *
 * Why this test: per-repetition medians of a benchmark are not normal (a
 * shared runner adds a long right tail), and there are few of them (5 to 20).
 * A rank test makes no assumption about their distribution, and a single
 * disturbed repetition cannot move it far. Google Benchmark's compare.py uses
 * the same test.
 *
 * U of the first sample is R1 - n1 (n1 + 1) / 2, R1 the sum of its ranks in
 * the pooled sample, tied values getting the mean of the ranks they span
 * (midranks).
 *
 * EXACT DISTRIBUTION (n1 + n2 <= PBR__MWU_EXACT_MAX, ties or not). Under the
 * null hypothesis every choice of which n1 of the n pooled values belong to
 * x is equally likely, whatever the values; with ties the ranks being
 * chosen from are the midranks. So the null distribution of R1 is that of
 * the sum of n1 midranks drawn without replacement from the n midranks of
 * the pooled sample — the permutation distribution of U. Ties matter here:
 * timings are whole nanoseconds and repetition medians often coincide, and
 * the normal approximation with tie correction is poor for small samples
 * (5 against 5 completely separated but with ties gives p = 0.0102 by the
 * approximation, never below alpha = 0.01, where the permutation test gives
 * 2/252 = 0.0079; all values tied within each side gives 0.0040, too low).
 *
 * Midranks are multiples of 1/2, so twice a midrank is a whole number (the
 * group of tied values at sorted positions i+1 .. j gets i + 1 + j) and the
 * distribution is counted exactly over whole numbers: c[k][s] = the number
 * of ways to choose k of the values seen so far with doubled rank sum s,
 * updated value by value (k downwards, as in a 0/1 knapsack). That is
 * O(n n1 S) integer operations for S <= n1 (2 n - n1 + 1), the largest
 * doubled sum; every count is at most C(60, 30) < 2^57, so int64 is exact.
 * Without ties it gives the classical exact distribution of U (the
 * coefficients of the Gaussian binomial [n choose n1]_q).
 *
 * The two-sided p-value is 2 min(P(U <= u), P(U >= u)), at most 1: what
 * SciPy's permutation_test computes for the U statistic with every
 * permutation enumerated, and, without ties, mannwhitneyu(method="exact").
 *
 * NORMAL APPROXIMATION (n1 + n2 > PBR__MWU_EXACT_MAX). mu = n1 n2 / 2 and
 * sigma^2 = n1 n2 / 12 ((n + 1) - sum(t^3 - t) / (n (n - 1))), t the size of
 * each group of tied values; z = (|U - mu| - 1/2) / sigma with the continuity
 * correction; p = erfc(z / sqrt 2), at most 1 — SciPy's method="asymptotic"
 * with use_continuity=True. When every value is tied, sigma is 0 and p is 1:
 * there is no evidence of any difference.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "results-int.h"
#include "results.h"

#define PBR__MWU_EXACT_MAX 60

typedef struct tagged {
    double v;
    int from_x;
} tagged;

static int cmp_tagged(const void *a, const void *b)
{
    double x = ((const tagged *)a)->v, y = ((const tagged *)b)->v;
    return (x > y) - (x < y);
}

/* Two-sided exact p of an observed doubled rank sum r2 of the first
 * sample: t[0..n) sorted, n1 of them from x. 0 or -ENOMEM. */
static int exact_p(const tagged *t, size_t n, size_t n1, long long r2, double *p)
{
    size_t smax = n1 * (2 * n - n1 + 1); /* the n1 largest doubled ranks */
    size_t width = smax + 1;
    int64_t *c = calloc((n1 + 1) * width, sizeof *c);
    if (!c)
        return -ENOMEM;
    c[0] = 1; /* no value chosen, sum 0 */
    size_t reach = 0; /* largest sum any count so far reaches */
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && t[j].v == t[i].v)
            j++;
        size_t d = i + 1 + j; /* twice the midrank of positions i+1 .. j */
        for (size_t m = i; m < j; m++) {
            /* Choose this value or not: k downwards, so c[k-1] is still
             * the count before it. */
            size_t top = m + 1 < n1 ? m + 1 : n1;
            for (size_t k = top; k >= 1; k--) {
                int64_t *to = c + k * width, *from = c + (k - 1) * width;
                for (size_t s = reach; ; s--) {
                    if (from[s])
                        to[s + d] += from[s];
                    if (s == 0)
                        break;
                }
            }
            reach = reach + d > smax ? smax : reach + d;
        }
        i = j;
    }
    const int64_t *last = c + n1 * width;
    int64_t below = 0, above = 0, total = 0;
    for (size_t s = 0; s <= smax; s++) {
        total += last[s];
        if ((long long)s <= r2)
            below += last[s];
        if ((long long)s >= r2)
            above += last[s];
    }
    free(c);
    double q = 2.0 * (double)(below < above ? below : above) / (double)total;
    *p = q > 1.0 ? 1.0 : q;
    return 0;
}

int pbr_mann_whitney(const double *x, size_t n1, const double *y, size_t n2, pbr_mwu *out)
{
    if (n1 == 0 || n2 == 0)
        return -EINVAL;
    size_t n = n1 + n2;
    tagged *t = malloc(n * sizeof *t);
    if (!t)
        return -ENOMEM;
    for (size_t i = 0; i < n1; i++)
        t[i] = (tagged){x[i], 1};
    for (size_t i = 0; i < n2; i++)
        t[n1 + i] = (tagged){y[i], 0};
    qsort(t, n, sizeof *t, cmp_tagged);

    /* Doubled midranks summed over x; the tie term sum(t^3 - t). */
    long long r2 = 0;
    double ties = 0.0;
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && t[j].v == t[i].v)
            j++;
        for (size_t k = i; k < j; k++)
            if (t[k].from_x)
                r2 += (long long)(i + 1 + j);
        double g = (double)(j - i);
        ties += g * g * g - g;
        i = j;
    }

    double u1 = (double)r2 / 2.0 - (double)n1 * (double)(n1 + 1) / 2.0;
    double mu = (double)n1 * (double)n2 / 2.0;
    out->u = u1;

    if (n <= PBR__MWU_EXACT_MAX) {
        int rc = exact_p(t, n, n1, r2, &out->p);
        free(t);
        out->exact = rc == 0;
        return rc;
    }
    free(t);

    double nn = (double)n;
    double var = (double)n1 * (double)n2 / 12.0 * ((nn + 1.0) - ties / (nn * (nn - 1.0)));
    out->exact = false;
    if (var <= 0.0) {
        out->p = 1.0;
        return 0;
    }
    double z = (fabs(u1 - mu) - 0.5) / sqrt(var);
    double p = erfc(z / sqrt(2.0));
    out->p = p > 1.0 ? 1.0 : p;
    return 0;
}
