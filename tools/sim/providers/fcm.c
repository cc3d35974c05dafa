/* fcm.c -- FCM HTTP v1 send: authentication, quota, validation, outcome.
 *
 * Order: access token (401 without FcmError), project and scopes (403/404
 * without FcmError), the sliding-minute quota (429 QUOTA_EXCEEDED), the
 * JSON and the message (400 BadRequest for shape errors, FcmError
 * INVALID_ARGUMENT for semantic ones), then the target token's outcome
 * (rule, prefix, or success). Every error body is a google.rpc.Status
 * built with jansson from the table below, so tests can assert the exact
 * `status`, `details[].errorCode` and `message`. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "tools/sim/creds.h"
#include "tools/sim/providers/fcm.h"
#include "tools/sim/faults/outcome.h"
#include "tools/sim/providers/rate.h"
#include "tools/sim/providers/syntax.h"
#include "tools/sim/faults/ruleset.h"
#include "tools/sim/providers/tokens.h"
#include "core/banned.h"

#define FCM_PREFIX "/v1/projects/"
#define FCM_SUFFIX "/messages:send"
#define FCM_PAYLOAD_MAX 4096
#define FCM_TTL_MAX_S 2419200
#define FCM_ERROR_TYPE "type.googleapis.com/google.firebase.fcm.v1.FcmError"
#define APNS_ERROR_TYPE "type.googleapis.com/google.firebase.fcm.v1.ApnsError"
#define BAD_REQUEST_TYPE "type.googleapis.com/google.rpc.BadRequest"
#define ERROR_INFO_TYPE "type.googleapis.com/google.rpc.ErrorInfo"
#define AUTH_HINT                                                              \
    " Expected OAuth 2 access token, login cookie or other valid "             \
    "authentication credential. See "                                          \
    "https://developers.google.com/identity/sign-in/web/devconsole-project."

/* The selectable errors ("fe" + index, or a rule's "error"). */
static const struct ferr {
    const char *name;
    int http;
    const char *status;
    const char *message;
    const char *code; /* FcmError errorCode, NULL for none */
    int apns_status;  /* ApnsError detail when > 0 */
    const char *apns_reason;
} ferrs[] = {
    {"UNREGISTERED", 404, "NOT_FOUND", "Requested entity was not found.",
     "UNREGISTERED", 0, NULL},
    {"INVALID_ARGUMENT", 400, "INVALID_ARGUMENT",
     "The registration token is not a valid FCM registration token",
     "INVALID_ARGUMENT", 0, NULL},
    {"SENDER_ID_MISMATCH", 403, "PERMISSION_DENIED", "SenderId mismatch",
     "SENDER_ID_MISMATCH", 0, NULL},
    {"QUOTA_EXCEEDED", 429, "RESOURCE_EXHAUSTED",
     "Quota exceeded for quota metric 'Send requests' and limit 'Send "
     "requests per minute' of service 'fcm.googleapis.com'.",
     "QUOTA_EXCEEDED", 0, NULL},
    {"UNAVAILABLE", 503, "UNAVAILABLE", "The service is currently unavailable.",
     "UNAVAILABLE", 0, NULL},
    {"INTERNAL", 500, "INTERNAL", "Internal error encountered.", "INTERNAL", 0,
     NULL},
    {"THIRD_PARTY_AUTH_ERROR", 401, "UNAUTHENTICATED",
     "Auth error from APNS or Web Push Service", "THIRD_PARTY_AUTH_ERROR", 403,
     "InvalidProviderToken"},
    {"THIRD_PARTY_AUTH_ERROR_ENV", 401, "UNAUTHENTICATED",
     "Auth error from APNS or Web Push Service", "THIRD_PARTY_AUTH_ERROR", 403,
     "BadEnvironmentKeyInToken"},
    {"APNS_TOKEN_DISABLED", 400, "INVALID_ARGUMENT",
     "APNs device token is disabled.", "INVALID_ARGUMENT", 410, "Unregistered"},
    {"MESSAGE_TOO_LARGE", 400, "INVALID_ARGUMENT",
     "Message is too large. The maximum is 4K (4096 bytes).",
     "INVALID_ARGUMENT", 0, NULL},
    {"UNSPECIFIED_ERROR", 500, "INTERNAL", "Internal error encountered.",
     "UNSPECIFIED_ERROR", 0, NULL},
    {"UNAUTHENTICATED", 401, "UNAUTHENTICATED",
     "Request had invalid authentication credentials." AUTH_HINT, NULL, 0,
     NULL},
    {"MISSING_CREDENTIAL", 401, "UNAUTHENTICATED",
     "Request is missing required authentication credential." AUTH_HINT, NULL,
     0, NULL},
    {"PERMISSION_DENIED", 403, "PERMISSION_DENIED",
     "The caller does not have permission", NULL, 0, NULL},
    {"NOT_FOUND", 404, "NOT_FOUND", "Requested entity was not found.", NULL, 0,
     NULL},
    {"SERVICE_DISABLED", 403, "PERMISSION_DENIED",
     "Firebase Cloud Messaging API has not been used in this project before "
     "or it is disabled. Enable it by visiting the API console then retry.",
     NULL, 0, NULL},
    {"INSUFFICIENT_SCOPES", 403, "PERMISSION_DENIED",
     "Request had insufficient authentication scopes.", NULL, 0, NULL},
};

