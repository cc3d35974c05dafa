/* rules.c -- the control API's fault rules: parse, list, match.
 *
 * Parsing validates everything up front (unknown provider, unknown error
 * name for the endpoint, bad HTTP/2 code), so matching on the I/O threads
 * never fails. The rule count is also kept in an atomic so a simulator
 * without rules never takes the mutex on the request path. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/json.h"
#include "tools/sim/rules.h"
#include "core/banned.h"

#define RULE_STR_MAX 512

struct rule {
    uint64_t id;
    int provider;       /* -1: any */
    int kind;           /* enum sim_ep_kind, -1: any */
    char *token_prefix; /* NULL: any (new) */
    char *path_prefix;
    char *hdr_name;
    char *hdr_value;
    long long skip;     /* matches to let through first */
    long long count;    /* times left to fire, -1 forever */
    double probability; /* 0..1 */
    uint64_t matched;
    uint64_t fired;
    json_t *spec; /* as posted, for listing */
    struct sim_outcome out;
};

struct sim_rules {
    pthread_mutex_t mu;
    struct rule *v[SIM_RULES_MAX];
    int n;
    atomic_int live;
    uint64_t next_id;
    uint64_t seed;
    uint64_t rng;
};

struct sim_rules *
sim_rules_new(uint64_t seed)
{
    struct sim_rules *r = hd_xcalloc(1, sizeof(*r));

    pthread_mutex_init(&r->mu, NULL);
    r->seed = seed ? seed : 1;
    r->rng = r->seed;
    r->next_id = 1;
    return r;
}

static void
rule_free(struct rule *u)
{
    if (u == NULL)
        return;
    free(u->token_prefix);
    free(u->path_prefix);
    free(u->hdr_name);
    free(u->hdr_value);
    json_decref(u->spec);
    sim_outcome_release(&u->out);
    free(u);
}

void
sim_rules_clear(struct sim_rules *r)
{
    int i;

    pthread_mutex_lock(&r->mu);
    for (i = 0; i < r->n; i++)
        rule_free(r->v[i]);
    r->n = 0;
    r->rng = r->seed;
    atomic_store(&r->live, 0);
    pthread_mutex_unlock(&r->mu);
}

