/*
 * adapters/python.c — Python's own pools behind the futures API:
 *   py-thread   concurrent.futures.ThreadPoolExecutor
 *   py-process  concurrent.futures.ProcessPoolExecutor
 *   py-mp       multiprocessing.Pool (apply_async; map_async for map chunks)
 *
 * The futures contract poolbench measures is the one Python made familiar.
 * These backends run Python's pools as Python programs use them, in an
 * interpreter embedded in poolbench (python-embed.c), so people weighing
 * them against C pools see them on the same chart, through the same
 * scenarios and the same conformance cases. They add bookkeeping and cover
 * nothing up: where Python's pool departs from the contract, it departs
 * here too, with Python's own error.
 *
 * DESIGN
 *
 * Tasks. poolbench tasks are C functions; Python's pools run Python
 * callables. Each task a py-* pool runs has a Python twin
 * (poolbench_twins.py, or a file named in POOLBENCH_PYTHON_TWINS) that
 * returns the same bytes; a task without one is refused at submit with
 * PB_ENOTSUP naming it. A twin timestamps itself inside the callable, so the
 * times a future reports split its round trip as a C pool's do. A map chunk
 * (pools/map.c's task pb__chunk) is unpacked here into its task's twin and a
 * list of items: the executors run it as Executor.map runs a chunk
 * (poolbench_twins.run_chunk: every item, each with its own outcome);
 * multiprocessing.Pool runs it through its own map (map_async with the
 * chunk as one batch), where one failing item fails the whole batch, as
 * Pool.map does.
 *
 * Submit takes the GIL (its wait is timed: pb_pool_stat "gil_wait_ns"),
 * wraps the poolbench future in a pbpy_ref (python-int.h) and calls
 * executor.submit(twin, arg) or pool.apply_async(run_tracked,
 * (future, twin, arg), callback=ref, error_callback=ref). The ref is the
 * done-callback: Python's own completion (a ThreadPoolExecutor worker,
 * the ProcessPoolExecutor's manager thread, Pool's result handler thread)
 * completes the poolbench future, so poolbench callbacks run in that thread.
 *
 * States and cancel. The executors' futures and poolbench's move in step
 * (poolbench_host.py says how): RUNNING when CPython decides the future
 * runs (a worker thread takes it; the manager thread moves it to the call
 * queue), a cancel decided once for both, and poolbench's pb_wait and
 * as_completed see a cancel only when CPython's wait() and as_completed()
 * would (cancel_noticed_late). A poolbench cancel calls future.cancel() in
 * the cancel hint. A future CPython cancels itself (shutdown with
 * cancel_futures) is cancelled in poolbench by the done-callback, in the
 * thread CPython cancels it in: the caller's for ThreadPoolExecutor, the
 * manager thread, later, for ProcessPoolExecutor.
 * multiprocessing.Pool has no cancel and no pending state a caller could
 * take back: its futures are RUNNING from submit on, so pb_future_cancel()
 * never succeeds and shutdown's cancel_futures finds nothing to cancel.
 *
 * Failures. A twin's TaskFailed is PB_ETASK with its code and message; any
 * other exception is PB_ETASK "TypeName: message"; BrokenProcessPool and
 * BrokenThreadPool are PB_EBROKEN with Python's message. A crashed worker
 * therefore breaks a ProcessPoolExecutor — every pending future fails, later
 * submits are refused — and is never noticed by multiprocessing.Pool, whose
 * future of the crashed task never completes. Shutdown must still finish,
 * so py-mp's shutdown(wait) looks for tasks lost that way: each worker
 * records in shared memory which poolbench future it last started
 * (poolbench_twins.run_tracked), and a future still outstanding whose worker
 * is dead (checked twice, 50 ms apart, so a result already on its way is not
 * mistaken) is failed with PB_EBROKEN saying Pool lost it; the pool is then
 * terminated instead of joined, which would wait forever. Until shutdown
 * such a future stays RUNNING, as Python's would.
 *
 * Shutdown. The executors' shutdown(wait, cancel_futures) is called as
 * given; then wait also waits until every future this pool holds is done
 * (ProcessPoolExecutor forgets its manager thread at shutdown(wait=False),
 * so a later shutdown(wait=True) could not wait otherwise). py-mp:
 * close(), then wait as above, then join() (or terminate()).
 *
 * Workers. pin is honoured: each worker binds itself in the pools'
 * initializer (poolbench_twins.start_worker), which also runs the pool's
 * own initializer twin; a worker thread takes the next slot, a worker
 * process the first slot whose owner has died, so a replacement worker is
 * bound as the one it replaces. The start method of process pools is the
 * backend option start_method (fork, CPython 3.11's default on Linux, or
 * forkserver or spawn, which start the real interpreter), recorded with
 * the backend's name when given. task_timeout does not exist in Python's
 * pools and is refused, as are max_tasks_per_worker on threads (and with
 * the fork start method for ProcessPoolExecutor, as CPython refuses it)
 * and worker_program.
 *
 * Locks. The GIL guards everything Python-side, including each future's
 * slot (its pbpy_ref) that the cancel hint reads. A pool's mutex guards its
 * list of outstanding futures; it is taken with or without the GIL but the
 * GIL is never taken while holding it. Poolbench futures are completed and
 * cancelled with the GIL released (python-embed.c).
 */
