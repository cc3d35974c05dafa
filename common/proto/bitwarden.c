/* bitwarden.c -- Bitwarden device types, hub routing and mobile payloads.
 *
 * The tables follow bitwarden/server (DeviceTypes.ToClientType,
 * HubHelpers.SendNotificationToHubAsync) as transcribed in
 * the upstream sources. A type missing from the routing table is refused
 * here rather than guessed; callers check hd_bw_type_known() first and,
 * as upstream, log, count and drop a type they do not know. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "proto/bitwarden.h"
#include "core/config.h"
#include "core/json.h"
#include "core/limits.h"
#include "core/banned.h"

static const char *const device_type_names[] = {"Android",
                                                "iOS",
                                                "ChromeExtension",
                                                "FirefoxExtension",
                                                "OperaExtension",
                                                "EdgeExtension",
                                                "WindowsDesktop",
                                                "MacOsDesktop",
                                                "LinuxDesktop",
                                                "ChromeBrowser",
                                                "FirefoxBrowser",
                                                "OperaBrowser",
                                                "EdgeBrowser",
                                                "IEBrowser",
                                                "UnknownBrowser",
                                                "AndroidAmazon",
                                                "UWP",
                                                "SafariBrowser",
                                                "VivaldiBrowser",
                                                "VivaldiExtension",
                                                "SafariExtension",
                                                "SDK",
                                                "Server",
                                                "WindowsCLI",
                                                "MacOsCLI",
                                                "LinuxCLI",
                                                "DuckDuckGoBrowser"};

#define NDEVICE_TYPES (sizeof(device_type_names) / sizeof(device_type_names[0]))

/* ToClientType, indexed by device type. */
static const unsigned char client_of_device[NDEVICE_TYPES] = {
    4, 4, 2, 2, 2, 2, 3, 3, 3, 1, 1, 1, 1, 1,
    1, 4, 3, 1, 1, 2, 2, 0, 0, 5, 5, 5, 1};

static const char *const client_names[] = {"All",     "Web",    "Browser",
                                           "Desktop", "Mobile", "Cli"};

int
hd_bw_device_type_valid(int device_type)
{
    return device_type >= 0 && (size_t)device_type < NDEVICE_TYPES;
}

int
hd_bw_client_type_of_device(int device_type)
{
    if (!hd_bw_device_type_valid(device_type))
        return HD_BW_CLIENT_ALL;
    return client_of_device[device_type];
}

int
hd_bw_device_provider(int device_type, enum hd_provider *provider,
                      const char **platform)
{
    switch (device_type) {
    case 0: /* Android */
        *provider = HD_PROVIDER_FCM;
        *platform = "android";
        return 0;
    case 1: /* iOS */
        *provider = HD_PROVIDER_APNS;
        *platform = "ios";
        return 0;
    case 15: /* AndroidAmazon: Fire OS is Android */
        *provider = HD_PROVIDER_ADM;
        *platform = "android";
        return 0;
    default:
        return -1;
    }
}

int
hd_bw_device_type_parse(const char *s)
{
    size_t i;
    int n;

    if (s == NULL)
        return -1;
    if (hd_parse_int(s, 0, (int)NDEVICE_TYPES - 1, &n) == 0)
        return n;
    for (i = 0; i < NDEVICE_TYPES; i++)
        if (strcasecmp(s, device_type_names[i]) == 0)
            return (int)i;
    return -1;
}

const char *
hd_bw_client_type_name(int client_type)
{
    if (client_type < 0 || client_type > 5)
        return "All";
    return client_names[client_type];
}

/* A GUID-ish id from the payload, case-insensitive key; NULL if absent. */
static const char *
payload_id(json_t *payload, const char *key)
{
    json_t *v = hd_json_get_ci(payload, key);

    if (!json_is_string(v) || json_string_length(v) == 0 ||
        json_string_length(v) > HD_ID_MAX)
        return NULL;
    return json_string_value(v);
}

int
hd_bw_is_guid(const char *s)
{
    size_t i;

    for (i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return 0;
        } else if (!isxdigit((unsigned char)s[i])) {
            return 0;
        }
    }
    return s[36] == '\0';
}

