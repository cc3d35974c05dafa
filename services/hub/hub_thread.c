/* hub_thread.c -- the service threads: one transport each (hub_ws.c),
 * each with its own SO_REUSEPORT listening socket, so the kernel spreads
 * new connections over threads (and over other hub processes bound to the
 * same port).
 *
 * This file wires the layers: the transport reports to the admission,
 * connection and HTTP layers through the events table below, and the
 * inbox feeds the routing layer. Another thread talks to this one only
 * through the inbox and lws_cancel_service(). A 250 ms lws timer advances
 * the wheel and publishes the thread's counters. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/limits.h"
#include "core/log.h"
#include "services/hub/hub_admit.h"
#include "services/hub/hub_conn.h"
#include "services/hub/hub_dispatch.h"
#include "services/hub/hub_http.h"
#include "services/hub/hub_thread.h"
#include "services/hub/hub_ws.h"
#include "core/banned.h"

static void wakeup(struct hub_thread *th);

/* What the transport reports, and to whom. */
static const struct hub_ws_events events = {
    .session_size = sizeof(struct hub_conn),
    .upgrade = hub_admit_upgrade,
    .upgrade_dropped = hub_admit_drop,
    .established = hub_conn_established,
    .receive = hub_conn_receive,
    .writable = hub_conn_writable,
    .closed = hub_conn_closed,
    .http_request = hub_http_request,
    .http_body = hub_http_body,
    .http_body_done = hub_http_body_done,
    .http_writable = hub_http_writable,
    .http_closed = hub_http_closed,
    .wakeup = wakeup,
};

static void
publish_stats(struct hub_thread *th)
{
    struct hub_metrics *m = &th->hub->m;
    int p;

    for (p = 0; p < HUB_PROTO__COUNT; p++) {
        if (th->st.deliveries[p])
            hd_counter_add(m->deliveries[p], th->st.deliveries[p]);
    }
    if (th->st.pings)
        hd_counter_add(m->pings, th->st.pings);
    if (th->st.dropped)
        hd_counter_add(m->dropped, th->st.dropped);
    memset(&th->st, 0, sizeof(th->st));
}

static void
begin_drain(struct hub_thread *th)
{
    struct hub_conn *c, *next;

    th->draining = 1;
    th->drain_deadline = th->now + (uint32_t)th->hub->cfg.shutdown_timeout_s *
                                       (1000 / HUB_WHEEL_TICK_MS);
    hub_ws_stop_listening(th);
    for (c = th->conns; c; c = next) {
        next = c->next;
        hub_conn_goodbye(th, c);
    }
}

static void
tick(lws_sorted_usec_list_t *sul)
{
    struct hub_thread *th =
        (struct hub_thread *)((char *)sul - offsetof(struct hub_thread, sul));

    hub_thread_now(th);
    hub_wheel_advance(&th->wheel, th->now, hub_conn_timer, th);
    hub_ws_tick(th);
    publish_stats(th);
    if (th->draining &&
        (th->nconns == 0 || (int32_t)(th->now - th->drain_deadline) >= 0)) {
        hub_ws_end(th);
        return;
    }
    lws_sul_schedule(th->lws, 0, &th->sul, tick,
                     HUB_WHEEL_TICK_MS * LWS_US_PER_MS);
}

/* The transport's wakeup: routes what the inbox holds and notices a stop
 * request. */
static void
wakeup(struct hub_thread *th)
{
    struct hub_event **batch;
    size_t n, i;
    int stop;

    pthread_mutex_lock(&th->mu);
    batch = th->inbox;
    n = th->ninbox;
    th->inbox = NULL;
    th->ninbox = 0;
    th->capinbox = 0;
    stop = th->stop;
    pthread_cond_broadcast(&th->cond);
    pthread_mutex_unlock(&th->mu);
    hub_thread_now(th);
    for (i = 0; i < n; i++) {
        hub_route(th, batch[i]);
        hub_event_release(batch[i]);
    }
    free(batch);
    if (stop && !th->draining)
        begin_drain(th);
}

