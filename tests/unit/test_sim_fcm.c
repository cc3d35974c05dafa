/* test_sim_fcm.c -- unit tests for herald-sim's Google token endpoint
 * (tools/sim/providers/oauth.c) and FCM send (tools/sim/providers/fcm.c): the
 * assertion checks in Google's order, access-token expiry on the virtual clock,
 * project checks, message validation and every selectable FcmError. */
#include <stdlib.h>
#include <time.h>

#include "tests/unit/unit.h"
#include "auth/jwt.h"
#include "tests/unit/sim_fixture.h"
#include "tools/sim/providers/fcm.h"
#include "core/banned.h"

#define AUD "https://oauth2.googleapis.com/token"
#define SCOPE "https://www.googleapis.com/auth/firebase.messaging"
#define GRANT "urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"

struct sa {
    char email[256];
    char project[128];
    char kid[64];
    struct hd_jwt_key *key;
};

static void
load_sa(const struct fx *f, struct sa *sa)
{
    char *path = hd_xasprintf("%s/%s", f->dir, SIM_FILE_FCM_SA);
    json_t *j = json_load_file(path, 0, NULL);
    const char *pem = json_string_value(json_object_get(j, "private_key"));

    snprintf(sa->email, sizeof(sa->email), "%s",
             json_string_value(json_object_get(j, "client_email")));
    snprintf(sa->project, sizeof(sa->project), "%s",
             json_string_value(json_object_get(j, "project_id")));
    snprintf(sa->kid, sizeof(sa->kid), "%s",
             json_string_value(json_object_get(j, "private_key_id")));
    sa->key = hd_jwt_key_pem(pem, strlen(pem), NULL);
    json_decref(j);
    free(path);
}

/* POSTs an assertion with these claims to /token; returns the status. */
static int
token_request(struct fx *f, const struct sa *sa, json_t *claims,
              const char *grant)
{
    struct hd_buf jwt;
    char *body;
    int rc;

    hd_buf_init(&jwt, 16384);
    hd_jwt_sign(sa->key, sa->kid, claims, &jwt, NULL);
    body = hd_xasprintf("grant_type=%s&assertion=%s", grant, jwt.data);
    rc = fx_send(f, body, ":method", "POST", ":path", "/token", ":authority",
                 "oauth2.googleapis.com", "content-type",
                 "application/x-www-form-urlencoded", (const char *)NULL);
    free(body);
    hd_buf_release(&jwt);
    json_decref(claims);
    return rc;
}

static json_t *
claims(const struct sa *sa, long long iat, long long exp, const char *aud)
{
    return json_pack("{s:s, s:s, s:s, s:I, s:I}", "iss", sa->email, "scope",
                     SCOPE, "aud", aud, "iat", iat, "exp", exp);
}

static int
send_msg(struct fx *f, const char *token, const char *project, const char *body)
{
    char path[256];
    char auth[512];

    snprintf(path, sizeof(path), "/v1/projects/%s/messages:send", project);
    snprintf(auth, sizeof(auth), "Bearer %s", token);
    return fx_send(f, body, ":method", "POST", ":path", path, ":authority",
                   "fcm.googleapis.com", "authorization", auth,
                   (const char *)NULL);
}

/* Gets an access token into out. */
static int
get_token(struct fx *f, const struct sa *sa, char *out, size_t outlen)
{
    long long now = time(NULL);
    json_t *j;
    int rc = token_request(f, sa, claims(sa, now, now + 3600, AUD), GRANT);

    j = json_loadb(f->resp.body.data, f->resp.body.len, 0, NULL);
    snprintf(out, outlen, "%s",
             json_string_value(json_object_get(j, "access_token")));
    json_decref(j);
    return rc;
}

