/* test_bitwarden.c -- unit tests for common/proto/bitwarden.c: client types,
 * the hub routing table and the mobile payload shapes the apps parse. */
#include <stdlib.h>
#include <string.h>

#include "tests/unit/unit.h"
#include "proto/bitwarden.h"
#include "core/limits.h"
#include "proto/bitwarden_unknown.h"

static void
test_client_types(void)
{
    ASSERT_INT_EQ(hd_bw_client_type_of_device(0), 4);  /* Android */
    ASSERT_INT_EQ(hd_bw_client_type_of_device(1), 4);  /* iOS */
    ASSERT_INT_EQ(hd_bw_client_type_of_device(15), 4); /* AndroidAmazon */
    ASSERT_INT_EQ(hd_bw_client_type_of_device(7), 3);  /* MacOsDesktop */
    ASSERT_INT_EQ(hd_bw_client_type_of_device(2), 2);  /* ChromeExtension */
    ASSERT_INT_EQ(hd_bw_client_type_of_device(9), 1);  /* ChromeBrowser */
    ASSERT_INT_EQ(hd_bw_client_type_of_device(26), 1); /* DuckDuckGo */
    ASSERT_INT_EQ(hd_bw_client_type_of_device(24), 5); /* MacOsCLI */
    ASSERT_INT_EQ(hd_bw_client_type_of_device(21), 0); /* SDK */
    ASSERT_INT_EQ(hd_bw_client_type_of_device(99), 0);
    ASSERT_INT_EQ(hd_bw_device_type_parse("MacOsDesktop"), 7);
    ASSERT_INT_EQ(hd_bw_device_type_parse("macosdesktop"), 7);
    ASSERT_INT_EQ(hd_bw_device_type_parse("15"), 15);
    ASSERT_INT_EQ(hd_bw_device_type_parse("Toaster"), -1);
    ASSERT_INT_EQ(hd_bw_device_type_parse("27"), -1);
    ASSERT_STR_EQ(hd_bw_client_type_name(3), "Desktop");
}

static void
test_device_providers(void)
{
    enum hd_provider p = HD_PROVIDER_HMS;
    const char *platform = NULL;

    ASSERT_INT_EQ(hd_bw_device_provider(0, &p, &platform), 0);
    ASSERT_INT_EQ(p, HD_PROVIDER_FCM);
    ASSERT_STR_EQ(platform, "android");
    ASSERT_INT_EQ(hd_bw_device_provider(1, &p, &platform), 0);
    ASSERT_INT_EQ(p, HD_PROVIDER_APNS);
    ASSERT_STR_EQ(platform, "ios");
    /* AndroidAmazon: stored on ADM, which no worker delivers */
    ASSERT_INT_EQ(hd_bw_device_provider(15, &p, &platform), 0);
    ASSERT_INT_EQ(p, HD_PROVIDER_ADM);
    ASSERT_STR_EQ(platform, "android");
    ASSERT_STR_EQ(hd_provider_name(p), "adm");
    ASSERT_INT_EQ(hd_provider_parse("adm", &p), -1); /* not a push API name */
    ASSERT_INT_EQ(hd_provider_batch_max(HD_PROVIDER_ADM), 0);
    ASSERT_INT_EQ(hd_provider_token_max(HD_PROVIDER_ADM), HD_TOKEN_MAX_ADM);
    p = HD_PROVIDER_HMS;
    ASSERT_INT_EQ(hd_bw_device_provider(9, &p, &platform), -1); /* browser */
    ASSERT_INT_EQ(hd_bw_device_provider(8, &p, &platform), -1); /* desktop */
    ASSERT_INT_EQ(p, HD_PROVIDER_HMS);
}

static void
test_device_types_valid(void)
{
    enum hd_provider p;
    const char *platform;
    int t, mobile = 0;

    /* DeviceType: 0 Android .. 26 DuckDuckGoBrowser, nothing else */
    for (t = 0; t <= 26; t++) {
        ASSERT_INT_EQ(hd_bw_device_type_valid(t), 1);
        if (hd_bw_device_provider(t, &p, &platform) == 0)
            mobile++;
    }
    ASSERT_INT_EQ(mobile, 3); /* Android, iOS, AndroidAmazon */
    ASSERT_INT_EQ(hd_bw_device_type_valid(-1), 0);
    ASSERT_INT_EQ(hd_bw_device_type_valid(27), 0);
    ASSERT_INT_EQ(hd_bw_device_type_valid(255), 0);
    ASSERT_INT_EQ(hd_bw_device_provider(27, &p, &platform), -1);
    ASSERT_INT_EQ(hd_bw_device_type_parse("DuckDuckGoBrowser"), 26);
    ASSERT_INT_EQ(hd_bw_device_type_parse("27"), -1);
}

