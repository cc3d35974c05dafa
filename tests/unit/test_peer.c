/* test_peer.c -- unit tests for common/http/peer.c: the trusted list
 * (addresses, CIDRs, IPv4-mapped, bad entries), the right-to-left walk
 * over X-Forwarded-For and Forwarded, and hostile header values that must
 * give the TCP peer. */
#include <stdio.h>
#include <string.h>

#include "tests/unit/unit.h"
#include "http/peer.h"
#include "core/banned.h"

static int
trust(struct hd_peer_trust *t, const char *list, const char *header)
{
    char lbuf[4096];
    char hbuf[64];
    struct hd_peer_config cfg = {lbuf, header ? hbuf : NULL};
    struct hd_err err = {0};

    snprintf(lbuf, sizeof(lbuf), "%s", list);
    snprintf(hbuf, sizeof(hbuf), "%s", header ? header : "");
    return hd_peer_trust_init(t, &cfg, &err);
}

/* The client hd_peer_client gives, as text. */
static const char *
client(const struct hd_peer_trust *t, const char *peer, const char *xff,
       const char *fwd)
{
    static char out[HD_PEER_ADDR_MAX];

    hd_peer_client(t, peer, xff, fwd, out);
    return out;
}

static void
test_trusted_list(void)
{
    struct hd_peer_trust t;
    struct hd_err err = {0};

    ASSERT_INT_EQ(trust(&t,
                        "10.0.0.0/8, 192.168.1.7,fd00::/8 ,::1,"
                        "::ffff:172.16.0.0/108",
                        "x-forwarded-for"),
                  0);
    ASSERT_INT_EQ(t.n, 5);
    ASSERT_INT_EQ(hd_peer_trusted(&t, "10.1.2.3"), 1);
    ASSERT_INT_EQ(hd_peer_trusted(&t, "11.0.0.1"), 0);
    ASSERT_INT_EQ(hd_peer_trusted(&t, "192.168.1.7"), 1);
    ASSERT_INT_EQ(hd_peer_trusted(&t, "192.168.1.8"), 0);
    ASSERT_INT_EQ(hd_peer_trusted(&t, "fd12::1"), 1);
    ASSERT_INT_EQ(hd_peer_trusted(&t, "fe80::1"), 0);
    ASSERT_INT_EQ(hd_peer_trusted(&t, "::1"), 1);
    ASSERT_INT_EQ(hd_peer_trusted(&t, "::ffff:10.9.9.9"), 1); /* mapped */
    ASSERT_INT_EQ(hd_peer_trusted(&t, "172.16.5.5"), 1);
    ASSERT_INT_EQ(hd_peer_trusted(&t, "172.32.0.1"), 0);
    ASSERT_INT_EQ(hd_peer_trusted(&t, "not an address"), 0);
    ASSERT_INT_EQ(hd_peer_trusted(&t, ""), 0);

    ASSERT_INT_EQ(trust(&t, "10.0.0.0/33", NULL), -1);
    ASSERT_INT_EQ(t.n, 0);
    ASSERT_INT_EQ(trust(&t, "10.0.0.0/", NULL), -1);
    ASSERT_INT_EQ(trust(&t, "10.0.0.0/8x", NULL), -1);
    ASSERT_INT_EQ(trust(&t, "fd00::/129", NULL), -1);
    ASSERT_INT_EQ(trust(&t, "10.0.0.1:80", NULL), -1); /* no ports here */
    ASSERT_INT_EQ(trust(&t, "example.com", NULL), -1);
    ASSERT_INT_EQ(trust(&t, "10.0.0.1", "x-real-ip"), -1);
    ASSERT_INT_EQ(trust(&t, "", NULL), 0);
    ASSERT_INT_EQ(t.n, 0);
    ASSERT_INT_EQ(trust(&t, " , ,", "forwarded"), 0);
    ASSERT_INT_EQ(t.header, HD_PEER_FORWARDED);
    ASSERT_INT_EQ(hd_peer_trust_init(&t, NULL, &err), 0);
    ASSERT_INT_EQ(t.n, 0);
}

