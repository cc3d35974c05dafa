/* log.h -- one JSON object per line on stderr.
 *
 * hd_log(level, errnum, fmt, ...) checks the level before its arguments
 * are evaluated. Each line carries the service name, the level, the
 * message, the errno text when errnum != 0, and the calling thread's
 * context fields (req_id, topic/partition/offset, provider, ...), attached
 * once per request or message with hd_log_ctx_set() rather than repeated at
 * each call. Messages and context values are scrubbed: bearer tokens, API
 * keys, JWTs and key=value pairs whose key names a secret are masked
 * before the line is written. Lines are written with one write(2), so
 * lines from several threads never interleave.
 *
 * The minimum level is the one piece of process-wide mutable state besides
 * the shutdown flag: it is set once by hd_log_init() before threads start. */
#ifndef HD_LOG_H
#define HD_LOG_H

#include <stddef.h>

enum hd_log_level {
    HD_LOG_DEBUG = 0,
    HD_LOG_INFO,
    HD_LOG_WARN,
    HD_LOG_ERROR,
    HD_LOG_FATAL,
};

extern int hd_log_min_level;

#define hd_log(level, errnum, ...)                                             \
    do {                                                                       \
        if ((int)(level) >= hd_log_min_level)                                  \
            hd_log_emit((level), (errnum), __VA_ARGS__);                       \
    } while (0)

/* Sets the service name (borrowed: a string literal) and minimum level.
 * Call once from main() before starting threads. */
void hd_log_init(const char *service, enum hd_log_level min);

/* Parses "debug", "info", "warn", "error" (case-insensitive).
 * Returns 0 or -1. */
int hd_log_level_parse(const char *s, enum hd_log_level *out);

/* Writes one line. Use the hd_log() macro instead. */
void hd_log_emit(int level, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Attaches key=value to every line this thread logs until unset or
 * cleared. key is borrowed (use a string literal); the value is copied and
 * truncated to HD_LOG_CTX_VALUE_MAX. Setting an existing key replaces it. */
void hd_log_ctx_set(const char *key, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void hd_log_ctx_unset(const char *key);
void hd_log_ctx_clear(void);

/* Writes a safe fingerprint of a secret or device token into out: its
 * first 4 characters, an ellipsis and its length ("dGhp...(152)").
 * Returns out. */
char *hd_log_redact(const char *secret, char *out, size_t outlen);

/* Masks secrets inside text in place (exposed for tests): "Bearer X",
 * "apikey X", JWTs, and key=value / key: value / "key":"value" pairs whose
 * key contains token, secret, password, key, authorization, assertion or
 * dsn (a quoted value is masked up to its closing quote). A key whose last
 * part says it is about a secret rather than the secret (_FILE, _PATH,
 * _DIR, _ID, _URL, _TTL, ...) is shown, and so is an error label such as
 * "HERALD_API_KEY: required but not set". */
void hd_log_scrub(char *text);

#endif
