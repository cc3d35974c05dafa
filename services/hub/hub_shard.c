/* hub_shard.c -- which shard owns a user, which partitions a shard
 * reads, and the token of a GET /shard request. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "core/limits.h"
#include "core/config.h"
#include "kafka/kafka.h"
#include "proto/bitwarden.h"
#include "services/hub/hub_shard.h"
#include "core/banned.h"

/* The number after the last '-' of name, or -1. */
static int
host_suffix(const char *name)
{
    const char *dash = strrchr(name, '-');
    int v;

    if (dash == NULL || hd_parse_int(dash + 1, 0, 1 << 20, &v) < 0)
        return -1;
    return v;
}

int
hub_shard_init(struct hub_shard *s, int count, int index, struct hd_err *err)
{
    char host[256] = "";

    s->count = count;
    s->index = 0;
    atomic_init(&s->partitions, 0);
    if (count == 0)
        return 0;
    if (index < 0) {
        gethostname(host, sizeof(host) - 1);
        index = host_suffix(host);
        if (index < 0)
            return hd_err_set(err, HD_EINVAL,
                              "HERALD_HUB_SHARD: not set, and the host name "
                              "\"%s\" does not end in -<number>",
                              host);
    }
    if (index >= count)
        return hd_err_set(err, HD_EINVAL,
                          "HERALD_HUB_SHARD: %d, but HERALD_HUB_SHARDS is %d "
                          "(shards are numbered from 0)",
                          index, count);
    s->index = index;
    return 0;
}

int
hub_shard_pick(struct hub_shard *s, int events_topic, int32_t partition,
               int32_t npartitions)
{
    if (!events_topic)
        return 1;
    atomic_store(&s->partitions, npartitions);
    return partition % s->count == s->index;
}

int
hub_shard_of_user(const struct hub_shard *s, const char *user)
{
    int32_t n = atomic_load(&s->partitions);
    char id[HD_ID_MAX + 1];
    size_t len = strlen(user);

    if (n <= 0)
        return -1;
    if (len > HD_ID_MAX)
        len = HD_ID_MAX;
    memcpy(id, user, len);
    id[len] = '\0';
    /* as herald-api keys the user's events */
    hd_bw_guid_normalize(id);
    return (int)(hd_kafka_partition_of(id, len, n) % s->count);
}

/* Copies the access_token argument of a query string ("a=1&b=2", no
 * '?') into buf. Returns its length or -1. */
static int
query_token(const char *q, char *buf, int buflen)
{
    static const char name[] = "access_token=";
    const size_t nl = sizeof(name) - 1;

    while (q != NULL && *q) {
        const char *end = strchr(q, '&');
        size_t len = end ? (size_t)(end - q) : strlen(q);

        if (len > nl && strncasecmp(q, name, nl) == 0) {
            if (len - nl >= (size_t)buflen)
                return -1;
            memmove(buf, q + nl, len - nl);
            buf[len - nl] = '\0';
            return (int)(len - nl);
        }
        q = end ? end + 1 : NULL;
    }
    return -1;
}

int
hub_shard_request_token(struct lws *wsi, char *buf, int buflen)
{
    static const char xuri[] = "x-original-uri:";
    const char *q;
    int n, i;

    n = lws_hdr_copy(wsi, buf, buflen, WSI_TOKEN_HTTP_AUTHORIZATION);
    if (n > 7 && strncasecmp(buf, "Bearer ", 7) == 0) {
        for (i = 7; buf[i] == ' '; i++)
            ;
        memmove(buf, buf + i, (size_t)(n - i) + 1);
        return n - i;
    }
    for (i = 0;; i++) {
        n = lws_hdr_copy_fragment(wsi, buf, buflen, WSI_TOKEN_HTTP_URI_ARGS, i);
        if (n < 0)
            break;
        if (query_token(buf, buf, buflen) > 0)
            return (int)strlen(buf);
    }
    n = lws_hdr_custom_copy(wsi, buf, buflen, xuri, (int)sizeof(xuri) - 1);
    if (n <= 0)
        return -1;
    q = strchr(buf, '?');
    if (q == NULL)
        return -1;
    return query_token(q + 1, buf, buflen);
}
