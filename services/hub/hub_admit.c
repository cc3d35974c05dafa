/* hub_admit.c -- the authenticated upgrade. Everything that can refuse a
 * client happens here, before the upgrade, so the refusal is an HTTP
 * status (401, 429, 503); after it, only close codes remain. The slots a
 * verdict holds are given back by hub_pending_free() unless the
 * connection took them over. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/limits.h"
#include "core/log.h"
#include "services/hub/hub_admit.h"
#include "core/banned.h"

void
hub_pending_free(struct hub_ctx *hub, struct hub_pending *p)
{
    size_t i;

    if (p == NULL)
        return;
    free(p->key);
    for (i = 0; i < p->norgs; i++)
        free(p->orgs[i]);
    free(p->orgs);
    hub_limits_put(&hub->limits, p->slot);
    hub_limits_put(&hub->limits, p->addr);
    if (p->conn_slot)
        hub_limits_conn_release(&hub->limits);
    hd_buf_release(&p->hs);
    free(p->reply);
    free(p);
}

void
hub_admit_drop(struct hub_thread *th, struct hub_pending *p)
{
    hub_pending_free(th->hub, p);
}

/* Copies the value of query argument name (case-insensitive) into buf.
 * Returns its length, or -1 when absent or too long. */
static int
query_arg(struct lws *wsi, const char *name, char *buf, int buflen)
{
    size_t nl = strlen(name);
    int idx, n;

    for (idx = 0;; idx++) {
        n = lws_hdr_copy_fragment(wsi, buf, buflen, WSI_TOKEN_HTTP_URI_ARGS,
                                  idx);
        if (n < 0)
            return -1;
        if ((size_t)n > nl && buf[nl] == '=' &&
            strncasecmp(buf, name, nl) == 0) {
            memmove(buf, buf + nl + 1, (size_t)n - nl);
            return n - (int)nl - 1;
        }
    }
}

static int
refuse(struct hub_thread *th, struct lws *wsi, unsigned status,
       enum hub_reject why)
{
    hd_counter_inc(th->hub->m.rejected[why]);
    if (lws_return_http_status(wsi, status, NULL))
        return -1;
    return 1;
}

static int
hub_path(const char *path, enum hub_kind *kind)
{
    if (strncmp(path, "/notifications", 14) == 0)
        path += 14;
    if (strcmp(path, "/hub") == 0 || strcmp(path, "/hub/") == 0) {
        *kind = HUB_KIND_MAIN;
        return 0;
    }
    if (strcmp(path, "/anonymous-hub") == 0 ||
        strcmp(path, "/anonymous-hub/") == 0) {
        *kind = HUB_KIND_ANON;
        return 0;
    }
    return -1;
}

/* Sharded: a user of another shard is admitted only to be told so at
 * the handshake (hub_conn.c); before the partition count is known, no
 * user can be placed: 503. */
static int
hub_admit_shard(struct hub_thread *th, struct lws *wsi, struct hub_pending *p,
                const char *user)
{
    const struct hub_shard *s = &th->hub->shard;
    int owner;

    if (s->count == 0)
        return 0;
    owner = hub_shard_of_user(s, user);
    if (owner < 0)
        return refuse(th, wsi, HTTP_STATUS_SERVICE_UNAVAILABLE,
                      HUB_REJ_NOT_READY);
    if (owner != s->index)
        p->wrong_shard = owner + 1;
    return 0;
}

static int
auth_main(struct hub_thread *th, struct lws *wsi, struct hub_pending *p,
          char *buf, int buflen)
{
    struct hub_ctx *hub = th->hub;
    struct hd_user user = {0};
    struct hd_err err = {0};
    const char *tok = NULL;
    char *key;
    int n, rc;
    size_t i;

    n = lws_hdr_copy(wsi, buf, buflen, WSI_TOKEN_HTTP_AUTHORIZATION);
    if (n > 7 && strncasecmp(buf, "Bearer ", 7) == 0) {
        tok = buf + 7;
        while (*tok == ' ')
            tok++;
        n = (int)strlen(tok);
    } else {
        n = query_arg(wsi, "access_token", buf, buflen);
        if (n > 0)
            tok = buf;
    }
    if (tok == NULL || hub->tokens == NULL) {
        hd_log(HD_LOG_INFO, 0, "hub connection refused: no token");
        return refuse(th, wsi, HTTP_STATUS_UNAUTHORIZED, HUB_REJ_UNAUTHORIZED);
    }
    if (hd_usertoken_verify(hub->tokens, tok, (size_t)n, &user, &err) < 0) {
        hd_log(HD_LOG_INFO, 0, "hub connection refused: %s", err.msg);
        return refuse(th, wsi, HTTP_STATUS_UNAUTHORIZED, HUB_REJ_UNAUTHORIZED);
    }
    key = hd_xasprintf("u:%s", user.sub);
    rc = hub_admit_shard(th, wsi, p, user.sub);
    if (rc != 0 || p->wrong_shard) {
        free(key);
        hd_user_release(&user);
        return rc;
    }
    p->slot = hub_limits_acquire(&hub->limits, key, strlen(key),
                                 hub->cfg.max_per_user);
    if (p->slot == NULL) {
        free(key);
        hd_user_release(&user);
        return refuse(th, wsi, 429, HUB_REJ_MAX_PER_USER);
    }
    p->key = key;
    p->client_type = user.client_type;
    if (user.norgs > 0) {
        p->orgs = hd_xcalloc(user.norgs, sizeof(*p->orgs));
        for (i = 0; i < user.norgs; i++)
            p->orgs[i] = hd_xasprintf("o:%s", user.orgs[i]);
        p->norgs = user.norgs;
    }
    rc = 0;
    hd_user_release(&user);
    return rc;
}

