/* log.c -- the JSON-lines logger.
 *
 * Each thread formats into its own buffer and writes the finished line with
 * a single write(2): no lock, no interleaving. The scrubber runs over the
 * formatted message and over context values, because callers format
 * arbitrary strings (URLs, provider replies) that may hold secrets. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/banned.h"

int hd_log_min_level = HD_LOG_INFO;
static const char *log_service = "herald";

struct ctx_field {
    const char *key;
    char value[HD_LOG_CTX_VALUE_MAX];
};

static _Thread_local struct ctx_field tctx[HD_LOG_CTX_FIELDS];
static _Thread_local int tctx_n;

static const char *const level_names[] = {"debug", "info", "warn", "error",
                                          "fatal"};

void
hd_log_init(const char *service, enum hd_log_level min)
{
    log_service = service;
    hd_log_min_level = (int)min;
}

int
hd_log_level_parse(const char *s, enum hd_log_level *out)
{
    int i;

    for (i = 0; i <= HD_LOG_ERROR; i++) {
        if (strcasecmp(s, level_names[i]) == 0) {
            *out = (enum hd_log_level)i;
            return 0;
        }
    }
    if (strcasecmp(s, "warning") == 0) {
        *out = HD_LOG_WARN;
        return 0;
    }
    return -1;
}

/* Does a key name a secret? It must contain one of the words below, and
 * its last part must not be one that names something about a secret rather
 * than the secret itself: HERALD_JWT_PUBLIC_KEY_FILE is a path,
 * HERALD_APNS_KEY_ID an identifier, HERALD_WORKER_FCM_TOKEN_URL an
 * address, and operators need to see them. */
static int
secret_key(const char *k, size_t n)
{
    static const char *const words[] = {"token",     "secret", "password",
                                        "passwd",    "key",    "authorization",
                                        "assertion", "dsn",    NULL};
    static const char *const not_secret[] = {
        "file", "files", "path", "dir", "id",  "ids", "url", "uri",
        "type", "ttl",   "s",    "ms",  "len", "max", "min", NULL};
    const char *last;
    char low[64];
    size_t i;
    int hit = 0;

    if (n == 0 || n >= sizeof(low))
        return 0;
    for (i = 0; i < n; i++)
        low[i] = (char)tolower((unsigned char)k[i]);
    low[n] = '\0';
    for (i = 0; words[i] && !hit; i++)
        hit = strstr(low, words[i]) != NULL;
    if (!hit)
        return 0;
    last = low + strcspn(low, "_-");
    if (*last == '\0')
        return 1; /* one word: "token", "apikey" */
    last = low + n;
    while (last > low && last[-1] != '_' && last[-1] != '-')
        last--;
    for (i = 0; not_secret[i]; i++)
        if (strcmp(last, not_secret[i]) == 0)
            return 0;
    return 1;
}

/* "HERALD_NAME: " opening a message, or a part of one after ": ", is how
 * error messages name a variable ("bad configuration: HERALD_API_KEY:
 * required but not set"), not how a value is shown: values are assigned
 * with '=' or quoted as JSON, and those are still masked. */
static int
config_label(const char *text, size_t ks, size_t ke)
{
    int starts_part =
        ks == 0 || (ks >= 2 && text[ks - 2] == ':' && text[ks - 1] == ' ');

    return starts_part && ke - ks > 7 &&
           strncmp(text + ks, "HERALD_", 7) == 0 && text[ke] == ':' &&
           text[ke + 1] == ' ';
}

static int
tokchar(char c)
{
    return isalnum((unsigned char)c) || c == '-' || c == '_' || c == '.' ||
           c == '+' || c == '/' || c == '=' || c == '~' || c == ':' || c == '%';
}

/* An unquoted JSON literal (true, false, null, a number) at text[v], as
 * the value of a JSON member: a boolean or integer setting in the
 * configuration dump (HERALD_API_CLEAR_TOKEN_RATE), never a secret, which
 * the dump always shows as a quoted "(set)". */
