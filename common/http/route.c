/* http_route.c -- compiling and matching the HTTP route table.
 *
 * Patterns point into the routes' own (static) path strings, so compiling
 * allocates nothing and matching walks the request path once per route.
 * A table holds at most HD_HTTP_MAX_ROUTES, so a linear scan is cheaper
 * than any index would be. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "http/route.h"
#include "core/banned.h"

enum { RK_EXACT, RK_PARAMS, RK_PREFIX };

static int
compile(struct hd_http_route_entry *e, struct hd_err *err)
{
    const char *p = e->r->path;
    size_t nparams = 0;
    size_t n;

    if (p == NULL || p[0] != '/' || e->r->handler == NULL)
        return hd_err_set(err, HD_EINVAL, "route %s: bad path or handler",
                          p ? p : "(null)");
    n = strlen(p);
    if (p[n - 1] == '*') {
        e->kind = RK_PREFIX;
        e->prefix_len = n - 1;
        return 0;
    }
    if (strchr(p, '{') == NULL) {
        e->kind = RK_EXACT;
        return 0;
    }
    e->kind = RK_PARAMS;
    p++;
    for (;;) {
        const char *end = strchrnul(p, '/');
        struct hd_http_route_seg *sg;

        if (e->nsegs == HD_HTTP_ROUTE_MAX_SEGS)
            return hd_err_set(err, HD_ETOOBIG, "route %s: too many segments",
                              e->r->path);
        sg = &e->segs[e->nsegs++];
        sg->s = p;
        sg->len = (size_t)(end - p);
        if (sg->len >= 3 && p[0] == '{' && end[-1] == '}') {
            sg->param = 1;
            sg->s++;
            sg->len -= 2;
            if (++nparams > HD_HTTP_ROUTE_MAX_PARAMS)
                return hd_err_set(err, HD_ETOOBIG, "route %s: too many params",
                                  e->r->path);
        }
        if (*end == '\0')
            return 0;
        p = end + 1;
    }
}

int
hd_http_router_add(struct hd_http_router *rt, const struct hd_http_route *r,
                   void *ud, struct hd_err *err)
{
    struct hd_http_route_entry *e;

    if (rt->n == HD_HTTP_MAX_ROUTES)
        return hd_err_set(err, HD_ETOOBIG, "more than %d HTTP routes",
                          HD_HTTP_MAX_ROUTES);
    e = &rt->e[rt->n];
    memset(e, 0, sizeof(*e));
    e->r = r;
    e->ud = ud;
    if (compile(e, err) < 0)
        return -1;
    rt->n++;
    return 0;
}

/* Matches path against a {param} route, filling m. */
static int
match_params(const struct hd_http_route_entry *e, const char *path,
             struct hd_http_route_match *m)
{
    const char *p = path + 1;
    size_t i;

    m->n = 0;
    for (i = 0; i < e->nsegs; i++) {
        const char *end = strchrnul(p, '/');
        size_t n = (size_t)(end - p);

        if (e->segs[i].param) {
            if (n == 0)
                return 0;
            m->off[m->n] = (size_t)(p - path);
            m->len[m->n++] = n;
        } else if (n != e->segs[i].len || memcmp(p, e->segs[i].s, n) != 0) {
            return 0;
        }
        if (*end == '\0')
            return i + 1 == e->nsegs;
        p = end + 1;
    }
    return 0;
}

/* 0: no match; otherwise higher is more specific. */
static size_t
score(const struct hd_http_route_entry *e, const char *path,
      struct hd_http_route_match *m)
{
    if (e->kind == RK_EXACT)
        return strcmp(path, e->r->path) == 0 ? SIZE_MAX : 0;
    if (e->kind == RK_PREFIX)
        return strncmp(path, e->r->path, e->prefix_len) == 0 ? e->prefix_len + 1
                                                             : 0;
    return match_params(e, path, m) ? SIZE_MAX - 1 : 0;
}

int
hd_http_router_find(const struct hd_http_router *rt, const char *method,
                    const char *path, int *path_hit,
                    struct hd_http_route_match *m)
{
    struct hd_http_route_match cur;
    size_t best_score = 0;
    size_t hit_score = 0;
    int best = -1;
    size_t i;

    *path_hit = -1;
    memset(m, 0, sizeof(*m));
    for (i = 0; i < rt->n; i++) {
        const struct hd_http_route_entry *e = &rt->e[i];
        size_t sc = score(e, path, &cur);

        if (sc == 0)
            continue;
        if (sc > hit_score) {
            hit_score = sc;
            *path_hit = (int)i;
        }
        if (e->r->method && strcmp(e->r->method, method) != 0)
            continue;
        if (sc > best_score) {
            best_score = sc;
            best = (int)i;
            if (e->kind == RK_PARAMS)
                *m = cur;
        }
    }
    return best;
}

void
hd_http_router_allow(const struct hd_http_router *rt, const char *path,
                     char *out, size_t n)
{
    struct hd_http_route_match m;
    size_t used = 0;
    size_t i;

    out[0] = '\0';
    for (i = 0; i < rt->n; i++) {
        const char *meth = rt->e[i].r->method;

        if (meth == NULL || strstr(out, meth) || !score(&rt->e[i], path, &m))
            continue;
        if (used + strlen(meth) + 3 < n)
            used += (size_t)snprintf(out + used, n - used, "%s%s",
                                     used ? ", " : "", meth);
    }
}

int
hd_http_router_param(const struct hd_http_router *rt, int idx, const char *name)
{
    const struct hd_http_route_entry *e = &rt->e[idx];
    size_t n = strlen(name);
    int np = 0;
    size_t i;

    for (i = 0; i < e->nsegs; i++) {
        if (!e->segs[i].param)
            continue;
        if (e->segs[i].len == n && memcmp(e->segs[i].s, name, n) == 0)
            return np;
        np++;
    }
    return -1;
}
