/* rules.c -- parsing a fault rule posted through the control API.
 *
 * Parsing validates everything up front (unknown provider, unknown error
 * name for the endpoint, bad HTTP/2 code), so matching on the I/O threads
 * (ruleset.c) never fails. */
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/json.h"
#include "tools/sim/faults/rules.h"
#include "tools/sim/route.h"
#include "core/banned.h"

#define RULE_STR_MAX 512

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
parse_match(json_t *spec, struct sim_rule *u, struct hd_err *err)
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
parse_limits(json_t *spec, struct sim_rule *u, struct hd_err *err)
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
rule_endpoint(const struct sim_rule *u)
{
    if (u->provider < 0)
        return NULL;
    return sim_endpoint_of((enum sim_provider)u->provider,
                           u->kind < 0 ? SIM_EP_SEND
                                       : (enum sim_ep_kind)u->kind);
}

/* "error": a name from the table of the endpoint the rule is about. */
static int
parse_error(const char *name, struct sim_rule *u, struct hd_err *err)
{
    const struct sim_endpoint *ep = rule_endpoint(u);
    struct sim_outcome *o = &u->out;

    if (ep == NULL)
        return hd_err_set(err, HD_EINVAL,
                          "error: needs provider (and endpoint)");
    o->error = sim_error_lookup(ep, name);
    if (o->error == NULL)
        return hd_err_set(err, HD_EINVAL, "error: %s is not an error of %s",
                          name, ep->name);
    o->kind = SIM_OUT_ERROR;
    if (u->kind < 0)
        u->kind = (int)ep->kind; /* a send error never hits /token */
    return 0;
}

static int
parse_action(json_t *spec, struct sim_rule *u, struct hd_err *err)
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
    if (rc == 1)
        return parse_error(s, u, err);
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
    struct sim_rule *u;

    if (!json_is_object(spec))
        return hd_err_set(err, HD_EINVAL, "a rule is a JSON object");
    u = hd_xcalloc(1, sizeof(*u));
    sim_outcome_init(&u->out);
    if (parse_match(spec, u, err) < 0 || parse_limits(spec, u, err) < 0 ||
        parse_action(spec, u, err) < 0) {
        sim_rule_free(u);
        return -1;
    }
    u->spec = json_incref(spec);
    return sim_rules_insert(r, u, id, err);
}
