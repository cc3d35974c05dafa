/* test_http_server.c -- unit tests for common/http/server.c (routing,
 * errors, request ids, body limits, TLS, shutdown): a real server on a
 * free port, driven by libcurl. test_http_async.c has the rest. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "tests/unit/unit.h"
#include "tests/unit/http_client.h"
#include "core/clock.h"
#include "http/server.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/metrics.h"
#include "core/banned.h"

static char tag[] = "r";

static void
h_echo(struct hd_http_req *r, void *ud)
{
    const char *q = hd_http_req_query(r, "q");
    const char *id = hd_http_req_param(r, "id");
    const char *x = hd_http_req_header(r, "x-test");
    size_t len;
    const char *body = hd_http_req_body(r, &len);
    json_t *j;

    j = json_pack("{s:s,s:s,s:s?,s:s?,s:s?,s:s,s:i,s:s,s:s}", "route",
                  (const char *)ud, "path", hd_http_req_path(r), "q", q, "id",
                  id, "x", x, "body", body, "len", (int)len, "method",
                  hd_http_req_method(r), "remote", hd_http_req_remote(r));
    hd_http_respond_json(r, 200, j);
    json_decref(j);
}

static void
h_headers(struct hd_http_req *r, void *ud)
{
    (void)ud;
    hd_http_req_add_header(r, "X-Custom", "yes");
    hd_http_req_add_header(r, "Cache-Control", "no-store");
    hd_http_respond(r, 201, "text/plain", "made", 4);
}

static void
test_routing_params_and_errors(void)
{
    static const struct hd_http_route routes[] = {
        {"GET", "/exact", h_echo, 0, 0},
        {"GET", "/api/*", h_echo, 0, 0},
        {"GET", "/api/special", h_echo, 0, 0},
        {"PUT", "/devices/identifier/{id}/token", h_echo, 0, 0},
        {"POST", "/devices/identifier/{id}/token", h_echo, 0, 0},
        {NULL, "/any", h_echo, 0, 0},
        {"POST", "/small", h_echo, 16, 0},
        {"GET", "/headers", h_headers, 0, 0},
    };
    struct hd_http_config cfg = test_config(2);
    struct hd_http_server *s = start(&cfg, routes, 8, tag, NULL);
    struct resp rs;
    char v[256];
    char want[512];

    ASSERT_NOT_NULL(s);
    req("GET", "/exact?q=1&token=secret", NULL, NULL, &rs);
    ASSERT_INT_EQ(rs.status, 200);
    ASSERT_STR_CONTAINS(rs.body, "\"path\":\"/exact\"");
    ASSERT_STR_CONTAINS(rs.body, "\"q\":\"1\"");
    ASSERT_STR_EQ(hdr(&rs, "Content-Type", v, sizeof(v)), "application/json");
    req("GET", "/api/v1/x", "X-Test: hello", NULL, &rs);
    ASSERT_INT_EQ(rs.status, 200);
    ASSERT_STR_CONTAINS(rs.body, "\"path\":\"/api/v1/x\"");
    ASSERT_STR_CONTAINS(rs.body, "\"x\":\"hello\"");
    req("PUT", "/devices/identifier/abc-1/token", NULL, "{\"a\":1}", &rs);
    ASSERT_INT_EQ(rs.status, 200);
    ASSERT_STR_CONTAINS(rs.body, "\"id\":\"abc-1\"");
    ASSERT_STR_CONTAINS(rs.body, "\"body\":\"{\\\"a\\\":1}\",\"len\":7");
    ASSERT_STR_CONTAINS(rs.body, "\"method\":\"PUT\"");
    ASSERT_STR_CONTAINS(rs.body, "\"remote\":\"127.0.0.1\"");
    req("DELETE", "/any", NULL, NULL, &rs);
    ASSERT_INT_EQ(rs.status, 200);

    /* unknown path: 404 in the one error shape, with the request id */
    req("GET", "/nope", NULL, NULL, &rs);
    ASSERT_INT_EQ(rs.status, 404);
    snprintf(want, sizeof(want),
             "{\"error\":\"not_found\",\"message\":\"no such endpoint\","
             "\"request_id\":\"%s\"}",
             hdr(&rs, "X-Request-Id", v, sizeof(v)));
    ASSERT_STR_EQ(rs.body, want);
    /* a {param} needs a non-empty segment, and the segment count matters */
    req("PUT", "/devices/identifier//token", NULL, "", &rs);
    ASSERT_INT_EQ(rs.status, 404);
    req("PUT", "/devices/identifier/a/token/x", NULL, "", &rs);
    ASSERT_INT_EQ(rs.status, 404);
    /* known path, other method: 405 with Allow */
    req("GET", "/devices/identifier/abc/token", NULL, NULL, &rs);
    ASSERT_INT_EQ(rs.status, 405);
    ASSERT_STR_EQ(hdr(&rs, "Allow", v, sizeof(v)), "PUT, POST");
    ASSERT_STR_CONTAINS(rs.body, "\"error\":\"method_not_allowed\"");
    req("POST", "/exact", NULL, "x", &rs);
    ASSERT_INT_EQ(rs.status, 405);
    ASSERT_STR_EQ(hdr(&rs, "Allow", v, sizeof(v)), "GET");

    /* body limit: at the limit fine, one over refused via Content-Length */
    req("POST", "/small", NULL, "0123456789abcdef", &rs);
    ASSERT_INT_EQ(rs.status, 200);
    ASSERT_STR_CONTAINS(rs.body, "\"len\":16");
    req("POST", "/small", NULL, "0123456789abcdefg", &rs);
    ASSERT_INT_EQ(rs.status, 413);
    ASSERT_STR_CONTAINS(rs.body, "\"error\":\"too_large\"");
    ASSERT_STR_CONTAINS(rs.body, "\"request_id\":\"");

    /* custom headers and status */
    req("GET", "/headers", NULL, NULL, &rs);
    ASSERT_INT_EQ(rs.status, 201);
    ASSERT_STR_EQ(rs.body, "made");
    ASSERT_STR_EQ(hdr(&rs, "X-Custom", v, sizeof(v)), "yes");
    ASSERT_STR_EQ(hdr(&rs, "Cache-Control", v, sizeof(v)), "no-store");
    ASSERT_STR_EQ(hdr(&rs, "Content-Type", v, sizeof(v)), "text/plain");
    hd_http_server_free(s, 1000);
}

