/* api_tmpl.c -- compiling and rendering push templates (api_tmpl.h).
 *
 * A compiled template is a list of nodes: text, a field, or a field with
 * a default. A notification's set maps each templated string (by its
 * json_t, borrowed from the notification, which outlives the set) to its
 * template; rendering copies a part and replaces those strings. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "services/api/api_params.h"
#include "services/api/api_tmpl.h"
#include "core/banned.h"

enum node_kind { N_TEXT, N_FIELD, N_DEFAULT };
enum field_kind { F_ID, F_USER, F_META, F_L10N };

struct node {
    enum node_kind kind;
    enum field_kind field;
    char *key;  /* F_META, F_L10N */
    char *text; /* N_TEXT, or N_DEFAULT's literal */
    size_t len;
};

struct api_tmpl {
    struct node *nodes;
    size_t n;
    int uses_device;
};

void
api_tmpl_free(struct api_tmpl *t)
{
    size_t i;

    if (t == NULL)
        return;
    for (i = 0; i < t->n; i++) {
        free(t->nodes[i].key);
        free(t->nodes[i].text);
    }
    free(t->nodes);
    free(t);
}

static struct node *
push_node(struct api_tmpl *t)
{
    t->nodes = hd_xrealloc(t->nodes, (t->n + 1) * sizeof(*t->nodes));
    memset(&t->nodes[t->n], 0, sizeof(*t->nodes));
    return &t->nodes[t->n++];
}

/* ---- one action -------------------------------------------------------- */

enum tok_kind { T_WORD, T_LIT, T_PIPE };

struct tok {
    enum tok_kind kind;
    char *s; /* owned: a word or a literal's text */
    size_t len;
};

#define MAX_TOKS 4

/* A Go "string" starting at p[0] == '"': its text into *out (new). The
 * length consumed, or 0 when not closed or an unknown escape. */
static size_t
go_string(const char *p, size_t n, char **out, size_t *olen)
{
    char *s = hd_xmalloc(n + 1);
    size_t i, j = 0;

    for (i = 1; i < n; i++) {
        char c = p[i];

        if (c == '"') {
            s[j] = '\0';
            *out = s;
            *olen = j;
            return i + 1;
        }
        if (c == '\\') {
            if (++i >= n)
                break;
            c = p[i] == 'n' ? '\n' : p[i] == 't' ? '\t' : p[i];
            if (p[i] != 'n' && p[i] != 't' && p[i] != '"' && p[i] != '\\')
                break;
        }
        s[j++] = c;
    }
    free(s);
    return 0;
}

/* Splits an action's text into at most MAX_TOKS tokens. The count, or -1
 * with *why. */
static int
tokenize(const char *p, size_t n, struct tok *toks, const char **why)
{
    size_t i = 0, k;
    int nt = 0;

    while (i < n) {
        if (p[i] == ' ' || p[i] == '\t') {
            i++;
            continue;
        }
        if (nt == MAX_TOKS) {
            *why = "too many words";
            return -1;
        }
        if (p[i] == '|') {
            toks[nt++] = (struct tok){T_PIPE, NULL, 0};
            i++;
        } else if (n - i >= 2 && p[i] == '[' && p[i + 1] == '[') {
            const char *end = NULL;

            for (k = i + 2; k + 1 < n; k++)
                if (p[k] == ']' && p[k + 1] == ']') {
                    end = p + k;
                    break;
                }
            if (end == NULL) {
                *why = "[[ without ]]";
                return -1;
            }
            toks[nt].kind = T_LIT;
            toks[nt].len = (size_t)(end - (p + i + 2));
            toks[nt].s = hd_xstrndup(p + i + 2, toks[nt].len);
            nt++;
            i = k + 2;
        } else if (p[i] == '"') {
            k = go_string(p + i, n - i, &toks[nt].s, &toks[nt].len);
            if (k == 0) {
                *why = "a string literal not closed or with an unknown escape";
                return -1;
            }
            toks[nt++].kind = T_LIT;
            i += k;
        } else {
            for (k = i; k < n && p[k] != ' ' && p[k] != '\t' && p[k] != '|';
                 k++)
                ;
            toks[nt].kind = T_WORD;
            toks[nt].len = k - i;
            toks[nt].s = hd_xstrndup(p + i, k - i);
            nt++;
            i = k;
        }
    }
    return nt;
}

static int
key_ok(const char *k)
{
    size_t i, n = strlen(k);

    if (n == 0 || n > API_MAP_KEY_MAX)
        return 0;
    for (i = 0; i < n; i++) {
        char c = k[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '_'))
            return 0;
    }
    return 1;
}

