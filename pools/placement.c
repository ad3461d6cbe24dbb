/*
 * placement.c — hwloc topology, pin policies and worker binding.
 *
 * What this file does
 *   Turns a pin string ("none", "compact", "scatter" or a list like "0,2-3")
 *   into one PU per worker, and binds a worker thread or a worker process to
 *   its PU. Every backend goes through here, so a policy means the same thing
 *   for threads and for processes.
 *
 * DESIGN
 *   - The process topology is loaded once, on first use, under pthread_once:
 *     hwloc_topology_load() reads sysfs and can take milliseconds, and a
 *     topology is immutable afterwards, so every thread may share it without a
 *     lock (hwloc documents concurrent read-only use and binding calls as
 *     safe). The same pthread_once snapshots the allowed set: hwloc's allowed
 *     cpuset (cgroups) intersected with the process's affinity mask at that
 *     moment. Pools are placed within that snapshot narrowed to the creating
 *     thread's mask at creation (allowed_now), so an affinity change made
 *     later counts, while a pinned worker's own mask never leaks into "what
 *     the process may use".
 *   - Binding support is read from hwloc_topology_get_support() at load time.
 *     When hwloc cannot bind (another OS, or a topology that is not this
 *     system, e.g. HWLOC_THISSYSTEM=0 or HWLOC_SYNTHETIC in the environment),
 *     the bind functions return PB_ENOTSUP rather than pretending: hwloc's
 *     dummy hooks would "succeed" without binding anything.
 *   - Placement itself (pb__placement_compute) is a pure function of a
 *     topology and an allowed set, so tests drive it with synthetic
 *     topologies. Orders:
 *       compact  PUs in hwloc's logical (depth-first) order: the PUs of a core,
 *                then the next core, the next package.
 *       scatter  a round-robin interleave at every level of the tree: the
 *                first PU of each package, in turn, then the second, ...; within
 *                a package the same over its NUMA groups, cores, and a core's
 *                PUs. For "pack:2 core:4 pu:2" that is 0,8,2,10,4,12,6,14,
 *                1,9,3,11,5,13,7,15. Subtrees with fewer allowed PUs simply
 *                drop out of the rotation once exhausted.
 *       list     the OS indexes in the order written; duplicates allowed.
 *     Worker i takes entry (i mod n) of the order.
 *   - Binding a process happens right after fork() in the child of a
 *     multi-threaded parent, where only async-signal-safe work is safe:
 *     another parent thread may have held a lock (malloc's, hwloc's, stdio's)
 *     at the moment of fork and it stays locked forever in the child.
 *     pb__placement_new() therefore precomputes, for each worker, both the
 *     hwloc bitmap and (on Linux) a ready glibc cpu_set_t, and
 *     pb__placement_bind_process() is then a single sched_setaffinity()
 *     system call: no allocation, no lock, no hwloc. On Linux affinity is per
 *     thread and inherited by threads created later, so binding the only
 *     thread of a fresh child binds the whole process; this is why the
 *     function must be called while the process is still single-threaded.
 *     Elsewhere it falls back to hwloc_set_cpubind(HWLOC_CPUBIND_PROCESS).
 *
 * Guarantees
 *   - pb__topology(), pb__cpu_count() and the placement functions are
 *     thread-safe. A pb__placement is immutable after pb__placement_new() and
 *     may be read by all workers at once.
 *   - Nothing here prints, exits or installs handlers.
 */
#include "placement-int.h"

#include "pb/pool.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef __linux__
#include <sched.h>
#endif

/* OS CPU indexes above this are rejected while parsing, before any range is
 * expanded, so "0-4294967295" is a clean PB_EINVAL, not a long loop or an
 * overflow. Far above any real machine's PU numbering. */
#define PB__CPU_INDEX_MAX (1 << 20)

/* ------------------------------------------------------------------------
 * The process topology, loaded once
 * ------------------------------------------------------------------------ */

static pthread_once_t topo_once = PTHREAD_ONCE_INIT;
static hwloc_topology_t topo;      /* NULL if loading failed */
static hwloc_bitmap_t topo_allowed; /* allowed ∩ affinity, snapshot at load */
static int topo_err;               /* 0 or the negative errno of loading */
static bool can_bind_thread, can_bind_process, can_get_thread, can_get_process;

