/* api_sink_relay.c -- the self-hosted sink (DESIGN.md §2): no Kafka.
 * Hub events are posted to herald-hub's POST /send as a Bitwarden server
 * posts them ({"type","payload","contextId"}, camelCase, internal bearer
 * key); mobile sends and device registrations go to an upstream relay
 * through the Bitwarden relay protocol (specs/bitwarden.md §4), exactly
 * as RelayPushNotificationService / RelayPushRegistrationService do.
 *
 * Submits and publishes are queued (bounded) and run by a few worker
 * threads with blocking HTTP calls, so the caller's I/O thread never
 * waits; device calls block their (worker-thread) caller. The access
 * token is shared, cached for half its lifetime, and after a 400 from
 * identity no token is asked for a day. Only Bitwarden mobile
 * notifications to a user, an organization or the installation can be
 * relayed; anything else is refused at submit. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/clock.h"
#include "http/client.h"
#include "http/url.h"
#include "core/json.h"
#include "core/limits.h"
#include "core/log.h"
#include "services/api/api_sink.h"
#include "core/banned.h"

#define QUEUE_MAX 1024 /* jobs waiting for a worker */
#define WORKERS_MAX 16
#define BACKOFF_400_MS (24LL * 3600 * 1000) /* upstream's day */
#define URL_MAX 2048
#define AUTH_MAX (HD_JWT_MAX_LEN + 32)

#define SC struct api_selfhost_config

/* Conditional requirements, worded once for --help and the errors. */
#define SELFHOST_HUB_RULE                                                      \
    "required in self-hosted mode (HERALD_KAFKA_BROKERS unset)"
#define SELFHOST_INST_RULE "required when HERALD_SELFHOST_RELAY_URL is set"

const struct hd_config_field api_selfhost_config_fields[] = {
    HD_CFG_STR("HERALD_SELFHOST_RELAY_URL", SC, relay_url, "", 0,
               "self-hosted mode (no HERALD_KAFKA_BROKERS): the push relay "
               "mobile pushes go through, e.g. https://relay.example.org "
               "(empty: no mobile push)"),
    HD_CFG_STR("HERALD_SELFHOST_IDENTITY_URL", SC, identity_url, "", 0,
               "its identity server (/connect/token); empty: the relay URL"),
    HD_CFG_STR("HERALD_SELFHOST_INSTALLATION_ID", SC, installation_id, "", 0,
               "installation id issued by the relay; " SELFHOST_INST_RULE),
    HD_CFG_STR("HERALD_SELFHOST_INSTALLATION_KEY", SC, installation_key, "",
               HD_CFG_SECRET,
               "installation key issued by the relay; " SELFHOST_INST_RULE),
    HD_CFG_STR("HERALD_SELFHOST_CA_FILE", SC, ca_file, "", 0,
               "CA bundle for the relay and identity (empty: system store)"),
    HD_CFG_STR(
        "HERALD_SELFHOST_HUB_URL", SC, hub_url, "", 0,
        "herald-hub base URL; events go to its POST /send; " SELFHOST_HUB_RULE),
    HD_CFG_STR("HERALD_INTERNAL_KEY", SC, internal_key, "", HD_CFG_SECRET,
               "bearer key of herald-hub's POST /send; " SELFHOST_HUB_RULE),
    HD_CFG_INT("HERALD_SELFHOST_TIMEOUT_MS", SC, timeout_ms, 10000, 100, 120000,
               "timeout of one call to the relay, identity or hub"),
    HD_CFG_INT("HERALD_SELFHOST_WORKERS", SC, workers, 2, 1, WORKERS_MAX,
               "threads making those calls"),
    HD_CFG_END,
};

enum job_kind {
    JOB_HUB = 0, /* to the hub with the internal key */
    JOB_RELAY,   /* to the relay with an access token */
    JOB_DROP,    /* nowhere: mobile push is off */
};

struct job {
    const char *path; /* "/push/send" or "/send": static */
    enum job_kind relay;
    char *body; /* new */
    api_sink_cb *cb;
    void *opaque;
};

struct rsink {
    struct api_selfhost_config cfg; /* strings owned */
    struct hd_httpc *http;
    const struct hd_clock *clock;
    /* token cache */
    pthread_mutex_t tok_mu;
    char *token;            /* new, NULL when none */
    uint64_t refresh_at_ms; /* mono: ask again from then on */
    uint64_t backoff_until_ms;
    /* job queue */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct job q[QUEUE_MAX];
    size_t head, n;
    int stopping;
    pthread_t threads[WORKERS_MAX];
    int nthreads;
};

