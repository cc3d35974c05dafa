/* fuzz_auth_jwt.c -- JWT parsing and verification (common/auth/jwt.c):
 * any bytes as a token through hd_jwt_peek and hd_jwt_verify; with the
 * first byte odd, the rest as a claims object that is signed and must
 * verify again with the same claims. Bit 1 of the first byte picks the key
 * (HS256 or ES256): one key an input, so an ECDSA signature or
 * verification is paid only by the inputs that ask for it, and every path
 * is still one bit away. The keys are loaded once. */
#include <stdlib.h>
#include <string.h>

#include "auth/jwt.h"
#include "core/limits.h"
#include "tests/fuzz/fuzz.h"

static const char es256_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgOF/Ulcefp4tOzI/c\n"
    "OtKMc1srUvI1nw+/bQuvwlq2zauhRANCAATIZr7tS7ym5d8Rj52i9igKwJMCJcd5\n"
    "GSWXw5HzYS/u0q+nePT9Q9G5uGjt7N/dzPK69RLNy9tSuWgTcH28FuiY\n"
    "-----END PRIVATE KEY-----\n";
static const char secret[] = "fuzz-secret-of-thirty-two-bytes!";

static struct hd_jwt_key *keys[2];

static void
load_keys(void)
{
    struct hd_err err;

    if (keys[0] != NULL)
        return;
    keys[0] = hd_jwt_key_hmac(secret, sizeof(secret) - 1, &err);
    keys[1] = hd_jwt_key_pem(es256_pem, sizeof(es256_pem) - 1, &err);
    if (keys[0] == NULL || keys[1] == NULL)
        abort();
}

static void
roundtrip(struct hd_jwt_key *key, const uint8_t *data, size_t size)
{
    json_t *claims = fuzz_json(data, size), *back = NULL;
    struct hd_jwt_verify_opts o = {.now_s = 1700000000, .leeway_s = 60};
    struct hd_buf tok;
    struct hd_err err;

    if (claims == NULL || !json_is_object(claims)) {
        json_decref(claims);
        return;
    }
    /* exp/nbf/iat are checked on the way back: keep the roundtrip about
     * encoding, not time */
    json_object_del(claims, "exp");
    json_object_del(claims, "nbf");
    json_object_del(claims, "iat");
    json_object_del(claims, "iss");
    json_object_del(claims, "aud");
    hd_buf_init(&tok, HD_JWT_MAX_LEN);
    if (hd_jwt_sign(key, "kid", claims, &tok, &err) == 0) {
        if (hd_jwt_verify(key, tok.data, tok.len, &o, NULL, &back, &err) < 0 ||
            !json_equal(back, claims))
            abort();
        json_decref(back);
    }
    hd_buf_release(&tok);
    json_decref(claims);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct hd_jwt_verify_opts o = {.now_s = 1700000000,
                                   .leeway_s = 60,
                                   .issuer = "herald",
                                   .audience = "fuzz"};
    json_t *h = NULL, *c = NULL;
    struct hd_jwt_key *key;
    struct hd_err err;
    int i;

    if (size < 1 || size > FUZZ_INPUT_MAX)
        return 0;
    load_keys();
    key = keys[(data[0] >> 1) & 1];
    if (data[0] & 1) {
        roundtrip(key, data + 1, size - 1);
        return 0;
    }
    data++;
    size--;
    if (hd_jwt_peek((const char *)data, size, &h, &c, &err) == 0) {
        json_decref(h);
        json_decref(c);
        h = c = NULL;
    }
    /* with an issuer and audience required, then without but with exp */
    for (i = 0; i < 2; i++) {
        if (hd_jwt_verify(key, (const char *)data, size, &o, &h, &c, &err) ==
            0) {
            json_decref(h);
            json_decref(c);
            h = c = NULL;
        }
        o.issuer = NULL;
        o.audience = NULL;
        o.require_exp = 1;
    }
    return 0;
}
