/* api_params.c -- the kinds of strings the API accepts, and readers that
 * check presence, type, length, characters and list sizes in one call.
 *
 * jansson has already refused invalid UTF-8 while parsing; what is left
 * is length, control characters and embedded NULs, plus the stricter
 * alphabets of tokens that end up in provider URLs (APNs: hex). */
#include <stdio.h>
#include <string.h>

#include "core/limits.h"
#include "services/api/api_params.h"
#include "webpush/sub.h"
#include "core/banned.h"

#define PATH_MAX_LEN 160

static void
path_of(char *out, size_t n, const char *prefix, const char *key)
{
    snprintf(out, n, "%s%s%s", prefix, prefix[0] ? "." : "", key);
}

int
api_params_known(json_t *obj, const char *prefix, const char *const *known,
                 struct hd_err *err)
{
    const char *key;
    json_t *v;
    size_t i;

    json_object_foreach(obj, key, v)
    {
        int ok = 0;

        (void)v;
        for (i = 0; known[i] != NULL && !ok; i++)
            ok = strcmp(key, known[i]) == 0;
        if (!ok)
            return hd_err_set(err, HD_EINVAL, "%s%s%.64s: unknown field",
                              prefix, prefix[0] ? "." : "", key);
    }
    return 0;
}

static int
no_controls(const char *s, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c < 0x20 || c == 0x7f)
            return 0;
    }
    return 1;
}

static int
all_in(const char *s, size_t len, int (*ok)(unsigned char))
{
    size_t i;

    for (i = 0; i < len; i++)
        if (!ok((unsigned char)s[i]))
            return 0;
    return 1;
}

static int
is_hex(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
           (c >= 'A' && c <= 'F');
}

static int
is_graph(unsigned char c)
{
    return c > 0x20 && c < 0x7f;
}

static int
is_app(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
           (c >= 'A' && c <= 'Z') || c == '.' || c == '_' || c == '-';
}

/* Why len characters are out of [min, max], into buf. */
static const char *
len_reason(size_t min, size_t max, char *buf, size_t n)
{
    if (min == 0)
        snprintf(buf, n, "longer than %zu characters", max);
    else
        snprintf(buf, n, "must be %zu to %zu characters", min, max);
    return buf;
}

static const char *
token_reason(enum hd_provider p, const char *s, size_t len, char *buf, size_t n)
{
    size_t max = hd_provider_token_max(p);

    if (len == 0 || len > max)
        return len_reason(1, max, buf, n);
    if (p == HD_PROVIDER_APNS) {
        if (!all_in(s, len, is_hex))
            return "an APNs token is hexadecimal";
    } else if (!all_in(s, len, is_graph)) {
        return "must be printable ASCII without spaces";
    }
    return NULL;
}

/* NULL when s (len bytes) is a valid k; else why not (static text, or
 * formatted into buf). The field's path is formatted only on failure, so
 * a valid field costs no formatting. */
static const char *
kind_reason(enum api_kind k, const char *s, size_t len, char *buf, size_t n)
{
    enum hd_provider p;

    if (strlen(s) != len)
        return "contains NUL";
    switch (k) {
    case API_K_ID:
        if (len == 0 || len > HD_ID_MAX)
            return len_reason(1, HD_ID_MAX, buf, n);
        break;
    case API_K_USER:
    case API_K_CURSOR:
        if (len > HD_ID_MAX)
            return len_reason(0, HD_ID_MAX, buf, n);
        break;
    case API_K_CHANNEL:
        if (len == 0 || len > HD_CHANNEL_MAX)
            return len_reason(1, HD_CHANNEL_MAX, buf, n);
        break;
    case API_K_PROVIDER:
        return hd_provider_parse(s, &p) < 0
                   ? "must be one of fcm, apns, hms, webpush"
                   : NULL;
    case API_K_PLATFORM:
        if (strcmp(s, "ios") != 0 && strcmp(s, "android") != 0 &&
            strcmp(s, "web") != 0)
            return "must be one of ios, android, web";
        return NULL;
    case API_K_TOKEN:
        if (len == 0 || len > HD_TOKEN_MAX_FCM)
            return len_reason(1, HD_TOKEN_MAX_FCM, buf, n);
        if (!all_in(s, len, is_graph))
            return "must be printable ASCII without spaces";
        return NULL;
    case API_K_APP:
        if (len == 0 || len > API_APP_MAX)
            return len_reason(1, API_APP_MAX, buf, n);
        if (!all_in(s, len, is_app))
            return "letters, digits, '.', '_' and '-' only";
        return NULL;
    }
    return no_controls(s, len) ? NULL : "contains control characters";
}

int
api_check_token(enum hd_provider p, const char *s, size_t len, const char *path,
                struct hd_err *err)
{
    char buf[64];
    const char *why = token_reason(p, s, len, buf, sizeof(buf));
    struct hd_webpush_sub sub;

    if (why != NULL)
        return hd_err_set(err, HD_EINVAL, "%s: %s", path, why);
    if (p == HD_PROVIDER_WEBPUSH &&
        hd_webpush_sub_parse(s, len, 1, &sub, NULL, err) < 0)
        return hd_err_wrap(err, "%s", path);
    return 0;
}

int
api_check_str(enum api_kind k, const char *s, size_t len, const char *path,
              struct hd_err *err)
{
    char buf[64];
    const char *why = kind_reason(k, s, len, buf, sizeof(buf));

