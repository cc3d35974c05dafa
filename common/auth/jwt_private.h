/* jwt_private.h -- what jwt.c (the token) asks of jwt_key.c (the key):
 * the raw signature of the signing input.
 *
 * Not part of the contract: only the two halves of auth/jwt.h include it.
 * Both functions may be called from any thread; a key is read-only once
 * made. */
#ifndef HD_JWT_PRIVATE_H
#define HD_JWT_PRIVATE_H

#include <stddef.h>

#include "auth/jwt.h"
#include "core/buf.h"
#include "core/err.h"

/* Appends base64url(signature of data[0..len) under k) to out: 0, or -1
 * with err. */
int hd_jwt_key_sign_append(const struct hd_jwt_key *k, const char *data,
                           size_t len, struct hd_buf *out, struct hd_err *err);

/* 1 if sig is a valid signature of data[0..len) under k, 0 if not (a
 * signature of the wrong length or form included). */
int hd_jwt_key_sig_ok(const struct hd_jwt_key *k, const char *data, size_t len,
                      const unsigned char *sig, size_t siglen);

#endif
