/* test_fcm_map.c -- unit tests for herald-worker-fcm's provider: every row
 * of the FCM classification (specs/providers.md 1.5) from recorded answer
 * bodies, the request bodies for token, topic and condition sends, the
 * local refusal of messages FCM would reject, and the service-account
 * assertion (signed with a key generated here, verified with hd_jwt). */
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "tests/unit/unit.h"
#include "tests/unit/http_client.h"
#include "core/alloc.h"
#include "auth/jwt.h"
#include "core/limits.h"
#include "core/metrics.h"
#include "services/worker-fcm/fcm.h"

#define FCM_ERR(http, status, code)                                            \
    "{\"error\":{\"code\":" #http ",\"message\":\"x\",\"status\":\"" status    \
    "\",\"details\":[{\"@type\":\"type.googleapis.com/google.firebase.fcm."    \
    "v1.FcmError\",\"errorCode\":\"" code "\"}]}}"

static void
classify(int status, const char *body, uint64_t ra, struct hd_push_result *r)
{
    fcm_classify(status, body, strlen(body), ra, r);
}

static void
test_classification_table(void)
{
    static const struct {
        int status;
        const char *body;
        enum hd_push_action action;
        const char *code;
        int guarded;
    } rows[] = {
        {200, "{\"name\":\"projects/p/messages/1\"}", HD_PUSH_SENT, "", 0},
        {404, FCM_ERR(404, "NOT_FOUND", "UNREGISTERED"), HD_PUSH_TOKEN_INVALID,
         "UNREGISTERED", 0},
        {403, FCM_ERR(403, "PERMISSION_DENIED", "SENDER_ID_MISMATCH"),
         HD_PUSH_TOKEN_INVALID, "SENDER_ID_MISMATCH", 1},
        {503, FCM_ERR(503, "UNAVAILABLE", "UNAVAILABLE"), HD_PUSH_RETRY,
         "UNAVAILABLE", 0},
        {500, FCM_ERR(500, "INTERNAL", "INTERNAL"), HD_PUSH_RETRY, "INTERNAL",
         0},
        {401, FCM_ERR(401, "UNAUTHENTICATED", "THIRD_PARTY_AUTH_ERROR"),
         HD_PUSH_CONFIG, "THIRD_PARTY_AUTH_ERROR", 0},
        {400, FCM_ERR(400, "INVALID_ARGUMENT", "INVALID_ARGUMENT"),
         HD_PUSH_BAD_REQUEST, "INVALID_ARGUMENT", 0},
        /* no FcmError: never the token's fault */
        {401,
         "{\"error\":{\"code\":401,\"message\":\"Request had invalid "
         "authentication credentials.\",\"status\":\"UNAUTHENTICATED\"}}",
         HD_PUSH_REAUTH, "UNAUTHENTICATED", 0},
        {403, "{\"error\":{\"code\":403,\"status\":\"PERMISSION_DENIED\"}}",
         HD_PUSH_CONFIG, "PERMISSION_DENIED", 0},
        {404, "{\"error\":{\"code\":404,\"status\":\"NOT_FOUND\"}}",
         HD_PUSH_CONFIG, "NOT_FOUND", 0},
        {400,
         "{\"error\":{\"code\":400,\"status\":\"INVALID_ARGUMENT\","
         "\"details\":[{\"@type\":\"type.googleapis.com/google.rpc."
         "BadRequest\",\"fieldViolations\":[{\"field\":\"message.data\"}]}]}}",
         HD_PUSH_BAD_REQUEST, "INVALID_ARGUMENT", 0},
        {502, "<html>bad gateway</html>", HD_PUSH_RETRY, "HTTP_502", 0},
        {418, "", HD_PUSH_BAD_REQUEST, "HTTP_418", 0},
    };
    struct hd_push_result r;
    size_t i;

    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        classify(rows[i].status, rows[i].body, 0, &r);
        if ((int)r.action != (int)rows[i].action)
            fprintf(stderr, "  row %zu\n", i);
        ASSERT_INT_EQ(r.action, rows[i].action);
        ASSERT_STR_EQ(r.code, rows[i].code);
        ASSERT_INT_EQ(r.guarded, rows[i].guarded);
        ASSERT_INT_EQ(r.http_status, rows[i].status);
    }
}

