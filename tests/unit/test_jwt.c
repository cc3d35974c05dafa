/* test_jwt.c -- unit tests for common/auth/jwt.c.
 *
 * Keys are generated here and PEM-exported so the loaders see the same
 * formats as production (PKCS#8, traditional, SPKI, X.509). Interop is
 * checked against the RFC 7515 A.1 example and against fixed ES256 and
 * RS256 tokens made by PyJWT 2.6 (python cryptography 38), and ES256
 * signatures are re-verified here through an independent DER path. */
#include <stdlib.h>
#include <unistd.h>

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "tests/unit/unit.h"
#include "core/alloc.h"
#include "core/base64.h"
#include "core/json.h"
#include "auth/jwt.h"
#include "core/limits.h"
#include "tests/unit/jwt_fixture.h"

/* RFC 7515 Appendix A.1: HS256, exp 1300819380, key given as a JWK "k". */
static const char rfc7515_token[] =
    "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9"
    ".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvb"
    "S9pc19yb290Ijp0cnVlfQ"
    ".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
static const char rfc7515_k[] = "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_"
                                "T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";

/* Made once with PyJWT: jwt.encode(claims, key, algorithm=..., headers=
 * {"kid": ...}) with claims {"iss":"pyjwt-issuer","aud":"herald",
 * "sub":"user-1","iat":1700000000,"exp":1700003600}. */
#define PY_NOW 1700000100
static const char py_es256_token[] =
    "eyJhbGciOiJFUzI1NiIsImtpZCI6IkVLRVkxIiwidHlwIjoiSldUIn0"
    ".eyJpc3MiOiJweWp3dC1pc3N1ZXIiLCJhdWQiOiJoZXJhbGQiLCJzdWIiOiJ1c2VyLTEi"
    "LCJpYXQiOjE3MDAwMDAwMDAsImV4cCI6MTcwMDAwMzYwMH0"
    ".oW-4v4m8wahna7l2ht_hIXSEr0eENOl77kd0wPqVPyfhEUZkSbzk_yOpWbwSN11YGgcqP"
    "cRZIWlMmdoJnvaB0g";
