/*
 * test_stats.c — statistics against hand-computed values.
 *
 * Every expected number below is worked out in the comment beside it from
 * the definitions in results/stats.c (type-7 percentiles, sample standard
 * deviation, binomial order-statistic CI of the median, unscaled MAD,
 * 3 * 1.4826 * MAD outliers, the `trusted` rule of FORMAT.md).
 */
#include <stdlib.h>
#include <string.h>

#include "results-int.h"
#include "results.h"
#include "test-util.h"

static void percentiles_type7(void **state)
{
    (void)state;
    const double x[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    /* h = (n-1) p / 100 = 9p/100 */
    assert_near(pbr_percentile_sorted(x, 10, 0), 1, 0);
    assert_near(pbr_percentile_sorted(x, 10, 25), 3.25, 1e-12);  /* h 2.25: 3 + .25 */
    assert_near(pbr_percentile_sorted(x, 10, 50), 5.5, 1e-12);   /* h 4.5: 5 + .5 */
    assert_near(pbr_percentile_sorted(x, 10, 90), 9.1, 1e-12);   /* h 8.1: 9 + .1 */
    assert_near(pbr_percentile_sorted(x, 10, 99), 9.91, 1e-12);  /* h 8.91 */
    assert_near(pbr_percentile_sorted(x, 10, 99.9), 9.991, 1e-12);
    assert_near(pbr_percentile_sorted(x, 10, 100), 10, 0);

    const double y[] = {10, 20, 40};
    assert_near(pbr_percentile_sorted(y, 3, 50), 20, 0);
    assert_near(pbr_percentile_sorted(y, 3, 75), 30, 1e-12); /* h 1.5: 20 + .5*20 */
    assert_near(pbr_percentile_sorted(y, 3, 90), 36, 1e-12); /* h 1.8: 20 + .8*20 */

    const double one[] = {7};
    assert_near(pbr_percentile_sorted(one, 1, 37), 7, 0);
    assert_near(pbr_percentile_sorted(one, 0, 50), 0, 0);
}

static void summary_basic(void **state)
{
    (void)state;
    /* Unsorted on purpose; the input must not be modified. */
    double x[] = {9, 2, 4, 4, 5, 4, 7, 5};
    const double copy[] = {9, 2, 4, 4, 5, 4, 7, 5};
    pbr_summary s;
    assert_int_equal(pbr_summarize(x, 8, &s), 0);
    assert_memory_equal(x, copy, sizeof x);
    assert_int_equal(s.n, 8);
    assert_near(s.min, 2, 0);
    assert_near(s.max, 9, 0);
    assert_near(s.mean, 5, 1e-12);
    /* squared deviations 16+9+1+1+0+1+4+0 = 32; sample variance 32/7 */
    assert_near(s.stddev, sqrt(32.0 / 7.0), 1e-12);
    /* sorted 2 4 4 4 5 5 7 9: p50 h 3.5 -> 4.5; p90 h 6.3 -> 7 + .3*2 = 7.6 */
    assert_near(s.p50, 4.5, 1e-12);
    assert_near(s.p90, 7.6, 1e-12);
    assert_near(s.p99, 7 + 0.93 * 2, 1e-12); /* h 6.93 */
    /* |x - 4.5| sorted: .5 .5 .5 .5 .5 2.5 2.5 4.5 -> MAD .5 */
    assert_near(s.mad, 0.5, 1e-12);
    /* limit 3 * 1.4826 * .5 = 2.2239: 2 (2.5), 7 (2.5), 9 (4.5) are outliers */
    assert_int_equal(s.outliers, 3);
    /* n = 8: P(B <= 0) = 1/256 <= .025, P(B <= 1) = 9/256 = .035 > .025,
     * so j = 1: [x(1), x(8)] = [2, 9] */
    assert_near(s.ci_low, 2, 0);
    assert_near(s.ci_high, 9, 0);
}

static void summary_mad_outliers(void **state)
{
    (void)state;
    const double x[] = {1, 1, 2, 2, 4, 6, 9};
    pbr_summary s;
    assert_int_equal(pbr_summarize(x, 7, &s), 0);
    assert_near(s.p50, 2, 0);
    /* deviations 1 1 0 0 2 4 7 -> sorted 0 0 1 1 2 4 7 -> MAD 1 */
    assert_near(s.mad, 1, 0);
    /* limit 4.4478: only 9 (7 away); 6 is 4 away */
    assert_int_equal(s.outliers, 1);
}

static void summary_degenerate(void **state)
{
    (void)state;
    pbr_summary s;
    assert_int_equal(pbr_summarize(NULL, 0, &s), 0);
    assert_int_equal(s.n, 0);
    assert_near(s.p50, 0, 0);
    assert_near(s.stddev, 0, 0);

    const double one[] = {42};
    assert_int_equal(pbr_summarize(one, 1, &s), 0);
    assert_near(s.min, 42, 0);
    assert_near(s.max, 42, 0);
    assert_near(s.p999, 42, 0);
    assert_near(s.stddev, 0, 0);
    assert_near(s.ci_low, 42, 0);
    assert_near(s.ci_high, 42, 0);
    assert_int_equal(s.outliers, 0);

    /* MAD 0: 1.253314 * mean absolute deviation replaces 1.4826 * MAD.
     * 5 5 5 5 6: mean |x - 5| = .2, limit 3 * .2507 = .752: 6 is an outlier. */
    const double flat[] = {5, 5, 5, 5, 6};
    assert_int_equal(pbr_summarize(flat, 5, &s), 0);
    assert_near(s.mad, 0, 0);
    assert_int_equal(s.outliers, 1);
    /* Quantized clock readings: six 21s, three 22s and a 43. Deviations
     * 0 x6, 1 x3, 22: MAD 0; mean deviation 25/10 = 2.5, limit
     * 3 * 1.253314 * 2.5 = 9.40: only 43 is an outlier (the literal MAD rule
     * would have called all four non-21 values outliers). */
    const double clock[] = {21, 22, 21, 21, 43, 22, 21, 21, 22, 21};
    assert_int_equal(pbr_summarize(clock, 10, &s), 0);
    assert_near(s.mad, 0, 0);
    assert_int_equal(s.outliers, 1);
    /* All equal: no outlier. */
    const double same[] = {3, 3, 3};
    assert_int_equal(pbr_summarize(same, 3, &s), 0);
    assert_int_equal(s.outliers, 0);
}

static void median_ci_ranks(void **state)
{
    (void)state;
    /* Exact binomial ranks, the textbook table values:
     *   n = 5:   even [x1, x5] covers only 1 - 2/32 = 93.75%: j = 1
     *   n = 6:   P(B<=0) = 1/64 = .0156, P(B<=1) = 7/64 = .109: j = 1
     *   n = 9:   P(B<=1) = 10/512 = .0195, P(B<=2) = 46/512 = .0898: j = 2
     *   n = 10:  P(B<=1) = 11/1024 = .0107, P(B<=2) = 56/1024 = .0547: j = 2
     *   n = 20:  P(B<=5) = .0207, P(B<=6) = .0577: j = 6 ([x6, x15])
     *   n = 100: P(B<=39) = .0176, P(B<=40) = .0284: j = 40 ([x40, x61]) */
    assert_int_equal(pbr__median_ci_rank(0), 0);
    assert_int_equal(pbr__median_ci_rank(1), 1);
    assert_int_equal(pbr__median_ci_rank(5), 1);
    assert_int_equal(pbr__median_ci_rank(6), 1);
    assert_int_equal(pbr__median_ci_rank(9), 2);
    assert_int_equal(pbr__median_ci_rank(10), 2);
    assert_int_equal(pbr__median_ci_rank(20), 6);
    assert_int_equal(pbr__median_ci_rank(100), 40);
    /* Normal approximation beyond 2000: floor(5000 - 1.96 * 100 / 2) = 4902 */
    assert_int_equal(pbr__median_ci_rank(10000), 4902);
    /* Exact and approximate agree near the switch (within one rank). */
    long exact = (long)pbr__median_ci_rank(2000), approx = (long)pbr__median_ci_rank(2001);
    assert_true(labs(exact - approx) <= 1);

    /* 1..20: the CI is [x6, x15] = [6, 15]. */
    double x[20];
    for (int i = 0; i < 20; i++)
        x[i] = 20 - i;
    pbr_summary s;
    assert_int_equal(pbr_summarize(x, 20, &s), 0);
    assert_near(s.ci_low, 6, 0);
    assert_near(s.ci_high, 15, 0);
}

static double num(const json_t *m, const char *k)
{
    json_t *v = json_object_get(m, k);
    assert_non_null(v);
    assert_true(json_is_number(v));
    return json_number_value(v);
}

static void metric_object(void **state)
{
    (void)state;
    const double r0[] = {100, 102, 98, 101, 99};
    const double r1[] = {101, 100, 99, 103, 97};
    const double r2[] = {100, 100, 100, 100, 102};
    const double *reps[] = {r0, r1, r2};
    const size_t lens[] = {5, 5, 5};
    json_t *m = pbr_metric_new("ns", PBR_LOWER, reps, lens, 3, true);
    assert_non_null(m);
    assert_string_equal(json_string_value(json_object_get(m, "unit")), "ns");
    assert_string_equal(json_string_value(json_object_get(m, "better")), "lower");
    assert_near(num(m, "n"), 15, 0);
    assert_near(num(m, "min"), 97, 0);
    assert_near(num(m, "max"), 103, 0);
    /* pooled sorted: 97 98 99 99 100 100 100 100 100 100 101 101 102 102 103 */
    assert_near(num(m, "p50"), 100, 0);
    assert_near(num(m, "mean"), 1502.0 / 15.0, 1e-12);
    /* n = 15: P(B<=3) = 576/32768 = .0176, P(B<=4) = 1941/32768 = .059: j = 4,
     * CI [x4, x12] = [99, 101] */
    assert_near(num(m, "ci_low"), 99, 0);
    assert_near(num(m, "ci_high"), 101, 0);
    /* repetition medians in order: 100, 100, 100 */
    json_t *rv = json_object_get(m, "repetitions");
    assert_int_equal(json_array_size(rv), 3);
    assert_near(json_real_value(json_array_get(rv, 0)), 100, 0);
    assert_near(json_real_value(json_array_get(rv, 1)), 100, 0);
    assert_near(json_real_value(json_array_get(rv, 2)), 100, 0);
    /* CI width 2 <= 10 (10%), rep spread 0: trusted */
    assert_true(json_is_true(json_object_get(m, "trusted")));

    /* The histogram counts every sample once. */
    json_t *h = json_object_get(m, "histogram");
    assert_non_null(h);
    json_t *counts = json_object_get(h, "counts");
    json_int_t total = 0;
    for (size_t i = 0; i < json_array_size(counts); i++)
        total += json_integer_value(json_array_get(counts, i));
    assert_int_equal(total, 15);
    assert_int_equal(json_array_size(json_object_get(h, "lower")), json_array_size(counts));
    json_decref(m);

    /* Without histogram; a "higher" metric. */
    m = pbr_metric_new("tasks/s", PBR_HIGHER, reps, lens, 3, false);
    assert_non_null(m);
    assert_null(json_object_get(m, "histogram"));
    assert_string_equal(json_string_value(json_object_get(m, "better")), "higher");
    json_decref(m);

    /* No sample at all: NULL. */
    const size_t zero[] = {0, 0};
    assert_null(pbr_metric_new("ns", PBR_LOWER, reps, zero, 2, false));
}

/* The interval of the median respects the repetitions: five repetitions
 * of 400 samples each, tight within (+-1%), whose medians run from 3.6 to
 * 35 us, as a futex ping-pong on a noisy machine did. The pooled order
 * statistics alone give a few ns; the interval must reach from the lowest
 * to the highest repetition median (5 repetitions: [min, max]). */
static void ci_respects_repetitions(void **state)
{
    (void)state;
    static const double medians[] = {3600, 35000, 5200, 9100, 20500};
    static double samples[5][400];
    const double *reps[5];
    size_t lens[5];
    for (int r = 0; r < 5; r++) {
        for (int i = 0; i < 400; i++)
            samples[r][i] = medians[r] * (1.0 + 0.01 * ((i % 21) - 10) / 10.0);
        reps[r] = samples[r];
        lens[r] = 400;
    }
    json_t *m = pbr_metric_new("ns", PBR_LOWER, reps, lens, 5, false);
    assert_non_null(m);
    assert_near(num(m, "ci_low"), 3600, 1e-9);
    assert_near(num(m, "ci_high"), 35000, 1e-9);
    assert_false(json_is_true(json_object_get(m, "trusted")));
    json_decref(m);

    /* The pooled interval alone, for comparison: about one sample step. */
    double all[2000];
    for (int r = 0; r < 5; r++)
        memcpy(all + 400 * r, samples[r], sizeof samples[r]);
    pbr_summary s;
    assert_int_equal(pbr_summarize(all, 2000, &s), 0);
    assert_true(s.ci_high - s.ci_low < 200);

    /* Nine repetitions: [m(2), m(8)] of the sorted medians (P(B <= 1) =
     * 10/512 = .0195, P(B <= 2) = 46/512 = .0898: j = 2). */
    const double nine[] = {10, 90, 20, 80, 30, 70, 40, 60, 50};
    double lo = 49, hi = 51;
    pbr_ci_repetitions(nine, 9, &lo, &hi);
    assert_near(lo, 20, 0);
    assert_near(hi, 80, 0);
    /* A pooled interval already wider stays as it is. */
    lo = 5;
    hi = 95;
    pbr_ci_repetitions(nine, 9, &lo, &hi);
    assert_near(lo, 5, 0);
    assert_near(hi, 95, 0);
    /* One repetition: nothing to widen by. */
    lo = 49;
    hi = 51;
    pbr_ci_repetitions(nine, 1, &lo, &hi);
    assert_near(lo, 49, 0);
    assert_near(hi, 51, 0);
}

static bool trusted_of(const double *const *reps, const size_t *lens, size_t nreps)
{
    json_t *m = pbr_metric_new("ns", PBR_LOWER, reps, lens, nreps, false);
    assert_non_null(m);
    bool t = json_is_true(json_object_get(m, "trusted"));
    json_decref(m);
    return t;
}

static void trusted_flag(void **state)
{
    (void)state;
    const double a[] = {100, 101, 99, 100, 100};
    const double b[] = {100, 100, 101, 99, 100};
    const double slow[] = {130, 131, 129, 130, 130};
    const size_t lens[] = {5, 5, 5};

    /* Two repetitions: never trusted, however tight. */
    const double *two[] = {a, b};
    assert_false(trusted_of(two, lens, 2));

    /* Three tight repetitions: trusted. */
    const double *three[] = {a, b, a};
    assert_true(trusted_of(three, lens, 3));

    /* Repetition medians 100, 100, 100, 100, 130 over pooled median 100:
     * spread 30% > 25%. Pooled sorted: 99 x4, 100 x12, 101 x4, 129..131 x5;
     * n = 25: P(B<=7) = .0216, P(B<=8) = .0539, so j = 8 and the pooled CI
     * is [x8, x18] = [100, 101]; the repetitions widen it to [100, 130]. */
    const double *spread[] = {a, b, a, b, slow};
    const size_t lens5[] = {5, 5, 5, 5, 5};
    assert_false(trusted_of(spread, lens5, 5));
    /* The same without the slow repetition is trusted. */
    assert_true(trusted_of(spread, lens5, 4));

    /* 1..30 over three repetitions: p50 15.5, n = 30: P(B<=9) = .0214,
     * P(B<=10) = .0494, so j = 10, CI [10, 21]: width 11 > 1.55. */
    double wide[30];
    for (int i = 0; i < 30; i++)
        wide[i] = i + 1;
    const double *w[] = {wide, wide + 10, wide + 20};
    const size_t wl[] = {10, 10, 10};
    assert_false(trusted_of(w, wl, 3));

    /* An empty repetition does not count: two non-empty ones remain. */
    const size_t with_empty[] = {5, 0, 5};
    assert_false(trusted_of(three, with_empty, 3));
}

static void histogram_buckets(void **state)
{
    (void)state;
    /* Hand-derived from the grid: octave [2^k, 2^(k+1)) in 16 equal parts.
     *   0    -> [0, 0]
     *   1    -> [1, 1.0625]
     *   1.5  -> [1.5, 1.5625]       (octave [1,2), part 8)
     *   1.55 -> [1.5, 1.5625]       (same bucket)
     *   3    -> [3, 3.125]          (octave [2,4), part 8)
     *   100  -> [100, 104]          (octave [64,128), part 9: 64 + 9 * 4)
     *   -1   -> [-1.0625, -1]       (mirror of [1, 1.0625]) */
    const double x[] = {100, 1.5, 0, 3, 1, 1.55, -1};
    const double *reps[] = {x};
    const size_t lens[] = {7};
    json_t *m = pbr_metric_new("ns", PBR_LOWER, reps, lens, 1, true);
    assert_non_null(m);
    json_t *h = json_object_get(m, "histogram");
    json_t *lo = json_object_get(h, "lower"), *hi = json_object_get(h, "upper"),
           *c = json_object_get(h, "counts");
    const double elo[] = {-1.0625, 0, 1, 1.5, 3, 100};
    const double ehi[] = {-1, 0, 1.0625, 1.5625, 3.125, 104};
    const json_int_t ec[] = {1, 1, 1, 2, 1, 1};
    assert_int_equal(json_array_size(lo), 6);
    assert_int_equal(json_array_size(hi), 6);
    assert_int_equal(json_array_size(c), 6);
    for (size_t i = 0; i < 6; i++) {
        assert_near(json_real_value(json_array_get(lo, i)), elo[i], 0);
        assert_near(json_real_value(json_array_get(hi, i)), ehi[i], 0);
        assert_int_equal(json_integer_value(json_array_get(c, i)), ec[i]);
    }
    json_decref(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(percentiles_type7), cmocka_unit_test(summary_basic),
        cmocka_unit_test(summary_mad_outliers), cmocka_unit_test(summary_degenerate),
        cmocka_unit_test(median_ci_ranks), cmocka_unit_test(metric_object),
        cmocka_unit_test(ci_respects_repetitions), cmocka_unit_test(trusted_flag),
        cmocka_unit_test(histogram_buckets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
