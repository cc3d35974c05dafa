/* hms.c -- HMS Push Kit send: authentication, validation, per-token
 * outcomes and the 80000000 / 80100000 / 80300007 aggregation.
 *
 * Each device token gets its own outcome (rule or prefix): "illegal_token"
 * marks it invalid, any other outcome answers for the whole request (the
 * first one found wins), delays add up to the longest. The QPS limit
 * counts device tokens, not requests, as Huawei's does. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "tools/sim/providers/hms.h"
#include "tools/sim/faults/outcome.h"
#include "tools/sim/providers/rate.h"
#include "tools/sim/providers/syntax.h"
#include "tools/sim/faults/ruleset.h"
#include "tools/sim/providers/tokens.h"
#include "core/banned.h"

#define HMS_PAYLOAD_MAX 4096
#define HMS_TOKENS_MAX 1000
#define HMS_TTL_MAX_S 1296000
#define HMS_SUFFIX "/messages:send"

static const struct herr {
    const char *name;
    int http; /* documented status (observed mode sends 200) */
    const char *msg;
} herrs[] = {
    {"illegal_token", 200, NULL},
    {"80100001", 400, "Some request parameters are incorrect"},
    {"80100002", 400,
     "The number of tokens must be 1 for synchronization messages"},
    {"80100003", 400, "Illegal payload"},
    {"80100004", 400,
     "The message expiry time is earlier than the current time"},
    {"80100013", 400, "The collapse_key is invalid"},
    {"80100016", 400, "The message contains sensitive information"},
    {"80100017", 400,
     "A maximum of 100 topic-based messages can be sent at the same time"},
    {"80100018", 400, "Signature verification failed for the review result"},
    {"80200001", 401, "Oauth authentication error"},
    {"80200003", 401, "Access token expired"},
    {"80200005", 401, "JWT expired"},
    {"80300002", 400,
     "The current app does not have the permission to send messages"},
    {"80300007", 400, "All the tokens are invalid"},
    {"80300008", 400, "The message body size exceeds the default value"},
    {"80300010", 400,
     "The number of tokens in the message body exceeds the default value"},
    {"80300011", 400,
     "You do not have the permission to send "
     "high-priority notification messages"},
    {"80300013", 400, "Invalid receipt URL"},
    {"80600003", 400, "Failed to request the OAuth service"},
    {"81000001", 500, "System internal error"},
    {"503", 503, NULL},
    {"500", 500, NULL},
    {"502", 502, NULL},
    {"504", 504, NULL},
};

#define NHERRS (sizeof(herrs) / sizeof(herrs[0]))

static const char *
error_at(int i)
{
    return i >= 0 && (size_t)i < NHERRS ? herrs[i].name : NULL;
}

static const struct herr *
herr(const char *name)
{
    size_t i;

    for (i = 0; i < NHERRS; i++)
        if (strcmp(herrs[i].name, name) == 0)
            return &herrs[i];
    return &herrs[19]; /* 81000001 */
}

static void
reply(struct sim_ctx *ctx, struct sim_resp *resp, int http, const char *code,
      const char *msg)
{
    json_t *j;
    char rid[40];
    char *text;

    snprintf(rid, sizeof(rid), "%lld%06llu", (long long)sim_now_ms(ctx),
             (unsigned long long)(sim_next_id(ctx) % 1000000));
    j = json_pack("{s:s, s:s, s:s}", "code", code, "msg", msg, "requestId",
                  rid);
    text = json_dumps(j, JSON_COMPACT);
    sim_resp_set(resp, http, "application/json;charset=UTF-8", text,
                 text ? strlen(text) : 0);
    free(text);
    json_decref(j);
    sim_resp_outcome(resp, strcmp(code, "80000000") == 0 ? "success" : code);
}

