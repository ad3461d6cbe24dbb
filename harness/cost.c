/*
 * cost.c — what a pool spends: CPU time (user and system; the pool's and
 * its caller's apart) and memory, around the windows a scenario marks.
 *
 * DESIGN
 *
 * Who is the pool. During a window only one pool is at work in this
 * process (the harness runs one case at a time), so everything that is not
 * the harness's own doing is the pool's: every thread of this process
 * except the scenario's (the thread that opened the window, and threads it
 * registered with pb_sc_thread_enter), and every process that descends from
 * this one. That needs no cooperation from the pool, so an outside pool
 * (GLib, libuv, oneTBB, OpenMP, Asio, CPython's pools, a module loaded with
 * --load) is measured exactly like ours. A pool's processes that do not
 * descend from poolbench (MPI ranks, started by mpiexec, perhaps on other
 * hosts) cannot be seen; the runner notices that when it probes the backend
 * (a task ran in a process that is not a descendant) and the meter is told
 * to hide: the case then says so (`unmeasured`) instead of reporting the
 * part it could see as the whole.
 *
 * CPU time in this process. CLOCK_PROCESS_CPUTIME_ID counts every thread
 * of the process, live or already exited, in nanoseconds (the scheduler's
 * own sum_exec_runtime, not ticks); CLOCK_THREAD_CPUTIME_ID and the CPU
 * clock of a registered thread (pthread_getcpuclockid) count the caller's
 * threads the same way. The pool's share is the process's minus the
 * callers', so a pool thread that starts and exits inside the window (GLib
 * retires idle threads, a recycled thread worker) is still counted, which
 * sampling /proc/self/task would miss. The process clock is read right
 * next to the caller's clock at both ends, and the meter's own reading of
 * /proc happens before the first and after the last of those reads, so
 * what the meter costs is charged to nobody.
 *
 * CPU time of processes. Each descendant (found through
 * /proc/<pid>/task/<tid>/children, recursively, so a forkserver's children
 * count too) is read by its process CPU clock (clock_getcpuclockid: its
 * threads, live and exited, in ns), and its reaped children's time by
 * cutime/cstime of /proc/<pid>/stat. getrusage(RUSAGE_CHILDREN) alone would
 * be wrong: it sees a child only once it has been reaped, so a fork pool's
 * live workers would cost nothing. A worker that dies inside the window
 * (recycled, crashed, killed) is gone from /proc at the end, and its whole
 * life is in RUSAGE_CHILDREN once the pool reaped it; so the window's cost
 * of the processes is
 *     sum over processes alive at the end of (clock now - clock at begin)
 *   + what RUSAGE_CHILDREN gained
 *   - sum over processes gone since begin of their clock at begin,
 * with processes told apart by (pid, start time), never pid alone.
 * RUSAGE_CHILDREN is read before and after listing the processes, and the
 * listing is repeated when it moved meanwhile (a child reaped between the
 * two would otherwise be counted twice).
 *
 * User and system. The exact clocks give only the sum. The split comes
 * from the kernel's user/system accounting over the same window
 * (getrusage for this process and the opening thread, /proc/.../stat for
 * processes and registered threads), which samples at the scheduler tick
 * and is reported in microseconds or clock ticks (10 ms); its ratio is
 * applied to the exact total, so user + sys = total always, and the split
 * of a short window is coarse where the total is not. A window in which
 * no tick landed takes the ratio of the whole life of what it measures.
 *
 * Memory. At the end of a repetition's first window (outside it), the
 * meter reads this process's resident set (/proc/self/statm) and how much
 * it grew since the baseline taken before the repetition's first pool was
 * created (threads' stacks, queues, the library's own state); and, for
 * each of the pool's processes — listed by the pool's worker_pids hook,
 * started since the baseline, or busy in the window, so a forkserver a
 * library keeps across pools counts for the pools it works for — its RSS
 * and PSS from /proc/<pid>/smaps_rollup (PSS divides shared pages among
 * the processes sharing them, so fork workers' copy-on-write pages are not
 * counted once per worker). The pool's threads here are counted the same
 * way (started since the baseline, or busy in the window), so libuv's
 * process-wide threadpool counts for libuv's cases and not for the ones
 * after them. Growth reads the allocator's view: memory a previous pool
 * freed is reused, so a repetition after the first shows what one more
 * pool costs a program that already made one.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "cost.h"

/* A process as /proc/<pid>/stat shows it; times in ns. */
typedef struct pstat {
    pid_t pid, ppid;
    char state;
    unsigned long long start; /* clock ticks after boot: tells reused pids apart */
    int64_t ut, st, cut, cst;
} pstat;

