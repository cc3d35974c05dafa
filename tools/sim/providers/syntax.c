/* syntax.c -- path ids, bearer tokens and durations for the FCM and HMS
 * simulators (syntax.h).
 *
 * Both services take the same shapes; only their error answers differ,
 * so these return a verdict and leave the wording to the provider. */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "tools/sim/providers/syntax.h"
#include "core/banned.h"

int
sim_syntax_path_id(const char *path, const char *prefix, const char *suffix,
                   char *out, size_t outlen)
{
    size_t plen = strlen(prefix);
    size_t slen = strlen(suffix);
    size_t len = strcspn(path, "?");

    if (len <= plen + slen || strncmp(path, prefix, plen) != 0 ||
        strncmp(path + len - slen, suffix, slen) != 0)
        return -1;
    len -= plen + slen;
    if (len == 0 || len >= outlen || memchr(path + plen, '/', len) != NULL)
        return -1;
    memcpy(out, path + plen, len);
    out[len] = '\0';
    return 0;
}

const char *
sim_syntax_bearer(const struct sim_req *req)
{
    const char *h = sim_req_header(req, "authorization");

    if (h == NULL || strncasecmp(h, "bearer ", 7) != 0 || h[7] == '\0')
        return NULL;
    h += 7;
    while (*h == ' ')
        h++;
    return h;
}

int
sim_syntax_duration(const char *s, long long max_s, const char **rest)
{
    long long whole = 0;
    int frac = 0;

    if (!isdigit((unsigned char)*s))
        return 0;
    for (; isdigit((unsigned char)*s); s++) {
        whole = whole * 10 + (*s - '0');
        if (whole > max_s)
            return 0;
    }
    if (*s == '.') {
        for (s++; isdigit((unsigned char)*s); s++)
            frac++;
        if (frac == 0 || frac > 9)
            return 0;
    }
    *rest = s;
    return 1;
}