static void topology_load_once(void)
{
    hwloc_topology_t t;
    hwloc_bitmap_t allowed = NULL, bound = NULL;
    int err;

    if (hwloc_topology_init(&t) < 0) {
        topo_err = errno ? -errno : PB_ENOMEM;
        return;
    }
    if (hwloc_topology_load(t) < 0) {
        err = errno ? -errno : PB_EINVAL;
        hwloc_topology_destroy(t);
        topo_err = err;
        return;
    }

    const struct hwloc_topology_support *sup = hwloc_topology_get_support(t);
    can_bind_thread = sup->cpubind->set_thisthread_cpubind;
    can_bind_process = sup->cpubind->set_thisproc_cpubind;
    can_get_thread = sup->cpubind->get_thisthread_cpubind;
    can_get_process = sup->cpubind->get_proc_cpubind;

    allowed = hwloc_bitmap_dup(hwloc_topology_get_allowed_cpuset(t));
    bound = hwloc_bitmap_alloc();
    if (!allowed || !bound) {
        hwloc_bitmap_free(allowed);
        hwloc_bitmap_free(bound);
        hwloc_topology_destroy(t);
        topo_err = PB_ENOMEM;
        return;
    }
    hwloc_bitmap_and(allowed, allowed, hwloc_topology_get_topology_cpuset(t));
    /* The process's affinity (union over its threads). Only meaningful when
     * the topology is this system; otherwise hwloc reports no support and the
     * kernel's mask would not describe the loaded topology anyway. */
    if (sup->cpubind->get_thisproc_cpubind &&
        hwloc_get_cpubind(t, bound, HWLOC_CPUBIND_PROCESS) == 0 &&
        hwloc_bitmap_intersects(allowed, bound))
        hwloc_bitmap_and(allowed, allowed, bound);
    hwloc_bitmap_free(bound);

    topo_allowed = allowed;
    topo = t;
}

int pb__topology(hwloc_topology_t *out)
{
    if (!out)
        return PB_EINVAL;
    pthread_once(&topo_once, topology_load_once);
    if (!topo) {
        *out = NULL;
        return topo_err ? topo_err : PB_EINVAL;
    }
    *out = topo;
    return 0;
}

/* The PUs a pool created now may use: the allowed snapshot narrowed to the
 * calling thread's current affinity mask, so `taskset` or sched_setaffinity()
 * done after the first use still counts (workers=0 means "the PUs this
 * process may run on" at creation time). A new bitmap, or NULL. */
static hwloc_bitmap_t allowed_now(void)
{
    hwloc_topology_t t;
    if (pb__topology(&t) < 0)
        return NULL;
    hwloc_bitmap_t set = hwloc_bitmap_dup(topo_allowed), mine = hwloc_bitmap_alloc();
    if (set && mine && can_get_thread && hwloc_get_cpubind(t, mine, HWLOC_CPUBIND_THREAD) == 0 &&
        hwloc_bitmap_intersects(set, mine))
        hwloc_bitmap_and(set, set, mine);
    hwloc_bitmap_free(mine);
    return set;
}

int pb__cpu_count(void)
{
    hwloc_bitmap_t allowed = allowed_now();
    int n;

    if (allowed) {
        n = hwloc_bitmap_weight(allowed);
        hwloc_bitmap_free(allowed);
        if (n >= 1)
            return n;
    }
    /* No topology: the kernel's view is the next best answer. */
#ifdef __linux__
    cpu_set_t mask;
    if (sched_getaffinity(0, sizeof mask, &mask) == 0) {
        n = CPU_COUNT(&mask);
        if (n >= 1)
            return n;
    }
#endif
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    return online >= 1 && online <= INT_MAX ? (int)online : 1;
}

/* ------------------------------------------------------------------------
 * Orders: a growable array of OS PU indexes
 * ------------------------------------------------------------------------ */

typedef struct pu_order {
    unsigned *pu;
    size_t len, cap;
} pu_order;

static int order_push(pu_order *o, unsigned pu)
{
    if (o->len == o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 16;
        unsigned *p = realloc(o->pu, cap * sizeof *p);
        if (!p)
            return PB_ENOMEM;
        o->pu = p;
        o->cap = cap;
    }
    o->pu[o->len++] = pu;
    return 0;
}

/* compact: hwloc's logical PU order is depth-first, i.e. exactly "PUs of a
 * core, then the next core, then the next package". */
