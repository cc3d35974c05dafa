/* test_base64.c -- unit tests for common/core/base64.c: RFC 4648 section 10
 * vectors, the url-safe alphabet, padding rules, strict rejection and the
 * hd_buf ceiling. */
#include <stdlib.h>

#include "tests/unit/unit.h"
#include "core/base64.h"

static const struct {
    const char *plain;
    const char *std;
    const char *url;
} rfc4648[] = {
    {"", "", ""},
    {"f", "Zg==", "Zg"},
    {"fo", "Zm8=", "Zm8"},
    {"foo", "Zm9v", "Zm9v"},
    {"foob", "Zm9vYg==", "Zm9vYg"},
    {"fooba", "Zm9vYmE=", "Zm9vYmE"},
    {"foobar", "Zm9vYmFy", "Zm9vYmFy"},
};

#define NVEC (sizeof(rfc4648) / sizeof(rfc4648[0]))

static void
test_rfc4648_vectors(void)
{
    struct hd_buf b;
    size_t i;

    hd_buf_init(&b, 64);
    for (i = 0; i < NVEC; i++) {
        const char *p = rfc4648[i].plain;

        hd_buf_reset(&b);
        ASSERT_INT_EQ(hd_base64_encode(p, strlen(p), &b, NULL), 0);
        ASSERT_STR_EQ(b.len ? b.data : "", rfc4648[i].std);
        hd_buf_reset(&b);
        ASSERT_INT_EQ(hd_base64url_encode(p, strlen(p), &b, NULL), 0);
        ASSERT_STR_EQ(b.len ? b.data : "", rfc4648[i].url);
        hd_buf_reset(&b);
        ASSERT_INT_EQ(
            hd_base64_decode(rfc4648[i].std, strlen(rfc4648[i].std), &b, NULL),
            0);
        ASSERT_INT_EQ(b.len, strlen(p));
        ASSERT_MEM_EQ(b.len ? b.data : "", p, b.len);
        /* base64url reads both the unpadded and the padded form */
        hd_buf_reset(&b);
        ASSERT_INT_EQ(hd_base64url_decode(rfc4648[i].url,
                                          strlen(rfc4648[i].url), &b, NULL),
                      0);
        ASSERT_INT_EQ(b.len, strlen(p));
        ASSERT_MEM_EQ(b.len ? b.data : "", p, b.len);
        hd_buf_reset(&b);
        ASSERT_INT_EQ(hd_base64url_decode(rfc4648[i].std,
                                          strlen(rfc4648[i].std), &b, NULL),
                      0);
        ASSERT_INT_EQ(b.len, strlen(p));
    }
    hd_buf_release(&b);
    ASSERT_NULL(b.data);
}

static void
test_alphabets(void)
{
    const unsigned char bytes[] = {0xfb, 0xff, 0xbf};
    struct hd_buf b;
    struct hd_err err = {0};

    hd_buf_init(&b, 64);
    ASSERT_INT_EQ(hd_base64_encode(bytes, 2, &b, NULL), 0);
    ASSERT_STR_EQ(b.data, "+/8=");
    hd_buf_reset(&b);
    ASSERT_INT_EQ(hd_base64url_encode(bytes, 2, &b, NULL), 0);
    ASSERT_STR_EQ(b.data, "-_8");
    hd_buf_reset(&b);
    ASSERT_INT_EQ(hd_base64_encode(bytes, 3, &b, NULL), 0);
    ASSERT_STR_EQ(b.data, "+/+/");
    hd_buf_reset(&b);
    ASSERT_INT_EQ(hd_base64url_decode("-_-_", 4, &b, NULL), 0);
    ASSERT_INT_EQ(b.len, 3);
    ASSERT_MEM_EQ(b.data, bytes, 3);
    /* each decoder refuses the other alphabet's two characters */
    hd_buf_reset(&b);
    ASSERT_INT_EQ(hd_base64_decode("-_-_", 4, &b, &err), -1);
    ASSERT_INT_EQ(err.code, HD_EINVAL);
    ASSERT_STR_CONTAINS(err.msg, "bad character at offset 0");
    ASSERT_INT_EQ(hd_base64url_decode("+/8=", 4, &b, &err), -1);
    ASSERT_INT_EQ(err.code, HD_EINVAL);
    ASSERT_INT_EQ(hd_base64url_decode("AB/8", 4, &b, &err), -1);
    ASSERT_STR_CONTAINS(err.msg, "offset 2");
    ASSERT_INT_EQ(b.len, 0);
    hd_buf_release(&b);
}