void
hd_bw_guid_normalize(char *s)
{
    size_t i;

    if (s == NULL || !hd_bw_is_guid(s))
        return;
    for (i = 0; i < 36; i++)
        s[i] = (char)tolower((unsigned char)s[i]);
}

static int
set_target(enum hd_event_target t, const char *id, int ct,
           enum hd_event_target *target, char **target_id, int *client_type)
{
    *target = t;
    *target_id = hd_xstrdup(id);
    hd_bw_guid_normalize(*target_id);
    *client_type = ct;
    return 0;
}

int
hd_bw_route(json_t *notification, enum hd_event_target *target,
            char **target_id, int *client_type, struct hd_err *err)
{
    json_t *type_v = hd_json_get_ci(notification, "Type");
    json_t *payload = hd_json_get_ci(notification, "Payload");
    json_t *parsed = NULL;
    const char *user, *org, *inst, *id;
    long long type;
    long long ct = 0;
    json_t *ctv;
    int rc = -1;

    if (!json_is_integer(type_v))
        return hd_err_set(err, HD_EINVAL, "Type: must be an integer");
    type = json_integer_value(type_v);
    if (json_is_string(payload)) {
        parsed = json_loads(json_string_value(payload), 0, NULL);
        payload = parsed;
    }
    if (!json_is_object(payload)) {
        json_decref(parsed);
        return hd_err_set(err, HD_EINVAL, "Payload: must be an object");
    }
    user = payload_id(payload, "UserId");
    org = payload_id(payload, "OrganizationId");
    inst = payload_id(payload, "InstallationId");
    ctv = hd_json_get_ci(payload, "ClientType");
    if (json_is_integer(ctv))
        ct = json_integer_value(ctv);
    if (ct < 0 || ct > 5)
        ct = 0;

    switch (type) {
    case 0:
    case 1:
    case 2:
    case 9: /* ciphers: user, else organization */
        if (user)
            rc = set_target(HD_TARGET_USER, user, 0, target, target_id,
                            client_type);
        else if (org)
            rc = set_target(HD_TARGET_ORGANIZATION, org, 0, target, target_id,
                            client_type);
        break;
    case 3:
    case 7:
    case 8: /* folders */
    case 4:
    case 5:
    case 6:
    case 10:
    case 11:
    case 17: /* user updates */
    case 12:
    case 13:
    case 14: /* sends */
    case 15: /* auth request */
    case 22:
    case 26:
    case 27:
        if (user)
            rc = set_target(HD_TARGET_USER, user, 0, target, target_id,
                            client_type);
        break;
    case 16: /* auth request response: the anonymous hub */
        id = payload_id(payload, "Id");
        if (id)
            rc = set_target(HD_TARGET_AUTH_REQUEST, id, 0, target, target_id,
                            client_type);
        break;
    case 18:
    case 19:
    case 23:
    case 25:
        if (org)
            rc = set_target(HD_TARGET_ORGANIZATION, org, 0, target, target_id,
                            client_type);
        break;
    case 20:
    case 21: /* notification center */
        if (inst)
            rc = set_target(HD_TARGET_INSTALLATION, inst, (int)ct, target,
                            target_id, client_type);
        else if (user)
            rc = set_target(HD_TARGET_USER, user, (int)ct, target, target_id,
                            client_type);
        else if (org)
            rc = set_target(HD_TARGET_ORGANIZATION, org, (int)ct, target,
                            target_id, client_type);
        break;
    case 24:
        id = payload_id(payload, "AdminId");
        if (id)
            rc = set_target(HD_TARGET_USER, id, 0, target, target_id,
                            client_type);
        break;
    default:
        json_decref(parsed);
        return hd_err_set(err, HD_EINVAL, "Type %lld: no route", type);
    }
    json_decref(parsed);
    if (rc < 0)
        return hd_err_set(err, HD_EINVAL,
                          "Type %lld: payload lacks the id it routes by", type);
    return 0;
}

int
hd_bw_type_known(long long type)
{
    return type >= 0 && type <= HD_BW_TYPE_LAST;
}

/* Bytes of v serialised compactly, as the workers send it. */
static size_t
dumped_size(const json_t *v)
{
    return json_dumpb(v, NULL, 0, JSON_COMPACT);
}

