/* test_msg.c -- unit tests for common/proto/msg.c: round trips of every record
 * type and the validation that keeps bad records out. */
#include <stdlib.h>

#include "tests/unit/unit.h"
#include "core/alloc.h"
#include "core/json.h"
#include "proto/msg.h"

static void
test_event_round_trip(void)
{
    struct hd_msg_event e = {0}, d = {0};
    struct hd_buf b;
    struct hd_err err = {0};

    e.target = HD_TARGET_USER;
    e.target_id = (char[]){"u1"};
    e.client_type = 3;
    e.notification = json_pack("{s:i,s:{s:s},s:n}", "Type", 5, "Payload",
                               "UserId", "u1", "ContextId");
    e.created_ms = 1234;
    hd_buf_init(&b, 4096);
    ASSERT_INT_EQ(hd_msg_event_encode(&e, &b, &err), 0);
    ASSERT_INT_EQ(hd_msg_event_decode(b.data, b.len, &d, &err), 0);
    ASSERT_INT_EQ(d.target, HD_TARGET_USER);
    ASSERT_STR_EQ(d.target_id, "u1");
    ASSERT_INT_EQ(d.client_type, 3);
    ASSERT_INT_EQ(d.created_ms, 1234);
    ASSERT_TRUE(json_equal(d.notification, e.notification));
    hd_msg_event_release(&d);
    ASSERT_NULL(d.notification);
    json_decref(e.notification);
    hd_buf_release(&b);
}

static void
test_event_without_target_and_bad(void)
{
    const char *ok = "{\"v\":1,\"notification\":{\"Type\":16}}";
    const char *v2 = "{\"v\":2,\"notification\":{}}";
    const char *badt = "{\"v\":1,\"target\":\"planet\",\"target_id\":\"x\","
                       "\"notification\":{}}";
    const char *noid = "{\"v\":1,\"target\":\"user\",\"notification\":{}}";
    struct hd_msg_event d;
    struct hd_err err = {0};

    ASSERT_INT_EQ(hd_msg_event_decode(ok, strlen(ok), &d, &err), 0);
    ASSERT_INT_EQ(d.target, HD_TARGET_NONE);
    hd_msg_event_release(&d);
    ASSERT_INT_EQ(hd_msg_event_decode(v2, strlen(v2), &d, &err), -1);
    ASSERT_STR_CONTAINS(err.msg, "version 2");
    ASSERT_INT_EQ(hd_msg_event_decode(badt, strlen(badt), &d, &err), -1);
    ASSERT_STR_CONTAINS(err.msg, "planet");
    ASSERT_INT_EQ(hd_msg_event_decode(noid, strlen(noid), &d, &err), -1);
    ASSERT_STR_CONTAINS(err.msg, "target_id");
    ASSERT_INT_EQ(hd_msg_event_decode("[1]", 3, &d, &err), -1);
    ASSERT_INT_EQ(hd_msg_event_decode("{", 1, &d, &err), -1);
}

