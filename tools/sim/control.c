/* control.c -- control API handlers.
 *
 * Each handler validates its input, calls the thread-safe module that owns
 * the state and answers once. GET /control/wait is the one deferred
 * answer: the store calls back when enough matching requests arrived (on
 * an I/O thread) or when main()'s tick times it out. Bodies are JSON; an
 * empty body means "defaults". */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/alloc.h"
#include "core/clock.h"
#include "core/json.h"
#include "core/limits.h"
#include "tools/sim/providers/apns.h"
#include "tools/sim/control.h"
#include "tools/sim/creds.h"
#include "tools/sim/faults/outcome.h"
#include "tools/sim/providers/rate.h"
#include "tools/sim/faults/rules.h"
#include "tools/sim/net/server.h"
#include "tools/sim/store.h"
#include "tools/sim/providers/tokens.h"
#include "tools/sim/providers/webpush.h"
#include "core/banned.h"

#define DEFAULT_LIMIT 100
#define DEFAULT_WAIT_MS 5000

/* The JSON body, or an empty object for an empty body. new; NULL after
 * answering 400. */
static json_t *
body_json(struct hd_http_req *r)
{
    struct hd_err err = {0};
    size_t len = 0;
    const char *b = hd_http_req_body(r, &len);
    json_t *j;

    if (b == NULL || len == 0)
        return json_object();
    j = hd_json_parse(b, len, &err);
    if (j == NULL || !json_is_object(j)) {
        json_decref(j);
        hd_http_respond_error(r, 400, "bad_request", "body: %s",
                              err.msg[0] ? err.msg : "must be a JSON object");
        return NULL;
    }
    return j;
}

/* Fills a filter from the query string. Returns 0, or -1 after 400. */
static int
filter_from_query(struct hd_http_req *r, struct sim_filter *f)
{
    const char *v;

    sim_filter_init(f);
    v = hd_http_req_query(r, "provider");
    if (v != NULL) {
        enum sim_provider p;

        if (sim_provider_parse(v, &p) < 0)
            goto bad;
        f->provider = (int)p;
    }
    v = hd_http_req_query(r, "endpoint");
    if (v != NULL) {
        enum sim_ep_kind k;

        if (sim_ep_kind_parse(v, &k) < 0)
            goto bad;
        f->kind = (int)k;
    }
    v = hd_http_req_query(r, "accepted");
    if (v != NULL && hd_parse_int(v, 0, 1, &f->accepted) < 0)
        goto bad;
    v = hd_http_req_query(r, "since");
    if (v != NULL) {
        long long s;

        if (hd_parse_ll(v, 0, (long long)1 << 62, &s) < 0)
            goto bad;
        f->since = (uint64_t)s;
    }
    v = hd_http_req_query(r, "token");
    if (v != NULL)
        sim_copy(f->token, sizeof(f->token), v);
    v = hd_http_req_query(r, "token_prefix");
    if (v != NULL)
        sim_copy(f->token_prefix, sizeof(f->token_prefix), v);
    v = hd_http_req_query(r, "outcome");
    if (v != NULL)
        sim_copy(f->outcome, sizeof(f->outcome), v);
    return 0;
bad:
    hd_http_respond_error(r, 400, "bad_request",
                          "bad query: provider=apns|fcm|hms, endpoint="
                          "send|token, accepted=0|1, since=<seq>");
    return -1;
}

static void
h_records(struct hd_http_req *r, void *ud)
{
    struct sim_control *c = ud;
    const char *v = hd_http_req_query(r, "limit");
    struct sim_filter f;
    int limit = DEFAULT_LIMIT;
    json_t *out;

    if (filter_from_query(r, &f) < 0)
        return;
    if (v != NULL && hd_parse_int(v, 0, c->ctx->cfg.records_max, &limit) < 0) {
        hd_http_respond_error(r, 400, "bad_request",
                              "limit: 0..HERALD_SIM_RECORDS_MAX");
        return;
    }
    out = sim_store_query(c->ctx->store, &f, (size_t)limit);
    hd_http_respond_json(r, 200, out);
    json_decref(out);
}

static void
h_counts(struct hd_http_req *r, void *ud)
{
    struct sim_control *c = ud;
    json_t *out = sim_store_counts(c->ctx->store);

    json_object_set_new(
        out, "access_tokens",
        json_integer((json_int_t)sim_tokens_count(c->ctx->tokens)));
    hd_http_respond_json(r, 200, out);
    json_decref(out);
}

struct waiting {
    struct hd_http_req *r;
    uint64_t want;
};