static int order_compact(hwloc_topology_t t, hwloc_const_cpuset_t allowed, pu_order *o)
{
    hwloc_obj_t pu = NULL;
    int err;

    while ((pu = hwloc_get_next_obj_by_type(t, HWLOC_OBJ_PU, pu)) != NULL) {
        if (!hwloc_bitmap_isset(allowed, pu->os_index))
            continue;
        if ((err = order_push(o, pu->os_index)) < 0)
            return err;
    }
    return 0;
}

/* scatter: the allowed PUs under obj, interleaved round-robin over obj's
 * children (each child's own order being built the same way). */
static int order_scatter(hwloc_obj_t obj, hwloc_const_cpuset_t allowed, pu_order *o)
{
    if (!obj->cpuset || !hwloc_bitmap_intersects(obj->cpuset, allowed))
        return 0;
    if (obj->type == HWLOC_OBJ_PU)
        return order_push(o, obj->os_index);
    if (obj->arity == 1)
        return order_scatter(obj->children[0], allowed, o);

    pu_order *sub = calloc(obj->arity, sizeof *sub);
    size_t *next = calloc(obj->arity, sizeof *next);
    int err = 0;

    if (!sub || !next) {
        err = PB_ENOMEM;
        goto out;
    }
    for (unsigned c = 0; c < obj->arity && err == 0; c++)
        err = order_scatter(obj->children[c], allowed, &sub[c]);
    for (bool more = true; more && err == 0;) {
        more = false;
        for (unsigned c = 0; c < obj->arity && err == 0; c++) {
            if (next[c] < sub[c].len) {
                err = order_push(o, sub[c].pu[next[c]++]);
                more = true;
            }
        }
    }
out:
    if (sub)
        for (unsigned c = 0; c < obj->arity; c++)
            free(sub[c].pu);
    free(sub);
    free(next);
    return err;
}

/* Reads a decimal CPU index at *s: digits only (no sign, no blanks), at most
 * PB__CPU_INDEX_MAX. Advances *s past it. */
static int parse_index(const char **s, unsigned *out)
{
    const char *p = *s;
    unsigned long v = 0;

    if (*p < '0' || *p > '9')
        return PB_EINVAL;
    for (; *p >= '0' && *p <= '9'; p++) {
        v = v * 10 + (unsigned long)(*p - '0');
        if (v > PB__CPU_INDEX_MAX)
            return PB_EINVAL;
    }
    *s = p;
    *out = (unsigned)v;
    return 0;
}

/* An explicit list: item (',' item)*, item = N | N '-' M with N <= M; every
 * CPU named must be in allowed. */
static int order_list(const char *pin, hwloc_const_cpuset_t allowed, pu_order *o)
{
    const char *s = pin;
    int err;

    if (*s == '\0')
        return PB_EINVAL;
    for (;;) {
        unsigned lo, hi;

        if ((err = parse_index(&s, &lo)) < 0)
            return err;
        hi = lo;
        if (*s == '-') {
            s++;
            if ((err = parse_index(&s, &hi)) < 0)
                return err;
            if (hi < lo)
                return PB_EINVAL;
        }
        /* Checking every CPU of the range against allowed before expanding it
         * bounds the expansion by the number of allowed PUs. */
        for (unsigned cpu = lo;; cpu++) {
            if (!hwloc_bitmap_isset(allowed, cpu))
                return PB_EINVAL;
            if (cpu == hi)
                break;
        }
        for (unsigned cpu = lo;; cpu++) {
            if ((err = order_push(o, cpu)) < 0)
                return err;
            if (cpu == hi)
                break;
        }
        if (*s == '\0')
            return 0;
        if (*s != ',')
            return PB_EINVAL;
        s++; /* a trailing comma fails on the next parse_index */
    }
}

/* Builds the PU order for pin. *is_none is set for "none"/NULL (o empty). */
static int order_build(hwloc_topology_t t, hwloc_const_cpuset_t allowed_in,
                       const char *pin, pu_order *o, bool *is_none)
{
    hwloc_bitmap_t allowed;
    int err;

    *is_none = false;
    if (!pin || strcmp(pin, "none") == 0) {
        *is_none = true;
        return 0;
    }
    if (!t)
        return PB_EINVAL;
    allowed = hwloc_bitmap_dup(allowed_in ? allowed_in : hwloc_topology_get_allowed_cpuset(t));
    if (!allowed)
        return PB_ENOMEM;
    /* Only PUs that exist in this topology count. */
    hwloc_bitmap_and(allowed, allowed, hwloc_topology_get_topology_cpuset(t));

    if (strcmp(pin, "compact") == 0)
        err = order_compact(t, allowed, o);
    else if (strcmp(pin, "scatter") == 0)
        err = order_scatter(hwloc_get_root_obj(t), allowed, o);
    else
        err = order_list(pin, allowed, o);
    hwloc_bitmap_free(allowed);

    if (err == 0 && o->len == 0)
        err = PB_EINVAL; /* no allowed PU to place anything on */
    return err;
}

