/* bitwarden.h -- Bitwarden's push rules, shared by the api, the relay and
 * the hub.
 *
 * Device and client types (§6.2), hub routing from a notification's Type
 * and Payload (§3.4), and the mobile payloads the apps parse (§6.5). Type
 * numbers are passed through, never renumbered; payload keys are read
 * case-insensitively because they arrive PascalCase or camelCase.
 * Pure functions, thread-safe. */
#ifndef HD_BITWARDEN_H
#define HD_BITWARDEN_H

#include <jansson.h>

#include "core/err.h"
#include "proto/msg.h"

/* The highest PushType this build knows (PremiumStatusChanged). Bitwarden
 * adds types over time; a server sending a newer one must not fail. */
#define HD_BW_TYPE_LAST 27

/* 1 if type is a PushType this build routes (0..HD_BW_TYPE_LAST). */
int hd_bw_type_known(long long type);

/* 1 if s is a GUID in the "D" form (8-4-4-4-12 hex digits, any case). */
int hd_bw_is_guid(const char *s);

/* Lowercases s in place if it is a GUID, as Guid.ToString() writes it;
 * other ids are left as they are (NULL is a no-op). Ids are normalized
 * once where they enter (a token's claims, an event's target), so every
 * later comparison is a plain string compare. */
void hd_bw_guid_normalize(char *s);

/* ClientType: 0 All, 1 Web, 2 Browser, 3 Desktop, 4 Mobile, 5 Cli. */
#define HD_BW_CLIENT_ALL 0
#define HD_BW_CLIENT_WEB 1
#define HD_BW_CLIENT_BROWSER 2
#define HD_BW_CLIENT_MOBILE 4

/* 1 if device_type is one of DeviceType's values (0 Android .. 26
 * DuckDuckGoBrowser), 0 if not. */
int hd_bw_device_type_valid(int device_type);

/* DeviceTypes.ToClientType: device type number (0..26) to client type;
 * unknown numbers give HD_BW_CLIENT_ALL. */
int hd_bw_client_type_of_device(int device_type);

/* The mobile push provider of a device type, as upstream registers it on
 * Notification Hubs: Android (0) FCM, iOS (1) APNs, AndroidAmazon (15)
 * HD_PROVIDER_ADM (stored, never delivered). 0 with *provider and
 * *platform ("android", "ios"; static) set, or -1 for every other type
 * (browsers and desktops are not registered for mobile push). */
int hd_bw_device_provider(int device_type, enum hd_provider *provider,
                          const char **platform);

/* A device type from a JWT "devicetype" claim: the enum name
 * ("MacOsDesktop", case-insensitive) or its number ("7"). Returns the
 * number, or -1 when unknown. */
int hd_bw_device_type_parse(const char *s);

/* "All", "Web", "Browser", "Desktop", "Mobile", "Cli" (group names). */
const char *hd_bw_client_type_name(int client_type);

/* Routes a notification {Type, Payload, ContextId} that carries no
 * explicit target (a POST /send body, an Azure-queue style event) with
 * upstream's HubHelpers table. On success returns 0 with *target,
 * *target_id (new, a GUID normalized to lowercase) and
 * *client_type set; returns -1 with err for types that route nowhere or
 * payloads missing the id the type needs. Payload may be an object or a
 * JSON string. */
int hd_bw_route(json_t *notification, enum hd_event_target *target,
                char **target_id, int *client_type, struct hd_err *err);

/* Builds the provider-native notifications of §6.5 for a sync push (new):
 *   {"fcm":{"message":{"data":{"type":"<n>","payload":"<json>"}}},
 *    "apns":{"headers":{"apns-push-type":"background","apns-priority":"5"},
 *            "payload":{"aps":{"content-available":1},
 *                       "data":{"type":<n>,"payload":"<json>"}}},
 *    "hms":{"message":{"data":"{\"type\":\"<n>\",\"payload\":\"<json>\"}"}},
 *    "webpush":{"payload":{"data":{"type":<n>,"payload":"<json>"}}}}
 * (the last is Bitwarden's Web Push template, for browsers that registered
 * through .../web-push-auth).
 * payload is serialised compactly (ids and dates; types 20/21 carry a
 * title and body). When context_id is not NULL it is added as data
 * "contextId" (the apps drop a push whose contextId is their own). NULL
 * with err if payload cannot be serialised, or (HD_ETOOBIG, the message
 * naming the limit) if a mobile provider's part as its worker sends it is
 * over that provider's limit (4096 bytes for FCM data, APNs and HMS). A
 * Web Push part over the 3993-byte plaintext limit is left out (the
 * "webpush" key is absent): the event still reaches phones, browsers
 * registered through web-push-auth do not get that one. */
json_t *hd_bw_mobile_notification(int type, json_t *payload,
                                  const char *context_id, struct hd_err *err);

#endif