/* The client's address into out: the TCP peer, or, when the peer is a
 * trusted proxy (HERALD_TRUSTED_PROXIES), the client its forwarding
 * header names (buf, buflen: scratch for the header). Returns 1 when the
 * peer is a trusted proxy. (lws keeps the first line of an unknown
 * header such as Forwarded; X-Forwarded-For's lines come joined.) */
static int
client_addr(struct hub_thread *th, struct lws *wsi, char *buf, int buflen,
            char out[HD_PEER_ADDR_MAX])
{
    const struct hd_peer_trust *t = &th->hub->trust;
    const char *xff = NULL, *fwd = NULL;
    char peer[64];

    lws_get_peer_simple(wsi, peer, sizeof(peer));
    if (!hd_peer_trusted(t, peer)) {
        hd_peer_client(t, peer, NULL, NULL, out);
        return 0;
    }
    if (t->header == HD_PEER_FORWARDED) {
        if (lws_hdr_custom_copy(wsi, buf, buflen, "forwarded:", 10) > 0)
            fwd = buf;
    } else if (lws_hdr_copy(wsi, buf, buflen, WSI_TOKEN_X_FORWARDED_FOR) > 0) {
        xff = buf;
    }
    hd_peer_client(t, peer, xff, fwd, out);
    return 1;
}

/* Behind a trusted proxy the listener took no per-address slot: the
 * client's address takes one now (429 at HERALD_HUB_MAX_PER_ADDRESS). */
static int
take_addr_slot(struct hub_thread *th, struct lws *wsi, struct hub_pending *p,
               const char *addr)
{
    struct hub_ctx *hub = th->hub;
    char key[8 + HD_PEER_ADDR_MAX];
    int n;

    n = snprintf(key, sizeof(key), "c:%s", addr);
    p->addr = hub_limits_acquire(&hub->limits, key, (size_t)n,
                                 hub->cfg.max_per_address);
    if (p->addr)
        return 0;
    hd_log(HD_LOG_INFO, 0,
           "hub connection refused: %d already open from %s (forwarded)",
           hub->cfg.max_per_address, addr);
    hd_counter_inc(hub->m.conn_rejected[HUB_LREJ_PER_ADDRESS]);
    if (lws_return_http_status(wsi, 429, NULL))
        return -1;
    return 1;
}

static int
auth_anon(struct hub_thread *th, struct lws *wsi, struct hub_pending *p,
          const char *addr, char *buf, int buflen)
{
    struct hub_ctx *hub = th->hub;
    char key[8 + HD_PEER_ADDR_MAX];
    int n;

    n = query_arg(wsi, "Token", buf, buflen);
    if (n <= 0 || n > HD_ID_MAX)
        return refuse(th, wsi, HTTP_STATUS_BAD_REQUEST, HUB_REJ_BAD_REQUEST);
    snprintf(key, sizeof(key), "ip:%s", addr);
    p->slot = hub_limits_acquire(&hub->limits, key, strlen(key),
                                 hub->cfg.anon_per_ip);
    if (p->slot == NULL) {
        hd_log(HD_LOG_INFO, 0,
               "anonymous hub connection refused: %d already open from %s",
               hub->cfg.anon_per_ip, addr);
        return refuse(th, wsi, 429, HUB_REJ_ANON_PER_IP);
    }
    p->key = hd_xasprintf("a:%.*s", n, buf);
    return 0;
}

int
hub_admit_upgrade(struct hub_thread *th, struct lws *wsi,
                  struct hub_pending **verdict)
{
    struct hub_ctx *hub = th->hub;
    struct hub_pending *p;
    enum hub_kind kind;
    char path[256], addr[HD_PEER_ADDR_MAX];
    char *buf;
    int rc;

    if (lws_hdr_copy(wsi, path, sizeof(path), WSI_TOKEN_GET_URI) <= 0 ||
        hub_path(path, &kind) < 0)
        return refuse(th, wsi, HTTP_STATUS_NOT_FOUND, HUB_REJ_BAD_REQUEST);
    if (th->draining)
        return refuse(th, wsi, HTTP_STATUS_SERVICE_UNAVAILABLE,
                      HUB_REJ_MAX_CONNECTIONS);
    if (hub_limits_conn_acquire(&hub->limits) < 0) {
        hd_log(HD_LOG_WARN, 0, "hub connection refused: %d connections open",
               hub->cfg.max_connections);
        return refuse(th, wsi, HTTP_STATUS_SERVICE_UNAVAILABLE,
                      HUB_REJ_MAX_CONNECTIONS);
    }
    p = hd_xcalloc(1, sizeof(*p));
    p->conn_slot = 1;
    p->kind = kind;
    hd_buf_init(&p->hs, HD_HUB_HANDSHAKE_MAX);
    buf = hd_xmalloc(HD_HUB_HEAD_MAX); /* any one header fits */
    rc = 0;
    if (client_addr(th, wsi, buf, HD_HUB_HEAD_MAX, addr))
        rc = take_addr_slot(th, wsi, p, addr);
    if (rc == 0 && kind == HUB_KIND_MAIN)
        rc = auth_main(th, wsi, p, buf, HD_HUB_HEAD_MAX);
    else if (rc == 0)
        rc = auth_anon(th, wsi, p, addr, buf, HD_HUB_HEAD_MAX);
    free(buf);
    if (rc != 0) {
        hub_pending_free(hub, p);
        return rc;
    }
    *verdict = p;
    return 0;
}
