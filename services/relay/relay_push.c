/* relay_push.c -- the /push endpoints of Bitwarden's relay and upstream's
 * answers: 200 with an empty body, or 400/401/403 (and our 429) in the
 * ErrorResponseModel shape (relay_respond.c).
 *
 * Every handler authenticates the installation first, then takes a token
 * from its rate limit, then reads the body; a registration and a send
 * then meet the installation's quotas (relay_quota.c); ids are prefixed by
 * relay_model.c before any of them reaches SQL or Kafka. Registrations
 * and organization changes wait on PostgreSQL (worker threads); a send
 * counts its devices there (unless the recipients quota is off), becomes
 * one herald.requests record and is answered when Kafka acknowledges it.
 * Payloads are never stored. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "proto/bitwarden.h"
#include "core/buf.h"
#include "core/clock.h"
#include "core/json.h"
#include "core/log.h"
#include "services/relay/relay.h"
#include "core/banned.h"

static void
count(struct relay_ctx *ctx, const char *op, const char *result)
{
    hd_counter_inc(hd_metric_with(ctx->m.requests, op, result));
}

static void
respond_ok(struct relay_ctx *ctx, struct hd_http_req *req, const char *op)
{
    count(ctx, op, "ok");
    hd_http_respond(req, 200, NULL, NULL, 0);
}

static void
respond_unavailable(struct relay_ctx *ctx, struct hd_http_req *req,
                    const char *op, const struct hd_err *err)
{
    struct relay_fail f;

    hd_log(HD_LOG_ERROR, 0, "%s: %s", op, err->msg);
    count(ctx, op, "error");
    relay_fail_set(&f, 503, NULL, "The relay is unavailable; retry later.");
    hd_http_req_add_header(req, "Retry-After", "5");
    relay_respond_fail(req, &f);
}

/* Authentication, the rate limit and (want_body) the JSON body. Returns 1
 * to go on, or 0 after answering. */
static int
enter(struct relay_ctx *ctx, struct hd_http_req *req, const char *op,
      int want_body, struct relay_auth *a, json_t **doc)
{
    struct hd_err err = {0};
    struct relay_fail f;
    const char *body;
    size_t len = 0;
    int wait;

    *doc = NULL;
    wait = relay_authenticate(ctx, req, a);
    if (wait <= 0) {
        count(ctx, op, wait == 0 ? "unauthorized" : "error");
        return 0;
    }
    wait = hd_ratelimit_take(&ctx->limit, a->inst);
    if (wait > 0) {
        char s[16];

        snprintf(s, sizeof(s), "%d", wait);
        hd_http_req_add_header(req, "Retry-After", s);
        relay_fail_set(&f, 429, NULL, "Too many requests.");
        count(ctx, op, "limited");
        relay_respond_fail(req, &f);
        return 0;
    }
    if (!want_body)
        return 1;
    body = hd_http_req_body(req, &len);
    if (body == NULL || len == 0) {
        relay_fail_set(&f, 400, NULL, "Body is empty.");
        goto bad;
    }
    *doc = hd_json_parse(body, len, &err);
    if (*doc == NULL || !json_is_object(*doc)) {
        relay_fail_set(&f, 400, "$", "The JSON value could not be converted.");
        goto bad;
    }
    return 1;
bad:
    json_decref(*doc);
    *doc = NULL;
    count(ctx, op, "invalid");
    relay_respond_fail(req, &f);
    return 0;
}

static void
reject(struct relay_ctx *ctx, struct hd_http_req *req, const char *op,
       const struct relay_fail *f)
{
    count(ctx, op, "invalid");
    relay_respond_fail(req, f);
}

/* ---- POST /push/register ---------------------------------------------- */

/* 0 registered, 1 refused (the installation has its HERALD_RELAY_MAX_DEVICES),
 * -1 with err. */
static int
register_exec(struct relay_ctx *ctx, const char *app, const char *inst,
              const struct relay_register *r, struct hd_err *err)
{
    const char *prov = hd_provider_name(r->provider);
    char ct[8], dt[8], *channels = NULL;
    const char *vals[11];
    struct hd_pgconn *c;
    int rc = -1;

    c = hd_pg_acquire(ctx->pg, ctx->cfg.pg_wait_ms, err);
    if (c == NULL)
        return -1;
    channels = json_dumps(r->channels, JSON_COMPACT);
    snprintf(ct, sizeof(ct), "%d", hd_bw_client_type_of_device(r->device_type));
    snprintf(dt, sizeof(dt), "%d", r->device_type);
    vals[0] = app;
    vals[1] = prov;
    vals[2] = r->token;
    vals[3] = r->id;
    if (hd_pg_begin(c, err) < 0 ||
        hd_pg_exec(c, "dev_drop_token", 4, vals, NULL, NULL, NULL, err) < 0)
        goto out;
    rc = relay_quota_devices(ctx, c, app, inst, r->id, err);
    if (rc != 0)
        goto out; /* full (1) or failed (-1): nothing changed */
    rc = -1;
    vals[0] = app;
    vals[1] = r->id;
    vals[2] = prov;
    vals[3] = r->token;
    vals[4] = r->platform;
    vals[5] = r->user;
    vals[6] = channels;
    vals[7] = r->identifier;
    vals[8] = ct;
    vals[9] = dt;
    vals[10] = inst;
    if (hd_pg_exec(c, "dev_register", 11, vals, NULL, NULL, NULL, err) < 0 ||
        hd_pg_commit(c, err) < 0)
        goto out;
    rc = 0;
out:
    if (rc != 0)
        hd_pg_rollback(c);
    hd_pg_release(ctx->pg, c);
    free(channels);
    return rc;
}

