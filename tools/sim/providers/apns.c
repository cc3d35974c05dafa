/* apns.c -- APNs request validation and responses.
 *
 * Checks run in the order of specs/providers.md 7.2 (pushy's validating
 * handler plus Apple's table): header syntax, method, duplicates, topic,
 * collapse id, priority, push type, expiration, path, token format, then
 * the token's outcome (rule or prefix), topic membership, the provider
 * token, and finally the payload. The first failing check answers, with
 * the exact status and {"reason":...} body Apple sends. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/limits.h"
#include "tools/sim/providers/apns.h"
#include "tools/sim/providers/apns_topic.h"
#include "tools/sim/faults/outcome.h"
#include "tools/sim/faults/ruleset.h"
#include "core/banned.h"

#define APNS_PATH "/3/device/"
#define APNS_PAYLOAD_MAX 4096
#define APNS_VOIP_PAYLOAD_MAX 5120
#define APNS_COLLAPSE_MAX 64

/* specs/providers.md 2.4 in table order: "ae" + index selects a row. */
static const struct reason {
    const char *name;
    int status;
} reasons[] = {
    {"BadCollapseId", 400},
    {"BadDeviceToken", 400},
    {"BadExpirationDate", 400},
    {"BadMessageId", 400},
    {"BadPriority", 400},
    {"BadTopic", 400},
    {"DeviceTokenNotForTopic", 400},
    {"DuplicateHeaders", 400},
    {"IdleTimeout", 400},
    {"InvalidPushType", 400},
    {"MissingDeviceToken", 400},
    {"MissingTopic", 400},
    {"PayloadEmpty", 400},
    {"TopicDisallowed", 400},
    {"BadCertificate", 403},
    {"BadCertificateEnvironment", 403},
    {"ExpiredProviderToken", 403},
    {"Forbidden", 403},
    {"InvalidProviderToken", 403},
    {"MissingProviderToken", 403},
    {"UnrelatedKeyIdInToken", 403},
    {"BadEnvironmentKeyIdInToken", 403},
    {"BadPath", 404},
    {"MethodNotAllowed", 405},
    {"ExpiredToken", 410},
    {"Unregistered", 410},
    {"PayloadTooLarge", 413},
    {"TooManyProviderTokenUpdates", 429},
    {"TooManyRequests", 429},
    {"InternalServerError", 500},
    {"ServiceUnavailable", 503},
    {"Shutdown", 503},
};

#define NREASONS (sizeof(reasons) / sizeof(reasons[0]))

static const char *
error_at(int i)
{
    return i >= 0 && (size_t)i < NREASONS ? reasons[i].name : NULL;
}

static int
reason_status(const char *name)
{
    size_t i;

    for (i = 0; i < NREASONS; i++)
        if (strcmp(reasons[i].name, name) == 0)
            return reasons[i].status;
    return 400;
}

static int
is_uuid(const char *s)
{
    static const int dash[] = {8, 13, 18, 23};
    size_t i;
    size_t d = 0;

    if (strlen(s) != 36)
        return 0;
    for (i = 0; i < 36; i++) {
        if (d < 4 && (int)i == dash[d]) {
            if (s[i] != '-')
                return 0;
            d++;
        } else if (!isxdigit((unsigned char)s[i])) {
            return 0;
        }
    }
    return 1;
}

static int
is_integer(const char *s)
{
    if (*s == '-')
        s++;
    if (*s == '\0')
        return 0;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return 0;
    return 1;
}

static int
token_ok(const struct sim_ctx *ctx, const char *tok, size_t len)
{
    size_t i;
    int want = ctx->cfg.apns_token_hex_len;

    if (want > 0 ? len != (size_t)want
                 : (len < 8 || len > HD_TOKEN_MAX_APNS || len % 2 != 0))
        return 0;
    for (i = 0; i < len; i++)
        if (!isxdigit((unsigned char)tok[i]))
            return 0;
    return 1;
}

static int
topic_registered(const struct sim_ctx *ctx, const char *topic)
{
    const char *list = ctx->cfg.apns_topics;
    char base[256];
    size_t bl;

    if (list == NULL || *list == '\0')
        return 1;
    sim_apns_base_topic(topic, base, sizeof(base));
    bl = strlen(base);
    while (*list) {
        size_t len = strcspn(list, ",");

        if (len == bl && strncmp(list, base, len) == 0)
            return 1;
        list += len;
        if (*list == ',')
            list++;
    }
    return 0;
}

