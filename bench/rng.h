/*
 * rng.h — the one pseudo-random generator of poolbench: xoshiro256**
 * (Blackman and Vigna), seeded through splitmix64.
 *
 * Everything random that poolbench does must replay from a seed: the
 * schedule of `poolbench stress` (each submitter thread draws from its own
 * stream, so a seed replays the same operations per thread), and the random
 * parts of a scenario's workload (pb_sc_random(), the same sequence for
 * every backend of one case and repetition). Both draw from this generator.
 *
 * Not for cryptography. A state is owned by one thread at a time; there is
 * no locking.
 */
#ifndef PB_BENCH_RNG_H
#define PB_BENCH_RNG_H

#include <stdbool.h>
#include <stdint.h>

typedef struct pb_rng {
    uint64_t s[4];
} pb_rng;

/* Seeds r with stream `stream` of seed `seed`: distinct streams of one seed
 * are independent sequences (stress gives one to each thread). */
void pb_rng_seed(pb_rng *r, uint64_t seed, uint64_t stream);

/* The next 64 random bits. */
uint64_t pb_rng_next(pb_rng *r);

/* Uniform in [0, n), n > 0: one draw (Lemire's multiply-shift; its bias,
 * below 2^-40 for the n used here, does not matter). */
uint64_t pb_rng_below(pb_rng *r, uint64_t n);

/* Uniform in [lo, hi], lo <= hi: one draw. */
int64_t pb_rng_range(pb_rng *r, int64_t lo, int64_t hi);

/* True with probability per_million / 1e6: one draw. */
bool pb_rng_chance(pb_rng *r, uint32_t per_million);

#endif /* PB_BENCH_RNG_H */
