/* test_relay_model.c -- unit tests for services/relay/relay_model.c and
 * the pure parts of relay_identity.c: id prefixing (forged ids refused),
 * form bodies, the four request models exactly as Vaultwarden and the
 * Bitwarden server send them, the herald.requests records sends become,
 * upstream's error shape, key hashing and access tokens. */
#include <stdlib.h>
#include <string.h>

#include "tests/unit/unit.h"
#include "auth/jwt.h"
#include "services/relay/relay.h"
#include "webpush/guard.h"
#include "core/banned.h"

#define INST "8b1e6a8c-52f0-4a0e-9d7f-0f1bb2a3c4d5"
#define OTHER "11111111-2222-4333-8444-555555555555"

static json_t *
j(const char *s)
{
    return json_loads(s, 0, NULL);
}

static void
test_guid_and_prefix(void)
{
    char out[HD_ID_MAX + 1];
    struct relay_fail f;
    char long_id[200];

    ASSERT_TRUE(relay_is_guid(INST));
    ASSERT_TRUE(relay_is_guid("8B1E6A8C-52F0-4A0E-9D7F-0F1BB2A3C4D5"));
    ASSERT_TRUE(!relay_is_guid("8b1e6a8c52f04a0e9d7f0f1bb2a3c4d5"));
    ASSERT_TRUE(!relay_is_guid("8b1e6a8c-52f0-4a0e-9d7f-0f1bb2a3c4dz"));
    ASSERT_TRUE(!relay_is_guid(NULL));

    ASSERT_INT_EQ(relay_prefix(INST, "dev-1", "DeviceId", out, &f), 0);
    ASSERT_STR_EQ(out, INST "_dev-1");
    ASSERT_INT_EQ(strlen(INST "_" OTHER), 73); /* upstream's 73 chars */
    ASSERT_INT_EQ(relay_prefix(INST, OTHER, "DeviceId", out, &f), 0);
    ASSERT_INT_EQ(strlen(out), 73);

    /* an id that already carries an installation prefix is forged */
    ASSERT_INT_EQ(relay_prefix(INST, OTHER "_dev-1", "DeviceId", out, &f), -1);
    ASSERT_INT_EQ(f.status, 400);
    ASSERT_STR_EQ(f.field, "DeviceId");
    ASSERT_STR_EQ(f.message, "The model state is invalid.");
    ASSERT_INT_EQ(relay_prefix(INST, "", "Id", out, &f), -1);
    ASSERT_STR_EQ(f.detail, "The Id field is required.");
    ASSERT_INT_EQ(relay_prefix(INST, "a\nb", "Id", out, &f), -1);
    memset(long_id, 'x', sizeof(long_id) - 1);
    long_id[sizeof(long_id) - 1] = '\0';
    ASSERT_INT_EQ(relay_prefix(INST, long_id, "Id", out, &f), -1);
    long_id[RELAY_RAW_ID_MAX] = '\0';
    ASSERT_INT_EQ(relay_prefix(INST, long_id, "Id", out, &f), 0);
    ASSERT_INT_EQ(strlen(out), HD_ID_MAX);
}

static void
test_form(void)
{
    const char *b = "grant_type=client_credentials&scope=api.push&client_id="
                    "installation.abc&client_secret=a%2Bb%3D+c";
    char out[64];

    ASSERT_INT_EQ(relay_form_get(b, strlen(b), "grant_type", out, sizeof(out)),
                  1);
    ASSERT_STR_EQ(out, "client_credentials");
    ASSERT_INT_EQ(
        relay_form_get(b, strlen(b), "client_secret", out, sizeof(out)), 1);
    ASSERT_STR_EQ(out, "a+b= c");
    ASSERT_INT_EQ(relay_form_get(b, strlen(b), "client", out, sizeof(out)), 0);
    ASSERT_INT_EQ(relay_form_get("x=%4", 4, "x", out, sizeof(out)), -1);
    ASSERT_INT_EQ(relay_form_get("x=%00", 5, "x", out, sizeof(out)), -1);
    ASSERT_INT_EQ(relay_form_get("x=123456", 8, "x", out, 4), -1);
    ASSERT_INT_EQ(relay_form_get("", 0, "x", out, sizeof(out)), 0);
}

#define DEV "0c9c5b1e-2a3b-4c5d-8e9f-a0b1c2d3e4f5"
#define UID "11111111-2222-4333-8444-555555555555"
#define ORG1 "aaaaaaaa-0000-4000-8000-000000000001"
#define ORG2_UPPER "AAAAAAAA-0000-4000-8000-0000000000BB"
#define ORG2 "aaaaaaaa-0000-4000-8000-0000000000bb"