/* Each mobile provider's part, as its worker sends it, within the
 * provider's limit: FCM's data message, the APNs payload, HMS's message
 * (the token and target are not counted, as the workers do not count
 * them). The Web Push part is not checked here: see drop_big_web(). */
static int
check_sizes(json_t *n, struct hd_err *err)
{
    static const struct {
        const char *provider, *part, *what;
        size_t max;
    } parts[] = {
        {"fcm", "message", "FCM data message", HD_PAYLOAD_MAX_FCM},
        {"apns", "payload", "APNs payload", HD_PAYLOAD_MAX_APNS},
        {"hms", "message", "HMS message", HD_PAYLOAD_MAX_HMS},
    };
    size_t i, size;

    for (i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
        size = dumped_size(json_object_get(
            json_object_get(n, parts[i].provider), parts[i].part));
        if (size > parts[i].max)
            return hd_err_set(err, HD_ETOOBIG,
                              "Payload: %zu bytes in the %s, the limit is %zu "
                              "bytes",
                              size, parts[i].what, parts[i].max);
    }
    return 0;
}

/* A Web Push part over the plaintext limit (3993 bytes: less room than
 * the mobile providers' 4096) is left out, so the event still reaches
 * every phone and only browsers miss it (their batches are skipped when
 * the part is absent). Refusing the whole event instead would drop pushes
 * for phones that fit, and the relay's devices are never browsers. */
static void
drop_big_web(json_t *n)
{
    json_t *web = json_object_get(json_object_get(n, "webpush"), "payload");

    if (dumped_size(web) > HD_PAYLOAD_MAX_WEBPUSH)
        json_object_del(n, "webpush");
}

json_t *
hd_bw_mobile_notification(int type, json_t *payload, const char *context_id,
                          struct hd_err *err)
{
    char *text = json_dumps(payload, JSON_COMPACT | JSON_ENCODE_ANY);
    char typestr[16];
    json_t *fcm_data, *apns_data, *hms_data, *web_data, *out;
    char *hms_text;

    if (text == NULL) {
        hd_err_set(err, HD_EINVAL, "payload: cannot be serialised");
        return NULL;
    }
    if (strlen(text) > HD_PAYLOAD_MAX_APNS) { /* cannot fit: skip building */
        hd_err_set(err, HD_ETOOBIG,
                   "Payload: %zu bytes, the limit is %d bytes (FCM data, "
                   "APNs)",
                   strlen(text), HD_PAYLOAD_MAX_APNS);
        free(text);
        return NULL;
    }
    snprintf(typestr, sizeof(typestr), "%d", type);
    fcm_data = json_pack("{s:s,s:s}", "type", typestr, "payload", text);
    apns_data = json_pack("{s:i,s:s}", "type", type, "payload", text);
    hms_data = json_pack("{s:s,s:s}", "type", typestr, "payload", text);
    /* Bitwarden's Web Push template: {"data":{"type":#(type),...}} */
    web_data = json_pack("{s:i,s:s}", "type", type, "payload", text);
    if (context_id) {
        json_object_set_new(fcm_data, "contextId", json_string(context_id));
        json_object_set_new(apns_data, "contextId", json_string(context_id));
        json_object_set_new(hms_data, "contextId", json_string(context_id));
        json_object_set_new(web_data, "contextId", json_string(context_id));
    }
    hms_text = json_dumps(hms_data, JSON_COMPACT);
    out = json_pack("{s:{s:{s:o}},s:{s:{s:s,s:s},s:{s:{s:i},s:o}},"
                    "s:{s:{s:s}},s:{s:{s:o}}}",
                    "fcm", "message", "data", fcm_data, "apns", "headers",
                    "apns-push-type", "background", "apns-priority", "5",
                    "payload", "aps", "content-available", 1, "data", apns_data,
                    "hms", "message", "data", hms_text, "webpush", "payload",
                    "data", web_data);
    json_decref(hms_data);
    free(hms_text);
    free(text);
    if (out == NULL) {
        hd_err_set(err, HD_EINVAL, "cannot build mobile notification");
        return NULL;
    }
    if (check_sizes(out, err) < 0) {
        json_decref(out);
        return NULL;
    }
    drop_big_web(out);
    return out;
}
