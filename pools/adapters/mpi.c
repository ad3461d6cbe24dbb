/*
 * adapters/mpi.c — the `mpi` backend: a pool whose workers are the ranks of
 * an MPI job, fed over MPI point-to-point messages.
 *
 * `mpiexec -n W+1 PROGRAM ...` starts W+1 ranks of one program; rank 0 runs
 * the program, ranks 1..W wait for tasks (mpi-rank.c sets that up from
 * pb_worker_main_if_requested). This file is rank 0's side: pools, and the
 * engine thread that moves their tasks to the ranks and their results back,
 * in the wire format of the fork and exec backends (one frame per message).
 * It is what mpi4py's MPIPoolExecutor is to Python, held to the futures
 * contract and measured by the same scenarios as every other pool.
 *
 * DESIGN
 *
 * Ranks are the job's, pools borrow them. The worker ranks exist before any
 * pool and after the last one, so a pool of `workers` workers uses ranks
 * 1..workers (worker i is rank i+1), and several pools may share ranks, as
 * libuv's pools share its threadpool. workers=0 means every worker rank;
 * more workers than worker ranks is refused (PB_ENOTSUP, naming the mpiexec
 * command that would do). A rank holds one task at a time, of any pool: a
 * pool's futures wait in one FIFO queue of the process and go to the first
 * idle rank among the pool's ranks, oldest first, so dispatch is
 * work-conserving within a pool and never more tasks of a pool run than its
 * workers. RUNNING means "sent to a rank".
 *
 * The engine thread. MPI has no file descriptor to wait on, so one thread of
 * rank 0 — the engine, started with the first pool and joined when the last
 * one is destroyed — polls for results while pools exist (a floor
 * measurement takes the lifecycle lock and runs only while there is none).
 * It loops:
 *   1. under `mu`: sends how each rank should wait when idle (below), then
 *      hands queued futures to idle ranks: pb_future_set_running (a future
 *      cancelled while queued is skipped), then MPI_Isend of its TASK frame;
 *      a pool with an initializer first sends INIT to each of its ranks that
 *      has not run it, and its tasks go there only after INIT_DONE;
 *   2. without `mu`: MPI_Improbe/MPI_Mrecv for every frame that has arrived;
 *      each completes its future (after dropping `mu`: done-callbacks run in
 *      the engine thread and may submit to the pool);
 *   3. when nothing happened: with tasks out, polls on (sched_yield between
 *      polls) while a pool with idle=spin is alive, else naps between polls
 *      once SPIN_NS passed since the last event, doubling up to NAP_MAX_NS;
 *      with nothing out, sleeps on a condition variable once SPIN_NS passed,
 *      and submit wakes it. So an idle pool costs rank 0 nothing, and a
 *      closed loop of short tasks (the next submit within SPIN_NS) never
 *      waits for a wake-up.
 * Submitters queue under `mu` and wake the engine if it sleeps. Under
 * MPI_THREAD_MULTIPLE (what mpi-rank.c asks for) a submitter that finds a
 * rank idle also sends the task itself, as step 1 would, which saves the hop
 * through the engine on the way out (about a third of a round trip with 3
 * ranks on 2 PUs, in an A/B alternated three times); MPI calls are then made
 * from two threads at once, sends under `mu`, the engine's receives without
 * it. Under MPI_THREAD_SERIALIZED (a program that set MPI up itself) only the
 * engine calls MPI.
 * Lock order: lifecycle, then mu, then a future's own lock (set_running
 * under mu). No future completes and no callback runs with mu held.
 *
 * How idle ranks wait. A rank waiting for a message in MPI's own receive
 * spins (Open MPI polls; it only yields between polls when oversubscribed).
 * That is MPI's way and the lowest latency, at a PU per rank: idle=spin, the
 * default. idle=sleep makes idle ranks poll for 100 us and then nap between
 * polls (mpi-rank.c). A rank no pool is attached to always naps, so the ranks
 * do not disturb what else the program measures between mpi pools. The
 * engine tells each rank which way to wait (a CTRL message, ahead of its
 * next task) whenever the pools attached to it change. The CPU this costs is
 * measured in every run next to the floors (floor_mpi_pingpong: idle_cpu)
 * and describe() marks a pool untrusted when a host has more ranks than PUs.
 *
 * Times. A rank on the same host boot shares rank 0's CLOCK_MONOTONIC; for a
 * rank on another host, the worker's started/ended are moved onto rank 0's
 * clock by the offset measured at start-up (mpi-rank.c), good to about half
 * the network round trip.
 *
 * Faults. A rank that dies ends the whole MPI job (mpiexec kills the others,
 * rank 0 included): plain MPI cannot survive it, and Open MPI 4.1 (Debian 12)
 * has no User-Level Failure Mitigation. So task_timeout (which kills a
 * worker) is refused, "crash_recovery" is declared unsupported (stress and
 * fault scenarios then inject no crashes), and max_tasks_per_worker (which
 * replaces a worker) is refused too. A frame from a rank that cannot be read
 * fails the task that rank held with PB_EBROKEN and the rank is not used
 * again; a pool left with no usable rank is broken.
 *
 * Shutdown. wait blocks until the pool holds no future; cancel_futures
 * cancels its queued ones in the calling thread. destroy detaches the pool
 * from its ranks; the last destroy stops and joins the engine thread, which
 * first tells every rank to nap. Nothing of the pool outlives destroy: MPI's
 * own threads and connections were made at start-up (every rank said HELLO).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* program_invocation_short_name */
