/* json.h -- typed field access on jansson objects, filling struct hd_err.
 *
 * Every getter checks presence, type and bounds, and names the field in
 * the error ("params.limit: must be an integer between 1 and 1000"). The
 * prefix argument is the path of obj, for error messages ("" at the top).
 * Returned strings and objects are borrowed from obj (valid while obj
 * lives); nothing here allocates except hd_json_dump() and
 * hd_json_put_str() (into the caller's buffer). Thread-safe on
 * distinct objects. */
#ifndef HD_JSON_H
#define HD_JSON_H

#include <jansson.h>
#include <stddef.h>

#include "core/buf.h"
#include "core/err.h"

/* Return 1 if found and valid, 0 if absent (or null) and optional, -1 on
 * error (wrong type, out of range, or absent and required). */
int hd_json_str(json_t *obj, const char *prefix, const char *key, int required,
                size_t maxlen, const char **out, struct hd_err *err);
int hd_json_int(json_t *obj, const char *prefix, const char *key, int required,
                long long min, long long max, long long *out,
                struct hd_err *err);
int hd_json_bool(json_t *obj, const char *prefix, const char *key, int required,
                 int *out, struct hd_err *err);
/* An object (borrowed). */
int hd_json_obj(json_t *obj, const char *prefix, const char *key, int required,
                json_t **out, struct hd_err *err);
/* An array of at most maxn strings each at most maxlen long (borrowed). */
int hd_json_str_array(json_t *obj, const char *prefix, const char *key,
                      int required, size_t maxn, size_t maxlen, json_t **out,
                      struct hd_err *err);

/* Case-insensitive member lookup, for Bitwarden bodies that arrive in
 * PascalCase or camelCase. Borrowed; NULL when absent. */
json_t *hd_json_get_ci(json_t *obj, const char *key);

/* Parses at most len bytes as one JSON value (new). NULL with err set on
 * bad JSON, naming line and column. */
json_t *hd_json_parse(const char *data, size_t len, struct hd_err *err);

/* Serialises v compactly into out (appending). 0 or -1 (HD_ETOOBIG). */
int hd_json_dump(json_t *v, struct hd_buf *out, struct hd_err *err);

/* Appends s as one JSON string, quotes included, for encoders that write
 * JSON without building a jansson tree. 0, or -1 with HD_EINVAL when s is
 * not valid UTF-8 (jansson would refuse it) or HD_ETOOBIG; out is then
 * unchanged. */
int hd_json_put_str(struct hd_buf *out, const char *s, struct hd_err *err);

#endif