static void
test_token_endpoint(void)
{
    struct fx f;
    struct sa sa;
    long long now = time(NULL);
    json_t *c;

    ASSERT_INT_EQ(fx_init(&f, NULL), 0);
    load_sa(&f, &sa);
    ASSERT_INT_EQ(
        token_request(&f, &sa, claims(&sa, now, now + 3600, AUD), GRANT), 200);
    ASSERT_STR_CONTAINS(fx_body(&f), "\"access_token\":\"ya29.");
    ASSERT_STR_CONTAINS(fx_body(&f), "\"expires_in\":3599");
    ASSERT_INT_EQ(f.resp.oauth_issued, 1);
    ASSERT_INT_EQ(token_request(&f, &sa, claims(&sa, now, now + 3600, AUD),
                                "client_credentials"),
                  400);
    ASSERT_STR_CONTAINS(fx_body(&f), "\"error\":\"unsupported_grant_type\"");
    ASSERT_INT_EQ(
        token_request(&f, &sa, claims(&sa, now, now + 7200, AUD), GRANT), 400);
    ASSERT_STR_CONTAINS(fx_body(&f), "short-lived token (60 minutes)");
    ASSERT_INT_EQ(
        token_request(&f, &sa,
                      claims(&sa, now, now + 60, "https://example.com"), GRANT),
        400);
    ASSERT_STR_CONTAINS(fx_body(&f), "Failed audience check.");
    c = json_pack("{s:s, s:s, s:I}", "iss", sa.email, "aud", AUD, "exp",
                  now + 60);
    ASSERT_INT_EQ(token_request(&f, &sa, c, GRANT), 400);
    ASSERT_STR_CONTAINS(fx_body(&f), "iat (issued at) is not set.");
    c = json_pack("{s:s, s:s, s:I, s:I}", "iss", sa.email, "aud", AUD, "iat",
                  now, "exp", now + 60);
    ASSERT_INT_EQ(token_request(&f, &sa, c, GRANT), 400);
    ASSERT_STR_CONTAINS(fx_body(&f), "\"error\":\"invalid_scope\"");
    c = json_pack("{s:s, s:s, s:s, s:I, s:I}", "iss", "nobody@x", "scope",
                  SCOPE, "aud", AUD, "iat", now, "exp", now + 60);
    ASSERT_INT_EQ(token_request(&f, &sa, c, GRANT), 400);
    ASSERT_STR_CONTAINS(fx_body(&f), "account not found");
    ASSERT_INT_EQ(fx_send(&f, "grant_type=" GRANT "&assertion=a.b.c", ":method",
                          "POST", ":path", "/token", ":authority",
                          "oauth2.googleapis.com", (const char *)NULL),
                  400);
    ASSERT_STR_CONTAINS(fx_body(&f), "\"error\":\"invalid_request\"");
    hd_jwt_key_free(sa.key);
    fx_release(&f);
}

static void
test_bad_signature(void)
{
    struct fx f;
    struct sa sa;
    struct sa other;
    long long now = time(NULL);

    ASSERT_INT_EQ(fx_init(&f, NULL), 0);
    load_sa(&f, &sa);
    /* another directory's service account: same email, other RSA key */
    {
        struct fx g;

        ASSERT_INT_EQ(fx_prepare(&g), 0);
        load_sa(&g, &other);
        fx_rmdir(g.dir);
    }
    snprintf(other.email, sizeof(other.email), "%s", sa.email);
    ASSERT_INT_EQ(
        token_request(&f, &other, claims(&other, now, now + 60, AUD), GRANT),
        400);
    ASSERT_STR_CONTAINS(fx_body(&f), "Invalid JWT Signature.");
    hd_jwt_key_free(other.key);
    hd_jwt_key_free(sa.key);
    fx_release(&f);
}

static void
test_send(void)
{
    struct fx f;
    struct sa sa;
    char tok[256];

    ASSERT_INT_EQ(fx_init(&f, NULL), 0);
    load_sa(&f, &sa);
    ASSERT_INT_EQ(get_token(&f, &sa, tok, sizeof(tok)), 200);
    ASSERT_INT_EQ(send_msg(&f, tok, sa.project,
                           "{\"message\":{\"token\":\"t1\",\"data\":{\"a\":"
                           "\"b\"}}}"),
                  200);
    ASSERT_STR_CONTAINS(fx_body(&f), "\"name\":\"projects/");
    ASSERT_INT_EQ(f.resp.accepted, 1);
    ASSERT_STR_EQ(f.resp.identity, sa.email);
    ASSERT_INT_EQ(send_msg(&f, tok, sa.project,
                           "{\"validate_only\":true,\"message\":{\"topic\":"
                           "\"news\"}}"),
                  200);
    ASSERT_STR_CONTAINS(fx_body(&f), "fake_message_id");
    ASSERT_INT_EQ(f.resp.accepted, 0);
    /* authentication and project */
    ASSERT_INT_EQ(send_msg(&f, "nope", sa.project, "{}"), 401);
    ASSERT_NOT_NULL(sim_resp_get_header(&f.resp, "www-authenticate"));
    ASSERT_STR_LACKS(fx_body(&f), "FcmError");
    ASSERT_INT_EQ(fx_send(&f, "{}", ":method", "POST", ":path",
                          "/v1/projects/p/messages:send", ":authority",
                          "fcm.googleapis.com", (const char *)NULL),
                  401);
    ASSERT_STR_CONTAINS(fx_body(&f), "missing required authentication");
    ASSERT_INT_EQ(send_msg(&f, tok, "someone-else", "{}"), 404);
    ASSERT_STR_LACKS(fx_body(&f), "FcmError");
    /* expiry on the virtual clock */
    atomic_store(&f.ctx.clock_offset_ms, 3600 * 1000);
    ASSERT_INT_EQ(
        send_msg(&f, tok, sa.project, "{\"message\":{\"token\":\"t1\"}}"), 401);
    ASSERT_STR_CONTAINS(fx_body(&f), "invalid authentication credentials");
    hd_jwt_key_free(sa.key);
    fx_release(&f);
}