#include "python-int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "adapter-int.h"

/* ---- Options ---- */

/* A duration such as "5ms", "100us", "1s" or "5000000" (ns); -1 if bad. */
static int64_t parse_duration(const char *s)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || v <= 0)
        return -1;
    static const struct {
        const char *unit;
        int64_t ns;
    } units[] = {{"", 1}, {"ns", 1}, {"us", 1000}, {"ms", 1000000}, {"s", 1000000000}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (!strcmp(end, units[i].unit))
            return v > INT64_MAX / units[i].ns ? -1 : v * units[i].ns;
    return -1;
}

/* "0,2-3" into a Python list of ints. */
static PyObject *cpu_list(const char *s)
{
    PyObject *list = PyList_New(0);
    while (list && *s) {
        char *end;
        long a = strtol(s, &end, 10), b = a;
        if (*end == '-')
            b = strtol(end + 1, &end, 10);
        for (long c = a; c <= b && list; c++) {
            PyObject *n = PyLong_FromLong(c);
            if (!n || PyList_Append(list, n) != 0)
                Py_CLEAR(list);
            Py_XDECREF(n);
        }
        s = *end == ',' ? end + 1 : end;
        if (end == s && *s)
            break;
    }
    return list;
}

/* ---- Errors of submit ---- */

/* The code for the exception Python's submit raised (message set). */
static int submit_error(pbpy_pool *p)
{
    PyObject *type = PyErr_Occurred();
    int code = PB_EBROKEN;
    if (type && PyErr_GivenExceptionMatches(type, pbpy.broken))
        code = PB_EBROKEN;
    else if (type && (PyErr_GivenExceptionMatches(type, PyExc_RuntimeError) ||
                      PyErr_GivenExceptionMatches(type, PyExc_ValueError)))
        code = PB_ESHUTDOWN; /* "cannot schedule new futures after shutdown", "Pool not running" */
    else if (type && PyErr_GivenExceptionMatches(type, PyExc_MemoryError))
        code = PB_ENOMEM;
    char why[512];
    pbpy_describe_error(why, sizeof why);
    return pb_backend_error(code, "%s backend: submit: %s", p->name, why);
}

/* ---- Submit ---- */

static const pb_task *chunk_task(void)
{
    static const pb_task *t;
    if (!t)
        t = pb_task_find("pb__chunk");
    return t;
}

/* The callable and arguments for f: (twin, arg) or, for a map chunk,
 * (twin, items). Returns 0 with both new, or a code (message set). */
static int twin_and_arg(pbpy_pool *p, pb_future *f, bool chunk, PyObject **twin, PyObject **arg)
{
    if (chunk) {
        int rc = pbpy_chunk_items(p->name, f, twin, arg);
        if (!rc)
            Py_INCREF(*twin);
        return rc == PB_ENOMEM ? (PyErr_Clear(), PB_ENOMEM) : rc;
    }
    const pb_task *task = pb_future_task(f);
    *twin = pbpy_twin(task);
    if (!*twin)
        return pbpy_no_twin(p->name, pb_task_name(task));
    size_t len;
    const void *data = pb_future_arg(f, &len);
    *arg = PyBytes_FromStringAndSize(data, (Py_ssize_t)len);
    if (!*arg) {
        PyErr_Clear();
        return PB_ENOMEM;
    }
    Py_INCREF(*twin);
    return 0;
}

