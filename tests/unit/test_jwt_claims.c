/* test_jwt_claims.c -- unit tests for common/auth/jwt.c: header checks,
 * malformed tokens, size limits, time claims, issuer and audience, peek. */
#include <stdlib.h>

#include <openssl/evp.h>

#include "tests/unit/unit.h"
#include "core/limits.h"
#include "tests/unit/jwt_fixture.h"

static void
test_header_checks(void)
{
    struct hd_jwt_key *k = hd_jwt_key_hmac("k", 1, NULL);
    struct hd_err err = {0};
    struct hd_buf tok;

    hd_buf_init(&tok, HD_JWT_MAX_LEN);
    /* alg none, with and without a signature segment */
    hd_buf_reset(&tok);
    hd_base64url_encode("{\"alg\":\"none\"}", 14, &tok, NULL);
    hd_buf_puts(&tok, ".", NULL);
    hd_base64url_encode("{\"sub\":\"admin\"}", 15, &tok, NULL);
    hd_buf_puts(&tok, ".", NULL);
    ASSERT_INT_EQ(verify(k, &tok, NULL, &err), -1);
    ASSERT_INT_EQ(err.code, HD_EAUTH);
    ASSERT_STR_CONTAINS(err.msg, "alg mismatch");
    ASSERT_STR_CONTAINS(err.msg, "none");
    hand_hs256("k", "{\"alg\":\"none\"}", "{}", &tok);
    ASSERT_INT_EQ(verify(k, &tok, NULL, &err), -1);
    ASSERT_STR_CONTAINS(err.msg, "none");
    /* a correct signature does not rescue a wrong or missing alg */
    hand_hs256("k", "{\"alg\":\"hs256\"}", "{}", &tok);
    ASSERT_INT_EQ(verify(k, &tok, NULL, &err), -1);
    ASSERT_STR_CONTAINS(err.msg, "alg mismatch");
    hand_hs256("k", "{\"typ\":\"JWT\"}", "{}", &tok);
    ASSERT_INT_EQ(verify(k, &tok, NULL, &err), -1);
    ASSERT_STR_CONTAINS(err.msg, "malformed token");
    hand_hs256("k", "{\"alg\":[\"HS256\"]}", "{}", &tok);
    ASSERT_INT_EQ(verify(k, &tok, NULL, &err), -1);
    hand_hs256("k", "{\"alg\":\"HS256\",\"crit\":[\"exp\"],\"exp\":1}", "{}",
               &tok);
    ASSERT_INT_EQ(verify(k, &tok, NULL, &err), -1);
    ASSERT_STR_CONTAINS(err.msg, "crit");
    /* header and claims must be JSON objects */
    hand_hs256("k", "[\"HS256\"]", "{}", &tok);
    ASSERT_INT_EQ(verify(k, &tok, NULL, &err), -1);
    ASSERT_STR_CONTAINS(err.msg, "header is not a JSON object");
    hand_hs256("k", "{\"alg\":\"HS256\"}", "[1]", &tok);
    ASSERT_INT_EQ(verify(k, &tok, NULL, &err), -1);
    ASSERT_STR_CONTAINS(err.msg, "claims is not a JSON object");
    hand_hs256("k", "{\"alg\":\"HS256\"}", "{\"a\":1,\"a\":2}", &tok);
    ASSERT_INT_EQ(verify(k, &tok, NULL, &err), -1);
    ASSERT_STR_CONTAINS(err.msg, "malformed token");
    /* the control: a hand-made token verifies */
    hand_hs256("k", "{\"alg\":\"HS256\"}", "{\"a\":1}", &tok);
    ASSERT_INT_EQ(verify(k, &tok, NULL, &err), 0);
    hd_jwt_key_free(k);
    hd_buf_release(&tok);
}

