/* msg.c -- encoding and validation of the Kafka records (the names
 * their fields use are msg_names.c's).
 *
 * Decoding is strict about what Herald relies on and lenient about the
 * rest: unknown fields are ignored (forward compatibility), wrong types and
 * out-of-range sizes are refused with the field's name, so one bad record
 * is dead-lettered instead of crashing or poisoning a consumer. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/json.h"
#include "core/limits.h"
#include "proto/msg.h"
#include "core/banned.h"

#define TOPIC_MAX 900 /* FCM topic/condition expressions stay far below */

/* The lists a filter recipient may hold, each of up to HD_LIST_MAX
 * strings. */
static const char *const filter_keys[] = {"ids",       "users",     "topics",
                                          "providers", "platforms", NULL};

/* The longest string one item of a recipient list of kind k may be. */
static size_t
recipient_item_max(enum hd_recipient_kind k)
{
    switch (k) {
    case HD_RCPT_FCM_TOKENS:
        return HD_TOKEN_MAX_FCM;
    case HD_RCPT_HMS_TOKENS:
        return HD_TOKEN_MAX_HMS;
    case HD_RCPT_APNS_TOKENS:
        return HD_TOKEN_MAX_APNS;
    case HD_RCPT_WEBPUSH_TOKENS:
        return HD_TOKEN_MAX_WEBPUSH;
    case HD_RCPT_CHANNELS:
        return HD_CHANNEL_MAX;
    default:
        return HD_ID_MAX;
    }
}

/* ---- shared helpers ---------------------------------------------------- */

/* Parses the record and checks "v". Returns the object (new) or NULL. */
static json_t *
open_record(const void *data, size_t len, struct hd_err *err)
{
    long long v = 0;
    json_t *o;

    if (len > HD_KAFKA_MAX_MESSAGE) {
        hd_err_set(err, HD_ETOOBIG, "record larger than %d bytes",
                   HD_KAFKA_MAX_MESSAGE);
        return NULL;
    }
    o = hd_json_parse(data, len, err);
    if (o == NULL)
        return NULL;
    if (!json_is_object(o)) {
        hd_err_set(err, HD_EINVAL, "record is not a JSON object");
        json_decref(o);
        return NULL;
    }
    if (hd_json_int(o, "", "v", 1, 0, 1000, &v, err) < 0) {
        json_decref(o);
        return NULL;
    }
    if (v != HD_MSG_VERSION) {
        hd_err_set(err, HD_EINVAL, "unsupported record version %lld", v);
        json_decref(o);
        return NULL;
    }
    return o;
}

/* Copies an optional string field into *out (new or NULL). */
static int
take_str(json_t *o, const char *key, int required, size_t max, char **out,
         struct hd_err *err)
{
    const char *s = NULL;
    int rc = hd_json_str(o, "", key, required, max, &s, err);

    if (rc < 0)
        return -1;
    *out = rc ? hd_xstrdup(s) : NULL;
    return 0;
}

static int
take_i64(json_t *o, const char *key, int required, int64_t *out,
         struct hd_err *err)
{
    long long v = 0;
    int rc = hd_json_int(o, "", key, required, 0, INT64_MAX, &v, err);

    if (rc < 0)
        return -1;
    *out = rc ? (int64_t)v : 0;
    return 0;
}

static int
finish(json_t *o, struct hd_buf *out, struct hd_err *err)
{
    int rc;

    if (o == NULL)
        return hd_err_set(err, HD_EINVAL, "cannot build record");
    rc = hd_json_dump(o, out, err);
    json_decref(o);
    return rc;
}

static int
check_notification_object(json_t *n, const char *what, struct hd_err *err)
{
    if (!json_is_object(n))
        return hd_err_set(err, HD_EINVAL, "%s: must be an object", what);
    return 0;
}

/* ---- events ------------------------------------------------------------ */

int
hd_msg_event_encode(const struct hd_msg_event *e, struct hd_buf *out,
                    struct hd_err *err)
{
    json_t *o;

    if (check_notification_object(e->notification, "notification", err) < 0)
        return -1;
    if (e->target != HD_TARGET_NONE && e->target_id == NULL)
        return hd_err_set(err, HD_EINVAL, "target_id: required with target");
    o = json_pack("{s:i,s:O,s:I}", "v", HD_MSG_VERSION, "notification",
                  e->notification, "created_ms", (json_int_t)e->created_ms);
    if (o && e->target != HD_TARGET_NONE) {
        json_object_set_new(o, "target",
                            json_string(hd_event_target_name(e->target)));
        json_object_set_new(o, "target_id", json_string(e->target_id));
        json_object_set_new(o, "client_type", json_integer(e->client_type));
    }
    return finish(o, out, err);
}

