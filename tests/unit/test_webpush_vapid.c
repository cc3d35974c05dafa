/* test_webpush_vapid.c -- unit tests for common/webpush/vapid.c: keys in
 * the web-push libraries' format, one cached JWT per origin, re-signing
 * near expiry, and verification both ways with the npm web-push package
 * (tests/js/vapid_header.js). */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "tests/unit/unit.h"
#include "core/base64.h"
#include "webpush/vapid.h"

#define NOW 1800000000
#define ORIGIN "https://fcm.googleapis.com"
#define SUB "mailto:ops@example.com"

static const char as_priv[] = "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw";
static const char as_pub[] = "BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIg"
                             "Dll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8";

static void
test_sign_verify_cache(void)
{
    struct hd_vapid *v = hd_vapid_new(as_priv, as_pub, SUB, NULL);
    struct hd_buf a, b;
    struct hd_err err = {0};
    unsigned char k[HD_P256_PUB_LEN];
    const char *val;

    ASSERT_NOT_NULL(v);
    ASSERT_STR_EQ(hd_vapid_public(v), as_pub);
    hd_buf_init(&a, 16384);
    hd_buf_init(&b, 16384);
    ASSERT_INT_EQ(hd_vapid_header(v, ORIGIN, NOW, &a, NULL), 0);
    ASSERT_TRUE(strncmp(a.data, "Authorization: vapid t=", 23) == 0);
    ASSERT_STR_CONTAINS(a.data, ", k="
                                "BP4z9KsN6nGRTbVYI");
    val = a.data + strlen("Authorization: ");
    ASSERT_INT_EQ(hd_vapid_verify(val, ORIGIN, NOW, k, &err), 0);
    ASSERT_INT_EQ(k[0], 4);
    /* aud is the origin: another push service refuses it */
    ASSERT_INT_EQ(hd_vapid_verify(val, "https://evil.example", NOW, k, &err),
                  -1);
    ASSERT_INT_EQ(err.code, HD_EAUTH);
    /* expired 12 h later */
    ASSERT_INT_EQ(
        hd_vapid_verify(val, ORIGIN, NOW + HD_VAPID_TTL_S + 120, k, &err), -1);
    ASSERT_STR_CONTAINS(err.msg, "expired");
    /* cached: the same token within its life... */
    ASSERT_INT_EQ(hd_vapid_header(v, ORIGIN, NOW + 600, &b, NULL), 0);
    ASSERT_STR_EQ(a.data, b.data);
    /* ...one per origin... */
    hd_buf_reset(&b);
    ASSERT_INT_EQ(hd_vapid_header(v,
                                  "https://updates.push.services.mozilla.com",
                                  NOW + 600, &b, NULL),
                  0);
    ASSERT_TRUE(strcmp(a.data, b.data) != 0);
    /* ...and re-signed when less than an hour is left */
    hd_buf_reset(&b);
    ASSERT_INT_EQ(hd_vapid_header(v, ORIGIN,
                                  NOW + HD_VAPID_TTL_S - HD_VAPID_REFRESH_S + 1,
                                  &b, NULL),
                  0);
    ASSERT_TRUE(strcmp(a.data, b.data) != 0);
    ASSERT_INT_EQ(
        hd_vapid_verify(b.data + 15, ORIGIN, NOW + HD_VAPID_TTL_S, NULL, &err),
        0);
    /* a tampered signature or key */
    a.data[a.len - 100] ^= 1; /* inside the signature */
    ASSERT_INT_EQ(hd_vapid_verify(val, ORIGIN, NOW, k, &err), -1);
    ASSERT_STR_CONTAINS(err.msg, "signature");
    ASSERT_INT_EQ(hd_vapid_verify("Bearer abc", ORIGIN, NOW, k, &err), -1);
    ASSERT_INT_EQ(hd_vapid_verify("vapid t=abc", ORIGIN, NOW, k, &err), -1);
    hd_buf_release(&a);
    hd_buf_release(&b);
    hd_vapid_free(v);
}

static void
test_config_errors(void)
{
    struct hd_buf priv, pub;
    struct hd_err err = {0};
    struct hd_vapid *v;

    ASSERT_NULL(hd_vapid_new(as_priv, as_pub, "ops@example.com", &err));
    ASSERT_STR_CONTAINS(err.msg, "subject");
    ASSERT_NULL(hd_vapid_new("short", NULL, SUB, &err));
    ASSERT_STR_CONTAINS(err.msg, "VAPID private key");
    hd_buf_init(&priv, 256);
    hd_buf_init(&pub, 256);
    ASSERT_INT_EQ(hd_vapid_keygen(&priv, &pub, NULL), 0);
    ASSERT_INT_EQ(priv.len, 43);
    ASSERT_INT_EQ(pub.len, 87);
    /* a public key from another pair */
    ASSERT_NULL(hd_vapid_new(priv.data, as_pub, SUB, &err));
    ASSERT_STR_CONTAINS(err.msg, "does not match");
    v = hd_vapid_new(priv.data, pub.data, "https://example.com/contact", &err);
    ASSERT_NOT_NULL(v);
    ASSERT_STR_EQ(hd_vapid_public(v), pub.data);
    hd_vapid_free(v);
    hd_buf_release(&priv);
    hd_buf_release(&pub);
}

/* web-push (npm) signs with our key format; we verify it. */
static void
test_web_push_interop(void)
{
    char cmd[512], line[4096];
    struct hd_err err = {0};
    FILE *p;

    snprintf(cmd, sizeof(cmd), "node tests/js/vapid_header.js %s %s %s %s",
             ORIGIN, SUB, as_pub, as_priv);
    p = popen(cmd, "r");
    ASSERT_NOT_NULL(p);
    ASSERT_NOT_NULL(fgets(line, sizeof(line), p));
    ASSERT_INT_EQ(pclose(p), 0);
    line[strcspn(line, "\n")] = '\0';
    ASSERT_INT_EQ(
        hd_vapid_verify(line, ORIGIN, (int64_t)time(NULL), NULL, &err), 0);
    ASSERT_INT_EQ(hd_vapid_verify(line, "https://other.example",
                                  (int64_t)time(NULL), NULL, &err),
                  -1);
}

int
main(void)
{
    RUN_TEST(test_sign_verify_cache);
    RUN_TEST(test_config_errors);
    RUN_TEST(test_web_push_interop);
    return UNIT_DONE();
}
