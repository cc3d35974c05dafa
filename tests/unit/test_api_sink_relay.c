/* test_api_sink_relay.c -- unit tests for services/api/api_sink_relay.c,
 * the self-hosted sink, against a local HTTP server playing the upstream
 * relay, its identity server and herald-hub: the exact bodies it sends
 * (Bitwarden's PushSendRequestModel, the registration model, the hub's
 * /send), the token cache (half the lifetime, on a fake clock), a 401
 * dropping the token, the day-long back-off after identity's 400, and the
 * records it refuses. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/unit/unit.h"
#include "tests/unit/http_client.h"
#include "core/alloc.h"
#include "proto/bitwarden.h"
#include "core/clock.h"
#include "services/api/api_sink.h"
#include "core/banned.h"

#define INST "8b1e6a8c-52f0-4a0e-9d7f-0f1bb2a3c4d5"
#define KEY "AbCdEf0123456789wxyz"
#define USER "2f6a7c1e-0000-4000-8000-00000000abcd"

/* What the fake upstream saw; guarded by mu (server threads write). */
struct upstream {
    pthread_mutex_t mu;
    int token_calls;
    int identity_status; /* answer of /connect/token */
    int relay_status;    /* answer of /push/... */
    char form[512];
    char path[64];
    char body[4096];
    char auth[256];
    int calls;
};

static void
record(struct hd_http_req *req, struct upstream *u)
{
    const char *a = hd_http_req_header(req, "Authorization");
    const char *b;
    size_t len = 0;

    b = hd_http_req_body(req, &len);
    snprintf(u->path, sizeof(u->path), "%s", hd_http_req_path(req));
    snprintf(u->body, sizeof(u->body), "%.*s", (int)len, b ? b : "");
    snprintf(u->auth, sizeof(u->auth), "%s", a ? a : "");
    u->calls++;
}

static void
h_token(struct hd_http_req *req, void *ud)
{
    struct upstream *u = ud;
    const char *b;
    size_t len = 0;
    char out[128];
    int st;

    pthread_mutex_lock(&u->mu);
    b = hd_http_req_body(req, &len);
    snprintf(u->form, sizeof(u->form), "%.*s", (int)len, b ? b : "");
    st = u->identity_status;
    snprintf(out, sizeof(out),
             "{\"access_token\":\"tok-%d\",\"expires_in\":60,"
             "\"token_type\":\"Bearer\",\"scope\":\"api.push\"}",
             ++u->token_calls);
    pthread_mutex_unlock(&u->mu);
    if (st == 200)
        hd_http_respond(req, 200, "application/json", out, strlen(out));
    else
        hd_http_respond(req, st, "application/json",
                        "{\"error\":\"invalid_client\"}", 26);
}

static void
h_push(struct hd_http_req *req, void *ud)
{
    struct upstream *u = ud;
    int st;

    pthread_mutex_lock(&u->mu);
    record(req, u);
    st = u->relay_status;
    pthread_mutex_unlock(&u->mu);
    hd_http_respond(req, st, NULL, NULL, 0);
}

static const struct hd_http_route routes[] = {
    {"POST", "/id/connect/token", h_token, 0, 0},
    {"POST", "/relay/push/*", h_push, 0, 0},
    {"POST", "/hub/send", h_push, 0, 0},
};

/* ---- waiting for a callback ---- */

struct done {
    atomic_int n;
    atomic_int ok;
    char err[256];
};

static void
on_done(void *opaque, int ok, const char *errstr)
{
    struct done *d = opaque;

    if (!ok)
        snprintf(d->err, sizeof(d->err), "%s", errstr ? errstr : "");
    atomic_store(&d->ok, ok);
    atomic_fetch_add(&d->n, 1);
}

static int
wait_cb(struct done *d)
{
    int i;

    for (i = 0; i < 5000 && atomic_load(&d->n) == 0; i++)
        usleep(1000);
    return atomic_load(&d->n);
}

struct rig {
    struct upstream u;
    struct hd_http_server *srv;
    struct hd_fake_clock fc;
    struct hd_clock clock;
    struct api_sink sink;
    char relay[64], id[64], hub[64];
};