static void
test_chunked_upload_over_limit(void)
{
    static const struct hd_http_route routes[] = {
        {"POST", "/small", h_echo, 1000, 0},
    };
    struct hd_http_config cfg = test_config(0);
    struct hd_http_server *s = start(&cfg, routes, 1, tag, NULL);
    CURL *c = curl_easy_init();
    struct resp rs;
    char url[128];

    ASSERT_NOT_NULL(s);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/small", port_of_server);
    req_on(c, "POST", url, NULL, NULL, 900, &rs);
    ASSERT_INT_EQ(rs.status, 200);
    ASSERT_STR_CONTAINS(rs.body, "\"len\":900");
    /* chunked past the limit: the rest is dropped, then 413 */
    req_on(c, "POST", url, NULL, NULL, 300000, &rs);
    ASSERT_INT_EQ(rs.status, 413);
    ASSERT_STR_CONTAINS(rs.body, "\"error\":\"too_large\"");
    /* 20 MB: drained to its end and answered, as a lingering close */
    req_on(c, "POST", url, NULL, NULL, 20u << 20, &rs);
    ASSERT_INT_EQ(rs.status, 413);
    /* a sender that goes on past the drain cap is cut off */
    req_on(c, "POST", url, NULL, NULL, HD_HTTP_DRAIN_MAX + (1u << 20), &rs);
    ASSERT_INT_EQ(rs.status, 0);
    ASSERT_TRUE(rs.rc != CURLE_OK);
    /* and the server is fine */
    req_on(c, "POST", url, NULL, NULL, 10, &rs);
    ASSERT_INT_EQ(rs.status, 200);
    curl_easy_cleanup(c);
    hd_http_server_free(s, 1000);
}