#define NFERRS (sizeof(ferrs) / sizeof(ferrs[0]))

/* message fields, proto3 JSON names in both spellings */
static const char *const message_fields[] = {
    "token",   "topic",        "condition",  "fid",
    "data",    "notification", "android",    "apns",
    "webpush", "fcm_options",  "fcmOptions", "name",
};

static const char *
error_at(int i)
{
    return i >= 0 && (size_t)i < NFERRS ? ferrs[i].name : NULL;
}

static const struct ferr *
ferr(const char *name)
{
    size_t i;

    for (i = 0; i < NFERRS; i++)
        if (strcmp(ferrs[i].name, name) == 0)
            return &ferrs[i];
    return &ferrs[5]; /* INTERNAL */
}

static void
send_error(struct sim_resp *resp, int http, const char *status,
           const char *message, json_t *details, const char *label)
{
    json_t *e = json_pack("{s:{s:i, s:s, s:s}}", "error", "code", http,
                          "message", message, "status", status);
    char *text;

    if (details != NULL && json_array_size(details) > 0)
        json_object_set(json_object_get(e, "error"), "details", details);
    json_decref(details);
    text = json_dumps(e, JSON_COMPACT);
    sim_resp_set(resp, http, "application/json; charset=UTF-8", text,
                 text ? strlen(text) : 0);
    free(text);
    json_decref(e);
    sim_resp_outcome(resp, label);
}

/* Renders a table error; message may override the table's text. */
static void
named_error(struct sim_resp *resp, const char *name, const char *message,
            int retry_after)
{
    const struct ferr *f = ferr(name);
    json_t *d = json_array();

    if (f->code)
        json_array_append_new(d,
                              json_pack("{s:s, s:s}", "@type", FCM_ERROR_TYPE,
                                        "errorCode", f->code));
    if (f->apns_status > 0)
        json_array_append_new(d, json_pack("{s:s, s:i, s:s}", "@type",
                                           APNS_ERROR_TYPE, "statusCode",
                                           f->apns_status, "reason",
                                           f->apns_reason));
    if (strcmp(f->name, "SERVICE_DISABLED") == 0)
        json_array_append_new(
            d, json_pack("{s:s, s:s, s:s}", "@type", ERROR_INFO_TYPE, "reason",
                         "SERVICE_DISABLED", "domain", "googleapis.com"));
    send_error(resp, f->http, f->status, message ? message : f->message, d,
               f->code ? f->code : f->status);
    if (strcmp(f->name, "UNAUTHENTICATED") == 0)
        sim_resp_header(resp, "www-authenticate",
                        "Bearer realm=\"https://accounts.google.com/\", "
                        "error=\"invalid_token\"");
    if (retry_after >= 0) {
        char v[16];

        snprintf(v, sizeof(v), "%d", retry_after);
        sim_resp_header(resp, "retry-after", v);
    }
}

