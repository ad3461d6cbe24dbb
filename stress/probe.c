/*
 * probe.c — the task every stress operation submits, and the table in
 * which it records which process ran it.
 *
 * WHY A PROBE
 *
 * The stress run must tell an injected failure from a real one, and that
 * needs to know, for a future that failed because a worker was killed from
 * outside, which worker was running it. A task that died cannot say so in
 * its result. So the probe says it first: before doing anything, it writes
 * its process id into a slot of a shared table indexed by the future's id,
 * then runs the real work — a workload of bench/workloads.c (checksum, echo,
 * fail, crash, hang), found by name and run in place with pb_task_run — and
 * returns its pid, thread id and own id ahead of the workload's result, so a
 * result that reached the wrong future is caught too.
 *
 * THE TABLE
 *
 * A file of PBS_SLOTS 32-byte slots, created by the harness and mapped
 * MAP_SHARED. It is a memfd, which has no name in any folder and vanishes
 * with the harness however it ends (a SIGKILLed run leaves nothing behind);
 * the harness keeps its descriptor open and names it as
 * /proc/<pid>/fd/<fd>. Where memfd_create is missing, it is a file in
 * $TMPDIR, "poolbench-stress-<pid>-XXXXXX", removed at the end; a later run
 * removes such files whose process is gone. Forked workers inherit the
 * mapping; exec'd workers (and workers of any other pool that runs this
 * program's tasks in another process on this host) open the file by the
 * path each probe argument carries, and map it on their first probe. A slot holds (id, pid, started, ended): when the
 * probe began and when its work was done, so a task that failed can be told
 * apart as "never started", "started, then stuck" or "done, but its result
 * never arrived". The writer clears the id, stores the fields and then the
 * id (release); the reader loads the id (acquire) and trusts the fields only
 * when the id is its own before and after, so a slot reused by a later probe
 * reads as "unknown" rather than as someone else's. Thread workers share the
 * harness's own mapping.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <pb/backend.h>

#include "probe.h"
#include "stress.h"

#define PBS_SLOTS (1u << 16) /* a power of two; far more than ever in flight */

typedef struct slot {
    _Atomic uint64_t id;
    _Atomic int32_t pid;
    int32_t reserved;
    _Atomic int64_t started; /* pb_now_ns() as the probe began, and as its work ended */
    _Atomic int64_t ended;
} slot;

/* The mapping this process uses, and the path it came from. Written by the
 * harness under map_mu before any worker exists (so forked children inherit
 * a consistent pair), or by a worker on its first probe. */
static pthread_mutex_t map_mu = PTHREAD_MUTEX_INITIALIZER;
static _Atomic(slot *) table;
static char table_path[256];
static bool table_owner; /* this process created the file */
static int table_fd = -1; /* the memfd, kept open while the table is in use */

static const char *const inner_names[PBS_INNER_COUNT] = {
    [PBS_INNER_CHECKSUM] = "checksum", [PBS_INNER_ECHO] = "echo",
    [PBS_INNER_FAIL] = "fail",         [PBS_INNER_SEGV] = "crash",
    [PBS_INNER_ABORT] = "crash",       [PBS_INNER_EXIT] = "crash",
    [PBS_INNER_HANG] = "hang",
};

const char *pbs__inner_text(int inner)
{
    static const char *const t[PBS_INNER_COUNT] = {"checksum", "echo", "fail", "crash segv",
                                                   "crash abort", "crash exit", "hang"};
    return inner >= 0 && inner < PBS_INNER_COUNT ? t[inner] : "?";
}

bool pbs__inner_is_crash(int inner)
{
    return inner == PBS_INNER_SEGV || inner == PBS_INNER_ABORT || inner == PBS_INNER_EXIT;
}

unsigned pbs__inner_fault(int inner)
{
    switch (inner) {
    case PBS_INNER_FAIL: return PBS_FAULT_FAIL;
    case PBS_INNER_SEGV: return PBS_FAULT_SEGV;
    case PBS_INNER_ABORT: return PBS_FAULT_ABORT;
    case PBS_INNER_EXIT: return PBS_FAULT_EXIT;
    case PBS_INNER_HANG: return PBS_FAULT_HANG;
    default: return 0;
    }
}

static size_t slot_of(uint64_t id)
{
    /* Ids are (actor << 40) | sequence: mix so actors spread over the table. */
    uint64_t h = id * 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 48) & (PBS_SLOTS - 1);
}

/* Removes "poolbench-stress-<pid>-*" files in dir whose process is gone:
 * left by a run that was killed where no memfd could be made. */
static void remove_stale_tables(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        long pid;
        char rest[64];
        if (sscanf(e->d_name, "poolbench-stress-%ld-%63s", &pid, rest) != 2 || pid <= 0)
            continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue; /* alive, or not ours to ask about */
        char path[PATH_MAX];
        if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, e->d_name) < sizeof path)
            unlink(path);
    }
    closedir(d);
}

/* A file for the table: a memfd if possible, else a file in $TMPDIR. Its
 * path into path[0..size). Returns the descriptor or -errno (err set). */
