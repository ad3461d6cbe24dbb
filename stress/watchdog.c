/*
 * watchdog.c — one thread per stress run that notices a hung operation.
 *
 * Every 100 ms it looks at each thread's operation in progress (the thread
 * publishes its start time; a drain republishes it after each future it
 * retires), samples RSS for the peak and the CPU pressure (pressure.c). An
 * operation older than the watchdog bound means the pool hung: the
 * watchdog prints which operation of which thread did not return, every
 * thread's recent operations, and the stacks of every thread (gdb, when
 * installed), counts the hang, lets the run say its last words (its report
 * so far, for a last results file), kills every child process (hung
 * workers would outlive us) and exits with status 1. A hung pool cannot be
 * recovered from inside: the only honest end is a report and an exit.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "probe.h"
#include "sys.h"
#include "watchdog.h"

#define MS (1000000LL)

static _Noreturn void fire(pbs_watchdog *wd, pbs_oplog *stuck, int64_t age)
{
    pbs_world *w = wd->w;
    FILE *out = pbs__journal_out(&w->journal);
    char what[256];
    pbs_opdesc d = stuck->cur;
    pbs__op_format(&d, what, sizeof what);
    fprintf(out,
            "poolbench stress: HANG [%s, seed %llu]: thread %d, operation %llu (%s) has not "
            "returned after %.1f s; the pool is stuck\n",
            w->o.backend, (unsigned long long)w->o.seed, stuck->index, (unsigned long long)d.op,
            what, age / 1e9);
    if (w->o.command)
        fprintf(out, "  command: %s (seed %llu: --seed %llu replays the schedule)\n", w->o.command,
                (unsigned long long)w->o.seed, (unsigned long long)w->o.seed);
    pbs__journal_print_recent(out, wd->logs, atomic_load(&wd->nlogs));
    fprintf(out, "  stacks of this process's threads:\n");
    fflush(out);
    if (w->o.no_stacks)
        fprintf(out, "  (stacks not requested)\n");
    else if (pbs__print_stacks(fileno(out), 60) != 0)
        fprintf(out, "  (gdb is not available: no stacks; the operations above are what was "
                     "waiting)\n");
    fflush(out);

    char msg[600];
    snprintf(msg, sizeof msg, "thread %d, operation %llu (%s) did not return within %.0f s",
             stuck->index, (unsigned long long)d.op, what, w->o.watchdog / 1e9);
    pbs__violation_counted(&w->journal, PBS_CHECK_HANG, msg);
    if (wd->last_words)
        wd->last_words(wd->ud, msg);
    pbs__kill_all_children();
    pbs__probe_table_close();
    fflush(NULL);
    _exit(1);
}

/* One look: samples, then every thread's operation in progress. */
static void tick(pbs_watchdog *wd)
{
    pbs_world *w = wd->w;
    pbs__pressure_sample(&w->pressure);
    long rss = pbs__rss_kb();
    if (rss > atomic_load(&wd->rss_peak_kb))
        atomic_store(&wd->rss_peak_kb, rss);
    int64_t now = pb_now_ns();
    int n = atomic_load(&wd->nlogs);
    for (int i = 0; i < n; i++) {
        int64_t st = atomic_load_explicit(&wd->logs[i]->op_started, memory_order_acquire);
        if (st && now - st > w->o.watchdog)
            fire(wd, wd->logs[i], now - st);
    }
}

static void *watchdog_main(void *arg)
{
    pbs_watchdog *wd = arg;
    pthread_mutex_lock(&wd->mu);
    while (!wd->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 100 * MS;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&wd->cv, &wd->mu, &ts);
        if (wd->stop)
            break;
        pthread_mutex_unlock(&wd->mu);
        tick(wd);
        pthread_mutex_lock(&wd->mu);
    }
    pthread_mutex_unlock(&wd->mu);
    return NULL;
}

int pbs__watchdog_start(pbs_watchdog *wd, pbs_world *w, pbs_oplog *const *logs, int n,
                        void (*last_words)(void *ud, const char *why), void *ud)
{
    memset(wd, 0, sizeof *wd);
    wd->w = w;
    wd->logs = logs;
    atomic_store(&wd->nlogs, n);
    wd->last_words = last_words;
    wd->ud = ud;
    pthread_mutex_init(&wd->mu, NULL);
    pthread_cond_init(&wd->cv, NULL);
    int r = pthread_create(&wd->thread, NULL, watchdog_main, wd);
    wd->started = r == 0;
    return -r;
}

void pbs__watchdog_watch(pbs_watchdog *wd, int n)
{
    atomic_store(&wd->nlogs, n);
}

void pbs__watchdog_stop(pbs_watchdog *wd)
{
    if (!wd->w)
        return; /* never started */
    if (wd->started) {
        pthread_mutex_lock(&wd->mu);
        wd->stop = true;
        pthread_cond_signal(&wd->cv);
        pthread_mutex_unlock(&wd->mu);
        pthread_join(wd->thread, NULL);
        wd->started = false;
    }
    pthread_mutex_destroy(&wd->mu);
    pthread_cond_destroy(&wd->cv);
    wd->w = NULL;
}