static const char py_es256_pub[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEM6/5ghGS+G84YvOYHw1AHR93Xerx\n"
    "0kd6NyjyI4n0Bf1sQ1dbyi+YMac9RqFSS5AM2GA5GHfBxxagfyf60lQrww==\n"
    "-----END PUBLIC KEY-----\n";
static const char py_rs256_token[] =
    "eyJhbGciOiJSUzI1NiIsImtpZCI6IlJLRVkxIiwidHlwIjoiSldUIn0"
    ".eyJpc3MiOiJweWp3dC1pc3N1ZXIiLCJhdWQiOiJoZXJhbGQiLCJzdWIiOiJ1c2VyLTEi"
    "LCJpYXQiOjE3MDAwMDAwMDAsImV4cCI6MTcwMDAwMzYwMH0"
    ".od-bYjqVReNlt7VWGngjXtfNITu80aHnloGfsoCVWl1U_b0sadZy527knYlvbsJh88o5D"
    "NsQae_3es12iVkXv4HCfr4zZOOBobawStVF6ExvddVkjS2uuWaxYAaZ3tHMy_1i6Xvn3fdG"
    "it-o4hFpA0wiEsM-PkJ4osCvOy6Qg0WRpyRSOEy5nq4F9eq9mT05Alt0Egf_jEcxy675Qf8"
    "ZTfPJp5LklREGm20Y0ghgA11Wq1dwQ_iko75RcvRHENLyY-cowd5heC2FrYcGw8gCjnqDUH"
    "TWiQ_d9dqJQx0ExV7HI51F4fxEBbLQEoE7Hf5NJgCt51oTsDP2gApiNIIItw";
static const char py_rs256_pub[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAv5aY6nwSY1DGgdN42h7s\n"
    "Wp+U/atK4xvkZLO9tK/2MTnz/wcrXbIJZyBeMgSoBh7ufUAXE81Zkebpftnj5YeI\n"
    "Qzddzom0AB9vJXfrO3PA5biuLh3z05gWEMMDZ7oCMfY7//YWz5eDBkgWhfRLV3Hy\n"
    "Jhsdi85NJE1DVkVYTi9dYZuWzVyJPsX42DGv+qKXES+Kuq/Ucf48GlZ605Nm7n5z\n"
    "BwpH0Md1KKrDGaWF3qtChmqnYnyOi22l3hLKfP8TqlBeyynE7Kvg2zC/iz1kp6Ik\n"
    "eqD6h8r+tdXKX9mO+Ixm2TeLiJLQVvGBdFPcsEQ3ru84kr3f8RT8qRGvYwh68eYS\n"
    "/wIDAQAB\n"
    "-----END PUBLIC KEY-----\n";
static void
test_hs256_round_trip(void)
{
    struct hd_jwt_key *k = hd_jwt_key_hmac("s3cret", 6, NULL);
    struct hd_jwt_verify_opts o = {1000, 0, 1, "relay", NULL};
    struct hd_err err = {0};
    json_t *h = NULL;
    json_t *c = NULL;
    struct hd_buf tok;
    struct hd_buf seg;

    hd_buf_init(&tok, HD_JWT_MAX_LEN);
    hd_buf_init(&seg, HD_JWT_MAX_LEN);
    ASSERT_NOT_NULL(k);
    ASSERT_INT_EQ(hd_jwt_key_alg(k), HD_JWT_HS256);
    ASSERT_INT_EQ(hd_jwt_key_can_sign(k), 1);
    ASSERT_STR_EQ(hd_jwt_alg_name(hd_jwt_key_alg(k)), "HS256");
    ASSERT_INT_EQ(sign_text(k, NULL,
                            "{\"iss\":\"relay\",\"sub\":\"i1\",\"exp\":2000}",
                            &tok, &err),
                  0);
    ASSERT_INT_EQ(segment(tok.data, 0, &seg), 0);
    ASSERT_STR_EQ(seg.data, "{\"alg\":\"HS256\",\"typ\":\"JWT\"}");
    ASSERT_INT_EQ(segment(tok.data, 2, &seg), 0);
    ASSERT_INT_EQ(seg.len, 32);
    ASSERT_TRUE(memchr(tok.data, '=', tok.len) == NULL);
    ASSERT_INT_EQ(hd_jwt_verify(k, tok.data, tok.len, &o, &h, &c, &err), 0);
    ASSERT_STR_EQ(json_string_value(json_object_get(h, "alg")), "HS256");
    ASSERT_STR_EQ(json_string_value(json_object_get(c, "sub")), "i1");
    json_decref(h);
    json_decref(c);
    /* kid goes into the header */
    ASSERT_INT_EQ(sign_text(k, "k1", "{}", &tok, &err), 0);
    ASSERT_INT_EQ(segment(tok.data, 0, &seg), 0);
    ASSERT_STR_EQ(seg.data,
                  "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"k1\"}");
    hd_jwt_key_free(k);
    hd_jwt_key_free(NULL);
    hd_buf_release(&tok);
    hd_buf_release(&seg);
}

static void
test_rs256_round_trip_and_pem_forms(void)
{
    EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    struct hd_err err = {0};
    struct hd_jwt_key *priv;
    struct hd_jwt_key *trad;
    struct hd_jwt_key *pub;
    struct hd_jwt_verify_opts o = {1000, 0, 1, NULL, "https://oauth2.test"};
    json_t *claims;
    struct hd_buf tok;
    struct hd_buf seg;

    hd_buf_init(&tok, HD_JWT_MAX_LEN);
    hd_buf_init(&seg, HD_JWT_MAX_LEN);
    ASSERT_NOT_NULL(pkey);
    priv = key_from(pkey, PEM_PKCS8, &err);
    trad = key_from(pkey, PEM_TRADITIONAL, &err);
    pub = key_from(pkey, PEM_SPKI, &err);
    ASSERT_NOT_NULL(priv);
    ASSERT_NOT_NULL(trad);
    ASSERT_NOT_NULL(pub);
    ASSERT_INT_EQ(hd_jwt_key_alg(priv), HD_JWT_RS256);
    ASSERT_INT_EQ(hd_jwt_key_alg(pub), HD_JWT_RS256);
    ASSERT_INT_EQ(hd_jwt_key_can_sign(priv), 1);
    ASSERT_INT_EQ(hd_jwt_key_can_sign(trad), 1);
    ASSERT_INT_EQ(hd_jwt_key_can_sign(pub), 0);
    /* the FCM service-account assertion shape */
    ASSERT_INT_EQ(sign_text(priv, "0123abcd",
                            "{\"iss\":\"sa@p.iam.gserviceaccount.com\","
                            "\"scope\":\"https://www.googleapis.com/auth/"
                            "firebase.messaging\",\"aud\":"
                            "\"https://oauth2.test\",\"iat\":990,\"exp\":4590}",
                            &tok, &err),
                  0);
    ASSERT_INT_EQ(segment(tok.data, 0, &seg), 0);
    ASSERT_STR_EQ(seg.data,
                  "{\"alg\":\"RS256\",\"typ\":\"JWT\",\"kid\":\"0123abcd\"}");
    ASSERT_INT_EQ(segment(tok.data, 2, &seg), 0);
    ASSERT_INT_EQ(seg.len, 256);
    ASSERT_INT_EQ(verify(pub, &tok, &o, &err), 0);
    ASSERT_INT_EQ(verify(priv, &tok, &o, &err), 0);
    ASSERT_INT_EQ(verify(trad, &tok, &o, &err), 0);
    /* traditional "RSA PRIVATE KEY" signs too */
    ASSERT_INT_EQ(sign_text(trad, NULL,
                            "{\"aud\":\"https://oauth2.test\","
                            "\"exp\":2000}",
                            &tok, &err),
                  0);
    ASSERT_INT_EQ(verify(pub, &tok, &o, &err), 0);
    /* a public key cannot sign, and out is left alone */
    hd_buf_reset(&tok);
    ASSERT_INT_EQ(hd_buf_puts(&tok, "x", NULL), 0);
    claims = json_object();
    ASSERT_INT_EQ(hd_jwt_sign(pub, NULL, claims, &tok, &err), -1);
    json_decref(claims);
    ASSERT_INT_EQ(err.code, HD_EINVAL);
    ASSERT_STR_CONTAINS(err.msg, "cannot sign");
    ASSERT_STR_EQ(tok.data, "x");
    hd_jwt_key_free(priv);
    hd_jwt_key_free(trad);
    hd_jwt_key_free(pub);
    EVP_PKEY_free(pkey);
    hd_buf_release(&tok);
    hd_buf_release(&seg);
}

/* Verifies a raw R||S signature through DER and EVP directly, without
 * common/auth/jwt.c: an independent check of the JOSE conversion. */
static int
es256_verify_independently(EVP_PKEY *pkey, const char *tok)
{
    const char *dot2 = strrchr(tok, '.');
    unsigned char *der = NULL;
    struct hd_buf raw;
    ECDSA_SIG *sig = ECDSA_SIG_new();
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int n;
    int ok = 0;

    hd_buf_init(&raw, 128);
    if (hd_base64url_decode(dot2 + 1, strlen(dot2 + 1), &raw, NULL) < 0 ||
        raw.len != 64)
        goto out;
    ECDSA_SIG_set0(sig, BN_bin2bn((const unsigned char *)raw.data, 32, NULL),
                   BN_bin2bn((const unsigned char *)raw.data + 32, 32, NULL));
    n = i2d_ECDSA_SIG(sig, &der);
    if (n <= 0)
        goto out;
    ok = EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, pkey) == 1 &&
         EVP_DigestVerify(ctx, der, (size_t)n, (const unsigned char *)tok,
                          (size_t)(dot2 - tok)) == 1;

out:
    OPENSSL_free(der);
    ECDSA_SIG_free(sig);
    EVP_MD_CTX_free(ctx);
    hd_buf_release(&raw);
    return ok;
}

static void
test_es256_round_trip_raw_signature(void)
{
    EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    struct hd_err err = {0};
    struct hd_jwt_key *priv = NULL;
    struct hd_jwt_key *trad = NULL;
    struct hd_jwt_key *pub = NULL;
    struct hd_jwt_verify_opts o = {1437179036, 0, 0, "DEF123GHIJ", NULL};
    char *pem = NULL;
    char *withparams = NULL;
    json_t *h = NULL;
    struct hd_buf tok;
    struct hd_buf seg;
    int i;

    hd_buf_init(&tok, HD_JWT_MAX_LEN);
    hd_buf_init(&seg, HD_JWT_MAX_LEN);
    ASSERT_NOT_NULL(pkey);
    priv = key_from(pkey, PEM_PKCS8, &err);
    pub = key_from(pkey, PEM_SPKI, &err);
    /* "EC PRIVATE KEY" preceded by "EC PARAMETERS", as openssl writes it */
    pem = pem_of(pkey, PEM_TRADITIONAL);
    ASSERT_NOT_NULL(pem);
    ASSERT_STR_CONTAINS(pem, "BEGIN EC PRIVATE KEY");
    withparams = hd_xasprintf("%s%s", ec_params_p256, pem);
    trad = hd_jwt_key_pem(withparams, strlen(withparams), &err);
    ASSERT_NOT_NULL(priv);
    ASSERT_NOT_NULL(pub);
    ASSERT_NOT_NULL(trad);
    ASSERT_INT_EQ(hd_jwt_key_alg(priv), HD_JWT_ES256);
    ASSERT_INT_EQ(hd_jwt_key_alg(pub), HD_JWT_ES256);
    ASSERT_INT_EQ(hd_jwt_key_can_sign(trad), 1);
    ASSERT_INT_EQ(hd_jwt_key_can_sign(pub), 0);
    /* The APNs provider token. Many rounds, so R or S with leading zero
     * bytes (about 1 in 128 signatures) are likely exercised. */
    for (i = 0; i < 300; i++) {
        ASSERT_INT_EQ(sign_text(i % 2 ? priv : trad, "ABC123DEFG",
                                "{\"iss\":\"DEF123GHIJ\",\"iat\":1437179036}",
                                &tok, &err),
                      0);
        ASSERT_INT_EQ(segment(tok.data, 2, &seg), 0);
        ASSERT_INT_EQ(seg.len, 64);
        ASSERT_INT_EQ(verify(pub, &tok, &o, &err), 0);
        ASSERT_TRUE(es256_verify_independently(pkey, tok.data));
    }
    ASSERT_INT_EQ(hd_jwt_verify(pub, tok.data, tok.len, &o, &h, NULL, &err), 0);
    ASSERT_STR_EQ(json_string_value(json_object_get(h, "kid")), "ABC123DEFG");
    ASSERT_STR_EQ(json_string_value(json_object_get(h, "alg")), "ES256");
    json_decref(h);
    hd_jwt_key_free(priv);
    hd_jwt_key_free(trad);
    hd_jwt_key_free(pub);
    free(pem);
    free(withparams);
    EVP_PKEY_free(pkey);
    hd_buf_release(&tok);
    hd_buf_release(&seg);
}

/* Replaces the signature segment of tok with base64url(sig). */
static void
resign(struct hd_buf *tok, const void *sig, size_t len)
{
    tok->len = (size_t)(strrchr(tok->data, '.') - tok->data) + 1;
    tok->data[tok->len] = '\0';
    hd_base64url_encode(sig, len, tok, NULL);
}

static void
test_es256_signature_must_be_raw_64_bytes(void)
{
    EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    struct hd_jwt_key *pub = key_from(pkey, PEM_SPKI, NULL);
    struct hd_err err = {0};
    unsigned char der[80];
    size_t derlen = sizeof(der);
    unsigned char raw[65];
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    ECDSA_SIG *es;
    const unsigned char *p = der;
    struct hd_buf tok;

    hd_buf_init(&tok, HD_JWT_MAX_LEN);
    ASSERT_NOT_NULL(pub);
    hd_base64url_encode("{\"alg\":\"ES256\"}", 15, &tok, NULL);
    hd_buf_putc(&tok, '.', NULL);
    hd_base64url_encode("{}", 2, &tok, NULL);
    ASSERT_INT_EQ(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, pkey), 1);
    ASSERT_INT_EQ(EVP_DigestSign(ctx, der, &derlen,
                                 (const unsigned char *)tok.data, tok.len),
                  1);
    hd_buf_putc(&tok, '.', NULL);
    /* the signature as R || S verifies */
    es = d2i_ECDSA_SIG(NULL, &p, (long)derlen);
    ASSERT_NOT_NULL(es);
    BN_bn2binpad(ECDSA_SIG_get0_r(es), raw, 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(es), raw + 32, 32);
    ECDSA_SIG_free(es);
    resign(&tok, raw, 64);
    ASSERT_INT_EQ(verify(pub, &tok, NULL, &err), 0);
    /* the same signature in DER is refused: JOSE requires R || S */
    resign(&tok, der, derlen);
    ASSERT_INT_EQ(verify(pub, &tok, NULL, &err), -1);
    ASSERT_INT_EQ(err.code, HD_EAUTH);
    ASSERT_STR_CONTAINS(err.msg, "bad signature");
    /* and so is R || S with a byte more or a byte less */
    raw[64] = 0;
    resign(&tok, raw, 65);
    ASSERT_INT_EQ(verify(pub, &tok, NULL, &err), -1);
    ASSERT_STR_CONTAINS(err.msg, "bad signature");
    resign(&tok, raw, 63);
    ASSERT_INT_EQ(verify(pub, &tok, NULL, &err), -1);
    ASSERT_STR_CONTAINS(err.msg, "bad signature");
    hd_jwt_key_free(pub);
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(pkey);
    hd_buf_release(&tok);
}

