/* hub_thread.c -- the service threads: one libwebsockets context each,
 * each with its own SO_REUSEPORT listening socket, so the kernel spreads
 * new connections over threads (and over other hub processes bound to the
 * same port).
 *
 * The listening socket is adopted by lws as a raw descriptor; readable
 * means "accept": the thread accepts and adopts the sockets itself, so a
 * connection never changes thread. Another thread talks to this one only
 * through the inbox and lws_cancel_service(). A 250 ms lws timer advances
 * the wheel and publishes the thread's counters. */
#include <errno.h>
#include <ev.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/limits.h"
#include "core/log.h"
#include "services/hub/hub.h"
#include "core/banned.h"

/* No lws-level validity pings or idle hangups: the hub does its own
 * keep-alive on the timer wheel. (lws re-sorts a per-connection timer on
 * every packet otherwise, O(connections) each time.) */
static const lws_retry_bo_t no_validity = {NULL, 0, 0, 0, 0, 0};

static const struct lws_protocols protocols[] = {
    /* rx: 128-byte reads are plenty for pings (a long message arrives in
     * pieces); tx must be set, or lws caps every send() at the rx size */
    {"herald-hub", hub_ws_callback, sizeof(struct hub_conn), 128, 0, NULL,
     LWS_PRE + HD_HUB_PACK_MAX + 16},
    {"hub-listen", hub_listen_callback, 0, 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

uint32_t
hub_thread_now(struct hub_thread *th)
{
    th->now = hub_wheel_ticks(hd_now_mono_ms() - th->t0_ms) + 1;
    return th->now;
}

static int
listen_socket(const struct hub_config *cfg, struct hd_err *err)
{
    struct sockaddr_in sa;
    int fd, one = 1;

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)cfg->port);
    if (inet_pton(AF_INET, cfg->bind, &sa.sin_addr) != 1)
        return hd_err_set(err, HD_EINVAL,
                          "HERALD_HUB_BIND: not an IPv4 "
                          "address: %s",
                          cfg->bind);
    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return hd_err_set(err, HD_EIO, "socket: %s", strerror(errno));
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
        bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        listen(fd, 4096) < 0) {
        hd_err_set(err, HD_EIO, "listen %s:%d: %s", cfg->bind, cfg->port,
                   strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

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
    if (th->listen_wsi) {
        lws_set_timeout(th->listen_wsi, PENDING_TIMEOUT_USER_OK,
                        LWS_TO_KILL_ASYNC);
        th->listen_wsi = NULL;
    }
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
    publish_stats(th);
    if (th->draining &&
        (th->nconns == 0 || (int32_t)(th->now - th->drain_deadline) >= 0)) {
        th->exiting = 1;
        if (th->loop)
            ev_break(th->loop, EVBREAK_ALL);
        else
            lws_cancel_service(th->lws);
        return;
    }
    lws_sul_schedule(th->lws, 0, &th->sul, tick,
                     HUB_WHEEL_TICK_MS * LWS_US_PER_MS);
}

void
hub_thread_wakeup(struct hub_thread *th)
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

static int
thread_setup(struct hub_thread *th, struct hd_err *err)
{
    struct lws_context_creation_info info;
    lws_sock_file_fd_type fd;

    memset(&info, 0, sizeof(info));
    info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
    info.protocols = protocols;
    info.user = th;
    info.max_http_header_data = (unsigned short)(HD_HUB_TOKEN_MAX + 1024);
    info.max_http_header_pool = 64;
    info.timeout_secs = 15;
    info.keepalive_timeout = 15;
    info.options = LWS_SERVER_OPTION_DISABLE_IPV6;
    info.retry_and_idle_policy = &no_validity;
    if (th->hub->cfg.epoll) {
        /* lws's own loop is poll(): every wake-up walks every descriptor.
         * libev on epoll costs per ready descriptor instead. The loop is
         * ours (a foreign loop to lws), so lws installs no signal watcher
         * and the thread decides when it ends. */
        th->loop = ev_loop_new(EVBACKEND_EPOLL | EVFLAG_NOENV);
        if (th->loop == NULL)
            return hd_err_set(err, HD_EIO, "thread %d: no epoll event loop",
                              th->idx);
        info.options |= LWS_SERVER_OPTION_LIBEV;
        info.foreign_loops = (void **)&th->loop;
    }
    th->lws = lws_create_context(&info);
    if (th->lws == NULL && th->loop)
        return hd_err_set(err, HD_EIO,
                          "thread %d: libwebsockets could not start on epoll "
                          "(is libwebsockets-evlib-ev installed? "
                          "HERALD_HUB_EPOLL=false runs without it)",
                          th->idx);
    if (th->lws == NULL)
        return hd_err_set(err, HD_EIO, "thread %d: lws_create_context failed",
                          th->idx);
    th->vh = lws_get_vhost_by_name(th->lws, "default");
    if (th->vh == NULL)
        return hd_err_set(err, HD_EIO, "thread %d: no default vhost", th->idx);
    th->listen_fd = listen_socket(&th->hub->cfg, err);
    if (th->listen_fd < 0)
        return -1;
    fd.filefd = th->listen_fd;
    th->listen_wsi = lws_adopt_descriptor_vhost(th->vh, LWS_ADOPT_RAW_FILE_DESC,
                                                fd, "hub-listen", NULL);
    if (th->listen_wsi == NULL) {
        th->listen_fd = -1; /* lws closed it */
        return hd_err_set(err, HD_EIO,
                          "thread %d: cannot adopt the "
                          "listening socket",
                          th->idx);
    }
    return 0;
}

static void *
thread_main(void *arg)
{
    struct hub_thread *th = arg;
    struct hd_err err = {0};
    int ok;

    hd_log_ctx_set("thread", "%d", th->idx);
    th->t0_ms = hd_now_mono_ms();
    hub_thread_now(th);
    hub_wheel_init(&th->wheel, th->now);
    hub_registry_init(&th->reg);
    init_static_frames(th);
    th->wbuf = hd_xmalloc(LWS_PRE + HD_HUB_PACK_MAX);
    ok = thread_setup(th, &err) == 0;
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
    if (th->loop) {
        ev_run(th->loop, 0);
    } else {
        while (!th->exiting) {
            if (lws_service(th->lws, 0) < 0)
                break;
        }
    }
out:
    pthread_mutex_lock(&th->mu);
    th->gone = 1; /* no more lws_cancel_service() from other threads */
    pthread_mutex_unlock(&th->mu);
    if (th->lws) {
        lws_context_destroy(th->lws); /* closes what is left */
        th->lws = NULL;
    } else if (th->listen_fd >= 0) {
        close(th->listen_fd);
    }
    if (th->loop) { /* after lws: its watchers are stopped */
        ev_loop_destroy(th->loop);
        th->loop = NULL;
    }
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
    for (t = 0; t < hub->nthreads; t++) {
        th = &hub->threads[t];
        pthread_join(th->tid, NULL);
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
