/* client.c -- struct hd_httpc: the generic client. Submissions from any
 * thread, the epoll loop that drives the transports, the transfer pool and
 * the completion callbacks; blocking calls on top.
 *
 * Submissions go through a locked pending list and an eventfd; only the
 * loop thread touches a transport. Each transfer goes to the first
 * transport that wants it: the native HTTP/2 one (h2.c) when enabled, else
 * libcurl (curl.c), which takes anything. Transports see only
 * http/transport.h and report back through complete(). Transfers are
 * pooled with their transports' state, so a steady load allocates nothing
 * per request. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/limits.h"
#include "http/client.h"
#include "http/transport.h"
#include "core/banned.h"

#define POOL_MAX 1024        /* idle transfers kept for reuse */
#define KEEP_BUF (16 * 1024) /* larger buffers are freed on reuse */
#define EVENTS 64

struct hd_httpc {
    int epfd;
    int wakefd;
    struct hd_httpc_config cfg; /* defaults filled, strings borrowed */
    /* by enum httpc_slot; NULL when not in use */
    const struct httpc_transport *tr[HTTPC_TRANSPORTS];
    void *ts[HTTPC_TRANSPORTS]; /* their states */

    pthread_mutex_t lock; /* pending list, pool */
    struct httpc_xfer *pending, *pending_tail;
    struct httpc_xfer *pool;
    size_t npool;
    long ncompleted; /* loop thread only */
    atomic_long inflight;
    atomic_int stopping;

    pthread_t loop;
    atomic_int have_loop;
    pthread_t thread;
    int threaded;
    atomic_int stop;
};

static const char *const fail_names[] = {
    "ok",     "connect", "tls",    "timeout", "stream",
    "toobig", "proto",   "cancel", "other",
};

const char *
hd_httpc_fail_name(enum hd_httpc_fail f)
{
    if ((size_t)f >= sizeof(fail_names) / sizeof(fail_names[0]))
        return "other";
    return fail_names[f];
}

/* ---- transfers ---------------------------------------------------------- */

static struct httpc_xfer *
xfer_get(struct hd_httpc *c)
{
    struct httpc_xfer *x;

    pthread_mutex_lock(&c->lock);
    x = c->pool;
    if (x != NULL) {
        c->pool = x->q;
        c->npool--;
    }
    pthread_mutex_unlock(&c->lock);
    if (x == NULL) {
        x = hd_xcalloc(1, sizeof(*x));
        hd_buf_init(&x->body, c->cfg.max_response);
        hd_buf_init(&x->hdrs, HD_HTTPC_MAX_RESP_HEADERS);
    }
    x->q = NULL;
    x->toobig = 0;
    x->status = 0;
    x->version = 0;
    x->error[0] = '\0';
    return x;
}

static void
xfer_destroy(struct hd_httpc *c, struct httpc_xfer *x)
{
    size_t i;

    for (i = 0; i < HTTPC_TRANSPORTS; i++)
        if (c->tr[i])
            c->tr[i]->xfer_free(x->priv[i]);
    hd_buf_release(&x->body);
    hd_buf_release(&x->hdrs);
    free(x);
}

static void
xfer_put(struct hd_httpc *c, struct httpc_xfer *x)
{
    if (x->body.cap > KEEP_BUF) {
        hd_buf_release(&x->body);
        hd_buf_init(&x->body, c->cfg.max_response);
    }
    if (x->hdrs.cap > KEEP_BUF) {
        hd_buf_release(&x->hdrs);
        hd_buf_init(&x->hdrs, HD_HTTPC_MAX_RESP_HEADERS);
    }
    hd_buf_reset(&x->body);
    hd_buf_reset(&x->hdrs);
    x->cb = NULL;
    x->ud = NULL;
    pthread_mutex_lock(&c->lock);
    if (c->npool < POOL_MAX) {
        x->q = c->pool;
        c->pool = x;
        c->npool++;
        x = NULL;
    }
    pthread_mutex_unlock(&c->lock);
    if (x != NULL)
        xfer_destroy(c, x);
}

/* Every transport reports here (httpc_complete_fn): runs x's callback and
 * recycles x. Loop thread. */