/* A browser whose token is a Web Push subscription: a webpush device
 * under the canonical token; a broken one refused; the endpoint's origin
 * checked against the push services. */
#define P256DH                                                                 \
    "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8p"  \
    "ZGH6SRpkNtoIAiw4"
#define WEB_REG(ep, key)                                                       \
    "{\"deviceId\":\"" DEV "\",\"userId\":\"" UID "\",\"type\":9,"             \
    "\"identifier\":\"vault\",\"pushToken\":\"{\\\"endpoint\\\":\\\"" ep       \
    "\\\",\\\"expirationTime\\\":null,\\\"keys\\\":{\\\"p256dh\\\":\\\"" key   \
    "\\\",\\\"auth\\\":\\\"BTBZMqHH6r4Tts7J_aSIgg\\\"}}\"}"

static void
test_register_web_push(void)
{
    struct hd_webpush_guard *g =
        hd_webpush_guard_new(HD_WEBPUSH_DEFAULT_ORIGINS, "", "", NULL);
    struct relay_register r;
    struct relay_fail f;
    json_t *b;

    b = j(WEB_REG("https://fcm.googleapis.com/fcm/send/x", P256DH));
    ASSERT_NOT_NULL(b);
    ASSERT_INT_EQ(relay_register_parse(b, INST, &r, &f), 0);
    ASSERT_INT_EQ(r.mobile, 1);
    ASSERT_INT_EQ(r.provider, HD_PROVIDER_WEBPUSH);
    ASSERT_STR_EQ(r.platform, "web");
    ASSERT_STR_EQ(r.token, "{\"endpoint\":\"https://fcm.googleapis.com/fcm/"
                           "send/x\",\"keys\":{\"p256dh\":\"" P256DH
                           "\",\"auth\":\"BTBZMqHH6r4Tts7J_aSIgg\"}}");
    ASSERT_INT_EQ(relay_register_web_check(&r, g, &f), 0);
    relay_register_release(&r);
    ASSERT_NULL(r.web);
    json_decref(b);

    /* a point that is not on the curve */
    b = j(WEB_REG("https://fcm.googleapis.com/fcm/send/x",
                  "BAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
                  "AAAAAAAAAAAAAAAAAAAAAAAAAAA"));
    ASSERT_INT_EQ(relay_register_parse(b, INST, &r, &f), -1);
    ASSERT_STR_EQ(f.field, "PushToken");
    json_decref(b);

    /* parsed, but not a push service: an internal host, plain http */
    b = j(WEB_REG("https://metadata.internal/x", P256DH));
    ASSERT_INT_EQ(relay_register_parse(b, INST, &r, &f), 0);
    ASSERT_INT_EQ(relay_register_web_check(&r, g, &f), -1);
    ASSERT_STR_EQ(f.field, "PushToken");
    relay_register_release(&r);
    json_decref(b);
    b = j(WEB_REG("http://fcm.googleapis.com/x", P256DH));
    ASSERT_INT_EQ(relay_register_parse(b, INST, &r, &f), 0);
    ASSERT_INT_EQ(relay_register_web_check(&r, g, &f), -1);
    relay_register_release(&r);
    json_decref(b);
    hd_webpush_guard_free(g);
}