static void
test_request_round_trip(void)
{
    struct hd_msg_request r = {0}, d = {0};
    struct hd_buf b;
    struct hd_err err = {0};

    r.uid = (char[]){"uid-1"};
    r.app = (char[]){"bw"};
    r.created_ms = 5;
    r.expire_at_ms = 9000;
    r.kind = HD_RCPT_USERS;
    r.values = json_pack("[s,s]", "a", "b");
    r.exclude_identifiers = json_pack("[s]", "dev-ident");
    r.client_type = 4;
    r.installation_id = (char[]){"inst"};
    r.notification =
        json_pack("{s:{s:{s:{s:s}}}}", "fcm", "message", "data", "type", "1");
    hd_buf_init(&b, 4096);
    ASSERT_INT_EQ(hd_msg_request_encode(&r, &b, &err), 0);
    ASSERT_INT_EQ(hd_msg_request_decode(b.data, b.len, &d, &err), 0);
    ASSERT_STR_EQ(d.uid, "uid-1");
    ASSERT_STR_EQ(d.app, "bw");
    ASSERT_INT_EQ(d.kind, HD_RCPT_USERS);
    ASSERT_INT_EQ(d.expire_at_ms, 9000);
    ASSERT_TRUE(json_equal(d.values, r.values));
    ASSERT_TRUE(json_equal(d.exclude_identifiers, r.exclude_identifiers));
    ASSERT_INT_EQ(d.client_type, 4);
    ASSERT_STR_EQ(d.installation_id, "inst");
    ASSERT_TRUE(json_equal(d.notification, r.notification));
    hd_msg_request_release(&d);
    json_decref(r.values);
    json_decref(r.exclude_identifiers);
    json_decref(r.notification);

    /* topic recipient is a string */
    memset(&r, 0, sizeof(r));
    r.uid = (char[]){"u2"};
    r.kind = HD_RCPT_FCM_TOPIC;
    r.values = json_string("news");
    r.notification = json_object();
    hd_buf_reset(&b);
    ASSERT_INT_EQ(hd_msg_request_encode(&r, &b, &err), 0);
    ASSERT_INT_EQ(hd_msg_request_decode(b.data, b.len, &d, &err), 0);
    ASSERT_INT_EQ(d.kind, HD_RCPT_FCM_TOPIC);
    ASSERT_STR_EQ(json_string_value(d.values), "news");
    ASSERT_STR_EQ(d.app, "default");
    ASSERT_TRUE(d.personal == NULL && d.part == NULL);
    hd_msg_request_release(&d);

    /* a held-back part of a per-device send */
    r.personal = json_pack("{s:b}", "use_templating", 1);
    r.part = (char[]){"1765040400-00ff"};
    hd_buf_reset(&b);
    ASSERT_INT_EQ(hd_msg_request_encode(&r, &b, &err), 0);
    ASSERT_INT_EQ(hd_msg_request_decode(b.data, b.len, &d, &err), 0);
    ASSERT_TRUE(json_equal(d.personal, r.personal));
    ASSERT_STR_EQ(d.part, "1765040400-00ff");
    hd_msg_request_release(&d);
    json_decref(r.personal);
    json_decref(r.values);
    json_decref(r.notification);
    hd_buf_release(&b);
}

static void
test_request_validation(void)
{
    const char *two = "{\"v\":1,\"uid\":\"u\",\"recipient\":{\"users\":[\"a\"],"
                      "\"channels\":[\"c\"]},\"notification\":{}}";
    const char *none = "{\"v\":1,\"uid\":\"u\",\"recipient\":{\"x\":1},"
                       "\"notification\":{}}";
    const char *empty = "{\"v\":1,\"uid\":\"u\",\"recipient\":{\"users\":[]},"
                        "\"notification\":{}}";
    const char *nouid = "{\"v\":1,\"recipient\":{\"users\":[\"a\"]},"
                        "\"notification\":{}}";
    struct hd_msg_request d;
    struct hd_err err = {0};

    ASSERT_INT_EQ(hd_msg_request_decode(two, strlen(two), &d, &err), -1);
    ASSERT_STR_CONTAINS(err.msg, "exactly one");
    ASSERT_INT_EQ(hd_msg_request_decode(none, strlen(none), &d, &err), -1);
    ASSERT_INT_EQ(hd_msg_request_decode(empty, strlen(empty), &d, &err), -1);
    ASSERT_STR_CONTAINS(err.msg, "recipient.users");
    ASSERT_INT_EQ(hd_msg_request_decode(nouid, strlen(nouid), &d, &err), -1);
    ASSERT_STR_CONTAINS(err.msg, "uid");
    ASSERT_NULL(d.uid);
}

static void
test_delivery_round_trip_and_limits(void)
{
    struct hd_msg_delivery m = {0}, d = {0};
    struct hd_buf b;
    struct hd_err err = {0};
    char tok[32];
    int i;

    m.uid = hd_xstrdup("u");
    m.provider = HD_PROVIDER_APNS;
    m.attempt = 2;
    m.not_before_ms = 77;
    m.expire_at_ms = 99;
    m.created_ms = 11;
    m.rtype = HD_RT_DEVICE;
    m.notification = json_pack("{s:{s:s},s:{}}", "headers", "apns-topic",
                               "com.x", "payload");
    hd_msg_delivery_add_token(&m, "abcd", "dev1");
    hd_msg_delivery_add_token(&m, "ef01", NULL);
    hd_buf_init(&b, 1 << 20);
    ASSERT_INT_EQ(hd_msg_delivery_encode(&m, &b, &err), 0);
    ASSERT_INT_EQ(hd_msg_delivery_decode(b.data, b.len, &d, &err), 0);
    ASSERT_INT_EQ(d.provider, HD_PROVIDER_APNS);
    ASSERT_INT_EQ(d.attempt, 2);
    ASSERT_INT_EQ(d.not_before_ms, 77);
    ASSERT_INT_EQ(d.ntokens, 2);
    ASSERT_STR_EQ(d.tokens[0].token, "abcd");
    ASSERT_STR_EQ(d.tokens[0].device, "dev1");
    ASSERT_NULL(d.tokens[1].device);
    ASSERT_TRUE(json_equal(d.notification, m.notification));
    hd_msg_delivery_release(&d);

    /* 501 APNs tokens is over the batch limit */
    for (i = 2; i < 501; i++) {
        snprintf(tok, sizeof(tok), "t%d", i);
        hd_msg_delivery_add_token(&m, tok, NULL);
    }
    hd_buf_reset(&b);
    ASSERT_INT_EQ(hd_msg_delivery_encode(&m, &b, &err), -1);
    ASSERT_STR_CONTAINS(err.msg, "1 to 500");
    hd_msg_delivery_release(&m);
    ASSERT_NULL(m.tokens);
    hd_buf_release(&b);
}

