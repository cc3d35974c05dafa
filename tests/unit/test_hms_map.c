/* test_hms_map.c -- unit tests for herald-worker-hms's provider: the code
 * classification (specs/providers.md 3.5) including partial success, the
 * one-request-per-batch body, the client-credentials form against a local
 * token endpoint, and the form encoding. */
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "tests/unit/unit.h"
#include "tests/unit/http_client.h"
#include "core/alloc.h"
#include "services/worker-hms/hms.h"

static const char *const toks[] = {"t1", "t2", "t3", "t4"};

static void
classify(int status, const char *body, uint64_t ra, size_t n,
         struct hd_push_result *res)
{
    hms_classify(status, body, strlen(body), ra, toks, n, res);
}

static void
test_codes(void)
{
    static const struct {
        int status;
        const char *code;
        enum hd_push_action action;
        int guarded;
    } rows[] = {
        {200, "80000000", HD_PUSH_SENT, 0},
        {200, "80300007", HD_PUSH_TOKEN_INVALID, 1},
        {200, "80200003", HD_PUSH_REAUTH, 0},
        {401, "80200005", HD_PUSH_REAUTH, 0},
        {200, "80200001", HD_PUSH_REAUTH, 0},
        {200, "80300002", HD_PUSH_CONFIG, 0},
        {200, "80300011", HD_PUSH_CONFIG, 0},
        {200, "80300013", HD_PUSH_CONFIG, 0},
        {200, "80600003", HD_PUSH_CONFIG, 0},
        {200, "80100001", HD_PUSH_BAD_REQUEST, 0},
        {400, "80100003", HD_PUSH_BAD_REQUEST, 0},
        {200, "80100013", HD_PUSH_BAD_REQUEST, 0},
        {200, "80300008", HD_PUSH_BAD_REQUEST, 0},
        {200, "80300010", HD_PUSH_BAD_REQUEST, 0},
        {200, "80100017", HD_PUSH_RETRY, 0},
        {500, "81000001", HD_PUSH_RETRY, 0},
        {200, "81000001", HD_PUSH_RETRY, 0},
    };
    struct hd_push_result res[4];
    char body[128];
    size_t i;

    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        snprintf(body, sizeof(body),
                 "{\"code\":\"%s\",\"msg\":\"x\",\"requestId\":\"1\"}",
                 rows[i].code);
        classify(rows[i].status, body, 0, 3, res);
        if ((int)res[2].action != (int)rows[i].action)
            fprintf(stderr, "  row %s\n", rows[i].code);
        ASSERT_INT_EQ(res[0].action, rows[i].action);
        ASSERT_INT_EQ(res[2].action, rows[i].action);
        ASSERT_INT_EQ(res[2].guarded, rows[i].guarded);
        ASSERT_INT_EQ(res[2].http_status, rows[i].status);
        ASSERT_STR_EQ(res[1].code,
                      rows[i].action == HD_PUSH_SENT ? "" : rows[i].code);
    }
}

static void
test_partial_success(void)
{
    struct hd_push_result res[4];

    classify(200,
             "{\"code\":\"80100000\",\"msg\":\"{\\\"success\\\":2,"
             "\\\"failure\\\":2,\\\"illegal_tokens\\\":[\\\"t2\\\","
             "\\\"t4\\\"]}\",\"requestId\":\"1\"}",
             0, 4, res);
    ASSERT_INT_EQ(res[0].action, HD_PUSH_SENT);
    ASSERT_INT_EQ(res[1].action, HD_PUSH_TOKEN_INVALID);
    ASSERT_INT_EQ(res[1].guarded, 0);
    ASSERT_STR_EQ(res[1].code, "80100000");
    ASSERT_INT_EQ(res[2].action, HD_PUSH_SENT);
    ASSERT_INT_EQ(res[3].action, HD_PUSH_TOKEN_INVALID);
    /* unreadable msg: never resend what may have been delivered */
    classify(200, "{\"code\":\"80100000\",\"msg\":\"garbled\"}", 0, 4, res);
    ASSERT_INT_EQ(res[0].action, HD_PUSH_SENT);
    ASSERT_INT_EQ(res[3].action, HD_PUSH_SENT);
}

static void
test_http_fallbacks(void)
{
    struct hd_push_result res[2];

    /* flow control: whatever the body */
    classify(503, "<html>busy</html>", 3000, 2, res);
    ASSERT_INT_EQ(res[0].action, HD_PUSH_RETRY);
    ASSERT_INT_EQ(res[1].retry_after_ms, 3000);
    ASSERT_STR_EQ(res[1].code, "HTTP_503");
    classify(503, "{\"code\":\"80000000\"}", 0, 2, res);
    ASSERT_INT_EQ(res[0].action, HD_PUSH_RETRY);
    classify(502, "<html>bad gateway</html>", 0, 2, res);
    ASSERT_INT_EQ(res[0].action, HD_PUSH_RETRY);
    classify(401, "", 0, 2, res);
    ASSERT_INT_EQ(res[0].action, HD_PUSH_REAUTH);
    classify(404, "nope", 0, 2, res);
    ASSERT_INT_EQ(res[0].action, HD_PUSH_BAD_REQUEST);
    ASSERT_STR_EQ(res[0].code, "HTTP_404");
}

static void
test_form_escape(void)
{
    struct hd_buf b;

    hd_buf_init(&b, 256);
    ASSERT_INT_EQ(hms_form_escape(&b, "a+b/c=d e&f~_.-9", NULL), 0);
    ASSERT_STR_EQ(b.data, "a%2Bb%2Fc%3Dd%20e%26f~_.-9");
    hd_buf_release(&b);
}

/* ---- a provider against a local token endpoint ------------------------ */

