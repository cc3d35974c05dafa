/* syntax.h -- the request syntax the Google-style providers (FCM, HMS)
 * share: the id between a path's prefix and suffix, the bearer token of
 * the Authorization header, and a protobuf Duration's number part.
 *
 * Pure parsing: no state, no answers (each provider words its own
 * errors). Callable from any thread. */
#ifndef SIM_SYNTAX_H
#define SIM_SYNTAX_H

#include <stddef.h>

#include "tools/sim/exchange.h"

/* Copies into out the id in prefix{id}suffix, the query string ignored:
 * one non-empty path segment shorter than outlen. 0, or -1 (out
 * unchanged) when path does not have that shape. */
int sim_syntax_path_id(const char *path, const char *prefix, const char *suffix,
                       char *out, size_t outlen);

/* The token of "Authorization: Bearer <token>" (scheme case-insensitive,
 * leading spaces skipped), borrowed from req; NULL when the header is
 * absent, of another scheme, or ends at the scheme. */
const char *sim_syntax_bearer(const struct sim_req *req);

/* Reads the number of a duration ("3", "3.5": whole seconds, then up to
 * nine fractional digits) at the start of s. 1 with *rest set to what
 * follows (the unit, checked by the caller), or 0 when there is no
 * number, the fraction is empty or too long, or the whole seconds exceed
 * max_s. */
int sim_syntax_duration(const char *s, long long max_s, const char **rest);

#endif
