/* relay_model.c -- the relay's request models (specs/bitwarden.md §4.3),
 * read the way ASP.NET binds them: member names case-insensitively, null
 * the same as absent, errors in upstream's ErrorResponseModel shape.
 *
 * It also owns the tenancy rule: every id a caller sends is prefixed with
 * its installation id here, and an id that already looks prefixed is
 * refused, so nothing that leaves this file can name another
 * installation's rows. Pure functions: no I/O, no logging, thread-safe. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "proto/bitwarden.h"
#include "core/json.h"
#include "core/rand.h"
#include "services/relay/relay.h"
#include "webpush/guard.h"
#include "webpush/sub.h"
#include "core/banned.h"

int
relay_fail_set(struct relay_fail *f, int status, const char *field,
               const char *fmt, ...)
{
    va_list ap;

    f->status = status;
    snprintf(f->field, sizeof(f->field), "%s", field ? field : "");
    va_start(ap, fmt);
    if (field != NULL) {
        snprintf(f->message, sizeof(f->message), "%s",
                 "The model state is invalid.");
        vsnprintf(f->detail, sizeof(f->detail), fmt, ap);
    } else {
        vsnprintf(f->message, sizeof(f->message), fmt, ap);
        f->detail[0] = '\0';
    }
    va_end(ap);
    return -1;
}

json_t *
relay_error_body(const struct relay_fail *f)
{
    json_t *ve = json_null();

    if (f->field[0] != '\0')
        ve = json_pack("{s:[s]}", f->field, f->detail);
    return json_pack("{s:s,s:o,s:n,s:n,s:n,s:s}", "message", f->message,
                     "validationErrors", ve, "exceptionMessage",
                     "exceptionStackTrace", "innerExceptionMessage", "object",
                     "error");
}

int
relay_is_guid(const char *s)
{
    size_t i;

    if (s == NULL || strlen(s) != RELAY_GUID_LEN)
        return 0;
    for (i = 0; i < RELAY_GUID_LEN; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return 0;
        } else if (!isxdigit((unsigned char)s[i])) {
            return 0;
        }
    }
    return 1;
}

/* "<guid>_..." is the shape of an id that is already prefixed. */
static int
looks_prefixed(const char *s)
{
    char head[RELAY_GUID_LEN + 1];

    if (strlen(s) <= RELAY_GUID_LEN || s[RELAY_GUID_LEN] != '_')
        return 0;
    memcpy(head, s, RELAY_GUID_LEN);
    head[RELAY_GUID_LEN] = '\0';
    return relay_is_guid(head);
}

int
relay_prefix(const char *inst, const char *raw, const char *field,
             char out[HD_ID_MAX + 1], struct relay_fail *f)
{
    size_t i, n = strlen(raw);

    if (n == 0)
        return relay_fail_set(f, 400, field, "The %s field is required.",
                              field);
    if (n > RELAY_RAW_ID_MAX)
        return relay_fail_set(f, 400, field,
                              "The field %s must be a string with a maximum "
                              "length of %d.",
                              field, RELAY_RAW_ID_MAX);
    for (i = 0; i < n; i++)
        if ((unsigned char)raw[i] < 0x20 || raw[i] == 0x7f)
            return relay_fail_set(
                f, 400, field, "The %s field has control characters.", field);
    if (looks_prefixed(raw))
        return relay_fail_set(f, 400, field,
                              "The %s field must not carry an installation "
                              "prefix.",
                              field);
    snprintf(out, HD_ID_MAX + 1, "%s_%s", inst, raw);
    return 0;
}

int
relay_prefix_guid(const char *inst, const char *raw, const char *field,
                  char out[HD_ID_MAX + 1], struct relay_fail *f)
{
    size_t i, n;

    if (*raw != '\0' && !relay_is_guid(raw))
        return relay_fail_set(f, 400, field,
                              "The %s field is not a valid GUID.", field);
    if (relay_prefix(inst, raw, field, out, f) < 0)
        return -1;
    /* Guid.ToString() is lowercase: /push/send finds it that way */
    n = strlen(out);
    for (i = n - RELAY_GUID_LEN; i < n; i++)
        out[i] = (char)tolower((unsigned char)out[i]);
    return 0;
}