static int create_table_file(char *path, size_t size, bool *named, char *err, size_t errlen)
{
    int fd = memfd_create("poolbench-stress", MFD_CLOEXEC);
    if (fd >= 0) {
        snprintf(path, size, "/proc/%ld/fd/%d", (long)getpid(), fd);
        *named = false;
        return fd;
    }
    const char *dir = getenv("TMPDIR");
    if (!dir || !*dir)
        dir = "/tmp";
    remove_stale_tables(dir);
    if ((size_t)snprintf(path, size, "%s/poolbench-stress-%ld-XXXXXX", dir, (long)getpid()) >=
        size) {
        snprintf(err, errlen, "TMPDIR is too long for the probe table's path");
        return -ENAMETOOLONG;
    }
    fd = mkostemp(path, O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        snprintf(err, errlen, "cannot create the probe table in %s: %s", dir, strerror(e));
        return -e;
    }
    *named = true;
    return fd;
}

int pbs__probe_table_open(char *err, size_t errlen)
{
    char path[sizeof table_path];
    bool named;
    int fd = create_table_file(path, sizeof path, &named, err, errlen);
    if (fd < 0)
        return fd;
    size_t size = PBS_SLOTS * sizeof(slot);
    if (ftruncate(fd, (off_t)size) != 0) {
        int e = errno;
        close(fd);
        if (named)
            unlink(path);
        snprintf(err, errlen, "cannot size the probe table %s: %s", path, strerror(e));
        return -e;
    }
    void *m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    int e = errno;
    if (named)
        close(fd); /* the mapping keeps the file; no fd outlives this call */
    if (m == MAP_FAILED) {
        if (named)
            unlink(path);
        else
            close(fd);
        snprintf(err, errlen, "cannot map the probe table %s: %s", path, strerror(e));
        return -e;
    }
    /* Touch every page now, so the memory check's starting point includes it. */
    memset(m, 0, size);
    pthread_mutex_lock(&map_mu);
    slot *old = atomic_load(&table);
    if (old)
        munmap(old, size);
    if (table_fd >= 0)
        close(table_fd);
    memcpy(table_path, path, sizeof table_path);
    table_owner = named;
    table_fd = named ? -1 : fd;
    atomic_store(&table, (slot *)m);
    pthread_mutex_unlock(&map_mu);
    return 0;
}

void pbs__probe_table_close(void)
{
    pthread_mutex_lock(&map_mu);
    slot *t = atomic_exchange(&table, NULL);
    if (t)
        munmap(t, PBS_SLOTS * sizeof(slot));
    if (table_owner && table_path[0])
        unlink(table_path);
    if (table_fd >= 0)
        close(table_fd);
    table_fd = -1;
    table_path[0] = '\0';
    table_owner = false;
    pthread_mutex_unlock(&map_mu);
}

const char *pbs__probe_table_path(void)
{
    return table_path;
}

int pbs__probe_record(uint64_t id, pid_t *pid, int64_t *started, int64_t *ended)
{
    slot *t = atomic_load(&table);
    if (!t)
        return -1;
    slot *s = &t[slot_of(id)];
    if (atomic_load_explicit(&s->id, memory_order_acquire) != id)
        return -1;
    pid_t p = atomic_load_explicit(&s->pid, memory_order_relaxed);
    int64_t st = atomic_load_explicit(&s->started, memory_order_relaxed);
    int64_t en = atomic_load_explicit(&s->ended, memory_order_acquire);
    /* The slot may have been taken over meanwhile. */
    if (atomic_load_explicit(&s->id, memory_order_acquire) != id)
        return -1;
    if (pid)
        *pid = p;
    if (started)
        *started = st;
    if (ended)
        *ended = en;
    return 0;
}

pid_t pbs__probe_pid(uint64_t id)
{
    pid_t pid = 0;
    return pbs__probe_record(id, &pid, NULL, NULL) == 0 ? pid : 0;
}

size_t pbs__probe_size(size_t len)
{
    return sizeof(pbs_probe_arg) + strlen(table_path) + len;
}

size_t pbs__probe_build(void *buf, size_t cap, uint64_t id, pbs_inner inner, pbs_delay delay,
                        int64_t delay_ns, const void *payload, size_t len)
{
    size_t plen = strlen(table_path);
    size_t total = pbs__probe_size(len);
    if (total > cap)
        return 0;
    pbs_probe_arg h = {.magic = PBS_PROBE_MAGIC,
                       .inner = (uint8_t)inner,
                       .delay_kind = (uint8_t)delay,
                       .path_len = (uint16_t)plen,
                       .id = id,
                       .delay_ns = delay_ns};
    uint8_t *p = buf;
    memcpy(p, &h, sizeof h);
    memcpy(p + sizeof h, table_path, plen);
    if (len)
        memcpy(p + sizeof h + plen, payload, len);
    return total;
}

/* Worker side: the table named by path, mapped on first use in a process
 * that did not inherit it. NULL if it cannot be mapped (the probe then just
 * does not record; the harness treats the pid as unknown). */
