/* test_webpush_guard.c -- unit tests for common/webpush/guard.c and
 * sub.c: every refused endpoint spelling, every refused address range
 * (IPv4, IPv6, mapped forms), the allowlist with wildcards, the one
 * simulator exception, and subscription parsing. */
#include <arpa/inet.h>
#include <netinet/in.h>

#include "tests/unit/unit.h"
#include "webpush/guard.h"
#include "webpush/sub.h"

static struct sockaddr_storage ss;

static const struct sockaddr *
addr(const char *ip, int port)
{
    memset(&ss, 0, sizeof(ss));
    if (strchr(ip, ':') == NULL) {
        struct sockaddr_in *s = (struct sockaddr_in *)(void *)&ss;

        s->sin_family = AF_INET;
        s->sin_port = htons((uint16_t)port);
        inet_pton(AF_INET, ip, &s->sin_addr);
    } else {
        struct sockaddr_in6 *s = (struct sockaddr_in6 *)(void *)&ss;

        s->sin6_family = AF_INET6;
        s->sin6_port = htons((uint16_t)port);
        inet_pton(AF_INET6, ip, &s->sin6_addr);
    }
    return (const struct sockaddr *)(const void *)&ss;
}

static void
test_addresses(void)
{
    static const char *const refused[] = {"127.0.0.1",
                                          "10.1.2.3",
                                          "169.254.169.254",
                                          "172.16.0.1",
                                          "172.31.255.255",
                                          "192.168.1.1",
                                          "100.64.0.1",
                                          "100.127.255.255",
                                          "0.0.0.0",
                                          "224.0.0.1",
                                          "255.255.255.255",
                                          "240.0.0.1",
                                          "::1",
                                          "::",
                                          "fc00::1",
                                          "fd12:3456::1",
                                          "fe80::1",
                                          "ff02::1",
                                          "::ffff:127.0.0.1",
                                          "::ffff:10.0.0.1",
                                          "::ffff:169.254.169.254",
                                          "64:ff9b::a00:1",
                                          "2002:c0a8:101::1",
                                          "2001:db8::1",
                                          "198.18.0.1",
                                          NULL};
    static const char *const public[] = {
        "8.8.8.8",    "142.250.1.1",          "100.128.0.1",
        "172.32.0.1", "2a00:1450:4001::200e", "::ffff:8.8.8.8",
        NULL};
    size_t i;

    for (i = 0; refused[i]; i++)
        if (hd_webpush_addr_public(addr(refused[i], 443)))
            UNIT_FAIL_("%s: allowed", refused[i]);
    for (i = 0; public[i]; i++)
        if (!hd_webpush_addr_public(addr(public[i], 443)))
            UNIT_FAIL_("%s: refused", public[i]);
}