static void
test_register_models(void)
{
    struct relay_register r;
    struct relay_fail f;
    json_t *b;

    /* Vaultwarden (§5.3): no organizationIds */
    b = j("{\"deviceId\":\"0C9C5B1E-2A3B-4C5D-8E9F-A0B1C2D3E4F5\","
          "\"pushToken\":\"fcm-token:abc\",\"userId\":\"" UID "\",\"type\":0,"
          "\"identifier\":\"phone-1\",\"installationId\":\"" INST "\"}");
    ASSERT_INT_EQ(relay_register_parse(b, INST, &r, &f), 0);
    ASSERT_STR_EQ(r.id, INST "_" DEV); /* lower case, as /push/send */
    ASSERT_STR_EQ(r.user, INST "_" UID);
    ASSERT_STR_EQ(r.identifier, INST "_phone-1");
    ASSERT_INT_EQ(r.mobile, 1);
    ASSERT_INT_EQ(r.provider, HD_PROVIDER_FCM);
    ASSERT_INT_EQ(json_array_size(r.channels), 0);
    relay_register_release(&r);
    ASSERT_NULL(r.channels);
    json_decref(b);

    /* Bitwarden server (§4.5): organizationIds, any member casing */
    b = j("{\"DeviceId\":\"" DEV "\",\"PushToken\":\"00ab\",\"UserId\":\"" UID
          "\",\"Type\":1,\"Identifier\":\"i\",\"OrganizationIds\":[\"" ORG1
          "\",\"" ORG2_UPPER "\"],"
          "\"InstallationId\":\"" INST "\"}");
    ASSERT_INT_EQ(relay_register_parse(b, INST, &r, &f), 0);
    ASSERT_INT_EQ(r.provider, HD_PROVIDER_APNS);
    ASSERT_STR_EQ(json_string_value(json_array_get(r.channels, 1)),
                  "org:" INST "_" ORG2);
    relay_register_release(&r);
    json_decref(b);

    /* a browser type registers nothing, without failing */
    b = j("{\"deviceId\":\"" DEV "\",\"pushToken\":\"x\",\"userId\":\"" UID
          "\","
          "\"type\":9,\"identifier\":\"i\",\"organizationIds\":null}");
    ASSERT_INT_EQ(relay_register_parse(b, INST, &r, &f), 0);
    ASSERT_INT_EQ(r.mobile, 0);
    relay_register_release(&r);
    json_decref(b);

    /* refusals */
    b = j("{\"deviceId\":\"d\",\"userId\":\"u\",\"type\":0,"
          "\"identifier\":\"i\"}");
    ASSERT_INT_EQ(relay_register_parse(b, INST, &r, &f), -1);
    ASSERT_STR_EQ(f.field, "PushToken");
    json_decref(b);
    b = j("{\"deviceId\":\"" DEV "\",\"pushToken\":\"zz\",\"userId\":\"" UID
          "\","
          "\"type\":1,\"identifier\":\"i\"}");
    ASSERT_INT_EQ(relay_register_parse(b, INST, &r, &f), -1);
    ASSERT_STR_EQ(f.field, "PushToken"); /* APNs tokens are hex */
    json_decref(b);
    b = j("{\"deviceId\":\"" DEV "\",\"pushToken\":\"t\",\"userId\":\"" UID
          "\","
          "\"type\":0,\"identifier\":\"i\",\"installationId\":\"" OTHER "\"}");
    ASSERT_INT_EQ(relay_register_parse(b, INST, &r, &f), -1);
    ASSERT_STR_EQ(f.message, "InstallationId does not match current context.");
    json_decref(b);
    b = j("{\"deviceId\":\"" OTHER "_d\",\"pushToken\":\"t\",\"userId\":\"u\","
          "\"type\":0,\"identifier\":\"i\"}");
    ASSERT_INT_EQ(relay_register_parse(b, INST, &r, &f), -1);
    ASSERT_STR_EQ(f.field, "DeviceId");
    json_decref(b);
    b = j("{\"deviceId\":\"" DEV "\",\"pushToken\":\"t\",\"userId\":\"" UID
          "\","
          "\"type\":\"0\",\"identifier\":\"i\"}");
    ASSERT_INT_EQ(relay_register_parse(b, INST, &r, &f), -1);
    ASSERT_STR_EQ(f.field, "Type");
    json_decref(b);
    /* userId, deviceId and organizationIds are GUIDs, as at /push/send */
    b = j("{\"deviceId\":\"" DEV "\",\"pushToken\":\"t\",\"userId\":\"u1\","
          "\"type\":0,\"identifier\":\"i\"}");
    ASSERT_INT_EQ(relay_register_parse(b, INST, &r, &f), -1);
    ASSERT_STR_EQ(f.field, "UserId");
    ASSERT_STR_EQ(f.detail, "The UserId field is not a valid GUID.");
    json_decref(b);
    b = j("{\"deviceId\":\"phone-1\",\"pushToken\":\"t\",\"userId\":\"" UID
          "\","
          "\"type\":0,\"identifier\":\"i\"}");
    ASSERT_INT_EQ(relay_register_parse(b, INST, &r, &f), -1);
    ASSERT_STR_EQ(f.field, "DeviceId");
    json_decref(b);
    b = j("{\"deviceId\":\"" DEV "\",\"pushToken\":\"t\",\"userId\":\"" UID
          "\","
          "\"type\":0,\"identifier\":\"i\",\"organizationIds\":[\"o1\"]}");
    ASSERT_INT_EQ(relay_register_parse(b, INST, &r, &f), -1);
    ASSERT_STR_EQ(f.field, "OrganizationIds");
    json_decref(b);
    ASSERT_NULL(r.channels);
}

