/* outcome.c -- the device-token prefix conventions and the transport part
 * of an outcome.
 *
 * The prefixes are a test contract (docs/sim.md): change this table only
 * together with the documentation. Parameters after a prefix are decimal
 * digits (seconds, milliseconds) or two hex digits (HTTP/2 error codes);
 * a token that is too short for its parameter reads it as 0. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/config.h"
#include "tools/sim/faults/outcome.h"
#include "tools/sim/endpoint.h"
#include "core/banned.h"

enum param {
    P_NONE = 0,
    P_RETRY,  /* 4 decimal digits: Retry-After seconds (0 = none) */
    P_DELAY,  /* 4 decimal digits: milliseconds */
    P_H2CODE, /* 2 hex digits: HTTP/2 error code */
};

/* One row per prefix. err[] names an entry of each provider's send-error
 * table, in enum sim_provider order; NULL rows are transport actions. */
static const struct prefix_row {
    const char *prefix;
    enum sim_out_kind kind;
    const char *err[SIM_NPROV];
    enum param param;
} prefixes[] = {
    {"dead",
     SIM_OUT_ERROR,
     {"Unregistered", "UNREGISTERED", "illegal_token", "Gone"},
     P_NONE},
    {"bad0",
     SIM_OUT_ERROR,
     {"BadDeviceToken", "INVALID_ARGUMENT", "illegal_token", "BadRequest"},
     P_NONE},
    {"0429",
     SIM_OUT_ERROR,
     {"TooManyRequests", "QUOTA_EXCEEDED", "503", "TooManyRequests"},
     P_RETRY},
    {"0503",
     SIM_OUT_ERROR,
     {"ServiceUnavailable", "UNAVAILABLE", "503", "ServiceUnavailable"},
     P_RETRY},
    {"0500",
     SIM_OUT_ERROR,
     {"InternalServerError", "INTERNAL", "81000001", "InternalServerError"},
     P_NONE},
    {"de1a", SIM_OUT_SUCCESS, {NULL, NULL, NULL, NULL}, P_DELAY},
    {"57a1", SIM_OUT_STALL, {NULL, NULL, NULL, NULL}, P_NONE},
    {"a807", SIM_OUT_RST, {NULL, NULL, NULL, NULL}, P_H2CODE},
    {"60a0", SIM_OUT_GOAWAY, {NULL, NULL, NULL, NULL}, P_H2CODE},
    {"c105", SIM_OUT_CLOSE, {NULL, NULL, NULL, NULL}, P_NONE},
};

/* "ae" + 2 digits: APNs reason #NN, "fe": FCM error #NN, "he": HMS code,
 * "we": Web Push error. */
static const char indexed[SIM_NPROV][3] = {"ae", "fe", "he", "we"};

static const char *const h2_codes[] = {
    "NO_ERROR",
    "PROTOCOL_ERROR",
    "INTERNAL_ERROR",
    "FLOW_CONTROL_ERROR",
    "SETTINGS_TIMEOUT",
    "STREAM_CLOSED",
    "FRAME_SIZE_ERROR",
    "REFUSED_STREAM",
    "CANCEL",
    "COMPRESSION_ERROR",
    "CONNECT_ERROR",
    "ENHANCE_YOUR_CALM",
    "INADEQUATE_SECURITY",
    "HTTP_1_1_REQUIRED",
};

void
sim_outcome_init(struct sim_outcome *o)
{
    memset(o, 0, sizeof(*o));
    hd_buf_init(&o->body, SIM_RESP_MAX_BODY);
    o->retry_after_s = -1;
    o->delay_ms = -1;
}

void
sim_outcome_reset(struct sim_outcome *o)
{
    hd_buf_reset(&o->body);
    o->kind = SIM_OUT_NONE;
    o->error = NULL;
    o->retry_after_s = -1;
    o->delay_ms = -1;
    o->status = 0;
    o->h2_code = 0;
    o->ctype[0] = '\0';
}

void
sim_outcome_release(struct sim_outcome *o)
{
    hd_buf_release(&o->body);
    memset(o, 0, sizeof(*o));
}

void
sim_outcome_copy(struct sim_outcome *dst, const struct sim_outcome *src)
{
    struct hd_buf keep = dst->body;

    *dst = *src;
    dst->body = keep;
    hd_buf_reset(&dst->body);
    if (src->body.len > 0)
        hd_buf_append(&dst->body, src->body.data, src->body.len, NULL);
}

/* Reads n characters after the prefix as a number in base 10 or 16;
 * missing or non-digit characters count as 0. */