static void
test_rfc7515_example(void)
{
    struct hd_jwt_verify_opts o = {1300819370, 0, 1, "joe", NULL};
    struct hd_err err = {0};
    struct hd_jwt_key *k;
    struct hd_buf secret;
    json_t *h = NULL;
    json_t *c = NULL;

    hd_buf_init(&secret, 256);
    ASSERT_INT_EQ(
        hd_base64url_decode(rfc7515_k, strlen(rfc7515_k), &secret, NULL), 0);
    ASSERT_INT_EQ(secret.len, 64);
    k = hd_jwt_key_hmac(secret.data, secret.len, NULL);
    ASSERT_INT_EQ(hd_jwt_verify(k, rfc7515_token, strlen(rfc7515_token), &o, &h,
                                &c, &err),
                  0);
    ASSERT_STR_EQ(json_string_value(json_object_get(h, "typ")), "JWT");
    ASSERT_TRUE(json_is_true(json_object_get(c, "http://example.com/is_root")));
    json_decref(h);
    json_decref(c);
    /* by today's clock it expired in 2011 */
    o.now_s = 0;
    ASSERT_INT_EQ(hd_jwt_verify(k, rfc7515_token, strlen(rfc7515_token), &o,
                                NULL, NULL, &err),
                  -1);
    ASSERT_STR_CONTAINS(err.msg, "expired");
    hd_jwt_key_free(k);
    hd_buf_release(&secret);
}