static void
test_device_and_update_models(void)
{
    char id[HD_ID_MAX + 1], ch[HD_CHANNEL_MAX + 1];
    struct relay_fail f;
    json_t *b, *ids;

    b = j("{\"id\":\"dev-9\"}");
    ASSERT_INT_EQ(relay_device_parse(b, INST, id, &f), 0);
    ASSERT_STR_EQ(id, INST "_dev-9");
    json_decref(b);
    b = j("{\"id\":null}");
    ASSERT_INT_EQ(relay_device_parse(b, INST, id, &f), -1);
    json_decref(b);

    b = j("{\"devices\":[{\"id\":\"" DEV "\"},{\"Id\":\"" ORG2_UPPER "\"}],"
          "\"organizationId\":\"" ORG1 "\"}");
    ASSERT_INT_EQ(relay_update_parse(b, INST, &ids, ch, &f), 0);
    ASSERT_STR_EQ(ch, "org:" INST "_" ORG1);
    ASSERT_INT_EQ(json_array_size(ids), 2);
    ASSERT_STR_EQ(json_string_value(json_array_get(ids, 1)), INST "_" ORG2);
    json_decref(ids);
    json_decref(b);
    /* device and organization ids are GUIDs */
    b = j("{\"devices\":[{\"id\":\"a\"}],\"organizationId\":\"" ORG1 "\"}");
    ASSERT_INT_EQ(relay_update_parse(b, INST, &ids, ch, &f), -1);
    ASSERT_STR_EQ(f.field, "Id");
    ASSERT_NULL(ids);
    json_decref(b);
    b = j("{\"devices\":[{\"id\":\"" DEV "\"}],\"organizationId\":\"org-1\"}");
    ASSERT_INT_EQ(relay_update_parse(b, INST, &ids, ch, &f), -1);
    ASSERT_STR_EQ(f.field, "OrganizationId");
    ASSERT_STR_EQ(f.detail, "The OrganizationId field is not a valid GUID.");
    ASSERT_NULL(ids);
    json_decref(ids);
    json_decref(b);
    b = j("{\"devices\":[{\"id\":\"" OTHER "_" DEV "\"}],"
          "\"organizationId\":\"" ORG1 "\"}");
    ASSERT_INT_EQ(relay_update_parse(b, INST, &ids, ch, &f), -1);
    ASSERT_NULL(ids);
    json_decref(b);
    b = j("{\"devices\":[\"a\"],\"organizationId\":\"" ORG1 "\"}");
    ASSERT_INT_EQ(relay_update_parse(b, INST, &ids, ch, &f), -1);
    ASSERT_STR_EQ(f.field, "Devices");
    json_decref(b);
    b = j("{\"devices\":[]}");
    ASSERT_INT_EQ(relay_update_parse(b, INST, &ids, ch, &f), -1);
    ASSERT_STR_EQ(f.field, "OrganizationId");
    json_decref(b);
}

#define USER "2f6a7c1e-0000-4000-8000-00000000abcd"

