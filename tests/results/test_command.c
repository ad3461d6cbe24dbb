/*
 * test_command.c — the one parser of every command's arguments
 * (results/command.h), driven in-process on a made-up command that has one
 * option of each kind.
 *
 * Each case gives a command line and checks what the command would run
 * with (options, operands in order) or, for a bad one, the exit status and
 * the one line on stderr; --help and --version print to stdout and exit 0.
 */
#include <fcntl.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "command.h"

typedef struct toy_opts {
    const char *out, *format, *name;
    int count;
    uint64_t seed;
    double rate, level;
    bool quiet, keep;
    int calls;
    const char *last_call;
} toy_opts;

static int count_call(const char *value, void *field, char *err, size_t errlen)
{
    if (!strcmp(value, "bad")) {
        snprintf(err, errlen, "'%s' will not do", value);
        return -1;
    }
    ++*(int *)field;
    return 0;
}

static const toy_opts toy_defaults = {.format = "text", .count = -1, .rate = 1};

static const pbr_option toy_options[] = {
    {.name = "out", .key = 'o', PBR_STRING(toy_opts, out), .arg = "FILE", .expect = "a file name",
     .help = "where it goes"},
    {.name = "format", .key = 'f', PBR_CHOICE(toy_opts, format, "text", "json", "csv"),
     .arg = "FMT", .help = "text, json or csv"},
    {.name = "name", PBR_STRING(toy_opts, name), .arg = "NAME", .help = "any name, even empty"},
    {.name = "count", PBR_INT(toy_opts, count, 0, 10), .arg = "N", .help = "0 to 10"},
    {.name = "seed", PBR_U64(toy_opts, seed, 0, 1e15), .arg = "N", .help = "a seed"},
    {.name = "rate", PBR_REAL(toy_opts, rate, 0, 100), .above = true, .arg = "X",
     .expect = "a rate", .help = "above 0, up to 100"},
    {.name = "level", PBR_REAL(toy_opts, level, 0, INFINITY), .arg = "PCT",
     .help = "at least 0\nsecond line of help"},
    {.name = "quiet", .key = 'q', PBR_FLAG(toy_opts, quiet), .help = "say less"},
    {.name = "keep", .key = 'k', PBR_FLAG(toy_opts, keep), .help = "keep it"},
    {.name = "call", PBR_CALL(toy_opts, calls, count_call), .arg = "V",
     .help = "counted; 'bad' is refused"},
    {.name = "callback-twin", PBR_FLAG(toy_opts, keep), .help = "shares a prefix with --call"},
    {0},
};

static int toy_run(const pbr_args *a)
{
    (void)a;
    return 42;
}

static const pbr_command toy = {
    .name = "toy",
    .summary = "a command for testing the parser",
    .synopsis = "[OPTIONS] FILE...",
    .about = "Does nothing, carefully.",
    .epilogue = "exit status: 42",
    .options = toy_options,
    .opts_size = sizeof(toy_opts),
    .defaults = &toy_defaults,
    .operands = "one or two files",
    .min_operands = 1,
    .max_operands = 2,
    .run = toy_run,
};

/* What one parse printed and produced. */
typedef struct parsed {
    int status;          /* pbr_command_parse's: -1 go on, 0, 2 */
    toy_opts o;
    char *args[16];
    int nargs;
    char out[4096], err[4096];
} parsed;

static void slurp_fd(int fd, char *buf, size_t size)
{
    lseek(fd, 0, SEEK_SET);
    ssize_t n = read(fd, buf, size - 1);
    buf[n > 0 ? n : 0] = '\0';
}

/* Runs f(cmd, argc, argv) with stdout and stderr captured. */
static int captured(int (*f)(const char *const *, int, void *), const char *const *argv, int argc,
                    void *ud, char *out, char *err, size_t size)
{
    fflush(stdout);
    fflush(stderr);
    FILE *fo = tmpfile(), *fe = tmpfile();
    assert_non_null(fo);
    assert_non_null(fe);
    int so = dup(1), se = dup(2);
    dup2(fileno(fo), 1);
    dup2(fileno(fe), 2);
    int rc = f(argv, argc, ud);
    fflush(stdout);
    fflush(stderr);
    dup2(so, 1);
    dup2(se, 2);
    close(so);
    close(se);
    slurp_fd(fileno(fo), out, size);
    slurp_fd(fileno(fe), err, size);
    fclose(fo);
    fclose(fe);
    return rc;
}

static int do_parse(const char *const *argv, int argc, void *ud)
{
    parsed *p = ud;
    return pbr_command_parse(&toy, argc, (char **)argv, &p->o, p->args, &p->nargs);
}

