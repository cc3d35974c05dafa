/* hub_presence.h -- the hub publishes which users are connected to it on
 * herald.presence (HERALD_HUB_PRESENCE), for herald-api to skip the
 * mobile push of users who are online (docs/hub.md, "Presence").
 *
 * Records, keyed for a compacted topic (the latest per key is the state):
 *   "u/<hub>/<user>" -> {"lease_ms":N}  the user's first connection to
 *                       this process opened; a tombstone (null value)
 *                       when its last one closed
 *   "h/<hub>"        -> {"lease_ms":N,"users":n}  every lease/3: this
 *                       process is alive; a tombstone when it stops
 * <hub> is unique per process (host, pid, random), so a restarted hub
 * never inherits a dead one's records; readers count a hub's users as
 * offline once its newest record is lease_ms old (a crash), and remove
 * its keys after another lease.
 *
 * Nothing runs per connection on a periodic path: a connection costs a
 * record only when it is its user's first or last on this process (the
 * transitions of hub_limits' per-user count), and the heartbeat is one
 * record per process. The records are queued and written by the
 * presence thread, in order, so the connection path never waits for
 * Kafka. */
#ifndef HUB_PRESENCE_H
#define HUB_PRESENCE_H

#include <stddef.h>

#include "core/config.h"
#include "core/err.h"

struct hub_ctx;
struct hub_presence;

struct hub_presence_config {
    int enabled;  /* HERALD_HUB_PRESENCE */
    int lease_ms; /* HERALD_HUB_PRESENCE_LEASE_MS */
};

extern const struct hd_config_field hub_presence_config_fields[];

/* Starts publishing when cfg->enabled (else *out = NULL and 0): its own
 * producer and thread, and the hook on hub->limits' per-user counts.
 * Call before the service threads start. 0, or -1 with err. */
int hub_presence_start(struct hub_ctx *hub,
                       const struct hub_presence_config *cfg,
                       struct hub_presence **out, struct hd_err *err);

/* Publishes what is queued (the users of the connections closed by
 * hub_threads_stop(): call after it) and the hub's tombstone, flushes,
 * stops the thread and frees. NULL is a no-op. */
void hub_presence_stop(struct hub_presence *p);

#endif