static void
test_malformed_tokens(void)
{
    static const struct {
        const char *tok;
        int peek_ok; /* peek ignores the signature segment */
    } bad[] = {
        {"", 0},
        {"abc", 0},
        {"eyJhbGciOiJIUzI1NiJ9.e30", 0},
        {"eyJhbGciOiJIUzI1NiJ9.e30.c2ln.more", 0},
        {".e30.c2ln", 0},
        {"eyJhbGciOiJIUzI1NiJ9..c2ln", 0},
        {"eyJhbGciOiJIUzI1NiJ9=.e30.c2ln", 0},
        {"eyJhbGciOiJIUzI1NiJ9.e3+.c2ln", 0},
        {"bm90IGpzb24.e30.c2ln", 0},
        {"eyJhbGciOiJIUzI1NiJ9.e30.c2l*", 1},
        {"eyJhbGciOiJIUzI1NiJ9.e30.", 1},
    };
    struct hd_jwt_key *k = hd_jwt_key_hmac("k", 1, NULL);
    struct hd_err err = {0};
    json_t *h = (json_t *)&err; /* sentinels: must stay untouched */
    json_t *c = (json_t *)&err;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *t = bad[i].tok;

        err.code = HD_EOK;
        if (hd_jwt_verify(k, t, strlen(t), NULL, &h, &c, &err) != -1)
            UNIT_FAIL_("verify accepted \"%s\"", t);
        ASSERT_INT_EQ(err.code, HD_EAUTH);
        ASSERT_TRUE(h == (json_t *)&err && c == (json_t *)&err);
        if ((hd_jwt_peek(t, strlen(t), NULL, NULL, &err) == 0) !=
            bad[i].peek_ok)
            UNIT_FAIL_("peek on \"%s\" should return %d", t,
                       bad[i].peek_ok ? 0 : -1);
    }
    ASSERT_INT_EQ(hd_jwt_verify(k, NULL, 0, NULL, NULL, NULL, &err), -1);
    hd_jwt_key_free(k);
}

static void
test_size_limits(void)
{
    struct hd_jwt_key *k = hd_jwt_key_hmac("k", 1, NULL);
    struct hd_err err = {0};
    struct hd_buf tok;
    struct hd_buf small;
    char *big = hd_xmalloc(HD_JWT_MAX_LEN + 2);
    json_t *claims;

    hd_buf_init(&tok, HD_JWT_MAX_LEN + 1);
    hd_buf_init(&small, 40);
    /* a token over the limit is refused before any parsing */
    memset(big, 'a', HD_JWT_MAX_LEN + 1);
    big[HD_JWT_MAX_LEN + 1] = '\0';
    memcpy(big, "eyJhbGciOiJIUzI1NiJ9.", 21);
    big[HD_JWT_MAX_LEN - 10] = '.';
    ASSERT_INT_EQ(
        hd_jwt_verify(k, big, HD_JWT_MAX_LEN + 1, NULL, NULL, NULL, &err), -1);
    ASSERT_INT_EQ(err.code, HD_EAUTH);
    ASSERT_STR_CONTAINS(err.msg, "too long");
    ASSERT_INT_EQ(hd_jwt_peek(big, HD_JWT_MAX_LEN + 1, NULL, NULL, &err), -1);
    /* claims that would make a token over the limit are refused at sign */
    big[HD_JWT_MAX_LEN - 20] = '\0';
    claims = json_pack("{s:s}", "pad", big + 30);
    ASSERT_INT_EQ(hd_jwt_sign(k, NULL, claims, &tok, &err), -1);
    ASSERT_INT_EQ(err.code, HD_ETOOBIG);
    ASSERT_INT_EQ(tok.len, 0);
    json_decref(claims);
    /* out too small: refused, unchanged */
    ASSERT_INT_EQ(hd_buf_puts(&small, "Bearer ", NULL), 0);
    claims = json_pack("{s:s}", "sub", "someone");
    ASSERT_INT_EQ(hd_jwt_sign(k, NULL, claims, &small, &err), -1);
    ASSERT_INT_EQ(err.code, HD_ETOOBIG);
    ASSERT_STR_EQ(small.data, "Bearer ");
    json_decref(claims);
    /* claims must be an object */
    claims = json_array();
    ASSERT_INT_EQ(hd_jwt_sign(k, NULL, claims, &tok, &err), -1);
    ASSERT_INT_EQ(err.code, HD_EINVAL);
    json_decref(claims);
    free(big);
    hd_jwt_key_free(k);
    hd_buf_release(&tok);
    hd_buf_release(&small);
}

