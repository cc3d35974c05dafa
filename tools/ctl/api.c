/* api.c -- talking to herald-api's server API and herald-relay's admin
 * endpoints: settings, the one HTTP client, requests, and what an answer
 * means for the caller and for the exit code.
 *
 * Every answer is classified once here (ctl_answer_parse), for single
 * calls and for the import's many, so a refused key, an API error and an
 * unreachable server always end in the same exit codes. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/limits.h"
#include "core/log.h"
#include "http/url.h"
#include "tools/ctl/ctl.h"
#include "tools/ctl/names.h"
#include "core/banned.h"

/* Settings not given by an option: the environment, else the env file. */
static void
resolve(struct ctl *c)
{
    if (!c->env_loaded) {
        struct hd_err err = {0};
        int rc;

        c->env_loaded = 1;
        rc = ctl_config_load_file(c, c->env_file ? c->env_file : CTL_ENV_FILE,
                                  &err);
        if (rc < 0)
            ctl_error(c, "%s", err.msg);
        else if (rc == 0 && c->env_file != NULL)
            ctl_error(c, "--env-file %s: no such file", c->env_file);
    }
    if (c->url == NULL)
        c->url = c->cfg.api_url;
    if (c->key == NULL)
        c->key = c->cfg.api_key;
    if (c->relay_url == NULL)
        c->relay_url = c->cfg.relay_url;
    if (c->relay_admin_url == NULL)
        c->relay_admin_url = c->cfg.relay_admin_url;
    if (c->admin_key == NULL)
        c->admin_key = c->cfg.relay_admin_key;
    if (c->ca_file == NULL)
        c->ca_file = c->cfg.relay_ca_file;
    if (c->app == NULL)
        c->app = c->cfg.app;
}

int
ctl_api_ready(struct ctl *c)
{
    resolve(c);
    if (c->url == NULL || *c->url == '\0') {
        ctl_error(c, "no API URL: set HERALD_API_URL or use --url");
        return CTL_EUSAGE;
    }
    if (c->key == NULL || *c->key == '\0') {
        ctl_error(c, "no API key: set HERALD_API_KEY or use --key");
        return CTL_EUSAGE;
    }
    hd_buf_reset(&c->auth);
    if (hd_buf_printf(&c->auth, NULL, "Authorization: apikey %s", c->key) < 0) {
        ctl_error(c, "the API key is too long");
        return CTL_EUSAGE;
    }
    return CTL_OK;
}

struct hd_httpc *
ctl_http(struct ctl *c, struct hd_err *err)
{
    struct hd_httpc_config hc;

    if (c->http != NULL)
        return c->http;
    memset(&hc, 0, sizeof(hc));
    hc.max_connections = c->connections > 0 ? c->connections : 4;
    hc.version = HD_HTTPC_HTTP1; /* http://: keep-alive, no upgrade */
    hc.timeout_ms = c->timeout_ms;
    hc.ca_file = c->ca_file;
    hc.max_response = HD_CTL_MAX_RESPONSE;
    c->http = hd_httpc_new(&hc, err);
    return c->http;
}

static int
url_join(struct hd_buf *url, const char *base, const char *path)
{
    size_t n = hd_url_base_len(base);

    hd_buf_reset(url);
    if (hd_buf_append(url, base, n, NULL) < 0 || hd_buf_puts(url, path, NULL))
        return -1;
    return 0;
}

int
ctl_api_req(struct ctl *c, const char *method, const struct hd_buf *body,
            struct hd_buf *url, struct hd_httpc_req *req)
{
    memset(req, 0, sizeof(*req));
    if (url_join(url, c->url, "/api/") < 0 || hd_buf_puts(url, method, NULL))
        return -1;
    req->method = "POST";
    req->url = url->data;
    req->headers[0] = c->auth.data;
    req->headers[1] = "Content-Type: application/json";
    req->nheaders = 2;
    req->body = body->data;
    req->len = body->len;
    return 0;
}