static void
test_endpoints(void)
{
    static const char *const refused[] = {
        "http://fcm.googleapis.com/fcm/send/x",
        "https://127.0.0.1/x",
        "https://10.0.0.1/x",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/x",
        "https://[::ffff:127.0.0.1]/x",
        "https://2130706433/x",
        "https://0x7f000001/x",
        "https://0177.0.0.1/x",
        "https://127.1/x",
        "https://user@fcm.googleapis.com/x",
        "https://fcm.googleapis.com:8443/x",
        "https://evil.example/x",
        "https://googleapis.com.evil.example/x",
        "https://fcm.googleapis.com.evil.example/x",
        "https://xgoogleapis.com/x",
        "https://localhost/x",
        "ftp://fcm.googleapis.com/x",
        "https:///x",
        NULL};
    static const char *const ok[][2] = {
        {"https://fcm.googleapis.com/fcm/send/abc",
         "https://fcm.googleapis.com"},
        {"https://FCM.googleapis.com/fcm/send/abc",
         "https://fcm.googleapis.com"},
        {"https://web.push.apple.com/QGuQ", "https://web.push.apple.com"},
        {"https://updates.push.services.mozilla.com/wpush/v2/gAAA",
         "https://updates.push.services.mozilla.com"},
        {"https://wns2-by3p.notify.windows.com/w/?token=x",
         "https://wns2-by3p.notify.windows.com"},
        {"https://push.example.com:8443/p/1", "https://push.example.com:8443"},
    };
    struct hd_webpush_guard *g;
    struct hd_err err = {0};
    char origin[HD_WEBPUSH_ORIGIN_MAX];
    size_t i;

    g = hd_webpush_guard_new(HD_WEBPUSH_DEFAULT_ORIGINS,
                             "https://push.example.com:8443", "", &err);
    ASSERT_NOT_NULL(g);
    for (i = 0; refused[i]; i++)
        if (hd_webpush_guard_endpoint(g, refused[i], origin, sizeof(origin),
                                      &err) == 0)
            UNIT_FAIL_("%s: allowed", refused[i]);
    for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        ASSERT_INT_EQ(hd_webpush_guard_endpoint(g, ok[i][0], origin,
                                                sizeof(origin), &err),
                      0);
        ASSERT_STR_EQ(origin, ok[i][1]);
    }
    ASSERT_INT_EQ(hd_webpush_guard_endpoint(g, "https://127.0.0.1/x", origin,
                                            sizeof(origin), &err),
                  -1);
    ASSERT_STR_CONTAINS(err.msg, "IP address");
    ASSERT_INT_EQ(hd_webpush_guard_endpoint(g, "http://a.googleapis.com/x",
                                            origin, sizeof(origin), &err),
                  -1);
    ASSERT_STR_CONTAINS(err.msg, "https");
    /* without the simulator setting, loopback is refused at connect time */
    ASSERT_INT_EQ(hd_webpush_guard_addr(g, addr("127.0.0.1", 8443)), 0);
    hd_webpush_guard_free(g);
    /* bad allowlists are refused at start */
    ASSERT_NULL(hd_webpush_guard_new("https://10.0.0.1", "", "", &err));
    ASSERT_NULL(hd_webpush_guard_new("http://a.example", "", "", &err));
    ASSERT_NULL(hd_webpush_guard_new("", "", "nonsense", &err));
}

static void
test_simulator_setting(void)
{
    struct hd_webpush_guard *g =
        hd_webpush_guard_new(HD_WEBPUSH_DEFAULT_ORIGINS, "",
                             "push.sim.test:443:127.0.0.1:18443", NULL);
    char origin[HD_WEBPUSH_ORIGIN_MAX];

    ASSERT_NOT_NULL(g);
    ASSERT_INT_EQ(hd_webpush_guard_endpoint(g, "https://push.sim.test/s/1",
                                            origin, sizeof(origin), NULL),
                  0);
    /* exactly that address and port, nothing else private */
    ASSERT_INT_EQ(hd_webpush_guard_addr(g, addr("127.0.0.1", 18443)), 1);
    ASSERT_INT_EQ(hd_webpush_guard_addr(g, addr("127.0.0.1", 18444)), 0);
    ASSERT_INT_EQ(hd_webpush_guard_addr(g, addr("127.0.0.2", 18443)), 0);
    ASSERT_INT_EQ(hd_webpush_guard_addr(g, addr("10.0.0.1", 18443)), 0);
    ASSERT_INT_EQ(hd_webpush_guard_addr(g, addr("8.8.8.8", 443)), 1);
    ASSERT_STR_EQ(hd_webpush_guard_connect_to(g),
                  "push.sim.test:443:127.0.0.1:18443");
    hd_webpush_guard_free(g);
    /* no setting, no redirection */
    g = hd_webpush_guard_new(HD_WEBPUSH_DEFAULT_ORIGINS, "", "", NULL);
    ASSERT_NULL(hd_webpush_guard_connect_to(g));
    hd_webpush_guard_free(g);
}

/* ADDRESS as a name (a container network's service name): resolved once,
 * that address only, and the client is sent to it by number. */
static void
test_simulator_by_name(void)
{
    struct hd_err err = {0};
    struct hd_webpush_guard *g =
        hd_webpush_guard_new(HD_WEBPUSH_DEFAULT_ORIGINS, "",
                             "fcm.googleapis.com:443:localhost:18443", &err);
    const char *ct;

    ASSERT_NOT_NULL(g);
    ct = hd_webpush_guard_connect_to(g);
    ASSERT_TRUE(strcmp(ct, "fcm.googleapis.com:443:127.0.0.1:18443") == 0 ||
                strcmp(ct, "fcm.googleapis.com:443:[::1]:18443") == 0);
    if (ct[23] == '1') {
        ASSERT_INT_EQ(hd_webpush_guard_addr(g, addr("127.0.0.1", 18443)), 1);
        ASSERT_INT_EQ(hd_webpush_guard_addr(g, addr("127.0.0.2", 18443)), 0);
    }
    hd_webpush_guard_free(g);
    /* a name that does not resolve, or is no name, stops the start */
    ASSERT_NULL(hd_webpush_guard_new(
        "", "", "a.test:443:no-such-host.invalid:1", &err));
    ASSERT_TRUE(strstr(err.msg, "does not resolve") != NULL);
    ASSERT_NULL(hd_webpush_guard_new("", "", "a.test:443:bad_name!:1", &err));
    ASSERT_TRUE(strstr(err.msg, "not an IP address or host name") != NULL);
}

