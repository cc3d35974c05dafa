/* test_hub_msgpack.c -- unit tests for services/hub/hub_msgpack.c and
 * hub_signalr.c: MessagePack forms, VarInt prefixes, the handshake and the
 * exact bytes of framed messages. */
#include <stdlib.h>

#include "tests/unit/unit.h"
#include "services/hub/hub_msgpack.h"
#include "services/hub/hub_signalr.h"
#include "core/banned.h"

static void
test_int_forms(void)
{
    static const struct {
        long long v;
        const char *hex;
    } cases[] = {
        {0, "00"},
        {127, "7f"},
        {128, "cc80"},
        {255, "ccff"},
        {256, "cd0100"},
        {65536, "ce00010000"},
        {-1, "ff"},
        {-32, "e0"},
        {-33, "d0df"},
        {-129, "d1ff7f"},
        {4294967296LL, "cf0000000100000000"},
    };
    struct hd_buf b;
    char hex[64];
    size_t i, j;

    hd_buf_init(&b, 64);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        hd_buf_reset(&b);
        ASSERT_INT_EQ(hub_mp_int(&b, cases[i].v, NULL), 0);
        for (j = 0; j < b.len; j++)
            snprintf(hex + 2 * j, 3, "%02x", (unsigned char)b.data[j]);
        hex[2 * b.len] = '\0';
        ASSERT_STR_EQ(hex, cases[i].hex);
    }
    hd_buf_release(&b);
    ASSERT_NULL(b.data);
}

static void
test_varint(void)
{
    struct hd_buf b;

    hd_buf_init(&b, 16);
    ASSERT_INT_EQ(hub_mp_varint(&b, 11, NULL), 0);
    ASSERT_INT_EQ(b.len, 1);
    ASSERT_INT_EQ((unsigned char)b.data[0], 0x0b);
    hd_buf_reset(&b);
    ASSERT_INT_EQ(hub_mp_varint(&b, 193, NULL), 0);
    ASSERT_INT_EQ(b.len, 2);
    ASSERT_MEM_EQ(b.data, "\xc1\x01", 2);
    hd_buf_reset(&b);
    ASSERT_INT_EQ(hub_mp_varint(&b, 0xffffffffu, NULL), 0);
    ASSERT_INT_EQ(b.len, 5);
    hd_buf_release(&b);
}

static void
test_json_conversion_and_limits(void)
{
    json_t *v = json_loads("{\"Id\":\"abc\",\"N\":[1,true,null,1.5],"
                           "\"S\":\"0123456789012345678901234567890123\"}",
                           0, NULL);
    struct hd_buf b;
    struct hd_err err = {0};
    json_t *deep;
    int i;

    hd_buf_init(&b, 1024);
    ASSERT_INT_EQ(hub_mp_from_json(&b, v, NULL), 0);
    /* map(3) "Id" "abc" "N" array(4) 1 true nil float64 "S" str8(34) */
    ASSERT_MEM_EQ(b.data,
                  "\x83\xa2Id\xa3"
                  "abc\xa1N\x94\x01\xc3\xc0\xcb",
                  15);
    ASSERT_MEM_EQ(b.data + 23, "\xa1S\xd9\x22", 4);
    ASSERT_INT_EQ(b.len, 27 + 34);
    json_decref(v);

    deep = json_array();
    v = deep;
    for (i = 0; i < HUB_MP_MAX_DEPTH + 2; i++) {
        json_t *inner = json_array();
        json_array_append_new(v, inner);
        v = inner;
    }
    hd_buf_reset(&b);
    ASSERT_INT_EQ(hub_mp_from_json(&b, deep, &err), -1);
    ASSERT_INT_EQ(err.code, HD_EINVAL);
    json_decref(deep);

    /* the ceiling is respected */
    hd_buf_release(&b);
    hd_buf_init(&b, 4);
    ASSERT_INT_EQ(hub_mp_str(&b, "hello", 5, &err), -1);
    ASSERT_INT_EQ(err.code, HD_ETOOBIG);
    hd_buf_release(&b);
}

