/* hub_shard.h -- sharding the hub by user (HERALD_HUB_SHARDS).
 *
 * herald-api writes a user's events to herald.events keyed by the user
 * id, so the user's partition is hd_kafka_partition_of(user id) and
 * never changes while the topic keeps its partition count. Shard k of N
 * reads the partitions p with p % N == k (static assignment, no group),
 * plus every partition of herald.broadcast (organization, installation
 * and auth-request events, which any shard may hold connections for).
 * A user therefore belongs to shard (partition of the user) % N; a
 * connection of a user another shard owns is refused at the handshake,
 * and GET /shard tells an ingress where a token's user belongs.
 *
 * Off (HERALD_HUB_SHARDS=0), every replica reads both topics whole in
 * its own consumer group, as before. Thread-safe after hub_shard_init(). */
#ifndef HUB_SHARD_H
#define HUB_SHARD_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

struct hub_ctx;

struct hub_shard {
    int count;                  /* HERALD_HUB_SHARDS; 0 = not sharded */
    int index;                  /* this replica's shard */
    _Atomic int32_t partitions; /* of herald.events; 0 until known */
};

/* Resolves this replica's index: HERALD_HUB_SHARD, else the number after
 * the host name's last '-' (a StatefulSet's pod name, "herald-hub-2").
 * Returns 0, or -1 with err naming the variable. */
int hub_shard_init(struct hub_shard *s, int count, int index,
                   struct hd_err *err);

/* The consumer's pick (struct hd_kconsumer_opts): every partition of a
 * broadcast topic, and this shard's share of the events topic, whose
 * partition count it records. */
int hub_shard_pick(struct hub_shard *s, int events_topic, int32_t partition,
                   int32_t npartitions);

/* The shard that owns user (a user id as in its token's "sub"; GUIDs in
 * any case), or -1 while the partition count is not known yet. */
int hub_shard_of_user(const struct hub_shard *s, const char *user);

/* The token of a GET /shard request: "Authorization: Bearer", the
 * access_token of the query, or that of X-Original-URI (what nginx's
 * auth_request passes). Copies it into buf (buflen bytes) and returns
 * its length, or -1 when there is none. */
struct lws;
int hub_shard_request_token(struct lws *wsi, char *buf, int buflen);

#endif
