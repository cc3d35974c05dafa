/* route.h -- the route table behind common/http/server.h.
 *
 * Compiles each struct hd_http_route path once (exact "/api", a prefix
 * ending in "*", or {name} segments) and then matches request paths without
 * allocating: exact beats {param} beats prefix (the longest prefix
 * first). Only server.c uses it. Not thread-safe while routes are
 * added; read-only, so any thread may match, afterwards. */
#ifndef HD_HTTP_ROUTE_H
#define HD_HTTP_ROUTE_H

#include <stddef.h>

#include "core/err.h"
#include "http/server.h"
#include "core/limits.h"

#define HD_HTTP_ROUTE_MAX_SEGS 16  /* path segments in a {param} route */
#define HD_HTTP_ROUTE_MAX_PARAMS 8 /* {param} segments in one route */

struct hd_http_route_seg {
    const char *s; /* into the route's path (borrowed, static) */
    size_t len;
    int param; /* {name}: s/len is the name without braces */
};

struct hd_http_route_entry {
    const struct hd_http_route *r; /* borrowed */
    void *ud;
    int kind; /* exact, {param} or prefix */
    size_t prefix_len;
    struct hd_http_route_seg segs[HD_HTTP_ROUTE_MAX_SEGS];
    size_t nsegs;
};

struct hd_http_router {
    struct hd_http_route_entry e[HD_HTTP_MAX_ROUTES];
    size_t n;
};

/* Where the {param} values of a match sit in the request path. */
struct hd_http_route_match {
    size_t off[HD_HTTP_ROUTE_MAX_PARAMS];
    size_t len[HD_HTTP_ROUTE_MAX_PARAMS];
    size_t n;
};

/* Appends a route (borrowed). Returns 0, or -1 with err (bad path, no
 * handler, too many routes, segments or params). */
int hd_http_router_add(struct hd_http_router *rt, const struct hd_http_route *r,
                       void *ud, struct hd_err *err);

/* The index of the best route for method and path, or -1. *path_hit is
 * the index of the best route for path whatever the method (-1: none), so
 * -1 with *path_hit >= 0 means 405. m receives the {param} positions. */
int hd_http_router_find(const struct hd_http_router *rt, const char *method,
                        const char *path, int *path_hit,
                        struct hd_http_route_match *m);

/* Writes "GET, PUT" (the methods of every route matching path) into out. */
void hd_http_router_allow(const struct hd_http_router *rt, const char *path,
                          char *out, size_t n);

/* The position of {name} among route idx's params, or -1. */
int hd_http_router_param(const struct hd_http_router *rt, int idx,
                         const char *name);

#endif