static void
complete(void *owner, struct httpc_xfer *x, enum hd_httpc_fail fail,
         const char *why)
{
    struct hd_httpc *c = owner;
    struct hd_httpc_resp r;

    memset(&r, 0, sizeof(r));
    r.fail = fail;
    if (fail == HD_HTTPC_OK) {
        r.status = x->status;
        r.http_version = x->version;
        if (c->cfg.version == HD_HTTPC_HTTP2_ONLY && r.http_version != 2) {
            r.fail = HD_HTTPC_EPROTO;
            why = "the server answered over HTTP/1.x; HTTP/2 is required";
        }
    }
    if (r.fail != HD_HTTPC_OK) {
        r.status = 0;
        if (why == NULL)
            why = x->error[0] ? x->error : hd_httpc_fail_name(r.fail);
    }
    r.body = x->body.data ? x->body.data : "";
    r.len = x->body.len;
    r.headers = x->hdrs.data ? x->hdrs.data : "";
    r.headers_len = x->hdrs.len;
    r.error = r.fail == HD_HTTPC_OK ? "" : why;
    r.duration_us = hd_now_mono_us() - x->start_us;
    atomic_fetch_sub(&c->inflight, 1);
    c->ncompleted++;
    x->cb(x->ud, &r);
    xfer_put(c, x);
}

/* Hands the pending list to the transports (loop thread): the native
 * HTTP/2 one takes what it wants, libcurl everything else. */
static void
add_pending(struct hd_httpc *c)
{
    struct httpc_xfer *list, *x;
    size_t i;

    pthread_mutex_lock(&c->lock);
    list = c->pending;
    c->pending = c->pending_tail = NULL;
    pthread_mutex_unlock(&c->lock);
    while (list != NULL) {
        x = list;
        list = x->q;
        x->q = NULL;
        i = HTTPC_SLOT_H2;
        if (c->tr[i] == NULL || !c->tr[i]->wants(c->ts[i], x))
            i = HTTPC_SLOT_CURL;
        c->tr[i]->start(c->ts[i], x);
    }
}

/* ---- public API --------------------------------------------------------- */

/* Creates transport tr in slot i. 0, or -1 with err. */
static int
add_transport(struct hd_httpc *c, enum httpc_slot i,
              const struct httpc_transport *tr, struct hd_err *err)
{
    struct httpc_host host;

    memset(&host, 0, sizeof(host));
    host.epfd = c->epfd;
    host.tag = (uint64_t)(i + 1) << HTTPC_TAG_SHIFT;
    host.complete = complete;
    host.owner = c;
    host.cfg = &c->cfg;
    c->ts[i] = tr->create(&host, err);
    if (c->ts[i] == NULL)
        return -1;
    c->tr[i] = tr;
    return 0;
}

/* cfg with the defaults filled in: what every transport is created with. */
static void
settings(struct hd_httpc_config *out, const struct hd_httpc_config *cfg)
{
    *out = *cfg;
    if (out->max_connections <= 0)
        out->max_connections = 4;
    if (out->max_streams <= 0)
        out->max_streams = 100;
    if (out->timeout_ms <= 0)
        out->timeout_ms = HD_HTTPC_TIMEOUT_MS;
    if (out->connect_timeout_ms <= 0)
        out->connect_timeout_ms = 5000;
    if (out->max_response == 0)
        out->max_response = HD_HTTPC_MAX_RESPONSE;
}

struct hd_httpc *
hd_httpc_new(const struct hd_httpc_config *cfg, struct hd_err *err)
{
    struct hd_httpc *c = hd_xcalloc(1, sizeof(*c));
    struct epoll_event ev;

    c->epfd = -1;
    c->wakefd = -1;
    pthread_mutex_init(&c->lock, NULL);
    settings(&c->cfg, cfg);
    c->epfd = epoll_create1(EPOLL_CLOEXEC);
    c->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (c->epfd < 0 || c->wakefd < 0) {
        hd_err_set(err, HD_EIO, "epoll/eventfd: %s", strerror(errno));
        goto fail;
    }
    memset(&ev, 0, sizeof(ev));
    ev.events = EPOLLIN;
    ev.data.u64 = (uint64_t)c->wakefd;
    if (epoll_ctl(c->epfd, EPOLL_CTL_ADD, c->wakefd, &ev) < 0) {
        hd_err_set(err, HD_EIO, "epoll_ctl: %s", strerror(errno));
        goto fail;
    }
    if (add_transport(c, HTTPC_SLOT_CURL, &httpc_curl_transport, err) < 0)
        goto fail;
    if (cfg->native_h2 &&
        add_transport(c, HTTPC_SLOT_H2, &httpc_h2_transport, err) < 0)
        goto fail;
    return c;
fail:
    hd_httpc_free(c);
    return NULL;
}

static void *
loop_main(void *arg)
{
    struct hd_httpc *c = arg;

    c->loop = pthread_self();
    atomic_store(&c->have_loop, 1);
    while (!atomic_load(&c->stop))
        hd_httpc_run(c, 1000, NULL);
    return NULL;
}

