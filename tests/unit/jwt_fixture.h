/* jwt_fixture.h -- helpers shared by the JWT unit tests: PEM export of
 * generated keys, signing from JSON text, hand-built HS256 tokens. */
#ifndef HD_JWT_FIXTURE_H
#define HD_JWT_FIXTURE_H

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "core/alloc.h"
#include "core/base64.h"
#include "core/buf.h"
#include "core/json.h"
#include "auth/jwt.h"

/* openssl ecparam -name prime256v1 writes this block before the key */
static const char ec_params_p256[] = "-----BEGIN EC PARAMETERS-----\n"
                                     "BggqhkjOPQMBBw==\n"
                                     "-----END EC PARAMETERS-----\n";

enum pem_form { PEM_PKCS8, PEM_TRADITIONAL, PEM_SPKI, PEM_ENC_PKCS8 };

/* new: pkey written as PEM in the given form (NUL-terminated). */
static inline char *
pem_of(EVP_PKEY *pkey, enum pem_form form)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data = NULL;
    char *copy;
    long n;
    int ok = 0;

    if (form == PEM_PKCS8)
        ok = PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL);
    else if (form == PEM_TRADITIONAL)
        ok = PEM_write_bio_PrivateKey_traditional(bio, pkey, NULL, NULL, 0,
                                                  NULL, NULL);
    else if (form == PEM_SPKI)
        ok = PEM_write_bio_PUBKEY(bio, pkey);
    else
        ok = PEM_write_bio_PKCS8PrivateKey(bio, pkey, EVP_aes_128_cbc(), "pw",
                                           2, NULL, NULL);
    n = BIO_get_mem_data(bio, &data);
    copy = ok == 1 && n > 0 ? hd_xmemdup(data, (size_t)n) : NULL;
    BIO_free(bio);
    return copy;
}

/* new: a key loaded from pkey's PEM in the given form. */
static inline struct hd_jwt_key *
key_from(EVP_PKEY *pkey, enum pem_form form, struct hd_err *err)
{
    char *pem = pem_of(pkey, form);
    struct hd_jwt_key *k;

    if (pem == NULL)
        return NULL;
    k = hd_jwt_key_pem(pem, strlen(pem), err);
    free(pem);
    return k;
}

/* Signs the claims given as JSON text into out (reset first). */
static inline int
sign_text(const struct hd_jwt_key *k, const char *kid, const char *claims,
          struct hd_buf *out, struct hd_err *err)
{
    json_t *c = hd_json_parse(claims, strlen(claims), err);
    int rc;

    if (c == NULL)
        return -1;
    hd_buf_reset(out);
    rc = hd_jwt_sign(k, kid, c, out, err);
    json_decref(c);
    return rc;
}

/* Builds header "." claims "." HS256 signature by hand, from JSON text,
 * so tests can produce correctly signed tokens our signer never would. */
static inline void
hand_hs256(const char *secret, const char *header, const char *claims,
           struct hd_buf *out)
{
    unsigned char mac[32];
    size_t n = 0;

    hd_buf_reset(out);
    hd_base64url_encode(header, strlen(header), out, NULL);
    hd_buf_putc(out, '.', NULL);
    hd_base64url_encode(claims, strlen(claims), out, NULL);
    EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, secret, strlen(secret),
              (const unsigned char *)out->data, out->len, mac, sizeof(mac), &n);
    hd_buf_putc(out, '.', NULL);
    hd_base64url_encode(mac, n, out, NULL);
}

static inline int
verify(const struct hd_jwt_key *k, const struct hd_buf *tok,
       const struct hd_jwt_verify_opts *o, struct hd_err *err)
{
    return hd_jwt_verify(k, tok->data, tok->len, o, NULL, NULL, err);
}

/* Decodes segment i (0..2) of a compact token into out (reset first). */
static inline int
segment(const char *tok, int i, struct hd_buf *out)
{
    const char *p = tok;
    const char *e;

    while (i-- > 0)
        p = strchr(p, '.') + 1;
    e = strchr(p, '.');
    hd_buf_reset(out);
    return hd_base64url_decode(p, e ? (size_t)(e - p) : strlen(p), out, NULL);
}

#endif