static long
param_value(const char *p, size_t avail, size_t n, int base)
{
    long v = 0;
    size_t i;

    for (i = 0; i < n; i++) {
        int d = 0;
        char c = i < avail ? p[i] : '0';

        if (isdigit((unsigned char)c))
            d = c - '0';
        else if (base == 16 && isxdigit((unsigned char)c))
            d = tolower((unsigned char)c) - 'a' + 10;
        v = v * base + d;
    }
    return v;
}

int
sim_outcome_from_token(const struct sim_endpoint *ep, const char *token,
                       size_t len, struct sim_outcome *o)
{
    const char *ix = indexed[ep->provider];
    size_t i;

    if (ep->kind != SIM_EP_SEND || len < 4)
        return 0;
    for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
        const struct prefix_row *r = &prefixes[i];
        const char *rest = token + 4;
        size_t avail = len - 4;

        if (strncasecmp(token, r->prefix, 4) != 0)
            continue;
        sim_outcome_reset(o);
        o->kind = r->kind;
        if (r->kind == SIM_OUT_ERROR)
            o->error = sim_error_lookup(ep, r->err[ep->provider]);
        if (r->kind == SIM_OUT_ERROR && o->error == NULL)
            return 0; /* table and prefix rows disagree: no prefix */
        switch (r->param) {
        case P_RETRY: {
            long s = param_value(rest, avail, 4, 10);

            o->retry_after_s = s > 0 ? (int)s : -1;
            break;
        }
        case P_DELAY:
            o->delay_ms = (int)param_value(rest, avail, 4, 10);
            break;
        case P_H2CODE:
            o->h2_code = (uint32_t)param_value(rest, avail, 2, 16);
            break;
        case P_NONE:
            break;
        }
        return 1;
    }
    if (strncasecmp(token, ix, 2) == 0 && isdigit((unsigned char)token[2]) &&
        isdigit((unsigned char)token[3])) {
        const char *name =
            ep->error_at((token[2] - '0') * 10 + (token[3] - '0'));

        if (name == NULL)
            return 0;
        sim_outcome_reset(o);
        o->kind = SIM_OUT_ERROR;
        o->error = name;
        return 1;
    }
    return 0;
}

int
sim_outcome_apply(const struct sim_outcome *o, struct sim_resp *resp)
{
    if (o->delay_ms >= 0)
        resp->delay_ms = o->delay_ms;
    switch (o->kind) {
    case SIM_OUT_NONE:
    case SIM_OUT_SUCCESS:
    case SIM_OUT_ERROR:
        return 0;
    case SIM_OUT_RAW:
        sim_resp_set(resp, o->status, o->ctype[0] ? o->ctype : NULL,
                     o->body.data, o->body.len);
        if (o->retry_after_s >= 0) {
            char v[16];

            snprintf(v, sizeof(v), "%d", o->retry_after_s);
            sim_resp_header(resp, "retry-after", v);
        }
        snprintf(resp->outcome, sizeof(resp->outcome), "%d", o->status);
        return 1;
    case SIM_OUT_STALL:
        resp->action = SIM_ACT_STALL;
        sim_resp_outcome(resp, "stall");
        return 1;
    case SIM_OUT_RST:
        resp->action = SIM_ACT_RST;
        resp->h2_code = o->h2_code;
        sim_resp_outcome(resp, "rst_stream");
        return 1;
    case SIM_OUT_GOAWAY:
        resp->action = SIM_ACT_GOAWAY;
        resp->h2_code = o->h2_code;
        hd_buf_reset(&resp->body);
        if (o->body.len > 0)
            hd_buf_append(&resp->body, o->body.data, o->body.len, NULL);
        sim_resp_outcome(resp, "goaway");
        return 1;
    case SIM_OUT_CLOSE:
        resp->action = SIM_ACT_CLOSE;
        sim_resp_outcome(resp, "close");
        return 1;
    }
    return 0;
}

int
sim_h2_code_parse(const char *s, uint32_t *out)
{
    size_t i;
    int v;

    for (i = 0; i < sizeof(h2_codes) / sizeof(h2_codes[0]); i++) {
        if (strcasecmp(s, h2_codes[i]) == 0) {
            *out = (uint32_t)i;
            return 0;
        }
    }
    if (hd_parse_int(s, 0, 255, &v) < 0)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

const char *
sim_h2_code_name(uint32_t code)
{
    if (code < sizeof(h2_codes) / sizeof(h2_codes[0]))
        return h2_codes[code];
    return "UNKNOWN";
}
