/* config.c -- HERALD_* variables to structs, following the field tables.
 *
 * Loading is all-or-nothing: defaults are applied first, then each set
 * variable is parsed; the first bad value stops the load with a message
 * that names it. Secret values never appear in messages or dumps. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/alloc.h"
#include "core/config.h"
#include "core/limits.h"
#include "core/banned.h"

extern char **environ;

int
hd_parse_ll(const char *s, long long min, long long max, long long *out)
{
    char *end;
    long long v;

    if (s == NULL || *s == '\0')
        return -1;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0')
        return -1;
    if (v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int
hd_parse_int(const char *s, int min, int max, int *out)
{
    long long v;

    if (hd_parse_ll(s, min, max, &v) < 0)
        return -1;
    *out = (int)v;
    return 0;
}

static int
parse_bool(const char *s, int *out)
{
    static const char *const yes[] = {"1", "true", "yes", "on", NULL};
    static const char *const no[] = {"0", "false", "no", "off", NULL};
    int i;

    for (i = 0; yes[i]; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = 1;
            return 0;
        }
    }
    for (i = 0; no[i]; i++) {
        if (strcasecmp(s, no[i]) == 0) {
            *out = 0;
            return 0;
        }
    }
    return -1;
}

static int
in_choices(const char *choices, const char *v)
{
    size_t n = strlen(v);
    const char *p = choices;

    while (*p) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);

        if (len == n && strncmp(p, v, n) == 0)
            return 1;
        if (bar == NULL)
            break;
        p = bar + 1;
    }
    return 0;
}

/* Parses text into the field. from_env says whether to blame the variable
 * (a bad default is a programming error, reported the same way). */
static int
set_field(const struct hd_config_field *f, void *base, const char *text,
          struct hd_err *err)
{
    char *dst = (char *)base + f->offset;
    const char *shown = (f->flags & HD_CFG_SECRET) ? "(secret)" : text;

    switch (f->type) {
    case HD_CFG_T_INT: {
        long long v;

        if (hd_parse_ll(text, f->min, f->max, &v) < 0)
            return hd_err_set(err, HD_EINVAL,
                              "%s: must be an integer between %lld and %lld "
                              "(got \"%.64s\")",
                              f->name, f->min, f->max, shown);
        *(int *)(void *)dst = (int)v;
        return 0;
    }
    case HD_CFG_T_BOOL: {
        int v;

        if (parse_bool(text, &v) < 0)
            return hd_err_set(err, HD_EINVAL,
                              "%s: must be " HD_CFG_BOOL_WORDS
                              " (got \"%.64s\")",
                              f->name, shown);
        *(int *)(void *)dst = v;
        return 0;
    }
    case HD_CFG_T_STR: {
        char **sp = (char **)(void *)dst;

        if ((long long)strlen(text) > f->max)
            return hd_err_set(err, HD_EINVAL, "%s: longer than %lld characters",
                              f->name, f->max);
        if (f->choices && !in_choices(f->choices, text))
            return hd_err_set(err, HD_EINVAL,
                              "%s: must be one of %s (got \"%.64s\")", f->name,
                              f->choices, shown);
        free(*sp);
        *sp = hd_xstrdup(text);
        return 0;
    }
    case HD_CFG_T_END:
        break;
    }
    return hd_err_set(err, HD_EINVAL, "%s: unknown field type", f->name);
}

/* Looks a variable up in the environment (the only getenv() in the tree).
 * An empty value counts as unset, as shells make "X=" easy to write. */
static const char *
env_get(const char *name)
{
    const char *v = getenv(name);

    return (v && *v) ? v : NULL;
}

int
hd_config_load(const struct hd_config_section *secs, size_t n,
               struct hd_err *err)
{
    size_t s;

    /* Every string starts NULL, so a failure can release them all. */
    for (s = 0; s < n; s++) {
        const struct hd_config_field *f;

        for (f = secs[s].fields; f->type != HD_CFG_T_END; f++)
            if (f->type == HD_CFG_T_STR)
                *(char **)(void *)((char *)secs[s].base + f->offset) = NULL;
    }
    for (s = 0; s < n; s++) {
        const struct hd_config_field *f;

        for (f = secs[s].fields; f->type != HD_CFG_T_END; f++) {
            const char *v = env_get(f->name);

            if (v == NULL && (f->flags & HD_CFG_REQUIRED)) {
                hd_config_release(secs, n);
                return hd_err_set(err, HD_EINVAL, "%s: required but not set",
                                  f->name);
            }
            if (v == NULL)
                v = f->def;
            if (v == NULL)
                continue;
            if (set_field(f, secs[s].base, v, err) < 0) {
                hd_config_release(secs, n);
                return -1;
            }
        }
    }
    return 0;
}