static int
rig_start(struct rig *r, int with_relay)
{
    struct hd_http_config hc = test_config(0);
    struct api_selfhost_config c;
    struct hd_err err = {0};

    memset(r, 0, sizeof(*r));
    pthread_mutex_init(&r->u.mu, NULL);
    r->u.identity_status = 200;
    r->u.relay_status = 200;
    r->srv = start(&hc, routes, 3, &r->u, NULL);
    if (r->srv == NULL)
        return -1;
    snprintf(r->relay, sizeof(r->relay), "http://127.0.0.1:%d/relay/",
             port_of_server);
    snprintf(r->id, sizeof(r->id), "http://127.0.0.1:%d/id", port_of_server);
    snprintf(r->hub, sizeof(r->hub), "http://127.0.0.1:%d/hub", port_of_server);
    r->fc.mono_ms = 1000;
    r->clock = hd_fake_clock_bind(&r->fc);
    memset(&c, 0, sizeof(c));
    c.relay_url = with_relay ? r->relay : (char *)(uintptr_t) "";
    c.identity_url = r->id;
    c.installation_id = (char *)(uintptr_t)INST;
    c.installation_key = (char *)(uintptr_t)KEY;
    c.hub_url = r->hub;
    c.internal_key = (char *)(uintptr_t) "ik";
    c.timeout_ms = 5000;
    c.workers = 2;
    c.clock = &r->clock;
    return api_sink_relay_init(&r->sink, &c, &err);
}

static void
rig_stop(struct rig *r)
{
    api_sink_release(&r->sink);
    hd_http_server_free(r->srv, 1000);
    pthread_mutex_destroy(&r->u.mu);
}

/* A user/org/installation send as api_events.c builds it (r owned). */
static void
request(struct hd_msg_request *r, enum hd_recipient_kind kind,
        const char *value, const char *exclude, int client_type)
{
    json_t *p = json_pack("{s:s,s:s}", "userId", USER, "date",
                          "2026-12-02T00:00:00.123456Z");

    memset(r, 0, sizeof(*r));
    r->uid = hd_xstrdup("u-1");
    r->app = hd_xstrdup("default");
    r->kind = kind;
    r->values = json_pack("[s]", value);
    if (exclude)
        r->exclude_identifiers = json_pack("[s]", exclude);
    r->client_type = client_type;
    r->notification = hd_bw_mobile_notification(5, p, NULL, NULL);
    json_decref(p);
}

static int
send_one(struct rig *g, enum hd_recipient_kind kind, const char *value,
         const char *exclude, int ct, struct done *d)
{
    struct hd_msg_request r;
    struct hd_err err = {0};
    int rc;

    memset(d, 0, sizeof(*d));
    request(&r, kind, value, exclude, ct);
    rc = api_sink_submit(&g->sink, &r, on_done, d, &err);
    hd_msg_request_release(&r);
    if (rc == 0)
        wait_cb(d);
    return rc;
}

