/* test_sim_apns.c -- unit tests for herald-sim's APNs provider
 * (tools/sim/providers/apns.c, apns_auth.c): Apple's validation order, every
 * reason reachable by request or by token prefix, and the provider-token rules
 * (signature raw and DER, kid/iss, iat age on the virtual clock, refresh
 * floor, connection binding, key environment and topics). */
#include <stdlib.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "tests/unit/unit.h"
#include "core/base64.h"
#include "auth/jwt.h"
#include "tests/unit/sim_fixture.h"
#include "tools/sim/providers/apns.h"
#include "tools/sim/faults/rules.h"
#include "core/banned.h"

#define TOKEN "00fc13adff785122b4ad28809a3420982341241421348097878e577c991de8f0"
#define HOST "api.push.apple.com"
#define PAYLOAD "{\"aps\":{\"alert\":\"hi\"}}"

struct keys {
    char kid[16];
    char team[16];
};

/* A compact ES256 JWT from the p8 file in dir. */
static char *
make_jwt(const char *dir, const char *p8, const char *kid, const char *iss,
         long long iat)
{
    char *path = hd_xasprintf("%s/%s", dir, p8);
    struct hd_jwt_key *k = hd_jwt_key_pem_file(path, NULL);
    json_t *claims = json_pack("{s:s, s:I}", "iss", iss, "iat", iat);
    struct hd_buf out;
    char *s;

    hd_buf_init(&out, 16384);
    hd_jwt_sign(k, kid, claims, &out, NULL);
    s = hd_buf_detach(&out, NULL);
    json_decref(claims);
    hd_jwt_key_free(k);
    free(path);
    return s;
}

/* The same token with its R||S signature rewritten as DER. */
static char *
to_der(const char *jwt)
{
    const char *dot = strrchr(jwt, '.');
    struct hd_buf raw;
    struct hd_buf out;
    ECDSA_SIG *sig = ECDSA_SIG_new();
    unsigned char *der = NULL;
    int n;
    char *s;

    hd_buf_init(&raw, 256);
    hd_buf_init(&out, 16384);
    hd_base64url_decode(dot + 1, strlen(dot + 1), &raw, NULL);
    ECDSA_SIG_set0(sig, BN_bin2bn((const unsigned char *)raw.data, 32, NULL),
                   BN_bin2bn((const unsigned char *)raw.data + 32, 32, NULL));
    n = i2d_ECDSA_SIG(sig, &der);
    hd_buf_append(&out, jwt, (size_t)(dot + 1 - jwt), NULL);
    hd_base64url_encode(der, (size_t)n, &out, NULL);
    s = hd_buf_detach(&out, NULL);
    OPENSSL_free(der);
    ECDSA_SIG_free(sig);
    hd_buf_release(&raw);
    return s;
}

/* Writes a new P-256 key as PKCS#8 into dir/name. */
static void
write_p8(const char *dir, const char *name)
{
    char *path = hd_xasprintf("%s/%s", dir, name);
    EVP_PKEY *k = EVP_EC_gen("P-256");
    FILE *f = fopen(path, "w");

    PEM_write_PKCS8PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
    fclose(f);
    EVP_PKEY_free(k);
    free(path);
}

static void
read_keys(struct fx *f, struct keys *k)
{
    fx_read(f, SIM_FILE_APNS_KID, k->kid, sizeof(k->kid));
    fx_read(f, SIM_FILE_APNS_TEAM, k->team, sizeof(k->team));
}

static int
push(struct fx *f, const char *host, const char *token, const char *auth,
     const char *body)
{
    char path[256];
    char bearer[1024];

    snprintf(path, sizeof(path), "/3/device/%s", token);
    snprintf(bearer, sizeof(bearer), "bearer %s", auth);
    return fx_send(f, body, ":method", "POST", ":path", path, ":authority",
                   host, "apns-topic", "com.herald.sim", "authorization",
                   bearer, (const char *)NULL);
}

static int
reason_is(const struct fx *f, const char *reason)
{
    char want[128];

    snprintf(want, sizeof(want), "{\"reason\":\"%s\"", reason);
    return strncmp(fx_body(f), want, strlen(want)) == 0 &&
           strcmp(f->resp.outcome, reason) == 0;
}