void
sim_rules_free(struct sim_rules *r)
{
    if (r == NULL)
        return;
    sim_rules_clear(r);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

/* xorshift64*: reproducible draws for a given seed. */
static double
draw(struct sim_rules *r)
{
    uint64_t x = r->rng;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r->rng = x;
    return (double)((x * 0x2545F4914F6CDD1DULL) >> 11) / 9007199254740992.0;
}

static int
opt_str(json_t *spec, const char *key, char **out, struct hd_err *err)
{
    const char *s = NULL;
    int rc = hd_json_str(spec, "", key, 0, RULE_STR_MAX, &s, err);

    if (rc == 1)
        *out = hd_xstrdup(s);
    return rc < 0 ? -1 : 0;
}

static int
parse_match(json_t *spec, struct rule *u, struct hd_err *err)
{
    const char *s = NULL;
    json_t *h = NULL;
    int rc;

    u->provider = -1;
    u->kind = -1;
    rc = hd_json_str(spec, "", "provider", 0, 16, &s, err);
    if (rc < 0)
        return -1;
    if (rc == 1) {
        enum sim_provider p;

        if (sim_provider_parse(s, &p) < 0)
            return hd_err_set(err, HD_EINVAL,
                              "provider: must be apns, fcm or hms");
        u->provider = (int)p;
    }
    rc = hd_json_str(spec, "", "endpoint", 0, 16, &s, err);
    if (rc < 0)
        return -1;
    if (rc == 1) {
        enum sim_ep_kind k;

        if (sim_ep_kind_parse(s, &k) < 0)
            return hd_err_set(err, HD_EINVAL,
                              "endpoint: must be send or token");
        u->kind = (int)k;
    }
    if (opt_str(spec, "token_prefix", &u->token_prefix, err) < 0 ||
        opt_str(spec, "path_prefix", &u->path_prefix, err) < 0)
        return -1;
    if (hd_json_obj(spec, "", "header", 0, &h, err) < 0)
        return -1;
    if (h != NULL) {
        if (opt_str(h, "name", &u->hdr_name, err) < 0 ||
            opt_str(h, "value", &u->hdr_value, err) < 0)
            return -1;
        if (u->hdr_name == NULL)
            return hd_err_set(err, HD_EINVAL, "header.name: required");
    }
    return 0;
}

static int
parse_limits(json_t *spec, struct rule *u, struct hd_err *err)
{
    json_t *p = json_object_get(spec, "probability");

    u->count = -1;
    u->probability = 1.0;
    if (hd_json_int(spec, "", "count", 0, -1, 1000000000LL, &u->count, err) <
            0 ||
        hd_json_int(spec, "", "skip", 0, 0, 1000000000LL, &u->skip, err) < 0)
        return -1;
    if (p != NULL) {
        if (!json_is_number(p) || json_number_value(p) < 0 ||
            json_number_value(p) > 1)
            return hd_err_set(err, HD_EINVAL,
                              "probability: must be a number in 0..1");
        u->probability = json_number_value(p);
    }
    return 0;
}

/* The endpoint a rule's error name must belong to. */
static const struct sim_endpoint *
rule_endpoint(const struct rule *u)
{
    if (u->provider < 0)
        return NULL;
    return sim_endpoint_of((enum sim_provider)u->provider,
                           u->kind < 0 ? SIM_EP_SEND
                                       : (enum sim_ep_kind)u->kind);
}

static int
parse_action(json_t *spec, struct rule *u, struct hd_err *err)
{
    struct sim_outcome *o = &u->out;
    const char *s = NULL;
    long long v = -1;
    int rc;

    if (hd_json_int(spec, "", "delay_ms", 0, 0, 3600000, &v, err) < 0)
        return -1;
    o->delay_ms = (int)v;
    v = -1;
    if (hd_json_int(spec, "", "retry_after", 0, 0, 86400 * 7, &v, err) < 0)
        return -1;
    o->retry_after_s = (int)v;
    rc = hd_json_str(spec, "", "error", 0, 64, &s, err);
    if (rc < 0)
        return -1;
    if (rc == 1) {
        const struct sim_endpoint *ep = rule_endpoint(u);

        if (ep == NULL)
            return hd_err_set(err, HD_EINVAL,
                              "error: needs provider (and endpoint)");
        o->error = sim_error_lookup(ep, s);
        if (o->error == NULL)
            return hd_err_set(err, HD_EINVAL, "error: %s is not an error of %s",
                              s, ep->name);
        o->kind = SIM_OUT_ERROR;
        if (u->kind < 0)
            u->kind = (int)ep->kind; /* a send error never hits /token */
        return 0;
    }
    v = 0;
    if (hd_json_int(spec, "", "status", 0, 100, 599, &v, err) < 0)
        return -1;
    if (v > 0) {
        o->kind = SIM_OUT_RAW;
        o->status = (int)v;
        rc = hd_json_str(spec, "", "content_type", 0, sizeof(o->ctype) - 1, &s,
                         err);
        if (rc < 0)
            return -1;
        if (rc == 1)
            memcpy(o->ctype, s, strlen(s) + 1);
    }
    rc = hd_json_str(spec, "", "body", 0, SIM_RESP_MAX_BODY, &s, err);
    if (rc < 0)
        return -1;
    if (rc == 1)
        hd_buf_puts(&o->body, s, NULL);
    if (o->kind == SIM_OUT_RAW)
        return 0;
    rc = hd_json_str(spec, "", "action", 0, 32, &s, err);
    if (rc < 0)
        return -1;
    if (rc == 0 || strcmp(s, "latency") == 0)
        o->kind = SIM_OUT_NONE;
    else if (strcmp(s, "success") == 0)
        o->kind = SIM_OUT_SUCCESS;
    else if (strcmp(s, "stall") == 0)
        o->kind = SIM_OUT_STALL;
    else if (strcmp(s, "rst_stream") == 0)
        o->kind = SIM_OUT_RST;
    else if (strcmp(s, "goaway") == 0)
        o->kind = SIM_OUT_GOAWAY;
    else if (strcmp(s, "close") == 0)
        o->kind = SIM_OUT_CLOSE;
    else
        return hd_err_set(err, HD_EINVAL,
                          "action: must be success, latency, stall, "
                          "rst_stream, goaway or close");
    o->h2_code = o->kind == SIM_OUT_RST ? 7 : 0; /* REFUSED_STREAM */
    rc = hd_json_str(spec, "", "error_code", 0, 32, &s, err);
    if (rc < 0)
        return -1;
    if (rc == 1 && sim_h2_code_parse(s, &o->h2_code) < 0)
        return hd_err_set(err, HD_EINVAL,
                          "error_code: not an HTTP/2 error code");
    rc = hd_json_str(spec, "", "debug", 0, 1024, &s, err);
    if (rc < 0)
        return -1;
    if (rc == 1) {
        hd_buf_reset(&o->body);
        hd_buf_puts(&o->body, s, NULL);
    }
    if (o->kind == SIM_OUT_NONE && o->delay_ms < 0)
        return hd_err_set(err, HD_EINVAL,
                          "a rule needs error, status, action or delay_ms");
    return 0;
}

int
sim_rules_add(struct sim_rules *r, json_t *spec, uint64_t *id,
              struct hd_err *err)
{
    struct rule *u;

    if (!json_is_object(spec))
        return hd_err_set(err, HD_EINVAL, "a rule is a JSON object");
    u = hd_xcalloc(1, sizeof(*u));
    sim_outcome_init(&u->out);
    if (parse_match(spec, u, err) < 0 || parse_limits(spec, u, err) < 0 ||
        parse_action(spec, u, err) < 0) {
        rule_free(u);
        return -1;
    }
    u->spec = json_incref(spec);
    pthread_mutex_lock(&r->mu);
    if (r->n >= SIM_RULES_MAX) {
        pthread_mutex_unlock(&r->mu);
        rule_free(u);
        return hd_err_set(err, HD_ETOOBIG, "at most %d rules", SIM_RULES_MAX);
    }
    u->id = r->next_id++;
    r->v[r->n++] = u;
    atomic_store(&r->live, r->n);
    *id = u->id;
    pthread_mutex_unlock(&r->mu);
    return 0;
}

int
sim_rules_delete(struct sim_rules *r, uint64_t id)
{
    int i;
    int rc = -1;

    pthread_mutex_lock(&r->mu);
    for (i = 0; i < r->n; i++) {
        if (r->v[i]->id != id)
            continue;
        rule_free(r->v[i]);
        memmove(&r->v[i], &r->v[i + 1],
                (size_t)(r->n - i - 1) * sizeof(r->v[0]));
        r->n--;
        atomic_store(&r->live, r->n);
        rc = 0;
        break;
    }
    pthread_mutex_unlock(&r->mu);
    return rc;
}

json_t *
sim_rules_list(struct sim_rules *r)
{
    json_t *a = json_array();
    int i;

    pthread_mutex_lock(&r->mu);
    for (i = 0; i < r->n; i++) {
        struct rule *u = r->v[i];
        json_t *o = json_deep_copy(u->spec);

        json_object_set_new(o, "id", json_integer((json_int_t)u->id));
        json_object_set_new(o, "matched", json_integer((json_int_t)u->matched));
        json_object_set_new(o, "fired", json_integer((json_int_t)u->fired));
        json_object_set_new(o, "remaining", json_integer((json_int_t)u->count));
        json_array_append_new(a, o);
    }
    pthread_mutex_unlock(&r->mu);
    return a;
}

static int
prefixed(const char *s, const char *prefix)
{
    return s != NULL && strncmp(s, prefix, strlen(prefix)) == 0;
}

static int
matches(const struct rule *u, const struct sim_endpoint *ep, const char *token,
        const struct sim_req *req)
{
    if (u->provider >= 0 && u->provider != (int)ep->provider)
        return 0;
    if (u->kind >= 0 && u->kind != (int)ep->kind)
        return 0;
    if (u->token_prefix && !prefixed(token, u->token_prefix))
        return 0;
    if (u->path_prefix &&
        !prefixed(sim_req_header(req, ":path"), u->path_prefix))
        return 0;
    if (u->hdr_name) {
        const char *v = sim_req_header(req, u->hdr_name);

        if (v == NULL || (u->hdr_value && strcmp(v, u->hdr_value) != 0))
            return 0;
    }
    return 1;
}

int
sim_rules_match(struct sim_rules *r, const struct sim_endpoint *ep,
                const char *token, const struct sim_req *req,
                struct sim_outcome *out)
{
    int fired = 0;
    int i;

    if (atomic_load_explicit(&r->live, memory_order_relaxed) == 0)
        return 0;
    pthread_mutex_lock(&r->mu);
    for (i = 0; i < r->n && !fired; i++) {
        struct rule *u = r->v[i];

        if (u->count == 0 || !matches(u, ep, token, req))
            continue;
        u->matched++;
        if (u->matched <= (uint64_t)u->skip)
            continue;
        if (u->probability < 1.0 && draw(r) >= u->probability)
            continue;
        u->fired++;
        if (u->count > 0)
            u->count--;
        /* an error from another endpoint's table (provider-wide rule that
         * names a send error, request to a token endpoint) cannot render:
         * fall back to the transport part only */
        sim_outcome_copy(out, &u->out);
        if (out->kind == SIM_OUT_ERROR &&
            sim_error_lookup(ep, out->error) != out->error)
            out->kind = SIM_OUT_NONE;
        fired = 1;
    }
    pthread_mutex_unlock(&r->mu);
    return fired;
}
