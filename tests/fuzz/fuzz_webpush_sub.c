/* fuzz_webpush_sub.c -- a Web Push subscription as herald-api takes it
 * from a client (common/webpush/sub.c) and its endpoint's SSRF guard
 * (guard.c): the rest of the input as the browser's JSON, parsed with the
 * point check (bit 0 of the first byte: also the group order); one that
 * parses must give a canonical token that parses to the same subscription
 * and the same token. With bit 1 the rest is an endpoint URL for the
 * guard of the default push services instead: one it lets through has an
 * https origin. */
#include <stdlib.h>
#include <string.h>

#include "webpush/guard.h"
#include "webpush/sub.h"
#include "tests/fuzz/fuzz.h"

static struct hd_webpush_guard *guard;

static void
roundtrip(const struct hd_webpush_sub *s, int full)
{
    struct hd_webpush_sub *back = calloc(1, sizeof(*back));
    struct hd_buf a, b;
    struct hd_err err;

    hd_buf_init(&a, 4096);
    hd_buf_init(&b, 4096);
    if (back == NULL || hd_webpush_sub_token(s, &a, &err) < 0 ||
        hd_webpush_sub_parse(a.data, a.len, full, back, NULL, &err) < 0 ||
        memcmp(back, s, sizeof(*s)) != 0 ||
        hd_webpush_sub_token(back, &b, &err) < 0 || a.len != b.len ||
        memcmp(a.data, b.data, a.len) != 0)
        abort();
    hd_buf_release(&a);
    hd_buf_release(&b);
    free(back);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct hd_webpush_sub *s;
    struct hd_err err;
    char origin[HD_WEBPUSH_ORIGIN_MAX + 1];
    int full;

    if (size < 1 || size > FUZZ_INPUT_MAX)
        return 0;
    if (guard == NULL) {
        guard = hd_webpush_guard_new(HD_WEBPUSH_DEFAULT_ORIGINS, "", "", &err);
        if (guard == NULL)
            abort();
    }
    full = data[0] & 1;
    if (data[0] & 2) {
        char *url = strndup((const char *)data + 1, size - 1);

        if (url == NULL)
            abort();
        if (hd_webpush_guard_endpoint(guard, url, origin, sizeof(origin),
                                      &err) == 0 &&
            strncmp(origin, "https://", 8) != 0)
            abort();
        free(url);
        return 0;
    }
    s = calloc(1, sizeof(*s));
    if (s == NULL)
        abort();
    if (hd_webpush_sub_parse((const char *)data + 1, size - 1, full, s, NULL,
                             &err) == 0)
        roundtrip(s, full);
    free(s);
    return 0;
}