static void
test_time_claims(void)
{
    struct hd_jwt_key *k = hd_jwt_key_hmac("k", 1, NULL);
    struct hd_jwt_verify_opts o = {0, 0, 0, NULL, NULL};
    struct hd_err err = {0};
    struct hd_buf tok;

    hd_buf_init(&tok, HD_JWT_MAX_LEN);
    /* exp: valid strictly before it, leeway extends it */
    ASSERT_INT_EQ(sign_text(k, NULL, "{\"exp\":1000}", &tok, NULL), 0);
    o.now_s = 999;
    ASSERT_INT_EQ(verify(k, &tok, &o, &err), 0);
    o.now_s = 1000;
    ASSERT_INT_EQ(verify(k, &tok, &o, &err), -1);
    ASSERT_INT_EQ(err.code, HD_EAUTH);
    ASSERT_STR_EQ(err.msg, "token expired");
    o.leeway_s = 10;
    o.now_s = 1009;
    ASSERT_INT_EQ(verify(k, &tok, &o, &err), 0);
    o.now_s = 1010;
    ASSERT_INT_EQ(verify(k, &tok, &o, &err), -1);
    ASSERT_STR_EQ(err.msg, "token expired");
    /* a fractional exp is a number too */
    ASSERT_INT_EQ(sign_text(k, NULL, "{\"exp\":1000.5}", &tok, NULL), 0);
    o.leeway_s = 0;
    o.now_s = 1000;
    ASSERT_INT_EQ(verify(k, &tok, &o, &err), 0);
    /* nbf in the future */
    ASSERT_INT_EQ(sign_text(k, NULL, "{\"nbf\":2000}", &tok, NULL), 0);
    o.now_s = 1990;
    ASSERT_INT_EQ(verify(k, &tok, &o, &err), -1);
    ASSERT_STR_CONTAINS(err.msg, "not yet valid");
    o.leeway_s = 10;
    ASSERT_INT_EQ(verify(k, &tok, &o, &err), 0);
    /* iat in the future beyond the leeway */
    ASSERT_INT_EQ(sign_text(k, NULL, "{\"iat\":3000}", &tok, NULL), 0);
    o.now_s = 2989;
    ASSERT_INT_EQ(verify(k, &tok, &o, &err), -1);
    ASSERT_STR_CONTAINS(err.msg, "future");
    o.now_s = 2990;
    ASSERT_INT_EQ(verify(k, &tok, &o, &err), 0);
    /* require_exp */
    o.require_exp = 1;
    ASSERT_INT_EQ(verify(k, &tok, &o, &err), -1);
    ASSERT_STR_CONTAINS(err.msg, "no exp");
    /* non-numeric time claims are malformed */
    ASSERT_INT_EQ(sign_text(k, NULL, "{\"exp\":\"9999999999\"}", &tok, NULL),
                  0);
    ASSERT_INT_EQ(verify(k, &tok, &o, &err), -1);
    ASSERT_STR_CONTAINS(err.msg, "exp is not a number");
    ASSERT_INT_EQ(sign_text(k, NULL, "{\"exp\":5000,\"nbf\":null}", &tok, NULL),
                  0);
    ASSERT_INT_EQ(verify(k, &tok, &o, &err), -1);
    ASSERT_STR_CONTAINS(err.msg, "nbf is not a number");
    /* now_s 0 reads the clock: exp far ahead passes, long past fails */
    o.now_s = 0;
    ASSERT_INT_EQ(sign_text(k, NULL, "{\"exp\":99999999999}", &tok, NULL), 0);
    ASSERT_INT_EQ(verify(k, &tok, &o, &err), 0);
    ASSERT_INT_EQ(sign_text(k, NULL, "{\"exp\":1000000000}", &tok, NULL), 0);
    ASSERT_INT_EQ(verify(k, &tok, &o, &err), -1);
    ASSERT_STR_EQ(err.msg, "token expired");
    hd_jwt_key_free(k);
    hd_buf_release(&tok);
}