#endif
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mpi-int.h"
#include "wire-int.h"

#define SPIN_NS (200 * 1000LL)
#define NAP_MIN_NS (10 * 1000LL)
#define NAP_MAX_NS (500 * 1000LL)
#define SMALL_FRAME 4096 /* frames up to this are copied into one buffer */

#define PB__MPI_STR2(x) #x
#define PB__MPI_STR(x) PB__MPI_STR2(x)
#ifdef OMPI_MAJOR_VERSION
#define PB__MPI_LIBRARY                                                                    \
    "Open MPI " PB__MPI_STR(OMPI_MAJOR_VERSION) "." PB__MPI_STR(OMPI_MINOR_VERSION) "." PB__MPI_STR( \
        OMPI_RELEASE_VERSION)
#else
#define PB__MPI_LIBRARY "MPI " PB__MPI_STR(MPI_VERSION) "." PB__MPI_STR(MPI_SUBVERSION)
#endif
#ifdef OMPI_HAVE_MPI_EXT_FTMPI
#define PB__MPI_NO_ULFM "plain MPI cannot survive it, and this backend does not use " \
                        PB__MPI_LIBRARY "'s ULFM extension yet"
#else
#define PB__MPI_NO_ULFM "plain MPI cannot survive it, and " PB__MPI_LIBRARY \
                        " here has no ULFM (User-Level Failure Mitigation)"
#endif

typedef struct mpool mpool;

typedef struct qnode {
    pb_future *f;
    mpool *p;
    struct qnode *prev, *next;
} qnode;

typedef struct mrank {
    mpool *pool;        /* whose task or initializer it runs; NULL: idle */
    pb_future *cur;     /* its task; NULL while it runs the initializer */
    uint64_t cur_id;
    bool lost;          /* sent what we cannot read: never used again */
    int pools, spin_pools; /* pools attached to it; those with idle=spin */
    int policy;         /* how it was last told to wait: 0 nap, 1 spin */
    MPI_Request req;    /* the frame being sent to it */
    MPI_Datatype type;  /* that frame's layout when not copied, else MPI_DATATYPE_NULL */
    unsigned char *buf; /* copied frames */
    unsigned char head[PB__WIRE_TASK_HEAD_MAX];
} mrank;

struct mpool {
    int workers;
    bool spin;
    bool shut;
    pb__adapter *ad;       /* the initializer, and the broken message */
    unsigned char *inited; /* [size]: rank r ran the initializer */
    size_t held;           /* futures the backend holds (queued or at a rank) */
    pthread_cond_t idle_cv;
    mpool *prev, *next;
};

static struct engine {
    pthread_mutex_t mu;
    pthread_cond_t wake;
    pthread_t thread;
    bool running;  /* under pb__mpi_lifecycle */
    bool stop, abandon, sleeping, policy_dirty;
    mpool pools;   /* sentinel of the list of pools */
    int npools;
    qnode queue;   /* sentinel of the queue, oldest first */
    size_t queued;
    int busy;      /* ranks holding a task or initializer */
    int spin_pools;
    mrank *ranks;  /* [size] */
    uint64_t next_id;
    unsigned char *rx; /* engine thread only */
    size_t rxcap;
} eng = {
    .mu = PTHREAD_MUTEX_INITIALIZER,
    .wake = PTHREAD_COND_INITIALIZER,
    .pools = {.prev = &eng.pools, .next = &eng.pools},
    .queue = {.prev = &eng.queue, .next = &eng.queue},
};