static void
test_success_and_ids(void)
{
    struct fx f;
    struct keys k;
    char *jwt;

    ASSERT_INT_EQ(fx_init(&f, NULL), 0);
    read_keys(&f, &k);
    jwt = make_jwt(f.dir, SIM_FILE_APNS_P8, k.kid, k.team, time(NULL));
    ASSERT_INT_EQ(push(&f, HOST, TOKEN, jwt, PAYLOAD), 200);
    ASSERT_INT_EQ(f.resp.body.len, 0);
    ASSERT_NOT_NULL(sim_resp_get_header(&f.resp, "apns-id"));
    ASSERT_NULL(sim_resp_get_header(&f.resp, "apns-unique-id"));
    ASSERT_INT_EQ(f.resp.accepted, 1);
    ASSERT_INT_EQ(f.peer.authed, 1);
    ASSERT_INT_EQ(f.peer.want_streams, 1000);
    /* echoed apns-id, sandbox adds apns-unique-id */
    ASSERT_INT_EQ(fx_send(&f, PAYLOAD, ":method", "POST", ":path",
                          "/3/device/" TOKEN, ":authority",
                          "api.sandbox.push.apple.com", "apns-topic",
                          "com.herald.sim", "apns-id",
                          "eabeae54-14a8-11e5-b60b-1697f925ec7b",
                          "authorization", "bearer x", (const char *)NULL),
                  403); /* a new, invalid token on an authed connection */
    ASSERT_STR_EQ(sim_resp_get_header(&f.resp, "apns-id"),
                  "eabeae54-14a8-11e5-b60b-1697f925ec7b");
    ASSERT_INT_EQ(push(&f, "api.sandbox.push.apple.com", TOKEN, jwt, PAYLOAD),
                  200);
    ASSERT_NOT_NULL(sim_resp_get_header(&f.resp, "apns-unique-id"));
    free(jwt);
    fx_release(&f);
}

static void
test_validation_order(void)
{
    struct fx f;
    struct keys k;
    char *jwt;
    char bearer[1024];
    char big[5000];

    ASSERT_INT_EQ(fx_init(&f, NULL), 0);
    read_keys(&f, &k);
    jwt = make_jwt(f.dir, SIM_FILE_APNS_P8, k.kid, k.team, time(NULL));
    snprintf(bearer, sizeof(bearer), "bearer %s", jwt);
#define P(...)                                                                 \
    fx_send(&f, PAYLOAD, ":authority", HOST, __VA_ARGS__, (const char *)NULL)
    ASSERT_INT_EQ(P(":method", "POST", ":path", "/3/device/" TOKEN, "apns-id",
                    "nope", "apns-topic", "t"),
                  400);
    ASSERT_TRUE(reason_is(&f, "BadMessageId"));
    ASSERT_INT_EQ(P(":method", "GET", ":path", "/3/device/" TOKEN), 405);
    ASSERT_TRUE(reason_is(&f, "MethodNotAllowed"));
    ASSERT_INT_EQ(P(":method", "POST", ":path", "/3/device/" TOKEN,
                    "apns-topic", "a", "apns-topic", "b"),
                  400);
    ASSERT_TRUE(reason_is(&f, "DuplicateHeaders"));
    ASSERT_INT_EQ(P(":method", "POST", ":path", "/3/device/" TOKEN), 400);
    ASSERT_TRUE(reason_is(&f, "MissingTopic"));
    ASSERT_INT_EQ(P(":method", "POST", ":path", "/3/device/" TOKEN,
                    "apns-topic", "t", "apns-collapse-id",
                    "0123456789012345678901234567890123456789012345678901234"
                    "5678901234"),
                  400);
    ASSERT_TRUE(reason_is(&f, "BadCollapseId"));
    ASSERT_INT_EQ(P(":method", "POST", ":path", "/3/device/" TOKEN,
                    "apns-topic", "t", "apns-priority", "7"),
                  400);
    ASSERT_TRUE(reason_is(&f, "BadPriority"));
    ASSERT_INT_EQ(P(":method", "POST", ":path", "/3/device/" TOKEN,
                    "apns-topic", "t", "apns-push-type", "bogus"),
                  400);
    ASSERT_TRUE(reason_is(&f, "InvalidPushType"));
    ASSERT_INT_EQ(P(":method", "POST", ":path", "/3/device/" TOKEN,
                    "apns-topic", "com.x", "apns-push-type", "voip"),
                  400);
    ASSERT_TRUE(reason_is(&f, "BadTopic"));
    ASSERT_INT_EQ(P(":method", "POST", ":path", "/3/device/" TOKEN,
                    "apns-topic", "t", "apns-expiration", "soon"),
                  400);
    ASSERT_TRUE(reason_is(&f, "BadExpirationDate"));
    ASSERT_INT_EQ(
        P(":method", "POST", ":path", "/3/device/", "apns-topic", "t"), 400);
    ASSERT_TRUE(reason_is(&f, "MissingDeviceToken"));
    ASSERT_INT_EQ(
        P(":method", "POST", ":path", "/4/device/" TOKEN, "apns-topic", "t"),
        404);
    ASSERT_TRUE(reason_is(&f, "BadPath"));
    ASSERT_INT_EQ(
        P(":method", "POST", ":path", "/3/device/xyz", "apns-topic", "t"), 400);
    ASSERT_TRUE(reason_is(&f, "BadDeviceToken"));
    /* token prefixes come before authentication (Apple's order) */
    ASSERT_INT_EQ(P(":method", "POST", ":path", "/3/device/dead" TOKEN,
                    "apns-topic", "t"),
                  410);
    ASSERT_TRUE(reason_is(&f, "Unregistered"));
    ASSERT_STR_CONTAINS(fx_body(&f), "\"timestamp\":");
    ASSERT_INT_EQ(P(":method", "POST", ":path", "/3/device/ae24" TOKEN,
                    "apns-topic", "t"),
                  410);
    ASSERT_TRUE(reason_is(&f, "ExpiredToken"));
    ASSERT_INT_EQ(P(":method", "POST", ":path", "/3/device/04290007" TOKEN,
                    "apns-topic", "t"),
                  429);
    ASSERT_TRUE(reason_is(&f, "TooManyRequests"));
    ASSERT_STR_EQ(sim_resp_get_header(&f.resp, "retry-after"), "7");
    ASSERT_INT_EQ(
        P(":method", "POST", ":path", "/3/device/" TOKEN, "apns-topic", "t"),
        403);
    ASSERT_TRUE(reason_is(&f, "MissingProviderToken"));
    ASSERT_INT_EQ(fx_send(&f, NULL, ":authority", HOST, ":method", "POST",
                          ":path", "/3/device/" TOKEN, "apns-topic", "t",
                          "authorization", bearer, (const char *)NULL),
                  400);
    ASSERT_TRUE(reason_is(&f, "PayloadEmpty"));
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    ASSERT_INT_EQ(fx_send(&f, big, ":authority", HOST, ":method", "POST",
                          ":path", "/3/device/" TOKEN, "apns-topic", "t",
                          "authorization", bearer, (const char *)NULL),
                  413);
    ASSERT_TRUE(reason_is(&f, "PayloadTooLarge"));
    ASSERT_INT_EQ(fx_send(&f, big, ":authority", HOST, ":method", "POST",
                          ":path", "/3/device/" TOKEN, "apns-topic", "t.voip",
                          "apns-push-type", "voip", "authorization", bearer,
                          (const char *)NULL),
                  200); /* VoIP allows 5120 bytes */
#undef P
    free(jwt);
    fx_release(&f);
}