static void
test_list_bounded(void)
{
    char list[HD_TRUSTED_PROXIES_MAX * 16 + 32];
    struct hd_peer_trust t;
    struct hd_peer_config cfg = {list, NULL};
    struct hd_err err = {0};
    size_t off = 0;
    int i;

    for (i = 0; i <= HD_TRUSTED_PROXIES_MAX; i++)
        off += (size_t)snprintf(list + off, sizeof(list) - off, "10.0.%d.%d,",
                                i / 256, i % 256);
    ASSERT_INT_EQ(hd_peer_trust_init(&t, &cfg, &err), -1);
    ASSERT_STR_CONTAINS(err.msg, "more than");
    ASSERT_INT_EQ(t.n, 0);
}

static void
test_xff(void)
{
    struct hd_peer_trust t;
    char out[HD_PEER_ADDR_MAX];

    ASSERT_INT_EQ(trust(&t, "10.0.0.0/8,::1", NULL), 0);
    /* untrusted peer: the header is the client's own word */
    ASSERT_INT_EQ(hd_peer_client(&t, "203.0.113.9", "1.2.3.4", NULL, out), 0);
    ASSERT_STR_EQ(out, "203.0.113.9");
    /* trusted peer: the rightmost untrusted hop */
    ASSERT_INT_EQ(hd_peer_client(&t, "10.0.0.2", "1.2.3.4", NULL, out), 1);
    ASSERT_STR_EQ(out, "1.2.3.4");
    ASSERT_STR_EQ(client(&t, "10.0.0.2", "6.6.6.6, 1.2.3.4, 10.0.0.5", NULL),
                  "1.2.3.4");
    ASSERT_STR_EQ(client(&t, "::1", "  2001:DB8::0:1 ,10.0.0.5", NULL),
                  "2001:db8::1"); /* canonical text */
    ASSERT_STR_EQ(client(&t, "::ffff:10.0.0.2", "::ffff:1.2.3.4", NULL),
                  "1.2.3.4");
    ASSERT_STR_EQ(client(&t, "10.0.0.2", "[2001:db8::7]:4711", NULL),
                  "2001:db8::7");
    ASSERT_STR_EQ(client(&t, "10.0.0.2", "1.2.3.4:65535", NULL), "1.2.3.4");
    /* every hop trusted: the first one met the client */
    ASSERT_STR_EQ(client(&t, "10.0.0.2", "10.9.9.9, 10.0.0.5", NULL),
                  "10.9.9.9");
    /* absent, empty: the peer */
    ASSERT_INT_EQ(hd_peer_client(&t, "10.0.0.2", NULL, NULL, out), 0);
    ASSERT_STR_EQ(out, "10.0.0.2");
    ASSERT_STR_EQ(client(&t, "10.0.0.2", "", NULL), "10.0.0.2");
    /* only the configured header is read */
    ASSERT_STR_EQ(client(&t, "10.0.0.2", NULL, "for=1.2.3.4"), "10.0.0.2");
    /* the peer itself is canonicalised; a non-IP peer is copied */
    ASSERT_STR_EQ(client(&t, "::ffff:203.0.113.9", NULL, NULL), "203.0.113.9");
    ASSERT_STR_EQ(client(&t, "", "1.2.3.4", NULL), "");
    ASSERT_STR_EQ(client(&t, NULL, "1.2.3.4", NULL), "");
}

