/* api_routes.c -- the HTTP routes and the server-API envelope: apikey,
 * body parsing, method lookup, Centrifugo-shaped replies.
 *
 * POST /api carries {"method","params"}; POST /api/<method> the params.
 * A missing key is 401, a body that is not a JSON object 400; after that
 * it is HTTP 200 with {"result":...} or {"error":{"code","message"}}.
 * Send and device_register have exact routes run on the I/O thread (they
 * wait for Kafka or the group commit via a callback); the rest run on
 * worker threads (they wait on PostgreSQL).
 * batch runs its commands through the same table. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/json.h"
#include "core/log.h"
#include "services/api/api.h"
#include "core/banned.h"

static void handle_batch(struct api_call *call);

static const struct api_method methods[] = {
    {"device_register", api_device_register},
    {"device_update", api_device_update},
    {"device_remove", api_device_remove},
    {"device_list", api_device_list},
    {"device_topic_update", api_device_topic_update},
    {"device_topic_list", api_device_topic_list},
    {"user_topic_update", api_user_topic_update},
    {"user_topic_list", api_user_topic_list},
    {"push_user_channel_update", api_user_channel_update},
    {"push_user_channel_list", api_user_channel_list},
    {"send_push_notification", api_send_push},
    {"cancel_push", api_cancel_push},
    {"update_push_status", api_update_push_status},
    {"push_status_list", api_push_status_list},
    {"batch", handle_batch},
};
#define NMETHODS (sizeof(methods) / sizeof(methods[0]))

static const struct api_method *
api_method_find(const char *name)
{
    size_t i;

    for (i = 0; i < NMETHODS; i++)
        if (strcmp(methods[i].name, name) == 0)
            return &methods[i];
    return NULL;
}

/* ---- batch ------------------------------------------------------------- */

/* {"commands":[{"<method>":{params}}, ...], "parallel":bool} ->
 * {"replies":[{"<method>":{result}} | {"error":{code,message}}, ...]}
 * (top level, as Centrifugo answers it). Each command is a call of its
 * own whose reply lands in a collector instead of the HTTP request
 * (api_reply.c); the batch answers once every slot is filled. In order,
 * the next command starts after the previous one answered; parallel,
 * they all start at once (sends then wait for Kafka together). Runs on a
 * worker thread, which it holds until the last reply. */

/* Each command is an object with exactly one member, the method name,
 * whose value is the params object (null = {}). */
static int
check_commands(json_t *cmds, struct hd_err *err)
{
    json_t *c;
    size_t i;

    if (!json_is_array(cmds))
        return hd_err_set(err, HD_EINVAL,
                          "params.commands: must be an array of commands");
    if (json_array_size(cmds) > API_BATCH_MAX)
        return hd_err_set(err, HD_ETOOBIG,
                          "params.commands: more than %d commands",
                          API_BATCH_MAX);
    json_array_foreach(cmds, i, c)
    {
        const char *name;
        json_t *params;

        if (!json_is_object(c) || json_object_size(c) != 1)
            return hd_err_set(err, HD_EINVAL,
                              "params.commands[%zu]: must be an object with "
                              "one member, the method name",
                              i);
        json_object_foreach(c, name, params)
        {
            if (strcmp(name, "batch") == 0)
                return hd_err_set(err, HD_EINVAL,
                                  "params.commands[%zu]: batch cannot be "
                                  "nested",
                                  i);
            if (!json_is_object(params) && !json_is_null(params))
                return hd_err_set(err, HD_EINVAL,
                                  "params.commands[%zu].%.64s: must be an "
                                  "object",
                                  i, name);
        }
    }
    return 0;
}

static void
run_one(struct api_call *batch, struct api_collect *c, size_t slot, json_t *cmd)
{
    const char *name = json_object_iter_key(json_object_iter(cmd));
    json_t *params = json_object_iter_value(json_object_iter(cmd));
    const struct api_method *m = api_method_find(name);
    struct api_call *call = hd_xcalloc(1, sizeof(*call));

    call->ctx = batch->ctx;
    call->req = batch->req;
    call->collect = c;
    call->slot = slot;
    call->params = json_is_object(params) ? json_incref(params) : json_object();
    if (m == NULL) {
        call->reply_key = name;
        api_call_error(call, API_E_NOT_FOUND, "method not found");
        return;
    }
    call->method = m->name;
    call->reply_key = m->name;
    m->fn(call);
}

static void
handle_batch(struct api_call *call)
{
    static const char *const known[] = {"commands", "parallel", NULL};
    struct api_collect *c;
    struct hd_err err = {0};
    json_t *cmds, *body;
    int parallel = 0;
    size_t i, n;

    cmds = json_object_get(call->params, "commands");
    if (api_params_known(&call->ctx->rules, call->params, "params", known,
                         &err) < 0 ||
        api_get_flag(call->params, "params", "parallel", &parallel, &err) < 0 ||
        (cmds != NULL && check_commands(cmds, &err) < 0)) {
        api_call_fail(call, &err);
        return;
    }
    n = cmds ? json_array_size(cmds) : 0;
    c = api_collect_new(n);
    if (api_bulk_wants(cmds)) /* registrations: one statement */
        api_bulk_register(call, c, cmds);
    else
        for (i = 0; i < n; i++) {
            run_one(call, c, i, json_array_get(cmds, i));
            if (!parallel)
                api_collect_wait(c, n - i - 1);
        }
    body = json_pack("{s:o}", "replies", api_collect_finish(c));
    api_call_raw(call, body);
}