static void
test_every_reason_by_prefix(void)
{
    const struct sim_endpoint *ep = &sim_apns_send;
    struct fx f;
    char tok[80];
    int i;

    ASSERT_INT_EQ(fx_init(&f, NULL), 0);
    for (i = 0; ep->error_at(i) != NULL; i++) {
        snprintf(tok, sizeof(tok), "ae%02d%s", i, TOKEN + 4);
        ASSERT_INT_NE(push(&f, HOST, tok, "x", PAYLOAD), 200);
        ASSERT_TRUE(reason_is(&f, ep->error_at(i)));
    }
    ASSERT_INT_EQ(i, 32);
    fx_release(&f);
}

static void
test_jwt_rules(void)
{
    struct fx f;
    struct keys k;
    char *good;
    char *der;
    char *other;
    long long now = time(NULL);

    ASSERT_INT_EQ(fx_init(&f, NULL), 0);
    read_keys(&f, &k);
    good = make_jwt(f.dir, SIM_FILE_APNS_P8, k.kid, k.team, now);
    /* bad signature, unknown kid, wrong team, iat in the future */
    other = hd_xasprintf("%.*sAAAA", (int)strlen(good) - 4, good);
    ASSERT_INT_EQ(push(&f, HOST, TOKEN, other, PAYLOAD), 403);
    ASSERT_TRUE(reason_is(&f, "InvalidProviderToken"));
    free(other);
    other = make_jwt(f.dir, SIM_FILE_APNS_P8, "ZZZZZZZZZZ", k.team, now);
    ASSERT_INT_EQ(push(&f, HOST, TOKEN, other, PAYLOAD), 403);
    ASSERT_TRUE(reason_is(&f, "InvalidProviderToken"));
    free(other);
    other = make_jwt(f.dir, SIM_FILE_APNS_P8, k.kid, "OTHERTEAM1", now);
    ASSERT_INT_EQ(push(&f, HOST, TOKEN, other, PAYLOAD), 403);
    ASSERT_TRUE(reason_is(&f, "InvalidProviderToken"));
    free(other);
    other = make_jwt(f.dir, SIM_FILE_APNS_P8, k.kid, k.team, now + 3600);
    ASSERT_INT_EQ(push(&f, HOST, TOKEN, other, PAYLOAD), 403);
    ASSERT_TRUE(reason_is(&f, "InvalidProviderToken"));
    free(other);
    ASSERT_INT_EQ(f.peer.authed, 0);
    /* DER signatures are accepted too */
    der = to_der(good);
    ASSERT_INT_EQ(push(&f, HOST, TOKEN, der, PAYLOAD), 200);
    /* a second distinct token within 20 minutes */
    ASSERT_INT_EQ(push(&f, HOST, TOKEN, good, PAYLOAD), 429);
    ASSERT_TRUE(reason_is(&f, "TooManyProviderTokenUpdates"));
    ASSERT_INT_EQ(push(&f, HOST, TOKEN, der, PAYLOAD), 200);
    /* 21 minutes later the update is allowed */
    atomic_store(&f.ctx.clock_offset_ms, 21 * 60 * 1000);
    ASSERT_INT_EQ(push(&f, HOST, TOKEN, good, PAYLOAD), 200);
    /* past one hour the token expired */
    atomic_store(&f.ctx.clock_offset_ms, 3601 * 1000);
    ASSERT_INT_EQ(push(&f, HOST, TOKEN, good, PAYLOAD), 403);
    ASSERT_TRUE(reason_is(&f, "ExpiredProviderToken"));
    free(der);
    free(good);
    fx_release(&f);
}

