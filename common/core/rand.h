/* rand.h -- fast non-cryptographic randomness and secure random bytes.
 *
 * hd_rand_u64() is a per-thread xorshift generator seeded from the kernel,
 * for jitter and sampling. hd_random_bytes() is for ids, keys and secrets.
 * Both are thread-safe. struct hd_rand lets tests inject a fixed source. */
#ifndef HD_RAND_H
#define HD_RAND_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

struct hd_rand {
    uint64_t (*next)(void *ud);
    void *ud;
};

extern const struct hd_rand hd_rand_system;

uint64_t hd_rand_u64(void);

/* Fills buf from getrandom(2). Aborts if the kernel cannot supply bytes:
 * an id or key must never be predictable. */
void hd_random_bytes(void *buf, size_t n);

/* Writes a random RFC 4122 version-4 UUID, lowercase, 36 chars + NUL. */
void hd_uuid4(char out[37]);

/* Writes n random bytes as 2n lowercase hex characters + NUL. */
void hd_random_hex(char *out, size_t nbytes);

#endif
