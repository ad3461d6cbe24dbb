/*
 * python-embed.c — CPython inside a host program, for the py-* backends.
 *
 * pb-python.so links libpython3 (Debian's libpython3-dev) and starts one
 * interpreter per process, the first time a Python pool is created
 * (pbpy_start). Modules are loaded on first use, so a program that never
 * makes a Python pool — an exec worker above all — never loads Python.
 *
 * DESIGN
 *
 * Loading. pools/pool.c dlopens this module RTLD_LOCAL, so libpython's
 * symbols are not global; but Debian's extension modules (lib-dynload:
 * _struct, select, _posixsubprocess, ...) are not linked against libpython
 * and expect its symbols to be. So the start reopens libpython (found with
 * dladdr of one of its functions) RTLD_GLOBAL | RTLD_NOLOAD, which promotes
 * the copy already loaded instead of loading another.
 *
 * Configuration. An isolated configuration (no PYTHON* environment, no user
 * site, no sys.path[0] from the host's directory), UTF-8 mode without
 * touching the host's locale, no bytecode written, and above all no signal
 * handlers: the host keeps every disposition it had (the conformance suite
 * checks). CPython 3.11 installs its SIGINT handler when the signal module
 * is first imported even so, so the start notes every disposition first and
 * puts back any that changed once the glue (which imports signal) is in.
 * sys.executable is the real interpreter whose library is embedded
 * (PB_PYTHON_EXECUTABLE, found at build time), so workers that start
 * Python afresh (spawn, forkserver) start that program, not the host. Under
 * AddressSanitizer, Python's objects come from malloc instead of pymalloc's
 * arenas, so LeakSanitizer can follow the pointers they hold (pymalloc's
 * arenas are mmap'd memory it does not scan, which would make most of
 * Python's live memory look leaked).
 *
 * Once started, the interpreter lives until the process ends: it is never
 * finalized (finalizing with pools' threads around is not safe, and a
 * second Py_Initialize in one process is not supported either).
 *
 * Threads and the GIL. Every call into Python from a host thread goes
 * through pbpy_enter()/pbpy_leave(), which time the wait for the GIL and
 * add it to the thread's "gil_wait_ns" (pb_pool_stat): what a C submitter
 * pays for Python's lock, measured apart from the rest. PyGILState_Ensure
 * on a thread without a Python thread state makes one and, at the matching
 * Release, frees it again; a host thread that submits a million tasks would
 * pay that each time. So the first call of a host thread takes one extra
 * count it keeps: its thread state lives until the thread exits (a
 * pthread key's destructor gives the count back, which frees it). Threads
 * Python started itself are left alone: Python owns their states.
 *
 * The _poolbench module. A built-in module the host glue imports:
 *   take()        the pbpy_ref the calling thread is submitting (pbpy_handoff),
 *                 for poolbench_host.Future.__init__; None if there is none;
 *   Ref           the backend's reference to one poolbench future (python-int.h):
 *                 ref.running(), ref.noticed(), and ref(x) as done-callback;
 *   Pool          the pool object (python-int.h), opaque to Python.
 *
 * Completion. ref(x) runs in whichever thread Python completes its future
 * (a ThreadPoolExecutor worker, the ProcessPoolExecutor's manager thread,
 * multiprocessing.Pool's result handler, or the thread that cancels): it
 * turns the twin's (started, ended, bytes) — or the exception — into the
 * poolbench outcome and completes the poolbench future with the GIL
 * released, so that the poolbench done-callbacks it runs and the waiters it
 * wakes do not hold up Python's other threads. A ref is linked into its
 * pool's list of outstanding futures until then, which holds a reference to
 * it; the pool's shutdown waits for that list to empty.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* dladdr, RTLD_NOLOAD */
#endif
#include "python-int.h"

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

pbpy_globals pbpy;

/* ---- Threads ---- */

typedef struct pbpy_thread {
    int64_t gil_wait_ns;
    bool pinned;       /* holds an extra PyGILState count: its state lives */
    pbpy_ref *handoff; /* the ref being submitted (borrowed) */
} pbpy_thread;

static pthread_key_t thread_key;

