/* api_send.c -- send_push_notification: validate, write one record to
 * herald.requests through the sink, answer with the uid once the sink has
 * acknowledged it.
 *
 * No database on this path: idempotency is the fan-out's job. Runs on an
 * I/O thread (/api/send_push_notification) or a worker thread (/api);
 * the answer goes out from the sink's thread. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/json.h"
#include "core/log.h"
#include "core/rand.h"
#include "services/api/api.h"
#include "services/api/api_personal.h"
#include "core/banned.h"

/* ---- recipient --------------------------------------------------------- */

struct rkind {
    const char *key;
    enum hd_recipient_kind kind;
    int provider; /* the provider the notification must carry, -1 any */
};

static const struct rkind rkinds[] = {
    {"device_ids", HD_RCPT_DEVICE_IDS, -1},
    {"channels", HD_RCPT_CHANNELS, -1},
    {"users", HD_RCPT_USERS, -1}, /* Herald extension */
    {"fcm_tokens", HD_RCPT_FCM_TOKENS, HD_PROVIDER_FCM},
    {"fcm_topic", HD_RCPT_FCM_TOPIC, HD_PROVIDER_FCM},
    {"fcm_condition", HD_RCPT_FCM_CONDITION, HD_PROVIDER_FCM},
    {"hms_tokens", HD_RCPT_HMS_TOKENS, HD_PROVIDER_HMS},
    {"hms_topic", HD_RCPT_HMS_TOPIC, HD_PROVIDER_HMS},
    {"hms_condition", HD_RCPT_HMS_CONDITION, HD_PROVIDER_HMS},
    {"apns_tokens", HD_RCPT_APNS_TOKENS, HD_PROVIDER_APNS},
    {"webpush_tokens", HD_RCPT_WEBPUSH_TOKENS, HD_PROVIDER_WEBPUSH},
    {"filter", HD_RCPT_FILTER, -1},
};
#define NRKINDS (sizeof(rkinds) / sizeof(rkinds[0]))

static int
is_topic_char(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
           (c >= 'A' && c <= 'Z') || c == '-' || c == '_' || c == '.' ||
           c == '~' || c == '%';
}

/* A topic name ([a-zA-Z0-9-_.~%]+) or a condition (printable ASCII). */
static int
check_topic(json_t *v, int condition, const char *path, struct hd_err *err)
{
    const char *s;
    size_t len, i;

    if (!json_is_string(v))
        return hd_err_set(err, HD_EINVAL, "%s: must be a string", path);
    s = json_string_value(v);
    len = json_string_length(v);
    if (len == 0 || len > API_TOPIC_NAME_MAX || strlen(s) != len)
        return hd_err_set(err, HD_EINVAL, "%s: must be 1 to %d characters",
                          path, API_TOPIC_NAME_MAX);
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if (condition ? (c < 0x20 || c > 0x7e) : !is_topic_char(c))
            return hd_err_set(err, HD_EINVAL, "%s: character %zu not allowed",
                              path, i);
    }
    return 0;
}

static int
check_tokens(const struct api_rules *rules, json_t *list, enum hd_provider p,
             const char *path, struct hd_err *err)
{
    char item[96];
    size_t i;
    json_t *t;

    json_array_foreach(list, i, t)
    {
        snprintf(item, sizeof(item), "%s[%zu]", path, i);
        if (api_check_token(rules, p, json_string_value(t),
                            json_string_length(t), item, err) < 0)
            return -1;
    }
    return 0;
}

/* recipient.filter: {ids, users, topics, providers, platforms}, each a
 * list; lists are ANDed, values within one ORed; an empty or absent list
 * does not filter. Returns a new object holding the non-empty lists, or
 * NULL with err. */
static json_t *
parse_filter(const struct api_rules *rules, json_t *f, struct hd_err *err)
{
    static const char *const known[] = {"ids",       "users",     "topics",
                                        "providers", "platforms", NULL};
    static const enum api_kind kinds[] = {API_K_ID, API_K_USER, API_K_TOPIC,
                                          API_K_PROVIDER, API_K_PLATFORM};
    const char *p = "params.recipient.filter";
    json_t *out, *list;
    size_t i;

    if (!json_is_object(f)) {
        hd_err_set(err, HD_EINVAL, "%s: must be an object", p);
        return NULL;
    }
    if (api_params_known(rules, f, p, known, err) < 0)
        return NULL;
    out = json_object();
    for (i = 0; known[i] != NULL; i++) {
        list = NULL;
        if (api_get_list(f, p, known[i], kinds[i], HD_LIST_MAX, 1, &list, err) <
            0) {
            json_decref(out);
            return NULL;
        }
        if (list && json_array_size(list) > 0)
            json_object_set(out, known[i], list);
    }
    return out;
}