static void
test_validation(void)
{
    static const struct {
        const char *body;
        const char *expect;
    } cases[] = {
        {"{\"message\":", "Invalid JSON payload received."},
        {"{\"msg\":{}}", "Unknown name \\\"msg\\\""},
        {"{\"message\":{\"token\":\"a\",\"priority\":\"high\"}}",
         "Unknown name \\\"priority\\\" at 'message'"},
        {"{\"message\":{\"token\":\"a\",\"topic\":\"b\"}}",
         "Exactly one of token, topic or condition"},
        {"{\"message\":{\"token\":\"a\",\"data\":{\"k\":1}}}",
         "message.data[0].value"},
        {"{\"message\":{\"token\":\"a\",\"data\":{\"from\":\"x\"}}}",
         "Invalid data payload key: from"},
        {"{\"message\":{\"token\":\"a\",\"android\":{\"priority\":\"urgent\"}"
         "}}",
         "message.android.priority"},
        {"{\"message\":{\"token\":\"a\",\"android\":{\"ttl\":\"3 days\"}}}",
         "message.android.ttl"},
        {"{\"message\":{\"topic\":\"bad topic\"}}", "Invalid topic name."},
    };
    struct fx f;
    struct sa sa;
    char tok[256];
    char big[5000];
    char *body;
    size_t i;

    ASSERT_INT_EQ(fx_init(&f, NULL), 0);
    load_sa(&f, &sa);
    ASSERT_INT_EQ(get_token(&f, &sa, tok, sizeof(tok)), 200);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ASSERT_INT_EQ(send_msg(&f, tok, sa.project, cases[i].body), 400);
        ASSERT_STR_CONTAINS(fx_body(&f), cases[i].expect);
    }
    ASSERT_INT_EQ(send_msg(&f, tok, sa.project,
                           "{\"message\":{\"token\":\"a\",\"android\":{"
                           "\"priority\":\"HIGH\",\"ttl\":\"3.5s\"}}}"),
                  200);
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    body = hd_xasprintf(
        "{\"message\":{\"token\":\"a\",\"data\":{\"k\":\"%s\"}}}", big);
    ASSERT_INT_EQ(send_msg(&f, tok, sa.project, body), 400);
    ASSERT_STR_CONTAINS(fx_body(&f), "Message is too large. The maximum is 4K");
    free(body);
    hd_jwt_key_free(sa.key);
    fx_release(&f);
}

static void
test_errors_by_prefix(void)
{
    const struct sim_endpoint *ep = &sim_fcm_send;
    struct fx f;
    struct sa sa;
    char tok[256];
    char body[256];
    int i;

    ASSERT_INT_EQ(fx_init(&f, NULL), 0);
    load_sa(&f, &sa);
    ASSERT_INT_EQ(get_token(&f, &sa, tok, sizeof(tok)), 200);
    ASSERT_INT_EQ(
        send_msg(&f, tok, sa.project, "{\"message\":{\"token\":\"dead-1\"}}"),
        404);
    ASSERT_STR_CONTAINS(fx_body(&f), "\"errorCode\":\"UNREGISTERED\"");
    ASSERT_INT_EQ(
        send_msg(&f, tok, sa.project, "{\"message\":{\"token\":\"bad0-1\"}}"),
        400);
    ASSERT_STR_CONTAINS(fx_body(&f), "not a valid FCM registration token");
    ASSERT_INT_EQ(send_msg(&f, tok, sa.project,
                           "{\"message\":{\"token\":\"05030012-1\"}}"),
                  503);
    ASSERT_STR_EQ(sim_resp_get_header(&f.resp, "retry-after"), "12");
    ASSERT_INT_EQ(send_msg(&f, tok, sa.project,
                           "{\"message\":{\"token\":\"de1a0250-1\"}}"),
                  200);
    ASSERT_INT_EQ(f.resp.delay_ms, 250);
    for (i = 0; ep->error_at(i) != NULL; i++) {
        snprintf(body, sizeof(body), "{\"message\":{\"token\":\"fe%02d-x\"}}",
                 i);
        ASSERT_INT_NE(send_msg(&f, tok, sa.project, body), 200);
        ASSERT_STR_CONTAINS(fx_body(&f), "\"error\":{\"code\":");
    }
    ASSERT_INT_EQ(
        send_msg(&f, tok, sa.project, "{\"message\":{\"token\":\"fe02\"}}"),
        403);
    ASSERT_STR_CONTAINS(fx_body(&f), "SENDER_ID_MISMATCH");
    ASSERT_INT_EQ(
        send_msg(&f, tok, sa.project, "{\"message\":{\"token\":\"fe08\"}}"),
        400);
    ASSERT_STR_CONTAINS(fx_body(&f), "\"reason\":\"Unregistered\"");
    ASSERT_STR_CONTAINS(fx_body(&f), "\"statusCode\":410");
    hd_jwt_key_free(sa.key);
    fx_release(&f);
}

int
main(void)
{
    RUN_TEST(test_token_endpoint);
    RUN_TEST(test_bad_signature);
    RUN_TEST(test_send);
    RUN_TEST(test_validation);
    RUN_TEST(test_errors_by_prefix);
    return UNIT_DONE();
}
