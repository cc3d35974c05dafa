/* out.c -- what heraldctl prints: aligned tables, colour, errors, JSON,
 * times.
 *
 * Colour is used only on a terminal and never when NO_COLOR is set or
 * --no-color given; a table's last column is cut to the terminal's width
 * on a terminal and never when the output goes to a file or a pipe, so a
 * script always reads whole values. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "tools/ctl/ctl.h"
#include "tools/ctl/names.h"
#include "core/banned.h"

static const char *const escapes[] = {
    [CTL_C_NONE] = "",          [CTL_C_BOLD] = "\033[1m",
    [CTL_C_DIM] = "\033[2m",    [CTL_C_RED] = "\033[31m",
    [CTL_C_GREEN] = "\033[32m", [CTL_C_YELLOW] = "\033[33m",
    [CTL_C_CYAN] = "\033[36m",
};
#define RESET "\033[0m"

void
ctl_out_init(struct ctl *c)
{
    struct winsize ws;
    int nc = c->cfg.no_color != NULL;

    c->out_tty = isatty(STDOUT_FILENO);
    c->err_tty = isatty(STDERR_FILENO);
    c->color = c->out_tty && !nc;
    c->ecolor = c->err_tty && !nc;
    c->width = 0;
    if (c->out_tty && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0)
        c->width = ws.ws_col;
}

const char *
ctl_col(const struct ctl *c, enum ctl_color col)
{
    if (!c->color)
        return "";
    return col == CTL_C_NONE ? RESET : escapes[col];
}

const char *
ctl_ecol(const struct ctl *c, enum ctl_color col)
{
    if (!c->ecolor)
        return "";
    return col == CTL_C_NONE ? RESET : escapes[col];
}

void
ctl_error(const struct ctl *c, const char *fmt, ...)
{
    char msg[CTL_MSG_MAX * 2];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fprintf(stderr, "heraldctl: %serror%s: %s\n", ctl_ecol(c, CTL_C_RED),
            ctl_ecol(c, CTL_C_NONE), msg);
}

void
ctl_print_json(json_t *v)
{
    json_dumpf(v, stdout, JSON_INDENT(2) | JSON_ENCODE_ANY);
    fputc('\n', stdout);
}

enum ctl_color
ctl_status_color(const char *s)
{
    static const char *const good[] = {"sent", "delivered", "interacted",
                                       "done", NULL};
    static const char *const wait[] = {"pending", "retry", "expired", NULL};
    int i;

    if (s == NULL)
        return CTL_C_NONE;
    for (i = 0; good[i]; i++)
        if (strcmp(s, good[i]) == 0)
            return CTL_C_GREEN;
    for (i = 0; wait[i]; i++)
        if (strcmp(s, wait[i]) == 0)
            return CTL_C_YELLOW;
    return CTL_C_RED;
}

size_t
ctl_text_width(const char *s)
{
    size_t n = 0;

    for (; *s; s++)
        if (((unsigned char)*s & 0xc0) != 0x80)
            n++;
    return n;
}

/* The byte length of s's first w code points. */
static size_t
bytes_for(const char *s, size_t w)
{
    size_t i = 0, n = 0;

    while (s[i]) {
        if (((unsigned char)s[i] & 0xc0) != 0x80) {
            if (n == w)
                break;
            n++;
        }
        i++;
    }
    return i;
}

/* ---- tables ------------------------------------------------------------ */

void
ctl_table_init(struct ctl_table *t, size_t ncols, const char *const *heads)
{
    memset(t, 0, sizeof(*t));
    t->ncols = ncols;
    t->heads = heads;
}

void
ctl_table_add(struct ctl_table *t, const char *const *cells)
{
    size_t i;

    if (t->nrows == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 16;
        t->cells = hd_xrealloc(t->cells, t->cap * t->ncols * sizeof(char *));
        t->colors =
            hd_xrealloc(t->colors, t->cap * t->ncols * sizeof(*t->colors));
    }
    for (i = 0; i < t->ncols; i++) {
        const char *v = cells[i] && *cells[i] ? cells[i] : "-";
        char *cp = hd_xstrdup(v), *p;

        for (p = cp; *p; p++) /* one line per row */
            if (*p == '\n' || *p == '\r' || *p == '\t')
                *p = ' ';
        t->cells[t->nrows * t->ncols + i] = cp;
        t->colors[t->nrows * t->ncols + i] = CTL_C_NONE;
    }
    t->nrows++;
}

void
ctl_table_color(struct ctl_table *t, size_t col, enum ctl_color color)
{
    if (t->nrows > 0 && col < t->ncols)
        t->colors[(t->nrows - 1) * t->ncols + col] = color;
}