typedef struct kid {
    pstat s;
    int64_t clock; /* its process CPU clock, ns */
    bool listed;   /* named by the pool's worker_pids hook */
} kid;

/* Every descendant at one moment, and RUSAGE_CHILDREN then. */
typedef struct kids {
    kid *v;
    size_t n, cap;
    int64_t ru_u, ru_s;
} kids;

typedef struct tclock {
    pid_t tid;
    int64_t clock;
} tclock;

typedef struct tclocks {
    tclock *v;
    size_t n, cap;
} tclocks;

/* A thread the scenario registered. */
typedef struct reg {
    pid_t tid;
    clockid_t clk;
    bool live, counting;          /* counting: its base is from the open window */
    int64_t base_clk, base_u, base_s;
} reg;

typedef struct acc {
    int64_t total, u, s;
} acc;

struct pbh_meter {
    pid_t self, main_tid;
    const pb_pool *pool;
    char *hidden;

    /* The baseline: before the first pool. */
    bool have_baseline;
    double rss0;
    pid_t *base_tids;
    size_t nbase_tids;
    kids base_kids;

    /* The open window's begin (and, after end, the last window's ends). */
    bool open;
    int64_t wall0, p0, t0;
    struct rusage ru_self0, ru_thread0;
    kids k0, k1;
    tclocks tc0, tc1;
    bool closed_once;

    /* Registered threads, guarded by mu. */
    pthread_mutex_t mu;
    reg *regs;
    size_t nregs, capregs;
    acc reg_acc; /* their CPU in the open window so far */

    /* The repetition so far. */
    size_t windows, tasks;
    double wall;
    pbh_cpu pool_cpu, sub_cpu;
    bool have_memory;
    pbh_memory memory;
};

static int64_t tick_ns(void)
{
    static int64_t ns;
    if (!ns) {
        long hz = sysconf(_SC_CLK_TCK);
        ns = 1000000000 / (hz > 0 ? hz : 100);
    }
    return ns;
}