/* Exactly one kind set: fills r->kind and r->values (a new reference). */
/* The one recipient kind set in rc: *out, or -1 with err (none, or two). */
static int
find_kind(const struct api_rules *rules, json_t *rc, const struct rkind **out,
          struct hd_err *err)
{
    static const char *const known[] = {"filter",
                                        "fcm_tokens",
                                        "fcm_topic",
                                        "fcm_condition",
                                        "hms_tokens",
                                        "hms_topic",
                                        "hms_condition",
                                        "apns_tokens",
                                        "webpush_tokens",
                                        "device_ids",
                                        "channels",
                                        "users",
                                        NULL};
    const struct rkind *found = NULL;
    json_t *v;
    size_t i;

    if (api_params_known(rules, rc, "params.recipient", known, err) < 0)
        return -1;
    for (i = 0; i < NRKINDS; i++) {
        v = json_object_get(rc, rkinds[i].key);
        if (v == NULL || json_is_null(v))
            continue;
        if (found != NULL)
            return hd_err_set(err, HD_EINVAL,
                              "params.recipient: set only one of %s and %s",
                              found->key, rkinds[i].key);
        found = &rkinds[i];
    }
    if (found == NULL)
        return hd_err_set(err, HD_EINVAL,
                          "params.recipient: one recipient field is required");
    *out = found;
    return 0;
}

static int
parse_recipient(const struct api_rules *rules, json_t *rc,
                struct hd_msg_request *r, int *need, struct hd_err *err)
{
    const struct rkind *found = NULL;
    char path[64];
    json_t *v;

    if (find_kind(rules, rc, &found, err) < 0)
        return -1;
    snprintf(path, sizeof(path), "params.recipient.%s", found->key);
    v = json_object_get(rc, found->key);
    switch (found->kind) {
    case HD_RCPT_FCM_TOPIC:
    case HD_RCPT_HMS_TOPIC:
    case HD_RCPT_FCM_CONDITION:
    case HD_RCPT_HMS_CONDITION:
        if (check_topic(v,
                        found->kind == HD_RCPT_FCM_CONDITION ||
                            found->kind == HD_RCPT_HMS_CONDITION,
                        path, err) < 0)
            return -1;
        break;
    case HD_RCPT_FCM_TOKENS:
    case HD_RCPT_HMS_TOKENS:
    case HD_RCPT_APNS_TOKENS:
        if (api_get_list(rc, "params.recipient", found->key, API_K_TOKEN,
                         HD_LIST_MAX, 0, &v, err) < 0 ||
            check_tokens(rules, v, (enum hd_provider)found->provider, path,
                         err) < 0)
            return -1;
        break;
    case HD_RCPT_WEBPUSH_TOKENS:
        if (!json_is_array(v) || json_array_size(v) == 0)
            return hd_err_set(err, HD_EINVAL,
                              "%s: must be a non-empty array of strings", path);
        if (json_array_size(v) > HD_LIST_MAX)
            return hd_err_set(err, HD_ETOOBIG, "%s: more than %d items", path,
                              HD_LIST_MAX);
        if (check_tokens(rules, v, HD_PROVIDER_WEBPUSH, path, err) < 0)
            return -1;
        break;
    case HD_RCPT_FILTER:
        v = parse_filter(rules, v, err);
        if (v == NULL)
            return -1;
        r->kind = found->kind;
        r->values = v;
        *need = -1;
        return 0;
    case HD_RCPT_CHANNELS:
        if (api_get_list(rc, "params.recipient", found->key, API_K_CHANNEL,
                         HD_LIST_MAX, 0, &v, err) < 0)
            return -1;
        break;
    default:
        if (api_get_list(rc, "params.recipient", found->key, API_K_ID,
                         HD_LIST_MAX, 0, &v, err) < 0)
            return -1;
        break;
    }
    r->kind = found->kind;
    r->values = json_incref(v);
    *need = found->provider;
    return 0;
}

/* ---- notification ------------------------------------------------------ */

/* A version-4 UUID from the per-thread generator (seeded from the kernel):
 * a uid must be unique, not secret, and this costs no system call on the
 * hot path (hd_uuid4 reads getrandom each time). */
