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

/* stats.c: the `trusted` rule of FORMAT.md. */
bool pbr__trusted(size_t nreps, double p50, double ci_low, double ci_high, double rep_min,
                  double rep_max);

/* document.c: a parameter value as text ("8", "spin", 0.25 as "0.25"). Caller frees. */
char *pbr__value_text(const json_t *v);

/* cli.c: if argv[*i] is option `name` ("--name VALUE" or "--name=VALUE"),
 * sets *value, moves *i to the last argument used and returns 1; 0 when it
 * is another argument; -1 when the value is missing. */
int pbr__option(int argc, char **argv, int *i, const char *name, const char **value);

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
 * opts[0..nopts), as pbr__option() reads one option. The loop over the
 * arguments stays with the caller, which alone knows its operands. */
pbr__arg_kind pbr__arg(const char *cmd, int argc, char **argv, int *i, const pbr__opt *opts,
                       size_t nopts);

/* cli.c: a whole string as a finite number. */
bool pbr__parse_double(const char *s, double *out);

/* cli.c: a string or number member of obj, or dflt. */
const char *pbr__str(const json_t *obj, const char *key, const char *dflt);
double pbr__num(const json_t *obj, const char *key, double dflt);

/* history.c: indices of docs[0..ndocs) ordered by run.started_unix, ties
 * in the order given. malloc'd; NULL on ENOMEM. */
size_t *pbr__time_order(const json_t *const *docs, size_t ndocs);

/* history.c: the case of doc with this backend, scenario and params key. */
const json_t *pbr__find_case(const json_t *doc, const char *backend, const char *scenario,
                             const char *params_key);

#endif
