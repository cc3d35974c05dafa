/* test_apns_map.c -- unit tests for herald-worker-apns's provider: the
 * status/reason classification (specs/providers.md 2.5), the per-batch
 * header lines and payload, the provider JWT (signed with a P-256 key
 * generated here, verified with hd_jwt), and the choice between token and
 * certificate authentication. */
#include <stdlib.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "tests/unit/unit.h"
#include "core/alloc.h"
#include "auth/jwt.h"
#include "core/limits.h"
#include "core/metrics.h"
#include "services/worker-apns/apns.h"

static void
classify(int status, const char *reason, uint64_t ra, int attempt,
         struct hd_push_result *r)
{
    char body[128];

    snprintf(body, sizeof(body), "{\"reason\":\"%s\"}", reason);
    apns_classify(status, body, strlen(body), ra, attempt, r);
}

static void
test_classification_table(void)
{
    static const struct {
        int status;
        const char *reason;
        enum hd_push_action action;
        int guarded;
    } rows[] = {
        {410, "Unregistered", HD_PUSH_TOKEN_INVALID, 0},
        {410, "ExpiredToken", HD_PUSH_TOKEN_INVALID, 0},
        {400, "BadDeviceToken", HD_PUSH_TOKEN_INVALID, 1},
        {400, "DeviceTokenNotForTopic", HD_PUSH_TOKEN_INVALID, 1},
        {403, "ExpiredProviderToken", HD_PUSH_REAUTH, 0},
        {403, "InvalidProviderToken", HD_PUSH_CONFIG, 0},
        {403, "MissingProviderToken", HD_PUSH_CONFIG, 0},
        {403, "BadCertificate", HD_PUSH_CONFIG, 0},
        {403, "BadCertificateEnvironment", HD_PUSH_CONFIG, 0},
        {403, "BadEnvironmentKeyIdInToken", HD_PUSH_CONFIG, 0},
        {403, "Forbidden", HD_PUSH_CONFIG, 0},
        {403, "UnrelatedKeyIdInToken", HD_PUSH_RETRY, 0},
        {400, "BadTopic", HD_PUSH_CONFIG, 0},
        {400, "MissingTopic", HD_PUSH_CONFIG, 0},
        {400, "TopicDisallowed", HD_PUSH_CONFIG, 0},
        {429, "TooManyProviderTokenUpdates", HD_PUSH_CONFIG, 0},
        {429, "TooManyRequests", HD_PUSH_RETRY, 0},
        {500, "InternalServerError", HD_PUSH_RETRY, 0},
        {503, "ServiceUnavailable", HD_PUSH_RETRY, 0},
        {503, "Shutdown", HD_PUSH_RETRY, 0},
        {400, "IdleTimeout", HD_PUSH_RETRY, 0},
        {400, "BadCollapseId", HD_PUSH_BAD_REQUEST, 0},
        {400, "BadPriority", HD_PUSH_BAD_REQUEST, 0},
        {400, "PayloadEmpty", HD_PUSH_BAD_REQUEST, 0},
        {413, "PayloadTooLarge", HD_PUSH_BAD_REQUEST, 0},
        {404, "BadPath", HD_PUSH_BAD_REQUEST, 0},
        {405, "MethodNotAllowed", HD_PUSH_BAD_REQUEST, 0},
        {400, "SomethingNew", HD_PUSH_BAD_REQUEST, 0},
    };
    struct hd_push_result r;
    size_t i;

    apns_classify(200, "", 0, 0, 0, &r);
    ASSERT_INT_EQ(r.action, HD_PUSH_SENT);
    ASSERT_STR_EQ(r.code, "");
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        classify(rows[i].status, rows[i].reason, 0, 0, &r);
        if ((int)r.action != (int)rows[i].action)
            fprintf(stderr, "  row %s\n", rows[i].reason);
        ASSERT_INT_EQ(r.action, rows[i].action);
        ASSERT_STR_EQ(r.code, rows[i].reason);
        ASSERT_INT_EQ(r.guarded, rows[i].guarded);
        ASSERT_INT_EQ(r.http_status, rows[i].status);
    }
    /* no JSON body: the status decides */
    apns_classify(502, "<html/>", 7, 0, 0, &r);
    ASSERT_INT_EQ(r.action, HD_PUSH_RETRY);
    ASSERT_STR_EQ(r.code, "HTTP_502");
}

