/* gen.c -- test CA, server certificate and provider credentials with
 * OpenSSL 3.
 *
 * Keys are written as PKCS#8 PEM (what Apple's .p8 and Google's
 * service-account JSON hold) with mode 0600, each file through a
 * temporary name and rename(2) so a crash never leaves half a key. IDs
 * look like the real ones: 10-character APNs key and team ids, a
 * numeric HMS app id, a 40-hex private_key_id. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/rand.h"
#include "tools/sim/creds.h"
#include "tools/sim/gen.h"
#include "core/banned.h"

#define CA_DAYS 3650
#define CERT_DAYS 825

enum cert_kind { CERT_SERVER = 0, CERT_CA, CERT_CLIENT };

static int
exists(const char *dir, const char *name)
{
    char *p = hd_xasprintf("%s/%s", dir, name);
    int rc = access(p, F_OK) == 0;

    free(p);
    return rc;
}

static int
write_file(const char *dir, const char *name, const void *data, size_t len,
           mode_t mode, struct hd_err *err)
{
    char *path = hd_xasprintf("%s/%s", dir, name);
    char *tmp = hd_xasprintf("%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    const char *p = data;
    int rc = -1;

    if (fd < 0) {
        hd_err_set(err, HD_EIO, "%s: %s", tmp, strerror(errno));
        goto out;
    }
    while (len > 0) {
        ssize_t n = write(fd, p, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            hd_err_set(err, HD_EIO, "%s: %s", tmp, strerror(errno));
            close(fd);
            unlink(tmp);
            goto out;
        }
        p += n;
        len -= (size_t)n;
    }
    if (fsync(fd) < 0 || close(fd) < 0 || rename(tmp, path) < 0) {
        hd_err_set(err, HD_EIO, "%s: %s", path, strerror(errno));
        unlink(tmp);
        goto out;
    }
    rc = 0;
out:
    free(tmp);
    free(path);
    return rc;
}

/* Writes what a memory BIO holds. */
static int
write_bio(const char *dir, const char *name, BIO *b, mode_t mode,
          struct hd_err *err)
{
    char *data = NULL;
    long len = BIO_get_mem_data(b, &data);

    if (len <= 0)
        return hd_err_set(err, HD_EIO, "%s: nothing to write", name);
    return write_file(dir, name, data, (size_t)len, mode, err);
}

static int
write_key(const char *dir, const char *name, EVP_PKEY *k, struct hd_err *err)
{
    BIO *b = BIO_new(BIO_s_mem());
    int rc = -1;

    if (b != NULL &&
        PEM_write_bio_PKCS8PrivateKey(b, k, NULL, NULL, 0, NULL, NULL) == 1)
        rc = write_bio(dir, name, b, 0600, err);
    else
        hd_err_set(err, HD_EIO, "%s: cannot encode key", name);
    BIO_free(b);
    return rc;
}

static int
write_cert(const char *dir, const char *name, X509 *x, struct hd_err *err)
{
    BIO *b = BIO_new(BIO_s_mem());
    int rc = -1;

    if (b != NULL && PEM_write_bio_X509(b, x) == 1)
        rc = write_bio(dir, name, b, 0644, err);
    else
        hd_err_set(err, HD_EIO, "%s: cannot encode certificate", name);
    BIO_free(b);
    return rc;
}

static int
add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509_EXTENSION *e;
    int rc;

    X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
    e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (e == NULL)
        return -1;
    rc = X509_add_ext(x, e, -1) == 1 ? 0 : -1;
    X509_EXTENSION_free(e);
    return rc;
}

/* new: a certificate of kind for key, issued by issuer/ikey (self-signed
 * when issuer is NULL); uid, when not NULL, goes into the subject as UID
 * (what Apple puts the bundle id of a push certificate in). */