/* The field called name (len bytes), or NULL. */
static const struct hd_config_field *
find_field(const struct hd_config_section *secs, size_t n, const char *name,
           size_t len, void **base)
{
    size_t s;

    for (s = 0; s < n; s++) {
        const struct hd_config_field *f;

        for (f = secs[s].fields; f->type != HD_CFG_T_END; f++)
            if (strlen(f->name) == len && memcmp(f->name, name, len) == 0) {
                *base = secs[s].base;
                return f;
            }
    }
    return NULL;
}

/* Undoes POSIX shell quoting of a value, in place: 'a'\''b' is a'b (the
 * way scripts/run.sh writes var/stack.env), "a b" is a b, anything else
 * stays as it is. -1 for an unterminated quote. */
static int
sh_unquote(char *v)
{
    const char *p = v;
    char *o = v;
    size_t len = strlen(v);

    if (len >= 2 && v[0] == '"' && v[len - 1] == '"') {
        memmove(v, v + 1, len - 2);
        v[len - 2] = '\0';
        return 0;
    }
    if (v[0] != '\'')
        return 0;
    while (*p) {
        if (*p == '\'') {
            const char *end = strchr(p + 1, '\'');

            if (end == NULL)
                return -1;
            memmove(o, p + 1, (size_t)(end - p - 1));
            o += end - p - 1;
            p = end + 1;
        } else if (*p == '\\' && p[1] != '\0') {
            *o++ = p[1];
            p += 2;
        } else {
            *o++ = *p++;
        }
    }
    *o = '\0';
    return 0;
}

/* One NAME=value line (without its newline). */
static int
file_line(const struct hd_config_section *secs, size_t n, char *line,
          struct hd_err *err)
{
    const struct hd_config_field *f;
    char *eq;
    void *base = NULL;

    while (*line == ' ' || *line == '\t')
        line++;
    if (strncmp(line, "export ", 7) == 0)
        line += 7;
    if (*line == '#')
        return 0;
    eq = strchr(line, '=');
    if (eq == NULL)
        return 0;
    f = find_field(secs, n, line, (size_t)(eq - line), &base);
    if (f == NULL || f->type != HD_CFG_T_STR ||
        *(char **)(void *)((char *)base + f->offset) != NULL)
        return 0;
    if (sh_unquote(eq + 1) < 0)
        return hd_err_set(err, HD_EINVAL, "%s: unterminated quote", f->name);
    if (eq[1] == '\0')
        return 0;
    return set_field(f, base, eq + 1, err);
}

int
hd_config_load_file(const struct hd_config_section *secs, size_t n,
                    const char *path, struct hd_err *err)
{
    char line[HD_CONFIG_STR_MAX + 256];
    FILE *fp = fopen(path, "r");
    int lineno = 0, rc = 1;

    if (fp == NULL) {
        if (errno == ENOENT)
            return 0;
        return hd_err_set(err, HD_EIO, "%s: %s", path, strerror(errno));
    }
    while (fgets(line, sizeof(line), fp) != NULL) {
        size_t len = strlen(line);

        lineno++;
        if (len > 0 && line[len - 1] == '\n')
            line[--len] = '\0';
        else if (!feof(fp)) {
            rc = hd_err_set(err, HD_ETOOBIG, "%s:%d: line too long", path,
                            lineno);
            break;
        }
        if (len > 0 && line[len - 1] == '\r')
            line[--len] = '\0';
        if (file_line(secs, n, line, err) < 0) {
            rc = hd_err_wrap(err, "%s:%d", path, lineno);
            break;
        }
    }
    if (rc == 1 && ferror(fp))
        rc = hd_err_set(err, HD_EIO, "%s: read error", path);
    fclose(fp);
    return rc;
}

void
hd_config_release(const struct hd_config_section *secs, size_t n)
{
    size_t s;

    for (s = 0; s < n; s++) {
        const struct hd_config_field *f;

        for (f = secs[s].fields; f->type != HD_CFG_T_END; f++) {
            if (f->type == HD_CFG_T_STR) {
                char **sp = (char **)(void *)((char *)secs[s].base + f->offset);
                free(*sp);
                *sp = NULL;
            }
        }
    }
}

