/* test_sim_gen.c -- unit tests for `herald-sim gen` (tools/sim/gen.c) and
 * the credential loader (creds.c): the files exist with the right modes,
 * the server certificate verifies against the CA for every SAN, the APNs
 * client certificate (PEM and .p12) chains to the CA and names the topic,
 * a second run keeps every file, and a missing CA renews the server and
 * client certificates. */
#include <stdlib.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "tests/unit/unit.h"
#include "tests/unit/sim_fixture.h"
#include "core/banned.h"

static X509 *
load_cert(const char *dir, const char *name)
{
    char *p = hd_xasprintf("%s/%s", dir, name);
    FILE *f = fopen(p, "r");
    X509 *x = f ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;

    if (f)
        fclose(f);
    free(p);
    return x;
}

/* 1 when the server certificate chains to the CA and matches host. */
static int
verifies(const char *dir, const char *host, int ip)
{
    X509 *ca = load_cert(dir, SIM_FILE_CA);
    X509 *leaf = load_cert(dir, SIM_FILE_CERT);
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    int ok;

    X509_STORE_add_cert(store, ca);
    X509_STORE_CTX_init(ctx, store, leaf, NULL);
    ok = X509_verify_cert(ctx) == 1 &&
         (ip ? X509_check_ip_asc(leaf, host, 0) == 1
             : X509_check_host(leaf, host, 0, 0, NULL) == 1);
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    X509_free(ca);
    X509_free(leaf);
    return ok;
}

/* 1 when the cert chains to the CA found in dir for client auth. */
static int
client_verifies(const char *dir, X509 *leaf)
{
    X509 *ca = load_cert(dir, SIM_FILE_CA);
    X509_STORE *store = X509_STORE_new();
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    int ok;

    X509_STORE_add_cert(store, ca);
    X509_STORE_CTX_init(ctx, store, leaf, NULL);
    X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT);
    ok = X509_verify_cert(ctx) == 1;
    X509_STORE_CTX_free(ctx);
    X509_STORE_free(store);
    X509_free(ca);
    return ok;
}

static char *
slurp(const char *dir, const char *name)
{
    char *p = hd_xasprintf("%s/%s", dir, name);
    char *v = sim_read_text(p, 65536, NULL);

    free(p);
    return v;
}

/* The APNs client certificate: PEM with its key, and the .p12 opened with
 * the password file, both the same certificate, chaining to the CA for
 * client authentication, subject UID = the topic; both 0600. */
static void
check_apns_cert(const char *dir)
{
    char *pw = slurp(dir, SIM_FILE_APNS_P12_PW);
    char *topic = slurp(dir, SIM_FILE_APNS_TOPIC);
    char *pem = slurp(dir, SIM_FILE_APNS_CERT);
    char *env = slurp(dir, SIM_FILE_ENV);
    char *p12path = hd_xasprintf("%s/%s", dir, SIM_FILE_APNS_P12);
    X509 *x = load_cert(dir, SIM_FILE_APNS_CERT);
    X509 *px = NULL;
    EVP_PKEY *pk = NULL;
    PKCS12 *p12 = NULL;
    FILE *fp = fopen(p12path, "rb");
    struct stat st;
    char uid[128];

    ASSERT_NOT_NULL(x);
    ASSERT_TRUE(client_verifies(dir, x));
    ASSERT_INT_EQ(X509_NAME_get_text_by_NID(X509_get_subject_name(x),
                                            NID_userId, uid, sizeof(uid)) > 0,
                  1);
    ASSERT_STR_EQ(uid, topic);
    ASSERT_STR_CONTAINS(pem, "-----BEGIN PRIVATE KEY-----");
    ASSERT_NOT_NULL(fp);
    p12 = d2i_PKCS12_fp(fp, NULL);
    fclose(fp);
    ASSERT_NOT_NULL(p12);
    ASSERT_INT_EQ(PKCS12_parse(p12, "wrong", &pk, &px, NULL), 0);
    ASSERT_INT_EQ(PKCS12_parse(p12, pw, &pk, &px, NULL), 1);
    ASSERT_INT_EQ(X509_cmp(x, px), 0);
    ASSERT_INT_EQ(X509_check_private_key(px, pk), 1);
    ASSERT_INT_EQ(stat(p12path, &st), 0);
    ASSERT_INT_EQ(st.st_mode & 0777, 0600);
    ASSERT_STR_CONTAINS(env, "HERALD_SIM_APNS_CERT_FILE=");
    ASSERT_STR_CONTAINS(env, "HERALD_SIM_APNS_CERT_P12_FILE=");
    ASSERT_STR_CONTAINS(env, pw);
    ERR_clear_error();
    EVP_PKEY_free(pk);
    X509_free(px);
    X509_free(x);
    PKCS12_free(p12);
    free(p12path);
    free(env);
    free(pem);
    free(topic);
    free(pw);
}

