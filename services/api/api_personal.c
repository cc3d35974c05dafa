/* api_personal.c -- validating a send's limit_strategy, localizations,
 * use_templating and use_meta (api_personal.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/json.h"
#include "services/api/api_params.h"
#include "services/api/api_personal.h"
#include "core/banned.h"

/* "HH:MM:SS" -> seconds of the day. 0 or -1. */
static int
clock_time(json_t *v, int *out)
{
    const char *s = json_string_value(v);
    int h, m, sec;

    if (s == NULL || strlen(s) != 8 || s[2] != ':' || s[5] != ':')
        return -1;
    if (sscanf(s, "%2d:%2d:%2d", &h, &m, &sec) != 3 || h < 0 || h > 23 ||
        m < 0 || m > 59 || sec < 0 || sec > 59)
        return -1;
    *out = h * 3600 + m * 60 + sec;
    return 0;
}

static int
parse_time_limit(const struct api_rules *rules, json_t *tl,
                 struct api_personal *p, struct hd_err *err)
{
    static const char *const known[] = {"send_after_time", "send_before_time",
                                        "no_tz_send_now", NULL};
    const char *path = "params.limit_strategy.time_limit";

    if (!json_is_object(tl))
        return hd_err_set(err, HD_EINVAL, "%s: must be an object", path);
    if (api_params_known(rules, tl, path, known, err) < 0 ||
        api_get_flag(tl, path, "no_tz_send_now", &p->no_tz_send_now, err) < 0)
        return -1;
    if (clock_time(json_object_get(tl, "send_after_time"), &p->after_s) < 0)
        return hd_err_set(err, HD_EINVAL,
                          "%s.send_after_time: required, HH:MM:SS", path);
    if (clock_time(json_object_get(tl, "send_before_time"), &p->before_s) < 0)
        return hd_err_set(err, HD_EINVAL,
                          "%s.send_before_time: required, HH:MM:SS", path);
    if (p->after_s == p->before_s)
        return hd_err_set(err, HD_EINVAL,
                          "%s: send_after_time and send_before_time must "
                          "differ",
                          path);
    p->window = 1;
    return 0;
}

static int
parse_policy(const struct api_rules *rules, json_t *pol, size_t i,
             struct api_personal *p, struct hd_err *err)
{
    static const char *const known[] = {"rate", "interval_ms", NULL};
    char path[96];
    long long rate = 0, ms = 0;

    snprintf(path, sizeof(path),
             "params.limit_strategy.rate_limit.policies[%zu]", i);
    if (!json_is_object(pol))
        return hd_err_set(err, HD_EINVAL, "%s: must be an object", path);
    if (api_params_known(rules, pol, path, known, err) < 0 ||
        hd_json_int(pol, path, "rate", 1, 1, API_RATE_MAX, &rate, err) < 0 ||
        hd_json_int(pol, path, "interval_ms", 1, 1, API_RATE_INTERVAL_MAX, &ms,
                    err) < 0)
        return -1;
    p->pol_rate[i] = rate;
    p->pol_ms[i] = ms;
    return 0;
}

static int
parse_rate_limit(const struct api_rules *rules, json_t *rl,
                 struct api_personal *p, struct hd_err *err)
{
    static const char *const known[] = {"key", "policies",
                                        "drop_if_rate_limited", NULL};
    const char *path = "params.limit_strategy.rate_limit";
    json_t *pols = NULL, *key, *pol;
    char kpath[64];
    size_t i;

