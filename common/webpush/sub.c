/* sub.c -- PushSubscription JSON in, checked keys and the canonical
 * token out. The point check is the expensive part; the send path asks
 * only for the on-curve test (the full one ran at registration). */
#include <string.h>

#include <jansson.h>

#include "core/base64.h"
#include "core/json.h"
#include "webpush/sub.h"
#include "core/banned.h"

/* The byte offset of the first byte of ep a URL may not hold as it is
 * (a control, a space, non-ASCII, '"' or '\\'), or -1. Push services'
 * endpoints are plain ASCII URLs; refusing the rest also keeps the
 * canonical token free of escapes, so within HD_TOKEN_MAX_WEBPUSH. */
static long
endpoint_bad_byte(const char *ep)
{
    const unsigned char *p;

    for (p = (const unsigned char *)ep; *p != '\0'; p++)
        if (*p <= 0x20 || *p >= 0x7f || *p == '"' || *p == '\\')
            return (long)(p - (const unsigned char *)ep);
    return -1;
}

int
hd_webpush_sub_parse(const char *text, size_t len, int full,
                     struct hd_webpush_sub *s, EVP_PKEY **key,
                     struct hd_err *err)
{
    json_t *root = hd_json_parse(text, len, NULL), *keys;
    const char *ep, *p, *a;
    EVP_PKEY *k;
    long bad;
    int rc = -1;

    if (!json_is_object(root)) {
        hd_err_set(err, HD_EINVAL, "subscription: not a JSON object");
        goto out;
    }
    ep = json_string_value(json_object_get(root, "endpoint"));
    keys = json_object_get(root, "keys");
    p = json_string_value(json_object_get(keys, "p256dh"));
    a = json_string_value(json_object_get(keys, "auth"));
    if (ep == NULL || *ep == '\0') {
        hd_err_set(err, HD_EINVAL, "subscription.endpoint: required string");
        goto out;
    }
    if (strlen(ep) > HD_WEBPUSH_ENDPOINT_MAX) {
        hd_err_set(err, HD_EINVAL,
                   "subscription.endpoint: longer than %d bytes",
                   HD_WEBPUSH_ENDPOINT_MAX);
        goto out;
    }
    bad = endpoint_bad_byte(ep);
    if (bad >= 0) {
        hd_err_set(err, HD_EINVAL,
                   "subscription.endpoint: byte 0x%02x at %ld is not one a "
                   "URL holds",
                   (unsigned char)ep[bad], bad);
        goto out;
    }
    if (p == NULL || a == NULL) {
        hd_err_set(err, HD_EINVAL,
                   "subscription.keys: p256dh and auth strings required");
        goto out;
    }
    if (hd_p256_b64_exact(p, strlen(p), s->p256dh, sizeof(s->p256dh),
                          "subscription.keys.p256dh", err) < 0 ||
        hd_p256_b64_exact(a, strlen(a), s->auth, sizeof(s->auth),
                          "subscription.keys.auth", err) < 0)
        goto out;
    k = hd_p256_public(s->p256dh, sizeof(s->p256dh), full, err);
    if (k == NULL) {
        hd_err_wrap(err, "subscription.keys.p256dh");
        goto out;
    }
    if (key != NULL)
        *key = k;
    else
        EVP_PKEY_free(k);
    memcpy(s->endpoint, ep, strlen(ep) + 1);
    rc = 0;
out:
    json_decref(root);
    return rc;
}

int
hd_webpush_sub_token(const struct hd_webpush_sub *s, struct hd_buf *out,
                     struct hd_err *err)
{
    if (hd_buf_puts(out, "{\"endpoint\":\"", err) < 0 ||
        hd_buf_json_escape(out, s->endpoint, strlen(s->endpoint), err) < 0 ||
        hd_buf_puts(out, "\",\"keys\":{\"p256dh\":\"", err) < 0 ||
        hd_base64url_encode(s->p256dh, sizeof(s->p256dh), out, err) < 0 ||
        hd_buf_puts(out, "\",\"auth\":\"", err) < 0 ||
        hd_base64url_encode(s->auth, sizeof(s->auth), out, err) < 0 ||
        hd_buf_puts(out, "\"}}", err) < 0)
        return -1;
    return 0;
}