static void thread_exit(void *p)
{
    pbpy_thread *t = p;
    if (t->pinned) {
        /* Give the kept count back: the last Release frees the state. */
        PyGILState_STATE s = PyGILState_Ensure();
        PyGILState_Release(PyGILState_LOCKED);
        PyGILState_Release(s);
    }
    free(t);
}

static pbpy_thread *thread_self(void)
{
    pbpy_thread *t = pthread_getspecific(thread_key);
    if (!t && (t = calloc(1, sizeof *t)) != NULL && pthread_setspecific(thread_key, t) != 0) {
        free(t);
        t = NULL;
    }
    return t;
}

PyGILState_STATE pbpy_enter(void)
{
    pbpy_thread *t = thread_self();
    bool fresh = PyGILState_GetThisThreadState() == NULL;
    int64_t t0 = pb_now_ns();
    PyGILState_STATE s = PyGILState_Ensure();
    if (t) {
        t->gil_wait_ns += pb_now_ns() - t0;
        if (fresh) {
            PyGILState_Ensure(); /* the count kept until the thread exits */
            t->pinned = true;
        }
    }
    return s;
}

void pbpy_leave(PyGILState_STATE s)
{
    PyGILState_Release(s);
}

int64_t pbpy_gil_wait_ns(void)
{
    pbpy_thread *t = pthread_getspecific(thread_key);
    return t ? t->gil_wait_ns : 0;
}

void pbpy_handoff(pbpy_ref *ref)
{
    pbpy_thread *t = thread_self();
    if (t)
        t->handoff = ref;
}

/* ---- Errors ---- */

void pbpy_describe_error(char *buf, size_t size)
{
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    const char *name = type ? ((PyTypeObject *)type)->tp_name : "error";
    PyObject *s = value ? PyObject_Str(value) : NULL;
    const char *text = s ? PyUnicode_AsUTF8(s) : NULL;
    snprintf(buf, size, "%s%s%s", name, text && *text ? ": " : "", text ? text : "");
    PyErr_Clear();
    Py_XDECREF(s);
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
}

int pbpy_no_twin(const char *backend, const char *task)
{
    return pb_backend_error(PB_ENOTSUP,
                            "%s backend: task '%s' has no Python twin (write one with "
                            "@twin(\"%s\") in a file named in POOLBENCH_PYTHON_TWINS)",
                            backend, task, task);
}

/* ---- Twins ---- */

/* Task -> twin, cached (under the GIL). An open-addressed table; tasks
 * never go away, so entries are never removed. A task without a twin maps
 * to Py_None. */
enum { TWIN_SLOTS = 1024 };
static struct {
    const pb_task *task;
    PyObject *twin;
} twin_cache[TWIN_SLOTS];

PyObject *pbpy_twin(const pb_task *task)
{
    size_t h = ((uintptr_t)task >> 4) % TWIN_SLOTS;
    for (size_t i = 0; i < TWIN_SLOTS; i++) {
        size_t k = (h + i) % TWIN_SLOTS;
        if (twin_cache[k].task == task)
            return twin_cache[k].twin == Py_None ? NULL : twin_cache[k].twin;
        if (!twin_cache[k].task) {
            PyObject *twin = PyDict_GetItemString(pbpy.twin_table, pb_task_name(task));
            twin_cache[k].task = task;
            twin_cache[k].twin = twin ? twin : Py_None;
            Py_INCREF(twin_cache[k].twin); /* TWINS holds it too; kept for good */
            return twin;
        }
    }
    return PyDict_GetItemString(pbpy.twin_table, pb_task_name(task)); /* table full */
}

/* ---- Outcomes ---- */

bool pbpy_times(PyObject *a, PyObject *b, int64_t *started, int64_t *ended)
{
    if (!PyLong_Check(a) || !PyLong_Check(b))
        return false;
    *started = PyLong_AsLongLong(a);
    *ended = PyLong_AsLongLong(b);
    if (PyErr_Occurred()) {
        PyErr_Clear();
        return false;
    }
    return true;
}