static void
test_handshake(void)
{
    enum hub_proto p = HUB_PROTO_JSON;
    struct hd_err err = {0};
    const char *mp = "{\"protocol\":\"messagepack\",\"version\":1}\x1e";
    const char *js = " { \"version\" : 1 ,\n \"protocol\" : \"json\" }\x1e";

    ASSERT_INT_EQ(hub_signalr_handshake(mp, strlen(mp), &p, NULL), 0);
    ASSERT_INT_EQ(p, HUB_PROTO_MSGPACK);
    ASSERT_INT_EQ(hub_signalr_handshake(js, strlen(js), &p, NULL), 0);
    ASSERT_INT_EQ(p, HUB_PROTO_JSON);
    ASSERT_INT_EQ(
        hub_signalr_handshake("{\"protocol\":\"blob\",\"version\":1}\x1e", 33,
                              &p, &err),
        -1);
    ASSERT_STR_EQ(err.msg, "Requested protocol 'blob' is not available.");
    ASSERT_INT_EQ(
        hub_signalr_handshake("{\"protocol\":\"json\",\"version\":2}\x1e", 32,
                              &p, &err),
        -1);
    ASSERT_STR_CONTAINS(err.msg, "version 2");
    ASSERT_INT_EQ(hub_signalr_handshake("nope\x1e", 5, &p, &err), -1);
}

static void
test_frames(void)
{
    json_t *arg = json_loads("{\"ContextId\":null,\"Type\":5,\"Payload\":"
                             "{\"UserId\":\"u\"}}",
                             0, NULL);
    struct hd_buf b;
    const unsigned char *k;
    size_t n;
    /* [1, {}, nil, "ReceiveMessage", [arg], []] behind its length */
    static const char mp[] =
        "\x95\x01\x80\xc0\xaeReceiveMessage\x91"
        "\x83\xa9"
        "ContextId\xc0\xa4Type\x05\xa7Payload\x81\xa6UserId\xa1u"
        "\x90";

    hd_buf_init(&b, 4096);
    ASSERT_INT_EQ(hub_signalr_invocation(&b, HUB_PROTO_MSGPACK,
                                         "ReceiveMessage", arg, NULL),
                  0);
    ASSERT_INT_EQ((unsigned char)b.data[0], sizeof(mp) - 1);
    ASSERT_INT_EQ((unsigned char)b.data[1], 0x96); /* 6 elements */
    ASSERT_MEM_EQ(b.data + 2, mp + 1, sizeof(mp) - 2);
    hd_buf_reset(&b);
    ASSERT_INT_EQ(
        hub_signalr_invocation(&b, HUB_PROTO_JSON, "ReceiveMessage", arg, NULL),
        0);
    ASSERT_STR_EQ(b.data, "{\"type\":1,\"target\":\"ReceiveMessage\","
                          "\"arguments\":[{\"ContextId\":null,\"Type\":5,"
                          "\"Payload\":{\"UserId\":\"u\"}}]}\x1e");
    hd_buf_reset(&b);
    ASSERT_INT_EQ(hub_signalr_handshake_reply(&b, NULL, NULL), 0);
    ASSERT_STR_EQ(b.data, "{}\x1e");
    hd_buf_reset(&b);
    ASSERT_INT_EQ(hub_signalr_handshake_reply(&b, "say \"no\"", NULL), 0);
    ASSERT_STR_EQ(b.data, "{\"error\":\"say \\\"no\\\"\"}\x1e");
    k = hub_signalr_ping(HUB_PROTO_MSGPACK, &n);
    ASSERT_INT_EQ(n, 3);
    ASSERT_MEM_EQ(k, "\x02\x91\x06", 3);
    k = hub_signalr_close(HUB_PROTO_MSGPACK, &n);
    ASSERT_MEM_EQ(k, "\x04\x93\x07\xc0\xc3", 5);
    k = hub_signalr_ping(HUB_PROTO_JSON, &n);
    ASSERT_MEM_EQ(k, "{\"type\":6}\x1e", n);
    json_decref(arg);
    hd_buf_release(&b);
}

int
main(void)
{
    RUN_TEST(test_int_forms);
    RUN_TEST(test_varint);
    RUN_TEST(test_json_conversion_and_limits);
    RUN_TEST(test_handshake);
    RUN_TEST(test_frames);
    return UNIT_DONE();
}