/* The server's HTTP error shape {"error":"code","message":"..."}. */
static void
http_error(struct ctl_answer *a, int status, json_t *doc)
{
    const char *m = json_string_value(json_object_get(doc, "message"));

    a->code = status == 401 || status == 403 ? CTL_EAUTH
              : status == 404                ? CTL_ENOTFOUND
              : status >= 500                ? CTL_ENET
                                             : CTL_EAPI;
    if (m == NULL)
        m = json_string_value(json_object_get(doc, "error"));
    snprintf(a->msg, sizeof(a->msg), "HTTP %d%s%s", status, m ? ": " : "",
             m ? m : "");
}

int
ctl_api_error(json_t *e, char *msg, size_t msglen)
{
    const char *m = json_string_value(json_object_get(e, "message"));
    json_int_t code = json_integer_value(json_object_get(e, "code"));

    snprintf(msg, msglen, "%s (code %lld)", m ? m : "error without a message",
             (long long)code);
    /* 100 is the server's own trouble, worth a retry */
    return code == 100 ? CTL_ENET : CTL_EAPI;
}

void
ctl_answer_parse(struct ctl_answer *a, int api, enum hd_httpc_fail fail,
                 int status, const char *body, size_t len, const char *error)
{
    json_t *doc, *e;

    memset(a, 0, sizeof(*a));
    if (fail != HD_HTTPC_OK) {
        a->code = CTL_ENET;
        snprintf(a->msg, sizeof(a->msg), "no answer (%s): %s",
                 hd_httpc_fail_name(fail), error && *error ? error : "-");
        return;
    }
    doc = hd_json_parse(body, len, NULL);
    if (status != 200) {
        http_error(a, status, doc);
        json_decref(doc);
        return;
    }
    if (!json_is_object(doc)) {
        a->code = CTL_ENET;
        snprintf(a->msg, sizeof(a->msg), "the answer is not a JSON object");
        json_decref(doc);
        return;
    }
    e = json_object_get(doc, "error");
    if (!api) {
        a->result = doc;
        a->code = CTL_OK;
        return;
    }
    if (e != NULL) {
        a->code = ctl_api_error(e, a->msg, sizeof(a->msg));
        json_decref(doc);
        return;
    }
    a->result = json_incref(json_object_get(doc, "result"));
    if (a->result == NULL)
        a->result = json_object();
    a->code = CTL_OK;
    json_decref(doc);
}

void
ctl_answer_release(struct ctl_answer *a)
{
    json_decref(a->result);
    memset(a, 0, sizeof(*a));
}

/* --dry-run: the request as it would go, the key masked. */
static void
print_request(const char *method, const char *url, const char *auth,
              json_t *body)
{
    printf("%s %s\n", method, url);
    if (auth != NULL)
        printf("%s\n", auth);
    if (body != NULL) {
        printf("Content-Type: application/json\n\n");
        ctl_print_json(body);
    }
}

/* Sends one request and reads its answer. */
static int
exchange(struct ctl *c, int api, const char *what, struct hd_httpc_req *req,
         json_t **result)
{
    struct hd_httpc_reply reply;
    struct ctl_answer a;
    struct hd_err err = {0};
    struct hd_httpc *h = ctl_http(c, &err);

    if (h == NULL) {
        ctl_error(c, "%s: %s", what, err.msg);
        return CTL_ENET;
    }
    hd_httpc_call(h, req, &reply, &err);
    ctl_answer_parse(&a, api, reply.fail, reply.status, reply.body.data,
                     reply.body.len, reply.error);
    hd_httpc_reply_release(&reply);
    if (a.code != CTL_OK) {
        int code = a.code;

        hd_log_scrub(a.msg);
        ctl_error(c, "%s: %s", what, a.msg);
        ctl_answer_release(&a);
        return code;
    }
    *result = a.result;
    return CTL_OK;
}