/* 400 INVALID_ARGUMENT with a google.rpc.BadRequest field violation and
 * no FcmError: JSON shape errors. */
static void
bad_request(struct sim_resp *resp, const char *field, const char *message)
{
    json_t *v = json_pack("{s:s}", "description", message);
    json_t *d;

    if (field != NULL)
        json_object_set_new(v, "field", json_string(field));
    d = json_pack("[{s:s, s:[o]}]", "@type", BAD_REQUEST_TYPE,
                  "fieldViolations", v);
    send_error(resp, 400, "INVALID_ARGUMENT", message, d, "INVALID_ARGUMENT");
}

/* Authentication and project checks. Returns 0 to go on, or -1 after
 * answering. */
static int
check_auth(struct sim_ctx *ctx, const struct sim_req *req,
           struct sim_resp *resp, const char *project)
{
    const char *h = sim_syntax_bearer(req);
    struct sim_token_info info;

    if (h == NULL) {
        named_error(resp, "MISSING_CREDENTIAL", NULL, -1);
        return -1;
    }
    if (!sim_tokens_get(ctx->tokens, h, &info) || info.provider != SIM_FCM ||
        sim_now_ms(ctx) >= info.expires_ms) {
        named_error(resp, "UNAUTHENTICATED", NULL, -1);
        return -1;
    }
    sim_copy(resp->identity, sizeof(resp->identity), info.subject);
    if (strcmp(info.scope, project) != 0) {
        named_error(resp,
                    sim_creds_project(ctx->creds, project) ? "PERMISSION_DENIED"
                                                           : "NOT_FOUND",
                    NULL, -1);
        return -1;
    }
    if (!info.can_send) {
        named_error(resp, "INSUFFICIENT_SCOPES", NULL, -1);
        return -1;
    }
    return 0;
}

static int
is_field(const char *k)
{
    size_t i;

    for (i = 0; i < sizeof(message_fields) / sizeof(message_fields[0]); i++)
        if (strcmp(message_fields[i], k) == 0)
            return 1;
    return 0;
}

static int
topic_ok(const char *t)
{
    if (strncmp(t, "/topics/", 8) == 0)
        t += 8;
    if (*t == '\0')
        return 0;
    for (; *t; t++)
        if (!isalnum((unsigned char)*t) && strchr("-_.~%", *t) == NULL)
            return 0;
    return 1;
}

/* "3.5s": up to 9 fractional digits, whole seconds <= FCM_TTL_MAX_S. */
static int
ttl_ok(const char *s)
{
    return sim_syntax_duration(s, FCM_TTL_MAX_S, &s) && s[0] == 's' &&
           s[1] == '\0';
}

static int
reserved_key(const char *k)
{
    return strcmp(k, "from") == 0 || strcmp(k, "message_type") == 0 ||
           strcmp(k, "gcm") == 0 || strncmp(k, "google.", 7) == 0 ||
           strncmp(k, "gcm.", 4) == 0;
}

/* Validates a data map; answers and returns -1 on the first problem. */
static int
check_data(struct sim_resp *resp, json_t *data, const char *where)
{
    const char *k;
    json_t *v;
    size_t i = 0;
    char field[128];
    char msg[256];

    if (data == NULL)
        return 0;
    if (!json_is_object(data)) {
        snprintf(msg, sizeof(msg),
                 "Invalid JSON payload received. Unknown name \"%s\": "
                 "Proto field is not repeating, cannot start list.",
                 where);
        bad_request(resp, where, msg);
        return -1;
    }
    json_object_foreach(data, k, v)
    {
        if (!json_is_string(v)) {
            snprintf(field, sizeof(field), "%s[%zu].value", where, i);
            snprintf(msg, sizeof(msg),
                     "Invalid value at '%s' (TYPE_STRING), %s", field,
                     json_is_integer(v) ? "12" : "non-string");
            bad_request(resp, field, msg);
            return -1;
        }
        if (reserved_key(k)) {
            snprintf(msg, sizeof(msg), "Invalid data payload key: %.64s", k);
            named_error(resp, "INVALID_ARGUMENT", msg, -1);
            return -1;
        }
        i++;
    }
    return 0;
}