int
hd_msg_event_decode(const void *data, size_t len, struct hd_msg_event *e,
                    struct hd_err *err)
{
    json_t *o = open_record(data, len, err);
    const char *target = NULL;
    long long ct = 0;
    json_t *n = NULL;
    int rc;

    memset(e, 0, sizeof(*e));
    if (o == NULL)
        return -1;
    rc = hd_json_str(o, "", "target", 0, 32, &target, err);
    if (rc < 0)
        goto fail;
    if (rc == 1) {
        if (hd_event_target_parse(target, &e->target) < 0) {
            hd_err_set(err, HD_EINVAL, "target: unknown \"%s\"", target);
            goto fail;
        }
        if (take_str(o, "target_id", 1, HD_ID_MAX, &e->target_id, err) < 0)
            goto fail;
    }
    if (hd_json_int(o, "", "client_type", 0, 0, 5, &ct, err) < 0)
        goto fail;
    e->client_type = (int)ct;
    if (hd_json_obj(o, "", "notification", 1, &n, err) < 0)
        goto fail;
    if (take_i64(o, "created_ms", 0, &e->created_ms, err) < 0)
        goto fail;
    e->notification = json_incref(n);
    json_decref(o);
    return 0;
fail:
    json_decref(o);
    hd_msg_event_release(e);
    return -1;
}

void
hd_msg_event_release(struct hd_msg_event *e)
{
    free(e->target_id);
    json_decref(e->notification);
    memset(e, 0, sizeof(*e));
}

/* ---- requests ---------------------------------------------------------- */

/* A filter: known keys only, each an array of at most HD_LIST_MAX
 * strings of 1..HD_CHANNEL_MAX characters. */
static int
check_filter(json_t *f, struct hd_err *err)
{
    const char *key;
    json_t *list, *v;
    size_t i;
    int k;

    if (!json_is_object(f))
        return hd_err_set(err, HD_EINVAL,
                          "recipient.filter: must be an object");
    json_object_foreach(f, key, list)
    {
        for (k = 0; filter_keys[k] && strcmp(key, filter_keys[k]) != 0; k++)
            ;
        if (filter_keys[k] == NULL)
            return hd_err_set(err, HD_EINVAL,
                              "recipient.filter.%.64s: unknown list", key);
        if (!json_is_array(list) || json_array_size(list) > HD_LIST_MAX)
            return hd_err_set(err, HD_EINVAL,
                              "recipient.filter.%s: must be an array of at "
                              "most %d strings",
                              key, HD_LIST_MAX);
        json_array_foreach(list, i, v)
        {
            if (!json_is_string(v) || json_string_length(v) == 0 ||
                json_string_length(v) > HD_CHANNEL_MAX)
                return hd_err_set(err, HD_EINVAL,
                                  "recipient.filter.%s[%zu]: must be a string "
                                  "of 1 to %d characters",
                                  key, i, HD_CHANNEL_MAX);
        }
    }
    return 0;
}

static int
check_recipient_values(enum hd_recipient_kind k, json_t *values,
                       struct hd_err *err)
{
    const char *key = hd_recipient_key(k);
    size_t i;
    json_t *v;

    if (k == HD_RCPT_FILTER)
        return check_filter(values, err);
    if (!hd_recipient_is_list(k)) {
        if (!json_is_string(values) || json_string_length(values) == 0 ||
            json_string_length(values) > TOPIC_MAX)
            return hd_err_set(err, HD_EINVAL,
                              "recipient.%s: must be a string of 1 to %d "
                              "characters",
                              key, TOPIC_MAX);
        return 0;
    }
    if (!json_is_array(values) || json_array_size(values) == 0 ||
        json_array_size(values) > HD_LIST_MAX)
        return hd_err_set(err, HD_EINVAL,
                          "recipient.%s: must be an array of 1 to %d strings",
                          key, HD_LIST_MAX);
    json_array_foreach(values, i, v)
    {
        if (!json_is_string(v) || json_string_length(v) == 0 ||
            json_string_length(v) > recipient_item_max(k))
            return hd_err_set(err, HD_EINVAL,
                              "recipient.%s[%zu]: must be a string of 1 to "
                              "%zu characters",
                              key, i, recipient_item_max(k));
    }
    return 0;
}

