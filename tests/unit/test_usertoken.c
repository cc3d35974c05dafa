/* test_usertoken.c -- unit tests for common/auth/usertoken.c: Bitwarden claims,
 * key selection by alg, expiry, issuer and scope checks. */
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "tests/unit/unit.h"
#include "auth/jwt.h"
#include "auth/usertoken.h"
#include "core/base64.h"

#define SECRET "0123456789abcdef0123456789abcdef"

static char *
sign_hs(json_t *claims)
{
    struct hd_jwt_key *k = hd_jwt_key_hmac(SECRET, strlen(SECRET), NULL);
    struct hd_buf b;
    char *out;

    hd_buf_init(&b, 16384);
    hd_jwt_sign(k, NULL, claims, &b, NULL);
    out = hd_buf_detach(&b, NULL);
    hd_jwt_key_free(k);
    json_decref(claims);
    return out;
}

static json_t *
base_claims(void)
{
    return json_pack("{s:s,s:s,s:s,s:I,s:[s,s]}", "sub", "user-1", "device",
                     "dev-ident-1", "devicetype", "MacOsDesktop", "exp",
                     (json_int_t)time(NULL) + 3600, "scope", "api",
                     "offline_access");
}

static void
test_hs256_claims(void)
{
    struct hd_usertoken_config cfg = {0};
    struct hd_usertoken *v;
    struct hd_user u;
    struct hd_err err = {0};
    json_t *c = base_claims();
    char *tok;

    json_object_set_new(c, "orgowner", json_string("org-a"));
    json_object_set_new(c, "orguser", json_pack("[s,s]", "org-b", "org-a"));
    tok = sign_hs(c);
    cfg.secret = (char[]){SECRET};
    cfg.scope = (char[]){"api"};
    cfg.leeway_s = 5;
    v = hd_usertoken_new(&cfg, &err);
    ASSERT_NOT_NULL(v);
    ASSERT_INT_EQ(hd_usertoken_verify(v, tok, strlen(tok), &u, &err), 0);
    ASSERT_STR_EQ(u.sub, "user-1");
    ASSERT_STR_EQ(u.device, "dev-ident-1");
    ASSERT_INT_EQ(u.device_type, 7);
    ASSERT_INT_EQ(u.client_type, 3);
    ASSERT_INT_EQ(u.norgs, 2); /* org-a once */
    ASSERT_STR_EQ(u.orgs[0], "org-a");
    ASSERT_STR_EQ(u.orgs[1], "org-b");
    hd_user_release(&u);
    ASSERT_NULL(u.orgs);
    hd_usertoken_free(v);
    free(tok);
}

static void
test_rejections(void)
{
    struct hd_usertoken_config cfg = {0};
    struct hd_usertoken *v;
    struct hd_user u;
    struct hd_err err = {0};
    json_t *c;
    char *tok;

    cfg.secret = (char[]){SECRET};
    cfg.scope = (char[]){"api"};
    cfg.issuer = (char[]){"https://identity"};
    v = hd_usertoken_new(&cfg, &err);

    /* no iss claim while an issuer is required */
    tok = sign_hs(base_claims());
    ASSERT_INT_EQ(hd_usertoken_verify(v, tok, strlen(tok), &u, &err), -1);
    ASSERT_INT_EQ(err.code, HD_EAUTH);
    free(tok);

    /* expired */
    c = base_claims();
    json_object_set_new(c, "iss", json_string("https://identity"));
    json_object_set_new(c, "exp", json_integer((json_int_t)time(NULL) - 600));
    tok = sign_hs(c);
    ASSERT_INT_EQ(hd_usertoken_verify(v, tok, strlen(tok), &u, &err), -1);
    ASSERT_STR_CONTAINS(err.msg, "expired");
    free(tok);

    /* scope missing */
    c = base_claims();
    json_object_set_new(c, "iss", json_string("https://identity"));
    json_object_set_new(c, "scope", json_string("profile"));
    tok = sign_hs(c);
    ASSERT_INT_EQ(hd_usertoken_verify(v, tok, strlen(tok), &u, &err), -1);
    ASSERT_STR_CONTAINS(err.msg, "scope");
    free(tok);

    /* no sub */
    c = base_claims();
    json_object_set_new(c, "iss", json_string("https://identity"));
    json_object_del(c, "sub");
    tok = sign_hs(c);
    ASSERT_INT_EQ(hd_usertoken_verify(v, tok, strlen(tok), &u, &err), -1);
    ASSERT_STR_CONTAINS(err.msg, "sub");
    free(tok);

    /* tampered */
    c = base_claims();
    json_object_set_new(c, "iss", json_string("https://identity"));
    tok = sign_hs(c);
    tok[strlen(tok) - 2] ^= 1;
    ASSERT_INT_EQ(hd_usertoken_verify(v, tok, strlen(tok), &u, &err), -1);
    free(tok);

    ASSERT_INT_EQ(hd_usertoken_verify(v, "garbage", 7, &u, &err), -1);
    hd_usertoken_free(v);
}

