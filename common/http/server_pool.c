/* server_pool.c -- the HTTP server's worker pool: the threads that run
 * the handlers of routes that block (.blocking, e.g. a database query),
 * fed by a fixed ring of dispatched requests that is never grown (a full
 * ring is answered 503 by the caller). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/limits.h"
#include "core/log.h"
#include "http/server_pool.h"
#include "http/server_private.h"
#include "core/banned.h"

void
hd_http_pool_run_(struct hd_http_req *r)
{
    const struct hd_http_route_entry *e = &r->s->router.e[r->route];

    hd_log_ctx_set("req_id", "%s", r->id);
    e->r->handler(r, e->ud); /* r may be gone once this returns */
    hd_log_ctx_clear();
}

static void *
worker_main(void *arg)
{
    struct hd_http_server *s = arg;
    struct hd_http_req *r;

    for (;;) {
        pthread_mutex_lock(&s->qmu);
        while (!s->qstop && s->qlen == 0)
            pthread_cond_wait(&s->qcv, &s->qmu);
        if (s->qstop) {
            pthread_mutex_unlock(&s->qmu);
            return NULL;
        }
        r = s->queue[s->qhead];
        s->qhead = (s->qhead + 1) % s->qcap;
        s->qlen--;
        pthread_mutex_unlock(&s->qmu);
        hd_http_pool_run_(r);
    }
}

int
hd_http_pool_enqueue_(struct hd_http_server *s, struct hd_http_req *r)
{
    pthread_mutex_lock(&s->qmu);
    if (s->qstop || s->qlen == s->qcap) {
        pthread_mutex_unlock(&s->qmu);
        return -1;
    }
    s->queue[(s->qhead + s->qlen) % s->qcap] = r;
    s->qlen++;
    pthread_cond_signal(&s->qcv);
    pthread_mutex_unlock(&s->qmu);
    return 0;
}

void
hd_http_pool_stop_(struct hd_http_server *s)
{
    int i;

    pthread_mutex_lock(&s->qmu);
    s->qstop = 1;
    pthread_cond_broadcast(&s->qcv);
    pthread_mutex_unlock(&s->qmu);
    for (i = 0; i < s->nworkers; i++)
        pthread_join(s->workers[i], NULL);
    s->nworkers = 0;
}

int
hd_http_pool_start_(struct hd_http_server *s, struct hd_err *err)
{
    int i;

    if (s->cfg.workers == 0)
        return 0;
    s->qcap = (size_t)s->cfg.workers * HD_HTTP_QUEUE_PER_WORKER;
    s->queue = hd_xcalloc(s->qcap, sizeof(*s->queue));
    s->workers = hd_xcalloc((size_t)s->cfg.workers, sizeof(*s->workers));
    for (i = 0; i < s->cfg.workers; i++) {
        int rc = pthread_create(&s->workers[i], NULL, worker_main, s);

        if (rc != 0) {
            hd_http_pool_stop_(s);
            return hd_err_set(err, HD_EIO, "start HTTP worker: %s",
                              strerror(rc));
        }
        s->nworkers++;
    }
    return 0;
}

struct hd_http_req *
hd_http_pool_take_(struct hd_http_server *s)
{
    struct hd_http_req *r = NULL;

    pthread_mutex_lock(&s->qmu);
    if (s->qlen > 0) {
        r = s->queue[s->qhead];
        s->qhead = (s->qhead + 1) % s->qcap;
        s->qlen--;
    }
    pthread_mutex_unlock(&s->qmu);
    return r;
}