    return why ? hd_err_set(err, HD_EINVAL, "%s: %s", path, why) : 0;
}

int
api_get_str(json_t *obj, const char *prefix, const char *key, enum api_kind k,
            int required, const char **out, struct hd_err *err)
{
    json_t *v = json_object_get(obj, key);
    const char *why;
    char path[PATH_MAX_LEN];
    char buf[64];

    if (v == NULL || json_is_null(v)) {
        if (!required)
            return 0;
        why = "required";
    } else if (!json_is_string(v)) {
        why = "must be a string";
    } else {
        why = kind_reason(k, json_string_value(v), json_string_length(v), buf,
                          sizeof(buf));
        if (why == NULL) {
            *out = json_string_value(v);
            return 1;
        }
    }
    path_of(path, sizeof(path), prefix, key);
    return hd_err_set(err, HD_EINVAL, "%s: %s", path, why);
}

int
api_get_list(json_t *obj, const char *prefix, const char *key, enum api_kind k,
             size_t max, int allow_empty, json_t **out, struct hd_err *err)
{
    json_t *v = json_object_get(obj, key);
    char path[PATH_MAX_LEN];
    char item[PATH_MAX_LEN + 24];
    char buf[64];
    json_t *e;
    size_t i;

    if (v == NULL || json_is_null(v))
        return 0;
    path_of(path, sizeof(path), prefix, key);
    if (!json_is_array(v))
        return hd_err_set(err, HD_EINVAL, "%s: must be an array of strings",
                          path);
    if (json_array_size(v) > max)
        return hd_err_set(err, HD_ETOOBIG, "%s: more than %zu items", path,
                          max);
    if (json_array_size(v) == 0 && !allow_empty)
        return hd_err_set(err, HD_EINVAL, "%s: must not be empty", path);
    json_array_foreach(v, i, e)
    {
        const char *why =
            json_is_string(e)
                ? kind_reason(k, json_string_value(e), json_string_length(e),
                              buf, sizeof(buf))
                : "must be a string";

        if (why != NULL) {
            snprintf(item, sizeof(item), "%s[%zu]", path, i);
            return hd_err_set(err, HD_EINVAL, "%s: %s", item, why);
        }
    }
    *out = v;
    return 1;
}

int
api_get_map(json_t *obj, const char *prefix, const char *key, json_t **out,
            struct hd_err *err)
{
    json_t *v = json_object_get(obj, key);
    char path[PATH_MAX_LEN];
    const char *k;
    json_t *e;

    path_of(path, sizeof(path), prefix, key);
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_object(v))
        return hd_err_set(err, HD_EINVAL, "%s: must be an object of strings",
                          path);
    if (json_object_size(v) > API_MAP_KEYS_MAX)
        return hd_err_set(err, HD_ETOOBIG, "%s: more than %d keys", path,
                          API_MAP_KEYS_MAX);
    json_object_foreach(v, k, e)
    {
        size_t kl = strlen(k);

        if (kl == 0 || kl > API_MAP_KEY_MAX || !no_controls(k, kl))
            return hd_err_set(err, HD_EINVAL,
                              "%s: keys must be 1 to %d printable characters",
                              path, API_MAP_KEY_MAX);
        if (!json_is_string(e))
            return hd_err_set(err, HD_EINVAL, "%s.%.64s: must be a string",
                              path, k);
        if (strlen(json_string_value(e)) != json_string_length(e))
            return hd_err_set(err, HD_EINVAL, "%s.%.64s: contains NUL", path,
                              k);
    }
    if (api_json_size(v) > HD_META_MAX)
        return hd_err_set(err, HD_ETOOBIG, "%s: larger than %d bytes", path,
                          HD_META_MAX);
    *out = v;
    return 1;
}

int
api_get_flag(json_t *obj, const char *prefix, const char *key, int *out,
             struct hd_err *err)
{
    json_t *v = json_object_get(obj, key);
    char path[PATH_MAX_LEN];

    *out = 0;
    if (v == NULL || json_is_null(v))
        return 0;
    path_of(path, sizeof(path), prefix, key);
    if (!json_is_boolean(v))
        return hd_err_set(err, HD_EINVAL, "%s: must be a boolean", path);
    *out = json_is_true(v);
    return 0;
}

int
api_get_limit(json_t *obj, const char *prefix, int def, int max, int *out,
              struct hd_err *err)
{
    json_t *v = json_object_get(obj, "limit");
    char path[PATH_MAX_LEN];
    json_int_t n;

    *out = def;
    if (v == NULL || json_is_null(v))
        return 0;
    path_of(path, sizeof(path), prefix, "limit");
    if (!json_is_integer(v))
        return hd_err_set(err, HD_EINVAL, "%s: must be an integer", path);
    n = json_integer_value(v);
    if (n == 0)
        return 0;
    if (n < 0 || n > max)
        return hd_err_set(err, HD_EINVAL, "%s: must be between 0 and %d", path,
                          max);
    *out = (int)n;
    return 0;
}

int
api_get_app(json_t *obj, const char *prefix, const char **out,
            struct hd_err *err)
{
    int rc = api_get_str(obj, prefix, "app", API_K_APP, 0, out, err);

    if (rc < 0)
        return -1;
    if (rc == 0)
        *out = API_APP_DEFAULT;
    return 0;
}

size_t
api_json_size(json_t *v)
{
    return json_dumpb(v, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY);
}
