/* server_io.c -- a request on the HTTP server's I/O threads, from its
 * head to its completion: libmicrohttpd's access handler, routing, the
 * body and its limit, dispatch, queuing the response, and freeing.
 *
 * MHD calls the access handler several times per request: when the
 * headers are in (route, request id, Content-Length check), once per body
 * chunk, and when the request is complete, where the handler is
 * dispatched. settle() then queues the response or suspends the
 * connection until request.c's finish() resumes it; no MHD function is
 * called under a request's lock. The STARTED/CLOSED notifications, the
 * first call of a request and its completion tell admit.c where each
 * connection is. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "core/limits.h"
#include "core/log.h"
#include "http/admit.h"
#include "http/server_io.h"
#include "http/server_pool.h"
#include "http/server_private.h"
#include "core/banned.h"

static void
server_error(struct hd_http_req *r)
{
    char allow[128];

    switch (r->err_status) {
    case MHD_HTTP_NOT_FOUND:
        hd_http_respond_error(r, 404, "not_found", "no such endpoint");
        break;
    case MHD_HTTP_METHOD_NOT_ALLOWED:
        hd_http_router_allow(&r->s->router, r->path, allow, sizeof(allow));
        hd_http_req_add_header(r, "Allow", allow);
        hd_http_respond_error(r, 405, "method_not_allowed",
                              "method not allowed here");
        break;
    case MHD_HTTP_URI_TOO_LONG:
        hd_http_respond_error(r, 414, "uri_too_long",
                              "request target over %d bytes", HD_HTTP_MAX_URL);
        break;
    default:
        hd_http_respond_error(r, 413, "too_large",
                              "request body over %zu bytes", r->max_body);
        break;
    }
}

/* The connection's admission record (admit.h), or NULL. */
static void *
conn_ctx(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

    return ci ? ci->socket_context : NULL;
}

static enum MHD_Result
queue_response(struct hd_http_req *r)
{
    struct MHD_Response *resp;
    enum MHD_Result ret;
    unsigned status;

    pthread_mutex_lock(&r->mu);
    resp = r->resp;
    status = r->status;
    r->resp = NULL;
    r->state = HD_RS_QUEUED;
    pthread_mutex_unlock(&r->mu);
    /* draining: move keep-alive clients to another instance. Done here,
     * on the I/O thread, because a late finish() must not touch s. An
     * answer before the body closes the connection too, lingering. */
    if ((atomic_load(&r->s->quiesced) || r->early) &&
        MHD_get_response_header(resp, MHD_HTTP_HEADER_CONNECTION) == NULL)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    if (r->early) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);

        if (ci)
            hd_admit_linger(r->s->admit, conn_ctx(r->conn), ci->connect_fd);
    }
    ret = MHD_queue_response(r->conn, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* After a dispatch, on the I/O thread: queue the response if it is
 * already there, otherwise suspend until finish() resumes us. The suspend
 * happens before the state says SUSPENDED, so finish() can only resume a
 * suspended connection; if the response slipped in between, resume here. */
static enum MHD_Result
settle(struct hd_http_req *r)
{
    int wake = 0;

    pthread_mutex_lock(&r->mu);
    if (r->state == HD_RS_RESPONDED) {
        pthread_mutex_unlock(&r->mu);
        return queue_response(r);
    }
    pthread_mutex_unlock(&r->mu);
    MHD_suspend_connection(r->conn);
    pthread_mutex_lock(&r->mu);
    if (r->state == HD_RS_RESPONDED)
        wake = 1;
    else
        r->state = HD_RS_SUSPENDED;
    pthread_mutex_unlock(&r->mu);
    if (wake)
        MHD_resume_connection(r->conn);
    return MHD_YES;
}

static enum MHD_Result
dispatch(struct hd_http_req *r)
{
    struct hd_http_server *s = r->s;

    pthread_mutex_lock(&r->mu);
    r->state = HD_RS_ACTIVE;
    pthread_mutex_unlock(&r->mu);
    if (r->err_status) {
        server_error(r);
    } else if (s->router.e[r->route].r->blocking && s->nworkers > 0) {
        if (hd_http_pool_enqueue_(s, r) < 0) {
            hd_http_req_add_header(r, "Retry-After", "1");
            hd_http_respond_error(r, 503, "overloaded",
                                  "too many requests waiting");
        }
    } else {
        hd_http_pool_run_(r);
    }
    return settle(r);
}

static enum MHD_Result
on_headers(struct hd_http_req *r)
{
    struct hd_http_server *s = r->s;
    struct hd_http_route_match m;
    const char *cl;
    int hit;

    if (strnlen(r->path, HD_HTTP_MAX_URL + 1) > HD_HTTP_MAX_URL) {
        r->err_status = MHD_HTTP_URI_TOO_LONG;
    } else {
        r->route =
            hd_http_router_find(&s->router, r->method, r->path, &hit, &m);
        if (r->route < 0) {
            r->route = hit;
            r->err_status =
                hit >= 0 ? MHD_HTTP_METHOD_NOT_ALLOWED : MHD_HTTP_NOT_FOUND;
        } else if (m.n) {
            hd_http_req_set_params_(r, &m);
        }
    }
    r->max_body = HD_HTTP_MAX_BODY;
    if (r->err_status == 0 && s->router.e[r->route].r->max_body)
        r->max_body = s->router.e[r->route].r->max_body;
    r->body.max = r->max_body;
    cl = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND,
                                     MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl) {
        char *end;
        unsigned long long n;

        errno = 0;
        n = strtoull(cl, &end, 10);
        if (errno == 0 && end != cl && *end == '\0' && n > r->max_body) {
            /* before a byte of the body is read */
            r->err_status = MHD_HTTP_CONTENT_TOO_LARGE;
            r->early = 1;
            return dispatch(r);
        }
    }
    return MHD_YES;
}

