/*
 * rng.c — xoshiro256** seeded through splitmix64. See rng.h.
 */
#include <assert.h>

#include "rng.h"

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void pb_rng_seed(pb_rng *r, uint64_t seed, uint64_t stream)
{
    uint64_t x = seed ^ (stream * 0xD1B54A32D192ED03ull);
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t pb_rng_next(pb_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint64_t pb_rng_below(pb_rng *r, uint64_t n)
{
    assert(n > 0);
    return (uint64_t)(((unsigned __int128)pb_rng_next(r) * n) >> 64);
}

int64_t pb_rng_range(pb_rng *r, int64_t lo, int64_t hi)
{
    assert(lo <= hi);
    return lo + (int64_t)pb_rng_below(r, (uint64_t)(hi - lo) + 1);
}

bool pb_rng_chance(pb_rng *r, uint32_t per_million)
{
    return pb_rng_below(r, 1000000) < per_million;
}