static void
fast_uuid(char out[37])
{
    static const char hex[] = "0123456789abcdef";
    uint64_t a = hd_rand_u64(), b = hd_rand_u64();
    unsigned char r[16];
    int i, j = 0;

    for (i = 0; i < 8; i++) {
        r[i] = (unsigned char)(a >> (8 * i));
        r[8 + i] = (unsigned char)(b >> (8 * i));
    }
    r[6] = (unsigned char)((r[6] & 0x0f) | 0x40);
    r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);
    for (i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[j++] = '-';
        out[j++] = hex[r[i] >> 4];
        out[j++] = hex[r[i] & 15];
    }
    out[j] = '\0';
}

/* fcm / hms: {"message": {...}} without the target fields, which the
 * recipient decides. */
static int
parse_message_part(const struct api_rules *rules, json_t *part,
                   const char *name, size_t max, struct hd_err *err)
{
    static const char *const known[] = {"message", NULL};
    static const char *const targets[] = {"token", "topic", "condition", NULL};
    char path[64];
    json_t *msg = NULL;
    size_t i;

    snprintf(path, sizeof(path), "params.notification.%s", name);
    if (!json_is_object(part))
        return hd_err_set(err, HD_EINVAL, "%s: must be an object", path);
    if (api_params_known(rules, part, path, known, err) < 0 ||
        hd_json_obj(part, path, "message", 1, &msg, err) < 0)
        return -1;
    for (i = 0; targets[i]; i++)
        if (json_object_get(msg, targets[i]) != NULL)
            return hd_err_set(err, HD_EINVAL,
                              "%s.message.%s: set by the recipient, not here",
                              path, targets[i]);
    if (api_json_size(msg) > max)
        return hd_err_set(err, HD_ETOOBIG, "%s.message: larger than %zu bytes",
                          path, max);
    return 0;
}

static int
parse_apns(const struct api_rules *rules, json_t *part, struct hd_err *err)
{
    static const char *const known[] = {"headers", "payload", NULL};
    const char *p = "params.notification.apns";
    json_t *headers = NULL, *payload = NULL, *v;
    size_t max = HD_PAYLOAD_MAX_APNS;
    const char *k;

    if (!json_is_object(part))
        return hd_err_set(err, HD_EINVAL, "%s: must be an object", p);
    if (api_params_known(rules, part, p, known, err) < 0 ||
        hd_json_obj(part, p, "headers", 0, &headers, err) < 0 ||
        hd_json_obj(part, p, "payload", 1, &payload, err) < 0)
        return -1;
    if (headers && json_object_size(headers) > API_HEADERS_MAX)
        return hd_err_set(err, HD_ETOOBIG, "%s.headers: more than %d", p,
                          API_HEADERS_MAX);
    json_object_foreach(headers, k, v)
    {
        const char *s = json_string_value(v);
        size_t i, len = json_string_length(v);

        if (strncasecmp(k, "apns-", 5) != 0 || strlen(k) > 64)
            return hd_err_set(err, HD_EINVAL,
                              "%s.headers.%.64s: not an apns-* header", p, k);
        if (!json_is_string(v) || len == 0 || len > API_HEADER_MAX ||
            strlen(s) != len)
            return hd_err_set(err, HD_EINVAL,
                              "%s.headers.%s: must be a string of 1 to %d "
                              "characters",
                              p, k, API_HEADER_MAX);
        for (i = 0; i < len; i++)
            if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
                return hd_err_set(err, HD_EINVAL,
                                  "%s.headers.%s: control characters", p, k);
        if (strcasecmp(k, "apns-push-type") == 0 && strcmp(s, "voip") == 0)
            max = 5120; /* Apple's VoIP payload limit */
    }
    if (api_json_size(payload) > max)
        return hd_err_set(err, HD_ETOOBIG, "%s.payload: larger than %zu bytes",
                          p, max);
    return 0;
}

/* webpush: {headers {TTL, Urgency, Topic}, payload (a string or a JSON
 * value sent as its text)}. */
