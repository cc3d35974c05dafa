/* api_presence.h -- who is connected to the hub, as herald-hub publishes
 * it on herald.presence (docs/hub.md, "Presence"), and the fan-out's
 * skip of devices whose user is online.
 *
 * The topic holds two kinds of records (keys are text):
 *   "h/<hub>"         a hub's heartbeat: {"lease_ms":N}; a tombstone
 *                     (null value) when the hub stops
 *   "u/<hub>/<user>"  user online on that hub: {"lease_ms":N}; a
 *                     tombstone when its last connection there closes
 * A hub is alive until the newest record it wrote is lease_ms old (record
 * timestamps); after that its users count as offline, and after another
 * lease_ms the reader writes tombstones for its keys, so a crashed hub's
 * records leave the compacted topic. Correctness never depends on
 * compaction having run: the reader keeps the latest record per key.
 *
 * api_pset (api_presence_set.c) is that state, in memory, with a cap on
 * the (hub, user) entries it holds; api_presence (api_presence.c) feeds it
 * from a consumer thread and answers the fan-out. */
#ifndef API_PRESENCE_H
#define API_PRESENCE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "core/err.h"
#include "core/metrics.h"

struct api_ctx;
struct api_fanout;
struct api_batcher;
struct hd_msg_request;

/* ---- the set (no I/O; the caller locks) -------------------------------- */

struct api_pset;

/* A key the reader wants removed from the topic (a tombstone). */
typedef void api_pset_tomb_fn(void *ud, const char *key, size_t keylen);

/* max_entries: (hub, user) entries held at most (beyond: the record is
 * dropped, counted, and the user reads offline: the push is sent). */
struct api_pset *api_pset_new(size_t max_entries);
void api_pset_free(struct api_pset *s);

/* Applies one record (value NULL: a tombstone) written at ts_ms. Returns
 * 0, 1 when dropped at the cap, -1 with err for a malformed record
 * (ignored by the caller). */
int api_pset_apply(struct api_pset *s, const void *key, size_t keylen,
                   const void *value, size_t len, int64_t ts_ms,
                   struct hd_err *err);

/* 1 when user has an entry on a hub whose lease runs past now_ms. */
int api_pset_online(const struct api_pset *s, const char *user, int64_t now_ms);

/* Forgets the hubs whose lease ended more than one lease before now_ms,
 * with their users, calling tomb (may be NULL) for each of their keys.
 * Returns the number of hubs forgotten. */
size_t api_pset_expire(struct api_pset *s, int64_t now_ms,
                       api_pset_tomb_fn *tomb, void *ud);

/* (hub, user) entries held; hubs known. */
size_t api_pset_entries(const struct api_pset *s);
size_t api_pset_hubs(const struct api_pset *s);

/* ---- the service part --------------------------------------------------- */

struct api_presence_config {
    int enabled;     /* HERALD_API_PRESENCE */
    int skip_events; /* HERALD_PUSH_SKIP_ONLINE */
    int max_entries; /* HERALD_API_PRESENCE_MAX_USERS */
};

extern const struct hd_config_field api_presence_config_fields[];

struct api_presence;

/* Starts the consumer of herald.presence (every partition, from the
 * start, no group) and registers the metrics. NULL with err. */
struct api_presence *api_presence_start(struct api_ctx *ctx,
                                        const struct api_presence_config *cfg,
                                        struct hd_err *err);
void api_presence_stop(struct api_presence *p);

/* 1 when user is connected to a live hub now. NULL p: 0. Thread-safe. */
int api_presence_online(struct api_presence *p, const char *user);

/* The fan-out's step for a request with skip_online (recipient users, or
 * a filter with users): removes the online users from the request's user
 * list and records each of their devices the request would reach (b
 * says which providers) as "skipped", code "online", on herald.feedback,
 * counting herald_push_skipped_online_total. 0; 1 when every user was
 * online (nothing left to send); -1 when the fan-out stops. */
int api_presence_skip(struct api_fanout *fo, struct hd_msg_request *r,
                      const struct api_batcher *b, struct hd_err *err);

#endif