static void
test_keys_bind_connections(void)
{
    struct fx f;
    struct keys k;
    char extra[512];
    char *a;
    char *b;
    long long now = time(NULL);
    struct sim_peer fresh;

    ASSERT_INT_EQ(fx_prepare(&f), 0);
    read_keys(&f, &k);
    write_p8(f.dir, "k2.p8");
    write_p8(f.dir, "k3.p8");
    write_p8(f.dir, "k4.p8");
    snprintf(extra, sizeof(extra),
             "KEYTWO0002:%s:%s/k2.p8,KEYSBX0003:%s:%s/k3.p8:sandbox,"
             "KEYTOP0004:%s:%s/k4.p8:both:com.other+com.else",
             k.team, f.dir, k.team, f.dir, k.team, f.dir);
    ASSERT_INT_EQ(fx_start(&f, extra), 0);
    a = make_jwt(f.dir, SIM_FILE_APNS_P8, k.kid, k.team, now);
    b = make_jwt(f.dir, "k2.p8", "KEYTWO0002", k.team, now);
    ASSERT_INT_EQ(push(&f, HOST, TOKEN, a, PAYLOAD), 200);
    ASSERT_INT_EQ(push(&f, HOST, TOKEN, b, PAYLOAD), 403);
    ASSERT_TRUE(reason_is(&f, "UnrelatedKeyIdInToken"));
    free(b);
    /* a fresh connection for each of the other keys */
    sim_peer_release(&f.peer);
    sim_peer_init(&f.peer, 2);
    b = make_jwt(f.dir, "k3.p8", "KEYSBX0003", k.team, now);
    ASSERT_INT_EQ(push(&f, HOST, TOKEN, b, PAYLOAD), 403);
    ASSERT_TRUE(reason_is(&f, "BadEnvironmentKeyIdInToken"));
    ASSERT_INT_EQ(push(&f, "api.sandbox.push.apple.com", TOKEN, b, PAYLOAD),
                  200);
    free(b);
    sim_peer_init(&fresh, 3);
    sim_peer_release(&f.peer);
    f.peer = fresh;
    b = make_jwt(f.dir, "k4.p8", "KEYTOP0004", k.team, now);
    ASSERT_INT_EQ(push(&f, HOST, TOKEN, b, PAYLOAD), 403);
    ASSERT_TRUE(reason_is(&f, "InvalidProviderToken"));
    free(b);
    free(a);
    fx_release(&f);
}

static void
test_rule_overrides_token(void)
{
    struct fx f;
    uint64_t id = 0;
    json_t *rule =
        json_pack("{s:s, s:s, s:s, s:i}", "provider", "apns", "token_prefix",
                  "00fc", "error", "BadTopic", "count", 1);

    ASSERT_INT_EQ(fx_init(&f, NULL), 0);
    ASSERT_INT_EQ(sim_rules_add(f.ctx.rules, rule, &id, NULL), 0);
    ASSERT_INT_EQ(push(&f, HOST, TOKEN, "x", PAYLOAD), 400);
    ASSERT_TRUE(reason_is(&f, "BadTopic"));
    /* count 1: the next request reaches authentication */
    ASSERT_INT_EQ(push(&f, HOST, TOKEN, "x", PAYLOAD), 403);
    json_decref(rule);
    fx_release(&f);
}

int
main(void)
{
    RUN_TEST(test_success_and_ids);
    RUN_TEST(test_validation_order);
    RUN_TEST(test_every_reason_by_prefix);
    RUN_TEST(test_jwt_rules);
    RUN_TEST(test_keys_bind_connections);
    RUN_TEST(test_rule_overrides_token);
    return UNIT_DONE();
}