static void
test_request_ids(void)
{
    static const struct hd_http_route routes[] = {
        {"GET", "/id", h_echo, 0, 0},
    };
    struct hd_http_config cfg = test_config(0);
    struct hd_http_server *s = start(&cfg, routes, 1, tag, NULL);
    struct resp rs;
    char v[256];
    char a[256];
    char sixty_five[80];
    size_t i;

    ASSERT_NOT_NULL(s);
    req("GET", "/id", "X-Request-Id: client.id_1-A", NULL, &rs);
    ASSERT_STR_EQ(hdr(&rs, "X-Request-Id", v, sizeof(v)), "client.id_1-A");
    /* generated: 24 hex characters, different each time */
    req("GET", "/id", NULL, NULL, &rs);
    hdr(&rs, "X-Request-Id", a, sizeof(a));
    ASSERT_INT_EQ(strlen(a), 24);
    ASSERT_INT_EQ(strspn(a, "0123456789abcdef"), 24);
    req("GET", "/id", NULL, NULL, &rs);
    ASSERT_TRUE(strcmp(hdr(&rs, "X-Request-Id", v, sizeof(v)), a) != 0);
    /* a bad client id is replaced */
    req("GET", "/id", "X-Request-Id: bad id\"<x>", NULL, &rs);
    ASSERT_INT_EQ(strlen(hdr(&rs, "X-Request-Id", v, sizeof(v))), 24);
    memcpy(sixty_five, "X-Request-Id: ", 14);
    for (i = 0; i < 65; i++)
        sixty_five[14 + i] = 'a';
    sixty_five[14 + 65] = '\0';
    req("GET", "/id", sixty_five, NULL, &rs);
    ASSERT_INT_EQ(strlen(hdr(&rs, "X-Request-Id", v, sizeof(v))), 24);
    sixty_five[14 + 64] = '\0';
    req("GET", "/id", sixty_five, NULL, &rs);
    ASSERT_INT_EQ(strlen(hdr(&rs, "X-Request-Id", v, sizeof(v))), 64);
    hd_http_server_free(s, 1000);
}

static void
h_inline(struct hd_http_req *r, void *ud)
{
    (void)ud;
    hd_http_respond(r, 200, "text/plain", "inline", 6);
}

/* ---- TLS ---- */

static char *
bio_string(BIO *b)
{
    char *data;
    long n = BIO_get_mem_data(b, &data);
    char *out = malloc((size_t)n + 1);

    memcpy(out, data, (size_t)n);
    out[n] = '\0';
    return out;
}

/* A self-signed P-256 certificate for localhost / 127.0.0.1. */
static int
make_cert(char **cert_pem, char **key_pem)
{
    EVP_PKEY *pk = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    X509_NAME *nm;
    X509_EXTENSION *ext;
    BIO *b = BIO_new(BIO_s_mem());
    BIO *k = BIO_new(BIO_s_mem());
    int ok;

    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, pk);
    nm = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC,
                               (const unsigned char *)"localhost", -1, -1, 0);
    X509_set_issuer_name(x, nm);
    ext = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name,
                              "DNS:localhost,IP:127.0.0.1");
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    ok = X509_sign(x, pk, EVP_sha256()) > 0 && PEM_write_bio_X509(b, x) &&
         PEM_write_bio_PrivateKey(k, pk, NULL, NULL, 0, NULL, NULL);
    *cert_pem = bio_string(b);
    *key_pem = bio_string(k);
    BIO_free(b);
    BIO_free(k);
    X509_free(x);
    EVP_PKEY_free(pk);
    return ok ? 0 : -1;
}

