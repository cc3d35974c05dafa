/* jwt.c -- compact JWS tokens: building and signing one, splitting and
 * verifying one (algorithm, signature, exp/nbf/iat/iss/aud), peeking.
 *
 * The key decides the algorithm and the token's "alg" must match it
 * exactly, so "none" and HS256-with-a-public-key never verify. Keys and
 * the signature bytes are jwt_key.c's. It does not fetch keys (JWKS),
 * encrypt (JWE) or interpret claims beyond exp/nbf/iat/iss/aud. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/base64.h"
#include "core/clock.h"
#include "core/json.h"
#include "auth/jwt.h"
#include "auth/jwt_private.h"
#include "core/limits.h"
#include "core/banned.h"

/* ---- sign ---------------------------------------------------------- */

/* base64url(JSON of v) appended to out. */
static int
append_json_b64(json_t *v, struct hd_buf *out, struct hd_err *err)
{
    struct hd_buf tmp;
    int rc;

    hd_buf_init(&tmp, HD_JWT_MAX_LEN);
    rc = hd_json_dump(v, &tmp, err);
    if (rc == 0)
        rc = hd_base64url_encode(tmp.data, tmp.len, out, err);
    hd_buf_release(&tmp);
    return rc;
}

int
hd_jwt_sign(const struct hd_jwt_key *k, const char *kid, json_t *claims,
            struct hd_buf *out, struct hd_err *err)
{
    struct hd_buf tok;
    json_t *hdr = NULL;
    int rc = -1;

    hd_buf_init(&tok, HD_JWT_MAX_LEN);
    if (!hd_jwt_key_can_sign(k)) {
        hd_err_set(err, HD_EINVAL, "%s key cannot sign (public key only)",
                   hd_jwt_alg_name(hd_jwt_key_alg(k)));
        goto out;
    }
    if (!json_is_object(claims)) {
        hd_err_set(err, HD_EINVAL, "JWT claims must be a JSON object");
        goto out;
    }
    hdr = json_pack("{s:s,s:s}", "alg", hd_jwt_alg_name(hd_jwt_key_alg(k)),
                    "typ", "JWT");
    if (kid && json_object_set_new(hdr, "kid", json_string(kid)) < 0) {
        hd_err_set(err, HD_EINVAL, "kid is not valid UTF-8");
        goto out;
    }
    if (append_json_b64(hdr, &tok, err) < 0 ||
        hd_buf_putc(&tok, '.', err) < 0 ||
        append_json_b64(claims, &tok, err) < 0)
        goto out;
    /* the signing input is everything so far; the '.' is not part of it */
    if (hd_buf_putc(&tok, '.', err) < 0 ||
        hd_jwt_key_sign_append(k, tok.data, tok.len - 1, &tok, err) < 0)
        goto out;
    rc = hd_buf_append(out, tok.data, tok.len, err);

out:
    if (rc < 0)
        hd_err_wrap(err, "jwt sign");
    json_decref(hdr);
    hd_buf_release(&tok);
    return rc;
}

/* ---- verify -------------------------------------------------------- */

struct parts {
    const char *seg[3];
    size_t len[3];
    size_t signed_len; /* header "." payload */
};

static int
malformed(struct hd_err *err, const char *why)
{
    return hd_err_set(err, HD_EAUTH, "malformed token: %s", why);
}

/* Exactly three base64url segments without padding, none empty except
 * (for the caller to refuse) the signature. */
static int
split(const char *token, size_t len, struct parts *p, struct hd_err *err)
{
    const char *dot1;
    const char *dot2;

    if (token == NULL || len == 0)
        return malformed(err, "empty");
    if (len > HD_JWT_MAX_LEN)
        return hd_err_set(err, HD_EAUTH, "token too long (%zu bytes, max %d)",
                          len, HD_JWT_MAX_LEN);
    if (memchr(token, '=', len))
        return malformed(err, "padding not allowed");
    dot1 = memchr(token, '.', len);
    if (dot1 == NULL)
        return malformed(err, "not three segments");
    dot2 = memchr(dot1 + 1, '.', (size_t)(token + len - dot1 - 1));
    if (dot2 == NULL ||
        memchr(dot2 + 1, '.', (size_t)(token + len - dot2 - 1)) != NULL)
        return malformed(err, "not three segments");
    p->seg[0] = token;
    p->len[0] = (size_t)(dot1 - token);
    p->seg[1] = dot1 + 1;
    p->len[1] = (size_t)(dot2 - dot1 - 1);
    p->seg[2] = dot2 + 1;
    p->len[2] = (size_t)(token + len - dot2 - 1);
    p->signed_len = (size_t)(dot2 - token);
    if (p->len[0] == 0 || p->len[1] == 0)
        return malformed(err, "empty segment");
    return 0;
}

/* new: the JSON object a segment encodes. */
static json_t *
segment_json(const char *seg, size_t len, const char *what, struct hd_err *err)
{
    struct hd_buf b;
    json_t *v = NULL;

    hd_buf_init(&b, HD_JWT_MAX_LEN);
    if (hd_base64url_decode(seg, len, &b, NULL) < 0) {
        hd_err_set(err, HD_EAUTH, "malformed token: %s is not base64url", what);
        goto out;
    }
    v = hd_json_parse(b.data ? b.data : "", b.len, NULL);
    if (!json_is_object(v)) {
        json_decref(v);
        v = NULL;
        hd_err_set(err, HD_EAUTH, "malformed token: %s is not a JSON object",
                   what);
    }

out:
    hd_buf_release(&b);
    return v;
}

