/*
 * test_mannwhitney.c — the Mann–Whitney U test against independent values.
 *
 * Exact p-values without ties are checked against a brute-force enumeration
 * done here: every way of choosing which n1 of the pooled values belong to
 * the first sample, counting how many give a U at least as extreme; with
 * ties, against SciPy's permutation test (values typed in from a run, see
 * exact_with_ties). U itself is checked
 * against its pairwise definition (#{x > y} + #{x == y} / 2), not the rank
 * sum the library uses. Normal-approximation values were computed by hand
 * (derivations in the comments) and their decimals with a ten-line Python
 * script using math.erfc on the same textbook formula; SciPy's documented
 * example (males/females) gives U = 17, exact p = 1/9, asymptotic p =
 * 0.11134688653314041.
 */
#include <errno.h>
#include <stdlib.h>

#include "results.h"
#include "test-util.h"

/* U of x by its definition: pairs where x wins, ties counting half. */
static double u_pairwise(const double *x, size_t n1, const double *y, size_t n2)
{
    double u = 0;
    for (size_t i = 0; i < n1; i++)
        for (size_t j = 0; j < n2; j++)
            u += x[i] > y[j] ? 1.0 : x[i] == y[j] ? 0.5 : 0.0;
    return u;
}

/* Two-sided exact p by enumerating every split of the pooled sample (which
 * must have no ties): 2 min(P(U <= u), P(U >= u)), at most 1. */
static double p_bruteforce(const double *x, size_t n1, const double *y, size_t n2)
{
    size_t n = n1 + n2;
    double pool[32];
    assert_true(n <= 20);
    for (size_t i = 0; i < n1; i++)
        pool[i] = x[i];
    for (size_t i = 0; i < n2; i++)
        pool[n1 + i] = y[i];
    double u_obs = u_pairwise(x, n1, y, n2);
    double below = 0, above = 0, total = 0;
    for (unsigned long mask = 0; mask < (1ul << n); mask++) {
        if ((size_t)__builtin_popcountl(mask) != n1)
            continue;
        double a[32], b[32];
        size_t na = 0, nb = 0;
        for (size_t i = 0; i < n; i++) {
            if (mask & (1ul << i))
                a[na++] = pool[i];
            else
                b[nb++] = pool[i];
        }
        double u = u_pairwise(a, na, b, nb);
        total++;
        if (u <= u_obs)
            below++;
        if (u >= u_obs)
            above++;
    }
    double p = 2 * (below < above ? below : above) / total;
    return p > 1 ? 1 : p;
}

static void check_exact(const double *x, size_t n1, const double *y, size_t n2)
{
    pbr_mwu r;
    assert_int_equal(pbr_mann_whitney(x, n1, y, n2, &r), 0);
    assert_true(r.exact);
    assert_near(r.u, u_pairwise(x, n1, y, n2), 0);
    assert_near(r.p, p_bruteforce(x, n1, y, n2), 1e-12);

    /* Swapping the samples gives U' = n1 n2 - U and the same p. */
    pbr_mwu s;
    assert_int_equal(pbr_mann_whitney(y, n2, x, n1, &s), 0);
    assert_near(s.u, (double)(n1 * n2) - r.u, 0);
    assert_near(s.p, r.p, 1e-12);
}