/* The bytes of a twin's result: bytes, bytearray or None (empty). */
static bool result_bytes(PyObject *r, const char **data, Py_ssize_t *len)
{
    if (r == Py_None) {
        *data = "";
        *len = 0;
    } else if (PyBytes_Check(r)) {
        *data = PyBytes_AS_STRING(r);
        *len = PyBytes_GET_SIZE(r);
    } else if (PyByteArray_Check(r)) {
        *data = PyByteArray_AS_STRING(r);
        *len = PyByteArray_GET_SIZE(r);
    } else {
        return false;
    }
    return true;
}

static void set_error(pb_future *f, const pb_error *e, int64_t started, int64_t ended)
{
    Py_BEGIN_ALLOW_THREADS
    pb_future_set_error(f, e, started, ended);
    Py_END_ALLOW_THREADS
}

void pbpy_fail_broken(pbpy_ref *ref, const char *msg)
{
    pb_error e = {.code = PB_EBROKEN, .message = msg};
    set_error(ref->f, &e, 0, 0);
}

/* A task failure: "code" and "message" of TaskFailed. */
static void task_failed(PyObject *exc, pb_error *e, PyObject **keep)
{
    PyObject *code = PyObject_GetAttr(exc, pbpy.s_code);
    e->task_code = code && PyLong_Check(code) ? (int)PyLong_AsLong(code) : 0;
    Py_XDECREF(code);
    PyObject *msg = PyObject_GetAttr(exc, pbpy.s_message);
    if (msg && PyBytes_Check(msg)) {
        e->message = PyBytes_AS_STRING(msg);
    } else if (msg) {
        PyObject *s = PyUnicode_Check(msg) ? (Py_INCREF(msg), msg) : PyObject_Str(msg);
        Py_DECREF(msg);
        msg = s;
        e->message = s ? PyUnicode_AsUTF8(s) : NULL;
    }
    PyErr_Clear();
    *keep = msg;
}

void pbpy_fail(pbpy_ref *ref, PyObject *exc)
{
    if (!ref->f || pb_future_done(ref->f))
        return;
    pb_error e = {.code = PB_ETASK};
    PyObject *keep = NULL;
    char text[2048];
    if (PyObject_IsInstance(exc, pbpy.task_failed) == 1) {
        task_failed(exc, &e, &keep);
    } else {
        if (PyObject_IsInstance(exc, pbpy.broken) == 1)
            e.code = PB_EBROKEN;
        PyObject *s = PyObject_Str(exc);
        const char *msg = s ? PyUnicode_AsUTF8(s) : NULL;
        snprintf(text, sizeof text, "%s%s%s", Py_TYPE(exc)->tp_name, msg && *msg ? ": " : "",
                 msg ? msg : "");
        Py_XDECREF(s);
        e.message = text;
    }
    PyErr_Clear();
    int64_t started = 0, ended = 0;
    PyObject *times = PyObject_GetAttr(exc, pbpy.s_pb_times);
    if (!times || !PyTuple_Check(times) || PyTuple_GET_SIZE(times) != 2 ||
        !pbpy_times(PyTuple_GET_ITEM(times, 0), PyTuple_GET_ITEM(times, 1), &started, &ended))
        started = ended = 0;
    PyErr_Clear();
    Py_XDECREF(times);
    set_error(ref->f, &e, started, ended);
    Py_XDECREF(keep);
}

/* Completes a single task's future from (started, ended, bytes). */
static void complete_one(pbpy_ref *ref, PyObject *value)
{
    int64_t started, ended;
    const char *data;
    Py_ssize_t len;
    if (!PyTuple_Check(value) || PyTuple_GET_SIZE(value) != 3 ||
        !pbpy_times(PyTuple_GET_ITEM(value, 0), PyTuple_GET_ITEM(value, 1), &started, &ended)) {
        pb_error e = {.code = PB_ETASK, .message = "the twin's wrapper returned something else "
                                                    "than (started, ended, result)"};
        set_error(ref->f, &e, 0, 0);
        return;
    }
    if (!result_bytes(PyTuple_GET_ITEM(value, 2), &data, &len)) {
        char msg[256];
        snprintf(msg, sizeof msg, "the Python twin of '%s' returned %s, not bytes",
                 pb_task_name(pb_future_task(ref->f)), Py_TYPE(PyTuple_GET_ITEM(value, 2))->tp_name);
        pb_error e = {.code = PB_ETASK, .message = msg};
        set_error(ref->f, &e, started, ended);
        return;
    }
    Py_BEGIN_ALLOW_THREADS
    pb_future_set_result(ref->f, data, (size_t)len, started, ended);
    Py_END_ALLOW_THREADS
}