static enum sim_apns_env
environment(const struct sim_peer *peer, const struct sim_req *req)
{
    char host[256];

    sim_req_host(req, host, sizeof(host));
    if (strcmp(host, "api.push.apple.com") != 0 &&
        strcmp(host, "api.sandbox.push.apple.com") != 0 &&
        strcmp(host, "api.development.push.apple.com") != 0)
        memcpy(host, peer->sni,
               sizeof(peer->sni) < sizeof(host) ? sizeof(peer->sni)
                                                : sizeof(host));
    if (strcmp(host, "api.sandbox.push.apple.com") == 0 ||
        strcmp(host, "api.development.push.apple.com") == 0)
        return SIM_ENV_SANDBOX;
    return SIM_ENV_PRODUCTION;
}

static void
uuid_from(uint64_t id, unsigned tag, int upper, char out[37])
{
    snprintf(out, 37,
             upper ? "%08X-0000-4000-8000-%012llX"
                   : "%08x-0000-4000-8000-%012llx",
             tag, (unsigned long long)id);
}

/* Common response headers: apns-id echoed or generated. */
static void
add_ids(struct sim_ctx *ctx, const struct sim_req *req, struct sim_resp *resp,
        enum sim_apns_env env, int success)
{
    const char *id = sim_req_header(req, "apns-id");
    char gen[37];

    if (id == NULL || !is_uuid(id)) {
        uuid_from(sim_next_id(ctx), 0, ctx->cfg.apns_id_upper, gen);
        id = gen;
    }
    sim_resp_header(resp, "apns-id", id);
    if (success && env == SIM_ENV_SANDBOX && ctx->cfg.apns_unique_id) {
        uuid_from(sim_next_id(ctx), 0xa0000000u, 0, gen);
        sim_resp_header(resp, "apns-unique-id", gen);
    }
}

static void
reject(struct sim_ctx *ctx, struct sim_peer *peer, const struct sim_req *req,
       struct sim_resp *resp, const char *reason, int retry_after,
       enum sim_apns_env env)
{
    char body[160];
    int n;

    resp->status = reason_status(reason);
    add_ids(ctx, req, resp, env, 0);
    sim_resp_header(resp, "content-type", "application/json");
    if (resp->status == 410)
        n = snprintf(body, sizeof(body),
                     "{\"reason\":\"%s\",\"timestamp\":%lld}", reason,
                     (long long)sim_now_ms(ctx));
    else
        n = snprintf(body, sizeof(body), "{\"reason\":\"%s\"}", reason);
    if (retry_after >= 0) {
        char v[16];

        snprintf(v, sizeof(v), "%d", retry_after);
        sim_resp_header(resp, "retry-after", v);
    }
    hd_buf_reset(&resp->body);
    hd_buf_append(&resp->body, body, (size_t)n, NULL);
    sim_resp_outcome(resp, reason);
    if (ctx->cfg.apns_throttle_after_reject)
        peer->want_streams = 1;
}

static void
accept_push(struct sim_ctx *ctx, struct sim_peer *peer,
            const struct sim_req *req, struct sim_resp *resp,
            enum sim_apns_env env)
{
    resp->status = 200;
    add_ids(ctx, req, resp, env, 1);
    sim_resp_outcome(resp, "success");
    resp->accepted = 1;
    resp->delivered = 1;
    if (peer->authed)
        peer->want_streams = (unsigned)ctx->cfg.apns_max_streams;
}

/* Steps 1-9 of the validation order: header and path syntax. Returns the
 * reason or NULL. */
/* cert_topic: the topic of the connection's client certificate ("" for
 * token authentication), which makes apns-topic optional. */