static void
route(const char *json, int want_rc, enum hd_event_target want_t,
      const char *want_id, int want_ct)
{
    json_t *n = json_loads(json, 0, NULL);
    enum hd_event_target t = HD_TARGET_NONE;
    char *id = NULL;
    int ct = -1;
    struct hd_err err = {0};
    int rc = hd_bw_route(n, &t, &id, &ct, &err);

    json_decref(n);
    ASSERT_INT_EQ(rc, want_rc);
    if (rc == 0) {
        ASSERT_INT_EQ(t, want_t);
        ASSERT_STR_EQ(id, want_id);
        ASSERT_INT_EQ(ct, want_ct);
    }
    free(id);
}

static void
test_routing_table(void)
{
    /* cipher with user, and org-only cipher; camelCase keys */
    route(
        "{\"Type\":1,\"Payload\":{\"UserId\":\"u\",\"OrganizationId\":\"o\"}}",
        0, HD_TARGET_USER, "u", 0);
    route("{\"type\":0,\"payload\":{\"organizationId\":\"o\"}}", 0,
          HD_TARGET_ORGANIZATION, "o", 0);
    route("{\"Type\":8,\"Payload\":{\"Id\":\"f\",\"UserId\":\"u\"}}", 0,
          HD_TARGET_USER, "u", 0);
    route("{\"Type\":5,\"Payload\":{\"UserId\":\"u\",\"Date\":\"x\"}}", 0,
          HD_TARGET_USER, "u", 0);
    route("{\"Type\":16,\"Payload\":{\"Id\":\"ar\",\"UserId\":\"u\"}}", 0,
          HD_TARGET_AUTH_REQUEST, "ar", 0);
    route("{\"Type\":18,\"Payload\":{\"OrganizationId\":\"o\"}}", 0,
          HD_TARGET_ORGANIZATION, "o", 0);
    route("{\"Type\":20,\"Payload\":{\"InstallationId\":\"i\",\"ClientType\":2,"
          "\"UserId\":\"u\"}}",
          0, HD_TARGET_INSTALLATION, "i", 2);
    route("{\"Type\":21,\"Payload\":{\"UserId\":\"u\",\"ClientType\":3}}", 0,
          HD_TARGET_USER, "u", 3);
    route("{\"Type\":24,\"Payload\":{\"ProviderId\":\"p\",\"AdminId\":\"a\"}}",
          0, HD_TARGET_USER, "a", 0);
    /* payload as a JSON string (Web Push path) */
    route("{\"Type\":4,\"Payload\":\"{\\\"UserId\\\":\\\"u\\\"}\"}", 0,
          HD_TARGET_USER, "u", 0);
    /* unknown type, missing ids, bad shapes */
    route("{\"Type\":99,\"Payload\":{\"UserId\":\"u\"}}", -1, 0, NULL, 0);
    /* GUIDs come out lowercase; other ids as they are */
    route("{\"Type\":5,\"Payload\":{\"UserId\":"
          "\"AAAAAAAA-BBBB-4CCC-8DDD-EEEEEEEEEEEE\"}}",
          0, HD_TARGET_USER, "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee", 0);
    route("{\"Type\":5,\"Payload\":{\"UserId\":\"User-X\"}}", 0, HD_TARGET_USER,
          "User-X", 0);
    route("{\"Type\":3,\"Payload\":{\"Id\":\"f\"}}", -1, 0, NULL, 0);
    route("{\"Type\":\"3\",\"Payload\":{}}", -1, 0, NULL, 0);
    route("{\"Type\":3,\"Payload\":[1]}", -1, 0, NULL, 0);
}

static void
test_mobile_payloads(void)
{
    json_t *p = json_pack("{s:s,s:s}", "id", "c1", "userId", "u1");
    struct hd_err err = {0};
    json_t *n = hd_bw_mobile_notification(1, p, "dev-ident", &err);
    json_t *fcm, *apns, *hms;
    json_t *hdata;
    const char *payload;

    ASSERT_NOT_NULL(n);
    fcm = json_object_get(json_object_get(json_object_get(n, "fcm"), "message"),
                          "data");
    ASSERT_STR_EQ(json_string_value(json_object_get(fcm, "type")), "1");
    payload = json_string_value(json_object_get(fcm, "payload"));
    ASSERT_STR_EQ(payload, "{\"id\":\"c1\",\"userId\":\"u1\"}");
    ASSERT_STR_EQ(json_string_value(json_object_get(fcm, "contextId")),
                  "dev-ident");
    apns = json_object_get(n, "apns");
    ASSERT_STR_EQ(json_string_value(json_object_get(
                      json_object_get(apns, "headers"), "apns-push-type")),
                  "background");
    ASSERT_INT_EQ(json_integer_value(json_object_get(
                      json_object_get(json_object_get(apns, "payload"), "aps"),
                      "content-available")),
                  1);
    ASSERT_INT_EQ(
        json_integer_value(json_object_get(
            json_object_get(json_object_get(apns, "payload"), "data"), "type")),
        1);
    hms = json_object_get(json_object_get(n, "hms"), "message");
    hdata =
        json_loads(json_string_value(json_object_get(hms, "data")), 0, NULL);
    ASSERT_NOT_NULL(hdata);
    ASSERT_STR_EQ(json_string_value(json_object_get(hdata, "payload")),
                  payload);
    json_decref(hdata);
    json_decref(n);

    /* without context id there is no contextId key */
    n = hd_bw_mobile_notification(5, p, NULL, &err);
    fcm = json_object_get(json_object_get(json_object_get(n, "fcm"), "message"),
                          "data");
    ASSERT_NULL(json_object_get(fcm, "contextId"));
    json_decref(n);
    json_decref(p);
}