static void
test_bodies_and_token_cache(void)
{
    struct hd_msg_event ev = {0};
    struct hd_err err = {0};
    struct api_sink_device dev;
    struct done d;
    struct rig g;

    ASSERT_INT_EQ(rig_start(&g, 1), 0);

    /* a user send: Bitwarden's PushSendRequestModel, camelCase, nulls */
    ASSERT_INT_EQ(send_one(&g, HD_RCPT_USERS, USER, "phone-1", 4, &d), 0);
    ASSERT_INT_EQ(atomic_load(&d.ok), 1);
    ASSERT_STR_EQ(g.u.form,
                  "grant_type=client_credentials&scope=api.push&"
                  "client_id=installation." INST "&client_secret=" KEY);
    ASSERT_STR_EQ(g.u.path, "/relay/push/send");
    ASSERT_STR_EQ(g.u.auth, "Bearer tok-1");
    ASSERT_STR_EQ(g.u.body,
                  "{\"userId\":\"" USER "\",\"organizationId\":null,"
                  "\"deviceId\":null,\"identifier\":\"phone-1\",\"type\":5,"
                  "\"payload\":{\"userId\":\"" USER "\",\"date\":"
                  "\"2026-12-02T00:00:00.123456Z\"},\"clientType\":4,"
                  "\"installationId\":null}");

    /* organization and installation targets; the token is reused */
    ASSERT_INT_EQ(send_one(&g, HD_RCPT_CHANNELS, "org:o-1", NULL, 0, &d), 0);
    ASSERT_STR_CONTAINS(g.u.body, "\"organizationId\":\"o-1\"");
    ASSERT_STR_CONTAINS(g.u.body, "\"clientType\":null");
    ASSERT_INT_EQ(send_one(&g, HD_RCPT_CHANNELS, "installation:x", NULL, 0, &d),
                  0);
    ASSERT_STR_CONTAINS(g.u.body, "\"installationId\":\"" INST "\"");
    ASSERT_INT_EQ(g.u.token_calls, 1);

    /* half the lifetime (60 s) later a new token is asked for */
    g.fc.mono_ms += 29000;
    ASSERT_INT_EQ(send_one(&g, HD_RCPT_USERS, USER, NULL, 0, &d), 0);
    ASSERT_INT_EQ(g.u.token_calls, 1);
    g.fc.mono_ms += 2000;
    ASSERT_INT_EQ(send_one(&g, HD_RCPT_USERS, USER, NULL, 0, &d), 0);
    ASSERT_INT_EQ(g.u.token_calls, 2);
    ASSERT_STR_EQ(g.u.auth, "Bearer tok-2");

    /* a 401 from the relay drops the token: the next call asks again */
    g.u.relay_status = 401;
    ASSERT_INT_EQ(send_one(&g, HD_RCPT_USERS, USER, NULL, 0, &d), 0);
    ASSERT_INT_EQ(atomic_load(&d.ok), 0);
    ASSERT_STR_CONTAINS(d.err, "answered 401");
    g.u.relay_status = 200;
    ASSERT_INT_EQ(send_one(&g, HD_RCPT_USERS, USER, NULL, 0, &d), 0);
    ASSERT_INT_EQ(atomic_load(&d.ok), 1);
    ASSERT_INT_EQ(g.u.token_calls, 3);

    /* hub events: camelCase {type, payload, contextId}, internal key */
    memset(&d, 0, sizeof(d));
    ev.notification = json_pack("{s:i,s:{s:s},s:s}", "Type", 0, "Payload", "Id",
                                "c-1", "ContextId", "dev-1");
    ASSERT_INT_EQ(api_sink_publish(&g.sink, &ev, on_done, &d, &err), 0);
    ASSERT_INT_EQ(wait_cb(&d), 1);
    json_decref(ev.notification);
    ASSERT_STR_EQ(g.u.path, "/hub/send");
    ASSERT_STR_EQ(g.u.auth, "Bearer ik");
    ASSERT_STR_EQ(g.u.body,
                  "{\"type\":0,\"payload\":{\"Id\":\"c-1\"},\"contextId\":"
                  "\"dev-1\"}");
    /* an explicit target travels as herald-hub's routing extension */
    char inst_id[] = INST;
    memset(&d, 0, sizeof(d));
    ev.target = HD_TARGET_INSTALLATION;
    ev.target_id = inst_id;
    ev.client_type = 2;
    ev.notification =
        json_pack("{s:i,s:{s:s}}", "Type", 5, "Payload", "Id", "c-2");
    ASSERT_INT_EQ(api_sink_publish(&g.sink, &ev, on_done, &d, &err), 0);
    ASSERT_INT_EQ(wait_cb(&d), 1);
    json_decref(ev.notification);
    ev.target = HD_TARGET_NONE;
    ev.target_id = NULL;
    ASSERT_STR_EQ(g.u.body,
                  "{\"type\":5,\"payload\":{\"Id\":\"c-2\"},\"contextId\":"
                  "null,\"target\":\"installation\",\"target_id\":\"" INST
                  "\",\"client_type\":2}");

    /* device registration and removal block and answer directly */
    memset(&dev, 0, sizeof(dev));
    dev.id = "d-1";
    dev.token = "fcm-tok";
    dev.user = USER;
    dev.identifier = "phone-1";
    dev.device_type = 0;
    ASSERT_INT_EQ(api_sink_device_register(&g.sink, &dev, &err), 0);
    ASSERT_STR_EQ(g.u.path, "/relay/push/register");
    ASSERT_STR_EQ(g.u.body,
                  "{\"deviceId\":\"d-1\",\"pushToken\":\"fcm-tok\",\"userId\":"
                  "\"" USER "\",\"type\":0,\"identifier\":\"phone-1\","
                  "\"organizationIds\":null,\"installationId\":\"" INST "\"}");
    ASSERT_INT_EQ(api_sink_device_remove(&g.sink, "d-1", &err), 0);
    ASSERT_STR_EQ(g.u.path, "/relay/push/delete");
    ASSERT_STR_EQ(g.u.body, "{\"id\":\"d-1\"}");
    g.u.relay_status = 500;
    ASSERT_INT_EQ(api_sink_device_remove(&g.sink, "d-1", &err), -1);
    ASSERT_STR_CONTAINS(err.msg, "answered 500");
    rig_stop(&g);
    ASSERT_NULL(g.sink.impl);
}