#define SUB_EP(ep)                                                             \
    "{\"endpoint\":\"" ep "\",\"keys\":{\"p256dh\":\"BCVxsr7N_eNgVRqvHtD0zT"   \
    "ZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4\","     \
    "\"auth\":\"BTBZMqHH6r4Tts7J_aSIgg\"}}"

static void
test_subscriptions(void)
{
    static const char good[] =
        "{\"endpoint\":\"https://fcm.googleapis.com/fcm/send/x\","
        "\"expirationTime\":null,\"keys\":{\"p256dh\":\"BCVxsr7N_eNgVRqvHtD0zT"
        "ZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4\","
        "\"auth\":\"BTBZMqHH6r4Tts7J_aSIgg\"}}";
    static const char *const bad[] = {
        "not json", "{}", "{\"endpoint\":\"https://a.googleapis.com/x\"}",
        /* p256dh 64 bytes */
        "{\"endpoint\":\"https://a\",\"keys\":{\"p256dh\":\"BCVxsr7N_eNgVRqvHt"
        "D0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIA"
        "iw\",\"auth\":\"BTBZMqHH6r4Tts7J_aSIgg\"}}",
        /* point off the curve (last byte changed) */
        "{\"endpoint\":\"https://a\",\"keys\":{\"p256dh\":\"BCVxsr7N_eNgVRqvHt"
        "D0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIA"
        "iw8\",\"auth\":\"BTBZMqHH6r4Tts7J_aSIgg\"}}",
        /* not base64url */
        "{\"endpoint\":\"https://a\",\"keys\":{\"p256dh\":\"BCVxsr7N+eNgVRqvHt"
        "D0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIA"
        "iw4\",\"auth\":\"BTBZMqHH6r4Tts7J_aSIgg\"}}",
        /* auth 15 bytes */
        "{\"endpoint\":\"https://a\",\"keys\":{\"p256dh\":\"BCVxsr7N_eNgVRqvHt"
        "D0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIA"
        "iw4\",\"auth\":\"BTBZMqHH6r4Tts7J_aSI\"}}",
        /* bytes no URL holds: DEL, a space, a quote, a backslash, an
         * escaped control, non-ASCII (their escapes made the canonical
         * token longer than a token may be) */
        SUB_EP("https://a/\x7f"), SUB_EP("https://a/ b"),
        SUB_EP("https://a/\\\"b"), SUB_EP("https://a/\\\\b"),
        SUB_EP("https://a/\\u0001"), SUB_EP("https://a/\xc3\xa9"), NULL};
    struct hd_webpush_sub s;
    struct hd_buf b;
    size_t i;

    hd_buf_init(&b, 4096);
    ASSERT_INT_EQ(hd_webpush_sub_parse(good, strlen(good), 1, &s, NULL, NULL),
                  0);
    ASSERT_STR_EQ(s.endpoint, "https://fcm.googleapis.com/fcm/send/x");
    ASSERT_INT_EQ(hd_webpush_sub_token(&s, &b, NULL), 0);
    ASSERT_STR_EQ(b.data,
                  "{\"endpoint\":\"https://fcm.googleapis.com/fcm/send/x\","
                  "\"keys\":{\"p256dh\":\"BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLex"
                  "hqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4\","
                  "\"auth\":\"BTBZMqHH6r4Tts7J_aSIgg\"}}");
    for (i = 0; bad[i]; i++)
        if (hd_webpush_sub_parse(bad[i], strlen(bad[i]), 1, &s, NULL, NULL) ==
            0)
            UNIT_FAIL_("accepted: %s", bad[i]);
    hd_buf_release(&b);
}

int
main(void)
{
    RUN_TEST(test_addresses);
    RUN_TEST(test_endpoints);
    RUN_TEST(test_simulator_setting);
    RUN_TEST(test_simulator_by_name);
    RUN_TEST(test_subscriptions);
    return UNIT_DONE();
}