static void
test_known_types_and_guids(void)
{
    char g[] = "0F8FAD5B-D9CB-469F-A165-70867728950E";
    char not_g[] = "0F8FAD5B-D9CB-469F-A165-70867728950EX";

    ASSERT_INT_EQ(hd_bw_type_known(0), 1);
    ASSERT_INT_EQ(hd_bw_type_known(27), 1);
    ASSERT_INT_EQ(hd_bw_type_known(28), 0);
    ASSERT_INT_EQ(hd_bw_type_known(-1), 0);
    hd_bw_guid_normalize(g);
    ASSERT_STR_EQ(g, "0f8fad5b-d9cb-469f-a165-70867728950e");
    hd_bw_guid_normalize(not_g);
    ASSERT_STR_EQ(not_g, "0F8FAD5B-D9CB-469F-A165-70867728950EX");
    ASSERT_INT_EQ(hd_bw_is_guid("0f8fad5b-d9cb-469f-a165-70867728950"), 0);
    hd_bw_guid_normalize(NULL);
}

static void
test_unknown_types_counted_logged_once(void)
{
    struct hd_metrics *reg = hd_metrics_new();
    struct hd_bw_unknown u;

    hd_bw_unknown_init(&u, reg, "t_bitwarden_unknown_type_total");
    ASSERT_INT_EQ(hd_bw_unknown_note(&u, 99), 1);
    ASSERT_INT_EQ(hd_bw_unknown_note(&u, 99), 0);
    ASSERT_INT_EQ(hd_bw_unknown_note(&u, 28), 1);
    ASSERT_INT_EQ(hd_bw_unknown_note(&u, 255), 1);
    ASSERT_INT_EQ(hd_bw_unknown_note(&u, 1000), 1); /* "other" */
    ASSERT_INT_EQ(hd_bw_unknown_note(&u, -5), 0);   /* "other" again */
    ASSERT_INT_EQ(hd_counter_value(hd_metric_with(u.counter, "99")), 2);
    ASSERT_INT_EQ(hd_counter_value(hd_metric_with(u.counter, "other")), 2);
    hd_metrics_free(reg);
}

static void
test_mobile_payload_limit(void)
{
    json_t *p = json_pack("{s:s}", "Id", "n");
    struct hd_err err = {0};
    char *title = calloc(1, 5001);
    json_t *n;

    memset(title, 'x', 3000);
    json_object_set_new(p, "Title", json_string(title));
    n = hd_bw_mobile_notification(20, p, NULL, &err);
    ASSERT_NOT_NULL(n); /* 3 KB fits the providers' 4 KB */
    ASSERT_NOT_NULL(json_object_get(n, "webpush"));
    json_decref(n);
    /* over Web Push's 3993 bytes, within the phones' 4096: phones only */
    memset(title, 'x', 3950);
    json_object_set_new(p, "Title", json_string(title));
    n = hd_bw_mobile_notification(20, p, NULL, &err);
    ASSERT_NOT_NULL(n);
    ASSERT_NULL(json_object_get(n, "webpush"));
    ASSERT_NOT_NULL(json_object_get(n, "fcm"));
    ASSERT_NOT_NULL(json_object_get(n, "apns"));
    json_decref(n);
    title[3000] = '\0'; /* back to 3 KB */
    /* quotes are escaped once more in every envelope: HMS's twice */
    memset(title, '"', 1000);
    json_object_set_new(p, "Title", json_string(title));
    ASSERT_NULL(hd_bw_mobile_notification(20, p, NULL, &err));
    ASSERT_INT_EQ(err.code, HD_ETOOBIG);
    ASSERT_STR_CONTAINS(err.msg, "the limit is 4096 bytes");
    memset(title, 'x', 5000);
    json_object_set_new(p, "Title", json_string(title));
    ASSERT_NULL(hd_bw_mobile_notification(20, p, NULL, &err));
    ASSERT_STR_CONTAINS(err.msg, "the limit is 4096 bytes");
    free(title);
    json_decref(p);
}

int
main(void)
{
    RUN_TEST(test_client_types);
    RUN_TEST(test_device_providers);
    RUN_TEST(test_device_types_valid);
    RUN_TEST(test_routing_table);
    RUN_TEST(test_mobile_payloads);
    RUN_TEST(test_known_types_and_guids);
    RUN_TEST(test_unknown_types_counted_logged_once);
    RUN_TEST(test_mobile_payload_limit);
    return UNIT_DONE();
}