int
hd_msg_request_encode(const struct hd_msg_request *r, struct hd_buf *out,
                      struct hd_err *err)
{
    json_t *o;
    json_t *filter;

    if ((unsigned)r->kind >= HD_RCPT__COUNT)
        return hd_err_set(err, HD_EINVAL, "recipient: unknown kind");
    if (check_recipient_values(r->kind, r->values, err) < 0 ||
        check_notification_object(r->notification, "notification", err) < 0)
        return -1;
    o = json_pack("{s:i,s:s,s:s,s:I,s:I,s:{s:O},s:O}", "v", HD_MSG_VERSION,
                  "uid", r->uid, "app", r->app ? r->app : "default",
                  "created_ms", (json_int_t)r->created_ms, "expire_at_ms",
                  (json_int_t)r->expire_at_ms, "recipient",
                  hd_recipient_key(r->kind), r->values, "notification",
                  r->notification);
    if (o == NULL)
        return hd_err_set(err, HD_EINVAL, "cannot build request record");
    filter = json_object();
    if (r->exclude_identifiers && json_array_size(r->exclude_identifiers))
        json_object_set(filter, "exclude_identifiers", r->exclude_identifiers);
    if (r->client_type)
        json_object_set_new(filter, "client_type",
                            json_integer(r->client_type));
    if (r->installation_id)
        json_object_set_new(filter, "installation_id",
                            json_string(r->installation_id));
    if (json_object_size(filter))
        json_object_set_new(o, "filter", filter);
    else
        json_decref(filter);
    if (r->personal)
        json_object_set(o, "personal", r->personal);
    if (r->part)
        json_object_set_new(o, "part", json_string(r->part));
    if (r->skip_online)
        json_object_set_new(o, "skip_online", json_true());
    return finish(o, out, err);
}

int
hd_msg_request_decode(const void *data, size_t len, struct hd_msg_request *r,
                      struct hd_err *err)
{
    json_t *o = open_record(data, len, err);
    json_t *rcpt = NULL, *filter = NULL, *n = NULL, *ex = NULL, *pers = NULL;
    long long ct = 0;
    const char *key;
    json_t *val;
    int found = 0;
    int k;

    memset(r, 0, sizeof(*r));
    if (o == NULL)
        return -1;
    if (take_str(o, "uid", 1, HD_ID_MAX, &r->uid, err) < 0 ||
        take_str(o, "app", 0, HD_ID_MAX, &r->app, err) < 0 ||
        take_i64(o, "created_ms", 0, &r->created_ms, err) < 0 ||
        take_i64(o, "expire_at_ms", 0, &r->expire_at_ms, err) < 0 ||
        hd_json_obj(o, "", "recipient", 1, &rcpt, err) < 0 ||
        hd_json_obj(o, "", "notification", 1, &n, err) < 0 ||
        hd_json_obj(o, "", "filter", 0, &filter, err) < 0 ||
        hd_json_obj(o, "", "personal", 0, &pers, err) < 0 ||
        take_str(o, "part", 0, HD_PART_MAX, &r->part, err) < 0 ||
        hd_json_bool(o, "", "skip_online", 0, &r->skip_online, err) < 0)
        goto fail;
    r->personal = pers ? json_incref(pers) : NULL;
    if (r->app == NULL)
        r->app = hd_xstrdup("default");
    json_object_foreach(rcpt, key, val)
    {
        for (k = 0; k < HD_RCPT__COUNT; k++) {
            if (strcmp(key, hd_recipient_key((enum hd_recipient_kind)k)) != 0)
                continue;
            if (found++) {
                hd_err_set(err, HD_EINVAL,
                           "recipient: exactly one kind allowed");
                goto fail;
            }
            if (check_recipient_values((enum hd_recipient_kind)k, val, err) < 0)
                goto fail;
            r->kind = (enum hd_recipient_kind)k;
            r->values = json_incref(val);
        }
    }
    if (!found) {
        hd_err_set(err, HD_EINVAL, "recipient: no known recipient kind");
        goto fail;
    }
    if (filter) {
        if (hd_json_str_array(filter, "filter", "exclude_identifiers", 0,
                              HD_LIST_MAX, HD_ID_MAX, &ex, err) < 0 ||
            hd_json_int(filter, "filter", "client_type", 0, 0, 5, &ct, err) <
                0 ||
            take_str(filter, "installation_id", 0, HD_ID_MAX,
                     &r->installation_id, err) < 0)
            goto fail;
        r->exclude_identifiers = ex ? json_incref(ex) : NULL;
        r->client_type = (int)ct;
    }
    r->notification = json_incref(n);
    json_decref(o);
    return 0;
fail:
    json_decref(o);
    hd_msg_request_release(r);
    return -1;
}