/* ---- Map chunks (the formats are pools/map.c's) ---- */

static bool get(const unsigned char **p, const unsigned char *end, void *dst, size_t len)
{
    if ((size_t)(end - *p) < len)
        return false;
    memcpy(dst, *p, len);
    *p += len;
    return true;
}

int pbpy_chunk_items(const char *backend, pb_future *f, PyObject **twin, PyObject **items)
{
    size_t len;
    const unsigned char *p = pb_future_arg(f, &len), *end = p + len;
    uint32_t name_len;
    char name[256];
    uint64_t count;
    if (!get(&p, end, &name_len, sizeof name_len) || name_len >= sizeof name ||
        !get(&p, end, name, name_len) || !get(&p, end, &count, sizeof count) ||
        count > (uint64_t)(end - p) / sizeof(uint64_t))
        return pb_backend_error(PB_EINVAL, "%s backend: malformed map chunk", backend);
    name[name_len] = 0;
    const pb_task *task = pb_task_find(name);
    *twin = task ? pbpy_twin(task) : NULL;
    if (!*twin)
        return pbpy_no_twin(backend, name);
    PyObject *list = PyList_New((Py_ssize_t)count);
    if (!list)
        return PB_ENOMEM;
    for (uint64_t i = 0; i < count; i++) {
        uint64_t ilen;
        if (!get(&p, end, &ilen, sizeof ilen) || ilen > (uint64_t)(end - p)) {
            Py_DECREF(list);
            return pb_backend_error(PB_EINVAL, "%s backend: malformed map chunk", backend);
        }
        PyObject *b = PyBytes_FromStringAndSize((const char *)p, (Py_ssize_t)ilen);
        if (!b) {
            Py_DECREF(list);
            return PB_ENOMEM;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, b);
        p += ilen;
    }
    *items = list;
    return 0;
}

/* One item's outcome in a chunk's result. */
typedef struct chunk_item {
    int32_t code, task_code;
    const char *data;
    Py_ssize_t len;
} chunk_item;

/* Reads item i of a chunk's result: an executor's run_chunk gives
 * (code, task_code, bytes), multiprocessing.Pool's map the twin's own
 * (started, ended, result). */
static bool chunk_item_at(PyObject *list, Py_ssize_t i, bool mp, chunk_item *it,
                          int64_t *started, int64_t *ended)
{
    PyObject *t = PyList_GET_ITEM(list, i);
    if (!PyTuple_Check(t) || PyTuple_GET_SIZE(t) != 3)
        return false;
    if (mp) {
        int64_t s, e;
        if (!pbpy_times(PyTuple_GET_ITEM(t, 0), PyTuple_GET_ITEM(t, 1), &s, &e))
            return false;
        if (i == 0)
            *started = s;
        *ended = e;
        it->code = it->task_code = 0;
    } else {
        it->code = (int32_t)PyLong_AsLong(PyTuple_GET_ITEM(t, 0));
        it->task_code = (int32_t)PyLong_AsLong(PyTuple_GET_ITEM(t, 1));
        if (PyErr_Occurred()) {
            PyErr_Clear();
            return false;
        }
    }
    return result_bytes(PyTuple_GET_ITEM(t, 2), &it->data, &it->len);
}

/* Completes a chunk's future: every item's outcome packed as map.c reads
 * it. value: run_chunk's (started, ended, list), or Pool's list. */
