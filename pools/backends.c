/*
 * backends.c — the built-in backends, in the order `poolbench list` shows
 * them. Adding one: its file fills a pb_backend, and one line here.
 */
#include <stddef.h>

#include <pb/backend.h>

extern const pb_backend pb__backend_thread;
extern const pb_backend pb__backend_fork, pb__backend_exec; /* fork.c, exec.c */

const pb_backend *const pb__builtin_backends[] = {
    &pb__backend_thread,
    &pb__backend_fork, &pb__backend_exec,
    NULL,
};