void
relay_handle_register(struct hd_http_req *req, void *ud)
{
    struct relay_ctx *ctx = ud;
    char app[RELAY_APP_MAX + 1];
    struct hd_err err = {0};
    struct relay_register r;
    struct relay_auth a;
    struct relay_fail f;
    json_t *doc;
    int rc;

    if (!enter(ctx, req, "register", 1, &a, &doc))
        return;
    if (relay_register_parse(doc, a.inst, &r, &f) < 0) {
        reject(ctx, req, "register", &f);
        json_decref(doc);
        return;
    }
    if (relay_register_web_check(&r, ctx->web_guard, &f) < 0) {
        reject(ctx, req, "register", &f);
        relay_register_release(&r);
        json_decref(doc);
        return;
    }
    relay_app_of(a.inst, app);
    if (!r.mobile) {
        /* upstream registers only phones; a browser's token is not ours */
        hd_log(HD_LOG_INFO, 0, "register: device type %d has no push provider",
               r.device_type);
        respond_ok(ctx, req, "register");
        goto out;
    }
    rc = register_exec(ctx, app, a.inst, &r, &err);
    if (rc < 0) {
        respond_unavailable(ctx, req, "register", &err);
    } else if (rc == 1) {
        relay_fail_set(&f, 400, NULL,
                       "This installation has reached its limit of %d "
                       "devices.",
                       ctx->cfg.max_devices);
        count(ctx, "register", "over_quota");
        relay_respond_fail(req, &f);
    } else if (r.provider == HD_PROVIDER_ADM) {
        /* stored as upstream registers it, but no worker speaks ADM */
        count(ctx, "register", "undeliverable");
        hd_http_respond(req, 200, NULL, NULL, 0);
    } else {
        respond_ok(ctx, req, "register");
    }
out:
    relay_register_release(&r);
    json_decref(doc);
}

/* ---- POST /push/delete, POST /push/delete/{id}, DELETE /push/{id} ------ */

static void
delete_one(struct relay_ctx *ctx, struct hd_http_req *req,
           const struct relay_auth *a, const char *id)
{
    char app[RELAY_APP_MAX + 1];
    struct hd_err err = {0};
    const char *vals[2];

    relay_app_of(a->inst, app);
    vals[0] = app;
    vals[1] = id;
    if (relay_query(ctx, "dev_delete", 2, vals, NULL, &err) < 0)
        respond_unavailable(ctx, req, "delete", &err);
    else
        respond_ok(ctx, req, "delete"); /* unknown ids too, as upstream */
}

void
relay_handle_delete(struct hd_http_req *req, void *ud)
{
    struct relay_ctx *ctx = ud;
    char id[HD_ID_MAX + 1];
    struct relay_auth a;
    struct relay_fail f;
    json_t *doc;

    if (!enter(ctx, req, "delete", 1, &a, &doc))
        return;
    if (relay_device_parse(doc, a.inst, id, &f) < 0)
        reject(ctx, req, "delete", &f);
    else
        delete_one(ctx, req, &a, id);
    json_decref(doc);
}

/* Vaultwarden's POST /push/delete/{id} (no body) and the pre-2024
 * DELETE /push/{id}. */
void
relay_handle_delete_id(struct hd_http_req *req, void *ud)
{
    struct relay_ctx *ctx = ud;
    char id[HD_ID_MAX + 1];
    struct relay_auth a;
    struct relay_fail f;
    json_t *doc;

    if (!enter(ctx, req, "delete", 0, &a, &doc))
        return;
    if (relay_prefix(a.inst, hd_http_req_param(req, "id"), "Id", id, &f) < 0)
        reject(ctx, req, "delete", &f);
    else
        delete_one(ctx, req, &a, id);
}

/* ---- PUT /push/add-organization, PUT /push/delete-organization --------- */

