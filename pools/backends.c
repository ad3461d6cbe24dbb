/*
 * backends.c — the built-in backends, in the order `poolbench list` shows
 * them. Adding one: its file fills a pb_backend, and one line here.
 */
#include <stddef.h>

#include <pb/backend.h>

extern const pb_backend pb__backend_thread;

const pb_backend *const pb__builtin_backends[] = {
    &pb__backend_thread,
    NULL,
};
