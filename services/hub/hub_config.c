/* hub_config.c -- the HERALD_HUB_* variables (plus HERALD_INTERNAL_KEY).
 * The JWT and Kafka variables are the shared tables of common/auth/usertoken.h
 * and common/kafka/kafka.h. Also the names of hub.h's enums. */
#include <stddef.h>

#include "core/limits.h"
#include "services/hub/hub.h"
#include "core/banned.h"

#define HC struct hub_config

const struct hd_config_field hub_config_fields[] = {
    HD_CFG_INT("HERALD_HUB_PORT", HC, port, 8081, 1, 65535,
               "TCP port of the SignalR hubs (/notifications/hub, "
               "/notifications/anonymous-hub), POST /send, /healthz and "
               "/readyz (shared by every thread and by other hub processes "
               "through SO_REUSEPORT)"),
    HD_CFG_STR("HERALD_HUB_BIND", HC, bind, "0.0.0.0", 0,
               "IPv4 address to listen on"),
    HD_CFG_INT("HERALD_HUB_THREADS", HC, threads, 0, 0, HD_HUB_MAX_THREADS,
               "service threads, one event loop each (0: one per core)"),
    HD_CFG_INT("HERALD_HUB_MAX_CONNECTIONS", HC, max_connections, 1000000, 1,
               100000000, "connections per process (503 beyond)"),
    HD_CFG_INT("HERALD_HUB_MAX_PER_USER", HC, max_per_user, 100, 1, 100000,
               "connections per user per process (429 beyond)"),
    HD_CFG_INT("HERALD_HUB_ANON_PER_IP", HC, anon_per_ip, 25, 1, 100000,
               "anonymous-hub connections per client address (429 beyond)"),
    HD_CFG_INT("HERALD_HUB_MAX_PER_ADDRESS", HC, max_per_address, 1000, 1,
               100000000,
               "connections per client address per process, open or not "
               "(beyond: the address's oldest half-open connection is "
               "closed to make room, or the new one is refused); behind "
               "HERALD_TRUSTED_PROXIES the address is the forwarded one"),
    HD_CFG_INT("HERALD_HUB_MAX_HALF_OPEN", HC, max_half_open, 4096, 1, 1000000,
               "connections per process whose request (head, WebSocket "
               "upgrade, POST body) is not in yet, shared evenly by the "
               "threads; beyond, the oldest one of the address holding "
               "the most is closed (each holds a header buffer of about "
               "17 KB)"),
    HD_CFG_INT("HERALD_HUB_HEAD_TIMEOUT_S", HC, head_timeout_s, 10, 1, 300,
               "seconds from accept to a complete request (head, WebSocket "
               "upgrade, POST body); then the SignalR handshake has "
               "HERALD_HUB_HANDSHAKE_TIMEOUT_S"),
    HD_CFG_INT("HERALD_HUB_MAX_MESSAGE", HC, max_message, 4096, 64, 1048576,
               "largest inbound message, bytes (close 1009 beyond)"),
    HD_CFG_INT("HERALD_HUB_HANDSHAKE_TIMEOUT_S", HC, handshake_timeout_s, 15, 1,
               300, "seconds to complete the SignalR handshake (1008)"),
    HD_CFG_INT("HERALD_HUB_PING_INTERVAL_S", HC, ping_interval_s, 15, 1, 120,
               "hub Ping after this many seconds without output; sent "
               "with a client message when it comes half an interval or "
               "more after the last output, and up to 1 s later for a "
               "connection whose pings go with its client's"),
    HD_CFG_INT("HERALD_HUB_CLIENT_TIMEOUT_S", HC, client_timeout_s, 30, 2, 120,
               "drop a client silent for this many seconds"),
    HD_CFG_INT("HERALD_HUB_QUEUE_MAX", HC, queue_max, 1024, 4, 65536,
               "queued messages per connection; a client that falls this "
               "far behind is closed"),
    HD_CFG_INT("HERALD_HUB_WRITE_DELAY_MS", HC, write_delay_ms, 1, 0, 100,
               "gather a connection's messages this long before writing "
               "them in one frame (0: write at once)"),
    HD_CFG_INT("HERALD_HUB_SHUTDOWN_TIMEOUT_S", HC, shutdown_timeout_s, 5, 1,
               120, "seconds to flush Close to clients on SIGTERM"),
    HD_CFG_BOOL("HERALD_HUB_NEGOTIATE", HC, negotiate, true,
                "serve POST .../negotiate (clients with skipNegotiation "
                "never call it)"),
    HD_CFG_STR("HERALD_HUB_INSTALLATION_ID", HC, installation_id, NULL, 0,
               "installation id: connections join Installation_<id> "
               "(unset: installation events go nowhere)"),
    HD_CFG_STR("HERALD_INTERNAL_KEY", HC, internal_key, NULL, HD_CFG_SECRET,
               "bearer key of POST /send (unset: only JWTs, below)"),
    HD_CFG_STR("HERALD_HUB_INTERNAL_ISSUER", HC, internal_issuer, NULL, 0,
               "POST /send also takes a JWT signed by a key of "
               "HERALD_JWT_JWKS_URL or HERALD_JWT_PUBLIC_KEY_FILE (a "
               "Bitwarden server's identity token) with this \"iss\" "
               "(unset: HERALD_JWT_ISSUER)"),
    HD_CFG_STR("HERALD_HUB_INTERNAL_SCOPE", HC, internal_scope, "internal", 0,
               "required \"scope\" entry of POST /send JWTs"),
    HD_CFG_STR("HERALD_HUB_GROUP_ID", HC, group_id, NULL, 0,
               "Kafka group id of a hub that resumes at its commits (unset: "
               "every partition read from its end with no group and no "
               "commits, so every replica sees every event and leaves "
               "nothing in Kafka; sharded: herald-hub-shard-<k>, where the "
               "shard commits its offsets)"),
    HD_CFG_INT("HERALD_HUB_SHARDS", HC, shards, 0, 0, HD_HUB_MAX_SHARDS,
               "shard the hub by user over this many replicas: shard k "
               "reads the herald.events partitions p with p % shards == k "
               "and refuses users of other shards (0: off, every replica "
               "reads every event)"),
    HD_CFG_INT("HERALD_HUB_SHARD", HC, shard, -1, -1, HD_HUB_MAX_SHARDS - 1,
               "this replica's shard, from 0 (-1: the number ending the "
               "host name, as in a StatefulSet's herald-hub-2)"),
    HD_CFG_BOOL("HERALD_HUB_EPOLL", HC, epoll, true,
                "run each thread on epoll (libev); false: libwebsockets' "
                "poll() loop, whose cost grows with every idle connection"),
    HD_CFG_END,
};

static const char *const kind_names[HUB_KIND__COUNT] = {"main", "anonymous"};

const char *
hub_kind_name(enum hub_kind k)
{
    return (unsigned)k < HUB_KIND__COUNT ? kind_names[k] : "unknown";
}