static void
test_tls_round_trip(void)
{
    static const struct hd_http_route routes[] = {
        {"GET", "/inline", h_inline, 0, 0},
    };
    struct hd_http_config cfg = test_config(0);
    struct hd_http_tls tls;
    struct hd_err err = {0};
    struct hd_http_server *s;
    struct curl_blob ca;
    struct curl_slist *resolve = NULL;
    char *cert;
    char *key;
    char url[128];
    char pin[64];
    struct resp rs;
    CURL *c;

    ASSERT_INT_EQ(make_cert(&cert, &key), 0);
    tls.cert_pem = cert;
    tls.key_pem = key;
    s = hd_http_server_new(&cfg, 0, &tls, NULL, &err);
    ASSERT_NOT_NULL(s);
    ASSERT_INT_EQ(hd_http_server_add_routes(s, routes, 1, NULL, &err), 0);
    ASSERT_INT_EQ(hd_http_server_start(s, &err), 0);
    snprintf(url, sizeof(url), "https://localhost:%d/inline",
             hd_http_server_port(s));
    snprintf(pin, sizeof(pin), "localhost:%d:127.0.0.1",
             hd_http_server_port(s));
    resolve = curl_slist_append(resolve, pin);
    ca.data = cert;
    ca.len = strlen(cert);
    ca.flags = CURL_BLOB_COPY;
    c = curl_easy_init();
    req_on(c, "GET", url, NULL, NULL, 0, &rs);
    ASSERT_TRUE(rs.rc != CURLE_OK); /* not trusted without the CA */
    memset(&rs, 0, sizeof(rs));
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &rs);
    curl_easy_setopt(c, CURLOPT_RESOLVE, resolve);
    curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &ca);
    rs.rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &rs.status);
    curl_easy_cleanup(c);
    curl_slist_free_all(resolve);
    hd_http_server_free(s, 1000);
    /* bad key material fails at start, with a reason */
    tls.key_pem =
        "-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n";
    s = hd_http_server_new(&cfg, 0, &tls, NULL, &err);
    ASSERT_NOT_NULL(s);
    ASSERT_INT_EQ(hd_http_server_start(s, &err), -1);
    hd_http_server_free(s, 0);
    free(cert);
    free(key);
    ASSERT_INT_EQ(rs.rc, CURLE_OK);
    ASSERT_INT_EQ(rs.status, 200);
    ASSERT_STR_EQ(rs.body, "inline");
    ASSERT_STR_CONTAINS(err.msg, "HTTP server on 127.0.0.1 port");
}

static void
test_port_in_use_fails_with_reason(void)
{
    struct hd_http_config cfg = test_config(0);
    struct hd_err err = {0};
    struct hd_http_server *a = hd_http_server_new(&cfg, 0, NULL, NULL, &err);
    struct hd_http_server *b;

    ASSERT_INT_EQ(hd_http_server_start(a, &err), 0);
    b = hd_http_server_new(&cfg, hd_http_server_port(a), NULL, NULL, &err);
    ASSERT_INT_EQ(hd_http_server_start(b, &err), -1);
    ASSERT_INT_EQ(err.code, HD_EIO);
    ASSERT_STR_CONTAINS(err.msg, "HTTP listen on 127.0.0.1 port");
    hd_http_server_free(b, 0);
    hd_http_server_free(a, 0);
    cfg.bind = (char *)(uintptr_t) "not-an-address";
    a = hd_http_server_new(&cfg, 0, NULL, NULL, &err);
    ASSERT_INT_EQ(hd_http_server_start(a, &err), -1);
    ASSERT_STR_CONTAINS(err.msg, "HERALD_HTTP_BIND");
    hd_http_server_free(a, 0);
}

/* ---- shutdown ---- */

struct parked {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct hd_http_req *r;
};

static void
h_park(struct hd_http_req *r, void *ud)
{
    struct parked *pk = ud;

    pthread_mutex_lock(&pk->mu);
    pk->r = r;
    pthread_cond_broadcast(&pk->cv);
    pthread_mutex_unlock(&pk->mu);
}

static struct hd_http_req *
wait_parked(struct parked *pk)
{
    struct hd_http_req *r;

    pthread_mutex_lock(&pk->mu);
    while (pk->r == NULL)
        pthread_cond_wait(&pk->cv, &pk->mu);
    r = pk->r;
    pk->r = NULL;
    pthread_mutex_unlock(&pk->mu);
    return r;
}

static void *
answer_later(void *p)
{
    struct hd_http_req *r = p;

    usleep(150 * 1000);
    hd_http_respond(r, 200, "text/plain", "late", 4);
    return NULL;
}

