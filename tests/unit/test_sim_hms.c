/* test_sim_hms.c -- unit tests for herald-sim's HMS token endpoint and
 * Push Kit send (tools/sim/providers/oauth.c, hms.c): client credentials,
 * access token expiry, 80000000 / 80100000 (msg as a JSON string) / 80300007
 * with HTTP 200, validation codes, the documented status mode and QPS. */
#include <stdlib.h>

#include "tests/unit/unit.h"
#include "tests/unit/sim_fixture.h"
#include "core/banned.h"

struct app {
    char id[64];
    char secret[128];
};

static void
load_app(const struct fx *f, struct app *a)
{
    char *path = hd_xasprintf("%s/%s", f->dir, SIM_FILE_HMS);
    json_t *j = json_load_file(path, 0, NULL);

    snprintf(a->id, sizeof(a->id), "%s",
             json_string_value(json_object_get(j, "app_id")));
    snprintf(a->secret, sizeof(a->secret), "%s",
             json_string_value(json_object_get(j, "client_secret")));
    json_decref(j);
    free(path);
}

static int
token_request(struct fx *f, const char *body)
{
    return fx_send(f, body, ":method", "POST", ":path", "/oauth2/v3/token",
                   ":authority", "oauth-login.cloud.huawei.com",
                   (const char *)NULL);
}

/* Gets an access token (JSON-decoded) into out. */
static int
get_token(struct fx *f, const struct app *a, char *out, size_t outlen)
{
    char *body = hd_xasprintf(
        "grant_type=client_credentials&client_id=%s&client_secret=%s", a->id,
        a->secret);
    int rc = token_request(f, body);
    json_t *j = json_loadb(f->resp.body.data, f->resp.body.len, 0, NULL);

    snprintf(out, outlen, "%s",
             json_string_value(json_object_get(j, "access_token")));
    json_decref(j);
    free(body);
    return rc;
}

static int
send_msg(struct fx *f, const struct app *a, const char *tok, const char *body)
{
    char path[256];
    char auth[512];

    snprintf(path, sizeof(path), "/v1/%s/messages:send", a->id);
    snprintf(auth, sizeof(auth), "Bearer %s", tok);
    return fx_send(f, body, ":method", "POST", ":path", path, ":authority",
                   "push-api.cloud.huawei.com", "authorization", auth,
                   (const char *)NULL);
}

static void
test_token_endpoint(void)
{
    struct fx f;
    struct app a;
    char tok[256];
    char *body;

    ASSERT_INT_EQ(fx_init(&f, NULL), 0);
    load_app(&f, &a);
    ASSERT_INT_EQ(get_token(&f, &a, tok, sizeof(tok)), 200);
    ASSERT_STR_CONTAINS(fx_body(&f), "\\/"); /* '/' escaped as Huawei does */
    ASSERT_TRUE(strchr(tok, '/') != NULL && strchr(tok, '+') != NULL);
    ASSERT_STR_EQ(sim_resp_get_header(&f.resp, "cache-control"), "no-store");
    ASSERT_STR_CONTAINS(fx_body(&f), "\"expires_in\":3600");
    body = hd_xasprintf("grant_type=client_credentials&client_id=%s&"
                        "client_secret=wrong",
                        a.id);
    ASSERT_INT_EQ(token_request(&f, body), 400);
    ASSERT_STR_CONTAINS(fx_body(&f), "\"error\":1101");
    ASSERT_STR_CONTAINS(fx_body(&f), "\"sub_error\":20003");
    free(body);
    ASSERT_INT_EQ(token_request(&f, "grant_type=password&client_id=1"), 400);
    ASSERT_INT_EQ(token_request(&f, "grant_type=client_credentials&"
                                    "client_id=12&client_secret="),
                  400);
    ASSERT_STR_CONTAINS(fx_body(&f), "\"sub_error\":20171");
    fx_release(&f);
}

