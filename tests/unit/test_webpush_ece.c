/* test_webpush_ece.c -- unit tests for common/webpush/ece.c and p256.c.
 *
 * The RFC 8291 Appendix A vector must come out byte for byte; bodies of
 * every size that matters (0, 1, the largest plaintext, the largest body
 * through padding) must decrypt here and with the npm http_ece package,
 * an implementation nobody here wrote (tests/js/ece_decrypt.js, run with
 * node); tampering, oversize and bad keys are refused. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "tests/unit/unit.h"
#include "core/base64.h"
#include "core/rand.h"
#include "webpush/ece.h"
#include "webpush/p256.h"

/* RFC 8291 Appendix A. */
static const char rfc_plain[] = "When I grow up, I want to be a watermelon";
static const char rfc_as_priv[] = "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw";
static const char rfc_as_pub[] = "BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIg"
                                 "Dll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8";
static const char rfc_ua_priv[] = "q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94";
static const char rfc_ua_pub[] = "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcx"
                                 "aOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";
static const char rfc_salt[] = "DGv6ra1nlYgDCS1FRnbzlw";
static const char rfc_auth[] = "BTBZMqHH6r4Tts7J_aSIgg";
static const char rfc_body[] =
    "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIg"
    "Dll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVB"
    "St2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN";

static EVP_PKEY *
key_from(const char *priv_b64)
{
    unsigned char priv[HD_P256_PRIV_LEN];

    if (hd_p256_b64_exact(priv_b64, strlen(priv_b64), priv, sizeof(priv), "key",
                          NULL) < 0)
        return NULL;
    return hd_p256_private(priv, sizeof(priv), NULL);
}

static void
b64(const void *p, size_t n, struct hd_buf *out)
{
    hd_buf_reset(out);
    hd_base64url_encode(p, n, out, NULL);
}

static void
test_rfc8291_vector(void)
{
    unsigned char salt[16], auth[16], pub[65];
    EVP_PKEY *as = key_from(rfc_as_priv), *ua = key_from(rfc_ua_priv);
    struct hd_ece *e = hd_ece_new(NULL);
    struct hd_buf body, text;

    ASSERT_NOT_NULL(as);
    ASSERT_NOT_NULL(ua);
    ASSERT_NOT_NULL(e);
    hd_buf_init(&body, HD_ECE_BODY_MAX);
    hd_buf_init(&text, 2 * HD_ECE_BODY_MAX);
    /* the public points derived from the private scalars are the RFC's */
    ASSERT_INT_EQ(hd_p256_get_public(as, pub, NULL), 0);
    b64(pub, 65, &text);
    ASSERT_STR_EQ(text.data, rfc_as_pub);
    ASSERT_INT_EQ(hd_p256_get_public(ua, pub, NULL), 0);
    b64(pub, 65, &text);
    ASSERT_STR_EQ(text.data, rfc_ua_pub);
    ASSERT_INT_EQ(
        hd_p256_b64_exact(rfc_salt, strlen(rfc_salt), salt, 16, "salt", NULL),
        0);
    ASSERT_INT_EQ(
        hd_p256_b64_exact(rfc_auth, strlen(rfc_auth), auth, 16, "auth", NULL),
        0);
    ASSERT_INT_EQ(hd_ece_encrypt_with(e, ua, auth, as, salt, rfc_plain,
                                      strlen(rfc_plain), 0, &body, NULL),
                  0);
    b64(body.data, body.len, &text);
    ASSERT_STR_EQ(text.data, rfc_body);
    /* and the browser's side reads it back */
    hd_buf_reset(&text);
    ASSERT_INT_EQ(hd_ece_decrypt(e, ua, auth, body.data, body.len, &text, NULL),
                  0);
    ASSERT_STR_EQ(text.data, rfc_plain);
    hd_buf_release(&body);
    hd_buf_release(&text);
    hd_ece_free(e);
    EVP_PKEY_free(as);
    EVP_PKEY_free(ua);
}