static int
has(const char *s)
{
    return s != NULL && *s != '\0';
}

/* ---- HTTP --------------------------------------------------------------- */

/* One blocking call. Returns the HTTP status, or -1 with err. */
static int
call(struct rsink *s, const char *method, const char *base, const char *path,
     const char *auth, const char *ctype, const char *body,
     struct hd_httpc_reply *out, struct hd_err *err)
{
    char url[URL_MAX], ct[128];
    struct hd_httpc_req req;

    memset(&req, 0, sizeof(req));
    memset(out, 0, sizeof(*out));
    if ((size_t)snprintf(url, sizeof(url), "%s%s", base, path) >= sizeof(url))
        return hd_err_set(err, HD_EINVAL, "URL too long");
    req.method = method;
    req.url = url;
    req.headers[req.nheaders++] = "Accept: application/json";
    if (auth)
        req.headers[req.nheaders++] = auth;
    if (ctype) {
        snprintf(ct, sizeof(ct), "Content-Type: %s", ctype);
        req.headers[req.nheaders++] = ct;
    }
    req.body = body;
    req.len = body ? strlen(body) : 0;
    if (hd_httpc_call(s->http, &req, out, err) < 0)
        return hd_err_wrap(err, "%s %s", method, url);
    return out->status;
}

/* A fresh access token into auth ("Authorization: Bearer ..."). 0 or -1. */
static int
relay_auth(struct rsink *s, char *auth, size_t n, struct hd_err *err)
{
    const struct api_selfhost_config *c = &s->cfg;
    struct hd_httpc_reply r;
    struct hd_buf form;
    json_t *doc = NULL, *at, *ei;
    uint64_t now = hd_clock_mono_ms(s->clock);
    int st, rc = -1;

    pthread_mutex_lock(&s->tok_mu);
    if (s->token != NULL && now < s->refresh_at_ms)
        goto have;
    if (now < s->backoff_until_ms) {
        hd_err_set(err, HD_EAUTH,
                   "identity refused the installation; not asking again for "
                   "%llu s",
                   (unsigned long long)(s->backoff_until_ms - now) / 1000);
        goto out;
    }
    hd_buf_init(&form, 4096);
    hd_buf_printf(&form, NULL,
                  "grant_type=client_credentials&scope=api.push&"
                  "client_id=installation.%s&client_secret=",
                  c->installation_id);
    /* the key is [A-Za-z0-9] upstream; escape anything else */
    for (const char *p = c->installation_key; *p; p++) {
        unsigned char ch = (unsigned char)*p;

        if ((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
            (ch >= 'A' && ch <= 'Z') || ch == '-' || ch == '.' || ch == '_')
            hd_buf_putc(&form, (char)ch, NULL);
        else
            hd_buf_printf(&form, NULL, "%%%02X", ch);
    }
    st = call(s, "POST", c->identity_url, "/connect/token", NULL,
              "application/x-www-form-urlencoded", form.data, &r, err);
    hd_buf_release(&form);
    if (st == 400) {
        s->backoff_until_ms = now + BACKOFF_400_MS;
        hd_err_set(err, HD_EAUTH,
                   "identity answered 400 (%.100s): no token requests for a "
                   "day",
                   r.body.data ? r.body.data : "");
    } else if (st == 200) {
        doc = hd_json_parse(r.body.data ? r.body.data : "", r.body.len, err);
        at = json_object_get(doc, "access_token");
        ei = json_object_get(doc, "expires_in");
        if (!json_is_string(at) || !json_is_integer(ei) ||
            json_integer_value(ei) <= 0 ||
            json_string_length(at) > HD_JWT_MAX_LEN) {
            hd_err_set(err, HD_EUPSTREAM, "identity: unexpected token reply");
        } else {
            free(s->token);
            s->token = hd_xstrdup(json_string_value(at));
            s->refresh_at_ms =
                now + (uint64_t)json_integer_value(ei) * 1000 / 2;
        }
        json_decref(doc);
    } else if (st > 0) {
        hd_err_set(err, HD_EUPSTREAM, "identity answered %d", st);
    }
    hd_httpc_reply_release(&r);
    if (s->token == NULL || now >= s->refresh_at_ms)
        goto out;
have:
    snprintf(auth, n, "Authorization: Bearer %s", s->token);
    rc = 0;
out:
    pthread_mutex_unlock(&s->tok_mu);
    return rc;
}

static void
forget_token(struct rsink *s)
{
    pthread_mutex_lock(&s->tok_mu);
    free(s->token);
    s->token = NULL;
    pthread_mutex_unlock(&s->tok_mu);
}

/* POST body (JSON) to the relay or the hub; 0 on 2xx, -1 with err. */
static int
post(struct rsink *s, int relay, const char *path, const char *body,
     struct hd_err *err)
{
    char auth[AUTH_MAX];
    struct hd_httpc_reply r;
    int st;

    if (relay) {
        if (relay_auth(s, auth, sizeof(auth), err) < 0)
            return -1;
    } else {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s",
                 s->cfg.internal_key);
    }
    st = call(s, "POST", relay ? s->cfg.relay_url : s->cfg.hub_url, path, auth,
              "application/json; charset=utf-8", body, &r, err);
    if (st >= 200 && st < 300) {
        hd_httpc_reply_release(&r);
        return 0;
    }
    if (st > 0) {
        if (relay && st == 401)
            forget_token(s);
        hd_err_set(err, HD_EUPSTREAM, "%s%s answered %d: %.120s",
                   relay ? "relay " : "hub ", path, st,
                   r.body.data ? r.body.data : "");
    }
    hd_httpc_reply_release(&r);
    return -1;
}

