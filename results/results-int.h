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

/* One option of a subcommand: "--name" and where its value goes. */
typedef struct pbr__opt {
    const char *name;
    const char **value;
} pbr__opt;

/* What pbr__arg() found at argv[*i]. */
typedef enum pbr__arg_kind {
    PBR__ARG_OPTION,  /* one of the options; its value is stored, *i moved past it */
    PBR__ARG_OPERAND, /* not an option ("-" included): argv[*i] is the caller's */
    PBR__ARG_HELP,    /* --help or -h: the caller prints its usage and exits 0 */
    PBR__ARG_BAD,     /* a missing value or an unknown option, told on stderr as
                         "poolbench CMD: ..."; the caller exits 2 */
} pbr__arg_kind;

/* cli.c: reads argv[*i] for subcommand cmd ("compare") against
 * opts[0..nopts): "--name VALUE" or "--name=VALUE". The loop over the
 * arguments stays with the caller, which alone knows its operands. */
pbr__arg_kind pbr__arg(const char *cmd, int argc, char **argv, int *i, const pbr__opt *opts,
                       size_t nopts);

/* cli.c: a whole string as a finite number. */
bool pbr__parse_double(const char *s, double *out);

/* cli.c: a string or number member of obj, or dflt. */
const char *pbr__str(const json_t *obj, const char *key, const char *dflt);
double pbr__num(const json_t *obj, const char *key, double dflt);

#endif