static void
test_pyjwt_tokens_verify(void)
{
    struct hd_jwt_verify_opts o = {PY_NOW, 0, 1, "pyjwt-issuer", "herald"};
    struct hd_err err = {0};
    struct hd_jwt_key *es =
        hd_jwt_key_pem(py_es256_pub, strlen(py_es256_pub), &err);
    struct hd_jwt_key *rs =
        hd_jwt_key_pem(py_rs256_pub, strlen(py_rs256_pub), &err);
    json_t *h = NULL;
    json_t *c = NULL;

    ASSERT_NOT_NULL(es);
    ASSERT_NOT_NULL(rs);
    ASSERT_INT_EQ(hd_jwt_verify(es, py_es256_token, strlen(py_es256_token), &o,
                                &h, &c, &err),
                  0);
    ASSERT_STR_EQ(json_string_value(json_object_get(h, "kid")), "EKEY1");
    ASSERT_STR_EQ(json_string_value(json_object_get(c, "sub")), "user-1");
    json_decref(h);
    json_decref(c);
    ASSERT_INT_EQ(hd_jwt_verify(rs, py_rs256_token, strlen(py_rs256_token), &o,
                                &h, &c, &err),
                  0);
    ASSERT_STR_EQ(json_string_value(json_object_get(h, "kid")), "RKEY1");
    json_decref(h);
    json_decref(c);
    /* and each refuses the other's token */
    ASSERT_INT_EQ(hd_jwt_verify(es, py_rs256_token, strlen(py_rs256_token), &o,
                                NULL, NULL, &err),
                  -1);
    ASSERT_STR_CONTAINS(err.msg, "alg mismatch");
    o.now_s = 1700003600;
    ASSERT_INT_EQ(hd_jwt_verify(es, py_es256_token, strlen(py_es256_token), &o,
                                NULL, NULL, &err),
                  -1);
    ASSERT_STR_CONTAINS(err.msg, "expired");
    hd_jwt_key_free(es);
    hd_jwt_key_free(rs);
}