static void
test_files_and_sans(void)
{
    static const char *const hosts[] = {
        "localhost",
        "fcm.googleapis.com",
        "oauth2.googleapis.com",
        "api.push.apple.com",
        "api.sandbox.push.apple.com",
        "oauth-login.cloud.huawei.com",
        "push-api.cloud.huawei.com",
    };
    struct fx f;
    struct stat st;
    char *p;
    char *env;
    size_t i;

    ASSERT_INT_EQ(fx_prepare(&f), 0);
    for (i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++)
        ASSERT_TRUE(verifies(f.dir, hosts[i], 0));
    ASSERT_TRUE(verifies(f.dir, "127.0.0.1", 1));
    ASSERT_TRUE(!verifies(f.dir, "example.com", 0));
    p = hd_xasprintf("%s/%s", f.dir, SIM_FILE_APNS_P8);
    ASSERT_INT_EQ(stat(p, &st), 0);
    ASSERT_INT_EQ(st.st_mode & 0777, 0600);
    free(p);
    env = slurp(f.dir, SIM_FILE_ENV);
    ASSERT_STR_CONTAINS(env, "HERALD_SIM_CA_FILE=");
    ASSERT_STR_CONTAINS(env, "HERALD_SIM_APNS_KEY_ID=");
    ASSERT_STR_CONTAINS(env, "HERALD_SIM_FCM_SERVICE_ACCOUNT_FILE=");
    ASSERT_STR_CONTAINS(env, "HERALD_SIM_HMS_CLIENT_SECRET=");
    free(env);
    p = slurp(f.dir, SIM_FILE_APNS_P8);
    ASSERT_STR_CONTAINS(p, "-----BEGIN PRIVATE KEY-----");
    free(p);
    p = slurp(f.dir, SIM_FILE_FCM_SA);
    ASSERT_STR_CONTAINS(p, "\"token_uri\": \"https://oauth2.googleapis.com/"
                           "token\"");
    free(p);
    check_apns_cert(f.dir);
    fx_rmdir(f.dir);
}

static void
test_idempotent(void)
{
    static const char *const files[] = {
        SIM_FILE_CA,       SIM_FILE_CERT,      SIM_FILE_APNS_P8,
        SIM_FILE_APNS_KID, SIM_FILE_FCM_SA,    SIM_FILE_HMS,
        SIM_FILE_ENV,      SIM_FILE_APNS_CERT, SIM_FILE_APNS_P12_PW,
    };
    char *before[sizeof(files) / sizeof(files[0])];
    struct hd_err err = {0};
    struct fx f;
    char *path;
    char *cert;
    size_t i;

    ASSERT_INT_EQ(fx_prepare(&f), 0);
    for (i = 0; i < sizeof(files) / sizeof(files[0]); i++)
        before[i] = slurp(f.dir, files[i]);
    ASSERT_INT_EQ(sim_gen(f.dir, &err), 0);
    for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        char *now = slurp(f.dir, files[i]);

        ASSERT_STR_EQ(now, before[i]);
        free(now);
    }
    /* without the CA, both the CA and the server certificate are new */
    path = hd_xasprintf("%s/%s", f.dir, SIM_FILE_CA);
    unlink(path);
    free(path);
    ASSERT_INT_EQ(sim_gen(f.dir, &err), 0);
    cert = slurp(f.dir, SIM_FILE_CERT);
    ASSERT_TRUE(strcmp(cert, before[1]) != 0);
    ASSERT_TRUE(verifies(f.dir, "api.push.apple.com", 0));
    free(cert);
    cert = slurp(f.dir, SIM_FILE_APNS_CERT);
    ASSERT_TRUE(strcmp(cert, before[7]) != 0);
    free(cert);
    check_apns_cert(f.dir);
    for (i = 0; i < sizeof(files) / sizeof(files[0]); i++)
        free(before[i]);
    fx_rmdir(f.dir);
}

static void
test_load_errors(void)
{
    struct hd_err err = {0};
    struct sim_creds *c;
    struct fx f;

    c = sim_creds_load("/nonexistent-dir", NULL, NULL, NULL, &err);
    ASSERT_NULL(c);
    ASSERT_STR_CONTAINS(err.msg, "/nonexistent-dir/apns-key-id");
    ASSERT_INT_EQ(fx_prepare(&f), 0);
    c = sim_creds_load(f.dir, "ONLYTWO:FIELDS", NULL, NULL, &err);
    ASSERT_NULL(c);
    ASSERT_STR_CONTAINS(err.msg, "KEYID:TEAMID:PATH");
    c = sim_creds_load(f.dir, NULL, NULL, "123:secret,456:other", &err);
    ASSERT_NOT_NULL(c);
    ASSERT_INT_EQ(c->nhms, 3);
    ASSERT_NOT_NULL(sim_creds_hms(c, "456"));
    ASSERT_INT_EQ(c->napns, 1);
    sim_creds_free(c);
    fx_rmdir(f.dir);
}

int
main(void)
{
    RUN_TEST(test_files_and_sans);
    RUN_TEST(test_idempotent);
    RUN_TEST(test_load_errors);
    return UNIT_DONE();
}
