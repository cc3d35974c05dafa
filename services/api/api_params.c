/* api_params.c -- the kinds of strings the API accepts, and readers that
 * check presence, type, length, characters and list sizes in one call.
 *
 * jansson has already refused invalid UTF-8 while parsing; what is left
 * is length, control characters and embedded NULs, plus the stricter
 * alphabets of tokens that end up in provider URLs (APNs: hex). */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/base64.h"
#include "core/limits.h"
#include "services/api/api_params.h"
#include "services/api/api_webpush.h"
#include "core/banned.h"

#define PATH_MAX_LEN 160
#define TZ_DIR "/usr/share/zoneinfo/"

static void
path_of(char *out, size_t n, const char *prefix, const char *key)
{
    snprintf(out, n, "%s%s%s", prefix, prefix[0] ? "." : "", key);
}

int
api_params_known(const struct api_rules *rules, json_t *obj, const char *prefix,
                 const char *const *known, struct hd_err *err)
{
    const char *key;
    json_t *v;
    size_t i;

    if (!rules->strict)
        return 0;
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

static int
is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int
is_alnum(unsigned char c)
{
    return is_alpha(c) || (c >= '0' && c <= '9');
}

static int
is_tz_char(unsigned char c)
{
    return is_alnum(c) || c == '_' || c == '-' || c == '+' || c == '/';
}

/* Names found in the tz database, so a registration's timezone costs a
 * lookup rather than four system calls: one slot per hash (the database
 * has about 600 names), a later name taking the slot over. */
#define TZ_SEEN_SLOTS 1024
static char tz_seen[TZ_SEEN_SLOTS][API_TZ_MAX + 1];
static pthread_mutex_t tz_seen_mu = PTHREAD_MUTEX_INITIALIZER;

static unsigned
tz_slot(const char *s, size_t len)
{
    unsigned h = 2166136261u; /* FNV-1a */
    size_t i;

    for (i = 0; i < len; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h % TZ_SEEN_SLOTS;
}

/* 1 when s is a name seen in the database before; with set, remembers it. */
static int
tz_seen_check(const char *s, size_t len, int set)
{
    unsigned k = tz_slot(s, len);
    int hit;

    pthread_mutex_lock(&tz_seen_mu);
    hit = strcmp(tz_seen[k], s) == 0;
    if (set && !hit)
        memcpy(tz_seen[k], s, len + 1);
    pthread_mutex_unlock(&tz_seen_mu);
    return hit;
}

/* An IANA name: the tz database's characters, no "." path steps, and a
 * TZif file of that name under the system's zoneinfo directory. */
static const char *
timezone_reason(const char *s, size_t len)
{
    char path[sizeof(TZ_DIR) + API_TZ_MAX];
    char magic[4];
    struct stat st;
    FILE *f;
    int ok;

    if (len == 0)
        return NULL;
    if (len > API_TZ_MAX || !all_in(s, len, is_tz_char) || s[0] == '/' ||
        strstr(s, "//") != NULL || strcmp(s, "posix") == 0 ||
        strcmp(s, "right") == 0 || strncmp(s, "posix/", 6) == 0 ||
        strncmp(s, "right/", 6) == 0)
        return "not an IANA timezone name";
    if (tz_seen_check(s, len, 0))
        return NULL;
    snprintf(path, sizeof(path), "%s%s", TZ_DIR, s);
    if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
        return "unknown timezone";
    f = fopen(path, "rb");
    if (f == NULL)
        return "unknown timezone";
    ok = fread(magic, 1, 4, f) == 4 && memcmp(magic, "TZif", 4) == 0;
    fclose(f);
    if (!ok)
        return "unknown timezone";
    tz_seen_check(s, len, 1);
    return NULL;
}

/* BCP 47 in the shape Centrifugo's clients send ("de", "pt-BR",
 * "zh-Hant-TW"): a 2-3 or 5-8 letter language, then subtags of 1-8
 * letters or digits separated by '-'. */
static const char *
locale_reason(const char *s, size_t len)
{
    size_t i = 0, start, sub = 0;

    if (len == 0)
        return NULL;
    if (len > API_LOCALE_MAX)
        return "not a BCP 47 language tag";
    while (i <= len) {
        start = i;
        while (i < len && s[i] != '-')
            i++;
        if (i - start < 1 || i - start > 8)
            return "not a BCP 47 language tag";
        if (sub == 0) {
            size_t n = i - start;

            if (!all_in(s + start, n, is_alpha) || n == 4 || n < 2)
                return "not a BCP 47 language tag";
        } else if (!all_in(s + start, i - start, is_alnum)) {
            return "not a BCP 47 language tag";
        }
        sub++;
        i++;
    }
    return NULL;
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
    if (p == HD_PROVIDER_WEBPUSH)
        return NULL; /* JSON: hd_webpush_sub_parse checks it */
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
    case API_K_TIMEZONE:
        return timezone_reason(s, len);
    case API_K_LOCALE:
        return locale_reason(s, len);
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
api_check_token(const struct api_rules *rules, enum hd_provider p,
                const char *s, size_t len, const char *path, struct hd_err *err)
{
    char buf[64];
    const char *why = token_reason(p, s, len, buf, sizeof(buf));

    if (why != NULL)
        return hd_err_set(err, HD_EINVAL, "%s: %s", path, why);
    if (p == HD_PROVIDER_WEBPUSH &&
        api_webpush_check(rules->webpush, s, len, NULL, err) < 0)
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

int
api_get_op(json_t *obj, const char *prefix, const char **out,
           struct hd_err *err)
{
    const char *op = NULL;
    char path[PATH_MAX_LEN];

    if (api_get_str(obj, prefix, "op", API_K_ID, 1, &op, err) < 0)
        return -1;
    if (strcmp(op, "add") != 0 && strcmp(op, "remove") != 0 &&
        strcmp(op, "set") != 0) {
        path_of(path, sizeof(path), prefix, "op");
        return hd_err_set(err, HD_EINVAL, "%s: must be one of add, remove, set",
                          path);
    }
    *out = op;
    return 0;
}

int
api_cursor_encode(const char *key, struct hd_buf *out, struct hd_err *err)
{
    hd_buf_reset(out);
    return hd_base64url_encode(key, strlen(key), out, err);
}

int
api_get_cursor(json_t *obj, const char *prefix, char *out, size_t outsz,
               struct hd_err *err)
{
    json_t *v = json_object_get(obj, "cursor");
    char path[PATH_MAX_LEN];
    struct hd_buf b;
    int ok;

    out[0] = '\0';
    if (v == NULL || json_is_null(v) ||
        (json_is_string(v) && json_string_length(v) == 0))
        return 0;
    path_of(path, sizeof(path), prefix, "cursor");
    if (!json_is_string(v) || json_string_length(v) > API_CURSOR_MAX)
        return hd_err_set(err, HD_EINVAL,
                          "%s: not a cursor returned by this method", path);
    hd_buf_init(&b, outsz - 1);
    ok = hd_base64url_decode(json_string_value(v), json_string_length(v), &b,
                             NULL) == 0 &&
         b.len > 0 && b.len < outsz && memchr(b.data, '\0', b.len) == NULL;
    if (ok) {
        memcpy(out, b.data, b.len);
        out[b.len] = '\0';
    }
    hd_buf_release(&b);
    if (!ok)
        return hd_err_set(err, HD_EINVAL,
                          "%s: not a cursor returned by this method", path);
    return 0;
}
