/*
 * command.c — the one parser of every poolbench command's arguments, on
 * getopt_long. See command.h for the conventions.
 *
 * getopt_long is run in "return in order" mode ("-" first in its option
 * string): operands come back one by one where they stand, so they keep
 * their order wherever options are put and whatever POSIXLY_CORRECT says,
 * and "--" still ends the options. It prints nothing itself (":" second):
 * every message is ours, worded the same for every command, and getopt's
 * codes only tell which case it is:
 *   ':' a missing value (optopt: the option's val);
 *   '?' with optopt 0: a long option that is unknown or an ambiguous prefix
 *       (the table tells which); with optopt an option's val: a flag given
 *       a value; with optopt a letter: an unknown short option.
 * getopt keeps its state in globals; optind = 0 starts it afresh, so a
 * program (or a test) may parse any number of command lines in turn. It
 * reorders nothing in this mode, but works on a copy of argv all the same,
 * so that the command sees its command line as it was given.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "command.h"

#ifndef PB_VERSION
#define PB_VERSION "unknown"
#endif

/* getopt_long's value for long option i of a table; help and version come
 * after the table's. */
#define LONG_VAL(i) (256 + (int)(i))

void pbr_print_version(FILE *out)
{
    fprintf(out, "poolbench %s\n", PB_VERSION);
}

static size_t count_options(const pbr_command *cmd)
{
    size_t n = 0;
    while (cmd->options && cmd->options[n].name)
        n++;
    return n;
}

static bool takes_value(const pbr_option *o)
{
    return o->kind != PBR_OPT_FLAG;
}

/* ------------------------------------------------------------------------
 * Help
 * ------------------------------------------------------------------------ */

/* "  -o, --out FILE" or "      --suite NAME|FILE" into buf. */
static int option_label(char *buf, size_t size, char key, const char *name, const char *arg)
{
    char shortpart[8] = "    ";
    if (key)
        snprintf(shortpart, sizeof shortpart, "-%c, ", key);
    return snprintf(buf, size, "  %s--%s%s%s", shortpart, name, arg ? " " : "", arg ? arg : "");
}

/* One option's lines: its label, then its help from column col, each
 * further line of the help indented to col too. */
static void print_option(FILE *out, int col, char key, const char *name, const char *arg,
                         const char *help)
{
    char label[128];
    int len = option_label(label, sizeof label, key, name, arg);
    fputs(label, out);
    if (len + 2 > col) {
        fputc('\n', out);
        len = 0;
    }
    for (const char *line = help ? help : "";;) {
        const char *nl = strchr(line, '\n');
        int n = nl ? (int)(nl - line) : (int)strlen(line);
        fprintf(out, "%*s%.*s\n", col - len, "", n, line);
        if (!nl)
            break;
        line = nl + 1;
        len = 0;
    }
}

void pbr_command_help(const pbr_command *cmd, FILE *out)
{
    fprintf(out, "usage: poolbench %s %s\n\n", cmd->name, cmd->synopsis ? cmd->synopsis : "");
    if (cmd->about)
        fprintf(out, "%s\n\n", cmd->about);
    /* The help column: past the longest label, within reason. */
    int col = 20;
    char label[128];
    for (const pbr_option *o = cmd->options; o && o->name; o++) {
        int len = option_label(label, sizeof label, o->key, o->name, o->arg) + 2;
        if (len > col && len <= 28)
            col = len;
    }
    fprintf(out, "options:\n");
    for (const pbr_option *o = cmd->options; o && o->name; o++)
        print_option(out, col, o->key, o->name, o->arg, o->help);
    print_option(out, col, 'h', "help", NULL, "print this help");
    print_option(out, col, 'V', "version", NULL, "print the version");
    if (cmd->more_help) {
        fputc('\n', out);
        cmd->more_help(out);
    }
    if (cmd->epilogue)
        fprintf(out, "\n%s\n", cmd->epilogue);
}

/* ------------------------------------------------------------------------
 * Values
 * ------------------------------------------------------------------------ */