/* A business error by table name; detail (may be NULL) extends msg. */
static void
fail(struct sim_ctx *ctx, struct sim_resp *resp, const char *name,
     const char *detail, int retry_after)
{
    const struct herr *h = herr(name);
    char msg[320];

    if (h->msg == NULL) { /* plain HTTP status from a proxy or flow control */
        sim_resp_set(resp, h->http, "text/html",
                     "<html><body>Service Unavailable</body></html>", 45);
        sim_resp_outcome(resp, h->name);
    } else {
        int doc = strcmp(ctx->cfg.hms_status_mode, "documented") == 0;

        snprintf(msg, sizeof(msg), "%s%s%s", h->msg, detail ? ", " : "",
                 detail ? detail : "");
        reply(ctx, resp, doc ? h->http : 200, h->name, msg);
    }
    if (retry_after >= 0) {
        char v[16];

        snprintf(v, sizeof(v), "%d", retry_after);
        sim_resp_header(resp, "retry-after", v);
    }
}

/* Reads the app id from /v1/{id}/messages:send or /v2/{id}/...; sets
 * *v2. Returns 0 or -1. */
static int
app_of(const char *path, char *out, size_t outlen, int *v2)
{
    if (sim_syntax_path_id(path, "/v1/", HMS_SUFFIX, out, outlen) == 0) {
        *v2 = 0;
        return 0;
    }
    if (sim_syntax_path_id(path, "/v2/", HMS_SUFFIX, out, outlen) == 0) {
        *v2 = 1;
        return 0;
    }
    return -1;
}

static int
check_auth(struct sim_ctx *ctx, const struct sim_req *req,
           struct sim_resp *resp, const char *app, int v2)
{
    const char *h = sim_syntax_bearer(req);
    struct sim_token_info info;

    if (h == NULL) {
        fail(ctx, resp, "80200001", NULL, -1);
        return -1;
    }
    if (!sim_tokens_get(ctx->tokens, h, &info) || info.provider != SIM_HMS) {
        fail(ctx, resp, "80200001", NULL, -1);
        return -1;
    }
    sim_copy(resp->identity, sizeof(resp->identity), info.subject);
    if (sim_now_ms(ctx) >= info.expires_ms) {
        fail(ctx, resp, "80200003", NULL, -1);
        return -1;
    }
    if (!v2 && strcmp(info.scope, app) != 0) {
        fail(ctx, resp, "80200001", NULL, -1);
        return -1;
    }
    return 0;
}

/* \d+|\d+[sS]|\d+.\d{1,9}|\d+.\d{1,9}[sS], at most HMS_TTL_MAX_S. */
static int
ttl_ok(const char *s)
{
    if (!sim_syntax_duration(s, HMS_TTL_MAX_S, &s))
        return 0;
    if (*s == 's' || *s == 'S')
        s++;
    return *s == '\0';
}

/* Android-specific checks. NULL or the failing code, detail in *why. */
static const char *
check_android(json_t *a, const char **why)
{
    json_t *n;
    json_t *ck = json_object_get(a, "collapse_key");
    json_t *ttl = json_object_get(a, "ttl");
    json_t *click;
    json_t *t;
    json_t *badge;

    if (ck != NULL && (!json_is_integer(ck) || json_integer_value(ck) < -1 ||
                       json_integer_value(ck) > 100))
        return "80100013";
    *why = "ttl is invalid";
    if (ttl != NULL &&
        (!json_is_string(ttl) || !ttl_ok(json_string_value(ttl))))
        return "80100003";
    *why = "data must be a string";
    if (json_object_get(a, "data") &&
        !json_is_string(json_object_get(a, "data")))
        return "80100003";
    n = json_object_get(a, "notification");
    if (n == NULL)
        return NULL;
    click = json_object_get(n, "click_action");
    *why = "click_action is mandatory";
    if (!json_is_object(click))
        return "80100003";
    t = json_object_get(click, "type");
    *why = "click_action.type must be 1, 2 or 3";
    if (!json_is_integer(t) || json_integer_value(t) < 1 ||
        json_integer_value(t) > 3)
        return "80100003";
    *why = "click_action.url must be an https url";
    if (json_integer_value(t) == 2 &&
        (!json_is_string(json_object_get(click, "url")) ||
         strncmp(json_string_value(json_object_get(click, "url")), "https://",
                 8) != 0))
        return "80100003";
    *why = "style 1 needs big_title and big_body";
    if (json_integer_value(json_object_get(n, "style")) == 1 &&
        (!json_is_string(json_object_get(n, "big_title")) ||
         !json_is_string(json_object_get(n, "big_body"))))
        return "80100003";
    badge = json_object_get(n, "badge");
    *why = "badge.add_num must be 1..99";
    if (json_is_object(badge) && json_object_get(badge, "add_num") &&
        (json_integer_value(json_object_get(badge, "add_num")) < 1 ||
         json_integer_value(json_object_get(badge, "add_num")) > 99))
        return "80100003";
    return NULL;
}

