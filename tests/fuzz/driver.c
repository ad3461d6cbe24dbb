/*
 * driver.c — a deterministic stand-in for libFuzzer, for builds without
 * clang: runs a target's committed corpus, then a fixed number of seeded
 * mutations of it, under ctest.
 *
 *   DRIVER CORPUS_DIR [--iterations N] [--seed S] [--max-seconds T]
 *   DRIVER --replay FILE
 *
 * Mutations are the generic byte-level ones (bit flips, interesting bytes,
 * insertions, deletions, duplicated ranges, truncation, splicing two corpus
 * files) plus a few that know JSON: replace a number with an extreme one,
 * replace a string's contents with an awkward one, nest deeply, drop a
 * bracket. The same seed always produces the same inputs. When a check
 * fails or the program crashes (under a sanitizer, through its death
 * callback; otherwise through a signal handler), the input is written to
 * fuzz-crash-<pid>.bin in the current folder and its iteration printed, so
 * `DRIVER --replay FILE` reproduces it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fuzz.h"

#define PBF_MAX_INPUT (1u << 20)

typedef struct input {
    char *name;
    uint8_t *data;
    size_t size;
} input;

/* What is running, for the crash report. */
static const uint8_t *cur_data;
static size_t cur_size;
static long cur_iter = -1;
static const char *cur_seed_name = "";

static void dump_current(void)
{
    char path[64];
    snprintf(path, sizeof path, "fuzz-crash-%d.bin", (int)getpid());
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0) {
        size_t off = 0;
        while (cur_data && off < cur_size) {
            ssize_t w = write(fd, cur_data + off, cur_size - off);
            if (w <= 0)
                break;
            off += (size_t)w;
        }
        close(fd);
    }
    char msg[512];
    int n = snprintf(msg, sizeof msg,
                     "fuzz driver: failed on iteration %ld (from corpus file %s); the input is in %s "
                     "(replay: --replay %s)\n",
                     cur_iter, cur_seed_name, path, path);
    if (n > 0 && write(STDERR_FILENO, msg, (size_t)n) < 0) {
        /* nothing more to do */
    }
}

static void on_fatal(int sig)
{
    dump_current();
    signal(sig, SIG_DFL);
    raise(sig);
}

/* Sanitizers call this before they end the process (weak: absent without). */
void __sanitizer_set_death_callback(void (*callback)(void)) __attribute__((weak));

static uint64_t rng_state;

static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static size_t below(size_t n)
{
    return n ? (size_t)(rnd() % n) : 0;
}

static int load_file(const char *path, uint8_t **data, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -errno;
    uint8_t *buf = malloc(PBF_MAX_INPUT);
    size_t n = buf ? fread(buf, 1, PBF_MAX_INPUT, f) : 0;
    fclose(f);
    if (!buf)
        return -ENOMEM;
    uint8_t *fit = realloc(buf, n ? n : 1);
    *data = fit ? fit : buf;
    *size = n;
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const input *)a)->name, ((const input *)b)->name);
}

static input *load_corpus(const char *dir, size_t *n)
{
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "fuzz driver: cannot open corpus folder %s: %s\n", dir, strerror(errno));
        return NULL;
    }
    input *v = NULL;
    size_t cap = 0;
    *n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 16;
            input *m = realloc(v, cap * sizeof *m);
            if (!m)
                break;
            v = m;
        }
        if (load_file(path, &v[*n].data, &v[*n].size) == 0) {
            v[*n].name = strdup(e->d_name);
            (*n)++;
        }
    }
    closedir(d);
    if (*n)
        qsort(v, *n, sizeof *v, by_name);
    return v;
}

static const char *const interesting_numbers[] = {
    "0", "-1", "1", "-0", "0.5", "1e309", "-1e309", "1e-400", "2147483648", "-2147483649",
    "4294967296", "9223372036854775807", "9223372036854775808", "-9223372036854775809",
    "18446744073709551616", "1.7976931348623157e308", "NaN", "00", "1.", "-", "1e", "3.0",
};

