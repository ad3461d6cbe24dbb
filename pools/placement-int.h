/*
 * placement-int.h — where workers run: hwloc topology, pin policies, binding.
 *
 * One place decides and applies worker placement for every backend (threads
 * bind themselves, process backends bind their children), so a pin policy
 * means the same thing everywhere.
 *
 * Policies
 *   "none"     no binding (the default).
 *   "compact"  fill the PUs of one core, then the next core, then the next
 *              package (hwloc's depth-first PU order).
 *   "scatter"  spread across packages first, then cores, then PUs of a core
 *              (round-robin over the tree, as hwloc_distrib does).
 *   "0,2-3"    an explicit list of OS CPU indexes, used in the order given.
 *   Worker i gets the (i mod n)-th PU of the resulting order, so more workers
 *   than PUs wrap around. Only PUs the process may run on count: hwloc's
 *   allowed set intersected with the process's affinity mask. An explicit list
 *   naming a CPU outside that set, an empty string, an open ("3-") or reversed
 *   ("3-1") range, or garbage is PB_EINVAL.
 *
 * The topology is loaded once per process (lazily, thread-safe) and shared;
 * the allowed set is snapshot at that moment (later affinity changes of the
 * process are not seen). A NULL pin means "none".
 *
 * Fork safety: pb__placement_new() precomputes every worker's cpuset (and on
 * Linux a ready kernel affinity mask), so pb__placement_bind_process() in the
 * child of a multi-threaded parent allocates nothing and takes no lock.
 */
#ifndef PB_PLACEMENT_INT_H
#define PB_PLACEMENT_INT_H

#include <hwloc.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct pb__placement pb__placement;

/* The process's topology, loaded on first use. Returns 0 or a negative errno. */
int pb__topology(hwloc_topology_t *out);

/* The number of PUs this process may run on (hwloc's allowed set ∩ its
 * affinity mask); at least 1. This is what workers=0 means. */
int pb__cpu_count(void);

/* Pure placement, for tests on synthetic topologies: fills sets[0..workers)
 * (allocated by the caller with hwloc_bitmap_alloc) with one PU each for the
 * policy, among the PUs of `allowed` that exist in topo (allowed NULL: topo's
 * allowed cpuset). "none" (or NULL) empties them and needs no topo. workers 0
 * only validates pin (sets may be NULL). Returns 0, PB_EINVAL (bad pin, no
 * allowed PU, workers < 0, NULL sets or topo) or PB_ENOMEM. */
int pb__placement_compute(hwloc_topology_t topo, hwloc_const_cpuset_t allowed,
                          const char *pin, int workers, hwloc_bitmap_t *sets);

/* Checks a pin string against the process topology and allowed set (a list
 * is only valid relative to them). Returns 0, PB_EINVAL, or the negative
 * errno of loading the topology. */
int pb__placement_check(const char *pin);

/* Resolves pin for `workers` workers on the process topology (workers 0:
 * pb__cpu_count()). *out is NULL for "none" (nothing to bind); otherwise the
 * caller frees it with pb__placement_free(). It is immutable: any number of
 * threads may bind from it at once. Returns 0, PB_EINVAL, PB_ENOMEM, or the
 * negative errno of loading the topology. */
int pb__placement_new(const char *pin, int workers, pb__placement **out);
void pb__placement_free(pb__placement *p);

/* Binds the calling thread (the worker thread itself) to worker i's PU.
 * p NULL: does nothing. Returns 0, PB_EINVAL (i out of range) or a negative
 * errno (PB_ENOTSUP when the system cannot bind threads). */
int pb__placement_bind_thread(const pb__placement *p, int worker);

/* Binds the calling process to worker i's PU. Call it while the process is
 * single-threaded: right after fork() in the child, or first thing in an
 * exec'd worker; threads created afterwards inherit the binding. Safe after
 * fork() in the child of a multi-threaded parent: on Linux it is one
 * sched_setaffinity() call on a precomputed mask (no allocation, no lock).
 * p NULL: does nothing. Returns 0, PB_EINVAL (i out of range), PB_ENOTSUP
 * (the system cannot bind processes) or a negative errno. */
int pb__placement_bind_process(const pb__placement *p, int worker);

/* The cpuset of worker i as an OS-index list ("0,2-3"), "" for p NULL.
 * Truncated (NUL-terminated) if buf is short. Returns 0 or PB_EINVAL. */
int pb__placement_cpus(const pb__placement *p, int worker, char *buf, size_t size);

/* The binding actually obtained, as a list; "" when bound to every allowed
 * PU (i.e. not restricted). For the calling thread, or for a process (the
 * union over its threads). Returns 0, PB_EINVAL (NULL buf, size 0, pid <= 0),
 * PB_ENOTSUP (the system cannot tell) or a negative errno (e.g. -ESRCH). */
int pb__binding_of_self_thread(char *buf, size_t size);
int pb__binding_of_pid(pid_t pid, char *buf, size_t size);

/* Formats a bitmap as an OS-index list ("0,2-3") into buf, truncated
 * (NUL-terminated) if buf is short. Returns 0 or PB_EINVAL. */
int pb__cpuset_format(hwloc_const_bitmap_t set, char *buf, size_t size);

#endif /* PB_PLACEMENT_INT_H */
