/* health.c -- /healthz, /readyz and /metrics: the public pair that says
 * only ok or not ok, and the admin set with the details.
 *
 * The readiness result is computed under one lock and cached for 500 ms:
 * concurrent probes wait for the run in progress and share its result
 * instead of each pinging PostgreSQL. Draining wins over everything and
 * runs no check. Does not log: a failing check is reported in the body,
 * and the service decides whether that deserves a log line. */
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "service/health.h"
#include "http/server.h"
#include "core/json.h"
#include "core/limits.h"
#include "core/metrics.h"
#include "core/banned.h"

#define MAX_CHECKS 16
#define CACHE_MS 500
/* /readyz body: a name and an escaped error message per check */
#define BODY_MAX (MAX_CHECKS * (2 * HD_ERR_MSG_LEN + 64))

struct check {
    const char *name;
    hd_health_check_fn *fn;
    void *ud;
};

struct hd_health {
    struct check checks[MAX_CHECKS];
    size_t nchecks;
    atomic_int draining;
    struct hd_metrics *metrics; /* set by hd_health_mount() */
    pthread_mutex_t mu;         /* the cache, and running the checks */
    int cached;
    uint64_t cached_at;
    int cached_status;
    struct hd_buf cached_body;
};

struct hd_health *
hd_health_new(void)
{
    struct hd_health *h = hd_xcalloc(1, sizeof(*h));

    atomic_init(&h->draining, 0);
    pthread_mutex_init(&h->mu, NULL);
    hd_buf_init(&h->cached_body, BODY_MAX);
    return h;
}

void
hd_health_free(struct hd_health *h)
{
    if (h == NULL)
        return;
    hd_buf_release(&h->cached_body);
    pthread_mutex_destroy(&h->mu);
    free(h);
}

void
hd_health_add_check(struct hd_health *h, const char *name,
                    hd_health_check_fn *fn, void *ud)
{
    if (h->nchecks == MAX_CHECKS) {
        fprintf(stderr,
                "{\"level\":\"fatal\",\"msg\":\"health: more than "
                "%d checks\"}\n",
                MAX_CHECKS);
        abort();
    }
    h->checks[h->nchecks++] = (struct check){name, fn, ud};
}

void
hd_health_set_draining(struct hd_health *h)
{
    atomic_store(&h->draining, 1);
}

/* Runs every check and renders the body into h->cached_body. */
static int
run_checks(struct hd_health *h)
{
    json_t *body = json_object();
    json_t *checks = json_object();
    int ok = 1;
    size_t i;

    for (i = 0; i < h->nchecks; i++) {
        struct hd_err err = {HD_EOK, ""};
        const char *text = "ok";
        json_t *v;

        if (h->checks[i].fn(h->checks[i].ud, &err) < 0) {
            ok = 0;
            text = err.msg[0] ? err.msg : "failed";
        }
        v = json_string(text);
        if (v == NULL) /* not UTF-8 */
            v = json_string("failed (message is not valid UTF-8)");
        json_object_set_new(checks, h->checks[i].name, v);
    }
    json_object_set_new(body, "status", json_string(ok ? "ready" : "unready"));
    json_object_set_new(body, "checks", checks);
    hd_buf_reset(&h->cached_body);
    if (hd_json_dump(body, &h->cached_body, NULL) < 0) {
        hd_buf_reset(&h->cached_body);
        hd_buf_puts(&h->cached_body, "{\"status\":\"unready\"}", NULL);
        ok = 0;
    }
    json_decref(body);
    return ok ? 200 : 503;
}

int
hd_health_ready(struct hd_health *h, struct hd_buf *out)
{
    uint64_t now;
    int status;

    if (atomic_load(&h->draining)) {
        hd_buf_puts(out, "{\"status\":\"draining\"}", NULL);
        return 503;
    }
    pthread_mutex_lock(&h->mu);
    now = hd_now_mono_ms();
    if (!h->cached || now - h->cached_at >= CACHE_MS) {
        h->cached_status = run_checks(h);
        /* the age counts from when the result was known */
        h->cached_at = hd_now_mono_ms();
        h->cached = 1;
    }
    status = h->cached_status;
    hd_buf_append(out, h->cached_body.data, h->cached_body.len, NULL);
    pthread_mutex_unlock(&h->mu);
    return status;
}

int
hd_health_public(struct hd_health *h, struct hd_buf *out)
{
    struct hd_buf detail;
    int status;

    if (atomic_load(&h->draining)) {
        hd_buf_puts(out, "{\"status\":\"draining\"}", NULL);
        return 503;
    }
    hd_buf_init(&detail, BODY_MAX);
    status = hd_health_ready(h, &detail);
    hd_buf_release(&detail);
    hd_buf_puts(out,
                status == 200 ? "{\"status\":\"ready\"}"
                              : "{\"status\":\"unready\"}",
                NULL);
    return status;
}

static void
h_healthz(struct hd_http_req *r, void *ud)
{
    (void)ud;
    hd_http_respond(r, 200, "application/json", "{\"status\":\"ok\"}", 15);
}

static void
h_readyz(struct hd_http_req *r, void *ud)
{
    struct hd_buf b;
    int status;

    hd_buf_init(&b, BODY_MAX);
    status = hd_health_ready(ud, &b);
    hd_http_respond(r, status, "application/json", b.data ? b.data : "", b.len);
    hd_buf_release(&b);
}

static void
h_readyz_public(struct hd_http_req *r, void *ud)
{
    struct hd_buf b;
    int status;

    hd_buf_init(&b, 64);
    status = hd_health_public(ud, &b);
    hd_http_respond(r, status, "application/json", b.data ? b.data : "", b.len);
    hd_buf_release(&b);
}

static void
h_metrics(struct hd_http_req *r, void *ud)
{
    struct hd_health *h = ud;
    struct hd_err err = {HD_EOK, ""};
    struct hd_buf b;

    hd_buf_init(&b, HD_METRICS_OUT_MAX);
    if (hd_metrics_render(h->metrics, &b, &err) < 0)
        hd_http_respond_error(r, 500, "internal", "%s", err.msg);
    else
        hd_http_respond(r, 200, "text/plain; version=0.0.4; charset=utf-8",
                        b.data, b.len);
    hd_buf_release(&b);
}

int
hd_health_mount(struct hd_health *h, struct hd_http_server *s,
                struct hd_err *err)
{
    /* /readyz may wait on a check for up to 2 s: keep it off the I/O
     * threads */
    static const struct hd_http_route routes[] = {
        {"GET", "/healthz", h_healthz, 0, 0},
        {"GET", "/readyz", h_readyz_public, 0, 1},
    };

    return hd_http_server_add_routes(s, routes, 2, h, err);
}

int
hd_health_mount_admin(struct hd_health *h, struct hd_metrics *m,
                      struct hd_http_server *s, struct hd_err *err)
{
    /* /metrics is cheap enough to render inline */
    static const struct hd_http_route routes[] = {
        {"GET", "/healthz", h_healthz, 0, 0},
        {"GET", "/readyz", h_readyz, 0, 1},
        {"GET", "/metrics", h_metrics, 0, 0},
    };

    h->metrics = m;
    return hd_http_server_add_routes(s, routes, m ? 3 : 2, h, err);
}
