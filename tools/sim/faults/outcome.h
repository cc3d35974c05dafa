/* outcome.h -- what the simulator decided to do with one request, and the
 * device-token prefixes that select it.
 *
 * An outcome comes from a control-API rule (rules.h) or from the prefix of
 * the device token (sim_outcome_from_token); when neither applies the
 * provider's own logic answers. Error outcomes name an entry of the
 * endpoint's error table (endpoint.h), so the provider renders the exact
 * status, headers and body. The prefix table is the contract documented in
 * docs/sim.md; every prefix is made of hex digits so APNs tokens that carry
 * one still pass format validation. Thread-safe: no shared state. */
#ifndef SIM_OUTCOME_H
#define SIM_OUTCOME_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "tools/sim/exchange.h"

struct sim_endpoint;

enum sim_out_kind {
    SIM_OUT_NONE = 0, /* nothing decided: the provider's own logic */
    SIM_OUT_SUCCESS,  /* accept the message */
    SIM_OUT_ERROR,    /* answer with error from the endpoint's table */
    SIM_OUT_RAW,      /* answer status + body + content type as given */
    SIM_OUT_STALL,    /* never answer */
    SIM_OUT_RST,      /* RST_STREAM with h2_code */
    SIM_OUT_GOAWAY,   /* GOAWAY with h2_code and body as debug data */
    SIM_OUT_CLOSE,    /* close the TCP connection */
};

struct sim_outcome {
    enum sim_out_kind kind;
    const char *error;  /* SIM_OUT_ERROR: static name from the table */
    int retry_after_s;  /* >= 0: send Retry-After with the error */
    int delay_ms;       /* >= 0: answer after this long */
    int status;         /* SIM_OUT_RAW */
    uint32_t h2_code;   /* SIM_OUT_RST / SIM_OUT_GOAWAY */
    char ctype[64];     /* SIM_OUT_RAW content type, "" for none */
    struct hd_buf body; /* SIM_OUT_RAW body, SIM_OUT_GOAWAY debug data */
};

void sim_outcome_init(struct sim_outcome *o);
void sim_outcome_reset(struct sim_outcome *o);
void sim_outcome_release(struct sim_outcome *o);

/* Copies src into dst (body included). */
void sim_outcome_copy(struct sim_outcome *dst, const struct sim_outcome *src);

/* Decodes the prefix of a device token for endpoint ep (see docs/sim.md):
 * fills *o and returns 1, or returns 0 when the token carries no prefix
 * (o untouched). */
int sim_outcome_from_token(const struct sim_endpoint *ep, const char *token,
                           size_t len, struct sim_outcome *o);

/* Applies the transport-level part of o to resp: delay, and for RAW,
 * STALL, RST, GOAWAY and CLOSE the whole answer. Returns 1 when resp is
 * complete, 0 when the provider must still render SUCCESS or ERROR (or
 * run its normal logic for NONE). */
int sim_outcome_apply(const struct sim_outcome *o, struct sim_resp *resp);

/* Parses an HTTP/2 error code name ("REFUSED_STREAM", "INTERNAL_ERROR",
 * ...) or number. Returns 0 or -1. */
int sim_h2_code_parse(const char *s, uint32_t *out);

/* The name of an HTTP/2 error code, "UNKNOWN" past the table. */
const char *sim_h2_code_name(uint32_t code);

#endif