static void
test_tampering_and_wrong_keys(void)
{
    struct hd_jwt_key *k = hd_jwt_key_hmac("key-one", 7, NULL);
    struct hd_jwt_key *k2 = hd_jwt_key_hmac("key-two", 7, NULL);
    EVP_PKEY *p1 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    EVP_PKEY *p2 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    struct hd_jwt_key *e1 = key_from(p1, PEM_PKCS8, NULL);
    struct hd_jwt_key *e2 = key_from(p2, PEM_SPKI, NULL);
    struct hd_jwt_verify_opts o = {100, 0, 0, NULL, NULL};
    struct hd_err err = {0};
    struct hd_buf tok;
    struct hd_buf other;
    char *sig;

    hd_buf_init(&tok, HD_JWT_MAX_LEN);
    hd_buf_init(&other, HD_JWT_MAX_LEN);
    ASSERT_NOT_NULL(e1);
    ASSERT_NOT_NULL(e2);
    ASSERT_INT_EQ(sign_text(k, NULL, "{\"sub\":\"alice\"}", &tok, NULL), 0);
    ASSERT_INT_EQ(verify(k, &tok, &o, &err), 0);
    /* wrong secret */
    ASSERT_INT_EQ(verify(k2, &tok, &o, &err), -1);
    ASSERT_INT_EQ(err.code, HD_EAUTH);
    ASSERT_STR_EQ(err.msg, "bad signature");
    /* one signature character changed */
    sig = strrchr(tok.data, '.') + 1;
    sig[0] = sig[0] == 'A' ? 'B' : 'A';
    ASSERT_INT_EQ(verify(k, &tok, &o, &err), -1);
    ASSERT_STR_EQ(err.msg, "bad signature");
    /* another token's payload under this one's header and signature */
    ASSERT_INT_EQ(sign_text(k, NULL, "{\"sub\":\"alice\"}", &tok, NULL), 0);
    ASSERT_INT_EQ(sign_text(k, NULL, "{\"sub\":\"mallory\"}", &other, NULL), 0);
    {
        const char *dot1 = strchr(other.data, '.');
        char *mixed =
            hd_xasprintf("%.*s%.*s%s", (int)(strchr(tok.data, '.') - tok.data),
                         tok.data, (int)(strrchr(other.data, '.') - dot1), dot1,
                         strrchr(tok.data, '.'));

        hd_buf_reset(&other);
        hd_buf_puts(&other, mixed, NULL);
        free(mixed);
    }
    ASSERT_INT_EQ(verify(k, &other, &o, &err), -1);
    ASSERT_STR_EQ(err.msg, "bad signature");
    /* ES256: wrong public key */
    ASSERT_INT_EQ(sign_text(e1, NULL, "{\"sub\":\"alice\"}", &tok, NULL), 0);
    ASSERT_INT_EQ(verify(e1, &tok, &o, &err), 0);
    ASSERT_INT_EQ(verify(e2, &tok, &o, &err), -1);
    ASSERT_STR_EQ(err.msg, "bad signature");
    /* truncated signature */
    tok.data[tok.len - 3] = '\0';
    tok.len -= 3;
    ASSERT_INT_EQ(verify(e1, &tok, &o, &err), -1);
    ASSERT_INT_EQ(err.code, HD_EAUTH);
    hd_jwt_key_free(k);
    hd_jwt_key_free(k2);
    hd_jwt_key_free(e1);
    hd_jwt_key_free(e2);
    EVP_PKEY_free(p1);
    EVP_PKEY_free(p2);
    hd_buf_release(&tok);
    hd_buf_release(&other);
}