static void
print_cell(const struct ctl *c, const char *s, enum ctl_color col, size_t w,
           size_t room, int last)
{
    size_t tw = ctl_text_width(s);

    if (room > 0 && tw > room) { /* cut, with an ellipsis */
        size_t keep = room > 1 ? room - 1 : 0;

        fputs(ctl_col(c, col), stdout);
        fwrite(s, 1, bytes_for(s, keep), stdout);
        fputs("…", stdout);
        fputs(col != CTL_C_NONE ? ctl_col(c, CTL_C_NONE) : "", stdout);
        return;
    }
    fputs(ctl_col(c, col), stdout);
    fputs(s, stdout);
    fputs(col != CTL_C_NONE ? ctl_col(c, CTL_C_NONE) : "", stdout);
    if (!last)
        for (; tw < w; tw++)
            fputc(' ', stdout);
}

void
ctl_table_print(const struct ctl *c, const struct ctl_table *t)
{
    size_t *w = hd_xcalloc(t->ncols, sizeof(*w));
    size_t i, r, used = 0, room = 0;

    for (i = 0; i < t->ncols; i++) {
        w[i] = ctl_text_width(t->heads[i]);
        for (r = 0; r < t->nrows; r++) {
            size_t x = ctl_text_width(t->cells[r * t->ncols + i]);

            if (x > w[i])
                w[i] = x;
        }
        if (i + 1 < t->ncols)
            used += w[i] + 2;
    }
    if (c->width > 0) /* the last column gets what is left, at least 8 */
        room = (size_t)c->width > used + 8 ? (size_t)c->width - used : 8;
    for (i = 0; i < t->ncols; i++) {
        print_cell(c, t->heads[i], CTL_C_BOLD, w[i],
                   i + 1 == t->ncols ? room : 0, i + 1 == t->ncols);
        fputs(i + 1 < t->ncols ? "  " : "\n", stdout);
    }
    for (r = 0; r < t->nrows; r++) {
        for (i = 0; i < t->ncols; i++) {
            print_cell(c, t->cells[r * t->ncols + i],
                       t->colors[r * t->ncols + i], w[i],
                       i + 1 == t->ncols ? room : 0, i + 1 == t->ncols);
            fputs(i + 1 < t->ncols ? "  " : "\n", stdout);
        }
    }
    free(w);
}

void
ctl_table_release(struct ctl_table *t)
{
    size_t i;

    for (i = 0; i < t->nrows * t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    free(t->colors);
    memset(t, 0, sizeof(*t));
}

/* ---- values ------------------------------------------------------------ */

const char *
ctl_cell(json_t *v, char *buf, size_t len)
{
    char *dump;

    if (v == NULL || json_is_null(v))
        snprintf(buf, len, "-");
    else if (json_is_string(v))
        snprintf(buf, len, "%s", json_string_value(v));
    else if (json_is_integer(v))
        snprintf(buf, len, "%lld", (long long)json_integer_value(v));
    else if (json_is_true(v) || json_is_false(v))
        snprintf(buf, len, "%s", json_is_true(v) ? "yes" : "no");
    else if (json_is_array(v) && json_array_size(v) == 0)
        snprintf(buf, len, "-");
    else if (json_is_array(v)) { /* a list of strings: a, b, c */
        size_t i, n = 0;
        json_t *e;

        buf[0] = '\0';
        json_array_foreach(v, i, e)
        {
            int w = snprintf(buf + n, len - n, "%s%s", i ? ", " : "",
                             json_is_string(e) ? json_string_value(e) : "?");

            if (w < 0 || (size_t)w >= len - n)
                break;
            n += (size_t)w;
        }
    } else {
        dump = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
        snprintf(buf, len, "%s", dump ? dump : "?");
        free(dump);
    }
    return buf;
}

const char *
ctl_time_ms(long long ms, char *buf, size_t len)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;

    if (ms <= 0 || gmtime_r(&t, &tm) == NULL)
        snprintf(buf, len, "-");
    else
        strftime(buf, len, "%Y-%m-%d %H:%M:%SZ", &tm);
    return buf;
}

void
ctl_list_print(const struct ctl *c, int json, json_t *all,
               const struct ctl_table *t, long long shown, int more,
               const char *noun)
{
    if (json) {
        json_t *doc =
            json_pack("{s:O,s:b}", CTL_F_ITEMS, all, CTL_F_HAS_MORE, more);

        ctl_print_json(doc);
        json_decref(doc);
        return;
    }
    ctl_table_print(c, t);
    fprintf(stderr, "%lld %s%s%s\n", shown, noun, shown == 1 ? "" : "s",
            more ? " (more: raise --limit, 0 for all)" : "");
}