static void say(const pbr_command *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void say(const pbr_command *cmd, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "poolbench %s: %s\n", cmd->name, msg);
}

/* "a whole number from 0 to 4096", "a number above 0 and up to 100", "a
 * number of at least 0" into buf. */
static void describe_range(const pbr_option *o, char *buf, size_t size)
{
    const char *what = o->expect ? o->expect
                                 : o->kind == PBR_OPT_REAL ? "a number" : "a whole number";
    if (isinf(o->max))
        snprintf(buf, size, "%s %s %.15g", what, o->above ? "above" : "of at least", o->min);
    else if (o->above)
        snprintf(buf, size, "%s above %.15g and up to %.15g", what, o->min, o->max);
    else
        snprintf(buf, size, "%s from %.15g to %.15g", what, o->min, o->max);
}

/* "googlebench, bench-custom or csv" into buf. */
static void describe_choices(const pbr_option *o, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (const char *const *c = o->choices; *c; c++) {
        const char *sep = c == o->choices ? "" : c[1] ? ", " : " or ";
        used += (size_t)snprintf(buf + used, used < size ? size - used : 0, "%s%s", sep, *c);
    }
}

/* A whole decimal number, as strtoll/strtoull read it but refusing the
 * leading space and sign they would skip or accept. */
static bool whole_number(const char *text, bool is_signed, double *out)
{
    if (!*text || text[0] == ' ' || text[0] == '+' || (!is_signed && text[0] == '-'))
        return false;
    char *end;
    errno = 0;
    double v = is_signed ? (double)strtoll(text, &end, 10) : (double)strtoull(text, &end, 10);
    if (*end || errno)
        return false;
    *out = v;
    return true;
}

static bool real_number(const char *text, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (end == text || *end || errno || !isfinite(v))
        return false;
    *out = v;
    return true;
}

static bool in_range(const pbr_option *o, double v)
{
    return (o->above ? v > o->min : v >= o->min) && v <= o->max;
}

/* Stores value for option o into opts. Returns 0, or 2 with the message
 * told. */
static int store(const pbr_command *cmd, const pbr_option *o, const char *value, void *opts)
{
    char *field = (char *)opts + o->field;
    char what[256], err[512] = "";
    double v = 0;
    switch (o->kind) {
    case PBR_OPT_FLAG:
        *(bool *)field = true;
        return 0;
    case PBR_OPT_STRING:
        if (o->expect && !*value) {
            say(cmd, "--%s: expected %s, got ''", o->name, o->expect);
            return 2;
        }
        *(const char **)field = value;
        return 0;
    case PBR_OPT_CHOICE:
        for (const char *const *c = o->choices; *c; c++)
            if (!strcmp(*c, value)) {
                *(const char **)field = *c;
                return 0;
            }
        describe_choices(o, what, sizeof what);
        say(cmd, "--%s: expected %s, got '%s'", o->name, what, value);
        return 2;
    case PBR_OPT_INT:
    case PBR_OPT_U64:
    case PBR_OPT_REAL: {
        bool ok = o->kind == PBR_OPT_REAL ? real_number(value, &v)
                                          : whole_number(value, o->kind == PBR_OPT_INT, &v);
        if (!ok || !in_range(o, v)) {
            describe_range(o, what, sizeof what);
            say(cmd, "--%s: expected %s, got '%s'", o->name, what, value);
            return 2;
        }
        if (o->kind == PBR_OPT_INT)
            *(int *)field = (int)v;
        else if (o->kind == PBR_OPT_U64)
            *(uint64_t *)field = strtoull(value, NULL, 10); /* exact beyond 2^53 */
        else
            *(double *)field = v;
        return 0;
    }
    case PBR_OPT_CALL:
        if (o->call(value, field, err, sizeof err) == 0)
            return 0;
        say(cmd, "--%s: %s", o->name, err);
        return 2;
    }
    return 2;
}

/* ------------------------------------------------------------------------
 * Parsing
 * ------------------------------------------------------------------------ */