static void
test_es256_public_key_and_alg_routing(void)
{
    char path[] = "/tmp/herald-ut-XXXXXX";
    struct hd_usertoken_config cfg = {0};
    struct hd_usertoken *v;
    struct hd_jwt_key *priv;
    struct hd_user u;
    struct hd_err err = {0};
    EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    struct hd_buf b;
    char *pem = NULL;
    size_t pemlen = 0;
    FILE *f;
    json_t *c;
    int fd;

    /* private key to sign, public key file to verify */
    f = open_memstream(&pem, &pemlen);
    PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL);
    fclose(f);
    priv = hd_jwt_key_pem(pem, pemlen, &err);
    ASSERT_NOT_NULL(priv);
    free(pem);
    fd = mkstemp(path);
    f = fdopen(fd, "w");
    PEM_write_PUBKEY(f, pkey);
    fclose(f);
    EVP_PKEY_free(pkey);

    cfg.public_key_file = path;
    v = hd_usertoken_new(&cfg, &err);
    ASSERT_NOT_NULL(v);
    c = base_claims();
    hd_buf_init(&b, 16384);
    ASSERT_INT_EQ(hd_jwt_sign(priv, NULL, c, &b, &err), 0);
    json_decref(c);
    ASSERT_INT_EQ(hd_usertoken_verify(v, b.data, b.len, &u, &err), 0);
    ASSERT_STR_EQ(u.sub, "user-1");
    hd_user_release(&u);
    hd_buf_release(&b);

    /* an HS256 token when only a public key is configured: no key */
    c = base_claims();
    {
        char *tok = sign_hs(c);

        ASSERT_INT_EQ(hd_usertoken_verify(v, tok, strlen(tok), &u, &err), -1);
        ASSERT_STR_CONTAINS(err.msg, "no key for alg HS256");
        free(tok);
    }
    hd_usertoken_free(v);
    hd_jwt_key_free(priv);
    unlink(path);
}

static void
test_config_errors(void)
{
    struct hd_usertoken_config cfg = {0};
    struct hd_err err = {0};

    ASSERT_NULL(hd_usertoken_new(&cfg, &err));
    ASSERT_STR_CONTAINS(err.msg, "HERALD_JWT_SECRET");
    cfg.public_key_file = (char[]){"/nonexistent/key.pem"};
    ASSERT_NULL(hd_usertoken_new(&cfg, &err));
    ASSERT_STR_CONTAINS(err.msg, "HERALD_JWT_PUBLIC_KEY_FILE");
}

/* A new RSA key: the signing key (new) and its JWK {"kty","kid","n","e"}
 * appended to keys. */
