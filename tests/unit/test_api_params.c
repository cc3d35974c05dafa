/* test_api_params.c -- unit tests for herald-api's param validation
 * (api_params.c), send_push_notification parsing (api_send.c), the API
 * keys (api_auth.c) and the array literals of api_store.c: every field
 * typed and bounded, errors naming the field with the right code. */
#include <stdlib.h>
#include <string.h>

#include "tests/unit/unit.h"
#include "core/buf.h"
#include "core/json.h"
#include "services/api/api.h"
#include "services/api/api_store.h"
#include "core/banned.h"

/* the defaults: unknown params ignored, no Web Push origins */
static const struct api_rules lax = {0};

static json_t *
js(const char *text)
{
    json_t *v = json_loads(text, 0, NULL);

    if (v == NULL)
        abort(); /* a typo in the test itself */
    return v;
}

static void
test_kinds(void)
{
    struct hd_err err = {0};
    char long_id[HD_ID_MAX + 2];

    memset(long_id, 'a', sizeof(long_id) - 1);
    long_id[sizeof(long_id) - 1] = '\0';
    ASSERT_INT_EQ(api_check_str(API_K_ID, "dev-1", 5, "p.id", &err), 0);
    ASSERT_INT_EQ(api_check_str(API_K_ID, "", 0, "p.id", &err), -1);
    ASSERT_STR_CONTAINS(err.msg, "p.id");
    ASSERT_INT_EQ(
        api_check_str(API_K_ID, long_id, strlen(long_id), "p.id", &err), -1);
    ASSERT_INT_EQ(api_check_str(API_K_USER, "", 0, "p.user", &err), 0);
    ASSERT_INT_EQ(api_check_str(API_K_USER, "a\tb", 3, "p.user", &err), -1);
    ASSERT_STR_CONTAINS(err.msg, "control");
    ASSERT_INT_EQ(api_check_str(API_K_ID, "a\0b", 3, "p.id", &err), -1);
    ASSERT_STR_CONTAINS(err.msg, "NUL");
    ASSERT_INT_EQ(api_check_str(API_K_PROVIDER, "hms", 3, "p", &err), 0);
    ASSERT_INT_EQ(api_check_str(API_K_PROVIDER, "gcm", 3, "p", &err), -1);
    ASSERT_INT_EQ(api_check_str(API_K_PLATFORM, "web", 3, "p", &err), 0);
    ASSERT_INT_EQ(api_check_str(API_K_PLATFORM, "tv", 2, "p", &err), -1);
    ASSERT_INT_EQ(api_check_str(API_K_APP, "my-app.1_x", 10, "p", &err), 0);
    ASSERT_INT_EQ(api_check_str(API_K_APP, "my app", 6, "p", &err), -1);
    ASSERT_INT_EQ(api_check_str(API_K_CHANNEL, "org:1", 5, "p", &err), 0);
    ASSERT_INT_EQ(err.code, HD_EINVAL);
}

static void
test_tokens(void)
{
    struct hd_err err = {0};
    char big[HD_TOKEN_MAX_APNS + 2];

    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    ASSERT_INT_EQ(
        api_check_token(&lax, HD_PROVIDER_APNS, "00ffAA", 6, "t", &err), 0);
    ASSERT_INT_EQ(api_check_token(&lax, HD_PROVIDER_APNS, "00fg", 4, "t", &err),
                  -1);
    ASSERT_STR_CONTAINS(err.msg, "hexadecimal");
    ASSERT_INT_EQ(
        api_check_token(&lax, HD_PROVIDER_APNS, big, strlen(big), "t", &err),
        -1);
    ASSERT_INT_EQ(
        api_check_token(&lax, HD_PROVIDER_FCM, big, strlen(big), "t", &err), 0);
    ASSERT_INT_EQ(api_check_token(&lax, HD_PROVIDER_FCM, "a b", 3, "t", &err),
                  -1);
    /* a path a worker would put in a URL */
    ASSERT_INT_EQ(api_check_token(&lax, HD_PROVIDER_APNS, "../x", 4, "t", &err),
                  -1);
    ASSERT_INT_EQ(api_check_token(&lax, HD_PROVIDER_HMS, "", 0, "t", &err), -1);
}