void
relay_app_of(const char *inst, char out[RELAY_APP_MAX + 1])
{
    snprintf(out, RELAY_APP_MAX + 1, "%s%s", RELAY_APP_PREFIX, inst);
}

/* ---- application/x-www-form-urlencoded -------------------------------- */

static int
hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes s[0..n) into out; -1 on a bad escape or overflow. */
static int
form_decode(const char *s, size_t n, char *out, size_t outlen)
{
    size_t i, o = 0;

    for (i = 0; i < n; i++) {
        int c = (unsigned char)s[i];

        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            int hi, lo;

            if (i + 2 >= n)
                return -1;
            hi = hexval(s[i + 1]);
            lo = hexval(s[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            c = hi * 16 + lo;
            i += 2;
        }
        if (c == 0 || o + 1 >= outlen)
            return -1;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return 0;
}

int
relay_form_get(const char *body, size_t len, const char *name, char *out,
               size_t outlen)
{
    const char *p = body, *end = body + len;
    size_t nlen = strlen(name);

    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *eq;
        char key[64];

        if (amp == NULL)
            amp = end;
        eq = memchr(p, '=', (size_t)(amp - p));
        if (eq != NULL &&
            form_decode(p, (size_t)(eq - p), key, sizeof(key)) == 0 &&
            strlen(key) == nlen && memcmp(key, name, nlen) == 0)
            return form_decode(eq + 1, (size_t)(amp - eq - 1), out, outlen) < 0
                       ? -1
                       : 1;
        p = amp + 1;
    }
    return 0;
}

/* ---- JSON members ------------------------------------------------------ */

/* A string member: 1 found (*out borrowed), 0 absent or null, -1 with f
 * (wrong type, or absent and required). */
static int
get_str(json_t *body, const char *field, int required, const char **out,
        struct relay_fail *f)
{
    json_t *v = hd_json_get_ci(body, field);

    *out = NULL;
    if (v == NULL || json_is_null(v)) {
        if (required)
            return relay_fail_set(f, 400, field, "The %s field is required.",
                                  field);
        return 0;
    }
    if (!json_is_string(v))
        return relay_fail_set(f, 400, field,
                              "The JSON value could not be converted to "
                              "System.String.");
    *out = json_string_value(v);
    return 1;
}

/* A GUID member (Guid?): 1, 0 absent or null, -1 with f. */
static int
get_guid(json_t *body, const char *field, const char **out,
         struct relay_fail *f)
{
    int rc = get_str(body, field, 0, out, f);

    if (rc == 1 && !relay_is_guid(*out))
        return relay_fail_set(f, 400, field,
                              "The JSON value could not be converted to "
                              "System.Nullable`1[System.Guid].");
    return rc;
}

/* An integer member in [lo, hi]: 1, 0 absent or null, -1 with f. */
static int
get_int(json_t *body, const char *field, int required, int lo, int hi, int *out,
        struct relay_fail *f)
{
    json_t *v = hd_json_get_ci(body, field);

    if (v == NULL || json_is_null(v)) {
        if (required)
            return relay_fail_set(f, 400, field, "The %s field is required.",
                                  field);
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < lo ||
        json_integer_value(v) > hi)
        return relay_fail_set(f, 400, field,
                              "The %s field must be an integer from %d to %d.",
                              field, lo, hi);
    *out = (int)json_integer_value(v);
    return 1;
}

/* ---- PushRegistrationRequestModel -------------------------------------- */

static int
check_token(const char *tok, enum hd_provider p, struct relay_fail *f)
{
    size_t i, n = strlen(tok);

    if (n == 0)
        return relay_fail_set(f, 400, "PushToken",
                              "The PushToken field is required.");
    if (n > hd_provider_token_max(p))
        return relay_fail_set(f, 400, "PushToken",
                              "The PushToken field is longer than %zu "
                              "characters.",
                              hd_provider_token_max(p));
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)tok[i];

        if (p == HD_PROVIDER_APNS ? !isxdigit(c) : (c <= 0x20 || c >= 0x7f))
            return relay_fail_set(f, 400, "PushToken",
                                  "The PushToken field is not a valid %s "
                                  "token.",
                                  p == HD_PROVIDER_APNS  ? "APNs"
                                  : p == HD_PROVIDER_ADM ? "ADM"
                                                         : "FCM");
    }
    return 0;
}

