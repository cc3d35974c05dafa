/* hub_http.h -- the hub's plain HTTP endpoints on the WebSocket port:
 * /healthz, /readyz (ok or not ok), POST /send (the self-hosted path) and
 * the optional negotiate. /metrics and the detailed /readyz are on the
 * admin listener (service/admin.h), started by main.c.
 *
 * These are the transport's HTTP events (struct hub_ws_events), registered
 * by hub_thread.c; POST /send hands its event to the routing layer. Same
 * return contract as an lws callback (0, or -1 to close). Service thread
 * only. */
#ifndef HUB_HTTP_H
#define HUB_HTTP_H

#include <stddef.h>

#include "services/hub/hub.h"

int hub_http_request(struct hub_thread *th, struct hub_conn *c, struct lws *wsi,
                     const char *path);
int hub_http_body(struct hub_thread *th, struct hub_conn *c, struct lws *wsi,
                  const void *in, size_t len);
int hub_http_body_done(struct hub_thread *th, struct hub_conn *c,
                       struct lws *wsi);
int hub_http_writable(struct hub_thread *th, struct hub_conn *c,
                      struct lws *wsi);
/* The request is over (c may be NULL): frees its state. */
void hub_http_closed(struct hub_thread *th, struct hub_conn *c);

#endif