/* Validates the message; returns NULL or the code to fail with. */
static const char *
check_message(json_t *msg, json_t **tokens, const char **why)
{
    json_t *tok = json_object_get(msg, "token");
    json_t *a = json_object_get(msg, "android");
    int targets = (tok != NULL) + (json_object_get(msg, "topic") != NULL) +
                  (json_object_get(msg, "condition") != NULL);
    json_t *copy;
    json_t *v;
    size_t i;
    size_t size;
    char *text;

    *why = "exactly one of token, topic and condition must be set";
    if (targets != 1)
        return tok == NULL && targets == 0 ? "80300010" : "80100003";
    if (tok != NULL) {
        *why = "token must be an array of strings";
        if (!json_is_array(tok))
            return "80100003";
        if (json_array_size(tok) == 0 || json_array_size(tok) > HMS_TOKENS_MAX)
            return "80300010";
        json_array_foreach(tok, i, v)
        {
            if (!json_is_string(v))
                return "80100003";
        }
        *tokens = tok;
    }
    *why = "data must be a string";
    if (json_object_get(msg, "data") &&
        !json_is_string(json_object_get(msg, "data")))
        return "80100003";
    if (a != NULL) {
        const char *code;

        *why = "android must be an object";
        if (!json_is_object(a))
            return "80100003";
        code = check_android(a, why);
        if (code != NULL)
            return code;
    }
    copy = json_copy(msg);
    json_object_del(copy, "token");
    text = json_dumps(copy, JSON_COMPACT);
    size = text ? strlen(text) : 0;
    free(text);
    json_decref(copy);
    *why = NULL;
    return size > HMS_PAYLOAD_MAX ? "80300008" : NULL;
}

/* Per-token outcomes. Returns 1 when one of them answered for the whole
 * request (resp complete), else 0 with illegal tokens listed in *ill. */
static int
token_outcomes(struct sim_ctx *ctx, const struct sim_req *req,
               struct sim_resp *resp, json_t *tokens, json_t *ill)
{
    struct sim_outcome o;
    json_t *v;
    size_t i;
    int delay = -1;
    int done = 0;

    sim_outcome_init(&o);
    json_array_foreach(tokens, i, v)
    {
        const char *t = json_string_value(v);

        sim_resp_add_token(resp, t, json_string_length(v));
        if (done)
            continue;
        sim_outcome_reset(&o);
        if (!sim_rules_match(ctx->rules, &sim_hms_send, t, req, &o))
            sim_outcome_from_token(&sim_hms_send, t, json_string_length(v), &o);
        if (o.delay_ms > delay)
            delay = o.delay_ms;
        if (o.kind == SIM_OUT_ERROR && strcmp(o.error, "illegal_token") == 0) {
            json_array_append(ill, v);
            continue;
        }
        if (o.kind == SIM_OUT_NONE || o.kind == SIM_OUT_SUCCESS)
            continue;
        if (!sim_outcome_apply(&o, resp))
            fail(ctx, resp, o.error, NULL, o.retry_after_s);
        done = 1;
    }
    if (delay >= 0)
        resp->delay_ms = delay;
    sim_outcome_release(&o);
    return done;
}