int pb__placement_compute(hwloc_topology_t t, hwloc_const_cpuset_t allowed,
                          const char *pin, int workers, hwloc_bitmap_t *sets)
{
    pu_order o = {0};
    bool is_none;
    int err;

    if (workers < 0 || (workers > 0 && !sets))
        return PB_EINVAL;
    err = order_build(t, allowed, pin, &o, &is_none);
    if (err == 0) {
        for (int i = 0; i < workers; i++) {
            hwloc_bitmap_zero(sets[i]);
            if (!is_none && hwloc_bitmap_set(sets[i], o.pu[(size_t)i % o.len]) < 0) {
                err = PB_ENOMEM;
                break;
            }
        }
    }
    free(o.pu);
    return err;
}

int pb__placement_check(const char *pin)
{
    hwloc_topology_t t;
    int err;

    if (!pin || strcmp(pin, "none") == 0)
        return 0;
    if ((err = pb__topology(&t)) < 0)
        return err;
    hwloc_bitmap_t allowed = allowed_now();
    if (!allowed)
        return PB_ENOMEM;
    err = pb__placement_compute(t, allowed, pin, 0, NULL);
    hwloc_bitmap_free(allowed);
    return err;
}

/* ------------------------------------------------------------------------
 * Resolved placements and binding
 * ------------------------------------------------------------------------ */

struct pb__placement {
    int workers;
    hwloc_bitmap_t *sets; /* [workers], one PU each */
#ifdef __linux__
    /* The same PUs as ready-made kernel masks, so binding after fork() is one
     * system call (see the file header). */
    size_t mask_size;
    cpu_set_t **masks; /* [workers] */
#endif
};

void pb__placement_free(pb__placement *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->workers; i++) {
        if (p->sets)
            hwloc_bitmap_free(p->sets[i]);
#ifdef __linux__
        if (p->masks && p->masks[i])
            CPU_FREE(p->masks[i]);
#endif
    }
    free(p->sets);
#ifdef __linux__
    free(p->masks);
#endif
    free(p);
}

int pb__placement_new(const char *pin, int workers, pb__placement **out)
{
    hwloc_topology_t t;
    pb__placement *p;
    int err;

    if (!out)
        return PB_EINVAL;
    *out = NULL;
    if (workers < 0)
        return PB_EINVAL;
    if (!pin || strcmp(pin, "none") == 0)
        return 0;
    if ((err = pb__topology(&t)) < 0)
        return err;
    if (workers == 0)
        workers = pb__cpu_count();

    p = calloc(1, sizeof *p);
    if (!p)
        return PB_ENOMEM;
    p->sets = calloc((size_t)workers, sizeof *p->sets);
#ifdef __linux__
    p->masks = calloc((size_t)workers, sizeof *p->masks);
    if (!p->masks) {
        free(p->sets);
        p->sets = NULL;
    }
#endif
    if (!p->sets) {
        pb__placement_free(p);
        return PB_ENOMEM;
    }
    p->workers = workers;
    for (int i = 0; i < workers; i++) {
        if (!(p->sets[i] = hwloc_bitmap_alloc())) {
            pb__placement_free(p);
            return PB_ENOMEM;
        }
    }
    hwloc_bitmap_t allowed = allowed_now();
    err = allowed ? pb__placement_compute(t, allowed, pin, workers, p->sets) : PB_ENOMEM;
    hwloc_bitmap_free(allowed);
    if (err < 0) {
        pb__placement_free(p);
        return err;
    }

#ifdef __linux__
    int last = hwloc_bitmap_last(hwloc_topology_get_topology_cpuset(t));
    int ncpus = last >= 0 ? last + 1 : 1;
    p->mask_size = CPU_ALLOC_SIZE(ncpus);
    for (int i = 0; i < workers; i++) {
        unsigned cpu;

        if (!(p->masks[i] = CPU_ALLOC(ncpus))) {
            pb__placement_free(p);
            return PB_ENOMEM;
        }
        CPU_ZERO_S(p->mask_size, p->masks[i]);
        hwloc_bitmap_foreach_begin(cpu, p->sets[i])
            CPU_SET_S(cpu, p->mask_size, p->masks[i]);
        hwloc_bitmap_foreach_end();
    }
#endif
    *out = p;
    return 0;
}