int
ctl_call(struct ctl *c, const char *method, json_t *params, json_t **result)
{
    struct hd_buf body, url;
    struct hd_httpc_req req;
    int rc;

    *result = NULL;
    rc = ctl_api_ready(c);
    if (rc != CTL_OK) {
        json_decref(params);
        return rc;
    }
    if (c->app != NULL && json_object_get(params, "app") == NULL)
        json_object_set_new(params, "app", json_string(c->app));
    hd_buf_init(&body, HD_API_MAX_BODY);
    hd_buf_init(&url, HD_HTTP_MAX_URL);
    if (hd_json_dump(params, &body, NULL) < 0 ||
        ctl_api_req(c, method, &body, &url, &req) < 0) {
        ctl_error(c, "%s: the request is larger than %d bytes", method,
                  HD_API_MAX_BODY);
        rc = CTL_EUSAGE;
    } else if (c->dry_run) {
        print_request("POST", url.data, "Authorization: apikey (hidden)",
                      params);
    } else {
        rc = exchange(c, 1, method, &req, result);
    }
    hd_buf_release(&body);
    hd_buf_release(&url);
    json_decref(params);
    return rc;
}

void
ctl_put_filter(json_t *params, const char *wrap, json_t *filter)
{
    if (wrap[0] != '\0')
        json_object_set_new(params, wrap, json_deep_copy(filter));
    else
        json_object_update(params, filter);
}

int
ctl_next_page(json_t *res, json_t *last, const char *id_key, char *cursor,
              size_t len)
{
    const char *next;

    if (CTL_F_NEXT_CURSOR[0] != '\0') {
        next = json_string_value(json_object_get(res, CTL_F_NEXT_CURSOR));
    } else {
        if (!json_is_true(json_object_get(res, CTL_F_HAS_MORE)) || last == NULL)
            return 0;
        next = json_string_value(json_object_get(last, id_key));
    }
    if (next == NULL || *next == '\0' || strlen(next) >= len)
        return 0;
    snprintf(cursor, len, "%s", next);
    return 1;
}

int
ctl_relay_call(struct ctl *c, int admin, const char *method, const char *path,
               json_t *body, json_t **result)
{
    struct hd_buf b, url, auth;
    struct hd_httpc_req req;
    const char *base;
    int rc = CTL_OK;

    *result = NULL;
    resolve(c);
    base = admin ? c->relay_admin_url : c->relay_url;
    if (base == NULL || *base == '\0') {
        json_decref(body);
        if (admin)
            ctl_error(c, "no relay admin URL: set HERALD_RELAY_ADMIN_URL or "
                         "use --relay-admin-url");
        else
            ctl_error(c,
                      "no relay URL: set HERALD_RELAY_URL or use --relay-url");
        return CTL_EUSAGE;
    }
    hd_buf_init(&b, HD_API_MAX_BODY);
    hd_buf_init(&url, HD_HTTP_MAX_URL);
    hd_buf_init(&auth, HD_HTTP_MAX_HEADER);
    memset(&req, 0, sizeof(req));
    req.method = method;
    if (url_join(&url, base, path) < 0 ||
        (body != NULL && hd_json_dump(body, &b, NULL) < 0)) {
        ctl_error(c, "%s: the request is too large", path);
        rc = CTL_EUSAGE;
        goto out;
    }
    req.url = url.data;
    if (c->admin_key != NULL && *c->admin_key != '\0') {
        hd_buf_printf(&auth, NULL, "Authorization: Bearer %s", c->admin_key);
        req.headers[req.nheaders++] = auth.data;
    }
    if (body != NULL) {
        req.headers[req.nheaders++] = "Content-Type: application/json";
        req.body = b.data;
        req.len = b.len;
    }
    if (c->dry_run)
        print_request(method, url.data,
                      auth.len ? "Authorization: Bearer (hidden)" : NULL, body);
    else
        rc = exchange(c, 0, path, &req, result);
out:
    hd_buf_release(&b);
    hd_buf_release(&url);
    hd_buf_release(&auth);
    json_decref(body);
    return rc;
}