bool pb__mpi_pools_alive_locked(void)
{
    return eng.running || eng.npools > 0;
}

/* ---- the queue and the pools' counts (under mu) ---- */

static void unlink_locked(qnode *n)
{
    n->prev->next = n->next;
    n->next->prev = n->prev;
    *pb_future_slot(n->f) = NULL;
    eng.queued--;
}

/* One future fewer held by p. */
static void settle_locked(mpool *p)
{
    if (--p->held == 0)
        pthread_cond_broadcast(&p->idle_cv);
}

static void settle(mpool *p)
{
    pthread_mutex_lock(&eng.mu);
    settle_locked(p);
    pthread_mutex_unlock(&eng.mu);
}

/* Moves p's queued futures into a list (linked through next) for the caller
 * to fail or cancel once mu is dropped. */
static qnode *take_queued_locked(mpool *p)
{
    qnode *mine = NULL, **tail = &mine;
    for (qnode *n = eng.queue.next, *next; n != &eng.queue; n = next) {
        next = n->next;
        if (n->p != p)
            continue;
        unlink_locked(n);
        n->next = NULL;
        *tail = n;
        tail = &n->next;
    }
    return mine;
}

/* Fails each future of list with PB_EBROKEN and message (without mu). */
static void fail_list(qnode *list, const char *message)
{
    while (list) {
        qnode *n = list;
        list = n->next;
        pb_error e = {.code = PB_EBROKEN, .message = message};
        pb_future_set_error(n->f, &e, 0, 0);
        pb_future_release(n->f);
        settle(n->p);
        free(n);
    }
}

/* ---- sending (engine thread, under mu) ---- */

static void send_policies_locked(void)
{
    eng.policy_dirty = false;
    for (int r = 1; r < pb__mpi.size; r++) {
        mrank *rk = &eng.ranks[r];
        int want = rk->spin_pools > 0 && !eng.stop;
        if (rk->policy != want && !rk->lost) {
            pb__mpi_send_ctrl(r, PB__MPI_IDLE, (uint64_t)want, 0);
            rk->policy = want;
        }
    }
}

/* Starts sending a TASK or INIT frame to rank r. */
static void send_frame_locked(int r, int type, uint64_t id, const char *name, const void *arg,
                              size_t len)
{
    mrank *rk = &eng.ranks[r];
    size_t n = pb__wire_put_task(rk->head, type, id, name, len);
    if (!n)
        abort(); /* the registry guarantees names of 1..255 bytes */
    if (n + len <= SMALL_FRAME) {
        memcpy(rk->buf, rk->head, n);
        if (len)
            memcpy(rk->buf + n, arg, len);
        MPI_Isend(rk->buf, (int)(n + len), MPI_BYTE, r, PB__MPI_TAG_FRAME, pb__mpi.comm,
                  &rk->req);
        return;
    }
    int lens[2] = {(int)n, (int)len};
    MPI_Aint at[2];
    MPI_Get_address(rk->head, &at[0]);
    MPI_Get_address(arg, &at[1]);
    MPI_Type_create_hindexed(2, lens, at, MPI_BYTE, &rk->type);
    MPI_Type_commit(&rk->type);
    MPI_Isend(MPI_BOTTOM, 1, rk->type, r, PB__MPI_TAG_FRAME, pb__mpi.comm, &rk->req);
}

/* The frame to rank r has arrived (its reply did): finish the send. */
static void sent_locked(mrank *rk)
{
    MPI_Wait(&rk->req, MPI_STATUS_IGNORE);
    if (rk->type != MPI_DATATYPE_NULL)
        MPI_Type_free(&rk->type);
    rk->type = MPI_DATATYPE_NULL;
}

/* Hands queued futures to idle ranks, oldest first. Futures found cancelled
 * are released here (no callback runs on release). Returns whether anything
 * was sent. */
