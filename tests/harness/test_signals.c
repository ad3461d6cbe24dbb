/*
 * test_signals.c — the stop signals of the commands that measure
 * (harness/signals.c), each case in a child process so the program's end
 * can be observed:
 *   - SIGINT, SIGTERM, SIGHUP ask to stop (pbh_stop) and end nothing;
 *   - several at once are one request: the program goes on;
 *   - one that insists (a second or more after the first) ends the program
 *     with status 130 at once, or, while results are written, only when the
 *     write is done — never in the middle of it;
 *   - pbh_write_results() leaves the file whole and no temporary beside it.
 * The children sleep past the one-second line between "the same request"
 * and "insisting"; nothing checks how long anything took.
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "results.h"
#include "runner.h"
#include "signals.h"

static void nap_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* Runs body in a child; returns its exit status (128 + signal if killed).
 * The child's progress marks arrive on *marks (the read end of a pipe). */
static int in_child(void (*body)(int fd), char *marks, size_t len)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        body(p[1]);
        _exit(0);
    }
    close(p[1]);
    size_t got = 0;
    ssize_t r;
    while (got + 1 < len && (r = read(p[0], marks + got, len - 1 - got)) != 0)
        if (r > 0)
            got += (size_t)r;
    marks[got] = '\0';
    close(p[0]);
    int ws;
    while (waitpid(pid, &ws, 0) < 0)
        assert_int_equal(errno, EINTR);
    return WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
}

static void mark(int fd, const char *m)
{
    ssize_t w = write(fd, m, strlen(m));
    (void)w;
}

static void one_request(int fd)
{
    pbh_signals_saved saved;
    pbh_signals_catch(&saved);
    raise(SIGHUP);
    mark(fd, pbh_stop ? "stop " : "nostop ");
    raise(SIGTERM); /* the same request, delivered again at once */
    raise(SIGINT);
    mark(fd, "alive ");
    pbh_signals_restore(&saved);
    _exit(0);
}

static void test_one_request(void **state)
{
    (void)state;
    char marks[128];
    assert_int_equal(in_child(one_request, marks, sizeof marks), 0);
    assert_string_equal(marks, "stop alive ");
}

static void insist(int fd)
{
    pbh_signals_saved saved;
    pbh_signals_catch(&saved);
    raise(SIGINT);
    mark(fd, "asked ");
    nap_ms(1200);
    raise(SIGINT); /* insisting: the program ends here */
    mark(fd, "survived ");
    _exit(0);
}

static void test_insist(void **state)
{
    (void)state;
    char marks[128];
    assert_int_equal(in_child(insist, marks, sizeof marks), 130);
    assert_string_equal(marks, "asked ");
}

static void insist_while_writing(int fd)
{
    pbh_signals_saved saved;
    pbh_signals_catch(&saved);
    raise(SIGTERM);
    nap_ms(1200);
    pbh_signals_hold(true); /* a write begins */
    raise(SIGTERM);
    mark(fd, "write-finished ");
    pbh_signals_hold(false); /* the write is done: now it ends */
    mark(fd, "survived ");
    _exit(0);
}

static void test_insist_while_writing(void **state)
{
    (void)state;
    char marks[128];
    assert_int_equal(in_child(insist_while_writing, marks, sizeof marks), 130);
    assert_string_equal(marks, "write-finished ");
}

static void test_write_results(void **state)
{
    (void)state;
    char dir[] = "/tmp/pbh-signals-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128], err[256];
    snprintf(path, sizeof path, "%s/r.json", dir);
    json_t *doc = pbr_document_new(json_pack("{s:s}", "kind", "run"), json_object());
    for (int i = 0; i < 3; i++) {
        json_array_append_new(json_object_get(doc, "results"), json_pack("{s:i}", "n", i));
        assert_int_equal(pbh_write_results(path, doc, err, sizeof err), 0);
        json_error_t je;
        json_t *back = json_load_file(path, 0, &je);
        assert_non_null(back);
        assert_int_equal(json_array_size(json_object_get(back, "results")), (size_t)i + 1);
        json_decref(back);
    }
    json_decref(doc);
    /* The file and nothing else: every temporary became it. */
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            assert_string_equal(e->d_name, "r.json");
            n++;
        }
    closedir(d);
    assert_int_equal(n, 1);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_request),
        cmocka_unit_test(test_insist),
        cmocka_unit_test(test_insist_while_writing),
        cmocka_unit_test(test_write_results),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