static void
test_alg_confusion_refused(void)
{
    EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    char *pub_pem = pem_of(pkey, PEM_SPKI);
    struct hd_jwt_key *rsa_pub = NULL;
    struct hd_jwt_key *rsa_priv = key_from(pkey, PEM_PKCS8, NULL);
    struct hd_jwt_key *hm = NULL;
    EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    struct hd_jwt_key *ec_priv = key_from(ec, PEM_PKCS8, NULL);
    struct hd_err err = {0};
    struct hd_buf tok;

    hd_buf_init(&tok, HD_JWT_MAX_LEN);
    ASSERT_NOT_NULL(pub_pem);
    rsa_pub = hd_jwt_key_pem(pub_pem, strlen(pub_pem), NULL);
    /* the classic attack: HS256 keyed with the server's public key PEM */
    hm = hd_jwt_key_hmac(pub_pem, strlen(pub_pem), NULL);
    ASSERT_NOT_NULL(rsa_pub);
    ASSERT_NOT_NULL(hm);
    ASSERT_INT_EQ(sign_text(hm, NULL, "{\"sub\":\"admin\"}", &tok, NULL), 0);
    ASSERT_INT_EQ(verify(rsa_pub, &tok, NULL, &err), -1);
    ASSERT_INT_EQ(err.code, HD_EAUTH);
    ASSERT_STR_CONTAINS(err.msg, "alg mismatch");
    /* and the other way round: an RS256 token offered to an HMAC key */
    ASSERT_INT_EQ(sign_text(rsa_priv, NULL, "{\"sub\":\"x\"}", &tok, NULL), 0);
    ASSERT_INT_EQ(verify(hm, &tok, NULL, &err), -1);
    ASSERT_STR_CONTAINS(err.msg, "alg mismatch");
    /* ES256 token to an RSA key */
    ASSERT_INT_EQ(sign_text(ec_priv, NULL, "{\"sub\":\"x\"}", &tok, NULL), 0);
    ASSERT_INT_EQ(verify(rsa_pub, &tok, NULL, &err), -1);
    ASSERT_STR_CONTAINS(err.msg, "alg mismatch");
    hd_jwt_key_free(rsa_pub);
    hd_jwt_key_free(rsa_priv);
    hd_jwt_key_free(hm);
    hd_jwt_key_free(ec_priv);
    EVP_PKEY_free(pkey);
    EVP_PKEY_free(ec);
    free(pub_pem);
    hd_buf_release(&tok);
}