/* ---- the envelope ------------------------------------------------------ */

static int
authorized(struct api_ctx *ctx, struct hd_http_req *req)
{
    if (api_keys_check(&ctx->keys, hd_http_req_header(req, "Authorization"),
                       hd_http_req_header(req, "X-API-Key")))
        return 1;
    hd_http_req_add_header(req, "WWW-Authenticate", "apikey");
    hd_http_respond_error(req, 401, "unauthorized", "missing or wrong API key");
    return 0;
}

/* The body as a JSON object (new), or NULL after answering 400. */
static json_t *
body_object(struct hd_http_req *req)
{
    struct hd_err err = {0};
    const char *body;
    size_t len = 0;
    json_t *v;

    body = hd_http_req_body(req, &len);
    v = hd_json_parse(body ? body : "", len, &err);
    if (v == NULL) {
        hd_http_respond_error(req, 400, "bad_request",
                              "body is not valid JSON: %s", err.msg);
        return NULL;
    }
    if (!json_is_object(v)) {
        json_decref(v);
        hd_http_respond_error(req, 400, "bad_request",
                              "body must be a JSON object");
        return NULL;
    }
    return v;
}

static void
run(struct api_ctx *ctx, struct hd_http_req *req, const char *name,
    json_t *params)
{
    struct api_call *call = hd_xcalloc(1, sizeof(*call));
    const struct api_method *m = api_method_find(name);

    call->ctx = ctx;
    call->req = req;
    call->params = params;
    if (m == NULL) {
        api_call_error(call, API_E_NOT_FOUND, "method not found");
        return;
    }
    call->method = m->name;
    if (!json_is_object(params)) {
        api_call_error(call, API_E_BAD_REQUEST,
                       "bad request: params: must be an object");
        return;
    }
    m->fn(call); /* failures are logged with the method and request id */
}

/* POST /api: {"method": "...", "params": {...}} */
static void
handle_api(struct hd_http_req *req, void *ud)
{
    static const char *const known[] = {"method", "params", NULL};
    struct api_ctx *ctx = ud;
    struct hd_err err = {0};
    const char *method = NULL;
    json_t *body, *params;

    if (!authorized(ctx, req))
        return;
    body = body_object(req);
    if (body == NULL)
        return;
    if (api_params_known(&ctx->rules, body, "", known, &err) < 0 ||
        hd_json_str(body, "", "method", 1, 64, &method, &err) < 0) {
        struct api_call *call = hd_xcalloc(1, sizeof(*call));

        call->ctx = ctx;
        call->req = req;
        json_decref(body);
        api_call_fail(call, &err);
        return;
    }
    params = json_object_get(body, "params");
    params = params == NULL || json_is_null(params) ? json_object()
                                                    : json_incref(params);
    run(ctx, req, method, params);
    json_decref(body);
}

/* POST /api/<method>: the body is the params object. */
static void
handle_params(struct hd_http_req *req, struct api_ctx *ctx, const char *name)
{
    json_t *params;

    if (!authorized(ctx, req))
        return;
    params = body_object(req);
    if (params == NULL)
        return;
    run(ctx, req, name ? name : "", params);
}

static void
handle_method(struct hd_http_req *req, void *ud)
{
    handle_params(req, ud, hd_http_req_param(req, "method"));
}

static void
handle_send(struct hd_http_req *req, void *ud)
{
    handle_params(req, ud, "send_push_notification");
}

static void
handle_register(struct hd_http_req *req, void *ud)
{
    handle_params(req, ud, "device_register");
}

const struct hd_http_route api_routes[] = {
    {"POST", "/api/send_push_notification", handle_send, HD_API_MAX_BODY, 0},
    {"POST", "/api/device_register", handle_register, HD_API_MAX_BODY, 0},
    {"POST", "/api/{method}", handle_method, HD_API_MAX_BODY, 1},
    {"POST", "/api", handle_api, HD_API_MAX_BODY, 1},
    {"POST", "/events", api_handle_events, HD_API_MAX_BODY, 0},
    {"PUT", "/devices/identifier/{identifier}/token", api_handle_bw_token,
     HD_API_SMALL_BODY, 1},
    {"POST", "/devices/identifier/{identifier}/token", api_handle_bw_token,
     HD_API_SMALL_BODY, 1},
    {"PUT", "/devices/identifier/{identifier}/web-push-auth",
     api_handle_bw_webpush, HD_API_SMALL_BODY, 1},
    {"POST", "/devices/identifier/{identifier}/web-push-auth",
     api_handle_bw_webpush, HD_API_SMALL_BODY, 1},
    {"PUT", "/devices/identifier/{identifier}/clear-token", api_handle_bw_clear,
     HD_API_SMALL_BODY, 1},
    {"POST", "/devices/identifier/{identifier}/clear-token",
     api_handle_bw_clear, HD_API_SMALL_BODY, 1},
};
const size_t api_nroutes = sizeof(api_routes) / sizeof(api_routes[0]);

/* ---- for the console (api_console.c): the same envelope and methods ---- */

void
api_run_method(struct api_ctx *ctx, struct hd_http_req *req, const char *name,
               json_t *params)
{
    run(ctx, req, name, params);
}

json_t *
api_body_object(struct hd_http_req *req)
{
    return body_object(req);
}
