/* sub.h -- a Web Push subscription (the browser's PushSubscription) as
 * Herald stores and sends it.
 *
 * The API takes the browser's JSON, {"endpoint","expirationTime","keys":
 * {"p256dh","auth"}}, checks it (the endpoint against the guard, p256dh a
 * 65-byte point on P-256, auth 16 bytes) and keeps its canonical compact
 * form {"endpoint":"...","keys":{"p256dh":"...","auth":"..."}} as the
 * device token, which is what herald.deliver.webpush carries. Thread-safe
 * on distinct structs. */
#ifndef HD_WEBPUSH_SUB_H
#define HD_WEBPUSH_SUB_H

#include <stddef.h>

#include "core/buf.h"
#include "core/err.h"
#include "webpush/ece.h"

#define HD_WEBPUSH_ENDPOINT_MAX 1800 /* the canonical token stays < 2048 */

struct hd_webpush_sub {
    char endpoint[HD_WEBPUSH_ENDPOINT_MAX + 1];
    unsigned char p256dh[HD_P256_PUB_LEN];
    unsigned char auth[HD_ECE_AUTH_LEN];
};

/* Parses a subscription's JSON text into s: endpoint a string of at most
 * HD_WEBPUSH_ENDPOINT_MAX bytes, keys.p256dh base64url of a 65-byte
 * uncompressed point on P-256 (with full, also of the group's order), keys.auth
 * base64url of 16 bytes; other members are ignored. 0, or -1 with err
 * (HD_EINVAL) naming the field. The endpoint's origin is not checked
 * here (see guard.h). With key not NULL, *key is the p256dh key (new). */
int hd_webpush_sub_parse(const char *text, size_t len, int full,
                         struct hd_webpush_sub *s, EVP_PKEY **key,
                         struct hd_err *err);

/* Appends the canonical token of s to out. 0 or -1 with err. */
int hd_webpush_sub_token(const struct hd_webpush_sub *s, struct hd_buf *out,
                         struct hd_err *err);

#endif