static void
test_invalid_argument_only_removes_provable_token_errors(void)
{
    struct hd_push_result r;

    /* the token message */
    classify(400,
             "{\"error\":{\"code\":400,\"message\":\"The registration token "
             "is not a valid FCM registration token\",\"status\":"
             "\"INVALID_ARGUMENT\",\"details\":[{\"@type\":\"type.googleapis."
             "com/google.firebase.fcm.v1.FcmError\",\"errorCode\":"
             "\"INVALID_ARGUMENT\"}]}}",
             0, &r);
    ASSERT_INT_EQ(r.action, HD_PUSH_TOKEN_INVALID);
    /* an APNs verdict relayed by FCM */
    classify(400,
             "{\"error\":{\"code\":400,\"message\":\"APNs device token is "
             "disabled.\",\"status\":\"INVALID_ARGUMENT\",\"details\":[{"
             "\"@type\":\"type.googleapis.com/google.firebase.fcm.v1."
             "FcmError\",\"errorCode\":\"INVALID_ARGUMENT\"},{\"@type\":"
             "\"type.googleapis.com/google.firebase.fcm.v1.ApnsError\","
             "\"statusCode\":410,\"reason\":\"Unregistered\"}]}}",
             0, &r);
    ASSERT_INT_EQ(r.action, HD_PUSH_TOKEN_INVALID);
    /* a field violation on message.token */
    classify(400,
             "{\"error\":{\"code\":400,\"status\":\"INVALID_ARGUMENT\","
             "\"details\":[{\"@type\":\"type.googleapis.com/google.firebase."
             "fcm.v1.FcmError\",\"errorCode\":\"INVALID_ARGUMENT\"},{\"@type\""
             ":\"type.googleapis.com/google.rpc.BadRequest\","
             "\"fieldViolations\":[{\"field\":\"message.token\"}]}]}}",
             0, &r);
    ASSERT_INT_EQ(r.action, HD_PUSH_TOKEN_INVALID);
    /* size: the payload's fault, the token stays */
    classify(400,
             "{\"error\":{\"code\":400,\"message\":\"Message is too large. "
             "The maximum is 4K (4096 bytes).\",\"status\":"
             "\"INVALID_ARGUMENT\",\"details\":[{\"@type\":\"type.googleapis."
             "com/google.firebase.fcm.v1.FcmError\",\"errorCode\":"
             "\"INVALID_ARGUMENT\"}]}}",
             0, &r);
    ASSERT_INT_EQ(r.action, HD_PUSH_BAD_REQUEST);
}