static const char *
check_headers(const struct sim_ctx *ctx, const struct sim_req *req,
              const char *cert_topic)
{
    static const char *const once[] = {
        "apns-id",         "apns-topic",       "apns-priority",
        "apns-expiration", "apns-collapse-id", "apns-push-type",
        "authorization",
    };
    const char *id = sim_req_header(req, "apns-id");
    const char *method = sim_req_header(req, ":method");
    const char *topic = sim_req_header(req, "apns-topic");
    const char *collapse = sim_req_header(req, "apns-collapse-id");
    const char *prio = sim_req_header(req, "apns-priority");
    const char *type = sim_req_header(req, "apns-push-type");
    const char *exp = sim_req_header(req, "apns-expiration");
    const char *path = sim_req_header(req, ":path");
    const struct sim_apns_push_type *pt = NULL;
    size_t i;

    if (id != NULL && !is_uuid(id))
        return "BadMessageId";
    if (method == NULL || strcmp(method, "POST") != 0)
        return "MethodNotAllowed";
    for (i = 0; i < sizeof(once) / sizeof(once[0]); i++)
        if (sim_req_header_count(req, once[i]) > 1)
            return "DuplicateHeaders";
    if ((topic == NULL || *topic == '\0') && *cert_topic == '\0')
        return "MissingTopic";
    if (topic == NULL || *topic == '\0')
        topic = cert_topic;
    if (collapse != NULL && strlen(collapse) > APNS_COLLAPSE_MAX)
        return "BadCollapseId";
    if (prio != NULL && strcmp(prio, "10") != 0 && strcmp(prio, "5") != 0 &&
        strcmp(prio, "1") != 0)
        return "BadPriority";
    if (type != NULL) {
        pt = sim_apns_push_type(type);
        if (pt == NULL)
            return "InvalidPushType";
        if (ctx->cfg.apns_background_10 && strcmp(type, "background") == 0 &&
            (prio == NULL || strcmp(prio, "10") == 0))
            return "BadPriority";
        if (ctx->cfg.apns_topic_suffix && pt->suffix[0] != '\0') {
            size_t tl = strlen(topic);
            size_t sl = strlen(pt->suffix);

            if (tl <= sl || strcmp(topic + tl - sl, pt->suffix) != 0)
                return "BadTopic";
        }
    }
    if (exp != NULL && !is_integer(exp))
        return "BadExpirationDate";
    if (path == NULL || strncmp(path, APNS_PATH, strlen(APNS_PATH)) != 0)
        return "BadPath";
    if (path[strlen(APNS_PATH)] == '\0')
        return "MissingDeviceToken";
    return NULL;
}

static void
apns_handle(struct sim_ctx *ctx, struct sim_peer *peer,
            const struct sim_req *req, struct sim_resp *resp)
{
    enum sim_apns_env env = environment(peer, req);
    const char *reason = check_headers(ctx, req, peer->cert_topic);
    const char *path = sim_req_header(req, ":path");
    const char *topic = sim_req_header(req, "apns-topic");
    const char *type = sim_req_header(req, "apns-push-type");
    struct sim_outcome o;
    const char *tok;
    size_t toklen;
    size_t max;

    sim_outcome_init(&o);
    if (reason != NULL) {
        reject(ctx, peer, req, resp, reason, -1, env);
        goto out;
    }
    if (topic == NULL || *topic == '\0')
        topic = peer->cert_topic; /* the certificate's single topic */
    tok = path + strlen(APNS_PATH);
    toklen = strcspn(tok, "?");
    sim_resp_add_token(resp, tok, toklen);
    if (!token_ok(ctx, tok, toklen)) {
        reject(ctx, peer, req, resp, "BadDeviceToken", -1, env);
        goto out;
    }
    /* step 11: the token's fate, from a rule or its prefix */
    if (!sim_rules_match(ctx->rules, &sim_apns_send, resp->tokens.data, req,
                         &o))
        sim_outcome_from_token(&sim_apns_send, tok, toklen, &o);
    if (sim_outcome_apply(&o, resp))
        goto out;
    if (o.kind == SIM_OUT_ERROR) {
        reject(ctx, peer, req, resp, o.error, o.retry_after_s, env);
        goto out;
    }
    if (!topic_registered(ctx, topic)) {
        reject(ctx, peer, req, resp, "DeviceTokenNotForTopic", -1, env);
        goto out;
    }
    reason = sim_apns_auth(ctx, peer, req, topic, env, resp->identity,
                           sizeof(resp->identity));
    if (reason != NULL) {
        reject(ctx, peer, req, resp, reason, -1, env);
        goto out;
    }
    max = type && strcmp(type, "voip") == 0 ? APNS_VOIP_PAYLOAD_MAX
                                            : APNS_PAYLOAD_MAX;
    if (req->body.len == 0 && !req->body_overflow) {
        reject(ctx, peer, req, resp, "PayloadEmpty", -1, env);
        goto out;
    }
    if (req->body_overflow || req->body.len > max) {
        reject(ctx, peer, req, resp, "PayloadTooLarge", -1, env);
        goto out;
    }
    accept_push(ctx, peer, req, resp, env);
out:
    sim_outcome_release(&o);
}

const struct sim_endpoint sim_apns_send = {
    "apns.send", SIM_APNS, SIM_EP_SEND, 1, apns_handle, error_at,
};