static void complete_chunk(pbpy_ref *ref, PyObject *value, bool mp)
{
    int64_t started = 0, ended = 0;
    PyObject *list = value;
    if (!mp) {
        if (!PyTuple_Check(value) || PyTuple_GET_SIZE(value) != 3 ||
            !pbpy_times(PyTuple_GET_ITEM(value, 0), PyTuple_GET_ITEM(value, 1), &started,
                        &ended))
            list = NULL;
        else
            list = PyTuple_GET_ITEM(value, 2);
    }
    const char *bad = list && PyList_Check(list) ? NULL : "a map chunk's result is not a list";
    Py_ssize_t n = bad ? 0 : PyList_GET_SIZE(list);
    size_t total = 0;
    for (Py_ssize_t i = 0; i < n && !bad; i++) {
        chunk_item it;
        if (!chunk_item_at(list, i, mp, &it, &started, &ended))
            bad = "a map chunk's result holds an item that is not an outcome";
        else
            total += 16 + (size_t)it.len;
    }
    unsigned char *buf = bad ? NULL : malloc(total ? total : 1);
    if (!bad && !buf)
        bad = "out of memory packing a map chunk's results";
    if (bad) {
        pb_error e = {.code = PB_ETASK, .message = bad};
        set_error(ref->f, &e, started, ended);
        return;
    }
    unsigned char *p = buf;
    for (Py_ssize_t i = 0; i < n; i++) {
        chunk_item it;
        chunk_item_at(list, i, mp, &it, &started, &ended);
        uint64_t l = (uint64_t)it.len;
        memcpy(p, &it.code, 4);
        memcpy(p + 4, &it.task_code, 4);
        memcpy(p + 8, &l, 8);
        memcpy(p + 16, it.data, l);
        p += 16 + l;
    }
    Py_BEGIN_ALLOW_THREADS
    pb_future_set_result(ref->f, buf, total, started, ended);
    Py_END_ALLOW_THREADS
    free(buf);
}

/* ---- The Ref type ---- */

static void link_locked(pbpy_pool *p, pbpy_ref *ref)
{
    ref->prev = NULL;
    ref->next = p->outstanding;
    if (p->outstanding)
        p->outstanding->prev = ref;
    p->outstanding = ref;
    p->noutstanding++;
    ref->linked = true;
}

pbpy_ref *pbpy_ref_new(pbpy_pool *pool, pb_future *f, bool chunk)
{
    pbpy_ref *ref = PyObject_New(pbpy_ref, &pbpy_ref_type);
    if (!ref)
        return NULL;
    ref->f = f;
    Py_INCREF(pool);
    ref->pool = pool;
    ref->pyf = NULL;
    ref->prev = ref->next = NULL;
    ref->linked = false;
    ref->chunk = chunk;
    ref->suspect = 0;
    Py_INCREF(ref); /* the outstanding list's */
    pthread_mutex_lock(&pool->mu);
    link_locked(pool, ref);
    pthread_mutex_unlock(&pool->mu);
    *pb_future_slot(f) = ref;
    return ref;
}

void pbpy_ref_unlink(pbpy_ref *ref)
{
    pbpy_pool *p = ref->pool;
    Py_CLEAR(ref->pyf);
    pthread_mutex_lock(&p->mu);
    bool was = ref->linked;
    if (was) {
        if (ref->prev)
            ref->prev->next = ref->next;
        else
            p->outstanding = ref->next;
        if (ref->next)
            ref->next->prev = ref->prev;
        ref->linked = false;
        if (--p->noutstanding == 0)
            pthread_cond_broadcast(&p->idle);
    }
    pthread_mutex_unlock(&p->mu);
    if (was) {
        if (ref->f)
            *pb_future_slot(ref->f) = NULL;
        Py_DECREF(ref); /* the list's reference: may free ref */
    }
}

void pbpy_ref_disown(pbpy_ref *ref)
{
    pb_future *f = ref->f;
    pbpy_ref_unlink(ref);
    ref->f = NULL;
    if (f)
        *pb_future_slot(f) = NULL;
}

static void ref_dealloc(pbpy_ref *ref)
{
    if (ref->f) {
        if (!pb_future_done(ref->f))
            pbpy_fail_broken(ref, "Python dropped this future without an outcome");
        pb_future_release(ref->f);
    }
    Py_XDECREF(ref->pyf);
    Py_XDECREF(ref->pool);
    PyObject_Free(ref);
}

static PyObject *ref_running(pbpy_ref *ref, PyObject *unused)
{
    return PyBool_FromLong(ref->f && pb_future_set_running(ref->f));
}

static PyObject *ref_noticed(pbpy_ref *ref, PyObject *unused)
{
    if (ref->f)
        pb_future_cancel_noticed(ref->f);
    Py_RETURN_NONE;
}