static void
test_bad_and_refused_keys(void)
{
    static const char *bad[] = {
        "",
        "not a pem at all",
        "-----BEGIN PRIVATE KEY-----\nnot base64!\n-----END PRIVATE KEY-----\n",
        "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZI\n"
        "-----END PUBLIC KEY-----\n",
        "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49\n",
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n"
        "-----END EC PARAMETERS-----\n",
    };
    EVP_PKEY *p384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
    EVP_PKEY *rsa1024 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    EVP_PKEY *p256 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    struct hd_err err = {0};
    size_t i;

    ASSERT_NOT_NULL(p384);
    ASSERT_NOT_NULL(rsa1024);
    ASSERT_NOT_NULL(ed);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err.code = HD_EOK;
        if (hd_jwt_key_pem(bad[i], strlen(bad[i]), &err) != NULL)
            UNIT_FAIL_("accepted PEM %zu", i);
        ASSERT_INT_EQ(err.code, HD_EINVAL);
    }
    ASSERT_NULL(key_from(p384, PEM_PKCS8, &err));
    ASSERT_STR_CONTAINS(err.msg, "P-256");
    ASSERT_NULL(key_from(p384, PEM_SPKI, &err));
    ASSERT_STR_CONTAINS(err.msg, "secp384r1");
    ASSERT_NULL(key_from(rsa1024, PEM_PKCS8, &err));
    ASSERT_STR_CONTAINS(err.msg, "1024 bits");
    ASSERT_NULL(key_from(ed, PEM_PKCS8, &err));
    ASSERT_STR_CONTAINS(err.msg, "unsupported key type");
    /* encrypted keys are refused, never prompted for */
    ASSERT_NULL(key_from(p256, PEM_ENC_PKCS8, &err));
    ASSERT_STR_CONTAINS(err.msg, "encrypted");
    ASSERT_NULL(hd_jwt_key_hmac("", 0, &err));
    ASSERT_INT_EQ(err.code, HD_EINVAL);
    EVP_PKEY_free(p384);
    EVP_PKEY_free(rsa1024);
    EVP_PKEY_free(ed);
    EVP_PKEY_free(p256);
}