static void
wait_done(void *ud, int satisfied, uint64_t matched)
{
    struct waiting *w = ud;
    json_t *out =
        json_pack("{s:b, s:I, s:I}", "satisfied", satisfied, "matched",
                  (json_int_t)matched, "wanted", (json_int_t)w->want);

    hd_http_respond_json(w->r, satisfied ? 200 : 408, out);
    json_decref(out);
    free(w);
}

static void
h_wait(struct hd_http_req *r, void *ud)
{
    struct sim_control *c = ud;
    const char *cs = hd_http_req_query(r, "count");
    const char *ts = hd_http_req_query(r, "timeout_ms");
    struct hd_err err = {0};
    struct sim_filter f;
    struct waiting *w;
    long long count = 1;
    int timeout = DEFAULT_WAIT_MS;

    if (filter_from_query(r, &f) < 0)
        return;
    if ((cs != NULL && hd_parse_ll(cs, 0, 1LL << 40, &count) < 0) ||
        (ts != NULL && hd_parse_int(ts, 0, SIM_WAIT_MAX_MS, &timeout) < 0)) {
        hd_http_respond_error(r, 400, "bad_request",
                              "count: >= 0; timeout_ms: 0..%d",
                              SIM_WAIT_MAX_MS);
        return;
    }
    w = hd_xcalloc(1, sizeof(*w));
    w->r = r;
    w->want = (uint64_t)count;
    if (sim_store_wait(c->ctx->store, &f, (uint64_t)count,
                       hd_now_mono_ms() + (uint64_t)timeout, wait_done, w,
                       &err) < 0) {
        free(w);
        hd_http_respond_error(r, 429, "too_many_waits", "%s", err.msg);
    }
}

static void
h_reset(struct hd_http_req *r, void *ud)
{
    struct sim_control *c = ud;
    struct sim_ctx *ctx = c->ctx;
    json_t *b = body_json(r);
    int tokens = 0;
    int i;

    if (b == NULL)
        return;
    if (hd_json_bool(b, "", "tokens", 0, &tokens, NULL) < 0)
        tokens = 0;
    sim_store_reset(ctx->store);
    sim_rules_clear(ctx->rules);
    sim_rate_reset(ctx->fcm_quota);
    sim_rate_reset(ctx->hms_qps);
    sim_rate_reset(ctx->hms_token_rate);
    sim_apns_teams_clear(ctx->teams);
    atomic_store(&ctx->clock_offset_ms, 0);
    for (i = 0; i < SIM_NPROV; i++) {
        atomic_store(&ctx->latency[i].ms, ctx->cfg.latency_ms);
        atomic_store(&ctx->latency[i].jitter_ms, ctx->cfg.jitter_ms);
    }
    if (tokens)
        sim_tokens_clear(ctx->tokens);
    json_decref(b);
    hd_http_respond(r, 204, NULL, NULL, 0);
}

static void
h_rules_get(struct hd_http_req *r, void *ud)
{
    struct sim_control *c = ud;
    json_t *a = sim_rules_list(c->ctx->rules);
    json_t *out = json_pack("{s:o}", "rules", a);

    hd_http_respond_json(r, 200, out);
    json_decref(out);
}

static void
h_rules_post(struct hd_http_req *r, void *ud)
{
    struct sim_control *c = ud;
    struct hd_err err = {0};
    json_t *b = body_json(r);
    json_t *list;
    json_t *ids;
    json_t *out;
    json_t *v;
    size_t i;

    if (b == NULL)
        return;
    /* {"rules":[...]} adds several at once, else the body is one rule */
    list = json_object_get(b, "rules");
    if (list == NULL) {
        list = json_pack("[O]", b);
    } else if (!json_is_array(list)) {
        json_decref(b);
        hd_http_respond_error(r, 400, "bad_request", "rules: an array");
        return;
    } else {
        json_incref(list);
    }
    ids = json_array();
    json_array_foreach(list, i, v)
    {
        uint64_t id;

        if (sim_rules_add(c->ctx->rules, v, &id, &err) < 0) {
            hd_http_respond_error(r, 400, "bad_rule", "rule %zu: %s", i,
                                  err.msg);
            goto out;
        }
        json_array_append_new(ids, json_integer((json_int_t)id));
    }
    out =
        json_array_size(ids) == 1
            ? json_pack("{s:O, s:O}", "id", json_array_get(ids, 0), "ids", ids)
            : json_pack("{s:O}", "ids", ids);
    hd_http_respond_json(r, 201, out);
    json_decref(out);
out:
    json_decref(ids);
    json_decref(list);
    json_decref(b);
}