static void
test_readers(void)
{
    json_t *p = js("{\"a\":[\"x\",\"y\"],\"e\":[],\"n\":null,\"s\":\"v\","
                   "\"m\":{\"k\":\"v\"},\"bad\":{\"k\":1},\"limit\":20,"
                   "\"b\":true,\"i\":[1]}");
    struct hd_err err = {0};
    const char *s = NULL;
    json_t *out = NULL;
    int flag = 0, lim = 0;

    ASSERT_INT_EQ(api_get_list(p, "params", "a", API_K_ID, 2, 0, &out, &err),
                  1);
    ASSERT_INT_EQ(json_array_size(out), 2);
    ASSERT_INT_EQ(api_get_list(p, "params", "a", API_K_ID, 1, 0, &out, &err),
                  -1);
    ASSERT_INT_EQ(err.code, HD_ETOOBIG);
    ASSERT_STR_CONTAINS(err.msg, "params.a");
    ASSERT_INT_EQ(api_get_list(p, "params", "e", API_K_ID, 5, 0, &out, &err),
                  -1);
    ASSERT_INT_EQ(err.code, HD_EINVAL);
    ASSERT_INT_EQ(api_get_list(p, "params", "e", API_K_ID, 5, 1, &out, &err),
                  1);
    ASSERT_INT_EQ(api_get_list(p, "params", "n", API_K_ID, 5, 0, &out, &err),
                  0);
    ASSERT_INT_EQ(api_get_list(p, "params", "i", API_K_ID, 5, 0, &out, &err),
                  -1);
    ASSERT_STR_CONTAINS(err.msg, "params.i[0]");
    ASSERT_INT_EQ(api_get_str(p, "params", "s", API_K_ID, 1, &s, &err), 1);
    ASSERT_STR_EQ(s, "v");
    ASSERT_INT_EQ(api_get_str(p, "params", "zz", API_K_ID, 1, &s, &err), -1);
    ASSERT_STR_CONTAINS(err.msg, "params.zz: required");
    ASSERT_INT_EQ(api_get_map(p, "params", "m", &out, &err), 1);
    ASSERT_INT_EQ(api_get_map(p, "params", "bad", &out, &err), -1);
    ASSERT_STR_CONTAINS(err.msg, "params.bad.k");
    ASSERT_INT_EQ(api_get_flag(p, "params", "b", &flag, &err), 0);
    ASSERT_INT_EQ(flag, 1);
    ASSERT_INT_EQ(api_get_flag(p, "params", "s", &flag, &err), -1);
    ASSERT_INT_EQ(api_get_limit(p, "params", 100, 1000, &lim, &err), 0);
    ASSERT_INT_EQ(lim, 20);
    ASSERT_INT_EQ(api_get_limit(p, "params", 100, 10, &lim, &err), -1);
    json_decref(p);
}

static void
test_known(void)
{
    static const char *const known[] = {"a", "b", NULL};
    static const struct api_rules strict = {.strict = 1};
    json_t *p = js("{\"a\":1,\"c\":2}");
    struct hd_err err = {0};

    /* by default unknown fields are ignored, as Centrifugo does */
    ASSERT_INT_EQ(api_params_known(&lax, p, "params", known, &err), 0);
    ASSERT_INT_EQ(api_params_known(&strict, p, "params", known, &err), -1);
    ASSERT_STR_EQ(err.msg, "params.c: unknown field");
    /* the rules are the caller's: the lax ones still ignore it */
    ASSERT_INT_EQ(api_params_known(&lax, p, "params", known, &err), 0);
    json_object_del(p, "c");
    ASSERT_INT_EQ(api_params_known(&strict, p, "params", known, &err), 0);
    json_decref(p);
}

