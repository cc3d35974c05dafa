/* route.c -- host/path routing and the common request path.
 *
 * The real hostnames decide first, so a worker that keeps production URLs
 * and only redirects the connection (CURLOPT_CONNECT_TO) reaches the right
 * provider; any other host (localhost, 127.0.0.1) is routed by path. The
 * tables are const; recording and counting go through the store. */
#include <string.h>

#include "tools/sim/providers/providers.h"
#include "tools/sim/route.h"
#include "tools/sim/store.h"
#include "core/banned.h"

/* Hostname -> endpoint; path "" accepts any path on that host. */
static const struct host_route {
    const char *host;
    const char *path; /* exact path required, "" any */
    const struct sim_endpoint *ep;
} hosts[] = {
    {"api.push.apple.com", "", &sim_apns_send},
    {"api.sandbox.push.apple.com", "", &sim_apns_send},
    {"api.development.push.apple.com", "", &sim_apns_send},
    {"fcm.googleapis.com", "", &sim_fcm_send},
    {"oauth2.googleapis.com", "/token", &sim_google_token},
    {"www.googleapis.com", "/oauth2/v4/token", &sim_google_token},
    {"oauth-login.cloud.huawei.com", "/oauth2/v3/token", &sim_hms_token},
    {"push-api.cloud.huawei.com", "", &sim_hms_send},
};

/* Path prefix -> endpoint for other hosts; exact when the flag is set. */
static const struct path_route {
    const char *path;
    int exact;
    const struct sim_endpoint *ep;
} paths[] = {
    {"/3/device", 0, &sim_apns_send},
    {"/v1/projects/", 0, &sim_fcm_send},
    {"/token", 1, &sim_google_token},
    {"/oauth2/v4/token", 1, &sim_google_token},
    {"/oauth2/v3/token", 1, &sim_hms_token},
    {"/v1/", 0, &sim_hms_send},
    {"/v2/", 0, &sim_hms_send},
};

static const struct sim_endpoint *const by_kind[SIM_NPROV][2] = {
    {&sim_apns_send, NULL},
    {&sim_fcm_send, &sim_google_token},
    {&sim_hms_send, &sim_hms_token},
    {&sim_webpush_send, NULL},
};

/* Web Push subscriptions' paths, on any host (Chrome's endpoints live on
 * fcm.googleapis.com next to the FCM API). */
static int
is_webpush(const char *path)
{
    return strncmp(path, "/fcm/send/", 10) == 0 ||
           strncmp(path, "/wpush/", 7) == 0;
}

static size_t
path_len(const char *path)
{
    return strcspn(path, "?");
}

const struct sim_endpoint *
sim_route(const char *host, const char *path)
{
    size_t plen = path ? path_len(path) : 0;
    size_t i;

    if (path == NULL)
        return NULL;
    if (is_webpush(path))
        return &sim_webpush_send;
    for (i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
        const struct host_route *h = &hosts[i];

        if (strcmp(host, h->host) != 0)
            continue;
        if (h->path[0] == '\0' ||
            (plen == strlen(h->path) && strncmp(path, h->path, plen) == 0))
            return h->ep;
        return NULL;
    }
    for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        const struct path_route *p = &paths[i];
        size_t l = strlen(p->path);

        if (p->exact ? (plen == l && strncmp(path, p->path, l) == 0)
                     : strncmp(path, p->path, l) == 0)
            return p->ep;
    }
    return NULL;
}

const struct sim_endpoint *
sim_route_sni(const char *sni)
{
    size_t i;

    if (sni == NULL || *sni == '\0')
        return NULL;
    for (i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++)
        if (strcmp(sni, hosts[i].host) == 0)
            return hosts[i].ep;
    return NULL;
}

const struct sim_endpoint *
sim_endpoint_of(enum sim_provider p, enum sim_ep_kind k)
{
    const struct sim_endpoint *ep = by_kind[p][k];

    return ep ? ep : by_kind[p][SIM_EP_SEND];
}

const struct sim_endpoint *
sim_dispatch(struct sim_ctx *ctx, struct sim_peer *peer,
             const struct sim_req *req, struct sim_resp *resp)
{
    const struct sim_endpoint *ep;
    char host[256];

    sim_req_host(req, host, sizeof(host));
    ep = sim_route(host, sim_req_header(req, ":path"));
    if (ep == NULL) {
        sim_resp_set(resp, 404, "text/plain", "Not Found\n", 10);
        sim_resp_outcome(resp, "not_found");
        resp->delay_ms = 0;
        return NULL;
    }
    ep->handle(ctx, peer, req, resp);
    if (resp->action == SIM_ACT_RESPOND && resp->status == 0) {
        sim_resp_set(resp, 500, "text/plain", "simulator error\n", 16);
        sim_resp_outcome(resp, "500");
    }
    if (resp->delay_ms < 0)
        resp->delay_ms = sim_default_delay_ms(ctx, ep->provider);
    sim_store_add(ctx->store, ep, peer, req, resp, sim_now_ms(ctx));
    return ep;
}
