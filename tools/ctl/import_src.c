/* import_src.c -- heraldctl import's input and resume file: lines of
 * JSON Lines or CSV read with a bound on their length and turned into
 * device_register bodies, and the mark of what is committed.
 *
 * A JSON line goes to the API as it is (the API validates it and names
 * the bad field); it is parsed here only to add --app, or to check that
 * it is one JSON object when it goes in a batch with others. A
 * CSV row becomes the same object, column by column. Nothing here talks
 * to the network. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/config.h"
#include "core/json.h"
#include "core/limits.h"
#include "tools/ctl/import.h"
#include "tools/ctl/names.h"
#include "core/banned.h"

/* CSV columns that are plain string fields of device_register. */
static const char *const csv_strings[] = {
    "provider", "token", "platform", "user", "id", "identifier", "app", NULL};
static const char *const csv_ints[] = {"device_type", "client_type", NULL};

static int
in_list(const char *const *list, const char *s)
{
    int i;

    for (i = 0; list[i]; i++)
        if (strcmp(list[i], s) == 0)
            return 1;
    return 0;
}

/* Reads the next line into s->buf (without its newline). 1, or 0 at the
 * end. A line longer than the buffer is cut and flagged. */
static int
read_line(struct import_src *s)
{
    size_t cap = IMPORT_LINE_MAX + 2;
    int ch;

    s->len = 0;
    s->toolong = 0;
    if (s->eof)
        return 0;
    while ((ch = getc_unlocked(s->fp)) != EOF) {
        s->offset++;
        if (ch == '\n')
            break;
        if (s->len + 1 < cap)
            s->buf[s->len++] = (char)ch;
        else
            s->toolong = 1;
    }
    if (ch == EOF) {
        s->eof = 1;
        if (s->len == 0 && !s->toolong)
            return 0;
    }
    if (s->len > 0 && s->buf[s->len - 1] == '\r')
        s->len--;
    s->buf[s->len] = '\0';
    s->line++;
    return 1;
}

static int
blank(const char *p)
{
    for (; *p; p++)
        if (*p != ' ' && *p != '\t')
            return 0;
    return 1;
}

/* ---- CSV --------------------------------------------------------------- */

/* Splits s->buf in place into at most max fields (RFC 4180 quoting on one
 * line). Returns the count, or -1 with msg. */
static int
csv_split(char *p, char **out, int max, char *msg, size_t msglen)
{
    int n = 0;

    for (;;) {
        char *w = p;

        if (n == max) {
            snprintf(msg, msglen, "more than %d fields", max);
            return -1;
        }
        out[n++] = p;
        if (*p == '"') { /* quoted: "" is a quote, ends at a lone quote */
            char *r = p + 1;

            for (;;) {
                if (*r == '\0') {
                    snprintf(msg, msglen,
                             "field %d: unterminated quote "
                             "(a field cannot span lines)",
                             n);
                    return -1;
                }
                if (*r == '"' && r[1] == '"') {
                    *w++ = '"';
                    r += 2;
                } else if (*r == '"') {
                    r++;
                    break;
                } else {
                    *w++ = *r++;
                }
            }
            if (*r != ',' && *r != '\0') {
                snprintf(msg, msglen,
                         "field %d: text after the closing "
                         "quote",
                         n);
                return -1;
            }
            *w = '\0';
            if (*r == '\0')
                return n;
            p = r + 1;
        } else {
            char *comma = strchr(p, ',');

            if (comma == NULL)
                return n;
            *comma = '\0';
            p = comma + 1;
        }
    }
}

static int
csv_header(struct import_src *s, struct ctl *c, const char *path)
{
    char *f[IMPORT_CSV_COLS];
    char msg[128];
    int n, i, have = 0;

    while (read_line(s) && blank(s->buf))
        ;
    if (s->len == 0) {
        ctl_error(c, "import: %s: no CSV header line", path);
        return CTL_EUSAGE;
    }
    n = csv_split(s->buf, f, IMPORT_CSV_COLS, msg, sizeof(msg));
    if (n < 0) {
        ctl_error(c, "import: %s:%lld: CSV header: %s", path, s->line, msg);
        return CTL_EUSAGE;
    }
    for (i = 0; i < n; i++) {
        char *name = f[i];
        size_t len;

        while (*name == ' ')
            name++;
        len = strlen(name);
        while (len > 0 && name[len - 1] == ' ')
            name[--len] = '\0';
        if (!in_list(csv_strings, name) && !in_list(csv_ints, name) &&
            strcmp(name, "topics") != 0 && strcmp(name, "channels") != 0 &&
            !(strncmp(name, "meta.", 5) == 0 && name[5]) &&
            !(strncmp(name, "tags.", 5) == 0 && name[5])) {
            ctl_error(c,
                      "import: %s:%lld: CSV header: unknown column "
                      "\"%.64s\" (see heraldctl import --help)",
                      path, s->line, name);
            return CTL_EUSAGE;
        }
        have |= strcmp(name, "provider") == 0   ? 1
                : strcmp(name, "token") == 0    ? 2
                : strcmp(name, "platform") == 0 ? 4
                                                : 0;
        s->cols[s->ncols++] = hd_xstrdup(name);
    }
    if (have != 7) {
        ctl_error(c,
                  "import: %s: the CSV header needs the columns provider, "
                  "token and platform",
                  path);
        return CTL_EUSAGE;
    }
    return CTL_OK;
}