static void
test_certificate_verifies(void)
{
    EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    struct hd_jwt_key *priv = key_from(pkey, PEM_PKCS8, NULL);
    struct hd_jwt_key *cert_key = NULL;
    X509 *x = X509_new();
    X509_NAME *name = X509_get_subject_name(x);
    BIO *bio = BIO_new(BIO_s_mem());
    struct hd_err err = {0};
    struct hd_buf tok;
    char *data = NULL;
    char *both;
    long n;

    hd_buf_init(&tok, HD_JWT_MAX_LEN);
    ASSERT_NOT_NULL(priv);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, pkey);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               (const unsigned char *)"herald-test", -1, -1, 0);
    X509_set_issuer_name(x, name);
    ASSERT_INT_NE(X509_sign(x, pkey, EVP_sha256()), 0);
    ASSERT_INT_EQ(PEM_write_bio_X509(bio, x), 1);
    n = BIO_get_mem_data(bio, &data);
    cert_key = hd_jwt_key_pem(data, (size_t)n, &err);
    ASSERT_NOT_NULL(cert_key);
    ASSERT_INT_EQ(hd_jwt_key_alg(cert_key), HD_JWT_ES256);
    ASSERT_INT_EQ(hd_jwt_key_can_sign(cert_key), 0);
    ASSERT_INT_EQ(sign_text(priv, NULL, "{\"sub\":\"s\"}", &tok, NULL), 0);
    ASSERT_INT_EQ(verify(cert_key, &tok, NULL, &err), 0);
    hd_jwt_key_free(cert_key);
    /* certificate and key in one file: the private key wins */
    {
        char *keypem = pem_of(pkey, PEM_PKCS8);

        both = hd_xasprintf("%.*s%s", (int)n, data, keypem);
        free(keypem);
    }
    cert_key = hd_jwt_key_pem(both, strlen(both), &err);
    ASSERT_NOT_NULL(cert_key);
    ASSERT_INT_EQ(hd_jwt_key_can_sign(cert_key), 1);
    free(both);
    hd_jwt_key_free(cert_key);
    hd_jwt_key_free(priv);
    BIO_free(bio);
    X509_free(x);
    EVP_PKEY_free(pkey);
    hd_buf_release(&tok);
}

static void
test_pem_file(void)
{
    EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    char *pem = pem_of(pkey, PEM_PKCS8);
    char path[] = "/tmp/herald-test-jwt-XXXXXX";
    struct hd_jwt_key *k;
    struct hd_err err = {0};
    char *junk;
    FILE *f;
    int fd = mkstemp(path);

    ASSERT_INT_NE(fd, -1);
    f = fdopen(fd, "w");
    ASSERT_NOT_NULL(f);
    fputs(pem, f);
    fclose(f);
    k = hd_jwt_key_pem_file(path, &err);
    ASSERT_NOT_NULL(k);
    ASSERT_INT_EQ(hd_jwt_key_alg(k), HD_JWT_ES256);
    ASSERT_INT_EQ(hd_jwt_key_can_sign(k), 1);
    hd_jwt_key_free(k);
    /* a PEM padded past 64 KiB is refused before parsing */
    f = fopen(path, "w");
    ASSERT_NOT_NULL(f);
    junk = hd_xmalloc(HD_JWT_MAX_PEM);
    memset(junk, '#', HD_JWT_MAX_PEM);
    fwrite(junk, 1, HD_JWT_MAX_PEM, f);
    fputs(pem, f);
    fclose(f);
    free(junk);
    ASSERT_NULL(hd_jwt_key_pem_file(path, &err));
    ASSERT_INT_EQ(err.code, HD_ETOOBIG);
    ASSERT_STR_CONTAINS(err.msg, path);
    unlink(path);
    ASSERT_NULL(hd_jwt_key_pem_file(path, &err));
    ASSERT_INT_EQ(err.code, HD_EIO);
    ASSERT_STR_CONTAINS(err.msg, path);
    free(pem);
    EVP_PKEY_free(pkey);
}

int
main(void)
{
    RUN_TEST(test_hs256_round_trip);
    RUN_TEST(test_rs256_round_trip_and_pem_forms);
    RUN_TEST(test_es256_round_trip_raw_signature);
    RUN_TEST(test_es256_signature_must_be_raw_64_bytes);
    RUN_TEST(test_rfc7515_example);
    RUN_TEST(test_pyjwt_tokens_verify);
    RUN_TEST(test_tampering_and_wrong_keys);
    RUN_TEST(test_alg_confusion_refused);
    RUN_TEST(test_bad_and_refused_keys);
    RUN_TEST(test_certificate_verifies);
    RUN_TEST(test_pem_file);
    return UNIT_DONE();
}