int
hd_httpc_start(struct hd_httpc *c, struct hd_err *err)
{
    int rc;

    if (c->threaded || atomic_load(&c->have_loop))
        return hd_err_set(err, HD_EINVAL, "httpc: loop thread already set");
    rc = pthread_create(&c->thread, NULL, loop_main, c);
    if (rc != 0)
        return hd_err_set(err, HD_EIO, "pthread_create: %s", strerror(rc));
    c->threaded = 1;
    return 0;
}

void
hd_httpc_free(struct hd_httpc *c)
{
    struct httpc_xfer *x;
    size_t i;

    if (c == NULL)
        return;
    atomic_store(&c->stopping, 1);
    if (c->threaded) {
        atomic_store(&c->stop, 1);
        hd_httpc_wakeup(c);
        pthread_join(c->thread, NULL);
        c->threaded = 0;
    }
    for (i = 0; i < HTTPC_TRANSPORTS; i++)
        if (c->tr[i])
            c->tr[i]->cancel(c->ts[i]);
    while ((x = c->pending) != NULL) {
        c->pending = x->q;
        complete(c, x, HD_HTTPC_ECANCEL, "client freed");
    }
    while ((x = c->pool) != NULL) {
        c->pool = x->q;
        xfer_destroy(c, x);
    }
    for (i = 0; i < HTTPC_TRANSPORTS; i++)
        if (c->tr[i])
            c->tr[i]->destroy(c->ts[i]);
    if (c->epfd >= 0)
        close(c->epfd);
    if (c->wakefd >= 0)
        close(c->wakefd);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

void
hd_httpc_wakeup(struct hd_httpc *c)
{
    uint64_t one = 1;
    ssize_t n = write(c->wakefd, &one, sizeof(one));

    (void)n; /* EAGAIN: the counter is already non-zero, a wake is due */
}

static int
on_loop_thread(struct hd_httpc *c)
{
    return atomic_load(&c->have_loop) && pthread_equal(c->loop, pthread_self());
}

int
hd_httpc_submit(struct hd_httpc *c, const struct hd_httpc_req *req,
                hd_httpc_done_fn *cb, void *ud, struct hd_err *err)
{
    struct httpc_xfer *x;

    if (req->nheaders > HD_HTTPC_MAX_HEADERS)
        return hd_err_set(err, HD_EINVAL, "httpc: %zu headers (max %d)",
                          req->nheaders, HD_HTTPC_MAX_HEADERS);
    if (req->url == NULL)
        return hd_err_set(err, HD_EINVAL, "httpc: no URL");
    if (atomic_load(&c->stopping))
        return hd_err_set(err, HD_EIO, "httpc: client is stopping");
    x = xfer_get(c);
    x->req = *req;
    x->cb = cb;
    x->ud = ud;
    x->start_us = hd_now_mono_us();
    atomic_fetch_add(&c->inflight, 1);
    pthread_mutex_lock(&c->lock);
    if (c->pending_tail)
        c->pending_tail->q = x;
    else
        c->pending = x;
    c->pending_tail = x;
    pthread_mutex_unlock(&c->lock);
    if (!on_loop_thread(c))
        hd_httpc_wakeup(c);
    return 0;
}

/* Shortens *wait to ms when ms is sooner (ms < 0: no deadline). */
static void
sooner(int *wait, long long ms)
{
    if (ms < 0)
        return;
    if (*wait < 0 || ms < *wait)
        *wait = (int)ms;
}

/* One epoll event: a wake-up, or a transport's socket. 0 or -1 + err. */
static int
dispatch(struct hd_httpc *c, const struct epoll_event *ev, struct hd_err *err)
{
    uint64_t data = ev->data.u64;
    size_t slot = (size_t)(data >> HTTPC_TAG_SHIFT);

    if (slot == 0) { /* untagged: the wake-up eventfd */
        uint64_t v;
        ssize_t r = read(c->wakefd, &v, sizeof(v));

        (void)r;
        return 0;
    }
    return c->tr[slot - 1]->event(c->ts[slot - 1], data & ~HTTPC_TAG_MASK,
                                  ev->events, err);
}

int
hd_httpc_run(struct hd_httpc *c, int timeout_ms, struct hd_err *err)
{
    struct epoll_event evs[EVENTS];
    long before = c->ncompleted;
    int wait = timeout_ms;
    size_t t;
    int i, n;

    if (!atomic_load(&c->have_loop)) {
        c->loop = pthread_self();
        atomic_store(&c->have_loop, 1);
    }
    add_pending(c);
    for (t = 0; t < HTTPC_TRANSPORTS; t++) {
        if (c->tr[t] == NULL)
            continue;
        c->tr[t]->before(c->ts[t]);
        sooner(&wait, c->tr[t]->timeout(c->ts[t]));
    }
    if (c->ncompleted > before)
        wait = 0;
    n = epoll_wait(c->epfd, evs, EVENTS, wait);
    if (n < 0 && errno != EINTR)
        return hd_err_set(err, HD_EIO, "epoll_wait: %s", strerror(errno));
    for (i = 0; i < n; i++)
        if (dispatch(c, &evs[i], err) < 0)
            return -1;
    /* pick up what callbacks or other threads queued meanwhile, and send
     * it in the same turn */
    add_pending(c);
    for (t = 0; t < HTTPC_TRANSPORTS; t++)
        if (c->tr[t] && c->tr[t]->after(c->ts[t], err) < 0)
            return -1;
    return (int)(c->ncompleted - before);
}

long
hd_httpc_inflight(struct hd_httpc *c)
{
    return atomic_load(&c->inflight);
}

/* ---- synchronous calls -------------------------------------------------- */

struct call_wait {
    pthread_mutex_t m;
    pthread_cond_t cv;
    int done;
    struct hd_httpc_reply *out;
};

static void
call_done(void *ud, const struct hd_httpc_resp *r)
{
    struct call_wait *w = ud;
    struct hd_httpc_reply *o = w->out;

    o->fail = r->fail;
    o->status = r->status;
    o->http_version = r->http_version;
    hd_buf_append(&o->body, r->body, r->len, NULL);
    hd_buf_append(&o->headers, r->headers, r->headers_len, NULL);
    snprintf(o->error, sizeof(o->error), "%s", r->error);
    pthread_mutex_lock(&w->m);
    w->done = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->m);
}