/* One CSV cell into the object. */
static int
csv_cell(json_t *o, const char *col, const char *v, char *msg, size_t msglen)
{
    if (*v == '\0')
        return 0; /* empty: not given */
    if (in_list(csv_ints, col)) {
        long long n;

        if (hd_parse_ll(v, 0, 255, &n) < 0) {
            snprintf(msg, msglen, "%s: a number from 0 to 255, not \"%.32s\"",
                     col, v);
            return -1;
        }
        json_object_set_new(o, col, json_integer(n));
    } else if (strcmp(col, "topics") == 0 || strcmp(col, "channels") == 0) {
        json_t *a = json_array();
        const char *p = v;

        while (*p) {
            const char *end = strchr(p, ';');
            size_t n = end ? (size_t)(end - p) : strlen(p);

            if (n > 0)
                json_array_append_new(a, json_stringn(p, n));
            p += n + (end ? 1 : 0);
        }
        json_object_set_new(o, CTL_F_DEVICE_TOPICS, a);
    } else if (col[4] == '.' &&
               (strncmp(col, "meta", 4) == 0 || strncmp(col, "tags", 4) == 0)) {
        char part[5];
        json_t *m;

        memcpy(part, col, 4);
        part[4] = '\0';
        m = json_object_get(o, part);
        if (m == NULL) {
            m = json_object();
            json_object_set_new(o, part, m);
        }
        json_object_set_new(m, col + 5, json_string(v));
    } else {
        json_object_set_new(o, col, json_string(v));
    }
    return 0;
}

static json_t *
csv_row(struct import_src *s, char *msg, size_t msglen)
{
    char *f[IMPORT_CSV_COLS];
    json_t *o;
    int n, i;

    n = csv_split(s->buf, f, IMPORT_CSV_COLS, msg, msglen);
    if (n < 0)
        return NULL;
    if (n != s->ncols) {
        snprintf(msg, msglen, "%d fields, the header has %d", n, s->ncols);
        return NULL;
    }
    o = json_object();
    for (i = 0; i < n; i++)
        if (csv_cell(o, s->cols[i], f[i], msg, msglen) < 0) {
            json_decref(o);
            return NULL;
        }
    return o;
}

/* ---- the source -------------------------------------------------------- */

int
import_src_open(struct import_src *s, struct ctl *c, const char *path,
                int format, long long offset, long long line)
{
    const char *dot = strrchr(path, '.');
    int rc;

    memset(s, 0, sizeof(*s));
    s->format = format >= 0 ? (enum import_format)format
                : dot && strcasecmp(dot, ".csv") == 0 ? IMPORT_CSV
                                                      : IMPORT_JSONL;
    s->fp = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (s->fp == NULL) {
        ctl_error(c, "import: %s: %s", path, strerror(errno));
        return CTL_EUSAGE;
    }
    s->buf = hd_xmalloc(IMPORT_LINE_MAX + 2);
    if (s->format == IMPORT_CSV) {
        rc = csv_header(s, c, path);
        if (rc != CTL_OK)
            return rc;
    }
    if (offset > s->offset) {
        if (fseeko(s->fp, (off_t)offset, SEEK_SET) < 0) {
            ctl_error(c, "import: %s: cannot seek to %lld: %s", path, offset,
                      strerror(errno));
            return CTL_EUSAGE;
        }
        s->offset = offset;
        s->line = line;
    }
    return CTL_OK;
}

void
import_src_close(struct import_src *s)
{
    int i;

    if (s->fp != NULL && s->fp != stdin)
        fclose(s->fp);
    for (i = 0; i < s->ncols; i++)
        free(s->cols[i]);
    free(s->buf);
    memset(s, 0, sizeof(*s));
}