static void
test_xff_hostile(void)
{
    static const char *const bad[] = {"1.2.3.4, evil",
                                      "1.2.3.4,",
                                      ",10.0.0.1",
                                      " ",
                                      "1.2.3.4,,10.0.0.1",
                                      "999.1.1.1",
                                      "1.2.3.4:",
                                      "1.2.3.4:123456",
                                      "1.2.3.4:80:80",
                                      "[::1",
                                      "[::1]x",
                                      "fe80::1%eth0",
                                      "\"1.2.3.4\"",
                                      "1.2.3.4\r\nX: y",
                                      "unknown",
                                      "1.2.3.4 5.6.7.8"};
    struct hd_peer_trust t;
    char big[HD_PEER_HOP_MAX + 16];
    char many[64 * (HD_PEER_MAX_HOPS + 4)];
    size_t off = 0;
    size_t i;

    ASSERT_INT_EQ(trust(&t, "10.0.0.0/8", NULL), 0);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ASSERT_STR_EQ(client(&t, "10.0.0.2", bad[i], NULL), "10.0.0.2");
    /* a malformed hop left of the client is never read */
    ASSERT_STR_EQ(client(&t, "10.0.0.2", "evil, 1.2.3.4", NULL), "1.2.3.4");
    ASSERT_STR_EQ(client(&t, "10.0.0.2", ",1.2.3.4", NULL), "1.2.3.4");
    /* one over-long hop */
    memset(big, '1', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    ASSERT_STR_EQ(client(&t, "10.0.0.2", big, NULL), "10.0.0.2");
    /* more trusted hops than are walked: the peer */
    for (i = 0; i < HD_PEER_MAX_HOPS + 2; i++)
        off += (size_t)snprintf(many + off, sizeof(many) - off, "%s10.0.0.%zu",
                                i ? ", " : "", i + 1);
    ASSERT_STR_EQ(client(&t, "10.0.0.2", many, NULL), "10.0.0.2");
    /* a client-side prefix of any length does not hide the last hop */
    off = 0;
    for (i = 0; i < HD_PEER_MAX_HOPS + 2; i++)
        off +=
            (size_t)snprintf(many + off, sizeof(many) - off, "6.6.6.%zu, ", i);
    snprintf(many + off, sizeof(many) - off, "1.2.3.4");
    ASSERT_STR_EQ(client(&t, "10.0.0.2", many, NULL), "1.2.3.4");
}

static void
test_forwarded(void)
{
    struct hd_peer_trust t;

    ASSERT_INT_EQ(trust(&t, "10.0.0.0/8", "forwarded"), 0);
    ASSERT_STR_EQ(client(&t, "10.0.0.2", NULL, "for=192.0.2.60;proto=http"),
                  "192.0.2.60");
    ASSERT_STR_EQ(client(&t, "10.0.0.2", NULL,
                         "for=6.6.6.6, for=\"[2001:db8:cafe::17]:4711\";"
                         "by=10.0.0.1, For=10.0.0.9"),
                  "2001:db8:cafe::17");
    ASSERT_STR_EQ(
        client(&t, "10.0.0.2", NULL, "proto=https; FOR=\"1.2.3.4:80\""),
        "1.2.3.4");
    /* a comma inside a quoted value does not split hops */
    ASSERT_STR_EQ(
        client(&t, "10.0.0.2", NULL, "for=1.2.3.4;host=\"a,b\", for=10.0.0.3"),
        "1.2.3.4");
    /* X-Forwarded-For is not read in this mode */
    ASSERT_STR_EQ(client(&t, "10.0.0.2", "1.2.3.4", NULL), "10.0.0.2");
}

static void
test_forwarded_hostile(void)
{
    static const char *const bad[] = {
        "for=unknown",
        "for=_hidden",
        "proto=http",
        "for=1.2.3.4;for=5.6.7.8",
        "for=\"1.2.3.4",
        "for=\"1.2.3.4\\\"\"",
        "for=\"[::1]\" , for=\"x",
        "for=",
        "for=\"\"",
        "by=1.2.3.4",
        "for=1.2.3.4, ",
    };
    struct hd_peer_trust t;
    size_t i;

    ASSERT_INT_EQ(trust(&t, "10.0.0.0/8", "forwarded"), 0);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ASSERT_STR_EQ(client(&t, "10.0.0.2", NULL, bad[i]), "10.0.0.2");
}

int
main(void)
{
    RUN_TEST(test_trusted_list);
    RUN_TEST(test_list_bounded);
    RUN_TEST(test_xff);
    RUN_TEST(test_xff_hostile);
    RUN_TEST(test_forwarded);
    RUN_TEST(test_forwarded_hostile);
    return UNIT_DONE();
}
