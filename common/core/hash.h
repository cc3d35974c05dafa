/* hash.h -- FNV-1a, the one non-cryptographic string hash of the suite
 * (hash tables of the hub, the relay's rate limiter, the simulator). */
#ifndef HD_HASH_H
#define HD_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint32_t
hd_hash(const void *data, size_t len)
{
    const unsigned char *p = data;
    uint32_t h = 2166136261u;
    size_t i;

    for (i = 0; i < len; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

static inline uint32_t
hd_hash_str(const char *s)
{
    return hd_hash(s, strlen(s));
}

#endif