static int
org_channels(json_t *body, const char *inst, json_t **out, struct relay_fail *f)
{
    json_t *v = hd_json_get_ci(body, "OrganizationIds");
    json_t *item;
    size_t i;

    *out = json_array();
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_array(v))
        return relay_fail_set(f, 400, "OrganizationIds",
                              "The OrganizationIds field must be an array.");
    if (json_array_size(v) > RELAY_ORGS_MAX)
        return relay_fail_set(f, 400, "OrganizationIds",
                              "At most %d organizations.", RELAY_ORGS_MAX);
    json_array_foreach(v, i, item)
    {
        char id[HD_ID_MAX + 1], ch[HD_CHANNEL_MAX + 1];

        if (!json_is_string(item))
            return relay_fail_set(f, 400, "OrganizationIds",
                                  "OrganizationIds must hold strings.");
        if (relay_prefix_guid(inst, json_string_value(item), "OrganizationIds",
                              id, f) < 0)
            return -1;
        snprintf(ch, sizeof(ch), "org:%s", id);
        json_array_append_new(*out, json_string(ch));
    }
    return 0;
}

/* A browser (a Web or Browser client type) whose PushToken is a Web
 * Push subscription, as Herald's self-hosted herald-api relays the
 * web-push-auth devices: stored as a webpush device under its canonical
 * token, for the webpush worker behind this relay (whose SSRF guard checks
 * the endpoint again on every send). 0 not a subscription, 1 taken, -1
 * with f when it is one but malformed. */
static int
web_subscription(struct relay_register *r, struct relay_fail *f)
{
    int ct = hd_bw_client_type_of_device(r->device_type);
    struct hd_webpush_sub sub;
    struct hd_err err = {0};
    struct hd_buf canon;

    if ((ct != HD_BW_CLIENT_WEB && ct != HD_BW_CLIENT_BROWSER) ||
        r->token[0] != '{')
        return 0;
    if (hd_webpush_sub_parse(r->token, strlen(r->token), 1, &sub, NULL, &err) <
        0)
        return relay_fail_set(f, 400, "PushToken",
                              "not a Web Push subscription: %s", err.msg);
    hd_buf_init(&canon, HD_TOKEN_MAX_WEBPUSH);
    if (hd_webpush_sub_token(&sub, &canon, &err) < 0) {
        hd_buf_release(&canon);
        return relay_fail_set(f, 400, "PushToken", "%s", err.msg);
    }
    r->web = hd_buf_detach(&canon, NULL);
    r->token = r->web;
    r->provider = HD_PROVIDER_WEBPUSH;
    r->platform = "web";
    r->mobile = 1;
    return 1;
}

int
relay_register_parse(json_t *body, const char *inst, struct relay_register *r,
                     struct relay_fail *f)
{
    const char *dev, *user, *ident, *claimed = NULL;