static bool dispatch_locked(void)
{
    bool sent = false;
    for (int r = 1; r < pb__mpi.size && eng.queued; r++) {
        mrank *rk = &eng.ranks[r];
        if (rk->pool || rk->lost)
            continue;
        for (qnode *n = eng.queue.next, *next; n != &eng.queue; n = next) {
            next = n->next;
            mpool *p = n->p;
            if (r > p->workers)
                continue;
            const void *init_arg;
            size_t init_len;
            const pb_task *init = pb__adapter_initializer(p->ad, &init_arg, &init_len);
            if (init && !p->inited[r]) {
                /* The pool holds the initializer's run like a future's, so
                 * that it outlives it (destroy waits for held to be 0). */
                rk->pool = p;
                rk->cur = NULL;
                eng.busy++;
                p->held++;
                send_frame_locked(r, PB__WIRE_INIT, 0, pb_task_name(init), init_arg, init_len);
                sent = true;
                break;
            }
            pb_future *f = n->f;
            unlink_locked(n);
            free(n);
            if (!pb_future_set_running(f)) { /* cancelled while queued */
                pb_future_release(f);
                settle_locked(p);
                continue;
            }
            size_t len;
            const void *arg = pb_future_arg(f, &len);
            rk->pool = p;
            rk->cur = f;
            rk->cur_id = ++eng.next_id;
            eng.busy++;
            send_frame_locked(r, PB__WIRE_TASK, rk->cur_id, pb_task_name(pb_future_task(f)), arg,
                              len);
            sent = true;
            break;
        }
    }
    return sent;
}

/* ---- receiving (engine thread) ---- */

/* Rank r sent what it must not: fail what it held, never use it again, and
 * break pools left without a usable rank. */
static void lose_rank(int r, const char *why)
{
    char msg[400];
    snprintf(msg, sizeof msg, "worker rank %d (pid %d on %s) sent a malformed frame: %s", r,
             pb__mpi.peers[r].pid, pb__mpi.peers[r].host, why);
    qnode *orphans = NULL;
    pthread_mutex_lock(&eng.mu);
    mrank *rk = &eng.ranks[r];
    pb_future *f = rk->cur;
    mpool *p = rk->pool;
    if (rk->pool) {
        sent_locked(rk);
        eng.busy--;
        if (!f)
            settle_locked(p); /* it ran the initializer */
    }
    rk->pool = NULL;
    rk->cur = NULL;
    rk->lost = true;
    for (mpool *q = eng.pools.next; q != &eng.pools; q = q->next) {
        bool usable = false;
        for (int k = 1; k <= q->workers && !usable; k++)
            usable = !eng.ranks[k].lost;
        if (!usable && !pb__adapter_broken(q->ad)) {
            pb__adapter_set_broken(q->ad, "every worker rank of the pool is lost");
            qnode **end = &orphans;
            while (*end)
                end = &(*end)->next;
            *end = take_queued_locked(q);
        }
    }
    pthread_mutex_unlock(&eng.mu);
    if (f) {
        pb_error e = {.code = PB_EBROKEN, .message = msg};
        pb_future_set_error(f, &e, 0, 0);
        pb_future_release(f);
        settle(p);
    }
    fail_list(orphans, msg);
}