static void
test_timezone_locale_cursor(void)
{
    static const char *const good_tz[] = {"Europe/Berlin", "UTC",
                                          "America/Argentina/Buenos_Aires",
                                          "Etc/GMT+5", ""};
    static const char *const bad_tz[] = {
        "Mars/Olympus",   "../etc/passwd",       "/etc/passwd",     "Europe",
        "Europe//Berlin", "posix/Europe/Berlin", "Europe/Berlin\n", "right"};
    static const char *const good_lc[] = {"de", "pt-BR", "zh-Hant-TW", "es-419",
                                          ""};
    static const char *const bad_lc[] = {
        "e", "de-", "-de", "d3", "english!", "de--DE", "abcd", "de-abcdefghi"};
    struct hd_err err = {0};
    struct hd_buf b;
    json_t *p;
    char out[64];
    size_t i;

    for (i = 0; i < sizeof(good_tz) / sizeof(good_tz[0]); i++)
        ASSERT_INT_EQ(api_check_str(API_K_TIMEZONE, good_tz[i],
                                    strlen(good_tz[i]), "tz", &err),
                      0);
    for (i = 0; i < sizeof(bad_tz) / sizeof(bad_tz[0]); i++)
        ASSERT_INT_EQ(api_check_str(API_K_TIMEZONE, bad_tz[i],
                                    strlen(bad_tz[i]), "tz", &err),
                      -1);
    for (i = 0; i < sizeof(good_lc) / sizeof(good_lc[0]); i++)
        ASSERT_INT_EQ(api_check_str(API_K_LOCALE, good_lc[i],
                                    strlen(good_lc[i]), "lc", &err),
                      0);
    for (i = 0; i < sizeof(bad_lc) / sizeof(bad_lc[0]); i++)
        ASSERT_INT_EQ(api_check_str(API_K_LOCALE, bad_lc[i], strlen(bad_lc[i]),
                                    "lc", &err),
                      -1);
    hd_buf_init(&b, 256);
    ASSERT_INT_EQ(api_cursor_encode("dev-42", &b, &err), 0);
    p = json_pack("{s:s}", "cursor", b.data);
    ASSERT_INT_EQ(api_get_cursor(p, "params", out, sizeof(out), &err), 0);
    ASSERT_STR_EQ(out, "dev-42");
    json_object_set_new(p, "cursor", json_string("%%%"));
    ASSERT_INT_EQ(api_get_cursor(p, "params", out, sizeof(out), &err), -1);
    ASSERT_STR_EQ(err.msg,
                  "params.cursor: not a cursor returned by this method");
    json_object_set_new(p, "cursor", json_string(""));
    ASSERT_INT_EQ(api_get_cursor(p, "params", out, sizeof(out), &err), 0);
    ASSERT_STR_EQ(out, "");
    json_decref(p);
    hd_buf_release(&b);
}

static void
test_map_limits(void)
{
    json_t *p = js("{\"m\":{}}");
    json_t *m = json_object_get(p, "m");
    struct hd_err err = {0};
    json_t *out = NULL;
    char key[16];
    int i;

    for (i = 0; i < API_MAP_KEYS_MAX; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        json_object_set_new(m, key, json_string("v"));
    }
    ASSERT_INT_EQ(api_get_map(p, "params", "m", &out, &err), 1);
    json_object_set_new(m, "one-more", json_string("v"));
    ASSERT_INT_EQ(api_get_map(p, "params", "m", &out, &err), -1);
    ASSERT_INT_EQ(err.code, HD_ETOOBIG);
    json_object_clear(m);
    {
        char *big = calloc(1, HD_META_MAX + 1);

        memset(big, 'x', HD_META_MAX);
        json_object_set_new(m, "k", json_string(big));
        free(big);
    }
    ASSERT_INT_EQ(api_get_map(p, "params", "m", &out, &err), -1);
    ASSERT_STR_CONTAINS(err.msg, "bytes");
    json_decref(p);
}

/* ---- send_push_notification --------------------------------------------- */

static int
parse_send(const char *text, struct hd_msg_request *r, struct hd_err *err)
{
    json_t *p = js(text);
    int64_t send_at = 0;
    int rc = api_send_parse(&lax, p, 1234, r, &send_at, err);

    json_decref(p);
    return rc;
}