static int
check_alg(const struct hd_jwt_key *k, json_t *hdr, struct hd_err *err)
{
    const char *want = hd_jwt_alg_name(hd_jwt_key_alg(k));
    json_t *alg = json_object_get(hdr, "alg");
    const char *got;

    if (!json_is_string(alg))
        return malformed(err, "header has no alg");
    got = json_string_value(alg);
    if (strcmp(got, "none") == 0)
        return hd_err_set(err, HD_EAUTH,
                          "alg mismatch: none is never "
                          "accepted");
    if (strcmp(got, want) != 0)
        return hd_err_set(err, HD_EAUTH, "alg mismatch: token %.16s, key %s",
                          got, want);
    /* RFC 7515 4.1.11: extensions we do not understand must be refused,
     * and we understand none. */
    if (json_object_get(hdr, "crit"))
        return hd_err_set(err, HD_EAUTH, "unsupported crit header");
    return 0;
}

/* 1 and *v when the claim is present, 0 when absent, -1 when not a
 * number. */
static int
num_claim(json_t *claims, const char *name, double *v, struct hd_err *err)
{
    json_t *c = json_object_get(claims, name);

    if (c == NULL)
        return 0;
    if (!json_is_number(c))
        return hd_err_set(err, HD_EAUTH, "malformed token: %s is not a number",
                          name);
    *v = json_number_value(c);
    return 1;
}

static int
check_time(json_t *claims, const struct hd_jwt_verify_opts *o,
           struct hd_err *err)
{
    double now = (double)(o->now_s ? o->now_s : hd_now_wall_ms() / 1000);
    double leeway = o->leeway_s > 0 ? o->leeway_s : 0;
    double v = 0;
    int rc;

    rc = num_claim(claims, "exp", &v, err);
    if (rc < 0)
        return -1;
    if (rc == 0 && o->require_exp)
        return hd_err_set(err, HD_EAUTH, "token has no exp");
    if (rc == 1 && now - leeway >= v)
        return hd_err_set(err, HD_EAUTH, "token expired");
    rc = num_claim(claims, "nbf", &v, err);
    if (rc < 0)
        return -1;
    if (rc == 1 && now + leeway < v)
        return hd_err_set(err, HD_EAUTH, "token not yet valid (nbf)");
    rc = num_claim(claims, "iat", &v, err);
    if (rc < 0)
        return -1;
    if (rc == 1 && v > now + leeway)
        return hd_err_set(err, HD_EAUTH, "token issued in the future (iat)");
    return 0;
}

static int
str_is(json_t *v, const char *s)
{
    return json_is_string(v) && strcmp(json_string_value(v), s) == 0;
}

static int
check_iss_aud(json_t *claims, const struct hd_jwt_verify_opts *o,
              struct hd_err *err)
{
    json_t *aud;
    json_t *e;
    size_t i;
    int found = 0;

    if (o->issuer && !str_is(json_object_get(claims, "iss"), o->issuer))
        return hd_err_set(err, HD_EAUTH, "issuer mismatch");
    if (o->audience == NULL)
        return 0;
    aud = json_object_get(claims, "aud");
    if (json_is_array(aud)) {
        json_array_foreach(aud, i, e)
        {
            if (str_is(e, o->audience))
                found = 1;
        }
    } else {
        found = str_is(aud, o->audience);
    }
    if (!found)
        return hd_err_set(err, HD_EAUTH, "audience mismatch");
    return 0;
}

/* Hands v to *out when out is not NULL (stealing it), else drops it. */
static void
hand_over(json_t **out, json_t *v)
{
    if (out)
        *out = v;
    else
        json_decref(v);
}

int
hd_jwt_verify(const struct hd_jwt_key *k, const char *token, size_t len,
              const struct hd_jwt_verify_opts *o, json_t **header,
              json_t **claims, struct hd_err *err)
{
    /* o == NULL: the clock, the default leeway, no other check */
    static const struct hd_jwt_verify_opts defaults = {0, HD_JWT_LEEWAY_S, 0,
                                                       NULL, NULL};
    struct parts p;
    struct hd_buf sig;
    json_t *hdr = NULL;
    json_t *cl = NULL;

    hd_buf_init(&sig, HD_JWT_MAX_LEN);
    if (o == NULL)
        o = &defaults;
    if (split(token, len, &p, err) < 0)
        goto out;
    hdr = segment_json(p.seg[0], p.len[0], "header", err);
    if (hdr == NULL || check_alg(k, hdr, err) < 0)
        goto out;
    if (hd_base64url_decode(p.seg[2], p.len[2], &sig, NULL) < 0) {
        malformed(err, "signature is not base64url");
        goto out;
    }
    if (!hd_jwt_key_sig_ok(k, token, p.signed_len,
                           (const unsigned char *)sig.data, sig.len)) {
        hd_err_set(err, HD_EAUTH, "bad signature");
        goto out;
    }
    cl = segment_json(p.seg[1], p.len[1], "claims", err);
    if (cl == NULL || check_time(cl, o, err) < 0 ||
        check_iss_aud(cl, o, err) < 0)
        goto out;
    hd_buf_release(&sig);
    hand_over(header, hdr);
    hand_over(claims, cl);
    return 0;

out:
    json_decref(hdr);
    json_decref(cl);
    hd_buf_release(&sig);
    return -1;
}

int
hd_jwt_peek(const char *token, size_t len, json_t **header, json_t **claims,
            struct hd_err *err)
{
    struct parts p;
    json_t *hdr = NULL;
    json_t *cl = NULL;

    if (split(token, len, &p, err) < 0)
        return -1;
    hdr = segment_json(p.seg[0], p.len[0], "header", err);
    if (hdr)
        cl = segment_json(p.seg[1], p.len[1], "claims", err);
    if (cl == NULL) {
        json_decref(hdr);
        return -1;
    }
    hand_over(header, hdr);
    hand_over(claims, cl);
    return 0;
}