void
hd_msg_request_release(struct hd_msg_request *r)
{
    free(r->uid);
    free(r->app);
    free(r->installation_id);
    json_decref(r->values);
    json_decref(r->exclude_identifiers);
    json_decref(r->notification);
    json_decref(r->personal);
    free(r->part);
    memset(r, 0, sizeof(*r));
}

/* ---- deliveries -------------------------------------------------------- */

void
hd_msg_delivery_add_token(struct hd_msg_delivery *d, const char *token,
                          const char *device)
{
    if (d->ntokens == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 16;
        d->tokens = hd_xrealloc(d->tokens, d->cap * sizeof(*d->tokens));
    }
    d->tokens[d->ntokens].token = hd_xstrdup(token);
    d->tokens[d->ntokens].device = device ? hd_xstrdup(device) : NULL;
    d->ntokens++;
}

/* One token entry, after a comma unless first. A token that is not UTF-8
 * is left out (1), as building it with jansson left it out; a device id
 * that is not is written null. 0, 1, or -1 (HD_ETOOBIG). */
static int
put_token(struct hd_buf *out, const struct hd_msg_token *t, int first,
          struct hd_err *err)
{
    size_t start = out->len;
    struct hd_err bad = {0};

    if (hd_buf_puts(out, first ? "{\"token\":" : ",{\"token\":", err) < 0)
        return -1;
    if (hd_json_put_str(out, t->token, &bad) < 0) {
        out->len = start;
        out->data[start] = '\0';
        return bad.code == HD_EINVAL ? 1
                                     : hd_err_set(err, bad.code, "%s", bad.msg);
    }
    if (hd_buf_puts(out, ",\"device\":", err) < 0)
        return -1;
    if (t->device == NULL || hd_json_put_str(out, t->device, &bad) < 0) {
        if (bad.code != HD_EOK && bad.code != HD_EINVAL)
            return hd_err_set(err, bad.code, "%s", bad.msg);
        if (hd_buf_puts(out, "null", err) < 0)
            return -1;
    }
    return hd_buf_putc(out, '}', err);
}

/* Dumps the head o (taken) and appends the tokens written directly: a
 * batch's hundreds of tokens never become jansson objects. The record is
 * the one jansson would write, "tokens" last. */
static int
finish_tokens(json_t *o, const struct hd_msg_delivery *d, struct hd_buf *out,
              struct hd_err *err)
{
    size_t start = out->len, i;
    int rc, first = 1;

    if (finish(o, out, err) < 0)
        return -1;
    out->len--; /* the head's closing brace comes after the tokens */
    rc = hd_buf_puts(out, ",\"tokens\":[", err);
    for (i = 0; i < d->ntokens && rc >= 0; i++) {
        rc = put_token(out, &d->tokens[i], first, err);
        if (rc == 0)
            first = 0;
    }
    if (rc >= 0)
        rc = hd_buf_puts(out, "]}", err);
    if (rc < 0) {
        out->len = start;
        if (out->data)
            out->data[start] = '\0';
        return -1;
    }
    return 0;
}

int
hd_msg_delivery_encode(const struct hd_msg_delivery *d, struct hd_buf *out,
                       struct hd_err *err)
{
    json_t *o;

    if ((unsigned)d->provider >= HD_PROVIDER__COUNT)
        return hd_err_set(err, HD_EINVAL, "provider: unknown");
    if (check_notification_object(d->notification, "notification", err) < 0)
        return -1;
    o = json_pack("{s:i,s:s,s:s,s:s,s:i,s:I,s:I,s:I,s:s,s:O}", "v",
                  HD_MSG_VERSION, "uid", d->uid, "app",
                  d->app ? d->app : "default", "provider",
                  hd_provider_name(d->provider), "attempt", d->attempt,
                  "not_before_ms", (json_int_t)d->not_before_ms, "expire_at_ms",
                  (json_int_t)d->expire_at_ms, "created_ms",
                  (json_int_t)d->created_ms, "recipient_type",
                  hd_rcpt_type_name(d->rtype), "notification", d->notification);
    if (o == NULL)
        return hd_err_set(err, HD_EINVAL, "cannot build delivery record");
    switch (d->rtype) {
    case HD_RT_DEVICE:
        if (d->ntokens == 0 ||
            d->ntokens > hd_provider_batch_max(d->provider)) {
            json_decref(o);
            return hd_err_set(err, HD_EINVAL,
                              "tokens: must hold 1 to %zu entries",
                              hd_provider_batch_max(d->provider));
        }
        return finish_tokens(o, d, out, err);
    case HD_RT_TOPIC:
        json_object_set_new(o, "topic", json_string(d->topic ? d->topic : ""));
        break;
    case HD_RT_CONDITION:
        json_object_set_new(o, "condition",
                            json_string(d->condition ? d->condition : ""));
        break;
    }
    return finish(o, out, err);
}

