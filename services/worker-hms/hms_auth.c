/* hms_auth.c -- the HMS OAuth 2.0 client-credentials access token
 * (specs/providers.md 3.2).
 *
 * One token per app for the whole process, fetched on the cache's thread
 * with its own small HTTP client and reused until 5 minutes before its
 * expires_in runs out: Huawei allows only 1000 token requests per 5
 * minutes per app. The token is JSON-decoded (Huawei escapes its '/') and
 * sent verbatim after "Bearer ". */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "http/client.h"
#include "services/worker-hms/hms.h"
#include "core/banned.h"

#define REFRESH_BEFORE_MS (5 * 60 * 1000)
#define REJECT_FLOOR_MS 0 /* one refetch per generation bounds it */

struct hms_auth {
    char *app_id;
    char *secret;
    char *token_url;
    const struct hd_clock *clock;
    struct hd_httpc *http; /* driven by the cache's thread */
    struct hd_pushauth *cache;
};

int
hms_form_escape(struct hd_buf *out, const char *s, struct hd_err *err)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *p;

    for (p = (const unsigned char *)s; *p; p++) {
        int plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                    (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' ||
                    *p == '_' || *p == '~';

        if (plain) {
            if (hd_buf_putc(out, (char)*p, err) < 0)
                return -1;
        } else if (hd_buf_putc(out, '%', err) < 0 ||
                   hd_buf_putc(out, hex[*p >> 4], err) < 0 ||
                   hd_buf_putc(out, hex[*p & 15], err) < 0) {
            return -1;
        }
    }
    return 0;
}

static int
fetch(void *ud, struct hd_buf *value, int64_t *expires_ms, struct hd_err *err)
{
    struct hms_auth *a = ud;
    struct hd_buf form;
    int rc = -1;

    hd_buf_init(&form, 4096);
    if (hd_buf_puts(&form, "grant_type=client_credentials&client_id=", err) <
            0 ||
        hms_form_escape(&form, a->app_id, err) < 0 ||
        hd_buf_puts(&form, "&client_secret=", err) < 0 ||
        hms_form_escape(&form, a->secret, err) < 0) {
        if (err)
            err->code = HD_EINVAL;
        goto out;
    }
    rc = hd_pushauth_oauth(a->http, a->token_url, form.data,
                           hd_clock_wall_ms(a->clock), value, expires_ms, err);
out:
    hd_buf_release(&form);
    return rc;
}

struct hms_auth *
hms_auth_new(const struct hms_config *cfg, const struct hd_push_env *env,
             struct hd_err *err)
{
    struct hms_auth *a;

    if (!cfg->app_id || !*cfg->app_id || !cfg->secret || !*cfg->secret) {
        hd_err_set(err, HD_EINVAL,
                   "HERALD_WORKER_HMS_APP_ID and "
                   "HERALD_WORKER_HMS_CLIENT_SECRET are "
                   "required");
        return NULL;
    }
    a = hd_xcalloc(1, sizeof(*a));
    a->clock = env->clock;
    a->app_id = hd_xstrdup(cfg->app_id);
    a->secret = hd_xstrdup(cfg->secret);
    a->token_url = hd_xstrdup(cfg->token_url);
    a->cache = hd_push_token_cache(env, fetch, a, REFRESH_BEFORE_MS,
                                   REJECT_FLOOR_MS, &a->http, err);
    if (a->cache == NULL)
        goto fail;
    return a;
fail:
    hms_auth_free(a);
    return NULL;
}

void
hms_auth_free(struct hms_auth *a)
{
    if (a == NULL)
        return;
    hd_pushauth_free(a->cache);
    hd_httpc_free(a->http);
    free(a->app_id);
    if (a->secret)
        memset(a->secret, 0, strlen(a->secret));
    free(a->secret);
    free(a->token_url);
    free(a);
}

struct hd_pushauth *
hms_auth_cache(struct hms_auth *a)
{
    return a->cache;
}