static X509 *
make_cert(EVP_PKEY *key, const char *cn, const char *uid, X509 *issuer,
          EVP_PKEY *ikey, enum cert_kind kind, long days)
{
    X509 *x = X509_new();
    X509_NAME *name = X509_NAME_new();
    uint64_t serial;
    int ok;

    hd_random_bytes(&serial, sizeof(serial));
    serial >>= 1; /* positive */
    ok =
        x != NULL && name != NULL && X509_set_version(x, 2) == 1 &&
        ASN1_INTEGER_set_uint64(X509_get_serialNumber(x), serial) == 1 &&
        X509_gmtime_adj(X509_getm_notBefore(x), -3600) != NULL &&
        X509_gmtime_adj(X509_getm_notAfter(x), days * 86400L) != NULL &&
        X509_set_pubkey(x, key) == 1 &&
        X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                                   (const unsigned char *)"Herald", -1, -1,
                                   0) == 1 &&
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                   (const unsigned char *)cn, -1, -1, 0) == 1 &&
        (uid == NULL || X509_NAME_add_entry_by_txt(name, "UID", MBSTRING_UTF8,
                                                   (const unsigned char *)uid,
                                                   -1, -1, 0) == 1) &&
        X509_set_subject_name(x, name) == 1 &&
        X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer)
                                       : name) == 1;
    if (ok && kind == CERT_CA)
        ok =
            add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE") == 0 &&
            add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign") == 0 &&
            add_ext(x, x, NID_subject_key_identifier, "hash") == 0 &&
            add_ext(x, x, NID_authority_key_identifier, "keyid:always") == 0;
    else if (ok && kind == CERT_CLIENT)
        ok = add_ext(x, issuer, NID_basic_constraints, "critical,CA:FALSE") ==
                 0 &&
             add_ext(x, issuer, NID_key_usage, "critical,digitalSignature") ==
                 0 &&
             add_ext(x, issuer, NID_ext_key_usage, "clientAuth") == 0 &&
             add_ext(x, issuer, NID_subject_key_identifier, "hash") == 0 &&
             add_ext(x, issuer, NID_authority_key_identifier, "keyid:always") ==
                 0;
    else if (ok)
        ok = add_ext(x, issuer, NID_basic_constraints, "critical,CA:FALSE") ==
                 0 &&
             add_ext(x, issuer, NID_key_usage,
                     "critical,digitalSignature,keyEncipherment") == 0 &&
             add_ext(x, issuer, NID_ext_key_usage, "serverAuth") == 0 &&
             add_ext(x, issuer, NID_subject_key_identifier, "hash") == 0 &&
             add_ext(x, issuer, NID_authority_key_identifier, "keyid:always") ==
                 0 &&
             add_ext(x, issuer, NID_subject_alt_name, SIM_CERT_SANS) == 0;
    if (ok)
        ok = X509_sign(x, issuer ? ikey : key, EVP_sha256()) > 0;
    X509_NAME_free(name);
    if (!ok) {
        X509_free(x);
        return NULL;
    }
    return x;
}

static EVP_PKEY *
read_key(const char *dir, const char *name)
{
    char *p = hd_xasprintf("%s/%s", dir, name);
    FILE *f = fopen(p, "r");
    EVP_PKEY *k = NULL;

    if (f != NULL) {
        k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
        fclose(f);
    }
    free(p);
    return k;
}

static X509 *
read_cert(const char *dir, const char *name)
{
    char *p = hd_xasprintf("%s/%s", dir, name);
    FILE *f = fopen(p, "r");
    X509 *x = NULL;

    if (f != NULL) {
        x = PEM_read_X509(f, NULL, NULL, NULL);
        fclose(f);
    }
    free(p);
    return x;
}

/* CA and server certificate: a new CA implies a new server certificate
 * (and *fresh_ca = 1: the APNs client certificate is reissued too). */
