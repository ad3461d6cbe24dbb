/*
 * command.h — a poolbench command: its table entry, and the one parser of
 * every command's arguments (command.c).
 *
 * A command is one file that defines one pbr_command: its name and summary
 * (for `poolbench --help`), its usage text, a table of its options, the
 * struct the options are parsed into, and the function that runs it with
 * the options parsed. The program (harness/main.c) lists the entries, one
 * line each, and hands argv to pbr_command_main(), which parses, answers
 * --help and --version, refuses bad arguments, and only then runs the
 * command. So adding a command is its own file plus one line in that list,
 * and adding an option is one row in its command's table: the parser, the
 * help text and the error messages follow from the row.
 *
 * The conventions, the same for every command (GNU getopt_long's):
 *   --name VALUE and --name=VALUE; a short -k VALUE or -kVALUE where the
 *   option has one; flags cluster (-qV); an unambiguous prefix of a long
 *   name stands for it (--rep for --repetitions); options and operands may
 *   come in any order; `--` ends the options, so what follows is an operand
 *   even if it starts with '-'; `-` alone is an operand or a value like any
 *   other (by convention, standard input or output); -h/--help prints the
 *   usage and exits 0; -V/--version prints the version and exits 0.
 * Every bad argument gets one line on stderr, "poolbench CMD: ...", naming
 * the argument and what was expected, and exit status 2.
 *
 * Why here: the results library is the lowest layer with commands of its
 * own (compare, export, history); the plots library above it and the
 * harness above both declare theirs with the same table type, so no
 * library reaches up into the harness for it.
 */
#ifndef PB_RESULTS_COMMAND_H
#define PB_RESULTS_COMMAND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum pbr_opt_kind {
    PBR_OPT_FLAG,   /* bool, set to true; takes no value */
    PBR_OPT_STRING, /* const char *, the value as given (borrowed from argv) */
    PBR_OPT_CHOICE, /* const char *, one of `choices` */
    PBR_OPT_INT,    /* int, a whole number in [min, max] */
    PBR_OPT_U64,    /* uint64_t, a whole number in [min, max] */
    PBR_OPT_REAL,   /* double, a finite number in [min, max] (min excluded if `above`) */
    PBR_OPT_CALL,   /* any field: call() reads the value into it */
} pbr_opt_kind;

typedef struct pbr_option {
    const char *name;  /* the long name, without "--"; NULL ends the table */
    char key;          /* the short name (-k), or 0 */
    pbr_opt_kind kind;
    size_t field;      /* offset of the field in the command's options struct */
    const char *arg;   /* the value's name in the help ("FILE"); NULL for flags */
    const char *help;  /* one or more lines ('\n' between them) */
    /* What a good value is, for messages: "a file name" (STRING: then ""
     * is refused), "a number of seconds" (numbers; default "a whole
     * number" or "a number"). */
    const char *expect;
    double min, max;   /* INT, U64, REAL: the range (max INFINITY: none) */
    bool above;        /* REAL: the value must be above min */
    bool required;     /* STRING, CHOICE: the command cannot run without it */
    const char *const *choices; /* CHOICE: NULL-terminated */
    /* CALL: reads value into field; 0, or -1 with err ("what is wrong",
     * printed after "poolbench CMD: --name: "). */
    int (*call)(const char *value, void *field, char *err, size_t errlen);
} pbr_option;

/* Type-checked table rows: PBR__FIELD does not compile when the member is
 * not of the type the option kind writes. */
#define PBR__FIELD(type, member, ctype) \
    (offsetof(type, member) + 0 * sizeof(_Generic(((type *)0)->member, ctype: 1)))
#define PBR_FLAG(type, member) .kind = PBR_OPT_FLAG, .field = PBR__FIELD(type, member, bool)
#define PBR_STRING(type, member) \
    .kind = PBR_OPT_STRING, .field = PBR__FIELD(type, member, const char *)
#define PBR_CHOICE(type, member, ...)                                                   \
    .kind = PBR_OPT_CHOICE, .field = PBR__FIELD(type, member, const char *),            \
    .choices = (const char *const[]){__VA_ARGS__, NULL}
#define PBR_INT(type, member, lo, hi) \
    .kind = PBR_OPT_INT, .field = PBR__FIELD(type, member, int), .min = (lo), .max = (hi)
#define PBR_U64(type, member, lo, hi) \
    .kind = PBR_OPT_U64, .field = PBR__FIELD(type, member, uint64_t), .min = (lo), .max = (hi)
#define PBR_REAL(type, member, lo, hi) \
    .kind = PBR_OPT_REAL, .field = PBR__FIELD(type, member, double), .min = (lo), .max = (hi)
#define PBR_CALL(type, member, fn) \
    .kind = PBR_OPT_CALL, .field = offsetof(type, member), .call = (fn)

typedef struct pbr_command pbr_command;

/* What a command runs with. */
typedef struct pbr_args {
    const pbr_command *cmd;
    const void *opts;  /* the command's options struct, parsed */
    char **args;       /* the operands, in the order given */
    int nargs;
    int argc;          /* the command line after "poolbench", unchanged: */
    char **argv;       /* argv[0] is the command's name */
} pbr_args;

struct pbr_command {
    const char *name;     /* "compare" */
    const char *summary;  /* one line for `poolbench --help` */
    const char *synopsis; /* after "usage: poolbench NAME ": "BASE.json NEW.json [OPTIONS]" */
    const char *about;    /* what it does: a paragraph, or several */
    const char *epilogue; /* after the options (the exit status), or NULL */
    void (*more_help)(FILE *out); /* help the table cannot hold (plot: the charts), or NULL */
    const pbr_option *options; /* ended by a NULL name; NULL: none */
    size_t opts_size;          /* the options struct's size */
    const void *defaults;      /* its values before parsing (NULL: all zero) */
    /* Operands: what they are, for messages ("two results files, BASE.json
     * and NEW.json"; NULL: the command takes none), and how many. */
    const char *operands;
    int min_operands, max_operands; /* max < 0: no limit */
    int (*run)(const pbr_args *a);  /* returns the exit status */
};

/* Parses argv (argv[0] is the command's name) as cmd says, then runs it.
 * Returns the exit status: the command's, or 0 after --help or --version,
 * or 2 after a bad argument (one line on stderr), or 2 without memory. */
int pbr_command_main(const pbr_command *cmd, int argc, char **argv);

/* The parsing step alone: fills opts (cmd->opts_size bytes, starting from
 * cmd->defaults) and args[0..*nargs) (args has room for argc entries, and
 * points into argv). Returns -1 when the command is to run, else the exit
 * status to return at once: 0 after --help or --version (printed on
 * stdout), 2 after a bad argument (told on stderr). */
int pbr_command_parse(const pbr_command *cmd, int argc, char **argv, void *opts, char **args,
                      int *nargs);

/* Prints cmd's usage. */
void pbr_command_help(const pbr_command *cmd, FILE *out);

/* "poolbench 0.1.0" and a newline. */
void pbr_print_version(FILE *out);

#endif /* PB_RESULTS_COMMAND_H */