/* The done-callback: x is the Python future (executors) or the result or
 * exception (multiprocessing.Pool). */
static PyObject *ref_call(pbpy_ref *ref, PyObject *args, PyObject *kw)
{
    PyObject *x;
    if (!PyArg_ParseTuple(args, "O", &x))
        return NULL;
    if (!ref->f || pb_future_done(ref->f)) {
        pbpy_ref_unlink(ref); /* poolbench cancelled it first */
        Py_RETURN_NONE;
    }
    bool mp = ref->pool->kind == PBPY_MP;
    PyObject *value = NULL, *exc = NULL;
    if (mp) {
        if (PyExceptionInstance_Check(x))
            exc = (Py_INCREF(x), x);
        else
            value = (Py_INCREF(x), x);
    } else {
        /* exception() then result(): neither raises what the task raised,
         * which would tie the future, its exception and the frames of the
         * thread completing it into a cycle only the garbage collector
         * frees (with the executor's pipes, held by those frames). A
         * cancelled future's exception() raises CancelledError. */
        exc = PyObject_CallMethodNoArgs(x, pbpy.s_exception);
        if (!exc) {
            PyObject *type, *tb;
            PyErr_Fetch(&type, &exc, &tb);
            PyErr_NormalizeException(&type, &exc, &tb);
            Py_XDECREF(type);
            Py_XDECREF(tb);
        } else if (exc == Py_None) {
            Py_CLEAR(exc);
            value = PyObject_CallMethodNoArgs(x, pbpy.s_result);
            if (!value) { /* cannot happen on a finished future; say so if it does */
                PyObject *type, *tb;
                PyErr_Fetch(&type, &exc, &tb);
                PyErr_NormalizeException(&type, &exc, &tb);
                Py_XDECREF(type);
                Py_XDECREF(tb);
            }
        }
    }
    if (exc && PyObject_IsInstance(exc, pbpy.cancelled) == 1) {
        /* Python cancelled it (shutdown with cancel_futures): so does
         * poolbench, its callbacks running here as Python's do. */
        pb_future *f = ref->f;
        Py_BEGIN_ALLOW_THREADS
        pb_future_cancel(f);
        Py_END_ALLOW_THREADS
    } else if (exc) {
        pbpy_fail(ref, exc);
    } else if (ref->chunk) {
        complete_chunk(ref, value, mp);
    } else {
        complete_one(ref, value);
    }
    PyErr_Clear(); /* a callback must not raise into Python's machinery */
    Py_XDECREF(value);
    Py_XDECREF(exc);
    pbpy_ref_unlink(ref);
    Py_RETURN_NONE;
}

static PyMethodDef ref_methods[] = {
    {"running", (PyCFunction)ref_running, METH_NOARGS,
     "Marks the poolbench future RUNNING; False if it was cancelled first."},
    {"noticed", (PyCFunction)ref_noticed, METH_NOARGS,
     "The pool has taken the cancelled future off its queue."},
    {NULL, NULL, 0, NULL},
};

PyTypeObject pbpy_ref_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "_poolbench.Ref",
    .tp_basicsize = sizeof(pbpy_ref),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "The py-* backend's reference to one poolbench future.",
    .tp_dealloc = (destructor)ref_dealloc,
    .tp_call = (ternaryfunc)ref_call,
    .tp_methods = ref_methods,
};

/* ---- The Pool type ---- */

static void pool_dealloc(pbpy_pool *p)
{
    Py_XDECREF(p->impl);
    Py_XDECREF(p->submit);
    Py_XDECREF(p->map_async);
    Py_XDECREF(p->manager);
    if (p->slots)
        munmap(p->slots, p->slots_size);
    if (p->slots_fd >= 0)
        close(p->slots_fd);
    free(p->bindings);
    pthread_cond_destroy(&p->idle);
    pthread_mutex_destroy(&p->mu);
    PyObject_Free(p);
}

PyTypeObject pbpy_pool_type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "_poolbench.Pool",
    .tp_basicsize = sizeof(pbpy_pool),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A py-* pool (opaque).",
    .tp_dealloc = (destructor)pool_dealloc,
};

/* ---- The module ---- */

