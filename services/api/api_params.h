/* api_params.h -- typed, bounded reading of server-API params.
 *
 * Every string has a kind with a length bound and a character rule (ids:
 * no control characters; APNs tokens hex; FCM/HMS tokens printable ASCII;
 * providers and platforms from fixed sets). Errors name the field as the
 * client wrote it, HD_EINVAL (107) or HD_ETOOBIG for a list or map over
 * its limit (106); unknown params are ignored, or refused by name in
 * strict mode. Values are borrowed from the params object. Pure functions:
 * the settings they follow come in a struct api_rules (the api context's,
 * made at start-up and only read after). */
#ifndef API_PARAMS_H
#define API_PARAMS_H

#include <jansson.h>
#include <stddef.h>

#include "core/buf.h"
#include "core/err.h"
#include "proto/msg.h"

#define API_APP_DEFAULT "default"
#define API_APP_MAX 64      /* app namespace name */
#define API_MAP_KEYS_MAX 64 /* keys in meta or tags */
#define API_MAP_KEY_MAX 128 /* one meta/tags key */
#define API_HEADERS_MAX 16  /* apns.headers entries */
#define API_HEADER_MAX 256  /* one apns header value */
#define API_LIMIT_DEFAULT 100
#define API_TOPIC_NAME_MAX 900          /* FCM/HMS topic or condition */
#define API_EXPIRE_AT_MAX 32503680000LL /* 3000-01-01, Unix seconds */

enum api_kind {
    API_K_ID = 0,   /* device ids, uids, identifiers: 1..HD_ID_MAX */
    API_K_USER,     /* user ids: 0..HD_ID_MAX ("" = no user) */
    API_K_CHANNEL,  /* 1..HD_CHANNEL_MAX */
    API_K_PROVIDER, /* fcm | apns | hms */
    API_K_PLATFORM, /* ios | android | web */
    API_K_TOKEN,    /* any provider's token (a filter) */
    API_K_APP,      /* [A-Za-z0-9._-], 1..API_APP_MAX */
    API_K_CURSOR,   /* a keyset cursor: 0..HD_ID_MAX */
    API_K_TIMEZONE, /* an IANA name in the system tz database, or "" */
    API_K_LOCALE,   /* a BCP 47 language tag, or "" */
};

/* A topic is what the draft called a channel: same bounds. */
#define API_K_TOPIC API_K_CHANNEL

#define API_LOCALE_MAX 35 /* BCP 47: the longest tag worth storing */
#define API_TZ_MAX 64     /* longest IANA name (about 32 today) */
#define API_CURSOR_MAX 512

struct hd_webpush_guard;

/* The settings request params are checked by: the api context's (set at
 * start-up, read-only after), or a test's own. */
struct api_rules {
    /* unknown params: 0 (the default) ignores them, as Centrifugo does; 1
     * refuses them by name (HERALD_API_STRICT_PARAMS) */
    int strict;
    /* the Web Push origin allowlist (api_webpush.h); NULL refuses every
     * subscription as not configured */
    const struct hd_webpush_guard *webpush;
};

/* In strict mode fails naming the first member of obj whose name is not
 * in known (NULL-terminated); otherwise 0. prefix is obj's path
 * ("params"). */
int api_params_known(const struct api_rules *rules, json_t *obj,
                     const char *prefix, const char *const *known,
                     struct hd_err *err);

/* Checks one string of a kind; path names it in err. 0 or -1. */
int api_check_str(enum api_kind k, const char *s, size_t len, const char *path,
                  struct hd_err *err);

/* Checks a device token for its provider: FCM and HMS printable ASCII
 * without spaces, APNs hexadecimal, each within its provider's length. */
int api_check_token(const struct api_rules *rules, enum hd_provider p,
                    const char *s, size_t len, const char *path,
                    struct hd_err *err);

/* A string member of a kind. Returns 1 (found, *out borrowed), 0 (absent
 * or null, and not required), -1 with err. */
int api_get_str(json_t *obj, const char *prefix, const char *key,
                enum api_kind k, int required, const char **out,
                struct hd_err *err);

/* An array of strings of a kind with at most max items (more is
 * HD_ETOOBIG). allow_empty 0 refuses []. Returns 1/0/-1 as above; *out is
 * the borrowed array. */
int api_get_list(json_t *obj, const char *prefix, const char *key,
                 enum api_kind k, size_t max, int allow_empty, json_t **out,
                 struct hd_err *err);

/* A map<string,string> (meta, tags): at most API_MAP_KEYS_MAX keys of
 * 1..API_MAP_KEY_MAX characters, string values, at most HD_META_MAX bytes
 * serialised. Returns 1/0/-1; *out borrowed. */
int api_get_map(json_t *obj, const char *prefix, const char *key, json_t **out,
                struct hd_err *err);

/* A boolean member (absent = 0). 0 or -1. */
int api_get_flag(json_t *obj, const char *prefix, const char *key, int *out,
                 struct hd_err *err);

/* "limit": absent or 0 gives def, otherwise 1..max. 0 or -1. */
int api_get_limit(json_t *obj, const char *prefix, int def, int max, int *out,
                  struct hd_err *err);

/* "app" (Herald extension): absent gives API_APP_DEFAULT. 0 or -1. */
int api_get_app(json_t *obj, const char *prefix, const char **out,
                struct hd_err *err);

/* "op": add | remove | set (required). 0 or -1. */
int api_get_op(json_t *obj, const char *prefix, const char **out,
               struct hd_err *err);

/* An opaque list cursor: the keyset key, base64url-encoded. Encodes key
 * into out (reset first); 0 or -1. */
int api_cursor_encode(const char *key, struct hd_buf *out, struct hd_err *err);
/* Reads obj.cursor (absent or "" gives "") into out (NUL-terminated, at
 * most outsz - 1 bytes). 0 or -1 (107 naming the field). */
int api_get_cursor(json_t *obj, const char *prefix, char *out, size_t outsz,
                   struct hd_err *err);

/* The serialised size of v, compact (0 if it cannot be serialised). */
size_t api_json_size(json_t *v);

#endif