    memset(r, 0, sizeof(*r));
    if (get_str(body, "DeviceId", 1, &dev, f) < 0 ||
        get_str(body, "PushToken", 1, &r->token, f) < 0 ||
        get_str(body, "UserId", 1, &user, f) < 0 ||
        get_int(body, "Type", 1, 0, 255, &r->device_type, f) < 0 ||
        get_str(body, "Identifier", 1, &ident, f) < 0 ||
        get_guid(body, "InstallationId", &claimed, f) < 0)
        goto fail;
    if (relay_prefix_guid(inst, dev, "DeviceId", r->id, f) < 0 ||
        relay_prefix_guid(inst, user, "UserId", r->user, f) < 0 ||
        relay_prefix(inst, ident, "Identifier", r->identifier, f) < 0 ||
        org_channels(body, inst, &r->channels, f) < 0)
        goto fail;
    /* upstream stores the claimed id as a raw tag; we refuse a foreign one
     * (it would let A's devices answer B's installation-wide sends) */
    if (claimed != NULL && strcasecmp(claimed, inst) != 0) {
        relay_fail_set(f, 400, NULL,
                       "InstallationId does not match current context.");
        goto fail;
    }
    if (hd_bw_device_provider(r->device_type, &r->provider, &r->platform) ==
        0) {
        r->mobile = 1;
        if (check_token(r->token, r->provider, f) < 0)
            goto fail;
    } else if (web_subscription(r, f) < 0) {
        goto fail;
    }
    return 0;
fail:
    relay_register_release(r);
    return -1;
}

int
relay_register_web_check(const struct relay_register *r,
                         const struct hd_webpush_guard *g, struct relay_fail *f)
{
    char origin[HD_WEBPUSH_ORIGIN_MAX];
    struct hd_webpush_sub sub;
    struct hd_err err = {0};

    if (r->web == NULL)
        return 0;
    if (g == NULL ||
        hd_webpush_sub_parse(r->web, strlen(r->web), 0, &sub, NULL, &err) < 0 ||
        hd_webpush_guard_endpoint(g, sub.endpoint, origin, sizeof(origin),
                                  &err) < 0)
        return relay_fail_set(f, 400, "PushToken",
                              "not a Web Push subscription: %s",
                              err.msg[0] ? err.msg : "no push services");
    return 0;
}

void
relay_register_release(struct relay_register *r)
{
    json_decref(r->channels);
    free(r->web);
    memset(r, 0, sizeof(*r));
}

/* ---- PushDeviceRequestModel, PushUpdateRequestModel -------------------- */

int
relay_device_parse(json_t *body, const char *inst, char out[HD_ID_MAX + 1],
                   struct relay_fail *f)
{
    const char *id;

    if (get_str(body, "Id", 1, &id, f) < 0)
        return -1;
    return relay_prefix(inst, id, "Id", out, f);
}

int
relay_update_parse(json_t *body, const char *inst, json_t **ids,
                   char channel[HD_CHANNEL_MAX + 1], struct relay_fail *f)
{
    json_t *devs = hd_json_get_ci(body, "Devices");
    char id[HD_ID_MAX + 1];
    const char *org;
    json_t *d;
    size_t i;

    *ids = NULL;
    if (devs == NULL || json_is_null(devs))
        return relay_fail_set(f, 400, "Devices",
                              "The Devices field is required.");
    if (!json_is_array(devs))
        return relay_fail_set(f, 400, "Devices",
                              "The Devices field must be an array.");
    if (json_array_size(devs) > RELAY_ORGS_MAX)
        return relay_fail_set(f, 400, "Devices", "At most %d devices.",
                              RELAY_ORGS_MAX);
    if (get_str(body, "OrganizationId", 1, &org, f) < 0 ||
        relay_prefix_guid(inst, org, "OrganizationId", id, f) < 0)
        return -1;
    snprintf(channel, HD_CHANNEL_MAX + 1, "org:%s", id);
    *ids = json_array();
    json_array_foreach(devs, i, d)
    {
        const char *raw;

        if (!json_is_object(d) || get_str(d, "Id", 1, &raw, f) < 0 ||
            relay_prefix_guid(inst, raw, "Id", id, f) < 0) {
            if (!json_is_object(d))
                relay_fail_set(f, 400, "Devices",
                               "Devices must hold {\"id\"} objects.");
            json_decref(*ids);
            *ids = NULL;
            return -1;
        }
        json_array_append_new(*ids, json_string(id));
    }
    return 0;
}