static int64_t clock_ns(clockid_t c)
{
    struct timespec ts;
    if (clock_gettime(c, &ts))
        return -1;
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t tv_ns(struct timeval tv)
{
    return (int64_t)tv.tv_sec * 1000000000 + (int64_t)tv.tv_usec * 1000;
}

/* The CPU clock of thread tid of this process (glibc's own encoding, as
 * pthread_getcpuclockid builds it). */
static clockid_t thread_clock(pid_t tid)
{
    return (clockid_t)((~(unsigned)tid) << 3) | 6;
}

/* Reads /proc/<pid>/stat (tid 0) or /proc/<pid>/task/<tid>/stat. */
static int read_pstat(pid_t pid, pid_t tid, pstat *out)
{
    char path[64], buf[1024];
    if (tid)
        snprintf(path, sizeof path, "/proc/%d/task/%d/stat", (int)pid, (int)tid);
    else
        snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return -errno;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    const char *rp = strrchr(buf, ')');
    if (!rp)
        return PB_EINVAL;
    unsigned long ut, st;
    long cut, cst;
    int ppid;
    char state;
    if (sscanf(rp + 1,
               " %c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %ld %ld %*d %*d %*d %*d %llu",
               &state, &ppid, &ut, &st, &cut, &cst, &out->start) != 7)
        return PB_EINVAL;
    out->pid = tid ? tid : pid;
    out->ppid = ppid;
    out->state = state;
    out->ut = (int64_t)ut * tick_ns();
    out->st = (int64_t)st * tick_ns();
    out->cut = (int64_t)cut * tick_ns();
    out->cst = (int64_t)cst * tick_ns();
    return 0;
}

bool pbh_cost_descends(pid_t pid)
{
    pid_t me = getpid();
    for (int depth = 0; depth < 64 && pid > 1; depth++) {
        if (pid == me)
            return true;
        pstat s;
        if (read_pstat(pid, 0, &s))
            return false;
        pid = s.ppid;
    }
    return pid == me;
}

/* ---- Listing ---- */

static int push_pid(pid_t **v, size_t *n, size_t *cap, pid_t pid)
{
    if (*n == *cap) {
        size_t c = *cap ? 2 * *cap : 64;
        pid_t *g = realloc(*v, c * sizeof *g);
        if (!g)
            return PB_ENOMEM;
        *v = g;
        *cap = c;
    }
    (*v)[(*n)++] = pid;
    return 0;
}

/* The tids of process pid, into *v. */
static int list_tids(pid_t pid, pid_t **v, size_t *n, size_t *cap)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    if (!d)
        return -errno;
    struct dirent *e;
    int rc = 0;
    while (!rc && (e = readdir(d)))
        if (e->d_name[0] >= '0' && e->d_name[0] <= '9')
            rc = push_pid(v, n, cap, (pid_t)atoi(e->d_name));
    closedir(d);
    return rc;
}

/* Appends the children of every thread of pid to *v. */
static int list_children(pid_t pid, pid_t **v, size_t *n, size_t *cap)
{
    pid_t *tids = NULL;
    size_t nt = 0, ct = 0;
    int rc = list_tids(pid, &tids, &nt, &ct);
    for (size_t i = 0; rc == 0 && i < nt; i++) {
        char path[96];
        snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)pid, (int)tids[i]);
        FILE *f = fopen(path, "re");
        if (!f)
            continue; /* the thread exited meanwhile */
        int child;
        while (rc == 0 && fscanf(f, "%d", &child) == 1)
            rc = push_pid(v, n, cap, (pid_t)child);
        fclose(f);
    }
    free(tids);
    return rc == -ENOENT || rc == -ESRCH ? 0 : rc;
}

static int push_kid(kids *k, const kid *x)
{
    if (k->n == k->cap) {
        size_t c = k->cap ? 2 * k->cap : 32;
        kid *g = realloc(k->v, c * sizeof *g);
        if (!g)
            return PB_ENOMEM;
        k->v = g;
        k->cap = c;
    }
    k->v[k->n++] = *x;
    return 0;
}

/* Every process descending from this one, breadth first. */
static int list_kids(kids *k)
{
    pid_t *queue = NULL;
    size_t nq = 0, cq = 0;
    k->n = 0;
    int rc = list_children(getpid(), &queue, &nq, &cq);
    for (size_t i = 0; rc == 0 && i < nq && nq < 65536; i++) {
        kid x = {.listed = false};
        if (read_pstat(queue[i], 0, &x.s))
            continue; /* gone (and reaped) meanwhile */
        clockid_t c;
        x.clock = clock_getcpuclockid(queue[i], &c) == 0 ? clock_ns(c) : -1;
        if (x.clock < 0)
            x.clock = x.s.ut + x.s.st; /* no clock to read: the ticks */
        rc = push_kid(k, &x);
        if (rc == 0)
            rc = list_children(queue[i], &queue, &nq, &cq);
    }
    free(queue);
    return rc;
}

