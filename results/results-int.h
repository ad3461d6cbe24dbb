/*
 * results-int.h — internals shared by the files of the results library
 * (and its unit tests, which check them directly).
 */
#ifndef PB_RESULTS_INT_H
#define PB_RESULTS_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define PBR__PRINTF(f, a) __attribute__((format(printf, f, a)))

/* Significant digits of reals in every JSON poolbench writes: 17 makes
 * every double read back bit for bit. */
#define PBR__REAL_PRECISION 17

/* stats.c: the 1-based rank j of the lower end of the 95% confidence
 * interval of the median of n samples ([x(j), x(n+1-j)]); 0 when n = 0. */
size_t pbr__median_ci_rank(size_t n);

/* document.c: the units a metric may have (FORMAT.md; results/schema.json
 * lists the same), NULL-terminated. */
extern const char *const pbr__units[];

#endif
