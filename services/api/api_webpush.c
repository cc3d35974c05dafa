/* api_webpush.c -- Web Push subscriptions checked at the API, so a bad
 * one is refused with a clear error before anything is written or queued,
 * not discovered by the worker. */
#include <stdlib.h>
#include <string.h>

#include "services/api/api_webpush.h"
#include "webpush/guard.h"
#include "webpush/sub.h"
#include "core/banned.h"

#define WC struct api_webpush_config
const struct hd_config_field api_webpush_config_fields[] = {
    HD_CFG_STR("HERALD_WEBPUSH_ORIGINS", WC, origins,
               HD_WEBPUSH_DEFAULT_ORIGINS, 0, HD_WEBPUSH_ORIGINS_HELP),
    HD_CFG_STR("HERALD_WEBPUSH_EXTRA_ORIGINS", WC, extra_origins, "", 0,
               HD_WEBPUSH_EXTRA_HELP),
    HD_CFG_END,
};
#undef WC

struct hd_webpush_guard *
api_webpush_new(const struct api_webpush_config *cfg, struct hd_err *err)
{
    return hd_webpush_guard_new(cfg->origins, cfg->extra_origins, "", err);
}

int
api_webpush_check(const struct hd_webpush_guard *guard, const char *s,
                  size_t len, struct hd_buf *canon, struct hd_err *err)
{
    char origin[HD_WEBPUSH_ORIGIN_MAX];
    struct hd_webpush_sub sub;

    if (hd_webpush_sub_parse(s, len, 1, &sub, NULL, err) < 0)
        return -1;
    if (guard == NULL)
        return hd_err_set(err, HD_EINVAL, "webpush: not configured");
    if (hd_webpush_guard_endpoint(guard, sub.endpoint, origin, sizeof(origin),
                                  err) < 0)
        return hd_err_wrap(err, "subscription");
    return canon ? hd_webpush_sub_token(&sub, canon, err) : 0;
}