static void
h_rules_delete_all(struct hd_http_req *r, void *ud)
{
    struct sim_control *c = ud;

    sim_rules_clear(c->ctx->rules);
    hd_http_respond(r, 204, NULL, NULL, 0);
}

static void
h_rule_delete(struct hd_http_req *r, void *ud)
{
    struct sim_control *c = ud;
    const char *v = hd_http_req_param(r, "id");
    long long id;

    if (v == NULL || hd_parse_ll(v, 1, (long long)1 << 62, &id) < 0) {
        hd_http_respond_error(r, 400, "bad_request", "id: a rule id");
        return;
    }
    if (sim_rules_delete(c->ctx->rules, (uint64_t)id) < 0) {
        hd_http_respond_error(r, 404, "not_found", "no rule %lld", id);
        return;
    }
    hd_http_respond(r, 204, NULL, NULL, 0);
}

static void
clock_reply(struct hd_http_req *r, struct sim_ctx *ctx)
{
    json_t *out = json_pack("{s:I, s:I, s:I}", "offset_ms",
                            (json_int_t)atomic_load(&ctx->clock_offset_ms),
                            "now_ms", (json_int_t)sim_now_ms(ctx),
                            "real_now_ms", (json_int_t)hd_now_wall_ms());

    hd_http_respond_json(r, 200, out);
    json_decref(out);
}

static void
h_clock_get(struct hd_http_req *r, void *ud)
{
    struct sim_control *c = ud;

    clock_reply(r, c->ctx);
}

static void
h_clock_post(struct hd_http_req *r, void *ud)
{
    struct sim_control *c = ud;
    const long long lim = 100LL * 365 * 86400 * 1000;
    struct hd_err err = {0};
    json_t *b = body_json(r);
    long long v = 0;
    int rc;

    if (b == NULL)
        return;
    rc = hd_json_int(b, "", "offset_ms", 0, -lim, lim, &v, &err);
    if (rc == 1) {
        atomic_store(&c->ctx->clock_offset_ms, v);
    } else if (rc == 0) {
        rc = hd_json_int(b, "", "advance_ms", 0, -lim, lim, &v, &err);
        if (rc == 1)
            atomic_fetch_add(&c->ctx->clock_offset_ms, v);
    }
    if (rc == 0) {
        rc = hd_json_int(b, "", "now_ms", 0, 0, lim * 2, &v, &err);
        if (rc == 1)
            atomic_store(&c->ctx->clock_offset_ms, v - hd_now_wall_ms());
    }
    if (rc != 1) {
        json_decref(b);
        hd_http_respond_error(r, 400, "bad_request", "%s",
                              rc < 0 ? err.msg
                                     : "give offset_ms, advance_ms or now_ms");
        return;
    }
    json_decref(b);
    clock_reply(r, c->ctx);
}

static void
latency_reply(struct hd_http_req *r, struct sim_ctx *ctx)
{
    json_t *out = json_object();
    int i;

    for (i = 0; i < SIM_NPROV; i++)
        json_object_set_new(
            out, sim_provider_name((enum sim_provider)i),
            json_pack("{s:i, s:i}", "ms", atomic_load(&ctx->latency[i].ms),
                      "jitter_ms", atomic_load(&ctx->latency[i].jitter_ms)));
    hd_http_respond_json(r, 200, out);
    json_decref(out);
}

static void
h_latency_get(struct hd_http_req *r, void *ud)
{
    struct sim_control *c = ud;

    latency_reply(r, c->ctx);
}

static void
h_latency_post(struct hd_http_req *r, void *ud)
{
    struct sim_control *c = ud;
    struct hd_err err = {0};
    json_t *b = body_json(r);
    const char *prov = NULL;
    long long ms = -1;
    long long jit = -1;
    enum sim_provider p = SIM_APNS;
    int i;

    if (b == NULL)
        return;
    if (hd_json_str(b, "", "provider", 0, 16, &prov, &err) < 0 ||
        hd_json_int(b, "", "ms", 0, 0, 600000, &ms, &err) < 0 ||
        hd_json_int(b, "", "jitter_ms", 0, 0, 600000, &jit, &err) < 0 ||
        (prov != NULL && sim_provider_parse(prov, &p) < 0)) {
        hd_http_respond_error(
            r, 400, "bad_request", "%s",
            err.msg[0] ? err.msg : "provider: apns, fcm, hms or webpush");
        json_decref(b);
        return;
    }
    for (i = 0; i < SIM_NPROV; i++) {
        if (prov != NULL && i != (int)p)
            continue;
        if (ms >= 0)
            atomic_store(&c->ctx->latency[i].ms, (int)ms);
        if (jit >= 0)
            atomic_store(&c->ctx->latency[i].jitter_ms, (int)jit);
    }
    json_decref(b);
    latency_reply(r, c->ctx);
}