static void
test_issuer_and_audience(void)
{
    struct hd_jwt_key *k = hd_jwt_key_hmac("k", 1, NULL);
    struct hd_jwt_verify_opts o = {100, 0, 0, "https://id.example", "api"};
    struct hd_err err = {0};
    struct hd_buf tok;

    hd_buf_init(&tok, HD_JWT_MAX_LEN);
    ASSERT_INT_EQ(sign_text(k, NULL,
                            "{\"iss\":\"https://id.example\",\"aud\":\"api\"}",
                            &tok, NULL),
                  0);
    ASSERT_INT_EQ(verify(k, &tok, &o, &err), 0);
    ASSERT_INT_EQ(sign_text(k, NULL,
                            "{\"iss\":\"https://id.example\","
                            "\"aud\":[\"web\",\"api\"]}",
                            &tok, NULL),
                  0);
    ASSERT_INT_EQ(verify(k, &tok, &o, &err), 0);
    ASSERT_INT_EQ(sign_text(k, NULL,
                            "{\"iss\":\"https://id.example\","
                            "\"aud\":[\"web\",\"apis\",7]}",
                            &tok, NULL),
                  0);
    ASSERT_INT_EQ(verify(k, &tok, &o, &err), -1);
    ASSERT_INT_EQ(err.code, HD_EAUTH);
    ASSERT_STR_EQ(err.msg, "audience mismatch");
    ASSERT_INT_EQ(
        sign_text(k, NULL, "{\"iss\":\"https://id.example\"}", &tok, NULL), 0);
    ASSERT_INT_EQ(verify(k, &tok, &o, &err), -1);
    ASSERT_STR_EQ(err.msg, "audience mismatch");
    ASSERT_INT_EQ(
        sign_text(k, NULL, "{\"iss\":\"https://evil.example\",\"aud\":\"api\"}",
                  &tok, NULL),
        0);
    ASSERT_INT_EQ(verify(k, &tok, &o, &err), -1);
    ASSERT_STR_EQ(err.msg, "issuer mismatch");
    ASSERT_INT_EQ(sign_text(k, NULL, "{\"aud\":\"api\"}", &tok, NULL), 0);
    ASSERT_INT_EQ(verify(k, &tok, &o, &err), -1);
    ASSERT_STR_EQ(err.msg, "issuer mismatch");
    /* neither asked: neither checked */
    o.issuer = NULL;
    o.audience = NULL;
    ASSERT_INT_EQ(verify(k, &tok, &o, &err), 0);
    hd_jwt_key_free(k);
    hd_buf_release(&tok);
}

static void
test_peek(void)
{
    struct hd_jwt_key *k = hd_jwt_key_hmac("k", 1, NULL);
    struct hd_jwt_key *other = hd_jwt_key_hmac("z", 1, NULL);
    struct hd_err err = {0};
    json_t *h = NULL;
    json_t *c = NULL;
    struct hd_buf tok;

    hd_buf_init(&tok, HD_JWT_MAX_LEN);
    ASSERT_INT_EQ(
        sign_text(k, "kid-7", "{\"iss\":\"tenant-a\",\"exp\":1}", &tok, NULL),
        0);
    /* no signature or time check: the token is expired and verify with
     * the wrong key would fail, peek still reads it */
    ASSERT_INT_EQ(verify(other, &tok, NULL, &err), -1);
    ASSERT_INT_EQ(hd_jwt_peek(tok.data, tok.len, &h, &c, &err), 0);
    ASSERT_STR_EQ(json_string_value(json_object_get(h, "kid")), "kid-7");
    ASSERT_STR_EQ(json_string_value(json_object_get(c, "iss")), "tenant-a");
    json_decref(h);
    json_decref(c);
    ASSERT_INT_EQ(hd_jwt_peek(tok.data, tok.len, NULL, &c, &err), 0);
    json_decref(c);
    ASSERT_INT_EQ(hd_jwt_peek("a.b", 3, &h, &c, &err), -1);
    ASSERT_INT_EQ(err.code, HD_EAUTH);
    ASSERT_STR_CONTAINS(err.msg, "malformed token");
    hd_jwt_key_free(k);
    hd_jwt_key_free(other);
    hd_buf_release(&tok);
}

int
main(void)
{
    RUN_TEST(test_header_checks);
    RUN_TEST(test_malformed_tokens);
    RUN_TEST(test_size_limits);
    RUN_TEST(test_time_claims);
    RUN_TEST(test_issuer_and_audience);
    RUN_TEST(test_peek);
    return UNIT_DONE();
}
