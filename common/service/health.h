/* health.h -- /healthz, /readyz and /metrics for every service.
 *
 * /healthz answers 200 while the process runs (liveness). /readyz runs the
 * service's dependency checks (PostgreSQL, Kafka, ...) and answers 200
 * only when all pass, 503 otherwise, and 503 from the moment shutdown
 * begins so load balancers drain the instance. On the public port it says
 * only that ({"status":"ready"}, {"status":"unready"},
 * {"status":"draining"}); on the admin listener (service/admin.h) it names
 * each check and its error, next to /metrics:
 *
 *   {"status":"ready","checks":{"postgres":"ok","kafka":"ok"}}
 *   {"status":"unready","checks":{"postgres":"connect: refused","kafka":"ok"}}
 *
 * Checks run when asked, at most once per 500 ms (results are cached), so
 * a probe storm cannot hammer a dependency. Each check must bound its own
 * time (2 s at most). The rendering functions are transport-independent,
 * so the hub serves the same bodies through libwebsockets.
 * Thread-safe. */
#ifndef HD_HEALTH_H
#define HD_HEALTH_H

#include "core/buf.h"
#include "core/err.h"

struct hd_health;
struct hd_http_server;
struct hd_metrics;

/* Returns 0 when the dependency is usable, -1 with err saying why not. */
typedef int hd_health_check_fn(void *ud, struct hd_err *err);

/* new */
struct hd_health *hd_health_new(void);
/* NULL is a no-op. */
void hd_health_free(struct hd_health *h);

/* Adds a named check (name borrowed: a literal). Call before serving. */
void hd_health_add_check(struct hd_health *h, const char *name,
                         hd_health_check_fn *fn, void *ud);

/* From now on /readyz answers 503 {"status":"draining"}. */
void hd_health_set_draining(struct hd_health *h);

/* Renders the /readyz body into out and returns the HTTP status
 * (200 or 503). */
int hd_health_ready(struct hd_health *h, struct hd_buf *out);

/* The public form: the same status, the body only {"status":"ready"},
 * {"status":"unready"} or {"status":"draining"}. */
int hd_health_public(struct hd_health *h, struct hd_buf *out);

/* Adds the public GET /healthz and GET /readyz (no details) to a server
 * that has not started yet. Returns 0 or -1. */
int hd_health_mount(struct hd_health *h, struct hd_http_server *s,
                    struct hd_err *err);

/* Adds GET /healthz, GET /readyz with details and GET /metrics (m may be
 * NULL: then no /metrics) to the admin server. Returns 0 or -1. */
int hd_health_mount_admin(struct hd_health *h, struct hd_metrics *m,
                          struct hd_http_server *s, struct hd_err *err);

#endif