/* ---- queue -------------------------------------------------------------- */

static void *
worker(void *arg)
{
    struct rsink *s = arg;
    struct hd_err err;
    struct job j;

    for (;;) {
        pthread_mutex_lock(&s->mu);
        while (s->n == 0 && !s->stopping)
            pthread_cond_wait(&s->cv, &s->mu);
        if (s->n == 0) {
            pthread_mutex_unlock(&s->mu);
            return NULL;
        }
        j = s->q[s->head];
        s->head = (s->head + 1) % QUEUE_MAX;
        s->n--;
        pthread_mutex_unlock(&s->mu);
        hd_err_clear(&err);
        if (j.relay == JOB_DROP ||
            post(s, j.relay == JOB_RELAY, j.path, j.body, &err) == 0)
            j.cb(j.opaque, 1, NULL);
        else
            j.cb(j.opaque, 0, err.msg);
        free(j.body);
    }
}

/* Queues body (stolen). 0, or -1 with err (body freed, cb never runs). */
static int
enqueue(struct rsink *s, enum job_kind relay, const char *path, char *body,
        api_sink_cb *cb, void *opaque, struct hd_err *err)
{
    struct job *j;

    pthread_mutex_lock(&s->mu);
    if (s->stopping || s->n == QUEUE_MAX) {
        pthread_mutex_unlock(&s->mu);
        free(body);
        return hd_err_set(err, HD_EUPSTREAM, "self-hosted sink %s",
                          s->stopping ? "stopping" : "queue full");
    }
    j = &s->q[(s->head + s->n) % QUEUE_MAX];
    j->path = path;
    j->relay = relay;
    j->body = body;
    j->cb = cb;
    j->opaque = opaque;
    s->n++;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    return 0;
}

/* ---- operations ------------------------------------------------------- */

static char *
dump(json_t *doc)
{
    char *text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);

    json_decref(doc);
    if (text == NULL)
        abort(); /* OOM policy: a built object always serialises */
    return text;
}

/* The PushSendRequestModel of a record built by hd_bw_mobile_notification
 * for a user, an organization or the installation (new), or NULL. */
static json_t *
send_model(const struct rsink *s, const struct hd_msg_request *r,
           struct hd_err *err)
{
    json_t *data, *type, *payload, *out;
    const char *v = NULL;
    const char *why = "the recipient is not one user, organization or the "
                      "installation";
    json_int_t t = -1;