static int
check_android(struct sim_resp *resp, json_t *a)
{
    json_t *prio;
    json_t *ttl;
    char msg[256];

    if (a == NULL)
        return 0;
    if (!json_is_object(a)) {
        bad_request(resp, "message.android",
                    "Invalid value at 'message.android' "
                    "(type.googleapis.com/google.firebase.fcm.v1."
                    "AndroidConfig)");
        return -1;
    }
    prio = json_object_get(a, "priority");
    if (prio != NULL && (!json_is_string(prio) ||
                         (strcasecmp(json_string_value(prio), "normal") != 0 &&
                          strcasecmp(json_string_value(prio), "high") != 0))) {
        snprintf(msg, sizeof(msg),
                 "Invalid value at 'message.android.priority' "
                 "(type.googleapis.com/google.firebase.fcm.v1."
                 "AndroidMessagePriority), \"%.32s\"",
                 json_is_string(prio) ? json_string_value(prio) : "?");
        bad_request(resp, "message.android.priority", msg);
        return -1;
    }
    ttl = json_object_get(a, "ttl");
    if (ttl != NULL &&
        (!json_is_string(ttl) || !ttl_ok(json_string_value(ttl)))) {
        named_error(resp, "INVALID_ARGUMENT",
                    "Invalid value at 'message.android.ttl' "
                    "(type.googleapis.com/google.protobuf.Duration)",
                    -1);
        return -1;
    }
    return check_data(resp, json_object_get(a, "data"), "message.android.data");
}

/* Validates the message. On success returns 0 and the target in *target
 * (borrowed from msg; NULL for topic/condition sends is not possible:
 * it is the topic or condition text) and *is_token. */
static int
check_message(struct sim_resp *resp, json_t *msg, size_t body_len,
              const char **target, int *is_token)
{
    static const char *const targets[] = {"token", "topic", "condition", "fid"};
    const char *k;
    json_t *v;
    json_t *copy;
    char *text;
    size_t size;
    int n = 0;
    size_t i;
    char m[256];

    json_object_foreach(msg, k, v)
    {
        if (!is_field(k)) {
            snprintf(m, sizeof(m),
                     "Invalid JSON payload received. Unknown name \"%.64s\" "
                     "at 'message': Cannot find field.",
                     k);
            bad_request(resp, "message", m);
            return -1;
        }
    }
    for (i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
        v = json_object_get(msg, targets[i]);
        if (v == NULL)
            continue;
        if (!json_is_string(v)) {
            snprintf(m, sizeof(m),
                     "Invalid value at 'message.%s' (TYPE_STRING)", targets[i]);
            bad_request(resp, "message", m);
            return -1;
        }
        *target = json_string_value(v);
        *is_token = i == 0 || i == 3;
        n++;
        if (i == 1 && !topic_ok(*target)) {
            named_error(resp, "INVALID_ARGUMENT", "Invalid topic name.", -1);
            return -1;
        }
    }
    if (n != 1) {
        named_error(resp, "INVALID_ARGUMENT",
                    "Exactly one of token, topic or condition must be "
                    "specified.",
                    -1);
        return -1;
    }
    if (check_data(resp, json_object_get(msg, "data"), "message.data") < 0 ||
        check_android(resp, json_object_get(msg, "android")) < 0)
        return -1;
    v = json_object_get(msg, "notification");
    if (v != NULL && !json_is_object(v)) {
        bad_request(resp, "message.notification",
                    "Invalid value at 'message.notification' "
                    "(type.googleapis.com/google.firebase.fcm.v1."
                    "Notification)");
        return -1;
    }
    /* payload size: the compact message without its target. The raw body
     * bounds it from above, so most messages skip the serialisation. */
    if (body_len <= FCM_PAYLOAD_MAX)
        return 0;
    copy = json_copy(msg);
    for (i = 0; i < sizeof(targets) / sizeof(targets[0]); i++)
        json_object_del(copy, targets[i]);
    text = json_dumps(copy, JSON_COMPACT);
    size = text ? strlen(text) : 0;
    free(text);
    json_decref(copy);
    if (size > FCM_PAYLOAD_MAX) {
        named_error(resp, "MESSAGE_TOO_LARGE", NULL, -1);
        return -1;
    }
    return 0;
}