/* The tokens are written without jansson: the record must be the one
 * jansson writes (escapes, UTF-8, null device), a token that is not UTF-8
 * left out as jansson left it out. */
static void
test_delivery_tokens_as_jansson_writes_them(void)
{
    static const char *const toks[] = {"plain",
                                       "q\"uote\\back",
                                       "tab\tnl\n",
                                       "ctl\001",
                                       "caf\xc3\xa9 \xe2\x82\xac",
                                       "bad\xc3(",
                                       "over\xc0\xaf"};
    struct hd_msg_delivery m = {0};
    struct hd_buf b, want;
    struct hd_err err = {0};
    json_t *o, *arr;
    size_t i;

    m.uid = hd_xstrdup("u-\xc3\xa9");
    m.app = hd_xstrdup("default");
    m.provider = HD_PROVIDER_FCM;
    m.created_ms = 5;
    m.rtype = HD_RT_DEVICE;
    m.notification = json_pack("{s:{s:s}}", "data", "k", "v\"");
    arr = json_array();
    for (i = 0; i < sizeof(toks) / sizeof(toks[0]); i++) {
        hd_msg_delivery_add_token(&m, toks[i], i % 2 ? "dev" : NULL);
        if (i < 5)
            json_array_append_new(
                arr, json_pack("{s:s,s:o}", "token", toks[i], "device",
                               i % 2 ? json_string("dev") : json_null()));
    }
    o = json_pack("{s:i,s:s,s:s,s:s,s:i,s:I,s:I,s:I,s:s,s:O,s:o}", "v",
                  HD_MSG_VERSION, "uid", m.uid, "app", "default", "provider",
                  "fcm", "attempt", 0, "not_before_ms", (json_int_t)0,
                  "expire_at_ms", (json_int_t)0, "created_ms", (json_int_t)5,
                  "recipient_type", "device", "notification", m.notification,
                  "tokens", arr);
    hd_buf_init(&b, 1 << 20);
    hd_buf_init(&want, 1 << 20);
    ASSERT_INT_EQ(hd_json_dump(o, &want, &err), 0);
    ASSERT_INT_EQ(hd_msg_delivery_encode(&m, &b, &err), 0);
    ASSERT_STR_EQ(b.data, want.data);
    json_decref(o);
    hd_msg_delivery_release(&m);
    hd_buf_release(&b);
    hd_buf_release(&want);
}

static void
test_delivery_topic_and_bad(void)
{
    const char *topic = "{\"v\":1,\"uid\":\"u\",\"provider\":\"hms\","
                        "\"recipient_type\":\"topic\",\"topic\":\"t\","
                        "\"notification\":{}}";
    const char *badp = "{\"v\":1,\"uid\":\"u\",\"provider\":\"sms\","
                       "\"tokens\":[{\"token\":\"x\"}],\"notification\":{}}";
    const char *badtok = "{\"v\":1,\"uid\":\"u\",\"provider\":\"fcm\","
                         "\"tokens\":[{\"token\":5}],\"notification\":{}}";
    struct hd_msg_delivery d;
    struct hd_err err = {0};

    ASSERT_INT_EQ(hd_msg_delivery_decode(topic, strlen(topic), &d, &err), 0);
    ASSERT_INT_EQ(d.rtype, HD_RT_TOPIC);
    ASSERT_STR_EQ(d.topic, "t");
    ASSERT_INT_EQ(d.provider, HD_PROVIDER_HMS);
    hd_msg_delivery_release(&d);
    ASSERT_INT_EQ(hd_msg_delivery_decode(badp, strlen(badp), &d, &err), -1);
    ASSERT_STR_CONTAINS(err.msg, "sms");
    ASSERT_INT_EQ(hd_msg_delivery_decode(badtok, strlen(badtok), &d, &err), -1);
    ASSERT_STR_CONTAINS(err.msg, "tokens[0].token");
}