static void
init_static_frames(struct hub_thread *th)
{
    size_t len;
    int p;

    for (p = 0; p < HUB_PROTO__COUNT; p++) {
        th->ping[p].data = hub_signalr_ping((enum hub_proto)p, &len);
        th->ping[p].len = (uint32_t)len;
        th->ping[p].refs = 1; /* pinned: never freed */
        th->close[p].data = hub_signalr_close((enum hub_proto)p, &len);
        th->close[p].len = (uint32_t)len;
        th->close[p].refs = 1;
    }
}

static void *
thread_main(void *arg)
{
    struct hub_thread *th = arg;
    struct hd_err err = {0};
    char name[16];
    int ok;

    snprintf(name, sizeof(name), "hub-svc-%d", th->idx % 1000);
    pthread_setname_np(pthread_self(), name);
    hd_log_ctx_set("thread", "%d", th->idx);
    th->t0_ms = hd_now_mono_ms();
    hub_thread_now(th);
    hub_wheel_init(&th->wheel, th->now);
    hub_registry_init(&th->reg);
    init_static_frames(th);
    th->wbuf = hd_xmalloc(LWS_PRE + HD_HUB_PACK_MAX);
    ok = hub_ws_start(th, &events, &err) == 0;
    pthread_mutex_lock(&th->mu);
    th->started = ok ? 1 : -1;
    pthread_cond_broadcast(&th->cond);
    pthread_mutex_unlock(&th->mu);
    if (!ok) {
        hd_log(HD_LOG_ERROR, 0, "%s", err.msg);
        goto out;
    }
    lws_sul_schedule(th->lws, 0, &th->sul, tick,
                     HUB_WHEEL_TICK_MS * LWS_US_PER_MS);
    hub_ws_run(th);
out:
    pthread_mutex_lock(&th->mu);
    th->gone = 1; /* no more lws_cancel_service() from other threads */
    pthread_mutex_unlock(&th->mu);
    hub_ws_stop(th);
    publish_stats(th);
    hub_registry_release(&th->reg);
    free(th->wbuf);
    th->wbuf = NULL;
    hd_log_ctx_clear();
    return NULL;
}

int
hub_threads_start(struct hub_ctx *hub, struct hd_err *err)
{
    struct hub_thread *th;
    int i, started;

    hub->threads = hd_xcalloc((size_t)hub->nthreads, sizeof(*hub->threads));
    for (i = 0; i < hub->nthreads; i++) {
        th = &hub->threads[i];
        th->hub = hub;
        th->idx = i;
        th->listen_fd = -1;
        th->early_fd = -1;
        pthread_mutex_init(&th->mu, NULL);
        pthread_cond_init(&th->cond, NULL);
        if (pthread_create(&th->tid, NULL, thread_main, th) != 0) {
            hub->nthreads = i;
            hub_threads_stop(hub);
            return hd_err_set(err, HD_EIO, "pthread_create failed");
        }
        pthread_mutex_lock(&th->mu);
        while (th->started == 0)
            pthread_cond_wait(&th->cond, &th->mu);
        started = th->started;
        pthread_mutex_unlock(&th->mu);
        if (started < 0) {
            hub->nthreads = i + 1;
            hub_threads_stop(hub);
            return hd_err_set(err, HD_EIO, "service thread %d could not start",
                              i);
        }
    }
    return 0;
}

void
hub_threads_stop(struct hub_ctx *hub)
{
    struct hub_thread *th;
    size_t i;
    int t;

    for (t = 0; t < hub->nthreads; t++) {
        th = &hub->threads[t];
        pthread_mutex_lock(&th->mu);
        th->stop = 1;
        if (th->started > 0 && !th->gone)
            lws_cancel_service(th->lws);
        pthread_mutex_unlock(&th->mu);
    }
    /* every thread joined before any is freed: one still running may be
     * routing a POST /send into the others' inboxes */
    for (t = 0; t < hub->nthreads; t++)
        pthread_join(hub->threads[t].tid, NULL);
    for (t = 0; t < hub->nthreads; t++) {
        th = &hub->threads[t];
        for (i = 0; i < th->ninbox; i++)
            hub_event_release(th->inbox[i]);
        free(th->inbox);
        pthread_mutex_destroy(&th->mu);
        pthread_cond_destroy(&th->cond);
    }
    free(hub->threads);
    hub->threads = NULL;
    hub->nthreads = 0;
}