    if (json_array_size(r->values) == 1)
        v = json_string_value(json_array_get(r->values, 0));
    data = json_object_get(
        json_object_get(json_object_get(r->notification, "fcm"), "message"),
        "data");
    type = json_object_get(data, "type");
    payload = json_object_get(data, "payload");
    if (json_is_string(type) &&
        hd_parse_ll(json_string_value(type), 0, 255, &t) < 0)
        t = -1;
    if (v == NULL || (r->kind != HD_RCPT_USERS && r->kind != HD_RCPT_CHANNELS))
        goto refuse;
    why = "the notification is not a Bitwarden one (fcm.message.data with a "
          "numeric type and a JSON payload)";
    if (t < 0 || !json_is_string(payload))
        goto refuse;
    payload = json_loads(json_string_value(payload), JSON_DECODE_ANY, NULL);
    if (payload == NULL)
        goto refuse;
    why = "the channel is not org:<id> or installation:<id>";
    out = json_pack("{s:n,s:n,s:n,s:n,s:I,s:o,s:n,s:n}", "userId",
                    "organizationId", "deviceId", "identifier", "type", t,
                    "payload", payload, "clientType", "installationId");
    if (r->kind == HD_RCPT_USERS)
        json_object_set_new(out, "userId", json_string(v));
    else if (strncmp(v, "org:", 4) == 0)
        json_object_set_new(out, "organizationId", json_string(v + 4));
    else if (strncmp(v, "installation:", 13) == 0)
        json_object_set_new(out, "installationId",
                            json_string(s->cfg.installation_id));
    else
        goto refuse_out;
    if (json_array_size(r->exclude_identifiers) > 0)
        json_object_set(out, "identifier",
                        json_array_get(r->exclude_identifiers, 0));
    if (r->client_type != 0)
        json_object_set_new(out, "clientType", json_integer(r->client_type));
    return out;
refuse_out:
    json_decref(out);
refuse:
    hd_err_set(err, HD_EINVAL,
               "self-hosted mode relays only Bitwarden mobile notifications "
               "to one user, organization or the installation: %s",
               why);
    return NULL;
}

static int
s_submit(void *impl, const struct hd_msg_request *r, api_sink_cb *cb,
         void *opaque, struct hd_err *err)
{
    struct rsink *s = impl;
    json_t *m;

    m = send_model(s, r, err);
    if (m == NULL) {
        /* the caller answers with the reason; the operator sees it too */
        hd_log(HD_LOG_WARN, 0, "self-hosted send %.64s refused: %s",
               r->uid ? r->uid : "", err->msg);
        return -1;
    }
    /* no relay: mobile push is off, as in a self-hosted server without
     * push relay settings; the job only reports success, later */
    return enqueue(s, has(s->cfg.relay_url) ? JOB_RELAY : JOB_DROP,
                   "/push/send", dump(m), cb, opaque, err);
}

static int
s_publish(void *impl, const struct hd_msg_event *e, api_sink_cb *cb,
          void *opaque, struct hd_err *err)
{
    struct rsink *s = impl;
    json_t *n = e->notification;
    json_t *ctx = hd_json_get_ci(n, "ContextId");
    json_t *b;

    b = json_pack("{s:O,s:O,s:O}", "type", hd_json_get_ci(n, "Type"), "payload",
                  hd_json_get_ci(n, "Payload"), "contextId",
                  ctx ? ctx : json_null());
    if (b == NULL)
        return hd_err_set(err, HD_EINVAL, "event: no Type or Payload");
    if (e->target != HD_TARGET_NONE) { /* herald-hub's routing extension */
        json_object_set_new(b, "target",
                            json_string(hd_event_target_name(e->target)));
        json_object_set_new(b, "target_id", json_string(e->target_id));
        json_object_set_new(b, "client_type", json_integer(e->client_type));
    }
    return enqueue(s, JOB_HUB, "/send", dump(b), cb, opaque, err);
}

static int
s_check(void *impl, struct hd_err *err)
{
    struct rsink *s = impl;
    struct hd_httpc_reply r;
    int st;

    st = call(s, "GET", s->cfg.hub_url, "/healthz", NULL, NULL, NULL, &r, err);
    hd_httpc_reply_release(&r);
    if (st < 0)
        return -1;
    return st == 200 ? 0 : hd_err_set(err, HD_EUPSTREAM, "hub answered %d", st);
}

static int
s_device_register(void *impl, const struct api_sink_device *d,
                  struct hd_err *err)
{
    struct rsink *s = impl;
    char *body;
    int rc;