static int
parse_webpush(const struct api_rules *rules, json_t *part, struct hd_err *err)
{
    static const char *const known[] = {"headers", "payload", NULL};
    static const char *const hknown[] = {"TTL", "Urgency", "Topic", NULL};
    const char *p = "params.notification.webpush";
    json_t *headers = NULL, *payload, *v;
    const char *k;
    char hp[64];

    if (!json_is_object(part))
        return hd_err_set(err, HD_EINVAL, "%s: must be an object", p);
    if (api_params_known(rules, part, p, known, err) < 0 ||
        hd_json_obj(part, p, "headers", 0, &headers, err) < 0)
        return -1;
    snprintf(hp, sizeof(hp), "%s.headers", p);
    if (headers) {
        json_object_foreach(headers, k, v)
        {
            size_t i;

            for (i = 0; hknown[i] && strcmp(k, hknown[i]) != 0; i++)
                ;
            if (hknown[i] == NULL)
                return hd_err_set(err, HD_EINVAL,
                                  "%s.%.64s: one of TTL, Urgency, Topic", hp,
                                  k);
            if (!json_is_string(v) || json_string_length(v) == 0 ||
                json_string_length(v) > API_HEADER_MAX)
                return hd_err_set(err, HD_EINVAL,
                                  "%s.%s: must be a string of 1 to %d "
                                  "characters",
                                  hp, k, API_HEADER_MAX);
        }
    }
    payload = json_object_get(part, "payload");
    if (payload == NULL || json_is_null(payload))
        return hd_err_set(err, HD_EINVAL, "%s.payload: required", p);
    if ((json_is_string(payload)
             ? json_string_length(payload)
             : api_json_size(payload)) > HD_PAYLOAD_MAX_WEBPUSH)
        return hd_err_set(err, HD_ETOOBIG, "%s.payload: larger than %d bytes",
                          p, HD_PAYLOAD_MAX_WEBPUSH);
    return 0;
}

static int
parse_part(const struct api_rules *rules, json_t *part, int i,
           struct hd_err *err)
{
    switch (i) {
    case HD_PROVIDER_APNS:
        return parse_apns(rules, part, err);
    case HD_PROVIDER_WEBPUSH:
        return parse_webpush(rules, part, err);
    case HD_PROVIDER_FCM:
        return parse_message_part(rules, part, "fcm", HD_PAYLOAD_MAX_FCM, err);
    default:
        return parse_message_part(rules, part, "hms", HD_PAYLOAD_MAX_HMS, err);
    }
}

/* The notification; uid is the top-level one (NULL: the draft's
 * notification.uid, else generated). */
static int
parse_notification(const struct api_rules *rules, json_t *n, const char *uid,
                   struct hd_msg_request *r, int need, struct hd_err *err)
{
    static const char *const known[] = {"uid",  "expire_at", "fcm", "hms",
                                        "apns", "webpush",   NULL};
    static const char *const pnames[HD_PROVIDER__COUNT] = {"fcm", "apns", "hms",
                                                           "webpush"};
    const char *p = "params.notification";
    const char *nuid = NULL;
    long long expire = 0;
    char gen[37];
    json_t *out;
    int i, any = 0;

    if (api_params_known(rules, n, p, known, err) < 0 ||
        api_get_str(n, p, "uid", API_K_ID, 0, &nuid, err) < 0 ||
        hd_json_int(n, p, "expire_at", 0, 0, API_EXPIRE_AT_MAX, &expire, err) <
            0)
        return -1;
    for (i = 0; i < HD_PROVIDER__COUNT; i++) {
        json_t *part = json_object_get(n, pnames[i]);

        if (part == NULL || json_is_null(part))
            continue;
        if (parse_part(rules, part, i, err) < 0)
            return -1;
        any = 1;
    }
    if (!any)
        return hd_err_set(err, HD_EINVAL,
                          "%s: one of fcm, hms, apns, webpush is required", p);
    if (need >= 0 && json_object_get(n, pnames[need]) == NULL)
        return hd_err_set(err, HD_EINVAL, "%s.%s: required for this recipient",
                          p, pnames[need]);
    out = json_object();
    for (i = 0; i < HD_PROVIDER__COUNT; i++) {
        json_t *part = json_object_get(n, pnames[i]);

        if (part != NULL && !json_is_null(part))
            json_object_set(out, pnames[i], part);
    }
    if (uid == NULL)
        uid = nuid;
    if (uid == NULL) {
        fast_uuid(gen);
        uid = gen;
    }
    r->uid = hd_xstrdup(uid);
    r->expire_at_ms = (int64_t)expire * 1000;
    r->notification = out;
    return 0;
}

/* Outcomes are kept by uid, and update_push_status names them by
 * analytics_uid: an analytics_uid alone is the uid too; one that differs
 * from the uid is not available. */
static int
check_analytics_uid(const char **uid, const char *auid, struct hd_err *err)
{
    if (auid == NULL)
        return 0;
    if (*uid == NULL) {
        *uid = auid;
        return 0;
    }
    if (strcmp(*uid, auid) != 0)
        return hd_err_set(err, HD_EUNAVAILABLE,
                          "params.analytics_uid: must equal uid in this "
                          "release");
    return 0;
}

/* Herald's skip_online: a boolean, for recipients naming users (presence
 * knows users, not devices): users, or a filter with users. */