static void
test_send_models(void)
{
    struct hd_msg_request r;
    struct relay_fail f;
    json_t *b, *data;
    int type = -1;

    /* Vaultwarden's cipher update (§5.5) */
    b = j("{\"userId\":\"" USER "\",\"organizationId\":null,"
          "\"deviceId\":\"0c9c5b1e-2a3b-4c5d-8e9f-a0b1c2d3e4f5\","
          "\"identifier\":\"actor-phone\",\"type\":0,\"payload\":{\"id\":"
          "\"c\",\"userId\":\"" USER "\",\"organizationId\":null,"
          "\"collectionIds\":null,\"revisionDate\":"
          "\"2026-08-20T12:00:00.123456Z\"},\"clientType\":null,"
          "\"installationId\":null}");
    ASSERT_INT_EQ(relay_send_parse(b, INST, "relay." INST, 42, &r, &type, &f),
                  0);
    ASSERT_INT_EQ(r.kind, HD_RCPT_USERS);
    ASSERT_STR_EQ(json_string_value(json_array_get(r.values, 0)),
                  INST "_" USER);
    ASSERT_STR_EQ(json_string_value(json_array_get(r.exclude_identifiers, 0)),
                  INST "_actor-phone");
    ASSERT_STR_EQ(r.installation_id, INST);
    ASSERT_STR_EQ(r.app, "relay." INST);
    ASSERT_INT_EQ(r.created_ms, 42);
    ASSERT_INT_EQ(r.client_type, 0);
    data = json_object_get(
        json_object_get(json_object_get(r.notification, "fcm"), "message"),
        "data");
    ASSERT_STR_EQ(json_string_value(json_object_get(data, "type")), "0");
    ASSERT_STR_CONTAINS(json_string_value(json_object_get(data, "payload")),
                        "\"revisionDate\":\"2026-08-20T12:00:00.123456Z\"");
    hd_msg_request_release(&r);
    json_decref(b);

    /* organization target; GUIDs are lowercased as Guid.ToString() does */
    b = j("{\"organizationId\":\"AAAAAAAA-0000-4000-8000-000000000001\","
          "\"type\":18,\"payload\":{\"organizationId\":\"x\"},"
          "\"clientType\":4}");
    ASSERT_INT_EQ(relay_send_parse(b, INST, "relay." INST, 1, &r, &type, &f),
                  0);
    ASSERT_INT_EQ(r.kind, HD_RCPT_CHANNELS);
    ASSERT_STR_EQ(json_string_value(json_array_get(r.values, 0)),
                  "org:" INST "_aaaaaaaa-0000-4000-8000-000000000001");
    ASSERT_INT_EQ(r.client_type, 4);
    ASSERT_NULL(r.exclude_identifiers);
    hd_msg_request_release(&r);
    json_decref(b);

    /* installation target: only the caller's own */
    b = j("{\"installationId\":\"" INST "\",\"userId\":\"" USER "\","
          "\"type\":5,\"payload\":{}}");
    ASSERT_INT_EQ(relay_send_parse(b, INST, "relay." INST, 1, &r, &type, &f),
                  0);
    ASSERT_STR_EQ(json_string_value(json_array_get(r.values, 0)),
                  "installation:" INST);
    hd_msg_request_release(&r);
    json_decref(b);
    b = j("{\"installationId\":\"" OTHER "\",\"type\":5,\"payload\":{}}");
    ASSERT_INT_EQ(relay_send_parse(b, INST, "relay." INST, 1, &r, &type, &f),
                  -1);
    ASSERT_STR_EQ(f.message, "InstallationId does not match current context.");
    ASSERT_STR_EQ(f.field, "");
    json_decref(b);

    /* refusals */
    b = j("{\"type\":5,\"payload\":{}}");
    ASSERT_INT_EQ(relay_send_parse(b, INST, "a", 1, &r, &type, &f), -1);
    ASSERT_STR_EQ(f.detail,
                  "UserId or OrganizationId or InstallationId is required.");
    json_decref(b);
    b = j("{\"userId\":\"not-a-guid\",\"type\":5,\"payload\":{}}");
    ASSERT_INT_EQ(relay_send_parse(b, INST, "a", 1, &r, &type, &f), -1);
    ASSERT_STR_EQ(f.field, "UserId");
    json_decref(b);
    b = j("{\"userId\":\"" USER "\",\"type\":5}");
    ASSERT_INT_EQ(relay_send_parse(b, INST, "a", 1, &r, &type, &f), -1);
    ASSERT_STR_EQ(f.field, "Payload");
    json_decref(b);
    b = j("{\"userId\":\"" USER "\",\"type\":5,\"payload\":{},"
          "\"identifier\":\"" OTHER "_x\"}");
    ASSERT_INT_EQ(relay_send_parse(b, INST, "a", 1, &r, &type, &f), -1);
    ASSERT_STR_EQ(f.field, "Identifier");
    json_decref(b);
    b = j("{\"userId\":\"" USER "\",\"type\":300,\"payload\":{}}");
    ASSERT_INT_EQ(relay_send_parse(b, INST, "a", 1, &r, &type, &f), -1);
    json_decref(b);
    ASSERT_NULL(r.uid);

    /* a type newer than this build: valid, nothing built, dropped */
    b = j("{\"userId\":\"" USER "\",\"type\":99,\"payload\":{}}");
    ASSERT_INT_EQ(relay_send_parse(b, INST, "a", 1, &r, &type, &f), 1);
    ASSERT_INT_EQ(type, 99);
    ASSERT_NULL(r.notification);
    json_decref(b);
}

/* A notification-center message of n bytes of title. */
static json_t *
big_send(size_t n)
{
    json_t *b = j("{\"userId\":\"" USER "\",\"type\":20,\"payload\":"
                  "{\"id\":\"" OTHER "\",\"userId\":\"" USER "\"}}");
    char *title = calloc(1, n + 1);

    memset(title, 'T', n);
    json_object_set_new(json_object_get(b, "payload"), "title",
                        json_string(title));
    free(title);
    return b;
}

