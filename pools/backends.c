/*
 * backends.c — the built-in backends, in the order `poolbench list` shows
 * them. Adding one: its file fills a pb_backend, and one line here.
 *
 * Adapters over other libraries (GLib, libuv, oneTBB, OpenMP, Boost.Asio,
 * MPI, CPython) are built as loadable modules (pools/adapters/CMakeLists.txt)
 * and listed in the second table: pool.c loads one the first time its
 * backend is looked up, so a program that never uses it — every exec worker
 * among them — does not load that library. One module may back several
 * names (pb-python.so: py-thread, py-process, py-mp).
 */
#include <stddef.h>

#include "core-int.h"

extern const pb_backend pb__backend_thread;
extern const pb_backend pb__backend_fork, pb__backend_exec; /* fork.c, exec.c */

const pb_backend *const pb__builtin_backends[] = {
    &pb__backend_thread,
    &pb__backend_fork,
    &pb__backend_exec,
    NULL,
};

pb__module_backend pb__module_backends[] = {
#ifdef PB_HAVE_GLIB
    {.name = "glib", .file = "pb-glib.so", .symbol = "pb__backend_glib"},
#endif
#ifdef PB_HAVE_LIBUV
    {.name = "libuv", .file = "pb-libuv.so", .symbol = "pb__backend_libuv"},
#endif
#ifdef PB_HAVE_TBB
    {.name = "tbb", .file = "pb-tbb.so", .symbol = "pb__backend_tbb"},
#endif
#ifdef PB_HAVE_OPENMP
    {.name = "openmp", .file = "pb-openmp.so", .symbol = "pb__backend_openmp"},
#endif
#ifdef PB_HAVE_ASIO
    {.name = "asio", .file = "pb-asio.so", .symbol = "pb__backend_asio"},
#endif
#ifdef PB_HAVE_MPI
    /* Its workers are the ranks mpiexec starts: Open MPI sets
     * OMPI_COMM_WORLD_SIZE in each, and pb_worker_main_if_requested() hands
     * such a process to the module first thing (mpi-rank.c). */
    {.name = "mpi", .file = "pb-mpi.so", .symbol = "pb__backend_mpi",
     .launch_env = "OMPI_COMM_WORLD_SIZE", .worker_symbol = "pb__mpi_worker_main"},
#endif
#ifdef PB_HAVE_PYTHON /* one module, three backends */
    {.name = "py-thread", .file = "pb-python.so", .symbol = "pb__backend_py_thread"},
    {.name = "py-process", .file = "pb-python.so", .symbol = "pb__backend_py_process"},
    {.name = "py-mp", .file = "pb-python.so", .symbol = "pb__backend_py_mp"},
#endif
    {.name = NULL},
};