/* list_kids with RUSAGE_CHILDREN read around it, again if it moved. */
static int snapshot_kids(pbh_meter *m, kids *k)
{
    struct rusage a, b;
    int rc = 0;
    for (int attempt = 0; attempt < 5; attempt++) {
        getrusage(RUSAGE_CHILDREN, &a);
        rc = list_kids(k);
        getrusage(RUSAGE_CHILDREN, &b);
        if (rc || (tv_ns(a.ru_utime) == tv_ns(b.ru_utime) &&
                   tv_ns(a.ru_stime) == tv_ns(b.ru_stime)))
            break;
    }
    k->ru_u = tv_ns(b.ru_utime);
    k->ru_s = tv_ns(b.ru_stime);
    if (rc == 0 && m->pool) {
        pid_t pids[PBH_COST_MAX_MEMPROCS];
        int n = pb_pool_worker_pids(m->pool, pids, PBH_COST_MAX_MEMPROCS);
        for (int i = 0; i < n && i < PBH_COST_MAX_MEMPROCS; i++)
            for (size_t j = 0; j < k->n; j++)
                if (k->v[j].s.pid == pids[i])
                    k->v[j].listed = true;
    }
    return rc;
}

static const kid *find_kid(const kids *k, const pstat *s)
{
    for (size_t i = 0; i < k->n; i++)
        if (k->v[i].s.pid == s->pid && k->v[i].s.start == s->start)
            return &k->v[i];
    return NULL;
}

/* Every thread of this process with its CPU clock. */
static int snapshot_threads(tclocks *t)
{
    pid_t *tids = NULL;
    size_t n = 0, cap = 0;
    int rc = list_tids(getpid(), &tids, &n, &cap);
    t->n = 0;
    if (rc == 0 && n > t->cap) {
        tclock *g = realloc(t->v, n * sizeof *g);
        if (!g)
            rc = PB_ENOMEM;
        else {
            t->v = g;
            t->cap = n;
        }
    }
    for (size_t i = 0; rc == 0 && i < n; i++) {
        int64_t c = clock_ns(thread_clock(tids[i]));
        if (c >= 0)
            t->v[t->n++] = (tclock){tids[i], c};
    }
    free(tids);
    return rc;
}

static const tclock *find_tclock(const tclocks *t, pid_t tid)
{
    for (size_t i = 0; i < t->n; i++)
        if (t->v[i].tid == tid)
            return &t->v[i];
    return NULL;
}

/* ---- The meter ---- */

int pbh_meter_new(pbh_meter **out)
{
    pbh_meter *m = calloc(1, sizeof *m);
    if (!m)
        return PB_ENOMEM;
    m->self = getpid();
    m->main_tid = gettid();
    pthread_mutex_init(&m->mu, NULL);
    *out = m;
    return 0;
}

void pbh_meter_free(pbh_meter *m)
{
    if (!m)
        return;
    pthread_mutex_destroy(&m->mu);
    free(m->hidden);
    free(m->base_tids);
    free(m->base_kids.v);
    free(m->k0.v);
    free(m->k1.v);
    free(m->tc0.v);
    free(m->tc1.v);
    free(m->regs);
    free(m);
}

void pbh_meter_watch(pbh_meter *m, const pb_pool *pool)
{
    m->pool = pool;
}

void pbh_meter_hide(pbh_meter *m, const char *why)
{
    if (!m->hidden)
        m->hidden = strdup(why ? why : "");
}

const char *pbh_meter_hidden(const pbh_meter *m)
{
    return m->hidden;
}

/* Resident set of this process, bytes. */
static double self_rss(void)
{
    FILE *f = fopen("/proc/self/statm", "re");
    unsigned long size, resident;
    int ok = f && fscanf(f, "%lu %lu", &size, &resident) == 2;
    if (f)
        fclose(f);
    return ok ? (double)resident * (double)sysconf(_SC_PAGESIZE) : NAN;
}