    if (!has(s->cfg.relay_url))
        return 0;
    /* RelayPushRegistrationService's body: camelCase, nulls included */
    body = dump(json_pack(
        "{s:s,s:s,s:s,s:i,s:s,s:O,s:s}", "deviceId", d->id, "pushToken",
        d->token, "userId", d->user, "type", d->device_type, "identifier",
        d->identifier, "organizationIds", d->org_ids ? d->org_ids : json_null(),
        "installationId", s->cfg.installation_id));
    rc = post(s, 1, "/push/register", body, err);
    free(body);
    return rc;
}

static int
s_device_remove(void *impl, const char *device_id, struct hd_err *err)
{
    struct rsink *s = impl;
    char *body;
    int rc;

    if (!has(s->cfg.relay_url))
        return 0;
    body = dump(json_pack("{s:s}", "id", device_id));
    rc = post(s, 1, "/push/delete", body, err);
    free(body);
    return rc;
}

static void
s_free(void *impl)
{
    struct rsink *s = impl;
    struct api_selfhost_config *c = &s->cfg;
    int i;

    pthread_mutex_lock(&s->mu);
    s->stopping = 1;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    for (i = 0; i < s->nthreads; i++)
        pthread_join(s->threads[i], NULL); /* they drain the queue first */
    hd_httpc_free(s->http);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->tok_mu);
    free(s->token);
    free(c->relay_url);
    free(c->identity_url);
    free(c->installation_id);
    free(c->installation_key);
    free(c->ca_file);
    free(c->hub_url);
    free(c->internal_key);
    free(s);
}

static const struct api_sink_ops relay_ops = {
    "selfhost", s_submit,          s_publish,       s_check,
    s_free,     s_device_register, s_device_remove,
};

static char *
dup_trim(const char *v)
{
    /* "https://x/" + "/push" */
    return hd_xstrndup(v ? v : "", hd_url_base_len(v));
}

int
api_sink_relay_init(struct api_sink *sink,
                    const struct api_selfhost_config *cfg, struct hd_err *err)
{
    struct hd_httpc_config hc;
    struct rsink *s;
    int i;

    if (!has(cfg->hub_url) || !has(cfg->internal_key))
        return hd_err_set(err, HD_EINVAL,
                          "HERALD_SELFHOST_HUB_URL and HERALD_INTERNAL_KEY "
                          "are %s",
                          SELFHOST_HUB_RULE);
    if (has(cfg->relay_url) &&
        (!has(cfg->installation_id) || !has(cfg->installation_key)))
        return hd_err_set(err, HD_EINVAL,
                          "HERALD_SELFHOST_INSTALLATION_ID and "
                          "HERALD_SELFHOST_INSTALLATION_KEY are %s",
                          SELFHOST_INST_RULE);
    memset(&hc, 0, sizeof(hc));
    hc.version = HD_HTTPC_HTTP1;
    hc.timeout_ms = cfg->timeout_ms;
    hc.ca_file = has(cfg->ca_file) ? cfg->ca_file : NULL;
    s = hd_xcalloc(1, sizeof(*s));
    s->http = hd_httpc_new(&hc, err);
    if (s->http == NULL || hd_httpc_start(s->http, err) < 0) {
        hd_httpc_free(s->http);
        free(s);
        return -1;
    }
    s->cfg = *cfg;
    s->clock = cfg->clock ? cfg->clock : &hd_clock_system;
    s->cfg.relay_url = dup_trim(cfg->relay_url);
    s->cfg.identity_url =
        dup_trim(has(cfg->identity_url) ? cfg->identity_url : cfg->relay_url);
    s->cfg.installation_id = hd_xstrdup(cfg->installation_id);
    s->cfg.installation_key = hd_xstrdup(cfg->installation_key);
    s->cfg.ca_file = hd_xstrdup(cfg->ca_file ? cfg->ca_file : "");
    s->cfg.hub_url = dup_trim(cfg->hub_url);
    s->cfg.internal_key = hd_xstrdup(cfg->internal_key);
    pthread_mutex_init(&s->tok_mu, NULL);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    for (i = 0; i < cfg->workers && i < WORKERS_MAX; i++) {
        if (pthread_create(&s->threads[i], NULL, worker, s) != 0)
            break;
        s->nthreads++;
    }
    sink->ops = &relay_ops;
    sink->impl = s;
    if (s->nthreads == 0) {
        api_sink_release(sink);
        return hd_err_set(err, HD_EIO, "self-hosted sink: no threads");
    }
    return 0;
}