static void handle_frame(int r, const unsigned char *buf, size_t n)
{
    pb__frame fr;
    uint64_t need;
    char why[200];
    int d = pb__wire_decode(buf, n, PB__WIRE_MAX_PAYLOAD, &fr, &need, why, sizeof why);
    if (d != PB__WIRE_FRAME || need != n) {
        lose_rank(r, d == PB__WIRE_BAD ? why : "its length does not match the message");
        return;
    }
    pthread_mutex_lock(&eng.mu);
    mrank *rk = &eng.ranks[r];
    mpool *p = rk->pool;
    pb_future *f = rk->cur;
    bool ok = p && ((fr.type == PB__WIRE_RESULT && f && fr.id == rk->cur_id) ||
                    (fr.type == PB__WIRE_INIT_DONE && !f && fr.id == 0));
    if (!ok) {
        pthread_mutex_unlock(&eng.mu);
        snprintf(why, sizeof why, "a frame of type %d (id %llu) it was not asked for", fr.type,
                 (unsigned long long)fr.id);
        lose_rank(r, why);
        return;
    }
    sent_locked(rk);
    rk->pool = NULL;
    rk->cur = NULL;
    eng.busy--;
    qnode *failed = NULL;
    char broken[320] = "";
    if (fr.type == PB__WIRE_INIT_DONE) {
        if (fr.code) {
            snprintf(why, sizeof why, "%.*s", (int)(fr.body_len > 190 ? 190 : fr.body_len),
                     (const char *)fr.body);
            pb__adapter_set_broken(p->ad, why[0] ? why : "the initializer task failed");
            snprintf(broken, sizeof broken, "%s", pb__adapter_broken(p->ad));
            failed = take_queued_locked(p);
        } else {
            p->inited[r] = 1;
        }
        settle_locked(p);
        pthread_mutex_unlock(&eng.mu);
        fail_list(failed, broken);
        return;
    }
    pthread_mutex_unlock(&eng.mu);

    int64_t started = pb__mpi_local_time(r, fr.started), ended = pb__mpi_local_time(r, fr.ended);
    if (fr.code == 0) {
        pb_future_set_result(f, fr.body, fr.body_len, started, ended);
    } else {
        char small[256], *msg = fr.body_len < sizeof small ? small : malloc(fr.body_len + 1);
        pb_error e = {.code = PB_ETASK, .task_code = fr.task_code, .message = ""};
        if (msg) {
            memcpy(msg, fr.body, fr.body_len);
            msg[fr.body_len] = 0;
            e.message = msg;
        }
        pb_future_set_error(f, &e, started, ended);
        if (msg != small)
            free(msg);
    }
    pb_future_release(f);
    settle(p);
}

/* Receives every frame that has arrived. Returns whether there was one. */
static bool poll_frames(void)
{
    bool any = false;
    for (;;) {
        int flag = 0, n = 0;
        MPI_Message msg;
        MPI_Status st;
        MPI_Improbe(MPI_ANY_SOURCE, PB__MPI_TAG_FRAME, pb__mpi.comm, &flag, &msg, &st);
        if (!flag)
            return any;
        MPI_Get_count(&st, MPI_BYTE, &n);
        if ((size_t)n > eng.rxcap) {
            unsigned char *grown = realloc(eng.rx, (size_t)n);
            if (!grown) {
                /* Take it off MPI's hands all the same; its task fails. */
                unsigned char byte;
                MPI_Mrecv(&byte, 0, MPI_BYTE, &msg, MPI_STATUS_IGNORE);
                lose_rank(st.MPI_SOURCE, "no memory to receive it");
                continue;
            }
            eng.rx = grown;
            eng.rxcap = (size_t)n;
        }
        MPI_Mrecv(eng.rx, n, MPI_BYTE, &msg, &st);
        handle_frame(st.MPI_SOURCE, eng.rx, (size_t)n);
        any = true;
    }
}

static void *engine_main(void *unused)
{
    (void)unused;
    int64_t last = pb_now_ns(), nap_ns = NAP_MIN_NS;
    pthread_mutex_lock(&eng.mu);
    for (;;) {
        if (eng.abandon)
            break;
        if (eng.policy_dirty)
            send_policies_locked();
        bool moved = dispatch_locked();
        if (eng.stop && !eng.busy && !eng.queued)
            break;
        if (!eng.busy && !moved) {
            int64_t now = pb_now_ns();
            if (now - last >= SPIN_NS && !eng.stop) {
                eng.sleeping = true;
                pthread_cond_wait(&eng.wake, &eng.mu);
                eng.sleeping = false;
                last = pb_now_ns();
                nap_ns = NAP_MIN_NS;
                continue;
            }
        }
        bool spin = eng.spin_pools > 0;
        pthread_mutex_unlock(&eng.mu);
        bool got = poll_frames();
        int64_t now = pb_now_ns();
        if (got || moved) {
            last = now;
            nap_ns = NAP_MIN_NS;
        } else if (spin || now - last < SPIN_NS) {
            sched_yield();
        } else {
            pb__mpi_nap(nap_ns);
            nap_ns = nap_ns * 2 > NAP_MAX_NS ? NAP_MAX_NS : nap_ns * 2;
        }
        pthread_mutex_lock(&eng.mu);
    }
    if (!eng.abandon)
        send_policies_locked(); /* eng.stop: every rank naps */
    pthread_mutex_unlock(&eng.mu);
    return NULL;
}