void pbh_meter_baseline(pbh_meter *m)
{
    if (m->have_baseline)
        return;
    m->rss0 = self_rss();
    size_t cap = 0;
    m->nbase_tids = 0;
    if (list_tids(m->self, &m->base_tids, &m->nbase_tids, &cap))
        m->nbase_tids = 0;
    if (list_kids(&m->base_kids))
        m->base_kids.n = 0;
    m->have_baseline = true;
}

/* The registered thread's user and system time so far (ticks, as ns). */
static void reg_times(const reg *r, int64_t *u, int64_t *s)
{
    pstat ps;
    if (read_pstat(getpid(), r->tid, &ps) == 0) {
        *u = ps.ut;
        *s = ps.st;
    } else {
        *u = *s = 0;
    }
}

int pbh_meter_begin(pbh_meter *m)
{
    if (m->open || gettid() != m->main_tid)
        return PB_EINVAL;
    pbh_meter_baseline(m);
    int rc = snapshot_kids(m, &m->k0);
    if (rc == 0)
        rc = snapshot_threads(&m->tc0);
    if (rc)
        return rc;

    pthread_mutex_lock(&m->mu);
    m->reg_acc = (acc){0, 0, 0};
    for (size_t i = 0; i < m->nregs; i++) {
        reg *r = &m->regs[i];
        r->counting = r->live;
        if (r->live) {
            r->base_clk = clock_ns(r->clk);
            reg_times(r, &r->base_u, &r->base_s);
        }
    }
    m->open = true;
    pthread_mutex_unlock(&m->mu);

    /* The caller's and the process's clocks side by side, last. */
    getrusage(RUSAGE_THREAD, &m->ru_thread0);
    m->t0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
    m->p0 = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
    getrusage(RUSAGE_SELF, &m->ru_self0);
    m->wall0 = pb_now_ns();
    return 0;
}

/* total split as u : s, or, when no tick landed, as the lifetime's lu : ls. */
static pbh_cpu split(int64_t total, int64_t u, int64_t s, int64_t lu, int64_t ls)
{
    pbh_cpu c = {0, 0, 0};
    if (total <= 0)
        return c;
    u = u > 0 ? u : 0;
    s = s > 0 ? s : 0;
    double r = u + s > 0 ? (double)u / (double)(u + s)
             : lu + ls > 0 ? (double)lu / (double)(lu + ls)
                           : 1.0;
    c.total = (double)total;
    c.user = c.total * r;
    c.sys = c.total - c.user;
    return c;
}

static void add_cpu(pbh_cpu *a, const pbh_cpu *b)
{
    a->total += b->total;
    a->user += b->user;
    a->sys += b->sys;
}