static struct hd_jwt_key *
rsa_jwk(const char *kid, json_t *keys)
{
    EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    BIGNUM *n = NULL, *e = NULL;
    unsigned char bin[512];
    struct hd_jwt_key *priv;
    struct hd_buf nb, eb;
    char *pem = NULL;
    size_t pemlen = 0;
    FILE *f;
    int len;

    f = open_memstream(&pem, &pemlen);
    PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL);
    fclose(f);
    priv = hd_jwt_key_pem(pem, pemlen, NULL);
    free(pem);
    EVP_PKEY_get_bn_param(pkey, "n", &n);
    EVP_PKEY_get_bn_param(pkey, "e", &e);
    hd_buf_init(&nb, 4096);
    hd_buf_init(&eb, 64);
    len = BN_bn2bin(n, bin);
    hd_base64url_encode(bin, (size_t)len, &nb, NULL);
    len = BN_bn2bin(e, bin);
    hd_base64url_encode(bin, (size_t)len, &eb, NULL);
    json_array_append_new(keys,
                          json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "kty", "RSA",
                                    "use", "sig", "kid", kid, "alg", "RS256",
                                    "n", nb.data, "e", eb.data));
    hd_buf_release(&nb);
    hd_buf_release(&eb);
    BN_free(n);
    BN_free(e);
    EVP_PKEY_free(pkey);
    return priv;
}

static void
write_jwks(const char *path, json_t *keys)
{
    json_t *doc = json_pack("{s:O}", "keys", keys);

    json_dump_file(doc, path, 0);
    json_decref(doc);
}

static char *
sign_rs(const struct hd_jwt_key *k, const char *kid, json_t *claims)
{
    struct hd_buf b;
    char *out;

    hd_buf_init(&b, 16384);
    hd_jwt_sign(k, kid, claims, &b, NULL);
    out = hd_buf_detach(&b, NULL);
    json_decref(claims);
    return out;
}

static void
test_jwks_rotation_and_service_tokens(void)
{
    char path[] = "/tmp/herald-jwks-XXXXXX";
    struct hd_usertoken_config cfg = {0};
    struct hd_usertoken *v, *svc;
    struct hd_jwt_key *k1, *k2;
    json_t *keys = json_array();
    struct hd_err err = {0};
    struct hd_user u;
    char *tok;
    int i, rc;

    close(mkstemp(path));
    k1 = rsa_jwk("k1", keys);
    json_array_append_new(keys, json_pack("{s:s,s:s}", "kty", "oct", "k",
                                          "c2VjcmV0")); /* skipped */
    write_jwks(path, keys);
    cfg.jwks_url = path;
    cfg.scope = (char[]){"api"};
    cfg.jwks_refresh_s = 3600;
    cfg.jwks_min_refresh_s = 1;
    v = hd_usertoken_new(&cfg, &err);
    ASSERT_NOT_NULL(v);
    tok = sign_rs(k1, "k1", base_claims());
    ASSERT_INT_EQ(hd_usertoken_verify(v, tok, strlen(tok), &u, &err), 0);
    hd_user_release(&u);
    free(tok);

    /* a rotation: k2 is unknown until the set is fetched again */
    k2 = rsa_jwk("k2", keys);
    write_jwks(path, keys);
    tok = sign_rs(k2, "k2", base_claims());
    rc = hd_usertoken_verify(v, tok, strlen(tok), &u, &err);
    ASSERT_INT_EQ(rc, -1);
    ASSERT_STR_CONTAINS(err.msg, "kid k2");
    for (i = 0; i < 60 && rc < 0; i++) { /* refetched within ~1 s */
        usleep(100 * 1000);
        rc = hd_usertoken_verify(v, tok, strlen(tok), &u, &err);
    }
    ASSERT_INT_EQ(rc, 0);
    hd_user_release(&u);
    free(tok);

    /* a user token without scope api is refused */
    tok = sign_rs(k1, "k1",
                  json_pack("{s:s,s:I,s:s}", "sub", "u", "exp",
                            (json_int_t)time(NULL) + 60, "scope", "api.push"));
    ASSERT_INT_EQ(hd_usertoken_verify(v, tok, strlen(tok), &u, &err), -1);
    ASSERT_STR_CONTAINS(err.msg, "scope api missing");
    free(tok);

    /* service tokens: scope internal, issuer checked, no sub needed */
    svc = hd_usertoken_service(v, "internal", "http://identity", &err);
    ASSERT_NOT_NULL(svc);
    tok = sign_rs(k2, "k2",
                  json_pack("{s:s,s:s,s:I,s:[s]}", "iss", "http://identity",
                            "client_id", "internal.Api", "exp",
                            (json_int_t)time(NULL) + 60, "scope", "internal"));
    ASSERT_INT_EQ(hd_usertoken_check(svc, tok, strlen(tok), &err), 0);
    ASSERT_INT_EQ(hd_usertoken_check(v, tok, strlen(tok), &err), -1);
    free(tok);
    tok = sign_rs(k2, "k2",
                  json_pack("{s:s,s:I,s:[s]}", "iss", "http://elsewhere", "exp",
                            (json_int_t)time(NULL) + 60, "scope", "internal"));
    ASSERT_INT_EQ(hd_usertoken_check(svc, tok, strlen(tok), &err), -1);
    free(tok);
    tok = sign_rs(k2, "k2",
                  json_pack("{s:s,s:I,s:[s]}", "iss", "http://identity", "exp",
                            (json_int_t)time(NULL) - 600, "scope", "internal"));
    ASSERT_INT_EQ(hd_usertoken_check(svc, tok, strlen(tok), &err), -1);
    free(tok);
    hd_usertoken_free(svc);
    hd_usertoken_free(v);
    hd_jwt_key_free(k1);
    hd_jwt_key_free(k2);
    json_decref(keys);
    unlink(path);

    /* a JWKS that cannot be read fails at start-up */
    cfg.jwks_url = (char[]){"/nonexistent/jwks.json"};
    ASSERT_NULL(hd_usertoken_new(&cfg, &err));
    ASSERT_STR_CONTAINS(err.msg, "HERALD_JWT_JWKS_URL");
}