static const char *const interesting_strings[] = {
    "", "x", "all", "none", "thread", "roundtrip", "timeout", "1ms", "0ns", "-5us", "1e400s",
    "18446744073709551616ns", "1,2,3", ",", "1,,2", "64KiB", "99999999GiB", "0-1", "3-1",
    "\\u0000", "\\ud800", "\\\\", "\\\"", "poolbench-results/1", "poolbench-results/2",
    "ok", "failed", "skipped", "lower", "higher", "count", "ns", "stress", "run",
    "0,2-3", "compact", "scatter", "via", "samples", "backends", "scenarios", "params", "name",
};

static const char interesting_bytes[] = "{}[]\":,-.0123456789eE+ \\\n\tnulltruefalse\x00\xff";

/* One mutation of buf[0..*len) (capacity PBF_MAX_INPUT). */
static void mutate(uint8_t *buf, size_t *len, const input *corpus, size_t ncorpus)
{
    size_t n = *len;
    switch (below(12)) {
    case 0: /* flip a bit */
        if (n)
            buf[below(n)] ^= (uint8_t)(1u << below(8));
        break;
    case 1: /* an interesting byte */
        if (n)
            buf[below(n)] = (uint8_t)interesting_bytes[below(sizeof interesting_bytes - 1)];
        break;
    case 2: /* insert an interesting byte */
        if (n + 1 < PBF_MAX_INPUT) {
            size_t at = below(n + 1);
            memmove(buf + at + 1, buf + at, n - at);
            buf[at] = (uint8_t)interesting_bytes[below(sizeof interesting_bytes - 1)];
            *len = n + 1;
        }
        break;
    case 3: /* delete a range */
        if (n) {
            size_t at = below(n), k = 1 + below(n - at < 32 ? n - at : 32);
            memmove(buf + at, buf + at + k, n - at - k);
            *len = n - k;
        }
        break;
    case 4: /* duplicate a range */
        if (n) {
            size_t at = below(n), k = 1 + below(n - at < 64 ? n - at : 64);
            if (n + k < PBF_MAX_INPUT) {
                size_t to = below(n + 1);
                uint8_t tmp[64];
                memcpy(tmp, buf + at, k);
                memmove(buf + to + k, buf + to, n - to);
                memcpy(buf + to, tmp, k);
                *len = n + k;
            }
        }
        break;
    case 5: /* truncate */
        *len = below(n + 1);
        break;
    case 6: /* splice: this one's head, another's tail */
        if (ncorpus) {
            const input *o = &corpus[below(ncorpus)];
            size_t head = below(n + 1), from = below(o->size + 1);
            size_t tail = o->size - from;
            if (head + tail > PBF_MAX_INPUT)
                tail = PBF_MAX_INPUT - head;
            memcpy(buf + head, o->data + from, tail);
            *len = head + tail;
        }
        break;
    case 7:   /* replace a number */
    case 8: { /* replace a string's contents */
        bool num = below(2) == 0;
        size_t start = below(n + 1), at = n;
        for (size_t i = start; i < n; i++)
            if (num ? ((buf[i] >= '0' && buf[i] <= '9') || buf[i] == '-') : buf[i] == '"') {
                at = i;
                break;
            }
        if (at >= n)
            break;
        size_t end = at + 1;
        if (num)
            while (end < n && strchr("0123456789.eE+-", buf[end]))
                end++;
        else
            while (end < n && buf[end] != '"')
                end += buf[end] == '\\' ? 2 : 1;
        if (end > n)
            end = n;
        if (!num)
            at++; /* keep the opening quote */
        const char *rep = num ? interesting_numbers[below(sizeof interesting_numbers /
                                                           sizeof interesting_numbers[0])]
                              : interesting_strings[below(sizeof interesting_strings /
                                                          sizeof interesting_strings[0])];
        char longrep[600];
        if (!num && below(16) == 0) {
            memset(longrep, 'a' + (int)below(26), sizeof longrep - 1);
            longrep[sizeof longrep - 1] = '\0';
            rep = longrep;
        }
        size_t rl = strlen(rep);
        if (n - (end - at) + rl >= PBF_MAX_INPUT)
            break;
        memmove(buf + at + rl, buf + end, n - end);
        memcpy(buf + at, rep, rl);
        *len = n - (end - at) + rl;
        break;
    }
    case 9: { /* nest deeply */
        size_t depth = 1 + below(3000);
        if (n + 2 * depth >= PBF_MAX_INPUT)
            break;
        size_t at = below(n + 1);
        memmove(buf + at + 2 * depth, buf + at, n - at);
        for (size_t i = 0; i < depth; i++) {
            buf[at + i] = '[';
            buf[at + depth + i] = ']';
        }
        *len = n + 2 * depth;
        break;
    }
    case 10: /* drop a bracket or brace */
        for (size_t tries = 0; tries < 64 && n; tries++) {
            size_t at = below(n);
            if (strchr("{}[]", buf[at]) && buf[at]) {
                memmove(buf + at, buf + at + 1, n - at - 1);
                *len = n - 1;
                break;
            }
        }
        break;
    default: /* swap two bytes */
        if (n > 1) {
            size_t i = below(n), j = below(n);
            uint8_t t = buf[i];
            buf[i] = buf[j];
            buf[j] = t;
        }
    }
}