int pbh_meter_end(pbh_meter *m, size_t tasks, pbh_window *out)
{
    if (!m->open || gettid() != m->main_tid)
        return PB_EINVAL;
    struct rusage ru_self1, ru_thread1;
    int64_t wall1 = pb_now_ns();
    getrusage(RUSAGE_SELF, &ru_self1);
    int64_t p1 = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
    int64_t t1 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
    getrusage(RUSAGE_THREAD, &ru_thread1);

    pthread_mutex_lock(&m->mu);
    acc others = m->reg_acc;
    for (size_t i = 0; i < m->nregs; i++) {
        reg *r = &m->regs[i];
        if (r->live && r->counting) {
            int64_t u, s;
            reg_times(r, &u, &s);
            others.total += clock_ns(r->clk) - r->base_clk;
            others.u += u - r->base_u;
            others.s += s - r->base_s;
        }
        r->counting = false;
    }
    m->open = false;
    pthread_mutex_unlock(&m->mu);

    int rc = snapshot_kids(m, &m->k1);
    if (rc == 0)
        rc = snapshot_threads(&m->tc1);
    if (rc)
        return rc;

    /* The caller: the opening thread and the registered ones. */
    int64_t main_total = t1 - m->t0;
    int64_t main_u = tv_ns(ru_thread1.ru_utime) - tv_ns(m->ru_thread0.ru_utime);
    int64_t main_s = tv_ns(ru_thread1.ru_stime) - tv_ns(m->ru_thread0.ru_stime);
    pbh_cpu sub = split(main_total, main_u, main_s, tv_ns(ru_thread1.ru_utime),
                        tv_ns(ru_thread1.ru_stime));
    pbh_cpu sub_reg = split(others.total, others.u, others.s, 0, 0);
    add_cpu(&sub, &sub_reg);

    /* The pool's threads here: the process minus the caller. */
    int64_t in_total = (p1 - m->p0) - main_total - others.total;
    int64_t in_u = tv_ns(ru_self1.ru_utime) - tv_ns(m->ru_self0.ru_utime) - main_u - others.u;
    int64_t in_s = tv_ns(ru_self1.ru_stime) - tv_ns(m->ru_self0.ru_stime) - main_s - others.s;
    pbh_cpu pool = split(in_total, in_u, in_s, tv_ns(ru_self1.ru_utime), tv_ns(ru_self1.ru_stime));

    /* The pool's processes: see the essay for the sum. */
    int64_t k_total = m->k1.ru_u + m->k1.ru_s - m->k0.ru_u - m->k0.ru_s;
    int64_t k_u = m->k1.ru_u - m->k0.ru_u, k_s = m->k1.ru_s - m->k0.ru_s;
    int64_t life_u = m->k1.ru_u, life_s = m->k1.ru_s;
    for (size_t i = 0; i < m->k1.n; i++) {
        const kid *now = &m->k1.v[i], *then = find_kid(&m->k0, &now->s);
        k_total += now->clock + now->s.cut + now->s.cst;
        k_u += now->s.ut + now->s.cut;
        k_s += now->s.st + now->s.cst;
        life_u += now->s.ut + now->s.cut;
        life_s += now->s.st + now->s.cst;
        if (then) {
            k_total -= then->clock + then->s.cut + then->s.cst;
            k_u -= then->s.ut + then->s.cut;
            k_s -= then->s.st + then->s.cst;
        }
    }
    for (size_t i = 0; i < m->k0.n; i++) {
        const kid *then = &m->k0.v[i];
        if (!find_kid(&m->k1, &then->s)) {
            k_total -= then->clock + then->s.cut + then->s.cst;
            k_u -= then->s.ut + then->s.cut;
            k_s -= then->s.st + then->s.cst;
        }
    }
    pbh_cpu procs = split(k_total, k_u, k_s, life_u, life_s);
    add_cpu(&pool, &procs);

    m->closed_once = true;
    pbh_window w = {.wall = (double)(wall1 - m->wall0), .pool = pool, .submitter = sub,
                    .tasks = tasks};
    m->windows++;
    m->tasks += tasks;
    m->wall += w.wall;
    add_cpu(&m->pool_cpu, &w.pool);
    add_cpu(&m->sub_cpu, &w.submitter);
    if (out)
        *out = w;
    return 0;
}

static bool in_base_tids(const pbh_meter *m, pid_t tid)
{
    for (size_t i = 0; i < m->nbase_tids; i++)
        if (m->base_tids[i] == tid)
            return true;
    return false;
}

/* Whether tid is one of the caller's threads (not the pool's). */
static bool callers_thread(pbh_meter *m, pid_t tid)
{
    if (tid == m->main_tid)
        return true;
    bool found = false;
    pthread_mutex_lock(&m->mu);
    for (size_t i = 0; i < m->nregs && !found; i++)
        found = m->regs[i].tid == tid;
    pthread_mutex_unlock(&m->mu);
    return found;
}