/* The long name in "--name" or "--name=value" into buf. */
static const char *long_name(const char *arg, char *buf, size_t size)
{
    const char *p = arg + (arg[0] == '-') + (arg[0] == '-' && arg[1] == '-');
    size_t n = strcspn(p, "=");
    snprintf(buf, size, "%.*s", (int)(n < size ? n : size - 1), p);
    return buf;
}

/* getopt's '?' for the argument arg (a long option's; for a short one only
 * opt is to be trusted): says what was wrong. */
static void tell_bad_option(const pbr_command *cmd, const char *arg, int opt)
{
    const pbr_option *opts = cmd->options;
    size_t n = count_options(cmd);
    /* A flag given a value ("--quiet=1"): getopt names it by its val. */
    const char *flag = opt >= LONG_VAL(0) && opt < LONG_VAL(n) ? opts[opt - LONG_VAL(0)].name
                       : opt == 'h'                           ? "help"
                       : opt == 'V'                           ? "version"
                                                              : NULL;
    if (flag) {
        say(cmd, "--%s takes no value (got '%s')", flag, arg);
        return;
    }
    if (opt > 0 && opt < 256) {
        say(cmd, "unknown option '-%c' (try poolbench %s --help)", opt, cmd->name);
        return;
    }
    /* A long option: unknown, or a prefix of several. */
    char name[128], all[512] = "";
    long_name(arg, name, sizeof name);
    size_t len = strlen(name), matches = 0, used = 0;
    static const char *const builtin[] = {"help", "version"};
    for (size_t i = 0; i < n + 2; i++) {
        const char *full = i < n ? opts[i].name : builtin[i - n];
        if (len && !strncmp(full, name, len)) {
            used += (size_t)snprintf(all + used, used < sizeof all ? sizeof all - used : 0,
                                     "%s--%s", matches ? ", " : "", full);
            matches++;
        }
    }
    if (matches > 1)
        say(cmd, "ambiguous option '--%s' (%s)", name, all);
    else
        say(cmd, "unknown option '%s' (try poolbench %s --help)", arg, cmd->name);
}

/* The option getopt returned as c, or NULL (help, version). */
static const pbr_option *option_of(const pbr_command *cmd, int c)
{
    size_t n = count_options(cmd);
    if (c >= LONG_VAL(0) && c < LONG_VAL(n))
        return &cmd->options[c - LONG_VAL(0)];
    for (size_t i = 0; i < n; i++)
        if (cmd->options[i].key && cmd->options[i].key == c)
            return &cmd->options[i];
    return NULL;
}

/* getopt_long's tables for cmd: long options (with help and version) and
 * the short option string. Returns 0 or -ENOMEM. */
static int getopt_tables(const pbr_command *cmd, struct option **longopts, char **shortopts)
{
    size_t n = count_options(cmd);
    *longopts = calloc(n + 3, sizeof **longopts);
    *shortopts = malloc(2 * n + 8);
    if (!*longopts || !*shortopts)
        return -ENOMEM;
    char *s = *shortopts;
    *s++ = '-'; /* operands in order, as code 1 */
    *s++ = ':'; /* no messages from getopt; ':' for a missing value */
    for (size_t i = 0; i < n; i++) {
        const pbr_option *o = &cmd->options[i];
        (*longopts)[i] = (struct option){o->name, takes_value(o) ? required_argument : no_argument,
                                         NULL, LONG_VAL(i)};
        if (o->key) {
            *s++ = o->key;
            if (takes_value(o))
                *s++ = ':';
        }
    }
    (*longopts)[n] = (struct option){"help", no_argument, NULL, 'h'};
    (*longopts)[n + 1] = (struct option){"version", no_argument, NULL, 'V'};
    strcpy(s, "hV");
    return 0;
}