static void run_one(const uint8_t *data, size_t size)
{
    cur_data = data;
    cur_size = size;
    LLVMFuzzerTestOneInput(data, size);
}

static int usage(void)
{
    fprintf(stderr, "usage: fuzz driver CORPUS_DIR [--iterations N] [--seed S] [--max-seconds T]\n"
                    "       fuzz driver --replay FILE\n");
    return 2;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage();
    signal(SIGSEGV, on_fatal);
    signal(SIGBUS, on_fatal);
    signal(SIGABRT, on_fatal);
    signal(SIGFPE, on_fatal);
    if (__sanitizer_set_death_callback)
        __sanitizer_set_death_callback(dump_current);

    if (!strcmp(argv[1], "--replay")) {
        if (argc != 3)
            return usage();
        uint8_t *data;
        size_t size;
        int r = load_file(argv[2], &data, &size);
        if (r) {
            fprintf(stderr, "fuzz driver: cannot read %s: %s\n", argv[2], strerror(-r));
            return 2;
        }
        cur_seed_name = argv[2];
        run_one(data, size);
        free(data);
        printf("fuzz driver: %s passed\n", argv[2]);
        return 0;
    }

    long iterations = 20000;
    uint64_t seed = 1;
    double max_seconds = 60;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--iterations") && i + 1 < argc)
            iterations = strtol(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
            seed = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--max-seconds") && i + 1 < argc)
            max_seconds = strtod(argv[++i], NULL);
        else
            return usage();
    }
    size_t ncorpus = 0;
    input *corpus = load_corpus(argv[1], &ncorpus);
    if (!corpus || !ncorpus) {
        fprintf(stderr, "fuzz driver: no corpus files in %s\n", argv[1]);
        return 2;
    }
    for (size_t i = 0; i < ncorpus; i++) {
        cur_seed_name = corpus[i].name;
        run_one(corpus[i].data, corpus[i].size);
    }

    rng_state = seed;
    uint8_t *buf = malloc(PBF_MAX_INPUT);
    if (!buf)
        return 1;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    long done = 0;
    for (long it = 0; it < iterations; it++) {
        const input *in = &corpus[(size_t)it % ncorpus];
        size_t len = in->size;
        memcpy(buf, in->data, len);
        int k = 1 + (int)below(4);
        for (int m = 0; m < k; m++)
            mutate(buf, &len, corpus, ncorpus);
        cur_iter = it;
        cur_seed_name = in->name;
        run_one(buf, len);
        done++;
        /* A time limit keeps slow (sanitizer) builds within the test's budget;
         * the inputs up to it are still the same for a seed. */
        if ((it & 255) == 0) {
            clock_gettime(CLOCK_MONOTONIC, &t1);
            if ((t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9 > max_seconds)
                break;
        }
    }
    printf("fuzz driver: %zu corpus files and %ld mutated inputs (seed %llu) passed\n", ncorpus,
           done, (unsigned long long)seed);
    for (size_t i = 0; i < ncorpus; i++) {
        free(corpus[i].name);
        free(corpus[i].data);
    }
    free(corpus);
    free(buf);
    return 0;
}