static void exact_against_enumeration(void **state)
{
    (void)state;
    /* SciPy's documentation example. */
    const double males[] = {19, 22, 16, 29, 24}, females[] = {20, 11, 17, 12};
    check_exact(males, 5, females, 4);
    pbr_mwu r;
    pbr_mann_whitney(males, 5, females, 4, &r);
    assert_near(r.u, 17, 0);
    assert_near(r.p, 1.0 / 9.0, 1e-12); /* 14 of C(9,5) = 126 splits */

    const double a1[] = {3.1}, b1[] = {2.7};
    check_exact(a1, 1, b1, 1); /* p = 1: one split each way */

    const double a2[] = {1.5, 8.25}, b2[] = {2, 3, 9.5};
    check_exact(a2, 2, b2, 3);

    /* Benchmark-like: 8 repetition medians a side, interleaved. */
    const double base[] = {11802, 11790, 11835, 11811, 11776, 11843, 11798, 11820};
    const double news[] = {11815, 11829, 11781, 11850, 11807, 11795, 11838, 11826};
    check_exact(base, 8, news, 8);

    /* Complete separation, 8 against 8: p = 2 / C(16, 8) = 2 / 12870. */
    const double slow[] = {14101, 14150, 14122, 14190, 14133, 14170, 14111, 14145};
    check_exact(base, 8, slow, 8);
    pbr_mann_whitney(base, 8, slow, 8, &r);
    assert_near(r.u, 0, 0);
    assert_near(r.p, 2.0 / 12870.0, 1e-15);

    /* Unequal sizes, partial overlap. */
    const double a3[] = {5, 9, 13, 2, 17, 21}, b3[] = {1, 3, 4, 6, 7, 8, 10, 11, 12, 14};
    check_exact(a3, 6, b3, 10);

    /* Five a side, fully separated: 2 / C(10, 5) = 2 / 252 = 0.0079 < 0.01,
     * the smallest sample where compare's default alpha can be reached. */
    const double f1[] = {1, 2, 3, 4, 5}, f2[] = {6, 7, 8, 9, 10};
    check_exact(f1, 5, f2, 5);
    pbr_mann_whitney(f1, 5, f2, 5, &r);
    assert_near(r.p, 2.0 / 252.0, 1e-15);
    /* Four a side cannot: 2 / C(8, 4) = 2 / 70 = 0.0286. */
    pbr_mann_whitney(f1, 4, f2, 4, &r);
    assert_near(r.p, 2.0 / 70.0, 1e-15);
}

static void exact_at_the_limit(void **state)
{
    (void)state;
    /* 30 against 30 (n = 60, still exact), fully separated:
     * p = 2 / C(60, 30) = 1.6911233892144735e-17 (Python math.comb). */
    double x[30], y[30];
    for (int i = 0; i < 30; i++) {
        x[i] = i;
        y[i] = 100 + i;
    }
    pbr_mwu r;
    assert_int_equal(pbr_mann_whitney(x, 30, y, 30, &r), 0);
    assert_true(r.exact);
    assert_near(r.u, 0, 0);
    assert_near(r.p / 1.6911233892144735e-17, 1.0, 1e-9);

    /* Interleaved (x even, y odd): U = 0 + 1 + ... + 29 = 435 of 900, near
     * the centre, p near 1; the normal approximation agrees to 0.01. */
    for (int i = 0; i < 30; i++) {
        x[i] = 2 * i + 1; /* y[j] = 2j, so x[i] beats y[0..i] */
        y[i] = 2 * i;
    }
    assert_int_equal(pbr_mann_whitney(x, 30, y, 30, &r), 0);
    assert_near(r.u, 465, 0); /* 1 + 2 + ... + 30 */
    /* normal: z = (|465 - 450| - .5) / sqrt(900 * 61 / 12) = 14.5 / 67.64 = .2144 */
    assert_near(r.p, erfc(14.5 / sqrt(900.0 * 61.0 / 12.0) / sqrt(2.0)), 0.01);
}

/* Ties, with five to nine repetitions a side: the exact permutation
 * distribution over midranks. Expected p-values come from SciPy 1.10
 * (Debian's python3-scipy), typed in from this run:
 *
 *   from scipy import stats
 *   u = lambda x, y, axis=-1: stats.mannwhitneyu(x, y, axis=axis).statistic
 *   stats.permutation_test((x, y), u, permutation_type="independent",
 *                          alternative="two-sided", n_resamples=np.inf,
 *                          vectorized=True).pvalue
 *
 * which enumerates every split; next to each, what the normal approximation
 * with tie correction (mannwhitneyu(method="asymptotic")) gives instead. */
