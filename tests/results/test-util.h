/*
 * test-util.h — helpers shared by the results library's tests.
 */
#ifndef PB_TEST_RESULTS_UTIL_H
#define PB_TEST_RESULTS_UTIL_H

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

/* cmocka 1.1's assert_float_equal goes through float; these keep doubles. */
#define assert_near(a, b, eps)                                                        \
    do {                                                                              \
        double a_ = (a), b_ = (b);                                                    \
        if (!(fabs(a_ - b_) <= (eps))) {                                              \
            print_error("%s = %.17g, expected %.17g (+-%g)\n", #a, a_, b_,            \
                        (double)(eps));                                               \
            fail();                                                                   \
        }                                                                             \
    } while (0)

#define assert_contains(haystack, needle)                                             \
    do {                                                                              \
        const char *h_ = (haystack), *n_ = (needle);                                  \
        if (!h_ || !strstr(h_, n_)) {                                                 \
            print_error("'%s' does not contain '%s'\n", h_ ? h_ : "(null)", n_);      \
            fail();                                                                   \
        }                                                                             \
    } while (0)

#endif