int
import_src_next(struct import_src *s, struct hd_buf *body, char *msg,
                size_t msglen)
{
    struct hd_err err = {0};
    json_t *o = NULL;
    const char *p;

    do {
        if (!read_line(s))
            return 0;
    } while (!s->toolong && blank(s->buf));
    hd_buf_reset(body);
    if (s->toolong) {
        snprintf(msg, msglen, "longer than %d bytes", IMPORT_LINE_MAX);
        return -1;
    }
    if (s->format == IMPORT_CSV) {
        o = csv_row(s, msg, msglen);
        if (o == NULL)
            return -1;
    } else {
        for (p = s->buf; *p == ' ' || *p == '\t'; p++)
            ;
        if (*p != '{') {
            snprintf(msg, msglen, "not a JSON object");
            return -1;
        }
        if (s->app == NULL && !s->check) { /* as it is: the API checks it */
            hd_buf_append(body, s->buf, s->len, NULL);
            return 1;
        }
        o = hd_json_parse(s->buf, s->len, &err);
        if (!json_is_object(o)) {
            if (o == NULL)
                snprintf(msg, msglen, "not valid JSON: %s", err.msg);
            else
                snprintf(msg, msglen, "not a JSON object");
            json_decref(o);
            return -1;
        }
        if (s->app == NULL) { /* valid: as it is */
            json_decref(o);
            hd_buf_append(body, s->buf, s->len, NULL);
            return 1;
        }
    }
    if (s->app != NULL && json_object_get(o, CTL_F_APP) == NULL)
        json_object_set_new(o, CTL_F_APP, json_string(s->app));
    hd_json_dump(o, body, NULL);
    json_decref(o);
    return 1;
}

/* ---- resume file ------------------------------------------------------- */

#define MARK_MAGIC "heraldctl-import 1"

int
import_mark_read(const char *path, const char *input, struct import_mark *m,
                 char *msg, size_t msglen)
{
    char line[4096 + 64], name[4096 + 1];
    FILE *fp = fopen(path, "r");
    int n = 0;

    memset(m, 0, sizeof(*m));
    if (fp == NULL) {
        if (errno == ENOENT)
            return 1;
        snprintf(msg, msglen, "%s: %s", path, strerror(errno));
        return -1;
    }
    name[0] = '\0';
    if (fgets(line, sizeof(line), fp) == NULL ||
        strncmp(line, MARK_MAGIC "\n", sizeof(MARK_MAGIC)) != 0) {
        fclose(fp);
        snprintf(msg, msglen, "%s: not a heraldctl import progress file", path);
        return -1;
    }
    while (fgets(line, sizeof(line), fp) != NULL) {
        char *sp = strchr(line, ' ');
        long long v;

        line[strcspn(line, "\n")] = '\0';
        if (sp == NULL)
            continue;
        *sp++ = '\0';
        if (strcmp(line, "input") == 0) {
            snprintf(name, sizeof(name), "%s", sp);
            continue;
        }
        if (hd_parse_ll(sp, 0, INT64_MAX, &v) < 0)
            continue;
        n += strcmp(line, "line") == 0       ? (m->line = v, 1)
             : strcmp(line, "offset") == 0   ? (m->offset = v, 1)
             : strcmp(line, "ok") == 0       ? (m->ok = v, 1)
             : strcmp(line, "bad") == 0      ? (m->bad = v, 1)
             : strcmp(line, "complete") == 0 ? (m->complete = v != 0, 1)
                                             : 0;
    }
    fclose(fp);
    if (n < 5) {
        snprintf(msg, msglen, "%s: incomplete progress file", path);
        return -1;
    }
    if (strcmp(name, input) != 0) {
        snprintf(msg, msglen, "%s: the progress of another input (%.200s)",
                 path, name);
        return -1;
    }
    return 0;
}

int
import_mark_write(const char *path, const char *input,
                  const struct import_mark *m, char *msg, size_t msglen)
{
    char tmp[4096 + 8];
    FILE *fp;
    int ok;

    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    fp = fopen(tmp, "w");
    if (fp == NULL) {
        snprintf(msg, msglen, "%s: %s", tmp, strerror(errno));
        return -1;
    }
    fprintf(fp,
            MARK_MAGIC "\ninput %s\nline %lld\noffset %lld\nok %lld\n"
                       "bad %lld\ncomplete %d\n",
            input, m->line, m->offset, m->ok, m->bad, m->complete);
    ok = fflush(fp) == 0 && fsync(fileno(fp)) == 0;
    ok = (fclose(fp) == 0) && ok;
    if (!ok || rename(tmp, path) < 0) {
        snprintf(msg, msglen, "%s: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}
