/*
 * fuzz.h — what the fuzz targets share.
 *
 * Each target (fuzz_results.c, fuzz_suite.c) defines LLVMFuzzerTestOneInput
 * and checks, beyond "no crash", what the code under test promises about
 * bad input: a refusal is exactly one line that names the input. A broken
 * promise calls pbf_fail(), which prints and aborts, so libFuzzer and the
 * deterministic driver (driver.c) both record it as a crash.
 *
 * Built two ways:
 *   - with clang and -DPB_FUZZ=ON, as libFuzzer programs (fuzz_results,
 *     fuzz_suite) that take libFuzzer's options and a corpus folder;
 *   - otherwise, linked with driver.c, as deterministic programs
 *     (fuzz_results_driver, fuzz_suite_driver) that run the committed corpus and a fixed
 *     number of seeded mutations of it under ctest.
 */
#ifndef PBF_FUZZ_H
#define PBF_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Prints "fuzz: " and the message, then aborts. */
_Noreturn void pbf_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Checks that a refusal message is one non-empty line starting with
 * prefix; fails otherwise. what names the call for the report. */
void pbf_check_message(const char *what, const char *msg, const char *prefix);

#endif