static void
test_send_outcomes(void)
{
    struct fx f;
    struct app a;
    char tok[256];
    json_t *j;
    json_t *msg;

    ASSERT_INT_EQ(fx_init(&f, NULL), 0);
    load_app(&f, &a);
    ASSERT_INT_EQ(get_token(&f, &a, tok, sizeof(tok)), 200);
    ASSERT_INT_EQ(send_msg(&f, &a, tok,
                           "{\"message\":{\"data\":\"x\",\"token\":[\"a\","
                           "\"b\"]}}"),
                  200);
    ASSERT_STR_CONTAINS(fx_body(&f), "\"code\":\"80000000\"");
    ASSERT_INT_EQ(f.resp.delivered, 2);
    ASSERT_INT_EQ(f.resp.ntokens, 2);
    ASSERT_INT_EQ(send_msg(&f, &a, tok,
                           "{\"message\":{\"data\":\"x\",\"token\":[\"a\","
                           "\"dead-b\",\"bad0-c\"]}}"),
                  200);
    j = json_loadb(f.resp.body.data, f.resp.body.len, 0, NULL);
    ASSERT_STR_EQ(json_string_value(json_object_get(j, "code")), "80100000");
    msg = json_loads(json_string_value(json_object_get(j, "msg")), 0, NULL);
    ASSERT_INT_EQ(json_integer_value(json_object_get(msg, "success")), 1);
    ASSERT_INT_EQ(json_integer_value(json_object_get(msg, "failure")), 2);
    ASSERT_STR_EQ(json_string_value(json_array_get(
                      json_object_get(msg, "illegal_tokens"), 1)),
                  "bad0-c");
    json_decref(msg);
    json_decref(j);
    ASSERT_INT_EQ(f.resp.delivered, 1);
    ASSERT_INT_EQ(send_msg(&f, &a, tok,
                           "{\"message\":{\"data\":\"x\",\"token\":["
                           "\"dead-a\"]}}"),
                  200);
    ASSERT_STR_CONTAINS(fx_body(&f), "\"code\":\"80300007\"");
    ASSERT_STR_CONTAINS(fx_body(&f), "All the tokens are invalid");
    ASSERT_INT_EQ(send_msg(&f, &a, tok,
                           "{\"message\":{\"data\":\"x\",\"token\":[\"a\","
                           "\"05030009\"]}}"),
                  503);
    ASSERT_STR_EQ(sim_resp_get_header(&f.resp, "retry-after"), "9");
    ASSERT_INT_EQ(send_msg(&f, &a, tok,
                           "{\"message\":{\"data\":\"x\",\"token\":["
                           "\"he09\"]}}"),
                  200);
    ASSERT_STR_CONTAINS(fx_body(&f), "\"code\":\"80200001\"");
    fx_release(&f);
}

static void
test_auth_and_validation(void)
{
    static const struct {
        const char *body;
        const char *code;
    } cases[] = {
        {"not json", "80100003"},
        {"{\"mesage\":{}}", "80300010"},
        {"{\"message\":{\"token\":[]}}", "80300010"},
        {"{\"message\":{\"token\":[\"a\"],\"topic\":\"t\"}}", "80100003"},
        {"{\"message\":{\"token\":[\"a\"],\"data\":{\"k\":\"v\"}}}",
         "80100003"},
        {"{\"message\":{\"token\":[\"a\"],\"android\":{\"notification\":{"
         "\"title\":\"t\"}}}}",
         "80100003"},
        {"{\"message\":{\"token\":[\"a\"],\"android\":{\"collapse_key\":"
         "101}}}",
         "80100013"},
        {"{\"message\":{\"token\":[\"a\"],\"android\":{\"ttl\":\"1 day\"}}}",
         "80100003"},
    };
    struct fx f;
    struct app a;
    char tok[256];
    char path[300];
    char code[32];
    size_t i;

    ASSERT_INT_EQ(fx_init(&f, NULL), 0);
    load_app(&f, &a);
    ASSERT_INT_EQ(get_token(&f, &a, tok, sizeof(tok)), 200);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ASSERT_INT_EQ(send_msg(&f, &a, tok, cases[i].body), 200);
        snprintf(code, sizeof(code), "\"code\":\"%s\"", cases[i].code);
        ASSERT_STR_CONTAINS(fx_body(&f), code);
    }
    ASSERT_INT_EQ(send_msg(&f, &a, "unknown", "{}"), 200);
    ASSERT_STR_CONTAINS(fx_body(&f), "\"code\":\"80200001\"");
    /* another app's path with this token */
    snprintf(path, sizeof(path), "Bearer %s", tok);
    ASSERT_INT_EQ(fx_send(&f, "{}", ":method", "POST", ":path",
                          "/v1/999/messages:send", ":authority",
                          "push-api.cloud.huawei.com", "authorization", path,
                          (const char *)NULL),
                  200);
    ASSERT_STR_CONTAINS(fx_body(&f), "\"code\":\"80200001\"");
    /* expired on the virtual clock; documented mode gives 401 */
    atomic_store(&f.ctx.clock_offset_ms, 3600 * 1000);
    ASSERT_INT_EQ(send_msg(&f, &a, tok, "{}"), 200);
    ASSERT_STR_CONTAINS(fx_body(&f), "\"code\":\"80200003\"");
    free(f.ctx.cfg.hms_status_mode);
    f.ctx.cfg.hms_status_mode = hd_xstrdup("documented");
    ASSERT_INT_EQ(send_msg(&f, &a, tok, "{}"), 401);
    fx_release(&f);
}

int
main(void)
{
    RUN_TEST(test_token_endpoint);
    RUN_TEST(test_send_outcomes);
    RUN_TEST(test_auth_and_validation);
    return UNIT_DONE();
}
