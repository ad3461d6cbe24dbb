/*
 * fuzz_results.c — fuzz target for the results-file reader: pbr_read() and
 * pbr_validate() (results/document.c), through which compare, export,
 * history and plot read every results file.
 *
 * The input is a file's bytes. Promises checked:
 *   - pbr_read either returns a document or refuses with one line naming
 *     the file;
 *   - a document it returns passes pbr_validate (the reader and the
 *     validator agree), every case has a label and a params key, and the
 *     document written back out as JSON reads back equal and valid (what
 *     compare and export rely on);
 *   - pbr_validate of any JSON value refuses with one line naming it.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "results.h"

static int input_fd = -1;
static char input_path[64];

/* The input as a file (a memfd, read back through /proc/self/fd). */
static const char *as_file(const uint8_t *data, size_t size)
{
    if (input_fd < 0) {
        input_fd = memfd_create("fuzz-results", MFD_CLOEXEC);
        if (input_fd < 0)
            pbf_fail("memfd_create failed");
        snprintf(input_path, sizeof input_path, "/proc/self/fd/%d", input_fd);
    }
    if (ftruncate(input_fd, 0) != 0)
        pbf_fail("ftruncate failed");
    size_t off = 0;
    while (off < size) {
        ssize_t w = pwrite(input_fd, data + off, size - off, (off_t)off);
        if (w <= 0)
            pbf_fail("pwrite failed");
        off += (size_t)w;
    }
    return input_path;
}

static void check_document(json_t *doc)
{
    char err[1024] = "";
    if (pbr_validate(doc, "again", err, sizeof err) != 0)
        pbf_fail("pbr_read accepted a document that pbr_validate refuses: %s", err);
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(doc, "results"), i, c) {
        char *label = pbr_case_label(c);
        char *key = pbr_params_key(json_object_get(c, "params"));
        if (!label || !key)
            pbf_fail("case %zu of an accepted document has no label or params key", i);
        free(label);
        free(key);
    }
    /* Written back the way the writer does, it must read back the same. */
    char *text = json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(17));
    if (!text)
        pbf_fail("json_dumps failed on an accepted document");
    json_error_t je;
    json_t *back = json_loads(text, 0, &je);
    free(text);
    if (!back)
        pbf_fail("an accepted document written back does not parse: %s", je.text);
    if (pbr_validate(back, "back", err, sizeof err) != 0)
        pbf_fail("an accepted document written back does not validate: %s", err);
    if (!json_equal(doc, back))
        pbf_fail("an accepted document written back reads back different");
    json_decref(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = as_file(data, size);
    char err[1024] = "";
    json_t *doc = pbr_read(path, err, sizeof err);
    if (doc) {
        check_document(doc);
        json_decref(doc);
    } else {
        char prefix[80];
        snprintf(prefix, sizeof prefix, "%s: ", path);
        pbf_check_message("pbr_read", err, prefix);
    }

    /* Any JSON value at all, straight to the validator. */
    json_error_t je;
    json_t *v = json_loadb((const char *)data, size, JSON_DECODE_ANY, &je);
    if (v) {
        err[0] = '\0';
        if (pbr_validate(v, "value", err, sizeof err) != 0)
            pbf_check_message("pbr_validate", err, "value: ");
        json_decref(v);
    }
    return 0;
}
