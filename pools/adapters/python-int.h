/*
 * python-int.h — what the two halves of pb-python.so share: the embedded
 * interpreter (python-embed.c) and the three backends (python.c).
 *
 * python.c's essay says how the backends work; python-embed.c's how the
 * interpreter lives inside a host program. Everything here that touches a
 * PyObject needs the GIL, except where a comment says otherwise.
 */
#ifndef PB_PYTHON_INT_H
#define PB_PYTHON_INT_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <pb/backend.h>

#include "placement-int.h"

/* ---- The interpreter (python-embed.c) ---- */

/* Starts CPython once per process (later calls return the first call's
 * answer). Returns 0, or a negative code with pb_backend_error() set to a
 * line saying what is missing (the interpreter, poolbench_host.py, ...). */
int pbpy_start(const char *backend);

/* Takes the GIL in the calling thread, adding the time that took to the
 * thread's "gil_wait_ns". A host thread keeps its Python thread state from
 * its first call on (made then, freed when the thread exits), so later
 * calls cost only the GIL itself. */
PyGILState_STATE pbpy_enter(void);
void pbpy_leave(PyGILState_STATE s);

/* The calling thread's GIL wait so far, in ns (no GIL needed). */
int64_t pbpy_gil_wait_ns(void);

/* What the interpreter start left for the backends (borrowed, immortal for
 * the life of the process). */
typedef struct pbpy_globals {
    PyObject *host;         /* module poolbench_host */
    PyObject *twins;        /* module poolbench_twins */
    PyObject *twin_table;   /* poolbench_twins.TWINS: name -> twin */
    PyObject *run_chunk;    /* poolbench_twins.run_chunk */
    PyObject *run_tracked;  /* poolbench_twins.run_tracked */
    PyObject *task_failed;  /* poolbench_twins.TaskFailed */
    PyObject *broken;       /* concurrent.futures.BrokenExecutor */
    PyObject *cancelled;    /* concurrent.futures.CancelledError */
    PyObject *partial;      /* functools.partial */
    PyObject *s_add_done_callback, *s_cancel, *s_result, *s_exception, *s_shutdown, *s_close,
        *s_join,
        *s_terminate, *s_pb_times, *s_code, *s_message;
} pbpy_globals;
extern pbpy_globals pbpy;

/* The twin of task (borrowed), or NULL with no exception set when there is
 * none. Cached per task. */
PyObject *pbpy_twin(const pb_task *task);

/* Fails with PB_ENOTSUP and a message naming a task that has no twin. */
int pbpy_no_twin(const char *backend, const char *task);

/* The current Python exception as "TypeName: message" in buf; clears it. */
void pbpy_describe_error(char *buf, size_t size);

/* ---- The pool object and the future reference (python-embed.c) ---- */

typedef enum { PBPY_THREAD, PBPY_PROCESS, PBPY_MP } pbpy_kind;

typedef struct pbpy_ref pbpy_ref;

/* One pool. A Python object, so that the references of its futures (which
 * Python may hold after the pool is destroyed) keep what they touch alive. */
typedef struct pbpy_pool {
    PyObject_HEAD
    pbpy_kind kind;
    const char *name;    /* the backend's name */
    int workers;
    PyObject *impl;      /* the executor or multiprocessing.Pool */
    PyObject *submit;    /* impl.submit / impl.apply_async */
    PyObject *map_async; /* py-mp: impl.map_async */
    PyObject *manager;   /* py-process: the executor's manager thread, once known */
    bool cancel_asked;   /* a shutdown asked for cancel_futures (it stays asked) */
    char (*bindings)[128]; /* per worker: the CPUs it is bound to, "" if none */

    /* Process pools: the slot table shared with the workers (a memfd the
     * pool owns; poolbench_twins._Slots): int64 words, the pid owning each
     * worker slot, then (py-mp) the future each slot last started and the
     * ring of futures of slots taken over from dead owners (word 0 counts,
     * (future, pid) pairs follow). Workers write it, the pool reads it. */
    int slots_fd;
    int64_t *slots;
    size_t slots_size;

    /* The futures this pool holds a reference to (its pbpy_refs not yet
     * complete), so shutdown can wait for them. Guarded by mu, which is
     * taken with or without the GIL but never held while taking the GIL. */
    pthread_mutex_t mu;
    pthread_cond_t idle;
    pbpy_ref *outstanding; /* a doubly linked list */
    size_t noutstanding;
    bool closed;           /* py-mp: close() called */
} pbpy_pool;

/* The backend's reference to one poolbench future, as a Python object: the
 * done-callback (ProcessPoolExecutor, ThreadPoolExecutor: called with the
 * Python future; multiprocessing.Pool: with the result or the exception),
 * and what the Future subclass of poolbench_host calls (running(),
 * noticed()). It owns one reference to the poolbench future, released when
 * Python frees it. */
struct pbpy_ref {
    PyObject_HEAD
    pb_future *f;
    pbpy_pool *pool;     /* strong */
    PyObject *pyf;       /* executors: the Python future, until done (for cancel) */
    pbpy_ref *prev, *next; /* pool->outstanding (pool->mu) */
    bool linked;
    bool chunk;          /* f is a map chunk (task pb__chunk) */
    int suspect;         /* py-mp: shutdown checks that found its worker dead */
};

extern PyTypeObject pbpy_pool_type, pbpy_ref_type;

/* py-mp: how many (future, pid) pairs of dead workers' slots the ring keeps. */
#define PBPY_ORPHANS 128

/* A new reference for f (taking over the reference the core gave the
 * backend), linked into pool's outstanding list. NULL with an exception. */
pbpy_ref *pbpy_ref_new(pbpy_pool *pool, pb_future *f, bool chunk);

/* Gives f back to the core (a failed submit): the ref no longer owns it. */
void pbpy_ref_disown(pbpy_ref *ref);

/* Takes ref out of the outstanding list (idempotent) and drops its Python
 * future. */
void pbpy_ref_unlink(pbpy_ref *ref);

/* Hands ref to the Future the calling thread's executor.submit() is about
 * to make (poolbench_host.Future takes it with _poolbench.take()). */
void pbpy_handoff(pbpy_ref *ref);

/* Fails ref's future with the Python exception exc (PB_ETASK for a task's
 * own error, PB_EBROKEN for a broken pool), unless it is done already. */
void pbpy_fail(pbpy_ref *ref, PyObject *exc);

/* Fails ref's future with PB_EBROKEN and msg. Releases the GIL meanwhile. */
void pbpy_fail_broken(pbpy_ref *ref, const char *msg);

/* Decodes a map chunk's argument (pools/map.c): the inner task and a list
 * of its items as bytes (new). Returns 0, PB_ENOTSUP (no twin; message set)
 * or PB_EINVAL/PB_ENOMEM. */
int pbpy_chunk_items(const char *backend, pb_future *f, PyObject **twin, PyObject **items);

/* Reads a (started, ended) pair of Python ints; false if it is not one. */
bool pbpy_times(PyObject *pair0, PyObject *pair1, int64_t *started, int64_t *ended);

#endif /* PB_PYTHON_INT_H */