int pb__placement_bind_thread(const pb__placement *p, int worker)
{
    if (!p)
        return 0;
    if (worker < 0 || worker >= p->workers)
        return PB_EINVAL;
    if (!can_bind_thread)
        return PB_ENOTSUP;
    if (hwloc_set_cpubind(topo, p->sets[worker], HWLOC_CPUBIND_THREAD) < 0)
        return errno == ENOSYS ? PB_ENOTSUP : (errno ? -errno : PB_EINVAL);
    return 0;
}

/* Async-signal-safe on Linux: reads only the immutable placement and the
 * support flags set before any pb__placement existed, then one system call. */
int pb__placement_bind_process(const pb__placement *p, int worker)
{
    if (!p)
        return 0;
    if (worker < 0 || worker >= p->workers)
        return PB_EINVAL;
    if (!can_bind_process)
        return PB_ENOTSUP;
#ifdef __linux__
    if (sched_setaffinity(0, p->mask_size, p->masks[worker]) < 0)
        return errno == ENOSYS ? PB_ENOTSUP : -errno;
#else
    if (hwloc_set_cpubind(topo, p->sets[worker], HWLOC_CPUBIND_PROCESS) < 0)
        return errno == ENOSYS ? PB_ENOTSUP : (errno ? -errno : PB_EINVAL);
#endif
    return 0;
}

int pb__cpuset_format(hwloc_const_bitmap_t set, char *buf, size_t size)
{
    if (!buf || size == 0)
        return PB_EINVAL;
    buf[0] = '\0';
    if (!set)
        return PB_EINVAL;
    /* Truncates (NUL-terminated) when buf is short, as pb_pool_binding()
     * documents. */
    if (hwloc_bitmap_list_snprintf(buf, size, set) < 0)
        return errno ? -errno : PB_ENOMEM;
    return 0;
}

int pb__placement_cpus(const pb__placement *p, int worker, char *buf, size_t size)
{
    if (!buf || size == 0)
        return PB_EINVAL;
    buf[0] = '\0';
    if (!p)
        return 0;
    if (worker < 0 || worker >= p->workers)
        return PB_EINVAL;
    return pb__cpuset_format(p->sets[worker], buf, size);
}

/* Formats a binding read back from the system: "" when it covers every
 * allowed PU, since such a binding restricts nothing. */
static int format_binding(hwloc_const_bitmap_t bound, char *buf, size_t size)
{
    if (hwloc_bitmap_isincluded(topo_allowed, bound)) {
        buf[0] = '\0';
        return 0;
    }
    return pb__cpuset_format(bound, buf, size);
}

int pb__binding_of_self_thread(char *buf, size_t size)
{
    hwloc_topology_t t;
    hwloc_bitmap_t set;
    int err;

    if (!buf || size == 0)
        return PB_EINVAL;
    buf[0] = '\0';
    if ((err = pb__topology(&t)) < 0)
        return err;
    if (!can_get_thread)
        return PB_ENOTSUP;
    if (!(set = hwloc_bitmap_alloc()))
        return PB_ENOMEM;
    if (hwloc_get_cpubind(t, set, HWLOC_CPUBIND_THREAD) < 0)
        err = errno == ENOSYS ? PB_ENOTSUP : (errno ? -errno : PB_EINVAL);
    else
        err = format_binding(set, buf, size);
    hwloc_bitmap_free(set);
    return err;
}

int pb__binding_of_pid(pid_t pid, char *buf, size_t size)
{
    hwloc_topology_t t;
    hwloc_bitmap_t set;
    int err;

    if (!buf || size == 0 || pid <= 0)
        return PB_EINVAL;
    buf[0] = '\0';
    if ((err = pb__topology(&t)) < 0)
        return err;
    if (!can_get_process)
        return PB_ENOTSUP;
    if (!(set = hwloc_bitmap_alloc()))
        return PB_ENOMEM;
    /* On Linux: the union of the bindings of the process's threads. */
    if (hwloc_get_proc_cpubind(t, pid, set, 0) < 0)
        err = errno == ENOSYS ? PB_ENOTSUP : (errno ? -errno : PB_EINVAL);
    else
        err = format_binding(set, buf, size);
    hwloc_bitmap_free(set);
    return err;
}
