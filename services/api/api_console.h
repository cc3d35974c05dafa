/* api_console.h -- the operator console, served on herald-api's admin
 * listener (never on the public port).
 *
 * A static page (index.html, console.js, console.css, embedded in the
 * binary) talks to:
 *
 *   POST /console/login          {"key": API key} -> session cookie + CSRF
 *   POST /console/logout
 *   GET  /console/session        {"csrf": ...} or 401
 *   POST /console/api/{method}   the server API's method (params as body),
 *                                answered by the same handlers as /api
 *   GET  /console/metrics/{name} "api" (this process) or a service named
 *                                in HERALD_CONSOLE_METRICS_URLS
 *
 * The session cookie is HttpOnly; Secure; SameSite=Strict; Path=/console
 * (browsers keep Secure cookies from http://127.0.0.1 and localhost, so
 * the console works on the default 127.0.0.1 bind without TLS; put TLS in
 * front when the admin listener is reached from elsewhere). Every POST
 * except the login carries the session's CSRF token in X-Herald-CSRF, and
 * a POST whose Origin is not this listener's is refused. Sessions end
 * after HERALD_CONSOLE_SESSION_S; login attempts are limited per client
 * address. */
#ifndef API_CONSOLE_H
#define API_CONSOLE_H

#include <stddef.h>

#include "core/config.h"
#include "core/err.h"

struct api_ctx;
struct hd_http_route;

struct api_console_config {
    int session_s;      /* HERALD_CONSOLE_SESSION_S */
    char *metrics_urls; /* HERALD_CONSOLE_METRICS_URLS: name=url,... */
};

extern const struct hd_config_field api_console_config_fields[];

struct api_console;

/* new: NULL with err when HERALD_CONSOLE_METRICS_URLS is malformed. */
struct api_console *api_console_new(struct api_ctx *ctx,
                                    const struct api_console_config *cfg,
                                    struct hd_err *err);
/* NULL is a no-op. */
void api_console_free(struct api_console *c);

/* The routes, to be served with the console as ud. */
extern const struct hd_http_route api_console_routes[];
extern const size_t api_console_nroutes;

#endif