static void
test_send_ok(void)
{
    struct hd_msg_request r;
    struct hd_err err = {0};

    ASSERT_INT_EQ(parse_send("{\"recipient\":{\"channels\":[\"a\",\"b\"]},"
                             "\"notification\":{\"uid\":\"u1\","
                             "\"expire_at\":100,\"fcm\":{\"message\":"
                             "{\"data\":{\"k\":\"v\"}}},\"apns\":{\"payload\":"
                             "{\"aps\":{}}}}}",
                             &r, &err),
                  0);
    ASSERT_STR_EQ(r.uid, "u1");
    ASSERT_STR_EQ(r.app, "default");
    ASSERT_INT_EQ(r.kind, HD_RCPT_CHANNELS);
    ASSERT_INT_EQ(json_array_size(r.values), 2);
    ASSERT_INT_EQ(r.expire_at_ms, 100000);
    ASSERT_INT_EQ(r.created_ms, 1234);
    ASSERT_NOT_NULL(json_object_get(r.notification, "fcm"));
    ASSERT_NOT_NULL(json_object_get(r.notification, "apns"));
    ASSERT_NULL(json_object_get(r.notification, "hms"));
    hd_msg_request_release(&r);
    ASSERT_NULL(r.uid);

    /* a generated uid; a topic */
    ASSERT_INT_EQ(parse_send("{\"recipient\":{\"fcm_topic\":\"news~1%\"},"
                             "\"notification\":{\"fcm\":{\"message\":{}}},"
                             "\"app\":\"a2\"}",
                             &r, &err),
                  0);
    ASSERT_INT_EQ(strlen(r.uid), 36);
    ASSERT_STR_EQ(r.app, "a2");
    ASSERT_INT_EQ(r.kind, HD_RCPT_FCM_TOPIC);
    hd_msg_request_release(&r);
}

static void
expect_send_error(const char *text, enum hd_errcode code, const char *word)
{
    struct hd_msg_request r;
    struct hd_err err = {0};

    ASSERT_INT_EQ(parse_send(text, &r, &err), -1);
    ASSERT_INT_EQ(err.code, code);
    ASSERT_STR_CONTAINS(err.msg, word);
    ASSERT_NULL(r.uid);
    ASSERT_NULL(r.values);
    ASSERT_NULL(r.notification);
}

static void
test_send_errors(void)
{
    static const char *const fcm =
        "\"notification\":{\"fcm\":{\"message\":{}}}";
    char buf[512];

    expect_send_error("{\"notification\":{}}", HD_EINVAL, "recipient");
    snprintf(buf, sizeof(buf), "{\"recipient\":{},%s}", fcm);
    expect_send_error(buf, HD_EINVAL, "one recipient");
    snprintf(buf, sizeof(buf),
             "{\"recipient\":{\"channels\":[\"a\"],\"users\":[\"u\"]},%s}",
             fcm);
    expect_send_error(buf, HD_EINVAL, "only one");
    snprintf(buf, sizeof(buf), "{\"recipient\":{\"fcm_topic\":\"a b\"},%s}",
             fcm);
    expect_send_error(buf, HD_EINVAL, "fcm_topic");
    snprintf(buf, sizeof(buf),
             "{\"recipient\":{\"fcm_condition\":\"'a' in topics\"},%s}", fcm);
    {
        struct hd_msg_request r;
        struct hd_err err = {0};

        ASSERT_INT_EQ(parse_send(buf, &r, &err), 0);
        hd_msg_request_release(&r);
    }
    expect_send_error("{\"recipient\":{\"apns_tokens\":[\"ab\"]},"
                      "\"notification\":{\"fcm\":{\"message\":{}}}}",
                      HD_EINVAL, "notification.apns: required");
    expect_send_error("{\"recipient\":{\"channels\":[\"a\"]},"
                      "\"notification\":{\"hms\":{\"message\":"
                      "{\"topic\":\"x\"}}}}",
                      HD_EINVAL, "hms.message.topic");
    expect_send_error("{\"recipient\":{\"channels\":[\"a\"]},"
                      "\"notification\":{\"apns\":{\"payload\":{},"
                      "\"headers\":{\"apns-topic\":7}}}}",
                      HD_EINVAL, "apns-topic");
    expect_send_error("{\"recipient\":{\"channels\":[\"a\"]},"
                      "\"notification\":{\"fcm\":{\"message\":{}},"
                      "\"expire_at\":\"soon\"}}",
                      HD_EINVAL, "expire_at");
}