void pb__mpi_engine_abandon(void)
{
    pthread_mutex_lock(&pb__mpi_lifecycle);
    if (eng.running) {
        pthread_mutex_lock(&eng.mu);
        eng.abandon = true;
        pthread_cond_signal(&eng.wake);
        pthread_mutex_unlock(&eng.mu);
        pthread_join(eng.thread, NULL);
        eng.running = false;
    }
    pthread_mutex_unlock(&pb__mpi_lifecycle);
}

/* ---- the backend ---- */

static int mpib_submit(void *state, pb_future *f)
{
    mpool *p = state;
    size_t len;
    pb_future_arg(f, &len);
    if (len > (size_t)INT_MAX - PB__WIRE_TASK_HEAD_MAX) {
        char msg[160];
        snprintf(msg, sizeof msg,
                 "an argument of %zu bytes is more than one MPI message carries (2 GiB)", len);
        pb_error e = {.code = PB_EBROKEN, .message = msg};
        pb_future_set_error(f, &e, 0, 0); /* no callback yet: the caller has not seen f */
        pb_future_release(f);
        return 0;
    }
    qnode *n = malloc(sizeof *n);
    if (!n)
        return PB_ENOMEM;
    n->f = f;
    n->p = p;
    pthread_mutex_lock(&eng.mu);
    int r = p->shut ? PB_ESHUTDOWN : pb__adapter_broken(p->ad) ? PB_EBROKEN : 0;
    if (!r) {
        n->next = &eng.queue;
        n->prev = eng.queue.prev;
        n->prev->next = n;
        eng.queue.prev = n;
        *pb_future_slot(f) = n;
        eng.queued++;
        p->held++;
        /* With MPI_THREAD_MULTIPLE the submitter sends the task itself when
         * a rank is idle, saving the hop through the engine thread; the
         * engine still receives the result. (A change of how ranks wait is
         * the engine's to send first.) */
        if (pb__mpi.thread_level == MPI_THREAD_MULTIPLE && !eng.policy_dirty)
            dispatch_locked();
        if (eng.sleeping)
            pthread_cond_signal(&eng.wake);
    }
    pthread_mutex_unlock(&eng.mu);
    if (r)
        free(n);
    return r;
}

static void mpib_cancel(void *state, pb_future *f)
{
    mpool *p = state;
    pthread_mutex_lock(&eng.mu);
    qnode *n = *pb_future_slot(f);
    if (n) {
        unlink_locked(n);
        settle_locked(p);
    }
    pthread_mutex_unlock(&eng.mu);
    if (n) {
        pb_future_release(f);
        free(n);
    }
}

static void mpib_shutdown(void *state, bool wait, bool cancel_futures)
{
    mpool *p = state;
    pthread_mutex_lock(&eng.mu);
    p->shut = true;
    qnode *mine = cancel_futures ? take_queued_locked(p) : NULL;
    pthread_mutex_unlock(&eng.mu);
    while (mine) {
        qnode *n = mine;
        mine = n->next;
        pb_future_cancel(n->f); /* PENDING: never handed to a rank; callbacks run here */
        pb_future_release(n->f);
        settle(p);
        free(n);
    }
    if (wait) {
        pthread_mutex_lock(&eng.mu);
        while (p->held)
            pthread_cond_wait(&p->idle_cv, &eng.mu);
        pthread_mutex_unlock(&eng.mu);
    }
}

static void mpool_free(mpool *p)
{
    pthread_cond_destroy(&p->idle_cv);
    pb__adapter_free(p->ad);
    free(p->inited);
    free(p);
}

/* Attaches (+1) or detaches (-1) p to its ranks (under mu). */
static void attach_locked(mpool *p, int d)
{
    for (int r = 1; r <= p->workers; r++) {
        eng.ranks[r].pools += d;
        eng.ranks[r].spin_pools += p->spin ? d : 0;
    }
    eng.spin_pools += p->spin ? d : 0;
    eng.policy_dirty = true;
}

static void mpib_destroy(void *state)
{
    mpool *p = state;
    pthread_mutex_lock(&pb__mpi_lifecycle);
    pthread_mutex_lock(&eng.mu);
    p->prev->next = p->next;
    p->next->prev = p->prev;
    eng.npools--;
    attach_locked(p, -1);
    bool last = eng.npools == 0 && eng.running;
    if (last)
        eng.stop = true;
    pthread_cond_signal(&eng.wake);
    pthread_mutex_unlock(&eng.mu);
    if (last) {
        pthread_join(eng.thread, NULL);
        eng.running = false;
        eng.stop = false;
    }
    pthread_mutex_unlock(&pb__mpi_lifecycle);
    mpool_free(p);
}