/* Rss and Pss of process pid from smaps_rollup (bytes); NAN if unknown. */
static void proc_memory(pid_t pid, double *rss, double *pss)
{
    char path[64], line[256];
    *rss = *pss = NAN;
    snprintf(path, sizeof path, "/proc/%d/smaps_rollup", (int)pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return;
    while (fgets(line, sizeof line, f)) {
        unsigned long kb;
        if (sscanf(line, "Rss: %lu kB", &kb) == 1)
            *rss = (double)kb * 1024;
        else if (sscanf(line, "Pss: %lu kB", &kb) == 1)
            *pss = (double)kb * 1024;
    }
    fclose(f);
}

int pbh_meter_memory(pbh_meter *m, pbh_memory *out)
{
    if (!m->closed_once)
        return PB_EINVAL;
    memset(out, 0, sizeof *out);
    out->host_rss = self_rss();
    out->has_growth = m->have_baseline && isfinite(m->rss0) && isfinite(out->host_rss);
    out->host_rss_growth = out->has_growth ? out->host_rss - m->rss0 : 0;

    for (size_t i = 0; i < m->tc1.n; i++) {
        const tclock *now = &m->tc1.v[i];
        if (callers_thread(m, now->tid))
            continue;
        const tclock *then = find_tclock(&m->tc0, now->tid);
        if (!in_base_tids(m, now->tid) || !then || now->clock > then->clock)
            out->threads++;
    }
    for (size_t i = 0; i < m->k1.n; i++) {
        const kid *now = &m->k1.v[i], *then = find_kid(&m->k0, &now->s);
        bool mine = now->listed || !find_kid(&m->base_kids, &now->s) || !then ||
                    now->clock > then->clock;
        if (!mine || now->s.state == 'Z' || out->nprocs >= PBH_COST_MAX_MEMPROCS)
            continue;
        double rss, pss;
        proc_memory(now->s.pid, &rss, &pss);
        if (!isfinite(rss))
            continue; /* gone meanwhile */
        out->rss[out->nprocs] = rss;
        out->pss[out->nprocs] = pss;
        out->nprocs++;
    }
    return 0;
}

void pbh_meter_thread_enter(pbh_meter *m)
{
    reg r = {.tid = gettid(), .live = true};
    r.clk = thread_clock(r.tid);
    pthread_mutex_lock(&m->mu);
    if (m->nregs == m->capregs) {
        size_t c = m->capregs ? 2 * m->capregs : 16;
        reg *g = realloc(m->regs, c * sizeof *g);
        if (!g) {
            pthread_mutex_unlock(&m->mu);
            return; /* uncounted: its time stays with the pool's */
        }
        m->regs = g;
        m->capregs = c;
    }
    if (m->open) {
        r.counting = true;
        r.base_clk = clock_ns(CLOCK_THREAD_CPUTIME_ID);
        reg_times(&r, &r.base_u, &r.base_s);
    }
    m->regs[m->nregs++] = r;
    pthread_mutex_unlock(&m->mu);
}

void pbh_meter_thread_leave(pbh_meter *m)
{
    pid_t tid = gettid();
    pthread_mutex_lock(&m->mu);
    for (size_t i = 0; i < m->nregs; i++) {
        reg *r = &m->regs[i];
        if (r->tid != tid || !r->live)
            continue;
        if (m->open && r->counting) {
            int64_t u, s;
            reg_times(r, &u, &s);
            m->reg_acc.total += clock_ns(CLOCK_THREAD_CPUTIME_ID) - r->base_clk;
            m->reg_acc.u += u - r->base_u;
            m->reg_acc.s += s - r->base_s;
        }
        r->live = r->counting = false;
    }
    pthread_mutex_unlock(&m->mu);
}

double pbh_cost_peak_rss(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru))
        return NAN;
    return (double)ru.ru_maxrss * 1024; /* Linux: KiB */
}

/* ---- The scenario context's side ---- */

void pb_sc_cost_begin(pb_sc *sc)
{
    pbh_meter *m = pbh_sc_meter(sc);
    int rc = m ? pbh_meter_begin(m) : PB_EINVAL;
    if (rc)
        pb_sc_fail(sc, rc, "pb_sc_cost_begin: %s", m && m->open
                                                      ? "a window is open already"
                                                      : pb_strerror(rc));
}