static int
decode_tokens(json_t *o, struct hd_msg_delivery *d, struct hd_err *err)
{
    size_t max = hd_provider_batch_max(d->provider);
    size_t tmax = hd_provider_token_max(d->provider);
    json_t *arr = json_object_get(o, "tokens");
    json_t *t;
    size_t i;

    if (!json_is_array(arr) || json_array_size(arr) == 0 ||
        json_array_size(arr) > max)
        return hd_err_set(err, HD_EINVAL,
                          "tokens: must be an array of 1 to %zu entries", max);
    json_array_foreach(arr, i, t)
    {
        const char *tok = NULL, *dev = NULL;
        char path[32];

        snprintf(path, sizeof(path), "tokens[%zu]", i);
        if (!json_is_object(t))
            return hd_err_set(err, HD_EINVAL, "%s: must be an object", path);
        if (hd_json_str(t, path, "token", 1, tmax, &tok, err) < 0 ||
            hd_json_str(t, path, "device", 0, HD_ID_MAX, &dev, err) < 0)
            return -1;
        if (*tok == '\0')
            return hd_err_set(err, HD_EINVAL, "%s.token: empty", path);
        hd_msg_delivery_add_token(d, tok, dev);
    }
    return 0;
}

int
hd_msg_delivery_decode(const void *data, size_t len, struct hd_msg_delivery *d,
                       struct hd_err *err)
{
    json_t *o = open_record(data, len, err);
    const char *prov = NULL, *rt = NULL;
    long long attempt = 0;
    json_t *n = NULL;

    memset(d, 0, sizeof(*d));
    if (o == NULL)
        return -1;
    if (take_str(o, "uid", 1, HD_ID_MAX, &d->uid, err) < 0 ||
        take_str(o, "app", 0, HD_ID_MAX, &d->app, err) < 0 ||
        hd_json_str(o, "", "provider", 1, 16, &prov, err) < 0 ||
        hd_json_int(o, "", "attempt", 0, 0, 1000, &attempt, err) < 0 ||
        take_i64(o, "not_before_ms", 0, &d->not_before_ms, err) < 0 ||
        take_i64(o, "expire_at_ms", 0, &d->expire_at_ms, err) < 0 ||
        take_i64(o, "created_ms", 0, &d->created_ms, err) < 0 ||
        hd_json_str(o, "", "recipient_type", 0, 16, &rt, err) < 0 ||
        hd_json_obj(o, "", "notification", 1, &n, err) < 0)
        goto fail;
    if (d->app == NULL)
        d->app = hd_xstrdup("default");
    if (hd_provider_parse(prov, &d->provider) < 0) {
        hd_err_set(err, HD_EINVAL, "provider: unknown \"%s\"", prov);
        goto fail;
    }
    d->attempt = (int)attempt;
    if (rt == NULL || strcmp(rt, "device") == 0) {
        d->rtype = HD_RT_DEVICE;
        if (decode_tokens(o, d, err) < 0)
            goto fail;
    } else if (strcmp(rt, "topic") == 0) {
        d->rtype = HD_RT_TOPIC;
        if (take_str(o, "topic", 1, TOPIC_MAX, &d->topic, err) < 0)
            goto fail;
    } else if (strcmp(rt, "condition") == 0) {
        d->rtype = HD_RT_CONDITION;
        if (take_str(o, "condition", 1, TOPIC_MAX, &d->condition, err) < 0)
            goto fail;
    } else {
        hd_err_set(err, HD_EINVAL, "recipient_type: unknown \"%s\"", rt);
        goto fail;
    }
    d->notification = json_incref(n);
    json_decref(o);
    return 0;
fail:
    json_decref(o);
    hd_msg_delivery_release(d);
    return -1;
}