/* Parses "toy" followed by the NULL-terminated words. */
static parsed *parse(const char *first, ...)
{
    static parsed p;
    memset(&p, 0, sizeof p);
    const char *argv[32] = {"toy"};
    int argc = 1;
    va_list ap;
    va_start(ap, first);
    for (const char *w = first; w && argc < 31; w = va_arg(ap, const char *))
        argv[argc++] = w;
    va_end(ap);
    argv[argc] = NULL;
    p.status = captured(do_parse, argv, argc, &p, p.out, p.err, sizeof p.out);
    return &p;
}

/* A refusal: exit 2, nothing on stdout, exactly one line on stderr holding
 * want. */
static void assert_refused(const parsed *p, const char *want)
{
    if (p->status != 2 || !strstr(p->err, want) || strchr(p->err, '\n') != p->err + strlen(p->err) - 1)
        fail_msg("status %d, stderr '%s' (want 2 and one line with '%s')", p->status, p->err, want);
    assert_string_equal(p->out, "");
}

static void test_values(void **state)
{
    (void)state;
    parsed *p = parse("--out", "a.txt", "--count=3", "-f", "json", "--seed", "123456789012",
                      "--rate=2.5", "--level", "0", "-q", "in.json", NULL);
    assert_int_equal(p->status, -1);
    assert_string_equal(p->o.out, "a.txt");
    assert_int_equal(p->o.count, 3);
    assert_string_equal(p->o.format, "json");
    assert_true(p->o.seed == 123456789012ull);
    assert_true(p->o.rate == 2.5);
    assert_true(p->o.level == 0);
    assert_true(p->o.quiet);
    assert_false(p->o.keep);
    assert_int_equal(p->nargs, 1);
    assert_string_equal(p->args[0], "in.json");

    /* Defaults where nothing is given. */
    p = parse("x", NULL);
    assert_int_equal(p->status, -1);
    assert_null(p->o.out);
    assert_string_equal(p->o.format, "text");
    assert_int_equal(p->o.count, -1);
    assert_true(p->o.rate == 1);

    /* Short values attached, flags clustered, the last of a repeated one. */
    p = parse("-ob.txt", "-qk", "--out", "c.txt", "x", NULL);
    assert_int_equal(p->status, -1);
    assert_string_equal(p->o.out, "c.txt");
    assert_true(p->o.quiet && p->o.keep);

    /* A value may start with '-'; an empty one is refused only where the
     * option says what it expects. */
    p = parse("--name", "-x", "x", NULL);
    assert_int_equal(p->status, -1);
    assert_string_equal(p->o.name, "-x");
    p = parse("--name=", "x", NULL);
    assert_int_equal(p->status, -1);
    assert_string_equal(p->o.name, "");

    /* A call option runs once per use. */
    p = parse("--call", "a", "--call=b", "x", NULL);
    assert_int_equal(p->status, -1);
    assert_int_equal(p->o.calls, 2);
}

static void test_dash_and_double_dash(void **state)
{
    (void)state;
    /* "-" is an operand, and a value, like any other word. */
    parsed *p = parse("-", "--out", "-", NULL);
    assert_int_equal(p->status, -1);
    assert_int_equal(p->nargs, 1);
    assert_string_equal(p->args[0], "-");
    assert_string_equal(p->o.out, "-");
    p = parse("-o", "-", "x", NULL);
    assert_int_equal(p->status, -1);
    assert_string_equal(p->o.out, "-");

    /* "--" ends the options: what follows is an operand, even "--help". */
    p = parse("a", "--quiet", "--", "--help", "-q", NULL);
    assert_int_equal(p->status, -1);
    assert_true(p->o.quiet);
    assert_int_equal(p->nargs, 3);
    assert_string_equal(p->args[0], "a");
    assert_string_equal(p->args[1], "--help");
    assert_string_equal(p->args[2], "-q");

    /* Operands keep their order among options, whatever the environment. */
    setenv("POSIXLY_CORRECT", "1", 1);
    p = parse("b", "--count", "1", "a", NULL);
    unsetenv("POSIXLY_CORRECT");
    assert_int_equal(p->status, -1);
    assert_int_equal(p->o.count, 1);
    assert_int_equal(p->nargs, 2);
    assert_string_equal(p->args[0], "b");
    assert_string_equal(p->args[1], "a");
}

static void test_abbreviations(void **state)
{
    (void)state;
    parsed *p = parse("--cou", "4", "--qu", "x", NULL);
    assert_int_equal(p->status, -1);
    assert_int_equal(p->o.count, 4);
    assert_true(p->o.quiet);
    /* --call is exact, though --callback-twin shares its prefix. */
    p = parse("--call", "v", "x", NULL);
    assert_int_equal(p->status, -1);
    assert_int_equal(p->o.calls, 1);
    assert_refused(parse("--ca", "v", "x", NULL),
                   "poolbench toy: ambiguous option '--ca' (--call, --callback-twin)");
}

