/* secret.h -- comparing a presented key with a configured one without
 * leaking either's length or contents through timing.
 *
 * Both sides are hashed (SHA-256) and the fixed-size digests compared with
 * CRYPTO_memcmp, so the time taken depends on neither the position of the
 * first difference nor the configured key's length. Thread-safe. */
#ifndef HD_SECRET_H
#define HD_SECRET_H

#include <stddef.h>

/* 1 when got (gotlen bytes) equals the NUL-terminated want; 0 otherwise,
 * and always 0 for an empty or NULL want. */
int hd_secret_equal(const char *want, const char *got, size_t gotlen);

#endif