static int exec_submit(void *state, pb_future *f)
{
    pbpy_pool *p = state;
    bool chunk = pb_future_task(f) == chunk_task();
    PyGILState_STATE s = pbpy_enter();
    PyObject *twin = NULL, *arg = NULL;
    int rc = twin_and_arg(p, f, chunk, &twin, &arg);
    pbpy_ref *ref = rc ? NULL : pbpy_ref_new(p, f, chunk);
    if (!rc && !ref)
        rc = PB_ENOMEM;
    if (!rc) {
        PyObject *args[3] = {pbpy.run_chunk, twin, arg};
        pbpy_handoff(ref);
        PyObject *pyf = chunk ? PyObject_Vectorcall(p->submit, args, 3, NULL)
                              : PyObject_Vectorcall(p->submit, args + 1, 2, NULL);
        pbpy_handoff(NULL);
        if (!pyf) {
            rc = submit_error(p);
            pbpy_ref_disown(ref);
        } else {
            ref->pyf = pyf; /* before the callback: it may run at once, here */
            PyObject *r = PyObject_CallMethodOneArg(pyf, pbpy.s_add_done_callback, (PyObject *)ref);
            if (!r)
                PyErr_Clear();
            Py_XDECREF(r);
        }
        Py_DECREF(ref);
    }
    Py_XDECREF(twin);
    Py_XDECREF(arg);
    pbpy_leave(s);
    return rc;
}

static int mp_submit(void *state, pb_future *f)
{
    pbpy_pool *p = state;
    bool chunk = pb_future_task(f) == chunk_task();
    PyGILState_STATE s = pbpy_enter();
    PyObject *twin = NULL, *arg = NULL, *fid = NULL, *res = NULL;
    int rc = twin_and_arg(p, f, chunk, &twin, &arg);
    pbpy_ref *ref = rc ? NULL : pbpy_ref_new(p, f, chunk);
    if (!rc && (!ref || !(fid = PyLong_FromVoidPtr(f))))
        rc = PB_ENOMEM;
    if (!rc) {
        if (chunk) {
            PyObject *pa[3] = {pbpy.run_tracked, fid, twin};
            PyObject *fn = PyObject_Vectorcall(pbpy.partial, pa, 3, NULL);
            PyObject *size = PyLong_FromSsize_t(PyList_GET_SIZE(arg));
            PyObject *ma[5] = {fn, arg, size, (PyObject *)ref, (PyObject *)ref};
            res = fn && size ? PyObject_Vectorcall(p->map_async, ma, 5, NULL) : NULL;
            Py_XDECREF(fn);
            Py_XDECREF(size);
        } else {
            PyObject *targs = PyTuple_Pack(3, fid, twin, arg);
            PyObject *kw = PyDict_New();
            PyObject *aa[5] = {pbpy.run_tracked, targs, kw, (PyObject *)ref, (PyObject *)ref};
            res = targs && kw ? PyObject_Vectorcall(p->submit, aa, 5, NULL) : NULL;
            Py_XDECREF(targs);
            Py_XDECREF(kw);
        }
        if (!res) {
            rc = submit_error(p);
            pbpy_ref_disown(ref);
        } else {
            /* Handed over for good: Pool cannot take a task back (see
             * DESIGN). Nobody else has f yet, so nothing cancelled it; a
             * result already in (set from PENDING) leaves this a no-op. */
            pb_future_set_running(f);
        }
        Py_XDECREF(res);
    }
    Py_XDECREF(ref);
    Py_XDECREF(fid);
    Py_XDECREF(twin);
    Py_XDECREF(arg);
    pbpy_leave(s);
    return rc;
}

/* ---- Cancel ---- */

static void exec_cancel(void *state, pb_future *f)
{
    PyGILState_STATE s = pbpy_enter();
    pbpy_ref *ref = *pb_future_slot(f); /* written and cleared under the GIL */
    if (ref && ref->pyf) {
        PyObject *pyf = ref->pyf;
        Py_INCREF(pyf);
        PyObject *r = PyObject_CallMethodNoArgs(pyf, pbpy.s_cancel);
        if (!r)
            PyErr_Clear();
        Py_XDECREF(r);
        Py_DECREF(pyf);
    }
    pbpy_leave(s);
}

/* ---- Shutdown ---- */

