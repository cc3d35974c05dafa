/* credential.h -- one provider credential (an OAuth access token, an APNs
 * provider JWT) cached for every request of the process and refreshed
 * ahead of its expiry, never per request.
 *
 * The fetch function (sign a JWT, call a token endpoint) runs on the
 * cache's own thread, so a slow token endpoint never stalls sending while
 * the current credential is still valid. Failures back off (1 s doubling
 * to 60 s, 5 min for configuration errors); a configuration error (the
 * provider refused the key, the client id, the claims) is reported as such
 * so the caller can stop sending instead of burning tokens. A credential
 * the provider rejected is refetched once, but never sooner than
 * min_interval_ms after the last fetch (APNs refuses provider-token
 * updates more often than every 20 minutes). Thread-safe. */
#ifndef HD_PUSHAUTH_H
#define HD_PUSHAUTH_H

#include <stdint.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/err.h"

#define HD_PUSHAUTH_MAX 8192 /* one credential */

/* Fetches a new credential into value (empty on entry) and its expiry
 * (wall ms). Returns 0, or -1 with err: HD_EAUTH or HD_EINVAL mean the
 * provider refused our configuration, anything else is transient. Runs on
 * the cache's thread (or in hd_pushauth_tick()). */
typedef int hd_pushauth_fetch_fn(void *ud, struct hd_buf *value,
                                 int64_t *expires_ms, struct hd_err *err);

struct hd_pushauth_opts {
    hd_pushauth_fetch_fn *fetch;
    void *ud;
    int64_t refresh_before_ms;    /* refresh when less than this remains */
    int64_t min_interval_ms;      /* a rejection refetches no sooner */
    const struct hd_clock *clock; /* NULL: the system clock */
    /* Called after every fetch (new credential or new failure), on the
     * fetching thread, without locks held: wake the sender. May be NULL. */
    void (*on_change)(void *ud);
    void *change_ud;
    int threaded; /* 1: own thread; 0: the caller calls hd_pushauth_tick() */
};

struct hd_pushauth;

/* new: starts fetching at once (threaded) or at the first tick. NULL with
 * err when the thread cannot start. */
struct hd_pushauth *hd_pushauth_new(const struct hd_pushauth_opts *o,
                                    struct hd_err *err);

/* Stops the thread (waiting for a fetch in progress) and frees. NULL is a
 * no-op. */
void hd_pushauth_free(struct hd_pushauth *a);

/* Copies the current credential into out (reset first) and its generation
 * into *gen. Returns 1 when a valid credential exists; 0 when none is
 * available yet (first fetch running, or a transient failure); -1 when the
 * last fetch failed with a configuration error and nothing valid is left
 * (err says why). */
int hd_pushauth_get(struct hd_pushauth *a, struct hd_buf *out, unsigned *gen,
                    struct hd_err *err);

/* Same answer as hd_pushauth_get() without copying the credential. */
int hd_pushauth_ready(struct hd_pushauth *a, struct hd_err *err);

/* The provider refused the credential of generation gen. Returns 1 when a
 * newer one exists or a refetch was scheduled (the rejected one is dropped
 * at once), 0 when the last fetch is younger than min_interval_ms (the
 * credential is kept: refetching would only make things worse). */
int hd_pushauth_reject(struct hd_pushauth *a, unsigned gen);

/* Non-threaded mode: fetches now if a fetch is due. Returns 1 if it
 * fetched, 0 if nothing was due. */
int hd_pushauth_tick(struct hd_pushauth *a);

struct hd_httpc;

/* The OAuth 2.0 token request both FCM and HMS make: POSTs form
 * (application/x-www-form-urlencoded, already encoded) to url through c,
 * blocking the calling thread (c's loop thread), and reads
 * {"access_token":...,"expires_in":...} into value as the header line
 * "Authorization: Bearer <token>" and *expires_ms = now_ms + expires_in.
 * Returns 0, or -1 with err: HD_EAUTH when the endpoint refused us (a 4xx
 * other than 429, or an answer without access_token: fix the
 * credentials), HD_EUPSTREAM for everything transient (transport, 429,
 * 5xx). The message carries the endpoint's error fields. */
int hd_pushauth_oauth(struct hd_httpc *c, const char *url, const char *form,
                      int64_t now_ms, struct hd_buf *value, int64_t *expires_ms,
                      struct hd_err *err);

/* Fetches so far: successful and failed. */
void hd_pushauth_counts(struct hd_pushauth *a, unsigned long *ok,
                        unsigned long *failed);

#endif
