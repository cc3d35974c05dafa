/* json.c -- checked jansson access.
 *
 * jansson returns NULL for absent keys and happily hands back a string
 * where an integer was expected; every Herald handler would need the same
 * five checks, so they live here once. */
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "core/json.h"
#include "core/banned.h"

#define FIELD_FMT "%s%s%s"
#define FIELD_ARGS(p, k) (p), ((p)[0] ? "." : ""), (k)

static json_t *
field(json_t *obj, const char *key)
{
    json_t *v;

    if (!json_is_object(obj))
        return NULL;
    v = json_object_get(obj, key);
    return json_is_null(v) ? NULL : v;
}

static int
absent(const char *prefix, const char *key, int required, struct hd_err *err)
{
    if (required)
        return hd_err_set(err, HD_EINVAL, FIELD_FMT ": required",
                          FIELD_ARGS(prefix, key));
    return 0;
}

int
hd_json_str(json_t *obj, const char *prefix, const char *key, int required,
            size_t maxlen, const char **out, struct hd_err *err)
{
    json_t *v = field(obj, key);

    if (v == NULL)
        return absent(prefix, key, required, err);
    if (!json_is_string(v))
        return hd_err_set(err, HD_EINVAL, FIELD_FMT ": must be a string",
                          FIELD_ARGS(prefix, key));
    if (json_string_length(v) > maxlen)
        return hd_err_set(err, HD_EINVAL,
                          FIELD_FMT ": longer than %zu characters",
                          FIELD_ARGS(prefix, key), maxlen);
    if (strlen(json_string_value(v)) != json_string_length(v))
        return hd_err_set(err, HD_EINVAL, FIELD_FMT ": contains NUL",
                          FIELD_ARGS(prefix, key));
    *out = json_string_value(v);
    return 1;
}

int
hd_json_int(json_t *obj, const char *prefix, const char *key, int required,
            long long min, long long max, long long *out, struct hd_err *err)
{
    json_t *v = field(obj, key);
    long long n;

    if (v == NULL)
        return absent(prefix, key, required, err);
    if (!json_is_integer(v))
        return hd_err_set(err, HD_EINVAL, FIELD_FMT ": must be an integer",
                          FIELD_ARGS(prefix, key));
    n = json_integer_value(v);
    if (n < min || n > max)
        return hd_err_set(err, HD_EINVAL,
                          FIELD_FMT ": must be between %lld and %lld",
                          FIELD_ARGS(prefix, key), min, max);
    *out = n;
    return 1;
}

int
hd_json_bool(json_t *obj, const char *prefix, const char *key, int required,
             int *out, struct hd_err *err)
{
    json_t *v = field(obj, key);

    if (v == NULL)
        return absent(prefix, key, required, err);
    if (!json_is_boolean(v))
        return hd_err_set(err, HD_EINVAL, FIELD_FMT ": must be a boolean",
                          FIELD_ARGS(prefix, key));
    *out = json_is_true(v);
    return 1;
}

int
hd_json_obj(json_t *obj, const char *prefix, const char *key, int required,
            json_t **out, struct hd_err *err)
{
    json_t *v = field(obj, key);

    if (v == NULL)
        return absent(prefix, key, required, err);
    if (!json_is_object(v))
        return hd_err_set(err, HD_EINVAL, FIELD_FMT ": must be an object",
                          FIELD_ARGS(prefix, key));
    *out = v;
    return 1;
}

int
hd_json_str_array(json_t *obj, const char *prefix, const char *key,
                  int required, size_t maxn, size_t maxlen, json_t **out,
                  struct hd_err *err)
{
    json_t *v = field(obj, key);
    json_t *e;
    size_t i;

    if (v == NULL)
        return absent(prefix, key, required, err);
    if (!json_is_array(v))
        return hd_err_set(err, HD_EINVAL,
                          FIELD_FMT ": must be an array of strings",
                          FIELD_ARGS(prefix, key));
    if (json_array_size(v) > maxn)
        return hd_err_set(err, HD_EINVAL, FIELD_FMT ": more than %zu items",
                          FIELD_ARGS(prefix, key), maxn);
    json_array_foreach(v, i, e)
    {
        if (!json_is_string(e))
            return hd_err_set(err, HD_EINVAL,
                              FIELD_FMT "[%zu]: must be a string",
                              FIELD_ARGS(prefix, key), i);
        if (json_string_length(e) == 0 || json_string_length(e) > maxlen)
            return hd_err_set(err, HD_EINVAL,
                              FIELD_FMT "[%zu]: must be 1 to %zu characters",
                              FIELD_ARGS(prefix, key), i, maxlen);
    }
    *out = v;
    return 1;
}

json_t *
hd_json_get_ci(json_t *obj, const char *key)
{
    const char *k;
    json_t *v;

    if (!json_is_object(obj))
        return NULL;
    v = json_object_get(obj, key);
    if (v)
        return v;
    json_object_foreach(obj, k, v)
    {
        if (strcasecmp(k, key) == 0)
            return v;
    }
    return NULL;
}

json_t *
hd_json_parse(const char *data, size_t len, struct hd_err *err)
{
    json_error_t je;
    json_t *v = json_loadb(data, len, JSON_REJECT_DUPLICATES, &je);

    if (v == NULL)
        hd_err_set(err, HD_EINVAL, "invalid JSON at line %d column %d: %s",
                   je.line, je.column, je.text);
    return v;
}

/* jansson ignores the callback's failure when it writes an object's key
 * (and goes on with ':' and the value), so the first failure sticks:
 * every later write fails too and the dump is refused as a whole. */
struct dump_ctx {
    struct hd_buf *b;
    int failed;
};

static int
dump_cb(const char *p, size_t n, void *ud)
{
    struct dump_ctx *d = ud;

    if (d->failed || hd_buf_append(d->b, p, n, NULL) < 0) {
        d->failed = 1;
        return -1;
    }
    return 0;
}

int
hd_json_dump(json_t *v, struct hd_buf *out, struct hd_err *err)
{
    struct dump_ctx d = {out, 0};
    size_t start = out->len;

    if (json_dump_callback(v, dump_cb, &d, JSON_COMPACT | JSON_ENCODE_ANY) <
            0 ||
        d.failed) {
        out->len = start;
        if (out->data)
            out->data[start] = '\0';
        return hd_err_set(err, HD_ETOOBIG, "JSON larger than %zu bytes",
                          out->max);
    }
    return 0;
}

/* The length of the valid UTF-8 sequence at s (n bytes left), 0 when it
 * is not one: overlong forms, surrogates and code points past U+10FFFF
 * are refused, as jansson does. */
static size_t
utf8_seq(const unsigned char *s, size_t n)
{
    uint32_t cp;
    size_t len, i;

    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        len = 2;
        cp = s[0] & 0x1fu;
    } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        len = 3;
        cp = s[0] & 0x0fu;
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        len = 4;
        cp = s[0] & 0x07u;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3fu);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
        return 0;
    return len;
}

int
hd_json_put_str(struct hd_buf *out, const char *s, struct hd_err *err)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t n = strlen(s), i, k, start = out->len;

    for (i = 0; i < n; i += k) {
        k = u[i] < 0x80 ? 1 : utf8_seq(u + i, n - i);
        if (k == 0)
            return hd_err_set(err, HD_EINVAL, "string is not valid UTF-8");
    }
    if (hd_buf_putc(out, '"', err) < 0 ||
        hd_buf_json_escape(out, s, n, err) < 0 ||
        hd_buf_putc(out, '"', err) < 0) {
        out->len = start;
        if (out->data)
            out->data[start] = '\0';
        return -1;
    }
    return 0;
}
