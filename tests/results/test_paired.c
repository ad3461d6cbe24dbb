/*
 * test_paired.c — the Wilcoxon signed-rank test of paired A/B verdicts
 * (results/paired.c) against SciPy 1.10.1.
 *
 * The expected values were computed once with Debian's SciPy and typed in:
 *     scipy.stats.wilcoxon(d, method=M)   (zero_method="wilcox",
 *                                          correction=False: the defaults)
 * with M = "exact" for samples without zeros or ties and "approx"
 * otherwise (and for more than 50 differences), as the library chooses.
 * The statistic is min(R+, R-), as SciPy reports it for a two-sided test.
 * The exact p-values are also checked against an enumeration of every sign
 * pattern done here.
 */
#include <errno.h>
#include <stdlib.h>

#include "results.h"
#include "test-util.h"

typedef struct ref {
    const char *name;
    double d[64];
    size_t n;
    bool exact;
    double w, p;
} ref;

static const ref refs[] = {
    {"nine_positive", {0.11, 0.09, 0.13, 0.08, 0.12, 0.10, 0.095, 0.105, 0.115}, 9, true, 0.0,
     0.00390625},
    {"mixed_nine", {0.02, -0.01, 0.03, -0.04, 0.015, 0.005, -0.025, 0.035, 0.012}, 9, true, 17.0,
     0.5703125},
    {"eight_one_neg", {0.05, 0.06, 0.07, 0.08, 0.09, 0.10, 0.11, -0.01}, 8, true, 1.0, 0.015625},
    {"twelve", {0.3, -0.2, 0.5, 0.1, -0.05, 0.25, 0.33, -0.12, 0.41, 0.07, 0.22, 0.18}, 12, true,
     11.0, 0.02685546875},
    {"ties", {0.1, 0.1, -0.1, 0.2, 0.2, 0.3, -0.05, 0.05, 0.1}, 9, false, 6.0,
     0.04819348829319083},
    {"zeros", {0.0, 0.1, -0.2, 0.3, 0.0, 0.4, 0.5, 0.6}, 8, false, 2.0, 0.07473549830588248},
};

/* Two-sided exact p by enumerating the 2^n sign patterns of ranks 1..n. */
static double p_enumerated(const double *d, size_t n)
{
    /* Ranks of |d| (no ties here). */
    size_t rank[64];
    for (size_t i = 0; i < n; i++) {
        rank[i] = 1;
        for (size_t j = 0; j < n; j++)
            rank[i] += fabs(d[j]) < fabs(d[i]);
    }
    size_t rp = 0;
    for (size_t i = 0; i < n; i++)
        if (d[i] > 0)
            rp += rank[i];
    double below = 0, above = 0, total = 0;
    for (unsigned long mask = 0; mask < (1ul << n); mask++) {
        size_t s = 0;
        for (size_t i = 0; i < n; i++)
            if (mask & (1ul << i))
                s += i + 1;
        total++;
        below += s <= rp;
        above += s >= rp;
    }
    double p = 2 * (below < above ? below : above) / total;
    return p > 1 ? 1 : p;
}

static void test_against_scipy(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof refs / sizeof refs[0]; i++) {
        const ref *r = &refs[i];
        pbr_wilcoxon_result w;
        assert_int_equal(pbr_wilcoxon(r->d, r->n, &w), 0);
        if (w.exact != r->exact || fabs(w.w - r->w) > 1e-12 || fabs(w.p - r->p) > 1e-12 * r->p)
            fail_msg("%s: W %.17g p %.17g exact %d, SciPy says W %.17g p %.17g exact %d",
                     r->name, w.w, w.p, w.exact, r->w, r->p, r->exact);
        if (r->exact)
            assert_near(w.p, p_enumerated(r->d, r->n), 1e-15);
        assert_near(w.r_plus + w.r_minus, (double)w.n * (double)(w.n + 1) / 2, 1e-9);
    }
}

static void test_large_sample(void **state)
{
    (void)state;
    /* d_i = ((37 i) mod 61 - 25) / 100, i = 1..60: more than 50 pairs, so
     * the normal approximation (ties among the |d| too). SciPy: W 588,
     * p 0.024965220366753117. */
    double d[60];
    for (int i = 1; i <= 60; i++)
        d[i - 1] = ((i * 37) % 61 - 25) / 100.0;
    pbr_wilcoxon_result w;
    assert_int_equal(pbr_wilcoxon(d, 60, &w), 0);
    assert_false(w.exact);
    assert_near(w.w, 588.0, 1e-9);
    assert_near(w.p, 0.024965220366753117, 1e-12);
}

static void test_edges(void **state)
{
    (void)state;
    pbr_wilcoxon_result w;
    assert_int_equal(pbr_wilcoxon(NULL, 0, &w), -EINVAL);
    /* Every difference zero: no evidence of a change. */
    double z[5] = {0, 0, 0, 0, 0};
    assert_int_equal(pbr_wilcoxon(z, 5, &w), 0);
    assert_int_equal(w.n, 0);
    assert_near(w.p, 1.0, 0);
    /* One pair: p = 1 whichever its sign. */
    double one[1] = {-0.3};
    assert_int_equal(pbr_wilcoxon(one, 1, &w), 0);
    assert_true(w.exact);
    assert_near(w.p, 1.0, 0);
    /* Symmetric: flipping every sign keeps W and p. */
    double a[9], b[9];
    for (int i = 0; i < 9; i++) {
        a[i] = refs[1].d[i];
        b[i] = -a[i];
    }
    pbr_wilcoxon_result wa, wb;
    assert_int_equal(pbr_wilcoxon(a, 9, &wa), 0);
    assert_int_equal(pbr_wilcoxon(b, 9, &wb), 0);
    assert_near(wa.p, wb.p, 0);
    assert_near(wa.w, wb.w, 0);
    assert_near(wa.r_plus, wb.r_minus, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_against_scipy),
        cmocka_unit_test(test_large_sample),
        cmocka_unit_test(test_edges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