/* A body chunk. Past the limit the rest is counted and dropped, never
 * buffered, and the 413 goes out when the body ends. libmicrohttpd
 * 0.9.75 queues a response only once the headers are processed or the
 * whole request is in (MHD_queue_response refuses in between, suspended
 * or not), so a body without a declared length (chunked) cannot be
 * answered earlier: it is drained as a lingering close would, for up to
 * HD_HTTP_LINGER_S and HD_HTTP_DRAIN_MAX bytes, and a sender that goes on
 * past either is cut off. A declared Content-Length over the limit is
 * answered before reading (on_headers). The bodies of requests already
 * refused (404, 405) are dropped the same way. */
static enum MHD_Result
on_body(struct hd_http_req *r, const char *data, size_t n)
{
    uint64_t now;

    if (r->err_status == 0) {
        if (hd_buf_append(&r->body, data, n, NULL) == 0)
            return MHD_YES;
        r->discarded = r->body.len;
        hd_buf_release(&r->body);
        r->err_status = MHD_HTTP_CONTENT_TOO_LARGE;
    }
    now = hd_now_mono_ms();
    if (r->drain_since_ms == 0)
        r->drain_since_ms = now;
    r->discarded += n;
    if (r->discarded > r->max_body)
        r->err_status = MHD_HTTP_CONTENT_TOO_LARGE;
    if (r->discarded > HD_HTTP_DRAIN_MAX ||
        now - r->drain_since_ms > (uint64_t)HD_HTTP_LINGER_S * 1000)
        return MHD_NO;
    return MHD_YES;
}

/* Every request from its headers to its completion is on s->live, so
 * shutdown can wait for them and answer the abandoned ones. */
static void
link_live(struct hd_http_server *s, struct hd_http_req *r)
{
    pthread_mutex_lock(&s->mu);
    r->next = s->live;
    if (s->live)
        s->live->prev = r;
    s->live = r;
    s->nlive++;
    pthread_mutex_unlock(&s->mu);
}

void
hd_http_notify_conn_(void *cls, struct MHD_Connection *conn, void **ctx,
                     enum MHD_ConnectionNotificationCode code)
{
    struct hd_http_server *s = cls;
    const union MHD_ConnectionInfo *ci;

    if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        hd_admit_closed(s->admit, ctx);
        return;
    }
    ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (ci)
        hd_admit_started(s->admit, ci->connect_fd, ctx);
}

enum MHD_Result
hd_http_ahc_(void *cls, struct MHD_Connection *conn, const char *url,
             const char *method, const char *version, const char *upload_data,
             size_t *upload_data_size, void **con_cls)
{
    struct hd_http_req *r = *con_cls;
    enum hd_http_req_state st;
    size_t n;

    (void)version;
    if (r == NULL) {
        hd_admit_head_done(((struct hd_http_server *)cls)->admit,
                           conn_ctx(conn));
        r = hd_http_req_new_(cls, conn, url, method);
        link_live(cls, r);
        *con_cls = r;
        return on_headers(r);
    }
    pthread_mutex_lock(&r->mu);
    st = r->state;
    pthread_mutex_unlock(&r->mu);
    if (st != HD_RS_RECEIVING) {
        /* resumed, or more body after an early 413 */
        *upload_data_size = 0;
        return st == HD_RS_RESPONDED ? queue_response(r) : MHD_YES;
    }
    n = *upload_data_size;
    if (n) {
        *upload_data_size = 0;
        return on_body(r, upload_data, n);
    }
    return dispatch(r);
}

/* ---- completion: freeing ---- */

void
hd_http_completed_(void *cls, struct MHD_Connection *conn, void **con_cls,
                   enum MHD_RequestTerminationCode toe)
{
    struct hd_http_server *s = cls;
    struct hd_http_req *r = *con_cls;
    int free_now;

    if (r == NULL)
        return;
    *con_cls = NULL;
    hd_http_req_account_(r, toe);
    if (toe == MHD_REQUEST_TERMINATED_COMPLETED_OK)
        hd_admit_idle(s->admit, conn_ctx(conn));
    pthread_mutex_lock(&s->mu);
    if (r->prev)
        r->prev->next = r->next;
    else
        s->live = r->next;
    if (r->next)
        r->next->prev = r->prev;
    if (--s->nlive == 0)
        pthread_cond_broadcast(&s->idle);
    pthread_mutex_unlock(&s->mu);
    /* the last of MHD and the handler frees it */
    pthread_mutex_lock(&r->mu);
    r->conn_gone = 1;
    free_now = r->state == HD_RS_RECEIVING || r->handler_done;
    pthread_mutex_unlock(&r->mu);
    if (free_now)
        hd_http_req_free_(r);
}
