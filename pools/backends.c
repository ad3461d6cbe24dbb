/*
 * backends.c — the built-in backends, in the order `poolbench list` shows
 * them. Adding one: its file fills a pb_backend, and one line here.
 */
#include <stddef.h>

#include <pb/backend.h>

extern const pb_backend pb__backend_thread;
extern const pb_backend pb__backend_fork, pb__backend_exec; /* fork.c, exec.c */
#ifdef PB_HAVE_GLIB
extern const pb_backend pb__backend_glib; /* adapters/glib.c */
#endif
#ifdef PB_HAVE_LIBUV
extern const pb_backend pb__backend_libuv; /* adapters/libuv.c */
#endif

const pb_backend *const pb__builtin_backends[] = {
    &pb__backend_thread,
    &pb__backend_fork, &pb__backend_exec,
#ifdef PB_HAVE_GLIB
    &pb__backend_glib,
#endif
#ifdef PB_HAVE_LIBUV
    &pb__backend_libuv,
#endif
    NULL,
};