static void
success(struct sim_ctx *ctx, struct sim_resp *resp, const char *project,
        int validate_only)
{
    uint64_t id = sim_next_id(ctx);
    char body[384];
    int n;

    if (validate_only)
        n = snprintf(body, sizeof(body),
                     "{\"name\":\"projects/%s/messages/fake_message_id\"}",
                     project);
    else
        n = snprintf(body, sizeof(body),
                     "{\"name\":\"projects/%s/messages/0:%016llu%%%016llx\"}",
                     project, (unsigned long long)id,
                     (unsigned long long)(id * 0x9E3779B97F4A7C15ULL));
    sim_resp_set(resp, 200, "application/json; charset=UTF-8", body, (size_t)n);
    sim_resp_outcome(resp, validate_only ? "validate_only" : "success");
    resp->accepted = !validate_only;
    resp->delivered = !validate_only;
}

static void
fcm_handle(struct sim_ctx *ctx, struct sim_peer *peer,
           const struct sim_req *req, struct sim_resp *resp)
{
    const char *method = sim_req_header(req, ":method");
    const char *path = sim_req_header(req, ":path");
    struct sim_outcome o;
    json_error_t je;
    json_t *doc = NULL;
    json_t *msg;
    const char *k;
    json_t *v;
    const char *target = NULL;
    char project[128];
    char m[320];
    int is_token = 0;
    int validate_only = 0;
    int retry = 0;

    (void)peer;
    sim_outcome_init(&o);
    if (method == NULL || strcmp(method, "POST") != 0 || path == NULL ||
        sim_syntax_path_id(path, FCM_PREFIX, FCM_SUFFIX, project,
                           sizeof(project)) < 0) {
        named_error(resp, "NOT_FOUND", NULL, -1);
        goto out;
    }
    if (check_auth(ctx, req, resp, project) < 0)
        goto out;
    if (!sim_rate_take(ctx->fcm_quota, project, 1, sim_now_ms(ctx), &retry)) {
        named_error(resp, "QUOTA_EXCEEDED", NULL, retry);
        goto out;
    }
    doc =
        json_loadb(req->body.data ? req->body.data : "", req->body.len, 0, &je);
    if (doc == NULL || !json_is_object(doc)) {
        snprintf(m, sizeof(m), "Invalid JSON payload received. %s",
                 doc ? "Expected an object." : je.text);
        bad_request(resp, NULL, m);
        goto out;
    }
    json_object_foreach(doc, k, v)
    {
        if (strcmp(k, "message") != 0 && strcmp(k, "validate_only") != 0 &&
            strcmp(k, "validateOnly") != 0) {
            snprintf(m, sizeof(m),
                     "Invalid JSON payload received. Unknown name \"%.64s\": "
                     "Cannot find field.",
                     k);
            bad_request(resp, NULL, m);
            goto out;
        }
        if (strcmp(k, "message") != 0)
            validate_only = json_is_true(v);
    }
    msg = json_object_get(doc, "message");
    if (!json_is_object(msg)) {
        bad_request(resp, "message", "Request contains an invalid argument.");
        goto out;
    }
    if (check_message(resp, msg, req->body.len, &target, &is_token) < 0)
        goto out;
    if (is_token)
        sim_resp_add_token(resp, target, strlen(target));
    if (!sim_rules_match(ctx->rules, &sim_fcm_send, target, req, &o) &&
        is_token)
        sim_outcome_from_token(&sim_fcm_send, target, strlen(target), &o);
    if (sim_outcome_apply(&o, resp))
        goto out;
    if (o.kind == SIM_OUT_ERROR)
        named_error(resp, o.error, NULL, o.retry_after_s);
    else
        success(ctx, resp, project, validate_only);
out:
    json_decref(doc);
    sim_outcome_release(&o);
}

const struct sim_endpoint sim_fcm_send = {
    "fcm.send", SIM_FCM, SIM_EP_SEND, 0, fcm_handle, error_at,
};