static void
test_send_payload_limits(void)
{
    struct hd_msg_request r;
    struct hd_err err = {0};
    char *text = calloc(1, 16384);
    char *pad = calloc(1, 8192);

    /* APNs: 4096 bytes, 5120 for VoIP */
    memset(pad, 'x', 4500);
    snprintf(text, 16384,
             "{\"recipient\":{\"channels\":[\"a\"]},\"notification\":"
             "{\"apns\":{\"payload\":{\"p\":\"%s\"}}}}",
             pad);
    ASSERT_INT_EQ(parse_send(text, &r, &err), -1);
    ASSERT_INT_EQ(err.code, HD_ETOOBIG);
    snprintf(text, 16384,
             "{\"recipient\":{\"channels\":[\"a\"]},\"notification\":"
             "{\"apns\":{\"headers\":{\"apns-push-type\":\"voip\"},"
             "\"payload\":{\"p\":\"%s\"}}}}",
             pad);
    ASSERT_INT_EQ(parse_send(text, &r, &err), 0);
    hd_msg_request_release(&r);
    free(text);
    free(pad);
}

/* ---- keys and array literals --------------------------------------------- */

static void
test_keys(void)
{
    struct api_keys k;
    struct hd_err err = {0};
    size_t len = 0;

    ASSERT_INT_EQ(api_keys_init(&k, " one , two", &err), 0);
    ASSERT_INT_EQ(k.n, 2);
    ASSERT_INT_EQ(api_keys_check(&k, "apikey one", NULL), 1);
    ASSERT_INT_EQ(api_keys_check(&k, "ApiKey  two ", NULL), 1);
    ASSERT_INT_EQ(api_keys_check(&k, "apikey onex", NULL), 0);
    ASSERT_INT_EQ(api_keys_check(&k, "apikey on", NULL), 0);
    ASSERT_INT_EQ(api_keys_check(&k, "Bearer one", NULL), 0);
    ASSERT_INT_EQ(api_keys_check(&k, NULL, "two"), 1);
    ASSERT_INT_EQ(api_keys_check(&k, NULL, NULL), 0);
    ASSERT_INT_EQ(api_keys_check(&k, "apikey ", NULL), 0);
    api_keys_release(&k);
    ASSERT_INT_EQ(k.n, 0);
    ASSERT_INT_EQ(api_keys_init(&k, "a,,b", &err), -1);
    ASSERT_STR_CONTAINS(err.msg, "HERALD_API_KEY");
    ASSERT_INT_EQ(api_keys_init(&k, "", &err), -1);
    ASSERT_STR_EQ(api_bearer("Bearer abc.def", &len), "abc.def");
    ASSERT_INT_EQ(len, 7);
    ASSERT_NULL(api_bearer("Basic abc", &len));
    ASSERT_NULL(api_bearer(NULL, &len));
}

static void
test_pg_arrays(void)
{
    json_t *a = js("[\"plain\",\"with \\\"quote\\\"\",\"back\\\\slash\","
                   "\"{brace},comma\"]");
    struct hd_err err = {0};
    struct hd_buf b;

    hd_buf_init(&b, 1024);
    ASSERT_STR_EQ(api_pgarr_json(&b, a, &err),
                  "{\"plain\",\"with \\\"quote\\\"\",\"back\\\\slash\","
                  "\"{brace},comma\"}");
    ASSERT_NULL(api_pgarr_json(&b, NULL, &err));
    hd_pg_array_begin(&b);
    hd_pg_array_add(&b, NULL, &err);
    hd_pg_array_add_i64(&b, -5, &err);
    hd_pg_array_end(&b, &err);
    ASSERT_STR_EQ(b.data, "{NULL,-5}");
    hd_buf_release(&b);
    hd_buf_init(&b, 8);
    ASSERT_NULL(api_pgarr_json(&b, a, &err));
    ASSERT_INT_EQ(err.code, HD_ETOOBIG);
    hd_buf_release(&b);
    json_decref(a);
}

int
main(void)
{
    RUN_TEST(test_kinds);
    RUN_TEST(test_tokens);
    RUN_TEST(test_readers);
    RUN_TEST(test_known);
    RUN_TEST(test_timezone_locale_cursor);
    RUN_TEST(test_map_limits);
    RUN_TEST(test_send_ok);
    RUN_TEST(test_send_errors);
    RUN_TEST(test_send_payload_limits);
    RUN_TEST(test_keys);
    RUN_TEST(test_pg_arrays);
    return UNIT_DONE();
}
