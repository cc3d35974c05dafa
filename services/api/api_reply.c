/* api_reply.c -- the reply of one server-API call: {"result":...} or
 * {"error":{"code","message"}} with HTTP 200, the call counted by method
 * and code, the call freed. Handlers answer through these, so the route
 * table (api_routes.c) calls down into handlers and nothing calls back up.
 * A command of a batch replies into the batch's collector instead. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/log.h"
#include "services/api/api.h"
#include "core/banned.h"

static const char *
code_label(int code)
{
    switch (code) {
    case 0:
        return "0";
    case API_E_INTERNAL:
        return "100";
    case API_E_NOT_FOUND:
        return "104";
    case API_E_LIMIT:
        return "106";
    case API_E_BAD_REQUEST:
        return "107";
    case API_E_UNAVAILABLE:
        return "108";
    default:
        return "other";
    }
}

static void
count(struct api_call *call, int code)
{
    hd_counter_inc(hd_metric_with(call->ctx->m.calls,
                                  call->method ? call->method : "unknown",
                                  code_label(code)));
}

/* ---- a batch's replies ----------------------------------------------- */

struct api_collect {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    json_t *replies; /* array, one slot per command */
    size_t pending;
};

/* Fills slot with {method: result} or {"error": error} (both stolen;
 * result NULL means {}). Any thread. */
static void
api_collect_put(struct api_collect *c, size_t slot, const char *method,
                json_t *result, json_t *error)
{
    json_t *reply =
        error ? json_pack("{s:o}", "error", error)
              : json_pack("{s:o}", method, result ? result : json_object());

    pthread_mutex_lock(&c->mu);
    json_array_set_new(c->replies, slot, reply);
    c->pending--;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

void
api_collect_wait(struct api_collect *c, size_t left)
{
    pthread_mutex_lock(&c->mu);
    while (c->pending > left)
        pthread_cond_wait(&c->cv, &c->mu);
    pthread_mutex_unlock(&c->mu);
}

struct api_collect *
api_collect_new(size_t n)
{
    struct api_collect *c = hd_xcalloc(1, sizeof(*c));
    size_t i;

    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    c->replies = json_array();
    for (i = 0; i < n; i++)
        json_array_append_new(c->replies, json_null());
    c->pending = n;
    return c;
}

json_t *
api_collect_finish(struct api_collect *c)
{
    json_t *r;

    api_collect_wait(c, 0);
    r = c->replies;
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    free(c);
    return r;
}

/* ---- one call's reply -------------------------------------------------- */

static void
call_free(struct api_call *call)
{
    json_decref(call->params);
    free(call);
}

void
api_call_raw(struct api_call *call, json_t *body)
{
    count(call, 0);
    hd_http_respond_json(call->req, 200, body);
    json_decref(body);
    call_free(call);
}

void
api_call_result(struct api_call *call, json_t *result)
{
    json_t *body;

    if (call->collect) {
        count(call, 0);
        api_collect_put(call->collect, call->slot, call->reply_key, result,
                        NULL);
        call_free(call);
        return;
    }
    body = json_pack("{s:o}", "result", result ? result : json_object());
    count(call, 0);
    hd_http_respond_json(call->req, 200, body);
    json_decref(body);
    call_free(call);
}

void
api_call_result_str(struct api_call *call, const char *key, const char *value)
{
    struct hd_buf b;

    if (call->collect) {
        api_call_result(call, json_pack("{s:s}", key, value));
        return;
    }
    hd_buf_init(&b, 2 * HD_HTTP_MAX_HEADER);
    if (hd_buf_puts(&b, "{\"result\":{\"", NULL) < 0 ||
        hd_buf_json_escape(&b, key, strlen(key), NULL) < 0 ||
        hd_buf_puts(&b, "\":\"", NULL) < 0 ||
        hd_buf_json_escape(&b, value, strlen(value), NULL) < 0 ||
        hd_buf_puts(&b, "\"}}", NULL) < 0) {
        hd_buf_release(&b);
        api_call_result(call, json_pack("{s:s}", key, value));
        return;
    }
    count(call, 0);
    hd_http_respond(call->req, 200, "application/json", b.data, b.len);
    hd_buf_release(&b);
    call_free(call);
}

static void __attribute__((format(printf, 3, 0)))
verror(struct api_call *call, int code, const char *fmt, va_list ap)
{
    char msg[HD_ERR_MSG_LEN + 32];
    json_t *body;

    vsnprintf(msg, sizeof(msg), fmt, ap);
    count(call, code);
    if (call->collect) {
        api_collect_put(call->collect, call->slot, call->reply_key, NULL,
                        json_pack("{s:i,s:s}", "code", code, "message", msg));
        call_free(call);
        return;
    }
    body = json_pack("{s:{s:i,s:s}}", "error", "code", code, "message", msg);
    hd_http_respond_json(call->req, 200, body);
    json_decref(body);
    call_free(call);
}

void
api_call_error(struct api_call *call, int code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    verror(call, code, fmt, ap);
    va_end(ap);
}

void
api_call_fail(struct api_call *call, const struct hd_err *err)
{
    switch (err->code) {
    case HD_EINVAL:
        api_call_error(call, API_E_BAD_REQUEST, "bad request: %s", err->msg);
        break;
    case HD_ETOOBIG:
        api_call_error(call, API_E_LIMIT, "limit exceeded: %s", err->msg);
        break;
    case HD_EUNAVAILABLE:
        api_call_error(call, API_E_UNAVAILABLE, "not available: %s", err->msg);
        break;
    default:
        hd_log(HD_LOG_ERROR, 0, "%s (request %s): %s", call->method,
               hd_http_req_id(call->req), err->msg);
        api_call_error(call, API_E_INTERNAL, "internal server error");
        break;
    }
}