struct fx {
    char token_url[96];
    char form[1024];
    pthread_mutex_t m;
    struct hd_http_server *srv;
    struct hms_config cfg;
    struct hd_httpc_config net;
    struct hd_push_env env;
    void *st;
};

static void
h_token(struct hd_http_req *r, void *ud)
{
    static const char answer[] = "{\"access_token\":\"CF3X\\/l2+A==\","
                                 "\"expires_in\":3600,\"token_type\":"
                                 "\"Bearer\"}";
    struct fx *f = ud;
    size_t len = 0;
    const char *b = hd_http_req_body(r, &len);

    pthread_mutex_lock(&f->m);
    snprintf(f->form, sizeof(f->form), "%s", b ? b : "");
    pthread_mutex_unlock(&f->m);
    hd_http_respond(r, 200, "application/json", answer, strlen(answer));
}

static const struct hd_http_route routes[] = {
    {"POST", "/oauth2/v3/token", h_token, 0, 0},
};

static int
fx_init(struct fx *f)
{
    struct hd_http_config hc = test_config(0);
    struct hd_err err = {0};
    uint64_t end;

    memset(f, 0, sizeof(*f));
    pthread_mutex_init(&f->m, NULL);
    f->srv = start(&hc, routes, 1, f, NULL);
    if (f->srv == NULL)
        return -1;
    snprintf(f->token_url, sizeof(f->token_url),
             "http://127.0.0.1:%d/oauth2/v3/token", port_of_server);
    f->cfg.app_id = (char *)(uintptr_t) "10001";
    f->cfg.secret = (char *)(uintptr_t) "s3cr+t/=";
    f->cfg.url = (char *)(uintptr_t) "https://push-api.cloud.huawei.com";
    f->cfg.token_url = f->token_url;
    f->env.clock = &hd_clock_system;
    f->env.net = &f->net;
    f->env.threaded = 1;
    if (hms_provider.init(&f->st, &f->cfg, &f->env, &err) < 0) {
        fprintf(stderr, "  init: %s\n", err.msg);
        return -1;
    }
    end = hd_now_mono_ms() + 10000;
    while (hms_provider.auth(f->st, &err) != 1 && hd_now_mono_ms() < end)
        usleep(2000);
    return hms_provider.auth(f->st, &err) == 1 ? 0 : -1;
}

static void
fx_release(struct fx *f)
{
    hms_provider.free(f->st);
    hd_http_server_free(f->srv, 1000);
    pthread_mutex_destroy(&f->m);
}

static void
test_request_body(void)
{
    struct fx f;
    struct hd_msg_delivery d;
    struct hd_push_req r;
    struct hd_err err = {0};
    void *bctx = NULL;

    ASSERT_INT_EQ(fx_init(&f), 0);
    pthread_mutex_lock(&f.m);
    ASSERT_STR_EQ(f.form, "grant_type=client_credentials&client_id=10001&"
                          "client_secret=s3cr%2Bt%2F%3D");
    pthread_mutex_unlock(&f.m);
    memset(&d, 0, sizeof(d));
    d.rtype = HD_RT_DEVICE;
    /* data as an object is turned into the string HMS requires */
    d.notification = json_pack("{s:{s:{s:s},s:[s]}}", "message", "data", "type",
                               "1", "token", "stale");
    hd_msg_delivery_add_token(&d, "a", "d1");
    hd_msg_delivery_add_token(&d, "b\"", "d2");
    hd_msg_delivery_add_token(&d, "c", "d3");
    ASSERT_INT_EQ(hms_provider.prepare(f.st, &d, &bctx, &err), 0);
    memset(&r, 0, sizeof(r));
    hd_buf_init(&r.url, 2048);
    hd_buf_init(&r.body, 65536);
    hd_buf_init(&r.auth, 8192);
    ASSERT_INT_EQ(hms_provider.build(f.st, bctx, &d, 0, 3, &r, &err), 0);
    ASSERT_STR_EQ(r.http.url, "https://push-api.cloud.huawei.com/v1/10001/"
                              "messages:send");
    ASSERT_STR_EQ(r.http.body,
                  "{\"validate_only\":false,\"message\":{\"data\":\"{\\\"type"
                  "\\\":\\\"1\\\"}\",\"token\":[\"a\",\"b\\\"\",\"c\"]}}");
    /* the token arrived JSON-escaped and is sent decoded */
    ASSERT_STR_EQ(r.http.headers[1], "Authorization: Bearer CF3X/l2+A==");
    hms_provider.unprepare(f.st, bctx);
    hd_msg_delivery_release(&d);

    memset(&d, 0, sizeof(d));
    d.rtype = HD_RT_TOPIC;
    d.topic = hd_xstrdup("news");
    d.notification = json_pack("{s:{}}", "message");
    ASSERT_INT_EQ(hms_provider.prepare(f.st, &d, &bctx, &err), 0);
    hd_buf_reset(&r.body);
    ASSERT_INT_EQ(hms_provider.build(f.st, bctx, &d, 0, 1, &r, &err), 0);
    ASSERT_STR_EQ(r.http.body,
                  "{\"validate_only\":false,\"message\":{\"topic\":\"news\"}}");
    hms_provider.unprepare(f.st, bctx);
    hd_msg_delivery_release(&d);
    hd_buf_release(&r.url);
    hd_buf_release(&r.body);
    hd_buf_release(&r.auth);
    fx_release(&f);
}

int
main(void)
{
    RUN_TEST(test_codes);
    RUN_TEST(test_partial_success);
    RUN_TEST(test_http_fallbacks);
    RUN_TEST(test_form_escape);
    RUN_TEST(test_request_body);
    return UNIT_DONE();
}