/* The ranks as rank 0 sees them, once (under lifecycle). */
static int ranks_init_locked(void)
{
    if (eng.ranks)
        return 0;
    mrank *ranks = calloc((size_t)pb__mpi.size, sizeof *ranks);
    if (!ranks)
        return PB_ENOMEM;
    for (int r = 0; r < pb__mpi.size; r++) {
        ranks[r].req = MPI_REQUEST_NULL;
        ranks[r].type = MPI_DATATYPE_NULL;
        if (r > 0 && !(ranks[r].buf = malloc(SMALL_FRAME))) {
            for (int k = 1; k < r; k++)
                free(ranks[k].buf);
            free(ranks);
            return PB_ENOMEM;
        }
    }
    eng.ranks = ranks;
    return 0;
}

static int mpib_create(const pb_pool_opts *opts, void **state, int *workers)
{
    int have = pb__mpi.size - 1;
    if (opts->workers > have)
        return pb_backend_error(PB_ENOTSUP,
                                "mpi backend: workers=%d is more than the %d worker rank%s of "
                                "this MPI job: start it with mpiexec -n %d",
                                opts->workers, have, have == 1 ? "" : "s", opts->workers + 1);
    char idle[16];
    pb_pool_option(opts, "idle", idle, sizeof idle);
    if (strcmp(idle, "spin") && strcmp(idle, "sleep"))
        return pb_backend_error(PB_EINVAL, "mpi backend: idle=%s: expected spin or sleep", idle);

    mpool *p = calloc(1, sizeof *p);
    if (!p)
        return PB_ENOMEM;
    pthread_cond_init(&p->idle_cv, NULL);
    p->workers = opts->workers;
    p->spin = !strcmp(idle, "spin");
    p->inited = calloc((size_t)pb__mpi.size, 1);
    int r = p->inited ? pb__adapter_new(opts, &p->ad) : PB_ENOMEM;
    if (r) {
        mpool_free(p);
        return r;
    }

    pthread_mutex_lock(&pb__mpi_lifecycle);
    r = ranks_init_locked();
    if (!r && !eng.running) {
        eng.stop = eng.abandon = false;
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old); /* the host's signals go to its threads */
        r = -pthread_create(&eng.thread, NULL, engine_main, NULL);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (!r) {
            pthread_setname_np(eng.thread, "pb-mpi-engine");
            eng.running = true;
        }
    }
    if (!r) {
        pthread_mutex_lock(&eng.mu);
        p->next = &eng.pools;
        p->prev = eng.pools.prev;
        p->prev->next = p;
        eng.pools.prev = p;
        eng.npools++;
        attach_locked(p, +1);
        pthread_cond_signal(&eng.wake);
        pthread_mutex_unlock(&eng.mu);
    }
    pthread_mutex_unlock(&pb__mpi_lifecycle);
    if (r) {
        mpool_free(p);
        return r == PB_ENOMEM ? r
                              : pb_backend_error(r, "mpi backend: cannot start its engine thread: %s",
                                                 pb_strerror(r));
    }
    *state = p;
    *workers = p->workers;
    return 0;
}

static int mpib_binding(void *state, int worker, char *buf, size_t size)
{
    (void)state;
    snprintf(buf, size, "%s", pb__mpi.peers[worker + 1].cpus);
    return 0;
}

static int mpib_default_workers(void)
{
    return pb__mpi.size - 1;
}

static const char *mpib_unavailable(void)
{
    return pb__mpi_unavailable();
}

/* {"library": ..., "ranks": 3, "hosts": [{"host": "vm", "ranks": 3, "pus": 2}],
 *  "idle": "spin", "thread_level": "MPI_THREAD_MULTIPLE", "clock": ..., "mca": {...},
 *  "untrusted": "..."} */
