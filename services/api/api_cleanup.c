/* api_cleanup.c -- periodic hygiene: devices inactive for
 * max_inactive_device_days (not registered and not successfully sent to),
 * push_status / push_requests rows older than the retention, and
 * rate-limit states past their longest interval.
 *
 * Deletes go in chunks of CHUNK rows, one statement each, so no single
 * statement holds many locks or runs into the statement timeout, and a
 * stop request waits for at most one chunk. One thread; several replicas
 * may run it at once (the deletes are idempotent). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "core/alloc.h"
#include "core/config.h"
#include "core/log.h"
#include "services/api/api.h"
#include "services/api/api_store.h"
#include "core/thread.h"
#include "core/banned.h"

#define CHUNK 5000
#define FIRST_RUN_S 10 /* after start, so start-up is not slowed */

struct api_cleanup {
    struct api_ctx *ctx;
    pthread_t tid;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
};

static int
stopped(struct api_cleanup *cl)
{
    int s;

    pthread_mutex_lock(&cl->mu);
    s = cl->stop;
    pthread_mutex_unlock(&cl->mu);
    return s;
}

/* Runs stmt (param n, CHUNK) until a chunk deletes fewer than CHUNK rows.
 * Returns the rows deleted; counts removed devices by provider. */
static long
drain(struct api_cleanup *cl, const char *stmt, int n, int devices)
{
    struct api_ctx *ctx = cl->ctx;
    struct hd_err err = {0};
    char arg[16], chunk[16];
    const char *vals[2] = {arg, chunk};
    long total = 0;

    snprintf(arg, sizeof(arg), "%d", n);
    snprintf(chunk, sizeof(chunk), "%d", CHUNK);
    while (!stopped(cl)) {
        PGresult *res = NULL;
        long rows = 0;
        int i;

        if (api_query(ctx->bg, ctx->cfg.pg_wait_ms, stmt, 2, vals, &res, &err) <
            0) {
            hd_log(HD_LOG_WARN, 0, "cleanup %s: %s", stmt, err.msg);
            break;
        }
        if (devices) {
            for (i = 0; i < PQntuples(res); i++) {
                long k = (long)api_pg_get_ll(res, i, 1);

                hd_counter_add(hd_metric_with(ctx->m.removed,
                                              api_pg_get(res, i, 0),
                                              "inactive"),
                               (uint64_t)k);
                rows += k;
            }
        } else {
            long long v = 0;

            hd_parse_ll(PQcmdTuples(res), 0, 1LL << 62, &v);
            rows = (long)v;
        }
        PQclear(res);
        total += rows;
        if (rows < CHUNK)
            break;
    }
    return total;
}

static void
round_once(struct api_cleanup *cl)
{
    const struct api_config *cfg = &cl->ctx->cfg;
    long n;

    if (cfg->max_inactive_days > 0) {
        n = drain(cl, "cl_inactive", cfg->max_inactive_days, 1);
        if (n > 0)
            hd_log(HD_LOG_INFO, 0, "removed %ld devices inactive for %d days",
                   n, cfg->max_inactive_days);
    }
    n = drain(cl, "cl_rate", 0, 0);
    if (n > 0)
        hd_log(HD_LOG_INFO, 0, "removed %ld idle rate-limit states", n);
    if (cfg->retention_hours > 0) {
        n = drain(cl, "cl_status", cfg->retention_hours, 0);
        n += drain(cl, "cl_requests", cfg->retention_hours, 0);
        n += drain(cl, "cl_scheduled", cfg->retention_hours, 0);
        if (n > 0)
            hd_log(HD_LOG_INFO, 0,
                   "removed %ld status rows older than %d "
                   "hours",
                   n, cfg->retention_hours);
    }
}

static void *
run(void *arg)
{
    struct api_cleanup *cl = arg;
    int wait_s = cl->ctx->cfg.cleanup_interval_s < FIRST_RUN_S
                     ? cl->ctx->cfg.cleanup_interval_s
                     : FIRST_RUN_S;

    hd_log_ctx_set("thread", "cleanup");
    for (;;) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += wait_s;
        pthread_mutex_lock(&cl->mu);
        while (!cl->stop && pthread_cond_timedwait(&cl->cv, &cl->mu, &ts) == 0)
            ;
        if (cl->stop) {
            pthread_mutex_unlock(&cl->mu);
            break;
        }
        pthread_mutex_unlock(&cl->mu);
        round_once(cl);
        wait_s = cl->ctx->cfg.cleanup_interval_s;
    }
    hd_log_ctx_clear();
    return NULL;
}

struct api_cleanup *
api_cleanup_start(struct api_ctx *ctx, struct hd_err *err)
{
    struct api_cleanup *cl = hd_xcalloc(1, sizeof(*cl));

    cl->ctx = ctx;
    pthread_mutex_init(&cl->mu, NULL);
    hd_thread_cond_init(&cl->cv);
    if (pthread_create(&cl->tid, NULL, run, cl) != 0) {
        hd_err_set(err, HD_EIO, "cannot start the cleanup thread");
        pthread_cond_destroy(&cl->cv);
        pthread_mutex_destroy(&cl->mu);
        free(cl);
        return NULL;
    }
    return cl;
}

void
api_cleanup_stop(struct api_cleanup *cl)
{
    if (cl == NULL)
        return;
    hd_thread_stop(cl->tid, &cl->mu, &cl->cv, &cl->stop);
    pthread_cond_destroy(&cl->cv);
    pthread_mutex_destroy(&cl->mu);
    free(cl);
}