static void
test_quota_waits_a_minute_unless_told(void)
{
    struct hd_push_result r;

    classify(429, FCM_ERR(429, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED"), 0, &r);
    ASSERT_INT_EQ(r.action, HD_PUSH_RETRY);
    ASSERT_INT_EQ(r.retry_after_ms, 60000);
    classify(429, FCM_ERR(429, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED"), 2000,
             &r);
    ASSERT_INT_EQ(r.retry_after_ms, 2000);
    classify(503, FCM_ERR(503, "UNAVAILABLE", "UNAVAILABLE"), 7000, &r);
    ASSERT_INT_EQ(r.retry_after_ms, 7000);
    classify(404, FCM_ERR(404, "NOT_FOUND", "UNREGISTERED"), 7000, &r);
    ASSERT_INT_EQ(r.retry_after_ms, 0);
}

/* ---- requests: a provider built on a generated service account -------- */

struct fx {
    char dir[64];
    char sa[96];
    char token_url[96];
    char grant[8192]; /* the last token request body */
    pthread_mutex_t m;
    struct hd_http_server *srv;
    EVP_PKEY *pkey;
    struct fcm_config cfg;
    struct hd_httpc_config net;
    struct hd_push_env env;
    struct hd_metrics *metrics;
    void *st;
};

/* The token endpoint: remembers the form, answers a fixed token. */
static void
h_token(struct hd_http_req *r, void *ud)
{
    struct fx *f = ud;
    size_t len = 0;
    const char *b = hd_http_req_body(r, &len);

    pthread_mutex_lock(&f->m);
    snprintf(f->grant, sizeof(f->grant), "%s", b ? b : "");
    pthread_mutex_unlock(&f->m);
    static const char answer[] = "{\"access_token\":\"ya29.unit\","
                                 "\"expires_in\":3599,\"token_type\":"
                                 "\"Bearer\"}";

    hd_http_respond(r, 200, "application/json", answer, strlen(answer));
}

static const struct hd_http_route token_routes[] = {
    {"POST", "/token", h_token, 0, 0},
};

static int
fx_init(struct fx *f, const char *type)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *pem = NULL;
    long n;
    json_t *j;
    struct hd_err err = {0};
    int rc;

    struct hd_http_config hc = test_config(0);

    memset(f, 0, sizeof(f[0]));
    pthread_mutex_init(&f->m, NULL);
    f->srv = start(&hc, token_routes, 1, f, NULL);
    if (f->srv == NULL)
        return -1;
    snprintf(f->token_url, sizeof(f->token_url), "http://127.0.0.1:%d/token",
             port_of_server);
    snprintf(f->dir, sizeof(f->dir), "/tmp/herald-fcm-XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    snprintf(f->sa, sizeof(f->sa), "%s/sa.json", f->dir);
    f->pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    PEM_write_bio_PrivateKey(bio, f->pkey, NULL, NULL, 0, NULL, NULL);
    n = BIO_get_mem_data(bio, &pem);
    j = json_pack("{s:s,s:s,s:s,s:s%,s:s,s:s}", "type", type, "project_id",
                  "proj-1", "private_key_id", "kid-1", "private_key", pem,
                  (size_t)n, "client_email", "sa@proj-1.iam.example",
                  "token_uri", "https://oauth2.googleapis.com/token");
    json_dump_file(j, f->sa, 0);
    json_decref(j);
    BIO_free(bio);
    f->cfg.service_account = f->sa;
    f->cfg.url = (char *)(uintptr_t) "https://fcm.googleapis.com/";
    f->cfg.token_url = f->token_url;
    f->cfg.project = (char *)(uintptr_t) "";
    f->env.clock = &hd_clock_system;
    f->metrics = hd_metrics_new();
    f->env.metrics = f->metrics;
    f->env.net = &f->net;
    f->env.threaded = 1;
    rc = fcm_provider.init(&f->st, &f->cfg, &f->env, &err);
    if (rc < 0)
        fprintf(stderr, "  init: %s\n", err.msg);
    return rc;
}

static void
fx_release(struct fx *f)
{
    fcm_provider.free(f->st);
    hd_http_server_free(f->srv, 1000);
    pthread_mutex_destroy(&f->m);
    hd_metrics_free(f->metrics);
    EVP_PKEY_free(f->pkey);
    unlink(f->sa);
    rmdir(f->dir);
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

/* Waits (polling, 10 s at most) until the provider has its token. */
static int
wait_auth(struct fx *f)
{
    uint64_t end = hd_now_mono_ms() + 10000;
    struct hd_err err = {0};

    while (hd_now_mono_ms() < end) {
        if (fcm_provider.auth(f->st, &err) == 1)
            return 1;
        usleep(5000);
    }
    return 0;
}

static void
test_bodies_splice_the_target(void)
{
    struct fx f;
    struct hd_msg_delivery d;
    struct hd_push_req r;
    struct hd_err err = {0};
    void *bctx = NULL;

    ASSERT_INT_EQ(fx_init(&f, "service_account"), 0);
    ASSERT_INT_EQ(wait_auth(&f), 1);
    pthread_mutex_lock(&f.m);
    ASSERT_STR_CONTAINS(f.grant, "grant_type=urn%3Aietf%3Aparams%3Aoauth%3A"
                                 "grant-type%3Ajwt-bearer&assertion=ey");
    pthread_mutex_unlock(&f.m);
    memset(&d, 0, sizeof(d));
    d.rtype = HD_RT_DEVICE;
    d.notification =
        json_pack("{s:{s:s,s:{s:s},s:{s:s}}}", "message", "token", "stale",
                  "data", "type", "1", "android", "priority", "high");
    hd_msg_delivery_add_token(&d, "tok\"1", "dev1");
    ASSERT_INT_EQ(fcm_provider.prepare(f.st, &d, &bctx, &err), 0);
    req_init(&r);
    ASSERT_INT_EQ(fcm_provider.build(f.st, bctx, &d, 0, 1, &r, &err), 0);
    ASSERT_STR_EQ(
        r.http.url,
        "https://fcm.googleapis.com/v1/projects/proj-1/messages:send");
    ASSERT_STR_EQ(r.http.method, "POST");
    ASSERT_STR_EQ(r.http.body,
                  "{\"message\":{\"token\":\"tok\\\"1\",\"data\":{\"type\":"
                  "\"1\"},\"android\":{\"priority\":\"high\"}}}");
    ASSERT_INT_EQ(r.http.len, strlen(r.http.body));
    ASSERT_STR_EQ(r.http.headers[1], "Authorization: Bearer ya29.unit");
    ASSERT_INT_EQ(r.auth_gen, 1);
    fcm_provider.unprepare(f.st, bctx);

    /* topic and condition; an empty message */
    hd_msg_delivery_release(&d);
    memset(&d, 0, sizeof(d));
    d.rtype = HD_RT_CONDITION;
    d.condition = hd_xstrdup("'a' in topics");
    d.notification = json_pack("{s:{}}", "message");
    ASSERT_INT_EQ(fcm_provider.prepare(f.st, &d, &bctx, &err), 0);
    hd_buf_reset(&r.body);
    ASSERT_INT_EQ(fcm_provider.build(f.st, bctx, &d, 0, 1, &r, &err), 0);
    ASSERT_STR_EQ(r.http.body,
                  "{\"message\":{\"condition\":\"'a' in topics\"}}");
    fcm_provider.unprepare(f.st, bctx);
    req_release(&r);
    hd_msg_delivery_release(&d);
    fx_release(&f);
}

static void
test_refused_before_sending(void)
{
    struct fx f;
    struct hd_msg_delivery d;
    struct hd_err err = {0};
    void *bctx = NULL;
    char big[5000];

    ASSERT_INT_EQ(fx_init(&f, "service_account"), 0);
    memset(&d, 0, sizeof(d));
    d.rtype = HD_RT_TOPIC;
    d.notification = json_pack("{s:{s:{s:i}}}", "message", "data", "n", 1);
    ASSERT_INT_EQ(fcm_provider.prepare(f.st, &d, &bctx, &err), -1);
    ASSERT_STR_CONTAINS(err.msg, "values must be strings");
    json_decref(d.notification);
    d.notification = json_pack("{s:{s:{s:s}}}", "message", "data", "from", "x");
    ASSERT_INT_EQ(fcm_provider.prepare(f.st, &d, &bctx, &err), -1);
    ASSERT_STR_CONTAINS(err.msg, "reserved");
    json_decref(d.notification);
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    d.notification = json_pack("{s:{s:{s:s}}}", "message", "data", "k", big);
    ASSERT_INT_EQ(fcm_provider.prepare(f.st, &d, &bctx, &err), -1);
    ASSERT_STR_CONTAINS(err.msg, "4096");
    json_decref(d.notification);
    d.notification = json_pack("{s:s}", "message", "nope");
    ASSERT_INT_EQ(fcm_provider.prepare(f.st, &d, &bctx, &err), -1);
    json_decref(d.notification);
    fx_release(&f);
}

static void
test_assertion_is_a_valid_jwt_bearer_grant(void)
{
    struct fx f;
    struct hd_jwt_verify_opts o;
    struct fcm_auth *a;
    struct hd_jwt_key *pub;
    struct hd_buf out;
    json_t *hdr = NULL, *claims = NULL;
    struct hd_err err = {0};
    BIO *bio = BIO_new(BIO_s_mem());
    char *pem = NULL;
    long n;

    ASSERT_INT_EQ(fx_init(&f, "service_account"), 0);
    PEM_write_bio_PUBKEY(bio, f.pkey);
    n = BIO_get_mem_data(bio, &pem);
    pub = hd_jwt_key_pem(pem, (size_t)n, &err);
    BIO_free(bio);
    ASSERT_NOT_NULL(pub);
    hd_buf_init(&out, HD_JWT_MAX_LEN);
    a = fcm_auth_new(&f.cfg, &f.env, &err);
    ASSERT_NOT_NULL(a);
    ASSERT_STR_EQ(fcm_auth_project(a), "proj-1");
    ASSERT_INT_EQ(fcm_auth_assertion(a, 1700000000, &out, &err), 0);
    fcm_auth_free(a);
    memset(&o, 0, sizeof(o));
    o.now_s = 1700000000;
    o.require_exp = 1;
    o.issuer = "sa@proj-1.iam.example";
    o.audience = "https://oauth2.googleapis.com/token";
    if (hd_jwt_verify(pub, out.data, out.len, &o, &hdr, &claims, &err) < 0)
        fprintf(stderr, "  verify: %s\n", err.msg);
    ASSERT_NOT_NULL(claims);
    ASSERT_STR_EQ(json_string_value(json_object_get(hdr, "alg")), "RS256");
    ASSERT_STR_EQ(json_string_value(json_object_get(hdr, "kid")), "kid-1");
    ASSERT_STR_EQ(json_string_value(json_object_get(claims, "scope")),
                  "https://www.googleapis.com/auth/firebase.messaging");
    ASSERT_INT_EQ(json_integer_value(json_object_get(claims, "iat")),
                  1700000000 - 10);
    ASSERT_INT_EQ(json_integer_value(json_object_get(claims, "exp")),
                  1700000000 - 10 + 3600);
    json_decref(hdr);
    json_decref(claims);
    hd_buf_release(&out);
    hd_jwt_key_free(pub);
    fx_release(&f);
}

static void
test_bad_service_accounts(void)
{
    struct fx f;
    struct hd_err err = {0};
    void *st = NULL;

    ASSERT_INT_EQ(fx_init(&f, "authorized_user"), -1);
    f.cfg.service_account = (char *)(uintptr_t) "/nonexistent/sa.json";
    ASSERT_INT_EQ(fcm_provider.init(&st, &f.cfg, &f.env, &err), -1);
    ASSERT_STR_CONTAINS(err.msg, "HERALD_WORKER_FCM_SERVICE_ACCOUNT_FILE");
    f.st = NULL;
    fx_release(&f);
}

int
main(void)
{
    RUN_TEST(test_classification_table);
    RUN_TEST(test_invalid_argument_only_removes_provable_token_errors);
    RUN_TEST(test_quota_waits_a_minute_unless_told);
    RUN_TEST(test_bodies_splice_the_target);
    RUN_TEST(test_refused_before_sending);
    RUN_TEST(test_assertion_is_a_valid_jwt_bearer_grant);
    RUN_TEST(test_bad_service_accounts);
    return UNIT_DONE();
}