static void
test_identity_400_backs_off_a_day(void)
{
    struct done d;
    struct rig g;
    int calls;

    ASSERT_INT_EQ(rig_start(&g, 1), 0);
    g.u.identity_status = 400;
    ASSERT_INT_EQ(send_one(&g, HD_RCPT_USERS, USER, NULL, 0, &d), 0);
    ASSERT_INT_EQ(atomic_load(&d.ok), 0);
    ASSERT_STR_CONTAINS(d.err, "no token requests for a day");
    ASSERT_INT_EQ(g.u.token_calls, 1);
    g.u.identity_status = 200;
    g.fc.mono_ms += 23LL * 3600 * 1000;
    calls = g.u.calls;
    ASSERT_INT_EQ(send_one(&g, HD_RCPT_USERS, USER, NULL, 0, &d), 0);
    ASSERT_INT_EQ(atomic_load(&d.ok), 0);
    ASSERT_STR_CONTAINS(d.err, "not asking again");
    ASSERT_INT_EQ(g.u.token_calls, 1);
    ASSERT_INT_EQ(g.u.calls, calls); /* nothing reached the relay */
    g.fc.mono_ms += 3600 * 1000;
    ASSERT_INT_EQ(send_one(&g, HD_RCPT_USERS, USER, NULL, 0, &d), 0);
    ASSERT_INT_EQ(atomic_load(&d.ok), 1);
    ASSERT_INT_EQ(g.u.token_calls, 2);
    rig_stop(&g);
}

static void
test_refusals_and_no_relay(void)
{
    struct hd_msg_request r;
    struct hd_err err = {0};
    struct done d;
    struct rig g;

    ASSERT_INT_EQ(rig_start(&g, 1), 0);
    /* raw provider tokens and generic notifications cannot be relayed */
    memset(&d, 0, sizeof(d));
    request(&r, HD_RCPT_FCM_TOKENS, "t-1", NULL, 0);
    ASSERT_INT_EQ(api_sink_submit(&g.sink, &r, on_done, &d, &err), -1);
    ASSERT_INT_EQ(err.code, HD_EINVAL);
    hd_msg_request_release(&r);
    request(&r, HD_RCPT_USERS, USER, NULL, 0);
    json_decref(r.notification);
    r.notification = json_pack("{s:{s:{s:{s:s}}}}", "fcm", "message",
                               "notification", "title", "hi");
    ASSERT_INT_EQ(api_sink_submit(&g.sink, &r, on_done, &d, &err), -1);
    hd_msg_request_release(&r);
    request(&r, HD_RCPT_CHANNELS, "news", NULL, 0);
    ASSERT_INT_EQ(api_sink_submit(&g.sink, &r, on_done, &d, &err), -1);
    hd_msg_request_release(&r);
    usleep(20000);
    ASSERT_INT_EQ(atomic_load(&d.n), 0); /* callbacks never ran */
    ASSERT_INT_EQ(g.u.calls, 0);
    rig_stop(&g);

    /* without a relay, mobile sends succeed and go nowhere */
    ASSERT_INT_EQ(rig_start(&g, 0), 0);
    ASSERT_INT_EQ(send_one(&g, HD_RCPT_USERS, USER, NULL, 0, &d), 0);
    ASSERT_INT_EQ(atomic_load(&d.ok), 1);
    ASSERT_INT_EQ(g.u.calls + g.u.token_calls, 0);
    rig_stop(&g);
}

int
main(void)
{
    RUN_TEST(test_bodies_and_token_cache);
    RUN_TEST(test_identity_400_backs_off_a_day);
    RUN_TEST(test_refusals_and_no_relay);
    return UNIT_DONE();
}