    if (!json_is_object(rl))
        return hd_err_set(err, HD_EINVAL, "%s: must be an object", path);
    if (api_params_known(rules, rl, path, known, err) < 0 ||
        api_get_flag(rl, path, "drop_if_rate_limited", &p->drop, err) < 0)
        return -1;
    pols = json_object_get(rl, "policies");
    if (!json_is_array(pols) || json_array_size(pols) == 0)
        return hd_err_set(err, HD_EINVAL,
                          "%s.policies: required, at least one policy", path);
    if (json_array_size(pols) > API_RATE_POLICIES_MAX)
        return hd_err_set(err, HD_ETOOBIG, "%s.policies: more than %d", path,
                          API_RATE_POLICIES_MAX);
    json_array_foreach(pols, i, pol)
    {
        if (parse_policy(rules, pol, i, p, err) < 0)
            return -1;
    }
    p->npol = (int)json_array_size(pols);
    key = json_object_get(rl, "key");
    if (key != NULL && !json_is_null(key) &&
        !(json_is_string(key) && json_string_length(key) == 0)) {
        snprintf(kpath, sizeof(kpath), "%s.key", path);
        if (!json_is_string(key) || json_string_length(key) > API_RATE_KEY_MAX)
            return hd_err_set(err, HD_EINVAL, "%s: a string of at most %d",
                              kpath, API_RATE_KEY_MAX);
        p->rate_key = api_tmpl_compile(json_string_value(key),
                                       json_string_length(key), 0, kpath, err);
        if (p->rate_key == NULL)
            return -1;
    }
    p->rate = 1;
    return 0;
}

static int
parse_limits(const struct api_rules *rules, json_t *ls, struct api_personal *p,
             struct hd_err *err)
{
    static const char *const known[] = {"rate_limit", "time_limit", NULL};
    const char *path = "params.limit_strategy";
    json_t *v;

    if (!json_is_object(ls))
        return hd_err_set(err, HD_EINVAL, "%s: must be an object", path);
    if (api_params_known(rules, ls, path, known, err) < 0)
        return -1;
    v = json_object_get(ls, "rate_limit");
    if (v != NULL && !json_is_null(v) && parse_rate_limit(rules, v, p, err) < 0)
        return -1;
    v = json_object_get(ls, "time_limit");
    if (v != NULL && !json_is_null(v) && parse_time_limit(rules, v, p, err) < 0)
        return -1;
    return 0;
}

static int
parse_translations(const struct api_rules *rules, json_t *loc,
                   const char *lpath, struct hd_err *err)
{
    static const char *const known[] = {"translations", NULL};
    json_t *tr, *v;
    const char *k;
    char path[128];

    if (!json_is_object(loc))
        return hd_err_set(err, HD_EINVAL, "%s: must be an object", lpath);
    if (api_params_known(rules, loc, lpath, known, err) < 0)
        return -1;
    tr = json_object_get(loc, "translations");
    snprintf(path, sizeof(path), "%s.translations", lpath);
    if (!json_is_object(tr))
        return hd_err_set(err, HD_EINVAL, "%s: required, an object", path);
    if (json_object_size(tr) > API_L10N_KEYS_MAX)
        return hd_err_set(err, HD_ETOOBIG, "%s: more than %d", path,
                          API_L10N_KEYS_MAX);
    json_object_foreach(tr, k, v)
    {
        if (strlen(k) == 0 || strlen(k) > 128)
            return hd_err_set(err, HD_EINVAL, "%s: a name of 1 to 128", path);
        if (!json_is_string(v) || json_string_length(v) > API_L10N_TEXT_MAX)
            return hd_err_set(err, HD_EINVAL,
                              "%s.%s: a string of at most %d bytes", path, k,
                              API_L10N_TEXT_MAX);
    }
    return 0;
}

static int
parse_l10n(const struct api_rules *rules, json_t *l, struct hd_err *err)
{
    const char *path = "params.localizations";
    const char *k;
    json_t *v;
    char lpath[96];

    if (!json_is_object(l))
        return hd_err_set(err, HD_EINVAL, "%s: must be an object", path);
    if (json_object_size(l) > API_L10N_LOCALES_MAX)
        return hd_err_set(err, HD_ETOOBIG, "%s: more than %d locales", path,
                          API_L10N_LOCALES_MAX);
    json_object_foreach(l, k, v)
    {
        snprintf(lpath, sizeof(lpath), "%s.%.40s", path, k);
        if (strlen(k) == 0)
            return hd_err_set(err, HD_EINVAL, "%s: a locale name is required",
                              path);
        if (api_check_str(API_K_LOCALE, k, strlen(k), lpath, err) < 0 ||
            parse_translations(rules, v, lpath, err) < 0)
            return -1;
    }
    return 0;
}