static void wait_outstanding(pbpy_pool *p)
{
    pthread_mutex_lock(&p->mu);
    while (p->noutstanding)
        pthread_cond_wait(&p->idle, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

static void exec_shutdown(void *state, bool wait, bool cancel_futures)
{
    pbpy_pool *p = state;
    PyGILState_STATE s = pbpy_enter();
    /* A later poolbench shutdown adds to an earlier one; a later Python
     * shutdown replaces its cancel_futures, so it is passed on again. */
    p->cancel_asked |= cancel_futures;
    if (p->kind == PBPY_PROCESS && !p->manager) {
        /* ProcessPoolExecutor forgets its manager thread at shutdown, so a
         * later shutdown(wait=True) could not wait for it: keep it to join
         * (a private attribute; absent, only the futures are waited for). */
        p->manager = PyObject_GetAttrString(p->impl, "_executor_manager_thread");
        if (p->manager == Py_None)
            Py_CLEAR(p->manager);
        PyErr_Clear();
    }
    PyObject *shutdown = PyObject_GetAttr(p->impl, pbpy.s_shutdown);
    PyObject *args = PyTuple_New(0);
    PyObject *kw = Py_BuildValue("{s:O,s:O}", "wait", wait ? Py_True : Py_False,
                                 "cancel_futures", p->cancel_asked ? Py_True : Py_False);
    PyObject *r = shutdown && args && kw ? PyObject_Call(shutdown, args, kw) : NULL;
    Py_XDECREF(r);
    if (r && wait && p->manager) {
        r = PyObject_CallMethodNoArgs(p->manager, pbpy.s_join);
        Py_CLEAR(p->manager); /* it holds the executor's queues: let them go */
    }
    if (!r)
        PyErr_Clear();
    Py_XDECREF(r);
    Py_XDECREF(kw);
    Py_XDECREF(args);
    Py_XDECREF(shutdown);
    pbpy_leave(s);
    if (wait)
        wait_outstanding(p);
}

/* Whether process pid is gone or a zombie. */
static bool pid_dead(int64_t pid)
{
    char path[64], stat[512];
    snprintf(path, sizeof path, "/proc/%lld/stat", (long long)pid);
    FILE *fp = fopen(path, "re");
    if (!fp)
        return true;
    size_t n = fread(stat, 1, sizeof stat - 1, fp);
    fclose(fp);
    stat[n] = 0;
    const char *rp = strrchr(stat, ')');
    return !rp || rp[1] != ' ' || rp[2] == 'Z' || rp[2] == 'X';
}

/* The pid of the dead worker that last started f, or 0 (p->mu held; the
 * workers write the table concurrently, word by word). */
static int64_t lost_with(pbpy_pool *p, pb_future *f)
{
    const volatile int64_t *pids = p->slots, *started = p->slots + p->workers;
    const volatile int64_t *orphans = started + p->workers;
    int64_t fid = (int64_t)(intptr_t)f;
    for (int i = 0; i < p->workers; i++) {
        int64_t pid = pids[i];
        if (started[i] == fid && pid && pid_dead(pid))
            return pid;
    }
    for (int k = 0; k < PBPY_ORPHANS; k++)
        if (orphans[1 + 2 * k] == fid)
            return orphans[2 + 2 * k];
    return 0;
}

/* py-mp: fails the futures Pool lost with a dead worker (see DESIGN).
 * Returns how many. */
static int fail_lost(pbpy_pool *p)
{
    PyGILState_STATE s = pbpy_enter();
    enum { MAX = 64 };
    pbpy_ref *lost[MAX];
    int64_t pid[MAX];
    int n = 0;
    pthread_mutex_lock(&p->mu);
    for (pbpy_ref *r = p->outstanding; r && n < MAX; r = r->next) {
        int64_t who = lost_with(p, r->f);
        if (who && ++r->suspect >= 2) {
            Py_INCREF(r);
            pid[n] = who;
            lost[n++] = r;
        }
    }
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < n; i++) {
        char msg[256];
        snprintf(msg, sizeof msg,
                 "multiprocessing.Pool lost this task: its worker (pid %lld) died while "
                 "running it, and Pool never reports that (the result would never come); "
                 "failed when the pool was shut down",
                 (long long)pid[i]);
        pbpy_fail_broken(lost[i], msg);
        pbpy_ref_unlink(lost[i]);
        Py_DECREF(lost[i]);
    }
    pbpy_leave(s);
    return n;
}

static void mp_call(pbpy_pool *p, PyObject *method)
{
    PyGILState_STATE s = pbpy_enter();
    PyObject *r = PyObject_CallMethodNoArgs(p->impl, method);
    if (!r)
        PyErr_Clear();
    Py_XDECREF(r);
    pbpy_leave(s);
}

static void mp_shutdown(void *state, bool wait, bool cancel_futures)
{
    pbpy_pool *p = state;
    (void)cancel_futures; /* Pool has nothing a caller can cancel (see DESIGN) */
    pthread_mutex_lock(&p->mu);
    bool close = !p->closed;
    p->closed = true;
    pthread_mutex_unlock(&p->mu);
    if (close)
        mp_call(p, pbpy.s_close);
    if (!wait)
        return;
    int lost = 0;
    pthread_mutex_lock(&p->mu);
    while (p->noutstanding) {
        struct timespec at;
        clock_gettime(CLOCK_REALTIME, &at);
        at.tv_nsec += 50 * 1000 * 1000;
        if (at.tv_nsec >= 1000000000) {
            at.tv_sec++;
            at.tv_nsec -= 1000000000;
        }
        if (pthread_cond_timedwait(&p->idle, &p->mu, &at) == ETIMEDOUT) {
            pthread_mutex_unlock(&p->mu); /* never take the GIL holding mu */
            lost += fail_lost(p);
            pthread_mutex_lock(&p->mu);
        }
    }
    pthread_mutex_unlock(&p->mu);
    /* join() would wait for the lost tasks forever. */
    mp_call(p, lost ? pbpy.s_terminate : pbpy.s_join);
}

/* ---- Create and destroy ---- */

static void py_destroy(void *state)
{
    pbpy_pool *p = state;
    PyGILState_STATE s = pbpy_enter();
    Py_CLEAR(p->submit);
    Py_CLEAR(p->map_async);
    Py_CLEAR(p->manager);
    Py_CLEAR(p->impl);
    Py_DECREF(p); /* the refs of futures Python still holds keep it alive */
    pbpy_leave(s);
}

static int py_binding(void *state, int worker, char *buf, size_t size)
{
    pbpy_pool *p = state;
    snprintf(buf, size, "%s", p->bindings ? p->bindings[worker] : "");
    return 0;
}

static int py_stat(void *state, const char *name, int64_t *value)
{
    if (!strcmp(name, "gil_wait_ns")) {
        *value = pbpy_gil_wait_ns();
        return 0;
    }
    if (!strcmp(name, "switch_interval_ns")) {
        PyGILState_STATE s = pbpy_enter();
        PyObject *r = PyObject_CallMethod(PyImport_AddModule("sys"), "getswitchinterval", NULL);
        double si = r ? PyFloat_AsDouble(r) : -1.0;
        Py_XDECREF(r);
        PyErr_Clear();
        pbpy_leave(s);
        if (si < 0)
            return PB_ENOTSUP;
        *value = (int64_t)(si * 1e9 + 0.5);
        return 0;
    }
    return PB_ENOTSUP;
}

/* Makes a process pool's slot table (see python-int.h). Returns 0 or a
 * negative errno. */
static int slots_new(pbpy_pool *p)
{
    size_t words = (size_t)p->workers;
    if (p->kind == PBPY_MP)
        words += (size_t)p->workers + 1 + 2 * PBPY_ORPHANS;
    p->slots_size = words * sizeof(int64_t);
    p->slots_fd = memfd_create("poolbench-py-slots", MFD_CLOEXEC);
    if (p->slots_fd < 0 || ftruncate(p->slots_fd, (off_t)p->slots_size) != 0)
        return -errno;
    void *m = mmap(NULL, p->slots_size, PROT_READ | PROT_WRITE, MAP_SHARED, p->slots_fd, 0);
    if (m == MAP_FAILED)
        return -errno;
    p->slots = m;
    return 0;
}

/* Takes the pool poolbench_host made. */
static int adopt(pbpy_pool *p, PyObject *impl)
{
    Py_INCREF(impl);
    p->impl = impl;
    p->submit = PyObject_GetAttrString(impl, p->kind == PBPY_MP ? "apply_async" : "submit");
    if (!p->submit)
        return -1;
    if (p->kind == PBPY_MP && !(p->map_async = PyObject_GetAttrString(impl, "map_async")))
        return -1;
    return 0;
}

static const char *const methods[] = {"fork", "forkserver", "spawn", NULL};

static int py_create(pbpy_kind kind, const char *name, const pb_pool_opts *opts, void **state,
                     int *workers)
{
    int rc = pbpy_start(name);
    if (rc)
        return rc;
    char method[16] = "", interval[32] = "";
    if (kind != PBPY_THREAD) {
        bool known = false;
        if (pb_pool_option(opts, "start_method", method, sizeof method) > 0)
            for (const char *const *m = methods; *m && !known; m++)
                known = !strcmp(*m, method);
        if (!known)
            return pb_backend_error(PB_EINVAL, "%s backend: start_method must be fork, "
                                    "forkserver or spawn (got '%s')", name, method);
    }
    int64_t si = pb_pool_option(opts, "switch_interval", interval, sizeof interval) > 0
                     ? parse_duration(interval)
                     : -1;
    if (si <= 0)
        return pb_backend_error(PB_EINVAL, "%s backend: switch_interval must be a duration "
                                "like 5ms or 100us (got '%s')", name, interval);
    if (kind == PBPY_PROCESS && opts->max_tasks_per_worker && !strcmp(method, "fork"))
        return pb_backend_error(PB_ENOTSUP, "%s backend: max_tasks_per_worker is not supported "
                                "with start_method=fork (ProcessPoolExecutor refuses "
                                "max_tasks_per_child with fork; use forkserver or spawn)", name);

    pb__placement *placement = NULL;
    rc = pb__placement_new(opts->pin, opts->workers, &placement);
    if (rc)
        return pb_backend_error(rc, "%s backend: cannot place workers: %s", name, pb_strerror(rc));

    PyGILState_STATE s = pbpy_enter();
    pbpy_pool *p = PyObject_New(pbpy_pool, &pbpy_pool_type);
    PyObject *init = NULL, *init_arg = NULL, *cpus = NULL, *made = NULL;
    if (!p) {
        rc = PB_ENOMEM;
        goto out;
    }
    memset((char *)p + sizeof(PyObject), 0, sizeof *p - sizeof(PyObject));
    p->slots_fd = -1;
    p->kind = kind;
    p->name = name;
    p->workers = opts->workers;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->idle, NULL);

    if (opts->initializer) {
        init = pbpy_twin(pb_task_find(opts->initializer));
        if (!init) {
            rc = pbpy_no_twin(name, opts->initializer);
            goto out;
        }
        Py_INCREF(init);
    } else {
        init = (Py_INCREF(Py_None), Py_None);
    }
    init_arg = PyBytes_FromStringAndSize(opts->init_arg, (Py_ssize_t)opts->init_len);
    if (placement) {
        p->bindings = calloc((size_t)p->workers, sizeof *p->bindings);
        cpus = PyList_New(p->workers);
        for (int i = 0; p->bindings && cpus && i < p->workers; i++) {
            pb__placement_cpus(placement, i, p->bindings[i], sizeof p->bindings[i]);
            PyObject *l = cpu_list(p->bindings[i]);
            if (!l)
                break;
            PyList_SET_ITEM(cpus, i, l);
            if (pb__cpu_count() == 1)
                p->bindings[i][0] = 0; /* bound to every allowed PU: reported as unbound */
        }
    } else {
        cpus = (Py_INCREF(Py_None), Py_None);
    }
    if (!init_arg || !cpus || (placement && !p->bindings)) {
        rc = PB_ENOMEM;
        goto out;
    }
    if (kind != PBPY_THREAD && (rc = slots_new(p)) != 0) {
        rc = pb_backend_error(rc, "%s backend: cannot make the workers' slot table: %s", name,
                              pb_strerror(rc));
        goto out;
    }
    PyObject *r = PyObject_CallMethod(PyImport_AddModule("sys"), "setswitchinterval", "d",
                                      (double)si / 1e9);
    Py_XDECREF(r);
    PyErr_Clear();
    if (kind == PBPY_THREAD)
        made = PyObject_CallMethod(pbpy.host, "thread_pool", "iOOO", p->workers, cpus, init,
                                   init_arg);
    else
        made = PyObject_CallMethod(pbpy.host, kind == PBPY_PROCESS ? "process_pool" : "mp_pool",
                                   "isOOOI(iiiOi)", p->workers, method, cpus, init, init_arg,
                                   opts->max_tasks_per_worker, (int)getpid(), p->slots_fd,
                                   p->workers, kind == PBPY_MP ? Py_True : Py_False,
                                   PBPY_ORPHANS);
    if (!made || adopt(p, made) != 0) {
        char why[512];
        pbpy_describe_error(why, sizeof why);
        rc = pb_backend_error(PB_EBROKEN, "%s backend: cannot make the pool: %s", name, why);
    }
out:
    Py_XDECREF(made);
    Py_XDECREF(init);
    Py_XDECREF(init_arg);
    Py_XDECREF(cpus);
    pb__placement_free(placement);
    if (rc) {
        if (p && p->impl) {
            /* Made but not adoptable: stop it before letting go. */
            PyObject *x = PyObject_CallMethodNoArgs(p->impl, kind == PBPY_MP ? pbpy.s_terminate
                                                                             : pbpy.s_shutdown);
            Py_XDECREF(x);
            PyErr_Clear();
        }
        Py_XDECREF(p);
        pbpy_leave(s);
        return rc;
    }
    pbpy_leave(s);
    *state = p;
    *workers = p->workers;
    return 0;
}