static int
can_connect(int port)
{
    struct sockaddr_in a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int rc;

    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    rc = connect(fd, (struct sockaddr *)&a, sizeof(a));
    close(fd);
    return rc == 0;
}

static void
test_quiesce_then_free_waits_for_pending(void)
{
    struct parked pk = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
                        NULL};
    const struct hd_http_route routes[] = {
        {"GET", "/park", h_park, 0, 0},
    };
    struct hd_http_config cfg = test_config(2);
    struct hd_http_server *s = start(&cfg, routes, 1, &pk, NULL);
    static struct one_call oc;
    struct hd_http_req *r;
    pthread_t client_th;
    pthread_t answer_th;
    uint64_t t0;
    char v[64];
    int port = port_of_server;

    ASSERT_NOT_NULL(s);
    memset(&oc, 0, sizeof(oc));
    oc.port = port;
    oc.path = "/park";
    pthread_create(&client_th, NULL, one_call_main, &oc);
    r = wait_parked(&pk);
    hd_http_server_quiesce(s);
    hd_http_server_quiesce(s); /* twice is fine */
    ASSERT_TRUE(!can_connect(port));
    pthread_create(&answer_th, NULL, answer_later, r);
    t0 = hd_now_mono_ms();
    hd_http_server_free(s, 5000);
    ASSERT_TRUE(hd_now_mono_ms() - t0 >= 100);
    ASSERT_TRUE(hd_now_mono_ms() - t0 < 3000);
    pthread_join(answer_th, NULL);
    pthread_join(client_th, NULL);
    ASSERT_INT_EQ(oc.rs.status, 200);
    ASSERT_STR_EQ(oc.rs.body, "late");
    ASSERT_STR_EQ(hdr(&oc.rs, "Connection", v, sizeof(v)), "close");
}

static void
test_free_answers_abandoned_requests_503(void)
{
    struct parked pk = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER,
                        NULL};
    const struct hd_http_route routes[] = {
        {"GET", "/park", h_park, 0, 0},
        {"GET", "/parkb", h_park, 0, 1},
    };
    struct hd_http_config cfg = test_config(2);
    struct hd_http_server *s = start(&cfg, routes, 2, &pk, NULL);
    static struct one_call oc[2];
    struct hd_http_req *r[2];
    pthread_t th[2];
    uint64_t t0;
    char want[256];
    char v[128];
    int i;

    ASSERT_NOT_NULL(s);
    for (i = 0; i < 2; i++) {
        memset(&oc[i], 0, sizeof(oc[i]));
        oc[i].port = port_of_server;
        oc[i].path = i ? "/parkb" : "/park";
        pthread_create(&th[i], NULL, one_call_main, &oc[i]);
        r[i] = wait_parked(&pk);
    }
    t0 = hd_now_mono_ms();
    hd_http_server_free(s, 200);
    ASSERT_TRUE(hd_now_mono_ms() - t0 >= 190);
    for (i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
        ASSERT_INT_EQ(oc[i].rs.status, 503);
        snprintf(want, sizeof(want),
                 "{\"error\":\"shutting_down\",\"message\":\"server is "
                 "shutting down\",\"request_id\":\"%s\"}",
                 hdr(&oc[i].rs, "X-Request-Id", v, sizeof(v)));
        ASSERT_STR_EQ(oc[i].rs.body, want);
        /* a late answer after free is dropped safely (and frees r) */
        hd_http_respond(r[i], 200, "text/plain", "too late", 8);
    }
}

int
main(void)
{
    curl_global_init(CURL_GLOBAL_ALL);
    hd_log_init("test", HD_LOG_WARN);
    RUN_TEST(test_routing_params_and_errors);
    RUN_TEST(test_chunked_upload_over_limit);
    RUN_TEST(test_request_ids);
    RUN_TEST(test_tls_round_trip);
    RUN_TEST(test_port_in_use_fails_with_reason);
    RUN_TEST(test_quiesce_then_free_waits_for_pending);
    RUN_TEST(test_free_answers_abandoned_requests_503);
    curl_global_cleanup();
    return UNIT_DONE();
}