static int
json_literal(const char *text, size_t v, int member, int quoted)
{
    size_t n = 0;

    if (!member || quoted)
        return 0;
    if (strncmp(text + v, "true", 4) == 0 || strncmp(text + v, "null", 4) == 0)
        n = 4;
    else if (strncmp(text + v, "false", 5) == 0)
        n = 5;
    else {
        if (text[v] == '-')
            n++;
        while (isdigit((unsigned char)text[v + n]))
            n++;
        if (n == 0 || !isdigit((unsigned char)text[v + n - 1]))
            return 0;
    }
    return text[v + n] == ',' || text[v + n] == '}' || text[v + n] == ']';
}

/* Replaces text[from..end) with "***" (or as many '*' when shorter);
 * returns the index just past the mask. */
static size_t
mask_span(char *text, size_t from, size_t end)
{
    size_t len;

    if (end == from)
        return from;
    len = strlen(text + end);
    if (end - from >= 3) {
        memcpy(text + from, "***", 3);
        memmove(text + from + 3, text + end, len + 1);
        return from + 3;
    }
    memset(text + from, '*', end - from);
    return end;
}

/* Masks text[from..] up to the end of the token. */
static size_t
mask_from(char *text, size_t from)
{
    size_t end = from;

    while (text[end] && tokchar(text[end]))
        end++;
    return mask_span(text, from, end);
}

/* Masks a quoted value that starts at text[from] up to its closing quote
 * (a PEM key or a secret with spaces is one value), or to the end. */
static size_t
mask_quoted(char *text, size_t from)
{
    size_t end = from;

    while (text[end] && text[end] != '"') {
        if (text[end] == '\\' && text[end + 1])
            end++;
        end++;
    }
    return mask_span(text, from, end);
}

void
hd_log_scrub(char *text)
{
    size_t i = 0;

    while (text[i]) {
        /* the words below start with a, b or e: most bytes start none */
        char c = (char)(text[i] | 0x20);

        if (c != 'a' && c != 'b' && c != 'e' && text[i] != '=' &&
            text[i] != ':') {
            i++;
            continue;
        }
        /* "Bearer X", "apikey X", "Basic X", "key=X" */
        if ((strncasecmp(text + i, "bearer ", 7) == 0 ||
             strncasecmp(text + i, "apikey ", 7) == 0) &&
            (i == 0 || !isalnum((unsigned char)text[i - 1]))) {
            i = mask_from(text, i + 7);
            continue;
        }
        if (strncasecmp(text + i, "basic ", 6) == 0 &&
            (i == 0 || !isalnum((unsigned char)text[i - 1]))) {
            i = mask_from(text, i + 6);
            continue;
        }
        /* a JWT: eyJ...<dot>...<dot>... */
        if (strncmp(text + i, "eyJ", 3) == 0 &&
            (i == 0 || !tokchar(text[i - 1]))) {
            size_t end = i;
            int dots = 0;

            while (text[end] && tokchar(text[end])) {
                if (text[end] == '.')
                    dots++;
                end++;
            }
            if (dots >= 1) {
                i = mask_from(text, i);
                continue;
            }
        }
        /* key=value, key: value, "key":"value" */
        if (text[i] == '=' || text[i] == ':') {
            size_t ke = i;
            size_t ks;
            size_t v = i + 1;

            if (ke > 0 && text[ke - 1] == '"')
                ke--;
            ks = ke;
            while (ks > 0 && (isalnum((unsigned char)text[ks - 1]) ||
                              text[ks - 1] == '_' || text[ks - 1] == '-'))
                ks--;
            if (secret_key(text + ks, ke - ks) && !config_label(text, ks, ke)) {
                int quoted = 0;

                while (text[v] == ' ' || text[v] == '"') {
                    quoted = text[v] == '"';
                    v++;
                }
                /* "(set)" is a redaction already; a variable's name is
                 * not its value */
                if (text[v] && tokchar(text[v]) &&
                    !json_literal(text, v, text[ke] == '"', quoted) &&
                    strncasecmp(text + v, "bearer ", 7) != 0 &&
                    strncasecmp(text + v, "apikey ", 7) != 0 &&
                    strncmp(text + v, "HERALD_", 7) != 0 &&
                    strncmp(text + v, "***", 3) != 0) {
                    i = quoted ? mask_quoted(text, v) : mask_from(text, v);
                    continue;
                }
            }
        }
        i++;
    }
}