static int thread_create(const pb_pool_opts *opts, void **state, int *workers)
{
    return py_create(PBPY_THREAD, "py-thread", opts, state, workers);
}

static int process_create(const pb_pool_opts *opts, void **state, int *workers)
{
    return py_create(PBPY_PROCESS, "py-process", opts, state, workers);
}

static int mp_create(const pb_pool_opts *opts, void **state, int *workers)
{
    return py_create(PBPY_MP, "py-mp", opts, state, workers);
}

/* ---- The tables ---- */

#define PBPY_SWITCH_INTERVAL                                                              \
    {"switch_interval", "duration", "5ms",                                                \
     "Python's thread switch interval (sys.setswitchinterval; one per process)"}

static const pb_backend_option thread_options[] = {
    PBPY_SWITCH_INTERVAL,
    {NULL, NULL, NULL, NULL},
};

static const pb_backend_option process_options[] = {
    {"start_method", "fork|forkserver|spawn", "fork",
     "how worker processes start (fork is CPython 3.11's default on Linux)"},
    PBPY_SWITCH_INTERVAL,
    {NULL, NULL, NULL, NULL},
};

PB__ADAPTER_EXPORT const pb_backend pb__backend_py_thread = {
    .name = "py-thread",
    .summary = "CPython " PY_VERSION " concurrent.futures.ThreadPoolExecutor: threads of this "
               "process, one GIL",
    .create = thread_create,
    .submit = exec_submit,
    .cancel = exec_cancel,
    .shutdown = exec_shutdown,
    .destroy = py_destroy,
    .binding = py_binding,
    .waiter_sleeps = true,
    .unsupported = (const pb_unsupported[]){
        {"task_timeout", "ThreadPoolExecutor has no time limit for a task"},
        {"max_tasks_per_worker", "ThreadPoolExecutor never retires a thread"},
        {"worker_program", "it names the program an exec worker runs"},
        {NULL, NULL},
    },
    .options = thread_options,
    .stat = py_stat,
    .cancel_noticed_late = true,
};