void
hd_msg_delivery_release(struct hd_msg_delivery *d)
{
    size_t i;

    for (i = 0; i < d->ntokens; i++) {
        free(d->tokens[i].token);
        free(d->tokens[i].device);
    }
    free(d->tokens);
    free(d->uid);
    free(d->app);
    free(d->topic);
    free(d->condition);
    json_decref(d->notification);
    memset(d, 0, sizeof(*d));
}

/* ---- feedback ---------------------------------------------------------- */

static json_t *
str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

int
hd_msg_feedback_encode(const struct hd_msg_feedback *f, struct hd_buf *out,
                       struct hd_err *err)
{
    json_t *o = json_pack(
        "{s:i,s:s,s:s,s:s,s:o,s:o,s:s,s:s,s:i,s:i,s:I}", "v", HD_MSG_VERSION,
        "uid", f->uid ? f->uid : "", "app", f->app ? f->app : "default",
        "provider", hd_provider_name(f->provider), "device",
        str_or_null(f->device), "token", str_or_null(f->token), "outcome",
        hd_outcome_name(f->outcome), "code", f->code ? f->code : "",
        "http_status", f->http_status, "attempt", f->attempt, "ts_ms",
        (json_int_t)f->ts_ms);

    return finish(o, out, err);
}

int
hd_msg_feedback_decode(const void *data, size_t len, struct hd_msg_feedback *f,
                       struct hd_err *err)
{
    json_t *o = open_record(data, len, err);
    const char *prov = NULL, *outcome = NULL;
    long long st = 0, attempt = 0;

    memset(f, 0, sizeof(*f));
    if (o == NULL)
        return -1;
    if (take_str(o, "uid", 1, HD_ID_MAX, &f->uid, err) < 0 ||
        take_str(o, "app", 0, HD_ID_MAX, &f->app, err) < 0 ||
        hd_json_str(o, "", "provider", 1, 16, &prov, err) < 0 ||
        take_str(o, "device", 0, HD_ID_MAX, &f->device, err) < 0 ||
        take_str(o, "token", 0, HD_TOKEN_MAX_FCM, &f->token, err) < 0 ||
        hd_json_str(o, "", "outcome", 1, 32, &outcome, err) < 0 ||
        take_str(o, "code", 0, 256, &f->code, err) < 0 ||
        hd_json_int(o, "", "http_status", 0, 0, 999, &st, err) < 0 ||
        hd_json_int(o, "", "attempt", 0, 0, 1000, &attempt, err) < 0 ||
        take_i64(o, "ts_ms", 0, &f->ts_ms, err) < 0)
        goto fail;
    if (f->app == NULL)
        f->app = hd_xstrdup("default");
    if (hd_provider_parse(prov, &f->provider) < 0) {
        hd_err_set(err, HD_EINVAL, "provider: unknown \"%s\"", prov);
        goto fail;
    }
    if (hd_outcome_parse(outcome, &f->outcome) < 0) {
        hd_err_set(err, HD_EINVAL, "outcome: unknown \"%s\"", outcome);
        goto fail;
    }
    f->http_status = (int)st;
    f->attempt = (int)attempt;
    json_decref(o);
    return 0;
fail:
    json_decref(o);
    hd_msg_feedback_release(f);
    return -1;
}

void
hd_msg_feedback_release(struct hd_msg_feedback *f)
{
    free(f->uid);
    free(f->app);
    free(f->device);
    free(f->token);
    free(f->code);
    memset(f, 0, sizeof(*f));
}

/* ---- dead letters ------------------------------------------------------ */

int
hd_msg_dlq_encode(const char *source_topic, const char *reason, const char *uid,
                  const void *original, size_t len, int64_t ts_ms,
                  struct hd_buf *out, struct hd_err *err)
{
    json_t *orig = json_loadb(original, len, 0, NULL);
    json_t *o;

    if (orig == NULL) {
        /* not JSON: keep the bytes as text, invalid UTF-8 replaced */
        char *text = hd_xmemdup(original, len);
        size_t i;

        for (i = 0; i < len; i++)
            if ((unsigned char)text[i] >= 0x80 || text[i] == '\0')
                text[i] = '?';
        orig = json_string(text);
        free(text);
    }
    o = json_pack("{s:i,s:s,s:s,s:o,s:o,s:I}", "v", HD_MSG_VERSION,
                  "source_topic", source_topic, "reason", reason, "uid",
                  str_or_null(uid), "original", orig, "ts_ms",
                  (json_int_t)ts_ms);
    return finish(o, out, err);
}