static int
gen_tls(const char *dir, int *fresh_ca_out, struct hd_err *err)
{
    EVP_PKEY *cakey = NULL;
    EVP_PKEY *key = NULL;
    X509 *ca = NULL;
    X509 *cert = NULL;
    int fresh_ca = 0;
    int rc = -1;

    if (!exists(dir, SIM_FILE_CA) || !exists(dir, SIM_FILE_CA_KEY)) {
        cakey = EVP_EC_gen("P-256");
        ca = cakey ? make_cert(cakey, "Herald Simulator CA", NULL, NULL, NULL,
                               CERT_CA, CA_DAYS)
                   : NULL;
        if (ca == NULL) {
            hd_err_set(err, HD_EIO, "cannot create the CA");
            goto out;
        }
        if (write_key(dir, SIM_FILE_CA_KEY, cakey, err) < 0 ||
            write_cert(dir, SIM_FILE_CA, ca, err) < 0)
            goto out;
        fresh_ca = 1;
        *fresh_ca_out = 1;
    }
    if (!fresh_ca && exists(dir, SIM_FILE_CERT) && exists(dir, SIM_FILE_KEY)) {
        rc = 0;
        goto out;
    }
    if (ca == NULL) {
        cakey = read_key(dir, SIM_FILE_CA_KEY);
        ca = read_cert(dir, SIM_FILE_CA);
        if (ca == NULL || cakey == NULL) {
            hd_err_set(err, HD_EINVAL, "%s/%s or %s unreadable", dir,
                       SIM_FILE_CA, SIM_FILE_CA_KEY);
            goto out;
        }
    }
    key = EVP_EC_gen("P-256");
    cert = key ? make_cert(key, "herald-sim", NULL, ca, cakey, CERT_SERVER,
                           CERT_DAYS)
               : NULL;
    if (cert == NULL) {
        hd_err_set(err, HD_EIO, "cannot create the server certificate");
        goto out;
    }
    if (write_key(dir, SIM_FILE_KEY, key, err) < 0 ||
        write_cert(dir, SIM_FILE_CERT, cert, err) < 0)
        goto out;
    rc = 0;
out:
    ERR_clear_error();
    EVP_PKEY_free(cakey);
    EVP_PKEY_free(key);
    X509_free(ca);
    X509_free(cert);
    return rc;
}

/* n random characters from set into out (n + 1 bytes). */
static void
random_chars(char *out, size_t n, const char *set)
{
    unsigned char b[64];
    size_t m = strlen(set);
    size_t i;

    hd_random_bytes(b, n);
    for (i = 0; i < n; i++)
        out[i] = set[b[i] % m];
    out[n] = '\0';
}

static int
gen_text(const char *dir, const char *name, const char *value,
         struct hd_err *err)
{
    char line[256];
    int n;

    if (exists(dir, name))
        return 0;
    n = snprintf(line, sizeof(line), "%s\n", value);
    return write_file(dir, name, line, (size_t)n, 0644, err);
}

