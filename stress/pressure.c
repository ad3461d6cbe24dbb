/*
 * pressure.c — CPU pressure over time.
 *
 * On a machine whose CPUs are saturated by others (a parallel build, another
 * test suite), a thread that was woken in time may still wait hundreds of
 * milliseconds for a CPU, and a worker may not get to run a 1 ms task within
 * task_timeout. Such lateness says nothing about the pool. So timing checks
 * that fail are judged against the machine's CPU pressure (PSI): the
 * watchdog samples the kernel's running total of time during which some
 * task waited for a CPU, every tick; the share of an interval that was
 * contended is the growth of that total across the samples around it. When
 * it is at least half, expect.c counts the check as excused (reported as
 * timing_excused) instead of as a violation. On a quiet machine, and where
 * the kernel has no PSI, every check counts.
 */
#include <stdbool.h>

#include <pb/pool.h>

#include "pressure.h"
#include "sys.h"

void pbs__pressure_init(pbs_pressure *p)
{
    pthread_mutex_init(&p->mu, NULL);
    p->n = 0;
}

void pbs__pressure_destroy(pbs_pressure *p)
{
    pthread_mutex_destroy(&p->mu);
}

void pbs__pressure_sample(pbs_pressure *p)
{
    long long some = pbs__psi_cpu_some_us();
    if (some < 0)
        return;
    pthread_mutex_lock(&p->mu);
    p->s[p->n % PBS_PRESSURE_SAMPLES].at = pb_now_ns();
    p->s[p->n % PBS_PRESSURE_SAMPLES].some_us = some;
    p->n++;
    pthread_mutex_unlock(&p->mu);
}

double pbs__pressure_share(pbs_pressure *p, int64_t t0, int64_t t1)
{
    double share = -1;
    pthread_mutex_lock(&p->mu);
    size_t n = p->n < PBS_PRESSURE_SAMPLES ? p->n : PBS_PRESSURE_SAMPLES;
    /* The last sample at or before t0, and the first at or after t1 (or the
     * newest, if it covers most of the interval). */
    int64_t a_at = 0, b_at = 0;
    long long a_us = 0, b_us = 0;
    bool have_a = false, have_b = false;
    for (size_t k = 0; k < n; k++) {
        size_t i = (p->n - n + k) % PBS_PRESSURE_SAMPLES;
        int64_t at = p->s[i].at;
        if (at <= t0) {
            a_at = at;
            a_us = p->s[i].some_us;
            have_a = true;
        }
        if (!have_b && at >= t1) {
            b_at = at;
            b_us = p->s[i].some_us;
            have_b = true;
        }
    }
    if (!have_b && n) {
        size_t i = (p->n - 1) % PBS_PRESSURE_SAMPLES;
        if (p->s[i].at > t0 + (t1 - t0) / 2) {
            b_at = p->s[i].at;
            b_us = p->s[i].some_us;
            have_b = true;
        }
    }
    if (have_a && have_b && b_at > a_at)
        share = (double)(b_us - a_us) * 1000.0 / (double)(b_at - a_at);
    pthread_mutex_unlock(&p->mu);
    return share;
}