void
hd_config_help(FILE *out, const struct hd_config_section *secs, size_t n)
{
    size_t s;

    for (s = 0; s < n; s++) {
        const struct hd_config_field *f;

        for (f = secs[s].fields; f->type != HD_CFG_T_END; f++) {
            fprintf(out, "  %s\n      %s\n", f->name, f->help ? f->help : "");
            switch (f->type) {
            case HD_CFG_T_INT:
                fprintf(out, "      integer %lld..%lld", f->min, f->max);
                break;
            case HD_CFG_T_BOOL:
                fprintf(out, "      boolean (" HD_CFG_BOOL_WORDS ")");
                break;
            case HD_CFG_T_STR:
                if (f->choices)
                    fprintf(out, "      one of %s", f->choices);
                else
                    fprintf(out, "      string");
                break;
            case HD_CFG_T_END:
                break;
            }
            if (f->flags & HD_CFG_REQUIRED)
                fprintf(out, ", required");
            else if (f->flags & HD_CFG_SECRET)
                fprintf(out, ", default %s",
                        (f->def && *f->def) ? "(set)" : "(unset)");
            else if (f->def && *f->def)
                fprintf(out, ", default %s", f->def);
            else if (f->def)
                fprintf(out, ", default \"\"");
            if (f->flags & HD_CFG_SECRET)
                fprintf(out, ", secret");
            fputc('\n', out);
        }
    }
}

int
hd_config_dump(const struct hd_config_section *secs, size_t n,
               struct hd_buf *out, struct hd_err *err)
{
    size_t s;
    int first = 1;

    if (hd_buf_putc(out, '{', err) < 0)
        return -1;
    for (s = 0; s < n; s++) {
        const struct hd_config_field *f;

        for (f = secs[s].fields; f->type != HD_CFG_T_END; f++) {
            const char *p = (const char *)secs[s].base + f->offset;

            if (hd_buf_printf(out, err, "%s\"%s\":", first ? "" : ",",
                              f->name) < 0)
                return -1;
            first = 0;
            if (f->type == HD_CFG_T_INT) {
                if (hd_buf_printf(out, err, "%d",
                                  *(const int *)(const void *)p) < 0)
                    return -1;
            } else if (f->type == HD_CFG_T_BOOL) {
                if (hd_buf_puts(
                        out, *(const int *)(const void *)p ? "true" : "false",
                        err) < 0)
                    return -1;
            } else {
                const char *v = *(char *const *)(const void *)p;

                if (f->flags & HD_CFG_SECRET)
                    v = (v && *v) ? "(set)" : "(unset)";
                if (v == NULL) {
                    if (hd_buf_puts(out, "null", err) < 0)
                        return -1;
                    continue;
                }
                if (hd_buf_putc(out, '"', err) < 0 ||
                    hd_buf_json_escape(out, v, strlen(v), err) < 0 ||
                    hd_buf_putc(out, '"', err) < 0)
                    return -1;
            }
        }
    }
    return hd_buf_putc(out, '}', err);
}

static int
declared(const struct hd_config_section *secs, size_t n, const char *name,
         size_t len)
{
    size_t s;

    for (s = 0; s < n; s++) {
        const struct hd_config_field *f;

        for (f = secs[s].fields; f->type != HD_CFG_T_END; f++)
            if (strlen(f->name) == len && strncmp(f->name, name, len) == 0)
                return 1;
    }
    return 0;
}

int
hd_config_each_extra(const char *prefix, const struct hd_config_section *secs,
                     size_t n,
                     int (*fn)(const char *name, const char *value, void *ud),
                     void *ud)
{
    size_t plen = strlen(prefix);
    char **e;

    for (e = environ; *e; e++) {
        const char *eq = strchr(*e, '=');
        char name[256];
        size_t len;

        if (eq == NULL || strncmp(*e, prefix, plen) != 0)
            continue;
        len = (size_t)(eq - *e);
        if (len >= sizeof(name) || declared(secs, n, *e, len))
            continue;
        memcpy(name, *e, len);
        name[len] = '\0';
        if (fn(name, eq + 1, ud) < 0)
            return -1;
    }
    return 0;
}