/* A topic or condition send: rules without a device token. Returns 1
 * when a rule answered. */
static int
topic_outcome(struct sim_ctx *ctx, const struct sim_req *req,
              struct sim_resp *resp)
{
    struct sim_outcome o;
    int done = 0;

    sim_outcome_init(&o);
    if (sim_rules_match(ctx->rules, &sim_hms_send, NULL, req, &o)) {
        done = sim_outcome_apply(&o, resp);
        if (!done && o.kind == SIM_OUT_ERROR &&
            strcmp(o.error, "illegal_token") != 0) {
            fail(ctx, resp, o.error, NULL, o.retry_after_s);
            done = 1;
        }
    }
    sim_outcome_release(&o);
    return done;
}

static void
aggregate(struct sim_ctx *ctx, struct sim_resp *resp, size_t n, json_t *ill,
          int validate_only)
{
    size_t bad = json_array_size(ill);
    json_t *m;
    char *text;

    if (n > 0 && bad == n) {
        fail(ctx, resp, "80300007", NULL, -1);
        return;
    }
    resp->accepted = !validate_only;
    resp->delivered = validate_only ? 0 : n > 0 ? (int)(n - bad) : 1;
    if (bad == 0) {
        reply(ctx, resp, 200, "80000000", "Success");
        if (validate_only)
            sim_resp_outcome(resp, "validate_only");
        return;
    }
    m = json_pack("{s:i, s:i, s:O}", "success", (int)(n - bad), "failure",
                  (int)bad, "illegal_tokens", ill);
    text = json_dumps(m, JSON_COMPACT);
    reply(ctx, resp, 200, "80100000", text ? text : "");
    free(text);
    json_decref(m);
}

static void
hms_handle(struct sim_ctx *ctx, struct sim_peer *peer,
           const struct sim_req *req, struct sim_resp *resp)
{
    const char *method = sim_req_header(req, ":method");
    const char *path = sim_req_header(req, ":path");
    json_t *doc = NULL;
    json_t *ill = json_array();
    json_t *tokens = NULL;
    json_t *msg;
    const char *code;
    const char *why = NULL;
    char app[128];
    int v2 = 0;
    int retry = 0;
    int validate_only;

    (void)peer;
    if (method == NULL || strcmp(method, "POST") != 0 || path == NULL ||
        app_of(path, app, sizeof(app), &v2) < 0) {
        sim_resp_set(resp, 404, "text/html",
                     "<html><body>Not Found</body></html>", 35);
        sim_resp_outcome(resp, "404");
        goto out;
    }
    if (check_auth(ctx, req, resp, app, v2) < 0)
        goto out;
    doc = json_loadb(req->body.data ? req->body.data : "", req->body.len, 0,
                     NULL);
    if (!json_is_object(doc)) {
        fail(ctx, resp, "80100003", "the message is not valid JSON", -1);
        goto out;
    }
    msg = json_object_get(doc, "message");
    if (!json_is_object(msg)) {
        fail(ctx, resp, "80300010", NULL, -1);
        goto out;
    }
    validate_only = json_is_true(json_object_get(doc, "validate_only"));
    code = check_message(msg, &tokens, &why);
    if (code != NULL) {
        fail(ctx, resp, code, why, -1);
        goto out;
    }
    if (!sim_rate_take(ctx->hms_qps, app,
                       tokens ? (long)json_array_size(tokens) : 1,
                       sim_now_ms(ctx), &retry)) {
        fail(ctx, resp, "503", NULL, retry);
        goto out;
    }
    if (tokens != NULL ? token_outcomes(ctx, req, resp, tokens, ill)
                       : topic_outcome(ctx, req, resp))
        goto out;
    aggregate(ctx, resp, tokens ? json_array_size(tokens) : 0, ill,
              validate_only);
out:
    json_decref(ill);
    json_decref(doc);
}

const struct sim_endpoint sim_hms_send = {
    "hms.send", SIM_HMS, SIM_EP_SEND, 0, hms_handle, error_at,
};