PB__ADAPTER_EXPORT const pb_backend pb__backend_py_process = {
    .name = "py-process",
    .summary = "CPython " PY_VERSION " concurrent.futures.ProcessPoolExecutor: worker processes",
    .create = process_create,
    .submit = exec_submit,
    .cancel = exec_cancel,
    .shutdown = exec_shutdown,
    .destroy = py_destroy,
    .binding = py_binding,
    .waiter_sleeps = true,
    .unsupported = (const pb_unsupported[]){
        {"task_timeout", "ProcessPoolExecutor has no time limit for a task"},
        {"worker_program", "it names the program an exec worker runs"},
        {NULL, NULL},
    },
    .options = process_options,
    .stat = py_stat,
    .cancel_noticed_late = true,
};

PB__ADAPTER_EXPORT const pb_backend pb__backend_py_mp = {
    .name = "py-mp",
    .summary = "CPython " PY_VERSION " multiprocessing.Pool (apply_async, map_async): worker "
               "processes",
    .create = mp_create,
    .submit = mp_submit,
    .shutdown = mp_shutdown,
    .destroy = py_destroy,
    .binding = py_binding,
    .waiter_sleeps = true,
    .unsupported = (const pb_unsupported[]){
        {"task_timeout", "multiprocessing.Pool has no time limit for a task"},
        {"worker_program", "it names the program an exec worker runs"},
        {NULL, NULL},
    },
    .options = process_options,
    .stat = py_stat,
};
