/*
 * pressure.h — the machine's CPU pressure over a run (pressure.c explains
 * what it is for): samples go in as the watchdog takes them, and a timing
 * check asks how contended the CPU was over an interval.
 */
#ifndef PB_STRESS_PRESSURE_H
#define PB_STRESS_PRESSURE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define PBS_PRESSURE_SAMPLES 1024

typedef struct pbs_pressure {
    pthread_mutex_t mu;
    struct {
        int64_t at;         /* pb_now_ns() */
        long long some_us;  /* the PSI "some" total then */
    } s[PBS_PRESSURE_SAMPLES]; /* a ring: the newest PBS_PRESSURE_SAMPLES */
    size_t n;                  /* samples taken in all */
} pbs_pressure;

void pbs__pressure_init(pbs_pressure *p);
void pbs__pressure_destroy(pbs_pressure *p);

/* Takes one sample now (nothing where the kernel has no PSI). */
void pbs__pressure_sample(pbs_pressure *p);

/* The share (0..1) of [t0, t1] during which the CPU was contended (some
 * runnable task waited), from the samples around it; -1 if unknown. */
double pbs__pressure_share(pbs_pressure *p, int64_t t0, int64_t t1);

#endif /* PB_STRESS_PRESSURE_H */