static int mpib_describe(void *state, char *buf, size_t size)
{
    mpool *p = state;
    static const char *const levels[] = {"MPI_THREAD_SINGLE", "MPI_THREAD_FUNNELED",
                                         "MPI_THREAD_SERIALIZED", "MPI_THREAD_MULTIPLE"};
    int level = pb__mpi.thread_level == MPI_THREAD_MULTIPLE     ? 3
                : pb__mpi.thread_level == MPI_THREAD_SERIALIZED ? 2
                : pb__mpi.thread_level == MPI_THREAD_FUNNELED   ? 1
                                                                : 0;
    size_t used = 0;
    int w;
#define PUT(...)                                                                           \
    do {                                                                                   \
        w = snprintf(buf + used, size - used, __VA_ARGS__);                                \
        if (w < 0 || (size_t)w >= size - used)                                             \
            return PB_EINVAL;                                                              \
        used += (size_t)w;                                                                 \
    } while (0)
    PUT("{\"library\": \"%s\", \"ranks\": %d, \"workers\": %d, \"idle\": \"%s\", "
        "\"thread_level\": \"%s\", \"hosts\": [",
        pb__mpi.library, pb__mpi.size, p->workers, p->spin ? "spin" : "sleep", levels[level]);
    /* Ranks and PUs per host, in rank order of first appearance. */
    char untrusted[400] = "";
    int64_t clock_error = -1; /* the worst offset's, -1: every rank shares rank 0's clock */
    for (int r = 0; r < pb__mpi.size; r++) {
        const pb__mpi_peer *peer = &pb__mpi.peers[r];
        if (!peer->same_clock && peer->offset_error > clock_error)
            clock_error = peer->offset_error;
        bool seen = false;
        for (int k = 0; k < r && !seen; k++)
            seen = !strcmp(pb__mpi.peers[k].host, peer->host);
        if (seen)
            continue;
        int ranks = 0;
        for (int k = r; k < pb__mpi.size; k++)
            ranks += !strcmp(pb__mpi.peers[k].host, peer->host);
        PUT("%s{\"host\": \"%s\", \"ranks\": %d, \"pus\": %d}", r ? ", " : "", peer->host, ranks,
            peer->pus);
        if (ranks > peer->pus && !untrusted[0])
            snprintf(untrusted, sizeof untrusted,
                     "%d MPI ranks share the %d PUs of host %s%s: the ranks compete with "
                     "each other for the PUs",
                     ranks, peer->pus, peer->host,
                     p->spin ? " and spin while they wait (idle=spin)" : "");
    }
    if (clock_error < 0)
        PUT("], \"clock\": \"shared: every rank runs on rank 0's host boot\"");
    else
        PUT("], \"clock\": \"offsets: times of ranks on other hosts are moved onto rank 0's "
            "clock, within %.1f us\"",
            (double)clock_error / 1000.0);
    PUT(", \"mca\": %s", pb__mpi.mca[0] ? pb__mpi.mca : "{}");
    if (untrusted[0])
        PUT(", \"untrusted\": \"%s\"", untrusted);
    PUT("}");
#undef PUT
    return (int)used;
}

PB__ADAPTER_EXPORT const pb_backend pb__backend_mpi = {
    .name = "mpi",
    .summary = "the ranks of an MPI job as workers (" PB__MPI_LIBRARY "; rank 0 runs the "
               "program: mpiexec -n <workers+1> ...), tasks over point-to-point messages",
    .create = mpib_create,
    .submit = mpib_submit,
    .cancel = mpib_cancel,
    .shutdown = mpib_shutdown,
    .destroy = mpib_destroy,
    .binding = mpib_binding,
    .waiter_sleeps = true, /* results arrive through the engine thread */
    .unsupported = (const pb_unsupported[]){
        {"pin", "the ranks are placed by mpiexec: bind them there (--bind-to core, --map-by)"},
        {"task_timeout", "a rank cannot be killed without ending the MPI job: " PB__MPI_NO_ULFM},
        {"max_tasks_per_worker", "a rank cannot be replaced: mpiexec starts them all at once"},
        {"worker_program", "the ranks run the program mpiexec started"},
        {"crash_recovery", "a rank that dies ends the whole MPI job: " PB__MPI_NO_ULFM},
        {NULL, NULL},
    },
    .options = (const pb_backend_option[]){
        {"idle", "spin|sleep", "spin",
         "how a worker rank waits for its next task: in MPI's own receive, which polls and "
         "keeps a PU busy per rank (spin), or polling for 100 us and then napping (sleep)"},
        {NULL, NULL, NULL, NULL},
    },
    .unavailable = mpib_unavailable,
    .default_workers = mpib_default_workers,
    .describe = mpib_describe,
};