static void
update_org(struct hd_http_req *req, struct relay_ctx *ctx, const char *op,
           const char *stmt)
{
    char app[RELAY_APP_MAX + 1], ch[HD_CHANNEL_MAX + 1], *ids_s = NULL;
    struct hd_err err = {0};
    struct relay_auth a;
    struct relay_fail f;
    const char *vals[3];
    json_t *doc, *ids;

    if (!enter(ctx, req, op, 1, &a, &doc))
        return;
    if (relay_update_parse(doc, a.inst, &ids, ch, &f) < 0) {
        reject(ctx, req, op, &f);
        json_decref(doc);
        return;
    }
    relay_app_of(a.inst, app);
    ids_s = json_dumps(ids, JSON_COMPACT);
    vals[0] = app;
    vals[1] = ids_s;
    vals[2] = ch;
    if (json_array_size(ids) > 0 &&
        relay_query(ctx, stmt, 3, vals, NULL, &err) < 0)
        respond_unavailable(ctx, req, op, &err);
    else
        respond_ok(ctx, req, op);
    free(ids_s);
    json_decref(ids);
    json_decref(doc);
}

void
relay_handle_add_org(struct hd_http_req *req, void *ud)
{
    update_org(req, ud, "add-organization", "org_add");
}

void
relay_handle_delete_org(struct hd_http_req *req, void *ud)
{
    update_org(req, ud, "delete-organization", "org_delete");
}

/* ---- POST /push/send --------------------------------------------------- */

struct send_wait {
    struct relay_ctx *ctx;
    struct hd_http_req *req;
};

/* Producer thread. */
static void
send_done(void *opaque, int ok, const char *errstr)
{
    struct send_wait *w = opaque;
    struct hd_err err = {0};

    if (ok) {
        respond_ok(w->ctx, w->req, "send");
    } else {
        hd_err_set(&err, HD_EUPSTREAM, "kafka: %s", errstr);
        respond_unavailable(w->ctx, w->req, "send", &err);
    }
    free(w);
}

/* The recipients-a-minute quota. 1 to go on, or 0 after answering 429
 * (with Retry-After) or 503. */
static int
recipients_ok(struct relay_ctx *ctx, struct hd_http_req *req, const char *inst,
              const struct hd_msg_request *r)
{
    struct hd_err err = {0};
    struct relay_fail f;
    char s[16];
    long n = 0;
    int wait = relay_quota_recipients(ctx, inst, r, &n, &err);

    if (wait < 0) {
        respond_unavailable(ctx, req, "send", &err);
        return 0;
    }
    if (wait == 0) {
        hd_counter_add(hd_metric_with(ctx->m.recipients, "accepted"),
                       (uint64_t)n);
        return 1;
    }
    hd_counter_add(hd_metric_with(ctx->m.recipients, "refused"), (uint64_t)n);
    snprintf(s, sizeof(s), "%d", wait);
    hd_http_req_add_header(req, "Retry-After", s);
    relay_fail_set(&f, 429, NULL,
                   "Too many recipients: this installation may push to %d "
                   "devices a minute.",
                   ctx->cfg.recipients_per_min);
    count(ctx, "send", "over_quota");
    relay_respond_fail(req, &f);
    return 0;
}

void
relay_handle_send(struct hd_http_req *req, void *ud)
{
    struct relay_ctx *ctx = ud;
    char app[RELAY_APP_MAX + 1];
    struct hd_msg_request r;
    struct hd_err err = {0};
    struct send_wait *w;
    struct relay_auth a;
    struct relay_fail f;
    struct hd_buf b;
    json_t *doc;
    int rc, type = 0;

    if (!enter(ctx, req, "send", 1, &a, &doc))
        return;
    relay_app_of(a.inst, app);
    rc = relay_send_parse(doc, a.inst, app, hd_now_wall_ms(), &r, &type, &f);
    json_decref(doc);
    if (rc < 0) {
        reject(ctx, req, "send", &f);
        return;
    }
    if (rc == 1) { /* a newer PushType: accepted and dropped, as upstream */
        if (hd_bw_unknown_note(&ctx->m.bw_unknown, type))
            hd_log(HD_LOG_WARN, 0,
                   "send: Type %d is unknown to this build; such pushes are "
                   "accepted and dropped (logged once per type)",
                   type);
        count(ctx, "send", "dropped");
        hd_http_respond(req, 200, NULL, NULL, 0);
        return;
    }
    if (!recipients_ok(ctx, req, a.inst, &r)) {
        hd_msg_request_release(&r);
        return;
    }
    hd_buf_init(&b, HD_KAFKA_MAX_MESSAGE);
    w = hd_xcalloc(1, sizeof(*w));
    w->ctx = ctx;
    w->req = req;
    if (hd_msg_request_encode(&r, &b, &err) < 0 ||
        hd_kproducer_send(ctx->producer, ctx->topic_requests, r.uid,
                          strlen(r.uid), b.data, b.len, send_done, w,
                          &err) < 0) {
        free(w);
        respond_unavailable(ctx, req, "send", &err);
    }
    hd_buf_release(&b);
    hd_msg_request_release(&r);
}
