/* api_auth.c -- API keys, constant-time checks, bearer tokens.
 *
 * Padding every key to API_KEY_MAX makes the comparison's cost the same
 * whatever key is presented; the check is a handful of 256-byte compares,
 * cheap enough for every request of the hot send path. */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "services/api/api_auth.h"
#include "core/banned.h"

int
api_keys_init(struct api_keys *k, const char *list, struct hd_err *err)
{
    const char *p = list ? list : "";

    memset(k, 0, sizeof(*k));
    for (;;) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        const char *s = p;

        while (n > 0 && isspace((unsigned char)*s)) {
            s++;
            n--;
        }
        while (n > 0 && isspace((unsigned char)s[n - 1]))
            n--;
        if (n == 0) {
            hd_err_set(err, HD_EINVAL, "HERALD_API_KEY: empty key in the list");
            goto fail;
        }
        if (n > API_KEY_MAX) {
            hd_err_set(err, HD_EINVAL,
                       "HERALD_API_KEY: a key is longer than %d", API_KEY_MAX);
            goto fail;
        }
        if (k->n == API_MAX_KEYS) {
            hd_err_set(err, HD_EINVAL, "HERALD_API_KEY: more than %d keys",
                       API_MAX_KEYS);
            goto fail;
        }
        memcpy(k->key[k->n], s, n);
        k->len[k->n++] = n;
        if (end == NULL)
            break;
        p = end + 1;
    }
    return 0;
fail:
    api_keys_release(k);
    return -1;
}

void
api_keys_release(struct api_keys *k)
{
    OPENSSL_cleanse(k, sizeof(*k));
}

static int
matches(const struct api_keys *k, const char *key, size_t n)
{
    unsigned char buf[API_KEY_MAX];
    int hit = 0;
    size_t i;

    if (n == 0 || n > API_KEY_MAX)
        return 0;
    memset(buf, 0, sizeof(buf));
    memcpy(buf, key, n);
    for (i = 0; i < k->n; i++) {
        /* both full-width compares always run: no early exit */
        int same = CRYPTO_memcmp(buf, k->key[i], API_KEY_MAX) == 0;
        int len_same = (k->len[i] ^ n) == 0;

        hit |= same & len_same;
    }
    OPENSSL_cleanse(buf, sizeof(buf));
    return hit;
}

/* "scheme value": returns the value when the scheme matches. */
static const char *
after_scheme(const char *h, const char *scheme, size_t *len)
{
    size_t sl = strlen(scheme);
    size_t n;

    if (h == NULL || strncasecmp(h, scheme, sl) != 0 || h[sl] != ' ')
        return NULL;
    h += sl;
    while (*h == ' ')
        h++;
    n = strlen(h);
    while (n > 0 && h[n - 1] == ' ')
        n--;
    if (n == 0)
        return NULL;
    *len = n;
    return h;
}

int
api_keys_check(const struct api_keys *k, const char *authorization,
               const char *x_api_key)
{
    const char *v;
    size_t n = 0;

    v = after_scheme(authorization, "apikey", &n);
    if (v != NULL && matches(k, v, n))
        return 1;
    if (x_api_key != NULL && matches(k, x_api_key, strlen(x_api_key)))
        return 1;
    return 0;
}

const char *
api_bearer(const char *header, size_t *len)
{
    return after_scheme(header, "Bearer", len);
}