static slot *worker_table(const char *path, size_t plen)
{
    slot *t = atomic_load(&table);
    if (t && strlen(table_path) == plen && !memcmp(table_path, path, plen))
        return t;
    if (plen == 0 || plen >= sizeof table_path)
        return NULL;
    pthread_mutex_lock(&map_mu);
    t = atomic_load(&table);
    if (!(t && strlen(table_path) == plen && !memcmp(table_path, path, plen))) {
        char p[sizeof table_path];
        memcpy(p, path, plen);
        p[plen] = '\0';
        t = NULL;
        int fd = open(p, O_RDWR | O_CLOEXEC);
        if (fd >= 0) {
            void *m = mmap(NULL, PBS_SLOTS * sizeof(slot), PROT_READ | PROT_WRITE, MAP_SHARED,
                           fd, 0);
            close(fd);
            if (m != MAP_FAILED) {
                slot *old = atomic_exchange(&table, (slot *)m);
                if (old && !table_owner)
                    munmap(old, PBS_SLOTS * sizeof(slot));
                memcpy(table_path, p, plen + 1);
                table_owner = false;
                t = m;
            }
        }
    }
    pthread_mutex_unlock(&map_mu);
    return t;
}

/* Runs a workload by name on arg, with the outcome in *out. */
static void run_workload(const char *name, const void *arg, size_t len, pb_outcome *out)
{
    const pb_task *t = pb_task_find(name);
    if (!t) {
        memset(out, 0, sizeof *out);
        out->code = PB_ETASK;
        out->task_code = ENOENT;
        char msg[96];
        snprintf(msg, sizeof msg, "stress_probe: workload '%s' is not registered", name);
        out->message = strdup(msg);
        return;
    }
    pb_task_run(t, arg, len, out);
}

PB_TASK(stress_probe)
{
    pbs_probe_arg h;
    if (len < sizeof h) {
        pb_task_fail(ctx, EINVAL, "stress_probe: argument of %zu bytes is shorter than its header",
                     len);
        return;
    }
    memcpy(&h, arg, sizeof h);
    if (h.magic != PBS_PROBE_MAGIC || h.inner >= PBS_INNER_COUNT || h.delay_kind > PBS_DELAY_SPIN ||
        sizeof h + h.path_len > len || h.delay_ns < 0) {
        pb_task_fail(ctx, EINVAL, "stress_probe: malformed argument header");
        return;
    }
    const char *path = (const char *)arg + sizeof h;
    const uint8_t *payload = (const uint8_t *)arg + sizeof h + h.path_len;
    size_t plen = len - sizeof h - h.path_len;

    /* First, say who runs this: if the worker dies from here on, the harness
     * knows which process it was. */
    pbs_probe_result r = {.magic = PBS_PROBE_MAGIC,
                          .pid = (int32_t)getpid(),
                          .tid = (int32_t)syscall(SYS_gettid),
                          .id = h.id};
    slot *t = worker_table(path, h.path_len);
    slot *s = t ? &t[slot_of(h.id)] : NULL;
    if (s) {
        /* id 0 first: a reader never pairs the old id with new fields. */
        atomic_store_explicit(&s->id, 0, memory_order_relaxed);
        atomic_store_explicit(&s->pid, r.pid, memory_order_relaxed);
        atomic_store_explicit(&s->started, pb_now_ns(), memory_order_relaxed);
        atomic_store_explicit(&s->ended, 0, memory_order_relaxed);
        atomic_store_explicit(&s->id, h.id, memory_order_release);
    }

    pb_outcome out;
    if (h.delay_kind != PBS_DELAY_NONE) {
        run_workload(h.delay_kind == PBS_DELAY_SLEEP ? "sleep" : "spin", &h.delay_ns,
                     sizeof h.delay_ns, &out);
        if (out.code) {
            pb_task_fail(ctx, out.task_code, "stress_probe: delay: %s",
                         out.message ? out.message : "");
            pb_outcome_clear(&out);
            return;
        }
        pb_outcome_clear(&out);
    }

    const char *how = NULL;
    switch ((pbs_inner)h.inner) {
    case PBS_INNER_SEGV: how = "segv"; break;
    case PBS_INNER_ABORT: how = "abort"; break;
    case PBS_INNER_EXIT: how = "exit"; break;
    default: break;
    }
    if (how)
        run_workload("crash", how, strlen(how), &out);
    else
        run_workload(inner_names[h.inner], payload, plen, &out);

    if (s && atomic_load_explicit(&s->id, memory_order_relaxed) == h.id)
        atomic_store_explicit(&s->ended, pb_now_ns(), memory_order_release);
    if (out.code == 0) {
        size_t n = sizeof r + out.len;
        uint8_t *res = malloc(n);
        if (!res) {
            pb_task_fail(ctx, ENOMEM, "stress_probe: out of memory");
        } else {
            memcpy(res, &r, sizeof r);
            if (out.len)
                memcpy(res + sizeof r, out.data, out.len);
            pb_task_return(ctx, res, n);
            free(res);
        }
    } else {
        pb_task_fail(ctx, out.task_code, "%s", out.message ? out.message : "");
    }
    pb_outcome_clear(&out);
}

const pb_task *pbs__probe_task(void)
{
    return pb_task_find("stress_probe");
}

void pbs_stress_link(void)
{
}