static PyObject *module_take(PyObject *self, PyObject *unused)
{
    pbpy_thread *t = pthread_getspecific(thread_key);
    pbpy_ref *ref = t ? t->handoff : NULL;
    if (!ref)
        Py_RETURN_NONE;
    t->handoff = NULL;
    Py_INCREF(ref);
    return (PyObject *)ref;
}

static PyMethodDef module_methods[] = {
    {"take", module_take, METH_NOARGS,
     "The poolbench future the calling thread is submitting, or None."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "_poolbench",
    "The C side of poolbench's py-* backends (pb-python.so).", -1, module_methods,
    NULL, NULL, NULL, NULL,
};

static PyObject *module_init(void)
{
    if (PyType_Ready(&pbpy_ref_type) < 0 || PyType_Ready(&pbpy_pool_type) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module_def);
    if (!m)
        return NULL;
    Py_INCREF(&pbpy_ref_type);
    Py_INCREF(&pbpy_pool_type);
    if (PyModule_AddObject(m, "Ref", (PyObject *)&pbpy_ref_type) < 0 ||
        PyModule_AddObject(m, "Pool", (PyObject *)&pbpy_pool_type) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}

/* ---- Starting the interpreter ---- */

static pthread_once_t start_once = PTHREAD_ONCE_INIT;
static int start_rc;
static char start_error[600];

__attribute__((format(printf, 2, 3))) static int start_fail(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(start_error, sizeof start_error, fmt, ap);
    va_end(ap);
    return code;
}

/* The folder of this module, plus "/python": where poolbench_host.py lies,
 * in the build tree as in an installed tree. */
static bool glue_dir(char *buf, size_t size)
{
    Dl_info info;
    if (!dladdr((void *)&pbpy_start, &info) || !info.dli_fname)
        return false;
    const char *slash = strrchr(info.dli_fname, '/');
    int n = slash ? snprintf(buf, size, "%.*s/python", (int)(slash - info.dli_fname),
                             info.dli_fname)
                  : snprintf(buf, size, "python");
    return n > 0 && (size_t)n < size;
}

static PyObject *attr_of(const char *module, const char *name)
{
    PyObject *m = PyImport_ImportModule(module);
    PyObject *a = m ? PyObject_GetAttrString(m, name) : NULL;
    Py_XDECREF(m);
    return a;
}

static int start_python(void)
{
    /* libpython's symbols, global for Debian's extension modules. */
    Dl_info info;
    if (!dladdr((void *)&Py_InitializeFromConfig, &info) || !info.dli_fname ||
        !dlopen(info.dli_fname, RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD))
        return start_fail(PB_ENOENT, "cannot make libpython's symbols global: %s", dlerror());
    char dir[PATH_MAX];
    char host_py[PATH_MAX + 32];
    if (!glue_dir(dir, sizeof dir))
        return start_fail(PB_ENOENT, "cannot tell where %s lies", "pb-python.so");
    snprintf(host_py, sizeof host_py, "%s/poolbench_host.py", dir);
    if (access(host_py, R_OK) != 0)
        return start_fail(PB_ENOENT, "%.300s is missing (installed beside pb-python.so)", host_py);
    const char *exe = PB_PYTHON_EXECUTABLE;
    if (access(exe, X_OK) != 0)
        return start_fail(PB_ENOENT, "the Python interpreter for worker processes, %s, is missing",
                          exe);
    if (pthread_key_create(&thread_key, thread_exit) != 0)
        return start_fail(PB_ENOMEM, "%s", "no pthread key left");

    PyPreConfig pre;
    PyPreConfig_InitIsolatedConfig(&pre);
    pre.utf8_mode = 1;
#if defined(__SANITIZE_ADDRESS__)
    pre.allocator = PYMEM_ALLOCATOR_MALLOC; /* see DESIGN */
#endif
    PyStatus st = Py_PreInitialize(&pre);
    if (PyStatus_Exception(st))
        return start_fail(PB_ENOENT, "Python refused its pre-configuration: %s",
                          st.err_msg ? st.err_msg : "?");
    if (PyImport_AppendInittab("_poolbench", module_init) != 0)
        return start_fail(PB_ENOMEM, "%s", "cannot add the _poolbench module");

    static struct sigaction before[NSIG]; /* static: NSIG of them is big for a stack */
    for (int sig = 1; sig < NSIG; sig++)
        sigaction(sig, NULL, &before[sig]);

    PyConfig c;
    PyConfig_InitIsolatedConfig(&c);
    c.install_signal_handlers = 0;
    c.write_bytecode = 0;
    st = PyConfig_SetBytesString(&c, &c.executable, exe);
    if (!PyStatus_Exception(st))
        st = PyConfig_SetBytesString(&c, &c.program_name, exe);
    if (!PyStatus_Exception(st))
        st = Py_InitializeFromConfig(&c);
    PyConfig_Clear(&c);
    if (PyStatus_Exception(st))
        return start_fail(PB_ENOENT, "Python did not start: %s", st.err_msg ? st.err_msg : "?");

    /* The GIL is ours until the end of this function. */
    int rc = 0;
    PyObject *sys_path = PySys_GetObject("path"); /* borrowed */
    PyObject *d = PyUnicode_DecodeFSDefault(dir);
    if (!sys_path || !d || PyList_Insert(sys_path, 0, d) != 0)
        rc = PB_ENOMEM;
    Py_XDECREF(d);
    if (!rc) {
        pbpy.host = PyImport_ImportModule("poolbench_host");
        pbpy.twins = pbpy.host ? PyImport_ImportModule("poolbench_twins") : NULL;
        PyObject *r = pbpy.twins ? PyObject_CallMethod(pbpy.host, "setup", "s", exe) : NULL;
        if (r) {
            pbpy.twin_table = PyObject_GetAttrString(pbpy.twins, "TWINS");
            pbpy.run_chunk = PyObject_GetAttrString(pbpy.twins, "run_chunk");
            pbpy.run_tracked = PyObject_GetAttrString(pbpy.twins, "run_tracked");
            pbpy.task_failed = PyObject_GetAttrString(pbpy.twins, "TaskFailed");
            pbpy.broken = attr_of("concurrent.futures", "BrokenExecutor");
            pbpy.cancelled = attr_of("concurrent.futures", "CancelledError");
            pbpy.partial = attr_of("functools", "partial");
        }
        Py_XDECREF(r);
        if (!pbpy.twin_table || !pbpy.run_chunk || !pbpy.run_tracked || !pbpy.task_failed ||
            !pbpy.broken || !pbpy.cancelled || !pbpy.partial) {
            char why[400];
            pbpy_describe_error(why, sizeof why);
            snprintf(start_error, sizeof start_error, "the Python glue (%.200s) did not load: %.360s",
                     host_py, why);
            rc = PB_ENOENT;
        }
    }
    struct {
        PyObject **s;
        const char *text;
    } names[] = {
        {&pbpy.s_add_done_callback, "add_done_callback"}, {&pbpy.s_cancel, "cancel"},
        {&pbpy.s_result, "result"}, {&pbpy.s_exception, "exception"},
        {&pbpy.s_shutdown, "shutdown"}, {&pbpy.s_close, "close"},
        {&pbpy.s_join, "join"}, {&pbpy.s_terminate, "terminate"}, {&pbpy.s_pb_times, "pb_times"},
        {&pbpy.s_code, "code"}, {&pbpy.s_message, "message"},
    };
    for (size_t i = 0; !rc && i < sizeof names / sizeof names[0]; i++)
        if (!(*names[i].s = PyUnicode_InternFromString(names[i].text)))
            rc = PB_ENOMEM;
    PyErr_Clear();
    for (int sig = 1; sig < NSIG; sig++) {
        struct sigaction now;
        if (sigaction(sig, NULL, &now) == 0 && now.sa_handler != before[sig].sa_handler)
            sigaction(sig, &before[sig], NULL); /* Python's SIGINT handler (see DESIGN) */
    }
    PyEval_SaveThread(); /* from now on every thread enters through pbpy_enter */
    return rc;
}

static void start_once_fn(void)
{
    start_rc = start_python();
}

int pbpy_start(const char *backend)
{
    pthread_once(&start_once, start_once_fn);
    if (start_rc)
        return pb_backend_error(start_rc, "%s backend: %s", backend,
                                start_error[0] ? start_error : pb_strerror(start_rc));
    return 0;
}