/* A field word into nd. 0, or -1 with *why. */
static int
parse_field(const char *w, int use_meta, struct node *nd, const char **why)
{
    if (w[0] == '.')
        w++;
    if (strcmp(w, "device.id") == 0) {
        nd->field = F_ID;
    } else if (strcmp(w, "device.user") == 0) {
        nd->field = F_USER;
    } else if (strncmp(w, "device.meta.", 12) == 0 && key_ok(w + 12)) {
        if (!use_meta) {
            *why = ".device.meta needs use_meta";
            return -1;
        }
        nd->field = F_META;
        nd->key = hd_xstrdup(w + 12);
    } else if (strncmp(w, "l10n.", 5) == 0 && key_ok(w + 5)) {
        nd->field = F_L10N;
        nd->key = hd_xstrdup(w + 5);
    } else {
        *why = "unknown field (.device.id, .device.user, .device.meta.<key>, "
               ".l10n.<key>)";
        return -1;
    }
    return 0;
}

/* One action's tokens into a node of t. 0, or -1 with *why. */
static int
parse_action(struct api_tmpl *t, struct tok *k, int nt, int use_meta,
             const char **why)
{
    struct node *nd = push_node(t);
    const struct tok *field = NULL, *lit = NULL;

    if (nt == 1 && k[0].kind == T_LIT) {
        nd->kind = N_TEXT;
        nd->text = hd_xstrndup(k[0].s, k[0].len);
        nd->len = k[0].len;
        return 0;
    }
    if (nt == 1 && k[0].kind == T_WORD) {
        field = &k[0];
    } else if (nt == 3 && k[0].kind == T_WORD &&
               strcmp(k[0].s, "default") == 0 && k[1].kind == T_LIT &&
               k[2].kind == T_WORD) {
        lit = &k[1];
        field = &k[2];
    } else if (nt == 4 && k[0].kind == T_WORD && k[1].kind == T_PIPE &&
               k[2].kind == T_WORD && strcmp(k[2].s, "default") == 0 &&
               k[3].kind == T_LIT) {
        field = &k[0];
        lit = &k[3];
    } else {
        *why = "not a field, a literal or default";
        return -1;
    }
    nd->kind = lit ? N_DEFAULT : N_FIELD;
    if (lit) {
        nd->text = hd_xstrndup(lit->s, lit->len);
        nd->len = lit->len;
    }
    if (parse_field(field->s, use_meta, nd, why) < 0)
        return -1;
    if (nd->field == F_L10N && lit == NULL) {
        *why = "a translation needs a default: default [[text]] .l10n.<key>";
        return -1;
    }
    if (nd->field != F_L10N)
        t->uses_device = 1;
    return 0;
}

static int
compile_action(struct api_tmpl *t, const char *p, size_t n, int use_meta,
               const char **why)
{
    struct tok toks[MAX_TOKS];
    int nt, i, rc;

    memset(toks, 0, sizeof(toks));
    nt = tokenize(p, n, toks, why);
    if (nt == 0)
        *why = "empty action";
    rc = nt <= 0 ? -1 : parse_action(t, toks, nt, use_meta, why);
    for (i = 0; i < MAX_TOKS; i++)
        free(toks[i].s);
    return rc;
}

struct api_tmpl *
api_tmpl_compile(const char *src, size_t len, int use_meta, const char *path,
                 struct hd_err *err)
{
    struct api_tmpl *t = hd_xcalloc(1, sizeof(*t));
    const char *p = src, *end = src + len, *open, *close;
    const char *why = NULL;
    size_t actions = 0;

    while (p < end) {
        open = memmem(p, (size_t)(end - p), "{{", 2);
        if (open == NULL)
            open = end;
        if (open > p) {
            struct node *nd = push_node(t);

            nd->kind = N_TEXT;
            nd->len = (size_t)(open - p);
            nd->text = hd_xstrndup(p, nd->len);
        }
        if (open == end)
            break;
        if (++actions > API_TMPL_ACTIONS_MAX) {
            why = "too many actions";
            break;
        }
        close = memmem(open + 2, (size_t)(end - open - 2), "}}", 2);
        if (close == NULL) {
            why = "{{ without }}";
            break;
        }
        if (compile_action(t, open + 2, (size_t)(close - open - 2), use_meta,
                           &why) < 0)
            break;
        p = close + 2;
    }
    if (why != NULL) {
        hd_err_set(err, HD_EINVAL, "%s: template action %zu: %s", path, actions,
                   why);
        api_tmpl_free(t);
        return NULL;
    }
    return t;
}

/* ---- rendering --------------------------------------------------------- */

static const char *
map_str(json_t *map, const char *key)
{
    return json_string_value(json_object_get(map, key));
}

static const char *
field_value(const struct node *nd, const struct api_tmpl_vars *v)
{
    switch (nd->field) {
    case F_ID:
        return v->id;
    case F_USER:
        return v->user;
    case F_META:
        return map_str(v->meta, nd->key);
    default:
        return map_str(v->l10n, nd->key);
    }
}

int
api_tmpl_render(const struct api_tmpl *t, const struct api_tmpl_vars *v,
                size_t max, struct hd_buf *out, struct hd_err *err)
{
    size_t i, start = out->len;

    for (i = 0; i < t->n; i++) {
        const struct node *nd = &t->nodes[i];
        const char *s = nd->text;
        size_t n = nd->len;

        if (nd->kind != N_TEXT) {
            const char *val = field_value(nd, v);

            if (val != NULL && val[0] != '\0') {
                s = val;
                n = strlen(val);
            } else if (nd->kind == N_FIELD) {
                n = 0;
            }
        }
        if (out->len - start + n > max)
            return hd_err_set(err, HD_ETOOBIG,
                              "template renders over %zu bytes", max);
        if (n > 0 && hd_buf_append(out, s, n, err) < 0)
            return -1;
    }
    return 0;
}

