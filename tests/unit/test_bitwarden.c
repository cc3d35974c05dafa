/* test_bitwarden.c -- unit tests for common/proto/bitwarden.c: client types,
 * the hub routing table and the mobile payload shapes the apps parse. */
#include <stdlib.h>

#include "tests/unit/unit.h"
#include "proto/bitwarden.h"

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

int
main(void)
{
    RUN_TEST(test_client_types);
    RUN_TEST(test_routing_table);
    RUN_TEST(test_mobile_payloads);
    return UNIT_DONE();
}