/* Every required option was given? Returns 0 or 2 with the message told. */
static int check_required(const pbr_command *cmd, const void *opts)
{
    for (const pbr_option *o = cmd->options; o && o->name; o++) {
        if (!o->required || *(const char *const *)((const char *)opts + o->field))
            continue;
        char what[256] = "";
        if (o->kind == PBR_OPT_CHOICE)
            describe_choices(o, what, sizeof what);
        say(cmd, "--%s %s is required (try poolbench %s --help)", o->name,
            *what ? what : o->arg ? o->arg : "", cmd->name);
        return 2;
    }
    return 0;
}

/* Runs getopt_long over argv; -1 to go on, else the exit status. */
static int scan(const pbr_command *cmd, int argc, char **argv, void *opts, char **args,
                int *nargs, const struct option *longopts, const char *shortopts)
{
    optind = 0; /* GNU: start afresh */
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
        const pbr_option *o = option_of(cmd, c);
        if (c == 1) {
            args[(*nargs)++] = optarg;
        } else if (c == ':') {
            const pbr_option *m = option_of(cmd, optopt);
            say(cmd, "--%s needs a value", m ? m->name : "?");
            return 2;
        } else if (c == '?') {
            tell_bad_option(cmd, argv[optind - 1], optopt);
            return 2;
        } else if (o) {
            int st = store(cmd, o, optarg, opts);
            if (st)
                return st;
        } else if (c == 'h') {
            pbr_command_help(cmd, stdout);
            return 0;
        } else if (c == 'V') {
            pbr_print_version(stdout);
            return 0;
        }
    }
    for (int i = optind; i < argc; i++) /* after "--" */
        args[(*nargs)++] = argv[i];
    return -1;
}

int pbr_command_parse(const pbr_command *cmd, int argc, char **argv, void *opts, char **args,
                      int *nargs)
{
    *nargs = 0;
    if (cmd->defaults)
        memcpy(opts, cmd->defaults, cmd->opts_size);
    else
        memset(opts, 0, cmd->opts_size);
    struct option *longopts = NULL;
    char *shortopts = NULL;
    char **copy = malloc(((size_t)argc + 1) * sizeof *copy);
    int status = 2;
    if (getopt_tables(cmd, &longopts, &shortopts) < 0 || !copy) {
        say(cmd, "out of memory");
    } else {
        memcpy(copy, argv, (size_t)argc * sizeof *copy);
        copy[argc] = NULL;
        status = scan(cmd, argc, copy, opts, args, nargs, longopts, shortopts);
        if (status < 0)
            status = check_required(cmd, opts) ? 2 : -1;
    }
    free(copy);
    free(longopts);
    free(shortopts);
    return status;
}

/* The operands are as many as the command takes? 0 or 2 (told). */
static int check_operands(const pbr_command *cmd, char **args, int nargs)
{
    if (!cmd->operands && nargs > 0) {
        say(cmd, "unexpected argument '%s' (try poolbench %s --help)", args[0], cmd->name);
        return 2;
    }
    if (nargs < cmd->min_operands) {
        say(cmd, "needs %s (try poolbench %s --help)", cmd->operands, cmd->name);
        return 2;
    }
    if (cmd->max_operands >= 0 && nargs > cmd->max_operands) {
        say(cmd, "unexpected argument '%s' (needs %s)", args[cmd->max_operands], cmd->operands);
        return 2;
    }
    return 0;
}

int pbr_command_main(const pbr_command *cmd, int argc, char **argv)
{
    void *opts = calloc(1, cmd->opts_size ? cmd->opts_size : 1);
    char **args = calloc((size_t)argc + 1, sizeof *args);
    if (!opts || !args) {
        say(cmd, "out of memory");
        free(opts);
        free(args);
        return 2;
    }
    int nargs = 0;
    /* argv[0] is the command's name: getopt starts after it. */
    int status = pbr_command_parse(cmd, argc, argv, opts, args, &nargs);
    if (status < 0 && (status = check_operands(cmd, args, nargs)) == 0) {
        pbr_args a = {.cmd = cmd, .opts = opts, .args = args, .nargs = nargs, .argc = argc,
                      .argv = argv};
        status = cmd->run(&a);
    }
    free(opts);
    free(args);
    return status;
}