/* ---- a notification's templates ---------------------------------------- */

struct nt_entry {
    json_t *src; /* the templated string, borrowed */
    struct api_tmpl *t;
};

struct api_ntmpl {
    struct nt_entry *e;
    size_t n;
    int uses_device;
    struct hd_buf scratch;
};

void
api_ntmpl_free(struct api_ntmpl *nt)
{
    size_t i;

    if (nt == NULL)
        return;
    for (i = 0; i < nt->n; i++)
        api_tmpl_free(nt->e[i].t);
    free(nt->e);
    hd_buf_release(&nt->scratch);
    free(nt);
}

int
api_ntmpl_uses_device(const struct api_ntmpl *nt)
{
    return nt != NULL && nt->uses_device;
}

static int
walk(struct api_ntmpl *nt, json_t *v, int use_meta, const char *path,
     struct hd_err *err)
{
    char sub[256];
    const char *k;
    json_t *c;
    size_t i;

    if (json_is_string(v)) {
        struct api_tmpl *t;

        if (memmem(json_string_value(v), json_string_length(v), "{{", 2) ==
            NULL)
            return 0;
        if (nt->n == API_TMPL_STRINGS_MAX)
            return hd_err_set(err, HD_ETOOBIG,
                              "%s: more than %d templated strings", path,
                              API_TMPL_STRINGS_MAX);
        t = api_tmpl_compile(json_string_value(v), json_string_length(v),
                             use_meta, path, err);
        if (t == NULL)
            return -1;
        nt->e = hd_xrealloc(nt->e, (nt->n + 1) * sizeof(*nt->e));
        nt->e[nt->n].src = v;
        nt->e[nt->n++].t = t;
        nt->uses_device |= t->uses_device;
        return 0;
    }
    if (json_is_object(v)) {
        json_object_foreach(v, k, c)
        {
            snprintf(sub, sizeof(sub), "%s.%.64s", path, k);
            if (walk(nt, c, use_meta, sub, err) < 0)
                return -1;
        }
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, c)
        {
            snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
            if (walk(nt, c, use_meta, sub, err) < 0)
                return -1;
        }
    }
    return 0;
}

int
api_ntmpl_compile(json_t *notification, int use_meta, const char *path,
                  struct api_ntmpl **out, struct hd_err *err)
{
    struct api_ntmpl *nt = hd_xcalloc(1, sizeof(*nt));

    *out = NULL;
    hd_buf_init(&nt->scratch, API_TMPL_OUT_MAX + 1);
    if (walk(nt, notification, use_meta, path, err) < 0) {
        api_ntmpl_free(nt);
        return -1;
    }
    if (nt->n == 0) {
        api_ntmpl_free(nt);
        return 0;
    }
    *out = nt;
    return 0;
}

static const struct api_tmpl *
find(const struct api_ntmpl *nt, json_t *v)
{
    size_t i;

    for (i = 0; i < nt->n; i++)
        if (nt->e[i].src == v)
            return nt->e[i].t;
    return NULL;
}

static json_t *
render_value(struct api_ntmpl *nt, json_t *v, const struct api_tmpl_vars *vars,
             struct hd_err *err)
{
    const struct api_tmpl *t;
    json_t *out, *c, *r;
    const char *k;
    size_t i;

    if (json_is_string(v)) {
        t = find(nt, v);
        if (t == NULL)
            return json_incref(v);
        nt->scratch.len = 0;
        if (api_tmpl_render(t, vars, API_TMPL_OUT_MAX, &nt->scratch, err) < 0)
            return NULL;
        out = json_stringn(nt->scratch.data ? nt->scratch.data : "",
                           nt->scratch.len);
        if (out == NULL)
            hd_err_set(err, HD_EINVAL, "template renders invalid UTF-8");
        return out;
    }
    if (!json_is_object(v) && !json_is_array(v))
        return json_incref(v);
    out = json_is_object(v) ? json_object() : json_array();
    if (json_is_object(v)) {
        json_object_foreach(v, k, c)
        {
            r = render_value(nt, c, vars, err);
            if (r == NULL)
                goto fail;
            json_object_set_new(out, k, r);
        }
    } else {
        json_array_foreach(v, i, c)
        {
            r = render_value(nt, c, vars, err);
            if (r == NULL)
                goto fail;
            json_array_append_new(out, r);
        }
    }
    return out;
fail:
    json_decref(out);
    return NULL;
}

json_t *
api_ntmpl_render(struct api_ntmpl *nt, json_t *part,
                 const struct api_tmpl_vars *v, struct hd_err *err)
{
    return render_value(nt, part, v, err);
}