static void exact_with_ties(void **state)
{
    (void)state;
    static const struct {
        double x[9], y[9];
        size_t n1, n2;
        double u, p, p_asymptotic;
    } cases[] = {
        /* 5 a side, separated, with ties (a clock read 30% slower):
         * 2/252, where the approximation never reaches alpha = 0.01. */
        {{20, 20, 21, 20, 22}, {26, 27, 26, 28, 26}, 5, 5, 0, 0.007936507936507936,
         0.01017601224322355},
        /* Every value tied within its side: the approximation errs low. */
        {{10, 10, 10, 10, 10}, {13, 13, 13, 13, 13}, 5, 5, 0, 0.007936507936507936,
         0.003976751709788651},
        {{1, 2, 2, 3, 5}, {2, 3, 4, 4, 6, 7}, 5, 6, 6.5, 0.12554112554112554,
         0.13862587987892763},
        {{101, 103, 103, 104, 102, 103, 105, 101, 103},
         {103, 104, 106, 104, 105, 107, 104, 103, 106}, 9, 9, 13, 0.011641299876593994,
         0.014465261519990745},
        {{3, 3, 4, 5, 5, 6}, {4, 5, 5, 6, 7, 7, 8}, 6, 7, 8, 0.07459207459207459,
         0.06859494051527937},
        /* Every value equal: no evidence of a difference. */
        {{5, 5, 5}, {5, 5}, 3, 2, 3, 1.0, 1.0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pbr_mwu r, s;
        assert_int_equal(pbr_mann_whitney(cases[i].x, cases[i].n1, cases[i].y, cases[i].n2, &r), 0);
        assert_true(r.exact);
        assert_near(r.u, cases[i].u, 0);
        assert_near(r.u, u_pairwise(cases[i].x, cases[i].n1, cases[i].y, cases[i].n2), 0);
        assert_near(r.p, cases[i].p, 1e-12);
        /* The same test with the samples swapped. */
        assert_int_equal(pbr_mann_whitney(cases[i].y, cases[i].n2, cases[i].x, cases[i].n1, &s), 0);
        assert_near(s.p, cases[i].p, 1e-12);
        assert_near(s.u, (double)(cases[i].n1 * cases[i].n2) - r.u, 0);
    }
}

/* Beyond 60 values, ties go to the normal approximation with tie
 * correction: 31 ones and 30 twos against ... computed by hand below. */
static void normal_with_ties(void **state)
{
    (void)state;
    /* x: 31 values, all 1; y: 30 values, all 2. Midranks: 16 and 46.5.
     * U1 = 31 * 16 - 31 * 32 / 2 = 0; mu = 465; ties = (31^3 - 31) +
     * (30^3 - 30) = 29760 + 26970 = 56730; n = 61; sigma^2 = 930 / 12 *
     * (62 - 56730 / 3660) = 77.5 * 46.5 = 3603.75; z = 464.5 / 60.0312 =
     * 7.73766; p = erfc(z / sqrt 2). */
    double x[31], y[30];
    for (int i = 0; i < 31; i++)
        x[i] = 1;
    for (int i = 0; i < 30; i++)
        y[i] = 2;
    pbr_mwu r;
    assert_int_equal(pbr_mann_whitney(x, 31, y, 30, &r), 0);
    assert_false(r.exact);
    assert_near(r.u, 0, 0);
    assert_near(r.p / erfc(464.5 / sqrt(3603.75) / sqrt(2.0)), 1.0, 1e-12);
}

static void normal_large(void **state)
{
    (void)state;
    /* 40 against 40 (n = 80 > 60): normal approximation without ties.
     * sigma^2 = 40 * 40 * 81 / 12 = 10800.
     * Separated: U = 0, z = 799.5 / 103.923 = 7.6932,
     *   p = 1.435085306393683e-14.
     * Interleaved (x odd 1..79, y even 2..80): U = 0 + 1 + ... + 39 = 780,
     *   z = 19.5 / 103.923 = .18764, p = 0.8511597790430958. */
    double x[40], y[40];
    for (int i = 0; i < 40; i++) {
        x[i] = i + 1;
        y[i] = i + 41;
    }
    pbr_mwu r;
    assert_int_equal(pbr_mann_whitney(x, 40, y, 40, &r), 0);
    assert_false(r.exact);
    assert_near(r.u, 0, 0);
    assert_near(r.p / 1.435085306393683e-14, 1.0, 1e-9);

    for (int i = 0; i < 40; i++) {
        x[i] = 2 * i + 1;
        y[i] = 2 * i + 2;
    }
    assert_int_equal(pbr_mann_whitney(x, 40, y, 40, &r), 0);
    assert_near(r.u, 780, 0);
    assert_near(r.p, 0.8511597790430958, 1e-12);

}

static void bad_input(void **state)
{
    (void)state;
    const double x[] = {1};
    pbr_mwu r;
    assert_int_equal(pbr_mann_whitney(x, 0, x, 1, &r), -EINVAL);
    assert_int_equal(pbr_mann_whitney(x, 1, x, 0, &r), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(exact_against_enumeration), cmocka_unit_test(exact_at_the_limit),
        cmocka_unit_test(exact_with_ties), cmocka_unit_test(normal_with_ties),
        cmocka_unit_test(normal_large),
        cmocka_unit_test(bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