static void
test_retry_delays(void)
{
    struct hd_push_result r;

    /* one device flooded: a minute, doubling per attempt, capped */
    classify(429, "TooManyRequests", 0, 0, &r);
    ASSERT_INT_EQ(r.retry_after_ms, 60000);
    classify(429, "TooManyRequests", 0, 2, &r);
    ASSERT_INT_EQ(r.retry_after_ms, 240000);
    classify(429, "TooManyRequests", 0, 40, &r);
    ASSERT_INT_EQ(r.retry_after_ms, 3600000);
    classify(503, "ServiceUnavailable", 5000, 0, &r);
    ASSERT_INT_EQ(r.retry_after_ms, 5000);
    classify(410, "Unregistered", 5000, 0, &r);
    ASSERT_INT_EQ(r.retry_after_ms, 0);
}

/* ---- provider built on a generated key ---------------------------------- */

struct fx {
    char dir[64];
    char key[96];
    EVP_PKEY *pkey;
    struct apns_config cfg;
    struct hd_httpc_config net;
    struct hd_push_env env;
    void *st;
};

static void
fx_files(struct fx *f)
{
    FILE *fp;

    memset(f, 0, sizeof(f[0]));
    snprintf(f->dir, sizeof(f->dir), "/tmp/herald-apns-XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return;
    snprintf(f->key, sizeof(f->key), "%s/AuthKey.p8", f->dir);
    f->pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    fp = fopen(f->key, "w");
    PEM_write_PrivateKey(fp, f->pkey, NULL, NULL, 0, NULL, NULL);
    fclose(fp);
    f->cfg.environment = (char *)(uintptr_t) "sandbox";
    f->cfg.url = (char *)(uintptr_t) "";
    f->cfg.topic = (char *)(uintptr_t) "com.example.app";
    f->cfg.key_file = f->key;
    f->cfg.key_id = (char *)(uintptr_t) "KEYID12345";
    f->cfg.team_id = (char *)(uintptr_t) "TEAMID1234";
    f->cfg.jwt_refresh_s = 3000;
    f->cfg.cert_file = (char *)(uintptr_t) "";
    f->cfg.cert_type = (char *)(uintptr_t) "PEM";
    f->cfg.cert_key_file = (char *)(uintptr_t) "";
    f->cfg.cert_password = (char *)(uintptr_t) "";
    f->env.clock = &hd_clock_system;
    f->env.net = &f->net;
    f->env.threaded = 1;
}

static void
fx_release(struct fx *f)
{
    apns_provider.free(f->st);
    EVP_PKEY_free(f->pkey);
    unlink(f->key);
    rmdir(f->dir);
}

static int
wait_auth(struct fx *f)
{
    uint64_t end = hd_now_mono_ms() + 10000;
    struct hd_err err = {0};

    while (hd_now_mono_ms() < end) {
        if (apns_provider.auth(f->st, &err) == 1)
            return 1;
        usleep(2000);
    }
    return 0;
}

static void
req_init(struct hd_push_req *r)
{
    memset(r, 0, sizeof(*r));
    hd_buf_init(&r->url, 2048);
    hd_buf_init(&r->body, 65536);
    hd_buf_init(&r->auth, 8192);
}

static void
req_release(struct hd_push_req *r)
{
    hd_buf_release(&r->url);
    hd_buf_release(&r->body);
    hd_buf_release(&r->auth);
}

static int
has_header(const struct hd_push_req *r, const char *line)
{
    size_t i;

    for (i = 0; i < r->http.nheaders; i++)
        if (strcmp(r->http.headers[i], line) == 0)
            return 1;
    return 0;
}

static void
test_request_shape(void)
{
    struct fx f;
    struct hd_msg_delivery d;
    struct hd_push_req r;
    struct hd_err err = {0};
    void *bctx = NULL;
    const char *tok =
        "00fc13adff785122b4ad28809a3420982341241421348097878e577c991de8f0";

    fx_files(&f);
    ASSERT_INT_EQ(apns_provider.init(&f.st, &f.cfg, &f.env, &err), 0);
    ASSERT_INT_EQ(wait_auth(&f), 1);
    memset(&d, 0, sizeof(d));
    d.rtype = HD_RT_DEVICE;
    d.expire_at_ms = 1800000000123;
    d.notification =
        json_pack("{s:{s:s,s:i,s:s,s:s},s:{s:{s:i},s:{s:i}}}", "headers",
                  "apns-push-type", "background", "apns-priority", 5,
                  "apns-collapse-id", "c1", "x-forwarded-for", "1.2.3.4",
                  "payload", "aps", "content-available", 1, "data", "type", 1);
    hd_msg_delivery_add_token(&d, tok, "dev1");
    hd_msg_delivery_add_token(&d, "not-hex!", "dev2");
    ASSERT_INT_EQ(apns_provider.prepare(f.st, &d, &bctx, &err), 0);
    req_init(&r);
    ASSERT_INT_EQ(apns_provider.build(f.st, bctx, &d, 0, 1, &r, &err), 0);
    ASSERT_STR_EQ(r.http.url,
                  "https://api.sandbox.push.apple.com/3/device/00fc13adff7851"
                  "22b4ad28809a3420982341241421348097878e577c991de8f0");
    ASSERT_STR_EQ(r.http.body, "{\"aps\":{\"content-available\":1},"
                               "\"data\":{\"type\":1}}");
    ASSERT_TRUE(has_header(&r, "apns-push-type: background"));
    ASSERT_TRUE(has_header(&r, "apns-priority: 5"));
    ASSERT_TRUE(has_header(&r, "apns-collapse-id: c1"));
    ASSERT_TRUE(has_header(&r, "apns-topic: com.example.app"));
    ASSERT_TRUE(has_header(&r, "apns-expiration: 1800000000"));
    ASSERT_TRUE(!has_header(&r, "x-forwarded-for: 1.2.3.4"));
    ASSERT_STR_CONTAINS(r.http.headers[r.http.nheaders - 1],
                        "authorization: bearer ey");
    ASSERT_INT_EQ(r.auth_gen, 1);
    /* a token that is not hex never reaches the wire */
    ASSERT_INT_EQ(apns_provider.build(f.st, bctx, &d, 1, 1, &r, &err), -1);
    apns_provider.unprepare(f.st, bctx);

    /* line breaks in a header value are refused */
    json_decref(d.notification);
    d.notification = json_pack("{s:{s:s},s:{}}", "headers", "apns-id",
                               "a\r\nx: y", "payload");
    ASSERT_INT_EQ(apns_provider.prepare(f.st, &d, &bctx, &err), -1);
    ASSERT_STR_CONTAINS(err.msg, "line break");
    req_release(&r);
    hd_msg_delivery_release(&d);
    fx_release(&f);
}

static void
test_payload_limits(void)
{
    struct fx f;
    struct hd_msg_delivery d;
    struct hd_err err = {0};
    void *bctx = NULL;
    char big[4500];

    fx_files(&f);
    ASSERT_INT_EQ(apns_provider.init(&f.st, &f.cfg, &f.env, &err), 0);
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    memset(&d, 0, sizeof(d));
    d.rtype = HD_RT_DEVICE;
    d.notification = json_pack("{s:{s:s}}", "payload", "k", big);
    ASSERT_INT_EQ(apns_provider.prepare(f.st, &d, &bctx, &err), -1);
    ASSERT_STR_CONTAINS(err.msg, "4096");
    json_decref(d.notification);
    /* VoIP pushes may carry 5120 bytes */
    d.notification = json_pack("{s:{s:s},s:{s:s}}", "headers", "apns-push-type",
                               "voip", "payload", "k", big);
    ASSERT_INT_EQ(apns_provider.prepare(f.st, &d, &bctx, &err), 0);
    apns_provider.unprepare(f.st, bctx);
    json_decref(d.notification);
    d.notification = json_pack("{s:s}", "payload", "x");
    ASSERT_INT_EQ(apns_provider.prepare(f.st, &d, &bctx, &err), -1);
    json_decref(d.notification);
    fx_release(&f);
}

static void
test_provider_jwt(void)
{
    struct fx f;
    struct apns_auth *a;
    struct hd_jwt_verify_opts o;
    struct hd_jwt_key *pub;
    struct hd_err err = {0};
    struct hd_buf out;
    json_t *hdr = NULL, *claims = NULL;
    BIO *bio = BIO_new(BIO_s_mem());
    char *pem = NULL;
    long n;

    fx_files(&f);
    f.env.threaded = 0;
    a = apns_auth_new(&f.cfg, &f.env, &err);
    ASSERT_NOT_NULL(a);
    PEM_write_bio_PUBKEY(bio, f.pkey);
    n = BIO_get_mem_data(bio, &pem);
    pub = hd_jwt_key_pem(pem, (size_t)n, &err);
    BIO_free(bio);
    hd_buf_init(&out, HD_JWT_MAX_LEN);
    ASSERT_INT_EQ(apns_auth_jwt(a, 1700000000, &out, &err), 0);
    memset(&o, 0, sizeof(o));
    o.now_s = 1700000000;
    o.issuer = "TEAMID1234";
    if (hd_jwt_verify(pub, out.data, out.len, &o, &hdr, &claims, &err) < 0)
        fprintf(stderr, "  verify: %s\n", err.msg);
    ASSERT_NOT_NULL(claims);
    ASSERT_STR_EQ(json_string_value(json_object_get(hdr, "alg")), "ES256");
    ASSERT_STR_EQ(json_string_value(json_object_get(hdr, "kid")), "KEYID12345");
    ASSERT_INT_EQ(json_integer_value(json_object_get(claims, "iat")),
                  1700000000);
    ASSERT_NULL(json_object_get(claims, "exp"));
    json_decref(hdr);
    json_decref(claims);
    hd_buf_release(&out);
    hd_jwt_key_free(pub);
    apns_auth_free(a);
    fx_release(&f);
}

static void
test_token_or_certificate(void)
{
    struct fx f;
    struct hd_err err = {0};
    struct hd_httpc_config net;
    struct hd_msg_delivery d;
    struct hd_push_req r;
    void *bctx = NULL;

    fx_files(&f);
    f.cfg.cert_file = (char *)(uintptr_t) "/etc/apns.p12";
    ASSERT_INT_EQ(apns_provider.init(&f.st, &f.cfg, &f.env, &err), -1);
    ASSERT_STR_CONTAINS(err.msg, "exactly one of HERALD_WORKER_APNS_KEY_FILE");
    f.cfg.key_file = (char *)(uintptr_t) "";
    f.cfg.cert_type = (char *)(uintptr_t) "P12";
    f.cfg.cert_password = (char *)(uintptr_t) "pw";
    memset(&net, 0, sizeof(net));
    apns_provider.net(&f.cfg, &net);
    ASSERT_STR_EQ(net.cert_file, "/etc/apns.p12");
    ASSERT_STR_EQ(net.cert_type, "P12");
    ASSERT_STR_EQ(net.key_password, "pw");
    ASSERT_NULL(net.key_file);
    ASSERT_INT_EQ(apns_provider.init(&f.st, &f.cfg, &f.env, &err), 0);
    ASSERT_INT_EQ(apns_provider.auth(f.st, &err), 1);
    memset(&d, 0, sizeof(d));
    d.rtype = HD_RT_DEVICE;
    d.notification = json_pack("{s:{}}", "payload");
    hd_msg_delivery_add_token(&d, "abcdef", NULL);
    ASSERT_INT_EQ(apns_provider.prepare(f.st, &d, &bctx, &err), 0);
    req_init(&r);
    ASSERT_INT_EQ(apns_provider.build(f.st, bctx, &d, 0, 1, &r, &err), 0);
    ASSERT_INT_EQ(r.http.nheaders, 2); /* topic, content-type: no bearer */
    apns_provider.unprepare(f.st, bctx);
    req_release(&r);
    hd_msg_delivery_release(&d);
    apns_provider.free(f.st);
    f.st = NULL;
    f.cfg.cert_file = (char *)(uintptr_t) "";
    ASSERT_INT_EQ(apns_provider.init(&f.st, &f.cfg, &f.env, &err), -1);
    fx_release(&f);
}

int
main(void)
{
    RUN_TEST(test_classification_table);
    RUN_TEST(test_retry_delays);
    RUN_TEST(test_request_shape);
    RUN_TEST(test_payload_limits);
    RUN_TEST(test_provider_jwt);
    RUN_TEST(test_token_or_certificate);
    return UNIT_DONE();
}