void
hd_httpc_reply_release(struct hd_httpc_reply *r)
{
    hd_buf_release(&r->body);
    hd_buf_release(&r->headers);
    memset(r, 0, sizeof(*r));
}

int
hd_httpc_call(struct hd_httpc *c, const struct hd_httpc_req *req,
              struct hd_httpc_reply *out, struct hd_err *err)
{
    struct call_wait w;
    int rc = 0;

    memset(out, 0, sizeof(*out));
    hd_buf_init(&out->body, c->cfg.max_response);
    hd_buf_init(&out->headers, HD_HTTPC_MAX_RESP_HEADERS);
    out->fail = HD_HTTPC_EOTHER;
    if (c->threaded && on_loop_thread(c))
        return hd_err_set(err, HD_EINVAL,
                          "httpc: blocking call from the loop thread");
    memset(&w, 0, sizeof(w));
    pthread_mutex_init(&w.m, NULL);
    pthread_cond_init(&w.cv, NULL);
    w.out = out;
    if (hd_httpc_submit(c, req, call_done, &w, err) < 0) {
        rc = -1;
        goto out;
    }
    if (c->threaded) {
        pthread_mutex_lock(&w.m);
        while (!w.done)
            pthread_cond_wait(&w.cv, &w.m);
        pthread_mutex_unlock(&w.m);
    } else {
        while (!w.done) {
            if (hd_httpc_run(c, -1, err) < 0) {
                /* the request stays queued; cancelled by hd_httpc_free() */
                rc = -1;
                goto out;
            }
        }
    }
    if (out->fail != HD_HTTPC_OK)
        rc = hd_err_set(
            err, out->fail == HD_HTTPC_ETIMEOUT ? HD_ETIMEDOUT : HD_EUPSTREAM,
            "%s: %s (%s)", req->url, out->error, hd_httpc_fail_name(out->fail));
out:
    pthread_cond_destroy(&w.cv);
    pthread_mutex_destroy(&w.m);
    return rc;
}

const char *
hd_httpc_header(const char *headers, size_t len, const char *name, char *out,
                size_t outlen)
{
    size_t nlen = strlen(name);
    const char *p = headers;
    const char *end = headers + len;

    if (outlen > 0)
        out[0] = '\0';
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *le = eol ? eol : end;

        if ((size_t)(le - p) > nlen && p[nlen] == ':' &&
            strncasecmp(p, name, nlen) == 0) {
            const char *v = p + nlen + 1;
            size_t n;

            while (v < le && (*v == ' ' || *v == '\t'))
                v++;
            while (le > v && (le[-1] == '\r' || le[-1] == ' ' ||
                              le[-1] == '\t' || le[-1] == '\n'))
                le--;
            n = (size_t)(le - v);
            if (outlen == 0)
                return out;
            if (n >= outlen)
                n = outlen - 1;
            memcpy(out, v, n);
            out[n] = '\0';
            return out;
        }
        p = eol ? eol + 1 : end;
    }
    return NULL;
}
