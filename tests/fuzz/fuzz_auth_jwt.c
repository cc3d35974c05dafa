/* fuzz_auth_jwt.c -- JWT parsing and verification (common/auth/jwt.c):
 * any bytes as a token against an HS256 and an ES256 key, through
 * hd_jwt_peek and hd_jwt_verify; with the first byte odd, the rest as a
 * claims object that is signed and must verify again with the same
 * claims. */
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
roundtrip(const uint8_t *data, size_t size)
{
    json_t *claims = fuzz_json(data, size), *back = NULL;
    struct hd_jwt_verify_opts o = {.now_s = 1700000000, .leeway_s = 60};
    struct hd_buf tok;
    struct hd_err err;
    size_t i;

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
    for (i = 0; i < 2; i++) {
        hd_buf_init(&tok, HD_JWT_MAX_LEN);
        if (hd_jwt_sign(keys[i], "kid", claims, &tok, &err) == 0) {
            if (hd_jwt_verify(keys[i], tok.data, tok.len, &o, NULL, &back,
                              &err) < 0 ||
                !json_equal(back, claims))
                abort();
            json_decref(back);
        }
        hd_buf_release(&tok);
    }
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
    struct hd_err err;
    size_t i;

    if (size < 1 || size > FUZZ_INPUT_MAX)
        return 0;
    load_keys();
    if (data[0] & 1) {
        roundtrip(data + 1, size - 1);
        return 0;
    }
    data++;
    size--;
    if (hd_jwt_peek((const char *)data, size, &h, &c, &err) == 0) {
        json_decref(h);
        json_decref(c);
        h = c = NULL;
    }
    for (i = 0; i < 2; i++) {
        if (hd_jwt_verify(keys[i], (const char *)data, size, &o, &h, &c,
                          &err) == 0) {
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