static void
test_refusals(void)
{
    static unsigned char big[HD_ECE_BODY_MAX];
    unsigned char auth[16] = {1, 2, 3}, pub[65];
    EVP_PKEY *ua = hd_p256_generate(NULL), *pk;
    struct hd_ece *e = hd_ece_new(NULL);
    struct hd_buf body, out;
    struct hd_err err = {0};

    hd_buf_init(&body, HD_ECE_BODY_MAX);
    hd_buf_init(&out, HD_ECE_BODY_MAX);
    ASSERT_INT_EQ(
        hd_ece_encrypt(e, ua, auth, big, HD_ECE_PLAIN_MAX + 1, 0, &body, &err),
        -1);
    ASSERT_INT_EQ(err.code, HD_ETOOBIG);
    ASSERT_INT_EQ(
        hd_ece_encrypt(e, ua, auth, big, 10, HD_ECE_PLAIN_MAX - 9, &body, &err),
        -1);
    ASSERT_INT_EQ(body.len, 0);
    /* one flipped bit anywhere in the record fails the tag */
    ASSERT_INT_EQ(hd_ece_encrypt(e, ua, auth, "hello", 5, 0, &body, NULL), 0);
    body.data[body.len - 3] ^= 1;
    ASSERT_INT_EQ(hd_ece_decrypt(e, ua, auth, body.data, body.len, &out, &err),
                  -1);
    ASSERT_STR_CONTAINS(err.msg, "decryption failed");
    body.data[body.len - 3] ^= 1;
    auth[0] ^= 1; /* another auth secret */
    ASSERT_INT_EQ(hd_ece_decrypt(e, ua, auth, body.data, body.len, &out, &err),
                  -1);
    auth[0] ^= 1;
    ASSERT_INT_EQ(hd_ece_decrypt(e, ua, auth, body.data, 80, &out, &err), -1);
    ASSERT_STR_CONTAINS(err.msg, "header");
    ASSERT_INT_EQ(hd_ece_decrypt(e, ua, auth, body.data, body.len, &out, NULL),
                  0);
    ASSERT_STR_EQ(out.data, "hello");
    /* public points: wrong length, compressed form, off the curve */
    ASSERT_INT_EQ(hd_p256_get_public(ua, pub, NULL), 0);
    ASSERT_NULL(hd_p256_public(pub, 64, 1, &err));
    pub[0] = 0x02;
    ASSERT_NULL(hd_p256_public(pub, 65, 1, &err));
    pub[0] = 0x04;
    pub[64] ^= 1;
    ASSERT_NULL(hd_p256_public(pub, 65, 1, &err));
    ASSERT_NULL(hd_p256_public(pub, 65, 0, &err));
    ASSERT_STR_CONTAINS(err.msg, "not a point on P-256");
    pub[64] ^= 1;
    pk = hd_p256_public(pub, 65, 1, NULL);
    ASSERT_NOT_NULL(pk);
    EVP_PKEY_free(pk);
    /* private scalars: zero and the group order are out of range */
    memset(big, 0, 32);
    ASSERT_NULL(hd_p256_private(big, 32, &err));
    ASSERT_INT_EQ(hd_p256_b64_exact("AAAA", 4, big, 16, "auth", &err), -1);
    ASSERT_STR_CONTAINS(err.msg, "auth: 3 bytes, want 16");
    ASSERT_INT_EQ(hd_p256_b64_exact("A*AA", 4, big, 3, "auth", &err), -1);
    ASSERT_STR_CONTAINS(err.msg, "not base64url");
    hd_buf_release(&body);
    hd_buf_release(&out);
    hd_ece_free(e);
    EVP_PKEY_free(ua);
}

/* Sizes: 0, 1, the largest plaintext, a padded body of exactly 4096. */
static const struct {
    size_t len, pad;
} sizes[] = {{0, 0},
             {1, 0},
             {HD_ECE_PLAIN_MAX, 0},
             {1, HD_ECE_PLAIN_MAX - 1},
             {100, 1000}};
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))

static void
test_http_ece_decrypts(void)
{
    static unsigned char plain[HD_ECE_BODY_MAX];
    char path[] = "/tmp/herald-ece-XXXXXX", cmd[256], line[2 * 4096];
    unsigned char auth[16], priv[32];
    EVP_PKEY *ua = hd_p256_generate(NULL);
    struct hd_ece *e = hd_ece_new(NULL);
    struct hd_buf body, text, mine;
    size_t i, k;
    FILE *f, *p;
    int fd;

    for (k = 0; k < sizeof(plain); k++)
        plain[k] = (unsigned char)(k * 7 + 3);
    hd_random_bytes(auth, sizeof(auth));
    ASSERT_INT_EQ(hd_p256_get_private(ua, priv, NULL), 0);
    hd_buf_init(&body, HD_ECE_BODY_MAX);
    hd_buf_init(&text, 4 * HD_ECE_BODY_MAX);
    hd_buf_init(&mine, HD_ECE_BODY_MAX);
    fd = mkstemp(path);
    ASSERT_TRUE(fd >= 0);
    f = fdopen(fd, "w");
    fputs("[", f);
    for (i = 0; i < NSIZES; i++) {
        hd_buf_reset(&body);
        ASSERT_INT_EQ(hd_ece_encrypt(e, ua, auth, plain, sizes[i].len,
                                     sizes[i].pad, &body, NULL),
                      0);
        ASSERT_INT_EQ(body.len, HD_ECE_HEADER_LEN + sizes[i].len +
                                    sizes[i].pad + 1 + HD_ECE_TAG_LEN);
        ASSERT_INT_LE(body.len, HD_ECE_BODY_MAX);
        hd_buf_reset(&mine);
        ASSERT_INT_EQ(
            hd_ece_decrypt(e, ua, auth, body.data, body.len, &mine, NULL), 0);
        ASSERT_INT_EQ(mine.len, sizes[i].len);
        ASSERT_MEM_EQ(mine.data ? mine.data : "", plain, sizes[i].len);
        b64(priv, 32, &text);
        fprintf(f, "%s{\"ua_private\":\"%s\",", i ? "," : "", text.data);
        b64(auth, 16, &text);
        fprintf(f, "\"auth\":\"%s\",", text.data);
        b64(body.data, body.len, &text);
        fprintf(f, "\"body\":\"%s\"}", text.data);
    }
    fputs("]", f);
    fclose(f);
    snprintf(cmd, sizeof(cmd), "node tests/js/ece_decrypt.js %s", path);
    p = popen(cmd, "r");
    ASSERT_NOT_NULL(p);
    for (i = 0; i < NSIZES; i++) {
        size_t n;

        ASSERT_NOT_NULL(fgets(line, sizeof(line), p));
        n = strcspn(line, "\n");
        line[n] = '\0';
        ASSERT_STR_LACKS(line, "ERROR");
        b64(plain, sizes[i].len, &text);
        ASSERT_STR_EQ(line, text.len ? text.data : "");
    }
    ASSERT_INT_EQ(pclose(p), 0);
    unlink(path);
    hd_buf_release(&body);
    hd_buf_release(&text);
    hd_buf_release(&mine);
    hd_ece_free(e);
    EVP_PKEY_free(ua);
}

int
main(void)
{
    RUN_TEST(test_rfc8291_vector);
    RUN_TEST(test_refusals);
    RUN_TEST(test_http_ece_decrypts);
    return UNIT_DONE();
}