static int
parse_skip_online(json_t *params, struct hd_msg_request *r, struct hd_err *err)
{
    if (hd_json_bool(params, "params", "skip_online", 0, &r->skip_online, err) <
        0)
        return -1;
    if (r->skip_online && r->kind != HD_RCPT_USERS &&
        !(r->kind == HD_RCPT_FILTER &&
          json_array_size(json_object_get(r->values, "users")) > 0))
        return hd_err_set(err, HD_EINVAL,
                          "params.skip_online: only with recipient users or "
                          "a filter with users");
    return 0;
}

int
api_send_parse(const struct api_rules *rules, json_t *params, int64_t now_ms,
               struct hd_msg_request *r, int64_t *send_at_s, struct hd_err *err)
{
    static const char *const known[] = {"recipient",
                                        "notification",
                                        "uid",
                                        "app",
                                        "send_at",
                                        "optimize_for_reliability",
                                        "limit_strategy",
                                        "analytics_uid",
                                        "localizations",
                                        "use_templating",
                                        "use_meta",
                                        "skip_online",
                                        NULL};
    json_t *rc = NULL, *n = NULL;
    const char *app = NULL, *uid = NULL, *auid = NULL;
    int need = -1, flag = 0;
    long long send_at = 0;

    memset(r, 0, sizeof(*r));
    if (api_params_known(rules, params, "params", known, err) < 0 ||
        api_get_app(params, "params", &app, err) < 0 ||
        api_get_str(params, "params", "uid", API_K_ID, 0, &uid, err) < 0 ||
        api_get_str(params, "params", "analytics_uid", API_K_ID, 0, &auid,
                    err) < 0 ||
        api_get_flag(params, "params", "optimize_for_reliability", &flag, err) <
            0 ||
        hd_json_int(params, "params", "send_at", 0, 0, API_EXPIRE_AT_MAX,
                    &send_at, err) < 0 ||
        hd_json_obj(params, "params", "recipient", 1, &rc, err) < 0 ||
        hd_json_obj(params, "params", "notification", 1, &n, err) < 0 ||
        check_analytics_uid(&uid, auid, err) < 0 ||
        parse_recipient(rules, rc, r, &need, err) < 0 ||
        parse_notification(rules, n, uid, r, need, err) < 0 ||
        api_personal_parse(rules, params, r->notification,
                           r->kind == HD_RCPT_FILTER, &r->personal, NULL,
                           err) < 0 ||
        parse_skip_online(params, r, err) < 0) {
        hd_msg_request_release(r);
        return -1;
    }
    r->app = hd_xstrdup(app);
    r->created_ms = now_ms;
    /* a time already past is now */
    *send_at_s = send_at * 1000 > now_ms ? (int64_t)send_at : 0;
    return 0;
}

/* ---- the call ---------------------------------------------------------- */

struct send_wait {
    struct api_call *call;
    char uid[HD_ID_MAX + 1];
};

static void
accepted(void *opaque, int ok, const char *errstr)
{
    struct send_wait *w = opaque;
    struct api_call *call = w->call;

    if (ok) {
        api_call_result_str(call, "uid", w->uid);
    } else {
        hd_log(HD_LOG_ERROR, 0, "send %s (request %s) not queued: %s", w->uid,
               hd_http_req_id(call->req), errstr);
        api_call_error(call, API_E_INTERNAL, "internal server error");
    }
    free(w);
}

void
api_send_push(struct api_call *call)
{
    struct hd_msg_request r;
    struct hd_err err = {0};
    struct send_wait *w;
    int64_t send_at = 0;

    if (api_send_parse(&call->ctx->rules, call->params, hd_now_wall_ms(), &r,
                       &send_at, &err) < 0) {
        api_call_fail(call, &err);
        return;
    }
    if (send_at > 0) {
        /* held in PostgreSQL until then (one insert, off this I/O thread;
         * the scheduler stage releases it to herald.requests) */
        api_sched_hold(call, &r, send_at * 1000);
        return;
    }
    w = hd_xmalloc(sizeof(*w));
    w->call = call;
    snprintf(w->uid, sizeof(w->uid), "%s", r.uid);
    if (api_sink_submit(&call->ctx->sink, &r, accepted, w, &err) < 0) {
        free(w);
        hd_msg_request_release(&r);
        if (err.code == HD_ETOOBIG) {
            api_call_error(call, API_E_LIMIT,
                           "limit exceeded: notification too large");
            return;
        }
        if (err.code != HD_EINVAL)   /* EINVAL: the sink can't carry it */
            err.code = HD_EUPSTREAM; /* logged, answered 100 */
        api_call_fail(call, &err);
        return;
    }
    hd_msg_request_release(&r);
}