static void put(pb_sc *sc, const char *name, const char *unit, double v)
{
    if (isfinite(v))
        pb_samples_add(pb_sc_metric(sc, name, unit, PBR_LOWER, 1), v);
}

void pb_sc_cost_end(pb_sc *sc, size_t tasks, const char *point)
{
    pbh_meter *m = pbh_sc_meter(sc);
    pbh_window w;
    int rc = m ? pbh_meter_end(m, tasks, &w) : PB_EINVAL;
    if (rc) {
        pb_sc_fail(sc, rc, "pb_sc_cost_end: %s",
                   m && !m->open ? "no window is open" : pb_strerror(rc));
        return;
    }
    if (!m->have_memory && pbh_meter_memory(m, &m->memory) == 0)
        m->have_memory = true;
    if (!point)
        return;
    char name[96];
    if (tasks) {
        if (!m->hidden) {
            snprintf(name, sizeof name, "cpu_per_task_%s", point);
            put(sc, name, "ns", w.pool.total / (double)tasks);
        }
        snprintf(name, sizeof name, "submitter_cpu_per_task_%s", point);
        put(sc, name, "ns", w.submitter.total / (double)tasks);
    }
    if (w.wall > 0 && !m->hidden) {
        snprintf(name, sizeof name, "cores_busy_%s", point);
        put(sc, name, "ratio", w.pool.total / w.wall);
    }
}

void pb_sc_thread_enter(pb_sc *sc)
{
    pbh_meter *m = pbh_sc_meter(sc);
    if (m)
        pbh_meter_thread_enter(m);
}

void pb_sc_thread_leave(pb_sc *sc)
{
    pbh_meter *m = pbh_sc_meter(sc);
    if (m)
        pbh_meter_thread_leave(m);
}

void pbh_cost_record(pb_sc *sc, pbh_meter *m)
{
    if (!m || !m->windows)
        return;
    bool seen = !m->hidden;
    if (m->tasks) {
        double n = (double)m->tasks;
        if (seen) {
            put(sc, "cpu_per_task", "ns", m->pool_cpu.total / n);
            put(sc, "cpu_user_per_task", "ns", m->pool_cpu.user / n);
            put(sc, "cpu_sys_per_task", "ns", m->pool_cpu.sys / n);
        }
        put(sc, "submitter_cpu_per_task", "ns", m->sub_cpu.total / n);
        put(sc, "submitter_cpu_user_per_task", "ns", m->sub_cpu.user / n);
        put(sc, "submitter_cpu_sys_per_task", "ns", m->sub_cpu.sys / n);
    }
    if (m->wall > 0) {
        if (seen)
            put(sc, "cores_busy", "ratio", m->pool_cpu.total / m->wall);
        put(sc, "submitter_cores_busy", "ratio", m->sub_cpu.total / m->wall);
    }
    if (!m->have_memory)
        return;
    const pbh_memory *mem = &m->memory;
    if (mem->has_growth)
        put(sc, "host_rss_growth", "bytes", mem->host_rss_growth);
    put(sc, "pool_threads", "count", (double)mem->threads);
    if (!seen)
        return;
    put(sc, "pool_processes", "count", (double)mem->nprocs);
    if (mem->nprocs) {
        pb_samples *rss = pb_sc_metric(sc, "worker_rss", "bytes", PBR_LOWER, mem->nprocs);
        pb_samples *pss = pb_sc_metric(sc, "worker_pss", "bytes", PBR_LOWER, mem->nprocs);
        for (size_t i = 0; i < mem->nprocs; i++) {
            pb_samples_add(rss, mem->rss[i]);
            if (isfinite(mem->pss[i]))
                pb_samples_add(pss, mem->pss[i]);
        }
    }
}