static void
test_rejects_bad_input(void)
{
    static const char *bad_std[] = {
        "Zg",       /* std needs its padding */
        "Zg=",      /* padding to the wrong length */
        "Z===",     /* three '=' */
        "Z",        /* one character cannot carry a byte */
        "Zm9vY",    /* nor can a final group of one */
        "Zh==",     /* non-canonical: low 4 bits set */
        "Zm9=",     /* non-canonical: low 2 bits set */
        "Zg=a",     /* '=' in the middle */
        "=Zg=",     /* '=' first */
        "Zg==Zg==", /* padding then more data */
        "Zm9v\n",   /* no whitespace */
        "Zm 9v",    /* nor inside */
        "Zm9*",     /* nor other characters */
    };
    static const char *bad_url[] = {
        "Z",    "Zm9vY", "Zh",    "Zm9",   "Zg=",
        "Zg=a", "Zm8==", "Zm9v=", "Zg===", "Zm9v\r\n",
    };
    struct hd_err err = {0};
    struct hd_buf b;
    size_t i;

    hd_buf_init(&b, 64);
    for (i = 0; i < sizeof(bad_std) / sizeof(bad_std[0]); i++) {
        err.code = HD_EOK;
        if (hd_base64_decode(bad_std[i], strlen(bad_std[i]), &b, &err) != -1)
            UNIT_FAIL_("std decode accepted \"%s\"", bad_std[i]);
        ASSERT_INT_EQ(err.code, HD_EINVAL);
        ASSERT_INT_EQ(b.len, 0);
    }
    for (i = 0; i < sizeof(bad_url) / sizeof(bad_url[0]); i++) {
        err.code = HD_EOK;
        if (hd_base64url_decode(bad_url[i], strlen(bad_url[i]), &b, &err) != -1)
            UNIT_FAIL_("url decode accepted \"%s\"", bad_url[i]);
        ASSERT_INT_EQ(err.code, HD_EINVAL);
        ASSERT_INT_EQ(b.len, 0);
    }
    ASSERT_INT_EQ(hd_base64_decode("Zh==", 4, &b, &err), -1);
    ASSERT_STR_CONTAINS(err.msg, "non-canonical");
    /* an embedded NUL is a bad character, not the end of the input */
    ASSERT_INT_EQ(hd_base64_decode("Zm\0v", 4, &b, &err), -1);
    ASSERT_STR_CONTAINS(err.msg, "bad character at offset 2");
    hd_buf_release(&b);
}

static void
test_appends_and_respects_max(void)
{
    struct hd_err err = {0};
    struct hd_buf b;

    hd_buf_init(&b, 7);
    ASSERT_INT_EQ(hd_buf_puts(&b, "ab:", NULL), 0);
    ASSERT_INT_EQ(hd_base64_encode("foo", 3, &b, &err), 0);
    ASSERT_STR_EQ(b.data, "ab:Zm9v");
    /* one more byte would pass max: refused, buffer unchanged */
    ASSERT_INT_EQ(hd_base64_encode("f", 1, &b, &err), -1);
    ASSERT_INT_EQ(err.code, HD_ETOOBIG);
    ASSERT_STR_EQ(b.data, "ab:Zm9v");
    ASSERT_INT_EQ(hd_base64url_encode("f", 1, &b, &err), -1);
    ASSERT_INT_EQ(err.code, HD_ETOOBIG);
    hd_buf_reset(&b);
    ASSERT_INT_EQ(hd_buf_puts(&b, "xy", NULL), 0);
    ASSERT_INT_EQ(hd_base64_decode("Zm9vYmE=", 8, &b, &err), 0);
    ASSERT_STR_EQ(b.data, "xyfooba");
    ASSERT_INT_EQ(hd_base64url_decode("Zg", 2, &b, &err), -1);
    ASSERT_INT_EQ(err.code, HD_ETOOBIG);
    ASSERT_STR_EQ(b.data, "xyfooba");
    hd_buf_release(&b);
}

static void
test_failure_after_partial_output_rolls_back(void)
{
    /* 400 valid characters (300 bytes, more than one internal chunk) then a
     * bad one: nothing of the decoded prefix may stay in the buffer. */
    char text[404];
    struct hd_err err = {0};
    struct hd_buf b;

    memset(text, 'A', 400);
    memcpy(text + 400, "AA!A", 4);
    hd_buf_init(&b, 1000);
    ASSERT_INT_EQ(hd_buf_puts(&b, "keep", NULL), 0);
    ASSERT_INT_EQ(hd_base64_decode(text, sizeof(text), &b, &err), -1);
    ASSERT_INT_EQ(err.code, HD_EINVAL);
    ASSERT_STR_CONTAINS(err.msg, "offset 402");
    ASSERT_INT_EQ(b.len, 4);
    ASSERT_STR_EQ(b.data, "keep");
    hd_buf_release(&b);
}

static void
test_round_trip_every_length(void)
{
    unsigned char data[300];
    struct hd_buf enc;
    struct hd_buf dec;
    size_t n;
    size_t i;

    for (i = 0; i < sizeof(data); i++)
        data[i] = (unsigned char)(i * 131 + 7);
    hd_buf_init(&enc, 1024);
    hd_buf_init(&dec, 1024);
    for (n = 0; n <= sizeof(data); n++) {
        hd_buf_reset(&enc);
        hd_buf_reset(&dec);
        ASSERT_INT_EQ(hd_base64_encode(data, n, &enc, NULL), 0);
        ASSERT_INT_EQ(enc.len, (n + 2) / 3 * 4);
        ASSERT_INT_EQ(hd_base64_decode(enc.data, enc.len, &dec, NULL), 0);
        ASSERT_INT_EQ(dec.len, n);
        ASSERT_MEM_EQ(dec.len ? dec.data : "", data, n);
        hd_buf_reset(&enc);
        hd_buf_reset(&dec);
        ASSERT_INT_EQ(hd_base64url_encode(data, n, &enc, NULL), 0);
        ASSERT_INT_EQ(enc.len, (n * 4 + 2) / 3);
        ASSERT_TRUE(enc.len == 0 || memchr(enc.data, '=', enc.len) == NULL);
        ASSERT_INT_EQ(hd_base64url_decode(enc.data, enc.len, &dec, NULL), 0);
        ASSERT_INT_EQ(dec.len, n);
        ASSERT_MEM_EQ(dec.len ? dec.data : "", data, n);
    }
    hd_buf_release(&enc);
    hd_buf_release(&dec);
}

int
main(void)
{
    RUN_TEST(test_rfc4648_vectors);
    RUN_TEST(test_alphabets);
    RUN_TEST(test_rejects_bad_input);
    RUN_TEST(test_appends_and_respects_max);
    RUN_TEST(test_failure_after_partial_output_rolls_back);
    RUN_TEST(test_round_trip_every_length);
    return UNIT_DONE();
}
