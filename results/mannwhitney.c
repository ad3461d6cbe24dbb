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
 * the pooled sample, tied values getting the mean of the ranks they span.
 *
 * EXACT DISTRIBUTION (no ties, n1 + n2 <= PBR__MWU_EXACT_MAX). Under the null
 * hypothesis every choice of which n1 of the n1 + n2 ranks belong to x is
 * equally likely, and the number of choices with U = u is the coefficient of
 * q^u in the Gaussian binomial coefficient [n1 + n2 choose n1]_q. It obeys
 * the counting recurrence c(m, n, u) = c(m - 1, n, u - n) + c(m, n - 1, u);
 * we evaluate it as the product form prod_{k=1..n1} (1 - q^(n2+k)) /
 * (1 - q^k), one multiplication and one exact division per k over a
 * polynomial of degree n1 n2: O(n1^2 n2) integer operations. All
 * coefficients stay below 2 C(60, 30) < 2^63, so int64 counts are exact.
 * The two-sided p-value is 2 min(P(U <= u), P(U >= u)), at most 1 — what
 * SciPy's method="exact" computes.
 *
 * NORMAL APPROXIMATION (ties, or larger samples). mu = n1 n2 / 2 and
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

/* Counts c[0..n1*n2] of the U statistic over all C(n1+n2, n1) splits. */
static int64_t *u_counts(size_t n1, size_t n2)
{
    /* Room for the intermediate product of the last step, of degree
     * n1 n2 + n1, before its division brings it back to n1 n2. */
    int64_t *c = calloc(n1 * n2 + n1 + 1, sizeof *c);
    if (!c)
        return NULL;
    c[0] = 1;
    size_t cur = 0; /* degree of the polynomial so far */
    for (size_t k = 1; k <= n1; k++) {
        /* Multiply by (1 - q^(n2+k)): go downwards so c[u - m] is the old value. */
        size_t m = n2 + k;
        size_t top = cur + m;
        for (size_t u = top; u >= m; u--) {
            c[u] -= c[u - m];
            if (u == m)
                break;
        }
        /* Divide by (1 - q^k): c[u] += c[u - k], upwards (the division is
         * exact: the quotient is again a Gaussian binomial coefficient). */
        for (size_t u = k; u <= top; u++)
            c[u] += c[u - k];
        cur = top - k; /* degree grows by n2 per step */
    }
    return c;
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

    /* Midranks; the tie term sum(t^3 - t). */
    double r1 = 0.0, ties = 0.0;
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && t[j].v == t[i].v)
            j++;
        double rank = (double)(i + 1 + j) / 2.0; /* mean of ranks i+1 .. j */
        for (size_t k = i; k < j; k++)
            if (t[k].from_x)
                r1 += rank;
        double g = (double)(j - i);
        ties += g * g * g - g;
        i = j;
    }
    free(t);

    double u1 = r1 - (double)n1 * (double)(n1 + 1) / 2.0;
    double mu = (double)n1 * (double)n2 / 2.0;
    out->u = u1;

    if (ties == 0.0 && n <= PBR__MWU_EXACT_MAX) {
        int64_t *c = u_counts(n1, n2);
        if (!c)
            return -ENOMEM;
        /* Without ties U is an integer. */
        size_t u = (size_t)llround(u1), deg = n1 * n2;
        int64_t below = 0, above = 0, total = 0;
        for (size_t k = 0; k <= deg; k++) {
            total += c[k];
            if (k <= u)
                below += c[k];
            if (k >= u)
                above += c[k];
        }
        free(c);
        double p = 2.0 * (double)(below < above ? below : above) / (double)total;
        out->p = p > 1.0 ? 1.0 : p;
        out->exact = true;
        return 0;
    }

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
