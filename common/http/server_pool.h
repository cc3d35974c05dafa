/* server_pool.h -- the HTTP server's worker pool for blocking routes
 * (server_pool.c). */
#ifndef HD_HTTP_SERVER_POOL_H
#define HD_HTTP_SERVER_POOL_H

#include "http/server_private.h"

/* start: 0, or -1 with err (no thread left running); stop joins them;
 * enqueue: 0, or -1 when the ring is full or stopping; take pops a queued
 * request that no worker will run (after stop), or NULL; run runs r's
 * handler on this thread. */
int hd_http_pool_start_(struct hd_http_server *s, struct hd_err *err);
void hd_http_pool_stop_(struct hd_http_server *s);
int hd_http_pool_enqueue_(struct hd_http_server *s, struct hd_http_req *r);
struct hd_http_req *hd_http_pool_take_(struct hd_http_server *s);
void hd_http_pool_run_(struct hd_http_req *r);

#endif