static int
set(json_t *v)
{
    return v != NULL && !json_is_null(v) &&
           !(json_is_object(v) && json_object_size(v) == 0);
}

/* The record's copy: the fields as given, when set. */
static json_t *
carried(json_t *params, const struct api_personal *p)
{
    json_t *o = json_object();

    if (p->rate || p->window)
        json_object_set(o, "limit_strategy",
                        json_object_get(params, "limit_strategy"));
    if (p->l10n)
        json_object_set(o, "localizations", p->l10n);
    if (p->templating)
        json_object_set_new(o, "use_templating", json_true());
    if (p->use_meta)
        json_object_set_new(o, "use_meta", json_true());
    if (json_object_size(o) == 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

int
api_personal_parse(const struct api_rules *rules, json_t *params,
                   json_t *notification, int filter, json_t **out,
                   struct api_personal *p, struct hd_err *err)
{
    static const char *const names[] = {"limit_strategy", "localizations",
                                        "use_templating", "use_meta", NULL};
    struct api_personal tmp;
    json_t *l;
    size_t i;

    if (p == NULL)
        p = &tmp;
    memset(p, 0, sizeof(*p));
    if (out)
        *out = NULL;
    l = json_object_get(params, "localizations");
    if (api_get_flag(params, "params", "use_templating", &p->templating, err) <
            0 ||
        api_get_flag(params, "params", "use_meta", &p->use_meta, err) < 0)
        goto fail;
    if (set(json_object_get(params, "limit_strategy")) &&
        parse_limits(rules, json_object_get(params, "limit_strategy"), p, err) <
            0)
        goto fail;
    if (set(l)) {
        if (parse_l10n(rules, l, err) < 0)
            goto fail;
        p->l10n = json_incref(l);
        p->templating = 1; /* localizations turn templating on */
    }
    if (!p->rate && !p->window && !p->templating)
        p->use_meta = 0; /* nothing reads meta */
    for (i = 0; names[i] && !filter; i++) {
        json_t *v = json_object_get(params, names[i]);

        if (set(v) && !json_is_false(v)) {
            hd_err_set(err, HD_EINVAL,
                       "params.%s: only with a recipient.filter (the devices "
                       "it applies to)",
                       names[i]);
            goto fail;
        }
    }
    if (p->templating &&
        api_ntmpl_compile(notification, p->use_meta, "params.notification",
                          &p->nt, err) < 0)
        goto fail;
    if (out)
        *out = carried(params, p);
    if (p == &tmp)
        api_personal_release(p);
    return 0;
fail:
    api_personal_release(p);
    return -1;
}

void
api_personal_release(struct api_personal *p)
{
    api_tmpl_free(p->rate_key);
    api_ntmpl_free(p->nt);
    json_decref(p->l10n);
    memset(p, 0, sizeof(*p));
}

json_t *
api_personal_l10n(const struct api_personal *p, const char *locale)
{
    char lang[16];
    size_t n;
    json_t *v;

    if (p->l10n == NULL || locale == NULL || locale[0] == '\0')
        return NULL;
    v = json_object_get(p->l10n, locale);
    if (v == NULL) {
        n = strcspn(locale, "-_");
        if (n == 0 || n >= sizeof(lang) || locale[n] == '\0')
            return NULL;
        memcpy(lang, locale, n);
        lang[n] = '\0';
        v = json_object_get(p->l10n, lang);
    }
    return json_object_get(v, "translations");
}
