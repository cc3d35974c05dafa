/* test_usertoken.c -- unit tests for common/auth/usertoken.c: Bitwarden claims,
 * key selection by alg, expiry, issuer and scope checks. */
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "tests/unit/unit.h"
#include "auth/jwt.h"
#include "auth/usertoken.h"

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

int
main(void)
{
    RUN_TEST(test_hs256_claims);
    RUN_TEST(test_rejections);
    RUN_TEST(test_es256_public_key_and_alg_routing);
    RUN_TEST(test_config_errors);
    return UNIT_DONE();
}