static void test_help_and_version(void **state)
{
    (void)state;
    const char *helps[] = {"-h", "--help", "--he"};
    for (size_t i = 0; i < 3; i++) {
        parsed *p = parse(helps[i], NULL);
        assert_int_equal(p->status, 0);
        assert_string_equal(p->err, "");
        assert_non_null(strstr(p->out, "usage: poolbench toy [OPTIONS] FILE...\n"));
        assert_non_null(strstr(p->out, "  -o, --out FILE"));
        assert_non_null(strstr(p->out, "      --level PCT"));
        assert_non_null(strstr(p->out, "second line of help"));
        assert_non_null(strstr(p->out, "  -V, --version"));
        assert_non_null(strstr(p->out, "exit status: 42"));
    }
    const char *versions[] = {"-V", "--version", "-qV"};
    for (size_t i = 0; i < 3; i++) {
        parsed *p = parse(versions[i], NULL);
        assert_int_equal(p->status, 0);
        assert_string_equal(p->err, "");
        assert_non_null(strstr(p->out, "poolbench "));
        assert_non_null(strchr(p->out, '\n'));
    }
    /* Even among bad operands and before a bad option, help is help. */
    parsed *p = parse("--help", "--bogus", NULL);
    assert_int_equal(p->status, 0);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    assert_refused(parse("--bogus", NULL), "poolbench toy: unknown option '--bogus' (try poolbench toy --help)");
    assert_refused(parse("--bogus=3", NULL), "unknown option '--bogus=3'");
    assert_refused(parse("-z", NULL), "poolbench toy: unknown option '-z'");
    assert_refused(parse("-qz", NULL), "poolbench toy: unknown option '-z'");
    assert_refused(parse("--out", NULL), "poolbench toy: --out needs a value");
    assert_refused(parse("x", "-o", NULL), "poolbench toy: --out needs a value");
    assert_refused(parse("--quiet=yes", NULL), "poolbench toy: --quiet takes no value (got '--quiet=yes')");
    assert_refused(parse("--help=1", NULL), "--help takes no value");
    assert_refused(parse("--out=", NULL), "poolbench toy: --out: expected a file name, got ''");
    assert_refused(parse("--format", "xml", NULL),
                   "poolbench toy: --format: expected text, json or csv, got 'xml'");
    assert_refused(parse("--count", "11", NULL),
                   "poolbench toy: --count: expected a whole number from 0 to 10, got '11'");
    assert_refused(parse("--count", "-1", NULL), "--count: expected a whole number from 0 to 10, got '-1'");
    assert_refused(parse("--count", "1x", NULL), "got '1x'");
    assert_refused(parse("--count", " 1", NULL), "got ' 1'");
    assert_refused(parse("--count", "+1", NULL), "got '+1'");
    assert_refused(parse("--count", "", NULL), "got ''");
    assert_refused(parse("--count", "99999999999999999999", NULL), "got '99999999999999999999'");
    assert_refused(parse("--seed", "-1", NULL), "--seed: expected a whole number from 0 to 1e+15");
    assert_refused(parse("--rate", "0", NULL),
                   "poolbench toy: --rate: expected a rate above 0 and up to 100, got '0'");
    assert_refused(parse("--rate", "nan", NULL), "got 'nan'");
    assert_refused(parse("--rate", "inf", NULL), "got 'inf'");
    assert_refused(parse("--level", "-0.5", NULL),
                   "--level: expected a number of at least 0, got '-0.5'");
    assert_refused(parse("--call", "bad", NULL), "poolbench toy: --call: 'bad' will not do");
}

static int do_main(const char *const *argv, int argc, void *ud)
{
    (void)ud;
    return pbr_command_main(&toy, argc, (char **)argv);
}

/* pbr_command_main: operands counted, then the command runs. */
static void test_operands(void **state)
{
    (void)state;
    char out[4096], err[4096];
    const char *none[] = {"toy", "-q", NULL};
    assert_int_equal(captured(do_main, none, 2, NULL, out, err, sizeof out), 2);
    assert_string_equal(err, "poolbench toy: needs one or two files (try poolbench toy --help)\n");
    const char *three[] = {"toy", "a", "b", "c", NULL};
    assert_int_equal(captured(do_main, three, 4, NULL, out, err, sizeof out), 2);
    assert_string_equal(err, "poolbench toy: unexpected argument 'c' (needs one or two files)\n");
    const char *two[] = {"toy", "a", "-", NULL};
    assert_int_equal(captured(do_main, two, 3, NULL, out, err, sizeof out), 42);
    assert_string_equal(err, "");
    const char *help[] = {"toy", "--help", NULL};
    assert_int_equal(captured(do_main, help, 2, NULL, out, err, sizeof out), 0);
    const char *bad[] = {"toy", "a", "--count", "x", NULL};
    assert_int_equal(captured(do_main, bad, 4, NULL, out, err, sizeof out), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values),        cmocka_unit_test(test_dash_and_double_dash),
        cmocka_unit_test(test_abbreviations), cmocka_unit_test(test_help_and_version),
        cmocka_unit_test(test_bad_arguments), cmocka_unit_test(test_operands),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