static void
test_feedback_round_trip(void)
{
    struct hd_msg_feedback f = {0}, d = {0};
    struct hd_buf b;
    struct hd_err err = {0};

    f.uid = (char[]){"u"};
    f.provider = HD_PROVIDER_FCM;
    f.device = (char[]){"d1"};
    f.token = (char[]){"tok"};
    f.outcome = HD_OUTCOME_TOKEN_INVALID;
    f.code = (char[]){"UNREGISTERED"};
    f.http_status = 404;
    f.ts_ms = 42;
    hd_buf_init(&b, 4096);
    ASSERT_INT_EQ(hd_msg_feedback_encode(&f, &b, &err), 0);
    ASSERT_INT_EQ(hd_msg_feedback_decode(b.data, b.len, &d, &err), 0);
    ASSERT_INT_EQ(d.outcome, HD_OUTCOME_TOKEN_INVALID);
    ASSERT_STR_EQ(d.code, "UNREGISTERED");
    ASSERT_STR_EQ(d.device, "d1");
    ASSERT_INT_EQ(d.http_status, 404);
    hd_msg_feedback_release(&d);
    hd_buf_release(&b);
}

static void
test_dlq_wraps_json_and_text(void)
{
    struct hd_buf b;
    json_t *o;

    hd_buf_init(&b, 4096);
    ASSERT_INT_EQ(hd_msg_dlq_encode("herald.deliver.fcm", "bad", "u",
                                    "{\"a\":1}", 7, 5, &b, NULL),
                  0);
    o = json_loads(b.data, 0, NULL);
    ASSERT_INT_EQ(json_integer_value(
                      json_object_get(json_object_get(o, "original"), "a")),
                  1);
    json_decref(o);
    hd_buf_reset(&b);
    ASSERT_INT_EQ(
        hd_msg_dlq_encode("t", "r", NULL, "\xff\x01zz", 4, 5, &b, NULL), 0);
    o = json_loads(b.data, 0, NULL);
    ASSERT_NOT_NULL(o);
    ASSERT_TRUE(json_is_null(json_object_get(o, "uid")));
    ASSERT_TRUE(json_is_string(json_object_get(o, "original")));
    json_decref(o);
    hd_buf_release(&b);
}

static void
test_names(void)
{
    enum hd_provider p;
    enum hd_outcome o;

    ASSERT_INT_EQ(hd_provider_parse("apns", &p), 0);
    ASSERT_INT_EQ(p, HD_PROVIDER_APNS);
    ASSERT_INT_EQ(hd_provider_parse("webpush", &p), 0);
    ASSERT_INT_EQ(p, HD_PROVIDER_WEBPUSH);
    ASSERT_INT_EQ(hd_provider_parse("wns", &p), -1);
    ASSERT_INT_EQ(hd_provider_token_max(HD_PROVIDER_WEBPUSH), 2048);
    ASSERT_INT_EQ(hd_provider_parse("gcm", &p), -1);
    ASSERT_INT_EQ(hd_provider_batch_max(HD_PROVIDER_WEBPUSH), 500);
    ASSERT_INT_EQ(hd_provider_batch_max(HD_PROVIDER_HMS), 1000);
    ASSERT_INT_EQ(hd_outcome_parse("expired", &o), 0);
    ASSERT_STR_EQ(hd_outcome_name(HD_OUTCOME_SENT), "sent");
    ASSERT_STR_EQ(hd_recipient_key(HD_RCPT_APNS_TOKENS), "apns_tokens");
    ASSERT_INT_EQ(hd_recipient_is_list(HD_RCPT_HMS_CONDITION), 0);
}

int
main(void)
{
    RUN_TEST(test_event_round_trip);
    RUN_TEST(test_event_without_target_and_bad);
    RUN_TEST(test_request_round_trip);
    RUN_TEST(test_request_validation);
    RUN_TEST(test_delivery_round_trip_and_limits);
    RUN_TEST(test_delivery_tokens_as_jansson_writes_them);
    RUN_TEST(test_delivery_topic_and_bad);
    RUN_TEST(test_feedback_round_trip);
    RUN_TEST(test_dlq_wraps_json_and_text);
    RUN_TEST(test_names);
    return UNIT_DONE();
}
