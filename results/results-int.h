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

/* files.c: opens a new temporary file for writing target atomically: a
 * hidden ".<name>.XXXXXX" in target's folder, created exclusively with mode
 * 0666 less the umask, or with target's permission bits when target is a
 * regular file already. Returns the fd (close-on-exec) with its path in
 * tmp, or -errno. */
int pbr__temp_open(const char *target, char *tmp, size_t len);

/* files.c: 0 when target is absent or a regular file, so a rename may
 * replace it; else -EEXIST with one line in err. */
int pbr__out_replaceable(const char *target, char *err, size_t errlen);

/* document.c: unix_time as "2026-11-21T08:00:00Z" (UTC) into buf. */
void pbr__utc_text(double unix_time, char *buf, size_t len);

/* stats.c: the median of v[0..n) (type 7; v is sorted); 0 when n is 0. */
double pbr__median(double *v, size_t n);

/* stats.c: 1.4826 times the median absolute deviation of v[0..n) from
 * their median — a standard deviation that a few wild values do not move.
 * v is reordered; 0 when n is 0. */
double pbr__robust_sd(double *v, size_t n);

/* ab.c: for a schema of another kind of poolbench file, what it is ("an
 * A/B session (poolbench ab)") and what reads it; NULL / a default for any
 * other schema. */
const char *pbr__schema_what(const char *schema);
const char *pbr__schema_use(const char *schema);

/* document.c: a file read whole and parsed as JSON, not yet checked
 * against any schema. NULL with one line in err. */
json_t *pbr__load(const char *path, char *err, size_t errlen);

/* The git revision of the sources this program was built from, with
 * "-dirty" when they differ from it ("unknown" outside git): written at
 * every build by scripts/revision.cmake. */
extern const char pbr__git_revision[];

#endif