static int
gen_apns(const char *dir, struct hd_err *err)
{
    static const char ids[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    char kid[11];
    char team[11];
    EVP_PKEY *k;
    int rc = 0;

    if (!exists(dir, SIM_FILE_APNS_P8)) {
        k = EVP_EC_gen("P-256");
        if (k == NULL)
            return hd_err_set(err, HD_EIO, "cannot create the APNs key");
        rc = write_key(dir, SIM_FILE_APNS_P8, k, err);
        EVP_PKEY_free(k);
        if (rc < 0)
            return -1;
    }
    random_chars(kid, 10, ids);
    random_chars(team, 10, ids);
    if (gen_text(dir, SIM_FILE_APNS_KID, kid, err) < 0 ||
        gen_text(dir, SIM_FILE_APNS_TEAM, team, err) < 0 ||
        gen_text(dir, SIM_FILE_APNS_TOPIC, SIM_DEFAULT_TOPIC, err) < 0)
        return -1;
    return 0;
}

/* APNs certificate authentication: a client certificate issued by the
 * test CA whose subject UID is the topic, as in Apple's push
 * certificates, written as PEM (certificate, then key) and as a .p12
 * protected by a random password (its own file). Kept unless missing or
 * the CA is new; the .p12 is written last, so its presence means done. */
static int
gen_apns_cert(const char *dir, int fresh_ca, struct hd_err *err)
{
    EVP_PKEY *cakey = NULL;
    EVP_PKEY *key = NULL;
    X509 *ca = NULL;
    X509 *cert = NULL;
    PKCS12 *p12 = NULL;
    BIO *pem = NULL;
    BIO *der = NULL;
    char *tpath = hd_xasprintf("%s/%s", dir, SIM_FILE_APNS_TOPIC);
    char *topic = NULL;
    char pw[33];
    char cn[300];
    int rc = -1;

    if (!fresh_ca && exists(dir, SIM_FILE_APNS_CERT) &&
        exists(dir, SIM_FILE_APNS_P12_PW) && exists(dir, SIM_FILE_APNS_P12)) {
        rc = 0;
        goto out;
    }
    topic = sim_read_text(tpath, 200, err);
    if (topic == NULL)
        goto out;
    cakey = read_key(dir, SIM_FILE_CA_KEY);
    ca = read_cert(dir, SIM_FILE_CA);
    if (ca == NULL || cakey == NULL) {
        hd_err_set(err, HD_EINVAL, "%s/%s or %s unreadable", dir, SIM_FILE_CA,
                   SIM_FILE_CA_KEY);
        goto out;
    }
    snprintf(cn, sizeof(cn), "Apple Push Services: %s", topic);
    key = EVP_EC_gen("P-256");
    cert = key ? make_cert(key, cn, topic, ca, cakey, CERT_CLIENT, CERT_DAYS)
               : NULL;
    hd_random_hex(pw, 16);
    p12 =
        cert ? PKCS12_create(pw, topic, key, cert, NULL, 0, 0, 0, 0, 0) : NULL;
    pem = BIO_new(BIO_s_mem());
    der = BIO_new(BIO_s_mem());
    if (p12 == NULL || pem == NULL || der == NULL ||
        PEM_write_bio_X509(pem, cert) != 1 ||
        PEM_write_bio_PKCS8PrivateKey(pem, key, NULL, NULL, 0, NULL, NULL) !=
            1 ||
        i2d_PKCS12_bio(der, p12) != 1) {
        hd_err_set(err, HD_EIO, "cannot create the APNs client certificate");
        goto out;
    }
    if (write_file(dir, SIM_FILE_APNS_P12_PW, pw, strlen(pw), 0600, err) < 0 ||
        write_bio(dir, SIM_FILE_APNS_CERT, pem, 0600, err) < 0 ||
        write_bio(dir, SIM_FILE_APNS_P12, der, 0600, err) < 0)
        goto out;
    rc = 0;
out:
    ERR_clear_error();
    PKCS12_free(p12);
    BIO_free(pem);
    BIO_free(der);
    EVP_PKEY_free(cakey);
    EVP_PKEY_free(key);
    X509_free(ca);
    X509_free(cert);
    free(topic);
    free(tpath);
    return rc;
}

static int
gen_fcm(const char *dir, struct hd_err *err)
{
    EVP_PKEY *k = NULL;
    BIO *b = NULL;
    json_t *sa = NULL;
    char suffix[7];
    char kid[41];
    char client_id[22];
    char project[32];
    char email[128];
    char *pem = NULL;
    char *text = NULL;
    long len;
    int rc = -1;

    if (exists(dir, SIM_FILE_FCM_SA))
        return 0;
    k = EVP_RSA_gen(2048);
    b = BIO_new(BIO_s_mem());
    if (k == NULL || b == NULL ||
        PEM_write_bio_PKCS8PrivateKey(b, k, NULL, NULL, 0, NULL, NULL) != 1) {
        hd_err_set(err, HD_EIO, "cannot create the service-account key");
        goto out;
    }
    len = BIO_get_mem_data(b, &pem);
    random_chars(suffix, 6, "abcdefghijklmnopqrstuvwxyz0123456789");
    hd_random_hex(kid, 20);
    random_chars(client_id, 21, "0123456789");
    client_id[0] = '1';
    snprintf(project, sizeof(project), "herald-sim-%s", suffix);
    snprintf(email, sizeof(email), "herald-sim@%s.iam.gserviceaccount.com",
             project);
    sa = json_pack(
        "{s:s, s:s, s:s, s:s%, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "type",
        "service_account", "project_id", project, "private_key_id", kid,
        "private_key", pem, (size_t)len, "client_email", email, "client_id",
        client_id, "auth_uri", "https://accounts.google.com/o/oauth2/auth",
        "token_uri", "https://oauth2.googleapis.com/token",
        "auth_provider_x509_cert_url",
        "https://www.googleapis.com/oauth2/v1/certs", "client_x509_cert_url",
        "https://www.googleapis.com/robot/v1/metadata/x509/herald-sim",
        "universe_domain", "googleapis.com");
    text = sa ? json_dumps(sa, JSON_INDENT(2)) : NULL;
    if (text == NULL) {
        hd_err_set(err, HD_EIO, "cannot build the service-account JSON");
        goto out;
    }
    rc = write_file(dir, SIM_FILE_FCM_SA, text, strlen(text), 0600, err);
out:
    free(text);
    json_decref(sa);
    BIO_free(b);
    EVP_PKEY_free(k);
    ERR_clear_error();
    return rc;
}

static int
gen_hms(const char *dir, struct hd_err *err)
{
    char id[10];
    char secret[65];
    json_t *j;
    char *text;
    int rc;

    if (exists(dir, SIM_FILE_HMS))
        return 0;
    random_chars(id, 9, "0123456789");
    id[0] = '1';
    id[1] = '0';
    hd_random_hex(secret, 32);
    j = json_pack("{s:s, s:s}", "app_id", id, "client_secret", secret);
    text = json_dumps(j, JSON_INDENT(2));
    rc = write_file(dir, SIM_FILE_HMS, text, strlen(text), 0600, err);
    free(text);
    json_decref(j);
    return rc;
}

/* credentials.env: the shell view of the directory, rewritten from the
 * files on every run so it always matches them. */
static int
gen_env(const char *dir, struct hd_err *err)
{
    struct sim_creds *c = sim_creds_load(dir, NULL, NULL, NULL, err);
    char *topic = NULL;
    char *pw = NULL;
    char *tpath;
    char *pwpath;
    struct hd_buf b;
    int rc = -1;

    if (c == NULL)
        return -1;
    tpath = hd_xasprintf("%s/%s", dir, SIM_FILE_APNS_TOPIC);
    pwpath = hd_xasprintf("%s/%s", dir, SIM_FILE_APNS_P12_PW);
    topic = sim_read_text(tpath, 256, err);
    if (topic != NULL)
        pw = sim_read_text(pwpath, 256, err);
    hd_buf_init(&b, 64 * 1024);
    if (topic != NULL && pw != NULL &&
        hd_buf_printf(&b, err,
                      "# generated by herald-sim gen; source it: . %s/%s\n"
                      "HERALD_SIM_CREDENTIALS_DIR=%s\n"
                      "HERALD_SIM_CA_FILE=%s/%s\n"
                      "HERALD_SIM_APNS_KEY_FILE=%s/%s\n"
                      "HERALD_SIM_APNS_KEY_ID=%s\n"
                      "HERALD_SIM_APNS_TEAM_ID=%s\n"
                      "HERALD_SIM_APNS_TOPIC=%s\n"
                      "HERALD_SIM_APNS_CERT_FILE=%s/%s\n"
                      "HERALD_SIM_APNS_CERT_P12_FILE=%s/%s\n"
                      "HERALD_SIM_APNS_CERT_PASSWORD=%s\n"
                      "HERALD_SIM_FCM_SERVICE_ACCOUNT_FILE=%s/%s\n"
                      "HERALD_SIM_FCM_PROJECT_ID=%s\n"
                      "HERALD_SIM_HMS_APP_ID=%s\n"
                      "HERALD_SIM_HMS_CLIENT_SECRET=%s\n",
                      dir, SIM_FILE_ENV, dir, dir, SIM_FILE_CA, dir,
                      SIM_FILE_APNS_P8, c->apns[0].kid, c->apns[0].team, topic,
                      dir, SIM_FILE_APNS_CERT, dir, SIM_FILE_APNS_P12, pw, dir,
                      SIM_FILE_FCM_SA, c->fcm[0].project, c->hms[0].id,
                      c->hms[0].secret) == 0)
        rc = write_file(dir, SIM_FILE_ENV, b.data, b.len, 0600, err);
    hd_buf_release(&b);
    free(topic);
    free(pw);
    free(tpath);
    free(pwpath);
    sim_creds_free(c);
    return rc;
}

int
sim_gen(const char *dir, struct hd_err *err)
{
    char abs[PATH_MAX];
    int fresh_ca = 0;

    if (mkdir(dir, 0700) < 0 && errno != EEXIST)
        return hd_err_set(err, HD_EIO, "mkdir %s: %s", dir, strerror(errno));
    if (realpath(dir, abs) == NULL)
        return hd_err_set(err, HD_EIO, "%s: %s", dir, strerror(errno));
    if (gen_tls(abs, &fresh_ca, err) < 0 || gen_apns(abs, err) < 0 ||
        gen_apns_cert(abs, fresh_ca, err) < 0 || gen_fcm(abs, err) < 0 ||
        gen_hms(abs, err) < 0 || gen_env(abs, err) < 0)
        return -1;
    return 0;
}