char *
hd_log_redact(const char *secret, char *out, size_t outlen)
{
    size_t n;

    if (secret == NULL) {
        snprintf(out, outlen, "(null)");
        return out;
    }
    n = strlen(secret);
    if (n <= 8)
        snprintf(out, outlen, "***(%zu)", n);
    else
        snprintf(out, outlen, "%.4s...(%zu)", secret, n);
    return out;
}

void
hd_log_ctx_set(const char *key, const char *fmt, ...)
{
    struct ctx_field *f = NULL;
    va_list ap;
    int i;

    for (i = 0; i < tctx_n; i++) {
        if (strcmp(tctx[i].key, key) == 0) {
            f = &tctx[i];
            break;
        }
    }
    if (f == NULL) {
        if (tctx_n == HD_LOG_CTX_FIELDS)
            return;
        f = &tctx[tctx_n++];
        f->key = key;
    }
    va_start(ap, fmt);
    if (strcmp(fmt, "%s") == 0) {
        /* the common case (a request id): what vsnprintf would copy */
        const char *v = va_arg(ap, const char *);
        size_t n;

        if (v == NULL)
            v = "(null)";
        n = strnlen(v, sizeof(f->value) - 1);

        memcpy(f->value, v, n);
        f->value[n] = '\0';
    } else {
        vsnprintf(f->value, sizeof(f->value), fmt, ap);
    }
    va_end(ap);
    hd_log_scrub(f->value);
}

void
hd_log_ctx_unset(const char *key)
{
    int i;

    for (i = 0; i < tctx_n; i++) {
        if (strcmp(tctx[i].key, key) == 0) {
            tctx[i] = tctx[tctx_n - 1];
            tctx_n--;
            return;
        }
    }
}

void
hd_log_ctx_clear(void)
{
    tctx_n = 0;
}

static void
put_field(struct hd_buf *b, const char *k, const char *v)
{
    hd_buf_puts(b, ",\"", NULL);
    hd_buf_json_escape(b, k, strlen(k), NULL);
    hd_buf_puts(b, "\":\"", NULL);
    hd_buf_json_escape(b, v, strlen(v), NULL);
    hd_buf_putc(b, '"', NULL);
}

void
hd_log_emit(int level, int errnum, const char *fmt, ...)
{
    static _Thread_local char line[HD_LOG_LINE_MAX];
    char msg[HD_LOG_LINE_MAX / 2]; /* on the stack: 16 KiB */
    char ts[40];
    char ebuf[128];
    struct hd_buf b;
    va_list ap;
    int i;

    if (level < HD_LOG_DEBUG || level > HD_LOG_FATAL)
        level = HD_LOG_ERROR;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    hd_log_scrub(msg);
    hd_time_rfc3339(hd_now_wall_ms(), ts, sizeof(ts));

    /* A stack-backed hd_buf would need a different allocator; format into a
     * heap buffer bounded by the line limit and copy out. */
    hd_buf_init(&b, sizeof(line) - 2);
    hd_buf_printf(&b, NULL, "{\"ts\":\"%s\",\"level\":\"%s\",\"service\":\"",
                  ts, level_names[level]);
    hd_buf_json_escape(&b, log_service, strlen(log_service), NULL);
    hd_buf_puts(&b, "\",\"msg\":\"", NULL);
    if (hd_buf_json_escape(&b, msg, strlen(msg), NULL) < 0)
        hd_buf_puts(&b, "(message too long)", NULL);
    hd_buf_putc(&b, '"', NULL);
    if (errnum) {
        snprintf(ebuf, sizeof(ebuf), "%d", errnum);
        put_field(&b, "errno", ebuf);
        put_field(&b, "error", strerror_r(errnum, ebuf, sizeof(ebuf)));
    }
    for (i = 0; i < tctx_n; i++)
        put_field(&b, tctx[i].key, tctx[i].value);
    if (b.len + 2 <= sizeof(line)) {
        memcpy(line, b.data, b.len);
        line[b.len] = '}';
        line[b.len + 1] = '\n';
        (void)!write(STDERR_FILENO, line, b.len + 2);
    }
    hd_buf_release(&b);
}