/* A configured HS256 secret shorter than 32 bytes is refused, naming the
 * variable; 32 bytes are enough. */
static void
test_short_secret_refused(void)
{
    struct hd_usertoken_config cfg = {0};
    struct hd_usertoken *v;
    struct hd_err err = {0};

    cfg.secret = (char[]){"0123456789abcdef0123456789abcde"}; /* 31 */
    ASSERT_NULL(hd_usertoken_new(&cfg, &err));
    ASSERT_STR_CONTAINS(err.msg, "HERALD_JWT_SECRET");
    ASSERT_STR_CONTAINS(err.msg, "32 bytes");
    cfg.secret = (char[]){SECRET};
    v = hd_usertoken_new(&cfg, &err);
    ASSERT_NOT_NULL(v);
    hd_usertoken_free(v);
}

/* A relay access token signed with the same secret (aud herald-relay,
 * alone or in an array) is not a user token. */
static void
test_relay_audience_refused(void)
{
    struct hd_usertoken_config cfg = {0};
    struct hd_usertoken *v;
    struct hd_user u;
    struct hd_err err = {0};
    json_t *c = base_claims();
    char *tok;

    cfg.secret = (char[]){SECRET};
    v = hd_usertoken_new(&cfg, &err);
    ASSERT_NOT_NULL(v);
    json_object_set_new(c, "aud", json_string(HD_JWT_AUD_RELAY));
    tok = sign_hs(c);
    ASSERT_INT_EQ(hd_usertoken_verify(v, tok, strlen(tok), &u, &err), -1);
    ASSERT_STR_CONTAINS(err.msg, "relay token");
    free(tok);
    c = base_claims();
    json_object_set_new(c, "aud", json_pack("[s,s]", "api", HD_JWT_AUD_RELAY));
    tok = sign_hs(c);
    ASSERT_INT_EQ(hd_usertoken_verify(v, tok, strlen(tok), &u, &err), -1);
    free(tok);
    c = base_claims();
    json_object_set_new(c, "aud", json_string("api"));
    tok = sign_hs(c);
    ASSERT_INT_EQ(hd_usertoken_verify(v, tok, strlen(tok), &u, &err), 0);
    hd_user_release(&u);
    free(tok);
    hd_usertoken_free(v);
}

int
main(void)
{
    RUN_TEST(test_short_secret_refused);
    RUN_TEST(test_relay_audience_refused);
    RUN_TEST(test_hs256_claims);
    RUN_TEST(test_rejections);
    RUN_TEST(test_es256_public_key_and_alg_routing);
    RUN_TEST(test_config_errors);
    RUN_TEST(test_jwks_rotation_and_service_tokens);
    return UNIT_DONE();
}