static void
test_send_payload_limit(void)
{
    struct hd_msg_request r;
    struct relay_fail f;
    int type = 0;
    json_t *b;

    b = big_send(3000); /* a 3 KB payload fits the providers' 4 KB */
    ASSERT_INT_EQ(relay_send_parse(b, INST, "a", 1, &r, &type, &f), 0);
    hd_msg_request_release(&r);
    json_decref(b);
    b = big_send(5000);
    ASSERT_INT_EQ(relay_send_parse(b, INST, "a", 1, &r, &type, &f), -1);
    ASSERT_INT_EQ(f.status, 400);
    ASSERT_STR_EQ(f.field, "Payload");
    ASSERT_STR_CONTAINS(f.detail, "the limit is 4096 bytes");
    json_decref(b);
}

static void
test_error_body(void)
{
    struct relay_fail f;
    json_t *b;
    char *s;

    relay_fail_set(&f, 400, "PushToken", "The PushToken field is required.");
    b = relay_error_body(&f);
    s = json_dumps(b, JSON_COMPACT);
    ASSERT_STR_EQ(s, "{\"message\":\"The model state is invalid.\","
                     "\"validationErrors\":{\"PushToken\":[\"The PushToken "
                     "field is required.\"]},\"exceptionMessage\":null,"
                     "\"exceptionStackTrace\":null,\"innerExceptionMessage\":"
                     "null,\"object\":\"error\"}");
    free(s);
    json_decref(b);
    relay_fail_set(&f, 400, NULL, "Body is empty.");
    b = relay_error_body(&f);
    ASSERT_STR_EQ(json_string_value(json_object_get(b, "message")),
                  "Body is empty.");
    ASSERT_TRUE(json_is_null(json_object_get(b, "validationErrors")));
    json_decref(b);
}

static void
test_key_hash_and_token(void)
{
    struct hd_jwt_verify_opts o;
    struct hd_err err = {0};
    struct hd_jwt_key *k;
    json_t *claims = NULL;
    struct hd_buf t;
    char h[65];

    relay_key_hash("abc", h);
    ASSERT_STR_EQ(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff6"
                     "1f20015ad");
    k = hd_jwt_key_hmac("secret", 6, &err);
    ASSERT_NOT_NULL(k);
    hd_buf_init(&t, HD_JWT_MAX_LEN);
    ASSERT_INT_EQ(relay_token_issue(k, INST, "api.push api.licensing", 3,
                                    1700000000, &t, &err),
                  0);
    memset(&o, 0, sizeof(o));
    o.now_s = 1700000000 + RELAY_TOKEN_TTL_S - 1;
    o.require_exp = 1;
    o.issuer = "herald-relay";
    o.audience = HD_JWT_AUD_RELAY; /* bound to the relay */
    ASSERT_INT_EQ(hd_jwt_verify(k, t.data, t.len, &o, NULL, &claims, &err), 0);
    ASSERT_STR_EQ(json_string_value(json_object_get(claims, "client_sub")),
                  INST);
    ASSERT_INT_EQ(
        json_integer_value(json_object_get(claims, RELAY_KEY_VERSION_CLAIM)),
        3);
    ASSERT_STR_EQ(json_string_value(json_object_get(claims, "client_id")),
                  "installation." INST);
    ASSERT_INT_EQ(json_array_size(json_object_get(claims, "scope")), 2);
    ASSERT_INT_EQ(json_integer_value(json_object_get(claims, "exp")) -
                      json_integer_value(json_object_get(claims, "iat")),
                  86400);
    json_decref(claims);
    o.now_s = 1700000000 + RELAY_TOKEN_TTL_S + 1;
    ASSERT_INT_EQ(hd_jwt_verify(k, t.data, t.len, &o, NULL, NULL, &err), -1);
    hd_buf_release(&t);
    hd_jwt_key_free(k);
}

int
main(void)
{
    RUN_TEST(test_guid_and_prefix);
    RUN_TEST(test_form);
    RUN_TEST(test_register_models);
    RUN_TEST(test_register_web_push);
    RUN_TEST(test_device_and_update_models);
    RUN_TEST(test_send_models);
    RUN_TEST(test_send_payload_limit);
    RUN_TEST(test_error_body);
    RUN_TEST(test_key_hash_and_token);
    return UNIT_DONE();
}