static void
h_goaway(struct hd_http_req *r, void *ud)
{
    struct sim_control *c = ud;
    struct sim_goaway_req *g = &c->ctx->goaway;
    struct hd_err err = {0};
    json_t *b = body_json(r);
    const char *prov = NULL;
    const char *code = NULL;
    const char *debug = NULL;
    enum sim_provider p = SIM_APNS;
    uint32_t ec = 0;

    if (b == NULL)
        return;
    if (hd_json_str(b, "", "provider", 0, 16, &prov, &err) < 0 ||
        hd_json_str(b, "", "error_code", 0, 32, &code, &err) < 0 ||
        hd_json_str(b, "", "debug", 0, sizeof(g->debug) - 1, &debug, &err) <
            0 ||
        (prov != NULL && sim_provider_parse(prov, &p) < 0) ||
        (code != NULL && sim_h2_code_parse(code, &ec) < 0)) {
        hd_http_respond_error(r, 400, "bad_request", "%s",
                              err.msg[0] ? err.msg
                                         : "provider or error_code unknown");
        json_decref(b);
        return;
    }
    /* one request at a time is enough for tests: last writer wins */
    sim_copy(g->debug, sizeof(g->debug), debug ? debug : "");
    atomic_store(&g->provider, prov ? (int)p : -1);
    atomic_store(&g->code, ec);
    atomic_fetch_add(&g->gen, 1);
    if (c->srv != NULL)
        sim_server_kick(c->srv);
    json_decref(b);
    hd_http_respond(r, 202, NULL, NULL, 0);
}

static void
h_info(struct hd_http_req *r, void *ud)
{
    struct sim_control *c = ud;
    const struct sim_creds *cr = c->ctx->creds;
    json_t *keys = json_array();
    json_t *accts = json_array();
    json_t *apps = json_array();
    json_t *out;
    int i;

    for (i = 0; i < cr->napns; i++)
        json_array_append_new(keys,
                              json_pack("{s:s, s:s}", "key_id", cr->apns[i].kid,
                                        "team_id", cr->apns[i].team));
    for (i = 0; i < cr->nfcm; i++)
        json_array_append_new(accts, json_pack("{s:s, s:s}", "client_email",
                                               cr->fcm[i].email, "project_id",
                                               cr->fcm[i].project));
    for (i = 0; i < cr->nhms; i++)
        json_array_append_new(apps,
                              json_pack("{s:s}", "app_id", cr->hms[i].id));
    out = json_pack("{s:i, s:i, s:s, s:o, s:o, s:o}", "tls_port",
                    c->ctx->tls_port, "control_port", c->control_port,
                    "credentials_dir", cr->dir, "apns_keys", keys,
                    "fcm_service_accounts", accts, "hms_apps", apps);
    hd_http_respond_json(r, 200, out);
    json_decref(out);
}

static void
h_webpush_subscription(struct hd_http_req *r, void *ud)
{
    struct sim_control *c = ud;

    sim_webpush_subscription(r, c->ctx);
}

const struct hd_http_route sim_control_routes[] = {
    {"GET", "/control/records", h_records, 0, 0},
    {"GET", "/control/counts", h_counts, 0, 0},
    {"GET", "/control/wait", h_wait, 0, 0},
    {"POST", "/control/reset", h_reset, 0, 0},
    {"GET", "/control/rules", h_rules_get, 0, 0},
    {"POST", "/control/rules", h_rules_post, 0, 0},
    {"DELETE", "/control/rules", h_rules_delete_all, 0, 0},
    {"DELETE", "/control/rules/{id}", h_rule_delete, 0, 0},
    {"GET", "/control/clock", h_clock_get, 0, 0},
    {"POST", "/control/clock", h_clock_post, 0, 0},
    {"GET", "/control/latency", h_latency_get, 0, 0},
    {"POST", "/control/latency", h_latency_post, 0, 0},
    {"POST", "/control/goaway", h_goaway, 0, 0},
    {"GET", "/control/info", h_info, 0, 0},
    {"GET", "/control/webpush/subscription", h_webpush_subscription, 0, 0},
};

const size_t sim_control_nroutes =
    sizeof(sim_control_routes) / sizeof(sim_control_routes[0]);
