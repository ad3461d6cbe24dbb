/*
 * matrix.c — results from many hosts: `poolbench merge`, and reading any
 * kind of poolbench file.
 *
 * A CI job that runs the suite on a matrix of runners gets one results file
 * per runner. `merge` bundles them into one file ("poolbench-matrix/1",
 * FORMAT.md) that keeps each run whole — its environment, its floor, its
 * cases — under its host's name. Nothing is mixed: a number measured on one
 * machine is only ever compared with the same machine's, unless a reader is
 * told otherwise (compare --across-hosts). Every reader that takes results
 * files takes a matrix as the runs it holds (pbr_read_all), named
 * "FILE[host]"; compare matches a matrix's runs to another's by host.
 *
 * A matrix holds one run per host: two runs of one host would be two
 * points of its history, not two machines, and a merge that got them is
 * refused with the names of both files (`poolbench run --host NAME` names a
 * runner whose hostname is not telling).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "command.h"
#include "results-int.h"
#include "results.h"

const char *pbr_doc_host(const json_t *doc)
{
    return pbr_json_str(json_object_get(doc, "environment"), "host", "");
}

static int matrix_validate(const json_t *doc, const char *name, char *err, size_t errlen)
{
    const json_t *runs = json_object_get(doc, "runs");
    if (!json_is_array(runs) || json_array_size(runs) == 0) {
        snprintf(err, errlen, "%s: a matrix without runs", name);
        return -EINVAL;
    }
    size_t i;
    json_t *r;
    json_array_foreach(runs, i, r)
    {
        char at[1024];
        snprintf(at, sizeof at, "%s: runs[%zu]", name, i);
        if (pbr_validate(r, at, err, errlen) < 0)
            return -EINVAL;
        for (size_t k = 0; k < i; k++)
            if (!strcmp(pbr_doc_host(json_array_get(runs, k)), pbr_doc_host(r))) {
                snprintf(err, errlen, "%s: runs[%zu] and runs[%zu] both come from host '%s'",
                         name, k, i, pbr_doc_host(r));
                return -EINVAL;
            }
    }
    return 0;
}

json_t *pbr_read_any(const char *path, pbr_file_kind *kind, char *err, size_t errlen)
{
    json_t *doc = pbr__load(path, err, errlen);
    if (!doc)
        return NULL;
    const char *schema = pbr_json_str(doc, "schema", "");
    int rc;
    if (!strcmp(schema, PBR_MATRIX_SCHEMA)) {
        *kind = PBR_FILE_MATRIX;
        rc = matrix_validate(doc, path, err, errlen);
    } else if (!strcmp(schema, PBR_AB_SCHEMA)) {
        *kind = PBR_FILE_AB;
        rc = pbr_ab_validate(doc, path, err, errlen);
    } else if (!strcmp(schema, PBR_NOISE_SCHEMA)) {
        *kind = PBR_FILE_NOISE;
        rc = pbr_noise_validate(doc, path, err, errlen);
    } else {
        *kind = PBR_FILE_RESULTS;
        rc = pbr_validate(doc, path, err, errlen);
    }
    if (rc < 0) {
        json_decref(doc);
        return NULL;
    }
    return doc;
}

/* ------------------------------------------------------------------------
 * poolbench merge
 * ------------------------------------------------------------------------ */

typedef struct merge_opts {
    const char *out;
} merge_opts;

static const pbr_option merge_options[] = {
    {.name = "out", .key = 'o', PBR_STRING(merge_opts, out), .arg = "FILE",
     .expect = "a file name", .required = true, .help = "where to write the merged file"},
    {0},
};

static int run_merge(const pbr_args *a);

const pbr_command pbr_merge_command = {
    .name = "merge",
    .summary = "merge results files from several hosts into one, each host's runs apart",
    .synopsis = "FILE... --out MATRIX.json",
    .about = "Bundles the results files of several hosts (a CI matrix of runners) into one\n"
             "file that keeps each run whole under its host's name: compare, history and\n"
             "plot read it as those runs, and compare matches two such files host by\n"
             "host. A file may itself be a merged one. One run per host: two runs of one\n"
             "host are refused (`poolbench run --host NAME` names a runner).",
    .epilogue = "exit status: 0 written, 2 bad usage, an unreadable or foreign file, two runs\n"
                "of one host, or a file that cannot be written",
    .options = merge_options,
    .opts_size = sizeof(merge_opts),
    .operands = "results files to merge",
    .min_operands = 1,
    .max_operands = -1,
    .run = run_merge,
};

static int run_merge(const pbr_args *a)
{
    const merge_opts *o = a->opts;
    char err[1024];
    json_t *runs = json_array(), *hosts = json_array(), *from = json_array();
    int status = runs && hosts && from ? 0 : 2;
    for (int i = 0; status == 0 && i < a->nargs; i++) {
        pbr_file_kind kind;
        json_t *doc = pbr_read_any(a->args[i], &kind, err, sizeof err);
        if (!doc) {
            fprintf(stderr, "poolbench merge: %s\n", err);
            status = 2;
            break;
        }
        if (kind == PBR_FILE_AB || kind == PBR_FILE_NOISE) {
            fprintf(stderr, "poolbench merge: %s: %s, not a results file\n", a->args[i],
                    pbr__schema_what(pbr_json_str(doc, "schema", "")));
            json_decref(doc);
            status = 2;
            break;
        }
        size_t n = kind == PBR_FILE_MATRIX ? json_array_size(json_object_get(doc, "runs")) : 1;
        for (size_t k = 0; status == 0 && k < n; k++) {
            json_t *r = kind == PBR_FILE_MATRIX ? json_array_get(json_object_get(doc, "runs"), k)
                                                : doc;
            const char *host = pbr_doc_host(r);
            size_t j;
            json_t *h;
            json_array_foreach(hosts, j, h)
            {
                if (!strcmp(json_string_value(h), host)) {
                    fprintf(stderr,
                            "poolbench merge: %s and %s both hold a run of host '%s': a merged "
                            "file keeps one run per host (poolbench run --host NAME names a "
                            "runner)\n",
                            json_string_value(json_array_get(from, j)), a->args[i], host);
                    status = 2;
                    break;
                }
            }
            if (status == 0 && (json_array_append(runs, r) ||
                                json_array_append_new(hosts, json_string(host)) ||
                                json_array_append_new(from, json_string(a->args[i]))))
                status = 2;
        }
        json_decref(doc);
    }
    json_t *m = NULL;
    if (status == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        m = json_pack("{s:s, s:f, s:O, s:O}", "schema", PBR_MATRIX_SCHEMA, "merged_unix",
                      ts.tv_sec + ts.tv_nsec / 1e9, "hosts", hosts, "runs", runs);
        if (!m) {
            fprintf(stderr, "poolbench merge: out of memory\n");
            status = 2;
        }
    }
    if (status == 0 && pbr_write_atomic(o->out, m, err, sizeof err) < 0) {
        fprintf(stderr, "poolbench merge: %s\n", err);
        status = 2;
    }
    if (status == 0)
        printf("merged %zu run%s (%s", json_array_size(runs),
               json_array_size(runs) == 1 ? "" : "s", "hosts:");
    if (status == 0) {
        size_t j;
        json_t *h;
        json_array_foreach(hosts, j, h) printf(" %s", json_string_value(h));
        printf(") into %s\n", o->out);
    }
    json_decref(m);
    json_decref(runs);
    json_decref(hosts);
    json_decref(from);
    return status;
}