/* ---- PushSendRequestModel ---------------------------------------------- */

/* "<inst>_<guid in lowercase>" into out. */
static void
guid_lower(const char *inst, const char *guid, char out[HD_ID_MAX + 1])
{
    size_t i, n;

    n = (size_t)snprintf(out, HD_ID_MAX + 1, "%s_%s", inst, guid);
    for (i = n - RELAY_GUID_LEN; i < n; i++)
        out[i] = (char)tolower((unsigned char)out[i]);
}

int
relay_send_parse(json_t *body, const char *inst, const char *app,
                 int64_t now_ms, struct hd_msg_request *r, int *type_out,
                 struct relay_fail *f)
{
    const char *user, *org, *dev, *ident, *target_inst;
    char id[HD_ID_MAX + 1], ch[HD_CHANNEL_MAX + 1], uid[37];
    struct hd_err err = {0};
    json_t *payload;
    int type = 0, ct = 0;

    memset(r, 0, sizeof(*r));
    if (get_guid(body, "UserId", &user, f) < 0 ||
        get_guid(body, "OrganizationId", &org, f) < 0 ||
        get_guid(body, "DeviceId", &dev, f) < 0 ||
        get_guid(body, "InstallationId", &target_inst, f) < 0 ||
        get_str(body, "Identifier", 0, &ident, f) < 0 ||
        get_int(body, "Type", 1, 0, 255, &type, f) < 0 ||
        get_int(body, "ClientType", 0, 0, 5, &ct, f) < 0)
        return -1;
    payload = hd_json_get_ci(body, "Payload");
    if (payload == NULL || json_is_null(payload))
        return relay_fail_set(f, 400, "Payload",
                              "The Payload field is required.");
    *type_out = type;
    if (!hd_bw_type_known(type))
        return 1; /* a newer PushType: the caller drops it */
    if (user == NULL && org == NULL && target_inst == NULL)
        return relay_fail_set(f, 400, "UserId",
                              "UserId or OrganizationId or InstallationId is "
                              "required.");
    if (target_inst != NULL && strcasecmp(target_inst, inst) != 0)
        return relay_fail_set(f, 400, NULL,
                              "InstallationId does not match current "
                              "context.");
    if (ident != NULL && *ident != '\0' &&
        relay_prefix(inst, ident, "Identifier", id, f) < 0)
        return -1;
    if (ident != NULL && *ident != '\0')
        r->exclude_identifiers = json_pack("[s]", id);
    r->notification = hd_bw_mobile_notification(type, payload, NULL, &err);
    if (r->notification == NULL) {
        hd_msg_request_release(r);
        return relay_fail_set(f, 400, "Payload", "%s", err.msg);
    }
    if (target_inst != NULL) {
        snprintf(ch, sizeof(ch), "installation:%s", inst);
        r->kind = HD_RCPT_CHANNELS;
        r->values = json_pack("[s]", ch);
    } else if (user != NULL) {
        guid_lower(inst, user, id); /* Guid.ToString() is lowercase */
        r->kind = HD_RCPT_USERS;
        r->values = json_pack("[s]", id);
    } else {
        guid_lower(inst, org, id);
        snprintf(ch, sizeof(ch), "org:%s", id);
        r->kind = HD_RCPT_CHANNELS;
        r->values = json_pack("[s]", ch);
    }
    hd_uuid4(uid);
    r->uid = hd_xstrdup(uid);
    r->app = hd_xstrdup(app);
    r->created_ms = now_ms;
    r->client_type = ct;
    r->installation_id = hd_xstrdup(inst);
    return 0;
}
